//! The operations port shares the process's file descriptors with the webhook: silent peers are
//! closed after the header timeout, and more of them than the cap cannot keep `/healthz` away.

use crate::server_common::*;
use kubelet_tls_guard::ops::{HEADER_TIMEOUT, MAX_CONNECTIONS};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// GET `path` on the operations port over a fresh connection; the status line.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    out.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peers_on_the_ops_port_are_closed_and_cannot_lock_it() {
    let s = TestServer::start(policy("mode: enforce\n")).await;
    let since = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..MAX_CONNECTIONS + 8 {
        silent.push(TcpStream::connect(s.ops_addr).await.unwrap());
    }
    // Every slot is held by a silent peer: the probe waits, then is answered once the header
    // timeout frees the slots.
    let probe = tokio::time::timeout(HEADER_TIMEOUT * 4, get(s.ops_addr, "/healthz"))
        .await
        .expect("/healthz answered despite the silent peers");
    assert_eq!(probe, "HTTP/1.1 200 OK");
    // The silent peers were closed by the server, not left open.
    for (i, c) in silent.iter_mut().enumerate() {
        let mut b = [0u8; 64];
        let read = tokio::time::timeout(HEADER_TIMEOUT * 4, c.read(&mut b)).await;
        assert!(
            matches!(read, Ok(Ok(_)) | Ok(Err(_))),
            "silent peer {i} still open after {:?}",
            since.elapsed()
        );
    }
    assert!(
        since.elapsed() < HEADER_TIMEOUT * 4,
        "{:?}",
        since.elapsed()
    );
    // The webhook port was never affected.
    let a = s.post("/validate", &deployment_without_ca()).await;
    assert_eq!(a.status, 200, "{}", a.text);
}
