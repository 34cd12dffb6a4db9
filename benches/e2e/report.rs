//! Bench results: the measured wall times, the README's reference medians and the issue's
//! targets, rendered as a markdown table and as JSON.

use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Cold,
    Noop,
    Change,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Cold => "cold",
            Phase::Noop => "no-op",
            Phase::Change => "change",
        }
    }
}

/// Medians in seconds from `../shared/bench/README.md` (hyperfine, 2 cores): (BuildKit,
/// buildah). They were measured on the Dockerfiles as they are, so only the "as is" variant is
/// compared with them.
fn reference(scenario: &str, phase: Phase) -> Option<(f64, f64)> {
    Some(match (scenario, phase) {
        ("s1-small", Phase::Cold) => (0.48, 1.19),
        ("s1-small", Phase::Noop) => (0.11, 0.43),
        ("s1-small", Phase::Change) => (0.38, 1.16),
        ("s2-bigctx", Phase::Cold) => (10.46, 17.43),
        ("s2-bigctx", Phase::Noop) => (0.37, 5.33),
        ("s2-bigctx", Phase::Change) => (6.74, 12.85),
        ("s3-parallel", Phase::Cold) => (2.82, 10.42),
        ("s4-biglayer", Phase::Cold) => (8.27, 18.54),
        ("s5-debian", Phase::Cold) => (2.15, 3.34),
        ("s5-debian", Phase::Noop) => (0.07, 0.04),
        _ => return None,
    })
}

/// The targets (seconds, for the median).
fn target(scenario: &str, phase: Phase) -> Option<f64> {
    match (scenario, phase) {
        ("s1-small", Phase::Noop) => Some(0.035),
        ("s2-bigctx", Phase::Noop) => Some(0.1),
        _ => None,
    }
}

pub struct Measurement {
    pub scenario: &'static str,
    pub variant: &'static str,
    pub phase: Phase,
    /// Wall seconds of each run, in run order.
    pub times: Vec<f64>,
    pub error: Option<String>,
}

impl Measurement {
    pub fn new(scenario: &'static str, variant: &'static str, phase: Phase) -> Measurement {
        Measurement {
            scenario,
            variant,
            phase,
            times: Vec::new(),
            error: None,
        }
    }

    /// (median, min, max), or None before the first run.
    pub fn stats(&self) -> Option<(f64, f64, f64)> {
        if self.times.is_empty() {
            return None;
        }
        let mut t = self.times.clone();
        t.sort_by(f64::total_cmp);
        let n = t.len();
        let median = if n % 2 == 1 {
            t[n / 2]
        } else {
            (t[n / 2 - 1] + t[n / 2]) / 2.0
        };
        Some((median, t[0], t[n - 1]))
    }

    fn reference(&self) -> Option<(f64, f64)> {
        (self.variant == "as is")
            .then(|| reference(self.scenario, self.phase))
            .flatten()
    }

    pub fn summary(&self) -> String {
        match self.stats() {
            Some((med, min, max)) => format!(
                "{} median {} (min {}, max {}, {} runs)",
                self.phase.name(),
                secs(med),
                secs(min),
                secs(max),
                self.times.len()
            ),
            None => format!("{} no successful run", self.phase.name()),
        }
    }
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn ratio(ours: f64, theirs: f64) -> String {
    format!("{:.2}×", ours / theirs)
}

/// One row per scenario, variant and phase; ratios are strata ÷ reference (below 1 = faster).
pub fn markdown(results: &[Measurement]) -> String {
    let mut out = String::from(
        "| scenario | variant | phase | runs | median | min | max | BuildKit | ratio | buildah | ratio | target |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for m in results {
        let (med, min, max) = match m.stats() {
            Some((a, b, c)) => (secs(a), secs(b), secs(c)),
            None => ("failed".into(), "—".into(), "—".into()),
        };
        let median = m.stats().map(|s| s.0);
        let (bk, bk_r, ba, ba_r) = match (m.reference(), median) {
            (Some((bk, ba)), Some(med)) => (secs(bk), ratio(med, bk), secs(ba), ratio(med, ba)),
            (Some((bk, ba)), None) => (secs(bk), "—".into(), secs(ba), "—".into()),
            _ => ("—".into(), "—".into(), "—".into(), "—".into()),
        };
        let tgt = match (target(m.scenario, m.phase), median) {
            (Some(t), Some(med)) => {
                let verdict = if med <= t { "met" } else { "MISSED" };
                format!("≤ {} {verdict}", secs(t))
            }
            (Some(t), None) => format!("≤ {}", secs(t)),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {med} | {min} | {max} | {bk} | {bk_r} | {ba} | {ba_r} | {tgt} |\n",
            m.scenario,
            m.variant,
            m.phase.name(),
            m.times.len(),
        ));
        if let Some(e) = &m.error {
            out.push_str(&format!(
                "\n{} {} {}: {}\n\n",
                m.scenario,
                m.variant,
                m.phase.name(),
                e.lines().next().unwrap_or("")
            ));
        }
    }
    out
}

pub fn json(
    results: &[Measurement],
    load_before: &str,
    load_after: &str,
    notes: &[String],
    bench_mode: bool,
) -> String {
    let rows: Vec<_> = results
        .iter()
        .map(|m| {
            let stats = m.stats();
            let reference = m.reference();
            json!({
                "scenario": m.scenario,
                "variant": m.variant,
                "phase": m.phase.name(),
                "runs_s": m.times,
                "median_s": stats.map(|s| s.0),
                "min_s": stats.map(|s| s.1),
                "max_s": stats.map(|s| s.2),
                "buildkit_s": reference.map(|r| r.0),
                "buildah_s": reference.map(|r| r.1),
                "target_s": target(m.scenario, m.phase),
                "error": m.error,
            })
        })
        .collect();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let doc = json!({
        "when_unix_s": unix,
        "smoke": !bench_mode,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "notes": notes,
        "results": rows,
    });
    serde_json::to_string_pretty(&doc).expect("results serialise")
}
