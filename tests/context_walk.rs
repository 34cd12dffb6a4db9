//! Walks real temporary context directories and checks which entries the ignore rules keep,
//! how the ignore file is chosen, and that excluded directories are not read.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use strata::plan::context::{
    find_ignore_file, load_ignore_for, open_context, walk, Context, ContextError, ContextWalker,
    DirSource, Entry, EntryKind, LocalDir,
};
use strata::syntax::dockerignore::PatternMatcher;

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, body).unwrap();
}

fn tree(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in files {
        write(dir.path(), f, f);
    }
    dir
}

fn paths(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.path.to_str().unwrap().to_string())
        .collect()
}

fn walked(root: &Path, patterns: &[&str]) -> Vec<String> {
    let pm = PatternMatcher::new(patterns).unwrap();
    paths(&walk(&LocalDir::open(root).unwrap(), &pm).unwrap())
}

const FILES: &[&str] = &[
    "Dockerfile",
    "main.go",
    "README.md",
    "docs/README.md",
    "docs/guide.md",
    "docs/img/logo.png",
    "cmd/tool/main.go",
    "cmd/tool/notes.txt",
    "build/out.o",
    "sub/build/out.o",
    "util/docker/web/foo",
    "util/docker/web/bar",
    "util/docker/cli",
    "util/misc",
];

#[test]
fn no_patterns_lists_everything_in_walk_order() {
    let t = tree(FILES);
    assert_eq!(
        walked(t.path(), &[]),
        [
            "Dockerfile",
            "README.md",
            "build",
            "build/out.o",
            "cmd",
            "cmd/tool",
            "cmd/tool/main.go",
            "cmd/tool/notes.txt",
            "docs",
            "docs/README.md",
            "docs/guide.md",
            "docs/img",
            "docs/img/logo.png",
            "main.go",
            "sub",
            "sub/build",
            "sub/build/out.o",
            "util",
            "util/docker",
            "util/docker/cli",
            "util/docker/web",
            "util/docker/web/bar",
            "util/docker/web/foo",
            "util/misc",
        ]
    );
}

#[test]
fn plain_excludes() {
    let t = tree(FILES);
    assert_eq!(
        walked(t.path(), &["docs", "util", "cmd", "sub", "build", "*.md"]),
        ["Dockerfile", "main.go"]
    );
}

#[test]
fn exception_re_includes_inside_excluded_dirs() {
    let t = tree(FILES);
    assert_eq!(
        walked(
            t.path(),
            &[
                "docs",
                "!docs/README.md",
                "util",
                "cmd",
                "sub",
                "build",
                "*.go"
            ]
        ),
        ["Dockerfile", "README.md", "docs", "docs/README.md"]
    );
    // The re-included file's excluded parent is listed with its real metadata.
    let pm = PatternMatcher::new(["docs", "!docs/img/logo.png"]).unwrap();
    let entries = walk(&LocalDir::open(t.path()).unwrap(), &pm).unwrap();
    let img = entries
        .iter()
        .find(|e| e.path == Path::new("docs/img"))
        .unwrap();
    assert_eq!(img.kind, EntryKind::Dir);
    assert_eq!(
        img.ino,
        fs::metadata(t.path().join("docs/img")).unwrap().ino()
    );
    assert!(!paths(&entries).contains(&"docs/guide.md".to_string()));
}

#[test]
fn double_star() {
    let t = tree(FILES);
    assert_eq!(
        walked(t.path(), &["**", "!util/docker/web"]),
        [
            "util",
            "util/docker",
            "util/docker/web",
            "util/docker/web/bar",
            "util/docker/web/foo"
        ]
    );
    assert_eq!(
        walked(
            t.path(),
            &["**/*.go", "**/*.md", "**/build", "util", "docs/img"]
        ),
        [
            "Dockerfile",
            "cmd",
            "cmd/tool",
            "cmd/tool/notes.txt",
            "docs",
            "sub"
        ]
    );
}

#[test]
fn trailing_slash_patterns_also_match_files() {
    // Docker has no directory-only patterns: `x/` is cleaned to `x` and matches a file `x` too.
    let t = tree(&["build/out.o", "sub/build", "keep"]);
    assert_eq!(walked(t.path(), &["build/", "*/build/"]), ["keep", "sub"]);
    // A leading `/` is dropped by the file reader, not by the matcher.
    assert_eq!(
        walked(t.path(), &["/build/"]),
        ["build", "build/out.o", "keep", "sub", "sub/build"]
    );
    let parsed = strata::syntax::dockerignore::parse_ignore_file("/build/\n");
    assert_eq!(
        walked(
            t.path(),
            &parsed.iter().map(String::as_str).collect::<Vec<_>>()
        ),
        ["keep", "sub", "sub/build"]
    );
}

