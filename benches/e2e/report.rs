//! Bench results: strata's and buildah's wall times and peak RSS, the README's reference
//! medians and issue 5's targets with their verdicts, rendered as a markdown table and as JSON.

use serde_json::json;

use crate::measure::stats;

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

/// The issues' targets, for the "as is" variant: issue 5's ratios to buildah (measured in the
/// same run, else the README's median) and absolute medians (s3: within 15% of its 2 s stage;
/// the no-op bounds of the build-cache issue).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// strata median ÷ buildah median at most this.
    Ratio(f64),
    /// strata median at most this many seconds.
    Secs(f64),
}

fn target(scenario: &str, phase: Phase) -> Option<Target> {
    Some(match (scenario, phase) {
        ("s1-small", Phase::Cold) => Target::Ratio(0.2),
        ("s1-small", Phase::Noop) => Target::Secs(0.035),
        ("s2-bigctx", Phase::Cold) => Target::Ratio(0.3),
        ("s2-bigctx", Phase::Noop) => Target::Secs(0.1),
        ("s2-bigctx", Phase::Change) => Target::Ratio(0.25),
        ("s3-parallel", Phase::Cold) => Target::Secs(2.3),
        ("s4-biglayer", Phase::Cold) => Target::Ratio(0.3),
        ("s5-debian", Phase::Cold) => Target::Ratio(0.4),
        _ => return None,
    })
}

/// Issue 5: strata's peak RSS stays under 200 MB (decimal) in every scenario.
pub const RSS_LIMIT_KIB: u64 = 200_000_000 / 1024;

/// Where a strata/buildah ratio's denominator came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Measured,
    Readme,
}

pub struct Measurement {
    pub scenario: &'static str,
    pub variant: &'static str,
    pub phase: Phase,
    /// Wall seconds of each strata run, in run order.
    pub times: Vec<f64>,
    /// Peak RSS (KiB) of each strata run.
    pub rss_kib: Vec<u64>,
    pub error: Option<String>,
    /// buildah in the same run (empty when it is not installed or not timed).
    pub buildah: Vec<f64>,
    pub buildah_rss_kib: Vec<u64>,
    pub buildah_error: Option<String>,
}

impl Measurement {
    pub fn new(scenario: &'static str, variant: &'static str, phase: Phase) -> Measurement {
        Measurement {
            scenario,
            variant,
            phase,
            times: Vec::new(),
            rss_kib: Vec::new(),
            error: None,
            buildah: Vec::new(),
            buildah_rss_kib: Vec::new(),
            buildah_error: None,
        }
    }

    pub fn stats(&self) -> Option<(f64, f64, f64)> {
        stats(&self.times)
    }

    pub fn buildah_stats(&self) -> Option<(f64, f64, f64)> {
        stats(&self.buildah)
    }

    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.rss_kib.iter().copied().max()
    }

    fn reference(&self) -> Option<(f64, f64)> {
        (self.variant == "as is")
            .then(|| reference(self.scenario, self.phase))
            .flatten()
    }

    /// buildah's median: this run's, else the README's (only for the "as is" variant).
    fn anchor(&self) -> Option<(f64, Anchor)> {
        if let Some((med, _, _)) = self.buildah_stats() {
            return Some((med, Anchor::Measured));
        }
        self.reference().map(|(_, ba)| (ba, Anchor::Readme))
    }

    /// strata ÷ buildah, medians.
    pub fn ratio(&self) -> Option<(f64, Anchor)> {
        let (ours, _, _) = self.stats()?;
        let (theirs, anchor) = self.anchor()?;
        Some((ours / theirs, anchor))
    }

    pub fn target(&self) -> Option<Target> {
        (self.variant == "as is")
            .then(|| target(self.scenario, self.phase))
            .flatten()
    }

    /// Some(true) when the target is met; None without a target or without the numbers.
    pub fn met(&self) -> Option<bool> {
        match self.target()? {
            Target::Ratio(r) => Some(self.ratio()?.0 <= r),
            Target::Secs(s) => Some(self.stats()?.0 <= s),
        }
    }

    pub fn summary(&self) -> String {
        let tool = |name: &str, t: &[f64]| match stats(t) {
            Some((med, min, max)) => format!(
                "{name} median {} (min {}, max {}, {} runs)",
                secs(med),
                secs(min),
                secs(max),
                t.len()
            ),
            None => format!("{name} no successful run"),
        };
        let mut s = format!("{} {}", self.phase.name(), tool("strata", &self.times));
        if let Some(kib) = self.peak_rss_kib() {
            s.push_str(&format!(", peak RSS {}", mb(kib)));
        }
        if !self.buildah.is_empty() || self.buildah_error.is_some() {
            s.push_str(&format!("; {}", tool("buildah", &self.buildah)));
        }
        s
    }
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn mb(kib: u64) -> String {
    format!("{:.0} MB", kib as f64 * 1024.0 / 1e6)
}

