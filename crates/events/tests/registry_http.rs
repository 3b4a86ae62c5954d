//! The registry client against a small in-process mock of the Confluent REST API (loopback
//! only): the requests it makes, its caches, basic auth, and how each answer is classified.
//! Tests against the real registry service live with the integration tests.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use dsync_bus::{ErrorClass, HandlerError};
use dsync_events::{
    AnyEvent, BasicAuth, Event, EventCodec, EventsError, OrderAccepted, RegistrySettings,
};
use serde_json::{json, Value};

const TOPIC: &str = "orders.events";
const SUBJECT: &str = "orders.events-com.distsync.events.OrderAccepted";

#[derive(Default)]
struct Registry {
    /// schema text -> id (ids are global, as in Confluent).
    ids: HashMap<String, u32>,
    /// subject -> schema texts.
    subjects: HashMap<String, Vec<String>>,
    /// Every request: "METHOD path".
    log: Vec<String>,
    /// Authorization headers received.
    auth_headers: Vec<Option<String>>,
    /// Content-Type headers of POSTs.
    content_types: Vec<String>,
    /// Required Authorization header, if any.
    require_auth: Option<String>,
    /// Answer 503 to everything.
    failing: bool,
    /// Schema type to answer for GET /schemas/ids (None: omit, i.e. AVRO).
    schema_type: Option<String>,
}

type Shared = Arc<Mutex<Registry>>;

fn error(status: StatusCode, code: u32, message: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({ "error_code": code, "message": message })),
    )
}

/// Common checks; `Err` is the answer to send instead.
fn admit(
    reg: &mut Registry,
    line: String,
    headers: &HeaderMap,
) -> Result<(), (StatusCode, Json<Value>)> {
    reg.log.push(line);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    reg.auth_headers.push(auth.clone());
    if let Some(ct) = headers.get("content-type").and_then(|v| v.to_str().ok()) {
        reg.content_types.push(ct.to_owned());
    }
    if reg.failing {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            50003,
            "Error while forwarding the request to the leader",
        ));
    }
    if let Some(required) = &reg.require_auth {
        if auth.as_deref() != Some(required.as_str()) {
            return Err(error(StatusCode::UNAUTHORIZED, 401, "Unauthorized"));
        }
    }
    Ok(())
}

async fn register(
    State(s): State<Shared>,
    Path(subject): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut reg = s.lock().expect("lock");
    if let Err(e) = admit(
        &mut reg,
        format!("POST /subjects/{subject}/versions"),
        &headers,
    ) {
        return e;
    }
    let schema = body["schema"].as_str().expect("schema").to_owned();
    let next = reg.ids.len() as u32 + 1;
    let id = *reg.ids.entry(schema.clone()).or_insert(next);
    let versions = reg.subjects.entry(subject).or_default();
    if !versions.contains(&schema) {
        versions.push(schema);
    }
    (StatusCode::OK, Json(json!({ "id": id })))
}

