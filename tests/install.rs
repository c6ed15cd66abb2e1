//! The install path as an operator walks it, with the real binary and real tools: `certs` (and the
//! openssl script in certs/), `webhook-config`, `serve` reached by `curl` through the Service's DNS
//! name trusting only the generated CA, SIGTERM; and the e2e script (tests/e2e/run.sh), which must
//! skip cleanly without a cluster and run for real when TLSG_E2E_KUBECONFIG names one.
//!
//! Tools that may be missing (openssl, curl, bash) make the parts that need them record a skip
//! (`tests/support/skip.rs`) and return; scripts/test.sh installs them, so CI runs everything.
//! The e2e against a real cluster is `#[ignore]`d: it needs a cluster (see README, Development).

#[path = "support/skip.rs"]
mod skip;

use base64::Engine as _;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SERVICE_HOST: &str = "kubelet-tls-guard.kubelet-tls-guard.svc";
const SERVICE_HOST_FQDN: &str = "kubelet-tls-guard.kubelet-tls-guard.svc.cluster.local";
/// Long enough for a loaded 2-core CI machine; the happy path takes well under a second.
const DEADLINE: Duration = Duration::from_secs(60);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubelet-tls-guard")
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A kubeadm kube-apiserver mirror pod with every flag set: nothing to report.
fn compliant_review() -> PathBuf {
    crate_dir().join("tests/fixtures/admission/kube-apiserver.mirror-pod.json")
}

/// The same mirror pod without `--kubelet-certificate-authority`.
fn violating_review() -> PathBuf {
    crate_dir().join("tests/fixtures/admission/example-review.json")
}

/// Is `tool` installed (it answers `tool <arg>` with success)?
fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bundle(dir: &Path) -> [Vec<u8>; 3] {
    ["ca.crt", "tls.crt", "tls.key"].map(|f| read(&dir.join(f)))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The certificate properties both generators must give (openssl is the independent judge).
fn assert_certificates(dir: &Path, who: &str) {
    for f in ["ca.crt", "tls.crt", "tls.key"] {
        assert!(dir.join(f).is_file(), "{who}: {f} not written");
    }
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("tls.key")), 0o600, "{who}: tls.key mode");
    if !have("openssl", "version") {
        skip::skip(&format!(
            "openssl not installed; {who}: certificate checks by openssl not run"
        ));
        return;
    }
    let ca = dir.join("ca.crt");
    let crt = dir.join("tls.crt");
    let out = run(Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&ca)
        .arg(&crt));
    assert!(
        out.status.success(),
        "{who}: openssl verify: {}",
        describe(&out)
    );
    assert!(
        text(&out.stdout).trim_end().ends_with(": OK"),
        "{who}: {}",
        describe(&out)
    );

    let out = run(Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&crt));
    assert!(
        out.status.success(),
        "{who}: openssl x509: {}",
        describe(&out)
    );
    let sans: Vec<String> = text(&out.stdout)
        .lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    for want in [SERVICE_HOST, SERVICE_HOST_FQDN] {
        assert!(
            sans.contains(&format!("DNS:{want}")),
            "{who}: SAN {want} missing from {sans:?}"
        );
    }

    // ECDSA P-256, as DESIGN section 5 asks.
    let out = run(Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(dir.join("tls.key")));
    assert!(
        out.status.success(),
        "{who}: openssl pkey: {}",
        describe(&out)
    );
    let key = text(&out.stdout);
    assert!(
        key.contains("prime256v1") || key.contains("P-256"),
        "{who}: tls.key is not P-256:\n{key}"
    );
}

