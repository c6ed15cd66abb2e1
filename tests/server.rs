//! The HTTP and TLS contract of the webhook server (DESIGN.md section 5) over real TLS on
//! loopback: HTTP/1.1 keep-alive and h2 (ALPN), TLS 1.2 and 1.3 accepted and TLS 1.1 refused,
//! body limits (413), content type (415), bad requests (400, one line), the operations port
//! (/healthz, /readyz, /metrics), draining on shutdown, slow clients, mTLS, `request.dryRun`,
//! DELETE/CONNECT/sub-resources and v1beta1. Real `curl` and `openssl s_client` are used where a
//! user would; those parts record a skip (`tests/support/skip.rs`) only when the binary is absent.

mod server_common;

use serde_json::{Value, json};
use server_common::*;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// --- helpers ----------------------------------------------------------------------------------

/// `tool` if it runs, else `None` after printing why the part that needs it is skipped.
fn tool(tool: &str, probe: &str, part: &str) -> Option<String> {
    match Command::new(tool).arg(probe).output() {
        Ok(_) => Some(tool.to_string()),
        Err(_) => {
            skip::skip(&format!("{tool} is not installed; {part} not run"));
            None
        }
    }
}

/// Run a command without any proxy settings (only loopback is ever contacted).
async fn run(mut cmd: Command) -> Output {
    without_proxy(&mut cmd).stdin(Stdio::null());
    within(
        "external command",
        tokio::task::spawn_blocking(move || cmd.output().expect("spawn")),
    )
    .await
    .expect("command thread")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A plain kube-apiserver Pod missing `--kubelet-certificate-authority`.
fn broken_pod() -> Value {
    let mut r = fixture("kube-apiserver.pod.json");
    drop_flags(
        &mut r,
        "/spec",
        "command",
        &["--kubelet-certificate-authority"],
    );
    r
}

fn enforce() -> kubelet_tls_guard::engine::policy::Policy {
    policy("mode: enforce\nmirrorPods: deny\n")
}

fn body_of(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn assert_one_line(what: &str, r: &RawResponse) {
    let t = r.text();
    let line = t.strip_suffix('\n').unwrap_or(&t);
    assert!(
        !line.is_empty() && !line.contains('\n'),
        "{what}: the reason must be one line: {t:?}"
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{what}: {:?}",
        r.headers
    );
}

fn h1_config(ca: &str) -> rustls::ClientConfig {
    client_config(ca, Alpn::Http1, BOTH_VERSIONS, None)
}

// --- HTTP/1.1 keep-alive and h2 ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_keep_alive_serves_many_requests_on_one_connection() {
    let s = TestServer::start(enforce()).await;
    let mut conn = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
    assert_eq!(conn.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut buf = Vec::new();
    for i in 0..5 {
        let review = with_uid(&deployment_without_ca(), &format!("keep-alive-{i}"));
        let r = round_trip(
            &mut conn,
            &mut buf,
            &post_request("/validate", &body_of(&review)),
        )
        .await
        .unwrap_or_else(|e| panic!("request {i} on the kept-alive connection: {e}"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            !r.header("connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close")),
            "the server must keep the connection open: {:?}",
            r.headers
        );
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["response"]["uid"], format!("keep-alive-{i}"));
        assert_eq!(v["response"]["allowed"], false);
    }

    // curl reuses the connection for a second URL on the same host.
    let Some(curl) = tool("curl", "--version", "the curl keep-alive check") else {
        return;
    };
    let body = s.dir.path().join("review.json");
    std::fs::write(&body, body_of(&deployment_without_ca())).unwrap();
    let mut cmd = Command::new(curl);
    cmd.args(["-sS", "-v", "--http1.1", "--noproxy", "*", "--cacert"])
        .arg(&s.ca_path)
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg(s.url("/validate"))
        .arg(s.url("/mutate"));
    let out = run(cmd).await;
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Re-using existing connection") || stderr.contains("Reusing existing"),
        "curl did not reuse the connection: {all}"
    );
    assert!(
        stderr.matches("SSL connection using").count() == 1,
        "one handshake for two requests: {all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_is_negotiated_by_alpn() {
    let s = TestServer::start(enforce()).await;
    // The server prefers h2 when the client offers both.
    let conn = tls_connect(
        s.addr,
        client_config(&s.ca_pem, Alpn::Both, BOTH_VERSIONS, None),
    )
    .await
    .unwrap();
    assert_eq!(conn.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    drop(conn);

    // Many concurrent streams on one h2 client, each answered with its own uid.
    let client = s.h2();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = client.clone();
        let url = s.url("/mutate");
        tasks.push(tokio::spawn(async move {
            let review = with_uid(&deployment_without_ca(), &format!("h2-{i}"));
            (i, post(&client, &url, &review).await)
        }));
    }
    for t in tasks {
        let (i, a) = t.await.unwrap();
        assert_eq!(a.version, reqwest::Version::HTTP_2);
        let r = a.review();
        assert_eq!(r.uid(), format!("h2-{i}"));
        assert!(r.patch().is_some(), "{}", r.0);
    }

    let Some(curl) = tool("curl", "--version", "the curl h2 check") else {
        return;
    };
    let body = s.dir.path().join("review.json");
    std::fs::write(&body, body_of(&deployment_without_ca())).unwrap();
    let mut cmd = Command::new(curl);
    cmd.args(["-sS", "--http2", "--noproxy", "*", "--cacert"])
        .arg(&s.ca_path)
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .args(["-w", "\nHTTP_VERSION=%{http_version}"])
        .arg(s.url("/validate"));
    let out = run(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout.ends_with("HTTP_VERSION=2"), "{}", text(&out));
    let (json_part, _) = stdout.rsplit_once('\n').unwrap();
    let v: Value = serde_json::from_str(json_part).unwrap();
    assert_eq!(v["response"]["allowed"], false);
}

// --- TLS versions -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_and_tls13_are_accepted() {
    let s = TestServer::start(enforce()).await;
    for (version, want) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let cfg = client_config(&s.ca_pem, Alpn::Http1, &[version], None);
        let mut conn = tls_connect(s.addr, cfg).await.unwrap();
        assert_eq!(conn.get_ref().1.protocol_version(), Some(want));
        let mut buf = Vec::new();
        let review = with_uid(&deployment_without_ca(), "tls-version");
        let r = round_trip(
            &mut conn,
            &mut buf,
            &post_request("/validate", &body_of(&review)),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "{want:?}: {}", r.text());
    }

    let Some(openssl) = tool("openssl", "version", "the openssl s_client checks") else {
        return;
    };
    for (flag, want) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let mut cmd = Command::new(&openssl);
        cmd.args(["s_client", "-connect", &s.addr.to_string(), flag])
            .args([
                "-servername",
                "localhost",
                "-verify_return_error",
                "-CAfile",
            ])
            .arg(&s.ca_path)
            .args(["-alpn", "h2,http/1.1"]);
        let out = run(cmd).await;
        let all = text(&out);
        assert!(out.status.success(), "{flag}: {all}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("New, {want}")), "{flag}: {all}");
        assert!(
            stdout.contains("Verify return code: 0 (ok)"),
            "{flag}: {all}"
        );
        assert!(stdout.contains("ALPN protocol: h2"), "{flag}: {all}");
    }
}

