//! `kill -9` and an immediate restart, on the real broker, for a consumer running alone and for
//! one of two: the group ends with every partition owned and every pending record processed
//! within [`BOUND`], and the restarted member is not ready before it owns its share.
//!
//! The consumer is the bus's own loop in a real process (`bus-relay`), so the broker sees what
//! it sees of any service: a member that stops heartbeating without leaving (see
//! `dsync_bus::quirks`, item 5, for what tansu did with it before the membership watchdog).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use dsync_tests::{source_of, TestEnv};

/// How long after the restart every partition must be owned again and every record processed:
/// the dead member's session timeout (10 s), the watchdog's grace (3 s, or 15 s while the group
/// is between generations), a rebalance (tansu holds a follower's join 3 s) and margin for a
/// loaded machine.
const BOUND: Duration = Duration::from_secs(90);

/// A relay process, killed with SIGKILL when dropped.
struct Relay {
    child: Option<std::process::Child>,
    admin: SocketAddr,
}

impl Relay {
    fn start(env: &TestEnv, from: &str, to: &str, group: &str) -> anyhow::Result<Self> {
        let admin = free_addr()?;
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_bus-relay"))
            .args(["--from", from, "--to", to, "--group", group])
            .args(["--admin-addr", &admin.to_string()])
            .env("KAFKA_BROKERS", &env.settings.brokers)
            .env("RUST_LOG", "warn")
            .spawn()
            .context("starting bus-relay")?;
        Ok(Self {
            child: Some(child),
            admin,
        })
    }

    /// SIGKILL: no LeaveGroup, no commit; the broker only learns from the missing heartbeats.
    fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill().context("SIGKILL")?;
            c.wait()?;
        }
        Ok(())
    }

    /// `/readyz` status code and body (`None` while the server does not answer).
    async fn readyz(&self) -> Option<(u16, String)> {
        let url = format!("http://{}/readyz", self.admin);
        let resp = reqwest::get(&url).await.ok()?;
        let code = resp.status().as_u16();
        Some((code, resp.text().await.unwrap_or_default()))
    }

    /// `dsync_bus_consumer_partitions_owned` as this process last measured it.
    async fn owned(&self) -> Option<i64> {
        let url = format!("http://{}/metrics", self.admin);
        let body = reqwest::get(&url).await.ok()?.text().await.ok()?;
        body.lines()
            .find(|l| l.starts_with(dsync_bus::metrics::PARTITIONS_OWNED))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// Produces `n` records spread over every partition (keys `k0..`), tagged `tag`.
async fn produce(env: &TestEnv, topic: &str, tag: &str, n: usize) -> anyhow::Result<()> {
    let records: Vec<(String, String)> = (0..n)
        .map(|i| (format!("k{i}"), format!("{tag}-{i}")))
        .collect();
    let refs: Vec<(&str, String)> = records
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    env.produce(topic, &refs).await.map(|_| ())
}

/// Source offsets relayed so far, by partition.
async fn relayed(env: &TestEnv, output: &str) -> anyhow::Result<BTreeSet<(i32, i64)>> {
    let mut seen = BTreeSet::new();
    for r in env.read_all(output).await? {
        let (_, p, o) = source_of(&r)?;
        seen.insert((p, o));
    }
    Ok(seen)
}

/// Waits until every record of `input` (`total` of them) was relayed at least once.
async fn wait_all_relayed(
    env: &TestEnv,
    output: &str,
    total: usize,
    deadline: Instant,
) -> anyhow::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if env.wait_for(output, total, left).await.is_err() {
            bail!("fewer than {total} records relayed within {BOUND:?} of the restart");
        }
        // Redeliveries after the kill are allowed (at least once); every source record counts.
        let seen = relayed(env, output).await?;
        if seen.len() >= total {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {total} records relayed within {BOUND:?} of the restart",
                seen.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until every relay in `relays` answers `/readyz` 200 and together they own
/// `partitions`; a relay that reports ready must own at least one partition when the group has
/// at least as many partitions as members. Returns when they do, fails at the deadline.
async fn wait_ready_and_owned(
    relays: &[&Relay],
    partitions: i64,
    deadline: Instant,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let mut all_ready = true;
        let mut owned = 0;
        for r in relays {
            let ready = matches!(r.readyz().await, Some((200, _)));
            let o = r.owned().await.unwrap_or(0);
            if ready && o == 0 && partitions >= relays.len() as i64 {
                bail!("a relay reports ready while owning no partition");
            }
            all_ready &= ready;
            owned += o;
        }
        if all_ready && owned == partitions {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            let mut states = Vec::new();
            for r in relays {
                states.push((r.readyz().await, r.owned().await));
            }
            bail!("not every partition owned and ready within {BOUND:?}: {states:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_consumer_killed_and_restarted_at_once_owns_every_partition_again(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("k9-in", 6).await?;
    let output = env.topic("k9-out", 6).await?;
    let group = env.unique("k9");
    let mut first = Relay::start(&env, &input, &output, &group)?;
    produce(&env, &input, "before", 60).await?;
    wait_all_relayed(&env, &output, 60, Instant::now() + BOUND).await?;

    first.kill9()?;
    let restarted = Relay::start(&env, &input, &output, &group)?;
    let deadline = Instant::now() + BOUND;
    // Records that arrive while the group recovers must wait, not be lost.
    produce(&env, &input, "after", 60).await?;
    let took = wait_ready_and_owned(&[&restarted], 6, deadline).await?;
    wait_all_relayed(&env, &output, 120, deadline).await?;
    eprintln!("lone consumer: every partition owned and ready {took:?} after the restart");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_consumers_killed_and_restarted_at_once_leaves_no_partition_unowned(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("k9b-in", 6).await?;
    let output = env.topic("k9b-out", 6).await?;
    let group = env.unique("k9b");
    let survivor = Relay::start(&env, &input, &output, &group)?;
    let mut victim = Relay::start(&env, &input, &output, &group)?;
    wait_ready_and_owned(&[&survivor, &victim], 6, Instant::now() + BOUND).await?;
    produce(&env, &input, "before", 60).await?;
    wait_all_relayed(&env, &output, 60, Instant::now() + BOUND).await?;

    victim.kill9()?;
    let restarted = Relay::start(&env, &input, &output, &group)?;
    let deadline = Instant::now() + BOUND;
    produce(&env, &input, "after", 60).await?;
    // The dead member's session expires only after the restart joined: until then the group
    // holds three members. Wait for the end state: two members, every partition owned.
    let took = wait_ready_and_owned(&[&survivor, &restarted], 6, deadline).await?;
    wait_all_relayed(&env, &output, 120, deadline).await?;
    eprintln!("one of two: every partition owned and both ready {took:?} after the restart");
    Ok(())
}
