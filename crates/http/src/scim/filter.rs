//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): a small
//! recursive-descent parser, and evaluation over a resource as its JSON
//! representation (attribute names compared ignoring case, as the RFC says).
//!
//! No crate was a fit: `scim-filter` (the only one on crates.io) filters
//! whole collections of `Serialize` values, has no PATCH path grammar and
//! compares dates as text; we need both, and evaluation on our own JSON.

use serde_json::Value;

/// An attribute path: `[urn:…:]name[.sub]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN, when the path names one (lower-cased for comparison).
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare(AttrPath, Op, Value),
    /// `attr[filter]`, optionally followed by `.sub op value` (then the
    /// comparison applies to the matching elements' sub-attribute).
    ValuePath(AttrPath, Box<Filter>, Option<(String, Option<(Op, Value)>)>),
}

/// A PATCH path: an attribute, an optional value filter, an optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

pub fn parse_filter(s: &str) -> Result<Filter, String> {
    let mut p = Parser { s: s.as_bytes(), i: 0, text: s };
    let f = p.or()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at {}: {:?}", p.i, &s[p.i..]));
    }
    Ok(f)
}

pub fn parse_path(s: &str) -> Result<PatchPath, String> {
    let mut p = Parser { s: s.as_bytes(), i: 0, text: s };
    p.ws();
    let attr = p.attr_path()?;
    let mut out = PatchPath { attr, filter: None, sub: None };
    if p.eat(b'[') {
        out.filter = Some(p.or()?);
        p.ws();
        if !p.eat(b']') {
            return Err("expected ]".into());
        }
        if p.eat(b'.') {
            out.sub = Some(p.name()?);
        }
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text in path at {}", p.i));
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A keyword (`and`, `or`, `not`, an operator) followed by a space or `(`.
    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let end = self.i + kw.len();
        if end > self.s.len() || !self.s[self.i..end].eq_ignore_ascii_case(kw.as_bytes()) {
            return false;
        }
        match self.s.get(end) {
            None => {}
            Some(c) if c.is_ascii_whitespace() || *c == b'(' || *c == b')' || *c == b']' => {}
            Some(_) => return false,
        }
        self.i = end;
        true
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut f = self.and()?;
        while self.keyword("or") {
            f = Filter::Or(Box::new(f), Box::new(self.and()?));
        }
        Ok(f)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut f = self.unary()?;
        while self.keyword("and") {
            f = Filter::And(Box::new(f), Box::new(self.unary()?));
        }
        Ok(f)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.keyword("not") {
            if !self.eat(b'(') {
                return Err("expected ( after not".into());
            }
            let f = self.or()?;
            if !self.eat(b')') {
                return Err("expected )".into());
            }
            return Ok(Filter::Not(Box::new(f)));
        }
        if self.eat(b'(') {
            let f = self.or()?;
            if !self.eat(b')') {
                return Err("expected )".into());
            }
            return Ok(f);
        }
        self.ws();
        let attr = self.attr_path()?;
        if self.eat(b'[') {
            let inner = self.or()?;
            if !self.eat(b']') {
                return Err("expected ]".into());
            }
            let mut tail = None;
            if self.s.get(self.i) == Some(&b'.') {
                self.i += 1;
                let sub = self.name()?;
                let cmp = if self.keyword("pr") { None } else { Some(self.comparison()?) };
                tail = Some((sub, cmp));
            }
            return Ok(Filter::ValuePath(attr, Box::new(inner), tail));
        }
        if self.keyword("pr") {
            return Ok(Filter::Present(attr));
        }
        let (op, v) = self.comparison()?;
        Ok(Filter::Compare(attr, op, v))
    }

    fn comparison(&mut self) -> Result<(Op, Value), String> {
        let ops = [
            ("eq", Op::Eq),
            ("ne", Op::Ne),
            ("co", Op::Co),
            ("sw", Op::Sw),
            ("ew", Op::Ew),
            ("gt", Op::Gt),
            ("ge", Op::Ge),
            ("lt", Op::Lt),
            ("le", Op::Le),
        ];
        let op = ops.iter().find(|(k, _)| self.keyword(k)).map(|(_, o)| *o).ok_or_else(|| format!("expected an operator at {}", self.i))?;
        Ok((op, self.value()?))
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'"') => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len() && self.s[self.i] != b'"' {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                    }
                    self.i += 1;
                }
                if self.i >= self.s.len() {
                    return Err("unterminated string".into());
                }
                self.i += 1;
                serde_json::from_str(&self.text[start..self.i]).map_err(|e| format!("bad string: {e}"))
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && !self.s[self.i].is_ascii_whitespace() && !b")]".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let word = &self.text[start..self.i];
                match word.to_ascii_lowercase().as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "null" => Ok(Value::Null),
                    _ => serde_json::from_str::<serde_json::Number>(word)
                        .map(Value::Number)
                        .map_err(|_| format!("expected a value at {start}: {word:?}")),
                }
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || b"_-$".contains(&self.s[self.i])) {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected an attribute name at {start}"));
        }
        Ok(self.text[start..self.i].to_string())
    }

    fn attr_path(&mut self) -> Result<AttrPath, String> {
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || b"_-$:.".contains(&self.s[self.i])) {
            self.i += 1;
        }
        let raw = &self.text[start..self.i];
        if raw.is_empty() {
            return Err(format!("expected an attribute path at {start}"));
        }
        split_attr_path(raw)
    }
}

