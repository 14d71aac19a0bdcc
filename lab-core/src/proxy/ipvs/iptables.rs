//! The iptables rules kube-proxy's IPVS mode still writes: a handful of ipset matches instead
//! of rules per Service.
//!
//! Mirrors kubernetes/kubernetes `pkg/proxy/ipvs/proxier.go`: `iptablesChains` (the chains
//! declared in the restore input), `iptablesJumpChain` (the jumps from built-in chains,
//! prepended with `EnsureRule`), `ipsetWithIptablesChain`, `writeIptablesRules` and
//! `acceptIPVSTraffic`. The spec (`kube-proxy.md` §4) lists these rules; where it is silent
//! (which rules are written even for empty sets, `-p sctp` on the SCTP NodePort rules, the
//! order of the built-in jumps, nat before filter in the restore input) this follows
//! upstream's proxier.go (the 1.30-era copy with `KUBE-IPVS-OUT-FILTER`, unchanged in this
//! part through 1.33).
//!
//! Two texts come out of one [`IpvsIptablesRules`]:
//! - [`IpvsIptablesRules::restore_text`]: what kube-proxy feeds to
//!   `iptables-restore --noflush --counters`: `*nat` then `*filter`, each with its chain
//!   declarations and rules in write order;
//! - [`IpvsIptablesRules::save_text`]: what `iptables-save` prints on the node afterwards, with
//!   the same layout as iptables mode's save form (`filter` then `nat`, built-in chains with
//!   their jumps first, user chains sorted by name, rules grouped by chain, counters zeroed,
//!   no `#` comment lines), kubelet's `KUBE-FIREWALL` and `KUBE-KUBELET-CANARY` included.
//!
//! No rule names a Service: which Services exist is only in the ipsets
//! ([`IpvsState::ipsets`]), so the rule count stays the same however many Services there are.

use super::{
    IpSetEntry, IpvsOptions, IpvsState, KUBE_CLUSTER_IP, KUBE_EXTERNAL_IP, KUBE_EXTERNAL_IP_LOCAL,
    KUBE_HEALTH_CHECK_NODE_PORT, KUBE_IPVS_IPS, KUBE_LOAD_BALANCER, KUBE_LOAD_BALANCER_FW,
    KUBE_LOAD_BALANCER_LOCAL, KUBE_LOAD_BALANCER_SOURCE_CIDR, KUBE_LOAD_BALANCER_SOURCE_IP,
    KUBE_LOOP_BACK, KUBE_NODE_PORT_LOCAL_SCTP_HASH, KUBE_NODE_PORT_LOCAL_TCP,
    KUBE_NODE_PORT_LOCAL_UDP, KUBE_NODE_PORT_SCTP_HASH, KUBE_NODE_PORT_TCP, KUBE_NODE_PORT_UDP,
};
use crate::proxy::iptables::{
    IptablesOptions, KUBE_FIREWALL, KUBE_FORWARD, KUBE_KUBELET_CANARY, KUBE_MARK_MASQ,
    KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES, Line, NodeSettings, Rule, Table,
    jump_rule_line, push_localnet_rule, push_saved_table, write_filter_tail, write_postrouting,
};
use crate::proxy::text::push_u32;
use crate::proxy::{ProxyError, ProxySnapshot};
use std::collections::{BTreeMap, BTreeSet};

/// `KUBE-NODE-PORT` (nat: NodePort masquerading; filter: health-check NodePorts).
pub const KUBE_NODE_PORT: &str = "KUBE-NODE-PORT";
/// `KUBE-LOAD-BALANCER` (nat): LoadBalancer traffic to masquerade.
pub const KUBE_LOAD_BALANCER_CHAIN: &str = "KUBE-LOAD-BALANCER";
/// `KUBE-SOURCE-RANGES-FIREWALL` (filter): `loadBalancerSourceRanges` allow-list.
pub const KUBE_SOURCE_RANGES_FIREWALL: &str = "KUBE-SOURCE-RANGES-FIREWALL";
/// `KUBE-IPVS-FILTER` (filter): other ports of Service addresses are rejected.
pub const KUBE_IPVS_FILTER: &str = "KUBE-IPVS-FILTER";
/// `KUBE-IPVS-OUT-FILTER` (filter): the node may not reach LoadBalancers whose source ranges
/// exclude it.
pub const KUBE_IPVS_OUT_FILTER: &str = "KUBE-IPVS-OUT-FILTER";

