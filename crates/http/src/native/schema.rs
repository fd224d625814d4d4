//! The OpenAPI schemas of the text fields whose rules live in the domain
//! (`domain::validate`, `PasswordPolicy`), built from the same constants, so
//! that the document states exactly what the server accepts: a value the
//! document allows is accepted, one it forbids is refused (checked by
//! schemathesis's positive and negative data checks in `.ci/run`).
//!
//! The patterns are Python/ECMAScript regular expressions. Two facts shape
//! them: the server trims surrounding whitespace before most rules (so the
//! patterns allow it around the value), and `char::is_control` is the
//! C0 and C1 control characters, `[\u0000-\u001f\u007f-\u009f]`. `\w` and
//! `\s` are meant with Unicode semantics (Python's, or ECMAScript with the
//! `u` flag treats `\w` as ASCII: a client validating with it is stricter).
//! Lengths count characters (code points) as sent.

use switchboard_domain::validate::{DESCRIPTION_MAX, IDENTITY_TEXT_MAX, LOGIN_ID_MAX, NAME_MAX};
use switchboard_domain::PasswordPolicy;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

/// Any character but a control character.
const PRINTABLE: &str = r"[^\u0000-\u001f\u007f-\u009f]";
/// A character that is neither whitespace nor a control character.
const SOLID: &str = r"[^\s\u0000-\u001f\u007f-\u009f]";
/// Whitespace that is not a control character (trimmed off by the server).
const BLANK: &str = r"[^\S\u0000-\u001f\u007f-\u009f]";

fn string(nullable: bool) -> ObjectBuilder {
    let t = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::Type(Type::String) };
    ObjectBuilder::new().schema_type(t)
}

fn name_rule(nullable: bool) -> Object {
    string(nullable)
        .min_length(Some(1))
        .max_length(Some(NAME_MAX))
        .pattern(Some(format!("^{PRINTABLE}*{SOLID}{PRINTABLE}*$")))
        .description(Some(format!(
            "1–{NAME_MAX} characters with at least one that is not whitespace, no control characters; \
             surrounding whitespace is trimmed"
        )))
        .examples(["Sales"])
        .build()
}

/// A mandatory name (agent first and last names, catalog names).
pub fn name() -> Object {
    name_rule(false)
}

