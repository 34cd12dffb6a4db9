//! `strata push` and `strata pull` against a real registry on 127.0.0.1: digests as skopeo sees
//! them, umoci unpacks, blobs skipped and mounted, multi-platform indexes, corrupted blobs and a
//! registry killed mid-push.

mod build_support;
mod common;
mod registry_support;

use std::fs;
use std::path::Path;

use build_support::Bench;
use common::{tool, Strata};
use registry_support::{random_file, Logged, Registry};
use sha2::{Digest as _, Sha256};

fn sha256(data: &[u8]) -> String {
    let h = Sha256::digest(data);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The digest in `strata push`'s `<tag>: digest: sha256:… size: N` line.
fn pushed_digest(out: &str, tag: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{tag}: digest: ")))
        .unwrap_or_else(|| panic!("no digest line in {out:?}"));
    line.split(' ').nth(2).unwrap().to_string()
}

fn remote_digest(reference: &str) -> String {
    let out = tool(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

fn uploads(reqs: &[Logged]) -> Vec<&Logged> {
    reqs.iter()
        .filter(|r| r.uri.contains("/blobs/uploads/") && !r.uri.contains("mount="))
        .collect()
}

/// A three-layer image built by strata on the busybox base, tagged `app`.
fn built_app() -> Bench {
    let b = Bench::new();
    b.files(&[("a.txt", "first\n"), ("dir/b.txt", "second\n")]);
    b.dockerfile("FROM busybox\nCOPY a.txt /a.txt\nCOPY dir /dir/\nENV X=1\n");
    b.build("app", &[]);
    b
}

#[test]
fn push_inspect_unpack_pull_skip_and_mount() {
    let reg = Registry::start();
    let b = built_app();
    let host = reg.host();
    let remote = format!("{host}/team/app:1");
    b.s.ok(&["tag", "app", &remote]);
    let layers = b.manifest("app")["layers"].as_array().unwrap().len();
    assert_eq!(layers, 3);

    let out = b.s.ok(&["push", &remote]);
    let digest = pushed_digest(&out, "1");
    let local_manifest = fs::read(
        b.s.root
            .join("oci/blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap()),
    )
    .expect("the pushed digest is the local manifest's");
    assert!(
        out.contains(&format!("size: {}", local_manifest.len())),
        "{out}"
    );
    assert_eq!(remote_digest(&remote), digest);
    let first = reg.requests();
    assert_eq!(
        first
            .iter()
            .filter(|r| r.method == "PUT" && r.uri.contains("/blobs/uploads/"))
            .count(),
        layers + 1,
        "one upload per layer and the config: {first:#?}"
    );

    // skopeo copies it out and umoci unpacks the tree the Dockerfile made.
    let layout = b.s.scratch("layout");
    tool(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{remote}"),
            &format!("oci:{}:app", layout.display()),
        ],
    );
    let bundle = b.s.scratch("bundle").join("b");
    tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:app", layout.display()),
            bundle.to_str().unwrap(),
        ],
    );
    let rootfs = bundle.join("rootfs");
    assert_eq!(fs::read_to_string(rootfs.join("a.txt")).unwrap(), "first\n");
    assert_eq!(
        fs::read_to_string(rootfs.join("dir/b.txt")).unwrap(),
        "second\n"
    );
    assert!(rootfs.join("bin/busybox").is_file());

    // The second push uploads nothing.
    b.s.ok(&["push", &remote]);
    let second = &reg.requests()[first.len()..];
    assert!(uploads(second).is_empty(), "{second:#?}");
    assert_eq!(
        second.iter().filter(|r| r.method == "HEAD").count(),
        layers + 1
    );

    // Another repository of the same registry mounts every blob.
    let other = format!("{host}/other/app:2");
    b.s.ok(&["tag", "app", &other]);
    let before = reg.requests().len();
    let out = b.s.ok(&["push", &other]);
    assert_eq!(pushed_digest(&out, "2"), digest);
    let third = &reg.requests()[before..];
    assert!(uploads(third).is_empty(), "{third:#?}");
    let mounts = third
        .iter()
        .filter(|r| r.method == "POST" && r.uri.contains("mount=") && r.uri.contains("from=team"))
        .count();
    assert_eq!(mounts, layers + 1, "{third:#?}");
    assert_eq!(remote_digest(&other), digest);

    // A fresh store pulls it back with the same digest, and a build uses it as its base.
    let fresh_store = Strata::new();
    let ctx = fresh_store.scratch("ctx");
    let fresh = Bench {
        s: fresh_store,
        ctx,
    };
    let out = fresh.s.ok(&["pull", &remote]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(out.contains("Downloaded newer image"), "{out}");
    let before = reg.requests().len();
    let out = fresh.s.ok(&["pull", &remote]);
    assert!(out.contains("Image is up to date"), "{out}");
    let again = &reg.requests()[before..];
    assert!(
        !again.iter().any(|r| r.uri.contains("/blobs/")),
        "blobs in the store are not fetched again: {again:#?}"
    );
    assert!(fs::read_dir(fresh.s.root.join("tmp"))
        .unwrap()
        .next()
        .is_none());
    fresh.files(&[("c.txt", "third\n")]);
    fresh.dockerfile(&format!("FROM {remote}\nCOPY c.txt /c.txt\n"));
    fresh.build("derived", &[]);
    let rootfs = fresh.unpack("derived");
    assert_eq!(fs::read_to_string(rootfs.join("a.txt")).unwrap(), "first\n");
    assert_eq!(fs::read_to_string(rootfs.join("c.txt")).unwrap(), "third\n");
}

#[test]
fn missing_images_and_unreachable_registries_are_named() {
    let reg = Registry::start();
    let s = Strata::new();
    let err = s.fails(&["pull", &format!("{}/nothing/here:1", reg.host())]);
    assert!(err.contains("not found"), "{err}");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = s.fails(&["pull", &format!("127.0.0.1:{dead}/x:1")]);
    assert!(err.contains("unreachable: connection refused"), "{err}");
    s.import_busybox("busybox");
    let err = s.fails(&["push", &format!("127.0.0.1:{dead}/x:1")]);
    assert!(err.contains("No such image"), "{err}");
}

/// Writes blob `data` into an OCI layout; returns its descriptor JSON.
fn put_blob(layout: &Path, media_type: &str, data: &[u8]) -> serde_json::Value {
    let digest = sha256(data);
    let dir = layout.join("blobs/sha256");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(digest.strip_prefix("sha256:").unwrap()), data).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": digest, "size": data.len()})
}

/// A one-file uncompressed layer.
fn layer_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn index_with_two_platforms_pulls_the_requested_one() {
    let reg = Registry::start();
    let s = Strata::new();
    let layout = s.scratch("multi");
    let mut entries = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let layer = layer_tar("arch.txt", arch.as_bytes());
        let diff_id = sha256(&layer);
        let layer_desc = put_blob(&layout, "application/vnd.oci.image.layer.v1.tar", &layer);
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["/arch.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let config_desc = put_blob(
            &layout,
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&config).unwrap(),
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc, "layers": [layer_desc],
        });
        let mut desc = put_blob(
            &layout,
            "application/vnd.oci.image.manifest.v1+json",
            &serde_json::to_vec(&manifest).unwrap(),
        );
        let mut platform = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            platform["variant"] = v.into();
        }
        desc["platform"] = platform;
        entries.push(desc);
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let mut index_desc = put_blob(
        &layout,
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&index).unwrap(),
    );
    index_desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "multi"});
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [index_desc]}))
            .unwrap(),
    )
    .unwrap();
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let remote = format!("{}/multi:1", reg.host());
    tool(
        "skopeo",
        &[
            "copy",
            "--all",
            "--dest-tls-verify=false",
            &format!("oci:{}:multi", layout.display()),
            &format!("docker://{remote}"),
        ],
    );

    // skopeo compresses the tar layers on the way, so the registry's manifests are its own.
    let remote_index: serde_json::Value = serde_json::from_str(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{remote}"),
        ],
    ))
    .unwrap();
    let remote_digests: Vec<String> = remote_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(remote_digests.len(), 2);
    for (platform, want) in [
        ("linux/amd64", &remote_digests[0]),
        ("linux/arm64", &remote_digests[1]),
    ] {
        let out = s.ok(&["pull", "--platform", platform, &remote]);
        assert!(
            out.contains(&format!("Digest: {want}")),
            "{platform}: {out}"
        );
        let inspect: serde_json::Value =
            serde_json::from_str(&s.ok(&["inspect", &remote])).unwrap();
        let arch = platform.split('/').nth(1).unwrap();
        assert_eq!(inspect[0]["Architecture"], arch, "{platform}: {inspect}");
    }
    let err = s.fails(&["pull", "--platform", "linux/s390x", &remote]);
    assert!(err.contains("no image for platform linux/s390x"), "{err}");
    assert!(err.contains("linux/amd64, linux/arm64"), "{err}");
}

