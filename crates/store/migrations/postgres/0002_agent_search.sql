-- Substring search over agents through trigram GIN indexes: the store's
-- `lower(col) LIKE '%abc%'` predicates use them (pg_trgm supports LIKE).
-- Each index leads with tenant_id (btree_gin), so one index answers both
-- "this tenant" and "contains the text".
-- The extensions live in `public` (or wherever they already are), so that
-- deployments in their own schemas share them; operator classes are named
-- with that schema.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public;
DO $$
DECLARE
    trgm_schema text;
    col text;
BEGIN
    SELECT n.nspname INTO trgm_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    FOREACH col IN ARRAY ARRAY['login_id', 'first_name', 'last_name', 'display_name', 'email', 'phone'] LOOP
        EXECUTE format('CREATE INDEX %I ON agents USING gin (tenant_id, lower(%I) %I.gin_trgm_ops)',
                       'ix_agents_' || col || '_trgm', col, trgm_schema);
    END LOOP;
END
$$;