pub fn description() -> Object {
    string(false)
        .max_length(Some(DESCRIPTION_MAX))
        .pattern(Some(r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$"))
        .description(Some(format!("Up to {DESCRIPTION_MAX} characters; tabs and newlines allowed, other control characters not")))
        .examples(["Spanish-speaking callers"])
        .build()
}

/// As [`description`]; `null` is the same as leaving it out.
pub fn description_or_null() -> Object {
    let mut o = description();
    o.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    o
}

pub fn login_id() -> Object {
    string(false)
        .min_length(Some(1))
        .max_length(Some(LOGIN_ID_MAX))
        .pattern(Some(format!("^{BLANK}*{SOLID}+{BLANK}*$")))
        .description(Some(format!(
            "Unique per tenant ignoring case, stored upper-case; up to {LOGIN_ID_MAX} characters \
             without whitespace or control characters (surrounding whitespace is trimmed)"
        )))
        .examples(["JDOE"])
        .build()
}

fn password_rule(nullable: bool) -> Object {
    let p = PasswordPolicy::ON_CREATE;
    string(nullable)
        .min_length(Some(p.min_len))
        .max_length(Some(p.max_len))
        .pattern(Some(r"^[\s\S]*[0-9][\s\S]*$"))
        .description(Some(format!(
            "Write-only. {}–{} characters with at least one digit; stored only as an argon2id hash",
            p.min_len, p.max_len
        )))
        .examples(["Secret123"])
        .build()
}

pub fn password() -> Object {
    password_rule(false)
}

/// A password that may be left out or `null` (create: no password yet).
pub fn password_or_null() -> Object {
    password_rule(true)
}

const DISPLAY_NAME: &str = r"\s*[\w.@-][\w .@-]{0,48}[\w.@-]\s*";

/// Ozonetel's agent name rule, which the display name follows.
pub fn display_name_or_null() -> Object {
    string(true)
        .pattern(Some(format!("^{DISPLAY_NAME}$")))
        .description(Some("2–50 letters, digits, spaces or `. @ _ -` (surrounding whitespace is trimmed)"))
        .examples(["John D."])
        .build()
}

/// On a change: as [`display_name_or_null`], and `null` or blank clears it.
pub fn display_name_or_clear() -> Object {
    let mut o = display_name_or_null();
    o.pattern = Some(format!(r"^(\s*|{DISPLAY_NAME})$"));
    o.description = Some("2–50 letters, digits, spaces or `. @ _ -` (surrounding whitespace is trimmed); null or blank clears it".into());
    o
}

const EMAIL: &str = r"[^\S\u0000-\u001f\u007f-\u009f]*[^\s@\u0000-\u001f\u007f-\u009f]+@[^\s@.\u0000-\u001f\u007f-\u009f]+(\.[^\s@.\u0000-\u001f\u007f-\u009f]+)+[^\S\u0000-\u001f\u007f-\u009f]*";

pub fn email_or_null() -> Object {
    string(true)
        .max_length(Some(254))
        .pattern(Some(format!("^{EMAIL}$")))
        .description(Some(
            "An email address: one `@`, a domain with a dot, no whitespace or control characters, \
             at most 254 characters",
        ))
        .examples(["jdoe@example.com"])
        .build()
}

/// On a change: as [`email_or_null`], and `null` or blank clears it.
pub fn email_or_clear() -> Object {
    let mut o = email_or_null();
    o.pattern = Some(format!(r"^(\s*|{EMAIL})$"));
    o.description = Some("An email address (as on create); null or blank clears it".into());
    o
}

/// A telephone number that must be given (phones, DIDs).
pub fn phone_number() -> Object {
    string(false)
        .pattern(Some(r"^\s*\+?[0-9]{3,20}\s*$"))
        .description(Some("3–20 digits with an optional leading `+` (surrounding whitespace is trimmed)"))
        .examples(["+16503517454"])
        .build()
}

/// An agent's phone: a number, or empty for none.
pub fn agent_phone() -> Object {
    string(false)
        .pattern(Some(r"^\s*(\+?[0-9]{3,20})?\s*$"))
        .description(Some("3–20 digits with an optional leading `+`; empty for none"))
        .examples(["+16503517454"])
        .build()
}

/// As [`agent_phone`]; `null` is the same as leaving it out.
pub fn agent_phone_or_null() -> Object {
    let mut o = agent_phone();
    o.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    o
}

pub fn username() -> Object {
    string(false)
        .min_length(Some(1))
        .max_length(Some(LOGIN_ID_MAX))
        .pattern(Some(format!("^{BLANK}*{SOLID}+{BLANK}*$")))
        .description(Some(format!("1–{LOGIN_ID_MAX} characters without whitespace or control characters; case-sensitive")))
        .examples(["admin"])
        .build()
}

/// `If-Match`: an ETag this server gave, or `*`.
pub fn if_match() -> Object {
    // No pattern: any other value is a tag the object does not have, which
    // is a precondition that fails (412), not a malformed request.
    string(false)
        .description(Some("The ETag last read (`\"v<version>\"`, weak form accepted), or `*`: the change is refused with 412 unless the object is still at that version"))
        .examples(["\"v3\""])
        .build()
}

/// A list of distinct ids.
pub fn unique_ids() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("Id"))
        .unique_items(true)
        .examples([serde_json::json!([7])])
        .build()
}

/// Attributes to merge into an agent's: at least one key, `null` removes it.
pub fn attributes_patch() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .min_properties(Some(1))
        .description(Some("Merged into the stored attributes; a null value removes a key."))
        .examples([serde_json::json!({"team": "red", "shift": null})])
        .build()
}

/// Skill names: each a name, each once ignoring case.
pub fn skill_names() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new().items(name()).unique_items(true).examples([serde_json::json!(["Spanish"])]).build()
}

/// DID numbers, each once.
pub fn did_numbers() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(phone_number())
        .unique_items(true)
        .examples([serde_json::json!(["+16505550100"])])
        .build()
}

