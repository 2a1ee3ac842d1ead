-- Provider connections get their identity and a sealed client secret
-- (XChaCha20-Poly1305, see domain::secrets); the plaintext never reaches the database.
ALTER TABLE provider_connections ADD COLUMN entra_tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE provider_connections ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE provider_connections ADD COLUMN client_secret_sealed TEXT NULL;
ALTER TABLE provider_connections ADD COLUMN secret_updated_at BIGINT NULL;
ALTER TABLE provider_connections ADD COLUMN last_checked_at BIGINT NULL;
ALTER TABLE provider_connections ADD COLUMN last_check_reason TEXT NULL;
ALTER TABLE provider_connections ADD COLUMN granted_permissions TEXT NULL;
ALTER TABLE provider_connections ADD COLUMN updated_at BIGINT NULL;
-- At most one default connection per tenant.
CREATE UNIQUE INDEX provider_connections_one_default ON provider_connections(tenant_id) WHERE is_default = 1;

-- What tenant verification found: our own checks, never a provider payload.
CREATE TABLE verification_reports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    run_id BIGINT NOT NULL,
    provider_connection_id BIGINT NULL,
    checked_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX verification_reports_tenant ON verification_reports(tenant_id, id DESC);

-- Inventory: one snapshot per successful sync; restore picks policies from one.
CREATE TABLE inventory_snapshots (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    run_id BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    device_configurations BIGINT NOT NULL,
    compliance_policies BIGINT NOT NULL,
    managed_devices BIGINT NOT NULL
);
CREATE INDEX inventory_snapshots_tenant ON inventory_snapshots(tenant_id, id DESC);
CREATE TABLE inventory_items (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    snapshot_id BIGINT NOT NULL REFERENCES inventory_snapshots(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('device_configuration','compliance_policy','managed_device')),
    external_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    platform TEXT NOT NULL,
    detail TEXT NOT NULL,
    modified TEXT NULL,
    settings TEXT NULL
);
CREATE INDEX inventory_items_browse ON inventory_items(snapshot_id, kind, search_name, id);

-- Compliance: one snapshot per run, device states as of that run.
CREATE TABLE compliance_snapshots (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    run_id BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    compliant BIGINT NOT NULL,
    noncompliant BIGINT NOT NULL,
    in_grace_period BIGINT NOT NULL,
    other BIGINT NOT NULL
);
CREATE INDEX compliance_snapshots_tenant ON compliance_snapshots(tenant_id, id DESC);
CREATE TABLE compliance_devices (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    snapshot_id BIGINT NOT NULL REFERENCES compliance_snapshots(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    user_principal_name TEXT NOT NULL,
    operating_system TEXT NOT NULL,
    compliance_state TEXT NOT NULL,
    last_sync TEXT NULL
);
CREATE INDEX compliance_devices_browse ON compliance_devices(snapshot_id, compliance_state, search_name, id);

-- Directory: the latest synced state per tenant.
CREATE TABLE directory_groups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    description TEXT NOT NULL,
    mail TEXT NULL,
    group_kind TEXT NOT NULL,
    synced_at BIGINT NOT NULL,
    run_id BIGINT NOT NULL
);
CREATE UNIQUE INDEX directory_groups_external ON directory_groups(tenant_id, external_id);
CREATE INDEX directory_groups_browse ON directory_groups(tenant_id, search_name, id);
CREATE TABLE role_definitions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    description TEXT NOT NULL,
    is_builtin BIGINT NOT NULL,
    is_enabled BIGINT NOT NULL,
    synced_at BIGINT NOT NULL,
    run_id BIGINT NOT NULL
);
CREATE UNIQUE INDEX role_definitions_external ON role_definitions(tenant_id, external_id);
CREATE INDEX role_definitions_browse ON role_definitions(tenant_id, search_name, id);
