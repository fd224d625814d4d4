//! Operations of the Ozonetel CloudAgent dialect. Ozonetel names objects by
//! name (the account's `userName`, an agent's `agentId`, skills, groups,
//! phones, campaigns and DIDs) and has rules of its own (a 3–50 character
//! password, an agent name of 2–50 characters). Those rules live here, as
//! domain data and checks, so the dialect only parses and formats; every
//! write is still one store call, one transaction.

use crate::error::{Entity, Error, Result, Rule};
use crate::input::{AgentAssignments, AgentChanges, CampaignInput, PhoneInput};
use crate::model::*;
use crate::ops::{Directory, SessionTerms};
use crate::secret::{self, blocking, PasswordPolicy};
use crate::session::Session;
use crate::store::WriteCtx;
use crate::validate as v;
use serde_json::{Map, Value};

/// The session kind of tokens from `CAToken/generateToken`.
pub const OZONETEL_TOKEN_KIND: &str = "ozonetel-token";

/// updateAgent mode flags: booleans kept as agent attributes.
pub const OZONETEL_AGENT_FLAGS: &[&str] =
    &["inbound", "outbound", "manual", "preview", "progressive", "predictive", "blended", "chat", "autoAnswer"];
/// updateAgent settings kept as agent attributes as sent (string or object).
pub const OZONETEL_AGENT_SETTINGS: &[&str] = &["sipLocation", "callControllers"];

impl PasswordPolicy {
    /// Ozonetel updateAgent: 3 to 50 characters, no other rule, no history.
    pub const OZONETEL: PasswordPolicy = PasswordPolicy { min_len: 3, max_len: 50, require_digit: false, history: 0 };
}

/// How an Ozonetel caller identifies itself: the account (tenant) name and
/// either an API key of that tenant or a token issued for it.
#[derive(Debug, Clone, Default)]
pub struct OzonetelCredentials {
    pub user_name: Option<String>,
    pub api_key: Option<String>,
    pub token: Option<String>,
}

/// An authenticated Ozonetel caller and its tenant (for its settings).
#[derive(Debug, Clone)]
pub struct OzonetelCaller {
    pub principal: Principal,
    pub tenant: Tenant,
}

/// A skill object of `assignSkills` / `unAssignSkills`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OzonetelSkill {
    pub name: Option<String>,
    /// 1–5 (the domain's proficiency); default 1.
    pub priority: Option<i64>,
}

/// The body of `PUT /ca_apis/updateAgent`, as sent (`None`: key absent or null).
#[derive(Debug, Clone, Default)]
pub struct OzonetelAgentUpdate {
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub password: Option<String>,
    pub email: Option<String>,
    pub agent_id_new: Option<String>,
    pub agent_name_new: Option<String>,
    pub assign_skills: Vec<OzonetelSkill>,
    pub unassign_skills: Vec<OzonetelSkill>,
    /// Comma-separated group names.
    pub assign_groups: Option<String>,
    pub unassign_groups: Option<String>,
    pub locked: Option<Value>,
    /// Mode flags and settings ([`OZONETEL_AGENT_FLAGS`], [`OZONETEL_AGENT_SETTINGS`]).
    pub attributes: Map<String, Value>,
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().map(str::trim).unwrap_or("")
}

/// A boolean sent as `true`/`false` or as the strings "true"/"false".
fn flag(field: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(Error::invalid(field, Rule::Format { expected: "true or false" })),
    }
}

