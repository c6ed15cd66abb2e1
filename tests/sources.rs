//! Declared sources (DESIGN.md section 11, issue 13): a table of verdicts per source and form,
//! with the distribution default named in the message; `fix --diff` on every fixture touches
//! exactly the lines it must; the fixed files pass and a second fix changes nothing.

use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::engine::rules::Status;
use kubelet_tls_guard::node::check::{self, Input};
use kubelet_tls_guard::report::Record;
use std::path::{Path, PathBuf};
use std::process::Command;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources")
}

fn records(rel: &str) -> Vec<Record> {
    let policy = Policy::default();
    check::expand(&[dir().join(rel)])
        .iter()
        .flat_map(|i| check::audit_input(i, &policy))
        .collect()
}

/// (rule, location substring, status, message substring)
type Row = (&'static str, &'static str, Status, &'static str);

fn expect(rel: &str, rows: &[Row]) {
    let got = records(rel);
    for (rule, loc, status, msg) in rows {
        let hit = got
            .iter()
            .find(|r| r.rule.is_some_and(|x| x.as_str() == *rule) && r.location.contains(loc));
        let Some(r) = hit else {
            panic!("{rel}: no {rule} at {loc}: {got:#?}");
        };
        assert_eq!(r.status, *status, "{rel}: {rule} at {loc}: {}", r.message);
        assert!(
            r.message.contains(msg),
            "{rel}: {rule}: {:?} lacks {msg:?}",
            r.message
        );
    }
}

use Status::{Fail, Pass, Skip};

#[test]
fn cluster_api_v1beta1_map() {
    let f = "capi/hetzner-hcloud-kcp.v1beta1.yaml";
    expect(
        f,
        &[
            // The template sets the pair itself (no default needed) and not the CA.
            (
                "apiserver-kubelet-client-cert",
                "apiServer.extraArgs",
                Pass,
                "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
            ),
            (
                "apiserver-kubelet-ca",
                "apiServer.extraArgs",
                Fail,
                "kubeadm does not set it: add kubelet-certificate-authority: /etc/kubernetes/pki/ca.crt",
            ),
            (
                "controller-manager-rotate-kubelet-server-cert",
                "controllerManager.extraArgs",
                Fail,
                "feature-gates: RotateKubeletServerCertificate=true",
            ),
            (
                "kubelet-server-tls-bootstrap",
                "initConfiguration",
                Pass,
                "--rotate-server-certificates=true",
            ),
            (
                "kubelet-server-tls-bootstrap",
                "joinConfiguration",
                Pass,
                "--rotate-server-certificates=true",
            ),
            (
                "kubelet-rotate-server-cert",
                "joinConfiguration",
                Fail,
                "kubeadm does not set it by default",
            ),
        ],
    );
}

#[test]
fn cluster_api_v1beta2_list() {
    expect(
        "capi/hetzner-hcloud-kcp.v1beta2.yaml",
        &[
            (
                "apiserver-kubelet-client-cert",
                "apiServer.extraArgs",
                Pass,
                "kubeadm sets --kubelet-client-certificate",
            ),
            (
                "apiserver-kubelet-ca",
                "apiServer.extraArgs",
                Fail,
                "{name: kubelet-certificate-authority, value: /etc/kubernetes/pki/ca.crt}",
            ),
            (
                "kubelet-server-tls-bootstrap",
                "initConfiguration",
                Fail,
                "kubeadm does not set it by default",
            ),
        ],
    );
    // A worker template: only the kubelet; its --config file is written by the template itself.
    expect(
        "capi/hetzner-kct-md-0.v1beta2.yaml",
        &[
            (
                "kubelet-server-tls-bootstrap",
                "joinConfiguration",
                Pass,
                "serverTLSBootstrap: true in files[5] (/etc/kubernetes/kubelet/config.yaml)",
            ),
            (
                "kubelet-rotate-server-cert",
                "joinConfiguration",
                Fail,
                "{name: feature-gates",
            ),
            ("apiserver-kubelet-ca", "", Skip, ""),
        ],
    );
}

#[test]
fn k3s_and_rke2() {
    expect(
        "k3s/rke2-basic-server.yaml",
        &[
            (
                "apiserver-kubelet-client-cert",
                "kube-apiserver-arg",
                Pass,
                "k3s/RKE2 sets --kubelet-client-certificate=",
            ),
            (
                "apiserver-kubelet-ca",
                "kube-apiserver-arg",
                Pass,
                "k3s/RKE2 sets --kubelet-certificate-authority=/var/lib/rancher/k3s/server/tls/server-ca.crt itself",
            ),
            (
                "controller-manager-rotate-kubelet-server-cert",
                "kube-controller-manager-arg",
                Fail,
                "k3s/RKE2 does not set it",
            ),
            (
                "kubelet-server-tls-bootstrap",
                "kubelet-arg",
                Fail,
                "k3s/RKE2 does not set it by default",
            ),
        ],
    );
    expect(
        "k3s/hardened.yaml",
        &[
            (
                "controller-manager-rotate-kubelet-server-cert",
                "",
                Pass,
                "",
            ),
            (
                "kubelet-rotate-server-cert",
                "",
                Pass,
                "kubelet-arg --feature-gates",
            ),
            ("kubelet-server-tls-bootstrap", "", Pass, ""),
        ],
    );
    // The explicit empty override of a default wins.
    expect(
        "k3s/ca-emptied.yaml",
        &[
            ("apiserver-kubelet-ca", "", Fail, "empty value"),
            ("apiserver-kubelet-client-cert", "", Pass, "k3s/RKE2 sets"),
        ],
    );
    // Later items win; gates accumulate per gate; a single string is one item.
    expect(
        "k3s/gate-false-last-wins.yaml",
        &[
            (
                "controller-manager-rotate-kubelet-server-cert",
                "",
                Fail,
                "disables",
            ),
            (
                "kubelet-server-tls-bootstrap",
                "",
                Pass,
                "--rotate-server-certificates=true",
            ),
        ],
    );
}

#[test]
fn k3s_drop_ins_merge_as_k3s_does() {
    // 20-cm.yaml replaces kube-controller-manager-arg (the main file's gate=false is gone);
    // 10-kubelet.yaml appends rotate-server-certificates=false with `kubelet-arg+`.
    expect(
        "k3s/dropins",
        &[
            (
                "controller-manager-rotate-kubelet-server-cert",
                "",
                Fail,
                "lacks RotateKubeletServerCertificate=true",
            ),
            (
                "kubelet-server-tls-bootstrap",
                "",
                Fail,
                "kubelet-arg sets --rotate-server-certificates=false",
            ),
        ],
    );
    // Naming a drop-in judges the whole group, once.
    let one = records("k3s/dropins/config.yaml.d/20-cm.yaml");
    assert_eq!(one.len(), 5, "{one:#?}");
    assert!(
        one[0].source.contains("config.yaml (+2 drop-ins)"),
        "{}",
        one[0].source
    );
    let all = check::expand(&[dir().join("k3s/dropins")]);
    assert_eq!(all.len(), 1);
    assert!(matches!(&all[0], Input::K3sGroup(g) if g.dropins.len() == 2));
    // The docs' own example: no -arg keys at all, so every default decides.
    expect(
        "k3s/docs-multi",
        &[("apiserver-kubelet-ca", "", Pass, "k3s/RKE2 sets")],
    );
}

#[test]
fn talos() {
    expect(
        "talos/controlplane.generated.yaml",
        &[
            (
                "apiserver-kubelet-client-cert",
                "cluster.apiServer.extraArgs",
                Pass,
                "Talos sets --kubelet-client-certificate",
            ),
            (
                "apiserver-kubelet-ca",
                "cluster.apiServer.extraArgs",
                Fail,
                "Talos does not set it",
            ),
            (
                "kubelet-server-tls-bootstrap",
                "machine.kubelet.extraArgs",
                Fail,
                "Talos does not set it by default",
            ),
        ],
    );
    expect(
        "talos/worker.metrics-server.yaml",
        &[
            (
                "kubelet-server-tls-bootstrap",
                "machine.kubelet.extraArgs",
                Pass,
                "--rotate-server-certificates=true",
            ),
            ("apiserver-kubelet-ca", "", Skip, ""),
        ],
    );
    // List values are repeated flags; an override of the client pair is refused by Talos.
    expect(
        "talos/controlplane.list-values.yaml",
        &[
            (
                "apiserver-kubelet-client-cert",
                "",
                Pass,
                "Talos refuses a machine config in which cluster.apiServer.extraArgs sets it: remove it",
            ),
            (
                "kubelet-rotate-server-cert",
                "",
                Fail,
                "invalid kubelet configuration",
            ),
            ("kubelet-server-tls-bootstrap", "", Fail, "refuses to start"),
        ],
    );
    expect(
        "talos/controlplane.extra-config.yaml",
        &[
            (
                "apiserver-kubelet-ca",
                "",
                Pass,
                "/system/secrets/kubernetes/kube-apiserver/ca.crt",
            ),
            (
                "kubelet-rotate-server-cert",
                "",
                Pass,
                "machine.kubelet.extraConfig featureGates",
            ),
            (
                "kubelet-server-tls-bootstrap",
                "",
                Fail,
                "machine.kubelet.extraConfig sets serverTLSBootstrap: false",
            ),
        ],
    );
}

#[test]
fn kamaji() {
    expect(
        "kamaji/tenantcontrolplane.sample.yaml",
        &[
            (
                "apiserver-kubelet-client-cert",
                "extraArgs.apiServer",
                Pass,
                "Kamaji sets --kubelet-client-certificate",
            ),
            (
                "apiserver-kubelet-ca",
                "extraArgs.apiServer",
                Fail,
                "add --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt to extraArgs",
            ),
            ("kubelet-rotate-server-cert", "", Skip, ""),
        ],
    );
    expect(
        "kamaji/tenantcontrolplane.compliant.yaml",
        &[
            ("apiserver-kubelet-ca", "", Pass, ""),
            (
                "controller-manager-rotate-kubelet-server-cert",
                "",
                Pass,
                "",
            ),
        ],
    );
}

#[test]
fn kind() {
    expect(
        "kind/kind-example-config.yaml",
        &[
            ("apiserver-kubelet-client-cert", "", Pass, "kubeadm sets"),
            ("apiserver-kubelet-ca", "", Fail, "kubeadm does not set it"),
            (
                "kubelet-server-tls-bootstrap",
                "",
                Fail,
                "serverTLSBootstrap: true in the KubeletConfiguration patch",
            ),
        ],
    );
    // featureGates false + serverTLSBootstrap true in an embedded KubeletConfiguration.
    expect(
        "kind/v1beta4-feature-gates.yaml",
        &[
            (
                "apiserver-kubelet-ca",
                "",
                Pass,
                "/etc/kubernetes/pki/ca.crt",
            ),
            (
                "controller-manager-rotate-kubelet-server-cert",
                "",
                Fail,
                "disables",
            ),
            (
                "kubelet-rotate-server-cert",
                "",
                Fail,
                "invalid kubelet configuration",
            ),
        ],
    );
    expect(
        "kind/init-join-kubelet-args.yaml",
        &[(
            "kubelet-server-tls-bootstrap",
            "",
            Fail,
            "kubeletExtraArgs sets --rotate-server-certificates=false",
        )],
    );
}

#[test]
fn kubelet_configuration_refused_by_the_kubelet() {
    let policy = Policy {
        profile: kubelet_tls_guard::engine::policy::Profile::Cis,
        ..Policy::default()
    };
    let text = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserverTLSBootstrap: true\nfeatureGates:\n  RotateKubeletServerCertificate: false\n";
    let recs = check::audit_text("k.yaml", text, &policy);
    for rule in ["kubelet-rotate-server-cert", "kubelet-server-tls-bootstrap"] {
        let r = recs
            .iter()
            .find(|r| r.rule.is_some_and(|x| x.as_str() == rule))
            .unwrap();
        // Even the cis profile fails it: the kubelet does not start at all.
        assert_eq!(r.status, Fail, "{rule}: {}", r.message);
        assert!(r.message.contains("refuses to start"), "{}", r.message);
    }
}

// --- fix --diff on every fixture ---------------------------------------------------------

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubelet-tls-guard")
}

