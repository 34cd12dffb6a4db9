//! `strata logs [-f] [-n N] [-t] [--since T] [--until T] [--details] CONTAINER`: a
//! container's output as Docker shows it: stdout on our stdout and stderr on our stderr, so
//! `logs C 2>/dev/null` shows only stdout; `-f` follows until the container stops.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::Settings;
use crate::container::logfile::Stream;
use crate::engine::containers::logs::{
    logs, now_ns, parse_log_time, parse_tail, LogFrame, LogsRequest,
};

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
    let now = now_ns();
    let req = LogsRequest {
        stdout: true,
        stderr: true,
        follow: args.follow,
        since: parse_log_time("since", args.since.as_deref(), now)?,
        until: parse_log_time("until", args.until.as_deref(), now)?,
        tail: parse_tail(args.tail.as_deref())?,
    };
    for frame in logs(&settings.root, &args.container, &req)? {
        show(&frame, args.timestamps, args.details);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a frame to the stream it came from; a closed pipe ends nothing else.
pub fn show(frame: &LogFrame, timestamps: bool, details: bool) {
    let bytes = frame.render(timestamps, details);
    let _ = match frame.stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes).and_then(|_| out.flush())
        }
        Stream::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(&bytes).and_then(|_| err.flush())
        }
    };
}
