//! Topic administration: declare topics (name, partitions, cleanup policy) and create the missing
//! ones idempotently. Some brokers (tansu among them) never auto-create topics, so every service
//! declares what it reads and writes at start-up.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;
use tracing::{info, warn};

use crate::{BusError, KafkaSettings};

/// Cleanup policy of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Time/size retention (event streams).
    Delete,
    /// Keep the last record per key (master data, state snapshots, availability).
    Compact,
}

impl CleanupPolicy {
    /// The `cleanup.policy` value.
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
        }
    }
}

/// A topic a service needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Cleanup policy.
    pub cleanup: CleanupPolicy,
}

impl TopicSpec {
    /// An event stream with delete retention.
    pub fn stream(name: impl Into<String>, partitions: i32) -> Self {
        Self {
            name: name.into(),
            partitions,
            cleanup: CleanupPolicy::Delete,
        }
    }

    /// A compacted topic.
    pub fn compacted(name: impl Into<String>, partitions: i32) -> Self {
        Self {
            name: name.into(),
            partitions,
            cleanup: CleanupPolicy::Compact,
        }
    }
}

const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Creates the declared topics that do not exist yet; existing ones are left as they are (a
/// partition-count mismatch is logged, never "fixed" silently). Safe to call concurrently from
/// several instances.
#[tracing::instrument(skip_all, fields(topics = specs.len()))]
pub async fn ensure_topics(settings: &KafkaSettings, specs: &[TopicSpec]) -> Result<(), BusError> {
    if specs.is_empty() {
        return Ok(());
    }
    for s in specs {
        if s.name.is_empty() || s.partitions < 1 {
            return Err(BusError::Topic {
                topic: s.name.clone(),
                reason: format!("invalid declaration: {} partitions", s.partitions),
            });
        }
    }
    let mut cfg = settings.client_config();
    settings.apply_overrides(&mut cfg);
    let admin: AdminClient<DefaultClientContext> = cfg
        .create()
        .map_err(|e| BusError::kafka("creating admin client", e))?;

    let existing = topic_partitions(settings, None).await?;
    let missing: Vec<&TopicSpec> = specs
        .iter()
        .filter(|s| {
            if let Some(&n) = existing.get(&s.name) {
                if n != s.partitions {
                    warn!(topic = %s.name, declared = s.partitions, actual = n, "partition count differs from the declaration");
                }
                false
            } else {
                true
            }
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let new_topics: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|s| {
            NewTopic::new(
                &s.name,
                s.partitions,
                TopicReplication::Fixed(settings.replication_factor),
            )
            .set("cleanup.policy", s.cleanup.as_str())
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let results = admin
        .create_topics(new_topics.iter(), &opts)
        .await
        .map_err(|e| BusError::kafka("create topics", e))?;
    for r in results {
        match r {
            Ok(name) => info!(topic = %name, "created topic"),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                info!(topic = %name, "topic created concurrently by another instance")
            }
            Err((name, code)) => {
                return Err(BusError::Topic {
                    topic: name,
                    reason: format!("create failed: {code}"),
                })
            }
        }
    }
    // Wait until the metadata shows every topic with its partitions (creation is asynchronous on
    // some brokers).
    let deadline = tokio::time::Instant::now() + ADMIN_TIMEOUT;
    loop {
        let now = topic_partitions(settings, None).await?;
        if specs
            .iter()
            .all(|s| now.get(&s.name).copied().unwrap_or(0) > 0)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(BusError::Timeout(
                "topics not visible in metadata after creation".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Partition counts of all topics (or one), from the cluster metadata.
pub async fn topic_partitions(
    settings: &KafkaSettings,
    topic: Option<&str>,
) -> Result<HashMap<String, i32>, BusError> {
    let consumer = metadata_consumer(settings)?;
    let topic = topic.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let md = consumer
            .fetch_metadata(topic.as_deref(), ADMIN_TIMEOUT)
            .map_err(|e| BusError::kafka("fetch metadata", e))?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
            .collect())
    })
    .await
    .map_err(|e| BusError::Internal(e.to_string()))?
}

/// Whether the brokers answer a metadata request within `timeout` (readiness probe).
pub async fn broker_reachable(settings: &KafkaSettings, timeout: Duration) -> Result<(), BusError> {
    let consumer = metadata_consumer(settings)?;
    tokio::task::spawn_blocking(move || {
        consumer
            .fetch_metadata(None, timeout)
            .map(|_| ())
            .map_err(|e| BusError::kafka("fetch metadata", e))
    })
    .await
    .map_err(|e| BusError::Internal(e.to_string()))?
}

fn metadata_consumer(settings: &KafkaSettings) -> Result<BaseConsumer, BusError> {
    let mut cfg = settings.client_config();
    settings.apply_overrides(&mut cfg);
    cfg.create()
        .map_err(|e| BusError::kafka("creating metadata client", e))
}

/// Committed offsets of `group` on every partition of `topic` (`None` where nothing is
/// committed yet).
pub async fn committed_offsets(
    settings: &KafkaSettings,
    group: &str,
    topic: &str,
) -> Result<HashMap<i32, Option<i64>>, BusError> {
    let partitions = topic_partitions(settings, Some(topic))
        .await?
        .get(topic)
        .copied()
        .ok_or_else(|| BusError::Topic {
            topic: topic.to_owned(),
            reason: "does not exist".into(),
        })?;
    let mut cfg = settings.client_config();
    settings.apply_overrides(&mut cfg);
    cfg.set("group.id", group)
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = cfg
        .create()
        .map_err(|e| BusError::kafka("creating consumer", e))?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(&topic, p);
        }
        let res = consumer
            .committed_offsets(tpl, ADMIN_TIMEOUT)
            .map_err(|e| BusError::kafka("committed offsets", e))?;
        Ok(res
            .elements()
            .iter()
            .map(|e| (e.partition(), e.offset().to_raw().filter(|o| *o >= 0)))
            .collect())
    })
    .await
    .map_err(|e| BusError::Internal(e.to_string()))?
}

/// Registers the readiness check `broker`: the brokers answer a metadata request within the
/// probe timeout. One long-lived metadata client serves every probe.
pub fn register_broker_probe(
    readiness: &dsync_telemetry::admin::Readiness,
    settings: &KafkaSettings,
) -> Result<(), BusError> {
    let client = std::sync::Arc::new(metadata_consumer(settings)?);
    readiness.register_probe("broker", move || {
        let client = std::sync::Arc::clone(&client);
        async move {
            tokio::task::spawn_blocking(move || {
                client
                    .fetch_metadata(None, Duration::from_millis(1500))
                    .map(|m| {
                        if m.brokers().is_empty() {
                            Err("metadata lists no brokers".to_owned())
                        } else {
                            Ok(())
                        }
                    })
                    .map_err(|e| format!("broker unreachable: {e}"))?
            })
            .await
            .map_err(|e| e.to_string())?
        }
    });
    Ok(())
}