/// A comma-separated list of names: trimmed, empty items dropped.
pub fn comma_list(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("").split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl OzonetelAgentUpdate {
    /// Checks the fields in Ozonetel's documented order: agentName, password,
    /// email; then the optional fields. The password is checked, not hashed.
    pub fn validate(&self) -> Result<(AgentChanges, AgentAssignments)> {
        if text(&self.agent_name).is_empty() {
            return Err(Error::invalid("agentName", Rule::Required));
        }
        let mut display_name = v::display_name("agentName", text(&self.agent_name))?;
        PasswordPolicy::OZONETEL.check(self.password.as_deref().unwrap_or(""))?;
        if text(&self.email).is_empty() {
            return Err(Error::invalid("email", Rule::Required));
        }
        let email = v::email("email", text(&self.email))?;
        let login_id = match text(&self.agent_id_new) {
            "" => None,
            s => Some(v::login_id("agentIdNew", Some(s))?),
        };
        if !text(&self.agent_name_new).is_empty() {
            display_name = v::display_name("agentNameNew", text(&self.agent_name_new))?;
        }
        let skill = |field: &str, s: &OzonetelSkill| -> Result<(String, i64)> {
            let name = v::name(field, s.name.as_deref())?;
            let p = s.priority.unwrap_or(1);
            if !(1..=5).contains(&p) {
                return Err(Error::invalid(field, Rule::OutOfRange { min: 1, max: 5 }));
            }
            Ok((name, p))
        };
        let assign_skills = self.assign_skills.iter().map(|s| skill("assignSkills", s)).collect::<Result<Vec<_>>>()?;
        let unassign_skills =
            self.unassign_skills.iter().map(|s| skill("unAssignSkills", s).map(|(n, _)| n)).collect::<Result<Vec<_>>>()?;
        v::no_duplicates("assignSkills", assign_skills.iter().map(|(n, _)| n.to_lowercase()))?;
        v::no_duplicates("unAssignSkills", unassign_skills.iter().map(|n| n.to_lowercase()))?;
        let group_list = |field: &str, s: &Option<String>| -> Result<Vec<String>> {
            let names = comma_list(s.as_deref()).iter().map(|g| v::name(field, Some(g))).collect::<Result<Vec<_>>>()?;
            v::no_duplicates(field, names.iter().map(|n| n.to_lowercase()))?;
            Ok(names)
        };
        let assign_groups = group_list("assignAgentGroups", &self.assign_groups)?;
        let unassign_groups = group_list("unAssignAgentGroups", &self.unassign_groups)?;
        let locked = self.locked.as_ref().filter(|v| !v.is_null()).map(|v| flag("locked", v)).transpose()?;
        let mut attributes = Map::new();
        for (k, val) in &self.attributes {
            if val.is_null() {
                continue;
            }
            if OZONETEL_AGENT_FLAGS.contains(&k.as_str()) {
                attributes.insert(k.clone(), Value::Bool(flag(k, val)?));
            } else if OZONETEL_AGENT_SETTINGS.contains(&k.as_str()) {
                attributes.insert(k.clone(), val.clone());
            }
        }
        let changes = AgentChanges {
            login_id,
            display_name: Some(Some(display_name)),
            email: Some(Some(email)),
            locked,
            attributes,
            ..Default::default()
        };
        let assignments = AgentAssignments { assign_skills, unassign_skills, assign_groups, unassign_groups };
        Ok((changes, assignments))
    }
}

/// What `PhoneManageV2` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneAction {
    Create,
    Edit,
    Delete,
}

/// The body of `POST /ca_apis/PhoneManageV2`, as sent (numbers already URL-decoded).
#[derive(Debug, Clone, Default)]
pub struct OzonetelPhoneRequest {
    pub action: Option<String>,
    pub phone_number: Option<String>,
    pub phone_name: Option<String>,
    pub phone_number_new: Option<String>,
    pub phone_name_new: Option<String>,
    /// create: comma-separated skill names.
    pub skill: Option<String>,
    /// edit: comma-separated skill names to add / remove.
    pub assign_skill: Option<String>,
    pub unassign_skill: Option<String>,
}

/// The result of `PhoneManageV2`: the phone (none after delete), and whether
/// some named skills were not valid and were left out.
#[derive(Debug, Clone)]
pub struct PhoneOutcome {
    pub action: PhoneAction,
    pub phone: Option<Phone>,
    pub skills_rejected: bool,
}

