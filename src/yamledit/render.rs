//! Rendering: quoting, scalars, flow and literal text, and block lines in the document's layout.

use super::source::Src;
use super::tree::{Kind, Node, Quote};
use serde_json::Value;

/// The document's conventions, read from its text.
pub(super) struct Layout {
    pub(super) eol: &'static str,
    /// Indentation of a block mapping under its key.
    pub(super) step: usize,
    /// Column of a block sequence's dash relative to its key (0: `- a` under `key:`).
    pub(super) seq_offset: usize,
    /// Indentation step of multi-line flow collections (pretty JSON).
    pub(super) unit: String,
    /// The document is a flow collection (JSON): everything new is written as JSON.
    pub(super) json: bool,
}

impl Layout {
    pub(super) fn read(src: Src, root: &Node) -> Layout {
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
pub(super) fn unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Whether a plain scalar may start with `s` (no indicator character in the way).
pub(super) fn plain_start_ok(s: &str) -> bool {
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

pub(super) fn single_ok(s: &str) -> bool {
    !s.chars().any(unprintable)
}

pub(super) fn single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A double-quoted string valid as both JSON and YAML.
pub(super) fn double(s: &str) -> String {
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

pub(super) fn key_text(k: &str, flow: bool, json: bool) -> String {
    if !json && plain_ok(k, flow) {
        k.to_string()
    } else {
        double(k)
    }
}

/// A scalar (or an empty collection) on one line.
pub(super) fn scalar_text(v: &Value, quote: Quote, flow: bool, json: bool) -> String {
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
pub(super) fn literal(s: &str, indent: usize, eol: &str) -> Option<String> {
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
pub(super) struct FlowStyle {
    pub(super) json: bool,
    /// No space after `:` and `,` (`{"a":1,"b":2}`).
    pub(super) tight: bool,
}

impl FlowStyle {
    pub(super) fn default_for(json: bool) -> Self {
        FlowStyle { json, tight: false }
    }

    /// The separators after a key (`: `) and after an entry (`, `); no spaces when tight.
    pub(super) fn separators(&self) -> (&'static str, &'static str) {
        if self.tight { (":", ",") } else { (": ", ", ") }
    }
}

/// A value in flow style (JSON when `fs.json`); `pretty` = (indentation of the line the
/// value starts on, indentation step) writes one entry per line.
pub(super) fn flow_text(
    v: &Value,
    fs: &FlowStyle,
    quote: Quote,
    pretty: Option<(&str, &str)>,
    eol: &str,
) -> String {
    let (colon, comma) = fs.separators();
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
    pub(super) fn entry_lines(
        &self,
        key: &str,
        v: &Value,
        col: usize,
        quote: Quote,
        out: &mut Vec<String>,
    ) {
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
    pub(super) fn item_lines(&self, v: &Value, dash: usize, quote: Quote, out: &mut Vec<String>) {
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
    pub(super) fn block_lines(&self, v: &Value, col: usize, dash: usize) -> Vec<String> {
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
