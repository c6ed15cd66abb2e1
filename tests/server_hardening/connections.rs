//! Connections (item 5): silent and idle peers are closed, the number of connections is
//! capped, accept errors back off with one log line per run, and SIGTERM closes idle peers at once.

use crate::server_common::*;
use crate::skip::require_tool;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn h1(ca: &str) -> rustls::ClientConfig {
    client_config(ca, Alpn::Http1, BOTH_VERSIONS, None)
}

/// Read until EOF or an error; how long after `since` that happened (`None`: still open
/// `limit` after the call).
async fn closed_after<S: AsyncRead + Unpin>(
    s: &mut S,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    let wait = async {
        let mut b = [0u8; 1024];
        while let Ok(n) = s.read(&mut b).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(limit, wait)
        .await
        .ok()
        .map(|()| since.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_connections_are_closed_but_busy_ones_are_not() {
    let s = TestServer::start_with(policy("mode: enforce\n"), |o| {
        o.idle_timeout = Duration::from_secs(1);
        // Long, so that only the idle timeout can close these peers.
        o.header_timeout = Duration::from_secs(600);
        o.body_timeout = Duration::from_secs(600);
    })
    .await;
    let body = serde_json::to_vec(&deployment_without_ca()).unwrap();

    // Each `since` is taken before the server's idle clock can have started.
    // Completes TLS, then says nothing.
    let mut silent = tls_connect(s.addr, h1(&s.ca_pem)).await.unwrap();
    let silent_since = Instant::now();
    // One request, then nothing.
    let mut idle = tls_connect(s.addr, h1(&s.ca_pem)).await.unwrap();
    let mut buf = Vec::new();
    let idle_since = Instant::now();
    let r = round_trip(&mut idle, &mut buf, &post_request("/validate", &body))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    // HTTP/2: the connection preface, then nothing.
    let mut h2 = tls_connect(
        s.addr,
        client_config(&s.ca_pem, Alpn::H2, BOTH_VERSIONS, None),
    )
    .await
    .unwrap();
    let h2_since = Instant::now();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();

    let (a, b, c) = tokio::join!(
        closed_after(&mut silent, silent_since, Duration::from_secs(10)),
        closed_after(&mut idle, idle_since, Duration::from_secs(10)),
        closed_after(&mut h2, h2_since, Duration::from_secs(10)),
    );
    for (what, t) in [
        ("silent TLS", a),
        ("idle keep-alive", b),
        ("idle HTTP/2", c),
    ] {
        let t = t.unwrap_or_else(|| panic!("{what} peer still open after 10 s"));
        assert!(
            t >= Duration::from_millis(950),
            "{what} closed early, after {t:?}"
        );
    }
    let m = s.metrics().await;
    assert!(
        m.get(
            "kubelet_tls_guard_connections_closed_by_server_total",
            &[("reason", "idle")]
        ) >= 3.0,
        "{}",
        m.0
    );

    // Requests 0.4 s apart keep a connection open well past the idle timeout.
    let mut busy = tls_connect(s.addr, h1(&s.ca_pem)).await.unwrap();
    let mut buf = Vec::new();
    for _ in 0..6 {
        let r = round_trip(&mut busy, &mut buf, &post_request("/validate", &body))
            .await
            .expect("the kept-alive connection is still open");
        assert_eq!(r.status, 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // A request in progress is never idle: its body may take longer than the idle timeout.
    let mut slow = tls_connect(s.addr, h1(&s.ca_pem)).await.unwrap();
    slow.write_all(&post_head("/validate", body.len(), "application/json"))
        .await
        .unwrap();
    for part in body.chunks(body.len() / 4 + 1) {
        tokio::time::sleep(Duration::from_millis(600)).await;
        slow.write_all(part).await.unwrap();
        slow.flush().await.unwrap();
    }
    let mut buf = Vec::new();
    let r = within("the slow body's answer", read_response(&mut slow, &mut buf))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // …and the connection was not closed under it: a connection found idle with a request in
    // progress would be shut down gracefully, answering that request and then closing.
    let r = round_trip(&mut slow, &mut buf, &post_request("/validate", &body))
        .await
        .expect("the connection of the slow request is still open");
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_new_clients_until_one_closes() {
    let s = TestServer::start_with(policy("mode: enforce\n"), |o| {
        o.max_connections = 4;
        o.idle_timeout = Duration::from_secs(600);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tls_connect(s.addr, h1(&s.ca_pem)).await.unwrap());
    }
    let m = s.metrics().await;
    // The metrics client is on the other port: 4 webhook connections are open.
    assert_eq!(
        m.get("kubelet_tls_guard_connections_open", &[]),
        4.0,
        "{}",
        m.0
    );

    // A fifth client gets no TLS handshake while four are open.
    let fifth = tokio::time::timeout(
        Duration::from_millis(1500),
        tls_connect(s.addr, h1(&s.ca_pem)),
    )
    .await;
    assert!(fifth.is_err(), "a fifth connection was served at the limit");
    let m = s.metrics().await;
    assert!(
        m.get("kubelet_tls_guard_connection_limit_reached_total", &[]) >= 1.0,
        "{}",
        m.0
    );

    // One closes: the next client is served.
    drop(held.pop());
    let a = s.post("/validate", &deployment_without_ca()).await;
    assert_eq!(a.status, 200, "{}", a.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_and_silent_peers_at_once_and_finishes_in_flight_requests() {
    let mut s = TestServer::start_with(policy("mode: enforce\n"), |o| {
        o.drain_timeout = Duration::from_secs(60);
        o.idle_timeout = Duration::from_secs(600);
        o.header_timeout = Duration::from_secs(600);
        o.body_timeout = Duration::from_secs(600);
        o.handshake_timeout = Duration::from_secs(600);
    })
    .await;
    let body = serde_json::to_vec(&with_uid(&deployment_without_ca(), "in-flight")).unwrap();
    let mut silent = tls_connect(s.addr, h1(&s.ca_pem)).await.unwrap();
    let mut no_tls = TcpStream::connect(s.addr).await.unwrap();
    let mut idle = tls_connect(s.addr, h1(&s.ca_pem)).await.unwrap();
    let mut buf = Vec::new();
    let r = round_trip(&mut idle, &mut buf, &post_request("/validate", &body))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    // In flight: headers and half the body sent (100-continue says the handler reads it).
    let mut busy = tls_connect(s.addr, h1(&s.ca_pem)).await.unwrap();
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    busy.write_all(head.as_bytes()).await.unwrap();
    let mut busy_buf = Vec::new();
    let cont = within("100 Continue", read_response(&mut busy, &mut busy_buf))
        .await
        .unwrap();
    assert_eq!(cont.status, 100);
    let (first, rest) = body.split_at(body.len() / 2);
    busy.write_all(first).await.unwrap();
    busy.flush().await.unwrap();

    let server = s.server.take().unwrap();
    server.shutdown();
    let stopped = Instant::now();
    let (a, b, c) = tokio::join!(
        closed_after(&mut silent, stopped, Duration::from_secs(10)),
        closed_after(&mut no_tls, stopped, Duration::from_secs(10)),
        closed_after(&mut idle, stopped, Duration::from_secs(10)),
    );
    for (what, t) in [
        ("silent TLS", a),
        ("TCP without TLS", b),
        ("idle keep-alive", c),
    ] {
        let t = t.unwrap_or_else(|| panic!("{what} peer still open 10 s after shutdown"));
        assert!(t < Duration::from_secs(5), "{what} closed after {t:?}");
    }
    // The in-flight request is finished and answered.
    busy.write_all(rest).await.unwrap();
    busy.flush().await.unwrap();
    let r = within(
        "the in-flight answer",
        read_response(&mut busy, &mut busy_buf),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("in-flight"));
    let start = Instant::now();
    within("the drain", server.wait()).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// The binary under a file-descriptor limit, its stderr collected.
struct Limited {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Limited {
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_backs_off_logs_once_and_recovers() {
    if !require_tool("prlimit", "the file-descriptor exhaustion test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca("fd test CA");
    let leaf = ca.issue_server(&server_names(), 2).unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    let (port, ops) = (free_port(), free_port());
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=64:64")
        .arg(env!("CARGO_BIN_EXE_kubelet-tls-guard"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{ops}")])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--handshake-timeout", "60s", "--idle-timeout", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    let mut child = without_proxy(&mut cmd).spawn().expect("spawn prlimit");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let server = Limited { child, log };
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    eventually("the server listens", || async move {
        TcpStream::connect(addr).await.ok().map(|_| ())
    })
    .await;

    // More silent connections than the server has descriptors.
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let failures = |log: &[String]| log.iter().filter(|l| l.contains("accept failed")).count();
    let during = server.log();
    assert!(
        failures(&during) >= 1,
        "no accept error was logged; is the limit in effect?\n{}",
        during.join("\n")
    );
    assert!(
        failures(&during) <= 2,
        "{} accept-failure lines in 3 s:\n{}",
        failures(&during),
        during.join("\n")
    );

    // The peers go away: the server accepts and serves again.
    drop(silent);
    let url = format!("https://127.0.0.1:{port}/validate");
    let client = http_client(ca.cert_pem(), Alpn::Http1, None);
    let a = post(&client, &url, &deployment_without_ca()).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let log = server.log();
    assert!(
        log.iter()
            .any(|l| l.contains("accepting connections again")),
        "{}",
        log.join("\n")
    );
}
