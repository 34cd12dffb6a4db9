//! `create`: a `CreateRequest` checked against the host, its image found (or pulled for the
//! host platform), and the container recorded, not started. What happens on the way is
//! reported as `CreateEvent`s, as it happens, so a front door can print it in order.

use super::error::{Error, Result};
use super::request::CreateRequest;
use crate::container::resources::{self, Host};
use crate::container::restart::RestartPolicy;
use crate::container::{self, Container};
use crate::distribution;
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::store::error::StoreError;
use crate::store::image::Image;
use crate::store::Store;

/// Something worth telling the user while a container is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateEvent {
    /// A setting the host cannot honour fully (Docker's `Warnings`), e.g. no swap limit.
    Warning(String),
    /// The image is not in the store and is being pulled (`reference` in its familiar form).
    Pulling { reference: String },
    /// A problem on the way to the registry that the pull goes on without (a credential
    /// helper that failed).
    PullWarning(String),
}

/// A created container and the warnings given on the way.
#[derive(Debug, Clone)]
pub struct Created {
    pub container: Container,
    pub warnings: Vec<String>,
}

/// Creates the container `req` describes. Bare `KEY` env entries take their value from
/// `host_env` (the CLI's environment; an API server passes one that finds nothing).
pub fn create(
    store: &Store,
    mut req: CreateRequest,
    host_env: impl Fn(&str) -> Option<String>,
    on_event: &mut dyn FnMut(CreateEvent),
) -> Result<Created> {
    check_auto_remove(req.auto_remove, &req.restart)?;
    let host = crate::container::host_options::check(&req.host)?;
    let mut resources = req.resources.clone();
    let warnings = resources::check_create(&mut resources, &Host::detect())?;
    check_cpuset(&resources)?;
    for w in &warnings {
        on_event(CreateEvent::Warning(w.clone()));
    }
    let image = image_or_pull_for(store, &req.image, req.platform.as_ref(), on_event)?;
    crate::sandbox::emulation::check(
        &Platform::host().architecture,
        &image.config.architecture,
        &crate::sandbox::emulation::binfmt_dir(),
    )
    .map_err(|source| Error::Emulation {
        image: req.image.clone(),
        source,
    })?;
    let security = req.security.resolve()?;
    let image_name = req.image.clone();
    let cs = crate::container::Containers::new(store.root());
    let shared = crate::container::volumes::inherited(&cs, &req.volumes_from, &req.mounts)?;
    req.mounts.extend(shared);
    let more_networks = std::mem::take(&mut req.network.more_networks);
    let opts = req.options(security, resources, host);
    let container = container::create(store, &image, &image_name, opts, host_env)?;
    let container = connect_more(store, container, &more_networks)?;
    Ok(Created {
        container,
        warnings,
    })
}

/// Connects a new container to each network more it was created with; one that fails
/// takes the container with it, so a refused create leaves nothing.
fn connect_more(store: &Store, c: Container, more: &[super::MoreNetwork]) -> Result<Container> {
    use crate::engine::networks::{connect, ConnectRequest};
    for m in more {
        let req = ConnectRequest {
            network: m.network.clone(),
            container: c.id.clone(),
            aliases: m.aliases.clone(),
            ipv4_address: m.ipv4_address.clone(),
            mac_address: m.mac_address.clone(),
        };
        if let Err(e) = connect(store.root(), &req) {
            let rm = super::remove::RemoveRequest {
                force: true,
                ..Default::default()
            };
            let _ = super::remove::remove(store, &c.id, rm);
            return Err(Error::Network(Box::new(e)));
        }
    }
    if more.is_empty() {
        return Ok(c);
    }
    Ok(crate::container::Containers::new(store.root()).load(&c.id)?)
}

/// The CPUs and memory nodes asked for exist here (dockerd's check at create and update).
pub(crate) fn check_cpuset(r: &resources::Resources) -> Result<()> {
    let available = crate::container::cpuset::Available::detect();
    crate::container::cpuset::verify(&r.cpuset_cpus, &r.cpuset_mems, &available)
        .map_err(|e| Error::Resources(e.into()))
}

/// A container removed when it exits cannot be restarted: refused before anything else
/// (the CLI checks it first too, as the docker CLI does, before it reads any file).
pub fn check_auto_remove(auto_remove: bool, restart: &RestartPolicy) -> Result<()> {
    if auto_remove && !restart.is_none() {
        return Err(Error::RestartWithAutoRemove);
    }
    Ok(())
}

/// The image `name` names in the store, pulled for the host platform when missing.
pub fn image_or_pull(
    store: &Store,
    name: &str,
    on_event: &mut dyn FnMut(CreateEvent),
) -> Result<Image> {
    image_or_pull_for(store, name, None, on_event)
}

/// `image_or_pull` for `platform` (`None`: the host's).
pub fn image_or_pull_for(
    store: &Store,
    name: &str,
    platform: Option<&Platform>,
    on_event: &mut dyn FnMut(CreateEvent),
) -> Result<Image> {
    match store.resolve_platform(name, platform) {
        Ok(img) => Ok(img),
        Err(StoreError::NoSuchImage(_)) => {
            let reference = Reference::parse(name).map_err(|source| Error::BadImageName {
                name: name.to_string(),
                source,
            })?;
            on_event(CreateEvent::Pulling {
                reference: reference.familiar_string(),
            });
            let client =
                crate::engine::registry::registry_client(reference.domain(), &[], &mut |w| {
                    on_event(CreateEvent::PullWarning(w))
                })
                .map_err(|e| Error::Registry(Box::new(e)))?;
            let platform = platform.cloned().unwrap_or_else(Platform::host);
            distribution::pull(store, &client, &reference, &platform).map_err(|source| {
                Error::Pull {
                    reference: reference.familiar_string(),
                    source: Box::new(source),
                }
            })
        }
        Err(e) => Err(e.into()),
    }
}
