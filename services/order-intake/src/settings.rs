//! The service's settings: one clap struct, every flag with an environment variable, the
//! shared Kafka / registry / telemetry / admin flags flattened from [`CommonSettings`].

use std::net::SocketAddr;
use std::time::Duration;

use dsync_bus::{parse_duration, PoisonPolicy};
use dsync_service::auth::AuthSettings;
use dsync_service::CommonSettings;

use crate::IntakeError;

/// What to do with a line whose submitted price differs from the resolved one beyond the
/// tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PriceMismatchPolicy {
    /// Accept at the resolved price; the line carries `price_flag` SUBMITTED_HIGHER/LOWER.
    #[default]
    Flag,
    /// Reject the order (`PRICE_MISMATCH` on the line).
    Reject,
}

/// A credential of `--api-keys` / `--bearer-tokens` (the shared format of
/// [`dsync_service::auth`]).
pub use dsync_service::auth::Credential;

/// order-intake: the order API (HTTP, idempotency keys) and the validation of every submitted
/// order (HTTP and EDI) against ERP master data, credit and available-to-promise.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "order-intake", version)]
pub struct Settings {
    /// Listen address of the order API; port 0 picks a free port.
    #[arg(
        long = "http-addr",
        env = "HTTP_ADDR",
        alias = "listen-addr",
        default_value = "127.0.0.1:8090"
    )]
    pub http_addr: SocketAddr,

    /// Prefix put in front of every topic name (`<prefix>orders.submissions`, ...): isolated
    /// environments and tests on a shared cluster. Empty in production.
    #[arg(long = "topic-prefix", env = "TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,

    /// Consumer group of the submissions consumer; every instance of one deployment uses the
    /// same group, so each customer's submissions have exactly one validating instance.
    #[arg(long = "group-id", env = "GROUP_ID", default_value = "order-intake")]
    pub group_id: String,

    /// Credentials of the order API (`--api-keys`, `--bearer-tokens`); the client's name is
    /// recorded as the order's `submitted_by`.
    #[command(flatten)]
    pub auth: AuthSettings,

    /// Largest request body accepted, in bytes (413 above).
    #[arg(long = "max-body-bytes", env = "MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// Most lines accepted in one order (422 above).
    #[arg(long = "max-lines", env = "MAX_LINES", default_value_t = 1000)]
    pub max_lines: usize,

    /// How long `POST /v1/orders` waits for the validation result before answering 202 with
    /// the status URL (e.g. `2s`, `500ms`).
    #[arg(long = "result-wait", env = "RESULT_WAIT", default_value = "2s", value_parser = parse_duration)]
    pub result_wait: Duration,

    /// Tolerance, in percent of the resolved price, within which a submitted unit price counts
    /// as matching.
    #[arg(
        long = "price-tolerance-percent",
        env = "PRICE_TOLERANCE_PERCENT",
        default_value_t = 1.0
    )]
    pub price_tolerance_percent: f64,

    /// What a submitted price beyond the tolerance does: `flag` (accept, flagged on the line)
    /// or `reject` (PRICE_MISMATCH).
    #[arg(long = "price-mismatch", env = "PRICE_MISMATCH", value_enum, default_value_t = PriceMismatchPolicy::Flag)]
    pub price_mismatch: PriceMismatchPolicy,

    /// A submission this instance published and that has no outcome after this long counts
    /// as stuck in validation (gauge `dsync_order_intake_orders_stuck_in_validation`).
    #[arg(long = "stuck-after", env = "STUCK_AFTER", default_value = "60s", value_parser = parse_duration)]
    pub stuck_after: Duration,

    /// How long start-up waits for the master data and order history to load, and a newly
    /// assigned submissions partition waits to catch up with the outcomes of its previous
    /// owner.
    #[arg(long = "load-timeout", env = "LOAD_TIMEOUT", default_value = "300s", value_parser = parse_duration)]
    pub load_timeout: Duration,

    /// `fetch.wait.max.ms` of the submissions consumer. Submissions this instance publishes
    /// reach its consumer directly when it owns the customer's partition, so this bounds the
    /// wait only for the others (EDI, other instances). Some brokers (tansu) hold every fetch
    /// this long even when data is ready, and the cost of each fetch there grows with the
    /// partition, so very short waits load them; on Apache Kafka fetches return as soon as
    /// data arrives (Apache Kafka's own default is 500 ms).
    #[arg(long = "consumer-fetch-wait", env = "CONSUMER_FETCH_WAIT", default_value = "250ms", value_parser = parse_duration)]
    pub consumer_fetch_wait: Duration,

    /// `fetch.wait.max.ms` of the followers of master data, availability, invoicing and the
    /// order history (the same broker trade-off as `--consumer-fetch-wait`).
    #[arg(long = "follower-fetch-wait", env = "FOLLOWER_FETCH_WAIT", default_value = "250ms", value_parser = parse_duration)]
    pub follower_fetch_wait: Duration,

    /// Submissions per partition whose outcome may be awaiting the broker's acknowledgement
    /// while the next ones are validated (1 = one at a time). Decisions are still made one
    /// after the other per customer; answers and offset commits wait for the acknowledgement.
    #[arg(long = "pipeline-depth", env = "PIPELINE_DEPTH", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub pipeline_depth: u32,

    /// What happens to a submission that can never be decoded: `skip` (dead-letter it, the
    /// customer's later orders go on) or `park-key` (dead-letter the customer's later
    /// submissions too, until the replay tool re-drives them).
    #[arg(long = "poison-policy", env = "POISON_POLICY", value_enum, default_value_t = PoisonPolicy::Skip)]
    pub poison_policy: PoisonPolicy,

    /// Kafka, schema registry, telemetry and admin server.
    #[command(flatten)]
    pub common: CommonSettings,
}

