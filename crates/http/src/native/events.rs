//! Change events and webhook subscriptions (issue 28, `docs/events.md`):
//! `GET /api/v1/events` as a list after a sequence number or as
//! Server-Sent Events, and `/api/v1/webhooks` with their delivery logs.

use super::extract::{json, no_content, tagged, tagged_get, Caller, Ids, IfMatch, IfNoneMatch, JsonBody, Params};
use super::paging::{self, ListParams, Paged};
use super::problem::{ApiResult, Problem};
use super::wire::not_null;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_domain::events::{Delivery, Webhook, WebhookChanges};
use switchboard_domain::{Id, Principal};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
}

// ---- events ----------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events with a sequence number above this one (0 or left out: from the first).
    #[serde(default, deserialize_with = "super::wire::query_int")]
    #[param(minimum = 0, example = 0)]
    pub after: Option<u64>,
    /// Events per page (default 100).
    #[serde(default, deserialize_with = "super::wire::query_int")]
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<u32>,
}

/// One page of change events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"items": [{"id": "evt_1_42", "sequence": 42, "type": "agent.skill.assigned", "occurredAt": 1767225600000i64,
    "tenantId": 1, "actor": {"label": "user:admin", "userId": 1, "apiKeyId": 3}, "entity": "agent", "objectId": 7,
    "object": {"id": 7, "loginId": "JDOE"}, "changed": ["skills"]}], "nextAfter": 42}))]
pub struct EventPage {
    /// Events in sequence order (`docs/events.md`).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Box<serde_json::value::RawValue>>,
    /// Pass as `after` for the next page: the last sequence number seen.
    pub next_after: i64,
}

/// List change events, or follow them live.
///
/// The tenant's change events in commit order, each with its sequence number, after `after` (the consumer's last one), a page at a time. With `Accept: text/event-stream`, a Server-Sent Events stream instead: each event's `id` is its sequence number, and a reconnecting client's `Last-Event-ID` resumes after it without loss.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery, ("Last-Event-ID" = Option<String>, Header, description = "SSE resume: the last sequence number received")),
    responses((status = 200, body = EventPage, content_type = "application/json")))]
async fn list_events(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<EventsQuery>, h: HeaderMap) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(paging::DEFAULT_LIMIT);
    if !(1..=paging::MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 1000").with_field("limit"));
    }
    let after = i64::try_from(q.after.unwrap_or(0)).unwrap_or(i64::MAX);
    let wants_stream = h.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/event-stream"));
    if wants_stream {
        let resume = h.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
        return stream(s, p, resume.unwrap_or(after).max(0)).await;
    }
    let items = s.dir.list_events(&p, after, limit).await?;
    let next_after = items.last().map_or(after, |e| e.seq);
    let items = items.into_iter().map(|e| serde_json::value::RawValue::from_string(e.body)).collect::<Result<Vec<_>, _>>();
    let items = items.map_err(|e| Problem::from(switchboard_domain::Error::Storage(format!("an event body does not decode: {e}"))))?;
    Ok(json(StatusCode::OK, &EventPage { items, next_after }))
}

