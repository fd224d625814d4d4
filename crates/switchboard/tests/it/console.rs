//! The web console (`/`): plain HTTP checks of its security (cookie flags,
//! CSRF, roles) and a real headless Chromium, driven through chromedriver
//! (WebDriver, `fantoccini`), that signs in, searches, edits, assigns a
//! skill, reads the audit trail and signs out; every main page is checked
//! with axe-core for serious and critical accessibility violations.
//!
//! The browser test needs Debian's `chromium` and `chromium-driver`
//! (`apt-get install -y chromium chromium-driver`); without them it fails,
//! unless `SWITCHBOARD_TEST_SKIP=browser` (or `SWITCHBOARD_SKIP_BROWSER_TESTS=1`). `SWITCHBOARD_UPDATE_SCREENSHOTS=1`
//! rewrites the screenshots in `docs/console/`.

use crate::support::{on_postgres, Server};
use fantoccini::{Client as Driver, ClientBuilder, Locator};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use switchboard_domain::Role;

// ---- plain HTTP ------------------------------------------------------------

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

fn cookie_value(set: &[String], name: &str) -> Option<String> {
    set.iter().find_map(|c| c.strip_prefix(&format!("{name}=")).map(|v| v.split(';').next().unwrap().to_string()))
}

/// The value of `<input name="_csrf" value="…">` in a page.
fn csrf_in(html: &str) -> String {
    let i = html.find(r#"name="_csrf" value=""#).expect("a CSRF field in the page") + r#"name="_csrf" value=""#.len();
    html[i..].split('"').next().unwrap().to_string()
}

/// Signs in over plain HTTP; returns the session cookie and the page's CSRF token.
async fn sign_in(
    srv: &Server,
    http: &reqwest::Client,
    tenant: &str,
    user: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (String, Vec<String>, String) {
    let page = http.get(srv.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let pre = cookie_value(&set_cookies(&page), "sb_login_csrf").expect("a sign-in CSRF cookie");
    let token = csrf_in(&page.text().await.unwrap());
    let mut req = http.post(srv.url("/login")).header(COOKIE, format!("sb_login_csrf={pre}")).form(&[
        ("_csrf", token.as_str()),
        ("tenant", tenant),
        ("username", user),
        ("password", password),
        ("next", "/agents"),
    ]);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in should redirect");
    let set = set_cookies(&r);
    let session = cookie_value(&set, "sb_console").expect("a session cookie");
    let agents = http.get(srv.url("/agents")).header(COOKIE, format!("sb_console={session}")).send().await.unwrap();
    assert_eq!(agents.status(), StatusCode::OK);
    let csrf = csrf_in(&agents.text().await.unwrap());
    (session, set, csrf)
}

#[tokio::test]
async fn session_cookie_flags_and_sign_out() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let http = http();

    // Not signed in: every page leads to the sign-in form; the API is untouched.
    let r = http.get(srv.url("/agents?q=x")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login?next=/agents%3Fq%3Dx");
    assert_eq!(http.get(srv.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
    let api = http.get(srv.url("/api/v1/agents")).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let missing = http.get(srv.url("/configuration/nope/nothing")).send().await.unwrap();
    assert_eq!(missing.headers()["content-type"], "application/problem+json");

    // A wrong password is refused without saying which part was wrong.
    let page = http.get(srv.url("/login")).send().await.unwrap();
    let pre = cookie_value(&set_cookies(&page), "sb_login_csrf").unwrap();
    let token = csrf_in(&page.text().await.unwrap());
    let r = http
        .post(srv.url("/login"))
        .header(COOKIE, format!("sb_login_csrf={pre}"))
        .form(&[("_csrf", token.as_str()), ("tenant", "acme"), ("username", "admin"), ("password", "wrong-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_value(&set_cookies(&r), "sb_console").is_none());
    assert!(r.text().await.unwrap().contains("Unknown tenant, username or password."));

    // Signed in: HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP.
    let (session, set, csrf) = sign_in(&srv, &http, "acme", "admin", &t.admin_password, &[]).await;
    let c = set.iter().find(|c| c.starts_with("sb_console=")).unwrap();
    assert!(c.contains("; HttpOnly") && c.contains("; SameSite=Strict") && c.contains("; Path=/"), "{c}");
    assert!(!c.contains("Secure"), "{c}");
    assert_eq!(session.len(), 64);
    // Pages are not cached and cannot be framed.
    let r = http.get(srv.url("/agents")).header(COOKIE, format!("sb_console={session}")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));

    // Behind a TLS-terminating proxy the cookie is Secure.
    let (_, set, _) = sign_in(&srv, &http, "acme", "admin", &t.admin_password, &[("x-forwarded-proto", "https")]).await;
    assert!(set.iter().find(|c| c.starts_with("sb_console=")).unwrap().contains("; Secure"));

    // Sign out ends the session on the server, not only in the browser.
    let r = http
        .post(srv.url("/logout"))
        .header(COOKIE, format!("sb_console={session}"))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(set_cookies(&r).iter().any(|c| c.starts_with("sb_console=") && c.contains("Max-Age=0")));
    let r = http.get(srv.url("/agents")).header(COOKIE, format!("sb_console={session}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the old cookie no longer works");
}

#[tokio::test]
async fn csrf_token_required_on_every_post() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let api = srv.client(&t.key);
    let id = api.agent("jdoe").await;
    let http = http();
    let (session, _, csrf) = sign_in(&srv, &http, "acme", "admin", &t.admin_password, &[]).await;
    let cookie = format!("sb_console={session}");
    let edit = |token: Option<&str>| {
        let mut form = vec![("loginId", "JDOE"), ("firstName", "Ann"), ("lastName", "Changed"), ("wrapUpTime", "-1"), ("active", "on")];
        if let Some(t) = token {
            form.push(("_csrf", t));
        }
        http.post(srv.url(&format!("/agents/{id}"))).header(COOKIE, cookie.clone()).form(&form).send()
    };

    // Without the token, or with another one: refused, nothing written.
    let r = edit(None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("security token"));
    assert_eq!(edit(Some(&"0".repeat(64))).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(api.get(&format!("/api/v1/agents/{id}")).await.body["lastName"], "Smith");
    // Sign-out and sign-in are protected too.
    let r = http.post(srv.url("/logout")).header(COOKIE, cookie.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(srv.url("/login"))
        .form(&[("tenant", "acme"), ("username", "admin"), ("password", t.admin_password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // With the form field, or the header htmx sends: done.
    let r = edit(Some(&csrf)).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(api.get(&format!("/api/v1/agents/{id}")).await.body["lastName"], "Changed");
    let r = http
        .post(srv.url(&format!("/agents/{id}/unlock")))
        .header(COOKIE, cookie.clone())
        .header("x-csrf-token", csrf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The API's wording, next to the field.
    let long = "x".repeat(101);
    let r = http
        .post(srv.url(&format!("/agents/{id}")))
        .header(COOKIE, cookie.clone())
        .form(&[("_csrf", csrf.as_str()), ("loginId", "JDOE"), ("firstName", "Ann"), ("lastName", long.as_str()), ("wrapUpTime", "-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<p class="error" id="agent-lastName-error">lastName must be at most 100 characters long</p>"#), "{html}");
    let api_detail = api.patch(&format!("/api/v1/agents/{id}"), json!({"lastName": long})).await.expect(422).body["detail"].clone();
    assert_eq!(api_detail, "lastName must be at most 100 characters long");
}

#[tokio::test]
async fn agent_role_sees_but_cannot_change() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let api = srv.client(&t.key);
    let id = api.agent("jdoe").await;
    srv.dir.create_user(None, t.id, "viewer", Role::Agent, vec![], Some("viewer-pass-1".into()), false).await.unwrap();
    let http = http();
    let (session, _, csrf) = sign_in(&srv, &http, "acme", "viewer", "viewer-pass-1", &[]).await;
    let cookie = format!("sb_console={session}");

    let page = http.get(srv.url(&format!("/agents/{id}"))).header(COOKIE, cookie.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("JDOE") && html.contains("Your role can view the directory but not change it."));
    assert!(!html.contains(&format!(r#"action="/agents/{id}""#)), "no edit form for the Agent role");
    assert!(!html.contains(r#"href="/audit""#), "the audit trail is for staff");

    // A forged POST (with a valid token) is refused by the domain's role check.
    let r = http
        .post(srv.url(&format!("/agents/{id}")))
        .header(COOKIE, cookie.clone())
        .form(&[
            ("_csrf", csrf.as_str()),
            ("loginId", "JDOE"),
            ("firstName", "Ann"),
            ("lastName", "Hacked"),
            ("wrapUpTime", "-1"),
            ("active", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(api.get(&format!("/api/v1/agents/{id}")).await.body["lastName"], "Smith");
    let r = http.get(srv.url("/audit")).header(COOKIE, cookie.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http.get(srv.url("/agents/new")).header(COOKIE, cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// The webhooks page: a Sysadmin subscribes a URL (its secret shown once;
/// an internal address refused next to the field), sees it listed with
/// its deliveries, disables, enables and deletes it; no one else may.
#[tokio::test]
async fn webhooks_page_subscribes_lists_and_deletes() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let api = srv.client(&t.key);
    let http = http();
    let (session, _, csrf) = sign_in(&srv, &http, "acme", "admin", &t.admin_password, &[]).await;
    let cookie = format!("sb_console={session}");
    let get = |path: &str| http.get(srv.url(path)).header(COOKIE, cookie.clone()).send();
    let post = |path: &str, form: Vec<(&str, &str)>| {
        let mut form = form;
        form.push(("_csrf", csrf.as_str()));
        let form: Vec<(String, String)> = form.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        http.post(srv.url(path)).header(COOKIE, cookie.clone()).form(&form).send()
    };
    let html = get("/webhooks").await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"href="/webhooks" aria-current="page""#) && html.contains("None yet."), "{html}");
    let r = post("/webhooks", vec![("url", "http://127.0.0.1/hook"), ("events", "")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains(r#"id="webhook-url-error""#));
    let r = post("/webhooks", vec![("url", "http://93.184.215.14/hook"), ("events", "agent.*, skill.created")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<code id="webhook-secret">whsec_"#), "{html}");
    let hooks = api.get("/api/v1/webhooks").await.body;
    let id = hooks["items"][0]["id"].as_i64().unwrap();
    assert_eq!(hooks["items"][0]["events"], json!(["agent.*", "skill.created"]));
    let listed = get("/webhooks").await.unwrap().text().await.unwrap();
    assert!(listed.contains("agent.*, skill.created") && !listed.contains("whsec_"), "{listed}");
    let r = post(&format!("/webhooks/{id}/disable"), vec![]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(api.get(&format!("/api/v1/webhooks/{id}")).await.body["enabled"], false);
    post(&format!("/webhooks/{id}/enable"), vec![]).await.unwrap();
    assert_eq!(api.get(&format!("/api/v1/webhooks/{id}")).await.body["enabled"], true);
    let r = post(&format!("/webhooks/{id}/delete"), vec![]).await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/webhooks?done=deleted");
    assert_eq!(api.get(&format!("/api/v1/webhooks/{id}")).await.status, 404);

    srv.dir.create_user(None, t.id, "mgr", Role::Manager, vec![], Some("manager-pass-1".into()), false).await.unwrap();
    let (session, _, _) = sign_in(&srv, &http, "acme", "mgr", "manager-pass-1", &[]).await;
    let cookie = format!("sb_console={session}");
    let page = http.get(srv.url("/agents")).header(COOKIE, cookie.clone()).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains(r#"href="/webhooks""#));
    assert_eq!(http.get(srv.url("/webhooks")).header(COOKIE, cookie).send().await.unwrap().status(), StatusCode::FORBIDDEN);
}

/// The settings page: a Sysadmin creates API keys of either scope (each
/// shown once), lists and revokes them, and sets scimDeleteMode; no one
/// else may.
#[tokio::test]
async fn settings_page_api_keys_and_scim_delete_mode() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let api = srv.client(&t.key);
    let http = http();
    let (session, _, csrf) = sign_in(&srv, &http, "acme", "admin", &t.admin_password, &[]).await;
    let cookie = format!("sb_console={session}");
    let get = |path: &str| http.get(srv.url(path)).header(COOKIE, cookie.clone()).send();
    let post = |path: &str, form: Vec<(&str, &str)>| {
        let mut form = form;
        form.push(("_csrf", csrf.as_str()));
        let form: Vec<(String, String)> = form.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        http.post(srv.url(path)).header(COOKIE, cookie.clone()).form(&form).send()
    };
    let page = get("/settings").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"href="/settings" aria-current="page""#) && html.contains("API keys"), "{html}");

    // A SCIM key: shown once, works on /scim/v2 only.
    let r = post("/settings/api-keys", vec![("name", "okta"), ("scope", "scim")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = r.text().await.unwrap();
    let i = html.find(r#"<code id="issued-key">"#).expect("the key, once") + r#"<code id="issued-key">"#.len();
    let key = html[i..].split('<').next().unwrap().to_string();
    let scim = srv.client(&key);
    assert_eq!(scim.get("/scim/v2/Users").await.status, 200);
    assert_eq!(scim.get("/api/v1/agents").await.status, 403);
    let listed = get("/settings").await.unwrap().text().await.unwrap();
    assert!(!listed.contains(&key) && listed.contains(&key[..8]) && listed.contains("SCIM provisioning"), "the list shows the prefix only");
    // A native key.
    let r = post("/settings/api-keys", vec![("name", "crm"), ("scope", "api")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // Mistakes are shown next to the field.
    let r = post("/settings/api-keys", vec![("name", ""), ("scope", "scim")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains(r#"id="key-name-error""#));
    let r = post("/settings/api-keys", vec![("name", "x"), ("scope", "root")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains(r#"id="key-scope-error""#));

    // Revoke: the key stops working at once.
    let keys = api.get("/api/v1/api-keys").await.body;
    let okta = keys["items"].as_array().unwrap().iter().find(|k| k["name"] == "okta").unwrap()["id"].as_i64().unwrap();
    let r = post(&format!("/settings/api-keys/{okta}/revoke"), vec![]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/settings?done=revoked");
    assert_eq!(scim.get("/scim/v2/Users").await.status, 401);
    assert!(get("/settings?done=revoked").await.unwrap().text().await.unwrap().contains("Key revoked."));

    // scimDeleteMode.
    let r = post("/settings/scim", vec![("scimDeleteMode", "delete")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(api.get("/api/v1/tenant").await.body["settings"]["scimDeleteMode"], "delete");
    let r = post("/settings/scim", vec![("scimDeleteMode", "archive")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.get("/api/v1/tenant").await.body["settings"]["scimDeleteMode"], "delete");

    // Not a Sysadmin: no link, no page, no key.
    srv.dir.create_user(None, t.id, "mgr", Role::Manager, vec![], Some("manager-pass-1".into()), false).await.unwrap();
    let (session, _, csrf) = sign_in(&srv, &http, "acme", "mgr", "manager-pass-1", &[]).await;
    let cookie = format!("sb_console={session}");
    let page = http.get(srv.url("/agents")).header(COOKIE, cookie.clone()).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains(r#"href="/settings""#));
    assert_eq!(http.get(srv.url("/settings")).header(COOKIE, cookie.clone()).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = http
        .post(srv.url("/settings/api-keys"))
        .header(COOKIE, cookie.clone())
        .form(&[("_csrf", csrf.as_str()), ("name", "mine"), ("scope", "scim")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(srv.url("/settings/scim"))
        .header(COOKIE, cookie)
        .form(&[("_csrf", csrf.as_str()), ("scimDeleteMode", "deactivate")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(api.get("/api/v1/tenant").await.body["settings"]["scimDeleteMode"], "delete");
}

#[tokio::test]
async fn sorting_filters_and_paging() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let api = srv.client(&t.key);
    let skill = api.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201).id();
    for (i, last) in ["Zeta", "alpha", "Mu"].iter().enumerate() {
        let body = json!({"loginId": format!("ag{i}"), "firstName": "A", "lastName": last, "active": i != 1});
        let id = api.post("/api/v1/agents", body).await.expect(201).id();
        if i == 2 {
            api.put(&format!("/api/v1/agents/{id}/skills/{skill}"), json!({"proficiency": 2})).await.expect(200);
        }
    }
    for i in 0..60 {
        api.post("/api/v1/agents", json!({"loginId": format!("bulk{i:02}"), "firstName": "B", "lastName": "Bulk"})).await.expect(201);
    }
    let http = http();
    let (session, _, _) = sign_in(&srv, &http, "acme", "admin", &t.admin_password, &[]).await;
    let get = |path: String, fragment: bool| {
        let mut r = http.get(srv.url(&path)).header(COOKIE, format!("sb_console={session}"));
        if fragment {
            r = r.header("hx-request", "true").header("hx-target", "agent-results");
        }
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let order = |html: &str, names: &[&str]| {
        let pos: Vec<usize> = names.iter().map(|n| html.find(n).unwrap_or_else(|| panic!("{n} missing"))).collect();
        pos.windows(2).all(|w| w[0] < w[1])
    };
    let html = get("/agents?q=ag&sort=lastName".into(), true).await;
    assert!(html.starts_with(r#"<div id="agent-results">"#), "htmx gets the results only");
    assert!(order(&html, &["alpha", "Mu", "Zeta"]), "{html}");
    let html = get("/agents?q=ag&sort=-lastName".into(), true).await;
    assert!(order(&html, &["Zeta", "Mu", "alpha"]));
    let html = get("/agents?q=ag&sort=-loginId".into(), false).await;
    assert!(order(&html, &["AG2", "AG1", "AG0"]));
    assert!(html.contains("<!DOCTYPE html>"));
    let html = get("/agents?q=ag&active=false".into(), true).await;
    assert!(html.contains("AG1") && !html.contains("AG0") && !html.contains("AG2"));
    let html = get(format!("/agents?skill={skill}"), true).await;
    assert!(html.contains("AG2") && !html.contains("AG0") && !html.contains("BULK"));
    // 63 agents: pages of 50.
    let html = get("/agents?sort=loginId".into(), true).await;
    assert!(html.contains("Agents 1–50 (more on the next page)") && html.contains("Next page"));
    let html = get("/agents?sort=loginId&page=2".into(), true).await;
    assert!(html.contains("Agents 51–63") && html.contains("Previous page") && !html.contains("Next page"));
    assert!(html.contains("BULK59"));
}

// ---- in a real browser -------------------------------------------------------

const AXE: &str = include_str!("../assets/axe-core/axe.min.js");

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| std::env::split_paths(&path).map(|d| d.join(n)).find(|p| p.is_file()))
}

/// chromedriver on a free port with a headless Chromium; `None` when browser
/// tests are switched off.
struct Browser {
    driver: Driver,
    _chromedriver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Option<Browser> {
        if std::env::var("SWITCHBOARD_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1") || crate::support::skip_requested("browser") {
            crate::support::say(
                "SKIPPED browser (SWITCHBOARD_TEST_SKIP=browser or SWITCHBOARD_SKIP_BROWSER_TESTS=1): a console browser test",
            );
            return None;
        }
        let missing = "the console's browser tests need Debian's chromium and chromium-driver packages \
                       (apt-get install -y chromium chromium-driver; or SWITCHBOARD_CHROMIUM / SWITCHBOARD_CHROMEDRIVER \
                       to point at them; scripts/test-deps.sh installs them); set SWITCHBOARD_TEST_SKIP=browser to skip them";
        let chromedriver =
            find_program("SWITCHBOARD_CHROMEDRIVER", &["chromedriver"]).unwrap_or_else(|| panic!("chromedriver not found: {missing}"));
        let chromium = find_program("SWITCHBOARD_CHROMIUM", &["chromium", "chromium-browser", "google-chrome"])
            .unwrap_or_else(|| panic!("chromium not found: {missing}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {missing}", chromedriver.display()));
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                         "--hide-scrollbars", "--no-first-run", "--disable-extensions", format!("--user-data-dir={}", profile.path().display())]
            }
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let driver = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(d) => break d,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver did not start a browser: {e}; {missing}"),
            }
        };
        Some(Browser { driver, _chromedriver: child, _profile: profile })
    }
}

/// Waits until `check` holds (htmx updates the page asynchronously).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text_of(d: &Driver, css: &str) -> String {
    // htmx may replace the element between finding and reading it: try again.
    let mut tries = 0;
    loop {
        let r = match d.find(Locator::Css(css)).await {
            Ok(e) => e.text().await,
            Err(e) => Err(e),
        };
        match r {
            Ok(t) => return t,
            Err(e) if tries < 20 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
}

async fn body_text(d: &Driver) -> String {
    text_of(d, "body").await
}

async fn fill(d: &Driver, css: &str, value: &str) {
    let e = d.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

async fn click(d: &Driver, css: &str) {
    d.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
}

async fn path_of(d: &Driver) -> String {
    let u = d.current_url().await.unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// Runs axe-core on the page; fails on serious or critical violations.
async fn axe(d: &Driver, page: &str) {
    let loaded = d.execute("return typeof window.axe !== 'undefined'", vec![]).await.unwrap();
    if loaded != Value::Bool(true) {
        d.execute(AXE, vec![]).await.unwrap();
    }
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] })
          .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }))))
          .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));"#;
    let v = d.execute_async(script, vec![]).await.unwrap();
    let bad: Vec<&Value> = v.as_array().unwrap().iter().filter(|x| matches!(x["impact"].as_str(), Some("serious" | "critical"))).collect();
    assert!(bad.is_empty(), "accessibility violations on {page}: {}", serde_json::to_string_pretty(&bad).unwrap());
}

fn screenshot_dir() -> Option<PathBuf> {
    (std::env::var("SWITCHBOARD_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") && !on_postgres())
        .then(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console"))
}

async fn shot(d: &Driver, name: &str) {
    if let Some(dir) = screenshot_dir() {
        std::fs::create_dir_all(&dir).unwrap();
        // The whole page: WebDriver screenshots show the window only.
        let (w, h) = d.get_window_size().await.unwrap();
        let js = "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight";
        let full = d.execute(js, vec![]).await.unwrap().as_u64().unwrap_or(h);
        d.set_window_size(w as u32, full.clamp(400, 2400) as u32).await.unwrap();
        let png = d.screenshot().await.unwrap();
        d.set_window_size(w as u32, h as u32).await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

#[tokio::test]
async fn in_a_real_browser() {
    let Some(b) = Browser::start().await else { return };
    // The flow runs as a task so that the browser is closed even when an
    // assertion fails (killing only chromedriver would leave Chromium behind).
    let outcome = tokio::spawn(browser_flow(b.driver.clone())).await;
    let _ = b.driver.clone().close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn browser_flow(driver: Driver) {
    let d = &driver;
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let api = srv.client(&t.key);
    let spanish = api.post("/api/v1/skills", json!({"name": "Spanish", "description": "Spanish-speaking callers"})).await.expect(201).id();
    api.post("/api/v1/skills", json!({"name": "Billing"})).await.expect(201);
    let cc = api.post("/api/v1/call-centers", json!({"name": "Main"})).await.expect(201).id();
    let sales = api.post("/api/v1/services", json!({"name": "Sales", "callCenterId": cc})).await.expect(201).id();
    api.post("/api/v1/groups", json!({"name": "Tier 1"})).await.expect(201);
    let jdoe = api
        .post(
            "/api/v1/agents",
            json!({"loginId": "jdoe", "firstName": "John", "lastName": "Doe", "email": "jdoe@example.com", "serviceIds": [sales]}),
        )
        .await
        .expect(201)
        .id();
    for (login, first, last) in
        [("asmith", "Ann", "Smith"), ("bjones", "Bob", "Jones"), ("cdoe", "Carol", "Doenitz"), ("mlee", "Mei", "Lee")]
    {
        api.post("/api/v1/agents", json!({"loginId": login, "firstName": first, "lastName": last})).await.expect(201);
    }
    srv.dir.create_user(None, t.id, "viewer", Role::Agent, vec![], Some("viewer-pass-1".into()), false).await.unwrap();

    // Sign in.
    d.goto(&srv.url("/")).await.unwrap();
    assert!(path_of(d).await.starts_with("/login"));
    axe(d, "sign-in").await;
    shot(d, "sign-in").await;
    fill(d, "#login-tenant", "acme").await;
    fill(d, "#login-username", "admin").await;
    fill(d, "#login-password", &t.admin_password).await;
    click(d, "form button[type=submit]").await;
    eventually("the agents page", || async { path_of(d).await == "/agents" }).await;
    let cookie = d.get_named_cookie("sb_console").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    assert_eq!(d.execute("return document.cookie", vec![]).await.unwrap(), json!(""), "scripts cannot read the session cookie");
    assert!(text_of(d, "#agent-count").await.contains("Agents 1–5"));

    // Instant search: typing filters the table without a page load.
    d.execute("document.body.dataset.marker = 'same page'", vec![]).await.unwrap();
    fill(d, "#agents-q", "doe").await;
    eventually("search results for doe", || async {
        let t = text_of(d, "#agent-results").await;
        t.contains("JDOE") && t.contains("CDOE") && !t.contains("ASMITH")
    })
    .await;
    assert_eq!(d.execute("return document.body.dataset.marker", vec![]).await.unwrap(), json!("same page"));
    assert_eq!(path_of(d).await, "/agents?q=doe&sort=loginId", "the URL follows the search");
    axe(d, "agents").await;
    shot(d, "agents").await;

    // Open the agent and edit a field.
    click(d, &format!("#agent-results a[href='/agents/{jdoe}']")).await;
    eventually("the agent page", || async { path_of(d).await == format!("/agents/{jdoe}") }).await;
    axe(d, "agent").await;
    fill(d, "#agent-lastName", "Smithers").await;
    click(d, &format!("form[action='/agents/{jdoe}'] button[type=submit]")).await;
    eventually("saved", || async { body_text(d).await.contains("Saved.") }).await;
    assert_eq!(api.get(&format!("/api/v1/agents/{jdoe}")).await.body["lastName"], "Smithers");

    // A validation error shows next to its field, in the API's words.
    fill(d, "#agent-lastName", &"x".repeat(101)).await;
    click(d, &format!("form[action='/agents/{jdoe}'] button[type=submit]")).await;
    eventually("the field error", || async { d.find(Locator::Id("agent-lastName-error")).await.is_ok() }).await;
    assert_eq!(text_of(d, "#agent-lastName-error").await, "lastName must be at most 100 characters long");
    let input = d.find(Locator::Id("agent-lastName")).await.unwrap();
    assert_eq!(input.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    assert!(input.attr("aria-describedby").await.unwrap().unwrap().contains("agent-lastName-error"));
    axe(d, "agent with an error").await;

    // The password policy is shown before submitting; a bad password is explained.
    d.goto(&srv.url(&format!("/agents/{jdoe}"))).await.unwrap();
    assert!(text_of(d, "#pw-password-help").await.contains("8 to 128 characters with at least one digit"));
    fill(d, "#pw-password", "short").await;
    click(d, &format!("form[action='/agents/{jdoe}/password'] button[type=submit]")).await;
    eventually("the password error", || async { d.find(Locator::Id("pw-password-error")).await.is_ok() }).await;
    assert_eq!(text_of(d, "#pw-password-error").await, "password must be at least 8 characters long");

    // Assign a skill with a proficiency.
    d.find(Locator::Id("add-skill-skillId")).await.unwrap().select_by_value(&spanish.to_string()).await.unwrap();
    d.find(Locator::Id("add-skill-proficiency")).await.unwrap().select_by_value("4").await.unwrap();
    click(d, &format!("form.add[action='/agents/{jdoe}/skills'] button[type=submit]")).await;
    eventually("skills updated", || async { body_text(d).await.contains("Skills updated.") }).await;
    let skills = api.get(&format!("/api/v1/agents/{jdoe}")).await.body["skills"].clone();
    assert_eq!(skills, json!([{"skillId": spanish, "proficiency": 4}]));
    shot(d, "agent").await;

    // The audit trail shows the change with its before and after values.
    click(d, "nav a[href='/audit']").await;
    eventually("the audit page", || async { path_of(d).await == "/audit" }).await;
    let audit = body_text(d).await;
    assert!(audit.contains(&format!("user:admin changed agent {jdoe} (JDOE)")), "{audit}");
    assert!(audit.contains("lastName") && audit.contains("Doe") && audit.contains("Smithers"), "{audit}");
    assert!(audit.contains("skills"), "{audit}");
    axe(d, "audit").await;
    shot(d, "audit").await;
    // …and per agent.
    d.goto(&srv.url(&format!("/audit?entity=agent&entityId={jdoe}"))).await.unwrap();
    assert_eq!(text_of(d, "h1").await, format!("History of agent {jdoe}"));

    // The catalog pages.
    for (path, name) in [("/skills", "skills"), ("/services", "services"), ("/campaigns", "campaigns")] {
        d.goto(&srv.url(path)).await.unwrap();
        axe(d, path).await;
        shot(d, name).await;
    }
    d.goto(&srv.url("/dids")).await.unwrap();
    fill(d, "#new-number", "+14155550100").await;
    click(d, "form[action='/dids'] button[type=submit]").await;
    eventually("DID created", || async { body_text(d).await.contains("Created.") }).await;

    // Bulk import: the dry run's plan first, nothing written; then the import.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agents.csv");
    std::fs::write(&file, "loginId,firstName,lastName,skills\nimp1,Ima,Port,Spanish:5\nimp2,Ima,Porter,\n").unwrap();
    d.goto(&srv.url("/import")).await.unwrap();
    d.find(Locator::Id("import-file")).await.unwrap().send_keys(&file.to_string_lossy()).await.unwrap();
    click(d, "#import-form button[type=submit]").await;
    eventually("the plan", || async { text_of(d, "#import-plan").await.contains("2 to create") }).await;
    assert_eq!(api.get("/api/v1/agents?q=IMP").await.body["items"], json!([]), "a plan writes nothing");
    axe(d, "import plan").await;
    shot(d, "import").await;
    click(d, "#import-plan form button[type=submit]").await;
    eventually("the import result", || async { text_of(d, "h1").await == "Import result" }).await;
    assert_eq!(api.get("/api/v1/agents?q=IMP").await.body["items"].as_array().unwrap().len(), 2);

    // Settings: a SCIM key, shown once and working at once; scimDeleteMode.
    click(d, "nav a[href='/settings']").await;
    eventually("the settings page", || async { path_of(d).await == "/settings" }).await;
    axe(d, "settings").await;
    fill(d, "#key-name", "okta").await;
    d.find(Locator::Id("key-scope")).await.unwrap().select_by_value("scim").await.unwrap();
    click(d, "form[action='/settings/api-keys'] button[type=submit]").await;
    eventually("the new key", || async { d.find(Locator::Id("issued-key")).await.is_ok() }).await;
    let key = text_of(d, "#issued-key").await;
    assert_eq!(srv.client(&key).get("/scim/v2/Users").await.status, 200);
    axe(d, "settings with a new key").await;
    d.find(Locator::Id("scim-scimDeleteMode")).await.unwrap().select_by_value("delete").await.unwrap();
    click(d, "form[action='/settings/scim'] button[type=submit]").await;
    eventually("saved", || async { body_text(d).await.contains("Saved.") }).await;
    assert_eq!(api.get("/api/v1/tenant").await.body["settings"]["scimDeleteMode"], "delete");
    shot(d, "settings").await;

    // Narrow screen: still usable, nothing hidden behind a fixed width.
    d.set_window_size(390, 844).await.unwrap();
    d.goto(&srv.url("/agents")).await.unwrap();
    let overflow = d.execute("return document.documentElement.scrollWidth <= window.innerWidth + 1", vec![]).await.unwrap();
    assert_eq!(overflow, json!(true), "the page scrolls sideways on a narrow screen");
    axe(d, "agents (narrow)").await;
    shot(d, "agents-narrow").await;
    d.set_window_size(1280, 900).await.unwrap();

    // Keyboard: the first Tab reaches the skip link.
    d.goto(&srv.url("/agents")).await.unwrap();
    d.find(Locator::Css("body")).await.unwrap().send_keys("\u{E004}").await.unwrap();
    let focused = d.execute("return document.activeElement.textContent", vec![]).await.unwrap();
    assert_eq!(focused, json!("Skip to main content"));

    // Sign out: the session is gone.
    click(d, "header form[action='/logout'] button").await;
    eventually("the sign-in page", || async { path_of(d).await.starts_with("/login") }).await;
    d.goto(&srv.url("/agents")).await.unwrap();
    assert!(path_of(d).await.starts_with("/login"), "signed out");

    // An Agent-role user sees everything but has nothing to edit with.
    fill(d, "#login-tenant", "acme").await;
    fill(d, "#login-username", "viewer").await;
    fill(d, "#login-password", "viewer-pass-1").await;
    click(d, "form button[type=submit]").await;
    eventually("the agents page", || async { path_of(d).await == "/agents" }).await;
    d.goto(&srv.url(&format!("/agents/{jdoe}"))).await.unwrap();
    let page = body_text(d).await;
    assert!(page.contains("Your role can view the directory but not change it.") && page.contains("Smithers") && page.contains("Spanish"));
    assert!(d.find_all(Locator::Css("main form")).await.unwrap().is_empty(), "no forms for the Agent role");
    assert!(d.find_all(Locator::Css("nav a[href='/audit']")).await.unwrap().is_empty());
    assert!(d.find_all(Locator::Css("nav a[href='/settings']")).await.unwrap().is_empty());
    axe(d, "agent (read-only)").await;
}
