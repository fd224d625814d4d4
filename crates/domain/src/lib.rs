//! Switchboard's domain: the contact-center directory model, its validation
//! rules and operations. No HTTP and no SQL here; time comes from a [`Clock`].

mod error;
pub mod events;
mod import;
pub mod input;
mod model;
mod ops;
pub mod ops_events;
mod ops_ozonetel;
mod ops_scim;
pub mod ratelimit;
pub mod secret;
pub mod session;
pub mod store;
pub mod validate;

pub use error::{Entity, Error, Result, Rule};
pub use events::EventStore;
pub use import::*;
pub use input::*;
pub use model::*;
pub use ops::{Clock, Directory, Issued, SessionTerms, SystemClock};
pub use ops_ozonetel::*;
pub use ratelimit::{RateLimiter, WindowLog};
pub use secret::PasswordPolicy;
pub use session::{MemorySessions, Session, SessionStore};
pub use store::{
    AccountStore, AgentStore, AuditStore, CatalogStore, Credentials, IdempotencyStore, IdempotentResponse, ImportStore, Named, PoolStats,
    Store, StoreStats, TelephonyStore, WriteCtx,
};
