//! What `docker stats` and `docker top` show, computed as the docker CLI and daemon compute it:
//! CPU % from two samples, memory without inactive file pages, go-units sizes, and host `ps`
//! output cut down to a container's processes. Rendering is pure; readers of `/proc` are thin.

use std::io;
use std::process::Command;

use serde::Serialize;

use crate::sandbox::cgroup::CgroupStats;

/// Docker's default `docker stats` table.
pub const DEFAULT_FORMAT: &str = concat!(
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t",
    "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
);

/// Docker's column titles for `docker stats --format 'table …'`.
pub const HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// Bytes a container's network namespace received and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetBytes {
    pub rx: u64,
    pub tx: u64,
}

/// One interface's counters, as `/proc/net/dev` gives them (Docker's `networks` entry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// One reading of a container at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    pub cgroup: CgroupStats,
    /// The host's CPU time (`cgroup::system_cpu_ns`) read together with the cgroup.
    pub system_cpu_ns: u64,
    pub net: NetBytes,
}

/// How the user and the store name the container.
#[derive(Debug, Clone, Copy)]
pub struct Ident<'a> {
    /// The name or ID as given on the command line (Docker's `{{.Container}}`).
    pub container: &'a str,
    pub id: &'a str,
    pub name: &'a str,
}

/// One `docker stats` row, with Docker's `--format` field names (and its `{{json .}}` order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsRow {
    #[serde(rename = "BlockIO")]
    pub block_io: String,
    #[serde(rename = "CPUPerc")]
    pub cpu_perc: String,
    #[serde(rename = "Container")]
    pub container: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MemPerc")]
    pub mem_perc: String,
    #[serde(rename = "MemUsage")]
    pub mem_usage: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "NetIO")]
    pub net_io: String,
    #[serde(rename = "PIDs")]
    pub pids: String,
}

impl StatsRow {
    /// The row for a container sampled at `prev` and then at `cur`. An unlimited (or larger
    /// than the host) memory limit shows as the host's `host_memory` bytes, as Docker shows it.
    pub fn new(
        who: &Ident,
        prev: &Sample,
        cur: &Sample,
        online_cpus: u32,
        host_memory: u64,
        trunc: bool,
    ) -> StatsRow {
        let cpu = cpu_percent(
            prev.cgroup.cpu_total_ns,
            cur.cgroup.cpu_total_ns,
            prev.system_cpu_ns,
            cur.system_cpu_ns,
            online_cpus,
        );
        let used = memory_used(&cur.cgroup);
        let limit = memory_limit(cur.cgroup.memory_limit, host_memory);
        let mem_perc = if limit == 0 {
            0.0
        } else {
            used as f64 / limit as f64 * 100.0
        };
        let c = &cur.cgroup;
        StatsRow {
            block_io: pair_decimal(c.blkio_read_bytes, c.blkio_write_bytes),
            cpu_perc: format!("{cpu:.2}%"),
            mem_perc: format!("{mem_perc:.2}%"),
            mem_usage: format!("{} / {}", bytes_size(used as f64), bytes_size(limit as f64)),
            net_io: pair_decimal(cur.net.rx, cur.net.tx),
            pids: c.pids_current.to_string(),
            ..StatsRow::invalid(who, trunc)
        }
    }

    /// The row Docker shows for a container it could not read (it stopped, or its cgroup went).
    pub fn invalid(who: &Ident, trunc: bool) -> StatsRow {
        let dashes = || "--".to_string();
        StatsRow {
            block_io: dashes(),
            cpu_perc: dashes(),
            container: who.container.to_string(),
            id: if trunc {
                who.id.chars().take(12).collect()
            } else {
                who.id.to_string()
            },
            mem_perc: dashes(),
            mem_usage: "-- / --".into(),
            name: match who.name.trim_start_matches('/') {
                "" => dashes(),
                n => n.to_string(),
            },
            net_io: dashes(),
            pids: dashes(),
        }
    }

    /// The row as a template value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn pair_decimal(a: u64, b: u64) -> String {
    format!("{} / {}", human_size(a as f64, 3), human_size(b as f64, 3))
}

/// Docker's CPU %: the container's share of the host's CPU time between two samples, scaled
/// by the number of CPUs; 0 when either delta is not positive.
pub fn cpu_percent(
    prev_container_ns: u64,
    cur_container_ns: u64,
    prev_system_ns: u64,
    cur_system_ns: u64,
    online_cpus: u32,
) -> f64 {
    let cpu = cur_container_ns.saturating_sub(prev_container_ns);
    let system = cur_system_ns.saturating_sub(prev_system_ns);
    if cpu == 0 || system == 0 {
        return 0.0;
    }
    cpu as f64 / system as f64 * f64::from(online_cpus) * 100.0
}

