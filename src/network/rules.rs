//! The firewall rules of strata's own bridge backend, tagged by owner and applied in one
//! iptables transaction. `network_rules`/`container_rules` are pure (what a network or a
//! container needs); `Batch` turns additions and tag removals into one `iptables-restore
//! --noflush` input, computed against one `iptables-save` listing — one commit per change
//! instead of a process and a commit per rule.
//!
//! Every rule carries a comment `strata:<owner>`: removal deletes exactly the listed lines with
//! that tag, in iptables-save's own spelling, so nothing has to be re-spelled to match.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;

use super::error::NetworkError;
use super::ports::PortBinding;
use super::record::BRIDGE_PREFIX;

/// Chains of strata's own, created on first use: (table, chain).
pub const CHAINS: &[(&str, &str)] = &[
    ("nat", "STRATA-DNAT"),
    ("nat", "STRATA-POSTROUTING"),
    ("filter", "STRATA-FORWARD"),
    ("mangle", "STRATA-ISOLATION-1"),
    ("mangle", "STRATA-ISOLATION-2"),
];

/// One rule: table, chain, the match and target arguments (without the tag) and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub table: &'static str,
    pub chain: &'static str,
    pub args: String,
    pub owner: String,
}

impl Rule {
    fn new(table: &'static str, chain: &'static str, args: String, owner: &str) -> Rule {
        Rule {
            table,
            chain,
            args,
            owner: owner.to_string(),
        }
    }

    /// The rule as an `iptables-restore` line (appended; `insert` puts it first), the tag
    /// among the matches, before the target.
    pub fn line(&self, insert: bool) -> String {
        let comment = format!("-m comment --comment \"{}\"", tag(&self.owner));
        let args = match self.args.find("-j ") {
            Some(0) => format!("{comment} {}", self.args),
            Some(i) => format!("{}{comment} {}", &self.args[..i], &self.args[i..]),
            None => format!("{} {comment}", self.args),
        };
        format!("{} {} {args}", if insert { "-I" } else { "-A" }, self.chain)
    }
}

pub fn tag(owner: &str) -> String {
    format!("strata:{owner}")
}

pub const BASE: &str = "base";

pub fn network_owner(id: &str) -> String {
    format!("net:{}", &id[..12.min(id.len())])
}

pub fn container_owner(id: &str) -> String {
    format!("ctr:{}", &id[..12.min(id.len())])
}

/// The jumps into strata's chains and the rules every network shares.
pub fn base_rules() -> Vec<Rule> {
    let any = format!("{BRIDGE_PREFIX}+");
    vec![
        Rule::new(
            "nat",
            "PREROUTING",
            "-m addrtype --dst-type LOCAL -j STRATA-DNAT".into(),
            BASE,
        ),
        Rule::new(
            "nat",
            "OUTPUT",
            "-m addrtype --dst-type LOCAL -j STRATA-DNAT".into(),
            BASE,
        ),
        Rule::new("nat", "POSTROUTING", "-j STRATA-POSTROUTING".into(), BASE),
        Rule::new("filter", "FORWARD", "-j STRATA-FORWARD".into(), BASE),
        Rule::new("mangle", "FORWARD", "-j STRATA-ISOLATION-1".into(), BASE),
        Rule::new(
            "mangle",
            "STRATA-ISOLATION-2",
            format!("-o {any} -j DROP"),
            BASE,
        ),
        // A bridge has route_localnet on (for ports published on 127.0.0.1): nothing coming
        // from a bridge may reach the host's loopback addresses.
        Rule::new(
            "raw",
            "PREROUTING",
            format!("-i {any} -d 127.0.0.0/8 -j DROP"),
            BASE,
        ),
    ]
}

