//! Deterministic multi-threaded gzip (pigz style): the stream is cut into fixed-size blocks,
//! each compressed as raw deflate on a worker with the previous block's last 32 KiB as its
//! dictionary, ended by a sync flush so the pieces concatenate; the CRC32s are combined. Block
//! boundaries depend only on the byte count and the caller's cuts, and each block's output only
//! on its bytes and dictionary, so the result is the same for any number of threads and any
//! write() chunking.
//!
//! The caller may also cut the stream ([`ParallelGzip::cut`]) where a chunk of its own pays
//! off, and give a [`ChunkSource`] of earlier chunks, whose bytes are copied instead of deflated
//! again when a chunk's key matches (see `chunks`). [`ParallelGzip::finish`] lists the chunks
//! written, for the index of the blob.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, FlushCompress, Status};

use super::chunks::{chunk_key, ChunkEntry, ChunkKey, ChunkSource, REUSE_MIN};

/// Uncompressed bytes per block.
pub const BLOCK_SIZE: usize = 1 << 20;
/// The deflate window: how much of the previous block primes the next one.
const DICT_SIZE: usize = 32 * 1024;

/// gzip member header: magic, CM=deflate, no flags, MTIME=0, XFL=0, OS=255 (unknown), the
/// same fixed bytes Go's compress/gzip writes, so nothing about the host or time leaks in.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

struct Job {
    seq: u64,
    dict: Option<Vec<u8>>,
    data: Vec<u8>,
    last: bool,
}

struct Done {
    seq: u64,
    out: io::Result<Vec<u8>>,
    crc: crc32fast::Hasher,
    key: ChunkKey,
    raw_len: usize,
    /// The input buffer, handed back for reuse.
    data: Vec<u8>,
}

/// A compressed chunk waiting for the ones before it to be written.
struct Ready {
    out: Vec<u8>,
    crc: crc32fast::Hasher,
    key: ChunkKey,
    raw_len: usize,
}

/// A `Write` that gzips into `W`. Call [`ParallelGzip::finish`] to write the trailer.
pub struct ParallelGzip<W: Write> {
    out: W,
    level: u32,
    threads: usize,
    block: Vec<u8>,
    spare: Vec<Vec<u8>>,
    prev_tail: Option<Vec<u8>>,
    next_seq: u64,
    next_write: u64,
    pending: BTreeMap<u64, Ready>,
    crc: crc32fast::Hasher,
    total_in: u64,
    pool: Option<Pool>,
    header_written: bool,
    source: Option<Arc<dyn ChunkSource>>,
    /// Compressed bytes written so far, the header included.
    total_out: u64,
    chunks: Vec<ChunkEntry>,
}

struct Pool {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
}

impl<W: Write> ParallelGzip<W> {
    /// `threads` only changes speed, never the output; 1 compresses on the caller's thread.
    pub fn new(out: W, level: u32, threads: usize) -> Self {
        Self::with_source(out, level, threads, None)
    }

    /// Like [`ParallelGzip::new`], taking chunks whose key matches from `source`.
    pub fn with_source(
        out: W,
        level: u32,
        threads: usize,
        source: Option<Arc<dyn ChunkSource>>,
    ) -> Self {
        ParallelGzip {
            out,
            level: level.min(9),
            threads: threads.max(1),
            block: Vec::with_capacity(BLOCK_SIZE),
            spare: Vec::new(),
            prev_tail: None,
            next_seq: 0,
            next_write: 0,
            pending: BTreeMap::new(),
            crc: crc32fast::Hasher::new(),
            total_in: 0,
            pool: None,
            header_written: false,
            source,
            total_out: 0,
            chunks: Vec::new(),
        }
    }

    /// Ends the current chunk here (nothing happens when it is empty); with `fresh`, the next
    /// chunk starts without a dictionary, so its compressed bytes depend on its own bytes only.
    pub fn cut(&mut self, fresh: bool) -> io::Result<()> {
        if !self.block.is_empty() {
            self.dispatch(false)?;
        }
        if fresh {
            self.prev_tail = None;
        }
        Ok(())
    }

