//! The tenant's settings page (`/settings`, Sysadmin only): its API keys
//! (create one, of scope `api` or `scim`, shown once; list; revoke) and the
//! SCIM setting `scimDeleteMode`. The same `Directory` operations as the
//! native API's `/api/v1/api-keys` and `PATCH /api/v1/tenant`.

use super::ui::{self, Errs, Field, Input, Nav};
use super::{query, Console, FormData};
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde_json::json;
use std::collections::HashMap;
use switchboard_domain::{ApiKeyInfo, Error, Id, KeyScope, PageRequest, ScimDeleteMode};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(show))
        .route("/settings/api-keys", post(create_key))
        .route("/settings/api-keys/{id}/revoke", post(revoke_key))
        .route("/settings/scim", post(save_scim))
}

const KEY_FIELDS: &[&str] = &["name", "scope"];

/// What the page shows besides the stored state: a key just created (its
/// only showing), or a form's errors and typed values.
#[derive(Default)]
struct Shown {
    issued: Option<(ApiKeyInfo, String)>,
    key_errs: Errs,
    key_name: String,
    key_scope: String,
    scim_errs: Errs,
}

fn scope_label(s: KeyScope) -> &'static str {
    match s {
        KeyScope::Api => "Native API and vendor APIs",
        KeyScope::Scim => "SCIM provisioning",
    }
}

async fn show(State(s): State<AppState>, c: Console, RawQuery(raw): RawQuery) -> Response {
    render(&s, &c, query(raw).get("done"), Shown::default(), StatusCode::OK).await
}

