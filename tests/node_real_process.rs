//! `check --node` against the real `/proc`: the test builds a tiny program, starts two copies
//! named `kube-controller-manager` with flags, and finds and judges them by pid.

mod common;
use common::nodefs::check_node;
use common::skip::skip;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Blocks until its stdin closes, whatever its arguments: it lives exactly as long as the test
/// holds the pipe (or the test process itself).
const HELPER: &str = "use std::io::Read;\nfn main() {\n    let mut b = Vec::new();\n    let _ = std::io::stdin().read_to_end(&mut b);\n}\n";

fn build_helper(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("helper.rs");
    std::fs::write(&src, HELPER).expect("write helper source");
    let bin_dir = dir.join("bin");
    std::fs::create_dir_all(&bin_dir).expect("mkdir bin");
    let out = bin_dir.join("kube-controller-manager");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    match Command::new(&rustc)
        .args(["--edition=2021", "-C", "debuginfo=0", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
    {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => panic!(
            "rustc failed to build the helper: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            skip(&format!(
                "{rustc} cannot run ({e}); the real-process test needs it"
            ));
            None
        }
    }
}

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(bin: &Path, args: &[&str]) -> Running {
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the helper");
    let running = Running(child);
    // spawn returns after exec, but wait for the kernel to show the new argv to be sure.
    let cmdline = PathBuf::from(format!("/proc/{}/cmdline", running.0.id()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::read(&cmdline)
            .is_ok_and(|b| String::from_utf8_lossy(&b).contains("kube-controller-manager"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

#[test]
fn finds_and_judges_a_real_controller_manager() {
    if !Path::new("/proc/self/cmdline").exists() {
        skip("no /proc on this system");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(bin) = build_helper(dir.path()) else {
        return;
    };
    let on = start(
        &bin,
        &[
            "--kubeconfig=/etc/kubernetes/controller-manager.conf",
            "--feature-gates",
            "RotateKubeletServerCertificate=true",
        ],
    );
    let off = start(
        &bin,
        &[
            "--feature-gates=RotateKubeletServerCertificate=false",
            "--leader-elect",
        ],
    );
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir root");
    let run = check_node(&root, Path::new("/proc"), None);
    let json = run.json();
    assert_no_problems("contract", &contract_problems(&json));
    // Other processes on this machine may be judged too; ours fails, so never exit 0.
    assert_ne!(run.code, 0, "{}", run.stdout);
    let results = parse_results(&json);
    let verdict = |pid: u32| -> &Res {
        results
            .iter()
            .find(|r| r.source == format!("process:{pid}") && r.rule == CM)
            .unwrap_or_else(|| panic!("no result for pid {pid}: {}", run.stdout))
    };
    let good = verdict(on.0.id());
    assert_eq!(good.status, PASS, "{}", good.message);
    assert_eq!(good.object, "kube-controller-manager");
    let bad = verdict(off.0.id());
    assert_eq!(bad.status, FAIL, "{}", bad.message);
    assert!(
        bad.remediation
            .contains("RotateKubeletServerCertificate=true")
    );
}
