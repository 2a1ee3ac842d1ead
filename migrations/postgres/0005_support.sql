-- Support requests: the internal record survives every support desk failure.
-- Written in one transaction with its audit entry; the desk call happens
-- after commit; one bounded finalization write records what the desk said.
CREATE TABLE support_requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    run_id BIGINT NULL REFERENCES operation_runs(id) ON DELETE CASCADE,
    reference TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('low','normal','high','critical')),
    contact TEXT NULL,
    requested_by BIGINT NOT NULL REFERENCES users(id),
    handoff TEXT NOT NULL CHECK (handoff IN ('pending','created','linked','failed','not_configured')),
    desk_kind TEXT NULL,
    external_id TEXT NULL,
    external_reference TEXT NULL,
    external_url TEXT NULL,
    failure_summary TEXT NULL,
    created_at BIGINT NOT NULL,
    finalized_at BIGINT NULL
);
-- Revisit: the latest request of one context (the tenant, or one run).
CREATE INDEX support_requests_tenant ON support_requests(tenant_id, id DESC) WHERE run_id IS NULL;
CREATE INDEX support_requests_run ON support_requests(run_id, id DESC);
