//! The real `kubelet-tls-guard serve` on loopback, called by the test API server through
//! `clientConfig.url`, with certificates from `kubelet-tls-guard certs`.

use super::ApiServer;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubelet-tls-guard")
}

/// Run the binary; panics with its output when it fails.
pub fn run_ok(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kubelet-tls-guard");
    assert!(
        out.status.success(),
        "kubelet-tls-guard {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubelet-tls-guard certs --out DIR --san 127.0.0.1 --san localhost`.
pub fn make_certs(dir: &Path) {
    run_ok(&[
        "certs",
        "--out",
        &dir.to_string_lossy(),
        "--san",
        "127.0.0.1",
        "--san",
        "localhost",
    ]);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Webhook configurations are cluster-wide and named alike: tests in one binary that install
/// them take this lock, so they never see each other's.
pub fn webhook_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running `serve` and the certificate directory it uses (`ca.crt`, `tls.crt`, `tls.key`).
pub struct Serve {
    child: Child,
    pub port: u16,
    pub metrics_port: u16,
    pub certs: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serve {
    /// Start `serve` with `extra` arguments (e.g. `--mode enforce`, `--config FILE`) and wait
    /// until its `/readyz` answers 200.
    pub fn start(extra: &[&str]) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dir.path().join("tls");
        make_certs(&certs);
        Serve::start_with(dir, certs, extra)
    }

    /// Like `start`, with the certificates already in `certs` (from `make_certs`).
    pub fn start_with_certs(certs: &Path, extra: &[&str]) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        Serve::start_with(dir, certs.to_path_buf(), extra)
    }

    fn start_with(dir: tempfile::TempDir, certs: PathBuf, extra: &[&str]) -> Serve {
        let (port, metrics_port) = (free_port(), free_port());
        let log = dir.path().join("serve.log");
        let logfile = std::fs::File::create(&log).expect("serve log");
        let child = Command::new(bin())
            .arg("serve")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--metrics-listen=127.0.0.1:{metrics_port}"))
            .arg(format!("--tls-cert={}", certs.join("tls.crt").display()))
            .arg(format!("--tls-key={}", certs.join("tls.key").display()))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(logfile.try_clone().expect("log handle"))
            .stderr(logfile)
            .spawn()
            .expect("spawn serve");
        let mut serve = Serve {
            child,
            port,
            metrics_port,
            certs,
            log,
            _dir: dir,
        };
        serve.wait_ready();
        serve
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited ({status}): {}", self.log());
            }
            if self.ops_get("/readyz").starts_with("HTTP/1.1 200") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("serve not ready within 30 s: {}", self.log());
    }

    /// A plain-HTTP GET on the operations port; the raw response, or "" when it fails.
    pub fn ops_get(&self, path: &str) -> String {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.metrics_port)) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        if s.write_all(req.as_bytes()).is_ok() {
            let _ = s.read_to_string(&mut out);
        }
        out
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn ca_bundle(&self) -> PathBuf {
        self.certs.join("ca.crt")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `webhook-config --ca-bundle ca.crt --url URL` plus `extra`: the YAML it prints.
    pub fn webhook_config(&self, extra: &[&str]) -> String {
        let ca = self.ca_bundle().to_string_lossy().into_owned();
        let url = self.url();
        let mut args = vec!["webhook-config", "--ca-bundle", &ca, "--url", &url];
        args.extend_from_slice(extra);
        run_ok(&args)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parse a YAML stream (kustomize or webhook-config output) into its documents.
pub fn yaml_docs(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("a YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

/// Point every webhook of a Validating-/MutatingWebhookConfiguration at `serve`: `url` instead
/// of `service`, and its CA (what a cainjector or the tls-from-files component would set).
pub fn point_at(config: &mut Value, serve: &Serve) {
    let ca = std::fs::read(serve.ca_bundle()).expect("read ca.crt");
    let ca_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ca);
    let Some(hooks) = config["webhooks"].as_array_mut() else {
        panic!("no webhooks in {config}");
    };
    for hook in hooks {
        let cc = &mut hook["clientConfig"];
        let path = cc["service"]["path"].as_str().unwrap_or("/").to_string();
        *cc = serde_json::json!({"url": format!("{}{path}", serve.url()), "caBundle": ca_b64});
    }
}

/// Webhook configurations applied to the API server; deleted on drop, also when an assertion
/// failed (with failurePolicy Fail and `serve` gone they would refuse every later
/// control-plane object of the test binary).
pub struct Installed<'a> {
    server: &'a ApiServer,
    name: String,
}

impl<'a> Installed<'a> {
    /// Apply `yaml` (Validating-/MutatingWebhookConfigurations named `name`).
    pub fn apply(server: &'a ApiServer, name: &str, yaml: &str) -> Result<Self, String> {
        let guard = Installed {
            server,
            name: name.to_string(),
        };
        server.apply_yaml(yaml).map(|_| guard)
    }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        delete_webhook_configs(self.server, &self.name);
    }
}

/// Delete both webhook configurations named `name` (ignoring absence).
pub fn delete_webhook_configs(server: &ApiServer, name: &str) {
    let out = server.kubectl(&[
        "delete",
        "validatingwebhookconfiguration,mutatingwebhookconfiguration",
        name,
        "--ignore-not-found",
    ]);
    assert!(
        out.status.success(),
        "delete webhook configurations: {out:?}"
    );
}

/// Poll `f` until it returns `Some`, for up to `timeout`: webhook configuration changes reach
/// the API server's admission chain through an informer, a moment after the write.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Start `serve --mode MODE`, install its `webhook-config --mode MODE EXTRA` as `name`, and wait
/// up to `wait` until a server-side dry-run create of `probe` (with `kubectl_args` added) shows
/// `marker`: the API server then calls the webhook.
pub fn install_and_wait<'a>(
    s: &'a ApiServer,
    name: &str,
    (mode, extra): (&str, &[&str]),
    (probe, kubectl_args): (&str, &[&str]),
    marker: &str,
    wait: Duration,
) -> (Serve, Installed<'a>) {
    let serve = Serve::start(&["--mode", mode]);
    let mut args = vec!["--mode", mode];
    args.extend_from_slice(extra);
    let yaml = serve.webhook_config(&args);
    let installed = Installed::apply(s, name, &yaml).expect("install webhook-config");
    let mut create = vec!["create", "--dry-run=server"];
    create.extend_from_slice(kubectl_args);
    create.extend_from_slice(&["-f", "-"]);
    let mut last = String::new();
    let seen = eventually(wait, || {
        let out = match s.kubectl_stdin(&create, probe) {
            Ok(o) | Err(o) => o,
        };
        last = out.clone();
        out.contains(marker).then_some(())
    });
    if seen.is_none() {
        panic!(
            "webhooks not effective within {wait:?}: {last}\nserve log:\n{}",
            serve.log()
        );
    }
    (serve, installed)
}
