//! `/api/v1/agents` and its assignment sub-resources.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn agent_lifecycle_with_assignments() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);

    let cc = c.post("/api/v1/call-centers", json!({"name": "Main"})).await.expect(201).id();
    let svc = c.post("/api/v1/services", json!({"name": "Sales", "callCenterId": cc})).await.expect(201).id();
    let skill = c.post("/api/v1/skills", json!({"name": "Spanish", "description": "Habla"})).await.expect(201).id();
    let group = c.post("/api/v1/groups", json!({"name": "Tier 1"})).await.expect(201).id();

    let r = c
        .post(
            "/api/v1/agents",
            json!({
                "loginId": "jdoe", "firstName": "John", "lastName": "Doe", "displayName": "John D",
                "email": "john@example.com", "phone": "+15551234567", "wrapUpTime": 30, "homeAgent": true,
                "password": "secret123",
                "skills": [{"skillId": skill, "proficiency": 4}], "serviceIds": [svc],
                "groups": [{"groupId": group, "receiveCall": false}],
                "attributes": {"ozonetel.mode": "inbound"}
            }),
        )
        .await
        .expect(201);
    let id = r.id();
    assert_eq!(r.header("location").unwrap(), format!("/api/v1/agents/{id}"));
    assert_eq!(r.header("etag").unwrap(), "\"v1\"");
    let a = &r.body;
    assert_eq!(a["loginId"], "JDOE", "loginIds are stored upper-case");
    assert_eq!(a["displayName"], "John D");
    assert_eq!(a["wrapUpTime"], 30);
    assert_eq!(a["homeAgent"], true);
    assert_eq!(a["active"], true);
    assert_eq!(a["locked"], false);
    assert_eq!(a["hasPassword"], true);
    assert!(a["passwordLastModified"].as_i64().is_some());
    assert!(a.get("password").is_none() && a.get("passwordHash").is_none());
    assert_eq!(a["skills"], json!([{"skillId": skill, "proficiency": 4}]));
    assert_eq!(a["serviceIds"], json!([svc]));
    assert_eq!(a["groups"], json!([{"groupId": group, "receiveCall": false}]));
    assert_eq!(a["attributes"]["ozonetel.mode"], "inbound");

    // Read back, sub-resources.
    let g = c.get(&format!("/api/v1/agents/{id}")).await.expect(200);
    assert_eq!(g.body, r.body);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/skills")).await.expect(200).body, json!([{"skillId": skill, "proficiency": 4}]));
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/services")).await.expect(200).body, json!([{"serviceId": svc}]));
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/groups")).await.expect(200).body, json!([{"groupId": group, "receiveCall": false}]));

    // Change assignments.
    let s2 = c.post("/api/v1/skills", json!({"name": "Billing"})).await.expect(201).id();
    assert_eq!(
        c.put(&format!("/api/v1/agents/{id}/skills/{s2}"), json!({"proficiency": 2})).await.expect(200).body,
        json!({"skillId": s2, "proficiency": 2})
    );
    c.put(&format!("/api/v1/agents/{id}/skills/{skill}"), json!({"proficiency": 5})).await.expect(200);
    assert_eq!(
        c.get(&format!("/api/v1/agents/{id}/skills")).await.body,
        json!([{"skillId": skill, "proficiency": 5}, {"skillId": s2, "proficiency": 2}])
    );
    c.delete(&format!("/api/v1/agents/{id}/skills/{skill}")).await.expect(204);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/skills")).await.body, json!([{"skillId": s2, "proficiency": 2}]));

    c.put(&format!("/api/v1/agents/{id}/groups/{group}"), json!({"receiveCall": true})).await.expect(200);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/groups")).await.body, json!([{"groupId": group, "receiveCall": true}]));
    c.delete(&format!("/api/v1/agents/{id}/groups/{group}")).await.expect(204);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/groups")).await.body, json!([]));

    c.delete(&format!("/api/v1/agents/{id}/services/{svc}")).await.expect(204);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/services")).await.body, json!([]));
    c.put(&format!("/api/v1/agents/{id}/services/{svc}"), json!({})).await.expect(200);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/services")).await.body, json!([{"serviceId": svc}]));

    // Unknown targets of assignments are 404s naming them.
    c.put(&format!("/api/v1/agents/{id}/skills/999999"), json!({"proficiency": 2})).await.problem(404, "not_found");
    c.put(&format!("/api/v1/agents/{id}/groups/999999"), json!({})).await.problem(404, "not_found");
    c.put(&format!("/api/v1/agents/{id}/services/999999"), json!({})).await.problem(404, "not_found");
    c.put("/api/v1/agents/999999/skills/1", json!({"proficiency": 2})).await.problem(404, "not_found");

    // Update: fields, clearing optionals, attributes merge.
    let u = c
        .patch(
            &format!("/api/v1/agents/{id}"),
            json!({"firstName": "Johnny", "email": null, "attributes": {"ozonetel.mode": null, "x": 1}}),
        )
        .await
        .expect(200);
    assert_eq!(u.body["firstName"], "Johnny");
    assert_eq!(u.body["email"], json!(null));
    assert_eq!(u.body["attributes"], json!({"x": 1}));
    assert_eq!(u.body["lastName"], "Doe", "untouched fields keep their values");

    // Delete.
    c.delete(&format!("/api/v1/agents/{id}")).await.expect(204);
    c.get(&format!("/api/v1/agents/{id}")).await.problem(404, "not_found");
    c.delete(&format!("/api/v1/agents/{id}")).await.problem(404, "not_found");
}

