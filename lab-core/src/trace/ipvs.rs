//! The IPVS walk: kube-proxy's IPVS mode, as the kernel's `ip_vs` module and netfilter see a
//! packet.
//!
//! Mirrors `pkg/proxy/ipvs/proxier.go` (spec §4) and the kernel's IPVS hooks
//! (`net/netfilter/ipvs/ip_vs_core.c`): the node's IPVS state is rendered with
//! [`proxy::ipvs::render`](crate::proxy::ipvs::render), and the trace reads its virtual servers,
//! real servers, ipsets and `kube-ipvs0` addresses.
//!
//! 1. The iptables rules IPVS mode writes: ipset matches instead of one rule per Service
//!    (`KUBE-SERVICES` marks traffic to `KUBE-CLUSTER-IP` from outside the pod network for
//!    masquerading, sends local destinations to `KUBE-NODE-PORT`, accepts Service traffic;
//!    `KUBE-IPVS-FILTER` rejects other ports of a Service address; `KUBE-POSTROUTING`
//!    masquerades marked and hairpin (`KUBE-LOOP-BACK`) traffic). The proxy module does not
//!    render these rules yet, so [`iptables_save_text`] writes them here from the rendered
//!    ipsets, in kube-proxy's write order (`writeIptablesRules`, `acceptIPVSTraffic`), with
//!    kube-proxy's built-in jumps (`iptablesJumpChain`, prepended); the walk parses that text
//!    back as it does in iptables mode. The number of these rules does not grow with Services.
//!    Left out: the `KUBE-IPVS-OUT-FILTER` drops for LoadBalancers whose source ranges exclude
//!    the node (they match with `-m ipvs`, which the walk does not model), and kubelet's and
//!    other programs' rules.
//! 2. IPVS itself: `ip_vs_remote_request4` at `LOCAL_IN` (after `filter INPUT`) for a packet
//!    that arrived from outside the node, `ip_vs_local_request4` at `LOCAL_OUT` (after
//!    `nat OUTPUT`) for the node's own; ClusterIPs, externalIPs and LoadBalancer IPs are bound to
//!    `kube-ipvs0`, so they are local addresses and reach `LOCAL_IN`. One hash lookup of
//!    (protocol, address, port) in the virtual-server table (`ip_vs_service_find`) finds the
//!    virtual server, whatever the number of Services. Its scheduler picks a real server; the
//!    packet is sent to it in masquerading (NAT) mode, then `nat POSTROUTING`. A virtual server
//!    without usable real servers makes IPVS answer ICMP port unreachable (`ip_vs_leave`): a
//!    [`Verdict::Reject`](super::Verdict::Reject), as iptables mode's REJECT rule.
//!
//! The scheduler's choice depends on the connections before this one (`rr` takes the next real
//! server in turn), which a trace does not know; the seed stands for that history. With `rr`
//! every real server of non-zero weight is equally likely; with other schedulers each is
//! weighted by its weight. Session affinity (`persistent`) has no earlier entry to reuse.

