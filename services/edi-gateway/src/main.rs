//! `edi-gateway`: X12 in and out for trading partners (see the library's documentation).

use clap::Parser as _;
use dsync_edi_gateway::{App, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let _telemetry = dsync_telemetry::init("edi-gateway", &settings.common.telemetry)?;
    let shutdown = dsync_telemetry::shutdown::token_on_signal();
    let app = App::build(settings).await?;
    app.run(shutdown).await?;
    Ok(())
}