/// `urn:…:User:name.sub` → (urn, name, sub).
pub fn split_attr_path(raw: &str) -> Result<AttrPath, String> {
    let (urn, rest) = if raw.len() > 4 && raw[..4].eq_ignore_ascii_case("urn:") {
        match raw.rfind(':') {
            Some(k) => (Some(raw[..k].to_ascii_lowercase()), &raw[k + 1..]),
            None => (None, raw),
        }
    } else {
        (None, raw)
    };
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s.to_string())),
        None => (rest, None),
    };
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-$".contains(&b));
    if !ok(name) || sub.as_deref().is_some_and(|s| !ok(s)) {
        return Err(format!("bad attribute path {raw:?}"));
    }
    Ok(AttrPath { urn, name: name.to_string(), sub })
}

/// A key of `obj` equal to `k` ignoring case.
pub fn get_ci<'a>(obj: &'a Value, k: &str) -> Option<&'a Value> {
    obj.as_object()?.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v)
}

/// The object an attribute path reads from: the resource, or its extension.
pub fn container<'a>(resource: &'a Value, urn: Option<&str>, core_urn: &str) -> Option<&'a Value> {
    match urn {
        None => Some(resource),
        Some(u) if u.eq_ignore_ascii_case(core_urn) => Some(resource),
        Some(u) => get_ci(resource, u),
    }
}

/// Evaluates `f` against a resource (`core_urn`: its core schema, which
/// a path may name too).
pub fn matches(f: &Filter, r: &Value, core_urn: &str) -> bool {
    match f {
        Filter::And(a, b) => matches(a, r, core_urn) && matches(b, r, core_urn),
        Filter::Or(a, b) => matches(a, r, core_urn) || matches(b, r, core_urn),
        Filter::Not(a) => !matches(a, r, core_urn),
        Filter::Present(p) => values(r, p, core_urn).iter().any(|v| present(v)),
        Filter::Compare(p, op, want) => {
            let got = values(r, p, core_urn);
            match op {
                Op::Ne => !got.iter().any(|v| compare(p, v, Op::Eq, want)),
                _ => got.iter().any(|v| compare(p, v, *op, want)),
            }
        }
        Filter::ValuePath(p, inner, tail) => {
            let Some(v) = container(r, p.urn.as_deref(), core_urn).and_then(|c| get_ci(c, &p.name)) else { return false };
            let elements: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            elements.into_iter().filter(|e| matches(inner, e, core_urn)).any(|e| match tail {
                None => true,
                Some((sub, None)) => get_ci(e, sub).is_some_and(present),
                Some((sub, Some((op, want)))) => {
                    let sp = AttrPath { urn: None, name: sub.clone(), sub: None };
                    match get_ci(e, sub) {
                        Some(v) => match op {
                            Op::Ne => !compare(&sp, v, Op::Eq, want),
                            _ => compare(&sp, v, *op, want),
                        },
                        None => *op == Op::Ne,
                    }
                }
            })
        }
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The values a path names: a multi-valued attribute's elements (their
/// `value`, or the sub-attribute named), or the one value.
pub fn values<'a>(r: &'a Value, p: &AttrPath, core_urn: &str) -> Vec<&'a Value> {
    let Some(v) = container(r, p.urn.as_deref(), core_urn).and_then(|c| get_ci(c, &p.name)) else { return vec![] };
    let pick = |e: &'a Value| -> Option<&'a Value> {
        match (&p.sub, e) {
            (Some(s), _) => get_ci(e, s),
            (None, Value::Object(_)) => get_ci(e, "value"),
            (None, other) => Some(other),
        }
    };
    match v {
        Value::Array(a) => a.iter().filter_map(pick).collect(),
        Value::Object(_) if p.sub.is_some() => pick(v).into_iter().collect(),
        other => vec![other],
    }
}

/// Attributes compared case-sensitively (RFC 7643 `caseExact`).
fn case_exact(p: &AttrPath) -> bool {
    p.sub.is_none() && (p.name.eq_ignore_ascii_case("externalId") || p.name.eq_ignore_ascii_case("id"))
}

