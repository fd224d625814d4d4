//! Who is calling. The body carries either `ssid` — the `sessionId` of a
//! native session login (`POST /api/v1/sessions`) — or `userId` + `token`:
//! an API key of the tenant and the numeric id of the user it belongs to.
//! With `userId`/`token`, `ssid` must be absent (the document's rule); any
//! other combination, an unknown, revoked or expired credential, or a
//! `userId` that is not the key's user, is `Unauthenticated`.

use super::wire::Credentials;
use crate::native::extract::touch_key;
use crate::AppState;
use switchboard_domain::{Error, Id, Principal, Result};

/// The kind of session an `ssid` must be: a user's native login.
const SSID_KIND: &str = "native";

pub async fn caller(s: &AppState, c: &Credentials) -> Result<Principal> {
    let p = authenticate(s, c).await?;
    crate::telemetry::note_tenant(p.tenant_id);
    Ok(p)
}

async fn authenticate(s: &AppState, c: &Credentials) -> Result<Principal> {
    match (c.ssid.as_deref(), c.user_id.as_deref(), c.token.as_deref()) {
        (Some(ssid), None, None) => {
            let session = s.dir.session(ssid).await?;
            if session.kind != SSID_KIND {
                return Err(Error::Unauthenticated);
            }
            Ok(session.principal)
        }
        (None, Some(user_id), Some(token)) => {
            let p = s.dir.authenticate_key(token).await?;
            if user_id.parse::<Id>().ok() != Some(p.user_id) {
                return Err(Error::Unauthenticated);
            }
            if let Some(key_id) = p.api_key_id {
                touch_key(s, key_id);
            }
            Ok(p)
        }
        _ => Err(Error::Unauthenticated),
    }
}
