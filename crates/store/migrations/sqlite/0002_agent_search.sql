-- Substring search over agents (loginId, names, email, phone) through an
-- FTS5 index with the trigram tokenizer: `MATCH '"abc"'` finds rows where
-- any indexed column contains "abc" (case-insensitively) without a scan.
-- The table holds only the index (external content: the agents table).
CREATE VIRTUAL TABLE agents_fts USING fts5(
    login_id, first_name, last_name, display_name, email, phone,
    content = 'agents', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO agents_fts (agents_fts) VALUES ('rebuild');

CREATE TRIGGER agents_fts_insert AFTER INSERT ON agents BEGIN
    INSERT INTO agents_fts (rowid, login_id, first_name, last_name, display_name, email, phone)
    VALUES (new.id, new.login_id, new.first_name, new.last_name, new.display_name, new.email, new.phone);
END;

CREATE TRIGGER agents_fts_delete AFTER DELETE ON agents BEGIN
    INSERT INTO agents_fts (agents_fts, rowid, login_id, first_name, last_name, display_name, email, phone)
    VALUES ('delete', old.id, old.login_id, old.first_name, old.last_name, old.display_name, old.email, old.phone);
END;

CREATE TRIGGER agents_fts_update AFTER UPDATE ON agents
WHEN old.login_id IS NOT new.login_id OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name
  OR old.display_name IS NOT new.display_name OR old.email IS NOT new.email OR old.phone IS NOT new.phone
BEGIN
    INSERT INTO agents_fts (agents_fts, rowid, login_id, first_name, last_name, display_name, email, phone)
    VALUES ('delete', old.id, old.login_id, old.first_name, old.last_name, old.display_name, old.email, old.phone);
    INSERT INTO agents_fts (rowid, login_id, first_name, last_name, display_name, email, phone)
    VALUES (new.id, new.login_id, new.first_name, new.last_name, new.display_name, new.email, new.phone);
END;
