//! Where operators declare the control plane outside kubeadm's ConfigMaps (DESIGN.md section 11):
//! Cluster API, k3s/RKE2, Talos, Kamaji and kind. Each reader turns its source's own form of
//! "extra arguments" into `--name=value` tokens, remembering for every token the entry it came
//! from (so a fix edits that entry in its own form) and the flags the distribution sets itself.

mod capi;
mod k3s;
mod kamaji;
mod kind;
mod talos;

use crate::engine::read::flags::{Flags, Origin, Token};
use crate::engine::read::subjects::{Settings, Subject, Target};
use crate::engine::rules::Component;
use serde_json::Value;

pub use k3s::looks_like_k3s;

/// Whose defaults apply to flags the source does not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distro {
    /// kubeadm underneath (Cluster API, kind): client certificate pair, no kubelet CA.
    Kubeadm,
    /// k3s and RKE2: client certificate pair and kubelet CA.
    K3s,
    /// Talos: client certificate pair, and it refuses overrides.
    Talos,
    /// Kamaji: client certificate pair, managed (an extraArgs value is replaced).
    Kamaji,
}

impl Distro {
    pub fn name(self) -> &'static str {
        match self {
            Distro::Kubeadm => "kubeadm",
            Distro::K3s => "k3s/RKE2",
            Distro::Talos => "Talos",
            Distro::Kamaji => "Kamaji",
        }
    }
}

/// How one entry of a source's arguments is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `name: value` in a map (kubeadm v1beta3, CAPI v1beta1, Talos with a string value).
    Map,
    /// `{name, value}` in a list (kubeadm v1beta4, CAPI v1beta2).
    NameValue,
    /// `name=value` items of a list (k3s/RKE2 `*-arg`).
    FlagItem,
    /// `--name=value` items of a list (Kamaji).
    DashedItem,
    /// One string of a Talos list value (`name: [v1, v2]`): each is one occurrence.
    ListValue,
    /// kind's top-level `featureGates` map: `Gate: bool` (only the gate token comes from it).
    KindGate,
}

/// Where a token came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgOrigin {
    /// Set by the distribution itself, not written in the source.
    Default,
    /// Written in the source: the entry at `pointer` of document `doc`.
    Entry {
        doc: Doc,
        pointer: String,
        form: Form,
    },
}

/// The document a pointer is relative to: the object itself, or a YAML string inside it
/// (kind's kubeadmConfigPatches items).
pub type Doc = Option<String>;

/// Where a flag the source lacks is added.
#[derive(Debug, Clone, PartialEq)]
pub enum Insert {
    /// Into the container at `pointer` of `doc` (created with its parents when missing).
    Container {
        doc: Doc,
        pointer: String,
        form: Form,
    },
    /// A new kind kubeadmConfigPatches item of `kind`, with the flags under `path`.
    KindPatch {
        kind: &'static str,
        path: &'static [&'static str],
    },
}

/// A KubeletConfiguration the source declares next to the kubelet's flags.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredConfig {
    /// The fields as they take effect (several kind patches merged).
    pub value: Value,
    /// Where a field is written: the document and the object's pointer in it; `None` when no
    /// document exists yet (kind without a KubeletConfiguration patch).
    pub at: Option<(Doc, String)>,
    /// How the source names it in messages (`machine.kubelet.extraConfig`).
    pub name: String,
    /// New settings go here rather than into the flags (kind: patches are its way).
    pub prefer: bool,
}

/// One component's settings as a source declares them.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub distro: Distro,
    /// What the source calls the place the flags live in (`kubelet-arg`, `kubeletExtraArgs`).
    pub args_name: String,
    /// Every flag as a `--name=value` token, distribution defaults included.
    pub flags: Flags,
    /// `origins[i]` is where `flags.tokens[i]` came from.
    pub origins: Vec<ArgOrigin>,
    pub insert: Insert,
    /// For the kubelet: a declared KubeletConfiguration (flags still override it).
    pub config: Option<DeclaredConfig>,
    /// Directories the component's container is known to see: a certificate path a fix adds
    /// must lie under one of them.
    pub mounts: Vec<String>,
}

/// Collects tokens and their origins in order.
#[derive(Default)]
pub(crate) struct ArgsBuilder {
    tokens: Vec<Token>,
    origins: Vec<ArgOrigin>,
}

