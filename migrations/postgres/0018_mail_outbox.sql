-- Outgoing mail, written in the same transaction as what it announces and
-- sent after commit. state: queued (attempts = 0: not tried yet; else
-- retrying at next_attempt_at), sent, failed (given up), cancelled (what it
-- announced changed first). The body carries a link with a secret token, so
-- it is sealed. last_error is our classification, never the server's words.
CREATE TABLE mail_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invitation_id BIGINT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_sealed TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox(state, next_attempt_at);
CREATE INDEX mail_outbox_invitation ON mail_outbox(invitation_id);
