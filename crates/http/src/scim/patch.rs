//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: `add`,
//! `replace` and `remove`, with attribute paths, value filters
//! (`emails[type eq "work"].value`) and the no-path form (`{"op":
//! "replace", "value": {"active": false}}`, as Entra ID sends it). The
//! handler then reads the patched JSON as it reads a PUT, so that one
//! mapping decides what changes.

use super::filter::{self, get_ci, Filter, Op, PatchPath};
use super::{ScimError, ScimResult};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize)]
pub struct PatchRequest {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<PatchOperation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PatchOperation {
    pub op: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Replace,
    Remove,
}

impl PatchOperation {
    pub fn kind(&self) -> ScimResult<Kind> {
        match self.op.to_ascii_lowercase().as_str() {
            "add" => Ok(Kind::Add),
            "replace" => Ok(Kind::Replace),
            "remove" => Ok(Kind::Remove),
            other => Err(ScimError::bad("invalidSyntax", format!("unknown PATCH op {other:?}"))),
        }
    }
}

impl PatchRequest {
    pub fn check(&self) -> ScimResult<()> {
        if !self.schemas.is_empty() && !self.schemas.iter().any(|s| s.eq_ignore_ascii_case(super::PATCH_SCHEMA)) {
            return Err(ScimError::bad("invalidSyntax", format!("a PATCH request's schemas must be [{:?}]", super::PATCH_SCHEMA)));
        }
        if self.operations.is_empty() {
            return Err(ScimError::bad("invalidValue", "Operations must not be empty"));
        }
        Ok(())
    }
}

/// What a resource type tells the engine.
pub struct Rules<'a> {
    pub core_urn: &'a str,
    /// Extension schema URNs (as written in resources).
    pub extensions: &'a [&'a str],
    /// Attributes a client may not change (`id`, `meta`, …), lower-case.
    pub read_only: &'a [&'a str],
    /// Required core attributes (lower-case): never removed (RFC 7644 §3.5.2).
    pub required: &'a [&'a str],
    /// Attribute names as we write them, for keys a client spells otherwise.
    pub canonical: &'a [&'a str],
}

impl Rules<'_> {
    fn canonical(&self, k: &str) -> String {
        self.canonical.iter().find(|c| c.eq_ignore_ascii_case(k)).map_or_else(|| k.to_string(), |c| c.to_string())
    }
    fn extension(&self, k: &str) -> Option<&str> {
        self.extensions.iter().find(|e| e.eq_ignore_ascii_case(k)).copied()
    }
}

/// Applies every operation to `r`, in order.
pub fn apply(r: &mut Value, ops: &[PatchOperation], rules: &Rules<'_>) -> ScimResult<()> {
    for op in ops {
        let kind = op.kind()?;
        match op.path.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(path) => {
                // A bare extension URN names the extension object.
                if let Some(ext) = rules.extension(path) {
                    if kind == Kind::Remove {
                        if let Some(o) = r.as_object_mut() {
                            o.retain(|k, _| !k.eq_ignore_ascii_case(ext));
                        }
                    } else {
                        let v = Value::Object(Map::from_iter([(ext.to_string(), op.value.clone().unwrap_or(Value::Null))]));
                        apply_value_object(r, kind, &v, rules)?;
                    }
                    continue;
                }
                let p = filter::parse_path(path).map_err(|e| ScimError::bad("invalidPath", format!("invalid path {path:?}: {e}")))?;
                if kind != Kind::Remove && op.value.is_none() {
                    return Err(ScimError::bad("invalidValue", format!("{} needs a value", op.op)));
                }
                apply_path(r, kind, &p, op.value.as_ref(), rules)?;
            }
            None => {
                if kind == Kind::Remove {
                    return Err(ScimError::bad("noTarget", "remove needs a path"));
                }
                let v = op.value.as_ref().ok_or_else(|| ScimError::bad("invalidValue", "add and replace need a value"))?;
                apply_value_object(r, kind, v, rules)?;
            }
        }
    }
    Ok(())
}

