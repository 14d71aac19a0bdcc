//! The trace view's model: one packet's journey as a list of stages to step through.
//!
//! From a pod, a destination may be a name: the stages are then the pod's C library walking its
//! search list (one stage per DNS query, as `lab_core::dns::tools::walk_text` prints it), the
//! first query's own packet through kube-proxy to a CoreDNS pod, and the connection to the
//! address found. Every stage of a packet is one rule that matched on the node (its table,
//! chain, what it did, and the rule as the node's tool prints it), ending with where the packet
//! went. From a node or from outside the cluster only addresses are traced: a kind node's
//! resolver does not know cluster names, and neither does a client outside.
//!
//! Nothing is recomputed here: lab-core's `trace` walks the rules kube-proxy rendered for the
//! cluster's mode (`trace::name_then_packet_in` for names, `Tracer` for addresses).

use crate::playground::NAMESPACE;
use lab_core::Cluster;
use lab_core::dns::tools::walk_text;
use lab_core::proxy::Protocol;
use lab_core::trace::{
    Choice, Packet, Source, Trace, TraceOutcome, Tracer, Verdict, name_then_packet_in,
};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Where the traced packet starts, as the source picker names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum From {
    /// A pod of the playground's namespace.
    Pod(String),
    /// A node's own traffic.
    Node(String),
    /// A client outside the cluster, arriving at this node.
    External(String),
}

impl From {
    /// The picker's value: `pod/NAME`, `node/NAME`, `external/NODE`.
    pub fn key(&self) -> String {
        match self {
            From::Pod(n) => format!("pod/{n}"),
            From::Node(n) => format!("node/{n}"),
            From::External(n) => format!("external/{n}"),
        }
    }

    /// Reads a picker value back.
    pub fn parse(key: &str) -> Option<From> {
        let (kind, name) = key.split_once('/')?;
        let name = name.to_string();
        match kind {
            "pod" => Some(From::Pod(name)),
            "node" => Some(From::Node(name)),
            "external" => Some(From::External(name)),
            _ => None,
        }
    }

    /// Every source the cluster offers: its pods, its nodes, and outside via each node.
    pub fn all(cluster: &Cluster) -> Vec<From> {
        let pods = cluster
            .list(lab_core::Kind::Pod, Some(NAMESPACE))
            .map(|p| From::Pod(p.name().to_string()));
        let nodes: Vec<String> = cluster
            .list(lab_core::Kind::Node, None)
            .map(|n| n.name().to_string())
            .collect();
        let outside: Vec<From> = nodes.iter().cloned().map(From::External).collect();
        pods.chain(nodes.into_iter().map(From::Node))
            .chain(outside)
            .collect()
    }
}

/// What kind of stage it is (the view styles and the map animates them differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageKind {
    /// A DNS query of the resolver's walk, and its answer.
    Lookup,
    /// The DNS query's packet, sent through kube-proxy to a CoreDNS pod.
    DnsPacket,
    /// A rule that matched (or a chain's policy, or an IPVS decision).
    Rule,
    /// Where the packet ended.
    Verdict,
}

/// One step of the journey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// What kind of step.
    pub kind: StageKind,
    /// The headline: `nat KUBE-SERVICES: jump KUBE-SVC-…`, a DNS query line, the verdict.
    pub text: String,
    /// The rule as the node's tool prints it, when there is one.
    pub rule: Option<String>,
}

/// Where the connection ended up, for the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reached {
    /// The endpoint's address.
    pub ip: Ipv4Addr,
    /// Its port.
    pub port: u16,
    /// The pod, when the address is a pod's.
    pub pod: Option<String>,
}

/// A whole trace, ready to step through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceView {
    /// Every stage, in order.
    pub stages: Vec<Stage>,
    /// Where the connection went, when it reached an endpoint.
    pub reached: Option<Reached>,
    /// `kube-proxy mode iptables on kind-worker: 12 rules traversed, 0 hash lookups`.
    pub summary: String,
    /// The node whose rules the connection walked, and in which mode.
    pub walked: Option<(String, lab_core::config::ProxyMode)>,
}

impl TraceView {
    /// The rules the connection matched, as the node's tool prints them (trimmed): what the
    /// rules view marks when it shows that node in that mode.
    pub fn hits(&self) -> Vec<String> {
        self.stages
            .iter()
            .filter(|s| s.kind == StageKind::Rule)
            .filter_map(|s| s.rule.as_deref())
            .map(|r| r.trim().to_string())
            .collect()
    }
}

/// Why a trace could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceProblem {
    /// Not `NAME:PORT` or `IP:PORT`.
    BadDestination(String),
    /// A name asked from a node or from outside.
    NameFromOutside,
    /// lab-core refused the trace (unknown pod, pod without an IP yet, …).
    Trace(String),
}

