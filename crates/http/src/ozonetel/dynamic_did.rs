//! `POST /APIServices/dynamic/did/update`: the credentials are in the body
//! (`username`, `apiKey`), as are the campaign and both DID lists.

use super::errors::{error, not_json, rate_limited, reply, spring_500, Api, DIDS_UPDATED};
use super::{bearer, body_map, credentials, plus_decoded, text, Ozonetel};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use std::sync::Arc;

/// Unlimited unless a tenant (or the server-wide override) sets a limit.
pub const ENDPOINT: &str = "ozonetel.dynamicDids";

pub async fn handle(State(s): State<AppState>, Extension(oz): Extension<Arc<Ozonetel>>, h: HeaderMap, body: Bytes) -> Response {
    let b = match body_map(&body) {
        Ok(b) => b,
        Err(_) => return not_json(Api::DynamicDids, s.dir.now()),
    };
    // The vendor's service fails on a body without the key (documented).
    if !b.contains_key("apiKey") && bearer(&h).is_none() {
        return spring_500(s.dir.now());
    }
    let mut creds = credentials(&h, &b, "username");
    if creds.user_name.is_none() {
        creds.user_name = text(&b, "userName");
    }
    let caller = match s.dir.ozonetel_authenticate(&creds).await {
        Ok(c) => c,
        Err(e) => return error(Api::DynamicDids, &e),
    };
    if let Err(wait) = oz.check_rate(&caller.tenant, ENDPOINT).await {
        return rate_limited(Api::DynamicDids, wait);
    }
    let campaign = text(&b, "campaignName");
    let dynamic = plus_decoded(text(&b, "dynamicDIDs"));
    let fallback = plus_decoded(text(&b, "fallbackDynamicDIDs"));
    match s.dir.ozonetel_update_dynamic_dids(&caller.principal, campaign.as_deref(), dynamic.as_deref(), fallback.as_deref()).await {
        Ok(_) => reply(StatusCode::OK, DIDS_UPDATED),
        Err(e) => error(Api::DynamicDids, &e),
    }
}
