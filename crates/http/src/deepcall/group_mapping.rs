//! `POST …/Agent/updateAgentGroupMapping` and its read side
//! `POST …/Agent/getAgentGroupMapping` (a Switchboard extension).

use super::errors::{error, read_ok, reply, UPDATED};
use super::{auth, wire};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use switchboard_domain::{Error, Result, Rule};

/// The body's bytes; a body that cannot be read (over the size limit) is a
/// malformed request like any other.
fn bytes(body: std::result::Result<Bytes, BytesRejection>) -> Result<Bytes> {
    body.map_err(|_| Error::invalid("body", Rule::TooLong { max: crate::body_limit::MAX_BODY_BYTES }))
}

/// Creates or overwrites the listed memberships, all or nothing.
pub async fn update(State(s): State<AppState>, body: std::result::Result<Bytes, BytesRejection>) -> Response {
    let run = async {
        let m = wire::body_object(&bytes(body)?)?;
        let p = auth::caller(&s, &wire::credentials(&m)).await?;
        let agent = wire::agent_id(&m)?;
        let groups = wire::groups(&m)?;
        s.dir.set_group_memberships(&p, agent, &groups).await
    };
    match run.await {
        Ok(_) => reply(StatusCode::OK, UPDATED),
        Err(e) => error(&e),
    }
}

/// The agent's current memberships, in the update's `group` shape.
pub async fn read(State(s): State<AppState>, body: std::result::Result<Bytes, BytesRejection>) -> Response {
    let run = async {
        let m = wire::body_object(&bytes(body)?)?;
        let p = auth::caller(&s, &wire::credentials(&m)).await?;
        let agent = wire::agent_id(&m)?;
        s.dir.get_agent(&p, agent).await
    };
    match run.await {
        Ok(detail) => read_ok(wire::group_object(&detail.groups)),
        Err(e) => error(&e),
    }
}
