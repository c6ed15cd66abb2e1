//! The policy file (DESIGN.md section 6): every key read, every bad key or value an error that
//! names the key and its line, the overrides of the command line, the lookups.

use super::*;
use crate::engine::rules::RuleId;

use crate::log_capture;

fn parse(yaml: &str) -> Policy {
    Policy::from_yaml(yaml, "test.yaml").unwrap_or_else(|e| panic!("{yaml:?}: {e}"))
}

fn error(yaml: &str) -> String {
    match Policy::from_yaml(yaml, "test.yaml") {
        Ok(p) => panic!("{yaml:?} parsed: {p:?}"),
        Err(e) => e.to_string(),
    }
}

/// The error names the file, the key and the line.
fn assert_names(yaml: &str, key: &str, line: usize) {
    let e = error(yaml);
    assert!(e.starts_with("policy test.yaml: "), "{e}");
    assert!(e.contains(key), "error does not name {key:?}: {e}");
    assert!(
        e.contains(&format!("line {line} ")) || e.ends_with(&format!("line {line}")),
        "error does not name line {line}: {e}"
    );
}

#[test]
fn embedded_default_is_the_documented_one() {
    let p = Policy::from_yaml(DEFAULT_POLICY, "<embedded default>").expect("embedded parses");
    assert_eq!(p.profile, Profile::Strict);
    assert_eq!(p.mode, Mode::DryRun);
    assert!(p.remediate);
    assert_eq!(p.mirror_pods, MirrorPods::Report);
    assert!(p.rules.is_empty());
    assert!(p.exemptions.is_empty());
    let r = &p.remediation;
    assert_eq!(
        r.kubelet_certificate_authority,
        "/etc/kubernetes/pki/ca.crt"
    );
    assert_eq!(
        r.kubelet_client_certificate,
        "/etc/kubernetes/pki/apiserver-kubelet-client.crt"
    );
    assert_eq!(
        r.kubelet_client_key,
        "/etc/kubernetes/pki/apiserver-kubelet-client.key"
    );
    assert!(!r.add_host_path_volume);
    // An empty file means every default, the same as the embedded one.
    let empty = parse("");
    assert_eq!(
        format!("{:?}", empty.remediation),
        format!("{:?}", p.remediation)
    );
    assert_eq!((empty.profile, empty.mode), (p.profile, p.mode));
}

