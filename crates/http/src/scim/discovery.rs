//! The discovery endpoints (RFC 7644 §4): what is implemented, and the
//! schemas of Users (core, enterprise and Switchboard extensions) and Groups.

use super::{base_url, scim_json, ScimError, ScimResult, AGENT_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA, MAX_COUNT, USER_SCHEMA};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn list(items: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({ "schemas": [LIST_SCHEMA], "totalResults": items.len(), "startIndex": 1, "itemsPerPage": items.len(), "Resources": items }),
    )
}

pub async fn service_provider_config(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://github.com/switchboard/switchboard/blob/main/docs/scim.md",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": true },
            "sort": { "supported": true },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "An API key of scope scim (switchboard admin create-api-key --scope scim), as Authorization: Bearer <key>",
                "primary": true,
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") },
        }),
    )
}

fn attr(name: &str, ty: &str, multi: bool, required: bool, mutability: &str, returned: &str, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": ty, "multiValued": multi, "description": name, "required": required,
        "caseExact": false, "mutability": mutability, "returned": returned, "uniqueness": uniqueness,
    })
}

fn string(name: &str) -> Value {
    attr(name, "string", false, false, "readWrite", "default", "none")
}

fn required(mut a: Value) -> Value {
    a["required"] = json!(true);
    a
}

fn complex(name: &str, multi: bool, mutability: &str, subs: Vec<Value>) -> Value {
    let mut a = attr(name, "complex", multi, false, mutability, "default", "none");
    a["subAttributes"] = Value::Array(subs);
    a
}

fn reference(name: &str, types: &[&str], mutability: &str) -> Value {
    let mut a = attr(name, "reference", false, false, mutability, "default", "none");
    a["referenceTypes"] = json!(types);
    a
}

fn schema_doc(base: &str, id: &str, name: &str, description: &str, attributes: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id, "name": name, "description": description, "attributes": attributes,
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{id}") },
    })
}

fn all_schemas(base: &str) -> Vec<Value> {
    let mut user_name = attr("userName", "string", false, true, "readWrite", "always", "server");
    user_name["description"] = json!(
        "The agent's loginId: unique per tenant ignoring case (caseExact false); read back as last sent while it names the same loginId"
    );
    let multi_value = |name: &str| {
        complex(
            name,
            true,
            "readWrite",
            vec![
                string("value"),
                {
                    let mut t = string("type");
                    t["canonicalValues"] = json!(["work", "home", "other"]);
                    t
                },
                attr("primary", "boolean", false, false, "readWrite", "default", "none"),
            ],
        )
    };
    let mut password = attr("password", "string", false, false, "writeOnly", "never", "none");
    password["description"] = json!("8 to 128 characters with a digit; not one of the last 4");
    let mut external_id = string("externalId");
    external_id["caseExact"] = json!(true);
    let user = schema_doc(
        base,
        USER_SCHEMA,
        "User",
        "A contact-center agent",
        vec![
            user_name,
            // Required here: an agent has a first and a last name.
            {
                let mut name = complex(
                    "name",
                    false,
                    "readWrite",
                    vec![string("formatted"), required(string("givenName")), required(string("familyName"))],
                );
                name["required"] = json!(true);
                name
            },
            string("displayName"),
            multi_value("emails"),
            multi_value("phoneNumbers"),
            // Required: an agent is always active or not (absent on create:
            // true; a PATCH cannot remove it).
            {
                let mut a = attr("active", "boolean", false, true, "readWrite", "default", "none");
                a["description"] =
                    json!("Whether the agent may log in; required (an agent is always active or not), true when absent on create");
                a
            },
            password,
            external_id,
            complex(
                "groups",
                true,
                "readOnly",
                vec![
                    attr("value", "string", false, false, "readOnly", "default", "none"),
                    reference("$ref", &["Group"], "readOnly"),
                    attr("display", "string", false, false, "readOnly", "default", "none"),
                ],
            ),
        ],
    );
    let enterprise = schema_doc(
        base,
        ENTERPRISE_SCHEMA,
        "EnterpriseUser",
        "Enterprise User",
        vec![
            string("employeeNumber"),
            string("department"),
            complex(
                "manager",
                false,
                "readWrite",
                vec![
                    string("value"),
                    reference("$ref", &["User"], "readWrite"),
                    attr("displayName", "string", false, false, "readOnly", "default", "none"),
                ],
            ),
        ],
    );
    let item = |name: &str, extra: Vec<Value>| {
        let mut subs = vec![attr("value", "string", false, true, "readWrite", "default", "none")];
        subs.extend(extra);
        complex(name, true, "readWrite", subs)
    };
    let agent = schema_doc(
        base,
        AGENT_SCHEMA,
        "SwitchboardAgent",
        "Routing: skills with proficiency (1 to 5, default 1), ACD services and groups (receiveCall, default true), each by id",
        vec![
            item("skills", vec![attr("proficiency", "integer", false, false, "readWrite", "default", "none")]),
            item("services", vec![]),
            item("groups", vec![attr("receiveCall", "boolean", false, false, "readWrite", "default", "none")]),
        ],
    );
    let mut display = attr("displayName", "string", false, true, "readWrite", "default", "server");
    display["description"] = json!("The group's name, unique per tenant ignoring case");
    let group = schema_doc(
        base,
        GROUP_SCHEMA,
        "Group",
        "A group of agents",
        vec![
            display,
            {
                let mut x = string("externalId");
                x["caseExact"] = json!(true);
                x
            },
            // RFC 7643 §8.7.1's sub-attributes (no display).
            complex(
                "members",
                true,
                "readWrite",
                vec![attr("value", "string", false, false, "immutable", "default", "none"), reference("$ref", &["User"], "immutable"), {
                    let mut t = attr("type", "string", false, false, "immutable", "default", "none");
                    t["canonicalValues"] = json!(["User"]);
                    t
                }],
            ),
        ],
    );
    vec![user, enterprise, agent, group]
}

pub async fn schemas(headers: HeaderMap) -> Response {
    list(all_schemas(&base_url(&headers)))
}

pub async fn schema(headers: HeaderMap, Path(id): Path<String>) -> ScimResult<Response> {
    all_schemas(&base_url(&headers))
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&id)))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))
}

fn all_resource_types(base: &str) -> Vec<Value> {
    let rt = |id: &str, endpoint: &str, schema: &str, ext: Vec<Value>| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": id, "name": id, "endpoint": endpoint, "description": id, "schema": schema, "schemaExtensions": ext,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}") },
        })
    };
    vec![
        rt(
            "User",
            "/Users",
            USER_SCHEMA,
            vec![json!({ "schema": ENTERPRISE_SCHEMA, "required": false }), json!({ "schema": AGENT_SCHEMA, "required": false })],
        ),
        rt("Group", "/Groups", GROUP_SCHEMA, vec![]),
    ]
}

pub async fn resource_types(headers: HeaderMap) -> Response {
    list(all_resource_types(&base_url(&headers)))
}

pub async fn resource_type(headers: HeaderMap, Path(id): Path<String>) -> ScimResult<Response> {
    all_resource_types(&base_url(&headers))
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&id)))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {id}")))
}
