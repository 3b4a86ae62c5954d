//! `schema-registry`: the Confluent-compatible schema registry service.

use clap::Parser as _;
use dsync_schema_registry::{App, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let _telemetry = dsync_telemetry::init("schema-registry", &settings.telemetry)?;
    let shutdown = dsync_telemetry::shutdown::token_on_signal();
    let app = App::build(settings).await?;
    app.run(shutdown).await?;
    Ok(())
}