/// The no-path form: each key of the value object is a path (or an
/// extension URN whose object holds attributes).
fn apply_value_object(r: &mut Value, kind: Kind, v: &Value, rules: &Rules<'_>) -> ScimResult<()> {
    let Value::Object(m) = v else { return Err(ScimError::bad("invalidValue", "without a path, the value must be an object")) };
    for (k, val) in m {
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = rules.extension(k) {
            let Value::Object(inner) = val else { return Err(ScimError::bad("invalidValue", format!("{k} must be an object"))) };
            for (k2, v2) in inner {
                let p = filter::split_attr_path(k2).map_err(|e| ScimError::bad("invalidPath", e))?;
                let p = PatchPath { attr: filter::AttrPath { urn: Some(ext.to_ascii_lowercase()), ..p }, filter: None, sub: None };
                apply_path(r, kind, &p, Some(v2), rules)?;
            }
            continue;
        }
        let p = filter::parse_path(k).map_err(|e| ScimError::bad("invalidPath", format!("invalid attribute {k:?}: {e}")))?;
        apply_path(r, kind, &p, Some(val), rules)?;
    }
    Ok(())
}

fn container_mut<'a>(
    r: &'a mut Value,
    urn: Option<&str>,
    rules: &Rules<'_>,
    create: bool,
) -> ScimResult<Option<&'a mut Map<String, Value>>> {
    let obj = r.as_object_mut().ok_or_else(|| ScimError::bad("invalidValue", "not an object"))?;
    let Some(urn) = urn.filter(|u| !u.eq_ignore_ascii_case(rules.core_urn)) else { return Ok(Some(obj)) };
    let Some(ext) = rules.extension(urn) else { return Err(ScimError::bad("invalidPath", format!("unknown schema {urn}"))) };
    let key = obj.keys().find(|k| k.eq_ignore_ascii_case(ext)).cloned();
    let key = match key {
        Some(k) => k,
        None if create => {
            obj.insert(ext.to_string(), Value::Object(Map::new()));
            ext.to_string()
        }
        None => return Ok(None),
    };
    if obj[&key].is_null() {
        obj.insert(key.clone(), Value::Object(Map::new()));
    }
    Ok(obj.get_mut(&key).and_then(Value::as_object_mut))
}

fn key_in(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.keys().find(|x| x.eq_ignore_ascii_case(k)).cloned()
}

