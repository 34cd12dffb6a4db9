//! The append-only event log behind `strata events`: one JSON line per event in Docker's
//! `EventMessage` shape under `<root>/events-v1/`, Docker's filter and `--since`/`--until` rules,
//! and a polling follower. The log is best-effort (no fsync) but never corrupt: each line is one
//! `write` on an `O_APPEND` fd, so concurrent strata processes never interleave, and readers skip
//! a torn line. Everything here is synchronous; `follow` blocks its caller.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::time::{format_rfc3339, parse_rfc3339};

const DIR: &str = "events-v1";
const CURRENT: &str = "events.jsonl";
const OLD: &str = "events.1.jsonl";
const LOCK: &str = "lock";
/// Size past which `events.jsonl` becomes `events.1.jsonl`; two generations bound the log.
pub const ROTATE_BYTES: u64 = 4 << 20;
const POLL: Duration = Duration::from_millis(100);
const NS: i128 = 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot lock {path}")]
    Lock {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("cannot encode event {0}")]
    Encode(String, #[source] serde_json::Error),
    #[error("bad format of filter {0:?} (expected name=value)")]
    FilterFormat(String),
    #[error("invalid filter '{0}'")]
    UnknownFilter(String),
    #[error("failed to parse value as time or duration: {0:?}")]
    BadTime(String),
    #[error("since time ({since}) cannot be after until time ({until})")]
    SinceAfterUntil { since: String, until: String },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EventError {
    let path = path.to_path_buf();
    move |source| EventError::Io { op, path, source }
}

/// Docker's event `Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Container,
    Image,
    Volume,
    Network,
    Builder,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Volume => "volume",
            EventType::Network => "network",
            EventType::Builder => "builder",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, field for field (and in the order of) the Engine API's `EventMessage`, which is
/// what `docker events --format '{{json .}}'` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Legacy copy of `Action` (container and image events only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Legacy copy of `Actor.ID` (container and image events only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Legacy copy of the `image` attribute (container events only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub kind: EventType,
    /// Open-ended: `start`, `exec_start: sh -c true`, `health_status: healthy`...
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default)]
    pub time: i64,
    #[serde(rename = "timeNano", default)]
    pub time_nano: i64,
}

impl Event {
    /// An event stamped with the current time.
    pub fn now(
        kind: EventType,
        action: impl Into<String>,
        id: impl Into<String>,
        attrs: BTreeMap<String, String>,
    ) -> Event {
        Event::at(kind, action, id, attrs, now_ns() as i64)
    }

    /// An event stamped `time_nano` (Unix ns), with the legacy fields filled as dockerd does.
    pub fn at(
        kind: EventType,
        action: impl Into<String>,
        id: impl Into<String>,
        attributes: BTreeMap<String, String>,
        time_nano: i64,
    ) -> Event {
        let (action, id) = (action.into(), id.into());
        // dockerd fills the deprecated fields for container and image events only.
        let legacy = |s: &str| match kind {
            EventType::Container | EventType::Image => s.to_string(),
            _ => String::new(),
        };
        let image = attributes.get("image").map_or("", String::as_str);
        Event {
            status: legacy(&action),
            id: legacy(&id),
            from: if kind == EventType::Container {
                image.to_string()
            } else {
                String::new()
            },
            kind,
            action,
            actor: Actor { id, attributes },
            scope: "local".into(),
            time: time_nano.div_euclid(NS as i64),
            time_nano,
        }
    }

    /// The line `docker events` prints by default:
    /// `2026-12-07T00:21:13.123456789Z container start <id> (image=busybox, name=web)`.
    pub fn docker_line(&self) -> String {
        let mut line = format!(
            "{} {} {} {}",
            format_rfc3339_nanos(self.time_nano as i128),
            self.kind.as_str(),
            self.action,
            self.actor.id
        );
        let attrs = &self.actor.attributes;
        if !attrs.is_empty() {
            let kv: Vec<_> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&format!(" ({})", kv.join(", ")));
        }
        line
    }
}

