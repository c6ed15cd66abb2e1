//! `check --format junit`: one `<testsuite>` per file, one `<testcase>` per rule and object.
//! A `fail` is a `<failure>`, an `error` an `<error>`, a `skip` `<skipped>`, a `warn` passes with
//! the warning in `<system-out>`. Written by `quick-junit`.
//!
//! `<testsuites>` carries the totals, known only at the end: each file's suite is serialized
//! when its last record is in and spooled to an unlinked temporary file, then copied out after
//! the opening tag. Memory holds one file's test cases at a time.
//!
//! quick-junit makes every text an `XmlString`, and each one runs an ANSI escape parser over
//! it, a character at a time: that was two thirds of this writer's time over 10,000 files. The
//! texts that repeat (test names, the rule as class name, messages, remediations) are made
//! once and cloned ([`Texts`]).

use super::{Record, Tally};
use crate::engine::rules::{RuleId, Status};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite, XmlString};
use std::collections::HashMap;
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
    let mut texts = Texts::default();
    for r in records {
        tally.add(r.status);
        if suite.as_ref().is_some_and(|s| s.name.as_str() != r.source) {
            spool_suite(suite.take(), &mut totals, &mut spool)?;
        }
        suite
            .get_or_insert_with(|| TestSuite::new(r.source.as_str()))
            .add_test_case(test_case(&r, &mut texts));
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

/// The `XmlString`s of texts seen before, up to [`Texts::MOST`] of them of at most
/// [`Texts::LONGEST`] bytes (then it starts afresh, so memory stays bounded whatever the number
/// of files or the length of a value a message quotes): a report's messages and remediations
/// come from a few rules, and its test names (rule, object, location) repeat from file to file.
/// A file's path, its suite's name, is made once anyway.
#[derive(Default)]
struct Texts(HashMap<String, XmlString>);

impl Texts {
    const MOST: usize = 4096;
    const LONGEST: usize = 1024;

    fn get(&mut self, text: &str) -> XmlString {
        if let Some(made) = self.0.get(text) {
            return made.clone();
        }
        let made = XmlString::new(text);
        if text.len() > Self::LONGEST {
            return made;
        }
        if self.0.len() >= Self::MOST {
            self.0.clear();
        }
        self.0.insert(text.to_owned(), made.clone());
        made
    }
}

fn test_case(r: &Record, texts: &mut Texts) -> TestCase {
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
            s.set_message(texts.get(&r.message));
            let detail = match &r.remediation {
                Some(fix) if !fix.is_empty() => {
                    texts.get(&format!("{}\nremediation: {fix}", r.message))
                }
                _ => texts.get(&r.message),
            };
            s.set_description(detail);
            s
        }
        Status::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(texts.get(&r.message));
            s
        }
    };
    let mut case = TestCase::new(texts.get(&name), status);
    case.set_classname(texts.get(rule));
    if r.status == Status::Warn {
        case.set_system_out(texts.get(&format!("warn: {}", r.message)));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_text_is_the_one_quick_junit_makes() {
        let mut texts = Texts::default();
        for text in [
            "plain",
            "red \u{1b}[31mtext\u{1b}[0m, a bell \u{7}",
            "",
            "plain",
        ] {
            for _ in 0..2 {
                assert_eq!(texts.get(text), XmlString::new(text), "{text:?}");
            }
        }
        assert_eq!(texts.0.len(), 3);
        // A long text is made each time, not kept.
        let long = "x".repeat(Texts::LONGEST + 1);
        assert_eq!(texts.get(&long).as_str(), long);
        assert_eq!(texts.0.len(), 3);
    }

    #[test]
    fn texts_stay_bounded() {
        let mut texts = Texts::default();
        for i in 0..3 * Texts::MOST {
            let text = format!("object-{i}");
            assert_eq!(texts.get(&text).as_str(), text);
            assert!(texts.0.len() <= Texts::MOST);
        }
    }
}
