//! The web console at `/`: server-rendered HTML (maud) with htmx for the
//! instant agent search. Users sign in with tenant, username and password;
//! the session id lives in an HttpOnly, SameSite=Strict cookie and every
//! POST must carry the session's CSRF token (form field `_csrf` or header
//! `X-CSRF-Token`). Each handler calls the same `Directory` operations as the
//! APIs, so roles, validation and audit are the same; validation errors are
//! shown next to their field with the native API's wording.
//!
//! Why this stack: `docs/console.md`.

mod agents;
mod audit;
mod auth;
mod catalog;
mod import;
mod settings;
mod ui;
mod webhooks;

use crate::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use switchboard_domain::{Error, Principal};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sb_console";
/// The sign-in form's double-submit cookie (there is no session yet).
pub const LOGIN_COOKIE: &str = "sb_login_csrf";
/// Form field and header that carry the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

const HTMX_JS: &str = include_str!("assets/htmx-2.0.11.min.js");
const HTMX_PATH: &str = "/static/htmx-2.0.11.min.js";
const CSS: &str = include_str!("assets/console.css");
const CSS_PATH: &str = "/static/console.css";

/// The console's routes. Every route goes through [`guard`] (CSRF check on
/// POST, security headers); static assets do not need it.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .merge(auth::routes())
        .merge(agents::routes())
        .merge(catalog::routes())
        .merge(audit::routes())
        .merge(import::routes())
        .merge(settings::routes())
        .merge(webhooks::routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .route(HTMX_PATH, get(htmx))
        .route(CSS_PATH, get(css))
}

/// A page's query string as form fields (filters, sort, `done` notices).
pub(super) fn query(raw: Option<String>) -> FormData {
    FormData(raw.and_then(|q| serde_urlencoded::from_str(&q).ok()).unwrap_or_default())
}

async fn home(c: Option<Console>) -> Redirect {
    match c {
        Some(_) => Redirect::to("/agents"),
        None => Redirect::to("/login"),
    }
}

async fn htmx() -> Response {
    asset("text/javascript; charset=utf-8", HTMX_JS)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The htmx file name carries its version; the stylesheet may change with a release.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// A signed-in console user: the session's principal and its CSRF token.
#[derive(Debug, Clone)]
pub struct Console {
    pub p: Principal,
    pub csrf: String,
    pub tenant_name: std::sync::Arc<str>,
}

impl Console {
    pub fn can_edit(&self) -> bool {
        self.p.can_administer_agents()
    }
    pub fn can_audit(&self) -> bool {
        self.p.require_staff().is_ok()
    }
    /// The tenant's settings and API keys: Sysadmins.
    pub fn can_configure(&self) -> bool {
        self.p.require_sysadmin().is_ok()
    }
}

/// The CSRF token of a session: a hash of its (secret, HttpOnly) id, so a page
/// can show it without revealing the id and the server need not store it.
pub fn csrf_token(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"switchboard console csrf\0");
    h.update(session_id.as_bytes());
    hex::encode(h.finalize())
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// True when the cookie should be `Secure` (see `HttpConfig::console_secure_cookie`).
pub fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.console_secure_cookie.unwrap_or_else(|| {
        let forwarded = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"));
        let standard =
            headers.get(header::FORWARDED).and_then(|v| v.to_str().ok()).is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
        forwarded || standard
    })
}

/// `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/ (and Secure when asked).
/// `max_age` 0 removes the cookie; `None` makes it last until the browser closes.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> HeaderValue {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are hex")
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_login(parts)) };
        match state.dir.session(&id).await {
            Ok(s) if s.kind == "console" => {
                crate::telemetry::note_tenant(s.principal.tenant_id);
                let tenant_name = state.dir.tenant_name(&s.principal).await.unwrap_or_else(|_| "".into());
                Ok(Console { p: s.principal, csrf: csrf_token(&id), tenant_name })
            }
            Ok(_) | Err(Error::Unauthenticated) => Err(to_login(parts)),
            Err(e) => Err(ui::error_page(None, e)),
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Console {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        Ok(<Console as FromRequestParts<AppState>>::from_request_parts(parts, state).await.ok())
    }
}

/// Not signed in: to the sign-in page, coming back here afterwards.
fn to_login(parts: &Parts) -> Response {
    let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = if parts.method == Method::GET { format!("/login?next={}", ui::url_encode(here)) } else { "/login".to_string() };
    if parts.headers.contains_key("hx-request") {
        // htmx swaps responses into the page; this header makes it navigate instead.
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut().insert("hx-redirect", HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static("/login")));
        return r;
    }
    Redirect::to(&target).into_response()
}

/// Every console route: refuses a POST whose CSRF token is missing or wrong
/// (before the handler runs), and adds the security headers of an HTML app.
async fn guard(State(_s): State<AppState>, req: Request, next: Next) -> Response {
    let req = if req.method() == Method::POST {
        match check_csrf(req).await {
            Ok(req) => req,
            Err(resp) => return with_headers(resp),
        }
    } else {
        req
    };
    with_headers(next.run(req).await)
}

async fn check_csrf(req: Request) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let expected = if parts.uri.path() == "/login" {
        cookie(&parts.headers, LOGIN_COOKIE)
    } else {
        cookie(&parts.headers, SESSION_COOKIE).map(|id| csrf_token(&id))
    };
    let Some(expected) = expected else {
        return Err(if parts.uri.path() == "/login" { refused() } else { to_login(&parts) });
    };
    let header_token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let bytes =
        axum::body::to_bytes(body, crate::body_limit::MAX_BODY_BYTES).await.map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let form_token = if is_form {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v))
    } else {
        None
    };
    let ok = [header_token, form_token].into_iter().flatten().any(|t| constant_eq(t.as_bytes(), expected.as_bytes()));
    if !ok {
        tracing::warn!(path = %parts.uri.path(), "console POST refused: missing or wrong CSRF token");
        return Err(refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn refused() -> Response {
    ui::message_page(
        StatusCode::FORBIDDEN,
        "Request refused",
        "The form's security token is missing or out of date. Go back, reload the page and try again.",
    )
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn with_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    // No inline scripts or styles anywhere, so the policy can be strict.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    r
}

/// A POSTed form as name/value pairs (repeated names kept, in order).
#[derive(Debug, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// A text field; absent or blank is `None`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    }
    /// A text field as typed (blank stays `Some("")`).
    pub fn raw(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }
    /// A checkbox: present means on.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), crate::body_limit::MAX_BODY_BYTES)
            .await
            .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .map(FormData)
            .map_err(|_| ui::message_page(StatusCode::BAD_REQUEST, "Bad request", "The form could not be read."))
    }
}
