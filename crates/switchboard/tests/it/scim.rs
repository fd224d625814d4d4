//! SCIM 2.0 (issue 27): the provisioning sequences Okta and Entra ID
//! document, SCIM's errors, and that a SCIM write is the same operation as
//! any other (native API, LiveVox-visible agent, audit actor scim:<key>).

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};
use switchboard_domain::KeyScope;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const AGENT: &str = "urn:switchboard:params:scim:schemas:extension:agent:2.0:User";

async fn scim_key(srv: &Server, t: &Tenant, name: &str) -> String {
    srv.dir.issue_api_key_as_operator(t.id, t.admin_user_id, name, KeyScope::Scim).await.unwrap().api_key.unwrap()
}

#[track_caller]
fn scim_error(r: &Resp, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("application/scim+json"));
    assert_eq!(r.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(r.body["status"], json!(status.to_string()));
    assert_eq!(r.body["scimType"].as_str(), scim_type, "{}", r.body);
}

fn ops(v: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": v})
}

#[tokio::test]
async fn okta_provisioning_sequence() {
    let srv = Server::start().await;
    let t = srv.tenant("okta").await;
    let scim = srv.client(&scim_key(&srv, &t, "okta").await);
    let native = srv.client(&t.key);

    // Okta: does the user exist? (filter userName eq), then create.
    let r = scim.get("/scim/v2/Users?filter=userName%20eq%20%22jdoe%40example.com%22&startIndex=1&count=100").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
    let created = scim
        .post(
            "/scim/v2/Users",
            json!({
                "schemas": [USER, ENT],
                "userName": "jdoe@example.com",
                "name": {"givenName": "John", "familyName": "Doe"},
                "emails": [{"primary": true, "value": "jdoe@example.com", "type": "work"}],
                "displayName": "John Doe",
                "locale": "en-US",
                "externalId": "00u1abcd",
                "password": "Secret123x",
                "active": true,
                ENT: {"employeeNumber": "E-17", "department": "Sales"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.header("location").unwrap(), format!("{}/scim/v2/Users/{id}", srv.base()));
    assert_eq!(created.header("etag").unwrap(), "\"v1\"");
    assert!(created.body.get("password").is_none());
    assert_eq!(created.body[ENT]["department"], "Sales");

    // The same agent in the native API: same version, the new fields.
    let n = native.get(&format!("/api/v1/agents/{id}")).await.expect(200);
    assert_eq!(n.body["loginId"], "JDOE@EXAMPLE.COM");
    assert_eq!((n.body["externalId"].clone(), n.body["employeeNumber"].clone()), (json!("00u1abcd"), json!("E-17")));
    assert_eq!(n.header("etag").unwrap(), "\"v1\"");
    assert_eq!(n.body["hasPassword"], true);

    // Okta's filter again finds it (ignoring case), by externalId too.
    let r = scim.get("/scim/v2/Users?filter=userName%20eq%20%22JDoe%40example.com%22").await;
    assert_eq!(r.body["totalResults"], 1);
    let r = scim.get("/scim/v2/Users?filter=externalId%20eq%20%2200u1abcd%22").await;
    assert_eq!(r.body["totalResults"], 1);

    // Okta deactivates with PATCH active false.
    let r = scim.patch(&format!("/scim/v2/Users/{id}"), ops(json!([{"op": "replace", "value": {"active": false}}]))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(native.get(&format!("/api/v1/agents/{id}")).await.expect(200).body["active"], false);

    // Okta's profile update: PUT of the whole user.
    let mut u = scim.get(&format!("/scim/v2/Users/{id}")).await.body;
    u["name"]["familyName"] = json!("Doe-Smith");
    u["active"] = json!(true);
    let r = scim.put(&format!("/scim/v2/Users/{id}"), u).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"]["familyName"], "Doe-Smith");

    // The audit trail names the SCIM key.
    let audit = native.get(&format!("/api/v1/audit?entity=agent&entityId={id}")).await.expect(200);
    let actors: Vec<&str> = audit.body["items"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert!(!actors.is_empty() && actors.iter().all(|a| *a == "scim:okta"), "{actors:?}");
}

#[tokio::test]
async fn entra_provisioning_sequence_and_groups() {
    let srv = Server::start().await;
    let t = srv.tenant("entra").await;
    let scim = srv.client(&scim_key(&srv, &t, "entra").await);
    let native = srv.client(&t.key);
    let r = scim.get("/scim/v2/Users?filter=userName+eq+%22ann%40contoso.com%22").await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    let id = scim
        .post(
            "/scim/v2/Users",
            json!({
                "schemas": [USER, ENT],
                "externalId": "ann",
                "userName": "ann@contoso.com",
                "active": true,
                "displayName": "Ann Lee",
                "emails": [{"primary": true, "type": "work", "value": "ann@contoso.com"}],
                "name": {"formatted": "Ann Lee", "familyName": "Lee", "givenName": "Ann"},
                ENT: {"department": "Support"}
            }),
        )
        .await;
    assert_eq!(id.status, 201, "{}", id.body);
    let id = id.body["id"].as_str().unwrap().to_string();
    let path = format!("/scim/v2/Users/{id}");
    // Entra's PATCH forms: Replace with value filters, Add of a phone, the
    // no-path form with "False" as a string, an extension attribute by URN.
    let r = scim
        .patch(
            &path,
            ops(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ann.lee@contoso.com"},
                {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 (555) 010-0100"},
                {"op": "Replace", "path": format!("{ENT}:department"), "value": "Billing"},
                {"op": "Add", "path": format!("{ENT}:manager"), "value": "12"},
                {"op": "Replace", "path": "name.givenName", "value": "Annie"},
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "ann.lee@contoso.com");
    // The phone as sent (the agent's is without separators); the name's
    // formatted form re-derived, as the PATCH changed the given name only.
    assert_eq!(r.body["phoneNumbers"][0], json!({"value": "+1 (555) 010-0100", "type": "work"}));
    assert_eq!(native.get(&format!("/api/v1/agents/{id}")).await.expect(200).body["phone"], "+15550100100");
    assert_eq!(r.body["name"]["formatted"], "Annie Lee");
    assert_eq!(r.body[ENT]["department"], "Billing");
    assert_eq!(r.body[ENT]["manager"]["value"], "12");
    assert_eq!(r.body["name"]["givenName"], "Annie");
    let r = scim.patch(&path, ops(json!([{"op": "Replace", "value": {"active": "False"}}]))).await;
    assert_eq!(r.body["active"], false, "{}", r.body);

    // Groups: create with a member, add and remove members by PATCH.
    let bob = scim
        .post("/scim/v2/Users", json!({"schemas": [USER], "userName": "bob", "name": {"givenName": "Bob", "familyName": "Ray"}}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let g = scim.post("/scim/v2/Groups", json!({"displayName": "Tier 1", "members": [{"value": id}]})).await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    // Group ids are apart from user ids (RFC 7643 §3.1): `g<native id>`.
    let native_gid = gid.strip_prefix('g').expect("a group id is g<id>").to_string();
    assert_eq!(g.body["members"].as_array().unwrap().len(), 1);
    let gpath = format!("/scim/v2/Groups/{gid}");
    let r = scim.patch(&gpath, ops(json!([{"op": "Add", "path": "members", "value": [{"value": bob}]}]))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    let r = scim.patch(&gpath, ops(json!([{"op": "Remove", "path": "members", "value": [{"value": id}]}]))).await;
    assert_eq!(r.body["members"], json!([{"value": bob, "type": "User", "$ref": format!("{}/scim/v2/Users/{bob}", srv.base())}]));
    let r = scim.patch(&gpath, ops(json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]))).await;
    assert_eq!(r.body["members"], json!([]));
    let r = scim.patch(&gpath, ops(json!([{"op": "Replace", "path": "displayName", "value": "Tier One"}]))).await;
    assert_eq!(r.body["displayName"], "Tier One");
    // Membership is the agent's: seen in the native API and the user's groups.
    scim.patch(&gpath, ops(json!([{"op": "add", "value": {"members": [{"value": bob}]}}]))).await;
    let n = native.get(&format!("/api/v1/agents/{bob}")).await.expect(200);
    assert_eq!(n.body["groups"][0]["groupId"].to_string(), native_gid);
    // The search index follows membership changes at once (the members are re-read).
    let members_of = |r: Resp| r.body["items"].as_array().unwrap().iter().map(|a| a["id"].to_string()).collect::<Vec<_>>();
    assert_eq!(members_of(native.get(&format!("/api/v1/agents?groupId={native_gid}")).await.expect(200)), [bob.to_string()]);
    scim.patch(&gpath, ops(json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]))).await.expect(200);
    assert!(members_of(native.get(&format!("/api/v1/agents?groupId={native_gid}")).await.expect(200)).is_empty());
    scim.patch(&gpath, ops(json!([{"op": "add", "value": {"members": [{"value": bob}]}}]))).await.expect(200);
    let u = scim.get(&format!("/scim/v2/Users/{bob}")).await;
    assert_eq!(u.body["groups"][0]["display"], "Tier One");
    assert_eq!(u.body["groups"][0]["value"], json!(gid));
    // The Switchboard extension names the native group, as it names skills and services.
    assert_eq!(u.body[AGENT]["groups"][0]["value"], json!(native_gid));
    let r = scim.get("/scim/v2/Groups?filter=displayName%20eq%20%22tier%20one%22&excludedAttributes=members").await;
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
}

#[tokio::test]
async fn scim_errors_scopes_and_delete_modes() {
    let srv = Server::start().await;
    let t = srv.tenant("errs").await;
    let key = scim_key(&srv, &t, "idp").await;
    let scim = srv.client(&key);
    let native = srv.client(&t.key);

    // Scopes both ways: a SCIM key is refused by the native API, a native key by SCIM.
    native.get("/api/v1/agents").await.expect(200);
    srv.client(&key).get("/api/v1/agents").await.problem(403, "forbidden");
    scim_error(&native.get("/scim/v2/Users").await, 403, None);
    scim_error(&srv.anonymous().get("/scim/v2/Users").await, 401, None);
    scim_error(&srv.client("nope").get("/scim/v2/Users").await, 401, None);

    let body = json!({"schemas": [USER], "userName": "carl", "name": {"givenName": "Carl", "familyName": "Moe"}});
    let c = scim.post("/scim/v2/Users", body.clone()).await;
    assert_eq!(c.status, 201);
    let id = c.body["id"].as_str().unwrap().to_string();
    scim_error(&scim.post("/scim/v2/Users", body).await, 409, Some("uniqueness"));
    scim_error(&scim.get("/scim/v2/Users?filter=userName%20zz%20%22x%22").await, 400, Some("invalidFilter"));
    scim_error(&scim.get("/scim/v2/Users?filter=(userName%20eq%20%22x%22").await, 400, Some("invalidFilter"));
    scim_error(
        &scim.patch(&format!("/scim/v2/Users/{id}"), ops(json!([{"op": "replace", "path": "id", "value": "9"}]))).await,
        400,
        Some("mutability"),
    );
    scim_error(
        &scim
            .patch(&format!("/scim/v2/Users/{id}"), ops(json!([{"op": "replace", "path": "emails", "value": [{"value": "not-an-email"}]}])))
            .await,
        400,
        Some("invalidValue"),
    );
    scim_error(&scim.get("/scim/v2/Users/999999").await, 404, None);
    scim_error(&scim.get("/scim/v2/Users/abc").await, 404, None);
    scim_error(&scim.get("/scim/v2/Nope").await, 404, None);
    // A stale If-Match is 412; the current one applies.
    let stale = [("If-Match", "\"v0\"")];
    let r = scim
        .send(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(ops(json!([{"op": "replace", "path": "displayName", "value": "Carl M"}]))),
            &stale,
        )
        .await;
    scim_error(&r, 412, None);
    let r = scim
        .send(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(ops(json!([{"op": "replace", "path": "displayName", "value": "Carl M"}]))),
            &[("If-Match", "W/\"v1\"")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("etag").unwrap(), "\"v2\"");

    // scimDeleteMode: deactivate (the default) keeps the agent, inactive.
    assert_eq!(scim.delete(&format!("/scim/v2/Users/{id}")).await.status, 204);
    let n = native.get(&format!("/api/v1/agents/{id}")).await.expect(200);
    assert_eq!(n.body["active"], false);
    let audit = native.get(&format!("/api/v1/audit?entity=agent&entityId={id}")).await.expect(200);
    assert!(audit.body["items"].as_array().unwrap().iter().all(|e| e["actor"] == "scim:idp"));
    // delete: gone.
    native.patch("/api/v1/tenant", json!({"settings": {"scimDeleteMode": "delete"}})).await.expect(200);
    assert_eq!(scim.delete(&format!("/scim/v2/Users/{id}")).await.status, 204);
    native.get(&format!("/api/v1/agents/{id}")).await.expect(404);
    native.patch("/api/v1/tenant", json!({"settings": {"scimDeleteMode": "archive"}})).await.expect(422);
}

#[tokio::test]
async fn scim_lists_page_sort_filter_and_project() {
    let srv = Server::start().await;
    let t = srv.tenant("lists").await;
    let scim = srv.client(&scim_key(&srv, &t, "idp").await);
    for (login, given, dept) in [("zed", "Zed", "Ops"), ("amy", "Amy", "Sales"), ("kim", "Kim", "Sales"), ("bo", "Bo", "Ops")] {
        let r = scim
            .post("/scim/v2/Users", json!({"userName": login, "name": {"givenName": given, "familyName": "X"}, ENT: {"department": dept}}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = scim.get("/scim/v2/Users?sortBy=userName&startIndex=2&count=2&attributes=userName").await;
    assert_eq!(r.body["totalResults"], 4);
    assert_eq!(r.body["startIndex"], 2);
    assert_eq!(r.body["itemsPerPage"], 2);
    let names: Vec<&str> = r.body["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
    assert_eq!(names, ["bo", "kim"]);
    assert!(r.body["Resources"][0].get("name").is_none() && r.body["Resources"][0].get("id").is_some());
    let r = scim.get("/scim/v2/Users?sortBy=name.givenName&sortOrder=descending&excludedAttributes=emails,meta").await;
    let names: Vec<&str> = r.body["Resources"].as_array().unwrap().iter().map(|u| u["name"]["givenName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Zed", "Kim", "Bo", "Amy"]);
    assert!(r.body["Resources"][0].get("meta").is_none());
    let f = format!("{ENT}:department eq \"Sales\" and not (userName sw \"k\")");
    let r = scim.get(&format!("/scim/v2/Users?filter={}", urlencode(&f))).await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert_eq!(r.body["Resources"][0]["userName"], "amy");
    let r =
        scim.get(&format!("/scim/v2/Users?filter={}", urlencode("meta.created gt \"2000-01-01T00:00:00Z\" and userName co \"m\""))).await;
    assert_eq!(r.body["totalResults"], 2, "{}", r.body);
    let r = scim.get("/scim/v2/Users?count=0").await;
    assert_eq!((r.body["totalResults"].clone(), r.body["Resources"].clone()), (json!(4), json!([])));
    // Discovery says what is implemented.
    let c = scim.get("/scim/v2/ServiceProviderConfig").await.body;
    assert_eq!(
        (c["patch"]["supported"].clone(), c["bulk"]["supported"].clone(), c["etag"]["supported"].clone()),
        (json!(true), json!(false), json!(true))
    );
    assert_eq!(scim.get("/scim/v2/ResourceTypes").await.body["totalResults"], 2);
    assert_eq!(scim.get("/scim/v2/Schemas").await.body["totalResults"], 4);
}

/// What the identity provider sent that an agent does not model is read
/// back as sent while the agent still holds it: userName's case,
/// name.formatted, the e-mail's and phone's type and primary.
#[tokio::test]
async fn scim_reads_back_what_was_sent() {
    let srv = Server::start().await;
    let t = srv.tenant("echo").await;
    let scim = srv.client(&scim_key(&srv, &t, "idp").await);
    let native = srv.client(&t.key);
    let r = scim
        .post(
            "/scim/v2/Users",
            json!({
                "schemas": [USER],
                "userName": "Dana.Fox@Example.com",
                "name": {"givenName": "Dana", "familyName": "Fox", "formatted": "Ms. Dana Fox"},
                "emails": [{"value": "dana@example.com", "type": "home", "primary": false}],
                "phoneNumbers": [{"value": "5550100", "type": "mobile"}],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/scim/v2/Users/{id}");
    let u = scim.get(&path).await.body;
    assert_eq!(u["userName"], "Dana.Fox@Example.com");
    assert_eq!(u["name"]["formatted"], "Ms. Dana Fox");
    assert_eq!(u["emails"], json!([{"value": "dana@example.com", "type": "home", "primary": false}]));
    assert_eq!(u["phoneNumbers"], json!([{"value": "5550100", "type": "mobile"}]));
    // The agent itself: loginId upper-case, the echo in its attributes.
    let n = native.get(&format!("/api/v1/agents/{id}")).await.expect(200);
    assert_eq!(n.body["loginId"], "DANA.FOX@EXAMPLE.COM");
    assert_eq!(n.body["attributes"]["scim"]["userName"], "Dana.Fox@Example.com");
    // Changed elsewhere, the agent's own values win and formatted is derived.
    native.patch(&format!("/api/v1/agents/{id}"), json!({"lastName": "Wolf", "email": "dw@example.com"})).await.expect(200);
    let u = scim.get(&path).await.body;
    assert_eq!(u["name"]["formatted"], "Dana Wolf");
    assert_eq!(u["emails"], json!([{"value": "dw@example.com", "type": "work", "primary": true}]));
    assert_eq!(u["userName"], "Dana.Fox@Example.com");
    // A PATCH of userName in another case: kept as sent.
    let r = scim.patch(&path, ops(json!([{"op": "replace", "path": "userName", "value": "dana.fox@example.com"}]))).await;
    assert_eq!(r.body["userName"], "dana.fox@example.com", "{}", r.body);
    // A required attribute cannot be removed (RFC 7644 §3.5.2).
    scim_error(&scim.patch(&path, ops(json!([{"op": "remove", "path": "active"}]))).await, 400, Some("mutability"));
    // Removing the enterprise extension clears it: it is no longer returned.
    scim.patch(&path, ops(json!([{"op": "add", "path": format!("{ENT}:department"), "value": "Ops"}]))).await;
    let r = scim.patch(&path, ops(json!([{"op": "remove", "path": ENT}]))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get(ENT).is_none(), "{}", r.body);
}

#[tokio::test]
async fn scim_group_external_id_and_search() {
    let srv = Server::start().await;
    let t = srv.tenant("gsearch").await;
    let scim = srv.client(&scim_key(&srv, &t, "idp").await);
    let native = srv.client(&t.key);
    let uid = scim.post("/scim/v2/Users", json!({"userName": "eve", "name": {"givenName": "Eve", "familyName": "Stone"}})).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Group externalId: kept, filterable (case-exact), replaced, removed.
    let g = scim.post("/scim/v2/Groups", json!({"displayName": "Night shift", "externalId": "aad-77", "members": [{"value": uid}]})).await;
    assert_eq!(g.status, 201, "{}", g.body);
    assert_eq!(g.body["externalId"], "aad-77");
    let gid = g.body["id"].as_str().unwrap().to_string();
    // Group ids are apart from user ids (RFC 7643 §3.1): `g<native id>`.
    let native_gid = gid.strip_prefix('g').expect("a group id is g<id>").to_string();
    let gpath = format!("/scim/v2/Groups/{gid}");
    let r = scim.get(&format!("/scim/v2/Groups?filter={}", urlencode("externalId eq \"aad-77\""))).await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    let r = scim.get(&format!("/scim/v2/Groups?filter={}", urlencode("externalId eq \"AAD-77\""))).await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    let r = scim.patch(&gpath, ops(json!([{"op": "replace", "path": "externalId", "value": "aad-78"}]))).await;
    assert_eq!((r.status.as_u16(), r.body["externalId"].clone()), (200, json!("aad-78")), "{}", r.body);
    assert_eq!(r.header("etag").unwrap(), "\"v2\"");
    let audit = native.get(&format!("/api/v1/audit?entity=group&entityId={native_gid}")).await.expect(200);
    assert!(audit.body["items"].as_array().unwrap().iter().any(|e| e["after"]["externalId"] == "aad-78"), "{}", audit.body);
    let r = scim.put(&gpath, json!({"displayName": "Night shift", "members": [{"value": uid}]})).await;
    assert!(r.body.get("externalId").is_none(), "PUT without it clears it: {}", r.body);
    scim.patch(&gpath, ops(json!([{"op": "add", "value": {"externalId": "aad-79"}}]))).await;
    let r = scim.patch(&gpath, ops(json!([{"op": "remove", "path": "externalId"}]))).await;
    assert!(r.body.get("externalId").is_none(), "{}", r.body);

    // POST /.search: the query in the body, on each resource type and the root.
    let q = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"EVE\"", "attributes": ["userName", "name.familyName"]});
    let r = scim.post("/scim/v2/Users/.search", q).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(
        r.body["Resources"][0],
        json!({"schemas": [USER, ENT, AGENT], "id": uid, "userName": "eve", "name": {"familyName": "Stone"}})
    );
    let r = scim.post("/scim/v2/Groups/.search", json!({"filter": "displayName sw \"night\"", "excludedAttributes": ["members"]})).await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert!(r.body["Resources"][0].get("members").is_none());
    let r = scim.post("/scim/v2/.search", json!({"startIndex": 1, "count": 10, "attributes": ["id"]})).await;
    let kinds: Vec<&str> = r.body["Resources"].as_array().unwrap().iter().map(|x| x["schemas"][0].as_str().unwrap()).collect();
    assert_eq!(kinds, [USER, "urn:ietf:params:scim:schemas:core:2.0:Group"], "{}", r.body);
    scim_error(&scim.post("/scim/v2/Users/.search", json!({"schemas": ["urn:x"]})).await, 400, Some("invalidSyntax"));
    scim_error(&scim.post("/scim/v2/Users/.search", json!({"filter": "userName zz 1"})).await, 400, Some("invalidFilter"));
    assert_eq!(scim.get("/scim/v2/Users/.search").await.status, 405);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
