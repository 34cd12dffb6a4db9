//! `strata images`: the REPOSITORY TAG IMAGE ID CREATED SIZE table, `-q`, `--digests`,
//! `--format json` (one object per line, as `docker images --format json`) or a Go template,
//! `--filter` (see `store::image_filter`), `--tree` (see `images_tree`).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::format::{human_size, print, render_rows, render_table, since};
use super::progress::fd_size;
use super::Settings;
use crate::engine::images::ListRequest;
use crate::reference::Reference;
use crate::store::time::{format_go_utc, now_unix, parse_rfc3339};
use crate::store::Image;

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images. Docker hides intermediate images without it; strata records no
    /// parent images, so every image is listed either way.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// `dangling=true|false`, `reference=PATTERN`, `label=KEY[=VALUE]`, `before=IMAGE`,
    /// `since=IMAGE`, `until=TIMESTAMP`.
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Show full image IDs.
    #[arg(long)]
    pub no_trunc: bool,
    /// `table`, `json`, or a Go template (`'{{.Repository}}:{{.Tag}}'`, `'table {{.ID}}'`).
    #[arg(long)]
    pub format: Option<String>,
    /// List multi-platform images as a tree (EXPERIMENTAL).
    #[arg(long)]
    pub tree: bool,
    /// Only images matching this repository (and tag); globs as in `reference=`.
    pub reference: Option<String>,
}

/// Docker's column titles for `--format 'table …'`.
const HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
];

/// One line of the listing: an image under one of its tags (or `<none>`).
struct Row<'a> {
    image: &'a Image,
    tag: Option<&'a Reference>,
}

pub fn run(settings: &Settings, args: ImagesArgs) -> Result<ExitCode> {
    let now = now_unix();
    let req = ListRequest {
        filters: args.filter,
        reference: args.reference,
    };
    if args.tree {
        // Docker's refusals, in its order.
        for (set, flag) in [
            (args.quiet, "--quiet"),
            (args.no_trunc, "--no-trunc"),
            (args.digests, "--show-digest"),
            (args.format.is_some(), "--format"),
        ] {
            if set {
                bail!("{flag} is not yet supported with --tree");
            }
        }
        let images = crate::engine::image_tree::tree(&settings.root, &req)?;
        let width = if std::io::stdout().is_terminal() {
            usize::from(fd_size(1).0)
        } else {
            80
        };
        print(&super::images_tree::render(&images, width));
        return Ok(ExitCode::SUCCESS);
    }
    let listed = crate::engine::images::list(&settings.root, &req)?;
    let mut rows = Vec::new();
    for l in &listed {
        if l.tags.is_empty() {
            rows.push(Row {
                image: &l.image,
                tag: None,
            });
        } else {
            rows.extend(l.tags.iter().map(|t| Row {
                image: &l.image,
                tag: Some(t),
            }));
        }
    }
    let id = |img: &Image| {
        if args.no_trunc {
            img.id.to_string()
        } else {
            img.id.short()
        }
    };
    if args.quiet {
        let mut out = String::new();
        for r in &rows {
            out.push_str(&id(r.image));
            out.push('\n');
        }
        print(&out);
        return Ok(ExitCode::SUCCESS);
    }
    let repo = |r: &Row| r.tag.map_or("<none>".into(), |t| t.familiar());
    let tag = |r: &Row| r.tag.and_then(|t| t.tag()).unwrap_or("<none>").to_string();
    let digest = |r: &Row| {
        if r.tag.is_some() {
            r.image.manifest_digest.to_string()
        } else {
            "<none>".into()
        }
    };
    match args.format.as_deref() {
        None | Some("table") => {
            let mut header = vec!["REPOSITORY", "TAG"];
            if args.digests {
                header.push("DIGEST");
            }
            header.extend(["IMAGE ID", "CREATED", "SIZE"]);
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let mut row = vec![repo(r), tag(r)];
                    if args.digests {
                        row.push(digest(r));
                    }
                    row.push(id(r.image));
                    row.push(since(r.image.config.created.as_deref(), now));
                    row.push(human_size(r.image.size()));
                    row
                })
                .collect();
            print(&render_table(&header, &table));
        }
        Some(format) => {
            let mut objects = Vec::new();
            for r in &rows {
                let size = human_size(r.image.size());
                let v = serde_json::json!({
                    "Containers": "N/A",
                    "CreatedAt": r
                        .image
                        .config
                        .created
                        .as_deref()
                        .and_then(parse_rfc3339)
                        .map(format_go_utc)
                        .unwrap_or_default(),
                    "CreatedSince": since(r.image.config.created.as_deref(), now),
                    "Digest": digest(r),
                    "ID": id(r.image),
                    "Repository": repo(r),
                    "SharedSize": "N/A",
                    "Size": size,
                    "Tag": tag(r),
                    "UniqueSize": "N/A",
                    "VirtualSize": size,
                });
                objects.push(v);
            }
            print(&render_rows(format, &objects, HEADERS)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
