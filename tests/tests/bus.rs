//! The bus crate against the real broker: round trip, failure classes, dead-lettering, parked
//! keys across restarts, fatal stop and resume, SIGTERM during a burst, and a two-instance
//! rebalance. Every test uses its own topics and groups.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context as _};
use dsync_bus::dlq;
use dsync_bus::{
    BusError, BusMetrics, ConsumerConfig, ConsumerLoop, EventHeaders, OutboundRecord, PoisonPolicy,
    RetryPolicy,
};
use dsync_inventory_projector::hash::partition_for;
use dsync_tests::{eventually, payload_of, source_of, Check, ScriptedHandler, TestEnv};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

const WAIT: Duration = Duration::from_secs(60);

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        max_attempts: None,
    }
}

/// Starts a consumer loop in the background; returns its stop token and task.
fn spawn_loop(
    env: &TestEnv,
    config: ConsumerConfig,
    handler: Arc<ScriptedHandler>,
    metrics: BusMetrics,
) -> anyhow::Result<(
    CancellationToken,
    tokio::task::JoinHandle<Result<(), BusError>>,
)> {
    let producer = dsync_bus::EventProducer::new(&env.settings, metrics.clone())?;
    let stop = CancellationToken::new();
    let l = ConsumerLoop::new(env.settings.clone(), config, handler, producer, metrics);
    let task = tokio::spawn(l.run(stop.clone()));
    Ok((stop, task))
}

fn counter(reg: &prometheus::Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    dsync_tests::metric_value(reg, name, labels)
}

