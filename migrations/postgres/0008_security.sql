-- Sign-in throttling reserves each attempt before the password is checked;
-- a targeted account's attempts are spaced out (a soft lock), not refused.
ALTER TABLE sign_in_throttle ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;

-- Fixed-window counters for per-member abuse limits (support requests,
-- blocked starts, review pack generation), taken atomically.
CREATE TABLE rate_limits (
    limit_key TEXT PRIMARY KEY,
    window_started_at BIGINT NOT NULL,
    used BIGINT NOT NULL
);

-- Invitations: a member is added only when the invited person accepts.
CREATE TABLE invitations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner','manager','operator','readonly')),
    -- SHA-256 of the link's token (lookups) and the token sealed with the
    -- server key (so the inviter can copy the link again).
    token_hash TEXT NOT NULL UNIQUE,
    token_sealed TEXT NOT NULL,
    invited_by BIGINT NULL REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT NULL,
    accepted_by BIGINT NULL REFERENCES users(id) ON DELETE SET NULL,
    revoked_at BIGINT NULL
);
CREATE INDEX invitations_workspace ON invitations(workspace_id, id DESC);
CREATE UNIQUE INDEX invitations_one_pending ON invitations(workspace_id, email) WHERE accepted_at IS NULL AND revoked_at IS NULL;
