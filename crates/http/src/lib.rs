//! Switchboard's HTTP front: the native REST API and (in their own modules)
//! the vendor dialects. Every module here only parses a request, calls one
//! domain operation and formats its answer.

mod app;
mod body_limit;
pub mod console;
pub mod deepcall;
mod lenient_json;
pub mod livevox;
mod login;
pub mod native;
mod ozonetel;
pub mod scim;
mod state;
mod telemetry;
pub mod webhooks;

pub use app::{router, serve, serve_metrics};
pub use ozonetel::rate_limit::LocalRateLimiter;
pub use state::{AppState, HttpConfig};
pub use telemetry::{metrics_handle, set_build_commit, with_request, RequestContext};

/// Entry points for the fuzz targets (`fuzz/`): each dialect's request parsing
/// on arbitrary bytes. Only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use axum::body::Bytes;

    /// LiveVox: lenient JSON (trailing and missing commas), then typed field access.
    pub fn livevox_body(data: &[u8]) {
        let cleaned = crate::lenient_json::repair(data);
        assert!(cleaned.len() <= 2 * data.len());
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(&cleaned) {
            if let Ok(f) = crate::livevox::wire::Fields::new(m, &["loginId", "lastName", "phoneNumber", "unlock", "clientId", "wrapUpTime"])
            {
                let _ = f.get::<String>("loginId");
                let _ = f.flag("unlock");
                let _ = f.required_int("clientId");
                let _ = f.int("wrapUpTime");
            }
        }
    }

    /// DeepCall: body object, credentials, agentId and group data; and the
    /// framing repair's parsers on raw bytes.
    pub fn deepcall_body(data: &[u8]) {
        crate::deepcall::fuzz_framing(data);
        if let Ok(m) = crate::deepcall::fuzz_wire::body_object(data) {
            let _ = crate::deepcall::fuzz_wire::credentials(&m);
            let _ = crate::deepcall::fuzz_wire::agent_id(&m);
            if let Ok(groups) = crate::deepcall::fuzz_wire::groups(&m) {
                let _ = crate::deepcall::fuzz_wire::group_object(&groups);
            }
        }
    }

    /// Ozonetel: body map, text fields, `%2B` decoding.
    pub fn ozonetel_body(data: &[u8]) {
        let Ok(m) = crate::ozonetel::body_map(&Bytes::copy_from_slice(data)) else { return };
        for k in ["userName", "agentId", "agentName", "password", "email", "phoneNumber", "dynamicDIDs"] {
            let t = crate::ozonetel::text(&m, k);
            let _ = crate::ozonetel::plus_decoded(t);
        }
    }

    /// Native: the agent create body as the API deserialises it, then the
    /// domain's validation of it.
    pub fn native_body(data: &[u8]) {
        crate::native::fuzz_agent_body(data);
    }
}
