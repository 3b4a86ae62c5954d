//! `dsync produce` / `dsync consume` in-process against the real broker and a real registry:
//! JSON lines and CSV round trips, bad lines (fail-fast and --skip-bad), reads from an offset
//! and following, undecodable records, and the sample data loading completely.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context as _};
use dsync_cli::{ConsumeArgs, InputFormat, PartitionOffset, ProduceArgs, ProduceSummary};
use dsync_events::RegistrySettings;
use dsync_tests::{TestEnv, TestRegistry};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

struct Ctx {
    env: TestEnv,
    registry: RegistrySettings,
    _registry: TestRegistry,
}

async fn ctx() -> anyhow::Result<Ctx> {
    let env = TestEnv::new();
    let registry = TestRegistry::start(&env).await?;
    Ok(Ctx {
        registry: RegistrySettings {
            url: registry.client.url.clone(),
            ..RegistrySettings::default()
        },
        env,
        _registry: registry,
    })
}

impl Ctx {
    async fn produce(&self, args: &ProduceArgs, input: &str) -> anyhow::Result<ProduceSummary> {
        Ok(dsync_cli::produce_from(
            &self.env.settings,
            &self.registry,
            args,
            std::io::Cursor::new(input.as_bytes().to_vec()),
            "input",
        )
        .await?)
    }

    /// The JSON lines and the stderr text of a bounded consume.
    async fn consume(&self, args: &ConsumeArgs) -> anyhow::Result<(Vec<Value>, String)> {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let summary = tokio::time::timeout(
            Duration::from_secs(60),
            dsync_cli::consume(
                &self.env.settings,
                &self.registry,
                args,
                &mut out,
                &mut err,
                CancellationToken::new(),
            ),
        )
        .await??;
        let lines: Vec<Value> = String::from_utf8(out)?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        ensure!(
            lines.len() as u64 == summary.printed,
            "summary counts the lines"
        );
        Ok((lines, String::from_utf8(err)?))
    }
}

fn args(topic: &str, event_type: &str, format: InputFormat) -> ProduceArgs {
    let mut a = ProduceArgs::new(topic);
    a.event_type = Some(event_type.into());
    a.format = Some(format);
    a
}

const CUSTOMERS_CSV: &str = "\
customer_id,name,currency,credit_limit,open_balance,balance_as_of,price_list_id,atp_policy,bill_to.line1,bill_to.city,bill_to.region,bill_to.postal_code,bill_to.country_code,ship_tos
C1,Alpha Grill,USD,25000,1250.50,2026-11-16T06:00:00Z,LIST-STD,backorder,1 Elm St,Dallas,TX,75201,US,C1-ST01:Alpha Grill:1 Elm St::Dallas:TX:75201:US::DAL:Y
C2,\"Beta Clinic, LLC\",USD,,0,2026-11-16,LIST-VOL,REJECT,,,,,,C2-ST01:Beta:2 Oak St::Austin:TX:78701:US:::Y;C2-ST02:Beta East:3 Pine::Austin:TX::US:::N:N
# a comment line
C3,Gamma Hotel,USD,100000.00 USD,99000,2026-11-16,LIST-STD,PARTIAL,,,,,,
";

fn order(n: usize, quantity: Value) -> Value {
    json!({
        "order_id": format!("o-{n}"),
        "idempotency_key": format!("K{n}"),
        "channel": "crm",
        "customer_id": format!("C{}", n % 3),
        "ship_to": {"ship_to_id": "C1-ST01"},
        "requested_ship_date": "2026-12-01",
        "currency": "USD",
        "lines": [{"line_number": 1, "sku": "CHM-1001", "quantity": quantity, "unit": "CS"}]
    })
}

