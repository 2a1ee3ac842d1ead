-- Inventory items stored once per distinct content (issue 35); see the
-- PostgreSQL file for the why. Rows written before this version stay in
-- inventory_items_legacy until the inventory sweep moves them.
ALTER TABLE inventory_items RENAME TO inventory_items_legacy;
DROP INDEX IF EXISTS inventory_items_browse;
CREATE INDEX inventory_items_legacy_browse ON inventory_items_legacy(snapshot_id, id);

CREATE TABLE inventory_bodies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('device_configuration','compliance_policy','managed_device')),
    external_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    platform TEXT NOT NULL,
    detail TEXT NOT NULL,
    modified TEXT NULL,
    settings TEXT NULL
);

CREATE TABLE inventory_refs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_id INTEGER NOT NULL REFERENCES inventory_snapshots(id) ON DELETE CASCADE,
    body_id INTEGER NOT NULL REFERENCES inventory_bodies(id)
);
CREATE INDEX inventory_refs_snapshot ON inventory_refs(snapshot_id, id);
CREATE INDEX inventory_refs_body ON inventory_refs(body_id);
-- Ids continue after every id the legacy table ever handed out.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'inventory_refs', MAX(seq) FROM sqlite_sequence
    WHERE name IN ('inventory_items', 'inventory_items_legacy')
    HAVING MAX(seq) IS NOT NULL;

CREATE VIEW inventory_items AS
    SELECT r.id, r.snapshot_id, b.kind, b.external_id, b.display_name, b.search_name,
           b.platform, b.detail, b.modified, b.settings
    FROM inventory_refs r JOIN inventory_bodies b ON b.id = r.body_id
    UNION ALL
    SELECT id, snapshot_id, kind, external_id, display_name, search_name,
           platform, detail, modified, settings
    FROM inventory_items_legacy;