/// Memory in use as Docker shows it: usage less inactive file pages (when they are smaller).
pub fn memory_used(stats: &CgroupStats) -> u64 {
    if stats.memory_cache < stats.memory_usage {
        stats.memory_usage - stats.memory_cache
    } else {
        stats.memory_usage
    }
}

/// The limit Docker shows: the cgroup's, capped at the host's memory (which also stands in
/// for no limit at all).
pub fn memory_limit(limit: Option<u64>, host_memory: u64) -> u64 {
    match limit {
        Some(l) if host_memory == 0 || l < host_memory => l,
        _ => host_memory,
    }
}

/// go-units `BytesSize`: binary units at 4 significant digits (`1.5KiB`, `7.667GiB`, `0B`).
pub fn bytes_size(size: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let (v, unit) = scale(size, 1024.0, &units);
    format!("{}{unit}", go_g(v, 4))
}

/// go-units `HumanSizeWithPrecision`: decimal units at `precision` significant digits
/// (`1.23kB`, `648B`).
pub fn human_size(size: f64, precision: usize) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let (v, unit) = scale(size, 1000.0, &units);
    format!("{}{unit}", go_g(v, precision))
}

fn scale<'a>(mut size: f64, base: f64, units: &[&'a str]) -> (f64, &'a str) {
    let mut i = 0;
    while size >= base && i + 1 < units.len() {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// Go's `%.{prec}g`: `prec` significant digits without trailing zeros, in exponent form when
/// the exponent is below -4 or not below the digits kept (so 999.9 at 3 digits is `1e+03`).
fn go_g(v: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = mantissa.trim_start_matches('-').replace('.', "");
    let nd = digits.trim_end_matches('0').len().max(1) as i32;
    let dp = exp + 1;
    let mut eprec = prec as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if exp < -4 || exp >= eprec {
        let m = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        format!("{:.*}", (nd - dp).max(0) as usize, v)
    }
}

/// Bytes received and sent over every interface but `lo` in a `/proc/PID/net/dev` text.
pub fn parse_net_dev(text: &str) -> NetBytes {
    let mut total = NetBytes::default();
    for (_, n) in parse_net_counters(text) {
        total.rx = total.rx.saturating_add(n.rx_bytes);
        total.tx = total.tx.saturating_add(n.tx_bytes);
    }
    total
}

/// Each interface but `lo` with its counters, in a `/proc/PID/net/dev` text (receive: bytes,
/// packets, errs, drop, …; transmit from the ninth column the same).
pub fn parse_net_counters(text: &str) -> Vec<(String, NetCounters)> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|w| w.parse().unwrap_or(0))
            .collect();
        if f.len() >= 12 {
            out.push((
                name.to_string(),
                NetCounters {
                    rx_bytes: f[0],
                    rx_packets: f[1],
                    rx_errors: f[2],
                    rx_dropped: f[3],
                    tx_bytes: f[8],
                    tx_packets: f[9],
                    tx_errors: f[10],
                    tx_dropped: f[11],
                },
            ));
        }
    }
    out
}

/// The interfaces of the network namespace process `pid` is in, with their counters.
pub fn net_counters(pid: i32) -> io::Result<Vec<(String, NetCounters)>> {
    std::fs::read_to_string(format!("/proc/{pid}/net/dev")).map(|t| parse_net_counters(&t))
}

/// Network bytes of the namespace process `pid` is in.
pub fn net_bytes(pid: i32) -> io::Result<NetBytes> {
    std::fs::read_to_string(format!("/proc/{pid}/net/dev")).map(|t| parse_net_dev(&t))
}

/// `MemTotal` in bytes from a `/proc/meminfo` text.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The host's memory in bytes, the limit Docker shows for an unlimited container.
pub fn host_memory() -> io::Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    parse_meminfo_total(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no MemTotal in /proc/meminfo"))
}

#[derive(Debug, thiserror::Error)]
pub enum TopError {
    #[error("Couldn't find PID field in ps output")]
    NoPidField,
    #[error("Unexpected pid '{0}'")]
    BadPid(String),
    #[error("running ps: {0}")]
    Spawn(io::Error),
    /// ps exited non-zero; the first line of its stderr says why.
    #[error("ps: {0}")]
    Failed(String),
}

/// Titles and the rows of a container's processes, as `docker top` shows them.
pub type TopTable = (Vec<String>, Vec<Vec<String>>);

