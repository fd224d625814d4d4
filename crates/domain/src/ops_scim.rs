//! The operations SCIM 2.0 provisioning needs beyond the common ones
//! (`http/src/scim`): an agent replaced whole or patched (fields and
//! assignment lists in one transaction), a group's members changed, and
//! `DELETE` as the tenant's `scimDeleteMode` says. Each is one store call.

use crate::error::{Entity, Error, Result, Rule};
use crate::input::*;
use crate::model::*;
use crate::secret::{self, blocking, PasswordPolicy};
use crate::store::Named;
use crate::Directory;

impl Directory {
    /// Sets an agent's fields and, for each list given, its skills,
    /// services or groups. The same checks as `update_agent` (password
    /// policy and history included), plus the lists' own.
    pub async fn replace_agent(
        &self,
        p: &Principal,
        id: Id,
        patch: AgentPatch,
        sets: AssignmentSets,
        expected: Option<i64>,
    ) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        sets.validate()?;
        let policy = PasswordPolicy::ON_UPDATE;
        let mut changes = if patch.is_empty() { AgentChanges::default() } else { patch.validate(&policy)? };
        if let Some(pw) = patch.password {
            let previous = self.store().agent_password_hashes(p.tenant_id, id, policy.history).await?;
            changes.password_hash = Some(
                blocking(move || {
                    policy.check_history(&pw, &previous)?;
                    Ok::<_, Error>(secret::hash_password(&pw))
                })
                .await?,
            );
        }
        self.store().replace_agent(&self.ctx(p), id, changes, &sets, expected).await
    }

    /// SCIM's `DELETE /Users/{id}`: deactivates the agent, or deletes it
    /// when the tenant's `scimDeleteMode` is `delete`.
    pub async fn retire_agent(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_agent_admin()?;
        match self.store().get_tenant(p.tenant_id).await?.settings.scim_delete_mode {
            ScimDeleteMode::Delete => self.store().delete_agent(&self.ctx(p), id, expected).await,
            ScimDeleteMode::Deactivate => {
                let c = AgentChanges { active: Some(false), ..Default::default() };
                self.store().update_agent(&self.ctx(p), id, c, expected).await.map(|_| ())
            }
        }
    }

    /// A group's rename and member changes, in one transaction.
    pub async fn change_group(&self, p: &Principal, id: Id, mut c: GroupChange, expected: Option<i64>) -> Result<Named> {
        p.require_agent_admin()?;
        if let Some(n) = &c.name {
            c.name = Some(NamedInput { name: Some(n.clone()) }.validate()?);
        }
        c.external_id = crate::validate::opt_clearable(&c.external_id, |s| crate::validate::identity_text("externalId", s))?;
        if let Some(m) = &c.set_members {
            crate::validate::no_duplicates("members", m.iter())?;
        }
        self.store().change_group(&self.ctx(p), id, &c, expected).await
    }

    /// A new group with its first members, in one transaction.
    pub async fn create_group(&self, p: &Principal, name: Option<String>, external_id: Option<String>, members: Vec<Id>) -> Result<Named> {
        p.require_agent_admin()?;
        let name = NamedInput { name }.validate()?;
        let external_id =
            crate::validate::opt_clearable(&Some(external_id), |s| crate::validate::identity_text("externalId", s))?.flatten();
        crate::validate::no_duplicates("members", members.iter())?;
        self.store().create_group(&self.ctx(p), name, external_id, &members).await
    }

    /// The groups' `externalId`s: of one group, or of all the tenant's.
    pub async fn group_external_ids(&self, p: &Principal, group: Option<Id>) -> Result<Vec<(Id, String)>> {
        p.require_agent_admin()?;
        self.store().group_external_ids(p.tenant_id, group).await
    }

    /// The agents of a group, in id order.
    pub async fn group_members(&self, p: &Principal, id: Id) -> Result<Vec<Id>> {
        self.store().get_named(p.tenant_id, Entity::Group, id).await?;
        self.store().group_members(p.tenant_id, id).await
    }

    /// Every agent of the caller's tenant with its assignments, in id order
    /// (SCIM filters are evaluated over them).
    pub async fn all_agents(&self, p: &Principal) -> Result<Vec<AgentDetail>> {
        p.require_agent_admin()?;
        self.store().export_agents(p.tenant_id).await
    }

    /// An agent by loginId (case-insensitive), `None` if there is none.
    pub async fn agent_by_login_id(&self, p: &Principal, login_id: &str) -> Result<Option<AgentDetail>> {
        let login = match crate::validate::login_id("userName", Some(login_id)) {
            Ok(l) => l,
            Err(_) => return Ok(None),
        };
        match self.store().find_agent_by_login_id(p.tenant_id, &login).await {
            Ok(d) => Ok(Some(d)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every name-only object (groups, call centers) of the tenant, in id order.
    pub async fn all_named(&self, p: &Principal, kind: Entity) -> Result<Vec<Named>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let got = self.store().list_named(p.tenant_id, kind, page).await?;
            page.after = got.items.last().map_or(page.after, |n| n.id);
            out.extend(got.items);
            if !got.has_more {
                return Ok(out);
            }
        }
    }

    /// Every skill of the tenant, in id order.
    pub async fn all_skills(&self, p: &Principal) -> Result<Vec<Skill>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let got = self.store().list_skills(p.tenant_id, page).await?;
            page.after = got.items.last().map_or(page.after, |n| n.id);
            out.extend(got.items);
            if !got.has_more {
                return Ok(out);
            }
        }
    }

    /// Every service of the tenant, in id order.
    pub async fn all_services(&self, p: &Principal) -> Result<Vec<Service>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let got = self.store().list_services(p.tenant_id, None, page).await?;
            page.after = got.items.last().map_or(page.after, |n| n.id);
            out.extend(got.items);
            if !got.has_more {
                return Ok(out);
            }
        }
    }

    /// A group by id (SCIM answers 404 for another tenant's).
    pub async fn get_group(&self, p: &Principal, id: Id) -> Result<Named> {
        if id <= 0 {
            return Err(Error::invalid("id", Rule::Format { expected: "a positive integer" }));
        }
        self.store().get_named(p.tenant_id, Entity::Group, id).await
    }
}
