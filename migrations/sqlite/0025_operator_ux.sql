-- Each person's colour theme for pages: system (follow the device), light or dark.
ALTER TABLE users ADD COLUMN theme TEXT NOT NULL DEFAULT 'system';

-- The tenants each person opened last (the command palette's "Recent").
CREATE TABLE recent_tenants (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    visited_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX recent_tenants_user ON recent_tenants(user_id, visited_at DESC);
