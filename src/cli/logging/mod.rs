//! The log of the long-running commands (`serve`, `approve-csrs`): text or JSON lines on stderr.

mod json;
mod stamp;
mod writer;

pub use writer::flush;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Keeps the log writer's thread alive; dropping it writes out what is still gathered.
#[must_use = "logs gathered when this is dropped are written then; hold it until the command ends"]
pub(crate) struct LogGuard {
    _writer: Option<writer::Guard>,
}

pub(crate) fn init_logging(format: LogFormat) -> LogGuard {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::format::JsonFields;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: not in files, pipes or container logs.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    // One line per admission decision: not written on the request path (see `writer`).
    let (writer, guard) = writer::Batched::start(std::io::stderr(), writer::PAUSE, writer::LIMIT);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer.clone());
    // try_init: a second call (tests) keeps the first subscriber.
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(json::JsonLine::new())
            .try_init(),
    };
    LogGuard {
        _writer: installed.ok().map(|()| {
            writer.install();
            guard
        }),
    }
}
