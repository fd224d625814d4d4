//! Bulk import and export: every kind of directory object as flat rows of
//! named columns (the CSV/JSON file format of `docs/import.md`).
//!
//! A row is validated with the same rules as the API (the `input` types'
//! `validate` functions), then the store applies all rows of an import in one
//! call: one transaction for `atomic` (and for a dry run, rolled back), one
//! transaction per batch with a savepoint per row for `best-effort`. Plaintext
//! passwords are hashed (argon2id) on every core before the store call.

//!
//! One module per job: `kinds` (the request and the report), `rows` (typed
//! rows and cell parsing), `flat` (export and diffs), `run` (the operations),
//! `job` (imports started over HTTP).

mod flat;
mod job;
mod kinds;
mod rows;
mod run;

pub use flat::*;
pub use job::*;
pub use kinds::*;
pub use rows::*;
#[allow(unused_imports)]
pub use run::*;
