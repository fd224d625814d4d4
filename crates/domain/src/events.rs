//! Change events (issue 28): what every committed write announces, derived
//! from the same before/after states its audit event records, and the
//! webhook subscriptions that deliver them (`docs/events.md`).

use serde::Serialize;
use serde_json::Value;

use crate::error::{Entity, Result};
use crate::model::{Actor, AuditAction, Id, Millis, Page};
use crate::store::WriteCtx;

/// Fields every change moves, which say nothing about what changed.
const NOT_CHANGES: [&str; 2] = ["version", "updatedAt"];

/// The event of one audited write: its type and the names of the fields
/// it changed (top-level names of the object's JSON; an agent's
/// assignments are `skills`, `serviceIds` and `groups`).
pub fn event_type(entity: Entity, action: AuditAction, before: Option<&Value>, after: Option<&Value>) -> (String, Vec<String>) {
    let changed = changed_fields(before, after);
    let verb = match action {
        AuditAction::Create => "created",
        AuditAction::Update => "updated",
        AuditAction::Delete => "deleted",
    };
    let only = |f: &str| changed.len() == 1 && changed[0] == f;
    let ty = match (entity, action) {
        (Entity::Agent, AuditAction::Update) if only("skills") => {
            let count = |v: Option<&Value>| v.and_then(|v| v.get("skills")).and_then(Value::as_array).map_or(0, Vec::len);
            if count(after) < count(before) {
                "agent.skill.removed".to_string()
            } else {
                "agent.skill.assigned".to_string()
            }
        }
        (Entity::Agent, AuditAction::Update) if only("serviceIds") => {
            let count = |v: Option<&Value>| v.and_then(|v| v.get("serviceIds")).and_then(Value::as_array).map_or(0, Vec::len);
            if count(after) < count(before) {
                "agent.service.removed".to_string()
            } else {
                "agent.service.assigned".to_string()
            }
        }
        (Entity::Agent, AuditAction::Update) if only("groups") => "agent.group.mapped".to_string(),
        (Entity::Campaign, AuditAction::Update)
            if !changed.is_empty() && changed.iter().all(|f| f == "dynamicDids" || f == "fallbackDids") =>
        {
            "campaign.dids.updated".to_string()
        }
        _ => format!("{}.{verb}", entity.as_str()),
    };
    (ty, changed)
}

fn changed_fields(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let (Some(Value::Object(b)), Some(Value::Object(a))) = (before, after) else { return Vec::new() };
    let mut out: Vec<String> = Vec::new();
    for (k, v) in a.iter() {
        if !NOT_CHANGES.contains(&k.as_str()) && b.get(k) != Some(v) {
            out.push(k.clone());
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) && !NOT_CHANGES.contains(&k.as_str()) {
            out.push(k.clone());
        }
    }
    out
}

/// The JSON body of an event, as listed and delivered: put together when
/// read from the outbox row and its audit event (the object is the audit's
/// stored JSON, inserted as it is).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBody<'a> {
    pub id: String,
    pub sequence: i64,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub occurred_at: Millis,
    pub tenant_id: Id,
    pub actor: EventActor<'a>,
    pub entity: &'static str,
    pub object_id: Id,
    pub object: Option<&'a serde_json::value::RawValue>,
    pub changed: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventActor<'a> {
    pub label: &'a str,
    pub user_id: Option<Id>,
    pub api_key_id: Option<Id>,
}

impl<'a> EventBody<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenant: Id,
        seq: i64,
        event_type: &'a str,
        at: Millis,
        actor: &'a Actor,
        entity: Entity,
        object_id: Id,
        object: Option<&'a serde_json::value::RawValue>,
        changed: &'a [String],
    ) -> Self {
        EventBody {
            id: event_id(tenant, seq),
            sequence: seq,
            event_type,
            occurred_at: at,
            tenant_id: tenant,
            actor: EventActor { label: &actor.label, user_id: actor.user_id, api_key_id: actor.api_key_id },
            entity: entity.as_str(),
            object_id,
            object,
            changed,
        }
    }
}

/// An event's id: also the `webhook-id` of every delivery of it.
pub fn event_id(tenant: Id, seq: i64) -> String {
    format!("evt_{tenant}_{seq}")
}

/// One event of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub seq: i64,
    pub event_type: String,
    /// The body's JSON text (`EventBody`).
    pub body: String,
}

/// Whether a subscription's filter takes an event type: an exact type, or
/// a prefix ending in `*` (`agent.*`); no filter takes every type.
pub fn filter_takes(filter: Option<&[String]>, ty: &str) -> bool {
    match filter {
        None => true,
        Some(f) => f.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => ty.starts_with(prefix),
            None => p == ty,
        }),
    }
}

