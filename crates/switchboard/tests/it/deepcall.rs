//! The DeepCall v2 dialect: `updateAgentGroupMapping` sent the way the
//! document's examples send it (Python `http.client` with its empty
//! `Content-Length`, the raw HTTP example, curl, OkHttp's `text/plain`,
//! libcurl without a length), each error code with its exact bytes, roles,
//! tenant isolation, all-or-nothing, and the `getAgentGroupMapping` read side.

use crate::support::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PATH: &str = "/api/v2/Agent/updateAgentGroupMapping";
const READ_PATH: &str = "/api/v2/Agent/getAgentGroupMapping";

const DENIED: &str = r#"{"status":"error","message":"Permission denied","code":1015}"#;
const BAD_AGENT: &str = r#"{"status":"error","message":"Invalid agentId","code":1509}"#;
const BAD_GROUP: &str = r#"{"status":"error","message":"Invalid group data","code":1505}"#;
const BAD_FIELDS: &str = r#"{"status":"error","message":"Please Provide Only Valid fields","code":1521}"#;
const UPDATED: &str = r#"{"status":"success","code":200,"message":"Agent group mapping updated successfully"}"#;

/// A response read off a raw socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Reads one response (head, then `Content-Length` body bytes) off `s`.
async fn read_response(s: &mut TcpStream) -> Raw {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a full response: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut raw = Raw { status: head[9..12].parse().unwrap(), head, body: String::new() };
    let len: usize = raw.header("content-length").map(|v| v.parse().unwrap()).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(body.len(), len, "no bytes beyond the announced body");
    raw.body = String::from_utf8(body).unwrap();
    raw
}

/// Sends these exact bytes on a fresh connection and reads one response.
async fn raw(srv: &Server, bytes: &str) -> Raw {
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    s.write_all(bytes.as_bytes()).await.unwrap();
    read_response(&mut s).await
}

/// What Python's `http.client` sends for the document's Python example:
/// its own `Host` and `Accept-Encoding`, then the example's empty `Content-Length`.
fn python_request(host: &str, path: &str, payload: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\nContent-Length: \r\n\r\n{payload}")
}

/// A POST through reqwest with exactly these headers; (status, body bytes as text).
async fn post(srv: &Server, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = reqwest::Client::new().post(srv.url(path)).body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("sent");
    let status = r.status().as_u16();
    assert_eq!(r.headers()["content-type"], "application/json; charset=utf-8");
    (status, r.text().await.unwrap())
}