/// `iptablesChains`: the chains declared in the restore input, per table, in upstream's order.
const NAT_CHAINS: [&str; 5] = [
    KUBE_SERVICES,
    KUBE_POSTROUTING,
    KUBE_NODE_PORT,
    KUBE_LOAD_BALANCER_CHAIN,
    KUBE_MARK_MASQ,
];
const FILTER_CHAINS: [&str; 6] = [
    KUBE_FORWARD,
    KUBE_NODE_PORT,
    KUBE_PROXY_FIREWALL,
    KUBE_SOURCE_RANGES_FIREWALL,
    KUBE_IPVS_FILTER,
    KUBE_IPVS_OUT_FILTER,
];

/// One built-in chain's jump, with the comment `iptablesJumpChain` gives it (empty: kubelet's).
struct Jump {
    table: &'static str,
    from: &'static str,
    to: &'static str,
    comment: &'static str,
}

/// The jumps as they end up in the built-in chains: kube-proxy prepends each entry of
/// `iptablesJumpChain` in list order, so within one chain the last listed comes first;
/// kubelet's `-j KUBE-FIREWALL`, there before kube-proxy starts, stays last.
const JUMPS: &[Jump] = &[
    Jump {
        table: "filter",
        from: "INPUT",
        to: KUBE_IPVS_FILTER,
        comment: "kubernetes ipvs access filter",
    },
    Jump {
        table: "filter",
        from: "INPUT",
        to: KUBE_PROXY_FIREWALL,
        comment: "kube-proxy firewall rules",
    },
    Jump {
        table: "filter",
        from: "INPUT",
        to: KUBE_NODE_PORT,
        comment: "kubernetes health check rules",
    },
    Jump {
        table: "filter",
        from: "INPUT",
        to: KUBE_FIREWALL,
        comment: "",
    },
    Jump {
        table: "filter",
        from: "FORWARD",
        to: KUBE_PROXY_FIREWALL,
        comment: "kube-proxy firewall rules",
    },
    Jump {
        table: "filter",
        from: "FORWARD",
        to: KUBE_FORWARD,
        comment: "kubernetes forwarding rules",
    },
    Jump {
        table: "filter",
        from: "OUTPUT",
        to: KUBE_IPVS_OUT_FILTER,
        comment: "kubernetes ipvs access filter",
    },
    Jump {
        table: "filter",
        from: "OUTPUT",
        to: KUBE_FIREWALL,
        comment: "",
    },
    Jump {
        table: "nat",
        from: "PREROUTING",
        to: KUBE_SERVICES,
        comment: "kubernetes service portals",
    },
    Jump {
        table: "nat",
        from: "OUTPUT",
        to: KUBE_SERVICES,
        comment: "kubernetes service portals",
    },
    Jump {
        table: "nat",
        from: "POSTROUTING",
        to: KUBE_POSTROUTING,
        comment: "kubernetes postrouting rules",
    },
];

/// Which table an `ipsetWithIptablesChain` rule goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum In {
    Nat,
    Filter,
}

