-- Retention (issue 35): what each workspace keeps, the sweep's lease and its
-- last summary, and run counts per day kept after the runs themselves go.
CREATE TABLE retention_policies (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    runs_days BIGINT NOT NULL,
    snapshots_last BIGINT NOT NULL,
    snapshots_weeks BIGINT NOT NULL,
    snapshots_months BIGINT NOT NULL,
    notifications_days BIGINT NOT NULL,
    audit_days BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT NULL REFERENCES users(id) ON DELETE SET NULL
);
-- One sweep at a time across processes: a lease claimed by a conditional
-- UPDATE; a process that dies lets it lapse and the next beat resumes.
CREATE TABLE retention_sweeps (
    name TEXT PRIMARY KEY,
    lease_until BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NULL,
    summary TEXT NULL
);
INSERT INTO retention_sweeps (name, lease_until, started_at) VALUES ('retention', 0, 0);
-- Ended runs per UTC day, tenant (0: none), type and outcome, added to as
-- the sweep deletes runs: the charts' history outlives the runs.
CREATE TABLE run_daily_counts (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    op_type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    runs BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, tenant_id, day, op_type, outcome)
);
-- What the sweep asks: a newer ended run of the same tenant and type; who
-- still refers to a run; what is older than a cut-off.
CREATE INDEX operation_runs_tenant_type_ended ON operation_runs(tenant_id, op_type, id) WHERE status = 'completed';
CREATE INDEX inventory_snapshots_run ON inventory_snapshots(run_id);
CREATE INDEX compliance_snapshots_run ON compliance_snapshots(run_id);
CREATE INDEX drift_entries_run ON drift_entries(run_id);
CREATE INDEX drift_entries_previous ON drift_entries(previous_snapshot_id);
CREATE INDEX baseline_results_run ON baseline_results(run_id);
CREATE INDEX verification_reports_run ON verification_reports(run_id);
CREATE INDEX schedule_fire_targets_run ON schedule_fire_targets(run_id);
CREATE INDEX notifications_age ON notifications(workspace_id, created_at);
CREATE INDEX audit_age ON audit_log(workspace_id, created_at);