/// Skill names as sent: canonical names of the tenant's skills, and whether
/// any item was empty or unknown.
fn known_skills(list: &Option<String>, catalog: &[String]) -> (Vec<String>, bool) {
    let Some(raw) = list else { return (Vec::new(), false) };
    let mut rejected = raw.trim().is_empty();
    let mut out: Vec<String> = Vec::new();
    for item in raw.split(',').map(str::trim) {
        match catalog.iter().find(|c| c.eq_ignore_ascii_case(item)) {
            Some(c) if !item.is_empty() => {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
                    out.push(c.clone());
                }
            }
            _ => rejected = true,
        }
    }
    (out, rejected)
}

impl OzonetelPhoneRequest {
    /// Checks in Ozonetel's documented order: action, phoneNumber numeric,
    /// phoneName present, phoneNumber present; then the new values (an
    /// edit's `phoneNumberNew` is mandatory, marked `*` like the others).
    pub fn validate(&self) -> Result<(PhoneAction, String, String)> {
        let action = match text(&self.action).to_ascii_lowercase().as_str() {
            "create" | "add" => PhoneAction::Create,
            "edit" | "update" => PhoneAction::Edit,
            "delete" => PhoneAction::Delete,
            _ => return Err(Error::invalid("action", Rule::Format { expected: "create, edit or delete" })),
        };
        let number = text(&self.phone_number);
        if !number.is_empty() {
            v::phone_number("phoneNumber", number)?;
        }
        let name = v::name("phoneName", self.phone_name.as_deref())?;
        if number.is_empty() {
            return Err(Error::invalid("phoneNumber", Rule::Required));
        }
        if action == PhoneAction::Edit {
            v::phone_number("phoneNumberNew", text(&self.phone_number_new))?;
            if !text(&self.phone_name_new).is_empty() {
                v::name("phoneNameNew", self.phone_name_new.as_deref())?;
            }
        }
        Ok((action, number.to_string(), name))
    }
}

impl Directory {
    fn ozonetel_ctx(&self, p: &Principal) -> WriteCtx {
        WriteCtx { tenant_id: p.tenant_id, actor: Actor::of(p), now: self.now() }
    }

    /// The tenant called `user_name`, if it is the caller's; anything else is
    /// one answer, so that names of other tenants cannot be probed.
    async fn ozonetel_tenant(&self, user_name: Option<&str>, tenant_id: Id) -> Result<Tenant> {
        let name = user_name.map(str::trim).unwrap_or("");
        if name.is_empty() {
            return Err(Error::Unauthenticated);
        }
        match self.store().find_tenant_by_name(name).await {
            Ok(t) if t.id == tenant_id => Ok(t),
            Ok(_) | Err(Error::NotFound { .. }) => Err(Error::Unauthenticated),
            Err(e) => Err(e),
        }
    }

    /// Authenticates an Ozonetel call: a token (any mode) or an API key (only
    /// while the tenant's "API Authentication" is BASIC_AUTH), and a userName
    /// naming the same tenant. A missing key is `Invalid{apiKey, Required}`;
    /// every other failure is `Unauthenticated`.
    pub async fn ozonetel_authenticate(&self, c: &OzonetelCredentials) -> Result<OzonetelCaller> {
        let token = c.token.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let principal = match token {
            Some(t) => {
                let s = self.session(t).await?;
                if s.kind != OZONETEL_TOKEN_KIND {
                    return Err(Error::Unauthenticated);
                }
                s.principal
            }
            None => {
                let key = text(&c.api_key);
                if key.is_empty() {
                    return Err(Error::invalid("apiKey", Rule::Required));
                }
                self.authenticate_key(key).await?
            }
        };
        let tenant = self.ozonetel_tenant(c.user_name.as_deref(), principal.tenant_id).await?;
        if token.is_none() && tenant.settings.api_authentication == ApiAuthMode::TokenAuth {
            return Err(Error::Unauthenticated);
        }
        Ok(OzonetelCaller { principal, tenant })
    }

