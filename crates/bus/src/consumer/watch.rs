//! The membership watchdog's thread and the rejoin it asks the poll thread for (see
//! [`crate::membership`]).

use super::rebalance::LoopContext;
use super::shared::{lock, Shared};
use super::Handler;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::group_probe;
use crate::membership::{self, Action, Health, Problem, Watchdog, WatchdogConfig};
use crate::BusError;

/// Leaves the group and joins it again (see [`crate::membership`]): the revocation commits what
/// was processed, the new member gets a fresh assignment.
pub(super) fn rejoin_group<H: Handler>(
    consumer: &BaseConsumer<LoopContext<H>>,
    shared: &Arc<Shared<H>>,
    problem: &Problem,
) {
    warn!(group = %shared.config.group_id, reason = problem.label(), problem = %problem,
        "consumer group membership is stuck; leaving and rejoining the group");
    shared
        .metrics
        .rejoins
        .with_label_values(&[shared.config.group_id.as_str(), problem.label()])
        .inc();
    consumer.unsubscribe();
    // Serve the revocation (its callback commits) before subscribing again.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => shared.route(consumer, m.detach()),
            Some(Err(e)) => debug!(error = %e, "consumer error while leaving"),
            None => {}
        }
        if lock(&shared.workers).is_empty() {
            break;
        }
    }
    let topics: Vec<&str> = shared.config.topics.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&topics) {
        error!(error = %e, "cannot subscribe again after leaving the group; stopping");
        shared.set_fatal(BusError::kafka("subscribe after rejoin", e));
    }
}

/// The membership watchdog's thread: describes the group every interval, sets readiness and
/// asks the poll thread for a rejoin when [`Watchdog`] says so.
pub(super) fn watch_thread<H: Handler>(
    shared: &Arc<Shared<H>>,
    shutdown: &CancellationToken,
    config: WatchdogConfig,
) {
    let mut dog = Watchdog::new(config);
    let mut last_label: Option<&'static str> = None;
    let group = shared.config.group_id.clone();
    let mut probe = group_probe::GroupProbe::new(&shared.settings, &group);
    loop {
        let wake = Instant::now() + config.interval;
        while Instant::now() < wake {
            if shutdown.is_cancelled() || shared.stop.is_cancelled() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !shared
            .assigned_once
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            continue;
        }
        let view = match probe.describe(Duration::from_secs(2)) {
            Ok(v) => v,
            Err(e) => {
                debug!(error = %e, "cannot describe the group; checking again later");
                continue;
            }
        };
        let owned = shared.owned();
        let health = membership::assess(&view, &shared.client_id, &owned, &shared.partition_counts);
        let label = match &health {
            Health::Healthy(_) => None,
            Health::Suspect(p) => Some(p.label()),
        };
        if label != last_label {
            match &health {
                Health::Healthy(detail) => info!(group = %group, %detail, "consumer group healthy"),
                Health::Suspect(p) => {
                    info!(group = %group, problem = %p, "consumer group suspect; watching")
                }
            }
            last_label = label;
        }
        if let Some(r) = &shared.readiness {
            match &health {
                Health::Healthy(detail) => r.set(&shared.readiness_name(), true, detail.clone()),
                Health::Suspect(p) => r.set(&shared.readiness_name(), false, p.to_string()),
            }
        }
        let last_rebalance = *lock(&shared.last_rebalance);
        if let Action::Rejoin(p) = dog.observe(Instant::now(), &health, last_rebalance) {
            *lock(&shared.rejoin) = Some(p);
        }
    }
}
