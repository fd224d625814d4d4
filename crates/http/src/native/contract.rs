//! What the OpenAPI document says beyond each handler's own annotation, derived
//! from the routes rather than written per operation: the error responses an
//! operation can give (from what it takes: a key, path ids, a body, `If-Match`,
//! `Idempotency-Key`), the `ETag` and `Location` headers of the responses that
//! carry them, `Id` as a positive integer, timestamps' unit, the problem
//! codes, and the links that let a client (or schemathesis's stateful phase)
//! follow a created object's id into the operations on it.

use serde_json::{json, Map, Value};

/// Every problem `code`, by status: the table of `docs/api.md`.
pub const PROBLEM_CODES: &[(u16, &str, &str)] = &[
    (
        400,
        "bad_request",
        "the body is not JSON or has an unknown field or a value of the wrong JSON type; a bad query parameter, cursor or header",
    ),
    (401, "unauthenticated", "no, unknown or revoked API key (`WWW-Authenticate: Bearer`), or a failed login"),
    (403, "forbidden", "the caller's role may not do this"),
    (404, "not_found", "no such object in the caller's tenant (or no such route)"),
    (405, "method_not_allowed", "the route does not take this method"),
    (409, "duplicate", "a unique name, loginId or number is taken (`field` says which)"),
    (409, "in_use", "deleting something still referenced (a call center with services, a DID a campaign uses)"),
    (409, "limit_exceeded", "the tenant's phone number limit is reached"),
    (409, "idempotency_in_progress", "a retry while the first request with its Idempotency-Key still runs"),
    (412, "version_mismatch", "`If-Match` names another version than the object's (`currentVersion` says which)"),
    (413, "payload_too_large", "the body is over 1 MiB"),
    (422, "invalid", "a value breaks a rule: `field` and `rule` say which"),
    (422, "idempotency_key_reused", "the Idempotency-Key was used for a different request"),
    (429, "too_many_requests", "too many failed logins for this user; `Retry-After` says when to retry"),
    (500, "internal", "a fault on the server; details only in its log"),
];

/// The `rule` values of `invalid` problems.
pub const RULES: &[&str] = &[
    "required",
    "too_short",
    "too_long",
    "missing_digit",
    "reused",
    "out_of_range",
    "format",
    "duplicate_item",
    "unknown_reference",
    "not_acd_service",
    "nothing_to_update",
    "read_only",
];

