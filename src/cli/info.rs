//! `strata info` (and `system info`): Docker's text report, or `--format` over an object shaped
//! like Docker's `/info` (its fields, plus `ClientInfo`, as the docker CLI templates it).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::format::{print, render_rows};
use super::Settings;
use crate::container::host_info::{SystemInfo, VERSION};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// `json` or a Go template (`'{{.ServerVersion}}'`, `'{{.CgroupVersion}}'`).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

pub fn run(settings: &Settings, args: InfoArgs) -> Result<ExitCode> {
    let info = crate::engine::system::info(&settings.root)?;
    match args.format.as_deref() {
        Some(f) => {
            let mut v = serde_json::to_value(&info)?;
            v["ClientInfo"] = json!({
                "Debug": false,
                "Version": VERSION,
                "Context": "default",
                "Plugins": [],
                "Warnings": null,
            });
            print(&render_rows(f, &[v], &[])?);
        }
        None => print(&text(&info)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as `docker info` prints it, with the lines that apply to strata.
fn text(i: &SystemInfo) -> String {
    let mut s = format!(
        "Client:\n Version:    {VERSION}\n Context:    default\n Debug Mode: false\n\nServer:\n"
    );
    let mut line = |indent: usize, text: String| {
        s.push_str(&" ".repeat(indent));
        s.push_str(&text);
        s.push('\n');
    };
    line(1, format!("Containers: {}", i.containers));
    line(2, format!("Running: {}", i.containers_running));
    line(2, format!("Paused: {}", i.containers_paused));
    line(2, format!("Stopped: {}", i.containers_stopped));
    line(1, format!("Images: {}", i.images));
    line(1, format!("Server Version: {}", i.server_version));
    line(1, format!("Storage Driver: {}", i.driver));
    line(1, format!("Logging Driver: {}", i.logging_driver));
    line(1, format!("Cgroup Driver: {}", i.cgroup_driver));
    line(1, format!("Cgroup Version: {}", i.cgroup_version));
    line(1, "Plugins:".into());
    for kind in ["Volume", "Network", "Log"] {
        if let Some(names) = i.plugins.get(kind) {
            line(2, format!("{kind}: {}", names.join(" ")));
        }
    }
    if !i.security_options.is_empty() {
        line(1, "Security Options:".into());
        for o in &i.security_options {
            // `name=seccomp,profile=builtin` prints as `seccomp` and `Profile: builtin`.
            let mut parts = o.split(',');
            let name = parts.next().unwrap_or_default();
            line(2, name.trim_start_matches("name=").to_string());
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    let mut k = k.to_string();
                    if let Some(f) = k.get_mut(0..1) {
                        f.make_ascii_uppercase();
                    }
                    line(3, format!("{k}: {v}"));
                }
            }
        }
    }
    line(1, format!("Kernel Version: {}", i.kernel_version));
    line(1, format!("Operating System: {}", i.operating_system));
    line(1, format!("OSType: {}", i.os_type));
    line(1, format!("Architecture: {}", i.architecture));
    line(1, format!("CPUs: {}", i.ncpu));
    line(1, format!("Total Memory: {}", bytes_size(i.mem_total)));
    line(1, format!("Name: {}", i.name));
    line(1, format!("ID: {}", i.id));
    line(
        1,
        format!("Docker Root Dir: {}", i.docker_root_dir.display()),
    );
    line(1, format!("Debug Mode: {}", i.debug));
    line(1, format!("Experimental: {}", i.experimental_build));
    line(
        1,
        format!("Live Restore Enabled: {}", i.live_restore_enabled),
    );
    for w in &i.warnings {
        line(0, w.clone());
    }
    s
}

/// go-units `BytesSize`: binary units, four significant digits (`15.46GiB`, `512MiB`).
fn bytes_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    // %.4g: four significant digits, trailing zeros dropped.
    let int_digits = if v < 1.0 {
        1
    } else {
        v.log10().floor() as usize + 1
    };
    let s = format!("{v:.*}", 4usize.saturating_sub(int_digits));
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_like_go_units() {
        for (n, want) in [
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1KiB"),
            (1536, "1.5KiB"),
            (16_303_012 * 1024, "15.55GiB"),
            (8 * 1024 * 1024 * 1024, "8GiB"),
            (123_456_789, "117.7MiB"),
        ] {
            assert_eq!(bytes_size(n), want, "{n}");
        }
    }
}
