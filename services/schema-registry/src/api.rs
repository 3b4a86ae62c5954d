//! The Confluent Schema Registry REST API (Avro only).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::avro::Reference;
use crate::compat::CompatibilityLevel;
use crate::log::{Op, VersionRef};
use crate::metrics::RegistryMetrics;
use crate::state::{check_schema_type, incompatible, OpOutput, VersionView};
use crate::store::Store;
use crate::RegistryError;

/// The content type of every response.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Request content types accepted (parameters such as `charset` are ignored).
pub const ACCEPTED_CONTENT_TYPES: &[&str] = &[
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
];

type Params = Query<HashMap<String, String>>;
type ApiResult = Result<Response, RegistryError>;

/// What the handlers share.
#[derive(Debug)]
pub struct Api {
    pub(crate) store: Arc<Store>,
    pub(crate) metrics: RegistryMetrics,
    /// How long a request waits for the initial load of the topic.
    pub(crate) load_timeout: Duration,
}

/// A JSON response with the registry's content type.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    // Serializing `Value`s and plain structs cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], bytes).into_response()
}

fn ok(body: &impl Serialize) -> ApiResult {
    Ok(json_response(StatusCode::OK, body))
}

/// The REST API's routes.
pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(get_version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(id_versions))
        .route("/schemas/ids/{id}/subjects", get(id_subjects))
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility_with_version),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compatibility_with_all),
        )
        .route(
            "/config",
            get(get_global_config)
                .put(put_global_config)
                .delete(delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(get_subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .route("/mode", get(get_global_mode))
        .route("/mode/{subject}", get(get_subject_mode))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&api), observe))
        .with_state(api)
}

/// Records request metrics, rejects unaccepted content types and holds requests until the
/// initial load of the topic is complete.
async fn observe(State(api): State<Arc<Api>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    };
    let started = Instant::now();
    let response = match admit(&api, req.method(), req.headers()).await {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    let class = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    api.metrics
        .http_requests
        .with_label_values(&[route.as_str(), method, class])
        .inc();
    api.metrics
        .http_duration
        .with_label_values(&[route.as_str(), method])
        .observe(started.elapsed().as_secs_f64());
    response
}

async fn admit(api: &Api, method: &Method, headers: &HeaderMap) -> Result<(), RegistryError> {
    if matches!(*method, Method::POST | Method::PUT) {
        if let Some(ct) = headers.get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if !ACCEPTED_CONTENT_TYPES
                .iter()
                .any(|a| a.eq_ignore_ascii_case(essence))
            {
                return Err(RegistryError::UnsupportedMediaType(format!(
                    "{ct:?}; send one of {}",
                    ACCEPTED_CONTENT_TYPES.join(", ")
                )));
            }
        }
    }
    api.store.wait_loaded(api.load_timeout).await
}

async fn no_route() -> RegistryError {
    RegistryError::NoRoute
}

async fn method_not_allowed() -> RegistryError {
    RegistryError::MethodNotAllowed
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// `offset` and `limit` (negative: everything) of the list endpoints.
fn paginate<T>(items: Vec<T>, q: &HashMap<String, String>) -> Vec<T> {
    let offset = q
        .get("offset")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = q
        .get("limit")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(-1);
    let it = items.into_iter().skip(offset);
    if limit > 0 {
        it.take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect()
    } else {
        it.collect()
    }
}

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, RegistryError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            RegistryError::UnprocessableEntity(format!("Unrecognized request body: {e}"))
        }
        _ => RegistryError::BadRequest(format!("Malformed JSON request body: {e}")),
    })
}

/// The body of register, lookup and compatibility requests. Other fields (`metadata`,
/// `ruleSet`, ...) are accepted and ignored.
#[derive(Debug, Deserialize)]
struct SchemaRequest {
    schema: Option<String>,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    references: Option<Vec<Reference>>,
}

struct Candidate {
    text: String,
    references: Vec<Reference>,
}

impl SchemaRequest {
    fn into_candidate(self) -> Result<Candidate, RegistryError> {
        check_schema_type(self.schema_type.as_deref().unwrap_or("AVRO"))?;
        let text = self.schema.unwrap_or_default();
        if text.trim().is_empty() {
            return Err(RegistryError::InvalidSchema("Empty schema".into()));
        }
        Ok(Candidate {
            text,
            references: self.references.unwrap_or_default(),
        })
    }
}

fn candidate(body: &[u8]) -> Result<Candidate, RegistryError> {
    parse_body::<SchemaRequest>(body)?.into_candidate()
}

fn version_json(v: &VersionView) -> Value {
    let mut out = json!({
        "subject": v.subject,
        "version": v.version,
        "id": v.id,
        "schema": v.schema.text,
    });
    if !v.schema.references.is_empty() {
        out["references"] = json!(v.schema.references);
    }
    out
}

fn unexpected(output: &OpOutput) -> RegistryError {
    RegistryError::Store(format!("unexpected outcome {output:?}"))
}

async fn root() -> ApiResult {
    ok(&json!({}))
}

