//! images, tag, rmi, inspect, history and import, run through the real binary and asserted field
//! by field.

mod common;

use common::{tool, Strata};
use serde_json::Value;

fn inspect(s: &Strata, r: &str) -> Value {
    let out = s.ok(&["inspect", r]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v.as_array().unwrap().len(), 1, "{out}");
    v[0].clone()
}

/// The table's rows split into cells at the header's column positions (a cell may be empty).
fn table(out: &str) -> Vec<Vec<String>> {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or("");
    let mut starts = vec![0];
    let b = header.as_bytes();
    for i in 1..b.len() {
        if b[i] != b' ' && b[i - 1] == b' ' && i >= 3 && &header[i - 3..i] == "   " {
            starts.push(i);
        }
    }
    std::iter::once(header)
        .chain(lines)
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            (0..starts.len())
                .map(|k| {
                    let a = starts[k].min(chars.len());
                    let z = starts
                        .get(k + 1)
                        .copied()
                        .unwrap_or(chars.len())
                        .min(chars.len());
                    chars[a..z].iter().collect::<String>().trim().to_string()
                })
                .collect()
        })
        .collect()
}

#[test]
fn import_then_inspect_history_and_images() {
    let s = Strata::new();
    let id = s.import_busybox("busybox");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    let v = inspect(&s, "busybox");
    assert_eq!(v["Id"], id);
    assert_eq!(v["RepoTags"], serde_json::json!(["busybox:latest"]));
    let digests = v["RepoDigests"].as_array().unwrap();
    assert_eq!(digests.len(), 1);
    assert!(digests[0].as_str().unwrap().starts_with("busybox@sha256:"));
    assert_eq!(v["Created"], "2023-11-14T22:13:20Z");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(v["Config"]["Entrypoint"], Value::Null);
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    let size = v["Size"].as_u64().unwrap();
    assert!(
        size > 500_000 && size < 3_000_000,
        "gzip of busybox: {size}"
    );
    // Docker's comment for a local file: its CLI sends it as the body, not by path.
    assert_eq!(v["Comment"], "Imported from -");

    // Same input, same SOURCE_DATE_EPOCH: same image ID.
    let again = s.import_busybox("busybox:again");
    assert_eq!(again, id);

    let rows = table(&s.ok(&["images"]));
    assert_eq!(
        rows[0],
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let short = &id[7..19];
    for row in &rows[1..] {
        assert_eq!(row[0], "busybox");
        assert_eq!(row[2], short);
        assert!(row[3].ends_with(" ago"), "{row:?}");
        assert!(row[4].ends_with("MB") || row[4].ends_with("kB"), "{row:?}");
    }
    let mut tags: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    tags.sort();
    assert_eq!(tags, ["again", "latest"]);

    assert_eq!(s.ok(&["images", "-q"]), format!("{short}\n{short}\n"));
    let json = s.ok(&["images", "--format", "json", "busybox:again"]);
    let lines: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{json}");
    assert_eq!(lines[0]["Repository"], "busybox");
    assert_eq!(lines[0]["Tag"], "again");
    assert_eq!(lines[0]["ID"], short);
    assert!(lines[0]["Digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(lines[0]["CreatedAt"], "2023-11-14 22:13:20 +0000 UTC");
    assert!(lines[0]["CreatedSince"].as_str().unwrap().ends_with(" ago"));
    assert_eq!(lines[0]["Size"], lines[0]["VirtualSize"]);

    let digests = table(&s.ok(&["images", "--digests"]));
    assert_eq!(digests[0][2], "DIGEST");
    assert_eq!(
        format!("busybox@{}", digests[1][2]),
        v["RepoDigests"][0].as_str().unwrap()
    );

    let h = s.ok(&["history", "busybox"]);
    let rows = table(&h);
    assert_eq!(
        rows[0],
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    );
    assert_eq!(rows.len(), 2, "{h}");
    assert_eq!(rows[1][0], short);
    assert!(rows[1][1].ends_with(" years ago"), "{h}");
    assert_eq!(rows[1][2], "", "{h}");
    assert!(rows[1][3].ends_with("MB"), "{h}");
    assert!(rows[1][4].starts_with("Imported from "), "{h}");
    assert_eq!(s.ok(&["history", "-q", "busybox"]), format!("{short}\n"));
    assert!(s.ok(&["history", "--no-trunc", "busybox"]).contains(&id));
}

#[test]
fn lookup_by_short_and_full_id_and_errors_name_the_reference() {
    let s = Strata::new();
    let id = s.import_busybox("example.com:5000/team/app:1.0");
    let hex = &id[7..];
    for r in [
        "example.com:5000/team/app:1.0",
        &id,
        hex,
        &hex[..12],
        &hex[..4],
        &format!("sha256:{}", &hex[..8]),
    ] {
        assert_eq!(inspect(&s, r)["Id"], id, "{r}");
    }
    let v = inspect(&s, &id);
    assert_eq!(
        v["RepoTags"],
        serde_json::json!(["example.com:5000/team/app:1.0"])
    );

    let err = s.fails(&["image", "inspect", "nothere:1"]);
    assert!(err.contains("No such image: nothere:1"), "{err}");
    let err = s.fails(&["tag", "busybox", "BAD/Name"]);
    assert!(err.contains("BAD/Name"), "{err}");
    let err = s.fails(&["import", "/nonexistent/rootfs.tar", "x"]);
    assert!(err.contains("/nonexistent/rootfs.tar"), "{err}");
    let err = s.fails(&["import", "-c", "RUN true", "/tmp", "x"]);
    assert!(err.contains("RUN true"), "{err}");
}

#[test]
fn tag_and_rmi_print_and_do_what_docker_does() {
    let s = Strata::new();
    let id = s.import_busybox("busybox");
    s.ok(&["tag", "busybox", "user/app:v1"]);
    s.ok(&["tag", &id[7..19], "busybox:two"]);
    let v = inspect(&s, "user/app:v1");
    assert_eq!(
        v["RepoTags"],
        serde_json::json!(["busybox:latest", "user/app:v1", "busybox:two"])
    );
    assert_eq!(v["RepoDigests"].as_array().unwrap().len(), 2);

    // Several repositories: removing by ID needs --force.
    let err = s.fails(&["rmi", &id]);
    assert!(err.contains("must be forced"), "{err}");

    // Untagging one of several tags only untags.
    assert_eq!(s.ok(&["rmi", "busybox:two"]), "Untagged: busybox:two\n");
    assert_eq!(s.ok(&["rmi", "user/app:v1"]), "Untagged: user/app:v1\n");
    let manifest = v["Descriptor"]["digest"].as_str().unwrap();
    // The last tag takes the image with it.
    assert_eq!(
        s.ok(&["rmi", "busybox"]),
        format!("Untagged: busybox:latest\nUntagged: busybox@{manifest}\nDeleted: {id}\n")
    );
    assert_eq!(s.ok(&["images", "-q"]), "");
    let err = s.fails(&["rmi", "busybox"]);
    assert!(err.contains("No such image: busybox"), "{err}");

    // --force by ID removes every tag.
    let id = s.import_busybox("a/one");
    s.ok(&["tag", "a/one", "b/two:x"]);
    let out = s.ok(&["rmi", "-f", &id[7..19]]);
    assert!(out.contains("Untagged: a/one:latest\n"), "{out}");
    assert!(out.contains("Untagged: b/two:x\n"), "{out}");
    assert!(out.ends_with(&format!("Deleted: {id}\n")), "{out}");
    assert_eq!(s.ok(&["images", "-q"]), "");
}

#[test]
fn moving_a_tag_leaves_a_dangling_image_and_prune_removes_it() {
    let s = Strata::new();
    let old = s.import_busybox("app");
    let rootfs = s.scratch("other");
    std::fs::write(rootfs.join("hello"), "hi\n").unwrap();
    let new = s
        .ok(&["import", rootfs.to_str().unwrap(), "app"])
        .trim()
        .to_string();
    assert_ne!(old, new);
    let rows = table(&s.ok(&["images"]));
    assert_eq!(rows.len(), 3, "{rows:?}");
    let dangling: Vec<_> = rows.iter().filter(|r| r[0] == "<none>").collect();
    assert_eq!(dangling.len(), 1, "{rows:?}");
    assert_eq!(dangling[0][1], "<none>");
    assert_eq!(dangling[0][2], &old[7..19]);

    let out = s.ok(&["system", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {old}")), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(s.ok(&["images", "-q"]), format!("{}\n", &new[7..19]));
    // The old layer blob is gone; the new image is intact.
    let blobs = std::fs::read_dir(s.root.join("oci/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 3, "{}", s.listing());
    inspect(&s, "app");
}

#[test]
fn the_store_is_an_oci_layout_skopeo_reads_directly() {
    let s = Strata::new();
    let id = s.import_busybox("busybox");
    let oci = format!(
        "oci:{}:docker.io/library/busybox:latest",
        s.root.join("oci").display()
    );
    let out = tool("skopeo", &["inspect", &oci]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let ours = inspect(&s, "busybox");
    assert_eq!(v["Digest"], ours["Descriptor"]["digest"]);
    assert_eq!(v["Created"], "2023-11-14T22:13:20Z");
    let cfg = tool("skopeo", &["inspect", "--config", &oci]);
    let cfg: Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(cfg["config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(
        format!(
            "sha256:{}",
            sha256_hex(&tool("skopeo", &["inspect", "--raw", "--config", &oci]))
        ),
        id
    );
}

fn sha256_hex(s: &str) -> String {
    strata::digest::Digest::of(s.as_bytes()).hex()
}
