//! The service's settings: one clap struct, every flag with an environment variable, the common
//! service flags flattened in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use dsync_service::auth::{AuthSettings, Authenticator, Credential, Secret};
use dsync_service::CommonSettings;

use crate::GatewayError;

/// Which interchanges become business events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum UsageMode {
    /// Only production interchanges (ISA15 = P) become orders; test ones (T) are validated,
    /// acknowledged and tracked, never turned into orders. Our documents carry ISA15 = P.
    #[default]
    Production,
    /// A test environment: only test interchanges (ISA15 = T) become orders. Our documents
    /// carry ISA15 = T.
    Test,
}

impl UsageMode {
    /// Whether an interchange with this usage drives business events in this mode.
    pub fn drives_business(self, usage: dsync_x12::Usage) -> bool {
        matches!(
            (self, usage),
            (UsageMode::Production, dsync_x12::Usage::Production)
                | (UsageMode::Test, dsync_x12::Usage::Test)
        )
    }

    /// ISA15 of the documents we originate (855).
    pub fn usage(self) -> dsync_x12::Usage {
        match self {
            UsageMode::Production => dsync_x12::Usage::Production,
            UsageMode::Test => dsync_x12::Usage::Test,
        }
    }
}

/// edi-gateway: X12 850 in (inbox folders and an upload endpoint) with 997/TA1
/// acknowledgements, 855 out from order outcomes, partner profiles, control numbers, duplicate
/// detection and tracking of partners' 997s.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "edi-gateway", version)]
pub struct Settings {
    /// Directory of partner profiles: one `<partner>.toml` or `<partner>.json` per trading
    /// partner. Every file is validated at start-up; an invalid one stops the service with the
    /// file and field named.
    #[arg(
        long = "profiles-dir",
        env = "PROFILES_DIR",
        default_value = "partners"
    )]
    pub profiles_dir: PathBuf,

    /// Durable data directory: the archive of every received and sent document
    /// (`archive/`), the write-ahead journal of work in progress (`journal/`), and the default
    /// inbox/outbox folders of partners whose profile names none (`partners/<id>/...`).
    #[arg(
        long = "data-dir",
        env = "DATA_DIR",
        default_value = "/var/lib/distsync/edi-gateway"
    )]
    pub data_dir: PathBuf,

    /// Prefix of every topic name (`<prefix>orders.submissions`, ...); empty in production,
    /// a unique value in tests.
    #[arg(long = "topic-prefix", env = "TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,

    /// Consumer group reading `orders.events` (order outcomes that drive 855s).
    #[arg(
        long = "group-id",
        env = "GROUP_ID",
        alias = "consumer-group",
        default_value = "edi-gateway"
    )]
    pub group_id: String,

    /// Which interchanges become orders: `production` (ISA15 = P) or `test` (ISA15 = T).
    #[arg(long = "usage-mode", env = "USAGE_MODE", value_enum, default_value_t = UsageMode::Production)]
    pub usage_mode: UsageMode,

    /// Listen address of the upload endpoint (`POST /partners/{id}/interchanges`); port 0
    /// picks a free port.
    #[arg(
        long = "http-addr",
        env = "HTTP_ADDR",
        default_value = "127.0.0.1:8085"
    )]
    pub http_addr: SocketAddr,

    /// Credentials allowed to upload for any partner (`--api-keys`, `--bearer-tokens`; a
    /// secret given in the clear needs at least 16 characters). Partner-specific keys are given
    /// as SHA-256 hashes in the profiles (`upload.api_key_sha256`).
    #[command(flatten)]
    pub auth: AuthSettings,

    /// Deprecated, for one release: bare keys allowed to upload for any partner, in either
    /// header. Use `--api-keys` / `--bearer-tokens`.
    #[arg(
        long = "upload-api-key",
        env = "EDI_UPLOAD_API_KEYS",
        value_delimiter = ',',
        value_parser = legacy_key,
        hide = true,
        hide_env_values = true
    )]
    pub upload_api_keys: Vec<Secret>,

    /// Largest accepted upload (request body), in bytes (413 above).
    #[arg(long = "max-body-bytes", env = "MAX_BODY_BYTES", alias = "max-upload-bytes", default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// How often inbox folders are scanned (e.g. `1s`, `250ms`). A file is taken once its size
    /// and modification time are unchanged over one interval.
    #[arg(long = "inbox-poll-interval", env = "INBOX_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub inbox_poll_interval: Duration,

    /// How often sent documents are checked for an overdue 997.
    #[arg(long = "overdue-sweep-interval", env = "OVERDUE_SWEEP_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub overdue_sweep_interval: Duration,

    /// How often work left in the journal (after a broker outage) is retried.
    #[arg(long = "journal-retry-interval", env = "JOURNAL_RETRY_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub journal_retry_interval: Duration,

    /// Time allowed to read `edi.documents` at start-up (rebuilding duplicate windows, control
    /// numbers and sent documents).
    #[arg(long = "load-timeout", env = "LOAD_TIMEOUT", alias = "state-load-timeout", default_value = "120s", value_parser = parse_duration)]
    pub load_timeout: Duration,

    /// Common flags: Kafka, schema registry, telemetry, admin server.
    #[command(flatten)]
    pub common: CommonSettings,
}

