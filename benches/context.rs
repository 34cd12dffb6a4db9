//! Build-context hashing: (a) a cold pass (walk, read and blake3 every file, no stat cache)
//! and (b) a fully cached pass (walk + stat-cache lookups, no reads, no cache write) over a
//! 20,000-file, ~400 MB tree (half random bytes, half text) generated once under
//! `target/bench-ctx/`. Under `cargo test --benches` (no `--bench` argument) a 200-file tree
//! is used so the test suite stays fast.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strata::plan::context::stat_cache::RACY_MARGIN_NS;
use strata::plan::context::{open_context, Context, ContextHasher, HashStats, StatCache};

const WORDS: &[&str] = &[
    "fn", "let", "mut", "struct", "impl", "return", "self", "match", "context", "hash", "the",
    "of", "and", "cache", "write", "read", "error", "path", "Some", "None", "Ok", "=>", "{", "}",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Shape {
    name: &'static str,
    files: u64,
    /// Small files are uniform in `0..2*avg_small` bytes.
    avg_small: u64,
    /// This many of the files are `big` bytes each (exercising blake3's multi-threaded path).
    bigs: u64,
    big: u64,
}

const FULL: Shape = Shape {
    name: "bench-ctx",
    files: 20_000,
    avg_small: 16 << 10,
    bigs: 10,
    big: 8 << 20,
};
const SMALL: Shape = Shape {
    name: "bench-ctx-small",
    files: 200,
    avg_small: 4 << 10,
    bigs: 1,
    big: 1 << 20,
};

/// The tree, created if missing; its root and total file bytes.
fn tree(shape: &Shape) -> (PathBuf, u64) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let root = base.join(shape.name);
    let done = base.join(format!("{}.done", shape.name));
    if let Ok(total) = std::fs::read_to_string(&done) {
        return (root, total.trim().parse().expect("size in the marker"));
    }
    let _ = std::fs::remove_dir_all(&root);
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut total = 0u64;
    let mut buf = Vec::new();
    for i in 0..shape.files {
        let size = if i < shape.bigs {
            shape.big
        } else {
            rng.next() % (2 * shape.avg_small)
        };
        let random = i % 2 == 0;
        buf.clear();
        while (buf.len() as u64) < size {
            if random {
                buf.extend_from_slice(&rng.next().to_le_bytes());
            } else {
                let w = WORDS[(rng.next() % WORDS.len() as u64) as usize];
                buf.extend_from_slice(w.as_bytes());
                buf.push(if rng.next() % 9 == 0 { b'\n' } else { b' ' });
            }
        }
        buf.truncate(size as usize);
        // 100 directories of 200 files, two levels deep.
        let p = root.join(format!(
            "d{:02}/s{}/f{i:05}{}",
            i % 50,
            (i / 50) % 2,
            if random { ".bin" } else { ".txt" }
        ));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &buf).unwrap();
        total += size;
    }
    let ignore = "**/*.tmp\n";
    std::fs::write(root.join(".dockerignore"), ignore).unwrap();
    total += ignore.len() as u64;
    std::fs::write(&done, total.to_string()).unwrap();
    (root, total)
}

/// One build's pass: walk, hash every file through the stat cache in `cache_file` (`None`: no
/// cache), save the cache; returns what the hasher did and whether the cache was written.
fn pass(root: &Path, cache_file: Option<&Path>) -> (HashStats, bool) {
    let entries = open_context(root, None).unwrap().entries().unwrap();
    let cache = match cache_file {
        Some(f) => StatCache::load(f),
        None => StatCache::empty(root.with_extension("unused-cache")),
    };
    let mut h = ContextHasher::new(root, &entries, cache);
    h.hash_all().unwrap();
    let wrote = match cache_file {
        Some(_) => h.save_cache().unwrap(),
        None => false,
    };
    (h.stats(), wrote)
}

/// Where a cached pass spends its time, printed once (best of five).
fn breakdown(root: &Path, cache_file: &Path) {
    let mut best = [Duration::MAX; 4];
    for _ in 0..5 {
        let t = Instant::now();
        let entries = open_context(root, None).unwrap().entries().unwrap();
        let walked = t.elapsed();
        let cache = StatCache::load(cache_file);
        let loaded = t.elapsed();
        let mut h = ContextHasher::new(root, &entries, cache);
        h.hash_all().unwrap();
        let hashed = t.elapsed();
        h.save_cache().unwrap();
        let saved = t.elapsed();
        let times = [walked, loaded - walked, hashed - loaded, saved - hashed];
        for (b, t) in best.iter_mut().zip(times) {
            *b = (*b).min(t);
        }
    }
    eprintln!(
        "cached pass: walk {:.1?}, load cache {:.1?}, lookups {:.1?}, save (no-op) {:.1?}",
        best[0], best[1], best[2], best[3]
    );
}

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let shape = if full { FULL } else { SMALL };
    let t0 = Instant::now();
    let (root, bytes) = tree(&shape);
    eprintln!(
        "context {}: {} files, {:.0} MB (ready in {:.1?})",
        root.display(),
        shape.files,
        bytes as f64 / 1e6,
        t0.elapsed()
    );
    let cache_file = root.with_extension("statcache");
    let _ = std::fs::remove_file(&cache_file);

    let mut g = c.benchmark_group("context");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(if full { 10 } else { 1 }));

    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("cold_hash_all", |b| {
        b.iter(|| {
            let (stats, _) = pass(&root, None);
            assert_eq!(stats.bytes_read, bytes);
        })
    });

    // Fill the cache; files changed less than the racy margin ago are rehashed until they
    // are old enough, so retry after waiting that long (not in test mode: nothing is checked).
    let mut stats = pass(&root, Some(&cache_file)).0;
    for _ in 0..if full { 3 } else { 0 } {
        if stats.files_read == 0 {
            break;
        }
        std::thread::sleep(Duration::from_nanos(RACY_MARGIN_NS as u64));
        stats = pass(&root, Some(&cache_file)).0;
    }
    if full {
        assert_eq!(stats.files_read, 0, "the cached pass must not read files");
    }
    breakdown(&root, &cache_file);
    g.throughput(Throughput::Elements(shape.files));
    g.bench_function("cached_pass", |b| {
        b.iter(|| {
            let (stats, wrote) = pass(&root, Some(&cache_file));
            if full {
                assert_eq!((stats.files_read, wrote), (0, false));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
