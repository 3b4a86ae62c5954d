//! `order-intake-bench`: runs the `order-intake` binary against the local stack (broker and
//! schema registry), loads master data, and submits orders of 3 lines over HTTP: at a fixed
//! rate (open loop, latency measured from each request's scheduled start, so a slow answer
//! cannot hide the ones queued behind it), then unthrottled with a fixed number of concurrent
//! clients (sustained throughput). Prints a markdown table.
//!
//! Latency is from sending the request to receiving `201 Created`, which the service sends only
//! after the broker acknowledged the `OrderAccepted` record: it bounds the time from request
//! to the accepted event being on the topic. At the end the outcomes on `orders.events` are
//! counted against the orders submitted.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::{NaiveDate, Utc};
use clap::Parser;
use dsync_bus::parse_duration;
use dsync_bus::{ensure_topics, BusMetrics, EventProducer, KafkaSettings};
use dsync_events::{
    Address, AtpPolicy, AvailabilityChanged, ChannelAtp, CustomerShipTo, CustomerUpserted, Event,
    EventCodec, EventMetadata, ItemStatus, ItemUnit, ItemUpserted, LocationKind, Money,
    OrderChannel, PriceKind, PriceListEntryUpserted, RegistrySettings, WarehouseLocationUpserted,
};
use dsync_order_intake::topics::Topics;
use serde_json::json;

/// Benchmark of order-intake over HTTP against the running stack.
#[derive(Debug, Parser)]
#[command(name = "order-intake-bench")]
struct Args {
    /// The order-intake binary to run (build it with --release).
    #[arg(
        long,
        env = "ORDER_INTAKE_BIN",
        default_value = "target/release/order-intake"
    )]
    service_bin: PathBuf,
    /// Kafka bootstrap brokers.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    kafka_brokers: String,
    /// Schema registry URL.
    #[arg(
        long,
        env = "SCHEMA_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    schema_registry_url: String,
    /// Orders per second of the fixed-rate run.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Length of the fixed-rate run.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    rate_duration: Duration,
    /// Length of the unthrottled run.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    max_duration: Duration,
    /// Concurrent clients of the unthrottled run.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Orders submitted before measuring.
    #[arg(long, default_value_t = 3000)]
    warmup: u64,
    /// Customers (spread over the submissions partitions).
    #[arg(long, default_value_t = 120)]
    customers: usize,
    /// Items.
    #[arg(long, default_value_t = 500)]
    items: usize,
    /// `CONSUMER_FETCH_WAIT` of the service, in milliseconds.
    #[arg(long)]
    consumer_fetch_wait_ms: Option<u32>,
    /// Where the service's log goes.
    #[arg(long, default_value = "target/order-intake-bench.log")]
    service_log: PathBuf,
}

const API_KEY: &str = "bench-key";

fn meta<E: Event>() -> EventMetadata {
    let id = uuid::Uuid::new_v4().to_string();
    EventMetadata {
        event_id: id.as_str().into(),
        event_type: E::RECORD_NAME.into(),
        occurred_at: Utc::now(),
        correlation_id: id.as_str().into(),
        causation_id: None,
        source_system: "erp".into(),
        schema_version: i32::try_from(E::SCHEMA_VERSION).unwrap_or(1),
    }
}

fn usd(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "USD".into(),
    }
}

fn address() -> Address {
    Address {
        line1: "1 Main St".into(),
        line2: None,
        city: "Springfield".into(),
        region: Some("IL".into()),
        postal_code: Some("62701".into()),
        country_code: "US".into(),
    }
}

