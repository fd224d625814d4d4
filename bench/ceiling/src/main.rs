//! The bare ceiling of bench/run.sh: axum 0.8 with no middleware at all.
//! `GET /` answers "ok" (hello world); `GET /agent` answers a fixed agent as
//! JSON, serialised for each request, the shape and size of the native
//! API's `GET /api/v1/agents/{id}`: what a read costs when it costs nothing
//! but HTTP and JSON.
//!
//! `bench-ceiling 127.0.0.1:18473`

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Skill {
    skill_id: i64,
    proficiency: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    group_id: i64,
    receive_call: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Agent {
    id: i64,
    tenant_id: i64,
    login_id: String,
    first_name: String,
    last_name: String,
    display_name: Option<String>,
    email: Option<String>,
    phone: String,
    wrap_up_time: i64,
    home_agent: bool,
    active: bool,
    locked: bool,
    failed_logins: i64,
    last_login: Option<i64>,
    last_login_ip: Option<String>,
    password_last_modified: Option<i64>,
    has_password: bool,
    attributes: serde_json::Map<String, serde_json::Value>,
    created_at: i64,
    updated_at: i64,
    version: i64,
    skills: Vec<Skill>,
    service_ids: Vec<i64>,
    groups: Vec<Group>,
}

async fn agent() -> Json<Agent> {
    Json(Agent {
        id: 500_123,
        tenant_id: 1,
        login_id: "AG0500123".into(),
        first_name: "Margaret".into(),
        last_name: "Hendersonville".into(),
        display_name: None,
        email: Some("ag0500123@t1.example.com".into()),
        phone: "5550500123".into(),
        wrap_up_time: 30,
        home_agent: false,
        active: true,
        locked: false,
        failed_logins: 0,
        last_login: None,
        last_login_ip: None,
        password_last_modified: None,
        has_password: false,
        attributes: serde_json::Map::new(),
        created_at: 1_764_000_000_000,
        updated_at: 1_764_000_000_000,
        version: 1,
        skills: vec![Skill { skill_id: 3, proficiency: 2 }, Skill { skill_id: 17, proficiency: 5 }],
        service_ids: vec![4],
        groups: vec![Group { group_id: 8, receive_call: true }],
    })
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18473".into());
    let app = Router::new().route("/", get(|| async { "ok" })).route("/agent", get(agent));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
