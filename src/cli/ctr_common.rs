//! What the container commands share: Docker's exit code 125 for strata's own errors, the
//! docker CLI's `-it` check and confirmation prompt, printing `create`'s events, and applying
//! one operation to each container named.

use std::process::ExitCode;

use anyhow::Result;

use crate::engine::containers::{self as engine, CreateEvent};
use crate::store::Store;

/// Prints `err` as `main` would and returns `code` (125 for strata's own failures).
pub fn fail(code: i32, err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", super::render_error(err));
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Docker's check before `-it`: an interactive terminal needs our stdin to be one. Returns the
/// exit code to fail with when it is not (nothing was created then).
pub fn require_tty_input(interactive: bool, tty: bool) -> Option<ExitCode> {
    if interactive && tty && !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        eprintln!("the input device is not a TTY");
        return Some(ExitCode::from(1));
    }
    None
}

/// Prints what `create` reports on the way, as the docker CLI prints it.
pub fn show_create_event(e: CreateEvent) {
    match e {
        CreateEvent::Warning(w) => eprintln!("WARNING: {w}"),
        CreateEvent::Pulling { reference } => {
            eprintln!("Unable to find image '{reference}' locally")
        }
        CreateEvent::PullWarning(w) => eprintln!("warning: {w}"),
    }
}

/// Applies `act` to each container the user named, printing the name as Docker does for each
/// one done; a failure is reported and the rest still run (exit 1 if any failed).
pub fn each_container<T>(
    settings: &super::Settings,
    queries: &[String],
    act: impl Fn(&Store, &str) -> Result<T, engine::Error>,
) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let mut code = ExitCode::SUCCESS;
    for q in queries {
        match act(&store, q) {
            Ok(_) => println!("{q}"),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}

/// Asks `warning` + "Are you sure you want to continue? [y/N]" on stderr; no answer (stdin
/// closed, not a terminal) is no.
pub fn confirm(warning: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    eprint!("{warning}\n\nAre you sure you want to continue? [y/N] ");
    std::io::stderr().flush()?;
    let stdin = std::io::stdin();
    if !stdin.is_terminal()
        && stdin
            .lock()
            .fill_buf()
            .map(|b| b.is_empty())
            .unwrap_or(true)
    {
        eprintln!();
        return Ok(false);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}
