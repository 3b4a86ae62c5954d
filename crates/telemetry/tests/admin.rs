//! Admin server over real TCP (port 0) with a real HTTP client.

use std::time::Duration;

use dsync_telemetry::admin::{AdminServer, Readiness};
use tokio_util::sync::CancellationToken;

struct Running {
    base: String,
    token: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), dsync_telemetry::TelemetryError>>,
    client: reqwest::Client,
}

impl Running {
    async fn get(&self, path: &str) -> (u16, Option<String>, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request succeeds");
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await.expect("body");
        (status, ctype, body)
    }

    async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, _, body) = self.get(path).await;
        (status, serde_json::from_str(&body).expect("JSON body"))
    }

    async fn stop(self) {
        self.token.cancel();
        let res = tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("server stops promptly")
            .expect("task did not panic");
        assert!(res.is_ok(), "server returned {res:?}");
    }
}

fn start(registry: prometheus::Registry, readiness: Readiness) -> Running {
    dsync_telemetry::init_for_tests();
    let server = AdminServer::bind("127.0.0.1:0".parse().expect("addr"), registry, readiness)
        .expect("bind port 0");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let token = CancellationToken::new();
    let task = server.spawn(token.clone());
    Running {
        base: format!("http://{addr}"),
        token,
        task,
        client: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
    }
}

#[tokio::test]
async fn healthz_is_ok() {
    let srv = start(prometheus::Registry::new(), Readiness::new());
    let (status, body) = srv.json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    let (status, _, _) = srv.get("/nope").await;
    assert_eq!(status, 404);
    srv.stop().await;
}

#[tokio::test]
async fn metrics_exposes_registered_counter() {
    let registry = prometheus::Registry::new();
    let counter = prometheus::IntCounter::new("dsync_test_events_total", "Events seen by the test")
        .expect("counter");
    registry
        .register(Box::new(counter.clone()))
        .expect("register");
    counter.inc_by(3);

    let srv = start(registry, Readiness::new());
    let (status, ctype, body) = srv.get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(ctype.as_deref(), Some("text/plain; version=0.0.4"));
    assert!(
        body.contains("# TYPE dsync_test_events_total counter"),
        "{body}"
    );
    assert!(body.contains("dsync_test_events_total 3"), "{body}");

    counter.inc();
    let (_, _, body) = srv.get("/metrics").await;
    assert!(body.contains("dsync_test_events_total 4"), "{body}");
    srv.stop().await;
}

#[tokio::test]
async fn readyz_with_no_checks_is_ready() {
    let srv = start(prometheus::Registry::new(), Readiness::new());
    let (status, body) = srv.json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"status": "ready", "checks": []}));
    srv.stop().await;
}

#[tokio::test]
async fn readyz_follows_push_checks() {
    let readiness = Readiness::new();
    readiness.set("consumer:orders", false, "waiting for partition assignment");
    let srv = start(prometheus::Registry::new(), readiness.clone());

    let (status, body) = srv.json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        serde_json::json!({
            "status": "not_ready",
            "checks": [{"name": "consumer:orders", "ready": false, "detail": "waiting for partition assignment"}]
        })
    );

    readiness.set("consumer:orders", true, "3 partitions assigned");
    let (status, body) = srv.json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"][0]["detail"], "3 partitions assigned");
    srv.stop().await;
}

#[tokio::test]
async fn readyz_follows_probes() {
    let readiness = Readiness::with_probe_timeout(Duration::from_millis(200));
    readiness.set("consumer:orders", true, "assigned");
    readiness.register_probe("broker", || async { Err("broker unreachable".to_owned()) });
    let srv = start(prometheus::Registry::new(), readiness.clone());

    // Erroring probe.
    let (status, body) = srv.json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "not_ready");
    let broker = body["checks"]
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["name"] == "broker")
        .cloned()
        .expect("broker check listed");
    assert_eq!(broker["ready"], false);
    assert_eq!(broker["detail"], "broker unreachable");

    // Hanging probe times out.
    readiness.register_probe("broker", || async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    });
    let started = std::time::Instant::now();
    let (status, body) = srv.json("/readyz").await;
    assert_eq!(status, 503);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(body.to_string().contains("timed out"), "{body}");

    // Passing probe.
    readiness.register_probe("broker", || async { Ok(()) });
    let (status, body) = srv.json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"].as_array().map(Vec::len), Some(2));
    srv.stop().await;
}

#[tokio::test]
async fn run_stops_on_shutdown_future() {
    let server = AdminServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        prometheus::Registry::new(),
        Readiness::new(),
    )
    .expect("bind");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    let _ = tx.send(());
    let res = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .expect("no panic");
    assert!(res.is_ok());
}

#[test]
fn bind_reports_address_in_use() {
    let first = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = first.local_addr().expect("addr");
    let err = AdminServer::bind(addr, prometheus::Registry::new(), Readiness::new())
        .expect_err("address in use");
    assert!(
        matches!(err, dsync_telemetry::TelemetryError::Bind { .. }),
        "{err}"
    );
}
