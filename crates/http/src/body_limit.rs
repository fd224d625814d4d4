//! The request body limit: announced bodies over it are refused before any
//! of them is read (413); bodies without a length are cut off at the same
//! limit by the extractors.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Refuses a body announced as too large before reading any of it; bodies
/// without a length are cut off at the same limit by the extractors.
pub(crate) async fn refuse_oversized(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return crate::native::problem::Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}