/// `ipsetWithIptablesChain`: set, table, chain, target, match flags, protocol match. The local
/// NodePort sets come before their plain sets, so their `RETURN` wins.
const SET_RULES: [(&str, In, &str, &str, &str, &str); 12] = [
    (
        KUBE_LOOP_BACK,
        In::Nat,
        KUBE_POSTROUTING,
        "MASQUERADE",
        "dst,dst,src",
        "",
    ),
    (
        KUBE_LOAD_BALANCER,
        In::Nat,
        KUBE_SERVICES,
        KUBE_LOAD_BALANCER_CHAIN,
        "dst,dst",
        "",
    ),
    (
        KUBE_LOAD_BALANCER_LOCAL,
        In::Nat,
        KUBE_LOAD_BALANCER_CHAIN,
        "RETURN",
        "dst,dst",
        "",
    ),
    (
        KUBE_NODE_PORT_LOCAL_TCP,
        In::Nat,
        KUBE_NODE_PORT,
        "RETURN",
        "dst",
        "tcp",
    ),
    (
        KUBE_NODE_PORT_TCP,
        In::Nat,
        KUBE_NODE_PORT,
        KUBE_MARK_MASQ,
        "dst",
        "tcp",
    ),
    (
        KUBE_NODE_PORT_LOCAL_UDP,
        In::Nat,
        KUBE_NODE_PORT,
        "RETURN",
        "dst",
        "udp",
    ),
    (
        KUBE_NODE_PORT_UDP,
        In::Nat,
        KUBE_NODE_PORT,
        KUBE_MARK_MASQ,
        "dst",
        "udp",
    ),
    (
        KUBE_NODE_PORT_LOCAL_SCTP_HASH,
        In::Nat,
        KUBE_NODE_PORT,
        "RETURN",
        "dst,dst",
        "sctp",
    ),
    (
        KUBE_NODE_PORT_SCTP_HASH,
        In::Nat,
        KUBE_NODE_PORT,
        KUBE_MARK_MASQ,
        "dst,dst",
        "sctp",
    ),
    (
        KUBE_LOAD_BALANCER_FW,
        In::Filter,
        KUBE_PROXY_FIREWALL,
        KUBE_SOURCE_RANGES_FIREWALL,
        "dst,dst",
        "",
    ),
    (
        KUBE_LOAD_BALANCER_SOURCE_CIDR,
        In::Filter,
        KUBE_SOURCE_RANGES_FIREWALL,
        "RETURN",
        "dst,dst,src",
        "",
    ),
    (
        KUBE_LOAD_BALANCER_SOURCE_IP,
        In::Filter,
        KUBE_SOURCE_RANGES_FIREWALL,
        "RETURN",
        "dst,dst,src",
        "",
    ),
];

/// The iptables rules of kube-proxy's IPVS mode on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsIptablesRules {
    /// The `nat` table (written first).
    pub nat: Table,
    /// The `filter` table.
    pub filter: Table,
}

/// Whether kube-proxy's set `name` has members (`!isEmpty()`).
fn non_empty(state: &IpvsState, name: &str) -> bool {
    state.ipset(name).is_some_and(|s| !s.members.is_empty())
}

/// The comment kube-proxy's rules give set `name` (`getComment()`).
fn comment(state: &IpvsState, name: &str) -> &'static str {
    state.ipset(name).map_or("", |s| s.comment)
}

