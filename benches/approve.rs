//! `approve-csrs` decision path: 5,000 pending kubelet-serving CSRs (real P-256 PKCS#10, 1 in 10
//! hostile) over 5,000 Nodes. Target (issue 12): all decided in under 10 s, under 80 MB.
//! Run: `cargo bench --bench approve`; peak RSS: `/usr/bin/time -v` on the bench binary.

#[path = "../tests/common/csr_fixtures.rs"]
mod csr_fixtures;

use criterion::{Criterion, criterion_group, criterion_main};
use csr_fixtures::{Shape, csr, kubelet_shape, node, request_pem};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::Node;
use kubelet_tls_guard::cluster::approve::{Config, Decision, judge};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

const N: usize = 5_000;

fn ip(i: usize) -> String {
    format!("10.{}.{}.{}", i / 65_536, (i / 256) % 256, i % 256)
}

fn fixture() -> (Vec<CertificateSigningRequest>, HashMap<String, Node>) {
    let mut nodes = HashMap::with_capacity(N);
    let mut csrs = Vec::with_capacity(N);
    for i in 0..N {
        let name = format!("node-{i:05}");
        let internal = ip(i);
        let external = format!("203.0.{}.{}", (i / 256) % 256, i % 256);
        let dns = format!("{name}.nodes.example.com");
        nodes.insert(
            name.clone(),
            node(
                &name,
                &[
                    ("InternalIP", &internal),
                    ("ExternalIP", &external),
                    ("Hostname", &name),
                    ("InternalDNS", &dns),
                ],
            ),
        );
        let mut shape = Shape {
            dns: vec![name.clone(), dns],
            ..kubelet_shape(&name, &[&internal, &external])
        };
        if i % 10 == 9 {
            // Hostile: a neighbour's IP.
            shape.ips.push(ip(i.saturating_sub(1)).parse().expect("ip"));
        }
        csrs.push(csr(&format!("csr-{i:05}"), &name, &request_pem(&shape)));
    }
    (csrs, nodes)
}

fn decide_all(
    csrs: &[CertificateSigningRequest],
    nodes: &HashMap<String, Node>,
    cfg: &Config,
) -> (usize, usize) {
    let (mut approved, mut denied) = (0, 0);
    for c in csrs {
        match judge(c, |n| nodes.get(n), cfg) {
            Decision::Approve { .. } => approved += 1,
            Decision::Deny { .. } => denied += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (approved, denied)
}

fn bench(c: &mut Criterion) {
    let t0 = Instant::now();
    let (csrs, nodes) = fixture();
    eprintln!("fixture: {N} CSRs and {N} Nodes made in {:?}", t0.elapsed());
    let cfg = Config::default();
    let t1 = Instant::now();
    let (approved, denied) = decide_all(&csrs, &nodes, &cfg);
    let took = t1.elapsed();
    assert_eq!((approved, denied), (N - N / 10, N / 10));
    eprintln!(
        "one pass: {N} decided ({approved} approved, {denied} denied) in {took:?}: {:.0} decisions/s",
        N as f64 / took.as_secs_f64()
    );
    let mut g = c.benchmark_group("approve");
    g.sample_size(10);
    g.bench_function("judge 5000 CSRs over 5000 Nodes", |b| {
        b.iter(|| black_box(decide_all(black_box(&csrs), &nodes, &cfg)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
