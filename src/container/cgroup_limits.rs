//! What a container's `Resources` become in its cgroup: the control-file writes, in the order
//! the kernel accepts them, for v1 or v2 (as runc writes them). Pure; `cgroups` makes them.

use super::resources::Resources;
use crate::sandbox::cgroup::Write;

/// The CFS period Docker gives `--cpus` (100 ms, in µs): the quota is that share of it.
pub const CPU_PERIOD_US: i64 = 100_000;

/// Where the limits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub v2: bool,
    /// Whether the swap file exists (v1 `memory.memsw.limit_in_bytes`, v2 `memory.swap.max`);
    /// without it the swap limit is left out, as Docker does without swap accounting.
    pub swap: bool,
    /// The memory limit in force now (`None`: unlimited, as in a new cgroup). On v1 it
    /// decides whether memory or memory+swap is written first, since the kernel refuses a
    /// memory limit above memory+swap at every step.
    pub current_memory: Option<u64>,
}

fn w(controller: &'static str, file: &'static str, value: impl ToString) -> Write {
    Write {
        controller,
        file,
        value: value.to_string(),
    }
}

/// The writes that put `r` in force; limits that are not set (0, `None`) are left alone.
pub fn writes(r: &Resources, t: Target) -> Vec<Write> {
    let mut out = Vec::new();
    if t.v2 {
        memory_v2(r, t.swap, &mut out);
    } else {
        memory_v1(r, t, &mut out);
    }
    if r.nano_cpus > 0 {
        let quota = r.nano_cpus * CPU_PERIOD_US / 1_000_000_000;
        if t.v2 {
            out.push(w("cpu", "cpu.max", format!("{quota} {CPU_PERIOD_US}")));
        } else {
            out.push(w("cpu", "cpu.cfs_period_us", CPU_PERIOD_US));
            out.push(w("cpu", "cpu.cfs_quota_us", quota));
        }
    }
    if r.cpu_shares > 0 {
        if t.v2 {
            out.push(w(
                "cpu",
                "cpu.weight",
                shares_to_weight(r.cpu_shares as u64),
            ));
        } else {
            out.push(w("cpu", "cpu.shares", r.cpu_shares));
        }
    }
    match r.pids_limit {
        Some(n) if n > 0 => out.push(w("pids", "pids.max", n)),
        Some(_) => out.push(w("pids", "pids.max", "max")),
        None => {}
    }
    // The same files on v1 and v2.
    if !r.cpuset_cpus.is_empty() {
        out.push(w("cpuset", "cpuset.cpus", &r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        out.push(w("cpuset", "cpuset.mems", &r.cpuset_mems));
    }
    out
}

fn memory_v1(r: &Resources, t: Target, out: &mut Vec<Write>) {
    let memory = (r.memory != 0).then(|| w("memory", "memory.limit_in_bytes", r.memory));
    let swap = (t.swap && r.memory_swap != 0)
        .then(|| w("memory", "memory.memsw.limit_in_bytes", r.memory_swap));
    match (memory, swap) {
        (Some(m), Some(s)) => {
            // Raising: memory+swap first; lowering: memory first (runc's order).
            let raise = r.memory_swap == -1
                || t.current_memory
                    .is_some_and(|cur| cur < r.memory_swap as u64);
            out.extend(if raise { [s, m] } else { [m, s] });
        }
        (m, s) => out.extend(m.into_iter().chain(s)),
    }
}

fn memory_v2(r: &Resources, swap_file: bool, out: &mut Vec<Write>) {
    if r.memory > 0 {
        out.push(w("memory", "memory.max", r.memory));
    }
    // v2 limits swap alone: memory+swap less memory (runc's ConvertMemorySwapToCgroupV2Value).
    let swap = match (r.memory_swap, r.memory) {
        (-1, _) => Some("max".to_string()),
        (s, m) if s > 0 && m > 0 && s >= m => Some((s - m).to_string()),
        _ => None,
    };
    if let (Some(swap), true) = (swap, swap_file) {
        out.push(w("memory", "memory.swap.max", swap));
    }
}

/// runc's mapping of v1 shares (2…262144) onto v2 weights (1…10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 1 << 20;

    fn res(
        memory: i64,
        memory_swap: i64,
        nano_cpus: i64,
        shares: i64,
        pids: Option<i64>,
    ) -> Resources {
        Resources {
            memory,
            memory_swap,
            nano_cpus,
            cpu_shares: shares,
            pids_limit: pids,
            ..Default::default()
        }
    }

    fn show(ws: &[Write]) -> Vec<String> {
        ws.iter()
            .map(|w| format!("{}={}", w.file, w.value))
            .collect()
    }

    const V1: Target = Target {
        v2: false,
        swap: true,
        current_memory: None,
    };
    const V2: Target = Target {
        v2: true,
        swap: true,
        current_memory: None,
    };

    #[test]
    fn write_lists() {
        let cases: Vec<(Resources, Target, &[&str])> = vec![
            (Resources::default(), V1, &[]),
            (Resources::default(), V2, &[]),
            (
                res(20 * M, 40 * M, 0, 0, None),
                V1,
                &[
                    "memory.limit_in_bytes=20971520",
                    "memory.memsw.limit_in_bytes=41943040",
                ],
            ),
            (
                res(20 * M, 40 * M, 0, 0, None),
                V2,
                &["memory.max=20971520", "memory.swap.max=20971520"],
            ),
            (
                res(20 * M, -1, 0, 0, None),
                V1,
                &[
                    "memory.memsw.limit_in_bytes=-1",
                    "memory.limit_in_bytes=20971520",
                ],
            ),
            (
                res(20 * M, -1, 0, 0, None),
                V2,
                &["memory.max=20971520", "memory.swap.max=max"],
            ),
            (
                res(20 * M, 40 * M, 0, 0, None),
                Target { swap: false, ..V1 },
                &["memory.limit_in_bytes=20971520"],
            ),
            (
                res(20 * M, 20 * M, 0, 0, None),
                Target { swap: false, ..V2 },
                &["memory.max=20971520"],
            ),
            (
                res(20 * M, 20 * M, 0, 0, None),
                V2,
                &["memory.max=20971520", "memory.swap.max=0"],
            ),
            // An update raising both limits past the current memory limit: memsw first.
            (
                res(100 * M, 200 * M, 0, 0, None),
                Target {
                    current_memory: Some(40 * M as u64),
                    ..V1
                },
                &[
                    "memory.memsw.limit_in_bytes=209715200",
                    "memory.limit_in_bytes=104857600",
                ],
            ),
            (
                res(0, 0, 500_000_000, 512, None),
                V1,
                &[
                    "cpu.cfs_period_us=100000",
                    "cpu.cfs_quota_us=50000",
                    "cpu.shares=512",
                ],
            ),
            (
                res(0, 0, 500_000_000, 512, None),
                V2,
                &["cpu.max=50000 100000", "cpu.weight=20"],
            ),
            (
                res(0, 0, 1_500_000_000, 0, None),
                V2,
                &["cpu.max=150000 100000"],
            ),
            (res(0, 0, 0, 0, Some(20)), V1, &["pids.max=20"]),
            (res(0, 0, 0, 0, Some(20)), V2, &["pids.max=20"]),
            (res(0, 0, 0, 0, Some(0)), V2, &["pids.max=max"]),
            (
                Resources {
                    cpuset_cpus: "0-1".into(),
                    cpuset_mems: "0".into(),
                    ..Default::default()
                },
                V2,
                &["cpuset.cpus=0-1", "cpuset.mems=0"],
            ),
            (
                Resources {
                    cpuset_mems: "0".into(),
                    ..Default::default()
                },
                V1,
                &["cpuset.mems=0"],
            ),
        ];
        for (r, t, want) in cases {
            assert_eq!(show(&writes(&r, t)), want, "{r:?} {t:?}");
        }
        let controllers: Vec<_> = writes(&res(20 * M, 40 * M, 1, 2, Some(3)), V1)
            .iter()
            .map(|w| w.controller)
            .collect();
        assert_eq!(
            controllers,
            ["memory", "memory", "cpu", "cpu", "cpu", "pids"]
        );
    }

    #[test]
    fn weights() {
        let cases = [
            (0, 0),
            (2, 1),
            (512, 20),
            (1024, 39),
            (262_144, 10_000),
            (1, 1),
        ];
        for (shares, weight) in cases {
            assert_eq!(shares_to_weight(shares), weight, "{shares}");
        }
    }
}