/// The lines `fix --diff` adds and removes, without headers.
fn diff_lines(path: &Path) -> (Vec<String>, Vec<String>) {
    let out = Command::new(bin())
        .arg("fix")
        .arg("--diff")
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut plus = Vec::new();
    let mut minus = Vec::new();
    for l in text.lines() {
        if l.starts_with("+++") || l.starts_with("---") {
            continue;
        }
        if let Some(x) = l.strip_prefix('+') {
            plus.push(x.to_string());
        } else if let Some(x) = l.strip_prefix('-') {
            minus.push(x.to_string());
        }
    }
    (plus, minus)
}

fn assert_diff(rel: &str, plus: &[&str], minus: &[&str]) {
    let (p, m) = diff_lines(&dir().join(rel));
    assert_eq!(p, plus, "{rel}: added lines");
    assert_eq!(m, minus, "{rel}: removed lines");
}

#[test]
fn fix_diff_touches_only_what_it_must() {
    assert_diff(
        "capi/hetzner-hcloud-kcp.v1beta1.yaml",
        &[
            // Quoted like the other values of that map.
            "          kubelet-certificate-authority: \"/etc/kubernetes/pki/ca.crt\"",
            "          feature-gates: \"RotateKubeletServerCertificate=true\"",
            "          feature-gates: RotateKubeletServerCertificate=true",
            "          feature-gates: RotateKubeletServerCertificate=true",
        ],
        &[],
    );
    assert_diff(
        "capi/hetzner-hcloud-kcp.v1beta2.yaml",
        &[
            "          - name: kubelet-certificate-authority",
            "            value: /etc/kubernetes/pki/ca.crt",
            "          - name: feature-gates",
            "            value: RotateKubeletServerCertificate=true",
            "          - name: feature-gates",
            "            value: RotateKubeletServerCertificate=true",
            "          - name: rotate-server-certificates",
            "            value: 'true'",
            "          - name: feature-gates",
            "            value: RotateKubeletServerCertificate=true",
            "          - name: rotate-server-certificates",
            "            value: 'true'",
        ],
        &[],
    );
    assert_diff(
        "capi/hetzner-kct-md-0.v1beta1.yaml",
        &["            feature-gates: RotateKubeletServerCertificate=true"],
        &[],
    );
    assert_diff(
        "capi/hetzner-kct-md-0.v1beta2.yaml",
        &[
            "            - name: feature-gates",
            "              value: RotateKubeletServerCertificate=true",
        ],
        &[],
    );
    assert_diff(
        "kamaji/tenantcontrolplane.extra-args.yaml",
        &[
            "          - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
            "          - --feature-gates=RotateKubeletServerCertificate=true",
        ],
        &["          - --feature-gates=RotateKubeletServerCertificate=false"],
    );
    assert_diff(
        "kind/v1beta4-feature-gates.yaml",
        &["  RotateKubeletServerCertificate: true"],
        &["  RotateKubeletServerCertificate: false"],
    );
    // A fix inside kind's embedded document edits the embedded YAML text, in its indentation.
    assert_diff(
        "kind/auditing-node-patch.yaml",
        &[
            "          kubelet-certificate-authority: /etc/kubernetes/pki/ca.crt",
            "    controllerManager:",
            "        extraArgs:",
            "            feature-gates: RotateKubeletServerCertificate=true",
            "kubeadmConfigPatches:",
            "- |",
            "  kind: KubeletConfiguration",
            "  featureGates:",
            "    RotateKubeletServerCertificate: true",
            "  serverTLSBootstrap: true",
        ],
        &[],
    );
    assert_diff(
        "talos/worker.metrics-server.yaml",
        &["      feature-gates: RotateKubeletServerCertificate=true"],
        &[],
    );
    // A k3s list gets new `flag=value` items, quoted as the list already is.
    assert_diff(
        "k3s/rke2-nodelocal-kubelet-arg.yaml",
        &[
            "    - \"feature-gates=RotateKubeletServerCertificate=true\"",
            "    - \"rotate-server-certificates=true\"",
            "kube-controller-manager-arg:",
            "    - feature-gates=RotateKubeletServerCertificate=true",
        ],
        &[],
    );
}

