//! The shared fixture of tests/build_copy.rs: the context (files, trees, symlinks, archives made
//! with the tar/gzip/bzip2/xz/zstd CLIs), the Dockerfiles of images A, B and C, a loopback HTTP
//! server for ADD <url>, building and umoci-unpacking each image once, and rootfs assertions.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::common::{tool, Strata};
use sha2::{Digest as _, Sha256};

/// The mtime given to `mt.txt` in the context.
pub const CONTEXT_MTIME: i64 = 1_000_000_000;
/// What the loopback server sends as `Last-Modified` for `/payload.txt` (784111777 s).
pub const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
pub const LAST_MODIFIED_SECS: i64 = 784_111_777;
pub const PAYLOAD: &[u8] = b"payload from the loopback server\n";
/// A name that must appear only inside the rootfs (the `/escape` case).
pub const ESCAPED: &str = "strata-copytable-escaped.txt";

/// The built and unpacked image, or the story of why it could not be made.
pub struct Fixture {
    pub strata: Strata,
    pub ctx: PathBuf,
    /// The unpacked rootfs of images A, B and C.
    pub a: PathBuf,
    pub b: PathBuf,
    pub c: PathBuf,
    pub url_base: String,
    /// One strata run at a time against the store (the error cases count cache entries).
    pub lock: Mutex<()>,
}

pub fn fixture() -> &'static Fixture {
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

pub fn image_a() -> &'static Path {
    &fixture().a
}

pub fn image_b() -> &'static Path {
    &fixture().b
}

pub fn image_c() -> &'static Path {
    &fixture().c
}

// ---------------------------------------------------------------------------------------------
// The loopback HTTP server (ADD <url>).

pub fn serve() -> String {
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

pub fn answer(conn: TcpStream) {
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The context and the Dockerfile.

pub fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// `name` in `ctx`: a tar made by the tar CLI of `inner-<format>/` (hello.txt 0640, sub/),
/// members owned 1001:1002, then compressed by `compress` (a CLI that writes FILE.<suffix>).
pub fn archive(ctx: &Path, scratch: &Path, name: &str, compress: Option<&str>) {
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
pub fn make_context(strata: &Strata) -> PathBuf {
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
pub const DOCKERFILE_A: &str = r#"FROM busybox
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
COPY <<one.sh <<two.txt /c36/
echo one
one.sh
second
two.txt
"#;

/// Image C: on scratch, nothing but what COPY makes.
pub const DOCKERFILE_C: &str = "FROM scratch
COPY a.txt /c37/deep/
COPY --chown=42:43 d /c38/
";

/// Image B: ADD, the context's edges, symlinks, --from, mtimes.
pub fn dockerfile_b(url_base: &str) -> String {
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
ADD {url_base}/payload.txt /c39/named
COPY w/nomatch*.zzz /c35/
"#
    )
}

/// Builds `file` of `ctx` as `name` and unpacks it with umoci; returns the rootfs.
pub fn build_and_unpack(strata: &Strata, ctx: &Path, file: &str, name: &str) -> PathBuf {
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

pub fn make_fixture() -> Fixture {
    let strata = Strata::new();
    strata.import_busybox("busybox");
    let url_base = serve();
    let ctx = make_context(&strata);
    write(&ctx.join("Dockerfile.a"), DOCKERFILE_A);
    write(&ctx.join("Dockerfile.b"), &dockerfile_b(&url_base));
    let a = build_and_unpack(&strata, &ctx, "Dockerfile.a", "copytable-a");
    let b = build_and_unpack(&strata, &ctx, "Dockerfile.b", "copytable-b");
    write(&ctx.join("Dockerfile.c"), DOCKERFILE_C);
    let c = build_and_unpack(&strata, &ctx, "Dockerfile.c", "copytable-c");
    Fixture {
        a,
        b,
        c,
        ctx,
        strata,
        url_base,
        lock: Mutex::new(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Inspecting the rootfs.

pub fn lstat(r: &Path, rel: &str) -> fs::Metadata {
    let p = r.join(rel.trim_start_matches('/'));
    fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{rel}: {e} (expected it in the image)"))
}

/// A regular file with this content, permission bits and owner.
pub fn assert_file(r: &Path, rel: &str, content: &str, mode: u32, owner: (u32, u32)) {
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

pub fn assert_dir(r: &Path, rel: &str, mode: u32, owner: (u32, u32)) {
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

pub fn assert_symlink(r: &Path, rel: &str, target: &str) {
    let md = lstat(r, rel);
    assert!(md.file_type().is_symlink(), "{rel} is not a symlink");
    let got = fs::read_link(r.join(rel.trim_start_matches('/'))).unwrap();
    assert_eq!(got, Path::new(target), "{rel}: symlink target");
}

pub fn assert_absent(r: &Path, rel: &str) {
    let p = r.join(rel.trim_start_matches('/'));
    assert!(
        fs::symlink_metadata(&p).is_err(),
        "{rel} must not be in the image"
    );
}

/// The names in a directory of the image, sorted.
pub fn names(r: &Path, rel: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(r.join(rel.trim_start_matches('/')))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub const ROOT: (u32, u32) = (0, 0);