const ERROR_NAMES: &[(u16, &str)] = &[
    (400, "BadRequest"),
    (401, "Unauthenticated"),
    (403, "Forbidden"),
    (404, "NotFound"),
    (409, "Conflict"),
    (412, "PreconditionFailed"),
    (413, "PayloadTooLarge"),
    (422, "Unprocessable"),
    (429, "TooManyRequests"),
    (500, "Internal"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Completes the document utoipa generated from the annotations.
pub fn complete(doc: &mut Value) {
    let ids = rename_id_schema(doc);
    debug_assert!(ids, "the Id schema is in the document");
    derive_update_schemas(doc);
    doc["components"]["schemas"]["TenantUpdate"]["properties"]["settings"]["properties"]["rateLimits"]["propertyNames"] =
        json!({"minLength": 1, "maxLength": 100});
    // The rows come either as CSV text or as objects.
    doc["components"]["schemas"]["ImportRequest"]["oneOf"] = json!([{"required": ["csv"]}, {"required": ["rows"]}]);
    doc["components"]["schemas"]["ImportForm"]["additionalProperties"] = json!(false);
    describe_timestamps(doc);
    problem_schema(doc);
    error_responses(doc);
    for (name, example) in response_examples() {
        if doc["components"]["schemas"].get(name).is_some() {
            doc["components"]["schemas"][name]["examples"] = json!([example]);
        }
    }
    let schemas = doc["components"]["schemas"].clone();
    page_examples(doc, &schemas);
    let paths: Vec<String> = doc["paths"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    for path in &paths {
        for method in METHODS {
            if doc["paths"][path].get(method).is_none() {
                continue;
            }
            let mut op = doc["paths"][path][method].take();
            complete_operation(path, method, &mut op, &schemas);
            doc["paths"][path][method] = op;
        }
    }
    add_links(doc, &paths);
}

/// A catalog object's create and PATCH bodies are one Rust type: the PATCH
/// body's schema, `XUpdate`, is `XCreate` with nothing required and at least
/// one field.
fn derive_update_schemas(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    let mut derived = vec![];
    for item in paths.values_mut() {
        let Some(schema) = item.get_mut("patch").map(|op| &mut op["requestBody"]["content"]["application/json"]["schema"]) else {
            continue;
        };
        let Some(create) = schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .and_then(|n| n.strip_suffix("Create"))
            .map(str::to_string)
        else {
            continue;
        };
        let update = format!("{create}Update");
        *schema = json!({"$ref": format!("#/components/schemas/{update}")});
        derived.push((format!("{create}Create"), update));
    }
    for (create, update) in derived {
        let mut s = doc["components"]["schemas"][&create].clone();
        if let Some(m) = s.as_object_mut() {
            m.remove("required");
            m.insert("minProperties".into(), json!(1));
            m.insert("description".into(), json!("The fields to change (at least one); the others keep their values."));
        }
        doc["components"]["schemas"][&update] = s;
    }
}

/// utoipa names the `Id` alias after its target, `i64`: the document calls
/// it `Id` and says what an id is.
fn rename_id_schema(doc: &mut Value) -> bool {
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else { return false };
    let found = schemas.remove("i64").is_some();
    schemas.insert(
        "Id".into(),
        json!({
            "type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX,
            "description": "An object's id: a positive integer that names one object forever (never reused, even after a deletion).",
            "examples": [42]
        }),
    );
    name_i64_refs(doc, None);
    found
}

/// Every `i64` alias (`Id`, `Millis`, …) arrives as a `$ref` to `i64`: a
/// property named `id` or `…Id` (items of `…Ids`) is an `Id`; any other
/// (a time, a version, a count) a plain 64-bit integer.
fn name_i64_refs(v: &mut Value, property: Option<&str>) {
    match v {
        Value::Object(m) => {
            if m.get("$ref").and_then(Value::as_str) == Some("#/components/schemas/i64") {
                let is_id = property.is_some_and(|p| p == "id" || p.ends_with("Id") || p.ends_with("Ids"));
                *v = if is_id { json!({"$ref": "#/components/schemas/Id"}) } else { json!({"type": "integer", "format": "int64"}) };
                return;
            }
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "properties" => {
                        if let Value::Object(props) = x {
                            for (name, p) in props.iter_mut() {
                                name_i64_refs(p, Some(name));
                            }
                        }
                    }
                    "items" => name_i64_refs(x, property),
                    _ => name_i64_refs(x, None),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| name_i64_refs(x, property)),
        _ => {}
    }
}

/// Every `…At` property, `lastLogin` and `passwordLastModified` is a time in
/// milliseconds since the Unix epoch.
fn describe_timestamps(doc: &mut Value) {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(props)) = m.get_mut("properties") {
                    for (name, p) in props.iter_mut() {
                        let is_time = name.ends_with("At") || name == "lastLogin" || name == "passwordLastModified" || name == "occurredAt";
                        if is_time && p.get("$ref").is_none() {
                            let what = p.get("description").and_then(Value::as_str).map(|d| format!("{d} ")).unwrap_or_default();
                            p["description"] = Value::String(format!("{what}Milliseconds since the Unix epoch (UTC)."));
                            p["format"] = Value::String("int64".into());
                            p["examples"] = json!([1764633600000_i64]);
                        }
                    }
                }
                m.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(s) = doc["components"].get_mut("schemas") {
        walk(s);
    }
}

fn problem_schema(doc: &mut Value) {
    let mut codes: Vec<&str> = PROBLEM_CODES.iter().map(|(_, c, _)| *c).collect();
    codes.dedup();
    let p = &mut doc["components"]["schemas"]["Problem"];
    p["description"] = json!("An RFC 9457 problem document, sent as `application/problem+json`.");
    p["properties"]["code"] =
        json!({"type": "string", "enum": codes, "description": "Stable machine-readable error code (the table in docs/api.md)."});
    p["properties"]["type"] = json!({"type": "string", "format": "uri", "description": "`urn:switchboard:problem:<code with dashes>`.",
        "examples": ["urn:switchboard:problem:invalid"]});
    // Absent rather than null when they do not apply (skip_serializing_if).
    p["properties"]["rule"] = json!({"type": "string", "enum": RULES, "description": "For `invalid`: the rule the value breaks."});
    p["properties"]["field"] = json!({"type": "string", "description": "The request field (camelCase, as sent) or header the problem concerns.", "examples": ["proficiency"]});
    p["properties"]["currentVersion"] =
        json!({"type": "integer", "format": "int64", "description": "For `version_mismatch`: the version the object has now."});
    p["properties"]["status"] = json!({"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status, repeated."});
    p["examples"] = json!([{"type": "urn:switchboard:problem:invalid", "title": "Unprocessable Entity", "status": 422,
        "detail": "proficiency must be between 1 and 5", "code": "invalid", "field": "proficiency", "rule": "out_of_range"}]);
}

fn error_responses(doc: &mut Value) {
    let mut responses = Map::new();
    for (status, name) in ERROR_NAMES {
        let lines: Vec<String> =
            PROBLEM_CODES.iter().filter(|(s, _, _)| s == status).map(|(_, code, when)| format!("`{code}`: {when}")).collect();
        let mut r = json!({
            "description": format!("{}. {}", reason(*status), lines.join("; ")),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        });
        if *status == 401 {
            r["headers"] = json!({"WWW-Authenticate": {"description": "`Bearer realm=\"switchboard\"`", "schema": {"type": "string"}}});
        }
        if *status == 429 {
            r["headers"] =
                json!({"Retry-After": {"description": "Seconds until a retry may succeed.", "schema": {"type": "integer", "minimum": 0}}});
        }
        responses.insert((*name).into(), r);
    }
    doc["components"]["responses"] = Value::Object(responses);
}

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error")
}

/// One example of each answer's schema (the domain's types, which carry no
/// OpenAPI attributes of their own beyond their shape).
fn response_examples() -> Vec<(&'static str, Value)> {
    const T: i64 = 1_764_633_600_000;
    let agent = json!({"id": 42, "tenantId": 1, "loginId": "JDOE", "firstName": "John", "lastName": "Doe", "displayName": "John D.",
        "email": "jdoe@example.com", "phone": "+16503517454", "wrapUpTime": 30, "homeAgent": false, "active": true, "locked": false,
        "failedLogins": 0, "hasPassword": true, "passwordLastModified": T, "lastLogin": null, "lastLoginIp": null,
        "attributes": {"team": "blue"}, "createdAt": T, "updatedAt": T, "version": 3});
    let mut detail = agent.clone();
    detail["skills"] = json!([{"skillId": 3, "proficiency": 4}]);
    detail["serviceIds"] = json!([7]);
    detail["groups"] = json!([{"groupId": 2, "receiveCall": true}]);
    let key = json!({"id": 5, "userId": 1, "name": "payroll sync", "prefix": "sb_mm26W8", "scope": "api", "createdAt": T, "lastUsedAt": null, "revokedAt": null});
    let mut key_created = key.clone();
    key_created["apiKey"] = json!("sb_mm26W8OTHZwFtyxQ969l9CPLlzxCzBLh03DLECLD8EA");
    let user = json!({"id": 2, "tenantId": 1, "username": "mgr.north", "role": "manager", "powers": ["administer_agents"],
        "createdAt": T, "updatedAt": T, "version": 1});
    let mut user_created = user.clone();
    user_created["password"] = json!("kT9vQ2mX7pL4");
    user_created["apiKey"] = json!("sb_Q2mX7pL4kT9vOTHZwFtyxQ969l9CPLlzxCzBLh03D");
    let webhook = json!({"id": 6, "url": "https://hooks.example.com/switchboard", "events": ["agent.*"], "enabled": true,
        "disabledReason": null, "cursor": 42, "createdAt": T, "updatedAt": T, "version": 1});
    let mut webhook_created = webhook.clone();
    webhook_created["secret"] = json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let settings = json!({"apiAuthentication": "BASIC_AUTH", "phoneNumberLimit": 100, "agentLockoutThreshold": 5,
        "rateLimits": {"ozonetel.updateAgent": 5}, "scimDeleteMode": "deactivate"});
    vec![
        ("Agent", agent),
        ("AgentDetail", detail),
        ("ApiKeyInfo", key),
        ("ApiKeyCreated", key_created),
        ("User", user),
        ("UserCreated", user_created),
        ("TenantSettings", settings.clone()),
        ("Tenant", json!({"id": 1, "name": "acme", "clientId": 1001, "settings": settings, "createdAt": T, "updatedAt": T, "version": 4})),
        (
            "AuditEvent",
            json!({"id": 900, "tenantId": 1, "at": T, "actor": "user:admin", "actorUserId": 1, "actorApiKeyId": 5,
            "entity": "agent", "entityId": 42, "action": "update", "before": {"lastName": "Doe"}, "after": {"lastName": "Doe-Smith"}}),
        ),
        (
            "Skill",
            json!({"id": 3, "tenantId": 1, "name": "Spanish", "description": "Spanish-speaking callers", "createdAt": T, "updatedAt": T, "version": 1}),
        ),
        ("Named", json!({"id": 2, "tenantId": 1, "name": "Tier 1", "createdAt": T, "updatedAt": T, "version": 1})),
        (
            "Service",
            json!({"id": 7, "tenantId": 1, "name": "Billing", "callCenterId": 1, "acd": true, "createdAt": T, "updatedAt": T, "version": 1}),
        ),
        (
            "Phone",
            json!({"id": 9, "tenantId": 1, "number": "+16503517454", "name": "Desk 12", "skills": ["Spanish"], "createdAt": T, "updatedAt": T, "version": 1}),
        ),
        ("Did", json!({"id": 11, "tenantId": 1, "number": "+16505550100", "createdAt": T, "updatedAt": T, "version": 1})),
        (
            "Campaign",
            json!({"id": 4, "tenantId": 1, "name": "Renewals", "dynamicDids": ["+16505550100"], "fallbackDids": [],
            "createdAt": T, "updatedAt": T, "version": 2}),
        ),
        ("SkillAssignment", json!({"skillId": 3, "proficiency": 4})),
        ("Webhook", webhook),
        ("WebhookCreated", webhook_created),
        (
            "Delivery",
            json!({"id": 77, "webhookId": 6, "eventId": "evt_1_42", "sequence": 42, "eventType": "agent.updated", "status": "delivered",
            "attempts": 2, "lastStatusCode": 200, "lastLatencyMs": 35, "lastError": null, "nextAttemptAt": null,
            "firstAttemptAt": T, "deliveredAt": T, "createdAt": T}),
        ),
        ("GroupMembership", json!({"groupId": 2, "receiveCall": true})),
        (
            "ImportJob",
            json!({"id": 3, "kind": "agents", "mode": "atomic", "onConflict": "fail", "dryRun": false, "status": "running",
            "rows": 1200, "processed": 400, "report": null, "error": null, "createdBy": "user:admin", "createdAt": T, "updatedAt": T}),
        ),
        (
            "ImportRequest",
            json!({"kind": "skills", "mode": "atomic", "onConflict": "skip", "csv": "name,description\nSpanish,Spanish-speaking callers\n"}),
        ),
        (
            "ImportForm",
            json!({"kind": "agents", "mode": "best-effort", "onConflict": "update", "dryRun": true, "format": "csv", "file": "loginId,firstName,lastName\nJDOE,John,Doe\n"}),
        ),
    ]
}

/// `Paged_X` gets an example page of X's example.
fn page_examples(doc: &mut Value, schemas: &Value) {
    let Some(names) = schemas.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()) else { return };
    for name in names.iter().filter(|n| n.starts_with("Paged_")) {
        let item = &name["Paged_".len()..];
        if let Some(example) = example_of(schemas, item) {
            doc["components"]["schemas"][name]["examples"] = json!([{"items": [example], "nextCursor": null}]);
        }
    }
}

