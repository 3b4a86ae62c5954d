//! The availability API: `GET /v1/availability/{sku}?location=<id>`, authenticated by
//! [`dsync_service::auth`] (`X-Api-Key: <key>` from `--api-keys`, `Authorization: Bearer
//! <token>` from `--bearer-tokens`), answered from the projector's state.
//!
//! * 200: `{"sku": ..., "positions": [{"location_id", "warehouse_id", "on_hand", "reserved",
//!   "backordered", "available", "channel_atp": {"HTTP": n, ...}, "safety_stock": {...},
//!   "position_version", "last_movement_at"}]}` (one position with `location`).
//! * 401 without a valid key; 404 for a SKU (or location) the projection does not hold;
//!   503 `not_owner` when another instance owns the SKU's partition (ask it, or the compacted
//!   availability topic), 503 `unavailable` while the state cannot be read; 400 for a path or
//!   query that cannot be decoded; every error in the shared JSON shape
//!   ([`dsync_service::http::ApiError`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dsync_service::auth::{Authenticator, Principal};
use dsync_service::http::{json_fallbacks, ApiError, Path, Query};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::handlers::channel_atp;
use crate::projector::{Lookup, Projector};
use crate::state::CHANNELS;

/// Shared state of the handlers.
#[derive(Debug)]
pub struct Api {
    /// The projector.
    pub projector: Arc<Projector>,
    /// The API's credentials.
    pub auth: Authenticator,
}

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct AvailabilityQuery {
    /// Only this location.
    pub location: Option<String>,
}

/// One position in an answer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PositionView {
    /// Location.
    pub location_id: String,
    /// Warehouse.
    pub warehouse_id: String,
    /// On hand.
    pub on_hand: i64,
    /// Reserved.
    pub reserved: i64,
    /// Queued backorders.
    pub backordered: i64,
    /// on hand - reserved.
    pub available: i64,
    /// Available-to-promise per channel.
    pub channel_atp: std::collections::BTreeMap<String, i64>,
    /// Safety stock per channel.
    pub safety_stock: std::collections::BTreeMap<String, i64>,
    /// Published position version.
    pub position_version: i64,
    /// occurred_at of the latest movement (ms), if any.
    pub last_movement_at: Option<i64>,
}

/// The router.
pub fn router(api: Arc<Api>) -> Router {
    let routes = Router::new().route("/v1/availability/{sku}", get(availability));
    json_fallbacks(api.auth.protect(routes)).with_state(api)
}

fn error(status: StatusCode, code: &'static str, message: &str) -> Response {
    ApiError::new(status, code, message).into_response()
}

#[tracing::instrument(skip(api, q), fields(location = ?q.location, client = %client))]
async fn availability(
    State(api): State<Arc<Api>>,
    client: Principal,
    Path(sku): Path<String>,
    Query(q): Query<AvailabilityQuery>,
) -> Response {
    let st = match api.projector.lookup(&sku).await {
        Ok(Lookup::Found(st)) => st,
        Ok(Lookup::Unknown) => {
            return error(
                StatusCode::NOT_FOUND,
                "unknown_sku",
                "no stock position for this SKU",
            )
        }
        Ok(Lookup::NotOwned) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_owner",
                "another instance owns this SKU's partition",
            )
        }
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &e.to_string(),
            )
        }
    };
    let ctx = api.projector.ctx();
    let positions: Vec<PositionView> = st
        .positions
        .iter()
        .filter(|(loc, _)| q.location.as_deref().is_none_or(|l| l == loc.as_str()))
        .map(|(loc, p)| PositionView {
            location_id: loc.clone(),
            warehouse_id: p.warehouse_id.clone(),
            on_hand: p.on_hand,
            reserved: p.reserved(),
            backordered: p.backordered(),
            available: p.available(),
            channel_atp: CHANNELS
                .iter()
                .map(|c| (c.as_str().to_owned(), channel_atp(ctx, &sku, loc, p, *c)))
                .collect(),
            safety_stock: CHANNELS
                .iter()
                .map(|c| (c.as_str().to_owned(), ctx.rules.safety(&sku, loc, *c)))
                .collect(),
            position_version: p.version,
            last_movement_at: p.last_movement_at,
        })
        .collect();
    if positions.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_location",
            "no stock position for this SKU at this location",
        );
    }
    (
        StatusCode::OK,
        Json(json!({"sku": sku, "positions": positions})),
    )
        .into_response()
}