async fn list_subjects(State(api): State<Arc<Api>>, Query(q): Params) -> ApiResult {
    let prefix = q
        .get("subjectPrefix")
        .or_else(|| q.get("subject"))
        .cloned()
        .unwrap_or_default();
    let subjects = api
        .store
        .read(|s| s.subjects(flag(&q, "deleted"), flag(&q, "deleted_only"), &prefix));
    ok(&paginate(subjects, &q))
}

async fn list_versions(
    State(api): State<Arc<Api>>,
    Path(subject): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let versions = api
        .store
        .read(|s| s.versions(&subject, flag(&q, "deleted"), flag(&q, "deleted_only")))?;
    ok(&paginate(versions, &q))
}

#[tracing::instrument(skip_all, fields(subject = %subject))]
async fn register(
    State(api): State<Arc<Api>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> ApiResult {
    let c = candidate(&body)?;
    // Answer from memory when the schema is already there, and refuse what this instance
    // already knows to be incompatible, without writing anything. The log decides the rest.
    let known = api.store.read(|s| -> Result<Option<i32>, RegistryError> {
        let parsed = s.parse_candidate(&c.text, &c.references)?;
        if let Some(v) = s.find_in_subject(&subject, &parsed.identity, false) {
            return Ok(Some(v.id));
        }
        s.check_compatible(&subject, &parsed)
            .map_err(|m| incompatible(&subject, &m))?;
        Ok(None)
    })?;
    if let Some(id) = known {
        return ok(&json!({ "id": id }));
    }
    let out = api
        .store
        .submit(Op::Register {
            subject,
            schema: c.text,
            schema_type: "AVRO".into(),
            references: c.references,
        })
        .await?;
    match out {
        OpOutput::Registered { id, .. } => ok(&json!({ "id": id })),
        other => Err(unexpected(&other)),
    }
}

async fn lookup(
    State(api): State<Arc<Api>>,
    Path(subject): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> ApiResult {
    let c = candidate(&body)?;
    let found = api.store.read(|s| {
        let parsed = s.parse_candidate(&c.text, &c.references)?;
        s.lookup(&subject, &parsed, flag(&q, "deleted"))
    })?;
    ok(&version_json(&found))
}

async fn get_version(
    State(api): State<Arc<Api>>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let version = VersionRef::parse(&version)?;
    let v = api
        .store
        .read(|s| s.version(&subject, version, flag(&q, "deleted")))?;
    ok(&version_json(&v))
}

async fn get_version_schema(
    State(api): State<Arc<Api>>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let version = VersionRef::parse(&version)?;
    let v = api
        .store
        .read(|s| s.version(&subject, version, flag(&q, "deleted")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        v.schema.text.clone(),
    )
        .into_response())
}

async fn referenced_by(
    State(api): State<Arc<Api>>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let version = VersionRef::parse(&version)?;
    let ids = api.store.read(|s| -> Result<Vec<i32>, RegistryError> {
        let v = s.version(&subject, version, false)?;
        Ok(s.referrers(&subject, v.version))
    })?;
    ok(&paginate(ids, &q))
}

#[tracing::instrument(skip_all, fields(subject = %subject))]
async fn delete_subject(
    State(api): State<Arc<Api>>,
    Path(subject): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let out = api
        .store
        .submit(Op::DeleteSubject {
            subject,
            permanent: flag(&q, "permanent"),
        })
        .await?;
    match out {
        OpOutput::Versions(v) => ok(&v),
        other => Err(unexpected(&other)),
    }
}

#[tracing::instrument(skip_all, fields(subject = %subject, version = %version))]
async fn delete_version(
    State(api): State<Arc<Api>>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let version = VersionRef::parse(&version)?;
    let out = api
        .store
        .submit(Op::DeleteVersion {
            subject,
            version,
            permanent: flag(&q, "permanent"),
        })
        .await?;
    match out {
        OpOutput::Version(v) => ok(&v),
        other => Err(unexpected(&other)),
    }
}

async fn schema_types() -> ApiResult {
    ok(&["AVRO"])
}

fn parse_id(id: &str) -> Result<i64, RegistryError> {
    id.parse::<i64>()
        .map_err(|_| RegistryError::SchemaNotFound(None))
}

/// `GET /schemas/ids/{id}`. A `subject` parameter is accepted: it only selects a context in
/// Confluent (this registry has the default context only), so the schema is served whichever
/// subjects use it.
async fn schema_by_id(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    let schema = api.store.read(|s| s.schema_by_id(id))?;
    let mut out = json!({ "schema": schema.text });
    if !schema.references.is_empty() {
        out["references"] = json!(schema.references);
    }
    ok(&out)
}

async fn raw_schema_by_id(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    let schema = api.store.read(|s| s.schema_by_id(id))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        schema.text.clone(),
    )
        .into_response())
}

