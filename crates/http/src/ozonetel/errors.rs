//! Every answer of the dialect that is not a success: the one mapping from
//! the domain's `Error` to each endpoint's documented status and text. The
//! texts are Ozonetel's, byte for byte, including their irregular spacing.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use switchboard_domain::{validate as v, Entity, Error, Rule};

/// Which endpoint answers (each has its own documented texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    UpdateAgent,
    /// `CAToken/generateToken`: answers its failures like updateAgent.
    Token,
    PhoneManage,
    DynamicDids,
}

// updateAgent (documented).
pub const API_KEY_MISSING: &str = r#"{"status": "false","message": "Api Key Should Not be Null or Empty.", "data": null}"#;
pub const INVALID_USER: &str = r#"{"status": "false","message": "Invalid User Details","data": null}"#;
pub const AGENT_NOT_FOUND: &str = r#"{ "status": "error", "message": "Agent not found" }"#;
pub const AGENT_NAME_INVALID: &str = r#"{"Status": "Fail","Message": { "agentName": "The agent name must not be empty and it should be between 2 and 50 alphanumeric characters and allow special characters such as., @, _, -"}}"#;
pub const AGENT_NAME_NEW_INVALID: &str = r#"{"Status": "Fail","Message": { "agentNameNew": "The agent name must not be empty and it should be between 2 and 50 alphanumeric characters and allow special characters such as., @, _, -"}}"#;
pub const AGENT_NAME_REQUIRED: &str = r#"{"status": "error", "message": "Agent Name is required"}"#;
pub const PASSWORD_LENGTH: &str = r#"{"message": "Password length must be between 3 and 50 characters","status": "error"}"#;
pub const PASSWORD_REQUIRED: &str = r#"{"message": "Password is required", "status": "error"}"#;
pub const EMAIL_INVALID: &str = r#"{"message": "Invalid email format", "status": "error"}"#;
pub const EMAIL_REQUIRED: &str = r#"{"message": "Email should not be null or empty","status": "error"}"#;
pub const MAX_LIMIT: &str = r#"{"status": "error", "message": "Max limit exceeded"}"#;
pub const AGENT_UPDATED: &str = r#"{"status":"success","message":"Agent Updated Successfully"}"#;

// PhoneManageV2 (documented texts, compact JSON).
pub const PHONE_SAVED: &str = r#"{"status":"success","message":"record inserted successfully"}"#;
pub const PHONE_SAVED_SKILLS_FAILED: &str =
    r#"{"status":"success","message":"record inserted successfully and failed to insert skills please pass the valid skills"}"#;
pub const PHONE_DELETED: &str = r#"{"status":"success","message":"record deleted successfully"}"#;
pub const PHONE_LIMIT: &str =
    " Phone Number Limit Exceeded. Please refer to the 'Phone Number Creation Limit' option under 'Edit Profile' for reference. ";

// Dynamic DIDs (documented texts, compact JSON).
pub const DIDS_UPDATED: &str = r#"{"Message":"Dynamic DIDs updated successfully"}"#;
pub const DIDS_PATH: &str = "/APIServices/dynamic/did/update";

/// A JSON answer with exactly these bytes.
pub fn reply(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.into()).into_response()
}

