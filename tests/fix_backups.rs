//! `fix --in-place` and its backups (hardening issue, points 7 and 9): a failed write leaves the
//! file and the previous backup as they were, backups keep the owner and mode and are hidden from
//! the kubelet, an empty suffix is refused, a killed run's temporary file is cleaned up, and a fix
//! that adds the kubelet CA flag says what that breaks.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubelet-tls-guard")
}

/// A kube-apiserver static pod that lacks the kubelet CA flag, padded past 2 KiB with comments
/// (the size limit below cuts writes at 1 KiB).
fn manifest() -> String {
    let mut text = String::from("# kubeadm static pod\n");
    for i in 0..40 {
        text.push_str(&format!(
            "# padding line {i:02} ................................\n"
        ));
    }
    text.push_str(
        "apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
  labels: {component: kube-apiserver, tier: control-plane}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.34.2
    command:
    - kube-apiserver
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    volumeMounts:
    - {name: k8s-certs, mountPath: /etc/kubernetes/pki, readOnly: true}
  volumes:
  - name: k8s-certs
    hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}
",
    );
    text
}

fn setup() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("kube-apiserver.yaml");
    let text = manifest();
    fs::write(&file, &text).expect("write");
    (dir, file, text)
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(bin()).args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn backups_are_hidden_from_the_kubelet_and_keep_owner_and_mode() {
    let (dir, file, text) = setup();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).expect("chmod");
    // As root (CI), give the file away first: the backup must stay with that owner.
    let owner = if std::os::unix::fs::chown(&file, Some(4321), Some(4321)).is_ok() {
        4321
    } else {
        fs::metadata(&file).expect("stat").uid()
    };
    let f = file.to_str().expect("utf-8 path");
    let (code, stderr) = run(&["fix", "--in-place", "--backup-suffix", ".bak", f]);
    assert_eq!(code, 0, "{stderr}");
    let backup = dir.path().join(".kube-apiserver.yaml.bak");
    assert_eq!(fs::read_to_string(&backup).expect("backup"), text);
    let meta = fs::metadata(&backup).expect("stat backup");
    assert_eq!(meta.uid(), owner, "backup owner");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "backup mode");
    assert!(
        stderr.contains(&backup.display().to_string()),
        "fix says where the backup is: {stderr}"
    );
    // Nothing but the file and its hidden backup: the kubelet would run any other file here.
    let visible: Vec<_> = fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(visible, ["kube-apiserver.yaml"]);
}

#[test]
fn an_empty_backup_suffix_is_refused() {
    let (_dir, file, text) = setup();
    let f = file.to_str().expect("utf-8 path");
    let (code, stderr) = run(&["fix", "--in-place", "--backup-suffix", "", f]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("backup suffix is empty"), "{stderr}");
    assert_eq!(fs::read_to_string(&file).expect("read"), text);
}

/// A full disk, simulated with a file-size limit (it binds root too): the write fails, and the
/// file and the backup of an earlier run are as they were.
#[test]
fn a_failed_write_keeps_the_file_and_the_previous_backup() {
    let (dir, file, text) = setup();
    let backup = dir.path().join(".kube-apiserver.yaml.bak");
    fs::write(&backup, "previous backup\n").expect("write old backup");
    let script = format!(
        "trap '' XFSZ; ulimit -f 1; exec '{}' fix --in-place --backup-suffix .bak '{}'",
        bin(),
        file.display()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(fs::read_to_string(&file).expect("read"), text);
    assert_eq!(
        fs::read_to_string(&backup).expect("old backup"),
        "previous backup\n"
    );
}

#[test]
fn a_directory_in_the_backups_place_fails_cleanly_even_for_root() {
    let (dir, file, text) = setup();
    fs::create_dir(dir.path().join(".kube-apiserver.yaml.bak")).expect("mkdir");
    let f = file.to_str().expect("utf-8 path");
    let (code, stderr) = run(&["fix", "--in-place", "--backup-suffix", ".bak", f]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the original is unchanged"), "{stderr}");
    assert_eq!(fs::read_to_string(&file).expect("read"), text);
    assert_no_temporaries(dir.path());
}

#[test]
fn a_killed_runs_temporary_file_is_removed_by_the_next_run() {
    let (dir, file, _) = setup();
    // What a kill -9 mid-write leaves: our prefix, the pid of a process that is gone.
    let stale = dir.path().join(".kubelet-tls-guard-tmp-4000000-abc123");
    fs::write(&stale, "half a file").expect("write stale");
    // Someone else's file with a similar name is not ours to remove.
    let foreign = dir.path().join(".kubelet-tls-guard-tmp-notapid");
    fs::write(&foreign, "x").expect("write foreign");
    let f = file.to_str().expect("utf-8 path");
    let (code, stderr) = run(&["fix", "--in-place", f]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stale.exists(), "the stale temporary file is still there");
    assert!(foreign.exists());
}

#[test]
fn adding_the_kubelet_ca_flag_warns_what_it_breaks() {
    let (_dir, file, _) = setup();
    let f = file.to_str().expect("utf-8 path");
    for args in [vec!["fix", "--diff", f], vec!["fix", "--in-place", f]] {
        let (code, stderr) = run(&args);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains("breaks kubectl logs/exec") && stderr.contains("scan"),
            "{args:?}: {stderr}"
        );
        // --diff writes nothing, so it says what would be fixed; --in-place what was.
        let said = if args[1] == "--diff" {
            "would be fixed apiserver-kubelet-ca"
        } else {
            "fixed apiserver-kubelet-ca"
        };
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
}

fn assert_no_temporaries(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".kubelet-tls-guard-tmp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}
