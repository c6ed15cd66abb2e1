//! A Pod, workload or ConfigMap built with only the members the engine reads (issue 14).
//!
//! Building a whole pod into a `Value` (probes, resources, env, status, managedFields…) was most
//! of the time spent on a relevant pod. What `read::subjects`, `read::component`, `checks` and
//! `remediate` (argv and volumes) read of such an object is listed in [`OBJECT`]; everything
//! else is skipped while parsing. Lists keep every item, in place (the quick reader keeps a
//! container that surely runs no component as `null`: [`Shape::Containers`]), so each JSON
//! pointer and patch operation computed on the pruned object is the one computed on the whole
//! object (DESIGN.md section 3). A member whose type is not the expected one (a list where a mapping is
//! expected, or the reverse) is kept whole, so the engine sees what it would have seen.

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Which part of a value to keep.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// The whole value.
    All,
    /// A mapping: these members, each in its shape; the others are skipped.
    Members(&'static [(&'static str, Shape)]),
    /// A list: every item, each in this shape.
    Items(&'static Shape),
    /// Read by remediation alone (the mounts a patch may extend): kept, in this shape, only
    /// when building for a patch; `/validate` never reads it.
    Remediation(&'static Shape),
    /// A pod's volumes: read by a patch only when it may add a volume
    /// (`remediation.addHostPathVolume`, `remediate::volumes`), and kept only then.
    Volumes(&'static Shape),
    /// A pod spec's containers, each a [`CONTAINER`]. The quick reader keeps a container after
    /// the first that surely runs no component (`component::may_run`) as `null`, in its place:
    /// building a Deployment's sidecars was most of its answer, and the engine reads only the
    /// containers that run a component (the first may be the pod's only one, which its labels
    /// alone can make a component).
    Containers,
}

use Shape::{All, Containers, Items, Members, Remediation, Volumes};

const CONTAINER: Shape = Members(&[
    ("name", All),
    ("image", All),
    ("command", All),
    ("args", All),
    ("volumeMounts", Remediation(&MOUNTS)),
]);

/// What a patch reads of a container's mounts: the paths it may extend (`remediate::volumes`).
const MOUNTS: Shape = Items(&Members(&[("mountPath", All)]));

/// What a patch reads of a pod's volumes: that they are a list it appends to, and the names a
/// new volume must not take. Each volume is kept, in place, with its name alone (a `hostPath`
/// or `secret` was most of what a patch built of a control-plane pod).
const VOLUMES: Shape = Items(&Members(&[("name", All)]));

const POD_SPEC: Shape = Members(&[("containers", Containers), ("volumes", Volumes(&VOLUMES))]);

const TEMPLATE: Shape = Members(&[
    ("metadata", Members(&[("labels", All)])),
    ("spec", POD_SPEC),
]);

/// A Pod's spec, a workload's (its template), or a CronJob's (its job's template).
const SPEC: Shape = Members(&[
    ("containers", Containers),
    ("volumes", Volumes(&VOLUMES)),
    ("template", TEMPLATE),
    (
        "jobTemplate",
        Members(&[("spec", Members(&[("template", TEMPLATE)]))]),
    ),
]);

const OBJECT: Shape = Members(&[
    ("apiVersion", All),
    ("kind", All),
    (
        "metadata",
        Members(&[
            ("name", All),
            ("namespace", All),
            ("generateName", All),
            ("labels", All),
            (
                "annotations",
                Members(&[("kubernetes.io/config.mirror", All)]),
            ),
            // `is_mirror` reads each reference's kind alone.
            ("ownerReferences", Items(&Members(&[("kind", All)]))),
        ]),
    ),
    ("spec", SPEC),
    // A PodTemplate's.
    ("template", TEMPLATE),
]);

/// A ConfigMap the engine may read (kubelet-config, kubeadm-config): its identity and the keys
/// `subjects::config_map` reads. Its other data (a kubeadm-config also holds
/// ClusterStatus and more) and its metadata are skipped. A patch replaces only a read key.
const CONFIG_MAP: Shape = Members(&[
    ("apiVersion", All),
    ("kind", All),
    (
        "metadata",
        Members(&[("name", All), ("namespace", All), ("generateName", All)]),
    ),
    (
        "data",
        Members(&[("kubelet", All), ("ClusterConfiguration", All)]),
    ),
]);

/// What a pruned object keeps besides what the engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    /// What a patch reads (`/mutate`): the mounts it may extend.
    pub patch: bool,
    /// With `patch`: a pod's volumes, which a patch reads only when the policy lets it add
    /// one (`remediation.addHostPathVolume`).
    pub volumes: bool,
}

impl Reads {
    /// What the engine reads alone (`/validate`).
    pub const EVALUATE: Reads = Reads {
        patch: false,
        volumes: false,
    };

    /// What a patch reads too (`/mutate`), the volumes when `adds_volumes`.
    pub const fn patch(adds_volumes: bool) -> Reads {
        Reads {
            patch: true,
            volumes: adds_volumes,
        }
    }

    /// Is a member of this shape kept?
    fn keeps(self, shape: Shape) -> bool {
        match shape {
            Remediation(_) => self.patch,
            Volumes(_) => self.patch && self.volumes,
            _ => true,
        }
    }
}

/// A ConfigMap with the members the engine reads, for `/validate` and `/mutate` alike.
pub fn config_map_object<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Keep(CONFIG_MAP, Reads::patch(true)).deserialize(d)
}

