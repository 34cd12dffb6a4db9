//! `BuildError`: why a build failed, one variant per stage of the work (planning, pulling a
//! base, running the graph), so each front door renders it its own way.

use crate::distribution::RegistryError;
use crate::exec::ExecError;
use crate::plan::platform::PlatformError;
use crate::reference::ReferenceError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse, or names a target it lacks: the message is already
    /// rendered with its source line.
    #[error("{0}")]
    Syntax(String),
    /// The Dockerfile parses but does not plan (an expansion, a stage reference): the message
    /// is already rendered with its source line.
    #[error("{0}")]
    Plan(String),
    #[error("invalid image reference {image:?}")]
    BadBase {
        image: String,
        #[source]
        source: ReferenceError,
    },
    #[error(transparent)]
    BadPlatform(#[from] PlatformError),
    #[error("pulling {reference}")]
    Pull {
        reference: String,
        #[source]
        source: Box<RegistryError>,
    },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// One platform of a multi-platform build failed.
    #[error("building for {platform}")]
    ForPlatform {
        platform: String,
        #[source]
        source: Box<BuildError>,
    },
}

impl BuildError {
    /// Stopped from outside (a signal, a client that went away) rather than failed.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, BuildError::Exec(ExecError::Interrupted))
    }
}
