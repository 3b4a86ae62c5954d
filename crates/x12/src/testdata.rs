//! The X12 corpus under `testdata/inbound` (see its README: what each file tests), for the
//! tests of this crate's users (`test-util` feature): interchanges from buyer `ZZ/BUYERCO` to
//! us `ZZ/DISTSYNC`.

use std::path::PathBuf;

/// The path of corpus file `name`.
pub fn inbound_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/inbound")
        .join(name)
}

/// The bytes of corpus file `name`; the error names the file.
pub fn inbound(name: &str) -> Result<Vec<u8>, String> {
    let p = inbound_path(name);
    std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
}
