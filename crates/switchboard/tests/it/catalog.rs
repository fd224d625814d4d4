//! Skills, call centers, groups, services, phones, DIDs and campaigns.

use crate::support::*;
use serde_json::{json, Value};

/// Create, read, list, update and delete one resource, checking each answer.
async fn crud(c: &Client, collection: &str, create: Value, update: Value, check: &str) {
    let path = format!("/api/v1/{collection}");
    let r = c.post(&path, create.clone()).await.expect(201);
    let id = r.id();
    assert_eq!(r.header("location").unwrap(), format!("{path}/{id}"));
    assert_eq!(r.header("etag").unwrap(), "\"v1\"");
    let got = c.get(&format!("{path}/{id}")).await.expect(200);
    assert_eq!(got.body, r.body, "{collection}: read returns what create returned");
    let listed = c.get(&path).await.expect(200);
    assert!(listed.body["items"].as_array().unwrap().iter().any(|x| x["id"] == id), "{collection} list");
    let u = c.patch(&format!("{path}/{id}"), update.clone()).await.expect(200);
    assert_eq!(u.body[check], update[check], "{collection}: update applied");
    assert_eq!(u.header("etag").unwrap(), "\"v2\"");
    c.patch(&format!("{path}/{id}"), json!({})).await.problem(422, "invalid");
    c.delete(&format!("{path}/{id}")).await.expect(204);
    c.get(&format!("{path}/{id}")).await.problem(404, "not_found");
    c.delete(&format!("{path}/{id}")).await.problem(404, "not_found");
    c.patch(&format!("{path}/{id}"), update).await.problem(404, "not_found");
}

#[tokio::test]
async fn every_catalog_resource_supports_crud() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    crud(&c, "skills", json!({"name": "Spanish", "description": "d"}), json!({"description": "new"}), "description").await;
    crud(&c, "call-centers", json!({"name": "East"}), json!({"name": "West"}), "name").await;
    crud(&c, "groups", json!({"name": "Tier 1"}), json!({"name": "Tier 2"}), "name").await;
    let cc = c.post("/api/v1/call-centers", json!({"name": "Main"})).await.expect(201).id();
    crud(&c, "services", json!({"name": "Sales", "callCenterId": cc}), json!({"acd": false}), "acd").await;
    c.post("/api/v1/skills", json!({"name": "Hindi"})).await.expect(201);
    crud(&c, "phones", json!({"number": "+919876543210", "name": "Desk 1", "skills": ["hindi"]}), json!({"name": "Desk 2"}), "name").await;
    crud(&c, "dids", json!({"number": "18005550100"}), json!({"number": "18005550101"}), "number").await;
    c.post("/api/v1/dids", json!({"number": "18005550199"})).await.expect(201);
    crud(&c, "campaigns", json!({"name": "Spring", "dynamicDids": ["18005550199"]}), json!({"name": "Summer"}), "name").await;
}