#[tokio::test]
async fn agent_validation_errors_name_field_and_rule_and_write_nothing() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let base = json!({"loginId": "a1", "firstName": "A", "lastName": "B"});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    let cases = [
        (with("loginId", json!(null)), "loginId", "required"),
        (with("loginId", json!("")), "loginId", "required"),
        (with("loginId", json!("has space")), "loginId", "format"),
        (with("firstName", json!(null)), "firstName", "required"),
        (with("lastName", json!("   ")), "lastName", "required"),
        (with("lastName", json!("x".repeat(101))), "lastName", "too_long"),
        (with("email", json!("not-an-email")), "email", "format"),
        (with("phone", json!("12ab")), "phone", "format"),
        (with("wrapUpTime", json!(-2)), "wrapUpTime", "out_of_range"),
        (with("displayName", json!("x")), "displayName", "format"),
        (with("displayName", json!("bad<chars>")), "displayName", "format"),
        (with("password", json!("short1")), "password", "too_short"),
        (with("password", json!("nodigitshere")), "password", "missing_digit"),
        (with("skills", json!([{"skillId": 1, "proficiency": 6}])), "proficiency", "out_of_range"),
        (with("skills", json!([{"skillId": 999, "proficiency": 3}])), "skills", "unknown_reference"),
        (with("serviceIds", json!([999])), "serviceIds", "unknown_reference"),
        (with("groups", json!([{"groupId": 999}])), "groups", "unknown_reference"),
    ];
    for (body, field, rule) in cases {
        let r = c.post("/api/v1/agents", body.clone()).await.problem(422, "invalid");
        assert_eq!(r.body["field"], field, "{body} -> {}", r.body);
        assert_eq!(r.body["rule"], rule, "{body} -> {}", r.body);
    }
    // Malformed JSON and unknown fields are 400s.
    c.send(reqwest::Method::POST, "/api/v1/agents", None, &[("content-type", "application/json")]).await.problem(422, "invalid");
    let r = c.http.post(c.base.clone() + "/api/v1/agents").bearer_auth(c.key.as_ref().unwrap()).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    c.post("/api/v1/agents", with("loginIdd", json!("x"))).await.problem(400, "bad_request");
    c.post("/api/v1/agents", with("wrapUpTime", json!("ten"))).await.problem(400, "bad_request");

    // A non-ACD service cannot be assigned, on create or later.
    let cc = c.post("/api/v1/call-centers", json!({"name": "CC"})).await.expect(201).id();
    let ivr = c.post("/api/v1/services", json!({"name": "IVR", "callCenterId": cc, "acd": false})).await.expect(201).id();
    let r = c.post("/api/v1/agents", with("serviceIds", json!([ivr]))).await.problem(422, "invalid");
    assert_eq!(r.body["rule"], "not_acd_service");

    // Nothing was written by any of the failures.
    assert_eq!(c.get("/api/v1/agents").await.expect(200).body["items"], json!([]));

    // Duplicate loginId, case-insensitively.
    c.agent("dup").await;
    let r = c.post("/api/v1/agents", json!({"loginId": "DuP", "firstName": "A", "lastName": "B"})).await.problem(409, "duplicate");
    assert_eq!(r.body["field"], "loginId");
    let id = c.agent("other").await;
    c.patch(&format!("/api/v1/agents/{id}"), json!({"loginId": "DUP"})).await.problem(409, "duplicate");
    c.patch(&format!("/api/v1/agents/{id}"), json!({})).await.problem(422, "invalid");
    c.put(&format!("/api/v1/agents/{id}/services/{ivr}"), json!({})).await.problem(422, "invalid");
    c.put(&format!("/api/v1/agents/{id}/skills/1"), json!({})).await.problem(422, "invalid");
}

