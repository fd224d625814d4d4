//! Properties of the domain's validation, over arbitrary input: it never
//! panics, what it accepts satisfies the documented rules, and it accepts
//! everything those rules allow.

use proptest::prelude::*;
use switchboard_domain::validate as v;
use switchboard_domain::{Error, NewAgent, PasswordPolicy, Rule};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn login_ids_are_upper_case_bounded_and_spaceless(s in "\\PC{0,80}") {
        if let Ok(id) = v::login_id("loginId", Some(&s)) {
            prop_assert!(!id.is_empty());
            // 64 characters as sent; upper-casing can lengthen one ("ß" → "SS"), at most threefold.
            prop_assert!(s.chars().count() <= v::LOGIN_ID_MAX);
            prop_assert!(id.chars().count() <= 3 * v::LOGIN_ID_MAX);
            prop_assert!(!id.chars().any(char::is_whitespace));
            prop_assert_eq!(id.to_uppercase(), id.clone());
            // Idempotent: a stored id (within the limit) validates to itself.
            if id.chars().count() <= v::LOGIN_ID_MAX {
                prop_assert_eq!(v::login_id("loginId", Some(&id)).unwrap(), id);
            }
        }
    }

    #[test]
    fn plain_ascii_login_ids_are_accepted(s in "[A-Za-z0-9!#.?_-]{1,64}") {
        prop_assert_eq!(v::login_id("loginId", Some(&s)).unwrap(), s.to_uppercase());
    }

    #[test]
    fn names_are_trimmed_bounded_and_free_of_controls(s in "\\PC{0,120}|[\\x00-\\x1f ]{0,5}") {
        match v::name("lastName", Some(&s)) {
            Ok(n) => {
                prop_assert_eq!(n.trim(), n.as_str());
                prop_assert!(!n.is_empty() && n.chars().count() <= v::NAME_MAX);
                prop_assert!(!n.chars().any(char::is_control));
            }
            Err(Error::Invalid { field, .. }) => prop_assert_eq!(field, "lastName"),
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }

    #[test]
    fn display_names_follow_the_ozonetel_rule(s in "[A-Za-z0-9 .@_\\-]{0,60}|\\PC{0,60}") {
        let t = s.trim();
        let allowed = t.chars().all(|c| c.is_alphanumeric() || " .@_-".contains(c));
        let ok = (2..=50).contains(&t.chars().count()) && allowed;
        prop_assert_eq!(v::display_name("agentName", &s).is_ok(), ok);
    }

    #[test]
    fn phone_numbers_are_digits_with_an_optional_plus(s in "\\+?[0-9]{0,24}|\\PC{0,24}") {
        if let Ok(p) = v::phone_number("phone", &s) {
            let digits = p.strip_prefix('+').unwrap_or(&p);
            prop_assert!((3..=20).contains(&digits.len()));
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn proficiency_and_wrap_up_ranges(p in any::<i64>(), w in any::<i64>()) {
        prop_assert_eq!(v::proficiency(p).is_ok(), (1..=5).contains(&p));
        prop_assert_eq!(v::wrap_up_time(w).is_ok(), (-1..=86_400).contains(&w));
    }

    #[test]
    fn password_policy_on_create(pw in "\\PC{0,140}") {
        let r = PasswordPolicy::ON_CREATE.check(&pw);
        let n = pw.chars().count();
        let expected_ok = (8..=128).contains(&n) && pw.chars().any(|c| c.is_ascii_digit());
        prop_assert_eq!(r.is_ok(), expected_ok, "{:?}", r);
        if pw.is_empty() {
            let required = matches!(r, Err(Error::Invalid { rule: Rule::Required, .. }));
            prop_assert!(required);
        }
    }

    #[test]
    fn agent_validation_never_panics_and_normalises(
        login in proptest::option::of("\\PC{0,70}"),
        first in proptest::option::of("\\PC{0,110}"),
        last in proptest::option::of("\\PC{0,110}"),
        email in proptest::option::of("\\PC{0,40}"),
        phone in proptest::option::of("\\PC{0,25}"),
        wrap in proptest::option::of(-5i64..100_000),
    ) {
        let a = NewAgent { login_id: login, first_name: first, last_name: last, email, phone, wrap_up_time: wrap, ..Default::default() };
        if let Ok(rec) = a.validate(&PasswordPolicy::ON_CREATE) {
            prop_assert_eq!(rec.login_id.to_uppercase(), rec.login_id.clone());
            prop_assert!(rec.first_name.chars().count() <= v::NAME_MAX);
            prop_assert!(rec.active, "agents are active unless said otherwise");
        }
    }
}
