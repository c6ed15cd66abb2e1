//! A real etcd and kube-apiserver on loopback (issue 9), one per test binary, shared by its tests.
//!
//! The binaries come from `scripts/build-apiserver.sh` (Go module `tests/apiserver/`) in
//! `${CARGO_TARGET_DIR:-target}/apiserver/`; tests never build them. Without them (or without
//! kubectl) `shared()` calls `skip(..)` and returns `None`.
//!
//! Setup: generated CAs and certificates, ES256 service-account keys, `Node,RBAC` authorization
//! with NodeRestriction, an audit log at level Metadata (it keeps admission annotations), and the
//! ServiceAccount admission plugin off: without a controller-manager no `default` ServiceAccount
//! would ever exist, and every Pod create would fail.
//!
//! Cleanup: statics are never dropped, so each process runs under a small `sh` watchdog that
//! kills it when the test process is gone (normal exit, panic, or SIGKILL); a third one then
//! removes the data directory. Each run also leaves pid files, so a later run reaps anything a
//! killed watchdog left behind.
//!
//! Environment: `KTG_APISERVER_BIN_DIR` where the binaries are (default below, `bin_dir`);
//! `KTG_KEEP_APISERVER_DIR=1` keeps the directory (certificates, kubeconfigs, process and audit
//! logs) after the run for a look; the processes still go.

#[path = "apiserver_pki.rs"]
pub mod pki;
#[path = "apiserver_proc.rs"]
mod proc;
#[path = "apiserver_webhook.rs"]
pub mod webhook;

use super::skip;
use base64::Engine as _;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running API server and what it takes to talk to it.
pub struct ApiServer {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    /// The CA that signed the API server's serving certificate.
    pub ca_pem: String,
    /// Certificates, kubeconfigs, logs and etcd data; removed when the test process is gone.
    pub dir: PathBuf,
    /// `system:masters` through a client certificate.
    pub admin_kubeconfig: PathBuf,
    /// JSON lines, one audit event each (level Metadata; `/readyz`-style probes left out).
    pub audit_log: PathBuf,
    /// How long the start took, until `/readyz` answered `ok`.
    pub startup: Duration,
    client_ca: pki::Ca,
    kubelet_ca: pki::Ca,
    kubeconfigs: Mutex<HashMap<String, PathBuf>>,
}

enum State {
    Ready(Box<ApiServer>),
    /// Go, the binaries or kubectl are missing: each test skips with this reason.
    Missing(String),
    /// They are there but the server did not come up: each test fails with this.
    Failed(String),
}

/// The API server of this test binary, started on first use. `None` after `skip(..)`.
pub fn shared() -> Option<&'static ApiServer> {
    static STATE: OnceLock<State> = OnceLock::new();
    match STATE.get_or_init(start) {
        State::Ready(server) => Some(server),
        State::Missing(reason) => {
            skip::skip(reason);
            None
        }
        State::Failed(why) => panic!("the test kube-apiserver did not start: {why}"),
    }
}

/// Where `scripts/build-apiserver.sh` puts the binaries: `$KTG_APISERVER_BIN_DIR`, else
/// `$CARGO_TARGET_DIR/apiserver`, else `apiserver/` in the target directory holding this test
/// executable.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KTG_APISERVER_BIN_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        let dir = if dir.is_absolute() {
            dir
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir)
        };
        return dir.join("apiserver");
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .map(|a| a.join("apiserver"))
        .find(|d| d.join("kube-apiserver").is_file())
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join("apiserver")
        })
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

fn start() -> State {
    let bins = bin_dir();
    let (apiserver, etcd) = (bins.join("kube-apiserver"), bins.join("etcd"));
    if !apiserver.is_file() || !etcd.is_file() {
        let why = if on_path("go") {
            "run scripts/build-apiserver.sh (scripts/test.sh does) to build them"
        } else {
            "Go is not installed, so scripts/build-apiserver.sh cannot build them"
        };
        return State::Missing(format!(
            "no kube-apiserver and etcd in {}: {why}; real API server tests not run",
            bins.display()
        ));
    }
    if !on_path("kubectl") {
        return State::Missing("kubectl is not installed; real API server tests not run".into());
    }
    proc::reap_stale();
    // A port taken between probing and binding is the only expected failure: retry it.
    let mut errors = Vec::new();
    for _ in 0..3 {
        match proc::launch(&apiserver, &etcd) {
            Ok(server) => return State::Ready(Box::new(server)),
            Err(e) => {
                let retry = e.contains("address already in use");
                errors.push(e);
                if !retry {
                    break;
                }
            }
        }
    }
    State::Failed(errors.join("\n---- retry ----\n"))
}

impl ApiServer {
    fn new_parts(
        url: String,
        dir: PathBuf,
        ca_pem: String,
        client_ca: pki::Ca,
        kubelet_ca: pki::Ca,
    ) -> ApiServer {
        ApiServer {
            url,
            admin_kubeconfig: dir.join("admin.kubeconfig"),
            audit_log: dir.join("audit.log"),
            dir,
            ca_pem,
            startup: Duration::ZERO,
            client_ca,
            kubelet_ca,
            kubeconfigs: Mutex::new(HashMap::new()),
        }
    }

