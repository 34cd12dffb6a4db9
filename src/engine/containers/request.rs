//! What a user can ask of the container engine, typed: a `CreateRequest` carries what
//! Docker's `Config`, `HostConfig` and `NetworkingConfig` carry for `create`/`run`, already
//! parsed (mounts as `MountSpec`s, resources as numbers) but not yet checked against the host
//! or merged with the image. The CLI fills it from flags, the API from the request body; the
//! engine turns it into the container record (`create::create`).

use crate::container::net::NetOptions;
use crate::container::record::MountSpec;
use crate::container::resources::Resources;
use crate::container::restart::RestartPolicy;
use crate::container::CreateOptions;
use crate::sandbox::security_flags::SecurityFlags;

/// A new container.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// The image as the user named it (pulled for the host platform when missing).
    pub image: String,
    /// `--platform`: which of a multi-platform image's manifests to run (emulated when
    /// foreign); `None`: the host's.
    pub platform: Option<crate::plan::platform::Platform>,
    /// The container's name (`/name` as the API sends it is accepted); generated when `None`.
    pub name: Option<String>,
    /// Replaces the image's ENTRYPOINT and drops its CMD; `Some([])` or `Some([""])` clears
    /// both.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's CMD when not empty.
    pub cmd: Vec<String>,
    /// `K=V`, or `K` to take the value from `host_env` (env files' entries first, in order).
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// `name|uid[:group|gid]`.
    pub user: Option<String>,
    pub hostname: Option<String>,
    /// Over the image's labels; a later key wins.
    pub labels: Vec<(String, String)>,
    pub tty: bool,
    pub open_stdin: bool,
    /// Docker's `StdinOnce` (see the container record's `stdin_once`).
    pub stdin_once: bool,
    pub network: NetworkRequest,
    /// Binds, volumes and tmpfs mounts (`-v`, `--mount`, Docker's `Binds` and `Mounts`).
    pub mounts: Vec<MountSpec>,
    pub readonly_rootfs: bool,
    pub init: bool,
    pub auto_remove: bool,
    pub restart: RestartPolicy,
    /// Over the image's STOPSIGNAL (`SIGINT`, `INT`, `2`).
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL when it is not told (Docker's 10 when `None`).
    pub stop_timeout: Option<u64>,
    /// Capabilities, `--privileged`, `--security-opt`, `--device`: checked at create.
    pub security: SecurityFlags,
    /// Limits as given: the engine checks them against the host and applies the daemon's
    /// defaults (its warnings are `CreateEvent::Warning`s).
    pub resources: Resources,
    /// Docker's `Config.Healthcheck` (`--health-*`, `--no-healthcheck`), over the image's.
    pub healthcheck: Option<crate::store::config::Healthcheck>,
    /// Docker's `GroupAdd`: supplementary groups (names in the container's `/etc/group`, or
    /// ids) of its processes.
    pub group_add: Vec<String>,
    /// Docker's `VolumesFrom`: `CONTAINER[:ro|:rw]`, whose mounts this container gets too.
    pub volumes_from: Vec<String>,
    /// Docker's `HostConfig` as an API client sent it, echoed by `inspect`.
    pub host_config: Option<serde_json::Value>,
    /// `PidMode`, `Runtime`, `Isolation`, `StorageOpt` as given (checked at create).
    pub host: crate::container::host_options::HostRequest,
}

/// The network part: mode, address, aliases, published ports and name resolution.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    /// `bridge` (the default), a network's name, `host`, `none` or `container:NAME`.
    pub mode: Option<String>,
    pub ipv4_address: Option<String>,
    pub aliases: Vec<String>,
    /// Docker's `DriverOpts` of the endpoint, kept for `inspect`.
    pub driver_opts: std::collections::BTreeMap<String, String>,
    /// `[IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`, each.
    pub publish: Vec<String>,
    /// Publish every exposed port to a free host port.
    pub publish_all: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `NAME:IP` (or `NAME:host-gateway`) lines for /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// The MAC address of the container's interface on its first network.
    pub mac_address: Option<String>,
    /// Docker's legacy links, `CONTAINER[:ALIAS]`.
    pub links: Vec<String>,
    /// Networks besides `mode`'s that the container is connected to once created (the API's
    /// other `EndpointsConfig` entries).
    pub more_networks: Vec<MoreNetwork>,
}

/// One more network endpoint, as `network connect` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoreNetwork {
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    /// Canonical (`network::netlink::parse_mac`).
    pub mac_address: Option<String>,
}

