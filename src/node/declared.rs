//! The kubelet's command line as systemd would start it, from a node's files: the
//! `kubelet.service` unit and its `kubelet.service.d/*.conf` drop-ins (name order, /etc over
//! /run over /usr/lib over /lib), `Environment=`, `EnvironmentFile=` (later files override, and
//! override `Environment=`), and the last `ExecStart=` with its `$VAR`s expanded. Every word
//! remembers where it came from, so a verdict can name the file that set a flag.

use crate::engine::read::flags::Flags;
use crate::engine::rules::Component;
use crate::node::inputs;
use crate::node::kubelet_merge::{LayerError, host_path};
use crate::node::proc;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// systemd's unit search path, highest priority first.
pub const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// The unit files read, in the order systemd applies them (kubelet paths).
    pub units: Vec<PathBuf>,
    /// The file whose `ExecStart=` runs the kubelet.
    pub exec_from: PathBuf,
    pub argv: Vec<String>,
    /// Where each argv word came from (`ExecStart in FILE`, `VAR in FILE`).
    pub sources: Vec<String>,
    /// The kubelet's flags (`None` when ExecStart does not run a kubelet).
    pub flags: Option<Flags<'static>>,
    /// Environment files systemd would refuse (missing without the `-` prefix, unreadable).
    pub errors: Vec<LayerError>,
}

impl Declared {
    /// Where the flag token `index` (an index into `flags.tokens`) came from.
    pub fn token_source(&self, index: usize) -> Option<&str> {
        let flags = self.flags.as_ref()?;
        let skip = self.argv.len().checked_sub(flags.tokens.len())?;
        self.sources.get(skip + index).map(String::as_str)
    }

    /// Where the effective occurrence of `--name` was written.
    pub fn flag_source(&self, name: &str) -> Option<&str> {
        let occ = self.flags.as_ref()?.last(name)?;
        self.token_source(occ.token)
    }
}

/// Split a systemd value into words: whitespace separates, quotes group, backslash escapes.
pub fn split_quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Logical lines of a unit or environment file: continuations joined, comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.starts_with('#') || t.starts_with(';')) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The unit file and drop-ins of `kubelet.service` under `root`, in application order.
fn unit_files(root: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut files = Vec::new();
    if let Some(main) = UNIT_DIRS
        .iter()
        .map(|d| Path::new(d).join("kubelet.service"))
        .find(|p| host_path(root, p, None).1.is_file())
    {
        let host = host_path(root, &main, None).1;
        files.push((main, host));
    }
    // A drop-in name in a higher-priority directory masks the same name below it.
    let mut drop_ins: BTreeMap<String, (PathBuf, PathBuf)> = BTreeMap::new();
    for dir in UNIT_DIRS.iter().rev() {
        let d = Path::new(dir).join("kubelet.service.d");
        let Ok(entries) = std::fs::read_dir(host_path(root, &d, None).1) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".conf") && e.path().is_file() {
                drop_ins.insert(name.clone(), (d.join(&name), e.path()));
            }
        }
    }
    files.extend(drop_ins.into_values());
    files
}

/// What systemd would run for `kubelet.service` under `root`; `None` when there is no unit.
pub fn kubelet_service(root: &Path) -> Option<Declared> {
    let files = unit_files(root);
    if files.is_empty() {
        return None;
    }
    let mut env: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut env_files: Vec<(String, bool)> = Vec::new();
    let mut exec: Option<(String, PathBuf)> = None;
    let mut errors = Vec::new();
    for (path, host) in &files {
        let text = match inputs::read(host) {
            Ok(t) => t,
            Err(e) => {
                errors.push(LayerError {
                    path: path.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let mut in_service = false;
        for line in logical_lines(&text) {
            if line.starts_with('[') {
                in_service = line == "[Service]";
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !in_service {
                continue;
            }
            match key.trim() {
                "Environment" => {
                    for word in split_quoted(value) {
                        if let Some((k, v)) = word.split_once('=') {
                            let from = format!("{k} in {}", path.display());
                            env.insert(k.to_string(), (v.to_string(), from));
                        }
                    }
                }
                "EnvironmentFile" => {
                    let v = value.trim();
                    let (optional, p) = match v.strip_prefix('-') {
                        Some(p) => (true, p),
                        None => (false, v),
                    };
                    env_files.push((p.to_string(), optional));
                }
                "ExecStart" if value.trim().is_empty() => exec = None,
                "ExecStart" => exec = Some((value.trim().to_string(), path.clone())),
                _ => {}
            }
        }
    }
    for (file, optional) in env_files {
        let (path, host) = host_path(root, Path::new(&file), None);
        match inputs::read(&host) {
            Ok(text) => {
                for line in logical_lines(&text) {
                    let words = split_quoted(&line);
                    if let Some((k, v)) = words.first().and_then(|w| w.split_once('=')) {
                        // `KEY="a b"` splits into `KEY=a b` as one word; a bare tail joins back.
                        let mut value = v.to_string();
                        for w in &words[1..] {
                            value.push(' ');
                            value.push_str(w);
                        }
                        let from = format!("{k} in {}", path.display());
                        env.insert(k.to_string(), (value, from));
                    }
                }
            }
            Err(_) if optional && !host.exists() => {}
            Err(e) => errors.push(LayerError {
                path,
                reason: e.to_string(),
            }),
        }
    }
    let (line, exec_from) = exec?;
    let mut argv = Vec::new();
    let mut sources = Vec::new();
    let here = format!("ExecStart in {}", exec_from.display());
    for (i, word) in split_quoted(&line).into_iter().enumerate() {
        // `-`, `@`, `+`, `!`, `:` prefixes change how systemd runs the command, not what runs.
        let word = if i == 0 {
            word.trim_start_matches(['-', '@', '+', '!', ':'])
                .to_string()
        } else {
            word
        };
        if let Some(name) = word.strip_prefix("${").and_then(|w| w.strip_suffix('}')) {
            if let Some((v, from)) = env.get(name) {
                argv.push(v.clone());
                sources.push(from.clone());
            }
        } else if let Some(name) = word.strip_prefix('$') {
            if let Some((v, from)) = env.get(name) {
                for w in split_quoted(v) {
                    argv.push(w);
                    sources.push(from.clone());
                }
            }
        } else {
            argv.push(word);
            sources.push(here.clone());
        }
    }
    let flags = proc::recognize(&argv)
        .filter(|(c, _)| *c == Component::Kubelet)
        .map(|(_, f)| f);
    Some(Declared {
        units: files.into_iter().map(|(p, _)| p).collect(),
        exec_from,
        argv,
        sources,
        flags,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(
            split_quoted(r#"A=1 "B=two words" 'C=x\y' D=e\ f"#),
            vec!["A=1", "B=two words", r"C=x\y", "D=e f"]
        );
        assert_eq!(split_quoted("  "), Vec::<String>::new());
        assert_eq!(split_quoted(r#"K="""#), vec!["K="]);
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(
            logical_lines("# c\nExecStart=/usr/bin/kubelet \\\n  --a=1 \\\n  --b\nX=1\n"),
            vec!["ExecStart=/usr/bin/kubelet  --a=1  --b", "X=1"]
        );
    }
}
