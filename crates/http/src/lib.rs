//! Switchboard's HTTP front: the native REST API and (in their own modules)
//! the vendor dialects. Every module here only parses a request, calls one
//! domain operation and formats its answer.

mod app;
pub mod console;
pub mod deepcall;
pub mod livevox;
pub mod native;
mod ozonetel;
mod telemetry;

pub use app::{router, serve, AppState, HttpConfig};
pub use telemetry::metrics_handle;
