//! Users, API keys, roles, tenant settings and the audit trail.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn users_and_roles() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let admin = srv.client(&t.key);

    let mk = |username: &str, role: &str, powers: serde_json::Value| json!({"username": username, "role": role, "powers": powers, "withApiKey": true});
    let r = admin.post("/api/v1/users", mk("it", "it_user", json!([]))).await.expect(201);
    assert!(r.body["password"].as_str().unwrap().len() >= 16, "a generated password is returned once");
    let it = srv.client(r.body["apiKey"].as_str().unwrap());
    let mgr_plain =
        srv.client(admin.post("/api/v1/users", mk("m1", "manager", json!([]))).await.expect(201).body["apiKey"].as_str().unwrap());
    let mgr_power = srv.client(
        admin.post("/api/v1/users", mk("m2", "manager", json!(["administer_agents"]))).await.expect(201).body["apiKey"].as_str().unwrap(),
    );
    let superuser =
        srv.client(admin.post("/api/v1/users", mk("su", "superuser", json!([]))).await.expect(201).body["apiKey"].as_str().unwrap());
    let agent_r = admin.post("/api/v1/users", mk("ag", "agent", json!(["administer_agents"]))).await.expect(201);
    let agent = srv.client(agent_r.body["apiKey"].as_str().unwrap());
    admin.post("/api/v1/users", mk("IT", "agent", json!([]))).await.problem(409, "duplicate");
    admin.post("/api/v1/users", json!({"username": "x"})).await.problem(422, "invalid");
    admin.post("/api/v1/users", json!({"username": "x", "role": "king"})).await.problem(400, "bad_request");
    admin.post("/api/v1/users", json!({"username": "x", "role": "agent", "password": "short"})).await.problem(422, "invalid");

    // LiveVox rule: Sysadmin, IT User, Superuser, Manager with administer_agents may write agents.
    for (who, c) in [("it_user", &it), ("manager+power", &mgr_power), ("superuser", &superuser)] {
        let r =
            c.post("/api/v1/agents", json!({"loginId": format!("by-{who}").replace('+', "-"), "firstName": "A", "lastName": "B"})).await;
        assert_eq!(r.status, 201, "{who} may create agents: {}", r.body);
    }
    let id = admin.agent("target").await;
    for (who, c) in [("manager", &mgr_plain), ("agent", &agent)] {
        c.post("/api/v1/agents", json!({"loginId": "nope", "firstName": "A", "lastName": "B"})).await.problem(403, "forbidden");
        c.patch(&format!("/api/v1/agents/{id}"), json!({"firstName": "X"})).await.problem(403, "forbidden");
        c.delete(&format!("/api/v1/agents/{id}")).await.problem(403, "forbidden");
        c.post("/api/v1/skills", json!({"name": "x"})).await.problem(403, "forbidden");
        // …but may read, list and search.
        assert_eq!(c.get(&format!("/api/v1/agents/{id}")).await.status, 200, "{who} reads");
        assert_eq!(c.get("/api/v1/agents?q=target").await.body["items"].as_array().unwrap().len(), 1, "{who} searches");
    }
    // Users and tenant settings are Sysadmin business; the audit trail is staff only.
    it.get("/api/v1/users").await.problem(403, "forbidden");
    it.patch("/api/v1/tenant", json!({"settings": {"phoneNumberLimit": 5}})).await.problem(403, "forbidden");
    agent.get("/api/v1/audit").await.problem(403, "forbidden");
    assert_eq!(it.get("/api/v1/audit").await.status, 200);

    // Users: list, read, update, delete.
    let users = admin.all("/api/v1/users", 2).await;
    assert_eq!(users.len(), 6, "admin and the five made here");
    assert!(users.iter().all(|u| u.get("password").is_none() && u.get("passwordHash").is_none()));
    let ag_id = agent_r.id();
    let u = admin.patch(&format!("/api/v1/users/{ag_id}"), json!({"role": "superuser"})).await.expect(200);
    assert_eq!(u.body["role"], "superuser");
    agent.post("/api/v1/skills", json!({"name": "now allowed"})).await.expect(201);
    admin.patch(&format!("/api/v1/users/{ag_id}"), json!({"password": "nodigits"})).await.problem(422, "invalid");
    admin.delete(&format!("/api/v1/users/{}", t.admin_user_id)).await.problem(422, "invalid");
    admin.delete(&format!("/api/v1/users/{ag_id}")).await.expect(204);
    admin.get(&format!("/api/v1/users/{ag_id}")).await.problem(404, "not_found");
    agent.get("/api/v1/agents").await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_by_prefix_and_revocable() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let admin = srv.client(&t.key);
    let r = admin.post("/api/v1/api-keys", json!({"name": "ci"})).await.expect(201);
    let key = r.body["apiKey"].as_str().unwrap().to_string();
    let key_id = r.id();
    assert!(key.starts_with("sb_") && key.len() > 40);
    assert!(key.starts_with(r.body["prefix"].as_str().unwrap()));
    let ci = srv.client(&key);
    ci.get("/api/v1/agents").await.expect(200);

    let listed = admin.get("/api/v1/api-keys").await.expect(200);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|k| k.get("apiKey").is_none() && k.get("hash").is_none()), "keys are never listed");
    // Use is recorded off the request path, so it may take a moment.
    let mut got = admin.get(&format!("/api/v1/api-keys/{key_id}")).await.expect(200);
    for _ in 0..50 {
        if got.body["lastUsedAt"].as_i64().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        got = admin.get(&format!("/api/v1/api-keys/{key_id}")).await.expect(200);
    }
    assert_eq!(got.body["name"], "ci");
    assert!(got.body["lastUsedAt"].as_i64().is_some(), "use is recorded: {}", got.body);

    admin.delete(&format!("/api/v1/api-keys/{key_id}")).await.expect(204);
    ci.get("/api/v1/agents").await.problem(401, "unauthenticated");
    let got = admin.get(&format!("/api/v1/api-keys/{key_id}")).await.expect(200);
    assert!(got.body["revokedAt"].as_i64().is_some());

    // Bad credentials of every shape are the same 401.
    srv.anonymous().get("/api/v1/agents").await.problem(401, "unauthenticated");
    srv.client("sb_not-a-real-key").get("/api/v1/agents").await.problem(401, "unauthenticated");
    let r = srv.anonymous().send(reqwest::Method::GET, "/api/v1/agents", None, &[("authorization", "Basic Zm9vOmJhcg==")]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer realm=\"switchboard\""));
}

