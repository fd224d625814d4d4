//! Field rules shared by every object. Each returns the normalised value or
//! the field and rule that failed.

use crate::error::{Error, Result, Rule};
use std::collections::HashSet;
use std::hash::Hash;

pub const NAME_MAX: usize = 100;
pub const LOGIN_ID_MAX: usize = 64;
pub const DESCRIPTION_MAX: usize = 1000;
/// Wrap-up time is seconds; -1 means unlimited. A day is the longest that makes sense.
pub const WRAP_UP_MAX: i64 = 86_400;

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Maps an optional value through a check.
pub fn opt<T>(v: Option<&str>, f: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    v.map(f).transpose()
}

/// For clearable fields: `Some(None)` or `Some(Some(""))` clears.
pub fn opt_clearable<T>(v: &Option<Option<String>>, f: impl FnOnce(&str) -> Result<T>) -> Result<Option<Option<T>>> {
    match v {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Some(s)) => Ok(Some(Some(f(s)?))),
    }
}

// Lengths and characters are checked on the value as sent, then surrounding
// whitespace is trimmed off: each rule is then one a JSON Schema can state
// exactly (`maxLength` and a `pattern`, native/schema.rs), so a value the
// native API's document allows is never refused and one it forbids never
// accepted. (Checked on the trimmed value, " \tSales" and a 101-character
// name ending in a space were accepted against the document.)

/// A mandatory free-text name: 1..=100 characters as sent, no control
/// characters, not only whitespace; stored trimmed.
pub fn name(field: &str, v: Option<&str>) -> Result<String> {
    let raw = v.unwrap_or("");
    let s = raw.trim();
    if s.is_empty() {
        return Err(Error::invalid(field, Rule::Required));
    }
    if raw.chars().count() > NAME_MAX {
        return Err(Error::invalid(field, Rule::TooLong { max: NAME_MAX }));
    }
    if has_control(raw) {
        return Err(Error::invalid(field, Rule::Format { expected: "free of control characters" }));
    }
    Ok(s.to_string())
}

pub fn description(field: &str, v: Option<&str>) -> Result<String> {
    let raw = v.unwrap_or("");
    if raw.chars().count() > DESCRIPTION_MAX {
        return Err(Error::invalid(field, Rule::TooLong { max: DESCRIPTION_MAX }));
    }
    if raw.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(field, Rule::Format { expected: "free of control characters" }));
    }
    Ok(raw.trim().to_string())
}

/// An agent's login id: no whitespace, stored upper-case (as LiveVox does),
/// unique per tenant regardless of case.
pub fn login_id(field: &str, v: Option<&str>) -> Result<String> {
    let raw = v.unwrap_or("");
    let s = raw.trim();
    if s.is_empty() {
        return Err(Error::invalid(field, Rule::Required));
    }
    if has_control(raw) || s.chars().any(char::is_whitespace) {
        return Err(Error::invalid(field, Rule::Format { expected: "without spaces or control characters" }));
    }
    // Measured as sent (upper-casing can lengthen a string: "ß" → "SS").
    if raw.chars().count() > LOGIN_ID_MAX {
        return Err(Error::invalid(field, Rule::TooLong { max: LOGIN_ID_MAX }));
    }
    Ok(s.to_uppercase())
}

/// Ozonetel's agent name rule: 2..=50 letters, digits, spaces and `. @ _ -`.
pub fn display_name(field: &str, s: &str) -> Result<String> {
    let s = s.trim();
    let n = s.chars().count();
    let allowed = |c: char| c.is_alphanumeric() || c == ' ' || ".@_-".contains(c);
    if !(2..=50).contains(&n) || !s.chars().all(allowed) {
        return Err(Error::invalid(field, Rule::Format { expected: "2 to 50 letters, digits, spaces or . @ _ -" }));
    }
    Ok(s.to_string())
}

/// Identity attributes an identity provider sends (externalId, employee
/// number, department, manager id): trimmed, at most 255 characters, no
/// control characters. (Empty texts clear; see `opt_clearable`.)
pub fn identity_text(field: &str, raw: &str) -> Result<String> {
    if raw.chars().count() > IDENTITY_TEXT_MAX {
        return Err(Error::invalid(field, Rule::TooLong { max: IDENTITY_TEXT_MAX }));
    }
    if has_control(raw) {
        return Err(Error::invalid(field, Rule::Format { expected: "free of control characters" }));
    }
    Ok(raw.trim().to_string())
}

pub const IDENTITY_TEXT_MAX: usize = 255;

pub fn email(field: &str, s: &str) -> Result<String> {
    let raw = s;
    let s = s.trim();
    let ok = raw.chars().count() <= 254
        && !has_control(raw)
        && !s.chars().any(char::is_whitespace)
        && match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    if !ok {
        return Err(Error::invalid(field, Rule::Format { expected: "an email address" }));
    }
    Ok(s.to_string())
}