/// Runs host `ps` with `ps_args` (default `-ef`) and keeps the rows of `pids`. As Docker does,
/// the arguments are split on whitespace and first tried with `-q<pids>` so ps reads only
/// those processes; options that cannot be combined with it (such as `f`) get a plain rerun.
pub fn top(ps_args: &[String], pids: &[i32]) -> Result<TopTable, TopError> {
    let joined = ps_args.join(" ");
    let mut args: Vec<&str> = joined.split_whitespace().collect();
    if args.is_empty() {
        args.push("-ef");
    }
    let run = |extra: Option<&str>| {
        Command::new("ps")
            .args(&args)
            .args(extra)
            .output()
            .map_err(TopError::Spawn)
    };
    let quick = (!pids.is_empty()).then(|| {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        format!("-q{}", list.join(","))
    });
    let mut out = run(quick.as_deref())?;
    if !out.status.success() && quick.is_some() {
        out = run(None)?;
    }
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        return Err(TopError::Failed(if first.is_empty() {
            out.status.to_string()
        } else {
            first.to_string()
        }));
    }
    parse_ps(&String::from_utf8_lossy(&out.stdout), pids)
}

/// The titles of a `ps` output and its rows whose PID is in `pids`. Each row has as many
/// fields as titles: the last (the command) keeps its spaces. Thread lines (`-` for PID, from
/// `ps m` or `-L`) follow the process line they belong to.
pub fn parse_ps(output: &str, pids: &[i32]) -> Result<TopTable, TopError> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or(TopError::NoPidField)?;
    let mut rows = Vec::new();
    let mut in_container = false;
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(&pid) = fields.get(pid_col) else {
            continue;
        };
        if pid == "-" {
            if in_container {
                rows.push(row(&fields, titles.len()));
            }
            continue;
        }
        let pid: i32 = pid.parse().map_err(|_| TopError::BadPid(pid.to_string()))?;
        in_container = pids.contains(&pid);
        if in_container {
            rows.push(row(&fields, titles.len()));
        }
    }
    Ok((titles, rows))
}

fn row(fields: &[&str], columns: usize) -> Vec<String> {
    let last = columns.saturating_sub(1).min(fields.len());
    let mut out: Vec<String> = fields[..last].iter().map(|f| f.to_string()).collect();
    out.push(fields[last..].join(" "));
    out.resize(columns.max(1), String::new());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0B"),
            (1023.0, "1023B"),
            (1024.0, "1KiB"),
            (1536.0, "1.5KiB"),
            (1_572_864.0, "1.5MiB"),
            (8_232_157_184.0, "7.667GiB"),
            (1_048_575.0, "1024KiB"),
            (123_456_789.0, "117.7MiB"),
        ];
        for (n, want) in cases {
            assert_eq!(bytes_size(*n), *want, "{n}");
        }
    }

    #[test]
    fn decimal_sizes() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0B"),
            (648.0, "648B"),
            (1234.0, "1.23kB"),
            (1000.0, "1kB"),
            (999.9, "1e+03B"),
            (12_345_678.0, "12.3MB"),
            (4_100_000_000.0, "4.1GB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_size(*n, 3), *want, "{n}");
        }
    }

    #[test]
    fn go_g_formats() {
        let cases: &[(f64, usize, &str)] = &[
            (1.0625, 4, "1.062"),
            (0.0001234, 3, "0.000123"),
            (0.00001234, 3, "1.23e-05"),
            (123456.0, 4, "1.235e+05"),
            (100.0, 4, "100"),
        ];
        for (v, p, want) in cases {
            assert_eq!(go_g(*v, *p), *want, "{v} {p}");
        }
    }

    #[test]
    fn cpu_and_memory() {
        assert_eq!(cpu_percent(0, 500, 0, 1000, 2), 100.0);
        assert_eq!(cpu_percent(100, 100, 0, 1000, 2), 0.0);
        assert_eq!(cpu_percent(0, 500, 1000, 1000, 2), 0.0);
        let s = |usage, cache| CgroupStats {
            memory_usage: usage,
            memory_cache: cache,
            ..Default::default()
        };
        assert_eq!(memory_used(&s(1000, 300)), 700);
        assert_eq!(memory_used(&s(1000, 3000)), 1000);
        assert_eq!(memory_limit(None, 8_232_157_184), 8_232_157_184);
        assert_eq!(memory_limit(Some(1 << 20), 8_232_157_184), 1 << 20);
        assert_eq!(memory_limit(Some(1 << 40), 8_232_157_184), 8_232_157_184);
    }

    #[test]
    fn stats_row() {
        let who = Ident {
            container: "web",
            id: "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99",
            name: "/web",
        };
        let prev = Sample {
            system_cpu_ns: 10_000_000_000,
            ..Default::default()
        };
        let cur = Sample {
            cgroup: CgroupStats {
                cpu_total_ns: 50_000_000,
                memory_usage: 2_000_000,
                memory_cache: 427_136,
                pids_current: 3,
                blkio_read_bytes: 1234,
                ..Default::default()
            },
            system_cpu_ns: 12_000_000_000,
            net: NetBytes { rx: 1234, tx: 648 },
        };
        let row = StatsRow::new(&who, &prev, &cur, 2, 8_232_157_184, true);
        assert_eq!(
            row.to_value(),
            serde_json::json!({
                "BlockIO": "1.23kB / 0B", "CPUPerc": "5.00%", "Container": "web",
                "ID": "4f3c2b1a0e9d", "MemPerc": "0.02%", "MemUsage": "1.5MiB / 7.667GiB",
                "Name": "web", "NetIO": "1.23kB / 648B", "PIDs": "3",
            })
        );
        let keys: Vec<String> = row
            .to_value()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "BlockIO",
                "CPUPerc",
                "Container",
                "ID",
                "MemPerc",
                "MemUsage",
                "Name",
                "NetIO",
                "PIDs"
            ]
        );
        let gone = StatsRow::invalid(&who, false);
        assert_eq!(
            (gone.id.len(), gone.mem_usage.as_str(), gone.pids.as_str()),
            (32, "-- / --", "--")
        );
    }

    #[test]
    fn proc_files() {
        let dev = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
  eth0:    1000      12    0    0    0     0          0         0      600       8    0    0    0     0       0          0
  eth1:234 3 0 0 0 0 0 0 48 1 0 0 0 0 0 0
";
        assert_eq!(parse_net_dev(dev), NetBytes { rx: 1234, tx: 648 });
        let eth0 = NetCounters {
            rx_bytes: 1000,
            rx_packets: 12,
            tx_bytes: 600,
            tx_packets: 8,
            ..NetCounters::default()
        };
        assert_eq!(parse_net_counters(dev)[0], ("eth0".to_string(), eth0));
        assert_eq!(parse_net_counters(dev)[1].1.tx_packets, 1);
        assert_eq!(parse_net_dev(""), NetBytes::default());
        let me = std::process::id() as i32;
        assert!(net_bytes(me).is_ok());
        assert_eq!(
            parse_meminfo_total("MemTotal:        8039216 kB\nMemFree: 1 kB\n"),
            Some(8_232_157_184)
        );
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
        assert!(host_memory().unwrap() > 0);
    }

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init splash
root         812       1  0 10:01 ?        00:00:00 nginx: master process nginx -g daemon off;
www-data     813     812  0 10:01 ?        00:00:00 nginx: worker process
root         900       1  0 10:02 pts/0    00:00:00 bash
";

    const PS_AUX: &str = "\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           1  0.0  0.1 167744 11520 ?        Ss   10:00   0:01 /sbin/init
