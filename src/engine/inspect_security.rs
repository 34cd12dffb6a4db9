//! The security half of a container's `HostConfig` in `inspect`, as Docker shows it:
//! `CapAdd`/`CapDrop` relative to the default set, `Privileged`, `SecurityOpt`, `Devices`,
//! `DeviceCgroupRules`, and the masked and read-only paths (none when privileged).

use serde_json::{json, Value};

use crate::sandbox::devices::{DEFAULT_CAPS, MASKED_PATHS, READONLY_PATHS};
use crate::sandbox::seccomp::cap_name;
use crate::sandbox::security::{SeccompPolicy, Security};

/// `(key, value)` pairs to set on the HostConfig object.
pub fn fields(sec: &Security) -> Vec<(&'static str, Value)> {
    let names = |caps: Vec<u32>| -> Value {
        if caps.is_empty() || sec.privileged {
            return Value::Null;
        }
        caps.into_iter()
            .filter_map(cap_name)
            .map(|n| Value::String(n.to_string()))
            .collect()
    };
    let added = sec
        .caps
        .iter()
        .copied()
        .filter(|c| !DEFAULT_CAPS.contains(c))
        .collect();
    let dropped = DEFAULT_CAPS
        .iter()
        .copied()
        .filter(|c| !sec.caps.contains(c))
        .collect();
    let mut opts = Vec::new();
    match &sec.seccomp {
        SeccompPolicy::Default => {}
        SeccompPolicy::Unconfined => opts.push("seccomp=unconfined".to_string()),
        SeccompPolicy::Profile(text) => {
            let compact = serde_json::from_str::<Value>(text)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| text.clone());
            opts.push(format!("seccomp={compact}"));
        }
    }
    if sec.no_new_privileges {
        opts.push("no-new-privileges".to_string());
    }
    let devices: Vec<Value> = sec
        .devices
        .iter()
        .map(|d| {
            json!({
                "PathOnHost": d.host,
                "PathInContainer": d.container,
                "CgroupPermissions": d.permissions,
            })
        })
        .collect();
    let (masked, readonly): (Value, Value) = if sec.privileged {
        (Value::Null, Value::Null)
    } else {
        (json!(MASKED_PATHS), json!(READONLY_PATHS))
    };
    vec![
        ("CapAdd", names(added)),
        ("CapDrop", names(dropped)),
        ("Privileged", json!(sec.privileged)),
        (
            "SecurityOpt",
            if opts.is_empty() {
                Value::Null
            } else {
                json!(opts)
            },
        ),
        ("Devices", json!(devices)),
        (
            "DeviceCgroupRules",
            if sec.device_cgroup_rules.is_empty() {
                Value::Null
            } else {
                json!(sec.device_cgroup_rules)
            },
        ),
        ("MaskedPaths", masked),
        ("ReadonlyPaths", readonly),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(sec: &Security, key: &str) -> Value {
        fields(sec).into_iter().find(|(k, _)| *k == key).unwrap().1
    }

    #[test]
    fn shows_the_difference_from_docker_defaults() {
        let mut sec = Security::default();
        assert_eq!(get(&sec, "CapAdd"), Value::Null);
        assert_eq!(get(&sec, "SecurityOpt"), Value::Null);
        assert_eq!(get(&sec, "DeviceCgroupRules"), Value::Null);
        sec.device_cgroup_rules = vec!["c 1:3 r".into()];
        assert_eq!(get(&sec, "DeviceCgroupRules"), json!(["c 1:3 r"]));
        sec.caps.retain(|c| *c != 13);
        sec.caps.push(21);
        sec.no_new_privileges = true;
        sec.seccomp = SeccompPolicy::Unconfined;
        assert_eq!(get(&sec, "CapAdd"), json!(["CAP_SYS_ADMIN"]));
        assert_eq!(get(&sec, "CapDrop"), json!(["CAP_NET_RAW"]));
        assert_eq!(
            get(&sec, "SecurityOpt"),
            json!(["seccomp=unconfined", "no-new-privileges"])
        );
        sec.privileged = true;
        assert_eq!(get(&sec, "Privileged"), json!(true));
        assert_eq!(get(&sec, "MaskedPaths"), Value::Null);
    }
}
