//! k3s/RKE2 and Talos read as their own code reads them (issue 13 point 1), as tables of small
//! files written here:
//!
//! - k3s `pkg/configfilearg/parser.go`: `config.yaml` (optional when drop-ins exist), then
//!   `config.yaml.d/` entries ending in `.yaml` or `.yml` (any case), in name order; a later
//!   key replaces (lists too), `key+` appends.
//! - k3s `pkg/util/args.go` (`GetArgs`): an `-arg` item replaces the distribution's own value of
//!   that flag; `name+=v` goes after it, `name-=v` before it; pflag takes the last.
//! - Talos `meta.Args` and `argsbuilder`: a value is a string or a list of strings (repeated
//!   flags); an empty string is no flag at all; the client certificate pair is denied.

use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::engine::rules::Status;
use kubelet_tls_guard::node::check;
use kubelet_tls_guard::node::k3s;
use kubelet_tls_guard::report::Record;
use std::path::Path;

use Status::{Fail, Pass};

const CA: &str = "apiserver-kubelet-ca";
const CM: &str = "controller-manager-rotate-kubelet-server-cert";
const KROT: &str = "kubelet-rotate-server-cert";
const KBOOT: &str = "kubelet-server-tls-bootstrap";

/// Write `files` (relative path, text) under a fresh directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    dir
}

fn records(path: &Path) -> Vec<Record> {
    let policy = Policy::default();
    check::expand(&[path.to_path_buf()])
        .iter()
        .flat_map(|i| check::audit_input(i, &policy))
        .collect()
}

/// (rule, status, message substring)
type Row = (&'static str, Status, &'static str);

fn expect(label: &str, got: &[Record], rows: &[Row]) {
    for (rule, status, msg) in rows {
        let Some(r) = got
            .iter()
            .find(|r| r.rule.is_some_and(|x| x.as_str() == *rule))
        else {
            panic!("{label}: no {rule}: {got:#?}");
        };
        assert_eq!(r.status, *status, "{label}: {rule}: {}", r.message);
        assert!(
            r.message.contains(msg),
            "{label}: {rule}: {:?} lacks {msg:?}",
            r.message
        );
    }
}

const GATE_ON: &str = "feature-gates=RotateKubeletServerCertificate=true";

#[test]
fn k3s_drop_in_files_are_chosen_and_ordered_as_k3s_does() {
    // `.yml` and `.YAML` count, `.txt` and directories do not; `b.yml` sorts after `a.yaml`.
    let t = tree(&[
        (
            "config.yaml",
            "kube-controller-manager-arg:\n  - feature-gates=RotateKubeletServerCertificate=false\n",
        ),
        (
            "config.yaml.d/a.yaml",
            &format!("kube-controller-manager-arg:\n  - {GATE_ON}\n"),
        ),
        (
            "config.yaml.d/b.yml",
            "kube-controller-manager-arg+:\n  - feature-gates=RotateKubeletServerCertificate=false\n",
        ),
        (
            "config.yaml.d/c.YAML",
            &format!("kube-controller-manager-arg+:\n  - {GATE_ON}\n"),
        ),
        (
            "config.yaml.d/d.txt",
            "kube-controller-manager-arg+:\n  - feature-gates=RotateKubeletServerCertificate=false\n",
        ),
        (
            "config.yaml.d/e.yaml/x.yaml",
            "kube-controller-manager-arg+: [feature-gates=RotateKubeletServerCertificate=false]\n",
        ),
    ]);
    let group = k3s::group_of(&t.path().join("config.yaml")).expect("a group");
    let names: Vec<String> = group
        .dropins
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names, ["a.yaml", "b.yml", "c.YAML"]);
    expect(
        "ordered",
        &records(&t.path().join("config.yaml")),
        &[(CM, Pass, "")],
    );
}

