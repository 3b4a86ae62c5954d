//! API contracts checked by a tool nobody here wrote: schemathesis
//! (<https://github.com/schemathesis/schemathesis>, installed by `scripts/bootstrap.sh` from
//! `scripts/requirements-test.txt`) runs against every OpenAPI document of the product, served
//! by the real service on the real broker and registry (fresh topics, sample master data).
//!
//! Every check is on (`--checks all`): a 5xx, a response that breaks its schema (body, status,
//! content type, headers), a schema-valid request the server rejects, a schema-invalid one it
//! accepts, a missing required header or credentials that go unnoticed each fail the test. The
//! run is bounded (a time budget shared among the phases, `--max-examples` per operation and
//! round) and seeded; the other settings are in `tests/contracts/schemathesis.toml`. Rules between
//! fields that JSON Schema cannot express are applied to generated orders by
//! `tests/contracts/hooks.py`.
//!
//! Today the product has one OpenAPI document, order-intake's; inventory-projector and
//! edi-gateway ship none.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use dsync_events::PriceKind;
use dsync_tests::intake::{availability, customer, item, location, price, IntakeEnv, API_KEY};

/// Generated test cases per operation and phase.
const MAX_EXAMPLES: &str = "40";
/// Fixed, so a failure reproduces.
const SEED: &str = "20240611";
/// schemathesis' time budget (`--max-time`): it shares it among its phases and ends the run
/// when it is spent, so the run takes about this long whatever the machine's load.
const BUDGET_SECONDS: u64 = 60;
/// Stops a hung run.
const GUARD: Duration = Duration::from_secs(BUDGET_SECONDS + 60);

/// The schemathesis CLI: `DSYNC_SCHEMATHESIS`, else `st` in the project's venv, else on `PATH`.
fn schemathesis() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("DSYNC_SCHEMATHESIS") {
        return Ok(PathBuf::from(p));
    }
    let cache = std::env::var("DSYNC_CACHE")
        .map(PathBuf::from)
        .or_else(|_| {
            std::env::var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cache")))
                .map(|c| c.join("distsync"))
        });
    if let Ok(cache) = cache {
        let st = cache.join("venv/bin/st");
        if st.is_file() {
            return Ok(st);
        }
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("st"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file());
    on_path.context(
        "schemathesis (`st`) not found: run scripts/bootstrap.sh (it installs \
         scripts/requirements-test.txt into the venv) or set DSYNC_SCHEMATHESIS",
    )
}

/// What the example order of the OpenAPI document refers to (customer C-100, SKU-A, SKU-B
/// with GTIN SKU-B-CS), so the examples phase exercises accepted orders too.
async fn sample_master_data(ie: &IntakeEnv) -> anyhow::Result<()> {
    ie.master_data(
        &[customer("C-100", None), customer("C-200", Some(1_000_000))],
        &[item("SKU-A", 12), item("SKU-B", 6)],
        &[
            price("P-A", PriceKind::List, "LIST", "SKU-A", "EA", 100),
            price("P-A-CS", PriceKind::List, "LIST", "SKU-A", "CS", 1100),
            price("P-B", PriceKind::List, "LIST", "SKU-B", "CS", 1200),
        ],
        &[location("L1", "WH1")],
        &[
            availability("SKU-A", "L1", 1_000_000, 1),
            availability("SKU-B", "L1", 1_000_000, 1),
        ],
    )
    .await
}

/// A fresh temporary directory, removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("dsync-contracts-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs schemathesis with the document at `document` (a path) against the API at `url`,
/// authenticated with `api_key`.
async fn run_schemathesis(url: &str, document: &Path, api_key: &str) -> anyhow::Result<()> {
    let st = schemathesis()?;
    let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    // Reports go to a directory of this run, not into the repository, removed however the run
    // ends.
    let work = WorkDir::create()?;
    let mut cmd = tokio::process::Command::new(&st);
    cmd.current_dir(&work.0)
        .env("SCHEMATHESIS_HOOKS", contracts.join("hooks.py"))
        .env("DSYNC_CONTRACT_API_KEY", api_key)
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(contracts.join("schemathesis.toml"))
        .arg("run")
        .arg(document)
        .args(["--url", url, "--checks", "all"])
        .args([
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            SEED,
            "--workers",
            "2",
        ])
        .args([
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "too_slow",
        ])
        .arg("--no-color");
    // More options for a closer look (e.g. `--report har`), space-separated.
    if let Ok(extra) = std::env::var("DSYNC_SCHEMATHESIS_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    // The report goes straight to the test's output (shown by the test runner on failure,
    // and with --no-capture), also when the run has to be stopped.
    cmd.stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let status = tokio::time::timeout(GUARD, cmd.status())
        .await
        .context("schemathesis did not finish")?
        .with_context(|| format!("starting {}", st.display()))?;
    if !status.success() {
        bail!("schemathesis found problems ({status}); its report is above");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_intake_keeps_its_openapi_contract() -> anyhow::Result<()> {
    // Fail first (and fast) when the tool is missing, not after starting the service.
    schemathesis()?;
    let ie = IntakeEnv::start().await?;
    sample_master_data(&ie).await?;
    let mut settings = ie.settings()?;
    // The document's own bounds (1,000 lines of the longest fields) fit within the body limit,
    // which is a deployment setting the schema cannot state.
    settings.max_body_bytes = 8 << 20;
    settings.result_wait = Duration::from_secs(5);
    let app = ie.run(settings).await?;
    let document =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/order-intake/openapi.json");
    run_schemathesis(&app.url, &document, API_KEY).await?;
    app.stop().await
}