/// Now, in Unix nanoseconds.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, Go's `RFC3339NanoFixed` in UTC.
pub fn format_rfc3339_nanos(ns: i128) -> String {
    let secs = format_rfc3339(ns.div_euclid(NS) as i64);
    format!("{}.{:09}Z", &secs[..secs.len() - 1], ns.rem_euclid(NS))
}

/// Filter keys `docker events` accepts. The name-like ones match `Actor.ID` or the `name`
/// attribute by prefix, whatever the event's type (dockerd's `fuzzyMatchName`).
const NAME_KEYS: &str = "config container daemon network node plugin secret service volume";
const OTHER_KEYS: &str = "event image label scope type";
/// Actions such as `exec_start: sh -c true` carry a suffix; these filter values match by prefix.
const FUZZY_ACTIONS: &[&str] = &["exec_create", "exec_start", "health_status"];

/// Parsed `--filter key=value` flags: values of one key are ORed (except `label`, ANDed as in
/// Docker), different keys are ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<&'static str, Vec<String>>,
}

impl Filters {
    pub fn parse<I, S>(args: I) -> Result<Filters, EventError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut fields: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for arg in args {
            let arg = arg.as_ref();
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| EventError::FilterFormat(arg.to_string()))?;
            let key = key.trim().to_ascii_lowercase();
            let key = (NAME_KEYS.split(' ').chain(OTHER_KEYS.split(' ')))
                .find(|k| *k == key)
                .ok_or(EventError::UnknownFilter(key))?;
            fields
                .entry(key)
                .or_default()
                .push(value.trim().to_string());
        }
        Ok(Filters { fields })
    }

    fn values(&self, key: &str) -> &[String] {
        self.fields.get(key).map_or(&[], Vec::as_slice)
    }

    fn exact(&self, key: &str, source: &str) -> bool {
        let vals = self.values(key);
        vals.is_empty() || vals.iter().any(|v| v == source)
    }

    fn fuzzy(&self, key: &str, source: &str) -> bool {
        let vals = self.values(key);
        vals.is_empty() || vals.iter().any(|v| source.starts_with(v.as_str()))
    }

    pub fn matches(&self, ev: &Event) -> bool {
        let attrs = &ev.actor.attributes;
        let fuzzy_event = self
            .values("event")
            .iter()
            .any(|v| FUZZY_ACTIONS.contains(&v.as_str()));
        let event_ok = if fuzzy_event {
            self.fuzzy("event", &ev.action)
        } else {
            self.exact("event", &ev.action)
        };
        let name = attrs.get("name").map_or("", String::as_str);
        event_ok
            && self.exact("type", ev.kind.as_str())
            && self.exact("scope", &ev.scope)
            && NAME_KEYS
                .split(' ')
                .all(|k| self.fuzzy(k, &ev.actor.id) || self.fuzzy(k, name))
            && self.matches_image(ev)
            && self.matches_labels(attrs)
    }

    /// Image events match on their ID or `name`, container events on their `image` attribute;
    /// both also with the tag stripped, so `image=busybox` matches `busybox:latest`.
    fn matches_image(&self, ev: &Event) -> bool {
        let attr = match ev.kind {
            EventType::Image => "name",
            _ => "image",
        };
        let name = ev.actor.attributes.get(attr).map_or("", String::as_str);
        let id = ev.actor.id.as_str();
        [id, name, familiar_name(id), familiar_name(name)]
            .iter()
            .any(|s| self.exact("image", s))
    }

    fn matches_labels(&self, attrs: &BTreeMap<String, String>) -> bool {
        self.values("label")
            .iter()
            .all(|want| match want.split_once('=') {
                Some((k, v)) => attrs.get(k).is_some_and(|have| have == v),
                None => attrs.contains_key(want.as_str()),
            })
    }
}

