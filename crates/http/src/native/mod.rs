//! The native REST API, `/api/v1`: JSON in camelCase, integer ids, Bearer API
//! keys, RFC 9457 problems, cursor paging, ETags and idempotency keys. The
//! OpenAPI document is generated from the handlers' annotations.

mod admin;
mod agents;
mod catalog;
pub mod contract;
pub mod events;
pub mod extract;
mod idempotency;
mod imports;
pub mod paging;
pub mod problem;
pub mod schema;
mod sessions;
mod wire;

use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use problem::Problem;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, SecurityRequirement};
use utoipa_axum::router::OpenApiRouter;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(agents::routes())
        .merge(catalog::routes())
        .merge(admin::routes())
        .merge(imports::routes())
        .merge(events::routes())
}

/// Everything in the document: the authenticated API and the login routes.
fn documented() -> OpenApiRouter<AppState> {
    api().merge(sessions::routes())
}

/// The native API's routes, behind authentication and idempotency.
pub fn router(state: &AppState) -> Router<AppState> {
    let (routes, _) = api().split_for_parts();
    // The gate notes each route's template itself; the open routes in a layer.
    let open = sessions::routes()
        .split_for_parts()
        .0
        .route("/api/v1/openapi.json", get(openapi))
        .route_layer(tower::util::MapRequestLayer::new(crate::telemetry::track));
    routes
        // Authentication, then Idempotency-Key handling.
        .route_layer(extract::GateLayer(state.clone()))
        .merge(open)
}

/// The OpenAPI 3.1 document of the native API.
pub fn document() -> OpenApi {
    let (_, mut doc) = documented().split_for_parts();
    doc.info = InfoBuilder::new()
        .title("Switchboard native API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Contact-center agent administration. Authenticate with `Authorization: Bearer <API key>`. \
             Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    // Every error answer is a Problem (contract.rs lists them per operation).
    components.schemas.insert("Problem".into(), <Problem as utoipa::PartialSchema>::schema());
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("API key").build()),
    );
    doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    doc
}

/// The served document: utoipa's, completed from the routes (`contract.rs`).
pub fn openapi_json() -> String {
    let mut doc = serde_json::to_value(document()).expect("the OpenAPI document serialises");
    contract::complete(&mut doc);
    serde_json::to_string(&doc).expect("the OpenAPI document serialises")
}

async fn openapi(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], s.openapi.as_str().to_owned()).into_response()
}

pub async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not accept that method")
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log").into_response()
}

/// Fuzzing: parses an agent create body and validates it like the handler.
#[cfg(feature = "fuzzing")]
pub fn fuzz_agent_body(data: &[u8]) {
    agents::fuzz_body(data);
}
