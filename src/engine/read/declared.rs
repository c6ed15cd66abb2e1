//! What a declared source (Cluster API, k3s/RKE2, Talos, Kamaji, kind: DESIGN.md section 11)
//! says about one component, in the source's own form: the model `sources` reads into and
//! `subjects` carries.

use crate::engine::read::flags::Flags;
use serde_json::Value;

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
    pub flags: Flags<'static>,
    /// `origins[i]` is where `flags.tokens[i]` came from.
    pub origins: Vec<ArgOrigin>,
    pub insert: Insert,
    /// For the kubelet: a declared KubeletConfiguration (flags still override it).
    pub config: Option<DeclaredConfig>,
    /// Directories the component's container is known to see: a certificate path a fix adds
    /// must lie under one of them.
    pub mounts: Vec<String>,
}