/// The document's body with a group set, compact (Python/axios form).
fn compact(auth: &str, agent: &str, group: &str) -> String {
    format!(r#"{{{auth},"agentId": "{agent}","group": {group}}}"#)
}

fn key_auth(user_id: i64, token: &str) -> String {
    format!(r#""userId": "{user_id}","token":"{token}""#)
}

/// The agent's groups as the native API reports them.
async fn groups_of(c: &Client, agent: i64) -> Value {
    c.get(&format!("/api/v1/agents/{agent}/groups")).await.expect(200).body
}

async fn group(c: &Client, name: &str) -> i64 {
    c.post("/api/v1/groups", json!({"name": name})).await.expect(201).id()
}

/// The document's ids: agent 7 and groups 90, 91 and 92 (a fresh database
/// numbers from 1).
async fn documented_ids(c: &Client) {
    for i in 1..=7 {
        assert_eq!(c.agent(&format!("agent{i}")).await, i);
    }
    for i in 1..=92 {
        assert_eq!(group(c, &format!("group {i}")).await, i);
    }
}

async fn clear_groups(c: &Client, agent: i64) {
    for g in groups_of(c, agent).await.as_array().unwrap() {
        c.delete(&format!("/api/v1/agents/{agent}/groups/{}", g["groupId"])).await.expect(204);
    }
}

fn documented_result() -> Value {
    json!([{"groupId": 90, "receiveCall": true}, {"groupId": 91, "receiveCall": false}, {"groupId": 92, "receiveCall": true}])
}

#[tokio::test]
async fn the_documents_examples_as_their_clients_send_them() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    documented_ids(&c).await;
    let host = srv.addr.to_string();
    let (uid, key) = (t.admin_user_id.to_string(), t.key.clone());
    let fill = |s: &str| s.replace("{{userid}}", &uid).replace("{{token}}", &key);

    // Python http.client: compact payload, empty Content-Length, no Content-Type.
    let payload = fill(
        r#"{"userId": "{{userid}}","token":"{{token}}","agentId": "7","group": {"90": {"receive_call": "Y"},"91": {"receive_call": "N"},"92": {"receive_call": "Y"}}}"#,
    );
    let r = raw(&srv, &python_request(&host, PATH, &payload)).await;
    assert_eq!((r.status, r.body.as_str()), (200, UPDATED), "{r:?}");
    assert_eq!(r.header("content-type").as_deref(), Some("application/json; charset=utf-8"));
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(groups_of(&c, 7).await, documented_result());

    // The raw HTTP example: Host and Content-Length only, the pretty body.
    clear_groups(&c, 7).await;
    let pretty = fill("{\n  \"userId\": \"{{userid}}\",\n  \"token\":\"{{token}}\",\n  \"agentId\": \"7\",\n  \"group\": {\n    \"90\": {\n      \"receive_call\": \"Y\"\n    },\n    \"91\": {\n      \"receive_call\": \"N\"\n    },\n    \"92\": {\n      \"receive_call\": \"Y\"\n    }\n  }\n}");
    assert_eq!(fill_back(&pretty, &uid, &key).len(), 221, "the document's Content-Length");
    let r = raw(&srv, &format!("POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{pretty}", pretty.len())).await;
    assert_eq!((r.status, r.body.as_str()), (200, UPDATED));
    assert_eq!(groups_of(&c, 7).await, documented_result());

    // curl --data-raw: curl's form Content-Type on a JSON body.
    clear_groups(&c, 7).await;
    let (status, body) = post(
        &srv,
        PATH,
        &pretty,
        &[("content-type", "application/x-www-form-urlencoded"), ("user-agent", "curl/8.5.0"), ("accept", "*/*")],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, UPDATED));
    assert_eq!(groups_of(&c, 7).await, documented_result());

    // OkHttp / fetch / RestSharp: text/plain, trailing newline.
    clear_groups(&c, 7).await;
    let okhttp = format!("{}\n", pretty.replace("\n  ", "\n "));
    let (status, body) = post(&srv, PATH, &okhttp, &[("content-type", "text/plain; charset=utf-8")]).await;
    assert_eq!((status, body.as_str()), (200, UPDATED));
    assert_eq!(groups_of(&c, 7).await, documented_result());

    // libcurl with "Content-Length: " drops the header and sends no length at all.
    clear_groups(&c, 7).await;
    let r = raw(
        &srv,
        &format!("POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n{okhttp}"),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, UPDATED));
    assert_eq!(groups_of(&c, 7).await, documented_result());

    // Under the document's base URL, with and without the trailing slash.
    for path in [
        "/deepcall/api/v2/Agent/updateAgentGroupMapping",
        "/deepcall/api/v2/Agent/updateAgentGroupMapping/",
        "/api/v2/Agent/updateAgentGroupMapping/",
    ] {
        clear_groups(&c, 7).await;
        let (status, body) = post(&srv, path, &payload, &[]).await;
        assert_eq!((status, body.as_str()), (200, UPDATED), "{path}");
        assert_eq!(groups_of(&c, 7).await, documented_result(), "{path}");
    }
}