impl Settings {
    /// Checks what clap cannot.
    pub fn validate(&self) -> Result<(), GatewayError> {
        if self.inbox_poll_interval.is_zero() {
            return Err(GatewayError::Config(
                "--inbox-poll-interval (INBOX_POLL_INTERVAL) must be positive".into(),
            ));
        }
        if self.overdue_sweep_interval.is_zero() {
            return Err(GatewayError::Config(
                "--overdue-sweep-interval (OVERDUE_SWEEP_INTERVAL) must be positive".into(),
            ));
        }
        if self.journal_retry_interval.is_zero() {
            return Err(GatewayError::Config(
                "--journal-retry-interval (JOURNAL_RETRY_INTERVAL) must be positive".into(),
            ));
        }
        if self.group_id.trim().is_empty() {
            return Err(GatewayError::Config(
                "--group-id (GROUP_ID) is empty".into(),
            ));
        }
        if self
            .upload_api_keys
            .iter()
            .any(|k| k.plain_len().is_some_and(|l| l < MIN_KEY_LEN))
        {
            return Err(GatewayError::Config(
                "--upload-api-key (EDI_UPLOAD_API_KEYS): every key needs at least 16 characters"
                    .into(),
            ));
        }
        if let Some(name) = self.auth.shorter_than(MIN_KEY_LEN) {
            return Err(GatewayError::Config(format!(
                "--api-keys / --bearer-tokens (API_KEYS / BEARER_TOKENS): the secret of {name} needs at least 16 characters"
            )));
        }
        Ok(())
    }

    /// The credentials allowed to upload for any partner: `--api-keys`, `--bearer-tokens`,
    /// and the deprecated `--upload-api-key` keys as both (client name `upload-api-key`).
    pub fn upload_auth(&self) -> Authenticator {
        let legacy = self.upload_api_keys.iter().map(|secret| Credential {
            name: "upload-api-key".into(),
            secret: secret.clone(),
        });
        let mut api_keys = self.auth.api_keys.clone();
        let mut bearer_tokens = self.auth.bearer_tokens.clone();
        api_keys.extend(legacy.clone());
        bearer_tokens.extend(legacy);
        Authenticator::with_credentials("edi-gateway", api_keys, bearer_tokens)
    }
}

/// Fewest characters of an upload key given in the clear.
const MIN_KEY_LEN: usize = 16;

fn legacy_key(s: &str) -> Result<Secret, String> {
    let k = s.trim();
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("a key is visible ASCII without spaces".into());
    }
    Ok(Secret::plain(k))
}

