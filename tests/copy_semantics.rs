//! COPY/ADD semantics as a table: each row is a small source tree, an optional pre-existing
//! destination rootfs, a request, and the expected destination listing (paths, types, modes,
//! owners, symlink targets, contents) or error. Every row runs next to an "outside" directory
//! that must stay untouched, and the reported change list must match what appeared on disk.
//! We run as root (as CI does), so owners are real.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

use strata::exec::copy::{apply_copy, read_id_files, Fetch, Fetched};
use strata::plan::copy::{plan_copy, CopyError, CopyRequest, FsTree, NoExcludes, PlanContext};
use strata::syntax::dockerignore::PatternMatcher;

/// The mtime every source entry gets, so preservation is checkable.
const FIXED_MTIME: i64 = 1_000_000_000;

const ARCHIVES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/copy/archives");

enum Want {
    /// The whole destination rootfs afterwards, as `listing` prints it.
    Tree(&'static [&'static str]),
    /// A substring of the error.
    Err(&'static str),
}

struct Row {
    name: &'static str,
    src: &'static [&'static str],
    dest: &'static [&'static str],
    req: fn(&mut CopyRequest),
    want: Want,
}

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// Tree spec lines:
/// `d PATH MODE UID:GID`, `f PATH MODE UID:GID CONTENT…`, `l PATH -> TARGET`, `h PATH -> OTHER`,
/// `a PATH FIXTURE` (a file from testdata/copy/archives, 0644 0:0), `p PATH` (a fifo).
fn build(root: &Path, spec: &[&str]) {
    std::fs::create_dir_all(root).unwrap();
    for line in spec {
        let t: Vec<&str> = line.split(' ').collect();
        let p = root.join(t[1]);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let owner = |s: &str| {
            let (u, g) = s.split_once(':').unwrap();
            (u.parse::<u32>().unwrap(), g.parse::<u32>().unwrap())
        };
        let mode = |s: &str| u32::from_str_radix(s, 8).unwrap();
        match t[0] {
            "d" => {
                std::fs::create_dir_all(&p).unwrap();
                chown_chmod(&p, owner(t[3]), mode(t[2]));
            }
            "f" => {
                std::fs::write(&p, t[4..].join(" ")).unwrap();
                chown_chmod(&p, owner(t[3]), mode(t[2]));
            }
            "a" => {
                std::fs::copy(Path::new(ARCHIVES).join(t[2]), &p).unwrap();
                chown_chmod(&p, (0, 0), 0o644);
            }
            "l" => symlink(t[3], &p).unwrap(),
            "h" => std::fs::hard_link(root.join(t[3]), &p).unwrap(),
            "p" => {
                nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap()
            }
            other => panic!("bad spec kind {other}"),
        }
    }
    // Fixed mtimes, deepest first so directories keep theirs.
    let mut all: Vec<_> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .collect();
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in all {
        set_mtime(&p, FIXED_MTIME);
    }
}

