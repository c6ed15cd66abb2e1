use super::*;

#[test]
fn parses_addresses_durations_sizes() {
    assert_eq!(
        parse_addr(":8443").unwrap(),
        "0.0.0.0:8443".parse().unwrap()
    );
    assert_eq!(parse_addr("[::1]:1").unwrap(), "[::1]:1".parse().unwrap());
    assert!(parse_addr("localhost:80").is_err());
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
    assert!(parse_duration("5 days").is_err());
    assert!(parse_duration("-1s").is_err());
    assert_eq!(parse_size("8Mi").unwrap(), 8 * 1024 * 1024);
    assert_eq!(parse_size("1024").unwrap(), 1024);
    assert!(parse_size("0").is_err());
    assert!(parse_size("1Xi").is_err());
    assert_eq!(parse_count("4096").unwrap(), 4096);
    assert!(parse_count("0").is_err());
    assert!(parse_count("-1").is_err());
}

#[test]
fn curl_hint_reaches_any_bound_address() {
    let dir = Path::new("certs/dev");
    let h = curl_hint(dir, "0.0.0.0:8443".parse().unwrap());
    assert_eq!(
        h,
        "curl -s --cacert certs/dev/ca.crt https://localhost:8443/validate -H 'Content-Type: application/json' --data-binary @certs/dev/example-review.json"
    );
    let h = curl_hint(dir, "10.1.2.3:9443".parse().unwrap());
    assert!(
        h.contains("--resolve localhost:9443:10.1.2.3 https://localhost:9443/"),
        "{h}"
    );
}

#[test]
fn example_review_is_a_review() {
    let r = crate::server::admission::parse_review(EXAMPLE_REVIEW.as_bytes()).unwrap();
    assert_eq!(r.request.kind(), "Pod");
}
