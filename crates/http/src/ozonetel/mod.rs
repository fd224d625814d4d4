//! The Ozonetel CloudAgent dialect: `PUT /ca_apis/updateAgent`,
//! `POST /ca_apis/PhoneManageV2`, `POST /APIServices/dynamic/did/update` and
//! `POST /ca_apis/CAToken/generateToken`, answering with the texts of
//! Ozonetel's documents (see `docs/dialects/ozonetel.md`). Each handler
//! authenticates, applies the rate limit, calls one domain operation and
//! formats its answer; every error text comes from [`errors::error`].

mod auth;
mod dynamic_did;
mod errors;
mod phone_manage;
pub mod rate_limit;
mod update_agent;

use crate::AppState;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::{post, put};
use axum::{Extension, Router};
use rate_limit::RateLimiter;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::{default_rate_limits, OzonetelCredentials, Tenant};

/// The dialect's own state: its rate limiter and settings.
pub struct Ozonetel {
    limiter: Arc<dyn RateLimiter>,
    rate_limit_override: Option<u32>,
    token_ttl: Duration,
}

impl Ozonetel {
    /// Requests per minute for `endpoint` of this tenant: the tenant's
    /// setting, else the vendor's documented default, replaced by the
    /// server-wide override when one is set; `None` means unlimited.
    fn limit_for(&self, tenant: &Tenant, endpoint: &str) -> Option<u32> {
        let configured = tenant.settings.rate_limits.get(endpoint).copied().or_else(|| default_rate_limits().get(endpoint).copied())?;
        Some(self.rate_limit_override.unwrap_or(configured))
    }

    /// Takes one request of the tenant's budget for `endpoint`; `Err` holds
    /// how long until the next one is allowed.
    async fn check_rate(&self, tenant: &Tenant, endpoint: &str) -> Result<(), Duration> {
        crate::telemetry::note_tenant(tenant.id);
        match self.limit_for(tenant, endpoint) {
            Some(n) => self.limiter.check(&format!("{}:{endpoint}", tenant.id), n).await,
            None => Ok(()),
        }
    }
}

pub fn router(state: &AppState) -> Router<AppState> {
    let oz = Arc::new(Ozonetel {
        limiter: state.limiter.clone(),
        rate_limit_override: state.config.rate_limit_override,
        token_ttl: state.config.ozonetel_token_ttl,
    });
    Router::new()
        .route("/ca_apis/updateAgent", put(update_agent::handle))
        .route("/ca_apis/PhoneManageV2", post(phone_manage::handle))
        .route("/APIServices/dynamic/did/update", post(dynamic_did::handle))
        .route("/ca_apis/CAToken/generateToken", post(auth::generate_token))
        .layer(Extension(oz))
}

/// The body is not a JSON object (nor one the lenient reading mends).
#[derive(Debug)]
pub(crate) struct NotJson;

/// A request body as Ozonetel clients send it: a JSON object, read leniently
/// where the intent is plain (`crate::lenient_json`: the PhoneManageV2
/// document's own sample lacks a comma). An empty body is an object with no
/// keys, so the documented "missing key" answers apply; anything else that
/// is not a JSON object is [`NotJson`] (answered by `errors::not_json`).
pub(crate) fn body_map(bytes: &Bytes) -> Result<Map<String, Value>, NotJson> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&crate::lenient_json::repair(bytes)) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(NotJson),
    }
}

/// A text field: strings as sent, numbers and booleans as their text (a
/// whole number too large for an integer, which JSON readers hold as a
/// float, as its digits); absent, null, arrays and objects are `None`.
pub(crate) fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.is_finite() && f.fract() == 0.0 => Some(format!("{f:.0}")),
            _ => Some(n.to_string()),
        },
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Ozonetel asks for `+` in numbers to be sent as `%2B`.
pub(crate) fn plus_decoded(s: Option<String>) -> Option<String> {
    s.map(|s| s.replace("%2B", "+").replace("%2b", "+"))
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `Authorization: Bearer <token>` from `generateToken`.
fn bearer(h: &HeaderMap) -> Option<String> {
    let v = header(h, "authorization")?;
    let t = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))?.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The caller's credentials: the `apiKey` header (else body key), a Bearer
/// token, and the account name under `user_key`.
pub(crate) fn credentials(h: &HeaderMap, body: &Map<String, Value>, user_key: &str) -> OzonetelCredentials {
    OzonetelCredentials {
        user_name: text(body, user_key),
        api_key: header(h, "apikey").filter(|k| !k.trim().is_empty()).or_else(|| text(body, "apiKey")),
        token: bearer(h),
    }
}
