//! `schema-gate`: fails when a schema under a directory is incompatible with its earlier
//! versions (see `dsync_schema_registry::gate`). Run by `make schemas-check` in the test command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dsync_schema_registry::gate::check_dir;
use dsync_schema_registry::CompatibilityLevel;

/// Checks every `<Record>.vN.avsc` against its earlier versions.
#[derive(Debug, Parser)]
#[command(name = "schema-gate", version)]
struct Cli {
    /// Directory holding the schemas (searched recursively).
    #[arg(long, env = "SCHEMA_GATE_DIR", default_value = "schemas")]
    dir: PathBuf,
    /// Compatibility level every version must meet against all earlier ones.
    #[arg(long, env = "SCHEMA_GATE_LEVEL", default_value = "FULL_TRANSITIVE")]
    level: String,
}

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    let level: CompatibilityLevel = match cli.level.parse() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("schema-gate: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match check_dir(&cli.dir, level) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("schema-gate: cannot read {}: {e}", cli.dir.display());
            return ExitCode::from(2);
        }
    };
    for p in &report.problems {
        eprintln!("schema-gate: {}: {}", p.file.display(), p.message);
    }
    println!(
        "schema-gate: {} schemas, {} files, {} version checks at {}: {}",
        report.schemas,
        report.files,
        report.checks,
        level.as_str(),
        if report.problems.is_empty() {
            "ok".to_owned()
        } else {
            format!("{} problems", report.problems.len())
        }
    );
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
