//! `check --format sarif`: SARIF 2.1.0 for code-scanning dashboards, one run whose results are
//! the `fail` (level error), `warn` (warning) and `error` (error, rule `input-error`) records.
//! The objects come from `serde-sarif`; the log around them is serialized by hand only so that
//! the results array can be written as the records arrive.

use super::{Record, Tally};
use crate::engine::rules::{RuleId, Status};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_sarif::sarif;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Write};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

type State<'a> = RefCell<(&'a mut (dyn Iterator<Item = Record> + 'a), &'a mut Tally)>;

pub(super) fn write<'a>(
    records: &'a mut (dyn Iterator<Item = Record> + 'a),
    tally: &'a mut Tally,
    out: &mut dyn Write,
) -> io::Result<()> {
    let state = RefCell::new((records, tally));
    serde_json::to_writer_pretty(&mut *out, &Log(&state))?;
    writeln!(out)
}

/// `{"$schema", "version", "runs": [run]}`
struct Log<'s, 'a>(&'s State<'a>);
/// `[run]`
struct Runs<'s, 'a>(&'s State<'a>);
/// `{"tool", "results"}`
struct Run<'s, 'a>(&'s State<'a>);
/// The results, consumed while they are written.
struct Results<'s, 'a>(&'s State<'a>);

impl Serialize for Log<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("$schema", SCHEMA)?;
        map.serialize_entry("version", "2.1.0")?;
        map.serialize_entry("runs", &Runs(self.0))?;
        map.end()
    }
}

impl Serialize for Runs<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(1))?;
        seq.serialize_element(&Run(self.0))?;
        seq.end()
    }
}

impl Serialize for Run<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("tool", &tool())?;
        map.serialize_entry("results", &Results(self.0))?;
        map.end()
    }
}

impl Serialize for Results<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut state = self.0.borrow_mut();
        let (records, tally) = &mut *state;
        let mut seq = s.serialize_seq(None)?;
        for r in records {
            tally.add(r.status);
            if let Some(result) = result(&r) {
                seq.serialize_element(&result)?;
            }
        }
        seq.end()
    }
}

fn tool() -> sarif::Tool {
    let rules: Vec<sarif::ReportingDescriptor> = RuleId::ALL
        .iter()
        .map(|r| {
            let mut component = BTreeMap::new();
            component.insert(
                "component".to_string(),
                serde_json::Value::from(r.component().as_str()),
            );
            sarif::ReportingDescriptor::builder()
                .id(r.as_str())
                .name(r.as_str())
                .short_description(
                    sarif::MultiformatMessageString::builder()
                        .text(format!("{} ({})", r.as_str(), r.short_controls()))
                        .build(),
                )
                .properties(
                    sarif::PropertyBag::builder()
                        .tags(
                            r.controls()
                                .iter()
                                .map(|c| c.to_string())
                                .collect::<Vec<_>>(),
                        )
                        .additional_properties(component)
                        .build(),
                )
                .build()
        })
        .collect();
    sarif::Tool::builder()
        .driver(
            sarif::ToolComponent::builder()
                .name("kubelet-tls-guard")
                .version(env!("CARGO_PKG_VERSION"))
                .rules(rules)
                .build(),
        )
        .build()
}

fn result(r: &Record) -> Option<sarif::Result> {
    let level = match r.status {
        Status::Fail | Status::Error => sarif::ResultLevel::Error,
        Status::Warn => sarif::ResultLevel::Warning,
        Status::Pass | Status::Skip => return None,
    };
    let object = if r.location.is_empty() {
        r.object.clone()
    } else {
        format!("{}/{}", r.object, r.location)
    };
    let location = sarif::Location::builder()
        .physical_location(
            sarif::PhysicalLocation::builder()
                .artifact_location(
                    sarif::ArtifactLocation::builder()
                        .uri(uri(&r.source))
                        .build(),
                )
                .build(),
        )
        .logical_locations(vec![
            sarif::LogicalLocation::builder()
                .fully_qualified_name(object)
                .build(),
        ])
        .build();
    let text = match (&r.remediation, r.status) {
        (Some(fix), Status::Fail) if !fix.is_empty() => format!("{} Remediation: {fix}", r.message),
        _ => r.message.clone(),
    };
    let mut result = sarif::Result::builder()
        .message(sarif::Message::builder().text(text).build())
        .level(level)
        .locations(vec![location])
        .build();
    result.rule_id = Some(r.rule.map_or("input-error", RuleId::as_str).to_string());
    result.rule_index = r
        .rule
        .and_then(|x| RuleId::ALL.iter().position(|y| *y == x))
        .map(|i| i as i64);
    Some(result)
}

/// Characters a path may hold that a URI reference may not (RFC 3986), percent-encoded.
const NOT_IN_URI: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The artifact URI of a source: `file:///abs/path` for an absolute path, else a relative
/// reference (`-` is stdin).
pub(super) fn uri(source: &str) -> String {
    let encoded = utf8_percent_encode(source, NOT_IN_URI).to_string();
    if source.starts_with('/') {
        format!("file://{encoded}")
    } else {
        // A first segment with a colon would read as a scheme.
        match encoded.split('/').next() {
            Some(first) if first.contains(':') => format!("./{encoded}"),
            _ => encoded,
        }
    }
}
