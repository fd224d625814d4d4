//! What callers ask for (raw, from any API) and the validated records the
//! store writes. Validation turns the first into the second, once, here.

use crate::error::{Entity, Error, Result, Rule};
use crate::model::*;
use crate::validate as v;

/// A request to create an agent, from any dialect.
#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    pub login_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub wrap_up_time: Option<i64>,
    pub home_agent: Option<bool>,
    pub active: Option<bool>,
    pub password: Option<String>,
    pub skills: Vec<SkillAssignment>,
    pub service_ids: Vec<Id>,
    pub groups: Vec<GroupMembership>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub profile: ProfileInput,
}

/// The identity attributes of an agent that SCIM carries (`externalId` and
/// the enterprise extension's `employeeNumber`, `department`, `manager`).
/// On create, `None` leaves a field empty; on update, `None` leaves it as
/// it is and `Some(None)` (or an empty text) clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileInput {
    pub external_id: Option<Option<String>>,
    pub employee_number: Option<Option<String>>,
    pub department: Option<Option<String>>,
    pub manager: Option<Option<String>>,
}

impl ProfileInput {
    pub fn is_empty(&self) -> bool {
        self.external_id.is_none() && self.employee_number.is_none() && self.department.is_none() && self.manager.is_none()
    }

    /// Each set field checked (`v::identity_text`); the same shape back.
    pub fn validate(&self) -> Result<ProfileInput> {
        let f = |field: &str, x: &Option<Option<String>>| v::opt_clearable(x, |s| v::identity_text(field, s));
        Ok(ProfileInput {
            external_id: f("externalId", &self.external_id)?,
            employee_number: f("employeeNumber", &self.employee_number)?,
            department: f("department", &self.department)?,
            manager: f("manager", &self.manager)?,
        })
    }

    /// Applies the set fields to an agent.
    pub fn apply(&self, a: &mut Agent) {
        for (slot, x) in [
            (&mut a.external_id, &self.external_id),
            (&mut a.employee_number, &self.employee_number),
            (&mut a.department, &self.department),
            (&mut a.manager, &self.manager),
        ] {
            if let Some(x) = x {
                *slot = x.clone();
            }
        }
    }
}

/// A validated agent, ready to insert. `password_hash` is argon2id.
#[derive(Debug, Clone)]
pub struct AgentRecord {
    pub login_id: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: String,
    pub wrap_up_time: i64,
    pub home_agent: bool,
    pub active: bool,
    pub password_hash: Option<String>,
    pub skills: Vec<SkillAssignment>,
    pub service_ids: Vec<Id>,
    pub groups: Vec<GroupMembership>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Validated; `None` and `Some(None)` alike leave a field empty.
    pub profile: ProfileInput,
}

impl NewAgent {
    /// Checks every field; the password is checked but not hashed here.
    pub fn validate(&self, policy: &crate::PasswordPolicy) -> Result<AgentRecord> {
        let login_id = v::login_id("loginId", self.login_id.as_deref())?;
        let first_name = v::name("firstName", self.first_name.as_deref())?;
        let last_name = v::name("lastName", self.last_name.as_deref())?;
        let display_name = v::opt(self.display_name.as_deref(), |s| v::display_name("displayName", s))?;
        let email = v::opt(self.email.as_deref(), |s| v::email("email", s))?;
        let phone = match self.phone.as_deref().map(str::trim) {
            None | Some("") => String::new(),
            Some(p) => v::phone_number("phone", p)?,
        };
        let wrap_up_time = v::wrap_up_time(self.wrap_up_time.unwrap_or(-1))?;
        if let Some(pw) = &self.password {
            policy.check(pw)?;
        }
        check_skill_list(&self.skills)?;
        v::no_duplicates("serviceIds", self.service_ids.iter())?;
        v::no_duplicates("groups", self.groups.iter().map(|g| g.group_id))?;
        Ok(AgentRecord {
            login_id,
            first_name,
            last_name,
            display_name,
            email,
            phone,
            wrap_up_time,
            home_agent: self.home_agent.unwrap_or(false),
            active: self.active.unwrap_or(true),
            password_hash: None,
            skills: self.skills.clone(),
            service_ids: self.service_ids.clone(),
            groups: self.groups.clone(),
            attributes: self.attributes.clone(),
            profile: self.profile.validate()?,
        })
    }
}

