//! `check`: audit files, directories or stdin; exit 0 all pass, 1 findings, 2 bad input.

use crate::engine::policy::{Policy, Profile};
use crate::report::{self, Format};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Policy file (default: the embedded policy).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// How an absent feature gate is judged (overrides the policy file).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Judge the components running on this node (their processes) instead of files.
    #[arg(long, conflicts_with = "paths")]
    pub node: bool,
    /// The node's `/` (e.g. /host in a pod); the kubelet's paths resolve under it. Without
    /// --node: judge that node's files as it runs them (`check /` does the same for `/`).
    #[arg(long, conflicts_with = "paths")]
    pub root: Option<PathBuf>,
    /// With --node: the proc filesystem to scan (the host's, so the pod needs hostPID).
    #[arg(long = "proc", default_value = "/proc", requires = "node")]
    pub proc_dir: PathBuf,
    /// Files, directories (read recursively) or `-` for stdin.
    #[arg(required_unless_present_any = ["node", "root"])]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: CheckArgs) -> ExitCode {
    let policy = match Policy::load(args.config.as_deref(), None, args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // `check /` is a whole node: judged as it runs, like `--root /`.
    let whole_node = args.paths.len() == 1 && args.paths[0] == std::path::Path::new("/");
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    if args.node {
        let records = crate::node::running::check_node(&root, &args.proc_dir, &policy);
        print_report(args.format, &mut records.into_iter())
    } else if args.root.is_some() || whole_node {
        let records = crate::node::tree::check_tree(&root, &policy);
        print_report(args.format, &mut records.into_iter())
    } else {
        // Records are written as the inputs are judged: memory does not grow with the file count.
        crate::node::stream::audit_paths(&args.paths, &policy, |records| {
            print_report(args.format, records)
        })
    }
}

/// Write the report of `records` to stdout; the exit code follows from what was written.
fn print_report(format: Format, records: &mut dyn Iterator<Item = report::Record>) -> ExitCode {
    // A machine-readable report piped to a file still shows on stderr what failed to read; the
    // text report already shows it, so it is not said twice.
    let echo = format != Format::Text;
    let records = records.inspect(move |r| {
        if echo && r.status == crate::engine::rules::Status::Error {
            eprintln!("error: {}", r.message);
        }
    });
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match report::write(format, records, colour, &mut out).and_then(|t| out.flush().map(|_| t)) {
        Ok(tally) => ExitCode::from(tally.exit_code()),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("error: writing the report: {e}");
            }
            ExitCode::from(2)
        }
    }
}
