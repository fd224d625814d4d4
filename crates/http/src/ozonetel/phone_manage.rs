//! `POST /ca_apis/PhoneManageV2` with `action` create, edit or delete.

use super::errors::{error, not_json, rate_limited, reply, Api, PHONE_DELETED, PHONE_SAVED, PHONE_SAVED_SKILLS_FAILED};
use super::{body_map, credentials, plus_decoded, text, Ozonetel};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use std::sync::Arc;
use switchboard_domain::{OzonetelPhoneRequest, PhoneAction};

/// Unlimited unless a tenant (or the server-wide override) sets a limit.
pub const ENDPOINT: &str = "ozonetel.PhoneManageV2";

pub async fn handle(State(s): State<AppState>, Extension(oz): Extension<Arc<Ozonetel>>, h: HeaderMap, body: Bytes) -> Response {
    let b = match body_map(&body) {
        Ok(b) => b,
        Err(_) => return not_json(Api::PhoneManage, s.dir.now()),
    };
    let caller = match s.dir.ozonetel_authenticate(&credentials(&h, &b, "userName")).await {
        Ok(c) => c,
        Err(e) => return error(Api::PhoneManage, &e),
    };
    if let Err(wait) = oz.check_rate(&caller.tenant, ENDPOINT).await {
        return rate_limited(Api::PhoneManage, wait);
    }
    let r = OzonetelPhoneRequest {
        action: text(&b, "action"),
        phone_number: plus_decoded(text(&b, "phoneNumber")),
        phone_name: text(&b, "phoneName"),
        phone_number_new: plus_decoded(text(&b, "phoneNumberNew")),
        phone_name_new: text(&b, "phoneNameNew").or_else(|| text(&b, "PhoneNameNew")),
        skill: text(&b, "skill"),
        assign_skill: text(&b, "assignSkill"),
        unassign_skill: text(&b, "unAssignSkill"),
    };
    match s.dir.ozonetel_phone_manage(&caller.principal, &r).await {
        Ok(o) if o.action == PhoneAction::Delete => reply(StatusCode::OK, PHONE_DELETED),
        Ok(o) if o.skills_rejected => reply(StatusCode::OK, PHONE_SAVED_SKILLS_FAILED),
        Ok(_) => reply(StatusCode::OK, PHONE_SAVED),
        Err(e) => error(Api::PhoneManage, &e),
    }
}
