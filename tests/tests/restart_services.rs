//! `kill -9` and an immediate restart of every consumer in the product, each in a real process
//! (`service` fixture: the service run as its own binary runs it): the restarted instance is
//! ready only once its consumer group covers its partitions, it gets there within [`BOUND`],
//! and order-intake decides what was submitted meanwhile, answering 503 (never 202 PENDING)
//! while it cannot.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

/// The dead member's session (10 s), the watchdog's grace (3 s) and a rebalance, with margin
/// for a loaded machine; the first start also loads topics and state.
const BOUND: Duration = Duration::from_secs(90);
const API_KEY: &str = "restart-test-key";
const REGISTRY: &str = "http://127.0.0.1:8081";

fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// One deployment of a service: fixed topic prefix, group and ports, so a restart is the same
/// instance coming back.
#[derive(Debug, Clone)]
struct Deployment {
    service: &'static str,
    group: String,
    admin: SocketAddr,
    http: SocketAddr,
    args: Vec<String>,
}

impl Deployment {
    fn new(service: &'static str, extra: &[String]) -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("k9s-{}-", &id[..10]);
        let group = format!("{service}-{}", &id[..10]);
        let (admin, http) = (free_addr()?, free_addr()?);
        let mut args = vec![
            "--topic-prefix".into(),
            prefix,
            "--group-id".into(),
            group.clone(),
            "--admin-addr".into(),
            admin.to_string(),
            "--http-addr".into(),
            http.to_string(),
            "--schema-registry-url".into(),
            REGISTRY.into(),
        ];
        args.extend_from_slice(extra);
        Ok(Self {
            service,
            group,
            admin,
            http,
            args,
        })
    }

    fn start(&self) -> anyhow::Result<Process> {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_service"))
            .args(&self.args)
            .env("DSYNC_SERVICE", self.service)
            .env(
                "KAFKA_BROKERS",
                std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
            )
            .env("RUST_LOG", "warn")
            .spawn()
            .with_context(|| format!("starting {}", self.service))?;
        Ok(Process(Some(child)))
    }

    /// `/readyz`: whether ready, and the detail of this deployment's consumer check.
    async fn readiness(&self) -> Option<(bool, String)> {
        let resp = reqwest::get(format!("http://{}/readyz", self.admin))
            .await
            .ok()?;
        let ready = resp.status().is_success();
        let body: Value = resp.json().await.ok()?;
        let name = format!("consumer:{}", self.group);
        let detail = body["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name.as_str()))
            .and_then(|c| c["detail"].as_str())
            .unwrap_or_default()
            .to_owned();
        Some((ready, detail))
    }

    /// Waits until `/readyz` answers 200 within `deadline`. Every ready answer must come with
    /// the consumer check saying that this lone member owns every partition.
    async fn wait_ready_owning_all(&self, deadline: Instant) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            if let Some((ready, detail)) = self.readiness().await {
                if ready {
                    let all = parse_owned(&detail).is_some_and(|(o, t)| o == t && t > 0);
                    if !all {
                        bail!(
                            "{} ready without owning every partition: {detail}",
                            self.service
                        );
                    }
                    return Ok(started.elapsed());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{} not ready within {BOUND:?}: {:?}",
                    self.service,
                    self.readiness().await
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `(owned, total)` from "N of M partitions owned here; ...".
fn parse_owned(detail: &str) -> Option<(usize, usize)> {
    let mut w = detail.split_whitespace();
    let owned = w.next()?.parse().ok()?;
    if w.next()? != "of" {
        return None;
    }
    let total = w.next()?.parse().ok()?;
    Some((owned, total))
}

/// A service process, SIGKILLed when dropped.
struct Process(Option<std::process::Child>);

impl Process {
    fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.0.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

async fn kill_and_restart(d: &Deployment) -> anyhow::Result<(Process, Duration)> {
    let mut first = d.start()?;
    d.wait_ready_owning_all(Instant::now() + BOUND * 2).await?;
    first.kill9()?;
    let second = d.start()?;
    let took = d.wait_ready_owning_all(Instant::now() + BOUND).await?;
    Ok((second, took))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_projector_restarted_after_kill_9_is_ready_only_owning_its_partitions(
) -> anyhow::Result<()> {
    let d = Deployment::new("inventory-projector", &[])?;
    let (_p, took) = kill_and_restart(&d).await?;
    eprintln!("inventory-projector ready again {took:?} after kill -9");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edi_gateway_restarted_after_kill_9_is_ready_only_owning_its_partitions(
) -> anyhow::Result<()> {
    let data = std::env::temp_dir().join(format!("k9s-edi-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data)?;
    let profiles =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../services/edi-gateway/partners");
    let d = Deployment::new(
        "edi-gateway",
        &[
            "--profiles-dir".into(),
            profiles.display().to_string(),
            "--data-dir".into(),
            data.display().to_string(),
        ],
    )?;
    let result = kill_and_restart(&d).await;
    let _ = std::fs::remove_dir_all(&data);
    let (_p, took) = result?;
    eprintln!("edi-gateway ready again {took:?} after kill -9");
    Ok(())
}

async fn post(d: &Deployment, key: &str) -> anyhow::Result<(u16, Value)> {
    let body = json!({
        "customer_id": "C-RESTART",
        "customer_po_number": key,
        "currency": "USD",
        "lines": [{ "sku": "SKU-1", "quantity": 1, "unit": "EA" }]
    });
    let resp = reqwest::Client::new()
        .post(format!("http://{}/v1/orders", d.http))
        .header("x-api-key", API_KEY)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let code = resp.status().as_u16();
    if code == 503 && resp.headers().get("retry-after").is_none() {
        bail!("503 without Retry-After");
    }
    Ok((code, resp.json().await.unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_intake_restarted_after_kill_9_refuses_then_decides_every_order() -> anyhow::Result<()>
{
    let d = Deployment::new(
        "order-intake",
        &[
            "--api-keys".into(),
            format!("qa:{API_KEY}"),
            "--result-wait".into(),
            "20s".into(),
        ],
    )?;
    let mut first = d.start()?;
    d.wait_ready_owning_all(Instant::now() + BOUND * 2).await?;
    let (code, body) = post(&d, "before-kill").await?;
    anyhow::ensure!(
        code == 200 || code == 201,
        "decided before the kill: {code} {body}"
    );
    first.kill9()?;
    let _second = d.start()?;
    let deadline = Instant::now() + BOUND;
    // Orders keep coming while the instance recovers: each is refused with 503 (retry later)
    // or decided; 202 PENDING would mean accepted by an instance that cannot decide it.
    let keys: Vec<String> = (0..20).map(|i| format!("during-{i}")).collect();
    let mut refused = 0;
    let mut decided = std::collections::BTreeSet::new();
    while decided.len() < keys.len() {
        for k in &keys {
            if decided.contains(k) {
                continue;
            }
            match post(&d, k).await {
                Ok((200 | 201, _)) => {
                    decided.insert(k.clone());
                }
                Ok((503, _)) => refused += 1,
                Ok((202, body)) => bail!("202 PENDING after the restart: {body}"),
                Ok((code, body)) => bail!("unexpected {code}: {body}"),
                Err(_) => {} // not listening yet
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{} of {} orders decided within {BOUND:?} of the restart",
                decided.len(),
                keys.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    d.wait_ready_owning_all(deadline).await?;
    eprintln!("order-intake: {refused} answers 503 while recovering, then every order decided");
    Ok(())
}
