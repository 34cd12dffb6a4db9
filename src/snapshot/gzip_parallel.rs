//! Deterministic multi-threaded gzip (pigz style): the stream is cut into fixed-size blocks,
//! each compressed as raw deflate on a worker with the previous block's last 32 KiB as its
//! dictionary, ended by a sync flush so the pieces concatenate; the CRC32s are combined. Block
//! boundaries depend only on the byte count and each block's output only on its bytes, so the
//! result is the same for any number of threads and any write() chunking.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, FlushCompress, Status};

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
    /// The input buffer, handed back for reuse.
    data: Vec<u8>,
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
    pending: BTreeMap<u64, (Vec<u8>, crc32fast::Hasher)>,
    crc: crc32fast::Hasher,
    total_in: u64,
    pool: Option<Pool>,
    header_written: bool,
}

struct Pool {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
}

impl<W: Write> ParallelGzip<W> {
    /// `threads` only changes speed, never the output; 1 compresses on the caller's thread.
    pub fn new(out: W, level: u32, threads: usize) -> Self {
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
        }
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
            let done = run_job(job, self.level);
            self.accept(done)?;
            return self.flush_ready();
        }
        if self.pool.is_none() {
            self.pool = Some(Pool::start(self.threads, self.level));
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
        let out = done.out?;
        let mut data = done.data;
        data.clear();
        if self.spare.len() < 2 {
            self.spare.push(data);
        }
        self.pending.insert(done.seq, (out, done.crc));
        Ok(())
    }

    fn flush_ready(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.out.write_all(&HEADER)?;
            self.header_written = true;
        }
        while let Some((out, crc)) = self.pending.remove(&self.next_write) {
            self.out.write_all(&out)?;
            self.crc.combine(&crc);
            self.next_write += 1;
        }
        Ok(())
    }

    /// Compresses what is left, writes the gzip trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.dispatch(true)?;
        debug_assert_eq!(self.in_flight(), 0);
        let crc = self.crc.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.write_all(&(self.total_in as u32).to_le_bytes())?;
        if let Some(mut pool) = self.pool.take() {
            pool.stop();
        }
        // `self` implements Drop-free fields only, so moving `out` out is fine.
        Ok(self.out)
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
    fn start(threads: usize, level: u32) -> Pool {
        let (jobs_tx, jobs_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel::<Done>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&jobs_rx);
                let tx = done_tx.clone();
                std::thread::spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    if tx.send(run_job(job, level)).is_err() {
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

fn run_job(job: Job, level: u32) -> Done {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&job.data);
    let out = deflate_block(&job.data, job.dict.as_deref(), job.last, level);
    Done {
        seq: job.seq,
        out,
        crc,
        data: job.data,
    }
}

/// Samples probed to decide that a block is not worth compressing.
const SAMPLES: usize = 8;
const SAMPLE_SIZE: usize = 8 * 1024;

/// Whether every one of a few samples spread over `data` fails to shrink at level 1: then the
/// block is most likely already-compressed or random data, and deflating it at the requested
/// level would cost time (it is deflate's slowest input) to gain nothing. The probe reads only
/// the block's bytes, so the decision, like the output, is deterministic.
fn looks_incompressible(data: &[u8]) -> bool {
    if data.len() < SAMPLES * SAMPLE_SIZE {
        return false;
    }
    let stride = data.len() / SAMPLES;
    let mut out = Vec::with_capacity(SAMPLE_SIZE + SAMPLE_SIZE / 8 + 64);
    (0..SAMPLES).all(|i| {
        let sample = &data[i * stride..i * stride + SAMPLE_SIZE];
        let mut c = Compress::new(flate2::Compression::fast(), false);
        out.clear();
        match c.compress_vec(sample, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => out.len() >= sample.len(),
            // Output did not even fit in the bound: certainly incompressible.
            Ok(_) => true,
            Err(_) => false,
        }
    })
}

/// Raw deflate of one block; a sync flush (byte-aligned, not final) unless it is the last.
/// Blocks that look incompressible are written as stored blocks (deflate level 0).
fn deflate_block(data: &[u8], dict: Option<&[u8]>, last: bool, level: u32) -> io::Result<Vec<u8>> {
    let level = if level > 0 && looks_incompressible(data) {
        0
    } else {
        level
    };
    let mut c = Compress::new(flate2::Compression::new(level), false);
    if let (Some(d), true) = (dict, level > 0) {
        c.set_dictionary(d).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 64);
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done_input = c.total_in() as usize == data.len();
        let room_left = out.len() < out.capacity();
        match status {
            Status::StreamEnd => break,
            _ if !last && done_input && room_left => break,
            _ => out.reserve(out.capacity().max(4096)),
        }
    }
    Ok(out)
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
        // (name, data, looks incompressible)
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            ("random", random(BLOCK_SIZE), true),
            ("text", text(BLOCK_SIZE), false),
            ("half random, half text", half, false),
            ("small random", random(1000), false),
        ];
        for (name, data, want) in cases {
            assert_eq!(looks_incompressible(&data), want, "{name}");
            let out = deflate_block(&data, None, true, 6).unwrap();
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(&out[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == data, "{name}: round trip");
            if want {
                // Stored: the data plus 5 bytes of framing per 64 KiB or less.
                assert!(
                    out.len() <= data.len() + 5 * (data.len() / 16000 + 1),
                    "{name}"
                );
            }
        }
    }
}
