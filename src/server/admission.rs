//! AdmissionReview in and out (`admission.k8s.io/v1` and `v1beta1`, DESIGN.md section 5).
//!
//! The body is parsed once, straight into these lean types; `request.object` stays raw JSON so the
//! engine sees (and patches) the object exactly as the API server sent it. `oldObject`, `userInfo`
//! and `options` are skipped without being built.
//!
//! Our own types rather than kube-core's: kube-core serialises `response.patch` as raw bytes
//! where the API wants base64 of the JSON Patch (kube-rs/kube#1781), and it builds the whole
//! request, `oldObject` included, where we need a handful of fields.

use crate::engine::read::tree::Node;
use serde::Deserialize;
use serde_json::Value;

/// `request.kind`, a GroupVersionKind of which only the kind is read (group and version are
/// skipped, not copied: nothing uses them).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub kind: String,
}

/// The fields of `request` the decision needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub kind: Option<GroupVersionKind>,
    #[serde(default)]
    pub sub_resource: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub object: Option<Value>,
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// How much of the object (and of the request after it) was read (lean.rs).
    #[serde(skip)]
    pub built: Built,
    /// The answer, when the lean pass decided while it read the object (a pod,
    /// `lean::tree`); `object` is then `None`, and the object's identity is in the fields above.
    #[serde(skip)]
    pub decided: Option<Box<super::outcome::Outcome>>,
}

impl AdmissionRequest {
    pub fn uid(&self) -> &str {
        self.uid.as_deref().unwrap_or("")
    }

    pub fn operation(&self) -> &str {
        self.operation.as_deref().unwrap_or("")
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run.unwrap_or(false)
    }

    /// `dryRun` as read: `None` when the request was answered from its envelope, before the
    /// object, and `dryRun` (which follows it) was never read.
    pub fn dry_run_read(&self) -> Option<bool> {
        (self.built != Built::Envelope).then(|| self.is_dry_run())
    }

    /// The object's kind: `request.kind.kind`, else the object's own `kind`.
    pub fn kind(&self) -> &str {
        match &self.kind {
            Some(k) if !k.kind.is_empty() => &k.kind,
            _ => self
                .object
                .as_ref()
                .and_then(|o| o.get("kind"))
                .and_then(Value::as_str)
                .unwrap_or(""),
        }
    }

    fn metadata_str(&self, field: &str) -> Option<&str> {
        self.object
            .as_ref()?
            .get("metadata")?
            .get(field)?
            .as_str()
            .filter(|s| !s.is_empty())
    }

    /// `request.namespace`, else the object's namespace.
    pub fn namespace(&self) -> &str {
        self.namespace
            .as_deref()
            .filter(|s| !s.is_empty())
            .or_else(|| self.metadata_str("namespace"))
            .unwrap_or("")
    }

    /// `request.name`, else the object's name, else its `generateName` (pods made by controllers
    /// have no name yet at admission).
    pub fn name(&self) -> &str {
        self.name
            .as_deref()
            .filter(|s| !s.is_empty())
            .or_else(|| self.metadata_str("name"))
            .or_else(|| self.metadata_str("generateName"))
            .unwrap_or("")
    }
}

impl AdmissionRequest {
    /// Fill the request's empty `kind`, `namespace` and `name` from `object`, as
    /// [`kind`](Self::kind), [`namespace`](Self::namespace) and [`name`](Self::name) read them
    /// of a built `object`: for an object read elsewhere (a borrowed tree, `lean::tree`).
    pub fn identify<N: Node>(&mut self, object: &N) {
        let meta = |field: &str| object.member("metadata")?.member(field)?.text();
        self.identify_as(Identity {
            kind: object.member("kind").and_then(Node::text),
            namespace: meta("namespace"),
            name: meta("name"),
            generate_name: meta("generateName"),
        });
    }

    /// Fill the request's empty `kind`, `namespace` and `name` from an object's, as
    /// [`kind`](Self::kind), [`namespace`](Self::namespace) and [`name`](Self::name) would read
    /// them of the object built: an empty name falls back to `generateName`.
    pub fn identify_as(&mut self, o: Identity<'_>) {
        let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
        let given = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
        if self.kind.as_ref().is_none_or(|k| k.kind.is_empty())
            && let Some(kind) = o.kind
        {
            self.kind.get_or_insert_with(GroupVersionKind::default).kind = kind.to_string();
        }
        if empty(&self.namespace) {
            self.namespace = given(o.namespace);
        }
        if empty(&self.name) {
            self.name = given(o.name).or_else(|| given(o.generate_name));
        }
    }
}

/// What names an object: its kind, and its metadata's namespace, name and generateName.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity<'a> {
    pub kind: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
    pub generate_name: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReview {
    #[serde(default)]
    api_version: Option<String>,
    // Not typed as a string: a bare AdmissionRequest carries `kind` as a GroupVersionKind map,
    // and that must reach the "bare AdmissionRequest" message, not a type error.
    #[serde(default)]
    kind: Option<Value>,
    #[serde(default)]
    request: Option<AdmissionRequest>,
    // Fields of a bare AdmissionRequest, only to say so in the error.
    #[serde(default)]
    uid: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    operation: Option<serde::de::IgnoredAny>,
}

