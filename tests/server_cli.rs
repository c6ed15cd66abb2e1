//! The `serve` command end to end (DESIGN.md section 6): started without a certificate in an
//! empty working directory, it generates certs/dev/ and prints a curl command; that command,
//! run as printed with the real curl, gets an AdmissionReview answer; SIGTERM ends it with exit
//! code 0. A second start in the same directory reuses the certificates.

mod server_common;

use serde_json::Value;
use server_common::*;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Serve {
    fn start(dir: &Path, metrics_port: u16, extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubelet-tls-guard"))
            .current_dir(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen"])
            .arg(format!("127.0.0.1:{metrics_port}"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Serve {
            child,
            lines,
            stdout: Vec::new(),
            stderr,
        }
    }

    fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// The printed curl command (the first stdout line that starts with `curl `).
    fn curl_line(&mut self) -> String {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if let Some(cmd) = line.trim().strip_prefix("curl ") {
                        return format!("curl {cmd}");
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!(
                            "serve exited ({status}) before printing a curl command\n{}",
                            self.output()
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "serve closed stdout without a curl command\n{}",
                        self.output()
                    )
                }
            }
        }
        panic!(
            "no curl command printed within {DEADLINE:?}\n{}",
            self.output()
        );
    }

    /// SIGTERM, then the exit code (polled up to the deadline).
    fn terminate(&mut self) -> i32 {
        self.signal();
        self.exit_code()
    }

    fn signal(&self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success(), "kill -TERM {pid} failed");
    }

    /// The exit code, polled up to the deadline.
    fn exit_code(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if start.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!("serve did not exit after SIGTERM\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait (up to the deadline) until what serve wrote gives `want`; then what it gives. The
    /// pipes are read by other threads of the test.
    fn output_until<T: PartialEq>(&self, want: T, of: impl Fn(&str) -> T) -> T {
        let start = Instant::now();
        loop {
            let got = of(&self.output());
            if got == want || start.elapsed() > DEADLINE {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `serve --log-format json` plus `extra` in a new directory, up to its printed curl command:
/// the directory, the metrics port, the server and the command.
fn start_json(extra: &[&str]) -> (tempfile::TempDir, u16, Serve, String) {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let args: Vec<&str> = ["--log-format", "json"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    let mut serve = Serve::start(dir.path(), metrics_port, &args);
    let line = serve.curl_line();
    (dir, metrics_port, serve, line)
}

impl Drop for Serve {
    fn drop(&mut self) {
        // Never leave a server behind when an assertion failed.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn have_curl() -> bool {
    if Command::new("curl").arg("--version").output().is_ok() {
        true
    } else {
        skip::skip("curl is not installed; the printed curl command is not run");
        false
    }
}

/// Run the printed command exactly as printed (through a shell, in the server's working
/// directory) and return its stdout as JSON.
fn run_printed(dir: &Path, line: &str) -> Value {
    let mut cmd = Command::new("sh");
    without_proxy(&mut cmd)
        .args(["-c", line])
        .current_dir(dir)
        .stdin(Stdio::null());
    let out = cmd.output().expect("sh");
    assert!(
        out.status.success(),
        "the printed command failed: {line}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Silent (-s: no progress meter) and ending with a newline, so the prompt starts on its own line.
    assert!(line.starts_with("curl -s "), "{line}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.ends_with(b"\n"), "no trailing newline");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the printed command's output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn get_ops(port: u16, path: &str) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("operations port");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_with_dev_certificates_prints_a_working_curl_command_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let mut serve = Serve::start(dir.path(), metrics_port, &[]);
    let line = serve.curl_line();

    // Generated under certs/dev/ in the working directory, the key private to its owner.
    let dev = dir.path().join("certs").join("dev");
    for f in ["ca.crt", "tls.crt", "tls.key", "example-review.json"] {
        assert!(
            dev.join(f).is_file(),
            "certs/dev/{f} missing\n{}",
            serve.output()
        );
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dev.join("tls.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "tls.key is readable by others: {mode:o}");
    }
    // The command names the port actually bound, not 0.
    let port: u16 = line
        .split("https://localhost:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no https://localhost:PORT/ in {line:?}"));
    assert_ne!(port, 0, "{line}");

    let health = get_ops(metrics_port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = get_ops(metrics_port, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let ca_before = std::fs::read(dev.join("ca.crt")).unwrap();
    if have_curl() {
        let v = run_printed(dir.path(), &line);
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1", "{v}");
        assert_eq!(v["kind"], "AdmissionReview", "{v}");
        let example: Value =
            serde_json::from_slice(&std::fs::read(dev.join("example-review.json")).unwrap())
                .unwrap();
        assert_eq!(v["response"]["uid"], example["request"]["uid"], "{v}");
        // The embedded default policy is dry-run: allowed, with the finding as a warning.
        assert_eq!(v["response"]["allowed"], true, "{v}");
        let warnings = v["response"]["warnings"].to_string();
        assert!(warnings.contains(CA), "{v}");
        let metrics = get_ops(metrics_port, "/metrics");
        assert!(
            metrics.contains("kubelet_tls_guard_admission_requests_total{endpoint=\"validate\""),
            "{metrics}"
        );
    }
    let code = serve.terminate();
    assert_eq!(code, 0, "exit code after SIGTERM\n{}", serve.output());
    // stderr is a pipe here: log lines carry no ANSI colour codes.
    assert!(!serve.output().contains('\u{1b}'), "{}", serve.output());
    assert!(serve.output().contains("INFO"), "{}", serve.output());

    // A second start in the same directory reuses the development certificates.
    let metrics_port = free_port();
    let mut again = Serve::start(dir.path(), metrics_port, &["--mode", "enforce"]);
    let line = again.curl_line();
    assert_eq!(std::fs::read(dev.join("ca.crt")).unwrap(), ca_before);
    if have_curl() {
        let v = run_printed(dir.path(), &line);
        // The example is a mirror pod: reported, not denied (mirrorPods: report).
        assert_eq!(v["response"]["allowed"], true, "{v}");
    }
    assert_eq!(again.terminate(), 0, "{}", again.output());
}

/// Decision log lines are written by a writer thread (`cli::logging`): none may be
/// lost when serve ends on SIGTERM, however recently it answered.
#[test]
fn every_decision_is_logged_by_the_time_serve_exits_on_sigterm() {
    if !have_curl() {
        return;
    }
    let (dir, metrics_port, mut serve, line) = start_json(&[]);
    const N: usize = 40;
    for _ in 0..N {
        run_printed(dir.path(), &line);
    }
    let metrics = get_ops(metrics_port, "/metrics");
    let counted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("kubelet_tls_guard_admission_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted as usize, N, "{metrics}");
    assert_eq!(serve.terminate(), 0, "{}", serve.output());
    let logged = serve.output_until(N, |out| out.matches("\"admission decision\"").count());
    assert_eq!(logged, N, "{}", serve.output());
}

/// A second SIGTERM ends serve at once (exit 1) without waiting out the shutdown delay; the
/// decision lines and the line that says so are still written, though `exit` skips the log
/// writer's guard.
#[test]
fn a_second_sigterm_exits_1_at_once_with_the_log_written() {
    if !have_curl() {
        return;
    }
    let (dir, _, mut serve, line) = start_json(&["--shutdown-delay", "10m"]);
    serve.signal();
    // Still answering during the shutdown delay; then the second signal.
    const N: usize = 5;
    for _ in 0..N {
        run_printed(dir.path(), &line);
    }
    serve.output_until(true, |out| out.contains("\"shutting down\""));
    serve.signal();
    assert_eq!(serve.exit_code(), 1, "{}", serve.output());
    let logged = serve.output_until((N, true), |out| {
        (
            out.matches("\"admission decision\"").count(),
            out.contains("second signal: exiting without finishing the drain"),
        )
    });
    assert_eq!(logged, (N, true), "{}", serve.output());
}

/// The decision's log line names the request, in both log formats. In the text format every
/// string field is quoted, as `endpoint` always was, so a uid or name is never read as part of
/// the next field.
#[test]
fn the_decision_log_line_names_the_request_in_json_and_in_text() {
    if !have_curl() {
        return;
    }
    let example: Value = serde_json::from_str(include_str!("../src/server/example-review.json"))
        .expect("the embedded example review");
    let request = &example["request"];
    let text_of = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let (uid, namespace, name, operation) = (
        text_of(&request["uid"]),
        text_of(&request["namespace"]),
        text_of(&request["name"]),
        text_of(&request["operation"]),
    );
    for format in ["json", "text"] {
        let dir = tempfile::tempdir().unwrap();
        let mut serve = Serve::start(dir.path(), free_port(), &["--log-format", format]);
        let line = serve.curl_line();
        let answer = run_printed(dir.path(), &line);
        assert_eq!(answer["response"]["uid"].as_str(), Some(uid.as_str()));
        assert_eq!(serve.terminate(), 0, "{}", serve.output());
        serve.output_until(true, |out| out.contains("admission decision"));
        let output = serve.output();
        let logged = output
            .lines()
            .find(|l| l.contains("admission decision"))
            .unwrap_or_default();
        if format == "json" {
            let logged: Value =
                serde_json::from_str(logged).unwrap_or_else(|e| panic!("not JSON ({e}): {logged}"));
            for (field, want) in [
                ("endpoint", "validate"),
                ("uid", uid.as_str()),
                ("kind", "Pod"),
                ("namespace", namespace.as_str()),
                ("name", name.as_str()),
                ("operation", operation.as_str()),
            ] {
                assert_eq!(logged[field].as_str(), Some(want), "{field}: {logged}");
            }
            let failed = logged["failed_rules"].as_str().unwrap_or_default();
            assert!(!failed.is_empty(), "the example fails a rule: {logged}");
        } else {
            for want in [
                "endpoint=\"validate\"".to_string(),
                format!("uid=\"{uid}\""),
                "kind=\"Pod\"".to_string(),
                format!("namespace=\"{namespace}\""),
                format!("name=\"{name}\""),
                format!("operation=\"{operation}\""),
                "failed_rules=\"".to_string(),
            ] {
                assert!(logged.contains(&want), "no {want} in: {logged}");
            }
        }
    }
}
