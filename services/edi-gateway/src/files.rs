//! File primitives with crash semantics: atomic writes (temp file in the same directory, fsync,
//! rename, fsync of the directory), so a reader never sees a partial file and a crash leaves
//! either the old state or the new one; moves that survive crossing file systems; content
//! hashes and `file://` references.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::GatewayError;

/// Suffix of temporary files; they are never picked up from an inbox and are removed at start.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Whether a file name is one a sender is still writing or one of ours in progress: hidden
/// files, `*.tmp`, `*.part`, `*.partial`, `*.filepart` (common transfer-tool conventions).
pub fn is_in_progress_name(name: &str) -> bool {
    name.starts_with('.')
        || [TEMP_SUFFIX, ".part", ".partial", ".filepart"]
            .iter()
            .any(|s| name.ends_with(s))
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rand = uuid::Uuid::new_v4().simple().to_string();
    path.with_file_name(format!(".{name}.{}{TEMP_SUFFIX}", &rand[..8]))
}

/// Creates a directory and its parents.
pub fn ensure_dir(dir: &Path) -> Result<(), GatewayError> {
    fs::create_dir_all(dir)
        .map_err(|e| GatewayError::io(format!("creating directory {}", dir.display()), e))
}

fn sync_dir(dir: &Path) -> Result<(), GatewayError> {
    // directories cannot be opened for syncing on every platform; where they can, the rename
    // is made durable
    match File::open(dir) {
        Ok(d) => d
            .sync_all()
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::InvalidInput
                    || e.kind() == std::io::ErrorKind::PermissionDenied
                {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| GatewayError::io(format!("syncing directory {}", dir.display()), e)),
        Err(_) => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename over
/// `path`, fsync of the directory. Parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), GatewayError> {
    let dir = path
        .parent()
        .ok_or_else(|| GatewayError::Internal(format!("{} has no parent", path.display())))?;
    ensure_dir(dir)?;
    let tmp = temp_path(path);
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| GatewayError::io(format!("creating {}", tmp.display()), e))?;
        f.write_all(bytes)
            .map_err(|e| GatewayError::io(format!("writing {}", tmp.display()), e))?;
        f.sync_all()
            .map_err(|e| GatewayError::io(format!("syncing {}", tmp.display()), e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| {
            GatewayError::io(
                format!("renaming {} to {}", tmp.display(), path.display()),
                e,
            )
        })?;
        sync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Writes `bytes` to `path` atomically unless a file is already there (then leaves it).
/// Returns whether it wrote.
pub fn write_atomic_if_absent(path: &Path, bytes: &[u8]) -> Result<bool, GatewayError> {
    if path.exists() {
        return Ok(false);
    }
    write_atomic(path, bytes)?;
    Ok(true)
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, GatewayError> {
    fs::read(path).map_err(|e| GatewayError::io(format!("reading {}", path.display()), e))
}

/// Moves `from` to `to` (rename; copy + fsync + remove across file systems). A missing `from`
/// is not an error (already moved). Returns whether something was moved.
pub fn move_file(from: &Path, to: &Path) -> Result<bool, GatewayError> {
    if !from.exists() {
        return Ok(false);
    }
    if let Some(dir) = to.parent() {
        ensure_dir(dir)?;
    }
    match fs::rename(from, to) {
        Ok(()) => {
            if let Some(dir) = to.parent() {
                sync_dir(dir)?;
            }
            Ok(true)
        }
        Err(_) => {
            let bytes = read(from)?;
            write_atomic(to, &bytes)?;
            fs::remove_file(from)
                .map_err(|e| GatewayError::io(format!("removing {}", from.display()), e))?;
            Ok(true)
        }
    }
}

/// Removes a file; a missing file is fine.
pub fn remove(path: &Path) -> Result<(), GatewayError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(GatewayError::io(format!("removing {}", path.display()), e)),
    }
}

/// Removes leftover temporary files (of a crash mid-write) directly in `dir`.
pub fn remove_temp_files(dir: &Path) -> Result<usize, GatewayError> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            remove(&e.path())?;
            n += 1;
        }
    }
    Ok(n)
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses 64 hex digits (the parser of hashed credentials).
pub use dsync_service::auth::parse_sha256_hex;

/// `file://` URI of an absolute path.
pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The path of a `file://` URI.
pub fn path_of_uri(uri: &str) -> Option<PathBuf> {
    uri.strip_prefix("file://").map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("edi-files-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&d).expect("tempdir");
        d
    }

    #[test]
    fn atomic_write_leaves_no_temp_and_replaces() {
        let d = tempdir();
        let p = d.join("a/b/x.x12");
        write_atomic(&p, b"one").expect("write");
        write_atomic(&p, b"two").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let names: Vec<_> = fs::read_dir(p.parent().expect("parent"))
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1);
        assert!(!write_atomic_if_absent(&p, b"three").expect("write"));
        fs::write(d.join(".x.x12.abcd.tmp"), b"partial").expect("write");
        assert_eq!(remove_temp_files(&d).expect("clean"), 1);
        let _ = fs::remove_dir_all(d);
    }

    #[test]
    fn moves_and_hashes() {
        let d = tempdir();
        let a = d.join("a.x12");
        fs::write(&a, b"abc").expect("write");
        assert!(move_file(&a, &d.join("done/a.x12")).expect("move"));
        assert!(!move_file(&a, &d.join("done/a.x12")).expect("move again"));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let h = parse_sha256_hex(&sha256_hex(b"k")).expect("hex");
        assert_eq!(h, sha256(b"k"));
        assert_ne!(h, sha256(b"j"));
        assert!(is_in_progress_name(".x") && is_in_progress_name("a.part"));
        assert!(!is_in_progress_name("po.x12"));
        let _ = fs::remove_dir_all(d);
    }
}
