//! Shared by the approver's tests against the real kube-apiserver: install the shipped
//! csr-approver ServiceAccount and RBAC, and run `approve-csrs` as that ServiceAccount.

use super::apiserver::ApiServer;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

pub const SA_NS: &str = "kubelet-tls-guard";
pub const SA: &str = "kubelet-tls-guard-csr-approver";
pub const SERVING: &str = "kubernetes.io/kubelet-serving";

pub fn lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped ServiceAccount and RBAC, applied as admin; plus what lets nodes create CSRs
/// (kubeadm binds the same role for bootstrapping kubelets). Returns the approver's kubeconfig.
pub fn install(s: &ApiServer) -> PathBuf {
    static DONE: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(kc) = done.as_ref() {
        return kc.clone();
    }
    s.ensure_namespace(SA_NS);
    let dir = crate_dir().join("manifests/components/csr-approver");
    for f in ["serviceaccount.yaml", "rbac.yaml"] {
        let yaml = std::fs::read_to_string(dir.join(f)).expect("read component");
        s.apply_yaml(&yaml)
            .unwrap_or_else(|e| panic!("apply {f}: {e}"));
    }
    s.apply_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: test-nodes-create-csrs\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node-bootstrapper}\n\
         subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:nodes}]\n",
    )
    .expect("bind system:node-bootstrapper");
    let kc = s.serviceaccount_kubeconfig(SA_NS, SA);
    *done = Some(kc.clone());
    kc
}

pub fn approver_cmd(kubeconfig: &Path, args: &[&str]) -> Command {
    // KTG_APPROVER_BIN: measure another build (e.g. release) of the same binary.
    let bin = std::env::var("KTG_APPROVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_kubelet-tls-guard").to_string());
    let mut cmd = Command::new(bin);
    cmd.arg("approve-csrs")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    for v in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

pub fn run_approver(kubeconfig: &Path, args: &[&str]) -> Output {
    approver_cmd(kubeconfig, args)
        .output()
        .expect("run approve-csrs")
}

pub fn out_text(out: &Output) -> String {
    format!(
        "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
