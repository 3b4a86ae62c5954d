//! `inventory-projector`: stock positions, reservations and availability from warehouse events.
//! With `--rebuild` it recomputes the state from the input topics, prints its digest and exits.

use clap::Parser as _;
use dsync_inventory_projector::{App, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let _telemetry = dsync_telemetry::init("inventory-projector", &settings.common.telemetry)?;
    if settings.rebuild {
        let report = dsync_inventory_projector::rebuild::rebuild_from_settings(&settings).await?;
        let line = serde_json::to_string(&report)?;
        // The digest is the program's output in this mode.
        #[allow(clippy::print_stdout)]
        {
            println!("{line}");
        }
        return Ok(());
    }
    let shutdown = dsync_telemetry::shutdown::token_on_signal();
    let app = App::build(settings, shutdown.clone()).await?;
    app.run(shutdown).await?;
    Ok(())
}
