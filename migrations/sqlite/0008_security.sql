-- Sign-in throttling reserves each attempt before the password is checked;
-- a targeted account's attempts are spaced out (a soft lock), not refused.
ALTER TABLE sign_in_throttle ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;

-- Fixed-window counters for per-member abuse limits (support requests,
-- blocked starts, review pack generation), taken atomically.
CREATE TABLE rate_limits (
    limit_key TEXT PRIMARY KEY,
    window_started_at INTEGER NOT NULL,
    used INTEGER NOT NULL
);

-- Invitations: a member is added only when the invited person accepts.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner','manager','operator','readonly')),
    -- SHA-256 of the link's token (lookups) and the token sealed with the
    -- server key (so the inviter can copy the link again).
    token_hash TEXT NOT NULL UNIQUE,
    token_sealed TEXT NOT NULL,
    invited_by INTEGER NULL REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER NULL,
    accepted_by INTEGER NULL REFERENCES users(id) ON DELETE SET NULL,
    revoked_at INTEGER NULL
);
CREATE INDEX invitations_workspace ON invitations(workspace_id, id DESC);
CREATE UNIQUE INDEX invitations_one_pending ON invitations(workspace_id, email) WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- Only finished work is data: every stored result of a run names the attempt
-- that wrote it, and is shown only when that run ended successfully with
-- that attempt (see provider::data::PUBLISHED). A killed attempt's writes
-- never surface, even when a later attempt of the same run succeeds.
ALTER TABLE verification_reports ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE inventory_snapshots ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE compliance_snapshots ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE directory_groups ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE role_definitions ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
UPDATE verification_reports SET attempt = COALESCE((SELECT attempts FROM operation_runs r WHERE r.id = verification_reports.run_id), 1);
UPDATE inventory_snapshots SET attempt = COALESCE((SELECT attempts FROM operation_runs r WHERE r.id = inventory_snapshots.run_id), 1);
UPDATE compliance_snapshots SET attempt = COALESCE((SELECT attempts FROM operation_runs r WHERE r.id = compliance_snapshots.run_id), 1);
UPDATE directory_groups SET attempt = COALESCE((SELECT attempts FROM operation_runs r WHERE r.id = directory_groups.run_id), 1);
UPDATE role_definitions SET attempt = COALESCE((SELECT attempts FROM operation_runs r WHERE r.id = role_definitions.run_id), 1);
-- Directory rows are kept per run (the latest published run is the state).
DROP INDEX directory_groups_external;
DROP INDEX role_definitions_external;
CREATE UNIQUE INDEX directory_groups_external ON directory_groups(tenant_id, run_id, attempt, external_id);
CREATE UNIQUE INDEX role_definitions_external ON role_definitions(tenant_id, run_id, attempt, external_id);
DROP INDEX directory_groups_browse;
DROP INDEX role_definitions_browse;
CREATE INDEX directory_groups_browse ON directory_groups(run_id, attempt, search_name, id);
CREATE INDEX role_definitions_browse ON role_definitions(run_id, attempt, search_name, id);