fn chown_chmod(p: &Path, (u, g): (u32, u32), mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::lchown(p, Some(u), Some(g)).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn set_mtime(p: &Path, secs: i64) {
    let ts = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        p,
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// Every entry below `root`, sorted: `d PATH MODE UID:GID`, `f PATH MODE UID:GID CONTENT`,
/// `l PATH UID:GID -> TARGET`, `h PATH => FIRST` for a second name of an inode already listed.
fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut inodes = BTreeMap::new();
    for e in walkdir::WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
    {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        let md = std::fs::symlink_metadata(e.path()).unwrap();
        let own = format!("{}:{}", md.uid(), md.gid());
        let mode = md.mode() & 0o7777;
        let ft = md.file_type();
        if ft.is_dir() {
            out.push(format!("d {rel} {mode:04o} {own}"));
        } else if ft.is_symlink() {
            let t = std::fs::read_link(e.path()).unwrap();
            out.push(format!("l {rel} {own} -> {}", t.display()));
        } else if let Some(first) = inodes.get(&md.ino()) {
            out.push(format!("h {rel} => {first}"));
        } else {
            inodes.insert(md.ino(), rel.clone());
            let content = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            out.push(
                format!("f {rel} {mode:04o} {own} {content}")
                    .trim_end()
                    .to_string(),
            );
        }
    }
    out
}

struct FakeFetch;

impl Fetch for FakeFetch {
    fn fetch(&self, url: &str) -> Result<Fetched, CopyError> {
        match url {
            "https://example.com/files/tool.bin" => Ok(Fetched {
                body: b"binary\n".to_vec(),
                last_modified: Some("Sun, 06 Nov 1994 08:49:37 GMT".into()),
            }),
            "https://example.com/dl/hello.tar.gz" => Ok(Fetched {
                body: std::fs::read(Path::new(ARCHIVES).join("hello.tar.gz")).unwrap(),
                last_modified: None,
            }),
            _ => Err(CopyError::Fetch {
                url: url.into(),
                message: "404".into(),
            }),
        }
    }
}

/// Runs one request in a fresh sandbox directory; returns the rootfs listing or the error text.
fn run(row: &Row) -> Result<Vec<String>, String> {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let rootfs = t.path().join("rootfs");
    let outside = t.path().join("outside");
    build(&src, row.src);
    build(&rootfs, row.dest);
    build(
        &outside,
        &["f secret 0600 0:0 TOP SECRET", "f a.txt 0644 0:0 OUTSIDE"],
    );
    let before_outside = listing(&outside);
    let before = listing(&rootfs);

    let mut req = CopyRequest {
        workdir: "/".into(),
        ..Default::default()
    };
    (row.req)(&mut req);
    let tree = FsTree::new(&src);
    let result = (|| {
        let (passwd, groups) = read_id_files(&rootfs)?;
        let exclude = PatternMatcher::new(&req.excludes).expect("valid --exclude patterns");
        let ctx = PlanContext {
            passwd: &passwd,
            groups: &groups,
            exclude: &exclude,
        };
        let items = plan_copy(&tree, &req, &ctx)?;
        apply_copy(&tree, &rootfs, &items, Some(&FakeFetch))
    })();

    // Nothing outside the two roots is ever touched, whatever happened.
    assert_eq!(
        listing(&outside),
        before_outside,
        "{}: outside changed",
        row.name
    );
    let top: BTreeSet<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        top,
        BTreeSet::from(["outside".into(), "rootfs".into(), "src".into()])
    );

    let changed = result.map_err(|e| e.to_string())?;
    let after = listing(&rootfs);
    // The change list names exactly the entries that are new or different.
    let path_of = |l: &String| l.split(' ').nth(1).unwrap().to_string();
    let before_set: BTreeSet<&String> = before.iter().collect();
    let reported: BTreeSet<String> = changed.iter().map(|c| c.path.clone()).collect();
    for l in &after {
        if !before_set.contains(l) {
            assert!(
                reported.contains(&path_of(l)),
                "{}: {l} not reported",
                row.name
            );
        }
    }
    let after_paths: BTreeSet<String> = after.iter().map(path_of).collect();
    for p in &reported {
        assert!(
            after_paths.contains(p),
            "{}: reported {p} missing",
            row.name
        );
    }
    Ok(after)
}

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    vec![
        // "If the source is a file, and the destination doesn't end with a trailing slash, the
        // source file will be written to the destination path as a file."
        Row { name: "file_to_file", src: &["f a.txt 0644 1000:1000 hello"], dest: &[],
            req: |r| { r.sources = v(&["a.txt"]); r.dest = "/b.txt".into(); },
            want: Want::Tree(&["f b.txt 0644 0:0 hello"]) },
        // "Trailing slashes are significant. `COPY test.txt /abs` creates a file at `/abs`,
        // whereas `COPY test.txt /abs/` creates `/abs/test.txt`." + "If destination doesn't
        // exist, it's created, along with all missing directories in its path."
        Row { name: "file_into_slash_dest", src: &["f a.txt 0640 0:0 hello"], dest: &[],
            req: |r| { r.sources = v(&["a.txt"]); r.dest = "/abs/deep/".into(); },
            want: Want::Tree(&["d abs 0755 0:0", "d abs/deep 0755 0:0", "f abs/deep/a.txt 0640 0:0 hello"]) },
        // fsutil prepareTargetDir: a file onto an existing directory goes inside it; the
        // directory's own metadata is untouched.
        Row { name: "file_into_existing_dir", src: &["f a.txt 0644 0:0 hi"], dest: &["d app 0700 5:5"],
            req: |r| { r.sources = v(&["a.txt"]); r.dest = "/app".into(); },
            want: Want::Tree(&["d app 0700 5:5", "f app/a.txt 0644 0:0 hi"]) },
        // "If the destination path doesn't begin with a leading slash, it's interpreted as
        // relative to the working directory of the build container."
        Row { name: "relative_dest_uses_workdir", src: &["f test.txt 0644 0:0 t"], dest: &["d usr 0755 0:0"],
            req: |r| { r.workdir = "/usr/src/app".into(); r.sources = v(&["test.txt"]); r.dest = "rel/".into(); },
            want: Want::Tree(&["d usr 0755 0:0", "d usr/src 0755 0:0", "d usr/src/app 0755 0:0",
                "d usr/src/app/rel 0755 0:0", "f usr/src/app/rel/test.txt 0644 0:0 t"]) },
        // `COPY x .` puts x in WORKDIR (a dest of "." names a directory).
        Row { name: "dot_dest_is_workdir", src: &["f x 0644 0:0 x"], dest: &["d w 0755 0:0"],
            req: |r| { r.workdir = "/w".into(); r.sources = v(&["x"]); r.dest = ".".into(); },
            want: Want::Tree(&["d w 0755 0:0", "f w/x 0644 0:0 x"]) },
        // "If the source is a directory, the contents of the directory are copied, including
        // filesystem metadata. The directory itself isn't copied, only its contents."
        Row { name: "dir_copies_contents", src: &["d dir 0700 0:0", "f dir/a 0600 0:0 A", "d dir/sub 0750 0:0", "f dir/sub/b 0755 0:0 B"], dest: &[],
            req: |r| { r.sources = v(&["dir"]); r.dest = "/out".into(); },
            want: Want::Tree(&["d out 0755 0:0", "f out/a 0600 0:0 A", "d out/sub 0750 0:0", "f out/sub/b 0755 0:0 B"]) },
        // "If it contains subdirectories, these are also copied, and merged with any existing
        // directories at the destination. Any conflicts are resolved in favor of the content
        // being added, on a file-by-file basis."
        Row { name: "dir_merges_and_overwrites", src: &["d dir 0755 0:0", "f dir/new 0644 0:0 new", "f dir/same 0644 0:0 mine"],
            dest: &["d out 0711 3:3", "f out/old 0644 0:0 old", "f out/same 0600 9:9 theirs"],
            req: |r| { r.sources = v(&["dir/"]); r.dest = "/out/".into(); },
            want: Want::Tree(&["d out 0711 3:3", "f out/new 0644 0:0 new", "f out/old 0644 0:0 old", "f out/same 0644 0:0 mine"]) },
        // "Sets ownership of copied files. Without this flag, files are created with UID and GID
        // of 0." (the build context's owners are not kept)
        Row { name: "context_owners_reset", src: &["d d 0755 1000:1000", "f d/f 0644 1000:1000 x"], dest: &[],
            req: |r| { r.sources = v(&["d"]); r.dest = "/o/".into(); },
            want: Want::Tree(&["d o 0755 0:0", "f o/f 0644 0:0 x"]) },
        // moby/moby#38599 "builder: fix `COPY --from` should preserve ownership"; the created
        // target directory stays root's (BuildKit MkdirAll without --chown).
        Row { name: "from_stage_keeps_owners", src: &["d d 0755 1000:1000", "f d/f 0644 1000:1001 x", "d d/s 0700 7:7"], dest: &[],
            req: |r| { r.from_stage = true; r.sources = v(&["/d"]); r.dest = "/o".into(); },
            want: Want::Tree(&["d o 0755 0:0", "f o/f 0644 1000:1001 x", "d o/s 0700 7:7"]) },
        // "If you specify only a user, the GID is set to the same numeric value as the UID."
        Row { name: "chown_numeric_user_only", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.chown = Some("10".into()); r.sources = v(&["a"]); r.dest = "/a".into(); },
            want: Want::Tree(&["f a 0644 10:10 a"]) },
        // "When using names instead of numeric IDs, BuildKit resolves them using /etc/passwd and
        // /etc/group in the container's root filesystem." Names come from the *destination*.
        Row { name: "chown_names_from_dest_rootfs", src: &["f a 0644 0:0 a"],
            dest: &["f etc/passwd 0644 0:0 root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh", "f etc/group 0644 0:0 root:x:0:\nstaff:x:50:"],
            req: |r| { r.chown = Some("app:staff".into()); r.sources = v(&["a"]); r.dest = "/a".into(); },
            want: Want::Tree(&["f a 0644 1001:50 a", "d etc 0755 0:0",
                "f etc/group 0644 0:0 root:x:0:\nstaff:x:50:", "f etc/passwd 0644 0:0 root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh"]) },
        // "If these files are missing or don't contain the specified names, the build fails."
        Row { name: "chown_unknown_name_fails", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.chown = Some("nobody2".into()); r.sources = v(&["a"]); r.dest = "/a".into(); },
            want: Want::Err("unable to find user nobody2") },
        // moby/buildkit#1941: "If the destination directory does not exist and you set the user
        // with COPY --chown then it should work and apply to the newly created destination
        // directory as well" (fsutil MkdirAll chowns every directory it creates).
        Row { name: "chown_applies_to_created_parents", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.chown = Some("7:8".into()); r.sources = v(&["a"]); r.dest = "/new/deep/".into(); },
            want: Want::Tree(&["d new 0755 7:8", "d new/deep 0755 7:8", "f new/deep/a 0644 7:8 a"]) },
        // moby/buildkit#790 "COPY --chown changes ownership of pre-existing directory" was a bug:
        // only copied files change owner.
        Row { name: "chown_leaves_existing_dir", src: &["d dir 0755 0:0", "f dir/f 0644 0:0 f", "d dir/s 0755 0:0"], dest: &["d app 0755 0:0"],
            req: |r| { r.chown = Some("7".into()); r.sources = v(&["dir"]); r.dest = "/app".into(); },
            want: Want::Tree(&["d app 0755 0:0", "f app/f 0644 7:7 f", "d app/s 0755 7:7"]) },
        // "The --chmod flag supports octal notation (e.g., 755, 644)" — applied to every copied
        // file and directory (moby/moby#34819: "--chmod=644 would make all directories
        // non-executable"), not to the created target directory.
        Row { name: "chmod_octal_files_and_dirs", src: &["d dir 0755 0:0", "f dir/f 0755 0:0 f", "d dir/s 0700 0:0"], dest: &[],
            req: |r| { r.chmod = Some("640".into()); r.sources = v(&["dir"]); r.dest = "/o".into(); },
            want: Want::Tree(&["d o 0755 0:0", "f o/f 0640 0:0 f", "d o/s 0640 0:0"]) },
        // "`u=rwX,go=rX` sets directories to 755 and files to 644, while preserving the
        // executable bit on files that already have it."
        Row { name: "chmod_symbolic_capital_x", src: &["d dir 0700 0:0", "f dir/plain 0600 0:0 p", "f dir/tool 0700 0:0 t", "d dir/s 0700 0:0"], dest: &[],
            req: |r| { r.chmod = Some("u=rwX,go=rX".into()); r.sources = v(&["dir"]); r.dest = "/o/".into(); },
            want: Want::Tree(&["d o 0755 0:0", "f o/plain 0644 0:0 p", "d o/s 0755 0:0", "f o/tool 0755 0:0 t"]) },
        // "COPY --chmod=+x script.sh /app/"
        Row { name: "chmod_plus_x", src: &["f script.sh 0644 0:0 #!/bin/sh"], dest: &[],
            req: |r| { r.chmod = Some("+x".into()); r.sources = v(&["script.sh"]); r.dest = "/app/".into(); },
            want: Want::Tree(&["d app 0755 0:0", "f app/script.sh 0755 0:0 #!/bin/sh"]) },
        Row { name: "chmod_invalid", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.chmod = Some("u+q".into()); r.sources = v(&["a"]); r.dest = "/a".into(); },
            want: Want::Err("invalid --chmod value \"u+q\"") },
        // "to add all files and directories in the root of the build context ending with .png:
        // COPY *.png /dest/"
        Row { name: "wildcard_star", src: &["f a.png 0644 0:0 a", "f b.png 0644 0:0 b", "f c.jpg 0644 0:0 c"], dest: &[],
            req: |r| { r.sources = v(&["*.png"]); r.dest = "/dest/".into(); },
            want: Want::Tree(&["d dest 0755 0:0", "f dest/a.png 0644 0:0 a", "f dest/b.png 0644 0:0 b"]) },
        // "`?` is a single-character wildcard, matching e.g. index.js and index.ts"
        Row { name: "wildcard_question_and_class", src: &["f index.js 0644 0:0 j", "f index.ts 0644 0:0 t", "f index.tsx 0644 0:0 x", "f index.cs 0644 0:0 c"], dest: &[],
            req: |r| { r.sources = v(&["index.?s", "index.[c]s"]); r.dest = "/d/".into(); },
            want: Want::Tree(&["d d 0755 0:0", "f d/index.cs 0644 0:0 c", "f d/index.js 0644 0:0 j", "f d/index.ts 0644 0:0 t"]) },
        // "to add a file named arr[0].txt, use … COPY arr[[]0].txt /dest/"
        Row { name: "wildcard_escaped_bracket", src: &["f arr[0].txt 0644 0:0 z"], dest: &[],
            req: |r| { r.sources = v(&["arr[[]0].txt"]); r.dest = "/dest/".into(); },
            want: Want::Tree(&["d dest 0755 0:0", "f dest/arr[0].txt 0644 0:0 z"]) },
        // A wildcard in a middle component matches per component.
        Row { name: "wildcard_per_component", src: &["f p1/package.json 0644 0:0 1", "f p2/package.json 0644 0:0 2", "f p2/x/package.json 0644 0:0 deep"], dest: &[],
            req: |r| { r.sources = v(&["*/package.json"]); r.dest = "/d/".into(); },
            want: Want::Tree(&["d d 0755 0:0", "f d/package.json 0644 0:0 2"]) },
        // "If you specify multiple source files, either directly or using a wildcard, then the
        // destination must be a directory (must end with a slash /)."
        Row { name: "multiple_sources_need_slash", src: &["f a 0644 0:0 a", "f b 0644 0:0 b"], dest: &[],
            req: |r| { r.sources = v(&["a", "b"]); r.dest = "/d".into(); },
            want: Want::Err("When using COPY with more than one source file, the destination must be a directory and end with a /") },
        Row { name: "wildcard_many_need_slash", src: &["f a.jar 0644 0:0 a", "f b.jar 0644 0:0 b"], dest: &[],
            req: |r| { r.is_add = true; r.sources = v(&["*.jar"]); r.dest = "/app.jar".into(); },
            want: Want::Err("When using ADD with more than one source file") },
        // …but one match into a file name is fine (`COPY target/*.jar app.jar`).
        Row { name: "wildcard_single_match_to_file", src: &["f target/app-1.jar 0644 0:0 jar"], dest: &[],
            req: |r| { r.sources = v(&["target/*.jar"]); r.dest = "/app.jar".into(); },
            want: Want::Tree(&["f app.jar 0644 0:0 jar"]) },
        // A literal source that does not exist fails, naming it (BuildKit: `"/missing.txt": not found`).
        Row { name: "missing_literal_source", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.sources = v(&["missing.txt"]); r.dest = "/d/".into(); },
            want: Want::Err("\"/missing.txt\": not found") },
        // moby/moby#26332 (thaJeztah): with BuildKit, `COPY requirements.* .` succeeds when
        // nothing matches — a wildcard may match nothing.
        Row { name: "empty_wildcard_is_allowed", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.sources = v(&["requirements.*", "a"]); r.dest = "/d/".into(); },
            want: Want::Tree(&["d d 0755 0:0", "f d/a 0644 0:0 a"]) },
        // …but the directory before the wildcard must exist.
        Row { name: "wildcard_base_dir_missing", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.sources = v(&["fixtures/*.sh"]); r.dest = "/d/".into(); },
            want: Want::Err("\"/fixtures/*.sh\": not found") },
        // "Specifying a source path with a leading slash or one that navigates outside the build
        // context, such as COPY ../something /something, automatically removes any parent
        // directory navigation (../)." The outside a.txt ("OUTSIDE") is never read.
        Row { name: "dotdot_source_is_clamped", src: &["f a.txt 0644 0:0 inside"], dest: &[],
            req: |r| { r.sources = v(&["../a.txt", "/a.txt"]); r.dest = "/d/".into(); },
            want: Want::Tree(&["d d 0755 0:0", "f d/a.txt 0644 0:0 inside"]) },
        // A source symlink pointing out of the context resolves inside it (as if the context
        // were /): ../../outside/secret becomes /outside/secret, which does not exist here.
        Row { name: "source_symlink_cannot_escape", src: &["l esc -> ../../outside/secret"], dest: &[],
            req: |r| { r.sources = v(&["esc"]); r.dest = "/d".into(); },
            want: Want::Err("\"/esc\": not found") },
        // BuildKit copies with FollowSymlinks for the named source: a symlink source is copied
        // as the file it points to, under the source's name.
        Row { name: "top_level_symlink_followed", src: &["f real.txt 0600 0:0 data", "l link -> real.txt"], dest: &[],
            req: |r| { r.sources = v(&["link"]); r.dest = "/d/".into(); },
            want: Want::Tree(&["d d 0755 0:0", "f d/link 0600 0:0 data"]) },
        // Symlinks inside a copied directory are copied as symlinks (cp -a semantics).
        Row { name: "inner_symlinks_kept", src: &["d dir 0755 0:0", "f dir/a 0644 0:0 a", "l dir/l -> ../../../etc/shadow", "l dir/r -> a"], dest: &[],
            req: |r| { r.sources = v(&["dir"]); r.dest = "/o/".into(); },
            want: Want::Tree(&["d o 0755 0:0", "f o/a 0644 0:0 a", "l o/l 0:0 -> ../../../etc/shadow", "l o/r 0:0 -> a"]) },
        // Hard links within the copied set stay hard links (fsutil's inode map).
        Row { name: "hardlinks_preserved", src: &["d dir 0755 0:0", "f dir/a 0644 0:0 same", "h dir/b -> dir/a"], dest: &[],
            req: |r| { r.sources = v(&["dir"]); r.dest = "/o/".into(); },
            want: Want::Tree(&["d o 0755 0:0", "f o/a 0644 0:0 same", "h o/b => o/a"]) },
        // fsutil's copier leaves fifos and sockets out of a copied directory.
        Row { name: "fifo_skipped", src: &["f dir/a 0644 0:0 a", "p dir/pipe"], dest: &[],
            req: |r| { r.sources = v(&["dir"]); r.dest = "/o/".into(); },
            want: Want::Tree(&["d o 0755 0:0", "f o/a 0644 0:0 a"]) },
        // The destination follows symlinks inside the rootfs ("if in previous state the
        // destination directory was a path that contained a symlink", COPY follows it).
        Row { name: "dest_through_symlink", src: &["f a 0644 0:0 a"], dest: &["l app -> /srv/app", "d srv/app 0755 0:0"],
            req: |r| { r.sources = v(&["a"]); r.dest = "/app/".into(); },
            want: Want::Tree(&["l app 0:0 -> /srv/app", "d srv 0755 0:0", "d srv/app 0755 0:0", "f srv/app/a 0644 0:0 a"]) },
        // A destination symlink that climbs out of the rootfs is resolved as in a chroot: the
        // file lands in the rootfs's /outside, never in the real one next to it.
        Row { name: "dest_symlink_escape_contained", src: &["f a 0644 0:0 a"], dest: &["l app -> ../../../../outside"],
            req: |r| { r.sources = v(&["a"]); r.dest = "/app/".into(); },
            want: Want::Tree(&["l app 0:0 -> ../../../../outside", "d outside 0755 0:0", "f outside/a 0644 0:0 a"]) },
        // A file dest that is a symlink is written through it (fsutil resolves the whole dest).
        Row { name: "dest_file_symlink_followed", src: &["f a 0644 0:0 new"], dest: &["l conf -> /etc/app.conf", "f etc/app.conf 0600 0:0 old"],
            req: |r| { r.sources = v(&["a"]); r.dest = "/conf".into(); },
            want: Want::Tree(&["l conf 0:0 -> /etc/app.conf", "d etc 0755 0:0", "f etc/app.conf 0644 0:0 new"]) },
        // "If the source is a file and a directory with the same name exists at the
        // destination, an error is raised."
        Row { name: "file_over_directory_fails", src: &["d dir 0755 0:0", "f dir/x 0644 0:0 x"], dest: &["d o/x 0755 0:0"],
            req: |r| { r.sources = v(&["dir"]); r.dest = "/o".into(); },
            want: Want::Err("cannot replace to directory /o/x with file") },
        // "…except if you're trying to copy a directory onto an existing file, in which case an
        // error is raised."
        Row { name: "directory_over_file_fails", src: &["d dir/x 0755 0:0", "f dir/x/y 0644 0:0 y"], dest: &["f o/x 0644 0:0 file"],
            req: |r| { r.sources = v(&["dir"]); r.dest = "/o".into(); },
            want: Want::Err("cannot copy to non-directory: /o/x") },
        // "COPY --parents ./x/a.txt ./y/a.txt /parents/ → /parents/x/a.txt /parents/y/a.txt";
        // the kept directories carry the source's metadata.
        Row { name: "parents_keeps_dirs", src: &["d x 0750 0:0", "f x/a.txt 0644 0:0 xa", "d y 0755 0:0", "f y/a.txt 0644 0:0 ya"], dest: &[],
            req: |r| { r.parents = true; r.sources = v(&["./x/a.txt", "./y/a.txt"]); r.dest = "/parents/".into(); },
            want: Want::Tree(&["d parents 0755 0:0", "d parents/x 0750 0:0", "f parents/x/a.txt 0644 0:0 xa", "d parents/y 0755 0:0", "f parents/y/a.txt 0644 0:0 ya"]) },
        // "If such point exists, only parent directories after it will be preserved.
        // COPY --parents ./x/./y/*.txt /parents/ → /parents/y/a.txt /parents/y/b.txt"
        Row { name: "parents_pivot", src: &["f x/y/a.txt 0644 0:0 a", "f x/y/b.txt 0644 0:0 b", "f x/y/c.md 0644 0:0 c"], dest: &[],
            req: |r| { r.parents = true; r.sources = v(&["./x/./y/*.txt"]); r.dest = "/parents/".into(); },
            want: Want::Tree(&["d parents 0755 0:0", "d parents/y 0755 0:0", "f parents/y/a.txt 0644 0:0 a", "f parents/y/b.txt 0644 0:0 b"]) },
        // "The ** wildcard matches any number of path components, including none"
        Row { name: "parents_globstar", src: &["f package.json 0644 0:0 root", "f apps/web/package.json 0644 0:0 web", "f apps/web/src.js 0644 0:0 js"], dest: &[],
            req: |r| { r.parents = true; r.sources = v(&["**/package.json"]); r.dest = "/app/".into(); },
            want: Want::Tree(&["d app 0755 0:0", "d app/apps 0755 0:0", "d app/apps/web 0755 0:0", "f app/apps/web/package.json 0644 0:0 web", "f app/package.json 0644 0:0 root"]) },
        // A directory match with --parents keeps the directory itself (with its metadata) under
        // its parents, and excludes see the kept paths.
        Row { name: "parents_dir_match_and_exclude", src: &["d x 0700 0:0", "d x/y 0750 0:0", "f x/y/keep 0644 0:0 k", "f x/y/skip.log 0644 0:0 s"], dest: &[],
            req: |r| { r.parents = true; r.excludes = v(&["x/y/*.log"]); r.sources = v(&["x/y"]); r.dest = "/p/".into(); },
            want: Want::Tree(&["d p 0755 0:0", "d p/x 0700 0:0", "d p/x/y 0750 0:0", "f p/x/y/keep 0644 0:0 k"]) },
        // `COPY . /app/`: the context root's contents; the root directory's own metadata is not
        // copied onto an existing target.
        Row { name: "dot_source_copies_context", src: &["f a 0644 0:0 a", "f node_modules/m 0644 0:0 m", "f lib/b 0644 0:0 b"], dest: &["d app 0700 0:0"],
            req: |r| { r.excludes = v(&["node_modules"]); r.sources = v(&["."]); r.dest = "/app/".into(); },
            want: Want::Tree(&["d app 0700 0:0", "f app/a 0644 0:0 a", "d app/lib 0755 0:0", "f app/lib/b 0644 0:0 b"]) },
        // "COPY --exclude=*.txt hom* /mydir/": files matching an exclude are not copied, "even if
        // their paths match the pattern specified in <src>".
        Row { name: "exclude_wildcard_matches", src: &["f home.txt 0644 0:0 t", "f homer.md 0644 0:0 m", "f other.md 0644 0:0 o"], dest: &[],
            req: |r| { r.excludes = v(&["*.txt"]); r.sources = v(&["hom*"]); r.dest = "/mydir/".into(); },
            want: Want::Tree(&["d mydir 0755 0:0", "f mydir/homer.md 0644 0:0 m"]) },
        // Excluding a directory inside a copied directory drops its whole subtree.
        Row { name: "exclude_inside_dir", src: &["f app/main.js 0644 0:0 m", "f app/node_modules/x/i.js 0644 0:0 i", "f app/README.md 0644 0:0 r"], dest: &[],
            req: |r| { r.excludes = v(&["node_modules", "*.md"]); r.sources = v(&["app"]); r.dest = "/app/".into(); },
            want: Want::Tree(&["d app 0755 0:0", "f app/main.js 0644 0:0 m"]) },
        // `COPY <<EOF /file`: the heredoc is the source (BuildKit writes it 0644 first).
        Row { name: "heredoc_file", src: &[], dest: &[],
            req: |r| { r.sources = v(&["EOF"]); r.heredocs = vec![("EOF".into(), b"hello\nworld\n".to_vec())]; r.dest = "/etc/motd".into(); },
            want: Want::Tree(&["d etc 0755 0:0", "f etc/motd 0644 0:0 hello\nworld"]) },
        Row { name: "heredoc_into_dir_with_chmod_chown", src: &[], dest: &[],
            req: |r| { r.sources = v(&["run.sh"]); r.heredocs = vec![("run.sh".into(), b"#!/bin/sh\n".to_vec())]; r.chmod = Some("755".into()); r.chown = Some("5:6".into()); r.dest = "/bin/".into(); },
            want: Want::Tree(&["d bin 0755 5:6", "f bin/run.sh 0755 5:6 #!/bin/sh"]) },
        // "--link … where files go is the same": recorded only.
        Row { name: "link_same_placement", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.link = true; r.sources = v(&["a"]); r.dest = "/x/".into(); },
            want: Want::Tree(&["d x 0755 0:0", "f x/a 0644 0:0 a"]) },
        // "Local tar archives are unpacked by default" — compression detected by content; the
        // archive's owners and modes are kept.
        Row { name: "add_unpacks_gzip", src: &["a hello.tar.gz hello.tar.gz"], dest: &[],
            req: |r| { r.is_add = true; r.sources = v(&["hello.tar.gz"]); r.dest = "/opt".into(); },
            want: Want::Tree(&["d opt 0755 0:0", "d opt/dir 0750 1000:1000", "f opt/dir/inner.txt 0600 1000:1000 inner",
                "f opt/hard 0644 1000:1000 hello", "h opt/hello.txt => opt/hard", "l opt/link 1000:1000 -> hello.txt"]) },
        Row { name: "add_unpacks_xz_bz2_zst", src: &["a a.tar.xz hello.tar.xz", "a b.tar.bz2 hello.tar.bz2", "a c.tar.zst hello.tar.zst"], dest: &[],
            req: |r| { r.is_add = true; r.chown = Some("3".into()); r.sources = v(&["a.tar.xz", "b.tar.bz2", "c.tar.zst"]); r.dest = "/x/".into(); },
            want: Want::Tree(&["d x 0755 3:3", "d x/dir 0750 3:3", "f x/dir/inner.txt 0600 3:3 inner",
                "f x/hard 0644 3:3 hello", "h x/hello.txt => x/hard", "l x/link 3:3 -> hello.txt"]) },
        // Detection is by content, not extension: a tarball named .txt is unpacked, a text file
        // named .tar.gz is copied.
        Row { name: "add_detects_by_content", src: &["a not-really.txt not-really.txt", "a notes.tar.gz notes.tar.gz"], dest: &[],
            req: |r| { r.is_add = true; r.sources = v(&["not-really.txt", "notes.tar.gz"]); r.dest = "/d/".into(); },
            want: Want::Tree(&["d d 0755 0:0", "d d/dir 0750 1000:1000", "f d/dir/inner.txt 0600 1000:1000 inner",
                "f d/hard 0644 1000:1000 hello", "h d/hello.txt => d/hard", "l d/link 1000:1000 -> hello.txt",
                "f d/notes.tar.gz 0644 0:0 plain text, not a tarball"]) },
        // "ADD --unpack=false my-archive.tar.gz ." — and COPY never extracts.
        Row { name: "add_unpack_false_and_copy", src: &["a t.tar hello.tar"], dest: &[],
            req: |r| { r.is_add = true; r.unpack = Some(false); r.sources = v(&["t.tar"]); r.dest = "/d/".into(); },
            want: Want::Tree(&["d d 0755 0:0", "f d/t.tar 0644 0:0 <tar>"]) },
        Row { name: "copy_never_extracts", src: &["a t.tar.gz hello.tar.gz"], dest: &[],
            req: |r| { r.sources = v(&["t.tar.gz"]); r.dest = "/d/".into(); },
            want: Want::Tree(&["d d 0755 0:0", "f d/t.tar.gz 0644 0:0 <tar>"]) },
        // An archive member that climbs out with ../ is refused.
        Row { name: "add_archive_dotdot_refused", src: &["a evil.tar escape-dotdot.tar"], dest: &[],
            req: |r| { r.is_add = true; r.sources = v(&["evil.tar"]); r.dest = "/x/".into(); },
            want: Want::Err("would be written outside the destination") },
        // A symlink planted by the archive cannot lead later members out of the rootfs.
        Row { name: "add_archive_symlink_contained", src: &["a evil.tar escape-symlink.tar"], dest: &[],
            req: |r| { r.is_add = true; r.sources = v(&["evil.tar"]); r.dest = "/x/".into(); },
            want: Want::Tree(&["f escaped-abs.txt 0644 1000:1000 pwned", "f escaped.txt 0644 1000:1000 pwned", "d x 0755 0:0",
                "l x/abs 1000:1000 -> /", "l x/evil 1000:1000 -> ../../../../../../../../.."]) },
        // "If the HTTP response contains a Last-Modified header, the timestamp from that header
        // will be used to set the mtime"; "If the destination ends with a trailing slash, then
        // the filename is inferred from the URL path"; BuildKit writes downloads 0600.
        Row { name: "add_url_with_checksum", src: &[], dest: &[],
            req: |r| { r.is_add = true; r.sources = v(&["https://example.com/files/tool.bin"]); r.dest = "/usr/bin/".into();
                r.checksum = Some("sha256:58eaf5a78d580f5dbd49d31a5b733094169b31bfdf49055b74bcac2877d8f58c".into()); },
            want: Want::Tree(&["d usr 0755 0:0", "d usr/bin 0755 0:0", "f usr/bin/tool.bin 0600 0:0 binary"]) },
        Row { name: "add_url_checksum_mismatch", src: &[], dest: &[],
            req: |r| { r.is_add = true; r.sources = v(&["https://example.com/files/tool.bin"]); r.dest = "/t".into();
                r.checksum = Some("sha256:0000000000000000000000000000000000000000000000000000000000000000".into()); },
            want: Want::Err("digest mismatch for https://example.com/files/tool.bin") },
        // "Local tar archives are unpacked by default, whereas remote tar archives (where src is
        // a URL) are downloaded without unpacking" unless --unpack=true.
        Row { name: "add_url_unpack_true", src: &[], dest: &[],
            req: |r| { r.is_add = true; r.unpack = Some(true); r.chown = Some("4".into()); r.sources = v(&["https://example.com/dl/hello.tar.gz"]); r.dest = "/download".into(); },
            want: Want::Tree(&["d download 0755 4:4", "d download/dir 0750 4:4", "f download/dir/inner.txt 0600 4:4 inner",
                "f download/hard 0644 4:4 hello", "h download/hello.txt => download/hard", "l download/link 4:4 -> hello.txt"]) },
        // "The --checksum flag lets you verify the checksum of a remote Git or HTTP resource"
        // — BuildKit refuses it for local sources.
        Row { name: "checksum_local_refused", src: &["f a 0644 0:0 a"], dest: &[],
            req: |r| { r.is_add = true; r.checksum = Some("sha256:58eaf5a78d580f5dbd49d31a5b733094169b31bfdf49055b74bcac2877d8f58c".into()); r.sources = v(&["a"]); r.dest = "/a".into(); },
            want: Want::Err("checksum can't be specified for non-HTTP(S) sources") },
        Row { name: "copy_url_refused", src: &[], dest: &[],
            req: |r| { r.sources = v(&["https://example.com/files/tool.bin"]); r.dest = "/t".into(); },
            want: Want::Err("source can't be a URL for COPY") },
    ]
}

