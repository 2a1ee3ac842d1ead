-- The fleet page on a year of data (issue 35): drift counted per day for the
-- workspace and per tenant for the last seven days, each checked against its
-- run's outcome, read from the index alone (no visit to each entry's row).
CREATE INDEX drift_entries_workspace_detected ON drift_entries(workspace_id, detected_at, run_id, attempt, tenant_id);
CREATE INDEX drift_entries_tenant_detected ON drift_entries(tenant_id, detected_at, workspace_id, run_id, attempt);
