//! order-intake against the real broker and an in-process registry: every validation rule end
//! to end over HTTP, the HTTP error responses, duplicates across a restart and a replay, two
//! instances racing on one customer's credit limit, and EDI and HTTP submissions producing the
//! same accepted event. Each test has its own topics (a unique prefix), group and registry.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use anyhow::{ensure, Context as _};
use dsync_events::{
    AnyEvent, AtpPolicy, ExceptionKind, ItemStatus, OrderChannel, OrderShipTo, OrderSubmitted,
    PartnerPoReference, PriceKind, SubmittedOrderLine,
};
use dsync_order_intake::handlers::order_events::{CONTENT_HASH_HEADER, SUBMISSION_HEADER};
use dsync_order_intake::order_id_for;
use dsync_tests::intake::{
    availability, customer, get, item, location, meta, order_id_of, post_order,
    post_order_retrying, price, request, usd, Auth, IntakeEnv, Published,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

fn order(customer: &str, lines: Value) -> Value {
    json!({ "customer_id": customer, "currency": "USD", "lines": lines })
}

fn line(sku: &str, quantity: f64, unit: &str) -> Value {
    json!({ "sku": sku, "quantity": quantity, "unit": unit })
}

/// Items SKU-A (case of 12, 1.00 per EA), SKU-B (case of 6, 12.00 per CS), SKU-LOW (15
/// available, 0.50 per EA), SKU-NS (not sellable), SKU-DISC (discontinued), SKU-NP (no price);
/// locations L1, L2.
async fn catalog(
    ie: &IntakeEnv,
    customers: &[dsync_events::CustomerUpserted],
) -> anyhow::Result<()> {
    let mut not_sellable = item("SKU-NS", 10);
    not_sellable.sellable = false;
    let mut discontinued = item("SKU-DISC", 10);
    discontinued.status = ItemStatus::Discontinued;
    ie.master_data(
        customers,
        &[
            item("SKU-A", 12),
            item("SKU-B", 6),
            item("SKU-LOW", 10),
            item("SKU-NP", 10),
            not_sellable,
            discontinued,
        ],
        &[
            price("P-A", PriceKind::List, "LIST", "SKU-A", "EA", 100),
            price("P-B", PriceKind::List, "LIST", "SKU-B", "CS", 1200),
            price("P-LOW", PriceKind::List, "LIST", "SKU-LOW", "EA", 50),
            price("P-NS", PriceKind::List, "LIST", "SKU-NS", "EA", 50),
            price("P-DISC", PriceKind::List, "LIST", "SKU-DISC", "EA", 50),
            price("K-A", PriceKind::Contract, "K-1", "SKU-A", "CS", 1000),
        ],
        &[location("L1", "WH1"), location("L2", "WH2")],
        &[
            availability("SKU-A", "L1", 5_000, 1),
            availability("SKU-A", "L2", 5_000, 1),
            availability("SKU-B", "L1", 10_000, 1),
            availability("SKU-LOW", "L1", 15, 1),
            availability("SKU-NP", "L1", 1_000, 1),
            availability("SKU-NS", "L1", 1_000, 1),
            availability("SKU-DISC", "L1", 1_000, 1),
        ],
    )
    .await
}

fn reasons(r: &dsync_tests::intake::HttpReply) -> Vec<(String, Option<i64>, Option<String>)> {
    r.body["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["code"].as_str().unwrap_or_default().to_owned(),
                        x["line_number"].as_i64(),
                        x["field"].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_validation_rule_end_to_end_over_http() -> anyhow::Result<()> {
    let ie = IntakeEnv::start().await?;
    let mut on_hold = customer("C-HOLD", None);
    on_hold.on_hold = true;
    on_hold.hold_reason = Some("CREDIT: past due over 60 days".into());
    let mut inactive = customer("C-INACTIVE", None);
    inactive.active = false;
    let mut credit = customer("C-CREDIT", Some(10_000));
    credit.open_balance = usd(5_000);
    let mut eur = customer("C-EUR", None);
    eur.currency = "EUR".into();
    let mut back = customer("C-BACK", None);
    back.atp_policy = AtpPolicy::Backorder;
    let mut part = customer("C-PART", None);
    part.atp_policy = AtpPolicy::Partial;
    let mut contract = customer("C-CONTRACT", None);
    contract.contract_id = Some("K-1".into());
    catalog(
        &ie,
        &[
            customer("C-OK", None),
            on_hold,
            inactive,
            credit,
            eur,
            back,
            part,
            contract,
        ],
    )
    .await?;
    let app = ie.run_default().await?;
    let url = app.url.clone();
    let mut order_ids = Vec::new();
    let post = |key: &'static str, body: Value| {
        let url = url.clone();
        async move { post_order(&url, key, &body).await }
    };

    // accepted: resolved prices, base-unit quantities, totals, default ship-to
    let r = post(
        "ok",
        order(
            "C-OK",
            json!([line("SKU-A", 2.0, "CS"), line("SKU-B", 1.0, "CS")]),
        ),
    )
    .await?;
    ensure!(r.status == 201, "{r:?}");
    assert_eq!(r.order_status(), "ACCEPTED");
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/orders/{}", r.order_id()).as_str())
    );
    let lines = &r.body["lines"];
    assert_eq!(lines[0]["ordered_quantity_base"], 24);
    assert_eq!(lines[0]["line_total"]["amount_minor"], 2400);
    assert_eq!(lines[1]["ordered_quantity_base"], 6);
    assert_eq!(lines[1]["unit_price"]["amount_minor"], 1200);
    assert_eq!(r.body["order_total"]["amount_minor"], 3600);
    assert_eq!(r.body["ship_to"]["ship_to_id"], "S1");
    assert_eq!(
        r.body["credit_exposure_after"],
        Value::Null,
        "no limit, no exposure"
    );
    order_ids.push(r.order_id().to_owned());

    let rejected = |r: &dsync_tests::intake::HttpReply| {
        assert_eq!((r.status, r.order_status()), (200, "REJECTED"), "{r:?}");
    };
    let r = post(
        "unknown",
        order("C-NOPE", json!([line("SKU-A", 1.0, "EA")])),
    )
    .await?;
    rejected(&r);
    assert_eq!(
        reasons(&r),
        [("UNKNOWN_CUSTOMER".into(), None, Some("customer_id".into()))]
    );
    order_ids.push(r.order_id().to_owned());

    let r = post("hold", order("C-HOLD", json!([line("SKU-A", 1.0, "EA")]))).await?;
    rejected(&r);
    assert_eq!(r.reason_codes(), ["CUSTOMER_ON_HOLD"]);
    assert!(r.body["reasons"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("past due"));
    order_ids.push(r.order_id().to_owned());

    let r = post(
        "inactive",
        order("C-INACTIVE", json!([line("SKU-A", 1.0, "EA")])),
    )
    .await?;
    rejected(&r);
    assert_eq!(r.reason_codes(), ["CUSTOMER_INACTIVE"]);
    order_ids.push(r.order_id().to_owned());

    // credit: limit 100.00, open balance 50.00
    let r = post(
        "credit-1",
        order("C-CREDIT", json!([line("SKU-A", 40.0, "EA")])),
    )
    .await?;
    ensure!(r.status == 201, "{r:?}");
    assert_eq!(r.body["credit_exposure_after"]["amount_minor"], 9_000);
    order_ids.push(r.order_id().to_owned());
    let r = post(
        "credit-2",
        order("C-CREDIT", json!([line("SKU-A", 20.0, "EA")])),
    )
    .await?;
    rejected(&r);
    assert_eq!(
        reasons(&r),
        [("CREDIT_LIMIT_EXCEEDED".into(), None, Some("lines".into()))]
    );
    order_ids.push(r.order_id().to_owned());
    let r = post(
        "credit-3",
        order("C-CREDIT", json!([line("SKU-A", 10.0, "EA")])),
    )
    .await?;
    ensure!(r.status == 201, "exactly at the limit: {r:?}");
    assert_eq!(r.body["credit_exposure_after"]["amount_minor"], 10_000);
    order_ids.push(r.order_id().to_owned());

    let r = post("eur", order("C-EUR", json!([line("SKU-A", 1.0, "EA")]))).await?;
    rejected(&r);
    assert!(r.reason_codes().contains(&"CURRENCY_MISMATCH".to_owned()));
    order_ids.push(r.order_id().to_owned());

    let mut body = order("C-OK", json!([line("SKU-A", 1.0, "EA")]));
    body["ship_to"] = json!({ "ship_to_id": "S9" });
    let r = post("ship-to", body).await?;
    rejected(&r);
    assert_eq!(
        reasons(&r),
        [(
            "UNKNOWN_SHIP_TO".into(),
            None,
            Some("ship_to.ship_to_id".into())
        )]
    );
    order_ids.push(r.order_id().to_owned());

    // every line problem, each with its line number and field
    let r = post(
        "lines",
        order(
            "C-OK",
            json!([
                line("NOPE", 1.0, "EA"),
                line("SKU-NS", 1.0, "EA"),
                line("SKU-DISC", 1.0, "EA"),
                line("SKU-A", 1.0, "BX"),
                line("SKU-A", 1.0, "PL"),
                line("SKU-A", 0.5, "EA"),
                line("SKU-NP", 1.0, "EA"),
                line("SKU-A", 1.5, "CS"),
            ]),
        ),
    )
    .await?;
    rejected(&r);
    let expect = [
        ("UNKNOWN_ITEM", 1, "lines[0].sku"),
        ("ITEM_NOT_SELLABLE", 2, "lines[1].sku"),
        ("ITEM_NOT_SELLABLE", 3, "lines[2].sku"),
        ("UNKNOWN_UNIT", 4, "lines[3].unit"),
        ("UNKNOWN_UNIT", 5, "lines[4].unit"),
        ("INVALID_QUANTITY", 6, "lines[5].quantity"),
        ("NO_PRICE", 7, "lines[6].sku"),
    ];
    assert_eq!(
        reasons(&r),
        expect
            .iter()
            .map(|(c, n, f)| ((*c).to_owned(), Some(*n), Some((*f).to_owned())))
            .collect::<Vec<_>>()
    );
    order_ids.push(r.order_id().to_owned());

    // a submitted price beyond the tolerance is flagged, the order priced at the list price
    let mut priced = line("SKU-B", 1.0, "CS");
    priced["submitted_unit_price"] = json!({ "amount_minor": 1500, "currency": "USD" });
    let r = post("price", order("C-OK", json!([priced]))).await?;
    ensure!(r.status == 201, "{r:?}");
    assert_eq!(r.body["lines"][0]["price_flag"], "SUBMITTED_HIGHER");
    assert_eq!(r.body["lines"][0]["line_total"]["amount_minor"], 1200);
    order_ids.push(r.order_id().to_owned());

    let r = post(
        "contract",
        order("C-CONTRACT", json!([line("SKU-A", 1.0, "CS")])),
    )
    .await?;
    ensure!(r.status == 201, "{r:?}");
    assert_eq!(r.body["lines"][0]["price_kind"], "CONTRACT");
    assert_eq!(r.body["lines"][0]["unit_price"]["amount_minor"], 1000);
    order_ids.push(r.order_id().to_owned());

    // available to promise: 15 of SKU-LOW, 20 ordered
    let r = post(
        "atp-reject",
        order("C-OK", json!([line("SKU-LOW", 2.0, "CS")])),
    )
    .await?;
    rejected(&r);
    assert_eq!(
        reasons(&r),
        [(
            "INSUFFICIENT_STOCK".into(),
            Some(1),
            Some("lines[0].quantity".into())
        )]
    );
    order_ids.push(r.order_id().to_owned());
    let r = post(
        "atp-back",
        order("C-BACK", json!([line("SKU-LOW", 2.0, "CS")])),
    )
    .await?;
    ensure!(r.status == 201, "{r:?}");
    let l = &r.body["lines"][0];
    assert_eq!(
        (
            l["promised_quantity_base"].as_i64(),
            l["backordered_quantity_base"].as_i64()
        ),
        (Some(15), Some(5))
    );
    assert_eq!(r.body["atp_policy"], "BACKORDER");
    order_ids.push(r.order_id().to_owned());
    let r = post(
        "atp-part",
        order("C-PART", json!([line("SKU-LOW", 2.0, "CS")])),
    )
    .await?;
    ensure!(r.status == 201, "{r:?}");
    let l = &r.body["lines"][0];
    assert_eq!(
        (
            l["promised_quantity_base"].as_i64(),
            l["cancelled_quantity_base"].as_i64()
        ),
        (Some(15), Some(5))
    );
    assert_eq!(
        l["line_total"]["amount_minor"], 750,
        "cancelled units are not charged"
    );
    order_ids.push(r.order_id().to_owned());

    let mut late = order("C-OK", json!([line("SKU-A", 1.0, "EA")]));
    late["cancel_after_date"] = json!("2020-01-01");
    let r = post("late", late).await?;
    rejected(&r);
    assert_eq!(r.reason_codes(), ["SHIP_WINDOW_EXPIRED"]);
    order_ids.push(r.order_id().to_owned());

    // every answer is an event on orders.events, with the intake headers
    let ids: Vec<&str> = order_ids.iter().map(String::as_str).collect();
    let published = ie.wait_outcomes(&ids, WAIT).await?;
    assert_eq!(published.len(), ids.len(), "one outcome per order");
    for p in &published {
        assert!(p.record.header(CONTENT_HASH_HEADER).is_some());
        assert!(p.record.header(SUBMISSION_HEADER).is_some());
        assert_eq!(p.record.headers.event_type, p.event.record_name());
        assert_eq!(p.record.key_str(), order_id_of(&p.event));
    }
    let accepted = published
        .iter()
        .filter(|p| matches!(p.event, AnyEvent::OrderAccepted(_)))
        .count();
    assert_eq!(accepted, 7);
    let metrics = app.metrics_text().await?;
    assert!(
        metrics.contains(r#"dsync_order_intake_orders_total{channel="HTTP",outcome="accepted"} 7"#),
        "{metrics}"
    );
    assert!(metrics
        .contains(r#"dsync_order_intake_rejection_reasons_total{code="CREDIT_LIMIT_EXCEEDED"} 1"#));
    assert!(metrics.contains("dsync_order_intake_orders_stuck_in_validation 0"));
    app.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_error_responses() -> anyhow::Result<()> {
    let ie = IntakeEnv::start().await?;
    catalog(&ie, &[customer("C-OK", None)]).await?;
    let mut settings = ie.settings()?;
    settings.max_body_bytes = 4096;
    let app = ie.run(settings).await?;
    let url = format!("{}/v1/orders", app.url);
    let good = order("C-OK", json!([line("SKU-A", 1.0, "EA")]));
    let post = |auth: Auth, headers: Vec<(&'static str, String)>, body: String| {
        let url = url.clone();
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            request(reqwest::Method::POST, &url, auth, &h, Some(body)).await
        }
    };
    let json_key = |key: &str| {
        vec![
            ("content-type", "application/json".to_owned()),
            ("idempotency-key", key.to_owned()),
        ]
    };

    // 401
    for auth in [Auth::None, Auth::WrongKey] {
        let r = post(auth, json_key("k-401"), good.to_string()).await?;
        assert_eq!(r.status, 401, "{r:?}");
        assert_eq!(r.body["error"], "unauthorized");
        assert!(r.header("www-authenticate").is_some());
    }
    let r = get(&app.url, "/v1/orders/x").await?;
    assert_eq!(r.status, 404);
    let r = request(
        reqwest::Method::GET,
        &format!("{}/v1/orders/x", app.url),
        Auth::None,
        &[],
        None,
    )
    .await?;
    assert_eq!(r.status, 401);
    // the bearer token works as well as the API key
    let r = post(Auth::Bearer, json_key("k-bearer"), good.to_string()).await?;
    assert_eq!(r.status, 201, "{r:?}");

    // 400: no Idempotency-Key; not JSON
    let r = post(
        Auth::ApiKey,
        vec![("content-type", "application/json".into())],
        good.to_string(),
    )
    .await?;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.body["errors"][0]["field"], "Idempotency-Key");
    let r = post(Auth::ApiKey, json_key("k-400"), "{\"customer_id\": ".into()).await?;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("malformed_json")),
        "{r:?}"
    );

    // 415
    let r = post(
        Auth::ApiKey,
        vec![
            ("content-type", "text/plain".into()),
            ("idempotency-key", "k-415".into()),
        ],
        good.to_string(),
    )
    .await?;
    assert_eq!(r.status, 415, "{r:?}");

    // 422 with the field path and reason
    let field = |r: &dsync_tests::intake::HttpReply| {
        r.body["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let r = post(
        Auth::ApiKey,
        json_key("k-422a"),
        json!({"customer_id": "C-OK", "lines": []}).to_string(),
    )
    .await?;
    assert_eq!((r.status, field(&r)), (422, "currency".to_owned()), "{r:?}");
    let r = post(
        Auth::ApiKey,
        json_key("k-422b"),
        order(
            "C-OK",
            json!([{"sku": "SKU-A", "quantity": "two", "unit": "EA"}]),
        )
        .to_string(),
    )
    .await?;
    assert_eq!(
        (r.status, field(&r)),
        (422, "lines[0].quantity".to_owned()),
        "{r:?}"
    );
    assert!(r.body["errors"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("invalid type"));
    let r = post(
        Auth::ApiKey,
        json_key("k-422c"),
        order(
            "C-OK",
            json!([{"sku": "SKU-A", "quantity": 1, "unit": "EA", "colour": "red"}]),
        )
        .to_string(),
    )
    .await?;
    assert_eq!(r.status, 422, "{r:?}");
    assert!(field(&r).starts_with("lines[0]"), "{r:?}");
    let r = post(Auth::ApiKey, json_key("k-422d"), json!({"customer_id": "C-OK", "currency": "usd", "lines": [{"sku": "SKU-A", "quantity": -1, "unit": "EA"}]}).to_string()).await?;
    assert_eq!(r.status, 422, "{r:?}");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["currency", "lines[0].quantity"]);

    // 413
    let mut big = good.clone();
    big["customer_po_number"] = json!("x".repeat(10_000));
    let r = post(Auth::ApiKey, json_key("k-413"), big.to_string()).await?;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (413, Some("body_too_large")),
        "{r:?}"
    );

    // idempotency: same key and body -> the original answer; another body -> 409
    let first = post_order(&app.url, "k-idem", &good).await?;
    assert_eq!(first.status, 201, "{first:?}");
    let again = post_order(&app.url, "k-idem", &good).await?;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    let other = order("C-OK", json!([line("SKU-A", 2.0, "EA")]));
    let conflict = post_order(&app.url, "k-idem", &other).await?;
    assert_eq!(conflict.status, 409, "{conflict:?}");
    assert_eq!(conflict.body["error"], "idempotency_key_conflict");
    assert_eq!(conflict.body["order_id"], first.body["order_id"]);
    let st = get(&app.url, &format!("/v1/orders/{}", first.order_id())).await?;
    assert_eq!((st.status, st.order_status()), (200, "ACCEPTED"));
    assert_eq!(st.body, first.body);

    // the OpenAPI document served is the one in the repository
    let served = request(
        reqwest::Method::GET,
        &format!("{}/v1/openapi.json", app.url),
        Auth::None,
        &[],
        None,
    )
    .await?;
    assert_eq!(served.status, 200);
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../services/order-intake/openapi.json"
    ))?;
    assert_eq!(served.body, serde_json::from_str::<Value>(&file)?);

    // 202: an instance that waits 1 ms answers with the status URL, which resolves later
    let mut impatient = ie.settings()?;
    impatient.result_wait = Duration::from_millis(1);
    let quick = ie.run(impatient).await?;
    let r = post_order(&quick.url, "k-202", &good).await?;
    assert_eq!((r.status, r.order_status()), (202, "PENDING"), "{r:?}");
    let location = r.header("location").context("location")?.to_owned();
    assert_eq!(location, format!("/v1/orders/{}", r.order_id()));
    assert_eq!(r.body["status_url"], location.as_str());
    let done = ie.wait_status(&quick.url, r.order_id(), WAIT).await?;
    assert_eq!(done.order_status(), "ACCEPTED");
    // and the other instance knows it too (it follows orders.events)
    let elsewhere = ie.wait_status(&app.url, r.order_id(), WAIT).await?;
    assert_eq!(elsewhere.body, done.body);

    // exactly one outcome per order on the topic
    let outcomes = ie
        .wait_outcomes(&[first.order_id(), r.order_id()], WAIT)
        .await?;
    assert_eq!(
        outcomes.len(),
        2,
        "the retry and the conflict published nothing"
    );
    quick.stop().await?;
    app.stop().await
}

