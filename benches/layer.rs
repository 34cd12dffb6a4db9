//! Layer writer and unpack throughput on a ~1 GiB tree (half random bytes, half text),
//! generated once under `target/layer-bench-tree-<size>MB` and reused. `STRATA_BENCH_TREE_MB` changes
//! the size (the tree is regenerated when it does).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strata::snapshot::{unpack_layer, write_dir_layer, Compression, LayerOptions};

const WORDS: &[&str] = &[
    "fn", "let", "mut", "struct", "impl", "return", "self", "match", "layer", "digest", "the",
    "of", "and", "snapshot", "write", "read", "error", "path", "Some", "None", "Ok", "=>", "{",
    "}", "(", ");", "use", "std::io", "pub", "const", "for", "in", "if", "else", "while",
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

/// 1 GiB under `cargo bench`; a 16 MB tree when `cargo test --benches` runs each bench once
/// as a smoke test (criterion gets `--bench` only from `cargo bench`), so the suite stays fast.
fn tree_mb() -> u64 {
    let default = if std::env::args().any(|a| a == "--bench") {
        1024
    } else {
        16
    };
    std::env::var("STRATA_BENCH_TREE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The tree, created if missing; its size in bytes (file contents only).
fn tree() -> (PathBuf, u64) {
    let mb = tree_mb();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let root = base.join(format!("layer-bench-tree-{mb}MB"));
    let done = root.with_extension("done");
    let total = mb << 20;
    if done.exists() {
        return (root, total);
    }
    let _ = std::fs::remove_dir_all(&root);
    let mut rng = Rng(0x2545f4914f6cdd1d);
    let (mut written, mut i) = (0u64, 0u64);
    let mut buf = Vec::new();
    while written < total {
        let size = (4096 + rng.next() % (2 << 20)).min(total - written);
        let random = i % 2 == 0;
        buf.clear();
        if random {
            while (buf.len() as u64) < size {
                buf.extend_from_slice(&rng.next().to_le_bytes());
            }
        } else {
            while (buf.len() as u64) < size {
                let w = WORDS[(rng.next() % WORDS.len() as u64) as usize];
                buf.extend_from_slice(w.as_bytes());
                buf.push(if rng.next() % 9 == 0 { b'\n' } else { b' ' });
            }
        }
        buf.truncate(size as usize);
        let p = root.join(format!(
            "d{:02}/f{i:05}{}",
            i % 64,
            if random { ".bin" } else { ".txt" }
        ));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &buf).unwrap();
        written += size;
        i += 1;
    }
    std::fs::write(&done, b"").unwrap();
    (root, total)
}

/// With `STRATA_BENCH_ONCE=<list>`, each listed operation runs once and prints wall and CPU
/// time (quick checks on a shared, loaded machine, where criterion's ten samples of a 1 GiB
/// tree take too long). The list is comma-separated `gzip`, `zstd`, `tar`, `unpack`, or `1`.
fn once(root: &Path, bytes: u64, which: &str) {
    let mb = bytes as f64 / 1e6;
    let wanted = |n: &str| which == "1" || which.split(',').any(|w| w == n);
    for (name, compression) in [
        ("gzip", Compression::Gzip { level: 6 }),
        ("zstd", Compression::Zstd { level: 3 }),
        ("tar", Compression::None),
    ] {
        if !wanted(name) {
            continue;
        }
        let opts = LayerOptions {
            compression,
            source_date_epoch: Some(0),
        };
        let (start, cpu) = (Instant::now(), cpu_secs());
        let d = write_dir_layer(root, &opts, &mut io::sink()).unwrap();
        let (s, c) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu);
        eprintln!(
            "write {name}: {s:.2}s wall {c:.2}s cpu {:.1} MB/s, {} bytes, digest {}",
            mb / s,
            d.size,
            d.digest
        );
    }
    if !wanted("unpack") {
        return;
    }
    let tar_path = plain_tar(root);
    let scratch = root.with_extension("unpack");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir(&scratch).unwrap();
    let mut f = std::fs::File::open(&tar_path).unwrap();
    let (start, cpu) = (Instant::now(), cpu_secs());
    unpack_layer(&mut f, &scratch).unwrap();
    let (s, c) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu);
    eprintln!("unpack: {s:.2}s wall {c:.2}s cpu {:.1} MB/s", mb / s);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// User + system CPU seconds of this process so far (all threads).
fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// The tree as an uncompressed tar next to it, written once.
fn plain_tar(root: &Path) -> PathBuf {
    let tar_path = root.with_extension("tar");
    if !tar_path.exists() {
        let tmp = root.with_extension("tar.tmp");
        let mut f = io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
        let opts = LayerOptions {
            compression: Compression::None,
            source_date_epoch: Some(0),
        };
        write_dir_layer(root, &opts, &mut f).unwrap();
        f.flush().unwrap();
        std::fs::rename(&tmp, &tar_path).unwrap();
    }
    tar_path
}

fn bench(c: &mut Criterion) {
    let (root, bytes) = tree();
    if let Ok(which) = std::env::var("STRATA_BENCH_ONCE") {
        return once(&root, bytes, &which);
    }
    let mut g = c.benchmark_group("layer");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Bytes(bytes));
    for (name, compression) in [
        ("write_gzip6", Compression::Gzip { level: 6 }),
        ("write_zstd3", Compression::Zstd { level: 3 }),
    ] {
        let opts = LayerOptions {
            compression,
            source_date_epoch: Some(0),
        };
        let first = write_dir_layer(&root, &opts, &mut io::sink()).unwrap();
        eprintln!(
            "{name}: digest {} size {} (ratio {:.3})",
            first.digest,
            first.size,
            first.size as f64 / bytes as f64
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                let d = write_dir_layer(&root, &opts, &mut io::sink()).unwrap();
                assert_eq!(d.digest, first.digest, "output must not change run to run");
            })
        });
    }

    // Unpack from an uncompressed tar kept in a file (page cache), into a fresh dir each time.
    let tar_path = plain_tar(&root);
    let scratch = root.with_extension("unpack");
    g.bench_function("unpack", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let _ = std::fs::remove_dir_all(&scratch);
                std::fs::create_dir(&scratch).unwrap();
                let mut f = std::fs::File::open(&tar_path).unwrap();
                let start = Instant::now();
                unpack_layer(&mut f, &scratch).unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    let _ = std::fs::remove_dir_all(&scratch);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
