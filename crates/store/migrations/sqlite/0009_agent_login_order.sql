-- LiveVox's List Agents pages in loginId order (its example's page is
-- AGENT!, AGENT#.?, AGENT-ANINDITA, AGENT-ONE): the bytes of the stored,
-- upper-case loginId (SQLite's BINARY collation), ties by id. This index makes
-- a page at an offset a covering walk, and serves the console's loginId sort.
CREATE INDEX ix_agents_tenant_login_order ON agents (tenant_id, login_id, id);