/// A `serve` child process, killed if the test ends before it is stopped.
struct Server {
    child: Child,
    addr: SocketAddr,
    ops_addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Start `serve` on ephemeral loopback ports and learn them from the JSON "serving" log line
    /// (binding port 0 avoids a race for a "free" port with tests running in parallel).
    fn start(cert: &Path, key: &Path) -> Server {
        let mut child = Command::new(bin())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
            ])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            ops_addr: "0.0.0.0:0".parse().unwrap(),
            stderr: rx,
            log: Vec::new(),
        };
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            let line = match server.stderr.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => panic!(
                    "serve printed no \"serving\" line within {DEADLINE:?}; exit {:?}; log:\n{}",
                    server.child.try_wait().ok().flatten(),
                    server.log.join("\n")
                ),
            };
            server.log.push(line.clone());
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let (Some(a), Some(o)) = (v["addr"].as_str(), v["ops_addr"].as_str()) {
                server.addr = a.parse().expect("addr");
                server.ops_addr = o.parse().expect("ops_addr");
                break;
            }
        }
        server.wait_ready();
        server
    }

    /// GET on the plain-HTTP operations port: (status code, body).
    fn ops_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.ops_addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        let code = buf
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = buf.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        Ok((code, body.to_string()))
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok((200, _)) = self.ops_get("/readyz") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain_log();
                panic!("serve exited with {status}; log:\n{}", self.log.join("\n"));
            }
            assert!(
                start.elapsed() < DEADLINE,
                "serve not ready within {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn drain_log(&mut self) {
        while let Ok(l) = self.stderr.try_recv() {
            self.log.push(l);
        }
    }

    /// SIGTERM, then the exit status (DESIGN section 5: finish in-flight requests, exit 0).
    fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let out = run(Command::new("kill").args(["-TERM", &pid]));
        assert!(out.status.success(), "kill -TERM: {}", describe(&out));
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for serve") {
                self.drain_log();
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "serve still running {DEADLINE:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// POST the fixture to /validate with real curl, reaching the server by the Service's DNS name
/// and trusting only `ca`. `None` when curl is not installed.
fn curl_validate(server: &Server, ca: &Path, review: &Path) -> Option<Output> {
    if !have("curl", "--version") {
        return None;
    }
    let port = server.addr.port();
    let mut body = String::from("@");
    body.push_str(&review.display().to_string());
    // An empty CA directory next to --cacert: the system's CA directory cannot add trust.
    let empty = tempfile::tempdir().expect("temp dir");
    Some(run(Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--max-time", "30"])
        .arg("--cacert")
        .arg(ca)
        .arg("--capath")
        .arg(empty.path())
        // No proxy may sit between us and the loopback server.
        .args(["--noproxy", "*"])
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .arg("--resolve")
        .arg(format!("{SERVICE_HOST}:{port}:127.0.0.1"))
        .args(["-H", "Content-Type: application/json"])
        .arg("--data-binary")
        .arg(body)
        .arg(format!("https://{SERVICE_HOST}:{port}/validate"))))
}