fn edi_submission(
    customer: &str,
    partner: &str,
    po: &str,
    key: &str,
    icn: &str,
    lines: Vec<SubmittedOrderLine>,
) -> OrderSubmitted {
    OrderSubmitted {
        metadata: meta::<OrderSubmitted>(&format!("edi:{partner}")),
        order_id: order_id_for(customer, key).into(),
        idempotency_key: key.into(),
        channel: OrderChannel::Edi,
        customer_id: customer.into(),
        customer_po_number: Some(po.into()),
        partner_po: Some(PartnerPoReference {
            partner_id: partner.into(),
            po_number: po.into(),
            po_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 5),
            release_number: None,
            interchange_control_number: Some(icn.into()),
            group_control_number: Some("1".into()),
            transaction_set_control_number: Some("0001".into()),
            edi_document_id: Some(format!("doc-{icn}").into()),
        }),
        ship_to: OrderShipTo {
            partner_location_id: Some("STORE-1".into()),
            ..OrderShipTo::default()
        },
        requested_ship_date: None,
        cancel_after_date: None,
        currency: "USD".into(),
        lines,
        submitted_by: None,
    }
}

fn edi_line(n: i32, gtin: &str, quantity: f64, unit: &str) -> SubmittedOrderLine {
    SubmittedOrderLine {
        line_number: n,
        partner_line_id: Some(format!("{n}").into()),
        gtin: Some(gtin.into()),
        quantity,
        unit: unit.into(),
        ..SubmittedOrderLine::default()
    }
}

