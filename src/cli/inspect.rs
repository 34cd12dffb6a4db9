//! `strata inspect`: a JSON array shaped like `docker inspect`. Without `--type` a name is
//! looked up as Docker's CLI looks it up: a container, else an image, else a volume, else a
//! network; `-s` adds a container's `SizeRw`/`SizeRootFs`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::Value;

use super::format::{print, render_inspect, to_docker_json};
use super::Settings;
use crate::container::volume_store::Volumes;
use crate::engine::containers::inspect::inspect as inspect_container;
use crate::reference::Reference;
use crate::store::{Store, StoreError};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A Go template applied to each object (`'{{.State.Status}}'`, `'{{json .Config}}'`).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Only objects of this type: container, image, volume or network.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Add the sizes of containers' files (`SizeRw`, `SizeRootFs`).
    #[arg(short = 's', long)]
    pub size: bool,
    #[arg(required = true)]
    pub references: Vec<String>,
}

/// The object types `--type` takes, in the order a name is looked up without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Image,
    Volume,
    Network,
}

const LOOKUP_ORDER: [Kind; 4] = [Kind::Container, Kind::Image, Kind::Volume, Kind::Network];

impl Kind {
    fn parse(s: &str) -> Result<Kind> {
        Ok(match s {
            "container" => Kind::Container,
            "image" => Kind::Image,
            "volume" => Kind::Volume,
            "network" => Kind::Network,
            other => bail!("{other:?} is not a valid value for --type"),
        })
    }
}

/// Why one object was not shown: not there (the lookup may go on to the next type), or
/// another failure, with the message Docker's daemon would give.
enum Miss {
    NotFound(String),
    Failed(String),
}

pub fn run(settings: &Settings, args: InspectArgs) -> Result<ExitCode> {
    let kind = args.kind.as_deref().map(Kind::parse).transpose()?;
    let store = Store::open(&settings.root)?;
    let lookup = Lookup {
        root: &settings.root,
        store: &store,
        size: args.size,
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for r in &args.references {
        let found = match kind {
            Some(k) => lookup.find(k, r),
            None => {
                let mut found = Err(Miss::NotFound(format!("Error: No such object: {r}")));
                for k in LOOKUP_ORDER {
                    match lookup.find(k, r) {
                        Err(Miss::NotFound(_)) => continue,
                        other => {
                            found = other;
                            break;
                        }
                    }
                }
                found
            }
        };
        match found {
            Ok(v) => out.push(v),
            Err(Miss::NotFound(m) | Miss::Failed(m)) => errors.push(m),
        }
    }
    match &args.format {
        Some(f) => print(&render_inspect(f, &out)?),
        None => {
            print(&to_docker_json(&out));
            print("\n");
        }
    }
    // As docker: what was found is printed, then every failure, and the exit code is 1.
    for e in &errors {
        eprintln!("{e}");
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct Lookup<'a> {
    root: &'a Path,
    store: &'a Store,
    size: bool,
}

impl Lookup<'_> {
    fn find(&self, kind: Kind, r: &str) -> Result<Value, Miss> {
        let daemon = |m: String| format!("Error response from daemon: {m}");
        match kind {
            Kind::Container => {
                inspect_container(self.root, self.store, r, self.size).map_err(|e| {
                    if e.is_not_found() {
                        Miss::NotFound(daemon(format!("No such container: {r}")))
                    } else {
                        Miss::Failed(daemon(e.to_string()))
                    }
                })
            }
            Kind::Image => match self.store.resolve(r) {
                Ok(img) => Ok(crate::engine::image_inspect::inspect_json(
                    &img,
                    self.store.parent_of(&img.id).as_ref(),
                )),
                // Docker's daemon names a missing tag in full: `No such image: x:latest`.
                Err(StoreError::NoSuchImage(_)) => {
                    let name = Reference::parse(r)
                        .ok()
                        .map_or(r.to_string(), |p| p.familiar_string());
                    Err(Miss::NotFound(daemon(format!("No such image: {name}"))))
                }
                Err(e) => Err(Miss::Failed(daemon(e.to_string()))),
            },
            Kind::Volume => match Volumes::new(self.root).get(r) {
                Ok(v) => Ok(super::volume::inspect_json(&v)),
                Err(e @ crate::container::volume_store::VolumeError::NotFound(_)) => {
                    Err(Miss::NotFound(super::volume::not_found_message(&e)))
                }
                Err(e) => Err(Miss::Failed(daemon(e.to_string()))),
            },
            Kind::Network => match crate::engine::networks::find(self.root, r) {
                Ok(n) => super::network::inspect_json(self.root, &n)
                    .map_err(|e| Miss::Failed(daemon(super::render_error(&e)))),
                Err(crate::engine::EngineError::Network(
                    e @ crate::network::NetworkError::NotFound(_),
                )) => Err(Miss::NotFound(daemon(e.to_string()))),
                Err(e) => Err(Miss::Failed(daemon(e.to_string()))),
            },
        }
    }
}
