//! In-place edits of YAML and JSON text for JSON Patch `add` and `replace` operations.
//!
//! A document is read into a light tree of byte spans (saphyr-parser events); each operation
//! becomes a few text edits at the spans it touches, so comments, quoting, indentation and
//! key order elsewhere stay byte-identical. Nothing is re-serialised. Every operation is
//! checked: the edited text must parse to exactly what `json_patch` makes of the parsed
//! original, or the edit is refused.

use json_patch::PatchOperation;
use saphyr_parser::{Event, Parser, ScalarStyle};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::ops::Range;

/// One text edit: the bytes of the range are replaced by the string.
type Edit = (Range<usize>, String);

/// Apply `ops` to document `doc` (0-based, in `---` order) of a YAML or JSON text, editing
/// only the spans that change. A text that parses as JSON stays JSON.
pub fn edit_doc(text: &str, doc: usize, ops: &[PatchOperation]) -> Result<String, String> {
    let json = serde_json::from_str::<Value>(text).is_ok();
    let mut want = parse_docs(text, json).map_err(|e| format!("cannot parse the text: {e}"))?;
    let mut current = text.to_string();
    for op in ops {
        let target = want
            .get_mut(doc)
            .ok_or_else(|| format!("there is no document {}", doc + 1))?;
        json_patch::patch(target, std::slice::from_ref(op))
            .map_err(|e| format!("{} {}: {e}", op_name(op), op.path()))?;
        current = apply_op(&current, doc, op, &want, json)
            .map_err(|e| format!("{} {}: {e}", op_name(op), op.path()))?;
    }
    Ok(current)
}

fn op_name(op: &PatchOperation) -> &'static str {
    match op {
        PatchOperation::Add(_) => "add",
        PatchOperation::Remove(_) => "remove",
        PatchOperation::Replace(_) => "replace",
        PatchOperation::Move(_) => "move",
        PatchOperation::Copy(_) => "copy",
        PatchOperation::Test(_) => "test",
    }
}

/// Edit `text` for one operation: the first candidate edit whose result parses to `want`.
fn apply_op(
    text: &str,
    doc: usize,
    op: &PatchOperation,
    want: &[Value],
    json: bool,
) -> Result<String, String> {
    let candidates = Doc::parse(text, doc)?.plan(op)?;
    let mut why = String::from("no way to edit the text was found");
    for edits in candidates {
        match apply(text, edits).and_then(|t| verify(&t, json, want).map(|()| t)) {
            Ok(t) => return Ok(t),
            Err(e) => why = e,
        }
    }
    Err(why)
}

fn parse_docs(text: &str, json: bool) -> Result<Vec<Value>, String> {
    if json {
        return serde_json::from_str(text)
            .map(|v| vec![v])
            .map_err(|e| e.to_string());
    }
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|de| Value::deserialize(de).map_err(|e| e.to_string()))
        .collect()
}

fn verify(text: &str, json: bool, want: &[Value]) -> Result<(), String> {
    let got = parse_docs(text, json).map_err(|e| format!("the edited text does not parse: {e}"))?;
    if got.len() != want.len() {
        return Err(format!(
            "the edited text has {} documents instead of {}",
            got.len(),
            want.len()
        ));
    }
    match got.iter().zip(want).position(|(g, w)| g != w) {
        Some(i) => Err(format!(
            "document {} of the edited text differs from the patched document",
            i + 1
        )),
        None => Ok(()),
    }
}

/// Apply non-overlapping edits, from the end of the text backwards.
fn apply(text: &str, mut edits: Vec<Edit>) -> Result<String, String> {
    edits.sort_by(|a, b| b.0.start.cmp(&a.0.start).then(b.0.end.cmp(&a.0.end)));
    let mut out = text.to_string();
    let mut limit = text.len();
    for (range, new) in edits {
        if range.start > range.end
            || range.end > limit
            || !out.is_char_boundary(range.start)
            || !out.is_char_boundary(range.end)
        {
            return Err("internal error: overlapping edits".into());
        }
        limit = range.start;
        out.replace_range(range, &new);
    }
    Ok(out)
}

// --- the source text -----------------------------------------------------------------------

/// Byte-position helpers over the text; positions past the end are clamped, never panic.
#[derive(Clone, Copy)]
struct Src<'a>(&'a str);

