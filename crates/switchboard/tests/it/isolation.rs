//! Tenant isolation: tenant B's key never sees or changes anything of A's,
//! and gets the same answer as for an object that does not exist at all.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn tenant_b_cannot_see_or_touch_anything_of_tenant_a() {
    let srv = Server::start().await;
    let a = srv.tenant("tenant-a").await;
    let b = srv.tenant("tenant-b").await;
    let ca = srv.client(&a.key);
    let cb = srv.client(&b.key);

    // Tenant A's world.
    let cc = ca.post("/api/v1/call-centers", json!({"name": "A-CC"})).await.expect(201).id();
    let svc = ca.post("/api/v1/services", json!({"name": "A-S", "callCenterId": cc})).await.expect(201).id();
    let skill = ca.post("/api/v1/skills", json!({"name": "A-Skill"})).await.expect(201).id();
    let group = ca.post("/api/v1/groups", json!({"name": "A-G"})).await.expect(201).id();
    let phone = ca.post("/api/v1/phones", json!({"number": "5550100", "name": "A-P", "skills": ["A-Skill"]})).await.expect(201).id();
    let did = ca.post("/api/v1/dids", json!({"number": "5550199"})).await.expect(201).id();
    let camp = ca.post("/api/v1/campaigns", json!({"name": "A-C", "dynamicDids": ["5550199"]})).await.expect(201).id();
    let agent = ca
        .post("/api/v1/agents", json!({"loginId": "a-agent", "firstName": "A", "lastName": "A", "skills": [{"skillId": skill, "proficiency": 1}], "serviceIds": [svc], "groups": [{"groupId": group}]}))
        .await
        .expect(201)
        .id();
    let user = ca.post("/api/v1/users", json!({"username": "a-user", "role": "manager"})).await.expect(201).id();
    let key = ca.post("/api/v1/api-keys", json!({"name": "a-key"})).await.expect(201).id();
    let before = snapshot(&ca, agent).await;

    // Tenant B has the same kinds of objects, so ids of its own exist too.
    let b_skill = cb.post("/api/v1/skills", json!({"name": "B-Skill"})).await.expect(201).id();
    let b_agent = cb.agent("b-agent").await;

    // Lists show only B's own objects.
    for coll in ["agents", "skills", "call-centers", "groups", "services", "phones", "dids", "campaigns", "users", "api-keys", "audit"] {
        let items = cb.all(&format!("/api/v1/{coll}"), 1000).await;
        let text = serde_json::to_string(&items).unwrap();
        assert!(
            !text.contains("A-") && !text.contains("a-agent") && !text.contains("a-user") && !text.contains("a-key"),
            "{coll} leaks: {text}"
        );
        for item in &items {
            if let Some(t) = item.get("tenantId") {
                assert_eq!(t, b.id, "{coll}");
            }
        }
    }
    assert_eq!(cb.get("/api/v1/tenant").await.body["name"], "tenant-b");
    assert!(cb.get(&format!("/api/v1/agents?skillId={skill}")).await.body["items"].as_array().unwrap().is_empty());
    assert!(cb.get(&format!("/api/v1/services?callCenterId={cc}")).await.body["items"].as_array().unwrap().is_empty());

    // Every read and write of A's objects by id: the same 404 as a missing id.
    let missing = 9_999_999;
    let by_id: Vec<(Method, String, Option<Value>)> = {
        let mut v = Vec::new();
        for (coll, id, patch) in [
            ("agents", agent, json!({"firstName": "X"})),
            ("skills", skill, json!({"name": "X"})),
            ("call-centers", cc, json!({"name": "X"})),
            ("groups", group, json!({"name": "X"})),
            ("services", svc, json!({"name": "X"})),
            ("phones", phone, json!({"name": "X"})),
            ("dids", did, json!({"number": "5550000"})),
            ("campaigns", camp, json!({"name": "X"})),
            ("users", user, json!({"role": "agent"})),
        ] {
            v.push((Method::GET, format!("/api/v1/{coll}/{id}"), None));
            v.push((Method::PATCH, format!("/api/v1/{coll}/{id}"), Some(patch)));
            v.push((Method::DELETE, format!("/api/v1/{coll}/{id}"), None));
        }
        v.push((Method::GET, format!("/api/v1/api-keys/{key}"), None));
        v.push((Method::DELETE, format!("/api/v1/api-keys/{key}"), None));
        v.push((Method::POST, format!("/api/v1/agents/{agent}/unlock"), Some(json!({}))));
        for sub in ["skills", "services", "groups"] {
            v.push((Method::GET, format!("/api/v1/agents/{agent}/{sub}"), None));
        }
        // A's agent with B's objects, and B's agent with A's objects.
        v.push((Method::PUT, format!("/api/v1/agents/{agent}/skills/{b_skill}"), Some(json!({"proficiency": 1}))));
        v.push((Method::DELETE, format!("/api/v1/agents/{agent}/skills/{skill}"), None));
        v.push((Method::PUT, format!("/api/v1/agents/{b_agent}/skills/{skill}"), Some(json!({"proficiency": 1}))));
        v.push((Method::PUT, format!("/api/v1/agents/{b_agent}/services/{svc}"), Some(json!({}))));
        v.push((Method::PUT, format!("/api/v1/agents/{b_agent}/groups/{group}"), Some(json!({}))));
        v.push((Method::DELETE, format!("/api/v1/agents/{agent}/services/{svc}"), None));
        v.push((Method::DELETE, format!("/api/v1/agents/{agent}/groups/{group}"), None));
        v
    };
    for (m, path, body) in by_id {
        let r = cb.send(m.clone(), &path, body.clone(), &[]).await;
        assert_eq!(r.status, 404, "{m} {path} by tenant B: {}", r.body);
        // The answer for a missing id is the same, apart from the id itself.
        let missing_path = path.replace(&format!("/{agent}"), &format!("/{missing}"));
        if missing_path != path {
            let r2 = cb.send(m.clone(), &missing_path, body, &[]).await;
            assert_eq!(r2.status, 404);
            assert_eq!(r2.body["code"], r.body["code"]);
        }
    }
    // References in bodies to A's objects are unknown references for B.
    cb.post("/api/v1/agents", json!({"loginId": "x", "firstName": "a", "lastName": "b", "skills": [{"skillId": skill, "proficiency": 1}]}))
        .await
        .problem(422, "invalid");
    cb.post("/api/v1/agents", json!({"loginId": "x", "firstName": "a", "lastName": "b", "serviceIds": [svc]}))
        .await
        .problem(422, "invalid");
    cb.post("/api/v1/services", json!({"name": "x", "callCenterId": cc})).await.problem(422, "invalid");
    cb.post("/api/v1/phones", json!({"number": "5550101", "name": "x", "skills": ["A-Skill"]})).await.problem(422, "invalid");
    cb.post("/api/v1/campaigns", json!({"name": "x", "dynamicDids": ["5550199"]})).await.problem(422, "invalid");
    cb.post("/api/v1/api-keys", json!({"userId": a.admin_user_id})).await.problem(404, "not_found");
    // Names and loginIds are unique per tenant, not across tenants.
    cb.agent("a-agent").await;
    cb.post("/api/v1/skills", json!({"name": "A-Skill"})).await.expect(201);
    assert!(cb.get(&format!("/api/v1/audit?entity=agent&entityId={agent}")).await.body["items"].as_array().unwrap().is_empty());

    // Nothing of A's changed.
    assert_eq!(snapshot(&ca, agent).await, before);
    ca.get(&format!("/api/v1/api-keys/{key}")).await.expect(200);
}

async fn snapshot(c: &Client, agent: i64) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("agent".into(), c.get(&format!("/api/v1/agents/{agent}")).await.expect(200).body);
    for coll in ["skills", "call-centers", "groups", "services", "phones", "dids", "campaigns", "users", "api-keys"] {
        out.insert(coll.into(), Value::Array(c.all(&format!("/api/v1/{coll}"), 1000).await));
    }
    Value::Object(out)
}
