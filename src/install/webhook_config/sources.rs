//! Admission routing for the declared sources that are API objects (DESIGN.md section 11):
//! Cluster API's kubeadm control plane and bootstrap configs, and Kamaji's TenantControlPlane.
//! Every such object declares control-plane or kubelet settings, so the whole kind is routed;
//! the engine decides what applies.

use k8s_openapi::api::admissionregistration::v1::RuleWithOperations;

/// API group → resources of the declared sources the webhook judges.
pub const DECLARED_RESOURCES: [(&str, &[&str]); 3] = [
    (
        "controlplane.cluster.x-k8s.io",
        &["kubeadmcontrolplanes", "kubeadmcontrolplanetemplates"],
    ),
    (
        "bootstrap.cluster.x-k8s.io",
        &["kubeadmconfigs", "kubeadmconfigtemplates"],
    ),
    ("kamaji.clastix.io", &["tenantcontrolplanes"]),
];

/// CREATE and UPDATE of every version of those resources (CRDs serve several: v1beta1 maps
/// and v1beta2 lists of Cluster API are both judged).
pub fn rules() -> Vec<RuleWithOperations> {
    DECLARED_RESOURCES
        .iter()
        .map(|(group, resources)| RuleWithOperations {
            api_groups: Some(vec![group.to_string()]),
            api_versions: Some(vec!["*".to_string()]),
            operations: Some(vec!["CREATE".to_string(), "UPDATE".to_string()]),
            resources: Some(resources.iter().map(|r| r.to_string()).collect()),
            scope: Some("Namespaced".to_string()),
        })
        .collect()
}

/// The CEL case that lets them through the match condition.
pub fn match_case() -> String {
    let cases: Vec<String> = DECLARED_RESOURCES
        .iter()
        .map(|(group, resources)| {
            let list: Vec<String> = resources.iter().map(|r| format!("'{r}'")).collect();
            format!(
                "(request.resource.group == '{group}' && request.resource.resource in [{}])",
                list.join(", ")
            )
        })
        .collect();
    format!(
        "// Cluster API and Kamaji objects that declare a control plane or its kubelets.\n{}",
        cases.join(" ||\n")
    )
}
