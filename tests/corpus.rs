//! Every file of ../shared/corpus/{static-pods,kubelet-config,flags} against verdicts written by
//! reading the file (not by running the engine). Each file is checked on its own with
//! `check --format json`, under `strict` and under `cis`; the non-skip results must match the row
//! exactly (no missing, no extra), and the exit code must follow from them (0/1/2).
//!
//! Reading notes that decide a verdict are next to the row. Semantics assumed (DESIGN.md 1–2):
//! - strict: gates must be explicitly true; cis: an absent RotateKubeletServerCertificate gate
//!   passes, kubelet rules give `warn` instead of `fail`. The apiserver rules ignore the profile.
//! - a KubeletConfiguration document decides both kubelet rules by itself;
//! - a kubelet flags file decides a kubelet rule only when it sets the flag, else `skip`.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;

struct Case {
    /// Path under the corpus directory.
    file: &'static str,
    /// Non-skip verdicts under the default (strict) profile.
    strict: Vec<Exp>,
    /// Non-skip verdicts under `--profile cis`; `None` = same as strict.
    cis: Option<Vec<Exp>>,
    /// Objects (or `ANY`) that must come back as `error`.
    errors: Vec<&'static str>,
}

const APISERVER: &str = "kube-system/kube-apiserver";
const KCM: &str = "kube-system/kube-controller-manager";

/// An apiserver container's two rules.
fn api(
    object: &'static str,
    loc: &'static str,
    client: &'static str,
    ca: &'static str,
) -> Vec<Exp> {
    vec![e(object, loc, CLIENT, client), e(object, loc, CA, ca)]
}

/// A standalone KubeletConfiguration: DESIGN names neither its object nor its location.
fn kcfg(rot: &'static str, boot: &'static str) -> Vec<Exp> {
    vec![e(ANY, ANY, KROT, rot), e(ANY, ANY, KBOOT, boot)]
}

fn case(file: &'static str, strict: Vec<Exp>, cis: Option<Vec<Exp>>) -> Case {
    Case {
        file,
        strict,
        cis,
        errors: vec![],
    }
}