fn check_skill_list(skills: &[SkillAssignment]) -> Result<()> {
    for s in skills {
        v::proficiency(s.proficiency)?;
    }
    v::no_duplicates("skills", skills.iter().map(|s| s.skill_id))
}

/// A partial update of an agent. `None` leaves a field as it is; for the
/// optional fields, `Some(None)` clears them.
#[derive(Debug, Clone, Default)]
pub struct AgentPatch {
    pub login_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<String>,
    pub wrap_up_time: Option<i64>,
    pub home_agent: Option<bool>,
    pub active: Option<bool>,
    pub password: Option<String>,
    /// `Some(true)` locks, `Some(false)` unlocks (and resets failed logins).
    pub locked: Option<bool>,
    /// Merged into the agent's attributes; a null value removes a key.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub profile: ProfileInput,
    /// Values the caller sent back as read, which this update does not
    /// change: each must still be the agent's, or the update is refused
    /// (`Rule::ReadOnly`, naming it). `Some` with nothing else to change is a
    /// request that changes nothing (answered with the agent as it is).
    pub unchanged: Option<ReadOnlyFields>,
}

/// What a read of an agent shows and an update does not change (LiveVox's
/// Read Agent body sent back to Update Agent). `None`: not sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOnlyFields {
    /// Compared ignoring case, as loginIds are.
    pub login_id: Option<String>,
    pub locked: Option<bool>,
    pub password_last_modified: Option<Option<Millis>>,
    pub last_login: Option<Option<Millis>>,
    pub last_login_ip: Option<Option<String>>,
    /// Compared as sets.
    pub service_ids: Option<Vec<Id>>,
    /// Compared as sets of (skill, proficiency).
    pub skills: Option<Vec<SkillAssignment>>,
}

impl ReadOnlyFields {
    /// The first value that is not the agent's, as `Rule::ReadOnly`.
    pub fn check(&self, d: &AgentDetail) -> Result<()> {
        let a = &d.agent;
        let sorted = |mut v: Vec<(Id, i64)>| {
            v.sort_unstable();
            v.dedup();
            v
        };
        let skills = |s: &[SkillAssignment]| sorted(s.iter().map(|x| (x.skill_id, x.proficiency)).collect());
        let services = |s: &[Id]| sorted(s.iter().map(|&x| (x, 0)).collect());
        let differs = [
            ("loginId", self.login_id.as_ref().is_some_and(|x| x.trim().to_uppercase() != a.login_id)),
            ("serviceIds", self.service_ids.as_ref().is_some_and(|x| services(x) != services(&d.service_ids))),
            ("skills", self.skills.as_ref().is_some_and(|x| skills(x) != skills(&d.skills))),
            ("locked", self.locked.is_some_and(|x| x != a.locked)),
            ("passwordLastModified", self.password_last_modified.is_some_and(|x| x != a.password_last_modified)),
            ("lastLogin", self.last_login.is_some_and(|x| x != a.last_login)),
            ("lastLoginIp", self.last_login_ip.as_ref().is_some_and(|x| *x != a.last_login_ip)),
        ];
        match differs.into_iter().find(|(_, d)| *d) {
            Some((field, _)) => Err(Error::invalid(field, Rule::ReadOnly)),
            None => Ok(()),
        }
    }
}

/// A validated agent change; the store applies it with [`AgentChanges::apply`].
#[derive(Debug, Clone, Default)]
pub struct AgentChanges {
    pub login_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<String>,
    pub wrap_up_time: Option<i64>,
    pub home_agent: Option<bool>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
    pub locked: Option<bool>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Validated.
    pub profile: ProfileInput,
    /// Checked by the store against the agent it is about to change, in the
    /// same transaction ([`AgentChanges::check_unchanged`]).
    pub unchanged: Option<ReadOnlyFields>,
}

impl AgentPatch {
    pub fn is_empty(&self) -> bool {
        self.login_id.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.display_name.is_none()
            && self.email.is_none()
            && self.phone.is_none()
            && self.wrap_up_time.is_none()
            && self.home_agent.is_none()
            && self.active.is_none()
            && self.password.is_none()
            && self.locked.is_none()
            && self.attributes.is_empty()
            && self.profile.is_empty()
    }

