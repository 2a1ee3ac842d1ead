-- Monthly partitions (issue 35): the audit log and notifications grow with
-- time and expire by age, so on PostgreSQL each calendar month (UTC) of
-- `created_at` is its own partition, named <table>_mYYYY_MM. Retention drops
-- a month whole once every row in it is past every workspace's period
-- (domain::retention::partitions); the sweep creates months ahead of time.
-- Rows outside every month (a clock far off) land in <table>_default, which
-- the row-by-row sweep keeps tidy. The primary key must name the partition
-- key, so it is (id, created_at); ids still come from one identity.
--
-- Existing rows are copied in this migration's transaction: a crash rolls it
-- back whole and the next start runs it again.
ALTER TABLE audit_log RENAME TO audit_log_unpartitioned;
DROP INDEX audit_workspace;
DROP INDEX audit_age;
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    workspace_id BIGINT NULL,
    tenant_id BIGINT NULL,
    actor_user_id BIGINT NULL,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('succeeded','failed','denied')),
    detail TEXT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

ALTER TABLE notifications RENAME TO notifications_unpartitioned;
DROP INDEX notifications_user_unread;
DROP INDEX notifications_age;
CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    run_id BIGINT NULL REFERENCES operation_runs(id) ON DELETE CASCADE,
    tone TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT NULL,
    next_steps TEXT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

-- The months the existing rows fall in (at most five years back; older rows
-- go to the default partition) and this month and the next three.
DO $$
DECLARE
    t TEXT;
    oldest BIGINT;
    first_month TIMESTAMP;
    last_month TIMESTAMP := date_trunc('month', now() AT TIME ZONE 'UTC') + INTERVAL '3 months';
    m TIMESTAMP;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_log', 'notifications'] LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_default', t);
        EXECUTE format('SELECT min(created_at) FROM %I', t || '_unpartitioned') INTO oldest;
        first_month := date_trunc('month', now() AT TIME ZONE 'UTC');
        IF oldest IS NOT NULL THEN
            first_month := LEAST(first_month, GREATEST(
                date_trunc('month', to_timestamp(oldest / 1000.0) AT TIME ZONE 'UTC'),
                date_trunc('month', now() AT TIME ZONE 'UTC') - INTERVAL '5 years'));
        END IF;
        m := first_month;
        WHILE m <= last_month LOOP
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                t || '_m' || to_char(m, 'YYYY_MM'), t,
                (extract(epoch FROM m) * 1000)::BIGINT,
                (extract(epoch FROM m + INTERVAL '1 month') * 1000)::BIGINT);
            m := m + INTERVAL '1 month';
        END LOOP;
    END LOOP;
END $$;

INSERT INTO audit_log (id, workspace_id, tenant_id, actor_user_id, actor_label, action, target, outcome, detail, created_at)
    OVERRIDING SYSTEM VALUE
    SELECT id, workspace_id, tenant_id, actor_user_id, actor_label, action, target, outcome, detail, created_at
    FROM audit_log_unpartitioned;
SELECT setval(pg_get_serial_sequence('audit_log', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM audit_log_unpartitioned;
DROP TABLE audit_log_unpartitioned;

INSERT INTO notifications (id, user_id, workspace_id, run_id, tone, title, body, link, created_at, read_at, next_steps)
    OVERRIDING SYSTEM VALUE
    SELECT id, user_id, workspace_id, run_id, tone, title, body, link, created_at, read_at, next_steps
    FROM notifications_unpartitioned;
SELECT setval(pg_get_serial_sequence('notifications', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM notifications_unpartitioned;
DROP TABLE notifications_unpartitioned;

CREATE INDEX audit_workspace ON audit_log(workspace_id, id DESC);
CREATE INDEX audit_age ON audit_log(workspace_id, created_at);
CREATE INDEX notifications_user_unread ON notifications(user_id, workspace_id, read_at, id DESC);
CREATE INDEX notifications_age ON notifications(workspace_id, created_at);
