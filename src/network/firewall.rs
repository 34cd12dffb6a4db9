//! Rules netavark does not make: networks isolated from each other (Docker's
//! DOCKER-ISOLATION chains), and nothing from a bridge may reach the host's 127.0.0.0/8
//! (netavark sets `route_localnet` on bridges for port forwarding from localhost). Kept in the
//! `mangle` and `raw` tables, whose chains netavark never reorders.
//!
//! `rules` is pure (what the tables must hold); `ensure`/`remove` apply it with iptables.

use std::process::Command;

use super::error::NetworkError;
use super::record::BRIDGE_PREFIX;

pub const ISOLATION_1: &str = "STRATA-ISOLATION-1";
pub const ISOLATION_2: &str = "STRATA-ISOLATION-2";

/// One iptables rule: table, chain, and the rule's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub table: &'static str,
    pub chain: &'static str,
    pub args: Vec<String>,
}

fn rule(table: &'static str, chain: &'static str, args: &[&str]) -> Rule {
    Rule {
        table,
        chain,
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// The rules shared by all of strata's networks.
pub fn base_rules() -> Vec<Rule> {
    let any_bridge = format!("{BRIDGE_PREFIX}+");
    vec![
        rule("mangle", "FORWARD", &["-j", ISOLATION_1]),
        rule("mangle", ISOLATION_2, &["-o", &any_bridge, "-j", "DROP"]),
        rule(
            "raw",
            "PREROUTING",
            &["-i", &any_bridge, "-d", "127.0.0.0/8", "-j", "DROP"],
        ),
    ]
}

/// The rule of one network: what leaves its bridge for another of strata's bridges is
/// dropped (stage 2 checks the outgoing interface).
pub fn network_rule(bridge: &str) -> Rule {
    rule(
        "mangle",
        ISOLATION_1,
        &["-i", bridge, "!", "-o", bridge, "-j", ISOLATION_2],
    )
}

fn iptables(args: &[&str]) -> Result<std::process::Output, NetworkError> {
    Command::new("iptables")
        .args(["-w", "5"])
        .args(args)
        .output()
        .map_err(|source| NetworkError::ToolMissing {
            tool: "iptables".into(),
            source,
        })
}

fn apply(verb: &str, r: &Rule) -> Result<std::process::Output, NetworkError> {
    let mut args = vec!["-t", r.table, verb, r.chain];
    args.extend(r.args.iter().map(String::as_str));
    iptables(&args)
}

/// Adds whatever of `rules` is missing (`-C` first, so it is idempotent).
fn ensure_rules(rules: &[Rule]) -> Result<(), NetworkError> {
    for r in rules {
        if apply("-C", r)?.status.success() {
            continue;
        }
        let out = apply("-A", r)?;
        if !out.status.success() {
            return Err(NetworkError::Tool {
                tool: format!("iptables -t {} -A {}", r.table, r.chain),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
    }
    Ok(())
}

/// Makes the chains and base rules exist, and the isolation rule of `bridge`.
pub fn ensure(bridge: &str) -> Result<(), NetworkError> {
    let _host = super::store::host_lock()?;
    // Fast path: one listing tells whether everything is in place already.
    let listed = iptables(&["-t", "mangle", "-S", ISOLATION_1])?;
    let want = network_rule(bridge);
    if listed.status.success() {
        let text = String::from_utf8_lossy(&listed.stdout);
        let line = format!("-A {} {}", want.chain, want.args.join(" "));
        if text.lines().any(|l| l.trim() == line) {
            return Ok(());
        }
    }
    for chain in [ISOLATION_1, ISOLATION_2] {
        let _ = iptables(&["-t", "mangle", "-N", chain]);
    }
    let mut rules = base_rules();
    rules.push(want);
    ensure_rules(&rules)
}

/// Drops the isolation rule of `bridge` (its network is gone); absent is fine.
pub fn remove(bridge: &str) -> Result<(), NetworkError> {
    let _host = super::store::host_lock()?;
    let r = network_rule(bridge);
    while apply("-C", &r)?.status.success() {
        apply("-D", &r)?;
    }
    Ok(())
}

/// Whether the host has a network interface `name` (netavark deletes a bridge with its last
/// endpoint, and its isolation rule can go with it).
pub fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// strata's bridges on the host with nothing attached (their `brif/` is empty).
pub fn idle_bridges() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let idle = name.starts_with(BRIDGE_PREFIX)
                && std::fs::read_dir(e.path().join("brif")).is_ok_and(|mut d| d.next().is_none());
            idle.then_some(name)
        })
        .collect()
}

/// Deletes the idle bridges of strata's that no network in `live` owns, with the tagged
/// rules of their networks (a store deleted with its networks in place); returns how many.
pub fn reclaim_unclaimed_bridges(live: &[String]) -> Result<usize, NetworkError> {
    let gone: Vec<String> = idle_bridges()
        .into_iter()
        .filter(|b| !live.contains(b))
        .collect();
    if gone.is_empty() {
        return Ok(0);
    }
    let owners: Vec<String> = super::rules::network_owners(&super::rules::saved()?)
        .into_iter()
        .filter(|o| gone.contains(&super::record::bridge_name(&o["net:".len()..])))
        .collect();
    let _host = super::store::host_lock()?;
    super::rules::apply(&super::rules::Batch {
        add: Vec::new(),
        remove: owners,
    })?;
    for b in &gone {
        super::netlink::delete_link(b)?;
    }
    Ok(gone.len())
}

/// The bridges that have an isolation rule (for `system prune` to drop those of networks
/// that no longer exist).
pub fn bridges_with_rules() -> Vec<String> {
    let Ok(out) = iptables(&["-t", "mangle", "-S", ISOLATION_1]) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // The native backend's rules carry their network's tag and are pruned by it.
        .filter(|l| !l.contains("strata:net:"))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            it.position(|w| w == "-i")?;
            it.next().map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_rules_name_the_bridge_and_the_prefix() {
        let r = network_rule("strata-0badcafe");
        assert_eq!(
            r.args.join(" "),
            "-i strata-0badcafe ! -o strata-0badcafe -j STRATA-ISOLATION-2"
        );
        let base = base_rules();
        assert!(base
            .iter()
            .any(|r| r.args.join(" ") == "-o strata-+ -j DROP"));
        assert!(base
            .iter()
            .any(|r| r.table == "raw" && r.args.contains(&"127.0.0.0/8".to_string())));
    }
}
