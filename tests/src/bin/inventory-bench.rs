//! Benchmark of the inventory projector against the local broker (an in-process registry on a
//! fresh schemas topic, fresh topics): prints a markdown table.
//!
//! 1. Live: movements per second processed by one instance (state saved to the changelog and
//!    availability published for every movement), `INV_BENCH_LIVE` movements (default 20,000).
//! 2. Rebuild: `INV_BENCH_REBUILD` movements (default 1,000,000) are produced straight to the
//!    movements topic; a raw consume of the topic (no decoding) and a full rebuild of the state
//!    from it (decode + apply) run in the same process, rebuild first; the peak resident
//!    memory (VmHWM from /proc/self/status) is reported.
//!
//! `make bench-inventory` (or `cargo run --release -p dsync-tests --bin inventory-bench`).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use dsync_bus::OutboundRecord;
use dsync_events::MovementType;
use dsync_inventory_projector::handlers::Ctx;
use dsync_inventory_projector::metrics;
use dsync_inventory_projector::rebuild::{raw_consume, rebuild};
use dsync_tests::inventory::{movement, InventoryEnv};
use dsync_tests::{eventually_every, Check};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Produces `n` movements over `skus` SKUs x 2 locations, chained per SKU.
async fn produce(w: &InventoryEnv, n: usize, skus: usize, tag: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut prev = vec![0i64; skus];
    let mut batch: Vec<OutboundRecord> = Vec::with_capacity(5000);
    for i in 0..n {
        let s = i % skus;
        let seq = i as i64 + 1;
        let sku = format!("{tag}-{s:05}");
        let loc = if (i / skus).is_multiple_of(2) {
            "L1"
        } else {
            "L2"
        };
        let (ty, delta) = if i % 3 == 2 {
            (MovementType::Pick, -1)
        } else {
            (MovementType::Receipt, 2)
        };
        let m = movement(&sku, loc, seq, Some(prev[s]), ty, delta, None);
        prev[s] = seq;
        batch.push(
            w.codec
                .outbound(&w.topics.movements, sku.into_bytes(), &m, None)
                .await?,
        );
        if batch.len() == 5000 {
            w.producer.send_all(&batch).await?;
            batch.clear();
        }
    }
    w.producer.send_all(&batch).await?;
    Ok(started.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let live_n = env_usize("INV_BENCH_LIVE", 20_000);
    let rebuild_n = env_usize("INV_BENCH_REBUILD", 1_000_000);
    let skus = env_usize("INV_BENCH_SKUS", 10_000);
    let partitions = 12;

    // 1. Live processing by one instance.
    let w = InventoryEnv::new(partitions).await?;
    produce(&w, live_n, skus.min(live_n.max(1)), "LIVE").await?;
    let p = w.start(w.settings(&w.env.unique("bench"), &[])?).await?;
    let started = Instant::now();
    let every = Duration::from_millis(50);
    eventually_every("live run", Duration::from_secs(1800), every, || async {
        let applied = p.counter(metrics::MOVEMENTS_APPLIED, &[]);
        Ok(Check::when(applied >= live_n as f64, (), || {
            format!("{applied} movements applied")
        }))
    })
    .await?;
    let live_secs = started.elapsed().as_secs_f64();
    p.stop().await?;

    // 2. Rebuild of 1,000,000 movements against a raw consume of the same topic.
    let w = InventoryEnv::new(partitions).await?;
    let produce_time = produce(&w, rebuild_n, skus, "RB").await?;
    let ctx = Ctx::default();
    let rss_before = status_kb("VmRSS:");
    let t = Instant::now();
    let (state, report) = rebuild(&w.env.settings, &w.topics, &w.codec, &ctx, None).await?;
    let rebuild_secs = t.elapsed().as_secs_f64();
    let hwm = status_kb("VmHWM:");
    drop(state);
    let t = Instant::now();
    let (raw_records, raw_bytes) = raw_consume(&w.env.settings, &w.topics.movements)
        .await
        .context("raw consume")?;
    let raw_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.movements as usize == rebuild_n,
        "rebuild read {} movements",
        report.movements
    );
    anyhow::ensure!(
        raw_records as usize == rebuild_n,
        "raw consume read {raw_records}"
    );

    let live_rate = live_n as f64 / live_secs;
    let raw_rate = raw_records as f64 / raw_secs;
    let rebuild_rate = report.movements as f64 / rebuild_secs;
    let table = format!(
        "| measure | value |\n|---|---|\n\
         | live: movements processed by one instance | {live_n} in {live_secs:.1} s = **{live_rate:.0} movements/s** |\n\
         | rebuild input | {rebuild_n} movements, {skus} SKUs x 2 locations, {partitions} partitions, {:.1} MB (produced in {:.1} s) |\n\
         | raw consume of the topic | {raw_secs:.2} s = {raw_rate:.0} records/s |\n\
         | rebuild of the state (decode + apply + digest) | {rebuild_secs:.2} s = {rebuild_rate:.0} movements/s |\n\
         | rebuild / raw consume rate | **{:.1} %** (target >= 90 %) |\n\
         | state rebuilt | {} SKUs, {} positions, digest {}… |\n\
         | resident memory | {:.0} MB before the rebuild, peak {:.0} MB (target <= 200 MB) |\n",
        raw_bytes as f64 / 1e6,
        produce_time.as_secs_f64(),
        100.0 * rebuild_rate / raw_rate,
        report.size.skus,
        report.size.positions,
        &report.digest[..16],
        rss_before as f64 / 1024.0,
        hwm as f64 / 1024.0,
    );
    #[allow(clippy::print_stdout)]
    {
        println!("{table}");
    }
    Ok(())
}
