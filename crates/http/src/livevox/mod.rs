//! The LiveVox Configuration API dialect (agents, agent skills, services) and
//! its session login. Served under `/configuration/…` and `/session/…`, and
//! under any versioned prefix clients pin (`/configuration/v6.0/…`).

mod agents;
mod auth;
pub mod error;
mod reply;
mod skills;
pub mod wire;

use crate::AppState;
use axum::extract::{RawPathParams, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;

fn configuration() -> Router<AppState> {
    Router::new()
        .route("/agents", post(agents::create).get(agents::list))
        .route("/agents/", get(agents::list))
        .route("/agents/info", get(agents::info))
        .route("/agents/search", post(agents::search))
        .route("/agents/{id}", get(agents::read).put(agents::update).delete(agents::delete))
        .route("/agents/{id}/related", get(agents::related))
        .route("/agents/{agent}/skills/{id}", put(agents::add_skill).delete(agents::remove_skill))
        .route("/agents/{agent}/services/{id}", put(agents::add_service).delete(agents::remove_service))
        // The document writes both `/agents/Skills` and `/agents/skills`.
        .route("/agents/skills", post(skills::create).get(skills::list))
        .route("/agents/Skills", post(skills::create).get(skills::list))
        .route("/agents/skills/info", get(skills::info))
        .route("/agents/Skills/info", get(skills::info))
        .route("/agents/skills/{id}", get(skills::read).put(skills::update).delete(skills::delete))
        .route("/agents/Skills/{id}", get(skills::read).put(skills::update).delete(skills::delete))
        .route("/callCenters", get(skills::list_call_centers))
        .route("/callCenters/{id}", get(skills::read_call_center))
        .route("/services", get(skills::list_services))
        .route("/services/{id}", get(skills::read_service))
}

fn session() -> Router<AppState> {
    Router::new()
        .route("/login", post(auth::login))
        .route("/validate", get(auth::validate))
        .route("/validate/{sessionId}", get(auth::validate))
        .route("/logout", delete(auth::logout))
        .route("/logout/{sessionId}", delete(auth::logout))
}

pub fn router() -> Router<AppState> {
    let versioned = Router::new()
        .nest("/configuration/{version}", configuration())
        .nest("/session/{version}", session())
        .route_layer(axum::middleware::from_fn(require_version));
    Router::new().nest("/configuration", configuration()).nest("/session", session()).merge(versioned)
}

/// Versioned prefixes look like `v6.0`, `v5`, `v3.5`; anything else is no route.
async fn require_version(params: RawPathParams, req: Request, next: Next) -> Response {
    let version = params.iter().find(|(k, _)| *k == "version").map(|(_, v)| v.to_string());
    let ok = version
        .as_deref()
        .and_then(|v| v.strip_prefix('v'))
        .is_some_and(|v| !v.is_empty() && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
    if ok {
        next.run(req).await
    } else {
        error::LvError::NotFoundEmpty.into_response()
    }
}
