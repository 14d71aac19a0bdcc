//! The rules view: what kube-proxy wrote on one node, in the real tool's text for the cluster's
//! mode (`iptables-save`, `ipvsadm -Ln`, `nft list table ip kube-proxy`, as
//! `lab_core::shell::node_exec` prints them), optionally narrowed to one Service.
//!
//! Narrowing follows the rules' own structure rather than a text search, so what is left still
//! reads as a rule set: in iptables, the lines that name the Service plus every line of the
//! chains they jump to (`KUBE-SVC-…` → `KUBE-SEP-…`), and those chains' declarations; in
//! nftables, the chains whose names carry `namespace/name` (whole, braces included) and the map
//! elements that point at them; in IPVS, the virtual servers on the Service's addresses
//! (`clusterIP:port`, any address on a nodePort) with their real servers.

use k8s_openapi::api::core::v1::Service;
use lab_core::Cluster;
use lab_core::config::ProxyMode;
use lab_core::proxy::ProxySnapshot;
use lab_core::proxy::sync::{ItemKind, Op, Proxier, ProxierMode, SyncResult};
use std::collections::BTreeSet;

/// The command that shows a node's rules in `mode`, as a learner types it on the node.
pub fn command(mode: ProxyMode) -> &'static [&'static str] {
    match mode {
        ProxyMode::Iptables => &["iptables-save"],
        ProxyMode::Ipvs => &["ipvsadm", "-Ln"],
        ProxyMode::Nftables => &["nft", "list", "table", "ip", "kube-proxy"],
    }
}

/// The rule text of `node` in `mode`, or the error the node gave.
pub fn node_rules(cluster: &Cluster, node: &str, mode: ProxyMode) -> Result<String, String> {
    node_rules_of(cluster, &ProxySnapshot::from_cluster(cluster), node, mode)
}

/// [`node_rules`] from a snapshot already taken (the rules view syncs its kube-proxy to the
/// same one).
pub fn node_rules_of(
    cluster: &Cluster,
    snapshot: &ProxySnapshot,
    node: &str,
    mode: ProxyMode,
) -> Result<String, String> {
    let argv: Vec<String> = command(mode).iter().map(|s| s.to_string()).collect();
    match lab_core::shell::node_exec_with(cluster, snapshot, node, &argv) {
        Ok(out) if out.exit_code == 0 => Ok(out.stdout),
        Ok(out) => Err(out.stderr),
        Err(e) => Err(e.kubectl_message()),
    }
}

/// What the last sync changed on a node, as the rules view marks it: kube-proxy's own view
/// (`lab_core::proxy::sync`), kept per node and mode across the page's changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncMarks {
    /// Items added or changed, as the tool prints them (trimmed; IPVS real servers as
    /// `-> IP:PORT`).
    pub changed: Vec<String>,
    /// Chains the sync created: their declaration and every rule in them are new.
    pub chains: Vec<String>,
    /// Items removed (no longer in the text, so listed apart).
    pub removed: Vec<String>,
}

/// `-A CHAIN … -j TARGET` (or `:CHAIN` for a declaration): the chain and the target.
fn chain_and_target(line: &str) -> Option<(&str, Option<&str>)> {
    if let Some(decl) = line.strip_prefix(':') {
        return Some((decl.split_whitespace().next()?, None));
    }
    let rest = line.strip_prefix("-A ")?;
    let chain = rest.split_whitespace().next()?;
    let target = rest.split_whitespace().skip_while(|w| *w != "-j").nth(1);
    Some((chain, target))
}

impl SyncMarks {
    /// Whether `line` of the node's rules is one the last sync added or changed (see
    /// [`MarkIndex::marks`]; build the index once to test many lines).
    pub fn marks(&self, line: &str) -> bool {
        self.index().marks(line)
    }

    /// The marks as sets, so each line of a long rule text is tested in O(log n).
    pub fn index(&self) -> MarkIndex<'_> {
        let mut ix = MarkIndex::default();
        ix.chains.extend(self.chains.iter().map(String::as_str));
        for c in &self.changed {
            if let Some(addr) = c.strip_prefix("-> ") {
                ix.real_servers.insert(addr);
            } else if let Some((chain, Some(target))) = chain_and_target(c) {
                ix.jumps.insert((chain, target));
            } else {
                ix.exact.insert(c.as_str());
            }
        }
        ix
    }
}