/// The endpoint's generic error shape around a message.
fn message(api: Api, status: StatusCode, msg: &str) -> Response {
    let m = serde_json::to_string(msg).unwrap_or_else(|_| "\"error\"".into());
    match api {
        Api::DynamicDids => reply(status, format!(r#"{{"Message":{m}}}"#)),
        _ => reply(status, format!(r#"{{"status":"error","message":{m}}}"#)),
    }
}

/// The one mapping from a domain error to each endpoint's answer.
pub fn error(api: Api, e: &Error) -> Response {
    use Api::*;
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    let missing_key = matches!(e, Error::Invalid { field, rule: Rule::Required } if field == "apiKey");
    match (api, e) {
        // ---- updateAgent and generateToken --------------------------------
        (UpdateAgent | Token, _) if missing_key => reply(StatusCode::UNAUTHORIZED, API_KEY_MISSING),
        (UpdateAgent | Token, Error::Unauthenticated) => reply(StatusCode::UNAUTHORIZED, INVALID_USER),
        (UpdateAgent, Error::NotFound { entity: Entity::Agent, .. }) => reply(StatusCode::NOT_FOUND, AGENT_NOT_FOUND),
        (UpdateAgent, Error::Invalid { field, rule }) => match (field.as_str(), rule) {
            ("agentName" | "agentNameNew", Rule::Required) => reply(BAD, AGENT_NAME_REQUIRED),
            ("agentName", _) => reply(BAD, AGENT_NAME_INVALID),
            ("agentNameNew", _) => reply(BAD, AGENT_NAME_NEW_INVALID),
            ("password", Rule::Required) => reply(BAD, PASSWORD_REQUIRED),
            ("password", _) => reply(BAD, PASSWORD_LENGTH),
            ("email", Rule::Required) => reply(BAD, EMAIL_REQUIRED),
            ("email", _) => reply(BAD, EMAIL_INVALID),
            (_, Rule::UnknownReference { entity: Entity::Skill, id }) => message(api, BAD, &format!("Skill not found: {id}")),
            (_, Rule::UnknownReference { entity: Entity::Group, id }) => message(api, BAD, &format!("Agent group not found: {id}")),
            (f, _) => message(api, BAD, &format!("Invalid {f} value")),
        },
        (UpdateAgent, Error::Duplicate { entity: Entity::Agent, .. }) => message(api, StatusCode::CONFLICT, "Agent Id already exists"),

        // ---- PhoneManageV2 --------------------------------------------------
        (PhoneManage, _) if missing_key => message(api, StatusCode::UNAUTHORIZED, "userName or apiKey not valid"),
        (PhoneManage, Error::Unauthenticated) => message(api, StatusCode::UNAUTHORIZED, "userName or apiKey not valid"),
        (PhoneManage, Error::Invalid { field, rule }) => match (field.as_str(), rule) {
            ("action", _) => message(api, BAD, "action not valid"),
            // phoneNumberNew is mandatory too (marked `*`): its own name, in the document's words.
            ("phoneNumberNew", Rule::Required) => message(api, BAD, "phoneNumberNew cannot be empty"),
            ("phoneNumber" | "number", Rule::Required) => message(api, BAD, "phoneNumber cannot be empty"),
            // Digits of the wrong count are numeric: the length rule says so.
            (f @ ("phoneNumber" | "phoneNumberNew" | "number"), Rule::Format { expected: v::PHONE_LENGTH }) => {
                let f = if f == "number" { "phoneNumber" } else { f };
                message(api, BAD, &format!("{f} must be {}", v::PHONE_LENGTH))
            }
            ("phoneNumber" | "phoneNumberNew" | "number", _) => message(api, BAD, "phoneNumber must be numeric"),
            ("phoneName" | "phoneNameNew" | "name", Rule::Required) => message(api, BAD, "phoneName cannot be empty"),
            ("phoneName" | "phoneNameNew" | "name", _) => message(api, BAD, "phoneName must be 1 to 100 characters"),
            (f, _) => message(api, BAD, &format!("Invalid {f} value")),
        },
        (PhoneManage, Error::Duplicate { .. }) => message(api, StatusCode::CONFLICT, "phone_name or phone_number already exist"),
        (PhoneManage, Error::LimitExceeded { .. }) => message(api, StatusCode::CONFLICT, PHONE_LIMIT),
        (PhoneManage, Error::NotFound { entity: Entity::Phone, .. }) => {
            message(api, StatusCode::NOT_FOUND, "phone_name or phone_number does not exist")
        }

        // ---- dynamic DIDs ---------------------------------------------------
        (DynamicDids, _) if missing_key => message(api, StatusCode::UNAUTHORIZED, "Authentication failed."),
        (DynamicDids, Error::Unauthenticated) => message(api, StatusCode::UNAUTHORIZED, "Authentication failed."),
        (DynamicDids, Error::NotFound { entity: Entity::Campaign, .. }) => message(api, StatusCode::NOT_FOUND, "Campaign not found."),
        (DynamicDids, Error::Invalid { field, rule }) => match (field.as_str(), rule) {
            ("dynamicDIDs" | "dynamicDids", Rule::Required) => message(api, BAD, "DIDs is required"),
            ("dynamicDIDs" | "dynamicDids", _) => message(api, BAD, "Please enter the Valid DIDs assigned to the account."),
            ("fallbackDynamicDIDs" | "fallbackDids", Rule::Required) => message(api, BAD, "fallbackDIDs is required"),
            ("fallbackDynamicDIDs" | "fallbackDids", _) => {
                message(api, BAD, "Please enter the Valid FallbackDIDs assigned to the account.")
            }
            (f, _) => message(api, BAD, &format!("Invalid {f} value")),
        },

        // ---- every endpoint -------------------------------------------------
        (_, Error::Forbidden) => message(api, StatusCode::FORBIDDEN, "Permission denied"),
        (_, Error::VersionMismatch { .. }) => message(api, StatusCode::CONFLICT, "The record was changed by another request, please retry"),
        (_, Error::Storage(msg)) => {
            tracing::error!(error = %msg, "storage failure");
            message(api, StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
        }
        (_, Error::NotFound { .. } | Error::Invalid { .. }) => message(api, BAD, &e.to_string()),
        (_, Error::Duplicate { .. } | Error::InUse { .. } | Error::LimitExceeded { .. } | Error::Locked) => {
            message(api, StatusCode::CONFLICT, &e.to_string())
        }
    }
}

/// The rate limit's answer: 429 with `Retry-After` (whole seconds, rounded up).
pub fn rate_limited(api: Api, retry_after: Duration) -> Response {
    crate::telemetry::count_rate_limited("ozonetel", "api");
    let mut resp = match api {
        Api::UpdateAgent | Api::Token => reply(StatusCode::TOO_MANY_REQUESTS, MAX_LIMIT),
        _ => message(api, StatusCode::TOO_MANY_REQUESTS, "Max limit exceeded"),
    };
    let secs = crate::state::retry_secs(retry_after);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// The dynamic DID API without an `apiKey` key: the document shows the
/// vendor's Spring Boot error page, so it is reproduced (with the time now).
pub fn spring_500(now_millis: i64) -> Response {
    spring_error(now_millis, StatusCode::INTERNAL_SERVER_ERROR)
}

/// Spring Boot's error page for the DID API's path.
fn spring_error(now_millis: i64, status: StatusCode) -> Response {
    let body = format!(
        r#"{{"timestamp":"{}","status":{},"error":"{}","path":"{DIDS_PATH}"}}"#,
        spring_timestamp(now_millis),
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    reply(status, body)
}

/// A body that is not a JSON object: 400 in the endpoint's style, before
/// anything else (its credentials may be in it). The DID API is the
/// vendor's Spring Boot service, whose answer to an unreadable body is its
/// 400 error page.
pub fn not_json(api: Api, now_millis: i64) -> Response {
    match api {
        Api::DynamicDids => spring_error(now_millis, StatusCode::BAD_REQUEST),
        _ => message(api, StatusCode::BAD_REQUEST, "request body is not a JSON object"),
    }
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS+0000`, Spring's default error timestamp (UTC).
fn spring_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+0000", rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spring_timestamps() {
        assert_eq!(spring_timestamp(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(spring_timestamp(1_697_622_481_703), "2023-10-18T09:48:01.703+0000");
        assert_eq!(spring_timestamp(951_782_400_000), "2000-02-29T00:00:00.000+0000");
    }

    #[test]
    fn documented_texts_are_json() {
        for t in [
            API_KEY_MISSING,
            INVALID_USER,
            AGENT_NOT_FOUND,
            AGENT_NAME_INVALID,
            AGENT_NAME_REQUIRED,
            PASSWORD_LENGTH,
            PASSWORD_REQUIRED,
            EMAIL_INVALID,
            EMAIL_REQUIRED,
            MAX_LIMIT,
            PHONE_SAVED,
            PHONE_SAVED_SKILLS_FAILED,
            DIDS_UPDATED,
        ] {
            serde_json::from_str::<serde_json::Value>(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        }
    }
}
