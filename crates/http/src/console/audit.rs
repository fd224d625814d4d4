//! The audit trail: a timeline of changes, newest first, filterable by kind
//! of object and object id, each with its before and after values.

use super::query;
use super::ui::{self, Errs, Field, Input, Nav};
use super::Console;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;
use switchboard_domain::{AuditAction, AuditEvent, Entity, PageRequest};

const PAGE_SIZE: u32 = 50;

pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(page))
}

const ENTITIES: &[(Entity, &str)] = &[
    (Entity::Agent, "Agents"),
    (Entity::Skill, "Skills"),
    (Entity::Service, "Services"),
    (Entity::CallCenter, "Call centers"),
    (Entity::Group, "Groups"),
    (Entity::Phone, "Phones"),
    (Entity::Did, "DIDs"),
    (Entity::Campaign, "Campaigns"),
    (Entity::User, "Users"),
    (Entity::ApiKey, "API keys"),
    (Entity::Tenant, "Tenant"),
];

/// Where an object of the trail can be seen in the console.
fn link(e: Entity, id: i64) -> Option<String> {
    let base = match e {
        Entity::Agent => "agents",
        Entity::Skill => "skills",
        Entity::Service => "services",
        Entity::CallCenter => "call-centers",
        Entity::Group => "groups",
        Entity::Phone => "phones",
        Entity::Did => "dids",
        Entity::Campaign => "campaigns",
        _ => return None,
    };
    Some(format!("/{base}/{id}"))
}

async fn page(State(s): State<AppState>, c: Console, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let entity = q.text("entity").and_then(|e| Entity::parse(&e));
    let entity_id = q.int("entityId").filter(|i| *i > 0);
    let before = q.int("before").filter(|i| *i > 0).unwrap_or(0);
    let events = match s.dir.list_audit(&c.p, entity, entity_id, PageRequest { after: before, offset: 0, limit: PAGE_SIZE }).await {
        Ok(p) => p,
        Err(e) => return ui::error_page(Some(&c), e),
    };
    let kinds: Vec<(String, String)> = std::iter::once((String::new(), "All kinds".to_string()))
        .chain(ENTITIES.iter().map(|(e, l)| (e.as_str().to_string(), l.to_string())))
        .collect();
    let kind = entity.map(|e| e.as_str()).unwrap_or("");
    let id_s = entity_id.map(|i| i.to_string()).unwrap_or_default();
    let none = Errs::none();
    let next = events.has_more.then(|| {
        let last = events.items.last().map(|e| e.id).unwrap_or(0);
        let mut pairs: Vec<(&str, String)> = vec![];
        if !kind.is_empty() {
            pairs.push(("entity", kind.to_string()));
        }
        if !id_s.is_empty() {
            pairs.push(("entityId", id_s.clone()));
        }
        pairs.push(("before", last.to_string()));
        format!("/audit?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    });
    let title = match (entity, entity_id) {
        (Some(e), Some(id)) => format!("History of {} {id}", e.as_str().replace('_', " ")),
        _ => "Audit trail".to_string(),
    };
    let body = html! {
        form.filters role="search" aria-label="Filter the audit trail" method="get" action="/audit" {
            (Field::new("audit", "entity", "Kind of object", kind).input(Input::Select(&kinds)).render(&none))
            (Field::new("audit", "entityId", "Object id", &id_s).input(Input::Number).render(&none))
            div.actions { button type="submit" { "Filter" } a.button.secondary href="/audit" { "Clear" } }
        }
        (timeline(&events.items, true))
        @if before > 0 || next.is_some() {
            nav.pager aria-label="Pages of the audit trail" {
                @if before > 0 { a href="/audit" { "Newest" } }
                @if let Some(n) = next { a href=(n) { "Older changes" } }
            }
        }
    };
    ui::html_response(StatusCode::OK, ui::page(&c, Nav::Audit, &title, body))
}

/// Events as a list; each shows who, when, what, and the changed values.
pub fn timeline(events: &[AuditEvent], show_object: bool) -> Markup {
    html! {
        @if events.is_empty() { p { "No changes recorded." } }
        @else {
            ol.timeline {
                @for e in events {
                    li {
                        p.event {
                            time datetime=(ui::iso(e.at)) { (ui::when(e.at)) }
                            " · " strong { (e.actor) } " "
                            (verb(e.action)) " "
                            @if show_object {
                                @match link(e.entity, e.entity_id) {
                                    Some(href) if e.action != AuditAction::Delete => a href=(href) { (e.entity.as_str().replace('_', " ")) " " (e.entity_id) },
                                    _ => span { (e.entity.as_str().replace('_', " ")) " " (e.entity_id) },
                                }
                                (label_of(e).map(|l| format!(" ({l})")).unwrap_or_default())
                            } @else {
                                "this " (e.entity.as_str().replace('_', " "))
                            }
                        }
                        (changes(e))
                    }
                }
            }
        }
    }
}

fn verb(a: AuditAction) -> &'static str {
    match a {
        AuditAction::Create => "created",
        AuditAction::Update => "changed",
        AuditAction::Delete => "deleted",
    }
}

/// A recognisable name for the object: loginId, name or number.
fn label_of(e: &AuditEvent) -> Option<String> {
    let v = e.after.as_ref().or(e.before.as_ref())?;
    ["loginId", "name", "number", "username"].iter().find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) if s.is_empty() => "(empty)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The fields that differ between before and after (all fields for a create
/// or delete), in a table; bookkeeping fields are left out.
fn changes(e: &AuditEvent) -> Markup {
    const SKIP: &[&str] = &["updatedAt", "version", "createdAt", "tenantId", "id"];
    let empty = serde_json::Map::new();
    let obj = |v: &Option<Value>| v.as_ref().and_then(Value::as_object).cloned().unwrap_or_else(|| empty.clone());
    let (b, a) = (obj(&e.before), obj(&e.after));
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).filter(|k| !SKIP.contains(&k.as_str())).collect();
    keys.dedup();
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.as_str()));
    let rows: Vec<(&String, String, String)> = keys
        .into_iter()
        .filter(|k| e.action != AuditAction::Update || b.get(*k) != a.get(*k))
        .map(|k| (k, show(b.get(k)), show(a.get(k))))
        .collect();
    html! {
        @if !rows.is_empty() {
            details open[e.action == AuditAction::Update] {
                summary { (rows.len()) @if rows.len() == 1 { " field" } @else { " fields" } }
                div.table-wrap { table.diff {
                    caption.sr-only { "Values before and after" }
                    thead { tr { th scope="col" { "Field" } th scope="col" { "Before" } th scope="col" { "After" } } }
                    tbody {
                        @for (k, before, after) in &rows {
                            tr { th scope="row" { (k) } td.before { (before) } td.after { (after) } }
                        }
                    }
                } }
            }
        }
    }
}
