//! Store-level tests on real SQLite files.

use std::sync::Arc;

use switchboard_domain::*;
use switchboard_store::{open, StoreOptions};
use tempfile::TempDir;

struct Fixture {
    _dir: TempDir,
    path: String,
    store: Arc<dyn Store>,
    tenant: Tenant,
    admin: User,
}

impl Fixture {
    fn ctx(&self) -> WriteCtx {
        self.ctx_at(1_000_000)
    }
    fn ctx_at(&self, now: Millis) -> WriteCtx {
        WriteCtx {
            tenant_id: self.tenant.id,
            actor: Actor { user_id: Some(self.admin.id), api_key_id: None, label: "user:admin".into() },
            now,
        }
    }
}

fn new_user(name: &str) -> NewUser {
    NewUser { username: name.into(), password_hash: "fake-hash".into(), role: Role::Sysadmin, powers: vec![Power::AdministerAgents] }
}

fn key(hash: &str) -> NewApiKey {
    NewApiKey { name: "initial".into(), scope: Default::default(), prefix: hash.chars().take(6).collect(), hash: hash.into() }
}

async fn tenant(store: &Arc<dyn Store>, name: &str, key_hash: &str) -> (Tenant, User) {
    let t = NewTenant { name: name.into(), client_id: None, settings: TenantSettings::default() };
    store.create_tenant(t, new_user("admin"), key(key_hash), Actor::cli(), 1000).await.unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db").to_str().unwrap().to_string();
    let store = open(&path, &StoreOptions::default()).await.unwrap();
    let (tenant, admin) = tenant(&store, "Acme", "hash-acme").await;
    Fixture { _dir: dir, path, store, tenant, admin }
}

fn agent(login: &str) -> AgentRecord {
    AgentRecord {
        login_id: login.into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        display_name: None,
        email: None,
        phone: String::new(),
        wrap_up_time: -1,
        home_agent: false,
        active: true,
        password_hash: None,
        skills: vec![],
        service_ids: vec![],
        groups: vec![],
        attributes: Default::default(),
        profile: Default::default(),
    }
}

fn all() -> PageRequest {
    PageRequest::first(1000)
}

async fn audit_count(f: &Fixture) -> usize {
    f.store.list_audit(f.tenant.id, None, None, all()).await.unwrap().items.len()
}

