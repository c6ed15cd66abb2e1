//! The source text: byte-position helpers over the text, and the map from the parser's
//! character indices to byte offsets.

use saphyr_parser::ScalarStyle;
use std::ops::Range;

/// Byte-position helpers over the text; positions past the end are clamped, never panic.
#[derive(Clone, Copy)]
pub(super) struct Src<'a>(pub(super) &'a str);

impl<'a> Src<'a> {
    pub(super) fn bytes(self) -> &'a [u8] {
        self.0.as_bytes()
    }

    pub(super) fn byte(self, p: usize) -> Option<u8> {
        self.bytes().get(p).copied()
    }

    pub(super) fn slice(self, r: Range<usize>) -> &'a str {
        self.0.get(r).unwrap_or("")
    }

    pub(super) fn line_start(self, p: usize) -> usize {
        let p = p.min(self.0.len());
        self.bytes()
            .get(..p)
            .and_then(|b| b.iter().rposition(|&c| c == b'\n'))
            .map_or(0, |i| i + 1)
    }

    /// End of the line holding `p`, before its `\n` or `\r\n`.
    pub(super) fn line_end(self, p: usize) -> usize {
        let b = self.bytes();
        let nl = b
            .get(p..)
            .and_then(|r| r.iter().position(|&c| c == b'\n'))
            .map_or(b.len(), |i| p + i);
        if nl > p && b.get(nl - 1) == Some(&b'\r') {
            nl - 1
        } else {
            nl
        }
    }

    /// Start of the line after the one holding `p` (the end of the text if none).
    pub(super) fn next_line(self, p: usize) -> usize {
        let b = self.bytes();
        b.get(p..)
            .and_then(|r| r.iter().position(|&c| c == b'\n'))
            .map_or(b.len(), |i| p + i + 1)
    }

    /// Column in characters.
    pub(super) fn col(self, p: usize) -> usize {
        self.slice(self.line_start(p)..p).chars().count()
    }

    /// The white space (spaces, tabs in JSON) that indents the line holding `p`.
    pub(super) fn lead(self, p: usize) -> &'a str {
        let s = self.line_start(p);
        let rest = self.slice(s..self.line_end(p));
        rest.get(..rest.len() - rest.trim_start_matches([' ', '\t']).len())
            .unwrap_or("")
    }

    pub(super) fn first_on_line(self, p: usize) -> bool {
        self.bytes()
            .get(self.line_start(p)..p)
            .is_some_and(|b| b.iter().all(|&c| c == b' ' || c == b'\t'))
    }

    pub(super) fn same_line(self, a: usize, b: usize) -> bool {
        let (a, b) = (a.min(b), a.max(b));
        self.bytes().get(a..b).is_some_and(|r| !r.contains(&b'\n'))
    }

    /// Skip white space, line breaks and comments.
    pub(super) fn skip_blank(self, mut p: usize) -> usize {
        loop {
            match self.byte(p) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => p += 1,
                Some(b'#') => p = self.line_end(p),
                _ => return p,
            }
        }
    }

    /// Skip blanks and any `:`, `-` or `?` indicators that introduce a node.
    pub(super) fn after_indicators(self, slot: usize) -> usize {
        let mut p = self.skip_blank(slot);
        while matches!(self.byte(p), Some(b':' | b'-' | b'?'))
            && matches!(self.byte(p + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
        {
            p = self.skip_blank(p + 1);
        }
        p
    }

    /// Where an empty node after `slot` sits: right after its indicator.
    pub(super) fn empty_at(self, slot: usize) -> usize {
        let p = self.skip_blank(slot);
        if matches!(self.byte(p), Some(b':' | b'-' | b'?')) {
            p + 1
        } else {
            slot
        }
    }

    /// The `-` indicators that open the line holding `p`, up to `p` (`- - a` has two).
    pub(super) fn line_dashes(self, p: usize) -> Vec<usize> {
        let mut q = self.line_start(p);
        let mut out = Vec::new();
        loop {
            while self.byte(q) == Some(b' ') {
                q += 1;
            }
            let indicator = self.byte(q) == Some(b'-')
                && matches!(self.byte(q + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n'));
            if !indicator || q > p {
                return out;
            }
            out.push(q);
            q += 1;
        }
    }

    /// Move the start of a line up over the comment lines just above it (they describe it).
    pub(super) fn comments_above(self, mut line: usize) -> usize {
        while line > 0 {
            let prev = self.line_start(line - 1);
            if !self.slice(prev..line).trim_start().starts_with('#') {
                break;
            }
            line = prev;
        }
        line
    }

    /// The `:` after a mapping key ending at `p`.
    pub(super) fn colon_after(self, mut p: usize) -> Option<usize> {
        while matches!(self.byte(p), Some(b' ' | b'\t')) {
            p += 1;
        }
        (self.byte(p) == Some(b':')).then_some(p)
    }

    /// The end (after the closing quote) of the quoted scalar that opens at or after `p`.
    pub(super) fn quoted_end(self, p: usize, style: ScalarStyle) -> Option<usize> {
        let q = if style == ScalarStyle::DoubleQuoted {
            b'"'
        } else {
            b'\''
        };
        let b = self.bytes();
        let open = p + b.get(p..)?.iter().position(|&c| c == q)?;
        let mut i = open + 1;
        while let Some(&c) = b.get(i) {
            match c {
                b'\\' if q == b'"' => i += 2,
                b'\'' if q == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 2,
                c if c == q => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    }

    /// The `-` of the block sequence entry whose node starts at `p`.
    pub(super) fn dash_before(self, mut p: usize) -> Option<usize> {
        while p > 0 && self.byte(p - 1) == Some(b' ') {
            p -= 1;
        }
        (p > 0 && self.byte(p - 1) == Some(b'-')).then(|| p - 1)
    }
}

/// Converts the parser's character indices to byte offsets.
pub(super) struct CharMap {
    ascii: bool,
    /// Byte offset of every `STRIDE`th character.
    marks: Vec<usize>,
}

const STRIDE: usize = 64;

impl CharMap {
    pub(super) fn new(text: &str) -> Self {
        let ascii = text.is_ascii();
        let marks = if ascii {
            Vec::new()
        } else {
            text.char_indices()
                .step_by(STRIDE)
                .map(|(b, _)| b)
                .collect()
        };
        CharMap { ascii, marks }
    }

    pub(super) fn byte(&self, text: &str, index: usize) -> usize {
        if self.ascii {
            return index.min(text.len());
        }
        let Some(&base) = self.marks.get(index / STRIDE) else {
            return text.len();
        };
        text.get(base..)
            .and_then(|rest| rest.char_indices().nth(index % STRIDE))
            .map_or(text.len(), |(o, _)| base + o)
    }
}
