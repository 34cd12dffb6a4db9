//! `strata import --compression gzip|zstd|none`: each writes the layer media type it says, the
//! blob decompresses with the real `gzip`/`zstd` tools to a tar with the imported tree, and
//! skopeo reads the image.

mod common;

use std::fs;
use std::process::Command;

use common::{busybox_rootfs, tool, Strata};

/// The one layer descriptor of the image tagged `reference`, from the store's own files.
fn layer_of(s: &Strata, reference: &str) -> (String, String) {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(s.root.join("oci/index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == reference)
        .unwrap_or_else(|| panic!("{reference} not in index.json: {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = |d: &str| s.root.join("oci/blobs/sha256").join(&d["sha256:".len()..]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(blob(&manifest_digest)).unwrap()).unwrap();
    let layer = &manifest["layers"][0];
    (
        layer["mediaType"].as_str().unwrap().to_string(),
        blob(layer["digest"].as_str().unwrap())
            .to_string_lossy()
            .into_owned(),
    )
}

#[test]
fn each_compression_writes_what_it_says() {
    let s = Strata::new();
    let rootfs = s.scratch("rootfs");
    busybox_rootfs(&rootfs);
    fs::write(rootfs.join("etc/marker"), "compressed layer\n").unwrap();
    // (flag, media type, command that turns the blob back into a tar)
    let cases = [
        (
            "gzip",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            Some("gzip"),
        ),
        (
            "zstd",
            "application/vnd.oci.image.layer.v1.tar+zstd",
            Some("zstd"),
        ),
        ("none", "application/vnd.oci.image.layer.v1.tar", None),
    ];
    let mut ids = Vec::new();
    for (flag, media_type, tool_name) in cases {
        let reference = format!("docker.io/library/c-{flag}:latest");
        let id = s.ok(&[
            "import",
            "--compression",
            flag,
            rootfs.to_str().unwrap(),
            &format!("c-{flag}"),
        ]);
        let inspect: serde_json::Value =
            serde_json::from_str(&s.ok(&["inspect", id.trim()])).unwrap();
        ids.push(inspect[0]["RootFS"]["Layers"].clone());
        let (mt, blob) = layer_of(&s, &reference);
        assert_eq!(mt, media_type, "{flag}");
        let tar_path = s.scratch("tars").join(format!("{flag}.tar"));
        match tool_name {
            Some(t) => {
                let out = Command::new(t).args(["-dc", &blob]).output().unwrap();
                assert!(out.status.success(), "{t} -dc failed for {flag}");
                fs::write(&tar_path, out.stdout).unwrap();
            }
            None => {
                fs::copy(&blob, &tar_path).unwrap();
            }
        }
        let listing = tool("tar", &["-tf", tar_path.to_str().unwrap()]);
        assert!(
            listing
                .lines()
                .any(|l| l.trim_start_matches("./") == "etc/marker"),
            "{flag}: {listing}"
        );
        assert!(listing
            .lines()
            .any(|l| l.trim_start_matches("./") == "bin/busybox"));
        let inspect = tool(
            "skopeo",
            &[
                "inspect",
                "--raw",
                &format!("oci:{}:{}", s.root.join("oci").display(), reference),
            ],
        );
        assert!(inspect.contains(media_type), "{flag}: {inspect}");
    }
    // The uncompressed tar (the diff ID) does not depend on the compression.
    assert!(ids[0].as_array().is_some_and(|a| a.len() == 1), "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

#[test]
fn unknown_compression_is_refused() {
    let s = Strata::new();
    let rootfs = s.scratch("rootfs");
    busybox_rootfs(&rootfs);
    let err = s.fails(&["import", "--compression", "lz4", rootfs.to_str().unwrap()]);
    assert!(err.contains("lz4") && err.contains("gzip"), "{err}");
}
