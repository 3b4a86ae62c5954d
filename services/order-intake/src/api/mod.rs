//! The order API (axum): `POST /v1/orders`, `GET /v1/orders/{id}`, `GET /v1/openapi.json`.
//!
//! * Authentication: every `/v1/orders` request carries an API key (`X-API-Key`) or a bearer
//!   token (`Authorization: Bearer ...`) from the configuration; 401 otherwise. The client's
//!   name becomes the submission's `submitted_by`.
//! * `POST /v1/orders` needs an `Idempotency-Key` header (400 without). The body is limited
//!   (413), must be JSON (415), parse (400 with line and column) and validate (422 with the
//!   field path and reason of every problem). The order id is derived from the customer and
//!   the key. If the order already has an outcome, the same body gets the original answer
//!   (header `Idempotency-Replayed: true`) and another body 409, without publishing anything.
//!   Otherwise the submission is published to `orders.submissions` and the call returns only
//!   once the broker acknowledged it (503 if it cannot); it then waits up to `--result-wait`
//!   for the outcome: 201 ACCEPTED, 200 REJECTED (with every reason), 409 if the key turned
//!   out to be taken by different content, else 202 PENDING with the status URL.
//! * `GET /v1/orders/{id}`: the outcome; PENDING for a submission this instance published and
//!   that has no outcome yet; 404 otherwise.

pub mod model;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use dsync_bus::LocalDelivery;
use dsync_telemetry::admin::Readiness;
use serde_json::json;
use tracing::{info, warn};

use crate::core::Core;
use crate::handlers::submissions::content_hash;
use crate::settings::Credential;
use crate::state::OrderRecord;
use model::{status_url, FieldError, OrderRequest, OrderStatusBody};

/// The OpenAPI document of the API (also `services/order-intake/openapi.json`).
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Header carrying the idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Header set on answers replayed from an earlier outcome.
pub const IDEMPOTENCY_REPLAYED: &str = "idempotency-replayed";
/// Header carrying an API key.
pub const API_KEY: &str = "x-api-key";
/// Optional header: the correlation id to use for the order's flow.
pub const CORRELATION_ID: &str = "x-correlation-id";

/// What the handlers share.
#[derive(Debug)]
pub struct Api {
    /// The core.
    pub core: Arc<Core>,
    /// Accepted API keys.
    pub api_keys: Vec<Credential>,
    /// Accepted bearer tokens.
    pub bearer_tokens: Vec<Credential>,
    /// How long POST waits for the outcome.
    pub result_wait: Duration,
    /// Most lines per order.
    pub max_lines: usize,
    /// Hands our own submissions to the local consumer when this instance owns the customer's
    /// partition (no wait for the fetch).
    pub local: LocalDelivery,
    /// The instance's readiness; a submission is refused with 503 while any of
    /// [`Api::decide_checks`] is not ready (it could not be decided).
    pub readiness: Readiness,
    /// The checks that must be ready for submissions to be decided: the loaded state and the
    /// submissions consumer's group.
    pub decide_checks: Vec<String>,
}

/// Seconds a client is asked to wait before retrying a refused submission.
pub const RETRY_AFTER_SECS: u64 = 5;

impl Api {
    /// 503 with `Retry-After` when this instance cannot decide submissions now (state still
    /// loading, or its consumer group does not cover its partitions): accepting them would
    /// answer 202 PENDING for orders nobody decides until the group recovers.
    fn refuse_unless_deciding(&self) -> Option<Response> {
        let names: Vec<&str> = self.decide_checks.iter().map(String::as_str).collect();
        let (check, detail) = self.readiness.first_not_ready(&names)?;
        let mut resp = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_deciding",
            format!(
                "this instance cannot decide orders now ({check}: {detail}); retry with the same Idempotency-Key"
            ),
            &[],
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        Some(resp)
    }
}

/// The authenticated client.
#[derive(Debug, Clone)]
pub struct Client(pub String);

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    // Serializing plain structs and `Value`s cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn error(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    errors: &[FieldError],
) -> Response {
    let mut body = json!({ "error": code, "message": message.into() });
    if !errors.is_empty() {
        body["errors"] = json!(errors);
    }
    json_response(status, &body)
}

/// An error answer: status, machine-readable code, message and the fields at fault.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    errors: Vec<FieldError>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        errors: Vec<FieldError>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, self.code, self.message, &self.errors)
    }
}

