//! Signing in and out. A user signs in with the tenant's name, a username
//! and a password (`login::password_login`, throttled like every password
//! login); the console session is an
//! ordinary session (kind `console`) with the configured idle timeout.

use super::ui::{self, Errs, Field, Input};
use super::{cookie, secure, set_cookie, Console, FormData, CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE};
use crate::login::{password_login, retry_secs, Account, LoginAttempt, LoginRefused, Surface};
use crate::AppState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde::Deserialize;
use std::net::SocketAddr;
use switchboard_domain::{Error, SessionTerms};

pub fn routes() -> Router<AppState> {
    Router::new().route("/login", get(login_page).post(login)).route("/logout", post(logout))
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only a path of this site (not `//host`), so a link cannot send a user elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.to_string(),
        _ => "/agents".to_string(),
    }
}

async fn login_page(State(s): State<AppState>, c: Option<Console>, headers: HeaderMap, Query(q): Query<Next>) -> Response {
    if c.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let token = cookie(&headers, LOGIN_COOKIE).filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()));
    let token = token.unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>()));
    let mut r = form(&token, "", "", q.next.as_deref(), &Errs::none(), StatusCode::OK);
    r.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, secure(&s, &headers), None));
    r
}

fn form(token: &str, tenant: &str, username: &str, next: Option<&str>, errs: &Errs, status: StatusCode) -> Response {
    let f = "login";
    ui::html_response(
        status,
        ui::bare(
            "Sign in to Switchboard",
            html! {
                (errs.banner())
                form.stack method="post" action="/login" {
                    input type="hidden" name=(CSRF_FIELD) value=(token);
                    input type="hidden" name="next" value=(safe_next(next));
                    (Field::new(f, "tenant", "Tenant", tenant).required().autocomplete("organization").render(errs))
                    (Field::new(f, "username", "Username", username).required().autocomplete("username").render(errs))
                    (Field::new(f, "password", "Password", "").input(Input::Password).required().autocomplete("current-password").render(errs))
                    div.actions { button type="submit" { "Sign in" } }
                }
            },
        ),
    )
}

async fn login(State(s): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form_data: FormData) -> Response {
    let token = form_data.get(CSRF_FIELD).unwrap_or_default().to_string();
    let tenant = form_data.text("tenant").unwrap_or_default();
    let username = form_data.raw("username").unwrap_or_default();
    let password = form_data.raw("password").unwrap_or_default();
    let next = form_data.raw("next");
    let again = |errs: Errs, status| form(&token, &tenant, &username, next.as_deref(), &errs, status);
    for (name, v) in [("tenant", &tenant), ("username", &username), ("password", &password)] {
        if v.is_empty() {
            return again(
                Errs::from_error(&Error::invalid(name, switchboard_domain::Rule::Required), &["tenant", "username", "password"]),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    }
    let denied = |text: String| Errs { fields: vec![], general: Some(text) };
    let attempt = LoginAttempt {
        surface: Surface::Console,
        account: Account::User,
        tenant: &tenant,
        username: &username,
        password: &password,
        client: peer.ip(),
        bound_to: None,
    };
    let principal = match password_login(&s, attempt).await {
        Ok((_, p)) => p,
        Err(LoginRefused::BadCredentials | LoginRefused::Locked) => {
            return again(denied("Unknown tenant, username or password.".into()), StatusCode::UNAUTHORIZED)
        }
        Err(LoginRefused::Throttled(wait)) => {
            let secs = retry_secs(wait);
            let mut r =
                again(denied(format!("Too many sign-in attempts for this user. Try again in {secs} s.")), StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut().insert(header::RETRY_AFTER, secs.into());
            return r;
        }
        Err(LoginRefused::Failed(e)) => return ui::error_page(None, e),
    };
    let terms = SessionTerms { kind: "console", idle_ttl: s.config.session_idle.as_millis() as i64, lifetime: None, reuse_key: None };
    let session = match s.dir.open_session(principal, terms).await {
        Ok(x) => x,
        Err(e) => return ui::error_page(None, e),
    };
    let sec = secure(&s, &headers);
    let mut r = Redirect::to(&safe_next(next.as_deref())).into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &session.id, sec, None));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "x", sec, Some(0)));
    r
}

/// Ends the session on the server and removes the cookie.
async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = s.dir.end_session(&id).await {
            return ui::error_page(None, e);
        }
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "x", secure(&s, &headers), Some(0)));
    r
}