/// What a telephone number must be (digits, an optional leading `+`).
pub const PHONE_FORMAT: &str = "a number of 3 to 20 digits with an optional leading +";
/// What a number of digits of the wrong length breaks: the length rule, told
/// apart from the format so that a numeric value is never called not numeric.
pub const PHONE_LENGTH: &str = "3 to 20 digits long";

/// A telephone number: optional leading `+`, then 3..=20 digits. Anything
/// but digits breaks [`PHONE_FORMAT`]; digits of the wrong count, [`PHONE_LENGTH`].
pub fn phone_number(field: &str, s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Error::invalid(field, Rule::Required));
    }
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(field, Rule::Format { expected: PHONE_FORMAT }));
    }
    if !(3..=20).contains(&digits.len()) {
        return Err(Error::invalid(field, Rule::Format { expected: PHONE_LENGTH }));
    }
    Ok(s.to_string())
}

/// The digits of a telephone number as written (`(650) 351-7454`,
/// `+1 650 351 7454`): every other character is formatting.
pub fn phone_digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

pub fn wrap_up_time(v: i64) -> Result<i64> {
    if !(-1..=WRAP_UP_MAX).contains(&v) {
        return Err(Error::invalid("wrapUpTime", Rule::OutOfRange { min: -1, max: WRAP_UP_MAX }));
    }
    Ok(v)
}

pub fn proficiency(v: i64) -> Result<i64> {
    if !(1..=5).contains(&v) {
        return Err(Error::invalid("proficiency", Rule::OutOfRange { min: 1, max: 5 }));
    }
    Ok(v)
}

/// Tenant names double as Ozonetel account user names: 1..=64 of letters,
/// digits and `. _ -`.
pub fn tenant_name(s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Error::invalid("name", Rule::Required));
    }
    if s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(Error::invalid("name", Rule::Format { expected: "1 to 64 letters, digits or . _ -" }));
    }
    Ok(s.to_string())
}

pub fn username(raw: &str) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Error::invalid("username", Rule::Required));
    }
    if raw.chars().count() > LOGIN_ID_MAX || has_control(raw) || s.chars().any(char::is_whitespace) {
        return Err(Error::invalid("username", Rule::Format { expected: "1 to 64 characters without spaces" }));
    }
    Ok(s.to_string())
}

pub fn no_duplicates<T: Hash + Eq + ToString>(field: &str, items: impl Iterator<Item = T>) -> Result<()> {
    let mut seen = HashSet::new();
    for i in items {
        let label = i.to_string();
        if !seen.insert(i) {
            return Err(Error::invalid(field, Rule::DuplicateItem { item: label }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_ids_are_upper_cased_and_reject_spaces() {
        assert_eq!(login_id("loginId", Some(" BobJohnson1 ")).unwrap(), "BOBJOHNSON1");
        assert!(matches!(login_id("loginId", Some("")), Err(Error::Invalid { rule: Rule::Required, .. })));
        assert!(login_id("loginId", Some("a b")).is_err());
        assert_eq!(login_id("loginId", Some("agent#.?")).unwrap(), "AGENT#.?");
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(phone_number("p", "+918888800000").unwrap(), "+918888800000");
        assert!(phone_number("p", "12a45").is_err());
        assert!(phone_number("p", "12").is_err());
        assert!(phone_number("p", "++123").is_err());
        let rule = |s: &str| match phone_number("p", s) {
            Err(Error::Invalid { rule: Rule::Format { expected }, .. }) => expected,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(rule("12"), PHONE_LENGTH);
        assert_eq!(rule("+1"), PHONE_LENGTH);
        assert_eq!(rule(&"1".repeat(21)), PHONE_LENGTH);
        assert_eq!(rule("12a45"), PHONE_FORMAT);
        assert_eq!(rule("+"), PHONE_FORMAT);
        assert_eq!(phone_digits("+1 (650) 351-7454"), "16503517454");
    }

    #[test]
    fn emails() {
        assert!(email("e", "a@b.co").is_ok());
        for bad in ["a", "a@b", "@b.co", "a@b..co", "a b@c.de", "a@b@c.de"] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names() {
        assert!(display_name("d", "Jo").is_ok());
        assert!(display_name("d", "J").is_err());
        assert!(display_name("d", "Ann O'Neil").is_err());
        assert!(display_name("d", &"x".repeat(51)).is_err());
    }

    #[test]
    fn ranges() {
        assert!(proficiency(0).is_err() && proficiency(6).is_err() && proficiency(3).is_ok());
        assert!(wrap_up_time(-2).is_err() && wrap_up_time(-1).is_ok());
    }
}
