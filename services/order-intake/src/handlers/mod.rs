//! The handlers: plain logic over typed events and state, one module per stream, no I/O.
//! The I/O around them (decoding, producing, followers) is in [`crate::consumer`] and
//! [`crate::follow`].

pub mod invoicing;
pub mod master_data;
pub mod order_events;
pub mod submissions;

#[cfg(test)]
pub(crate) mod testkit;
