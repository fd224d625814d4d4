-- An event no longer copies its object: it names the audit event written in
-- the same transaction (which holds the actor, the object's states before
-- and after), and keeps only its type and the changed field names. The body
-- is put together when read (docs/events.md, "Costs"). Events recorded
-- before keep their body.
ALTER TABLE events ADD COLUMN audit_id BIGINT;
ALTER TABLE events ADD COLUMN changed TEXT;
ALTER TABLE events ALTER COLUMN body DROP NOT NULL;
