-- Switchboard schema, SQLite flavour. Times are milliseconds since the Unix
-- epoch; booleans are BOOLEAN (0/1); JSON is TEXT. Case-insensitive
-- uniqueness uses unique indexes on lower(...), scoped by tenant.

CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    -- Set to the tenant's id, in the creating transaction, when not given.
    client_id   INTEGER,
    settings    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_tenants_name ON tenants (lower(name));
CREATE UNIQUE INDEX ux_tenants_client_id ON tenants (client_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id),
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    powers        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_users_username ON users (tenant_id, lower(username));
CREATE INDEX ix_users_tenant ON users (tenant_id, id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id),
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX ux_api_keys_hash ON api_keys (hash);
CREATE INDEX ix_api_keys_tenant ON api_keys (tenant_id, id);
CREATE INDEX ix_api_keys_user ON api_keys (user_id, id);

CREATE TABLE skills (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_skills_name ON skills (tenant_id, lower(name));
CREATE INDEX ix_skills_tenant ON skills (tenant_id, id);

CREATE TABLE call_centers (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_call_centers_name ON call_centers (tenant_id, lower(name));
CREATE INDEX ix_call_centers_tenant ON call_centers (tenant_id, id);

CREATE TABLE agent_group_defs (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_agent_group_defs_name ON agent_group_defs (tenant_id, lower(name));
CREATE INDEX ix_agent_group_defs_tenant ON agent_group_defs (tenant_id, id);

CREATE TABLE services (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id),
    name           TEXT    NOT NULL,
    call_center_id INTEGER NOT NULL REFERENCES call_centers (id),
    acd            BOOLEAN NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_services_name ON services (tenant_id, lower(name));
CREATE INDEX ix_services_tenant ON services (tenant_id, id);
CREATE INDEX ix_services_call_center ON services (call_center_id, id);

CREATE TABLE agents (
    id                     INTEGER PRIMARY KEY,
    tenant_id              INTEGER NOT NULL REFERENCES tenants (id),
    login_id               TEXT    NOT NULL,
    first_name             TEXT    NOT NULL,
    last_name              TEXT    NOT NULL,
    display_name           TEXT,
    email                  TEXT,
    phone                  TEXT    NOT NULL,
    wrap_up_time           INTEGER NOT NULL,
    home_agent             BOOLEAN NOT NULL,
    active                 BOOLEAN NOT NULL,
    locked                 BOOLEAN NOT NULL,
    failed_logins          INTEGER NOT NULL,
    last_login             INTEGER,
    last_login_ip          TEXT,
    password_last_modified INTEGER,
    password_hash          TEXT,
    attributes             TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    version                INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_agents_login_id ON agents (tenant_id, lower(login_id));
CREATE INDEX ix_agents_tenant ON agents (tenant_id, id);
CREATE INDEX ix_agents_tenant_active ON agents (tenant_id, active, id);

CREATE TABLE agent_password_history (
    id         INTEGER PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents (id),
    hash       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ix_agent_password_history_agent ON agent_password_history (agent_id, id);

CREATE TABLE agent_skills (
    agent_id    INTEGER NOT NULL REFERENCES agents (id),
    skill_id    INTEGER NOT NULL REFERENCES skills (id),
    proficiency INTEGER NOT NULL,
    PRIMARY KEY (agent_id, skill_id)
);
CREATE INDEX ix_agent_skills_skill ON agent_skills (skill_id, agent_id);

CREATE TABLE agent_services (
    agent_id   INTEGER NOT NULL REFERENCES agents (id),
    service_id INTEGER NOT NULL REFERENCES services (id),
    PRIMARY KEY (agent_id, service_id)
);
CREATE INDEX ix_agent_services_service ON agent_services (service_id, agent_id);

CREATE TABLE agent_groups (
    agent_id     INTEGER NOT NULL REFERENCES agents (id),
    group_id     INTEGER NOT NULL REFERENCES agent_group_defs (id),
    receive_call BOOLEAN NOT NULL,
    PRIMARY KEY (agent_id, group_id)
);
CREATE INDEX ix_agent_groups_group ON agent_groups (group_id, agent_id);

CREATE TABLE phones (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    number      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_phones_name ON phones (tenant_id, lower(name));
CREATE UNIQUE INDEX ux_phones_number ON phones (tenant_id, lower(number));
CREATE INDEX ix_phones_tenant ON phones (tenant_id, id);

CREATE TABLE phone_skills (
    phone_id INTEGER NOT NULL REFERENCES phones (id),
    skill_id INTEGER NOT NULL REFERENCES skills (id),
    position INTEGER NOT NULL,
    PRIMARY KEY (phone_id, skill_id)
);
CREATE INDEX ix_phone_skills_skill ON phone_skills (skill_id, phone_id);

CREATE TABLE dids (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    number      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_dids_number ON dids (tenant_id, lower(number));
CREATE INDEX ix_dids_tenant ON dids (tenant_id, id);

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ux_campaigns_name ON campaigns (tenant_id, lower(name));
CREATE INDEX ix_campaigns_tenant ON campaigns (tenant_id, id);

-- kind is 'dynamic' or 'fallback'; position orders each list.
CREATE TABLE campaign_dids (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    did_id      INTEGER NOT NULL REFERENCES dids (id),
    kind        TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, kind, position)
);
CREATE INDEX ix_campaign_dids_did ON campaign_dids (did_id);

-- When any object of a kind last changed in a tenant (list "info").
CREATE TABLE list_marks (
    tenant_id   INTEGER NOT NULL,
    entity      TEXT    NOT NULL,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, entity)
);

CREATE TABLE audit_events (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    actor_user_id    INTEGER,
    actor_api_key_id INTEGER,
    actor            TEXT    NOT NULL,
    entity           TEXT    NOT NULL,
    entity_id        INTEGER NOT NULL,
    action           TEXT    NOT NULL,
    before_json      TEXT,
    after_json       TEXT
);
CREATE INDEX ix_audit_events_tenant ON audit_events (tenant_id, id);
CREATE INDEX ix_audit_events_entity ON audit_events (tenant_id, entity, entity_id, id);

CREATE TABLE idempotency_keys (
    tenant_id   INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      INTEGER,
    body        BLOB    NOT NULL,
    headers     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX ix_idempotency_keys_created ON idempotency_keys (tenant_id, created_at);
