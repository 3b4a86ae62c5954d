//! `edi-gateway`: X12 in and out for trading partners (see the library's documentation).

fn main() -> std::process::ExitCode {
    dsync_service::main::<dsync_edi_gateway::Service>()
}
