//! The image configuration as Docker and BuildKit write it: the OCI fields plus Docker's extras
//! (`Healthcheck`, `OnBuild`, `Shell`, `ArgsEscaped`), with unknown fields kept, so a config
//! read, edited and written back loses nothing.
//!
//! Why not oci-spec's `ImageConfiguration` directly: its `Config` holds Labels, ExposedPorts and
//! Volumes in `HashMap`s and serialises them in random order, which would make image IDs
//! irreproducible, and its `config` field has no room for Docker's extras. Field order and maps
//! sorted by key follow Go's encoding/json, as Docker's and BuildKit's output does.
//! `ImageConfig::to_oci` gives the oci-spec view.

use std::collections::BTreeMap;

use oci_spec::image::{History, ImageConfiguration, RootFs};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::digest::Digest;

/// `{}`: the value type of Go's `map[string]struct{}` (ExposedPorts, Volumes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Go writes the struct even when empty (`omitempty` does not apply to structs).
    #[serde(default)]
    pub config: RuntimeConfig,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Fields this struct does not know (`container_config`, `docker_version`, …).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The `config` object: what a container runs with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Empty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub args_escaped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Docker's HEALTHCHECK settings; durations are integer nanoseconds, zero means "inherit".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl ImageConfig {
    /// An empty config for the host platform.
    /// Declares the image to be for `p` (os, architecture, variant).
    pub fn set_platform(&mut self, p: &crate::plan::platform::Platform) {
        self.os = p.os.clone();
        self.architecture = p.architecture.clone();
        self.variant = p.variant.clone();
    }

    pub fn new_for_host() -> Self {
        ImageConfig {
            created: None,
            author: None,
            architecture: host_arch().to_string(),
            os: "linux".to_string(),
            os_version: None,
            os_features: None,
            variant: host_variant().map(str::to_string),
            config: RuntimeConfig::default(),
            rootfs: RootFs::default(),
            history: Vec::new(),
            extra: Default::default(),
        }
    }

    pub fn from_json(data: &[u8], what: &str) -> Result<Self, StoreError> {
        serde_json::from_slice(data).map_err(|e| StoreError::Json {
            what: what.to_string(),
            source: e,
        })
    }

    /// The canonical bytes (compact, Go field order, maps sorted): the config blob.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an image config always serialises")
    }

    /// The layer diff IDs, parsed.
    pub fn diff_ids(&self) -> Result<Vec<Digest>, StoreError> {
        self.rootfs
            .diff_ids()
            .iter()
            .map(|s| {
                s.parse().map_err(|_| StoreError::BadDigest {
                    what: "rootfs.diff_ids of an image config".into(),
                    value: s.clone(),
                })
            })
            .collect()
    }

    /// The oci-spec view of this config (Docker's extras are dropped there).
    pub fn to_oci(&self) -> Result<ImageConfiguration, StoreError> {
        serde_json::from_slice(&self.to_json()).map_err(|e| StoreError::Json {
            what: "image config".into(),
            source: e,
        })
    }
}

/// GOARCH of the machine strata runs on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        other => other,
    }
}

fn host_variant() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "aarch64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config as BuildKit writes it, with every Docker extra and an unknown field.
    const BUILDKIT: &str = r#"{"created":"2024-01-02T03:04:05.123456789Z","architecture":"amd64","os":"linux","config":{"User":"app","ExposedPorts":{"443/tcp":{},"80/tcp":{}},"Env":["PATH=/usr/bin","A=b"],"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],"Volumes":{"/data":{}},"WorkingDir":"/srv","Labels":{"a":"1","b":"2"},"StopSignal":"SIGQUIT","ArgsEscaped":true,"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Timeout":5000000000,"StartPeriod":1000000000,"Retries":3},"OnBuild":["RUN echo"],"Shell":["/bin/bash","-c"],"Hostname":"x"},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},"history":[{"created":"2024-01-02T03:04:05Z","created_by":"RUN x","comment":"buildkit.dockerfile.v0"},{"created_by":"CMD","empty_layer":true}],"moby.buildkit.buildinfo.v1":"e30="}"#;

    #[test]
    fn docker_extras_survive_a_round_trip_byte_for_byte() {
        let c = ImageConfig::from_json(BUILDKIT.as_bytes(), "test").unwrap();
        assert_eq!(String::from_utf8(c.to_json()).unwrap(), BUILDKIT);
        let hc = c.config.healthcheck.as_ref().unwrap();
        assert_eq!(hc.retries, 3);
        assert_eq!(hc.interval, 30_000_000_000);
        assert_eq!(c.config.shell.as_deref().unwrap(), ["/bin/bash", "-c"]);
        assert_eq!(c.config.on_build.as_deref().unwrap(), ["RUN echo"]);
        assert!(c.config.args_escaped);
        assert_eq!(c.config.extra["Hostname"], "x");
        assert_eq!(c.extra["moby.buildkit.buildinfo.v1"], "e30=");
        assert_eq!(c.diff_ids().unwrap().len(), 1);
        let oci = c.to_oci().unwrap();
        assert_eq!(
            oci.config().as_ref().unwrap().user().as_deref(),
            Some("app")
        );
    }

    #[test]
    fn maps_serialise_sorted_so_ids_are_reproducible() {
        let mut c = ImageConfig::new_for_host();
        let mut labels = BTreeMap::new();
        for k in ["z", "a", "m"] {
            labels.insert(k.to_string(), k.to_string());
        }
        c.config.labels = Some(labels);
        let s = String::from_utf8(c.to_json()).unwrap();
        assert!(s.contains(r#""Labels":{"a":"a","m":"m","z":"z"}"#), "{s}");
        assert!(s.contains(r#""config":{"#), "{s}");
        assert!(!s.contains("history"), "{s}");
        assert_eq!(c.to_json(), c.clone().to_json());
    }
}
