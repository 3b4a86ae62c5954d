//! The admin HTTP server every service runs: `GET /metrics`, `GET /healthz`, `GET /readyz`.
//!
//! - `/metrics`: the Prometheus text exposition of the given [`prometheus::Registry`].
//! - `/healthz`: liveness; always `200 {"status":"ok"}` while the process serves HTTP.
//! - `/readyz`: readiness; `200` when every check registered in [`Readiness`] passes, `503`
//!   otherwise, with a JSON body listing every check.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::TelemetryError;

/// Default address of the admin server (Prometheus' conventional exporter port).
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9464";

/// How long a pull-style readiness probe may run before it counts as failed.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Admin server command-line flags; `#[command(flatten)]` this into a service's settings.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct AdminSettings {
    /// Listen address of the admin HTTP server (/metrics, /healthz, /readyz); port 0 picks a
    /// free port.
    #[arg(long = "admin-addr", env = "ADMIN_ADDR", default_value = DEFAULT_ADMIN_ADDR)]
    pub admin_addr: SocketAddr,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// A pull-style readiness probe: resolves to `Ok(())` when ready, `Err(detail)` otherwise.
pub type ReadinessProbe = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Result of one readiness check, as reported by `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckStatus {
    /// The check's name, e.g. `consumer:orders` or `broker`.
    pub name: String,
    /// Whether the check passes.
    pub ready: bool,
    /// Human-readable detail (the reason when not ready).
    pub detail: String,
}

enum Check {
    State { ready: bool, detail: String },
    Probe(ReadinessProbe),
}

struct ReadinessInner {
    checks: Mutex<BTreeMap<String, Check>>,
    probe_timeout: Duration,
}

/// Shared readiness state of a service: a cheap-to-clone handle to a set of named checks.
///
/// The service is ready when every registered check passes; with no checks it is ready.
/// Checks are either push-style ([`Readiness::set`], e.g. "consumer:orders has partitions
/// assigned") or pull-style probes ([`Readiness::register_probe`], e.g. "broker reachable")
/// that run, concurrently and with a timeout, on every evaluation.
#[derive(Clone)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checks = self.lock();
        let mut list = f.debug_map();
        for (name, check) in checks.iter() {
            match check {
                Check::State { ready, detail } => list.entry(name, &(ready, detail)),
                Check::Probe(_) => list.entry(name, &"<probe>"),
            };
        }
        list.finish()
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

impl Readiness {
    /// An empty readiness set (ready) with the default 2 s probe timeout.
    pub fn new() -> Self {
        Self::with_probe_timeout(DEFAULT_PROBE_TIMEOUT)
    }

    /// An empty readiness set whose probes time out after `probe_timeout`.
    pub fn with_probe_timeout(probe_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(ReadinessInner {
                checks: Mutex::new(BTreeMap::new()),
                probe_timeout,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Check>> {
        self.inner
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets (creating or replacing) the push-style check `name`.
    pub fn set(&self, name: &str, ready: bool, detail: impl Into<String>) {
        self.lock().insert(
            name.to_owned(),
            Check::State {
                ready,
                detail: detail.into(),
            },
        );
    }

    /// Registers (or replaces) the pull-style check `name`, evaluated on every readiness
    /// query with the configured timeout. A probe that errors, panics or times out is not
    /// ready.
    ///
    /// ```
    /// # let readiness = dsync_telemetry::admin::Readiness::new();
    /// readiness.register_probe("broker", || async { Ok::<(), String>(()) });
    /// ```
    pub fn register_probe<F, Fut>(&self, name: &str, probe: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let probe: ReadinessProbe =
            Arc::new(move || -> BoxFuture<'static, Result<(), String>> { Box::pin(probe()) });
        self.register_boxed_probe(name, probe);
    }

    /// Registers (or replaces) an already boxed pull-style check.
    pub fn register_boxed_probe(&self, name: &str, probe: ReadinessProbe) {
        self.lock().insert(name.to_owned(), Check::Probe(probe));
    }

    /// The first of the push-style checks `names` that is not ready (or not set yet), with its
    /// detail; `None` when all are ready. Cheap (no probe runs): for request paths that must
    /// refuse work while the instance cannot do it.
    pub fn first_not_ready(&self, names: &[&str]) -> Option<(String, String)> {
        let checks = self.lock();
        names.iter().find_map(|n| match checks.get(*n) {
            Some(Check::State { ready: true, .. }) | Some(Check::Probe(_)) => None,
            Some(Check::State { detail, .. }) => Some(((*n).to_owned(), detail.clone())),
            None => Some(((*n).to_owned(), "not started".to_owned())),
        })
    }

    /// Removes the check `name`, if any.
    pub fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    /// Evaluates every check (running the probes concurrently) and returns whether all pass,
    /// with the status of each check sorted by name. Must run inside a Tokio runtime.
    pub async fn is_ready(&self) -> (bool, Vec<CheckStatus>) {
        enum Pending {
            Done(CheckStatus),
            Probe(String, ReadinessProbe),
        }
        // Snapshot under the lock; never hold it across an await.
        let pending: Vec<Pending> = self
            .lock()
            .iter()
            .map(|(name, check)| match check {
                Check::State { ready, detail } => Pending::Done(CheckStatus {
                    name: name.clone(),
                    ready: *ready,
                    detail: detail.clone(),
                }),
                Check::Probe(probe) => Pending::Probe(name.clone(), Arc::clone(probe)),
            })
            .collect();

        let timeout = self.inner.probe_timeout;
        let statuses = futures::future::join_all(pending.into_iter().map(|p| async move {
            match p {
                Pending::Done(status) => status,
                Pending::Probe(name, probe) => {
                    let (ready, detail) = run_probe(&probe, timeout).await;
                    CheckStatus {
                        name,
                        ready,
                        detail,
                    }
                }
            }
        }))
        .await;
        let ready = statuses.iter().all(|s| s.ready);
        (ready, statuses)
    }
}