#[test]
fn dockerfile_specific_ignore_file_wins() {
    let t = tree(&["a", "b", "sub/app.Dockerfile", "Dockerfile"]);
    write(t.path(), ".dockerignore", "a\n");
    write(t.path(), "sub/app.Dockerfile.dockerignore", "b\nsub\n");
    let ctx = t.path();
    let specific = ctx.join("sub/app.Dockerfile");

    assert_eq!(
        find_ignore_file(ctx, Some(&specific)).unwrap(),
        Some(ctx.join("sub/app.Dockerfile.dockerignore"))
    );
    let entries = open_context(ctx, Some(&specific))
        .unwrap()
        .entries()
        .unwrap();
    assert_eq!(paths(&entries), [".dockerignore", "Dockerfile", "a"]);

    // Without a specific file, the context's .dockerignore applies.
    let plain = ctx.join("Dockerfile");
    assert_eq!(
        find_ignore_file(ctx, Some(&plain)).unwrap(),
        Some(ctx.join(".dockerignore"))
    );
    let entries = open_context(ctx, Some(&plain)).unwrap().entries().unwrap();
    assert_eq!(
        paths(&entries),
        [
            ".dockerignore",
            "Dockerfile",
            "b",
            "sub",
            "sub/app.Dockerfile",
            "sub/app.Dockerfile.dockerignore"
        ]
    );
    // Dockerfile from stdin: only the context's file.
    assert!(!load_ignore_for(ctx, None)
        .unwrap()
        .matches_or_parent_matches("b")
        .unwrap());

    // No ignore file at all: nothing excluded.
    let bare = tree(&["x"]);
    assert_eq!(find_ignore_file(bare.path(), None).unwrap(), None);
    assert!(load_ignore_for(bare.path(), None).unwrap().is_empty());
}

#[test]
fn dockerfile_and_ignore_file_can_be_excluded_but_stay_readable() {
    let t = tree(&["Dockerfile", "app.py"]);
    write(
        t.path(),
        ".dockerignore",
        "\u{feff}# comment\nDockerfile\n.dockerignore\n",
    );
    let entries = open_context(t.path(), Some(&t.path().join("Dockerfile")))
        .unwrap()
        .entries()
        .unwrap();
    assert_eq!(paths(&entries), ["app.py"]);
    assert_eq!(
        fs::read_to_string(t.path().join("Dockerfile")).unwrap(),
        "Dockerfile"
    );
}

#[test]
fn bad_ignore_file_names_the_file() {
    let t = tree(&["x"]);
    write(t.path(), ".dockerignore", "ok\n[\n");
    let err = load_ignore_for(t.path(), None).unwrap_err();
    match &err {
        ContextError::IgnorePatterns { path, .. } => {
            assert_eq!(path, &t.path().join(".dockerignore"))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("syntax error in pattern"), "{err}");
}

#[test]
fn symlinks_are_entries_never_followed() {
    let outside = tree(&["secret/a", "secret/b"]);
    let t = tree(&["real/file"]);
    symlink(outside.path().join("secret"), t.path().join("out")).unwrap();
    symlink("real", t.path().join("rel")).unwrap();
    symlink(".", t.path().join("real/loop")).unwrap();
    symlink("missing", t.path().join("dangling")).unwrap();
    let entries = walk(
        &LocalDir::open(t.path()).unwrap(),
        &PatternMatcher::default(),
    )
    .unwrap();
    assert_eq!(
        paths(&entries),
        ["dangling", "out", "real", "real/file", "real/loop", "rel"]
    );
    let kind = |p: &str| {
        entries
            .iter()
            .find(|e| e.path == Path::new(p))
            .unwrap()
            .kind
            .clone()
    };
    assert_eq!(
        kind("out"),
        EntryKind::Symlink {
            target: outside.path().join("secret")
        }
    );
    assert_eq!(
        kind("rel"),
        EntryKind::Symlink {
            target: "real".into()
        }
    );
    assert_eq!(
        kind("dangling"),
        EntryKind::Symlink {
            target: "missing".into()
        }
    );
}

/// Wraps a source and records every directory the walker asks to read.
struct Counting<S> {
    inner: S,
    reads: Mutex<Vec<PathBuf>>,
}

impl<S: DirSource> DirSource for Counting<S> {
    fn read_dir(&self, dir: &Path) -> Result<Vec<Entry>, ContextError> {
        self.reads.lock().unwrap().push(dir.to_path_buf());
        self.inner.read_dir(dir)
    }
}

#[test]
fn excluded_directory_is_not_read() {
    let t = tree(&["Dockerfile", "src/main.rs"]);
    for i in 0..50 {
        write(t.path(), &format!("node_modules/pkg{i}/index.js"), "x");
    }
    write(t.path(), "node_modules/keep/lib/a.js", "x");
    let source = Counting {
        inner: LocalDir::open(t.path()).unwrap(),
        reads: Mutex::new(Vec::new()),
    };
    let read_below = |s: &Counting<LocalDir>| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = s
            .reads
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.starts_with("node_modules"))
            .cloned()
            .collect();
        v.sort();
        v
    };

    // No exception can reach inside: node_modules is never opened.
    let entries = walk(&source, &PatternMatcher::new(["node_modules"]).unwrap()).unwrap();
    assert_eq!(paths(&entries), ["Dockerfile", "src", "src/main.rs"]);
    assert_eq!(read_below(&source), Vec::<PathBuf>::new());
    assert_eq!(source.reads.lock().unwrap().len(), 2); // the root and src

    // An exception for one package: only the directories on its way are opened.
    source.reads.lock().unwrap().clear();
    let pm = PatternMatcher::new(["node_modules", "!node_modules/keep/lib"]).unwrap();
    let entries = ContextWalker::new(&source, pm).entries().unwrap();
    assert_eq!(
        paths(&entries),
        [
            "Dockerfile",
            "node_modules",
            "node_modules/keep",
            "node_modules/keep/lib",
            "node_modules/keep/lib/a.js",
            "src",
            "src/main.rs"
        ]
    );
    assert_eq!(
        read_below(&source),
        [
            PathBuf::from("node_modules"),
            PathBuf::from("node_modules/keep"),
            PathBuf::from("node_modules/keep/lib")
        ]
    );
}