async fn lookup(
    State(s): State<Shared>,
    Path(subject): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut reg = s.lock().expect("lock");
    if let Err(e) = admit(&mut reg, format!("POST /subjects/{subject}"), &headers) {
        return e;
    }
    let schema = body["schema"].as_str().expect("schema");
    let Some(versions) = reg.subjects.get(&subject) else {
        return error(StatusCode::NOT_FOUND, 40401, "Subject not found");
    };
    match versions.iter().position(|v| v == schema) {
        Some(i) => (
            StatusCode::OK,
            Json(json!({
                "subject": subject, "version": i + 1, "id": reg.ids[schema], "schema": schema
            })),
        ),
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

async fn by_id(
    State(s): State<Shared>,
    Path(id): Path<u32>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    if id == 999 {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let mut reg = s.lock().expect("lock");
    if let Err(e) = admit(&mut reg, format!("GET /schemas/ids/{id}"), &headers) {
        return e;
    }
    let found = reg
        .ids
        .iter()
        .find(|(_, v)| **v == id)
        .map(|(k, _)| k.clone());
    match found {
        Some(schema) => {
            let mut body = json!({ "schema": schema });
            if let Some(t) = &reg.schema_type {
                body["schemaType"] = json!(t);
            }
            (StatusCode::OK, Json(body))
        }
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

/// Starts the mock on an ephemeral loopback port; returns its URL and state.
async fn start() -> (String, Shared) {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/subjects/{subject}/versions", post(register))
        .route("/subjects/{subject}", post(lookup))
        .route("/schemas/ids/{id}", get(by_id))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (format!("http://{addr}"), state)
}

fn settings(url: &str) -> RegistrySettings {
    RegistrySettings {
        url: url.to_owned(),
        timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

fn log(state: &Shared) -> Vec<String> {
    state.lock().expect("lock").log.clone()
}

#[tokio::test]
async fn register_once_then_no_requests_in_steady_state() {
    let (url, state) = start().await;
    let producer = EventCodec::from_settings(&settings(&url)).expect("codec");
    let event = common::order_accepted(5);
    let a = producer.encode(TOPIC, &event).await.expect("encode");
    let b = producer.encode(TOPIC, &event).await.expect("encode");
    assert_eq!(a, b);
    assert_eq!(&a[..5], &[0, 0, 0, 0, 1], "magic byte and id 1");
    assert_eq!(log(&state), [format!("POST /subjects/{SUBJECT}/versions")]);
    assert_eq!(
        state.lock().expect("lock").content_types,
        ["application/vnd.schemaregistry.v1+json"]
    );
    assert_eq!(
        state.lock().expect("lock").subjects[SUBJECT],
        [OrderAccepted::SCHEMA_JSON],
        "the file is registered as is"
    );
    // The producer's own schema is known by id without fetching it.
    let back: OrderAccepted = producer.decode(&a).await.expect("decode");
    assert_eq!(back, event);
    assert_eq!(log(&state).len(), 1);

    // A consumer fetches the writer schema once.
    let consumer = EventCodec::from_settings(&settings(&url)).expect("codec");
    for _ in 0..3 {
        let back: OrderAccepted = consumer.decode(&a).await.expect("decode");
        assert_eq!(back, event);
        let any = consumer.decode_any(&b).await.expect("decode_any");
        assert_eq!(any, AnyEvent::OrderAccepted(event.clone()));
    }
    assert_eq!(
        log(&state),
        [
            format!("POST /subjects/{SUBJECT}/versions"),
            "GET /schemas/ids/1".to_owned()
        ]
    );
    // Steady state really is synchronous (no request, no waiting).
    let _: OrderAccepted = common::now(consumer.decode(&a)).expect("decode");
    let _ = common::now(producer.encode(TOPIC, &event)).expect("encode");
}

#[tokio::test]
async fn lookup_only_when_auto_register_is_off() {
    let (url, state) = start().await;
    let mut s = settings(&url);
    s.auto_register = false;
    let producer = EventCodec::from_settings(&s).expect("codec");
    let event = common::order_accepted(1);
    let e = producer
        .encode(TOPIC, &event)
        .await
        .expect_err("not registered");
    assert!(
        matches!(e, EventsError::NotRegistered { ref subject } if subject == SUBJECT),
        "{e}"
    );
    assert_eq!(HandlerError::from(e).class(), ErrorClass::Fatal);

    // Registered by the deploy gate (another client), then looked up once.
    let admin = EventCodec::from_settings(&settings(&url)).expect("codec");
    let id = admin
        .client()
        .register(SUBJECT, OrderAccepted::SCHEMA_JSON)
        .await
        .expect("register");
    let payload = producer.encode(TOPIC, &event).await.expect("encode");
    assert_eq!(&payload[1..5], &id.to_be_bytes());
    producer.encode(TOPIC, &event).await.expect("encode");
    assert_eq!(
        log(&state),
        [
            format!("POST /subjects/{SUBJECT}"),
            format!("POST /subjects/{SUBJECT}/versions"),
            format!("POST /subjects/{SUBJECT}"),
        ]
    );
}

#[tokio::test]
async fn unknown_schema_id_is_poison() {
    let (url, state) = start().await;
    let codec = EventCodec::from_settings(&settings(&url)).expect("codec");
    let e = codec
        .decode::<OrderAccepted>(&[0, 0, 0, 0, 77, 0])
        .await
        .expect_err("unknown");
    assert!(matches!(e, EventsError::UnknownSchemaId(77)), "{e}");
    assert_eq!(HandlerError::from(e).class(), ErrorClass::Poison);
    let e = codec
        .decode_any(&[0, 0, 0, 1, 0, 0])
        .await
        .expect_err("unknown");
    assert!(matches!(e, EventsError::UnknownSchemaId(256)), "{e}");
    assert_eq!(log(&state), ["GET /schemas/ids/77", "GET /schemas/ids/256"]);
}

#[tokio::test]
async fn basic_auth_is_sent_and_a_refusal_is_fatal() {
    let (url, state) = start().await;
    state.lock().expect("lock").require_auth = Some("Basic S0VZOnMzY3I6ZXQ=".into());
    let mut s = settings(&url);
    s.basic_auth = Some(BasicAuth::new("KEY", "s3cr:et"));
    let codec = EventCodec::from_settings(&s).expect("codec");
    codec
        .encode(TOPIC, &common::order_accepted(1))
        .await
        .expect("authorized");

    // The same credentials in the URL.
    let with_userinfo = url.replace("http://", "http://KEY:s3cr%3Aet@");
    let codec = EventCodec::from_settings(&settings(&with_userinfo)).expect("codec");
    codec
        .client()
        .schema_by_id(1)
        .await
        .expect("authorized by URL user info");

    let anonymous = EventCodec::from_settings(&settings(&url)).expect("codec");
    let e = anonymous
        .encode(TOPIC, &common::order_accepted(1))
        .await
        .expect_err("401");
    assert!(
        matches!(e, EventsError::RegistryRejected { status: 401, .. }),
        "{e}"
    );
    assert_eq!(HandlerError::from(e).class(), ErrorClass::Fatal);
    let auth = state.lock().expect("lock").auth_headers.clone();
    assert_eq!(
        auth,
        [
            Some("Basic S0VZOnMzY3I6ZXQ=".to_owned()),
            Some("Basic S0VZOnMzY3I6ZXQ=".to_owned()),
            None
        ]
    );
}

#[tokio::test]
async fn registry_failures_are_transient() {
    let (url, state) = start().await;
    state.lock().expect("lock").failing = true;
    let codec = EventCodec::from_settings(&settings(&url)).expect("codec");
    let e = codec
        .decode::<OrderAccepted>(&[0, 0, 0, 0, 1, 0])
        .await
        .expect_err("503");
    assert!(
        matches!(e, EventsError::Registry(ref m) if m.contains("503")),
        "{e}"
    );
    assert_eq!(HandlerError::from(e).class(), ErrorClass::Transient);
    let e = codec
        .encode(TOPIC, &common::order_accepted(1))
        .await
        .expect_err("503");
    assert!(e.is_transient(), "{e}");

    // Recovered: the same calls succeed and are then cached.
    state.lock().expect("lock").failing = false;
    let payload = codec
        .encode(TOPIC, &common::order_accepted(1))
        .await
        .expect("encode");
    let _: OrderAccepted = codec.decode(&payload).await.expect("decode");

    // A URL that is not a registry (404 without a Confluent error body) is not an unknown id.
    let wrong =
        EventCodec::from_settings(&settings(&format!("{url}/not-the-registry/"))).expect("codec");
    let e = wrong
        .decode::<OrderAccepted>(&[0, 0, 0, 0, 1, 0])
        .await
        .expect_err("404");
    assert!(matches!(e, EventsError::Registry(_)), "{e}");
}

#[tokio::test]
async fn timeouts_are_transient() {
    let (url, _state) = start().await;
    let mut s = settings(&url);
    s.timeout = Duration::from_millis(200);
    let codec = EventCodec::from_settings(&s).expect("codec");
    let started = std::time::Instant::now();
    let e = codec
        .decode::<OrderAccepted>(&[0, 0, 0, 3, 0xe7, 0])
        .await
        .expect_err("timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(e, EventsError::Registry(ref m) if m.contains("timed out")),
        "{e}"
    );
    assert!(e.is_transient());
}

#[tokio::test]
async fn non_avro_writer_schema_is_a_mismatch() {
    let (url, state) = start().await;
    let producer = EventCodec::from_settings(&settings(&url)).expect("codec");
    let payload = producer
        .encode(TOPIC, &common::order_accepted(1))
        .await
        .expect("encode");
    state.lock().expect("lock").schema_type = Some("PROTOBUF".into());
    let consumer = EventCodec::from_settings(&settings(&url)).expect("codec");
    let e = consumer
        .decode::<OrderAccepted>(&payload)
        .await
        .expect_err("protobuf");
    assert!(
        matches!(e, EventsError::SchemaMismatch(ref m) if m.contains("PROTOBUF")),
        "{e}"
    );
    assert!(e.is_poison());
}