impl ArgsBuilder {
    pub(crate) fn push(&mut self, name: &str, value: &str, origin: ArgOrigin) {
        self.tokens.push(Token {
            text: format!("--{name}={value}"),
            origin: Origin::None,
        });
        self.origins.push(origin);
    }

    /// A flag the distribution sets itself.
    pub(crate) fn by_distro(&mut self, name: &str, value: &str) {
        self.push(name, value, ArgOrigin::Default);
    }

    /// Entries of a map (`Form::Map`, string or list values) or a `{name, value}` list.
    pub(crate) fn extra_args(&mut self, args: Option<&Value>, doc: &Doc, pointer: &str) {
        let entry = |p: String, form| ArgOrigin::Entry {
            doc: doc.clone(),
            pointer: p,
            form,
        };
        match args {
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let p = format!("{pointer}/{}", esc(k));
                    match v {
                        Value::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                self.push(
                                    k,
                                    &scalar(item),
                                    entry(format!("{p}/{i}"), Form::ListValue),
                                );
                            }
                        }
                        v => self.push(k, &scalar(v), entry(p, Form::Map)),
                    }
                }
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let Some(name) = item.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    let value = item.get("value").map(scalar).unwrap_or_default();
                    self.push(
                        name,
                        &value,
                        entry(format!("{pointer}/{i}"), Form::NameValue),
                    );
                }
            }
            _ => {}
        }
    }

    /// Items of a list of `name=value` (`FlagItem`) or `--name=value` (`DashedItem`) strings.
    pub(crate) fn flag_items(&mut self, items: &[(String, String)], doc: &Doc, form: Form) {
        for (pointer, text) in items {
            let body = text.trim();
            let body = match form {
                Form::DashedItem => body.trim_start_matches('-'),
                _ => body.strip_prefix("--").unwrap_or(body),
            };
            let (name, value) = body.split_once('=').unwrap_or((body, "true"));
            self.push(
                name.trim(),
                value,
                ArgOrigin::Entry {
                    doc: doc.clone(),
                    pointer: pointer.clone(),
                    form,
                },
            );
        }
    }

    pub(crate) fn build(
        self,
        distro: Distro,
        args_name: &str,
        insert: Insert,
        config: Option<DeclaredConfig>,
    ) -> Declared {
        Declared {
            distro,
            args_name: args_name.to_string(),
            flags: Flags::parse(self.tokens),
            origins: self.origins,
            insert,
            config,
            mounts: Vec::new(),
        }
    }
}

/// A YAML scalar as the flag value a tool would write (`true`, `120`, a string).
pub(crate) fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Escape one JSON pointer token.
pub(crate) fn esc(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

pub(crate) fn subject(component: Component, location: String, d: Declared) -> Subject {
    Subject {
        component,
        location,
        settings: Settings::Declared(Box::new(d)),
    }
}

/// Recognise a declared source from its content; `None` when `obj` is none of them.
pub fn extract(obj: &Value) -> Option<(Target, Vec<Subject>)> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api.split('/').next().unwrap_or("");
    let target = |name: &str| Target::Declared {
        source: name.to_string(),
    };
    match (group, kind) {
        ("controlplane.cluster.x-k8s.io", "KubeadmControlPlane") => {
            Some((target(kind), capi::control_plane(obj)))
        }
        ("controlplane.cluster.x-k8s.io", "KubeadmControlPlaneTemplate") => {
            Some((target(kind), capi::control_plane_template(obj)))
        }
        ("bootstrap.cluster.x-k8s.io", "KubeadmConfigTemplate" | "KubeadmConfig") => {
            Some((target(kind), capi::bootstrap(obj, kind)))
        }
        ("kamaji.clastix.io", "TenantControlPlane") => Some((target(kind), kamaji::subjects(obj))),
        ("kind.x-k8s.io", "Cluster") => Some((target("kind Cluster"), kind::subjects(obj))),
        _ if kind.is_empty() && talos::looks_like_talos(obj) => {
            Some((target("Talos machine config"), talos::subjects(obj)))
        }
        _ if kind.is_empty() && api.is_empty() && looks_like_k3s(obj) => {
            Some((target("k3s/RKE2 config"), k3s::subjects(obj)))
        }
        _ => None,
    }
}