#[tokio::test]
async fn tenant_settings() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let r = c.get("/api/v1/tenant").await.expect(200);
    assert_eq!(r.body["name"], "acme");
    assert_eq!(r.body["clientId"], t.client_id);
    assert_eq!(r.body["settings"]["apiAuthentication"], "BASIC_AUTH");
    assert_eq!(r.body["settings"]["phoneNumberLimit"], 100);
    assert_eq!(r.body["settings"]["rateLimits"]["ozonetel.updateAgent"], 5);
    let etag = r.header("etag").unwrap();
    let r = c
        .send(
            reqwest::Method::PATCH,
            "/api/v1/tenant",
            Some(json!({"settings": {"apiAuthentication": "TOKEN_AUTH"}})),
            &[("if-match", &etag)],
        )
        .await
        .expect(200);
    assert_eq!(r.body["settings"]["apiAuthentication"], "TOKEN_AUTH");
    assert_eq!(r.body["settings"]["phoneNumberLimit"], 100, "other settings are kept");
    c.send(reqwest::Method::PATCH, "/api/v1/tenant", Some(json!({"settings": {"phoneNumberLimit": 7}})), &[("if-match", &etag)])
        .await
        .problem(412, "version_mismatch");
    c.patch("/api/v1/tenant", json!({"settings": {"apiAuthentication": "NONE"}})).await.problem(422, "invalid");
    c.patch("/api/v1/tenant", json!({"settings": {"noSuchSetting": 1}})).await.problem(422, "invalid");
    c.patch("/api/v1/tenant", json!({"settings": {"phoneNumberLimit": -1}})).await.problem(422, "invalid");
    c.patch("/api/v1/tenant", json!({})).await.problem(422, "invalid");
}

