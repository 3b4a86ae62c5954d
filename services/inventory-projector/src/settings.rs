//! The projector's settings: one clap struct, every flag with an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use dsync_bus::{parse_duration, TopicSpec};
use dsync_events::topics::{self, defs, TopicDef};
use dsync_service::auth::AuthSettings;
use dsync_service::CommonSettings;

use crate::handlers::Ctx;
use crate::rules::{parse_channel_units, ChannelUnits, SafetyRules};
use crate::ProjectorError;

/// Stock positions, reservations and channel-safe availability from warehouse movements.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "inventory-projector", version)]
pub struct Settings {
    /// Listen address of the availability API (`GET /v1/availability/{sku}`); port 0 picks a
    /// free port.
    #[arg(
        long = "http-addr",
        env = "HTTP_ADDR",
        default_value = "127.0.0.1:8083"
    )]
    pub http_addr: SocketAddr,

    /// Credentials of the availability API (`--api-keys`, `--bearer-tokens`); at least one
    /// is required (unless `--rebuild`).
    #[command(flatten)]
    pub auth: AuthSettings,

    /// Prefix of every topic name the service reads and writes (e.g. `staging.`); tests use a
    /// unique one.
    #[arg(long = "topic-prefix", env = "TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,

    /// Consumer group of the projector.
    #[arg(
        long = "group-id",
        env = "GROUP_ID",
        default_value = "inventory-projector"
    )]
    pub group_id: String,

    /// Partitions of inventory.movements and inventory.reservation-requests when the service
    /// creates them (default: the catalog's count); the state changelog and journal get the
    /// same count.
    #[arg(
        long = "input-partitions",
        env = "INPUT_PARTITIONS",
        default_value_t = defs::INVENTORY_MOVEMENTS.partitions
    )]
    pub input_partitions: i32,

    /// Partitions of the output topics when the service creates them (default: the catalog's
    /// count).
    #[arg(
        long = "output-partitions",
        env = "OUTPUT_PARTITIONS",
        default_value_t = defs::INVENTORY_RESERVATIONS.partitions
    )]
    pub output_partitions: i32,

    /// Safety stock held back from each channel's ATP, e.g. `ECOMMERCE=5,EDI=2`.
    #[arg(long = "safety-stock", env = "SAFETY_STOCK", default_value = "", value_parser = parse_channel_units)]
    pub safety_stock: ChannelUnits,

    /// JSON file of safety stock overrides per SKU, location or both (see the rules module).
    #[arg(long = "safety-stock-file", env = "SAFETY_STOCK_FILE")]
    pub safety_stock_file: Option<std::path::PathBuf>,

    /// How long a missing movement may be outstanding before InventorySequenceGapDetected is
    /// published (e.g. `5m`, `30s`, `500ms`).
    #[arg(long = "gap-grace", env = "GAP_GRACE", default_value = "5m", value_parser = parse_duration)]
    pub gap_grace: Duration,

    /// How often open gaps are checked against the grace period.
    #[arg(long = "gap-check-interval", env = "GAP_CHECK_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub gap_check_interval: Duration,

    /// Drift up to this many units is corrected automatically; larger drift is reported
    /// without adopting the count. Unset: every count is adopted.
    #[arg(long = "drift-auto-correct-max", env = "DRIFT_AUTO_CORRECT_MAX")]
    pub drift_auto_correct_max: Option<i64>,

    /// Movements kept per SKU and location to place counts that arrive after later movements.
    #[arg(long = "count-history", env = "COUNT_HISTORY", default_value_t = 64)]
    pub count_history: usize,

    /// Movements kept per SKU and warehouse ahead of a missing predecessor (or without one)
    /// before the oldest are taken as complete.
    #[arg(long = "max-pending", env = "MAX_PENDING", default_value_t = 4096)]
    pub max_pending: usize,

    /// How long (event time) request ids are remembered; older requests are refused as stale.
    /// Keep it at least the retention of the requests topic.
    #[arg(long = "request-retention", env = "REQUEST_RETENTION", default_value = "7d", value_parser = parse_duration)]
    pub request_retention: Duration,

    /// Rebuild the state from the input topics (and the journal), print its digest as JSON
    /// and exit, without consuming or publishing.
    #[arg(long = "rebuild", env = "REBUILD", default_value_t = false)]
    pub rebuild: bool,

    /// Kafka, registry, telemetry and admin server.
    #[command(flatten)]
    pub common: CommonSettings,
}

