//! Crash safety and concurrency: a SIGKILLed load leaves the store usable with only temp
//! garbage, which the next strata reclaims; concurrent imports and tags lose nothing; prune
//! refuses to run while another strata process uses the store.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Strata;
use strata::digest::{Digest, DigestHasher};

/// Appends a regular file entry to a tar being built.
fn add(tar: &mut tar::Builder<fs::File>, path: &str, size: u64, data: &mut dyn std::io::Read) {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, path, data).unwrap();
}

/// An oci-archive whose single layer is `size` bytes of pseudo-random data, stored first so a
/// load spends most of its time on it. Returns the layer digest.
fn big_oci_archive(path: &Path, size: u64, tag: &str) -> Digest {
    let blob_file = path.with_extension("blob");
    let mut hasher = DigestHasher::new();
    {
        let mut f = std::io::BufWriter::new(fs::File::create(&blob_file).unwrap());
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            for chunk in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            let n = left.min(buf.len() as u64) as usize;
            hasher.update(&buf[..n]);
            f.write_all(&buf[..n]).unwrap();
            left -= n as u64;
        }
        f.flush().unwrap();
    }
    let layer = hasher.finish();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let config_d = Digest::of(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_d}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{size}}}]}}"#,
        config.len()
    );
    let manifest_d = Digest::of(manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_d}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}]}}"#,
        manifest.len()
    );
    let mut tar = tar::Builder::new(fs::File::create(path).unwrap());
    add(
        &mut tar,
        &format!("blobs/sha256/{}", layer.hex()),
        size,
        &mut fs::File::open(&blob_file).unwrap(),
    );
    fs::remove_file(&blob_file).unwrap();
    for (p, data) in [
        (
            format!("blobs/sha256/{}", config_d.hex()),
            config.as_bytes(),
        ),
        (
            format!("blobs/sha256/{}", manifest_d.hex()),
            manifest.as_bytes(),
        ),
        ("index.json".to_string(), index.as_bytes()),
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.as_slice(),
        ),
    ] {
        add(&mut tar, &p, data.len() as u64, &mut &data[..]);
    }
    tar.into_inner().unwrap();
    layer
}

