//! Just enough of POSIX shell word splitting to read `sh -c "<line>"` commands and
//! `VAR="…"` values: words with their byte spans (for in-place edits) and the operators
//! that separate simple commands. No expansion is performed: `$VAR` stays literal.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A word after quote removal, with its span in the source text.
    Word { text: String, span: Range<usize> },
    /// `|`, `||`, `&&`, `;`, `&`, `(`, `)` or a newline that ends a command.
    Separator,
    /// A redirection operator (`>`, `>>`, `<`, `2>&1`, `&>`…); the next word is its target.
    Redirect { takes_target: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub span: Range<usize>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShellError {
    #[error("unterminated {0} quote")]
    Unterminated(&'static str),
}

/// Split `line` into words and operators.
pub fn tokenize(line: &str) -> Result<Vec<Piece>, ShellError> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\r' => i += 1,
            b'\\' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => {
                out.push(Piece::Separator);
                i += 1;
            }
            b'#' => {
                // A comment runs to the end of the line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'|' | b';' | b'(' | b')' => {
                i += if bytes.get(i + 1) == Some(&c) { 2 } else { 1 };
                out.push(Piece::Separator);
            }
            b'&' => {
                if bytes.get(i + 1) == Some(&b'>') {
                    i += if bytes.get(i + 2) == Some(&b'>') {
                        3
                    } else {
                        2
                    };
                    out.push(Piece::Redirect { takes_target: true });
                } else {
                    i += if bytes.get(i + 1) == Some(&b'&') {
                        2
                    } else {
                        1
                    };
                    out.push(Piece::Separator);
                }
            }
            b'>' | b'<' => {
                i = redirect(bytes, i, &mut out);
            }
            b'0'..=b'9' if redirect_follows_digits(bytes, i) => {
                while bytes[i].is_ascii_digit() {
                    i += 1;
                }
                i = redirect(bytes, i, &mut out);
            }
            _ => {
                let (text, end) = word(line, i)?;
                out.push(Piece::Word { text, span: i..end });
                i = end;
            }
        }
    }
    Ok(out)
}

fn redirect_follows_digits(bytes: &[u8], mut i: usize) -> bool {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    matches!(bytes.get(i), Some(b'>') | Some(b'<'))
}

/// Consume a redirection operator at `i` (`>`, `>>`, `<`, `<<`, `>&N`, `<&N`, `>|`).
fn redirect(bytes: &[u8], mut i: usize, out: &mut Vec<Piece>) -> usize {
    let c = bytes[i];
    i += 1;
    if bytes.get(i) == Some(&c) || bytes.get(i) == Some(&b'|') {
        i += 1;
    }
    if bytes.get(i) == Some(&b'&') {
        // `2>&1`: the target is a descriptor, glued to the operator.
        i += 1;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'-') {
            i += 1;
        }
        out.push(Piece::Redirect {
            takes_target: false,
        });
    } else {
        out.push(Piece::Redirect { takes_target: true });
    }
    i
}

/// Read one word starting at `start`: quotes are removed, backslashes escape.
fn word(line: &str, start: usize) -> Result<(String, usize), ShellError> {
    let mut text = String::new();
    let end = scan_word(line, start, &mut |_, ch| text.push(ch))?;
    Ok((text, end))
}

/// For each byte of the unquoted text of the word `raw` (one word as written), its byte offset
/// in `raw`: the way back from what a word means to where it stands, for in-place edits.
pub fn word_offsets(raw: &str) -> Result<Vec<usize>, ShellError> {
    let mut offsets = Vec::new();
    scan_word(raw, 0, &mut |at, ch| {
        offsets.extend((0..ch.len_utf8()).map(|k| at + k));
    })?;
    Ok(offsets)
}

