//! Shared by the build tests: a store with the busybox base, contexts written from a table,
//! builds that return their `--metadata-file`, and images inspected with umoci and skopeo.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{tool, Strata};

/// A store with `busybox` imported and a context directory.
pub struct Bench {
    pub s: Strata,
    pub ctx: PathBuf,
}

impl Bench {
    pub fn new() -> Bench {
        let s = Strata::new();
        s.import_busybox("busybox");
        let ctx = s.scratch("ctx");
        Bench { s, ctx }
    }

    /// Writes `files` (path, content) into the context; a path ending in `/` is a directory.
    pub fn files(&self, files: &[(&str, &str)]) -> &Self {
        for (p, c) in files {
            let full = self.ctx.join(p);
            if p.ends_with('/') {
                fs::create_dir_all(&full).unwrap();
            } else {
                fs::create_dir_all(full.parent().unwrap()).unwrap();
                fs::write(&full, c).unwrap();
            }
        }
        self
    }

    pub fn dockerfile(&self, text: &str) -> &Self {
        fs::write(self.ctx.join("Dockerfile"), text).unwrap();
        self
    }

    /// Builds the context with `extra` flags and returns the metadata file's JSON.
    pub fn build(&self, tag: &str, extra: &[&str]) -> Value {
        self.build_logged(tag, extra).0
    }

    /// Builds like `build`; also returns the progress output (stderr).
    pub fn build_logged(&self, tag: &str, extra: &[&str]) -> (Value, String) {
        let meta = self
            .s
            .scratch("meta")
            .join(format!("{}.json", tag.replace(['/', ':'], "_")));
        let mut args: Vec<String> = vec![
            "build".into(),
            "--progress=plain".into(),
            "-t".into(),
            tag.into(),
            "--metadata-file".into(),
            meta.display().to_string(),
            // The tests' RUN steps reach their loopback servers with `--network=host`.
            "--allow".into(),
            "network.host".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(self.ctx.display().to_string());
        let out = self.s.run_cmd(self.s.command(&args));
        self.s.expect(&out, true, &args);
        let meta = serde_json::from_str(&fs::read_to_string(&meta).unwrap()).unwrap();
        (meta, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// Builds and expects failure; returns stderr.
    pub fn build_fails(&self, extra: &[&str]) -> String {
        let mut args: Vec<String> = vec!["build".into(), "--progress=plain".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(self.ctx.display().to_string());
        self.s.fails(&args)
    }

    /// `umoci unpack` of a tag into a fresh bundle; returns the rootfs path.
    pub fn unpack(&self, tag: &str) -> PathBuf {
        let bundle = self.s.scratch("bundles").join(tag);
        let _ = fs::remove_dir_all(&bundle);
        let image = format!(
            "{}:docker.io/library/{tag}:latest",
            self.s.root.join("oci").display()
        );
        tool(
            "umoci",
            &["unpack", "--image", &image, bundle.to_str().unwrap()],
        );
        bundle.join("rootfs")
    }

    /// The image config as skopeo reads it from the store's OCI layout.
    pub fn config(&self, tag: &str) -> Value {
        let image = format!(
            "oci:{}:docker.io/library/{tag}:latest",
            self.s.root.join("oci").display()
        );
        serde_json::from_str(&tool("skopeo", &["inspect", "--config", "--raw", &image])).unwrap()
    }

    /// The image manifest as skopeo reads it from the store's OCI layout.
    pub fn manifest(&self, tag: &str) -> Value {
        let image = format!(
            "oci:{}:docker.io/library/{tag}:latest",
            self.s.root.join("oci").display()
        );
        serde_json::from_str(&tool("skopeo", &["inspect", "--raw", &image])).unwrap()
    }

    /// Entry paths of each layer of the image, base first, read from the blobs themselves
    /// (gzip or zstd, told apart by their magic bytes).
    pub fn layer_entries(&self, tag: &str) -> Vec<Vec<String>> {
        self.manifest(tag)["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let d = l["digest"].as_str().unwrap();
                let hex = d.strip_prefix("sha256:").unwrap();
                let blob = fs::read(self.s.root.join("oci/blobs/sha256").join(hex)).unwrap();
                let tar: Box<dyn std::io::Read> = if blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                    Box::new(zstd::stream::read::Decoder::new(&blob[..]).unwrap())
                } else {
                    Box::new(flate2::read::GzDecoder::new(&blob[..]))
                };
                let mut a = tar::Archive::new(tar);
                a.entries()
                    .unwrap()
                    .map(|e| {
                        let e = e.unwrap();
                        e.path().unwrap().to_string_lossy().into_owned()
                    })
                    .collect()
            })
            .collect()
    }

    /// Number of entries in the build cache index.
    pub fn cache_entries(&self) -> usize {
        fs::read_dir(self.s.root.join("cache-v1"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// Step labels → cached? from a metadata file.
pub fn steps(meta: &Value) -> Vec<(String, bool)> {
    meta["strata.steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["label"].as_str().unwrap().to_string(),
                s["cached"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Labels of the steps that were not cached, excluding FROM (always "cached").
pub fn rebuilt(meta: &Value) -> Vec<String> {
    steps(meta)
        .into_iter()
        .filter(|(_, c)| !c)
        .map(|(l, _)| l)
        .collect()
}

pub fn digest(meta: &Value) -> String {
    meta["containerimage.digest"].as_str().unwrap().to_string()
}

pub fn read(root: &Path, p: &str) -> String {
    fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Pids whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}
