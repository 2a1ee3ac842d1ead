-- Wrong two-step codes in a row for an account (across sign-ins and
-- addresses): at the cap, authenticator codes are no longer checked until a
-- recovery code is used or two-step sign-in is reset.
ALTER TABLE users ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;