#[tokio::test]
async fn tenant_user_and_key_authentication() {
    let f = fixture().await;
    assert_eq!(f.tenant.client_id, f.tenant.id);
    assert_eq!(f.tenant.version, 1);
    assert_eq!(f.store.find_tenant_by_name("ACME").await.unwrap().id, f.tenant.id);
    assert_eq!(f.store.find_tenant_by_client_id(f.tenant.id).await.unwrap().id, f.tenant.id);

    let p = f.store.authenticate_api_key("hash-acme").await.unwrap().unwrap();
    assert_eq!(p.tenant_id, f.tenant.id);
    assert_eq!(p.user_id, f.admin.id);
    assert_eq!(p.role, Role::Sysadmin);
    assert_eq!(p.powers, vec![Power::AdministerAgents]);
    assert!(p.api_key_id.is_some());
    assert!(f.store.authenticate_api_key("nope").await.unwrap().is_none());

    // A second user with a key; find by name returns the hash.
    let u = f.store.create_user(&f.ctx(), new_user("Bob"), Some(key("hash-bob"))).await.unwrap();
    let (found, hash) = f.store.find_user_by_name(f.tenant.id, "bob").await.unwrap();
    assert_eq!(found.id, u.id);
    assert_eq!(hash, "fake-hash");
    let e = f.store.create_user(&f.ctx(), new_user("BOB"), None).await.unwrap_err();
    assert!(matches!(e, Error::Duplicate { entity: Entity::User, field: "username", .. }), "{e:?}");

    let keys = f.store.list_api_keys(f.tenant.id, Some(u.id), all()).await.unwrap();
    assert_eq!(keys.items.len(), 1);
    let kid = keys.items[0].id;
    assert_eq!(f.store.list_api_keys(f.tenant.id, None, all()).await.unwrap().items.len(), 2);

    // touch: first sets, a second within a minute does not move it.
    f.store.touch_api_key(kid, 5_000_000).await.unwrap();
    f.store.touch_api_key(kid, 5_030_000).await.unwrap();
    assert_eq!(f.store.get_api_key(f.tenant.id, kid).await.unwrap().last_used_at, Some(5_000_000));
    f.store.touch_api_key(kid, 5_070_000).await.unwrap();
    assert_eq!(f.store.get_api_key(f.tenant.id, kid).await.unwrap().last_used_at, Some(5_070_000));

    // Revoke: idempotent, and the key no longer authenticates.
    let r = f.store.revoke_api_key(&f.ctx_at(2_000_000), kid).await.unwrap();
    assert_eq!(r.revoked_at, Some(2_000_000));
    let r2 = f.store.revoke_api_key(&f.ctx_at(3_000_000), kid).await.unwrap();
    assert_eq!(r2.revoked_at, Some(2_000_000));
    assert!(f.store.authenticate_api_key("hash-bob").await.unwrap().is_none());

    // Update and delete a user (its keys go with it).
    let changed = f
        .store
        .update_user(
            &f.ctx(),
            u.id,
            UserChanges { role: Some(Role::Manager), powers: Some(vec![]), password_hash: Some("h2".into()) },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!((changed.role, changed.version, changed.powers.len()), (Role::Manager, 2, 0));
    assert_eq!(f.store.find_user_by_name(f.tenant.id, "bob").await.unwrap().1, "h2");
    f.store.delete_user(&f.ctx(), u.id, None).await.unwrap();
    assert!(matches!(f.store.get_user(f.tenant.id, u.id).await, Err(Error::NotFound { entity: Entity::User, .. })));
    assert_eq!(f.store.list_api_keys(f.tenant.id, None, all()).await.unwrap().items.len(), 1);

    // Tenant uniqueness: name (case-insensitive) and client id.
    let dup = NewTenant { name: "ACME".into(), client_id: None, settings: TenantSettings::default() };
    let e = f.store.create_tenant(dup, new_user("admin"), key("k3"), Actor::cli(), 1).await.unwrap_err();
    assert!(matches!(e, Error::Duplicate { entity: Entity::Tenant, field: "name", .. }), "{e:?}");
    let dup = NewTenant { name: "Other".into(), client_id: Some(f.tenant.client_id), settings: TenantSettings::default() };
    let e = f.store.create_tenant(dup, new_user("admin"), key("k4"), Actor::cli(), 1).await.unwrap_err();
    assert!(matches!(e, Error::Duplicate { entity: Entity::Tenant, field: "clientId", .. }), "{e:?}");
    assert_eq!(f.store.list_tenants().await.unwrap().len(), 1);
    f.store.ping().await.unwrap();
}

#[tokio::test]
async fn tenant_settings_update_with_version() {
    let f = fixture().await;
    let mut s = f.tenant.settings.clone();
    s.phone_number_limit = 7;
    let e = f.store.update_tenant_settings(&f.ctx(), s.clone(), Some(9)).await.unwrap_err();
    assert!(matches!(e, Error::VersionMismatch { entity: Entity::Tenant, current: 1, .. }), "{e:?}");
    let t = f.store.update_tenant_settings(&f.ctx(), s, Some(1)).await.unwrap();
    assert_eq!((t.settings.phone_number_limit, t.version), (7, 2));
    assert_eq!(f.store.get_tenant(f.tenant.id).await.unwrap().settings.phone_number_limit, 7);
}

struct Refs {
    skill: Id,
    skill2: Id,
    service: Id,
    non_acd: Id,
    group: Id,
    cc: Id,
}

async fn refs(f: &Fixture) -> Refs {
    let ctx = f.ctx();
    let s = |n: &str| SkillInput { name: Some(n.into()), description: Some(String::new()) };
    let skill = f.store.create_skill(&ctx, s("Sales")).await.unwrap().id;
    let skill2 = f.store.create_skill(&ctx, s("Support")).await.unwrap().id;
    let cc = f.store.create_named(&ctx, Entity::CallCenter, "Main".into()).await.unwrap().id;
    let service = f
        .store
        .create_service(&ctx, ServiceInput { name: Some("Inbound".into()), call_center_id: Some(cc), acd: Some(true) })
        .await
        .unwrap()
        .id;
    let non_acd = f
        .store
        .create_service(&ctx, ServiceInput { name: Some("Outbound".into()), call_center_id: Some(cc), acd: Some(false) })
        .await
        .unwrap()
        .id;
    let group = f.store.create_named(&ctx, Entity::Group, "Team A".into()).await.unwrap().id;
    Refs { skill, skill2, service, non_acd, group, cc }
}

#[tokio::test]
async fn agent_create_with_assignments_and_history() {
    let f = fixture().await;
    let r = refs(&f).await;
    let mut a = agent("A100");
    a.password_hash = Some("pw1".into());
    a.skills = vec![SkillAssignment { skill_id: r.skill2, proficiency: 3 }, SkillAssignment { skill_id: r.skill, proficiency: 5 }];
    a.service_ids = vec![r.service];
    a.groups = vec![GroupMembership { group_id: r.group, receive_call: true }];
    a.attributes.insert("mode".into(), serde_json::json!("blended"));
    let d = f.store.create_agent(&f.ctx(), a).await.unwrap();
    assert_eq!(d.agent.version, 1);
    assert!(d.agent.has_password);
    assert_eq!(d.agent.password_last_modified, Some(1_000_000));
    assert_eq!(d.skills.iter().map(|s| s.skill_id).collect::<Vec<_>>(), vec![r.skill, r.skill2]);
    assert_eq!(d.service_ids, vec![r.service]);
    assert_eq!(d.groups, vec![GroupMembership { group_id: r.group, receive_call: true }]);
    assert_eq!(d.agent.attributes["mode"], "blended");
    assert_eq!(f.store.get_agent(f.tenant.id, d.agent.id).await.unwrap(), d);
    assert_eq!(f.store.find_agent_by_login_id(f.tenant.id, "a100").await.unwrap().agent.id, d.agent.id);
    assert_eq!(f.store.agent_call_centers(f.tenant.id, d.agent.id).await.unwrap(), vec![r.cc]);
    assert_eq!(f.store.skill_assignments(f.tenant.id, r.skill).await.unwrap(), vec![(d.agent.id, 5)]);

    // Update with a password: history newest first, version bump, changes applied.
    let c = AgentChanges {
        last_name: Some("Byron".into()),
        email: Some(Some("ada@example.com".into())),
        password_hash: Some("pw2".into()),
        ..Default::default()
    };
    let u = f.store.update_agent(&f.ctx_at(2_000_000), d.agent.id, c, Some(1)).await.unwrap();
    assert_eq!(u.agent.last_name, "Byron");
    assert_eq!(u.agent.email.as_deref(), Some("ada@example.com"));
    assert_eq!(u.agent.version, 2);
    assert_eq!(u.agent.updated_at, 2_000_000);
    assert_eq!(u.agent.password_last_modified, Some(2_000_000));
    assert_eq!(u.skills, d.skills);
    assert_eq!(f.store.agent_password_hashes(f.tenant.id, d.agent.id, 4).await.unwrap(), vec!["pw2", "pw1"]);
    assert_eq!(f.store.agent_password_hashes(f.tenant.id, d.agent.id, 1).await.unwrap(), vec!["pw2"]);

    // Version mismatch.
    let e =
        f.store.update_agent(&f.ctx(), d.agent.id, AgentChanges { active: Some(false), ..Default::default() }, Some(1)).await.unwrap_err();
    assert!(matches!(e, Error::VersionMismatch { entity: Entity::Agent, current: 2, .. }), "{e:?}");

    // Assignments: each bumps the version and writes one audit event.
    let before = audit_count(&f).await;
    let d2 = f.store.assign_skill(&f.ctx(), d.agent.id, r.skill, 9).await.unwrap();
    assert_eq!((d2.agent.version, d2.skills[0].proficiency), (3, 9));
    let d3 = f.store.remove_service(&f.ctx(), d.agent.id, r.service).await.unwrap();
    assert!(d3.service_ids.is_empty());
    assert_eq!(d3.agent.version, 4);
    // Removing what is not assigned: no-op, no audit.
    let d4 = f.store.remove_service(&f.ctx(), d.agent.id, r.service).await.unwrap();
    assert_eq!(d4.agent.version, 4);
    assert_eq!(audit_count(&f).await, before + 2);
    let e = f.store.assign_service(&f.ctx(), d.agent.id, r.non_acd).await.unwrap_err();
    assert!(matches!(e, Error::Invalid { ref field, rule: Rule::NotAcdService } if field == "serviceId"), "{e:?}");
    let e = f.store.assign_skill(&f.ctx(), d.agent.id, 9999, 1).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { entity: Entity::Skill, .. }), "{e:?}");
    let e = f.store.assign_skill(&f.ctx(), 9999, r.skill, 1).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { entity: Entity::Agent, .. }), "{e:?}");
    let e = f.store.remove_group_membership(&f.ctx(), d.agent.id, 9999).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { entity: Entity::Group, .. }), "{e:?}");
    let d5 =
        f.store.set_group_memberships(&f.ctx(), d.agent.id, &[GroupMembership { group_id: r.group, receive_call: false }]).await.unwrap();
    assert_eq!(d5.groups, vec![GroupMembership { group_id: r.group, receive_call: false }]);
    let e = f
        .store
        .set_group_memberships(
            &f.ctx(),
            d.agent.id,
            &[GroupMembership { group_id: r.group, receive_call: true }, GroupMembership { group_id: 777, receive_call: true }],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Invalid { ref field, rule: Rule::UnknownReference { entity: Entity::Group, .. } } if field == "groups"));
    // All or nothing: the first membership was not changed.
    assert!(!f.store.get_agent(f.tenant.id, d.agent.id).await.unwrap().groups[0].receive_call);
}

