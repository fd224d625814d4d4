//! The request body as DeepCall clients send it: one JSON object, whatever
//! the Content-Type says (`text/plain`, none, `application/json`). Parsing
//! failures are domain errors naming the field, so that [`super::errors`]
//! alone decides the codes and texts.

use serde_json::{Map, Value};
use switchboard_domain::{Error, GroupMembership, Id, Result, Rule};

/// The credentials a request carries (see [`super::auth`]).
#[derive(Debug, Default, PartialEq)]
pub struct Credentials {
    pub ssid: Option<String>,
    pub user_id: Option<String>,
    pub token: Option<String>,
}

/// The body as a JSON object. An empty (or blank) body is an object with no
/// keys, so it fails on its missing credentials; anything that is not a JSON
/// object is refused.
pub fn body_object(bytes: &[u8]) -> Result<Map<String, Value>> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::invalid("body", Rule::Format { expected: "a JSON object" })),
    }
}

/// A text field: strings as sent, numbers as their text; absent, null, empty
/// and every other JSON type are `None`.
fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn credentials(m: &Map<String, Value>) -> Credentials {
    Credentials { ssid: text(m, "ssid"), user_id: text(m, "userId"), token: text(m, "token") }
}

/// `agentId`: the agent's numeric id, as a string of digits or a JSON integer.
pub fn agent_id(m: &Map<String, Value>) -> Result<Id> {
    let bad = || Error::invalid("agentId", Rule::Format { expected: "a numeric agent id" });
    match m.get("agentId") {
        None | Some(Value::Null) => Err(Error::invalid("agentId", Rule::Required)),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().map_err(|_| bad()),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

/// `group`: `{"<group id>": {"receive_call": "Y"|"N"}, …}`. An empty object
/// is passed on as an empty list, which the domain refuses.
pub fn groups(m: &Map<String, Value>) -> Result<Vec<GroupMembership>> {
    const SHAPE: &str = r#"an object of {"<group id>":{"receive_call":"Y"|"N"}}"#;
    let bad = || Error::invalid("group", Rule::Format { expected: SHAPE });
    let group = match m.get("group") {
        None | Some(Value::Null) => return Err(Error::invalid("group", Rule::Required)),
        Some(Value::Object(g)) => g,
        Some(_) => return Err(bad()),
    };
    group
        .iter()
        .map(|(key, value)| {
            let group_id: Id = if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
                key.parse().map_err(|_| bad())?
            } else {
                return Err(bad());
            };
            let receive_call = match value.get("receive_call").and_then(Value::as_str) {
                Some("Y") => true,
                Some("N") => false,
                _ => return Err(bad()),
            };
            Ok(GroupMembership { group_id, receive_call })
        })
        .collect()
}

/// The read side's `group` object: the same shape as the update's, in group id order.
pub fn group_object(groups: &[GroupMembership]) -> Value {
    let mut sorted: Vec<&GroupMembership> = groups.iter().collect();
    sorted.sort_by_key(|g| g.group_id);
    let mut out = Map::new();
    for g in sorted {
        let mut entry = Map::new();
        entry.insert("receive_call".into(), Value::from(if g.receive_call { "Y" } else { "N" }));
        out.insert(g.group_id.to_string(), Value::Object(entry));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn bodies() {
        assert_eq!(body_object(b"").unwrap(), Map::new());
        assert_eq!(body_object(b" \n").unwrap(), Map::new());
        assert_eq!(body_object("\u{feff}{\"a\":1}".as_bytes()).unwrap(), obj(json!({"a": 1})));
        for bad in [&b"[1]"[..], b"nope", b"{\"a\":", b"\"x\""] {
            assert!(matches!(body_object(bad), Err(Error::Invalid { field, .. }) if field == "body"));
        }
    }

    #[test]
    fn agent_ids() {
        assert_eq!(agent_id(&obj(json!({"agentId": "7"}))).unwrap(), 7);
        assert_eq!(agent_id(&obj(json!({"agentId": 7}))).unwrap(), 7);
        for bad in [
            json!({}),
            json!({"agentId": null}),
            json!({"agentId": ""}),
            json!({"agentId": "7a"}),
            json!({"agentId": " 7"}),
            json!({"agentId": 7.5}),
            json!({"agentId": true}),
            json!({"agentId": "99999999999999999999"}),
        ] {
            assert!(matches!(agent_id(&obj(bad.clone())), Err(Error::Invalid { field, .. }) if field == "agentId"), "{bad}");
        }
    }

    #[test]
    fn group_sets() {
        let g = groups(&obj(json!({"group": {"90": {"receive_call": "Y"}, "91": {"receive_call": "N"}}}))).unwrap();
        assert_eq!(g, vec![GroupMembership { group_id: 90, receive_call: true }, GroupMembership { group_id: 91, receive_call: false }]);
        assert_eq!(groups(&obj(json!({"group": {}}))).unwrap(), vec![]);
        for bad in [
            json!({}),
            json!({"group": []}),
            json!({"group": "90"}),
            json!({"group": {"x": {"receive_call": "Y"}}}),
            json!({"group": {"90": {"receive_call": "y"}}}),
            json!({"group": {"90": {}}}),
            json!({"group": {"90": "Y"}}),
        ] {
            assert!(matches!(groups(&obj(bad.clone())), Err(Error::Invalid { field, .. }) if field == "group"), "{bad}");
        }
    }

    #[test]
    fn credentials_read_strings_and_numbers() {
        let c = credentials(&obj(json!({"ssid": "", "userId": 5, "token": "k"})));
        assert_eq!(c, Credentials { ssid: None, user_id: Some("5".into()), token: Some("k".into()) });
    }

    #[test]
    fn group_object_round_trips() {
        let g = [GroupMembership { group_id: 91, receive_call: false }, GroupMembership { group_id: 9, receive_call: true }];
        assert_eq!(group_object(&g).to_string(), r#"{"9":{"receive_call":"Y"},"91":{"receive_call":"N"}}"#);
    }
}
