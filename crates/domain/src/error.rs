//! The one error type every operation returns. Each API dialect maps these
//! variants onto its own documented status codes and message texts, so the
//! variants carry the field and the rule that failed, never a ready-made text.

use std::fmt;

/// The kinds of object the directory holds; used to name what was not found,
/// what was duplicated, or what an audit event concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Tenant,
    User,
    ApiKey,
    Agent,
    Skill,
    CallCenter,
    Service,
    Group,
    Phone,
    Did,
    Campaign,
    Webhook,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Tenant => "tenant",
            Entity::User => "user",
            Entity::ApiKey => "api_key",
            Entity::Agent => "agent",
            Entity::Skill => "skill",
            Entity::CallCenter => "call_center",
            Entity::Service => "service",
            Entity::Group => "group",
            Entity::Phone => "phone",
            Entity::Did => "did",
            Entity::Campaign => "campaign",
            Entity::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Entity> {
        Some(match s {
            "tenant" => Entity::Tenant,
            "user" => Entity::User,
            "api_key" => Entity::ApiKey,
            "agent" => Entity::Agent,
            "skill" => Entity::Skill,
            "call_center" => Entity::CallCenter,
            "service" => Entity::Service,
            "group" => Entity::Group,
            "phone" => Entity::Phone,
            "did" => Entity::Did,
            "campaign" => Entity::Campaign,
            "webhook" => Entity::Webhook,
            _ => return None,
        })
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which validation rule a value broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Absent, null or empty where a value is mandatory.
    Required,
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// A password without a digit.
    MissingDigit,
    /// A password equal to one of the last `last` passwords.
    Reused {
        last: usize,
    },
    OutOfRange {
        min: i64,
        max: i64,
    },
    /// The value does not have the expected shape; `expected` says which.
    Format {
        expected: &'static str,
    },
    /// A list names the same item twice.
    DuplicateItem {
        item: String,
    },
    /// A reference to an object that does not exist in the tenant.
    UnknownReference {
        entity: Entity,
        id: String,
    },
    /// Only ACD services may be assigned to agents.
    NotAcdService,
    /// A body that must change something changes nothing.
    NothingToUpdate,
    /// A value this operation does not change, sent with another value than
    /// the stored one (a read-modify-write body that edits a read-only key).
    ReadOnly,
}

impl Rule {
    /// Stable machine-readable code, part of the native API contract.
    pub fn code(&self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::TooShort { .. } => "too_short",
            Rule::TooLong { .. } => "too_long",
            Rule::MissingDigit => "missing_digit",
            Rule::Reused { .. } => "reused",
            Rule::OutOfRange { .. } => "out_of_range",
            Rule::Format { .. } => "format",
            Rule::DuplicateItem { .. } => "duplicate_item",
            Rule::UnknownReference { .. } => "unknown_reference",
            Rule::NotAcdService => "not_acd_service",
            Rule::NothingToUpdate => "nothing_to_update",
            Rule::ReadOnly => "read_only",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Required => write!(f, "is required"),
            Rule::TooShort { min } => write!(f, "must be at least {min} characters long"),
            Rule::TooLong { max } => write!(f, "must be at most {max} characters long"),
            Rule::MissingDigit => write!(f, "must contain at least 1 digit"),
            Rule::Reused { last } => write!(f, "cannot match any of the previous {last} passwords"),
            Rule::OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            Rule::Format { expected } => write!(f, "must be {expected}"),
            Rule::DuplicateItem { item } => write!(f, "lists {item} more than once"),
            Rule::UnknownReference { entity, id } => write!(f, "refers to unknown {entity} {id}"),
            Rule::NotAcdService => write!(f, "only ACD services can be assigned to agents"),
            Rule::NothingToUpdate => write!(f, "must contain at least one field to update"),
            Rule::ReadOnly => write!(f, "cannot be changed by this operation"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field} {rule}")]
    Invalid { field: String, rule: Rule },
    #[error("{entity} not found [ID:{id}]")]
    NotFound { entity: Entity, id: String },
    #[error("{entity} with {field} '{value}' already exists")]
    Duplicate { entity: Entity, field: &'static str, value: String },
    /// The object is still referenced and cannot be deleted.
    #[error("{entity} {id} is still in use by {by}")]
    InUse { entity: Entity, id: String, by: Entity },
    /// Optimistic concurrency: the caller's version is not the stored one.
    #[error("{entity} {id} has changed (current version {current})")]
    VersionMismatch { entity: Entity, id: String, current: i64 },
    /// A tenant limit (e.g. the phone number creation limit) is reached.
    #[error("{what} limit of {limit} reached")]
    LimitExceeded { what: &'static str, limit: i64 },
    #[error("authentication required")]
    Unauthenticated,
    #[error("permission denied")]
    Forbidden,
    #[error("account is locked")]
    Locked,
    #[error("storage failure: {0}")]
    Storage(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, rule: Rule) -> Self {
        Error::Invalid { field: field.into(), rule }
    }

    pub fn not_found(entity: Entity, id: impl ToString) -> Self {
        Error::NotFound { entity, id: id.to_string() }
    }

    /// Stable machine-readable code, part of the native API contract.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid",
            Error::NotFound { .. } => "not_found",
            Error::Duplicate { .. } => "duplicate",
            Error::InUse { .. } => "in_use",
            Error::VersionMismatch { .. } => "version_mismatch",
            Error::LimitExceeded { .. } => "limit_exceeded",
            Error::Unauthenticated => "unauthenticated",
            Error::Forbidden => "forbidden",
            Error::Locked => "locked",
            Error::Storage(_) => "storage",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