/// [`SyncMarks`] as sets.
#[derive(Debug, Default)]
pub struct MarkIndex<'a> {
    exact: BTreeSet<&'a str>,
    chains: BTreeSet<&'a str>,
    jumps: BTreeSet<(&'a str, &'a str)>,
    /// IPVS real servers' `IP:PORT`.
    real_servers: BTreeSet<&'a str>,
}

impl MarkIndex<'_> {
    /// Whether `line` is one the last sync added or changed. iptables rules are compared by
    /// chain and jump target, since `iptables-save` normalises what kube-proxy wrote
    /// (`-s 10.244.1.4/32`, the match order); a new chain (iptables or nftables) is marked
    /// whole; IPVS real servers by address.
    pub fn marks(&self, line: &str) -> bool {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("chain ").and_then(|r| r.strip_suffix(" {")) {
            return self.chains.contains(name);
        }
        if let Some((chain, target)) = chain_and_target(t) {
            return self.chains.contains(chain)
                || target.is_some_and(|target| self.jumps.contains(&(chain, target)));
        }
        if let Some(rest) = t.strip_prefix("-> ") {
            let addr = rest.split_whitespace().next().unwrap_or("");
            return self.real_servers.contains(addr);
        }
        self.exact.contains(t)
    }
}

/// kube-proxy on `node` in `mode`, with the host facts the node commands render with.
pub fn proxier(cluster: &Cluster, node: &str, mode: ProxyMode) -> Proxier {
    Proxier::new(node, ProxierMode::for_cluster(cluster, mode))
}

/// Syncs `proxier` to `cluster` and says what the sync changed; a full sync (the first, or
/// after a configuration change) marks nothing, as everything is new.
pub fn sync_marks(proxier: &mut Proxier, cluster: &Cluster) -> SyncMarks {
    sync_marks_to(proxier, &ProxySnapshot::from_cluster(cluster))
}

/// [`sync_marks`] to a snapshot already taken.
pub fn sync_marks_to(proxier: &mut Proxier, snapshot: &ProxySnapshot) -> SyncMarks {
    let Ok(result) = proxier.sync(snapshot) else {
        return SyncMarks::default();
    };
    marks_of(&result)
}

fn marks_of(result: &SyncResult) -> SyncMarks {
    let mut marks = SyncMarks::default();
    if result.full {
        return marks;
    }
    for item in result.changes.iter().flat_map(|c| &c.items) {
        let text = match item.kind {
            ItemKind::RealServer => format!("-> {}", item.text.trim()),
            _ => item.text.trim().to_string(),
        };
        match (item.op, item.kind) {
            (Op::Add, ItemKind::Chain) => marks.chains.push(text),
            (Op::Add | Op::Change, _) => marks.changed.push(text),
            (Op::Remove, _) => marks.removed.push(text),
        }
    }
    marks
}

/// What identifies a Service in rule text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceAddrs {
    /// `namespace/name`, as kube-proxy writes it in comments and chain names.
    pub name: String,
    /// `clusterIP:port` for each port.
    pub vips: Vec<String>,
    /// The nodePorts, as `:port` suffixes.
    pub node_ports: Vec<String>,
}

impl ServiceAddrs {
    /// The addresses of Service `namespace/name` in `cluster`, if it exists.
    pub fn of(cluster: &Cluster, namespace: &str, name: &str) -> Option<ServiceAddrs> {
        let svc = cluster.get_typed::<Service>(namespace, name)?;
        let spec = svc.spec.as_ref();
        let ip = spec
            .and_then(|s| s.cluster_ip.as_deref())
            .filter(|ip| *ip != "None");
        let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or(&[]);
        Some(ServiceAddrs {
            name: format!("{namespace}/{name}"),
            vips: ip
                .map(|ip| ports.iter().map(|p| format!("{ip}:{}", p.port)).collect())
                .unwrap_or_default(),
            node_ports: ports
                .iter()
                .filter_map(|p| p.node_port)
                .map(|n| format!(":{n}"))
                .collect(),
        })
    }

