//! The `HostConfig` of `inspect` for a container an API client made: dockerd keeps the
//! request's `HostConfig` and shows it back, so what strata stores but does not act on
//! (`CpuRealtimePeriod`, `MemorySwappiness`, a log driver's options…) is echoed as sent,
//! while what the record holds (and `update` changes) comes from the record.

use serde_json::{json, Map, Value};

/// The `HostConfig` keys whose value strata's record holds (normalised, or changed since by
/// `update`): shown from the record, never as the create request sent them.
const FROM_RECORD: &[&str] = &[
    "NetworkMode",
    "PortBindings",
    "RestartPolicy",
    "AutoRemove",
    "Memory",
    "MemorySwap",
    "NanoCpus",
    "CpuShares",
    "PidsLimit",
    "Ulimits",
    "ShmSize",
    "Privileged",
    "CapAdd",
    "CapDrop",
    "SecurityOpt",
    "Devices",
    "MaskedPaths",
    "ReadonlyPaths",
    "ReadonlyRootfs",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    // `rm --link` drops links from the record.
    "Links",
    "PidMode",
    "Runtime",
    "Isolation",
    "CpusetCpus",
    "CpusetMems",
    "DeviceCgroupRules",
];

/// Over `hc`, what an API client sent at create, as dockerd keeps it: every field but those
/// the record holds and those sent as `null` or `""` (left at Docker's default), with the log
/// driver's defaults filled in.
pub fn echo_sent(hc: &mut Map<String, Value>, sent: &Map<String, Value>) {
    for (sent_key, value) in sent {
        let key = &canonical(hc, sent_key);
        let unset = value.is_null() || value.as_str() == Some("");
        if unset || FROM_RECORD.contains(&key.as_str()) {
            continue;
        }
        let value = match key.as_str() {
            "LogConfig" => {
                let kind = value["Type"].as_str().filter(|t| !t.is_empty());
                let config = value.get("Config").filter(|c| !c.is_null());
                json!({
                    "Type": kind.unwrap_or("json-file"),
                    "Config": config.cloned().unwrap_or_else(|| json!({})),
                })
            }
            _ => value.clone(),
        };
        hc.insert(key.clone(), value);
    }
}

/// `HostConfig` fields the record's object may lack, by Docker's name.
const OTHER_KEYS: &[&str] = &[
    "Tmpfs",
    "Init",
    "StorageOpt",
    "Sysctls",
    "Mounts",
    "Annotations",
];

/// Docker's name of a sent key: dockerd decodes JSON field names regardless of case (as Go
/// does), so `CPURealtimePeriod` (docker-py's spelling) is `CpuRealtimePeriod`.
fn canonical(hc: &Map<String, Value>, key: &str) -> String {
    hc.keys()
        .map(String::as_str)
        .chain(OTHER_KEYS.iter().copied())
        .find(|k| k.eq_ignore_ascii_case(key))
        .unwrap_or(key)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_fields_are_echoed_unless_the_record_holds_them() {
        // (sent, the record's value of the same key, what inspect shows)
        let cases: &[(&str, Value, Value, Value)] = &[
            (
                "Isolation",
                json!("default"),
                json!("default"),
                json!("default"),
            ),
            ("Isolation", json!(""), json!(""), json!("")),
            ("IpcMode", json!(""), json!("private"), json!("private")),
            ("CpusetCpus", json!("0,1"), json!("0"), json!("0")),
            ("MemorySwappiness", json!(40), Value::Null, json!(40)),
            (
                "Tmpfs",
                json!({"/t": "size=3M"}),
                Value::Null,
                json!({"/t": "size=3M"}),
            ),
            ("GroupAdd", Value::Null, json!(["1"]), json!(["1"])),
            ("Memory", json!(1), json!(2), json!(2)),
            (
                "NetworkMode",
                json!("default"),
                json!("bridge"),
                json!("bridge"),
            ),
            (
                "LogConfig",
                json!({"Type": "", "Config": {"max-file": "1"}}),
                Value::Null,
                json!({"Type": "json-file", "Config": {"max-file": "1"}}),
            ),
            (
                "LogConfig",
                json!({"Type": "json-file", "Config": null}),
                Value::Null,
                json!({"Type": "json-file", "Config": {}}),
            ),
        ];
        // dockerd reads field names regardless of case; inspect shows Docker's.
        let mut hc = Map::new();
        hc.insert("CpuRealtimePeriod".into(), json!(0));
        let mut s = Map::new();
        s.insert("CPURealtimePeriod".into(), json!(1000));
        s.insert("tmpfs".into(), json!({"/t": ""}));
        echo_sent(&mut hc, &s);
        assert_eq!(hc["CpuRealtimePeriod"], json!(1000));
        assert_eq!(hc["Tmpfs"], json!({"/t": ""}));
        assert!(!hc.contains_key("CPURealtimePeriod") && !hc.contains_key("tmpfs"));
        for (key, sent, record, want) in cases {
            let mut hc = Map::new();
            hc.insert(key.to_string(), record.clone());
            let mut s = Map::new();
            s.insert(key.to_string(), sent.clone());
            echo_sent(&mut hc, &s);
            assert_eq!(hc[*key], *want, "{key}: {sent}");
        }
    }
}