impl<'a> Src<'a> {
    fn bytes(self) -> &'a [u8] {
        self.0.as_bytes()
    }

    fn byte(self, p: usize) -> Option<u8> {
        self.bytes().get(p).copied()
    }

    fn slice(self, r: Range<usize>) -> &'a str {
        self.0.get(r).unwrap_or("")
    }

    fn line_start(self, p: usize) -> usize {
        let p = p.min(self.0.len());
        self.bytes()
            .get(..p)
            .and_then(|b| b.iter().rposition(|&c| c == b'\n'))
            .map_or(0, |i| i + 1)
    }

    /// End of the line holding `p`, before its `\n` or `\r\n`.
    fn line_end(self, p: usize) -> usize {
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
    fn next_line(self, p: usize) -> usize {
        let b = self.bytes();
        b.get(p..)
            .and_then(|r| r.iter().position(|&c| c == b'\n'))
            .map_or(b.len(), |i| p + i + 1)
    }

    /// Column in characters.
    fn col(self, p: usize) -> usize {
        self.slice(self.line_start(p)..p).chars().count()
    }

    /// The white space (spaces, tabs in JSON) that indents the line holding `p`.
    fn lead(self, p: usize) -> &'a str {
        let s = self.line_start(p);
        let rest = self.slice(s..self.line_end(p));
        rest.get(..rest.len() - rest.trim_start_matches([' ', '\t']).len())
            .unwrap_or("")
    }

    fn first_on_line(self, p: usize) -> bool {
        self.bytes()
            .get(self.line_start(p)..p)
            .is_some_and(|b| b.iter().all(|&c| c == b' ' || c == b'\t'))
    }

    fn same_line(self, a: usize, b: usize) -> bool {
        let (a, b) = (a.min(b), a.max(b));
        self.bytes().get(a..b).is_some_and(|r| !r.contains(&b'\n'))
    }

    /// Skip white space, line breaks and comments.
    fn skip_blank(self, mut p: usize) -> usize {
        loop {
            match self.byte(p) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => p += 1,
                Some(b'#') => p = self.line_end(p),
                _ => return p,
            }
        }
    }

    /// Skip blanks and any `:`, `-` or `?` indicators that introduce a node.
    fn after_indicators(self, slot: usize) -> usize {
        let mut p = self.skip_blank(slot);
        while matches!(self.byte(p), Some(b':' | b'-' | b'?'))
            && matches!(self.byte(p + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
        {
            p = self.skip_blank(p + 1);
        }
        p
    }

    /// Where an empty node after `slot` sits: right after its indicator.
    fn empty_at(self, slot: usize) -> usize {
        let p = self.skip_blank(slot);
        if matches!(self.byte(p), Some(b':' | b'-' | b'?')) {
            p + 1
        } else {
            slot
        }
    }

    /// The `-` indicators that open the line holding `p`, up to `p` (`- - a` has two).
    fn line_dashes(self, p: usize) -> Vec<usize> {
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
    fn comments_above(self, mut line: usize) -> usize {
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
    fn colon_after(self, mut p: usize) -> Option<usize> {
        while matches!(self.byte(p), Some(b' ' | b'\t')) {
            p += 1;
        }
        (self.byte(p) == Some(b':')).then_some(p)
    }

    /// The end (after the closing quote) of the quoted scalar that opens at or after `p`.
    fn quoted_end(self, p: usize, style: ScalarStyle) -> Option<usize> {
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
    fn dash_before(self, mut p: usize) -> Option<usize> {
        while p > 0 && self.byte(p - 1) == Some(b' ') {
            p -= 1;
        }
        (p > 0 && self.byte(p - 1) == Some(b'-')).then(|| p - 1)
    }
}

/// Converts the parser's character indices to byte offsets.
struct CharMap {
    ascii: bool,
    /// Byte offset of every `STRIDE`th character.
    marks: Vec<usize>,
}

const STRIDE: usize = 64;

impl CharMap {
    fn new(text: &str) -> Self {
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

    fn byte(&self, text: &str, index: usize) -> usize {
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

// --- the node tree -------------------------------------------------------------------------

struct Node {
    /// Bytes of the node's text: a block scalar from its header to its last content line, a
    /// block collection from its first key or dash to the end of its last child, an empty
    /// scalar as an empty span right after its indicator.
    span: Range<usize>,
    /// Anchor or tag on this node.
    props: bool,
    /// Anchor, tag or alias on this node or below.
    deep: bool,
    kind: Kind,
}

enum Kind {
    Scalar(Scalar),
    Map(Coll<(Node, Node)>),
    Seq(Coll<Node>),
    Alias,
}

struct Coll<T> {
    flow: bool,
    items: Vec<T>,
}

struct Scalar {
    value: String,
    style: ScalarStyle,
    /// A plain scalar with no text at all (`key:`).
    empty: bool,
    /// Layout of a `|` or `>` scalar; `None` when its header could not be found.
    block: Option<Block>,
}

struct Block {
    header: Range<usize>,
    /// Indentation of the content lines.
    indent: usize,
    /// From the first line after the header to the end of the last non-blank content line.
    content: Range<usize>,
}

impl Node {
    fn start(&self) -> usize {
        self.span.start
    }

    fn end(&self) -> usize {
        self.span.end
    }

    fn is_empty_scalar(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.empty)
    }

    fn is_flow(&self) -> bool {
        match &self.kind {
            Kind::Map(c) => c.flow,
            Kind::Seq(c) => c.flow,
            _ => false,
        }
    }

    /// A non-empty flow collection.
    fn is_filled_flow(&self) -> bool {
        match &self.kind {
            Kind::Map(c) => c.flow && !c.items.is_empty(),
            Kind::Seq(c) => c.flow && !c.items.is_empty(),
            _ => false,
        }
    }

    fn quote(&self) -> Quote {
        match &self.kind {
            Kind::Scalar(s) => match s.style {
                ScalarStyle::SingleQuoted => Quote::Single,
                ScalarStyle::DoubleQuoted => Quote::Double,
                _ => Quote::Plain,
            },
            _ => Quote::Plain,
        }
    }

    fn is_key(&self, name: &str) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.value == name)
    }

    fn is_double(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.style == ScalarStyle::DoubleQuoted)
    }
}

struct Ev<'a> {
    ev: Event<'a>,
    span: Range<usize>,
}

/// The events of document `doc` and where its root node may start.
fn doc_events(text: &str, doc: usize) -> Result<(usize, Vec<Ev<'_>>), String> {
    let map = CharMap::new(text);
    let mut seen = 0usize;
    let mut slot = None;
    let mut out = Vec::new();
    for r in Parser::new_from_str(text) {
        let (ev, span) = r.map_err(|e| format!("YAML syntax error: {e}"))?;
        let span = map.byte(text, span.start.index())..map.byte(text, span.end.index());
        match ev {
            Event::DocumentStart(explicit) => {
                if seen == doc {
                    slot = Some(if explicit { span.end } else { span.start });
                }
                seen += 1;
            }
            Event::DocumentEnd | Event::StreamEnd => {
                if let Some(s) = slot {
                    return Ok((s, out));
                }
            }
            _ if slot.is_some() => out.push(Ev { ev, span }),
            _ => {}
        }
    }
    Err(format!("there is no document {}", doc + 1))
}

struct Builder<'a> {
    src: Src<'a>,
    evs: Vec<Ev<'a>>,
    /// The next event to read.
    pos: usize,
}

impl<'a> Builder<'a> {
    fn peek(&self) -> Option<&Ev<'a>> {
        self.evs.get(self.pos)
    }

    fn take(&mut self) -> Option<Ev<'a>> {
        let e = self.evs.get_mut(self.pos)?;
        self.pos += 1;
        Some(Ev {
            ev: std::mem::replace(&mut e.ev, Event::Nothing),
            span: e.span.clone(),
        })
    }

    /// The next node; `slot` is where the text before it ends (a key, a sibling, a bracket).
    fn node(&mut self, slot: usize) -> Result<Node, String> {
        let Some(Ev { ev, span }) = self.take() else {
            return Err("the YAML events end inside a node".into());
        };
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let props = anchor != 0 || tag.is_some();
                Ok(self.scalar(value.into_owned(), style, props, span, slot))
            }
            Event::MappingStart(anchor, tag) => self.mapping(span, anchor != 0 || tag.is_some()),
            Event::SequenceStart(anchor, tag) => self.sequence(span, anchor != 0 || tag.is_some()),
            Event::Alias(_) => Ok(Node {
                span,
                props: true,
                deep: true,
                kind: Kind::Alias,
            }),
            other => Err(format!("unexpected YAML event {other:?}")),
        }
    }

    fn scalar(
        &self,
        value: String,
        style: ScalarStyle,
        props: bool,
        span: Range<usize>,
        slot: usize,
    ) -> Node {
        let mut empty = false;
        let mut block = None;
        let span = match style {
            ScalarStyle::Literal | ScalarStyle::Folded => {
                block = self.block(slot, &span, value.is_empty());
                block
                    .as_ref()
                    .map_or(span, |b| b.header.start..b.content.end.max(b.header.end))
            }
            // The parser places an empty scalar at the next token; it belongs after its indicator.
            ScalarStyle::Plain if value.is_empty() && span.is_empty() => {
                empty = true;
                let p = self.src.empty_at(slot);
                p..p
            }
            // The parser's span of a quoted scalar runs on over blanks and a comment.
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                span.start..self.src.quoted_end(span.start, style).unwrap_or(span.end)
            }
            _ => span,
        };
        Node {
            span,
            props,
            deep: props,
            kind: Kind::Scalar(Scalar {
                value,
                style,
                empty,
                block,
            }),
        }
    }

    /// Locate the header and content lines of a block scalar (the parser's span starts at
    /// its first content character and runs to the next token).
    fn block(&self, slot: usize, span: &Range<usize>, empty: bool) -> Option<Block> {
        let src = self.src;
        let p = src.after_indicators(slot);
        if !matches!(src.byte(p), Some(b'|' | b'>')) {
            return None;
        }
        let mut e = p + 1;
        while matches!(src.byte(e), Some(b'0'..=b'9' | b'+' | b'-')) {
            e += 1;
        }
        if !matches!(src.byte(e), None | Some(b' ' | b'\t' | b'\r' | b'\n')) {
            return None;
        }
        let header_end = src.line_end(e);
        let first = src.next_line(header_end);
        if empty {
            return Some(Block {
                header: p..e,
                indent: 0,
                content: header_end..header_end,
            });
        }
        let indent = src.col(span.start);
        if indent == 0 || span.start < first {
            return None;
        }
        let mut q = first;
        let mut last = None;
        while q < src.0.len() {
            let end = src.line_end(q);
            let line = src.bytes().get(q..end).unwrap_or_default();
            let lead = line.iter().take_while(|&&c| c == b' ').count();
            if lead < line.len() {
                if lead < indent {
                    break;
                }
                last = Some(end);
            }
            q = src.next_line(end);
        }
        Some(Block {
            header: p..e,
            indent,
            content: first..last?,
        })
    }

    fn mapping(&mut self, span: Range<usize>, props: bool) -> Result<Node, String> {
        let open = self.open_bracket(&span, '{');
        let mut cursor = open.map_or(span.start, |o| o + 1);
        let mut items: Vec<(Node, Node)> = Vec::new();
        loop {
            if let Some(Ev {
                ev: Event::MappingEnd,
                ..
            }) = self.peek()
            {
                let close = self.take().map_or(cursor, |e| e.span.start + 1);
                let start = match (open, items.first()) {
                    (Some(o), _) => o,
                    (None, Some((k, _))) => k.start(),
                    (None, None) => span.start,
                };
                let end = if open.is_some() { close } else { cursor };
                let deep = props || items.iter().any(|(k, v)| k.deep || v.deep);
                return Ok(Node {
                    span: start..end,
                    props,
                    deep,
                    kind: Kind::Map(Coll {
                        flow: open.is_some(),
                        items,
                    }),
                });
            }
            let key = self.node(cursor)?;
            let value = self.node(key.end())?;
            cursor = value.end().max(key.end());
            items.push((key, value));
        }
    }

    fn sequence(&mut self, span: Range<usize>, props: bool) -> Result<Node, String> {
        let open = self.open_bracket(&span, '[');
        let mut cursor = match open {
            Some(o) => o + 1,
            None => self.first_dash(span.start),
        };
        let mut items: Vec<Node> = Vec::new();
        loop {
            if let Some(Ev {
                ev: Event::SequenceEnd,
                ..
            }) = self.peek()
            {
                let close = self.take().map_or(cursor, |e| e.span.start + 1);
                let start = match (open, items.first()) {
                    (Some(o), _) => o,
                    (None, Some(i)) => self.src.dash_before(i.start()).unwrap_or(i.start()),
                    (None, None) => span.start,
                };
                let end = if open.is_some() { close } else { cursor };
                let deep = props || items.iter().any(|i| i.deep);
                return Ok(Node {
                    span: start..end,
                    props,
                    deep,
                    kind: Kind::Seq(Coll {
                        flow: open.is_some(),
                        items,
                    }),
                });
            }
            let item = self.node(cursor)?;
            cursor = item.end().max(cursor);
            items.push(item);
        }
    }

    /// The first dash of a block sequence whose start event is at `s`. The parser puts that
    /// event on the dash line: on the dash, after it, after a comment, or (for `- - a`, where
    /// both sequences start at the same place) on the innermost dash.
    fn first_dash(&self, s: usize) -> usize {
        let nested = self
            .evs
            .iter()
            .skip(self.pos)
            .take_while(|e| matches!(e.ev, Event::SequenceStart(..)) && e.span.start == s)
            .count();
        let dashes = self.src.line_dashes(s);
        dashes
            .len()
            .checked_sub(nested + 1)
            .and_then(|i| dashes.get(i))
            .copied()
            .unwrap_or(s)
    }

    /// The flow collection's opening bracket (the start event spans any tag before it).
    fn open_bracket(&self, span: &Range<usize>, bracket: char) -> Option<usize> {
        self.src
            .0
            .get(span.clone())
            .and_then(|s| s.rfind(bracket))
            .map(|i| span.start + i)
    }
}

// --- rendering -----------------------------------------------------------------------------

/// Quoting preferred for a new string (that of the scalar it replaces or sits next to).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Quote {
    Plain,
    Single,
    Double,
}

/// The document's conventions, read from its text.
struct Layout {
    eol: &'static str,
    /// Indentation of a block mapping under its key.
    step: usize,
    /// Column of a block sequence's dash relative to its key (0: `- a` under `key:`).
    seq_offset: usize,
    /// Indentation step of multi-line flow collections (pretty JSON).
    unit: String,
    /// The document is a flow collection (JSON): everything new is written as JSON.
    json: bool,
}

impl Layout {
    fn read(src: Src, root: &Node) -> Layout {
        let eol = match src.0.find('\n') {
            Some(i) if i > 0 && src.byte(i - 1) == Some(b'\r') => "\r\n",
            _ => "\n",
        };
        let mut found = (None, None, None);
        scan_layout(src, root, &mut found);
        Layout {
            eol,
            step: found.0.unwrap_or(2),
            seq_offset: found.1.unwrap_or(0),
            unit: found.2.unwrap_or("  ").to_string(),
            json: root.is_flow(),
        }
    }
}

type Found<'a> = (Option<usize>, Option<usize>, Option<&'a str>);

fn scan_layout<'a>(src: Src<'a>, node: &Node, found: &mut Found<'a>) {
    match &node.kind {
        Kind::Map(c) => {
            if c.flow {
                flow_unit(src, node, c.items.first().map(|(k, _)| k), found);
            }
            for (k, v) in &c.items {
                if !c.flow {
                    let (kc, vc) = (src.col(k.start()), src.col(v.start()));
                    match &v.kind {
                        Kind::Map(m) if !m.flow && vc > kc && found.0.is_none() => {
                            found.0 = Some(vc - kc)
                        }
                        Kind::Seq(s) if !s.flow && vc >= kc && found.1.is_none() => {
                            found.1 = Some(vc - kc)
                        }
                        _ => {}
                    }
                }
                scan_layout(src, v, found);
            }
        }
        Kind::Seq(c) => {
            if c.flow {
                flow_unit(src, node, c.items.first(), found);
            }
            for i in &c.items {
                scan_layout(src, i, found);
            }
        }
        _ => {}
    }
}

fn flow_unit<'a>(src: Src<'a>, node: &Node, first: Option<&Node>, found: &mut Found<'a>) {
    if found.2.is_some() {
        return;
    }
    if let Some(f) = first
        && src.first_on_line(f.start())
        && let Some(unit) = src.lead(f.start()).strip_prefix(src.lead(node.start()))
        && !unit.is_empty()
    {
        found.2 = Some(unit);
    }
}

/// Whether YAML (1.1 or 1.2) would read `s` unquoted as something other than a string.
fn looks_typed(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
        "<<", "=",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let b = s.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    digit_at(0)
        || (matches!(b.first(), Some(b'+' | b'-' | b'.'))
            && (digit_at(1) || b.get(1) == Some(&b'.')))
        || matches!(unsigned.to_ascii_lowercase().as_str(), ".inf" | ".nan")
}

/// Characters a YAML scalar cannot hold unescaped (line breaks included).
fn unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Whether a plain scalar may start with `s` (no indicator character in the way).
fn plain_start_ok(s: &str) -> bool {
    let mut c = s.chars();
    match c.next() {
        None => false,
        Some(f) if "#,[]{}&*!|>'\"%@`".contains(f) => false,
        Some(f) if "-?:".contains(f) => c.next().is_some_and(|n| !" ,[]{}".contains(n)),
        Some(_) => true,
    }
}