/// The one word scanner: calls `emit(raw offset, char)` for every character of the unquoted
/// text and returns where the word ends.
fn scan_word(
    line: &str,
    start: usize,
    emit: &mut dyn FnMut(usize, char),
) -> Result<usize, ShellError> {
    let bytes = line.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b'|' | b';' | b'&' | b'<' | b'>' | b'(' | b')' => break,
            b'\'' => {
                let close = line[i + 1..]
                    .find('\'')
                    .ok_or(ShellError::Unterminated("single"))?;
                for (k, ch) in line[i + 1..i + 1 + close].char_indices() {
                    emit(i + 1 + k, ch);
                }
                i += close + 2;
            }
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(ShellError::Unterminated("double")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\')
                            if matches!(bytes.get(i + 1), Some(b'"' | b'\\' | b'$' | b'`')) =>
                        {
                            emit(i + 1, bytes[i + 1] as char);
                            i += 2;
                        }
                        Some(b'\\') if bytes.get(i + 1) == Some(&b'\n') => i += 2,
                        Some(_) => {
                            let ch = next_char(line, i);
                            emit(i, ch);
                            i += ch.len_utf8();
                        }
                    }
                }
            }
            b'\\' => match line[i + 1..].chars().next() {
                Some('\n') => i += 2,
                Some(ch) => {
                    emit(i + 1, ch);
                    i += 1 + ch.len_utf8();
                }
                None => i += 1,
            },
            _ => {
                let ch = next_char(line, i);
                emit(i, ch);
                i += ch.len_utf8();
            }
        }
    }
    Ok(i)
}

fn next_char(s: &str, i: usize) -> char {
    s[i..].chars().next().unwrap_or('\u{fffd}')
}

/// Split into simple commands: the words of each, with redirections and their targets dropped.
pub fn simple_commands(line: &str) -> Result<Vec<Vec<Word>>, ShellError> {
    let mut commands = vec![Vec::new()];
    let mut skip_target = false;
    for piece in tokenize(line)? {
        match piece {
            Piece::Word { text, span } => {
                if skip_target {
                    skip_target = false;
                } else if let Some(cmd) = commands.last_mut() {
                    cmd.push(Word { text, span });
                }
            }
            Piece::Separator => {
                skip_target = false;
                if commands.last().is_some_and(|c| !c.is_empty()) {
                    commands.push(Vec::new());
                }
            }
            Piece::Redirect { takes_target } => skip_target = takes_target,
        }
    }
    commands.retain(|c| !c.is_empty());
    Ok(commands)
}

/// Plain words of a value (e.g. `KUBELET_ARGS="--a=b --c='' "`), quotes removed, with spans.
pub fn words(value: &str) -> Result<Vec<Word>, ShellError> {
    Ok(simple_commands(value)?.into_iter().flatten().collect())
}

/// Quote `s` for a shell line only if it needs it.
pub fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=/.,:@%+".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<Vec<String>> {
        simple_commands(line)
            .unwrap()
            .into_iter()
            .map(|c| c.into_iter().map(|w| w.text).collect())
            .collect()
    }

    #[test]
    fn splits_commands_and_drops_redirections() {
        assert_eq!(
            texts(
                "exec /usr/local/bin/kube-apiserver --a=1 --b 'x y' >/var/log/a.log 2>&1 | tee x"
            ),
            vec![
                vec![
                    "exec",
                    "/usr/local/bin/kube-apiserver",
                    "--a=1",
                    "--b",
                    "x y"
                ],
                vec!["tee", "x"]
            ]
        );
        assert_eq!(
            texts("a && b; c || d"),
            vec![vec!["a"], vec!["b"], vec!["c"], vec!["d"]]
        );
    }

    #[test]
    fn quotes_and_spans() {
        let line = r#"--x="a b" --y='' --z=\$HOME"#;
        let w = words(line).unwrap();
        assert_eq!(w[0].text, "--x=a b");
        assert_eq!(&line[w[0].span.clone()], r#"--x="a b""#);
        assert_eq!(w[1].text, "--y=");
        assert_eq!(w[2].text, "--z=$HOME");
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert_eq!(words("--a='x"), Err(ShellError::Unterminated("single")));
        assert_eq!(words("--a=\"x"), Err(ShellError::Unterminated("double")));
    }

    #[test]
    fn quote_only_when_needed() {
        assert_eq!(quote("--a=/etc/x.crt"), "--a=/etc/x.crt");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
