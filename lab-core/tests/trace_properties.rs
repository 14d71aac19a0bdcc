//! Property tests of packet traces, in every kube-proxy mode: for random clusters (ClusterIP and
//! NodePort Services with one to three ports, numeric or named target ports, ready, not-ready and
//! terminating endpoints spread over kind's three nodes), a packet to a Service always ends at one
//! of the endpoints kube-proxy may use, on the right target port, or is rejected when there is
//! none; branch probabilities sum to one; chain names follow kube-proxy's hashes; and the same
//! state renders the same text.

use k8s_openapi::api::core::v1::{ObjectReference, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use lab_core::Cluster;
use lab_core::proxy::nftables::NftablesOptions;
use lab_core::proxy::{Protocol, ProxySnapshot, iptables, ipvs, nftables};
use lab_core::trace::{
    Action, Choice, Packet, PodAddr, ProxyMode, Source, Trace, TraceOutcome, Tracer, Verdict,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

const NODES: [(&str, [u8; 4], u8); 3] = [
    ("kind-control-plane", [172, 18, 0, 2], 0),
    ("kind-worker", [172, 18, 0, 3], 1),
    ("kind-worker2", [172, 18, 0, 4], 2),
];
const MODES: [ProxyMode; 3] = [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables];

/// An endpoint's state, as the EndpointSlice controller reports a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    Ready,
    NotReady,
    /// Terminating but still serving (used only when no endpoint is ready).
    TerminatingServing,
    TerminatingGone,
}

#[derive(Clone, Debug)]
struct EpSpec {
    node: usize,
    cond: Cond,
    /// Which of two container-port layouts the pod has (named target ports resolve per pod).
    variant: u16,
}

#[derive(Clone, Debug)]
struct PortSpec {
    offset: u16,
    udp: bool,
    named_target: bool,
    target: u16,
}

#[derive(Clone, Debug)]
struct SvcSpec {
    node_port: bool,
    named_single_port: bool,
    ports: Vec<PortSpec>,
    eps: Vec<EpSpec>,
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        4 => Just(Cond::Ready),
        2 => Just(Cond::NotReady),
        1 => Just(Cond::TerminatingServing),
        1 => Just(Cond::TerminatingGone),
    ]
}

fn svc_spec() -> impl Strategy<Value = SvcSpec> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(
            (0u16..50, any::<bool>(), any::<bool>(), 1u16..9000).prop_map(
                |(offset, udp, named_target, target)| PortSpec {
                    offset,
                    udp,
                    named_target,
                    target,
                },
            ),
            1..=3,
        ),
        prop::collection::vec(
            (0usize..3, cond(), 0u16..2).prop_map(|(node, cond, variant)| EpSpec {
                node,
                cond,
                variant,
            }),
            0..=5,
        ),
    )
        .prop_map(|(node_port, named_single_port, ports, eps)| SvcSpec {
            node_port,
            named_single_port,
            ports,
            eps,
        })
}

/// One generated Service port and what a trace to it may reach.
#[derive(Debug)]
struct Expect {
    namespaced: String,
    port_name: String,
    protocol: Protocol,
    cluster_ip: Ipv4Addr,
    port: u16,
    node_port: Option<u16>,
    /// Endpoints kube-proxy may use: the ready ones, else the serving terminating ones.
    usable: BTreeSet<SocketAddrV4>,
}

struct World {
    snapshot: ProxySnapshot,
    client: PodAddr,
    expects: Vec<Expect>,
}

fn port_name(spec: &SvcSpec, k: usize) -> String {
    if spec.ports.len() > 1 {
        format!("p{k}")
    } else if spec.named_single_port {
        "web".to_string()
    } else {
        String::new()
    }
}

/// The pod's container port a named target resolves to (depends on the pod's layout).
fn resolved(p: &PortSpec, k: usize, variant: u16) -> u16 {
    if p.named_target {
        8000 + 10 * k as u16 + variant
    } else {
        p.target
    }
}

