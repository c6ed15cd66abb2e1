//! Keeping unchanged lines of multi-line scalars: a new string for a literal, folded or
//! multi-line plain scalar rewrites only the lines that change.

use super::Edit;
use super::doc::Doc;
use super::render::{plain_start_ok, unprintable};
use super::tree::{Block, Node, Scalar};
use saphyr_parser::ScalarStyle;
use std::ops::Range;

impl<'a> Doc<'a> {
    /// An edit that rewrites only the lines of a multi-line scalar that change.
    pub(super) fn minimal_scalar(&self, node: &Node, s: &Scalar, new: &str) -> Option<Vec<Edit>> {
        match (s.style, &s.block) {
            (ScalarStyle::Literal, Some(b)) => self.literal_lines(s, b, new),
            (ScalarStyle::Folded, Some(b)) => self.folded_lines(s, b, new),
            (ScalarStyle::Plain, _) if !self.src.same_line(node.start(), node.end()) => {
                self.plain_lines(node, s, new)
            }
            _ => None,
        }
    }

    /// The content lines of a block scalar: (source range, text without the indentation).
    fn content_lines(&self, b: &Block) -> Option<Vec<(Range<usize>, &'a str)>> {
        let src = self.src;
        let mut out = Vec::new();
        let mut q = b.content.start;
        while q <= b.content.end && b.content.start < b.content.end {
            let end = src.line_end(q).min(b.content.end);
            let line = src.slice(q..end);
            let text = match line.get(..b.indent) {
                Some(pad) if pad.bytes().all(|c| c == b' ') => line.get(b.indent..)?,
                _ if line.bytes().all(|c| c == b' ') => "",
                _ => return None,
            };
            out.push((q..end, text));
            if end >= b.content.end {
                break;
            }
            q = src.next_line(end);
        }
        Some(out)
    }

    fn literal_lines(&self, s: &Scalar, b: &Block, new: &str) -> Option<Vec<Edit>> {
        let src = self.src;
        let lines = self.content_lines(b)?;
        let old: Vec<&str> = lines.iter().map(|(_, t)| *t).collect();
        if old.is_empty() || old.join("\n") != s.value.trim_end_matches('\n') {
            return None;
        }
        let header = src.slice(b.header.clone());
        let digits: String = header.chars().filter(char::is_ascii_digit).collect();
        let tail = |t: &str| t.len() - t.trim_end_matches('\n').len();
        // `|+` keeps the blank lines after the content, which this edit does not touch.
        let keep = header.contains('+') && tail(new) == tail(&s.value) && tail(new) > 0;
        let (body, chomp) = match new.strip_suffix('\n') {
            _ if keep => (new.trim_end_matches('\n'), "+"),
            Some(body) => (body, ""),
            None => (new, "-"),
        };
        let fresh: Vec<&str> = body.split('\n').collect();
        let leading_space = fresh
            .iter()
            .find(|l| !l.is_empty())
            .is_none_or(|l| l.starts_with(' ') && digits.is_empty());
        if body.ends_with('\n')
            || leading_space
            || body
                .chars()
                .any(|c| !matches!(c, '\t' | '\n') && unprintable(c))
            || fresh.iter().any(|l| !l.is_empty() && l.trim().is_empty())
        {
            return None;
        }
        let (a, z) = common_ends(&old, &fresh);
        let pad = " ".repeat(b.indent);
        let mut out: Vec<String> = lines
            .iter()
            .take(a)
            .map(|(r, _)| src.slice(r.clone()).to_string())
            .collect();
        out.extend(fresh.iter().skip(a).take(fresh.len() - a - z).map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        }));
        out.extend(
            lines
                .iter()
                .skip(lines.len() - z)
                .map(|(r, _)| src.slice(r.clone()).to_string()),
        );
        let mut edits = vec![(b.content.clone(), out.join(self.lay.eol))];
        let new_header = format!("|{digits}{chomp}");
        if new_header != header {
            edits.push((b.header.clone(), new_header));
        }
        Some(edits)
    }

    fn folded_lines(&self, s: &Scalar, b: &Block, new: &str) -> Option<Vec<Edit>> {
        let lines = self.content_lines(b)?;
        let tail = |t: &str| t.len() - t.trim_end_matches('\n').len();
        if tail(&s.value) != tail(new)
            || lines
                .iter()
                .any(|(_, t)| t.is_empty() || t.starts_with([' ', '\t']))
        {
            return None;
        }
        let texts: Vec<&str> = lines.iter().map(|(_, t)| *t).collect();
        let ranges: Vec<Range<usize>> = lines
            .iter()
            .map(|(r, _)| r.start + b.indent..r.end)
            .collect();
        if texts.join(" ") != s.value.trim_end_matches('\n') {
            return None;
        }
        fold_edit(&ranges, &texts, new.trim_end_matches('\n'), false)
    }

    fn plain_lines(&self, node: &Node, s: &Scalar, new: &str) -> Option<Vec<Edit>> {
        let src = self.src;
        let mut ranges = Vec::new();
        let mut q = node.start();
        while q < node.end() {
            let end = src.line_end(q).min(node.end());
            let line = src.slice(q..end);
            let lead = line.len() - line.trim_start().len();
            let trail = line.len() - line.trim_end().len();
            if line.trim().is_empty() {
                return None;
            }
            ranges.push(q + lead..end - trail);
            q = src.next_line(end);
        }
        let texts: Vec<&str> = ranges.iter().map(|r| src.slice(r.clone())).collect();
        if texts.join(" ") != s.value {
            return None;
        }
        fold_edit(&ranges, &texts, new, true)
    }
}

/// Counts of equal lines at the start and at the end (not overlapping).
fn common_ends(old: &[&str], new: &[&str]) -> (usize, usize) {
    let a = old.iter().zip(new).take_while(|(o, n)| o == n).count();
    let max = old.len().min(new.len()) - a;
    let z = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max)
        .take_while(|(o, n)| o == n)
        .count();
    (a, z)
}

/// For a scalar whose lines are folded into one (plain or `>`): keep the leading and trailing
/// lines the new text still has, put the rest on one line in place of the lines that changed.
fn fold_edit(ranges: &[Range<usize>], texts: &[&str], new: &str, plain: bool) -> Option<Vec<Edit>> {
    let k = texts.len();
    if k < 2 || new.contains('\n') {
        return None;
    }
    let mut rest = new;
    let mut i = 0;
    while i + 1 < k {
        match texts
            .get(i)
            .and_then(|t| rest.strip_prefix(t))
            .and_then(|r| r.strip_prefix(' '))
        {
            Some(r) => {
                rest = r;
                i += 1;
            }
            None => break,
        }
    }
    let mut j = k;
    while j > i + 1 {
        match texts
            .get(j - 1)
            .and_then(|t| rest.strip_suffix(t))
            .and_then(|r| r.strip_suffix(' '))
        {
            Some(r) => {
                rest = r;
                j -= 1;
            }
            None => break,
        }
    }
    let unsafe_plain = plain
        && (rest.contains(" #")
            || rest.contains(": ")
            || rest.ends_with(':')
            || (i == 0 && !plain_start_ok(rest))
            || (i > 0 && rest.starts_with('#')));
    if rest.is_empty() || rest.trim() != rest || rest.chars().any(unprintable) || unsafe_plain {
        return None;
    }
    let start = ranges.get(i)?.start;
    let end = ranges.get(j - 1)?.end;
    Some(vec![(start..end, rest.to_string())])
}
