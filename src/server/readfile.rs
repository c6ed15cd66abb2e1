//! Reading certificate and key files without trusting what the path names.
//!
//! A path may name a FIFO (opening it would wait for a writer forever), a device such as
//! `/dev/zero` (reading it never ends) or a huge file. Only regular files are read, only up to a
//! cap, and opening never blocks.

use std::io::Read;
use std::path::Path;

/// Certificates, chains and keys are a few KiB; 1 MiB leaves room for long bundles.
pub const MAX_PEM_FILE: u64 = 1024 * 1024;

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