#[tokio::test]
async fn duplicate_login_id_is_case_insensitive() {
    let f = fixture().await;
    f.store.create_agent(&f.ctx(), agent("abc")).await.unwrap();
    let e = f.store.create_agent(&f.ctx(), agent("ABC")).await.unwrap_err();
    match e {
        Error::Duplicate { entity, field, value } => {
            assert_eq!((entity, field, value.as_str()), (Entity::Agent, "loginId", "ABC"));
        }
        other => panic!("{other:?}"),
    }
    // Renaming onto another agent's login id, too.
    let b = f.store.create_agent(&f.ctx(), agent("other")).await.unwrap();
    let e = f
        .store
        .update_agent(&f.ctx(), b.agent.id, AgentChanges { login_id: Some("Abc".into()), ..Default::default() }, None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Duplicate { field: "loginId", .. }), "{e:?}");
}

#[tokio::test]
async fn unknown_references_write_nothing() {
    let f = fixture().await;
    let r = refs(&f).await;
    let audits = audit_count(&f).await;
    let cases: Vec<(AgentRecord, &str)> = vec![
        (
            {
                let mut a = agent("x1");
                a.skills =
                    vec![SkillAssignment { skill_id: r.skill, proficiency: 1 }, SkillAssignment { skill_id: 424242, proficiency: 1 }];
                a
            },
            "skills",
        ),
        (
            {
                let mut a = agent("x2");
                a.service_ids = vec![424242];
                a
            },
            "serviceIds",
        ),
        (
            {
                let mut a = agent("x3");
                a.groups = vec![GroupMembership { group_id: 424242, receive_call: true }];
                a
            },
            "groups",
        ),
    ];
    for (a, want) in cases {
        let e = f.store.create_agent(&f.ctx(), a).await.unwrap_err();
        assert!(matches!(&e, Error::Invalid { field, rule: Rule::UnknownReference { .. } } if field == want), "{e:?}");
    }
    let mut a = agent("x4");
    a.service_ids = vec![r.non_acd];
    let e = f.store.create_agent(&f.ctx(), a).await.unwrap_err();
    assert!(matches!(&e, Error::Invalid { field, rule: Rule::NotAcdService } if field == "serviceIds"), "{e:?}");
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap().size, 0);
    assert_eq!(f.store.skill_assignments(f.tenant.id, r.skill).await.unwrap(), vec![]);
    assert_eq!(audit_count(&f).await, audits);
}

#[tokio::test]
async fn list_filters_and_keyset_paging() {
    let f = fixture().await;
    let r = refs(&f).await;
    for i in 0..250 {
        let mut a = agent(&format!("AG{i:03}"));
        a.last_name = if i % 2 == 0 { "Smith".into() } else { "Jones_%".into() };
        a.phone = format!("555{i:04}");
        a.active = i % 5 != 0;
        if i % 10 == 0 {
            a.skills = vec![SkillAssignment { skill_id: r.skill, proficiency: 1 }];
            a.groups = vec![GroupMembership { group_id: r.group, receive_call: true }];
        }
        if i % 25 == 0 {
            a.service_ids = vec![r.service];
        }
        f.store.create_agent(&f.ctx(), a).await.unwrap();
    }
    // Keyset paging: no gaps, no duplicates.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let p = f.store.list_agents(f.tenant.id, &AgentFilter::default(), PageRequest { after, offset: 0, limit: 40 }).await.unwrap();
        seen.extend(p.items.iter().map(|a| a.id));
        if !p.has_more {
            break;
        }
        after = p.last_id(|a| a.id).unwrap();
    }
    assert_eq!(seen.len(), 250);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    // Offset paging.
    let p = f.store.list_agents(f.tenant.id, &AgentFilter::default(), PageRequest { after: 0, offset: 240, limit: 20 }).await.unwrap();
    assert_eq!((p.items.len(), p.has_more), (10, false));

    let count = |flt: AgentFilter| {
        let store = f.store.clone();
        let t = f.tenant.id;
        async move { store.list_agents(t, &flt, PageRequest::first(1000)).await.unwrap().items.len() }
    };
    assert_eq!(count(AgentFilter { q: Some("ag00".into()), ..Default::default() }).await, 10);
    assert_eq!(count(AgentFilter { q: Some("SMITH".into()), ..Default::default() }).await, 125);
    // Wildcards in user text are literal.
    assert_eq!(count(AgentFilter { last_name_contains: Some("s_%".into()), ..Default::default() }).await, 125);
    assert_eq!(count(AgentFilter { last_name_contains: Some("%".into()), ..Default::default() }).await, 125);
    assert_eq!(count(AgentFilter { login_id_contains: Some("_".into()), ..Default::default() }).await, 0);
    assert_eq!(count(AgentFilter { phone_contains: Some("555001".into()), ..Default::default() }).await, 10);
    assert_eq!(count(AgentFilter { active: Some(false), ..Default::default() }).await, 50);
    assert_eq!(count(AgentFilter { skill_id: Some(r.skill), ..Default::default() }).await, 25);
    assert_eq!(count(AgentFilter { group_id: Some(r.group), active: Some(true), ..Default::default() }).await, 0);
    assert_eq!(count(AgentFilter { service_id: Some(r.service), ..Default::default() }).await, 10);
    assert_eq!(count(AgentFilter { skill_id: Some(r.skill), last_name_contains: Some("smi".into()), ..Default::default() }).await, 25);
}