/// The AdmissionReview answer to `review` (same apiVersion and uid), allowed: the embedded
/// default policy is dry-run, and mirror pods are reported, never denied (DESIGN sections 2, 4).
/// Returns the warnings.
fn assert_review_answer(out: &Output, review: &Path) -> Vec<String> {
    assert!(out.status.success(), "curl: {}", describe(out));
    let request: Value = serde_json::from_slice(&read(review)).unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", describe(out)));
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1", "{answer}");
    assert_eq!(answer["kind"], "AdmissionReview", "{answer}");
    let response = &answer["response"];
    assert_eq!(response["uid"], request["request"]["uid"], "{answer}");
    assert_eq!(response["allowed"], true, "{answer}");
    response["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|v| v.as_str().expect("warning is a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// serve with these files answers /validate over TLS (curl), then stops cleanly on SIGTERM.
fn assert_serves(dir: &Path, who: &str) {
    let server = Server::start(&dir.join("tls.crt"), &dir.join("tls.key"));
    let ca = dir.join("ca.crt");
    match curl_validate(&server, &ca, &compliant_review()) {
        Some(out) => {
            let warnings = assert_review_answer(&out, &compliant_review());
            assert!(warnings.is_empty(), "compliant pod warned: {warnings:?}");
            let out = curl_validate(&server, &ca, &violating_review()).unwrap();
            let warnings = assert_review_answer(&out, &violating_review());
            assert!(
                warnings.iter().any(|w| w.contains("apiserver-kubelet-ca")),
                "no warning names apiserver-kubelet-ca: {warnings:?}"
            );
        }
        None => skip::skip(&format!(
            "curl not installed; {who}: /validate over TLS not checked"
        )),
    }
    let (code, metrics) = server.ops_get("/metrics").expect("GET /metrics");
    assert_eq!(code, 200, "{metrics}");
    assert!(
        metrics.contains("kubelet_tls_guard_certificate_not_after_timestamp_seconds"),
        "{metrics}"
    );
    let status = server.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "{who}: serve after SIGTERM: {status}"
    );
}

#[test]
fn certs_webhook_config_and_serve_work_together() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tls");

    let out = run(Command::new(bin()).arg("certs").arg("--out").arg(&dir));
    assert!(out.status.success(), "certs: {}", describe(&out));
    assert_certificates(&dir, "certs");

    // A second run must not replace a CA the cluster may already trust.
    let before = bundle(&dir);
    let out = run(Command::new(bin()).arg("certs").arg("--out").arg(&dir));
    assert_eq!(
        out.status.code(),
        Some(1),
        "certs over existing files: {}",
        describe(&out)
    );
    assert!(text(&out.stderr).contains("--force"), "{}", describe(&out));
    assert!(
        bundle(&dir) == before,
        "certs changed files without --force"
    );
    let out = run(Command::new(bin())
        .arg("certs")
        .arg("--out")
        .arg(&dir)
        .arg("--force"));
    assert!(out.status.success(), "certs --force: {}", describe(&out));
    let after = bundle(&dir);
    assert!(after[0] != before[0], "certs --force kept the old CA");
    assert_certificates(&dir, "certs --force");

    // Every caBundle webhook-config prints is exactly ca.crt.
    let ca_path = dir.join("ca.crt");
    let out = run(Command::new(bin())
        .arg("webhook-config")
        .arg("--ca-bundle")
        .arg(&ca_path)
        .arg("--remediate"));
    assert!(out.status.success(), "webhook-config: {}", describe(&out));
    let yaml = text(&out.stdout);
    let mut bundles = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&yaml) {
        let v: Value = serde::Deserialize::deserialize(doc).expect("webhook-config YAML");
        for hook in v["webhooks"].as_array().expect("webhooks") {
            let b64 = hook["clientConfig"]["caBundle"]
                .as_str()
                .unwrap_or_else(|| panic!("no caBundle in {hook}"));
            bundles.push(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("caBundle is base64"),
            );
        }
    }
    assert_eq!(bundles.len(), 2, "validating + mutating webhooks:\n{yaml}");
    let ca = read(&ca_path);
    for b in &bundles {
        assert!(*b == ca, "caBundle is not ca.crt:\n{}", text(b));
    }

    assert_serves(&dir, "certs");
}

#[test]
fn curl_trusting_another_ca_is_refused() {
    // Proves the curl check above really verifies the chain rather than accepting anything.
    if !have("curl", "--version") {
        skip::skip("curl not installed; the untrusted-CA refusal not checked");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (ours, other) = (tmp.path().join("ours"), tmp.path().join("other"));
    for d in [&ours, &other] {
        let out = run(Command::new(bin()).arg("certs").arg("--out").arg(d));
        assert!(out.status.success(), "certs: {}", describe(&out));
    }
    let server = Server::start(&ours.join("tls.crt"), &ours.join("tls.key"));
    let out = curl_validate(&server, &other.join("ca.crt"), &compliant_review()).unwrap();
    assert!(
        !out.status.success(),
        "curl accepted a certificate from an untrusted CA: {}",
        describe(&out)
    );
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "serve after SIGTERM: {status}");
}

