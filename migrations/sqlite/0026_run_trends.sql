-- The run charts. Runs that ended, by day: a tenant's from its own index; a
-- workspace's from counts per closed quarter hour (filled on demand up to
-- ten minutes ago, `run_rollup_marks` says how far; ended runs never
-- change) plus the runs since. Durations per operation type: counts per
-- closed UTC day, every workspace, the same way.
CREATE INDEX operation_runs_workspace_ended ON operation_runs(workspace_id, completed_at, outcome, tenant_id) WHERE status = 'completed';
CREATE INDEX operation_runs_tenant_ended ON operation_runs(tenant_id, completed_at, outcome) WHERE status = 'completed';
CREATE INDEX operation_runs_ended ON operation_runs(completed_at, op_type, started_at) WHERE status = 'completed';
CREATE TABLE run_ended_quarters (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    quarter BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    runs BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, quarter, outcome)
);
CREATE TABLE run_ended_durations (
    day BIGINT NOT NULL,
    op_type TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    runs BIGINT NOT NULL,
    PRIMARY KEY (day, op_type, bucket)
);
CREATE TABLE run_rollup_marks (
    kind TEXT NOT NULL,
    workspace_id BIGINT NOT NULL,
    filled_until BIGINT NOT NULL,
    PRIMARY KEY (kind, workspace_id)
);
