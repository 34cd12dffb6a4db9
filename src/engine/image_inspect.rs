//! Docker's `image inspect` object (the Engine API's `ImageInspect`) for one image, shared by
//! `strata inspect` and `GET /images/{name}/json`. It is built as JSON in Docker's field order
//! (which `strata inspect` prints as is); the API parses it into bollard's model.

use serde_json::{json, Value};

use crate::digest::Digest;
use crate::store::Image;

/// The `docker image inspect` object for one image; `parent` is the image it was committed
/// from ([`crate::store::Store::parent_of`]).
pub fn inspect_json(img: &Image, parent: Option<&Digest>) -> Value {
    let c = &img.config;
    let rc = &c.config;
    let opt = |v: &Option<Vec<String>>| v.as_ref().map_or(Value::Null, |v| json!(v));
    let mut config = json!({
        "User": rc.user.clone().unwrap_or_default(),
        "ExposedPorts": rc.exposed_ports.as_ref().map_or(Value::Null, |p| json!(p)),
        "Env": opt(&rc.env),
        "Cmd": opt(&rc.cmd),
        "Entrypoint": opt(&rc.entrypoint),
        "Volumes": rc.volumes.as_ref().map_or(Value::Null, |v| json!(v)),
        "WorkingDir": rc.working_dir.clone().unwrap_or_default(),
        "Labels": rc.labels.as_ref().map_or(Value::Null, |l| json!(l)),
        "StopSignal": rc.stop_signal.clone().map_or(Value::Null, Value::from),
        "OnBuild": opt(&rc.on_build),
        "Shell": opt(&rc.shell),
        "Healthcheck": rc.healthcheck.as_ref().map_or(Value::Null, |h| json!(h)),
    });
    if rc.args_escaped {
        config["ArgsEscaped"] = json!(true);
    }
    let comment = c
        .history
        .last()
        .and_then(|h| h.comment().clone())
        .unwrap_or_default();
    let mut v = json!({
        "Id": img.id.to_string(),
        "RepoTags": img.tags.iter().map(|t| t.familiar_string()).collect::<Vec<_>>(),
        "RepoDigests": img.repo_digests().iter().map(|t| t.familiar_string()).collect::<Vec<_>>(),
        "Parent": parent.map(|p| p.to_string()).unwrap_or_default(),
        "Comment": comment,
        "Created": c.created.clone().unwrap_or_default(),
        "DockerVersion": "",
        "Author": c.author.clone().unwrap_or_default(),
        "Config": config,
        "Architecture": c.architecture,
        "Os": c.os,
        "Size": img.size(),
        "RootFS": {
            "Type": c.rootfs.typ(),
            "Layers": c.rootfs.diff_ids(),
        },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
        "Descriptor": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": img.manifest_digest.to_string(),
            "size": img.manifest_size,
        },
    });
    // A multi-platform image: the index is its descriptor, and, as Docker's containerd store
    // shows them, every platform's manifest.
    if let Some(index) = &img.index {
        v["Descriptor"] = json!(index.descriptor);
        v["Manifests"] = index
            .manifests
            .iter()
            .map(|m| {
                json!({
                    "ID": m.digest().to_string(),
                    "Descriptor": m,
                    "Available": true,
                    "Kind": "image",
                    "ImageData": { "Platform": m.platform() },
                })
            })
            .collect();
    }
    // Like docker, Variant only when the image has one.
    if let Some(variant) = &c.variant {
        v["Variant"] = json!(variant);
    }
    v
}
