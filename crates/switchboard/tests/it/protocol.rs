//! ETags, idempotency keys, the OpenAPI document, probes, metrics, limits and
//! persistence across restarts.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn etag_and_if_match_prevent_lost_updates() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let id = c.agent("etag").await;
    let path = format!("/api/v1/agents/{id}");
    let r = c.get(&path).await.expect(200);
    let v1 = r.header("etag").unwrap();
    assert_eq!(v1, "\"v1\"");

    // Unchanged: 304 on If-None-Match.
    let r = c.send(Method::GET, &path, None, &[("if-none-match", &v1)]).await;
    assert_eq!(r.status, 304);

    // Two writers read v1; the first wins, the second gets 412 and changes nothing.
    let r = c.send(Method::PATCH, &path, Some(json!({"firstName": "First"})), &[("if-match", &v1)]).await.expect(200);
    let v2 = r.header("etag").unwrap();
    assert_eq!(v2, "\"v2\"");
    let r = c.send(Method::PATCH, &path, Some(json!({"firstName": "Second"})), &[("if-match", &v1)]).await.problem(412, "version_mismatch");
    assert_eq!(r.body["currentVersion"], 2);
    assert_eq!(c.get(&path).await.body["firstName"], "First");
    c.send(Method::PATCH, &path, Some(json!({"firstName": "X"})), &[("if-match", "\"garbage\"")]).await.problem(412, "version_mismatch");
    c.send(Method::DELETE, &path, None, &[("if-match", &v1)]).await.problem(412, "version_mismatch");
    // Assignments change the agent, hence its ETag.
    let skill = c.post("/api/v1/skills", json!({"name": "S"})).await.expect(201).id();
    c.put(&format!("{path}/skills/{skill}"), json!({"proficiency": 1})).await.expect(200);
    let v3 = c.get(&path).await.header("etag").unwrap();
    assert_eq!(v3, "\"v3\"");
    c.send(Method::PATCH, &path, Some(json!({"lastName": "Y"})), &[("if-match", "*")]).await.expect(200);
    c.send(Method::DELETE, &path, None, &[("if-match", "\"v4\"")]).await.expect(204);

    // Other resources too.
    let r = c.post("/api/v1/skills", json!({"name": "T"})).await.expect(201);
    let sp = format!("/api/v1/skills/{}", r.id());
    c.patch(&sp, json!({"name": "T2"})).await.expect(200);
    c.send(Method::PATCH, &sp, Some(json!({"name": "T3"})), &[("if-match", "\"v1\"")]).await.problem(412, "version_mismatch");
    c.send(Method::DELETE, &sp, None, &[("if-match", "\"v2\"")]).await.expect(204);
}