#[tokio::test]
async fn deletes_cascade_and_in_use() {
    let f = fixture().await;
    let r = refs(&f).await;
    let mut a = agent("A1");
    a.skills = vec![SkillAssignment { skill_id: r.skill, proficiency: 2 }];
    a.service_ids = vec![r.service];
    a.groups = vec![GroupMembership { group_id: r.group, receive_call: true }];
    a.password_hash = Some("pw".into());
    let d = f.store.create_agent(&f.ctx(), a).await.unwrap();

    // Call center with services is in use.
    let e = f.store.delete_named(&f.ctx(), Entity::CallCenter, r.cc, None).await.unwrap_err();
    assert!(matches!(e, Error::InUse { entity: Entity::CallCenter, by: Entity::Service, .. }), "{e:?}");
    // Switching an assigned service to non-ACD is refused.
    let e = f.store.update_service(&f.ctx(), r.service, ServiceInput { acd: Some(false), ..Default::default() }, None).await.unwrap_err();
    assert!(matches!(e, Error::InUse { entity: Entity::Service, by: Entity::Agent, .. }), "{e:?}");

    // Deleting the skill, group and service removes the assignments.
    f.store.delete_skill(&f.ctx(), r.skill, Some(1)).await.unwrap();
    f.store.delete_named(&f.ctx(), Entity::Group, r.group, None).await.unwrap();
    f.store.delete_service(&f.ctx(), r.service, None).await.unwrap();
    let now = f.store.get_agent(f.tenant.id, d.agent.id).await.unwrap();
    assert!(now.skills.is_empty() && now.groups.is_empty() && now.service_ids.is_empty());
    assert!(now.agent.version > d.agent.version);
    f.store.delete_service(&f.ctx(), r.non_acd, None).await.unwrap();
    f.store.delete_named(&f.ctx(), Entity::CallCenter, r.cc, None).await.unwrap();
    assert!(matches!(
        f.store.get_named(f.tenant.id, Entity::CallCenter, r.cc).await,
        Err(Error::NotFound { entity: Entity::CallCenter, .. })
    ));

    // Agent delete with version check.
    let e = f.store.delete_agent(&f.ctx(), d.agent.id, Some(1)).await.unwrap_err();
    assert!(matches!(e, Error::VersionMismatch { .. }), "{e:?}");
    f.store.delete_agent(&f.ctx(), d.agent.id, None).await.unwrap();
    assert!(matches!(f.store.get_agent(f.tenant.id, d.agent.id).await, Err(Error::NotFound { entity: Entity::Agent, .. })));
    assert!(matches!(f.store.agent_password_hashes(f.tenant.id, d.agent.id, 4).await, Err(Error::NotFound { .. })));

    // DIDs used by campaigns are in use; campaign lists follow renumbering.
    let d1 = f.store.create_did(&f.ctx(), "15550001".into()).await.unwrap();
    let d2 = f.store.create_did(&f.ctx(), "15550002".into()).await.unwrap();
    let e = f.store.create_did(&f.ctx(), "15550001".into()).await.unwrap_err();
    assert!(matches!(e, Error::Duplicate { entity: Entity::Did, field: "number", .. }), "{e:?}");
    let e = f
        .store
        .create_campaign(
            &f.ctx(),
            CampaignInput { name: Some("C".into()), dynamic_dids: Some(vec!["19999999".into()]), fallback_dids: Some(vec![]) },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, rule: Rule::UnknownReference { entity: Entity::Did, .. } } if field == "dynamicDids"),
        "{e:?}"
    );
    let c = f
        .store
        .create_campaign(
            &f.ctx(),
            CampaignInput {
                name: Some("C".into()),
                dynamic_dids: Some(vec!["15550002".into(), "15550001".into()]),
                fallback_dids: Some(vec!["15550001".into()]),
            },
        )
        .await
        .unwrap();
    assert_eq!(c.dynamic_dids, vec!["15550002", "15550001"]);
    assert_eq!(c.fallback_dids, vec!["15550001"]);
    let e = f.store.delete_did(&f.ctx(), d1.id, None).await.unwrap_err();
    assert!(matches!(e, Error::InUse { entity: Entity::Did, by: Entity::Campaign, .. }), "{e:?}");
    f.store.update_did(&f.ctx(), d2.id, "15550003".into(), Some(1)).await.unwrap();
    let c = f.store.get_campaign(f.tenant.id, c.id).await.unwrap();
    assert_eq!(c.dynamic_dids, vec!["15550003", "15550001"]);
    let c = f
        .store
        .update_campaign(&f.ctx(), c.id, CampaignInput { name: None, dynamic_dids: Some(vec![]), fallback_dids: None }, Some(1))
        .await
        .unwrap();
    assert!(c.dynamic_dids.is_empty());
    assert_eq!(c.fallback_dids, vec!["15550001"]);
    f.store.delete_did(&f.ctx(), d2.id, None).await.unwrap();
    f.store.delete_campaign(&f.ctx(), c.id, None).await.unwrap();
    f.store.delete_did(&f.ctx(), d1.id, None).await.unwrap();
    assert!(f.store.list_campaigns(f.tenant.id, all()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn phones_limit_skills_and_duplicates() {
    let f = fixture().await;
    let r = refs(&f).await;
    let ph = |name: &str, number: &str, skills: Vec<&str>| PhoneInput {
        number: Some(number.into()),
        name: Some(name.into()),
        skills: Some(skills.into_iter().map(String::from).collect()),
    };
    let p = f.store.create_phone(&f.ctx(), ph("Desk 1", "100", vec!["support", "SALES"]), 2).await.unwrap();
    assert_eq!(p.skills, vec!["Support", "Sales"]);
    let e = f.store.create_phone(&f.ctx(), ph("Desk 2", "101", vec!["nope"]), 2).await.unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, rule: Rule::UnknownReference { entity: Entity::Skill, id } } if field == "skills" && id == "nope"),
        "{e:?}"
    );
    let e = f.store.create_phone(&f.ctx(), ph("desk 1", "102", vec![]), 2).await.unwrap_err();
    assert!(matches!(e, Error::Duplicate { entity: Entity::Phone, field: "name", .. }), "{e:?}");
    let e = f.store.create_phone(&f.ctx(), ph("Desk 3", "100", vec![]), 2).await.unwrap_err();
    assert!(matches!(e, Error::Duplicate { entity: Entity::Phone, field: "number", .. }), "{e:?}");
    f.store.create_phone(&f.ctx(), ph("Desk 2", "101", vec![]), 2).await.unwrap();
    let e = f.store.create_phone(&f.ctx(), ph("Desk 4", "104", vec![]), 2).await.unwrap_err();
    assert!(matches!(e, Error::LimitExceeded { what: "phone number", limit: 2 }), "{e:?}");

    // A skill rename shows in the phone; an update replaces the list.
    f.store.update_skill(&f.ctx(), r.skill2, SkillInput { name: Some("Helpdesk".into()), description: None }, None).await.unwrap();
    assert_eq!(f.store.get_phone(f.tenant.id, p.id).await.unwrap().skills, vec!["Helpdesk", "Sales"]);
    let u = f
        .store
        .update_phone(
            &f.ctx(),
            p.id,
            PhoneInput { number: None, name: Some("Desk One".into()), skills: Some(vec!["sales".into()]) },
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!((u.name.as_str(), u.skills.clone(), u.version), ("Desk One", vec!["Sales".to_string()], 2));
    // Deleting a skill unlinks it from phones.
    f.store.delete_skill(&f.ctx(), r.skill, None).await.unwrap();
    assert!(f.store.get_phone(f.tenant.id, p.id).await.unwrap().skills.is_empty());
    assert!(f.store.list_phones(f.tenant.id, PageRequest::first(1)).await.unwrap().has_more);
    f.store.delete_phone(&f.ctx(), p.id, None).await.unwrap();
    assert_eq!(f.store.list_phones(f.tenant.id, all()).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn idempotency_claim_complete_release() {
    let f = fixture().await;
    let t = f.tenant.id;
    assert_eq!(f.store.claim_idempotency_key(t, "k1", "fp", 1000).await.unwrap(), None);
    let inflight = f.store.claim_idempotency_key(t, "k1", "fp", 1001).await.unwrap().unwrap();
    assert_eq!((inflight.fingerprint.as_str(), inflight.status), ("fp", None));
    let resp = IdempotentResponse {
        fingerprint: "fp".into(),
        status: Some(201),
        body: b"{\"id\":1}".to_vec(),
        headers: vec![("location".into(), "/agents/1".into())],
    };
    f.store.complete_idempotency_key(t, "k1", &resp).await.unwrap();
    assert_eq!(f.store.claim_idempotency_key(t, "k1", "other", 1002).await.unwrap(), Some(resp));
    // Another tenant's key space is separate.
    let (t2, _) = tenant(&f.store, "Globex", "hash-globex").await;
    assert_eq!(f.store.claim_idempotency_key(t2.id, "k1", "fp", 1003).await.unwrap(), None);
    // Release forgets the claim.
    f.store.claim_idempotency_key(t, "k2", "fp", 1004).await.unwrap();
    f.store.release_idempotency_key(t, "k2").await.unwrap();
    assert_eq!(f.store.claim_idempotency_key(t, "k2", "fp", 1005).await.unwrap(), None);
    // Expiry after 24 h.
    let day = 24 * 60 * 60 * 1000;
    assert_eq!(f.store.claim_idempotency_key(t, "k1", "fp", 1000 + day + 1).await.unwrap(), None);
}

#[tokio::test]
async fn audit_rows_per_write() {
    let f = fixture().await;
    // create_tenant: tenant, admin user, API key.
    let events = f.store.list_audit(f.tenant.id, None, None, all()).await.unwrap().items;
    assert_eq!(events.len(), 3);
    assert_eq!(events.iter().map(|e| e.entity).collect::<Vec<_>>(), vec![Entity::ApiKey, Entity::User, Entity::Tenant]);
    assert_eq!(events[2].actor, "cli");

    let s = f.store.create_skill(&f.ctx(), SkillInput { name: Some("S".into()), description: Some("d".into()) }).await.unwrap();
    f.store.update_skill(&f.ctx(), s.id, SkillInput { name: None, description: Some("e".into()) }, None).await.unwrap();
    f.store.delete_skill(&f.ctx(), s.id, None).await.unwrap();
    let ev = f.store.list_audit(f.tenant.id, Some(Entity::Skill), Some(s.id), all()).await.unwrap().items;
    assert_eq!(ev.iter().map(|e| e.action).collect::<Vec<_>>(), vec![AuditAction::Delete, AuditAction::Update, AuditAction::Create]);
    assert_eq!(ev[1].before.as_ref().unwrap()["description"], "d");
    assert_eq!(ev[1].after.as_ref().unwrap()["description"], "e");
    assert!(ev[0].after.is_none() && ev[2].before.is_none());
    assert_eq!(ev[0].actor_user_id, Some(f.admin.id));
    assert_eq!(ev[0].actor, "user:admin");

    // Backwards keyset paging over the audit trail.
    let p1 = f.store.list_audit(f.tenant.id, None, None, PageRequest::first(4)).await.unwrap();
    assert!(p1.has_more);
    let last = p1.last_id(|e| e.id).unwrap();
    let p2 = f.store.list_audit(f.tenant.id, None, None, PageRequest { after: last, offset: 0, limit: 4 }).await.unwrap();
    assert_eq!(p1.items.len() + p2.items.len(), 6);
    assert!(!p2.has_more);
    assert!(p2.items.iter().all(|e| e.id < last));
    // Audit events never contain secrets.
    let a = f
        .store
        .create_agent(&f.ctx(), {
            let mut a = agent("sec");
            a.password_hash = Some("SECRET-HASH".into());
            a
        })
        .await
        .unwrap();
    let ev = f.store.list_audit(f.tenant.id, Some(Entity::Agent), Some(a.agent.id), all()).await.unwrap().items;
    assert!(!serde_json::to_string(&ev[0].after).unwrap().contains("SECRET-HASH"));
}

#[tokio::test]
async fn list_info_moves_on_every_change() {
    let f = fixture().await;
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap(), ListInfo { size: 0, last_modified: None });
    let a = f.store.create_agent(&f.ctx_at(10), agent("a")).await.unwrap();
    f.store.create_agent(&f.ctx_at(20), agent("b")).await.unwrap();
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap(), ListInfo { size: 2, last_modified: Some(20) });
    f.store.delete_agent(&f.ctx_at(30), a.agent.id, None).await.unwrap();
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap(), ListInfo { size: 1, last_modified: Some(30) });
    // The mark is spread over rows by the changed agent's id: the latest
    // change of any agent counts, and a change stamped earlier (another
    // process's clock) does not move it back.
    let mut ids = vec![];
    for (i, at) in [(0, 60), (1, 45), (2, 55), (3, 40)] {
        ids.push(f.store.create_agent(&f.ctx_at(at), agent(&format!("s{i}"))).await.unwrap().agent.id);
    }
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap(), ListInfo { size: 5, last_modified: Some(60) });
    let changes = AgentChanges { first_name: Some("Later".into()), ..Default::default() };
    f.store.update_agent(&f.ctx_at(70), ids[3], changes, None).await.unwrap();
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap().last_modified, Some(70));
    assert_eq!(f.store.skill_list_info(f.tenant.id).await.unwrap().last_modified, None);
    let s = f.store.create_skill(&f.ctx_at(40), SkillInput { name: Some("x".into()), description: Some(String::new()) }).await.unwrap();
    f.store.delete_skill(&f.ctx_at(50), s.id, None).await.unwrap();
    assert_eq!(f.store.skill_list_info(f.tenant.id).await.unwrap(), ListInfo { size: 0, last_modified: Some(50) });
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap().last_modified, Some(70), "lists are marked apart");
}

