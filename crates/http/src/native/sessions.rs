//! `POST /api/v1/sessions`: a user's password login. The session id it returns
//! is what session-based dialects take (DeepCall's `ssid`); it ends after the
//! configured idle time or with `DELETE /api/v1/sessions/{sessionId}`.

use super::extract::{json, no_content, JsonBody};
use super::problem::{ApiResult, Problem};
use crate::login::{password_login, retry_secs, Account, LoginAttempt, LoginRefused, Surface};
use crate::AppState;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use switchboard_domain::{Error, Id, Rule, SessionTerms};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"tenant": "acme", "username": "admin", "password": "Secret123"}))]
pub struct LoginBody {
    /// The tenant's name.
    #[schema(required = true, nullable = false, min_length = 1, example = "acme")]
    pub tenant: Option<String>,
    /// Case-sensitive.
    #[schema(required = true, nullable = false, min_length = 1, example = "admin")]
    pub username: Option<String>,
    #[schema(required = true, nullable = false, min_length = 1, example = "Secret123")]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"sessionId": "Jm3QyE0uKXq2m1Dk2bq3cJm0pXo7b9bQ2m4W2yqkV5Q", "tenantId": 1, "userId": 1, "idleTimeoutSeconds": 1800}))]
pub struct SessionOut {
    pub session_id: String,
    pub tenant_id: Id,
    pub user_id: Id,
    /// The session ends after this many seconds without use.
    pub idle_timeout_seconds: u64,
}

/// Log in.
///
/// Logs a user in with tenant, username and password; no API key needed. Answers a session id, which session-based dialects take (DeepCall's `ssid`). Failed logins are throttled per tenant and user (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = LoginBody, security(()),
    responses((status = 201, body = SessionOut)))]
async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(b): JsonBody<LoginBody>,
) -> ApiResult<Response> {
    let required = |v: Option<String>, f: &str| v.filter(|x| !x.is_empty()).ok_or_else(|| Problem::from(Error::invalid(f, Rule::Required)));
    let tenant = required(b.tenant, "tenant")?;
    let username = required(b.username, "username")?;
    let password = required(b.password, "password")?;
    let attempt = LoginAttempt {
        surface: Surface::Native,
        account: Account::User,
        tenant: &tenant,
        username: &username,
        password: &password,
        client: peer.ip(),
        bound_to: None,
    };
    let (tenant, principal) = password_login(&s, attempt).await.map_err(|refused| match refused {
        LoginRefused::BadCredentials | LoginRefused::Locked => Problem::from(Error::Unauthenticated),
        LoginRefused::Throttled(wait) => {
            let secs = retry_secs(wait);
            let mut p = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("too many login attempts for this user; retry in {secs} s"),
            );
            p.field = Some("username".into());
            p.retry_after = Some(secs);
            p
        }
        LoginRefused::Failed(e) => Problem::from(e),
    })?;
    let idle = s.config.session_idle;
    let terms = SessionTerms { kind: "native", idle_ttl: idle.as_millis() as i64, lifetime: None, reuse_key: None };
    let session = s.dir.open_session(principal, terms).await?;
    let out = SessionOut {
        session_id: session.id,
        tenant_id: tenant.id,
        user_id: session.principal.user_id,
        idle_timeout_seconds: idle.as_secs(),
    };
    let mut resp = json(StatusCode::CREATED, &out);
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("/api/v1/sessions/{}", out.session_id)) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

/// Log out.
///
/// Ends a session.
#[utoipa::path(delete, path = "/api/v1/sessions/{sessionId}", tag = "sessions", security(()), params(("sessionId" = String, Path)),
    responses((status = 204)))]
async fn logout(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    if s.dir.end_session(&id).await? {
        Ok(no_content())
    } else {
        Err(Problem::new(StatusCode::NOT_FOUND, "not_found", "no such session"))
    }
}
