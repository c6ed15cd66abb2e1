//! Reading node files and telling what they hold from their content: YAML or JSON objects
//! (multi-document, `List`s), kubelet flag files (`KEY="…"` env files, systemd drop-ins).

use crate::engine::read::flags::{Flags, Origin, Token};
use crate::engine::read::shell;
use serde_json::Value;
use std::ops::Range;
use std::path::Path;

/// Larger files are refused: no manifest or kubelet config comes near this.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    /// `KEY="value"` lines (kubeadm-flags.env, /etc/default/kubelet).
    EnvFile,
    /// A systemd unit or drop-in (`Environment=`, `ExecStart=`).
    Systemd,
}

/// One thing found in a file.
#[derive(Debug, Clone)]
pub enum Item {
    /// Document `doc` of a YAML/JSON stream (a `List` item keeps its document's index and
    /// gives its pointer prefix in `item`).
    Object {
        doc: usize,
        item: Option<usize>,
        value: Value,
    },
    /// A document that could not be parsed.
    Invalid { doc: usize, reason: String },
    /// The kubelet flags a flag file sets.
    KubeletFlags(FlagFile),
}

#[derive(Debug, Clone)]
pub struct FlagFile {
    /// The variables (or `ExecStart`) that hold flags, in the order the kubelet sees them.
    pub location: String,
    /// Tokens carry `Origin::Text` spans into the file text.
    pub flags: Flags,
}

