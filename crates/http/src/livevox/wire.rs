//! Parsing LiveVox requests: lenient JSON bodies (`crate::lenient_json`),
//! typed fields (numbers also as strings), ids from the path, the
//! `count`/`offset` paging parameters and the `next` link.

use super::error::{LvError, LvResult};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use switchboard_domain::{Id, PageRequest};

/// A JSON object body, whatever the Content-Type; an empty body is `{}`.
pub struct LvJson(pub serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for LvJson {
    type Rejection = LvError;
    async fn from_request(req: Request, state: &S) -> LvResult<Self> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| LvError::invalid_input(format!("request body could not be read: {}", e.body_text())))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(LvJson(serde_json::Map::new()));
        }
        match serde_json::from_slice::<serde_json::Value>(&crate::lenient_json::repair(&bytes)) {
            Ok(serde_json::Value::Object(m)) => Ok(LvJson(m)),
            Ok(_) => Err(LvError::invalid_input("request body must be a JSON object")),
            Err(e) => Err(LvError::invalid_input(format!("malformed JSON: {e}"))),
        }
    }
}

/// Typed access to the fields of a body, with LiveVox errors.
pub struct Fields {
    map: serde_json::Map<String, serde_json::Value>,
}

impl Fields {
    /// Fails on any key not in `allowed`.
    pub fn new(map: serde_json::Map<String, serde_json::Value>, allowed: &[&str]) -> LvResult<Fields> {
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(LvError::invalid_input(format!("unknown field {k}")));
        }
        Ok(Fields { map })
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> LvResult<Option<T>> {
        match self.map.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|_| LvError::invalid_input(format!("{key} has the wrong type"))),
        }
    }

    /// A boolean, also accepted as the strings "true"/"false".
    pub fn flag(&self, key: &str) -> LvResult<Option<bool>> {
        match self.map.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(LvError::invalid_input(format!("{key} must be true or false"))),
        }
    }

    /// A mandatory key: absent, null or "" is "Missing required field".
    pub fn required<T: DeserializeOwned>(&self, key: &str) -> LvResult<T> {
        if matches!(self.map.get(key), Some(serde_json::Value::String(s)) if s.is_empty()) {
            return Err(LvError::Missing(key.into()));
        }
        self.get(key)?.ok_or_else(|| LvError::Missing(key.into()))
    }

    pub fn required_flag(&self, key: &str) -> LvResult<bool> {
        if self.blank(key) {
            return Err(LvError::Missing(key.into()));
        }
        self.flag(key)?.ok_or_else(|| LvError::Missing(key.into()))
    }

    /// Text: a string, or a number as its digits (a phone sent as a number).
    pub fn text(&self, key: &str) -> LvResult<Option<String>> {
        match self.map.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(LvError::invalid_input(format!("{key} has the wrong type"))),
        }
    }

    /// A mandatory text: absent, null or blank is "Missing required field".
    pub fn required_text(&self, key: &str) -> LvResult<String> {
        if self.blank(key) {
            return Err(LvError::Missing(key.into()));
        }
        self.text(key)?.ok_or_else(|| LvError::Missing(key.into()))
    }

    /// An integer: a JSON integer or a string of one (`"30"`): clients send
    /// numbers as strings. Anything else is "<key> must be an integer".
    pub fn int(&self, key: &str) -> LvResult<Option<i64>> {
        match self.map.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => lenient_int(v).map(Some).ok_or_else(|| LvError::invalid_input(format!("{key} must be an integer"))),
        }
    }

    /// A mandatory integer: absent, null or blank is "Missing required field".
    pub fn required_int(&self, key: &str) -> LvResult<i64> {
        if self.blank(key) {
            return Err(LvError::Missing(key.into()));
        }
        self.int(key)?.ok_or_else(|| LvError::Missing(key.into()))
    }

    /// Sent, with no value: null, `""` or only spaces.
    pub fn blank(&self, key: &str) -> bool {
        match self.map.get(key) {
            Some(serde_json::Value::Null) => true,
            Some(serde_json::Value::String(s)) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The raw value of a key, if sent.
    pub fn value(&self, key: &str) -> Option<&serde_json::Value> {
        self.map.get(key)
    }
}

/// An integer sent as a JSON integer or as a string of one.
pub fn lenient_int(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Named path parameters (the versioned prefix adds `version`).
pub struct PathParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = LvError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> LvResult<Self> {
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state).await.map_err(|_| LvError::NotFoundEmpty)?;
        Ok(PathParams(raw.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
    }
}

impl PathParams {
    /// A numeric id; anything else is "not found" in the LiveVox form.
    pub fn id(&self, name: &str, what: &'static str) -> LvResult<Id> {
        let raw = self.0.get(name).map(String::as_str).unwrap_or("");
        raw.parse::<Id>().ok().filter(|v| *v > 0).ok_or_else(|| LvError::NotFound { what, id: raw.to_string() })
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Query parameters, as strings; typed by the helpers below.
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = LvError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> LvResult<Self> {
        let q = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).map_err(|_| LvError::invalid_input("malformed query string"))?;
        Ok(QueryParams(pairs.into_iter().filter(|(k, _)| !k.is_empty()).collect()))
    }
}

pub const MAX_COUNT: u32 = 1000;

impl QueryParams {
    pub fn int(&self, key: &str) -> LvResult<Option<i64>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| LvError::invalid_input(format!("{key} must be an integer"))),
        }
    }

    pub fn required_int(&self, key: &str) -> LvResult<i64> {
        self.int(key)?.ok_or_else(|| LvError::Missing(key.into()))
    }

    /// `count` and `offset` (≥ 0), both mandatory. "There is a hard cap of
    /// 1000 items": a larger count is served 1000 at a time (the count
    /// returned, which the `next` link carries on with).
    pub fn page(&self) -> LvResult<(u32, u64)> {
        let count = self.required_int("count")?;
        let offset = self.required_int("offset")?;
        if count < 1 {
            return Err(LvError::invalid_input("count must be at least 1"));
        }
        if offset < 0 {
            return Err(LvError::invalid_input("offset must not be negative"));
        }
        Ok((count.min(i64::from(MAX_COUNT)) as u32, offset as u64))
    }
}

