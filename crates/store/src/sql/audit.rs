// The audit trail: the event every write records (in its transaction), and
// `AuditStore`, which reads them.

macro_rules! audit_cols {
    () => {
        "id, tenant_id, at, actor_user_id, actor_api_key_id, actor, entity, entity_id, action, before_json, after_json"
    };
}

fn audit_of(r: &DbRow) -> Result<switchboard_domain::AuditEvent> {
    let entity: String = col(r, "entity")?;
    let action: String = col(r, "action")?;
    let before: Option<String> = col(r, "before_json")?;
    let after: Option<String> = col(r, "after_json")?;
    Ok(switchboard_domain::AuditEvent {
        id: col(r, "id")?,
        tenant_id: col(r, "tenant_id")?,
        at: col(r, "at")?,
        actor_user_id: col(r, "actor_user_id")?,
        actor_api_key_id: col(r, "actor_api_key_id")?,
        actor: col(r, "actor")?,
        entity: Entity::parse(&entity).ok_or_else(|| Error::Storage(format!("unknown audited entity {entity:?}")))?,
        entity_id: col(r, "entity_id")?,
        action: AuditAction::parse(&action).ok_or_else(|| Error::Storage(format!("unknown audit action {action:?}")))?,
        before: before.as_deref().map(|s| from_json(s, "audit before")).transpose()?,
        after: after.as_deref().map(|s| from_json(s, "audit after")).transpose()?,
    })
}

const AUDIT_SQL: &str =
    "INSERT INTO audit_events (tenant_id, at, actor_user_id, actor_api_key_id, actor, entity, entity_id, action, before_json, after_json) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";

/// Appends one audit event inside the caller's transaction, and its change
/// event to the outbox (`sql/events.rs`): every audited write announces
/// itself. The states come as JSON values, encoded once for the audit row
/// and read as they are by the event.
#[allow(clippy::too_many_arguments)]
async fn audit(
    c: &mut DbConn,
    tenant: Id,
    actor: &Actor,
    now: Millis,
    entity: Entity,
    entity_id: Id,
    action: AuditAction,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let before_json = before.as_ref().map(to_json).transpose()?;
    let after_json = after.as_ref().map(to_json).transpose()?;
    let audit_id: Id = sqlx::query_scalar(AUDIT_SQL)
        .bind(tenant)
        .bind(now)
        .bind(actor.user_id)
        .bind(actor.api_key_id)
        .bind(actor.label.as_str())
        .bind(entity.as_str())
        .bind(entity_id)
        .bind(action.as_str())
        .bind(before_json)
        .bind(after_json)
        .fetch_one(&mut *c)
        .await
        .map_err(db_err)?;
    // The change event, from the same states, in the same transaction.
    record_event(c, tenant, now, entity, action, audit_id, before.as_ref(), after.as_ref()).await
}

/// `audit` for the common case of a `WriteCtx`.
async fn audit_ctx<B: serde::Serialize, A: serde::Serialize>(
    c: &mut DbConn,
    ctx: &WriteCtx,
    entity: Entity,
    entity_id: Id,
    action: AuditAction,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<()> {
    let before = before.map(|b| to_value(b)).transpose()?;
    let after = after.map(|a| to_value(a)).transpose()?;
    audit(c, ctx.tenant_id, &ctx.actor, ctx.now, entity, entity_id, action, before, after).await
}

#[async_trait::async_trait]
impl AuditStore for SqlStore {
    async fn list_audit(&self, tenant: Id, entity: Option<Entity>, entity_id: Option<Id>, page: PageRequest) -> Result<Page<AuditEvent>> {
        // Newest first, so audit pages go backwards: `after` (when > 0) is the
        // last id of the previous page and the next page holds smaller ids.
        let mut qb = QueryBuilder::for_tenant(concat!("SELECT ", audit_cols!(), " FROM audit_events WHERE tenant_id = "), tenant);
        if let Some(e) = entity {
            let p = qb.arg(Arg::Text(e.as_str().to_string()));
            qb.push(&format!(" AND entity = {p}"));
        }
        if let Some(id) = entity_id {
            let p = qb.arg(Arg::Int(id));
            qb.push(&format!(" AND entity_id = {p}"));
        }
        if page.after > 0 {
            let p = qb.arg(Arg::Int(page.after));
            qb.push(&format!(" AND id < {p}"));
        }
        let lim = qb.arg(Arg::Int(fetch_limit(page.limit)));
        let off = qb.arg(Arg::Int(offset_of(page.offset)));
        qb.push(&format!(" ORDER BY id DESC LIMIT {lim} OFFSET {off}"));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        Ok(page_of(rows.iter().map(audit_of).collect::<Result<Vec<_>>>()?, page.limit))
    }
}
