-- Baselines: a workspace's standard, captured from one tenant's snapshot and
-- then edited. Every edit is a new version; items keep their number across
-- versions so accepted deviations survive edits.
CREATE TABLE baselines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    current_version BIGINT NOT NULL DEFAULT 1,
    -- Bumped when the version or the assignments change: a compare is due.
    changed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by BIGINT NULL REFERENCES users(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX baselines_name ON baselines(workspace_id, search_name);
CREATE TABLE baseline_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    baseline_id BIGINT NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    template_tenant_id BIGINT NULL REFERENCES tenants(id) ON DELETE SET NULL,
    template_name TEXT NOT NULL,
    snapshot_id BIGINT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by BIGINT NULL REFERENCES users(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX baseline_versions_number ON baseline_versions(baseline_id, version);
CREATE TABLE baseline_items (
    version_id BIGINT NOT NULL REFERENCES baseline_versions(id) ON DELETE CASCADE,
    item_no BIGINT NOT NULL,
    kind TEXT NOT NULL,
    display_name TEXT NOT NULL,
    -- The template policy's settings (JSON object) and per-setting rules
    -- (JSON object: setting → must_equal | must_exist | excluded).
    settings TEXT NOT NULL,
    rules TEXT NOT NULL,
    PRIMARY KEY (version_id, item_no)
);
-- Which tenants a baseline applies to: every active tenant, one tenant, or a tag.
CREATE TABLE baseline_assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    baseline_id BIGINT NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('all', 'tenant', 'tag')),
    tenant_id BIGINT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    tag_id BIGINT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX baseline_assignments_target ON baseline_assignments(baseline_id, target_kind, COALESCE(tenant_id, 0), COALESCE(tag_id, 0));
CREATE INDEX baseline_assignments_tenant ON baseline_assignments(tenant_id);
-- One tenant compared with one baseline version by a baseline_compare run
-- (published by the run's rule: run_id, attempt).
CREATE TABLE baseline_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    baseline_id BIGINT NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    snapshot_id BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    aligned BIGINT NOT NULL,
    different BIGINT NOT NULL,
    missing BIGINT NOT NULL,
    -- Policies of the tenant that are in no item (JSON list of names).
    extras TEXT NOT NULL,
    compared_at BIGINT NOT NULL
);
CREATE INDEX baseline_results_latest ON baseline_results(baseline_id, tenant_id, id DESC);
CREATE INDEX baseline_results_tenant ON baseline_results(tenant_id, id DESC);
CREATE INDEX baseline_results_day ON baseline_results(workspace_id, compared_at);
CREATE TABLE baseline_result_items (
    result_id BIGINT NOT NULL REFERENCES baseline_results(id) ON DELETE CASCADE,
    item_no BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('aligned', 'different', 'missing')),
    -- The tenant's policy that matched (by kind and name), if any.
    external_id TEXT NULL,
    -- Settings that differ: JSON list of {setting, before: expected, after: actual}.
    settings TEXT NOT NULL,
    PRIMARY KEY (result_id, item_no)
);
-- A deviation an owner or manager accepted: shown as accepted (not aligned)
-- until it expires or is revoked.
CREATE TABLE baseline_acceptances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    baseline_id BIGINT NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    item_no BIGINT NOT NULL,
    note TEXT NOT NULL,
    expires_at BIGINT NULL,
    accepted_by BIGINT NULL REFERENCES users(id) ON DELETE SET NULL,
    accepted_at BIGINT NOT NULL,
    revoked_at BIGINT NULL
);
CREATE INDEX baseline_acceptances_cell ON baseline_acceptances(baseline_id, tenant_id, item_no);
