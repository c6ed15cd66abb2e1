//! PKCS#10 parsing for the approver: exactly one PEM `CERTIFICATE REQUEST` block, a DER body with
//! nothing after it, a verified self-signature, then only the parts the kubelet-serving signer
//! copies into the certificate (subject and subjectAltName).
//!
//! Anything the signer and this parser could read differently is refused rather than guessed:
//! a second PEM block, trailing bytes, two extension requests, two SAN extensions (Go's parser keeps
//! the last one, a naive reader the first).

use super::reason::{Check, Failure};
use std::net::IpAddr;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_PKCS9_EXTENSION_REQUEST, OID_X509_COMMON_NAME, OID_X509_EXT_SUBJECT_ALT_NAME,
    OID_X509_ORGANIZATION_NAME,
};
use x509_parser::prelude::{FromDer, X509CertificationRequest};

/// The PEM label Kubernetes requires for `spec.request`.
pub const PEM_LABEL: &str = "CERTIFICATE REQUEST";

/// What the approver needs from a request, owned so that the DER buffer can be dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub common_names: Vec<String>,
    pub organizations: Vec<String>,
    /// Subject attributes other than CN and O, by OID (dotted).
    pub other_subject: Vec<String>,
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
    /// SANs of any other kind (otherName, directoryName, IP of a bad length, ...), described.
    pub other_sans: Vec<String>,
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::new(Check::RequestInvalid, message)
}

/// Decode `spec.request` (PEM bytes), verify the signature and extract subject and SANs.
pub fn parse(pem: &[u8]) -> Result<Request, Failure> {
    let mut blocks = x509_parser::pem::Pem::iter_from_buffer(pem);
    let block = match blocks.next() {
        Some(Ok(b)) => b,
        Some(Err(e)) => return Err(invalid(format!("spec.request is not valid PEM: {e}"))),
        None => return Err(invalid("spec.request holds no PEM block")),
    };
    if blocks.next().is_some() {
        return Err(invalid("spec.request holds more than one PEM block"));
    }
    if block.label != PEM_LABEL {
        return Err(invalid(format!(
            "PEM block is {:?}, not {PEM_LABEL:?}",
            block.label
        )));
    }
    let (rest, req) = X509CertificationRequest::from_der(&block.contents)
        .map_err(|e| invalid(format!("PKCS#10 request does not parse: {e}")))?;
    if !rest.is_empty() {
        return Err(invalid(format!(
            "{} bytes follow the PKCS#10 request",
            rest.len()
        )));
    }
    req.verify_signature().map_err(|e| {
        Failure::new(
            Check::SignatureInvalid,
            format!("the request's self-signature does not verify with its own key: {e}"),
        )
    })?;
    extract(&req)
}

fn extract(req: &X509CertificationRequest<'_>) -> Result<Request, Failure> {
    let info = &req.certification_request_info;
    let mut out = Request::default();
    for attr in info.subject.iter_attributes() {
        let oid = attr.attr_type();
        let value = || {
            attr.as_str()
                .map(str::to_owned)
                .map_err(|_| invalid(format!("subject attribute {oid} is not a string")))
        };
        if *oid == OID_X509_COMMON_NAME {
            out.common_names.push(value()?);
        } else if *oid == OID_X509_ORGANIZATION_NAME {
            out.organizations.push(value()?);
        } else {
            out.other_subject.push(oid.to_id_string());
        }
    }
    let ext_requests: Vec<_> = info
        .iter_attributes()
        .filter(|a| a.oid == OID_PKCS9_EXTENSION_REQUEST)
        .collect();
    if ext_requests.len() > 1 {
        return Err(invalid("the request holds more than one extensionRequest"));
    }
    let mut san_seen = false;
    for attr in ext_requests {
        let ParsedCriAttribute::ExtensionRequest(er) = attr.parsed_attribute() else {
            return Err(invalid("the extensionRequest attribute does not parse"));
        };
        for ext in er
            .extensions
            .iter()
            .filter(|e| e.oid == OID_X509_EXT_SUBJECT_ALT_NAME)
        {
            if san_seen {
                return Err(invalid("the request holds more than one subjectAltName"));
            }
            san_seen = true;
            let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() else {
                return Err(invalid("the subjectAltName extension does not parse"));
            };
            for name in &san.general_names {
                add_san(&mut out, name);
            }
        }
    }
    Ok(out)
}

fn add_san(out: &mut Request, name: &GeneralName<'_>) {
    match name {
        GeneralName::DNSName(d) => out.dns.push((*d).to_owned()),
        GeneralName::IPAddress(b) => match ip_from_bytes(b) {
            Some(ip) => out.ips.push(ip),
            None => out
                .other_sans
                .push(format!("IP address of {} bytes", b.len())),
        },
        GeneralName::RFC822Name(e) => out.emails.push((*e).to_owned()),
        GeneralName::URI(u) => out.uris.push((*u).to_owned()),
        GeneralName::OtherName(oid, _) => out.other_sans.push(format!("otherName {oid}")),
        GeneralName::DirectoryName(n) => out.other_sans.push(format!("directoryName {n}")),
        GeneralName::RegisteredID(oid) => out.other_sans.push(format!("registeredID {oid}")),
        GeneralName::X400Address(_) => out.other_sans.push("x400Address".into()),
        GeneralName::EDIPartyName(_) => out.other_sans.push("ediPartyName".into()),
        GeneralName::Invalid(tag, _) => out
            .other_sans
            .push(format!("undecodable name (tag {})", tag.0)),
    }
}

/// A SAN IP is 4 or 16 raw bytes; anything else is not an address.
fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        Some(IpAddr::from(v4))
    } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
        Some(IpAddr::from(v6))
    } else {
        None
    }
}