/// A Pod or workload object with the members the engine reads, and those `reads` names.
pub fn pod_object<'de, D: Deserializer<'de>>(d: D, reads: Reads) -> Result<Value, D::Error> {
    Keep(OBJECT, reads).deserialize(d)
}

#[derive(Clone, Copy)]
struct Keep(Shape, Reads);

impl<'de> DeserializeSeed<'de> for Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            All => Value::deserialize(d),
            Remediation(shape) | Volumes(shape) => Keep(*shape, self.1).deserialize(d),
            _ => d.deserialize_any(Pruner(self)),
        }
    }
}

struct Pruner(Keep);

/// A member's name, borrowed from the body unless it holds escapes: most members are skipped,
/// and only a kept one needs its own copy.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Visitor<'de> for Pruner {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Keep(Members(members), reads) = self.0 else {
            return Value::deserialize(MapAccessDeserializer::new(map));
        };
        // Sized for every member kept: growing the map re-hashes it.
        let mut out = Map::with_capacity(members.len());
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match members.iter().find(|(name, _)| *name == key) {
                Some((_, shape)) if !reads.keeps(*shape) => {
                    map.next_value::<Skipped>()?;
                }
                // A repeated key replaces the earlier value, as in serde_json's own `Value`.
                Some((_, shape)) => {
                    let value = map.next_value_seed(Keep(*shape, reads))?;
                    out.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<Skipped>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let (item, reads) = match self.0 {
            Keep(Items(item), reads) => (*item, reads),
            Keep(Containers, reads) => (CONTAINER, reads),
            _ => return Value::deserialize(SeqAccessDeserializer::new(seq)),
        };
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Keep(item, reads))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// A skipped value, read one level at a time through the deserializer, which counts each level
/// against its nesting limit as when it builds a `Value` (serde's `IgnoredAny` skips any depth
/// in serde_json): a body the full parse refuses for its nesting is refused here too.
struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skipped;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skipped, A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<Skipped>()?;
        }
        Ok(Skipped)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skipped, A::Error> {
        while seq.next_element::<Skipped>()?.is_some() {}
        Ok(Skipped)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_unit<E>(self) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_none<E>(self) -> Result<Skipped, E> {
        Ok(Skipped)
    }
}

#[path = "pruned_quick.rs"]
pub mod quick;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_mounts_a_patch_extends_are_kept_only_for_a_patch() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "p", "uid": "u"},
            "spec": {"containers": [{"name": "c", "command": ["kube-apiserver"],
                "volumeMounts": [{"name": "k8s-certs", "mountPath": "/etc/kubernetes/pki"}],
                "resources": {}}],
                "volumes": [{"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki"}}],
                "nodeName": "n"},
            "status": {"phase": "Running"}});
        let text = pod.to_string();
        let read = |reads| {
            let mut de = serde_json::Deserializer::from_str(&text);
            pod_object(&mut de, reads).unwrap()
        };
        let engine_reads = json!({"kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "command": ["kube-apiserver"]}]}});
        assert_eq!(read(Reads::EVALUATE), engine_reads);
        let mut patch_reads = engine_reads.clone();
        patch_reads["spec"]["containers"][0]["volumeMounts"] =
            json!([{"mountPath": "/etc/kubernetes/pki"}]);
        // The volumes only for a patch that may add one.
        assert_eq!(read(Reads::patch(false)), patch_reads);
        patch_reads["spec"]["volumes"] = json!([{"name": "k8s-certs"}]);
        assert_eq!(read(Reads::patch(true)), patch_reads);
    }
}
