//! buildah beside strata: its own containers-storage under `target/bench-e2e/buildah` (a
//! storage.conf of ours, so the host's storage is never touched), seeded with the same base
//! images from strata's template store through `skopeo copy`, and the same Dockerfiles and
//! contexts built with `buildah bud --layers --pull=never --runtime=runc` (the e2e bench) or
//! `buildah build --platform … --manifest NAME` (the platforms bench).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup;

/// The storage driver: the kernel's overlayfs works here as root (no fuse-overlayfs needed).
pub const DRIVER: &str = "overlay";

pub struct Buildah {
    pub version: String,
    dir: PathBuf,
    trash: PathBuf,
    /// The OCI layout of strata's base-only store, where the bases come from.
    bases: PathBuf,
}

/// Finds buildah, skopeo and runc; Err says why buildah is not timed. `STRATA_BENCH_BUILDAH=0`
/// turns it off.
pub fn detect(work: &Path, template_store: &Path, trash: &Path) -> Result<Buildah, String> {
    if std::env::var("STRATA_BENCH_BUILDAH").as_deref() == Ok("0") {
        return Err("buildah not timed: STRATA_BENCH_BUILDAH=0".into());
    }
    for tool in ["buildah", "skopeo", "runc"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Err(format!(
                "buildah not timed: `{tool}` is not installed (apt-get install buildah runc skopeo); \
                 buildah ratios use the README's medians"
            ));
        }
    }
    let out = Command::new("buildah")
        .arg("--version")
        .output()
        .map_err(|e| e.to_string())?;
    let b = Buildah {
        version: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        dir: work.join("buildah"),
        trash: trash.to_path_buf(),
        bases: template_store.join("oci"),
    };
    fs::create_dir_all(&b.dir).map_err(|e| format!("{}: {e}", b.dir.display()))?;
    let conf = format!(
        "[storage]\ndriver = \"{DRIVER}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
        b.root().display(),
        b.runroot().display()
    );
    fs::write(b.conf(), conf).map_err(|e| e.to_string())?;
    Ok(b)
}

/// buildah for a bench run (`bench_mode`: `--bench`), or None with the reason printed (as
/// `who: …`) and kept in `notes`. A smoke run never times buildah: it would add seconds to the
/// test suite.
pub fn for_run(
    bench_mode: bool,
    who: &str,
    work: &Path,
    template_store: &Path,
    trash: &Path,
    notes: &mut Vec<String>,
) -> Option<Buildah> {
    let found = if bench_mode {
        detect(work, template_store, trash)
    } else {
        Err("buildah not timed in a smoke run".into())
    };
    match found {
        Ok(b) => {
            eprintln!("{who}: {} (storage driver {DRIVER})", b.version);
            Some(b)
        }
        Err(why) => {
            eprintln!("{who}: {why}");
            notes.push(why);
            None
        }
    }
}

impl Buildah {
    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    fn runroot(&self) -> PathBuf {
        self.dir.join("runroot")
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("storage.conf")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("last-stderr.log")
    }

    /// `buildah` on our storage: the flags and the storage.conf say the same thing, so neither
    /// the host's storage.conf nor its default graphroot can leak in.
    fn command(&self) -> Command {
        let mut cmd = Command::new("buildah");
        cmd.env("CONTAINERS_STORAGE_CONF", self.conf())
            .arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.runroot())
            .args(["--storage-driver", DRIVER]);
        cmd
    }

    /// Empty storage holding only `bases` (references as strata's index names them, e.g.
    /// `docker.io/library/busybox:latest`): buildah's "cold" state, no build cache, no built
    /// images.
    pub fn fresh(&self, bases: &[&str]) -> Result<(), String> {
        self.remove()?;
        for base in bases {
            let out = Command::new("skopeo")
                .env("CONTAINERS_STORAGE_CONF", self.conf())
                .arg("copy")
                .arg(format!("oci:{}:{base}", self.bases.display()))
                .arg(format!("containers-storage:{base}"))
                .output()
                .map_err(|e| format!("spawn skopeo: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "skopeo copy {base} into buildah's storage: {}",
                    String::from_utf8_lossy(&out.stderr).trim_end()
                ));
            }
        }
        Ok(())
    }

    /// The timed build: the command the bench README gives.
    pub fn build(&self, ctx: &Path, dockerfile: Option<&Path>, tag: &str) -> Command {
        let mut cmd = self.command();
        cmd.args([
            "bud",
            "--layers",
            "--pull=never",
            "--runtime=runc",
            "-q",
            "-t",
            tag,
        ]);
        if let Some(f) = dockerfile {
            cmd.arg("-f").arg(f);
        }
        cmd.arg(ctx);
        cmd
    }

    /// As [`Buildah::fresh`] with the single-platform `members`, plus a manifest list `name`
    /// over them: a multi-platform base buildah resolves per platform as strata resolves its
    /// index (this skopeo cannot copy an index into containers-storage whole).
    #[allow(dead_code)]
    pub fn fresh_manifest_list(&self, name: &str, members: &[&str]) -> Result<(), String> {
        self.fresh(members)?;
        let run = |args: &[&str]| -> Result<(), String> {
            let out = self
                .command()
                .args(args)
                .output()
                .map_err(|e| format!("spawn buildah: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "buildah {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim_end()
                ));
            }
            Ok(())
        };
        run(&["manifest", "create", name])?;
        for m in members {
            run(&["manifest", "add", name, &format!("containers-storage:{m}")])?;
        }
        Ok(())
    }

    /// A multi-platform build into the manifest list `manifest`, with the bases only from the
    /// local storage: `buildah build --platform P1,P2 --manifest NAME`.
    #[allow(dead_code)]
    pub fn build_platforms(&self, ctx: &Path, platforms: &str, manifest: &str) -> Command {
        let mut cmd = self.command();
        cmd.args([
            "build",
            "--pull=never",
            "--runtime=runc",
            // No CNI setup per RUN (its plugins may be missing): the host's network, the
            // cheapest there is, so the ratio does not flatter strata.
            "--network=host",
            "-q",
            "--platform",
            platforms,
            "--manifest",
            manifest,
        ]);
        cmd.arg(ctx);
        cmd
    }

    /// Moves the storage into the trash (no mounts stay behind between builds; `buildah rm
    /// --all` first in case an interrupted build left a working container).
    pub fn remove(&self) -> Result<(), String> {
        if self.root().exists() {
            let _ = self.command().args(["rm", "--all"]).output();
        }
        setup::discard(&self.trash, &self.root())?;
        setup::discard(&self.trash, &self.runroot())
    }
}
