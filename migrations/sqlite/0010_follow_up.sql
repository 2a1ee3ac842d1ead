-- The ticket text as composed when the request was saved (description plus
-- its Tenantry context), so a retry or the sweep sends the same words.
ALTER TABLE support_requests ADD COLUMN ticket_body TEXT NULL;
-- When the current handoff attempt began (a pending request older than a
-- minute is no longer in anyone's hands), and how many attempts were made.
ALTER TABLE support_requests ADD COLUMN attempt_started_at BIGINT NULL;
ALTER TABLE support_requests ADD COLUMN handoff_attempts BIGINT NOT NULL DEFAULT 0;

-- Who started an onboarding bootstrap: they get one notification when it
-- finishes or stops (its runs notify nobody themselves).
ALTER TABLE onboarding_drafts ADD COLUMN bootstrapped_by BIGINT NULL;
