//! Fake nodes for `check --node`: a temporary directory holding a node's `/` (`root/`) and a
//! `/proc` (`proc/`) whose `PID/cmdline` files are written byte for byte as Linux writes them
//! (every argv word followed by a NUL).

use super::{Run, run};
use std::path::{Path, PathBuf};

pub struct FakeNode {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub proc_dir: PathBuf,
}

/// argv as the kernel writes it to `/proc/PID/cmdline`.
pub fn cmdline_bytes(argv: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for w in argv {
        out.extend_from_slice(w.as_bytes());
        out.push(0);
    }
    out
}

impl FakeNode {
    pub fn new() -> FakeNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        let proc_dir = dir.path().join("proc");
        std::fs::create_dir_all(&root).expect("mkdir root");
        std::fs::create_dir_all(&proc_dir).expect("mkdir proc");
        // What a real /proc also holds beside the pids.
        for name in ["self", "sys", "meminfo", "1x"] {
            std::fs::create_dir_all(proc_dir.join(name)).expect("mkdir proc entry");
        }
        FakeNode {
            _dir: dir,
            root,
            proc_dir,
        }
    }

    /// A process running `argv`.
    pub fn process(&self, pid: u32, argv: &[&str]) -> &Self {
        self.process_raw(pid, &cmdline_bytes(argv))
    }

    /// A process whose cmdline holds exactly `bytes`.
    pub fn process_raw(&self, pid: u32, bytes: &[u8]) -> &Self {
        let dir = self.proc_dir.join(pid.to_string());
        std::fs::create_dir_all(&dir).expect("mkdir pid");
        std::fs::write(dir.join("cmdline"), bytes).expect("write cmdline");
        self
    }

    /// A process that cannot be read (it exited while we listed /proc): `cmdline` is no file.
    pub fn vanished(&self, pid: u32) -> &Self {
        let dir = self.proc_dir.join(pid.to_string());
        std::fs::create_dir_all(dir.join("cmdline")).expect("mkdir pid/cmdline");
        self
    }

    /// Write `text` at the node path `path` (absolute, as the node sees it).
    pub fn file(&self, path: &str, text: &str) -> &Self {
        let p = self.host(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir parent");
        }
        std::fs::write(&p, text).expect("write node file");
        self
    }

    /// The host path of a node path.
    pub fn host(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Copy a file from tests/fixtures to the node path `path`.
    pub fn fixture(&self, fixture: &str, path: &str) -> &Self {
        let text =
            std::fs::read_to_string(super::fixtures_dir().join(fixture)).expect("read fixture");
        self.file(path, &text)
    }

    /// `check --node --format json` over this node.
    pub fn check(&self, profile: Option<&str>) -> Run {
        check_node(&self.root, &self.proc_dir, profile)
    }
}

/// `check --node --root ROOT --proc PROC --format json [--profile P]`.
pub fn check_node(root: &Path, proc_dir: &Path, profile: Option<&str>) -> Run {
    let root = root.to_string_lossy();
    let proc_dir = proc_dir.to_string_lossy();
    let mut args = vec![
        "check", "--node", "--root", &root, "--proc", &proc_dir, "--format", "json",
    ];
    if let Some(p) = profile {
        args.push("--profile");
        args.push(p);
    }
    run(&args, None)
}
