//! COPY/ADD through `strata build`, checked against Docker's documented behaviour: two images
//! built from one context, a COPY/ADD line per case (each into its own `/cNN` dir), each unpacked
//! once with umoci (a tool nobody here wrote), then one test per case inspecting its rootfs;
//! the cases that must fail each get a small build of their own in the same store.

mod common;

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use common::{tool, Strata};
use sha2::{Digest as _, Sha256};

/// The mtime given to `mt.txt` in the context.
const CONTEXT_MTIME: i64 = 1_000_000_000;
/// What the loopback server sends as `Last-Modified` for `/payload.txt` (784111777 s).
const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const LAST_MODIFIED_SECS: i64 = 784_111_777;
const PAYLOAD: &[u8] = b"payload from the loopback server\n";
/// A name that must appear only inside the rootfs (the `/escape` case).
const ESCAPED: &str = "strata-copytable-escaped.txt";

/// The built and unpacked image, or the story of why it could not be made.
struct Fixture {
    strata: Strata,
    ctx: PathBuf,
    /// The unpacked rootfs of image A and of image B.
    a: PathBuf,
    b: PathBuf,
    url_base: String,
    /// One strata run at a time against the store (the error cases count cache entries).
    lock: Mutex<()>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Result<Fixture, String>> = OnceLock::new();
    let made = F.get_or_init(|| {
        std::panic::catch_unwind(make_fixture).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    });
    match made {
        Ok(f) => f,
        Err(story) => panic!("the shared image could not be built:\n{story}"),
    }
}

fn image_a() -> &'static Path {
    &fixture().a
}

fn image_b() -> &'static Path {
    &fixture().b
}

// ---------------------------------------------------------------------------------------------
// The loopback HTTP server (ADD <url>).

fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Runs until the test process exits.
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || answer(conn));
        }
    });
    base
}

fn answer(conn: TcpStream) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, extra, body): (&str, String, &[u8]) = match path {
        "/payload.txt" => (
            "200 OK",
            format!("Last-Modified: {LAST_MODIFIED}\r\n"),
            PAYLOAD,
        ),
        _ => ("404 Not Found", String::new(), b"not found\n"),
    };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(body);
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The context and the Dockerfile.

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// `name` in `ctx`: a tar made by the tar CLI of `inner-<format>/` (hello.txt 0640, sub/),
/// members owned 1001:1002, then compressed by `compress` (a CLI that writes FILE.<suffix>).
fn archive(ctx: &Path, scratch: &Path, name: &str, compress: Option<&str>) {
    let format = name.split('.').next().unwrap();
    let src = scratch.join(format!("arch-{format}"));
    let inner = format!("inner-{format}");
    write(
        &src.join(&inner).join("hello.txt"),
        &format!("hello from the {format} archive\n"),
    );
    chmod(&src.join(&inner).join("hello.txt"), 0o640);
    fs::create_dir_all(src.join(&inner).join("sub")).unwrap();
    let tar_path = ctx.join(format!("{format}.tar"));
    tool(
        "tar",
        &[
            "-C",
            src.to_str().unwrap(),
            "--owner=1001",
            "--group=1002",
            "--numeric-owner",
            "-cf",
            tar_path.to_str().unwrap(),
            &inner,
        ],
    );
    if let Some(program) = compress {
        tool(program, &["-q", "-f", tar_path.to_str().unwrap()]);
        if program == "zstd" {
            // zstd keeps its input.
            fs::remove_file(&tar_path).unwrap();
        }
    }
    assert!(ctx.join(name).is_file(), "{name} was not made");
}

