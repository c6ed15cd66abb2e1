//! The kubelet's effective configuration, merged the way the kubelet merges it
//! (cmd/kubelet/app/server.go): the `--config` file, then every `*.conf` file under
//! `--config-dir` in `filepath.WalkDir` order (lexical per directory, subdirectories included)
//! applied as JSON merge patches (RFC 7386: maps merge, lists replace, `null` removes), then the
//! command line, which wins (per gate for `--feature-gates`).
//!
//! Each field the rules read keeps the layer that decided it, so a verdict can name it.

use crate::engine::read::flags::Flags;
use crate::engine::rules::{GATE, ROTATE_FLAG};
use crate::node::inputs::{self, Item};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component as PathPart, Path, PathBuf};

/// A setting the rules (or the drift check) read from the kubelet's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// `featureGates.RotateKubeletServerCertificate` / `--feature-gates`.
    Gate,
    /// `serverTLSBootstrap` / `--rotate-server-certificates`.
    ServerTlsBootstrap,
    /// `staticPodPath` / `--pod-manifest-path`.
    StaticPodPath,
}

impl Field {
    pub const ALL: [Field; 3] = [Field::Gate, Field::ServerTlsBootstrap, Field::StaticPodPath];

    /// Path of the field in a KubeletConfiguration.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Field::Gate => &["featureGates", GATE],
            Field::ServerTlsBootstrap => &["serverTLSBootstrap"],
            Field::StaticPodPath => &["staticPodPath"],
        }
    }

    pub fn get(self, config: &Value) -> Option<&Value> {
        self.keys().iter().try_fold(config, |v, k| v.get(*k))
    }
}

/// Where a setting came from, later layers overriding earlier ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// The `--config` file (path as the kubelet sees it).
    File(PathBuf),
    /// A file under `--config-dir`.
    DropIn(PathBuf),
    /// A command-line flag, e.g. `--feature-gates`.
    Flag(&'static str),
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::File(p) => write!(f, "config file {}", p.display()),
            Layer::DropIn(p) => write!(f, "drop-in {}", p.display()),
            Layer::Flag(name) => write!(f, "flag --{name}"),
        }
    }
}

/// A configuration file the kubelet would refuse: missing, unreadable or not a
/// KubeletConfiguration. The path is the kubelet's (not prefixed with `--root`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merged {
    /// The config file and drop-ins merged, before flags.
    pub files: Value,
    /// `files` with the flags that map to a [`Field`] applied: what the kubelet runs with.
    pub effective: Value,
    /// The layer that last set (or removed) each field; absent: the kubelet default.
    pub origin: BTreeMap<Field, Layer>,
    /// Every layer that set (or removed) each field, in order; the last one decided.
    pub history: BTreeMap<Field, Vec<Layer>>,
    /// Files the kubelet would have refused; the fields they might set are then unknown.
    pub errors: Vec<LayerError>,
    /// Drop-ins applied, in order.
    pub drop_ins: Vec<PathBuf>,
}

impl Merged {
    fn decide(&mut self, field: Field, layer: Layer) {
        self.history.entry(field).or_default().push(layer.clone());
        self.origin.insert(field, layer);
    }

    pub fn value(&self, field: Field) -> Option<&Value> {
        field.get(&self.effective)
    }

    /// The effective static pod directory (the kubelet's path), and the layer that set it.
    /// A relative path from a file is relative to that file's directory, as the kubelet
    /// resolves paths inside its config file.
    pub fn static_pod_path(&self) -> Option<PathBuf> {
        let p = self.value(Field::StaticPodPath)?.as_str()?;
        if p.is_empty() {
            return None;
        }
        let p = Path::new(p);
        Some(match self.origin.get(&Field::StaticPodPath) {
            Some(Layer::File(f) | Layer::DropIn(f)) if p.is_relative() => {
                f.parent().unwrap_or(Path::new("/")).join(p)
            }
            _ => p.to_path_buf(),
        })
    }
}

/// Apply `layers` (each a parsed config document) in order, then the flags. Pure: the
/// property tests drive it directly.
pub fn merge_layers(layers: &[(Layer, Value)], flags: &Flags) -> Merged {
    let mut m = Merged {
        files: Value::Object(Map::new()),
        ..Merged::default()
    };
    for (layer, patch) in layers {
        for field in Field::ALL {
            // Mentioned (even to the same value, or null) means this layer decides it now;
            // so does replacing or removing a parent map.
            let mentioned = field.get(patch).is_some() || parent_replaced(field, patch);
            if mentioned {
                m.decide(field, layer.clone());
            }
        }
        json_patch::merge(&mut m.files, patch);
        if let Layer::DropIn(p) = layer {
            m.drop_ins.push(p.clone());
        }
    }
    m.effective = m.files.clone();
    let gates = flags.feature_gates();
    if let Some(g) = gates.get(GATE) {
        let v = match &g.value {
            Ok(b) => Value::Bool(*b),
            Err(raw) => Value::String(raw.clone()),
        };
        set(&mut m.effective, Field::Gate, v);
        m.decide(Field::Gate, Layer::Flag("feature-gates"));
    }
    if let Some(b) = flags.bool_value(ROTATE_FLAG) {
        let v = match b {
            Ok(b) => Value::Bool(b),
            Err(raw) => Value::String(raw),
        };
        set(&mut m.effective, Field::ServerTlsBootstrap, v);
        m.decide(Field::ServerTlsBootstrap, Layer::Flag(ROTATE_FLAG));
    }
    if let Some(occ) = flags.last("pod-manifest-path") {
        let v = Value::String(flags.value_of(occ).unwrap_or_default().to_string());
        set(&mut m.effective, Field::StaticPodPath, v);
        m.decide(Field::StaticPodPath, Layer::Flag("pod-manifest-path"));
    }
    m
}

