use super::*;

fn names() -> Vec<String> {
    let mut n = service_dns_names("svc", "ns");
    n.push("127.0.0.1".into());
    n
}

#[test]
fn bundle_round_trips_through_check() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = generate(&names(), 30).unwrap();
    write_bundle(dir.path(), &bundle, false).unwrap();
    check_bundle(dir.path(), &names(), Duration::days(1)).unwrap();
    // Not valid long enough.
    let err = check_bundle(dir.path(), &names(), Duration::days(31)).unwrap_err();
    assert!(err.to_string().contains("tls.crt"), "{err}");
    // A name the certificate does not carry.
    let err = check_bundle(dir.path(), &["other.example".into()], Duration::days(1)).unwrap_err();
    assert!(err.to_string().contains("other.example"), "{err}");
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let first = generate(&names(), 30).unwrap();
    write_bundle(dir.path(), &first, false).unwrap();
    let second = generate(&names(), 30).unwrap();
    let err = write_bundle(dir.path(), &second, false).unwrap_err();
    assert!(
        matches!(err, CertError::Exists(ref p) if p.len() == 3),
        "{err}"
    );
    let on_disk = std::fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap();
    assert_eq!(on_disk, first.ca_cert_pem);
    write_bundle(dir.path(), &second, true).unwrap();
    let on_disk = std::fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap();
    assert_eq!(on_disk, second.ca_cert_pem);
}

#[cfg(unix)]
#[test]
fn key_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), &generate(&names(), 1).unwrap(), false).unwrap();
    let mode = |f: &str| {
        std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(TLS_KEY_FILE), 0o600);
    assert_eq!(mode(TLS_CERT_FILE), 0o644);
    assert_eq!(mode(CA_CERT_FILE), 0o644);
}

#[test]
fn key_mismatch_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let a = generate(&names(), 30).unwrap();
    let b = generate(&names(), 30).unwrap();
    let mixed = CertBundle {
        ca_cert_pem: a.ca_cert_pem.clone(),
        serving: IssuedCert {
            cert_pem: a.serving.cert_pem.clone(),
            key_pem: b.serving.key_pem,
        },
    };
    write_bundle(dir.path(), &mixed, false).unwrap();
    let err = check_bundle(dir.path(), &names(), Duration::days(1)).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn certificates_are_ecdsa_p256_with_the_sans() {
    let bundle = generate(&names(), 10).unwrap();
    let der = CertificateDer::from_pem_slice(bundle.serving.cert_pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(
        cert.public_key().algorithm.algorithm.to_id_string(),
        "1.2.840.10045.2.1",
        "id-ecPublicKey"
    );
    let san = cert.subject_alternative_name().unwrap().unwrap();
    let text = format!("{:?}", san.value.general_names);
    for n in ["svc.ns.svc", "svc.ns.svc.cluster.local", "127.0.0.1"] {
        let found = text.contains(n) || (n == "127.0.0.1" && text.contains("[127, 0, 0, 1]"));
        assert!(found, "{n} missing from {text}");
    }
    assert!(!cert.is_ca());
    let days =
        (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / 86400;
    assert_eq!(days, 10);
}

#[test]
fn bad_days_and_names_are_errors() {
    assert!(matches!(generate(&names(), 0), Err(CertError::Days(0))));
    assert!(matches!(
        generate(&names(), MAX_DAYS + 1),
        Err(CertError::Days(_))
    ));
    assert!(generate(&["has space".into()], 1).is_err());
    assert!(generate(&[], 1).is_err());
}
