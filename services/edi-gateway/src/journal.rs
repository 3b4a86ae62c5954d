//! The write-ahead journal: work that was started and must be finished, even across a crash.
//!
//! * `<id>.receipt.json`: a file was archived (byte for byte, with its receipt record) and
//!   waits for its decision. Written right after the archive, before anything else; at
//!   start-up it is decided (from the archived bytes) like a new arrival.
//! * `<id>.plan.json`: a decision (the events to publish, the interchanges to deliver from the
//!   archive, the inbox file to move). Written before any of it happens; its control numbers
//!   and duplicate keys are applied to the state at the same time, so nothing else can take
//!   them. A plan is only ever rolled forward: publish every event (deterministic event ids,
//!   so a repeat is absorbed by consumers), copy every interchange to the outbox unless its
//!   delivered marker exists, move the inbox file to `processed`, delete the entry.
//! * `failed/<id>.json`: a file whose decision failed (a bug, never bad input: bad input is
//!   acknowledged as such). Kept for an operator; the file stays in the archive.
//!
//! Every entry is written atomically (temp file, fsync, rename).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::PlannedRecord;
use crate::files;
use crate::GatewayError;

/// Where a received file came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptSource {
    /// A partner's inbox folder: the file is moved to `processed_path` once its outcome is
    /// durable.
    Inbox {
        /// The inbox file.
        path: PathBuf,
        /// Where it goes once handled.
        processed_path: PathBuf,
    },
    /// The upload endpoint.
    Upload {
        /// The client's address.
        remote: Option<String>,
    },
}

/// A received file, archived, waiting for its decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReceipt {
    /// Receipt id.
    pub receipt_id: String,
    /// Partner.
    pub partner_id: String,
    /// Arrival time.
    pub received_at: DateTime<Utc>,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// The archived bytes.
    pub archive_path: PathBuf,
    /// Where it came from.
    pub source: ReceiptSource,
}

/// An interchange to copy from the archive to an outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The archived interchange.
    pub archive_path: PathBuf,
    /// Its path in the partner's outbox.
    pub outbox_path: PathBuf,
}

/// A decision to carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Id (the receipt id, or the sent document id).
    pub id: String,
    /// Partner.
    pub partner_id: String,
    /// When it was decided.
    pub created_at: DateTime<Utc>,
    /// Events to publish, in order.
    pub records: Vec<PlannedRecord>,
    /// Interchanges to deliver.
    pub deliveries: Vec<Delivery>,
    /// The inbox file to move once everything else is done.
    pub source: Option<ReceiptSource>,
    /// The outcome, for the upload answer.
    #[serde(default)]
    pub summary: Option<serde_json::Value>,
}

/// A file whose decision failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedReceipt {
    /// The receipt.
    pub receipt: PendingReceipt,
    /// Why.
    pub reason: String,
    /// When.
    pub failed_at: DateTime<Utc>,
}

/// The journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

const RECEIPT: &str = ".receipt.json";
const PLAN: &str = ".plan.json";

impl Journal {
    /// The journal in `data_dir/journal` (created).
    pub fn open(data_dir: &Path) -> Result<Self, GatewayError> {
        let dir = data_dir.join("journal");
        files::ensure_dir(&dir.join("failed"))?;
        files::remove_temp_files(&dir)?;
        Ok(Journal { dir })
    }

