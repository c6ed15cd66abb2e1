//! Could `read::extract` find anything in an object? Decided from a lean, borrowed view of the few
//! fields it looks at first (kind, apiVersion, name, namespace, component labels, and each
//! container's image, command and args), so that the webhook can answer the many requests it has
//! nothing to say about without building the object (issue 14).
//!
//! The answer is a superset: it may say "maybe" for an object `extract` finds nothing in (that
//! object then takes the full path, as before), never "no" for one it finds something in. A
//! field whose type differs from what this view expects fails the lean parse, and the caller
//! takes the full path too.

use crate::engine::read::component::{basename, names_kube};
use crate::engine::read::subjects::{is_kubelet_config_map_name, pod_spec_pointer};
use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use stop::{Command, FirstWord, Image};
pub use stop::{Word, take_stopped};

type Text<'a> = Option<Cow<'a, str>>;

/// Kinds of the declared sources (`read::sources`); matched without their group, a superset.
const DECLARED_KINDS: &[&str] = &[
    "KubeadmControlPlane",
    "KubeadmControlPlaneTemplate",
    "KubeadmConfigTemplate",
    "KubeadmConfig",
    "TenantControlPlane",
    "Cluster",
];

/// What `component::recognize` treats as a shell whose `-c` line may run a component.
const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "ksh", "zsh", "busybox"];

/// An object's identity and the fields relevance depends on. Deserialises only from a JSON
/// mapping (a struct would also accept an array, which the engine does not read as an object).
#[derive(Debug, Default)]
pub struct LeanObject<'a> {
    fields: Fields<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields<'a> {
    #[serde(default, borrow)]
    kind: Text<'a>,
    #[serde(default, borrow)]
    metadata: Option<Meta<'a>>,
    #[serde(default, borrow)]
    spec: Option<Spec<'a>>,
    /// A PodTemplate's template.
    #[serde(default, borrow)]
    template: Option<Box<Template<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    #[serde(default, borrow)]
    name: Text<'a>,
    #[serde(default, borrow)]
    namespace: Text<'a>,
    #[serde(default, borrow)]
    generate_name: Text<'a>,
    #[serde(default, borrow)]
    labels: Option<Labels<'a>>,
}

/// The labels `component::by_label` reads.
#[derive(Debug, Default, Deserialize)]
struct Labels<'a> {
    #[serde(default, borrow)]
    component: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    #[serde(default, borrow)]
    containers: Option<Vec<Container<'a>>>,
    #[serde(default, borrow)]
    template: Option<Box<Template<'a>>>,
    #[serde(default, borrow)]
    job_template: Option<Box<JobTemplate<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
struct Template<'a> {
    #[serde(default, borrow)]
    metadata: Option<Meta<'a>>,
    #[serde(default, borrow)]
    spec: Option<Spec<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct JobTemplate<'a> {
    #[serde(default, borrow)]
    spec: Option<Spec<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Container<'a> {
    #[serde(default, borrow)]
    image: Option<Image<'a>>,
    #[serde(default, borrow)]
    command: Option<Command<'a>>,
    #[serde(default, borrow)]
    args: Option<FirstWord<'a>>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum ObjectField {
    Kind,
    Metadata,
    Spec,
    Template,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for LeanObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Only a mapping: a struct would also accept an array, which the engine does not read
        // as an object.
        struct MapOnly<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for MapOnly<'a> {
            type Value = LeanObject<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Kubernetes object (a JSON mapping)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut f = Fields::default();
                let mut seen = [false; 4];
                while let Some(field) = map.next_key::<ObjectField>()? {
                    let (i, name) = match field {
                        ObjectField::Kind => (0, "kind"),
                        ObjectField::Metadata => (1, "metadata"),
                        ObjectField::Spec => (2, "spec"),
                        ObjectField::Template => (3, "template"),
                        ObjectField::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if std::mem::replace(&mut seen[i], true) {
                        return Err(A::Error::duplicate_field(name));
                    }
                    // A container surely running a component may stop the read of a pod spec,
                    // once the kind, written before it, says it is one.
                    let pod = f
                        .kind
                        .as_deref()
                        .is_some_and(|k| pod_spec_pointer(k).is_some());
                    match field {
                        ObjectField::Kind => {
                            f.kind = map.next_value::<Option<Word>>()?.map(|w| w.0)
                        }
                        ObjectField::Metadata => f.metadata = map.next_value()?,
                        ObjectField::Spec => f.spec = stop::watching(pod, || map.next_value())?,
                        _ => f.template = stop::watching(pod, || map.next_value())?,
                    }
                }
                Ok(LeanObject { fields: f })
            }
        }
        d.deserialize_map(MapOnly(std::marker::PhantomData))
    }
}