fn static_pod_cases() -> Vec<Case> {
    let kcm_absent = |file| {
        // No RotateKubeletServerCertificate in --feature-gates: strict fails, cis passes.
        case(
            file,
            vec![e(KCM, "kube-controller-manager", CM, FAIL)],
            Some(vec![e(KCM, "kube-controller-manager", CM, PASS)]),
        )
    };
    vec![
        // One Pod, four containers. '/hyperkube controller-manager' (no gates) and
        // '/hyperkube apiserver' (no kubelet flags at all); 'scheduler' and 'setup' are not
        // components the rules know, so only skips for them.
        case(
            "static-pods/k8s-master.hyperkube-all-in-one.json",
            [
                api("kube-system/k8s-master", "apiserver", FAIL, FAIL),
                vec![e("kube-system/k8s-master", "controller-manager", CM, FAIL)],
            ]
            .concat(),
            Some(
                [
                    api("kube-system/k8s-master", "apiserver", FAIL, FAIL),
                    vec![e("kube-system/k8s-master", "controller-manager", CM, PASS)],
                ]
                .concat(),
            ),
        ),
        // Trailing '# ...' comments are YAML comments, not part of the values: cert+key set.
        case(
            "static-pods/kube-apiserver.cka-review-annotated.v1.29.yaml",
            api(APISERVER, "kube-apiserver", PASS, FAIL),
            None,
        ),
        // command [kube-apiserver] + args; no kubelet flags at all, no component label.
        case(
            "static-pods/kube-apiserver.command-args.minimal.v1.30.yaml",
            api(APISERVER, "kube-apiserver", FAIL, FAIL),
            None,
        ),
        // All three kubelet flags only in commented-out lines: none is set.
        case(
            "static-pods/kube-apiserver.commented-kubelet-flags.v1.8.1.yaml",
            api(APISERVER, "kube-apiserver", FAIL, FAIL),
            None,
        ),
        // Cert+key in args, no CA. Its --feature-gates=RotateKubeletServerCertificate=true sits on
        // the APISERVER, where it means nothing for the controller-manager rule (skip).
        case(
            "static-pods/kube-apiserver.fr-solution.args-split.v1.23.yaml",
            api(APISERVER, "kube-apiserver", PASS, FAIL),
            None,
        ),
        // '/hyperkube apiserver' with CA, cert and key; '--service-account-lookup' is a bare bool
        // followed by another flag; trailing comments on flag lines are YAML comments.
        case(
            "static-pods/kube-apiserver.hyperkube-telephoneorg.v1.8.5.yaml",
            api(APISERVER, "kube-apiserver", PASS, PASS),
            None,
        ),
        // A mirror pod dump: still reported by `check` (it reports what runs). Cert+key, no CA.
        case(
            "static-pods/kube-apiserver.kind-mirror-pod-dump.v1.21.yaml",
            api(
                "kube-system/kube-apiserver-kind-control-plane",
                "kube-apiserver",
                PASS,
                FAIL,
            ),
            None,
        ),
        case(
            "static-pods/kube-apiserver.liuyt.v1.7.0.yaml",
            api(APISERVER, "kube-apiserver", PASS, FAIL),
            None,
        ),
        // minikube paths (/var/lib/minikube/certs) are still set, non-empty values.
        case(
            "static-pods/kube-apiserver.minikube.v1.32.yaml",
            api(APISERVER, "kube-apiserver", PASS, FAIL),
            None,
        ),
        case(
            "static-pods/kube-apiserver.minimal-insecure.v1.15.yaml",
            api(APISERVER, "kube-apiserver", FAIL, FAIL),
            None,
        ),
        // Odd: a volume without a name and a 'readOlny' typo. Neither touches the flags, and an
        // auditor must not refuse the file for schema slips, so the verdicts stand.
        case(
            "static-pods/kube-apiserver.mstelles-cks.v1.21.yaml",
            api(APISERVER, "kube-apiserver", PASS, FAIL),
            None,
        ),
        // --feature-gates on the apiserver (tracing gates) is irrelevant to its two rules.
        case(
            "static-pods/kube-apiserver.otel-kubeadm.v1.25.yaml",
            api(APISERVER, "kube-apiserver", PASS, FAIL),
            None,
        ),
        // CA appended by hand after the kubeadm-generated flags.
        case(
            "static-pods/kube-apiserver.px-libvirt.v1.24.yaml",
            api(APISERVER, "kube-apiserver", PASS, PASS),
            None,
        ),
        // ['/bin/sh','-c', one folded plain scalar]: the line is '/hyperkube apiserver ... ' with
        // all three kubelet flags (placeholder values like K8S_CERTS_DIR/ca.crt are non-empty),
        // a positional 'K8S_OIDC' and redirections at the end.
        case(
            "static-pods/kube-apiserver.sh-c-folded.hyperkube.yaml",
            api(APISERVER, "kube-apiserver", PASS, PASS),
            None,
        ),
        // Terraform template that parses as YAML; label k8s-app (not component): the command
        // names kube-apiserver. Cert+key present (the serving cert reused), no CA.
        case(
            "static-pods/kube-apiserver.typhoon.tftpl.yaml",
            api(APISERVER, "kube-apiserver", PASS, FAIL),
            None,
        ),
        kcm_absent("static-pods/kube-controller-manager.command-args.minimal.v1.30.yaml"),
        // --feature-gates=RotateKubeletServerCertificate=true in args: passes in both profiles.
        // Odd: this container has no `name`, so DESIGN gives no location to expect.
        case(
            "static-pods/kube-controller-manager.fr-solution.args-split.v1.23.yaml",
            vec![e(KCM, ANY, CM, PASS)],
            None,
        ),
        // --feature-gates present, but only TTLAfterFinished: the gate itself is absent.
        kcm_absent("static-pods/kube-controller-manager.kind-ttlafterfinished.v1.14.yaml"),
        kcm_absent("static-pods/kube-controller-manager.minimal-insecure.v1.15.yaml"),
        kcm_absent("static-pods/kube-controller-manager.px-libvirt.v1.24.yaml"),
        // v1.5.3 with the legacy approve-all-CSRs flag; no feature gates. '--leader-elect' bare.
        kcm_absent("static-pods/kube-controller-manager.romana-ha.v1.5.3.yaml"),
        // '/bin/sh -c "/hyperkube controller-manager ... >log 2>&1"': no gates.
        kcm_absent("static-pods/kube-controller-manager.sh-c-folded.hyperkube.yaml"),
        // Template glue '${cloud_provider_flag}' on a value; no gates.
        kcm_absent("static-pods/kube-controller-manager.typhoon.tftpl.yaml"),
    ]
}