async fn load_master_data(
    args: &Args,
    topics: &Topics,
    codec: &EventCodec,
    producer: &EventProducer,
) -> anyhow::Result<()> {
    let mut records = Vec::new();
    for c in 0..args.customers {
        let id = format!("BC{c:04}");
        let e = CustomerUpserted {
            metadata: meta::<CustomerUpserted>(),
            customer_id: id.as_str().into(),
            name: format!("Bench customer {c}").into(),
            active: true,
            currency: "USD".into(),
            credit_limit: Some(usd(i64::MAX / 4)),
            open_balance: usd(0),
            balance_as_of: Utc::now(),
            on_hold: false,
            hold_reason: None,
            price_list_id: "LIST".into(),
            contract_id: None,
            atp_policy: AtpPolicy::Backorder,
            crm_account_id: None,
            edi_partner_id: None,
            bill_to: None,
            ship_tos: vec![CustomerShipTo {
                ship_to_id: "S1".into(),
                name: "Main".into(),
                address: address(),
                edi_location_id: None,
                default_warehouse_id: None,
                is_default: true,
                active: true,
            }],
        };
        records.push(
            codec
                .outbound(&topics.customers, id.into_bytes(), &e, None)
                .await?,
        );
    }
    let day = NaiveDate::from_ymd_opt(2020, 1, 1).context("date")?;
    for i in 0..args.items {
        let sku = format!("BSKU{i:05}");
        let unit = |u: &str, f: i64| ItemUnit {
            unit: u.into(),
            factor_to_base: f,
            gtin: None,
            orderable: true,
        };
        let item = ItemUpserted {
            metadata: meta::<ItemUpserted>(),
            sku: sku.as_str().into(),
            description: "bench item".into(),
            base_unit: "EA".into(),
            units: vec![unit("EA", 1), unit("CS", 12)],
            status: ItemStatus::Active,
            sellable: true,
            category: None,
        };
        records.push(
            codec
                .outbound(&topics.items, sku.as_bytes().to_vec(), &item, None)
                .await?,
        );
        let entry = format!("BP{i:05}");
        let price = PriceListEntryUpserted {
            metadata: meta::<PriceListEntryUpserted>(),
            entry_id: entry.as_str().into(),
            kind: PriceKind::List,
            price_list_id: "LIST".into(),
            sku: sku.as_str().into(),
            unit: "EA".into(),
            unit_price: usd(100 + i64::try_from(i).unwrap_or(0)),
            valid_from: day,
            valid_to: None,
        };
        records.push(
            codec
                .outbound(&topics.prices, entry.into_bytes(), &price, None)
                .await?,
        );
        let pos = AvailabilityChanged {
            metadata: meta::<AvailabilityChanged>(),
            sku: sku.as_str().into(),
            location_id: "L1".into(),
            warehouse_id: "WH1".into(),
            base_unit: "EA".into(),
            on_hand_base: 1_000_000_000,
            reserved_base: 0,
            backordered_base: 0,
            available_base: 1_000_000_000,
            channel_atp: vec![ChannelAtp {
                channel: OrderChannel::Http,
                atp_base: 1_000_000_000,
                safety_stock_base: 0,
            }],
            position_version: 1,
            last_movement_at: None,
        };
        records.push(
            codec
                .outbound(
                    &topics.availability,
                    format!("{sku}@L1").into_bytes(),
                    &pos,
                    None,
                )
                .await?,
        );
    }
    let loc = WarehouseLocationUpserted {
        metadata: meta::<WarehouseLocationUpserted>(),
        location_id: "L1".into(),
        name: "Main".into(),
        warehouse_id: "WH1".into(),
        location_kind: LocationKind::Stock,
        atp_eligible: true,
        address: address(),
        time_zone: "America/Chicago".into(),
        active: true,
        wms_source_system: None,
    };
    records.push(
        codec
            .outbound(&topics.locations, b"L1".to_vec(), &loc, None)
            .await?,
    );
    producer.send_all(&records).await?;
    Ok(())
}

/// Mean of a Prometheus histogram over all its label sets.
fn histogram_mean(text: &str, name: &str) -> Option<f64> {
    histogram_mean_where(text, name, "")
}