impl Settings {
    /// Checks the combination, naming the flag at fault.
    pub fn validate(&self) -> Result<(), IntakeError> {
        if self.auth.is_empty() {
            return Err(IntakeError::Config(
                "no credentials: set --api-keys (API_KEYS) and/or --bearer-tokens (BEARER_TOKENS); every request must be authenticated".into(),
            ));
        }
        if self.group_id.trim().is_empty() {
            return Err(IntakeError::Config("--group-id (GROUP_ID) is empty".into()));
        }
        if self.max_body_bytes < 1024 {
            return Err(IntakeError::Config(
                "--max-body-bytes (MAX_BODY_BYTES) must be at least 1024".into(),
            ));
        }
        if self.max_lines == 0 {
            return Err(IntakeError::Config(
                "--max-lines (MAX_LINES) must be at least 1".into(),
            ));
        }
        if !(0.0..=100.0).contains(&self.price_tolerance_percent) {
            return Err(IntakeError::Config(
                "--price-tolerance-percent (PRICE_TOLERANCE_PERCENT) must be between 0 and 100"
                    .into(),
            ));
        }
        for (flag, wait) in [
            (
                "--consumer-fetch-wait (CONSUMER_FETCH_WAIT)",
                self.consumer_fetch_wait,
            ),
            (
                "--follower-fetch-wait (FOLLOWER_FETCH_WAIT)",
                self.follower_fetch_wait,
            ),
        ] {
            if wait > Duration::from_secs(300) {
                return Err(IntakeError::Config(format!(
                    "{flag} must be at most 300s (librdkafka's fetch.wait.max.ms limit)"
                )));
            }
        }
        self.common.kafka.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_flags_and_validation() {
        let s = Settings::try_parse_from(["order-intake", "--api-keys", "shop:k1,crm:k2"])
            .expect("parse");
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:8090");
        assert_eq!(s.consumer_fetch_wait, Duration::from_millis(250));
        assert_eq!(s.follower_fetch_wait, Duration::from_millis(250));
        assert_eq!(s.result_wait, Duration::from_secs(2));
        assert_eq!(s.auth.api_keys.len(), 2);
        assert_eq!(s.auth.api_keys[1].name, "crm");
        assert!(s.validate().is_ok());
        assert!(!format!("{s:?}").contains("k1"), "secrets leak in Debug");

        let none = Settings::try_parse_from(["order-intake"]).expect("parse");
        let err = none.validate().expect_err("no credentials").to_string();
        assert!(err.contains("--api-keys"), "{err}");

        assert!(Settings::try_parse_from(["x", "--api-keys", "nosecret"]).is_err());
        // The SHA-256 of "test" in place of the token.
        let hashed = Settings::try_parse_from([
            "x",
            "--bearer-tokens",
            "crm:sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ])
        .expect("hashed token");
        assert!(hashed.validate().is_ok());
        assert_eq!(
            hashed.auth.bearer_tokens[0].secret,
            dsync_service::auth::Secret::plain("test")
        );
        let s = Settings::try_parse_from([
            "x",
            "--bearer-tokens",
            "a:b",
            "--result-wait",
            "250ms",
            "--price-mismatch",
            "reject",
            "--topic-prefix",
            "t1.",
        ])
        .expect("flags");
        assert_eq!(s.result_wait, Duration::from_millis(250));
        assert_eq!(s.price_mismatch, PriceMismatchPolicy::Reject);
        assert_eq!(s.topic_prefix, "t1.");

        // The pre-issue-10 flag name still parses (hidden alias).
        let s = Settings::try_parse_from(["x", "--listen-addr", "127.0.0.1:0"]).expect("alias");
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:0");
    }
}