/// One key per partition of a topic with `partitions` partitions (the producer's murmur2).
fn key_per_partition(partitions: i32) -> Vec<String> {
    (0..partitions)
        .map(|p| {
            (0..)
                .map(|i| format!("sentinel-{i}"))
                .find(|k| partition_for(k.as_bytes(), partitions) == p)
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_keeps_every_standard_header_and_propagates_the_trace() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("rt-in", 2).await?;
    let output = env.topic("rt-out", 2).await?;
    let producer = env.producer()?;

    let span = tracing::info_span!("submit");
    let sent = async {
        let h = EventHeaders::new_root("OrderSubmitted", "evt-1");
        OutboundRecord::new(&input, b"order-42".to_vec(), b"1|ok".to_vec(), h)
            .with_header("x-extra", "kept")
    }
    .instrument(span)
    .await;
    let tp = sent
        .headers
        .traceparent
        .clone()
        .context("a traceparent on the root event")?;
    producer.send(&sent).await?;

    let got = env.wait_for(&input, 1, WAIT).await?;
    let r = &got[0];
    assert_eq!(r.key.as_deref(), Some(&b"order-42"[..]));
    assert_eq!(r.payload.as_deref(), Some(&b"1|ok"[..]));
    assert_eq!(
        r.headers, sent.headers,
        "standard headers survive the broker"
    );
    assert_eq!(r.header("x-extra"), Some(&b"kept"[..]));

    // Through a consumer loop: the output is caused by the input, in the same correlation and trace.
    let handler = ScriptedHandler::new(&output);
    let (stop, task) = spawn_loop(
        &env,
        ConsumerConfig::new(env.unique("rt"), &[input.as_str()]),
        handler,
        BusMetrics::unregistered(),
    )?;
    let out = env.wait_for(&output, 1, WAIT).await?;
    stop.cancel();
    task.await??;
    let o = &out[0].headers;
    assert_eq!(o.correlation_id, "evt-1");
    assert_eq!(o.causation_id.as_deref(), Some("evt-1"));
    assert_eq!(o.event_type, "Relayed");
    let trace_in = dsync_telemetry::propagation::parse_traceparent(&tp).context("valid tp")?;
    let trace_out = dsync_telemetry::propagation::parse_traceparent(
        o.traceparent.as_deref().context("output traceparent")?,
    )
    .context("valid output traceparent")?;
    assert_eq!(
        trace_in.trace_id(),
        trace_out.trace_id(),
        "one trace across the hop"
    );
    assert_ne!(trace_in.span_id(), trace_out.span_id());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_in_place_and_processed_once_in_key_order(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("tr-in", 1).await?;
    let output = env.topic("tr-out", 1).await?;
    env.produce(
        &input,
        &[
            ("A", "a1|transient=3".into()),
            ("A", "a2|ok".into()),
            ("B", "b1|ok".into()),
            ("A", "a3|transient=1".into()),
        ],
    )
    .await?;
    let registry = prometheus::Registry::new();
    let metrics = BusMetrics::new(&registry)?;
    let handler = ScriptedHandler::new(&output);
    let group = env.unique("tr");
    let (stop, task) = spawn_loop(
        &env,
        ConsumerConfig::new(&group, &[input.as_str()]).retry(fast_retry()),
        Arc::clone(&handler),
        metrics,
    )?;
    env.wait_for(&output, 4, WAIT).await?;
    // Every record finished (one partition, fetched once, nothing delivered locally: a record
    // is attempted and published only before its offset is committed).
    env.wait_caught_up(&group, &[&input], WAIT).await?;
    stop.cancel();
    task.await??;

    let out = env.read_all(&output).await?;
    let payloads: Vec<String> = out.iter().map(payload_of).collect();
    assert_eq!(
        payloads,
        vec!["a1|transient=3", "a2|ok", "b1|ok", "a3|transient=1"],
        "each record published once, in partition order"
    );
    let attempts: Vec<String> = handler.seen().into_iter().map(|s| s.payload).collect();
    assert_eq!(attempts.iter().filter(|p| p.starts_with("a1")).count(), 4);
    assert_eq!(attempts.iter().filter(|p| p.starts_with("a3")).count(), 2);
    // Nothing after a1 was attempted before a1 succeeded.
    let first_a2 = attempts
        .iter()
        .position(|p| p.starts_with("a2"))
        .context("a2")?;
    assert!(attempts[..first_a2].iter().all(|p| p.starts_with("a1")));
    assert_eq!(
        counter(
            &registry,
            dsync_bus::metrics::HANDLER_RETRIES,
            &[("topic", &input)]
        ),
        4.0
    );
    assert_eq!(env.committed(&group, &input).await?.get(&0), Some(&Some(4)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_record_is_dead_lettered_with_reason_and_coordinates_and_the_partition_flows(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("po-in", 1).await?;
    let output = env.topic("po-out", 1).await?;
    let ids = env
        .produce(
            &input,
            &[
                ("K1", "1|ok".into()),
                ("K1", "2|poison".into()),
                ("K1", "3|ok".into()),
                ("K2", "4|ok".into()),
            ],
        )
        .await?;
    let registry = prometheus::Registry::new();
    let metrics = BusMetrics::new(&registry)?;
    let group = env.unique("po");
    let (stop, task) = spawn_loop(
        &env,
        ConsumerConfig::new(&group, &[input.as_str()]),
        ScriptedHandler::new(&output),
        metrics,
    )?;
    env.wait_for(&output, 3, WAIT).await?;
    let dead = env.wait_for(&dlq::dlq_topic(&input), 1, WAIT).await?;
    stop.cancel();
    task.await??;

    let out: Vec<String> = env
        .read_all(&output)
        .await?
        .iter()
        .map(payload_of)
        .collect();
    assert_eq!(
        out,
        vec!["1|ok", "3|ok", "4|ok"],
        "skip policy: same key goes on"
    );
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(d.key.as_deref(), Some(&b"K1"[..]), "original key");
    assert_eq!(
        d.payload.as_deref(),
        Some(&b"2|poison"[..]),
        "original bytes"
    );
    assert_eq!(d.headers.event_id, ids[1], "original headers untouched");
    assert_eq!(d.header(dlq::H_SOURCE_TOPIC), Some(input.as_bytes()));
    assert_eq!(d.header(dlq::H_SOURCE_PARTITION), Some(&b"0"[..]));
    assert_eq!(d.header(dlq::H_SOURCE_OFFSET), Some(&b"1"[..]));
    assert_eq!(d.header(dlq::H_GROUP), Some(group.as_bytes()));
    assert_eq!(d.header(dlq::H_ERROR_CLASS), Some(&b"poison"[..]));
    let reason = String::from_utf8_lossy(d.header(dlq::H_ERROR_MESSAGE).context("reason")?);
    assert!(reason.contains("cannot be decoded"), "{reason}");
    assert!(d.header(dlq::H_TIME).is_some());
    assert_eq!(
        counter(
            &registry,
            dsync_bus::metrics::DEAD_LETTERED,
            &[("topic", &input)]
        ),
        1.0
    );
    assert_eq!(env.committed(&group, &input).await?.get(&0), Some(&Some(4)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn park_key_sends_the_keys_later_records_to_the_dead_letter_topic_in_order_across_a_restart(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("pk-in", 1).await?;
    let output = env.topic("pk-out", 1).await?;
    env.produce(
        &input,
        &[
            ("A", "a0|ok".into()),
            ("A", "a1|poison".into()),
            ("B", "b2|ok".into()),
            ("A", "a3|ok".into()),
            ("B", "b4|ok".into()),
        ],
    )
    .await?;
    let group = env.unique("pk");
    let config =
        || ConsumerConfig::new(&group, &[input.as_str()]).poison_policy(PoisonPolicy::ParkKey);
    let (stop, task) = spawn_loop(
        &env,
        config(),
        ScriptedHandler::new(&output),
        BusMetrics::unregistered(),
    )?;
    env.wait_for(&output, 3, WAIT).await?;
    env.wait_for(&dlq::dlq_topic(&input), 2, WAIT).await?;
    stop.cancel();
    task.await??;

    // After a restart the key is still parked; other keys flow.
    env.produce(&input, &[("A", "a5|ok".into()), ("B", "b6|ok".into())])
        .await?;
    let (stop, task) = spawn_loop(
        &env,
        config(),
        ScriptedHandler::new(&output),
        BusMetrics::unregistered(),
    )?;
    env.wait_for(&output, 4, WAIT).await?;
    let dead = env.wait_for(&dlq::dlq_topic(&input), 3, WAIT).await?;
    stop.cancel();
    task.await??;

    let out: Vec<String> = env
        .read_all(&output)
        .await?
        .iter()
        .map(payload_of)
        .collect();
    assert_eq!(out, vec!["a0|ok", "b2|ok", "b4|ok", "b6|ok"]);
    let dead_payloads: Vec<String> = dead.iter().map(payload_of).collect();
    assert_eq!(
        dead_payloads,
        vec!["a1|poison", "a3|ok", "a5|ok"],
        "in key order"
    );
    assert_eq!(dead[0].header(dlq::H_PARKED_BEHIND), None);
    assert_eq!(dead[1].header(dlq::H_PARKED_BEHIND), Some(&b"1"[..]));
    assert_eq!(dead[2].header(dlq::H_PARKED_BEHIND), Some(&b"1"[..]));
    assert_eq!(dead[2].header(dlq::H_SOURCE_OFFSET), Some(&b"5"[..]));

    // The marker the replay tool will use: which key, where its first dead letter sits.
    let parked = env.read_all(&dlq::parked_topic(&input)).await?;
    let idx = dlq::index_parked(&parked, &group);
    assert_eq!(idx.total(), 1);
    assert_eq!(idx.for_partition(0).first_offset(b"A"), Some(1));
    assert_eq!(env.committed(&group, &input).await?.get(&0), Some(&Some(7)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_failure_stops_the_consumer_and_a_restart_resumes_from_the_failing_record(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("fa-in", 1).await?;
    let output = env.topic("fa-out", 1).await?;
    env.produce(
        &input,
        &[
            ("A", "0|ok".into()),
            ("B", "1|ok".into()),
            ("C", "2|fatal".into()),
            ("D", "3|ok".into()),
        ],
    )
    .await?;
    let group = env.unique("fa");
    let handler = ScriptedHandler::new(&output);
    let (_stop, task) = spawn_loop(
        &env,
        ConsumerConfig::new(&group, &[input.as_str()]),
        Arc::clone(&handler),
        BusMetrics::unregistered(),
    )?;
    let err = tokio::time::timeout(WAIT, task)
        .await??
        .expect_err("fatal must stop the loop");
    match err {
        BusError::Fatal { offset, .. } => assert_eq!(offset, 2),
        other => panic!("expected Fatal, got {other}"),
    }
    assert!(
        !handler.seen().iter().any(|s| s.offset == 3),
        "nothing after the failing record was processed"
    );
    assert_eq!(env.committed(&group, &input).await?.get(&0), Some(&Some(2)));

    // The fix is deployed; the restarted consumer starts at the failing record.
    let fixed = ScriptedHandler::new(&output);
    fixed.fix();
    let (stop, task) = spawn_loop(
        &env,
        ConsumerConfig::new(&group, &[input.as_str()]),
        Arc::clone(&fixed),
        BusMetrics::unregistered(),
    )?;
    env.wait_for(&output, 4, WAIT).await?;
    stop.cancel();
    task.await??;
    assert_eq!(fixed.seen().first().map(|s| s.offset), Some(2));
    let out: Vec<String> = env
        .read_all(&output)
        .await?
        .iter()
        .map(payload_of)
        .collect();
    assert_eq!(
        out,
        vec!["0|ok", "1|ok", "2|fatal", "3|ok"],
        "nothing skipped, nothing twice"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_and_locally_delivered_records_are_processed_once_in_offset_order(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("pl-in", 3).await?;
    let output = env.topic("pl-out", 3).await?;
    let registry = prometheus::Registry::new();
    let metrics = BusMetrics::new(&registry)?;
    let handler = ScriptedHandler::new(&output);
    let group = env.unique("pl");
    let producer = dsync_bus::EventProducer::new(&env.settings, metrics.clone())?;
    let l = ConsumerLoop::new(
        env.settings.clone(),
        ConsumerConfig::new(&group, &[input.as_str()]).max_in_flight(32),
        Arc::clone(&handler),
        producer.clone(),
        metrics,
    );
    let local = l.local_delivery();
    let stop = CancellationToken::new();
    let task = tokio::spawn(l.run(stop.clone()));
    env.produce(&input, &[("warm", "warm|ok".into())]).await?;
    env.wait_for(&output, 1, WAIT).await?;

    // Half the records come from this process and are offered to the loop directly (some
    // concurrently, so a few arrive ahead of their turn); the other half come from another
    // producer on the same keys and reach the loop only through the fetch.
    let n = 150;
    let mut tasks = Vec::new();
    for i in 0..n {
        let (producer, local, input) = (producer.clone(), local.clone(), input.clone());
        tasks.push(tokio::spawn(async move {
            let r = OutboundRecord::new(
                &input,
                format!("k{}", i % 12).into_bytes(),
                format!("local-{i}|ok").into_bytes(),
                EventHeaders::new_root("TestEvent", uuid::Uuid::new_v4().to_string()),
            );
            let d = producer.send(&r).await?;
            local.deliver(&r, &d);
            anyhow::Ok(())
        }));
    }
    let remote = dsync_bus::EventProducer::new(&env.settings, BusMetrics::unregistered())?;
    for i in 0..n {
        let r = OutboundRecord::new(
            &input,
            format!("k{}", i % 12).into_bytes(),
            format!("remote-{i}|sleep=1").into_bytes(),
            EventHeaders::new_root("TestEvent", uuid::Uuid::new_v4().to_string()),
        );
        remote.send(&r).await?;
    }
    for t in tasks {
        t.await??;
    }
    env.wait_for(&output, 2 * n + 1, WAIT).await?;
    // A locally delivered record is fetched again later, possibly after its offset was
    // committed. The marker: a sentinel on every partition, fetched (not delivered locally)
    // behind everything else and finished, so every earlier offset was fetched and settled.
    let sentinels: Vec<(String, String)> = key_per_partition(3)
        .into_iter()
        .map(|k| (k, "sentinel|ok".to_owned()))
        .collect();
    env.produce(&input, &sentinels).await?;
    env.wait_caught_up(&group, &[&input], WAIT).await?;
    stop.cancel();
    task.await??;

    // Every input offset produced exactly one output.
    let outputs = outputs_by_partition(&env, &output).await?;
    let ends = dsync_bus::reader::end_offsets(&env.settings, &input).await?;
    for (p, end) in &ends {
        let seen = outputs.get(p).cloned().unwrap_or_default();
        let want: BTreeMap<i64, usize> = (0..*end).map(|o| (o, 1)).collect();
        assert_eq!(seen, want, "partition {p}: one output per input offset");
    }
    // Handled once each, in offset order per partition, and finished in the same order.
    let mut handled: HashMap<i32, Vec<i64>> = HashMap::new();
    for s in handler.seen() {
        handled.entry(s.partition).or_default().push(s.offset);
    }
    let mut finished: HashMap<i32, Vec<i64>> = HashMap::new();
    for (p, o) in handler.durable() {
        finished.entry(p).or_default().push(o);
    }
    for (p, end) in &ends {
        let want: Vec<i64> = (0..*end).collect();
        assert_eq!(
            handled.get(p),
            Some(&want),
            "partition {p} handled in order, once"
        );
        assert_eq!(
            finished.get(p),
            Some(&want),
            "partition {p} finished in order, once"
        );
    }
    let committed = env.committed(&group, &input).await?;
    for (p, end) in &ends {
        assert_eq!(
            committed.get(p),
            Some(&Some(*end)),
            "partition {p} committed"
        );
    }
    let taken = counter(
        &registry,
        dsync_bus::metrics::LOCAL_DELIVERIES,
        &[("topic", &input), ("result", "taken")],
    );
    assert!(taken > 0.0, "some records went straight to the worker");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_inside_a_batch_resumes_exactly_there_with_two_co_partitioned_topics(
) -> anyhow::Result<()> {
    // Partition 0 of `done` is consumed to its end; partition 0 of `stopped` is committed in
    // the middle of a producer batch. A partition-EOF event names only the partition number:
    // the first must not be taken for the second (which would start it inside the batch, where
    // tansu answers nothing and then skips to the next batch).
    let env = TestEnv::new();
    let done = env.topic("tt-done", 1).await?;
    let stopped = env.topic("tt-stopped", 1).await?;
    let output = env.topic("tt-out", 1).await?;
    env.produce(&done, &[("A", "d0|ok".into()), ("A", "d1|ok".into())])
        .await?;
    let batch: Vec<(&str, String)> = (0..10)
        .map(|i| ("B", format!("s{i}|{}", if i == 5 { "fatal" } else { "ok" })))
        .collect();
    env.produce(&stopped, &batch).await?;
    let group = env.unique("tt");
    let topics = [done.as_str(), stopped.as_str()];
    let err = run_until_fatal(&env, &group, &topics, &output).await?;
    assert!(matches!(err, BusError::Fatal { offset: 5, .. }), "{err}");
    // The other topic may or may not have been finished before the stop; finish it.
    run_fixed_until(&env, &group, &topics, &output, 12).await?;
    assert_eq!(env.committed(&group, &done).await?.get(&0), Some(&Some(2)));
    assert_eq!(
        env.committed(&group, &stopped).await?.get(&0),
        Some(&Some(10))
    );

    // And once more from a state where `done` is at its end and `stopped` mid-batch.
    let more: Vec<(&str, String)> = (10..20)
        .map(|i| {
            (
                "B",
                format!("s{i}|{}", if i == 15 { "fatal" } else { "ok" }),
            )
        })
        .collect();
    env.produce(&stopped, &more).await?;
    let err = run_until_fatal(&env, &group, &topics, &output).await?;
    assert!(matches!(err, BusError::Fatal { offset: 15, .. }), "{err}");
    assert_eq!(
        env.committed(&group, &stopped).await?.get(&0),
        Some(&Some(15))
    );
    let fixed = run_fixed_until(&env, &group, &topics, &output, 22).await?;
    assert_eq!(
        fixed.seen().iter().map(|s| s.offset).collect::<Vec<_>>(),
        (15..20).collect::<Vec<_>>(),
        "the restart resumed at the failing record, inside its batch"
    );
    let outputs: Vec<String> = env
        .read_all(&output)
        .await?
        .iter()
        .map(payload_of)
        .collect();
    for i in 0..20 {
        let want = format!("s{i}|");
        assert_eq!(
            outputs.iter().filter(|p| p.starts_with(&want)).count(),
            1,
            "s{i} relayed once"
        );
    }
    Ok(())
}

/// Runs a loop over `topics` whose `fatal` records fail, until it stops; returns why.
async fn run_until_fatal(
    env: &TestEnv,
    group: &str,
    topics: &[&str],
    output: &str,
) -> anyhow::Result<BusError> {
    let (_stop, task) = spawn_loop(
        env,
        ConsumerConfig::new(group, topics),
        ScriptedHandler::new(output),
        BusMetrics::unregistered(),
    )?;
    Ok(tokio::time::timeout(WAIT, task)
        .await??
        .expect_err("fatal must stop the loop"))
}

/// Runs a loop over `topics` with the bug fixed until `output` holds `n` records, then stops
/// it; returns its handler.
async fn run_fixed_until(
    env: &TestEnv,
    group: &str,
    topics: &[&str],
    output: &str,
    n: usize,
) -> anyhow::Result<Arc<ScriptedHandler>> {
    let fixed = ScriptedHandler::new(output);
    fixed.fix();
    let (stop, task) = spawn_loop(
        env,
        ConsumerConfig::new(group, topics),
        Arc::clone(&fixed),
        BusMetrics::unregistered(),
    )?;
    env.wait_for(output, n, WAIT).await?;
    stop.cancel();
    task.await??;
    Ok(fixed)
}

/// Source offsets seen in an output topic, by partition, with their counts.
async fn outputs_by_partition(
    env: &TestEnv,
    output: &str,
) -> anyhow::Result<BTreeMap<i32, BTreeMap<i64, usize>>> {
    let mut m: BTreeMap<i32, BTreeMap<i64, usize>> = BTreeMap::new();
    for r in env.read_all(output).await? {
        let (_, p, o) = source_of(&r)?;
        *m.entry(p).or_default().entry(o).or_default() += 1;
    }
    Ok(m)
}

/// A child process that is killed if the test ends early (no leaked relays).
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, std::process::Child::id)
    }

    fn take(&mut self) -> Option<std::process::Child> {
        self.0.take()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn bus_relay(env: &TestEnv, from: &str, to: &str, group: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_bus-relay"));
    c.args(["--from", from, "--to", to, "--group", group])
        .env("KAFKA_BROKERS", &env.settings.brokers)
        .env("RUST_LOG", "warn");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_commits_exactly_what_was_processed() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("st-in", 3).await?;
    let output = env.topic("st-out", 3).await?;
    let n = 3000usize;
    let records: Vec<(String, String)> = (0..n)
        .map(|i| (format!("k{}", i % 50), format!("{i}|sleep=5")))
        .collect();
    env.produce(&input, &records).await?;
    let group = env.unique("st");

    let mut child = KillOnDrop(Some(bus_relay(&env, &input, &output, &group).spawn()?));
    env.wait_for(&output, 300, WAIT).await?;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    ensure!(status.success(), "kill failed");
    let mut process = child.take().context("child")?;
    let exit = tokio::task::spawn_blocking(move || process.wait()).await??;
    assert!(exit.success(), "graceful stop exits 0, got {exit:?}");

    let committed = env.committed(&group, &input).await?;
    let outs = outputs_by_partition(&env, &output).await?;
    let mut processed_total = 0;
    for p in 0..3 {
        let c = committed.get(&p).copied().flatten().unwrap_or(0);
        let seen = outs.get(&p).cloned().unwrap_or_default();
        let expected: BTreeSet<i64> = (0..c).collect();
        let got: BTreeSet<i64> = seen.keys().copied().collect();
        assert_eq!(
            got, expected,
            "partition {p}: processed == committed (committed {c})"
        );
        assert!(
            seen.values().all(|&k| k == 1),
            "partition {p}: a record processed twice"
        );
        processed_total += seen.len();
    }
    assert!(processed_total < n, "the stop happened during the burst");

    // A restarted relay finishes the rest, none twice.
    let mut child = KillOnDrop(Some(bus_relay(&env, &input, &output, &group).spawn()?));
    // Behaviour, not speed: the rest may take a while on a loaded machine.
    env.wait_for(&output, n, Duration::from_secs(300)).await?;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let mut process = child.take().context("child")?;
    let _ = tokio::task::spawn_blocking(move || process.wait()).await??;
    let outs = outputs_by_partition(&env, &output).await?;
    let total: usize = outs.values().map(BTreeMap::len).sum();
    assert_eq!(total, n, "every record processed");
    assert!(
        outs.values().flat_map(BTreeMap::values).all(|&k| k == 1),
        "none twice"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_between_two_instances_processes_every_record_once() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("rb-in", 4).await?;
    let output = env.topic("rb-out", 4).await?;
    let n = 1200usize;
    let records: Vec<(String, String)> = (0..n)
        .map(|i| (format!("k{}", i % 97), format!("{i}|sleep=20")))
        .collect();
    env.produce(&input, &records).await?;
    let group = env.unique("rb");
    let config = || ConsumerConfig::new(&group, &[input.as_str()]);

    let first = ScriptedHandler::new(&output);
    let (stop_a, task_a) = spawn_loop(
        &env,
        config(),
        Arc::clone(&first),
        BusMetrics::unregistered(),
    )?;
    env.wait_for(&output, 100, WAIT).await?;
    let second = ScriptedHandler::new(&output);
    let (stop_b, task_b) = spawn_loop(
        &env,
        config(),
        Arc::clone(&second),
        BusMetrics::unregistered(),
    )?;
    env.wait_for(&output, n, Duration::from_secs(120)).await?;
    stop_a.cancel();
    stop_b.cancel();
    task_a.await??;
    task_b.await??;

    assert!(
        !second.seen().is_empty(),
        "the second instance got partitions"
    );
    let outs = outputs_by_partition(&env, &output).await?;
    let mut twice = HashMap::new();
    let mut total = 0;
    for (p, m) in &outs {
        total += m.len();
        for (o, k) in m {
            if *k > 1 {
                twice.insert((*p, *o), *k);
            }
        }
    }
    assert_eq!(total, n, "every record processed");
    assert!(
        twice.is_empty(),
        "records processed twice across the rebalance: {twice:?}"
    );
    let committed = env.committed(&group, &input).await?;
    let committed_total: i64 = committed.values().map(|c| c.unwrap_or(0)).sum();
    assert_eq!(
        committed_total as usize, n,
        "everything committed once at the end"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_offsets_come_from_the_fetch_path_and_are_right_after_batches() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let topic = env.topic("eo", 2).await?;
    let records: Vec<(String, String)> = (0..1500)
        .map(|i| (format!("k{i}"), format!("{i}|ok")))
        .collect();
    env.produce(&topic, &records).await?;
    let ends = dsync_bus::reader::end_offsets(&env.settings, &topic).await?;
    let all = env.read_all(&topic).await?;
    assert_eq!(all.len(), 1500);
    for p in 0..2 {
        let count = all.iter().filter(|r| r.partition == p).count() as i64;
        assert_eq!(ends.get(&p), Some(&count), "partition {p}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_for_time_answers_the_first_record_at_or_after_and_the_end_for_the_future(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let topic = env.topic("ot", 1).await?;
    let early: Vec<(&str, String)> = (0..5).map(|i| ("k", format!("{i}|ok"))).collect();
    env.produce(&topic, &early).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mid = chrono_now_ms();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let late: Vec<(&str, String)> = (5..8).map(|i| ("k", format!("{i}|ok"))).collect();
    env.produce(&topic, &late).await?;

    let at = |ts| dsync_bus::reader::offsets_for_time(&env.settings, &topic, ts);
    assert_eq!(at(0).await?.get(&0), Some(&0), "the beginning");
    assert_eq!(
        at(mid).await?.get(&0),
        Some(&5),
        "first record after the cut"
    );
    assert_eq!(
        at(mid + 3_600_000).await?.get(&0),
        Some(&8),
        "a future timestamp means the end, not 0"
    );
    Ok(())
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_standard_metrics_are_served_by_the_admin_server() -> anyhow::Result<()> {
    use dsync_telemetry::admin::{AdminServer, Readiness};
    let env = TestEnv::new();
    let input = env.topic("ad-in", 2).await?;
    let output = env.topic("ad-out", 2).await?;
    let registry = prometheus::Registry::new();
    let metrics = BusMetrics::new(&registry)?;
    let readiness = Readiness::new();
    dsync_bus::admin::register_broker_probe(&readiness, &env.settings)?;
    let stop = CancellationToken::new();
    let server = AdminServer::bind("127.0.0.1:0".parse()?, registry.clone(), readiness.clone())?;
    let base = format!("http://{}", server.local_addr());
    let server_task = server.spawn(stop.clone());
    let http = reqwest::Client::new();

    let group = env.unique("ad");
    let producer = dsync_bus::EventProducer::new(&env.settings, metrics.clone())?;
    let consumer = ConsumerLoop::new(
        env.settings.clone(),
        ConsumerConfig::new(&group, &[input.as_str()]),
        ScriptedHandler::new(&output),
        producer,
        metrics,
    )
    .with_readiness(readiness.clone());
    let r = http.get(format!("{base}/readyz")).send().await?;
    assert_eq!(
        r.status().as_u16(),
        503,
        "not ready before the consumer is assigned"
    );
    let body: serde_json::Value = serde_json::from_str(&r.text().await?)?;
    assert!(
        body.to_string().contains(&format!("consumer:{group}")),
        "{body}"
    );

    let task = tokio::spawn(consumer.run(stop.clone()));
    let records: Vec<(&str, String)> = (0..20).map(|i| ("k", format!("{i}|ok"))).collect();
    env.produce(&input, &records).await?;
    env.wait_for(&output, 20, WAIT).await?;

    let r = http.get(format!("{base}/readyz")).send().await?;
    let status = r.status().as_u16();
    let body: serde_json::Value = serde_json::from_str(&r.text().await?)?;
    assert_eq!(status, 200, "{body}");
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    for name in [
        dsync_bus::metrics::RECORDS_CONSUMED,
        dsync_bus::metrics::RECORDS_PRODUCED,
        dsync_bus::metrics::HANDLER_DURATION,
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    assert!(
        text.contains(&format!(
            "{}{{topic=\"{input}\"}} 20",
            dsync_bus::metrics::RECORDS_CONSUMED
        )),
        "{text}"
    );
    // Lag comes from fetch high-water marks reported by the client's statistics (every 2 s).
    let text = eventually("a lag gauge", Duration::from_secs(10), || async {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let has = text.contains(dsync_bus::metrics::CONSUMER_LAG);
        Ok(Check::when(has, text.clone(), || text))
    })
    .await?;
    assert!(text.contains(&format!("{}{{partition=", dsync_bus::metrics::CONSUMER_LAG)));
    stop.cancel();
    task.await??;
    server_task.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_failure_makes_the_service_process_exit_non_zero() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("fx-in", 1).await?;
    let output = env.topic("fx-out", 1).await?;
    env.produce(&input, &[("A", "0|ok".into()), ("B", "1|fatal".into())])
        .await?;
    let group = env.unique("fx");
    let mut child = bus_relay(&env, &input, &output, &group).spawn()?;
    let exit =
        tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || child.wait())).await???;
    assert_eq!(
        exit.code(),
        Some(2),
        "fatal stops the process with a non-zero exit"
    );
    assert_eq!(env.committed(&group, &input).await?.get(&0), Some(&Some(1)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_partition_is_paused_and_resumed_without_losing_or_repeating_records(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let input = env.topic("pr-in", 1).await?;
    let output = env.topic("pr-out", 1).await?;
    // One producer batch, so resuming at an offset inside it needs the aligned seek.
    let records: Vec<(&str, String)> = (0..12).map(|i| ("k", format!("{i}|sleep=300"))).collect();
    env.produce(&input, &records).await?;
    let group = env.unique("pr");
    let mut config = ConsumerConfig::new(&group, &[input.as_str()]);
    config.partition_queue = 1;
    let handler = ScriptedHandler::new(&output);
    let (stop, task) = spawn_loop(
        &env,
        config,
        Arc::clone(&handler),
        BusMetrics::unregistered(),
    )?;
    env.wait_for(&output, 12, WAIT).await?;
    // A resume re-fetches from a batch boundary before the next record, possibly after the
    // records there were committed. The marker: a sentinel produced once all 12 were handled,
    // fetched behind any such copy and finished.
    env.produce(&input, &[("k", "sentinel|ok".into())]).await?;
    env.wait_caught_up(&group, &[&input], WAIT).await?;
    stop.cancel();
    task.await??;
    let out: Vec<String> = env
        .read_all(&output)
        .await?
        .iter()
        .map(payload_of)
        .collect();
    let mut expected: Vec<String> = (0..12).map(|i| format!("{i}|sleep=300")).collect();
    expected.push("sentinel|ok".into());
    assert_eq!(out, expected, "every record once, in order");
    let offsets: Vec<i64> = handler.seen().iter().map(|s| s.offset).collect();
    assert_eq!(offsets, (0..13).collect::<Vec<i64>>());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_reader_reads_from_an_offset_inside_a_batch_to_the_end_and_follows(
) -> anyhow::Result<()> {
    use dsync_bus::reader::{RangeReader, ReadFrom, ReadUntil};
    let env = TestEnv::new();
    let topic = env.topic("rr", 2).await?;
    // One send_all: multi-record producer batches, so offset 17 is inside a batch.
    let first: Vec<(&str, String)> = (0..40)
        .map(|i| (if i % 2 == 0 { "a" } else { "b" }, format!("{i}|ok")))
        .collect();
    env.produce(&topic, &first).await?;
    let ends = dsync_bus::reader::end_offsets(&env.settings, &topic).await?;
    let p = *ends
        .iter()
        .max_by_key(|(_, e)| **e)
        .map(|(p, _)| p)
        .context("partition")?;
    let end = ends[&p];
    ensure!(end > 17, "partition {p} holds {end} records");

    async fn drain(mut r: RangeReader) -> Vec<(i32, i64)> {
        let mut out = Vec::new();
        while let Some(rec) = r.next().await {
            out.push((rec.partition, rec.offset));
        }
        out
    }
    let from17 = RangeReader::start(
        &env.settings,
        &topic,
        ReadFrom::Offsets(vec![(p, 17)]),
        ReadUntil::End,
    )
    .await?;
    assert_eq!(from17.expected(), (end - 17) as u64);
    let got = tokio::time::timeout(Duration::from_secs(30), drain(from17)).await?;
    assert_eq!(got, (17..end).map(|o| (p, o)).collect::<Vec<_>>());

    let all =
        RangeReader::start(&env.settings, &topic, ReadFrom::Beginning, ReadUntil::End).await?;
    assert_eq!(all.expected(), 40);
    let got = tokio::time::timeout(Duration::from_secs(30), drain(all)).await?;
    assert_eq!(got.len(), 40);

    let at_end = RangeReader::start(
        &env.settings,
        &topic,
        ReadFrom::Offsets(vec![(p, end)]),
        ReadUntil::End,
    )
    .await?;
    assert!(tokio::time::timeout(Duration::from_secs(30), drain(at_end))
        .await?
        .is_empty());
    let beyond = RangeReader::start(
        &env.settings,
        &topic,
        ReadFrom::Offsets(vec![(p, end + 1)]),
        ReadUntil::End,
    )
    .await;
    assert!(beyond.is_err(), "an offset beyond the end is refused");

    let mut follow =
        RangeReader::start(&env.settings, &topic, ReadFrom::End, ReadUntil::Forever).await?;
    let later: Vec<(&str, String)> = (40..45).map(|i| ("a", format!("{i}|ok"))).collect();
    env.produce(&topic, &later).await?;
    let mut payloads = Vec::new();
    while payloads.len() < 5 {
        let r = tokio::time::timeout(Duration::from_secs(30), follow.next())
            .await?
            .context("follower ended")?;
        payloads.push(payload_of(&r));
    }
    assert_eq!(
        payloads,
        (40..45).map(|i| format!("{i}|ok")).collect::<Vec<_>>(),
        "only the records written after the start, in order"
    );
    follow.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_reader_reads_chosen_partitions_to_their_end_in_offset_order() -> anyhow::Result<()>
{
    let env = TestEnv::new();
    let topic = env.topic("bounded", 3).await?;
    let records: Vec<(String, String)> = (0..300)
        .map(|i| (format!("k{}", i % 17), format!("{i}|ok")))
        .collect();
    env.produce(&topic, &records).await?;
    let ends = dsync_bus::reader::end_offsets(&env.settings, &topic).await?;
    let settings = env.settings.clone();
    let t = topic.clone();
    let (by_partition, read, reader_ends) = tokio::task::spawn_blocking(move || {
        let mut r = dsync_bus::BoundedReader::open_blocking(
            &settings,
            &[(t.clone(), 0), (t.clone(), 2)],
            Duration::from_secs(60),
        )?;
        let mut seen: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
        while let Some(rec) = r.next()? {
            assert_eq!(rec.topic(), t);
            let payload = String::from_utf8_lossy(rec.payload().unwrap_or_default()).into_owned();
            seen.entry(rec.partition())
                .or_default()
                .push((rec.offset(), payload));
        }
        let ends = r.end_offsets().clone();
        Ok::<_, anyhow::Error>((seen, r.records_read(), ends))
    })
    .await??;
    assert!(
        !by_partition.contains_key(&1),
        "partition 1 was not asked for"
    );
    let mut total = 0;
    for (p, recs) in &by_partition {
        let offsets: Vec<i64> = recs.iter().map(|(o, _)| *o).collect();
        let want: Vec<i64> = (0..ends[p]).collect();
        assert_eq!(
            offsets, want,
            "partition {p}: every record once, in offset order"
        );
        assert_eq!(reader_ends[&(topic.clone(), *p)], ends[p]);
        total += recs.len();
    }
    assert_eq!(read as usize, total);
    assert_eq!(total as i64, ends[&0] + ends[&2]);
    // An empty partition set and empty partitions end at once.
    let empty = env.topic("bounded-empty", 2).await?;
    let settings = env.settings.clone();
    let n = tokio::task::spawn_blocking(move || {
        let mut r = dsync_bus::BoundedReader::open_topic_blocking(
            &settings,
            &empty,
            2,
            Duration::from_secs(30),
        )?;
        let mut n = 0;
        while r.next()?.is_some() {
            n += 1;
        }
        Ok::<_, anyhow::Error>(n)
    })
    .await??;
    assert_eq!(n, 0);
    Ok(())
}
