//! A container's log as Docker's `json-file` driver keeps it: one JSON object per line of
//! output, `{"log":"text\n","stream":"stdout","time":"…Z"}`, so `logs` can keep stdout and
//! stderr apart, show timestamps and select by time. Written by the process that owns the
//! container's output (the supervisor, or a foreground `run`), read by `logs`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Which descriptor a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The line with its newline (a partial line at the end of the output has none).
    pub log: String,
    pub stream: Stream,
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
}

impl Entry {
    /// Unix nanoseconds of `time` (0 when it does not parse).
    pub fn time_ns(&self) -> i128 {
        parse_time_ns(&self.time).unwrap_or(0)
    }
}

/// Docker cuts a line longer than this into several records.
const MAX_RECORD: usize = 16 * 1024;

/// The log file, shared by the threads copying stdout and stderr: each record is one `write`
/// under the lock, so lines of the two streams never interleave.
#[derive(Clone)]
pub struct LogSink {
    file: Arc<Mutex<File>>,
}

impl LogSink {
    /// Opens `path` for appending, creating it.
    pub fn open(path: &Path) -> io::Result<LogSink> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(LogSink {
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Appends one record.
    pub fn record(&self, stream: Stream, line: &[u8]) -> io::Result<()> {
        let entry = Entry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream,
            // Docker's fixed nine fractional digits.
            time: super::create::now_precise(),
        };
        let mut buf = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        buf.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.write_all(&buf)
    }
}

/// Copies `from` until end of file, recording it line by line as `stream` and writing the raw
/// bytes to `tee` as well (a foreground `run` shows them while logging them). A write error on
/// `tee` (a closed pipe) stops the tee, never the logging.
pub fn copy_into(
    mut from: impl Read,
    stream: Stream,
    sink: &LogSink,
    mut tee: Option<&mut dyn Write>,
) {
    let mut buf = [0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A pty master reads EIO once every slave is closed.
            Err(_) => break,
        };
        if let Some(t) = tee.as_mut() {
            if t.write_all(&buf[..n]).and_then(|()| t.flush()).is_err() {
                tee = None;
            }
        }
        pending.extend_from_slice(&buf[..n]);
        for line in take_records(&mut pending) {
            let _ = sink.record(stream, &line);
        }
    }
    if !pending.is_empty() {
        let _ = sink.record(stream, &pending);
    }
}

/// Splits complete lines (and over-long pieces) off the front of `pending`.
fn take_records(pending: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match pending.iter().position(|b| *b == b'\n') {
            Some(i) if i < MAX_RECORD => out.push(pending.drain(..=i).collect()),
            _ if pending.len() >= MAX_RECORD => out.push(pending.drain(..MAX_RECORD).collect()),
            _ => return out,
        }
    }
}

/// Which records `logs` shows and how.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Show stdout / stderr records.
    pub stdout: bool,
    pub stderr: bool,
    /// Unix nanoseconds: records at or after `since`, before `until`.
    pub since: Option<i128>,
    pub until: Option<i128>,
    /// Only the last N of the selected records.
    pub tail: Option<usize>,
    /// Prefix each line with its time.
    pub timestamps: bool,
    /// Prefix each line with the log's extra attributes (none are kept, as with a container
    /// run without `--log-opt labels/env`: Docker then prints a lone space).
    pub details: bool,
}

impl Query {
    pub fn wants(&self, e: &Entry) -> bool {
        let stream = match e.stream {
            Stream::Stdout => self.stdout,
            Stream::Stderr => self.stderr,
        };
        if !stream {
            return false;
        }
        let t = e.time_ns();
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    /// The bytes `logs` prints for a record.
    pub fn render(&self, e: &Entry) -> Vec<u8> {
        let mut out = Vec::with_capacity(e.log.len() + 32);
        if self.timestamps {
            out.extend_from_slice(e.time.as_bytes());
            out.push(b' ');
        }
        if self.details {
            out.push(b' ');
        }
        out.extend_from_slice(e.log.as_bytes());
        out
    }
}

/// Parses the records in `data`; a torn last line (the writer was killed mid-write) and
/// anything that is not a record are skipped.
pub fn parse(data: &[u8]) -> Vec<Entry> {
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

/// The records `q` selects, with its tail applied.
pub fn select<'a>(entries: &'a [Entry], q: &Query) -> Vec<&'a Entry> {
    let mut chosen: Vec<&Entry> = entries.iter().filter(|e| q.wants(e)).collect();
    if let Some(n) = q.tail {
        let skip = chosen.len().saturating_sub(n);
        chosen.drain(..skip);
    }
    chosen
}