fn build(specs: &[SvcSpec], client_node: usize) -> World {
    let mut snapshot = ProxySnapshot::from_cluster(&Cluster::kind());
    let mut expects = Vec::new();
    let mut next_host = [10u8; 3];
    for (i, spec) in specs.iter().enumerate() {
        let name = format!("svc-{i}");
        let cluster_ip = Ipv4Addr::new(10, 96, 100 + i as u8, 7);
        let node_port = spec.node_port.then(|| 30100 + i as u16);
        let ports: Vec<(u16, Protocol)> = spec
            .ports
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let proto = if p.udp { Protocol::Udp } else { Protocol::Tcp };
                (80 + 100 * k as u16 + p.offset, proto)
            })
            .collect();
        let proto_name = |p: Protocol| if p == Protocol::Udp { "UDP" } else { "TCP" };
        snapshot.services.push(Service {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                type_: Some(
                    if spec.node_port {
                        "NodePort"
                    } else {
                        "ClusterIP"
                    }
                    .into(),
                ),
                cluster_ip: Some(cluster_ip.to_string()),
                cluster_ips: Some(vec![cluster_ip.to_string()]),
                ports: Some(
                    spec.ports
                        .iter()
                        .enumerate()
                        .map(|(k, p)| ServicePort {
                            name: Some(port_name(spec, k)).filter(|n| !n.is_empty()),
                            port: i32::from(ports[k].0),
                            protocol: Some(proto_name(ports[k].1).into()),
                            target_port: Some(if p.named_target {
                                IntOrString::String(format!("tgt{k}"))
                            } else {
                                IntOrString::Int(i32::from(p.target))
                            }),
                            node_port: node_port.map(|n| i32::from(n) + 1000 * k as i32),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            status: None,
        });
        // One pod per endpoint, an address in its node's pod range.
        let pods: Vec<(Ipv4Addr, &EpSpec, String)> = spec
            .eps
            .iter()
            .enumerate()
            .map(|(j, e)| {
                let host = next_host[e.node];
                next_host[e.node] += 1;
                (
                    Ipv4Addr::new(10, 244, NODES[e.node].2, host),
                    e,
                    format!("{name}-pod-{j}"),
                )
            })
            .collect();
        // The EndpointSlice controller groups endpoints with the same resolved ports.
        let layouts: BTreeSet<u16> = pods
            .iter()
            .map(|(_, e, _)| {
                if spec.ports.iter().any(|p| p.named_target) {
                    e.variant
                } else {
                    0
                }
            })
            .collect();
        for v in layouts {
            let in_layout: Vec<&(Ipv4Addr, &EpSpec, String)> = pods
                .iter()
                .filter(|(_, e, _)| !spec.ports.iter().any(|p| p.named_target) || e.variant == v)
                .collect();
            snapshot.endpoint_slices.push(EndpointSlice {
                metadata: ObjectMeta {
                    name: Some(format!("{name}-{v}")),
                    namespace: Some("default".into()),
                    labels: Some(BTreeMap::from([(
                        "kubernetes.io/service-name".to_string(),
                        name.clone(),
                    )])),
                    ..Default::default()
                },
                address_type: "IPv4".into(),
                endpoints: in_layout
                    .iter()
                    .map(|(ip, e, pod)| Endpoint {
                        addresses: vec![ip.to_string()],
                        conditions: Some(EndpointConditions {
                            ready: Some(e.cond == Cond::Ready),
                            serving: Some(matches!(e.cond, Cond::Ready | Cond::TerminatingServing)),
                            terminating: Some(matches!(
                                e.cond,
                                Cond::TerminatingServing | Cond::TerminatingGone
                            )),
                        }),
                        node_name: Some(NODES[e.node].0.into()),
                        target_ref: Some(ObjectReference {
                            kind: Some("Pod".into()),
                            namespace: Some("default".into()),
                            name: Some(pod.clone()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ports: Some(
                    spec.ports
                        .iter()
                        .enumerate()
                        .map(|(k, p)| EndpointPort {
                            name: Some(port_name(spec, k)),
                            port: Some(i32::from(resolved(p, k, v))),
                            protocol: Some(proto_name(ports[k].1).into()),
                            app_protocol: None,
                        })
                        .collect(),
                ),
            });
        }
        for (k, p) in spec.ports.iter().enumerate() {
            let of = |c: &[Cond]| -> BTreeSet<SocketAddrV4> {
                pods.iter()
                    .filter(|(_, e, _)| c.contains(&e.cond))
                    .map(|(ip, e, _)| SocketAddrV4::new(*ip, resolved(p, k, e.variant)))
                    .collect()
            };
            let mut usable = of(&[Cond::Ready]);
            if usable.is_empty() {
                usable = of(&[Cond::TerminatingServing]);
            }
            expects.push(Expect {
                namespaced: format!("default/{name}"),
                port_name: port_name(spec, k),
                protocol: ports[k].1,
                cluster_ip,
                port: ports[k].0,
                node_port: node_port.map(|n| n + 1000 * k as u16),
                usable,
            });
        }
    }
    let client = PodAddr {
        namespace: "default".into(),
        name: "client".into(),
        ip: Some(Ipv4Addr::new(10, 244, NODES[client_node].2, 250)),
        node: Some(NODES[client_node].0.into()),
    };
    World {
        snapshot,
        client,
        expects,
    }
}

/// An independent RFC 4648 base32 of SHA-256, the first `n` characters.
fn b32_sha256(s: &str, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let d = Sha256::digest(s.as_bytes());
    let bits: Vec<u8> = d
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    bits.chunks(5)
        .take(n)
        .map(|c| {
            let v = c.iter().fold(0usize, |a, b| (a << 1) | usize::from(*b));
            char::from(A[v << (5 - c.len())])
        })
        .collect()
}

fn spn(e: &Expect) -> String {
    if e.port_name.is_empty() {
        e.namespaced.clone()
    } else {
        format!("{}:{}", e.namespaced, e.port_name)
    }
}

fn all_branches(t: &Tracer, p: &Packet) -> Vec<(f64, Trace)> {
    match t.trace(p, Choice::AllBranches).unwrap() {
        TraceOutcome::Branches(bs) => bs.into_iter().map(|b| (b.probability, b.trace)).collect(),
        TraceOutcome::Single(_) => panic!("branches expected"),
    }
}

fn dnat_target(t: &Trace) -> Option<SocketAddrV4> {
    match t.verdict {
        Verdict::Dnat { ip, port, .. } => Some(SocketAddrV4::new(ip, port)),
        _ => None,
    }
}

/// Every way `p` can go ends at a usable endpoint (all of them reachable), probabilities summing
/// to one; with no usable endpoint, every way is rejected.
fn check_packet(
    tracer: &Tracer,
    p: &Packet,
    usable: &BTreeSet<SocketAddrV4>,
    what: &str,
) -> Result<Vec<Trace>, TestCaseError> {
    let bs = all_branches(tracer, p);
    let sum: f64 = bs.iter().map(|b| b.0).sum();
    prop_assert!(
        (sum - 1.0).abs() < 1e-6,
        "{what}: probabilities sum to {sum}"
    );
    let mut reached = BTreeSet::new();
    for (prob, t) in &bs {
        prop_assert!(*prob > 0.0, "{what}: empty branch");
        if usable.is_empty() {
            prop_assert_eq!(&t.verdict, &Verdict::Reject, "{}: {:?}", what, t);
        } else {
            let to = dnat_target(t);
            prop_assert!(
                to.is_some_and(|to| usable.contains(&to)),
                "{what}: reached {to:?}, usable {usable:?}: {t:?}"
            );
            reached.extend(to);
        }
    }
    if !usable.is_empty() {
        prop_assert_eq!(&reached, usable, "{}: not every endpoint reachable", what);
    }
    Ok(bs.into_iter().map(|b| b.1).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn traces_end_at_a_usable_endpoint_in_every_mode(
        specs in prop::collection::vec(svc_spec(), 1..=4),
        client_node in 0usize..3,
        seeds in prop::collection::vec(any::<u64>(), 3),
    ) {
        let world = build(&specs, client_node);
        let client = Source::Pod { namespace: "default".into(), name: "client".into() };
        let host = Source::Node(NODES[(client_node + 1) % 3].0.into());
        for mode in MODES {
            let tracer = Tracer::new(world.snapshot.clone(), vec![world.client.clone()])
                .with_mode(mode)
                .with_nftables_options(NftablesOptions::kind());
            for e in &world.expects {
                for source in [&client, &host] {
                    let p = Packet {
                        source: source.clone(),
                        destination: SocketAddrV4::new(e.cluster_ip, e.port),
                        protocol: e.protocol,
                    };
                    let what = format!("{mode:?} {source:?} → {} ({})", p.destination, spn(e));
                    let traces = check_packet(&tracer, &p, &e.usable, &what)?;
                    for t in &traces {
                        check_chain_names(mode, e, t)?;
                    }
                    for s in &seeds {
                        let t = tracer.trace_seeded(&p, *s).unwrap();
                        prop_assert_eq!(&t, &tracer.trace_seeded(&p, *s).unwrap());
                        if e.usable.is_empty() {
                            prop_assert_eq!(&t.verdict, &Verdict::Reject);
                        } else {
                            prop_assert!(
                                dnat_target(&t).is_some_and(|to| e.usable.contains(&to)),
                                "{what} seed {s}: {t:?}"
                            );
                        }
                    }
                }
                // NodePorts (Cluster policy): from outside, through any node's address.
                if let Some(np) = e.node_port {
                    let (via, ip, _) = NODES[(client_node + 2) % 3];
                    let p = Packet {
                        source: Source::External { via_node: via.into() },
                        destination: SocketAddrV4::new(Ipv4Addr::from(ip), np),
                        protocol: e.protocol,
                    };
                    let what = format!("{mode:?} external → {} ({})", p.destination, spn(e));
                    for t in check_packet(&tracer, &p, &e.usable, &what)? {
                        prop_assert!(e.usable.is_empty() || t.masqueraded, "{what}: {t:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_same_state_renders_the_same_text(
        specs in prop::collection::vec(svc_spec(), 1..=4),
    ) {
        let world = build(&specs, 0);
        let mut reversed = world.snapshot.clone();
        reversed.services.reverse();
        reversed.endpoint_slices.reverse();
        reversed.nodes.reverse();
        for node in ["kind-worker", "kind-control-plane"] {
            let texts = |s: &ProxySnapshot| {
                let ipt = iptables::render(s, node, &iptables::IptablesOptions::kind()).unwrap();
                let vs = ipvs::render(s, node, &ipvs::IpvsOptions::default()).unwrap();
                let nft = nftables::render(s, node, &NftablesOptions::kind()).unwrap();
                [
                    ipt.save_text(),
                    ipt.restore_text(),
                    vs.ipvsadm_text(),
                    vs.ipset_list_text(),
                    vs.ip_addr_text(),
                    lab_core::trace::ipvs::iptables_save_text(&vs, s),
                    nft.list_text(),
                    nft.transaction_text(),
                ]
            };
            let first = texts(&world.snapshot);
            prop_assert_eq!(&first, &texts(&world.snapshot.clone()));
            prop_assert_eq!(&first, &texts(&reversed));
            check_rendered_chain_names(&first[0], &world.expects, node)?;
        }
    }
}

/// The chains a trace passed through carry the names kube-proxy's hashes give.
fn check_chain_names(mode: ProxyMode, e: &Expect, t: &Trace) -> Result<(), TestCaseError> {
    let Some(to) = dnat_target(t) else {
        return Ok(());
    };
    let proto = e.protocol.lower();
    let chains: Vec<&str> = t
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Jump(c) | Action::Goto(c) => Some(c.as_str()),
            _ => None,
        })
        .collect();
    match mode {
        ProxyMode::Iptables => {
            let svc = format!("KUBE-SVC-{}", b32_sha256(&format!("{}{proto}", spn(e)), 16));
            let sep = format!(
                "KUBE-SEP-{}",
                b32_sha256(&format!("{}{proto}{to}", spn(e)), 16)
            );
            prop_assert!(chains.contains(&svc.as_str()), "{svc} not in {chains:?}");
            prop_assert!(chains.contains(&sep.as_str()), "{sep} not in {chains:?}");
        }
        ProxyMode::Nftables => {
            let base = format!("{}/{proto}/{}", e.namespaced, e.port_name);
            let svc = format!("service-{}-{base}", b32_sha256(&base, 8));
            let ep = format!("{base}__{}/{}", to.ip(), to.port());
            let ep = format!("endpoint-{}-{ep}", b32_sha256(&ep, 8));
            prop_assert!(chains.contains(&svc.as_str()), "{svc} not in {chains:?}");
            prop_assert!(chains.contains(&ep.as_str()), "{ep} not in {chains:?}");
        }
        ProxyMode::Ipvs => {
            // No per-Service chains: the virtual server is the Service address itself.
            let vs = t.steps.iter().find(|s| s.action == Action::VirtualServer);
            let want = format!("{}  {}:{} rr", proto.to_uppercase(), e.cluster_ip, e.port);
            prop_assert_eq!(vs.map(|s| s.rule.as_str()), Some(want.as_str()));
        }
    }
    Ok(())
}

/// Every `KUBE-SVC-`/`KUBE-SEP-` chain of a node's iptables rules is one the hash rule gives for
/// a Service port and a usable endpoint, and every such Service port has its chain.
fn check_rendered_chain_names(
    save: &str,
    expects: &[Expect],
    node: &str,
) -> Result<(), TestCaseError> {
    let mut want_svc = BTreeSet::new();
    let mut want_sep = BTreeSet::new();
    for e in expects.iter().filter(|e| !e.usable.is_empty()) {
        let proto = e.protocol.lower();
        want_svc.insert(format!(
            "KUBE-SVC-{}",
            b32_sha256(&format!("{}{proto}", spn(e)), 16)
        ));
        for ep in &e.usable {
            want_sep.insert(format!(
                "KUBE-SEP-{}",
                b32_sha256(&format!("{}{proto}{ep}", spn(e)), 16)
            ));
        }
    }
    let declared = |prefix: &str| -> BTreeSet<String> {
        save.lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split(' ').next())
            .filter(|c| c.starts_with(prefix))
            .map(str::to_string)
            .collect()
    };
    // kind's own Services (kubernetes, kube-dns) have chains too.
    let system: BTreeSet<String> = [
        "default/kubernetes:httpstcp",
        "kube-system/kube-dns:dnsudp",
        "kube-system/kube-dns:dns-tcptcp",
        "kube-system/kube-dns:metricstcp",
    ]
    .iter()
    .map(|s| format!("KUBE-SVC-{}", b32_sha256(s, 16)))
    .collect();
    let svc: BTreeSet<String> = declared("KUBE-SVC-");
    let sep: BTreeSet<String> = declared("KUBE-SEP-");
    prop_assert!(
        want_svc.is_subset(&svc),
        "{node}: missing {:?}",
        want_svc.difference(&svc).collect::<Vec<_>>()
    );
    prop_assert!(
        want_sep.is_subset(&sep),
        "{node}: missing {:?}",
        want_sep.difference(&sep).collect::<Vec<_>>()
    );
    prop_assert!(
        svc.iter()
            .all(|s| want_svc.contains(s) || system.contains(s)),
        "{node}: unexpected {svc:?}"
    );
    prop_assert!(system.contains("KUBE-SVC-NPX46M4PTMTKRN6Y"));
    for c in svc.iter().chain(sep.iter()) {
        prop_assert_eq!(c.len(), 25);
        prop_assert!(
            c[9..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
    }
    Ok(())
}
