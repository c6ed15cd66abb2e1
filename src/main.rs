#![forbid(unsafe_code)]
use clap::Parser;
use kubelet_tls_guard::cli::{Cli, Command};
use std::process::ExitCode;

// glibc malloc/free were a third of the instructions of a webhook request (issue 14).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(a) => kubelet_tls_guard::cli::serve::run(*a),
        Command::Check(a) => kubelet_tls_guard::cli::check::run(a),
        Command::Fix(a) => kubelet_tls_guard::cli::fix::run(a),
        Command::Certs(a) => kubelet_tls_guard::cli::certs::run(a),
        Command::WebhookConfig(a) => kubelet_tls_guard::cli::webhook_config::run(a),
        Command::Scan(a) => kubelet_tls_guard::cli::scan::run(a),
        Command::ApproveCsrs(a) => kubelet_tls_guard::cli::approve_csrs::run(a),
    }
}
