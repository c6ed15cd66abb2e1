//! Real kubelet-shaped CSRs (PKCS#10 made with rcgen) and Nodes, for the approver's tests and
//! benchmark. Each field of `Shape` is what a hostile variant changes.
#![allow(dead_code)]

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestSpec,
    CertificateSigningRequestStatus,
};
use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair, SanType};
use std::net::IpAddr;

pub const SIGNER: &str = "kubernetes.io/kubelet-serving";
pub const SERVING_USAGES: [&str; 3] = ["digital signature", "key encipherment", "server auth"];

/// What goes into the PKCS#10 request.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub cn: Vec<String>,
    pub o: Vec<String>,
    pub ou: Vec<String>,
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
    /// DER of a GeneralNames SEQUENCE, added as a second subjectAltName extension.
    pub second_san_der: Option<Vec<u8>>,
}

/// What a kubelet asks for: CN system:node:NODE, O system:nodes, its host name and IPs.
pub fn kubelet_shape(node: &str, ips: &[&str]) -> Shape {
    Shape {
        cn: vec![format!("system:node:{node}")],
        o: vec!["system:nodes".into()],
        dns: vec![node.to_string()],
        ips: ips.iter().map(|i| i.parse().expect("test IP")).collect(),
        ..Shape::default()
    }
}

/// DER GeneralNames holding one dNSName.
pub fn general_names_dns(name: &str) -> Vec<u8> {
    let mut gn = vec![0x82, name.len() as u8];
    gn.extend_from_slice(name.as_bytes());
    let mut seq = vec![0x30, gn.len() as u8];
    seq.extend(gn);
    seq
}

pub fn request_der(shape: &Shape, key: &KeyPair) -> Vec<u8> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    for cn in &shape.cn {
        dn.push(DnType::CommonName, cn.as_str());
    }
    for o in &shape.o {
        dn.push(DnType::OrganizationName, o.as_str());
    }
    for ou in &shape.ou {
        dn.push(DnType::OrganizationalUnitName, ou.as_str());
    }
    params.distinguished_name = dn;
    let mut sans = Vec::new();
    for d in &shape.dns {
        sans.push(SanType::DnsName(
            d.clone().try_into().expect("test DNS SAN"),
        ));
    }
    for ip in &shape.ips {
        sans.push(SanType::IpAddress(*ip));
    }
    for e in &shape.emails {
        sans.push(SanType::Rfc822Name(
            e.clone().try_into().expect("test email"),
        ));
    }
    for u in &shape.uris {
        sans.push(SanType::URI(u.clone().try_into().expect("test URI")));
    }
    params.subject_alt_names = sans;
    if let Some(der) = &shape.second_san_der {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[2, 5, 29, 17],
                der.clone(),
            ));
    }
    params
        .serialize_request(key)
        .expect("serialize request")
        .der()
        .to_vec()
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A PEM request for `shape` signed by a fresh P-256 key (the kubelet's default).
pub fn request_pem(shape: &Shape) -> String {
    let key = KeyPair::generate().expect("key");
    pem("CERTIFICATE REQUEST", &request_der(shape, &key))
}

/// The same request with the last byte of its signature flipped.
pub fn corrupted_request_pem(shape: &Shape) -> String {
    let key = KeyPair::generate().expect("key");
    let mut der = request_der(shape, &key);
    if let Some(last) = der.last_mut() {
        *last ^= 0x01;
    }
    pem("CERTIFICATE REQUEST", &der)
}

/// A CSR object as the API server stores it after a node created it.
pub fn csr(name: &str, node: &str, request_pem: &str) -> CertificateSigningRequest {
    CertificateSigningRequest {
        metadata: ObjectMeta {
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            resource_version: Some("1".into()),
            ..ObjectMeta::default()
        },
        spec: CertificateSigningRequestSpec {
            signer_name: SIGNER.into(),
            username: Some(format!("system:node:{node}")),
            groups: Some(vec!["system:nodes".into(), "system:authenticated".into()]),
            usages: Some(SERVING_USAGES.iter().map(|u| u.to_string()).collect()),
            request: ByteString(request_pem.as_bytes().to_vec()),
            ..CertificateSigningRequestSpec::default()
        },
        status: None,
    }
}

pub fn with_condition(mut c: CertificateSigningRequest, type_: &str) -> CertificateSigningRequest {
    c.status = Some(CertificateSigningRequestStatus {
        conditions: Some(vec![CertificateSigningRequestCondition {
            type_: type_.into(),
            status: "True".into(),
            ..CertificateSigningRequestCondition::default()
        }]),
        certificate: None,
    });
    c
}

/// A Node with `(type, address)` pairs in status.addresses.
pub fn node(name: &str, addresses: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(NodeStatus {
            addresses: Some(
                addresses
                    .iter()
                    .map(|(t, a)| NodeAddress {
                        type_: (*t).into(),
                        address: (*a).into(),
                    })
                    .collect(),
            ),
            ..NodeStatus::default()
        }),
    }
}
