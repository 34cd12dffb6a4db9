//! `EngineError`: why an operation of `engine/` failed, one variant per kind of step, so each
//! front door can render it its own way (a one-line message, or an HTTP status).

use super::import::ImportError;
use crate::container::host_info::InfoError;
use crate::container::volume_store::VolumeError;
use crate::container::ContainerError;
use crate::distribution::verify::VerifyError;
use crate::distribution::RegistryError;
use crate::network::NetworkError;
use crate::reference::ReferenceError;
use crate::store::archive::ArchiveError;
use crate::store::events::EventError;
use crate::store::image_filter::FilterError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot list the containers")]
    Containers(#[source] ContainerError),
    #[error("cannot list the volumes")]
    Volumes(#[source] VolumeError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error("create {name}: volume driver {driver:?} is not supported, only local")]
    VolumeDriver { name: String, driver: String },
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// A container's side of `network connect`/`disconnect`.
    #[error(transparent)]
    NetworkContainer(ContainerError),
    #[error("not supported by strata: {0}")]
    NetworkUnsupported(String),
    /// A combination of options Docker refuses, with Docker's message.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Search(#[from] super::distribution::SearchError),
    #[error(transparent)]
    ContainerOp(Box<super::containers::error::Error>),
    #[error(transparent)]
    Info(#[from] InfoError),
    #[error(transparent)]
    Events(#[from] EventError),
    #[error("invalid value for --{flag}")]
    BadTime {
        flag: &'static str,
        #[source]
        source: EventError,
    },
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("invalid reference format: {value:?}")]
    BadReference {
        value: String,
        #[source]
        source: ReferenceError,
    },
    #[error("refusing to create a tag with a digest reference: {0:?}")]
    TagWithDigest(String),
    #[error(transparent)]
    Login(#[from] VerifyError),
    // Boxed: a registry error is large, and most results never carry one.
    #[error(transparent)]
    Registry(Box<RegistryError>),
    #[error(transparent)]
    Archive(Box<ArchiveError>),
    #[error(transparent)]
    Import(Box<ImportError>),
    #[error("pulling {reference}")]
    Pull {
        reference: String,
        #[source]
        source: Box<RegistryError>,
    },
    // Boxed: an executor error is large.
    #[error(transparent)]
    Build(Box<super::build::BuildError>),
    #[error("pushing {reference}")]
    Push {
        reference: String,
        #[source]
        source: Box<RegistryError>,
    },
}

impl From<RegistryError> for EngineError {
    fn from(e: RegistryError) -> EngineError {
        EngineError::Registry(Box::new(e))
    }
}

impl From<ImportError> for EngineError {
    fn from(e: ImportError) -> EngineError {
        EngineError::Import(Box::new(e))
    }
}

impl From<ArchiveError> for EngineError {
    fn from(e: ArchiveError) -> EngineError {
        EngineError::Archive(Box::new(e))
    }
}

impl From<super::build::BuildError> for EngineError {
    fn from(e: super::build::BuildError) -> EngineError {
        EngineError::Build(Box::new(e))
    }
}
