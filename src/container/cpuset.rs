//! `--cpuset-cpus` and `--cpuset-mems`: lists of CPUs and memory nodes (`0-2,5`) checked
//! against what the host offers as dockerd checks them (`verifyPlatformContainerResources`),
//! at create and at `update`. Pure but for `Available::detect`.

use std::collections::BTreeSet;

/// The daemon's ceiling for a CPU number unless the host has more (Linux's usual maximum).
const MAX_CPUS: u32 = 8192;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpusetError {
    #[error("Invalid value {value} for cpuset {what}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("Requested CPUs are not available - requested {requested}, available: {available}")]
    CpusUnavailable {
        requested: String,
        available: String,
    },
    #[error(
        "Requested memory nodes are not available - requested {requested}, available: {available}"
    )]
    MemsUnavailable {
        requested: String,
        available: String,
    },
}

/// The CPUs and memory nodes containers may use, as lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    pub cpus: String,
    pub mems: String,
}

impl Available {
    /// What the cgroup hierarchy gives its children (v2 `cpuset.*.effective` at the root, v1
    /// the cpuset hierarchy's root), else what the kernel has online.
    pub fn detect() -> Available {
        use crate::sandbox::cgroup::Layout;
        let read = |p: std::path::PathBuf| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let (cpus, mems) = match Layout::detect() {
            Ok(Layout::V2 { root }) => (
                read(root.join("cpuset.cpus.effective")),
                read(root.join("cpuset.mems.effective")),
            ),
            Ok(Layout::V1 { controllers }) => match controllers.get("cpuset") {
                Some(dir) => (read(dir.join("cpuset.cpus")), read(dir.join("cpuset.mems"))),
                None => (None, None),
            },
            Err(_) => (None, None),
        };
        let sys = |p: &str| read(p.into());
        Available {
            cpus: cpus
                .or_else(|| sys("/sys/devices/system/cpu/online"))
                .unwrap_or_else(|| "0".into()),
            mems: mems
                .or_else(|| sys("/sys/devices/system/node/online"))
                .unwrap_or_else(|| "0".into()),
        }
    }
}

/// dockerd's check of both lists (an empty one is not set).
pub fn verify(cpus: &str, mems: &str, available: &Available) -> Result<(), CpusetError> {
    if !within(cpus, &available.cpus, "cpus")? {
        return Err(CpusetError::CpusUnavailable {
            requested: cpus.to_string(),
            available: available.cpus.clone(),
        });
    }
    if !within(mems, &available.mems, "mems")? {
        return Err(CpusetError::MemsUnavailable {
            requested: mems.to_string(),
            available: available.mems.clone(),
        });
    }
    Ok(())
}

/// Whether every member of `provided` is in `available`.
fn within(provided: &str, available: &str, what: &'static str) -> Result<bool, CpusetError> {
    let invalid = |reason: String| CpusetError::Invalid {
        what,
        value: provided.to_string(),
        reason,
    };
    let available = parse_list(available, 0).map_err(invalid)?;
    let ceiling = available.iter().copied().max().unwrap_or(0).max(MAX_CPUS);
    let provided = parse_list(provided, ceiling).map_err(invalid)?;
    Ok(provided.is_subset(&available))
}

/// Docker's `ParseUintListMaximum`: `0-2,5` as a set; `maximum` 0 is no ceiling.
pub fn parse_list(val: &str, maximum: u32) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    if val.is_empty() {
        return Ok(out);
    }
    let bad = || format!("invalid format: {val}");
    let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let over = |n: u32| maximum != 0 && n > maximum;
    let out_of_range = || format!("value of out range, maximum is {maximum}");
    for part in val.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(part)?;
                (n, n)
            }
        };
        if hi < lo {
            return Err(bad());
        }
        if over(hi) {
            return Err(out_of_range());
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let ok: &[(&str, &[u32])] = &[
            ("", &[]),
            ("0", &[0]),
            ("0-2", &[0, 1, 2]),
            ("0-1,3", &[0, 1, 3]),
            ("3,1", &[1, 3]),
            ("2-2", &[2]),
        ];
        for (s, want) in ok {
            let got: Vec<u32> = parse_list(s, 0).unwrap().into_iter().collect();
            assert_eq!(got, *want, "{s}");
        }
        let bad = [
            ("a", "invalid format: a"),
            ("0-", "invalid format: 0-"),
            ("2-1", "invalid format: 2-1"),
            ("-1", "invalid format: -1"),
            ("1,,2", "invalid format: 1,,2"),
        ];
        for (s, want) in bad {
            assert_eq!(parse_list(s, 0), Err(want.to_string()), "{s}");
        }
        assert_eq!(
            parse_list("9000", 8192),
            Err("value of out range, maximum is 8192".into())
        );
    }

    #[test]
    fn checks_against_the_host() {
        let host = Available {
            cpus: "0-1".into(),
            mems: "0".into(),
        };
        let cases: &[(&str, &str, Result<(), &str>)] = &[
            ("", "", Ok(())),
            ("0", "0", Ok(())),
            ("0-1", "", Ok(())),
            (
                "0-9",
                "",
                Err("Requested CPUs are not available - requested 0-9, available: 0-1"),
            ),
            (
                "",
                "1",
                Err("Requested memory nodes are not available - requested 1, available: 0"),
            ),
            (
                "x",
                "",
                Err("Invalid value x for cpuset cpus: invalid format: x"),
            ),
            (
                "",
                "0-a",
                Err("Invalid value 0-a for cpuset mems: invalid format: 0-a"),
            ),
            (
                "10000",
                "",
                Err("Invalid value 10000 for cpuset cpus: value of out range, maximum is 8192"),
            ),
        ];
        for (cpus, mems, want) in cases {
            let got = verify(cpus, mems, &host).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{cpus:?} {mems:?}");
        }
    }
}
