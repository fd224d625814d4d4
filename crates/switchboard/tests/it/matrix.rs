//! The refusal matrix: for the write and read routes of every dialect, a
//! caller of another tenant, no credentials, a revoked key, an expired
//! session and an Agent-role user are each refused in the dialect's own
//! documented form, and tenant A's data is unchanged afterwards.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_http::HttpConfig;

/// A request as a dialect client sends it.
struct Req {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// Who calls: how each dialect carries their credentials.
#[derive(Clone)]
struct Caller {
    label: &'static str,
    /// An API key (native Bearer, LiveVox Bearer, Ozonetel apiKey, DeepCall token).
    key: Option<String>,
    /// Its user's id (DeepCall `userId`).
    user_id: Option<i64>,
    /// A LiveVox session id / DeepCall ssid.
    session: Option<String>,
    /// The tenant name the caller claims (Ozonetel `userName`).
    tenant_name: String,
}

fn req(method: Method, path: &str, headers: Vec<(&str, String)>, body: Option<Value>) -> Req {
    Req {
        method,
        path: path.to_string(),
        headers: headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        body: body.map(|b| b.to_string()),
    }
}

/// The dialect routes that read or change agent `id` (loginId `JDOE`) of tenant A.
fn routes(c: &Caller, id: i64, group: i64) -> Vec<(&'static str, &'static str, Req)> {
    let bearer = c.key.as_ref().map(|k| ("Authorization", format!("Bearer {k}"))).into_iter().collect::<Vec<_>>();
    let lv = match &c.session {
        Some(s) => vec![("LV-Session", s.clone())],
        None => bearer.clone(),
    };
    let dc_auth = match (&c.session, &c.key) {
        (Some(s), _) => json!({"ssid": s}),
        (None, Some(k)) => json!({"userId": c.user_id.unwrap_or(0), "token": k}),
        (None, None) => json!({}),
    };
    let with = |mut base: Value, extra: Value| {
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let oz = c.key.as_ref().map(|k| ("apiKey", k.clone())).into_iter().collect::<Vec<_>>();
    vec![
        ("native", "read", req(Method::GET, &format!("/api/v1/agents/{id}"), bearer.clone(), None)),
        ("native", "write", req(Method::PATCH, &format!("/api/v1/agents/{id}"), bearer.clone(), Some(json!({"firstName": "Mallory"})))),
        ("livevox", "read", req(Method::GET, &format!("/configuration/agents/{id}"), lv.clone(), None)),
        ("livevox", "write", req(Method::PUT, &format!("/configuration/agents/{id}"), lv.clone(), Some(json!({"firstName": "Mallory"})))),
        ("livevox", "write", req(Method::DELETE, &format!("/configuration/agents/{id}"), lv.clone(), None)),
        ("livevox", "write", req(Method::PUT, &format!("/configuration/agents/{id}/skills/1?proficiency=1"), lv.clone(), None)),
        ("livevox", "write", req(Method::DELETE, &format!("/configuration/agents/{id}/skills/1"), lv.clone(), None)),
        ("livevox", "write", req(Method::PUT, &format!("/configuration/agents/{id}/services/1"), lv.clone(), None)),
        ("livevox", "write", req(Method::DELETE, &format!("/configuration/agents/{id}/services/1"), lv.clone(), None)),
        (
            "livevox",
            "write",
            req(
                Method::POST,
                "/configuration/agents?client=1",
                lv.clone(),
                Some(
                    json!({"clientId": 1, "loginId": "x", "firstName": "x", "lastName": "y", "password": "A12345678", "phone": "5551234", "wrapUpTime": -1, "homeAgent": false, "active": true}),
                ),
            ),
        ),
        ("livevox", "write", req(Method::POST, "/configuration/agents/skills?client=1", lv.clone(), Some(json!({"name": "Mallory"})))),
        ("livevox", "write", req(Method::PUT, "/configuration/agents/skills/1", lv.clone(), Some(json!({"name": "Mallory"})))),
        ("livevox", "write", req(Method::DELETE, "/configuration/agents/skills/1", lv.clone(), None)),
        ("livevox", "read", req(Method::GET, &format!("/configuration/agents/{id}/related"), lv.clone(), None)),
        ("livevox", "read", req(Method::GET, "/configuration/agents?client=1&count=10&offset=0", lv.clone(), None)),
        ("livevox", "read", req(Method::GET, "/configuration/agents/info?client=1", lv.clone(), None)),
        (
            "livevox",
            "read",
            req(Method::POST, "/configuration/agents/search?client=1&count=10&offset=0", lv.clone(), Some(json!({"lastName": "Doe"}))),
        ),
        ("livevox", "read", req(Method::GET, "/configuration/agents/skills/1", lv.clone(), None)),
        ("livevox", "read", req(Method::GET, "/configuration/agents/skills?client=1&count=10&offset=0", lv.clone(), None)),
        ("livevox", "read", req(Method::GET, "/configuration/agents/skills/info?client=1", lv.clone(), None)),
        ("livevox", "read", req(Method::GET, "/configuration/callCenters?client=1&count=10&offset=0", lv.clone(), None)),
        ("livevox", "read", req(Method::GET, "/configuration/services?client=1&count=10&offset=0", lv.clone(), None)),
        (
            "deepcall",
            "read",
            req(Method::POST, "/api/v2/Agent/getAgentGroupMapping", vec![], Some(with(dc_auth.clone(), json!({"agentId": id})))),
        ),
        (
            "deepcall",
            "write",
            req(
                Method::POST,
                "/api/v2/Agent/updateAgentGroupMapping",
                vec![],
                Some(with(dc_auth, json!({"agentId": id, "group": {group.to_string(): {"receive_call": "N"}}}))),
            ),
        ),
        (
            "ozonetel",
            "write",
            req(
                Method::PUT,
                "/ca_apis/updateAgent",
                oz.clone(),
                Some(
                    json!({"userName": c.tenant_name, "agentId": "jdoe", "agentName": "Mallory M", "password": "abc", "email": "m@example.com"}),
                ),
            ),
        ),
        (
            "ozonetel",
            "write",
            req(
                Method::POST,
                "/ca_apis/PhoneManageV2",
                oz.clone(),
                Some(
                    json!({"userName": c.tenant_name, "action": "edit", "phoneNumber": "5550100", "phoneName": "Desk", "phoneNameNew": "Mallory"}),
                ),
            ),
        ),
        (
            "ozonetel",
            "write",
            req(
                Method::POST,
                "/APIServices/dynamic/did/update",
                vec![],
                Some(
                    json!({"username": c.tenant_name, "apiKey": c.key.clone().unwrap_or_default(), "campaignName": "Spring", "dynamicDIDs": "5550199", "fallbackDynamicDIDs": "5550199"}),
                ),
            ),
        ),
    ]
}

async fn send(base: &str, r: &Req) -> (u16, String) {
    let mut b = reqwest::Client::new().request(r.method.clone(), format!("{base}{}", r.path));
    for (k, v) in &r.headers {
        b = b.header(k, v);
    }
    if let Some(body) = &r.body {
        b = b.header("Content-Type", "application/json").body(body.clone());
    }
    let resp = b.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Whether an answer is the dialect's documented refusal.
fn refused(dialect: &str, status: u16, body: &str) -> bool {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    match dialect {
        "native" => matches!(status, 401 | 403 | 404) && v["type"].as_str().is_some_and(|t| t.starts_with("urn:switchboard:problem:")),
        "livevox" => (status == 403 && v["Message"] == "Access denied") || (status == 404 && v["code"] == 203),
        "deepcall" => body == r#"{"status":"error","message":"Permission denied","code":1015}"# || v["code"] == 1509 || v["code"] == 1505,
        "ozonetel" => {
            matches!(status, 400 | 401 | 403 | 404)
                && (body.contains("Invalid User Details")
                    || body.contains("Api Key Should Not be Null or Empty.")
                    || body.contains("Permission denied")
                    || body.contains("Authentication failed.")
                    || body.contains("userName or apiKey not valid")
                    || body.contains("Agent not found")
                    || body.contains("Campaign not found"))
        }
        _ => false,
    }
}

async fn snapshot(c: &Client, id: i64) -> Value {
    json!({
        "agent": c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body,
        "phones": c.get("/api/v1/phones").await.body["items"],
        "campaigns": c.get("/api/v1/campaigns").await.body["items"],
        "skills": c.get("/api/v1/skills").await.body["items"],
    })
}

#[tokio::test]
async fn every_dialect_refuses_every_unauthorised_caller_in_its_own_form() {
    let srv =
        Server::start_with(HttpConfig { session_idle: Duration::from_millis(800), rate_limit_override: Some(1000), ..Default::default() })
            .await;
    let a = srv.tenant("acme").await;
    let b = srv.tenant("globex").await;
    let ca = srv.client(&a.key);
    // Tenant A's first skill, call center and service have id 1 (a fresh database).
    assert_eq!(ca.post("/api/v1/skills", json!({"name": "S"})).await.expect(201).id(), 1);
    let cc = ca.post("/api/v1/call-centers", json!({"name": "CC"})).await.expect(201).id();
    assert_eq!(ca.post("/api/v1/services", json!({"name": "Svc", "callCenterId": cc})).await.expect(201).id(), 1);
    assert_eq!(a.client_id, 1);
    let group = ca.post("/api/v1/groups", json!({"name": "G"})).await.expect(201).id();
    let id = ca
        .post("/api/v1/agents", json!({"loginId": "jdoe", "firstName": "John", "lastName": "Doe", "email": "j@example.com", "password": "secret123", "groups": [{"groupId": group, "receiveCall": true}]}))
        .await
        .expect(201)
        .id();
    ca.post("/api/v1/phones", json!({"number": "5550100", "name": "Desk"})).await.expect(201);
    ca.post("/api/v1/dids", json!({"number": "5550199"})).await.expect(201);
    ca.post("/api/v1/campaigns", json!({"name": "Spring", "dynamicDids": ["5550199"]})).await.expect(201);
    let before = snapshot(&ca, id).await;
    // Tenant B has an agent of the same loginId, so "not found" is not the reason.
    srv.client(&b.key).agent("jdoe").await;

    // A revoked key of A.
    let revoked = ca.post("/api/v1/api-keys", json!({"name": "old"})).await.expect(201).body;
    ca.delete(&format!("/api/v1/api-keys/{}", revoked["id"])).await.expect(204);
    // An Agent-role user of A, with its own key.
    let agent_user = ca
        .post("/api/v1/users", json!({"username": "viewer", "role": "agent", "password": "viewer123", "withApiKey": true}))
        .await
        .expect(201)
        .body;
    // Expired sessions: a LiveVox session and a native (DeepCall) session, left idle.
    let lv_login = reqwest::Client::new()
        .post(format!("{}/session/login", srv.base()))
        .header("LV-Access", &a.key)
        .json(&json!({"clientName": "acme", "userName": "admin", "password": a.admin_password}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let lv_sid = lv_login["sessionId"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let callers = [
        Caller { label: "tenant B", key: Some(b.key.clone()), user_id: Some(b.admin_user_id), session: None, tenant_name: "globex".into() },
        Caller {
            label: "tenant B naming A",
            key: Some(b.key.clone()),
            user_id: Some(b.admin_user_id),
            session: None,
            tenant_name: "acme".into(),
        },
        Caller { label: "no credentials", key: None, user_id: None, session: None, tenant_name: "acme".into() },
        Caller {
            label: "revoked key",
            key: revoked["apiKey"].as_str().map(str::to_owned),
            user_id: Some(a.admin_user_id),
            session: None,
            tenant_name: "acme".into(),
        },
        Caller { label: "expired session", key: None, user_id: None, session: Some(lv_sid), tenant_name: "acme".into() },
        Caller {
            label: "agent role",
            key: agent_user["apiKey"].as_str().map(str::to_owned),
            user_id: agent_user["id"].as_i64(),
            session: None,
            tenant_name: "acme".into(),
        },
    ];
    let mut checked = 0;
    for c in &callers {
        for (dialect, kind, r) in routes(c, id, group) {
            // The Agent role may read; everyone else may do nothing.
            if c.label == "agent role" && kind == "read" {
                continue;
            }
            // Ozonetel names agents by loginId within the account the caller
            // names: B naming itself reaches its own "jdoe", legitimately.
            if c.label == "tenant B" && dialect == "ozonetel" {
                continue;
            }
            let (status, body) = send(&srv.base(), &r).await;
            assert!(refused(dialect, status, &body), "{} → {dialect} {} {}: {status} {body}", c.label, r.method, r.path);
            checked += 1;
        }
    }
    assert!(checked >= 60, "{checked}");
    assert_eq!(snapshot(&ca, id).await, before, "nothing of tenant A changed");
    assert_eq!(ca.get(&format!("/api/v1/agents/{id}/groups")).await.body, json!([{"groupId": group, "receiveCall": true}]));
}
