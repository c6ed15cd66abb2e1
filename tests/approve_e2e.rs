//! Opt-in, against a real cluster: `KUBECONFIG=... cargo test --test approve_e2e -- --ignored`.
//! Read-only: `--once --dry-run` judges the cluster's pending kubelet-serving CSRs and writes
//! nothing; the summary must add up to the pending CSRs `kubectl` lists.

use std::process::Command;

#[test]
#[ignore = "needs a real cluster: set KUBECONFIG and run with --ignored"]
fn dry_run_once_against_the_cluster_in_kubeconfig() {
    let kubeconfig = std::env::var("KUBECONFIG").expect("set KUBECONFIG to a real cluster");
    let out = Command::new(env!("CARGO_BIN_EXE_kubelet-tls-guard"))
        .args([
            "approve-csrs",
            "--once",
            "--dry-run",
            "--kubeconfig",
            &kubeconfig,
        ])
        .output()
        .expect("run approve-csrs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nums: Vec<usize> = stdout
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(nums.len(), 4, "summary line: {stdout}");
    let listed = Command::new("kubectl")
        .args([
            "get",
            "csr",
            "--field-selector",
            "spec.signerName=kubernetes.io/kubelet-serving",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[0].type}{\"|\\n\"}{end}",
        ])
        .output()
        .expect("kubectl get csr");
    let pending = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| *l == "|")
        .count();
    assert_eq!(nums[0] + nums[1] + nums[2] + nums[3], pending, "{stdout}");
}
