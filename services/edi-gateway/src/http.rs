//! The upload endpoint: `POST /partners/{partner}/interchanges` with the raw X12 as the body.
//!
//! Authentication ([`dsync_service::auth`], the same header rules as every API): an API key
//! (`X-Api-Key`) from `--api-keys` or a bearer token (`Authorization: Bearer`) from
//! `--bearer-tokens` may upload for any partner; a key whose SHA-256 is listed in the partner's
//! profile (`upload.api_key_sha256`) may upload for that partner only, sent in either header.
//! Keys are compared as SHA-256 digests in constant time and never logged. (The deprecated
//! `--upload-api-key` keys count as both an API key and a bearer token.)
//!
//! Answers: `200` with the outcome (per interchange: outcome, TA1 note, groups and sets with
//! their status and order ids, acknowledgement file) once everything is published and
//! delivered; `202` with the same body when the outcome is journaled but publishing waits for
//! the broker; `401` without a valid key; `403` with a key of another partner; `404` for an
//! unknown partner; `400` for an empty body; `413` above `--max-body-bytes` (at once when
//! `Content-Length` announces more); `500` when the file could not be archived. Errors have
//! the shared JSON shape (`{"error": "<code>", "message": "..."}`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use dsync_service::auth::{AuthFailure, Authenticator, Presented, Principal, Unauthorized};
use dsync_service::http::{json_fallbacks, limit_body, ApiError, Path};
use tracing::warn;

use crate::gateway::Gateway;
use crate::journal::ReceiptSource;

#[derive(Clone)]
struct Api {
    gateway: Arc<Gateway>,
    auth: Authenticator,
}

/// The upload router; `auth` holds the credentials allowed for every partner.
pub fn router(gateway: Arc<Gateway>, auth: Authenticator, max_body_bytes: usize) -> Router {
    let routes = Router::new().route("/partners/{partner}/interchanges", post(upload));
    limit_body(json_fallbacks(routes), max_body_bytes)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&gateway),
            count_too_large,
        ))
        .with_state(Api { gateway, auth })
}

/// Counts every 413: those answered before the body is read (announced `Content-Length`) and
/// those of a body that turned out too large.
async fn count_too_large(
    State(gateway): State<Arc<Gateway>>,
    req: Request,
    next: Next,
) -> Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        gateway
            .metrics()
            .uploads
            .with_label_values(&["too_large"])
            .inc();
    }
    resp
}

/// Whether `presented` is one of the partner keys (every key compared).
fn among(presented: &Presented, hashes: &[[u8; 32]]) -> bool {
    hashes
        .iter()
        .fold(false, |found, h| presented.matches_digest(h) | found)
}

/// Why an upload is refused.
enum Refused {
    /// No valid credential (401).
    Unauthorized(Unauthorized),
    /// Another partner's key (403).
    Forbidden,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthorized(u) => u.into_response(),
            Refused::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this API key may not upload for this partner",
            )
            .into_response(),
        }
    }
}

/// Who uploads for `partner`: a service-wide credential or one of the partner's keys.
fn authenticate(api: &Api, partner: &str, headers: &HeaderMap) -> Result<Principal, Refused> {
    let presented = Presented::from_headers(headers)
        .map_err(|f| Refused::Unauthorized(api.auth.unauthorized(f)))?;
    if let Some(p) = api.auth.verify(&presented) {
        return Ok(p);
    }
    let profiles = api.gateway.profiles();
    if profiles
        .get(partner)
        .is_some_and(|p| among(&presented, &p.upload_key_hashes))
    {
        return Ok(Principal::new(
            format!("partner:{partner}"),
            presented.scheme(),
        ));
    }
    if profiles
        .iter()
        .any(|p| among(&presented, &p.upload_key_hashes))
    {
        return Err(Refused::Forbidden);
    }
    Err(Refused::Unauthorized(
        api.auth
            .unauthorized(AuthFailure::Invalid(presented.scheme())),
    ))
}

#[tracing::instrument(skip_all, fields(partner = %partner, client))]
async fn upload(
    State(api): State<Api>,
    Path(partner): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let m = &api.gateway.metrics().uploads;
    let client = match authenticate(&api, &partner, &headers) {
        Ok(c) => c,
        Err(refused) => {
            let label = match refused {
                Refused::Unauthorized(_) => "unauthorized",
                Refused::Forbidden => "forbidden",
            };
            m.with_label_values(&[label]).inc();
            return refused.into_response();
        }
    };
    tracing::Span::current().record("client", client.name());
    let Some(profile) = api.gateway.profiles().get(&partner).cloned() else {
        m.with_label_values(&["unknown_partner"]).inc();
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_partner",
            format!("unknown partner {partner}"),
        )
        .into_response();
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let status = e.status();
            // A 413 is counted by `count_too_large`.
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "body_too_large"
            } else {
                m.with_label_values(&["bad_request"]).inc();
                "unreadable_body"
            };
            return ApiError::new(status, code, e.body_text()).into_response();
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        m.with_label_values(&["empty"]).inc();
        return ApiError::new(StatusCode::BAD_REQUEST, "empty_body", "the body is empty")
            .into_response();
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
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "not_received",
                e.to_string(),
            )
            .into_response()
        }
    }
}
