//! Files written and read safely: the one atomic write (`certs`, `fix`) and the one bounded read
//! of a regular file (node inputs, certificates).
//!
//! A write goes to a temporary file in the same directory, is fsynced, renamed over the target
//! and the directory is fsynced, so a crash leaves the old file or the new one, never half of
//! one. A kill -9 can leave the temporary file: its name carries our pid, so the next write into
//! that directory removes the ones whose process is gone.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
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

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a regular file")]
    NotRegular,
    #[error("larger than {0} bytes")]
    TooLarge(u64),
}

/// Read a regular file of at most `max` bytes. FIFOs, devices and sockets are refused without
/// blocking (opened non-blocking, then checked), so `/dev/zero` or a FIFO cannot hang or grow us.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular);
    }
    let mut bytes = Vec::with_capacity(meta.len().min(max) as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(bytes)
}
