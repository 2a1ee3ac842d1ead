-- Where a run came from when a feature admitted it as part of something
-- larger (a schedule's fire, a bulk start): written in the run's own INSERT,
-- so a fire or bulk taken over after a crash finds every run it admitted.
ALTER TABLE operation_runs ADD COLUMN origin_kind TEXT NULL;
ALTER TABLE operation_runs ADD COLUMN origin_id INTEGER NULL;
CREATE INDEX operation_runs_origin ON operation_runs(origin_kind, origin_id) WHERE origin_id IS NOT NULL;