#[test]
fn entry_metadata_comes_from_lstat() {
    let t = tree(&["bin/tool"]);
    let file = t.path().join("bin/tool");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o750)).unwrap();
    nix::unistd::chown(
        &file,
        Some(nix::unistd::Uid::from_raw(1234)),
        Some(nix::unistd::Gid::from_raw(5678)),
    )
    .unwrap();
    fs::hard_link(&file, t.path().join("bin/tool2")).unwrap();
    nix::unistd::mkfifo(
        &t.path().join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();

    let entries = walk(
        &LocalDir::open(t.path()).unwrap(),
        &PatternMatcher::default(),
    )
    .unwrap();
    let tool = entries
        .iter()
        .find(|e| e.path == Path::new("bin/tool"))
        .unwrap();
    let meta = fs::symlink_metadata(&file).unwrap();
    assert_eq!(tool.kind, EntryKind::File);
    assert_eq!(tool.mode, meta.mode());
    assert_eq!(tool.mode & 0o7777, 0o750);
    assert_eq!((tool.uid, tool.gid), (1234, 5678));
    assert_eq!(tool.size, "bin/tool".len() as u64);
    assert_eq!(
        (tool.ino, tool.dev, tool.nlink),
        (meta.ino(), meta.dev(), 2)
    );
    assert_eq!(
        tool.mtime_ns,
        meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
    );
    assert_eq!(
        tool.ctime_ns,
        meta.ctime() * 1_000_000_000 + meta.ctime_nsec()
    );
    let fifo = entries
        .iter()
        .find(|e| e.path == Path::new("fifo"))
        .unwrap();
    assert_eq!(fifo.kind, EntryKind::Other);
    assert_eq!(fifo.mode & libc::S_IFMT, libc::S_IFIFO);
}

#[test]
fn bad_context_paths_are_named() {
    let t = tree(&["file"]);
    let file = t.path().join("file");
    match LocalDir::open(&file) {
        Err(ContextError::NotADirectory { path }) => assert_eq!(path, file),
        other => panic!("unexpected {other:?}"),
    }
    let missing = t.path().join("missing");
    let err = LocalDir::open(&missing).unwrap_err();
    assert!(matches!(&err, ContextError::Open { path, .. } if *path == missing));
    assert!(err.to_string().contains(missing.to_str().unwrap()), "{err}");

    // A directory that vanishes between listing and reading is reported with its path.
    let source = LocalDir::open(t.path()).unwrap();
    let err = source.read_dir(Path::new("gone")).unwrap_err();
    assert!(
        matches!(&err, ContextError::ReadDir { path, .. } if *path == t.path().join("gone")),
        "{err:?}"
    );
}

#[test]
fn non_utf8_names_are_walked_and_matched_as_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let t = tree(&["keep"]);
    let latin1 = OsStr::from_bytes(b"caf\xe9");
    fs::write(t.path().join(latin1), "x").unwrap();
    fs::write(t.path().join(OsStr::from_bytes(b"caf\xe9s")), "x").unwrap();
    let pm = PatternMatcher::new(["caf?"]).unwrap();
    let entries = walk(&LocalDir::open(t.path()).unwrap(), &pm).unwrap();
    let names: Vec<&[u8]> = entries
        .iter()
        .map(|e| e.path.as_os_str().as_bytes())
        .collect();
    assert_eq!(names, [b"caf\xe9s".as_slice(), b"keep".as_slice()]);
}
