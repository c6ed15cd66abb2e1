//! Slow decisions (item 3): they never hold up `/healthz`, and one that misses its deadline is
//! answered per failure policy.

use crate::server_common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A kube-system `kubelet-config` ConfigMap review whose `data.kubelet` nests `depth` flow
/// sequences (`[[[...]]]`: 2 bytes a level, 80 KB for 40,000).
pub fn deep_configmap_review(uid: &str, depth: usize) -> Value {
    let text = format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserverTLSBootstrap: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    configmap_review(uid, text)
}

/// The same ConfigMap with a legitimate but large kubelet configuration (`gates` feature
/// gates, about 18 bytes each): slow to evaluate however the YAML parser guards nesting.
pub fn wide_configmap_review(uid: &str, gates: usize) -> Value {
    let mut text = String::from(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nrotateCertificates: true\nserverTLSBootstrap: true\nfeatureGates:\n",
    );
    for i in 0..gates {
        text.push_str(&format!("  Gate{i}: true\n"));
    }
    configmap_review(uid, text)
}

fn configmap_review(uid: &str, kubelet: String) -> Value {
    let mut r = with_uid(&fixture("kubelet-config.configmap.json"), uid);
    r["request"]["object"]["data"] = json!({ "kubelet": kubelet });
    r
}

/// GET /healthz over plain blocking HTTP from a thread of its own (not the test's runtime,
/// which shares the server's workers); the time until the whole answer was read.
fn healthz_latency(ops: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut s = match std::net::TcpStream::connect_timeout(&ops, Duration::from_secs(15)) {
        Ok(s) => s,
        Err(_) => return start.elapsed(),
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(
        out.is_empty() || out.starts_with("HTTP/1.1 200"),
        "/healthz: {out}"
    );
    start.elapsed()
}

#[test]
fn healthz_answers_fast_while_slow_decisions_are_in_flight() {
    // The server runs on 2 workers, as `serve` does on a 2-core node; the probe does not.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = TestServer::start_with(policy("mode: dry-run\n"), |o| {
            o.decision_timeout = Duration::from_secs(4);
            o.decision_concurrency = 2;
        })
        .await;
        // Three times as many slow reviews as workers: without the pool, every worker ends up
        // deciding one. With it, two run (one per slot) and the others wait for the deadline.
        // The 40,000-level ones were slow until the YAML nesting guard; the wide ones (5 MB of
        // legitimate configuration) stay slow in a debug build whatever the parser does.
        let client = s.h1();
        let mut sent = Vec::new();
        for i in 0..2 {
            let (c, url) = (client.clone(), s.url("/validate"));
            let review = deep_configmap_review(&format!("deep-{i}"), 40_000);
            sent.push(tokio::spawn(async move {
                let start = Instant::now();
                (post(&c, &url, &review).await, start.elapsed())
            }));
        }
        for i in 0..4 {
            let (c, url) = (client.clone(), s.url("/mutate"));
            let review = wide_configmap_review(&format!("wide-{i}"), 280_000);
            sent.push(tokio::spawn(async move {
                let start = Instant::now();
                (post(&c, &url, &review).await, start.elapsed())
            }));
        }
        // Let the reviews arrive, then probe while they are decided.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let ops = s.ops_addr;
        let probes = std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let start = Instant::now();
            let mut n = 0;
            while start.elapsed() < Duration::from_millis(2500) {
                worst = worst.max(healthz_latency(ops));
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (worst, n)
        });
        let (worst, n) = tokio::task::spawn_blocking(move || probes.join().unwrap())
            .await
            .unwrap();
        eprintln!("{n} /healthz probes during the slow decisions; slowest {worst:?}");
        assert!(
            worst < Duration::from_secs(2),
            "/healthz took {worst:?} while decisions were running"
        );
        for (i, task) in sent.into_iter().enumerate() {
            let (answer, took) = within("a slow review's answer", task).await.unwrap();
            let r = answer.review();
            assert_eq!(answer.status, 200, "{}", answer.text);
            assert!(
                r.uid().starts_with("deep-") || r.uid().starts_with("wide-"),
                "{}",
                answer.text
            );
            assert!(r.allowed(), "dry-run allows: {}", answer.text);
            eprintln!("review {i} ({}) answered after {took:?}", r.uid());
            // The deadline bounds every answer (plus the debug build's parse and transfer).
            assert!(took < Duration::from_secs(15), "{} took {took:?}", r.uid());
        }
    });
    // The abandoned decisions run to their end on their own threads; don't wait for them.
    rt.shutdown_background();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_past_its_deadline_is_answered_per_failure_policy() {
    // A dry-run policy fails open: allowed, with a warning that says why.
    let s = TestServer::start_with(policy("mode: dry-run\n"), |o| {
        o.decision_timeout = Duration::from_millis(50);
    })
    .await;
    let review = wide_configmap_review("wide-dry", 150_000);
    let start = Instant::now();
    let a = s.post("/mutate", &review).await;
    let took = start.elapsed();
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.review();
    assert_eq!(r.uid(), "wide-dry");
    assert!(r.allowed());
    assert!(!r.has_patch(), "no patch without a decision: {}", a.text);
    assert!(
        r.warnings()
            .iter()
            .any(|w| w.contains("could not check") && w.contains("kubelet-config")),
        "{:?}",
        r.warnings()
    );
    assert_eq!(r.audit()["decision"], "timeout", "{}", a.text);
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    let m = s.metrics().await;
    assert_eq!(
        m.get(
            "kubelet_tls_guard_decision_timeouts_total",
            &[("endpoint", "mutate")]
        ),
        1.0,
        "{}",
        m.0
    );
    assert_eq!(
        m.get(
            M_REQUESTS,
            &[("decision", "timeout"), ("kind", "ConfigMap")]
        ),
        1.0
    );

    // An enforcing policy fails closed, as failurePolicy: Fail would.
    let s = TestServer::start_with(policy("mode: enforce\n"), |o| {
        o.decision_timeout = Duration::from_millis(50);
    })
    .await;
    let a = s
        .post("/validate", &wide_configmap_review("wide-enforce", 150_000))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.review();
    assert_eq!(r.uid(), "wide-enforce");
    assert!(!r.allowed(), "{}", a.text);
    assert_eq!(r.status_code(), Some(504), "{}", a.text);
    assert!(r.message().contains("within"), "{}", r.message());

    // Quick decisions are still made once the slow ones have freed their slots.
    let ok = eventually("an ordinary review is decided again", || {
        let s = &s;
        async move {
            let a = s.post("/validate", &deployment_without_ca()).await;
            (a.status == 200 && a.review().status_code() == Some(403)).then_some(())
        }
    })
    .await;
    let () = ok;
}
