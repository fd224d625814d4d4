-- SCIM 2.0 (issue 27): the enterprise attributes and the identity
-- provider's externalId as real columns of the agent, and a scope per API
-- key ('api': the native API and the dialects; 'scim': /scim/v2 only).
ALTER TABLE agents ADD COLUMN external_id TEXT;
ALTER TABLE agents ADD COLUMN employee_number TEXT;
ALTER TABLE agents ADD COLUMN department TEXT;
ALTER TABLE agents ADD COLUMN manager TEXT;
CREATE INDEX ix_agents_tenant_external_id ON agents (tenant_id, external_id);
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'api';
-- A SCIM Group's externalId (the identity provider's id of the group).
ALTER TABLE agent_group_defs ADD COLUMN external_id TEXT;