/// Parses `500ms`, `30s`, `15m`, `24h`, `90d`: the project's duration syntax
/// ([`dsync_bus::parse_duration`]), except that a unit is required (a partner profile's bare
/// `24` is ambiguous).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.trim().ends_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("{:?} has no unit (ms, s, m, h, d)", s.trim()));
    }
    dsync_bus::parse_duration(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3w").is_err());
    }

    #[test]
    fn flags_parse_with_defaults() {
        let s = Settings::try_parse_from([
            "edi-gateway",
            "--profiles-dir",
            "p",
            "--inbox-poll-interval",
            "100ms",
            "--upload-api-key",
            "0123456789abcdef0123,fedcba9876543210fedc",
        ])
        .expect("parse");
        assert_eq!(s.inbox_poll_interval, Duration::from_millis(100));
        assert_eq!(s.upload_api_keys.len(), 2);
        assert_eq!(s.usage_mode, UsageMode::Production);
        assert_eq!(s.group_id, "edi-gateway");
        assert_eq!(s.load_timeout, Duration::from_secs(120));
        assert!(s.validate().is_ok());
        assert!(
            !format!("{s:?}").contains("0123456789abcdef"),
            "keys leak in Debug"
        );
        let mut bad = s.clone();
        bad.upload_api_keys = vec!["short".into()];
        assert!(bad.validate().is_err());
    }

    #[test]
    fn old_flag_names_still_parse() {
        let s = Settings::try_parse_from([
            "edi-gateway",
            "--consumer-group",
            "g1",
            "--state-load-timeout",
            "5s",
            "--max-upload-bytes",
            "2048",
        ])
        .expect("hidden aliases");
        assert_eq!(s.group_id, "g1");
        assert_eq!(s.load_timeout, Duration::from_secs(5));
        assert_eq!(s.max_body_bytes, 2048);
    }

    #[test]
    fn upload_credentials_by_the_shared_flags() {
        let s = Settings::try_parse_from([
            "edi-gateway",
            "--api-keys",
            "vendor:0123456789abcdef0123",
            "--bearer-tokens",
            "ops:sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ])
        .expect("parse");
        assert!(s.validate().is_ok(), "a hash has no length to check");
        let short = Settings::try_parse_from(["edi-gateway", "--bearer-tokens", "ops:short"])
            .expect("parse");
        let err = short.validate().expect_err("short").to_string();
        assert!(err.contains("ops") && err.contains("16"), "{err}");

        // The deprecated keys work in either header, the new ones in their own.
        let s = Settings::try_parse_from([
            "edi-gateway",
            "--upload-api-key",
            "legacy-key-0123456789",
            "--api-keys",
            "vendor:vendor-key-0123456789",
        ])
        .expect("parse");
        let auth = s.upload_auth();
        let check = |name: &str, value: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                axum::http::HeaderValue::from_str(value).expect("value"),
            );
            auth.authenticate(&h).map(|p| p.name().to_owned()).ok()
        };
        assert_eq!(
            check("x-api-key", "legacy-key-0123456789").as_deref(),
            Some("upload-api-key")
        );
        assert_eq!(
            check("authorization", "Bearer legacy-key-0123456789").as_deref(),
            Some("upload-api-key")
        );
        assert_eq!(
            check("x-api-key", "vendor-key-0123456789").as_deref(),
            Some("vendor")
        );
        assert_eq!(check("authorization", "Bearer vendor-key-0123456789"), None);
    }

    #[test]
    fn usage_modes() {
        use dsync_x12::Usage;
        assert!(UsageMode::Production.drives_business(Usage::Production));
        assert!(!UsageMode::Production.drives_business(Usage::Test));
        assert!(UsageMode::Test.drives_business(Usage::Test));
        assert!(!UsageMode::Test.drives_business(Usage::Production));
    }
}
