//! What `scan` reads from the API: Nodes (where each kubelet listens), control-plane Pods (paged,
//! judged page by page so memory stays flat), kubeadm's ConfigMaps, the cluster CA and the
//! kubelet-serving CSRs. Every call is bounded by the timeout; a refusal is an error result.

use super::csr::NodeCsrs;
use super::kubelet::Endpoint;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, ListParams, ObjectList};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

/// Items per list page.
pub const PAGE: u32 = 100;

/// Node address types, as kube-apiserver's `--kubelet-preferred-address-types` names them.
pub const ADDRESS_TYPES: [&str; 5] = [
    "Hostname",
    "InternalDNS",
    "InternalIP",
    "ExternalDNS",
    "ExternalIP",
];

/// The order the scan dials by default: kubeadm's
/// `--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname`, DNS names after.
pub const DEFAULT_PREFERRED: &str = "InternalIP,ExternalIP,Hostname,InternalDNS,ExternalDNS";

/// Node address types in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressTypes(pub Vec<String>);

/// Parse an address-type list as kube-apiserver takes it: known types, comma-separated, no repeats.
pub fn parse_address_types(s: &str) -> Result<AddressTypes, String> {
    let mut out: Vec<String> = Vec::new();
    for t in s.split(',').map(str::trim) {
        if !ADDRESS_TYPES.contains(&t) {
            return Err(format!(
                "unknown address type {t:?} (expected a comma-separated list of {})",
                ADDRESS_TYPES.join(", ")
            ));
        }
        if out.iter().any(|o| o == t) {
            return Err(format!("address type {t:?} is listed twice"));
        }
        out.push(t.to_string());
    }
    Ok(AddressTypes(out))
}

/// A failed API read in words: what was asked, and the RBAC that would allow it.
pub fn describe(what: &str, rbac: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            format!(
                "{what}: forbidden ({}); the scan needs RBAC {rbac}",
                s.message
            )
        }
        kube::Error::Api(s) if s.code == 401 => {
            format!("{what}: unauthorized: the kubeconfig's credentials were refused")
        }
        other => format!("{what}: {other}"),
    }
}

async fn bounded<T>(
    timeout: Duration,
    what: &str,
    rbac: &str,
    f: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, f).await {
        Err(_) => Err(format!(
            "{what}: no answer from the API server within {}s",
            timeout.as_secs_f64()
        )),
        Ok(r) => r.map_err(|e| describe(what, rbac, &e)),
    }
}

/// List every object, page by page, handing each page to `each`.
pub async fn paged<K>(
    api: &Api<K>,
    timeout: Duration,
    what: &str,
    rbac: &str,
    mut each: impl FnMut(Vec<K>),
) -> Result<usize, String>
where
    K: Clone + DeserializeOwned + Debug,
{
    let mut token: Option<String> = None;
    let mut n = 0;
    loop {
        let mut lp = ListParams::default().limit(PAGE);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page: ObjectList<K> = bounded(timeout, what, rbac, api.list(&lp)).await?;
        n += page.items.len();
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        each(page.items);
        if token.is_none() {
            return Ok(n);
        }
    }
}

/// Where the API server reaches this node's kubelet: the first address of the `preferred` types,
/// as kube-apiserver picks it.
pub fn endpoint(node: &Node, preferred: &[String]) -> Endpoint {
    let name = node.metadata.name.clone().unwrap_or_default();
    let status = node.status.as_ref();
    let addresses = status
        .and_then(|s| s.addresses.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let chosen = preferred.iter().find_map(|t| {
        addresses
            .iter()
            .find(|a| a.type_ == *t && !a.address.is_empty())
            .map(|a| (a.type_.clone(), a.address.clone()))
    });
    let port = status
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map(|k| k.port)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(10250);
    Endpoint {
        node: name,
        host: chosen.as_ref().map(|c| c.1.clone()),
        address_type: chosen.map(|c| c.0).unwrap_or_default(),
        port,
    }
}

pub async fn nodes(
    client: &kube::Client,
    timeout: Duration,
    preferred: &[String],
) -> Result<Vec<Endpoint>, String> {
    let api: Api<Node> = Api::all(client.clone());
    let mut out = Vec::new();
    paged(&api, timeout, "list nodes", "nodes list", |page| {
        out.extend(page.iter().map(|n| endpoint(n, preferred)));
    })
    .await?;
    out.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(out)
}

/// Pods in kube-system (or every namespace), one page at a time, as JSON for the engine.
pub async fn pods(
    client: &kube::Client,
    all_namespaces: bool,
    timeout: Duration,
    mut each: impl FnMut(serde_json::Value),
) -> Result<usize, String> {
    let (api, what): (Api<Pod>, _) = if all_namespaces {
        (Api::all(client.clone()), "list pods in all namespaces")
    } else {
        (
            Api::namespaced(client.clone(), "kube-system"),
            "list pods in kube-system",
        )
    };
    paged(&api, timeout, what, "pods list", |page| {
        for pod in page {
            if let Ok(mut v) = serde_json::to_value(pod) {
                // List items carry no kind; the engine recognises objects by it.
                if let Some(m) = v.as_object_mut() {
                    m.insert("kind".into(), "Pod".into());
                    m.insert("apiVersion".into(), "v1".into());
                }
                each(v);
            }
        }
    })
    .await
}

/// A kube-system ConfigMap, `None` when it does not exist.
pub async fn config_map(
    client: &kube::Client,
    name: &str,
    timeout: Duration,
) -> Result<Option<ConfigMap>, String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    bounded(
        timeout,
        &format!("get configmap kube-system/{name}"),
        "configmaps get in kube-system",
        api.get_opt(name),
    )
    .await
}

/// kubelet-serving CSRs grouped by node, page by page (the request PEMs are not kept).
pub async fn csrs(
    client: &kube::Client,
    timeout: Duration,
) -> Result<BTreeMap<String, NodeCsrs>, String> {
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    let mut out: BTreeMap<String, NodeCsrs> = BTreeMap::new();
    paged(
        &api,
        timeout,
        "list certificatesigningrequests",
        "certificatesigningrequests list",
        |page| {
            for (node, c) in super::csr::group(&page) {
                let e = out.entry(node).or_default();
                e.pending.extend(c.pending);
                e.denied.extend(c.denied);
            }
        },
    )
    .await?;
    Ok(out)
}
