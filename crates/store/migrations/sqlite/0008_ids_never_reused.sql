-- Ids are never handed out again (issue 21). A rowid table without
-- AUTOINCREMENT gives a new row max(id) + 1, so deleting the newest object
-- gave its id to the next one: its audit history, a stale If-Match and
-- clients' id -> name caches then named someone else. AUTOINCREMENT makes
-- SQLite take the next id from sqlite_sequence, which only grows.
--
-- AUTOINCREMENT changes nothing in a table's stored form, only how SQLite
-- picks a rowid, so each table's CREATE statement is amended in place: the
-- procedure SQLite's documentation gives for schema changes that leave the
-- stored content as it is ("ALTER TABLE", section 7: writable_schema, then a
-- schema change that makes every connection re-read the schema). No row,
-- index, trigger or id moves; a 1M-agent file converts in milliseconds.
--
-- Each sequence starts at the highest id the table ever gave that can still
-- be known: its highest row, or the highest id its audit trail names (a
-- deleted newest object left only its audit events behind).

-- sqlite_sequence exists once a table with AUTOINCREMENT has been created.
CREATE TABLE switchboard_sequence_maker (id INTEGER PRIMARY KEY AUTOINCREMENT);

PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'INTEGER PRIMARY KEY,', 'INTEGER PRIMARY KEY AUTOINCREMENT,')
 WHERE type = 'table'
   AND name IN ('tenants', 'users', 'api_keys', 'skills', 'call_centers', 'agent_group_defs', 'services', 'agents',
                'agent_password_history', 'phones', 'dids', 'campaigns', 'audit_events', 'import_jobs')
   AND sql NOT LIKE '%AUTOINCREMENT%';
PRAGMA writable_schema = OFF;

-- A schema change: every connection, this one included, re-reads the schema
-- (and with it the amended tables) before its next statement.
DROP TABLE switchboard_sequence_maker;

WITH audited (entity, top) AS (SELECT entity, max(entity_id) FROM audit_events GROUP BY entity),
     tables (name, entity, top) AS (
        SELECT 'tenants', 'tenant', (SELECT max(id) FROM tenants)
        UNION ALL SELECT 'users', 'user', (SELECT max(id) FROM users)
        UNION ALL SELECT 'api_keys', 'api_key', (SELECT max(id) FROM api_keys)
        UNION ALL SELECT 'skills', 'skill', (SELECT max(id) FROM skills)
        UNION ALL SELECT 'call_centers', 'call_center', (SELECT max(id) FROM call_centers)
        UNION ALL SELECT 'agent_group_defs', 'group', (SELECT max(id) FROM agent_group_defs)
        UNION ALL SELECT 'services', 'service', (SELECT max(id) FROM services)
        UNION ALL SELECT 'agents', 'agent', (SELECT max(id) FROM agents)
        UNION ALL SELECT 'agent_password_history', NULL, (SELECT max(id) FROM agent_password_history)
        UNION ALL SELECT 'phones', 'phone', (SELECT max(id) FROM phones)
        UNION ALL SELECT 'dids', 'did', (SELECT max(id) FROM dids)
        UNION ALL SELECT 'campaigns', 'campaign', (SELECT max(id) FROM campaigns)
        UNION ALL SELECT 'audit_events', NULL, (SELECT max(id) FROM audit_events)
        UNION ALL SELECT 'import_jobs', NULL, (SELECT max(id) FROM import_jobs)
     )
INSERT INTO sqlite_sequence (name, seq)
SELECT t.name, max(coalesce(t.top, 0), coalesce(a.top, 0))
  FROM tables t LEFT JOIN audited a ON a.entity = t.entity
 WHERE coalesce(t.top, 0) > 0 OR a.top IS NOT NULL;
