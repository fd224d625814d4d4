//! LiveVox error bodies. Every domain error becomes its LiveVox form here and
//! only here; the texts follow the Configuration API document to the letter
//! where it gives them, and its style where it does not (docs/dialects/livevox.md).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchboard_domain::{Entity, Error, Rule};

/// A LiveVox error answer.
#[derive(Debug)]
pub enum LvError {
    /// 403 `{"code": 403, "Request Id": …, "Message": "Access denied"}`.
    AccessDenied,
    /// 403 in the same form, for a locked agent's login.
    AccountLocked,
    /// 404 `{"code": 203, "message": "<What> not found [ID:<id>]"}`.
    NotFound { what: &'static str, id: String },
    /// 404 with no body (the document's Delete examples).
    NotFoundEmpty,
    /// 400 `{"code": 202, "message": "Missing required field [<field>]"}`.
    Missing(String),
    /// 400 `{"errorCode": 202, "errorMessage": "<text>"}`.
    Invalid(String),
    /// 429 in the `code`/`message` form: too many logins for one user name.
    TooManyLogins(u64),
    /// 500 in the `code`/`message` form; details only in the log.
    Internal,
}

impl LvError {
    pub fn invalid_input(detail: impl std::fmt::Display) -> LvError {
        LvError::Invalid(format!("Invalid input [{detail}]"))
    }
}

/// The LiveVox name of a native field.
fn wire_field(field: &str) -> &str {
    match field {
        "skills" => "assignedAgentSkill",
        "serviceIds" => "assignedService",
        "serviceId" => "service",
        other => other,
    }
}

fn what(entity: Entity) -> &'static str {
    match entity {
        Entity::Agent => "Agent",
        Entity::Skill => "Agent skill",
        Entity::Service => "Service",
        Entity::CallCenter => "Call center",
        Entity::Group => "Group",
        Entity::User => "User",
        Entity::Tenant => "Client",
        Entity::ApiKey => "Access token",
        Entity::Phone => "Phone",
        Entity::Did => "DID",
        Entity::Campaign => "Campaign",
        Entity::Webhook => "Webhook",
    }
}

fn password_text(rule: &Rule) -> String {
    match rule {
        Rule::TooShort { min } => format!("Password must be at least {min} characters long"),
        Rule::TooLong { max } => format!("Password must be at most {max} characters long"),
        Rule::MissingDigit => "Password must contain at least 1 digit".into(),
        Rule::Reused { last } => format!("Password cannot match any of the previous {last} passwords"),
        other => format!("Password {other}"),
    }
}

impl From<Error> for LvError {
    fn from(e: Error) -> LvError {
        match e {
            Error::Invalid { field, rule } => {
                let field = wire_field(&field).to_string();
                match rule {
                    Rule::Required => LvError::Missing(field),
                    Rule::NotAcdService => LvError::Invalid("Cannot assign service [incorrect service type]".into()),
                    r if field == "password" => LvError::Invalid(format!("Invalid password [{}]", password_text(&r))),
                    Rule::UnknownReference { entity, id } => LvError::invalid_input(format!("{} not found [ID:{id}]", what(entity))),
                    Rule::NothingToUpdate => LvError::invalid_input("at least one key to update is required"),
                    // Only Update Agent sends values back as read.
                    Rule::ReadOnly => LvError::invalid_input(format!("{field} cannot be changed with Update Agent")),
                    r => LvError::invalid_input(format!("{field} {r}")),
                }
            }
            Error::NotFound { entity, id } => LvError::NotFound { what: what(entity), id },
            Error::Duplicate { field, value, .. } => LvError::invalid_input(format!("{} '{value}' already exists", wire_field(field))),
            Error::InUse { entity, id, by } => {
                LvError::invalid_input(format!("{} {id} is in use by {}", what(entity), what(by).to_lowercase()))
            }
            Error::VersionMismatch { .. } => LvError::invalid_input("the object was changed by another request; read it and retry"),
            Error::LimitExceeded { what, limit } => LvError::invalid_input(format!("{what} limit of {limit} reached")),
            Error::Unauthenticated | Error::Forbidden => LvError::AccessDenied,
            Error::Locked => LvError::AccountLocked,
            Error::Storage(msg) => {
                tracing::error!(error = %msg, "storage failure");
                LvError::Internal
            }
        }
    }
}

/// An id in the form LiveVox answers carry, like `1-66ebf497-fe3e993cfcde32bbd27ae102`.
fn request_id() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let tail: [u8; 12] = rand::random();
    format!("1-{:08x}-{}", secs as u32, hex::encode(tail))
}

fn compact(status: StatusCode, body: serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

impl IntoResponse for LvError {
    fn into_response(self) -> Response {
        match self {
            LvError::AccessDenied => {
                compact(StatusCode::FORBIDDEN, json!({"code": 403, "Request Id": request_id(), "Message": "Access denied"}))
            }
            LvError::AccountLocked => {
                compact(StatusCode::FORBIDDEN, json!({"code": 403, "Request Id": request_id(), "Message": "Account locked"}))
            }
            LvError::NotFound { what, id } => {
                compact(StatusCode::NOT_FOUND, json!({"code": 203, "message": format!("{what} not found [ID:{id}]")}))
            }
            LvError::NotFoundEmpty => StatusCode::NOT_FOUND.into_response(),
            LvError::Missing(field) => {
                compact(StatusCode::BAD_REQUEST, json!({"code": 202, "message": format!("Missing required field [{field}]")}))
            }
            LvError::Invalid(text) => compact(StatusCode::BAD_REQUEST, json!({"errorCode": 202, "errorMessage": text})),
            LvError::TooManyLogins(secs) => {
                let mut r = compact(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"code": 429, "message": format!("Too many login attempts [retry in {secs} s]")}),
                );
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                r
            }
            LvError::Internal => compact(StatusCode::INTERNAL_SERVER_ERROR, json!({"code": 500, "message": "Internal server error"})),
        }
    }
}

pub type LvResult<T> = Result<T, LvError>;
