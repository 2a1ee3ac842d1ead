-- One start of an operation on many tenants (from the tenant list): the
-- parent record and each tenant's gate decision. The tenants were decided on
-- the server (a tag, the list's filter, or checked rows re-read as the
-- member's own), never taken from the browser as they came.
CREATE TABLE bulk_starts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    op_type TEXT NOT NULL,
    -- What the member chose, in words (e.g. "Tag: Finance").
    selection TEXT NOT NULL,
    initiator_user_id BIGINT NULL REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    targets BIGINT NOT NULL DEFAULT 0,
    -- Admission done (every target decided and recorded).
    admitted_at BIGINT NULL,
    -- The one notification sent when every run it started had ended.
    notified_at BIGINT NULL
);
CREATE INDEX bulk_starts_workspace ON bulk_starts(workspace_id, id);
CREATE INDEX bulk_starts_unnotified ON bulk_starts(created_at) WHERE notified_at IS NULL;
CREATE TABLE bulk_start_targets (
    bulk_id BIGINT NOT NULL REFERENCES bulk_starts(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL,
    decision TEXT NOT NULL,
    run_id BIGINT NULL,
    PRIMARY KEY (bulk_id, tenant_id)
);
CREATE INDEX bulk_start_targets_run ON bulk_start_targets(run_id);