root         812  0.0  0.0   8964  5940 ?        Ss   10:01   0:00 nginx: master process nginx -g daemon off;
www-data     813  0.0  0.0   9436  2536 ?        S    10:01   0:00 nginx: worker process
";

    const PS_THREADS: &str = "\
  PID   LWP CMD
  812     - nginx
    -   812 -
    -   814 -
  900     - bash
    -   900 -
";

    #[test]
    fn ps_outputs() {
        let (titles, rows) = parse_ps(PS_EF, &[812, 813]).unwrap();
        assert_eq!(
            titles,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][7], "nginx: master process nginx -g daemon off;");
        assert_eq!(rows[1][..3], ["www-data", "813", "812"]);

        let (titles, rows) = parse_ps(PS_AUX, &[813]).unwrap();
        assert_eq!(titles.len(), 11);
        assert_eq!(
            rows,
            [[
                "www-data",
                "813",
                "0.0",
                "0.0",
                "9436",
                "2536",
                "?",
                "S",
                "10:01",
                "0:00",
                "nginx: worker process"
            ]]
        );

        let (_, rows) = parse_ps(PS_THREADS, &[812]).unwrap();
        let lwps: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(lwps, ["-", "812", "814"]);

        assert!(matches!(
            parse_ps("USER COMMAND\nroot init\n", &[1]),
            Err(TopError::NoPidField)
        ));
        assert!(matches!(parse_ps("PID CMD\nx y\n", &[1]), Err(TopError::BadPid(p)) if p == "x"));
        assert_eq!(parse_ps("PID CMD\n", &[1]).unwrap().1.len(), 0);
    }

    #[test]
    fn host_ps() {
        let me = std::process::id() as i32;
        let (titles, rows) = top(&[], &[me]).unwrap();
        assert_eq!(titles.last().map(String::as_str), Some("CMD"));
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0][1], me.to_string());
        // `f` (forest) cannot take -q: the plain rerun still finds the process.
        let (_, rows) = top(&["axf".to_string()], &[me]).unwrap();
        assert_eq!(rows.len(), 1);
        let (titles, _) = top(&["-o".into(), "pid,comm".into()], &[me]).unwrap();
        assert_eq!(titles, ["PID", "COMMAND"]);
    }
}
