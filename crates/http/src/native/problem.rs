//! RFC 9457 problem details: the native API's one error format. The mapping
//! from domain errors to statuses and problem types lives here and only here.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::Error;
use utoipa::ToSchema;

/// Problem `type` URIs are `urn:switchboard:problem:<code>`; `code` repeats the
/// last part so clients can switch on a short string.
const TYPE_PREFIX: &str = "urn:switchboard:problem:";

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable error code.
    pub code: &'static str,
    /// The request field the problem concerns (camelCase, as sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The validation rule that failed (for `invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// For `version_mismatch`: the version the object has now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// For 429: seconds until a retry may succeed (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("{TYPE_PREFIX}{}", code.replace('_', "-")),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            field: None,
            rule: None,
            current_version: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    /// A request whose syntax is wrong (body not JSON, bad query parameter…).
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Problem {
        let detail = e.to_string();
        match e {
            Error::Invalid { field, rule } => {
                let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail);
                p.rule = Some(rule.code());
                p.with_field(field)
            }
            Error::NotFound { .. } => Problem::new(StatusCode::NOT_FOUND, "not_found", detail),
            Error::Duplicate { field, .. } => Problem::new(StatusCode::CONFLICT, "duplicate", detail).with_field(field),
            Error::InUse { .. } => Problem::new(StatusCode::CONFLICT, "in_use", detail),
            Error::VersionMismatch { current, .. } => {
                let mut p = Problem::new(StatusCode::PRECONDITION_FAILED, "version_mismatch", detail);
                p.current_version = Some(current);
                p
            }
            Error::LimitExceeded { .. } => Problem::new(StatusCode::CONFLICT, "limit_exceeded", detail),
            Error::Unauthenticated => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid API key is required: Authorization: Bearer <key>")
            }
            Error::Forbidden => Problem::new(StatusCode::FORBIDDEN, "forbidden", "your role does not allow this operation"),
            Error::Locked => Problem::new(StatusCode::LOCKED, "locked", detail),
            Error::Storage(msg) => {
                tracing::error!(error = %msg, "storage failure");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let unauthenticated = status == StatusCode::UNAUTHORIZED;
        let retry_after = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if unauthenticated {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"switchboard\""));
        }
        if let Some(secs) = retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// What native handlers return on failure.
pub type ApiResult<T> = Result<T, Problem>;
