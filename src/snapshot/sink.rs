//! The one-pass output of a layer: tar bytes are sha256'd (diffID) and compressed as they
//! stream, and the compressed bytes are sha256'd (digest), counted and written out.

use std::io::{self, Write};

use crate::digest::{Digest, DigestHasher};

use super::gzip_parallel::ParallelGzip;
use super::layer::Compression;

/// Hashes and counts what passes through to `inner`.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: DigestHasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: DigestHasher::new(),
            count: 0,
        }
    }
    pub fn finish(self) -> (Digest, u64, W) {
        (self.hasher.finish(), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Compressor<'a> {
    None(HashingWriter<&'a mut dyn Write>),
    Gzip(ParallelGzip<HashingWriter<&'a mut dyn Write>>),
    Zstd(zstd::stream::Encoder<'static, HashingWriter<&'a mut dyn Write>>),
}

/// Where the tar stream goes.
pub struct LayerSink<'a> {
    diff: DigestHasher,
    comp: Compressor<'a>,
}

/// zstd workers: a constant rather than the core count, so the bytes never depend on the
/// machine (zstdmt output depends on job layout, which we pin with a fixed job size too).
const ZSTD_WORKERS: u32 = 2;
/// 4 MiB jobs: big enough for good ratios, small enough to use both cores on modest layers.
const ZSTD_JOB_SIZE: u32 = 4 << 20;

impl<'a> LayerSink<'a> {
    pub fn new(out: &'a mut dyn Write, compression: &Compression) -> io::Result<Self> {
        let w = HashingWriter::new(out);
        let comp = match *compression {
            Compression::None => Compressor::None(w),
            Compression::Gzip { level } => Compressor::Gzip(ParallelGzip::new(
                w,
                level,
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )),
            Compression::Zstd { level } => {
                let mut e = zstd::stream::Encoder::new(w, level)?;
                e.multithread(ZSTD_WORKERS)?;
                e.set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB_SIZE))?;
                e.include_checksum(true)?;
                Compressor::Zstd(e)
            }
        };
        Ok(LayerSink {
            diff: DigestHasher::new(),
            comp,
        })
    }

    /// Ends the compressed stream; returns (diffID, digest, compressed size).
    pub fn finish(self) -> io::Result<(Digest, Digest, u64)> {
        let w = match self.comp {
            Compressor::None(w) => w,
            Compressor::Gzip(g) => g.finish()?,
            Compressor::Zstd(e) => e.finish()?,
        };
        let (digest, size, out) = w.finish();
        out.flush()?;
        Ok((self.diff.finish(), digest, size))
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
