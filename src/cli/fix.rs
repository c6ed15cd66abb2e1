//! `fix`: repair node files. Prints the fixed text (one file), a unified diff (`--diff`), or
//! rewrites the files atomically (`--in-place`). Exit 0: nothing left to fix; 1: violations
//! that cannot be fixed here remain; 2: a file could not be read, parsed, edited or written.

use crate::engine::policy::{Policy, Profile};
use crate::fsio::{self, WriteOptions};
use crate::node::check::{self, Input};
use crate::node::fix;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct FixArgs {
    /// Policy file (default: the embedded policy).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// How an absent feature gate is judged (overrides the policy file).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Print a unified diff of the changes; write nothing.
    #[arg(long, conflicts_with = "in_place")]
    pub diff: bool,
    /// Rewrite the files atomically.
    #[arg(long)]
    pub in_place: bool,
    /// With --in-place: keep the original beside it as .FILE<SUFFIX> (e.g. .bak). The backup is
    /// hidden because the kubelet runs every non-hidden file in its static pod directory.
    #[arg(long, requires = "in_place")]
    pub backup_suffix: Option<String>,
    /// Files, directories (read recursively) or `-` for stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: FixArgs) -> ExitCode {
    let policy = match Policy::load(args.config.as_deref(), None, args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut worst = 0u8;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for input in check::expand(&args.paths) {
        // (the file, its name, its text, its fix): a k3s group fixes several files at once.
        type Job = (Option<PathBuf>, String, String, Result<fix::Fixed, String>);
        let jobs: Vec<Job> = match &input {
            Input::Unreachable { path, reason } => {
                eprintln!("error: {}: {reason}", path.display());
                worst = 2;
                continue;
            }
            Input::Stdin => {
                use std::io::Read;
                let mut bytes = Vec::new();
                let r = std::io::stdin()
                    .lock()
                    .take(crate::node::inputs::MAX_FILE_BYTES + 1)
                    .read_to_end(&mut bytes);
                match r
                    .map_err(|e| crate::node::inputs::InputError(e.to_string()))
                    .and_then(|_| crate::node::inputs::decode(bytes))
                {
                    Ok(t) => {
                        let f = fix::fix_text(&t, &policy);
                        vec![(None, "-".to_string(), t, f)]
                    }
                    Err(e) => {
                        eprintln!("error: -: {e}");
                        worst = 2;
                        continue;
                    }
                }
            }
            Input::File(p) => match crate::node::inputs::read(p) {
                Ok(t) => {
                    let f = fix::fix_text(&t, &policy);
                    vec![(Some(p.clone()), p.display().to_string(), t, f)]
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", p.display());
                    worst = 2;
                    continue;
                }
            },
            Input::K3sGroup(g) => match crate::node::k3s::fix_group(g, &policy) {
                Ok(files) => files
                    .into_iter()
                    .map(|(p, t, f)| (Some(p.clone()), p.display().to_string(), t, Ok(f)))
                    .collect(),
                Err(e) => {
                    eprintln!("error: {}: {e}", g.main.display());
                    worst = 2;
                    continue;
                }
            },
        };
        for (path, name, text, fixed) in jobs {
            let fixed = match fixed {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {name}: {e}");
                    worst = 2;
                    continue;
                }
            };
            // Without --in-place nothing is written: say what would change, not what did.
            let verb = if args.in_place { "" } else { "would be " };
            for n in &fixed.notes {
                match n.split_once(": fixed ") {
                    Some((what, rule)) if !verb.is_empty() => {
                        eprintln!("{name}: {what}: {verb}fixed {rule}")
                    }
                    _ => eprintln!("{name}: {n}"),
                }
            }
            for w in &fixed.warnings {
                eprintln!("{name}: warning: {w}; check `kubelet-tls-guard scan` (readiness) first");
            }
            for r in &fixed.remaining {
                eprintln!("{name}: not fixed: {r}");
                worst = worst.max(1);
            }
            let written = if args.diff {
                write!(out, "{}", fix::diff(&name, &text, &fixed.text))
            } else if args.in_place {
                match &path {
                    Some(p) if fixed.text != text => {
                        // Reading dropped a byte-order mark; the rewritten file keeps it.
                        let content = if has_bom(p) {
                            format!("{}{}", crate::node::inputs::BOM, fixed.text)
                        } else {
                            fixed.text.clone()
                        };
                        let opts = WriteOptions {
                            mode: None,
                            backup_suffix: args.backup_suffix.as_deref(),
                        };
                        fsio::write_atomic(p, content.as_bytes(), opts).map(|backup| {
                            if let Some(b) = backup {
                                eprintln!("{name}: backup in {}", b.display());
                            }
                        })
                    }
                    None => {
                        eprintln!("error: --in-place cannot rewrite stdin");
                        worst = 2;
                        Ok(())
                    }
                    _ => Ok(()),
                }
            } else {
                write!(out, "{}", fixed.text)
            };
            if let Err(e) = written {
                eprintln!("error: {name}: {e} (the original is unchanged)");
                worst = 2;
            }
        }
    }
    let _ = out.flush();
    ExitCode::from(worst)
}

fn has_bom(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 3];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == *crate::node::inputs::BOM.as_bytes())
}
