//! `strata logs [-f] [--tail N] CONTAINER`: a detached container's output (stdout and
//! stderr as they were interleaved); `-f` follows it until the container stops.

use std::fs::File;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::container::{Containers, Status};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow the output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines (`all` for everything).
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<String>,
    pub container: String,
}

pub fn run(settings: &Settings, args: LogsArgs) -> Result<ExitCode> {
    let cs = Containers::new(&settings.root);
    let c = cs.find(&args.container)?;
    let path = cs.log_path(&c.id);
    let mut f = match File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .with_context(|| format!("invalid --tail {n:?}"))?,
        ),
    };
    let mut out = std::io::stdout().lock();
    if let Some(f) = f.as_mut() {
        let mut data = Vec::new();
        f.read_to_end(&mut data)
            .with_context(|| format!("reading {}", path.display()))?;
        let _ = out.write_all(&last_lines(&data, tail));
        let _ = out.flush();
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        let running =
            matches!(cs.get_reconciled(&c.id), Ok(c) if c.state.status == Status::Running);
        if f.is_none() {
            f = File::open(&path).ok();
        }
        if let Some(f) = f.as_mut() {
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            if !buf.is_empty() {
                let _ = out.write_all(&buf);
                let _ = out.flush();
            }
        }
        if !running {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `n` lines of `data` (all of it for `None`); an unterminated last line counts.
fn last_lines(data: &[u8], n: Option<usize>) -> Vec<u8> {
    let Some(n) = n else {
        return data.to_vec();
    };
    if n == 0 {
        return Vec::new();
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut start = 0;
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                start = i + 1;
                break;
            }
        }
    }
    data[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_lines() {
        let cases: &[(&str, Option<usize>, &str)] = &[
            ("a\nb\nc\n", None, "a\nb\nc\n"),
            ("a\nb\nc\n", Some(2), "b\nc\n"),
            ("a\nb\nc", Some(1), "c"),
            ("a\nb\n", Some(5), "a\nb\n"),
            ("a\nb\n", Some(0), ""),
            ("", Some(3), ""),
        ];
        for (data, n, want) in cases {
            assert_eq!(
                last_lines(data.as_bytes(), *n),
                want.as_bytes(),
                "{data:?} {n:?}"
            );
        }
    }
}
