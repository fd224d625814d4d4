-- An event no longer copies its object: it names the audit event written in
-- the same transaction (which holds the actor, the object's states before
-- and after), and keeps only its type and the changed field names. The body
-- is put together when read (docs/events.md, "Costs"): the outbox's row is
-- ~60 bytes instead of ~900. Events recorded before keep their body.
CREATE TABLE events_new (
    tenant_id   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL,
    audit_id    INTEGER,
    changed     TEXT,
    body        TEXT,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
INSERT INTO events_new (tenant_id, seq, type, occurred_at, body) SELECT tenant_id, seq, type, occurred_at, body FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
