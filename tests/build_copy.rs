//! COPY/ADD through `strata build`, checked against Docker's documented behaviour: three images
//! built from one context, a COPY/ADD line per case (each into its own `/cNN` dir), each unpacked
//! once with umoci (a tool nobody here wrote), then one test per case inspecting its rootfs;
//! the cases that must fail each get a small build of their own in the same store. The context,
//! the Dockerfiles and the assertions are in build_copy_support.

mod build_copy_support;
mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use build_copy_support::*;

// ---------------------------------------------------------------------------------------------
// Cases on the shared image.

// "If <dest> doesn't end with a trailing slash, it will be considered a regular file and the
// contents of <src> will be written at <dest>." Context files become 0:0, mode kept.
#[test]
fn c01_file_to_file() {
    let r = image_a();
    assert_file(r, "/c01/file", "alpha\n", 0o644, ROOT);
}

// "If <dest> ends with a trailing slash /, it will be considered a directory and the contents
// of <src> will be written at <dest>/base(<src>)."
#[test]
fn c02_file_into_dir_with_trailing_slash() {
    let r = image_a();
    assert_file(r, "/c02/a.txt", "alpha\n", 0o644, ROOT);
    assert_eq!(names(r, "/c02"), ["a.txt"]);
}

// A dest without a trailing slash that is an existing directory: the file goes into it
// (BuildKit's copy puts a file into an existing directory dest), the dir stays 1777.
#[test]
fn c03_dest_is_existing_dir_without_slash() {
    let r = image_a();
    assert_file(r, "/tmp/a.txt", "alpha\n", 0o644, ROOT);
    assert_dir(r, "/tmp", 0o1777, ROOT);
}

// "If <src> is a directory, the entire contents of the directory are copied, including
// filesystem metadata. The directory itself is not copied, just its contents."
#[test]
fn c04_dir_source_copies_contents() {
    let r = image_a();
    assert_eq!(names(r, "/c04"), ["one.txt", "sub"]);
    assert_file(r, "/c04/one.txt", "one\n", 0o644, ROOT);
    assert_file(r, "/c04/sub/two.txt", "two\n", 0o644, ROOT);
    assert_absent(r, "/c04/d");
}

// "Each <src> may contain wildcards and matching will be done using Go's filepath.Match":
// `*` matches any run of non-separator characters.
#[test]
fn c05_wildcard_star() {
    let r = image_a();
    assert_eq!(names(r, "/c05"), ["a.txt", "b.txt"]);
    assert_file(r, "/c05/a.txt", "wa", 0o644, ROOT);
}

// `?` matches exactly one non-separator character.
#[test]
fn c06_wildcard_question_mark() {
    let r = image_a();
    assert_eq!(names(r, "/c06"), ["x1"]);
}

// `[a-c]` is a character range.
#[test]
fn c07_wildcard_range() {
    let r = image_a();
    assert_eq!(names(r, "/c07"), ["ra", "rb"]);
}

// "<dest> is an absolute path, or a path relative to WORKDIR"; `.` is WORKDIR itself.
#[test]
fn c08_relative_dest_after_workdir() {
    let r = image_a();
    assert_file(r, "/c08/rel/a.txt", "alpha\n", 0o644, ROOT);
    assert_file(r, "/c08/a.txt", "alpha\n", 0o644, ROOT);
}

// "If <dest> doesn't exist, it's created, along with all missing directories in its path";
// new directories are 0755 and 0:0.
#[test]
fn c09_dest_parents_created_0755() {
    let r = image_a();
    assert_file(r, "/c09/deep/er/file", "alpha\n", 0o644, ROOT);
    for d in ["/c09", "/c09/deep", "/c09/deep/er"] {
        assert_dir(r, d, 0o755, ROOT);
    }
}

// "--chown=<user>:<group> ... gives a specific username, groupname, or UID/GID combination to
// request specific ownership of the content"; applies to everything copied from a directory.
#[test]
fn c10_chown_numeric() {
    let r = image_a();
    assert_file(r, "/c10/one.txt", "one\n", 0o644, (1000, 1000));
    assert_file(r, "/c10/sub/two.txt", "two\n", 0o644, (1000, 1000));
    assert_dir(r, "/c10/sub", 0o755, (1000, 1000));
}

