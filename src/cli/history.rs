//! `strata history`: IMAGE CREATED CREATED BY SIZE COMMENT, newest first, as docker prints it.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::format::{ellipsis, human_size, print, render_table, since};
use super::Settings;
use crate::store::time::now_unix;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print sizes and dates in a human readable format.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    pub reference: String,
}

/// One history entry, resolved against the layers.
struct Entry {
    created: Option<String>,
    created_by: String,
    comment: String,
    size: u64,
}

pub fn run(settings: &Settings, args: HistoryArgs) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let img = store.resolve(&args.reference)?;
    let layers = img.layers();
    let mut next_layer = 0;
    let mut entries: Vec<Entry> = Vec::new();
    for h in &img.config.history {
        let size = if h.empty_layer().unwrap_or(false) {
            0
        } else {
            let s = layers.get(next_layer).map_or(0, |l| l.size());
            next_layer += 1;
            s
        };
        entries.push(Entry {
            created: h.created().clone(),
            created_by: h.created_by().clone().unwrap_or_default(),
            comment: h.comment().clone().unwrap_or_default(),
            size,
        });
    }
    entries.reverse();
    let id_for = |i: usize| {
        if i > 0 {
            "<missing>".to_string()
        } else if args.no_trunc {
            img.id.to_string()
        } else {
            img.id.short()
        }
    };
    if args.quiet {
        let out: String = (0..entries.len()).map(|i| id_for(i) + "\n").collect();
        print(&out);
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_unix();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let by = e.created_by.replace('\t', " ");
            let by = if args.no_trunc { by } else { ellipsis(&by, 45) };
            let (created, size) = if args.human {
                (since(e.created.as_deref(), now), human_size(e.size))
            } else {
                (e.created.clone().unwrap_or_default(), e.size.to_string())
            };
            vec![id_for(i), created, by, size, e.comment.clone()]
        })
        .collect();
    print(&render_table(
        &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        &rows,
    ));
    Ok(ExitCode::SUCCESS)
}
