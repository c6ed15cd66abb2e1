//! RFC 1123 names, as Services, namespaces and object names must be: the one check `certs` and
//! `webhook-config` share.

pub const LABEL_RULE: &str = "must be a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit";
pub const SUBDOMAIN_RULE: &str =
    "must be a DNS subdomain: dot-separated DNS labels, at most 253 characters";

/// An RFC 1123 label.
pub fn is_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// An RFC 1123 subdomain: dot-separated labels.
pub fn is_subdomain(value: &str) -> bool {
    !value.is_empty() && value.len() <= 253 && value.split('.').all(is_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        for ok in ["a", "kube-system", "a1", &"x".repeat(63)] {
            assert!(is_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"x".repeat(64)] {
            assert!(!is_label(bad), "{bad}");
        }
        assert!(is_subdomain("cert.kube-system"));
        assert!(!is_subdomain("a..b") && !is_subdomain(".a") && !is_subdomain(&"a.".repeat(127)));
    }
}
