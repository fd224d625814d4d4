-- The FTS5 index of agents (0002) is no longer written by each agent
-- change: its triggers queue the change here, and whoever writes applies the
-- queue to the index, in order, just before COMMIT (`APPLY_SEARCH_QUEUE_SQL`
-- in crates/store/src/sqlite.rs). Why: FTS5 writes what it holds in memory
-- to a new segment at every savepoint boundary, and the SQLite writer runs
-- each write of a group commit in a savepoint of its own; a segment per
-- write, and merging them, was a third of the writer's time (issue 8).
-- Applied at commit, a group's changes make one segment.
--
-- A queued change keeps the values it indexes (a delete must name exactly
-- what was indexed), so replaying each agent's changes in `seq` order leaves
-- the index as the triggers would have. (FTS5 also writes a segment out
-- whenever a change comes for a lower rowid than the one before, which
-- writes in random agent order did: the queue is applied in agent order.) Outside a transaction the queue is empty; a
-- writer that does not apply it (the sqlite3 shell) leaves its changes to
-- the next Switchboard write, late but never wrong.
CREATE TABLE agents_fts_queue (
    seq          INTEGER PRIMARY KEY,
    is_delete    INTEGER NOT NULL,
    agent_id     INTEGER NOT NULL,
    login_id     TEXT,
    first_name   TEXT,
    last_name    TEXT,
    display_name TEXT,
    email        TEXT,
    phone        TEXT
);

DROP TRIGGER agents_fts_insert;
DROP TRIGGER agents_fts_delete;
DROP TRIGGER agents_fts_update;

CREATE TRIGGER agents_fts_insert AFTER INSERT ON agents BEGIN
    INSERT INTO agents_fts_queue (is_delete, agent_id, login_id, first_name, last_name, display_name, email, phone)
    VALUES (0, new.id, new.login_id, new.first_name, new.last_name, new.display_name, new.email, new.phone);
END;

CREATE TRIGGER agents_fts_delete AFTER DELETE ON agents BEGIN
    INSERT INTO agents_fts_queue (is_delete, agent_id, login_id, first_name, last_name, display_name, email, phone)
    VALUES (1, old.id, old.login_id, old.first_name, old.last_name, old.display_name, old.email, old.phone);
END;

CREATE TRIGGER agents_fts_update AFTER UPDATE ON agents
WHEN old.login_id IS NOT new.login_id OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name
  OR old.display_name IS NOT new.display_name OR old.email IS NOT new.email OR old.phone IS NOT new.phone
BEGIN
    INSERT INTO agents_fts_queue (is_delete, agent_id, login_id, first_name, last_name, display_name, email, phone)
    VALUES (1, old.id, old.login_id, old.first_name, old.last_name, old.display_name, old.email, old.phone);
    INSERT INTO agents_fts_queue (is_delete, agent_id, login_id, first_name, last_name, display_name, email, phone)
    VALUES (0, new.id, new.login_id, new.first_name, new.last_name, new.display_name, new.email, new.phone);
END;