    /// Whether `text` names this Service (`default/httpd-svc` but not `default/httpd-svc2`).
    fn named_in(&self, text: &str) -> bool {
        text.match_indices(&self.name).any(|(i, m)| {
            !text[i + m.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
    }
}

/// The lines of `text` (a node's rules in `mode`) that belong to `svc`, in their order.
pub fn filter(text: &str, mode: ProxyMode, svc: &ServiceAddrs) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let keep: Vec<bool> = match mode {
        ProxyMode::Iptables => iptables_keep(&lines, svc),
        ProxyMode::Nftables => nft_keep(&lines, svc),
        ProxyMode::Ipvs => ipvs_keep(&lines, svc),
    };
    lines
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(l, _)| l.to_string())
        .collect()
}

/// Per-Service chains kube-proxy's iptables mode creates (the shared ones stay out).
fn service_chains(line: &str) -> impl Iterator<Item = &str> {
    line.split_whitespace()
        .map(|w| w.trim_start_matches(':'))
        .filter(|w| {
            [
                "KUBE-SVC-",
                "KUBE-SEP-",
                "KUBE-EXT-",
                "KUBE-FW-",
                "KUBE-SVL-",
            ]
            .iter()
            .any(|p| w.starts_with(p))
        })
}

fn iptables_keep(lines: &[&str], svc: &ServiceAddrs) -> Vec<bool> {
    let mut chains: BTreeSet<&str> = BTreeSet::new();
    for l in lines.iter().filter(|l| svc.named_in(l)) {
        chains.extend(service_chains(l));
    }
    // Follow jumps out of the chains found (KUBE-SVC → KUBE-SEP) until nothing new appears.
    loop {
        let before = chains.len();
        for l in lines {
            if let Some(chain) = l
                .strip_prefix("-A ")
                .and_then(|r| r.split_whitespace().next())
                && chains.contains(chain)
            {
                let found: Vec<&str> = service_chains(l).collect();
                chains.extend(found);
            }
        }
        if chains.len() == before {
            break;
        }
    }
    lines
        .iter()
        .map(|l| {
            svc.named_in(l)
                || l.strip_prefix("-A ")
                    .and_then(|r| r.split_whitespace().next())
                    .is_some_and(|c| chains.contains(c))
                || l.strip_prefix(':')
                    .and_then(|r| r.split_whitespace().next())
                    .is_some_and(|c| chains.contains(c))
        })
        .collect()
}

fn nft_keep(lines: &[&str], svc: &ServiceAddrs) -> Vec<bool> {
    let marker = format!("-{}/", svc.name);
    let mut keep = vec![false; lines.len()];
    let mut in_chain = false;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        if let Some(name) = t.strip_prefix("chain ") {
            in_chain = name.contains(&marker);
        }
        keep[i] = in_chain
            || l.contains(&marker)
            || svc.vips.iter().any(|v| {
                let (ip, port) = v.split_once(':').unwrap_or((v, ""));
                l.contains(&format!("{ip} . ")) && l.contains(&format!(" . {port} "))
            });
        if in_chain && t == "}" {
            in_chain = false;
        }
    }
    keep
}

