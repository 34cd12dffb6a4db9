//! `strata events [--since T] [--until T] [--filter K=V]… [--format F]`: the store's event
//! log as `docker events` prints it; without `--until` it follows new events until
//! interrupted.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::gotemplate::{expand_shorthand, Template};
use super::Settings;
use crate::engine::events::EventsRequest;
use crate::store::events::Event;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Events since a time (`2026-01-02T15:04:05Z`, a Unix time, or relative: `10m`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Events until a time (same forms); without it, new events are followed.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// `KEY=VALUE`: container, image, event, type, label, network, volume.
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// `json` or a Go template per event.
    #[arg(long)]
    pub format: Option<String>,
}

pub fn run(settings: &Settings, args: EventsArgs) -> Result<ExitCode> {
    let req = EventsRequest {
        since: args.since,
        until: args.until,
        filters: args.filter,
    };
    let query = req.query(crate::engine::events::now_ns())?;
    let template = args
        .format
        .as_deref()
        .map(|f| Template::parse(&expand_shorthand(f)))
        .transpose()?;
    let mut failed = None;
    let mut out = std::io::stdout();
    let mut emit = |e: &Event| -> bool {
        // Attributes is a map in Docker's message: a key one event lacks prints `<no value>`.
        let line = match &template {
            None => e.docker_line(),
            Some(t) => match serde_json::to_value(e).map(|v| t.render(&v)) {
                Ok(Ok(s)) => s,
                Ok(Err(err)) => {
                    failed = Some(anyhow::Error::new(err));
                    return false;
                }
                Err(err) => {
                    failed = Some(anyhow::Error::new(err));
                    return false;
                }
            },
        };
        writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
    };
    crate::engine::events::follow(&settings.root, &query, &|| false, &mut emit)?;
    match failed {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}
