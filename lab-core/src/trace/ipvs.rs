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
//!    masquerades marked and hairpin (`KUBE-LOOP-BACK`) traffic). The walk parses the save form
//!    [`proxy::ipvs::iptables`](crate::proxy::ipvs::iptables) renders ([`iptables_save_text`])
//!    as it does in iptables mode. The number of these rules does not grow with Services.
//!    Not modelled: the `KUBE-IPVS-OUT-FILTER` drops for LoadBalancers whose source ranges
//!    exclude the node (they match with `-m ipvs`, the connection's virtual server, which the
//!    walk does not know before IPVS runs).
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
use crate::proxy::iptables::IptablesOptions;
use crate::proxy::ipvs::{
    self as render_ipvs, IpSetEntry, IpSetType, IpvsIptablesRules, IpvsOptions, IpvsState,
};
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

/// The iptables rules kube-proxy's IPVS mode writes for `state` (spec §4), in `iptables-save`
/// form, as [`proxy::ipvs::iptables`](crate::proxy::ipvs::iptables) renders them with kind's
/// host facts. Empty if `state` is not of a node of `snapshot`.
pub fn iptables_save_text(state: &IpvsState, snapshot: &ProxySnapshot) -> String {
    IpvsIptablesRules::from_state(state, snapshot, &IptablesOptions::kind())
        .map(|r| r.save_text())
        .unwrap_or_default()
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
