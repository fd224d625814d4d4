//! The LiveVox Configuration API dialect, driven the way the document's
//! examples (and real LiveVox clients) drive it.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

/// A LiveVox caller: `LV-Access` token, then `LV-Session`.
struct Lv {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
    bearer: Option<String>,
}

struct LvResp {
    status: u16,
    text: String,
}

impl LvResp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    #[track_caller]
    fn is(&self, status: u16, body: &str) {
        assert_eq!((self.status, self.text.as_str()), (status, body));
    }
    #[track_caller]
    fn access_denied(&self) {
        assert_eq!(self.status, 403, "{}", self.text);
        let v = self.json();
        assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["code", "Request Id", "Message"], "{}", self.text);
        assert_eq!(v["code"], 403);
        assert_eq!(v["Message"], "Access denied");
        let rid = v["Request Id"].as_str().unwrap();
        assert!(rid.starts_with("1-") && rid.len() == 35, "{rid}");
    }
}

impl Lv {
    fn new(srv: &Server) -> Lv {
        Lv { http: reqwest::Client::new(), base: format!("http://{}", srv.addr), session: None, bearer: None }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&str>) -> LvResp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path)).header("Accept", "application/json");
        if let Some(s) = &self.session {
            req = req.header("LV-Session", s);
        }
        if let Some(b) = &self.bearer {
            req = req.bearer_auth(b);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b.to_string());
        }
        let r = req.send().await.unwrap();
        LvResp { status: r.status().as_u16(), text: r.text().await.unwrap() }
    }

    async fn get(&self, path: &str) -> LvResp {
        self.send(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: &str) -> LvResp {
        self.send(Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Option<&str>) -> LvResp {
        self.send(Method::PUT, path, body).await
    }
    async fn delete(&self, path: &str) -> LvResp {
        self.send(Method::DELETE, path, None).await
    }

    /// Logs in through `/session/login` with the `LV-Access` token.
    async fn login(srv: &Server, token: &str, body: Value) -> (Lv, LvResp) {
        let mut lv = Lv::new(srv);
        let r = lv
            .http
            .post(format!("{}/session/login", lv.base))
            .header("LV-Access", token)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let resp = LvResp { status: r.status().as_u16(), text: r.text().await.unwrap() };
        if resp.status == 200 {
            lv.session = resp.json()["sessionId"].as_str().map(str::to_owned);
        }
        (lv, resp)
    }
}

/// A tenant with clientId 4199 (the document's), an administrator session and
/// the objects the examples refer to.
struct World {
    srv: Server,
    t: Tenant,
    admin: Lv,
    native: Client,
    acd: Vec<i64>,
    non_acd: i64,
    skills: Vec<i64>,
    cc: i64,
}

async fn world() -> World {
    let srv = Server::start().await;
    let t = srv.tenant_with_client("acme", Some(4199)).await;
    let native = srv.client(&t.key);
    let cc = native.post("/api/v1/call-centers", json!({"name": "Main"})).await.expect(201).id();
    let mut acd = Vec::new();
    for name in ["Inbound", "Outbound"] {
        acd.push(native.post("/api/v1/services", json!({"name": name, "callCenterId": cc})).await.expect(201).id());
    }
    let non_acd = native.post("/api/v1/services", json!({"name": "IVR", "callCenterId": cc, "acd": false})).await.expect(201).id();
    let mut skills = Vec::new();
    for name in ["SILVER", "GOLD", "PLATINUM"] {
        skills.push(native.post("/api/v1/skills", json!({"name": name})).await.expect(201).id());
    }
    let (admin, r) =
        Lv::login(&srv, &t.key, json!({"clientName": "acme", "userName": "admin", "password": t.admin_password, "agent": false})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    World { srv, t, admin, native, acd, non_acd, skills, cc }
}

fn create_body(w: &World, login: &str, password: &str) -> String {
    // The document's Create Agent example, with this world's ids.
    format!(
        r#"{{
"clientId": 4199,
"loginId": "{login}",
"firstName": "Bob",
"lastName": "Johnson",
"password": "{password}",
"phone": "2023467763",
"wrapUpTime": -1,
"homeAgent": true,
"active": true,
"assignedService": [
{{"id": {s0}}},
{{"id": {s1}}}
],
"assignedAgentSkill": [
{{
"id": {k0},
"proficiency": 3
}},
{{
"id": {k1},
"proficiency": 1
}},
{{
"id": {k2},
"proficiency": 5
}}
]
}}"#,
        s0 = w.acd[0],
        s1 = w.acd[1],
        k0 = w.skills[0],
        k1 = w.skills[1],
        k2 = w.skills[2]
    )
}

