//! The upload endpoint: `POST /partners/{partner}/interchanges` with the raw X12 as the body.
//!
//! Authentication: `Authorization: Bearer <key>` or `X-Api-Key: <key>`; the key must be one of
//! the service's keys (`--upload-api-key`, any partner) or one whose SHA-256 is listed in the
//! partner's profile (`upload.api_key_sha256`, that partner only). Keys are compared as SHA-256
//! digests in constant time and never logged.
//!
//! Answers: `200` with the outcome (per interchange: outcome, TA1 note, groups and sets with
//! their status and order ids, acknowledgement file) once everything is published and
//! delivered; `202` with the same body when the outcome is journaled but publishing waits for
//! the broker; `401` without a valid key; `403` with a key of another partner; `404` for an
//! unknown partner; `400` for an empty body; `413` above `--max-body-bytes`; `500` when the
//! file could not be archived.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tracing::warn;

use crate::files;
use crate::gateway::Gateway;
use crate::journal::ReceiptSource;

/// Who may upload.
#[derive(Clone)]
pub struct UploadAuth {
    global: Vec<[u8; 32]>,
}

impl std::fmt::Debug for UploadAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadAuth")
            .field("global_keys", &self.global.len())
            .finish()
    }
}

impl UploadAuth {
    /// The service-wide keys.
    pub fn new(global_keys: &[String]) -> Self {
        UploadAuth {
            global: global_keys
                .iter()
                .map(|k| files::sha256(k.trim().as_bytes()))
                .collect(),
        }
    }
}

#[derive(Clone)]
struct Api {
    gateway: Arc<Gateway>,
    auth: UploadAuth,
}

fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some(k) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(k.trim().to_owned());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| k.trim().to_owned())
}

fn error(status: StatusCode, message: &str) -> Response {
    let mut r = (status, Json(json!({ "error": message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
    }
    r
}

/// The upload router.
pub fn router(gateway: Arc<Gateway>, auth: UploadAuth, max_upload_bytes: usize) -> Router {
    Router::new()
        .route("/partners/{partner}/interchanges", post(upload))
        .layer(DefaultBodyLimit::max(max_upload_bytes))
        .with_state(Api { gateway, auth })
}

#[tracing::instrument(skip_all, fields(partner = %partner))]
async fn upload(
    State(api): State<Api>,
    Path(partner): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let m = &api.gateway.metrics().uploads;
    let Some(key) = presented_key(&headers) else {
        m.with_label_values(&["unauthorized"]).inc();
        return error(
            StatusCode::UNAUTHORIZED,
            "an API key is required (Authorization: Bearer <key> or X-Api-Key)",
        );
    };
    let digest = files::sha256(key.as_bytes());
    let global = api.auth.global.iter().any(|h| files::digest_eq(h, &digest));
    let profile = api.gateway.profiles().get(&partner).cloned();
    let partner_key = profile.as_ref().is_some_and(|p| {
        p.upload_key_hashes
            .iter()
            .any(|h| files::digest_eq(h, &digest))
    });
    let other_partner = !global
        && !partner_key
        && api.gateway.profiles().iter().any(|p| {
            p.upload_key_hashes
                .iter()
                .any(|h| files::digest_eq(h, &digest))
        });
    if other_partner {
        m.with_label_values(&["forbidden"]).inc();
        return error(
            StatusCode::FORBIDDEN,
            "this API key may not upload for this partner",
        );
    }
    if !global && !partner_key {
        m.with_label_values(&["unauthorized"]).inc();
        return error(StatusCode::UNAUTHORIZED, "invalid API key");
    }
    let Some(profile) = profile else {
        m.with_label_values(&["unknown_partner"]).inc();
        return error(StatusCode::NOT_FOUND, &format!("unknown partner {partner}"));
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let status = e.status();
            m.with_label_values(&[if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            }])
            .inc();
            return error(status, &e.body_text());
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        m.with_label_values(&["empty"]).inc();
        return error(StatusCode::BAD_REQUEST, "the body is empty");
    }
    match api
        .gateway
        .receive(
            &profile.id,
            body.to_vec(),
            ReceiptSource::Upload { remote: None },
        )
        .await
    {
        Ok(outcome) => {
            m.with_label_values(&["accepted"]).inc();
            let status = if outcome.completed {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            (status, Json(outcome)).into_response()
        }
        Err(e) => {
            warn!(error = %e, "upload not received");
            m.with_label_values(&["failed"]).inc();
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
    }
}
