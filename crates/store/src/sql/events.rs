// Change events (issue 28, docs/events.md): the outbox row each audited
// write adds in its own transaction (`record_event`, called by `audit`, and
// by the SQLite fast path with the same SQL), and `EventStore`: the event
// list, webhook subscriptions, their delivery logs and the delivery leases.

/// The tenant's next sequence number. The row stays locked until COMMIT,
/// so a tenant's events are numbered in commit order (PostgreSQL: the
/// tenant's writes queue on it from their audit event to their COMMIT).
const NEXT_EVENT_SEQ_SQL: &str = "INSERT INTO event_seqs (tenant_id, seq) VALUES ($1, 1) \
     ON CONFLICT (tenant_id) DO UPDATE SET seq = event_seqs.seq + 1 RETURNING seq";

const INSERT_EVENT_SQL: &str = "INSERT INTO events (tenant_id, seq, type, occurred_at, audit_id, changed) VALUES ($1, $2, $3, $4, $5, $6)";

/// The outbox row of an audited change: its type and the JSON of the
/// changed field names. The rest of the event is its audit event's.
fn outbox_row(
    entity: Entity,
    action: AuditAction,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Result<(String, String)> {
    let (ty, changed) = switchboard_domain::events::event_type(entity, action, before, after);
    Ok((ty, to_json(&changed)?))
}

/// Adds the event of an audited change (audit event `audit_id`) to the
/// outbox, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
async fn record_event(
    c: &mut DbConn,
    tenant: Id,
    now: Millis,
    entity: Entity,
    action: AuditAction,
    audit_id: Id,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Result<()> {
    let seq: i64 = sqlx::query_scalar(NEXT_EVENT_SEQ_SQL).bind(tenant).fetch_one(&mut *c).await.map_err(db_err)?;
    let (ty, changed) = outbox_row(entity, action, before, after)?;
    sqlx::query(INSERT_EVENT_SQL)
        .bind(tenant)
        .bind(seq)
        .bind(ty)
        .bind(now)
        .bind(audit_id)
        .bind(changed)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// An event with what its body is made of: the outbox row and its audit
/// event (`body`: the whole text, for events recorded before migration 13).
macro_rules! event_source {
    () => {
        "SELECT e.seq, e.type, e.occurred_at, e.changed, e.body, a.actor, a.actor_user_id, a.actor_api_key_id, \
         a.entity, a.entity_id, a.before_json, a.after_json FROM events e LEFT JOIN audit_events a ON a.id = e.audit_id \
         WHERE e.tenant_id = "
    };
}

/// A row of `event_source!` as the event consumers see it.
fn event_of(tenant: Id, r: &DbRow) -> Result<switchboard_domain::events::ChangeEvent> {
    let seq: i64 = col(r, "seq")?;
    let event_type: String = col(r, "type")?;
    if let Some(body) = col::<Option<String>>(r, "body")? {
        return Ok(switchboard_domain::events::ChangeEvent { seq, event_type, body });
    }
    let missing = || Error::Storage(format!("event {seq} of tenant {tenant} has no audit event"));
    let entity: String = col::<Option<String>>(r, "entity")?.ok_or_else(missing)?;
    let entity = Entity::parse(&entity).ok_or_else(|| Error::Storage(format!("unknown audited entity {entity:?}")))?;
    let actor = Actor {
        label: col::<Option<String>>(r, "actor")?.ok_or_else(missing)?,
        user_id: col(r, "actor_user_id")?,
        api_key_id: col(r, "actor_api_key_id")?,
    };
    let changed: Option<String> = col(r, "changed")?;
    let changed: Vec<String> = changed.as_deref().map(|c| from_json(c, "event changed")).transpose()?.unwrap_or_default();
    let after: Option<String> = col(r, "after_json")?;
    let object = match after {
        Some(a) => Some(a),
        None => col(r, "before_json")?,
    };
    let object: Option<&serde_json::value::RawValue> = object
        .as_deref()
        .map(|o| serde_json::from_str(o).map_err(|e| Error::Storage(format!("stored audit state does not decode: {e}"))))
        .transpose()?;
    let body = switchboard_domain::events::EventBody::new(
        tenant,
        seq,
        &event_type,
        col(r, "occurred_at")?,
        &actor,
        entity,
        col::<Option<Id>>(r, "entity_id")?.ok_or_else(missing)?,
        object,
        &changed,
    );
    let body = to_json(&body)?;
    Ok(switchboard_domain::events::ChangeEvent { seq, event_type, body })
}

macro_rules! webhook_cols {
    () => {
        "id, tenant_id, url, events, secret, enabled, disabled_reason, event_cursor, previous_secret, previous_secret_until, \
         created_at, updated_at, version"
    };
}

macro_rules! delivery_cols {
    () => {
        "id, webhook_id, tenant_id, seq, event_type, status, attempts, last_status_code, last_latency_ms, last_error, \
         next_attempt_at, first_attempt_at, delivered_at, created_at"
    };
}

fn webhook_of(r: &DbRow) -> Result<switchboard_domain::events::Webhook> {
    let events: Option<String> = col(r, "events")?;
    Ok(switchboard_domain::events::Webhook {
        id: col(r, "id")?,
        url: col(r, "url")?,
        events: events.as_deref().map(|s| from_json(s, "webhook events")).transpose()?,
        enabled: col(r, "enabled")?,
        disabled_reason: col(r, "disabled_reason")?,
        cursor: col(r, "event_cursor")?,
        previous_secret_expires_at: col(r, "previous_secret_until")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

fn delivery_of(r: &DbRow) -> Result<switchboard_domain::events::Delivery> {
    let tenant: Id = col(r, "tenant_id")?;
    let seq: i64 = col(r, "seq")?;
    Ok(switchboard_domain::events::Delivery {
        id: col(r, "id")?,
        webhook_id: col(r, "webhook_id")?,
        event_id: switchboard_domain::events::event_id(tenant, seq),
        sequence: seq,
        event_type: col(r, "event_type")?,
        status: col(r, "status")?,
        attempts: col(r, "attempts")?,
        last_status_code: col(r, "last_status_code")?,
        last_latency_ms: col(r, "last_latency_ms")?,
        last_error: col(r, "last_error")?,
        next_attempt_at: col(r, "next_attempt_at")?,
        first_attempt_at: col(r, "first_attempt_at")?,
        delivered_at: col(r, "delivered_at")?,
        created_at: col(r, "created_at")?,
    })
}

/// An enabled subscription with work due at `$1` that no worker holds.
const PICK_WEBHOOK_SQL: &str = "SELECT w.id FROM webhooks w WHERE w.enabled AND (w.lease_until IS NULL OR w.lease_until < $1) \
     AND (w.due_at <= $1 OR w.event_cursor < COALESCE((SELECT s.seq FROM event_seqs s WHERE s.tenant_id = w.tenant_id), 0)) \
     ORDER BY COALESCE(w.lease_until, 0) LIMIT 1";

/// The head of a subscription's log: its oldest pending deliveries.
const NEXT_DELIVERIES_SQL: &str =
    concat!("SELECT ", delivery_cols!(), " FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'pending' ORDER BY id LIMIT $2");

const RECORD_ATTEMPT_SQL: &str = "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1, last_status_code = $2, \
     last_latency_ms = $3, last_error = $4, next_attempt_at = $5, first_attempt_at = COALESCE(first_attempt_at, $6), \
     delivered_at = CASE WHEN $7 THEN $6 ELSE delivered_at END WHERE id = $8";

/// Retention: events and delivery log entries older than a time, a bounded
/// range of keys from the oldest at a time.
const PRUNE_EVENTS_SQL: &str = "DELETE FROM events WHERE tenant_id = $1 AND seq < $2 AND occurred_at < $3";
const PRUNE_DELIVERIES_SQL: &str = "DELETE FROM webhook_deliveries WHERE id < $1 AND created_at < $2";

async fn webhook_in(c: &mut DbConn, tenant: Id, id: Id) -> Result<switchboard_domain::events::Webhook> {
    let row = sqlx::query(concat!("SELECT ", webhook_cols!(), " FROM webhooks WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    row.as_ref().map(webhook_of).transpose()?.ok_or_else(|| Error::not_found(Entity::Webhook, id))
}

/// A leased subscription as `owner` works it from its row at `now`: with
/// its secret, and the rotated-out one while that still signs.
fn claim_of(r: &DbRow, owner: &str, now: Millis) -> Result<switchboard_domain::events::Claim> {
    let webhook = webhook_of(r)?;
    let previous_secret = if webhook.previous_secret_expires_at.is_some_and(|t| t > now) { col(r, "previous_secret")? } else { None };
    Ok(switchboard_domain::events::Claim {
        tenant_id: col(r, "tenant_id")?,
        secret: col(r, "secret")?,
        previous_secret,
        owner: owner.to_string(),
        webhook,
    })
}

/// Adds a subscription's events after its cursor (up to 1,000 of them,
/// those its filter takes) to its delivery log, in the caller's
/// transaction; its new cursor and how many deliveries were added.
async fn append_new_events(c: &mut DbConn, webhook: &switchboard_domain::events::Webhook, tenant: Id, now: Millis) -> Result<(i64, usize)> {
    let news = sqlx::query("SELECT seq, type FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000")
        .bind(tenant)
        .bind(webhook.cursor)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
    let Some(last) = news.last() else { return Ok((webhook.cursor, 0)) };
    let last: i64 = col(last, "seq")?;
    let mut taken = Vec::with_capacity(news.len());
    for r in &news {
        let ty: String = col(r, "type")?;
        if switchboard_domain::events::filter_takes(webhook.events.as_deref(), &ty) {
            taken.push((col::<i64>(r, "seq")?, ty));
        }
    }
    // A statement per 100 deliveries rather than one each.
    for chunk in taken.chunks(100) {
        let mut qb = QueryBuilder::new(
            "INSERT INTO webhook_deliveries (webhook_id, tenant_id, seq, event_type, status, attempts, next_attempt_at, created_at) VALUES ",
        );
        let (w, t, at) = (qb.arg(Arg::Int(webhook.id)), qb.arg(Arg::Int(tenant)), qb.arg(Arg::Int(now)));
        for (i, (seq, ty)) in chunk.iter().enumerate() {
            let (q, y) = (qb.arg(Arg::Int(*seq)), qb.arg(Arg::Text(ty.clone())));
            qb.push(&format!("{}({w}, {t}, {q}, {y}, 'pending', 0, {at}, {at})", if i == 0 { "" } else { ", " }));
        }
        qb.push(" ON CONFLICT (webhook_id, seq) DO NOTHING");
        qb.build().execute(&mut *c).await.map_err(db_err)?;
    }
    sqlx::query("UPDATE webhooks SET event_cursor = $1 WHERE id = $2")
        .bind(last)
        .bind(webhook.id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok((last, taken.len()))
}

#[async_trait::async_trait]
impl switchboard_domain::events::EventStore for SqlStore {
    async fn list_events(&self, tenant: Id, after: i64, limit: u32) -> Result<Vec<switchboard_domain::events::ChangeEvent>> {
        let rows = sqlx::query(concat!(event_source!(), "$1 AND e.seq > $2 ORDER BY e.seq LIMIT $3"))
            .bind(tenant)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| event_of(tenant, r)).collect()
    }

    async fn create_webhook(
        &self,
        ctx: &WriteCtx,
        url: &str,
        events: Option<Vec<String>>,
        secret: &str,
    ) -> Result<switchboard_domain::events::Webhook> {
        let mut tx = self.write().await?;
        // Events from now on: the subscription starts after its own
        // creation's event, the next one (which the tenant's other
        // subscriptions get).
        let last: Option<i64> = sqlx::query_scalar("SELECT seq FROM event_seqs WHERE tenant_id = $1")
            .bind(ctx.tenant_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let events = events.as_ref().map(to_json).transpose()?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhooks (tenant_id, url, events, secret, enabled, event_cursor, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1) RETURNING id",
        )
        .bind(ctx.tenant_id)
        .bind(url)
        .bind(events)
        .bind(secret)
        .bind(true)
        .bind(last.unwrap_or(0) + 1)
        .bind(ctx.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let w = webhook_in(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Webhook, id, AuditAction::Create, none(), Some(&w)).await?;
        commit(tx).await?;
        Ok(w)
    }

    async fn list_webhooks(&self, tenant: Id, after: Id, limit: u32) -> Result<Page<switchboard_domain::events::Webhook>> {
        let rows = sqlx::query(concat!("SELECT ", webhook_cols!(), " FROM webhooks WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(tenant)
            .bind(after)
            .bind(fetch_limit(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(page_of(rows.iter().map(webhook_of).collect::<Result<Vec<_>>>()?, limit))
    }

    async fn get_webhook(&self, tenant: Id, id: Id) -> Result<switchboard_domain::events::Webhook> {
        let mut c = self.reader.acquire().await.map_err(db_err)?;
        webhook_in(&mut c, tenant, id).await
    }

    async fn update_webhook(
        &self,
        ctx: &WriteCtx,
        id: Id,
        ch: switchboard_domain::events::WebhookChanges,
        expected: Option<i64>,
    ) -> Result<switchboard_domain::events::Webhook> {
        let (tenant, now) = (ctx.tenant_id, ctx.now);
        let mut tx = self.write_locking(Entity::Webhook, id).await?;
        let before = webhook_in(&mut tx, tenant, id).await?;
        let mut w = before.clone();
        check_version(Entity::Webhook, id, w.version, expected)?;
        if let Some(url) = ch.url {
            w.url = url;
        }
        if let Some(events) = ch.events {
            w.events = events;
        }
        let mut reason = w.disabled_reason.clone();
        if let Some(enabled) = ch.enabled {
            if enabled {
                reason = None;
            }
            w.enabled = enabled;
        }
        let events = w.events.as_ref().map(to_json).transpose()?;
        // Due now: a worker looks at it again (re-enabled, new URL).
        let done = sqlx::query(
            "UPDATE webhooks SET url = $1, events = $2, enabled = $3, disabled_reason = $4, due_at = $5, updated_at = $5, \
             version = version + 1 WHERE id = $6 AND version = $7",
        )
        .bind(&w.url)
        .bind(events)
        .bind(w.enabled)
        .bind(reason)
        .bind(now)
        .bind(id)
        .bind(w.version)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        expect_one(done.rows_affected(), Entity::Webhook, id, w.version)?;
        let w = webhook_in(&mut tx, tenant, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Webhook, id, AuditAction::Update, Some(&before), Some(&w)).await?;
        commit(tx).await?;
        Ok(w)
    }

    async fn delete_webhook(&self, ctx: &WriteCtx, id: Id, expected: Option<i64>) -> Result<()> {
        let mut tx = self.write_locking(Entity::Webhook, id).await?;
        let w = webhook_in(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Webhook, id, w.version, expected)?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
        sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
        audit_ctx(&mut tx, ctx, Entity::Webhook, id, AuditAction::Delete, Some(&w), none()).await?;
        commit(tx).await
    }

    async fn rotate_webhook_secret(
        &self,
        ctx: &WriteCtx,
        id: Id,
        secret: &str,
        previous_until: Millis,
    ) -> Result<switchboard_domain::events::Webhook> {
        let mut tx = self.write_locking(Entity::Webhook, id).await?;
        let before = webhook_in(&mut tx, ctx.tenant_id, id).await?;
        // The secret being replaced keeps signing until `previous_until`
        // (a second rotation within that time drops the oldest).
        sqlx::query(
            "UPDATE webhooks SET previous_secret = secret, previous_secret_until = $1, secret = $2, updated_at = $3, \
             version = version + 1 WHERE id = $4",
        )
        .bind(previous_until)
        .bind(secret)
        .bind(ctx.now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let w = webhook_in(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Webhook, id, AuditAction::Update, Some(&before), Some(&w)).await?;
        commit(tx).await?;
        Ok(w)
    }

    async fn list_deliveries(&self, tenant: Id, webhook: Id, after: Id, limit: u32) -> Result<Page<switchboard_domain::events::Delivery>> {
        let mut c = self.reader.acquire().await.map_err(db_err)?;
        webhook_in(&mut c, tenant, webhook).await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_cols!(),
            " FROM webhook_deliveries WHERE webhook_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3"
        ))
        .bind(webhook)
        .bind(after)
        .bind(fetch_limit(limit))
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
        Ok(page_of(rows.iter().map(delivery_of).collect::<Result<Vec<_>>>()?, limit))
    }

    async fn redeliver(&self, tenant: Id, webhook: Id, delivery: Id, now: Millis) -> Result<switchboard_domain::events::Delivery> {
        let mut tx = self.write_locking(Entity::Webhook, webhook).await?;
        webhook_in(&mut tx, tenant, webhook).await?;
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, first_attempt_at = NULL \
             WHERE id = $2 AND webhook_id = $3",
        )
        .bind(now)
        .bind(delivery)
        .bind(webhook)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(Entity::Webhook, format!("{webhook}/deliveries/{delivery}")));
        }
        sqlx::query("UPDATE webhooks SET due_at = $1 WHERE id = $2").bind(now).bind(webhook).execute(&mut *tx).await.map_err(db_err)?;
        let row = sqlx::query(concat!("SELECT ", delivery_cols!(), " FROM webhook_deliveries WHERE id = $1"))
            .bind(delivery)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let d = delivery_of(&row)?;
        commit(tx).await?;
        Ok(d)
    }

    async fn claim_webhook(&self, owner: &str, now: Millis, lease_until: Millis) -> Result<Option<switchboard_domain::events::Claim>> {
        // Most polls find nothing due: ask a reader first, without the write lock.
        let due: Option<i64> = sqlx::query_scalar(PICK_WEBHOOK_SQL).bind(now).fetch_optional(&self.reader).await.map_err(db_err)?;
        if due.is_none() {
            return Ok(None);
        }
        let mut tx = This::begin_write(&self.writer).await?;
        let pick = format!("{PICK_WEBHOOK_SQL}{}", This::SKIP_LOCKED);
        let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(pick)).bind(now).fetch_optional(&mut *tx).await.map_err(db_err)?;
        let Some(id) = id else { return Ok(None) };
        let row = sqlx::query(concat!("UPDATE webhooks SET lease_owner = $1, lease_until = $2 WHERE id = $3 RETURNING ", webhook_cols!()))
            .bind(owner)
            .bind(lease_until)
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut claim = claim_of(&row, owner, now)?;
        // Its new events join its delivery log, in order.
        claim.webhook.cursor = append_new_events(&mut tx, &claim.webhook, claim.tenant_id, now).await?.0;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(claim))
    }

    async fn next_deliveries(
        &self,
        claim: &switchboard_domain::events::Claim,
        now: Millis,
        limit: u32,
    ) -> Result<Vec<(switchboard_domain::events::Delivery, Option<String>)>> {
        let rows =
            sqlx::query(NEXT_DELIVERIES_SQL).bind(claim.webhook.id).bind(i64::from(limit)).fetch_all(&self.reader).await.map_err(db_err)?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            let d = delivery_of(r)?;
            // In order: the first one not due yet holds back the rest.
            if d.next_attempt_at.is_some_and(|t| t > now) {
                break;
            }
            due.push(d);
        }
        if due.is_empty() {
            return Ok(Vec::new());
        }
        // Their events' bodies, in one read (none for a pruned event).
        let seqs: Vec<i64> = due.iter().map(|d| d.sequence).collect();
        let mut qb = QueryBuilder::for_tenant(event_source!(), claim.tenant_id);
        qb.push(" AND e.seq IN ");
        qb.push_ids(&seqs);
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        let mut bodies = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let e = event_of(claim.tenant_id, r)?;
            bodies.insert(e.seq, e.body);
        }
        Ok(due
            .into_iter()
            .map(|d| {
                let body = bodies.remove(&d.sequence);
                (d, body)
            })
            .collect())
    }

    async fn record_attempts(
        &self,
        claim: &mut switchboard_domain::events::Claim,
        attempts: &[switchboard_domain::events::Attempt],
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<usize>> {
        let mut tx = This::begin_write(&self.writer).await?;
        let held = sqlx::query(sqlx::AssertSqlSafe(format!(
            concat!("SELECT ", webhook_cols!(), " FROM webhooks WHERE id = $1 AND lease_owner = $2{}"),
            This::FOR_UPDATE
        )))
        .bind(claim.webhook.id)
        .bind(&claim.owner)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(held) = held else { return Ok(None) };
        // The subscription as it is now: a rotated secret, a new URL or
        // filter, or a disabling apply from here on, not at the next claim.
        *claim = claim_of(&held, &claim.owner, now)?;
        for a in attempts {
            let status = if a.delivered {
                "delivered"
            } else if a.retry_at.is_some() {
                "pending"
            } else {
                "failed"
            };
            sqlx::query(RECORD_ATTEMPT_SQL)
                .bind(status)
                .bind(a.status_code)
                .bind(a.latency_ms)
                .bind(a.error.as_deref())
                .bind(a.retry_at)
                .bind(a.at)
                .bind(a.delivered)
                .bind(a.delivery)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        // The events written meanwhile join the log, and the lease goes on.
        let (cursor, added) = append_new_events(&mut tx, &claim.webhook, claim.tenant_id, now).await?;
        sqlx::query("UPDATE webhooks SET lease_until = $1 WHERE id = $2")
            .bind(lease_until)
            .bind(claim.webhook.id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        claim.webhook.cursor = cursor;
        Ok(Some(added))
    }

    async fn release_webhook(&self, claim: &switchboard_domain::events::Claim, disable: Option<String>) -> Result<()> {
        let head: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT next_attempt_at FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'pending' ORDER BY id LIMIT 1",
        )
        .bind(claim.webhook.id)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        let due = head.map(|t| t.unwrap_or(0));
        sqlx::query(
            "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL, due_at = $1, \
             enabled = CASE WHEN $2 THEN FALSE ELSE enabled END, disabled_reason = COALESCE($3, disabled_reason) \
             WHERE id = $4 AND lease_owner = $5",
        )
        .bind(due)
        .bind(disable.is_some())
        .bind(disable)
        .bind(claim.webhook.id)
        .bind(&claim.owner)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn prune_events(&self, before: Millis, batch: u32) -> Result<u64> {
        let batch = i64::from(batch.max(1));
        let mut gone = 0;
        // Each tenant's events from its oldest, `batch` sequence numbers at
        // a time (the primary key's order; occurred_at grows with seq), in
        // short transactions that leave the writer to the writes between.
        let tenants: Vec<Id> = sqlx::query_scalar("SELECT id FROM tenants").fetch_all(&self.reader).await.map_err(db_err)?;
        for tenant in tenants {
            let head: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(&self.reader)
                .await
                .map_err(db_err)?;
            let Some(head) = head else { continue };
            let mut tx = This::begin_write(&self.writer).await?;
            let done = sqlx::query(PRUNE_EVENTS_SQL)
                .bind(tenant)
                .bind(head.saturating_add(batch))
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            gone += done.rows_affected();
        }
        let head: Option<i64> =
            sqlx::query_scalar("SELECT MIN(id) FROM webhook_deliveries").fetch_one(&self.reader).await.map_err(db_err)?;
        if let Some(head) = head {
            let mut tx = This::begin_write(&self.writer).await?;
            let done =
                sqlx::query(PRUNE_DELIVERIES_SQL).bind(head.saturating_add(batch)).bind(before).execute(&mut *tx).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            gone += done.rows_affected();
        }
        Ok(gone)
    }
}
