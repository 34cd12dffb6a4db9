//! Hashing real context directories through the persistent stat cache: what is read on a cold,
//! warm, touched, changed and racily-clean run, damaged caches, ignored files, and the COPY
//! input digest computed from files on disk through the walked (ignore-filtered) tree.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use strata::plan::context::stat_cache::RACY_MARGIN_NS;
use strata::plan::context::{
    open_context, stat_cache_file, ContentHash, Context, ContextHasher, HashError, HashStats,
    LoadOutcome, StatCache, WalkedTree,
};
use strata::plan::copy::{
    plan_copy, CopyItem, CopyRequest, FsTree, NoExcludes, PlanContext, SourceTree,
};
use strata::plan::inputs::{content_paths, copy_input_digest, InputDigest};

const SEC: i64 = 1_000_000_000;

struct Fixture {
    _tmp: tempfile::TempDir,
    ctx: PathBuf,
    cache: PathBuf,
}

fn fixture(files: &[(&str, &str)]) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    for (rel, body) in files {
        write(&ctx, rel, body);
    }
    let cache = stat_cache_file(&tmp.path().join("contexts-v1"), &ctx);
    Fixture {
        _tmp: tmp,
        ctx,
        cache,
    }
}

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, body).unwrap();
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// Sets a file's mtime (and, as a side effect the kernel imposes, its ctime to now).
fn set_mtime(path: &Path, ns: i64) {
    let ts = nix::sys::time::TimeSpec::new(ns / SEC, ns % SEC);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

struct Run {
    hashes: BTreeMap<String, ContentHash>,
    stats: HashStats,
    wrote: bool,
    outcome: LoadOutcome,
}

/// One build's hashing pass: walk, hash every file, save the cache. `clock` fixes the time
/// hashes are recorded at (`None`: the wall clock).
fn run(f: &Fixture, clock: Option<i64>) -> Run {
    let entries = open_context(&f.ctx, None).unwrap().entries().unwrap();
    let cache = StatCache::load(&f.cache);
    let outcome = cache.outcome();
    let mut h = ContextHasher::new(&f.ctx, &entries, cache);
    if let Some(t) = clock {
        h = h.with_clock_ns(t);
    }
    h.hash_all().unwrap();
    let wrote = h.save_cache().unwrap();
    let hashes = h
        .hashes()
        .map(|(p, c)| (p.to_str().unwrap().to_string(), c))
        .collect();
    Run {
        hashes,
        stats: h.stats(),
        wrote,
        outcome,
    }
}

/// A clock well past every file time of the fixture, so no entry is racily clean.
fn later(n: i64) -> Option<i64> {
    Some(now_ns() + (n + 10) * RACY_MARGIN_NS)
}

const FILES: &[(&str, &str)] = &[
    ("Dockerfile", "FROM scratch\nCOPY . /\n"),
    ("src/main.rs", "fn main() {}\n"),
    ("src/lib/a.rs", "pub fn a() {}\n"),
    ("README.md", "hello\n"),
];

#[test]
fn cold_then_cached_reads_nothing_and_writes_nothing() {
    let f = fixture(FILES);
    let cold = run(&f, later(0));
    assert_eq!(cold.outcome, LoadOutcome::Missing);
    assert_eq!(cold.stats.files_read, 4);
    assert_eq!(cold.stats.cache_hits, 0);
    assert!(cold.wrote && f.cache.exists());
    assert_eq!(
        cold.hashes["src/main.rs"],
        ContentHash::of(b"fn main() {}\n")
    );
    let before = fs::metadata(&f.cache).unwrap();
    let bytes = fs::read(&f.cache).unwrap();

    let warm = run(&f, later(1));
    assert_eq!(warm.outcome, LoadOutcome::Loaded);
    assert_eq!(
        warm.stats,
        HashStats {
            files_read: 0,
            bytes_read: 0,
            cache_hits: 4
        }
    );
    assert_eq!(warm.hashes, cold.hashes);
    assert!(!warm.wrote);
    // Not rewritten: same inode (an atomic write renames a new file in) and same bytes.
    assert_eq!(fs::metadata(&f.cache).unwrap().ino(), before.ino());
    assert_eq!(fs::read(&f.cache).unwrap(), bytes);
}

#[test]
fn touched_file_is_rehashed_to_the_same_hash_and_changed_file_to_a_new_one() {
    let f = fixture(FILES);
    let cold = run(&f, later(0));
    set_mtime(&f.ctx.join("README.md"), 1_000_000 * SEC);
    let touched = run(&f, later(1));
    assert_eq!(touched.stats.files_read, 1);
    assert_eq!(touched.stats.cache_hits, 3);
    assert_eq!(touched.hashes, cold.hashes);
    assert!(touched.wrote, "the new stat is recorded");
    assert_eq!(run(&f, later(2)).stats.files_read, 0);

    write(&f.ctx, "src/main.rs", "fn main() { }\n");
    let changed = run(&f, later(3));
    assert_eq!(changed.stats.files_read, 1);
    assert_eq!(
        changed.hashes["src/main.rs"],
        ContentHash::of(b"fn main() { }\n")
    );
    assert_ne!(changed.hashes["src/main.rs"], cold.hashes["src/main.rs"]);
}

#[test]
fn racily_clean_entries_are_rehashed() {
    let f = fixture(FILES);
    let md = fs::metadata(f.ctx.join("README.md")).unwrap();
    let ctime = md.ctime() * SEC + md.ctime_nsec();
    // Hashed in the same timestamp window as the files' last change: a write right after the
    // hash could leave mtime, ctime and size exactly as recorded.
    let first = run(&f, Some(ctime + 1));
    assert_eq!(first.stats.files_read, 4);
    let second = run(&f, later(0));
    assert_eq!(second.stats.files_read, 4, "racy entries are not trusted");
    assert_eq!(second.hashes, first.hashes);
    assert!(
        second.wrote,
        "the entries are re-recorded at the later time"
    );
    assert_eq!(run(&f, later(1)).stats.files_read, 0);

    // The same with the wall clock: files written just now are read again on the next build.
    let g = fixture(FILES);
    assert_eq!(run(&g, None).stats.files_read, 4);
    assert_eq!(run(&g, None).stats.files_read, 4);

    // The mtime alone makes an entry racy: hashed at the very time of its mtime (its ctime,
    // now, is long before), it is not trusted on the next run.
    let h = fixture(FILES);
    let t = now_ns() + 100 * RACY_MARGIN_NS;
    set_mtime(&h.ctx.join("README.md"), t);
    assert_eq!(run(&h, Some(t)).stats.files_read, 4);
    let r = run(&h, Some(t + 10 * RACY_MARGIN_NS));
    assert_eq!(r.stats.files_read, 1, "mtime == recorded time is racy");
    assert_eq!(run(&h, Some(t + 20 * RACY_MARGIN_NS)).stats.files_read, 0);
}

#[test]
fn corrupt_cache_is_rebuilt_silently() {
    let f = fixture(FILES);
    let cold = run(&f, later(0));
    let good = fs::read(&f.cache).unwrap();
    for bad in [
        b"garbage".to_vec(),
        good[..good.len() / 2].to_vec(),
        Vec::new(),
    ] {
        fs::write(&f.cache, &bad).unwrap();
        let r = run(&f, later(1));
        assert_eq!(r.outcome, LoadOutcome::Discarded);
        assert_eq!(r.stats.files_read, 4);
        assert_eq!(r.hashes, cold.hashes);
        assert!(r.wrote);
        let again = run(&f, later(2));
        assert_eq!(again.outcome, LoadOutcome::Loaded);
        assert_eq!(again.stats.files_read, 0);
    }
}

#[test]
fn removed_files_leave_the_cache() {
    let f = fixture(FILES);
    run(&f, later(0));
    assert_eq!(StatCache::load(&f.cache).len(), 4);
    fs::remove_file(f.ctx.join("src/lib/a.rs")).unwrap();
    let r = run(&f, later(1));
    assert_eq!(r.stats.files_read, 0);
    assert!(r.wrote);
    let c = StatCache::load(&f.cache);
    assert_eq!(c.len(), 3);
    assert!(c.get(b"src/lib/a.rs").is_none());
}

#[test]
fn ignored_files_are_never_hashed_and_only_requested_files_are_read() {
    let f = fixture(&[
        ("Dockerfile", "FROM scratch\n"),
        (".dockerignore", "secret\n*.log\n"),
        ("secret/key", "hunter2"),
        ("debug.log", "log"),
        ("app/a", "a"),
        ("app/b", "b"),
        ("app/c", "c"),
    ]);
    let all = run(&f, later(0));
    let names: Vec<&str> = all.hashes.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [".dockerignore", "Dockerfile", "app/a", "app/b", "app/c"]
    );
    assert_eq!(all.stats.files_read, 5);

    fs::remove_file(&f.cache).unwrap();
    let entries = open_context(&f.ctx, None).unwrap().entries().unwrap();
    let mut h = ContextHasher::new(&f.ctx, &entries, StatCache::load(&f.cache));
    h.hash_paths(&["app/b", "app/a", "app/b"]).unwrap();
    assert_eq!(h.stats().files_read, 2);
    h.hash_paths(&["app/a"]).unwrap();
    assert_eq!(h.stats().files_read, 2, "memoised");
    assert_eq!(h.get("app/a"), Some(ContentHash::of(b"a")));
    assert_eq!(h.get("app/c"), None);
    for (path, dir) in [("secret/key", false), ("debug.log", false), ("app", true)] {
        let err = h.hash_paths(&[path]).unwrap_err();
        match err {
            HashError::NotInContext { path: p } if !dir => assert_eq!(p, path),
            HashError::NotAFile { path: p } if dir => assert_eq!(p, path),
            other => panic!("{path}: {other}"),
        }
    }
    assert_eq!(h.stats().files_read, 2);
}

