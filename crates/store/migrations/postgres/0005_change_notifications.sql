-- Change notifications for instances that keep agents and API-key principals
-- in memory (crates/store/src/cache.rs). Every statement that changes what an
-- agent read or an API-key authentication returns sends, on commit, a NOTIFY
-- on the channel 'sb:<schema>' (schemas share one database's channels):
--   'a:<id>,<id>,…'  these agents changed (at most 200 ids a statement),
--   'a:*'            agents changed, too many to name (bulk loads, imports),
--   'k:*'            API keys or users changed.
-- Statement-level triggers with transition tables: a bulk statement sends one
-- notification, not one per row. Triggers fire whoever writes (another
-- instance, an operator's psql), so a cache never misses a change that
-- committed while its listener was connected.

CREATE FUNCTION sb_notify_agent_ids(schema_name text, ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) > 200 THEN
        PERFORM pg_notify(left('sb:' || schema_name, 63), 'a:*');
    ELSIF cardinality(ids) > 0 THEN
        PERFORM pg_notify(left('sb:' || schema_name, 63), 'a:' || array_to_string(ids, ','));
    END IF;
END $$;

-- One function per id column and set of transition tables: static SQL, whose
-- plan PL/pgSQL keeps per connection (a dynamic EXECUTE cost a third of the
-- throughput of group mapping).
CREATE FUNCTION sb_agents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sb_notify_agent_ids(TG_TABLE_SCHEMA, ARRAY(SELECT id FROM old_rows UNION SELECT id FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION sb_agents_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sb_notify_agent_ids(TG_TABLE_SCHEMA, ARRAY(SELECT DISTINCT id FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION sb_assignments_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sb_notify_agent_ids(TG_TABLE_SCHEMA, ARRAY(SELECT DISTINCT agent_id FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION sb_assignments_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sb_notify_agent_ids(TG_TABLE_SCHEMA, ARRAY(SELECT agent_id FROM old_rows UNION SELECT agent_id FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION sb_assignments_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sb_notify_agent_ids(TG_TABLE_SCHEMA, ARRAY(SELECT DISTINCT agent_id FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION sb_notify_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('sb:' || TG_TABLE_SCHEMA, 63), 'k:*');
    RETURN NULL;
END $$;

-- A new agent id was never cached: agents need no INSERT trigger.
CREATE TRIGGER sb_agents_update AFTER UPDATE ON agents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_agents_changed();
CREATE TRIGGER sb_agents_delete AFTER DELETE ON agents REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_agents_deleted();

CREATE TRIGGER sb_agent_skills_insert AFTER INSERT ON agent_skills REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_inserted();
CREATE TRIGGER sb_agent_skills_update AFTER UPDATE ON agent_skills REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_changed();
CREATE TRIGGER sb_agent_skills_delete AFTER DELETE ON agent_skills REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_deleted();

CREATE TRIGGER sb_agent_services_insert AFTER INSERT ON agent_services REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_inserted();
CREATE TRIGGER sb_agent_services_update AFTER UPDATE ON agent_services REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_changed();
CREATE TRIGGER sb_agent_services_delete AFTER DELETE ON agent_services REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_deleted();

CREATE TRIGGER sb_agent_groups_insert AFTER INSERT ON agent_groups REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_inserted();
CREATE TRIGGER sb_agent_groups_update AFTER UPDATE ON agent_groups REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_changed();
CREATE TRIGGER sb_agent_groups_delete AFTER DELETE ON agent_groups REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sb_assignments_deleted();

-- `last_used_at` changes once a minute per key in use: not a change of who
-- the key authenticates.
CREATE TRIGGER sb_api_keys_update AFTER UPDATE OF tenant_id, user_id, hash, revoked_at ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION sb_notify_keys();
CREATE TRIGGER sb_api_keys_delete AFTER DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION sb_notify_keys();
CREATE TRIGGER sb_users_update AFTER UPDATE OF tenant_id, username, role, powers ON users
    FOR EACH STATEMENT EXECUTE FUNCTION sb_notify_keys();
CREATE TRIGGER sb_users_delete AFTER DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION sb_notify_keys();
