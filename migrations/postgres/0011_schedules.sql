-- Tenant groups: a workspace's tags, and which tenants carry them. Targets of
-- schedules (and, later, bulk starts, baselines and alerts).
CREATE TABLE tags (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX tags_name ON tags(workspace_id, name);
CREATE TABLE tenant_tags (
    tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    PRIMARY KEY (tag_id, tenant_id)
);
CREATE INDEX tenant_tags_tenant ON tenant_tags(tenant_id);

-- Schedules: an operation on a target (one tenant, a tag, every active
-- tenant) at the slots of a cron expression in a time zone.
CREATE TABLE schedules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    op_type TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_tenant_id BIGINT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    target_tag_id BIGINT NULL REFERENCES tags(id) ON DELETE CASCADE,
    cron TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    spread_ms BIGINT NOT NULL DEFAULT 60000,
    created_by BIGINT NULL REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- The last slot fired (NULL: none yet) and the next one due.
    last_slot_at BIGINT NULL,
    next_fire_at BIGINT NULL
);
CREATE INDEX schedules_due ON schedules(next_fire_at) WHERE enabled = 1;
CREATE INDEX schedules_workspace ON schedules(workspace_id, id);

-- One row per fired slot: the unique key makes a slot fire once however
-- many processes sweep. Targets are recorded one by one, so a fire a crash
-- interrupted is finished by the next sweep without starting anyone twice.
CREATE TABLE schedule_fires (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id BIGINT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    slot_at BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    -- Slots missed while nothing was running, folded into this one.
    missed BIGINT NOT NULL DEFAULT 0,
    targets BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT NULL,
    lease_until BIGINT NOT NULL
);
CREATE UNIQUE INDEX schedule_fires_slot ON schedule_fires(schedule_id, slot_at);
CREATE INDEX schedule_fires_unfinished ON schedule_fires(lease_until) WHERE finished_at IS NULL;
CREATE TABLE schedule_fire_targets (
    fire_id BIGINT NOT NULL REFERENCES schedule_fires(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL,
    decision TEXT NOT NULL,
    run_id BIGINT NULL,
    PRIMARY KEY (fire_id, tenant_id)
);
