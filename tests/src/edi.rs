//! edi-gateway in-process for tests: a registry of its own, fresh topics (a unique
//! `--topic-prefix`) and consumer group, a temporary data directory with partner profiles,
//! instances started, stopped and restarted on the same data at will, inbox/outbox helpers and
//! typed reads of the topics.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use dsync_bus::EventProducer;
use dsync_edi_gateway::{App, Gateway, Settings};
use dsync_events::{AnyEvent, EventCodec, RegistrySettings};
use dsync_service::HostError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{TestEnv, TestRegistry};

/// The service-wide upload key of the test instances.
pub const UPLOAD_KEY: &str = "test-upload-key-0123456789";
/// A key accepted for partner ACME only (its SHA-256 is in the test profile).
pub const ACME_KEY: &str = "acme-only-upload-key-42";
/// A key accepted for partner OTHER only.
pub const OTHER_KEY: &str = "other-only-upload-key-17";

/// The corpus of `dsync_x12` (buyer `ZZ/BUYERCO` to us `ZZ/DISTSYNC`).
pub fn corpus(name: &str) -> anyhow::Result<Vec<u8>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/x12/testdata/inbound")
        .join(name);
    std::fs::read(&p).with_context(|| p.display().to_string())
}

/// The default test profile: partner ACME is the corpus sender `ZZ/BUYERCO`, the corpus
/// parties and items are mapped; `ack_deadline` as given.
pub fn acme_profile(ack_deadline: &str) -> String {
    format!(
        r#"
id = "ACME"
[interchange]
partner_qualifier = "ZZ"
partner_id = "BUYERCO"
our_qualifier = "ZZ"
our_id = "DISTSYNC"
[customers]
bill_to = [{{ qualifier = "1", id = "123456789", customer_id = "C-100234" }}]
ship_to = [{{ qualifier = "92", id = "0042", customer_id = "C-100234", ship_to_id = "C-100234-0042" }}]
[[items]]
buyer_part = "ACM-1001"
vendor_part = "WID-4410"
sku = "WID-4410"
[[items]]
vendor_part = "GAD-0099"
sku = "GAD-0099"
[units]
CA = "CS"
[timing]
ack_deadline = "{ack_deadline}"
[upload]
api_key_sha256 = ["{}"]
"#,
        dsync_edi_gateway::files::sha256_hex(ACME_KEY.as_bytes())
    )
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

/// A test deployment of the gateway: registry, topics, group, data and profiles directories.
#[derive(Debug)]
pub struct EdiEnv {
    /// The broker.
    pub env: TestEnv,
    /// The registry.
    pub registry: TestRegistry,
    /// `--topic-prefix`.
    pub prefix: String,
    /// `--group-id`.
    pub group: String,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--profiles-dir`.
    pub profiles_dir: PathBuf,
    /// Codec on the registry.
    pub codec: EventCodec,
    /// Producer.
    pub producer: EventProducer,
}

/// A running gateway.
#[derive(Debug)]
pub struct RunningGateway {
    /// `http://<upload endpoint>`.
    pub url: String,
    /// `http://<admin server>`.
    pub admin_url: String,
    /// The core.
    pub gateway: Arc<Gateway>,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), HostError>>>,
}

