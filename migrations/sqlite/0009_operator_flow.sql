-- Admin consent Microsoft reported as granted through the consent round
-- trip; it counts only once a verification confirms it (then cleared).
ALTER TABLE provider_connections ADD COLUMN consent_answered_at INTEGER NULL;

-- A notification's next steps (JSON: words and links), as the presenter made them.
ALTER TABLE notifications ADD COLUMN next_steps TEXT NULL;

-- A run started again from the system plane names the run it repeats.
ALTER TABLE operation_runs ADD COLUMN rerun_of INTEGER NULL;
