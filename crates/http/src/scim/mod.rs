//! SCIM 2.0 provisioning (RFC 7643/7644) at `/scim/v2`: identity providers
//! (Okta, Entra ID, …) create, update and retire agents (`Users`) and
//! groups (`Groups`). A thin wire map like every other dialect: handlers
//! parse SCIM, call one `Directory` operation, and format; errors are
//! SCIM's (`urn:ietf:params:scim:api:messages:2.0:Error`), mapped from the
//! domain's in [`ScimError::from`]. Authentication: an API key of scope
//! `scim` as a Bearer token (any other key is refused here, and a SCIM key
//! everywhere else). See `docs/scim.md`.

mod discovery;
pub mod filter;
mod groups;
mod patch;
mod search;
mod users;

use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use switchboard_domain::{Error, Principal, Rule};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const AGENT_SCHEMA: &str = "urn:switchboard:params:scim:schemas:extension:agent:2.0:User";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const CONTENT_TYPE: &str = "application/scim+json";

/// Largest page a list answers (`count` above it is cut to it).
pub const MAX_COUNT: usize = 1000;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route("/scim/v2/Users/.search", axum::routing::post(search::users))
        .route("/scim/v2/Groups/.search", axum::routing::post(search::groups))
        .route("/scim/v2/.search", axum::routing::post(search::all))
        .route("/scim/v2/Users/{id}", get(users::get_one).put(users::replace).patch(users::patch).delete(users::delete))
        .route("/scim/v2/Groups", get(groups::list).post(groups::create))
        .route("/scim/v2/Groups/{id}", get(groups::get_one).put(groups::replace).patch(groups::patch).delete(groups::delete))
        .route("/scim/v2/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Schemas/{id}", get(discovery::schema))
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/scim/v2", axum::routing::any(no_such_endpoint))
        .route("/scim/v2/{*rest}", axum::routing::any(no_such_endpoint))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), authenticate))
}

async fn no_such_endpoint() -> ScimError {
    ScimError::not_found("no such SCIM endpoint")
}

/// A SCIM error response.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> ScimError {
        ScimError { status, scim_type, detail: detail.into() }
    }
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }
    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }
}

/// A domain field's name as SCIM calls it.
fn scim_field(field: &str) -> &str {
    match field {
        "loginId" => "userName",
        "firstName" => "name.givenName",
        "lastName" => "name.familyName",
        "email" => "emails",
        "phone" => "phoneNumbers",
        "name" => "displayName",
        "skills" | "serviceIds" | "services" | "groups" => field,
        other => other,
    }
}

impl From<Error> for ScimError {
    fn from(e: Error) -> ScimError {
        match e {
            Error::Invalid { field, rule } => {
                let scim_type = if rule == Rule::ReadOnly { "mutability" } else { "invalidValue" };
                let field = if field == "serviceIds" { "services".to_string() } else { scim_field(&field).to_string() };
                ScimError::bad(scim_type, format!("{field} {rule}"))
            }
            Error::NotFound { .. } => ScimError::not_found(e.to_string()),
            Error::Duplicate { entity, field, value } => ScimError::new(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                format!("{entity} with {} '{value}' already exists", scim_field(field)),
            ),
            Error::InUse { .. } | Error::LimitExceeded { .. } => ScimError::new(StatusCode::CONFLICT, None, e.to_string()),
            Error::VersionMismatch { .. } => ScimError::new(StatusCode::PRECONDITION_FAILED, None, e.to_string()),
            Error::Unauthenticated => ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "a valid SCIM token is required: Authorization: Bearer <API key of scope scim>",
            ),
            Error::Forbidden => {
                ScimError::new(StatusCode::FORBIDDEN, None, "this API key is not of scope scim, or its user may not administer agents")
            }
            Error::Locked => ScimError::new(StatusCode::FORBIDDEN, None, e.to_string()),
            Error::Storage(msg) => {
                tracing::error!(error = %msg, "storage failure");
                ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error; see the server log")
            }
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({ "schemas": [ERROR_SCHEMA], "status": self.status.as_u16().to_string(), "detail": self.detail });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut resp = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"switchboard-scim\""));
        }
        resp
    }
}

pub type ScimResult<T> = Result<T, ScimError>;

pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], bytes).into_response()
}