/// `docker.io/library/busybox:latest@sha256:..` → `busybox`; IDs are left alone.
fn familiar_name(image: &str) -> &str {
    if image.starts_with("sha256:") {
        return image;
    }
    let name = image.split_once('@').map_or(image, |(n, _)| n);
    let last = name.rfind('/').map_or(0, |i| i + 1);
    let name = name[last..].find(':').map_or(name, |i| &name[..last + i]);
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name)
}

/// What to read: a time window in Unix ns (both ends inclusive, as dockerd) and filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub since: Option<i128>,
    pub until: Option<i128>,
    pub filters: Filters,
}

impl Query {
    fn admits(&self, ev: &Event) -> bool {
        let t = ev.time_nano as i128;
        self.since.is_none_or(|s| t >= s)
            && self.until.is_none_or(|u| t <= u)
            && self.filters.matches(ev)
    }

    fn check(&self) -> Result<(), EventError> {
        match (self.since, self.until) {
            (Some(s), Some(u)) if s > u => Err(EventError::SinceAfterUntil {
                since: format_rfc3339_nanos(s),
                until: format_rfc3339_nanos(u),
            }),
            _ => Ok(()),
        }
    }
}

/// Parses a `--since`/`--until` value as Docker does: a Go duration before `now_ns` (truncated
/// to whole seconds, as the docker CLI sends it), RFC 3339 (optionally without seconds or zone),
/// a date `YYYY-MM-DD`, or Unix `seconds[.fraction]`. A missing zone means UTC (Docker uses the
/// client's local zone; strata has no zone database).
pub fn parse_time(arg: &str, now_ns: i128) -> Result<i128, EventError> {
    let bad = || EventError::BadTime(arg.to_string());
    if arg != "0" {
        if let Some(d) = crate::util::go_duration::parse(arg) {
            return Ok((now_ns - d).div_euclid(NS) * NS);
        }
    }
    if arg.contains('-') {
        return parse_date_time(arg).ok_or_else(bad);
    }
    let (secs, frac) = arg.split_once('.').unwrap_or((arg, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs) || (arg.contains('.') && (!digits(frac) || frac.len() > 9)) {
        return Err(bad());
    }
    let secs: i128 = secs.parse().map_err(|_| bad())?;
    Ok(secs * NS + frac_nanos(frac))
}

/// `"5"` → 500_000_000: fraction digits (at most 9) as nanoseconds.
fn frac_nanos(frac: &str) -> i128 {
    let n: i128 = frac.parse().unwrap_or(0);
    n * 10i128.pow(9 - frac.len() as u32)
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH[:MM[:SS[.frac]]]` with an optional `Z`/`±HH:MM`, to Unix ns.
fn parse_date_time(s: &str) -> Option<i128> {
    let (date, rest) = (s.get(..10)?, &s[10..]);
    let clock = match rest {
        "" => "00",
        _ => rest.strip_prefix(['T', 't'])?,
    };
    let (clock, zone) = clock.split_at(clock.find(['Z', 'z', '+', '-']).unwrap_or(clock.len()));
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let hms = match hms.len() {
        2 => format!("{hms}:00:00"),
        5 => format!("{hms}:00"),
        8 => hms.to_string(),
        _ => return None,
    };
    let frac_ok = frac.len() <= 9 && frac.bytes().all(|c| c.is_ascii_digit());
    if !frac_ok || (clock.contains('.') && (frac.is_empty() || clock.len() != frac.len() + 9)) {
        return None;
    }
    let zone = if zone.is_empty() { "Z" } else { zone };
    let secs = parse_rfc3339(&format!("{date}T{hms}{zone}"))?;
    Some(secs as i128 * NS + frac_nanos(frac))
}

/// The log of one store. Cheap to construct; nothing touches disk until used.
#[derive(Debug, Clone)]
pub struct EventLog {
    dir: PathBuf,
    current: PathBuf,
    old: PathBuf,
    rotate_bytes: u64,
}

impl EventLog {
    pub fn new(store_root: &Path) -> EventLog {
        let dir = store_root.join(DIR);
        EventLog {
            current: dir.join(CURRENT),
            old: dir.join(OLD),
            dir,
            rotate_bytes: ROTATE_BYTES,
        }
    }

    /// Overrides the rotation size (tests, or a store that wants a smaller log).
    pub fn with_rotate_bytes(mut self, bytes: u64) -> EventLog {
        self.rotate_bytes = bytes;
        self
    }

    /// Appends one line with one `write` on an `O_APPEND` fd: the kernel places it at the end
    /// atomically with respect to other appenders, so lines of concurrent processes never mix.
    pub fn append(&self, ev: &Event) -> Result<(), EventError> {
        let mut line = serde_json::to_vec(ev)
            .map_err(|e| EventError::Encode(format!("{} {}", ev.action, ev.actor.id), e))?;
        line.push(b'\n');
        let path = &self.current;
        let open = || OpenOptions::new().append(true).create(true).open(path);
        let mut file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.dir).map_err(io_err("cannot create", &self.dir))?;
                open()
            }
            other => other,
        }
        .map_err(io_err("cannot open", path))?;
        // Never retry a short write: a second write could land after another process's line.
        match file.write(&line) {
            Ok(n) if n == line.len() => {}
            Ok(n) => {
                let short = format!("short write: {n} of {} bytes", line.len());
                let e = io::Error::new(io::ErrorKind::WriteZero, short);
                return Err(io_err("cannot write", path)(e));
            }
            Err(e) => return Err(io_err("cannot write", path)(e)),
        }
        if stat(&file, path)?.len() > self.rotate_bytes {
            self.rotate(&file)?;
        }
        Ok(())
    }

    /// Renames the full log to the old generation, under the lock so that two appenders that
    /// both crossed the cap rotate once, not twice (which would drop a whole generation).
    fn rotate(&self, written: &File) -> Result<(), EventError> {
        let path = self.dir.join(LOCK);
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path);
        let lock = lock.map_err(io_err("cannot open lock file", &path))?;
        let lock_err = |(_, source)| EventError::Lock { path, source };
        let _held = Flock::lock(lock, FlockArg::LockExclusive).map_err(lock_err)?;
        let ours = stat(written, &self.current)?;
        match fs::metadata(&self.current) {
            Ok(m) if same_file(&m, &ours) && m.len() > self.rotate_bytes => {
                fs::rename(&self.current, &self.old).map_err(io_err("cannot rotate", &self.current))
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_err("cannot stat", &self.current)(e))
            }
            _ => Ok(()),
        }
    }

    /// Opens (old, current). Current first: if a rotation slips in between, the old name then
    /// holds the file already opened as current, which is detected and read once.
    fn open_generations(&self) -> Result<(Option<File>, Option<File>), EventError> {
        let current = open_existing(&self.current)?;
        let old = open_existing(&self.old)?;
        if let (Some(c), Some(o)) = (&current, &old) {
            if same_file(&stat(c, &self.current)?, &stat(o, &self.old)?) {
                return Ok((None, current));
            }
        }
        Ok((old, current))
    }

    /// Every logged event `q` admits, oldest first.
    pub fn read(&self, q: &Query) -> Result<Vec<Event>, EventError> {
        let mut out = Vec::new();
        let (old, current) = self.open_generations()?;
        for (file, path) in [(old, &self.old), (current, &self.current)] {
            if let Some(mut f) = file {
                let mut collect = |ev: &Event| {
                    out.push(ev.clone());
                    true
                };
                drain(&mut f, path, &mut Vec::new(), q, &mut collect)?;
            }
        }
        Ok(out)
    }

    /// `docker events`: replays the events `q` admits when it has `since` or `until` (without
    /// either Docker shows only new events), then polls for new lines, following rotation,
    /// until `until` passes, `stop()` is true or `emit` returns false.
    pub fn follow(
        &self,
        q: &Query,
        stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(&Event) -> bool,
    ) -> Result<(), EventError> {
        q.check()?;
        let (old, mut current) = self.open_generations()?;
        let mut pending = Vec::new();
        if q.since.is_none() && q.until.is_none() {
            if let Some(f) = &mut current {
                f.seek(SeekFrom::End(0))
                    .map_err(io_err("cannot seek", &self.current))?;
            }
        } else if let Some(mut f) = old {
            if !drain(&mut f, &self.old, &mut Vec::new(), q, emit)? {
                return Ok(());
            }
        }
        loop {
            let past_until = q.until.is_some_and(|u| now_ns() > u);
            if let Some(f) = &mut current {
                if !drain(f, &self.current, &mut pending, q, emit)? {
                    return Ok(());
                }
            }
            if past_until || stop() {
                return Ok(());
            }
            std::thread::sleep(POLL);
            let Some(latest) = open_existing(&self.current)? else {
                continue;
            };
            let ours = current
                .as_ref()
                .map(|f| stat(f, &self.current))
                .transpose()?;
            if let Some(o) = &ours {
                if same_file(o, &stat(&latest, &self.current)?) {
                    continue;
                }
            }
            // Rotated: finish our file (appends racing the rename land in it), then a generation
            // that came and went between two polls, then the new file from its start.
            if let Some(mut f) = current.replace(latest) {
                if !drain(&mut f, &self.current, &mut pending, q, emit)? {
                    return Ok(());
                }
            }
            pending.clear();
            if let (Some(o), Some(mut between)) = (ours, open_existing(&self.old)?) {
                if !same_file(&o, &stat(&between, &self.old)?)
                    && !drain(&mut between, &self.old, &mut Vec::new(), q, emit)?
                {
                    return Ok(());
                }
            }
        }
    }
}

/// Reads `f` from its position to the end and emits every complete line `q` admits; an
/// unfinished last line stays in `pending` for the next call. `Ok(false)`: `emit` said stop.
fn drain(
    f: &mut File,
    path: &Path,
    pending: &mut Vec<u8>,
    q: &Query,
    emit: &mut dyn FnMut(&Event) -> bool,
) -> Result<bool, EventError> {
    f.read_to_end(pending)
        .map_err(io_err("cannot read", path))?;
    let Some(end) = pending.iter().rposition(|&b| b == b'\n') else {
        return Ok(true);
    };
    let lines = pending[..end].split(|&b| b == b'\n');
    let go_on = lines
        .filter_map(parse_line)
        .all(|ev| !q.admits(&ev) || emit(&ev));
    pending.drain(..=end);
    Ok(go_on)
}

fn open_existing(path: &Path) -> Result<Option<File>, EventError> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("cannot open", path)(e)),
    }
}

fn stat(f: &File, path: &Path) -> Result<fs::Metadata, EventError> {
    f.metadata().map_err(io_err("cannot stat", path))
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// One line, or `None` for a torn or foreign one. A line that a killed writer left without
/// its newline is glued to the next append; the event after the tear is recovered.
fn parse_line(line: &[u8]) -> Option<Event> {
    if line.is_empty() {
        return None;
    }
    if let Ok(ev) = serde_json::from_slice(line) {
        return Some(ev);
    }
    (1..line.len())
        .filter(|&i| line[i] == b'{')
        .find_map(|i| serde_json::from_slice(&line[i..]).ok())
}

/// Records an image event (`pull`, `push`, `tag`, `untag`, `delete`, `load`, `import`,
/// `save`) with Docker's `name` attribute; best effort, as every event.
pub fn image_event(store_root: &Path, action: &str, id: &str, name: &str) {
    let name = [("name", name.to_string())];
    let attrs = if name[0].1.is_empty() {
        &[][..]
    } else {
        &name[..]
    };
    record(store_root, EventType::Image, action, id, attrs);
}

/// Records one event; best effort: an event that cannot be written never fails the operation.
pub fn record(
    store_root: &Path,
    kind: EventType,
    action: &str,
    id: &str,
    attrs: &[(&str, String)],
) {
    let attrs = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let ev = Event::now(kind, action, id.to_string(), attrs);
    let _ = EventLog::new(store_root).append(&ev);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `"type|action|id|k=v,k=v|unix seconds"`
    fn ev(spec: &str) -> Event {
        let f: Vec<&str> = spec.split('|').collect();
        let kind = serde_json::from_value(f[0].into()).unwrap();
        let kv = f[3].split(',').filter_map(|kv| kv.split_once('='));
        let attrs = kv.map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Event::at(
            kind,
            f[1],
            f[2],
            attrs,
            f[4].parse::<i64>().unwrap() * 1_000_000_000,
        )
    }

    fn ids(events: &[Event]) -> Vec<String> {
        events.iter().map(|e| e.actor.id.clone()).collect()
    }

    #[test]
    fn json_shape_matches_docker() {
        let cases = [
            (
                "container|start|ID|name=web,image=busybox|1",
                r#"{"status":"start","id":"ID","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"ID","Attributes":{"image":"busybox","name":"web"}},"scope":"local","time":1,"timeNano":1000000000}"#,
            ),
            (
                "image|pull|busybox:latest|name=busybox:latest|2",
                r#"{"status":"pull","id":"busybox:latest","Type":"image","Action":"pull","Actor":{"ID":"busybox:latest","Attributes":{"name":"busybox:latest"}},"scope":"local","time":2,"timeNano":2000000000}"#,
            ),
            (
                "volume|create|v1||3",
                r#"{"Type":"volume","Action":"create","Actor":{"ID":"v1","Attributes":{}},"scope":"local","time":3,"timeNano":3000000000}"#,
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(serde_json::to_string(&ev(spec)).unwrap(), want);
            assert_eq!(serde_json::from_str::<Event>(want).unwrap(), ev(spec));
        }
    }

    #[test]
    fn docker_line_table() {
        let mut start = ev("container|start|3f2c|name=web,image=busybox|1796602873");
        start.time_nano += 123_456_789;
        let cases = [
            (
                start,
                "2026-12-07T00:21:13.123456789Z container start 3f2c (image=busybox, name=web)",
            ),
            (
                ev("network|prune|||0"),
                "1970-01-01T00:00:00.000000000Z network prune ",
            ),
            (
                ev("builder|prune|b||-1"),
                "1969-12-31T23:59:59.000000000Z builder prune b",
            ),
        ];
        for (event, want) in cases {
            assert_eq!(event.docker_line(), want);
        }
    }

    #[test]
    fn filter_table() {
        let events = [
            "container|start|c0ffee|name=web,image=busybox:latest,com.example=1|1",
            "container|die|beef00|name=db,image=redis|2",
            "image|pull|busybox:latest|name=busybox:latest|3",
            "container|exec_start: sh -c true|c0ffee|name=web,image=busybox|4",
            "volume|create|vol1|driver=local|5",
            "network|connect|net1|name=br0,container=c0ffee|6",
        ]
        .map(ev);
        let cases: &[(&[&str], &[usize])] = &[
            (&[], &[0, 1, 2, 3, 4, 5]),
            (&["container=web"], &[0, 3]),
            (&["container=c0f"], &[0, 3]),
            (&["container=web", "container=db"], &[0, 1, 3]),
            (&["event=start"], &[0]),
            (&["event=start", "event=die"], &[0, 1]),
            (&["event=exec_start"], &[3]),
            (&["Type=container", "event=die"], &[1]),
            (&["type=image", "type=volume"], &[2, 4]),
            (&["image=busybox"], &[0, 2, 3]),
            (&["image=redis"], &[1]),
            (&["image=redis:7"], &[]),
            (&["label=com.example"], &[0]),
            (&["label=com.example=1"], &[0]),
            (&["label=com.example=2"], &[]),
            (&["label=com.example", "label=name=web"], &[0]),
            (&["label=com.example", "label=name=db"], &[]),
            (&["volume=vol", "type=volume"], &[4]),
            (&["network=br0"], &[5]),
            (&["scope=local", "type=image"], &[2]),
            (&["scope=swarm"], &[]),
        ];
        for (args, want) in cases {
            let f = Filters::parse(*args).unwrap();
            let got: Vec<usize> = (0..events.len())
                .filter(|&i| f.matches(&events[i]))
                .collect();
            assert_eq!(got, *want, "{args:?}");
        }
        let err = |arg: &str| Filters::parse([arg]).unwrap_err().to_string();
        assert_eq!(err("foo=bar"), "invalid filter 'foo'");
        assert_eq!(
            err("type"),
            r#"bad format of filter "type" (expected name=value)"#
        );
    }

    #[test]
    fn time_table() {
        let (now, day) = (1_800_000_000 * NS + 500_000_000, 1_796_601_600);
        let cases: &[(&str, Option<i128>)] = &[
            ("10m", Some(1_800_000_000 - 600)),
            ("1h30m", Some(1_800_000_000 - 5400)),
            ("1.5h", Some(1_800_000_000 - 5400)),
            ("90s", Some(1_800_000_000 - 90)),
            ("500ms", Some(1_800_000_000)),
            ("-1h", Some(1_800_003_600)),
            ("0", Some(0)),
            ("10", Some(10)),
            ("1700000000", Some(1_700_000_000)),
            ("2026-12-07", Some(day)),
            ("2026-12-07T10", Some(day + 36_000)),
            ("2026-12-07T10:30", Some(day + 37_800)),
            ("2026-12-07T10:00:00Z", Some(day + 36_000)),
            ("2026-12-07T10:00:00", Some(day + 36_000)),
            ("2026-12-07T11:00:00+01:00", Some(day + 36_000)),
            ("", None),
            ("yesterday", None),
            ("12x", None),
            ("1h-", None),
            ("-5", None),
            ("1.2.3", None),
            ("1700000000.1234567890", None),
            ("2026-13-01", None),
            ("2026-12-07T10:00:00.Z", None),
            ("2026-12-07T10:0", None),
        ];
        for (arg, want) in cases {
            assert_eq!(parse_time(arg, now).ok(), want.map(|s| s * NS), "{arg:?}");
        }
        let fractions = [
            ("1700000000.123456789", 1_700_000_000 * NS + 123_456_789),
            ("1700000000.5", 1_700_000_000 * NS + 500_000_000),
            ("2026-12-07T10:00:00.25Z", (day + 36_000) * NS + 250_000_000),
            (
                "2026-12-07T08:00:00.000000001-02:00",
                (day + 36_000) * NS + 1,
            ),
        ];
        for (arg, want) in fractions {
            assert_eq!(parse_time(arg, now).unwrap(), want, "{arg:?}");
        }
        let msg = parse_time("soon", now).unwrap_err().to_string();
        assert_eq!(msg, r#"failed to parse value as time or duration: "soon""#);
    }

    #[test]
    fn torn_and_foreign_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(dir.path());
        let raw = |bytes: &[u8]| {
            let mut f = OpenOptions::new().append(true).open(&log.current).unwrap();
            f.write_all(bytes).unwrap();
        };
        log.append(&ev("container|create|a||1")).unwrap();
        raw(br#"{"status":"start","id":"x","Type":"conta"#); // writer killed mid-line
        log.append(&ev("container|start|b||2")).unwrap();
        raw(b"not json\n\n");
        log.append(&ev("container|die|c||3")).unwrap();
        raw(br#"{"status":"destroy""#);
        assert_eq!(ids(&log.read(&Query::default()).unwrap()), ["a", "b", "c"]);
    }

    #[test]
    fn rotation_keeps_order_and_both_generations() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(dir.path()).with_rotate_bytes(1000);
        for i in 0..40 {
            log.append(&ev(&format!("container|start|c{i:02}||{i}")))
                .unwrap();
        }
        let all = ids(&log.read(&Query::default()).unwrap());
        let current = fs::read_to_string(&log.current).unwrap().lines().count();
        assert!(log.old.exists() && all.len() > current, "{all:?}");
        let want: Vec<String> = (40 - all.len()..40).map(|i| format!("c{i:02}")).collect();
        assert_eq!(all, want);
        let (since, until) = (Some(37 * NS), Some(38 * NS));
        let q = Query {
            since,
            until,
            filters: Filters::default(),
        };
        assert_eq!(ids(&log.read(&q).unwrap()), ["c37", "c38"]);
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(dir.path());
        let writer = |t: usize| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let label = "x".repeat(i % 300);
                    log.append(&ev(&format!("container|start|{t}-{i}|l={label}|1")))
                        .unwrap();
                }
            })
        };
        let threads: Vec<_> = (0..4).map(writer).collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let text = fs::read_to_string(&log.current).unwrap();
        let parsed: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed.len(), 2000);
        for t in 0..4 {
            let mine = ids(&parsed)
                .into_iter()
                .filter(|id| id.starts_with(&format!("{t}-")));
            let want: Vec<String> = (0..500).map(|i| format!("{t}-{i}")).collect();
            assert_eq!(mine.collect::<Vec<_>>(), want);
        }
    }

    /// Follows on a thread while `write` appends; returns the IDs emitted (stops after `max`,
    /// or after 20 s so a broken follower fails the test instead of hanging it).
    fn follow_while(log: &EventLog, q: Query, max: usize, write: impl FnOnce()) -> Vec<String> {
        let (log2, deadline) = (log.clone(), now_ns() + 20 * NS);
        let follower = std::thread::spawn(move || {
            let mut got = Vec::new();
            let stop = || now_ns() > deadline;
            let mut emit = |e: &Event| {
                got.push(e.actor.id.clone());
                got.len() < max
            };
            log2.follow(&q, &stop, &mut emit).unwrap();
            got
        });
        std::thread::sleep(Duration::from_millis(300)); // let follow open the log first
        write();
        follower.join().unwrap()
    }

    #[test]
    fn follow_sees_new_events_and_stops_on_until() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(dir.path());
        log.append(&ev("container|create|old||1")).unwrap();
        let append =
            |id: &str| log.append(&Event::now(EventType::Image, "tag", id, BTreeMap::new()));
        // Neither since nor until: only events appended after following began.
        assert_eq!(
            follow_while(&log, Query::default(), 1, || append("new").unwrap()),
            ["new"]
        );
        // until: replays history, then returns once until has passed.
        let until = now_ns() + NS;
        let q = Query {
            until: Some(until),
            ..Query::default()
        };
        let got = follow_while(&log, q, usize::MAX, || append("newer").unwrap());
        assert_eq!(got, ["old", "new", "newer"]);
        assert!(now_ns() > until);
        let q = Query {
            since: Some(2),
            until: Some(1),
            ..Query::default()
        };
        assert!(log.follow(&q, &|| false, &mut |_| true).is_err());
    }

    #[test]
    fn follow_crosses_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let c = |i: usize| ev(&format!("container|start|c{i:02}||{i}"));
        let line = serde_json::to_vec(&c(0)).unwrap().len() as u64 + 1;
        let log = EventLog::new(dir.path()).with_rotate_bytes(line * 11 / 2); // 6 lines each
        log.append(&c(0)).unwrap();
        let write = || {
            // c01..c11 in one burst rotate twice before the next poll, then slower appends.
            for i in 1..30 {
                log.append(&c(i)).unwrap();
                if i > 11 {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        let want: Vec<String> = (1..30).map(|i| format!("c{i:02}")).collect();
        assert_eq!(follow_while(&log, Query::default(), 29, write), want);
    }
}