    /// `CAToken/generateToken`: a token for the key's user, valid for
    /// `lifetime` milliseconds, in either authentication mode.
    pub async fn ozonetel_issue_token(&self, user_name: Option<&str>, api_key: Option<&str>, lifetime: Millis) -> Result<Session> {
        let key = api_key.map(str::trim).unwrap_or("");
        if key.is_empty() {
            return Err(Error::invalid("apiKey", Rule::Required));
        }
        let p = self.authenticate_key(key).await?;
        self.ozonetel_tenant(user_name, p.tenant_id).await?;
        let terms = SessionTerms { kind: OZONETEL_TOKEN_KIND, idle_ttl: 0, lifetime: Some(lifetime), reuse_key: None };
        self.open_session(p, terms).await
    }

    /// `updateAgent`: finds the agent by its loginId (`agentId`, any case),
    /// validates in Ozonetel's order, then changes its fields, skills and
    /// groups in one transaction. Resending the current password changes
    /// nothing (it does not count as a password change, nor unlock).
    pub async fn ozonetel_update_agent(&self, p: &Principal, u: &OzonetelAgentUpdate) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        let login = text(&u.agent_id);
        if login.is_empty() {
            return Err(Error::not_found(Entity::Agent, ""));
        }
        let agent = self.store().find_agent_by_login_id(p.tenant_id, &login.to_uppercase()).await?;
        let (mut changes, assignments) = u.validate()?;
        if let Some(pw) = u.password.clone() {
            let current = self.store().agent_password_hashes(p.tenant_id, agent.agent.id, 1).await?;
            changes.password_hash = blocking(move || {
                if current.first().is_some_and(|h| secret::verify_password(&pw, h)) {
                    None
                } else {
                    Some(secret::hash_password(&pw))
                }
            })
            .await;
        }
        let ctx = self.ozonetel_ctx(p);
        self.store().update_agent_with_assignments(&ctx, agent.agent.id, changes, &assignments, None).await
    }

    /// The names of the tenant's skills that the comma lists name (one
    /// indexed query): the catalog `known_skills` checks the lists against.
    async fn skills_named_in(&self, p: &Principal, lists: &[&Option<String>]) -> Result<Vec<String>> {
        let names: Vec<String> = lists
            .iter()
            .filter_map(|l| l.as_deref())
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        Ok(self.store().skills_named(p.tenant_id, &names).await?.into_iter().map(|s| s.name).collect())
    }

    /// The phone with this number and (case-insensitive) name.
    async fn find_phone(&self, p: &Principal, number: &str, name: &str) -> Result<Phone> {
        let phone = self.store().find_phone_by_number(p.tenant_id, number).await?;
        if phone.number == number && phone.name.to_lowercase() == name.to_lowercase() {
            Ok(phone)
        } else {
            Err(Error::not_found(Entity::Phone, number))
        }
    }

    /// `PhoneManageV2`: create, edit or delete a phone named by number and
    /// name. Unknown skill names are left out (and reported), the rest applies.
    pub async fn ozonetel_phone_manage(&self, p: &Principal, r: &OzonetelPhoneRequest) -> Result<PhoneOutcome> {
        p.require_agent_admin()?;
        let (action, number, name) = r.validate()?;
        match action {
            PhoneAction::Create => {
                let catalog = self.skills_named_in(p, &[&r.skill]).await?;
                let (skills, skills_rejected) = known_skills(&r.skill, &catalog);
                let input = PhoneInput { number: Some(number), name: Some(name), skills: Some(skills) };
                let phone = self.create_phone(p, input).await?;
                Ok(PhoneOutcome { action, phone: Some(phone), skills_rejected })
            }
            PhoneAction::Edit => {
                let phone = self.find_phone(p, &number, &name).await?;
                let mut skills_rejected = false;
                let skills = if r.assign_skill.is_some() || r.unassign_skill.is_some() {
                    let catalog = self.skills_named_in(p, &[&r.assign_skill, &r.unassign_skill]).await?;
                    let (add, bad_add) = known_skills(&r.assign_skill, &catalog);
                    let (remove, bad_remove) = known_skills(&r.unassign_skill, &catalog);
                    skills_rejected = bad_add || bad_remove;
                    let mut list: Vec<String> =
                        phone.skills.iter().filter(|s| !remove.iter().any(|x| x.eq_ignore_ascii_case(s))).cloned().collect();
                    for s in add {
                        if !list.iter().any(|x| x.eq_ignore_ascii_case(&s)) {
                            list.push(s);
                        }
                    }
                    Some(list)
                } else {
                    None
                };
                let input = PhoneInput {
                    number: Some(text(&r.phone_number_new).to_string()),
                    name: Some(match text(&r.phone_name_new) {
                        "" => phone.name.clone(),
                        n => n.to_string(),
                    }),
                    skills,
                };
                let ctx = self.ozonetel_ctx(p);
                let after = self.store().update_phone(&ctx, phone.id, input.validate_patch()?, Some(phone.version)).await?;
                Ok(PhoneOutcome { action, phone: Some(after), skills_rejected })
            }
            PhoneAction::Delete => {
                let phone = self.find_phone(p, &number, &name).await?;
                self.delete_phone(p, phone.id, Some(phone.version)).await?;
                Ok(PhoneOutcome { action, phone: None, skills_rejected: false })
            }
        }
    }

    /// `dynamic/did/update`: replaces a campaign's dynamic and fallback DID
    /// lists (comma-separated numbers of the tenant's inventory), both at once.
    pub async fn ozonetel_update_dynamic_dids(
        &self,
        p: &Principal,
        campaign: Option<&str>,
        dynamic: Option<&str>,
        fallback: Option<&str>,
    ) -> Result<Campaign> {
        p.require_agent_admin()?;
        let wanted = campaign.map(str::trim).unwrap_or("");
        if wanted.is_empty() {
            return Err(Error::not_found(Entity::Campaign, wanted));
        }
        let camp = self.store().find_campaign_by_name(p.tenant_id, wanted).await?;
        // The DIDs the lists name that the tenant has (one indexed query).
        let named: Vec<String> = [dynamic, fallback]
            .iter()
            .flatten()
            .flat_map(|l| l.split(','))
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        let inventory: Vec<String> = self.store().dids_numbered(p.tenant_id, &named).await?.into_iter().map(|d| d.number).collect();
        let list = |field: &str, raw: Option<&str>| -> Result<Vec<String>> {
            let raw = raw.map(str::trim).unwrap_or("");
            if raw.is_empty() {
                return Err(Error::invalid(field, Rule::Required));
            }
            let items: Vec<String> = raw.split(',').map(|s| s.trim().to_string()).collect();
            for n in &items {
                if !inventory.iter().any(|d| d == n) {
                    return Err(crate::input::unknown(field, Entity::Did, n));
                }
            }
            v::no_duplicates(field, items.iter())?;
            Ok(items)
        };
        let dynamic = list("dynamicDIDs", dynamic)?;
        let fallback = list("fallbackDynamicDIDs", fallback)?;
        let input = CampaignInput { name: None, dynamic_dids: Some(dynamic), fallback_dids: Some(fallback) };
        let ctx = self.ozonetel_ctx(p);
        self.store().update_campaign(&ctx, camp.id, input.validate_patch()?, Some(camp.version)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update() -> OzonetelAgentUpdate {
        OzonetelAgentUpdate {
            agent_id: Some("a1".into()),
            agent_name: Some("Ann Smith".into()),
            password: Some("abc".into()),
            email: Some("ann@example.com".into()),
            ..Default::default()
        }
    }

    fn rule_of(r: Result<(AgentChanges, AgentAssignments)>) -> (String, Rule) {
        match r {
            Err(Error::Invalid { field, rule }) => (field, rule),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn agent_update_checks_in_documented_order() {
        assert!(update().validate().is_ok());
        let mut u = update();
        u.agent_name = Some(" ".into());
        u.password = None;
        assert_eq!(rule_of(u.validate()), ("agentName".into(), Rule::Required));
        let mut u = update();
        u.agent_name = Some("A".into());
        u.email = None;
        assert_eq!(rule_of(u.validate()).0, "agentName");
        let mut u = update();
        u.password = Some("ab".into());
        u.email = Some("bad".into());
        assert_eq!(rule_of(u.validate()), ("password".into(), Rule::TooShort { min: 3 }));
        let mut u = update();
        u.password = Some("x".repeat(51));
        assert_eq!(rule_of(u.validate()), ("password".into(), Rule::TooLong { max: 50 }));
        let mut u = update();
        u.email = Some("".into());
        assert_eq!(rule_of(u.validate()), ("email".into(), Rule::Required));
    }

    #[test]
    fn optional_fields_map_onto_the_domain() {
        let mut u = update();
        u.agent_id_new = Some("b2".into());
        u.agent_name_new = Some("Bea".into());
        u.assign_skills = vec![OzonetelSkill { name: Some("Hindi".into()), priority: Some(3) }];
        u.assign_groups = Some("Tier 1, Tier 2,".into());
        u.locked = Some(Value::String("true".into()));
        u.attributes.insert("inbound".into(), Value::String("false".into()));
        u.attributes.insert("unrelated".into(), Value::Bool(true));
        let (c, a) = u.validate().unwrap();
        assert_eq!(c.login_id.as_deref(), Some("B2"));
        assert_eq!(c.display_name, Some(Some("Bea".into())));
        assert_eq!(c.locked, Some(true));
        assert_eq!(c.attributes.get("inbound"), Some(&Value::Bool(false)));
        assert!(!c.attributes.contains_key("unrelated"));
        assert_eq!(a.assign_skills, vec![("Hindi".to_string(), 3)]);
        assert_eq!(a.assign_groups, vec!["Tier 1".to_string(), "Tier 2".to_string()]);
        let mut u = update();
        u.assign_skills = vec![OzonetelSkill { name: Some("x".into()), priority: Some(9) }];
        assert_eq!(rule_of(u.validate()).0, "assignSkills");
    }

    #[test]
    fn phone_requests_check_in_documented_order() {
        let r = OzonetelPhoneRequest { action: Some("edit".into()), phone_number: Some("12ab".into()), ..Default::default() };
        assert!(matches!(r.validate(), Err(Error::Invalid { field, .. }) if field == "phoneNumber"));
        let r = OzonetelPhoneRequest { action: Some("edit".into()), ..Default::default() };
        assert!(matches!(r.validate(), Err(Error::Invalid { field, rule: Rule::Required }) if field == "phoneName"));
        let r = OzonetelPhoneRequest { action: Some("edit".into()), phone_name: Some("d".into()), ..Default::default() };
        assert!(matches!(r.validate(), Err(Error::Invalid { field, rule: Rule::Required }) if field == "phoneNumber"));
        let r = OzonetelPhoneRequest { action: Some("move".into()), ..Default::default() };
        assert!(matches!(r.validate(), Err(Error::Invalid { field, .. }) if field == "action"));
        let r = OzonetelPhoneRequest {
            action: Some("edit".into()),
            phone_number: Some("123".into()),
            phone_name: Some("d".into()),
            ..Default::default()
        };
        assert!(matches!(r.validate(), Err(Error::Invalid { field, rule: Rule::Required }) if field == "phoneNumberNew"));
        let r = OzonetelPhoneRequest { phone_number_new: Some("12".into()), ..r };
        assert!(
            matches!(r.validate(), Err(Error::Invalid { field, rule: Rule::Format { expected: v::PHONE_LENGTH } }) if field == "phoneNumberNew")
        );
        let r = OzonetelPhoneRequest { action: Some("delete".into()), phone_number_new: None, ..r };
        assert!(r.validate().is_ok(), "only an edit names the new number");
    }

    #[test]
    fn skill_lists_keep_known_names() {
        let catalog = vec!["General".to_string(), "QA_Skill".to_string()];
        assert_eq!(known_skills(&Some("general,qa_skill".into()), &catalog), (vec!["General".into(), "QA_Skill".into()], false));
        assert_eq!(known_skills(&Some("General,Nope".into()), &catalog), (vec!["General".into()], true));
        assert_eq!(known_skills(&Some("".into()), &catalog), (vec![], true));
        assert_eq!(known_skills(&None, &catalog), (vec![], false));
    }
}
