-- Alerts read ended runs by an end mark instead of a row per end (spec 012):
-- the statement that ends a run writes the id of its transaction
-- (pg_current_xact_id) into end_mark. A reader takes, in (end_mark, id)
-- order after its cursor, only marks below the oldest transaction still in
-- flight (pg_snapshot_xmin): those can no longer change, so the cursor
-- never passes a run that commits later. Nothing is written per run
-- besides the column and this index.
ALTER TABLE operation_runs ADD COLUMN end_mark BIGINT;
CREATE INDEX operation_runs_end_marks ON operation_runs(end_mark, id) WHERE end_mark IS NOT NULL;

-- Where each reader of ended runs is: one row per reader.
CREATE TABLE run_end_cursors (
    reader TEXT PRIMARY KEY,
    end_mark BIGINT NOT NULL,
    run_id BIGINT NOT NULL
);
INSERT INTO run_end_cursors (reader, end_mark, run_id) VALUES ('alerts', 0, 0);

-- Ends recorded but not yet evaluated stay due: mark 0 is after the cursor.
UPDATE operation_runs SET end_mark = 0 WHERE id IN (SELECT run_id FROM run_ended_events);
DROP TRIGGER operation_runs_ended_by_update ON operation_runs;
DROP TRIGGER operation_runs_ended_at_insert ON operation_runs;
DROP FUNCTION operation_runs_record_end();
DROP TABLE run_ended_events;