#[tokio::test]
async fn login_bookkeeping_and_lockout() {
    let f = fixture().await;
    let a = f.store.create_agent(&f.ctx(), agent("l1")).await.unwrap().agent;
    let ok = f.store.record_agent_login(f.tenant.id, a.id, true, Some("10.0.0.1"), 3, 5000).await.unwrap();
    assert_eq!((ok.last_login, ok.last_login_ip.as_deref(), ok.failed_logins), (Some(5000), Some("10.0.0.1"), 0));
    let audits = audit_count(&f).await;
    for i in 1..=3 {
        let x = f.store.record_agent_login(f.tenant.id, a.id, false, None, 3, 6000 + i).await.unwrap();
        assert_eq!(x.failed_logins, i);
        assert_eq!(x.locked, i >= 3);
    }
    assert_eq!(audit_count(&f).await, audits + 1, "only the lock is audited");
    let locked = f.store.record_agent_login(f.tenant.id, a.id, true, Some("10.0.0.2"), 3, 7000).await.unwrap();
    assert!(locked.locked);
    assert_eq!((locked.failed_logins, locked.last_login), (3, Some(5000)));
    let unlocked = f.store.update_agent(&f.ctx(), a.id, AgentChanges { locked: Some(false), ..Default::default() }, None).await.unwrap();
    assert!(!unlocked.agent.locked);
    assert_eq!(unlocked.agent.failed_logins, 0);
}

