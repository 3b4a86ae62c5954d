//! `order-intake`: the order API and the validation of every submitted order.

fn main() -> std::process::ExitCode {
    dsync_service::main::<dsync_order_intake::Service>()
}