#[tokio::test]
async fn password_history_and_unlock() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let id = c
        .post("/api/v1/agents", json!({"loginId": "pw", "firstName": "P", "lastName": "W", "password": "first111"}))
        .await
        .expect(201)
        .id();
    let path = format!("/api/v1/agents/{id}");
    for pw in ["second22", "third333", "fourth44"] {
        c.patch(&path, json!({"password": pw})).await.expect(200);
    }
    // The last four (first111 … fourth44) are all refused.
    for pw in ["first111", "second22", "third333", "fourth44"] {
        let r = c.patch(&path, json!({"password": pw})).await.problem(422, "invalid");
        assert_eq!(r.body["rule"], "reused");
    }
    c.patch(&path, json!({"password": "fifth555"})).await.expect(200);
    // first111 is now the fifth most recent: allowed again.
    c.patch(&path, json!({"password": "first111"})).await.expect(200);

    // Locking and unlocking.
    let r = c.patch(&path, json!({"locked": true})).await.expect(200);
    assert_eq!(r.body["locked"], true);
    let r = c.post(&format!("{path}/unlock"), json!({})).await.expect(200);
    assert_eq!(r.body["locked"], false);
    assert_eq!(r.body["failedLogins"], 0);
}

#[tokio::test]
async fn search_and_filters() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let skill = c.post("/api/v1/skills", json!({"name": "French"})).await.expect(201).id();
    let group = c.post("/api/v1/groups", json!({"name": "G"})).await.expect(201).id();
    let a = c
        .post(
            "/api/v1/agents",
            json!({"loginId": "alice01", "firstName": "Alice", "lastName": "Martin", "email": "alice@corp.io", "phone": "5550001111",
            "skills": [{"skillId": skill, "proficiency": 1}]}),
        )
        .await
        .expect(201)
        .id();
    let b = c
        .post(
            "/api/v1/agents",
            json!({"loginId": "bob02", "firstName": "Bob", "lastName": "Martinez", "active": false, "phone": "5559990000",
            "groups": [{"groupId": group}]}),
        )
        .await
        .expect(201)
        .id();
    let ids = |r: Resp| r.body["items"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(c.get("/api/v1/agents?q=MARTIN").await.expect(200)), vec![a, b]);
    assert_eq!(ids(c.get("/api/v1/agents?q=martinez").await), vec![b]);
    assert_eq!(ids(c.get("/api/v1/agents?q=corp.io").await), vec![a]);
    assert_eq!(ids(c.get("/api/v1/agents?q=9990").await), vec![b]);
    assert_eq!(ids(c.get("/api/v1/agents?q=%25").await), Vec::<i64>::new(), "LIKE wildcards are literal");
    assert_eq!(ids(c.get("/api/v1/agents?loginId=ICE0").await), vec![a]);
    assert_eq!(ids(c.get("/api/v1/agents?lastName=tinez").await), vec![b]);
    assert_eq!(ids(c.get("/api/v1/agents?phone=0001").await), vec![a]);
    assert_eq!(ids(c.get("/api/v1/agents?active=false").await), vec![b]);
    assert_eq!(ids(c.get(&format!("/api/v1/agents?skillId={skill}")).await), vec![a]);
    assert_eq!(ids(c.get(&format!("/api/v1/agents?groupId={group}")).await), vec![b]);
    assert_eq!(ids(c.get("/api/v1/agents?q=martin&active=true").await), vec![a]);
    c.get("/api/v1/agents?active=maybe").await.problem(400, "bad_request");
}

#[tokio::test]
async fn paging_through_2500_agents_has_no_gaps_or_duplicates() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    // Created 8 at a time, as concurrent clients would.
    let mut created = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2500 {
        let c = c.clone();
        tasks.spawn(async move { c.agent(&format!("agent{i:05}")).await });
        if tasks.len() >= 8 {
            created.push(tasks.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(id) = tasks.join_next().await {
        created.push(id.unwrap());
    }
    created.sort();
    for limit in [1000, 333] {
        let items = c.all("/api/v1/agents", limit).await;
        let ids: Vec<i64> = items.iter().map(|x| x["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, created, "limit {limit}");
    }
    // Paging also works with a filter.
    let items = c.all("/api/v1/agents?q=agent000", 7).await;
    assert_eq!(items.len(), 100);
    c.get("/api/v1/agents?limit=1001").await.problem(400, "bad_request");
    c.get("/api/v1/agents?limit=0").await.problem(400, "bad_request");
    c.get("/api/v1/agents?cursor=bogus").await.problem(400, "bad_request");
}