/// Merges `v` into `slot` (objects by key; otherwise replaced).
fn merge(slot: &mut Value, v: &Value) {
    match (slot, v) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, val) in b {
                let key = key_in(a, k).unwrap_or_else(|| k.clone());
                match a.get_mut(&key) {
                    Some(existing) if existing.is_object() && val.is_object() => merge(existing, val),
                    _ => {
                        a.insert(key, val.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// The identity of a multi-valued element (its `value`), for de-duplication and removal.
fn element_value(e: &Value) -> Option<String> {
    match e {
        Value::Object(_) => get_ci(e, "value").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
        other => Some(other.as_str().map_or_else(|| other.to_string(), str::to_string)),
    }
}

fn apply_path(r: &mut Value, kind: Kind, p: &PatchPath, value: Option<&Value>, rules: &Rules<'_>) -> ScimResult<()> {
    let name = p.attr.name.to_ascii_lowercase();
    if p.attr.urn.is_none() && name == "schemas" {
        return Ok(());
    }
    if rules.read_only.contains(&name.as_str())
        && (p.attr.urn.is_none() || p.attr.urn.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(rules.core_urn)))
    {
        return Err(ScimError::bad("mutability", format!("{} is read-only", p.attr.name)));
    }
    if kind == Kind::Remove
        && p.attr.sub.is_none()
        && p.filter.is_none()
        && rules.required.contains(&name.as_str())
        && p.attr.urn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(rules.core_urn))
    {
        return Err(ScimError::bad("mutability", format!("{} is required: it cannot be removed", p.attr.name)));
    }
    let create = kind != Kind::Remove;
    let Some(obj) = container_mut(r, p.attr.urn.as_deref(), rules, create)? else { return Ok(()) };
    let key = key_in(obj, &p.attr.name).unwrap_or_else(|| rules.canonical(&p.attr.name));
    // A value filter: the elements of a multi-valued attribute.
    if let Some(f) = &p.filter {
        return apply_filtered(obj, &key, kind, f, p.sub.as_deref(), value, rules);
    }
    match (&p.attr.sub, kind) {
        (Some(sub), Kind::Remove) => {
            if let Some(Value::Object(inner)) = obj.get_mut(&key) {
                if let Some(sk) = key_in(inner, sub) {
                    inner.remove(&sk);
                }
            } else if let Some(Value::Array(items)) = obj.get_mut(&key) {
                for e in items.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(sk) = key_in(e, sub) {
                        e.remove(&sk);
                    }
                }
            }
        }
        (Some(sub), _) => {
            let slot = obj.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
            if slot.is_null() {
                *slot = Value::Object(Map::new());
            }
            match slot {
                Value::Object(inner) => {
                    let sk = key_in(inner, sub).unwrap_or_else(|| rules.canonical(sub));
                    let v = value.cloned().unwrap_or(Value::Null);
                    match inner.get_mut(&sk) {
                        Some(existing) if kind == Kind::Add && existing.is_object() && v.is_object() => merge(existing, &v),
                        _ => {
                            inner.insert(sk, v);
                        }
                    }
                }
                Value::Array(items) => {
                    // `emails.value`: every element's sub-attribute.
                    for e in items.iter_mut().filter_map(Value::as_object_mut) {
                        let sk = key_in(e, sub).unwrap_or_else(|| sub.clone());
                        e.insert(sk, value.cloned().unwrap_or(Value::Null));
                    }
                }
                _ => return Err(ScimError::bad("invalidPath", format!("{key} has no sub-attribute {sub}"))),
            }
        }
        (None, Kind::Remove) => match (obj.get_mut(&key), value) {
            // `{"op":"remove","path":"members","value":[{"value":"12"}]}` (Entra ID).
            (Some(Value::Array(items)), Some(Value::Array(gone))) => {
                let gone: Vec<String> = gone.iter().filter_map(element_value).collect();
                items.retain(|e| element_value(e).is_none_or(|v| !gone.contains(&v)));
            }
            _ => {
                obj.remove(&key);
            }
        },
        (None, Kind::Add) => {
            let v = value.cloned().unwrap_or(Value::Null);
            match (obj.get_mut(&key), v) {
                (Some(Value::Array(items)), Value::Array(new)) => {
                    for n in new {
                        let nv = element_value(&n);
                        match items.iter_mut().find(|e| nv.is_some() && element_value(e) == nv) {
                            Some(e) => merge(e, &n),
                            None => items.push(n),
                        }
                    }
                }
                (Some(Value::Array(items)), n @ Value::Object(_)) => items.push(n),
                (Some(existing @ Value::Object(_)), n @ Value::Object(_)) => merge(existing, &n),
                (_, v) => {
                    obj.insert(key, v);
                }
            }
        }
        (None, Kind::Replace) => {
            let v = value.cloned().unwrap_or(Value::Null);
            match (obj.get_mut(&key), v) {
                (Some(existing @ Value::Object(_)), n @ Value::Object(_)) => merge(existing, &n),
                (_, v) => {
                    obj.insert(key, v);
                }
            }
        }
    }
    Ok(())
}

fn apply_filtered(
    obj: &mut Map<String, Value>,
    key: &str,
    kind: Kind,
    f: &Filter,
    sub: Option<&str>,
    value: Option<&Value>,
    rules: &Rules<'_>,
) -> ScimResult<()> {
    let slot = obj.entry(key.to_string()).or_insert_with(|| Value::Array(vec![]));
    if slot.is_null() {
        *slot = Value::Array(vec![]);
    }
    let Value::Array(items) = slot else { return Err(ScimError::bad("invalidFilter", format!("{key} is not multi-valued"))) };
    let hit: Vec<usize> = (0..items.len()).filter(|&i| filter::matches(f, &items[i], rules.core_urn)).collect();
    match kind {
        Kind::Remove => {
            match sub {
                Some(s) => {
                    for &i in &hit {
                        if let Some(e) = items[i].as_object_mut() {
                            if let Some(sk) = key_in(e, s) {
                                e.remove(&sk);
                            }
                        }
                    }
                }
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !hit.contains(&i);
                        i += 1;
                        keep
                    });
                }
            }
            Ok(())
        }
        _ => {
            let v = value.cloned().unwrap_or(Value::Null);
            if hit.is_empty() {
                // No element matches: one made from a simple `attr eq "x"`
                // filter (Entra ID adds `emails[type eq "work"].value` so).
                let Filter::Compare(fp, Op::Eq, fv) = f else {
                    return Err(ScimError::bad("noTarget", format!("no element of {key} matches the filter")));
                };
                let mut e = Map::new();
                e.insert(rules.canonical(&fp.name), fv.clone());
                let mut e = Value::Object(e);
                match sub {
                    Some(s) => {
                        if let Value::Object(m) = &mut e {
                            m.insert(rules.canonical(s), v);
                        }
                    }
                    None => merge(&mut e, &v),
                }
                items.push(e);
                return Ok(());
            }
            for &i in &hit {
                match sub {
                    Some(s) => {
                        if let Some(e) = items[i].as_object_mut() {
                            let sk = key_in(e, s).unwrap_or_else(|| rules.canonical(s));
                            e.insert(sk, v.clone());
                        }
                    }
                    None if kind == Kind::Replace && !v.is_object() => items[i] = v.clone(),
                    None => merge(&mut items[i], &v),
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: Rules<'static> = Rules {
        core_urn: super::super::USER_SCHEMA,
        extensions: &[super::super::ENTERPRISE_SCHEMA],
        read_only: &["id", "meta", "groups"],
        required: &[],
        canonical: &["active", "emails", "value", "type", "primary", "name", "givenName", "familyName"],
    };

    fn op(op: &str, path: Option<&str>, value: Value) -> PatchOperation {
        PatchOperation { op: op.into(), path: path.map(str::to_string), value: Some(value) }
    }

    #[test]
    fn entra_and_okta_forms() {
        let mut u = json!({"id": "1", "active": true, "emails": [{"value": "a@b.co", "type": "work", "primary": true}]});
        apply(&mut u, &[op("Replace", None, json!({"active": false}))], &RULES).unwrap();
        assert_eq!(u["active"], json!(false));
        apply(&mut u, &[op("replace", Some("emails[type eq \"work\"].value"), json!("x@y.co"))], &RULES).unwrap();
        assert_eq!(u["emails"][0]["value"], json!("x@y.co"));
        apply(&mut u, &[op("Add", Some("phoneNumbers[type eq \"work\"].value"), json!("+15550100"))], &RULES).unwrap();
        assert_eq!(u["phoneNumbers"], json!([{"type": "work", "value": "+15550100"}]));
        apply(&mut u, &[op("add", Some("name.givenName"), json!("Bo"))], &RULES).unwrap();
        assert_eq!(u["name"]["givenName"], json!("Bo"));
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        apply(&mut u, &[op("Add", Some(&format!("{ent}:department")), json!("Sales"))], &RULES).unwrap();
        apply(&mut u, &[op("replace", None, json!({ent: {"employeeNumber": "7"}, "name.familyName": "Li"}))], &RULES).unwrap();
        assert_eq!(u[ent], json!({"department": "Sales", "employeeNumber": "7"}));
        assert_eq!(u["name"]["familyName"], json!("Li"));
        apply(&mut u, &[PatchOperation { op: "remove".into(), path: Some("emails[type eq \"work\"]".into()), value: None }], &RULES)
            .unwrap();
        assert_eq!(u["emails"], json!([]));
    }

    #[test]
    fn read_only_and_bad_paths() {
        let mut u = json!({"id": "1"});
        let e = apply(&mut u, &[op("replace", Some("id"), json!("2"))], &RULES).unwrap_err();
        assert_eq!(e.scim_type, Some("mutability"));
        let e = apply(&mut u, &[op("replace", Some("emails[type eq]"), json!("2"))], &RULES).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidPath"));
        let e = apply(&mut u, &[op("replace", Some("emails[type ne \"x\"].value"), json!("2"))], &RULES).unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
    }

    #[test]
    fn members_add_and_remove() {
        let mut g = json!({"members": [{"value": "1"}, {"value": "2"}]});
        apply(&mut g, &[op("add", Some("members"), json!([{"value": "3"}, {"value": "1"}]))], &RULES).unwrap();
        assert_eq!(g["members"], json!([{"value": "1"}, {"value": "2"}, {"value": "3"}]));
        apply(&mut g, &[op("remove", Some("members"), json!([{"value": "2"}]))], &RULES).unwrap();
        apply(&mut g, &[PatchOperation { op: "remove".into(), path: Some("members[value eq \"1\"]".into()), value: None }], &RULES)
            .unwrap();
        assert_eq!(g["members"], json!([{"value": "3"}]));
    }
}
