//! Kubelet flag files: env files (`KEY="…"`, as systemd's `EnvironmentFile=` reads them) and
//! systemd units or drop-ins (`Environment=`, `ExecStart=`), read into the flags they set with
//! every word's span in the file, so that `fix` can edit them in place.

use crate::engine::read::flags::{Flags, Origin, Token};
use crate::engine::read::shell;
use std::ops::Range;

#[derive(Debug, Clone)]
pub struct FlagFile {
    /// The variables (or `ExecStart`) that hold flags, in the order the kubelet sees them.
    pub location: String,
    /// Tokens carry `Origin::Text` spans into the file text.
    pub flags: Flags<'static>,
}

/// The assignments of an env file (`KEY=value`, `export KEY=value`), read as systemd's
/// EnvironmentFile= reads them: an unquoted value runs to the end of the line, a quoted one may
/// span lines, and a backslash before a newline continues the line. Each value is split into
/// words at whitespace, as `$KEY` expands, with every word's span where it stands in `text`.
/// `None` when a line that is not blank or a comment is not an assignment.
pub(super) fn env_file(text: &str) -> Option<Vec<Var>> {
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
fn split_words(chars: &[(usize, char)]) -> Vec<Token<'static>> {
    let mut tokens = Vec::new();
    for word in chars
        .split(|(_, c)| c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let (Some(&(first, _)), Some(&(last, lc))) = (word.first(), word.last()) else {
            continue;
        };
        tokens.push(Token {
            text: word.iter().map(|(_, c)| c).collect::<String>().into(),
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

/// A variable assignment: its name and the words of its value, with their spans in the file.
pub(super) struct Var {
    name: String,
    tokens: Vec<Token<'static>>,
}

fn line_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |l| {
        let start = offset;
        offset += l.len();
        (start, l.trim_end_matches(['\n', '\r']))
    })
}

pub(super) fn env_vars(text: &str) -> Vec<Var> {
    env_file(text).unwrap_or_default()
}

/// `Environment=` assignments and the effective `ExecStart=` (its span) of a unit file.
pub(super) fn systemd(text: &str) -> (Vec<Var>, Option<Range<usize>>) {
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
pub(super) fn flag_file(text: &str, vars: &[Var], exec: Option<Range<usize>>) -> Option<FlagFile> {
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
                        text: w.text.clone().into(),
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
        return None;
    }
    Some(FlagFile {
        location: names.join(","),
        flags: Flags::parse(tokens),
    })
}
