-- Monthly partitions (issue 35) are PostgreSQL's: SQLite has none. Its audit
-- log and notifications keep their tables and expire by the retention
-- sweep's batched deletes and incremental vacuum. This file keeps the two
-- dialects' version numbers in step.
SELECT 1;
