//! The typed k8s-openapi objects: a misspelled field cannot slip through.

use super::cel::{match_conditions, rules};
use super::options::{CaSource, WebhookOptions};
use super::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, ServiceReference, ValidatingWebhook,
    ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use std::collections::BTreeMap;

/// Every namespace but the webhook's own: its pods must start even when the webhook is down.
pub fn namespace_selector(own_namespace: &str) -> LabelSelector {
    LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "kubernetes.io/metadata.name".into(),
            operator: "NotIn".into(),
            values: Some(vec![own_namespace.into()]),
        }]),
        match_labels: None,
    }
}

fn client_config(opts: &WebhookOptions, path: &str) -> WebhookClientConfig {
    WebhookClientConfig {
        ca_bundle: match &opts.ca {
            CaSource::Bundle(pem) => Some(ByteString(pem.clone())),
            _ => None,
        },
        service: match opts.url {
            Some(_) => None,
            None => Some(ServiceReference {
                name: opts.service.clone(),
                namespace: opts.namespace.clone(),
                path: Some(path.into()),
                port: Some(opts.port),
            }),
        },
        url: opts.url.as_ref().map(|base| format!("{base}{path}")),
    }
}

fn metadata(opts: &WebhookOptions) -> ObjectMeta {
    let annotations = match &opts.ca {
        CaSource::InjectFrom(from) => Some(BTreeMap::from([(
            INJECT_CA_FROM_ANNOTATION.to_string(),
            from.clone(),
        )])),
        _ => None,
    };
    ObjectMeta {
        name: Some(opts.name.clone()),
        labels: Some(BTreeMap::from([(
            "app.kubernetes.io/name".to_string(),
            DEFAULT_NAME.to_string(),
        )])),
        annotations,
        ..ObjectMeta::default()
    }
}

pub fn validating_configuration(opts: &WebhookOptions) -> ValidatingWebhookConfiguration {
    ValidatingWebhookConfiguration {
        metadata: metadata(opts),
        webhooks: Some(vec![ValidatingWebhook {
            name: VALIDATING_WEBHOOK_NAME.into(),
            admission_review_versions: vec!["v1".into()],
            client_config: client_config(opts, VALIDATE_PATH),
            failure_policy: Some(opts.mode.failure_policy().into()),
            match_policy: Some("Equivalent".into()),
            match_conditions: Some(match_conditions()),
            namespace_selector: Some(namespace_selector(&opts.namespace)),
            object_selector: None,
            rules: Some(rules()),
            side_effects: "None".into(),
            timeout_seconds: Some(opts.timeout_seconds),
        }]),
    }
}

pub fn mutating_configuration(opts: &WebhookOptions) -> MutatingWebhookConfiguration {
    MutatingWebhookConfiguration {
        metadata: metadata(opts),
        webhooks: Some(vec![MutatingWebhook {
            name: MUTATING_WEBHOOK_NAME.into(),
            admission_review_versions: vec!["v1".into()],
            client_config: client_config(opts, MUTATE_PATH),
            failure_policy: Some(opts.mode.failure_policy().into()),
            match_policy: Some("Equivalent".into()),
            match_conditions: Some(match_conditions()),
            namespace_selector: Some(namespace_selector(&opts.namespace)),
            object_selector: None,
            // Our patch is idempotent and other mutators do not add control-plane flags.
            reinvocation_policy: Some("Never".into()),
            rules: Some(rules()),
            side_effects: "None".into(),
            timeout_seconds: Some(opts.timeout_seconds),
        }]),
    }
}
