//! What order-intake holds in memory: the master data copy and the order history (outcomes,
//! duplicate indexes, credit exposure), each rebuilt from topics at start.

pub mod ledger;
pub mod master;

pub use ledger::{IntakeState, OrderRecord, Outcome};
pub use master::{MasterData, Table};
