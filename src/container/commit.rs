//! `strata commit`: a container's upperdir becomes one more layer over its image, and the image
//! config gains that layer's diffID and a history entry, as `docker commit` does. Only what the
//! container changed is written: copy-ups that changed nothing are left out
//! (`snapshot::diff::upperdir_changes_against`), deletions become whiteouts.

use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, HistoryBuilder, ImageManifest};

use crate::digest::Digest;
use crate::reference::Reference;
use crate::snapshot::chunk_store::ChunkStore;
use crate::snapshot::diff::upperdir_changes_against;
use crate::snapshot::{write_changes_layer_reusing, Change, LayerError, LayerOptions};
use crate::store::changes::{apply_change, ChangeError};
use crate::store::config::RuntimeConfig;
use crate::store::image::layer_descriptor;
use crate::store::time::{format_rfc3339, now_unix};
use crate::store::{Image, ImageConfig, Store, StoreError};

/// Why a commit failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("reading the container's changes in {upper:?}: {source}")]
    Diff {
        upper: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the layer of {upper:?}: {source}")]
    Layer {
        upper: PathBuf,
        #[source]
        source: LayerError,
    },
    #[error("the container's image manifest {digest}: {source}")]
    Manifest {
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid --change {change:?}: {source}")]
    Change {
        change: String,
        #[source]
        source: ChangeError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where every container gets a mount from the sandbox, whether its image has the path or not.
pub const SANDBOX_MOUNTPOINTS: &[&str] = &[
    "/proc",
    "/dev",
    "/sys",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
];

/// What `commit` is told beyond the container.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Names for the new image (untagged when empty).
    pub tags: Vec<Reference>,
    /// `--author`.
    pub author: Option<String>,
    /// `--message`: the history entry's comment.
    pub message: Option<String>,
    /// `--change` instructions, applied in order to the image config.
    pub changes: Vec<String>,
    /// The container's command, for the history entry's `created_by`.
    pub created_by: String,
    /// Absolute container paths the sandbox mounts over (see [`SANDBOX_MOUNTPOINTS`] and the
    /// container's own mount targets): an empty file or directory the container added there
    /// is the mountpoint it needed, not content, and is left out of the layer (Docker keeps
    /// these in its init layer, which commit skips).
    pub mountpoints: Vec<PathBuf>,
    pub layer: LayerOptions,
    /// The container's own config fields (`config_view::image_fields`): they replace the
    /// image's, as dockerd's commit writes the container's Config (its healthcheck, its
    /// environment, its command…) into the new image.
    pub container: Option<RuntimeConfig>,
    /// Config fields set before the changes (the Engine API's commit body): each one given
    /// replaces the container's, except `Env`, `Labels`, `ExposedPorts` and `Volumes`, merged
    /// by key, and the healthcheck, merged field by field, as dockerd merges them.
    pub overrides: Option<RuntimeConfig>,
}

/// The fields dockerd's commit takes from the container, `from` (all of them: one the
/// container leaves empty is empty in the image too).
fn take_container_fields(cfg: &mut RuntimeConfig, from: &RuntimeConfig) {
    let f = from.clone();
    cfg.user = f.user;
    cfg.exposed_ports = f.exposed_ports;
    cfg.env = f.env;
    cfg.entrypoint = f.entrypoint;
    cfg.cmd = f.cmd;
    cfg.volumes = f.volumes;
    cfg.working_dir = f.working_dir;
    cfg.labels = f.labels;
    cfg.stop_signal = f.stop_signal;
    cfg.healthcheck = f.healthcheck;
}

/// Sets the fields `over` gives on `cfg`.
fn apply_overrides(cfg: &mut RuntimeConfig, over: &RuntimeConfig) {
    let o = over.clone();
    macro_rules! replace {
        ($($f:ident),*) => { $( if o.$f.is_some() { cfg.$f = o.$f; } )* };
    }
    replace!(
        user,
        entrypoint,
        cmd,
        working_dir,
        stop_signal,
        on_build,
        shell
    );
    if o.healthcheck.is_some() {
        cfg.healthcheck = super::health::merge(cfg.healthcheck.as_ref(), o.healthcheck);
    }
    for (mine, given) in [
        (&mut cfg.exposed_ports, o.exposed_ports),
        (&mut cfg.volumes, o.volumes),
    ] {
        if let Some(given) = given {
            mine.get_or_insert_with(Default::default).extend(given);
        }
    }
    if let Some(env) = over.env.as_ref() {
        let mine = cfg.env.get_or_insert_with(Vec::new);
        for e in env {
            let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            mine.retain(|m| m.split_once('=').map_or(m.as_str(), |(k, _)| k) != key);
            mine.push(e.clone());
        }
    }
    if let Some(labels) = over.labels.as_ref() {
        cfg.labels
            .get_or_insert_with(Default::default)
            .extend(labels.clone());
    }
}

/// Leaves out the `Added` entries at `mountpoints` that are an empty file or directory.
fn without_mountpoints(
    changes: Vec<Change>,
    upper: &Path,
    mountpoints: &[PathBuf],
) -> std::io::Result<Vec<Change>> {
    let rel: Vec<&Path> = mountpoints
        .iter()
        .map(|m| m.strip_prefix("/").unwrap_or(m))
        .collect();
    let mut out = Vec::with_capacity(changes.len());
    for c in changes {
        if let Change::Added(p) = &c {
            if rel.contains(&p.as_path()) && is_empty_entry(&upper.join(p))? {
                continue;
            }
        }
        out.push(c);
    }
    Ok(out)
}

fn is_empty_entry(p: &Path) -> std::io::Result<bool> {
    let md = std::fs::symlink_metadata(p)?;
    Ok(if md.is_dir() {
        std::fs::read_dir(p)?.next().is_none()
    } else {
        md.is_file() && md.len() == 0
    })
}

/// Commits `upper` (the container's upperdir, over the snapshot dirs `lowers`, top first) as
/// a new image on top of the image whose manifest is `base_manifest`. The base is read from
/// its blobs, so an image that lost its tag still commits. When the container changed nothing
/// no layer is added (the history entry is marked `empty_layer`, as Docker does).
pub fn commit(
    store: &Store,
    base_manifest: &Digest,
    upper: &Path,
    lowers: &[PathBuf],
    opts: &CommitOptions,
) -> Result<Image, CommitError> {
    let bytes = store.read_blob(base_manifest)?;
    let manifest: ImageManifest =
        serde_json::from_slice(&bytes).map_err(|source| CommitError::Manifest {
            digest: *base_manifest,
            source,
        })?;
    let config_digest = crate::store::digest_of(manifest.config().digest())?;
    let mut config = ImageConfig::from_json(
        &store.read_blob(&config_digest)?,
        &format!("config {config_digest}"),
    )?;
    if let Some(from) = &opts.container {
        take_container_fields(&mut config.config, from);
    }
    if let Some(over) = &opts.overrides {
        apply_overrides(&mut config.config, over);
    }
    for change in &opts.changes {
        apply_change(&mut config.config, change).map_err(|source| CommitError::Change {
            change: change.clone(),
            source,
        })?;
    }

    let diff = |source| CommitError::Diff {
        upper: upper.to_path_buf(),
        source,
    };
    let changes = upperdir_changes_against(upper, lowers).map_err(diff)?;
    let changes = without_mountpoints(changes, upper, &opts.mountpoints).map_err(diff)?;
    let mut layers: Vec<Descriptor> = manifest.layers().to_vec();
    let empty = changes.is_empty();
    if !empty {
        let chunks = ChunkStore::new(store.chunks_dir(), store.blobs_dir());
        let parents: Vec<Digest> = layers
            .iter()
            .filter_map(|l| l.digest().to_string().parse().ok())
            .collect();
        let mut blob = store.blob_writer()?;
        let source = chunks.source(&parents);
        let d = write_changes_layer_reusing(upper, &changes, &opts.layer, &mut blob, source)
            .map_err(|source| CommitError::Layer {
                upper: upper.to_path_buf(),
                source,
            })?;
        blob.commit(Some(&d.digest))?;
        // Only a speed-up for later layers: a failed index write is not the commit's failure.
        let _ = chunks.save(&d.digest, &d.chunks);
        layers.push(layer_descriptor(&d.digest, d.size, d.media_type));
        let mut diff_ids = config.rootfs.diff_ids().clone();
        diff_ids.push(d.diff_id.to_string());
        config.rootfs.set_diff_ids(diff_ids);
    }

    let created = format_rfc3339(now_unix());
    config.created = Some(created.clone());
    if opts.author.is_some() {
        config.author = opts.author.clone();
    }
    let mut h = HistoryBuilder::default()
        .created(created)
        .created_by(opts.created_by.clone());
    if let Some(a) = &opts.author {
        h = h.author(a.clone());
    }
    if let Some(m) = &opts.message {
        h = h.comment(m.clone());
    }
    if empty {
        h = h.empty_layer(true);
    }
    config
        .history
        .push(h.build().expect("every history field is optional"));
    Ok(store.commit_image(&config, &layers, &opts.tags)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::config::{Empty, Healthcheck};

    fn set(keys: &[&str]) -> Option<std::collections::BTreeMap<String, Empty>> {
        Some(keys.iter().map(|k| (k.to_string(), Empty {})).collect())
    }

    #[test]
    fn the_container_then_the_body_as_dockerd_merges_them() {
        let image = RuntimeConfig {
            cmd: Some(vec!["sh".into()]),
            shell: Some(vec!["/bin/ash".into(), "-c".into()]),
            stop_signal: Some("SIGQUIT".into()),
            ..Default::default()
        };
        let container = RuntimeConfig {
            cmd: Some(vec!["sleep".into(), "9".into()]),
            env: Some(vec!["A=1".into(), "B=2".into()]),
            exposed_ports: set(&["80/tcp"]),
            healthcheck: Some(Healthcheck {
                test: Some(vec!["CMD".into(), "true".into()]),
                retries: 4,
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut cfg = image.clone();
        take_container_fields(&mut cfg, &container);
        // Every field commit takes is the container's, even one it leaves empty.
        assert_eq!(cfg.cmd, container.cmd);
        assert_eq!(cfg.stop_signal, None);
        assert_eq!(cfg.shell, image.shell, "not a field of the container's");

        apply_overrides(
            &mut cfg,
            &RuntimeConfig {
                env: Some(vec!["B=3".into()]),
                exposed_ports: set(&["53/udp"]),
                healthcheck: Some(Healthcheck {
                    interval: 5,
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        assert_eq!(cfg.env, Some(vec!["A=1".to_string(), "B=3".to_string()]));
        assert_eq!(cfg.exposed_ports, set(&["53/udp", "80/tcp"]));
        let h = cfg.healthcheck.unwrap();
        assert_eq!(
            (h.test, h.interval, h.retries),
            (Some(vec!["CMD".to_string(), "true".to_string()]), 5, 4)
        );
    }
}