    pub fn validate(&self, policy: &crate::PasswordPolicy) -> Result<AgentChanges> {
        if self.is_empty() {
            return Err(Error::invalid("body", Rule::NothingToUpdate));
        }
        if let Some(pw) = &self.password {
            policy.check(pw)?;
        }
        Ok(AgentChanges {
            login_id: v::opt(self.login_id.as_deref(), |s| v::login_id("loginId", Some(s)))?,
            first_name: v::opt(self.first_name.as_deref(), |s| v::name("firstName", Some(s)))?,
            last_name: v::opt(self.last_name.as_deref(), |s| v::name("lastName", Some(s)))?,
            display_name: v::opt_clearable(&self.display_name, |s| v::display_name("displayName", s))?,
            email: v::opt_clearable(&self.email, |s| v::email("email", s))?,
            phone: match self.phone.as_deref().map(str::trim) {
                None => None,
                Some("") => Some(String::new()),
                Some(p) => Some(v::phone_number("phone", p)?),
            },
            wrap_up_time: self.wrap_up_time.map(v::wrap_up_time).transpose()?,
            home_agent: self.home_agent,
            active: self.active,
            password_hash: None,
            locked: self.locked,
            attributes: self.attributes.clone(),
            profile: self.profile.validate()?,
            unchanged: self.unchanged.clone(),
        })
    }
}

impl AgentChanges {
    /// Refuses the change when a value the caller sent as unchanged is not
    /// the agent's (`before`, as read in the writing transaction).
    pub fn check_unchanged(&self, before: &AgentDetail) -> Result<()> {
        self.unchanged.as_ref().map_or(Ok(()), |u| u.check(before))
    }

    /// Applies the change to the stored agent; `now` stamps a password change.
    pub fn apply(&self, a: &mut Agent, now: Millis) {
        if let Some(x) = &self.login_id {
            a.login_id = x.clone();
        }
        if let Some(x) = &self.first_name {
            a.first_name = x.clone();
        }
        if let Some(x) = &self.last_name {
            a.last_name = x.clone();
        }
        if let Some(x) = &self.display_name {
            a.display_name = x.clone();
        }
        if let Some(x) = &self.email {
            a.email = x.clone();
        }
        if let Some(x) = &self.phone {
            a.phone = x.clone();
        }
        if let Some(x) = self.wrap_up_time {
            a.wrap_up_time = x;
        }
        if let Some(x) = self.home_agent {
            a.home_agent = x;
        }
        if let Some(x) = self.active {
            a.active = x;
        }
        if self.password_hash.is_some() {
            a.has_password = true;
            a.password_last_modified = Some(now);
            // An administrator's password change also lifts a lockout.
            a.locked = false;
            a.failed_logins = 0;
        }
        if let Some(l) = self.locked {
            a.locked = l;
            if !l {
                a.failed_logins = 0;
            }
        }
        for (k, val) in &self.attributes {
            if val.is_null() {
                a.attributes.remove(k);
            } else {
                a.attributes.insert(k.clone(), val.clone());
            }
        }
        self.profile.apply(a);
    }
}

/// Name and description of a skill; on update, `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct SkillInput {
    pub name: Option<String>,
    pub description: Option<String>,
}

impl SkillInput {
    pub fn validate_new(&self) -> Result<SkillInput> {
        Ok(SkillInput {
            name: Some(v::name("name", self.name.as_deref())?),
            description: Some(v::description("description", self.description.as_deref())?),
        })
    }
    pub fn validate_patch(&self) -> Result<SkillInput> {
        if self.name.is_none() && self.description.is_none() {
            return Err(Error::invalid("body", Rule::NothingToUpdate));
        }
        Ok(SkillInput {
            name: v::opt(self.name.as_deref(), |s| v::name("name", Some(s)))?,
            description: v::opt(self.description.as_deref(), |s| v::description("description", Some(s)))?,
        })
    }
}

/// A name-only object (call center, group).
#[derive(Debug, Clone, Default)]
pub struct NamedInput {
    pub name: Option<String>,
}

impl NamedInput {
    pub fn validate(&self) -> Result<String> {
        v::name("name", self.name.as_deref())
    }
}

#[derive(Debug, Clone, Default)]
pub struct ServiceInput {
    pub name: Option<String>,
    pub call_center_id: Option<Id>,
    pub acd: Option<bool>,
}