#[tokio::test]
async fn every_write_is_audited_with_actor_and_no_secrets() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let id = c
        .post("/api/v1/agents", json!({"loginId": "aud", "firstName": "A", "lastName": "B", "password": "secret123"}))
        .await
        .expect(201)
        .id();
    c.patch(&format!("/api/v1/agents/{id}"), json!({"lastName": "C", "password": "secret456"})).await.expect(200);
    let skill = c.post("/api/v1/skills", json!({"name": "S"})).await.expect(201).id();
    c.put(&format!("/api/v1/agents/{id}/skills/{skill}"), json!({"proficiency": 3})).await.expect(200);
    c.delete(&format!("/api/v1/agents/{id}")).await.expect(204);

    let r = c.get(&format!("/api/v1/audit?entity=agent&entityId={id}")).await.expect(200);
    let events = r.body["items"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "update", "update", "create"], "newest first");
    for e in events {
        assert_eq!(e["actor"], "user:admin");
        assert_eq!(e["actorUserId"], t.admin_user_id);
        assert_eq!(e["entity"], "agent");
    }
    assert_eq!(events[2]["before"]["lastName"], "B");
    assert_eq!(events[2]["after"]["lastName"], "C");
    assert_eq!(events[1]["after"]["skills"], json!([{"skillId": skill, "proficiency": 3}]));
    assert_eq!(events[0]["after"], json!(null));
    let text = String::from_utf8(r.raw.clone()).unwrap();
    assert!(!text.contains("secret123") && !text.contains("argon2"), "no secrets in the audit trail");

    let skills = c.get("/api/v1/audit?entity=skill").await.expect(200);
    assert_eq!(skills.body["items"].as_array().unwrap().len(), 1);
    let all = c.all("/api/v1/audit", 2).await;
    assert!(all.len() >= 6, "{}", all.len());
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "paged newest first without repeats: {ids:?}");
    c.get("/api/v1/audit?entity=spaceship").await.problem(400, "bad_request");
}

#[tokio::test]
async fn session_login_with_username_and_password() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let anon = srv.anonymous();
    let r = anon.post("/api/v1/sessions", json!({"tenant": "acme", "username": "admin", "password": t.admin_password})).await.expect(201);
    let sid = r.body["sessionId"].as_str().unwrap().to_string();
    assert_eq!(sid.len(), 64);
    assert_eq!(r.body["tenantId"], t.id);
    assert_eq!(r.body["idleTimeoutSeconds"], 7200);
    let p = srv.dir.session(&sid).await.expect("live session");
    assert_eq!(p.principal.user_id, t.admin_user_id);
    // Usernames are case-sensitive; wrong passwords and tenants fail alike.
    for body in [
        json!({"tenant": "acme", "username": "ADMIN", "password": t.admin_password}),
        json!({"tenant": "acme", "username": "admin", "password": "wrong-password-1"}),
        json!({"tenant": "nope", "username": "admin", "password": t.admin_password}),
    ] {
        anon.post("/api/v1/sessions", body).await.problem(401, "unauthenticated");
    }
    anon.post("/api/v1/sessions", json!({"tenant": "acme"})).await.problem(422, "invalid");
    anon.delete(&format!("/api/v1/sessions/{sid}")).await.expect(204);
    anon.delete(&format!("/api/v1/sessions/{sid}")).await.problem(404, "not_found");
    assert!(srv.dir.session(&sid).await.is_err());
}
