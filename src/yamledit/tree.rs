//! The node tree: a light tree of byte spans, built from the parser's events.

use super::source::{CharMap, Src};
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::ops::Range;

/// Quoting preferred for a new string (that of the scalar it replaces or sits next to).
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Quote {
    Plain,
    Single,
    Double,
}

pub(super) struct Node {
    /// Bytes of the node's text: a block scalar from its header to its last content line, a
    /// block collection from its first key or dash to the end of its last child, an empty
    /// scalar as an empty span right after its indicator.
    pub(super) span: Range<usize>,
    /// Anchor or tag on this node.
    pub(super) props: bool,
    /// Anchor, tag or alias on this node or below.
    pub(super) deep: bool,
    pub(super) kind: Kind,
}

pub(super) enum Kind {
    Scalar(Scalar),
    Map(Coll<(Node, Node)>),
    Seq(Coll<Node>),
    Alias,
}

pub(super) struct Coll<T> {
    pub(super) flow: bool,
    pub(super) items: Vec<T>,
}

pub(super) struct Scalar {
    pub(super) value: String,
    pub(super) style: ScalarStyle,
    /// A plain scalar with no text at all (`key:`).
    empty: bool,
    /// Layout of a `|` or `>` scalar; `None` when its header could not be found.
    pub(super) block: Option<Block>,
}

pub(super) struct Block {
    pub(super) header: Range<usize>,
    /// Indentation of the content lines.
    pub(super) indent: usize,
    /// From the first line after the header to the end of the last non-blank content line.
    pub(super) content: Range<usize>,
}

impl Node {
    pub(super) fn start(&self) -> usize {
        self.span.start
    }

    pub(super) fn end(&self) -> usize {
        self.span.end
    }

    pub(super) fn is_empty_scalar(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.empty)
    }

    pub(super) fn is_flow(&self) -> bool {
        match &self.kind {
            Kind::Map(c) => c.flow,
            Kind::Seq(c) => c.flow,
            _ => false,
        }
    }

    /// A non-empty flow collection.
    pub(super) fn is_filled_flow(&self) -> bool {
        match &self.kind {
            Kind::Map(c) => c.flow && !c.items.is_empty(),
            Kind::Seq(c) => c.flow && !c.items.is_empty(),
            _ => false,
        }
    }

    pub(super) fn quote(&self) -> Quote {
        match &self.kind {
            Kind::Scalar(s) => match s.style {
                ScalarStyle::SingleQuoted => Quote::Single,
                ScalarStyle::DoubleQuoted => Quote::Double,
                _ => Quote::Plain,
            },
            _ => Quote::Plain,
        }
    }

    pub(super) fn is_key(&self, name: &str) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.value == name)
    }

    pub(super) fn is_double(&self) -> bool {
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

/// Where the root node of document `doc` may start, and the root node.
pub(super) fn read_root(src: Src<'_>, doc: usize) -> Result<(usize, Node), String> {
    let (root_slot, evs) = doc_events(src.0, doc)?;
    let mut b = Builder { src, evs, pos: 0 };
    Ok((root_slot, b.node(root_slot)?))
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