impl Container<'_> {
    /// A superset of `component::recognize`: every way it finds a component goes through an
    /// image, a first word or a `component` label naming `kube…`/`hyperkube…`, or a shell line.
    fn may_run_component(&self, labelled: bool) -> bool {
        // The first word of `command`, else of `args`.
        let lists = [self.command.as_ref().map(|c| &c.0), self.args.as_ref()];
        let first = lists.into_iter().flatten().find_map(|w| w.0.as_deref());
        first.is_some_and(first_word_may_run)
            || self.image.as_ref().is_some_and(|i| names_kube(&i.0))
            || labelled
    }
}

/// A container whose first word this is may run a component, whatever else it holds.
fn first_word_may_run(word: &str) -> bool {
    names_kube(word) || SHELLS.contains(&basename(word))
}

impl Meta<'_> {
    fn labelled(&self) -> bool {
        self.labels
            .as_ref()
            .and_then(|l| l.component.as_deref())
            .is_some_and(names_kube)
    }
}

/// The pod specs `subjects::pod_spec_pointer` may point at, with the metadata beside them.
fn pod_specs<'s, 'a>(f: &'s Fields<'a>) -> Vec<(Option<&'s Meta<'a>>, &'s Spec<'a>)> {
    let template = |t: &'s Template<'a>| t.spec.as_ref().map(|s| (t.metadata.as_ref(), s));
    let spec = f.spec.as_ref();
    [
        spec.map(|s| (None, s)),
        spec.and_then(|s| s.template.as_deref()).and_then(template),
        spec.and_then(|s| s.job_template.as_deref())
            .and_then(|j| j.spec.as_ref())
            .and_then(|s| s.template.as_deref())
            .and_then(template),
        f.template.as_deref().and_then(template),
    ]
    .into_iter()
    .flatten()
    .collect()
}

impl LeanObject<'_> {
    pub fn kind(&self) -> Option<&str> {
        self.fields.kind.as_deref()
    }

    fn metadata(&self) -> Option<&Meta<'_>> {
        self.fields.metadata.as_ref()
    }

    pub fn name(&self) -> Option<&str> {
        self.metadata()?.name.as_deref()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.metadata()?.namespace.as_deref()
    }

    pub fn generate_name(&self) -> Option<&str> {
        self.metadata()?.generate_name.as_deref()
    }

    /// `false` only when `read::extract` surely finds no subject in the object.
    pub fn may_be_relevant(&self) -> bool {
        let kind = self.kind().unwrap_or("");
        match kind {
            k if pod_spec_pointer(k).is_some() => {
                let specs = pod_specs(&self.fields);
                // `by_label` reads the template's labels, else the object's: either may name it.
                let labelled = self.fields.metadata.as_ref().is_some_and(Meta::labelled)
                    || specs.iter().any(|(m, _)| m.is_some_and(Meta::labelled));
                specs.iter().any(|(_, s)| {
                    s.containers
                        .iter()
                        .flatten()
                        .any(|c| c.may_run_component(labelled))
                })
            }
            k => kind_may_be_relevant(k, self.name(), self.namespace()),
        }
    }
}

/// `false` only when `read::extract` surely finds no subject in an object of this kind, name
/// and namespace, whatever else it holds: decided from identity alone, as the webhook may before
/// reading an object (a Pod or workload is always "maybe": its containers decide).
pub fn kind_may_be_relevant(kind: &str, name: Option<&str>, namespace: Option<&str>) -> bool {
    match kind {
        // Talos and k3s documents carry no kind; the full reader decides.
        "" | "KubeletConfiguration" | "ClusterConfiguration" => true,
        k if DECLARED_KINDS.contains(&k) || pod_spec_pointer(k).is_some() => true,
        "ConfigMap" => {
            namespace.is_none_or(|ns| ns == "kube-system")
                && name.is_some_and(|n| is_kubelet_config_map_name(n) || n == "kubeadm-config")
        }
        _ => false,
    }
}

#[path = "relevance_quick.rs"]
pub mod quick;

#[path = "relevance_stop.rs"]
mod stop;

#[cfg(test)]
#[path = "relevance_tests.rs"]
mod tests;
