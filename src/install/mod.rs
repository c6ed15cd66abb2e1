//! What an operator installs with: certificates and the webhook configurations.

pub mod certs;
pub mod webhook_config;
pub mod webhook_sources;
