//! Verify a kubelet's serving certificate as kube-apiserver would with
//! `--kubelet-certificate-authority`: chain to that CA, name the dialled address, not expired.
//! The verifier records what it saw, so a rejected handshake still says why in words.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use std::sync::{Arc, Mutex};

/// The CA the kubelets are judged against, ready for many handshakes.
#[derive(Debug, Clone)]
pub struct KubeletCa {
    pub provider: Arc<CryptoProvider>,
    pub verifier: Arc<WebPkiServerVerifier>,
    /// Where the CA came from, for messages (`--kubelet-ca FILE`, `kube-root-ca.crt`).
    pub origin: String,
}

impl KubeletCa {
    pub fn from_pem(pem: &[u8], origin: &str) -> Result<KubeletCa, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("{origin}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("{origin}: not a usable CA certificate: {e}"))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("{origin}: no PEM CERTIFICATE block"));
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("{origin}: {e}"))?;
        Ok(KubeletCa {
            provider,
            verifier,
            origin: origin.to_string(),
        })
    }
}

/// What one handshake's verifier saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The leaf certificate presented (DER), if the server got that far.
    pub leaf: Option<Vec<u8>>,
    /// The verifier's verdict on it.
    pub error: Option<CertificateError>,
    pub other: Option<String>,
}

/// A per-connection verifier: delegates to webpki and keeps what it saw in `seen`.
#[derive(Debug)]
pub struct Recording {
    ca: KubeletCa,
    pub seen: Arc<Mutex<Seen>>,
}

impl Recording {
    pub fn new(ca: KubeletCa) -> Recording {
        Recording {
            ca,
            seen: Arc::default(),
        }
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let result = self.ca.verifier.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Ok(mut seen) = self.seen.lock() {
            seen.leaf = Some(end_entity.to_vec());
            match &result {
                Err(Error::InvalidCertificate(e)) => seen.error = Some(e.clone()),
                Err(e) => seen.other = Some(e.to_string()),
                Ok(_) => {}
            }
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.ca.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.ca.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.ca.verifier.supported_verify_schemes()
    }
}

/// Subject, issuer, names and expiry of a certificate, for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub subject: String,
    pub issuer: String,
    pub names: Vec<String>,
    pub not_after: String,
    pub self_signed: bool,
}

pub fn describe(der: &[u8]) -> Option<Described> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_string()),
                GeneralName::IPAddress(ip) => names.push(match ip.len() {
                    4 => std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string(),
                    16 => <[u8; 16]>::try_from(*ip)
                        .map(|b| std::net::Ipv6Addr::from(b).to_string())
                        .unwrap_or_default(),
                    _ => String::new(),
                }),
                _ => {}
            }
        }
    }
    Some(Described {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_after: cert
            .validity()
            .not_after
            .to_rfc2822()
            .unwrap_or_else(|_| cert.validity().not_after.to_string()),
        self_signed: cert.subject() == cert.issuer(),
    })
}

/// Why a presented certificate was refused, in the words an operator needs.
pub fn reason(seen: &Seen, address: &str, ca_origin: &str) -> String {
    let d = seen.leaf.as_deref().and_then(describe);
    let who = d
        .as_ref()
        .map(|d| format!(" ({}, issuer {})", show(&d.subject), show(&d.issuer)))
        .unwrap_or_default();
    let names = d
        .as_ref()
        .map(|d| {
            if d.names.is_empty() {
                "no subject alternative names".to_string()
            } else {
                d.names.join(", ")
            }
        })
        .unwrap_or_default();
    match &seen.error {
        Some(CertificateError::UnknownIssuer) if d.as_ref().is_some_and(|d| d.self_signed) => {
            format!(
                "self-signed certificate{who}: not issued by the kubelet CA ({ca_origin}); enable serverTLSBootstrap and approve the kubelet-serving CSR"
            )
        }
        Some(CertificateError::UnknownIssuer) => {
            format!("certificate{who} is not issued by the kubelet CA ({ca_origin})")
        }
        Some(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => format!(
            "certificate{who} expired on {}",
            d.as_ref().map_or("?", |d| d.not_after.as_str())
        ),
        Some(CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }) => {
            format!("certificate{who} is not valid yet")
        }
        Some(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            format!(
                "certificate{who} does not name the address {address} that the API server dials (it names {names})"
            )
        }
        Some(CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }) => {
            format!("certificate{who} is not for server authentication")
        }
        Some(e) => format!("certificate{who} rejected: {e:?}"),
        None => match &seen.other {
            Some(o) => format!("certificate{who} rejected: {o}"),
            None => "certificate rejected".into(),
        },
    }
}

fn show(name: &str) -> String {
    if name.is_empty() {
        "empty subject".into()
    } else {
        name.to_string()
    }
}