/// A resource with its ETag (and `Location` when created).
pub fn resource(status: StatusCode, version: i64, body: &Value) -> Response {
    let mut resp = scim_json(status, body);
    resp.headers_mut().insert(header::ETAG, etag(version));
    if status == StatusCode::CREATED {
        if let Some(loc) = body.pointer("/meta/location").and_then(Value::as_str).and_then(|l| HeaderValue::from_str(l).ok()) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
    }
    resp
}

/// The native API's ETag of a version (`"v<version>"`), so both agree.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&etag_text(version)).expect("ascii")
}

pub fn etag_text(version: i64) -> String {
    format!("\"v{version}\"")
}

/// `If-Match`: the version the client last saw (`*` or absent: any; a
/// value we never issued cannot match).
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ScimError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimError> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let v = v.to_str().unwrap_or("").trim();
        if v == "*" {
            return Ok(IfMatch(None));
        }
        let parsed = v.strip_prefix("W/").unwrap_or(v).strip_prefix("\"v").and_then(|x| x.strip_suffix('"')).and_then(|x| x.parse().ok());
        Ok(IfMatch(Some(parsed.unwrap_or(-1))))
    }
}

/// The authenticated SCIM client.
pub struct Client(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ScimError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimError> {
        // Taken, not copied: the handler's `Client` is its only reader.
        parts.extensions.remove::<Principal>().map(Client).ok_or_else(|| Error::Unauthenticated.into())
    }
}

async fn authenticate(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let principal = match s.dir.authenticate_scim_key(crate::native::extract::bearer_key(req.headers())).await {
        Ok(p) => p,
        Err(e) => return ScimError::from(e).into_response(),
    };
    crate::native::extract::admit(&s, principal, &mut req);
    next.run(req).await
}

/// A JSON body whatever the Content-Type (`application/scim+json` or JSON).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ScimError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ScimError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| ScimError::new(e.status(), None, e.body_text()))?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| ScimError::bad("invalidSyntax", format!("invalid JSON body: {e}")))
    }
}

/// `https://host/scim/v2`, from the request (behind a proxy: its
/// `X-Forwarded-Proto`/`X-Forwarded-Host`).
pub fn base_url(h: &HeaderMap) -> String {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or("").trim().to_string());
    let proto = get("x-forwarded-proto").filter(|p| p == "https" || p == "http").unwrap_or_else(|| "http".into());
    let host = get("x-forwarded-host").or_else(|| get("host")).filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into());
    format!("{proto}://{host}/scim/v2")
}

/// The query of a list request.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// `attributes`/`excludedAttributes` of a single-resource request.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

pub fn parse_filter(q: &ListQuery) -> ScimResult<Option<filter::Filter>> {
    match q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => Ok(None),
        Some(f) => filter::parse_filter(f).map(Some).map_err(|e| ScimError::bad("invalidFilter", format!("invalid filter: {e}"))),
    }
}

/// Sorts, pages and projects `all` (every matching resource, in id order)
/// into a ListResponse.
pub fn list_response(mut all: Vec<Value>, q: &ListQuery, core_urn: &str, extensions: &[&str]) -> ScimResult<Response> {
    let num = |v: &Option<String>, name: &str| -> ScimResult<Option<i64>> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => s.parse::<i64>().map(Some).map_err(|_| ScimError::bad("invalidValue", format!("{name} must be an integer"))),
        }
    };
    let start = num(&q.start_index, "startIndex")?.unwrap_or(1).max(1);
    let count = num(&q.count, "count")?.unwrap_or(100).clamp(0, MAX_COUNT as i64) as usize;
    if let Some(by) = q.sort_by.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let path = filter::split_attr_path(by).map_err(|e| ScimError::bad("invalidValue", format!("sortBy: {e}")))?;
        let descending = q.sort_order.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("descending"));
        let key = |r: &Value| -> Option<String> {
            filter::values(r, &path, core_urn).first().map(|v| match v {
                Value::String(s) => s.to_lowercase(),
                other => other.to_string(),
            })
        };
        // Missing values sort last either way (RFC 7644 §3.4.2.3); stable.
        all.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) if descending => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    let total = all.len();
    let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
    let items: Vec<Value> = all
        .into_iter()
        .skip(skip)
        .take(count)
        .map(|r| project(r, q.attributes.as_deref(), q.excluded_attributes.as_deref(), extensions))
        .collect();
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": items.len(),
        "Resources": items,
    });
    Ok(scim_json(StatusCode::OK, &body))
}

