//! `check --root DIR` (issue 11, point 6): a node's whole tree judged as the node runs it. The
//! kubelet's flags come from its systemd unit and environment files, merged with its config
//! file and drop-ins like a running kubelet, so there is one verdict per rule; `check DIR` keeps
//! judging each file on its own (tests/fixtures_check.rs).

mod common;
use common::nodefs::FakeNode;
use common::*;
use std::path::Path;

fn check_root(root: &Path) -> Run {
    let root = root.to_string_lossy();
    run(&["check", "--root", &root, "--format", "json"], None)
}

fn report(run: &Run, code: i32) -> Vec<Res> {
    let json = run.json();
    assert_no_problems("check --root contract", &contract_problems(&json));
    assert_eq!(run.code, code, "exit code; stdout {}", run.stdout);
    parse_results(&json)
}

fn verdict<'a>(r: &'a [Res], rule: &str) -> Vec<&'a Res> {
    r.iter()
        .filter(|x| x.rule == rule && x.status != "skip")
        .collect()
}

/// tests/fixtures/node as a node: 10-kubeadm.conf turns the gate on in KUBELET_TLS_ARGS, then
/// kubeadm-flags.env (expanded later in ExecStart) turns it off; config.yaml turns it on;
/// /etc/default/kubelet sets --rotate-server-certificates=true.
fn fixture_node() -> FakeNode {
    let n = FakeNode::new();
    for f in [
        "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "etc/kubernetes/manifests/kube-apiserver.yaml",
        "etc/kubernetes/manifests/kube-controller-manager.yaml",
        "etc/kubernetes/manifests/etcd.yaml",
        "etc/default/kubelet",
        "var/lib/kubelet/kubeadm-flags.env",
    ] {
        n.fixture(&format!("node/{f}"), &format!("/{f}"));
    }
    let config = std::fs::read_to_string(fixtures_dir().join("node/var/lib/kubelet/config.yaml"))
        .expect("read fixture config");
    // kubeadm writes staticPodPath; the fixture leaves it out.
    n.file(
        "/var/lib/kubelet/config.yaml",
        &format!("{config}staticPodPath: /etc/kubernetes/manifests\n"),
    );
    n
}

#[test]
fn kubeadm_node_gives_one_verdict_per_rule() {
    let n = fixture_node();
    let r = report(&check_root(&n.root), 1);
    let rot = verdict(&r, KROT);
    assert_eq!(rot.len(), 1, "one kubelet gate verdict: {rot:#?}");
    assert_eq!(rot[0].status, FAIL);
    assert_eq!(
        rot[0].source,
        "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
    );
    for needle in [
        "flag --feature-gates (KUBELET_KUBEADM_ARGS in /var/lib/kubelet/kubeadm-flags.env)",
        "overriding the config file /var/lib/kubelet/config.yaml",
    ] {
        assert!(
            rot[0].message.contains(needle),
            "{needle:?} in {}",
            rot[0].message
        );
    }
    let boot = verdict(&r, KBOOT);
    assert_eq!(boot.len(), 1);
    // serverTLSBootstrap on with the gate explicitly off (the flag above): the kubelet refuses
    // that configuration, so the bootstrap rule fails with that reason (DESIGN.md section 11).
    assert_eq!(boot[0].status, FAIL);
    assert!(
        boot[0].message.contains("refuses to start"),
        "{}",
        boot[0].message
    );
    // The control plane from the static pods the kubelet runs.
    assert_eq!(verdict(&r, CLIENT).len(), 1);
    assert_eq!(verdict(&r, CLIENT)[0].status, PASS);
    assert_eq!(verdict(&r, CA)[0].status, FAIL);
    assert_eq!(verdict(&r, CM)[0].status, PASS);
    assert!(
        verdict(&r, CM)[0]
            .source
            .ends_with("kube-controller-manager.yaml")
    );

    // The same tree judged file by file still shows both contradicting gate lines.
    let per_file = check_paths(None, &[n.root.as_path()]).results();
    let gates: Vec<&str> = per_file
        .iter()
        .filter(|x| x.rule == KROT && x.status != "skip")
        .map(|x| x.status.as_str())
        .collect();
    assert!(
        gates.contains(&"pass") && gates.contains(&"fail"),
        "{gates:?}"
    );
}

#[test]
fn a_higher_priority_drop_in_and_environment_file_win() {
    let n = fixture_node();
    // Same name in /etc masks /usr/lib; a later drop-in resets ExecStart without the env file.
    n.file(
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet --feature-gates=RotateKubeletServerCertificate=false\n",
    )
    .file(
        "/usr/lib/systemd/system/kubelet.service",
        "[Unit]\nDescription=kubelet\n[Service]\nExecStart=/usr/bin/kubelet\n",
    )
    .file(
        "/etc/systemd/system/kubelet.service.d/20-override.conf",
        "[Service]\nEnvironment=\"KUBELET_EXTRA_ARGS=--rotate-server-certificates=false\"\nExecStart=\nExecStart=/usr/bin/kubelet \\\n    --config=/var/lib/kubelet/config.yaml $KUBELET_EXTRA_ARGS\n",
    );
    let r = report(&check_root(&n.root), 1);
    let rot = verdict(&r, KROT);
    assert_eq!(rot[0].status, PASS, "{}", rot[0].message);
    assert_eq!(
        rot[0].source,
        "/etc/systemd/system/kubelet.service.d/20-override.conf"
    );
    // EnvironmentFile= (/etc/default/kubelet, from 10-kubeadm.conf) overrides Environment=.
    let boot = verdict(&r, KBOOT);
    assert_eq!(boot[0].status, PASS, "{}", boot[0].message);
    assert!(
        boot[0].message.contains("/etc/default/kubelet"),
        "{}",
        boot[0].message
    );
}

#[test]
fn missing_environment_file_and_no_unit() {
    let n = fixture_node();
    n.file(
        "/etc/systemd/system/kubelet.service.d/30-required.conf",
        "[Service]\nEnvironmentFile=/etc/kubelet/required.env\n",
    );
    let r = report(&check_root(&n.root), 2);
    for rule in [KROT, KBOOT] {
        let v = verdict(&r, rule);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].status, "error");
        assert!(
            v[0].message.contains("/etc/kubelet/required.env"),
            "{}",
            v[0].message
        );
    }
    // The control plane still reports.
    assert_eq!(verdict(&r, CA)[0].status, FAIL);

    let empty = FakeNode::new();
    let r = report(&check_root(&empty.root), 0);
    assert!(r.iter().all(|x| x.status == "skip"));
    assert!(
        r.iter()
            .any(|x| x.rule == KROT && x.message.contains("no kubelet.service unit")),
        "{r:#?}"
    );
}
