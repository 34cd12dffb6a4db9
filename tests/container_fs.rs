//! The container filesystem operations as library calls over a busybox image and a hand-made
//! upperdir (as overlayfs leaves one: a whiteout is a 0/0 character device): commit, export,
//! cp both ways, and volumes filled from the image.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{tool, Strata};
use strata::container::commit::{commit, CommitOptions};
use strata::container::cp::{copy, CpError, Owner};
use strata::container::export::export;
use strata::container::tree::ContainerFs;
use strata::container::volume_store::{VolumeError, Volumes};
use strata::digest::Digest;
use strata::reference::Reference;
use strata::snapshot::{BlobOpener, Snapshots};
use strata::store::{Image, Store};

struct Ctr {
    s: Strata,
    store: Store,
    image: Image,
    lowers: Vec<PathBuf>,
    upper: PathBuf,
}

impl Ctr {
    /// busybox with a container upperdir that adds /hello and /abs (-> /etc), changes
    /// /etc/passwd and deletes /etc/group.
    fn new() -> Ctr {
        let s = Strata::new();
        s.import_busybox("busybox");
        let store = Store::open(&s.root).unwrap();
        let image = store.resolve("busybox").unwrap();
        let diff_ids = image.config.diff_ids().unwrap();
        let layers: Vec<(Digest, BlobOpener<'_>)> = image
            .layers()
            .iter()
            .zip(diff_ids)
            .map(|(l, diff)| {
                let d = strata::store::digest_of(l.digest()).unwrap();
                let store = &store;
                let open: BlobOpener<'_> = Box::new(move || {
                    store
                        .open_blob(&d)
                        .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)
                        .map_err(|e| std::io::Error::other(e.to_string()))
                });
                (diff, open)
            })
            .collect();
        let mut lowers = Snapshots::new(&s.root).ensure_chain(layers).unwrap();
        lowers.reverse();
        let upper = s.scratch("upper");
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::set_permissions(upper.join("etc"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(upper.join("hello"), "hi\n").unwrap();
        fs::write(
            upper.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nme:x:7:7::/:/bin/sh\n",
        )
        .unwrap();
        nix::sys::stat::mknod(
            &upper.join("etc/group"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        symlink("/etc", upper.join("abs")).unwrap();
        Ctr {
            s,
            store,
            image,
            lowers,
            upper,
        }
    }

    fn fs(&self) -> ContainerFs {
        ContainerFs::Layered {
            upper: self.upper.clone(),
            lowers: self.lowers.clone(),
            mounts: Vec::new(),
        }
    }
}

#[test]
fn commit_writes_the_changes_as_one_layer_over_the_image() {
    let c = Ctr::new();
    let tag = Reference::parse("committed:1").unwrap();
    let opts = CommitOptions {
        tags: vec![tag],
        message: Some("by test".into()),
        created_by: "sh -c edit".into(),
        changes: vec!["ENV COMMITTED=yes".into()],
        ..Default::default()
    };
    let img = commit(
        &c.store,
        &c.image.manifest_digest,
        &c.upper,
        &c.lowers,
        &opts,
    )
    .unwrap();
    assert_eq!(img.layers().len(), c.image.layers().len() + 1);
    assert_eq!(img.config.config.cmd, c.image.config.config.cmd, "Cmd kept");
    assert!(img
        .config
        .config
        .env
        .as_ref()
        .unwrap()
        .contains(&"COMMITTED=yes".to_string()));
    let h = img.config.history.last().unwrap();
    assert_eq!(h.created_by().as_deref(), Some("sh -c edit"));
    assert_eq!(h.comment().as_deref(), Some("by test"));
    assert_eq!(
        img.config.rootfs.diff_ids().len(),
        c.image.config.rootfs.diff_ids().len() + 1
    );
    let found = c.store.resolve("committed:1").unwrap();
    assert_eq!(found.id, img.id);

    let top = img.layers().last().unwrap();
    let blob = c
        .store
        .blob_path(&strata::store::digest_of(top.digest()).unwrap());
    let listing = tool("tar", &["-tzf", blob.to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().collect();
    for want in ["hello", "etc/.wh.group", "etc/passwd", "abs"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("bin/")),
        "only changes in the layer: {names:?}"
    );
}

#[test]
fn commit_of_an_unchanged_container_adds_no_layer() {
    let c = Ctr::new();
    let empty = c.s.scratch("empty-upper");
    let img = commit(
        &c.store,
        &c.image.manifest_digest,
        &empty,
        &c.lowers,
        &CommitOptions::default(),
    )
    .unwrap();
    assert_eq!(img.layers().len(), c.image.layers().len());
    assert_eq!(img.config.history.last().unwrap().empty_layer(), Some(true));
}

#[test]
fn export_is_the_merged_tree() {
    let c = Ctr::new();
    let out = c.s.scratch("out").join("export.tar");
    let mut f = fs::File::create(&out).unwrap();
    let n = export(&c.fs(), &mut f).unwrap();
    drop(f);
    let listing = tool("tar", &["-tf", out.to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().collect();
    assert_eq!(names.len() as u64, n);
    for want in [
        "bin/busybox",
        "bin/sh",
        "hello",
        "etc/passwd",
        "tmp/",
        "abs",
    ] {
        assert!(names.contains(&want), "{want} missing from export");
    }
    assert!(!names.contains(&"etc/group"), "deleted file exported");
    assert!(
        !names.iter().any(|n| n.contains(".wh.")),
        "whiteout exported"
    );
    let x = c.s.scratch("x");
    tool(
        "tar",
        &["-xf", out.to_str().unwrap(), "-C", x.to_str().unwrap()],
    );
    assert!(fs::read_to_string(x.join("etc/passwd"))
        .unwrap()
        .contains("me:x:7"));
    assert_eq!(fs::metadata(x.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
}

#[test]
fn cp_out_files_dirs_and_contents() {
    let c = Ctr::new();
    let (host, _) = strata::container::cp::host_path(Path::new("/")).unwrap();
    let out = c.s.scratch("cpout");
    let cfs = c.fs();
    // A file to a new name, and into an existing directory.
    copy(
        &cfs,
        Path::new("/hello"),
        &host,
        &out.join("h1"),
        false,
        Owner::Keep,
    )
    .unwrap();
    assert_eq!(fs::read_to_string(out.join("h1")).unwrap(), "hi\n");
    copy(
        &cfs,
        Path::new("/etc/passwd"),
        &host,
        &out,
        false,
        Owner::Keep,
    )
    .unwrap();
    assert!(fs::read_to_string(out.join("passwd"))
        .unwrap()
        .contains("me:x:7"));
    // A directory into a directory, then its contents only (`/.`).
    copy(&cfs, Path::new("/etc"), &host, &out, false, Owner::Keep).unwrap();
    assert!(out.join("etc/passwd").is_file());
    assert!(!out.join("etc/group").exists(), "whited-out file copied");
    let only = out.join("only");
    fs::create_dir(&only).unwrap();
    copy(&cfs, Path::new("/etc/."), &host, &only, false, Owner::Keep).unwrap();
    assert!(only.join("passwd").is_file());
    // A file to a missing directory (trailing slash) is refused.
    let e = copy(
        &cfs,
        Path::new("/hello"),
        &host,
        &out.join("nodir/"),
        false,
        Owner::Keep,
    );
    assert!(matches!(e, Err(CpError::DestDirMissing(_))), "{e:?}");
    // Nothing escapes: `..` and absolute links resolve inside the container.
    copy(
        &cfs,
        Path::new("/../../abs/passwd"),
        &host,
        &out.join("via-link"),
        false,
        Owner::Keep,
    )
    .unwrap();
    assert!(fs::read_to_string(out.join("via-link"))
        .unwrap()
        .contains("me:x:7"));
    let e = copy(
        &cfs,
        Path::new("/etc/group"),
        &host,
        &out.join("g"),
        false,
        Owner::Keep,
    );
    assert!(matches!(e, Err(CpError::NotFound(_))), "{e:?}");
    // A symlink is copied as a link.
    copy(
        &cfs,
        Path::new("/abs"),
        &host,
        &out.join("link"),
        false,
        Owner::Keep,
    )
    .unwrap();
    assert_eq!(fs::read_link(out.join("link")).unwrap(), Path::new("/etc"));
}

#[test]
fn cp_in_copies_parents_up_and_stays_inside() {
    let c = Ctr::new();
    let (host, _) = strata::container::cp::host_path(Path::new("/")).unwrap();
    let src = c.s.scratch("cpin");
    fs::write(src.join("f"), "file\n").unwrap();
    fs::create_dir_all(src.join("d/sub")).unwrap();
    fs::write(src.join("d/sub/inner"), "inner\n").unwrap();
    let cfs = c.fs();
    // Into a directory only the image has: it is copied up with its mode.
    copy(
        &host,
        &src.join("f"),
        &cfs,
        Path::new("/bin/"),
        false,
        Owner::Set(0, 0),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(c.upper.join("bin/f")).unwrap(), "file\n");
    let lower_bin = fs::metadata(c.lowers.last().unwrap().join("bin")).unwrap();
    assert_eq!(
        fs::metadata(c.upper.join("bin")).unwrap().mode(),
        lower_bin.mode()
    );
    // A directory to a new path, and its contents into an existing one.
    copy(
        &host,
        &src.join("d"),
        &cfs,
        Path::new("/newdir"),
        false,
        Owner::Set(0, 0),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(c.upper.join("newdir/sub/inner")).unwrap(),
        "inner\n"
    );
    let mut dot = src.join("d").into_os_string();
    dot.push("/.");
    copy(
        &host,
        Path::new(&dot),
        &cfs,
        Path::new("/tmp"),
        false,
        Owner::Set(0, 0),
    )
    .unwrap();
    assert!(c.upper.join("tmp/sub/inner").is_file());
    // Over a whited-out path: the whiteout goes, the file shows.
    copy(
        &host,
        &src.join("f"),
        &cfs,
        Path::new("/etc/group"),
        false,
        Owner::Set(0, 0),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(c.upper.join("etc/group")).unwrap(),
        "file\n"
    );
    // Through an absolute link and `..`: still inside the container.
    copy(
        &host,
        &src.join("f"),
        &cfs,
        Path::new("/../abs/../../etc/viaabs"),
        false,
        Owner::Set(0, 0),
    )
    .unwrap();
    assert!(c.upper.join("etc/viaabs").is_file());
    let e = copy(
        &host,
        &src.join("d"),
        &cfs,
        Path::new("/hello"),
        false,
        Owner::Set(0, 0),
    );
    assert!(matches!(e, Err(CpError::DirOntoFile(_))), "{e:?}");
    let e = copy(
        &host,
        &src.join("f"),
        &cfs,
        Path::new("/missing/x"),
        false,
        Owner::Set(0, 0),
    );
    assert!(matches!(e, Err(CpError::DestDirMissing(_))), "{e:?}");
    // The merged view sees it all.
    assert!(cfs.lstat(Path::new("bin/busybox")).unwrap().is_some());
    assert!(cfs.lstat(Path::new("bin/f")).unwrap().is_some());
}

#[test]
fn volumes_fill_from_the_image_once_and_refuse_removal_in_use() {
    let c = Ctr::new();
    let vols = Volumes::new(&c.s.root);
    let cfs = c.fs();
    let data = vols
        .mount_source(Some("etcvol"), "c1", Path::new("/etc"), &cfs)
        .unwrap();
    assert!(fs::read_to_string(data.join("passwd"))
        .unwrap()
        .contains("me:x:7"));
    assert!(
        !data.join("group").exists(),
        "a deleted file does not fill the volume"
    );
    // A volume with content is not filled again; the data is kept for the next container.
    fs::remove_file(data.join("passwd")).unwrap();
    fs::write(data.join("mine"), "1").unwrap();
    let again = vols
        .mount_source(Some("etcvol"), "c2", Path::new("/etc"), &cfs)
        .unwrap();
    assert_eq!(again, data);
    assert!(!data.join("passwd").exists());
    // A volume over /tmp takes its mode.
    let t = vols
        .mount_source(Some("tmpvol"), "c1", Path::new("/tmp"), &cfs)
        .unwrap();
    assert_eq!(fs::metadata(&t).unwrap().mode() & 0o7777, 0o1777);

    let names: Vec<String> = vols.list().unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["etcvol", "tmpvol"]);
    let live = |id: &str| id == "c2";
    let e = vols.remove("etcvol", &live);
    assert!(
        matches!(&e, Err(VolumeError::InUse { containers, .. }) if containers == &["c2"]),
        "{e:?}"
    );
    vols.release("c2", &[(Some("etcvol".into()), "/etc".into())], true)
        .unwrap();
    vols.remove("etcvol", &|_| true).unwrap_err(); // c1 still recorded
    vols.remove("etcvol", &live).unwrap();
    assert!(matches!(vols.get("etcvol"), Err(VolumeError::NotFound(_))));
    assert!(matches!(
        vols.remove("etcvol", &live),
        Err(VolumeError::NotFound(_))
    ));
    assert!(matches!(
        vols.create(Some("/bad")),
        Err(VolumeError::BadName(_))
    ));
    // Anonymous volumes go with `rm -v`.
    vols.mount_source(None, "c3", Path::new("/root"), &cfs)
        .unwrap();
    assert_eq!(vols.list().unwrap().len(), 2);
    vols.release("c3", &[(None, "/root".into())], true).unwrap();
    assert_eq!(vols.list().unwrap().len(), 1);
}
