//! One result row (DESIGN.md section 6): what every input (files, processes, the cluster)
//! produces and every output format renders.

use crate::engine::rules::{Component, RuleId, Status};
use serde::Serialize;

/// One line of `check` output (DESIGN.md section 6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub source: String,
    pub object: String,
    pub kind: String,
    pub component: Option<Component>,
    pub location: String,
    pub rule: Option<RuleId>,
    pub controls: Vec<&'static str>,
    pub status: Status,
    pub message: String,
    pub remediation: Option<String>,
}

impl Record {
    pub fn error(source: &str, object: &str, message: String) -> Record {
        Record {
            source: source.to_string(),
            object: object.to_string(),
            kind: String::new(),
            component: None,
            location: String::new(),
            rule: None,
            controls: Vec::new(),
            status: Status::Error,
            message,
            remediation: None,
        }
    }
}

/// Exit code of `check`: 2 if anything could not be read, else 1 if anything failed.
pub fn exit_code(records: &[Record]) -> u8 {
    super::Tally::of(records).exit_code()
}
