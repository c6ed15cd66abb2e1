//! `check --format junit`: one `<testsuite>` per file, one `<testcase>` per rule and object.
//! A `fail` is a `<failure>`, an `error` an `<error>`, a `skip` `<skipped>`, a `warn` passes with
//! the warning in `<system-out>`. Written by `quick-junit`.
//!
//! `<testsuites>` carries the totals, known only at the end: each file's suite is serialized
//! when its last record is in and spooled to an unlinked temporary file, then copied out after
//! the opening tag. Memory holds one file's test cases at a time.

use super::{Record, Tally};
use crate::engine::rules::{RuleId, Status};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::io::{self, BufWriter, Seek, Write};

const NAME: &str = "kubelet-tls-guard";

pub(super) fn write(
    records: &mut dyn Iterator<Item = Record>,
    tally: &mut Tally,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut spool = BufWriter::new(tempfile::tempfile()?);
    let mut totals = Report::new(NAME);
    let mut suite: Option<TestSuite> = None;
    for r in records {
        tally.add(r.status);
        if suite.as_ref().is_some_and(|s| s.name.as_str() != r.source) {
            spool_suite(suite.take(), &mut totals, &mut spool)?;
        }
        suite
            .get_or_insert_with(|| TestSuite::new(r.source.as_str()))
            .add_test_case(test_case(&r));
    }
    spool_suite(suite.take(), &mut totals, &mut spool)?;
    let mut spool = spool.into_inner().map_err(io::IntoInnerError::into_error)?;
    spool.rewind()?;

    // The frame is a report without suites: the declaration, `<testsuites …>`, `</testsuites>`.
    let frame = to_xml(&totals)?;
    let close = frame.rfind("</testsuites>").unwrap_or(frame.len());
    let (head, tail) = frame.split_at(close);
    out.write_all(head.trim_end().as_bytes())?;
    io::copy(&mut spool, out)?;
    writeln!(out)?;
    out.write_all(tail.as_bytes())
}

/// Add a finished suite's counts to the totals and spool its XML.
fn spool_suite(
    suite: Option<TestSuite>,
    totals: &mut Report,
    spool: &mut dyn Write,
) -> io::Result<()> {
    let Some(suite) = suite else {
        return Ok(());
    };
    totals.tests += suite.tests;
    totals.failures += suite.failures;
    totals.errors += suite.errors;
    totals.skipped += suite.skipped;
    let mut one = Report::new(NAME);
    one.add_test_suite(suite);
    let xml = to_xml(&one)?;
    spool.write_all(suites_of(&xml).trim_end().as_bytes())
}

/// What lies between `<testsuites …>` and `</testsuites>`: the `<testsuite>` elements, each on
/// lines of its own. Attribute values are escaped, so the first `>` ends the opening tag.
fn suites_of(xml: &str) -> &str {
    let open = xml
        .find("<testsuites")
        .and_then(|i| xml[i..].find('>').map(|j| i + j + 1))
        .unwrap_or(0);
    let close = xml.rfind("</testsuites>").unwrap_or(xml.len());
    xml.get(open..close).unwrap_or("")
}

fn to_xml(report: &Report) -> io::Result<String> {
    report.to_string().map_err(io::Error::other)
}

fn test_case(r: &Record) -> TestCase {
    let rule = r.rule.map_or("input", RuleId::as_str);
    let name = if r.location.is_empty() {
        format!("{rule} {}", r.object)
    } else {
        format!("{rule} {} [{}]", r.object, r.location)
    };
    let status = match r.status {
        Status::Pass | Status::Warn => TestCaseStatus::success(),
        Status::Fail | Status::Error => {
            let kind = if r.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(r.message.as_str());
            let detail = match &r.remediation {
                Some(fix) if !fix.is_empty() => format!("{}\nremediation: {fix}", r.message),
                _ => r.message.clone(),
            };
            s.set_description(detail);
            s
        }
        Status::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(r.message.as_str());
            s
        }
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(rule);
    if r.status == Status::Warn {
        case.set_system_out(format!("warn: {}", r.message));
    }
    case
}
