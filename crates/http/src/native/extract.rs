//! Request parsing for the native API: the authenticated caller, JSON bodies,
//! query and path parameters, and `If-Match`; every rejection is a problem.

use super::problem::Problem;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use switchboard_domain::{Error, Principal};

/// The authenticated caller, put in the request by [`Gate`].
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        // Taken, not copied (a name and a list of powers, allocated, on every
        // request): the handler's `Caller` is its only reader.
        parts.extensions.remove::<Principal>().map(Caller).ok_or_else(|| Error::Unauthenticated.into())
    }
}

/// What stands before every authenticated native route: resolves
/// `Authorization: Bearer <api key>` to a principal, then lets the request
/// through `Idempotency-Key` handling (`idempotency.rs`). One layer of our
/// own rather than two axum `from_fn` middlewares, each of which boxed and
/// cloned the route below it on every request (issue 26).
#[derive(Clone)]
pub struct GateLayer(pub AppState);

impl<S> tower::Layer<S> for GateLayer {
    type Service = Gate<S>;
    fn layer(&self, inner: S) -> Gate<S> {
        Gate { state: self.0.clone(), inner }
    }
}

#[derive(Clone)]
pub struct Gate<S> {
    state: AppState,
    inner: S,
}

impl<S> tower::Service<Request> for Gate<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The route template, for the request's log line and metrics: here
        // rather than in a route layer of its own around every native route
        // (one more boxed service, cloned on every request; issue 26).
        let mut req = crate::telemetry::track(req);
        // The service made ready answers this request; a clone stays for the next.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let s = self.state.clone();
        Box::pin(async move {
            let principal = match s.dir.authenticate_key(bearer_key(req.headers())).await {
                Ok(p) => p,
                Err(e) => return Ok(Problem::from(e).into_response()),
            };
            admit(&s, principal, &mut req);
            if !super::idempotency::applies(&req) {
                return inner.call(req).await;
            }
            Ok(super::idempotency::idempotent(&s, req, move |r| async move {
                let Ok(resp) = inner.call(r).await;
                resp
            })
            .await)
        })
    }
}

/// The key of `Authorization: Bearer <key>`, or "" (which no key matches).
pub(crate) fn bearer_key(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or("")
}

/// Lets an authenticated request in (native API, SCIM): its tenant on the
/// request's span, its key's use stamped, its principal for the handlers.
pub(crate) fn admit(s: &AppState, principal: Principal, req: &mut Request) {
    crate::telemetry::note_tenant(principal.tenant_id);
    if let Some(key_id) = principal.api_key_id {
        touch_key(s, key_id);
    }
    req.extensions_mut().insert(principal);
}

/// Stamps a key's `lastUsedAt`, at most once a minute per key and process,
/// off the request path.
pub(crate) fn touch_key(s: &AppState, key_id: i64) {
    let due = {
        let mut seen = s.key_touches.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match seen.get(&key_id) {
            Some(t) if now.duration_since(*t) < Duration::from_secs(60) => false,
            _ => {
                seen.insert(key_id, now);
                true
            }
        }
    };
    if due {
        let dir = s.dir.clone();
        tokio::spawn(async move {
            if let Err(e) = dir.store().touch_api_key(key_id, dir.now()).await {
                tracing::warn!(error = %e, "could not record API key use");
            }
        });
    }
}

/// A JSON body, parsed whatever the Content-Type says; errors are problems.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;
    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            Problem::new(
                e.status(),
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE { "payload_too_large" } else { "bad_request" },
                e.body_text(),
            )
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        parse_json(bytes).map(JsonBody)
    }
}

/// Reads a JSON body into `T`, integral floats read as integers
/// ([`super::wire::integral_numbers`]); a failure is a 400 problem.
///
/// Every body of the native API is an object, as the document says. Only an
/// object is taken: serde reads a struct from an array too (its fields in
/// order), so `[]` was taken as `{}` and `POST /api/v1/api-keys` created a
/// key from it (found by schemathesis).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let bad = |e: serde_json::Error| Problem::bad_request(format!("invalid JSON body: {e}"));
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(bad)?;
    if !value.is_object() {
        return Err(Problem::bad_request("invalid JSON body: expected a JSON object"));
    }
    super::wire::integral_numbers(&mut value);
    T::deserialize(value).map_err(bad)
}

/// Query parameters.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(v)| Params(v)).map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// Path parameters (numeric ids).
pub struct Ids<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Ids<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Ids(v))
            .map_err(|_| Problem::new(StatusCode::NOT_FOUND, "not_found", "no such resource: ids are positive integers"))
    }
}

/// `If-Match`: the version the caller last saw. `*` or no header: any.
/// A value we never issued cannot match, so it yields a version that fails.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let v = v.to_str().unwrap_or("").trim();
        if v == "*" {
            return Ok(IfMatch(None));
        }
        // A value we never issued (or a list: we issue one tag per object)
        // cannot match: it is a precondition that fails (412), as RFC 9110
        // evaluates an If-Match that names no current tag.
        Ok(IfMatch(Some(parse_etag(v).unwrap_or(-1))))
    }
}

/// Our ETags are `"v<version>"`; weak forms are accepted on input.
fn parse_etag(v: &str) -> Option<i64> {
    let v = v.strip_prefix("W/").unwrap_or(v);
    let digits = v.strip_prefix("\"v")?.strip_suffix('"')?;
    // As the document's pattern: 1–18 digits.
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"v{version}\"")).expect("ascii")
}

/// A JSON response with the resource's ETag.
pub fn tagged<T: Serialize>(status: StatusCode, version: i64, body: &T) -> Response {
    let mut resp = json(status, body);
    resp.headers_mut().insert(header::ETAG, etag(version));
    resp
}

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    // Room for an agent at once: `to_vec` starts at 128 bytes and grew
    // three times for one (issue 26).
    let mut bytes = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response(),
        Err(e) => Problem::from(Error::Storage(e.to_string())).into_response(),
    }
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `If-None-Match` of a GET of a single resource: the tags of the copies the
/// client holds. Only this header is taken, not a copy of the whole
/// `HeaderMap` (an allocation and a rehash of every header, issue 26).
pub struct IfNoneMatch(Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(IfNoneMatch(parts.headers.get(header::IF_NONE_MATCH).cloned()))
    }
}

impl IfNoneMatch {
    /// Whether the client's copy is `version` (or any, `*`).
    fn matches(&self, version: i64) -> bool {
        self.0
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == "*" || parse_etag(t.trim()) == Some(version)))
    }
}

/// A tagged GET response, or 304 when the client's copy is current.
pub fn tagged_get<T: Serialize>(held: &IfNoneMatch, version: i64, body: &T) -> Response {
    if held.matches(version) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        resp.headers_mut().insert(header::ETAG, etag(version));
        return resp;
    }
    tagged(StatusCode::OK, version, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip() {
        assert_eq!(parse_etag(etag(7).to_str().unwrap()), Some(7));
        assert_eq!(parse_etag("W/\"v3\""), Some(3));
        assert_eq!(parse_etag("\"x3\""), None);
        assert_eq!(parse_etag("v3"), None);
    }
}
