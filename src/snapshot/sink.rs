//! The one-pass output of a layer: tar bytes are sha256'd (diffID) and compressed as they
//! stream, and the compressed bytes are sha256'd (digest), counted and written out. Both
//! sha256s run on threads of their own (`BackgroundHasher`): the thread reading the files is
//! the one a big layer waits for.

use std::io::{self, Write};
use std::sync::Arc;

use crate::digest::Digest;
use crate::util::hashing::{BackgroundHasher, HashingWriter, StreamHasher};

use super::chunks::{ChunkEntry, ChunkSource};
use super::gzip_parallel::ParallelGzip;
use super::layer::Compression;

/// The compressed stream's destination, sha256'd on a thread of its own.
type Out<'a> = HashingWriter<&'a mut dyn Write, BackgroundHasher>;

enum Compressor<'a> {
    None(Out<'a>),
    Gzip(ParallelGzip<Out<'a>>),
    Zstd(zstd::stream::Encoder<'static, Out<'a>>),
}

/// What a finished sink wrote.
pub struct SinkResult {
    pub diff_id: Digest,
    pub digest: Digest,
    pub size: u64,
    /// The gzip chunks worth reusing, for the blob's chunk index.
    pub chunks: Vec<ChunkEntry>,
}

/// Where the tar stream goes.
pub struct LayerSink<'a> {
    diff: BackgroundHasher,
    comp: Compressor<'a>,
}

/// 4 MiB zstdmt jobs: big enough for good ratios, small enough to use both cores on modest
/// layers. zstdmt output depends on the job layout, never on how many workers (at least one)
/// run the jobs (tested below), so the worker count follows the machine while the job size is
/// pinned; worker count 0 (single-threaded mode) would give different bytes and is never used.
const ZSTD_JOB_SIZE: u32 = 4 << 20;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl<'a> LayerSink<'a> {
    /// `source` offers earlier gzip chunks for reuse (gzip only: zstd is fast enough).
    pub fn new(
        out: &'a mut dyn Write,
        compression: &Compression,
        source: Option<Arc<dyn ChunkSource>>,
    ) -> io::Result<Self> {
        let w = HashingWriter::with_hasher(out, BackgroundHasher::new());
        let comp = match *compression {
            Compression::None => Compressor::None(w),
            Compression::Gzip { level } => {
                Compressor::Gzip(ParallelGzip::with_source(w, level, threads(), source))
            }
            Compression::Zstd { level } => {
                let mut e = zstd::stream::Encoder::new(w, level)?;
                e.multithread(threads() as u32)?;
                e.set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB_SIZE))?;
                e.include_checksum(true)?;
                Compressor::Zstd(e)
            }
        };
        Ok(LayerSink {
            diff: BackgroundHasher::new(),
            comp,
        })
    }

    /// Ends the current gzip chunk here (see `ParallelGzip::cut`); other compressions have no
    /// chunks.
    pub fn cut(&mut self, fresh: bool) -> io::Result<()> {
        match &mut self.comp {
            Compressor::Gzip(g) => g.cut(fresh),
            Compressor::None(_) | Compressor::Zstd(_) => Ok(()),
        }
    }

    /// Ends the compressed stream.
    pub fn finish(self) -> io::Result<SinkResult> {
        let (w, chunks) = match self.comp {
            Compressor::None(w) => (w, Vec::new()),
            Compressor::Gzip(g) => g.finish_with_chunks()?,
            Compressor::Zstd(e) => (e.finish()?, Vec::new()),
        };
        let (digest, size, out) = w.finish();
        out.flush()?;
        Ok(SinkResult {
            diff_id: self.diff.finish(),
            digest,
            size,
            chunks,
        })
    }
}

impl Write for LayerSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.comp {
            Compressor::None(w) => w.write(buf)?,
            Compressor::Gzip(g) => g.write(buf)?,
            Compressor::Zstd(e) => e.write(buf)?,
        };
        self.diff.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zstd_with(data: &[u8], workers: u32) -> Vec<u8> {
        let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        e.multithread(workers).unwrap();
        e.set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB_SIZE))
            .unwrap();
        e.include_checksum(true).unwrap();
        for c in data.chunks(100_000) {
            e.write_all(c).unwrap();
        }
        e.finish().unwrap()
    }

    /// zstdmt output depends on the job layout, not on how many workers run the jobs; we pin
    /// the worker count anyway, and this checks the premise that makes that safe.
    #[test]
    fn zstd_output_does_not_depend_on_worker_count() {
        let mut x: u64 = 1;
        let data: Vec<u8> = (0..(3 * ZSTD_JOB_SIZE as usize + 1000))
            .map(|i| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                if i % 5000 < 2500 {
                    b"abcdefgh"[i % 8]
                } else {
                    (x >> 40) as u8
                }
            })
            .collect();
        let two = zstd_with(&data, 2);
        assert!(zstd_with(&data, 1) == two);
        assert!(zstd_with(&data, 4) == two);
        assert_eq!(zstd::decode_all(&two[..]).unwrap(), data);
    }
}
