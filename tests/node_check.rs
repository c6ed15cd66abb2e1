//! `check --node` (issue 11, DESIGN.md section 9) over fake nodes: a `/proc` whose cmdline
//! files are written as Linux writes them, and a node tree under `--root`. Expectations come
//! from the issue and from how the kubelet merges its configuration, not from the code.

mod common;
use common::nodefs::FakeNode;
use common::*;

const KUBELET_CONFIG: &str = "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
cgroupDriver: systemd
featureGates:
  RotateKubeletServerCertificate: true
serverTLSBootstrap: true
staticPodPath: /etc/kubernetes/manifests
";

/// The kubelet as kubeadm's systemd drop-in starts it.
const KUBELET_ARGV: &[&str] = &[
    "/usr/bin/kubelet",
    "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
    "--kubeconfig=/etc/kubernetes/kubelet.conf",
    "--config=/var/lib/kubelet/config.yaml",
    "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
    "--pod-infra-container-image=registry.k8s.io/pause:3.10",
];

/// The command of tests/fixtures/node/etc/kubernetes/manifests/kube-apiserver.yaml.
const APISERVER_ARGV: &[&str] = &[
    "kube-apiserver",
    "--advertise-address=10.0.0.10",
    "--authorization-mode=Node,RBAC",
    "--client-ca-file=/etc/kubernetes/pki/ca.crt",
    "--etcd-servers=https://127.0.0.1:2379",
    "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
    "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
    "--secure-port=6443",
    "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
    "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
];

/// The command of tests/fixtures/node/etc/kubernetes/manifests/kube-controller-manager.yaml.
const CM_ARGV: &[&str] = &[
    "kube-controller-manager",
    "--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt",
    "--cluster-signing-key-file=/etc/kubernetes/pki/ca.key",
    "--feature-gates=RotateKubeletServerCertificate=true",
    "--kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--use-service-account-credentials=true",
];

/// A kubeadm control-plane node: manifests from tests/fixtures/node, kubelet config above,
/// plus the noise every real /proc has (kernel threads, etcd, a shell, a vanished pid).
fn control_plane() -> FakeNode {
    let n = FakeNode::new();
    n.fixture(
        "node/etc/kubernetes/manifests/kube-apiserver.yaml",
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
    )
    .fixture(
        "node/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    )
    .fixture(
        "node/etc/kubernetes/manifests/etcd.yaml",
        "/etc/kubernetes/manifests/etcd.yaml",
    )
    .file("/var/lib/kubelet/config.yaml", KUBELET_CONFIG)
    .process(1, &["/sbin/init", "splash"])
    .process_raw(2, b"")
    .process_raw(3, b"")
    .process(412, KUBELET_ARGV)
    .process(
        1201,
        &[
            "etcd",
            "--data-dir=/var/lib/etcd",
            "--listen-client-urls=https://127.0.0.1:2379",
        ],
    )
    .process(1202, APISERVER_ARGV)
    .process(1203, CM_ARGV)
    .process(2000, &["/bin/bash", "-c", "kube-apiserver --help | less"])
    .vanished(2001);
    n
}

/// The one result for `source` and `rule`; panics listing what there is otherwise.
fn one<'a>(results: &'a [Res], source: &str, rule: &str) -> &'a Res {
    let hits: Vec<&Res> = results
        .iter()
        .filter(|r| r.source == source && r.rule == rule)
        .collect();
    match hits.as_slice() {
        [r] => r,
        _ => panic!(
            "expected one result for {source} / {rule}, got {}:\n{results:#?}",
            hits.len()
        ),
    }
}

/// Contract checks, and the exit code.
fn report(run: &Run, code: i32) -> Vec<Res> {
    let json = run.json();
    assert_no_problems("check --node contract", &contract_problems(&json));
    assert_eq!(run.code, code, "exit code; stderr: {}", run.stderr);
    parse_results(&json)
}

#[test]
fn kubeadm_control_plane_node() {
    let n = control_plane();
    let r = report(&n.check(None), 1);
    let api = "process:1202";
    assert_eq!(one(&r, api, CLIENT).status, PASS);
    let ca = one(&r, api, CA);
    assert_eq!(ca.status, FAIL);
    assert_eq!(ca.object, "kube-apiserver");
    assert_eq!(ca.kind, "Process");
    assert!(
        !ca.message.contains("restarted"),
        "manifest and process agree: {}",
        ca.message
    );
    assert_eq!(one(&r, "process:1203", CM).status, PASS);
    let rot = one(&r, "process:412", KROT);
    assert_eq!(rot.status, PASS);
    assert!(
        rot.message
            .contains("config file /var/lib/kubelet/config.yaml"),
        "{}",
        rot.message
    );
    assert_eq!(one(&r, "process:412", KBOOT).status, PASS);
    // Only the three components count; etcd and the shell are no components.
    let sources: std::collections::BTreeSet<&str> = r.iter().map(|x| x.source.as_str()).collect();
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        ["process:1202", "process:1203", "process:412"]
    );
    // Every object shows all five rules; the other components' rules skip.
    assert_eq!(r.len(), 15);
}

