//! `POST /ca_apis/CAToken/generateToken`: header `apiKey`, body `{"userName"}`
//! → `{"token":"…"}`. The token then stands in for `apiKey` on the other
//! endpoints as `Authorization: Bearer <token>` until it expires.

use super::errors::{error, not_json, reply, Api};
use super::{body_map, header, text, Ozonetel};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use std::sync::Arc;

pub async fn generate_token(State(s): State<AppState>, Extension(oz): Extension<Arc<Ozonetel>>, h: HeaderMap, body: Bytes) -> Response {
    let b = match body_map(&body) {
        Ok(b) => b,
        Err(_) => return not_json(Api::Token, s.dir.now()),
    };
    let key = header(&h, "apikey").filter(|k| !k.trim().is_empty()).or_else(|| text(&b, "apiKey"));
    let lifetime = i64::try_from(oz.token_ttl.as_millis()).unwrap_or(i64::MAX);
    match s.dir.ozonetel_issue_token(text(&b, "userName").as_deref(), key.as_deref(), lifetime).await {
        Ok(session) => reply(StatusCode::OK, serde_json::json!({ "token": session.id }).to_string()),
        Err(e) => error(Api::Token, &e),
    }
}
