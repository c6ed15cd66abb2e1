//! Admission for real (issue 9): a real kube-apiserver calls the real `serve` binary, and
//! everything is observed the way an operator would, through kubectl and the audit log.
//! Expectations come from DESIGN.md sections 4 and 5 and the e2e script (tests/e2e/run.sh).

mod common;

use common::apiserver::webhook::{Installed, Serve, text};
use common::apiserver::{self, ApiServer, webhook};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const NAME: &str = "kubelet-tls-guard";
const CA_FLAG: &str = "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt";
const ARGS: &str = "jsonpath={.spec.template.spec.containers[0].args}";
const WAIT: Duration = Duration::from_secs(20);

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The e2e kube-apiserver Deployment (lacks --kubelet-certificate-authority) in `namespace`.
fn deployment(namespace: &str) -> String {
    fixture("e2e/kube-apiserver-deployment.yaml")
        .replace("namespace: tlsg-e2e", &format!("namespace: {namespace}"))
}

/// `request.object` of an admission fixture, server-assigned metadata removed, with `from`
/// replaced by `to` in its one data entry: a kube-system ConfigMap to create for real.
fn configmap(review: &str, from: &str, to: &str) -> String {
    let review: Value = serde_json::from_str(&fixture(&format!("fixtures/admission/{review}")))
        .expect("review JSON");
    let mut obj = review["request"]["object"].clone();
    for field in ["resourceVersion", "uid", "creationTimestamp"] {
        obj["metadata"].as_object_mut().map(|m| m.remove(field));
    }
    let data = obj["data"].as_object_mut().expect("ConfigMap data");
    let (key, value) = data.iter().next().expect("one data entry");
    let (key, value) = (key.clone(), value.as_str().unwrap_or("").to_string());
    assert!(value.contains(from), "{review:?} lacks {from:?}");
    data.insert(key, Value::String(value.replace(from, to)));
    obj.to_string()
}

/// kubeadm-config (v1beta4) without the kubelet-certificate-authority extraArg.
fn kubeadm_config_bad() -> String {
    configmap(
        "kubeadm-config.v1beta4.json",
        "  - name: kubelet-certificate-authority\n    value: /etc/kubernetes/pki/ca.crt\n",
        "",
    )
}

/// kubelet-config with serverTLSBootstrap off.
fn kubelet_config_bad() -> String {
    configmap(
        "kubelet-config.configmap.json",
        "serverTLSBootstrap: true",
        "serverTLSBootstrap: false",
    )
}

/// Start `serve --mode MODE`, install `webhook-config --mode MODE` (plus `extra`), and wait
/// until a server-side dry-run of the Deployment in `namespace` shows `marker`.
fn install<'a>(
    s: &'a ApiServer,
    mode: &str,
    extra: &[&str],
    namespace: &str,
    marker: &str,
) -> (Serve, Installed<'a>) {
    s.ensure_namespace(namespace);
    let probe = deployment(namespace);
    webhook::install_and_wait(
        s,
        NAME,
        (mode, extra),
        (&probe, &["-o", ARGS]),
        marker,
        WAIT,
    )
}

fn exists(s: &ApiServer, args: &[&str]) -> bool {
    s.kubectl(&[&["get"], args].concat()).status.success()
}

#[test]
fn enforce_denies_the_deployment_and_kubeadm_configmaps_with_our_message() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let ns = "adm-enforce";
    let (serve, _installed) = install(s, "enforce", &[], ns, "kubelet-tls-guard denied");
    // (what, object, what the message names: rule, CIS ids or the fix, object to look for)
    let cases = [
        (
            "Deployment",
            deployment(ns),
            [
                "[apiserver-kubelet-ca]",
                "CIS 1.2.5/1.2.6",
                "--kubelet-certificate-authority",
            ],
            vec!["deployment", "kube-apiserver", "-n", ns],
        ),
        (
            "kubeadm-config",
            kubeadm_config_bad(),
            [
                "[apiserver-kubelet-ca]",
                "CIS 1.2.5/1.2.6",
                "kubelet-certificate-authority",
            ],
            vec!["configmap", "kubeadm-config", "-n", "kube-system"],
        ),
        (
            // This rule has no CIS id of its own: the message says which controls need it.
            "kubelet-config",
            kubelet_config_bad(),
            [
                "[kubelet-server-tls-bootstrap]",
                "4.2.11/4.2.12",
                "set serverTLSBootstrap: true",
            ],
            vec!["configmap", "kubelet-config", "-n", "kube-system"],
        ),
    ];
    for (what, object, needles, get) in cases {
        // Tests share one API server: a kube-system ConfigMap another test stored (the mutate
        // test patches kubeadm-config) would make this CREATE an UPDATE and still be there.
        let _ = s.kubectl(&[&["delete"], get.as_slice(), &["--ignore-not-found"]].concat());
        let err = match s.kubectl_stdin(&["apply", "-f", "-"], &object) {
            Ok(out) => panic!(
                "{what} admitted in enforce: {out}\nserve log:\n{}",
                serve.log()
            ),
            Err(e) => e,
        };
        // kubectl: `Error from server (Forbidden): ... admission webhook "validate..." denied
        // the request: kubelet-tls-guard denied KIND NS/NAME: [rule] ... (CIS ...): fix`
        let fixed = [
            "Error from server (Forbidden)",
            "admission webhook \"validate.kubelet-tls-guard.svc\" denied the request",
            "kubelet-tls-guard denied",
        ];
        for needle in fixed.iter().chain(needles.iter()) {
            assert!(
                err.contains(needle),
                "{what}: {needle:?} missing from: {err}"
            );
        }
        assert!(!exists(s, &get), "{what} was stored although denied");
    }
}

