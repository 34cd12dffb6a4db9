//! Shared by the multi-platform tests: stores with a busybox base per platform (the arm64 one
//! from Debian's busybox-static:arm64), contexts, builds, `run --platform`, and image indexes
//! as skopeo reads them.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{self, tool, Strata};

/// A store with `bb-amd64` and `bb-arm64` (busybox for each platform) imported.
pub fn store() -> Strata {
    let s = Strata::new();
    s.import_busybox("bb-amd64");
    s.import_busybox_arm64("bb-arm64");
    s
}

/// As [`store`], with bases whose IDs do not depend on the store: the import's default
/// comment would name its temp source dir.
pub fn portable_store() -> Strata {
    let s = Strata::new();
    let amd = s.scratch("amd64-rootfs");
    common::busybox_rootfs(&amd);
    s.import_rootfs(&amd, "bb-amd64", &["-m", "busybox"]);
    let arm = s.scratch("arm64-rootfs");
    common::busybox_rootfs_from(&arm, Path::new(common::ARM64_BUSYBOX));
    s.import_rootfs(
        &arm,
        "bb-arm64",
        &["-m", "busybox", "--platform", "linux/arm64"],
    );
    s
}

/// A context directory holding `dockerfile`.
pub fn context(s: &Strata, name: &str, dockerfile: &str) -> PathBuf {
    let dir = s.scratch(name);
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

pub fn build(s: &Strata, ctx: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build", "--progress", "plain"];
    args.extend(extra);
    args.push(ctx.to_str().unwrap());
    s.ok(&args)
}

/// `run --rm --platform P IMAGE CMD…`, stdout.
pub fn run_on(s: &Strata, platform: &str, image: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "--platform", platform, image];
    args.extend(cmd);
    s.ok(&args)
}

/// The image index the store's OCI layout holds under `tag`, as skopeo reads it.
pub fn raw_index(s: &Strata, tag: &str) -> Value {
    let layout = format!("oci:{}:{tag}", s.root.join("oci").display());
    serde_json::from_str(&tool("skopeo", &["inspect", "--raw", &layout])).unwrap()
}

/// The manifest (or index) `remote` names in a loopback registry, raw, as skopeo reads it.
pub fn raw_remote(remote: &str) -> String {
    tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{remote}"),
        ],
    )
}

pub fn platforms_of(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .expect("an index lists manifests")
        .iter()
        .map(|m| {
            let p = &m["platform"];
            format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            )
        })
        .collect()
}

pub const UNAME: &str = "ARG TARGETARCH\nFROM bb-$TARGETARCH\nRUN uname -m > /arch\n";
