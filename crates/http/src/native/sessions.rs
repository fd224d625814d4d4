//! `POST /api/v1/sessions`: a user's password login. The session id it returns
//! is what session-based dialects take (DeepCall's `ssid`); it ends after the
//! configured idle time or with `DELETE /api/v1/sessions/{sessionId}`.

use super::extract::{json, no_content, JsonBody};
use super::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_domain::{Error, Id, Rule, SessionTerms};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    /// The tenant's name.
    pub tenant: Option<String>,
    /// Case-sensitive.
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionOut {
    pub session_id: String,
    pub tenant_id: Id,
    pub user_id: Id,
    /// The session ends after this many seconds without use.
    pub idle_timeout_seconds: u64,
}

/// Logs a user in with username and password. No API key needed.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = LoginBody, security(()),
    responses((status = 201, body = SessionOut), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn login(State(s): State<AppState>, JsonBody(b): JsonBody<LoginBody>) -> ApiResult<Response> {
    let required = |v: Option<String>, f: &str| v.filter(|x| !x.is_empty()).ok_or_else(|| Problem::from(Error::invalid(f, Rule::Required)));
    let tenant = required(b.tenant, "tenant")?;
    let username = required(b.username, "username")?;
    let password = required(b.password, "password")?;
    // An unknown tenant is the same failure as a wrong password.
    let tenant = s.dir.store().find_tenant_by_name(&tenant).await.map_err(|_| Problem::from(Error::Unauthenticated))?;
    if let Err(wait) = crate::app::login_attempt(&s, tenant.id, &username).await {
        let mut p = Problem::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", format!("too many login attempts for this user; retry in {} s", crate::app::retry_secs(wait)));
        p.field = Some("username".into());
        return Err(p);
    }
    let principal = s.dir.login_user(tenant.id, &username, &password).await?;
    let idle = s.config.session_idle;
    let terms = SessionTerms { kind: "native", idle_ttl: idle.as_millis() as i64, lifetime: None, reuse_key: None };
    let session = s.dir.open_session(principal, terms).await?;
    let out = SessionOut { session_id: session.id, tenant_id: tenant.id, user_id: session.principal.user_id, idle_timeout_seconds: idle.as_secs() };
    Ok(json(StatusCode::CREATED, &out))
}

/// Ends a session.
#[utoipa::path(delete, path = "/api/v1/sessions/{sessionId}", tag = "sessions", security(()), params(("sessionId" = String, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn logout(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    if s.dir.end_session(&id).await? {
        Ok(no_content())
    } else {
        Err(Problem::new(StatusCode::NOT_FOUND, "not_found", "no such session"))
    }
}