#[test]
fn every_key_is_read() {
    let p = parse(
        "profile: cis
mode: enforce
remediate: false
mirrorPods: deny
rules:
  apiserver-kubelet-ca: {mode: off, remediate: true}
  kubelet-server-tls-bootstrap:
    mode: dry-run
remediation:
  kubeletCertificateAuthority: /pki/ca.crt
  kubeletClientCertificate: /pki/client.crt
  kubeletClientKey: /pki/client.key
  addHostPathVolume: true
exemptions:
  - {namespace: \"tenant-*\"}
  - name: legacy-?
",
    );
    assert_eq!(p.profile, Profile::Cis);
    assert_eq!(p.mode, Mode::Enforce);
    assert!(!p.remediate);
    assert_eq!(p.mirror_pods, MirrorPods::Deny);
    assert_eq!(p.mode_for(RuleId::ApiserverKubeletCa), Mode::Off);
    assert!(p.remediate_for(RuleId::ApiserverKubeletCa));
    assert_eq!(p.mode_for(RuleId::KubeletServerTlsBootstrap), Mode::DryRun);
    // Rules without an override take the defaults.
    assert_eq!(
        p.mode_for(RuleId::ApiserverKubeletClientCert),
        Mode::Enforce
    );
    assert!(!p.remediate_for(RuleId::KubeletServerTlsBootstrap));
    assert_eq!(p.remediation.kubelet_certificate_authority, "/pki/ca.crt");
    assert_eq!(p.remediation.kubelet_client_certificate, "/pki/client.crt");
    assert_eq!(p.remediation.kubelet_client_key, "/pki/client.key");
    assert!(p.remediation.add_host_path_volume);
    // Exemptions: globs, an absent field matches everything.
    assert!(p.exemption_for("tenant-a", "anything").is_some());
    assert!(p.exemption_for("kube-system", "legacy-1").is_some());
    assert!(p.exemption_for("kube-system", "legacy-10").is_none());
    assert!(p.exemption_for("kube-system", "kube-apiserver").is_none());
    let e = p.exemption_for("tenant-b", "x").expect("exempt");
    assert_eq!((e.namespace.as_str(), e.name.as_str()), ("tenant-*", "*"));
}

#[test]
fn unknown_top_level_key_names_key_and_line() {
    assert_names("profile: strict\n\nmdoe: enforce\n", "mdoe", 3);
}

#[test]
fn bad_values_name_key_and_line() {
    assert_names("mode: dry-run\nprofile: lenient\n", "profile", 2);
    assert_names("# policy\nmode: enforced\n", "mode", 2);
    assert_names("remediate: maybe\n", "remediate", 1);
    assert_names("profile: cis\nmirrorPods: allow\n", "mirrorPods", 2);
    assert_names(
        "rules:\n  apiserver-kubelet-ca:\n    mode: strict\n",
        "rules.apiserver-kubelet-ca.mode",
        3,
    );
    assert_names(
        "rules:\n  apiserver-kubelet-ca: {remediate: 3}\n",
        "rules.apiserver-kubelet-ca.remediate",
        2,
    );
    assert_names(
        "rules:\n  apiserver-kubelet-ca:\n    enforce: true\n",
        "enforce",
        3,
    );
    assert_names(
        "remediation:\n  addHostPathVolume: yes please\n",
        "remediation.addHostPathVolume",
        2,
    );
    assert_names("remediation:\n  kubeletCA: /pki/ca.crt\n", "kubeletCA", 2);
    assert_names("exemptions:\n  - {namespace: a, nmae: b}\n", "nmae", 2);
    assert_names("exemptions: {namespace: a}\n", "exemptions", 1);
}

#[test]
fn unknown_rule_id_names_key_and_line() {
    let yaml = "mode: enforce\nrules:\n  apiserver-kubelet-ca: {mode: enforce}\n  kubelet-rotate-cert:\n    mode: off\n";
    assert_names(yaml, "rules.kubelet-rotate-cert", 4);
    let e = error(yaml);
    for r in RuleId::ALL {
        assert!(e.contains(r.as_str()), "known ids not listed: {e}");
    }
    // Flow style: the same key, on its own line.
    assert_names(
        "rules: {apiserver-kubelet-ca: {}, nope: {}}\n",
        "rules.nope",
        1,
    );
}

#[test]
fn relative_remediation_paths_name_key_and_line() {
    for (key, line) in [
        ("kubeletCertificateAuthority", 2),
        ("kubeletClientCertificate", 3),
        ("kubeletClientKey", 4),
    ] {
        let mut yaml = String::from("remediation:\n");
        for (k, _) in [
            ("kubeletCertificateAuthority", 2),
            ("kubeletClientCertificate", 3),
            ("kubeletClientKey", 4),
        ] {
            let v = if k == key { "pki/x" } else { "/pki/x" };
            yaml.push_str(&format!("  {k}: {v}\n"));
        }
        assert_names(&yaml, &format!("remediation.{key}"), line);
        assert!(error(&yaml).contains("absolute"), "{}", error(&yaml));
    }
}

#[test]
fn bad_exemption_glob_names_key_and_line() {
    assert_names(
        "exemptions:\n  - namespace: ok\n  - namespace: kube-system\n    name: \"[unclosed\"\n",
        "exemptions[1].name",
        4,
    );
    assert_names(
        "exemptions:\n- {namespace: \"a{b\", name: x}\n",
        "exemptions[0].namespace",
        2,
    );
}

#[test]
fn line_of_finds_nested_keys_only_at_their_path() {
    let text = "name: top\nrules:\n  name: {}\nexemptions:\n- name: a\n- namespace: b\n  name: c\n";
    assert_eq!(lines::line_of(text, &["name"]), Some(1));
    assert_eq!(lines::line_of(text, &["rules", "name"]), Some(3));
    assert_eq!(lines::line_of(text, &["exemptions", "0", "name"]), Some(5));
    assert_eq!(lines::line_of(text, &["exemptions", "1", "name"]), Some(7));
    assert_eq!(lines::line_of(text, &["exemptions", "2", "name"]), None);
    assert_eq!(lines::line_of(text, &["rules", "absent"]), None);
    // A syntax error before the key: no line (serde's own error names the place).
    assert_eq!(lines::line_of("x: \"open\na: 1\n", &["a"]), None);
}

#[test]
fn command_line_overrides_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("policy.yaml");
    std::fs::write(
        &file,
        "profile: cis\nmode: dry-run\nrules:\n  apiserver-kubelet-ca: {mode: enforce}\n",
    )
    .expect("write policy");
    let p = Policy::load(Some(&file), None, None).expect("load");
    assert_eq!(p.mode_for(RuleId::ApiserverKubeletCa), Mode::Enforce);
    assert_eq!(p.profile, Profile::Cis);
    // `--mode` is the operator's word for every rule, per-rule modes included.
    let p = Policy::load(Some(&file), Some(Mode::Off), Some(Profile::Strict)).expect("load");
    assert_eq!(p.mode_for(RuleId::ApiserverKubeletCa), Mode::Off);
    assert_eq!(p.mode, Mode::Off);
    assert_eq!(p.profile, Profile::Strict);
    // No file: the embedded default.
    let p = Policy::load(None, None, Some(Profile::Cis)).expect("load");
    assert_eq!((p.profile, p.mode), (Profile::Cis, Mode::DryRun));
}

#[test]
fn unreadable_file_names_the_path() {
    let e = Policy::load(Some(Path::new("/nonexistent/policy.yaml")), None, None)
        .expect_err("no such file");
    assert!(e.to_string().contains("/nonexistent/policy.yaml"), "{e}");
}

#[test]
fn a_broken_embedded_policy_is_logged_not_silent() {
    let (p, text) = log_capture::logged(|| Policy::embedded_or("profile: lenient\n"));
    // The built-in values still hold ...
    assert_eq!((p.profile, p.mode), (Profile::Strict, Mode::DryRun));
    // ... and the operator hears why.
    assert!(text.contains("WARN"), "no warning logged: {text:?}");
    assert!(text.contains("embedded default policy"), "{text:?}");
    assert!(
        text.contains("profile"),
        "the parse error is not in the log: {text:?}"
    );
    // The real embedded policy logs nothing.
    let (_, text) = log_capture::logged(Policy::default);
    assert!(text.is_empty());
}
