//! The schema registry against the real broker: every endpoint and error code, every
//! compatibility level with real Avro evolutions, references, restart, two instances racing on
//! one topic, hard deletes, readiness and metrics, and a third-party client
//! (`schema_registry_converter`). Each test has its own schemas topic and its own instances.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use dsync_schema_registry::Settings;
use dsync_tests::{RegistryClient, Reply, TestEnv, TestRegistry};
use reqwest::Method;
use serde_json::{json, Value};

fn record(name: &str, fields: &str) -> String {
    format!(r#"{{"type":"record","name":"{name}","namespace":"dsync.test","fields":[{fields}]}}"#)
}

fn status_code(r: &Reply) -> (u16, Option<i64>) {
    (r.status, r.error_code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_schema_types_content_types_and_unknown_routes() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    let r = sr.get("/").await?;
    assert_eq!((r.status, &r.body), (200, &json!({})));
    assert_eq!(r.content_type, "application/vnd.schemaregistry.v1+json");
    assert_eq!(sr.get("/schemas/types").await?.ok()?, json!(["AVRO"]));

    let body = json!({ "schema": "\"string\"" }).to_string();
    for ct in [
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/json",
        "application/json; charset=utf-8",
    ] {
        let r = sr
            .request(
                Method::POST,
                "/subjects/ct/versions",
                Some(body.clone()),
                ct,
            )
            .await?;
        assert_eq!(r.status, 200, "{ct}: {r:?}");
        assert_eq!(r.body, json!({ "id": 1 }), "{ct}");
        assert_eq!(r.content_type, "application/vnd.schemaregistry.v1+json");
    }
    let r = sr
        .request(
            Method::POST,
            "/subjects/ct/versions",
            Some(body),
            "text/plain",
        )
        .await?;
    assert_eq!(status_code(&r), (415, Some(415)), "{r:?}");
    let r = sr.get("/no/such/endpoint").await?;
    assert_eq!(status_code(&r), (404, Some(404)), "{r:?}");
    let r = sr
        .request(Method::PATCH, "/subjects", None, "application/json")
        .await?;
    assert_eq!(status_code(&r), (405, Some(405)), "{r:?}");
    sr.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_lookup_and_fetch_through_every_read_endpoint() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    let v1 = record("Order", r#"{"name":"id","type":"string"}"#);
    let id1 = sr.register("orders-value", &v1).await?;
    assert_eq!(id1, 1);
    assert_eq!(
        sr.register("orders-value", &v1).await?,
        id1,
        "same schema, same id"
    );
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&v1)?)?;
    assert_eq!(
        sr.register("orders-value", &pretty).await?,
        id1,
        "layout does not matter"
    );
    assert_eq!(
        sr.get("/subjects/orders-value/versions").await?.ok()?,
        json!([1]),
        "re-registering adds no version"
    );
    assert_eq!(
        sr.register("orders-copy", &v1).await?,
        id1,
        "identical schema under another subject: same id"
    );
    let v2 = record(
        "Order",
        r#"{"name":"id","type":"string"},{"name":"qty","type":"int","default":1}"#,
    );
    let id2 = sr.register("orders-value", &v2).await?;
    assert_eq!(id2, 2);
    // Only a default differs: another schema (Parsing Canonical Form would have merged them).
    let v2_default = v2.replace(r#""default":1"#, r#""default":5"#);
    assert_eq!(sr.register("orders-defaults", &v2_default).await?, 3);
    sr.delete("/subjects/orders-defaults").await?.ok()?;

    assert_eq!(
        sr.get("/subjects").await?.ok()?,
        json!(["orders-copy", "orders-value"])
    );
    assert_eq!(
        sr.get("/subjects?subjectPrefix=orders-v").await?.ok()?,
        json!(["orders-value"])
    );
    assert_eq!(
        sr.get("/subjects/orders-value/versions").await?.ok()?,
        json!([1, 2])
    );
    assert_eq!(
        sr.get("/subjects/orders-value/versions?offset=1&limit=5")
            .await?
            .ok()?,
        json!([2])
    );
    assert_eq!(
        sr.get("/subjects/orders-value/versions/1").await?.ok()?,
        json!({ "subject": "orders-value", "version": 1, "id": id1, "schema": v1 })
    );
    for latest in ["latest", "-1"] {
        assert_eq!(
            sr.get(&format!("/subjects/orders-value/versions/{latest}"))
                .await?
                .ok()?,
            json!({ "subject": "orders-value", "version": 2, "id": id2, "schema": v2 })
        );
    }
    let raw = sr.get("/subjects/orders-value/versions/2/schema").await?;
    assert_eq!(raw.content_type, "application/vnd.schemaregistry.v1+json");
    assert_eq!(
        raw.ok()?,
        serde_json::from_str::<Value>(&v2)?,
        "the schema itself"
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{id1}")).await?.ok()?,
        json!({ "schema": v1 })
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{id1}?subject=orders-value"))
            .await?
            .ok()?,
        json!({ "schema": v1 })
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{id1}/schema")).await?.ok()?,
        serde_json::from_str::<Value>(&v1)?
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{id1}/versions"))
            .await?
            .ok()?,
        json!([{ "subject": "orders-copy", "version": 1 }, { "subject": "orders-value", "version": 1 }])
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{id1}/versions?subject=orders-value"))
            .await?
            .ok()?,
        json!([{ "subject": "orders-value", "version": 1 }])
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{id1}/subjects"))
            .await?
            .ok()?,
        json!(["orders-copy", "orders-value"])
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{id1}/subjects?subject=orders-copy"))
            .await?
            .ok()?,
        json!(["orders-copy"])
    );

    // Lookup by content.
    assert_eq!(
        sr.post("/subjects/orders-value", &json!({ "schema": pretty }))
            .await?
            .ok()?,
        json!({ "subject": "orders-value", "version": 1, "id": id1, "schema": v1 })
    );
    assert_eq!(
        sr.post(
            "/subjects/orders-value?normalize=False&deleted=False",
            &json!({ "schema": v2, "schemaType": "AVRO", "references": [] })
        )
        .await?
        .ok()?["version"],
        json!(2)
    );
    let r = sr
        .post("/subjects/orders-copy", &json!({ "schema": v2 }))
        .await?;
    assert_eq!(status_code(&r), (404, Some(40403)), "{r:?}");
    assert_eq!(r.message(), "Schema not found");
    let r = sr
        .post("/subjects/nobody", &json!({ "schema": v2 }))
        .await?;
    assert_eq!(status_code(&r), (404, Some(40401)), "{r:?}");
    assert_eq!(r.message(), "Subject 'nobody' not found.");

    // Not found and invalid versions.
    let r = sr.get("/subjects/orders-value/versions/3").await?;
    assert_eq!(status_code(&r), (404, Some(40402)), "{r:?}");
    assert_eq!(r.message(), "Version 3 not found.");
    for bad in ["0", "-2", "abc", "2147483648"] {
        let r = sr
            .get(&format!("/subjects/orders-value/versions/{bad}"))
            .await?;
        assert_eq!(status_code(&r), (422, Some(42202)), "{bad}: {r:?}");
        assert!(r.message().contains(bad), "{r:?}");
    }
    for path in [
        "/subjects/nobody/versions",
        "/subjects/nobody/versions/1",
        "/subjects/nobody/versions/latest/schema",
    ] {
        let r = sr.get(path).await?;
        assert_eq!(status_code(&r), (404, Some(40401)), "{path}: {r:?}");
    }
    for path in [
        "/schemas/ids/999",
        "/schemas/ids/999/versions",
        "/schemas/ids/999/subjects",
        "/schemas/ids/x",
    ] {
        let r = sr.get(path).await?;
        assert_eq!(status_code(&r), (404, Some(40403)), "{path}: {r:?}");
    }
    sr.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_are_confluent_shaped() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    // 42201 with the parser's message.
    let r = sr
        .try_register(
            "bad",
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"nosuchtype"}]}"#,
        )
        .await?;
    assert_eq!(status_code(&r), (422, Some(42201)), "{r:?}");
    assert!(r.message().starts_with("Invalid schema"), "{r:?}");
    assert!(
        r.message().contains("nosuchtype"),
        "the parser's message: {r:?}"
    );
    let r = sr.try_register("bad", "{not json").await?;
    assert_eq!(status_code(&r), (422, Some(42201)), "{r:?}");
    let r = sr
        .try_register(
            "bad",
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#,
        )
        .await?;
    assert_eq!(
        status_code(&r),
        (422, Some(42201)),
        "a default of the wrong type: {r:?}"
    );
    let r = sr.post("/subjects/bad/versions", &json!({})).await?;
    assert_eq!(status_code(&r), (422, Some(42201)), "{r:?}");
    // Avro only, said clearly.
    for ty in ["PROTOBUF", "JSON"] {
        let r = sr
            .post(
                "/subjects/bad/versions",
                &json!({ "schema": "syntax = \"proto3\";", "schemaType": ty }),
            )
            .await?;
        assert_eq!(status_code(&r), (422, Some(42201)), "{r:?}");
        assert!(
            r.message().contains(ty) && r.message().contains("AVRO"),
            "{r:?}"
        );
    }
    // Not JSON at all, or JSON of the wrong shape.
    let r = sr
        .request(
            Method::POST,
            "/subjects/bad/versions",
            Some("{".into()),
            "application/json",
        )
        .await?;
    assert_eq!(status_code(&r), (400, Some(400)), "{r:?}");
    let r = sr
        .post("/subjects/bad/versions", &json!({ "schema": 5 }))
        .await?;
    assert_eq!(status_code(&r), (422, Some(422)), "{r:?}");
    // 42203.
    for body in [
        json!({ "compatibility": "SIDEWAYS" }),
        json!({}),
        json!({ "compatibility": 3 }),
    ] {
        let r = sr.put("/config", &body).await?;
        assert_eq!(status_code(&r), (422, Some(42203)), "{body}: {r:?}");
        let r = sr.put("/config/some-subject", &body).await?;
        assert_eq!(status_code(&r), (422, Some(42203)), "{body}: {r:?}");
    }
    // 40408, 40409.
    let r = sr.get("/config/some-subject").await?;
    assert_eq!(status_code(&r), (404, Some(40408)), "{r:?}");
    let r = sr.get("/mode/some-subject").await?;
    assert_eq!(status_code(&r), (404, Some(40409)), "{r:?}");
    // 409 with the reason.
    sr.register("evolving", &record("E", r#"{"name":"a","type":"int"}"#))
        .await?;
    let r = sr
        .try_register(
            "evolving",
            &record(
                "E",
                r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#,
            ),
        )
        .await?;
    assert_eq!(status_code(&r), (409, Some(409)), "{r:?}");
    assert!(
        r.message().contains("incompatible with an earlier schema"),
        "{r:?}"
    );
    assert!(
        r.message().contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{r:?}"
    );
    assert!(r.message().contains("'b'"), "{r:?}");
    sr.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failures_answer_50001_and_change_nothing() -> anyhow::Result<()> {
    let env = TestEnv::new();
    // The producer refuses records over 1000 bytes: a write the store cannot take.
    let mut kafka = env.settings.clone();
    kafka
        .overrides
        .push(("message.max.bytes".into(), "1000".into()));
    let settings = Settings {
        http_addr: "127.0.0.1:0".parse()?,
        schemas_topic: env.unique("schemas"),
        kafka,
        admin: dsync_telemetry::admin::AdminSettings {
            admin_addr: "127.0.0.1:0".parse()?,
        },
        ..Settings::default()
    };
    let sr = TestRegistry::start_with(settings).await?;
    let fields: Vec<String> = (0..60)
        .map(|i| format!(r#"{{"name":"field_number_{i}","type":"string","default":""}}"#))
        .collect();
    let big = record("Big", &fields.join(","));
    let r = sr.try_register("big", &big).await?;
    assert_eq!(status_code(&r), (500, Some(50001)), "{r:?}");
    let r = sr.get("/subjects").await?;
    assert_eq!(r.body, json!([]), "nothing registered");
    assert_eq!(
        sr.register("small", "\"string\"").await?,
        1,
        "small writes still work"
    );
    sr.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_not_applied_in_time_answer_50002() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let settings = Settings {
        http_addr: "127.0.0.1:0".parse()?,
        schemas_topic: env.unique("schemas"),
        kafka: env.settings.clone(),
        admin: dsync_telemetry::admin::AdminSettings {
            admin_addr: "127.0.0.1:0".parse()?,
        },
        // Far below the time a record takes to come back from the broker.
        write_timeout: Duration::from_millis(1),
        ..Settings::default()
    };
    let sr = TestRegistry::start_with(settings).await?;
    let r = sr.try_register("slow", "\"string\"").await?;
    assert_eq!(status_code(&r), (500, Some(50002)), "{r:?}");
    // The write itself was accepted by the log and is applied a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if sr.get("/subjects").await?.body == json!(["slow"]) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the timed-out write was never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sr.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_and_hard_deletes_follow_confluents_rules() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    let s1 = record("D", r#"{"name":"a","type":"int"}"#);
    let s2 = record(
        "D",
        r#"{"name":"a","type":"int"},{"name":"b","type":"int","default":0}"#,
    );
    let a = sr.register("del", &s1).await?;
    let b = sr.register("del", &s2).await?;

    let r = sr.delete("/subjects/del/versions/2?permanent=true").await?;
    assert_eq!(status_code(&r), (404, Some(40407)), "{r:?}");
    assert_eq!(sr.delete("/subjects/del/versions/2").await?.ok()?, json!(2));
    let r = sr.delete("/subjects/del/versions/2").await?;
    assert_eq!(status_code(&r), (404, Some(40406)), "{r:?}");
    assert_eq!(sr.get("/subjects/del/versions").await?.ok()?, json!([1]));
    assert_eq!(
        sr.get("/subjects/del/versions?deleted=true").await?.ok()?,
        json!([1, 2])
    );
    assert_eq!(
        sr.get("/subjects/del/versions?deleted_only=true")
            .await?
            .ok()?,
        json!([2])
    );
    let r = sr.get("/subjects/del/versions/2").await?;
    assert_eq!(status_code(&r), (404, Some(40402)), "{r:?}");
    assert_eq!(
        sr.get("/subjects/del/versions/2?deleted=true")
            .await?
            .ok()?["id"],
        json!(b)
    );
    assert_eq!(
        sr.get("/subjects/del/versions/latest").await?.ok()?["version"],
        json!(1)
    );
    // A soft-deleted schema is still served by id, for the data written with it.
    assert_eq!(
        sr.get(&format!("/schemas/ids/{b}")).await?.ok()?,
        json!({ "schema": s2 })
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{b}/versions")).await?.ok()?,
        json!([])
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{b}/versions?deleted=true"))
            .await?
            .ok()?,
        json!([{ "subject": "del", "version": 2 }])
    );
    let r = sr.post("/subjects/del", &json!({ "schema": s2 })).await?;
    assert_eq!(status_code(&r), (404, Some(40403)), "{r:?}");
    assert_eq!(
        sr.post("/subjects/del?deleted=true", &json!({ "schema": s2 }))
            .await?
            .ok()?["version"],
        json!(2)
    );
    // Registering it again makes a new version with the same id.
    assert_eq!(sr.register("del", &s2).await?, b);
    assert_eq!(sr.get("/subjects/del/versions").await?.ok()?, json!([1, 3]));

    let r = sr.delete("/subjects/del?permanent=true").await?;
    assert_eq!(status_code(&r), (404, Some(40405)), "{r:?}");
    assert_eq!(sr.delete("/subjects/del").await?.ok()?, json!([1, 3]));
    let r = sr.delete("/subjects/del").await?;
    assert_eq!(status_code(&r), (404, Some(40404)), "{r:?}");
    assert_eq!(sr.get("/subjects").await?.ok()?, json!([]));
    assert_eq!(
        sr.get("/subjects?deleted=true").await?.ok()?,
        json!(["del"])
    );
    assert_eq!(
        sr.get("/subjects?deleted_only=true").await?.ok()?,
        json!(["del"])
    );
    let r = sr.get("/subjects/del/versions").await?;
    assert_eq!(status_code(&r), (404, Some(40401)), "{r:?}");
    assert_eq!(
        sr.get("/subjects/del/versions?deleted=true").await?.ok()?,
        json!([1, 2, 3])
    );

    assert_eq!(
        sr.delete("/subjects/del?permanent=true").await?.ok()?,
        json!([1, 2, 3])
    );
    let r = sr.get("/subjects/del/versions?deleted=true").await?;
    assert_eq!(status_code(&r), (404, Some(40401)), "{r:?}");
    for id in [a, b] {
        let r = sr.get(&format!("/schemas/ids/{id}")).await?;
        assert_eq!(status_code(&r), (404, Some(40403)), "{r:?}");
        assert_eq!(r.message(), format!("Schema {id} not found"));
    }
    for path in ["/subjects/del", "/subjects/del/versions/1"] {
        let r = sr.delete(path).await?;
        assert_eq!(status_code(&r), (404, Some(40401)), "{path}: {r:?}");
    }
    let r = sr.delete("/subjects/del/versions/zero").await?;
    assert_eq!(status_code(&r), (422, Some(42202)), "{r:?}");
    // A new schema gets a new id, and the subject starts again at version 1.
    let c = sr
        .register("del", &record("D", r#"{"name":"c","type":"long"}"#))
        .await?;
    assert!(c > b, "ids are never reused: {c} after {b}");
    assert_eq!(sr.get("/subjects/del/versions").await?.ok()?, json!([1]));
    sr.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compatibility_config_global_and_per_subject() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    assert_eq!(
        sr.get("/config").await?.ok()?,
        json!({ "compatibilityLevel": "BACKWARD" })
    );
    let r = sr.get("/config/s").await?;
    assert_eq!(status_code(&r), (404, Some(40408)), "{r:?}");
    assert_eq!(
        r.message(),
        "Subject 's' does not have subject-level compatibility configured"
    );
    assert_eq!(
        sr.get("/config/s?defaultToGlobal=true").await?.ok()?,
        json!({ "compatibilityLevel": "BACKWARD" })
    );
    assert_eq!(
        sr.put("/config/s", &json!({ "compatibility": "none" }))
            .await?
            .ok()?,
        json!({ "compatibility": "NONE" })
    );
    assert_eq!(
        sr.get("/config/s").await?.ok()?,
        json!({ "compatibilityLevel": "NONE" })
    );
    assert_eq!(
        sr.put("/config", &json!({ "compatibility": "FULL_TRANSITIVE" }))
            .await?
            .ok()?,
        json!({ "compatibility": "FULL_TRANSITIVE" })
    );
    assert_eq!(
        sr.get("/config").await?.ok()?,
        json!({ "compatibilityLevel": "FULL_TRANSITIVE" })
    );
    assert_eq!(
        sr.get("/config/other?defaultToGlobal=true").await?.ok()?,
        json!({ "compatibilityLevel": "FULL_TRANSITIVE" })
    );
    assert_eq!(
        sr.get("/config/s?defaultToGlobal=true").await?.ok()?,
        json!({ "compatibilityLevel": "NONE" })
    );

    // The levels govern: NONE on s lets anything in; the global FULL_TRANSITIVE guards t.
    sr.register("s", "\"string\"").await?;
    sr.register("s", "\"int\"").await?;
    sr.register("t", "\"string\"").await?;
    let r = sr.try_register("t", "\"int\"").await?;
    assert_eq!(status_code(&r), (409, Some(409)), "{r:?}");

    assert_eq!(
        sr.delete("/config/s").await?.ok()?,
        json!({ "compatibilityLevel": "NONE" })
    );
    let r = sr.get("/config/s").await?;
    assert_eq!(status_code(&r), (404, Some(40408)), "{r:?}");
    let r = sr.delete("/config/s").await?;
    assert_eq!(
        status_code(&r),
        (404, Some(40408)),
        "a subject without its own level: {r:?}"
    );
    let r = sr.delete("/config/nobody").await?;
    assert_eq!(status_code(&r), (404, Some(40401)), "{r:?}");
    assert_eq!(
        sr.delete("/config").await?.ok()?,
        json!({ "compatibilityLevel": "FULL_TRANSITIVE" })
    );
    assert_eq!(
        sr.get("/config").await?.ok()?,
        json!({ "compatibilityLevel": "BACKWARD" })
    );

    assert_eq!(sr.get("/mode").await?.ok()?, json!({ "mode": "READWRITE" }));
    assert_eq!(
        sr.get("/mode/s?defaultToGlobal=true").await?.ok()?,
        json!({ "mode": "READWRITE" })
    );
    sr.stop().await
}

/// One evolution step: the old schema's field list, the new one's, and whether each of
/// BACKWARD, FORWARD and FULL accepts it (NONE always does), with the error type expected when
/// BACKWARD or FORWARD refuses.
struct Evolution {
    name: &'static str,
    old: &'static str,
    new: &'static str,
    backward: bool,
    forward: bool,
    expect: &'static str,
}

const EVOLUTIONS: &[Evolution] = &[
    Evolution {
        name: "field-added-with-default",
        old: r#"{"name":"a","type":"int"}"#,
        new: r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}"#,
        backward: true,
        forward: true,
        expect: "",
    },
    Evolution {
        name: "field-added-without-default",
        old: r#"{"name":"a","type":"int"}"#,
        new: r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#,
        backward: false,
        forward: true,
        expect: "READER_FIELD_MISSING_DEFAULT_VALUE",
    },
    Evolution {
        name: "field-removed-without-default",
        old: r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#,
        new: r#"{"name":"a","type":"int"}"#,
        backward: true,
        forward: false,
        expect: "READER_FIELD_MISSING_DEFAULT_VALUE",
    },
    Evolution {
        name: "field-removed-with-default",
        old: r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}"#,
        new: r#"{"name":"a","type":"int"}"#,
        backward: true,
        forward: true,
        expect: "",
    },
    Evolution {
        name: "int-promoted-to-long",
        old: r#"{"name":"n","type":"int"}"#,
        new: r#"{"name":"n","type":"long"}"#,
        backward: true,
        forward: false,
        expect: "TYPE_MISMATCH",
    },
    Evolution {
        name: "long-narrowed-to-int",
        old: r#"{"name":"n","type":"long"}"#,
        new: r#"{"name":"n","type":"int"}"#,
        backward: false,
        forward: true,
        expect: "TYPE_MISMATCH",
    },
    Evolution {
        name: "float-promoted-to-double",
        old: r#"{"name":"n","type":"float"}"#,
        new: r#"{"name":"n","type":"double"}"#,
        backward: true,
        forward: false,
        expect: "TYPE_MISMATCH",
    },
    Evolution {
        name: "string-to-bytes",
        old: r#"{"name":"n","type":"string"}"#,
        new: r#"{"name":"n","type":"bytes"}"#,
        backward: true,
        forward: true,
        expect: "",
    },
    Evolution {
        name: "string-to-int",
        old: r#"{"name":"n","type":"string"}"#,
        new: r#"{"name":"n","type":"int"}"#,
        backward: false,
        forward: false,
        expect: "TYPE_MISMATCH",
    },
    Evolution {
        name: "enum-symbol-added",
        old: r#"{"name":"e","type":{"type":"enum","name":"Status","symbols":["OPEN","SHIPPED"]}}"#,
        new: r#"{"name":"e","type":{"type":"enum","name":"Status","symbols":["OPEN","SHIPPED","CANCELLED"]}}"#,
        backward: true,
        forward: false,
        expect: "MISSING_ENUM_SYMBOLS",
    },
    Evolution {
        name: "enum-symbol-removed",
        old: r#"{"name":"e","type":{"type":"enum","name":"Status","symbols":["OPEN","SHIPPED","CANCELLED"]}}"#,
        new: r#"{"name":"e","type":{"type":"enum","name":"Status","symbols":["OPEN","SHIPPED"]}}"#,
        backward: false,
        forward: true,
        expect: "MISSING_ENUM_SYMBOLS",
    },
    Evolution {
        name: "enum-symbol-removed-reader-default",
        old: r#"{"name":"e","type":{"type":"enum","name":"Status","symbols":["OPEN","SHIPPED","CANCELLED"]}}"#,
        new: r#"{"name":"e","type":{"type":"enum","name":"Status","symbols":["OPEN","SHIPPED"],"default":"OPEN"}}"#,
        backward: true,
        forward: true,
        expect: "",
    },
    Evolution {
        name: "type-widened-to-union",
        old: r#"{"name":"n","type":"int"}"#,
        new: r#"{"name":"n","type":["null","int"],"default":null}"#,
        backward: true,
        forward: false,
        expect: "TYPE_MISMATCH",
    },
    Evolution {
        name: "union-branch-added",
        old: r#"{"name":"n","type":["null","int"]}"#,
        new: r#"{"name":"n","type":["null","int","string"]}"#,
        backward: true,
        forward: false,
        expect: "MISSING_UNION_BRANCH",
    },
    Evolution {
        name: "union-branch-removed",
        old: r#"{"name":"n","type":["null","int","string"]}"#,
        new: r#"{"name":"n","type":["null","int"]}"#,
        backward: false,
        forward: true,
        expect: "MISSING_UNION_BRANCH",
    },
    Evolution {
        name: "union-branch-promoted",
        old: r#"{"name":"n","type":["null","int"]}"#,
        new: r#"{"name":"n","type":["null","long"]}"#,
        backward: true,
        forward: false,
        expect: "MISSING_UNION_BRANCH",
    },
    Evolution {
        name: "record-renamed",
        old: r#"{"name":"n","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"int"}]}}"#,
        new: r#"{"name":"n","type":{"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]}}"#,
        backward: false,
        forward: false,
        expect: "NAME_MISMATCH",
    },
];

async fn evolve(sr: &RegistryClient, level: &str, e: &Evolution) -> anyhow::Result<()> {
    let subject = format!("{}-{}", e.name, level.to_ascii_lowercase());
    let expected = match level {
        "NONE" => true,
        "BACKWARD" => e.backward,
        "FORWARD" => e.forward,
        _ => e.backward && e.forward,
    };
    sr.put(
        &format!("/config/{subject}"),
        &json!({ "compatibility": level }),
    )
    .await?
    .ok()?;
    sr.register(&subject, &record("Ev", e.old)).await?;
    let new = json!({ "schema": record("Ev", e.new) });
    let check = sr
        .post(
            &format!("/compatibility/subjects/{subject}/versions/latest?verbose=true"),
            &new,
        )
        .await?
        .ok()?;
    ensure!(
        check["is_compatible"] == json!(expected),
        "{subject}: compatibility check says {check}, expected {expected}"
    );
    let r = sr
        .post(&format!("/subjects/{subject}/versions"), &new)
        .await?;
    if expected {
        ensure!(r.status == 200, "{subject}: registration refused: {r:?}");
        ensure!(check["messages"] == json!([]), "{subject}: {check}");
    } else {
        ensure!(
            status_code(&r) == (409, Some(409)),
            "{subject}: registration accepted or failed otherwise: {r:?}"
        );
        ensure!(
            r.message().contains(e.expect),
            "{subject}: {} lacks {}",
            r.message(),
            e.expect
        );
        let messages = check["messages"].to_string();
        ensure!(
            messages.contains(e.expect),
            "{subject}: verbose messages {messages} lack {}",
            e.expect
        );
        ensure!(
            messages.contains(&format!("compatibility: '{level}'")),
            "{subject}: {messages}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_level_judges_real_avro_evolutions() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    for level in ["NONE", "BACKWARD", "FORWARD", "FULL"] {
        futures::future::try_join_all(EVOLUTIONS.iter().map(|e| evolve(&sr.client, level, e)))
            .await?;
    }
    // Without verbose, no messages.
    let r = sr
        .post(
            "/compatibility/subjects/string-to-int-backward/versions/1",
            &json!({ "schema": record("Ev", r#"{"name":"n","type":"int"}"#) }),
        )
        .await?
        .ok()?;
    assert_eq!(r, json!({ "is_compatible": false }));
    sr.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitive_levels_check_every_earlier_version() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    // (level pair, v1, v2, v3): v2 passes both; v3 passes against v2 only.
    let cases = [
        (
            "BACKWARD",
            r#"{"name":"a","type":"int"}"#,
            r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":""}"#,
            r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#,
        ),
        (
            "FORWARD",
            r#"{"name":"a","type":"int"}"#,
            r#"{"name":"a","type":"int","default":0}"#,
            r#"{"name":"c","type":"int","default":0}"#,
        ),
        (
            "FULL",
            r#"{"name":"a","type":"int"}"#,
            r#"{"name":"a","type":"int","default":0}"#,
            r#"{"name":"c","type":"int","default":0}"#,
        ),
    ];
    for (level, v1, v2, v3) in cases {
        for transitive in [false, true] {
            let level = if transitive {
                format!("{level}_TRANSITIVE")
            } else {
                level.to_owned()
            };
            let subject = format!("tr-{}", level.to_ascii_lowercase());
            sr.put(
                &format!("/config/{subject}"),
                &json!({ "compatibility": level }),
            )
            .await?
            .ok()?;
            sr.register(&subject, &record("T", v1)).await?;
            sr.register(&subject, &record("T", v2)).await?;
            let v3 = json!({ "schema": record("T", v3) });
            let latest = sr
                .post(
                    &format!("/compatibility/subjects/{subject}/versions/latest"),
                    &v3,
                )
                .await?
                .ok()?;
            assert_eq!(
                latest,
                json!({ "is_compatible": true }),
                "{level} against v2"
            );
            let first = sr
                .post(
                    &format!("/compatibility/subjects/{subject}/versions/1?verbose=true"),
                    &v3,
                )
                .await?
                .ok()?;
            assert_eq!(
                first["is_compatible"],
                json!(false),
                "{level} against v1: {first}"
            );
            assert!(
                first["messages"]
                    .to_string()
                    .contains("oldSchemaVersion: 1"),
                "{first}"
            );
            let all = sr
                .post(
                    &format!("/compatibility/subjects/{subject}/versions?verbose=true"),
                    &v3,
                )
                .await?
                .ok()?;
            assert_eq!(
                all["is_compatible"],
                json!(!transitive),
                "{level} against all: {all}"
            );
            let r = sr
                .post(&format!("/subjects/{subject}/versions"), &v3)
                .await?;
            if transitive {
                assert_eq!(status_code(&r), (409, Some(409)), "{level}: {r:?}");
                assert!(
                    r.message().contains("oldSchemaVersion: 1"),
                    "{level}: {r:?}"
                );
            } else {
                assert_eq!(r.status, 200, "{level}: {r:?}");
            }
        }
    }
    // The compatibility endpoints' own errors.
    let body = json!({ "schema": "\"int\"" });
    let r = sr
        .post("/compatibility/subjects/nobody/versions/latest", &body)
        .await?;
    assert_eq!(status_code(&r), (404, Some(40401)), "{r:?}");
    let r = sr
        .post("/compatibility/subjects/tr-full/versions/9", &body)
        .await?;
    assert_eq!(status_code(&r), (404, Some(40402)), "{r:?}");
    let r = sr
        .post("/compatibility/subjects/tr-full/versions/0", &body)
        .await?;
    assert_eq!(status_code(&r), (422, Some(42202)), "{r:?}");
    let r = sr
        .post(
            "/compatibility/subjects/tr-full/versions/latest",
            &json!({ "schema": "{" }),
        )
        .await?;
    assert_eq!(status_code(&r), (422, Some(42201)), "{r:?}");
    assert_eq!(
        sr.post("/compatibility/subjects/nobody/versions", &body)
            .await?
            .ok()?,
        json!({ "is_compatible": true }),
        "nothing to be incompatible with"
    );
    sr.stop().await
}

const MONEY: &str = r#"{"type":"record","name":"Money","namespace":"dsync.common","fields":[{"name":"cents","type":"long"},{"name":"currency","type":"string"}]}"#;
const MONEY_V2: &str = r#"{"type":"record","name":"Money","namespace":"dsync.common","fields":[{"name":"cents","type":"long"},{"name":"currency","type":"string"},{"name":"scale","type":"int","default":2}]}"#;
const PRICED: &str = r#"{"type":"record","name":"Priced","namespace":"dsync.test","fields":[{"name":"sku","type":"string"},{"name":"price","type":"dsync.common.Money"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_are_registered_fetched_and_resolved() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    let money = sr.register("money", MONEY).await?;
    let refs = json!([{ "name": "dsync.common.Money", "subject": "money", "version": 1 }]);
    let priced = sr
        .post(
            "/subjects/priced/versions",
            &json!({ "schema": PRICED, "schemaType": "AVRO", "references": refs }),
        )
        .await?
        .ok()?["id"]
        .as_i64()
        .context("id")?;
    assert_ne!(priced, money);
    assert_eq!(
        sr.get("/subjects/priced/versions/1").await?.ok()?,
        json!({ "subject": "priced", "version": 1, "id": priced, "schema": PRICED, "references": refs })
    );
    assert_eq!(
        sr.get(&format!("/schemas/ids/{priced}")).await?.ok()?,
        json!({ "schema": PRICED, "references": refs })
    );
    assert_eq!(
        sr.post(
            "/subjects/priced",
            &json!({ "schema": PRICED, "references": refs })
        )
        .await?
        .ok()?["id"],
        json!(priced)
    );
    assert_eq!(
        sr.get("/subjects/money/versions/1/referencedby")
            .await?
            .ok()?,
        json!([priced])
    );
    // Without its references the schema does not parse; a dangling reference is refused.
    let r = sr.try_register("priced", PRICED).await?;
    assert_eq!(status_code(&r), (422, Some(42201)), "{r:?}");
    let dangling = json!([{ "name": "dsync.common.Money", "subject": "money", "version": 9 }]);
    let r = sr
        .post(
            "/subjects/priced/versions",
            &json!({ "schema": PRICED, "references": dangling }),
        )
        .await?;
    assert_eq!(status_code(&r), (422, Some(42201)), "{r:?}");
    assert!(r.message().contains("does not exist"), "{r:?}");
    // A referenced schema cannot be deleted while used.
    let r = sr.delete("/subjects/money/versions/1").await?;
    assert_eq!(status_code(&r), (422, Some(42206)), "{r:?}");
    let r = sr.delete("/subjects/money").await?;
    assert_eq!(status_code(&r), (422, Some(42206)), "{r:?}");

    // Evolution through a reference: Money v2 adds a field with a default; Priced pointing at
    // it is a new schema (new id, new version) that is backward compatible.
    assert_eq!(sr.register("money", MONEY_V2).await?, money + 2);
    let refs2 = json!([{ "name": "dsync.common.Money", "subject": "money", "version": 2 }]);
    let priced2 = sr
        .post(
            "/subjects/priced/versions",
            &json!({ "schema": PRICED, "references": refs2 }),
        )
        .await?
        .ok()?["id"]
        .as_i64()
        .context("id")?;
    assert!(priced2 > priced);
    assert_eq!(
        sr.get("/subjects/priced/versions").await?.ok()?,
        json!([1, 2])
    );
    // An incompatible change to a referenced field type is caught through the reference.
    let bad = PRICED.replace(r#""type":"dsync.common.Money""#, r#""type":"string""#);
    let r = sr.try_register("priced", &bad).await?;
    assert_eq!(status_code(&r), (409, Some(409)), "{r:?}");

    // References nest: Line -> Priced -> Money.
    let line = r#"{"type":"record","name":"Line","namespace":"dsync.test","fields":[{"name":"item","type":"Priced"},{"name":"qty","type":"int"}]}"#;
    let line_refs = json!([{ "name": "dsync.test.Priced", "subject": "priced", "version": 2 }]);
    let line_id = sr
        .post(
            "/subjects/line/versions",
            &json!({ "schema": line, "references": line_refs }),
        )
        .await?
        .ok()?["id"]
        .as_i64()
        .context("id")?;
    assert_eq!(
        sr.get("/subjects/priced/versions/2/referencedby")
            .await?
            .ok()?,
        json!([line_id])
    );
    // Once the users are gone, the referenced schema can go.
    for s in ["line", "priced"] {
        sr.delete(&format!("/subjects/{s}")).await?.ok()?;
        sr.delete(&format!("/subjects/{s}?permanent=true"))
            .await?
            .ok()?;
    }
    assert_eq!(sr.delete("/subjects/money").await?.ok()?, json!([1, 2]));
    sr.stop().await
}

/// Everything an instance serves about `subjects` and `ids`.
async fn snapshot(
    c: &RegistryClient,
    subjects: &[&str],
    ids: &[i64],
) -> anyhow::Result<BTreeMap<String, (u16, Value)>> {
    let mut paths = vec![
        "/subjects".to_owned(),
        "/subjects?deleted=true".to_owned(),
        "/config".to_owned(),
    ];
    for s in subjects {
        paths.push(format!("/subjects/{s}/versions"));
        paths.push(format!("/subjects/{s}/versions?deleted=true"));
        paths.push(format!("/config/{s}"));
        for v in 1..=4 {
            paths.push(format!("/subjects/{s}/versions/{v}?deleted=true"));
        }
    }
    for id in ids {
        paths.push(format!("/schemas/ids/{id}"));
        paths.push(format!("/schemas/ids/{id}/versions?deleted=true"));
    }
    let mut out = BTreeMap::new();
    for p in paths {
        let r = c.get(&p).await?;
        out.insert(p, (r.status, r.body));
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_instance_rebuilds_everything_and_ids_continue() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let a = TestRegistry::start(&env).await?;
    let topic = a.topic.clone();
    let s = |f: &str| record("Restart", f);
    let id1 = a.register("r1", &s(r#"{"name":"a","type":"int"}"#)).await?;
    let id2 = a
        .register(
            "r1",
            &s(r#"{"name":"a","type":"int"},{"name":"b","type":"int","default":0}"#),
        )
        .await?;
    let id3 = a.register("r2", "\"string\"").await?;
    let id4 = a.register("r2", "\"bytes\"").await?;
    a.delete("/subjects/r1/versions/1").await?.ok()?;
    a.delete("/subjects/r2/versions/2").await?.ok()?;
    a.delete("/subjects/r2/versions/2?permanent=true")
        .await?
        .ok()?;
    a.put("/config/r2", &json!({ "compatibility": "NONE" }))
        .await?
        .ok()?;
    a.put("/config", &json!({ "compatibility": "FORWARD" }))
        .await?
        .ok()?;
    let rejected = a
        .try_register("r1", &s(r#"{"name":"z","type":"string"}"#))
        .await?;
    assert_eq!(rejected.status, 409);
    let ids = [id1, id2, id3, id4];
    let before = snapshot(&a.client, &["r1", "r2"], &ids).await?;
    a.stop().await?;

    let b = TestRegistry::start_on(&env, &topic).await?;
    let after = snapshot(&b.client, &["r1", "r2"], &ids).await?;
    assert_eq!(
        before, after,
        "the restarted instance serves exactly the same"
    );
    assert_eq!(after["/subjects/r1/versions"].1, json!([2]));
    assert_eq!(
        after[&format!("/schemas/ids/{id4}")].0,
        404,
        "hard delete survives restart"
    );
    let id5 = b.register("r2", "\"int\"").await?;
    assert_eq!(id5, id4 + 1, "ids continue after the highest ever assigned");
    assert_eq!(b.get("/subjects/r2/versions").await?.ok()?, json!([1, 2]));
    b.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_on_one_topic_never_duplicate_ids_or_versions() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let a = TestRegistry::start(&env).await?;
    let b = TestRegistry::start_on(&env, &a.topic).await?;
    let clients = [a.client.clone(), b.client.clone()];
    // Distinct schemas, each backward compatible with any other (one field with a default), so
    // every registration passes the check made when it is applied.
    let jobs = (0..20).map(|i| {
        let client = clients[(i / 2) % 2].clone();
        async move {
            let subject = if i % 2 == 0 { "race-a" } else { "race-b" };
            let schema = record(
                "Race",
                &format!(r#"{{"name":"f{i}","type":"int","default":0}}"#),
            );
            let id = client.register(subject, &schema).await?;
            anyhow::Ok((subject, schema, id))
        }
    });
    let results = futures::future::try_join_all(jobs).await?;
    let ids: BTreeSet<i64> = results.iter().map(|r| r.2).collect();
    assert_eq!(
        ids,
        (1..=20).collect(),
        "20 distinct ids, none skipped or duplicated"
    );

    // Both instances end up serving the same, with versions 1..=10 per subject.
    let snap_ids: Vec<i64> = ids.iter().copied().collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    let (sa, sb) = loop {
        let sa = snapshot(&a.client, &["race-a", "race-b"], &snap_ids).await?;
        let sb = snapshot(&b.client, &["race-a", "race-b"], &snap_ids).await?;
        if sa == sb || Instant::now() > deadline {
            break (sa, sb);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(sa, sb, "both instances answer the same");
    for subject in ["race-a", "race-b"] {
        let versions = a
            .get(&format!("/subjects/{subject}/versions"))
            .await?
            .ok()?;
        assert_eq!(versions, json!((1..=10).collect::<Vec<i32>>()), "{subject}");
        for (s, schema, id) in results.iter().filter(|r| r.0 == subject) {
            let found = b
                .post(&format!("/subjects/{s}"), &json!({ "schema": schema }))
                .await?
                .ok()?;
            assert_eq!(found["id"], json!(id), "{s}: {found}");
        }
    }

    // The same schema registered concurrently through both: one id, one version.
    let same = record("Race", r#"{"name":"same","type":"int","default":0}"#);
    let jobs = (0..6).map(|i| {
        let client = clients[i % 2].clone();
        let same = same.clone();
        async move { client.register("race-same", &same).await }
    });
    let same_ids: BTreeSet<i64> = futures::future::try_join_all(jobs)
        .await?
        .into_iter()
        .collect();
    assert_eq!(same_ids, BTreeSet::from([21]));
    assert_eq!(
        a.get("/subjects/race-same/versions").await?.ok()?,
        json!([1])
    );
    a.stop().await?;
    b.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_delete_never_reuses_ids_even_across_restarts() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    sr.put("/config/h", &json!({ "compatibility": "NONE" }))
        .await?
        .ok()?;
    let schemas = [
        "\"int\"",
        "\"long\"",
        "\"string\"",
        "\"bytes\"",
        "\"double\"",
    ];
    assert_eq!(sr.register("h", schemas[0]).await?, 1);
    assert_eq!(sr.register("h", schemas[1]).await?, 2);
    assert_eq!(sr.register("h", schemas[2]).await?, 3);
    sr.delete("/subjects/h/versions/3").await?.ok()?;
    assert_eq!(
        sr.delete("/subjects/h/versions/3?permanent=true")
            .await?
            .ok()?,
        json!(3)
    );
    let r = sr.get("/schemas/ids/3").await?;
    assert_eq!(status_code(&r), (404, Some(40403)), "{r:?}");
    assert_eq!(
        sr.register("h", schemas[3]).await?,
        4,
        "the highest id was hard-deleted, yet not reused"
    );
    assert_eq!(
        sr.get("/subjects/h/versions").await?.ok()?,
        json!([1, 2, 3])
    );
    sr.delete("/subjects/h").await?.ok()?;
    sr.delete("/subjects/h?permanent=true").await?.ok()?;
    let topic = sr.topic.clone();
    sr.stop().await?;

    let again = TestRegistry::start_on(&env, &topic).await?;
    for id in 1..=4 {
        let r = again.get(&format!("/schemas/ids/{id}")).await?;
        assert_eq!(status_code(&r), (404, Some(40403)), "id {id}: {r:?}");
    }
    again
        .put("/config/h2", &json!({ "compatibility": "NONE" }))
        .await?
        .ok()?;
    assert_eq!(again.register("h2", schemas[4]).await?, 5);
    // An id always denotes one schema: the same schema registered again gets its old id back,
    // a different one never does.
    assert_eq!(again.register("h2", schemas[2]).await?, 3);
    assert_eq!(
        again.get("/schemas/ids/3").await?.ok()?,
        json!({ "schema": schemas[2] })
    );
    again.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_wait_for_the_initial_load_and_readiness_follows_it() -> anyhow::Result<()> {
    use dsync_bus::{ensure_topics, EventHeaders, OutboundRecord, TopicSpec};
    use dsync_schema_registry::log::{encode, Op, OpValue, MAGIC};
    use dsync_schema_registry::{App, CompatibilityLevel};

    let env = TestEnv::new();
    let topic = env.unique("schemas");
    ensure_topics(&env.settings, &[TopicSpec::compacted(&topic, 1)]).await?;
    // A long log written by "another instance", with records this registry must skip: a
    // Confluent registry's record and a tombstone.
    let op = |i: usize, op: Op| {
        let (k, v) = encode(
            &format!("op-{i}"),
            &OpValue {
                magic: MAGIC,
                op,
                origin: "elsewhere".into(),
                ts: "t".into(),
            },
        );
        OutboundRecord::new(
            &topic,
            k,
            v,
            EventHeaders::new_root("SchemaRegistryOp", format!("op-{i}")),
        )
    };
    let mut records = vec![OutboundRecord::new(
        &topic,
        br#"{"keytype":"SCHEMA","subject":"c","version":1,"magic":1}"#.to_vec(),
        br#"{"subject":"c","version":1,"id":1,"schema":"\"int\"","deleted":false}"#.to_vec(),
        EventHeaders::new_root("Foreign", "foreign"),
    )];
    let mut tombstone = op(0, Op::DeleteConfig { subject: None });
    tombstone.payload = None;
    records.push(tombstone);
    let levels = [
        CompatibilityLevel::Forward,
        CompatibilityLevel::None,
        CompatibilityLevel::Full,
    ];
    for i in 1..=3000 {
        records.push(op(
            i,
            Op::SetConfig {
                subject: None,
                compatibility_level: levels[i % 3],
            },
        ));
    }
    records.push(op(
        3001,
        Op::SetConfig {
            subject: None,
            compatibility_level: CompatibilityLevel::FullTransitive,
        },
    ));
    records.push(op(
        3002,
        Op::Register {
            subject: "pre".into(),
            schema: "\"string\"".into(),
            schema_type: "AVRO".into(),
            references: vec![],
        },
    ));
    env.producer()?.send_all(&records).await?;

    let settings = Settings {
        http_addr: "127.0.0.1:0".parse()?,
        schemas_topic: topic.clone(),
        kafka: env.settings.clone(),
        admin: dsync_telemetry::admin::AdminSettings {
            admin_addr: "127.0.0.1:0".parse()?,
        },
        ..Settings::default()
    };
    let app = App::build(settings).await?;
    let store = std::sync::Arc::clone(app.store());
    let readiness = app.readiness().clone();
    let metrics = app.metrics_registry().clone();
    let client = RegistryClient::new(app.url());
    let stop = tokio_util::sync::CancellationToken::new();
    let task = app.spawn(stop.clone());
    // Never ready before the load is complete.
    let (ready, checks) = readiness.is_ready().await;
    let loaded = store.is_loaded();
    if !loaded {
        assert!(!ready, "ready while loading: {checks:?}");
    }
    // A request made right away waits for the load: it never sees a partial state.
    assert_eq!(
        client.get("/config").await?.ok()?,
        json!({ "compatibilityLevel": "FULL_TRANSITIVE" })
    );
    assert_eq!(
        client.get("/subjects/pre/versions").await?.ok()?,
        json!([1])
    );
    assert!(store.is_loaded());
    assert!(readiness.is_ready().await.0);
    assert_eq!(
        client.register("mine", "\"int\"").await?,
        2,
        "ids continue after the log's"
    );
    let skipped: f64 = metrics
        .gather()
        .iter()
        .filter(|f| f.name() == "dsync_registry_log_ops_applied_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == "op" && l.value() == "unknown")
        })
        .map(|m| m.get_counter().get_value())
        .sum();
    assert_eq!(skipped, 2.0, "the foreign record and the tombstone");
    stop.cancel();
    task.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_health_and_metrics() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    sr.register("m", "\"string\"").await?;
    let r = sr.try_register("m", "\"int\"").await?;
    assert_eq!(r.status, 409);
    let admin = RegistryClient::new(sr.admin_url.clone());
    let ready = admin.get("/readyz").await?;
    assert_eq!(ready.status, 200, "{ready:?}");
    let checks: BTreeMap<String, bool> = ready.body["checks"]
        .as_array()
        .context("checks")?
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_owned(),
                c["ready"] == json!(true),
            )
        })
        .collect();
    assert_eq!(
        checks,
        BTreeMap::from([
            ("broker".to_owned(), true),
            ("schemas-log".to_owned(), true)
        ])
    );
    assert_eq!(
        admin.get("/healthz").await?.ok()?,
        json!({ "status": "ok" })
    );
    let metrics = admin.get("/metrics").await?.body;
    let text = metrics.as_str().context("text")?;
    let line = |name: &str, labels: &[&str]| {
        text.lines()
            .any(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
    };
    assert!(
        line(
            "dsync_registry_http_requests_total",
            &[
                r#"route="/subjects/{subject}/versions""#,
                r#"method="POST""#,
                r#"status="2xx""#
            ]
        ),
        "{text}"
    );
    assert!(
        line("dsync_registry_http_requests_total", &[r#"status="4xx""#]),
        "{text}"
    );
    assert!(
        line(
            "dsync_registry_http_request_duration_seconds_bucket",
            &[r#"route="/subjects/{subject}/versions""#]
        ),
        "{text}"
    );
    assert!(
        line(
            "dsync_registry_log_ops_applied_total",
            &[r#"op="register""#, r#"outcome="ok""#]
        ),
        "{text}"
    );
    assert!(line("dsync_registry_schemas", &[" 1"]), "{text}");
    assert!(line("dsync_bus_records_produced_total", &[]), "{text}");
    sr.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_registry_converter_encodes_and_decodes_through_it() -> anyhow::Result<()> {
    use apache_avro::types::Value as Avro;
    use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
    use schema_registry_converter::async_impl::schema_registry::SrSettings;
    use schema_registry_converter::schema_registry_common::{
        SchemaType, SubjectNameStrategy, SuppliedReference, SuppliedSchema,
    };

    let env = TestEnv::new();
    let sr = TestRegistry::start(&env).await?;
    let settings = SrSettings::new(sr.url.clone());
    let encoder = AvroEncoder::new(settings.clone());
    let decoder = AvroDecoder::new(settings);

    // Record name strategy with auto-registration.
    let heartbeat = record(
        "Heartbeat",
        r#"{"name":"beat","type":"long"},{"name":"source","type":"string"}"#,
    );
    let strategy = SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
        "wms.heartbeats".into(),
        SuppliedSchema::new(
            Some("dsync.test.Heartbeat".into()),
            SchemaType::Avro,
            heartbeat.clone(),
        ),
    );
    let bytes = encoder
        .encode(
            vec![
                ("beat", Avro::Long(3)),
                ("source", Avro::String("wms-1".into())),
            ],
            strategy,
        )
        .await?;
    assert_eq!(bytes[0], 0, "magic byte");
    let id = i64::from(u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]));
    let registered = sr
        .get("/subjects/wms.heartbeats-dsync.test.Heartbeat/versions/latest")
        .await?
        .ok()?;
    assert_eq!(registered["id"], json!(id));
    assert_eq!(registered["schema"], json!(heartbeat));
    let decoded = decoder.decode(Some(&bytes)).await?;
    assert_eq!(
        decoded.value,
        Avro::Record(vec![
            ("beat".into(), Avro::Long(3)),
            ("source".into(), Avro::String("wms-1".into()))
        ])
    );

    // Topic name strategy with a reference the converter registers first. (The converter
    // inlines references itself and only recognizes a reference by short name within the same
    // namespace, or by a fully qualified name with a leading dot; hence the local namespace.)
    let money_local = MONEY.replace("dsync.common", "dsync.test");
    let priced_local = PRICED.replace("dsync.common.Money", "Money");
    let strategy = SubjectNameStrategy::TopicNameStrategyWithSchema(
        "prices".into(),
        false,
        SuppliedSchema::new(
            Some("dsync.test.Priced".into()),
            SchemaType::Avro,
            priced_local,
        )
        .with_references(vec![SuppliedReference::new(
            "dsync.test.Money".into(),
            "money-value".into(),
            money_local,
        )]),
    );
    let money = Avro::Record(vec![
        ("cents".into(), Avro::Long(1999)),
        ("currency".into(), Avro::String("EUR".into())),
    ]);
    let bytes = encoder
        .encode(
            vec![
                ("sku", Avro::String("SKU-1".into())),
                ("price", money.clone()),
            ],
            strategy,
        )
        .await?;
    let latest = sr
        .get("/subjects/prices-value/versions/latest")
        .await?
        .ok()?;
    assert_eq!(
        latest["references"],
        json!([{ "name": "dsync.test.Money", "subject": "money-value", "version": 1 }])
    );
    let decoded = decoder.decode(Some(&bytes)).await?;
    assert_eq!(
        decoded.value,
        Avro::Record(vec![
            ("sku".into(), Avro::String("SKU-1".into())),
            ("price".into(), money)
        ])
    );
    sr.stop().await
}
