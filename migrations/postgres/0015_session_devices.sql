-- What the account page shows of each session: a public handle (the id hash
-- stays private), the browser's user agent and the client address at sign-in.
ALTER TABLE sessions ADD COLUMN public_id TEXT NULL;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NULL;
ALTER TABLE sessions ADD COLUMN address TEXT NULL;
CREATE UNIQUE INDEX sessions_public_id ON sessions(public_id);
