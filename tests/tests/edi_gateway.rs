//! edi-gateway through the real broker and registry: inbox file to order submission and 997,
//! duplicates across a restart, a bad set among good ones, test data in production, 855s with
//! control numbers never reused across a restart, partners' 997s matched, overdue detection,
//! crash recovery, invalid profiles, upload authentication.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use chrono::Utc;
use dsync_edi_gateway::journal::{Journal, PendingReceipt, ReceiptSource};
use dsync_edi_gateway::{App, GatewayError};
use dsync_events::{
    AcceptedOrderLine, AckStatus, AnyEvent, BusinessException, EdiDocumentAcknowledged,
    EdiDocumentReceived, EdiDocumentSent, EdiDocumentType, EdiReceiptStatus, Event, EventMetadata,
    ExceptionKind, OrderAccepted, OrderChannel, OrderSubmitted, UsageIndicator,
};
use dsync_tests::edi::{corpus, read_acks, EdiEnv, ACME_KEY, OTHER_KEY, UPLOAD_KEY};
use dsync_tests::{eventually, Check};
use dsync_x12::{parse_all, validate, Document, LineStatus, PoAckType};

const WAIT: Duration = Duration::from_secs(60);

fn submitted(e: AnyEvent) -> Option<OrderSubmitted> {
    match e {
        AnyEvent::OrderSubmitted(o) => Some(o),
        _ => None,
    }
}

fn received(e: AnyEvent) -> Option<EdiDocumentReceived> {
    match e {
        AnyEvent::EdiDocumentReceived(r) => Some(r),
        _ => None,
    }
}

fn sent(e: AnyEvent) -> Option<EdiDocumentSent> {
    match e {
        AnyEvent::EdiDocumentSent(s) => Some(s),
        _ => None,
    }
}

fn exception(e: AnyEvent) -> Option<BusinessException> {
    match e {
        AnyEvent::BusinessException(x) => Some(x),
        _ => None,
    }
}

/// An interchange of the corpus with other control numbers (ISA13/IEA02 and GS06/GE02).
fn renumbered(
    name: &str,
    from_isa: &str,
    to_isa: &str,
    from_gs: &str,
    to_gs: &str,
) -> anyhow::Result<Vec<u8>> {
    let text = String::from_utf8(corpus(name)?)?;
    Ok(text
        .replace(from_isa, to_isa)
        .replace(&format!("*{from_gs}*X*"), &format!("*{to_gs}*X*"))
        .replace(&format!("GE*1*{from_gs}~"), &format!("GE*1*{to_gs}~"))
        .replace("PO-1*", &format!("PO-{to_gs}*"))
        .into_bytes())
}

/// What order-intake would publish for an accepted submission.
fn accept(sub: &OrderSubmitted, backorder_line: Option<i32>) -> OrderAccepted {
    let id = uuid::Uuid::new_v4().to_string();
    OrderAccepted {
        metadata: EventMetadata {
            event_id: id.as_str().into(),
            event_type: OrderAccepted::RECORD_NAME.into(),
            occurred_at: Utc::now(),
            correlation_id: sub.metadata.correlation_id.clone(),
            causation_id: Some(sub.metadata.event_id.clone()),
            source_system: "order-intake".into(),
            schema_version: 1,
        },
        order_id: sub.order_id.clone(),
        customer_id: sub.customer_id.clone(),
        channel: sub.channel,
        idempotency_key: sub.idempotency_key.clone(),
        customer_po_number: sub.customer_po_number.clone(),
        partner_po: sub.partner_po.clone(),
        ship_to: sub.ship_to.clone(),
        currency: sub.currency.clone(),
        lines: sub
            .lines
            .iter()
            .map(|l| {
                let q = l.quantity as i64;
                let back = if Some(l.line_number) == backorder_line {
                    q
                } else {
                    0
                };
                AcceptedOrderLine {
                    line_number: l.line_number,
                    partner_line_id: l.partner_line_id.clone(),
                    sku: l.sku.clone().unwrap_or_default(),
                    ordered_quantity: l.quantity,
                    ordered_unit: l.unit.clone(),
                    base_unit: l.unit.clone(),
                    ordered_quantity_base: q,
                    promised_quantity_base: q - back,
                    backordered_quantity_base: back,
                    ..AcceptedOrderLine::default()
                }
            })
            .collect(),
        ..OrderAccepted::default()
    }
}

