//! edi-gateway in-process for tests: a [`ServiceEnv`] (registry, fresh topics, group), a
//! temporary data directory with partner profiles, instances started, stopped and restarted on
//! the same data at will, inbox/outbox helpers and typed reads of the topics.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dsync_edi_gateway::testkit::acme_profile;
use dsync_edi_gateway::{Gateway, Settings};
use dsync_events::AnyEvent;

use crate::eventually::{eventually, Check};
use crate::{Running, ServiceEnv, ANY_PORT};

pub use dsync_edi_gateway::testkit::Acks;

/// The service-wide upload key of the test instances.
pub const UPLOAD_KEY: &str = "test-upload-key-0123456789";
/// A key accepted for partner ACME only (its SHA-256 is in the test profile).
pub const ACME_KEY: &str = "acme-only-upload-key-42";
/// A key accepted for partner OTHER only.
pub const OTHER_KEY: &str = "other-only-upload-key-17";

/// A file of the `dsync_x12` corpus (buyer `ZZ/BUYERCO` to us `ZZ/DISTSYNC`).
pub fn corpus(name: &str) -> anyhow::Result<Vec<u8>> {
    dsync_x12::testdata::inbound(name).map_err(anyhow::Error::msg)
}

/// Reads the acknowledgements in an outbound interchange (which must itself be valid X12).
pub fn read_acks(bytes: &[u8]) -> anyhow::Result<Acks> {
    dsync_edi_gateway::testkit::read_acks(bytes).map_err(anyhow::Error::msg)
}

/// A second partner (JSON profile), to check keys are per partner.
pub fn other_profile() -> String {
    format!(
        r#"{{"id": "OTHER", "interchange": {{"partner_qualifier": "01", "partner_id": "078742045",
            "our_qualifier": "ZZ", "our_id": "DISTSYNC", "version": "005010"}},
            "customers": {{"default_customer_id": "C-9"}},
            "upload": {{"api_key_sha256": ["{}"]}}}}"#,
        dsync_edi_gateway::files::sha256_hex(OTHER_KEY.as_bytes())
    )
}

/// A test deployment of the gateway: a [`ServiceEnv`] (also reachable through `Deref`), data and
/// profiles directories.
#[derive(Debug)]
pub struct EdiEnv {
    /// Broker, registry, prefix, group, codec, producer.
    pub svc: ServiceEnv,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--profiles-dir`.
    pub profiles_dir: PathBuf,
}

crate::service::deref_to_service_env!(EdiEnv);

/// A running gateway.
pub type RunningGateway = Running<dsync_edi_gateway::App>;

impl Running<dsync_edi_gateway::App> {
    /// The core.
    pub fn gateway(&self) -> &Arc<Gateway> {
        self.parts()
    }
}

impl EdiEnv {
    /// A fresh deployment with the ACME profile (`ack_deadline` as given, [`ACME_KEY`] as its
    /// own upload key) and OTHER.
    pub async fn new(name: &str, ack_deadline: &str) -> anyhow::Result<Self> {
        let svc = ServiceEnv::start(name).await?;
        let root = std::env::temp_dir().join(svc.env.unique(&format!("edi-{name}")));
        let data_dir = root.join("data");
        let profiles_dir = root.join("profiles");
        std::fs::create_dir_all(&profiles_dir)?;
        std::fs::write(
            profiles_dir.join("acme.toml"),
            acme_profile(ack_deadline, Some(ACME_KEY)),
        )?;
        std::fs::write(profiles_dir.join("other.json"), other_profile())?;
        Ok(EdiEnv {
            svc,
            data_dir,
            profiles_dir,
        })
    }

    /// The settings of an instance of this deployment.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        use clap::Parser as _;
        let api_key = format!("uploader:{UPLOAD_KEY}");
        let mut s = Settings::try_parse_from([
            "edi-gateway",
            "--api-keys",
            &api_key,
            "--bearer-tokens",
            &api_key,
            "--inbox-poll-interval",
            "100ms",
            "--overdue-sweep-interval",
            "200ms",
            "--journal-retry-interval",
            "500ms",
        ])?;
        s.profiles_dir = self.profiles_dir.clone();
        s.data_dir = self.data_dir.clone();
        s.topic_prefix = self.prefix.clone();
        s.group_id = self.group.clone();
        s.http_addr = ANY_PORT;
        s.common = self.svc.common(s.common);
        Ok(s)
    }

    /// Builds and starts an instance.
    pub async fn start(&self) -> anyhow::Result<RunningGateway> {
        Running::start(self.settings()?).await
    }

    /// A partner's folder (`inbox`, `outbox`, `processed`).
    pub fn folder(&self, partner: &str, which: &str) -> PathBuf {
        self.data_dir.join("partners").join(partner).join(which)
    }

    /// Drops a file into a partner's inbox the way a transfer tool does (written under a
    /// temporary name, then renamed).
    pub fn drop_file(&self, partner: &str, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
        let dir = self.folder(partner, "inbox");
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!("{name}.part"));
        std::fs::write(&tmp, bytes)?;
        let path = dir.join(name);
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// The files of a folder, sorted by name, with their bytes.
    pub fn files(&self, partner: &str, which: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let dir = self.folder(partner, which);
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_file() {
                    out.push((name, std::fs::read(e.path())?));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Waits until a partner's `which` folder holds `n` files whose name contains `kind`.
    pub async fn wait_files(
        &self,
        partner: &str,
        which: &str,
        kind: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let what = format!("{partner} {which}: {n} {kind} files");
        eventually(&what, timeout, || async {
            let found: Vec<_> = self
                .files(partner, which)?
                .into_iter()
                .filter(|(name, _)| name.contains(kind))
                .collect();
            let k = found.len();
            Ok(Check::when(k >= n, found, || format!("{k} files")))
        })
        .await
    }

    /// Waits until a partner's outbox holds `n` files whose name contains `kind`.
    pub async fn wait_outbox(
        &self,
        partner: &str,
        kind: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        self.wait_files(partner, "outbox", kind, n, timeout).await
    }

    /// The marker that the gateway is done with `n` inbox files of a partner whose name
    /// contains `name`: they moved to `processed`, which happens once everything their receipt
    /// publishes and delivers is durable.
    pub async fn wait_processed(
        &self,
        partner: &str,
        name: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        self.wait_files(partner, "processed", name, n, timeout)
            .await
    }

    /// Every event of a (prefixed) topic, decoded.
    pub async fn events(&self, name: &str) -> anyhow::Result<Vec<AnyEvent>> {
        self.svc.events(&self.topic(name)).await
    }

    /// Waits until `pick` finds at least `n` matching events on a (prefixed) topic; returns
    /// them.
    pub async fn wait_events<T>(
        &self,
        name: &str,
        n: usize,
        timeout: Duration,
        pick: impl Fn(AnyEvent) -> Option<T>,
    ) -> anyhow::Result<Vec<T>> {
        self.svc
            .wait_picked(&self.topic(name), n, timeout, pick)
            .await
    }

    /// Publishes an event on a (prefixed) topic.
    pub async fn publish<E: dsync_events::Event>(
        &self,
        name: &str,
        key: &str,
        event: &E,
    ) -> anyhow::Result<()> {
        self.svc.publish(&self.topic(name), key, event).await
    }
}