/// Observations of histogram `name` (series whose labels contain `labels`) at or below `le`
/// (a bucket bound; infinity for all).
fn bucket_count(text: &str, name: &str, labels: &str, le: f64) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket")) && l.contains(labels))
        .filter(|l| {
            l.split("le=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|v| {
                    if v == "+Inf" {
                        Some(f64::INFINITY)
                    } else {
                        v.parse::<f64>().ok()
                    }
                })
                .is_some_and(|v| (v - le).abs() < 1e-12 || (v.is_infinite() && le.is_infinite()))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Mean of the series of histogram `name` whose labels contain `labels`.
fn histogram_mean_where(text: &str, name: &str, labels: &str) -> Option<f64> {
    let total = |suffix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{suffix}")) && l.contains(labels))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let (sum, count) = (total("_sum"), total("_count"));
    (count > 0.0).then(|| sum / count)
}

fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

struct Order {
    key: String,
    body: String,
}

/// Shape of the generated orders.
#[derive(Debug, Clone, Copy)]
struct Shape {
    customers: u64,
    items: u64,
}

impl Shape {
    fn of(args: &Args) -> Self {
        Self {
            customers: args.customers.max(1) as u64,
            items: args.items.max(3) as u64,
        }
    }
}

fn make_order(shape: Shape, run: &str, n: u64) -> Order {
    let Shape { customers, items } = shape;
    let c = n % customers;
    let lines: Vec<serde_json::Value> = (0..3u64)
        .map(|l| {
            let i = (n.wrapping_mul(7919) + l * 131) % items;
            json!({ "sku": format!("BSKU{i:05}"), "quantity": 1 + (n + l) % 4, "unit": if l == 1 { "CS" } else { "EA" } })
        })
        .collect();
    Order {
        key: format!("{run}-{n}"),
        body: json!({ "customer_id": format!("BC{c:04}"), "currency": "USD", "lines": lines })
            .to_string(),
    }
}

#[derive(Default)]
struct Tally {
    created: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
}

async fn submit(
    client: &reqwest::Client,
    url: &str,
    order: Order,
    tally: &Tally,
) -> Option<Duration> {
    let started = Instant::now();
    let r = client
        .post(url)
        .header("x-api-key", API_KEY)
        .header("idempotency-key", order.key)
        .header("content-type", "application/json")
        .body(order.body)
        .send()
        .await;
    match r {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let _ = resp.bytes().await;
            if status == 201 {
                tally.created.fetch_add(1, Ordering::Relaxed);
                Some(started.elapsed())
            } else {
                tally.other.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
        Err(_) => {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

struct Run {
    /// Completion second (since the run started) of every 201.
    per_second: Vec<u64>,
    name: String,
    orders: u64,
    secs: f64,
    latencies_us: Vec<u64>,
    created: u64,
    other: u64,
    errors: u64,
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = (((sorted.len() - 1) as f64) * p).round() as usize;
    #[allow(clippy::cast_precision_loss)]
    let v = sorted[i.min(sorted.len() - 1)] as f64;
    v / 1000.0
}

async fn fixed_rate(
    args: &Args,
    client: &reqwest::Client,
    url: &str,
    run: &str,
    start_n: u64,
) -> Run {
    let tally = Arc::new(Tally::default());
    let total = args.rate * args.rate_duration.as_secs().max(1);
    let interval = Duration::from_nanos(1_000_000_000 / args.rate.max(1));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for k in 0..total {
        let due = started + interval * u32::try_from(k).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, tally) = (client.clone(), url.to_owned(), Arc::clone(&tally));
        let order = make_order(Shape::of(args), run, start_n + k);
        handles.push(tokio::spawn(async move {
            // latency from the scheduled start: waiting to be sent counts
            let lat = submit(&client, &url, order, &tally).await;
            lat.map(|_| due.elapsed())
        }));
    }
    let mut lat = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(Some(d)) = h.await {
            lat.push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    Run {
        per_second: Vec::new(),
        name: format!("fixed rate {} orders/s", args.rate),
        orders: total,
        secs,
        latencies_us: lat,
        created: tally.created.load(Ordering::Relaxed),
        other: tally.other.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
    }
}

async fn unthrottled(args: &Args, client: &reqwest::Client, url: &str, run: &str) -> Run {
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + args.max_duration;
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, url, tally, next) = (
            client.clone(),
            url.to_owned(),
            Arc::clone(&tally),
            Arc::clone(&next),
        );
        let run = run.to_owned();
        let shape = Shape::of(args);
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut done_at = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if let Some(d) = submit(&client, &url, make_order(shape, &run, n), &tally).await {
                    lat.push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
                    done_at.push(started.elapsed().as_secs());
                }
            }
            (lat, done_at)
        }));
    }
    let mut lat = Vec::new();
    let mut per_second = vec![0u64; usize::try_from(args.max_duration.as_secs()).unwrap_or(0) + 2];
    for w in workers {
        if let Ok((l, done_at)) = w.await {
            lat.extend(l);
            for s in done_at {
                if let Some(slot) = per_second.get_mut(usize::try_from(s).unwrap_or(usize::MAX)) {
                    *slot += 1;
                }
            }
        }
    }
    per_second.truncate(usize::try_from(args.max_duration.as_secs()).unwrap_or(0));
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    Run {
        per_second,
        name: format!("unthrottled, {} clients", args.concurrency),
        orders: next.load(Ordering::Relaxed),
        secs,
        latencies_us: lat,
        created: tally.created.load(Ordering::Relaxed),
        other: tally.other.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    dsync_telemetry::init_for_tests();
    if !args.service_bin.exists() {
        bail!(
            "{} not found: cargo build --release -p dsync-order-intake",
            args.service_bin.display()
        );
    }
    let kafka = KafkaSettings::local(&args.kafka_brokers);
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let prefix = format!("bench-{run}.");
    let topics = Topics::with_prefix(&prefix);
    ensure_topics(&kafka, &topics.specs()).await?;
    let codec = EventCodec::from_settings(&RegistrySettings {
        url: args.schema_registry_url.clone(),
        ..RegistrySettings::default()
    })?;
    let producer = EventProducer::new(&kafka, BusMetrics::unregistered())?;
    let t = Instant::now();
    load_master_data(&args, &topics, &codec, &producer).await?;
    println!(
        "master data: {} customers, {} items with prices and availability ({:.1} s)",
        args.customers,
        args.items,
        t.elapsed().as_secs_f64()
    );

    let listen = free_port()?;
    let admin = free_port()?;
    let log = std::fs::File::create(&args.service_log)
        .with_context(|| format!("creating {}", args.service_log.display()))?;
    let mut cmd = tokio::process::Command::new(&args.service_bin);
    cmd.env("KAFKA_BROKERS", &args.kafka_brokers)
        .env("SCHEMA_REGISTRY_URL", &args.schema_registry_url)
        .env("TOPIC_PREFIX", &prefix)
        .env("GROUP_ID", format!("bench-{run}"))
        .env("HTTP_ADDR", listen.to_string())
        .env("ADMIN_ADDR", admin.to_string())
        .env("API_KEYS", format!("bench:{API_KEY}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    if let Some(w) = args.consumer_fetch_wait_ms {
        cmd.env("CONSUMER_FETCH_WAIT", format!("{w}ms"));
    }
    let mut child = cmd.spawn().context("starting order-intake")?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let ready = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("http://{admin}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "order-intake exited with {status}; see {}",
                args.service_log.display()
            );
        }
        if ready.elapsed() > Duration::from_secs(120) {
            bail!(
                "order-intake not ready after 120 s; see {}",
                args.service_log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "order-intake ready in {:.1} s",
        ready.elapsed().as_secs_f64()
    );
    let url = format!("http://{listen}/v1/orders");

    // warm-up
    let tally = Tally::default();
    let mut n = 0u64;
    while n < args.warmup {
        let batch: Vec<_> = (n..(n + 50).min(args.warmup))
            .map(|k| {
                submit(
                    &client,
                    &url,
                    make_order(Shape::of(&args), &format!("warm-{run}"), k),
                    &tally,
                )
            })
            .collect();
        n += batch.len() as u64;
        futures::future::join_all(batch).await;
    }
    println!(
        "warm-up: {} orders ({} accepted)",
        args.warmup,
        tally.created.load(Ordering::Relaxed)
    );

    let scrape = || async {
        match client.get(format!("http://{admin}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    };
    let before_fixed = scrape().await;
    let fixed = fixed_rate(&args, &client, &url, &format!("rate-{run}"), 0).await;
    let after_fixed = scrape().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let max = unthrottled(&args, &client, &url, &format!("max-{run}")).await;

    // every order has its outcome on orders.events
    let expected = args.warmup + fixed.orders + max.orders;
    let deadline = Instant::now() + Duration::from_secs(120);
    let on_topic = loop {
        let n: i64 = dsync_bus::reader::end_offsets(&kafka, &topics.events)
            .await?
            .values()
            .sum();
        let n = u64::try_from(n).unwrap_or(0);
        if n >= expected || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let service_metrics = match client.get(format!("http://{admin}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };

    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;

    println!();
    println!(
        "order-intake over HTTP, one instance, orders of 3 lines, local stack ({})",
        args.kafka_brokers
    );
    println!();
    println!(
        "| run | orders | duration | accepted/s | p50 | p90 | p99 | max | 201 | other | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in [&fixed, &max] {
        #[allow(clippy::cast_precision_loss)]
        let rate = r.created as f64 / r.secs;
        let l = &r.latencies_us;
        println!(
            "| {} | {} | {:.1} s | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} | {} | {} |",
            r.name,
            r.orders,
            r.secs,
            rate,
            pct(l, 0.50),
            pct(l, 0.90),
            pct(l, 0.99),
            pct(l, 1.0),
            r.created,
            r.other,
            r.errors
        );
    }
    println!();
    println!(
        "latency: request sent (scheduled start for the fixed rate) -> 201 received; 201 is sent after the broker acknowledged the OrderAccepted record. outcomes on {}: {on_topic} of {expected} orders submitted.",
        topics.events
    );
    let series: Vec<String> = max.per_second.iter().map(u64::to_string).collect();
    println!("unthrottled, accepted per second: {}", series.join(" "));
    println!();
    println!("service-side means over the whole run (from its /metrics):");
    for (name, what) in [
        (
            "dsync_order_intake_http_request_duration_seconds",
            "HTTP request handling (all routes)",
        ),
        (
            "dsync_order_intake_submission_to_outcome_seconds",
            "submission published -> outcome acknowledged",
        ),
        (
            "dsync_order_intake_validation_duration_seconds",
            "validation (decision only)",
        ),
        (
            "dsync_bus_handler_duration_seconds",
            "submissions handler (incl. publishing the outcome)",
        ),
    ] {
        if let Some(mean) = histogram_mean(&service_metrics, name) {
            println!("- {what}: {:.3} ms", mean * 1000.0);
        }
    }
    for (topic, what) in [
        (&topics.submissions, "submission produced -> acknowledged"),
        (&topics.events, "outcome produced -> acknowledged"),
    ] {
        let labels = format!("topic=\"{topic}\"");
        if let Some(mean) =
            histogram_mean_where(&service_metrics, "dsync_bus_produce_ack_seconds", &labels)
        {
            println!("- {what}: {:.3} ms", mean * 1000.0);
        }
    }
    let counter = |result: &str| -> f64 {
        let series = format!(
            "dsync_bus_local_deliveries_total{{result=\"{result}\",topic=\"{}\"}}",
            topics.submissions
        );
        service_metrics
            .lines()
            .filter(|l| l.starts_with(&series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    println!(
        "- submissions handed to the local consumer: {} now, {} after an earlier one, {} left to the fetch",
        counter("taken"),
        counter("ahead"),
        counter("fetched")
    );
    println!();
    println!("service side during the fixed-rate run (share of each within the bound):");
    let bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05];
    let header: Vec<String> = bounds
        .iter()
        .map(|b| format!("<= {} ms", b * 1000.0))
        .collect();
    println!("| histogram | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(bounds.len()));
    for (what, name, labels) in [
        (
            "POST /v1/orders handled",
            "dsync_order_intake_http_request_duration_seconds",
            "method=\"POST\"".to_owned(),
        ),
        (
            "submission acknowledged",
            "dsync_bus_produce_ack_seconds",
            format!("topic=\"{}\"", topics.submissions),
        ),
        (
            "outcome acknowledged",
            "dsync_bus_produce_ack_seconds",
            format!("topic=\"{}\"", topics.events),
        ),
    ] {
        let shares: Vec<String> = bounds
            .iter()
            .map(|b| {
                let within = |text: &str| bucket_count(text, name, &labels, *b);
                let total = |text: &str| bucket_count(text, name, &labels, f64::INFINITY);
                let n = total(&after_fixed) - total(&before_fixed);
                let k = within(&after_fixed) - within(&before_fixed);
                if n > 0.0 {
                    format!("{:.2} %", 100.0 * k / n)
                } else {
                    "-".to_owned()
                }
            })
            .collect();
        println!("| {what} | {} |", shares.join(" | "));
    }
    if on_topic < expected {
        bail!("{} outcomes missing", expected - on_topic);
    }
    Ok(())
}