#[test]
fn dry_run_warns_in_kubectl_and_annotates_the_audit_log() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let ns = "adm-dry-run";
    let (serve, _installed) = install(s, "dry-run", &["--remediate"], ns, "[dry-run] would deny");
    let out = s
        .kubectl_stdin(&["create", "-f", "-"], &deployment(ns))
        .unwrap_or_else(|e| panic!("dry-run refused the Deployment: {e}\n{}", serve.log()));
    assert!(
        out.lines().any(|l| l.starts_with(
            "Warning: kubelet-tls-guard: [dry-run] would deny: [apiserver-kubelet-ca]"
        )),
        "no dry-run warning in kubectl's output: {out}"
    );
    let stored = s.kubectl(&["get", "deployment", "kube-apiserver", "-n", ns, "-o", ARGS]);
    assert!(stored.status.success(), "{}", text(&stored));
    assert!(
        !text(&stored).contains(CA_FLAG),
        "dry-run patched: {}",
        text(&stored)
    );

    // The real create (not the dry-run probes) and what both webhooks told the audit log.
    let event = s.wait_audit_event(WAIT, |e| {
        e["verb"] == "create"
            && e["stage"] == "ResponseComplete"
            && e["objectRef"]["resource"] == "deployments"
            && e["objectRef"]["namespace"] == ns
            && !e["requestURI"].as_str().unwrap_or("").contains("dryRun")
    });
    let event = event.expect("an audit event for the create");
    let ann = event["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let get = |k: &str| ann.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let ca = get("validate.kubelet-tls-guard.svc/apiserver-kubelet-ca");
    assert!(
        ca.contains("fail (dry-run)"),
        "validate annotation {ca:?} in {ann:?}"
    );
    let would = get("mutate.kubelet-tls-guard.svc/would-patch");
    assert!(
        would.contains("kubelet-certificate-authority"),
        "would-patch {would:?} in {ann:?}"
    );
    // Our keys reach the log only under a webhook's name, as the API server requires.
    for key in ann.keys().filter(|k| k.contains("kubelet-tls-guard")) {
        assert!(
            key.starts_with("validate.kubelet-tls-guard.svc/")
                || key.starts_with("mutate.kubelet-tls-guard.svc/"),
            "unexpected key {key}"
        );
    }
}