/// Does `patch` set a map on the field's path to something else (null, a scalar)?
fn parent_replaced(field: Field, patch: &Value) -> bool {
    let keys = field.keys();
    let mut v = patch;
    for k in &keys[..keys.len() - 1] {
        match v.get(*k) {
            Some(next) if next.is_object() => v = next,
            Some(_) => return true,
            None => return false,
        }
    }
    false
}

fn set(config: &mut Value, field: Field, value: Value) {
    let keys = field.keys();
    let mut v = config;
    for k in &keys[..keys.len() - 1] {
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        let Some(map) = v.as_object_mut() else { return };
        v = map
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    if let (Some(map), Some(last)) = (v.as_object_mut(), keys.last()) {
        map.insert(last.to_string(), value);
    }
}

/// The host path of the kubelet's `path` under `root`: relative paths resolve against the
/// process's working directory (the kubelet calls `filepath.Abs`), or `/` when unknown.
pub fn host_path(root: &Path, path: &Path, cwd: Option<&Path>) -> (PathBuf, PathBuf) {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.unwrap_or(Path::new("/")).join(path)
    };
    let mut under = root.to_path_buf();
    for part in abs.components() {
        match part {
            PathPart::Normal(p) => under.push(p),
            // `..` never climbs out of the root: the kubelet's `/..` is `/` too.
            PathPart::ParentDir if under != root => {
                under.pop();
            }
            _ => {}
        }
    }
    (abs, under)
}

/// Read one KubeletConfiguration document as the kubelet would load it.
pub fn load_document(file: &Path) -> Result<Value, String> {
    let text = inputs::read(file).map_err(|e| e.to_string())?;
    let parsed = inputs::parse(&text).map_err(|e| e.to_string())?;
    match parsed.items.into_iter().next() {
        Some(Item::Object { value, .. }) => {
            let kind = value.get("kind").and_then(Value::as_str);
            if kind == Some("KubeletConfiguration") {
                Ok(value)
            } else {
                Err(format!(
                    "not a KubeletConfiguration (kind {}), which the kubelet refuses to load",
                    kind.map_or_else(|| "missing".to_string(), |k| format!("{k:?}"))
                ))
            }
        }
        Some(Item::Invalid { reason, .. }) => Err(reason),
        _ => Err("no KubeletConfiguration document in it".into()),
    }
}

/// The drop-ins under `dir` in the kubelet's order: `filepath.WalkDir` (lexical by byte order
/// per directory, depth first, symlinks not followed as directories), names ending `.conf`.
fn drop_in_files(dir: &Path) -> Vec<Result<PathBuf, LayerError>> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|entry| match entry {
            Ok(e) if e.file_type().is_dir() => None,
            Ok(e) => Path::new(e.file_name())
                .extension()
                .is_some_and(|x| x == "conf")
                .then(|| Ok(e.into_path())),
            Err(e) => Some(Err(LayerError {
                path: e
                    .path()
                    .map_or_else(|| dir.to_path_buf(), Path::to_path_buf),
                reason: e
                    .io_error()
                    .map_or_else(|| e.to_string(), |io| format!("cannot read: {io}")),
            })),
        })
        .collect()
}

/// Strip `root` back off a host path, for messages in the kubelet's terms.
fn kubelet_path(root: &Path, host: &Path) -> PathBuf {
    match host.strip_prefix(root) {
        Ok(rel) => Path::new("/").join(rel),
        Err(_) => host.to_path_buf(),
    }
}

/// Load and merge a running kubelet's configuration: `flags` are its command line, `root` the
/// node's `/`, `cwd` its working directory (the kubelet's path).
pub fn load(flags: &Flags, root: &Path, cwd: Option<&Path>) -> Merged {
    let mut layers = Vec::new();
    let mut errors = Vec::new();
    if let Some(config) = flags.value("config") {
        let (path, host) = host_path(root, Path::new(config), cwd);
        match load_document(&host) {
            Ok(v) => layers.push((Layer::File(path), v)),
            Err(reason) => errors.push(LayerError { path, reason }),
        }
    }
    if let Some(dir) = flags.value("config-dir") {
        let (_, host_dir) = host_path(root, Path::new(dir), cwd);
        for file in drop_in_files(&host_dir) {
            match file {
                Ok(host) => {
                    let path = kubelet_path(root, &host);
                    match load_document(&host) {
                        Ok(v) => layers.push((Layer::DropIn(path), v)),
                        Err(reason) => errors.push(LayerError { path, reason }),
                    }
                }
                Err(mut e) => {
                    e.path = kubelet_path(root, &e.path);
                    errors.push(e);
                }
            }
        }
    }
    let mut merged = merge_layers(&layers, flags);
    merged.errors = errors;
    merged
}
