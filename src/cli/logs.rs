//! `strata logs [-f] [-n N] [-t] [--since T] [--until T] [--details] CONTAINER`: a
//! container's output as Docker shows it: stdout on our stdout and stderr on our stderr, so
//! `logs C 2>/dev/null` shows only stdout; `-f` follows until the container stops.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::container::logfile::{self, Entry, Query, Stream};
use crate::container::{Containers, Status};
use crate::store::events::parse_time;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow the output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines (`all` for everything).
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<String>,
    /// Show each line's time.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Lines since a time (`2026-01-02T15:04:05Z`, a Unix time, or relative: `42m`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Lines before a time (same forms as `--since`).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Show the extra details the log keeps.
    #[arg(long)]
    pub details: bool,
    pub container: String,
}

pub fn run(settings: &Settings, args: LogsArgs) -> Result<ExitCode> {
    let cs = Containers::new(&settings.root);
    let c = cs.find(&args.container)?;
    let path = cs.log_path(&c.id);
    let now = now_ns();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<i128>> {
        v.as_deref()
            .map(|s| parse_time(s, now).with_context(|| format!("invalid value for --{flag}")))
            .transpose()
    };
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .with_context(|| format!("invalid --tail {n:?}: expected a number or \"all\""))?,
        ),
    };
    let q = Query {
        stdout: true,
        stderr: true,
        since: time("since", &args.since)?,
        until: time("until", &args.until)?,
        tail,
        timestamps: args.timestamps,
        details: args.details,
    };
    let entries = logfile::read(&path).with_context(|| format!("reading {}", path.display()))?;
    show(&q, logfile::select(&entries, &q));
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    logfile::follow(
        &path,
        entries.len(),
        &q,
        &mut || !matches!(cs.get_reconciled(&c.id), Ok(c) if c.state.status == Status::Running),
        &mut |e| {
            show(&q, vec![e]);
            true
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes each record to the stream it came from; a closed pipe ends nothing else.
pub fn show(q: &Query, entries: Vec<&Entry>) {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for e in entries {
        let bytes = q.render(e);
        let _ = match e.stream {
            Stream::Stdout => out.write_all(&bytes),
            Stream::Stderr => err.write_all(&bytes),
        };
    }
    let _ = out.flush();
    let _ = err.flush();
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}
