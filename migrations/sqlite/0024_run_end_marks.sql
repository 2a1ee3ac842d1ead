-- Alerts read ended runs by an end mark instead of a row per end (spec 012):
-- the statement that ends a run writes one more than the highest mark so
-- far. SQLite has one writer, so marks follow commit order and a reader's
-- cursor never passes a run that commits later.
ALTER TABLE operation_runs ADD COLUMN end_mark INTEGER;
CREATE INDEX operation_runs_end_marks ON operation_runs(end_mark, id) WHERE end_mark IS NOT NULL;

-- Where each reader of ended runs is: one row per reader.
CREATE TABLE run_end_cursors (
    reader TEXT PRIMARY KEY,
    end_mark INTEGER NOT NULL,
    run_id INTEGER NOT NULL
);
INSERT INTO run_end_cursors (reader, end_mark, run_id) VALUES ('alerts', 0, 0);

-- Ends recorded but not yet evaluated stay due: mark 0 is after the cursor.
UPDATE operation_runs SET end_mark = 0 WHERE id IN (SELECT run_id FROM run_ended_events);
DROP TRIGGER operation_runs_ended_by_update;
DROP TRIGGER operation_runs_ended_at_insert;
DROP TABLE run_ended_events;