/// Every fixture, fixed, passes what was fixed, and a second fix changes nothing.
#[test]
fn fixed_fixtures_pass_and_fix_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    for entry in walkdir::WalkDir::new(dir()).into_iter().flatten() {
        let p = entry.path();
        if !p.is_file()
            || p.components().any(|c| c.as_os_str() == "k3s") && p.to_string_lossy().contains(".d/")
        {
            continue;
        }
        let rel = p.strip_prefix(dir()).unwrap();
        let copy = tmp.path().join(rel);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(p, &copy).unwrap();
        n += 1;
    }
    // Drop-in groups are copied whole.
    for g in ["k3s/dropins", "k3s/docs-multi"] {
        for entry in walkdir::WalkDir::new(dir().join(g)).into_iter().flatten() {
            let rel = entry.path().strip_prefix(dir()).unwrap();
            let copy = tmp.path().join(rel);
            if entry.path().is_dir() {
                std::fs::create_dir_all(&copy).unwrap();
            } else {
                std::fs::copy(entry.path(), &copy).unwrap();
            }
        }
    }
    assert!(n >= 20, "{n} fixtures");
    let run = |args: &[&str]| {
        Command::new(bin())
            .args(args)
            .arg(tmp.path())
            .output()
            .unwrap()
    };
    let first = run(&["fix", "--in-place"]);
    assert!(
        first.status.code().unwrap_or(9) <= 1,
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run(&["fix", "--diff"]);
    assert!(
        second.stdout.is_empty(),
        "second fix changes things:\n{}",
        String::from_utf8_lossy(&second.stdout)
    );
    let check = run(&["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let remaining = String::from_utf8_lossy(&first.stderr).to_string();
    for r in report["results"].as_array().unwrap() {
        if r["status"] == "fail" {
            // Only what fix said it could not fix may still fail.
            let rule = r["rule"].as_str().unwrap();
            let file = r["source"].as_str().unwrap().split(" (+").next().unwrap();
            assert!(
                remaining
                    .lines()
                    .any(|l| l.starts_with(file) && l.contains("not fixed") && l.contains(rule)),
                "{} still fails {rule} after fix: {}",
                r["source"],
                r["message"]
            );
        }
    }
}