impl Settings {
    /// Checks the combination, naming the flag at fault.
    pub fn validate(&self) -> Result<(), ProjectorError> {
        if !self.rebuild && self.auth.is_empty() {
            return Err(ProjectorError::Config(
                "--api-keys (API_KEYS) and/or --bearer-tokens (BEARER_TOKENS) is required: the availability API is authenticated".into(),
            ));
        }
        if self.input_partitions < 1 || self.output_partitions < 1 {
            return Err(ProjectorError::Config(
                "--input-partitions and --output-partitions must be positive".into(),
            ));
        }
        if self.group_id.trim().is_empty() {
            return Err(ProjectorError::Config(
                "--group-id (GROUP_ID) is empty".into(),
            ));
        }
        if self.gap_check_interval.is_zero() {
            return Err(ProjectorError::Config(
                "--gap-check-interval must be positive".into(),
            ));
        }
        self.common.kafka.validate()?;
        Ok(())
    }

    /// The topic names.
    pub fn topics(&self) -> Topics {
        Topics::with_prefix(&self.topic_prefix)
    }

    /// The logic's settings, the safety stock file read.
    pub fn ctx(&self) -> Result<Ctx, ProjectorError> {
        let file = match &self.safety_stock_file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ProjectorError::Rules {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?;
                Some((p.display().to_string(), text))
            }
            None => None,
        };
        let rules = SafetyRules::new(
            &self.safety_stock,
            file.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
        )?;
        Ok(Ctx {
            rules,
            count_history: self.count_history.max(1),
            max_pending: self.max_pending.max(1),
            request_retention_ms: i64::try_from(self.request_retention.as_millis())
                .unwrap_or(i64::MAX),
            drift_auto_correct_max: self.drift_auto_correct_max,
        })
    }
}

/// Every topic the projector reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Movements and counts (input).
    pub movements: String,
    /// Reservation and release requests (input, co-partitioned with movements).
    pub requests: String,
    /// Reservation results (output).
    pub reservations: String,
    /// Availability (output, compacted).
    pub availability: String,
    /// Drift and gaps (output).
    pub reconciliation: String,
    /// The projector's state, one record per SKU (compacted, partitioned like the inputs).
    pub state: String,
    /// Where each request was applied among the movements (for identical rebuilds).
    pub journal: String,
}

impl Topics {
    /// The catalog names behind `prefix`.
    pub fn with_prefix(prefix: &str) -> Self {
        let t = |n: &str| format!("{prefix}{n}");
        Self {
            movements: t(topics::INVENTORY_MOVEMENTS),
            requests: t(topics::INVENTORY_RESERVATION_REQUESTS),
            reservations: t(topics::INVENTORY_RESERVATIONS),
            availability: t(topics::INVENTORY_AVAILABILITY),
            reconciliation: t(topics::INVENTORY_RECONCILIATION),
            state: t("inventory-projector.state"),
            journal: t("inventory-projector.journal"),
        }
    }

