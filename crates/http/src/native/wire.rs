//! Small serde helpers for the native wire format.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Number, Value};

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`), so
/// that PATCH can clear optional fields.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A field that may be left out but is never `null`: the document describes
/// it as non-nullable (a PATCH field that cannot be cleared, say), so `null`
/// is refused (400) rather than read as "left out".
pub fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(D::Error::custom("null is not a value of this field: leave the field out instead")),
    }
}

/// JSON has one number type: `1650.0` and `1650` are the same number, and
/// the document's `integer` means any number with a zero fraction (JSON
/// Schema's definition). serde reads `1650.0` as a float that an `i64` field
/// refuses, so bodies are read as a value first and every integral float in
/// range becomes an integer before the typed read.
pub fn integral_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            if let Some(f) = n.as_f64() {
                // i64::MAX as f64 rounds up to 2^63, which is out of range.
                if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                    *n = Number::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// An integer query parameter: `12`, or `12.0` (an integer in JSON Schema's
/// sense, which is what the document's `integer` means).
pub fn query_int<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
    let whole = match text.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
        _ => text.as_str(),
    };
    let n: i64 = whole.parse().map_err(|_| D::Error::custom(format!("{text} is not an integer")))?;
    T::try_from(n).map(Some).map_err(|_| D::Error::custom(format!("{text} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers_and_others_stay() {
        let mut v = json!({"a": 1650.0, "b": [2.0, 2.5, -3.0], "c": {"d": 1e300}, "e": 7, "f": -0.0});
        integral_numbers(&mut v);
        assert_eq!(v, json!({"a": 1650, "b": [2, 2.5, -3], "c": {"d": 1e300}, "e": 7, "f": 0}));
    }

    #[test]
    fn large_integral_floats_are_read_exactly() {
        // Found by the contract fuzzing: without serde_json's correctly
        // rounded float parsing (`float_roundtrip`), this read as
        // 2248742062633928.8 and a valid id list was refused.
        let mut v: Value = serde_json::from_str("[2248742062633929.0, 9007199254740991.0]").unwrap();
        integral_numbers(&mut v);
        assert_eq!(v, json!([2248742062633929_i64, 9007199254740991_i64]));
    }
}
