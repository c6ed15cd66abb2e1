//! Which requests the API server sends us: the resource rules and the CEL `matchConditions`.
//! They only narrow the traffic (fewer calls, less latency for everything else); the engine still
//! decides what is relevant.

use super::MATCH_CONDITION_NAME;
use k8s_openapi::api::admissionregistration::v1::{MatchCondition, RuleWithOperations};

/// Workload kinds whose pod template may run a control-plane component (hosted control planes).
pub const WORKLOAD_RESOURCES: [(&str, &str); 6] = [
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

/// Components whose settings the rules judge.
pub const COMPONENTS: [&str; 3] = ["kube-apiserver", "kube-controller-manager", "kubelet"];

/// The kube-system ConfigMaps kubeadm keeps the cluster-wide settings in.
pub const KUBEADM_CONFIGMAPS: [&str; 2] = ["kubeadm-config", "kubelet-config"];
/// Legacy per-version kubelet ConfigMaps: `kubelet-config-1.N`.
pub const LEGACY_KUBELET_CONFIGMAP_PREFIX: &str = "kubelet-config-1.";

/// A command or args element that runs a component: the executable's basename as a word,
/// also inside a `/bin/sh -c` line, or `hyperkube` (whose subcommand names the component).
/// Word ends, not substrings: `--kubelet-insecure-tls` or `kubelet-tls-guard` must not match.
pub const COMMAND_PATTERN: &str =
    r"(^|[\s/;&|(])(kube-apiserver|kube-controller-manager|kubelet|hyperkube)([\s;&|)]|$)";
/// An image of a component: `registry.k8s.io/kube-apiserver:v1.34.2`, `…/kube-apiserver-amd64:v1.10`,
/// `…/hyperkube:v1.8.5`.
pub const IMAGE_PATTERN: &str =
    r"(^|/)(kube-apiserver|kube-controller-manager|kubelet|hyperkube)(-[A-Za-z0-9_]+)?([:@]|$)";

/// CREATE and UPDATE of pods, the workload kinds and configmaps. Subresources are not listed
/// (status updates and exec never reach us).
pub fn rules() -> Vec<RuleWithOperations> {
    let ops = || Some(vec!["CREATE".to_string(), "UPDATE".to_string()]);
    let rule = |group: &str, resources: Vec<&str>| RuleWithOperations {
        api_groups: Some(vec![group.to_string()]),
        api_versions: Some(vec!["v1".to_string()]),
        operations: ops(),
        resources: Some(resources.into_iter().map(String::from).collect()),
        scope: Some("Namespaced".to_string()),
    };
    let of_group = |g: &str| -> Vec<&str> {
        WORKLOAD_RESOURCES
            .iter()
            .filter(|(group, _)| *group == g)
            .map(|(_, r)| *r)
            .collect()
    };
    let mut rules = vec![
        rule("", vec!["pods", "configmaps"]),
        rule("apps", of_group("apps")),
        rule("batch", of_group("batch")),
    ];
    rules.extend(super::sources::rules());
    rules
}

fn cel_string_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `meta` (an ObjectMeta that exists) carries the kubeadm `component` label (or Typhoon's
/// `k8s-app`) of a component.
fn cel_labels(meta: &str, indent: &str) -> String {
    let components = cel_string_list(&COMPONENTS);
    [
        // `!= null`: a null map would make `in` an evaluation error (= a webhook failure).
        format!("(has({meta}.labels) && {meta}.labels != null && ("),
        format!("{indent}  ('component' in {meta}.labels && {meta}.labels['component'] in {components}) ||"),
        format!("{indent}  ('k8s-app' in {meta}.labels && {meta}.labels['k8s-app'] in {components})))"),
    ]
    .join("\n")
}

/// `spec` (a PodSpec that exists) has a container running a component by command, args or image.
fn cel_pod_spec(spec: &str, indent: &str) -> String {
    [
        format!("(has({spec}.containers) && {spec}.containers.exists(c,"),
        format!(
            "{indent}  (has(c.command) && c.command.exists(t, t.matches(r'{COMMAND_PATTERN}'))) ||"
        ),
        format!("{indent}  (has(c.args) && c.args.exists(t, t.matches(r'{COMMAND_PATTERN}'))) ||"),
        format!("{indent}  (has(c.image) && c.image.matches(r'{IMAGE_PATTERN}'))))"),
    ]
    .join("\n")
}

/// A pod template (`tmpl` exists): its labels or its spec.
fn cel_template(tmpl: &str) -> String {
    [
        "(".to_string(),
        format!(
            "    (has({tmpl}.metadata) && {}) ||",
            cel_labels(&format!("{tmpl}.metadata"), "    ")
        ),
        format!(
            "    (has({tmpl}.spec) && {}))",
            cel_pod_spec(&format!("{tmpl}.spec"), "    ")
        ),
    ]
    .join("\n")
}

/// The CEL expression: one OR over the resource kinds (all match conditions must hold, and each
/// is evaluated for every resource in `rules`), null-safe at every step (`has()` before each
/// optional field) because an evaluation error counts as a webhook failure, which
/// `failurePolicy: Fail` turns into a rejected request. Multi-line with comments, for the
/// operator reading it with `kubectl get -o yaml`.
pub fn match_expression() -> String {
    let templated: Vec<&str> = WORKLOAD_RESOURCES
        .iter()
        .filter(|(_, r)| *r != "cronjobs")
        .map(|(_, r)| *r)
        .collect();
    let configmap = [
        "// kubeadm's ConfigMaps: nodes copy the kubelet settings, control planes the flags.".to_string(),
        "(request.resource.group == '' && request.resource.resource == 'configmaps' &&".to_string(),
        "  request.namespace == 'kube-system' && has(object.metadata) && has(object.metadata.name) &&".to_string(),
        format!(
            "  (object.metadata.name in {} || object.metadata.name.startsWith('{LEGACY_KUBELET_CONFIGMAP_PREFIX}')))",
            cel_string_list(&KUBEADM_CONFIGMAPS)
        ),
    ];
    let pod = [
        "// Pods (mirror pods of static pods too) labelled as, or running, a component."
            .to_string(),
        "(request.resource.group == '' && request.resource.resource == 'pods' && (".to_string(),
        format!(
            "  (has(object.metadata) && {}) ||",
            cel_labels("object.metadata", "  ")
        ),
        format!(
            "  (has(object.spec) && {})))",
            cel_pod_spec("object.spec", "  ")
        ),
    ];
    let workload = [
        "// Workloads whose pod template runs a component (hosted control planes).".to_string(),
        format!(
            "(request.resource.group in ['apps', 'batch'] && request.resource.resource in {} &&",
            cel_string_list(&templated)
        ),
        format!(
            "  has(object.spec) && has(object.spec.template) && {})",
            cel_template("object.spec.template")
        ),
    ];
    let cronjob = [
        "// CronJobs: the pod template is one level deeper.".to_string(),
        "(request.resource.group == 'batch' && request.resource.resource == 'cronjobs' &&".to_string(),
        "  has(object.spec) && has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) &&".to_string(),
        format!(
            "  has(object.spec.jobTemplate.spec.template) && {})",
            cel_template("object.spec.jobTemplate.spec.template")
        ),
    ];
    [
        configmap.join("\n"),
        pod.join("\n"),
        workload.join("\n"),
        cronjob.join("\n"),
        super::sources::match_case(),
    ]
    .join(" ||\n")
}

pub fn match_conditions() -> Vec<MatchCondition> {
    vec![MatchCondition {
        name: MATCH_CONDITION_NAME.into(),
        expression: match_expression(),
    }]
}