/// The API's routes.
pub fn router(api: Arc<Api>, max_body_bytes: usize) -> Router {
    let orders = Router::new()
        .route("/v1/orders", post(submit))
        .route("/v1/orders/{order_id}", get(status))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&api),
            authenticate,
        ));
    Router::new()
        .merge(orders)
        .route("/v1/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(Arc::clone(&api), observe))
        .with_state(api)
}

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such resource", &[])
}

/// Request metrics by route template.
async fn observe(State(api): State<Arc<Api>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    let m = &api.core.metrics;
    m.http_requests
        .with_label_values(&[route.as_str(), method.as_str(), resp.status().as_str()])
        .inc();
    m.http_duration
        .with_label_values(&[route.as_str(), method.as_str()])
        .observe(started.elapsed().as_secs_f64());
    resp
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn find(creds: &[Credential], presented: &str) -> Option<String> {
    // Compare with every credential, so timing does not tell which one nearly matched.
    let mut found = None;
    for c in creds {
        if ct_eq(c.secret.as_bytes(), presented.as_bytes()) {
            found = Some(c.name.clone());
        }
    }
    found
}

async fn authenticate(State(api): State<Arc<Api>>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .and_then(|t| find(&api.bearer_tokens, t.trim()));
    let key = || {
        headers
            .get(API_KEY)
            .and_then(|v| v.to_str().ok())
            .and_then(|k| find(&api.api_keys, k.trim()))
    };
    match bearer.or_else(key) {
        Some(client) => {
            req.extensions_mut().insert(Client(client));
            next.run(req).await
        }
        None => {
            let mut resp = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid API key (X-API-Key) or bearer token (Authorization: Bearer) is required",
                &[],
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"order-intake\""),
            );
            resp
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let bad = |reason: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("Idempotency-Key header {reason}"),
            vec![FieldError {
                field: "Idempotency-Key".into(),
                reason: reason.into(),
            }],
        )
    };
    let Some(v) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(bad("is required"));
    };
    let Ok(s) = v.to_str() else {
        return Err(bad("must be visible ASCII"));
    };
    let s = s.trim();
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("must be 1 to 255 visible ASCII characters"));
    }
    Ok(s.to_owned())
}

/// Parses the body: 400 when it is not JSON, 422 (with the field path) when it does not
/// match the request schema or fails validation.
fn parse(body: &[u8], max_lines: usize) -> Result<OrderRequest, ApiError> {
    let malformed = |e: &serde_json::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
            Vec::new(),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let req: OrderRequest = match serde_path_to_error::deserialize(&mut de) {
        Ok(r) => match de.end() {
            Ok(()) => r,
            Err(e) => return Err(malformed(&e)),
        },
        Err(e) if e.inner().classify() == serde_json::error::Category::Data => {
            let message = e.inner().to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned();
            let path = e.path().to_string();
            let mut field = if path == "." { String::new() } else { path };
            if let Some(missing) = message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next())
            {
                field = if field.is_empty() {
                    missing.to_owned()
                } else {
                    format!("{field}.{missing}")
                };
            }
            if field.is_empty() {
                field = "$".into();
            }
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_order",
                format!("{field}: {message}"),
                vec![FieldError {
                    field,
                    reason: message,
                }],
            ));
        }
        Err(e) => return Err(malformed(e.inner())),
    };
    let problems = req.validate(max_lines);
    if problems.is_empty() {
        Ok(req)
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_order",
            format!("{} problem(s) with the order", problems.len()),
            problems,
        ))
    }
}

