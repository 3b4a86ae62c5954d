//! `dsync`, the pipeline's command-line tool, as a library (the binary is a thin wrapper, and
//! the tests call these functions in-process):
//!
//! * [`produce`]: JSON lines or CSV in, Avro events through the schema registry onto a topic
//!   (like Confluent's avro console producer), every record validated against its event type,
//!   bad lines reported with their line number and field.
//! * [`consume`]: a topic's events decoded through the registry as JSON lines, from the
//!   beginning, from offsets, or following.
//! * [`sample`]: the deterministic generator of the sample data in `data/sample/` (master data
//!   of a small distributor, in CSV, and sample orders in JSON lines).

pub mod avro;
pub mod catalog;
pub mod consume;
pub mod csv_input;
mod error;
pub mod produce;
pub mod sample;

pub use consume::{consume, ConsumeArgs, ConsumeSummary, PartitionOffset};
pub use error::CliError;
pub use produce::{produce, produce_from, InputFormat, LineError, ProduceArgs, ProduceSummary};
