//! Inputs and actions against a live cluster through the Kubernetes API.
pub mod approve;