impl CreateRequest {
    /// The container module's options for this request, with `security` and `resources`
    /// already resolved.
    pub(crate) fn options(
        self,
        security: crate::sandbox::security::Security,
        resources: Resources,
        host: crate::container::host_options::HostOptions,
    ) -> CreateOptions {
        let n = self.network;
        CreateOptions {
            name: self.name,
            entrypoint: self.entrypoint,
            command: self.cmd,
            env: self.env,
            workdir: self.workdir,
            user: self.user,
            hostname: self.hostname,
            net: NetOptions {
                network: n.mode,
                ip: n.ipv4_address,
                aliases: n.aliases,
                driver_opts: n.driver_opts,
                publish: n.publish,
                publish_all: n.publish_all,
                dns: n.dns,
                dns_search: n.dns_search,
                dns_options: n.dns_options,
                extra_hosts: n.extra_hosts,
                mac_address: n.mac_address,
                links: n.links,
            },
            readonly_root: self.readonly_rootfs,
            mounts: self.mounts,
            tty: self.tty,
            interactive: self.open_stdin,
            stdin_once: self.stdin_once,
            auto_remove: self.auto_remove,
            init: self.init,
            restart: self.restart,
            stop_signal: self.stop_signal,
            stop_timeout: self.stop_timeout,
            labels: self.labels,
            security,
            resources,
            healthcheck: self.healthcheck,
            group_add: self.group_add,
            volumes_from: self.volumes_from,
            host_config: self.host_config,
            host,
        }
    }
}

/// `KEY=VALUE` (or `KEY`, an empty value) as a label pair.
pub fn label_pair(s: &str) -> (String, String) {
    let (k, v) = s.split_once('=').unwrap_or((s, ""));
    (k.to_string(), v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_pairs_split_at_the_first_equals() {
        let cases: &[(&str, (&str, &str))] = &[
            ("a=b", ("a", "b")),
            ("a", ("a", "")),
            ("a=", ("a", "")),
            ("a=b=c", ("a", "b=c")),
            ("=x", ("", "x")),
        ];
        for (given, (k, v)) in cases {
            assert_eq!(label_pair(given), (k.to_string(), v.to_string()), "{given}");
        }
    }

    #[test]
    fn the_request_maps_onto_the_container_options() {
        let req = CreateRequest {
            image: "alpine".into(),
            platform: None,
            name: Some("web".into()),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: vec!["echo hi".into()],
            env: vec!["A=1".into(), "B".into()],
            workdir: Some("/srv".into()),
            user: Some("1000:1000".into()),
            hostname: Some("h".into()),
            labels: vec![("k".into(), "v".into())],
            tty: true,
            open_stdin: true,
            network: NetworkRequest {
                mode: Some("mynet".into()),
                ipv4_address: Some("10.1.0.5".into()),
                aliases: vec!["db".into()],
                driver_opts: [("k".to_string(), "v".to_string())].into(),
                publish: vec!["8080:80".into()],
                publish_all: true,
                dns: vec!["1.1.1.1".into()],
                dns_search: vec!["example.com".into()],
                dns_options: vec!["ndots:2".into()],
                extra_hosts: vec!["x:1.2.3.4".into()],
                mac_address: Some("02:42:ac:11:00:0a".into()),
                links: vec!["db:data".into()],
                more_networks: Vec::new(),
            },
            group_add: vec!["audio".into()],
            volumes_from: vec!["src:ro".into()],
            readonly_rootfs: true,
            init: true,
            auto_remove: true,
            restart: RestartPolicy::default(),
            ..CreateRequest::default()
        };
        let o = req.options(Default::default(), Resources::default(), Default::default());
        assert_eq!(o.name.as_deref(), Some("web"));
        assert_eq!(o.entrypoint, Some(vec!["/bin/sh".to_string(), "-c".into()]));
        assert_eq!(o.command, vec!["echo hi".to_string()]);
        assert_eq!(o.env, vec!["A=1".to_string(), "B".into()]);
        assert_eq!(
            (
                o.workdir.as_deref(),
                o.user.as_deref(),
                o.hostname.as_deref()
            ),
            (Some("/srv"), Some("1000:1000"), Some("h"))
        );
        assert_eq!(o.labels, vec![("k".to_string(), "v".to_string())]);
        assert!(o.tty && o.interactive && o.readonly_root && o.init && o.auto_remove);
        assert_eq!(o.net.network.as_deref(), Some("mynet"));
        assert_eq!(o.net.ip.as_deref(), Some("10.1.0.5"));
        assert_eq!(o.net.aliases, vec!["db".to_string()]);
        assert_eq!(o.net.driver_opts.get("k").map(String::as_str), Some("v"));
        assert_eq!(o.net.publish, vec!["8080:80".to_string()]);
        assert!(o.net.publish_all);
        assert_eq!(o.net.dns, vec!["1.1.1.1".to_string()]);
        assert_eq!(o.net.dns_search, vec!["example.com".to_string()]);
        assert_eq!(o.net.dns_options, vec!["ndots:2".to_string()]);
        assert_eq!(o.net.extra_hosts, vec!["x:1.2.3.4".to_string()]);
        assert_eq!(o.net.mac_address.as_deref(), Some("02:42:ac:11:00:0a"));
        assert_eq!(o.net.links, vec!["db:data".to_string()]);
        assert_eq!(o.group_add, vec!["audio".to_string()]);
        assert_eq!(o.volumes_from, vec!["src:ro".to_string()]);
    }
}
