-- The same shape as PostgreSQL's (migration 0007 there: a list's marks in up
-- to 16 rows, by shard of the changed objects' ids, so that concurrent writes
-- do not queue on one row); the SQL that stamps and reads them is shared.
-- SQLite cannot change a primary key: the table is rebuilt.
CREATE TABLE list_marks_sharded (
    tenant_id   INTEGER NOT NULL,
    entity      TEXT    NOT NULL,
    shard       INTEGER NOT NULL DEFAULT 0,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, entity, shard)
);
INSERT INTO list_marks_sharded (tenant_id, entity, shard, modified_at)
    SELECT tenant_id, entity, 0, modified_at FROM list_marks;
DROP TABLE list_marks;
ALTER TABLE list_marks_sharded RENAME TO list_marks;