    fn in_flight(&self) -> u64 {
        self.next_seq - self.next_write
    }

    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        let fresh = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BLOCK_SIZE));
        let data = std::mem::replace(&mut self.block, fresh);
        let dict = self.prev_tail.take();
        if !last {
            self.prev_tail = Some(data[data.len().saturating_sub(DICT_SIZE)..].to_vec());
        }
        let job = Job {
            seq: self.next_seq,
            dict,
            data,
            last,
        };
        self.next_seq += 1;
        if self.threads == 1 || (last && self.pool.is_none()) {
            // Small streams (one block) never pay for threads.
            let done = run_job(job, self.level, self.source.as_deref());
            self.accept(done)?;
            return self.flush_ready();
        }
        if self.pool.is_none() {
            self.pool = Some(Pool::start(self.threads, self.level, self.source.clone()));
        }
        let pool = self.pool.as_ref().expect("pool started");
        pool.jobs
            .as_ref()
            .expect("jobs open")
            .send(job)
            .map_err(|_| io::Error::other("gzip worker exited"))?;
        // Keep a bounded number of blocks in memory: wait while too many are queued.
        let limit = 2 * self.threads as u64 + 1;
        while self.in_flight() >= limit || (last && self.in_flight() > 0) {
            let done = self
                .pool
                .as_ref()
                .expect("pool started")
                .done
                .recv()
                .map_err(|_| io::Error::other("gzip worker exited"))?;
            self.accept(done)?;
            self.flush_ready()?;
        }
        while let Some(done) = self.pool.as_ref().and_then(|p| p.done.try_recv().ok()) {
            self.accept(done)?;
            self.flush_ready()?;
        }
        Ok(())
    }

    fn accept(&mut self, done: Done) -> io::Result<()> {
        let Done {
            seq,
            out,
            crc,
            key,
            raw_len,
            mut data,
        } = done;
        let out = out?;
        data.clear();
        if self.spare.len() < 2 {
            self.spare.push(data);
        }
        self.pending.insert(
            seq,
            Ready {
                out,
                crc,
                key,
                raw_len,
            },
        );
        Ok(())
    }

    fn flush_ready(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.out.write_all(&HEADER)?;
            self.header_written = true;
            self.total_out = HEADER.len() as u64;
        }
        while let Some(done) = self.pending.remove(&self.next_write) {
            let out = done.out;
            self.out.write_all(&out)?;
            if done.raw_len >= REUSE_MIN {
                self.chunks.push(ChunkEntry {
                    key: done.key,
                    offset: self.total_out,
                    len: out.len() as u32,
                    crc: done.crc.clone().finalize(),
                    raw_len: done.raw_len as u32,
                });
            }
            self.total_out += out.len() as u64;
            self.crc.combine(&done.crc);
            self.next_write += 1;
        }
        Ok(())
    }

    /// Compresses what is left, writes the gzip trailer and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        Ok(self.finish_with_chunks()?.0)
    }

    /// Like [`ParallelGzip::finish`], also returning the chunks of at least `REUSE_MIN` bytes.
    pub fn finish_with_chunks(mut self) -> io::Result<(W, Vec<ChunkEntry>)> {
        self.dispatch(true)?;
        debug_assert_eq!(self.in_flight(), 0);
        let crc = self.crc.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.write_all(&(self.total_in as u32).to_le_bytes())?;
        if let Some(mut pool) = self.pool.take() {
            pool.stop();
        }
        // `self` implements Drop-free fields only, so moving `out` out is fine.
        Ok((self.out, self.chunks))
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        self.total_in += n as u64;
        while !buf.is_empty() {
            // A full block is only sent once more data arrives, so the final block (the one
            // that carries the deflate end marker) is never empty unless the stream is.
            if self.block.len() == BLOCK_SIZE {
                self.dispatch(false)?;
            }
            let take = (BLOCK_SIZE - self.block.len()).min(buf.len());
            self.block.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Pool {
    fn start(threads: usize, level: u32, source: Option<Arc<dyn ChunkSource>>) -> Pool {
        let (jobs_tx, jobs_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel::<Done>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&jobs_rx);
                let tx = done_tx.clone();
                let source = source.clone();
                std::thread::spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    if tx.send(run_job(job, level, source.as_deref())).is_err() {
                        return;
                    }
                })
            })
            .collect();
        Pool {
            jobs: Some(jobs_tx),
            done: done_rx,
            workers,
        }
    }

    fn stop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run_job(job: Job, level: u32, source: Option<&dyn ChunkSource>) -> Done {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&job.data);
    let key = chunk_key(level, job.last, job.dict.as_deref(), &job.data);
    let reused = match source {
        Some(src) if job.data.len() >= REUSE_MIN => {
            src.fetch(&key, crc.clone().finalize(), job.data.len() as u32)
        }
        _ => None,
    };
    let out = match reused {
        Some(bytes) => Ok(bytes),
        None => deflate_block(&job.data, job.dict.as_deref(), job.last, level),
    };
    Done {
        seq: job.seq,
        out,
        crc,
        key,
        raw_len: job.data.len(),
        data: job.data,
    }
}

