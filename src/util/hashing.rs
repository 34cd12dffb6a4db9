//! Readers and writers that compute a sha256 `Digest` and count bytes as data passes through.

use std::io::{self, Read, Write};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::digest::{Digest, DigestHasher};

/// A sha256 fed in pieces: in place ([`DigestHasher`]) or on a thread ([`BackgroundHasher`]).
pub trait StreamHasher {
    fn update(&mut self, data: &[u8]);
    fn finish(self) -> Digest;
}

impl StreamHasher for DigestHasher {
    fn update(&mut self, data: &[u8]) {
        DigestHasher::update(self, data)
    }
    fn finish(self) -> Digest {
        DigestHasher::finish(self)
    }
}

/// Wraps a writer; every byte written is hashed and counted.
pub struct HashingWriter<W, H = DigestHasher> {
    inner: W,
    hasher: H,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self::with_hasher(inner, DigestHasher::new())
    }
}

impl<W: Write, H: StreamHasher> HashingWriter<W, H> {
    pub fn with_hasher(inner: W, hasher: H) -> Self {
        HashingWriter {
            inner,
            hasher,
            written: 0,
        }
    }
    pub fn written(&self) -> u64 {
        self.written
    }
    pub fn get_ref(&self) -> &W {
        &self.inner
    }
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
    /// The digest and size of everything written, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (self.hasher.finish(), self.written, self.inner)
    }
}

impl<W: Write, H: StreamHasher> Write for HashingWriter<W, H> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Wraps a reader; every byte read is hashed and counted.
pub struct HashingReader<R> {
    inner: R,
    hasher: DigestHasher,
    read: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: DigestHasher::new(),
            read: 0,
        }
    }
    pub fn bytes_read(&self) -> u64 {
        self.read
    }
    /// The digest and size of everything read so far.
    pub fn finish(self) -> (Digest, u64) {
        (self.hasher.finish(), self.read)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Bytes per batch handed to a [`BackgroundHasher`]'s thread.
const BATCH: usize = 1 << 20;

/// A sha256 computed on a thread of its own once the input passes one batch: `update` copies
/// the bytes into 1 MiB batches for that thread, so a producer that is itself the bottleneck
/// (the layer writer's reading thread, which hashes both the tar and the compressed stream)
/// does not also hash. Smaller inputs are hashed in place, with no thread.
pub struct BackgroundHasher {
    batch: Vec<u8>,
    inline: Option<DigestHasher>,
    worker: Option<Worker>,
}

struct Worker {
    tx: SyncSender<Vec<u8>>,
    back: Receiver<Vec<u8>>,
    handle: JoinHandle<Digest>,
}

impl Default for BackgroundHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl BackgroundHasher {
    pub fn new() -> Self {
        BackgroundHasher {
            batch: Vec::new(),
            inline: Some(DigestHasher::new()),
            worker: None,
        }
    }

    fn send(&mut self) {
        let worker = self.worker.get_or_insert_with(|| {
            let (tx, rx) = sync_channel::<Vec<u8>>(4);
            let (back_tx, back) = channel();
            let handle = std::thread::spawn(move || {
                let mut h = DigestHasher::new();
                for buf in rx {
                    h.update(&buf);
                    // The producer may be gone; the buffer is then just dropped.
                    let _ = back_tx.send(buf);
                }
                h.finish()
            });
            Worker { tx, back, handle }
        });
        let fresh = match worker.back.try_recv() {
            Ok(mut v) => {
                v.clear();
                v
            }
            Err(_) => Vec::with_capacity(BATCH),
        };
        let full = std::mem::replace(&mut self.batch, fresh);
        // The thread only ends when the sender is dropped (in `finish`), so this cannot fail
        // unless it panicked, which `finish` reports.
        let _ = worker.tx.send(full);
        self.inline = None;
    }
}

impl StreamHasher for BackgroundHasher {
    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.batch.capacity() == 0 {
                self.batch.reserve_exact(BATCH);
            }
            let take = (BATCH - self.batch.len()).min(data.len());
            self.batch.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.batch.len() == BATCH {
                self.send();
            }
        }
    }

    fn finish(mut self) -> Digest {
        if let Some(mut h) = self.inline.take() {
            h.update(&self.batch);
            return h.finish();
        }
        if !self.batch.is_empty() {
            self.send();
        }
        let w = self
            .worker
            .take()
            .expect("a hasher without inline state has a worker");
        drop(w.tx);
        w.handle.join().expect("the sha256 thread does not panic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_agree_with_one_shot_digest() {
        let data = b"strata hashing".repeat(1000);
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (d, n, out) = w.finish();
        assert_eq!(d, Digest::of(&data));
        assert_eq!(n, data.len() as u64);
        assert_eq!(out, data);

        let mut r = HashingReader::new(&data[..]);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.finish(), (Digest::of(&data), data.len() as u64));
    }

    #[test]
    fn background_hasher_agrees_for_any_size_and_chunking() {
        let data: Vec<u8> = (0..3 * BATCH + 777).map(|i| (i * 7 % 251) as u8).collect();
        // (length, write chunk): below one batch (hashed in place), exactly one, several.
        for (len, chunk) in [(0, 1), (1000, 7), (BATCH, 4096), (3 * BATCH + 777, 100_000)] {
            let mut h = BackgroundHasher::new();
            for c in data[..len].chunks(chunk) {
                h.update(c);
            }
            assert_eq!(h.finish(), Digest::of(&data[..len]), "len {len}");
            let mut w = HashingWriter::with_hasher(Vec::new(), BackgroundHasher::new());
            w.write_all(&data[..len]).unwrap();
            let (d, n, out) = w.finish();
            assert_eq!((d, n), (Digest::of(&data[..len]), len as u64));
            assert!(out == data[..len]);
        }
    }
}