async fn render(s: &AppState, c: &Console, done: Option<&str>, shown: Shown, status: StatusCode) -> Response {
    if let Err(e) = c.p.require_sysadmin() {
        return ui::error_page(Some(c), e);
    }
    let loaded = async {
        let tenant = s.dir.get_tenant(&c.p).await?;
        let keys = s.dir.list_api_keys(&c.p, PageRequest::first(1000)).await?;
        let users: HashMap<Id, String> =
            s.dir.list_users(&c.p, PageRequest::first(1000)).await?.items.into_iter().map(|u| (u.id, u.username)).collect();
        Ok::<_, Error>((tenant, keys.items, users))
    };
    let (tenant, keys, users) = match loaded.await {
        Ok(x) => x,
        Err(e) => return ui::error_page(Some(c), e),
    };
    let scopes: Vec<(String, String)> =
        [KeyScope::Api, KeyScope::Scim].iter().map(|k| (k.as_str().to_string(), format!("{} ({})", scope_label(*k), k.as_str()))).collect();
    let modes: Vec<(String, String)> = vec![
        ("deactivate".into(), "Deactivate the agent (keeps its history, assignments and loginId)".into()),
        ("delete".into(), "Delete the agent".into()),
    ];
    let mode = match tenant.settings.scim_delete_mode {
        ScimDeleteMode::Deactivate => "deactivate",
        ScimDeleteMode::Delete => "delete",
    };
    let scope_value = if shown.key_scope.is_empty() { "api" } else { shown.key_scope.as_str() };
    let body = html! {
        (flash(done))
        @if let Some((info, key)) = &shown.issued {
            section.box aria-labelledby="h-issued" role="status" {
                h2 #h-issued { "New key “" (info.name) "”" }
                p { "Copy this key now: it is shown only once, and only its prefix is kept in the list." }
                p { code #issued-key { (key) } }
                @if info.scope == KeyScope::Scim {
                    p { "In the identity provider: base URL " code { "https://<this host>/scim/v2" } ", bearer token: this key. See docs/scim.md." }
                }
            }
        }
        section aria-labelledby="h-keys" {
            h2 #h-keys { "API keys" }
            @if keys.is_empty() { p { "None yet." } }
            @else {
                div.table-wrap { table {
                    caption.sr-only { "API keys" }
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Scope" }
                        th scope="col" { "Prefix" }
                        th scope="col" { "Owner" }
                        th scope="col" { "Created" }
                        th scope="col" { "Last used" }
                        th scope="col" { "Status" }
                    } }
                    tbody {
                        @for k in &keys {
                            tr {
                                td { (k.name) }
                                td { (scope_label(k.scope)) }
                                td { code { (k.prefix) } }
                                td { (users.get(&k.user_id).map_or("", String::as_str)) }
                                td { time datetime=(ui::iso(k.created_at)) { (ui::when(k.created_at)) } }
                                td { @if let Some(t) = k.last_used_at { time datetime=(ui::iso(t)) { (ui::when(t)) } } @else { "never" } }
                                td {
                                    @if let Some(t) = k.revoked_at { "revoked " time datetime=(ui::iso(t)) { (ui::when(t)) } }
                                    @else {
                                        form method="post" action={ "/settings/api-keys/" (k.id) "/revoke" } {
                                            (ui::csrf(c))
                                            button.danger type="submit" aria-label={ "Revoke key " (k.name) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            h3 #h-new-key { "New API key" }
            (shown.key_errs.banner())
            form.stack method="post" action="/settings/api-keys" aria-labelledby="h-new-key" novalidate {
                (ui::csrf(c))
                (Field::new("key", "name", "Name", &shown.key_name).required().help("What uses it, e.g. okta or crm-sync.").render(&shown.key_errs))
                (Field::new("key", "scope", "Scope", scope_value).input(Input::Select(&scopes))
                    .help("A SCIM key works only on /scim/v2 (for an identity provider); any other key is refused there.").render(&shown.key_errs))
                div.actions { button type="submit" { "Create key" } }
            }
        }
        section aria-labelledby="h-scim" {
            h2 #h-scim { "SCIM provisioning" }
            (shown.scim_errs.banner())
            form.stack method="post" action="/settings/scim" novalidate {
                (ui::csrf(c))
                input type="hidden" name="version" value=(tenant.version);
                (Field::new("scim", "scimDeleteMode", "When the identity provider deletes a user", mode).input(Input::Select(&modes))
                    .help("What SCIM's DELETE /Users/{id} does (scimDeleteMode).").render(&shown.scim_errs))
                div.actions { button type="submit" { "Save" } }
            }
        }
    };
    ui::html_response(status, ui::page(c, Nav::Settings, "Settings", body))
}

fn flash(done: Option<&str>) -> Markup {
    match done {
        Some("revoked") => html! { p.flash role="status" { "Key revoked." } },
        other => ui::flash(other),
    }
}

async fn create_key(State(s): State<AppState>, c: Console, f: FormData) -> Response {
    // The page is a Sysadmin's (the API lets other users make their own keys).
    if let Err(e) = c.p.require_sysadmin() {
        return ui::error_page(Some(&c), e);
    }
    let name = f.raw("name").unwrap_or_default();
    let scope_text = f.text("scope").unwrap_or_else(|| "api".into());
    let result = match KeyScope::parse(&scope_text) {
        None => Err(Error::invalid("scope", switchboard_domain::Rule::Format { expected: "api or scim" })),
        Some(scope) => s.dir.create_scoped_api_key(&c.p, None, Some(name.clone()), scope).await,
    };
    match result {
        Ok(issued) => {
            let key = issued.api_key.unwrap_or_default();
            let shown = Shown { issued: Some((issued.value, key)), ..Default::default() };
            render(&s, &c, None, shown, StatusCode::CREATED).await
        }
        Err(e) => {
            let shown = Shown { key_errs: Errs::from_error(&e, KEY_FIELDS), key_name: name, key_scope: scope_text, ..Default::default() };
            render(&s, &c, None, shown, Errs::status(&e)).await
        }
    }
}

async fn revoke_key(State(s): State<AppState>, c: Console, Path(id): Path<Id>) -> Response {
    if let Err(e) = c.p.require_sysadmin() {
        return ui::error_page(Some(&c), e);
    }
    match s.dir.revoke_api_key(&c.p, id).await {
        Ok(_) => Redirect::to("/settings?done=revoked").into_response(),
        Err(e) => ui::error_page(Some(&c), e),
    }
}

async fn save_scim(State(s): State<AppState>, c: Console, f: FormData) -> Response {
    let mode = f.text("scimDeleteMode").unwrap_or_default();
    match s.dir.update_tenant_settings(&c.p, json!({ "scimDeleteMode": mode }), f.int("version")).await {
        Ok(_) => Redirect::to("/settings?done=saved").into_response(),
        Err(e) => {
            let shown = Shown { scim_errs: Errs::from_error(&e, &["scimDeleteMode"]), ..Default::default() };
            render(&s, &c, None, shown, Errs::status(&e)).await
        }
    }
}