impl ServiceInput {
    pub fn validate_new(&self) -> Result<ServiceInput> {
        check_id("callCenterId", Entity::CallCenter, self.call_center_id)?;
        Ok(ServiceInput {
            name: Some(v::name("name", self.name.as_deref())?),
            call_center_id: Some(self.call_center_id.ok_or_else(|| Error::invalid("callCenterId", Rule::Required))?),
            acd: Some(self.acd.unwrap_or(true)),
        })
    }
    pub fn validate_patch(&self) -> Result<ServiceInput> {
        if self.name.is_none() && self.call_center_id.is_none() && self.acd.is_none() {
            return Err(Error::invalid("body", Rule::NothingToUpdate));
        }
        check_id("callCenterId", Entity::CallCenter, self.call_center_id)?;
        Ok(ServiceInput {
            name: v::opt(self.name.as_deref(), |s| v::name("name", Some(s)))?,
            call_center_id: self.call_center_id,
            acd: self.acd,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct PhoneInput {
    pub number: Option<String>,
    pub name: Option<String>,
    /// Skill names; on update, replaces the whole list.
    pub skills: Option<Vec<String>>,
}

impl PhoneInput {
    pub fn validate_new(&self) -> Result<PhoneInput> {
        Ok(PhoneInput {
            number: Some(v::phone_number("number", self.number.as_deref().unwrap_or(""))?),
            name: Some(v::name("name", self.name.as_deref())?),
            skills: Some(skill_names(self.skills.as_deref().unwrap_or(&[]))?),
        })
    }
    pub fn validate_patch(&self) -> Result<PhoneInput> {
        if self.number.is_none() && self.name.is_none() && self.skills.is_none() {
            return Err(Error::invalid("body", Rule::NothingToUpdate));
        }
        Ok(PhoneInput {
            number: v::opt(self.number.as_deref(), |s| v::phone_number("number", s))?,
            name: v::opt(self.name.as_deref(), |s| v::name("name", Some(s)))?,
            skills: self.skills.as_deref().map(skill_names).transpose()?,
        })
    }
}

fn skill_names(names: &[String]) -> Result<Vec<String>> {
    let names = names.iter().map(|n| v::name("skills", Some(n))).collect::<Result<Vec<_>>>()?;
    v::no_duplicates("skills", names.iter().map(|n| n.to_lowercase()))?;
    Ok(names)
}

#[derive(Debug, Clone, Default)]
pub struct CampaignInput {
    pub name: Option<String>,
    pub dynamic_dids: Option<Vec<String>>,
    pub fallback_dids: Option<Vec<String>>,
}

impl CampaignInput {
    pub fn validate_new(&self) -> Result<CampaignInput> {
        Ok(CampaignInput {
            name: Some(v::name("name", self.name.as_deref())?),
            dynamic_dids: Some(did_list("dynamicDids", self.dynamic_dids.as_deref().unwrap_or(&[]))?),
            fallback_dids: Some(did_list("fallbackDids", self.fallback_dids.as_deref().unwrap_or(&[]))?),
        })
    }
    pub fn validate_patch(&self) -> Result<CampaignInput> {
        if self.name.is_none() && self.dynamic_dids.is_none() && self.fallback_dids.is_none() {
            return Err(Error::invalid("body", Rule::NothingToUpdate));
        }
        Ok(CampaignInput {
            name: v::opt(self.name.as_deref(), |s| v::name("name", Some(s)))?,
            dynamic_dids: self.dynamic_dids.as_deref().map(|d| did_list("dynamicDids", d)).transpose()?,
            fallback_dids: self.fallback_dids.as_deref().map(|d| did_list("fallbackDids", d)).transpose()?,
        })
    }
}

fn did_list(field: &str, numbers: &[String]) -> Result<Vec<String>> {
    let numbers = numbers.iter().map(|n| v::phone_number(field, n)).collect::<Result<Vec<_>>>()?;
    v::no_duplicates(field, numbers.iter())?;
    Ok(numbers)
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub powers: Vec<Power>,
}

#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub powers: Option<Vec<Power>>,
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UserChanges {
    pub role: Option<Role>,
    pub powers: Option<Vec<Power>>,
    pub password_hash: Option<String>,
}

/// A new API key as stored: only its hash and a recognisable prefix.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub scope: KeyScope,
    pub prefix: String,
    pub hash: String,
}

impl NewApiKey {
    pub fn scoped(self, scope: KeyScope) -> NewApiKey {
        NewApiKey { scope, ..self }
    }
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub client_id: Option<i64>,
    pub settings: TenantSettings,
}

impl NewTenant {
    pub fn validate(name: &str, client_id: Option<i64>) -> Result<NewTenant> {
        let name = v::tenant_name(name)?;
        if let Some(c) = client_id {
            if c <= 0 {
                return Err(Error::invalid("clientId", Rule::OutOfRange { min: 1, max: i64::MAX }));
            }
        }
        Ok(NewTenant { name, client_id, settings: TenantSettings::default() })
    }
}

/// Checks tenant settings as a whole (after a PATCH is merged).
pub fn validate_settings(s: &TenantSettings) -> Result<()> {
    if !(0..=1_000_000).contains(&s.phone_number_limit) {
        return Err(Error::invalid("phoneNumberLimit", Rule::OutOfRange { min: 0, max: 1_000_000 }));
    }
    if !(1..=100).contains(&s.agent_lockout_threshold) {
        return Err(Error::invalid("agentLockoutThreshold", Rule::OutOfRange { min: 1, max: 100 }));
    }
    for (k, n) in &s.rate_limits {
        if k.is_empty() || k.chars().count() > 100 {
            return Err(Error::invalid("rateLimits", Rule::Format { expected: "keyed by endpoint name" }));
        }
        if *n == 0 || *n > 1_000_000 {
            return Err(Error::invalid("rateLimits", Rule::OutOfRange { min: 1, max: 1_000_000 }));
        }
    }
    Ok(())
}

/// An id in a body is positive (ids are): anything else names no object,
/// refused before any precondition or lookup.
fn check_id(field: &str, entity: Entity, id: Option<Id>) -> Result<()> {
    match id {
        Some(x) if x < 1 => Err(unknown(field, entity, x)),
        _ => Ok(()),
    }
}

/// The entity names the store reports in unknown-reference errors.
pub fn unknown(field: &str, entity: Entity, id: impl ToString) -> Error {
    Error::invalid(field, Rule::UnknownReference { entity, id: id.to_string() })
}

/// Skill and group (un)assignments by name, resolved by the store inside the
/// same transaction as the agent's other changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentAssignments {
    /// Skill name and proficiency.
    pub assign_skills: Vec<(String, i64)>,
    pub unassign_skills: Vec<String>,
    pub assign_groups: Vec<String>,
    pub unassign_groups: Vec<String>,
}

impl AgentAssignments {
    pub fn is_empty(&self) -> bool {
        self.assign_skills.is_empty() && self.unassign_skills.is_empty() && self.assign_groups.is_empty() && self.unassign_groups.is_empty()
    }
}

/// Whole assignment lists to set (SCIM): `None` leaves a list as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssignmentSets {
    pub skills: Option<Vec<SkillAssignment>>,
    pub service_ids: Option<Vec<Id>>,
    pub groups: Option<Vec<GroupMembership>>,
}

impl AssignmentSets {
    pub fn is_empty(&self) -> bool {
        self.skills.is_none() && self.service_ids.is_none() && self.groups.is_none()
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(s) = &self.skills {
            check_skill_list(s)?;
        }
        if let Some(s) = &self.service_ids {
            v::no_duplicates("serviceIds", s.iter())?;
        }
        if let Some(g) = &self.groups {
            v::no_duplicates("groups", g.iter().map(|g| g.group_id))?;
        }
        Ok(())
    }
}

/// A group's changes (SCIM Groups): a new name, and its members set whole
/// (`set`) or added and removed (applied in that order: add, then remove).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupChange {
    /// Validated by `NamedInput::validate` before it reaches the store.
    pub name: Option<String>,
    /// The identity provider's id of the group (SCIM `externalId`);
    /// `Some(None)` clears it. Validated (`identity_text`) before the store.
    pub external_id: Option<Option<String>>,
    pub set_members: Option<Vec<Id>>,
    pub add_members: Vec<Id>,
    pub remove_members: Vec<Id>,
}

impl GroupChange {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.external_id.is_none()
            && self.set_members.is_none()
            && self.add_members.is_empty()
            && self.remove_members.is_empty()
    }
}
