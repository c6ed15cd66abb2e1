//! Why a CSR is denied: one reason per check, as the `Denied` condition, the Event and the
//! metric label name it. Shared by the request parser and the checks.

use std::fmt;

/// Every reason a CSR can be denied for. Each names one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    UsernameNotNode,
    GroupMissing,
    ExpirationTooLong,
    UsagesInvalid,
    RequestTooLarge,
    RequestInvalid,
    SignatureInvalid,
    CommonNameMismatch,
    OrganizationMismatch,
    SubjectAttributeForbidden,
    SanMissing,
    SanTypeForbidden,
    DnsNameInvalid,
    InClusterName,
    SanNotNodeAddress,
}

impl Check {
    /// CamelCase, as Kubernetes condition and Event reasons are written.
    pub fn reason(self) -> &'static str {
        match self {
            Check::UsernameNotNode => "UsernameNotNode",
            Check::GroupMissing => "GroupMissing",
            Check::ExpirationTooLong => "ExpirationTooLong",
            Check::UsagesInvalid => "UsagesInvalid",
            Check::RequestTooLarge => "RequestTooLarge",
            Check::RequestInvalid => "RequestInvalid",
            Check::SignatureInvalid => "SignatureInvalid",
            Check::CommonNameMismatch => "CommonNameMismatch",
            Check::OrganizationMismatch => "OrganizationMismatch",
            Check::SubjectAttributeForbidden => "SubjectAttributeForbidden",
            Check::SanMissing => "SANMissing",
            Check::SanTypeForbidden => "SANTypeForbidden",
            Check::DnsNameInvalid => "DNSNameInvalid",
            Check::InClusterName => "InClusterName",
            Check::SanNotNodeAddress => "SANNotNodeAddress",
        }
    }
}

/// A failed check and what exactly failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub check: Check,
    pub message: String,
}

impl Failure {
    pub fn new(check: Check, message: impl Into<String>) -> Self {
        Failure {
            check,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check.reason(), self.message)
    }
}