#[test]
fn concurrent_saves_never_leave_a_corrupt_file() {
    let f = fixture(FILES);
    let entries = open_context(&f.ctx, None).unwrap().entries().unwrap();
    std::thread::scope(|s| {
        for i in 0..4i64 {
            let (ctx, cache, entries) = (&f.ctx, &f.cache, &entries);
            s.spawn(move || {
                for j in 0..10 {
                    let mut h = ContextHasher::new(ctx, entries, StatCache::empty(cache))
                        .with_clock_ns(now_ns() + (i * 10 + j + 10) * RACY_MARGIN_NS);
                    h.hash_all().unwrap();
                    h.save_cache().unwrap();
                    assert_ne!(StatCache::load(cache).outcome(), LoadOutcome::Discarded);
                }
            });
        }
    });
    assert_eq!(StatCache::load(&f.cache).len(), 4);
}

/// The input digest of `COPY app /srv/` (with `chown`) from a context on disk.
fn copy_digest(ctx: &Path, chown: Option<&str>) -> InputDigest {
    let req = CopyRequest {
        sources: vec!["app".into()],
        dest: "/srv/".into(),
        workdir: "/".into(),
        chown: chown.map(str::to_string),
        ..CopyRequest::default()
    };
    let plan = PlanContext {
        passwd: &[],
        groups: &[],
        exclude: &NoExcludes,
    };
    let items = plan_copy(&FsTree::new(ctx), &req, &plan).unwrap();
    let entries = open_context(ctx, None).unwrap().entries().unwrap();
    let mut h = ContextHasher::new(ctx, &entries, StatCache::empty(ctx.join("unused")));
    h.hash_paths(&content_paths(&items)).unwrap();
    copy_input_digest(&items, &|p| h.get(p)).unwrap()
}

