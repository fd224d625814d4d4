//! LiveVox authentication: `POST /session/login` with the `LV-Access` token
//! (an API key of the client), `LV-Session` on later calls, validate and
//! logout. A native `Authorization: Bearer <api key>` is accepted too.

use super::error::{LvError, LvResult};
use super::wire::{Fields, LvJson, PathParams, QueryParams};
use crate::login::{password_login, retry_secs, Account, LoginAttempt, LoginRefused, Surface};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use switchboard_domain::{Principal, SessionTerms};

const LV_ACCESS: &str = "lv-access";
const LV_SESSION: &str = "lv-session";

/// The token of a request: `LV-Access`, or `Authorization: Bearer …`.
fn access_token(h: &HeaderMap) -> Option<&str> {
    let bearer = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    h.get(LV_ACCESS).and_then(|v| v.to_str().ok()).or(bearer).map(str::trim).filter(|t| !t.is_empty())
}

fn session_id(h: &HeaderMap) -> Option<&str> {
    h.get(LV_SESSION).and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

/// The caller of a Configuration API method.
pub struct LvCaller(pub Principal);

impl FromRequestParts<AppState> for LvCaller {
    type Rejection = LvError;
    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> LvResult<Self> {
        let c = caller(parts, s).await?;
        crate::telemetry::note_tenant(c.0.tenant_id);
        Ok(c)
    }
}

async fn caller(parts: &Parts, s: &AppState) -> LvResult<LvCaller> {
    {
        let h = &parts.headers;
        if let Some(sid) = session_id(h) {
            return s.dir.session(sid).await.map(|x| LvCaller(x.principal)).map_err(|_| LvError::AccessDenied);
        }
        let bearer = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let key = bearer.or_else(|| access_token(h)).ok_or(LvError::AccessDenied)?;
        s.dir.authenticate_key(key.trim()).await.map(LvCaller).map_err(|_| LvError::AccessDenied)
    }
}

/// A caller the document's opening rule lets in: "the user of the API must
/// belong to either the Sysadmin, IT User, Superuser, or Manager role" (a
/// Manager with "Administer Agents"). Every method takes it except the four
/// that list roles of their own (Read Agent, List Agents, Find Matching
/// Agents, Get Agent Related Objects: also Manager and Agent), which take
/// [`LvCaller`]. Whoever else calls gets 403 "Access denied".
pub struct LvAdmin(pub LvCaller);

impl FromRequestParts<AppState> for LvAdmin {
    type Rejection = LvError;
    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> LvResult<Self> {
        let caller = LvCaller::from_request_parts(parts, s).await?;
        caller.0.require_agent_admin()?;
        Ok(LvAdmin(caller))
    }
}

impl LvCaller {
    /// The LiveVox answer to a failed operation: "Access denied" when the
    /// object named exists but belongs to another client (the document's
    /// rule), the mapped domain error otherwise.
    pub async fn refusal(&self, s: &AppState, e: switchboard_domain::Error) -> LvError {
        if let switchboard_domain::Error::NotFound { entity, id } = &e {
            if let Ok(id) = id.parse::<i64>() {
                if let Ok(Some(owner)) = s.dir.store().tenant_of(*entity, id).await {
                    if owner != self.0.tenant_id {
                        return LvError::AccessDenied;
                    }
                }
            }
        }
        e.into()
    }

    pub async fn check<T>(&self, s: &AppState, r: Result<T, switchboard_domain::Error>) -> LvResult<T> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => Err(self.refusal(s, e).await),
        }
    }

    /// The caller's LiveVox clientId; a `client=` naming another is refused.
    pub async fn client_id(&self, s: &AppState) -> LvResult<i64> {
        Ok(s.dir.client_id(&self.0).await?)
    }

    pub async fn check_client(&self, s: &AppState, q: &QueryParams) -> LvResult<i64> {
        let own = self.client_id(s).await?;
        match q.int("client") {
            Ok(None) => Ok(own),
            Ok(Some(c)) if c == own => Ok(own),
            _ => Err(LvError::AccessDenied),
        }
    }
}

/// The login answer; `sessionId` must stay the first key (clients cut it out
/// of the raw text).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginOut {
    session_id: String,
    user_id: i64,
    client_id: i64,
    days_until_password_expires: i64,
}

/// Passwords do not expire in Switchboard; a large positive number keeps
/// clients that warn about expiry quiet.
const DAYS_UNTIL_PASSWORD_EXPIRES: i64 = 999;

pub async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    LvJson(body): LvJson,
) -> LvResult<Response> {
    let token = access_token(&headers).ok_or(LvError::AccessDenied)?.to_string();
    let f = Fields::new(body, &["clientName", "userName", "password", "agent", "isAgent"])?;
    let client_name: String = f.required("clientName")?;
    let user_name: String = f.required("userName")?;
    let password: String = f.required("password")?;
    let is_agent = match f.flag("agent")? {
        Some(b) => b,
        None => f.flag("isAgent")?.unwrap_or(false),
    };
    // The token must be a key of the client named in the body.
    let key_owner = s.dir.authenticate_key(&token).await.map_err(|_| LvError::AccessDenied)?;
    let account = if is_agent { Account::Agent } else { Account::User };
    let attempt = LoginAttempt {
        surface: Surface::LiveVox,
        account,
        tenant: &client_name,
        username: &user_name,
        password: &password,
        client: peer.ip(),
        bound_to: Some(key_owner.tenant_id),
    };
    let (tenant, principal) = password_login(&s, attempt).await.map_err(|refused| match refused {
        LoginRefused::BadCredentials => LvError::AccessDenied,
        LoginRefused::Locked => LvError::AccountLocked,
        LoginRefused::Throttled(wait) => LvError::TooManyLogins(retry_secs(wait)),
        LoginRefused::Failed(e) => LvError::from(e),
    })?;
    let who = principal.agent_id.map_or(format!("user:{}", principal.user_id), |a| format!("agent:{a}"));
    let reuse_key = format!("livevox:{}:{who}:{}", tenant.id, hex::encode(Sha256::digest(token.as_bytes())));
    let terms =
        SessionTerms { kind: "livevox", idle_ttl: s.config.session_idle.as_millis() as i64, lifetime: None, reuse_key: Some(reuse_key) };
    let session = s.dir.open_session(principal, terms).await?;
    let p = &session.principal;
    let out = LoginOut {
        session_id: session.id.clone(),
        user_id: p.agent_id.unwrap_or(p.user_id),
        client_id: tenant.client_id,
        days_until_password_expires: DAYS_UNTIL_PASSWORD_EXPIRES,
    };
    let mut resp = (StatusCode::OK, serde_json::to_vec(&out).unwrap_or_default()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// 204 when the session is valid, 404 when not.
pub async fn validate(State(s): State<AppState>, path: PathParams, q: QueryParams) -> Response {
    let id = path.text("sessionId").map(str::to_owned).or_else(|| q.0.get("sessionId").cloned()).unwrap_or_default();
    match s.dir.session(&id).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Ends the session named in the path or in `LV-Session`.
pub async fn logout(State(s): State<AppState>, path: PathParams, headers: HeaderMap) -> LvResult<Response> {
    let id = path.text("sessionId").or_else(|| session_id(&headers)).ok_or(LvError::NotFoundEmpty)?.to_string();
    if s.dir.end_session(&id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(LvError::NotFoundEmpty)
    }
}
