//! A container's resource limits (`--memory`, `--memory-swap`, `--cpus`, `--cpu-shares`,
//! `--pids-limit`, `--ulimit`, `--shm-size`, `--cpuset-*`): each flag's value parsed as the docker CLI
//! parses it, then checked and defaulted as the daemon does at create and at `update`. Pure;
//! `cgroup_limits` turns the result into cgroup writes.

use serde::{Deserialize, Serialize};

use crate::sandbox::rlimits::{Resource, Rlimit};

/// The daemon's smallest memory limit (`linuxMinMemory`).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The range the daemon clamps `--cpu-shares` to (`linuxMinCPUShares`, `linuxMaxCPUShares`).
const MIN_CPU_SHARES: i64 = 2;
const MAX_CPU_SHARES: i64 = 262_144;

/// The limits of a container, as Docker's `HostConfig` holds them; 0 means "not set".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Bytes.
    pub memory: i64,
    /// Memory plus swap in bytes; -1 is unlimited swap. Twice `memory` unless given.
    pub memory_swap: i64,
    /// CPUs × 10⁹ (`--cpus 0.5` is 500000000).
    pub nano_cpus: i64,
    /// The relative weight (1024 is the kernel's default).
    pub cpu_shares: i64,
    /// `None` is unlimited (the daemon drops 0 and negative values at create); an `update`
    /// to unlimited records `Some(0)`, as Docker does.
    pub pids_limit: Option<i64>,
    /// One per resource, sorted by name.
    pub ulimits: Vec<Ulimit>,
    /// The size of `/dev/shm` in bytes; 0 (a record from before this field) is Docker's
    /// default of 64 MiB.
    pub shm_size: i64,
    /// CPUs the container may run on (`0-2,5`); empty: any (see `cpuset`).
    pub cpuset_cpus: String,
    /// Memory nodes it may allocate on; empty: any.
    pub cpuset_mems: String,
}

/// One `--ulimit`: -1 is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: Resource,
    pub soft: i64,
    pub hard: i64,
}

impl Resources {
    /// Whether a cgroup limit is set (which needs the cgroup controllers, and root).
    pub fn limits_cgroup(&self) -> bool {
        self.memory != 0
            || self.memory_swap > 0
            || self.nano_cpus != 0
            || self.cpu_shares != 0
            || self.pids_limit.is_some()
            || !self.cpuset_cpus.is_empty()
            || !self.cpuset_mems.is_empty()
    }

    /// `/dev/shm`'s size in bytes.
    pub fn shm_bytes(&self) -> u64 {
        if self.shm_size > 0 {
            self.shm_size as u64
        } else {
            crate::sandbox::spec::DEFAULT_SHM_SIZE
        }
    }