/// The subject-versions using an id, filtered by `?subject=` when given.
fn usages(
    api: &Api,
    id: &str,
    q: &HashMap<String, String>,
) -> Result<Vec<(String, i32)>, RegistryError> {
    let id = parse_id(id)?;
    let mut found = api.store.read(|s| s.id_usages(id, flag(q, "deleted")))?;
    if let Some(subject) = q.get("subject").filter(|s| !s.is_empty()) {
        found.retain(|(s, _)| s == subject);
    }
    Ok(found)
}

async fn id_versions(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let found: Vec<Value> = usages(&api, &id, &q)?
        .into_iter()
        .map(|(subject, version)| json!({ "subject": subject, "version": version }))
        .collect();
    ok(&paginate(found, &q))
}

async fn id_subjects(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let mut subjects: Vec<String> = usages(&api, &id, &q)?.into_iter().map(|(s, _)| s).collect();
    subjects.dedup();
    ok(&paginate(subjects, &q))
}

fn compatibility_json(result: Result<(), Vec<String>>, verbose: bool) -> Value {
    let (is, messages) = match result {
        Ok(()) => (true, Vec::new()),
        Err(m) => (false, m),
    };
    if verbose {
        json!({ "is_compatible": is, "messages": messages })
    } else {
        json!({ "is_compatible": is })
    }
}

async fn compatibility_with_version(
    State(api): State<Arc<Api>>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
    body: Bytes,
) -> ApiResult {
    let version = VersionRef::parse(&version)?;
    let c = candidate(&body)?;
    let result = api.store.read(|s| {
        s.version(&subject, version, false)?;
        let parsed = s.parse_candidate(&c.text, &c.references)?;
        s.check_compatible_with_version(&subject, version, &parsed)
    })?;
    ok(&compatibility_json(result, flag(&q, "verbose")))
}

async fn compatibility_with_all(
    State(api): State<Arc<Api>>,
    Path(subject): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> ApiResult {
    let c = candidate(&body)?;
    let result = api.store.read(|s| -> Result<_, RegistryError> {
        let parsed = s.parse_candidate(&c.text, &c.references)?;
        Ok(s.check_compatible(&subject, &parsed))
    })?;
    ok(&compatibility_json(result, flag(&q, "verbose")))
}

/// `{"compatibility": "FULL"}` (or `compatibilityLevel`, as some clients send it).
fn level_from_body(body: &[u8]) -> Result<CompatibilityLevel, RegistryError> {
    let v: Value = parse_body(body)?;
    let level = v
        .get("compatibility")
        .filter(|x| !x.is_null())
        .or_else(|| v.get("compatibilityLevel"))
        .and_then(Value::as_str)
        .ok_or_else(|| RegistryError::InvalidCompatibilityLevel(v.to_string()))?;
    level.parse()
}

async fn get_global_config(State(api): State<Arc<Api>>) -> ApiResult {
    let level = api.store.read(|s| s.global_level());
    ok(&json!({ "compatibilityLevel": level }))
}

async fn put_global_config(State(api): State<Arc<Api>>, body: Bytes) -> ApiResult {
    set_config(&api, None, &body).await
}

async fn delete_global_config(State(api): State<Arc<Api>>) -> ApiResult {
    delete_config(&api, None).await
}

async fn get_subject_config(
    State(api): State<Arc<Api>>,
    Path(subject): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let level = api.store.read(|s| {
        s.subject_level(&subject)
            .or_else(|| flag(&q, "defaultToGlobal").then(|| s.global_level()))
    });
    match level {
        Some(level) => ok(&json!({ "compatibilityLevel": level })),
        None => Err(RegistryError::SubjectCompatibilityNotConfigured(subject)),
    }
}

async fn put_subject_config(
    State(api): State<Arc<Api>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> ApiResult {
    set_config(&api, Some(subject), &body).await
}

async fn delete_subject_config(
    State(api): State<Arc<Api>>,
    Path(subject): Path<String>,
) -> ApiResult {
    delete_config(&api, Some(subject)).await
}

#[tracing::instrument(skip(api, body))]
async fn set_config(api: &Api, subject: Option<String>, body: &[u8]) -> ApiResult {
    let level = level_from_body(body)?;
    match api
        .store
        .submit(Op::SetConfig {
            subject,
            compatibility_level: level,
        })
        .await?
    {
        OpOutput::Config(level) => ok(&json!({ "compatibility": level })),
        other => Err(unexpected(&other)),
    }
}

#[tracing::instrument(skip(api))]
async fn delete_config(api: &Api, subject: Option<String>) -> ApiResult {
    match api.store.submit(Op::DeleteConfig { subject }).await? {
        OpOutput::ConfigDeleted(level) => ok(&json!({ "compatibilityLevel": level })),
        other => Err(unexpected(&other)),
    }
}

/// Modes (IMPORT, READONLY) are not supported: the registry is always READWRITE.
async fn get_global_mode() -> ApiResult {
    ok(&json!({ "mode": "READWRITE" }))
}

async fn get_subject_mode(Path(subject): Path<String>, Query(q): Params) -> ApiResult {
    if flag(&q, "defaultToGlobal") {
        ok(&json!({ "mode": "READWRITE" }))
    } else {
        Err(RegistryError::SubjectModeNotConfigured(subject))
    }
}
