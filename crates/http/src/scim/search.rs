//! `POST /.search` (RFC 7644 §3.4.3): a query in a `SearchRequest` body
//! instead of the URL, on `/Users/.search`, `/Groups/.search`, or the root
//! (`/.search`: Users then Groups, each filtered by its own schema).

use super::{groups, list_response, users, Body, Client, ListQuery, ScimError, ScimResult, GROUP_SCHEMA, USER_SCHEMA};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A `SearchRequest` as the query of a list (`attributes` and
/// `excludedAttributes` as lists of strings, or comma-separated text).
fn query_of(body: &Value) -> ScimResult<ListQuery> {
    let Some(o) = body.as_object() else { return Err(ScimError::bad("invalidSyntax", "a SearchRequest must be a JSON object")) };
    if let Some(schemas) = o.get("schemas") {
        let ok = schemas.as_array().is_some_and(|s| s.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(SEARCH_SCHEMA))));
        if !ok {
            return Err(ScimError::bad("invalidSyntax", format!("schemas must hold {SEARCH_SCHEMA}")));
        }
    }
    let get = |k: &str| o.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v).filter(|v| !v.is_null());
    let text = |k: &str| -> ScimResult<Option<String>> {
        match get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ScimError::bad("invalidValue", format!("{k} must be a string"))),
        }
    };
    let names = |k: &str| -> ScimResult<Option<String>> {
        match get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str().map(str::to_string).ok_or_else(|| ScimError::bad("invalidValue", format!("{k} must be a list of strings")))
                })
                .collect::<ScimResult<Vec<_>>>()
                .map(|v| Some(v.join(","))),
            Some(_) => Err(ScimError::bad("invalidValue", format!("{k} must be a list of strings"))),
        }
    };
    Ok(ListQuery {
        filter: text("filter")?,
        start_index: text("startIndex")?,
        count: text("count")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        attributes: names("attributes")?,
        excluded_attributes: names("excludedAttributes")?,
    })
}

pub async fn users(State(s): State<AppState>, Client(p): Client, headers: HeaderMap, Body(body): Body<Value>) -> ScimResult<Response> {
    let q = query_of(&body)?;
    list_response(users::matching(&s, &p, &headers, &q).await?, &q, USER_SCHEMA, users::EXTENSIONS)
}

pub async fn groups(State(s): State<AppState>, Client(p): Client, headers: HeaderMap, Body(body): Body<Value>) -> ScimResult<Response> {
    let q = query_of(&body)?;
    list_response(groups::matching(&s, &p, &headers, &q).await?, &q, GROUP_SCHEMA, &[])
}

pub async fn all(State(s): State<AppState>, Client(p): Client, headers: HeaderMap, Body(body): Body<Value>) -> ScimResult<Response> {
    let q = query_of(&body)?;
    let mut found = users::matching(&s, &p, &headers, &q).await?;
    found.extend(groups::matching(&s, &p, &headers, &q).await?);
    list_response(found, &q, USER_SCHEMA, users::EXTENSIONS)
}
