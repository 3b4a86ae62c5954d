//! Progress bookkeeping and the undecodable-record policy, without a broker: records are handed
//! to the materializer through a channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Apply, Counts, Materializer, Progress};
use crate::reader::ReadUntil;
use crate::{BusError, Classify as _, ErrorClass, EventHeaders, HandlerError, InboundRecord};

fn ends(list: &[(i32, i64)]) -> HashMap<i32, i64> {
    list.iter().copied().collect()
}

fn record(partition: i32, offset: i64, payload: &str) -> InboundRecord {
    InboundRecord {
        topic: "t".into(),
        partition,
        offset,
        key: Some(b"k".to_vec()),
        payload: Some(payload.as_bytes().to_vec()),
        timestamp_ms: None,
        headers: EventHeaders::default(),
        raw_headers: Vec::new(),
    }
}

#[test]
fn progress_is_the_next_offset_per_partition_and_never_goes_back() {
    let p = Progress::new("t");
    assert!(p.applied().is_empty());
    p.advance(0, 4);
    p.advance(0, 2);
    p.advance(1, 0);
    assert_eq!(p.applied(), ends(&[(0, 5), (1, 1)]));
    assert!(p.is_caught_up(&ends(&[(0, 5), (1, 1)])));
    assert!(p.is_caught_up(&ends(&[(0, 3)])));
    assert!(!p.is_caught_up(&ends(&[(0, 6)])));
    // An empty partition is always caught up; one never read is not, unless empty.
    assert!(p.is_caught_up(&ends(&[(0, 5), (2, 0)])));
    assert!(!p.is_caught_up(&ends(&[(0, 5), (2, 1)])));
    p.advance_to(2, 1);
    assert!(p.is_caught_up(&ends(&[(0, 5), (2, 1)])));
}

#[test]
fn loaded_means_caught_up_with_the_end_offsets_taken_at_start() {
    let p = Progress::new("t");
    assert!(!p.is_loaded(), "not loaded before the materializer started");
    p.set_start_ends(ends(&[(0, 2), (1, 0)]));
    assert!(!p.is_loaded());
    p.advance(0, 0);
    assert!(!p.is_loaded());
    p.advance(0, 1);
    assert!(p.is_loaded());
    let empty = Progress::new("t");
    empty.set_start_ends(ends(&[(0, 0)]));
    assert!(empty.is_loaded(), "an empty topic is loaded at once");
}

