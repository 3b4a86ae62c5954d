//! The consumer's [`Handler`] of both input streams, `inventory.movements` and
//! `inventory.reservation-requests`: one handler because the two are co-partitioned and the
//! decisions of a partition share its state and lock ([`crate::projector::Slot`]). It routes a
//! record by topic and event type to [`crate::handlers::movements`] or
//! [`crate::handlers::reservations`] (through [`Projector`], which owns the state), skips what
//! it does not handle, and dead-letters a record on the wrong partition.

use dsync_bus::{Handler, HandlerError, HandlerResult, InboundRecord};
use dsync_events::{AnyEvent, EventsError};
use tracing::debug;

use crate::projector::{Kind, Projector};

impl Handler for Projector {
    async fn handle(&self, record: &InboundRecord) -> HandlerResult {
        let kind = if record.topic == self.topics.movements {
            Kind::Movement
        } else if record.topic == self.topics.requests {
            Kind::Request
        } else {
            self.metrics.ignored.inc();
            return Ok(vec![]);
        };
        let event = match self.codec.decode_record(record).await {
            Ok(e) => e,
            Err(EventsError::UnknownEventType(name)) => {
                debug!(%name, "event type not handled; skipped");
                self.metrics.ignored.inc();
                return Ok(vec![]);
            }
            Err(e) => return Err(e.into()),
        };
        let sku = match (&event, kind) {
            (AnyEvent::InventoryMovementRecorded(e), Kind::Movement) => e.sku.clone(),
            (AnyEvent::CycleCountSnapshot(e), Kind::Movement) => e.sku.clone(),
            (AnyEvent::ReservationRequested(e), Kind::Request) => e.sku.clone(),
            (AnyEvent::ReservationReleaseRequested(e), Kind::Request) => e.sku.clone(),
            _ => {
                self.metrics.ignored.inc();
                return Ok(vec![]);
            }
        };
        let owner = self.partition_of(&sku);
        if owner != record.partition {
            return Err(HandlerError::poison(format!(
                "SKU {sku} belongs to partition {owner} (murmur2) but arrived on {}: its producer does not partition like the catalog says, so co-partitioning cannot hold",
                record.partition
            )));
        }
        self.apply(kind, &sku, &event, record).await
    }

    fn partitions_assigned(&self, partitions: &[(String, i32)]) {
        self.assigned(partitions);
    }

    fn partitions_revoked(&self, partitions: &[(String, i32)]) {
        self.revoked(partitions);
    }
}