    /// The declarations the projector creates its topics from: the catalog's cleanup policies,
    /// `input` partitions for the inputs and the projector's own changelog and journal (one
    /// partition count for all four, they are co-partitioned), `output` for the outputs.
    pub fn specs(&self, input: i32, output: i32) -> Vec<TopicSpec> {
        let with = |def: &TopicDef, name: &str, partitions: i32| TopicSpec {
            partitions,
            ..def.spec_named(name)
        };
        vec![
            with(&defs::INVENTORY_MOVEMENTS, &self.movements, input),
            with(&defs::INVENTORY_RESERVATION_REQUESTS, &self.requests, input),
            TopicSpec::compacted(&self.state, input),
            TopicSpec::stream(&self.journal, input),
            with(&defs::INVENTORY_RESERVATIONS, &self.reservations, output),
            with(&defs::INVENTORY_AVAILABILITY, &self.availability, output),
            with(
                &defs::INVENTORY_RECONCILIATION,
                &self.reconciliation,
                output,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn flags_and_defaults() {
        let s = Settings::try_parse_from(["inventory-projector", "--api-keys", "shop:a,crm:b"])
            .expect("parses");
        let names: Vec<&str> = s.auth.api_keys.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["shop", "crm"]);
        assert!(!format!("{s:?}").contains(":a"), "secrets leak in Debug");
        assert_eq!(s.gap_grace, Duration::from_secs(300));
        assert_eq!(s.topics().movements, "inventory.movements");
        assert!(s.validate().is_ok());
        let s = Settings::try_parse_from([
            "x",
            "--topic-prefix",
            "t1.",
            "--safety-stock",
            "ECOMMERCE=5",
            "--gap-grace",
            "500ms",
            "--request-retention",
            "2d",
        ])
        .expect("parses");
        assert_eq!(s.topics().state, "t1.inventory-projector.state");
        assert_eq!(s.request_retention, Duration::from_secs(172_800));
        assert!(s.validate().is_err(), "API keys are required");
        assert!(Settings::try_parse_from(["x", "--safety-stock", "FAX=1"]).is_err());
    }

    #[test]
    fn partition_defaults_are_the_catalog_counts_and_flags_override_them() {
        let s = Settings::try_parse_from(["x", "--api-keys", "t:k"]).expect("parses");
        assert_eq!((s.input_partitions, s.output_partitions), (12, 6));
        let t = s.topics();
        let specs = t.specs(s.input_partitions, s.output_partitions);
        for spec in &specs {
            if let Some(def) = topics::def(&spec.name) {
                assert_eq!(
                    *spec,
                    def.spec(""),
                    "catalog topics as declared in the catalog"
                );
            }
        }
        // One flag per side: the catalog must keep the inputs and the outputs at one count each.
        assert_eq!(
            defs::INVENTORY_RESERVATION_REQUESTS.partitions,
            defs::INVENTORY_MOVEMENTS.partitions
        );
        assert_eq!(
            defs::INVENTORY_AVAILABILITY.partitions,
            defs::INVENTORY_RESERVATIONS.partitions
        );
        assert_eq!(
            defs::INVENTORY_RECONCILIATION.partitions,
            defs::INVENTORY_RESERVATIONS.partitions
        );
        let compact = dsync_bus::CleanupPolicy::Compact;
        let policy = |name: &str| specs.iter().find(|x| x.name == name).map(|x| x.cleanup);
        assert_eq!(policy("inventory.availability"), Some(compact));
        assert_eq!(policy("inventory-projector.state"), Some(compact));
        assert_eq!(
            specs.iter().filter(|x| x.cleanup == compact).count(),
            2,
            "only availability and the state changelog are compacted"
        );

        let s = Settings::try_parse_from([
            "x",
            "--topic-prefix",
            "p.",
            "--input-partitions",
            "3",
            "--output-partitions",
            "2",
        ])
        .expect("parses");
        let specs = s.topics().specs(s.input_partitions, s.output_partitions);
        let counts: Vec<(&str, i32)> = specs
            .iter()
            .map(|x| (x.name.as_str(), x.partitions))
            .collect();
        assert_eq!(
            counts,
            [
                ("p.inventory.movements", 3),
                ("p.inventory.reservation-requests", 3),
                ("p.inventory-projector.state", 3),
                ("p.inventory-projector.journal", 3),
                ("p.inventory.reservations", 2),
                ("p.inventory.availability", 2),
                ("p.inventory.reconciliation", 2),
            ]
        );
    }
}