fn tmp_bytes(root: &Path) -> u64 {
    fs::read_dir(root.join("tmp"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn sigkill_during_load_leaves_a_usable_store_and_the_next_strata_reclaims_the_rest() {
    let s = Strata::new();
    s.ok(&["images"]);
    let archive = s.scratch("in").join("big.tar");
    let layer = big_oci_archive(&archive, 200 << 20, "docker.io/library/big:crash");

    let mut child = s
        .command(&["load", "-i", archive.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill once it is well into writing the big blob.
    let start = Instant::now();
    while tmp_bytes(&s.root) < 20 << 20 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "load never started writing\n{}",
            s.listing()
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("load finished ({status}) before it could be killed");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());

    // Only tmp/ holds the remains; the next strata reclaims them (their owner is dead), the
    // store works, and the half-loaded image is absent.
    let garbage = tmp_bytes(&s.root);
    assert!(garbage >= 20 << 20, "{}", s.listing());
    assert_eq!(s.ok(&["images", "-q"]), "");
    assert_eq!(
        fs::read_dir(s.root.join("tmp")).unwrap().count(),
        0,
        "{}",
        s.listing()
    );
    assert!(s
        .fails(&["image", "inspect", "big:crash"])
        .contains("No such image"));
    assert!(!s.root.join("oci/blobs/sha256").join(layer.hex()).exists());

    // A new load succeeds, and prune leaves the image alone.
    assert_eq!(
        s.ok(&["load", "-i", archive.to_str().unwrap()]),
        "Loaded image: big:crash\n"
    );
    assert!(s.root.join("oci/blobs/sha256").join(layer.hex()).exists());
    s.ok(&["system", "prune", "-f"]);
    assert_eq!(
        fs::read_dir(s.root.join("tmp")).unwrap().count(),
        0,
        "{}",
        s.listing()
    );
    let v: serde_json::Value = serde_json::from_str(&s.ok(&["inspect", "big:crash"])).unwrap();
    assert_eq!(v[0]["RootFS"]["Layers"][0], layer.to_string());
}

#[test]
fn concurrent_imports_and_tags_lose_no_tag() {
    let s = Strata::new();
    // The store does not exist yet: creating it races too.
    let dirs: Vec<_> = (0..8)
        .map(|i| {
            let d = s.scratch(&format!("rootfs{i}"));
            fs::write(d.join("file"), format!("content {i}\n")).unwrap();
            d
        })
        .collect();
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            s.command(&["import", d.to_str().unwrap(), &format!("conc/app:{i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        s.expect(&out, true, &["import (concurrent)"]);
    }
    let children: Vec<_> = (0..8)
        .map(|i| {
            s.command(&["tag", "conc/app:0", &format!("other/name:{i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        s.expect(&out, true, &["tag (concurrent)"]);
    }
    let json = s.ok(&["images", "--format", "json"]);
    let mut tags: Vec<String> = json
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{}:{}",
                v["Repository"].as_str().unwrap(),
                v["Tag"].as_str().unwrap()
            )
        })
        .collect();
    tags.sort();
    let mut want: Vec<String> = (0..8)
        .flat_map(|i| [format!("conc/app:{i}"), format!("other/name:{i}")])
        .collect();
    want.sort();
    assert_eq!(tags, want, "{}", s.listing());
}

#[test]
fn prune_refuses_while_another_strata_process_uses_the_store() {
    let s = Strata::new();
    s.import_busybox("busybox");
    // A load waiting on its stdin holds the store open.
    let mut holder = s
        .command(&["load"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut refused = false;
    while start.elapsed() < Duration::from_secs(20) {
        let out = s.run_cmd(s.command(&["system", "prune", "-f"]));
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(err.contains("in use by another strata process"), "{err}");
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(refused, "prune never saw the other process");
    drop(holder.stdin.take());
    let out = holder.wait_with_output().unwrap();
    assert!(!out.status.success(), "an empty load must fail");
    s.ok(&["system", "prune", "-f"]);
    s.ok(&["inspect", "busybox"]);
}

#[test]
fn system_df_reports_images_and_temp_files() {
    let s = Strata::new();
    s.import_busybox("busybox");
    // A temp file with a live owner (this test holds its lock), as a running strata has.
    fs::write(s.root.join("tmp/blob-live"), vec![0u8; 5000]).unwrap();
    let lock = fs::File::create(s.root.join("tmp/blob-live.lock")).unwrap();
    let held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    let out = s.ok(&["system", "df"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("TYPE "), "{out}");
    assert!(lines[1].starts_with("Images "), "{out}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[1], "1", "{out}");
    assert_eq!(cells[2], "1", "{out}");
    assert!(cells[3].ends_with("MB"), "{out}");
    let tmp = lines
        .iter()
        .find(|l| l.starts_with("Temporary files "))
        .expect("a Temporary files row");
    assert!(tmp.contains("5kB"), "{out}");
    // Prune leaves a live owner's file; once the owner is gone, any strata reclaims it.
    s.ok(&["system", "prune", "-f"]);
    assert!(s.root.join("tmp/blob-live").exists());
    drop(held);
    assert!(s
        .ok(&["system", "df"])
        .lines()
        .find(|l| l.starts_with("Temporary files "))
        .unwrap()
        .contains(" 0B "));
}

#[test]
fn prune_removes_snapshots_no_image_uses_and_keeps_the_rest() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let v: serde_json::Value = serde_json::from_str(&s.ok(&["inspect", "busybox"])).unwrap();
    let diff: Digest = v[0]["RootFS"]["Layers"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A one-layer image's chain ID is its diff ID.
    let used = s.root.join("snapshots-v1").join(diff.hex());
    let unused = s.root.join("snapshots-v1").join(Digest::of(b"gone").hex());
    for d in [&used, &unused] {
        fs::create_dir_all(d.join("fs/etc")).unwrap();
        fs::write(d.join("fs/etc/file"), b"x").unwrap();
    }
    let out = s.ok(&["system", "prune", "-f"]);
    assert!(out.contains(&Digest::of(b"gone").hex()), "{out}");
    assert!(used.join("fs/etc/file").exists(), "{}", s.listing());
    assert!(!unused.exists(), "{}", s.listing());
    // With the image gone, its snapshot goes too.
    s.ok(&["rmi", "busybox"]);
    s.ok(&["system", "prune", "-f"]);
    assert!(!used.exists(), "{}", s.listing());
    assert_eq!(
        fs::read_dir(s.root.join("oci/blobs/sha256"))
            .unwrap()
            .count(),
        0,
        "{}",
        s.listing()
    );
}