/// What one network needs: NAT out (unless internal), forwarding, isolation from the other
/// networks, and masquerading of published-port traffic that would otherwise not come back
/// (from the host's loopback, or from a container on the same bridge).
pub fn network_rules(id: &str, bridge: &str, subnet: &Ipv4Net, internal: bool) -> Vec<Rule> {
    let o = network_owner(id);
    let mut r = vec![
        Rule::new(
            "mangle",
            "STRATA-ISOLATION-1",
            format!("-i {bridge} ! -o {bridge} -j STRATA-ISOLATION-2"),
            &o,
        ),
        Rule::new(
            "nat",
            "STRATA-POSTROUTING",
            format!("-s 127.0.0.0/8 -o {bridge} -j MASQUERADE"),
            &o,
        ),
        Rule::new(
            "nat",
            "STRATA-POSTROUTING",
            format!("-s {subnet} -d {subnet} -m conntrack --ctstate DNAT -j MASQUERADE"),
            &o,
        ),
        Rule::new(
            "filter",
            "STRATA-FORWARD",
            format!("-i {bridge} -o {bridge} -j ACCEPT"),
            &o,
        ),
    ];
    if !internal {
        r.extend([
            Rule::new(
                "nat",
                "STRATA-POSTROUTING",
                format!("-s {subnet} ! -o {bridge} -j MASQUERADE"),
                &o,
            ),
            Rule::new(
                "filter",
                "STRATA-FORWARD",
                format!("-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
                &o,
            ),
            Rule::new(
                "filter",
                "STRATA-FORWARD",
                format!("-i {bridge} -j ACCEPT"),
                &o,
            ),
        ]);
    }
    r
}

/// The published ports of one container at address `ip`: DNAT from the host port, and
/// forwarding allowed to it.
pub fn container_rules(id: &str, bridge: &str, ip: Ipv4Addr, ports: &[PortBinding]) -> Vec<Rule> {
    let o = container_owner(id);
    let mut r = Vec::new();
    for p in ports {
        let proto = p.protocol.to_string();
        let dst = if p.host_ip.is_empty() || p.host_ip == "0.0.0.0" {
            String::new()
        } else {
            format!("-d {}/32 ", p.host_ip)
        };
        r.push(Rule::new(
            "nat",
            "STRATA-DNAT",
            format!(
                "{dst}-p {proto} -m {proto} --dport {} -j DNAT --to-destination {ip}:{}",
                p.host_port, p.container_port
            ),
            &o,
        ));
        r.push(Rule::new(
            "filter",
            "STRATA-FORWARD",
            format!(
                "-d {ip}/32 -o {bridge} -p {proto} -m {proto} --dport {} -j ACCEPT",
                p.container_port
            ),
            &o,
        ));
    }
    r
}

/// One transaction: rules to add (skipped when their owner already has rules in place) and
/// owners whose rules go.
#[derive(Debug, Default)]
pub struct Batch {
    pub add: Vec<Rule>,
    pub remove: Vec<String>,
}

/// The `iptables-restore --noflush` input for `batch` against the current `saved` listing
/// (`iptables-save` output). Pure; empty when there is nothing to do.
pub fn restore_input(saved: &str, batch: &Batch) -> String {
    let mut existing_chains: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut lines_by_table: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut table = "";
    for l in saved.lines() {
        if let Some(t) = l.strip_prefix('*') {
            table = t;
        } else if let Some(c) = l.strip_prefix(':') {
            let chain = c.split_whitespace().next().unwrap_or("");
            existing_chains.entry(table).or_default().push(chain);
        } else if l.starts_with("-A ") {
            lines_by_table.entry(table).or_default().push(l);
        }
    }
    let has_owner = |table: &str, owner: &str| {
        let t = format!("\"{}\"", tag(owner));
        lines_by_table
            .get(table)
            .is_some_and(|ls| ls.iter().any(|l| l.contains(&t)))
    };
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for owner in &batch.remove {
        let t = format!("\"{}\"", tag(owner));
        for (table, ls) in &lines_by_table {
            for l in ls.iter().filter(|l| l.contains(&t)) {
                out.entry(table)
                    .or_default()
                    .push(format!("-D {}", &l[3..]));
            }
        }
    }
    for r in &batch.add {
        if has_owner(r.table, &r.owner) {
            continue;
        }
        // Jumps from the built-in chains go first, ahead of other tools' rules.
        let builtin = !r.chain.starts_with("STRATA-");
        out.entry(r.table).or_default().push(r.line(builtin));
    }
    // Every chain of strata's in a table being added to exists before anything jumps to it
    // (declaring one that exists would flush it, even with --noflush).
    for (table, lines) in out.iter_mut() {
        if !lines
            .iter()
            .any(|l| l.starts_with("-A ") || l.starts_with("-I "))
        {
            continue;
        }
        for (t, c) in CHAINS.iter().filter(|(t, _)| t == table) {
            let exists = existing_chains.get(t).is_some_and(|cs| cs.contains(c));
            if !exists {
                lines.insert(0, format!(":{c} - [0:0]"));
            }
        }
    }
    let mut text = String::new();
    for (table, lines) in out {
        if lines.is_empty() {
            continue;
        }
        text.push_str(&format!("*{table}\n"));
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        text.push_str("COMMIT\n");
    }
    text
}

/// Applies `batch` in one `iptables-restore` call (none when nothing changes). The caller
/// holds the host-wide network lock.
pub fn apply(batch: &Batch) -> Result<(), NetworkError> {
    let saved = run("iptables-save", &[], None)?;
    let input = restore_input(&saved, batch);
    if input.is_empty() {
        return Ok(());
    }
    run("iptables-restore", &["--noflush", "-w", "5"], Some(&input)).map(|_| ())
}

fn run(tool: &str, args: &[&str], input: Option<&str>) -> Result<String, NetworkError> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NetworkError::ToolMissing {
            tool: tool.into(),
            source,
        })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|source| NetworkError::ToolMissing {
            tool: tool.into(),
            source,
        })?;
    if !out.status.success() {
        return Err(NetworkError::Tool {
            tool: tool.into(),
            status: out.status.to_string(),
            stderr: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                input
                    .map(|i| format!(" (input: {i:?})"))
                    .unwrap_or_default()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The owners of `strata:net:…` rules in a listing (for pruning those of gone networks).
pub fn network_owners(saved: &str) -> Vec<String> {
    let mut out: Vec<String> = saved
        .lines()
        .filter_map(|l| {
            let start = l.find("\"strata:net:")? + "\"strata:".len();
            let end = l[start..].find('"')? + start;
            Some(l[start..end].to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The current listing, for `network_owners`.
pub fn saved() -> Result<String, NetworkError> {
    run("iptables-save", &[], None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ports::Proto;

    const SAVED: &str = "*nat\n:PREROUTING ACCEPT [0:0]\n:STRATA-DNAT - [0:0]\n\
-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment \"strata:base\" -j STRATA-DNAT\n\
-A STRATA-DNAT -p tcp -m tcp --dport 8080 -m comment --comment \"strata:ctr:aaaaaaaaaaaa\" -j DNAT --to-destination 10.89.0.2:80\n\
COMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n";

    #[test]
    fn removal_deletes_the_listed_lines_of_the_owner() {
        let b = Batch {
            add: vec![],
            remove: vec![container_owner(&"a".repeat(64))],
        };
        assert_eq!(
            restore_input(SAVED, &b),
            "*nat\n-D STRATA-DNAT -p tcp -m tcp --dport 8080 -m comment --comment \"strata:ctr:aaaaaaaaaaaa\" -j DNAT --to-destination 10.89.0.2:80\nCOMMIT\n"
        );
    }

    #[test]
    fn additions_skip_owners_in_place_and_declare_missing_chains() {
        let b = Batch {
            add: base_rules(),
            remove: vec![],
        };
        let text = restore_input(SAVED, &b);
        // nat's base rules are in place; the other tables get theirs, with chains declared.
        assert!(!text.contains("*nat"), "{text}");
        assert!(text.contains("*filter\n:STRATA-FORWARD - [0:0]\n-I FORWARD -m comment --comment \"strata:base\" -j STRATA-FORWARD\n"), "{text}");
        assert!(text.contains(":STRATA-ISOLATION-2 - [0:0]"), "{text}");
        assert!(
            text.contains("*raw\n-I PREROUTING -i strata-+ -d 127.0.0.0/8 -m comment"),
            "{text}"
        );
        assert_eq!(restore_input(SAVED, &Batch::default()), "");
    }

    #[test]
    fn container_rules_name_address_and_ports() {
        let ports = [
            PortBinding {
                host_ip: String::new(),
                host_port: 8080,
                container_port: 80,
                protocol: Proto::Tcp,
            },
            PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: 5353,
                container_port: 53,
                protocol: Proto::Udp,
            },
        ];
        let r = container_rules(
            &"b".repeat(64),
            "strata-x",
            "10.89.0.3".parse().unwrap(),
            &ports,
        );
        let lines: Vec<String> = r.iter().map(|r| r.line(false)).collect();
        assert_eq!(lines[0], "-A STRATA-DNAT -p tcp -m tcp --dport 8080 -m comment --comment \"strata:ctr:bbbbbbbbbbbb\" -j DNAT --to-destination 10.89.0.3:80");
        assert!(
            lines[2].starts_with("-A STRATA-DNAT -d 127.0.0.1/32 -p udp -m udp --dport 5353"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].contains("-d 10.89.0.3/32 -o strata-x -p udp -m udp --dport 53 -m comment")
        );
    }

    #[test]
    fn internal_networks_get_no_nat_out() {
        let s: Ipv4Net = "10.89.9.0/24".parse().unwrap();
        let open = network_rules(&"c".repeat(64), "strata-c", &s, false);
        let sealed = network_rules(&"c".repeat(64), "strata-c", &s, true);
        let nat_out = |r: &[Rule]| {
            r.iter()
                .any(|r| r.args.contains("! -o strata-c -j MASQUERADE"))
        };
        assert!(nat_out(&open));
        assert!(!nat_out(&sealed));
        assert_eq!(
            network_owners("-A X -m comment --comment \"strata:net:cccccccccccc\" -j Y\n"),
            vec!["net:cccccccccccc".to_string()]
        );
    }
}
