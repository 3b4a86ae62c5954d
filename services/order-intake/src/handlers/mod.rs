//! The handlers: one module per input stream, its logic plain code over typed events and
//! state (no I/O, unit-tested). The consumer's `dsync_bus::Handler` of `orders.submissions` is
//! [`submissions::SubmissionHandler`]; the followers of the other streams are in
//! [`crate::follow`].

pub mod invoicing;
pub mod master_data;
pub mod order_events;
pub mod submissions;

#[cfg(test)]
pub(crate) mod testkit;
