//! `init` with an OTLP endpoint exports spans over OTLP/HTTP protobuf to a fake collector,
//! and dropping the installing guard flushes them. Own test binary: `init` is process-global.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use dsync_telemetry::{LogFormat, TelemetrySettings};

#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_and_flushed_on_guard_drop() {
    // Fake collector.
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/{*path}",
        post(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().expect("lock").push(Received {
                    path: uri.path().to_owned(),
                    content_type: headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    body: body.to_vec(),
                });
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let settings = TelemetrySettings {
        log_format: LogFormat::Json,
        otlp_endpoint: Some(format!("http://{addr}/")),
    };
    let guard = dsync_telemetry::init("otlp-export-test", &settings).expect("init");
    assert!(guard.is_installer());
    assert!(guard.is_exporting());
    // A second call is harmless and inert.
    let second = dsync_telemetry::init("otlp-export-test", &settings).expect("second init");
    assert!(!second.is_installer());
    drop(second);

    let traceparent = {
        let span = tracing::info_span!("exported-span", answer = 42);
        let _entered = span.enter();
        tracing::info!("inside the exported span");
        dsync_telemetry::propagation::current_traceparent().expect("traceparent")
    };
    let trace_id = dsync_telemetry::propagation::parse_traceparent(&traceparent)
        .expect("valid")
        .trace_id()
        .to_be_bytes();

    // Flush + shutdown are blocking; keep them off the runtime's worker threads.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .expect("guard drop");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = received.lock().expect("lock").clone();
        if let Some(req) = got.first() {
            assert_eq!(req.path, "/v1/traces");
            assert_eq!(req.content_type.as_deref(), Some("application/x-protobuf"));
            assert!(
                req.body.windows(16).any(|w| w == trace_id),
                "exported payload contains the span's trace id"
            );
            assert!(
                req.body.windows(13).any(|w| w == b"exported-span"),
                "exported payload contains the span name"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "collector received no export"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