#[tokio::test]
async fn tenants_are_isolated() {
    let f = fixture().await;
    let (t2, u2) = tenant(&f.store, "Globex", "hash-globex").await;
    let ctx2 = WriteCtx { tenant_id: t2.id, actor: Actor { user_id: Some(u2.id), api_key_id: None, label: "user:admin".into() }, now: 5 };
    let a = f.store.create_agent(&f.ctx(), agent("same")).await.unwrap();
    // The same login id may exist in another tenant.
    let b = f.store.create_agent(&ctx2, agent("same")).await.unwrap();
    assert!(matches!(f.store.get_agent(t2.id, a.agent.id).await, Err(Error::NotFound { entity: Entity::Agent, .. })));
    assert!(matches!(
        f.store.update_agent(&ctx2, a.agent.id, AgentChanges { active: Some(false), ..Default::default() }, None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(f.store.delete_agent(&ctx2, a.agent.id, None).await, Err(Error::NotFound { .. })));
    assert_eq!(f.store.list_agents(t2.id, &AgentFilter::default(), all()).await.unwrap().items.len(), 1);
    assert_eq!(f.store.get_agent(t2.id, b.agent.id).await.unwrap().agent.tenant_id, t2.id);
    let s = f.store.create_skill(&f.ctx(), SkillInput { name: Some("S".into()), description: Some(String::new()) }).await.unwrap();
    // Another tenant's skill is an unknown reference.
    let mut c = agent("c");
    c.skills = vec![SkillAssignment { skill_id: s.id, proficiency: 1 }];
    assert!(matches!(f.store.create_agent(&ctx2, c).await, Err(Error::Invalid { .. })));
    assert!(matches!(f.store.get_user(t2.id, f.admin.id).await, Err(Error::NotFound { .. })));
    assert_eq!(f.store.list_audit(t2.id, Some(Entity::Agent), None, all()).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn reopening_keeps_data() {
    let f = fixture().await;
    let a = f.store.create_agent(&f.ctx(), agent("keep")).await.unwrap();
    let path = f.path.clone();
    // A second store on the same file (like the CLI next to a server) sees and writes the same data.
    let url = format!("sqlite://{path}");
    let other = open(&url, &StoreOptions { max_readers: 2, synchronous_full: true, ..Default::default() }).await.unwrap();
    assert_eq!(other.get_agent(f.tenant.id, a.agent.id).await.unwrap(), a);
    other.create_agent(&f.ctx(), agent("from-cli")).await.unwrap();
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap().size, 2);
    drop(other);
    let Fixture { _dir, store, tenant, .. } = f;
    drop(store);
    let again = open(&path, &StoreOptions::default()).await.unwrap();
    assert_eq!(again.get_tenant(tenant.id).await.unwrap(), tenant);
    assert_eq!(again.find_agent_by_login_id(tenant.id, "KEEP").await.unwrap(), a);
    assert!(again.authenticate_api_key("hash-acme").await.unwrap().is_some());
}

fn page_size(path: &str) -> i64 {
    rusqlite::Connection::open(path).unwrap().query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap()
}

/// A file the store creates gets 1 KiB pages; a file made elsewhere keeps its
/// own page size and works the same.
#[tokio::test]
async fn new_files_get_small_pages_existing_ones_keep_theirs() {
    let f = fixture().await;
    f.store.create_agent(&f.ctx(), agent("small")).await.unwrap();
    assert_eq!(page_size(&f.path), 1024);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("made-elsewhere.db").to_str().unwrap().to_string();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA page_size = 4096; CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
        .unwrap();
    let store = open(&path, &StoreOptions::default()).await.unwrap();
    let (t, admin) = tenant(&store, "Elsewhere", "hash-elsewhere").await;
    let ctx =
        WriteCtx { tenant_id: t.id, actor: Actor { user_id: Some(admin.id), api_key_id: None, label: "user:admin".into() }, now: 2000 };
    for i in 0..300 {
        store.create_agent(&ctx, agent(&format!("big{i}"))).await.unwrap();
    }
    drop(store);
    assert_eq!(page_size(&path), 4096);
    let again = open(&path, &StoreOptions::default()).await.unwrap();
    assert_eq!(again.agent_list_info(t.id).await.unwrap().size, 300);
    assert_eq!(switchboard_store::integrity_check(&path, &StoreOptions::default()).await.unwrap(), "ok");
}

#[tokio::test]
async fn named_objects_and_services() {
    let f = fixture().await;
    let cc = f.store.create_named(&f.ctx(), Entity::CallCenter, "East".into()).await.unwrap();
    let e = f.store.create_named(&f.ctx(), Entity::CallCenter, "EAST".into()).await.unwrap_err();
    assert!(matches!(e, Error::Duplicate { entity: Entity::CallCenter, field: "name", .. }), "{e:?}");
    // Groups are a separate namespace.
    f.store.create_named(&f.ctx(), Entity::Group, "East".into()).await.unwrap();
    let r = f.store.rename_named(&f.ctx(), Entity::CallCenter, cc.id, "West".into(), Some(1)).await.unwrap();
    assert_eq!((r.name.as_str(), r.version), ("West", 2));
    let e = f.store.rename_named(&f.ctx(), Entity::CallCenter, cc.id, "X".into(), Some(1)).await.unwrap_err();
    assert!(matches!(e, Error::VersionMismatch { current: 2, .. }), "{e:?}");
    assert_eq!(f.store.list_named(f.tenant.id, Entity::Group, all()).await.unwrap().items.len(), 1);

    let e =
        f.store.create_service(&f.ctx(), ServiceInput { name: Some("S".into()), call_center_id: Some(999), acd: None }).await.unwrap_err();
    assert!(matches!(&e, Error::Invalid { field, .. } if field == "callCenterId"), "{e:?}");
    let s =
        f.store.create_service(&f.ctx(), ServiceInput { name: Some("S".into()), call_center_id: Some(cc.id), acd: None }).await.unwrap();
    assert!(s.acd);
    let cc2 = f.store.create_named(&f.ctx(), Entity::CallCenter, "North".into()).await.unwrap();
    f.store.create_service(&f.ctx(), ServiceInput { name: Some("T".into()), call_center_id: Some(cc2.id), acd: None }).await.unwrap();
    assert_eq!(f.store.list_services(f.tenant.id, Some(cc.id), all()).await.unwrap().items, vec![s.clone()]);
    assert_eq!(f.store.list_services(f.tenant.id, None, all()).await.unwrap().items.len(), 2);
    let u = f.store.update_service(&f.ctx(), s.id, ServiceInput { acd: Some(false), ..Default::default() }, Some(1)).await.unwrap();
    assert!(!u.acd);
    let e = f.store.update_service(&f.ctx(), s.id, ServiceInput { name: Some("t".into()), ..Default::default() }, None).await.unwrap_err();
    assert!(matches!(e, Error::Duplicate { entity: Entity::Service, .. }), "{e:?}");
}

#[tokio::test]
async fn in_memory_database_works() {
    let store = open("sqlite::memory:", &StoreOptions::default()).await.unwrap();
    let (t, _) = tenant(&store, "Mem", "hash-mem").await;
    assert_eq!(store.get_tenant(t.id).await.unwrap(), t);
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_one_file() {
    // Two stores on one file (server + CLI) writing at once: BEGIN IMMEDIATE
    // makes them wait for each other instead of failing.
    let f = fixture().await;
    let other = open(&f.path, &StoreOptions::default()).await.unwrap();
    let mut tasks = Vec::new();
    for (n, store) in [f.store.clone(), other].into_iter().enumerate() {
        let ctx = f.ctx();
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                store.create_agent(&ctx, agent(&format!("w{n}-{i}"))).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(f.store.agent_list_info(f.tenant.id).await.unwrap().size, 80);
}

/// Writes from many tasks at once share transactions on the SQLite writer
/// (group commit): each is still all-or-nothing on its own. Those that fail
/// leave nothing, those that succeed are all there, each with its audit
/// event and one version step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_fail_alone() {
    let f = Arc::new(fixture().await);
    let r = refs(&f).await;
    let mut agents = Vec::new();
    for i in 0..20 {
        agents.push(f.store.create_agent(&f.ctx(), agent(&format!("agent{i}"))).await.unwrap().agent.id);
    }
    let audits_before = audit_count(&f).await;
    let mut tasks = Vec::new();
    for i in 0..300usize {
        let (f, a) = (f.clone(), agents[i % agents.len()]);
        let (skill, group) = (r.skill, r.group);
        tasks.push(tokio::spawn(async move {
            let ctx = f.ctx();
            let out = match i % 3 {
                // Fails: unknown skill.
                0 => f.store.assign_skill(&ctx, a, 999_999, 3).await,
                // Fails at its UPDATE: another agent's login id.
                1 => {
                    let c = AgentChanges { login_id: Some(format!("AGENT{}", (i + 1) % 20)), ..Default::default() };
                    f.store.update_agent(&ctx, a, c, None).await
                }
                // Succeeds: a new proficiency, or a group's receive flag flipped.
                _ if i % 2 == 0 => f.store.assign_skill(&ctx, a, skill, 1 + (i as i64 / 3) % 10).await,
                _ => f.store.set_group_memberships(&ctx, a, &[GroupMembership { group_id: group, receive_call: (i / 3) % 2 == 0 }]).await,
            };
            (i, a, out)
        }));
    }
    for t in tasks {
        let (i, a, out) = t.await.unwrap();
        match (i % 3, out) {
            (0, Err(Error::NotFound { entity: Entity::Skill, .. })) => {}
            (1, Err(Error::Duplicate { field: "loginId", .. })) => {}
            (2, Ok(d)) => assert_eq!(d.agent.id, a),
            (k, other) => panic!("write {i} (kind {k}): {other:?}"),
        }
    }
    // Every agent's version counts exactly its audited changes.
    let audits = f.store.list_audit(f.tenant.id, Some(Entity::Agent), None, PageRequest::first(10_000)).await.unwrap().items;
    for a in &agents {
        let d = f.store.get_agent(f.tenant.id, *a).await.unwrap();
        let updates = audits.iter().filter(|e| e.entity_id == *a && e.action == AuditAction::Update).count() as i64;
        assert_eq!(d.agent.version, 1 + updates, "agent {a}");
        assert!(d.agent.login_id.starts_with("agent"), "a failed rename left {}", d.agent.login_id);
    }
    assert!(audit_count(&f).await > audits_before);
    let report = switchboard_store::integrity_check(&f.path, &StoreOptions::default()).await.unwrap();
    assert_eq!(report, "ok");
}

/// One scenario of agent writes (the ones SQLite runs on its rusqlite fast
/// path: update, skill assign/remove, group mappings; with a creation,
/// failures and no-ops around them), at fixed times; what each returned.
async fn agent_write_scenario(f: &Fixture) -> Vec<String> {
    let r = refs(f).await;
    let mut out = Vec::new();
    let mut log = |what: &str, res: Result<AgentDetail>| {
        out.push(match res {
            Ok(d) => format!("{what}: v{} {:?} {:?} {:?}", d.agent.version, d.skills, d.service_ids, d.groups),
            Err(e) => format!("{what}: {} {e}", e.code()),
        })
    };
    let mut a = agent("FAST1");
    a.password_hash = Some("pw1".into());
    a.skills = vec![SkillAssignment { skill_id: r.skill, proficiency: 2 }];
    a.service_ids = vec![r.service];
    let id = f.store.create_agent(&f.ctx_at(10), a).await.unwrap().agent.id;
    let other = f.store.create_agent(&f.ctx_at(11), agent("FAST2")).await.unwrap().agent.id;
    let group2 = f.store.create_named(&f.ctx_at(12), Entity::Group, "Team B".into()).await.unwrap().id;
    let changes = |c: AgentChanges| c;
    log(
        "update",
        f.store
            .update_agent(
                &f.ctx_at(20),
                id,
                changes(AgentChanges { last_name: Some("Renamed".into()), password_hash: Some("pw2".into()), ..Default::default() }),
                Some(1),
            )
            .await,
    );
    log(
        "stale update",
        f.store
            .update_agent(&f.ctx_at(21), id, changes(AgentChanges { first_name: Some("X".into()), ..Default::default() }), Some(1))
            .await,
    );
    log(
        "update attrs",
        f.store
            .update_agent(
                &f.ctx_at(22),
                id,
                changes(AgentChanges {
                    attributes: [("k".to_string(), serde_json::json!(1))].into_iter().collect(),
                    locked: Some(true),
                    ..Default::default()
                }),
                None,
            )
            .await,
    );
    log(
        "duplicate login",
        f.store
            .update_agent(&f.ctx_at(23), other, changes(AgentChanges { login_id: Some("FAST1".into()), ..Default::default() }), None)
            .await,
    );
    log("assign", f.store.assign_skill(&f.ctx_at(30), id, r.skill2, 4).await);
    log("assign again", f.store.assign_skill(&f.ctx_at(31), id, r.skill2, 4).await);
    log("raise", f.store.assign_skill(&f.ctx_at(32), id, r.skill2, 5).await);
    log("assign unknown", f.store.assign_skill(&f.ctx_at(33), id, 9999, 1).await);
    log("remove", f.store.remove_skill(&f.ctx_at(34), id, r.skill).await);
    log("remove absent", f.store.remove_skill(&f.ctx_at(35), id, r.skill).await);
    let g = |group_id, receive_call| GroupMembership { group_id, receive_call };
    log("map", f.store.set_group_memberships(&f.ctx_at(40), id, &[g(r.group, true), g(group2, false)]).await);
    log("map same", f.store.set_group_memberships(&f.ctx_at(41), id, &[g(group2, false)]).await);
    log("map change", f.store.set_group_memberships(&f.ctx_at(42), id, &[g(group2, true), g(r.group, true)]).await);
    log("map unknown", f.store.set_group_memberships(&f.ctx_at(43), id, &[g(r.group, false), g(9998, true), g(9997, true)]).await);
    log(
        "missing agent",
        f.store.update_agent(&f.ctx_at(44), 9996, AgentChanges { last_name: Some("Z".into()), ..Default::default() }, None).await,
    );
    log("other tenant's", {
        let (t2, _) = tenant(&f.store, "Other", "hash-other").await;
        let ctx = WriteCtx { tenant_id: t2.id, ..f.ctx_at(45) };
        f.store.assign_skill(&ctx, id, r.skill, 1).await
    });
    out
}

/// Every row of the tables agent writes touch, as text, in key order.
fn dump(path: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut out = Vec::new();
    for (table, order) in [
        ("agents", "id"),
        ("agent_skills", "agent_id, skill_id"),
        ("agent_services", "agent_id, service_id"),
        ("agent_groups", "agent_id, group_id"),
        ("agent_password_history", "id"),
        ("audit_events", "id"),
        ("event_seqs", "tenant_id"),
        ("events", "tenant_id, seq"),
        ("list_marks", "tenant_id, entity, shard"),
        ("agents_fts", "rowid"),
    ] {
        let mut s = c.prepare(&format!("SELECT * FROM {table} ORDER BY {order}")).unwrap();
        let n = s.column_count();
        let rows = s
            .query_map([], |r| {
                let cells: Vec<String> = (0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect();
                Ok(format!("{table}: {}", cells.join(" | ")))
            })
            .unwrap();
        out.extend(rows.map(|r| r.unwrap()));
    }
    out
}

/// SQLite runs its hottest agent writes on a fast path of its own
/// (`sqlite/direct.rs`, rusqlite); everything else, and PostgreSQL, on the
/// shared SQL. The same scenario through both must answer the same and
/// leave the same rows and audit events behind.
#[tokio::test]
async fn fast_path_and_shared_sql_write_the_same() {
    let mut runs = Vec::new();
    for fast in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.db").to_str().unwrap().to_string();
        let store = open(&path, &StoreOptions { sqlite_fast_path: fast, ..StoreOptions::default() }).await.unwrap();
        let (tenant, admin) = tenant(&store, "Acme", "hash-acme").await;
        let f = Fixture { _dir: dir, path, store, tenant, admin };
        let answers = agent_write_scenario(&f).await;
        drop(f.store);
        runs.push((answers, dump(&f.path), f._dir));
    }
    let (fast, shared) = (&runs[0], &runs[1]);
    assert_eq!(fast.0, shared.0, "the same answers");
    assert!(fast.0.iter().any(|a| a.starts_with("map unknown: invalid")), "{:?}", fast.0);
    assert!(fast.1.iter().filter(|r| r.starts_with("audit_events")).count() >= 8);
    // The outbox: one event per audit event, numbered per tenant.
    let events = fast.1.iter().filter(|r| r.starts_with("events:")).count();
    assert_eq!(events, fast.1.iter().filter(|r| r.starts_with("audit_events")).count());
    for (a, b) in fast.1.iter().zip(&shared.1) {
        assert_eq!(a, b, "the same rows");
    }
    assert_eq!(fast.1.len(), shared.1.len());
}
