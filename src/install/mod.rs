//! What an operator installs with: certificates and the webhook configurations.

pub mod certs;
pub mod dns;
pub mod webhook_config;
