-- Operation runs (PostgreSQL). The table is also the work queue.

-- Provider connections: the protected scope of provider-backed operations.
-- Secrets and their management arrive with the provider work.
CREATE TABLE provider_connections (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('enabled','disabled')),
    consent TEXT NOT NULL CHECK (consent IN ('granted','missing')),
    has_credentials BIGINT NOT NULL DEFAULT 0,
    credential_expires_at BIGINT NULL,
    is_default BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX provider_connections_tenant ON provider_connections(tenant_id);

CREATE TABLE operation_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id BIGINT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    op_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued','running','completed')),
    outcome TEXT NOT NULL CHECK (outcome IN ('pending','succeeded','partially_succeeded','failed','blocked','cancelled')),
    initiator_kind TEXT NOT NULL CHECK (initiator_kind IN ('user','schedule','system')),
    initiator_user_id BIGINT NULL,
    provider_connection_id BIGINT NULL,
    scope_key TEXT NOT NULL,
    context TEXT NOT NULL,
    summary TEXT NULL,
    failure_summary TEXT NULL,
    reason_code TEXT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT NULL,
    completed_at BIGINT NULL,
    available_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT NULL,
    lease_expires_at BIGINT NULL,
    heartbeat_at BIGINT NULL,
    cancel_requested_at BIGINT NULL,
    reconciliation TEXT NULL,
    CHECK ((status = 'completed') = (outcome <> 'pending'))
);
-- At most one active run per protected scope, enforced by the database.
CREATE UNIQUE INDEX operation_runs_one_active_per_scope ON operation_runs(scope_key) WHERE status IN ('queued','running');
-- Workers claim the oldest available queued run.
CREATE INDEX operation_runs_queue ON operation_runs(available_at, id) WHERE status = 'queued';
-- The reconciler looks at running runs by lease expiry.
CREATE INDEX operation_runs_leases ON operation_runs(lease_expires_at) WHERE status = 'running';
-- Monitoring: workspace + status + newest, tenant + newest, type, problem classes.
CREATE INDEX operation_runs_workspace_status ON operation_runs(workspace_id, status, created_at DESC, id DESC);
CREATE INDEX operation_runs_workspace_created ON operation_runs(workspace_id, created_at DESC, id DESC);
CREATE INDEX operation_runs_tenant_created ON operation_runs(tenant_id, created_at DESC, id DESC);
CREATE INDEX operation_runs_workspace_type ON operation_runs(workspace_id, op_type, created_at DESC, id DESC);
CREATE INDEX operation_runs_follow_up ON operation_runs(workspace_id, completed_at DESC, id DESC) WHERE outcome IN ('failed','blocked','partially_succeeded');

-- Terminal runs never change.
CREATE FUNCTION operation_runs_terminal_is_final() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'terminal operation runs are immutable';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER operation_runs_terminal_is_final BEFORE UPDATE ON operation_runs
FOR EACH ROW WHEN (OLD.status = 'completed')
EXECUTE FUNCTION operation_runs_terminal_is_final();

CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    run_id BIGINT NULL REFERENCES operation_runs(id) ON DELETE CASCADE,
    tone TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT NULL
);
CREATE INDEX notifications_user_unread ON notifications(user_id, workspace_id, read_at, id DESC);

-- Journal of the machinery probe handler (test-only operation type): one row
-- per execution, so tests can prove each run executed exactly once.
CREATE TABLE probe_executions (
    run_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    worker TEXT NOT NULL,
    executed_at BIGINT NOT NULL
);