/// `NAME:PORT` or `IP:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// An address.
    Addr(SocketAddrV4),
    /// A name to look up first.
    Name(String, u16),
}

/// Reads the destination field.
pub fn parse_destination(text: &str) -> Result<Destination, TraceProblem> {
    let bad = || TraceProblem::BadDestination(text.to_string());
    let (host, port) = text.trim().rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(match host.parse::<Ipv4Addr>() {
        Ok(ip) => Destination::Addr(SocketAddrV4::new(ip, port)),
        Err(_) => Destination::Name(host.to_string(), port),
    })
}

fn rule_stages(t: &Trace, out: &mut Vec<Stage>) {
    for step in &t.steps {
        let branch = step.branch.map(|b| b.describe()).unwrap_or_default();
        out.push(Stage {
            kind: StageKind::Rule,
            text: format!(
                "{} {}: {}{branch}",
                step.table.name(),
                step.chain,
                step.action.describe()
            ),
            rule: Some(step.rule.clone()),
        });
    }
    out.push(Stage {
        kind: StageKind::Verdict,
        text: format!(
            "=> {}{}",
            t.verdict.describe(),
            if t.masqueraded { ", masqueraded" } else { "" }
        ),
        rule: None,
    });
}

fn single(o: TraceOutcome) -> Option<Trace> {
    match o {
        TraceOutcome::Single(t) => Some(t),
        TraceOutcome::Branches(b) => b.into_iter().next().map(|b| b.trace),
    }
}

fn reached(t: &Trace) -> Option<Reached> {
    match &t.verdict {
        Verdict::Dnat { ip, port, pod, .. } => Some(Reached {
            ip: *ip,
            port: *port,
            pod: pod.as_ref().map(|(_, n)| n.clone()),
        }),
        _ => None,
    }
}

fn summary(t: &Trace) -> String {
    format!(
        "kube-proxy mode {} on {}: {} rules traversed, {} hash lookups",
        t.mode.as_str(),
        t.node,
        t.rules_traversed,
        t.lookups
    )
}

