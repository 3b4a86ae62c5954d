//! `inventory-projector`: stock positions, reservations and availability from warehouse events.
//! With `--rebuild` it recomputes the state from the input topics, prints its digest and exits.

fn main() -> std::process::ExitCode {
    dsync_service::main::<dsync_inventory_projector::Service>()
}
