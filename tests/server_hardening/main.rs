//! Hardening of the webhook server (issue 8, items 3 to 6 and the server part of 14), over real
//! TLS on loopback, with real `curl` where a user would meet the problem:
//! - decisions run off the async workers, within a deadline (`decisions`);
//! - certificate reload reads only small regular files and only valid certificates (`reload`);
//! - idle and silent connections, the connection limit, accept errors, SIGTERM (`connections`);
//! - a 413 the client actually receives (`uploads`);
//! - silent peers on the operations port (`ops_port`).

#[path = "../server_common/mod.rs"]
mod server_common;
use server_common::skip;

mod connections;
mod decisions;
mod ops_port;
mod reload;
mod uploads;
