//! The Ozonetel CloudAgent dialect: every row of every "Possible responses"
//! table of the three documents, sent as an Ozonetel client sends it (apiKey
//! header, JSON body, `%2B` for `+`), with exact status and body bytes; state
//! read back through the native API to show that failures change nothing.

use crate::support::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_domain::Directory;
use switchboard_http::HttpConfig;

// The documented bodies, byte for byte.
const API_KEY_MISSING: &str = r#"{"status": "false","message": "Api Key Should Not be Null or Empty.", "data": null}"#;
const INVALID_USER: &str = r#"{"status": "false","message": "Invalid User Details","data": null}"#;
const AGENT_NOT_FOUND: &str = r#"{ "status": "error", "message": "Agent not found" }"#;
const AGENT_NAME_INVALID: &str = r#"{"Status": "Fail","Message": { "agentName": "The agent name must not be empty and it should be between 2 and 50 alphanumeric characters and allow special characters such as., @, _, -"}}"#;
const AGENT_NAME_REQUIRED: &str = r#"{"status": "error", "message": "Agent Name is required"}"#;
const PASSWORD_LENGTH: &str = r#"{"message": "Password length must be between 3 and 50 characters","status": "error"}"#;
const PASSWORD_REQUIRED: &str = r#"{"message": "Password is required", "status": "error"}"#;
const EMAIL_INVALID: &str = r#"{"message": "Invalid email format", "status": "error"}"#;
const EMAIL_REQUIRED: &str = r#"{"message": "Email should not be null or empty","status": "error"}"#;
const MAX_LIMIT: &str = r#"{"status": "error", "message": "Max limit exceeded"}"#;
const AGENT_UPDATED: &str = r#"{"status":"success","message":"Agent Updated Successfully"}"#;

const PHONE_OK: &str = r#"{"status":"success","message":"record inserted successfully"}"#;
const PHONE_SKILLS_FAILED: &str =
    r#"{"status":"success","message":"record inserted successfully and failed to insert skills please pass the valid skills"}"#;
const PHONE_AUTH: &str = r#"{"status":"error","message":"userName or apiKey not valid"}"#;
const PHONE_ACTION: &str = r#"{"status":"error","message":"action not valid"}"#;
const PHONE_NUMERIC: &str = r#"{"status":"error","message":"phoneNumber must be numeric"}"#;
const PHONE_NAME_EMPTY: &str = r#"{"status":"error","message":"phoneName cannot be empty"}"#;
const PHONE_NUMBER_EMPTY: &str = r#"{"status":"error","message":"phoneNumber cannot be empty"}"#;
const PHONE_EXISTS: &str = r#"{"status":"error","message":"phone_name or phone_number already exist"}"#;
const PHONE_LIMIT: &str = r#"{"status":"error","message":" Phone Number Limit Exceeded. Please refer to the 'Phone Number Creation Limit' option under 'Edit Profile' for reference. "}"#;

const DIDS_OK: &str = r#"{"Message":"Dynamic DIDs updated successfully"}"#;
const DIDS_AUTH: &str = r#"{"Message":"Authentication failed."}"#;
const DIDS_CAMPAIGN: &str = r#"{"Message":"Campaign not found."}"#;
const DIDS_INVALID: &str = r#"{"Message":"Please enter the Valid DIDs assigned to the account."}"#;
const DIDS_REQUIRED: &str = r#"{"Message":"DIDs is required"}"#;
const FALLBACK_INVALID: &str = r#"{"Message":"Please enter the Valid FallbackDIDs assigned to the account."}"#;
const FALLBACK_REQUIRED: &str = r#"{"Message":"fallbackDIDs is required"}"#;

/// An Ozonetel client's answer: status, body text, Retry-After.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
    retry_after: Option<String>,
    content_type: Option<String>,
}

impl Answer {
    #[track_caller]
    fn is(&self, status: u16, body: &str) {
        assert_eq!((self.status, self.body.as_str()), (status, body));
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
    }
}

/// Sends a request the way Ozonetel's clients do: JSON text, `apiKey` header.
async fn send(base: &str, method: reqwest::Method, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req =
        reqwest::Client::new().request(method, format!("{base}{path}")).header("Content-Type", "application/json").body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("request sent");
    let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (status, retry_after, content_type) = (r.status().as_u16(), h("retry-after"), h("content-type"));
    Answer { status, body: r.text().await.expect("body"), retry_after, content_type }
}

async fn update_agent(base: &str, key: Option<&str>, body: Value) -> Answer {
    let headers: Vec<(&str, &str)> = key.map(|k| vec![("apiKey", k)]).unwrap_or_default();
    send(base, reqwest::Method::PUT, "/ca_apis/updateAgent", &headers, &body.to_string()).await
}

async fn phone(base: &str, key: &str, body: Value) -> Answer {
    send(base, reqwest::Method::POST, "/ca_apis/PhoneManageV2", &[("apiKey", key)], &body.to_string()).await
}

async fn dids(base: &str, body: Value) -> Answer {
    send(base, reqwest::Method::POST, "/APIServices/dynamic/did/update", &[], &body.to_string()).await
}