async fn stream(s: AppState, p: Principal, after: i64) -> Result<Response, Problem> {
    // Refused at once (not mid-stream) when the caller may not read events.
    s.dir.list_events(&p, after, 1).await?;
    let events = futures_util::stream::unfold((s, p, after, Vec::new().into_iter()), |(s, p, mut after, mut buf)| async move {
        loop {
            if let Some(e) = buf.next() {
                let e: switchboard_domain::events::ChangeEvent = e;
                after = e.seq;
                let ev = SseEvent::default().id(e.seq.to_string()).event(e.event_type).data(e.body);
                return Some((Ok::<_, std::convert::Infallible>(ev), (s, p, after, buf)));
            }
            match s.dir.list_events(&p, after, 500).await {
                Ok(v) if !v.is_empty() => buf = v.into_iter(),
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                Err(_) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

// ---- webhooks ------------------------------------------------------------------

/// A new webhook subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.example.com/switchboard", "events": ["agent.*", "skill.created"]}))]
pub struct WebhookCreate {
    /// Where events are POSTed: `http://` or `https://`, resolving to a public address.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = super::schema::webhook_url, required = true)]
    pub url: Option<String>,
    /// Event types (`agent.created`) or prefixes (`agent.*`); left out: every type.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = super::schema::event_patterns)]
    pub events: Option<Vec<String>>,
}

/// A change to a subscription: only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1, example = json!({"enabled": true}))]
pub struct WebhookUpdate {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = super::schema::webhook_url)]
    pub url: Option<String>,
    /// Event types or prefixes; `null`: every type.
    #[serde(default, with = "double_option")]
    #[schema(schema_with = super::schema::event_patterns_or_null)]
    pub events: Option<Option<Vec<String>>>,
    /// Re-enabling clears `disabledReason`; pending deliveries resume.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = bool)]
    pub enabled: Option<bool>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// A subscription with its signing secret, shown only when created or rotated.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The Standard Webhooks secret (`whsec_<base64>`), shown only in this answer.
    #[schema(pattern = "^whsec_[A-Za-z0-9+/=]+$", example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

async fn checked_url(s: &AppState, url: &str) -> Result<(), Problem> {
    switchboard_domain::ops_events::check_webhook_url(url)?;
    crate::webhooks::resolve_target(url, &s.config.webhooks.allow_networks).await?;
    Ok(())
}

/// Create a webhook subscription.
///
/// Subscribes a URL to the tenant's change events (Sysadmin only). Deliveries are signed as Standard Webhooks says, with the `secret` returned here once. URLs resolving to loopback, private, link-local or metadata addresses are refused unless the server allows their network.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookCreate,
    responses((status = 201, body = WebhookCreated)))]
async fn create_webhook(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<WebhookCreate>) -> ApiResult<Response> {
    let url = b.url.ok_or_else(|| Problem::from(switchboard_domain::Error::invalid("url", switchboard_domain::Rule::Required)))?;
    p.require_sysadmin()?;
    checked_url(&s, &url).await?;
    let secret = crate::webhooks::new_secret();
    let w = s.dir.create_webhook(&p, &url, b.events, &secret).await?;
    let (id, version) = (w.id, w.version);
    let mut resp = tagged(StatusCode::CREATED, version, &WebhookCreated { webhook: w, secret });
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/webhooks/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// List webhook subscriptions.
///
/// The tenant's subscriptions in id order, a page at a time (Sysadmin only); secrets are never listed.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(ListParams),
    responses((status = 200, body = Paged<Webhook>)))]
async fn list_webhooks(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_webhooks(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Read a webhook subscription.
///
/// One subscription, with its `ETag`; `disabledReason` says why the server disabled it, if it did.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = Id, Path)),
    responses((status = 200, body = Webhook)))]
async fn get_webhook(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    let w = s.dir.get_webhook(&p, id).await?;
    Ok(tagged_get(&h, w.version, &w))
}

/// Change a webhook subscription.
///
/// Changes its `url`, `events` or `enabled`; re-enabling resumes its pending deliveries in order.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", request_body = WebhookUpdate,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Webhook)))]
async fn update_webhook(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<WebhookUpdate>,
) -> ApiResult<Response> {
    p.require_sysadmin()?;
    if let Some(url) = &b.url {
        checked_url(&s, url).await?;
    }
    let w = s.dir.update_webhook(&p, id, WebhookChanges { url: b.url, events: b.events, enabled: b.enabled }, v).await?;
    Ok(tagged(StatusCode::OK, w.version, &w))
}

/// Delete a webhook subscription.
///
/// Deletes the subscription and its delivery log; undelivered events are not sent.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_webhook(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_webhook(&p, id, v).await?;
    Ok(no_content())
}

/// Rotate a webhook's secret.
///
/// Issues a new signing secret, returned once; deliveries from now on are signed with it.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = Id, Path)),
    responses((status = 200, body = WebhookCreated)))]
async fn rotate_secret(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    let secret = crate::webhooks::new_secret();
    let w = s.dir.rotate_webhook_secret(&p, id, &secret).await?;
    Ok(tagged(StatusCode::OK, w.version, &WebhookCreated { webhook: w, secret }))
}

/// List a webhook's deliveries.
///
/// Its delivery log, newest first: each event's attempts, status (`pending`, `delivered`, `failed`), last answer's status code and latency, last error and next attempt.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = Id, Path), ListParams),
    responses((status = 200, body = Paged<Delivery>)))]
async fn list_deliveries(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    Params(q): Params<ListParams>,
) -> ApiResult<Response> {
    let page = s.dir.list_deliveries(&p, id, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Redeliver an event.
///
/// Queues one delivery of the log again, due now (whatever its status), with the same `webhook-id`.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", tag = "webhooks",
    params(("id" = Id, Path), ("deliveryId" = Id, Path)),
    responses((status = 202, body = Delivery)))]
async fn redeliver(State(s): State<AppState>, Caller(p): Caller, Ids((id, delivery)): Ids<(Id, Id)>) -> ApiResult<Response> {
    let d = s.dir.redeliver(&p, id, delivery).await?;
    let mut resp = json(StatusCode::ACCEPTED, &d);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/webhooks/{id}/deliveries")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}
