//! The checks of DESIGN.md section 10, each a small pure function. A failure names its check; the
//! check's `reason()` is what the `Denied` condition, the Event and the metric label carry.

use super::csr::Request;
pub use super::reason::{Check, Failure};
use k8s_openapi::api::core::v1::NodeAddress;
use std::collections::HashSet;
use std::net::IpAddr;

pub const NODE_USER_PREFIX: &str = "system:node:";
pub const NODES_GROUP: &str = "system:nodes";
pub const USAGE_SERVER_AUTH: &str = "server auth";
/// The only usages a kubelet serving certificate needs (`server auth` is required).
pub const ALLOWED_USAGES: [&str; 3] = ["digital signature", "key encipherment", USAGE_SERVER_AUTH];

type Res<T = ()> = Result<T, Failure>;

/// `spec.username` must be `system:node:NAME` with NAME a valid Node name; returns NAME.
pub fn node_name(username: Option<&str>) -> Res<&str> {
    let user = username.unwrap_or("");
    match user.strip_prefix(NODE_USER_PREFIX) {
        Some(name) if is_dns_subdomain(name) => Ok(name),
        _ => Err(Failure::new(
            Check::UsernameNotNode,
            format!("requested by {user:?}, not by a node (system:node:NAME)"),
        )),
    }
}

/// `spec.groups` must hold `system:nodes`.
pub fn groups(groups: Option<&[String]>) -> Res {
    if groups.unwrap_or_default().iter().any(|g| g == NODES_GROUP) {
        Ok(())
    } else {
        Err(Failure::new(
            Check::GroupMissing,
            format!("the requester is not in group {NODES_GROUP}"),
        ))
    }
}

/// `spec.expirationSeconds` within `max` seconds, when a cap is set. Absent means the signer's
/// own default duration (`--cluster-signing-duration`), which the cap does not override.
pub fn expiration(seconds: Option<i32>, max: Option<u64>) -> Res {
    match (seconds, max) {
        (Some(s), Some(max)) if s < 0 || s as u64 > max => Err(Failure::new(
            Check::ExpirationTooLong,
            format!("expirationSeconds {s} exceeds the cap of {max}"),
        )),
        _ => Ok(()),
    }
}

/// Usages include `server auth` and nothing outside [`ALLOWED_USAGES`].
pub fn usages(usages: Option<&[String]>) -> Res {
    let usages = usages.unwrap_or_default();
    if let Some(bad) = usages
        .iter()
        .find(|u| !ALLOWED_USAGES.contains(&u.as_str()))
    {
        return Err(Failure::new(
            Check::UsagesInvalid,
            format!("usage {bad:?} is not one a serving certificate needs"),
        ));
    }
    if !usages.iter().any(|u| u == USAGE_SERVER_AUTH) {
        return Err(Failure::new(
            Check::UsagesInvalid,
            format!("usages lack {USAGE_SERVER_AUTH:?}"),
        ));
    }
    Ok(())
}

/// Bounded work per CSR: a request larger than `max` bytes is not even parsed.
pub fn request_size(len: usize, max: usize) -> Res {
    if len > max {
        Err(Failure::new(
            Check::RequestTooLarge,
            format!("the request is {len} bytes; at most {max} are accepted"),
        ))
    } else {
        Ok(())
    }
}

/// Exactly one CN, equal to `system:node:NAME`.
pub fn common_name(req: &Request, node: &str) -> Res {
    let want = format!("{NODE_USER_PREFIX}{node}");
    match req.common_names.as_slice() {
        [cn] if *cn == want => Ok(()),
        cns => Err(Failure::new(
            Check::CommonNameMismatch,
            format!("subject CN {cns:?} is not exactly [{want:?}], the requesting user"),
        )),
    }
}

/// Exactly one O, `system:nodes`.
pub fn organization(req: &Request) -> Res {
    match req.organizations.as_slice() {
        [o] if o == NODES_GROUP => Ok(()),
        os => Err(Failure::new(
            Check::OrganizationMismatch,
            format!("subject O {os:?} is not exactly [{NODES_GROUP:?}]"),
        )),
    }
}

/// No subject attributes besides CN and O (a kubelet sets none).
pub fn subject_attributes(req: &Request) -> Res {
    match req.other_subject.first() {
        None => Ok(()),
        Some(oid) => Err(Failure::new(
            Check::SubjectAttributeForbidden,
            format!("subject attribute {oid} is not CN or O"),
        )),
    }
}