fn target_text(t: Target) -> String {
    match t {
        Target::Ratio(r) => format!("≤ {r:.2}× buildah"),
        Target::Secs(s) => format!("≤ {}", secs(s)),
    }
}

/// One row per scenario, variant and phase. The ratio is strata ÷ buildah (below 1 = faster),
/// against buildah timed in this run, or the README's median when marked "(README)".
pub fn markdown(results: &[Measurement]) -> String {
    let mut out = String::from(
        "| scenario | variant | phase | runs | strata median | min | max | strata peak RSS | buildah median | strata/buildah | target | verdict | BuildKit (README) | strata/BuildKit |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|\n",
    );
    for m in results {
        let (med, min, max) = match m.stats() {
            Some((a, b, c)) => (secs(a), secs(b), secs(c)),
            None => ("failed".into(), "—".into(), "—".into()),
        };
        let rss = match m.peak_rss_kib() {
            Some(k) if k > RSS_LIMIT_KIB => format!("{} **> 200 MB**", mb(k)),
            Some(k) => mb(k),
            None => "—".into(),
        };
        let buildah = match (m.buildah_stats(), m.anchor()) {
            (Some((b, _, _)), _) => format!("{} ({} runs)", secs(b), m.buildah.len()),
            (None, Some((b, _))) => format!("{} (README)", secs(b)),
            (None, None) if m.buildah_error.is_some() => "failed".into(),
            (None, None) => "—".into(),
        };
        let ratio = match m.ratio() {
            Some((r, Anchor::Measured)) => format!("{r:.2}×"),
            Some((r, Anchor::Readme)) => format!("{r:.2}× (README)"),
            None => "—".into(),
        };
        let tgt = m.target().map(target_text).unwrap_or_default();
        let verdict = match m.met() {
            Some(true) => "met",
            Some(false) => "**MISSED**",
            None => "",
        };
        let (bk, bk_r) = match (m.reference(), m.stats()) {
            (Some((bk, _)), Some((med, _, _))) => (secs(bk), format!("{:.2}×", med / bk)),
            (Some((bk, _)), None) => (secs(bk), "—".into()),
            _ => ("—".into(), "—".into()),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {med} | {min} | {max} | {rss} | {buildah} | {ratio} | {tgt} | {verdict} | {bk} | {bk_r} |\n",
            m.scenario,
            m.variant,
            m.phase.name(),
            m.times.len(),
        ));
    }
    for m in results {
        for (tool, e) in [("strata", &m.error), ("buildah", &m.buildah_error)] {
            if let Some(e) = e {
                out.push_str(&format!(
                    "\n{} {} {} ({tool}): {}\n",
                    m.scenario,
                    m.variant,
                    m.phase.name(),
                    e.lines().next().unwrap_or("")
                ));
            }
        }
    }
    out
}

pub fn json(
    results: &[Measurement],
    load_before: &str,
    load_after: &str,
    notes: &[String],
    buildah: Option<&str>,
    bench_mode: bool,
) -> String {
    let rows: Vec<_> = results
        .iter()
        .map(|m| {
            let stats = m.stats();
            let reference = m.reference();
            let buildah = m.buildah_stats();
            let ratio = m.ratio();
            let target = m.target().map(|t| match t {
                Target::Ratio(r) => json!({"ratio_to_buildah_max": r}),
                Target::Secs(s) => json!({"median_s_max": s}),
            });
            json!({
                "scenario": m.scenario,
                "variant": m.variant,
                "phase": m.phase.name(),
                "runs_s": m.times,
                "median_s": stats.map(|s| s.0),
                "min_s": stats.map(|s| s.1),
                "max_s": stats.map(|s| s.2),
                "max_rss_kib": m.rss_kib,
                "peak_rss_kib": m.peak_rss_kib(),
                "rss_under_200mb": m.peak_rss_kib().map(|k| k <= RSS_LIMIT_KIB),
                "error": m.error,
                "buildah": {
                    "runs_s": m.buildah,
                    "median_s": buildah.map(|s| s.0),
                    "min_s": buildah.map(|s| s.1),
                    "max_s": buildah.map(|s| s.2),
                    "max_rss_kib": m.buildah_rss_kib,
                    "error": m.buildah_error,
                },
                "ratio_to_buildah": ratio.map(|r| r.0),
                "ratio_anchor": ratio.map(|r| match r.1 {
                    Anchor::Measured => "buildah timed in this run",
                    Anchor::Readme => "README median",
                }),
                "target": target,
                "target_met": m.met(),
                "readme_buildkit_s": reference.map(|r| r.0),
                "readme_buildah_s": reference.map(|r| r.1),
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
        "buildah": buildah,
        "buildah_storage_driver": crate::buildah::DRIVER,
        "results": rows,
    });
    serde_json::to_string_pretty(&doc).expect("results serialise")
}