fn accepted_of<'a>(published: &'a [Published], order_id: &str) -> Vec<&'a Published> {
    published
        .iter()
        .filter(|p| order_id_of(&p.event) == Some(order_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_never_accepted_twice_across_restarts_and_replays() -> anyhow::Result<()> {
    let ie = IntakeEnv::start().await?;
    catalog(&ie, &[customer("C-DUP", None)]).await?;
    let submissions = ie.topics.submissions.clone();
    let http_order = order("C-DUP", json!([line("SKU-A", 2.0, "CS")]));
    let po_lines = || vec![edi_line(1, "SKU-B-CS", 2.0, "CS")];

    // first life: one HTTP order, one EDI order
    let app = ie.run_default().await?;
    let first = post_order(&app.url, "K-1", &http_order).await?;
    ensure!(first.status == 201, "{first:?}");
    let edi = edi_submission(
        "C-DUP",
        "ACME",
        "PO-1",
        "edi:ACME:PO-1",
        "000000001",
        po_lines(),
    );
    ie.publish(&submissions, "C-DUP", &edi).await?;
    let edi_id = edi.order_id.to_string();
    ie.wait_outcomes(&[first.order_id(), &edi_id], WAIT).await?;
    app.stop().await?;

    // second life: nothing in memory, everything from the log
    let app = ie.run_default().await?;
    let retry = post_order(&app.url, "K-1", &http_order).await?;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotency-replayed"), Some("true"));
    assert_eq!(retry.body, first.body, "the original result");
    let changed = order("C-DUP", json!([line("SKU-A", 3.0, "CS")]));
    assert_eq!(post_order(&app.url, "K-1", &changed).await?.status, 409);
    // the same PO resent (new interchange): reported, not processed again
    let resent = edi_submission(
        "C-DUP",
        "ACME",
        "PO-1",
        "edi:ACME:PO-1",
        "000000002",
        po_lines(),
    );
    ie.publish(&submissions, "C-DUP", &resent).await?;
    // the same PO resent with different content: a conflict, reported
    let altered = edi_submission(
        "C-DUP",
        "ACME",
        "PO-1",
        "edi:ACME:PO-1",
        "000000003",
        vec![edi_line(1, "SKU-B-CS", 5.0, "CS")],
    );
    ie.publish(&submissions, "C-DUP", &altered).await?;
    // the same partner + PO under another idempotency key: rejected as a duplicate
    let rekeyed = edi_submission(
        "C-DUP",
        "ACME",
        "PO-1",
        "edi:ACME:PO-1:again",
        "000000004",
        po_lines(),
    );
    ie.publish(&submissions, "C-DUP", &rekeyed).await?;
    // a marker behind them in the customer's partition
    let marker = post_order(&app.url, "K-marker", &http_order).await?;
    ensure!(marker.status == 201, "{marker:?}");

    let ids = [
        first.order_id(),
        edi_id.as_str(),
        rekeyed.order_id.as_str(),
        marker.order_id(),
    ];
    let published = ie.wait_outcomes(&ids, WAIT).await?;
    assert_eq!(accepted_of(&published, first.order_id()).len(), 1);
    assert_eq!(
        accepted_of(&published, &edi_id).len(),
        1,
        "the resent PO is not re-emitted"
    );
    let dup = accepted_of(&published, &rekeyed.order_id);
    assert_eq!(dup.len(), 1);
    let AnyEvent::OrderRejected(r) = &dup[0].event else {
        anyhow::bail!("expected a rejection, got {:?}", dup[0].event);
    };
    assert_eq!(r.reasons.len(), 1);
    assert_eq!(r.reasons[0].code.as_str(), "DUPLICATE_ORDER");
    assert!(r.reasons[0].message.contains(&edi_id));

    // the EDI duplicates are visible on exceptions.business
    let exceptions = ie.published(&ie.topics.exceptions).await?;
    let reports: Vec<_> = exceptions
        .iter()
        .filter_map(|p| match &p.event {
            AnyEvent::BusinessException(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports
        .iter()
        .all(|e| e.kind == ExceptionKind::EdiDuplicate
            && e.order_id.as_deref() == Some(edi_id.as_str())));
    let by_doc: HashMap<&str, bool> = reports
        .iter()
        .map(|e| (e.aggregate_id.as_str(), e.resolved))
        .collect();
    assert_eq!(
        by_doc.get("doc-000000002"),
        Some(&true),
        "resent: informational, resolved"
    );
    assert_eq!(
        by_doc.get("doc-000000003"),
        Some(&false),
        "different content: open for a person"
    );
    app.stop().await?;

    // a replay: a new group reads every submission again; nothing is decided twice
    let before = ie.outcomes().await?.len();
    let mut replay = ie.settings()?;
    replay.group_id = format!("{}-replay", ie.group);
    let app = ie.run(replay).await?;
    let marker2 = post_order(&app.url, "K-marker-2", &http_order).await?;
    ensure!(marker2.status == 201, "{marker2:?}");
    let after = ie.wait_outcomes(&[marker2.order_id()], WAIT).await?;
    drop(after);
    let all = ie.outcomes().await?;
    assert_eq!(all.len(), before + 1, "only the new marker was published");
    let unique: BTreeSet<&str> = all.iter().filter_map(|p| order_id_of(&p.event)).collect();
    assert_eq!(unique.len(), all.len(), "one outcome per order");
    app.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_never_exceed_the_credit_limit() -> anyhow::Result<()> {
    let ie = IntakeEnv::start().await?;
    // limit 10,000.00, open balance 1,000.00: room for nine orders of 1,000.00
    let mut c = customer("C-RACE", Some(1_000_000));
    c.open_balance = usd(100_000);
    catalog(&ie, &[c]).await?;
    let body = order("C-RACE", json!([line("SKU-A", 1000.0, "EA")])); // 1,000.00
                                                                      // Like a client: a 503 (the instance is not deciding, e.g. while the group rebalances) is
                                                                      // retried with the same key and body.
    let fire = |url: String, key: String| {
        let body = body.clone();
        // B joining and A leaving rebalance the group: meanwhile the instances answer 503
        tokio::spawn(async move { post_order_retrying(&url, &key, &body, WAIT).await })
    };
    let mut ids = Vec::new();
    let collect = |calls: Vec<
        tokio::task::JoinHandle<anyhow::Result<dsync_tests::intake::HttpReply>>,
    >| async {
        let mut out = Vec::new();
        for c in calls {
            let r = c.await??;
            ensure!([200, 201, 202].contains(&r.status), "{r:?}");
            out.push(r.order_id().to_owned());
        }
        Ok::<_, anyhow::Error>(out)
    };
    // 1. A alone owns every partition
    let a = ie.run_default().await?;
    let first: Vec<_> = (0..12)
        .map(|i| fire(a.url.clone(), format!("race-a-{i}")))
        .collect();
    // 2. B joins while A is busy; both take orders for the customer at the same time
    let b = ie.run_default().await?;
    let mut second = Vec::new();
    for i in 0..12 {
        second.push(fire(a.url.clone(), format!("race-a2-{i}")));
        second.push(fire(b.url.clone(), format!("race-b2-{i}")));
    }
    ids.extend(collect(first).await?);
    ids.extend(collect(second).await?);
    // 3. A leaves: B owns the customer's partition now, whoever had it before (once the group
    //    has rebalanced; until then B answers 503 not_deciding)
    a.stop().await?;
    b.wait_ready().await?;
    let third: Vec<_> = (0..12)
        .map(|i| fire(b.url.clone(), format!("race-b3-{i}")))
        .collect();
    ids.extend(collect(third).await?);
    let idrefs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let published = ie.wait_outcomes(&idrefs, WAIT).await?;
    assert_eq!(published.len(), 48, "one outcome per order");
    let mut accepted_total = 0;
    let mut accepted = 0;
    for p in &published {
        match &p.event {
            AnyEvent::OrderAccepted(o) => {
                accepted += 1;
                accepted_total += o.order_total.amount_minor;
            }
            AnyEvent::OrderRejected(r) => {
                assert_eq!(r.reasons[0].code.as_str(), "CREDIT_LIMIT_EXCEEDED", "{r:?}");
            }
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, 9, "exactly as many as fit");
    assert!(100_000 + accepted_total <= 1_000_000);
    // every answer the callers got agrees with the topic
    for id in &ids {
        let st = ie.wait_status(&b.url, id, WAIT).await?;
        let on_topic = published
            .iter()
            .find(|p| order_id_of(&p.event) == Some(id.as_str()));
        let accepted_on_topic =
            matches!(on_topic.map(|p| &p.event), Some(AnyEvent::OrderAccepted(_)));
        assert_eq!(st.order_status() == "ACCEPTED", accepted_on_topic);
    }
    let metrics = b.metrics_text().await?;
    assert!(
        metrics.contains(r#"dsync_order_intake_partition_catch_ups_total{result="ok"}"#),
        "B caught up with A's outcomes when it took partitions over"
    );
    b.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edi_and_http_submissions_produce_the_same_accepted_shape() -> anyhow::Result<()> {
    let ie = IntakeEnv::start().await?;
    catalog(&ie, &[customer("C-SAME", None)]).await?;
    let app = ie.run_default().await?;
    // the HTTP order names SKUs; the EDI order the GTINs and the partner's store code
    let mut body = order(
        "C-SAME",
        json!([line("SKU-A", 2.0, "CS"), line("SKU-B", 3.0, "EA")]),
    );
    body["customer_po_number"] = json!("PO-77");
    let http = post_order(&app.url, "shape-http", &body).await?;
    ensure!(http.status == 201, "{http:?}");
    let edi = edi_submission(
        "C-SAME",
        "ACME",
        "PO-77",
        "edi:ACME:PO-77",
        "000000077",
        vec![
            edi_line(1, "SKU-A-CS", 2.0, "CS"),
            edi_line(2, "SKU-B-EA", 3.0, "EA"),
        ],
    );
    ie.publish(&ie.topics.submissions, "C-SAME", &edi).await?;
    let published = ie
        .wait_outcomes(&[http.order_id(), &edi.order_id], WAIT)
        .await?;
    let get_json = |id: &str| -> anyhow::Result<Value> {
        let p = published
            .iter()
            .find(|p| order_id_of(&p.event) == Some(id))
            .context("outcome")?;
        let AnyEvent::OrderAccepted(a) = &p.event else {
            anyhow::bail!("not accepted: {:?}", p.event);
        };
        Ok(serde_json::to_value(a)?)
    };
    let mut from_http = get_json(http.order_id())?;
    let mut from_edi = get_json(&edi.order_id)?;
    assert_eq!(from_edi["channel"], "EDI");
    assert_eq!(from_edi["partner_po"]["po_number"], "PO-77");
    assert_eq!(from_http["partner_po"], Value::Null);
    assert_eq!(
        from_edi["ship_to"]["ship_to_id"], "S1",
        "resolved from the partner's store code"
    );
    // apart from ids, channel, EDI references and the submitter's own line ids: the same event
    for v in [&mut from_http, &mut from_edi] {
        let o = v.as_object_mut().context("object")?;
        for k in [
            "metadata",
            "order_id",
            "idempotency_key",
            "channel",
            "partner_po",
        ] {
            o.remove(k);
        }
        o["ship_to"]["partner_location_id"] = Value::Null;
        for l in o["lines"].as_array_mut().context("lines")? {
            l["partner_line_id"] = Value::Null;
        }
    }
    assert_eq!(from_http, from_edi);
    app.stop().await
}

/// The edges of the HTTP API: a path segment that is not UTF-8 and an over-long
/// `X-Correlation-Id` answer 400 in the JSON error shape, an announced `Content-Length` above
/// the limit gets 413 at once (no `100 Continue`), an absurd quantity is rejected as too large.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_edges_answer_in_json_and_at_once() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let ie = IntakeEnv::start().await?;
    catalog(&ie, &[customer("C-OK", None)]).await?;
    let mut settings = ie.settings()?;
    settings.max_body_bytes = 4096;
    let app = ie.run(settings).await?;

    let r = get(&app.url, "/v1/orders/%ff%fe").await?;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_path")),
        "{r:?}"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = request(
        reqwest::Method::DELETE,
        &format!("{}/v1/orders/x", app.url),
        Auth::ApiKey,
        &[],
        None,
    )
    .await?;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (405, Some("method_not_allowed")),
        "{r:?}"
    );
    assert!(
        r.header("allow").is_some_and(|a| a.contains("GET")),
        "{r:?}"
    );

    let good = order("C-OK", json!([line("SKU-A", 1.0, "EA")]));
    let post_with = |key: &'static str, correlation: String, body: Value| {
        let url = format!("{}/v1/orders", app.url);
        async move {
            request(
                reqwest::Method::POST,
                &url,
                Auth::ApiKey,
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                    ("x-correlation-id", correlation.as_str()),
                ],
                Some(body.to_string()),
            )
            .await
        }
    };
    let long = "c".repeat(129);
    let r = post_with("k-corr-long", long, good.clone()).await?;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.body["errors"][0]["field"], "X-Correlation-Id", "{r:?}");
    let max = "c".repeat(128);
    let r = post_with("k-corr-max", max.clone(), good.clone()).await?;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["correlation_id"].as_str(), Some(max.as_str()));

    let huge = order("C-OK", json!([line("SKU-A", 1e18, "EA")]));
    let r = post_with("k-huge", "c-huge".into(), huge).await?;
    assert_eq!((r.status, r.order_status()), (200, "REJECTED"), "{r:?}");
    assert_eq!(r.reason_codes(), ["INVALID_QUANTITY"]);
    let message = r.body["reasons"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("too large") && message.contains("1000000000000000 EA"),
        "{message}"
    );

    // 10 GB announced, nothing sent: the answer comes without reading (or inviting) the body.
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await?;
    let head = format!(
        "POST /v1/orders HTTP/1.1\r\nhost: {addr}\r\nx-api-key: {}\r\nidempotency-key: k-10g\r\n\
         content-type: application/json\r\ncontent-length: 10737418240\r\nexpect: 100-continue\r\n\r\n",
        dsync_tests::intake::API_KEY
    );
    conn.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // The bound only keeps a regression from hanging the suite; the answer is immediate.
    while !String::from_utf8_lossy(&answer).contains("body_too_large") {
        let n = tokio::time::timeout(Duration::from_secs(30), conn.read(&mut buf))
            .await
            .context("no answer to the 10 GB announcement")??;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(answer.contains("\"error\":\"body_too_large\""), "{answer}");
    app.stop().await
}