fn kubelet_config_cases() -> Vec<Case> {
    // Gate absent: strict fails both rules (when serverTLSBootstrap is also absent);
    // cis passes the absent gate and only warns on the missing serverTLSBootstrap.
    let nothing_set = |file| case(file, kcfg(FAIL, FAIL), Some(kcfg(PASS, WARN)));
    vec![
        // kind KubeletConfiguration but a kubeconfig body (clusters/contexts/users): error.
        Case {
            file: "kubelet-config/config.MALFORMED-kubeconfig-body.yaml",
            strict: vec![],
            cis: None,
            errors: vec![ANY],
        },
        // Four ConfigMaps kubelet-config-1.20..1.23. Each inner 'kubelet' payload has the list
        // item '- {{ .Cluster.Network.DNSResolverIP }}': syntactically a flow mapping used as a
        // mapping key, which no Kubernetes decoder (YAML→JSON) accepts. So each ConfigMap is an
        // `error` naming it, not a verdict built on a half-read config.
        Case {
            file: "kubelet-config/configmap.kubermatic-kubelet-config-1.20-1.23.multidoc.yaml",
            strict: vec![],
            cis: None,
            errors: vec![
                "kubelet-config-1.20",
                "kubelet-config-1.21",
                "kubelet-config-1.22",
                "kubelet-config-1.23",
            ],
        },
        // Same template caveat, single ConfigMap kube-system/kubelet-config.
        Case {
            file: "kubelet-config/configmap.kubermatic-kubelet-config.yaml",
            strict: vec![],
            cis: None,
            errors: vec!["kube-system/kubelet-config"],
        },
        // Gate true, no serverTLSBootstrap.
        case(
            "kubelet-config/eks-ami.kubelet-config.2018-initial.json",
            kcfg(PASS, FAIL),
            Some(kcfg(PASS, WARN)),
        ),
        case(
            "kubelet-config/eks-ami.kubelet-config.2018-servertls.json",
            kcfg(PASS, PASS),
            None,
        ),
        // A config.d drop-in with only two empty strings. Judged as the document it is (the
        // message should say other config/flags may decide).
        nothing_set("kubelet-config/eks-nodeadm.drop-in-minimal.json"),
        case(
            "kubelet-config/eks-nodeadm.expected-kubelet-config.json",
            kcfg(PASS, PASS),
            None,
        ),
        // Jinja template, all {{ }} quoted: valid YAML. serverTLSBootstrap true, no gate.
        // Odd: evictionHard children mis-indented to the top level; irrelevant to the rules.
        case(
            "kubelet-config/kubelet-config.ansible-k8s-manager.tpl.yaml",
            kcfg(FAIL, PASS),
            Some(kcfg(PASS, PASS)),
        ),
        nothing_set("kubelet-config/kubelet-config.empty-body.yaml"),
        nothing_set("kubelet-config/kubelet-config.k8s-security-hardway.yaml"),
        // featureGates holds only "KubeletTracing"; rotateCertificates (client certs) is not
        // serverTLSBootstrap.
        nothing_set("kubelet-config/kubelet-config.otel-kubeadm.yaml"),
        // '# rotateCertificates: false' is a comment; rotateCertificates is not the server setting.
        nothing_set("kubelet-config/kubelet-config.stic-examples.yaml"),
        // 4-space featureGates with RuntimeClass only.
        nothing_set("kubelet-config/kubelet-config.vista-4space.yaml"),
    ]
}

/// None of the flags files sets --feature-gates=...RotateKubeletServerCertificate=... or
/// --rotate-server-certificates, so every kubelet rule is `skip` (the kubelet config file decides).
/// Odd files, same verdict:
/// - 10-kubeadm.pre-1.11-centos.conf: --rotate-certificates=true rotates CLIENT certs only; this
///   pre-1.11 layout has no --config either, so strictly the kubelet there runs without server
///   rotation, but by the agreed rule a flags file without the flag does not decide.
/// - 10-kubeadm.px-libvirt.conf: Environment= after ExecStart= (systemd applies it anyway) with
///   an empty --node-ip=.
/// - etc-default-kubelet.lfs260.env: --feature-gates="AllAlpha=false,RunAsGroup=true" sets gates,
///   but not RotateKubeletServerCertificate.
/// - kubelet-systemd-unit-plus-dropin.stic.conf: unit and drop-in concatenated, two [Service].
const FLAG_FILES: &[&str] = &[
    "flags/10-kubeadm.cks-build.conf",
    "flags/10-kubeadm.pre-1.11-centos.conf",
    "flags/10-kubeadm.px-libvirt.conf",
    "flags/10-kubeadm.upstream-build-debs.conf",
    "flags/etc-default-kubelet.lfs260.env",
    "flags/kubeadm-flags.cy-gu.env",
    "flags/kubeadm-flags.k8s-ha-autoinstall.env",
    "flags/kubeadm-flags.kind-recent.env",
    "flags/kubeadm-flags.vm-as-pods.env",
    "flags/kubelet-systemd-unit-plus-dropin.stic.conf",
];