#[tokio::test]
async fn waiting_for_a_catch_up_ends_when_the_offsets_are_applied_or_times_out() {
    let p = Arc::new(Progress::new("orders.events"));
    let waiter = {
        let p = Arc::clone(&p);
        tokio::spawn(async move {
            p.wait_caught_up(&ends(&[(0, 3)]), Duration::from_secs(30))
                .await
        })
    };
    p.advance(0, 1);
    p.advance(0, 2);
    waiter.await.expect("task").expect("caught up");

    let e = p
        .wait_caught_up(&ends(&[(0, 4)]), Duration::from_millis(50))
        .await
        .expect_err("offset 3 was never applied");
    assert!(matches!(e, BusError::Timeout(_)), "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);
    let msg = e.to_string();
    assert!(
        msg.contains("orders.events") && msg.contains("{0: 3}"),
        "{msg}"
    );

    let loaded = p.wait_loaded(Duration::from_millis(20)).await;
    assert!(loaded.is_err(), "never started: never loaded");
}

/// A sink whose payloads say how they decode: `ok`, `same` (applied, no change), `other`
/// (not wanted), `poison`, `fatal`, `busy<n>` (transient for the first n attempts).
#[derive(Debug, Default)]
struct Scripted {
    applied: Vec<(i32, i64)>,
    skipped: Vec<(i64, String)>,
    attempts: HashMap<i64, u32>,
}

impl Apply for Scripted {
    type Value = bool;

    async fn decode(&mut self, record: &InboundRecord) -> Result<Option<bool>, HandlerError> {
        let attempt = self.attempts.entry(record.offset).or_insert(0);
        *attempt += 1;
        let payload =
            std::str::from_utf8(record.payload.as_deref().unwrap_or_default()).unwrap_or_default();
        match payload {
            "ok" => Ok(Some(true)),
            "same" => Ok(Some(false)),
            "other" => Ok(None),
            "poison" => Err(HandlerError::poison("wrong magic byte").context("decoding")),
            "fatal" => Err(HandlerError::fatal("corrupt state blob")),
            busy => {
                let n: u32 = busy.trim_start_matches("busy").parse().unwrap_or(u32::MAX);
                if *attempt > n {
                    Ok(Some(true))
                } else {
                    Err(HandlerError::transient("registry unreachable"))
                }
            }
        }
    }

    fn apply(&mut self, record: &InboundRecord, changed: bool) -> bool {
        self.applied.push((record.partition, record.offset));
        changed
    }

    fn skipped(&mut self, record: &InboundRecord, error: &HandlerError) {
        self.skipped.push((record.offset, error.to_string()));
    }
}

/// A bounded materializer over `records` with `ends` as its end offsets.
fn bounded(records: Vec<InboundRecord>, list: &[(i32, i64)]) -> Materializer<Scripted> {
    let (tx, rx) = mpsc::channel(records.len().max(1));
    for r in records {
        tx.try_send(r).expect("room");
    }
    Materializer::from_channel("t", rx, ends(list), ReadUntil::End, Scripted::default())
}

#[tokio::test]
async fn undecodable_records_are_skipped_counted_and_passed_by_the_progress() {
    let m = bounded(
        vec![
            record(0, 0, "ok"),
            record(0, 1, "poison"),
            record(0, 2, "other"),
            record(1, 0, "same"),
            record(0, 3, "ok"),
        ],
        &[(0, 4), (1, 1)],
    );
    let progress = Arc::clone(m.progress());
    let (sink, summary) = m.run(CancellationToken::new()).await.expect("run");
    assert!(summary.complete);
    assert_eq!(
        summary.counts,
        Counts {
            applied: 2,
            unchanged: 1,
            ignored: 1,
            skipped: 1
        }
    );
    assert_eq!(sink.applied, vec![(0, 0), (1, 0), (0, 3)]);
    assert_eq!(sink.skipped.len(), 1);
    assert_eq!(sink.skipped[0].0, 1);
    assert!(
        sink.skipped[0].1.contains("decoding") && sink.skipped[0].1.contains("wrong magic"),
        "the chain is kept: {}",
        sink.skipped[0].1
    );
    assert_eq!(progress.applied(), ends(&[(0, 4), (1, 1)]));
    assert!(progress.is_loaded());
}

#[tokio::test]
async fn a_bounded_read_that_ends_early_is_caught_up_with_its_end_offsets() {
    // The last records were compacted away: the reader ends at EOF below the end offsets.
    let m = bounded(vec![record(0, 0, "ok")], &[(0, 5), (1, 0)]);
    let progress = Arc::clone(m.progress());
    let (_, summary) = m.run(CancellationToken::new()).await.expect("run");
    assert!(summary.complete);
    assert!(progress.is_loaded());
    assert_eq!(progress.applied().get(&0), Some(&5));
}

#[tokio::test]
async fn a_fatal_record_stops_before_it_with_its_coordinates() {
    let m = bounded(
        vec![
            record(2, 7, "ok"),
            record(2, 8, "fatal"),
            record(2, 9, "ok"),
        ],
        &[(2, 10)],
    );
    let progress = Arc::clone(m.progress());
    let e = m
        .run(CancellationToken::new())
        .await
        .expect_err("fatal stops");
    match &e {
        BusError::Materialize {
            topic,
            partition,
            offset,
            source,
        } => {
            assert_eq!((topic.as_str(), *partition, *offset), ("t", 2, 8));
            assert_eq!(source.class(), ErrorClass::Fatal);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(e.to_string().contains("corrupt state blob"), "{e}");
    assert_eq!(
        progress.applied().get(&2),
        Some(&8),
        "stopped before the record"
    );
    assert!(!progress.is_loaded());
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_later_records_wait() {
    let m = bounded(vec![record(0, 0, "busy2"), record(0, 1, "ok")], &[(0, 2)]);
    let (sink, summary) = m.run(CancellationToken::new()).await.expect("run");
    assert_eq!(
        sink.attempts.get(&0),
        Some(&3),
        "two failures, then decoded"
    );
    assert_eq!(sink.applied, vec![(0, 0), (0, 1)], "in order");
    assert_eq!(summary.counts.applied, 2);
    assert_eq!(summary.counts.skipped, 0);
}

#[tokio::test]
async fn a_bounded_read_gives_up_retrying_at_its_deadline() {
    let m = bounded(vec![record(0, 0, "busy")], &[(0, 1)]).with_timeout(Duration::from_millis(250));
    let e = m
        .run(CancellationToken::new())
        .await
        .expect_err("never decodes");
    assert!(matches!(e, BusError::Timeout(_)), "{e}");
    assert!(e.to_string().contains("t/0@0"), "{e}");
}

#[tokio::test]
async fn stopping_a_follow_ends_the_run_and_keeps_what_was_applied() {
    let (tx, rx) = mpsc::channel(8);
    let m = Materializer::from_channel(
        "t",
        rx,
        ends(&[(0, 1)]),
        ReadUntil::Forever,
        Scripted::default(),
    );
    let progress = Arc::clone(m.progress());
    let stop = CancellationToken::new();
    let run = tokio::spawn(m.run(stop.clone()));
    tx.send(record(0, 0, "ok")).await.expect("send");
    progress
        .wait_loaded(Duration::from_secs(30))
        .await
        .expect("loaded");
    // A record that keeps failing transiently: the stop interrupts the retries.
    tx.send(record(0, 1, "busy")).await.expect("send");
    stop.cancel();
    let (sink, summary) = run.await.expect("task").expect("run");
    assert!(!summary.complete);
    assert_eq!(sink.applied, vec![(0, 0)]);
    assert_eq!(progress.applied().get(&0), Some(&1));
}
