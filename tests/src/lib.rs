//! The test kit of the integration tests: the real broker ([`TestEnv`]: fresh topic and group
//! names per test, so tests run in parallel and never see each other's data), the services
//! in-process ([`TestService`], [`Running`], [`ServiceEnv`]: a registry of their own, a fresh
//! topic prefix and group, port 0), one polling helper ([`eventually`]), the positive markers an
//! absence check waits for first ([`TestEnv::wait_caught_up`]), and a scripted handler whose
//! behaviour each record's payload chooses.
//!
//! The fixtures (event builders, partner profiles, X12 samples) live once in the crate that
//! owns them, behind its `test-util` feature, and are shared with its unit tests.

pub mod edi;
mod env;
mod eventually;
pub mod intake;
pub mod inventory;
pub mod registry;
mod scripted;
mod service;

pub use env::{metric_value, TestEnv};
pub use eventually::{eventually, eventually_every, Check, POLL_INTERVAL};
pub use registry::{RegistryClient, Reply, TestRegistry};
pub use scripted::{payload_of, source_of, ScriptedHandler, Seen, SOURCE_HEADER};
pub use service::{admin_ready, Handles, Published, Running, ServiceEnv, TestService, ANY_PORT};
