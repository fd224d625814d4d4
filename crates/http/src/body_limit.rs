//! The request body limit: announced bodies over it are refused before any
//! of them is read (413); bodies without a length are cut off at the same
//! limit by the extractors.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The answer to a body announced as too large, refused before reading any
/// of it (`telemetry::access` asks); bodies without a length are cut off at
/// the same limit by the extractors.
pub(crate) fn refuse_oversized(req: &axum::extract::Request) -> Option<Response> {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    declared.filter(|&n| n > MAX_BODY_BYTES as u64).map(|_| {
        crate::native::problem::Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
        )
        .into_response()
    })
}