fn base(srv: &Server) -> String {
    format!("http://{}", srv.addr)
}

/// A tenant `acme` with an agent JDOE, skills General and Hindi, groups Tier 1
/// and Tier 2; `limit` is its updateAgent rate limit.
async fn acme(srv: &Server, limit: u32) -> (Tenant, Client, i64) {
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    c.patch("/api/v1/tenant", json!({"settings": {"rateLimits": {"ozonetel.updateAgent": limit}}})).await.expect(200);
    for s in ["General", "Hindi"] {
        c.post("/api/v1/skills", json!({"name": s})).await.expect(201);
    }
    for g in ["Tier 1", "Tier 2"] {
        c.post("/api/v1/groups", json!({"name": g})).await.expect(201);
    }
    let id = c
        .post(
            "/api/v1/agents",
            json!({"loginId": "jdoe", "firstName": "John", "lastName": "Doe", "displayName": "John Doe",
                   "email": "john@example.com", "password": "secret123"}),
        )
        .await
        .expect(201)
        .id();
    (t, c, id)
}

fn valid_update() -> Value {
    json!({"userName": "acme", "agentId": "jdoe", "agentName": "Johnny D", "password": "abc", "email": "johnny@example.com"})
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v[key] = val;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

#[tokio::test]
async fn update_agent_answers_every_documented_case() {
    let srv = Server::start().await;
    let (t, c, id) = acme(&srv, 1000).await;
    let b = base(&srv);
    let before = c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body;
    let k = Some(t.key.as_str());

    // Missing apiKey key / Missing apiKey Value.
    update_agent(&b, None, valid_update()).await.is(401, API_KEY_MISSING);
    update_agent(&b, Some(""), valid_update()).await.is(401, API_KEY_MISSING);
    // Passing Invalid apiKey Value.
    update_agent(&b, Some("sb_not-a-key"), valid_update()).await.is(401, INVALID_USER);
    // Invalid userName Value / Missing userName key / Missing userName Value.
    update_agent(&b, k, with(valid_update(), "userName", json!("other"))).await.is(401, INVALID_USER);
    update_agent(&b, k, without(valid_update(), "userName")).await.is(401, INVALID_USER);
    update_agent(&b, k, with(valid_update(), "userName", json!(""))).await.is(401, INVALID_USER);
    // Invalid agentId Value / Missing agentId key / Missing agentId Value.
    update_agent(&b, k, with(valid_update(), "agentId", json!("nobody"))).await.is(404, AGENT_NOT_FOUND);
    update_agent(&b, k, without(valid_update(), "agentId")).await.is(404, AGENT_NOT_FOUND);
    update_agent(&b, k, with(valid_update(), "agentId", json!(""))).await.is(404, AGENT_NOT_FOUND);
    // Passing Invalid agentName Value.
    for bad in ["J", "Ann O'Neil", &"x".repeat(51)] {
        update_agent(&b, k, with(valid_update(), "agentName", json!(bad))).await.is(400, AGENT_NAME_INVALID);
    }
    // Missing agentName Value.
    update_agent(&b, k, with(valid_update(), "agentName", json!(""))).await.is(400, AGENT_NAME_REQUIRED);
    // Passing Invalid password Value.
    update_agent(&b, k, with(valid_update(), "password", json!("ab"))).await.is(400, PASSWORD_LENGTH);
    update_agent(&b, k, with(valid_update(), "password", json!("p".repeat(51)))).await.is(400, PASSWORD_LENGTH);
    // Missing password Value.
    update_agent(&b, k, with(valid_update(), "password", json!(""))).await.is(400, PASSWORD_REQUIRED);
    // Passing Invalid email Value.
    update_agent(&b, k, with(valid_update(), "email", json!("not-an-email"))).await.is(400, EMAIL_INVALID);
    // Missing email key / Missing email Value.
    update_agent(&b, k, without(valid_update(), "email")).await.is(400, EMAIL_REQUIRED);
    update_agent(&b, k, with(valid_update(), "email", json!(""))).await.is(400, EMAIL_REQUIRED);
    // The documented order: the first failing check answers.
    let all_bad = json!({"userName": "acme", "agentId": "jdoe", "agentName": "J", "password": "", "email": ""});
    update_agent(&b, k, all_bad).await.is(400, AGENT_NAME_INVALID);

    // None of the failures changed anything (same version, same fields).
    assert_eq!(c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body, before);

    // Success; agentId matches the loginId in any case; apiKey also in the body.
    update_agent(&b, k, with(valid_update(), "agentId", json!("JDoe"))).await.is(200, AGENT_UPDATED);
    let a = c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body;
    assert_eq!((a["displayName"].as_str(), a["email"].as_str()), (Some("Johnny D"), Some("johnny@example.com")));
    assert!(a["passwordLastModified"].as_i64() > before["passwordLastModified"].as_i64());
    update_agent(&b, None, with(valid_update(), "apiKey", json!(t.key))).await.is(200, AGENT_UPDATED);
    // Sending the current password again is not a password change.
    let again = c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body;
    assert_eq!(again["passwordLastModified"], a["passwordLastModified"]);
}

#[tokio::test]
async fn update_agent_optional_fields_map_onto_the_domain_atomically() {
    let srv = Server::start().await;
    let (t, c, id) = acme(&srv, 1000).await;
    let (b, k) = (base(&srv), Some(t.key.as_str()));
    let skills = c.get("/api/v1/skills").await.expect(200).body["items"].clone();
    let (general, hindi) = (skills[0]["id"].as_i64().unwrap(), skills[1]["id"].as_i64().unwrap());
    let groups = c.get("/api/v1/groups").await.expect(200).body["items"].clone();
    let (tier1, tier2) = (groups[0]["id"].as_i64().unwrap(), groups[1]["id"].as_i64().unwrap());

    let body = json!({"userName": "acme", "agentId": "jdoe", "agentName": "John Doe", "password": "abc", "email": "john@example.com",
        "agentIdNew": "jd2", "agentNameNew": "Jay Dee",
        "assignSkills": [{"skillName": "general", "priority": 3}, {"skillName": "Hindi"}],
        "assignAgentGroups": "Tier 1,Tier 2", "locked": true, "inbound": "true", "autoAnswer": false, "sipLocation": "blr"});
    update_agent(&b, k, body).await.is(200, AGENT_UPDATED);
    let a = c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body;
    assert_eq!(a["loginId"], "JD2");
    assert_eq!(a["displayName"], "Jay Dee");
    assert_eq!(a["locked"], true);
    assert_eq!(a["attributes"], json!({"inbound": true, "autoAnswer": false, "sipLocation": "blr"}));
    assert_eq!(a["skills"], json!([{"skillId": general, "proficiency": 3}, {"skillId": hindi, "proficiency": 1}]));
    assert_eq!(a["groups"], json!([{"groupId": tier1, "receiveCall": true}, {"groupId": tier2, "receiveCall": true}]));

    // Unassigning, with the detailed response.
    let body = json!({"userName": "acme", "agentId": "jd2", "agentName": "Jay Dee", "password": "abc", "email": "john@example.com",
        "unAssignSkills": [{"skillName": "General"}], "unAssignAgentGroups": "tier 1", "locked": "false"});
    let r = send(&b, reqwest::Method::PUT, "/ca_apis/updateAgent?detailedResponse=true", &[("apiKey", &t.key)], &body.to_string()).await;
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["agentId"], "JD2");
    assert_eq!(v["data"]["skills"], json!([{"skillName": "Hindi", "priority": 1}]));
    assert_eq!(v["data"]["agentGroups"], json!(["Tier 2"]));
    assert_eq!(v["data"]["locked"], false);

    // An unknown skill or group fails the whole request: nothing changes.
    let before = c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body;
    let bad = json!({"userName": "acme", "agentId": "jd2", "agentName": "Other Name", "password": "xyz1", "email": "o@example.com",
        "assignSkills": [{"skillName": "General"}, {"skillName": "Klingon"}]});
    update_agent(&b, k, bad).await.is(400, r#"{"status":"error","message":"Skill not found: Klingon"}"#);
    let bad = json!({"userName": "acme", "agentId": "jd2", "agentName": "Other Name", "password": "xyz1", "email": "o@example.com",
        "unAssignAgentGroups": "Tier 2", "assignAgentGroups": "Nowhere"});
    update_agent(&b, k, bad).await.is(400, r#"{"status":"error","message":"Agent group not found: Nowhere"}"#);
    let bad = json!({"userName": "acme", "agentId": "jd2", "agentName": "Jay Dee", "password": "abc", "email": "john@example.com", "inbound": "maybe"});
    update_agent(&b, k, bad).await.is(400, r#"{"status":"error","message":"Invalid inbound value"}"#);
    // agentIdNew taken by another agent.
    c.agent("taken").await;
    let bad = json!({"userName": "acme", "agentId": "jd2", "agentName": "Jay Dee", "password": "abc", "email": "john@example.com", "agentIdNew": "Taken"});
    update_agent(&b, k, bad).await.is(409, r#"{"status":"error","message":"Agent Id already exists"}"#);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body, before);
}

#[tokio::test]
async fn update_agent_rate_limit_is_per_tenant_and_configurable() {
    let srv = Server::start().await;
    let b = base(&srv);
    // The vendor's default: 5 a minute.
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    c.agent("jdoe").await;
    for _ in 0..5 {
        update_agent(&b, Some(&t.key), valid_update()).await.is(200, AGENT_UPDATED);
    }
    let r = update_agent(&b, Some(&t.key), valid_update()).await;
    r.is(429, MAX_LIMIT);
    // Until the first of the five is a minute old (a sliding window).
    let wait: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((50..=60).contains(&wait), "{wait}");
    // Another tenant has its own budget; bad credentials do not spend one.
    let other = srv.tenant("globex").await;
    srv.client(&other.key).agent("jdoe").await;
    let body = with(valid_update(), "userName", json!("globex"));
    update_agent(&b, Some(&t.key), body.clone()).await.is(401, INVALID_USER);
    update_agent(&b, Some(&other.key), body).await.is(200, AGENT_UPDATED);

    // A tenant's own setting (requests per minute).
    c.patch("/api/v1/tenant", json!({"settings": {"rateLimits": {"ozonetel.updateAgent": 2}}})).await.expect(200);
    update_agent(&b, Some(&t.key), valid_update()).await.is(200, AGENT_UPDATED);
    update_agent(&b, Some(&t.key), valid_update()).await.is(200, AGENT_UPDATED);
    update_agent(&b, Some(&t.key), valid_update()).await.is(429, MAX_LIMIT);
}

/// A server with its own HTTP settings (token lifetime, rate-limit override).
struct Custom {
    base: String,
    dir: Directory,
    _srv: Server,
}

async fn custom(config: HttpConfig) -> Custom {
    let srv = Server::start_with(config).await;
    Custom { base: srv.base(), dir: srv.dir.clone(), _srv: srv }
}

#[tokio::test]
async fn the_global_override_replaces_every_limit() {
    let srv = custom(HttpConfig { rate_limit_override: Some(1), ..Default::default() }).await;
    let t = srv.dir.create_tenant("acme", None).await.unwrap();
    let key = t.api_key.unwrap();
    let c = Client { base: srv.base.clone(), key: Some(key.clone()), http: reqwest::Client::new() };
    c.agent("jdoe").await;
    update_agent(&srv.base, Some(&key), valid_update()).await.is(200, AGENT_UPDATED);
    update_agent(&srv.base, Some(&key), valid_update()).await.is(429, MAX_LIMIT);
    // Endpoints without a configured limit stay unlimited.
    for _ in 0..3 {
        phone(
            &srv.base,
            &key,
            json!({"userName": "acme", "action": "edit", "phoneNumber": "123", "phoneName": "x", "phoneNumberNew": "123"}),
        )
        .await;
    }
    let r = phone(
        &srv.base,
        &key,
        json!({"userName": "acme", "action": "edit", "phoneNumber": "123", "phoneName": "x", "phoneNumberNew": "123"}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn tokens_replace_the_api_key_and_expire() {
    let srv = custom(HttpConfig { ozonetel_token_ttl: Duration::from_millis(1500), ..Default::default() }).await;
    let t = srv.dir.create_tenant("acme", None).await.unwrap();
    let key = t.api_key.unwrap();
    let other = srv.dir.create_tenant("globex", None).await.unwrap().api_key.unwrap();
    let c = Client { base: srv.base.clone(), key: Some(key.clone()), http: reqwest::Client::new() };
    c.agent("jdoe").await;
    let b = &srv.base;
    let gen = |k: &str, body: Value| {
        let k = k.to_string();
        async move { send(b, reqwest::Method::POST, "/ca_apis/CAToken/generateToken", &[("apiKey", &k)], &body.to_string()).await }
    };
    gen("", json!({"userName": "acme"})).await.is(401, API_KEY_MISSING);
    gen(&other, json!({"userName": "acme"})).await.is(401, INVALID_USER);
    let r = gen(&key, json!({"userName": "acme"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(v.as_object().unwrap().len(), 1);
    let bearer = format!("Bearer {token}");
    let put = |auth: Vec<(&'static str, String)>, body: Value| async move {
        let h: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        send(b, reqwest::Method::PUT, "/ca_apis/updateAgent", &h, &body.to_string()).await
    };
    put(vec![("Authorization", bearer.clone())], valid_update()).await.is(200, AGENT_UPDATED);
    // The token is the tenant's: another userName is refused.
    put(vec![("Authorization", bearer.clone())], with(valid_update(), "userName", json!("globex"))).await.is(401, INVALID_USER);
    put(vec![("Authorization", "Bearer nonsense".into())], valid_update()).await.is(401, INVALID_USER);

    // TOKEN_AUTH: the apiKey alone no longer works, the token does.
    c.patch("/api/v1/tenant", json!({"settings": {"apiAuthentication": "TOKEN_AUTH"}})).await.expect(200);
    put(vec![("apiKey", key.clone())], valid_update()).await.is(401, INVALID_USER);
    phone(b, &key, json!({"userName": "acme", "action": "create", "phoneNumber": "123", "phoneName": "x"})).await.is(401, PHONE_AUTH);
    put(vec![("Authorization", bearer.clone())], valid_update()).await.is(200, AGENT_UPDATED);

    // Tokens expire.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    put(vec![("Authorization", bearer)], valid_update()).await.is(401, INVALID_USER);
}

#[tokio::test]
async fn a_key_of_another_tenant_is_invalid_user_details_everywhere() {
    let srv = Server::start().await;
    let (_, c, id) = acme(&srv, 1000).await;
    let b = base(&srv);
    let other = srv.tenant("globex").await;
    let before = c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body;
    update_agent(&b, Some(&other.key), valid_update()).await.is(401, INVALID_USER);
    phone(&b, &other.key, json!({"userName": "acme", "action": "create", "phoneNumber": "123", "phoneName": "x"}))
        .await
        .is(401, PHONE_AUTH);
    let body = json!({"username": "acme", "campaignName": "x", "apiKey": other.key, "dynamicDIDs": "1", "fallbackDynamicDIDs": "1"});
    dids(&b, body).await.is(401, DIDS_AUTH);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}")).await.expect(200).body, before);
    assert_eq!(c.get("/api/v1/phones").await.expect(200).body["items"], json!([]));
}

#[tokio::test]
async fn phone_manage_answers_every_documented_case() {
    let srv = Server::start().await;
    let (t, c, _) = acme(&srv, 1000).await;
    let (b, k) = (base(&srv), t.key.as_str());
    c.post("/api/v1/phones", json!({"number": "+919876543210", "name": "Desk 1", "skills": ["General"]})).await.expect(201);
    c.post("/api/v1/phones", json!({"number": "+919876543299", "name": "Desk 2"})).await.expect(201);
    let phones = || async { c.get("/api/v1/phones").await.expect(200).body["items"].clone() };
    let before = phones().await;
    let edit = |extra: Value| {
        let mut v = json!({"userName": "acme", "action": "edit", "phoneNumber": "%2B919876543210", "phoneName": "desk 1", "phoneNumberNew": "%2B919876543210"});
        for (key, val) in extra.as_object().unwrap() {
            v[key] = val.clone();
        }
        v
    };

    // Invalid api_key / Invalid username.
    phone(&b, "sb_wrong", edit(json!({}))).await.is(401, PHONE_AUTH);
    phone(&b, k, edit(json!({"userName": "nobody"}))).await.is(401, PHONE_AUTH);
    phone(&b, "", edit(json!({}))).await.is(401, PHONE_AUTH);
    // Invalid action.
    phone(&b, k, edit(json!({"action": "rename"}))).await.is(400, PHONE_ACTION);
    // Invalid phoneNumber.
    phone(&b, k, edit(json!({"phoneNumber": "98765abc"}))).await.is(400, PHONE_NUMERIC);
    phone(&b, k, edit(json!({"phoneNumberNew": "12-34"}))).await.is(400, PHONE_NUMERIC);
    // Empty phoneName / Empty phoneNumber.
    phone(&b, k, edit(json!({"phoneName": ""}))).await.is(400, PHONE_NAME_EMPTY);
    phone(&b, k, edit(json!({"phoneNumber": ""}))).await.is(400, PHONE_NUMBER_EMPTY);
    // Number/Name exists.
    phone(&b, k, edit(json!({"phoneNameNew": "DESK 2"}))).await.is(409, PHONE_EXISTS);
    phone(&b, k, edit(json!({"phoneNumberNew": "%2B919876543299"}))).await.is(409, PHONE_EXISTS);
    // No such phone (undocumented: see docs/dialects/ozonetel.md).
    phone(&b, k, edit(json!({"phoneName": "Desk 2"})))
        .await
        .is(404, r#"{"status":"error","message":"phone_name or phone_number does not exist"}"#);
    assert_eq!(phones().await, before, "failed requests change nothing");

    // Success response: number (with %2B), name, skills; phoneName in any case.
    let ok =
        edit(json!({"phoneNumberNew": "%2B919876543211", "phoneNameNew": "Desk 9", "unAssignSkill": "general", "assignSkill": "Hindi"}));
    phone(&b, k, ok).await.is(200, PHONE_OK);
    let p = &phones().await[0];
    assert_eq!((p["number"].as_str(), p["name"].as_str()), (Some("+919876543211"), Some("Desk 9")));
    assert_eq!(p["skills"], json!(["Hindi"]));

    // Invalid Skill Key / Missing Skill Value: the edit applies, bad skills do not.
    let again = json!({"userName": "acme", "action": "edit", "phoneNumber": "%2B919876543211", "phoneName": "Desk 9", "phoneNumberNew": "%2B919876543211"});
    phone(&b, k, with(again.clone(), "assignSkill", json!("General,Python"))).await.is(200, PHONE_SKILLS_FAILED);
    assert_eq!(phones().await[0]["skills"], json!(["Hindi", "General"]));
    let renamed = with(with(again.clone(), "assignSkill", json!("")), "phoneNameNew", json!("Desk 10"));
    phone(&b, k, renamed).await.is(200, PHONE_SKILLS_FAILED);
    assert_eq!(phones().await[0]["name"], "Desk 10");
    assert_eq!(phones().await[0]["skills"], json!(["Hindi", "General"]));

    // create and delete, in the same style.
    let create =
        json!({"userName": "acme", "action": "create", "phoneNumber": "%2B15550001", "phoneName": "Desk 3", "skill": "General,Nope"});
    phone(&b, k, create.clone()).await.is(200, PHONE_SKILLS_FAILED);
    phone(&b, k, create).await.is(409, PHONE_EXISTS);
    let created = phones().await;
    assert_eq!(created[2]["number"], "+15550001");
    assert_eq!(created[2]["skills"], json!(["General"]));
    let delete = json!({"userName": "acme", "action": "delete", "phoneNumber": "%2B15550001", "phoneName": "desk 3"});
    phone(&b, k, delete).await.is(200, r#"{"status":"success","message":"record deleted successfully"}"#);
    assert_eq!(phones().await.as_array().unwrap().len(), 2);

    // If the phone number creation limit exceeded.
    c.patch("/api/v1/tenant", json!({"settings": {"phoneNumberLimit": 2}})).await.expect(200);
    let create = json!({"userName": "acme", "action": "create", "phoneNumber": "15550002", "phoneName": "Desk 4"});
    phone(&b, k, create).await.is(409, PHONE_LIMIT);
    assert_eq!(phones().await.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn dynamic_dids_answer_every_documented_case() {
    let srv = Server::start().await;
    let (t, c, _) = acme(&srv, 1000).await;
    let b = base(&srv);
    for n in ["18005550100", "18005550101", "+918005550102"] {
        c.post("/api/v1/dids", json!({"number": n})).await.expect(201);
    }
    let camp = c.post("/api/v1/campaigns", json!({"name": "Spring", "dynamicDids": ["18005550100"]})).await.expect(201).id();
    let read = || async { c.get(&format!("/api/v1/campaigns/{camp}")).await.expect(200).body };
    let before = read().await;
    let ok = json!({"username": "acme", "campaignName": "Spring", "apiKey": t.key,
                    "dynamicDIDs": "18005550101,%2B918005550102", "fallbackDynamicDIDs": "18005550100"});

    // Passing invalid userName value / Missing userName key.
    dids(&b, with(ok.clone(), "username", json!("nobody"))).await.is(401, DIDS_AUTH);
    dids(&b, without(ok.clone(), "username")).await.is(401, DIDS_AUTH);
    // Passing Invalid apiKey Key: the vendor's Spring error page.
    let r = dids(&b, without(ok.clone(), "apiKey")).await;
    assert_eq!(r.status, 500);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["error", "path", "status", "timestamp"]);
    assert!(r.body.starts_with(r#"{"timestamp":""#), "{}", r.body);
    assert!(
        r.body.ends_with(r#"+0000","status":500,"error":"Internal Server Error","path":"/APIServices/dynamic/did/update"}"#),
        "{}",
        r.body
    );
    let ts = v["timestamp"].as_str().unwrap();
    assert_eq!((ts.len(), &ts[4..5], &ts[10..11], &ts[19..20]), (28, "-", "T", "."), "{ts}");
    // Passing Invalid apiKey Value.
    dids(&b, with(ok.clone(), "apiKey", json!("sb_wrong"))).await.is(401, DIDS_AUTH);
    dids(&b, with(ok.clone(), "apiKey", json!(""))).await.is(401, DIDS_AUTH);
    // Passing Invalid campaign_name Key.
    dids(&b, with(ok.clone(), "campaignName", json!("Winter"))).await.is(404, DIDS_CAMPAIGN);
    dids(&b, without(ok.clone(), "campaignName")).await.is(404, DIDS_CAMPAIGN);
    // Passing Invalid dynamicDIDs Value / Missing dynamicDIDs key.
    dids(&b, with(ok.clone(), "dynamicDIDs", json!("18005550101,18009999999"))).await.is(400, DIDS_INVALID);
    dids(&b, with(ok.clone(), "dynamicDIDs", json!("18005550101,,18005550100"))).await.is(400, DIDS_INVALID);
    dids(&b, without(ok.clone(), "dynamicDIDs")).await.is(400, DIDS_REQUIRED);
    // Passing Invalid fallbackDynamicDIDs Value / Missing fallbackDynamicDIDs Value.
    dids(&b, with(ok.clone(), "fallbackDynamicDIDs", json!("abc"))).await.is(400, FALLBACK_INVALID);
    dids(&b, with(ok.clone(), "fallbackDynamicDIDs", json!(""))).await.is(400, FALLBACK_REQUIRED);
    dids(&b, without(ok.clone(), "fallbackDynamicDIDs")).await.is(400, FALLBACK_REQUIRED);
    // A DID of another tenant is not in this account's inventory.
    let other = srv.tenant("globex").await;
    srv.client(&other.key).post("/api/v1/dids", json!({"number": "18007770000"})).await.expect(201);
    dids(&b, with(ok.clone(), "fallbackDynamicDIDs", json!("18007770000"))).await.is(400, FALLBACK_INVALID);
    assert_eq!(read().await, before, "failed requests change nothing");

    // Success response: both lists replaced at once.
    dids(&b, ok).await.is(200, DIDS_OK);
    let after = read().await;
    assert_eq!(after["dynamicDids"], json!(["18005550101", "+918005550102"]));
    assert_eq!(after["fallbackDids"], json!(["18005550100"]));
}

// ---- issue 23: dialect fidelity, second pass ------------------------------------

/// "Up to 5 requests per minute": at most 5 accepted in any 60 seconds, so
/// after a burst of 5 the next one waits for the first to be a minute old
/// (a token bucket refilled one every 12 s let 9 through in the first minute).
#[tokio::test]
async fn update_agent_rate_limit_is_5_in_any_60_seconds() {
    let srv = Server::start().await;
    let b = base(&srv);
    let t = srv.tenant("acme").await;
    srv.client(&t.key).agent("jdoe").await;
    let first = std::time::Instant::now();
    for _ in 0..5 {
        update_agent(&b, Some(&t.key), valid_update()).await.is(200, AGENT_UPDATED);
    }
    for _ in 0..2 {
        let r = update_agent(&b, Some(&t.key), valid_update()).await;
        r.is(429, MAX_LIMIT);
        // Exact: until the first accepted request is 60 s old, rounded up.
        let wait: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
        let left = 60.0 - first.elapsed().as_secs_f64();
        assert!((left.floor() as u64..=left.ceil() as u64 + 1).contains(&wait) && wait >= 58, "Retry-After {wait}, {left:.1} s left");
    }
}

/// The window slides: with a window of 3 s (the same code as the minute),
/// 5 pass, then nothing until the first of them leaves the window; what
/// Retry-After says is enough, and not more than needed. `nodes`: each
/// instance's address and the key its tenant (id 1 on every one) has there.
async fn window_slides(nodes: &[(String, String)]) {
    let call = |i: usize| {
        let (b, k) = &nodes[i % nodes.len()];
        update_agent(b, Some(k), valid_update())
    };
    call(0).await.is(200, AGENT_UPDATED);
    // The first accepted request was counted before its answer came.
    let first = std::time::Instant::now();
    for i in 1..5 {
        call(i).await.is(200, AGENT_UPDATED);
    }
    let r = call(5).await;
    r.is(429, MAX_LIMIT);
    assert_eq!(r.retry_after.as_deref(), Some("3"));
    // A token bucket would have refilled one by now (every 0.6 s); not so here.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = call(6).await;
    r.is(429, MAX_LIMIT);
    let wait: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(wait <= 2, "{wait}");
    // The first accepted request leaves the window 3 s after it was made.
    let until = first + Duration::from_millis(3050);
    tokio::time::sleep(until.saturating_duration_since(std::time::Instant::now())).await;
    call(7).await.is(200, AGENT_UPDATED);
}

/// A server with the rate limiter `limiter`, tenant `acme` (id 1) and its agent jdoe.
async fn limited_node(limiter: std::sync::Arc<dyn switchboard_domain::RateLimiter>) -> (Server, String) {
    let srv = Server::start_on_with_limiter(std::sync::Arc::new(TestDb::new()), HttpConfig::default(), limiter).await;
    let t = srv.tenant("acme").await;
    assert_eq!(t.id, 1);
    srv.client(&t.key).agent("jdoe").await;
    (srv, t.key)
}

#[tokio::test]
async fn the_rate_limit_window_slides_in_process() {
    let (srv, key) = limited_node(std::sync::Arc::new(switchboard_http::LocalRateLimiter::with_window(Duration::from_secs(3)))).await;
    window_slides(&[(base(&srv), key)]).await;
}

/// Two instances sharing Redis share one window, with the same semantics.
#[tokio::test]
async fn the_rate_limit_window_slides_across_instances_in_redis() {
    let Some(url) = crate::support::redis_url() else { return };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let redis =
        switchboard_store::connect_redis(&url, &format!("sbtest_window_{}_{nanos}", std::process::id()), None).await.expect("Redis");
    let a = limited_node(redis.rate_limiter_with_window(Duration::from_secs(3))).await;
    let b = limited_node(redis.rate_limiter_with_window(Duration::from_secs(3))).await;
    window_slides(&[(base(&a.0), a.1.clone()), (base(&b.0), b.1.clone())]).await;
}

const PHONE_NEW_EMPTY: &str = r#"{"status":"error","message":"phoneNumberNew cannot be empty"}"#;

/// PhoneManageV2 edit: `phoneNumberNew*` is mandatory.
#[tokio::test]
async fn phone_manage_edit_needs_phone_number_new() {
    let srv = Server::start().await;
    let (t, c, _) = acme(&srv, 1000).await;
    let (b, k) = (base(&srv), t.key.as_str());
    c.post("/api/v1/phones", json!({"number": "+919876543210", "name": "Desk 1"})).await.expect(201);
    let phones = || async { c.get("/api/v1/phones").await.expect(200).body["items"].clone() };
    let before = phones().await;
    let edit =
        json!({"userName": "acme", "action": "edit", "phoneNumber": "%2B919876543210", "phoneName": "Desk 1", "phoneNameNew": "Desk 2"});
    phone(&b, k, edit.clone()).await.is(400, PHONE_NEW_EMPTY);
    phone(&b, k, with(edit.clone(), "phoneNumberNew", json!(""))).await.is(400, PHONE_NEW_EMPTY);
    phone(&b, k, with(edit.clone(), "phoneNumberNew", json!(" "))).await.is(400, PHONE_NEW_EMPTY);
    phone(&b, k, with(edit.clone(), "phoneNumberNew", Value::Null)).await.is(400, PHONE_NEW_EMPTY);
    assert_eq!(phones().await, before, "nothing changed");
    // With it (the same number kept, or a new one).
    phone(&b, k, with(edit.clone(), "phoneNumberNew", json!("%2B919876543210"))).await.is(200, PHONE_OK);
    assert_eq!(phones().await[0]["name"], "Desk 2");
}

/// The document's own sample body, sent as written: it lacks the comma
/// after `"phoneNameNew":"xxxx"` (values are this test's: an account, a
/// phone and skills of those names).
#[tokio::test]
async fn phone_manage_reads_the_documents_sample_as_written() {
    let srv = Server::start().await;
    let t = srv.tenant("xxxx").await;
    let c = srv.client(&t.key);
    for s in ["General", "QA_Skill", "kolm", "lok", "Python", "Old"] {
        c.post("/api/v1/skills", json!({"name": s})).await.expect(201);
    }
    c.post("/api/v1/phones", json!({"number": "98765", "name": "xxxx", "skills": ["kolm", "Old"]})).await.expect(201);
    let b = base(&srv);
    let sample = "{\n\"userName\":\"xxxx\",\n\"action\":\"edit\",\n\"phoneNumber\":\"98765\",\n\"phoneName\":\"xxxx\",\n\"phoneNumberNew\":\"98766\",\n\"phoneNameNew\":\"xxxx\"\n\"unAssignSkill\":\"kolm,lok,Python\",\n\"assignSkill\":\"General,QA_Skill,kolm,lok,Python\"}";
    assert!(serde_json::from_str::<Value>(sample).is_err(), "the sample is not strict JSON");
    send(&b, reqwest::Method::POST, "/ca_apis/PhoneManageV2", &[("apiKey", &t.key)], sample).await.is(200, PHONE_OK);
    let p = &c.get("/api/v1/phones").await.expect(200).body["items"][0];
    assert_eq!((p["number"].as_str(), p["name"].as_str()), (Some("98766"), Some("xxxx")));
    assert_eq!(p["skills"], json!(["Old", "General", "QA_Skill", "kolm", "lok", "Python"]));
    // Trailing commas too, as LiveVox reads them.
    let trailing =
        "{\"userName\":\"xxxx\",\"action\":\"edit\",\"phoneNumber\":\"98766\",\"phoneName\":\"xxxx\",\"phoneNumberNew\":\"98767\",}";
    send(&b, reqwest::Method::POST, "/ca_apis/PhoneManageV2", &[("apiKey", &t.key)], trailing).await.is(200, PHONE_OK);
    // A body that is not JSON at all is a parse error, whoever sends it.
    const NOT_JSON: &str = r#"{"status":"error","message":"request body is not a JSON object"}"#;
    for body in ["userName=xxxx&action=edit", "{\"userName\":\"xxxx\",\"action\":", "[1,2]"] {
        send(&b, reqwest::Method::POST, "/ca_apis/PhoneManageV2", &[("apiKey", &t.key)], body).await.is(400, NOT_JSON);
    }
    assert_eq!(c.get("/api/v1/phones").await.expect(200).body["items"][0]["number"], "98767");
}

/// A numeric phoneNumber is never "phoneNumber must be numeric": the length
/// rule (3 to 20 digits) says what it is.
#[tokio::test]
async fn phone_manage_numeric_numbers_get_the_length_rule() {
    let srv = Server::start().await;
    let (t, c, _) = acme(&srv, 1000).await;
    let (b, k) = (base(&srv), t.key.as_str());
    c.post("/api/v1/phones", json!({"number": "98765", "name": "Desk 1"})).await.expect(201);
    let before = c.get("/api/v1/phones").await.expect(200).body;
    let edit = json!({"userName": "acme", "action": "edit", "phoneNumber": "98765", "phoneName": "Desk 1", "phoneNumberNew": "98766"});
    const SHORT: &str = r#"{"status":"error","message":"phoneNumber must be 3 to 20 digits long"}"#;
    phone(&b, k, with(edit.clone(), "phoneNumber", json!("12"))).await.is(400, SHORT);
    phone(&b, k, with(edit.clone(), "phoneNumber", json!(12))).await.is(400, SHORT);
    phone(&b, k, with(edit.clone(), "phoneNumber", json!("123456789012345678901"))).await.is(400, SHORT);
    phone(&b, k, with(edit.clone(), "phoneNumberNew", json!(12345678901234567890_u64 as f64 * 10.0)))
        .await
        .is(400, r#"{"status":"error","message":"phoneNumberNew must be 3 to 20 digits long"}"#);
    phone(&b, k, with(edit.clone(), "phoneNumberNew", json!("%2B1")))
        .await
        .is(400, r#"{"status":"error","message":"phoneNumberNew must be 3 to 20 digits long"}"#);
    // Not numeric: the documented text.
    phone(&b, k, with(edit.clone(), "phoneNumber", json!("98 765"))).await.is(400, PHONE_NUMERIC);
    assert_eq!(c.get("/api/v1/phones").await.expect(200).body, before);
    // A number sent as a JSON number works.
    phone(&b, k, with(with(edit, "phoneNumber", json!(98765)), "phoneNumberNew", json!(98766))).await.is(200, PHONE_OK);
    assert_eq!(c.get("/api/v1/phones").await.expect(200).body["items"][0]["number"], "98766");
}