/// The answer for a decided order: its outcome when `content_hash` is the order's content,
/// 409 otherwise.
fn answer(rec: &OrderRecord, content_hash: &str, replayed: bool) -> Response {
    if !rec.same_content(content_hash) {
        return json_response(
            StatusCode::CONFLICT,
            &json!({
                "error": "idempotency_key_conflict",
                "message": format!(
                    "Idempotency-Key {} was already used for a different order of customer {}",
                    rec.idempotency_key, rec.customer_id
                ),
                "order_id": rec.order_id.as_str(),
                "status_url": status_url(&rec.order_id),
            }),
        );
    }
    let code = if rec.is_accepted() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = json_response(code, &OrderStatusBody::of(rec));
    if let Ok(loc) = HeaderValue::from_str(&status_url(&rec.order_id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    if replayed {
        resp.headers_mut()
            .insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
    }
    resp
}

#[tracing::instrument(skip_all, fields(order_id, correlation_id, client = %client.0))]
async fn submit(
    State(api): State<Arc<Api>>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body exceeds the size limit",
                &[],
            )
        }
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                rejection.body_text(),
                &[],
            )
        }
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/json") || m.to_ascii_lowercase().ends_with("+json")
        });
    if !is_json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be application/json",
            &[],
        );
    }
    let req = match parse(&body, api.max_lines) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Some(refused) = api.refuse_unless_deciding() {
        return refused;
    }
    let event_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = headers
        .get(CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|c| !c.is_empty() && c.len() <= 128)
        .map_or_else(|| event_id.clone(), str::to_owned);
    let sub = req.to_submission(&key, &client.0, &event_id, &correlation_id);
    let span = tracing::Span::current();
    span.record("order_id", sub.order_id.as_str());
    span.record("correlation_id", correlation_id.as_str());
    let hash = content_hash(&sub);
    let core = &api.core;
    let order_id = sub.order_id.to_string();

    // Register before looking, so an outcome recorded in between is not missed.
    let rx = core.waiters.register(&order_id);
    if let Some(rec) = core.order(&order_id) {
        drop(rx);
        core.waiters.prune(&order_id);
        return answer(&rec, &hash, true);
    }
    core.pending.insert(&order_id);
    let published = async {
        let out = core
            .codec
            .outbound(
                &core.topics.submissions,
                sub.customer_id.as_bytes().to_vec(),
                &sub,
                None,
            )
            .await?;
        let delivered = core.producer.send(&out).await?;
        api.local.deliver(&out, &delivered);
        Ok::<_, crate::IntakeError>(())
    }
    .await;
    if let Err(e) = published {
        warn!(error = %e, "submission not published");
        core.pending.remove(&order_id);
        drop(rx);
        core.waiters.prune(&order_id);
        let mut resp = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the order could not be recorded; retry with the same Idempotency-Key",
            &[],
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    }
    match tokio::time::timeout(api.result_wait, rx).await {
        Ok(Ok(rec)) => {
            core.metrics
                .result_waits
                .with_label_values(&["outcome"])
                .inc();
            answer(&rec, &hash, false)
        }
        _ => {
            core.metrics
                .result_waits
                .with_label_values(&["timeout"])
                .inc();
            core.waiters.prune(&order_id);
            // The outcome may have been recorded just now.
            if let Some(rec) = core.order(&order_id) {
                return answer(&rec, &hash, false);
            }
            info!("no outcome within the wait; answering 202");
            let mut resp =
                json_response(StatusCode::ACCEPTED, &OrderStatusBody::pending(&order_id));
            if let Ok(loc) = HeaderValue::from_str(&status_url(&order_id)) {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            resp
        }
    }
}

#[tracing::instrument(skip_all, fields(order_id = %order_id))]
async fn status(State(api): State<Arc<Api>>, Path(order_id): Path<String>) -> Response {
    if let Some(rec) = api.core.order(&order_id) {
        return json_response(StatusCode::OK, &OrderStatusBody::of(&rec));
    }
    if api.core.pending.contains(&order_id) || api.core.in_flight(&order_id) {
        return json_response(StatusCode::OK, &OrderStatusBody::pending(&order_id));
    }
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("order {order_id} is not known (yet)"),
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_compare_whole_secrets() {
        let creds = vec![
            Credential {
                name: "shop".into(),
                secret: "abc123".into(),
            },
            Credential {
                name: "crm".into(),
                secret: "xyz".into(),
            },
        ];
        assert_eq!(find(&creds, "abc123").as_deref(), Some("shop"));
        assert_eq!(find(&creds, "xyz").as_deref(), Some("crm"));
        assert_eq!(find(&creds, "abc12"), None);
        assert_eq!(find(&creds, ""), None);
    }

    #[test]
    fn parse_errors_name_the_field() {
        let status = |body: &str| match parse(body.as_bytes(), 10) {
            Ok(_) => 200,
            Err(e) => e.status.as_u16(),
        };
        assert_eq!(status("{not json"), 400);
        assert_eq!(
            status(r#"{"customer_id": "C1", "currency": "USD", "lines": []} trailing"#),
            400
        );
        assert_eq!(
            status(r#"{"customer_id": "C1", "currency": "USD", "lines": "x"}"#),
            422
        );
        assert_eq!(
            status(
                r#"{"customer_id": "C1", "currency": "USD", "lines": [{"sku": "A", "quantity": 1, "unit": "EA"}]}"#
            ),
            200
        );
    }

    #[test]
    fn the_openapi_document_is_json_with_the_paths() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        assert!(doc["paths"]["/v1/orders"]["post"].is_object());
        assert!(doc["paths"]["/v1/orders/{order_id}"]["get"].is_object());
    }
}