/// Runs one probe on its own task so that a panic or a hang cannot take the caller down.
async fn run_probe(probe: &ReadinessProbe, timeout: Duration) -> (bool, String) {
    let mut task = tokio::spawn(probe());
    match tokio::time::timeout(timeout, &mut task).await {
        Ok(Ok(Ok(()))) => (true, "ok".to_owned()),
        Ok(Ok(Err(detail))) => (false, detail),
        Ok(Err(join_err)) => (false, format!("probe failed: {join_err}")),
        Err(_) => {
            task.abort();
            (false, format!("probe timed out after {timeout:?}"))
        }
    }
}

#[derive(Clone)]
struct AppState {
    registry: prometheus::Registry,
    readiness: Readiness,
}

/// The admin HTTP server, bound but not yet serving.
pub struct AdminServer {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl std::fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl AdminServer {
    /// Binds the listening socket right away (port 0 picks a free port; see
    /// [`AdminServer::local_addr`]). Serving starts with [`AdminServer::run`] or
    /// [`AdminServer::spawn`].
    ///
    /// # Errors
    ///
    /// [`TelemetryError::Bind`] if the address cannot be bound.
    pub fn bind(
        addr: SocketAddr,
        registry: prometheus::Registry,
        readiness: Readiness,
    ) -> Result<AdminServer, TelemetryError> {
        let bind_err = |source| TelemetryError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        Ok(AdminServer {
            listener,
            local_addr,
            router: router(AppState {
                registry,
                readiness,
            }),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests
    /// finish. Must run inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::Serve`] if the listener cannot be registered with the runtime.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), TelemetryError> {
        let listener =
            tokio::net::TcpListener::from_std(self.listener).map_err(TelemetryError::Serve)?;
        tracing::info!(addr = %self.local_addr, "admin server listening");
        axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(TelemetryError::Serve)?;
        tracing::debug!(addr = %self.local_addr, "admin server stopped");
        Ok(())
    }

    /// Spawns [`AdminServer::run`] on the current Tokio runtime, stopping when `shutdown` is
    /// cancelled. Must be called inside a Tokio runtime.
    pub fn spawn(
        self,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<Result<(), TelemetryError>> {
        tokio::spawn(self.run(shutdown.cancelled_owned()))
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let encoder = prometheus::TextEncoder::new();
    match encoder.encode_to_string(&state.registry.gather()) {
        Ok(body) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "encoding metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding metrics failed: {err}"),
            )
                .into_response()
        }
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize)]
struct ReadyBody {
    status: &'static str,
    checks: Vec<CheckStatus>,
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<ReadyBody>) {
    let (ready, checks) = state.readiness.is_ready().await;
    if ready {
        (
            StatusCode::OK,
            Json(ReadyBody {
                status: "ready",
                checks,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(ReadyBody {
                status: "not_ready",
                checks,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        admin: AdminSettings,
    }

    #[test]
    fn admin_addr_flag_and_default() {
        assert_eq!(
            AdminSettings::default().admin_addr.to_string(),
            DEFAULT_ADMIN_ADDR
        );
        let cli = Cli::try_parse_from(["svc", "--admin-addr", "0.0.0.0:9000"]).expect("valid");
        assert_eq!(cli.admin.admin_addr.to_string(), "0.0.0.0:9000");
        assert!(Cli::try_parse_from(["svc", "--admin-addr", "nope"]).is_err());
    }

    #[tokio::test]
    async fn empty_readiness_is_ready() {
        let (ready, checks) = Readiness::new().is_ready().await;
        assert!(ready);
        assert!(checks.is_empty());
    }

    #[tokio::test]
    async fn push_checks_are_combined() {
        let r = Readiness::new();
        r.set("consumer:orders", false, "no partitions assigned");
        r.set("producer", true, "ok");
        let (ready, checks) = r.is_ready().await;
        assert!(!ready);
        assert_eq!(
            checks,
            vec![
                CheckStatus {
                    name: "consumer:orders".into(),
                    ready: false,
                    detail: "no partitions assigned".into()
                },
                CheckStatus {
                    name: "producer".into(),
                    ready: true,
                    detail: "ok".into()
                },
            ]
        );
        r.clone().set("consumer:orders", true, "3 partitions");
        assert!(r.is_ready().await.0);
        r.set("consumer:orders", false, "revoked");
        r.remove("consumer:orders");
        assert!(r.is_ready().await.0);
    }

    #[tokio::test]
    async fn probes_error_panic_and_timeout_are_not_ready() {
        let r = Readiness::with_probe_timeout(Duration::from_millis(100));
        r.register_probe("ok", || async { Ok(()) });
        assert!(r.is_ready().await.0);

        r.register_probe("err", || async { Err("broker unreachable".to_owned()) });
        r.register_probe("hang", || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        });
        r.register_probe("panic", || async { panic!("probe blew up") });
        let (ready, checks) = r.is_ready().await;
        assert!(!ready);
        let by_name = |n: &str| {
            checks
                .iter()
                .find(|c| c.name == n)
                .cloned()
                .expect("check present")
        };
        assert!(by_name("ok").ready);
        assert_eq!(by_name("err").detail, "broker unreachable");
        assert!(!by_name("hang").ready);
        assert!(by_name("hang").detail.contains("timed out"));
        assert!(!by_name("panic").ready);
    }
}
