-- Drift: what an inventory sync found changed since the tenant's previous
-- published snapshot, one row per policy added, removed or changed (with
-- each setting before → after as JSON). Written with the snapshot by the run
-- that took it, so it is published by the same rule (run_id, attempt).
CREATE TABLE drift_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    snapshot_id BIGINT NOT NULL REFERENCES inventory_snapshots(id) ON DELETE CASCADE,
    previous_snapshot_id BIGINT NOT NULL REFERENCES inventory_snapshots(id) ON DELETE CASCADE,
    run_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('added', 'removed', 'changed')),
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    -- The policy in the previous snapshot (removed, changed): restore's source.
    before_item_id BIGINT NULL,
    settings TEXT NOT NULL,
    detected_at BIGINT NOT NULL
);
CREATE INDEX drift_entries_tenant ON drift_entries(tenant_id, detected_at DESC, id DESC);
CREATE INDEX drift_entries_snapshot ON drift_entries(snapshot_id);
