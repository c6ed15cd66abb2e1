//! 64 concurrent clients × 200 requests each (half HTTP/1.1 keep-alive, half h2), valid and
//! invalid requests mixed: every answer is the right one for its own request (uids are unique,
//! so a crossed answer shows), and the metrics add up to exactly what was sent. The elapsed time
//! is printed, never asserted.

mod server_common;

use serde_json::{Value, json};
use server_common::*;
use std::time::Instant;

const CLIENTS: usize = 64;
const REQUESTS: usize = 200;
const CA_FIX: &str = "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt";

#[derive(Clone, Copy)]
enum Kind {
    Deny,
    Patch,
    Allow,
    NotJson,
    WrongType,
}

fn kind(i: usize) -> Kind {
    match i % 5 {
        0 => Kind::Deny,
        1 => Kind::Patch,
        2 => Kind::Allow,
        3 => Kind::NotJson,
        _ => Kind::WrongType,
    }
}

/// Send request `i` of client `c` and check its answer; returns a problem, if any.
async fn one(
    client: &reqwest::Client,
    base: &str,
    broken: &Value,
    compliant: &Value,
    c: usize,
    i: usize,
) -> Option<String> {
    let uid = format!("c{c}-r{i}");
    let (path, content_type, body) = match kind(i) {
        Kind::Deny => ("/validate", "application/json", with_uid(broken, &uid)),
        Kind::Patch => ("/mutate", "application/json", with_uid(broken, &uid)),
        Kind::Allow => ("/validate", "application/json", with_uid(compliant, &uid)),
        Kind::NotJson => ("/validate", "application/json", Value::Null),
        Kind::WrongType => ("/mutate", "text/plain", with_uid(broken, &uid)),
    };
    let bytes = match kind(i) {
        Kind::NotJson => format!("not json {uid}").into_bytes(),
        _ => serde_json::to_vec(&body).unwrap(),
    };
    let r = client
        .post(format!("{base}{path}"))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await;
    let a = match r {
        Ok(r) => Answer::from_response(r).await,
        Err(e) => return Some(format!("{uid}: {e:?}")),
    };
    let bad = |why: &str| Some(format!("{uid}: {why}: HTTP {} {}", a.status, a.text));
    match kind(i) {
        Kind::NotJson if a.status != 400 => bad("expected 400"),
        Kind::WrongType if a.status != 415 => bad("expected 415"),
        Kind::NotJson | Kind::WrongType => None,
        _ if a.status != 200 => bad("expected 200"),
        k => {
            let r = a.review();
            if r.uid() != uid {
                return bad("crossed answer");
            }
            match k {
                Kind::Deny if r.allowed() || r.status_code() != Some(403) => bad("not denied"),
                Kind::Patch => {
                    let want = json!([{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": CA_FIX}]);
                    if !r.allowed() || r.patch().as_ref() != Some(&want) {
                        bad("wrong patch")
                    } else {
                        None
                    }
                }
                Kind::Allow if !r.allowed() || !r.warnings().is_empty() || r.has_patch() => {
                    bad("not a plain allow")
                }
                _ => None,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_mixed_requests_every_answer_right() {
    let s = TestServer::start(policy("mode: enforce\n")).await;
    let mut broken = fixture("kube-apiserver.deployment.json");
    drop_flags(
        &mut broken,
        "/spec/template/spec",
        "args",
        &["--kubelet-certificate-authority"],
    );
    let compliant = fixture("kube-apiserver.pod.json");
    let base = s.url("");

    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = if c % 2 == 0 { s.h1() } else { s.h2() };
        let (broken, compliant, base) = (broken.clone(), compliant.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut problems = Vec::new();
            for i in 0..REQUESTS {
                if let Some(p) = one(&client, &base, &broken, &compliant, c, i).await {
                    problems.push(p);
                }
            }
            problems
        }));
    }
    let mut problems = Vec::new();
    for t in tasks {
        // A guard against a hang only (a loaded 2-core debug build takes seconds, not minutes).
        let done = tokio::time::timeout(std::time::Duration::from_secs(600), t)
            .await
            .expect("the clients finished");
        problems.extend(done.unwrap());
    }
    let elapsed = start.elapsed();
    eprintln!(
        "{CLIENTS} clients × {REQUESTS} requests: {elapsed:.2?} ({:.0} requests/s)",
        (CLIENTS * REQUESTS) as f64 / elapsed.as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{} wrong answer(s), first: {:?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );

    let each = (CLIENTS * REQUESTS / 5) as f64;
    let m = s.metrics().await;
    let req = |labels: &[(&str, &str)]| m.get(M_REQUESTS, labels);
    assert_eq!(req(&[]), (CLIENTS * REQUESTS) as f64, "{}", m.0);
    assert_eq!(
        req(&[
            ("endpoint", "validate"),
            ("kind", "Deployment"),
            ("decision", "denied")
        ]),
        each
    );
    assert_eq!(
        req(&[
            ("endpoint", "mutate"),
            ("kind", "Deployment"),
            ("decision", "patched")
        ]),
        each
    );
    assert_eq!(
        req(&[
            ("endpoint", "validate"),
            ("kind", "Pod"),
            ("decision", "allowed")
        ]),
        each
    );
    assert_eq!(req(&[("kind", "none")]), 2.0 * each);
    assert_eq!(m.get(M_HANDSHAKE_FAILURES, &[]), 0.0);
}