/// A TLS 1.1 ClientHello (legacy version 3.2, no supported_versions extension). It carries
/// signature_algorithms so that the only thing wrong with it is the version.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([0x5a; 32]);
    body.push(0);
    let suites: [u16; 6] = [0xc013, 0xc014, 0x002f, 0x0035, 0xc009, 0xc00a];
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]);
    // extensions: signature_algorithms = ecdsa_secp256r1_sha256, rsa_pkcs1_sha256
    let ext = [0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x04, 0x01];
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![0x01];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls11_is_refused() {
    let s = TestServer::start(enforce()).await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(&tls11_client_hello()).await.unwrap();
    let mut reply = Vec::new();
    within("the server's answer to TLS 1.1", async {
        let mut chunk = [0u8; 256];
        while reply.len() < 7 {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    // An alert record: fatal (2), protocol_version (70).
    assert!(
        reply.len() >= 7 && reply[0] == 0x15 && reply[5] == 2 && reply[6] == 70,
        "expected a fatal protocol_version alert, got {reply:02x?}"
    );
    let failures = s.metrics().await.get(M_HANDSHAKE_FAILURES, &[]);
    assert!(failures >= 1.0, "handshake failure not counted");

    let Some(openssl) = tool("openssl", "version", "the openssl -tls1_1 check") else {
        return;
    };
    // SECLEVEL=0 lets OpenSSL 3 actually offer TLS 1.1, so the refusal is the server's.
    let mut cmd = Command::new(&openssl);
    cmd.args(["s_client", "-connect", &s.addr.to_string(), "-tls1_1"])
        .args(["-cipher", "DEFAULT@SECLEVEL=0", "-CAfile"])
        .arg(&s.ca_path);
    let out = run(cmd).await;
    let all = text(&out);
    assert!(!out.status.success(), "TLS 1.1 handshake succeeded: {all}");
    assert!(!all.contains("New, TLSv1.1"), "{all}");
    let after = s.metrics().await.get(M_HANDSHAKE_FAILURES, &[]);
    assert!(
        after > failures,
        "openssl's TLS 1.1 attempt never reached the server (refused locally?): {all}"
    );
}

// --- request bodies and content types ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_default_8mib() {
    let s = TestServer::start(enforce()).await;
    // An UPDATE of a 3 MiB object carries two of them: within the default limit.
    let big = "x".repeat(3 * 1024 * 1024);
    let mut review = fixture("kubeadm-config.v1beta3.json");
    review["request"]["object"]["data"]["blob"] = json!(big);
    review["request"]["oldObject"]["data"]["blob"] = json!(big);
    let body = body_of(&review);
    assert!(body.len() > 6 * 1024 * 1024 && body.len() < 8 * 1024 * 1024);
    let a = post_bytes(&s.h1(), &s.url("/validate"), "application/json", body).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.review().allowed());

    // Over the limit by declared length: 413 before the body is read.
    let mut conn = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
    let mut buf = Vec::new();
    let head = post_head("/validate", 8 * 1024 * 1024 + 1, "application/json");
    let r = round_trip(&mut conn, &mut buf, &head).await.unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    assert_one_line("413", &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_a_small_limit_is_413() {
    let limit = 64 * 1024;
    let s = TestServer::start_with(enforce(), |o| o.body_limit = limit).await;
    let conn = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
    let (mut rd, mut wr) = tokio::io::split(conn);
    // Keep writing chunks while the answer is read: the server answers as soon as the limit is
    // crossed, without waiting for the end of the body.
    let writer = tokio::spawn(async move {
        let head = "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        wr.write_all(head.as_bytes()).await?;
        let chunk = format!("{:x}\r\n{}\r\n", 4096, " ".repeat(4096));
        for _ in 0..(limit / 4096 + 8) {
            wr.write_all(chunk.as_bytes()).await?;
        }
        wr.flush().await?;
        Ok::<_, std::io::Error>(wr)
    });
    let mut buf = Vec::new();
    let r = within("413 for a chunked body", read_response(&mut rd, &mut buf))
        .await
        .unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    assert_one_line("413", &r);
    let _ = writer.await;

    // The server is fine afterwards; a body within the limit is served.
    let a = s.post("/validate", &deployment_without_ca()).await;
    assert_eq!(a.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_is_415() {
    let s = TestServer::start(enforce()).await;
    let client = s.h1();
    let body = body_of(&deployment_without_ca());
    for ct in [
        "text/plain",
        "application/yaml",
        "application/x-www-form-urlencoded",
    ] {
        let a = post_bytes(&client, &s.url("/validate"), ct, body.clone()).await;
        assert_eq!(a.status, 415, "{ct}: {}", a.text);
        assert!(a.content_type.starts_with("text/plain"));
        assert_eq!(a.text.trim_end().lines().count(), 1, "{:?}", a.text);
    }
    // No Content-Type at all.
    let mut conn = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
    let mut buf = Vec::new();
    let req = format!(
        "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&body);
    let r = round_trip(&mut conn, &mut buf, &bytes).await.unwrap();
    assert_eq!(r.status, 415, "{}", r.text());
    assert_one_line("415", &r);
    // Parameters after the media type are fine.
    let a = post_bytes(
        &client,
        &s.url("/validate"),
        "application/json; charset=utf-8",
        body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_400_with_one_line_and_do_not_affect_others() {
    let s = TestServer::start(enforce()).await;
    let mut conn = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
    let mut buf = Vec::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\n".to_vec()),
        ("truncated JSON", br#"{"apiVersion":"admission.k8s.io/v1","#.to_vec()),
        ("empty body", Vec::new()),
        ("a JSON array", b"[1,2,3]".to_vec()),
        ("a Pod", br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}"#.to_vec()),
        (
            "no request",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
        ),
        (
            "no uid",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#.to_vec(),
        ),
        (
            "unknown version",
            br#"{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"a"}}"#.to_vec(),
        ),
        ("invalid UTF-8", vec![b'{', 0xff, 0xfe, b'}']),
    ];
    let good = with_uid(&deployment_without_ca(), "after-bad");
    for (what, body) in cases {
        for path in ["/validate", "/mutate"] {
            let r = round_trip(&mut conn, &mut buf, &post_request(path, &body))
                .await
                .unwrap_or_else(|e| panic!("{what} {path}: {e}"));
            assert_eq!(r.status, 400, "{what} {path}: {}", r.text());
            assert_one_line(what, &r);
            // The next request on the same connection is answered normally.
            let r = round_trip(&mut conn, &mut buf, &post_request(path, &body_of(&good)))
                .await
                .unwrap_or_else(|e| panic!("good request after {what}: {e}"));
            assert_eq!(r.status, 200, "after {what}: {}", r.text());
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["response"]["uid"], "after-bad");
        }
    }
    // The reason says what is wrong.
    let a = post_bytes(
        &s.h1(),
        &s.url("/validate"),
        "application/json",
        b"{".to_vec(),
    )
    .await;
    assert!(a.text.contains("JSON"), "{}", a.text);
}

// --- the operations port ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_port_health_readiness_and_metrics() {
    // dry-run for everything except the CA rule, which is enforced.
    let s = TestServer::start(policy(&format!(
        "mode: dry-run\nrules:\n  {CA}: {{mode: enforce}}\n"
    )))
    .await;
    let ops = plain_client();
    let get = |path: &str| {
        let ops = ops.clone();
        let url = s.ops_url(path);
        async move {
            let r = ops.get(url).send().await.expect("ops port");
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await.0, 200);

    let m0 = s.metrics().await;
    // The serving certificate's notAfter, as the server read it.
    let leaf = first_cert_der(&std::fs::read_to_string(&s.cert_path).unwrap());
    assert_eq!(
        m0.sum(M_NOT_AFTER, &[]),
        Some(not_after_of(&leaf) as f64),
        "{}",
        m0.0
    );
    assert_eq!(m0.sum(M_RELOADS, &[]), Some(0.0), "{}", m0.0);
    assert_eq!(m0.sum(M_RELOAD_FAILURES, &[]), Some(0.0), "{}", m0.0);

    // 3 denials (enforced CA rule), 2 dry-run would-be denials (client cert), 2 patches,
    // 1 mirror pod report, 2 bad requests.
    let mut client_broken = fixture("kube-apiserver.deployment.json");
    drop_flags(
        &mut client_broken,
        "/spec/template/spec",
        "args",
        &["--kubelet-client-certificate"],
    );
    let mut mirror = fixture("kube-apiserver.mirror-pod.json");
    drop_flags(
        &mut mirror,
        "/spec",
        "command",
        &["--kubelet-certificate-authority"],
    );
    for _ in 0..3 {
        assert_eq!(
            s.post("/validate", &deployment_without_ca()).await.status,
            200
        );
    }
    for _ in 0..2 {
        assert_eq!(s.post("/validate", &client_broken).await.status, 200);
        assert_eq!(
            s.post("/mutate", &deployment_without_ca()).await.status,
            200
        );
    }
    assert!(s.post("/validate", &mirror).await.review().allowed());
    for _ in 0..2 {
        let a = post_bytes(
            &s.h1(),
            &s.url("/validate"),
            "application/json",
            b"nope".to_vec(),
        )
        .await;
        assert_eq!(a.status, 400);
    }

    let m = s.metrics().await;
    let req = |endpoint: &str, kind: &str, decision: &str| {
        m.get(
            M_REQUESTS,
            &[
                ("endpoint", endpoint),
                ("kind", kind),
                ("decision", decision),
            ],
        )
    };
    assert_eq!(req("validate", "Deployment", "denied"), 3.0, "{}", m.0);
    assert_eq!(req("validate", "Deployment", "would_deny"), 2.0, "{}", m.0);
    assert_eq!(req("mutate", "Deployment", "patched"), 2.0, "{}", m.0);
    assert_eq!(
        m.get(M_REQUESTS, &[("endpoint", "validate"), ("kind", "Pod")]),
        1.0
    );
    assert_eq!(
        m.get(M_REQUESTS, &[("endpoint", "validate")]),
        8.0,
        "{}",
        m.0
    );
    assert_eq!(m.get(M_REQUESTS, &[("endpoint", "mutate")]), 2.0, "{}", m.0);
    assert_eq!(
        m.get(M_REQUESTS, &[("kind", "none")]),
        2.0,
        "bad requests: {}",
        m.0
    );
    // Rule results by rule, result and mode.
    let rule = |name: &str, result: &str, mode: &str| {
        m.get(
            M_RULES,
            &[
                ("endpoint", "validate"),
                ("rule", name),
                ("result", result),
                ("mode", mode),
            ],
        )
    };
    assert_eq!(
        rule(CA, "fail", "enforce"),
        4.0,
        "3 Deployments + the mirror pod: {}",
        m.0
    );
    assert_eq!(rule(CA, "pass", "enforce"), 2.0, "{}", m.0);
    assert_eq!(rule(CLIENT, "fail", "dry-run"), 2.0, "{}", m.0);
    assert_eq!(m.get(M_MIRROR, &[("rule", CA)]), 1.0, "{}", m.0);
    // The latency histogram saw every decided request (bad requests may or may not count).
    let observed = m.get(M_LATENCY_COUNT, &[("endpoint", "validate")]);
    assert!((6.0..=8.0).contains(&observed), "{}", m.0);
    assert_eq!(
        m.get(M_LATENCY_COUNT, &[("endpoint", "mutate")]),
        2.0,
        "{}",
        m.0
    );
    assert_eq!(
        m.get(
            M_LATENCY_BUCKET,
            &[("endpoint", "validate"), ("le", "+Inf")]
        ),
        observed,
        "{}",
        m.0
    );

    let (code, body) = get("/nope").await;
    assert_eq!(code, 404, "{body}");
}

// --- draining and slow clients ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_a_slow_in_flight_request_and_reports_not_ready() {
    let mut s = TestServer::start_with(enforce(), |o| {
        o.body_timeout = Duration::from_secs(120);
        o.drain_timeout = Duration::from_secs(120);
    })
    .await;
    let ops = plain_client();
    let readyz = {
        let url = s.ops_url("/readyz");
        move || {
            let ops = ops.clone();
            let url = url.clone();
            async move { ops.get(url).send().await.ok().map(|r| r.status().as_u16()) }
        }
    };
    assert_eq!(readyz().await, Some(200));

    let review = with_uid(&deployment_without_ca(), "slow-body");
    let body = body_of(&review);
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
    // `Expect: 100-continue` tells us when the handler has started reading the body: from then
    // on the request is in flight.
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let cont = within("100 Continue", read_response(&mut conn, &mut buf))
        .await
        .unwrap();
    assert_eq!(cont.status, 100);
    conn.write_all(first).await.unwrap();
    conn.flush().await.unwrap();

    s.running().shutdown();
    eventually("/readyz reports not ready while draining", || {
        let probe = readyz.clone();
        async move { (probe().await == Some(503)).then_some(()) }
    })
    .await;
    let addr = s.addr;
    eventually("the listener stops accepting", || async move {
        TcpStream::connect(addr).await.is_err().then_some(())
    })
    .await;
    // Still draining: the in-flight request holds the server up.
    assert_eq!(readyz().await, Some(503));

    conn.write_all(rest).await.unwrap();
    conn.flush().await.unwrap();
    let r = within(
        "the slow request's answer",
        read_response(&mut conn, &mut buf),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["response"]["uid"], "slow-body");
    assert_eq!(v["response"]["allowed"], false);

    s.stop().await;
    // After the drain the operations port is gone too.
    assert_eq!(readyz().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_clients_do_not_hold_up_the_others() {
    let s = TestServer::start_with(enforce(), |o| {
        o.header_timeout = Duration::from_secs(600);
        o.handshake_timeout = Duration::from_secs(600);
        o.body_timeout = Duration::from_secs(600);
    })
    .await;
    // 20 TCP connections that never start TLS, 20 that stop in the middle of their headers,
    // 10 that stop in the middle of their body.
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(s.addr).await.unwrap());
    }
    let mut half_head = Vec::new();
    for _ in 0..20 {
        let mut c = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
        c.write_all(b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
            .await
            .unwrap();
        c.flush().await.unwrap();
        half_head.push(c);
    }
    let body = body_of(&with_uid(&deployment_without_ca(), "loris-late"));
    let mut half_body = Vec::new();
    for _ in 0..10 {
        let mut c = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
        c.write_all(&post_head("/validate", body.len(), "application/json"))
            .await
            .unwrap();
        c.write_all(&body[..10]).await.unwrap();
        c.flush().await.unwrap();
        half_body.push(c);
    }

    // Everyone else is served: on one kept-alive connection and on fresh ones.
    let keep = s.h1();
    for i in 0..30 {
        let r = post(
            &keep,
            &s.url("/validate"),
            &with_uid(&deployment_without_ca(), &format!("k{i}")),
        )
        .await
        .review();
        assert_eq!(r.uid(), format!("k{i}"));
    }
    for i in 0..15 {
        let fresh = s.h1();
        let r = post(
            &fresh,
            &s.url("/mutate"),
            &with_uid(&deployment_without_ca(), &format!("f{i}")),
        )
        .await
        .review();
        assert!(r.patch().is_some());
    }

    // The slow clients were still connected all along: they are served when they finish.
    let mut buf = Vec::new();
    let mut c = half_head.pop().unwrap();
    let rest = format!(
        "pe: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(rest.as_bytes()).await.unwrap();
    c.write_all(&body).await.unwrap();
    let r = within("the slow header client", read_response(&mut c, &mut buf))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let mut c = half_body.pop().unwrap();
    let mut buf = Vec::new();
    c.write_all(&body[10..]).await.unwrap();
    let r = within("the slow body client", read_response(&mut c, &mut buf))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let tcp = silent.pop().unwrap();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(h1_config(&s.ca_pem)));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut c = within("the late handshake", connector.connect(name, tcp))
        .await
        .unwrap();
    let mut buf = Vec::new();
    let r = round_trip(&mut c, &mut buf, &post_request("/validate", &body))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_eventually_disconnected() {
    let s = TestServer::start_with(enforce(), |o| {
        o.header_timeout = Duration::from_secs(1);
        o.handshake_timeout = Duration::from_secs(1);
    })
    .await;
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    let mut half = tls_connect(s.addr, h1_config(&s.ca_pem)).await.unwrap();
    half.write_all(b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    half.flush().await.unwrap();
    // Each read ends in EOF, an error or a 408: anything but more waiting.
    within("the stalled handshake is dropped", async {
        let mut b = [0u8; 64];
        while let Ok(n) = silent.read(&mut b).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    within("the stalled request head is dropped", async {
        let mut b = [0u8; 1024];
        while let Ok(n) = half.read(&mut b).await {
            if n == 0 || b[..n].starts_with(b"HTTP/1.1 408") {
                break;
            }
        }
    })
    .await;
    // The server itself is fine.
    assert_eq!(
        s.post("/validate", &deployment_without_ca()).await.status,
        200
    );
}

// --- admission semantics that are not about one rule -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_dry_run_is_honoured() {
    // The webhook has no side effects: a dry-run request gets exactly the real answer.
    let s = TestServer::start(enforce()).await;
    let real = with_uid(&deployment_without_ca(), "same-uid");
    let mut dry = real.clone();
    dry["request"]["dryRun"] = json!(true);
    for endpoint in ["/validate", "/mutate"] {
        let a = s.post(endpoint, &real).await.review();
        let b = s.post(endpoint, &dry).await.review();
        assert_eq!(a.0, b.0, "{endpoint}: dryRun changed the answer");
    }
    assert!(!s.post("/validate", &dry).await.review().allowed());
    assert!(s.post("/mutate", &dry).await.review().patch().is_some());
    let m = s.metrics().await;
    assert_eq!(m.get(M_REQUESTS, &[("dry_run", "true")]), 4.0, "{}", m.0);
    assert_eq!(m.get(M_REQUESTS, &[("dry_run", "false")]), 2.0, "{}", m.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_connect_and_subresources_are_allowed_at_once() {
    let s = TestServer::start(enforce()).await;
    let pod = broken_pod();
    // Control: the same object on CREATE is denied, so "allowed" below means something.
    assert!(!s.post("/validate", &pod).await.review().allowed());

    let mut delete = pod.clone();
    delete["request"]["operation"] = json!("DELETE");
    delete["request"]["oldObject"] = pod["request"]["object"].clone();
    delete["request"]["object"] = Value::Null;
    let mut delete_with_object = delete.clone();
    delete_with_object["request"]["object"] = pod["request"]["object"].clone();
    let mut connect = pod.clone();
    connect["request"]["operation"] = json!("CONNECT");
    connect["request"]["subResource"] = json!("exec");
    connect["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "PodExecOptions"});
    connect["request"]["object"] = json!({
        "kind": "PodExecOptions", "apiVersion": "v1",
        "stdin": true, "stdout": true, "tty": true, "command": ["sh"]
    });
    let mut connect_pod_object = connect.clone();
    connect_pod_object["request"]["object"] = pod["request"]["object"].clone();
    let mut status = pod.clone();
    status["request"]["operation"] = json!("UPDATE");
    status["request"]["subResource"] = json!("status");
    status["request"]["oldObject"] = pod["request"]["object"].clone();

    for (what, review) in [
        ("DELETE", delete),
        ("DELETE with an object", delete_with_object),
        ("CONNECT exec", connect),
        ("CONNECT with a pod object", connect_pod_object),
        ("UPDATE pods/status", status),
    ] {
        for endpoint in ["/validate", "/mutate"] {
            let r = s.post(endpoint, &with_uid(&review, what)).await.review();
            assert_eq!(r.uid(), what);
            assert!(r.allowed(), "{what} {endpoint}: {}", r.0);
            assert!(!r.has_patch(), "{what} {endpoint}: {}", r.0);
            assert!(r.warnings().is_empty(), "{what} {endpoint}: {}", r.0);
            assert!(r.audit().is_empty(), "{what} {endpoint}: {}", r.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1beta1_is_echoed() {
    let s = TestServer::start(enforce()).await;
    let mut review = with_uid(&deployment_without_ca(), "beta");
    review["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let r = s.post("/validate", &review).await.review();
    assert_eq!(r.api_version(), "admission.k8s.io/v1beta1");
    assert_eq!(r.0["kind"], "AdmissionReview");
    assert_eq!(r.uid(), "beta");
    assert!(!r.allowed());
    assert_eq!(r.status_code(), Some(403));
    let r = s.post("/mutate", &review).await.review();
    assert_eq!(r.api_version(), "admission.k8s.io/v1beta1");
    assert!(r.patch().is_some(), "{}", r.0);
    // And v1 stays v1.
    let r = s.post("/validate", &deployment_without_ca()).await.review();
    assert_eq!(r.api_version(), "admission.k8s.io/v1");
}

// --- mTLS -------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_requires_a_client_certificate_from_the_ca() {
    // The client CA is a CA of its own (the API server's), not the serving CA.
    let dir = tempfile::tempdir().unwrap();
    let client_ca = new_ca("api server client CA");
    let ca_file = dir.path().join("client-ca.crt");
    std::fs::write(&ca_file, client_ca.cert_pem()).unwrap();
    let s = TestServer::start_with(enforce(), |o| o.client_ca = Some(ca_file.clone())).await;
    let good = client_ca.issue_client("kube-apiserver", 1).unwrap();
    let stranger = new_ca("someone else")
        .issue_client("kube-apiserver", 1)
        .unwrap();
    let review = body_of(&with_uid(&deployment_without_ca(), "mtls"));

    let before = s.metrics().await.get(M_HANDSHAKE_FAILURES, &[]);
    for (what, cert) in [
        ("no certificate", None),
        ("another CA's certificate", Some(&stranger)),
    ] {
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let cfg = client_config(&s.ca_pem, Alpn::Http1, &[version], cert);
            // TLS 1.2 fails in the handshake; with TLS 1.3 the client learns of the refusal on
            // its first read. Either way no request is ever answered.
            let outcome = async {
                let mut c = tls_connect(s.addr, cfg).await?;
                let mut buf = Vec::new();
                round_trip(&mut c, &mut buf, &post_request("/validate", &review)).await
            }
            .await;
            assert!(
                outcome.is_err(),
                "{what} over {version:?} was served: {outcome:?}"
            );
        }
        let a = http_client(&s.ca_pem, Alpn::Http1, cert)
            .post(s.url("/validate"))
            .header("content-type", "application/json")
            .body(review.clone())
            .send()
            .await;
        assert!(a.is_err(), "{what}: {a:?}");
    }
    let m = s.metrics().await;
    assert!(
        m.get(M_HANDSHAKE_FAILURES, &[]) >= before + 6.0,
        "refused handshakes are counted: {}",
        m.0
    );
    assert_eq!(
        m.get(M_REQUESTS, &[]),
        0.0,
        "no request got through: {}",
        m.0
    );

    let a = post_bytes(
        &http_client(&s.ca_pem, Alpn::Http1, Some(&good)),
        &s.url("/validate"),
        "application/json",
        review.clone(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.review().uid(), "mtls");
    let a = post_bytes(
        &http_client(&s.ca_pem, Alpn::H2, Some(&good)),
        &s.url("/validate"),
        "application/json",
        review.clone(),
    )
    .await;
    assert_eq!(a.status, 200);

    let Some(curl) = tool("curl", "--version", "the curl mTLS check") else {
        return;
    };
    let body = dir.path().join("review.json");
    let (cert, key) = (dir.path().join("client.crt"), dir.path().join("client.key"));
    std::fs::write(&body, &review).unwrap();
    std::fs::write(&cert, &good.cert_pem).unwrap();
    std::fs::write(&key, &good.key_pem).unwrap();
    let base = |with_cert: bool| {
        let mut cmd = Command::new(&curl);
        cmd.args(["-sS", "--noproxy", "*", "--cacert"])
            .arg(&s.ca_path);
        if with_cert {
            cmd.arg("--cert").arg(&cert).arg("--key").arg(&key);
        }
        cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(format!("@{}", body.display()))
            .arg(s.url("/validate"));
        cmd
    };
    let out = run(base(true)).await;
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["response"]["uid"], "mtls");
    let out = run(base(false)).await;
    assert!(
        !out.status.success(),
        "curl without a certificate was served: {}",
        text(&out)
    );
}