#[tokio::test]
async fn session_login_validate_logout() {
    let w = world().await;
    // The login answer is compact JSON whose first key is sessionId.
    let (lv, r) =
        Lv::login(&w.srv, &w.t.key, json!({"clientName": "acme", "userName": "admin", "password": w.t.admin_password, "agent": false}))
            .await;
    assert_eq!(r.status, 200);
    assert!(r.text.starts_with("{\"sessionId\":\""), "{}", r.text);
    let v = r.json();
    assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["sessionId", "userId", "clientId", "daysUntilPasswordExpires"]);
    assert_eq!(v["clientId"], 4199);
    assert_eq!(v["userId"], w.t.admin_user_id);
    let sid = lv.session.clone().unwrap();
    // A second login with the same token gives the same live session.
    assert_eq!(w.admin.session.as_deref(), Some(sid.as_str()));
    // Token as Bearer, agent flag as a string, versioned path: all accepted.
    let r = reqwest::Client::new()
        .post(format!("{}/session/v6.0/login", lv.base))
        .bearer_auth(&w.t.key)
        .json(&json!({"clientName": "acme", "userName": "admin", "password": w.t.admin_password, "isAgent": "false"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["sessionId"], sid.as_str());

    lv.get(&format!("/session/validate/{sid}")).await.is(204, "");
    lv.get(&format!("/session/validate?sessionId={sid}")).await.is(204, "");
    lv.get("/session/v5.0/validate/nope").await.is(404, "");
    assert_eq!(lv.get("/configuration/agents/info").await.status, 200, "the session works");

    // Failures: wrong password, wrong case of userName, token of another client, no token.
    for body in [
        json!({"clientName": "acme", "userName": "admin", "password": "wrong-pass-1", "agent": false}),
        json!({"clientName": "acme", "userName": "ADMIN", "password": w.t.admin_password, "agent": false}),
        json!({"clientName": "nope", "userName": "admin", "password": w.t.admin_password}),
    ] {
        let (_, r) = Lv::login(&w.srv, &w.t.key, body).await;
        r.access_denied();
    }
    let other = w.srv.tenant("other").await;
    let (_, r) = Lv::login(&w.srv, &other.key, json!({"clientName": "acme", "userName": "admin", "password": w.t.admin_password})).await;
    r.access_denied();
    let (_, r) = Lv::login(&w.srv, "", json!({"clientName": "acme", "userName": "admin", "password": w.t.admin_password})).await;
    r.access_denied();

    // Logout ends it.
    lv.delete("/session/logout").await.is(204, "");
    lv.get(&format!("/session/validate/{sid}")).await.is(404, "");
    lv.get("/configuration/agents/info").await.access_denied();
    Lv::new(&w.srv).get("/configuration/agents/info").await.access_denied();
    let mut bad = Lv::new(&w.srv);
    bad.session = Some("not-a-session".into());
    bad.get("/configuration/agents/info").await.access_denied();
    // A native API key works without a login.
    let mut keyed = Lv::new(&w.srv);
    keyed.bearer = Some(w.t.key.clone());
    assert_eq!(keyed.get("/configuration/agents/info").await.status, 200);
}

#[tokio::test]
async fn create_read_update_delete_agent_as_documented() {
    let w = world().await;
    let lv = &w.admin;
    let r = lv.post("/configuration/agents", &create_body(&w, "BobJohnson1", "A12345678")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.text, format!("{{\"id\":{id}}}"));

    // Read: every documented key, in the document's order.
    let r = lv.get(&format!("/configuration/agents/{id}")).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "assignedService",
            "assignedAgentSkill",
            "loginId",
            "firstName",
            "lastName",
            "phone",
            "wrapUpTime",
            "homeAgent",
            "active",
            "locked",
            "passwordLastModified"
        ]
    );
    assert_eq!(v["assignedService"], json!([{"id": w.acd[0]}, {"id": w.acd[1]}]));
    assert_eq!(
        v["assignedAgentSkill"],
        json!([{"id": w.skills[0], "proficiency": 3}, {"id": w.skills[1], "proficiency": 1}, {"id": w.skills[2], "proficiency": 5}])
    );
    assert_eq!(v["loginId"], "BOBJOHNSON1", "stored upper-case whatever the case sent");
    assert_eq!(v["wrapUpTime"], -1);
    assert_eq!(v["homeAgent"], true);
    assert_eq!(v["locked"], false);
    assert!(v["passwordLastModified"].as_i64().unwrap() > 1_700_000_000_000, "ms epoch");

    // The document's create errors.
    let r = lv.post("/configuration/agents", &create_body(&w, "BobJohnson2", "")).await;
    r.is(400, r#"{"code":202,"message":"Missing required field [password]"}"#);
    let body = create_body(&w, "BobJohnson2", "A12345678")
        .replace(&format!("{{\"id\": {}}},\n", w.acd[0]), &format!("{{\"id\": {}}},\n", w.non_acd));
    lv.post("/configuration/agents", &body)
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Cannot assign service [incorrect service type]"}"#);
    lv.post("/configuration/agents", &create_body(&w, "BobJohnson2", "A12345678").replace("4199", "111645")).await.access_denied();
    lv.post("/configuration/agents", &create_body(&w, "BobJohnson2", "short1"))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid password [Password must be at least 8 characters long]"}"#);
    lv.post("/configuration/agents", &create_body(&w, "BobJohnson2", "nodigitsatall"))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid password [Password must contain at least 1 digit]"}"#);
    lv.post("/configuration/agents", &create_body(&w, "bobjohnson1", "A12345678"))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [loginId 'BOBJOHNSON1' already exists]"}"#);
    lv.post("/configuration/agents", &create_body(&w, "BobJohnson2", "A12345678").replace("\"proficiency\": 5", "\"proficiency\": 6"))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [proficiency must be between 1 and 5]"}"#);
    lv.post("/configuration/agents", &create_body(&w, "BobJohnson2", "A12345678").replace("\"wrapUpTime\": -1,", ""))
        .await
        .is(400, r#"{"code":202,"message":"Missing required field [wrapUpTime]"}"#);
    lv.post("/configuration/agents", &create_body(&w, "BobJohnson2", "A12345678").replace("\"phone\"", "\"fax\""))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [unknown field fax]"}"#);
    assert_eq!(lv.post("/configuration/agents", "{\"clientId\": 4199,").await.status, 400, "malformed JSON");
    // None of the failures wrote anything.
    assert_eq!(w.native.get("/api/v1/agents").await.body["items"].as_array().unwrap().len(), 1);

    // Update: the document's example, trailing comma and all.
    lv.put(&format!("/configuration/agents/{id}"), Some("{\n\"phone\": \"2023467763\",\n\"active\": true,\n}")).await.is(204, "");
    lv.put(&format!("/configuration/agents/{id}"), Some(r#"{"firstName": "Robert", "wrapUpTime": 30}"#)).await.is(204, "");
    let v = lv.get(&format!("/configuration/agents/{id}")).await.json();
    assert_eq!((v["firstName"].as_str(), v["wrapUpTime"].as_i64()), (Some("Robert"), Some(30)));
    lv.put(&format!("/configuration/agents/{id}"), Some(r#"{"password": "1234567"}"#))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid password [Password must be at least 8 characters long]"}"#);
    lv.put(&format!("/configuration/agents/{id}"), Some(r#"{"password": "A12345678"}"#))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid password [Password cannot match any of the previous 4 passwords]"}"#);
    lv.put(&format!("/configuration/agents/{id}"), Some("{}"))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [at least one key to update is required]"}"#);
    lv.put(&format!("/configuration/agents/{id}"), Some(r#"{"loginId": "X"}"#))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [loginId cannot be changed with Update Agent]"}"#);
    lv.put(&format!("/configuration/agents/{id}"), Some(r#"{"fax": "X"}"#))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [unknown field fax]"}"#);
    lv.put("/configuration/agents/111111", Some(r#"{"active": false}"#))
        .await
        .is(404, r#"{"code":203,"message":"Agent not found [ID:111111]"}"#);

    // Read and delete of what does not exist.
    lv.get("/configuration/agents/111111").await.is(404, r#"{"code":203,"message":"Agent not found [ID:111111]"}"#);
    lv.delete(&format!("/configuration/agents/{id}")).await.is(204, "");
    lv.delete(&format!("/configuration/agents/{id}")).await.is(404, "");
    lv.delete("/configuration/agents/1234").await.is(404, "");
}

#[tokio::test]
async fn agent_login_lockout_and_unlock() {
    let w = world().await;
    let id = w.admin.post("/configuration/agents", &create_body(&w, "AgentOne", "A12345678")).await.json()["id"].as_i64().unwrap();
    let agent_login = |pw: &str| json!({"clientName": "acme", "userName": "agentone", "password": pw, "agent": true});
    let (agent, r) = Lv::login(&w.srv, &w.t.key, agent_login("A12345678")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["userId"], id);
    // The login stamped lastLogin and lastLoginIp.
    let v = w.admin.get(&format!("/configuration/agents/{id}")).await.json();
    assert!(v["lastLogin"].as_i64().is_some());
    assert_eq!(v["lastLoginIp"], "127.0.0.1");
    // An agent session reads, lists and searches; nothing more.
    assert_eq!(agent.get(&format!("/configuration/agents/{id}")).await.status, 200);
    assert_eq!(agent.get("/configuration/agents?count=10&offset=0").await.status, 200);
    assert_eq!(agent.post("/configuration/agents/search?count=10&offset=0", r#"{"lastName":"john"}"#).await.status, 200);
    agent.put(&format!("/configuration/agents/{id}"), Some(r#"{"active": false}"#)).await.access_denied();
    agent.post("/configuration/agents", &create_body(&w, "Sneaky", "A12345678")).await.access_denied();
    agent.delete(&format!("/configuration/agents/{id}")).await.access_denied();
    agent.post("/configuration/agents/skills", r#"{"name":"x"}"#).await.access_denied();

    // Five failures in a row lock the agent; then even the right password fails.
    for _ in 0..5 {
        let (_, r) = Lv::login(&w.srv, &w.t.key, agent_login("wrong-pass-9")).await;
        assert_eq!(r.status, 403);
    }
    assert_eq!(w.admin.get(&format!("/configuration/agents/{id}")).await.json()["locked"], true);
    let (_, r) = Lv::login(&w.srv, &w.t.key, agent_login("A12345678")).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["Message"], "Account locked");
    // The document's unlock.
    w.admin.put(&format!("/configuration/agents/{id}"), Some("{\n\"unlock\": true\n}")).await.is(204, "");
    assert_eq!(w.admin.get(&format!("/configuration/agents/{id}")).await.json()["locked"], false);
    let (_, r) = Lv::login(&w.srv, &w.t.key, agent_login("A12345678")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn list_info_search_and_related() {
    let w = world().await;
    let lv = &w.admin;
    let mut ids = Vec::new();
    for (login, last, phone) in [
        ("AGENT!", "bond", "5553504512"),
        ("AGENT#.?", "bourne", "5553504512"),
        ("AGENT-ANINDITA", "password123", "6503517454"),
        ("AGENT-ONE", "ONE", "6503517454"),
        ("AGENTONE", "One", "6783734060"),
        ("X7", "Jamison", "1112223333"),
        ("X8", "Rajam", "1112224444"),
    ] {
        let body = json!({"clientId": 4199, "loginId": login, "firstName": "agent", "lastName": last, "password": "A12345678", "phone": phone, "wrapUpTime": -1, "homeAgent": false, "active": true});
        let r = lv.post("/configuration/agents", &body.to_string()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    // List Agents: the document's request and its `next`.
    let r = lv.get("/configuration/agents?count=4&client=4199&offset=2").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let got: Vec<i64> = v["agent"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert_eq!(got, ids[2..6]);
    assert_eq!(v["next"], "configuration/agents/?client=4199&offset=6&count=4");
    assert_eq!(
        v["agent"][0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "loginId", "firstName", "lastName", "phone", "active"]
    );
    let v = lv.get("/configuration/agents?count=4&client=4199&offset=6").await.json();
    assert_eq!(v["agent"].as_array().unwrap().len(), 1);
    assert_eq!(v["next"], Value::Null);
    assert!(v.as_object().unwrap().contains_key("next"));
    // Parameters.
    lv.get("/configuration/agents?offset=0").await.is(400, r#"{"code":202,"message":"Missing required field [count]"}"#);
    lv.get("/configuration/agents?count=10").await.is(400, r#"{"code":202,"message":"Missing required field [offset]"}"#);
    lv.get("/configuration/agents?count=0&offset=0")
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [count must be at least 1]"}"#);
    lv.get("/configuration/agents?count=ten&offset=0")
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [count must be an integer]"}"#);
    lv.get("/configuration/agents?count=10&offset=0&client=49551").await.access_denied();

    // Info.
    let v = lv.get("/configuration/agents/info?client=4199").await.json();
    assert_eq!(v["size"], 7);
    assert!(v["lastModified"].as_i64().unwrap() > 1_700_000_000_000);

    // Find Matching Agents: the document's two examples, and partial, case-insensitive matches.
    let r = lv.post("/configuration/agents/search?client=4199&offset=0&count=4", "{\n\"lastName\":\"One\"\n}").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let found: Vec<&str> = v["agent"].as_array().unwrap().iter().map(|a| a["loginId"].as_str().unwrap()).collect();
    assert_eq!(found, ["AGENT-ONE", "AGENTONE"]);
    assert!(v.get("next").is_none());
    lv.post("/configuration/agents/search?count=10&client=4199&offset=0", "{\n\"loginId\":\"BobJones23\",\n\"lastName\":\"Jones\"\n}")
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [exactly one of phone, loginId or lastName is required]"}"#);
    lv.post("/configuration/agents/search?count=10&offset=0", "{}")
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [exactly one of phone, loginId or lastName is required]"}"#);
    let names = |v: Value| v["agent"].as_array().unwrap().iter().map(|a| a["lastName"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(lv.post("/configuration/agents/search?count=10&offset=0", r#"{"lastName":"jam"}"#).await.json()),
        ["Jamison", "Rajam"]
    );
    assert_eq!(names(lv.post("/configuration/agents/search?count=10&offset=0", r#"{"loginId":"anin"}"#).await.json()), ["password123"]);
    assert_eq!(
        names(lv.post("/configuration/agents/search?count=10&offset=0", r#"{"phoneNumber":"6503517454"}"#).await.json()),
        ["password123", "ONE"]
    );
    let v = lv.post("/configuration/agents/search?count=1&offset=0", r#"{"lastName":"o"}"#).await.json();
    assert_eq!(v["next"], "configuration/agents/search?client=4199&offset=1&count=1");

    // Related objects: call centers derive from services.
    let a = ids[0];
    lv.put(&format!("/configuration/agents/{a}/services/{}", w.acd[0]), None).await.is(204, "");
    let cc2 = w.native.post("/api/v1/call-centers", json!({"name": "Second"})).await.expect(201).id();
    let s3 = w.native.post("/api/v1/services", json!({"name": "Third", "callCenterId": cc2})).await.expect(201).id();
    lv.put(&format!("/configuration/agents/{a}/services/{s3}"), None).await.is(204, "");
    let r = lv.get(&format!("/configuration/agents/{a}/related")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"callCenter": [{"id": w.cc}, {"id": cc2}], "service": [{"id": w.acd[0]}, {"id": s3}]}));
    // The objects it points to can be listed and read.
    let v = lv.get("/configuration/callCenters?count=10&offset=0").await.json();
    assert_eq!(v["callCenter"], json!([{"id": w.cc, "name": "Main"}, {"id": cc2, "name": "Second"}]));
    let v = lv.get(&format!("/configuration/services?count=10&offset=0&callCenter={}", w.cc)).await.json();
    assert_eq!(v["service"].as_array().unwrap().len(), 3);
    let v = lv.get(&format!("/configuration/services/{}", w.non_acd)).await.json();
    assert_eq!(v, json!({"id": w.non_acd, "name": "IVR", "callCenter": {"id": w.cc}, "serviceType": "NON_ACD"}));
    lv.get(&format!("/configuration/callCenters/{}", w.cc)).await.is(200, &format!(r#"{{"id":{},"name":"Main"}}"#, w.cc));
}

#[tokio::test]
async fn agent_skills_and_assignments() {
    let w = world().await;
    let lv = &w.admin;
    // Create Agent Skill, with the document's odd `?=4199` query.
    let r = lv.post("/configuration/agents/skills?=4199", r#"{"name":"Docs","description":"documentation"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let skill = r.json()["id"].as_i64().unwrap();
    lv.post("/configuration/agents/skills?client=4199", r#"{"description":"no name"}"#)
        .await
        .is(400, r#"{"code":202,"message":"Missing required field [name]"}"#);
    lv.post("/configuration/agents/skills", r#"{"name":"docs"}"#)
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [name 'docs' already exists]"}"#);

    let agent = lv.post("/configuration/agents", &create_body(&w, "BobJohnson1", "A12345678")).await.json()["id"].as_i64().unwrap();
    // Update Agent Add Agent Skill.
    lv.put(&format!("/configuration/agents/{agent}/skills/{skill}?proficiency=4"), None).await.is(204, "");
    lv.put(&format!("/configuration/agents/{agent}/skills/{skill}?proficiency=6"), None)
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [proficiency must be between 1 and 5]"}"#);
    lv.put(&format!("/configuration/agents/{agent}/skills/{skill}"), None)
        .await
        .is(400, r#"{"code":202,"message":"Missing required field [proficiency]"}"#);
    lv.put(&format!("/configuration/agents/{agent}/skills/111111?proficiency=1"), None)
        .await
        .is(404, r#"{"code":203,"message":"Agent skill not found [ID:111111]"}"#);
    lv.put(&format!("/configuration/agents/111111/skills/{skill}?proficiency=1"), None)
        .await
        .is(404, r#"{"code":203,"message":"Agent not found [ID:111111]"}"#);

    // Read Agent Skill shows its agents.
    let r = lv.get(&format!("/configuration/agents/skills/{skill}")).await;
    r.is(200, &format!(r#"{{"agent":[{{"id":{agent},"proficiency":4}}],"name":"Docs","description":"documentation","clientId":4199}}"#));
    lv.get("/configuration/agents/skills/111111").await.is(404, r#"{"code":203,"message":"Agent skill not found [ID:111111]"}"#);

    // Update Agent Skill; list (both spellings); info.
    lv.put(&format!("/configuration/agents/skills/{skill}"), Some(r#"{"name":"Docs2","description":"documentation"}"#)).await.is(204, "");
    for path in ["/configuration/agents/skills?count=5&client=4199&offset=0", "/configuration/agents/Skills?client=4199&count=5&offset=0"] {
        let v = lv.get(path).await.json();
        let names: Vec<&str> = v["agentSkill"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["SILVER", "GOLD", "PLATINUM", "Docs2"], "{path}");
        assert_eq!(v["next"], Value::Null);
    }
    let v = lv.get("/configuration/agents/skills?count=2&offset=0").await.json();
    assert_eq!(v["next"], "configuration/agents/skills?client=4199&offset=2&count=2");
    let v = lv.get("/configuration/agents/skills/info?client=4199").await.json();
    assert_eq!(v["size"], 4);
    assert!(v["lastModified"].is_i64());

    // Remove the skill assignment; services.
    lv.delete(&format!("/configuration/agents/{agent}/skills/{skill}")).await.is(204, "");
    assert_eq!(lv.get(&format!("/configuration/agents/skills/{skill}")).await.json()["agent"], json!([]));
    lv.delete(&format!("/configuration/agents/{agent}/services/{}", w.acd[0])).await.is(204, "");
    lv.put(&format!("/configuration/agents/{agent}/services/{}", w.acd[0]), None).await.is(204, "");
    lv.put(&format!("/configuration/agents/{agent}/services/{}", w.non_acd), None)
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Cannot assign service [incorrect service type]"}"#);
    lv.put(&format!("/configuration/agents/{agent}/services/999999"), None)
        .await
        .is(404, r#"{"code":203,"message":"Service not found [ID:999999]"}"#);
    let v = lv.get(&format!("/configuration/agents/{agent}")).await.json();
    assert_eq!(v["assignedService"], json!([{"id": w.acd[0]}, {"id": w.acd[1]}]));

    // Delete Agent Skill, twice.
    lv.delete(&format!("/configuration/agents/skills/{skill}")).await.is(204, "");
    lv.delete(&format!("/configuration/agents/skills/{skill}")).await.is(404, "");
}

#[tokio::test]
async fn versioned_prefixes_roles_and_other_clients() {
    let w = world().await;
    let lv = &w.admin;
    let id = lv.post("/configuration/v6.0/agents", &create_body(&w, "Versioned", "A12345678")).await.json()["id"].as_i64().unwrap();
    for v in ["v6.0", "v5.0", "v3.5", "v7"] {
        assert_eq!(lv.get(&format!("/configuration/{v}/agents/{id}")).await.status, 200, "{v}");
    }
    assert_eq!(lv.get("/configuration/v6.0/agents?count=1&offset=0").await.status, 200);
    lv.get(&format!("/configuration/6.0/agents/{id}")).await.is(404, "");
    lv.get(&format!("/configuration/vX/agents/{id}")).await.is(404, "");

    // A manager without "Administer Agents" reads but does not write.
    w.native.post("/api/v1/users", json!({"username": "mgr", "role": "manager", "password": "manager123"})).await.expect(201);
    let (mgr, r) = Lv::login(&w.srv, &w.t.key, json!({"clientName": "acme", "userName": "mgr", "password": "manager123"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(mgr.get(&format!("/configuration/agents/{id}")).await.status, 200);
    mgr.put(&format!("/configuration/agents/{id}"), Some(r#"{"active": false}"#)).await.access_denied();
    mgr.put(&format!("/configuration/agents/{id}/skills/{}?proficiency=2", w.skills[0]), None).await.access_denied();
    let with_power = w
        .native
        .post("/api/v1/users", json!({"username": "mgr2", "role": "manager", "powers": ["administer_agents"], "password": "manager123"}))
        .await;
    assert_eq!(with_power.status, 201);
    let (mgr2, _) = Lv::login(&w.srv, &w.t.key, json!({"clientName": "acme", "userName": "mgr2", "password": "manager123"})).await;
    mgr2.put(&format!("/configuration/agents/{id}"), Some(r#"{"active": false}"#)).await.is(204, "");

    // Another client's caller: access denied for A's objects, never data.
    let b = w.srv.tenant_with_client("other", Some(5000)).await;
    let (lb, r) = Lv::login(&w.srv, &b.key, json!({"clientName": "other", "userName": "admin", "password": b.admin_password})).await;
    assert_eq!(r.status, 200);
    lb.get(&format!("/configuration/agents/{id}")).await.access_denied();
    lb.put(&format!("/configuration/agents/{id}"), Some(r#"{"active": true}"#)).await.access_denied();
    lb.delete(&format!("/configuration/agents/{id}")).await.access_denied();
    lb.get(&format!("/configuration/agents/{id}/related")).await.access_denied();
    lb.put(&format!("/configuration/agents/{id}/services/{}", w.acd[0]), None).await.access_denied();
    lb.get(&format!("/configuration/agents/skills/{}", w.skills[0])).await.access_denied();
    lb.get("/configuration/agents?count=10&offset=0&client=4199").await.access_denied();
    let v = lb.get("/configuration/agents?count=10&offset=0").await.json();
    assert_eq!(v["agent"], json!([]));
    assert_eq!(lb.get("/configuration/agents/info").await.json()["size"], 0);
    // Nothing of A's changed.
    let v = lv.get(&format!("/configuration/agents/{id}")).await.json();
    assert_eq!(v["active"], false);
}

/// Offset pages count every change: LiveVox's List Agents (loginId order,
/// the database's index walk) and the id-ordered list at an offset (the
/// console's), which is answered by rank (the name index's member bitmaps)
/// once the index has every agent; both give the database's pages, with a
/// deletion or a creation counted by the next request.
#[tokio::test]
async fn list_agents_offset_pages_count_every_change() {
    let w = world().await;
    let lv = &w.admin;
    let mut agents: Vec<(String, i64)> = Vec::new();
    for i in 0..9 {
        // loginIds whose order is not the ids' order.
        let login = format!("P{}", (i * 4) % 9);
        let id = w
            .native
            .post("/api/v1/agents", json!({"loginId": login, "firstName": "P", "lastName": format!("Page{i}")}))
            .await
            .expect(201)
            .id();
        agents.push((login, id));
    }
    let store = w.srv.dir.store();
    eventually("name index ready", || async { json!(store.name_index_ready()) }, |v| v == true).await;
    let principal = w.srv.dir.authenticate_key(&w.t.key).await.unwrap();
    let lv_page = |offset: usize| async move {
        let v = lv.get(&format!("/configuration/agents?count=3&offset={offset}")).await.json();
        v["agent"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect::<Vec<_>>()
    };
    let (principal, dir) = (&principal, &w.srv.dir);
    let rank_page = |offset: usize| async move {
        let page = switchboard_domain::PageRequest { after: 0, offset: offset as u64, limit: 3 };
        dir.list_agents(principal, &switchboard_domain::AgentFilter::default(), page)
            .await
            .unwrap()
            .items
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>()
    };
    let check = |agents: Vec<(String, i64)>, when: &'static str| async move {
        let mut by_login = agents.clone();
        by_login.sort();
        let by_login: Vec<i64> = by_login.into_iter().map(|(_, id)| id).collect();
        let mut by_id: Vec<i64> = agents.iter().map(|(_, id)| *id).collect();
        by_id.sort_unstable();
        for offset in 0..=agents.len() {
            let end = (offset + 3).min(agents.len());
            assert_eq!(lv_page(offset).await, by_login[offset..end], "List Agents at offset {offset}, {when}");
            assert_eq!(rank_page(offset).await, by_id[offset..end], "by id at offset {offset}, {when}");
        }
    };
    // Once the index has re-read the creations (a few milliseconds).
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    check(agents.clone(), "index built").await;
    let gone = agents.remove(4);
    lv.delete(&format!("/configuration/agents/{}", gone.1)).await.is(204, "");
    check(agents.clone(), "right after a deletion").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    check(agents.clone(), "once re-read").await;
    let late = w.native.post("/api/v1/agents", json!({"loginId": "late", "firstName": "P", "lastName": "Late"})).await.expect(201).id();
    agents.push(("LATE".into(), late));
    check(agents.clone(), "right after a creation").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    check(agents, "once re-read").await;
}

// ---- issue 23: dialect fidelity, second pass ------------------------------------

/// The document's opening rule (Sysadmin, IT User, Superuser, or Manager with
/// "Administer Agents") holds for every method that does not list roles of its
/// own; only Read Agent, List Agents, Find Matching Agents and Get Agent
/// Related Objects also let a Manager without the power and an Agent in.
#[tokio::test]
async fn roles_follow_each_method_of_the_document() {
    let w = world().await;
    let id = w.admin.post("/configuration/agents", &create_body(&w, "AgentOne", "A12345678")).await.json()["id"].as_i64().unwrap();
    let skill = w.skills[0];
    w.native.post("/api/v1/users", json!({"username": "mgr", "role": "manager", "password": "manager123"})).await.expect(201);
    w.native.post("/api/v1/users", json!({"username": "viewer", "role": "agent", "password": "viewer123"})).await.expect(201);
    w.native
        .post("/api/v1/users", json!({"username": "boss", "role": "manager", "powers": ["administer_agents"], "password": "manager123"}))
        .await
        .expect(201);
    let login = |user: &str, pw: &str, agent: bool| {
        Lv::login(&w.srv, &w.t.key, json!({"clientName": "acme", "userName": user, "password": pw, "agent": agent}))
    };
    let (mgr, r) = login("mgr", "manager123", false).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (viewer, r) = login("viewer", "viewer123", false).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (agent, r) = login("agentone", "A12345678", true).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (boss, r) = login("boss", "manager123", false).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The methods under the opening rule: read-only ones too.
    let admin_only = [
        "/configuration/agents/info?client=4199".to_string(),
        "/configuration/agents/skills/info?client=4199".to_string(),
        "/configuration/agents/skills?count=5&client=4199&offset=0".to_string(),
        "/configuration/agents/Skills?count=5&offset=0".to_string(),
        format!("/configuration/agents/skills/{skill}"),
    ];
    // The four methods that list their own roles.
    let open = [
        format!("/configuration/agents/{id}"),
        "/configuration/agents?count=4&client=4199&offset=0".to_string(),
        format!("/configuration/agents/{id}/related"),
    ];
    for (who, lv) in [("manager without the power", &mgr), ("agent-role user", &viewer), ("agent session", &agent)] {
        for path in &admin_only {
            let r = lv.get(path).await;
            assert_eq!(r.status, 403, "{who} GET {path}: {}", r.text);
            r.access_denied();
        }
        for path in &open {
            assert_eq!(lv.get(path).await.status, 200, "{who} GET {path}");
        }
        let r = lv.post("/configuration/agents/search?count=10&offset=0", r#"{"lastName":"Johnson"}"#).await;
        assert_eq!(r.status, 200, "{who}: {}", r.text);
    }
    for (who, lv) in [("sysadmin", &w.admin), ("manager with the power", &boss)] {
        for path in admin_only.iter().chain(open.iter()) {
            assert_eq!(lv.get(path).await.status, 200, "{who} GET {path}");
        }
    }
}

fn lv_agent(login: &str, last: &str, phone: &str) -> String {
    json!({"clientId": 4199, "loginId": login, "firstName": "agent", "lastName": last, "password": "A12345678", "phone": phone, "wrapUpTime": -1, "homeAgent": false, "active": true}).to_string()
}

/// List Agents is in loginId order (bytes of the stored upper-case loginId),
/// as the document's example page (AGENT!, AGENT#.?, AGENT-ANINDITA,
/// AGENT-ONE, whose ids are not in that order) shows; `offset` counts in it.
#[tokio::test]
async fn list_agents_pages_in_login_id_order_as_the_example() {
    let w = world().await;
    let lv = &w.admin;
    // Created in an order that is not loginId order (the example's ids: 513804
    // is AGENT-ANINDITA, the oldest; 523329 AGENT-ONE, the newest of the four).
    let mut ids = std::collections::HashMap::new();
    for (login, last) in [
        ("AGENT-ANINDITA", "password123"),
        ("agent!", "bond"),
        ("AGENT#.?", "bourne"),
        ("AGENT-ONE", "ONE"),
        ("a_b", "under"),
        ("AAB", "double"),
        ("AGENTONE", "One"),
        ("Zed", "last"),
    ] {
        let r = lv.post("/configuration/agents", &lv_agent(login, last, "5553504512")).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.insert(login.to_uppercase(), r.json()["id"].as_i64().unwrap());
    }
    let logins = |v: &Value| v["agent"].as_array().unwrap().iter().map(|a| a["loginId"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    // Bytes of the upper-case loginIds: "AAB" < "AGENT!" < … < "AGENTONE" < "A_B" ('_' after 'Z') < "ZED".
    let all = ["AAB", "AGENT!", "AGENT#.?", "AGENT-ANINDITA", "AGENT-ONE", "AGENTONE", "A_B", "ZED"];
    let v = lv.get("/configuration/agents?count=1000&client=4199&offset=0").await.json();
    assert_eq!(logins(&v), all);
    // The document's request: offset 1 here lands on its page.
    let r = lv.get("/configuration/agents?count=4&client=4199&offset=1").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(logins(&v), ["AGENT!", "AGENT#.?", "AGENT-ANINDITA", "AGENT-ONE"]);
    let got: Vec<i64> = v["agent"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert_eq!(got, [ids["AGENT!"], ids["AGENT#.?"], ids["AGENT-ANINDITA"], ids["AGENT-ONE"]]);
    assert!(got[2] < got[0], "not id order");
    assert_eq!(v["next"], "configuration/agents/?client=4199&offset=5&count=4");
    // Every offset, and the pages put together, are the whole list once.
    for offset in 0..all.len() {
        let v = lv.get(&format!("/configuration/agents?count=3&offset={offset}")).await.json();
        assert_eq!(logins(&v), all[offset..(offset + 3).min(all.len())], "offset {offset}");
    }
    // A later agent takes its place in the order; a deleted one leaves it.
    lv.post("/configuration/agents", &lv_agent("AGENT", "first", "5553504512")).await;
    lv.delete(&format!("/configuration/agents/{}", ids["AAB"])).await.is(204, "");
    let v = lv.get("/configuration/agents?count=4&offset=1").await.json();
    assert_eq!(logins(&v), ["AGENT!", "AGENT#.?", "AGENT-ANINDITA", "AGENT-ONE"]);
    assert_eq!(logins(&lv.get("/configuration/agents?count=1&offset=0").await.json()), ["AGENT"]);
    // List Agent Skills stays in id order, as its example shows.
    w.native.post("/api/v1/skills", json!({"name": "AAA"})).await.expect(201);
    let v = lv.get("/configuration/agents/skills?count=10&offset=0").await.json();
    let names: Vec<&str> = v["agentSkill"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["SILVER", "GOLD", "PLATINUM", "AAA"]);
}

/// "There is a hard cap of 1000 items": a larger `count` is served 1000 at a
/// time, with a `next` that goes on from there.
#[tokio::test]
async fn count_above_the_hard_cap_serves_1000_and_a_next_link() {
    let w = world().await;
    let lv = &w.admin;
    let csv: String = std::iter::once("loginId,firstName,lastName,phone".to_string())
        .chain((0..1005).map(|i| format!("CAP{i:04},Cap,Smith,555{i:07}")))
        .collect::<Vec<_>>()
        .join("\n");
    let r = w.native.post("/api/v1/imports", json!({"kind": "agents", "csv": csv})).await.expect(202);
    let loc = r.header("location").unwrap();
    eventually("import done", || async { w.native.get(&loc).await.body }, |v| v["status"] != "running").await;
    let r = lv.get("/configuration/agents?count=5000&client=4199&offset=0").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["agent"].as_array().unwrap().len(), 1000);
    assert_eq!(v["agent"][999]["loginId"], "CAP0999");
    assert_eq!(v["next"], "configuration/agents/?client=4199&offset=1000&count=1000");
    let v = lv.get(&format!("/{}", v["next"].as_str().unwrap())).await.json();
    let rest: Vec<&str> = v["agent"].as_array().unwrap().iter().map(|a| a["loginId"].as_str().unwrap()).collect();
    assert_eq!(rest, ["CAP1000", "CAP1001", "CAP1002", "CAP1003", "CAP1004"]);
    assert_eq!(v["next"], Value::Null);
    // Find Matching Agents and List Agent Skills take the same cap.
    let v = lv.post("/configuration/agents/search?count=1001&offset=0", r#"{"lastName":"smith"}"#).await.json();
    assert_eq!(v["agent"].as_array().unwrap().len(), 1000);
    assert_eq!(v["next"], "configuration/agents/search?client=4199&offset=1000&count=1000");
    let r = lv.get("/configuration/agents/skills?count=1001&offset=0").await;
    assert_eq!((r.status, r.json()["agentSkill"].as_array().unwrap().len()), (200, 3));
    // Below 1 is still refused.
    lv.get("/configuration/agents?count=0&offset=0")
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [count must be at least 1]"}"#);
}

/// Find Matching Agents: partial matches for loginId and lastName only; a
/// phoneNumber matches the whole number, formatting ignored; `phone` (the
/// name the search error uses) is the same criterion.
#[tokio::test]
async fn find_matching_agents_by_whole_phone_number() {
    let w = world().await;
    let lv = &w.admin;
    for (login, phone) in [("P1", "6503517454"), ("P2", "6503517455"), ("P3", "+16503517454"), ("P4", "16503517454")] {
        assert_eq!(lv.post("/configuration/agents", &lv_agent(login, "Phone", phone)).await.status, 201);
    }
    let logins = |r: LvResp| {
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["agent"].as_array().unwrap().iter().map(|a| a["loginId"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let search = |body: &'static str| lv.post("/configuration/agents/search?count=10&offset=0", body);
    assert_eq!(logins(search(r#"{"phoneNumber":"6503517454"}"#).await), ["P1"]);
    assert_eq!(logins(search(r#"{"phoneNumber":"(650) 351-7454"}"#).await), ["P1"]);
    assert_eq!(logins(search(r#"{"phoneNumber":"650.351.7455"}"#).await), ["P2"]);
    assert_eq!(logins(search(r#"{"phoneNumber":"+1 650 351 7454"}"#).await), ["P3", "P4"]);
    assert!(logins(search(r#"{"phoneNumber":"6503517"}"#).await).is_empty(), "no partial phone matches");
    assert!(logins(search(r#"{"phoneNumber":"3517454"}"#).await).is_empty());
    // `phone` is another name for phoneNumber.
    assert_eq!(logins(search(r#"{"phone":"650-351-7455"}"#).await), ["P2"]);
    search(r#"{"phone":"6503517455","lastName":"Phone"}"#)
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [exactly one of phone, loginId or lastName is required]"}"#);
    // loginId and lastName still match in part.
    assert_eq!(logins(search(r#"{"loginId":"p"}"#).await), ["P1", "P2", "P3", "P4"]);
    assert_eq!(logins(search(r#"{"lastName":"hon"}"#).await), ["P1", "P2", "P3", "P4"]);
}

/// Update Agent: a mandatory field cannot be emptied.
#[tokio::test]
async fn update_agent_cannot_empty_a_mandatory_field() {
    let w = world().await;
    let lv = &w.admin;
    let id = lv.post("/configuration/agents", &create_body(&w, "BobJohnson1", "A12345678")).await.json()["id"].as_i64().unwrap();
    let before = lv.get(&format!("/configuration/agents/{id}")).await.text;
    for (body, field) in [
        (r#"{"phone": ""}"#, "phone"),
        (r#"{"phone": "   "}"#, "phone"),
        (r#"{"phone": null}"#, "phone"),
        (r#"{"firstName": "", "active": false}"#, "firstName"),
        (r#"{"lastName": null}"#, "lastName"),
        (r#"{"wrapUpTime": ""}"#, "wrapUpTime"),
        (r#"{"homeAgent": null}"#, "homeAgent"),
        (r#"{"active": ""}"#, "active"),
        (r#"{"password": ""}"#, "password"),
    ] {
        lv.put(&format!("/configuration/agents/{id}"), Some(body))
            .await
            .is(400, &format!(r#"{{"code":202,"message":"Missing required field [{field}]"}}"#));
    }
    assert_eq!(lv.get(&format!("/configuration/agents/{id}")).await.text, before, "nothing changed");
    assert_eq!(w.native.get(&format!("/api/v1/agents/{id}")).await.body["phone"], "2023467763");
}

/// Update Agent takes back what Read Agent gave (read-modify-write): keys it
/// does not update are ignored while unchanged and refused, by name, when
/// changed; numbers may come as strings.
#[tokio::test]
async fn update_agent_accepts_read_modify_write_and_numbers_as_strings() {
    let w = world().await;
    let lv = &w.admin;
    let id = lv.post("/configuration/agents", &create_body(&w, "BobJohnson1", "A12345678")).await.json()["id"].as_i64().unwrap();
    let path = format!("/configuration/agents/{id}");
    let read = lv.get(&path).await.json();
    // The whole body read, one field changed.
    let mut body = read.clone();
    body["firstName"] = json!("Robert");
    lv.put(&path, Some(&body.to_string())).await.is(204, "");
    let after = lv.get(&path).await.json();
    assert_eq!(after["firstName"], "Robert");
    let mut expected = read.clone();
    expected["firstName"] = json!("Robert");
    assert_eq!(after, expected, "only firstName changed");
    // Unchanged means equal: loginId in another case, lists in another order, numbers as strings.
    let mut body = after.clone();
    body["loginId"] = json!("bobjohnson1");
    body["assignedService"] = json!([{"id": w.acd[1]}, {"id": w.acd[0].to_string()}]);
    body["assignedAgentSkill"] =
        json!([{"id": w.skills[2], "proficiency": "5"}, {"id": w.skills[0], "proficiency": 3}, {"id": w.skills[1], "proficiency": 1}]);
    body["wrapUpTime"] = json!("30");
    lv.put(&path, Some(&body.to_string())).await.is(204, "");
    assert_eq!(lv.get(&path).await.json()["wrapUpTime"], 30);
    // Changed read-only keys are refused, by name, and nothing changes.
    let now = lv.get(&path).await.json();
    let changed = |key: &str, val: Value| {
        let mut b = now.clone();
        b["firstName"] = json!("Changed");
        b[key] = val;
        b.to_string()
    };
    for (key, val) in [
        ("loginId", json!("BOBJOHNSON2")),
        ("assignedService", json!([{"id": w.acd[0]}])),
        (
            "assignedAgentSkill",
            json!([{"id": w.skills[0], "proficiency": 4}, {"id": w.skills[1], "proficiency": 1}, {"id": w.skills[2], "proficiency": 5}]),
        ),
        ("locked", json!(true)),
        ("passwordLastModified", json!(1495233693000_i64)),
        ("lastLogin", json!(1495234211000_i64)),
        ("lastLoginIp", json!("189.146.225.138")),
    ] {
        lv.put(&path, Some(&changed(key, val)))
            .await
            .is(400, &format!(r#"{{"errorCode":202,"errorMessage":"Invalid input [{key} cannot be changed with Update Agent]"}}"#));
    }
    assert_eq!(lv.get(&path).await.json(), now);
    // Only keys that change nothing: nothing to do, and said so.
    lv.put(&path, Some(r#"{"loginId": "BOBJOHNSON1", "locked": false}"#)).await.is(204, "");
    assert_eq!(lv.get(&path).await.json(), now);

    // Numbers as strings, and what is not a number.
    lv.put(&path, Some(r#"{"wrapUpTime": "45"}"#)).await.is(204, "");
    assert_eq!(lv.get(&path).await.json()["wrapUpTime"], 45);
    lv.put(&path, Some(r#"{"wrapUpTime": "soon"}"#))
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [wrapUpTime must be an integer]"}"#);
    let body = create_body(&w, "Strings1", "A12345678")
        .replace("\"proficiency\": 3", "\"proficiency\": \"3\"")
        .replace("\"wrapUpTime\": -1", "\"wrapUpTime\": \"-1\"");
    let r = lv.post("/configuration/agents", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = lv.get(&format!("/configuration/agents/{}", r.json()["id"])).await.json();
    assert_eq!((v["assignedAgentSkill"][0]["proficiency"].as_i64(), v["wrapUpTime"].as_i64()), (Some(3), Some(-1)));
    let body = create_body(&w, "Strings2", "A12345678").replace("\"proficiency\": 3", "\"proficiency\": \"high\"");
    lv.post("/configuration/agents", &body)
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [proficiency must be an integer]"}"#);
    let body = create_body(&w, "Strings2", "A12345678").replace("\"wrapUpTime\": -1", "\"wrapUpTime\": \"never\"");
    lv.post("/configuration/agents", &body)
        .await
        .is(400, r#"{"errorCode":202,"errorMessage":"Invalid input [wrapUpTime must be an integer]"}"#);
}

/// Issue 21: public LiveVox clients create agents without `clientId`; it
/// means the caller's own client. The body as those clients send it, then
/// the rest of an agent's life through the same session.
#[tokio::test]
async fn create_agent_without_client_id_is_the_callers_client() {
    let w = world().await;
    let lv = &w.admin;
    let body = format!(
        r#"{{"loginId":"jsmith","firstName":"John","lastName":"Smith","password":"Passw0rd1","phone":"5551234567","wrapUpTime":0,"active":true,"homeAgent":true,"assignedService":[{{"id":{}}}]}}"#,
        w.acd[0]
    );
    let r = lv.post("/configuration/v6.0/agents", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.text, format!(r#"{{"id":{id}}}"#));
    lv.put(&format!("/configuration/v6.0/agents/{id}"), Some(r#"{"firstName":"Johnny","wrapUpTime":30}"#)).await.is(204, "");
    lv.put(&format!("/configuration/v6.0/agents/{id}/services/{}", w.acd[1]), None).await.is(204, "");
    let v = lv.get(&format!("/configuration/v6.0/agents/{id}")).await.json();
    assert_eq!((v["loginId"].as_str(), v["firstName"].as_str(), v["wrapUpTime"].as_i64()), (Some("JSMITH"), Some("Johnny"), Some(30)));
    assert_eq!(v["assignedService"], json!([{"id": w.acd[0]}, {"id": w.acd[1]}]));
    let v = lv.post("/configuration/v6.0/agents/search?count=10&offset=0", r#"{"loginId":"jsmith"}"#).await.json();
    assert_eq!(v["agent"][0]["id"], id);
    lv.delete(&format!("/configuration/v6.0/agents/{id}/services/{}", w.acd[0])).await.is(204, "");
    assert_eq!(lv.get(&format!("/configuration/v6.0/agents/{id}")).await.json()["assignedService"], json!([{"id": w.acd[1]}]));
    lv.delete(&format!("/configuration/v6.0/agents/{id}")).await.is(204, "");
    lv.get(&format!("/configuration/v6.0/agents/{id}")).await.is(404, &format!(r#"{{"code":203,"message":"Agent not found [ID:{id}]"}}"#));
    // The caller's own clientId is fine; another client's is still refused.
    assert_eq!(lv.post("/configuration/agents", &body.replacen('{', r#"{"clientId":4199,"#, 1)).await.status, 201);
    lv.post("/configuration/agents", &body.replace("jsmith", "jsmith2").replacen('{', r#"{"clientId":111645,"#, 1)).await.access_denied();
    lv.post("/configuration/agents", &body.replace("jsmith", "jsmith2").replacen('{', r#"{"clientId":"111645","#, 1)).await.access_denied();
}

/// An agent provisioned by SCIM is an agent like any other: LiveVox's Read
/// Agent and Find Matching Agents see it at once, with its skills and
/// services, and its deactivation.
#[tokio::test]
async fn scim_created_agent_is_visible_to_livevox() {
    let w = world().await;
    let lv = &w.admin;
    let key = w
        .srv
        .dir
        .issue_api_key_as_operator(w.t.id, w.t.admin_user_id, "idp", switchboard_domain::KeyScope::Scim)
        .await
        .unwrap()
        .api_key
        .unwrap();
    let scim = w.srv.client(&key);
    let agent_ext = "urn:switchboard:params:scim:schemas:extension:agent:2.0:User";
    let r = scim
        .post(
            "/scim/v2/Users",
            json!({
                "userName": "Scim.Agent@example.com",
                "name": {"givenName": "Sam", "familyName": "Provisioned"},
                "phoneNumbers": [{"value": "650-351-7000", "type": "work"}],
                agent_ext: {"skills": [{"value": w.skills[1].to_string(), "proficiency": 4}], "services": [{"value": w.acd[0].to_string()}]},
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().parse::<i64>().unwrap();

    // Read Agent.
    let r = lv.get(&format!("/configuration/agents/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["loginId"], "SCIM.AGENT@EXAMPLE.COM");
    assert_eq!(
        (v["firstName"].clone(), v["lastName"].clone(), v["phone"].clone()),
        (json!("Sam"), json!("Provisioned"), json!("6503517000"))
    );
    assert_eq!(v["assignedAgentSkill"], json!([{"id": w.skills[1], "proficiency": 4}]));
    assert_eq!(v["assignedService"], json!([{"id": w.acd[0]}]));
    assert_eq!(v["active"], true);

    // Find Matching Agents, by loginId, last name and phone.
    for body in [r#"{"loginId":"scim.agent"}"#, r#"{"lastName":"provisioned"}"#, r#"{"phoneNumber":"6503517000"}"#] {
        let r = lv.post("/configuration/agents/search?count=10&offset=0", body).await;
        assert_eq!(r.status, 200, "{body}: {}", r.text);
        let found: Vec<i64> = r.json()["agent"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
        assert_eq!(found, [id], "{body}: {}", r.text);
    }

    // SCIM's deactivation (DELETE, default mode) is LiveVox's active false.
    assert_eq!(scim.delete(&format!("/scim/v2/Users/{id}")).await.status, 204);
    assert_eq!(lv.get(&format!("/configuration/agents/{id}")).await.json()["active"], false);
}