#[derive(Debug)]
pub struct AdmissionReview {
    pub api_version: ApiVersion,
    pub request: AdmissionRequest,
}

/// How much of `request.object` a parse built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Built {
    /// Nothing: the envelope (operation, subresource, or kind and name) decided before the
    /// object, which was not read; nor was anything after it, such as `dryRun`.
    Envelope,
    /// Its identity only (kind, name, namespace, moved to the request's own fields): the object
    /// surely holds nothing for the engine.
    Identity,
    /// A Pod or workload, with only the members the engine reads (linear work, no YAML).
    PodMembers,
    /// A kubelet-config or kubeadm-config ConfigMap, with only its identity and the keys the
    /// engine reads (whose YAML is still to parse).
    ConfigMapMembers,
    /// All of it.
    #[default]
    Whole,
}

impl Built {
    /// The engine surely finds nothing in what was read: the decision need not look.
    pub fn not_relevant(self) -> bool {
        matches!(self, Built::Envelope | Built::Identity)
    }
}

/// Why a body is not an AdmissionReview we can answer (HTTP 400; the message is one line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("request body is not JSON: {0}")]
    NotJson(String),
    #[error("not an AdmissionReview: {0}")]
    NotReview(String),
}

/// Parse a request body, building the whole object (the webhook parses with `lean::parse`,
/// which falls back to this).
pub fn parse_review(body: &[u8]) -> Result<AdmissionReview, ReviewError> {
    let raw: RawReview = serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ReviewError::NotReview(e.to_string()),
            Category::Syntax | Category::Eof | Category::Io => ReviewError::NotJson(e.to_string()),
        }
    })?;
    let not = |m: String| Err(ReviewError::NotReview(m));
    let (api_version, kind) = match (raw.api_version.as_deref(), raw.kind.as_ref()) {
        (Some(a), Some(Value::String(k))) => (a, k.as_str()),
        _ if raw.uid.is_some() && raw.operation.is_some() => {
            return not(format!(
                "this looks like a bare AdmissionRequest; send {{\"apiVersion\":\"{V1}\",\"kind\":\"AdmissionReview\",\"request\":{{...}}}}"
            ));
        }
        (None, _) => return not("apiVersion is missing".into()),
        (_, None) => return not("kind is missing".into()),
        (_, Some(_)) => {
            return not("kind is not a string, expected \"AdmissionReview\"".into());
        }
    };
    if kind != "AdmissionReview" {
        return not(format!("kind is {kind:?}, expected \"AdmissionReview\""));
    }
    let api_version = match api_version {
        V1 => ApiVersion::V1,
        V1BETA1 => ApiVersion::V1beta1,
        other => {
            return not(format!(
                "apiVersion {other:?} is not supported (use {V1} or {V1BETA1})"
            ));
        }
    };
    let Some(request) = raw.request else {
        return not("request is missing".into());
    };
    if request.uid.as_deref().is_none_or(str::is_empty) {
        return not("request.uid is missing".into());
    }
    Ok(AdmissionReview {
        api_version,
        request,
    })
}

pub use super::render::{ApiVersion, Response, Status, V1, V1BETA1, render};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_and_v1beta1() {
        for (v, want) in [(V1, ApiVersion::V1), (V1BETA1, ApiVersion::V1beta1)] {
            let body = format!(
                r#"{{"apiVersion":"{v}","kind":"AdmissionReview","request":{{"uid":"u1","operation":"CREATE","object":{{"kind":"Pod","metadata":{{"name":"p","namespace":"kube-system"}}}},"oldObject":null,"dryRun":true}}}}"#
            );
            let r = parse_review(body.as_bytes()).unwrap();
            assert_eq!(r.api_version, want);
            assert_eq!(r.request.uid(), "u1");
            assert_eq!(r.request.kind(), "Pod");
            assert_eq!(r.request.name(), "p");
            assert_eq!(r.request.namespace(), "kube-system");
            assert!(r.request.is_dry_run());
        }
    }

    #[test]
    fn rejects_what_is_not_a_review() {
        let cases: &[(&str, &str)] = &[
            ("{", "not JSON"),
            ("[]", "not an AdmissionReview"),
            (r#"{"user":"tonio"}"#, "apiVersion is missing"),
            (
                r#"{"uid":"x","operation":"CREATE"}"#,
                "bare AdmissionRequest",
            ),
            (
                r#"{"uid":"x","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"DELETE"}"#,
                "bare AdmissionRequest",
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":{"kind":"AdmissionReview"}}"#,
                "expected \"AdmissionReview\"",
            ),
            (
                r#"{"apiVersion":"v1","kind":"Pod"}"#,
                "expected \"AdmissionReview\"",
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"a"}}"#,
                "not supported",
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
                "request is missing",
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"user":"x"}}"#,
                "request.uid is missing",
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}"#,
                "invalid type",
            ),
        ];
        for (body, want) in cases {
            let err = parse_review(body.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{body}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
