//! `strata history`: IMAGE CREATED CREATED BY SIZE COMMENT, newest first, as docker prints it,
//! or `--format` (`table`, `json`, a Go template over Docker's fields).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use serde_json::{json, Value};

use super::format::{ellipsis, human_size, print, render_rows, since};
use super::Settings;
use crate::store::time::{format_rfc3339, now_unix, parse_rfc3339};

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
    /// `table`, `json`, or a Go template of `{{.ID}}`, `{{.CreatedSince}}`, `{{.CreatedAt}}`,
    /// `{{.CreatedBy}}`, `{{.Size}}`, `{{.Comment}}`.
    #[arg(long)]
    pub format: Option<String>,
    pub reference: String,
}

pub fn run(settings: &Settings, args: HistoryArgs) -> Result<ExitCode> {
    let entries = crate::engine::images::history(&settings.root, &args.reference)?;
    let id_for = |i: usize| match &entries[i].id {
        None => "<missing>".to_string(),
        Some(id) if args.no_trunc => id.to_string(),
        Some(id) => id.short(),
    };
    if args.quiet {
        let out: String = (0..entries.len()).map(|i| id_for(i) + "\n").collect();
        print(&out);
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_unix();
    let rows: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let by = e.created_by.replace('\t', " ");
            let created_at = e
                .created
                .as_deref()
                .and_then(parse_rfc3339)
                .map(format_rfc3339)
                .unwrap_or_else(|| e.created.clone().unwrap_or_default());
            json!({
                "Comment": e.comment,
                "CreatedAt": created_at,
                "CreatedBy": if args.no_trunc { by } else { ellipsis(&by, 45) },
                "CreatedSince": if args.human {
                    since(e.created.as_deref(), now)
                } else {
                    created_at.clone()
                },
                "ID": id_for(i),
                "Size": if args.human { human_size(e.size) } else { e.size.to_string() },
            })
        })
        .collect();
    let format = match args.format.as_deref() {
        None | Some("table") => {
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
        }
        Some(f) => f,
    };
    print(&render_rows(format, &rows, HEADERS)?);
    Ok(ExitCode::SUCCESS)
}

/// Docker's column titles for `history --format 'table …'`.
const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];