#[tokio::test]
async fn catalog_rules() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);

    // Names are unique per tenant, case-insensitively.
    c.post("/api/v1/skills", json!({"name": "Billing"})).await.expect(201);
    let r = c.post("/api/v1/skills", json!({"name": "BILLING"})).await.problem(409, "duplicate");
    assert_eq!(r.body["field"], "name");
    c.post("/api/v1/skills", json!({})).await.problem(422, "invalid");
    c.post("/api/v1/skills", json!({"name": "x", "description": "d".repeat(1001)})).await.problem(422, "invalid");

    // A call center with services cannot be deleted; a service needs a real call center.
    let cc = c.post("/api/v1/call-centers", json!({"name": "Main"})).await.expect(201).id();
    let r = c.post("/api/v1/services", json!({"name": "S", "callCenterId": 999})).await.problem(422, "invalid");
    assert_eq!(r.body["field"], "callCenterId");
    c.post("/api/v1/services", json!({"name": "S"})).await.problem(422, "invalid");
    let svc = c.post("/api/v1/services", json!({"name": "S", "callCenterId": cc})).await.expect(201);
    assert_eq!(svc.body["acd"], true, "services are ACD unless said otherwise");
    c.delete(&format!("/api/v1/call-centers/{cc}")).await.problem(409, "in_use");
    let cc2 = c.post("/api/v1/call-centers", json!({"name": "Other"})).await.expect(201).id();
    c.post("/api/v1/services", json!({"name": "T", "callCenterId": cc2, "acd": false})).await.expect(201);
    let in_cc = c.get(&format!("/api/v1/services?callCenterId={cc}")).await.expect(200);
    assert_eq!(in_cc.body["items"].as_array().unwrap().len(), 1);

    // Phones: skills by name must exist; the tenant's limit holds.
    let r = c.post("/api/v1/phones", json!({"number": "5551000", "name": "P", "skills": ["nope"]})).await.problem(422, "invalid");
    assert_eq!(r.body["field"], "skills");
    c.post("/api/v1/phones", json!({"number": "abc", "name": "P"})).await.problem(422, "invalid");
    c.patch("/api/v1/tenant", json!({"settings": {"phoneNumberLimit": 2}})).await.expect(200);
    c.post("/api/v1/phones", json!({"number": "5551001", "name": "P1", "skills": ["Billing"]})).await.expect(201);
    c.post("/api/v1/phones", json!({"number": "5551001", "name": "P4"})).await.problem(409, "duplicate");
    c.post("/api/v1/phones", json!({"number": "5551002", "name": "p1"})).await.problem(409, "duplicate");
    c.post("/api/v1/phones", json!({"number": "5551002", "name": "P2"})).await.expect(201);
    c.post("/api/v1/phones", json!({"number": "5551003", "name": "P3"})).await.problem(409, "limit_exceeded");

    // Campaign DIDs must be in the inventory; a DID in use cannot be deleted.
    let did = c.post("/api/v1/dids", json!({"number": "+442071234567"})).await.expect(201).id();
    c.post("/api/v1/dids", json!({"number": "+442071234567"})).await.problem(409, "duplicate");
    let r = c.post("/api/v1/campaigns", json!({"name": "C", "dynamicDids": ["+449999999"]})).await.problem(422, "invalid");
    assert_eq!(r.body["field"], "dynamicDids");
    let r =
        c.post("/api/v1/campaigns", json!({"name": "C", "fallbackDids": ["+442071234567", "+442071234567"]})).await.problem(422, "invalid");
    assert_eq!(r.body["rule"], "duplicate_item");
    let camp = c.post("/api/v1/campaigns", json!({"name": "C", "dynamicDids": ["+442071234567"], "fallbackDids": []})).await.expect(201);
    assert_eq!(camp.body["dynamicDids"], json!(["+442071234567"]));
    c.delete(&format!("/api/v1/dids/{did}")).await.problem(409, "in_use");
    // Renumbering a DID shows in the campaigns that use it.
    c.patch(&format!("/api/v1/dids/{did}"), json!({"number": "+442071234568"})).await.expect(200);
    let camp = c.get(&format!("/api/v1/campaigns/{}", camp.id())).await.expect(200);
    assert_eq!(camp.body["dynamicDids"], json!(["+442071234568"]));
}

#[tokio::test]
async fn deleting_a_skill_or_group_removes_its_assignments() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let skill = c.post("/api/v1/skills", json!({"name": "S"})).await.expect(201).id();
    let group = c.post("/api/v1/groups", json!({"name": "G"})).await.expect(201).id();
    let a = c
        .post("/api/v1/agents", json!({"loginId": "a", "firstName": "A", "lastName": "B", "skills": [{"skillId": skill, "proficiency": 3}], "groups": [{"groupId": group}]}))
        .await
        .expect(201)
        .id();
    c.delete(&format!("/api/v1/skills/{skill}")).await.expect(204);
    c.delete(&format!("/api/v1/groups/{group}")).await.expect(204);
    let got = c.get(&format!("/api/v1/agents/{a}")).await.expect(200);
    assert_eq!(got.body["skills"], json!([]));
    assert_eq!(got.body["groups"], json!([]));
}