/// Whether `s` reads back as the same string when written plain.
fn plain_ok(s: &str, flow: bool) -> bool {
    plain_start_ok(s)
        && !(looks_typed(s)
            || s.trim() != s
            || s.chars().any(unprintable)
            || s.contains(": ")
            || s.contains(" #")
            || s.ends_with(':')
            || s.starts_with("---")
            || s.starts_with("...")
            || (flow && s.contains([',', '[', ']', '{', '}', ':', '#'])))
}

fn single_ok(s: &str) -> bool {
    !s.chars().any(unprintable)
}

fn single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A double-quoted string valid as both JSON and YAML.
fn double(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if unprintable(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn string_text(s: &str, quote: Quote, flow: bool, json: bool) -> String {
    if json {
        return double(s);
    }
    match quote {
        Quote::Plain if plain_ok(s, flow) => s.to_string(),
        Quote::Plain | Quote::Single if single_ok(s) => single(s),
        _ => double(s),
    }
}

fn key_text(k: &str, flow: bool, json: bool) -> String {
    if !json && plain_ok(k, flow) {
        k.to_string()
    } else {
        double(k)
    }
}

/// A scalar (or an empty collection) on one line.
fn scalar_text(v: &Value, quote: Quote, flow: bool, json: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s, quote, flow, json),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        other => flow_text(
            other,
            &FlowStyle::default_for(json),
            Quote::Plain,
            None,
            "\n",
        ),
    }
}

/// A literal block scalar (`|` header, line break, content lines at `indent`), if `s` can
/// be written as one without changing it.
fn literal(s: &str, indent: usize, eol: &str) -> Option<String> {
    let (body, header) = match s.strip_suffix('\n') {
        Some(b) => (b, "|"),
        None => (s, "|-"),
    };
    let lines: Vec<&str> = body.split('\n').collect();
    let ok = !body.ends_with('\n')
        && !body
            .chars()
            .any(|c| !matches!(c, '\t' | '\n') && unprintable(c))
        && lines.iter().any(|l| !l.is_empty())
        && lines.iter().all(|l| l.is_empty() || !l.trim().is_empty())
        && !lines
            .iter()
            .find(|l| !l.is_empty())
            .is_some_and(|l| l.starts_with([' ', '\t']));
    if !ok {
        return None;
    }
    let pad = " ".repeat(indent.max(1));
    let mut out = header.to_string();
    for l in lines {
        out.push_str(eol);
        if !l.is_empty() {
            out.push_str(&pad);
            out.push_str(l);
        }
    }
    Some(out)
}

#[derive(Clone, Copy)]
struct FlowStyle {
    json: bool,
    /// No space after `:` and `,` (`{"a":1,"b":2}`).
    tight: bool,
}

impl FlowStyle {
    fn default_for(json: bool) -> Self {
        FlowStyle { json, tight: false }
    }
}

/// A value in flow style (JSON when `fs.json`); `pretty` = (indentation of the line the
/// value starts on, indentation step) writes one entry per line.
fn flow_text(
    v: &Value,
    fs: &FlowStyle,
    quote: Quote,
    pretty: Option<(&str, &str)>,
    eol: &str,
) -> String {
    let (colon, comma) = if fs.tight { (":", ",") } else { (": ", ", ") };
    let deeper = pretty.map(|(base, unit)| format!("{base}{unit}"));
    let inner = deeper.as_deref().zip(pretty.map(|p| p.1));
    let parts: Vec<String> = match v {
        Value::Object(m) if !m.is_empty() => m
            .iter()
            .map(|(k, x)| {
                format!(
                    "{}{colon}{}",
                    key_text(k, true, fs.json),
                    flow_text(x, fs, Quote::Plain, inner, eol)
                )
            })
            .collect(),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| flow_text(x, fs, quote, inner, eol))
            .collect(),
        _ => return scalar_text(v, quote, true, fs.json),
    };
    let (open, close) = if v.is_object() {
        ("{", "}")
    } else {
        ("[", "]")
    };
    match pretty {
        Some((base, unit)) => {
            let sep = format!(",{eol}{base}{unit}");
            format!(
                "{open}{eol}{base}{unit}{}{eol}{base}{close}",
                parts.join(&sep)
            )
        }
        None => format!("{open}{}{close}", parts.join(comma)),
    }
}

impl Layout {
    /// Lines of `key: value` at column `col` in block style.
    fn entry_lines(&self, key: &str, v: &Value, col: usize, quote: Quote, out: &mut Vec<String>) {
        let head = format!("{}{}:", " ".repeat(col), key_text(key, false, false));
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push(head);
                for (k, x) in m {
                    self.entry_lines(k, x, col + self.step, Quote::Plain, out);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                out.push(head);
                for x in a {
                    self.item_lines(x, col + self.seq_offset, Quote::Plain, out);
                }
            }
            _ => out.push(format!("{head} {}", self.inline(v, col + self.step, quote))),
        }
    }

    /// Lines of `- value` with the dash at column `dash`.
    fn item_lines(&self, v: &Value, dash: usize, quote: Quote, out: &mut Vec<String>) {
        let pad = " ".repeat(dash);
        let mut inner = Vec::new();
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    self.entry_lines(k, x, dash + 2, Quote::Plain, &mut inner);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for x in a {
                    self.item_lines(x, dash + 2, Quote::Plain, &mut inner);
                }
            }
            _ => {
                out.push(format!("{pad}- {}", self.inline(v, dash + 2, quote)));
                return;
            }
        }
        let mut it = inner.into_iter();
        if let Some(first) = it.next() {
            out.push(format!("{pad}- {}", first.trim_start_matches(' ')));
        }
        out.extend(it);
    }

    /// A value written after `key: ` or `- `: a scalar, an empty collection, or a literal
    /// block scalar (content at `indent`) for multi-line strings.
    fn inline(&self, v: &Value, indent: usize, quote: Quote) -> String {
        if let Value::String(s) = v
            && s.contains('\n')
        {
            return literal(s, indent, self.eol).unwrap_or_else(|| double(s));
        }
        scalar_text(v, quote, false, false)
    }

    /// The block lines of a non-empty collection: mapping entries at `col`, sequence dashes
    /// at `dash`.
    fn block_lines(&self, v: &Value, col: usize, dash: usize) -> Vec<String> {
        let mut out = Vec::new();
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    self.entry_lines(k, x, col, Quote::Plain, &mut out);
                }
            }
            Value::Array(a) => {
                for x in a {
                    self.item_lines(x, dash, Quote::Plain, &mut out);
                }
            }
            _ => {}
        }
        out
    }
}

// --- planning edits ------------------------------------------------------------------------

/// Where a node sits.
#[derive(Clone, Copy)]
enum Place<'n> {
    Root,
    Entry { map: &'n Node, key: &'n Node },
    Item { seq: &'n Node, item: &'n Node },
}

/// How a node is written in its parent.
enum Slot<'n> {
    /// Inside a flow collection (`None`: the document root of a JSON document).
    Flow(Option<&'n Node>),
    Block(BlockSlot),
}

#[derive(Clone, Copy, PartialEq)]
enum BlockKind {
    Root,
    Value,
    Item,
}

struct BlockSlot {
    kind: BlockKind,
    /// Just after the `:` or `-` (or the start of the document).
    after: usize,
    /// Column of the key or of the dash.
    col: usize,
}

struct Doc<'a> {
    src: Src<'a>,
    root: Node,
    root_slot: usize,
    lay: Layout,
}

type Candidates = Vec<Vec<Edit>>;