/// At least one DNS or IP SAN.
pub fn san_present(req: &Request) -> Res {
    if req.dns.is_empty() && req.ips.is_empty() {
        Err(Failure::new(
            Check::SanMissing,
            "the request names no DNS name or IP address",
        ))
    } else {
        Ok(())
    }
}

/// Only DNS and IP SANs: no email, URI or any other kind.
pub fn san_types(req: &Request) -> Res {
    let bad = req
        .emails
        .iter()
        .map(|e| format!("email {e:?}"))
        .chain(req.uris.iter().map(|u| format!("URI {u:?}")))
        .chain(req.other_sans.iter().cloned())
        .next();
    match bad {
        None => Ok(()),
        Some(what) => Err(Failure::new(
            Check::SanTypeForbidden,
            format!("SAN {what}: only DNS names and IP addresses are allowed"),
        )),
    }
}

/// Every DNS SAN is a plain host name: no wildcard, no empty or over-long label, ASCII only.
pub fn dns_names_valid(req: &Request) -> Res {
    match req
        .dns
        .iter()
        .find(|d| !is_dns_subdomain(&normalise_dns(d)))
    {
        None => Ok(()),
        Some(d) => Err(Failure::new(
            Check::DnsNameInvalid,
            format!("DNS SAN {d:?} is not a plain host name"),
        )),
    }
}

/// No name that resolves inside the cluster: `kubernetes`, `kubernetes.default*`, `*.svc`,
/// `*.svc.DOMAIN`, the cluster domain or anything under it. Checked before the Node's addresses,
/// so a node that lists such a name in its own status still cannot get it.
pub fn in_cluster_names(req: &Request, cluster_domain: &str) -> Res {
    let domain = normalise_dns(cluster_domain);
    match req
        .dns
        .iter()
        .find(|d| is_in_cluster(&normalise_dns(d), &domain))
    {
        None => Ok(()),
        Some(d) => Err(Failure::new(
            Check::InClusterName,
            format!("DNS SAN {d:?} is an in-cluster name"),
        )),
    }
}

fn is_in_cluster(name: &str, domain: &str) -> bool {
    name == "kubernetes"
        || name.starts_with("kubernetes.default")
        || name.ends_with(".svc")
        || (!domain.is_empty() && (name == domain || name.ends_with(&format!(".{domain}"))))
}

/// Every DNS and IP SAN is one of the Node's `status.addresses`. IPs are compared canonically
/// (`::ffff:10.0.0.1` is `10.0.0.1`, `0:0::1` is `::1`), DNS names case-insensitively.
pub fn sans_are_node_addresses(req: &Request, node: &str, addresses: &[NodeAddress]) -> Res {
    let (ips, dns) = address_sets(addresses);
    if let Some(ip) = req.ips.iter().find(|ip| !ips.contains(&ip.to_canonical())) {
        return Err(Failure::new(
            Check::SanNotNodeAddress,
            format!("IP SAN {ip} is not an address of Node {node}"),
        ));
    }
    if let Some(d) = req.dns.iter().find(|d| !dns.contains(&normalise_dns(d))) {
        return Err(Failure::new(
            Check::SanNotNodeAddress,
            format!("DNS SAN {d:?} is not an address of Node {node}"),
        ));
    }
    Ok(())
}

/// The Node's addresses split into canonical IPs and normalised host names.
pub fn address_sets(addresses: &[NodeAddress]) -> (HashSet<IpAddr>, HashSet<String>) {
    let mut ips = HashSet::new();
    let mut dns = HashSet::new();
    for a in addresses {
        let text = a.address.trim();
        match text.parse::<IpAddr>() {
            Ok(ip) => {
                ips.insert(ip.to_canonical());
            }
            Err(_) => {
                dns.insert(normalise_dns(text));
            }
        }
    }
    (ips, dns)
}

/// Lower case, one trailing dot dropped (`Node-A.example.` is `node-a.example`).
pub fn normalise_dns(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// RFC 1123 subdomain, as Kubernetes names Nodes: labels of `[a-z0-9-]`, not starting or ending
/// with `-`, at most 63 bytes each and 253 in all.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}