/// (GS06, ST02, BAK02, ACK01s, ISA13) of an 855 we sent.
fn read_855(bytes: &[u8]) -> anyhow::Result<(String, String, PoAckType, Vec<LineStatus>, String)> {
    let (ics, err) = parse_all(bytes);
    ensure!(err.is_none(), "855 does not parse: {err:?}");
    let ic = ics.first().context("no interchange")?;
    let v = validate(ic);
    ensure!(v.report.is_accepted(), "{:?}", v.report);
    let g = v.groups.first().context("no group")?;
    let Some(Some(Document::PurchaseOrderAck(ack))) = g.documents.first() else {
        anyhow::bail!("no valid 855: {:?}", g.report);
    };
    Ok((
        g.report.control_number.clone(),
        ack.control_number.to_owned(),
        ack.ack_type,
        ack.lines
            .iter()
            .flat_map(|l| l.acks.iter().map(|a| a.status))
            .collect(),
        ic.isa.control_number.to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_file_becomes_an_order_submission_and_a_997() -> anyhow::Result<()> {
    let e = EdiEnv::new("edi-inbox", "24h").await?;
    let gw = e.start().await?;
    let input = corpus("01_4010_star_colon_tilde.x12")?;
    let inbox_file = e.drop_file("ACME", "po-1.x12", &input)?;

    let orders = e
        .wait_events("orders.submissions", 1, WAIT, submitted)
        .await?;
    let o = &orders[0];
    assert_eq!(o.channel, OrderChannel::Edi);
    assert_eq!(o.customer_id, "C-100234");
    assert_eq!(o.customer_po_number.as_deref(), Some("PO-1"));
    assert_eq!(o.lines.len(), 2);
    assert_eq!(o.lines[0].sku.as_deref(), Some("WID-4410"));
    assert_eq!(o.lines[1].unit, "CS");
    let po = o.partner_po.as_ref().context("partner po")?;
    assert_eq!(po.interchange_control_number.as_deref(), Some("000000101"));
    assert_eq!(po.group_control_number.as_deref(), Some("101"));
    assert_eq!(po.transaction_set_control_number.as_deref(), Some("0001"));
    // keyed by customer
    let records = e.env.read_all(&e.topic("orders.submissions")).await?;
    assert_eq!(records[0].key_str(), Some("C-100234"));

    // the 997 (with the TA1 the ISA14 = 1 asked for) is in the outbox
    let out = e.wait_outbox("ACME", "997", 1, WAIT).await?;
    let (ta1, fas, _) = read_acks(&out[0].1)?;
    assert_eq!(ta1, vec![("A".to_owned(), "000".to_owned())]);
    assert_eq!(
        fas,
        vec![("PO 101".to_owned(), "A".to_owned(), vec!["A".to_owned()])]
    );

    let docs = e.wait_events("edi.documents", 3, WAIT, Some).await?;
    let rec: Vec<EdiDocumentReceived> = docs.iter().cloned().filter_map(received).collect();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].status, EdiReceiptStatus::Accepted);
    assert_eq!(rec[0].order_id.as_deref(), Some(o.order_id.as_str()));
    let s: Vec<EdiDocumentSent> = docs.into_iter().filter_map(sent).collect();
    assert_eq!(
        s.iter().map(|d| d.document_type).collect::<Vec<_>>(),
        vec![EdiDocumentType::X12Ta1, EdiDocumentType::X12997]
    );

    // archived byte for byte; the inbox file moved to processed once handled
    let archived =
        dsync_edi_gateway::files::path_of_uri(&rec[0].archive_reference).context("archive path")?;
    assert_eq!(std::fs::read(&archived)?, input);
    assert_eq!(
        rec[0].content_sha256,
        dsync_edi_gateway::files::sha256_hex(&input)
    );
    eventually("inbox file moved", WAIT, || async {
        Ok(Check::when(!inbox_file.exists(), (), || {
            "still in the inbox".into()
        }))
    })
    .await?;
    let processed = e.files("ACME", "processed")?;
    assert_eq!(processed.len(), 1);
    assert_eq!(processed[0].1, input);
    gw.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_interchange_gets_ta1_025_and_is_not_processed_again_across_a_restart(
) -> anyhow::Result<()> {
    let e = EdiEnv::new("edi-dup", "24h").await?;
    let gw = e.start().await?;
    let input = corpus("01_4010_star_colon_tilde.x12")?;
    e.drop_file("ACME", "po.x12", &input)?;
    e.wait_outbox("ACME", "997", 1, WAIT).await?;
    e.wait_events("orders.submissions", 1, WAIT, submitted)
        .await?;
    gw.stop().await?;

    // a new instance: the duplicate window is rebuilt from edi.documents
    let gw = e.start().await?;
    e.drop_file("ACME", "po.x12", &input)?;
    let ta1_files = e.wait_outbox("ACME", "_TA1_", 1, WAIT).await?;
    let (ta1, fas, _) = read_acks(&ta1_files[0].1)?;
    assert_eq!(ta1, vec![("R".to_owned(), "025".to_owned())]);
    assert!(fas.is_empty());
    let dup = e
        .wait_events("edi.documents", 1, WAIT, |ev| {
            received(ev).filter(|r| r.status == EdiReceiptStatus::Duplicate)
        })
        .await?;
    assert_eq!(
        dup[0].control_numbers.interchange_control_number,
        "000000101"
    );
    let ex = e
        .wait_events("exceptions.business", 1, WAIT, |ev| {
            exception(ev).filter(|x| x.kind == ExceptionKind::EdiDuplicate)
        })
        .await?;
    assert_eq!(ex[0].partner_id.as_deref(), Some("ACME"));
    // processed once: the duplicate's receipt was carried out in full (its inbox file moves to
    // processed only once everything it publishes is durable), and published no order
    e.wait_processed("ACME", "po.x12", 2, WAIT).await?;
    assert_eq!(e.events("orders.submissions").await?.len(), 1);
    let metrics = reqwest::get(format!("{}/metrics", gw.admin_url))
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("dsync_edi_duplicates_total{level=\"interchange\",partner=\"ACME\"} 1"),
        "{metrics}"
    );
    gw.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_set_is_rejected_in_the_997_while_the_good_sets_go_through() -> anyhow::Result<()> {
    let e = EdiEnv::new("edi-badset", "24h").await?;
    let gw = e.start().await?;
    e.drop_file(
        "ACME",
        "three.x12",
        &corpus("37_one_bad_set_among_good_ones.x12")?,
    )?;
    let out = e.wait_outbox("ACME", "997", 1, WAIT).await?;
    let (_, fas, _) = read_acks(&out[0].1)?;
    assert_eq!(
        fas,
        vec![(
            "PO 3701".to_owned(),
            "P".to_owned(),
            vec!["A".to_owned(), "R".to_owned(), "A".to_owned()]
        )]
    );
    let orders = e
        .wait_events("orders.submissions", 2, WAIT, submitted)
        .await?;
    let mut pos: Vec<_> = orders
        .iter()
        .filter_map(|o| o.customer_po_number.as_deref().map(str::to_owned))
        .collect();
    pos.sort();
    assert_eq!(pos, vec!["PO-37", "PO-39"]);
    let rec = e.wait_events("edi.documents", 3, WAIT, received).await?;
    assert_eq!(
        rec.iter()
            .filter(|r| r.status == EdiReceiptStatus::Rejected)
            .count(),
        1
    );
    gw.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_interchange_is_acknowledged_but_never_an_order_in_production() -> anyhow::Result<()>
{
    let e = EdiEnv::new("edi-usage", "24h").await?;
    let gw = e.start().await?;
    // uploaded this time; 5 sets in 2 groups, ISA15 = T
    let resp = reqwest::Client::new()
        .post(format!("{}/partners/ACME/interchanges", gw.url))
        .bearer_auth(UPLOAD_KEY)
        .body(corpus("04_5010_two_groups_five_sets.x12")?)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await?;
    // answered once the receipt was carried out in full: everything it publishes is durable
    assert_eq!(body["completed"], true, "{body}");
    assert_eq!(body["interchanges"][0]["outcome"], "accepted");
    assert_eq!(
        body["interchanges"][0]["groups"][0]["sets"][0]["action"],
        "test_ignored"
    );
    let out = e.wait_outbox("ACME", "997", 1, WAIT).await?;
    let (_, fas, _) = read_acks(&out[0].1)?;
    assert_eq!(fas.len(), 2, "one 997 per group");
    let rec = e.wait_events("edi.documents", 5, WAIT, received).await?;
    assert!(rec
        .iter()
        .all(|r| r.usage_indicator == UsageIndicator::Test));
    assert!(e.events("orders.submissions").await?.is_empty());
    gw.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_outcomes_become_855s_with_control_numbers_never_reused_across_a_restart(
) -> anyhow::Result<()> {
    let e = EdiEnv::new("edi-855", "24h").await?;
    let gw = e.start().await?;
    e.drop_file("ACME", "po-1.x12", &corpus("01_4010_star_colon_tilde.x12")?)?;
    let orders = e
        .wait_events("orders.submissions", 1, WAIT, submitted)
        .await?;
    e.publish(
        "orders.events",
        &orders[0].order_id,
        &accept(&orders[0], Some(2)),
    )
    .await?;
    let first = e.wait_outbox("ACME", "_855_", 1, WAIT).await?;
    let (gs1, st1, bak1, acks1, isa1) = read_855(&first[0].1)?;
    assert_eq!(bak1, PoAckType::AcknowledgeWithDetailAndChange);
    assert_eq!(acks1, vec![LineStatus::Accepted, LineStatus::Backordered]);
    let (_, _, ack_isa) = read_acks(&e.wait_outbox("ACME", "997", 1, WAIT).await?[0].1)?;
    ensure!(isa1 > ack_isa, "855 {isa1} after 997 {ack_isa}");
    gw.stop().await?;

    let gw = e.start().await?;
    // a second order, and the first order's outcome delivered again (a replay)
    e.drop_file(
        "ACME",
        "po-2.x12",
        &renumbered(
            "01_4010_star_colon_tilde.x12",
            "000000101",
            "000000102",
            "101",
            "102",
        )?,
    )?;
    let orders = e
        .wait_events("orders.submissions", 2, WAIT, submitted)
        .await?;
    let second = orders
        .iter()
        .find(|o| o.customer_po_number.as_deref() == Some("PO-102"))
        .context("second order")?;
    e.publish(
        "orders.events",
        &orders[0].order_id,
        &accept(&orders[0], None),
    )
    .await?;
    e.publish("orders.events", &second.order_id, &accept(second, None))
        .await?;
    let both = e.wait_outbox("ACME", "_855_", 2, WAIT).await?;
    let next = both
        .iter()
        .find(|(name, _)| *name != first[0].0)
        .context("second 855")?;
    let (gs2, st2, bak2, acks2, isa2) = read_855(&next.1)?;
    assert_eq!(bak2, PoAckType::Accepted);
    assert_eq!(acks2, vec![LineStatus::Accepted, LineStatus::Accepted]);
    let n = |s: &str| s.parse::<u64>().unwrap_or(0);
    ensure!(n(&isa2) > n(&isa1), "ISA13 {isa2} after {isa1}");
    ensure!(n(&gs2) > n(&gs1), "GS06 {gs2} after {gs1}");
    ensure!(n(&st2) > n(&st1), "ST02 {st2} after {st1}");
    // the replayed outcome of the first order did not produce a second 855: every outcome
    // was handled (the group committed the end of orders.events, which it does only once a
    // record's 855 is delivered)
    e.wait_caught_up(&[&e.topic("orders.events")], WAIT).await?;
    assert_eq!(e.wait_outbox("ACME", "_855_", 2, WAIT).await?.len(), 2);
    let sent855: Vec<EdiDocumentSent> = e
        .wait_events("edi.documents", 2, WAIT, |ev| {
            sent(ev).filter(|s| s.document_type == EdiDocumentType::X12855)
        })
        .await?;
    assert_eq!(sent855.len(), 2);
    // every control number sent is distinct
    let all_sent: Vec<EdiDocumentSent> = e
        .events("edi.documents")
        .await?
        .into_iter()
        .filter_map(sent)
        .collect();
    let mut isas: Vec<_> = all_sent
        .iter()
        .map(|s| s.control_numbers.interchange_control_number.to_string())
        .collect();
    isas.sort();
    isas.dedup();
    let interchanges_sent = e.files("ACME", "outbox")?.len();
    assert_eq!(isas.len(), interchanges_sent, "{isas:?}");
    gw.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_997s_are_matched_and_missing_ones_raise_overdue_exceptions() -> anyhow::Result<()>
{
    let e = EdiEnv::new("edi-ack", "2s").await?;
    let gw = e.start().await?;
    e.drop_file("ACME", "po-1.x12", &corpus("01_4010_star_colon_tilde.x12")?)?;
    let orders = e
        .wait_events("orders.submissions", 1, WAIT, submitted)
        .await?;
    e.publish(
        "orders.events",
        &orders[0].order_id,
        &accept(&orders[0], None),
    )
    .await?;
    let f = e.wait_outbox("ACME", "_855_", 1, WAIT).await?;
    let (gs06, st02, _, _, _) = read_855(&f[0].1)?;

    // no 997 within 2 s: overdue
    let overdue = e
        .wait_events("exceptions.business", 1, WAIT, |ev| {
            exception(ev).filter(|x| x.kind == ExceptionKind::EdiAckOverdue && !x.resolved)
        })
        .await?;
    let doc_id = format!("855-{}", orders[0].order_id);
    assert_eq!(overdue[0].aggregate_id, doc_id);
    assert_eq!(
        overdue[0].order_id.as_deref(),
        Some(orders[0].order_id.as_str())
    );

    // the partner's 997 arrives (late), by upload with the partner's own key
    let fa = format!(
        "ISA*00*          *00*          *ZZ*BUYERCO        *ZZ*DISTSYNC       *240115*1030*U*00401*000007001*0*P*:~\
GS*FA*BUYERCO*DISTSYNC*20240115*1030*7001*X*004010~ST*997*0001~AK1*PR*{gs06}~AK2*855*{st02}~AK5*A~\
AK9*A*1*1*1~SE*6*0001~GE*1*7001~IEA*1*000007001~"
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/partners/ACME/interchanges", gw.url))
        .header("X-Api-Key", ACME_KEY)
        .body(fa)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    // answered once the receipt was carried out in full: whatever it delivers is in the outbox
    let summary: serde_json::Value = resp.json().await?;
    assert_eq!(summary["completed"], true, "{summary}");
    let acks: Vec<EdiDocumentAcknowledged> = e
        .wait_events("edi.documents", 1, WAIT, |ev| match ev {
            AnyEvent::EdiDocumentAcknowledged(a) => Some(a),
            _ => None,
        })
        .await?;
    assert_eq!(acks[0].acknowledged_document_id, doc_id);
    assert_eq!(acks[0].status, AckStatus::Accepted);
    assert!(acks[0].late);
    assert_eq!(acks[0].ack_type, EdiDocumentType::X12997);
    let resolved = e
        .wait_events("exceptions.business", 1, WAIT, |ev| {
            exception(ev).filter(|x| x.kind == ExceptionKind::EdiAckOverdue && x.resolved)
        })
        .await?;
    assert_eq!(resolved[0].exception_id, overdue[0].exception_id);
    // no 997 answers a 997: the outbox holds the acknowledgements of the 850 and the 855
    let names: Vec<String> = e
        .files("ACME", "outbox")?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    gw.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_archived_before_a_crash_is_processed_at_start() -> anyhow::Result<()> {
    let e = EdiEnv::new("edi-crash", "24h").await?;
    // the state a crash right after archiving leaves: bytes archived, receipt journaled, the
    // file still in the inbox
    let input = corpus("01_4010_star_colon_tilde.x12")?;
    let inbox_file = e.drop_file("ACME", "po.x12", &input)?;
    let received_at = Utc::now();
    let receipt_id = dsync_edi_gateway::ids::new_receipt_id(received_at);
    let archive = dsync_edi_gateway::archive::Archive::new(&e.data_dir);
    let archive_path = archive.received_path("ACME", &receipt_id);
    dsync_edi_gateway::files::write_atomic(&archive_path, &input)?;
    Journal::open(&e.data_dir)?.write_receipt(&PendingReceipt {
        receipt_id: receipt_id.clone(),
        partner_id: "ACME".into(),
        received_at,
        size_bytes: input.len() as i64,
        sha256: dsync_edi_gateway::files::sha256_hex(&input),
        archive_path,
        source: ReceiptSource::Inbox {
            path: inbox_file.clone(),
            processed_path: e.folder("ACME", "processed").join("po.x12"),
        },
    })?;

    let gw = e.start().await?;
    let orders = e
        .wait_events("orders.submissions", 1, WAIT, submitted)
        .await?;
    assert_eq!(orders[0].customer_po_number.as_deref(), Some("PO-1"));
    let rec = e.wait_events("edi.documents", 1, WAIT, received).await?;
    assert!(
        rec[0].document_id.starts_with(&receipt_id),
        "the journaled receipt was decided"
    );
    assert!(!inbox_file.exists(), "moved once handled");
    assert_eq!(gw.gateway().pending_plans(), 0);
    // and the inbox file was not taken a second time: a later file, taken by the inbox watcher
    // (one file at a time, oldest first) and carried out in full, is the marker
    let later = renumbered(
        "01_4010_star_colon_tilde.x12",
        "000000101",
        "000000102",
        "101",
        "102",
    )?;
    e.drop_file("ACME", "later.x12", &later)?;
    e.wait_processed("ACME", "later.x12", 1, WAIT).await?;
    let pos: Vec<String> = e
        .events("orders.submissions")
        .await?
        .into_iter()
        .filter_map(submitted)
        .filter_map(|o| o.customer_po_number.map(|p| p.to_string()))
        .collect();
    assert_eq!(pos, vec!["PO-1", "PO-102"], "PO-1 submitted once");
    let receipts = e
        .events("edi.documents")
        .await?
        .into_iter()
        .filter_map(received);
    assert_eq!(receipts.count(), 2, "one receipt per file");
    let mut groups_acked = Vec::new();
    for (_, bytes) in e.files("ACME", "outbox")? {
        groups_acked.extend(read_acks(&bytes)?.1.into_iter().map(|fa| fa.0));
    }
    groups_acked.sort();
    assert_eq!(groups_acked, vec!["PO 101", "PO 102"], "one 997 per file");
    gw.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_profile_stops_the_start_naming_the_file_and_the_field() -> anyhow::Result<()> {
    let e = EdiEnv::new("edi-profile", "24h").await?;
    std::fs::write(
        e.profiles_dir.join("broken.toml"),
        "id = \"BROKEN\"\n[interchange]\npartner_qualifier = \"ZZ\"\npartner_id = \"XPART\"\nour_qualifier = \"ZZ\"\nour_id = \"DISTSYNC\"\n[customers]\ndefault_customer_id = \"C\"\n[separators]\nelement = \"**\"\n",
    )?;
    let err = App::build(e.settings()?).await.err().context("must fail")?;
    let text = err.to_string();
    assert!(matches!(err, GatewayError::Profile { .. }), "{text}");
    assert!(text.contains("broken.toml"), "{text}");
    assert!(text.contains("separators.element"), "{text}");
    std::fs::write(
        e.profiles_dir.join("broken.toml"),
        "id = \"BROKEN\"\n[interchange]\npartner_qualifier = \"ZZ\"\npartner_id = \"XPART\"\nour_qualifier = \"ZZ\"\nour_id = \"DISTSYNC\"\n[timing]\nack_deadline = \"tomorrow\"\n",
    )?;
    let text = App::build(e.settings()?)
        .await
        .err()
        .context("must fail")?
        .to_string();
    assert!(
        text.contains("broken.toml") && text.contains("timing.ack_deadline"),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_need_a_key_valid_for_the_partner() -> anyhow::Result<()> {
    let e = EdiEnv::new("edi-auth", "24h").await?;
    let gw = e.start().await?;
    let http = reqwest::Client::new();
    let url = format!("{}/partners/ACME/interchanges", gw.url);
    let body = corpus("01_4010_star_colon_tilde.x12")?;
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(http.post(&url).body(body.clone()).send().await?),
        401
    );
    assert_eq!(
        status(
            http.post(&url)
                .bearer_auth("wrong-key-0123456789")
                .body(body.clone())
                .send()
                .await?
        ),
        401
    );
    assert_eq!(
        status(
            http.post(&url)
                .header("X-Api-Key", OTHER_KEY)
                .body(body.clone())
                .send()
                .await?
        ),
        403,
        "another partner's key"
    );
    assert_eq!(
        status(
            http.post(format!("{}/partners/NOPE/interchanges", gw.url))
                .bearer_auth(UPLOAD_KEY)
                .body(body.clone())
                .send()
                .await?
        ),
        404
    );
    assert_eq!(
        status(
            http.post(&url)
                .bearer_auth(UPLOAD_KEY)
                .body("   ")
                .send()
                .await?
        ),
        400
    );
    let ok = http
        .post(&url)
        .bearer_auth(ACME_KEY)
        .body(body)
        .send()
        .await?;
    assert_eq!(ok.status().as_u16(), 200);
    let summary: serde_json::Value = ok.json().await?;
    assert_eq!(summary["partner_id"], "ACME");
    assert_eq!(summary["completed"], true);
    assert_eq!(
        summary["interchanges"][0]["groups"][0]["sets"][0]["action"],
        "submitted"
    );
    assert!(summary["interchanges"][0]["acknowledgement_file"]
        .as_str()
        .is_some_and(|f| f.contains("997")));
    // nothing was received before: the accepted upload, answered once carried out in full, is
    // the only receipt on edi.documents
    let receipt_id = summary["receipt_id"].as_str().context("receipt id")?;
    let receipts: Vec<EdiDocumentReceived> = e
        .events("edi.documents")
        .await?
        .into_iter()
        .filter_map(received)
        .collect();
    assert_eq!(receipts.len(), 1, "nothing was received: {receipts:?}");
    assert!(receipts[0].document_id.starts_with(receipt_id));
    e.wait_events("orders.submissions", 1, WAIT, submitted)
        .await?;
    let metrics = reqwest::get(format!("{}/metrics", gw.admin_url))
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("dsync_edi_uploads_total{outcome=\"unauthorized\"} 2"),
        "{metrics}"
    );
    gw.stop().await?;
    Ok(())
}