fn jsonl(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_json_lines_round_trip_through_consume() -> anyhow::Result<()> {
    let c = ctx().await?;

    // CSV master data.
    let customers = c.env.topic("cli-customers", 3).await?;
    let mut a = args(&customers, "CustomerUpserted", InputFormat::Csv);
    a.source_system = "erp".into();
    let s = c.produce(&a, CUSTOMERS_CSV).await?;
    assert!(s.is_clean(), "{s}: {:?}", s.bad);
    assert_eq!((s.read, s.published), (3, 3));
    assert_eq!(s.by_event_type.get("CustomerUpserted"), Some(&3));

    let (lines, err) = c.consume(&ConsumeArgs::new(&customers)).await?;
    assert!(err.is_empty(), "{err}");
    assert_eq!(lines.len(), 3);
    let by_key = |k: &str| lines.iter().find(|l| l["key"] == k).cloned();
    let c1 = by_key("C1").context("C1")?;
    assert_eq!(c1["event_type"], "CustomerUpserted");
    assert_eq!(c1["topic"], customers.as_str());
    let e = &c1["event"];
    assert_eq!(
        e["credit_limit"],
        json!({"amount_minor": 2_500_000, "currency": "USD"})
    );
    assert_eq!(e["open_balance"]["amount_minor"], 125_050);
    assert_eq!(e["atp_policy"], "BACKORDER");
    assert_eq!(e["active"], true);
    assert_eq!(e["on_hold"], false);
    assert_eq!(e["bill_to"]["city"], "Dallas");
    assert_eq!(e["ship_tos"][0]["default_warehouse_id"], "DAL");
    assert_eq!(e["metadata"]["source_system"], "erp");
    assert_eq!(e["metadata"]["event_type"], "CustomerUpserted");
    assert_eq!(c1["headers"]["event_id"], e["metadata"]["event_id"]);
    assert_eq!(c1["headers"]["correlation_id"], e["metadata"]["event_id"]);
    assert_eq!(c1["headers"]["event_type"], "CustomerUpserted");
    let c2 = by_key("C2").context("C2")?;
    assert_eq!(c2["event"]["name"], "Beta Clinic, LLC");
    assert_eq!(c2["event"]["credit_limit"], Value::Null);
    assert_eq!(c2["event"]["bill_to"], Value::Null);
    assert_eq!(c2["event"]["ship_tos"][1]["active"], false);
    let c3 = by_key("C3").context("C3")?;
    assert_eq!(c3["event"]["ship_tos"], json!([]));

    // JSON lines, with and without a metadata block.
    let orders = c.env.topic("cli-orders", 3).await?;
    let mut second = order(2, json!(1.5));
    second["metadata"] = json!({
        "source_system": "edi-gateway",
        "occurred_at": "2026-11-20T10:00:00Z",
        "event_id": "11111111-1111-4111-8111-111111111111"
    });
    let input = jsonl(&[order(1, json!(2)), second, order(3, json!(4))]);
    let s = c
        .produce(&args(&orders, "OrderSubmitted", InputFormat::Jsonl), &input)
        .await?;
    assert!(s.is_clean(), "{s}: {:?}", s.bad);
    assert_eq!(s.published, 3);
    let (lines, _) = c.consume(&ConsumeArgs::new(&orders)).await?;
    assert_eq!(lines.len(), 3);
    let o2 = lines
        .iter()
        .find(|l| l["event"]["order_id"] == "o-2")
        .context("o-2")?;
    assert_eq!(
        o2["key"], "C2",
        "keyed like orders.submissions: {{customer_id}}"
    );
    let m = &o2["event"]["metadata"];
    assert_eq!(m["event_id"], "11111111-1111-4111-8111-111111111111");
    assert_eq!(m["source_system"], "edi-gateway");
    assert_eq!(m["occurred_at"], 1_795_168_800_000_i64);
    assert_eq!(
        o2["event"]["requested_ship_date"], 20_788,
        "2026-12-01 in days"
    );
    assert_eq!(o2["event"]["channel"], "CRM");
    let o1 = lines
        .iter()
        .find(|l| l["event"]["order_id"] == "o-1")
        .context("o-1")?;
    assert_eq!(o1["event"]["metadata"]["source_system"], "dsync");

    // Event ids are derived from topic and line: the same input gets the same ids.
    let again = c.env.topic("cli-orders-again", 3).await?;
    let mut a2 = args(&again, "OrderSubmitted", InputFormat::Jsonl);
    a2.key_field = Some("order_id".into());
    c.produce(&a2, &input).await?;
    let (again_lines, _) = c.consume(&ConsumeArgs::new(&again)).await?;
    let id_of = |ls: &[Value], order: &str| {
        ls.iter()
            .find(|l| l["event"]["order_id"] == order)
            .map(|l| l["event"]["metadata"]["event_id"].clone())
    };
    assert_eq!(
        again_lines
            .iter()
            .find(|l| l["event"]["order_id"] == "o-1")
            .map(|l| l["key"].clone()),
        Some(json!("o-1")),
        "--key-field"
    );
    assert_ne!(
        id_of(&lines, "o-1"),
        id_of(&again_lines, "o-1"),
        "another topic, another id"
    );
    // Loading the same input twice into one topic repeats the ids, so consumers drop the copies.
    let same = c.env.topic("cli-orders-same", 3).await?;
    for _ in 0..2 {
        let s = c
            .produce(&args(&same, "OrderSubmitted", InputFormat::Jsonl), &input)
            .await?;
        assert_eq!(s.published, 3);
    }
    let (twice, _) = c.consume(&ConsumeArgs::new(&same)).await?;
    assert_eq!(twice.len(), 6);
    let mut ids: Vec<String> = twice
        .iter()
        .map(|l| {
            l["headers"]["event_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);

    // What consume prints is what produce reads: feed the events back.
    let copy = c.env.topic("cli-orders-copy", 3).await?;
    let events: Vec<Value> = lines.iter().map(|l| l["event"].clone()).collect();
    let s = c
        .produce(&ProduceArgs::new(&copy), &jsonl(&events))
        .await
        .map(|s| s.published);
    // Not a catalog topic and no --event-type: every line names its type in its metadata.
    assert_eq!(s?, 3);
    let (copied, _) = c.consume(&ConsumeArgs::new(&copy)).await?;
    let mut a: Vec<Value> = copied.iter().map(|l| l["event"].clone()).collect();
    let mut b = events;
    let by_order = |v: &Value| v["order_id"].as_str().unwrap_or_default().to_owned();
    a.sort_by_key(by_order);
    b.sort_by_key(by_order);
    assert_eq!(a, b, "identical events, metadata included");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_stops_the_run_with_its_line_and_field_and_nothing_after_it_is_lost_silently(
) -> anyhow::Result<()> {
    let c = ctx().await?;
    let topic = c.env.topic("cli-bad", 2).await?;
    let input = jsonl(&[
        order(1, json!(1)),
        order(2, json!(2)),
        order(3, json!("two")),
        order(4, json!(4)),
    ]);
    let s = c
        .produce(&args(&topic, "OrderSubmitted", InputFormat::Jsonl), &input)
        .await?;
    assert!(!s.is_clean());
    assert_eq!(
        s.published, 2,
        "the records before the bad one are published"
    );
    assert_eq!(s.stopped_at, Some(3));
    assert_eq!(s.bad.len(), 1);
    assert_eq!(s.bad[0].line, 3);
    assert_eq!(s.bad[0].field.as_deref(), Some("lines[0].quantity"));
    let report = s.to_string();
    assert!(report.contains("published 2 records"), "{report}");
    assert!(
        report.contains("stopped at the bad record on line 3"),
        "{report}"
    );
    assert_eq!(s.bad[0].to_string().split(':').next(), Some("line 3"));
    let (lines, _) = c.consume(&ConsumeArgs::new(&topic)).await?;
    let mut ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["event"]["order_id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["o-1", "o-2"], "nothing after the bad line");

    // CSV: the line of the row and the field inside a list cell.
    let items = c.env.topic("cli-bad-items", 1).await?;
    let csv = "sku,description,base_unit,units\n\
               A-1,First,EA,EA:1;CS:12\n\
               A-2,\"Second, with a comma\",EA,EA:1;CS:twelve\n\
               A-3,Third,EA,EA:1\n";
    let s = c
        .produce(&args(&items, "ItemUpserted", InputFormat::Csv), csv)
        .await?;
    assert_eq!(s.published, 1);
    assert_eq!(s.bad.len(), 1);
    assert_eq!(s.bad[0].line, 3);
    assert_eq!(s.bad[0].field.as_deref(), Some("units[1].factor_to_base"));
    assert!(s.bad[0].message.contains("twelve"), "{}", s.bad[0].message);

    // An unknown column fails the whole file before anything is published.
    let err = c
        .produce(
            &args(&items, "ItemUpserted", InputFormat::Csv),
            "sku,colour\nA-9,red\n",
        )
        .await
        .err()
        .context("unknown column must fail")?;
    assert!(err.to_string().contains("colour"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_bad_publishes_every_good_record_and_reports_every_bad_one() -> anyhow::Result<()> {
    let c = ctx().await?;
    let topic = c.env.topic("cli-skip", 2).await?;
    let mut unknown_field = order(4, json!(1));
    unknown_field["lines"][0]["colour"] = json!("red");
    let mut missing = order(6, json!(1));
    if let Some(o) = missing.as_object_mut() {
        o.remove("customer_id");
    }
    let input = format!(
        "{}{{not json\n{}{}\n{}{}{}",
        jsonl(&[order(1, json!(1))]),
        jsonl(&[order(3, json!(3))]),
        unknown_field,
        jsonl(&[order(5, json!(5))]),
        jsonl(&[missing]),
        jsonl(&[order(7, json!(7))]),
    );
    let mut a = args(&topic, "OrderSubmitted", InputFormat::Jsonl);
    a.skip_bad = true;
    let s = c.produce(&a, &input).await?;
    assert_eq!(s.published, 4);
    assert_eq!(s.stopped_at, None);
    let bad: Vec<(usize, Option<&str>)> =
        s.bad.iter().map(|b| (b.line, b.field.as_deref())).collect();
    assert_eq!(
        bad,
        [
            (2, None),
            (4, Some("lines[0].colour")),
            (6, Some("customer_id"))
        ]
    );
    assert!(s.bad[0].message.contains("invalid JSON"));
    assert!(
        s.to_string()
            .contains("3 bad records skipped (lines 2, 4, 6)"),
        "{s}"
    );
    let (lines, _) = c.consume(&ConsumeArgs::new(&topic)).await?;
    assert_eq!(lines.len(), 4);

    // A type the topic does not carry is a bad line too (catalog topics).
    let mut wrong = order(8, json!(1));
    wrong["metadata"] = json!({"event_type": "CustomerDeleted"});
    let mut a = ProduceArgs::new("orders.submissions");
    a.dry_run = true;
    a.skip_bad = true;
    let s = c.produce(&a, &jsonl(&[order(9, json!(1)), wrong])).await?;
    assert_eq!((s.valid, s.published), (1, 0), "dry run publishes nothing");
    assert_eq!(s.bad.len(), 1);
    assert_eq!(s.bad[0].field.as_deref(), Some("metadata.event_type"));
    Ok(())
}

/// A writer the test can read while a consume is running.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_reads_from_an_offset_reports_undecodable_records_and_follows() -> anyhow::Result<()>
{
    let c = ctx().await?;
    let topic = c.env.topic("cli-offsets", 1).await?;
    let deletions: Vec<Value> = (0..20)
        .map(|i| json!({"customer_id": format!("C{i}"), "reason": "merged"}))
        .collect();
    let s = c
        .produce(
            &args(&topic, "CustomerDeleted", InputFormat::Jsonl),
            &jsonl(&deletions),
        )
        .await?;
    assert_eq!(s.published, 20);

    let mut from7 = ConsumeArgs::new(&topic);
    from7.offset = vec![PartitionOffset {
        partition: 0,
        offset: 7,
    }];
    let (lines, _) = c.consume(&from7).await?;
    let offsets: Vec<i64> = lines.iter().filter_map(|l| l["offset"].as_i64()).collect();
    assert_eq!(offsets, (7..20).collect::<Vec<_>>());
    assert_eq!(lines[0]["event"]["customer_id"], "C7");
    from7.max = Some(5);
    let (lines, _) = c.consume(&from7).await?;
    assert_eq!(lines.len(), 5);

    // A record that is not Avro: reported with its coordinates, the read goes on.
    c.env
        .produce(&topic, &[("junk", "not avro".into())])
        .await?;
    let more: Vec<Value> = (20..22)
        .map(|i| json!({"customer_id": format!("C{i}")}))
        .collect();
    c.produce(
        &args(&topic, "CustomerDeleted", InputFormat::Jsonl),
        &jsonl(&more),
    )
    .await?;
    let mut tail = ConsumeArgs::new(&topic);
    tail.offset = vec![PartitionOffset {
        partition: 0,
        offset: 19,
    }];
    let (lines, err) = c.consume(&tail).await?;
    assert_eq!(
        lines
            .iter()
            .filter_map(|l| l["offset"].as_i64())
            .collect::<Vec<_>>(),
        [19, 21, 22]
    );
    assert!(
        err.contains(&format!("{topic}/0@20 (key junk): cannot decode")),
        "{err}"
    );

    // Following: from the beginning, then records written while it runs.
    let mut follow = ConsumeArgs::new(&topic);
    follow.from_beginning = true;
    follow.follow = true;
    follow.max = Some(24);
    let out = Shared::default();
    let task = {
        let (kafka, registry, out) = (c.env.settings.clone(), c.registry.clone(), out.clone());
        tokio::spawn(async move {
            let mut out = out;
            let mut err = Vec::new();
            dsync_cli::consume(
                &kafka,
                &registry,
                &follow,
                &mut out,
                &mut err,
                CancellationToken::new(),
            )
            .await
        })
    };
    let later: Vec<Value> = (22..24)
        .map(|i| json!({"customer_id": format!("C{i}")}))
        .collect();
    c.produce(
        &args(&topic, "CustomerDeleted", InputFormat::Jsonl),
        &jsonl(&later),
    )
    .await?;
    let summary = tokio::time::timeout(Duration::from_secs(60), task).await???;
    assert_eq!(summary.printed, 24);
    assert_eq!(summary.undecodable, 1);
    let text = String::from_utf8(out.0.lock().map(|b| b.clone()).unwrap_or_default())?;
    let last: Value = serde_json::from_str(text.lines().last().context("output")?)?;
    assert_eq!(last["event"]["customer_id"], "C23");
    Ok(())
}

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/sample")
}

#[test]
fn the_committed_sample_data_is_what_the_generator_writes() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("dsync-sample-{}", uuid::Uuid::new_v4()));
    let summary = dsync_cli::sample::generate(&dir, dsync_cli::sample::DEFAULT_SEED)?;
    assert_eq!(summary.items, 500);
    assert!(summary.customers >= 50);
    for f in [
        "locations.csv",
        "items.csv",
        "prices.csv",
        "customers.csv",
        "orders.jsonl",
    ] {
        let fresh = std::fs::read_to_string(dir.join(f))?;
        let committed = std::fs::read_to_string(sample_dir().join(f))
            .with_context(|| format!("data/sample/{f}"))?;
        assert!(
            fresh == committed,
            "data/sample/{f} differs from the generator's output: run `dsync sample-data`"
        );
    }
    std::fs::remove_dir_all(&dir)?;
    // The sample orders carry the order ids order-intake derives from customer and key.
    let orders = std::fs::read_to_string(sample_dir().join("orders.jsonl"))?;
    for line in orders.lines() {
        let o: Value = serde_json::from_str(line)?;
        let (customer, key) = (
            o["customer_id"].as_str().unwrap_or_default(),
            o["idempotency_key"].as_str().unwrap_or_default(),
        );
        assert_eq!(
            o["order_id"].as_str(),
            Some(dsync_order_intake::order_id_for(customer, key).as_str()),
            "{key}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_data_loads_completely() -> anyhow::Result<()> {
    let c = ctx().await?;
    for (file, event_type, source, partitions) in [
        ("locations.csv", "WarehouseLocationUpserted", "erp", 3),
        ("items.csv", "ItemUpserted", "erp", 3),
        ("prices.csv", "PriceListEntryUpserted", "erp", 3),
        ("customers.csv", "CustomerUpserted", "erp", 3),
        ("orders.jsonl", "OrderSubmitted", "order-intake", 6),
    ] {
        let path = sample_dir().join(file);
        let text = std::fs::read_to_string(&path)?;
        let expected = if file.ends_with(".csv") {
            text.lines().count() - 1
        } else {
            text.lines().filter(|l| !l.trim().is_empty()).count()
        } as u64;
        let topic = c
            .env
            .topic(&format!("cli-sample-{}", &file[..4]), partitions)
            .await?;
        let mut a = ProduceArgs::new(&topic);
        a.event_type = Some(event_type.into());
        a.source_system = source.into();
        a.file = Some(path);
        let s = dsync_cli::produce(&c.env.settings, &c.registry, &a).await?;
        assert!(s.is_clean(), "{file}: {:?}", s.bad);
        assert_eq!(s.published, expected, "{file}: {s}");
        let ends = dsync_bus::reader::end_offsets(&c.env.settings, &topic).await?;
        assert_eq!(
            ends.values().sum::<i64>() as u64,
            expected,
            "{file} on the topic"
        );
        let mut ca = ConsumeArgs::new(&topic);
        ca.no_progress = true;
        let (lines, err) = c.consume(&ca).await?;
        assert!(err.is_empty(), "{file}: {err}");
        assert_eq!(lines.len() as u64, expected, "{file} decoded");
        assert!(lines.iter().all(|l| l["event_type"] == event_type));
    }
    Ok(())
}
