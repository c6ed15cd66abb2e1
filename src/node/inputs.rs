//! Reading node files and telling what they hold from their content: YAML or JSON objects
//! (multi-document, `List`s), kubelet flag files (`KEY="…"` env files, systemd drop-ins).

pub use super::flag_files::FlagFile;
use super::flag_files::{env_file, env_vars, flag_file, systemd};
use serde_json::Value;
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
        Format::EnvFile => flag_file(text, &env_vars(text), None)
            .map(Item::KubeletFlags)
            .into_iter()
            .collect(),
        Format::Systemd => {
            let (vars, exec) = systemd(text);
            flag_file(text, &vars, exec)
                .map(Item::KubeletFlags)
                .into_iter()
                .collect()
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

#[cfg(test)]
#[path = "inputs_tests.rs"]
mod tests;
