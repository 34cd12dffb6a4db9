//! Multi-platform images beyond the build: `pull --all-platforms` keeps a registry's index whole,
//! `images --tree` shows an index once with its platforms beneath, and a docker-format `save`
//! of an index keeps every platform (as Docker 28's containerd store writes it), each judged
//! by skopeo and tar where they can.

mod common;
mod multi_platform_support;
mod registry_support;

use std::fs;

use common::{tool, Strata};
use multi_platform_support::{
    build, context, platforms_of, raw_index, raw_remote, run_on, store, UNAME,
};
use registry_support::Registry;
use serde_json::Value;

const TWO: [&str; 2] = ["--platform", "linux/amd64,linux/arm64"];

/// The sha256 digest of `bytes`, as `sha256:<hex>`.
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

#[test]
fn pull_all_platforms_keeps_the_registry_index_whole_under_the_tag() {
    let reg = Registry::start();
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    let remote = format!("{}/mp/all:1", reg.host());
    build(&s, &ctx, &[&TWO[..], &["-t", &remote]].concat());
    s.ok(&["push", &remote]);
    let raw = raw_remote(&remote);

    let fresh = Strata::new();
    let err = fresh.fails(&[
        "pull",
        "--all-platforms",
        "--platform",
        "linux/arm64",
        &remote,
    ]);
    assert!(err.contains("cannot be used with"), "{err}");
    let out = fresh.ok(&["pull", "--all-platforms", &remote]);
    // The digest printed is the index's, as the registry serves it.
    assert!(
        out.starts_with(&format!("Digest: {}\n", sha256(raw.as_bytes()))),
        "{out}"
    );
    // The store holds the registry's index byte for byte, tagged.
    let layout = format!("oci:{}:{remote}", fresh.root.join("oci").display());
    assert_eq!(tool("skopeo", &["inspect", "--raw", &layout]), raw);
    let index: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(platforms_of(&index), ["linux/amd64", "linux/arm64"]);
    for (platform, arch) in [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")] {
        assert_eq!(
            run_on(&fresh, platform, &remote, &["cat", "/arch"]),
            format!("{arch}\n"),
            "{platform}"
        );
    }
    // One image listed, not one per platform.
    assert_eq!(fresh.ok(&["images", "-q"]).lines().count(), 1);
    // Pulled again, nothing changed.
    let again = fresh.ok(&["pull", "--all-platforms", &remote]);
    assert!(again.contains("Image is up to date for"), "{again}");
}

#[test]
fn images_tree_shows_an_index_once_with_each_platform_beneath() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    build(&s, &ctx, &[&TWO[..], &["-t", "mp-tree:1"]].concat());
    let index = raw_index(&s, "docker.io/library/mp-tree:1");
    let short = |m: &Value| m["digest"].as_str().unwrap()[7..19].to_string();
    let (amd, arm) = (short(&index["manifests"][0]), short(&index["manifests"][1]));
    // A container made from the arm64 image marks it, and its index, in use.
    s.ok(&[
        "create",
        "--platform",
        "linux/arm64",
        "--name",
        "user",
        "mp-tree:1",
        "true",
    ]);
    let out = s.ok(&["images", "--tree"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "WARNING: This is an experimental feature. The output may change and shouldn't be depended on."
    );
    let cols = |l: &str| -> Vec<String> {
        l.split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        cols(lines[2]),
        ["IMAGE", "ID", "DISK USAGE", "CONTENT SIZE", "IN USE"]
    );
    let top = lines
        .iter()
        .position(|l| l.starts_with("mp-tree:1 "))
        .unwrap_or_else(|| panic!("mp-tree:1 in {out}"));
    let row = cols(lines[top]);
    assert_eq!(row.last().map(String::as_str), Some("✔"), "{out}");
    let amd_row = cols(lines[top + 1]);
    let arm_row = cols(lines[top + 2]);
    assert_eq!(amd_row[..2], ["├─ linux/amd64".to_string(), amd], "{out}");
    assert_eq!(arm_row[..2], ["└─ linux/arm64".to_string(), arm], "{out}");
    assert_eq!(amd_row.len(), 4, "amd64 is not in use: {out}");
    assert_eq!(arm_row.last().map(String::as_str), Some("✔"), "{out}");
    assert_eq!(lines[top + 3], "", "{out}");
    // The single-platform bases show their own platform beneath them.
    let base = lines
        .iter()
        .position(|l| l.starts_with("bb-arm64:latest "))
        .unwrap_or_else(|| panic!("bb-arm64 in {out}"));
    assert!(lines[base + 1].starts_with("└─ linux/arm64 "), "{out}");
    // The index shows once.
    assert_eq!(out.matches("mp-tree:1").count(), 1, "{out}");

    for (flag, name) in [
        ("-q", "--quiet"),
        ("--no-trunc", "--no-trunc"),
        ("--digests", "--show-digest"),
        ("--format=json", "--format"),
    ] {
        let err = s.fails(&["images", "--tree", flag]);
        assert!(
            err.contains(&format!("{name} is not yet supported with --tree")),
            "{flag}: {err}"
        );
    }
}