    fn receipt_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{RECEIPT}"))
    }

    fn plan_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{PLAN}"))
    }

    fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), GatewayError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| GatewayError::Journal {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        files::write_atomic(path, &bytes)
    }

    fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, GatewayError> {
        let bytes = files::read(path)?;
        serde_json::from_slice(&bytes).map_err(|e| GatewayError::Journal {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Records an archived receipt.
    pub fn write_receipt(&self, r: &PendingReceipt) -> Result<(), GatewayError> {
        Self::write(&self.receipt_path(&r.receipt_id), r)
    }

    /// Records a decision and drops the receipt it replaces.
    pub fn write_plan(&self, p: &Plan) -> Result<(), GatewayError> {
        Self::write(&self.plan_path(&p.id), p)?;
        files::remove(&self.receipt_path(&p.id))
    }

    /// Drops a completed plan.
    pub fn remove_plan(&self, id: &str) -> Result<(), GatewayError> {
        files::remove(&self.plan_path(id))
    }

    /// Records a failed receipt (kept for an operator) and drops it from the pending ones.
    pub fn mark_failed(&self, r: &PendingReceipt, reason: &str) -> Result<(), GatewayError> {
        let f = FailedReceipt {
            receipt: r.clone(),
            reason: reason.to_owned(),
            failed_at: Utc::now(),
        };
        Self::write(
            &self
                .dir
                .join("failed")
                .join(format!("{}.json", r.receipt_id)),
            &f,
        )?;
        files::remove(&self.receipt_path(&r.receipt_id))
    }

    /// Every pending plan and every receipt still waiting for its decision, oldest first.
    pub fn load(&self) -> Result<(Vec<Plan>, Vec<PendingReceipt>), GatewayError> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| GatewayError::io(format!("reading {}", self.dir.display()), e))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut plans = Vec::new();
        let mut receipts = Vec::new();
        for name in &names {
            if let Some(id) = name.strip_suffix(PLAN) {
                plans.push(Self::read::<Plan>(&self.plan_path(id))?);
            }
        }
        for name in &names {
            if let Some(id) = name.strip_suffix(RECEIPT) {
                if plans.iter().any(|p| p.id == id) {
                    // decided, crash before the receipt entry was dropped
                    files::remove(&self.receipt_path(id))?;
                    continue;
                }
                receipts.push(Self::read::<PendingReceipt>(&self.receipt_path(id))?);
            }
        }
        plans.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        receipts.sort_by(|a, b| {
            a.received_at
                .cmp(&b.received_at)
                .then(a.receipt_id.cmp(&b.receipt_id))
        });
        Ok((plans, receipts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_plans_supersede_receipts() {
        let d = std::env::temp_dir().join(format!("edi-journal-{}", uuid::Uuid::new_v4().simple()));
        let j = Journal::open(&d).expect("open");
        let r = PendingReceipt {
            receipt_id: "r1".into(),
            partner_id: "ACME".into(),
            received_at: Utc::now(),
            size_bytes: 3,
            sha256: "x".into(),
            archive_path: d.join("a"),
            source: ReceiptSource::Inbox {
                path: d.join("in/a.x12"),
                processed_path: d.join("done/a.x12"),
            },
        };
        j.write_receipt(&r).expect("receipt");
        let r2 = PendingReceipt {
            receipt_id: "r2".into(),
            source: ReceiptSource::Upload { remote: None },
            ..r.clone()
        };
        j.write_receipt(&r2).expect("receipt");
        let (plans, receipts) = j.load().expect("load");
        assert!(plans.is_empty());
        assert_eq!(receipts, vec![r.clone(), r2.clone()]);
        let plan = Plan {
            id: "r1".into(),
            partner_id: "ACME".into(),
            created_at: Utc::now(),
            records: Vec::new(),
            deliveries: vec![Delivery {
                archive_path: d.join("x"),
                outbox_path: d.join("y"),
            }],
            source: Some(r.source.clone()),
            summary: None,
        };
        j.write_plan(&plan).expect("plan");
        let (plans, receipts) = j.load().expect("load");
        assert_eq!(plans, vec![plan]);
        assert_eq!(receipts, vec![r2.clone()]);
        j.mark_failed(&r2, "bug").expect("failed");
        j.remove_plan("r1").expect("remove");
        let (plans, receipts) = j.load().expect("load");
        assert!(plans.is_empty() && receipts.is_empty());
        let _ = std::fs::remove_dir_all(d);
    }
}
