//! JSON as the vendors' documents write it. Their own examples are not
//! always strict JSON, and clients copy them: LiveVox's Update Agent example
//! has a comma before `}`, Ozonetel's PhoneManageV2 sample lacks the comma
//! between `"phoneNameNew":"xxxx"` and the next key. [`repair`] mends exactly
//! what has one reading, outside strings, and leaves everything else to the
//! JSON parser (which refuses what is still not JSON):
//!
//! - a comma directly before `}` or `]` is dropped;
//! - a missing comma is put back where a value ends and, in an object, a
//!   key's string begins, or, in an array, another value begins.

/// What the scanner expects next in the innermost container.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Object: a key (after `{` or `,`).
    Key,
    /// Object: the `:` after a key.
    Colon,
    /// A value (after `:` in an object; after `[` or `,` in an array).
    Value,
    /// A `,` or the container's end, after a complete value.
    More,
}

struct Level {
    object: bool,
    expect: Expect,
}

/// The body with the repairs above made; the same bytes when there are none.
pub fn repair(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() + 8);
    let mut stack: Vec<Level> = Vec::new();
    let mut i = 0;
    // A value ended: the innermost container now expects more.
    let ended = |stack: &mut Vec<Level>| {
        if let Some(l) = stack.last_mut() {
            l.expect = Expect::More;
        }
    };
    while i < src.len() {
        let c = src[i];
        match c {
            b'"' => {
                let key = match stack.last_mut() {
                    Some(l) if l.expect == Expect::More && l.object => {
                        out.push(b',');
                        true
                    }
                    Some(l) if l.expect == Expect::More => {
                        out.push(b',');
                        false
                    }
                    Some(l) => l.object && l.expect == Expect::Key,
                    None => false,
                };
                // The string, escapes and all.
                let start = i;
                i += 1;
                while i < src.len() && src[i] != b'"' {
                    i += if src[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(src.len());
                out.extend_from_slice(&src[start..end]);
                i = end;
                match stack.last_mut() {
                    Some(l) if key => l.expect = Expect::Colon,
                    _ => ended(&mut stack),
                }
                continue;
            }
            b'{' | b'[' => {
                if let Some(l) = stack.last_mut() {
                    if l.expect == Expect::More && !l.object {
                        out.push(b',');
                    }
                }
                out.push(c);
                stack.push(Level { object: c == b'{', expect: if c == b'{' { Expect::Key } else { Expect::Value } });
            }
            b'}' | b']' => {
                out.push(c);
                stack.pop();
                ended(&mut stack);
            }
            b',' => {
                let next = src[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
                if !matches!(next, Some(b'}') | Some(b']')) {
                    out.push(c);
                    if let Some(l) = stack.last_mut() {
                        l.expect = if l.object { Expect::Key } else { Expect::Value };
                    }
                }
            }
            b':' => {
                out.push(c);
                if let Some(l) = stack.last_mut() {
                    l.expect = Expect::Value;
                }
            }
            c if c.is_ascii_alphanumeric() || c == b'-' || c == b'+' || c == b'.' => {
                // A number or a literal, whole.
                if let Some(l) = stack.last_mut() {
                    if l.expect == Expect::More && !l.object {
                        out.push(b',');
                    }
                }
                while i < src.len() && (src[i].is_ascii_alphanumeric() || matches!(src[i], b'-' | b'+' | b'.')) {
                    out.push(src[i]);
                    i += 1;
                }
                ended(&mut stack);
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn read(src: &str) -> Value {
        serde_json::from_slice(&repair(src.as_bytes())).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn trailing_commas_go_but_commas_in_strings_stay() {
        assert_eq!(read("{\n\"phone\": \"2023467763\",\n\"active\": true,\n}"), json!({"phone": "2023467763", "active": true}));
        assert_eq!(read(r#"{"a": "x,}", "b": [1, 2,], "c": "q\",]"}"#), json!({"a": "x,}", "b": [1, 2], "c": "q\",]"}));
    }

    #[test]
    fn the_phone_manage_sample_reads_as_meant() {
        let sample = "{\n\"userName\":\"xxxx\",\n\"action\":\"edit\",\n\"phoneNumber\":\"xxxxx\",\n\"phoneName\":\"xxxx\",\n\"phoneNumberNew\":\"xxxx\",\n\"phoneNameNew\":\"xxxx\"\n\"unAssignSkill\":\"kolm,lok,Python\",\n\"assignSkill\":\"General,QA_Skill,kolm,lok,Python\"}";
        let v = read(sample);
        assert_eq!(v["phoneNameNew"], "xxxx");
        assert_eq!(v["unAssignSkill"], "kolm,lok,Python");
        assert_eq!(v.as_object().unwrap().len(), 8);
    }

    #[test]
    fn missing_commas_after_any_value() {
        assert_eq!(
            read(r#"{"a": 1 "b": true "c": null "d": {"e": [1 2 "x" {"f": 2}]} "g": "h"}"#),
            json!({"a": 1, "b": true, "c": null, "d": {"e": [1, 2, "x", {"f": 2}]}, "g": "h"})
        );
        assert_eq!(read(r#"[{"a": 1} {"a": 2}]"#), json!([{"a": 1}, {"a": 2}]));
    }

    #[test]
    fn valid_json_is_left_alone_and_the_rest_still_fails() {
        for ok in [r#"{"a":[1,-2.5e3,"\"x\\"],"b":{}}"#, "[]", "\"s\"", "12", r#"{"k" : "v" , "l" :true}"#] {
            assert_eq!(repair(ok.as_bytes()), ok.as_bytes(), "{ok}");
        }
        for bad in ["userName=acme&action=edit", "{\"a\" \"b\"}", "{\"a\":", "{\"a\": 1,, \"b\": 2}", "{\"a\" 1}"] {
            assert!(serde_json::from_slice::<Value>(&repair(bad.as_bytes())).is_err(), "{bad}");
        }
    }
}