    /// The ulimits as `setrlimit` takes them (-1 is `RLIM_INFINITY`, all bits set, as runc
    /// converts it).
    pub fn rlimits(&self) -> Vec<Rlimit> {
        self.ulimits
            .iter()
            .map(|u| Rlimit {
                resource: u.name,
                soft: u.soft as u64,
                hard: u.hard as u64,
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// A value the CLI cannot parse, worded as the docker CLI (pflag) words it.
    #[error("invalid argument {value:?} for \"{flag}\" flag: {reason}")]
    Flag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("Minimum memory limit allowed is 6MB")]
    MemoryTooSmall,
    #[error("Minimum memoryswap limit should be larger than memory limit, see usage")]
    SwapBelowMemory,
    #[error("You should always set the Memory limit when using Memoryswap limit, see usage")]
    SwapWithoutMemory,
    #[error("Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available")]
    CpuRange { cpus: u32 },
    #[error("SHM size can not be less than 0")]
    NegativeShm,
    #[error("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")]
    MemoryAboveSwap,
    #[error(transparent)]
    Cpuset(#[from] super::cpuset::CpusetError),
}

/// The flags as typed; `None` when not given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags<'a> {
    pub memory: Option<&'a str>,
    pub memory_swap: Option<&'a str>,
    pub cpus: Option<&'a str>,
    pub cpu_shares: Option<&'a str>,
    pub pids_limit: Option<&'a str>,
    pub ulimits: &'a [String],
    pub shm_size: Option<&'a str>,
    pub cpuset_cpus: Option<&'a str>,
    pub cpuset_mems: Option<&'a str>,
}

/// Each flag's value parsed as the docker CLI parses it (no checks across flags yet).
pub fn parse(f: &Flags<'_>) -> Result<Resources, ResourceError> {
    fn flag<T>(
        flag: &'static str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ResourceError> {
        value
            .map(|v| {
                parse(v).map_err(|reason| ResourceError::Flag {
                    flag,
                    value: v.to_string(),
                    reason,
                })
            })
            .transpose()
    }
    let mut ulimits: Vec<Ulimit> = Vec::new();
    for u in f.ulimits {
        let u = flag("--ulimit", Some(u), parse_ulimit)?.expect("given");
        // The CLI keeps them in a map by name: the last one given wins.
        ulimits.retain(|o| o.name != u.name);
        ulimits.push(u);
    }
    ulimits.sort_by_key(|u| u.name);
    Ok(Resources {
        memory: flag("-m, --memory", f.memory, ram_in_bytes)?.unwrap_or(0),
        memory_swap: flag("--memory-swap", f.memory_swap, mem_swap_bytes)?.unwrap_or(0),
        nano_cpus: flag("--cpus", f.cpus, parse_cpus)?.unwrap_or(0),
        cpu_shares: flag("--cpu-shares", f.cpu_shares, parse_int64)?.unwrap_or(0),
        pids_limit: flag("--pids-limit", f.pids_limit, parse_int64)?,
        ulimits,
        shm_size: flag("--shm-size", f.shm_size, ram_in_bytes)?.unwrap_or(0),
        cpuset_cpus: f.cpuset_cpus.unwrap_or_default().to_string(),
        cpuset_mems: f.cpuset_mems.unwrap_or_default().to_string(),
    })
}

/// What the daemon checks against the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub cpus: u32,
    /// Whether memory+swap can be limited (v1 `memory.memsw.*` exists; v2 always).
    pub swap_limit: bool,
}

impl Host {
    pub fn detect() -> Host {
        use crate::sandbox::cgroup::{self, Layout};
        let swap_limit = match Layout::detect() {
            Ok(Layout::V1 { controllers }) => controllers
                .get("memory")
                .is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists()),
            _ => true,
        };
        Host {
            cpus: cgroup::online_cpus(),
            swap_limit,
        }
    }
}

/// The daemon's checks at create (`verifyPlatformContainerResources`) and its defaults
/// (`adaptContainerSettings`): returns the warnings to print.
pub fn check_create(r: &mut Resources, host: &Host) -> Result<Vec<String>, ResourceError> {
    let warnings = verify(r, host, false)?;
    r.cpu_shares = match r.cpu_shares {
        s if s < 0 => MIN_CPU_SHARES,
        s if s > MAX_CPU_SHARES => MAX_CPU_SHARES,
        s => s,
    };
    if r.memory > 0 && r.memory_swap == 0 {
        r.memory_swap = r.memory * 2;
    }
    if r.pids_limit.is_some_and(|p| p <= 0) {
        r.pids_limit = None;
    }
    if r.shm_size == 0 {
        r.shm_size = crate::sandbox::spec::DEFAULT_SHM_SIZE as i64;
    }
    Ok(warnings)
}

fn verify(r: &mut Resources, host: &Host, update: bool) -> Result<Vec<String>, ResourceError> {
    let mut warnings = Vec::new();
    if r.memory != 0 && r.memory < MIN_MEMORY {
        return Err(ResourceError::MemoryTooSmall);
    }
    if r.memory > 0 && r.memory_swap != -1 && !host.swap_limit {
        warnings.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".into());
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return Err(ResourceError::SwapBelowMemory);
    }
    if r.memory == 0 && r.memory_swap > 0 && !update {
        return Err(ResourceError::SwapWithoutMemory);
    }
    if r.nano_cpus < 0 || r.nano_cpus > i64::from(host.cpus) * 1_000_000_000 {
        return Err(ResourceError::CpuRange { cpus: host.cpus });
    }
    if r.shm_size < 0 {
        return Err(ResourceError::NegativeShm);
    }
    Ok(warnings)
}

