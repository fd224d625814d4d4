-- Every agent write of a tenant stamped the same list_marks row, and
-- PostgreSQL holds a row's lock until COMMIT: the writes of one tenant ran one
-- at a time, each waiting for the last one's commit (issue 8: ~1,300 updates/s
-- at 1M agents, the CPU a third idle). A list now has up to 16 rows, one per
-- shard of the changed objects' ids; its last change is the greatest of them.
ALTER TABLE list_marks ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE list_marks DROP CONSTRAINT list_marks_pkey;
ALTER TABLE list_marks ADD PRIMARY KEY (tenant_id, entity, shard);
