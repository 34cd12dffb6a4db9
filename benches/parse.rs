//! Parse + lower the whole real-world corpus; throughput in Dockerfiles/s and bytes/s.

#[path = "../tests/shared_dir/mod.rs"]
mod shared_dir;

use std::fs;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn corpus() -> Vec<String> {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in fs::read_dir(shared_dir::conformance("real-world")).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            for f in fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|x| x == "Dockerfile") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|p| String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned())
        .collect()
}

fn bench(c: &mut Criterion) {
    let files = corpus();
    let bytes: usize = files.iter().map(String::len).sum();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("parse+lower (files)", |b| {
        b.iter(|| {
            for f in &files {
                let df = strata::syntax::parse(f).unwrap();
                std::hint::black_box(strata::syntax::lower(&df));
            }
        })
    });
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse+lower (bytes)", |b| {
        b.iter(|| {
            for f in &files {
                let df = strata::syntax::parse(f).unwrap();
                std::hint::black_box(strata::syntax::lower(&df));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
