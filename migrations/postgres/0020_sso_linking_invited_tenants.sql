-- A login started from Your account links the identity to that account.
ALTER TABLE sso_logins ADD COLUMN link_user_id BIGINT NULL;
-- Owners may require single sign-on of every member (passwords refused).
ALTER TABLE workspaces ADD COLUMN sso_only BIGINT NOT NULL DEFAULT 0;

-- The tenants an operator or read-only member is invited to see: assigned
-- when they accept.
CREATE TABLE invitation_tenants (
    invitation_id BIGINT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, tenant_id)
);
