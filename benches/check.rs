//! `check` over a directory of 10,000 manifests in process (criterion), then the release binary
//! over 1,000 / 10,000 / 100,000 files with its wall time and peak RSS (issue 14's targets:
//! 10,000 files in at most 0.3 s warm, peak RSS at most 30 MB whatever the number of files).
//! Run: `cargo bench --bench check`.

use criterion::{Criterion, criterion_group};
use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::node::{check, stream};
use kubelet_tls_guard::report::{self, Format};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const APISERVER: &str = "apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
  labels: {component: kube-apiserver, tier: control-plane}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.34.2
    command:
    - kube-apiserver
    - --advertise-address=10.0.0.1
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --enable-admission-plugins=NodeRestriction
    - --etcd-servers=https://127.0.0.1:2379
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    - --secure-port=6443
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    volumeMounts:
    - {name: k8s-certs, mountPath: /etc/kubernetes/pki, readOnly: true}
  volumes:
  - name: k8s-certs
    hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}
";

const CONTROLLER: &str = "apiVersion: v1
kind: Pod
metadata: {name: kube-controller-manager, namespace: kube-system}
spec:
  containers:
  - name: kube-controller-manager
    image: registry.k8s.io/kube-controller-manager:v1.34.2
    command: [kube-controller-manager, --leader-elect=true, '--feature-gates=RotateKubeletServerCertificate=true']
";

const KUBELET: &str = "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
serverTLSBootstrap: true
featureGates:
  RotateKubeletServerCertificate: true
";

/// A directory of `n` manifests (the three kinds in turn), made once and kept in the temp dir.
fn corpus_dir(n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kubelet-tls-guard-bench-{n}"));
    if dir.join(format!("{}.yaml", n - 1)).exists() {
        return dir;
    }
    std::fs::create_dir_all(&dir).expect("temp dir");
    for i in 0..n {
        let body = [APISERVER, CONTROLLER, KUBELET][i % 3];
        std::fs::write(dir.join(format!("{i}.yaml")), body).expect("write manifest");
    }
    dir
}

fn bench(c: &mut Criterion) {
    let dir = corpus_dir(10_000);
    let policy = Policy::default();
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.bench_function("10k-manifests", |b| {
        b.iter(|| {
            let records: usize = check::inputs(std::slice::from_ref(&dir))
                .map(|i| check::audit_input(&i, &policy).len())
                .sum();
            assert_eq!(records, 50_000);
        })
    });
    // As `check --format json` runs it: judged on every core, the JSON report written as it goes.
    group.bench_function("10k-manifests-json", |b| {
        b.iter(|| {
            let tally = stream::audit_paths(std::slice::from_ref(&dir), &policy, |records| {
                report::write(Format::Json, records, false, &mut std::io::sink())
            })
            .expect("write to a sink");
            assert_eq!(tally.total(), 50_000);
        })
    });
    group.finish();
}

/// Wall time and peak RSS of the release binary over 1,000, 10,000 and 100,000 files, each run
/// as a child under GNU time (`%M`: the child's own maximum resident set), warm (second run).
/// `KTG_BENCH_RSS_SIZES=1000,10000` chooses the sizes; `KTG_BENCH_RSS=0` skips this part.
fn peak_rss() {
    if std::env::var("KTG_BENCH_RSS").is_ok_and(|v| v == "0") {
        return;
    }
    let time = Path::new("/usr/bin/time");
    if !time.is_file() {
        println!("peak RSS: not measured: /usr/bin/time (GNU time) is not installed");
        return;
    }
    let sizes: Vec<usize> = std::env::var("KTG_BENCH_RSS_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|n| *n > 0)
        .collect();
    let bin = env!("CARGO_BIN_EXE_kubelet-tls-guard");
    println!("check as a command (release binary, warm; wall s / peak RSS MB):");
    for n in sizes {
        let dir = corpus_dir(n);
        let mut row = format!("  {n:>7} files:");
        for format in ["text", "json", "junit", "sarif"] {
            let mut last = None;
            for _ in 0..2 {
                last = measure(time, bin, format, &dir);
            }
            match last {
                Some((secs, kb)) => row.push_str(&format!(
                    "  {format} {secs:.2} s {:.1} MB",
                    kb as f64 / 1024.0
                )),
                None => row.push_str(&format!("  {format} failed")),
            }
        }
        println!("{row}");
    }
}

/// One run: (elapsed seconds, max RSS in KiB) as GNU time reports them.
fn measure(time: &Path, bin: &str, format: &str, dir: &Path) -> Option<(f64, u64)> {
    let out = Command::new(time)
        .args(["-f", "%e %M", bin, "check", "--format", format])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    // `check` exits 1 (findings); GNU time's own line is the last one on stderr.
    let text = String::from_utf8_lossy(&out.stderr);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.starts_with("Command exited"))?;
    let mut words = last.split_whitespace();
    let secs = words.next()?.parse().ok()?;
    let kb = words.next()?.parse().ok()?;
    Some((secs, kb))
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    peak_rss();
}