impl RunningGateway {
    /// Stops it and waits until it has.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await??;
        }
        Ok(())
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl EdiEnv {
    /// A fresh deployment with the ACME profile (`ack_deadline` as given) and OTHER.
    pub async fn new(name: &str, ack_deadline: &str) -> anyhow::Result<Self> {
        let env = TestEnv::new();
        let registry = TestRegistry::start(&env).await?;
        let prefix = format!("{}.", env.unique(name));
        let group = env.unique(&format!("{name}-gw"));
        let root = std::env::temp_dir().join(env.unique(&format!("edi-{name}")));
        let data_dir = root.join("data");
        let profiles_dir = root.join("profiles");
        std::fs::create_dir_all(&profiles_dir)?;
        std::fs::write(profiles_dir.join("acme.toml"), acme_profile(ack_deadline))?;
        std::fs::write(profiles_dir.join("other.json"), other_profile())?;
        let codec = EventCodec::from_settings(&RegistrySettings {
            url: registry.url.clone(),
            ..RegistrySettings::default()
        })?;
        let producer = env.producer()?;
        Ok(EdiEnv {
            env,
            registry,
            prefix,
            group,
            data_dir,
            profiles_dir,
            codec,
            producer,
        })
    }

    /// The settings of an instance of this deployment.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        use clap::Parser as _;
        let args: Vec<String> = vec![
            "edi-gateway".into(),
            "--profiles-dir".into(),
            self.profiles_dir.display().to_string(),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--topic-prefix".into(),
            self.prefix.clone(),
            "--group-id".into(),
            self.group.clone(),
            "--http-addr".into(),
            "127.0.0.1:0".into(),
            "--admin-addr".into(),
            "127.0.0.1:0".into(),
            "--upload-api-key".into(),
            UPLOAD_KEY.into(),
            "--inbox-poll-interval".into(),
            "100ms".into(),
            "--overdue-sweep-interval".into(),
            "200ms".into(),
            "--journal-retry-interval".into(),
            "500ms".into(),
            "--kafka-brokers".into(),
            self.env.settings.brokers.clone(),
            "--schema-registry-url".into(),
            self.registry.url.clone(),
        ];
        Ok(Settings::try_parse_from(args)?)
    }

    /// Builds and starts an instance.
    pub async fn start(&self) -> anyhow::Result<RunningGateway> {
        let app = App::build(self.settings()?).await?;
        let url = format!("http://{}", app.http_addr());
        let admin_url = format!("http://{}", app.admin_addr());
        let gateway = Arc::clone(app.gateway());
        let stop = CancellationToken::new();
        let task = app.spawn(stop.clone());
        Ok(RunningGateway {
            url,
            admin_url,
            gateway,
            stop,
            task: Some(task),
        })
    }

    /// A prefixed topic name (`orders.submissions` -> `<prefix>orders.submissions`).
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
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

    /// Waits until a partner's outbox holds `n` files whose name contains `kind`.
    pub async fn wait_outbox(
        &self,
        partner: &str,
        kind: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let deadline = Instant::now() + timeout;
        loop {
            let found: Vec<_> = self
                .files(partner, "outbox")?
                .into_iter()
                .filter(|(name, _)| name.contains(kind))
                .collect();
            if found.len() >= n {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!(
                    "{partner} outbox: {} {kind} files after {timeout:?}, expected {n}",
                    found.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every event of a (prefixed) topic, decoded.
    pub async fn events(&self, name: &str) -> anyhow::Result<Vec<AnyEvent>> {
        let topic = self.topic(name);
        let records = match dsync_bus::reader::end_offsets(&self.env.settings, &topic).await {
            Ok(ends) if ends.values().sum::<i64>() == 0 => return Ok(Vec::new()),
            Ok(_) => self.env.read_all(&topic).await?,
            Err(dsync_bus::BusError::Topic { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::with_capacity(records.len());
        for r in &records {
            out.push(self.codec.decode_record(r).await?);
        }
        Ok(out)
    }

    /// Waits until `pick` finds at least `n` matching events on a topic; returns them.
    pub async fn wait_events<T>(
        &self,
        name: &str,
        n: usize,
        timeout: Duration,
        pick: impl Fn(AnyEvent) -> Option<T>,
    ) -> anyhow::Result<Vec<T>> {
        let deadline = Instant::now() + timeout;
        loop {
            let found: Vec<T> = self
                .events(name)
                .await?
                .into_iter()
                .filter_map(&pick)
                .collect();
            if found.len() >= n {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!(
                    "{name}: {} matching events after {timeout:?}, expected {n}",
                    found.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Publishes an event on a (prefixed) topic.
    pub async fn publish<E: dsync_events::Event>(
        &self,
        name: &str,
        key: &str,
        event: &E,
    ) -> anyhow::Result<()> {
        let rec = self
            .codec
            .outbound(&self.topic(name), key.as_bytes().to_vec(), event, None)
            .await?;
        self.producer.send(&rec).await?;
        Ok(())
    }
}

/// TA1 (status, note) segments and 997s (AK1 group, AK9 status, AK5 statuses) of an interchange
/// we sent, and its ISA13.
pub type Acks = (
    Vec<(String, String)>,
    Vec<(String, String, Vec<String>)>,
    String,
);

/// Reads the acknowledgements in an outbound interchange (which must itself be valid X12).
pub fn read_acks(bytes: &[u8]) -> anyhow::Result<Acks> {
    let (ics, err) = dsync_x12::parse_all(bytes);
    if let Some(e) = err {
        bail!("our own interchange does not parse: {e}");
    }
    let ic = ics.first().context("no interchange")?;
    if !ic.is_clean() {
        bail!("our own interchange has envelope errors: {:?}", ic.issues);
    }
    let ta1 = ic
        .ta1
        .iter()
        .map(|s| {
            (
                s.element_str(4).unwrap_or("").to_owned(),
                s.element_str(5).unwrap_or("").to_owned(),
            )
        })
        .collect();
    let v = dsync_x12::validate(ic);
    let mut fas = Vec::new();
    for g in &v.groups {
        for d in g.documents.iter().flatten() {
            if let dsync_x12::Document::FunctionalAck(fa) = d {
                fas.push((
                    format!("{} {}", fa.functional_id, fa.group_control_number),
                    fa.status.code().to_owned(),
                    fa.sets.iter().map(|s| s.status.code().to_owned()).collect(),
                ));
            }
        }
    }
    Ok((ta1, fas, ic.isa.control_number.to_owned()))
}
