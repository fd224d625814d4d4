-- The console sorts agents by last name: an index in that order (ties by
-- id) makes every page an index walk, also at 100,000 agents. Sorting by
-- loginId uses ux_agents_login_id (lower(login_id), unique).
CREATE INDEX ix_agents_tenant_last_name ON agents (tenant_id, lower(last_name), id);
