-- Bulk imports started over HTTP run as jobs; their state lives here so that
-- any instance sharing the database can report a job's progress.
CREATE TABLE import_jobs (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    kind        TEXT    NOT NULL,
    mode        TEXT    NOT NULL,
    on_conflict TEXT    NOT NULL,
    dry_run     BOOLEAN NOT NULL,
    -- running, done or failed
    status      TEXT    NOT NULL,
    rows_total  INTEGER NOT NULL,
    processed   INTEGER NOT NULL,
    report      TEXT,
    error       TEXT,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX ix_import_jobs_tenant ON import_jobs (tenant_id, id);