    /// Run kubectl as cluster admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_as(&self.admin_kubeconfig, args, None)
    }

    /// Run kubectl with `kubeconfig`, feeding `stdin` when given.
    pub fn kubectl_as(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.join("kubectl-cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        proc::clear_proxy(&mut cmd);
        let mut child = cmd.spawn().expect("spawn kubectl");
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            use std::io::Write as _;
            let _ = pipe.write_all(input.as_bytes());
        }
        child.wait_with_output().expect("wait for kubectl")
    }

    /// Run kubectl as admin with `stdin`; `Ok(stdout + stderr)` on success, `Err` with both
    /// (and the exit status) otherwise. kubectl prints admission warnings on stderr.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Result<String, String> {
        let out = self.kubectl_as(&self.admin_kubeconfig, args, Some(stdin));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("kubectl {args:?} failed ({}): {text}", out.status))
        }
    }

    /// `kubectl apply -f -` as admin.
    pub fn apply_yaml(&self, yaml: &str) -> Result<(), String> {
        self.kubectl_stdin(&["apply", "-f", "-"], yaml).map(|_| ())
    }

    /// Node `name` whose kubelet listens at `port` on `addresses` (a list of Node address
    /// objects). There is no kubelet to report them, so the status is written as admin.
    pub fn node_listening(&self, name: &str, addresses: serde_json::Value, port: u16) {
        let node =
            serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}});
        if let Err(e) = self.apply_yaml(&node.to_string()) {
            panic!("create node {name}: {e}");
        }
        let status = serde_json::json!({"status": {"addresses": addresses,
                        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}});
        let patch = status.to_string();
        let args = [
            "patch",
            "node",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ];
        let out = self.kubectl(&args);
        assert!(
            out.status.success(),
            "node {name} status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Create `namespace` unless it exists (there is no controller-manager: a namespace, once
    /// deleted, stays Terminating, so tests use fresh names instead of deleting).
    pub fn ensure_namespace(&self, namespace: &str) {
        let yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n");
        if let Err(e) = self.apply_yaml(&yaml) {
            panic!("create namespace {namespace}: {e}");
        }
    }

    /// A kubeconfig for ServiceAccount `namespace/name` (created if needed), with a token from
    /// the TokenRequest API (`kubectl create token`), valid for a day.
    pub fn serviceaccount_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        let key = format!("sa-{namespace}-{name}");
        self.cached_kubeconfig(&key, || {
            self.ensure_namespace(namespace);
            let yaml = format!(
                "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
            );
            if let Err(e) = self.apply_yaml(&yaml) {
                panic!("create ServiceAccount {namespace}/{name}: {e}");
            }
            let out = self.kubectl(&["create", "token", name, "-n", namespace, "--duration=24h"]);
            let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(
                out.status.success() && !token.is_empty(),
                "kubectl create token {namespace}/{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            format!("    token: {token}\n")
        })
    }

    /// A kubeconfig for the kubelet of `node`: a client certificate with CN=system:node:NODE,
    /// O=system:nodes, which the Node authorizer and NodeRestriction recognise.
    pub fn node_kubeconfig(&self, node: &str) -> PathBuf {
        self.cert_kubeconfig(&format!("system:node:{node}"), Some("system:nodes"))
    }

    /// A kubeconfig for any certificate identity (CN = user, O = group).
    pub fn cert_kubeconfig(&self, user: &str, group: Option<&str>) -> PathBuf {
        let key = format!("cert-{user}-{}", group.unwrap_or(""));
        self.cached_kubeconfig(&key, || {
            user_cert_lines(&self.client_ca.client(user, group))
        })
    }

    /// The CA the API server trusts for client certificates: (cert PEM, key PEM).
    pub fn client_ca_pem(&self) -> (String, String) {
        (
            self.client_ca.pair.cert_pem.clone(),
            self.client_ca.pair.key_pem.clone(),
        )
    }

    /// The CA the API server checks kubelet serving certificates against
    /// (`--kubelet-certificate-authority`): (cert PEM, key PEM), for fake kubelets.
    pub fn kubelet_ca_pem(&self) -> (String, String) {
        (
            self.kubelet_ca.pair.cert_pem.clone(),
            self.kubelet_ca.pair.key_pem.clone(),
        )
    }

    fn cached_kubeconfig(&self, key: &str, user: impl FnOnce() -> String) -> PathBuf {
        let mut cache = self.kubeconfigs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = cache.get(key) {
            return path.clone();
        }
        let file: String = key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = self.dir.join(format!("{file}.kubeconfig"));
        std::fs::write(&path, kubeconfig(&self.url, &self.ca_pem, &user()))
            .expect("write a kubeconfig");
        cache.insert(key.to_string(), path.clone());
        path
    }

    /// Every audit event logged so far.
    pub fn audit_events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Poll the audit log for up to `timeout` until an event satisfies `pred`.
    pub fn wait_audit_event(
        &self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.audit_events().into_iter().find(|e| pred(e)) {
                return Some(e);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last lines of a process log (`etcd` or `kube-apiserver`), for failure messages.
    pub fn log_tail(&self, process: &str, lines: usize) -> String {
        proc::tail(&self.dir.join(format!("{process}.log")), lines)
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn user_cert_lines(pair: &pki::Pair) -> String {
    format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&pair.cert_pem),
        b64(&pair.key_pem)
    )
}

/// A self-contained kubeconfig; `user` is the indented body of the user entry.
pub fn kubeconfig(url: &str, ca_pem: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {url}\n    certificate-authority-data: {}\nusers:\n- name: test\n  user:\n{user}contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\ncurrent-context: test\n",
        b64(ca_pem)
    )
}