#[test]
fn k3s_reads_drop_ins_without_a_main_file() {
    let t = tree(&[
        (
            "config.yaml.d/10.yaml",
            "kube-apiserver-arg:\n  - kubelet-certificate-authority=\n",
        ),
        (
            "config.yaml.d/20.yaml",
            "kube-controller-manager-arg:\n  - tls-min-version=VersionTLS12\n",
        ),
    ]);
    let got = records(&t.path().join("config.yaml.d/20.yaml"));
    assert!(
        got.iter().any(|r| r.source.contains("(+2 drop-ins)")),
        "{got:#?}"
    );
    // The emptied CA from the other drop-in counts: they are one configuration.
    expect("no main", &got, &[(CA, Fail, "empty value")]);
}

#[test]
fn k3s_later_list_replaces_and_plus_appends() {
    // (label, files, expected verdicts)
    type Case = (&'static str, Vec<(&'static str, &'static str)>, Vec<Row>);
    let rows: Vec<Case> = vec![
        (
            // The drop-in's list replaces the main file's: the gate=false is gone.
            "replace",
            vec![
                (
                    "config.yaml",
                    "kubelet-arg:\n  - feature-gates=RotateKubeletServerCertificate=false\n  - rotate-server-certificates=true\n",
                ),
                (
                    "config.yaml.d/10.yaml",
                    "kubelet-arg:\n  - rotate-server-certificates=true\n",
                ),
            ],
            vec![(KBOOT, Pass, "--rotate-server-certificates=true")],
        ),
        (
            // `+` appends: the main file's gate=false still reaches the kubelet.
            "append",
            vec![
                (
                    "config.yaml",
                    "kubelet-arg:\n  - feature-gates=RotateKubeletServerCertificate=false\n",
                ),
                (
                    "config.yaml.d/10.yaml",
                    "kubelet-arg+:\n  - rotate-server-certificates=true\n",
                ),
            ],
            vec![(KBOOT, Fail, "")],
        ),
        (
            // In one file, a plain key after the `+` key replaces what it appended.
            "same file",
            vec![(
                "config.yaml",
                "kubelet-arg+:\n  - feature-gates=RotateKubeletServerCertificate=false\nkubelet-arg:\n  - rotate-server-certificates=true\n",
            )],
            vec![(KBOOT, Pass, "--rotate-server-certificates=true")],
        ),
    ];
    for (label, files, want) in rows {
        let t = tree(&files);
        expect(label, &records(&t.path().join("config.yaml")), &want);
    }
}

#[test]
fn k3s_items_meet_the_distribution_flags_as_getargs_does() {
    let rows: Vec<(&str, &str, Vec<Row>)> = vec![
        // `name-=` goes before k3s's own value, which pflag then takes.
        (
            "prepend",
            "kube-apiserver-arg:\n  - kubelet-certificate-authority-=\n",
            vec![(CA, Pass, "k3s/RKE2 sets --kubelet-certificate-authority=")],
        ),
        // `name+=` goes after it and wins: an empty CA.
        (
            "append",
            "kube-apiserver-arg:\n  - kubelet-certificate-authority+=\n",
            vec![(CA, Fail, "empty value")],
        ),
        // A plain item replaces it.
        (
            "replace",
            "kube-apiserver-arg:\n  - kubelet-certificate-authority=/etc/mine/ca.crt\n",
            vec![(CA, Pass, "/etc/mine/ca.crt")],
        ),
        // Suffixes apply to every flag: `feature-gates+=` is the feature-gates flag.
        (
            "gates",
            "kube-controller-manager-arg:\n  - feature-gates+=RotateKubeletServerCertificate=false\n",
            vec![(CM, Fail, "")],
        ),
        // Repeated items: pflag's last occurrence of a single-valued flag wins.
        (
            "last wins",
            "kubelet-arg:\n  - rotate-server-certificates=false\n  - rotate-server-certificates=true\n",
            vec![(KBOOT, Pass, "")],
        ),
    ];
    for (label, text, want) in rows {
        let t = tree(&[("config.yaml", text)]);
        expect(label, &records(&t.path().join("config.yaml")), &want);
    }
}

#[test]
fn k3s_fix_keeps_the_suffix_as_written() {
    // The gate is turned on in the item that sets it, `+=` and all, in the file it is in.
    let t = tree(&[
        (
            "config.yaml",
            "kube-controller-manager-arg:\n  - node-monitor-period=5s\n",
        ),
        (
            "config.yaml.d/10.yaml",
            "kube-controller-manager-arg+:\n  - feature-gates+=RotateKubeletServerCertificate=false\n",
        ),
    ]);
    let group = k3s::group_of(&t.path().join("config.yaml")).expect("group");
    let fixed = k3s::fix_group(&group, &Policy::default()).expect("fix");
    let dropin = fixed
        .iter()
        .find(|(p, ..)| p.ends_with("10.yaml"))
        .expect("the drop-in");
    assert!(
        dropin
            .2
            .text
            .contains("- feature-gates+=RotateKubeletServerCertificate=true"),
        "{}",
        dropin.2.text
    );
    // The gate's old value is gone from the file that had it, and no new gate item appears.
    assert!(!dropin.2.text.contains("=false"), "{}", dropin.2.text);
    let main = fixed
        .iter()
        .find(|(p, ..)| p.ends_with("config.yaml"))
        .expect("main");
    assert!(
        !main.2.text.contains("kube-controller-manager-arg+"),
        "{}",
        main.2.text
    );
}

fn talos(cluster: &str, kubelet: &str) -> String {
    format!(
        "version: v1alpha1\nmachine:\n  type: controlplane\n  kubelet:\n    extraArgs:\n{kubelet}cluster:\n  apiServer:\n    extraArgs:\n{cluster}"
    )
}

#[test]
fn talos_values_are_strings_or_lists_and_empty_is_no_flag() {
    let ca = "      kubelet-certificate-authority: /etc/kubernetes/pki/ca.crt\n";
    let rows: Vec<(&str, String, Vec<Row>)> = vec![
        (
            "string",
            talos(ca, "      rotate-server-certificates: \"true\"\n"),
            vec![
                (CA, Pass, ""),
                (KBOOT, Pass, "--rotate-server-certificates=true"),
            ],
        ),
        (
            // A YAML boolean is passed as its text.
            "bool",
            talos(ca, "      rotate-server-certificates: true\n"),
            vec![(KBOOT, Pass, "--rotate-server-certificates=true")],
        ),
        (
            // A list is repeated flags; the last one wins.
            "list",
            talos(
                ca,
                "      rotate-server-certificates:\n        - \"false\"\n        - \"true\"\n",
            ),
            vec![(KBOOT, Pass, "--rotate-server-certificates=true")],
        ),
        (
            "list last false",
            talos(
                ca,
                "      rotate-server-certificates:\n        - \"true\"\n        - \"false\"\n",
            ),
            vec![(KBOOT, Fail, "")],
        ),
        (
            // An empty string reaches the API server as no flag: the CA is missing, not empty.
            "empty",
            talos(
                "      kubelet-certificate-authority: \"\"\n",
                "      rotate-server-certificates: \"true\"\n",
            ),
            vec![(CA, Fail, "Talos does not set it")],
        ),
        (
            "gates list",
            talos(
                ca,
                "      feature-gates:\n        - RotateKubeletServerCertificate=false\n        - RotateKubeletServerCertificate=true\n      rotate-server-certificates: \"true\"\n",
            ),
            vec![(KROT, Pass, ""), (KBOOT, Pass, "")],
        ),
        (
            "client pair denied",
            talos(
                &format!("{ca}      kubelet-client-key: /k.key\n"),
                "      rotate-server-certificates: \"true\"\n",
            ),
            vec![(
                "apiserver-kubelet-client-cert",
                Pass,
                "Talos refuses a machine config in which cluster.apiServer.extraArgs sets it",
            )],
        ),
    ];
    for (label, text, want) in rows {
        let t = tree(&[("controlplane.yaml", &text)]);
        expect(label, &records(&t.path().join("controlplane.yaml")), &want);
    }
}
