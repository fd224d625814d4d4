//! The DeepCall v2 dialect (`deepcall/api/v2/Agent`): the agent group mapping
//! update of DeepCall's "Agent" document and, as a Switchboard extension, its
//! read side. Each handler parses the body ([`wire`]), authenticates the
//! caller ([`auth`]), calls one domain operation and formats the answer;
//! every failure's code, text and status come from [`errors::error`].
//! See `docs/dialects/deepcall.md`.
//!
//! DeepCall's documented clients send an empty `Content-Length:` header (and
//! some no length at all) with their body; [`lenient`] repairs that framing
//! below HTTP so that those requests reach the router at all.

mod auth;
mod errors;
mod group_mapping;
mod lenient;
pub(crate) mod wire;

#[cfg(feature = "fuzzing")]
pub use lenient::fuzz_framing;
pub(crate) use lenient::lenient_listener;
#[cfg(feature = "fuzzing")]
pub(crate) use wire as fuzz_wire;

use crate::AppState;
use axum::routing::{post, MethodRouter};
use axum::Router;

/// Where DeepCall clients send their requests: the document's base URL
/// (`deepcall/api/v2/Agent`) and the `{{brand}}/api/v2/Agent` its examples use.
const PREFIXES: [&str; 2] = ["/api/v2/Agent", "/deepcall/api/v2/Agent"];

pub fn router() -> Router<AppState> {
    let routes: [(&str, MethodRouter<AppState>); 2] = [
        ("updateAgentGroupMapping", post(group_mapping::update).options(errors::preflight)),
        ("getAgentGroupMapping", post(group_mapping::read).options(errors::preflight)),
    ];
    let mut r = Router::new();
    for prefix in PREFIXES {
        for (name, handler) in &routes {
            r = r.route(&format!("{prefix}/{name}"), handler.clone()).route(&format!("{prefix}/{name}/"), handler.clone());
        }
    }
    r
}