/// `update`: the daemon's checks of the new values, then their merge into the container's
/// (`UpdateContainer`): only the limits given change. Ulimits and shm size are kept.
pub fn merge_update(
    current: &Resources,
    new: &Resources,
    host: &Host,
) -> Result<(Resources, Vec<String>), ResourceError> {
    let mut new = new.clone();
    let warnings = verify(&mut new, host, true)?;
    let mut out = current.clone();
    if new.cpu_shares != 0 {
        out.cpu_shares = new.cpu_shares;
    }
    if new.nano_cpus != 0 {
        out.nano_cpus = new.nano_cpus;
    }
    if new.memory != 0 {
        // Docker compares with the recorded swap as is: a container without a memory limit
        // (swap 0) or with unlimited swap (-1) needs `--memory-swap` given too.
        if new.memory > current.memory_swap && new.memory_swap == 0 {
            return Err(ResourceError::MemoryAboveSwap);
        }
        out.memory = new.memory;
    }
    if new.memory_swap != 0 {
        out.memory_swap = new.memory_swap;
    }
    if let Some(p) = new.pids_limit {
        out.pids_limit = Some(p.max(0));
    }
    if !new.cpuset_cpus.is_empty() {
        out.cpuset_cpus = new.cpuset_cpus.clone();
    }
    if !new.cpuset_mems.is_empty() {
        out.cpuset_mems = new.cpuset_mems.clone();
    }
    Ok((out, warnings))
}

/// go-units' `RAMInBytes`: a decimal number with an optional binary unit `b k m g t p`
/// (any case, an optional `b` or `ib` after it, an optional space before it).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let Some(sep) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(invalid());
    };
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size = go_parse_float(num)?;
    if size < 0.0 {
        return Err(invalid());
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    if sfx.len() > 3 {
        return Err(format!("invalid suffix: '{sfx}'"));
    }
    let lower = sfx.to_ascii_lowercase();
    let bad_suffix = || format!("invalid suffix: '{lower}'");
    if lower == "b" {
        return Ok(size as i64);
    }
    let shift = match lower.as_bytes()[0] {
        b'k' => 10,
        b'm' => 20,
        b'g' => 30,
        b't' => 40,
        b'p' => 50,
        _ => return Err(bad_suffix()),
    };
    match &lower[1..] {
        "" | "b" | "ib" => Ok((size * (1u64 << shift) as f64) as i64),
        _ => Err(bad_suffix()),
    }
}

/// Go's `strconv.ParseFloat` (for what can come before a unit: decimals, `1e5`), with its
/// message.
fn go_parse_float(num: &str) -> Result<f64, String> {
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!(
            "strconv.ParseFloat: parsing {num:?}: invalid syntax"
        )),
    }
}

/// The CLI's `MemSwapBytes`: `-1` (unlimited), or a size.
pub fn mem_swap_bytes(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(s)
}

/// Go's `strconv.ParseInt(s, 10, 64)` with its messages.
pub fn parse_int64(s: &str) -> Result<i64, String> {
    use std::num::IntErrorKind;
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {s:?}: {why}")
    })
}

