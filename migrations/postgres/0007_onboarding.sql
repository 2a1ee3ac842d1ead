-- Onboarding drafts: the wizard's state per workspace, so it resumes where
-- the operator left off and the system can start the next bootstrap
-- operation when the previous one ends (also after a restart).
CREATE TABLE onboarding_drafts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by BIGINT NULL REFERENCES users(id),
    tenant_id BIGINT NULL REFERENCES tenants(id) ON DELETE SET NULL,
    connection_id BIGINT NULL REFERENCES provider_connections(id) ON DELETE SET NULL,
    verification_run_id BIGINT NULL REFERENCES operation_runs(id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN ('open','bootstrapping','completed','discarded')),
    -- JSON: the chosen bootstrap operations in order, those not started yet,
    -- and [{"op", "run"}] for each one started.
    selected TEXT NOT NULL DEFAULT '[]',
    pending TEXT NOT NULL DEFAULT '[]',
    runs TEXT NOT NULL DEFAULT '[]',
    -- A run of another operation holding the connection when the next one was due.
    waiting_on BIGINT NULL,
    -- Why a bootstrap ended before every chosen operation started (its
    -- connection or tenant went away); NULL when it ran to the end.
    stopped_reason TEXT NULL,
    -- One advancer at a time (a short lease, so a crash cannot wedge a draft).
    advancing_until BIGINT NULL,
    -- Set when a run ended while another advancer held the lease: the holder
    -- goes round once more instead of the wake-up being lost.
    advance_again BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX onboarding_drafts_workspace ON onboarding_drafts(workspace_id, id DESC);
CREATE INDEX onboarding_drafts_bootstrapping ON onboarding_drafts(id) WHERE status = 'bootstrapping';