#[test]
fn corrupted_blob_is_rejected_and_leaves_nothing() {
    let reg = Registry::start();
    let s = Strata::new();
    s.import_busybox("busybox");
    let remote = format!("{}/bb:1", reg.host());
    s.ok(&["tag", "busybox", &remote]);
    s.ok(&["push", &remote]);
    let manifest: serde_json::Value = serde_json::from_str(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{remote}"),
        ],
    ))
    .unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let file = reg.blob_file(layer.strip_prefix("sha256:").unwrap());
    let mut data = fs::read(&file).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    fs::write(&file, data).unwrap();

    let fresh = Strata::new();
    let err = fresh.fails(&["pull", &remote]);
    assert!(err.contains("does not match its digest"), "{err}");
    assert!(err.contains(&format!("expected {layer}")), "{err}");
    let hex = layer.strip_prefix("sha256:").unwrap();
    assert!(!fresh.root.join("oci/blobs/sha256").join(hex).exists());
    assert!(fs::read_dir(fresh.root.join("tmp"))
        .unwrap()
        .next()
        .is_none());
    assert!(!fresh.ok(&["images"]).contains("bb"));
}

#[test]
fn dropped_download_resumes_with_a_range_request() {
    let reg = Registry::start();
    let s = Strata::new();
    s.import_busybox("busybox");
    let remote = format!("{}/bb:1", reg.host());
    s.ok(&["tag", "busybox", &remote]);
    let digest = pushed_digest(&s.ok(&["push", &remote]), "1");
    // The busybox layer is about 1 MB: the cut lands in its body.
    let (port, saw_range) = reg.cutting_proxy(300 << 10);
    let fresh = Strata::new();
    let out = fresh.ok(&["pull", &format!("127.0.0.1:{port}/bb:1")]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(saw_range.load(std::sync::atomic::Ordering::SeqCst));
    assert!(fs::read_dir(fresh.root.join("tmp"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn pull_killed_mid_download_resumes_from_the_partial_blob() {
    let mut reg = Registry::start();
    let s = Strata::new();
    s.import_busybox("busybox");
    let remote = format!("{}/bb:1", reg.host());
    s.ok(&["tag", "busybox", &remote]);
    let digest = pushed_digest(&s.ok(&["push", &remote]), "1");
    let (port, saw_range) = reg.killing_download_proxy(300 << 10);
    let via_proxy = format!("127.0.0.1:{port}/bb:1");

    let fresh = Strata::new();
    let err = fresh.fails(&["pull", &via_proxy]);
    assert!(err.contains("connection lost during blob"), "{err}");
    let partials: Vec<String> = fs::read_dir(fresh.root.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // The layer's partial at least (the small config usually made it in whole).
    assert!(
        !partials.is_empty() && partials.iter().all(|p| p.starts_with("partial-")),
        "{partials:?}"
    );
    // The in-process resume may have reached the dying registry; only the next pull counts.
    saw_range.store(false, std::sync::atomic::Ordering::SeqCst);

    reg.restart();
    let out = fresh.ok(&["pull", &via_proxy]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(saw_range.load(std::sync::atomic::Ordering::SeqCst));
    assert!(fs::read_dir(fresh.root.join("tmp"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn registry_killed_mid_push_then_restarted() {
    let mut reg = Registry::start();
    let b = Bench::new();
    // Above the chunking threshold, so the upload goes up in PATCHes.
    random_file(&b.ctx.join("big.bin"), 12 << 20);
    b.dockerfile("FROM busybox\nCOPY big.bin /big.bin\n");
    b.build("big", &["--compression", "none"]);
    let port = reg.killing_proxy(6 << 20);
    let remote = format!("127.0.0.1:{port}/big:1");
    b.s.ok(&["tag", "big", &remote]);

    let err = b.s.fails(&["push", &remote]);
    eprintln!("push into a killed registry: {err}");
    assert!(err.contains("pushing 127.0.0.1"), "{err}");
    assert!(
        err.contains("connection lost") || err.contains("unreachable"),
        "{err}"
    );

    reg.restart();
    let out = b.s.ok(&["push", &remote]);
    let digest = pushed_digest(&out, "1");
    assert_eq!(remote_digest(&format!("{}/big:1", reg.host())), digest);
    let patches = reg
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert!(patches >= 2, "the 12 MiB layer went up in chunks");
}

#[test]
fn docker_schema2_images_keep_their_bytes_through_pull_and_push() {
    let reg = Registry::start();
    let s = Strata::new();
    s.import_busybox("busybox");
    let remote = format!("{}/v2s2:1", reg.host());
    tool(
        "skopeo",
        &[
            "copy",
            "--format",
            "v2s2",
            "--dest-tls-verify=false",
            &format!(
                "oci:{}:docker.io/library/busybox:latest",
                s.root.join("oci").display()
            ),
            &format!("docker://{remote}"),
        ],
    );
    let digest = remote_digest(&remote);
    let fresh = Strata::new();
    let out = fresh.ok(&["pull", &remote]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    let again = format!("{}/v2s2:again", reg.host());
    fresh.ok(&["tag", &remote, &again]);
    let out = fresh.ok(&["push", &again]);
    assert_eq!(pushed_digest(&out, "again"), digest);
    let raw = tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{again}"),
        ],
    );
    assert!(
        raw.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{raw}"
    );
}

#[test]
fn tls_registry_is_trusted_through_an_extra_ca_file() {
    use strata::distribution::{pull, push, ClientConfig, RegistryClient};
    let reg = Registry::start_tls();
    let s = Strata::new();
    s.import_busybox("busybox");
    let remote = strata::reference::Reference::parse(&format!("{}/tls:1", reg.host())).unwrap();
    let client = |ca: Vec<std::path::PathBuf>| {
        RegistryClient::new(
            &reg.host(),
            ClientConfig {
                credential: None,
                extra_ca_files: ca,
                plain_http: false,
            },
        )
        .unwrap()
    };
    let store = strata::store::Store::open(&s.root).unwrap();
    let err = push(&store, &client(vec![]), "busybox", &remote).unwrap_err();
    assert!(
        err.to_string()
            .contains("TLS failed: invalid peer certificate: UnknownIssuer"),
        "{err}"
    );

    let pushed = push(&store, &client(vec![reg.ca()]), "busybox", &remote).unwrap();
    let fresh = Strata::new();
    let fresh_store = strata::store::Store::open(&fresh.root).unwrap();
    let platform = strata::plan::platform::Platform::host();
    let image = pull(&fresh_store, &client(vec![reg.ca()]), &remote, &platform).unwrap();
    assert_eq!(image.manifest_digest, pushed.digest);
}

#[test]
fn from_pulls_a_missing_base_and_pull_always_picks_up_a_newer_one() {
    let reg = Registry::start();
    let b = built_app();
    let remote = format!("{}/team/base:1", reg.host());
    b.s.ok(&["tag", "app", &remote]);
    b.s.ok(&["push", &remote]);

    // A fresh store: the FROM image is pulled by the build itself.
    let user = Bench {
        s: Strata::new(),
        ctx: tempfile::tempdir().unwrap().keep(),
    };
    user.files(&[("c.txt", "third\n")]);
    user.dockerfile(&format!(
        "FROM {remote}\nCOPY c.txt /c.txt\nRUN cat /a.txt /c.txt > /both\n"
    ));
    user.build("derived", &[]);
    assert_eq!(
        fs::read_to_string(user.unpack("derived").join("both")).unwrap(),
        "first\nthird\n"
    );

    // A newer image under the same tag: a plain rebuild keeps the stored base, `--pull`
    // fetches the new one and rebuilds on it.
    b.files(&[("a.txt", "FIRST, v2\n")]);
    b.build("app", &[]);
    b.s.ok(&["tag", "app", &remote]);
    b.s.ok(&["push", &remote]);
    user.build("derived", &[]);
    assert_eq!(
        fs::read_to_string(user.unpack("derived").join("both")).unwrap(),
        "first\nthird\n"
    );
    user.build("derived", &["--pull"]);
    assert_eq!(
        fs::read_to_string(user.unpack("derived").join("both")).unwrap(),
        "FIRST, v2\nthird\n"
    );
}

#[test]
fn build_push_sends_every_tag_and_output_push_true_does_too() {
    let reg = Registry::start();
    let b = Bench::new();
    b.files(&[("a.txt", "pushed by build\n")]);
    b.dockerfile("FROM busybox\nCOPY a.txt /a.txt\n");
    let one = format!("{}/team/built:1", reg.host());
    let two = format!("{}/team/built:latest", reg.host());
    b.build(&one, &["-t", &two, "--push"]);
    let d1 = remote_digest(&one);
    assert_eq!(d1, remote_digest(&two));
    let local = b.s.ok(&["images", "--digests", "--format", "json"]);
    assert!(local.contains(&d1), "{local}");

    let three = format!("{}/team/built:3", reg.host());
    b.build(&three, &["--output", "type=image,push=true"]);
    assert_eq!(remote_digest(&three), d1);
    let err = b.build_fails(&["-t", "x", "--output", "type=cacheonly"]);
    assert!(err.contains("unknown type"), "{err}");
}
