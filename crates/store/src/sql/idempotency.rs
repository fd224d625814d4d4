// Idempotency keys of the native API: `IdempotencyStore`.

/// Idempotency records older than this are forgotten.
const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

#[async_trait::async_trait]
impl IdempotencyStore for SqlStore {
    async fn claim_idempotency_key(&self, tenant: Id, key: &str, fingerprint: &str, now: Millis) -> Result<Option<IdempotentResponse>> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND created_at < $2")
            .bind(tenant)
            .bind(now - IDEMPOTENCY_TTL_MS)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, body, headers, created_at) \
             VALUES ($1, $2, $3, NULL, $4, '[]', $5) ON CONFLICT (tenant_id, key) DO NOTHING",
        )
        .bind(tenant)
        .bind(key)
        .bind(fingerprint)
        .bind(Vec::<u8>::new())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 1 {
            commit(tx).await?;
            return Ok(None);
        }
        let row = sqlx::query("SELECT fingerprint, status, body, headers FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
            .bind(tenant)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await?;
        let status: Option<i64> = col(&row, "status")?;
        let headers: String = col(&row, "headers")?;
        Ok(Some(IdempotentResponse {
            fingerprint: col(&row, "fingerprint")?,
            status: status.map(|s| u16::try_from(s).map_err(|_| Error::Storage(format!("stored status {s} out of range")))).transpose()?,
            body: col(&row, "body")?,
            headers: from_json(&headers, "idempotent response headers")?,
        }))
    }

    async fn complete_idempotency_key(&self, tenant: Id, key: &str, resp: &IdempotentResponse) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE idempotency_keys SET status = $1, body = $2, headers = $3 WHERE tenant_id = $4 AND key = $5")
            .bind(resp.status.map(i64::from))
            .bind(resp.body.clone())
            .bind(to_json(&resp.headers)?)
            .bind(tenant)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await
    }

    // ---- bulk import and export (sql/import.rs) ---------------------------------------------

    async fn release_idempotency_key(&self, tenant: Id, key: &str) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
            .bind(tenant)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await
    }
}
