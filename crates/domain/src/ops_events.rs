//! Change events and webhook subscriptions (issue 28, `docs/events.md`):
//! the audit roles read events; Sysadmin manages subscriptions. The URL's
//! network check (DNS) is the HTTP layer's (`http/src/webhooks.rs`), which
//! calls these after it.

use crate::error::{Error, Result, Rule};
use crate::events::{ChangeEvent, Delivery, Webhook, WebhookChanges};
use crate::model::*;
use crate::Directory;

/// How long a rotated-out secret still signs deliveries (beside the new
/// one), so receivers can switch over without refusing any: a day, as Svix.
pub const PREVIOUS_SECRET_GRACE_MS: Millis = 24 * 60 * 60 * 1000;

/// Longest webhook URL.
pub const WEBHOOK_URL_MAX: usize = 2048;
/// Most event-type patterns in one subscription.
pub const WEBHOOK_EVENTS_MAX: usize = 50;
/// An event-type pattern: `agent.created`, `agent.*`, `*`.
pub const EVENT_PATTERN: &str = r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$";

/// Checks a webhook URL's form: `http://` or `https://`, a host, no user info.
pub fn check_webhook_url(url: &str) -> Result<()> {
    let bad = || Error::invalid("url", Rule::Format { expected: "an http:// or https:// URL" });
    if url.chars().count() > WEBHOOK_URL_MAX {
        return Err(Error::invalid("url", Rule::TooLong { max: WEBHOOK_URL_MAX }));
    }
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.chars().any(|c| c.is_control() || c.is_whitespace()) || url.len() < 8 {
        return Err(bad());
    }
    Ok(())
}

/// Checks a subscription's event-type patterns.
pub fn check_event_patterns(events: &[String]) -> Result<()> {
    if events.is_empty() {
        return Err(Error::invalid("events", Rule::TooShort { min: 1 }));
    }
    if events.len() > WEBHOOK_EVENTS_MAX {
        return Err(Error::invalid("events", Rule::TooLong { max: WEBHOOK_EVENTS_MAX }));
    }
    for e in events {
        if !pattern_ok(e) {
            return Err(Error::invalid("events", Rule::Format { expected: "an event type or a prefix ending in .*" }));
        }
    }
    Ok(())
}

fn pattern_ok(e: &str) -> bool {
    if e == "*" {
        return true;
    }
    let body = e.strip_suffix(".*").unwrap_or(e);
    e.len() <= 100 && !body.is_empty() && body.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

impl Directory {
    pub async fn list_events(&self, p: &Principal, after: i64, limit: u32) -> Result<Vec<ChangeEvent>> {
        p.require_staff()?;
        self.store().list_events(p.tenant_id, after, limit).await
    }

    pub async fn create_webhook(&self, p: &Principal, url: &str, events: Option<Vec<String>>, secret: &str) -> Result<Webhook> {
        p.require_sysadmin()?;
        check_webhook_url(url)?;
        if let Some(e) = &events {
            check_event_patterns(e)?;
        }
        self.store().create_webhook(&self.ctx(p), url, events, secret).await
    }

    pub async fn list_webhooks(&self, p: &Principal, page: PageRequest) -> Result<Page<Webhook>> {
        p.require_sysadmin()?;
        self.store().list_webhooks(p.tenant_id, page.after, page.limit).await
    }

    pub async fn get_webhook(&self, p: &Principal, id: Id) -> Result<Webhook> {
        p.require_sysadmin()?;
        self.store().get_webhook(p.tenant_id, id).await
    }

    pub async fn update_webhook(&self, p: &Principal, id: Id, c: WebhookChanges, expected: Option<i64>) -> Result<Webhook> {
        p.require_sysadmin()?;
        if let Some(url) = &c.url {
            check_webhook_url(url)?;
        }
        if let Some(Some(e)) = &c.events {
            check_event_patterns(e)?;
        }
        if c.url.is_none() && c.events.is_none() && c.enabled.is_none() {
            return Err(Error::invalid("body", Rule::NothingToUpdate));
        }
        self.store().update_webhook(&self.ctx(p), id, c, expected).await
    }

    pub async fn delete_webhook(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_sysadmin()?;
        self.store().delete_webhook(&self.ctx(p), id, expected).await
    }

    pub async fn rotate_webhook_secret(&self, p: &Principal, id: Id, secret: &str) -> Result<Webhook> {
        p.require_sysadmin()?;
        let ctx = self.ctx(p);
        let previous_until = ctx.now + PREVIOUS_SECRET_GRACE_MS;
        self.store().rotate_webhook_secret(&ctx, id, secret, previous_until).await
    }

    pub async fn list_deliveries(&self, p: &Principal, webhook: Id, page: PageRequest) -> Result<Page<Delivery>> {
        p.require_sysadmin()?;
        self.store().list_deliveries(p.tenant_id, webhook, page.after, page.limit).await
    }

    pub async fn redeliver(&self, p: &Principal, webhook: Id, delivery: Id) -> Result<Delivery> {
        p.require_sysadmin()?;
        self.store().redeliver(p.tenant_id, webhook, delivery, self.now()).await
    }
}
