//! Test fixture: any service of the product in a real process, run exactly as its own binary
//! runs it (`dsync_service::main`), so tests can `kill -9` it. `DSYNC_SERVICE` names the
//! service; the arguments are the service's own flags.

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::var("DSYNC_SERVICE").as_deref() {
        Ok("order-intake") => dsync_service::main::<dsync_order_intake::Service>(),
        Ok("inventory-projector") => dsync_service::main::<dsync_inventory_projector::Service>(),
        Ok("edi-gateway") => dsync_service::main::<dsync_edi_gateway::Service>(),
        other => {
            eprintln!(
                "DSYNC_SERVICE must be order-intake, inventory-projector or edi-gateway, got {other:?}"
            );
            ExitCode::from(2)
        }
    }
}