#[test]
fn manifest_fixed_but_pod_not_restarted() {
    let n = control_plane();
    let fixed = std::fs::read_to_string(n.host("/etc/kubernetes/manifests/kube-apiserver.yaml"))
        .expect("read manifest")
        .replace(
            "    - --secure-port=6443\n",
            "    - --secure-port=6443\n    - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt\n",
        );
    n.file("/etc/kubernetes/manifests/kube-apiserver.yaml", &fixed);
    // The controller-manager runs with the gate off; its manifest says on.
    let mut cm: Vec<&str> = CM_ARGV.to_vec();
    cm[3] = "--feature-gates=RotateKubeletServerCertificate=false";
    n.process(1203, &cm);
    let r = report(&n.check(None), 1);
    let ca = one(&r, "process:1202", CA);
    assert_eq!(ca.status, FAIL, "judged by what runs");
    for needle in [
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
        "has not been restarted",
    ] {
        assert!(ca.message.contains(needle), "{needle:?} in {}", ca.message);
    }
    let client = one(&r, "process:1202", CLIENT);
    assert!(!client.message.contains("restarted"), "{}", client.message);
    let cm = one(&r, "process:1203", CM);
    assert_eq!(cm.status, FAIL);
    assert!(
        cm.message.contains("kube-controller-manager.yaml") && cm.message.contains("restarted"),
        "{}",
        cm.message
    );
}

#[test]
fn worker_flag_overrides_config() {
    let n = FakeNode::new();
    n.file("/var/lib/kubelet/config.yaml", KUBELET_CONFIG)
        // The kubelet was started from /var/lib/kubelet with a relative --config.
        .process(
            977,
            &[
                "/usr/bin/kubelet",
                "--config",
                "config.yaml",
                "--feature-gates",
                "RotateKubeletServerCertificate=false",
            ],
        );
    std::os::unix::fs::symlink("/var/lib/kubelet", n.proc_dir.join("977/cwd")).expect("cwd link");
    let r = report(&n.check(None), 1);
    let rot = one(&r, "process:977", KROT);
    assert_eq!(rot.status, FAIL);
    assert_eq!(rot.location, "flag --feature-gates");
    assert!(
        rot.message
            .contains("overriding the config file /var/lib/kubelet/config.yaml"),
        "{}",
        rot.message
    );
    // serverTLSBootstrap on with the gate explicitly off: the kubelet refuses that configuration,
    // so both kubelet rules fail with that reason (DESIGN.md section 11).
    let boot = one(&r, "process:977", KBOOT);
    assert_eq!(boot.status, FAIL);
    assert!(
        boot.message.contains("refuses to start"),
        "{}",
        boot.message
    );
    assert_eq!(boot.location, "config file /var/lib/kubelet/config.yaml");
    let searched = n.proc_dir.to_string_lossy();
    for (rule, what) in [(CLIENT, "kube-apiserver"), (CM, "kube-controller-manager")] {
        let skip = r
            .iter()
            .find(|x| x.source == searched && x.object == what && x.rule == rule)
            .expect("a skip for the absent component");
        assert_eq!(skip.status, "skip");
        assert!(
            skip.message
                .contains(&format!("no {what} process is running")),
            "{}",
            skip.message
        );
    }
    // Unscored rules only warn under the cis profile, but a configuration the kubelet refuses
    // fails under every profile.
    let r = report(&n.check(Some("cis")), 1);
    assert_eq!(one(&r, "process:977", KROT).status, FAIL);
}

#[test]
fn drop_in_flips_server_tls_bootstrap() {
    let n = FakeNode::new();
    let dir = "/etc/kubernetes/kubelet.conf.d";
    n.file("/var/lib/kubelet/config.yaml", KUBELET_CONFIG)
        .file(
            &format!("{dir}/10-gates.conf"),
            r#"{"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
                "featureGates": {"RotateKubeletServerCertificate": true, "OtherGate": false}}"#,
        )
        .file(
            &format!("{dir}/20-tls.conf"),
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserverTLSBootstrap: false\n",
        )
        // Not a drop-in: the kubelet reads only *.conf.
        .file(
            &format!("{dir}/30-undo.yaml"),
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserverTLSBootstrap: true\n",
        )
        .process(
            500,
            &[
                "/usr/bin/kubelet",
                "--config=/var/lib/kubelet/config.yaml",
                "--config-dir",
                dir,
            ],
        );
    let r = report(&n.check(None), 1);
    let boot = one(&r, "process:500", KBOOT);
    assert_eq!(boot.status, FAIL);
    assert_eq!(boot.location, format!("drop-in {dir}/20-tls.conf"));
    assert!(
        boot.message
            .contains("serverTLSBootstrap decided by the drop-in /etc/kubernetes/kubelet.conf.d/20-tls.conf, overriding the config file"),
        "{}",
        boot.message
    );
    let rot = one(&r, "process:500", KROT);
    assert_eq!(rot.status, PASS);
    assert_eq!(rot.location, format!("drop-in {dir}/10-gates.conf"));
}

