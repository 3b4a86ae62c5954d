//! The gateway's logic per input stream, as plain functions over values (no I/O), unit-tested:
//!
//! * [`interchanges`]: a received file (inbox or upload) -> events and acknowledgements.
//! * [`orders_events`]: `orders.events` order outcomes -> 855s; its
//!   [`orders_events::OrderEventsHandler`] is the consumer's `dsync_bus::Handler`.
//! * [`edi_documents`]: `edi.documents` -> the partners' state (duplicate windows, control
//!   numbers, documents awaiting a 997).
//! * [`overdue`]: the periodic sweep for 997s past their deadline.

pub mod edi_documents;
pub mod interchanges;
pub mod orders_events;
pub mod overdue;
