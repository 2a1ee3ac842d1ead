-- Monitoring: every hub filter and tab reads newest-first from an index.
-- Needs follow-up is listed by creation time like every other list.
DROP INDEX operation_runs_follow_up;
CREATE INDEX operation_runs_follow_up ON operation_runs(workspace_id, created_at DESC, id DESC) WHERE outcome IN ('failed','blocked','partially_succeeded');
-- tenant_id trails the newest-first key so counts for operators (assigned
-- tenants) read the index alone.
DROP INDEX operation_runs_workspace_created;
CREATE INDEX operation_runs_workspace_created ON operation_runs(workspace_id, created_at DESC, id DESC, tenant_id);
CREATE INDEX operation_runs_workspace_tenant ON operation_runs(workspace_id, tenant_id, created_at DESC, id DESC);
CREATE INDEX operation_runs_workspace_outcome ON operation_runs(workspace_id, outcome, created_at DESC, id DESC);
CREATE INDEX operation_runs_workspace_initiator ON operation_runs(workspace_id, initiator_user_id, created_at DESC, id DESC);
-- Active runs are few: the overlay, the active tab and the stale tab read them here.
-- It carries what the "looks stuck" rule reads, so the stale tab never visits the table.
CREATE INDEX operation_runs_active ON operation_runs(workspace_id, created_at DESC, id DESC, tenant_id, op_type, status, started_at, lease_expires_at) WHERE status IN ('queued','running');
-- The system plane reads across workspaces.
CREATE INDEX operation_runs_created ON operation_runs(created_at DESC, id DESC);
CREATE INDEX operation_runs_follow_up_all ON operation_runs(created_at DESC, id DESC) WHERE outcome IN ('failed','blocked','partially_succeeded');