/// Traces a TCP connection from `from` to `destination`; `seed` makes kube-proxy's random
/// endpoint choice (a new seed per run, so repeated traces spread like real connections).
pub fn trace(
    cluster: &Cluster,
    from: &From,
    destination: &str,
    seed: u64,
) -> Result<TraceView, TraceProblem> {
    let dest = parse_destination(destination)?;
    let to_problem = |e: lab_core::trace::TraceError| TraceProblem::Trace(e.to_string());
    let choice = Choice::Seed(seed);
    let mut stages = Vec::new();
    let connection = match (&dest, from) {
        (Destination::Name(host, port), From::Pod(pod)) => {
            let r =
                name_then_packet_in(cluster, NAMESPACE, pod, host, *port, Protocol::Tcp, choice)
                    .map_err(to_problem)?;
            stages.extend(walk_text(&r.walk).lines().map(|l| Stage {
                kind: StageKind::Lookup,
                text: l.to_string(),
                rule: None,
            }));
            if let Some(t) = r.dns_packet.and_then(single) {
                stages.push(Stage {
                    kind: StageKind::DnsPacket,
                    text: format!(
                        "DNS query packet: {} ({} rules)",
                        t.verdict.describe(),
                        t.rules_traversed
                    ),
                    rule: None,
                });
            }
            let connection = r.connection.and_then(single);
            if connection.is_none() {
                stages.push(Stage {
                    kind: StageKind::Verdict,
                    text: format!("=> no connection: {host:?} did not resolve"),
                    rule: None,
                });
            }
            connection
        }
        (Destination::Name(..), _) => return Err(TraceProblem::NameFromOutside),
        (Destination::Addr(addr), _) => {
            let source = match from {
                From::Pod(name) => Source::Pod {
                    namespace: NAMESPACE.to_string(),
                    name: name.clone(),
                },
                From::Node(n) => Source::Node(n.clone()),
                From::External(n) => Source::External {
                    via_node: n.clone(),
                },
            };
            let packet = Packet {
                source,
                destination: *addr,
                protocol: Protocol::Tcp,
            };
            single(
                Tracer::from_cluster(cluster)
                    .trace(&packet, choice)
                    .map_err(to_problem)?,
            )
        }
    };
    let (reached, summary, walked) = match &connection {
        Some(t) => {
            rule_stages(t, &mut stages);
            (reached(t), summary(t), Some((t.node.clone(), t.mode)))
        }
        None => (None, String::new(), None),
    };
    Ok(TraceView {
        stages,
        reached,
        summary,
        walked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playground::{Action, Playground};
    use lab_core::config::ProxyMode;

    fn chapter() -> Playground {
        let mut p = Playground::default();
        p.reduce(Action::ApplyChapter);
        p
    }

    #[test]
    fn a_name_from_a_pod_is_looked_up_then_reaches_a_backend() {
        let p = chapter();
        let pod = crate::playground::first_httpd_pod(&p);
        let v = trace(&p.cluster, &From::Pod(pod), "httpd-svc:8080", 1).unwrap();
        let kinds: Vec<StageKind> = v.stages.iter().map(|s| s.kind).collect();
        assert_eq!(kinds[0], StageKind::Lookup);
        assert!(
            v.stages[0]
                .text
                .contains("httpd-svc.default.svc.cluster.local."),
            "{:?}",
            v.stages[0]
        );
        assert!(kinds.contains(&StageKind::DnsPacket));
        let dns = v
            .stages
            .iter()
            .find(|s| s.kind == StageKind::DnsPacket)
            .unwrap();
        assert!(
            dns.text.contains(":53 = pod kube-system/coredns-"),
            "{dns:?}"
        );
        assert_eq!(*kinds.last().unwrap(), StageKind::Verdict);
        let reached = v.reached.clone().unwrap();
        assert_eq!(reached.port, 80);
        assert!(reached.pod.unwrap().starts_with("httpd-"));
        assert!(
            v.stages
                .last()
                .unwrap()
                .text
                .starts_with("=> reaches 10.244.")
        );
        assert!(
            v.stages
                .iter()
                .any(|s| s.rule.as_deref().is_some_and(|r| r.contains("-j DNAT")))
        );
        assert!(
            v.summary
                .starts_with("kube-proxy mode iptables on kind-worker"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn outside_traffic_to_a_node_port_in_ipvs_mode() {
        let mut p = Playground::default();
        p.reduce(Action::ApplyYaml(format!(
            "{}\n---\n{}",
            crate::playground::CHAPTER_DEPLOYMENT,
            include_str!("../../lab-core/tests/data/httpd-service-nodeport.yaml")
        )));
        p.reduce(Action::SetProxyMode(ProxyMode::Ipvs));
        let v = trace(
            &p.cluster,
            &From::External("kind-worker".into()),
            "172.18.0.3:30144",
            2,
        )
        .unwrap();
        assert!(
            v.stages.iter().any(|s| s.text.starts_with("ipvs ")),
            "{:#?}",
            v.stages
        );
        assert!(v.reached.is_some());
        assert!(v.stages.last().unwrap().text.ends_with(", masqueraded"));
        assert!(v.summary.starts_with("kube-proxy mode ipvs"));
        // The virtual server and the real server it picked are lines of `ipvsadm -Ln`.
        let text = crate::rules::node_rules(&p.cluster, "kind-worker", ProxyMode::Ipvs).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let hits = v.hits();
        let on_screen: Vec<&String> = hits
            .iter()
            .filter(|h| lines.contains(&h.as_str()))
            .collect();
        assert!(
            on_screen
                .iter()
                .any(|h| h.starts_with("TCP  172.18.0.3:30144")),
            "{hits:#?}"
        );
        assert!(
            on_screen.iter().any(|h| h.starts_with("-> 10.244.")),
            "{hits:#?}"
        );
    }

    #[test]
    fn bad_requests_are_problems() {
        let p = chapter();
        assert_eq!(
            trace(
                &p.cluster,
                &From::Node("kind-worker".into()),
                "httpd-svc:8080",
                1
            ),
            Err(TraceProblem::NameFromOutside)
        );
        assert!(matches!(
            trace(&p.cluster, &From::Pod("nope".into()), "httpd-svc:8080", 1),
            Err(TraceProblem::Trace(_))
        ));
        for bad in ["httpd-svc", ":80", "x:0", "x:99999", "x:port"] {
            assert_eq!(
                parse_destination(bad),
                Err(TraceProblem::BadDestination(bad.into()))
            );
        }
        let v = trace(
            &p.cluster,
            &From::Pod(crate::playground::first_httpd_pod(&p)),
            "nope:80",
            1,
        )
        .unwrap();
        assert!(v.reached.is_none());
        assert!(
            v.stages.last().unwrap().text.contains("NXDOMAIN")
                || v.stages.last().unwrap().text.starts_with("=>")
        );
    }

    #[test]
    fn sources_round_trip() {
        let p = chapter();
        let all = From::all(&p.cluster);
        assert!(all.iter().any(|f| matches!(f, From::Pod(_))));
        assert!(all.contains(&From::External("kind-worker".into())));
        for f in all {
            assert_eq!(From::parse(&f.key()), Some(f));
        }
    }
}
