//! Every answer of the dialect: the document's compact JSON shapes, and the
//! one mapping from the domain's `Error` to DeepCall's codes and texts.
//!
//! Answers are HTTP 200 whatever their `status`/`code` (the document's
//! clients print the body only on 200, and axios rejects anything else);
//! only a server-side failure is 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use switchboard_domain::{Entity, Error, Rule};

pub const PERMISSION_DENIED: &str = r#"{"status":"error","message":"Permission denied","code":1015}"#;
pub const INVALID_AGENT_ID: &str = r#"{"status":"error","message":"Invalid agentId","code":1509}"#;
pub const INVALID_GROUP_DATA: &str = r#"{"status":"error","message":"Invalid group data","code":1505}"#;
pub const ONLY_VALID_FIELDS: &str = r#"{"status":"error","message":"Please Provide Only Valid fields","code":1521}"#;
pub const IN_PROCESSING: &str = r#"{"status":"error","message":"Data already in processing","code":1501}"#;
pub const NOT_UPDATED: &str = r#"{"status":"error","message":"Data could not be updated","code":1518}"#;

pub const UPDATED: &str = r#"{"status":"success","code":200,"message":"Agent group mapping updated successfully"}"#;
const READ_MESSAGE: &str = "Agent group mapping fetched successfully";

/// A JSON answer with exactly these bytes, readable from browsers as the
/// document's example response allows.
pub fn reply(status: StatusCode, body: impl Into<String>) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8")),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
    ];
    (status, headers, body.into()).into_response()
}

/// The read side's success: `{"status","code","message","group":{…}}`.
pub fn read_ok(group: Value) -> Response {
    let mut m = Map::new();
    m.insert("status".into(), "success".into());
    m.insert("code".into(), 200.into());
    m.insert("message".into(), READ_MESSAGE.into());
    m.insert("group".into(), group);
    reply(StatusCode::OK, Value::Object(m).to_string())
}

/// CORS preflight for browser clients (the document's `fetch` example).
pub async fn preflight() -> Response {
    let headers = [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        (header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS")),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("X-Requested-With, content-type")),
    ];
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// The one mapping from a domain error to the dialect's answer.
pub fn error(e: &Error) -> Response {
    let ok = |body: &str| reply(StatusCode::OK, body);
    match e {
        Error::Unauthenticated | Error::Forbidden | Error::Locked => ok(PERMISSION_DENIED),
        Error::NotFound { entity: Entity::Agent, .. } => ok(INVALID_AGENT_ID),
        Error::NotFound { entity: Entity::Group, .. } => ok(INVALID_GROUP_DATA),
        Error::Invalid { field, rule } => match (field.as_str(), rule) {
            ("agentId", _) | (_, Rule::UnknownReference { entity: Entity::Agent, .. }) => ok(INVALID_AGENT_ID),
            ("group" | "groups", _) => ok(INVALID_GROUP_DATA),
            _ => ok(ONLY_VALID_FIELDS),
        },
        Error::VersionMismatch { .. } => ok(IN_PROCESSING),
        Error::Storage(msg) => {
            tracing::error!(error = %msg, "storage failure");
            reply(StatusCode::INTERNAL_SERVER_ERROR, NOT_UPDATED)
        }
        Error::NotFound { .. } | Error::Duplicate { .. } | Error::InUse { .. } | Error::LimitExceeded { .. } => ok(NOT_UPDATED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_permission_denied_is_60_bytes() {
        assert_eq!(PERMISSION_DENIED.len(), 60);
        for body in [PERMISSION_DENIED, INVALID_AGENT_ID, INVALID_GROUP_DATA, ONLY_VALID_FIELDS, IN_PROCESSING, NOT_UPDATED, UPDATED] {
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v.to_string(), body, "compact JSON");
        }
    }
}
