//! `strata restart [-t SECONDS] CONTAINER…`: `stop` (if running), then `start` in the
//! background; names printed as given.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use super::ctr_common::{fail, start_detached};
use super::Settings;
use crate::container::{lifecycle, Containers};
use crate::store::Store;

/// The same flags as `stop`: `restart` is a stop, then a start.
pub type RestartArgs = super::stop::StopArgs;

pub fn run(settings: &Settings, args: RestartArgs) -> Result<ExitCode> {
    let cs = Containers::new(&settings.root);
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        let stopped = Store::open(&settings.root)
            .map_err(crate::container::ContainerError::from)
            .and_then(|store| {
                let c = cs.find(q)?;
                lifecycle::stop_with(
                    &store,
                    &c,
                    Duration::from_secs(args.time),
                    args.signal.as_deref(),
                )?;
                Ok(c)
            });
        let c = match stopped {
            Ok(c) => c,
            Err(e) => {
                code = fail(1, &e.into());
                continue;
            }
        };
        match start_detached(&settings.root, &c.id) {
            Ok(()) => {
                crate::container::events::emit(&settings.root, &c, "restart", &[]);
                println!("{q}");
            }
            Err((_, msg)) => code = fail(1, &anyhow::anyhow!(msg)),
        }
    }
    Ok(code)
}
