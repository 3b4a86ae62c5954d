//! Connection settings shared by every service: broker list, security protocol, SASL credentials
//! and free-form client overrides. The same binaries run against the local tansu broker, Apache
//! Kafka, Redpanda or a managed cluster; only these settings change.

use std::fmt;

use clap::{Args, ValueEnum};
use rdkafka::ClientConfig;

use crate::BusError;

/// How clients talk to the brokers (`security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SecurityProtocol {
    /// No TLS, no authentication (local stack).
    #[default]
    Plaintext,
    /// TLS without SASL.
    Ssl,
    /// SASL without TLS.
    SaslPlaintext,
    /// SASL over TLS (managed clusters).
    SaslSsl,
}

impl SecurityProtocol {
    fn as_kafka(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }

    fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// SASL mechanism (`sasl.mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaslMechanism {
    /// SASL/PLAIN.
    #[value(name = "PLAIN")]
    Plain,
    /// SASL/SCRAM-SHA-256.
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    /// SASL/SCRAM-SHA-512.
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    fn as_kafka(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// Kafka connection settings (flags and environment variables).
#[derive(Clone, Args)]
pub struct KafkaSettings {
    /// Comma-separated bootstrap brokers (host:port).
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,

    /// Security protocol used to reach the brokers.
    #[arg(
        long = "kafka-security-protocol",
        env = "KAFKA_SECURITY_PROTOCOL",
        value_enum,
        default_value_t = SecurityProtocol::Plaintext
    )]
    pub security_protocol: SecurityProtocol,

    /// SASL mechanism (required with sasl-plaintext and sasl-ssl).
    #[arg(
        long = "kafka-sasl-mechanism",
        env = "KAFKA_SASL_MECHANISM",
        value_enum
    )]
    pub sasl_mechanism: Option<SaslMechanism>,

    /// SASL user name.
    #[arg(long = "kafka-sasl-username", env = "KAFKA_SASL_USERNAME")]
    pub sasl_username: Option<String>,

    /// SASL password (never logged).
    #[arg(
        long = "kafka-sasl-password",
        env = "KAFKA_SASL_PASSWORD",
        hide_env_values = true
    )]
    pub sasl_password: Option<String>,

    /// CA certificate file (PEM) used to verify the brokers' TLS certificates.
    #[arg(long = "kafka-ssl-ca-location", env = "KAFKA_SSL_CA_LOCATION")]
    pub ssl_ca_location: Option<String>,

    /// Replication factor for topics this service creates.
    #[arg(
        long = "kafka-replication-factor",
        env = "KAFKA_REPLICATION_FACTOR",
        default_value_t = 1
    )]
    pub replication_factor: i32,

    /// Extra librdkafka client properties, `key=value`, repeatable (env: comma-separated).
    #[arg(long = "kafka-config", env = "KAFKA_CONFIG", value_delimiter = ',', value_parser = parse_key_value)]
    pub overrides: Vec<(String, String)>,
}

/// The duration syntax of every flag and configuration file: `500ms`, `30s`, `5m` (or `5min`),
/// `2h`, `7d`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} does not start with a number"))?;
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{s:?} is too large"))
    };
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" | "min" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        other => Err(format!("{s:?}: unknown unit {other:?} (ms, s, m, h, d)")),
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

impl fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overrides: Vec<(&str, &str)> = self
            .overrides
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    if is_secret_key(k) { "***" } else { v.as_str() },
                )
            })
            .collect();
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("sasl_password", &self.sasl_password.as_ref().map(|_| "***"))
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("replication_factor", &self.replication_factor)
            .field("overrides", &overrides)
            .finish()
    }
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password") || k.contains("secret") || k.contains("key.pem") || k.contains("token")
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self::local("127.0.0.1:9092")
    }
}

impl KafkaSettings {
    /// Plaintext settings for the given bootstrap list (tests and local tools).
    pub fn local(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            security_protocol: SecurityProtocol::Plaintext,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            replication_factor: 1,
            overrides: Vec::new(),
        }
    }

    /// Checks that the combination is usable, naming the flag at fault.
    pub fn validate(&self) -> Result<(), BusError> {
        if self.brokers.trim().is_empty() {
            return Err(BusError::Config(
                "--kafka-brokers (KAFKA_BROKERS) is empty".into(),
            ));
        }
        if self.security_protocol.uses_sasl() {
            if self.sasl_mechanism.is_none() {
                return Err(BusError::Config(
                    "--kafka-sasl-mechanism (KAFKA_SASL_MECHANISM) is required with a SASL security protocol".into(),
                ));
            }
            if self.sasl_username.is_none() || self.sasl_password.is_none() {
                return Err(BusError::Config(
                    "--kafka-sasl-username and --kafka-sasl-password are required with a SASL security protocol".into(),
                ));
            }
        }
        if self.replication_factor < 1 {
            return Err(BusError::Config(
                "--kafka-replication-factor must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The base librdkafka configuration (connection and security), with overrides applied last.
    pub fn client_config(&self) -> ClientConfig {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.brokers);
        cfg.set("security.protocol", self.security_protocol.as_kafka());
        if let Some(m) = self.sasl_mechanism {
            cfg.set("sasl.mechanism", m.as_kafka());
        }
        if let Some(u) = &self.sasl_username {
            cfg.set("sasl.username", u);
        }
        if let Some(p) = &self.sasl_password {
            cfg.set("sasl.password", p);
        }
        if let Some(ca) = &self.ssl_ca_location {
            cfg.set("ssl.ca.location", ca);
        }
        cfg.set("client.id", "dsync");
        cfg.set("log_level", "4");
        cfg
    }

    /// Applies the user's `--kafka-config` overrides onto a derived configuration.
    pub(crate) fn apply_overrides(&self, cfg: &mut ClientConfig) {
        for (k, v) in &self.overrides {
            cfg.set(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        kafka: KafkaSettings,
    }

    #[test]
    fn sasl_scram_settings_map_to_librdkafka_properties() {
        let cli = Cli::try_parse_from([
            "x",
            "--kafka-brokers",
            "b1:9096,b2:9096",
            "--kafka-security-protocol",
            "sasl-ssl",
            "--kafka-sasl-mechanism",
            "SCRAM-SHA-512",
            "--kafka-sasl-username",
            "svc",
            "--kafka-sasl-password",
            "hunter2",
            "--kafka-config",
            "socket.keepalive.enable=true",
        ])
        .expect("parse");
        cli.kafka.validate().expect("valid");
        let mut cfg = cli.kafka.client_config();
        cli.kafka.apply_overrides(&mut cfg);
        assert_eq!(cfg.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(cfg.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(cfg.get("sasl.username"), Some("svc"));
        assert_eq!(cfg.get("socket.keepalive.enable"), Some("true"));
        let dbg = format!("{:?}", cli.kafka);
        assert!(!dbg.contains("hunter2"), "password leaked in Debug: {dbg}");
    }

    #[test]
    fn sasl_without_credentials_names_the_flag() {
        let mut s = KafkaSettings::local("b:9092");
        s.security_protocol = SecurityProtocol::SaslSsl;
        s.sasl_mechanism = Some(SaslMechanism::Plain);
        let err = s.validate().expect_err("must fail").to_string();
        assert!(err.contains("--kafka-sasl-username"), "{err}");
    }

    #[test]
    fn bad_override_is_rejected() {
        let err = Cli::try_parse_from(["x", "--kafka-config", "novalue"]).expect_err("must fail");
        assert!(err.to_string().contains("key=value"));
    }
}