fn flag_cases() -> Vec<Case> {
    FLAG_FILES.iter().map(|f| case(f, vec![], None)).collect()
}

fn run_cases(corpus: &Path, cases: &[Case]) -> Vec<String> {
    let mut problems = Vec::new();
    for c in cases {
        let path = corpus.join(c.file);
        let strict = check_paths(None, &[&path]);
        problems.extend(check_case(
            &format!("{} [strict]", c.file),
            &strict,
            &c.strict,
            &c.errors,
        ));
        let cis_exp = c.cis.as_ref().unwrap_or(&c.strict);
        let cis = check_paths(Some("cis"), &[&path]);
        problems.extend(check_case(
            &format!("{} [cis]", c.file),
            &cis,
            cis_exp,
            &c.errors,
        ));
        // Every result names the file it came from.
        if let Ok(report) = strict.try_json() {
            let name = Path::new(c.file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for r in parse_results(&report) {
                if !r.source.ends_with(&name) {
                    problems.push(format!(
                        "{}: result source {:?} does not name the file",
                        c.file, r.source
                    ));
                    break;
                }
            }
        }
    }
    problems
}

#[test]
fn corpus_static_pods() {
    let Some(corpus) = corpus_dir() else { return };
    assert_no_problems("static-pods", &run_cases(&corpus, &static_pod_cases()));
}

#[test]
fn corpus_kubelet_config() {
    let Some(corpus) = corpus_dir() else { return };
    let cases = kubelet_config_cases();
    let mut problems = run_cases(&corpus, &cases);
    // A KubeletConfiguration alone cannot know about flags elsewhere: the message must say so.
    for c in cases.iter().filter(|c| c.errors.is_empty()) {
        let run = check_paths(None, &[&corpus.join(c.file)]);
        let Ok(report) = run.try_json() else { continue };
        for r in parse_results(&report) {
            if (r.rule == KROT || r.rule == KBOOT)
                && r.status != "skip"
                && !r.message.to_lowercase().contains("flag")
            {
                problems.push(format!(
                    "{}: {} message does not mention that kubelet flags could override: {:?}",
                    c.file, r.rule, r.message
                ));
            }
        }
    }
    assert_no_problems("kubelet-config", &problems);
}

#[test]
fn corpus_flags() {
    let Some(corpus) = corpus_dir() else { return };
    let mut problems = run_cases(&corpus, &flag_cases());
    // The files must be recognised as kubelet flags (not ignored): each kubelet rule shows up as
    // a skip whose message points at the kubelet config file.
    for f in FLAG_FILES {
        let run = check_paths(None, &[&corpus.join(f)]);
        let Ok(report) = run.try_json() else { continue };
        let results = parse_results(&report);
        for rule in [KROT, KBOOT] {
            let hit = results
                .iter()
                .find(|r| r.rule == rule && r.status == "skip");
            match hit {
                None => problems.push(format!("{f}: no skip result for {rule}")),
                Some(r) if !r.message.to_lowercase().contains("config") => problems.push(format!(
                    "{f}: {rule} skip message does not point at the config file: {:?}",
                    r.message
                )),
                Some(_) => {}
            }
        }
    }
    assert_no_problems("flags", &problems);
}

/// A corpus file without a row (or a row without a file) fails: the table must keep up.
#[test]
fn corpus_rows_cover_every_file() {
    let Some(corpus) = corpus_dir() else { return };
    let rows: BTreeSet<String> = static_pod_cases()
        .into_iter()
        .chain(kubelet_config_cases())
        .chain(flag_cases())
        .map(|c| c.file.to_string())
        .collect();
    let mut files = BTreeSet::new();
    for dir in ["static-pods", "kubelet-config", "flags"] {
        for entry in walkdir::WalkDir::new(corpus.join(dir)) {
            let entry = entry.expect("walk corpus");
            if entry.file_type().is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(&corpus)
                    .expect("under corpus")
                    .to_string_lossy()
                    .into_owned();
                files.insert(rel);
            }
        }
    }
    let without_row: Vec<_> = files.difference(&rows).collect();
    let without_file: Vec<_> = rows.difference(&files).collect();
    assert!(
        without_row.is_empty() && without_file.is_empty(),
        "corpus files without a row: {without_row:?}; rows without a file: {without_file:?}"
    );
}