fn example_of(schemas: &Value, name: &str) -> Option<Value> {
    let s = &schemas[name];
    s.get("examples").and_then(|e| e.get(0)).or_else(|| s.get("example")).cloned()
}

/// The schema a `$ref` names, or the schema itself.
fn resolve<'a>(schemas: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &schemas[name],
        None => s,
    }
}

/// Whether a schema (through `allOf`) has a `version` property: the objects
/// answered with an `ETag`.
fn has_version(schemas: &Value, s: &Value) -> bool {
    let s = resolve(schemas, s);
    s["properties"].get("version").is_some() || s["allOf"].as_array().is_some_and(|all| all.iter().any(|x| has_version(schemas, x)))
}

fn complete_operation(path: &str, method: &str, op: &mut Value, schemas: &Value) {
    let authenticated =
        op.get("security").is_none_or(|s| s.as_array().is_none_or(|a| !a.iter().all(|x| x.as_object().is_some_and(Map::is_empty))));
    let mut has_if_match = false;
    let mut has_query = false;
    let path_ids = path.matches('{').count();
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut() {
            let (place, name) = (p["in"].as_str().unwrap_or("").to_string(), p["name"].as_str().unwrap_or("").to_string());
            match (Some(place.as_str()), Some(name.as_str())) {
                (Some("header"), Some("If-Match")) => {
                    has_if_match = true;
                    p["schema"] = serde_json::to_value(super::schema::if_match()).unwrap_or_default();
                    p["description"] = json!("Refuse the change (412) unless the object is still at this version: the `ETag` last read.");
                }
                (Some("path"), Some(name)) if name != "sessionId" => {
                    p["schema"] = json!({"$ref": "#/components/schemas/Id"});
                    if p.get("description").is_none() {
                        p["description"] = json!(format!("The {} of the object.", name));
                    }
                }
                (Some("query"), _) => {
                    has_query = true;
                    // An id filter that names no object matches nothing (200, empty).
                    // (Not a sequence number, `after`, which has a minimum of 0.)
                    if (p["schema"]["$ref"] == "#/components/schemas/Id" || p["schema"]["format"] == "int64")
                        && p["schema"].get("minimum").is_none()
                    {
                        p["schema"] = json!({"type": "integer", "format": "int64"});
                    }
                }
                _ => {}
            }
        }
    }
    let has_body = op.get("requestBody").is_some();
    // JsonBody reads an empty body as `{}`: a body whose fields are all
    // optional may be left out.
    if let Some(body) = op.get_mut("requestBody") {
        let schema = resolve(schemas, &body["content"]["application/json"]["schema"]);
        let optional = schema["required"].as_array().is_none_or(Vec::is_empty)
            && schema.get("oneOf").is_none()
            && schema.get("minProperties").is_none();
        if schema.is_object() && optional {
            body["required"] = json!(false);
        }
    }
    let idempotent_post = method == "post" && authenticated;
    if idempotent_post {
        let header = json!({"name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Makes a retried POST safe: the first response with this key (if it succeeded) is kept 24 hours and replayed, with `Idempotent-Replayed: true`, for the same request. Use a new random value (a UUID) per logical request.",
            // 1–255 visible ASCII characters (inner spaces allowed); whitespace around
            // the value is not part of it (HTTP strips it), so the pattern allows it
            // and bounds the value itself.
            "schema": {"type": "string", "pattern": "^[ \\t]*[\\x21-\\x7e]([\\x20-\\x7e]{0,253}[\\x21-\\x7e])?[ \\t]*$", "examples": ["4c7f2b0e-8a53-4a4e-9d6c-0b0c3c1a2f9d"]}});
        let params = op["parameters"].as_array_mut().map(std::mem::take).unwrap_or_default();
        let mut params: Vec<Value> = params.into_iter().filter(|p| p["name"] != "Idempotency-Key").collect();
        params.push(header);
        op["parameters"] = Value::Array(params);
    }

    // Success responses: a description, and the headers they carry.
    let mut tagged_get = false;
    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
        for (status, r) in responses.iter_mut() {
            let code: u16 = status.parse().unwrap_or(0);
            if r.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
                r["description"] = json!(success_text(method, code));
            }
            let schema = r["content"]["application/json"]["schema"].clone();
            let mut headers = r.get("headers").and_then(Value::as_object).cloned().unwrap_or_default();
            if (200..300).contains(&code) && !schema.is_null() && has_version(schemas, &schema) {
                headers.insert(
                    "ETag".into(),
                    json!({"description": "The object's version, `\"v<version>\"`: send it back in `If-Match` (or `If-None-Match`).",
                    "required": true, "schema": {"type": "string", "pattern": "^\"v[0-9]+\"$", "examples": ["\"v3\""]}}),
                );
                tagged_get |= method == "get";
            }
            if code == 201 || code == 202 {
                headers.insert(
                    "Location".into(),
                    json!({"description": "The new object's URL path.", "required": true, "schema": {"type": "string"}}),
                );
            }
            if !headers.is_empty() {
                r["headers"] = Value::Object(headers);
            }
        }
        if tagged_get {
            responses.insert(
                "304".into(),
                json!({"description": "Not Modified: `If-None-Match` names the object's current version.",
                "headers": {"ETag": {"required": true, "schema": {"type": "string"}}}}),
            );
        }
        let mut errors = vec![];
        if has_body || has_query || has_if_match || idempotent_post {
            errors.push(400);
        }
        if authenticated || path.ends_with("/sessions") {
            errors.push(401);
        }
        if authenticated {
            errors.push(403);
        }
        let write = method != "get";
        // A write may also name another object that does not exist (a user's key for an unknown user).
        if path_ids > 0 || (write && authenticated) {
            errors.push(404);
        }
        if write && authenticated {
            errors.push(409);
        }
        if has_if_match {
            errors.push(412);
        }
        if has_body {
            errors.push(413);
        }
        if (has_body || write) && path != "/api/v1/sessions/{sessionId}" {
            errors.push(422);
        }
        if path == "/api/v1/sessions" {
            errors.push(429);
        }
        errors.push(500);
        for status in errors {
            let name = ERROR_NAMES.iter().find(|(s, _)| *s == status).map(|(_, n)| *n).unwrap_or("Internal");
            responses.insert(status.to_string(), json!({"$ref": format!("#/components/responses/{name}")}));
        }
    }
}

