-- Review packs: one row per generation run. The files live under the data
-- directory (paths relative to it); the row keeps their sizes and expiry.
CREATE TABLE review_packs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL UNIQUE REFERENCES operation_runs(id) ON DELETE CASCADE,
    requested_by INTEGER NULL REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('queued','generating','ready','failed','expired')),
    sections TEXT NOT NULL,
    summary TEXT NULL,
    failure_summary TEXT NULL,
    html_path TEXT NULL,
    html_size INTEGER NULL,
    zip_path TEXT NULL,
    zip_size INTEGER NULL,
    created_at INTEGER NOT NULL,
    generated_at INTEGER NULL,
    expires_at INTEGER NULL,
    expired_at INTEGER NULL
);
-- The card: the latest pack of a tenant.
CREATE INDEX review_packs_tenant ON review_packs(tenant_id, id DESC);
-- The expiry sweep: ready packs by expiry.
CREATE INDEX review_packs_expiry ON review_packs(expires_at) WHERE status = 'ready';

-- Restore: what each restore run did per item, for its run page and re-runs.
CREATE TABLE restore_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES operation_runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('created','updated','unchanged','failed')),
    detail TEXT NOT NULL,
    written_id TEXT NULL
);
CREATE INDEX restore_results_run ON restore_results(run_id, id);
