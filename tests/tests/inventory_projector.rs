//! The inventory projector against the real broker and registry: duplicates, out-of-order and
//! gap handling; the last unit raced by many requests across two instances (a rebalance) and a
//! restart; cancel releases; a pick consumes once; count reset and drift events; rebuild from
//! the log equals the live state; the availability API's authentication and answers; poison.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use dsync_events::{AnyEvent, AtpPolicy, CountScope, MovementType};
use dsync_inventory_projector::metrics;
use dsync_inventory_projector::rebuild::{changelog_digest, rebuild};
use dsync_tests::inventory::{
    count, movement, release, reserve, results_by_request, InventoryEnv, API_KEY,
};

const WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_out_of_order_and_gaps() -> anyhow::Result<()> {
    let w = InventoryEnv::new(4).await?;
    let group = w.env.unique("inv");
    let p = w
        .start(w.settings(
            &group,
            &["--gap-grace", "300ms", "--gap-check-interval", "100ms"],
        )?)
        .await?;
    use MovementType::*;
    w.movements(&[
        movement("SKU-A", "L1", 1, Some(0), Receipt, 10, None),
        movement("SKU-A", "L1", 1, Some(0), Receipt, 10, None), // duplicate
        movement("SKU-A", "L1", 3, Some(2), Adjustment, -1, None), // 2 is missing
    ])
    .await?;
    w.wait_on_hand(&p, "SKU-A", "L1", 9, WAIT).await?;
    // The gap is reported once the grace period passed.
    let gaps = w
        .wait_events(&w.topics.reconciliation, WAIT, |evs| {
            evs.iter()
                .any(|e| matches!(e, AnyEvent::InventorySequenceGapDetected(_)))
        })
        .await?;
    let gap = gaps
        .iter()
        .find_map(|e| match e {
            AnyEvent::InventorySequenceGapDetected(g) => Some(g.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no gap event"))?;
    assert_eq!(gap.missing_sequence, 2);
    assert_eq!(gap.received_sequence, 3);
    assert_eq!(gap.last_applied_sequence, Some(1));
    assert!(gap.waited_ms >= 300);
    // The missing movement arrives late: applied once, the gap closes.
    w.movements(&[
        movement("SKU-A", "L1", 2, Some(1), Receipt, 5, None),
        movement("SKU-A", "L1", 2, Some(1), Receipt, 5, None),
    ])
    .await?;
    let body = w.wait_on_hand(&p, "SKU-A", "L1", 14, WAIT).await?;
    assert_eq!(body["positions"][0]["available"], 14);
    // Every movement handled (the second copy of 2 included) before counting.
    w.env
        .wait_caught_up(&group, &[&w.topics.movements], WAIT)
        .await?;
    assert_eq!(p.counter(metrics::DUPLICATES, &[]), 2.0);
    assert_eq!(p.counter(metrics::GAPS_DETECTED, &[]), 1.0);
    assert_eq!(p.counter(metrics::GAPS_REPORTED, &[]), 1.0);
    assert_eq!(p.counter(metrics::GAPS_OPEN, &[]), 0.0);
    assert_eq!(p.counter(metrics::MOVEMENTS_APPLIED, &[]), 3.0);
    // Availability published per change, compacted key sku@location, increasing versions.
    let avail = w.events(&w.topics.availability).await?;
    let versions: Vec<i64> = avail
        .iter()
        .filter_map(|e| match e {
            AnyEvent::AvailabilityChanged(a) if a.sku.as_str() == "SKU-A" => {
                Some(a.position_version)
            }
            _ => None,
        })
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
    p.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_unit_race_across_two_instances_a_rebalance_and_a_restart() -> anyhow::Result<()> {
    let w = InventoryEnv::new(4).await?;
    let group = w.env.unique("inv-race");
    let skus: Vec<String> = (0..8).map(|i| format!("RACE-{i}")).collect();
    let stock: Vec<_> = skus
        .iter()
        .map(|s| movement(s, "L1", 1, Some(0), MovementType::Receipt, 1, None))
        .collect();
    w.movements(&stock).await?;
    let a = w.start(w.settings(&group, &[])?).await?;
    for s in &skus {
        w.wait_on_hand(&a, s, "L1", 1, WAIT).await?;
    }
    let mut all_ids = Vec::new();
    let mut wave = |n: usize, tag: &str| {
        let mut v = Vec::new();
        for s in &skus {
            for k in 0..n {
                let id = format!("{tag}-{s}-{k}");
                all_ids.push(id.clone());
                v.push(reserve(
                    &id,
                    s,
                    "L1",
                    &format!("O-{id}"),
                    1,
                    AtpPolicy::Reject,
                ));
            }
        }
        v
    };
    let first = wave(10, "w1");
    let second = wave(10, "w2");
    let third = wave(10, "w3");
    // Wave 1 with one instance; wave 2 while a second instance joins the group (rebalance).
    w.reservations(&first).await?;
    let b = w.start(w.settings(&group, &[])?).await?;
    w.reservations(&second).await?;
    // Instance A stops (its partitions move to B) and comes back (another rebalance); wave 3
    // plus every earlier request delivered again meanwhile (replays).
    a.stop().await?;
    w.reservations(&third).await?;
    w.reservations(&first).await?;
    let a2 = w.start(w.settings(&group, &[])?).await?;
    w.reservations(&second).await?;
    let expected: HashSet<String> = all_ids.iter().cloned().collect();
    let evs = w
        .wait_events(&w.topics.reservations, WAIT, |evs| {
            results_by_request(evs)
                .map(|r| expected.iter().all(|id| r.contains_key(id)))
                .unwrap_or(false)
        })
        .await?;
    let results = results_by_request(&evs)?;
    assert_eq!(results.len(), expected.len(), "one answer per request");
    let mut winners: HashMap<String, Vec<String>> = HashMap::new();
    for (id, (reserved, unavailable, backordered)) in &results {
        assert_eq!(backordered, &0);
        assert_eq!(reserved + unavailable, 1, "{id}: one answer of one unit");
        if *reserved == 1 {
            // "<wave>-<sku>-<k>"
            let sku = id
                .split_once('-')
                .and_then(|(_, rest)| rest.rsplit_once('-'))
                .map(|(sku, _)| sku);
            winners
                .entry(sku.unwrap_or_default().to_owned())
                .or_default()
                .push(id.clone());
        }
    }
    for s in &skus {
        assert_eq!(
            winners.get(s).map(Vec::len),
            Some(1),
            "exactly one request wins the last unit of {s}: {winners:?}"
        );
    }
    // Every StockReserved/StockUnavailable was published once per event id... and the state
    // agrees: nothing available anywhere, one unit reserved per SKU.
    let (digest_live, size) = changelog_digest(&w.env.settings, &w.topics).await?;
    assert_eq!(size.skus as usize, skus.len());
    let (_, report) = rebuild(
        &w.env.settings,
        &w.topics,
        &w.codec,
        &Default::default(),
        None,
    )
    .await?;
    assert_eq!(
        report.digest, digest_live,
        "rebuild from the log equals the saved state"
    );
    b.stop().await?;
    a2.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_releases_and_pick_consumes_once() -> anyhow::Result<()> {
    let w = InventoryEnv::new(2).await?;
    let p = w.start(w.settings(&w.env.unique("inv"), &[])?).await?;
    w.movements(&[movement(
        "SKU-C",
        "L1",
        1,
        Some(0),
        MovementType::Receipt,
        10,
        None,
    )])
    .await?;
    w.wait_on_hand(&p, "SKU-C", "L1", 10, WAIT).await?;
    w.reservations(&[reserve("r1", "SKU-C", "L1", "O1", 4, AtpPolicy::Reject)])
        .await?;
    w.reservations(&[reserve("r2", "SKU-C", "L1", "O2", 3, AtpPolicy::Reject)])
        .await?;
    w.releases(&[
        release("x1", "SKU-C", "L1", "O2", None),
        release("x1", "SKU-C", "L1", "O2", None),
        release("x2", "NO-SUCH-SKU", "L9", "O9", Some(2)),
    ])
    .await?;
    let evs = w
        .wait_events(&w.topics.reservations, WAIT, |evs| {
            evs.iter()
                .filter(|e| matches!(e, AnyEvent::ReservationReleased(_)))
                .count()
                >= 2
        })
        .await?;
    let released: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            AnyEvent::ReservationReleased(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        released.len(),
        2,
        "the duplicate release is not answered twice"
    );
    let x1 = released.iter().find(|r| r.request_id.as_str() == "x1");
    assert_eq!(x1.map(|r| r.released_quantity_base), Some(3));
    let x2 = released.iter().find(|r| r.request_id.as_str() == "x2");
    assert_eq!(
        x2.map(|r| (r.released_quantity_base, r.line_reserved_total_base)),
        Some((0, 0)),
        "an unknown SKU is a zero release, not a failure"
    );
    // The pick of O1's 4 units, delivered twice: on hand and reserved both drop once.
    let pick = movement(
        "SKU-C",
        "L1",
        2,
        Some(1),
        MovementType::Pick,
        -4,
        Some(("O1", 1)),
    );
    w.movements(&[pick.clone(), pick]).await?;
    let body = w.wait_on_hand(&p, "SKU-C", "L1", 6, WAIT).await?;
    assert_eq!(body["positions"][0]["reserved"], 0);
    assert_eq!(body["positions"][0]["available"], 6);
    assert_eq!(p.counter(metrics::RESERVED_UNITS_CONSUMED, &[]), 4.0);
    assert_eq!(
        p.counter(metrics::RESERVATIONS, &[("outcome", "unknown_line")]),
        1.0
    );
    p.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_resets_on_hand_and_reports_drift() -> anyhow::Result<()> {
    let w = InventoryEnv::new(2).await?;
    let group = w.env.unique("inv");
    let p = w
        .start(w.settings(&group, &["--drift-auto-correct-max", "50"])?)
        .await?;
    use MovementType::*;
    w.movements(&[
        movement("SKU-D", "L1", 1, Some(0), Receipt, 20, None),
        movement("SKU-D", "L2", 2, Some(1), Receipt, 5, None),
        movement("SKU-D", "L1", 4, Some(2), Adjustment, -2, None),
    ])
    .await?;
    w.wait_on_hand(&p, "SKU-D", "L1", 18, WAIT).await?;
    // A FULL count at sequence 3: L1 counted 17 (projected 20 then: drift -3), L2 absent (0:
    // drift -5). Movement 4 (after the count) stays applied on top.
    w.counts(&[count("SKU-D", "CC-1", 3, CountScope::Full, &[("L1", 17)])])
        .await?;
    w.wait_on_hand(&p, "SKU-D", "L1", 15, WAIT).await?;
    w.wait_on_hand(&p, "SKU-D", "L2", 0, WAIT).await?;
    let evs = w
        .wait_events(&w.topics.reconciliation, WAIT, |evs| evs.len() >= 2)
        .await?;
    let mut drifts: Vec<(String, i64, i64, i64, bool)> = evs
        .iter()
        .filter_map(|e| match e {
            AnyEvent::InventoryDriftDetected(d) => Some((
                d.location_id.to_string(),
                d.expected_quantity_base,
                d.counted_quantity_base,
                d.difference_base,
                d.corrected,
            )),
            _ => None,
        })
        .collect();
    drifts.sort();
    assert_eq!(
        drifts,
        vec![
            ("L1".to_owned(), 20, 17, -3, true),
            ("L2".to_owned(), 5, 0, -5, true)
        ]
    );
    // The same count again changes nothing; a drift above the limit is only reported.
    w.counts(&[
        count("SKU-D", "CC-1", 3, CountScope::Full, &[("L1", 17)]),
        count("SKU-D", "CC-2", 5, CountScope::Partial, &[("L1", 500)]),
    ])
    .await?;
    w.wait_events(&w.topics.reconciliation, WAIT, |evs| evs.len() >= 3)
        .await?;
    // Both counts handled (their outputs are durable before their offsets are committed), then
    // the topic is read again: the repeated count added nothing.
    w.env
        .wait_caught_up(&group, &[&w.topics.movements], WAIT)
        .await?;
    let evs = w.events(&w.topics.reconciliation).await?;
    assert_eq!(evs.len(), 3);
    assert!(
        matches!(&evs.iter().filter_map(|e| match e { AnyEvent::InventoryDriftDetected(d) if d.snapshot_id.as_str() == "CC-2" => Some(d.clone()), _ => None }).collect::<Vec<_>>()[..], [d] if !d.corrected && d.difference_base == 485)
    );
    let (_, body) = w.availability(&p, "SKU-D", Some("L1")).await?;
    assert_eq!(body["positions"][0]["on_hand"], 15);
    assert_eq!(p.counter(metrics::DRIFT_UNITS, &[]), 493.0);
    p.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_from_the_log_equals_the_live_state_and_survives_restart() -> anyhow::Result<()> {
    let w = InventoryEnv::new(4).await?;
    let group = w.env.unique("inv");
    let settings = || w.settings(&group, &["--safety-stock", "ECOMMERCE=2"]);
    let p = w.start(settings()?).await?;
    use MovementType::*;
    let skus: Vec<String> = (0..12).map(|i| format!("RB-{i}")).collect();
    // Movements and requests interleaved, racing each other on the same SKUs.
    let mut seq = 0i64;
    let mut prev: HashMap<String, i64> = HashMap::new();
    for round in 0..4 {
        let mut mvs = Vec::new();
        for s in &skus {
            seq += 1;
            let pr = prev.insert(s.clone(), seq).unwrap_or(0);
            mvs.push(movement(
                s,
                if round % 2 == 0 { "L1" } else { "L2" },
                seq,
                Some(pr),
                Receipt,
                3,
                None,
            ));
        }
        let mut reqs = Vec::new();
        for (i, s) in skus.iter().enumerate() {
            let policy = [AtpPolicy::Reject, AtpPolicy::Backorder, AtpPolicy::Partial][i % 3];
            reqs.push(reserve(
                &format!("rb-{round}-{s}"),
                s,
                "L1",
                &format!("O{round}{i}"),
                2,
                policy,
            ));
        }
        let (a, b) = tokio::join!(w.movements(&mvs), w.reservations(&reqs));
        a?;
        b?;
    }
    w.counts(&[count("RB-0", "C1", 2, CountScope::Partial, &[("L1", 1)])])
        .await?;
    w.releases(&[release("rel-1", "RB-1", "L1", "O01", None)])
        .await?;
    // Caught up when every request is answered and the count is applied.
    let n_requests = 4 * skus.len();
    w.wait_events(&w.topics.reservations, WAIT, |evs| {
        results_by_request(evs)
            .map(|r| r.len() >= n_requests)
            .unwrap_or(false)
            && evs
                .iter()
                .any(|e| matches!(e, AnyEvent::ReservationReleased(_)))
    })
    .await?;
    w.wait_events(&w.topics.reconciliation, WAIT, |evs| !evs.is_empty())
        .await?;
    // Every input handled and its state saved before the state is compared.
    w.env
        .wait_caught_up(&group, &[&w.topics.movements, &w.topics.requests], WAIT)
        .await?;
    let (live, size, owned) = p.projector().digest().await?;
    assert_eq!(owned.len(), 4);
    assert_eq!(size.skus as usize, skus.len());
    let (saved, _) = changelog_digest(&w.env.settings, &w.topics).await?;
    assert_eq!(saved, live, "the changelog holds the live state");
    let ctx = w
        .settings(&group, &["--safety-stock", "ECOMMERCE=2"])?
        .ctx()?;
    let (_, report) = rebuild(&w.env.settings, &w.topics, &w.codec, &ctx, None).await?;
    assert_eq!(
        report.digest, live,
        "rebuild from the log equals the live state"
    );
    assert_eq!(report.requests as usize, n_requests + 1);
    // A restart restores from the changelog, not by replaying the inputs.
    p.stop().await?;
    let p2 = w.start(settings()?).await?;
    p2.wait_owned(4, WAIT).await?;
    let (after, _, _) = p2.projector().digest().await?;
    assert_eq!(after, live);
    assert_eq!(p2.counter(metrics::MOVEMENTS_APPLIED, &[]), 0.0);
    p2.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_api_authenticates_and_answers_from_state() -> anyhow::Result<()> {
    let w = InventoryEnv::new(2).await?;
    let p = w
        .start(w.settings(
            &w.env.unique("inv"),
            &["--safety-stock", "ECOMMERCE=3,EDI=1"],
        )?)
        .await?;
    w.movements(&[
        movement("SKU-H", "L1", 1, Some(0), MovementType::Receipt, 10, None),
        movement("SKU-H", "L2", 2, Some(1), MovementType::Receipt, 2, None),
    ])
    .await?;
    w.wait_on_hand(&p, "SKU-H", "L2", 2, WAIT).await?;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/availability/SKU-H", p.url);
    assert_eq!(http.get(&url).send().await?.status().as_u16(), 401);
    let r = http
        .get(&url)
        .header("authorization", "Bearer wrong")
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 401);
    let r = http.get(&url).header("x-api-key", API_KEY).send().await?;
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_str(&r.text().await?)?;
    assert_eq!(body["sku"], "SKU-H");
    assert_eq!(body["positions"].as_array().map(Vec::len), Some(2));
    let (status, body) = w.availability(&p, "SKU-H", Some("L1")).await?;
    assert_eq!(status, 200);
    let pos = &body["positions"][0];
    assert_eq!(pos["on_hand"], 10);
    assert_eq!(pos["channel_atp"]["ECOMMERCE"], 7);
    assert_eq!(pos["channel_atp"]["EDI"], 9);
    assert_eq!(pos["channel_atp"]["HTTP"], 10);
    assert_eq!(pos["safety_stock"]["ECOMMERCE"], 3);
    assert_eq!(pos["warehouse_id"], "W1");
    let (_, body) = w.availability(&p, "SKU-H", Some("L2")).await?;
    assert_eq!(body["positions"][0]["channel_atp"]["ECOMMERCE"], 0);
    assert_eq!(w.availability(&p, "NOPE", None).await?.0, 404);
    assert_eq!(w.availability(&p, "SKU-H", Some("L9")).await?.0, 404);
    p.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_and_misrouted_records_are_dead_lettered() -> anyhow::Result<()> {
    let w = InventoryEnv::new(4).await?;
    let p = w.start(w.settings(&w.env.unique("inv"), &[])?).await?;
    // Not the wire format.
    w.env
        .produce(&w.topics.movements, &[("SKU-P", "garbage".to_owned())])
        .await?;
    // A valid movement on the wrong partition (its producer ignored murmur2).
    let m = movement("SKU-P", "L1", 1, Some(0), MovementType::Receipt, 5, None);
    let owner = p.projector().partition_of("SKU-P");
    let other_key = (0..100)
        .map(|i| format!("other-{i}"))
        .find(|k| dsync_inventory_projector::hash::partition_for(k.as_bytes(), 4) != owner)
        .ok_or_else(|| anyhow::anyhow!("no key on another partition"))?;
    let out = w
        .codec
        .outbound(&w.topics.movements, other_key.into_bytes(), &m, None)
        .await?;
    w.producer.send(&out).await?;
    // And then a good one: the partition keeps flowing.
    w.movements(&[movement(
        "SKU-P",
        "L1",
        2,
        Some(0),
        MovementType::Receipt,
        3,
        None,
    )])
    .await?;
    w.wait_on_hand(&p, "SKU-P", "L1", 3, WAIT).await?;
    let dlq = w
        .env
        .wait_for(&format!("{}.dlq", w.topics.movements), 2, WAIT)
        .await?;
    assert_eq!(dlq.len(), 2);
    let reasons: Vec<String> = dlq
        .iter()
        .filter_map(|r| r.header("dlq.error.message"))
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(
        reasons.iter().any(|m| m.contains("belongs to partition")),
        "{reasons:?}"
    );
    p.stop().await
}
