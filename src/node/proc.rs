//! The control-plane components running on this node, from `PROC/*/cmdline`.
//!
//! Linux writes a process's argv there as NUL-terminated words. A process that rewrote its
//! argv may leave the last NUL out; a kernel thread has an empty file; a process that exits
//! while we read, or belongs to another user under `hidepid`, cannot be read. None of those
//! is an error: the process is simply not one of ours.

use crate::engine::read::component::{self, Insert};
use crate::engine::read::flags::Flags;
use crate::engine::rules::Component;
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};

/// argv is capped at a few MiB by the kernel (ARG_MAX); anything longer is not a cmdline.
const MAX_CMDLINE_BYTES: u64 = 8 * 1024 * 1024;

/// One running kube-apiserver, kube-controller-manager or kubelet.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub pid: u32,
    pub component: Component,
    pub argv: Vec<String>,
    /// The flags after the executable (and after the hyperkube subcommand).
    pub flags: Flags<'static>,
    /// The working directory, when `PROC/PID/cwd` can be read: relative paths resolve there.
    pub cwd: Option<PathBuf>,
}

/// What a scan of a proc directory found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    pub processes: Vec<Process>,
    /// Numeric entries seen, and how many of them could not be read (gone, or not ours).
    pub seen: usize,
    pub unreadable: usize,
}

/// Split a cmdline file into argv, byte-exact: each word ends with a NUL, the last NUL may be
/// missing, and an empty word is a real (empty) argument.
pub fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let body = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    body.split(|b| *b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

/// Which component an argv runs, with its flags. Reuses the container recogniser: the argv
/// is what a container's `command` would be. A shell wrapper (`sh -c "kube-apiserver …"`) is
/// not the component: its child process is, and is found on its own.
pub fn recognize(argv: &[String]) -> Option<(Component, Flags<'static>)> {
    let first = argv.first()?;
    if first.is_empty() {
        return None;
    }
    let container: Value = json!({ "command": argv });
    let inv = component::recognize(&container, None, true)?;
    match inv.insert {
        Insert::Shell { .. } => None,
        Insert::List { .. } => Some((inv.component, inv.flags.into_owned())),
    }
}

fn read_cmdline(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CMDLINE_BYTES)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Scan `proc_dir` (normally `/proc`). Only a proc directory that cannot be listed at all is an
/// error; processes come back sorted by pid.
pub fn scan(proc_dir: &Path) -> Result<Scan, String> {
    let entries = std::fs::read_dir(proc_dir)
        .map_err(|e| format!("{}: cannot list processes: {e}", proc_dir.display()))?;
    let mut out = Scan::default();
    for entry in entries {
        let Ok(entry) = entry else {
            out.unreadable += 1;
            continue;
        };
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        out.seen += 1;
        let dir = entry.path();
        let Ok(bytes) = read_cmdline(&dir.join("cmdline")) else {
            out.unreadable += 1;
            continue;
        };
        let argv = split_cmdline(&bytes);
        if let Some((component, flags)) = recognize(&argv) {
            out.processes.push(Process {
                pid,
                component,
                argv,
                flags,
                cwd: std::fs::read_link(dir.join("cwd")).ok(),
            });
        }
    }
    out.processes.sort_by_key(|p| p.pid);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn cmdline_bytes() {
        assert_eq!(split_cmdline(b""), Vec::<String>::new());
        assert_eq!(split_cmdline(b"kubelet\0"), v(&["kubelet"]));
        assert_eq!(
            split_cmdline(b"kubelet\0--a\0b"),
            v(&["kubelet", "--a", "b"])
        );
        assert_eq!(split_cmdline(b"x\0\0"), v(&["x", ""]));
        assert_eq!(split_cmdline(b"\0"), v(&[""]));
    }

    #[test]
    fn recognises_forms() {
        let c = |w: &[&str]| recognize(&v(w)).map(|(c, _)| c);
        assert_eq!(c(&["/usr/bin/kubelet", "--v=2"]), Some(Component::Kubelet));
        assert_eq!(c(&["hyperkube", "apiserver"]), Some(Component::ApiServer));
        assert_eq!(
            c(&["/hyperkube", "kube-controller-manager"]),
            Some(Component::ControllerManager)
        );
        assert_eq!(c(&["/hyperkube", "kubelet"]), Some(Component::Kubelet));
        assert_eq!(c(&["hyperkube"]), None);
        assert_eq!(c(&["/bin/sh", "-c", "exec kube-apiserver --a=b"]), None);
        assert_eq!(c(&["kubectl", "get", "pods"]), None);
        assert_eq!(c(&["", "kubelet"]), None);
        let (_, flags) = recognize(&v(&[
            "kube-apiserver",
            "--kubelet-certificate-authority",
            "/ca.crt",
        ]))
        .unwrap();
        assert_eq!(
            flags.value("kubelet-certificate-authority"),
            Some("/ca.crt")
        );
    }
}