/// A webhook subscription (its secret only in `WebhookCreated`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: Id,
    pub url: String,
    /// `None`: every event type.
    pub events: Option<Vec<String>>,
    pub enabled: bool,
    /// Why it was disabled by the server (failures for a day), if it was.
    pub disabled_reason: Option<String>,
    /// The last sequence number handed to its delivery log.
    pub cursor: i64,
    /// Until when deliveries are also signed with the secret before the
    /// last rotation (a receiver switching over accepts either).
    pub previous_secret_expires_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
}

/// One event's delivery to one subscription, with its attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: Id,
    pub webhook_id: Id,
    pub event_id: String,
    pub sequence: i64,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Millis>,
    pub first_attempt_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
    pub created_at: Millis,
}

/// A subscription claimed for delivery by one worker until `lease_until`.
#[derive(Debug, Clone)]
pub struct Claim {
    pub webhook: Webhook,
    pub tenant_id: Id,
    pub secret: String,
    /// The secret before the last rotation, while it is still honoured.
    pub previous_secret: Option<String>,
    pub owner: String,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery: Id,
    pub at: Millis,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub delivered: bool,
    /// When to try again (`None` with `delivered` false: give up).
    pub retry_at: Option<Millis>,
}

/// Change events, webhook subscriptions and their deliveries.
#[async_trait::async_trait]
pub trait EventStore: Send + Sync {
    /// Events of a tenant with sequence numbers above `after`, in order.
    async fn list_events(&self, tenant: Id, after: i64, limit: u32) -> Result<Vec<ChangeEvent>>;
    /// Subscription writes are audited (and so announced) like every other.
    async fn create_webhook(&self, ctx: &WriteCtx, url: &str, events: Option<Vec<String>>, secret: &str) -> Result<Webhook>;
    async fn list_webhooks(&self, tenant: Id, after: Id, limit: u32) -> Result<Page<Webhook>>;
    async fn get_webhook(&self, tenant: Id, id: Id) -> Result<Webhook>;
    async fn update_webhook(&self, ctx: &WriteCtx, id: Id, c: WebhookChanges, expected: Option<i64>) -> Result<Webhook>;
    async fn delete_webhook(&self, ctx: &WriteCtx, id: Id, expected: Option<i64>) -> Result<()>;
    /// A new secret; the old one still signs until `previous_until`.
    async fn rotate_webhook_secret(&self, ctx: &WriteCtx, id: Id, secret: &str, previous_until: Millis) -> Result<Webhook>;
    /// Newest first; `after` (when > 0) is the last id of the previous page.
    async fn list_deliveries(&self, tenant: Id, webhook: Id, after: Id, limit: u32) -> Result<Page<Delivery>>;
    /// Queues a delivery again (manual redelivery), due now.
    async fn redeliver(&self, tenant: Id, webhook: Id, delivery: Id, now: Millis) -> Result<Delivery>;

    /// Claims one enabled subscription with work due (new events, or its
    /// oldest pending delivery due), leased to `owner` until `lease_until`:
    /// no other worker claims it meanwhile (PostgreSQL: `FOR UPDATE SKIP
    /// LOCKED`). Its new events are first added to its delivery log.
    async fn claim_webhook(&self, owner: &str, now: Millis, lease_until: Millis) -> Result<Option<Claim>>;
    /// The claimed subscription's oldest pending deliveries (at most
    /// `limit`, in order, as long as each is due at `now`) with their
    /// events' bodies (`None`: the event was pruned before delivery).
    async fn next_deliveries(&self, claim: &Claim, now: Millis, limit: u32) -> Result<Vec<(Delivery, Option<String>)>>;
    /// Records attempts, adds the events written since to the log and
    /// extends the lease to `lease_until`, in one transaction (only while
    /// the lease is held: `None` if it was lost); how many deliveries were
    /// added.
    async fn record_attempts(&self, claim: &mut Claim, attempts: &[Attempt], now: Millis, lease_until: Millis) -> Result<Option<usize>>;
    /// Gives the subscription back, due again at its oldest pending
    /// delivery's time; `disable` disables it with that reason.
    async fn release_webhook(&self, claim: &Claim, disable: Option<String>) -> Result<()>;
    /// Deletes up to about `batch` events, and delivery log entries, older
    /// than `before` (retention); how many rows went. Call until 0.
    async fn prune_events(&self, before: Millis, batch: u32) -> Result<u64>;
}
