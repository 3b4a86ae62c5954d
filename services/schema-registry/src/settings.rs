//! The registry's settings: one clap struct, every flag with an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use dsync_bus::{parse_duration, KafkaSettings};
use dsync_telemetry::admin::AdminSettings;
use dsync_telemetry::TelemetrySettings;

use crate::compat::CompatibilityLevel;
use crate::RegistryError;

/// A Confluent Schema Registry compatible service for Avro schemas, storing its state in a
/// compacted Kafka topic.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "schema-registry", version)]
pub struct Settings {
    /// Listen address of the REST API; port 0 picks a free port.
    #[arg(
        long = "http-addr",
        env = "HTTP_ADDR",
        alias = "listen-addr",
        default_value = "127.0.0.1:8081"
    )]
    pub http_addr: SocketAddr,

    /// The compacted topic holding the registry's log (one partition; created if missing).
    /// Every instance pointing at the same topic serves the same schemas.
    #[arg(
        long = "schemas-topic",
        env = "SCHEMAS_TOPIC",
        default_value = "_schemas"
    )]
    pub schemas_topic: String,

    /// Global compatibility level until one is set with `PUT /config` (NONE, BACKWARD,
    /// BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE). Every instance
    /// sharing a topic must use the same value.
    #[arg(long = "default-compatibility", env = "DEFAULT_COMPATIBILITY", default_value = "BACKWARD", value_parser = parse_level)]
    pub default_compatibility: CompatibilityLevel,

    /// How long a write waits to be applied, and a request waits for the initial load of the
    /// topic, before failing with error 50002 (e.g. `30s`, `500ms`).
    #[arg(long = "write-timeout", env = "WRITE_TIMEOUT", default_value = "30s", value_parser = parse_write_timeout)]
    pub write_timeout: Duration,

    /// Kafka connection.
    #[command(flatten)]
    pub kafka: KafkaSettings,

    /// Admin server (/metrics, /healthz, /readyz).
    #[command(flatten)]
    pub admin: AdminSettings,

    /// Logs and traces.
    #[command(flatten)]
    pub telemetry: TelemetrySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
            schemas_topic: "_schemas".into(),
            default_compatibility: CompatibilityLevel::Backward,
            write_timeout: Duration::from_secs(30),
            kafka: KafkaSettings::default(),
            admin: AdminSettings::default(),
            telemetry: TelemetrySettings::default(),
        }
    }
}

impl Settings {
    /// Checks the combination, naming the flag at fault.
    pub fn validate(&self) -> Result<(), RegistryError> {
        if self.schemas_topic.trim().is_empty() {
            return Err(RegistryError::Config(
                "--schemas-topic (SCHEMAS_TOPIC) is empty".into(),
            ));
        }
        if self.write_timeout.is_zero() {
            return Err(RegistryError::Config(
                "--write-timeout (WRITE_TIMEOUT) must be positive".into(),
            ));
        }
        self.kafka.validate()?;
        Ok(())
    }
}

/// A write timeout: the project's duration syntax, at most 10 minutes (a client waiting longer
/// for a registration has given up long before).
fn parse_write_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > Duration::from_secs(600) {
        return Err(format!("{s:?} is longer than the 10 min limit"));
    }
    Ok(d)
}

fn parse_level(s: &str) -> Result<CompatibilityLevel, String> {
    s.parse().map_err(|e: RegistryError| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_and_flags() {
        let s = Settings::try_parse_from(["schema-registry"]).expect("defaults");
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:8081");
        assert_eq!(s.schemas_topic, "_schemas");
        assert_eq!(s.default_compatibility, CompatibilityLevel::Backward);
        assert_eq!(s.write_timeout, Duration::from_secs(30));
        let s = Settings::try_parse_from([
            "schema-registry",
            "--http-addr",
            "0.0.0.0:0",
            "--schemas-topic",
            "t",
            "--default-compatibility",
            "full_transitive",
            "--write-timeout",
            "500ms",
            "--admin-addr",
            "127.0.0.1:0",
        ])
        .expect("flags");
        assert_eq!(s.default_compatibility, CompatibilityLevel::FullTransitive);
        assert_eq!(s.write_timeout, Duration::from_millis(500));
        assert!(Settings::try_parse_from(["x", "--default-compatibility", "sideways"]).is_err());
        assert!(Settings::try_parse_from(["x", "--write-timeout", "5h"]).is_err());
        // The pre-issue-10 flag name still parses (hidden alias).
        let s = Settings::try_parse_from(["x", "--listen-addr", "127.0.0.1:0"]).expect("alias");
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:0");
    }
}
