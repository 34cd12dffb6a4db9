//! `strata import FILE|DIR|- [REF]`: a rootfs tarball (plain, gzip or zstd) or a directory
//! becomes a one-layer image, with a config as `docker import` writes it.
//!
//! A tarball is unpacked into a temp dir under the store and re-packed by the deterministic
//! layer writer, so the stored layer is canonical whatever tool made the tarball; with
//! `SOURCE_DATE_EPOCH` set (it fixes `created` and clamps mtimes), importing the same input
//! twice gives the same image ID.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use oci_spec::image::HistoryBuilder;

use super::args::CompressionArg;
use super::format::print;
use super::Settings;
use crate::digest::Digest;
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::snapshot::chunk_store::ChunkStore;
use crate::snapshot::{self, BlobOpener, LayerOptions, Snapshots};
use crate::store::changes::apply_change;
use crate::store::image::layer_descriptor;
use crate::store::time::{format_rfc3339, now_unix};
use crate::store::{ImageConfig, Store};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A rootfs tarball (plain or compressed), a directory, or `-` for stdin.
    pub source: std::path::PathBuf,
    /// The reference to tag the image with.
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, …).
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message for the imported image (the history comment).
    #[arg(short = 'm', long = "message")]
    pub message: Option<String>,
    /// The platform the rootfs is for, `os/arch[/variant]` (default: the host's): a base for
    /// building or running a foreign platform under emulation.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Layer compression.
    #[arg(long, value_enum, default_value_t = CompressionArg::Gzip)]
    pub compression: CompressionArg,
    /// Compression level (gzip 0-9, default 5; zstd 1-22, default 3).
    #[arg(long, value_name = "N")]
    pub compression_level: Option<i32>,
}

pub fn run(settings: &Settings, args: ImportArgs) -> Result<ExitCode> {
    let tag = match &args.reference {
        Some(r) => {
            let r = Reference::parse(r).with_context(|| format!("invalid reference {r:?}"))?;
            if r.digest().is_some() {
                bail!("refusing to import to a digest reference: {r}");
            }
            Some(r)
        }
        None => None,
    };
    let epoch = source_date_epoch()?;
    let mut config = ImageConfig::new_for_host();
    if let Some(p) = &args.platform {
        let p = Platform::parse(p).map_err(|e| anyhow!("--platform: {e}"))?;
        config.set_platform(&p);
    }
    for c in &args.changes {
        apply_change(&mut config.config, c)?;
    }

    let store = Store::open(&settings.root)?;
    let opts = LayerOptions {
        compression: args.compression.with_level(args.compression_level),
        source_date_epoch: epoch,
    };
    let src = &args.source;
    let is_stdin = src.as_os_str() == "-";
    let layer = if !is_stdin && src.is_dir() {
        write_layer(&store, src, &opts)?
    } else {
        let input: Box<dyn Read + Send> = if is_stdin {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(src).with_context(|| format!("cannot open {}", src.display()))?)
        };
        let mut tar = snapshot::decompress(input)
            .with_context(|| format!("cannot read {}", src.display()))?;
        let dir = store.temp_dir()?;
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir(&rootfs)
            .with_context(|| format!("cannot create {}", rootfs.display()))?;
        snapshot::unpack_layer(&mut tar, &rootfs)
            .with_context(|| format!("cannot unpack {}", src.display()))?;
        write_layer(&store, &rootfs, &opts)?
    };

    let created = format_rfc3339(epoch.unwrap_or_else(now_unix));
    let source_name = if is_stdin {
        "-".to_string()
    } else {
        src.display().to_string()
    };
    let comment = args
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {source_name}"));
    config.created = Some(created.clone());
    config.rootfs.set_diff_ids(vec![layer.1.to_string()]);
    config.history = vec![HistoryBuilder::default()
        .created(created)
        .comment(comment)
        .build()
        .expect("a history entry with two fields builds")];

    let tags: Vec<Reference> = tag.into_iter().collect();
    let img = store.commit_image(&config, &[layer.0], &tags)?;
    // Keep the layer unpacked once, keyed by its chain ID, ready to be an overlay lowerdir.
    let blob_path = store.blob_path(&layer.2);
    let open: BlobOpener = Box::new(move || {
        let f = File::open(&blob_path)?;
        Ok(Box::new(f) as Box<dyn Read + Send>)
    });
    Snapshots::new(&settings.root)
        .ensure_chain(vec![(layer.1, open)])
        .context("cannot unpack the layer into the snapshot store")?;
    crate::store::events::image_event(&settings.root, "import", &img.id.to_string(), "");
    print(&format!("{}\n", img.id));
    Ok(ExitCode::SUCCESS)
}

/// Writes `dir` as a layer blob; returns its descriptor, diff ID and blob digest.
fn write_layer(
    store: &Store,
    dir: &Path,
    opts: &LayerOptions,
) -> Result<(oci_spec::image::Descriptor, Digest, Digest)> {
    let chunks = ChunkStore::new(store.chunks_dir(), store.blobs_dir());
    let mut w = store.blob_writer()?;
    let d = snapshot::write_dir_layer_reusing(dir, opts, &mut w, chunks.source(&[]))
        .with_context(|| format!("cannot archive {}", dir.display()))?;
    let (digest, size) = w.commit(Some(&d.digest))?;
    // Indexed so that layers built on this one can reuse its compressed files; without the
    // index they are only compressed again.
    let _ = chunks.save(&digest, &d.chunks);
    Ok((
        layer_descriptor(&digest, size, d.media_type),
        d.diff_id,
        digest,
    ))
}

/// `SOURCE_DATE_EPOCH` (Unix seconds), when set and not empty.
fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            Ok(Some(v.trim().parse().with_context(|| {
                format!("invalid SOURCE_DATE_EPOCH {v:?}")
            })?))
        }
        _ => Ok(None),
    }
}
