//! The native API's OpenAPI document (issue 24): complete enough for client
//! generators, and what the server does where the document and a careless
//! reading of the old server disagreed. `.ci/run` also runs the validator,
//! schemathesis (`--checks all`, stateful) and a generated Python client
//! (`scripts/contract-fuzz.sh`).

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn document(srv: &Server) -> Value {
    srv.anonymous().get("/api/v1/openapi.json").await.expect(200).body
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let mut cur = doc;
            for part in r.trim_start_matches("#/").split('/') {
                cur = &cur[part];
            }
            cur
        }
        None => v,
    }
}

#[tokio::test]
async fn the_document_describes_every_operation_completely() {
    let srv = Server::start().await;
    let doc = document(&srv).await;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let name = format!("{} {path}", method.to_uppercase());
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no summary");
            assert!(op["description"].as_str().is_some_and(|s| !s.is_empty() && s != op["summary"]), "{name}: no description");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.get("default").is_none(), "{name}: a catch-all default response");
            for (status, r) in responses {
                let r = resolve(&doc, r);
                assert!(r["description"].as_str().is_some_and(|d| !d.is_empty()), "{name} {status}: no description");
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
                        "{name} {status}"
                    );
                }
            }
            let authenticated = op.get("security").is_none();
            for status in ["500"].iter().chain(if authenticated { &["401", "403"][..] } else { &[][..] }) {
                assert!(responses.contains_key(*status), "{name}: {status} not listed");
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{name}: 404 not listed");
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if params.iter().any(|p| p["name"] == "If-Match") {
                assert!(responses.contains_key("412"), "{name}: If-Match without 412");
            }
            if method == "post" && authenticated {
                assert!(params.iter().any(|p| p["name"] == "Idempotency-Key"), "{name}: Idempotency-Key not documented");
            }
            if let Some(created) = responses.get("201") {
                assert_eq!(created["headers"]["Location"]["required"], true, "{name}: 201 without Location");
            }
            if let Some(body) = op.get("requestBody") {
                let schema = resolve(&doc, &body["content"]["application/json"]["schema"]);
                if !schema.is_null() {
                    assert!(schema["examples"].is_array() || schema["example"].is_object(), "{name}: request schema without example");
                }
            }
        }
    }
    assert_eq!(operations, 75);

    // Every answer's schema has an example; the problem codes are an enum.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let enumeration =
            schema.get("enum").is_some() || schema["oneOf"].as_array().is_some_and(|o| o.iter().all(|x| x.get("enum").is_some()));
        if !enumeration {
            assert!(schema["examples"].is_array() || schema.get("example").is_some(), "schema {name} has no example");
        }
    }
    let problem = &doc["components"]["schemas"]["Problem"];
    let required: Vec<&str> = problem["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(required, ["type", "title", "status", "detail", "code"]);
    assert_eq!(problem["properties"]["field"]["type"], "string");
    let codes = problem["properties"]["code"]["enum"].as_array().unwrap();
    for code in
        ["bad_request", "unauthenticated", "forbidden", "not_found", "duplicate", "version_mismatch", "invalid", "too_many_requests"]
    {
        assert!(codes.contains(&json!(code)), "{code} not in Problem.code");
    }
    // Constraints are stated: a few that the old document lacked.
    let s = &doc["components"]["schemas"];
    assert_eq!(s["SkillRef"]["properties"]["proficiency"]["maximum"], 5);
    assert_eq!(s["AgentCreate"]["properties"]["wrapUpTime"]["minimum"], -1);
    let required: Vec<&str> = s["AgentCreate"]["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(required, ["loginId", "firstName", "lastName"]);
    assert_eq!(s["AgentUpdate"]["minProperties"], 1);
    assert_eq!(s["SkillUpdate"]["minProperties"], 1);
    assert!(s["SkillUpdate"].get("required").is_none());
    assert_eq!(s["Id"]["minimum"], 1);
    assert!(s["Agent"]["properties"]["createdAt"]["description"].as_str().unwrap().contains("Milliseconds since the Unix epoch"));
    let limit =
        doc["paths"]["/api/v1/agents"]["get"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "limit").unwrap().clone();
    assert_eq!((limit["schema"]["minimum"].clone(), limit["schema"]["maximum"].clone()), (json!(1), json!(1000)));
    // Created ids flow into the operations on them.
    let links = &doc["paths"]["/api/v1/agents"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["get_agent"]["parameters"]["id"], "$response.body#/id");
    assert!(links["assign_skill"].is_object());
}

#[tokio::test]
async fn the_server_accepts_what_the_document_allows_and_refuses_what_it_forbids() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);

    // An integral float is an integer (JSON has one number type); 4.5 is not.
    let cc = c.post("/api/v1/call-centers", json!({"name": "Main"})).await.expect(201).id();
    let svc = c.post("/api/v1/services", json!({"name": "Billing", "callCenterId": cc as f64})).await.expect(201);
    assert_eq!(svc.body["callCenterId"], cc);
    let skill = c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201).id();
    let agent = c
        .post(
            "/api/v1/agents",
            json!({"loginId": "ann", "firstName": "Ann", "lastName": "Lee", "wrapUpTime": 30.0,
            "skills": [{"skillId": skill as f64, "proficiency": 3.0}]}),
        )
        .await
        .expect(201);
    assert_eq!((agent.body["wrapUpTime"].clone(), agent.body["skills"][0]["proficiency"].clone()), (json!(30), json!(3)));
    let id = agent.id();
    c.put(&format!("/api/v1/agents/{id}/skills/{skill}"), json!({"proficiency": 4.0})).await.expect(200);
    c.put(&format!("/api/v1/agents/{id}/skills/{skill}"), json!({"proficiency": 4.5})).await.problem(400, "bad_request");

    // PATCH: null only where the document allows it (it clears); elsewhere 400.
    c.patch(&format!("/api/v1/agents/{id}"), json!({"displayName": "Ann L.", "email": "ann@example.com"})).await.expect(200);
    let r = c.patch(&format!("/api/v1/agents/{id}"), json!({"firstName": null})).await.problem(400, "bad_request");
    assert!(r.body["detail"].as_str().unwrap().contains("null"), "{}", r.body);
    let r = c.patch(&format!("/api/v1/agents/{id}"), json!({"displayName": null, "email": ""})).await.expect(200);
    assert_eq!((r.body["displayName"].clone(), r.body["email"].clone()), (Value::Null, Value::Null));
    c.patch(&format!("/api/v1/skills/{skill}"), json!({"name": null})).await.problem(400, "bad_request");
    // An empty attributes merge is not a change (minProperties), alone or not.
    let r = c.patch(&format!("/api/v1/agents/{id}"), json!({"attributes": {}, "active": false})).await.problem(422, "invalid");
    assert_eq!(r.body["field"], "attributes");

    // Lengths and control characters are checked as sent.
    let long_padded = format!("{} ", "x".repeat(100));
    let r = c.post("/api/v1/groups", json!({"name": long_padded})).await.problem(422, "invalid");
    assert_eq!(r.body["rule"], "too_long");
    let r = c.post("/api/v1/groups", json!({"name": "\tSales"})).await.problem(422, "invalid");
    assert_eq!(r.body["rule"], "format");
    assert_eq!(c.post("/api/v1/groups", json!({"name": "  Sales  "})).await.expect(201).body["name"], "Sales");

    // An id in a body is checked before the precondition: 422, not 412.
    let sid = svc.id();
    let r = c.send(Method::PATCH, &format!("/api/v1/services/{sid}"), Some(json!({"callCenterId": 0})), &[("If-Match", "\"v999\"")]).await;
    assert_eq!(r.problem(422, "invalid").body["rule"], "unknown_reference");

    // Cursors are decimal ids (and earlier releases' base64 cursors still work).
    for n in 0..3 {
        c.post("/api/v1/skills", json!({"name": format!("S{n}")})).await.expect(201);
    }
    let page = c.get("/api/v1/skills?limit=2").await.expect(200);
    let cursor = page.body["nextCursor"].as_str().unwrap().to_string();
    assert!(cursor.bytes().all(|b| b.is_ascii_digit()), "{cursor}");
    let next = c.get(&format!("/api/v1/skills?limit=2&cursor={cursor}")).await.expect(200);
    let legacy = base64url(format!("after:{cursor}").as_bytes());
    assert_eq!(c.get(&format!("/api/v1/skills?limit=2&cursor={legacy}")).await.expect(200).body, next.body);
    c.get("/api/v1/skills?cursor=0").await.problem(400, "bad_request");
    // Integer query parameters read integral decimals too.
    assert_eq!(c.get("/api/v1/skills?limit=2.0").await.expect(200).body["items"].as_array().unwrap().len(), 2);
    assert_eq!(c.get(&format!("/api/v1/services?callCenterId={cc}.0")).await.expect(200).body["items"][0]["id"], sid);
    c.get("/api/v1/skills?limit=2.5").await.problem(400, "bad_request");
    c.get("/api/v1/skills?limit=0").await.problem(400, "bad_request");

    // A body whose fields are all optional may be left out; 201s carry Location.
    let r = c.send(Method::POST, "/api/v1/api-keys", None, &[]).await.expect(201);
    assert_eq!(r.header("location"), Some(format!("/api/v1/api-keys/{}", r.id())));
}

/// Base64url without padding (the cursor format of earlier releases).
fn base64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
