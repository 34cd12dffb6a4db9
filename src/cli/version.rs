//! `strata version`: Docker's client/server report, or `--format` over an object shaped like
//! the docker CLI's (`{{.Client.Version}}`, `{{.Server.Version}}`, `{{json .}}`). strata is its
//! own server: both halves describe the same build.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use super::format::{print, render_rows};
use crate::container::host_info::{BUILD_TIME, GIT_COMMIT, RUSTC_VERSION, VERSION};
use crate::engine::system::API_VERSION;

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// `json` or a Go template (`'{{.Server.Version}}'`).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

pub fn run(args: VersionArgs) -> Result<ExitCode> {
    let v = json!({
        "Client": {
            "Platform": {"Name": ""},
            "Version": VERSION,
            "ApiVersion": API_VERSION,
            "DefaultAPIVersion": API_VERSION,
            "GitCommit": GIT_COMMIT,
            "GoVersion": RUSTC_VERSION,
            "Os": "linux",
            "Arch": crate::store::config::host_arch(),
            "BuildTime": BUILD_TIME.parse::<i64>().map(ansic).unwrap_or_default(),
            "Context": "default",
        },
        "Server": crate::engine::system::version(),
    });
    match args.format.as_deref() {
        Some(f) => print(&render_rows(f, &[v], &[])?),
        None => print(&text(&v)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as `docker version` prints it: values aligned at column 21, as its tabwriter
/// (minimum cell width 20) aligns them.
fn text(v: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let (c, srv) = (&v["Client"], &v["Server"]);
    let d = &srv["Components"][0]["Details"];
    let mut out = String::from("Client:\n");
    let mut line = |label: &str, value: String| {
        out.push_str(&format!("{label:<20}{value}\n"));
    };
    line(" Version:", s(&c["Version"]));
    line(" API version:", s(&c["ApiVersion"]));
    line(" Go version:", s(&c["GoVersion"]));
    line(" Git commit:", s(&c["GitCommit"]));
    line(" Built:", s(&c["BuildTime"]));
    line(" OS/Arch:", format!("{}/{}", s(&c["Os"]), s(&c["Arch"])));
    line(" Context:", s(&c["Context"]));
    out.push_str(&format!(
        "\nServer: {}\n Engine:\n",
        s(&srv["Platform"]["Name"])
    ));
    for (label, value) in [
        ("  Version:", s(&srv["Version"])),
        (
            "  API version:",
            format!(
                "{} (minimum version {})",
                s(&d["ApiVersion"]),
                s(&d["MinAPIVersion"])
            ),
        ),
        ("  Go version:", s(&d["GoVersion"])),
        ("  Git commit:", s(&d["GitCommit"])),
        ("  Built:", s(&c["BuildTime"])),
        ("  OS/Arch:", format!("{}/{}", s(&d["Os"]), s(&d["Arch"]))),
        ("  Experimental:", s(&d["Experimental"])),
    ] {
        out.push_str(&format!("{label:<20}{value}\n"));
    }
    out
}

/// Unix seconds as Go's `time.ANSIC` in UTC: `Wed Feb 26 10:41:12 2025`.
fn ansic(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let r = crate::store::time::format_rfc3339(secs);
    let month: usize = r[5..7].parse().unwrap_or(1);
    let day: u32 = r[8..10].parse().unwrap_or(1);
    format!(
        "{} {} {day:>2} {} {}",
        DAYS[secs.div_euclid(86_400).rem_euclid(7) as usize],
        MONTHS[month.clamp(1, 12) - 1],
        &r[11..19],
        &r[..4]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansic_times() {
        for (secs, want) in [
            (0, "Thu Jan  1 00:00:00 1970"),
            (1_740_566_472, "Wed Feb 26 10:41:12 2025"),
            (1_700_000_000, "Tue Nov 14 22:13:20 2023"),
        ] {
            assert_eq!(ansic(secs), want, "{secs}");
        }
    }
}