/// The tenant settings a PATCH may change (`domain::validate_settings`).
pub fn settings_patch() -> Object {
    serde_json::from_value(serde_json::json!({
        "type": "object",
        "minProperties": 1,
        "additionalProperties": false,
        "description": "Settings to change; the others keep their values.",
        "properties": {
            "apiAuthentication": {"type": "string", "enum": ["BASIC_AUTH", "TOKEN_AUTH"],
                "description": "How Ozonetel's API authenticates the tenant's calls."},
            "phoneNumberLimit": {"type": "integer", "minimum": 0, "maximum": 1_000_000,
                "description": "Ozonetel's phone number creation limit (default 100)."},
            "agentLockoutThreshold": {"type": "integer", "minimum": 1, "maximum": 100,
                "description": "Failed agent logins in a row before the agent is locked (default 5)."},
            "scimDeleteMode": {"type": "string", "enum": ["deactivate", "delete"],
                "description": "What a SCIM DELETE of a user does to the agent (default `deactivate`; docs/scim.md)."},
            // `propertyNames` ({"minLength": 1, "maxLength": 100}), which utoipa's
            // model lacks, is added by contract.rs.
            "rateLimits": {"type": "object",
                "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                "description": "Requests per minute, per endpoint name (default `{\"ozonetel.updateAgent\": 5}`)."}
        },
        "examples": [{"agentLockoutThreshold": 3}]
    }))
    .expect("a valid schema")
}

/// An import file's format.
pub fn file_format() -> Object {
    string(false).enum_values(Some(["csv", "json"])).examples(["csv"]).build()
}

/// An identity provider's text (externalId, employeeNumber, department,
/// manager): up to 255 characters without control characters; null or blank
/// means none (on a change: clears it).
pub fn identity_text_or_null() -> Object {
    string(true)
        .max_length(Some(IDENTITY_TEXT_MAX))
        .pattern(Some(format!("^{PRINTABLE}*$")))
        .description(Some(format!(
            "Up to {IDENTITY_TEXT_MAX} characters without control characters (surrounding whitespace is trimmed); null or blank clears it"
        )))
        .examples(["00u1ab2cd3EF4gh5ij6"])
        .build()
}

/// A webhook URL (`ops_events::check_webhook_url`): `http://` or
/// `https://`, a host without user info, no whitespace. Where it may point
/// (public addresses) depends on DNS and the server's allowed networks,
/// which no schema states: such a URL is a 422.
pub fn webhook_url() -> Object {
    use switchboard_domain::ops_events::WEBHOOK_URL_MAX;
    string(false)
        .min_length(Some(8))
        .max_length(Some(WEBHOOK_URL_MAX))
        .pattern(Some(r"^https?://[^\s\u0000-\u001f\u007f-\u009f@/?#]+([/?#][^\s\u0000-\u001f\u007f-\u009f]*)?$"))
        .description(Some(format!(
            "An http:// or https:// URL of at most {WEBHOOK_URL_MAX} characters, resolving to a public address \
             (loopback, private, link-local and metadata addresses are refused unless the server allows their network)"
        )))
        .examples(["https://hooks.example.com/switchboard"])
        .build()
}

fn event_patterns_rule(nullable: bool) -> utoipa::openapi::schema::Array {
    use switchboard_domain::ops_events::{EVENT_PATTERN, WEBHOOK_EVENTS_MAX};
    let t = if nullable { SchemaType::from_iter([Type::Array, Type::Null]) } else { SchemaType::Type(Type::Array) };
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(t)
        .items(string(false).max_length(Some(100)).pattern(Some(EVENT_PATTERN)).examples(["agent.*"]).build())
        .min_items(Some(1))
        .max_items(Some(WEBHOOK_EVENTS_MAX))
        .description(Some("Event types (`agent.created`) or prefixes ending in `.*` (`agent.*`); `*` is every type"))
        .examples([serde_json::json!(["agent.*", "skill.created"])])
        .build()
}

/// A subscription's event types; left out: every type.
pub fn event_patterns() -> utoipa::openapi::schema::Array {
    event_patterns_rule(false)
}

/// As [`event_patterns`]; `null`: every type.
pub fn event_patterns_or_null() -> utoipa::openapi::schema::Array {
    event_patterns_rule(true)
}
