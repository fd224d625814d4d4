-- LiveVox's List Agents pages in loginId order (its example's page is
-- AGENT!, AGENT#.?, AGENT-ANINDITA, AGENT-ONE): the bytes of the stored,
-- upper-case loginId, whatever the database's collation ("C"), ties by id.
-- This index makes a page at an offset an index-only walk, and serves the
-- console's loginId sort.
CREATE INDEX ix_agents_tenant_login_order ON agents (tenant_id, login_id COLLATE "C", id);
