//! `dsync`: the pipeline's command-line tool (a thin wrapper over the `dsync_cli` library, plus
//! the bus round-trip check).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use dsync_bus::{
    ensure_topics, parse_duration, BusMetrics, ConsumerConfig, ConsumerLoop, EventHeaders,
    EventProducer, Handler, HandlerResult, InboundRecord, KafkaSettings, OutboundRecord, TopicSpec,
};
use dsync_cli::{ConsumeArgs, ProduceArgs};
use dsync_events::RegistrySettings;
use dsync_telemetry::TelemetrySettings;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The distribution sync pipeline's command-line tool.
#[derive(Debug, Parser)]
#[command(name = "dsync", version)]
struct Cli {
    #[command(flatten)]
    kafka: KafkaSettings,
    #[command(flatten)]
    registry: RegistrySettings,
    #[command(flatten)]
    telemetry: TelemetrySettings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Produce records with the standard headers through the bus and consume them back with a
    /// consumer group, checking every record and header; prints throughput and latency.
    Roundtrip(RoundtripArgs),
    /// Check that the brokers answer metadata requests.
    Ping {
        /// How long to wait for an answer.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// List topics and their partition counts.
    Topics,
    /// Publish events from JSON lines or CSV (master data) through the schema registry: each
    /// record is validated against its event type, metadata is filled in, and a bad record is
    /// reported with its line number and field (the first one stops the run unless --skip-bad).
    ///
    /// CSV: a header row of field paths (customer_id, bill_to.city, ...); booleans Y/N, dates
    /// YYYY-MM-DD, money as 12.50 or 12.50 USD (else the currency column), lists as entries
    /// separated by ';' with a record's fields separated by ':' in schema order (units:
    /// EA:1;CS:12;PL:720::N). See data/sample/README.md.
    #[command(verbatim_doc_comment)]
    Produce(ProduceArgs),
    /// Print a topic's events, decoded through the schema registry, as JSON lines: from the
    /// beginning (default), from offsets (--offset P:O), or following (--follow).
    Consume(ConsumeArgs),
    /// Write the sample data of a small distributor (customers, items, prices, locations as
    /// CSV; orders as JSON lines). Deterministic for a seed.
    SampleData {
        /// Output directory.
        #[arg(long, env = "DSYNC_SAMPLE_DIR", default_value = "data/sample")]
        out: std::path::PathBuf,
        /// Seed of the generator.
        #[arg(long, env = "DSYNC_SAMPLE_SEED", default_value_t = dsync_cli::sample::DEFAULT_SEED)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
struct RoundtripArgs {
    /// Number of records.
    #[arg(long, env = "ROUNDTRIP_RECORDS", default_value_t = 20_000)]
    records: u64,
    /// Payload size in bytes.
    #[arg(long, env = "ROUNDTRIP_PAYLOAD_BYTES", default_value_t = 300)]
    payload_bytes: usize,
    /// Partitions of the round-trip topic.
    #[arg(long, env = "ROUNDTRIP_PARTITIONS", default_value_t = 3)]
    partitions: i32,
    /// Number of distinct keys (aggregates).
    #[arg(long, env = "ROUNDTRIP_KEYS", default_value_t = 500)]
    keys: u64,
    /// Give up after this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    timeout: Duration,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

struct RoundtripHandler {
    expected_prefix: String,
    received: AtomicU64,
    header_errors: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
    done: CancellationToken,
    target: u64,
}

impl Handler for RoundtripHandler {
    async fn handle(&self, r: &InboundRecord) -> HandlerResult {
        let now = now_micros();
        let payload = r.payload.as_deref().unwrap_or_default();
        let sent: u64 = std::str::from_utf8(&payload[..payload.len().min(20)])
            .ok()
            .and_then(|s| s.split('|').next())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(now);
        let h = &r.headers;
        let ok = h.event_id.starts_with(&self.expected_prefix)
            && h.event_type == "RoundtripProbe"
            && h.correlation_id == h.event_id
            && h.causation_id.as_deref() == Some("roundtrip")
            && h.traceparent
                .as_deref()
                .and_then(dsync_telemetry::propagation::parse_traceparent)
                .is_some()
            && r.key.is_some();
        if !ok {
            self.header_errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut l) = self.latencies_us.lock() {
            l.push(now.saturating_sub(sent));
        }
        if self.received.fetch_add(1, Ordering::Relaxed) + 1 >= self.target {
            self.done.cancel();
        }
        Ok(vec![])
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

#[allow(clippy::print_stdout)]
async fn roundtrip(kafka: KafkaSettings, a: RoundtripArgs) -> anyhow::Result<()> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let topic = format!("dsync.roundtrip.{}", &run[..12]);
    ensure_topics(&kafka, &[TopicSpec::stream(&topic, a.partitions)]).await?;
    let metrics = BusMetrics::unregistered();
    let producer = EventProducer::new(&kafka, metrics.clone())?;
    let done = CancellationToken::new();
    let prefix = format!("rt-{}-", &run[..8]);
    let handler = Arc::new(RoundtripHandler {
        expected_prefix: prefix.clone(),
        received: AtomicU64::new(0),
        header_errors: AtomicU64::new(0),
        latencies_us: Mutex::new(Vec::with_capacity(a.records as usize)),
        done: done.clone(),
        target: a.records,
    });
    let group = format!("dsync-roundtrip-{}", &run[..12]);
    let consumer = ConsumerLoop::new(
        kafka.clone(),
        ConsumerConfig::new(&group, &[topic.as_str()]),
        Arc::clone(&handler),
        producer.clone(),
        metrics,
    );
    let stop = done.clone();
    let consumer_task = tokio::spawn(consumer.run(stop));

    let started = Instant::now();
    let pad = "x".repeat(a.payload_bytes.saturating_sub(21));
    let batch = 1000u64;
    let mut i = 0u64;
    let span = tracing::info_span!("roundtrip_produce", run = %run);
    async {
        while i < a.records {
            let n = batch.min(a.records - i);
            let records: Vec<OutboundRecord> = (i..i + n)
                .map(|j| {
                    let id = format!("{prefix}{j}");
                    let mut h = EventHeaders::new_root("RoundtripProbe", &id);
                    h.causation_id = Some("roundtrip".into());
                    OutboundRecord::new(
                        &topic,
                        format!("key-{}", j % a.keys.max(1)).into_bytes(),
                        format!("{:>20}|{pad}", now_micros()).into_bytes(),
                        h,
                    )
                })
                .collect();
            producer.send_all(&records).await?;
            i += n;
        }
        Ok::<_, anyhow::Error>(())
    }
    .instrument(span)
    .await?;
    let produce_secs = started.elapsed().as_secs_f64();
    tokio::select! {
        () = done.cancelled() => {}
        () = tokio::time::sleep(a.timeout) => {
            done.cancel();
            let _ = consumer_task.await;
            bail!(
                "round trip timed out: {} of {} records consumed",
                handler.received.load(Ordering::Relaxed),
                a.records
            );
        }
    }
    let total_secs = started.elapsed().as_secs_f64();
    consumer_task.await.context("consumer task")??;
    let received = handler.received.load(Ordering::Relaxed);
    let header_errors = handler.header_errors.load(Ordering::Relaxed);
    let mut lat = handler
        .latencies_us
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    lat.sort_unstable();
    println!("bus round trip on {} ({topic})", kafka.brokers);
    println!("| metric | value |");
    println!("|---|---|");
    println!("| records | {} |", a.records);
    println!("| payload bytes | {} |", a.payload_bytes);
    println!("| partitions / keys | {} / {} |", a.partitions, a.keys);
    println!(
        "| produced (acks=all, idempotent) | {:.0} rec/s |",
        a.records as f64 / produce_secs
    );
    println!(
        "| end to end (produce start -> last consumed) | {:.0} rec/s |",
        a.records as f64 / total_secs
    );
    println!("| latency p50 | {:.2} ms |", percentile(&lat, 0.50));
    println!("| latency p99 | {:.2} ms |", percentile(&lat, 0.99));
    println!("| latency max | {:.2} ms |", percentile(&lat, 1.0));
    println!("| records consumed | {received} |");
    println!("| header mismatches | {header_errors} |");
    if received != a.records || header_errors != 0 {
        bail!(
            "round trip failed: {received}/{} records, {header_errors} header mismatches",
            a.records
        );
    }
    Ok(())
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _guard = dsync_telemetry::init("dsync", &cli.telemetry)?;
    cli.kafka.validate()?;
    match cli.command {
        Command::Roundtrip(a) => roundtrip(cli.kafka, a).await,
        Command::Ping { timeout } => {
            dsync_bus::admin::broker_reachable(&cli.kafka, timeout).await?;
            println!("broker reachable at {}", cli.kafka.brokers);
            Ok(())
        }
        Command::Topics => {
            let mut topics: Vec<_> = dsync_bus::admin::topic_partitions(&cli.kafka, None)
                .await?
                .into_iter()
                .collect();
            topics.sort();
            for (t, p) in topics {
                println!("{t}\t{p}");
            }
            Ok(())
        }
        Command::Produce(a) => {
            let summary = dsync_cli::produce(&cli.kafka, &cli.registry, &a).await?;
            for bad in &summary.bad {
                eprintln!("{}:{bad}", summary.input);
            }
            println!("{summary}");
            if !summary.is_clean() {
                bail!(
                    "{} bad record{} in {}",
                    summary.bad.len(),
                    if summary.bad.len() == 1 { "" } else { "s" },
                    summary.input
                );
            }
            Ok(())
        }
        Command::Consume(a) => {
            let stop = CancellationToken::new();
            let on_signal = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_signal.cancel();
                }
            });
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let mut err = std::io::stderr();
            let summary =
                dsync_cli::consume(&cli.kafka, &cli.registry, &a, &mut out, &mut err, stop).await?;
            drop(out);
            eprintln!("{}: {summary}", a.topic);
            Ok(())
        }
        Command::SampleData { out, seed } => {
            let summary = dsync_cli::sample::generate(&out, seed)?;
            println!("wrote {summary} into {}", out.display());
            Ok(())
        }
    }
}