/// The attributes asked for (`attributes`), or all but those excluded;
/// `id` and `schemas` always.
pub fn project(mut r: Value, attributes: Option<&str>, excluded: Option<&str>, extensions: &[&str]) -> Value {
    let list = |s: Option<&str>| -> Vec<String> {
        s.unwrap_or("").split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
    };
    let (wanted, dropped) = (list(attributes), list(excluded));
    let Some(obj) = r.as_object_mut() else { return r };
    // (container key or None for the top level, attribute, sub-attribute)
    let parse = |a: &str| -> Option<(Option<String>, String, Option<String>)> {
        if let Some(ext) = extensions.iter().find(|e| e.eq_ignore_ascii_case(a)) {
            return Some((None, ext.to_string(), None));
        }
        let p = filter::split_attr_path(a).ok()?;
        let urn = p.urn.filter(|u| !u.eq_ignore_ascii_case(USER_SCHEMA) && !u.eq_ignore_ascii_case(GROUP_SCHEMA));
        let urn = urn.map(|u| extensions.iter().find(|e| e.eq_ignore_ascii_case(&u)).map_or(u, |e| e.to_string()));
        Some((urn, p.name, p.sub))
    };
    let key_of = |m: &serde_json::Map<String, Value>, k: &str| m.keys().find(|x| x.eq_ignore_ascii_case(k)).cloned();
    if !wanted.is_empty() {
        let mut out = serde_json::Map::new();
        // The attributes returned "always" (a User's userName too).
        for k in ["schemas", "id", "userName"] {
            if let Some(v) = obj.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
        for a in wanted.iter().filter_map(|a| parse(a)) {
            let (src, dst): (Option<&serde_json::Map<String, Value>>, &mut serde_json::Map<String, Value>) = match &a.0 {
                None => (Some(&*obj), &mut out),
                Some(u) => {
                    let Some(ext) = obj.get(u).and_then(Value::as_object) else { continue };
                    let slot = out.entry(u.clone()).or_insert_with(|| json!({}));
                    (Some(ext), slot.as_object_mut().expect("object"))
                }
            };
            let Some(src) = src else { continue };
            let Some(k) = key_of(src, &a.1) else { continue };
            match &a.2 {
                None => {
                    dst.insert(k.clone(), src[&k].clone());
                }
                Some(sub) => match &src[&k] {
                    Value::Object(inner) => {
                        if let Some(sk) = key_of(inner, sub) {
                            let slot = dst.entry(k.clone()).or_insert_with(|| json!({}));
                            if let Some(o) = slot.as_object_mut() {
                                o.insert(sk.clone(), inner[&sk].clone());
                            }
                        }
                    }
                    Value::Array(items) => {
                        let picked: Vec<Value> = items
                            .iter()
                            .filter_map(|e| {
                                let o = e.as_object()?;
                                let sk = key_of(o, sub)?;
                                Some(json!({ sk.clone(): o[&sk].clone() }))
                            })
                            .collect();
                        dst.insert(k.clone(), Value::Array(picked));
                    }
                    _ => {}
                },
            }
        }
        return Value::Object(out);
    }
    for a in dropped.iter().filter_map(|a| parse(a)) {
        let target = match &a.0 {
            None => Some(&mut *obj),
            Some(u) => obj.get_mut(u).and_then(Value::as_object_mut),
        };
        let Some(target) = target else { continue };
        let Some(k) = key_of(target, &a.1) else { continue };
        if k == "id" || k == "schemas" || k == "userName" {
            continue;
        }
        match &a.2 {
            None => {
                target.remove(&k);
            }
            Some(sub) => match target.get_mut(&k) {
                Some(Value::Object(inner)) => {
                    if let Some(sk) = key_of(inner, sub) {
                        inner.remove(&sk);
                    }
                }
                Some(Value::Array(items)) => {
                    for e in items.iter_mut().filter_map(Value::as_object_mut) {
                        if let Some(sk) = key_of(e, sub) {
                            e.remove(&sk);
                        }
                    }
                }
                _ => {}
            },
        }
    }
    r
}

/// A numeric id from a path or a reference (`"12"`); anything else names
/// no resource.
pub fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().filter(|n| *n > 0)
}

/// `meta` of a resource.
pub fn meta(kind: &str, location: String, created: i64, modified: i64, version: i64) -> Value {
    json!({
        "resourceType": kind,
        "created": filter::format_datetime(created),
        "lastModified": filter::format_datetime(modified),
        "location": location,
        "version": etag_text(version),
    })
}
