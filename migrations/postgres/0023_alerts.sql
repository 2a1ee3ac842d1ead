-- Alerts (spec 012). The run engine records every run that ends in
-- run_ended_events (a trigger: whichever code path ended it, in the same
-- transaction); the alerts feature consumes them, evaluating rules once per
-- event (the consumer deletes what it evaluated in its own transaction).
CREATE TABLE run_ended_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id BIGINT NOT NULL,
    workspace_id BIGINT NOT NULL,
    ended_at BIGINT NOT NULL
);
CREATE FUNCTION operation_runs_record_end() RETURNS trigger AS $$
BEGIN
    -- Only workspaces with an enabled rule have anything to evaluate.
    IF EXISTS (SELECT 1 FROM alert_rules WHERE workspace_id = NEW.workspace_id AND enabled = 1) THEN
        INSERT INTO run_ended_events (run_id, workspace_id, ended_at)
        VALUES (NEW.id, NEW.workspace_id, COALESCE(NEW.completed_at, NEW.created_at));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER operation_runs_ended_by_update AFTER UPDATE OF status ON operation_runs
FOR EACH ROW WHEN (NEW.status = 'completed' AND OLD.status <> 'completed')
EXECUTE FUNCTION operation_runs_record_end();
CREATE TRIGGER operation_runs_ended_at_insert AFTER INSERT ON operation_runs
FOR EACH ROW WHEN (NEW.status = 'completed')
EXECUTE FUNCTION operation_runs_record_end();

-- A workspace's rules: a condition with its numbers (params, JSON), where it
-- applies (scope, exclusions: JSON), how bad it is, and where it goes
-- (routes: JSON list).
CREATE TABLE alert_rules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    condition TEXT NOT NULL,
    params TEXT NOT NULL,
    scope TEXT NOT NULL,
    exclusions TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    routes TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX alert_rules_workspace ON alert_rules(workspace_id, id);

-- One alert per (rule, tenant, subject), for good: it opens, counts, is
-- acknowledged, resolves, and opens again in the same row. rule_key is the
-- rule's id (0: Tenantry's own alerts, e.g. a webhook endpoint disabled);
-- tenant_key the tenant's id (0: about the workspace, e.g. a schedule).
CREATE TABLE alerts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    rule_key BIGINT NOT NULL,
    rule_id BIGINT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    tenant_key BIGINT NOT NULL,
    tenant_id BIGINT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    condition TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    title TEXT NOT NULL,
    detail TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    evidence TEXT NOT NULL,
    last_ref TEXT NULL,
    occurrences BIGINT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT NULL,
    acknowledged_by BIGINT NULL REFERENCES users(id) ON DELETE SET NULL,
    acknowledged_label TEXT NULL,
    acknowledged_at BIGINT NULL,
    ack_note TEXT NULL,
    snoozed_until BIGINT NULL,
    ticket_reference TEXT NULL,
    ticket_url TEXT NULL,
    ticket_external_id TEXT NULL,
    changes BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alerts_key ON alerts(workspace_id, rule_key, tenant_key, subject);
CREATE INDEX alerts_list ON alerts(workspace_id, state, last_seen_at DESC, id DESC);
CREATE INDEX alerts_tenant ON alerts(tenant_id, state);
CREATE INDEX alerts_snoozed ON alerts(snoozed_until) WHERE snoozed_until IS NOT NULL;

-- Standard Webhooks endpoints: the signing secret sealed; during a rotation
-- the previous one signs too until previous_until.
CREATE TABLE webhook_endpoints (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    previous_secret_sealed TEXT NULL,
    previous_until BIGINT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    disabled_reason TEXT NULL,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    -- A new secret waits here (sealed) to be shown once to who made it.
    reveal_sealed TEXT NULL,
    reveal_to BIGINT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints(workspace_id, id);

-- What alert changes send after commit (webhooks, desk tickets), written in
-- the alert change's transaction. message_id is the webhook-id: the same on
-- every attempt, so a receiver can drop a repeat.
CREATE TABLE alert_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    alert_id BIGINT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    endpoint_id BIGINT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('webhook', 'ticket')),
    event TEXT NOT NULL,
    message_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'cancelled')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT NULL
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(state, next_attempt_at);
CREATE INDEX alert_deliveries_endpoint ON alert_deliveries(endpoint_id, id DESC);
CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id);

-- Every attempt at a webhook: status, time, and at most 200 bytes of what
-- the receiver said (never a secret: we send none in the body).
CREATE TABLE webhook_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES alert_deliveries(id) ON DELETE CASCADE,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT NULL,
    outcome TEXT NOT NULL,
    response_excerpt TEXT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id DESC);

-- Sweeps that run once a day across every process (a conditional UPDATE).
CREATE TABLE alert_sweeps (
    name TEXT PRIMARY KEY,
    last_at BIGINT NOT NULL
);
INSERT INTO alert_sweeps (name, last_at) VALUES ('daily', 0);
