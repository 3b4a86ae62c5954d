//! What every service's HTTP API shares besides [authentication](crate::auth).
//!
//! * One error shape: `{"error": "<code>", "message": "...", "errors": [{"field", "reason"}]}`
//!   (`errors` only when fields are at fault), built by [`ApiError`].
//! * [`Path`] and [`Query`]: axum's extractors, rejecting with that shape (axum's own answer
//!   `text/plain`, e.g. for a path segment that is not UTF-8 such as `%ff%fe`).
//! * [`json_fallbacks`]: `404` for unknown paths and `405` (with `Allow`) in that shape.
//! * [`limit_body`]: the body limit, with a request that announces a larger `Content-Length`
//!   answered `413` at once, before anything is read (no `100 Continue`, no wait).
//! * [`serve`]: the server loop with its header-read / idle timeout
//!   ([`dsync_telemetry::http`]).

use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use dsync_telemetry::http::{serve, serve_with, ServerLimits, HEADER_READ_TIMEOUT};

/// One field (or header) at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field (`lines[0].quantity`) or the header's name.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl FieldError {
    /// A field and its problem.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// An error answer in the shared shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    /// `status` with the machine-readable `code` and a message for people.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// The fields at fault.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The fields at fault.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// `413 body_too_large`.
    pub fn body_too_large(max_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body exceeds the size limit of {max_bytes} bytes"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &Body {
                error: self.code,
                message: &self.message,
                errors: &self.errors,
            },
        )
    }
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    // Serializing plain structs and `Value`s cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// `axum::extract::Path`, rejecting in the shared shape (`400 invalid_path`).
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(r) => Err(ApiError::new(r.status(), "invalid_path", r.body_text())),
        }
    }
}

/// `axum::extract::Query`, rejecting in the shared shape (`400 invalid_query`).
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(r) => Err(ApiError::new(r.status(), "invalid_query", r.body_text())),
        }
    }
}

/// `404 not_found` in the shared shape.
pub async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource").into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the resource does not support this method (see Allow)",
    )
    .into_response()
}

/// Unknown paths answer `404` and known paths with another method `405` (axum keeps the
/// `Allow` header), both in the shared shape. Call after the routes are added.
pub fn json_fallbacks<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

/// Bodies up to `max_bytes`: a request announcing a larger `Content-Length` is answered
/// `413 body_too_large` before its body is read (a client waiting for `100 Continue` gets the
/// answer instead); a body that turns out larger fails the handler's body extractor with 413
/// (`axum::extract::DefaultBodyLimit`).
pub fn limit_body<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    max_bytes: usize,
) -> Router<S> {
    router
        .layer(DefaultBodyLimit::max(max_bytes))
        .layer(middleware::from_fn_with_state(max_bytes, announced_length))
}

async fn announced_length(State(max_bytes): State<usize>, req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > max_bytes as u64) {
        return ApiError::body_too_large(max_bytes).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body as AxumBody, Bytes};
    use axum::routing::{get, post};
    use tower::ServiceExt as _;

    async fn call(router: Router, req: Request) -> (StatusCode, Option<String>, serde_json::Value) {
        let resp = router.oneshot(req).await.expect("infallible");
        let status = resp.status();
        let allow = resp
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(
            resp.headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "{status}"
        );
        let body = to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        (status, allow, serde_json::from_slice(&body).expect("JSON"))
    }

    fn req(method: &str, uri: &str) -> Request {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(AxumBody::empty())
            .expect("request")
    }

    fn router() -> Router {
        async fn echo(Path(id): Path<String>) -> Response {
            json_response(StatusCode::OK, &serde_json::json!({ "id": id }))
        }
        #[derive(serde::Deserialize)]
        struct Q {
            #[allow(dead_code)]
            n: u32,
        }
        async fn q(Query(_): Query<Q>) -> Response {
            json_response(StatusCode::OK, &serde_json::json!({}))
        }
        async fn upload(body: Bytes) -> Response {
            json_response(StatusCode::OK, &serde_json::json!({ "len": body.len() }))
        }
        let r = Router::new()
            .route("/items/{id}", get(echo))
            .route("/q", get(q))
            .route("/upload", post(upload));
        limit_body(json_fallbacks(r), 16)
    }

    #[tokio::test]
    async fn rejections_use_the_json_error_shape() {
        let (s, _, b) = call(router(), req("GET", "/items/%ff%fe")).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_path"))
        );
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
        let (s, _, b) = call(router(), req("GET", "/items/a%20b")).await;
        assert_eq!((s, b["id"].as_str()), (StatusCode::OK, Some("a b")));
        let (s, _, b) = call(router(), req("GET", "/q?n=x")).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_query"))
        );
        let (s, _, b) = call(router(), req("GET", "/nope")).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        let (s, allow, b) = call(router(), req("DELETE", "/items/x")).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(b["error"], "method_not_allowed");
        assert!(allow.is_some_and(|a| a.contains("GET")));
    }

    #[tokio::test]
    async fn an_announced_length_above_the_limit_is_413_before_reading() {
        // The body never ends: only an answer that does not read it can come back.
        let endless =
            AxumBody::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        let r = Request::builder()
            .method("POST")
            .uri("/upload")
            .header(header::CONTENT_LENGTH, "10737418240")
            .header(header::EXPECT, "100-continue")
            .body(endless)
            .expect("request");
        let (s, _, b) = call(router(), r).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
        );
        assert!(b["message"]
            .as_str()
            .is_some_and(|m| m.contains("16 bytes")));

        // A body larger than announced (or not announced) still fails at the limit.
        let r = Request::builder()
            .method("POST")
            .uri("/upload")
            .body(AxumBody::from(vec![b'x'; 17]))
            .expect("request");
        let resp = router().oneshot(r).await.expect("infallible");
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let r = Request::builder()
            .method("POST")
            .uri("/upload")
            .header(header::CONTENT_LENGTH, "16")
            .body(AxumBody::from(vec![b'x'; 16]))
            .expect("request");
        let (s, _, b) = call(router(), r).await;
        assert_eq!((s, b["len"].as_u64()), (StatusCode::OK, Some(16)));
    }
}
