-- Change events (issue 28, docs/events.md): the outbox every write fills in
-- its own transaction (next to its audit event), numbered per tenant in
-- commit order; webhook subscriptions and their delivery logs.
CREATE TABLE event_seqs (
    tenant_id INTEGER PRIMARY KEY,
    seq       INTEGER NOT NULL
);
CREATE TABLE events (
    tenant_id   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE TABLE webhooks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    url             TEXT    NOT NULL,
    events          TEXT,
    secret          TEXT    NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    event_cursor    INTEGER NOT NULL,
    due_at          INTEGER,
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX ix_webhooks_tenant ON webhooks (tenant_id, id);
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id       INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    tenant_id        INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    event_type       TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_latency_ms  INTEGER,
    last_error       TEXT,
    next_attempt_at  INTEGER,
    first_attempt_at INTEGER,
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (webhook_id, seq)
);
CREATE INDEX ix_webhook_deliveries_pending ON webhook_deliveries (webhook_id, status, id);