fn success_text(method: &str, status: u16) -> String {
    match (method, status) {
        (_, 201) => "Created: the new object, with its `ETag` and `Location`.".into(),
        (_, 202) => "Accepted: the job, which runs on; poll its `Location`.".into(),
        (_, 204) => "No Content: done.".into(),
        ("get", 200) => "OK.".into(),
        (_, 200) => "OK: the object as it is now.".into(),
        (_, s) => reason(s).into(),
    }
}

/// A created object's id flows into the operations on it: `POST /x` links
/// to every operation under `/x/{id}`, and a sub-resource's `PUT` links to
/// its `DELETE` with the same path.
fn add_links(doc: &mut Value, paths: &[String]) {
    let op_id = |doc: &Value, path: &str, method: &str| doc["paths"][path][method]["operationId"].as_str().map(str::to_string);
    let mut additions: Vec<(String, String, String, Value)> = vec![];
    for collection in paths {
        if doc["paths"][collection]["post"]["responses"].get("201").is_none() || collection.contains('{') {
            continue;
        }
        let prefix = format!("{collection}/{{id}}");
        for target in paths.iter().filter(|p| p.starts_with(&prefix)) {
            for method in METHODS {
                let Some(id) = op_id(doc, target, method) else { continue };
                let mut parameters = Map::new();
                parameters.insert("id".into(), json!("$response.body#/id"));
                additions.push((
                    collection.clone(),
                    "201".into(),
                    id.clone(),
                    json!({"operationId": id, "parameters": parameters, "description": format!("`id` of the created object to `{} {target}`", method.to_uppercase())}),
                ));
            }
        }
    }
    for path in paths.iter().filter(|p| p.matches('{').count() == 2) {
        let (Some(_), Some(delete)) = (op_id(doc, path, "put"), op_id(doc, path, "delete")) else { continue };
        let names: Vec<&str> = path.split('{').skip(1).filter_map(|s| s.split('}').next()).collect();
        let parameters: Map<String, Value> = names.iter().map(|n| ((*n).to_string(), json!(format!("$request.path.{n}")))).collect();
        additions.push((path.clone(), "200".into(), delete.clone(), json!({"operationId": delete, "parameters": parameters})));
    }
    for (path, status, name, link) in additions {
        let method = if status == "201" { "post" } else { "put" };
        let r = &mut doc["paths"][path.as_str()][method]["responses"][status.as_str()];
        if r.is_object() {
            r["links"][name.as_str()] = link;
        }
    }
}