/// The shared context: a file or tree per case.
fn make_context(strata: &Strata) -> PathBuf {
    let ctx = strata.scratch("ctx");
    write(&ctx.join("a.txt"), "alpha\n");
    chmod(&ctx.join("a.txt"), 0o644);
    write(&ctx.join("d/one.txt"), "one\n");
    write(&ctx.join("d/sub/two.txt"), "two\n");
    for (name, body) in [
        ("a.txt", "wa"),
        ("b.txt", "wb"),
        ("c.md", "wc"),
        ("x1", "x1"),
        ("x22", "x22"),
        ("ra", "ra"),
        ("rb", "rb"),
        ("rd", "rd"),
    ] {
        write(&ctx.join("w").join(name), body);
    }
    // `COPY base/ /`: users and groups for --chown names, and symlinks at the image's root, an
    // absolute one and one climbing far above /.
    write(
        &ctx.join("base/etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1500:1600::/home/app:/bin/sh\n",
    );
    write(&ctx.join("base/etc/group"), "root:x:0:\nstaff:x:1700:\n");
    fs::create_dir_all(ctx.join("base/target")).unwrap();
    symlink("/target", ctx.join("base/link")).unwrap();
    symlink("../../..", ctx.join("base/escape")).unwrap();
    write(&ctx.join("ex/keep.txt"), "keep\n");
    write(&ctx.join("ex/drop.log"), "drop\n");
    write(&ctx.join("p/one/f.txt"), "f\n");
    write(&ctx.join("p/two/g.txt"), "g\n");
    write(&ctx.join("p/three/h.txt"), "h\n");
    let arch = strata.scratch("arch");
    archive(&ctx, &arch, "plain.tar", None);
    archive(&ctx, &arch, "gz.tar.gz", Some("gzip"));
    archive(&ctx, &arch, "bz.tar.bz2", Some("bzip2"));
    archive(&ctx, &arch, "xz.tar.xz", Some("xz"));
    archive(&ctx, &arch, "zst.tar.zst", Some("zstd"));
    write(&ctx.join("fake.tar.gz"), "not an archive at all\n");
    write(&ctx.join("ignored.txt"), "must not be copied\n");
    write(&ctx.join(".dockerignore"), "ignored.txt\n");
    // `COPY ../outside` must read this one, not the file next to the context.
    write(&ctx.join("outside"), "inside the context\n");
    write(
        &ctx.parent().unwrap().join("outside"),
        "OUTSIDE THE CONTEXT\n",
    );
    write(&ctx.join("sdir/real.txt"), "real\n");
    symlink("real.txt", ctx.join("sdir/rel-link")).unwrap();
    symlink("/etc/passwd", ctx.join("sdir/abs-link")).unwrap();
    write(&ctx.join("mt.txt"), "old file\n");
    tool(
        "touch",
        &[
            "-d",
            &format!("@{CONTEXT_MTIME}"),
            ctx.join("mt.txt").to_str().unwrap(),
        ],
    );
    ctx
}

/// Image A: plain COPY rules. Layers are kept under ~35 per image: see `x01_many_layers`.
const DOCKERFILE_A: &str = r#"FROM busybox
COPY base/ /
COPY a.txt /c01/file
COPY a.txt /c02/
COPY a.txt /tmp
COPY d /c04
COPY w/*.txt /c05/
COPY w/x? /c06/
COPY w/r[a-c] /c07/
WORKDIR /c08
COPY a.txt rel/
COPY a.txt .
WORKDIR /
COPY a.txt /c09/deep/er/file
COPY --chown=1000:1000 d /c10/
COPY --chown=app:staff a.txt /c11/file
COPY --chmod=640 a.txt /c12/file
COPY --chmod=u+x a.txt /c13/file
COPY --link a.txt /c14/
COPY --exclude=*.log ex /c15/
COPY --parents p/one/f.txt p/two/g.txt /c16/
ARG NAME=world
COPY <<EOT /c17/expanded
hello $NAME
EOT
COPY <<"EOT" /c18/literal
hello $NAME
EOT
"#;

/// Image B: ADD, the context's edges, symlinks, --from, mtimes.
fn dockerfile_b(url_base: &str) -> String {
    let sum = sha256_hex(PAYLOAD);
    format!(
        r#"FROM busybox AS owner
COPY --chown=1234:5678 a.txt /o/a.txt

FROM busybox
COPY base/ /
ADD plain.tar gz.tar.gz bz.tar.bz2 xz.tar.xz zst.tar.zst fake.tar.gz /c19/
COPY gz.tar.gz /c24/
COPY . /c26/
COPY ../outside /c27/file
COPY sdir /c28/
COPY a.txt /link/
COPY a.txt /escape/{ESCAPED}
COPY --from=owner /o /c31/
COPY --from=busybox /bin/busybox /c32/busybox
COPY mt.txt /c33/
ADD --checksum=sha256:{sum} {url_base}/payload.txt /c34/
COPY w/nomatch*.zzz /c35/
"#
    )
}

/// Builds `file` of `ctx` as `name` and unpacks it with umoci; returns the rootfs.
fn build_and_unpack(strata: &Strata, ctx: &Path, file: &str, name: &str) -> PathBuf {
    strata.ok(&[
        "build",
        "-t",
        name,
        "-f",
        ctx.join(file).to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    let bundle = strata.scratch("bundles").join(name);
    let image = format!(
        "{}/oci:docker.io/library/{name}:latest",
        strata.root.display()
    );
    tool(
        "umoci",
        &["unpack", "--image", &image, bundle.to_str().unwrap()],
    );
    bundle.join("rootfs")
}

fn make_fixture() -> Fixture {
    let strata = Strata::new();
    strata.import_busybox("busybox");
    let url_base = serve();
    let ctx = make_context(&strata);
    write(&ctx.join("Dockerfile.a"), DOCKERFILE_A);
    write(&ctx.join("Dockerfile.b"), &dockerfile_b(&url_base));
    let a = build_and_unpack(&strata, &ctx, "Dockerfile.a", "copytable-a");
    let b = build_and_unpack(&strata, &ctx, "Dockerfile.b", "copytable-b");
    Fixture {
        a,
        b,
        ctx,
        strata,
        url_base,
        lock: Mutex::new(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Inspecting the rootfs.

fn lstat(r: &Path, rel: &str) -> fs::Metadata {
    let p = r.join(rel.trim_start_matches('/'));
    fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{rel}: {e} (expected it in the image)"))
}

/// A regular file with this content, permission bits and owner.
fn assert_file(r: &Path, rel: &str, content: &str, mode: u32, owner: (u32, u32)) {
    let md = lstat(r, rel);
    assert!(md.file_type().is_file(), "{rel} is not a regular file");
    let got = fs::read_to_string(r.join(rel.trim_start_matches('/'))).unwrap();
    assert_eq!(got, content, "{rel}: content");
    assert_eq!(
        md.mode() & 0o7777,
        mode,
        "{rel}: mode {:o}",
        md.mode() & 0o7777
    );
    assert_eq!((md.uid(), md.gid()), owner, "{rel}: owner");
}

fn assert_dir(r: &Path, rel: &str, mode: u32, owner: (u32, u32)) {
    let md = lstat(r, rel);
    assert!(md.file_type().is_dir(), "{rel} is not a directory");
    assert_eq!(
        md.mode() & 0o7777,
        mode,
        "{rel}: mode {:o}",
        md.mode() & 0o7777
    );
    assert_eq!((md.uid(), md.gid()), owner, "{rel}: owner");
}

fn assert_symlink(r: &Path, rel: &str, target: &str) {
    let md = lstat(r, rel);
    assert!(md.file_type().is_symlink(), "{rel} is not a symlink");
    let got = fs::read_link(r.join(rel.trim_start_matches('/'))).unwrap();
    assert_eq!(got, Path::new(target), "{rel}: symlink target");
}

fn assert_absent(r: &Path, rel: &str) {
    let p = r.join(rel.trim_start_matches('/'));
    assert!(
        fs::symlink_metadata(&p).is_err(),
        "{rel} must not be in the image"
    );
}

/// The names in a directory of the image, sorted.
fn names(r: &Path, rel: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(r.join(rel.trim_start_matches('/')))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

const ROOT: (u32, u32) = (0, 0);

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
    assert!(
        err.to_lowercase().contains("checksum") || err.contains("digest"),
        "not a checksum error: {err}"
    );
    assert_eq!(
        cache_entries(f),
        before,
        "a failed ADD recorded a cache entry"
    );
}

// Docker images may have up to 127 layers; strata's overlay mount passes every lower dir by
// its full path in one `lowerdir=` option, which the kernel caps at a page (~37 layers here).
#[test]
#[ignore = "strata bug: overlay mount fails (ENOENT) past ~37 layers: lowerdir= option over 4096 bytes (src/exec/rootfs.rs)"]
fn x01_many_layers() {
    let f = fixture();
    let _one = f.lock.lock().unwrap_or_else(|e| e.into_inner());
    let ctx = f.strata.scratch("many-layers");
    write(&ctx.join("a.txt"), "a");
    let mut df = String::from("FROM busybox\n");
    for i in 0..60 {
        df.push_str(&format!("COPY a.txt /l{i}\n"));
    }
    write(&ctx.join("Dockerfile"), &df);
    f.strata
        .ok(&["build", "-t", "many-layers", ctx.to_str().unwrap()]);
}