// "If the container root filesystem doesn't contain either /etc/passwd or /etc/group files and
// either user or group names are used in the --chown flag, the build will fail": names are
// looked up in the image's own files (here put there by an earlier COPY).
#[test]
fn c11_chown_names_from_image_passwd_and_group() {
    let r = image_a();
    assert_file(r, "/c11/file", "alpha\n", 0o644, (1500, 1700));
}

// "--chmod=<perms>" sets the permission bits of what is copied (octal form).
#[test]
fn c12_chmod_octal() {
    let r = image_a();
    assert_file(r, "/c12/file", "alpha\n", 0o640, ROOT);
}

// Symbolic --chmod (dockerfile 1.14+): u+x on 0644 gives 0744.
#[test]
fn c13_chmod_symbolic() {
    let r = image_a();
    assert_file(r, "/c13/file", "alpha\n", 0o744, ROOT);
}

// "COPY --link": the files land as with a plain COPY, in a layer of their own.
#[test]
fn c14_link() {
    let r = image_a();
    assert_file(r, "/c14/a.txt", "alpha\n", 0o644, ROOT);
}

// "--exclude=<path> ... specify a path expression for files to be excluded".
#[test]
fn c15_exclude() {
    let r = image_a();
    assert_eq!(names(r, "/c15"), ["keep.txt"]);
    assert_absent(r, "/c15/drop.log");
}

// "--parents ... preserves parent directories for src entries": p/one/f.txt lands at
// <dest>/p/one/f.txt; siblings not named stay out.
#[test]
fn c16_parents() {
    let r = image_a();
    assert_file(r, "/c16/p/one/f.txt", "f\n", 0o644, ROOT);
    assert_file(r, "/c16/p/two/g.txt", "g\n", 0o644, ROOT);
    assert_absent(r, "/c16/p/three");
    assert_absent(r, "/c16/f.txt");
}

// "If the delimiter is not quoted, the here-document contents are expanded" (build args and
// ENV of the stage).
#[test]
fn c17_heredoc_unquoted_delimiter_expands() {
    let r = image_a();
    assert_file(r, "/c17/expanded", "hello world\n", 0o644, ROOT);
}

// A quoted delimiter ("EOT") keeps the body literal.
#[test]
fn c18_heredoc_quoted_delimiter_is_literal() {
    let r = image_a();
    assert_file(r, "/c18/literal", "hello $NAME\n", 0o644, ROOT);
}

/// "If <src> is a local tar archive in a recognized compression format (identity, gzip, bzip2
/// or xz) then it is unpacked as a directory"; members keep their modes and the archive's ids.
/// All archives are one ADD into /c19, each holding its own `inner-<format>/`.
fn assert_unpacked(format: &str) {
    let r = image_b();
    let dir = format!("/c19/inner-{format}");
    assert_file(
        r,
        &format!("{dir}/hello.txt"),
        &format!("hello from the {format} archive\n"),
        0o640,
        (1001, 1002),
    );
    assert!(lstat(r, &format!("{dir}/sub")).is_dir());
    let archives: Vec<String> = names(r, "/c19")
        .into_iter()
        .filter(|n| n.contains(".tar"))
        .collect();
    assert_eq!(archives, ["fake.tar.gz"], "an archive itself was copied");
}

#[test]
fn c19_add_plain_tar_extracts() {
    assert_unpacked("plain");
}

#[test]
fn c20_add_gzip_tar_extracts() {
    assert_unpacked("gz");
}

#[test]
fn c21_add_bzip2_tar_extracts() {
    assert_unpacked("bz");
}

#[test]
fn c22_add_xz_tar_extracts() {
    assert_unpacked("xz");
}

// zstd is not in the docs' list but BuildKit's decompression recognises it (containerd's
// compression package), as strata's does.
#[test]
fn c23_add_zstd_tar_extracts() {
    assert_unpacked("zst");
}

// COPY never extracts: "COPY ... the archive is copied as is".
#[test]
fn c24_copy_of_archive_is_not_extracted() {
    let r = image_b();
    let want = fs::read(fixture().ctx.join("gz.tar.gz")).unwrap();
    assert_eq!(names(r, "/c24"), ["gz.tar.gz"]);
    assert_eq!(fs::read(r.join("c24/gz.tar.gz")).unwrap(), want);
}

// "Whether a file is identified as a recognized compression format or not is done solely based
// on the contents of the file, not the name of the file."
#[test]
fn c25_add_non_archive_named_tar_gz_is_copied() {
    let r = image_b();
    assert_file(
        r,
        "/c19/fake.tar.gz",
        "not an archive at all\n",
        0o644,
        ROOT,
    );
}