#[test]
fn openssl_script_makes_a_bundle_serve_accepts() {
    if !have("openssl", "version") {
        skip::skip("openssl not installed; certs/gen-openssl.sh not run");
        return;
    }
    let script = crate_dir().join("certs/gen-openssl.sh");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tls");
    let sh = |extra: &[&str]| {
        run(Command::new("sh")
            .arg(&script)
            .args(extra)
            .arg(&dir)
            .current_dir(tmp.path()))
    };

    let out = sh(&[]);
    assert!(out.status.success(), "gen-openssl.sh: {}", describe(&out));
    assert_certificates(&dir, "gen-openssl.sh");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["ca.crt", "tls.crt", "tls.key"].contains(&n.as_str()))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the CA key or temporaries left: {leftovers:?}"
    );

    let before = bundle(&dir);
    let out = sh(&[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "over existing files: {}",
        describe(&out)
    );
    assert!(text(&out.stderr).contains("--force"), "{}", describe(&out));
    assert!(
        bundle(&dir) == before,
        "gen-openssl.sh changed files without --force"
    );
    let out = sh(&["--force"]);
    assert!(
        out.status.success(),
        "gen-openssl.sh --force: {}",
        describe(&out)
    );
    assert!(bundle(&dir)[0] != before[0], "--force kept the old CA");
    assert_certificates(&dir, "gen-openssl.sh --force");

    let out = sh(&["--namespace", "Not_A_Label"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad namespace: {}",
        describe(&out)
    );

    // webhook-config accepts its CA as well.
    let out = run(Command::new(bin())
        .arg("webhook-config")
        .arg("--ca-bundle")
        .arg(dir.join("ca.crt")));
    assert!(out.status.success(), "webhook-config: {}", describe(&out));

    assert_serves(&dir, "gen-openssl.sh");
}

fn e2e_script() -> PathBuf {
    crate_dir().join("tests/e2e/run.sh")
}

/// The e2e script with nothing but PATH (and HOME) in its environment.
fn e2e_clean_env() -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(e2e_script()).env_clear();
    for var in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd
}

#[test]
fn e2e_skips_cleanly_without_a_kubeconfig() {
    if !have("bash", "--version") {
        skip::skip("bash not installed; tests/e2e/run.sh not run");
        return;
    }
    let out = run(&mut e2e_clean_env());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("SKIP: no kubeconfig given (set KUBECONFIG"),
        "{}",
        describe(&out)
    );
    assert!(
        !stdout.contains("PASS"),
        "a skip must not claim a pass: {stdout}"
    );
}

#[test]
fn e2e_fails_when_the_cluster_cannot_be_reached() {
    // A kubeconfig that points nowhere is an error, never a skip or a pass.
    if !have("bash", "--version") {
        skip::skip("bash not installed; tests/e2e/run.sh not run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster: {server: 'https://127.0.0.1:1'}\n\
         contexts:\n- name: none\n  context: {cluster: none, user: none}\ncurrent-context: none\n\
         users:\n- name: none\n  user: {token: none}\n",
    )
    .unwrap();
    let out = run(e2e_clean_env()
        .env("TLSG_E2E_KUBECONFIG", &kubeconfig)
        .env("TLSG_E2E_IMAGE", "kubelet-tls-guard:e2e")
        .env("TLSG_E2E_BIN", bin())
        .env("TLSG_E2E_TIMEOUT", "5"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains("SKIP") && !stdout.contains("PASS"),
        "{}",
        describe(&out)
    );
    assert!(text(&out.stderr).contains("FAIL: "), "{}", describe(&out));
}

/// Run on purpose only: `TLSG_E2E_KUBECONFIG=... TLSG_E2E_IMAGE=... cargo test --test install
/// e2e_against -- --ignored`. Asked for without a cluster, it fails rather than pass unseen.
#[test]
#[ignore = "needs TLSG_E2E_KUBECONFIG / KUBECONFIG to a real cluster"]
fn e2e_against_the_cluster_in_tlsg_e2e_kubeconfig() {
    let kubeconfig = ["TLSG_E2E_KUBECONFIG", "KUBECONFIG"]
        .iter()
        .find_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()));
    let Some(kubeconfig) = kubeconfig else {
        panic!(
            "neither TLSG_E2E_KUBECONFIG nor KUBECONFIG is set: this test needs a throw-away \
             cluster (see tests/e2e/run.sh)"
        );
    };
    let out = run(Command::new("bash")
        .arg(e2e_script())
        .env("TLSG_E2E_KUBECONFIG", kubeconfig)
        .env("TLSG_E2E_BIN", bin()));
    // Show the run either way: it is the evidence.
    std::io::stderr().write_all(&out.stdout).unwrap();
    std::io::stderr().write_all(&out.stderr).unwrap();
    assert!(out.status.success(), "e2e failed: {}", describe(&out));
    assert!(
        text(&out.stdout).contains("e2e: all ") && !text(&out.stdout).contains("SKIP"),
        "the e2e script did not run through: {}",
        describe(&out)
    );
}