fn compare(p: &AttrPath, got: &Value, op: Op, want: &Value) -> bool {
    use std::cmp::Ordering;
    let ordered = |o: Ordering| match op {
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Eq => o == Ordering::Equal,
        _ => false,
    };
    match (got, want) {
        (Value::String(g), Value::String(w)) => {
            if let (Some(a), Some(b)) = (parse_datetime(g), parse_datetime(w)) {
                if matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::Eq) {
                    return ordered(a.cmp(&b));
                }
            }
            let (g, w) = if case_exact(p) { (g.clone(), w.clone()) } else { (g.to_lowercase(), w.to_lowercase()) };
            match op {
                Op::Eq | Op::Ne => g == w,
                Op::Co => g.contains(&w),
                Op::Sw => g.starts_with(&w),
                Op::Ew => g.ends_with(&w),
                _ => ordered(g.cmp(&w)),
            }
        }
        (Value::Number(g), Value::Number(w)) => match (g.as_f64(), w.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(ordered),
            _ => false,
        },
        // Ids are strings in SCIM; a filter may write them as numbers.
        (Value::String(g), Value::Number(w)) => matches!(op, Op::Eq) && g == &w.to_string(),
        (Value::Bool(g), Value::Bool(w)) => matches!(op, Op::Eq) && g == w,
        // `attr eq null` is true for an absent or null attribute only, never here.
        _ => false,
    }
}

/// Milliseconds since the epoch of an RFC 3339 date-time (`2026-01-02T03:04:05[.sss](Z|±hh:mm)`).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        if frac.is_empty() {
            return None;
        }
        ms = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    }
    let offset = match &s[i..] {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let m = o[1..3].parse::<i64>().ok()? * 60 + o[4..6].parse::<i64>().ok()?;
            if o.starts_with('-') {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) - offset * 60) * 1000 + ms)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 in UTC with milliseconds: `2026-01-02T03:04:05.006Z`.
pub fn format_datetime(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:user";

    fn user() -> Value {
        json!({
            "id": "7", "userName": "BJENSEN", "externalId": "Ab1", "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@home.org", "type": "home"}],
            "meta": {"created": "2026-01-02T03:04:05.000Z", "lastModified": "2026-03-01T00:00:00.000Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "department": "Tour Operations"}
        })
    }

    fn ok(f: &str) -> bool {
        matches(&parse_filter(f).unwrap_or_else(|e| panic!("{f}: {e}")), &user(), CORE)
    }

    #[test]
    fn operators() {
        assert!(ok(r#"userName eq "bjensen""#));
        assert!(!ok(r#"userName ne "bjensen""#));
        assert!(ok(r#"name.familyName co "ens""#));
        assert!(ok(r#"userName sw "BJ""#));
        assert!(ok(r#"userName ew "sen""#));
        assert!(!ok("title pr"));
        assert!(ok("name.givenName pr"));
        assert!(ok(r#"meta.lastModified gt "2026-02-01T00:00:00Z""#));
        assert!(ok(r#"meta.created ge "2026-01-02T03:04:05Z""#));
        assert!(!ok(r#"meta.created lt "2026-01-02T03:04:05Z""#));
        assert!(ok(r#"meta.created le "2026-01-02T04:04:05+01:00""#));
        assert!(ok("active eq true") && !ok("active eq false"));
        assert!(ok(r#"externalId eq "Ab1""#) && !ok(r#"externalId eq "ab1""#));
        assert!(ok(r#"emails co "example.com""#));
        assert!(ok(r#"emails.type eq "home""#));
    }

    #[test]
    fn logic_grouping_and_value_paths() {
        assert!(ok(r#"userName eq "x" or (active eq true and name.givenName sw "bar")"#));
        assert!(!ok(r#"not (active eq true)"#));
        assert!(ok(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!ok(r#"emails[type eq "work" and value co "@home"]"#));
        assert!(ok(r#"emails[type eq "work"].value eq "bjensen@example.com""#));
        assert!(!ok(r#"emails[type eq "home"].value eq "bjensen@example.com""#));
        assert!(ok(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#));
        assert!(ok(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "BJENSEN""#));
        assert!(ok(r#"USERNAME EQ "bjensen" AND NOT (id eq "8")"#));
    }

    #[test]
    fn bad_filters_are_refused() {
        for f in [
            "",
            "userName",
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            "(userName eq \"a\"",
            r#"userName eq "a" and"#,
            "emails[type eq \"w\"",
        ] {
            assert!(parse_filter(f).is_err(), "{f}");
        }
    }

    #[test]
    fn paths() {
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr.name, "emails");
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
        assert_eq!(p.attr.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"));
        assert_eq!((p.attr.name.as_str(), p.attr.sub.as_deref()), ("manager", Some("value")));
        assert!(parse_path(r#"members[value eq "1"]"#).unwrap().filter.is_some());
    }

    #[test]
    fn dates_round_trip() {
        for ms in [0, 1_795_000_000_123, 951_782_400_000] {
            assert_eq!(parse_datetime(&format_datetime(ms)), Some(ms));
        }
        assert_eq!(format_datetime(0), "1970-01-01T00:00:00.000Z");
    }
}
