-- Single sign-on. A started login (single use, ten minutes): its state and
-- the browser cookie binding it are stored hashed, the PKCE verifier, the
-- nonce and the invitation being accepted sealed.
CREATE TABLE sso_logins (
    state_hash TEXT PRIMARY KEY,
    binding_hash TEXT NOT NULL,
    verifier_sealed TEXT NOT NULL,
    nonce_sealed TEXT NOT NULL,
    next_path TEXT NOT NULL,
    invitation_sealed TEXT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX sso_logins_created ON sso_logins(created_at);

-- Identities at the identity provider linked to accounts, by its stable
-- subject (Entra: entra:{tid} + oid; else iss + sub), never by email.
CREATE TABLE user_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email TEXT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities(user_id);

-- Sessions opened with single sign-on (the provider asked for its factors).
ALTER TABLE sessions ADD COLUMN via_sso INTEGER NOT NULL DEFAULT 0;
