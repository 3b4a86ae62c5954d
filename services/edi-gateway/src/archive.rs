//! The archive: every received file byte for byte, and every interchange sent, under the data
//! directory. Paths are derived from ids, so a document id (or an event's
//! `archive_reference`) finds its bytes:
//!
//! ```text
//! <data>/archive/<partner>/in/<yyyy-mm-dd>/<receipt id>.x12     received file, as received
//! <data>/archive/<partner>/in/<yyyy-mm-dd>/<receipt id>.json    its receipt record (source,
//!                                                               size, SHA-256, arrival time)
//! <data>/archive/<partner>/out/<yyyy-mm-dd>/<outbox file name>  interchange sent
//! <data>/archive/<partner>/out/<yyyy-mm-dd>/<name>.delivered    marker: copied to the outbox
//! ```

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::ids;

/// The archive's root and path scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    root: PathBuf,
}

impl Archive {
    /// The archive under `data_dir/archive`.
    pub fn new(data_dir: &Path) -> Self {
        Archive {
            root: data_dir.join("archive"),
        }
    }

    /// Its root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn day(receipt_id: &str) -> String {
        ids::receipt_date(receipt_id).map_or_else(
            || "undated".to_owned(),
            |d| d.format("%Y-%m-%d").to_string(),
        )
    }

    /// Where a received file is archived.
    pub fn received_path(&self, partner: &str, receipt_id: &str) -> PathBuf {
        self.root
            .join(partner)
            .join("in")
            .join(Self::day(receipt_id))
            .join(format!("{receipt_id}.x12"))
    }

    /// Where the receipt record of a received file is kept.
    pub fn receipt_record_path(&self, partner: &str, receipt_id: &str) -> PathBuf {
        self.received_path(partner, receipt_id)
            .with_extension("json")
    }

    /// Where an interchange sent at `at` is archived.
    pub fn sent_path(&self, partner: &str, at: DateTime<Utc>, file_name: &str) -> PathBuf {
        self.root
            .join(partner)
            .join("out")
            .join(at.format("%Y-%m-%d").to_string())
            .join(file_name)
    }

    /// The marker written once an archived interchange was copied to the outbox.
    pub fn delivered_marker(sent_path: &Path) -> PathBuf {
        let mut s = sent_path.as_os_str().to_owned();
        s.push(".delivered");
        PathBuf::from(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_ids() {
        let a = Archive::new(Path::new("/d"));
        let r = "20240115T103000000Z-0123456789ab";
        assert_eq!(
            a.received_path("ACME", r),
            PathBuf::from(format!("/d/archive/ACME/in/2024-01-15/{r}.x12"))
        );
        assert_eq!(
            a.receipt_record_path("ACME", r),
            PathBuf::from(format!("/d/archive/ACME/in/2024-01-15/{r}.json"))
        );
        let p = a.sent_path("ACME", DateTime::UNIX_EPOCH, "x.x12");
        assert_eq!(p, PathBuf::from("/d/archive/ACME/out/1970-01-01/x.x12"));
        assert_eq!(
            Archive::delivered_marker(&p),
            PathBuf::from("/d/archive/ACME/out/1970-01-01/x.x12.delivered")
        );
    }
}
