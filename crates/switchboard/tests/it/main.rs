//! The integration tests: a real server on a real socket over a real SQLite
//! file, driven over HTTP; and the real `switchboard` binary for the CLI.

mod admin;
mod agents;
mod catalog;
mod cli;
mod console;
mod contract;
mod deepcall;
mod deploy;
mod events;
mod hostile;
mod import;
mod integrity;
mod isolation;
mod livevox;
mod matrix;
mod ops;
mod ozonetel;
mod protocol;
mod reliability;
mod scale;
mod scim;
mod search_index;
mod support;
mod tls;