use super::iptables::{Env, RuleSet};
use super::{Action, BranchInfo, Context, End, Hook, Pkt, Table, Walk};
use crate::proxy::iptables::Rule;
use crate::proxy::ipvs::{self as render_ipvs, IpSetEntry, IpSetType, IpvsOptions, IpvsState};
use crate::proxy::{Protocol, ProxyError, ProxySnapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The ipsets `-m set` rules look into.
#[derive(Debug, Default)]
pub(super) struct SetTable {
    sets: BTreeMap<String, (IpSetType, BTreeSet<IpSetEntry>)>,
}

impl SetTable {
    fn from_state(state: &IpvsState) -> SetTable {
        SetTable {
            sets: state
                .ipsets
                .iter()
                .map(|s| (s.name.to_string(), (s.set_type, s.members.clone())))
                .collect(),
        }
    }

    /// Whether the packet's fields picked by `flags` (`true` = `src`, per dimension) are a
    /// member of set `name`; `None` for an unknown set (the rule then never matches).
    pub(super) fn contains(&self, name: &str, flags: &[bool], pkt: &Pkt) -> Option<bool> {
        let (ty, members) = self.sets.get(name)?;
        let ip = |i: usize| {
            if flags.get(i).copied().unwrap_or(false) {
                pkt.src
            } else {
                pkt.dst
            }
        };
        let port = |i: usize| {
            if flags.get(i).copied().unwrap_or(false) {
                pkt.sport
            } else {
                pkt.dport
            }
        };
        let entry = |ip2: Option<Ipv4Addr>| IpSetEntry {
            ip: Some(ip(0)),
            protocol: Some(pkt.proto),
            port: Some(port(1)),
            ip2,
            net: None,
        };
        Some(match ty {
            IpSetType::HashIp => members.contains(&IpSetEntry {
                protocol: None,
                port: None,
                ..entry(None)
            }),
            IpSetType::HashIpPort => members.contains(&entry(None)),
            IpSetType::HashIpPortIp => members.contains(&entry(Some(ip(2)))),
            IpSetType::HashIpPortNet => {
                let lo = entry(None);
                members
                    .range(lo.clone()..)
                    .take_while(|m| m.ip == lo.ip && m.protocol == lo.protocol && m.port == lo.port)
                    .any(|m| m.net.is_some_and(|n| n.contains(ip(2))))
            }
            // A port bitmap holds port numbers only; the rule's `-p` picks the protocol.
            IpSetType::BitmapPort => members.contains(&IpSetEntry {
                ip: None,
                protocol: None,
                port: Some(port(0)),
                ip2: None,
                net: None,
            }),
        })
    }

    fn non_empty(&self, name: &str) -> bool {
        self.sets.get(name).is_some_and(|(_, m)| !m.is_empty())
    }

    fn comment(state: &IpvsState, name: &str) -> String {
        state.ipset(name).map_or("", |s| s.comment).to_string()
    }
}

/// One virtual server as the walk needs it: its `ipvsadm -Ln` lines and real servers.
#[derive(Debug)]
struct Vs {
    line: String,
    scheduler: String,
    /// Real server address, weight, `ipvsadm` line.
    reals: Vec<(SocketAddrV4, u32, String)>,
}

/// The IPVS mode's compiled state for one node.
#[derive(Debug)]
pub(super) struct Engine {
    rules: RuleSet,
    sets: SetTable,
    bound: BTreeSet<Ipv4Addr>,
    /// The virtual-server table, by (protocol, address, port).
    table: BTreeMap<(Protocol, Ipv4Addr, u16), Vs>,
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// The iptables rules kube-proxy's IPVS mode writes for `state` (spec §4), in `iptables-save`
/// form: the `filter` table then the `nat` table, each built-in chain's kube-proxy jumps first,
/// then kube-proxy's chains with their rules in write order.
pub fn iptables_save_text(state: &IpvsState, snapshot: &ProxySnapshot) -> String {
    let sets = SetTable::from_state(state);
    let cfg = &snapshot.config;
    let node = snapshot.node(&state.node).ok();
    let detector = node
        .as_ref()
        .map(|n| cfg.local_detector(n))
        .unwrap_or(crate::proxy::LocalDetector::None);
    let mark = format!("{:#010x}", cfg.masquerade_mark());
    let mut nat: Vec<Rule> = Vec::new();
    let mut filter: Vec<Rule> = Vec::new();
    let rule = |chain: &str, a: Vec<String>| Rule {
        chain: chain.to_string(),
        args: a,
    };
    let set_match = |name: &str, flags: &str| -> Vec<String> {
        let mut a = args(&["-m", "comment", "--comment"]);
        a.push(SetTable::comment(state, name));
        a.extend(args(&["-m", "set", "--match-set", name, flags]));
        a
    };
    let with = |mut a: Vec<String>, rest: &[&str]| {
        a.extend(args(rest));
        a
    };
    use render_ipvs::*;

    nat.push(rule(
        "KUBE-SERVICES",
        args(&["-s", "127.0.0.0/8", "-j", "RETURN"]),
    ));
    if sets.non_empty(KUBE_LOOP_BACK) {
        nat.push(rule(
            "KUBE-POSTROUTING",
            with(
                set_match(KUBE_LOOP_BACK, "dst,dst,src"),
                &["-j", "MASQUERADE"],
            ),
        ));
    }
    if sets.non_empty(KUBE_LOAD_BALANCER) {
        nat.push(rule(
            "KUBE-SERVICES",
            with(
                set_match(KUBE_LOAD_BALANCER, "dst,dst"),
                &["-j", "KUBE-LOAD-BALANCER"],
            ),
        ));
        if sets.non_empty(KUBE_LOAD_BALANCER_LOCAL) {
            nat.push(rule(
                "KUBE-LOAD-BALANCER",
                with(
                    set_match(KUBE_LOAD_BALANCER_LOCAL, "dst,dst"),
                    &["-j", "RETURN"],
                ),
            ));
        }
    }
    if sets.non_empty(KUBE_LOAD_BALANCER_FW) {
        filter.push(rule(
            "KUBE-PROXY-FIREWALL",
            with(
                set_match(KUBE_LOAD_BALANCER_FW, "dst,dst"),
                &["-j", "KUBE-SOURCE-RANGES-FIREWALL"],
            ),
        ));
        for s in [KUBE_LOAD_BALANCER_SOURCE_CIDR, KUBE_LOAD_BALANCER_SOURCE_IP] {
            if sets.non_empty(s) {
                filter.push(rule(
                    "KUBE-SOURCE-RANGES-FIREWALL",
                    with(set_match(s, "dst,dst,src"), &["-j", "RETURN"]),
                ));
            }
        }
    }
    for (proto, set, local) in [
        ("tcp", KUBE_NODE_PORT_TCP, KUBE_NODE_PORT_LOCAL_TCP),
        ("udp", KUBE_NODE_PORT_UDP, KUBE_NODE_PORT_LOCAL_UDP),
    ] {
        if sets.non_empty(set) {
            let p = |a: Vec<String>| {
                let mut v = args(&["-p", proto]);
                v.extend(a);
                v
            };
            if sets.non_empty(local) {
                nat.push(rule(
                    "KUBE-NODE-PORT",
                    p(with(set_match(local, "dst"), &["-j", "RETURN"])),
                ));
            }
            nat.push(rule(
                "KUBE-NODE-PORT",
                p(with(set_match(set, "dst"), &["-j", "KUBE-MARK-MASQ"])),
            ));
        }
    }
    if sets.non_empty(KUBE_NODE_PORT_SCTP_HASH) {
        if sets.non_empty(KUBE_NODE_PORT_LOCAL_SCTP_HASH) {
            nat.push(rule(
                "KUBE-NODE-PORT",
                with(
                    set_match(KUBE_NODE_PORT_LOCAL_SCTP_HASH, "dst,dst"),
                    &["-j", "RETURN"],
                ),
            ));
        }
        nat.push(rule(
            "KUBE-NODE-PORT",
            with(
                set_match(KUBE_NODE_PORT_SCTP_HASH, "dst,dst"),
                &["-j", "KUBE-MARK-MASQ"],
            ),
        ));
    }
    if sets.non_empty(KUBE_CLUSTER_IP) {
        let a = if cfg.masquerade_all {
            with(set_match(KUBE_CLUSTER_IP, "dst,dst"), &[])
        } else if detector.is_implemented() {
            let mut a = set_match(KUBE_CLUSTER_IP, "dst,dst");
            a.extend(detector.if_not_local());
            a
        } else {
            set_match(KUBE_CLUSTER_IP, "src,dst")
        };
        nat.push(rule("KUBE-SERVICES", with(a, &["-j", "KUBE-MARK-MASQ"])));
    }
    if sets.non_empty(KUBE_EXTERNAL_IP) {
        nat.push(rule(
            "KUBE-SERVICES",
            with(
                set_match(KUBE_EXTERNAL_IP, "dst,dst"),
                &["-j", "KUBE-MARK-MASQ"],
            ),
        ));
    }
    for s in [KUBE_EXTERNAL_IP, KUBE_EXTERNAL_IP_LOCAL] {
        if sets.non_empty(s) {
            nat.push(rule(
                "KUBE-SERVICES",
                with(
                    set_match(s, "dst,dst"),
                    &[
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
                    ],
                ),
            ));
            nat.push(rule(
                "KUBE-SERVICES",
                with(
                    set_match(s, "dst,dst"),
                    &["-m", "addrtype", "--dst-type", "LOCAL", "-j", "ACCEPT"],
                ),
            ));
        }
    }
    nat.push(rule(
        "KUBE-SERVICES",
        args(&[
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            "KUBE-NODE-PORT",
        ]),
    ));
    nat.push(rule("KUBE-LOAD-BALANCER", args(&["-j", "KUBE-MARK-MASQ"])));
    filter.push(rule("KUBE-SOURCE-RANGES-FIREWALL", args(&["-j", "DROP"])));
    for s in [KUBE_CLUSTER_IP, KUBE_LOAD_BALANCER] {
        if sets.non_empty(s) {
            nat.push(rule(
                "KUBE-SERVICES",
                args(&["-m", "set", "--match-set", s, "dst,dst", "-j", "ACCEPT"]),
            ));
        }
    }
    if sets.non_empty(KUBE_HEALTH_CHECK_NODE_PORT) {
        filter.push(rule(
            "KUBE-NODE-PORT",
            args(&[
                "-m",
                "comment",
                "--comment",
                "Kubernetes health check node port",
                "-m",
                "set",
                "--match-set",
                KUBE_HEALTH_CHECK_NODE_PORT,
                "dst",
                "-j",
                "ACCEPT",
            ]),
        ));
    }
    for (s, flags) in [
        (KUBE_LOAD_BALANCER, "dst,dst"),
        (KUBE_CLUSTER_IP, "dst,dst"),
        (KUBE_EXTERNAL_IP, "dst,dst"),
        (KUBE_EXTERNAL_IP_LOCAL, "dst,dst"),
        (KUBE_HEALTH_CHECK_NODE_PORT, "dst"),
    ] {
        if sets.non_empty(s) {
            filter.push(rule(
                "KUBE-IPVS-FILTER",
                args(&["-m", "set", "--match-set", s, flags, "-j", "RETURN"]),
            ));
        }
    }
    filter.push(rule(
        "KUBE-IPVS-FILTER",
        args(&[
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-m",
            "set",
            "--match-set",
            KUBE_IPVS_IPS,
            "dst",
            "-j",
            "REJECT",
        ]),
    ));
    // KUBE-FORWARD (no INVALID drop in IPVS mode), KUBE-POSTROUTING and KUBE-MARK-MASQ.
    filter.push(rule(
        "KUBE-FORWARD",
        args(&[
            "-m",
            "comment",
            "--comment",
            "kubernetes forwarding rules",
            "-m",
            "mark",
            "--mark",
            &format!("{mark}/{mark}"),
            "-j",
            "ACCEPT",
        ]),
    ));
    filter.push(rule(
        "KUBE-FORWARD",
        args(&[
            "-m",
            "comment",
            "--comment",
            "kubernetes forwarding conntrack rule",
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
            "-j",
            "ACCEPT",
        ]),
    ));
    nat.push(rule(
        "KUBE-POSTROUTING",
        args(&[
            "-m",
            "mark",
            "!",
            "--mark",
            &format!("{mark}/{mark}"),
            "-j",
            "RETURN",
        ]),
    ));
    nat.push(rule(
        "KUBE-POSTROUTING",
        args(&["-j", "MARK", "--xor-mark", &mark]),
    ));
    nat.push(rule(
        "KUBE-POSTROUTING",
        args(&[
            "-m",
            "comment",
            "--comment",
            "kubernetes service traffic requiring SNAT",
            "-j",
            "MASQUERADE",
            "--random-fully",
        ]),
    ));
    nat.push(rule(
        "KUBE-MARK-MASQ",
        args(&["-j", "MARK", "--or-mark", &mark]),
    ));

    // `iptablesJumpChain`, each prepended: the resulting order is the reverse of the list's.
    let jumps: &[(&str, &str, &str, &str)] = &[
        (
            "filter",
            "INPUT",
            "KUBE-IPVS-FILTER",
            "kubernetes ipvs access filter",
        ),
        (
            "filter",
            "INPUT",
            "KUBE-PROXY-FIREWALL",
            "kube-proxy firewall rules",
        ),
        (
            "filter",
            "INPUT",
            "KUBE-NODE-PORT",
            "kubernetes health check rules",
        ),
        (
            "filter",
            "FORWARD",
            "KUBE-PROXY-FIREWALL",
            "kube-proxy firewall rules",
        ),
        (
            "filter",
            "FORWARD",
            "KUBE-FORWARD",
            "kubernetes forwarding rules",
        ),
        (
            "filter",
            "OUTPUT",
            "KUBE-IPVS-OUT-FILTER",
            "kubernetes ipvs access filter",
        ),
        (
            "nat",
            "PREROUTING",
            "KUBE-SERVICES",
            "kubernetes service portals",
        ),
        (
            "nat",
            "OUTPUT",
            "KUBE-SERVICES",
            "kubernetes service portals",
        ),
        (
            "nat",
            "POSTROUTING",
            "KUBE-POSTROUTING",
            "kubernetes postrouting rules",
        ),
    ];
    let mut out = String::new();
    for (table, rules) in [("filter", &filter), ("nat", &nat)] {
        out.push_str(&format!("*{table}\n"));
        for (_, from, to, comment) in jumps.iter().filter(|j| j.0 == table) {
            let r = rule(
                from,
                args(&["-m", "comment", "--comment", comment, "-j", to]),
            );
            out.push_str(&r.save_line());
            out.push('\n');
        }
        // iptables-save groups rules by chain, each chain's in insertion order.
        let mut by_chain: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
        for r in rules.iter() {
            by_chain.entry(r.chain.as_str()).or_default().push(r);
        }
        for r in by_chain.values().flatten() {
            out.push_str(&r.save_line());
            out.push('\n');
        }
        out.push_str("COMMIT\n");
    }
    out
}

impl Engine {
    pub(super) fn render(
        snapshot: &ProxySnapshot,
        node: &str,
        options: &IpvsOptions,
    ) -> Result<Engine, ProxyError> {
        let state = render_ipvs::render(snapshot, node, options)?;
        let rules = RuleSet::parse_save(&iptables_save_text(&state, snapshot));
        // The displayed lines are those of the rendered `ipvsadm -Ln`: its header (3 lines),
        // then each virtual server's line followed by its real servers', in table order.
        let text = state.ipvsadm_text();
        let mut lines = text.lines().skip(3);
        let mut table = BTreeMap::new();
        for vs in &state.virtual_servers {
            let line = lines.next().unwrap_or_default().to_string();
            let reals = vs
                .real_servers
                .iter()
                .map(|r| {
                    (
                        SocketAddrV4::new(r.address, r.port),
                        r.weight,
                        lines.next().unwrap_or_default().trim_end().to_string(),
                    )
                })
                .collect();
            table
                .entry((vs.protocol, vs.address, vs.port))
                .or_insert(Vs {
                    line,
                    scheduler: vs.scheduler.clone(),
                    reals,
                });
        }
        Ok(Engine {
            rules,
            sets: SetTable::from_state(&state),
            bound: state.bound_addresses.clone(),
            table,
        })
    }

    fn env<'a>(&'a self, ctx: &'a Context) -> Env<'a> {
        Env {
            ctx,
            extra_local: Some(&self.bound),
            sets: Some(&self.sets),
        }
    }

    pub(super) fn walk(&self, ctx: &Context, w: &mut Walk<'_>) -> End {
        let env = self.env(ctx);
        match ctx.hook {
            Hook::Prerouting => {
                let e = self.rules.run(Table::Nat, "PREROUTING", &env, w);
                if e != End::Accept {
                    return e;
                }
                if env.is_local(w.pkt.dst) {
                    let e = self.rules.run(Table::Filter, "INPUT", &env, w);
                    if e != End::Accept {
                        return e;
                    }
                    return match self.ipvs(w) {
                        // Not a virtual server: delivered to the node itself.
                        None => End::Accept,
                        Some(End::Accept) => self.rules.run(Table::Nat, "POSTROUTING", &env, w),
                        Some(e) => e,
                    };
                }
                let e = self.rules.run(Table::Filter, "FORWARD", &env, w);
                if e != End::Accept {
                    return e;
                }
                self.rules.run(Table::Nat, "POSTROUTING", &env, w)
            }
            Hook::Output => {
                let e = self.rules.run(Table::Nat, "OUTPUT", &env, w);
                if e != End::Accept {
                    return e;
                }
                if let Some(e) = self.ipvs(w)
                    && e != End::Accept
                {
                    return e;
                }
                for (t, c) in [(Table::Filter, "OUTPUT"), (Table::Nat, "POSTROUTING")] {
                    let e = self.rules.run(t, c, &env, w);
                    if e != End::Accept {
                        return e;
                    }
                }
                // To one of its own addresses (a bound Service address on a port that is no
                // virtual server), the packet comes back in through loopback.
                if env.is_local(w.pkt.dst) {
                    return self.rules.run(Table::Filter, "INPUT", &env, w);
                }
                End::Accept
            }
        }
    }

    /// The virtual-server lookup and scheduling: `None` if the packet is for no virtual server.
    fn ipvs(&self, w: &mut Walk<'_>) -> Option<End> {
        w.traversed += 1;
        w.lookups += 1;
        let vs = self.table.get(&(w.pkt.proto, w.pkt.dst, w.pkt.dport))?;
        w.step(Table::Ipvs, "ip_vs", &vs.line, Action::VirtualServer);
        let weights: Vec<f64> = vs
            .reals
            .iter()
            .map(|(_, weight, _)| match (vs.scheduler.as_str(), *weight) {
                (_, 0) => 0.0,
                ("rr", _) => 1.0,
                (_, w) => f64::from(w),
            })
            .collect();
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            w.step(Table::Ipvs, "ip_vs", &vs.line, Action::Reject);
            return Some(End::Reject);
        }
        let i = w.chooser.pick(&weights);
        let (to, _, line) = &vs.reals[i];
        w.pkt.dst = *to.ip();
        w.pkt.dport = to.port();
        w.pkt.dnat = true;
        w.step_with(
            Table::Ipvs,
            "ip_vs",
            line,
            Action::Dnat(*to),
            Some(BranchInfo {
                probability: weights[i] / total,
                taken: true,
            }),
        );
        Some(End::Accept)
    }
}