/// Unix nanoseconds of an RFC 3339 time with an optional fraction.
pub fn parse_time_ns(s: &str) -> Option<i128> {
    let secs = crate::store::time::parse_rfc3339(s)? as i128;
    let frac = s
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .map(|rest| {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let mut padded = digits.chars().take(9).collect::<String>();
            while padded.len() < 9 {
                padded.push('0');
            }
            padded.parse::<i128>().unwrap_or(0)
        })
        .unwrap_or(0);
    Some(secs * 1_000_000_000 + frac)
}

/// Follows the log from record `seen` on: new records `q` selects go to `emit` every 100 ms
/// until `done()` says the container stopped (its last records are shown first) or `emit`
/// returns false.
pub fn follow(
    path: &Path,
    mut seen: usize,
    q: &Query,
    done: &mut dyn FnMut() -> bool,
    emit: &mut dyn FnMut(&Entry) -> bool,
) {
    loop {
        let finished = done();
        let entries = read(path).unwrap_or_default();
        for e in entries.iter().skip(seen) {
            if q.wants(e) && !emit(e) {
                return;
            }
        }
        seen = seen.max(entries.len());
        let past_until = q.until.is_some_and(|u| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i128)
                .unwrap_or(0);
            now >= u
        });
        if finished || past_until {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A log read through one open descriptor, record by record as they are appended. The
/// descriptor keeps the file readable after it is unlinked: the last records of a `--rm`
/// container are still there once its directory is gone.
pub struct Tail {
    file: File,
    /// The start of a record whose newline has not been written yet.
    partial: Vec<u8>,
}

impl Tail {
    /// From the start of the log at `path`; `None` when there is none.
    pub fn open(path: &Path) -> io::Result<Option<Tail>> {
        match File::open(path) {
            Ok(file) => Ok(Some(Tail {
                file,
                partial: Vec::new(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// From the end of the log at `path`, made empty if the container has none yet (its
    /// writer appends to the same file).
    pub fn open_at_end(path: &Path) -> io::Result<Tail> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        io::Seek::seek(&mut file, io::SeekFrom::End(0))?;
        Ok(Tail {
            file,
            partial: Vec::new(),
        })
    }

    /// The whole records appended since the last call.
    /// Back to the start of the log: the next `read_new` gives every record.
    pub fn rewind(&mut self) -> io::Result<()> {
        self.partial.clear();
        io::Seek::seek(&mut self.file, io::SeekFrom::Start(0)).map(|_| ())
    }

    pub fn read_new(&mut self) -> Vec<Entry> {
        let _ = self.file.read_to_end(&mut self.partial);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let done = std::mem::replace(&mut self.partial, rest);
        parse(&done)
    }
}

/// Reads and parses the whole log at `path` (an absent log is empty).
pub fn read(path: &Path) -> io::Result<Vec<Entry>> {
    match std::fs::read(path) {
        Ok(data) => Ok(parse(&data)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_reads_whole_records_and_outlives_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let rec = |s: &str| format!(r#"{{"log":"{s}\n","stream":"stdout","time":"t"}}"#);
        std::fs::write(&path, format!("{}\n", rec("old"))).unwrap();
        let mut tail = Tail::open_at_end(&path).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let whole = format!("{}\n", rec("a"));
        let (head, rest) = whole.split_at(10);
        // (bytes appended, the records read after them)
        let steps: &[(&str, &[&str])] = &[("", &[]), (head, &[]), (rest, &["a\n"])];
        for (bytes, want) in steps {
            f.write_all(bytes.as_bytes()).unwrap();
            let got: Vec<String> = tail.read_new().into_iter().map(|e| e.log).collect();
            assert_eq!(got, *want, "after {bytes:?}");
        }
        // Unlinked (a `--rm` container removed) and then written: still read.
        std::fs::remove_file(&path).unwrap();
        f.write_all(format!("{}\n", rec("last")).as_bytes())
            .unwrap();
        let got: Vec<String> = tail.read_new().into_iter().map(|e| e.log).collect();
        assert_eq!(got, ["last\n"]);
        assert!(Tail::open(&path).unwrap().is_none());
    }

    fn entry(log: &str, stream: Stream, time: &str) -> Entry {
        Entry {
            log: log.into(),
            stream,
            time: time.into(),
        }
    }

    #[test]
    fn records_are_docker_json_file_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let sink = LogSink::open(&path).unwrap();
        let mut shown = Vec::new();
        copy_into(
            &b"one\ntwo\npartial"[..],
            Stream::Stdout,
            &sink,
            Some(&mut shown),
        );
        copy_into(&b"err\n"[..], Stream::Stderr, &sink, None);
        assert_eq!(shown, b"one\ntwo\npartial");
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with(r#"{"log":"one\n","stream":"stdout","time":""#),
            "{first}"
        );
        let got = read(&path).unwrap();
        let logs: Vec<(&str, Stream)> = got.iter().map(|e| (e.log.as_str(), e.stream)).collect();
        assert_eq!(
            logs,
            [
                ("one\n", Stream::Stdout),
                ("two\n", Stream::Stdout),
                ("partial", Stream::Stdout),
                ("err\n", Stream::Stderr)
            ]
        );
        assert_eq!(got[0].time.len(), "2026-12-07T00:21:13.123456789Z".len());
    }

    #[test]
    fn long_lines_are_cut_into_records() {
        let mut pending = vec![b'x'; MAX_RECORD + 10];
        pending.extend_from_slice(b"\nab");
        let recs = take_records(&mut pending);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].len(), MAX_RECORD);
        assert_eq!(recs[1], b"xxxxxxxxxx\n");
        assert_eq!(pending, b"ab");
    }

    #[test]
    fn a_torn_record_is_skipped() {
        let data = b"{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:00.000000001Z\"}\n{\"log\":\"b";
        let got = parse(data);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].time_ns(), 1_767_225_600_000_000_001);
    }

    #[test]
    fn queries_select_streams_times_and_tails() {
        let t = |s: u32| format!("2026-01-01T00:00:{s:02}.500000000Z");
        let es = vec![
            entry("o1\n", Stream::Stdout, &t(1)),
            entry("e1\n", Stream::Stderr, &t(2)),
            entry("o2\n", Stream::Stdout, &t(3)),
            entry("o3\n", Stream::Stdout, &t(4)),
        ];
        let base = parse_time_ns(&t(0)).unwrap();
        let sec = 1_000_000_000i128;
        let all = Query {
            stdout: true,
            stderr: true,
            ..Query::default()
        };
        let logs =
            |q: &Query| -> Vec<String> { select(&es, q).iter().map(|e| e.log.clone()).collect() };
        let cases: Vec<(Query, Vec<&str>)> = vec![
            (all.clone(), vec!["o1\n", "e1\n", "o2\n", "o3\n"]),
            (
                Query {
                    stderr: false,
                    ..all.clone()
                },
                vec!["o1\n", "o2\n", "o3\n"],
            ),
            (
                Query {
                    stdout: false,
                    ..all.clone()
                },
                vec!["e1\n"],
            ),
            (
                Query {
                    since: Some(base + sec + sec / 2),
                    ..all.clone()
                },
                vec!["e1\n", "o2\n", "o3\n"],
            ),
            (
                Query {
                    until: Some(base + 2 * sec + sec / 2),
                    ..all.clone()
                },
                vec!["o1\n", "e1\n"],
            ),
            (
                Query {
                    tail: Some(2),
                    stderr: false,
                    ..all.clone()
                },
                vec!["o2\n", "o3\n"],
            ),
            (
                Query {
                    tail: Some(0),
                    ..all.clone()
                },
                vec![],
            ),
        ];
        for (q, want) in cases {
            assert_eq!(logs(&q), want, "{q:?}");
        }
        let q = Query {
            timestamps: true,
            details: true,
            ..all
        };
        assert_eq!(
            String::from_utf8(q.render(&es[0])).unwrap(),
            format!("{}  o1\n", t(1))
        );
    }

    #[test]
    fn fractions_parse_to_nanoseconds() {
        let cases = [
            ("1970-01-01T00:00:01Z", 1_000_000_000),
            ("1970-01-01T00:00:01.5Z", 1_500_000_000),
            ("1970-01-01T00:00:01.000000042Z", 1_000_000_042),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time_ns(s), Some(want), "{s}");
        }
        assert_eq!(parse_time_ns("nope"), None);
    }
}