// .dockerignore: "files and directories that match patterns in it are excluded from the
// context", so `COPY .` leaves them out.
#[test]
fn c26_dockerignore_excludes_from_copy_dot() {
    let r = image_b();
    assert_absent(r, "/c26/ignored.txt");
    assert_file(r, "/c26/a.txt", "alpha\n", 0o644, ROOT);
    assert_file(r, "/c26/d/sub/two.txt", "two\n", 0o644, ROOT);
}

// "The <src> path must be inside the context of the build; you cannot COPY ../something":
// BuildKit resolves source paths inside the context root, so ../outside is ./outside.
#[test]
fn c27_parent_source_clamped_to_context() {
    let r = image_b();
    assert_file(r, "/c27/file", "inside the context\n", 0o644, ROOT);
}

// Symlinks inside a copied directory are copied as symlinks, targets unchanged.
#[test]
fn c28_symlink_in_context_copied_as_symlink() {
    let r = image_b();
    assert_file(r, "/c28/real.txt", "real\n", 0o644, ROOT);
    assert_symlink(r, "/c28/rel-link", "real.txt");
    assert_symlink(r, "/c28/abs-link", "/etc/passwd");
}

// The dest is resolved inside the rootfs: /link -> /target means /target, not the host's.
#[test]
fn c29_dest_through_absolute_symlink_resolves_in_rootfs() {
    let r = image_b();
    assert_symlink(r, "/link", "/target");
    assert_file(r, "/target/a.txt", "alpha\n", 0o644, ROOT);
    assert!(
        !Path::new("/target/a.txt").exists(),
        "the host's /target got the file"
    );
}

// A symlink climbing above / is clamped at the rootfs root (as `..` at / is /): nothing is
// written outside the image.
#[test]
fn c30_symlink_dest_pointing_outside_stays_inside() {
    let r = image_b();
    let f = fixture();
    assert_symlink(r, "/escape", "../../..");
    assert_file(r, &format!("/{ESCAPED}"), "alpha\n", 0o644, ROOT);
    let base = f.strata.root.parent().unwrap();
    for dir in [Path::new("/"), base, base.parent().unwrap()] {
        assert!(
            !dir.join(ESCAPED).exists(),
            "{} escaped the rootfs",
            dir.join(ESCAPED).display()
        );
    }
    // Nowhere in the test's own tree except the unpacked bundle and the root of the step's
    // layer snapshot (the layer's own copy of it).
    let snapshots = f.strata.root.join("snapshots-v1");
    for e in walkdir::WalkDir::new(base)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_name() == ESCAPED {
            let layer_root = e.path().parent().and_then(Path::parent) == Some(&snapshots);
            assert!(
                e.path().starts_with(r) || layer_root,
                "{} written outside the image",
                e.path().display()
            );
        }
    }
}

// "COPY --from ... the source's ownership is preserved" (only the build context's files are
// reset to 0:0).
#[test]
fn c31_copy_from_stage_keeps_owners() {
    let r = image_b();
    assert_file(r, "/c31/a.txt", "alpha\n", 0o644, (1234, 5678));
}