#[test]
fn hyperkube_forms_and_split_flags() {
    let n = FakeNode::new();
    n.file(
        "/etc/kubernetes/kubelet.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfeatureGates:\n  RotateKubeletServerCertificate: true\n",
    )
    .process(
        10,
        &["/hyperkube", "kubelet", "--config", "/etc/kubernetes/kubelet.yaml", "--rotate-server-certificates"],
    )
    .process(
        11,
        &[
            "hyperkube",
            "apiserver",
            "--kubelet-client-certificate",
            "/etc/k/c.crt",
            "--kubelet-client-key",
            "/etc/k/c.key",
            "--kubelet-certificate-authority",
            "/etc/k/ca.crt",
        ],
    )
    // Rewritten argv without the final NUL, as some process managers leave it.
    .process_raw(
        12,
        b"/usr/local/bin/hyperkube\0kube-controller-manager\0--feature-gates\0RotateKubeletServerCertificate=true",
    );
    let r = report(&n.check(None), 0);
    assert_eq!(one(&r, "process:11", CLIENT).status, PASS);
    let ca = one(&r, "process:11", CA);
    assert_eq!(ca.status, PASS);
    assert!(ca.message.contains("/etc/k/ca.crt"), "{}", ca.message);
    assert_eq!(one(&r, "process:12", CM).status, PASS);
    assert_eq!(one(&r, "process:12", CM).object, "kube-controller-manager");
    assert_eq!(one(&r, "process:10", KROT).status, PASS);
    let boot = one(&r, "process:10", KBOOT);
    assert_eq!(boot.status, PASS, "a bare bool flag is true");
    assert_eq!(boot.location, "flag --rotate-server-certificates");
}

#[test]
fn missing_config_is_an_error_naming_the_path() {
    let n = FakeNode::new();
    n.process(
        300,
        &[
            "kubelet",
            "--config=/var/lib/kubelet/config.yaml",
            "--rotate-server-certificates=true",
        ],
    )
    .process(301, APISERVER_ARGV);
    let r = report(&n.check(None), 2);
    let rot = one(&r, "process:300", KROT);
    assert_eq!(rot.status, "error");
    assert!(
        rot.message.contains("/var/lib/kubelet/config.yaml"),
        "{}",
        rot.message
    );
    // A flag decides this one whatever the file says.
    assert_eq!(one(&r, "process:300", KBOOT).status, PASS);
    // The other components still report.
    assert_eq!(one(&r, "process:301", CLIENT).status, PASS);
    assert_eq!(one(&r, "process:301", CA).status, FAIL);
}

#[test]
fn bad_drop_in_and_missing_config_dir() {
    let n = FakeNode::new();
    n.file("/var/lib/kubelet/config.yaml", KUBELET_CONFIG)
        .file("/etc/kubelet.d/10-x.conf", "KUBELET_EXTRA_ARGS=--v=2\n")
        .process(
            40,
            &[
                "kubelet",
                "--config=/var/lib/kubelet/config.yaml",
                "--config-dir=/etc/kubelet.d",
            ],
        )
        .process(
            41,
            &[
                "kubelet",
                "--config=/var/lib/kubelet/config.yaml",
                "--config-dir=/etc/absent.d",
            ],
        );
    let r = report(&n.check(None), 2);
    for rule in [KROT, KBOOT] {
        let e = one(&r, "process:40", rule);
        assert_eq!(e.status, "error");
        assert!(
            e.message.contains("/etc/kubelet.d/10-x.conf"),
            "{}",
            e.message
        );
        let e = one(&r, "process:41", rule);
        assert_eq!(e.status, "error");
        assert!(e.message.contains("/etc/absent.d"), "{}", e.message);
    }
}

#[test]
fn empty_proc_skips_everything() {
    let n = FakeNode::new();
    n.process_raw(2, b"").process_raw(3, b"").vanished(4);
    let r = report(&n.check(None), 0);
    assert_eq!(r.len(), 15);
    assert!(r.iter().all(|x| x.status == "skip"), "{r:#?}");
    for c in ["kube-apiserver", "kube-controller-manager", "kubelet"] {
        assert!(
            r.iter().any(
                |x| x.message.contains(&format!("no {c} process is running"))
                    && x.message.contains("3 processes")
            ),
            "{c}: {r:#?}"
        );
    }
}

#[test]
fn unreadable_proc_is_an_error() {
    let n = FakeNode::new();
    let run = common::nodefs::check_node(&n.root, &n.root.join("no-such-proc"), None);
    let json = run.json();
    assert_eq!(run.code, 2);
    let r = parse_results(&json);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, "error");
    assert!(r[0].message.contains("no-such-proc"), "{}", r[0].message);
}

#[test]
fn node_flag_and_paths_are_exclusive() {
    let run = run(&["check", "--node", "/etc"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = common::run(&["check", "--proc", "/proc", "/etc"], None);
    assert_eq!(run.code, 2, "--proc needs --node: {}", run.stderr);
}