/// (resourceVersion, args) of the stored Deployment.
fn stored_deployment(s: &ApiServer, ns: &str) -> (String, String) {
    let out = s.kubectl(&[
        "get",
        "deployment",
        "kube-apiserver",
        "-n",
        ns,
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("Deployment JSON");
    let args = v["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    (
        v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        args,
    )
}

#[test]
fn mutate_patches_once_and_server_dry_run_shows_without_storing() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let ns = "adm-mutate";
    let (serve, _installed) = install(s, "enforce", &["--remediate"], ns, CA_FLAG);
    let yaml = deployment(ns);

    // apply --dry-run=server -o yaml: the patched object, nothing stored.
    let shown = s
        .kubectl_stdin(
            &["apply", "--dry-run=server", "-o", "yaml", "-f", "-"],
            &yaml,
        )
        .unwrap_or_else(|e| panic!("dry-run apply refused: {e}\n{}", serve.log()));
    assert!(
        shown.contains(&format!("- {CA_FLAG}")),
        "not patched in the dry-run: {shown}"
    );
    assert!(
        !exists(s, &["deployment", "kube-apiserver", "-n", ns]),
        "dry-run stored it"
    );

    let out = s
        .kubectl_stdin(&["apply", "-f", "-"], &yaml)
        .expect("apply");
    assert!(
        out.lines()
            .any(|l| l.starts_with("Warning: kubelet-tls-guard: patched [apiserver-kubelet-ca]")),
        "no patched warning: {out}"
    );
    let (version, args) = stored_deployment(s, ns);
    let want = format!(
        "[\"--secure-port=6443\",\"--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt\",\"--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key\",\"{CA_FLAG}\"]"
    );
    assert_eq!(args, want, "stored args");

    // The same apply again: the webhook patches the flag back in, the result equals what is
    // stored, and the API server writes nothing (same resourceVersion).
    s.kubectl_stdin(&["apply", "-f", "-"], &yaml)
        .expect("second apply");
    assert_eq!(
        stored_deployment(s, ns),
        (version, want),
        "second apply changed the object"
    );

    // The kubeadm ConfigMap is patched the same way (remediation of the ClusterConfiguration).
    s.kubectl_stdin(&["apply", "-f", "-"], &kubeadm_config_bad())
        .unwrap_or_else(|e| panic!("kubeadm-config refused: {e}\n{}", serve.log()));
    let cm = s.kubectl(&[
        "get",
        "configmap",
        "kubeadm-config",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.data.ClusterConfiguration}",
    ]);
    assert!(
        text(&cm).contains("kubelet-certificate-authority"),
        "kubeadm-config not patched: {}",
        text(&cm)
    );
}

#[test]
fn a_mirror_pod_is_never_patched() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let (serve, _installed) = install(s, "enforce", &["--remediate"], "adm-mirror", CA_FLAG);
    // As its kubelet would: the node registers itself, then creates the mirror pod it owns.
    let node = "mirror-cp-1";
    let kubelet = s.node_kubeconfig(node);
    let reg = s.kubectl_as(
        &kubelet,
        &["create", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n"
        )),
    );
    assert!(reg.status.success(), "register node: {}", text(&reg));
    let uid = text(&s.kubectl(&["get", "node", node, "-o", "jsonpath={.metadata.uid}"]));
    let review: Value = serde_json::from_str(&fixture(
        "fixtures/admission/kube-apiserver.mirror-pod.json",
    ))
    .expect("JSON");
    let mut pod = review["request"]["object"].clone();
    pod["metadata"]["name"] = Value::from(format!("kube-apiserver-{node}"));
    pod["metadata"]["ownerReferences"][0]["name"] = Value::from(node);
    pod["metadata"]["ownerReferences"][0]["uid"] = Value::from(uid.trim());
    pod["spec"]["nodeName"] = Value::from(node);
    let command = pod["spec"]["containers"][0]["command"]
        .as_array_mut()
        .expect("command");
    let before = command.len();
    command.retain(|a| a.as_str() != Some(CA_FLAG));
    assert_eq!(
        command.len(),
        before - 1,
        "the fixture should carry {CA_FLAG}"
    );
    let sent = pod["spec"]["containers"][0]["command"].clone();

    let out = s.kubectl_as(&kubelet, &["create", "-f", "-"], Some(&pod.to_string()));
    assert!(
        out.status.success(),
        "mirror pod refused: {}\n{}",
        text(&out),
        serve.log()
    );
    assert!(
        text(&out).contains("mirror of a static pod"),
        "no mirror warning: {}",
        text(&out)
    );
    let got = s.kubectl(&[
        "get",
        "pod",
        &format!("kube-apiserver-{node}"),
        "-n",
        "kube-system",
        "-o",
        "json",
    ]);
    let got: Value = serde_json::from_slice(&got.stdout).expect("pod JSON");
    assert_eq!(
        got["spec"]["containers"][0]["command"], sent,
        "the mirror pod was patched"
    );
    let event = s.wait_audit_event(WAIT, |e| {
        e["verb"] == "create"
            && e["objectRef"]["resource"] == "pods"
            && e["objectRef"]["name"] == format!("kube-apiserver-{node}")
            && e["stage"] == "ResponseComplete"
    });
    let ann = event.expect("audit event")["annotations"].clone();
    let unpatched = ann["mutate.kubelet-tls-guard.svc/apiserver-kubelet-ca"]
        .as_str()
        .unwrap_or("");
    assert!(
        unpatched.contains("not patched: mirror pod"),
        "annotations {ann}"
    );
    assert!(
        ann.get("mutate.kubelet-tls-guard.svc/patch").is_none(),
        "a patch was recorded: {ann}"
    );
}
