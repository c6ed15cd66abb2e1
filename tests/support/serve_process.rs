//! `serve` run as a child process, as a user runs it: started in a directory, its printed
//! curl command run through a shell, signalled with `kill`.

use crate::server_common::{DEADLINE, skip, without_proxy};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Serve {
    pub fn start(dir: &Path, metrics_port: u16, extra: &[&str]) -> Serve {
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

    pub fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// The printed curl command (the first stdout line that starts with `curl `).
    pub fn curl_line(&mut self) -> String {
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
    pub fn terminate(&mut self) -> i32 {
        self.signal();
        self.exit_code()
    }

    /// SIGTERM by a system call: `kill(1)` takes a process start, which used to hide a signal
    /// sent in the moment after start-up (`server_signals.rs`).
    pub fn signal(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a child's pid; the child is not yet reaped, so not reused.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "kill {pid}");
    }

    /// The exit code, polled up to the deadline.
    pub fn exit_code(&mut self) -> i32 {
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
    pub fn output_until<T: PartialEq>(&self, want: T, of: impl Fn(&str) -> T) -> T {
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

impl Drop for Serve {
    fn drop(&mut self) {
        // Never leave a server behind when an assertion failed.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn have_curl() -> bool {
    if Command::new("curl").arg("--version").output().is_ok() {
        true
    } else {
        skip::skip("curl is not installed; the printed curl command is not run");
        false
    }
}

/// Run the printed command exactly as printed (through a shell, in the server's working
/// directory) and return its stdout as JSON.
pub fn run_printed(dir: &Path, line: &str) -> Value {
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

pub fn get_ops(port: u16, path: &str) -> String {
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
