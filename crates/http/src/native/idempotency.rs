//! `Idempotency-Key` on POST: the first request with a key runs and, if it
//! succeeds (2xx), its response is kept for 24 hours; a retry with the same
//! key and the same request gets that response again without a second write.
//! A different request under a used key is refused (422); a retry while the
//! first is still running gets 409. Failed requests keep nothing, so a client
//! may correct its request and retry under the same key.

use super::problem::Problem;
use crate::body_limit::MAX_BODY_BYTES;
use crate::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::future::Future;
use switchboard_domain::{IdempotentResponse, Principal};

const HEADER: &str = "idempotency-key";
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Response headers worth replaying.
const KEPT_HEADERS: [&str; 3] = ["content-type", "etag", "location"];

/// Whether a request goes through [`idempotent`]: a POST with the header.
pub fn applies(req: &Request) -> bool {
    req.method() == Method::POST && req.headers().contains_key(HEADER)
}

/// Runs `next` for the first request with its key, or answers a retry (see
/// the module's comment). Only for requests that [`applies`] names.
pub async fn idempotent<F, Fut>(s: &AppState, req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let Some(key) = req.headers().get(HEADER) else { return next(req).await };
    let key = match key.to_str() {
        // As the document's pattern: 1–255 printable ASCII characters (no tab).
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x20..=0x7e).contains(&b)) => k.to_owned(),
        _ => {
            return Problem::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")
                .with_field("Idempotency-Key")
                .into_response()
        }
    };
    let Some(principal) = req.extensions().get::<Principal>().cloned() else { return next(req).await };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "request body is too large").into_response(),
    };
    let fingerprint = fingerprint(&principal, parts.method.as_str(), &parts.uri.to_string(), &bytes);
    let store = s.dir.store();
    let tenant = principal.tenant_id;
    match store.claim_idempotency_key(tenant, &key, &fingerprint, s.dir.now()).await {
        Err(e) => Problem::from(e).into_response(),
        Ok(Some(stored)) if stored.fingerprint != fingerprint => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        )
        .with_field("Idempotency-Key")
        .into_response(),
        Ok(Some(stored)) => match stored.status {
            None => Problem::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response(),
            Some(status) => replay(status, &stored),
        },
        Ok(None) => {
            let resp = next(Request::from_parts(parts, Body::from(bytes))).await;
            let (mut parts, body) = resp.into_parts();
            let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
            let outcome = if parts.status.is_success() {
                let headers = KEPT_HEADERS
                    .iter()
                    .filter_map(|h| parts.headers.get(*h).and_then(|v| v.to_str().ok()).map(|v| (h.to_string(), v.to_string())))
                    .collect();
                let record = IdempotentResponse { fingerprint, status: Some(parts.status.as_u16()), body: body.to_vec(), headers };
                store.complete_idempotency_key(tenant, &key, &record).await
            } else {
                store.release_idempotency_key(tenant, &key).await
            };
            if let Err(e) = outcome {
                // The write itself is done; only the replay record is missing.
                tracing::error!(error = %e, "could not record idempotent response");
            }
            parts.headers.remove(REPLAYED);
            Response::from_parts(parts, Body::from(body))
        }
    }
}

fn fingerprint(p: &Principal, method: &str, uri: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [p.user_id.to_string().as_bytes(), method.as_bytes(), uri.as_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(body);
    hex::encode(h.finalize())
}

fn replay(status: u16, stored: &IdempotentResponse) -> Response {
    let mut resp = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), stored.body.clone()).into_response();
    let headers = resp.headers_mut();
    for (k, v) in &stored.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            headers.insert(k, v);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    resp
}