fn app_tree(root: &Path, order: &[usize]) {
    let files = [
        ("app/bin/run", "#!/bin/sh\necho hi\n"),
        ("app/data/one.txt", "one"),
        ("app/data/two.txt", "two"),
        ("app/main.rs", "fn main() {}\n"),
    ];
    for &i in order {
        write(root, files[i].0, files[i].1);
    }
    fs::set_permissions(root.join("app/bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("data/one.txt", root.join("app/link")).unwrap();
}

#[test]
fn input_digest_of_files_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    app_tree(&a, &[0, 1, 2, 3]);
    // Other creation order (so other inodes), with a file created and removed in between.
    write(&b, "app/zzz", "x");
    app_tree(&b, &[3, 2, 1, 0]);
    fs::remove_file(b.join("app/zzz")).unwrap();
    let base = copy_digest(&a, None);
    assert_eq!(copy_digest(&b, None), base, "creation order and inodes");

    set_mtime(&b.join("app/data/two.txt"), 12345 * SEC);
    assert_eq!(copy_digest(&b, None), base, "touch");

    assert_ne!(copy_digest(&b, Some("1000:1000")), base, "--chown");
    assert_ne!(
        copy_digest(&b, Some("1000:1000")),
        copy_digest(&b, Some("1000:1001")),
        "--chown group"
    );

    fs::set_permissions(b.join("app/main.rs"), fs::Permissions::from_mode(0o755)).unwrap();
    let chmodded = copy_digest(&b, None);
    assert_ne!(chmodded, base, "chmod +x");
    fs::set_permissions(b.join("app/main.rs"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(copy_digest(&b, None), base, "chmod back");

    write(&b, "app/data/two.txt", "twO");
    assert_ne!(copy_digest(&b, None), base, "one byte");
    write(&b, "app/data/two.txt", "two");
    assert_eq!(copy_digest(&b, None), base, "byte back");

    fs::rename(b.join("app/data/two.txt"), b.join("app/data/tw0.txt")).unwrap();
    assert_ne!(copy_digest(&b, None), base, "rename");
}

fn plan(tree: &dyn SourceTree, sources: &[&str], dest: &str) -> Vec<CopyItem> {
    let req = CopyRequest {
        sources: sources.iter().map(|s| s.to_string()).collect(),
        dest: dest.into(),
        workdir: "/".into(),
        ..CopyRequest::default()
    };
    let ctx = PlanContext {
        passwd: &[],
        groups: &[],
        exclude: &NoExcludes,
    };
    plan_copy(tree, &req, &ctx).unwrap()
}

#[test]
fn walked_tree_plans_like_the_directory_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    app_tree(&ctx, &[0, 1, 2, 3]);
    fs::hard_link(ctx.join("app/data/one.txt"), ctx.join("app/data/uno.txt")).unwrap();
    let entries = open_context(&ctx, None).unwrap().entries().unwrap();
    let walked = WalkedTree::new(&ctx, &entries).unwrap();
    let fs_tree = FsTree::new(&ctx);
    for (sources, dest) in [
        (&["app"][..], "/srv/"),
        (&["."][..], "/"),
        (&["app/*.rs", "app/d*"][..], "/x/"),
        (&["app/link"][..], "/l"),
        (&["app/data/one.txt", "app/data/uno.txt"][..], "/h/"),
    ] {
        assert_eq!(
            plan(&walked, sources, dest),
            plan(&fs_tree, sources, dest),
            "{sources:?}"
        );
    }
}

#[test]
fn ignored_files_do_not_reach_the_input_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    app_tree(&ctx, &[0, 1, 2, 3]);
    write(&ctx, ".dockerignore", "app/data/two.txt\n");
    let digest = |ctx: &Path| {
        let entries = open_context(ctx, None).unwrap().entries().unwrap();
        let tree = WalkedTree::new(ctx, &entries).unwrap();
        let items = plan(&tree, &["app"], "/srv/");
        let mut h = ContextHasher::new(ctx, &entries, StatCache::empty(ctx.join("unused")));
        h.hash_paths(&content_paths(&items)).unwrap();
        assert!(h.get("app/data/two.txt").is_none());
        assert!(items
            .iter()
            .flat_map(|i| &i.entries)
            .all(|e| !e.src.ends_with("two.txt")));
        copy_input_digest(&items, &|p| h.get(p)).unwrap()
    };
    let before = digest(&ctx);
    write(&ctx, "app/data/two.txt", "changed, but ignored");
    assert_eq!(digest(&ctx), before);
    write(&ctx, "app/data/one.txt", "not ignored");
    assert_ne!(digest(&ctx), before);
}