fn ipvs_keep(lines: &[&str], svc: &ServiceAddrs) -> Vec<bool> {
    let mut keep = vec![false; lines.len()];
    let mut in_block = false;
    for (i, l) in lines.iter().enumerate() {
        if ["TCP ", "UDP ", "SCTP "].iter().any(|p| l.starts_with(p)) {
            let addr = l.split_whitespace().nth(1).unwrap_or("");
            in_block = svc.vips.iter().any(|v| v == addr)
                || svc.node_ports.iter().any(|p| addr.ends_with(p.as_str()));
        } else if !l.starts_with("  ->") {
            in_block = false;
        }
        keep[i] = in_block;
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playground::{CHAPTER_DEPLOYMENT, CHAPTER_SERVICE};

    const NODEPORT: &str = include_str!("../../lab-core/tests/data/httpd-service-nodeport.yaml");

    fn cluster(mode: ProxyMode, service: &str) -> Cluster {
        let mut c = Cluster::new(lab_core::ClusterConfig {
            proxy_mode: mode,
            ..Default::default()
        });
        c.apply_manifests(&format!("{CHAPTER_DEPLOYMENT}\n---\n{service}"))
            .unwrap();
        c.settle();
        c
    }

    #[test]
    fn iptables_narrows_to_the_services_chains() {
        let c = cluster(ProxyMode::Iptables, CHAPTER_SERVICE);
        let text = node_rules(&c, "kind-worker", ProxyMode::Iptables).unwrap();
        let svc = ServiceAddrs::of(&c, "default", "httpd-svc").unwrap();
        let lines = filter(&text, ProxyMode::Iptables, &svc);
        let svc_chain = lines
            .iter()
            .find_map(|l| l.strip_prefix(":KUBE-SVC-"))
            .expect("the KUBE-SVC chain is declared");
        assert!(svc_chain.ends_with("- [0:0]"), "{svc_chain}");
        assert_eq!(
            lines.iter().filter(|l| l.starts_with(":KUBE-SEP-")).count(),
            3
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("-j DNAT --to-destination"))
                .count(),
            3
        );
        assert!(lines.iter().any(|l| l.starts_with("-A KUBE-SERVICES ")));
        assert!(lines.iter().all(|l| !l.contains("kube-dns")), "{lines:#?}");
        assert!(lines.len() < text.lines().count() / 2);
    }

    #[test]
    fn ipvs_keeps_the_virtual_servers_and_their_real_servers() {
        let c = cluster(ProxyMode::Ipvs, NODEPORT);
        let text = node_rules(&c, "kind-worker", ProxyMode::Ipvs).unwrap();
        assert!(text.starts_with("IP Virtual Server version 1.2.1"));
        let svc = ServiceAddrs::of(&c, "default", "httpd-svc").unwrap();
        let lines = filter(&text, ProxyMode::Ipvs, &svc);
        let servers: Vec<&String> = lines.iter().filter(|l| !l.starts_with("  ->")).collect();
        assert_eq!(
            servers.len(),
            2,
            "clusterIP:8080 and the nodePort: {lines:#?}"
        );
        assert!(servers.iter().any(|l| l.contains(":30144 ")));
        assert!(servers.iter().any(|l| l.contains(&svc.vips[0])));
        assert_eq!(lines.len(), 2 + 2 * 3);
    }

    #[test]
    fn nftables_keeps_whole_chains_and_map_elements() {
        let c = cluster(ProxyMode::Nftables, CHAPTER_SERVICE);
        let text = node_rules(&c, "kind-worker", ProxyMode::Nftables).unwrap();
        let svc = ServiceAddrs::of(&c, "default", "httpd-svc").unwrap();
        let lines = filter(&text, ProxyMode::Nftables, &svc);
        let opens = lines
            .iter()
            .filter(|l| l.trim_start().starts_with("chain "))
            .count();
        let closes = lines.iter().filter(|l| l.trim() == "}").count();
        assert_eq!(
            opens, 4,
            "one service chain and three endpoint chains: {lines:#?}"
        );
        assert_eq!(opens, closes, "chains kept whole");
        assert!(
            lines
                .iter()
                .any(|l| l.contains(". tcp . 8080 : goto service-"))
        );
        assert!(lines.iter().all(|l| !l.contains("kube-dns")));
    }

    #[test]
    fn a_scale_up_marks_the_new_endpoints_rules() {
        for mode in [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables] {
            let mut c = cluster(mode, CHAPTER_SERVICE);
            let mut p = proxier(&c, "kind-worker", mode);
            assert_eq!(
                sync_marks(&mut p, &c),
                SyncMarks::default(),
                "the first sync is full"
            );
            c.scale(lab_core::Kind::Deployment, "default", "httpd", 5)
                .unwrap();
            c.settle();
            let marks = sync_marks(&mut p, &c);
            assert!(!marks.changed.is_empty(), "{mode:?}: {marks:?}");
            let text = node_rules(&c, "kind-worker", mode).unwrap();
            let marked: Vec<&str> = text.lines().filter(|l| marks.marks(l)).collect();
            assert!(
                marked.len() >= 2,
                "{mode:?}: the two new endpoints' rules are on screen: {marks:#?}"
            );
            assert_eq!(
                sync_marks(&mut p, &c),
                SyncMarks::default(),
                "nothing changed since"
            );
            // A deleted pod's rules go: listed as removed.
            let pod = c
                .list(lab_core::Kind::Pod, Some("default"))
                .find(|o| o.name().starts_with("httpd-"))
                .unwrap()
                .name()
                .to_string();
            c.delete_with_grace(lab_core::Kind::Pod, "default", &pod, 0)
                .unwrap();
            c.settle();
            let marks = sync_marks(&mut p, &c);
            assert!(!marks.removed.is_empty(), "{mode:?}: {marks:?}");
        }
    }

    #[test]
    fn a_name_is_not_a_prefix_match() {
        let svc = ServiceAddrs {
            name: "default/httpd-svc".into(),
            ..Default::default()
        };
        assert!(svc.named_in("-m comment --comment \"default/httpd-svc cluster IP\""));
        assert!(svc.named_in("--comment default/httpd-svc:http"));
        assert!(!svc.named_in("--comment \"default/httpd-svc2 cluster IP\""));
    }
}
