//! Files written and read safely: the one atomic write (`certs`, `fix`) and the one bounded read
//! of a regular file (node inputs, the server's certificates and keys).
//!
//! A path may name a FIFO (opening it would wait for a writer forever), a device such as
//! `/dev/zero` (reading it never ends) or a huge file: only regular files are read, only up to a
//! cap, and opening never blocks.
//!
//! A write goes to a temporary file in the same directory, is fsynced, renamed over the target
//! and the directory is fsynced, so a crash leaves the old file or the new one, never half of
//! one. A kill -9 can leave the temporary file: its name carries our pid, so the next write into
//! that directory removes the ones whose process is gone.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Prefix of our temporary files. The leading dot keeps the kubelet from reading them as static
/// pods (it skips hidden files in its manifest directory).
const TMP_PREFIX: &str = ".kubelet-tls-guard-tmp-";

/// How to write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions<'a> {
    /// Mode of a new file. An existing file keeps its mode and owner.
    pub mode: Option<u32>,
    /// Keep a copy of the previous content under the name [`backup_path`] gives.
    pub backup_suffix: Option<&'a str>,
}

/// Where the backup of `path` goes: beside it, hidden (`.NAME` + suffix), because the kubelet
/// loads every non-hidden file in its static pod directory, a backup included.
pub fn backup_path(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hidden = if name.starts_with('.') {
        name
    } else {
        format!(".{name}")
    };
    path.with_file_name(format!("{hidden}{suffix}"))
}

/// Replace `path`'s content atomically (through symlinks: a Secret or ConfigMap mount is a
/// link, and it is the target that changes). Returns the backup's path when one was written.
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    opts: WriteOptions<'_>,
) -> std::io::Result<Option<PathBuf>> {
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    remove_stale_temporaries(&dir);
    let existing = std::fs::metadata(&target).ok();
    let mode = existing
        .as_ref()
        .map(|m| m.permissions().mode() & 0o7777)
        .or(opts.mode)
        .unwrap_or(0o644);
    let backup = match (opts.backup_suffix, &existing) {
        (Some(""), _) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the backup suffix is empty: the backup would overwrite the file itself",
            ));
        }
        (Some(suffix), Some(meta)) => {
            // The backup is written like the file: a full disk leaves the old backup intact.
            let bak = backup_path(&target, suffix);
            let old = std::fs::read(&target)?;
            replace(&dir, &bak, &old, mode, Some(meta))?;
            Some(bak)
        }
        _ => None,
    };
    replace(&dir, &target, contents, mode, existing.as_ref())?;
    Ok(backup)
}

/// Temp file (mode set before any byte is written), fsync, owner kept, rename, fsync the dir.
fn replace(
    dir: &Path,
    target: &Path,
    contents: &[u8],
    mode: u32,
    owner: Option<&std::fs::Metadata>,
) -> std::io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{TMP_PREFIX}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    tmp.write_all(contents)?;
    if let Some(meta) = owner {
        // Only root may give a file away; elsewhere the owner is already ours.
        let _ = std::os::unix::fs::chown(tmp.path(), Some(meta.uid()), Some(meta.gid()));
    }
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Remove our temporary files whose writer is no longer running (a kill -9 mid-write).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Why a file was not read. The message names the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ReadError {
    pub path: String,
    pub reason: String,
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Read `path` (following symlinks, as Secret volumes need) if it is a regular file of at most
/// `cap` bytes.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let err = |reason: String| ReadError {
        path: path.display().to_string(),
        reason,
    };
    // Look first, so a device is never even opened.
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err(format!(
            "is {}; only regular files are read",
            kind_of(meta.file_type())
        )));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        // The path can be swapped for a FIFO between the look and the open: O_NONBLOCK makes
        // that open return at once, and the type is checked again on the open file.
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(|e| err(e.to_string()))?;
    let meta = file.metadata().map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err(format!(
            "is {}; only regular files are read",
            kind_of(meta.file_type())
        )));
    }
    if meta.len() > cap {
        return Err(err(format!(
            "is {} bytes, more than the {cap}-byte limit",
            meta.len()
        )));
    }
    // The length can still grow while reading: never take more than the cap.
    let mut out = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| err(e.to_string()))?;
    if out.len() as u64 > cap {
        return Err(err(format!("grew past the {cap}-byte limit while read")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn reads_regular_files_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.pem");
        std::fs::write(&ok, b"hello").unwrap();
        assert_eq!(read_regular(&ok, 10).unwrap(), b"hello");
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        assert_eq!(read_regular(&link, 10).unwrap(), b"hello");

        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'x'; 11]).unwrap();
        let e = read_regular(&big, 10).unwrap_err();
        assert!(e.reason.contains("10-byte limit"), "{e}");

        let e = read_regular(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(e.reason.contains("character device"), "{e}");
        let e = read_regular(dir.path(), 10).unwrap_err();
        assert!(e.reason.contains("directory"), "{e}");
        let e = read_regular(&dir.path().join("absent"), 10).unwrap_err();
        assert!(e.to_string().contains("absent"), "{e}");
    }
}
