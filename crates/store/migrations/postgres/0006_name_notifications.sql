-- Change notifications for the name index (crates/store/src/cache/names.rs),
-- which, unlike the agent cache, must also hear of new agents and tells a
-- renamed agent from one whose assignments or version moved:
--   'r:<id>,<id>,…'  these agents were created, renamed or deleted (the cache
--                    forgets them, the name index re-reads them),
--   'r:*'            too many to name: the name index is built anew.
-- 'a:' keeps its meaning (0005) for every other change of an agent.

CREATE FUNCTION sb_notify_ids(schema_name text, kind text, ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) > 200 THEN
        PERFORM pg_notify(left('sb:' || schema_name, 63), kind || ':*');
    ELSIF cardinality(ids) > 0 THEN
        PERFORM pg_notify(left('sb:' || schema_name, 63), kind || ':' || array_to_string(ids, ','));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION sb_agents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sb_notify_ids(TG_TABLE_SCHEMA, 'r',
        ARRAY(SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.last_name IS DISTINCT FROM o.last_name));
    PERFORM sb_notify_ids(TG_TABLE_SCHEMA, 'a',
        ARRAY(SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.last_name IS NOT DISTINCT FROM o.last_name));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION sb_agents_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sb_notify_ids(TG_TABLE_SCHEMA, 'r', ARRAY(SELECT DISTINCT id FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION sb_agents_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sb_notify_ids(TG_TABLE_SCHEMA, 'r', ARRAY(SELECT id FROM new_rows));
    RETURN NULL;
END $$;

CREATE TRIGGER sb_agents_insert AFTER INSERT ON agents REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_agents_inserted();