/// Blocks are classified in segments of this size: a tar stream interleaves files, and one
/// block often holds both an already-compressed file and text.
const SEGMENT: usize = 64 * 1024;
/// Bytes of a segment probed at level 1, taken at its start and middle.
const PROBE: usize = 4 * 1024;
/// A probe that shrinks by less than this fraction (in 1/100) counts as incompressible.
const MIN_SAVING_PERCENT: usize = 3;

/// Whether `seg` is most likely random or already-compressed data: both probes fail to
/// shrink by 3% at level 1. Deflating such data at the requested level is deflate's slowest
/// case and gains nothing, so it is written as stored blocks instead. The probe reads only
/// the segment's bytes, so the decision, like the output, is deterministic.
fn looks_incompressible(seg: &[u8], probe: &mut Compress, out: &mut Vec<u8>) -> bool {
    if seg.len() < 4 * PROBE {
        return false;
    }
    let mid = seg.len() / 2;
    [&seg[..PROBE], &seg[mid..mid + PROBE]]
        .iter()
        .all(|sample| {
            probe.reset();
            out.clear();
            match probe.compress_vec(sample, out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => {
                    out.len() * 100 >= sample.len() * (100 - MIN_SAVING_PERCENT)
                }
                // Output did not even fit in the bound: certainly incompressible.
                Ok(_) => true,
                Err(_) => false,
            }
        })
}

/// Consecutive segments of one kind: `(start, end, stored)`, covering `data` in order.
fn runs(data: &[u8], level: u32) -> Vec<(usize, usize, bool)> {
    let mut probe = Compress::new(flate2::Compression::fast(), false);
    let mut scratch = Vec::with_capacity(2 * PROBE);
    let mut runs: Vec<(usize, usize, bool)> = Vec::new();
    for (i, seg) in data.chunks(SEGMENT).enumerate() {
        let stored = level == 0 || looks_incompressible(seg, &mut probe, &mut scratch);
        let start = i * SEGMENT;
        match runs.last_mut() {
            Some(run) if run.2 == stored => run.1 = start + seg.len(),
            _ => runs.push((start, start + seg.len(), stored)),
        }
    }
    if runs.is_empty() {
        // An empty stream still needs its final block, from the compressor.
        runs.push((0, 0, false));
    }
    runs
}

/// Appends `data` as deflate stored blocks; the stream is byte-aligned here (block starts and
/// sync flushes leave it so). The final empty stored block is added by the caller.
fn write_stored(out: &mut Vec<u8>, data: &[u8]) {
    for piece in data.chunks(u16::MAX as usize) {
        let len = piece.len() as u16;
        // BFINAL=0, BTYPE=00 and five bits of padding, then LEN and its complement.
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(piece);
    }
}

/// The last 32 KiB before `at`: from the block itself, topped up by the previous block's tail.
fn dictionary_before(data: &[u8], dict: Option<&[u8]>, at: usize) -> Option<Vec<u8>> {
    let own = &data[at.saturating_sub(DICT_SIZE)..at];
    let need = DICT_SIZE - own.len();
    let prev = dict.map_or(&[][..], |d| &d[d.len().saturating_sub(need)..]);
    if prev.is_empty() && own.is_empty() {
        return None;
    }
    let mut v = Vec::with_capacity(prev.len() + own.len());
    v.extend_from_slice(prev);
    v.extend_from_slice(own);
    Some(v)
}

/// Raw deflate of one block; a sync flush (byte-aligned, not final) unless it is the last.
/// Segments that look incompressible are written as stored blocks; each run of compressible
/// segments is deflated with the 32 KiB before it as its dictionary.
fn deflate_block(data: &[u8], dict: Option<&[u8]>, last: bool, level: u32) -> io::Result<Vec<u8>> {
    let runs = runs(data, level);
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 64);
    let n = runs.len();
    for (i, (start, end, stored)) in runs.into_iter().enumerate() {
        let final_run = last && i + 1 == n;
        if stored {
            write_stored(&mut out, &data[start..end]);
            if final_run {
                // An empty stored block with BFINAL set ends the stream.
                out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
            }
            continue;
        }
        let mut c = Compress::new(flate2::Compression::new(level), false);
        if let Some(d) = dictionary_before(data, dict, start) {
            c.set_dictionary(&d).map_err(io::Error::other)?;
        }
        deflate_run(&mut c, &data[start..end], final_run, &mut out)?;
    }
    Ok(out)
}

