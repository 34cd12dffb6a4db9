//! Volume operations for both front doors: create, list with Docker's filters, inspect,
//! remove and prune, each recording Docker's volume event. Which volumes are in use is
//! decided here once (container records and the users recorded beside each volume).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::EngineError;
use crate::container::volume_filter::{volume_users, VolumeFilters, DRIVER};
use crate::container::volume_opts::validate;
use crate::container::volume_store::{Volume, VolumeError, Volumes};
use crate::container::Containers;
use crate::store::events::{record, EventType};
use crate::store::image_filter::{bool_value, label_spec, labels_match, split_filters};

/// What `volume create` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRequest {
    /// `None`: a random name, and the volume is anonymous, as Docker marks it.
    pub name: Option<String>,
    /// `None` or `local`: strata has only Docker's local driver.
    pub driver: Option<String>,
    /// The local driver's `type`/`device`/`o` mount options, checked as dockerd checks them
    /// and mounted when a container using the volume starts.
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `volume create`: an existing volume of that name is returned as it is, as Docker does.
pub fn create(root: &Path, req: &CreateRequest) -> Result<Volume, EngineError> {
    if let Some(d) = req
        .driver
        .as_deref()
        .filter(|d| !d.is_empty() && *d != DRIVER)
    {
        return Err(EngineError::VolumeDriver {
            name: req.name.clone().unwrap_or_default(),
            driver: d.to_string(),
        });
    }
    validate(&req.driver_opts).map_err(VolumeError::from)?;
    let v = Volumes::new(root).create_with(
        req.name.as_deref(),
        req.labels.clone(),
        req.driver_opts.clone(),
    )?;
    event(root, "create", &v.name);
    Ok(v)
}

/// `volume ls --filter …` (`KEY=VALUE` as `container::volume_filter` reads them), by name.
pub fn list(root: &Path, filters: &[String]) -> Result<Vec<Volume>, EngineError> {
    let filters = VolumeFilters::parse(filters)?;
    let vols = Volumes::new(root);
    let in_use = InUse::new(root, &vols)?;
    Ok(vols
        .list()?
        .into_iter()
        .filter(|v| filters.matches(v, in_use.check(v)))
        .collect())
}

/// `volume inspect NAME`.
pub fn get(root: &Path, name: &str) -> Result<Volume, EngineError> {
    Ok(Volumes::new(root).get(name)?)
}

/// `volume rm [--force] NAME`: refused while a container uses it; `force` only makes a
/// missing volume no error, as with Docker.
pub fn remove(root: &Path, name: &str, force: bool) -> Result<(), EngineError> {
    let containers = Containers::new(root);
    // A container that has not started yet has not marked its volumes: its record counts.
    let list = containers.list().map_err(EngineError::Containers)?;
    if let Some(ids) = volume_users(&list).remove(name) {
        return Err(VolumeError::InUse {
            name: name.to_string(),
            containers: ids.into_iter().collect(),
        }
        .into());
    }
    let exists = |id: &str| containers.dir(id).is_dir();
    match Volumes::new(root).remove(name, &exists) {
        Ok(()) => {
            event(root, "destroy", name);
            Ok(())
        }
        Err(VolumeError::NotFound(_)) if force => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// What `volume prune` removes: anonymous volumes no container uses (all unused ones with
/// `all`), narrowed by `label=`/`label!=` as Docker's prune filters read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneRequest {
    pub all: bool,
    /// `KEY=VALUE` filters: `all`, `label`, `label!`.
    pub filters: Vec<String>,
}

/// The volumes pruned and the bytes their contents took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub names: Vec<String>,
    pub reclaimed: u64,
}

pub fn prune(root: &Path, req: &PruneRequest) -> Result<Pruned, EngineError> {
    let pairs = split_filters(&req.filters, &["all", "label", "label!"])?;
    let mut all = req.all;
    let mut want = Vec::new();
    let mut unwanted = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "all" => all = bool_value("all", &[v.as_str()])?.unwrap_or(false),
            "label" => want.push(label_spec(&v)),
            _ => unwanted.push(label_spec(&v)),
        }
    }
    let vols = Volumes::new(root);
    let in_use = InUse::new(root, &vols)?;
    let (names, reclaimed) = vols.prune(&|v| {
        let labels = v.docker_labels();
        (all || v.anonymous)
            && labels_match(&want, &labels)
            && !unwanted
                .iter()
                .any(|spec| labels_match(std::slice::from_ref(spec), &labels))
            && !in_use.check(v)
    })?;
    for n in &names {
        event(root, "destroy", n);
    }
    Ok(Pruned { names, reclaimed })
}

/// Which volumes existing containers use: by their records (named, and anonymous by
/// container and target) and by the users recorded beside each volume.
struct InUse<'a> {
    names: BTreeSet<String>,
    containers: Containers,
    vols: &'a Volumes,
}

impl<'a> InUse<'a> {
    fn new(root: &Path, vols: &'a Volumes) -> Result<Self, EngineError> {
        let containers = Containers::new(root);
        let list = containers.list().map_err(EngineError::Containers)?;
        Ok(InUse {
            names: volume_users(&list).into_keys().collect(),
            containers,
            vols,
        })
    }

    fn check(&self, v: &Volume) -> bool {
        self.names.contains(&v.name)
            || self
                .vols
                .users(&v.name, &|id| self.containers.dir(id).is_dir())
                .is_ok_and(|u| !u.is_empty())
    }
}

/// Docker's volume events: the volume's name as the actor, its driver as an attribute.
fn event(root: &Path, action: &str, name: &str) {
    record(
        root,
        EventType::Volume,
        action,
        name,
        &[("driver", DRIVER.to_string())],
    );
}

/// `--label KEY=VALUE` (or `KEY`, an empty value) as a map, as Docker reads them.
pub fn labels_map(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}
