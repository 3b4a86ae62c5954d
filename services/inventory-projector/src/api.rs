//! The availability API: `GET /v1/availability/{sku}?location=<id>`, authenticated by API key
//! (`Authorization: Bearer <key>` or `X-API-Key: <key>`), answered from the projector's state.
//!
//! * 200: `{"sku": ..., "positions": [{"location_id", "warehouse_id", "on_hand", "reserved",
//!   "backordered", "available", "channel_atp": {"HTTP": n, ...}, "safety_stock": {...},
//!   "position_version", "last_movement_at"}]}` (one position with `location`).
//! * 401 without a valid key; 404 for a SKU (or location) the projection does not hold;
//!   503 `not_owner` when another instance owns the SKU's partition (ask it, or the compacted
//!   availability topic), 503 `unavailable` while the state cannot be read.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
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
    /// Accepted keys.
    pub api_keys: Vec<String>,
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
    Router::new()
        .route("/v1/availability/{sku}", get(availability))
        .with_state(api)
}

fn authorized(api: &Api, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").map(str::trim))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
    let Some(given) = given else { return false };
    api.api_keys
        .iter()
        .filter(|k| !k.is_empty())
        .any(|k| constant_time_eq(k.as_bytes(), given.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

#[tracing::instrument(skip(api, headers, q), fields(location = ?q.location))]
async fn availability(
    State(api): State<Arc<Api>>,
    Path(sku): Path<String>,
    Query(q): Query<AvailabilityQuery>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&api, &headers) {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send an API key as Authorization: Bearer <key> or X-API-Key",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
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
