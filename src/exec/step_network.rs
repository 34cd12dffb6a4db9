//! The network of RUN steps when the build names one the sandbox cannot make by itself: a
//! user network (each RUN gets an endpoint of its own on it) or a running container's
//! namespace (`networkmode=container:X`). Networks' records and containers are not exec's
//! to know: the engine implements [`StepNetworks`], and a RUN asks it for a namespace when it
//! starts, as dockerd's classic builder resolves each step container's network at its start.

use crate::sandbox::spec::EtcFiles;
use crate::sandbox::NetworkMode;

/// Why a RUN step got no network, in the words of whoever resolved it (dockerd's, such as
/// `network NAME not found`).
pub type NetworkFailure = Box<dyn std::error::Error + Send + Sync>;

/// Gives RUN steps the build's network.
pub trait StepNetworks: Sync {
    /// Wires a namespace for one RUN step whose hostname is `hostname`.
    fn attach(&self, hostname: &str) -> Result<Attached, NetworkFailure>;
}

/// A RUN step's network for as long as the value lives; dropping it undoes the wiring.
pub struct Attached {
    pub mode: NetworkMode,
    /// The step's `/etc/hosts` and `/etc/resolv.conf`; `None`: the sandbox's own for `mode`.
    pub etc: Option<EtcFiles>,
    /// Whatever must stay until the step ends (an endpoint torn down on drop).
    pub hold: Option<Box<dyn Send>>,
}