/// `lbNoNodeAccessIPPortProtocolEntries`: LoadBalancer IP, protocol and port of every ingress
/// with source ranges that do not cover the node IP, i.e. the members of `KUBE-LOAD-BALANCER-FW`
/// without their `KUBE-LOAD-BALANCER-SOURCE-IP` twin. Sorted (kube-proxy walks a Go map).
fn no_node_access(state: &IpvsState) -> Vec<IpSetEntry> {
    let allowed: BTreeSet<IpSetEntry> = state
        .ipset(KUBE_LOAD_BALANCER_SOURCE_IP)
        .map(|s| {
            s.members
                .iter()
                .map(|e| IpSetEntry {
                    ip2: None,
                    ..e.clone()
                })
                .collect()
        })
        .unwrap_or_default();
    state
        .ipset(KUBE_LOAD_BALANCER_FW)
        .map(|s| {
            s.members
                .iter()
                .filter(|e| !allowed.contains(*e))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// `-m set --match-set NAME FLAGS`.
fn set_match<'a>(w: Line<'a>, name: &str, flags: &str) -> Line<'a> {
    w.args(&["-m", "set", "--match-set", name, flags])
}

/// `externalIPRules`: accept external-IP traffic from off the node, and to local addresses.
fn external_ip_rules(nat: &mut String, state: &IpvsState, set: &str) {
    let w = Line::new(nat, KUBE_SERVICES).comment(&[comment(state, set)]);
    set_match(w, set, "dst,dst").args(&[
        "-m",
        "physdev",
        "!",
        "--physdev-is-in",
        "-m",
        "addrtype",
        "!",
        "--src-type",
        "LOCAL",
        "-j",
        "ACCEPT",
    ]);
    let w = Line::new(nat, KUBE_SERVICES).comment(&[comment(state, set)]);
    set_match(w, set, "dst,dst").args(&["-m", "addrtype", "--dst-type", "LOCAL", "-j", "ACCEPT"]);
}

/// `writeIptablesRules` for `state`, with the node settings the iptables mode uses too (local
/// detector, masqueradeAll, mark, `--random-fully`).
fn write(s: &NodeSettings, state: &IpvsState) -> IpvsIptablesRules {
    let mut nat = Table::new("nat");
    let mut filter = Table::new("filter");
    for c in NAT_CHAINS {
        nat.chain(c);
    }
    for c in FILTER_CHAINS {
        filter.chain(c);
    }
    let n = nat.rules_buf();
    let f = filter.rules_buf();

    // Connections to localhost leave the service chain early.
    Line::new(n, KUBE_SERVICES).args(&["-s", "127.0.0.0/8", "-j", "RETURN"]);

    for (set, table, from, to, flags, proto) in SET_RULES {
        if !non_empty(state, set) {
            continue;
        }
        let buf = if table == In::Nat { &mut *n } else { &mut *f };
        let w = Line::new(buf, from);
        let w = if proto.is_empty() {
            w
        } else {
            w.args(&["-p", proto])
        };
        let w = w.comment(&[comment(state, set)]);
        set_match(w, set, flags).args(&["-j", to]);
    }

    if non_empty(state, KUBE_CLUSTER_IP) {
        let w = Line::new(n, KUBE_SERVICES).comment(&[comment(state, KUBE_CLUSTER_IP)]);
        let w = w.args(&["-m", "set", "--match-set", KUBE_CLUSTER_IP]);
        let w = if s.masquerade_all {
            w.a("dst,dst")
        } else if s.detector.is_implemented() {
            // Off-cluster traffic to a ClusterIP may leave the node again: masquerade it.
            w.a("dst,dst").detector(&s.detector, true)
        } else {
            // Without a detector only node-originated traffic from a service IP is known.
            w.a("src,dst")
        };
        drop(w.args(&["-j", KUBE_MARK_MASQ]));
    }

    if non_empty(state, KUBE_EXTERNAL_IP) {
        let w = Line::new(n, KUBE_SERVICES).comment(&[comment(state, KUBE_EXTERNAL_IP)]);
        set_match(w, KUBE_EXTERNAL_IP, "dst,dst").args(&["-j", KUBE_MARK_MASQ]);
        external_ip_rules(n, state, KUBE_EXTERNAL_IP);
    }
    if non_empty(state, KUBE_EXTERNAL_IP_LOCAL) {
        external_ip_rules(n, state, KUBE_EXTERNAL_IP_LOCAL);
    }

    Line::new(n, KUBE_SERVICES).args(&[
        "-m",
        "addrtype",
        "--dst-type",
        "LOCAL",
        "-j",
        KUBE_NODE_PORT,
    ]);
    Line::new(n, KUBE_LOAD_BALANCER_CHAIN).args(&["-j", KUBE_MARK_MASQ]);
    Line::new(f, KUBE_SOURCE_RANGES_FIREWALL).args(&["-j", "DROP"]);

    // The node's own connections reach an IPVS LoadBalancer with source and destination both
    // the LB IP; drop them when the source ranges exclude the node.
    let mut ip = String::new();
    let mut port = String::new();
    for e in no_node_access(state) {
        let (Some(addr), Some(proto), Some(p)) = (e.ip, e.protocol, e.port) else {
            continue;
        };
        ip.clear();
        ip.push_str(&addr.to_string());
        port.clear();
        push_u32(&mut port, p.into());
        Line::new(f, KUBE_IPVS_OUT_FILTER).args(&[
            "-s",
            &ip,
            "-m",
            "ipvs",
            "--vaddr",
            &ip,
            "--vproto",
            proto.lower(),
            "--vport",
            &port,
            "-j",
            "DROP",
        ]);
    }

    // `acceptIPVSTraffic`: accept Service traffic at the end of KUBE-SERVICES, in case other
    // rules would block it.
    for set in [KUBE_CLUSTER_IP, KUBE_LOAD_BALANCER] {
        if non_empty(state, set) {
            set_match(Line::new(n, KUBE_SERVICES), set, "dst,dst").args(&["-j", "ACCEPT"]);
        }
    }

    write_filter_tail(s, f, false);

    // From here on upstream writes the rules whatever the sets hold.
    let w = Line::new(f, KUBE_NODE_PORT).comment(&[comment(state, KUBE_HEALTH_CHECK_NODE_PORT)]);
    set_match(w, KUBE_HEALTH_CHECK_NODE_PORT, "dst").args(&["-j", "ACCEPT"]);
    for (set, flags) in [
        (KUBE_LOAD_BALANCER, "dst,dst"),
        (KUBE_CLUSTER_IP, "dst,dst"),
        (KUBE_EXTERNAL_IP, "dst,dst"),
        (KUBE_EXTERNAL_IP_LOCAL, "dst,dst"),
        (KUBE_HEALTH_CHECK_NODE_PORT, "dst"),
    ] {
        set_match(Line::new(f, KUBE_IPVS_FILTER), set, flags).args(&["-j", "RETURN"]);
    }
    let w = Line::new(f, KUBE_IPVS_FILTER).args(&["-m", "conntrack", "--ctstate", "NEW"]);
    set_match(w, KUBE_IPVS_IPS, "dst").args(&["-j", "REJECT"]);

    write_postrouting(s, n);
    IpvsIptablesRules { nat, filter }
}

impl IpvsIptablesRules {
    /// The rules for an already rendered IPVS state of a node of `snapshot`.
    pub fn from_state(
        state: &IpvsState,
        snapshot: &ProxySnapshot,
        options: &IptablesOptions,
    ) -> Result<IpvsIptablesRules, ProxyError> {
        let s = NodeSettings::new(snapshot, &state.node, options)?;
        Ok(write(&s, state))
    }

    /// kube-proxy's `iptables-restore` input: nat chains and rules, then filter's.
    pub fn restore_text(&self) -> String {
        let mut out = String::new();
        self.nat.restore_text(&mut out);
        self.filter.restore_text(&mut out);
        out
    }

    /// What `iptables-save` prints for the `filter` and `nat` tables on the node, counters
    /// zeroed (see the module documentation).
    pub fn save_text(&self) -> String {
        let mut out = String::new();
        for (table, builtins) in [
            (&self.filter, &["INPUT", "FORWARD", "OUTPUT"][..]),
            (
                &self.nat,
                &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"][..],
            ),
        ] {
            // iptables-save lists user chains by name, each with its rules in insertion order.
            let mut by_chain: BTreeMap<String, Vec<Rule>> = BTreeMap::new();
            for c in table.chains() {
                by_chain.entry(c.to_string()).or_default();
            }
            for r in table.rules() {
                by_chain.entry(r.chain.clone()).or_default().push(r);
            }
            // kubelet's chains, there on every node whatever the proxy mode.
            by_chain.entry(KUBE_KUBELET_CANARY.to_string()).or_default();
            if table.name == "filter" {
                let mut l = String::new();
                push_localnet_rule(&mut l);
                by_chain
                    .entry(KUBE_FIREWALL.to_string())
                    .or_default()
                    .extend(Rule::from_restore_line(&l));
            }
            // kube-proxy's IPVS mode writes its jumps without a conntrack match.
            let jumps: Vec<String> = builtins
                .iter()
                .flat_map(|b| {
                    JUMPS
                        .iter()
                        .filter(move |j| j.table == table.name && j.from == *b)
                })
                .map(|j| jump_rule_line(j.from, false, j.comment, j.to))
                .collect();
            push_saved_table(&mut out, &table.name, builtins, &jumps, &by_chain);
        }
        out
    }

    /// Number of rules in the restore input (both tables).
    pub fn rule_count(&self) -> usize {
        self.nat.rule_count() + self.filter.rule_count()
    }
}

/// Renders the IPVS mode's iptables rules for `node`.
pub fn render(
    snapshot: &ProxySnapshot,
    node: &str,
    ipvs: &IpvsOptions,
    iptables: &IptablesOptions,
) -> Result<IpvsIptablesRules, ProxyError> {
    let state = super::render(snapshot, node, ipvs)?;
    IpvsIptablesRules::from_state(&state, snapshot, iptables)
}

/// The IPVS mode's `iptables-save` text for `node`, with kind's host facts.
pub fn render_save(snapshot: &ProxySnapshot, node: &str) -> Result<String, ProxyError> {
    Ok(render(
        snapshot,
        node,
        &IpvsOptions::default(),
        &IptablesOptions::kind(),
    )?
    .save_text())
}

/// The IPVS mode's `iptables-restore` input for `node`, with kind's host facts.
pub fn render_restore(snapshot: &ProxySnapshot, node: &str) -> Result<String, ProxyError> {
    Ok(render(
        snapshot,
        node,
        &IpvsOptions::default(),
        &IptablesOptions::kind(),
    )?
    .restore_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cluster;

    /// A kind cluster with `yaml` applied and settled; `lb_ip` becomes the ingress IP of every
    /// LoadBalancer Service.
    fn snapshot(yaml: &str, lb_ip: Option<&str>) -> ProxySnapshot {
        let mut c = Cluster::kind();
        c.apply_manifests(yaml).expect("manifests apply");
        c.settle();
        let mut s = ProxySnapshot::from_cluster(&c);
        if let Some(ip) = lb_ip {
            for svc in &mut s.services {
                let lb =
                    svc.spec.as_ref().and_then(|sp| sp.type_.as_deref()) == Some("LoadBalancer");
                if lb {
                    let status = serde_json::json!({"loadBalancer": {"ingress": [{"ip": ip}]}});
                    svc.status = serde_json::from_value(status).ok();
                }
            }
        }
        s
    }

    fn rules(s: &ProxySnapshot) -> IpvsIptablesRules {
        render(
            s,
            "kind-worker",
            &IpvsOptions::default(),
            &IptablesOptions::kind(),
        )
        .expect("known node")
    }

    /// A selectorless Service with one ready endpoint on kind-worker.
    fn svc(name: &str, spec: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{spec}\
             ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-1\n  namespace: default\n  labels:\n    kubernetes.io/service-name: {name}\naddressType: IPv4\nports:\n- name: \"\"\n  protocol: TCP\n  port: 80\nendpoints:\n- addresses: [\"10.244.1.7\"]\n  nodeName: kind-worker\n  conditions: {{ready: true}}\n"
        )
    }

    fn lb(ranges: &str) -> String {
        svc(
            "web",
            &format!(
                "  type: LoadBalancer\n  clusterIP: 10.96.100.50\n  loadBalancerSourceRanges: [{ranges}]\n  ports:\n  - protocol: TCP\n    port: 8080\n    targetPort: 80\n    nodePort: 30144\n"
            ),
        )
    }

    fn lines_of<'a>(text: &'a str, chain: &str) -> Vec<&'a str> {
        let prefix = format!("-A {chain} ");
        text.lines().filter(|l| l.starts_with(&prefix)).collect()
    }

    #[test]
    fn nat_is_written_before_filter_and_chains_in_upstream_order() {
        let t = rules(&snapshot("", None)).restore_text();
        assert!(
            t.starts_with(
                "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-NODE-PORT - [0:0]\n:KUBE-LOAD-BALANCER - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN\n"
            ),
            "{t}"
        );
        let filter = t.find("*filter\n").expect("filter table");
        assert!(t[..filter].ends_with("COMMIT\n"), "{t}");
        assert!(
            t[filter..].starts_with(
                "*filter\n:KUBE-FORWARD - [0:0]\n:KUBE-NODE-PORT - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]\n:KUBE-SOURCE-RANGES-FIREWALL - [0:0]\n:KUBE-IPVS-FILTER - [0:0]\n:KUBE-IPVS-OUT-FILTER - [0:0]\n"
            ),
            "{t}"
        );
        assert!(t.ends_with("COMMIT\n"));
    }

    #[test]
    fn empty_sets_write_no_set_rules_but_the_filter_chains_stay() {
        // Only kube-system's and default's built-in Services: no NodePort, LB or external IP.
        let r = rules(&snapshot("", None));
        let t = r.restore_text();
        for set in [
            KUBE_LOAD_BALANCER,
            KUBE_NODE_PORT_TCP,
            KUBE_EXTERNAL_IP,
            KUBE_LOAD_BALANCER_FW,
        ] {
            assert!(
                !t.contains(&format!("--match-set {set} dst -j"))
                    && !t.contains(&format!("--comment \"{}\"", comment_of(set))),
                "{set}: {t}"
            );
        }
        // KUBE-IPVS-FILTER and the health-check rule are written whatever the sets hold.
        assert_eq!(lines_of(&t, KUBE_IPVS_FILTER).len(), 6, "{t}");
        assert_eq!(lines_of(&t, KUBE_NODE_PORT).len(), 1, "{t}");
        // The DNS pods' and the API server's endpoints are not local to kind-worker.
        assert!(!t.contains("KUBE-LOOP-BACK"), "{t}");
        assert!(t.contains(
            "-A KUBE-SERVICES -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ\n"
        ));
    }

    fn comment_of(set: &str) -> &'static str {
        super::super::IPSET_INFO
            .iter()
            .find(|(n, _, _)| *n == set)
            .map_or("", |(_, _, c)| c)
    }

    #[test]
    fn masquerade_all_and_missing_detector_change_the_cluster_ip_rule() {
        let base = snapshot("", None);
        let rule = |s: &ProxySnapshot| {
            let t = rules(s).restore_text();
            lines_of(&t, KUBE_SERVICES)
                .into_iter()
                .find(|l| l.contains("KUBE-MARK-MASQ"))
                .map(str::to_string)
                .unwrap_or_default()
        };
        let mut all = base.clone();
        all.config.masquerade_all = true;
        assert!(
            rule(&all).ends_with("--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ"),
            "{}",
            rule(&all)
        );
        let mut none = base.clone();
        none.config.cluster_cidr = None;
        assert!(
            rule(&none).ends_with("--match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ"),
            "{}",
            rule(&none)
        );
        // masqueradeAll wins over a detector.
        assert!(rule(&base).contains("dst,dst ! -s 10.244.0.0/16"));
    }

    #[test]
    fn source_ranges_without_the_node_block_it_with_an_ipvs_match() {
        let s = snapshot(&lb("\"203.0.113.0/25\""), Some("172.18.255.200"));
        let r = rules(&s);
        let t = r.restore_text();
        assert_eq!(
            lines_of(&t, KUBE_IPVS_OUT_FILTER),
            [
                "-A KUBE-IPVS-OUT-FILTER -s 172.18.255.200 -m ipvs --vaddr 172.18.255.200 --vproto tcp --vport 8080 -j DROP"
            ]
        );
        assert_eq!(
            lines_of(&t, KUBE_SOURCE_RANGES_FIREWALL),
            [
                "-A KUBE-SOURCE-RANGES-FIREWALL -m comment --comment \"Kubernetes service load balancer ip + port + source cidr for packet filter purpose\" -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN",
                "-A KUBE-SOURCE-RANGES-FIREWALL -j DROP",
            ]
        );
        // libxt_ipvs prints the protocol as a number and the address with its mask.
        assert!(r.save_text().contains(
            "\n-A KUBE-IPVS-OUT-FILTER -s 172.18.255.200/32 -m ipvs --vproto 6 --vaddr 172.18.255.200/32 --vport 8080 -j DROP\n"
        ));

        // A range holding the node's IP lets the node in: a SOURCE-IP entry, no DROP.
        let s = snapshot(
            &lb("\"203.0.113.0/25\", \"172.18.0.0/16\""),
            Some("172.18.255.200"),
        );
        let t = rules(&s).restore_text();
        assert!(lines_of(&t, KUBE_IPVS_OUT_FILTER).is_empty(), "{t}");
        assert_eq!(lines_of(&t, KUBE_SOURCE_RANGES_FIREWALL).len(), 3, "{t}");
        assert!(t.contains("--match-set KUBE-LOAD-BALANCER-SOURCE-IP dst,dst,src -j RETURN"));
        assert!(t.contains(
            "-A KUBE-PROXY-FIREWALL -m comment --comment \"Kubernetes service load balancer ip + port for load balancer with sourceRange\" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL\n"
        ));
    }

    #[test]
    fn local_sets_return_before_their_masquerade_rules() {
        let y = svc(
            "local",
            "  type: LoadBalancer\n  externalTrafficPolicy: Local\n  clusterIP: 10.96.100.51\n  externalIPs: [\"192.0.2.50\"]\n  ports:\n  - protocol: TCP\n    port: 80\n    nodePort: 30150\n",
        );
        let t = rules(&snapshot(&y, Some("172.18.255.201"))).restore_text();
        let np = lines_of(&t, KUBE_NODE_PORT);
        assert!(
            np[0].contains("KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN"),
            "{t}"
        );
        assert!(
            np[1].contains("KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ"),
            "{t}"
        );
        assert_eq!(
            lines_of(&t, KUBE_LOAD_BALANCER_CHAIN),
            [
                "-A KUBE-LOAD-BALANCER -m comment --comment \"Kubernetes service load balancer ip + port with externalTrafficPolicy=local\" -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN",
                "-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ",
            ]
        );
        // Local external IPs are accepted but never marked.
        let ext: Vec<&str> = lines_of(&t, KUBE_SERVICES)
            .into_iter()
            .filter(|l| l.contains("KUBE-EXTERNAL-IP-LOCAL"))
            .collect();
        assert_eq!(ext.len(), 2, "{t}");
        assert!(ext.iter().all(|l| l.ends_with("-j ACCEPT")));
        // The last two KUBE-SERVICES rules accept cluster-IP then LB traffic.
        let svcs = lines_of(&t, KUBE_SERVICES);
        assert_eq!(
            svcs[svcs.len() - 2..],
            [
                "-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT",
                "-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT",
            ]
        );
    }

    #[test]
    fn rule_count_does_not_grow_with_services() {
        let one = rules(&snapshot(
            &svc("a", "  clusterIP: 10.96.7.1\n  ports:\n  - port: 80\n"),
            None,
        ));
        let mut many = String::new();
        for i in 0..20 {
            many.push_str(&svc(
                &format!("s{i}"),
                &format!("  clusterIP: 10.96.7.{}\n  ports:\n  - port: 80\n", i + 1),
            ));
            many.push_str("---\n");
        }
        let many = rules(&snapshot(&many, None));
        assert_eq!(one.rule_count(), many.rule_count());
        assert_eq!(one.restore_text(), many.restore_text());
    }

    #[test]
    fn mark_follows_the_masquerade_bit_and_unknown_nodes_fail() {
        let mut s = snapshot("", None);
        s.config.masquerade_bit = 5;
        let r = rules(&s);
        assert!(
            r.restore_text()
                .contains("-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000020\n")
        );
        assert!(
            r.save_text()
                .contains("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x20/0x20\n")
        );
        assert_eq!(
            render_save(&s, "nope"),
            Err(ProxyError::UnknownNode("nope".into()))
        );
        assert!(render_restore(&s, "nope").is_err());
    }

    #[test]
    fn save_form_lists_kube_proxy_jumps_before_kubelets() {
        let t = rules(&snapshot("", None)).save_text();
        assert!(t.starts_with(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        ));
        assert!(t.contains(
            "-A INPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-FILTER\n-A INPUT -m comment --comment \"kube-proxy firewall rules\" -j KUBE-PROXY-FIREWALL\n-A INPUT -m comment --comment \"kubernetes health check rules\" -j KUBE-NODE-PORT\n-A INPUT -j KUBE-FIREWALL\n-A FORWARD -m comment --comment \"kube-proxy firewall rules\" -j KUBE-PROXY-FIREWALL\n-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n-A OUTPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-OUT-FILTER\n-A OUTPUT -j KUBE-FIREWALL\n"
        ), "{t}");
        let nat = t.find("*nat\n").expect("nat after filter");
        let decls: Vec<&str> = t[nat..].lines().filter(|l| l.starts_with(':')).collect();
        assert_eq!(
            decls,
            [
                ":PREROUTING ACCEPT [0:0]",
                ":INPUT ACCEPT [0:0]",
                ":OUTPUT ACCEPT [0:0]",
                ":POSTROUTING ACCEPT [0:0]",
                ":KUBE-KUBELET-CANARY - [0:0]",
                ":KUBE-LOAD-BALANCER - [0:0]",
                ":KUBE-MARK-MASQ - [0:0]",
                ":KUBE-NODE-PORT - [0:0]",
                ":KUBE-POSTROUTING - [0:0]",
                ":KUBE-SERVICES - [0:0]",
            ]
        );
    }
}
