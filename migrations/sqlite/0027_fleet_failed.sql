-- The fleet's "failed in the last 7 days" for a page of tenants (spec 013):
-- each tenant's failed runs by time, read from this index alone.
CREATE INDEX operation_runs_tenant_failed ON operation_runs(tenant_id, created_at) WHERE outcome = 'failed';
