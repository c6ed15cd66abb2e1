//! Bodies over the limit (item 6): the client reads the 413, whether the length is declared or
//! the body is chunked, with `curl` and with reqwest.

use crate::server_common::*;
use crate::skip::require_tool;
use std::process::{Command, Stdio};

const LIMIT: usize = 64 * 1024;

/// `curl` POSTing `file` with extra `args`; the status code it printed and its stderr.
async fn curl_status(s: &TestServer, file: &std::path::Path, args: &[&str]) -> (String, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-S",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "30",
    ])
    .arg("--cacert")
    .arg(&s.ca_path)
    .args(["-H", "Content-Type: application/json"])
    .args(args)
    .arg("--data-binary")
    .arg(format!("@{}", file.display()))
    .arg(s.url("/validate"))
    .stdin(Stdio::null());
    without_proxy(&mut cmd);
    let out = within(
        "curl",
        tokio::task::spawn_blocking(move || cmd.output().expect("run curl")),
    )
    .await
    .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reads_the_413_of_a_body_over_the_limit() {
    if !require_tool("curl", "the 413 test with curl") {
        return;
    }
    let s = TestServer::start_with(policy("mode: enforce\n"), |o| o.body_limit = LIMIT).await;
    // Large enough to fill every socket buffer between curl and the server.
    let big = s.dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 32 * 1024 * 1024]).unwrap();
    let cases: [(&str, &[&str]); 3] = [
        // Sent at once, length declared: answered before the body is read.
        ("declared length", &["-H", "Expect:"]),
        // curl waits for 100 Continue (its default for large bodies): the 413 comes instead.
        ("Expect: 100-continue", &["-H", "Expect: 100-continue"]),
        // No length: the limit is crossed while reading.
        (
            "chunked",
            &["-H", "Transfer-Encoding: chunked", "-H", "Expect:"],
        ),
    ];
    for version in ["--http1.1", "--http2"] {
        for (what, extra) in cases {
            let mut args = vec![version];
            args.extend_from_slice(extra);
            let (code, err) = curl_status(&s, &big, &args).await;
            assert_eq!(
                code, "413",
                "{version} {what}: curl printed {code:?}; stderr: {err}"
            );
        }
    }
    let m = s.metrics().await;
    assert_eq!(
        m.get(M_REQUESTS, &[("decision", "too_large")]),
        6.0,
        "{}",
        m.0
    );
    // And the server is fine.
    assert_eq!(
        s.post("/validate", &deployment_without_ca()).await.status,
        200
    );
}

/// Python's http.client sends the whole body before it reads anything: only a server that
/// drains the refused body lets it see the 413.
const PYTHON_POST: &str = r#"
import http.client, ssl, sys
port, cafile, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=cafile)
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
try:
    c.request("POST", "/validate", body=b" " * size, headers={"Content-Type": "application/json"})
    print(c.getresponse().status)
except Exception as e:
    print("error", repr(e))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reads_the_413_of_a_body_over_the_limit() {
    if !require_tool("python3", "the 413 test with Python's http.client") {
        return;
    }
    let s = TestServer::start_with(policy("mode: enforce\n"), |o| o.body_limit = LIMIT).await;
    for size in [LIMIT + 1, 9 * 1024 * 1024, 32 * 1024 * 1024] {
        let mut cmd = Command::new("python3");
        cmd.args(["-c", PYTHON_POST])
            .arg(s.addr.port().to_string())
            .arg(&s.ca_path)
            .arg(size.to_string())
            .stdin(Stdio::null());
        without_proxy(&mut cmd);
        let out = within(
            "python3",
            tokio::task::spawn_blocking(move || cmd.output().expect("run python3")),
        )
        .await
        .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            said.trim(),
            "413",
            "{size} bytes: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_reads_the_413_of_a_body_over_the_limit() {
    let s = TestServer::start_with(policy("mode: enforce\n"), |o| o.body_limit = LIMIT).await;
    let body = vec![b' '; 32 * 1024 * 1024];
    let declared = post_bytes(
        &s.h1(),
        &s.url("/validate"),
        "application/json",
        body.clone(),
    )
    .await;
    assert_eq!(declared.status, 413, "{}", declared.text);
    assert!(declared.text.contains("limit"), "{}", declared.text);

    // Over HTTP/2 as well.
    let h2 = post_bytes(&s.h2(), &s.url("/validate"), "application/json", body).await;
    assert_eq!(h2.status, 413, "{}", h2.text);
}
