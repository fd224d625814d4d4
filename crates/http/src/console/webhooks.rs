//! The webhooks page (`/webhooks`, Sysadmin only): the tenant's
//! subscriptions with their state (a subscription the server disabled says
//! why), a form to add one (its signing secret shown once), enable/disable,
//! delete, and each one's latest deliveries. The same `Directory`
//! operations and address check as `/api/v1/webhooks` (`docs/events.md`).

use super::ui::{self, Errs, Field, Nav};
use super::{query, Console, FormData};
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use switchboard_domain::events::{Delivery, Webhook, WebhookChanges};
use switchboard_domain::{Error, Id, PageRequest};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(show).post(create))
        .route("/webhooks/{id}/enable", post(enable))
        .route("/webhooks/{id}/disable", post(disable))
        .route("/webhooks/{id}/delete", post(delete))
}

const FIELDS: &[&str] = &["url", "events"];

#[derive(Default)]
struct Shown {
    created: Option<(Webhook, String)>,
    errs: Errs,
    url: String,
    events: String,
}

async fn show(State(s): State<AppState>, c: Console, RawQuery(raw): RawQuery) -> Response {
    render(&s, &c, query(raw).get("done"), Shown::default(), StatusCode::OK).await
}

async fn render(s: &AppState, c: &Console, done: Option<&str>, shown: Shown, status: StatusCode) -> Response {
    if let Err(e) = c.p.require_sysadmin() {
        return ui::error_page(Some(c), e);
    }
    let loaded = async {
        let hooks = s.dir.list_webhooks(&c.p, PageRequest::first(1000)).await?.items;
        let mut out = Vec::new();
        for w in hooks {
            let log = s.dir.list_deliveries(&c.p, w.id, PageRequest::first(5)).await?.items;
            out.push((w, log));
        }
        Ok::<_, Error>(out)
    };
    let hooks = match loaded.await {
        Ok(x) => x,
        Err(e) => return ui::error_page(Some(c), e),
    };
    let body = html! {
        (flash(done))
        @if let Some((w, secret)) = &shown.created {
            section.box aria-labelledby="h-created" role="status" {
                h2 #h-created { "New subscription to " (w.url) }
                p { "Copy the signing secret now: it is shown only once. Receivers verify deliveries with it (Standard Webhooks; docs/events.md)." }
                p { code #webhook-secret { (secret) } }
            }
        }
        section aria-labelledby="h-hooks" {
            h2 #h-hooks { "Subscriptions" }
            @if hooks.is_empty() { p { "None yet." } }
            @for (w, log) in &hooks {
                article.box aria-label={ "Webhook " (w.url) } {
                    h3 { code { (w.url) } }
                    p {
                        "Events: " (w.events.as_ref().map_or("all".to_string(), |e| e.join(", "))) ". "
                        @if w.enabled { "Enabled." } @else { strong { "Disabled" } "." }
                        @if let Some(r) = &w.disabled_reason { " " span.error { (r) } }
                    }
                    div.actions {
                        @if w.enabled {
                            form method="post" action={ "/webhooks/" (w.id) "/disable" } { (ui::csrf(c)) button type="submit" { "Disable" } }
                        } @else {
                            form method="post" action={ "/webhooks/" (w.id) "/enable" } { (ui::csrf(c)) button type="submit" { "Enable" } }
                        }
                        form method="post" action={ "/webhooks/" (w.id) "/delete" } {
                            (ui::csrf(c))
                            button.danger type="submit" aria-label={ "Delete webhook " (w.url) } { "Delete" }
                        }
                    }
                    (deliveries(log))
                }
            }
            h3 #h-new { "New subscription" }
            (shown.errs.banner())
            form.stack method="post" action="/webhooks" aria-labelledby="h-new" novalidate {
                (ui::csrf(c))
                (Field::new("webhook", "url", "URL", &shown.url).required().help("https://… of a public address; events are POSTed to it, signed.").render(&shown.errs))
                (Field::new("webhook", "events", "Event types", &shown.events)
                    .help("Comma-separated, e.g. agent.*, skill.created; empty: every type.").render(&shown.errs))
                div.actions { button type="submit" { "Subscribe" } }
            }
        }
    };
    ui::html_response(status, ui::page(c, Nav::Webhooks, "Webhooks", body))
}

fn deliveries(log: &[Delivery]) -> Markup {
    html! {
        @if log.is_empty() { p { "No deliveries yet." } }
        @else {
            div.table-wrap { table {
                caption { "Latest deliveries" }
                thead { tr {
                    th scope="col" { "Event" }
                    th scope="col" { "Type" }
                    th scope="col" { "Status" }
                    th scope="col" { "Attempts" }
                    th scope="col" { "Last answer" }
                    th scope="col" { "Last error" }
                } }
                tbody { @for d in log { tr {
                    td { code { (d.event_id) } }
                    td { (d.event_type) }
                    td { (d.status) }
                    td { (d.attempts) }
                    td { @if let Some(code) = d.last_status_code { (code) } " " @if let Some(ms) = d.last_latency_ms { "(" (ms) " ms)" } }
                    td { (d.last_error.as_deref().unwrap_or("")) }
                } } }
            } }
        }
    }
}

fn flash(done: Option<&str>) -> Markup {
    match done {
        Some("deleted") => html! { p.flash role="status" { "Subscription deleted." } },
        Some("enabled") => html! { p.flash role="status" { "Subscription enabled; waiting deliveries resume." } },
        Some("disabled") => html! { p.flash role="status" { "Subscription disabled." } },
        other => ui::flash(other),
    }
}

async fn create(State(s): State<AppState>, c: Console, f: FormData) -> Response {
    if let Err(e) = c.p.require_sysadmin() {
        return ui::error_page(Some(&c), e);
    }
    let url = f.text("url").unwrap_or_default();
    let events_text = f.text("events").unwrap_or_default();
    let events: Vec<String> = events_text.split(',').map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
    let events = (!events.is_empty()).then_some(events);
    let secret = crate::webhooks::new_secret();
    let result = async {
        switchboard_domain::ops_events::check_webhook_url(&url)?;
        crate::webhooks::resolve_target(&url, &s.config.webhooks.allow_networks).await?;
        s.dir.create_webhook(&c.p, &url, events, &secret).await
    };
    match result.await {
        Ok(w) => render(&s, &c, None, Shown { created: Some((w, secret)), ..Default::default() }, StatusCode::CREATED).await,
        Err(e) => {
            let shown = Shown { errs: Errs::from_error(&e, FIELDS), url, events: events_text, ..Default::default() };
            render(&s, &c, None, shown, Errs::status(&e)).await
        }
    }
}

async fn set_enabled(s: &AppState, c: &Console, id: Id, enabled: bool) -> Response {
    let ch = WebhookChanges { enabled: Some(enabled), ..Default::default() };
    match s.dir.update_webhook(&c.p, id, ch, None).await {
        Ok(_) => Redirect::to(if enabled { "/webhooks?done=enabled" } else { "/webhooks?done=disabled" }).into_response(),
        Err(e) => ui::error_page(Some(c), e),
    }
}

async fn enable(State(s): State<AppState>, c: Console, Path(id): Path<Id>) -> Response {
    set_enabled(&s, &c, id, true).await
}

async fn disable(State(s): State<AppState>, c: Console, Path(id): Path<Id>) -> Response {
    set_enabled(&s, &c, id, false).await
}

async fn delete(State(s): State<AppState>, c: Console, Path(id): Path<Id>) -> Response {
    match s.dir.delete_webhook(&c.p, id, None).await {
        Ok(()) => Redirect::to("/webhooks?done=deleted").into_response(),
        Err(e) => ui::error_page(Some(&c), e),
    }
}