/// Every request of a keep-alive connection is repaired, not only its
/// first: after one, requests take a path that hands hyper the socket's bytes
/// as they are, and must fall back to the repair where one is needed (an
/// empty or missing `Content-Length`, a body sent after its head).
#[tokio::test]
async fn later_requests_on_a_connection_are_repaired_too() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    documented_ids(&c).await;
    let host = srv.addr.to_string();
    let auth = key_auth(t.admin_user_id, &t.key);
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    let r = exchange(&mut s, vec![format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n")]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let cases = [
        // Python's empty Content-Length, head and body in one write.
        ("90", vec![python_request(&host, PATH, &compact(&auth, "7", r#"{"90": {"receive_call": "Y"}}"#))]),
        // The same, the body a moment after the head.
        ("91", {
            let full = python_request(&host, PATH, &compact(&auth, "7", r#"{"91": {"receive_call": "Y"}}"#));
            let (head, body) = full.split_at(full.find("\r\n\r\n").unwrap() + 4);
            vec![head.to_string(), body.to_string()]
        }),
        // libcurl: no length at all.
        (
            "92",
            vec![format!(
                "POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n{}",
                compact(&auth, "7", r#"{"92": {"receive_call": "Y"}}"#)
            )],
        ),
        // A declared length, the body a moment after the head.
        ("90", {
            let body = compact(&auth, "7", r#"{"90": {"receive_call": "N"}}"#);
            vec![format!("POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n", body.len()), body]
        }),
    ];
    for (group, parts) in cases {
        let r = exchange(&mut s, parts).await;
        assert_eq!((r.status, r.body.as_str()), (200, UPDATED), "group {group}: {r:?}");
        let mapped = groups_of(&c, 7).await;
        assert!(mapped.as_array().unwrap().iter().any(|g| g["groupId"] == group.parse::<i64>().unwrap()), "{mapped}");
    }
    assert_eq!(
        groups_of(&c, 7).await,
        json!([{"groupId": 90, "receiveCall": false}, {"groupId": 91, "receiveCall": true}, {"groupId": 92, "receiveCall": true}])
    );
}

/// Sends `parts` on `s`, each 50 ms after the one before, and reads one response.
async fn exchange(s: &mut TcpStream, parts: Vec<String>) -> Raw {
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        s.write_all(part.as_bytes()).await.unwrap();
    }
    read_response(s).await
}

/// `{{userid}}`/`{{token}}` put back, to measure the document's own body.
fn fill_back(s: &str, uid: &str, key: &str) -> String {
    s.replace(&format!("\"{uid}\""), "\"{{userid}}\"").replace(&format!("\"{key}\""), "\"{{token}}\"")
}

#[tokio::test]
async fn empty_content_length_on_a_kept_alive_connection() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let agent = c.agent("jdoe").await;
    let (g1, g2) = (group(&c, "Sales").await, group(&c, "Support").await);
    let host = srv.addr.to_string();
    let auth = key_auth(t.admin_user_id, &t.key);
    let mut s = TcpStream::connect(srv.addr).await.unwrap();

    // Two quirky requests, a well-formed one, then the quirk again, on one connection.
    let first = compact(&auth, &agent.to_string(), &format!(r#"{{"{g1}": {{"receive_call": "Y"}}}}"#));
    s.write_all(python_request(&host, PATH, &first).as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut s).await.body, UPDATED);
    let second = compact(&auth, &agent.to_string(), &format!(r#"{{"{g2}": {{"receive_call": "N"}}}}"#));
    s.write_all(python_request(&host, PATH, &second).as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut s).await.body, UPDATED);
    let third = compact(&auth, &agent.to_string(), &format!(r#"{{"{g1}": {{"receive_call": "N"}}}}"#));
    s.write_all(format!("POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{third}", third.len()).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.body, UPDATED);
    // A body that arrives in pieces after the head.
    let fourth = compact(&auth, &agent.to_string(), &format!(r#"{{"{g2}": {{"receive_call": "Y"}}}}"#));
    s.write_all(python_request(&host, PATH, "").as_bytes()).await.unwrap();
    let (a, b) = fourth.split_at(fourth.len() / 2);
    s.write_all(a.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    s.write_all(b.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut s).await.body, UPDATED);
    assert_eq!(groups_of(&c, agent).await, json!([{"groupId": g1, "receiveCall": false}, {"groupId": g2, "receiveCall": true}]));

    // The native API still answers on the same kind of connection.
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await.unwrap();
    let r = read_response(&mut s).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));

    // An empty Content-Length with a body that is not JSON: taken as it is.
    let r = raw(&srv, &python_request(&host, PATH, "agentId=7")).await;
    assert_eq!(r.body, BAD_FIELDS);
    // …and a body that stops mid-JSON is taken once the client has been quiet for a second.
    let started = std::time::Instant::now();
    let r = raw(&srv, &python_request(&host, PATH, r#"{"userId": "#)).await;
    assert_eq!(r.body, BAD_FIELDS);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}

#[tokio::test]
async fn ssid_from_a_native_session_login() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let agent = c.agent("jdoe").await;
    let g = group(&c, "Sales").await;
    let login = srv
        .anonymous()
        .post("/api/v1/sessions", json!({"tenant": "acme", "username": "admin", "password": t.admin_password}))
        .await
        .expect(201);
    let ssid = login.body["sessionId"].as_str().unwrap().to_string();

    let body = compact(&format!(r#""ssid": "{ssid}""#), &agent.to_string(), &format!(r#"{{"{g}": {{"receive_call": "N"}}}}"#));
    assert_eq!(post(&srv, PATH, &body, &[]).await, (200, UPDATED.to_string()));
    assert_eq!(groups_of(&c, agent).await, json!([{"groupId": g, "receiveCall": false}]));

    // agentId as a JSON number works too.
    let body = format!(r#"{{"ssid":"{ssid}","agentId":{agent},"group":{{"{g}":{{"receive_call":"Y"}}}}}}"#);
    assert_eq!(post(&srv, PATH, &body, &[]).await, (200, UPDATED.to_string()));

    // The read side, with the ssid.
    let read = format!(r#"{{"ssid":"{ssid}","agentId":"{agent}"}}"#);
    let (status, body) = post(&srv, READ_PATH, &read, &[("content-type", "text/plain")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            r#"{{"status":"success","code":200,"message":"Agent group mapping fetched successfully","group":{{"{g}":{{"receive_call":"Y"}}}}}}"#
        )
    );

    // ssid together with userId/token is refused, as is an ended session.
    let both = compact(
        &format!(r#""ssid": "{ssid}",{}"#, key_auth(t.admin_user_id, &t.key)),
        &agent.to_string(),
        &format!(r#"{{"{g}": {{"receive_call": "N"}}}}"#),
    );
    assert_eq!(post(&srv, PATH, &both, &[]).await, (200, DENIED.to_string()));
    srv.anonymous().delete(&format!("/api/v1/sessions/{ssid}")).await.expect(204);
    let body = compact(&format!(r#""ssid": "{ssid}""#), &agent.to_string(), &format!(r#"{{"{g}": {{"receive_call": "N"}}}}"#));
    assert_eq!(post(&srv, PATH, &body, &[]).await, (200, DENIED.to_string()));
    assert_eq!(groups_of(&c, agent).await, json!([{"groupId": g, "receiveCall": true}]));
}

#[tokio::test]
async fn each_error_code_with_its_exact_bytes() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let agent = c.agent("jdoe").await.to_string();
    let g = group(&c, "Sales").await;
    let auth = key_auth(t.admin_user_id, &t.key);
    let ok_group = format!(r#"{{"{g}": {{"receive_call": "Y"}}}}"#);
    let send = |body: String| {
        let srv = &srv;
        async move { post(srv, PATH, &body, &[]).await }
    };

    // 1015: bad or missing credentials.
    assert_eq!(DENIED.len(), 60, "the document's example is 60 bytes");
    let denied = [
        compact(r#""userId": "1""#, &agent, &ok_group),
        compact(&format!(r#""token":"{}""#, t.key), &agent, &ok_group),
        compact(&key_auth(t.admin_user_id, "sb_wrong"), &agent, &ok_group),
        compact(&key_auth(t.admin_user_id + 1000, &t.key), &agent, &ok_group),
        compact(r#""ssid": "no-such-session""#, &agent, &ok_group),
        format!(r#"{{"agentId":"{agent}","group":{ok_group}}}"#),
        String::new(),
    ];
    for body in denied {
        let (status, text) = send(body.clone()).await;
        assert_eq!((status, text.as_str()), (200, DENIED), "{body}");
    }
    let r = reqwest::Client::new().post(srv.url(PATH)).body("{}").send().await.unwrap();
    assert_eq!(r.headers()["content-length"], "60");

    // 1509: agentId missing, malformed, unknown.
    for a in [r#""agentId": "abc","#, r#""agentId": "","#, r#""agentId": null,"#, r#""agentId": "9999","#, ""] {
        let body = format!(r#"{{{auth},{a}"group": {ok_group}}}"#);
        assert_eq!(send(body.clone()).await, (200, BAD_AGENT.to_string()), "{body}");
    }

    // 1505: unknown group, bad receive_call, empty / non-object / missing group.
    for grp in [
        r#"{"9999": {"receive_call": "Y"}}"#.to_string(),
        format!(r#"{{"{g}": {{"receive_call": "X"}}}}"#),
        format!(r#"{{"{g}": {{"receive_call": "y"}}}}"#),
        format!(r#"{{"{g}": "Y"}}"#),
        r#"{"sales": {"receive_call": "Y"}}"#.to_string(),
        format!(r#"{{"{g}": {{"receive_call": "Y"}}, "0{g}": {{"receive_call": "N"}}}}"#),
        "{}".into(),
        "[]".into(),
        r#""90""#.into(),
        "null".into(),
    ] {
        assert_eq!(send(compact(&auth, &agent, &grp)).await, (200, BAD_GROUP.to_string()), "{grp}");
    }
    assert_eq!(send(format!(r#"{{{auth},"agentId":"{agent}"}}"#)).await, (200, BAD_GROUP.to_string()));

    // 1521: a body that is not a JSON object.
    for body in ["nope", "[1,2]", r#""text""#, "{\"userId\": "] {
        assert_eq!(send(body.to_string()).await, (200, BAD_FIELDS.to_string()), "{body}");
    }
    assert_eq!(groups_of(&c, agent.parse().unwrap()).await, json!([]), "nothing changed");

    // The read side uses the same codes.
    assert_eq!(post(&srv, READ_PATH, &format!(r#"{{{auth},"agentId":"9999"}}"#), &[]).await, (200, BAD_AGENT.to_string()));
    assert_eq!(post(&srv, READ_PATH, r#"{"agentId":"1"}"#, &[]).await, (200, DENIED.to_string()));
}

#[tokio::test]
async fn a_mixed_valid_and_invalid_group_set_changes_nothing() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let agent = c.agent("jdoe").await;
    let (g1, g2, g3) = (group(&c, "A").await, group(&c, "B").await, group(&c, "C").await);
    let auth = key_auth(t.admin_user_id, &t.key);
    let set = |grp: String| compact(&auth, &agent.to_string(), &grp);
    assert_eq!(post(&srv, PATH, &set(format!(r#"{{"{g1}":{{"receive_call":"Y"}}}}"#)), &[]).await.1, UPDATED);
    let before = json!([{"groupId": g1, "receiveCall": true}]);
    assert_eq!(groups_of(&c, agent).await, before);

    for bad in [
        format!(r#"{{"{g1}":{{"receive_call":"N"}},"{g2}":{{"receive_call":"Y"}},"9999":{{"receive_call":"Y"}}}}"#),
        format!(r#"{{"{g1}":{{"receive_call":"N"}},"{g2}":{{"receive_call":"maybe"}}}}"#),
        format!(r#"{{"{g2}":{{"receive_call":"Y"}},"{g3}":{{}}}}"#),
    ] {
        assert_eq!(post(&srv, PATH, &set(bad.clone()), &[]).await.1, BAD_GROUP, "{bad}");
        assert_eq!(groups_of(&c, agent).await, before, "{bad}");
    }

    // Only the listed groups change; the others stay.
    let next = format!(r#"{{"{g2}":{{"receive_call":"N"}},"{g3}":{{"receive_call":"Y"}}}}"#);
    assert_eq!(post(&srv, PATH, &set(next), &[]).await.1, UPDATED);
    assert_eq!(
        groups_of(&c, agent).await,
        json!([{"groupId": g1, "receiveCall": true}, {"groupId": g2, "receiveCall": false}, {"groupId": g3, "receiveCall": true}])
    );
}

#[tokio::test]
async fn roles_that_may_not_administer_agents_get_1015() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let admin = srv.client(&t.key);
    let agent = admin.agent("jdoe").await;
    let g = group(&admin, "Sales").await;
    let mk = |username: &str, role: &str, powers: Value| json!({"username": username, "role": role, "powers": powers, "withApiKey": true});
    let body_for = |r: &Resp| {
        compact(&key_auth(r.id(), r.body["apiKey"].as_str().unwrap()), &agent.to_string(), &format!(r#"{{"{g}":{{"receive_call":"Y"}}}}"#))
    };

    for (name, role, powers) in [("ag", "agent", json!(["administer_agents"])), ("m1", "manager", json!([]))] {
        let u = admin.post("/api/v1/users", mk(name, role, powers)).await.expect(201);
        assert_eq!(post(&srv, PATH, &body_for(&u), &[]).await, (200, DENIED.to_string()), "{role}");
        // Reading is open to every role.
        let read = format!(r#"{{{},"agentId":"{agent}"}}"#, key_auth(u.id(), u.body["apiKey"].as_str().unwrap()));
        assert_eq!(
            post(&srv, READ_PATH, &read, &[]).await.1,
            r#"{"status":"success","code":200,"message":"Agent group mapping fetched successfully","group":{}}"#
        );
    }
    assert_eq!(groups_of(&admin, agent).await, json!([]));

    // A manager with administer_agents, and a superuser, may.
    for (name, role, powers) in [("m2", "manager", json!(["administer_agents"])), ("su", "superuser", json!([]))] {
        let u = admin.post("/api/v1/users", mk(name, role, powers)).await.expect(201);
        assert_eq!(post(&srv, PATH, &body_for(&u), &[]).await, (200, UPDATED.to_string()), "{role}");
    }

    // A key with another user's id is refused, even the Sysadmin's id with a manager's key.
    let u = admin.post("/api/v1/users", mk("m3", "manager", json!([]))).await.expect(201);
    let body = compact(
        &key_auth(t.admin_user_id, u.body["apiKey"].as_str().unwrap()),
        &agent.to_string(),
        &format!(r#"{{"{g}":{{"receive_call":"N"}}}}"#),
    );
    assert_eq!(post(&srv, PATH, &body, &[]).await, (200, DENIED.to_string()));
    assert_eq!(groups_of(&admin, agent).await, json!([{"groupId": g, "receiveCall": true}]));
}

#[tokio::test]
async fn other_tenants_ids_are_invalid_like_unknown_ones() {
    let srv = Server::start().await;
    let a = srv.tenant("acme").await;
    let b = srv.tenant("globex").await;
    let (ca, cb) = (srv.client(&a.key), srv.client(&b.key));
    let agent_a = ca.agent("jdoe").await;
    let g_a = group(&ca, "Sales").await;
    let agent_b = cb.agent("jdoe").await;
    let g_b = group(&cb, "Sales").await;
    let auth_a = key_auth(a.admin_user_id, &a.key);

    // Tenant A cannot reach B's agent: same bytes as an id that does not exist.
    let grp = format!(r#"{{"{g_a}":{{"receive_call":"Y"}}}}"#);
    assert_eq!(
        post(&srv, PATH, &compact(&auth_a, &agent_b.to_string(), &grp), &[]).await,
        post(&srv, PATH, &compact(&auth_a, "999999", &grp), &[]).await
    );
    assert_eq!(post(&srv, PATH, &compact(&auth_a, &agent_b.to_string(), &grp), &[]).await.1, BAD_AGENT);
    // …nor use B's group.
    let foreign = format!(r#"{{"{g_b}":{{"receive_call":"Y"}}}}"#);
    assert_eq!(post(&srv, PATH, &compact(&auth_a, &agent_a.to_string(), &foreign), &[]).await.1, BAD_GROUP);
    assert_eq!(
        post(&srv, PATH, &compact(&auth_a, &agent_a.to_string(), &foreign), &[]).await,
        post(&srv, PATH, &compact(&auth_a, &agent_a.to_string(), r#"{"999999":{"receive_call":"Y"}}"#), &[]).await
    );
    // …nor read B's agent.
    assert_eq!(post(&srv, READ_PATH, &format!(r#"{{{auth_a},"agentId":"{agent_b}"}}"#), &[]).await.1, BAD_AGENT);
    // B's key with B's admin id does not work for A's objects either, and A's userId with B's key is refused.
    assert_eq!(post(&srv, PATH, &compact(&key_auth(a.admin_user_id, &b.key), &agent_a.to_string(), &grp), &[]).await.1, DENIED);
    assert_eq!(groups_of(&ca, agent_a).await, json!([]));
    assert_eq!(groups_of(&cb, agent_b).await, json!([]));
}

#[tokio::test]
async fn browsers_get_a_preflight_answer() {
    let srv = Server::start().await;
    let r = reqwest::Client::new().request(reqwest::Method::OPTIONS, srv.url(PATH)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(r.headers()["access-control-allow-methods"], "POST, OPTIONS");
}