impl<'a> Doc<'a> {
    fn parse(text: &'a str, doc: usize) -> Result<Doc<'a>, String> {
        let src = Src(text);
        let (root_slot, evs) = doc_events(text, doc)?;
        let mut b = Builder { src, evs, pos: 0 };
        let root = b.node(root_slot)?;
        let lay = Layout::read(src, &root);
        Ok(Doc {
            src,
            root,
            root_slot,
            lay,
        })
    }

    /// Candidate edits for one operation, best first.
    fn plan(&self, op: &PatchOperation) -> Result<Candidates, String> {
        match op {
            PatchOperation::Add(o) => self.add(&tokens(&o.path), &o.value),
            PatchOperation::Replace(o) => self.replace_at(&tokens(&o.path), &o.value),
            PatchOperation::Test(_) => Ok(vec![Vec::new()]),
            _ => Err("only add, replace and test operations can be edited in place".into()),
        }
    }

    fn add(&self, toks: &[String], v: &Value) -> Result<Candidates, String> {
        let Some((last, parents)) = toks.split_last() else {
            return self.replace_node(Place::Root, &self.root, v);
        };
        let (place, parent) = self.find(parents)?;
        check_open(parent)?;
        match &parent.kind {
            Kind::Map(c) => match c.items.iter().find(|(k, _)| k.is_key(last)) {
                Some((key, node)) => self.replace_node(Place::Entry { map: parent, key }, node, v),
                None => self.add_entry(place, parent, c, last, v),
            },
            Kind::Seq(c) => {
                let i = if last == "-" {
                    c.items.len()
                } else {
                    index(last).ok_or_else(|| format!("{last:?} is not an array index"))?
                };
                if i > c.items.len() {
                    return Err(format!("index {i} is past the end of the sequence"));
                }
                self.add_item(place, parent, c, i, v)
            }
            _ => Err("the parent is not a mapping or a sequence".into()),
        }
    }

    fn replace_at(&self, toks: &[String], v: &Value) -> Result<Candidates, String> {
        let Some((last, parents)) = toks.split_last() else {
            return self.replace_node(Place::Root, &self.root, v);
        };
        let (_, parent) = self.find(parents)?;
        let (place, node) = child(parent, last)?.ok_or("the path does not exist")?;
        self.replace_node(place, node, v)
    }

    /// The node at `toks` and where it sits.
    fn find(&self, toks: &[String]) -> Result<(Place<'_>, &Node), String> {
        let mut at = (Place::Root, &self.root);
        for t in toks {
            at = child(at.1, t)?.ok_or("the path does not exist")?;
        }
        Ok(at)
    }

    fn slot<'n>(&self, place: Place<'n>) -> Result<Slot<'n>, String> {
        let src = self.src;
        Ok(match place {
            Place::Root if self.lay.json => Slot::Flow(None),
            Place::Root => Slot::Block(BlockSlot {
                kind: BlockKind::Root,
                after: self.root_slot,
                col: 0,
            }),
            Place::Entry { map, .. } if map.is_flow() => Slot::Flow(Some(map)),
            Place::Entry { key, .. } => {
                let colon = src
                    .colon_after(key.end())
                    .ok_or("no ':' found after the key")?;
                Slot::Block(BlockSlot {
                    kind: BlockKind::Value,
                    after: colon + 1,
                    col: src.col(key.start()),
                })
            }
            Place::Item { seq, .. } if seq.is_flow() => Slot::Flow(Some(seq)),
            Place::Item { item, .. } => {
                let dash = src
                    .dash_before(item.start())
                    .ok_or("no '-' found before the sequence item")?;
                Slot::Block(BlockSlot {
                    kind: BlockKind::Item,
                    after: dash + 1,
                    col: src.col(dash),
                })
            }
        })
    }

    fn replace_node(&self, place: Place<'_>, node: &Node, v: &Value) -> Result<Candidates, String> {
        if node.deep {
            return Err("the node (or something in it) has an anchor, alias or tag".into());
        }
        if let Kind::Scalar(s) = &node.kind
            && matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded)
            && s.block.is_none()
        {
            return Err("the block scalar's header could not be located".into());
        }
        Ok(match self.slot(place)? {
            Slot::Flow(parent) => vec![self.flow_replace(parent, node, v)],
            Slot::Block(b) => self.block_replace(&b, node, v),
        })
    }

    fn flow_replace(&self, parent: Option<&Node>, node: &Node, v: &Value) -> Vec<Edit> {
        let fs = self.flow_style(parent);
        let text = match (&node.kind, v) {
            (_, Value::Object(_) | Value::Array(_)) => {
                let pretty = match parent {
                    Some(p) => self.multiline(p),
                    None => !self.src.same_line(node.start(), node.end()),
                };
                let pretty = pretty.then(|| (self.src.lead(node.start()), self.lay.unit.as_str()));
                flow_text(v, &fs, Quote::Plain, pretty, self.lay.eol)
            }
            _ => scalar_text(v, node.quote(), true, fs.json),
        };
        vec![(node.span.clone(), text)]
    }

    fn block_replace(&self, b: &BlockSlot, node: &Node, v: &Value) -> Candidates {
        let mut out = Vec::new();
        if let (Kind::Scalar(s), Value::String(new)) = (&node.kind, v)
            && let Some(e) = self.minimal_scalar(node, s, new)
        {
            out.push(e);
        }
        out.push(self.block_full(b, node, v));
        if let Value::String(s) = v
            && s.contains('\n')
        {
            out.push(self.put_inline(b, node, double(s)));
        }
        out
    }

    /// Rewrite the whole node.
    fn block_full(&self, b: &BlockSlot, node: &Node, v: &Value) -> Vec<Edit> {
        let filled = match v {
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => false,
        };
        if filled && node.is_filled_flow() {
            let fs = self.flow_style(Some(node));
            return self.put_inline(b, node, flow_text(v, &fs, Quote::Plain, None, self.lay.eol));
        }
        if filled {
            return self.put_block(b, node, v);
        }
        if let Value::String(s) = v
            && s.contains('\n')
        {
            let indent = match &node.kind {
                Kind::Scalar(Scalar {
                    block: Some(blk), ..
                }) if blk.indent > 0 => blk.indent,
                _ if b.kind == BlockKind::Item => b.col + 2,
                _ => b.col + self.lay.step,
            };
            if let Some(t) = literal(s, indent, self.lay.eol) {
                return self.put_literal(b, node, t);
            }
        }
        self.put_inline(b, node, scalar_text(v, node.quote(), false, false))
    }

    /// Replace `span` by `t`. Text after the span on its line (a comment) stays on the
    /// first line of `t`: after the last line it could become part of a block scalar.
    fn over(&self, span: Range<usize>, t: &str) -> Edit {
        let eol = self.lay.eol;
        let le = self.src.line_end(span.end);
        let tail = self.src.slice(span.end..le);
        match t.split_once(eol) {
            Some((first, rest)) if !tail.trim().is_empty() => {
                (span.start..le, format!("{first}{tail}{eol}{rest}"))
            }
            _ => (span, t.to_string()),
        }
    }

    /// Put one-line text where the node is (after its indicator if it is elsewhere).
    fn put_inline(&self, b: &BlockSlot, node: &Node, t: String) -> Vec<Edit> {
        let src = self.src;
        if node.is_empty_scalar() {
            vec![(b.after..b.after, format!(" {t}"))]
        } else if src.same_line(b.after, node.start()) {
            vec![self.over(node.span.clone(), &t)]
        } else {
            // Keep a comment after the indicator: the new value goes before it. A comment
            // after the old value goes with it.
            vec![
                (b.after..b.after, format!(" {t}")),
                (
                    src.line_end(b.after)..src.line_end(node.end()),
                    String::new(),
                ),
            ]
        }
    }

    fn put_literal(&self, b: &BlockSlot, node: &Node, t: String) -> Vec<Edit> {
        if node.is_empty_scalar() {
            vec![self.over(b.after..b.after, &format!(" {t}"))]
        } else if self.src.same_line(b.after, node.start()) {
            vec![self.over(node.span.clone(), &t)]
        } else {
            vec![(b.after..self.src.line_end(node.end()), format!(" {t}"))]
        }
    }

    /// Put a non-empty collection in block style in place of the node.
    fn put_block(&self, b: &BlockSlot, node: &Node, v: &Value) -> Vec<Edit> {
        let src = self.src;
        let eol = self.lay.eol;
        let same = !node.is_empty_scalar() && src.same_line(b.after, node.start());
        match b.kind {
            BlockKind::Value => {
                let lines =
                    self.lay
                        .block_lines(v, b.col + self.lay.step, b.col + self.lay.seq_offset);
                let body = format!("{eol}{}", lines.join(eol));
                if same || node.is_empty_scalar() {
                    let le = src.line_end(node.end());
                    vec![(b.after..node.end(), String::new()), (le..le, body)]
                } else {
                    vec![(src.line_end(b.after)..src.line_end(node.end()), body)]
                }
            }
            BlockKind::Item => {
                let col = if same {
                    src.col(node.start())
                } else {
                    b.col + 2
                };
                let t = compact(&self.lay.block_lines(v, col, col), eol);
                if node.is_empty_scalar() {
                    vec![self.over(b.after..b.after, &format!(" {t}"))]
                } else if same {
                    vec![self.over(node.span.clone(), &t)]
                } else {
                    vec![
                        (b.after..b.after, format!(" {t}")),
                        (
                            src.line_end(b.after)..src.line_end(node.end()),
                            String::new(),
                        ),
                    ]
                }
            }
            BlockKind::Root => {
                let t = self.lay.block_lines(v, 0, 0).join(eol);
                if node.is_empty_scalar() {
                    let le = src.line_end(b.after);
                    vec![(le..le, format!("{eol}{t}"))]
                } else {
                    vec![self.over(node.span.clone(), &t)]
                }
            }
        }
    }

    fn add_entry(
        &self,
        place: Place<'_>,
        map: &Node,
        c: &Coll<(Node, Node)>,
        key: &str,
        v: &Value,
    ) -> Result<Candidates, String> {
        let (Some((first, _)), Some((_, last))) = (c.items.first(), c.items.last()) else {
            let mut m = Map::new();
            m.insert(key.to_string(), v.clone());
            return self.replace_node(place, map, &Value::Object(m));
        };
        let src = self.src;
        let eol = self.lay.eol;
        if !c.flow {
            let mut lines = Vec::new();
            self.lay
                .entry_lines(key, v, src.col(first.start()), last.quote(), &mut lines);
            let at = src.line_end(last.end());
            return Ok(vec![vec![(at..at, format!("{eol}{}", lines.join(eol)))]]);
        }
        let fs = self.flow_style(Some(map));
        let colon = if fs.tight { ":" } else { ": " };
        let k = key_text(key, true, fs.json);
        let t = if self.multiline(map) {
            let pad = src.lead(first.start());
            let value = flow_text(v, &fs, last.quote(), Some((pad, &self.lay.unit)), eol);
            format!(",{eol}{pad}{k}{colon}{value}")
        } else {
            let comma = if fs.tight { "," } else { ", " };
            let value = flow_text(v, &fs, last.quote(), None, eol);
            format!("{comma}{k}{colon}{value}")
        };
        Ok(vec![vec![(last.end()..last.end(), t)]])
    }

    fn add_item(
        &self,
        place: Place<'_>,
        seq: &Node,
        c: &Coll<Node>,
        i: usize,
        v: &Value,
    ) -> Result<Candidates, String> {
        let (Some(first), Some(last)) = (c.items.first(), c.items.last()) else {
            return self.replace_node(place, seq, &Value::Array(vec![v.clone()]));
        };
        let src = self.src;
        let eol = self.lay.eol;
        let before = c.items.get(i);
        let quote = before.unwrap_or(last).quote();
        if !c.flow {
            let dash_of = |n: &Node| {
                src.dash_before(n.start())
                    .ok_or("no '-' found before a sequence item")
            };
            let Some(next) = before else {
                let mut lines = Vec::new();
                self.lay
                    .item_lines(v, src.col(dash_of(first)?), quote, &mut lines);
                let at = src.line_end(last.end());
                return Ok(vec![vec![(at..at, format!("{eol}{}", lines.join(eol)))]]);
            };
            let dash = dash_of(next)?;
            let col = src.col(dash);
            let mut lines = Vec::new();
            self.lay.item_lines(v, col, quote, &mut lines);
            let edit = if src.first_on_line(dash) {
                let at = src.comments_above(src.line_start(dash));
                (at..at, format!("{}{eol}", lines.join(eol)))
            } else {
                // `- - a`: the new item takes the dash's place, the old one moves down.
                (
                    dash..dash,
                    format!("{}{eol}{}", compact(&lines, eol), " ".repeat(col)),
                )
            };
            return Ok(vec![vec![edit]]);
        }
        let fs = self.flow_style(Some(seq));
        let multi = self.multiline(seq);
        let edit = match before {
            None if multi => {
                let pad = src.lead(first.start());
                let value = flow_text(v, &fs, quote, Some((pad, &self.lay.unit)), eol);
                let at = last.end();
                (at..at, format!(",{eol}{pad}{value}"))
            }
            None => {
                let comma = if fs.tight { "," } else { ", " };
                let at = last.end();
                (
                    at..at,
                    format!("{comma}{}", flow_text(v, &fs, quote, None, eol)),
                )
            }
            Some(next) if multi && src.first_on_line(next.start()) => {
                let pad = src.lead(next.start());
                let value = flow_text(v, &fs, quote, Some((pad, &self.lay.unit)), eol);
                let at = next.start();
                (at..at, format!("{value},{eol}{pad}"))
            }
            Some(next) => {
                let comma = if fs.tight { "," } else { ", " };
                let at = next.start();
                (
                    at..at,
                    format!("{}{comma}", flow_text(v, &fs, quote, None, eol)),
                )
            }
        };
        Ok(vec![vec![edit]])
    }

    /// JSON inside a JSON document or a flow collection whose keys (or strings) are all
    /// double-quoted; YAML flow style otherwise.
    fn flow_style(&self, coll: Option<&Node>) -> FlowStyle {
        let Some(coll) = coll else {
            return FlowStyle::default_for(self.lay.json);
        };
        let src = self.src;
        let (json, tight) = match &coll.kind {
            Kind::Map(c) => (
                !c.items.is_empty() && c.items.iter().all(|(k, _)| k.is_double()),
                c.items.first().is_some_and(|(k, _)| {
                    src.colon_after(k.end()).is_some_and(|p| {
                        !matches!(src.byte(p + 1), Some(b' ' | b'\t' | b'\r' | b'\n'))
                    })
                }),
            ),
            Kind::Seq(c) => {
                let strings: Vec<&Node> = c
                    .items
                    .iter()
                    .filter(|i| matches!(&i.kind, Kind::Scalar(s) if s.style != ScalarStyle::Plain))
                    .collect();
                let tight = c.items.first().is_some_and(|f| {
                    let p = src.skip_blank(f.end());
                    src.byte(p) == Some(b',')
                        && c.items.len() > 1
                        && src.byte(p + 1) != Some(b' ')
                        && !matches!(src.byte(p + 1), Some(b'\r' | b'\n'))
                });
                (
                    !strings.is_empty() && strings.iter().all(|i| i.is_double()),
                    tight,
                )
            }
            _ => (false, false),
        };
        FlowStyle {
            json: json || self.lay.json,
            tight,
        }
    }

    /// A flow collection written one entry per line (its closing bracket on a line of its own).
    fn multiline(&self, coll: &Node) -> bool {
        let (first, last) = match &coll.kind {
            Kind::Map(c) => (
                c.items.first().map(|(k, _)| k),
                c.items.last().map(|(_, v)| v),
            ),
            Kind::Seq(c) => (c.items.first(), c.items.last()),
            _ => (None, None),
        };
        match (first, last) {
            (Some(f), Some(l)) => {
                self.src.first_on_line(f.start())
                    && !self.src.same_line(l.end(), coll.end().saturating_sub(1))
            }
            _ => false,
        }
    }

    // --- keeping unchanged lines of multi-line scalars --------------------------------------

    /// An edit that rewrites only the lines of a multi-line scalar that change.
    fn minimal_scalar(&self, node: &Node, s: &Scalar, new: &str) -> Option<Vec<Edit>> {
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

/// `compact` form of block lines: the first line without its indentation (after `- `).
fn compact(lines: &[String], eol: &str) -> String {
    let mut it = lines.iter();
    let mut out = it
        .next()
        .map(|f| f.trim_start_matches(' ').to_string())
        .unwrap_or_default();
    for l in it {
        out.push_str(eol);
        out.push_str(l);
    }
    out
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

fn tokens(p: &json_patch::jsonptr::Pointer) -> Vec<String> {
    p.tokens().map(|t| t.decoded().into_owned()).collect()
}

/// An RFC 6901 array index (no leading zeros).
fn index(tok: &str) -> Option<usize> {
    let digits = !tok.is_empty() && tok.bytes().all(|c| c.is_ascii_digit());
    if !digits || (tok.len() > 1 && tok.starts_with('0')) {
        return None;
    }
    tok.parse().ok()
}

/// Refuse to edit through anchors, aliases, tags and merge keys: the text would not say
/// what the document means.
fn check_open(node: &Node) -> Result<(), String> {
    if node.props || matches!(node.kind, Kind::Alias) {
        return Err("the path goes through an anchor, alias or tag".into());
    }
    if let Kind::Map(c) = &node.kind
        && c.items.iter().any(|(k, _)| k.is_key("<<"))
    {
        return Err("the path goes through a mapping with a merge key (<<)".into());
    }
    Ok(())
}

/// The child of `node` named by `tok`, and where it sits.
fn child<'n>(node: &'n Node, tok: &str) -> Result<Option<(Place<'n>, &'n Node)>, String> {
    check_open(node)?;
    match &node.kind {
        Kind::Map(c) => Ok(c
            .items
            .iter()
            .find(|(k, _)| k.is_key(tok))
            .map(|(key, v)| (Place::Entry { map: node, key }, v))),
        Kind::Seq(c) => Ok(index(tok)
            .and_then(|i| c.items.get(i))
            .map(|item| (Place::Item { seq: node, item }, item))),
        _ => Err("the path goes through a scalar".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Vec<PatchOperation> {
        serde_json::from_value(v).unwrap()
    }

    fn edit(text: &str, v: Value) -> Result<String, String> {
        edit_doc(text, 0, &ops(v))
    }

    /// Each case: (name, text, ops, expected text).
    fn check_table(cases: &[(&str, &str, Value, &str)]) {
        let mut failures = Vec::new();
        for (name, text, v, want) in cases {
            match edit(text, v.clone()) {
                Ok(got) if got == *want => {}
                Ok(got) => failures.push(format!("{name}:\n--- want\n{want}\n--- got\n{got}")),
                Err(e) => failures.push(format!("{name}: error {e}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    const POD: &str = "\
# kubeadm static pod
apiVersion: v1
kind: Pod
metadata:
  name: kube-controller-manager   # the name
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-controller-manager
    - --bind-address=127.0.0.1
    # a comment between flags
    - --feature-gates=A=true   # keep me
    - --leader-elect=true
    image: registry.k8s.io/kube-controller-manager:v1.34.2
    name: kube-controller-manager
    volumeMounts:
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
# trailing comment
";

    #[test]
    fn block_sequences() {
        check_table(&[
            (
                "replace a list item, its comment kept",
                POD,
                json!([{"op": "replace", "path": "/spec/containers/0/command/2", "value": "--feature-gates=A=true,RotateKubeletServerCertificate=true"}]),
                &POD.replace("- --feature-gates=A=true   # keep me", "- --feature-gates=A=true,RotateKubeletServerCertificate=true   # keep me"),
            ),
            (
                "append a string",
                POD,
                json!([{"op": "add", "path": "/spec/containers/0/command/-", "value": "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt"}]),
                &POD.replace("    - --leader-elect=true\n", "    - --leader-elect=true\n    - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt\n"),
            ),
            (
                "insert before an item (a `--` terminator)",
                "args:\n  - --a=1\n  # the rest is not for us\n  - --\n  - --b=2\n",
                json!([{"op": "add", "path": "/args/1", "value": "--x=y"}, {"op": "add", "path": "/args/2", "value": "--z=w"}]),
                "args:\n  - --a=1\n  - --x=y\n  - --z=w\n  # the rest is not for us\n  - --\n  - --b=2\n",
            ),
            (
                "insert at 0",
                "args:\n- a\n- b\n",
                json!([{"op": "add", "path": "/args/0", "value": "z"}]),
                "args:\n- z\n- a\n- b\n",
            ),
            (
                "append a mapping (indentless sequence)",
                POD,
                json!([{"op": "add", "path": "/spec/volumes/-", "value": {"name": "kubelet-tls-guard-pki", "hostPath": {"path": "/etc/kubernetes/pki", "type": "Directory"}}}]),
                &POD.replace("    name: k8s-certs\n# trailing", "    name: k8s-certs\n  - name: kubelet-tls-guard-pki\n    hostPath:\n      path: /etc/kubernetes/pki\n      type: Directory\n# trailing"),
            ),
            (
                "append a mapping (indented sequence, 4 spaces)",
                "spec:\n    extraArgs:\n        - name: a\n          value: b\n    other: 1\n",
                json!([{"op": "add", "path": "/spec/extraArgs/-", "value": {"name": "feature-gates", "value": "X=true"}}]),
                "spec:\n    extraArgs:\n        - name: a\n          value: b\n        - name: feature-gates\n          value: X=true\n    other: 1\n",
            ),
            (
                "append a string that must be quoted",
                "args:\n- a\n",
                json!([{"op": "add", "path": "/args/-", "value": "x: y"}, {"op": "add", "path": "/args/-", "value": "true"}]),
                "args:\n- a\n- 'x: y'\n- 'true'\n",
            ),
            (
                "new items follow the quoting of their neighbours",
                "args:\n- \"--a\"\n",
                json!([{"op": "add", "path": "/args/-", "value": "--b"}]),
                "args:\n- \"--a\"\n- \"--b\"\n",
            ),
            (
                "nested sequences",
                "a:\n- - x\n  - y\n",
                json!([{"op": "add", "path": "/a/0/0", "value": "w"}, {"op": "add", "path": "/a/0/-", "value": "z"}]),
                "a:\n- - w\n  - x\n  - y\n  - z\n",
            ),
        ]);
    }

    #[test]
    fn block_mappings() {
        let cfg = "\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# gates
featureGates:
  GracefulNodeShutdown: true   # on
  RotateKubeletServerCertificate: false
serverTLSBootstrap: false
rotateCertificates: true

# about the next document
---
kind: Other
";
        check_table(&[
            (
                "replace scalars, comments kept",
                cfg,
                json!([
                    {"op": "replace", "path": "/featureGates/RotateKubeletServerCertificate", "value": true},
                    {"op": "replace", "path": "/serverTLSBootstrap", "value": true},
                ]),
                &cfg.replace("Certificate: false", "Certificate: true").replace("Bootstrap: false", "Bootstrap: true"),
            ),
            (
                "add keys: after the last entry, before trailing comments and ---",
                cfg,
                json!([
                    {"op": "add", "path": "/featureGates/KubeletTracing", "value": true},
                    {"op": "add", "path": "/tlsCipherSuites", "value": ["A", "B"]},
                    {"op": "add", "path": "/authentication", "value": {"x509": {"clientCAFile": "/etc/ca.crt"}, "anonymous": {"enabled": false}}},
                ]),
                &cfg.replace("Certificate: false\n", "Certificate: false\n  KubeletTracing: true\n").replace(
                    "rotateCertificates: true\n",
                    "rotateCertificates: true\ntlsCipherSuites:\n- A\n- B\nauthentication:\n  x509:\n    clientCAFile: /etc/ca.crt\n  anonymous:\n    enabled: false\n",
                ),
            ),
            (
                "add a key whose value is a sequence (detected indented style)",
                "spec:\n  containers:\n    - name: c\n      image: i\n",
                json!([{"op": "add", "path": "/spec/containers/0/args", "value": ["--x=y"]}]),
                "spec:\n  containers:\n    - name: c\n      image: i\n      args:\n        - --x=y\n",
            ),
            (
                "add volumes to a pod spec",
                "spec:\n  containers:\n  - name: c\n  hostNetwork: true\n",
                json!([{"op": "add", "path": "/spec/volumes", "value": [{"name": "p", "hostPath": {"path": "/etc/kubernetes/pki", "type": "Directory"}}]}]),
                "spec:\n  containers:\n  - name: c\n  hostNetwork: true\n  volumes:\n  - name: p\n    hostPath:\n      path: /etc/kubernetes/pki\n      type: Directory\n",
            ),
            (
                "4-space mapping indentation is followed",
                "featureGates:\n    RuntimeClass: true\nx: 1\n",
                json!([{"op": "add", "path": "/featureGates/RotateKubeletServerCertificate", "value": true}, {"op": "add", "path": "/a", "value": {"b": 1}}]),
                "featureGates:\n    RuntimeClass: true\n    RotateKubeletServerCertificate: true\nx: 1\na:\n    b: 1\n",
            ),
            (
                "extraArgs map and list forms",
                "apiServer:\n  extraArgs:\n    feature-gates: A=true\n    authorization-mode: Node,RBAC\ncontrollerManager:\n  extraArgs:\n  - name: v\n    value: \"2\"\n  - name: feature-gates\n    value: A=false\n",
                json!([
                    {"op": "replace", "path": "/apiServer/extraArgs/feature-gates", "value": "A=true,RotateKubeletServerCertificate=true"},
                    {"op": "replace", "path": "/controllerManager/extraArgs/1/value", "value": "A=true"},
                    {"op": "add", "path": "/apiServer/extraArgs/kubelet-certificate-authority", "value": "/etc/kubernetes/pki/ca.crt"},
                ]),
                "apiServer:\n  extraArgs:\n    feature-gates: A=true,RotateKubeletServerCertificate=true\n    authorization-mode: Node,RBAC\n    kubelet-certificate-authority: /etc/kubernetes/pki/ca.crt\ncontrollerManager:\n  extraArgs:\n  - name: v\n    value: \"2\"\n  - name: feature-gates\n    value: A=true\n",
            ),
            (
                "keys that need quoting, JSON pointer escapes",
                "a: 1\n",
                json!([{"op": "add", "path": "/x~1y", "value": 1}, {"op": "add", "path": "/true", "value": "yes"}, {"op": "add", "path": "/b: c", "value": "d #e"}]),
                "a: 1\nx/y: 1\n\"true\": 'yes'\n\"b: c\": 'd #e'\n",
            ),
            (
                "a key with an empty value",
                "a:\nb: 1\n",
                json!([{"op": "replace", "path": "/a", "value": "x"}]),
                "a: x\nb: 1\n",
            ),
        ]);
    }

    #[test]
    fn quoting_styles() {
        check_table(&[
            (
                "single quotes stay single",
                "a: 'x'\n",
                json!([{"op": "replace", "path": "/a", "value": "it's"}]),
                "a: 'it''s'\n",
            ),
            (
                "double quotes stay double",
                "a: \"x\"  # c\n",
                json!([{"op": "replace", "path": "/a", "value": "say \"hi\"\\"}]),
                "a: \"say \\\"hi\\\"\\\\\"  # c\n",
            ),
            (
                "plain stays plain when safe",
                "a: x\n",
                json!([{"op": "replace", "path": "/a", "value": "--feature-gates=A=true,B=false"}]),
                "a: --feature-gates=A=true,B=false\n",
            ),
            (
                "plain becomes quoted when the text would read as something else",
                "a: x\nb: x\nc: x\nd: x\ne: x\nf: x\ng: x\n",
                json!([
                    {"op": "replace", "path": "/a", "value": "true"},
                    {"op": "replace", "path": "/b", "value": "1"},
                    {"op": "replace", "path": "/c", "value": "yes"},
                    {"op": "replace", "path": "/d", "value": "a: b"},
                    {"op": "replace", "path": "/e", "value": "a #b"},
                    {"op": "replace", "path": "/f", "value": "- x"},
                    {"op": "replace", "path": "/g", "value": ""},
                ]),
                "a: 'true'\nb: '1'\nc: 'yes'\nd: 'a: b'\ne: 'a #b'\nf: '- x'\ng: ''\n",
            ),
            (
                "control characters force double quotes",
                "a: x\n",
                json!([{"op": "replace", "path": "/a", "value": "tab\there"}]),
                "a: \"tab\\there\"\n",
            ),
            (
                "a bool replacing a quoted string is written plain",
                "a: \"false\"\n",
                json!([{"op": "replace", "path": "/a", "value": true}]),
                "a: true\n",
            ),
        ]);
    }

    #[test]
    fn replacing_null_and_collections() {
        check_table(&[
            (
                "null → mapping",
                "featureGates:\nx: 1\n",
                json!([{"op": "replace", "path": "/featureGates", "value": {"RotateKubeletServerCertificate": true}}]),
                "featureGates:\n  RotateKubeletServerCertificate: true\nx: 1\n",
            ),
            (
                "explicit null → mapping, comment kept on the key line",
                "featureGates: null   # none\nx: 1\n",
                json!([{"op": "replace", "path": "/featureGates", "value": {"RotateKubeletServerCertificate": true}}]),
                "featureGates:   # none\n  RotateKubeletServerCertificate: true\nx: 1\n",
            ),
            (
                "mapping → list",
                "apiServer:\n  extraArgs:\n    a: b\n    c: d\n  x: 1\n",
                json!([{"op": "replace", "path": "/apiServer/extraArgs", "value": [{"name": "a", "value": "b"}]}]),
                "apiServer:\n  extraArgs:\n  - name: a\n    value: b\n  x: 1\n",
            ),
            (
                "collection → scalar",
                "a: # c\n  b: 1\n  d: 2\ne: 3\n",
                json!([{"op": "replace", "path": "/a", "value": "s"}]),
                "a: s # c\ne: 3\n",
            ),
            (
                "sequence item scalar → mapping",
                "l:\n- a\n- b\n",
                json!([{"op": "replace", "path": "/l/0", "value": {"name": "x", "value": "v"}}]),
                "l:\n- name: x\n  value: v\n- b\n",
            ),
            (
                "empty flow collections in block style grow into block style",
                "controllerManager: {}\nargs: []\n",
                json!([
                    {"op": "add", "path": "/controllerManager/extraArgs", "value": [{"name": "feature-gates", "value": "X=true"}]},
                    {"op": "add", "path": "/args/-", "value": "--x"},
                ]),
                "controllerManager:\n  extraArgs:\n  - name: feature-gates\n    value: X=true\nargs:\n- --x\n",
            ),
            (
                "an empty item with a comment becomes a mapping",
                "l:\n-   # fill me\n- b\n",
                json!([{"op": "replace", "path": "/l/0", "value": {"a": "x\ny"}}]),
                "l:\n- a: |-   # fill me\n    x\n    y\n- b\n",
            ),
            (
                "empty items wherever the parser puts their sequence",
                "k:\n-\n- b\nj:\n  -   # c\n  - x\nl:\n- - p\n  -\n",
                json!([
                    {"op": "replace", "path": "/k/0", "value": "a"},
                    {"op": "replace", "path": "/j/0", "value": "w"},
                    {"op": "replace", "path": "/l/0/1", "value": "q"},
                ]),
                "k:\n- a\n- b\nj:\n  - w   # c\n  - x\nl:\n- - p\n  - q\n",
            ),
            (
                "an empty sequence item",
                "l:\n-\n- b\n",
                json!([{"op": "replace", "path": "/l/0", "value": "a"}]),
                "l:\n- a\n- b\n",
            ),
            (
                "the whole document",
                "--- a\n",
                json!([{"op": "replace", "path": "", "value": "b"}]),
                "--- b\n",
            ),
            (
                "a bare scalar document",
                "hello\n",
                json!([{"op": "replace", "path": "", "value": "x: y"}]),
                "'x: y'\n",
            ),
        ]);
    }

    #[test]
    fn flow_styles() {
        let pretty = "{\n  \"kind\": \"KubeletConfiguration\",\n  \"featureGates\": {},\n  \"args\": [\n    \"a\"\n  ],\n  \"maxPods\": 58\n}\n";
        check_table(&[
            (
                "pretty JSON: add keys and items on their own lines",
                pretty,
                json!([
                    {"op": "add", "path": "/serverTLSBootstrap", "value": true},
                    {"op": "add", "path": "/featureGates/RotateKubeletServerCertificate", "value": true},
                    {"op": "add", "path": "/args/-", "value": "b"},
                    {"op": "add", "path": "/args/0", "value": "z"},
                    {"op": "add", "path": "/volumes", "value": [{"name": "p", "hostPath": {"path": "/x"}}]},
                ]),
                "{\n  \"kind\": \"KubeletConfiguration\",\n  \"featureGates\": {\n    \"RotateKubeletServerCertificate\": true\n  },\n  \"args\": [\n    \"z\",\n    \"a\",\n    \"b\"\n  ],\n  \"maxPods\": 58,\n  \"serverTLSBootstrap\": true,\n  \"volumes\": [\n    {\n      \"name\": \"p\",\n      \"hostPath\": {\n        \"path\": \"/x\"\n      }\n    }\n  ]\n}\n",
            ),
            (
                "pretty JSON: replace values",
                pretty,
                json!([
                    {"op": "replace", "path": "/maxPods", "value": "many"},
                    {"op": "replace", "path": "/kind", "value": "K"},
                    {"op": "replace", "path": "/args", "value": {"a": 1}},
                ]),
                "{\n  \"kind\": \"K\",\n  \"featureGates\": {},\n  \"args\": {\n    \"a\": 1\n  },\n  \"maxPods\": \"many\"\n}\n",
            ),
            (
                "compact JSON stays compact",
                "{\"a\":1,\"b\":[1,2]}",
                json!([{"op": "add", "path": "/c", "value": {"d": "e"}}, {"op": "add", "path": "/b/-", "value": 3}]),
                "{\"a\":1,\"b\":[1,2,3],\"c\":{\"d\":\"e\"}}",
            ),
            (
                "one-line JSON with spaces",
                "{\"a\": 1, \"b\": [\"x\"]}\n",
                json!([{"op": "add", "path": "/c", "value": "y"}, {"op": "add", "path": "/b/0", "value": "w"}]),
                "{\"a\": 1, \"b\": [\"w\", \"x\"], \"c\": \"y\"}\n",
            ),
            (
                "4-space JSON",
                "{\n    \"a\": {\n        \"b\": 1\n    }\n}\n",
                json!([{"op": "add", "path": "/a/c", "value": {"d": [true]}}]),
                "{\n    \"a\": {\n        \"b\": 1,\n        \"c\": {\n            \"d\": [\n                true\n            ]\n        }\n    }\n}\n",
            ),
            (
                "tab-indented JSON",
                "{\n\t\"a\": [\n\t\t1\n\t]\n}\n",
                json!([{"op": "add", "path": "/b", "value": {"c": 1}}, {"op": "add", "path": "/a/-", "value": 2}]),
                "{\n\t\"a\": [\n\t\t1,\n\t\t2\n\t],\n\t\"b\": {\n\t\t\"c\": 1\n\t}\n}\n",
            ),
            (
                "YAML flow sequences in block documents",
                "command: [kube-controller-manager, --a=1]\nargs: [\"--x\"]\n",
                json!([
                    {"op": "add", "path": "/command/-", "value": "--feature-gates=A=true,B=true"},
                    {"op": "add", "path": "/args/-", "value": "--y"},
                    {"op": "replace", "path": "/command/1", "value": "--a=2"},
                ]),
                "command: [kube-controller-manager, --a=2, '--feature-gates=A=true,B=true']\nargs: [\"--x\", \"--y\"]\n",
            ),
            (
                "a comment after a flow collection stays after it",
                "args: [a, b]  # flags\nx: {k: v}   # map\n",
                json!([{"op": "add", "path": "/args/-", "value": "c"}, {"op": "add", "path": "/x/l", "value": "m"}]),
                "args: [a, b, c]  # flags\nx: {k: v, l: m}   # map\n",
            ),
            (
                "embedded YAML in a JSON string",
                "{\"data\": {\"kubelet\": \"a: 1\\n\"}}",
                json!([{"op": "replace", "path": "/data/kubelet", "value": "a: 1\nb: \"2\"\n"}]),
                "{\"data\": {\"kubelet\": \"a: 1\\nb: \\\"2\\\"\\n\"}}",
            ),
            (
                "the root of a JSON document",
                "{\"a\": 1}\n",
                json!([{"op": "replace", "path": "", "value": {"b": [1]}}]),
                "{\"b\": [1]}\n",
            ),
            (
                "YAML flow mapping",
                "labels: {a: b}\n",
                json!([{"op": "add", "path": "/labels/c", "value": "d"}]),
                "labels: {a: b, c: d}\n",
            ),
        ]);
    }

    #[test]
    fn documents_and_line_endings() {
        let stream = "a: 1\n---\n# second\nb: 2\n...\n---\nc: 3\n";
        assert_eq!(
            edit_doc(
                stream,
                1,
                &ops(json!([{"op": "add", "path": "/x", "value": [1]}]))
            )
            .unwrap(),
            "a: 1\n---\n# second\nb: 2\nx:\n- 1\n...\n---\nc: 3\n"
        );
        assert_eq!(
            edit_doc(
                stream,
                2,
                &ops(json!([{"op": "replace", "path": "/c", "value": 4}]))
            )
            .unwrap(),
            "a: 1\n---\n# second\nb: 2\n...\n---\nc: 4\n"
        );
        assert!(
            edit_doc(
                stream,
                3,
                &ops(json!([{"op": "add", "path": "/x", "value": 1}]))
            )
            .is_err()
        );
        check_table(&[
            (
                "CRLF is kept in new lines",
                "a:\r\n  b: 1\r\nl:\r\n- x\r\n",
                json!([
                    {"op": "add", "path": "/a/c", "value": {"d": 1}},
                    {"op": "add", "path": "/l/-", "value": "y"},
                ]),
                "a:\r\n  b: 1\r\n  c:\r\n    d: 1\r\nl:\r\n- x\r\n- 'y'\r\n",
            ),
            (
                "no newline at the end of the text",
                "a: 1",
                json!([{"op": "add", "path": "/b", "value": 2}]),
                "a: 1\nb: 2",
            ),
            (
                "non-ASCII text before the edit",
                "name: \"é ü 日本\"\nx: ü\n",
                json!([{"op": "replace", "path": "/x", "value": "ß"}, {"op": "add", "path": "/z", "value": "ö"}]),
                "name: \"é ü 日本\"\nx: ß\nz: ö\n",
            ),
        ]);
    }

    #[test]
    fn multi_line_scalars() {
        let cm = "data:\n  kubelet: |\n    apiVersion: v1\n    # a comment inside the text\n    kind: KubeletConfiguration\n\n    rotateCertificates: true\n  other: x\n";
        check_table(&[
            (
                "literal block: only changed lines are rewritten",
                cm,
                json!([{"op": "replace", "path": "/data/kubelet", "value": "apiVersion: v1\n# a comment inside the text\nkind: KubeletConfiguration\n\nrotateCertificates: true\nserverTLSBootstrap: true\n"}]),
                "data:\n  kubelet: |\n    apiVersion: v1\n    # a comment inside the text\n    kind: KubeletConfiguration\n\n    rotateCertificates: true\n    serverTLSBootstrap: true\n  other: x\n",
            ),
            (
                "literal block after non-ASCII text",
                "# ünïcode\ndata:\n  kubelet: |\n    # ünïcode\n    a: ü\n",
                json!([{"op": "replace", "path": "/data/kubelet", "value": "# ünïcode\na: ü\nb: ß\n"}]),
                "# ünïcode\ndata:\n  kubelet: |\n    # ünïcode\n    a: ü\n    b: ß\n",
            ),
            (
                "literal block: chomping follows the new text",
                cm,
                json!([{"op": "replace", "path": "/data/kubelet", "value": "apiVersion: v2\n# a comment inside the text\nkind: KubeletConfiguration\n\nrotateCertificates: true"}]),
                "data:\n  kubelet: |-\n    apiVersion: v2\n    # a comment inside the text\n    kind: KubeletConfiguration\n\n    rotateCertificates: true\n  other: x\n",
            ),
            (
                "literal block with keep chomping",
                "a: |+\n  x\n  y\n\nb: 1\n",
                json!([{"op": "replace", "path": "/a", "value": "x\nz\n\n"}]),
                "a: |+\n  x\n  z\n\nb: 1\n",
            ),
            (
                "a multi-line string replacing a plain one becomes a literal block",
                "data:\n  kubelet: x\n",
                json!([{"op": "replace", "path": "/data/kubelet", "value": "a: 1\nb: 2\n"}]),
                "data:\n  kubelet: |\n    a: 1\n    b: 2\n",
            ),
            (
                "a multi-line string with trailing blank lines is double-quoted",
                "data:\n  kubelet: x\n",
                json!([{"op": "replace", "path": "/data/kubelet", "value": "a\n\n"}]),
                "data:\n  kubelet: \"a\\n\\n\"\n",
            ),
            (
                "a new multi-line value",
                "data:\n  a: 1\n",
                json!([{"op": "add", "path": "/data/b", "value": "x\ny"}]),
                "data:\n  a: 1\n  b: |-\n    x\n    y\n",
            ),
            (
                "multi-line plain scalar: only the changed line",
                "command:\n- /bin/sh\n- -c\n- /hyperkube controller-manager\n  --master=127.0.0.1:8080\n  --v=2 >/var/log/kcm.log 2>&1\nimage: x\n",
                json!([{"op": "replace", "path": "/command/2", "value": "/hyperkube controller-manager --master=127.0.0.1:8080 --v=2 --feature-gates=R=true >/var/log/kcm.log 2>&1"}]),
                "command:\n- /bin/sh\n- -c\n- /hyperkube controller-manager\n  --master=127.0.0.1:8080\n  --v=2 --feature-gates=R=true >/var/log/kcm.log 2>&1\nimage: x\n",
            ),
            (
                "folded block: only the changed line",
                "command:\n- sh\n- >\n  exec kcm\n  --a=1\n  --b=2\n",
                json!([{"op": "replace", "path": "/command/1", "value": "exec kcm --a=1 --x=y --b=2\n"}]),
                "command:\n- sh\n- >\n  exec kcm\n  --a=1\n  --x=y --b=2\n",
            ),
        ]);
    }

    #[test]
    fn refuses_what_it_cannot_edit_safely() {
        let refuse = |text: &str, v: Value, why: &str| {
            let e = edit(text, v).expect_err(text);
            assert!(e.contains(why), "{e}");
        };
        refuse(
            "base: &b\n  x: 1\ncopy: *b\n",
            json!([{"op": "add", "path": "/base/y", "value": 1}]),
            "anchor",
        );
        refuse(
            "a: !!str x\n",
            json!([{"op": "replace", "path": "/a", "value": "y"}]),
            "tag",
        );
        refuse(
            "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",
            json!([{"op": "add", "path": "/m/z", "value": 1}]),
            "merge key",
        );
        refuse(
            "a: 1\n",
            json!([{"op": "remove", "path": "/a"}]),
            "only add, replace",
        );
        refuse(
            "a: 1\n",
            json!([{"op": "replace", "path": "/b", "value": 1}]),
            "/b",
        );
        refuse(
            "l: [1]\n",
            json!([{"op": "add", "path": "/l/5", "value": 1}]),
            "/l/5",
        );
        refuse(
            "a: [\n",
            json!([{"op": "add", "path": "/b", "value": 1}]),
            "parse",
        );
        // Untouched anchors elsewhere do not stop an edit.
        assert_eq!(
            edit(
                "x: &a 1\ny: *a\nz: 2\n",
                json!([{"op": "replace", "path": "/z", "value": 3}])
            )
            .unwrap(),
            "x: &a 1\ny: *a\nz: 3\n"
        );
    }

    #[test]
    fn test_operations_edit_nothing() {
        assert_eq!(
            edit("a: 1\n", json!([{"op": "test", "path": "/a", "value": 1}])).unwrap(),
            "a: 1\n"
        );
        assert!(edit("a: 1\n", json!([{"op": "test", "path": "/a", "value": 2}])).is_err());
    }

    #[test]
    fn serde_yaml_output_is_edited_in_place() {
        // What Plan::finish sees for generated ConfigMaps.
        let cfg = json!({"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "featureGates": {"KubeletTracing": true, "RotateKubeletServerCertificate": false},
            "tlsCipherSuites": ["A", "B"], "serverTLSBootstrap": false});
        let text = serde_yaml_ng::to_string(&cfg).unwrap();
        let out = edit(
            &text,
            json!([
                {"op": "replace", "path": "/featureGates/RotateKubeletServerCertificate", "value": true},
                {"op": "replace", "path": "/serverTLSBootstrap", "value": true},
                {"op": "add", "path": "/tlsCipherSuites/-", "value": "C"},
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            text.replace("Certificate: false", "Certificate: true")
                .replace("- B\n", "- B\n- C\n")
                .replace("Bootstrap: false", "Bootstrap: true")
        );
    }

    // --- generated documents ------------------------------------------------------------------

    use proptest::prelude::*;
    use proptest::sample::{Index, select};

    const ODD: &[&str] = &[
        "true",
        "yes",
        "No",
        "null",
        "~",
        "",
        "-",
        "--",
        "---",
        "a: b",
        "x #y",
        " lead",
        "trail ",
        "é ü",
        "1.5",
        "0x1F",
        "[x]",
        "{y}",
        "*a",
        "&b",
        "!t",
        "%p",
        "@q",
        "`r",
        "'s'",
        "\"d\"",
        "a,b",
        "k=v,w=z",
        "#c",
        "? q",
        ": c",
        "tab\there",
        "back\\slash",
        "\u{85}nel",
    ];

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::from),
            (-1000i64..1000).prop_map(Value::from),
            Just(Value::Null),
            "[a-zA-Z0-9 ,:#'\"=/._-]{0,12}".prop_map(Value::from),
            select(ODD).prop_map(Value::from),
            "[a-z]{1,6}(\n[a-z ]{0,6}){1,3}\n?".prop_map(Value::from),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-z]{1,8}",
            1 => select(&["a b", "true", "x:y", "1", "-k", "k/", "~t", "é", "#h", "a: b"][..]).prop_map(String::from),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn root() -> impl Strategy<Value = Value> {
        prop::collection::vec((key(), value()), 1..5)
            .prop_map(|kv| Value::Object(kv.into_iter().collect()))
    }

    /// How the generator writes block YAML.
    #[derive(Debug, Clone, Copy)]
    struct Style {
        step: usize,
        seq_offset: usize,
        comments: bool,
        /// Strings that need quotes get single ones where they can.
        single: bool,
        /// Collections of scalars are written `[a, b]` / `{k: v}`.
        flow: bool,
        crlf: bool,
        /// The document is the second of three.
        stream: bool,
    }

    fn simple(s: &str) -> bool {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_ascii_lowercase())
            && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"].contains(&s)
    }

    /// A literal block for a clean multi-line string.
    fn literal_block(s: &str, indent: usize) -> Option<String> {
        let (body, header) = match s.strip_suffix('\n') {
            Some(b) => (b, "|"),
            None => (s, "|-"),
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let clean = lines.len() > 1
            && !body.ends_with('\n')
            && !lines[0].is_empty()
            && !lines[0].starts_with(' ')
            && lines.iter().all(|l| l.trim_end() == *l);
        clean.then(|| {
            let pad = " ".repeat(indent);
            let mut out = header.to_string();
            for l in lines {
                out.push('\n');
                if !l.is_empty() {
                    out.push_str(&pad);
                    out.push_str(l);
                }
            }
            out
        })
    }

    fn scalar(v: &Value, indent: usize, st: Style) -> String {
        match v {
            Value::Null => String::new(),
            Value::String(s) if simple(s) => s.clone(),
            Value::String(s) if s.contains('\n') => {
                literal_block(s, indent).unwrap_or_else(|| double(s))
            }
            Value::String(s) if st.single && single_ok(s) => single(s),
            Value::String(s) => double(s),
            Value::Array(_) if st.flow => flow_of(v).unwrap_or_default(),
            Value::Object(_) if st.flow => flow_of(v).unwrap_or_default(),
            Value::Array(_) => "[]".into(),
            Value::Object(_) => "{}".into(),
            other => other.to_string(),
        }
    }

    /// A collection of one-line scalars in flow style.
    fn flow_of(v: &Value) -> Option<String> {
        let one = |x: &Value| match x {
            Value::String(s) if simple(s) => Some(s.clone()),
            Value::String(s) if !s.contains('\n') => Some(double(s)),
            Value::Null => Some("null".into()),
            Value::Array(_) | Value::Object(_) | Value::String(_) => None,
            other => Some(other.to_string()),
        };
        match v {
            Value::Array(a) => {
                let items: Option<Vec<String>> = a.iter().map(one).collect();
                Some(format!("[{}]", items?.join(", ")))
            }
            Value::Object(m) => {
                let items: Option<Vec<String>> = m
                    .iter()
                    .map(|(k, x)| Some(format!("{}: {}", key_yaml(k), one(x)?)))
                    .collect();
                Some(format!("{{{}}}", items?.join(", ")))
            }
            _ => None,
        }
    }

    /// Written on one line: a scalar, or a collection of scalars in flow style.
    fn one_line(v: &Value, st: Style) -> bool {
        !filled(v) || (st.flow && flow_of(v).is_some())
    }

    fn comment(st: Style, v: &Value, n: usize) -> String {
        let v = if filled(v) { &Value::Bool(true) } else { v };
        let multi = matches!(v, Value::String(s) if s.contains('\n'));
        if st.comments && n.is_multiple_of(2) && !multi {
            format!("  # c{n}")
        } else {
            String::new()
        }
    }

    fn key_yaml(k: &str) -> String {
        if simple(k) { k.to_string() } else { double(k) }
    }

    fn filled(v: &Value) -> bool {
        matches!(v, Value::Object(m) if !m.is_empty())
            || matches!(v, Value::Array(a) if !a.is_empty())
    }

    fn yaml_map(m: &Map<String, Value>, col: usize, st: Style, out: &mut String) {
        let pad = " ".repeat(col);
        for (i, (k, v)) in m.iter().enumerate() {
            if st.comments && i % 2 == 1 {
                out.push_str(&format!("{pad}# about {k}\n"));
            }
            let k = key_yaml(k);
            match v {
                _ if filled(v) && one_line(v, st) => out.push_str(&format!(
                    "{pad}{k}: {}{}\n",
                    scalar(v, col + st.step, st),
                    comment(st, v, i)
                )),
                Value::Object(c) if !c.is_empty() => {
                    out.push_str(&format!("{pad}{k}:{}\n", comment(st, v, i)));
                    yaml_map(c, col + st.step, st, out);
                }
                Value::Array(a) if !a.is_empty() => {
                    out.push_str(&format!("{pad}{k}:\n"));
                    yaml_seq(a, col + st.seq_offset, st, out);
                }
                Value::Null => out.push_str(&format!("{pad}{k}:{}\n", comment(st, v, i))),
                _ => out.push_str(&format!(
                    "{pad}{k}: {}{}\n",
                    scalar(v, col + st.step, st),
                    comment(st, v, i)
                )),
            }
        }
    }

    fn yaml_seq(a: &[Value], dash: usize, st: Style, out: &mut String) {
        let pad = " ".repeat(dash);
        for (i, v) in a.iter().enumerate() {
            if filled(v) && !one_line(v, st) {
                let mut inner = String::new();
                match v {
                    Value::Object(m) => yaml_map(m, dash + 2, st, &mut inner),
                    Value::Array(x) => yaml_seq(x, dash + 2, st, &mut inner),
                    _ => {}
                }
                out.push_str(&format!("{pad}- {}", &inner[dash + 2..]));
            } else if v.is_null() {
                out.push_str(&format!("{pad}-{}\n", comment(st, v, i)));
            } else {
                out.push_str(&format!(
                    "{pad}- {}{}\n",
                    scalar(v, dash + 2, st),
                    comment(st, v, i)
                ));
            }
        }
    }

    fn yaml_text(v: &Value, st: Style) -> String {
        let mut out = if st.comments {
            "# generated\n".to_string()
        } else {
            String::new()
        };
        if let Value::Object(m) = v {
            yaml_map(m, 0, st, &mut out);
        }
        if st.comments {
            out.push_str("# the end\n");
        }
        if st.stream {
            out = format!("pre: 1\n---\n{out}---\npost: [1]\n");
        }
        if st.crlf {
            out = out.replace('\n', "\r\n");
        }
        out
    }

    fn esc(k: &str) -> String {
        k.replace('~', "~0").replace('/', "~1")
    }

    /// Pointers to every node below the root (and whether it is a mapping / sequence).
    fn nodes(v: &Value, at: &str, out: &mut Vec<(String, Value)>) {
        out.push((at.to_string(), v.clone()));
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    nodes(x, &format!("{at}/{}", esc(k)), out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    nodes(x, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    type Pick = (u8, Index, Index, Value, String);

    /// Turn picks into operations on the evolving document; also says whether every
    /// operation only adds to a non-empty collection (so no existing line may change).
    fn build_ops(doc: &Value, picks: &[Pick]) -> (Vec<PatchOperation>, Value, bool) {
        let mut doc = doc.clone();
        let mut out = Vec::new();
        let mut pure_adds = true;
        for (kind, a, b, v, k) in picks {
            let mut all = Vec::new();
            nodes(&doc, "", &mut all);
            let maps: Vec<&(String, Value)> = all.iter().filter(|(_, x)| x.is_object()).collect();
            let seqs: Vec<&(String, Value)> = all.iter().filter(|(_, x)| x.is_array()).collect();
            let op = match kind {
                0 => {
                    let (p, m) = maps[a.index(maps.len())];
                    pure_adds &= filled(m) && m.get(k.as_str()).is_none();
                    json!({"op": "add", "path": format!("{p}/{}", esc(k)), "value": v})
                }
                1 if !seqs.is_empty() => {
                    let (p, s) = seqs[a.index(seqs.len())];
                    let len = s.as_array().map_or(0, Vec::len);
                    let i = b.index(len + 2);
                    // Inserting before the first item of `- - a` moves that line down.
                    pure_adds &= len > 0 && i >= len;
                    let at = if i > len {
                        "-".to_string()
                    } else {
                        i.to_string()
                    };
                    json!({"op": "add", "path": format!("{p}/{at}"), "value": v})
                }
                _ => {
                    pure_adds = false;
                    let (p, _) = &all[1 + a.index(all.len() - 1)];
                    json!({"op": "replace", "path": p, "value": v})
                }
            };
            let op: PatchOperation = serde_json::from_value(op).unwrap();
            json_patch::patch(&mut doc, std::slice::from_ref(&op)).unwrap();
            out.push(op);
        }
        (out, doc, pure_adds)
    }

    fn pick() -> impl Strategy<Value = Pick> {
        (0u8..3, any::<Index>(), any::<Index>(), value(), key())
    }

    fn style() -> impl Strategy<Value = Style> {
        (prop_oneof![Just(2usize), Just(4)], any::<[bool; 6]>()).prop_map(
            |(step, [indented, comments, single, flow, crlf, stream])| Style {
                step,
                seq_offset: if indented { step } else { 0 },
                comments,
                single,
                flow,
                crlf,
                stream,
            },
        )
    }

    fn docs(text: &str) -> Vec<Value> {
        serde_yaml_ng::Deserializer::from_str(text)
            .map(|de| Value::deserialize(de).unwrap())
            .collect()
    }

    fn is_subsequence(a: &str, b: &str) -> bool {
        let mut it = b.lines();
        a.lines().all(|line| it.any(|l| l == line))
    }

    const INDENTS: &[&[u8]] = &[b"  ", b"    ", b"\t"];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn block_yaml_edits_parse_to_the_patched_document(
            doc in root(),
            st in style(),
            picks in prop::collection::vec(pick(), 1..4),
        ) {
            let text = yaml_text(&doc, st);
            let n = usize::from(st.stream);
            let mut expect = docs(&text);
            prop_assert_eq!(expect.get(n), Some(&doc), "the generator wrote\n{}", text);
            let (ops, want, pure_adds) = build_ops(&doc, &picks);
            expect[n] = want;
            let out = edit_doc(&text, n, &ops);
            let out = match out {
                Ok(t) => t,
                Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}\nops {ops:?}"))),
            };
            prop_assert_eq!(docs(&out), expect, "\n{}\n=>\n{}", text, out);
            if st.crlf {
                prop_assert!(!out.replace("\r\n", "").contains('\n'), "LF in a CRLF text:\n{:?}", out);
            }
            if pure_adds && !st.flow {
                prop_assert!(is_subsequence(&text, &out), "lines changed:\n{}\n=>\n{}", text, out);
            }
        }

        #[test]
        fn json_edits_stay_json(
            doc in root(),
            indent in select(INDENTS),
            picks in prop::collection::vec(pick(), 1..4),
        ) {
            let text = pretty_json(&doc, indent);
            let (ops, want, _) = build_ops(&doc, &picks);
            let out = match edit_doc(&text, 0, &ops) {
                Ok(t) => t,
                Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}\nops {ops:?}"))),
            };
            let got: Value = serde_json::from_str(&out)
                .map_err(|e| TestCaseError::fail(format!("not JSON: {e}\n{out}")))?;
            prop_assert_eq!(&got, &want, "\n{}\n=>\n{}", text, out);
            // Pretty JSON stays pretty: as if printed again (serde_json leaves U+0085 raw).
            let again = pretty_json(&want, indent);
            if !again.contains('\u{85}') {
                prop_assert_eq!(out, again);
            }
        }
    }

    fn pretty_json(v: &Value, indent: &[u8]) -> String {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut buf,
            serde_json::ser::PrettyFormatter::with_indent(indent),
        );
        serde::Serialize::serialize(v, &mut ser).unwrap();
        String::from_utf8(buf).unwrap() + "\n"
    }
}