#[test]
fn a_docker_format_save_of_an_index_keeps_every_platform() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    build(&s, &ctx, &[&TWO[..], &["-t", "mp-dsave:1"]].concat());
    let index = raw_index(&s, "docker.io/library/mp-dsave:1");
    let dir = s.scratch("archive");
    let tar = dir.join("mp.tar");
    s.ok(&["save", "-o", tar.to_str().unwrap(), "mp-dsave:1"]);

    // tar: an OCI layout with every platform's manifest, and manifest.json beside it.
    let listing = tool("tar", &["-tf", tar.to_str().unwrap()]);
    for want in ["oci-layout", "index.json", "manifest.json"] {
        assert!(listing.lines().any(|l| l == want), "{want} in {listing}");
    }
    for m in index["manifests"].as_array().unwrap() {
        let blob = format!("blobs/sha256/{}", &m["digest"].as_str().unwrap()[7..]);
        assert!(listing.lines().any(|l| l == blob), "{blob} in {listing}");
    }
    // skopeo reads manifest.json as a docker-archive: the host's platform, by its tag.
    let inspected: Value = serde_json::from_str(&tool(
        "skopeo",
        &[
            "inspect",
            &format!("docker-archive:{}:mp-dsave:1", tar.display()),
        ],
    ))
    .unwrap();
    assert_eq!(inspected["Architecture"], "amd64", "{inspected}");
    // And the same tar as an OCI layout: the index, byte for byte.
    let unpacked = dir.join("unpacked");
    fs::create_dir_all(&unpacked).unwrap();
    tool(
        "tar",
        &[
            "-xf",
            tar.to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
        ],
    );
    let layout = format!("oci:{}:docker.io/library/mp-dsave:1", unpacked.display());
    let raw: Value = serde_json::from_str(&tool("skopeo", &["inspect", "--raw", &layout])).unwrap();
    assert_eq!(raw, index);

    let fresh = Strata::new();
    let out = fresh.ok(&["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: mp-dsave:1\n");
    assert_eq!(raw_index(&fresh, "docker.io/library/mp-dsave:1"), index);
    for (platform, arch) in [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")] {
        assert_eq!(
            run_on(&fresh, platform, "mp-dsave:1", &["cat", "/arch"]),
            format!("{arch}\n")
        );
    }
    // A single-platform image keeps Docker's legacy layout.
    let single = dir.join("single.tar");
    s.ok(&["save", "-o", single.to_str().unwrap(), "bb-amd64"]);
    let listing = tool("tar", &["-tf", single.to_str().unwrap()]);
    assert!(!listing.lines().any(|l| l == "index.json"), "{listing}");
}
