//! The shipped install (issue 4, points 2 and 3; DESIGN.md section 7):
//! - every manifest under `manifests/` parses into its typed object and round-trips without
//!   losing a field (a misspelled field is dropped by the typed model, and the diff shows it);
//! - the webhook configurations, from the manifests, from the code and from `webhook-config`,
//!   route exactly what they should (rules, CEL matchConditions evaluated for real, failure
//!   policy, namespace exclusion, timeouts);
//! - the Deployment is hardened and wired to the Service, Secret, ConfigMap and CLI flags;
//! - each overlay renders (when `kubectl` or `kustomize` is on PATH) into the same.

#[path = "support/skip.rs"]
mod skip;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kubelet_tls_guard::engine::policy::{Mode, Policy};
use kubelet_tls_guard::engine::{self, Target};
use kubelet_tls_guard::install::webhook_config::{
    self, CaSource, WebhookMode, WebhookOptions, match_expression,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const NS: &str = "kubelet-tls-guard";
const TLS_SECRET: &str = "kubelet-tls-guard-tls";
const POLICY_CONFIGMAP: &str = "kubelet-tls-guard-policy";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifests_dir() -> PathBuf {
    crate_dir().join("manifests")
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubelet-tls-guard")
}

// ---------------------------------------------------------------------------------------------
// Loading and typed round trips

/// Every YAML file under `dir`, sorted, as (path relative to `dir`, text).
fn yaml_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk manifests"))
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml")
        })
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("read manifest");
            (e.path().strip_prefix(dir).unwrap().to_path_buf(), text)
        })
        .collect();
    out.sort();
    out
}

/// The documents of a YAML stream, as JSON values (empty documents skipped).
fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn is_kustomization(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "kustomization.yaml")
}

fn is_policy_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "policy.yaml")
}

/// The Kubernetes objects of every manifest (not kustomizations, not policy files).
fn manifest_objects() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for (path, text) in yaml_files(&manifests_dir()) {
        if is_kustomization(&path) || is_policy_file(&path) {
            continue;
        }
        for doc in documents(&text) {
            out.push((path.clone(), doc));
        }
    }
    out
}

/// Where two JSON values differ, as readable paths. `lost` entries are fields the typed model
/// dropped: an unknown or misspelled field, or a value of the wrong type.
fn diff(path: &str, original: &Value, typed: &Value, out: &mut Vec<String>) {
    match (original, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(vb) => diff(&p, va, vb, out),
                    None => out.push(format!("{p}: lost by the typed model (misspelled?)")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{k}: added by the typed model"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: {a} became {b}")),
    }
}