#[derive(Debug, Clone)]
pub struct Parsed {
    pub format: Format,
    pub items: Vec<Item>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct InputError(pub String);

/// Read a file as text, refusing what cannot be a manifest (too big, binary, not UTF-8).
pub fn read(path: &Path) -> Result<String, InputError> {
    // The path is named by the caller's message; the reason alone says what went wrong.
    let bytes = crate::fsio::read_regular(path, MAX_FILE_BYTES)
        .map_err(|e| InputError(format!("cannot read: {}", e.reason)))?;
    decode(bytes)
}

/// Bytes to text, refusing binary content.
pub fn decode(bytes: Vec<u8>) -> Result<String, InputError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(InputError(format!(
            "input is over the {} MiB limit",
            MAX_FILE_BYTES / 1024 / 1024
        )));
    }
    if bytes.contains(&0) {
        return Err(InputError(
            "binary content (NUL bytes), not a manifest or config file".into(),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        InputError(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    // Editors on Windows write a byte-order mark; YAML and JSON parsers choke on it mid-stream.
    Ok(match text.strip_prefix(BOM) {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// The UTF-8 byte-order mark [`decode`] strips (and `fix` puts back).
pub const BOM: &str = "\u{feff}";

/// The name people use for an object: `namespace/name`, or its kind when it has no name.
pub fn object_name(v: &Value) -> String {
    let name = v.pointer("/metadata/name").and_then(Value::as_str);
    let ns = v.pointer("/metadata/namespace").and_then(Value::as_str);
    match (ns, name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.to_string(),
        _ => v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string(),
    }
}

/// Tell the format from the content.
pub fn detect(text: &str) -> Format {
    let meaningful = || {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
    };
    if text.trim_start().starts_with('{') {
        return Format::Json;
    }
    // Unit files are not indented: an indented `ExecStart=` is a unit inside a YAML string.
    let unindented = || {
        text.lines()
            .filter(|l| !l.starts_with([' ', '\t']))
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
    };
    if unindented().any(|l| l.starts_with('[') && l.ends_with(']') && !l.contains(','))
        || unindented().any(|l| {
            l.starts_with("ExecStart=")
                || l.starts_with("Environment=")
                || l.starts_with("EnvironmentFile=")
        })
    {
        return Format::Systemd;
    }
    if meaningful().next().is_some() && env_file(text).is_some() {
        return Format::EnvFile;
    }
    Format::Yaml
}

/// The assignments of an env file (`KEY=value`, `export KEY=value`), read as systemd's
/// EnvironmentFile= reads them: an unquoted value runs to the end of the line, a quoted one may
/// span lines, and a backslash before a newline continues the line. Each value is split into
/// words at whitespace, as `$KEY` expands, with every word's span where it stands in `text`.
/// `None` when a line that is not blank or a comment is not an assignment.
fn env_file(text: &str) -> Option<Vec<Var>> {
    let mut vars = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = text.get(i..)?;
        let line_end = rest.find('\n').map_or(text.len(), |n| i + n);
        let line = text.get(i..line_end)?;
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') || body.starts_with(';') {
            i = line_end + 1;
            continue;
        }
        let body = body.strip_prefix("export ").map_or(body, str::trim_start);
        let (name, _) = body.split_once('=')?;
        if !is_env_name(name) {
            return None;
        }
        let value_start = line_end - line.len() + (line.len() - body.len()) + name.len() + 1;
        let (chars, end) = env_value(text, value_start)?;
        vars.push(Var {
            name: name.to_string(),
            tokens: split_words(&chars),
        });
        i = end + 1;
    }
    Some(vars)
}

/// The characters of one env-file value starting at `start`, each with its offset in `text`,
/// and where the assignment ends (its newline). `None` for an unterminated quote.
fn env_value(text: &str, start: usize) -> Option<(Vec<(usize, char)>, usize)> {
    let mut out = Vec::new();
    let mut it = text
        .get(start..)?
        .char_indices()
        .map(|(k, c)| (start + k, c))
        .peekable();
    let mut quote: Option<char> = None;
    while let Some((at, c)) = it.next() {
        match (quote, c) {
            (None, '\n') => return Some((trim_end(out), at)),
            (None, '"' | '\'') if out.is_empty() => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push((at, c)),
            (_, '\\') => match it.next() {
                Some((_, '\n')) => {}
                Some((e, esc)) => out.push((e, esc)),
                None => {}
            },
            (_, c) => out.push((at, c)),
        }
    }
    quote.is_none().then(|| (trim_end(out), text.len()))
}

fn trim_end(mut chars: Vec<(usize, char)>) -> Vec<(usize, char)> {
    while chars.last().is_some_and(|(_, c)| c.is_whitespace()) {
        chars.pop();
    }
    chars
}

/// Words at whitespace, each with the span from its first to its last character in the text.
fn split_words(chars: &[(usize, char)]) -> Vec<Token> {
    let mut tokens = Vec::new();
    for word in chars
        .split(|(_, c)| c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let (Some(&(first, _)), Some(&(last, lc))) = (word.first(), word.last()) else {
            continue;
        };
        tokens.push(Token {
            text: word.iter().map(|(_, c)| c).collect(),
            origin: Origin::Text {
                span: first..last + lc.len_utf8(),
            },
        });
    }
    tokens
}

fn is_env_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One `NAME=value` word of an `Environment=` line (at `word.span` in `text`) as a variable.
/// The word's characters come with their offsets from the tokenizer, so quotes anywhere in the
/// word are removed as systemd removes them and every value word keeps its place in `text`.
fn assignment(text: &str, word: &shell::Word) -> Option<Var> {
    let raw = text.get(word.span.clone())?;
    let offsets = shell::word_offsets(raw).ok()?;
    let eq = word.text.find('=')?;
    let name = &word.text[..eq];
    if !is_env_name(name) {
        return None;
    }
    let chars: Vec<(usize, char)> = word
        .text
        .char_indices()
        .skip_while(|&(k, _)| k <= eq)
        .filter_map(|(k, c)| Some((word.span.start + offsets.get(k)?, c)))
        .collect();
    Some(Var {
        name: name.to_string(),
        tokens: split_words(&chars),
    })
}

/// Parse `text` into the items the rules look at.
pub fn parse(text: &str) -> Result<Parsed, InputError> {
    if text.trim().is_empty() {
        return Err(InputError("empty file".into()));
    }
    let format = detect(text);
    let items = match format {
        Format::Json => match serde_json::from_str::<Value>(text) {
            Ok(v) => objects(0, v),
            // JSON-looking YAML (flow style) is still YAML.
            Err(_) => yaml(text)?,
        },
        Format::Yaml => yaml(text)?,
        Format::EnvFile => flag_file(text, &env_vars(text), None),
        Format::Systemd => {
            let (vars, exec) = systemd(text);
            flag_file(text, &vars, exec)
        }
    };
    Ok(Parsed { format, items })
}

fn objects(doc: usize, value: Value) -> Vec<Item> {
    if value.is_null() {
        return Vec::new();
    }
    // `kubectl get -o yaml` of several objects gives a List.
    if value.get("kind").and_then(Value::as_str) == Some("List")
        && let Some(items) = value.get("items").and_then(Value::as_array)
    {
        return items
            .iter()
            .enumerate()
            .map(|(i, v)| Item::Object {
                doc,
                item: Some(i),
                value: v.clone(),
            })
            .collect();
    }
    vec![Item::Object {
        doc,
        item: None,
        value,
    }]
}

fn yaml(text: &str) -> Result<Vec<Item>, InputError> {
    let docs = crate::yaml::documents(text).map_err(InputError)?;
    let mut items = Vec::new();
    for (doc, parsed) in docs.into_iter().enumerate() {
        match parsed {
            Ok(v) => items.extend(objects(doc, v)),
            Err(reason) => items.push(Item::Invalid { doc, reason }),
        }
    }
    Ok(items)
}

/// A variable assignment: its name and the words of its value, with their spans in the file.
struct Var {
    name: String,
    tokens: Vec<Token>,
}

fn line_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |l| {
        let start = offset;
        offset += l.len();
        (start, l.trim_end_matches(['\n', '\r']))
    })
}

fn env_vars(text: &str) -> Vec<Var> {
    env_file(text).unwrap_or_default()
}

/// `Environment=` assignments and the effective `ExecStart=` (its span) of a unit file.
fn systemd(text: &str) -> (Vec<Var>, Option<Range<usize>>) {
    let mut vars = Vec::new();
    let mut exec = None;
    let mut lines = line_spans(text).peekable();
    while let Some((start, line)) = lines.next() {
        let trimmed = line.trim_start();
        let lead = start + line.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix("Environment=") {
            let base = lead + "Environment=".len();
            for mut w in shell::words(rest).unwrap_or_default() {
                w.span = base + w.span.start..base + w.span.end;
                vars.extend(assignment(text, &w));
            }
        } else if let Some(rest) = trimmed.strip_prefix("ExecStart=") {
            let mut end = start + line.len();
            // Continuation lines end with a backslash.
            let mut last = line;
            while last.ends_with('\\') {
                match lines.next() {
                    Some((s, l)) => {
                        end = s + l.len();
                        last = l;
                    }
                    None => break,
                }
            }
            let vstart = lead + "ExecStart=".len();
            // An empty ExecStart= resets the command (drop-ins do this first).
            exec = if rest.trim().is_empty() {
                None
            } else {
                Some(vstart..end)
            };
        }
    }
    (vars, exec)
}

/// Collect kubelet flags: ExecStart's words (expanding `$VAR`s defined here), then the
/// `KUBELET_*` variables it does not reference.
fn flag_file(text: &str, vars: &[Var], exec: Option<Range<usize>>) -> Vec<Item> {
    let var_tokens = |v: &Var| v.tokens.clone();
    let mut tokens = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    if let Some(r) = exec {
        let words = shell::words(&text[r.clone()]).unwrap_or_default();
        let runs_kubelet = words
            .first()
            .is_some_and(|w| w.text.rsplit('/').next() == Some("kubelet"));
        if runs_kubelet {
            for w in words.iter().skip(1) {
                let name = w
                    .text
                    .trim_start_matches('$')
                    .trim_start_matches('{')
                    .trim_end_matches('}');
                if w.text.starts_with('$') {
                    // Only the last assignment of a variable counts.
                    if let Some(v) = vars.iter().rev().find(|v| v.name == name) {
                        tokens.extend(var_tokens(v));
                        if !v.tokens.is_empty() {
                            names.push(v.name.clone());
                        }
                    }
                    used.push(name.to_string());
                } else {
                    tokens.push(Token {
                        text: w.text.clone(),
                        origin: Origin::Text {
                            span: r.start + w.span.start..r.start + w.span.end,
                        },
                    });
                    if !names.iter().any(|n| n == "ExecStart") {
                        names.push("ExecStart".into());
                    }
                }
            }
        }
    }
    for (i, v) in vars.iter().enumerate() {
        let last = vars.iter().rposition(|o| o.name == v.name) == Some(i);
        if last && v.name.starts_with("KUBELET") && !used.contains(&v.name) {
            tokens.extend(var_tokens(v));
            names.push(v.name.clone());
        }
    }
    if names.is_empty() {
        return Vec::new();
    }
    vec![Item::KubeletFlags(FlagFile {
        location: names.join(","),
        flags: Flags::parse(tokens),
    })]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags_of(text: &str) -> FlagFile {
        match parse(text).unwrap().items.into_iter().next() {
            Some(Item::KubeletFlags(f)) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn detects_by_content() {
        assert_eq!(detect("KUBELET_KUBEADM_ARGS=\"--a=b\"\n"), Format::EnvFile);
        assert_eq!(
            detect("[Service]\nExecStart=/usr/bin/kubelet\n"),
            Format::Systemd
        );
        assert_eq!(detect("  {\"kind\": \"Pod\"}"), Format::Json);
        assert_eq!(detect("kind: Pod\n"), Format::Yaml);
    }

    #[test]
    fn env_file_spans_point_into_the_file() {
        let text = "# x\nKUBELET_KUBEADM_ARGS=\"--a=1 --rotate-server-certificates=false\"  \n";
        let f = flags_of(text);
        assert_eq!(f.location, "KUBELET_KUBEADM_ARGS");
        let occ = f.flags.last("rotate-server-certificates").unwrap();
        let Origin::Text { span } = &f.flags.tokens[occ.token].origin else {
            panic!()
        };
        assert_eq!(&text[span.clone()], "--rotate-server-certificates=false");
    }

    #[test]
    fn systemd_expands_vars_in_exec_order() {
        let text = "[Service]\nEnvironment=\"KUBELET_B=--x=2\"\nEnvironment=\"KUBELET_A=--x=1 --feature-gates=A=true\"\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_A $KUBELET_B --y\n";
        let f = flags_of(text);
        assert_eq!(f.flags.value("x"), Some("2"));
        assert_eq!(f.location, "KUBELET_A,KUBELET_B,ExecStart");
        let occ = f.flags.last("feature-gates").unwrap();
        let Origin::Text { span } = &f.flags.tokens[occ.token].origin else {
            panic!()
        };
        assert_eq!(&text[span.clone()], "--feature-gates=A=true");
    }

    #[test]
    fn refuses_deep_nesting_before_parsing() {
        for deep in [
            format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
            (0..200)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect(),
        ] {
            let err = parse(&deep).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains("nesting deeper than"), "{err}");
        }
        let fine = format!("a: {}{}\n", "[".repeat(50), "]".repeat(50));
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn strips_a_byte_order_mark() {
        let text = decode(b"\xef\xbb\xbfkind: Pod\n".to_vec()).unwrap();
        assert_eq!(text, "kind: Pod\n");
    }

    #[test]
    fn refuses_binary_and_empty() {
        assert!(decode(vec![b'a', 0, b'b']).is_err());
        assert!(parse("   \n").is_err());
    }
}