/// Without a precondition a write applies to whatever version it finds: many
/// clients changing the same agent and skill at once all succeed, and every
/// change is counted in the version (none lost, none refused with 412).
#[tokio::test]
async fn writes_without_if_match_never_conflict() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let id = c.agent("busy").await;
    let path = format!("/api/v1/agents/{id}");
    let (writers, rounds, shared) = (8usize, 6usize, 2usize);
    let mut skills = vec![];
    // One skill per writer to assign (each assignment a change), and a few
    // the writers rename between them (skills the agent does not hold).
    for k in 0..writers + shared {
        skills.push(c.post("/api/v1/skills", json!({"name": format!("S{k}")})).await.expect(201).id());
    }
    let mut tasks = vec![];
    for w in 0..writers {
        let (c, path, skills) = (c.clone(), path.clone(), skills.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..rounds {
                if k % 2 == 0 {
                    c.patch(&path, json!({"firstName": format!("W{w}k{k}")})).await.expect(200);
                } else {
                    let p = 1 + k % 5;
                    c.put(&format!("{path}/skills/{}", skills[w]), json!({"proficiency": p})).await.expect(200);
                }
                let sp = format!("/api/v1/skills/{}", skills[writers + w % shared]);
                c.patch(&sp, json!({"description": format!("by {w} in {k}")})).await.expect(200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let agent = c.get(&path).await.expect(200);
    assert_eq!(agent.header("etag").unwrap(), format!("\"v{}\"", 1 + writers * rounds), "every write counted once");
    for k in 0..shared {
        let skill = c.get(&format!("/api/v1/skills/{}", skills[writers + k])).await.expect(200);
        assert_eq!(skill.header("etag").unwrap(), format!("\"v{}\"", 1 + writers / shared * rounds), "skill {k}");
    }
}

#[tokio::test]
async fn idempotency_keys_make_retries_safe() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let body = json!({"loginId": "idem", "firstName": "I", "lastName": "D"});
    let h = [("idempotency-key", "create-idem-1")];
    let first = c.send(Method::POST, "/api/v1/agents", Some(body.clone()), &h).await.expect(201);
    let again = c.send(Method::POST, "/api/v1/agents", Some(body.clone()), &h).await.expect(201);
    assert_eq!(again.raw, first.raw, "same response replayed");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(c.get("/api/v1/agents").await.body["items"].as_array().unwrap().len(), 1, "written once");

    // The same key with another request is refused.
    let other = json!({"loginId": "idem2", "firstName": "I", "lastName": "D"});
    c.send(Method::POST, "/api/v1/agents", Some(other.clone()), &h).await.problem(422, "idempotency_key_reused");
    // A failed request keeps nothing: fix it and retry under the same key.
    let h2 = [("idempotency-key", "k2")];
    c.send(Method::POST, "/api/v1/agents", Some(json!({"loginId": "idem2"})), &h2).await.problem(422, "invalid");
    c.send(Method::POST, "/api/v1/agents", Some(other), &h2).await.expect(201);
    // Keys are per tenant: another tenant may use the same key.
    let t2 = srv.tenant("other").await;
    srv.client(&t2.key).send(Method::POST, "/api/v1/agents", Some(body), &h).await.expect(201);
    c.send(Method::POST, "/api/v1/skills", Some(json!({"name": "x"})), &[("idempotency-key", &"k".repeat(300))])
        .await
        .problem(400, "bad_request");
}

#[tokio::test]
async fn concurrent_retries_with_one_key_write_once() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.spawn(async move {
            c.send(Method::POST, "/api/v1/skills", Some(json!({"name": "Once"})), &[("idempotency-key", "race")]).await.status.as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert!(statuses.contains(&201));
    assert_eq!(c.get("/api/v1/skills").await.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let srv = Server::start().await;
    let r = srv.anonymous().get("/api/v1/openapi.json").await.expect(200);
    let doc = r.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let expect: &[(&str, &[&str])] = &[
        ("/api/v1/agents", &["get", "post"]),
        ("/api/v1/agents/{id}", &["get", "patch", "delete"]),
        ("/api/v1/agents/{id}/unlock", &["post"]),
        ("/api/v1/agents/{id}/skills", &["get"]),
        ("/api/v1/agents/{id}/skills/{skillId}", &["put", "delete"]),
        ("/api/v1/agents/{id}/services", &["get"]),
        ("/api/v1/agents/{id}/services/{serviceId}", &["put", "delete"]),
        ("/api/v1/agents/{id}/groups", &["get"]),
        ("/api/v1/agents/{id}/groups/{groupId}", &["put", "delete"]),
        ("/api/v1/users", &["get", "post"]),
        ("/api/v1/users/{id}", &["get", "patch", "delete"]),
        ("/api/v1/api-keys", &["get", "post"]),
        ("/api/v1/api-keys/{id}", &["get", "delete"]),
        ("/api/v1/tenant", &["get", "patch"]),
        ("/api/v1/audit", &["get"]),
    ];
    for (p, methods) in expect {
        for m in *methods {
            assert!(paths.get(*p).and_then(|x| x.get(*m)).is_some(), "{m} {p} missing from the OpenAPI document");
        }
    }
    for coll in ["skills", "call-centers", "groups", "services", "phones", "dids", "campaigns"] {
        for m in ["get", "post"] {
            assert!(paths[&format!("/api/v1/{coll}")].get(m).is_some(), "{m} {coll}");
        }
        for m in ["get", "patch", "delete"] {
            assert!(paths[&format!("/api/v1/{coll}/{{id}}")].get(m).is_some(), "{m} {coll}/{{id}}");
        }
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["schemas"]["AgentDetail"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[tokio::test]
async fn probes_metrics_and_request_ids() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let anon = srv.anonymous();
    let r = anon.get("/healthz").await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-request-id").is_some_and(|id| id.len() >= 32));
    let r = anon.send(Method::GET, "/healthz", None, &[("x-request-id", "trace-me-42")]).await;
    assert_eq!(r.header("x-request-id").as_deref(), Some("trace-me-42"));
    assert_eq!(anon.get("/readyz").await.status, 200);
    srv.client(&t.key).get("/api/v1/agents").await.expect(200);
    let m = srv.http_text("/metrics").await;
    assert!(m.contains("switchboard_http_requests_total{method=\"GET\",route=\"/api/v1/agents\",status=\"200\"}"), "{m}");
    assert!(m.contains("switchboard_http_request_duration_seconds_bucket"), "{m}");
    anon.get("/nope").await.problem(404, "not_found");
    anon.send(Method::PUT, "/healthz", None, &[]).await.problem(405, "method_not_allowed");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let huge = json!({"name": "x", "description": "d".repeat(2 * 1024 * 1024)});
    let r = c.post("/api/v1/skills", huge).await;
    assert_eq!(r.status, 413);
    let big: Vec<Value> = (0..5000).map(|i| json!({"skillId": i, "proficiency": 1})).collect();
    let r = c.post("/api/v1/agents", json!({"loginId": "x", "firstName": "a", "lastName": "b", "skills": big})).await;
    assert!(r.status == 422, "a huge but well-formed list is checked, not crashed on: {}", r.status);
    assert_eq!(c.get("/api/v1/agents").await.body["items"], json!([]));
}

#[tokio::test]
async fn restart_keeps_everything() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let skill = c.post("/api/v1/skills", json!({"name": "Persist"})).await.expect(201).id();
    let id = c
        .post(
            "/api/v1/agents",
            json!({"loginId": "keep", "firstName": "K", "lastName": "P", "skills": [{"skillId": skill, "proficiency": 2}]}),
        )
        .await
        .expect(201)
        .id();
    let before = c.get(&format!("/api/v1/agents/{id}")).await.body;
    let srv = srv.restart().await;
    let c = srv.client(&t.key);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body, before);
    assert_eq!(c.get(&format!("/api/v1/skills/{skill}")).await.expect(200).body["name"], "Persist");
    // Tenant, admin user and key, then the skill and the agent.
    assert_eq!(c.get("/api/v1/audit").await.body["items"].as_array().unwrap().len(), 5);
}