fn round_trip_as<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<(), String> {
    let typed: T =
        serde_json::from_value(doc.clone()).map_err(|e| format!("does not parse: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    let mut diffs = Vec::new();
    diff("", doc, &back, &mut diffs);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n  "))
    }
}

/// cert-manager's Issuer and Certificate have no k8s-openapi model: these mirror the
/// cert-manager.io/v1 fields the manifests use (names from its API reference), so a
/// misspelling still shows as a lost field.
mod cert_manager {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Issuer {
        pub api_version: String,
        pub kind: String,
        pub metadata: ObjectMeta,
        pub spec: IssuerSpec,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct IssuerSpec {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub self_signed: Option<SelfSigned>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ca: Option<CaIssuer>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct SelfSigned {}

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CaIssuer {
        pub secret_name: String,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Certificate {
        pub api_version: String,
        pub kind: String,
        pub metadata: ObjectMeta,
        pub spec: CertificateSpec,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CertificateSpec {
        pub secret_name: String,
        #[serde(skip_serializing_if = "Option::is_none", rename = "isCA")]
        pub is_ca: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub common_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub dns_names: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub duration: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub renew_before: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub private_key: Option<PrivateKey>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub usages: Option<Vec<String>>,
        pub issuer_ref: IssuerRef,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PrivateKey {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub algorithm: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub size: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub rotation_policy: Option<String>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct IssuerRef {
        pub name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub kind: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub group: Option<String>,
    }
}

fn round_trip(doc: &Value) -> Result<(), String> {
    let api = doc["apiVersion"].as_str().unwrap_or("");
    let kind = doc["kind"].as_str().unwrap_or("");
    match (api, kind) {
        ("v1", "Namespace") => round_trip_as::<Namespace>(doc),
        ("v1", "ServiceAccount") => round_trip_as::<ServiceAccount>(doc),
        ("v1", "Service") => round_trip_as::<Service>(doc),
        ("v1", "ConfigMap") => round_trip_as::<ConfigMap>(doc),
        ("v1", "Secret") => round_trip_as::<Secret>(doc),
        ("apps/v1", "Deployment") => round_trip_as::<Deployment>(doc),
        ("apps/v1", "DaemonSet") => round_trip_as::<DaemonSet>(doc),
        ("policy/v1", "PodDisruptionBudget") => round_trip_as::<PodDisruptionBudget>(doc),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip_as::<ClusterRole>(doc),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            round_trip_as::<ClusterRoleBinding>(doc)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => round_trip_as::<Role>(doc),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip_as::<RoleBinding>(doc),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration") => {
            round_trip_as::<ValidatingWebhookConfiguration>(doc)
        }
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration") => {
            round_trip_as::<MutatingWebhookConfiguration>(doc)
        }
        ("batch/v1", "CronJob") => round_trip_as::<CronJob>(doc),
        ("cert-manager.io/v1", "Issuer") => round_trip_as::<cert_manager::Issuer>(doc),
        ("cert-manager.io/v1", "Certificate") => round_trip_as::<cert_manager::Certificate>(doc),
        _ => Err(format!(
            "no typed model for {api} {kind}: add one to this test"
        )),
    }
}

#[test]
fn every_manifest_round_trips_through_its_typed_object() {
    let objects = manifest_objects();
    assert!(
        objects.len() >= 10,
        "only {} manifests found",
        objects.len()
    );
    let mut failures = Vec::new();
    for (path, doc) in &objects {
        if let Err(e) = round_trip(doc) {
            failures.push(format!(
                "{}: {} {}:\n  {e}",
                path.display(),
                doc["kind"],
                doc["metadata"]["name"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_round_trip_catches_a_misspelled_field() {
    // The check above is only worth something if a typo fails it.
    let doc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                     "spec": {"ports": [{"port": 443, "targetPortt": "webhook"}]}});
    let e = round_trip(&doc).unwrap_err();
    assert!(e.contains("targetPortt"), "{e}");
    let doc = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "x"},
                     "spec": {"secretName": "s", "dnsName": ["a"], "issuerRef": {"name": "i"}}});
    let e = round_trip(&doc).unwrap_err();
    assert!(e.contains("dnsName"), "{e}");
}

/// Kubernetes reads manifests as YAML 1.1, where plain `on`, `no`, `y` are booleans and `0440`
/// is octal; serde (YAML 1.2) reads them differently, so the round trip cannot see it.
#[test]
fn no_plain_scalar_means_something_else_in_yaml_1_1() {
    use saphyr_parser::{Event, Parser, ScalarStyle};
    let yaml11_bools = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    let mut bad = Vec::new();
    for (path, text) in yaml_files(&manifests_dir()) {
        for event in Parser::new_from_str(&text) {
            let (event, span) = event.expect("YAML parses");
            if let Event::Scalar(value, ScalarStyle::Plain, _, _) = event {
                let octal = value.len() > 1
                    && value.starts_with('0')
                    && value.bytes().all(|b| b.is_ascii_digit());
                if yaml11_bools.contains(&value.as_ref()) || octal {
                    bad.push(format!("{}:{}: {value}", path.display(), span.start.line()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "quote these or write them as decimals: {bad:?}"
    );
}

#[test]
fn policy_files_parse_and_say_what_their_overlay_promises() {
    let mut seen = BTreeMap::new();
    for (path, text) in yaml_files(&manifests_dir()) {
        if !is_policy_file(&path) {
            continue;
        }
        let policy =
            Policy::from_yaml(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        seen.insert(path.display().to_string(), policy.mode);
    }
    assert_eq!(
        seen.get("base/policy.yaml"),
        Some(&Mode::DryRun),
        "{seen:?}"
    );
    assert_eq!(
        seen.get("components/enforce/policy.yaml"),
        Some(&Mode::Enforce),
        "{seen:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Webhook configurations (point 2)

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ca<'a> {
    /// caBundle holds exactly these PEM bytes.
    Bundle(&'a [u8]),
    /// No caBundle; cert-manager's annotation names the Certificate.
    Injected(&'a str),
    /// Neither (the base manifest, before a component fills it).
    Unset,
}

/// The resources a webhook must route (group, resource).
const ROUTED: [(&str, &str); 13] = [
    ("", "pods"),
    ("", "configmaps"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes"),
    (
        "controlplane.cluster.x-k8s.io",
        "kubeadmcontrolplanetemplates",
    ),
    ("bootstrap.cluster.x-k8s.io", "kubeadmconfigs"),
    ("bootstrap.cluster.x-k8s.io", "kubeadmconfigtemplates"),
    ("kamaji.clastix.io", "tenantcontrolplanes"),
];

/// Issue 4 point 2, checked on the JSON of a Validating- or MutatingWebhookConfiguration.
fn assert_webhook_configuration(cfg: &Value, failure_policy: &str, ca: Ca, namespace: &str) {
    let kind = cfg["kind"].as_str().unwrap_or_default();
    let mutating = kind == "MutatingWebhookConfiguration";
    assert!(
        mutating || kind == "ValidatingWebhookConfiguration",
        "{kind}"
    );
    let webhooks = cfg["webhooks"].as_array().expect("webhooks");
    assert!(!webhooks.is_empty());
    let annotation = &cfg["metadata"]["annotations"]["cert-manager.io/inject-ca-from"];
    for w in webhooks {
        let name = w["name"].as_str().unwrap_or_default();
        let at = format!("{kind} webhook {name}");
        assert!(
            name.split('.').count() >= 3,
            "{at}: webhook names must be fully qualified"
        );
        assert_eq!(w["sideEffects"], "None", "{at}");
        assert_eq!(w["admissionReviewVersions"], json!(["v1"]), "{at}");
        let timeout = w["timeoutSeconds"].as_i64().expect("timeoutSeconds set");
        assert!((1..=5).contains(&timeout), "{at}: timeoutSeconds {timeout}");
        assert_eq!(w["failurePolicy"], failure_policy, "{at}");
        let service = &w["clientConfig"]["service"];
        assert_eq!(service["namespace"], namespace, "{at}");
        assert_eq!(
            service["path"],
            if mutating { "/mutate" } else { "/validate" },
            "{at}"
        );
        assert!(
            w["clientConfig"]["url"].is_null(),
            "{at}: must call the Service"
        );
        if mutating {
            assert_eq!(w["reinvocationPolicy"], "Never", "{at}");
        }
        match ca {
            Ca::Bundle(pem) => {
                let b64: String = w["clientConfig"]["caBundle"]
                    .as_str()
                    .expect("caBundle")
                    .split_whitespace()
                    .collect();
                use base64::Engine as _;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                assert_eq!(decoded, pem, "{at}: caBundle is not the CA file");
            }
            Ca::Injected(from) => {
                assert!(w["clientConfig"]["caBundle"].is_null(), "{at}");
                assert_eq!(annotation, from, "{at}");
            }
            Ca::Unset => {
                assert!(w["clientConfig"]["caBundle"].is_null(), "{at}");
                assert!(annotation.is_null(), "{at}");
            }
        }
        // Own namespace excluded, everything else (kube-system above all) included.
        let exprs = w["namespaceSelector"]["matchExpressions"]
            .as_array()
            .expect("namespaceSelector");
        assert!(
            exprs
                .iter()
                .any(|e| e["key"] == "kubernetes.io/metadata.name"
                    && e["operator"] == "NotIn"
                    && e["values"] == json!([namespace])),
            "{at}: own namespace not excluded: {exprs:?}"
        );
        assert!(w["namespaceSelector"]["matchLabels"].is_null(), "{at}");
        assert!(
            w["objectSelector"].is_null(),
            "{at}: an objectSelector would hide mirror pods"
        );
        assert_rules(&w["rules"], &at);
        let conditions = w["matchConditions"].as_array().expect("matchConditions");
        assert!((1..=64).contains(&conditions.len()), "{at}");
        let names: std::collections::BTreeSet<&str> = conditions
            .iter()
            .map(|c| c["name"].as_str().expect("condition name"))
            .collect();
        assert_eq!(
            names.len(),
            conditions.len(),
            "{at}: duplicate condition names"
        );
        let exprs: Vec<&str> = conditions
            .iter()
            .map(|c| c["expression"].as_str().unwrap())
            .collect();
        assert_cel_routes_the_right_objects(&exprs, &at);
    }
}

fn assert_rules(rules: &Value, at: &str) {
    let rules = rules.as_array().expect("rules");
    for r in rules {
        let ops: Vec<&str> = r["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert_eq!(ops, ["CREATE", "UPDATE"], "{at}: operations");
        for res in r["resources"].as_array().unwrap() {
            let res = res.as_str().unwrap();
            assert!(
                !res.contains('/') && res != "*",
                "{at}: {res}: no subresources or wildcards"
            );
        }
        assert!(
            !r["apiGroups"].as_array().unwrap().iter().any(|g| g == "*"),
            "{at}"
        );
    }
    for (group, resource) in ROUTED {
        let covered = rules.iter().any(|r| {
            r["apiGroups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == group)
                && r["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == resource)
                && r["apiVersions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v == "v1" || (v == "*" && group.contains('.')))
        });
        assert!(covered, "{at}: {group}/{resource} not routed");
    }
    let total: usize = rules
        .iter()
        .map(|r| r["resources"].as_array().unwrap().len())
        .sum();
    assert_eq!(total, ROUTED.len(), "{at}: routes more than it should");
}

// ---------------------------------------------------------------------------------------------
// CEL: the match conditions evaluated for real

/// What the API server gives a match condition: `object` and `request` (the fields we use).
fn cel_eval(
    exprs: &[&str],
    group: &str,
    resource: &str,
    namespace: &str,
    object: &Value,
) -> Result<bool, String> {
    let request = json!({
        "kind": {"group": group, "version": "v1", "kind": object["kind"]},
        "resource": {"group": group, "version": "v1", "resource": resource},
        "namespace": namespace,
        "operation": "CREATE",
        "name": object["metadata"]["name"].as_str().unwrap_or(""),
    });
    let mut all = true;
    for expr in exprs {
        let program = cel::Program::compile(expr).map_err(|e| format!("does not compile: {e}"))?;
        let mut ctx = cel::Context::default();
        ctx.add_variable("object", object.clone())
            .map_err(|e| e.to_string())?;
        ctx.add_variable("request", request.clone())
            .map_err(|e| e.to_string())?;
        match program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => all &= b,
            Ok(other) => return Err(format!("not a bool: {other:?}")),
            Err(e) => return Err(format!("evaluation error: {e:?}")),
        }
    }
    Ok(all)
}

/// The (group, resource) an object of `kind` arrives as.
fn resource_of(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "Pod" => ("", "pods"),
        "ConfigMap" => ("", "configmaps"),
        "Deployment" => ("apps", "deployments"),
        "StatefulSet" => ("apps", "statefulsets"),
        "DaemonSet" => ("apps", "daemonsets"),
        "ReplicaSet" => ("apps", "replicasets"),
        "Job" => ("batch", "jobs"),
        "CronJob" => ("batch", "cronjobs"),
        "KubeadmControlPlane" => ("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes"),
        "KubeadmControlPlaneTemplate" => (
            "controlplane.cluster.x-k8s.io",
            "kubeadmcontrolplanetemplates",
        ),
        "KubeadmConfig" => ("bootstrap.cluster.x-k8s.io", "kubeadmconfigs"),
        "KubeadmConfigTemplate" => ("bootstrap.cluster.x-k8s.io", "kubeadmconfigtemplates"),
        "TenantControlPlane" => ("kamaji.clastix.io", "tenantcontrolplanes"),
        _ => return None,
    })
}

fn eval_object(exprs: &[&str], obj: &Value) -> Result<bool, String> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let (group, resource) = resource_of(kind).ok_or_else(|| format!("kind {kind} not routed"))?;
    let ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or("kube-system");
    cel_eval(exprs, group, resource, ns, obj)
}

fn container(command: Option<&[&str]>, args: Option<&[&str]>, image: &str) -> Value {
    let mut c = json!({"name": "main", "image": image});
    if let Some(cmd) = command {
        c["command"] = json!(cmd);
    }
    if let Some(a) = args {
        c["args"] = json!(a);
    }
    c
}

fn pod(ns: &str, labels: Value, containers: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "namespace": ns, "labels": labels},
           "spec": {"containers": containers}})
}

fn workload(kind: &str, ns: &str, template_labels: Value, containers: Vec<Value>) -> Value {
    let template =
        json!({"metadata": {"labels": template_labels}, "spec": {"containers": containers}});
    let spec = if kind == "CronJob" {
        json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}})
    } else {
        json!({"selector": {"matchLabels": {"a": "b"}}, "template": template})
    };
    let api = match kind {
        "Job" | "CronJob" => "batch/v1",
        _ => "apps/v1",
    };
    json!({"apiVersion": api, "kind": kind, "metadata": {"name": "w", "namespace": ns}, "spec": spec})
}

fn configmap(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
           "data": {"kubelet": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"}})
}

/// Objects the webhook must see, and objects it must not (to keep the API server fast).
fn routing_cases() -> Vec<(&'static str, Value, bool)> {
    let apiserver = container(
        Some(&["kube-apiserver", "--secure-port=6443"]),
        None,
        "registry.k8s.io/kube-apiserver:v1.34.2",
    );
    let none = json!({});
    vec![
        (
            "kubeadm apiserver pod",
            pod(
                "kube-system",
                json!({"component": "kube-apiserver", "tier": "control-plane"}),
                vec![apiserver.clone()],
            ),
            true,
        ),
        (
            "apiserver by command path only",
            pod(
                "default",
                none.clone(),
                vec![container(
                    Some(&["/usr/local/bin/kube-apiserver"]),
                    None,
                    "example/custom:1",
                )],
            ),
            true,
        ),
        (
            "controller-manager by args only",
            pod(
                "default",
                none.clone(),
                vec![container(
                    None,
                    Some(&["kube-controller-manager", "--v=2"]),
                    "example/custom:1",
                )],
            ),
            true,
        ),
        (
            "apiserver by image only",
            pod(
                "default",
                none.clone(),
                vec![container(
                    None,
                    Some(&["--secure-port=6443"]),
                    "registry.k8s.io/kube-apiserver-amd64:v1.10.0",
                )],
            ),
            true,
        ),
        (
            "hyperkube subcommand",
            pod(
                "default",
                none.clone(),
                vec![container(
                    Some(&["/hyperkube", "apiserver"]),
                    None,
                    "example/custom:1",
                )],
            ),
            true,
        ),
        (
            "sh -c line",
            pod(
                "default",
                none.clone(),
                vec![container(
                    Some(&[
                        "/bin/sh",
                        "-c",
                        "exec /usr/local/bin/kube-apiserver --v=2 >/var/log/a.log 2>&1",
                    ]),
                    None,
                    "example/custom:1",
                )],
            ),
            true,
        ),
        (
            "sh -c after a semicolon",
            pod(
                "default",
                none.clone(),
                vec![container(
                    Some(&["sh", "-c", "sleep 1;kube-controller-manager --v=2"]),
                    None,
                    "busybox",
                )],
            ),
            true,
        ),
        (
            "kubelet in a container",
            pod(
                "default",
                none.clone(),
                vec![container(
                    Some(&["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml"]),
                    None,
                    "example/node:1",
                )],
            ),
            true,
        ),
        (
            "component label only",
            pod(
                "default",
                json!({"component": "kube-controller-manager"}),
                vec![container(Some(&["/wrapper"]), None, "example/w:1")],
            ),
            true,
        ),
        (
            "Typhoon k8s-app label",
            pod(
                "kube-system",
                json!({"k8s-app": "kube-apiserver"}),
                vec![container(Some(&["/wrapper"]), None, "example/w:1")],
            ),
            true,
        ),
        (
            "hosted control plane Deployment",
            workload(
                "Deployment",
                "tenant-a",
                none.clone(),
                vec![apiserver.clone()],
            ),
            true,
        ),
        (
            "StatefulSet by template label",
            workload(
                "StatefulSet",
                "tenant-a",
                json!({"component": "kube-apiserver"}),
                vec![container(None, None, "example/x:1")],
            ),
            true,
        ),
        (
            "DaemonSet running kubelet",
            workload(
                "DaemonSet",
                "nodes",
                none.clone(),
                vec![container(Some(&["kubelet"]), None, "example/k:1")],
            ),
            true,
        ),
        (
            "ReplicaSet",
            workload(
                "ReplicaSet",
                "tenant-a",
                none.clone(),
                vec![apiserver.clone()],
            ),
            true,
        ),
        (
            "Job",
            workload(
                "Job",
                "tenant-a",
                none.clone(),
                vec![container(Some(&["kube-controller-manager"]), None, "x")],
            ),
            true,
        ),
        (
            "CronJob",
            workload("CronJob", "tenant-a", none.clone(), vec![apiserver.clone()]),
            true,
        ),
        (
            "kubelet-config",
            configmap("kube-system", "kubelet-config"),
            true,
        ),
        (
            "legacy kubelet-config-1.29",
            configmap("kube-system", "kubelet-config-1.29"),
            true,
        ),
        (
            "kubeadm-config",
            configmap("kube-system", "kubeadm-config"),
            true,
        ),
        // Must not reach the webhook.
        (
            "nginx pod",
            pod(
                "default",
                json!({"app": "nginx"}),
                vec![container(None, None, "nginx:1.27")],
            ),
            false,
        ),
        (
            "metrics-server (--kubelet-insecure-tls)",
            pod(
                "kube-system",
                json!({"k8s-app": "metrics-server"}),
                vec![container(
                    None,
                    Some(&[
                        "--kubelet-insecure-tls",
                        "--kubelet-preferred-address-types=InternalIP",
                    ]),
                    "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
                )],
            ),
            false,
        ),
        (
            "the webhook itself",
            pod(
                "default",
                json!({"app.kubernetes.io/name": "kubelet-tls-guard"}),
                vec![container(
                    None,
                    Some(&["serve", "--tls-cert=/etc/kubelet-tls-guard/tls/tls.crt"]),
                    "kubelet-tls-guard:0.1.0",
                )],
            ),
            false,
        ),
        (
            "etcd",
            pod(
                "kube-system",
                json!({"component": "etcd", "tier": "control-plane"}),
                vec![container(
                    Some(&["etcd", "--data-dir=/var/lib/etcd"]),
                    None,
                    "registry.k8s.io/etcd:3.5.15-0",
                )],
            ),
            false,
        ),
        (
            "kube-scheduler",
            pod(
                "kube-system",
                json!({"component": "kube-scheduler"}),
                vec![container(
                    Some(&["kube-scheduler"]),
                    None,
                    "registry.k8s.io/kube-scheduler:v1.34.2",
                )],
            ),
            false,
        ),
        (
            "nginx Deployment",
            workload(
                "Deployment",
                "default",
                json!({"app": "web"}),
                vec![container(None, None, "nginx")],
            ),
            false,
        ),
        (
            "nginx CronJob",
            workload(
                "CronJob",
                "default",
                json!({"app": "web"}),
                vec![container(Some(&["curl", "http://x"]), None, "curl")],
            ),
            false,
        ),
        (
            "kubeadm-config outside kube-system",
            configmap("default", "kubeadm-config"),
            false,
        ),
        (
            "another kube-system ConfigMap",
            configmap("kube-system", "coredns"),
            false,
        ),
        (
            "kubelet-configuration is not kubelet-config-1.N",
            configmap("kube-system", "kubelet-configuration"),
            false,
        ),
    ]
}

/// Minimal and partial objects: an evaluation error would count as a webhook failure (a denial
/// under failurePolicy Fail), so every shape must give a plain true or false.
fn partial_objects() -> Vec<Value> {
    let mut out = vec![
        json!({}),
        json!({"metadata": {}}),
        json!({"metadata": {"labels": {}}}),
        json!({"spec": {}}),
    ];
    for (kind, _) in [("Pod", 0), ("ConfigMap", 0)] {
        out.push(json!({"kind": kind, "metadata": {"generateName": "x-"}}));
    }
    out.push(json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}}));
    out.push(
        json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}),
    );
    out.push(json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {}}}));
    out.push(json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"metadata": {}}}}));
    out.push(json!({"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {}}}));
    out.push(json!({"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {}}}}));
    out
}

/// Every JSON object path of `v` (to delete one field at a time).
fn object_paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(k.clone());
                out.push(prefix.clone());
                object_paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(i.to_string());
                object_paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn without(v: &Value, path: &[String]) -> Value {
    let mut v = v.clone();
    let (last, parent) = path.split_last().unwrap();
    let mut cur = &mut v;
    for p in parent {
        cur = match cur {
            Value::Object(m) => m.get_mut(p).unwrap(),
            Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    if let Value::Object(m) = cur {
        m.remove(last);
    }
    v
}

fn assert_cel_routes_the_right_objects(exprs: &[&str], at: &str) {
    // The text covers each case (a cheap, readable check before the evaluation below).
    let text = exprs.join("\n");
    for needle in [
        "'pods'",
        "'configmaps'",
        "'deployments'",
        "'statefulsets'",
        "'daemonsets'",
        "'replicasets'",
        "'jobs'",
        "'cronjobs'",
        "'kube-system'",
        "'kubeadm-config'",
        "'kubelet-config'",
        "'kubelet-config-1.'",
        "kube-apiserver",
        "kube-controller-manager",
        "kubelet",
        "hyperkube",
        "'component'",
        "c.command",
        "c.args",
        "c.image",
        "object.spec.template",
        "object.spec.jobTemplate.spec.template",
        "has(",
    ] {
        assert!(
            text.contains(needle),
            "{at}: matchConditions do not mention {needle}"
        );
    }
    for (what, obj, expected) in routing_cases() {
        assert_eq!(
            eval_object(exprs, &obj),
            Ok(expected),
            "{at}: {what}: {obj}"
        );
    }
    // Null safety, for every routed resource (a condition is evaluated for each of them).
    for (group, resource) in ROUTED {
        for obj in partial_objects() {
            let r = cel_eval(exprs, group, resource, "kube-system", &obj);
            assert!(r.is_ok(), "{at}: {group}/{resource} {obj}: {r:?}");
        }
    }
    // ... and with any one field of a full object missing.
    for (what, obj, _) in routing_cases() {
        let mut paths = Vec::new();
        object_paths(&obj, &mut Vec::new(), &mut paths);
        for path in paths {
            let partial = without(&obj, &path);
            if partial.get("kind").is_none() {
                continue; // the request kind comes from the original below
            }
            let r = eval_object(exprs, &partial);
            assert!(r.is_ok(), "{at}: {what} without {}: {r:?}", path.join("."));
        }
    }
}

#[test]
fn generated_configurations_obey_point_2() {
    let pem = test_ca_pem();
    for (mode, policy) in [
        (WebhookMode::DryRun, "Ignore"),
        (WebhookMode::Enforce, "Fail"),
    ] {
        let opts = WebhookOptions {
            mode,
            ca: CaSource::Bundle(pem.clone()),
            ..WebhookOptions::default()
        };
        let v = serde_json::to_value(webhook_config::validating_configuration(&opts)).unwrap();
        assert_webhook_configuration(&v, policy, Ca::Bundle(&pem), NS);
        let m = serde_json::to_value(webhook_config::mutating_configuration(&opts)).unwrap();
        assert_webhook_configuration(&m, policy, Ca::Bundle(&pem), NS);
    }
}

/// The match conditions may narrow traffic, never hide an object the engine judges: every
/// object the engine finds relevant must pass them. Inputs: the corpus, the shared fixtures
/// and the cases above. A fast stand-in evaluated with the `cel` crate: the judge is the real
/// API server's CEL, in tests/apiserver_routing.rs.
#[test]
fn match_conditions_never_hide_what_the_engine_judges() {
    let expr = match_expression();
    let exprs = [expr.as_str()];
    let policy = Policy::default();
    let mut inputs: Vec<(String, Value)> = routing_cases()
        .into_iter()
        .map(|(what, obj, _)| (what.to_string(), obj))
        .collect();
    let mut dirs = vec![crate_dir().join("tests").join("fixtures")];
    let corpus = crate_dir().join("..").join("shared").join("corpus");
    if corpus.is_dir() {
        dirs.push(corpus);
    } else {
        // The fixtures and built-in cases below still run; the skip records the missing part.
        skip::skip(&format!(
            "corpus {} absent; only fixtures and built-in cases routed",
            corpus.display()
        ));
    }
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        for entry in walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
        {
            let path = entry.path();
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            let docs: Vec<Value> = if path.extension().is_some_and(|x| x == "json") {
                match serde_json::from_str::<Value>(&text) {
                    // An AdmissionReview (or a bare request): its object is what arrives.
                    Ok(v) if v["request"]["object"].is_object() => {
                        vec![v["request"]["object"].clone()]
                    }
                    Ok(v) if v["object"].is_object() => vec![v["object"].clone()],
                    Ok(v) => vec![v],
                    Err(_) => continue,
                }
            } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                serde_yaml_ng::Deserializer::from_str(&text)
                    .filter_map(|d| Value::deserialize(d).ok())
                    .collect()
            } else {
                continue;
            };
            for doc in docs {
                inputs.push((path.display().to_string(), doc));
            }
        }
    }
    let mut judged = 0;
    let mut hidden = Vec::new();
    for (source, obj) in &inputs {
        let kind = obj["kind"].as_str().unwrap_or_default();
        if resource_of(kind).is_none() {
            continue;
        }
        let Ok(evaluation) = engine::evaluate(obj, &policy) else {
            continue;
        };
        match eval_object(&exprs, obj) {
            Err(e) => hidden.push(format!("{source}: {kind}: CEL error {e}")),
            Ok(false) if evaluation.target != Target::NotRelevant => hidden.push(format!(
                "{source}: {kind} {:?} is judged by the engine but filtered out",
                evaluation.target
            )),
            _ => {}
        }
        if evaluation.target != Target::NotRelevant {
            judged += 1;
        }
    }
    assert!(hidden.is_empty(), "{}", hidden.join("\n"));
    println!(
        "{judged} relevant objects of {} inputs all pass the match conditions",
        inputs.len()
    );
}

mod generated {
    use super::*;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "kube-apiserver",
            "/usr/local/bin/kube-apiserver",
            "kube-controller-manager",
            "/usr/bin/kubelet",
            "kubelet",
            "/hyperkube",
            "hyperkube",
            "apiserver",
            "controller-manager",
            "sh",
            "/bin/sh",
            "-c",
            "-ec",
            "exec kube-apiserver --v=2",
            "env A=1 kube-controller-manager",
            "sleep 1; kubelet --v=2",
            "--kubelet-insecure-tls",
            "--v=2",
            "nginx",
            "etcd",
            "kube-scheduler",
            "kubelet-tls-guard",
            "serve",
            "--",
        ])
        .prop_map(String::from)
    }

    fn image() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "registry.k8s.io/kube-apiserver:v1.34.2",
            "k8s.gcr.io/kube-controller-manager-amd64:v1.10.0",
            "gcr.io/google_containers/hyperkube:v1.8.5",
            "nginx:1.27",
            "busybox",
            "kubelet-tls-guard:0.1.0",
            "registry.k8s.io/etcd:3.5.15-0",
            "example.com/kubelet@sha256:abc",
        ])
        .prop_map(String::from)
    }

    fn labels() -> impl Strategy<Value = Value> {
        prop::sample::select(vec![
            json!(null),
            json!({}),
            json!({"component": "kube-apiserver"}),
            json!({"component": "etcd", "tier": "control-plane"}),
            json!({"app": "x"}),
            json!({"component": "kube-controller-manager"}),
        ])
    }

    fn a_container() -> impl Strategy<Value = Value> {
        (
            prop::option::of(prop::collection::vec(word(), 0..4)),
            prop::option::of(prop::collection::vec(word(), 0..4)),
            prop::option::of(image()),
            prop::sample::select(vec!["kube-apiserver", "kube-controller-manager", "main"]),
        )
            .prop_map(|(command, args, image, name)| {
                let mut c = json!({"name": name});
                if let Some(v) = command {
                    c["command"] = json!(v);
                }
                if let Some(v) = args {
                    c["args"] = json!(v);
                }
                if let Some(v) = image {
                    c["image"] = json!(v);
                }
                c
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn random_pods_and_workloads(
            kind in prop::sample::select(vec!["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]),
            labels in labels(),
            containers in prop::collection::vec(a_container(), 0..3),
        ) {
            let expr = match_expression();
            let obj = if kind == "Pod" {
                pod("kube-system", labels, containers)
            } else {
                workload(kind, "tenant", labels, containers)
            };
            let routed = eval_object(&[expr.as_str()], &obj);
            prop_assert!(routed.is_ok(), "{obj}: {routed:?}");
            let evaluation = engine::evaluate(&obj, &Policy::default()).unwrap();
            if evaluation.target != Target::NotRelevant {
                prop_assert_eq!(routed, Ok(true), "engine judges {} but CEL filters it out", obj);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The manifests' own webhook configurations and the CLI output

fn find<'a>(objects: &'a [(PathBuf, Value)], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .map(|(_, v)| v)
        .find(|v| v["kind"] == kind && v["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in manifests/"))
}

/// The header of the two generated manifests.
const GENERATED_HEADER: &str = "# Generated by `kubelet-tls-guard webhook-config` (dry-run; the caBundle comes from a component:\n# tls-from-files or cert-manager). tests/manifests.rs keeps it identical to the code.\n";

/// The manifests hold exactly what the code builds (so fixing one fixes both). Set
/// TLSG_UPDATE_MANIFESTS=1 to rewrite them from the code after changing it.
#[test]
fn manifest_webhooks_are_the_generated_ones() {
    let opts = WebhookOptions::default();
    let validating = serde_json::to_value(webhook_config::validating_configuration(&opts)).unwrap();
    let mutating = serde_json::to_value(webhook_config::mutating_configuration(&opts)).unwrap();
    let files = [
        ("base/validating-webhook.yaml", &validating),
        ("components/remediate/mutating-webhook.yaml", &mutating),
    ];
    if std::env::var_os("TLSG_UPDATE_MANIFESTS").is_some() {
        for (file, value) in files {
            let yaml = serde_yaml_ng::to_string(value).unwrap();
            std::fs::write(
                manifests_dir().join(file),
                format!("{GENERATED_HEADER}{yaml}"),
            )
            .unwrap();
        }
    }
    for (file, value) in files {
        let text = std::fs::read_to_string(manifests_dir().join(file)).unwrap();
        let docs = documents(&text);
        assert_eq!(docs.len(), 1, "{file}");
        assert_eq!(
            &docs[0], value,
            "{file} differs from the code: run TLSG_UPDATE_MANIFESTS=1 cargo test --test manifests"
        );
        assert_webhook_configuration(&docs[0], "Ignore", Ca::Unset, NS);
    }
}

#[test]
fn webhook_config_command_prints_both_configurations_with_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    let pem = test_ca_pem();
    std::fs::write(&ca, &pem).unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(bin())
            .arg("webhook-config")
            .arg("--ca-bundle")
            .arg(&ca)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    let docs = documents(&stdout);
    assert_eq!(
        docs.len(),
        1,
        "without --remediate only the validating configuration"
    );
    round_trip(&docs[0]).unwrap();
    assert_webhook_configuration(&docs[0], "Ignore", Ca::Bundle(&pem), NS);

    let (code, stdout, stderr) = run(&[
        "--mode",
        "enforce",
        "--remediate",
        "--service",
        "guard",
        "--namespace",
        "guard-system",
        "--timeout-seconds",
        "5",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let docs = documents(&stdout);
    let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration"
        ]
    );
    for d in &docs {
        round_trip(d).unwrap();
        assert_webhook_configuration(d, "Fail", Ca::Bundle(&pem), "guard-system");
        assert_eq!(d["webhooks"][0]["clientConfig"]["service"]["name"], "guard");
        assert_eq!(d["webhooks"][0]["timeoutSeconds"], 5);
    }

    // Refusals: a timeout above 5, a key instead of a CA, a missing file.
    let (code, _, stderr) = run(&["--timeout-seconds", "10"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--timeout-seconds 10"), "{stderr}");
    let key = dir.path().join("tls.key");
    std::fs::write(
        &key,
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["webhook-config", "--ca-bundle"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never a key"));
    let out = Command::new(bin())
        .args(["webhook-config", "--ca-bundle", "/nonexistent/ca.crt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ca.crt"));

    // cert-manager: the annotation instead of a caBundle.
    let out = Command::new(bin())
        .args([
            "webhook-config",
            "--inject-ca-from",
            "kubelet-tls-guard/kubelet-tls-guard",
            "--remediate",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    for d in documents(&String::from_utf8_lossy(&out.stdout)) {
        assert_webhook_configuration(
            &d,
            "Ignore",
            Ca::Injected("kubelet-tls-guard/kubelet-tls-guard"),
            NS,
        );
    }
}

/// A real CA certificate (the CLI parses what it is given).
fn test_ca_pem() -> Vec<u8> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test CA");
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem().into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The Deployment (point 3)

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// `--name=value` from an args list.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .find_map(|a| a.strip_prefix(&format!("--{name}=")))
}

/// Checks on the Deployment, PDB and Service as a set (manifests or a rendered overlay).
fn assert_deployment_obeys_point_3(objects: &[Value]) {
    let get =
        |kind: &str| -> Vec<&Value> { objects.iter().filter(|v| v["kind"] == kind).collect() };
    let deployments = get("Deployment");
    assert_eq!(deployments.len(), 1);
    let d: Deployment = serde_json::from_value(deployments[0].clone()).unwrap();
    let spec = d.spec.as_ref().unwrap();
    assert!(spec.replicas.unwrap_or(1) >= 2, "replicas");
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    let selects = |sel: &Value| {
        sel["matchLabels"].as_object().is_some_and(|m| {
            !m.is_empty()
                && m.iter()
                    .all(|(k, v)| pod_labels.get(k).map(String::as_str) == v.as_str())
        })
    };
    assert!(selects(&serde_json::to_value(&spec.selector).unwrap()));

    // A PodDisruptionBudget that keeps at least one pod.
    let pdbs = get("PodDisruptionBudget");
    assert_eq!(pdbs.len(), 1);
    assert!(selects(&pdbs[0]["spec"]["selector"]), "PDB selector");
    let min = &pdbs[0]["spec"]["minAvailable"];
    assert!(
        min.as_i64().is_some_and(|n| n >= 1) || pdbs[0]["spec"]["maxUnavailable"] == 1,
        "PDB"
    );

    let pod = spec.template.spec.as_ref().unwrap();
    let spread = pod
        .topology_spread_constraints
        .as_ref()
        .expect("topologySpreadConstraints");
    assert!(
        spread
            .iter()
            .any(|t| t.topology_key == "kubernetes.io/hostname")
    );
    for t in spread {
        assert!(selects(
            &serde_json::to_value(t.label_selector.as_ref().unwrap()).unwrap()
        ));
    }
    assert!(
        pod.priority_class_name
            .as_deref()
            .is_some_and(|p| !p.is_empty()),
        "priorityClassName"
    );
    assert_eq!(pod.automount_service_account_token, Some(false));
    let sa_name = pod.service_account_name.as_deref().unwrap();
    let sa = get("ServiceAccount");
    assert!(sa.iter().any(|s| s["metadata"]["name"] == sa_name && s["automountServiceAccountToken"] == false));
    for kind in ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"] {
        assert!(get(kind).is_empty(), "no RBAC is needed, found a {kind}");
    }
    let pod_sc = pod.security_context.as_ref().unwrap();

    assert_eq!(pod.containers.len(), 1);
    let c = &pod.containers[0];
    // Hardening: container settings, or the pod's where Kubernetes inherits them.
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(
        sc.run_as_non_root.or(pod_sc.run_as_non_root),
        Some(true),
        "runAsNonRoot"
    );
    assert!(
        sc.run_as_user
            .or(pod_sc.run_as_user)
            .is_some_and(|u| u != 0),
        "a non-root uid"
    );
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_ne!(sc.privileged, Some(true));
    let drop = sc
        .capabilities
        .as_ref()
        .and_then(|c| c.drop.clone())
        .unwrap_or_default();
    assert!(drop.iter().any(|d| d == "ALL"), "capabilities drop ALL");
    assert!(
        sc.capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_none_or(|a| a.is_empty())
    );
    let seccomp = sc
        .seccomp_profile
        .as_ref()
        .or(pod_sc.seccomp_profile.as_ref())
        .expect("seccomp");
    assert_eq!(seccomp.type_, "RuntimeDefault");
    let res = c.resources.as_ref().unwrap();
    for (what, list) in [("requests", &res.requests), ("limits", &res.limits)] {
        let list = list.as_ref().unwrap_or_else(|| panic!("no {what}"));
        assert!(
            list.contains_key("cpu") && list.contains_key("memory"),
            "{what}: {list:?}"
        );
    }

    // Ports: the probes hit the operations port, the Service the webhook port.
    let args = c.args.clone().unwrap();
    assert_eq!(args.first().map(String::as_str), Some("serve"));
    let ports: BTreeMap<String, i32> = c
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.name.clone().unwrap(), p.container_port))
        .collect();
    let webhook_port = i32::from(port_of(flag(&args, "listen").expect("--listen")));
    let ops_port = i32::from(port_of(
        flag(&args, "metrics-listen").expect("--metrics-listen"),
    ));
    assert_eq!(ports.get("webhook"), Some(&webhook_port));
    assert_eq!(ports.get("metrics"), Some(&ops_port));
    assert_eq!((webhook_port, ops_port), (8443, 9090));
    let resolve = |p: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString| match p {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => *n,
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => ports[s],
    };
    for (probe, path) in [
        (&c.liveness_probe, "/healthz"),
        (&c.readiness_probe, "/readyz"),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("httpGet probe");
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(
            resolve(&get.port),
            ops_port,
            "{path} must be on the operations port"
        );
    }
    let services = get("Service");
    assert_eq!(services.len(), 1);
    let svc: Service = serde_json::from_value(services[0].clone()).unwrap();
    let svc_spec = svc.spec.unwrap();
    assert!(selects(&json!({"matchLabels": svc_spec.selector.unwrap()})));
    let https = svc_spec
        .ports
        .unwrap()
        .into_iter()
        .find(|p| p.port == webhook_config::DEFAULT_PORT)
        .expect("port 443");
    assert_eq!(resolve(https.target_port.as_ref().unwrap()), webhook_port);

    // Certificate from the Secret volume, policy from the ConfigMap volume.
    let volumes = pod.volumes.clone().unwrap();
    let mounts = c.volume_mounts.clone().unwrap();
    let mounted_from = |file: &str| -> &k8s_openapi::api::core::v1::Volume {
        let m = mounts
            .iter()
            .find(|m| file.starts_with(&format!("{}/", m.mount_path.trim_end_matches('/'))))
            .unwrap_or_else(|| panic!("{file} is on no volume"));
        assert_eq!(m.read_only, Some(true), "{}", m.name);
        volumes.iter().find(|v| v.name == m.name).unwrap()
    };
    for f in ["tls-cert", "tls-key"] {
        let v = mounted_from(flag(&args, f).unwrap_or_else(|| panic!("--{f}")));
        assert_eq!(
            v.secret.as_ref().and_then(|s| s.secret_name.as_deref()),
            Some(TLS_SECRET)
        );
    }
    let config = flag(&args, "config").expect("--config");
    assert!(config.ends_with("/policy.yaml"));
    let v = mounted_from(config);
    let cm = v
        .config_map
        .as_ref()
        .expect("policy from a ConfigMap")
        .name
        .clone();
    assert!(cm.starts_with(POLICY_CONFIGMAP), "{cm}");

    // The flags are the real CLI's: the Deployment would crash-loop otherwise.
    let argv = std::iter::once("kubelet-tls-guard".to_string()).chain(args.iter().cloned());
    use clap::Parser as _;
    let parsed = kubelet_tls_guard::cli::Cli::try_parse_from(argv);
    assert!(
        matches!(
            parsed,
            Ok(kubelet_tls_guard::cli::Cli {
                command: kubelet_tls_guard::cli::Command::Serve(_)
            })
        ),
        "serve rejects the Deployment's args: {parsed:?}"
    );

    // Every namespaced object in the webhook's namespace; that namespace exists.
    assert!(get("Namespace").iter().any(|n| n["metadata"]["name"] == NS));
    for v in objects {
        let kind = v["kind"].as_str().unwrap();
        if !matches!(
            kind,
            "Namespace" | "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration"
        ) {
            assert_eq!(
                v["metadata"]["namespace"], NS,
                "{kind} {}",
                v["metadata"]["name"]
            );
        }
    }
}

#[test]
fn base_deployment_obeys_point_3() {
    let objects: Vec<Value> = manifest_objects()
        .into_iter()
        .filter(|(p, _)| p.starts_with("base"))
        .map(|(_, v)| v)
        .collect();
    assert_deployment_obeys_point_3(&objects);
}

#[test]
fn cert_manager_certificate_matches_the_service_and_secret() {
    let objects = manifest_objects();
    let cert = find(&objects, "Certificate", "kubelet-tls-guard");
    assert_eq!(cert["spec"]["secretName"], TLS_SECRET);
    let names: Vec<&str> = cert["spec"]["dnsNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"kubelet-tls-guard.kubelet-tls-guard.svc"),
        "{names:?}"
    );
    assert!(
        names.contains(&"kubelet-tls-guard.kubelet-tls-guard.svc.cluster.local"),
        "{names:?}"
    );
    assert_eq!(cert["spec"]["privateKey"]["algorithm"], "ECDSA");
    // Signed by the CA issuer, whose CA is what cainjector injects.
    let issuer = find(
        &objects,
        "Issuer",
        cert["spec"]["issuerRef"]["name"].as_str().unwrap(),
    );
    let ca_cert = find(&objects, "Certificate", "kubelet-tls-guard-ca");
    assert_eq!(
        issuer["spec"]["ca"]["secretName"],
        ca_cert["spec"]["secretName"]
    );
    assert_eq!(ca_cert["spec"]["isCA"], true);
}

// ---------------------------------------------------------------------------------------------
// Rendering the overlays

/// `kubectl kustomize` or `kustomize build`, whichever is on PATH.
fn kustomize() -> Option<Vec<String>> {
    let works = |cmd: &[&str]| {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works(&["kubectl", "version", "--client"]) {
        Some(vec!["kubectl".into(), "kustomize".into()])
    } else if works(&["kustomize", "version"]) {
        Some(vec!["kustomize".into(), "build".into()])
    } else {
        None
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Normalise what kustomize wraps (base64 over several lines) so the typed models read it.
fn unwrap_base64(v: &mut Value) {
    if v["kind"] == "Secret"
        && let Some(data) = v["data"].as_object_mut()
    {
        for val in data.values_mut() {
            *val = json!(val.as_str().unwrap().split_whitespace().collect::<String>());
        }
    }
    if let Some(hooks) = v.get_mut("webhooks").and_then(Value::as_array_mut) {
        for h in hooks {
            if let Some(b) = h["clientConfig"]["caBundle"].as_str() {
                h["clientConfig"]["caBundle"] = json!(b.split_whitespace().collect::<String>());
            }
        }
    }
}

#[test]
fn overlays_render_into_valid_installs() {
    let Some(cmd) = kustomize() else {
        skip::skip(
            "neither kubectl nor kustomize on PATH; overlays not rendered (the manifests' own files were checked)",
        );
        return;
    };
    // Render a copy, with the certificate files the tls-from-files component expects.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&manifests_dir(), tmp.path());
    let tls = tmp.path().join("components/tls-from-files/tls");
    let ca = test_ca_pem();
    std::fs::write(tls.join("ca.crt"), &ca).unwrap();
    std::fs::write(tls.join("tls.crt"), "serving certificate placeholder\n").unwrap();
    std::fs::write(tls.join("tls.key"), "serving key placeholder\n").unwrap();

    for (overlay, failure_policy, policy_mode, mutating, cert_manager) in [
        ("dry-run", "Ignore", Mode::DryRun, false, false),
        ("enforce", "Fail", Mode::Enforce, false, false),
        ("remediate", "Fail", Mode::Enforce, true, false),
        ("cert-manager", "Ignore", Mode::DryRun, false, true),
    ] {
        let out = Command::new(&cmd[0])
            .args(&cmd[1..])
            .arg(tmp.path().join("overlays").join(overlay))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{overlay}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut objects = documents(&String::from_utf8_lossy(&out.stdout));
        for o in &mut objects {
            unwrap_base64(o);
            round_trip(o).unwrap_or_else(|e| {
                panic!("{overlay}: {} {}: {e}", o["kind"], o["metadata"]["name"])
            });
        }
        let of_kind = |k: &str| objects.iter().filter(|o| o["kind"] == k).count();
        assert_eq!(of_kind("ValidatingWebhookConfiguration"), 1, "{overlay}");
        assert_eq!(
            of_kind("MutatingWebhookConfiguration"),
            usize::from(mutating),
            "{overlay}"
        );
        let ca_expect = if cert_manager {
            Ca::Injected("kubelet-tls-guard/kubelet-tls-guard")
        } else {
            Ca::Bundle(&ca)
        };
        for o in objects.iter().filter(|o| {
            o["kind"]
                .as_str()
                .unwrap()
                .ends_with("WebhookConfiguration")
        }) {
            assert_webhook_configuration(o, failure_policy, ca_expect, NS);
        }
        assert_deployment_obeys_point_3(&objects);

        // The Deployment mounts the generated (hash-suffixed) ConfigMap, which holds the policy.
        let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
        let cm_name = deployment["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|v| v["configMap"]["name"].as_str())
            .unwrap();
        let cm = objects
            .iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == cm_name)
            .expect("policy ConfigMap");
        let policy =
            Policy::from_yaml(cm["data"]["policy.yaml"].as_str().unwrap(), overlay).unwrap();
        assert_eq!(policy.mode, policy_mode, "{overlay}");

        // The Secret the Deployment mounts is made here, or by cert-manager.
        let secret = objects
            .iter()
            .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == TLS_SECRET);
        if cert_manager {
            assert!(secret.is_none(), "{overlay}: cert-manager makes the Secret");
            assert!(
                objects
                    .iter()
                    .any(|o| o["kind"] == "Certificate" && o["spec"]["secretName"] == TLS_SECRET)
            );
        } else {
            let secret = secret.expect("TLS Secret");
            assert_eq!(secret["type"], "kubernetes.io/tls");
            for key in ["ca.crt", "tls.crt", "tls.key"] {
                assert!(
                    secret["data"][key].is_string(),
                    "{overlay}: Secret lacks {key}"
                );
            }
        }
    }
}