// "--from=<image|stage|context>": an image name that is no stage is an image, here the store's.
#[test]
fn c32_copy_from_store_image() {
    let r = image_b();
    let md = lstat(r, "/c32/busybox");
    assert!(md.is_file());
    assert_eq!(md.mode() & 0o777, 0o755);
    assert_eq!(
        fs::read(r.join("c32/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );
}

// COPY keeps the context file's mtime ("including filesystem metadata").
#[test]
fn c33_copy_keeps_context_mtime() {
    let r = image_b();
    assert_file(r, "/c33/mt.txt", "old file\n", 0o644, ROOT);
    assert_eq!(lstat(r, "/c33/mt.txt").mtime(), CONTEXT_MTIME);
}

// ADD <url>: "the file will have permissions of 600"; "if the remote file has an HTTP
// Last-Modified header, the timestamp from that header will be used to set the mtime";
// --checksum that matches lets it through.
#[test]
fn c34_add_url_with_right_checksum() {
    let r = image_b();
    assert_file(
        r,
        "/c34/payload.txt",
        std::str::from_utf8(PAYLOAD).unwrap(),
        0o600,
        ROOT,
    );
    assert_eq!(lstat(r, "/c34/payload.txt").mtime(), LAST_MODIFIED_SECS);
}

// BuildKit allows a wildcard that matches nothing (AllowEmptyWildcard; moby/moby#42600,
// moby/buildkit#4900): the build succeeds and copies nothing. (The classic builder failed with
// "no source files were specified".)
#[test]
fn c35_wildcard_matching_nothing_copies_nothing() {
    let r = image_b();
    let p = r.join("c35");
    if p.exists() {
        assert!(names(r, "/c35").is_empty(), "{:?}", names(r, "/c35"));
    }
}

// Several heredocs are several sources: each is written under the directory dest by its name.
#[test]
fn c36_several_heredocs_into_dir() {
    let r = image_a();
    assert_eq!(names(r, "/c36"), ["one.sh", "two.txt"]);
    assert_file(r, "/c36/one.sh", "echo one\n", 0o644, ROOT);
    assert_file(r, "/c36/two.txt", "second\n", 0o644, ROOT);
}

// On scratch the image holds exactly what COPY made: the file and its created parents (0755).
#[test]
fn c37_scratch_copy_creates_parents() {
    let r = image_c();
    assert_eq!(names(r, "/"), ["c37", "c38"]);
    assert_dir(r, "/c37", 0o755, ROOT);
    assert_dir(r, "/c37/deep", 0o755, ROOT);
    assert_file(r, "/c37/deep/a.txt", "alpha\n", 0o644, ROOT);
}

// "If only numeric IDs are used, no lookups will be performed": numeric --chown works on an
// image with no /etc/passwd.
#[test]
fn c38_scratch_numeric_chown_needs_no_passwd() {
    let r = image_c();
    assert_file(r, "/c38/one.txt", "one\n", 0o644, (42, 43));
    assert_file(r, "/c38/sub/two.txt", "two\n", 0o644, (42, 43));
}

// ADD <url> to a dest without a trailing slash writes that file; without --checksum too.
#[test]
fn c39_add_url_to_file_name() {
    let r = image_b();
    assert_file(
        r,
        "/c39/named",
        std::str::from_utf8(PAYLOAD).unwrap(),
        0o600,
        ROOT,
    );
}

// ---------------------------------------------------------------------------------------------
// Cases that must fail: each a small build in the shared store.

/// Builds `lines` (after `FROM busybox`) in a fresh context holding `files`; asserts failure
/// and returns stderr.
fn build_fails(name: &str, files: &[(&str, &str)], lines: &str) -> String {
    let _one = fixture().lock.lock().unwrap_or_else(|e| e.into_inner());
    build_fails_locked(name, files, lines)
}

/// `build_fails` for a caller already holding the fixture's lock.
fn build_fails_locked(name: &str, files: &[(&str, &str)], lines: &str) -> String {
    let f = fixture();
    let ctx = f.strata.scratch(&format!("err-{name}"));
    for (path, content) in files {
        write(&ctx.join(path), content);
    }
    write(&ctx.join("Dockerfile"), &format!("FROM busybox\n{lines}\n"));
    f.strata
        .fails(&["build", "-t", name, ctx.to_str().unwrap()])
}

fn cache_entries(f: &Fixture) -> usize {
    fs::read_dir(f.strata.root.join("cache-v1"))
        .map(|d| d.count())
        .unwrap_or(0)
}

// "If multiple <src> resources are specified, either directly or due to the use of a
// wildcard, then <dest> must be a directory, and it must end with a slash /."
#[test]
fn e01_several_sources_need_dir_dest() {
    let err = build_fails(
        "e01",
        &[("a.txt", "a"), ("b.txt", "b")],
        "COPY a.txt b.txt /notadir",
    );
    assert!(err.contains("Dockerfile:2"), "not located: {err}");
    assert!(err.contains("must be a directory"), "{err}");
}

// The same rule through a wildcard matching two files.
#[test]
fn e02_wildcard_with_several_matches_needs_dir_dest() {
    let err = build_fails(
        "e02",
        &[("a.txt", "a"), ("b.txt", "b")],
        "COPY *.txt /notadir",
    );
    assert!(err.contains("Dockerfile:2"), "not located: {err}");
    assert!(err.contains("must be a directory"), "{err}");
}

// An ignored file is not in the context, so naming it is "not found" (as any missing file).
#[test]
fn e03_copy_of_dockerignored_file_fails() {
    let err = build_fails(
        "e03",
        &[
            ("ignored.txt", "x"),
            (".dockerignore", "ignored.txt\n"),
            ("a.txt", "a"),
        ],
        "COPY a.txt /ok\nCOPY ignored.txt /x",
    );
    assert!(err.contains("Dockerfile:3"), "not located: {err}");
    assert!(err.contains("ignored.txt"), "{err}");
    assert!(err.contains("not found"), "{err}");
}

// A missing non-wildcard source fails.
#[test]
fn e04_missing_source_fails() {
    let err = build_fails("e04", &[], "COPY nosuchfile /x");
    assert!(err.contains("Dockerfile:2"), "not located: {err}");
    assert!(err.contains("not found"), "{err}");
}

// "--checksum ... verify the checksum of a remote resource": a mismatch fails the build, and
// the failed step leaves no cache entry behind.
#[test]
fn e05_add_url_with_wrong_checksum() {
    let f = fixture();
    let _one = f.lock.lock().unwrap_or_else(|e| e.into_inner());
    let before = cache_entries(f);
    let wrong = sha256_hex(b"something else");
    let err = build_fails_locked(
        "e05",
        &[],
        &format!(
            "ADD --checksum=sha256:{wrong} {}/payload.txt /bad/",
            f.url_base
        ),
    );
    assert!(err.contains("Dockerfile:2"), "not located: {err}");
    // The mismatch names both digests (BuildKit: "digest mismatch ...").
    assert!(err.contains("mismatch"), "not a checksum error: {err}");
    assert!(err.contains(&wrong), "expected digest not shown: {err}");
    assert!(
        err.contains(&sha256_hex(PAYLOAD)),
        "actual digest not shown: {err}"
    );
    assert_eq!(
        cache_entries(f),
        before,
        "a failed ADD recorded a cache entry"
    );
}

// "If the container root filesystem doesn't contain either /etc/passwd or /etc/group files and
// either user or group names are used in the --chown flag, the build will fail".
#[test]
fn e06_chown_name_without_passwd_fails() {
    let _one = fixture().lock.lock().unwrap_or_else(|e| e.into_inner());
    let f = fixture();
    let ctx = f.strata.scratch("err-e06");
    write(&ctx.join("a.txt"), "a");
    write(
        &ctx.join("Dockerfile"),
        "FROM scratch\nCOPY --chown=app:staff a.txt /x\n",
    );
    let err = f
        .strata
        .fails(&["build", "-t", "e06", ctx.to_str().unwrap()]);
    assert!(err.contains("Dockerfile:2"), "not located: {err}");
    assert!(err.contains("app"), "{err}");
}

// A user name the image's /etc/passwd does not have fails the COPY.
#[test]
fn e07_chown_unknown_user_fails() {
    let err = build_fails("e07", &[("a.txt", "a")], "COPY --chown=nosuchuser a.txt /x");
    assert!(err.contains("Dockerfile:2"), "not located: {err}");
    assert!(err.contains("nosuchuser"), "{err}");
}

// A wildcard whose directory part does not exist fails under BuildKit ("lstat …/nodir: no such
// file or directory", moby/buildkit#2933), unlike an empty match in an existing dir (c35).
#[test]
fn e08_wildcard_in_missing_dir_fails() {
    let err = build_fails("e08", &[("a.txt", "a")], "COPY nodir/*.txt a.txt /x/");
    assert!(err.contains("Dockerfile:2"), "not located: {err}");
    assert!(err.contains("nodir"), "{err}");
}

// Docker images may have up to 127 layers; passing every lower dir by its full path in one
// `lowerdir=` option hits the kernel's one-page cap at about 37 layers, so longer chains must
// take the new mount API (for COPY and for the RUN sandbox alike).
#[test]
fn x01_many_layers() {
    let f = fixture();
    let _one = f.lock.lock().unwrap_or_else(|e| e.into_inner());
    let ctx = f.strata.scratch("many-layers");
    write(&ctx.join("a.txt"), "a");
    let mut df = String::from("FROM busybox\n");
    for i in 0..60 {
        df.push_str(&format!("COPY a.txt /l{i}\n"));
    }
    df.push_str("RUN cat /l0 /l59 > /both\n");
    write(&ctx.join("Dockerfile"), &df);
    let root = build_and_unpack(&f.strata, &ctx, "Dockerfile", "many-layers");
    assert_eq!(std::fs::read_to_string(root.join("both")).unwrap(), "aa");
}