pub fn page_request(count: u32, offset: u64) -> PageRequest {
    PageRequest { after: 0, offset, limit: count }
}

/// The document's `next`: a relative URI such as
/// `configuration/agents/?client=49551&offset=6&count=4`.
pub fn next_link(path: &str, client: i64, extra: &[(&str, String)], offset: u64, count: u32) -> String {
    let mut s = format!("configuration/{path}?client={client}");
    for (k, v) in extra {
        s.push_str(&format!("&{k}={v}"));
    }
    s.push_str(&format!("&offset={}&count={count}", offset + u64::from(count)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_may_be_strings() {
        use serde_json::json;
        let f = Fields::new(
            json!({"a": 3, "b": " -1 ", "c": "x", "d": 2.5, "e": "", "f": null}).as_object().unwrap().clone(),
            &["a", "b", "c", "d", "e", "f"],
        )
        .unwrap();
        assert_eq!((f.int("a").unwrap(), f.int("b").unwrap(), f.int("f").unwrap()), (Some(3), Some(-1), None));
        for k in ["c", "d"] {
            assert!(matches!(f.int(k), Err(LvError::Invalid(t)) if t == format!("Invalid input [{k} must be an integer]")));
        }
        assert!(matches!(f.required_int("e"), Err(LvError::Missing(k)) if k == "e"));
        assert!(matches!(f.required_int("f"), Err(LvError::Missing(k)) if k == "f"));
    }

    #[test]
    fn next_link_matches_the_document() {
        assert_eq!(next_link("agents/", 49551, &[], 2, 4), "configuration/agents/?client=49551&offset=6&count=4");
    }
}
