//! `check` over a directory of 10,000 manifests (target: under 2 s on 2 cores).
//! Run: `cargo bench --bench check`.

use criterion::{Criterion, criterion_group, criterion_main};
use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::node::check;
use std::path::PathBuf;

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

fn corpus_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("kubelet-tls-guard-bench-10k");
    if dir.join("9999.yaml").exists() {
        return dir;
    }
    std::fs::create_dir_all(&dir).expect("temp dir");
    for i in 0..10_000 {
        let body = [APISERVER, CONTROLLER, KUBELET][i % 3];
        std::fs::write(dir.join(format!("{i}.yaml")), body).expect("write manifest");
    }
    dir
}

fn bench(c: &mut Criterion) {
    let dir = corpus_dir();
    let policy = Policy::default();
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.bench_function("10k-manifests", |b| {
        b.iter(|| {
            let records: usize = check::expand(std::slice::from_ref(&dir))
                .iter()
                .map(|i| check::audit_input(i, &policy).len())
                .sum();
            assert_eq!(records, 50_000);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
