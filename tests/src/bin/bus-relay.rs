//! Test fixture: a real process running the bus consumer loop with the scripted handler, so
//! tests can send it signals. Exit code 0 after a graceful stop, 2 after a fatal failure. With
//! `--admin-addr` it serves `/readyz` (the loop's `consumer:<group>` check) and `/metrics`.

use clap::Parser;
use dsync_bus::{
    BusMetrics, ConsumerConfig, ConsumerLoop, EventProducer, KafkaSettings, PoisonPolicy,
};
use dsync_telemetry::admin::{AdminServer, Readiness};
use dsync_tests::ScriptedHandler;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    kafka: KafkaSettings,
    /// Input topic.
    #[arg(long, env = "RELAY_FROM")]
    from: String,
    /// Output topic.
    #[arg(long, env = "RELAY_TO")]
    to: String,
    /// Consumer group.
    #[arg(long, env = "RELAY_GROUP")]
    group: String,
    /// Poison policy.
    #[arg(long, env = "RELAY_POISON_POLICY", value_enum, default_value_t = PoisonPolicy::Skip)]
    poison_policy: PoisonPolicy,
    /// Serve `/readyz` and `/metrics` here.
    #[arg(long, env = "RELAY_ADMIN_ADDR")]
    admin_addr: Option<std::net::SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dsync_telemetry::init_for_tests();
    let cli = Cli::parse();
    let shutdown = dsync_telemetry::shutdown::token_on_signal();
    let registry = prometheus::Registry::new();
    let metrics = BusMetrics::new(&registry)?;
    let producer = EventProducer::new(&cli.kafka, metrics.clone())?;
    let config =
        ConsumerConfig::new(&cli.group, &[cli.from.as_str()]).poison_policy(cli.poison_policy);
    let handler = ScriptedHandler::new(cli.to);
    let mut consumer = ConsumerLoop::new(cli.kafka, config, handler, producer, metrics);
    if let Some(addr) = cli.admin_addr {
        let readiness = Readiness::new();
        consumer = consumer.with_readiness(readiness.clone());
        AdminServer::bind(addr, registry, readiness)?.spawn(shutdown.clone());
    }
    let result = consumer.run(shutdown).await;
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, "relay stopped");
            std::process::exit(2);
        }
    }
}