/// Deflates `data` onto `out`, ending with a sync flush, or the final block when `last`.
fn deflate_run(c: &mut Compress, data: &[u8], last: bool, out: &mut Vec<u8>) -> io::Result<()> {
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let base = c.total_in() as usize;
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = c.total_in() as usize - base;
        let status = c
            .compress_vec(&data[consumed..], out, flush)
            .map_err(io::Error::other)?;
        let done_input = c.total_in() as usize - base == data.len();
        let room_left = out.len() < out.capacity();
        match status {
            Status::StreamEnd => return Ok(()),
            _ if !last && done_input && room_left => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gz(data: &[u8], threads: usize, chunk: usize) -> Vec<u8> {
        let mut g = ParallelGzip::new(Vec::new(), 6, threads);
        for c in data.chunks(chunk.max(1)) {
            g.write_all(c).unwrap();
        }
        g.finish().unwrap()
    }

    fn sample(n: usize) -> Vec<u8> {
        // Half compressible text, half pseudo-random bytes.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        (0..n)
            .map(|i| {
                if (i / 100_000) % 2 == 0 {
                    b"the quick brown fox "[i % 20]
                } else {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                }
            })
            .collect()
    }

    #[test]
    fn same_bytes_for_any_threads_and_chunking_and_round_trips() {
        // (length, threads, write chunk)
        let sizes = [
            0,
            1,
            BLOCK_SIZE - 1,
            BLOCK_SIZE,
            BLOCK_SIZE + 1,
            3 * BLOCK_SIZE + 12345,
        ];
        for len in sizes {
            let data = sample(len);
            let reference = gz(&data, 1, 1 << 16);
            for (threads, chunk) in [(2, 7777), (3, BLOCK_SIZE), (4, 100_000)] {
                assert!(
                    gz(&data, threads, chunk) == reference,
                    "len {len} threads {threads}"
                );
            }
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&reference[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == data, "len {len}: round trip differs");
            assert_eq!(&reference[..10], &HEADER);
        }
    }

    #[test]
    fn incompressible_probe_table() {
        let random = |n: usize| {
            let mut x: u64 = 0x243f6a8885a308d3;
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 32) as u8
                })
                .collect::<Vec<u8>>()
        };
        let text = |n: usize| {
            b"lorem ipsum dolor sit amet "
                .iter()
                .copied()
                .cycle()
                .take(n)
                .collect::<Vec<u8>>()
        };
        let mut half = random(BLOCK_SIZE / 2);
        half.extend(text(BLOCK_SIZE / 2));
        // A tar-like mix: text, a random file, text again, on segment-unaligned offsets.
        let mut mixed = text(10_000);
        mixed.extend(random(300_000));
        mixed.extend(text(200_000));
        let seg = SEGMENT;
        // (name, data, expected runs as (start, end, stored))
        type Runs = Vec<(usize, usize, bool)>;
        let cases: Vec<(&str, Vec<u8>, Runs)> = vec![
            ("random", random(BLOCK_SIZE), vec![(0, BLOCK_SIZE, true)]),
            ("text", text(BLOCK_SIZE), vec![(0, BLOCK_SIZE, false)]),
            (
                "half random, half text",
                half,
                vec![
                    (0, BLOCK_SIZE / 2, true),
                    (BLOCK_SIZE / 2, BLOCK_SIZE, false),
                ],
            ),
            // The first segment starts with text: compressed. The fifth is random where it is
            // probed, so its 17,680 bytes of text are stored with it.
            (
                "text, random, text",
                mixed,
                vec![
                    (0, seg, false),
                    (seg, 5 * seg, true),
                    (5 * seg, 510_000, false),
                ],
            ),
            ("small random", random(1000), vec![(0, 1000, false)]),
            ("empty", Vec::new(), vec![(0, 0, false)]),
        ];
        for (name, data, want) in cases {
            assert_eq!(runs(&data, 6), want, "{name}");
            let stored: usize = want.iter().filter(|r| r.2).map(|r| r.1 - r.0).sum();
            for dict in [None, Some(&text(DICT_SIZE)[..])] {
                for last in [true, false] {
                    let mut out = deflate_block(&data, dict, last, 6).unwrap();
                    if !last {
                        // End the stream so a decoder accepts it.
                        out.extend_from_slice(&[3, 0]);
                    }
                    let mut d = flate2::Decompress::new(false);
                    if let Some(dict) = dict {
                        // A raw-deflate decoder needs the same window: decode it first.
                        let mut pre = Vec::new();
                        write_stored(&mut pre, dict);
                        let mut sink = Vec::with_capacity(dict.len());
                        d.decompress_vec(&pre, &mut sink, flate2::FlushDecompress::Sync)
                            .unwrap();
                    }
                    let before = d.total_out() as usize;
                    let mut back = Vec::with_capacity(data.len() + 1);
                    d.decompress_vec(&out, &mut back, flate2::FlushDecompress::Finish)
                        .unwrap();
                    assert_eq!(d.total_out() as usize - before, data.len(), "{name}");
                    assert!(back == data, "{name}: round trip (dict {})", dict.is_some());
                }
            }
            // Stored segments cost their bytes plus 5 bytes of framing per 64 KiB or less.
            let out = deflate_block(&data, None, true, 6).unwrap();
            assert!(out.len() >= stored, "{name}");
            if stored == data.len() {
                assert!(
                    out.len() <= data.len() + 5 * (data.len() / 65535 + 2),
                    "{name}"
                );
            }
        }
    }

    /// A source holding the chunks of earlier outputs, counting what it hands out.
    #[derive(Default)]
    struct Earlier {
        chunks: Mutex<std::collections::HashMap<ChunkKey, (ChunkEntry, Vec<u8>)>>,
        hits: std::sync::atomic::AtomicUsize,
    }

    impl Earlier {
        fn remember(&self, out: &[u8], entries: &[ChunkEntry]) {
            let mut m = self.chunks.lock().unwrap();
            for e in entries {
                let bytes = out[e.offset as usize..e.offset as usize + e.len as usize].to_vec();
                m.insert(e.key, (*e, bytes));
            }
        }
    }

    impl ChunkSource for Earlier {
        fn fetch(&self, key: &ChunkKey, crc: u32, raw_len: u32) -> Option<Vec<u8>> {
            let m = self.chunks.lock().unwrap();
            let (e, bytes) = m.get(key)?;
            (e.crc == crc && e.raw_len == raw_len).then(|| {
                self.hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                bytes.clone()
            })
        }
    }

    /// Writes `pieces` with a cut before each piece flagged `fresh`; returns the gzip bytes,
    /// the chunk entries and the plain bytes.
    fn gz_pieces(
        pieces: &[(&[u8], bool)],
        threads: usize,
        source: Option<Arc<dyn ChunkSource>>,
    ) -> (Vec<u8>, Vec<ChunkEntry>, Vec<u8>) {
        let mut g = ParallelGzip::with_source(Vec::new(), 5, threads, source);
        let mut plain = Vec::new();
        for (data, fresh) in pieces {
            if *fresh {
                g.cut(true).unwrap();
            }
            for c in data.chunks(100_000) {
                g.write_all(c).unwrap();
            }
            if *fresh {
                g.cut(false).unwrap();
            }
            plain.extend_from_slice(data);
        }
        let (out, entries) = g.finish_with_chunks().unwrap();
        (out, entries, plain)
    }

    #[test]
    fn reused_chunks_give_the_same_bytes_as_compressing() {
        let big = sample(3 * BLOCK_SIZE + 4321);
        let head_a = sample(70_000);
        let head_b: Vec<u8> = b"another prefix, another length ".repeat(3000);
        let tail = sample(200_000);
        let earlier = Arc::new(Earlier::default());
        // The big piece sits after a different prefix the second time, as a file copied to
        // another path or after a changed file does.
        let first: Vec<(&[u8], bool)> = vec![(&head_a, false), (&big, true), (&tail, false)];
        let (out_a, entries_a, _) = gz_pieces(&first, 2, None);
        assert!(entries_a.iter().all(|e| e.raw_len as usize >= REUSE_MIN));
        earlier.remember(&out_a, &entries_a);
        let second: Vec<(&[u8], bool)> = vec![(&head_b, false), (&big, true), (&tail, false)];
        let src: Arc<dyn ChunkSource> = earlier.clone();
        let (reused, entries_b, plain) = gz_pieces(&second, 2, Some(src));
        let (fresh, entries_fresh, _) = gz_pieces(&second, 1, None);
        assert!(reused == fresh, "reuse changed the output");
        assert_eq!(entries_b, entries_fresh);
        // The big piece's three full blocks came from the first output (its 4,321-byte end is
        // below REUSE_MIN); the tail follows the prefix-independent big piece, so it matches.
        let hits = earlier.hits.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(hits, 4, "chunks reused");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&reused[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == plain, "round trip");
        // Offsets index the blob itself.
        for e in &entries_b {
            assert!(e.offset as usize + e.len as usize <= reused.len());
        }
    }
}
