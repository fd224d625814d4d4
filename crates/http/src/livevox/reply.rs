//! What every LiveVox method answers with: compact JSON, 204, the `{"id"}`
//! and list-info shapes, and the document's answers to a delete.

use super::auth::LvCaller;
use super::error::{LvError, LvResult};
use crate::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::{Error, Id, ListInfo, Millis};

/// Compact JSON (the document's examples have no whitespace).
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut resp = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Serialize)]
pub struct IdOnly {
    pub id: Id,
}

/// Get … List Info: `{"size","lastModified"}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoOut {
    size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified: Option<Millis>,
}

impl From<ListInfo> for InfoOut {
    fn from(i: ListInfo) -> Self {
        InfoOut { size: i.size, last_modified: i.last_modified }
    }
}

/// A delete's answer: 204; an unknown id 404 with no body, another
/// client's object 403 `Access denied` (the document's two examples).
pub async fn deleted(s: &AppState, caller: &LvCaller, done: switchboard_domain::Result<()>) -> LvResult<Response> {
    match done {
        Ok(()) => Ok(no_content()),
        Err(e @ Error::NotFound { .. }) => match caller.refusal(s, e).await {
            LvError::AccessDenied => Err(LvError::AccessDenied),
            _ => Err(LvError::NotFoundEmpty),
        },
        Err(e) => Err(e.into()),
    }
}
