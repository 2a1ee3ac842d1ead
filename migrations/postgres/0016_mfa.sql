-- Two-step sign-in: one authenticator (TOTP) per person, its secret sealed
-- like provider secrets; confirmed_at is NULL while enrolment is unfinished.
-- last_step is the last accepted time step, so a code works once.
CREATE TABLE user_totp (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT NULL,
    last_step BIGINT NOT NULL DEFAULT 0,
    -- Recovery codes sealed until their one showing (then NULL).
    codes_to_show TEXT NULL
);

-- Ten single-use recovery codes per person, stored as SHA-256 (each has
-- 50 random bits, so a fast hash is enough).
CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- Owners may require two-step sign-in of every member.
ALTER TABLE workspaces ADD COLUMN require_mfa BIGINT NOT NULL DEFAULT 0;

-- A session whose password was right but whose code is still owed: it signs
-- nothing in until the code is given (then it is replaced by a full one).
ALTER TABLE sessions ADD COLUMN awaiting_code BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN code_attempts BIGINT NOT NULL DEFAULT 0;
