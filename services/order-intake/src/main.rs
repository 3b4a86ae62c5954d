//! `order-intake`: the order API and the validation of every submitted order.

use clap::Parser as _;
use dsync_order_intake::{App, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let _telemetry = dsync_telemetry::init("order-intake", &settings.common.telemetry)?;
    let shutdown = dsync_telemetry::shutdown::token_on_signal();
    let app = App::build(settings).await?;
    app.run(shutdown).await?;
    Ok(())
}
