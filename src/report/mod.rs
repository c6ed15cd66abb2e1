//! `check` output formats: a table for people, JSON (the contract of DESIGN.md section 6),
//! JUnit for CI test reports, SARIF for code-scanning dashboards.

use crate::engine::rules::{RuleId, Status};
use serde_json::json;
use std::io::{self, Write};

mod record;

pub use record::{Record, exit_code};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
}

pub fn render(
    format: Format,
    records: &[Record],
    colour: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text(records, colour, out),
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut *out,
                &json!({"summary": summary(records), "results": records}),
            )?;
            writeln!(out)
        }
        Format::Junit => junit(records, out),
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif(records))?;
            writeln!(out)
        }
    }
}

fn count(records: &[Record], s: Status) -> usize {
    records.iter().filter(|r| r.status == s).count()
}

pub fn summary(records: &[Record]) -> serde_json::Value {
    json!({
        "pass": count(records, Status::Pass),
        "fail": count(records, Status::Fail),
        "warn": count(records, Status::Warn),
        "skip": count(records, Status::Skip),
        "error": count(records, Status::Error),
    })
}

fn text(records: &[Record], colour: bool, out: &mut dyn Write) -> io::Result<()> {
    let paint = |s: Status| -> String {
        let word = s.as_str().to_uppercase();
        if !colour {
            return format!("{word:<5}");
        }
        let code = match s {
            Status::Pass => "32",
            Status::Warn => "33",
            Status::Fail | Status::Error => "31",
            Status::Skip => "2",
        };
        format!("\x1b[{code}m{word:<5}\x1b[0m")
    };
    let shown: Vec<&Record> = records
        .iter()
        .filter(|r| r.status != Status::Skip)
        .collect();
    let width = shown
        .iter()
        .map(|r| r.rule.map_or(1, |x| x.as_str().len()))
        .max()
        .unwrap_or(4);
    let mut source = None;
    for r in &shown {
        if source != Some(&r.source) {
            writeln!(out, "{}", r.source)?;
            source = Some(&r.source);
        }
        let rule = r.rule.map_or("-", RuleId::as_str);
        let place = if r.location.is_empty() {
            r.object.clone()
        } else {
            format!("{} [{}]", r.object, r.location)
        };
        writeln!(out, "  {} {rule:<width$}  {place}", paint(r.status))?;
        writeln!(out, "        {}", r.message)?;
    }
    writeln!(
        out,
        "{} pass, {} fail, {} warn, {} skip, {} error",
        count(records, Status::Pass),
        count(records, Status::Fail),
        count(records, Status::Warn),
        count(records, Status::Skip),
        count(records, Status::Error)
    )
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

fn junit(records: &[Record], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="kubelet-tls-guard" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
        records.len(),
        count(records, Status::Fail),
        count(records, Status::Error),
        count(records, Status::Skip)
    )?;
    let mut sources: Vec<&str> = records.iter().map(|r| r.source.as_str()).collect();
    sources.dedup();
    for source in sources {
        let rs: Vec<&Record> = records.iter().filter(|r| r.source == source).collect();
        let n = |s| rs.iter().filter(|r| r.status == s).count();
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
            xml(source),
            rs.len(),
            n(Status::Fail),
            n(Status::Error),
            n(Status::Skip)
        )?;
        for r in rs {
            let rule = r.rule.map_or("input", RuleId::as_str);
            let name = if r.location.is_empty() {
                format!("{rule} {}", r.object)
            } else {
                format!("{rule} {} [{}]", r.object, r.location)
            };
            write!(
                out,
                r#"    <testcase classname="{}" name="{}""#,
                xml(rule),
                xml(&name)
            )?;
            let msg = xml(&r.message);
            match r.status {
                Status::Pass => writeln!(out, "/>")?,
                Status::Fail => writeln!(
                    out,
                    ">\n      <failure message=\"{msg}\">{msg}</failure>\n    </testcase>"
                )?,
                Status::Error => writeln!(
                    out,
                    ">\n      <error message=\"{msg}\">{msg}</error>\n    </testcase>"
                )?,
                Status::Skip => writeln!(
                    out,
                    ">\n      <skipped message=\"{msg}\"/>\n    </testcase>"
                )?,
                Status::Warn => writeln!(
                    out,
                    ">\n      <system-out>warn: {msg}</system-out>\n    </testcase>"
                )?,
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

fn sarif(records: &[Record]) -> serde_json::Value {
    let rules: Vec<_> = RuleId::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.as_str(),
                "name": r.as_str(),
                "shortDescription": {"text": format!("{} ({})", r.as_str(), r.short_controls())},
                "properties": {"tags": r.controls(), "component": r.component().as_str()},
            })
        })
        .collect();
    let results: Vec<_> = records
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Warn | Status::Error))
        .map(|r| {
            let level = match r.status {
                Status::Warn => "warning",
                _ => "error",
            };
            let mut res = json!({
                "ruleId": r.rule.map_or("input-error", RuleId::as_str),
                "level": level,
                "message": {"text": r.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.source}}, "logicalLocations": [{"fullyQualifiedName": if r.location.is_empty() { r.object.clone() } else { format!("{}/{}", r.object, r.location) }}]}],
            });
            if let (Some(i), Some(obj)) = (r.rule.and_then(|x| RuleId::ALL.iter().position(|y| *y == x)), res.as_object_mut()) {
                obj.insert("ruleIndex".into(), json!(i));
            }
            res
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "kubelet-tls-guard", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
        }],
    })
}
