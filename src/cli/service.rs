//! `strata system service [--time SECONDS] [URI]`: serves the Docker Engine API (see `api/`)
//! until idle for `--time` seconds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;
use crate::api::{default_socket, serve, ListenAddr, ListenError, ServeConfig, TlsFiles};

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Seconds with no request in flight before the service exits (0: never).
    #[arg(
        short = 't',
        long = "time",
        value_name = "SECONDS",
        default_value_t = 5
    )]
    pub time: u64,
    /// Serve tcp:// over TLS and require client certificates signed by --tlscacert.
    #[arg(long)]
    pub tlsverify: bool,
    /// CA certificate clients must be signed by (with --tlsverify).
    #[arg(long, value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// The server's TLS certificate (with --tlsverify).
    #[arg(long, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// The server's TLS key (with --tlsverify).
    #[arg(long, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Where to listen: `unix:///PATH` (default `unix:///run/strata/strata.sock` for root,
    /// `unix://$XDG_RUNTIME_DIR/strata/strata.sock` otherwise). With systemd socket
    /// activation the passed socket is used instead.
    #[arg(value_name = "URI")]
    pub uri: Option<String>,
}

/// Resolves the arguments into the server's settings: the URI, else the default socket for
/// this user; `--time 0` means never idle out.
fn resolve(settings: &Settings, args: &ServiceArgs) -> Result<ServeConfig> {
    let listen = match &args.uri {
        Some(u) => ListenAddr::parse(u)?,
        None => ListenAddr::Unix(default_socket(
            nix::unistd::geteuid().is_root(),
            std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .as_deref(),
        )?),
    };
    // As dockerd: tcp:// only with mutual TLS, all three files given.
    let tls = match (
        &listen,
        args.tlsverify,
        &args.tlscacert,
        &args.tlscert,
        &args.tlskey,
    ) {
        (ListenAddr::Tcp(_), true, Some(ca), Some(cert), Some(key)) => Some(TlsFiles {
            ca: ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
        }),
        (ListenAddr::Tcp(hp), ..) => {
            return Err(ListenError::TcpNeedsTls(format!("tcp://{hp}")).into())
        }
        (ListenAddr::Unix(_), false, None, None, None) => None,
        (ListenAddr::Unix(p), ..) => bail!(
            "--tlsverify, --tlscacert, --tlscert and --tlskey are for tcp:// addresses; {} is a \
             unix socket",
            p.display()
        ),
    };
    Ok(ServeConfig {
        root: settings.root.clone(),
        listen,
        tls,
        idle: (args.time > 0).then(|| Duration::from_secs(args.time)),
    })
}

pub fn run(settings: &Settings, args: ServiceArgs) -> Result<ExitCode> {
    let cfg = resolve(settings, &args)?;
    serve(cfg)?;
    Ok(ExitCode::SUCCESS)
}