/// Tar files are binary: the listing shows them as `<tar>`.
fn normalise(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| {
            if l.starts_with("f ") && (l.contains("ustar") || l.contains('\u{fffd}')) {
                let head: Vec<&str> = l.splitn(5, ' ').collect();
                format!("{} {} {} {} <tar>", head[0], head[1], head[2], head[3])
            } else {
                l
            }
        })
        .collect()
}

/// Listing lines ordered by path, component by component (walkdir's order).
fn path_key(line: &str) -> Vec<String> {
    line.split(' ')
        .nth(1)
        .unwrap()
        .split('/')
        .map(str::to_string)
        .collect()
}

#[test]
fn copy_semantics_table() {
    let rows = rows();
    assert!(rows.len() >= 30);
    let mut failures = Vec::new();
    for row in &rows {
        let got = run(row).map(normalise).map(|mut g| {
            g.sort_by_key(|l| path_key(l));
            g
        });
        match (&row.want, &got) {
            (Want::Tree(want), Ok(got)) => {
                let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
                want.sort_by_key(|l| path_key(l));
                if &want != got {
                    failures.push(format!("{}:\n  want {want:#?}\n  got  {got:#?}", row.name));
                }
            }
            (Want::Err(sub), Err(e)) if e.contains(sub) => {}
            _ => failures.push(format!("{}: got {got:#?}", row.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Plans and applies one request from `src` into `rootfs` (no excludes, no passwd).
fn copy(src: &Path, rootfs: &Path, req: &CopyRequest) -> Vec<strata::plan::copy::Changed> {
    let tree = FsTree::new(src);
    let ctx = PlanContext {
        passwd: &[],
        groups: &[],
        exclude: &NoExcludes,
    };
    let items = plan_copy(&tree, req, &ctx).unwrap();
    apply_copy(&tree, rootfs, &items, Some(&FakeFetch)).unwrap()
}

// "COPY … including filesystem metadata": the source's mtimes are kept on copied files and
// directories; a heredoc gets the time it is written; a URL gets its Last-Modified.
#[test]
fn mtimes_preserved() {
    let t = tempfile::tempdir().unwrap();
    let (src, rootfs) = (t.path().join("src"), t.path().join("rootfs"));
    build(
        &src,
        &[
            "f dir/a 0644 0:0 a",
            "d dir/sub 0755 0:0",
            "f dir/sub/b 0644 0:0 b",
        ],
    );
    build(&rootfs, &[]);
    let mut req = CopyRequest {
        workdir: "/".into(),
        sources: v(&["dir"]),
        dest: "/o".into(),
        ..Default::default()
    };
    copy(&src, &rootfs, &req);
    let mtime = |p: &str| std::fs::symlink_metadata(rootfs.join(p)).unwrap().mtime();
    assert_eq!(mtime("o/a"), FIXED_MTIME);
    assert_eq!(mtime("o/sub"), FIXED_MTIME);
    assert_eq!(mtime("o/sub/b"), FIXED_MTIME);

    req.sources = v(&["EOF"]);
    req.heredocs = vec![("EOF".into(), b"x".to_vec())];
    req.dest = "/h".into();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    copy(&src, &rootfs, &req);
    assert!(mtime("h") >= start - 1);

    req.is_add = true;
    req.heredocs.clear();
    req.sources = v(&["https://example.com/files/tool.bin"]);
    req.dest = "/tool".into();
    copy(&src, &rootfs, &req);
    assert_eq!(mtime("tool"), 784111777);
}

// The change list tells the layer writer which paths are new and which were replaced.
#[test]
fn change_kinds() {
    use strata::plan::copy::ChangeKind::{Added, Modified};
    let t = tempfile::tempdir().unwrap();
    let (src, rootfs) = (t.path().join("src"), t.path().join("rootfs"));
    build(&src, &["f d/same 0644 0:0 new", "f d/fresh 0644 0:0 f"]);
    build(
        &rootfs,
        &["f app/same 0644 0:0 old", "f app/untouched 0644 0:0 u"],
    );
    let req = CopyRequest {
        workdir: "/".into(),
        sources: v(&["d"]),
        dest: "/app/sub/../".into(),
        ..Default::default()
    };
    let got: Vec<(String, strata::plan::copy::ChangeKind)> = copy(&src, &rootfs, &req)
        .into_iter()
        .map(|c| (c.path, c.kind))
        .collect();
    assert_eq!(
        got,
        vec![("app/fresh".into(), Added), ("app/same".into(), Modified)]
    );
}

// plan_copy is pure over the source tree: the plan carries what a cache key needs (relative
// paths, kinds, final modes and owners, symlink targets) and never looks at the destination.
#[test]
fn plan_is_data() {
    use strata::plan::copy::{EntryKind, MemTree, Target};
    let mut tree = MemTree::new();
    tree.dir("app", 0o755).uid = 1000;
    tree.file("app/run", 0o700, b"#!").uid = 1000;
    tree.symlink("app/cur", "run");
    let req = CopyRequest {
        workdir: "/srv".into(),
        sources: v(&["app"]),
        dest: "x".into(),
        chmod: Some("go+rX".into()),
        from_stage: true,
        ..Default::default()
    };
    let ctx = PlanContext {
        passwd: &[],
        groups: &[],
        exclude: &NoExcludes,
    };
    let items = plan_copy(&tree, &req, &ctx).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].target,
        Target::DirContents {
            dir: "/srv/x".into()
        }
    );
    let e: Vec<(String, EntryKind, u32, u32)> = items[0]
        .entries
        .iter()
        .map(|e| (e.rel.clone(), e.kind.clone(), e.mode, e.uid))
        .collect();
    assert_eq!(
        e,
        vec![
            (
                "cur".into(),
                EntryKind::Symlink {
                    target: "run".into()
                },
                0o777,
                0
            ),
            ("run".into(), EntryKind::File { size: 2 }, 0o755, 1000),
        ]
    );
}
