//! `strata login [-u USER] [-p PASS | --password-stdin] [REGISTRY]`: checks the credential
//! against the registry, then saves it in Docker's config (or its credential helper).

use std::io::{self, BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::os::fd::AsFd as _;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::distribution::credentials::{self, Credential};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (visible to other users in `ps`: prefer --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// A registry (`host[:port]`, `host` or CIDR) that may be reached over plain HTTP when it
    /// does not speak HTTPS; loopback always may.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// The registry, `host[:port]` (default: Docker Hub).
    pub server: Option<String>,
}

pub fn run(args: LoginArgs) -> Result<ExitCode> {
    let (key, _) = crate::engine::auth::server_names(args.server.as_deref());
    if args.password_stdin && args.username.is_none() {
        bail!("must provide --username with --password-stdin");
    }
    let password = if let Some(p) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        Some(p)
    } else if args.password_stdin {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from standard input")?;
        let s = s.strip_suffix('\n').unwrap_or(&s);
        Some(s.strip_suffix('\r').unwrap_or(s).to_string())
    } else {
        None
    };
    let username = match args.username {
        Some(u) => u,
        None => prompt_line("Username: ")?,
    };
    if username.trim().is_empty() {
        bail!("username is empty");
    }
    let password = match password {
        Some(p) => p,
        None => prompt_password("Password: ")?,
    };
    if password.is_empty() {
        bail!("password is empty");
    }
    let cred = Credential::password(username, password);
    crate::engine::auth::check_login(args.server.as_deref(), &cred, &args.insecure_registry)?;
    credentials::save(&key, &cred).context("saving the credential")?;
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

fn interactive() -> Result<()> {
    if !io::stdin().is_terminal() {
        bail!("cannot perform an interactive login from a non TTY device: use -u and --password-stdin");
    }
    Ok(())
}

fn prompt_line(prompt: &str) -> Result<String> {
    interactive()?;
    eprint!("{prompt}");
    io::stderr().flush().ok();
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// Reads a password from the terminal with echo off, restoring the terminal afterwards.
fn prompt_password(prompt: &str) -> Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    interactive()?;
    eprint!("{prompt}");
    io::stderr().flush().ok();
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    let saved = tcgetattr(fd).context("reading the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(fd, SetArg::TCSANOW, &quiet).context("turning off echo")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let restored = tcsetattr(fd, SetArg::TCSANOW, &saved);
    eprintln!();
    read?;
    restored.context("restoring the terminal's settings")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