/// The CLI's `ParseCPUs`: a rational number (`1.5`, `3/2`, `15e-1`) times 10⁹, which must
/// come out whole. Too large a value saturates (the range check refuses it).
pub fn parse_cpus(s: &str) -> Result<i64, String> {
    let not_rational = || format!("failed to parse {s} as a rational number");
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    // (numerator digits, power of ten applied to them, denominator)
    let (mantissa, pow10, denom): (String, i64, u128) = if let Some((a, b)) = body.split_once('/') {
        if !digits(a) || !digits(b) {
            return Err(not_rational());
        }
        let denom = b.parse::<u128>().map_err(|_| not_rational())?;
        if denom == 0 {
            return Err(not_rational());
        }
        (a.to_string(), 0, denom)
    } else {
        let (num, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let exp: i64 = match exp {
            Some(e) => e.parse().map_err(|_| not_rational())?,
            None => 0,
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let ok = (int.is_empty() || digits(int)) && (frac.is_empty() || digits(frac));
        if !ok || (int.is_empty() && frac.is_empty()) {
            return Err(not_rational());
        }
        (format!("{int}{frac}"), exp - frac.len() as i64, 1)
    };
    let too_precise = || "value is too precise".to_string();
    let mantissa = mantissa.trim_start_matches('0');
    let mut n: u128 = if mantissa.is_empty() {
        0
    } else if mantissa.len() > 30 {
        u128::MAX
    } else {
        mantissa.parse().map_err(|_| not_rational())?
    };
    let pow = pow10 + 9;
    if n != 0 {
        if pow >= 0 {
            for _ in 0..pow.min(40) {
                n = n.saturating_mul(10);
            }
        } else {
            for _ in 0..(-pow) {
                if n % 10 != 0 {
                    return Err(too_precise());
                }
                n /= 10;
            }
        }
    }
    if n % denom != 0 {
        return Err(too_precise());
    }
    let n = i64::try_from(n / denom).unwrap_or(i64::MAX);
    Ok(if neg { -n } else { n })
}

/// go-units' `ParseUlimit`: `NAME=SOFT[:HARD]` (the hard limit is the soft one unless given).
pub fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let Some((name, values)) = s.split_once('=') else {
        return Err(format!("invalid ulimit argument: {s}"));
    };
    let Some(resource) = Resource::from_name(name) else {
        return Err(format!("invalid ulimit type: {name}"));
    };
    let parts: Vec<&str> = values.split(':').collect();
    let (soft, hard) = match parts.as_slice() {
        [soft] => {
            let soft = parse_int64(soft)?;
            (soft, soft)
        }
        [soft, hard] => {
            let hard = parse_int64(hard)?;
            (parse_int64(soft)?, hard)
        }
        _ => {
            return Err(format!(
                "too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
            ))
        }
    };
    // -1 is unlimited.
    let above = |a: i64, b: i64| b != -1 && (a == -1 || a > b);
    if above(soft, hard) {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: resource,
        soft,
        hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 1 << 20;

    #[test]
    fn sizes() {
        let ok = [
            ("0", 0),
            ("32", 32),
            ("32b", 32),
            ("32 B", 32),
            ("1k", 1024),
            ("1K", 1024),
            ("1kb", 1024),
            ("1KiB", 1024),
            ("20m", 20 * M),
            ("512mb", 512 * M),
            ("512MB", 512 * M),
            ("1.5m", 3 * M / 2),
            ("2g", 2048 * M),
            ("1t", 1 << 40),
            ("1p", 1 << 50),
            ("64 M", 64 * M),
            ("1e3", 1000),
        ];
        for (s, want) in ok {
            assert_eq!(ram_in_bytes(s), Ok(want), "{s}");
        }
        let bad = [
            ("", "invalid size: ''"),
            ("m", "invalid size: 'm'"),
            ("-1", "invalid size: '-1'"),
            ("1x", "invalid suffix: 'x'"),
            ("1mbb", "invalid suffix: 'mbb'"),
            ("1mx", "invalid suffix: 'mx'"),
            ("1bb", "invalid suffix: 'bb'"),
            ("1MiBs", "invalid suffix: 'MiBs'"),
            (
                "1.2.3",
                "strconv.ParseFloat: parsing \"1.2.3\": invalid syntax",
            ),
        ];
        for (s, want) in bad {
            assert_eq!(ram_in_bytes(s), Err(want.to_string()), "{s}");
        }
        assert_eq!(mem_swap_bytes("-1"), Ok(-1));
        assert_eq!(mem_swap_bytes("1g"), Ok(1024 * M));
        assert!(mem_swap_bytes("-2").is_err());
    }

    #[test]
    fn cpus() {
        let ok = [
            ("0.5", 500_000_000),
            ("1", 1_000_000_000),
            ("1.25", 1_250_000_000),
            (".5", 500_000_000),
            ("3/2", 1_500_000_000),
            ("15e-1", 1_500_000_000),
            ("0.000000001", 1),
            ("-1", -1_000_000_000),
            ("0", 0),
        ];
        for (s, want) in ok {
            assert_eq!(parse_cpus(s), Ok(want), "{s}");
        }
        let bad = [
            ("0.0000000001", "value is too precise"),
            ("1/3", "value is too precise"),
            ("abc", "failed to parse abc as a rational number"),
            ("", "failed to parse  as a rational number"),
            ("1/0", "failed to parse 1/0 as a rational number"),
            ("1.2.3", "failed to parse 1.2.3 as a rational number"),
        ];
        for (s, want) in bad {
            assert_eq!(parse_cpus(s), Err(want.to_string()), "{s}");
        }
    }

    #[test]
    fn ulimits() {
        let u = |name, soft, hard| Ulimit { name, soft, hard };
        let ok = [
            ("nofile=1024:2048", u(Resource::Nofile, 1024, 2048)),
            ("nproc=10", u(Resource::Nproc, 10, 10)),
            ("core=-1", u(Resource::Core, -1, -1)),
            ("memlock=100:-1", u(Resource::Memlock, 100, -1)),
            ("stack=0:0", u(Resource::Stack, 0, 0)),
        ];
        for (s, want) in ok {
            assert_eq!(parse_ulimit(s), Ok(want), "{s}");
        }
        let bad = [
            ("nofile", "invalid ulimit argument: nofile"),
            ("bogus=1", "invalid ulimit type: bogus"),
            ("as=1", "invalid ulimit type: as"),
            (
                "nofile=1:2:3",
                "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`",
            ),
            (
                "nofile=200:100",
                "ulimit soft limit must be less than or equal to hard limit: 200 > 100",
            ),
            (
                "nofile=-1:100",
                "ulimit soft limit must be less than or equal to hard limit: -1 > 100",
            ),
            (
                "nofile=x",
                "strconv.ParseInt: parsing \"x\": invalid syntax",
            ),
        ];
        for (s, want) in bad {
            assert_eq!(parse_ulimit(s), Err(want.to_string()), "{s}");
        }
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int64("512"), Ok(512));
        assert_eq!(parse_int64("-1"), Ok(-1));
        let over = "strconv.ParseInt: parsing \"99999999999999999999\": value out of range";
        assert_eq!(parse_int64("99999999999999999999"), Err(over.into()));
        assert_eq!(
            parse_int64("1.5"),
            Err("strconv.ParseInt: parsing \"1.5\": invalid syntax".into())
        );
    }

    #[test]
    fn flags_name_the_flag_and_last_ulimit_wins() {
        let ulimits = ["nproc=5".to_string(), "nofile=1:2".into(), "nproc=7".into()];
        let f = Flags {
            memory: Some("20m"),
            memory_swap: Some("-1"),
            cpus: Some("0.5"),
            cpu_shares: Some("512"),
            pids_limit: Some("20"),
            ulimits: &ulimits,
            shm_size: Some("1m"),
            cpuset_cpus: Some("0-1"),
            cpuset_mems: None,
        };
        let r = parse(&f).unwrap();
        assert_eq!(
            (
                r.memory,
                r.memory_swap,
                r.nano_cpus,
                r.cpu_shares,
                r.pids_limit
            ),
            (20 * M, -1, 500_000_000, 512, Some(20))
        );
        let names: Vec<_> = r.ulimits.iter().map(|u| (u.name.name(), u.soft)).collect();
        assert_eq!(names, [("nofile", 1), ("nproc", 7)]);
        assert_eq!(r.shm_size, M);
        assert_eq!(
            (r.cpuset_cpus.as_str(), r.cpuset_mems.as_str()),
            ("0-1", "")
        );
        let cases = [
            (
                Flags {
                    memory: Some("1x"),
                    ..Default::default()
                },
                "invalid argument \"1x\" for \"-m, --memory\" flag: invalid suffix: 'x'",
            ),
            (
                Flags {
                    cpu_shares: Some("lots"),
                    ..Default::default()
                },
                "invalid argument \"lots\" for \"--cpu-shares\" flag: strconv.ParseInt: parsing \"lots\": invalid syntax",
            ),
            (
                Flags {
                    ulimits: &["bogus=1".to_string()],
                    ..Default::default()
                },
                "invalid argument \"bogus=1\" for \"--ulimit\" flag: invalid ulimit type: bogus",
            ),
        ];
        for (f, want) in cases {
            assert_eq!(parse(&f).unwrap_err().to_string(), want);
        }
    }

    fn res(memory: i64, memory_swap: i64) -> Resources {
        Resources {
            memory,
            memory_swap,
            ..Default::default()
        }
    }

    const HOST: Host = Host {
        cpus: 2,
        swap_limit: true,
    };

    #[test]
    fn create_checks() {
        use ResourceError::*;
        let e = |r: Resources| check_create(&mut r.clone(), &HOST).unwrap_err();
        assert_eq!(e(res(1024, 0)), MemoryTooSmall);
        assert_eq!(e(res(20 * M, 10 * M)), SwapBelowMemory);
        assert_eq!(e(res(0, 10 * M)), SwapWithoutMemory);
        let cpus = |n| Resources {
            nano_cpus: n,
            ..Default::default()
        };
        assert_eq!(e(cpus(99_000_000_000)), CpuRange { cpus: 2 });
        assert_eq!(e(cpus(-1)), CpuRange { cpus: 2 });
        assert_eq!(
            CpuRange { cpus: 2 }.to_string(),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        let shm = Resources {
            shm_size: -1,
            ..Default::default()
        };
        assert_eq!(e(shm), NegativeShm);
    }

    #[test]
    fn create_defaults() {
        // (given, what the record holds)
        let cases = [
            (res(0, 0), (0, 0, 0, None, 64 * M)),
            (res(20 * M, 0), (20 * M, 40 * M, 0, None, 64 * M)),
            (res(20 * M, -1), (20 * M, -1, 0, None, 64 * M)),
            (res(20 * M, 30 * M), (20 * M, 30 * M, 0, None, 64 * M)),
            (
                Resources {
                    cpu_shares: -5,
                    pids_limit: Some(-1),
                    shm_size: M,
                    ..Default::default()
                },
                (0, 0, 2, None, M),
            ),
            (
                Resources {
                    cpu_shares: 1 << 20,
                    pids_limit: Some(0),
                    ..Default::default()
                },
                (0, 0, 262_144, None, 64 * M),
            ),
            (
                Resources {
                    pids_limit: Some(20),
                    ..Default::default()
                },
                (0, 0, 0, Some(20), 64 * M),
            ),
        ];
        for (given, want) in cases {
            let mut r = given.clone();
            assert!(check_create(&mut r, &HOST).unwrap().is_empty(), "{given:?}");
            let got = (
                r.memory,
                r.memory_swap,
                r.cpu_shares,
                r.pids_limit,
                r.shm_size,
            );
            assert_eq!(got, want, "{given:?}");
        }
        let no_swap = Host {
            cpus: 2,
            swap_limit: false,
        };
        let mut r = res(20 * M, 0);
        let warnings = check_create(&mut r, &no_swap).unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(r.memory_swap, -1);
    }

    #[test]
    fn updates_merge_as_docker_merges_them() {
        use ResourceError::*;
        let ran = res(40 * M, 80 * M);
        let merged = |cur: &Resources, new: Resources| merge_update(cur, &new, &HOST).map(|m| m.0);
        // (current, update, result)
        let cases = [
            (ran.clone(), res(64 * M, 0), Ok(res(64 * M, 80 * M))),
            (ran.clone(), res(100 * M, 0), Err(MemoryAboveSwap)),
            (
                ran.clone(),
                res(100 * M, 200 * M),
                Ok(res(100 * M, 200 * M)),
            ),
            (ran.clone(), res(100 * M, -1), Ok(res(100 * M, -1))),
            (res(0, 0), res(64 * M, 0), Err(MemoryAboveSwap)),
            (res(40 * M, -1), res(64 * M, 0), Err(MemoryAboveSwap)),
            (res(0, 0), res(64 * M, 128 * M), Ok(res(64 * M, 128 * M))),
            (ran.clone(), res(M, 0), Err(MemoryTooSmall)),
            (ran.clone(), res(64 * M, 32 * M), Err(SwapBelowMemory)),
        ];
        for (cur, new, want) in cases {
            assert_eq!(merged(&cur, new.clone()), want, "{cur:?} + {new:?}");
        }
        let pids = |p| Resources {
            pids_limit: p,
            ..Default::default()
        };
        assert_eq!(merged(&pids(Some(20)), pids(Some(-1))), Ok(pids(Some(0))));
        assert_eq!(merged(&pids(Some(20)), pids(None)), Ok(pids(Some(20))));
        let cpu = Resources {
            nano_cpus: 500_000_000,
            cpu_shares: 512,
            ..Default::default()
        };
        let new = Resources {
            cpu_shares: 256,
            ..Default::default()
        };
        let want = Resources {
            cpu_shares: 256,
            ..cpu.clone()
        };
        assert_eq!(merged(&cpu, new), Ok(want));
        let set = |cpus: &str, mems: &str| Resources {
            cpuset_cpus: cpus.into(),
            cpuset_mems: mems.into(),
            ..Default::default()
        };
        assert_eq!(merged(&set("0", "0"), set("1", "")), Ok(set("1", "0")));
        assert_eq!(merged(&set("0", "0"), set("", "")), Ok(set("0", "0")));
    }

    #[test]
    fn rlimits_map_minus_one_to_infinity() {
        let r = Resources {
            ulimits: vec![Ulimit {
                name: Resource::Nofile,
                soft: 100,
                hard: -1,
            }],
            ..Default::default()
        };
        let want = Rlimit {
            resource: Resource::Nofile,
            soft: 100,
            hard: u64::MAX,
        };
        assert_eq!(r.rlimits(), [want]);
        assert_eq!(r.shm_bytes(), 64 << 20);
    }
}
