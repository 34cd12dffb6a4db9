//! `strata stats [--no-stream] [-a] [--format F] [CONTAINER…]`: CPU, memory, network, block
//! I/O and PIDs of running containers from their cgroups, as `docker stats` shows them;
//! without `--no-stream` the table is redrawn every second until interrupted.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::format::{print, render_rows};
use super::Settings;
use crate::container::record::Status;
use crate::container::stats_view::{self, Sample, StatsRow};
use crate::container::{cgroups, Containers};
use crate::engine::containers::stats::StatsSource;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show every container (only running ones by default).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// One reading instead of a live view.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate the output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// `table`, `json` or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: StatsArgs) -> Result<ExitCode> {
    let root = &settings.root;
    // (as named on the command line, where its readings come from)
    let mut chosen: Vec<(String, StatsSource)> = if args.containers.is_empty() {
        Containers::new(root)
            .list()?
            .into_iter()
            .filter(|c| args.all || c.state.status == Status::Running)
            .map(|c| (c.short_id().to_string(), StatsSource::of(root, c)))
            .collect()
    } else {
        let mut v = Vec::new();
        for q in &args.containers {
            v.push((q.clone(), StatsSource::open(root, q)?));
        }
        v
    };
    let format = match args.format.as_deref() {
        None | Some("table") => stats_view::DEFAULT_FORMAT.to_string(),
        Some(f) => f.to_string(),
    };
    let mut prev: HashMap<String, Sample> = HashMap::new();
    for (_, src) in &mut chosen {
        if let Some(s) = src.read().sample {
            prev.insert(src.container.id.clone(), s);
        }
    }
    loop {
        // Docker's first reading compares against one taken a moment earlier.
        std::thread::sleep(Duration::from_millis(if args.no_stream {
            500
        } else {
            1000
        }));
        let mut rows = Vec::new();
        for (shown, src) in &mut chosen {
            let cur = src.read().sample;
            let c = &src.container;
            let row = match (prev.get(&c.id), &cur) {
                (Some(p), Some(s)) => cgroups::stats_row(c, shown, p, s, !args.no_trunc),
                _ => StatsRow::invalid(
                    &stats_view::Ident {
                        container: shown,
                        id: &c.id,
                        name: &c.name,
                    },
                    !args.no_trunc,
                ),
            };
            if let Some(s) = cur {
                prev.insert(c.id.clone(), s);
            }
            rows.push(row.to_value());
        }
        let out = render_rows(&format, &rows, stats_view::HEADERS)?;
        if args.no_stream {
            print(&out);
            return Ok(ExitCode::SUCCESS);
        }
        // Clear the screen and redraw, as docker stats does on a terminal.
        print(&format!("\x1b[2J\x1b[H{out}"));
    }
}
