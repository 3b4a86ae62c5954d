//! Inbox folders: each partner's folder is scanned every poll interval. A file is taken once
//! its size and modification time are unchanged between two scans (a sender still writing it
//! is left alone), in order of modification time then name; names of files in progress
//! (hidden, `*.tmp`, `*.part`, ...) are skipped. A taken file stays in the inbox until its
//! outcome is durable, then moves to the partner's `processed` folder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::files;
use crate::gateway::Gateway;
use crate::journal::ReceiptSource;
use crate::profile::PartnerProfile;

type Fingerprint = (u64, SystemTime);

fn scan(dir: &std::path::Path) -> std::io::Result<Vec<(PathBuf, Fingerprint)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if files::is_in_progress_name(&name) {
            continue;
        }
        let md = e.metadata()?;
        if !md.is_file() {
            continue;
        }
        out.push((
            e.path(),
            (md.len(), md.modified().unwrap_or(SystemTime::UNIX_EPOCH)),
        ));
    }
    out.sort_by(|a, b| a.1 .1.cmp(&b.1 .1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

fn processed_path(profile: &PartnerProfile, path: &std::path::Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
    profile.processed.join(format!("{stamp}-{name}"))
}

/// Watches one partner's inbox until `shutdown`.
#[tracing::instrument(skip_all, fields(partner = %profile.id, inbox = %profile.inbox.display()))]
pub async fn watch(
    gateway: Arc<Gateway>,
    profile: Arc<PartnerProfile>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    info!("watching inbox");
    let mut last: HashMap<PathBuf, Fingerprint> = HashMap::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
        let dir = profile.inbox.clone();
        let found = match tokio::task::spawn_blocking(move || scan(&dir)).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot scan the inbox");
                continue;
            }
            Err(e) => {
                error!(error = %e, "inbox scan task failed");
                continue;
            }
        };
        let mut seen = HashMap::with_capacity(found.len());
        for (path, fp) in found {
            if gateway.is_claimed(&path) {
                continue;
            }
            seen.insert(path.clone(), fp);
            if last.get(&path) != Some(&fp) {
                continue;
            }
            let p2 = path.clone();
            let bytes = match tokio::task::spawn_blocking(move || files::read(&p2)).await {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    warn!(file = %path.display(), error = %e, "cannot read an inbox file");
                    continue;
                }
                Err(e) => {
                    error!(error = %e, "inbox read task failed");
                    continue;
                }
            };
            let source = ReceiptSource::Inbox {
                processed_path: processed_path(&profile, &path),
                path: path.clone(),
            };
            match gateway.receive(&profile.id, bytes, source).await {
                Ok(o) => info!(
                    file = %path.display(),
                    receipt = %o.summary.receipt_id,
                    completed = o.completed,
                    "inbox file received"
                ),
                Err(e) => error!(file = %path.display(), error = %e, "inbox file not received"),
            }
            if shutdown.is_cancelled() {
                break;
            }
        }
        last = seen;
    }
    info!("inbox watch stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_skip_files_in_progress_and_keep_arrival_order() {
        let d = std::env::temp_dir().join(format!("edi-inbox-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(d.join("sub")).expect("dir");
        for name in ["b.x12", ".hidden", "c.x12.part", "x.tmp"] {
            std::fs::write(d.join(name), b"ISA").expect("write");
        }
        std::fs::File::options()
            .write(true)
            .open(d.join("b.x12"))
            .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(10)))
            .expect("mtime");
        std::fs::write(d.join("a.x12"), b"ISA*").expect("write");
        let found = scan(&d).expect("scan");
        let names: Vec<_> = found
            .iter()
            .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            names,
            vec!["b.x12", "a.x12"],
            "oldest first, nothing in progress"
        );
        assert_eq!(found[1].1 .0, 4);
        let _ = std::fs::remove_dir_all(d);
    }
}
