//! Packet traces through the rules kube-proxy renders, in any of its three modes.
//!
//! DESIGN.md: "Rules are generated, then interpreted". A trace never recomputes the answer from
//! Services: it renders the node's kube-proxy state with the proxy module of the chosen
//! [`ProxyMode`], reads that rendered state back, and walks one packet through it in netfilter
//! order, as the kernel on that node would:
//!
//! - [`iptables`] mode (`pkg/proxy/iptables`): the `iptables-save` text of the `filter` and `nat`
//!   tables, parsed back rule by rule and evaluated linearly, chain by chain;
//! - [`ipvs`] mode (`pkg/proxy/ipvs`): the iptables rules IPVS mode still writes (ipset matches
//!   on `KUBE-CLUSTER-IP` & co., the masquerade mark), then the IPVS virtual-server lookup in the
//!   rendered IPVS table, the scheduler's choice and the real server the packet is sent to;
//! - [`nftables`] mode (`pkg/proxy/nftables`): the `ip kube-proxy` table, whose verdict maps
//!   (`service-ips`, `service-nodeports`, the per-service `numgen` map) replace linear scans.
//!
//! A pod's packet (it arrives from the pod's veth) and an external client's packet (it arrives on
//! the node's `eth0`) enter at the prerouting hook; a node's own (host-network) packet enters at
//! the output hook. Then the routing decision: a destination that is one of the node's addresses
//! goes to the input hook, anything else to forward; finally postrouting, where kube-proxy's
//! mark is turned into a masquerade. A node's own packet to one of its own addresses then comes
//! back in through loopback, to the input hook.
//!
//! Random choices are explicit ([`Choice`]): a seed (a `ChaCha8Rng`, one draw per random decision:
//! an iptables `statistic` rule, an nftables `numgen`, an IPVS scheduling decision) gives one
//! [`Trace`]; [`Choice::AllBranches`] enumerates every outcome with its probability. Every trace
//! counts the rules it evaluated ([`Trace::rules_traversed`]) and the hash lookups it made
//! ([`Trace::lookups`]: ipsets, the IPVS table, nftables sets and maps): linear in the Services
//! ahead of the match in iptables mode, constant in IPVS and nftables modes.
//!
//! A [`Tracer`] renders and compiles a node's rules the first time a packet passes that node and
//! keeps them, so repeated traces pay only for the walk.

pub mod iptables;
pub mod ipvs;
mod name;
pub mod nftables;
pub use name::{DNS_PORT, NameThenPacket, name_then_packet, name_then_packet_in};

use crate::cluster::Cluster;
pub use crate::config::ProxyMode;
use crate::proxy::iptables::IptablesOptions;
use crate::proxy::ipvs::IpvsOptions;
use crate::proxy::nftables::NftablesOptions;
use crate::proxy::{Protocol, ProxyError, ProxySnapshot};
use k8s_openapi::api::core::v1::Pod;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, OnceLock};

/// The source address of an external client: TEST-NET-3 (RFC 5737), never a cluster address.
pub const EXTERNAL_CLIENT_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The source port every traced packet uses (an ephemeral port).
pub const SOURCE_PORT: u16 = 40000;
/// At most this many rules are evaluated per trace (a guard against rule loops).
pub const MAX_RULES_PER_TRACE: usize = 1_000_000;
/// At most this many branches are enumerated by [`Choice::AllBranches`].
pub const MAX_BRANCHES: usize = 4096;
/// Chains nested deeper than this end the trace with a drop (a guard against jump loops).
const MAX_DEPTH: usize = 64;

/// Where a traced packet comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A pod: its IP is the source and its node the one whose rules are walked (from the
    /// prerouting hook, as the packet arrives from the pod's veth).
    Pod {
        /// The pod's namespace.
        namespace: String,
        /// The pod's name.
        name: String,
    },
    /// A node's own host-network traffic (from the output hook), sourced from its first
    /// InternalIP (or `127.0.0.1` towards a loopback destination).
    Node(String),
    /// A client outside the cluster ([`EXTERNAL_CLIENT_IP`]) whose packet reaches `via_node`
    /// on `eth0` (from the prerouting hook).
    External {
        /// The node the packet arrives at.
        via_node: String,
    },
}

/// How random decisions are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// One draw per random decision from `ChaCha8Rng::seed_from_u64(seed)`.
    Seed(u64),
    /// Every outcome, each with its probability.
    AllBranches,
}

/// The packet to trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Where it comes from.
    pub source: Source,
    /// Destination address and port.
    pub destination: SocketAddrV4,
    /// Layer-4 protocol.
    pub protocol: Protocol,
}

/// Errors of a trace request (bad input, never a panic).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    /// The node is not in the snapshot.
    #[error("node {0:?} not found")]
    UnknownNode(String),
    /// The source pod does not exist.
    #[error("pod {namespace}/{name} not found")]
    UnknownPod {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The source pod has no IP or no node yet.
    #[error("pod {namespace}/{name} has no IP or node yet")]
    PodNotPlaced {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A pod's packet to a loopback address: it stays in the pod's own network namespace, and
    /// no node's rules (a node's `127.0.0.1` NodePorts included) ever see it.
    #[error(
        "{ip} is pod {namespace}/{name}'s own loopback: the packet never leaves the pod, so no kube-proxy rule sees it"
    )]
    PodLoopback {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The loopback address dialled.
        ip: Ipv4Addr,
    },
}

impl From<ProxyError> for TraceError {
    fn from(e: ProxyError) -> Self {
        match e {
            ProxyError::UnknownNode(n) => TraceError::UnknownNode(n),
        }
    }
}

/// Where a step happened: a netfilter table (for nftables, the type of the base chain being
/// walked), or the kernel's IPVS table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// `nat`.
    Nat,
    /// `filter`.
    Filter,
    /// The IPVS virtual-server table (`ipvsadm -Ln`).
    Ipvs,
}

impl Table {
    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Nat => "nat",
            Table::Filter => "filter",
            Table::Ipvs => "ipvs",
        }
    }
}

/// What a matched rule (or a chain's end) did to the packet.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Jumped to a user chain (iptables `-j CHAIN`, nftables `jump`).
    Jump(String),
    /// Went to a chain without coming back (nftables `goto`): its end returns to the caller of
    /// the chain that did the `goto`.
    Goto(String),
    /// Returned to the calling chain (`-j RETURN`, nftables `return`).
    Return,
    /// Set the packet mark (`MARK`): the new mark.
    SetMark(u32),
    /// Matched a rule without a target (it only counts packets), or with a target the trace
    /// does not model; the walk continues.
    Continue,
    /// A random rule did not select this branch; the walk continues with the next rule.
    BranchNotTaken,
    /// The packet matched an IPVS virtual server (the step's rule is its `ipvsadm -Ln` line).
    VirtualServer,
    /// Destination rewritten to this address (iptables `DNAT`, nftables `dnat to`, or IPVS
    /// forwarding to a real server in masquerading mode); the nat walk ends.
    Dnat(SocketAddrV4),
    /// Source masqueraded (`MASQUERADE`); the nat walk ends.
    Masquerade,
    /// `ACCEPT`: the table's walk ends.
    Accept,
    /// `DROP`: the packet is discarded.
    Drop,
    /// `REJECT`: the packet is discarded and the client told so (ICMP port unreachable).
    Reject,
    /// The built-in (base) chain ended and its policy (`ACCEPT`) applied.
    Policy,
    /// A safety limit (rules or depth) stopped the walk; the packet is dropped.
    LimitReached,
}

impl Action {
    /// The action in a few words, as the trace views print it: `jump KUBE-SVC-…`,
    /// `DNAT to 10.244.1.2:80`, `policy ACCEPT`.
    pub fn describe(&self) -> String {
        match self {
            Action::Jump(chain) => format!("jump {chain}"),
            Action::Goto(chain) => format!("goto {chain}"),
            Action::VirtualServer => "virtual server".into(),
            Action::Return => "return".into(),
            Action::SetMark(m) => format!("mark 0x{m:x}"),
            Action::Continue => "continue".into(),
            Action::BranchNotTaken => "branch not taken".into(),
            Action::Dnat(a) => format!("DNAT to {a}"),
            Action::Masquerade => "MASQUERADE".into(),
            Action::Accept => "ACCEPT".into(),
            Action::Drop => "DROP".into(),
            Action::Reject => "REJECT".into(),
            Action::Policy => "policy ACCEPT".into(),
            Action::LimitReached => "limit reached: DROP".into(),
        }
    }
}

/// One random decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BranchInfo {
    /// The probability of the option this step is about (an iptables rule's `--probability`
    /// as the kernel stores it; `1/N` for an nftables `numgen` element; a real server's share of
    /// the weights in IPVS).
    pub probability: f64,
    /// Whether that option was taken.
    pub taken: bool,
}

impl BranchInfo {
    /// The decision as the trace views print it: ` [p=0.33333 taken]`.
    pub fn describe(&self) -> String {
        format!(
            " [p={:.5} {}]",
            self.probability,
            if self.taken { "taken" } else { "not taken" }
        )
    }
}

/// One step of a trace: a rule that matched (or a chain's policy, or an IPVS decision).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The table.
    pub table: Table,
    /// The chain (for an IPVS step, `ip_vs`).
    pub chain: String,
    /// The rule as the node's tool prints it: `iptables-save` (`:CHAIN ACCEPT` for a policy
    /// step), `nft list table ip kube-proxy` (`policy accept` for a base chain's end), or
    /// `ipvsadm -Ln`.
    pub rule: String,
    /// What happened.
    pub action: Action,
    /// The random decision, for random rules.
    pub branch: Option<BranchInfo>,
}

/// Where the packet ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted with its destination rewritten to a Service endpoint.
    Dnat {
        /// The endpoint IP.
        ip: Ipv4Addr,
        /// The endpoint port.
        port: u16,
        /// The pod owning the IP, if known: `(namespace, name)`.
        pod: Option<(String, String)>,
        /// The node the endpoint runs on, if known.
        node: Option<String>,
    },
    /// Rejected (a Service without endpoints).
    Reject,
    /// Dropped.
    Drop,
    /// Accepted unchanged: not a Service destination.
    Accept,
}

impl Verdict {
    /// Where the packet ended, as the trace views print it:
    /// `reaches 10.244.1.2:80 = pod default/httpd-… on kind-worker`, `REJECTED (ICMP port
    /// unreachable)`.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Dnat {
                ip,
                port,
                pod,
                node,
            } => {
                let pod = pod
                    .as_ref()
                    .map(|(ns, n)| format!(" = pod {ns}/{n}"))
                    .unwrap_or_default();
                let node = node
                    .as_ref()
                    .map(|n| format!(" on {n}"))
                    .unwrap_or_default();
                format!("reaches {ip}:{port}{pod}{node}")
            }
            Verdict::Reject => "REJECTED (ICMP port unreachable)".into(),
            Verdict::Drop => "DROPPED".into(),
            Verdict::Accept => "accepted unchanged (no kube-proxy rule matched it)".into(),
        }
    }
}

/// The result of one trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The kube-proxy mode whose rules were walked.
    pub mode: ProxyMode,
    /// The node whose rules were walked.
    pub node: String,
    /// The packet's source address.
    pub source_ip: Ipv4Addr,
    /// Matched rules and decisions, in order.
    pub steps: Vec<Step>,
    /// The outcome.
    pub verdict: Verdict,
    /// Whether the packet was masqueraded on its way out (source NAT to the node's address).
    pub masqueraded: bool,
    /// Rules evaluated (matched or not), across all tables and chains; an IPVS table lookup
    /// counts as one.
    pub rules_traversed: usize,
    /// Hash lookups made: ipset matches and the IPVS table lookup in IPVS mode, set and map
    /// lookups in nftables mode (none in iptables mode).
    pub lookups: usize,
}

/// One outcome of [`Choice::AllBranches`].
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// The probability of this outcome.
    pub probability: f64,
    /// The trace of this outcome.
    pub trace: Trace,
}

/// A trace's result: one trace for a seed, every branch otherwise.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceOutcome {
    /// The trace for [`Choice::Seed`].
    Single(Trace),
    /// Every outcome for [`Choice::AllBranches`], in rule order.
    Branches(Vec<Branch>),
}

/// A pod's address, for resolving sources and DNAT targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodAddr {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Pod IP.
    pub ip: Option<Ipv4Addr>,
    /// Node name.
    pub node: Option<String>,
}

impl PodAddr {
    /// Extracts the fields from a Pod object.
    pub fn from_pod(p: &Pod) -> PodAddr {
        PodAddr {
            namespace: p.metadata.namespace.clone().unwrap_or_default(),
            name: p.metadata.name.clone().unwrap_or_default(),
            ip: p
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.as_deref())
                .and_then(|ip| ip.parse().ok()),
            node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
        }
    }
}

/// One node's rules, rendered and compiled for the walk.
#[derive(Debug)]
enum Compiled {
    Iptables(iptables::Engine),
    Ipvs(ipvs::Engine),
    Nftables(nftables::Engine),
}

type Owner = (Option<(String, String)>, Option<String>);

/// Traces packets through the kube-proxy rules of a cluster snapshot.
#[derive(Clone, Debug)]
pub struct Tracer {
    snapshot: Arc<ProxySnapshot>,
    pods: Vec<PodAddr>,
    mode: ProxyMode,
    options: IptablesOptions,
    ipvs_options: IpvsOptions,
    nft_options: NftablesOptions,
    /// Who owns an address (pods first, then EndpointSlice targets): built once, so a DNAT
    /// target is named without scanning every slice.
    owners: Arc<BTreeMap<Ipv4Addr, Owner>>,
    /// Compiled rules per node, filled on first use.
    compiled: BTreeMap<String, Arc<OnceLock<Compiled>>>,
}

/// Traces `packet` through the simulated cluster's current kube-proxy rules (the mode its
/// kube-proxy ConfigMap selects).
pub fn trace(
    cluster: &Cluster,
    packet: &Packet,
    choice: Choice,
) -> Result<TraceOutcome, TraceError> {
    Tracer::from_cluster(cluster).trace(packet, choice)
}

impl Tracer {
    /// A tracer over a snapshot and the pods it may meet (sources and DNAT targets), in the
    /// mode the snapshot's kube-proxy configuration selects, with kind's host facts
    /// ([`IptablesOptions::kind`], [`NftablesOptions::kind`], default IPVS options).
    pub fn new(snapshot: ProxySnapshot, pods: Vec<PodAddr>) -> Tracer {
        let mut owners: BTreeMap<Ipv4Addr, Owner> = BTreeMap::new();
        for slice in &snapshot.endpoint_slices {
            for ep in &slice.endpoints {
                let Some(ip) = ep.addresses.first().and_then(|a| a.parse().ok()) else {
                    continue;
                };
                let pod = ep
                    .target_ref
                    .as_ref()
                    .filter(|r| r.kind.as_deref() == Some("Pod"))
                    .and_then(|r| Some((r.namespace.clone()?, r.name.clone()?)));
                owners.entry(ip).or_insert((pod, ep.node_name.clone()));
            }
        }
        // Pods win over slices; the first pod with an address wins over later ones.
        let mut by_pod: BTreeMap<Ipv4Addr, Owner> = BTreeMap::new();
        for p in &pods {
            if let Some(ip) = p.ip {
                by_pod
                    .entry(ip)
                    .or_insert((Some((p.namespace.clone(), p.name.clone())), p.node.clone()));
            }
        }
        owners.extend(by_pod);
        let mode = snapshot.config.mode;
        let mut t = Tracer {
            snapshot: Arc::new(snapshot),
            pods,
            mode,
            options: IptablesOptions::kind(),
            ipvs_options: IpvsOptions::default(),
            nft_options: NftablesOptions::kind(),
            owners: Arc::new(owners),
            compiled: BTreeMap::new(),
        };
        t.reset_cache();
        t
    }

    fn reset_cache(&mut self) {
        self.compiled = self
            .snapshot
            .nodes
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .map(|n| (n, Arc::new(OnceLock::new())))
            .collect();
    }

    /// The same tracer walking the rules of another kube-proxy mode.
    pub fn with_mode(mut self, mode: ProxyMode) -> Tracer {
        self.mode = mode;
        self.reset_cache();
        self
    }

    /// The same tracer with other iptables host facts (iptables mode).
    pub fn with_options(mut self, options: IptablesOptions) -> Tracer {
        self.options = options;
        self.reset_cache();
        self
    }

    /// The same tracer with other IPVS options (the scheduler).
    pub fn with_ipvs_options(mut self, options: IpvsOptions) -> Tracer {
        self.ipvs_options = options;
        self.reset_cache();
        self
    }

    /// The same tracer with other nftables facts (the ServiceCIDRs).
    pub fn with_nftables_options(mut self, options: NftablesOptions) -> Tracer {
        self.nft_options = options;
        self.reset_cache();
        self
    }

    /// The mode whose rules are walked.
    pub fn mode(&self) -> ProxyMode {
        self.mode
    }

    /// A tracer over the simulated cluster's current objects, with its Service range for the
    /// nftables mode.
    pub fn from_cluster(cluster: &Cluster) -> Tracer {
        Tracer::new(
            ProxySnapshot::from_cluster(cluster),
            cluster
                .list_typed::<Pod>(None)
                .map(PodAddr::from_pod)
                .collect(),
        )
        .with_nftables_options(NftablesOptions::for_cluster(cluster))
    }

    /// Renders and compiles `node`'s rules now rather than on the first trace through it.
    pub fn prepare(&self, node: &str) -> Result<(), TraceError> {
        self.engine(node).map(|_| ())
    }

    fn engine(&self, node: &str) -> Result<&Compiled, TraceError> {
        let cell = self
            .compiled
            .get(node)
            .ok_or_else(|| TraceError::UnknownNode(node.to_string()))?;
        if let Some(c) = cell.get() {
            return Ok(c);
        }
        let c = match self.mode {
            ProxyMode::Iptables => Compiled::Iptables(iptables::Engine::render(
                &self.snapshot,
                node,
                &self.options,
            )?),
            ProxyMode::Ipvs => Compiled::Ipvs(ipvs::Engine::render(
                &self.snapshot,
                node,
                &self.ipvs_options,
            )?),
            ProxyMode::Nftables => Compiled::Nftables(nftables::Engine::render(
                &self.snapshot,
                node,
                &self.nft_options,
            )?),
        };
        Ok(cell.get_or_init(|| c))
    }

    /// Traces `packet`, choosing random branches as `choice` says.
    pub fn trace(&self, packet: &Packet, choice: Choice) -> Result<TraceOutcome, TraceError> {
        Ok(match choice {
            Choice::Seed(seed) => TraceOutcome::Single(self.trace_seeded(packet, seed)?),
            Choice::AllBranches => TraceOutcome::Branches(self.trace_all(packet)?),
        })
    }

    /// One trace, random decisions drawing from `ChaCha8Rng::seed_from_u64(seed)`.
    pub fn trace_seeded(&self, packet: &Packet, seed: u64) -> Result<Trace, TraceError> {
        let ctx = self.context(packet)?;
        let engine = self.engine(&ctx.node)?;
        let mut chooser = Chooser::Rng(Box::new(ChaCha8Rng::seed_from_u64(seed)));
        Ok(self.walk(engine, &ctx, &mut chooser))
    }

    /// Every outcome of the random decisions, each with its probability (at most
    /// [`MAX_BRANCHES`]). Probabilities of a complete enumeration sum to 1.
    pub fn trace_all(&self, packet: &Packet) -> Result<Vec<Branch>, TraceError> {
        let ctx = self.context(packet)?;
        let engine = self.engine(&ctx.node)?;
        let mut out = Vec::new();
        let mut pending: Vec<Vec<usize>> = vec![Vec::new()];
        while let Some(prefix) = pending.pop() {
            if out.len() >= MAX_BRANCHES {
                break;
            }
            let forced = prefix.len();
            let mut chooser = Chooser::Forced {
                prefix,
                made: Vec::new(),
            };
            let trace = self.walk(engine, &ctx, &mut chooser);
            let Chooser::Forced { made, .. } = chooser else {
                continue;
            };
            let probability: f64 = made.iter().map(|d| d.options[d.taken]).product();
            // Alternatives of the free decisions, pushed so that the shallowest and lowest
            // option comes out next (branches then follow rule and element order).
            let mut alts = Vec::new();
            for i in forced..made.len() {
                for (j, p) in made[i].options.iter().enumerate() {
                    if j != made[i].taken && *p > 0.0 {
                        let mut alt: Vec<usize> = made[..i].iter().map(|d| d.taken).collect();
                        alt.push(j);
                        alts.push(alt);
                    }
                }
            }
            pending.extend(alts.into_iter().rev());
            out.push(Branch { probability, trace });
        }
        Ok(out)
    }

    fn walk(&self, engine: &Compiled, ctx: &Context, chooser: &mut Chooser) -> Trace {
        let mut w = Walk {
            pkt: ctx.packet.clone(),
            steps: Vec::new(),
            traversed: 0,
            lookups: 0,
            masqueraded: false,
            chooser,
        };
        let end = match engine {
            Compiled::Iptables(e) => e.walk(ctx, &mut w),
            Compiled::Ipvs(e) => e.walk(ctx, &mut w),
            Compiled::Nftables(e) => e.walk(ctx, &mut w),
        };
        let verdict = match end {
            End::Drop => Verdict::Drop,
            End::Reject => Verdict::Reject,
            End::Accept if w.pkt.dnat => {
                let (pod, node) = self.owner(w.pkt.dst);
                Verdict::Dnat {
                    ip: w.pkt.dst,
                    port: w.pkt.dport,
                    pod,
                    node,
                }
            }
            End::Accept => Verdict::Accept,
        };
        Trace {
            mode: self.mode,
            node: ctx.node.clone(),
            source_ip: ctx.packet.src,
            steps: w.steps,
            verdict,
            masqueraded: w.masqueraded,
            rules_traversed: w.traversed,
            lookups: w.lookups,
        }
    }

    fn context(&self, packet: &Packet) -> Result<Context, TraceError> {
        let (node, src, hook, in_iface) = match &packet.source {
            Source::Pod { namespace, name } => {
                let p = self
                    .pods
                    .iter()
                    .find(|p| &p.namespace == namespace && &p.name == name)
                    .ok_or_else(|| TraceError::UnknownPod {
                        namespace: namespace.clone(),
                        name: name.clone(),
                    })?;
                let (Some(ip), Some(node)) = (p.ip, p.node.clone()) else {
                    return Err(TraceError::PodNotPlaced {
                        namespace: namespace.clone(),
                        name: name.clone(),
                    });
                };
                let dst = *packet.destination.ip();
                if dst.is_loopback() {
                    return Err(TraceError::PodLoopback {
                        namespace: namespace.clone(),
                        name: name.clone(),
                        ip: dst,
                    });
                }
                (node, Some(ip), Hook::Prerouting, Some("veth0"))
            }
            Source::Node(n) => (n.clone(), None, Hook::Output, None),
            Source::External { via_node } => (
                via_node.clone(),
                Some(EXTERNAL_CLIENT_IP),
                Hook::Prerouting,
                Some("eth0"),
            ),
        };
        let info = self.snapshot.node(&node)?;
        let dst = *packet.destination.ip();
        let src = src.unwrap_or_else(|| {
            if dst.is_loopback() {
                Ipv4Addr::LOCALHOST
            } else {
                info.ips.first().copied().unwrap_or(Ipv4Addr::LOCALHOST)
            }
        });
        Ok(Context {
            node,
            local_ips: info.ips.into_iter().collect(),
            hook,
            packet: Pkt {
                src,
                dst,
                sport: SOURCE_PORT,
                dport: packet.destination.port(),
                proto: packet.protocol,
                in_iface: in_iface.map(str::to_string),
                mark: 0,
                dnat: false,
            },
        })
    }

    /// `(namespace, name)` and node of the pod (or endpoint) owning `ip`.
    fn owner(&self, ip: Ipv4Addr) -> Owner {
        self.owners.get(&ip).cloned().unwrap_or((None, None))
    }
}

/// Where the packet enters the node's stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hook {
    Prerouting,
    Output,
}

/// The packet as the rules see it, changed by marks and NAT along the way.
#[derive(Clone, Debug)]
struct Pkt {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    proto: Protocol,
    in_iface: Option<String>,
    mark: u32,
    dnat: bool,
}

/// What one trace starts from.
struct Context {
    node: String,
    local_ips: BTreeSet<Ipv4Addr>,
    hook: Hook,
    packet: Pkt,
}

impl Context {
    /// An address of the node itself (`addrtype LOCAL`, `fib … type local`), before any
    /// mode-specific addresses (IPVS's `kube-ipvs0`).
    fn is_node_local(&self, ip: Ipv4Addr) -> bool {
        ip.is_loopback() || self.local_ips.contains(&ip)
    }
}

/// One random decision: the options' probabilities and the one taken.
struct Decision {
    options: Vec<f64>,
    taken: usize,
}

enum Chooser {
    Rng(Box<ChaCha8Rng>),
    Forced {
        prefix: Vec<usize>,
        made: Vec<Decision>,
    },
}

impl Chooser {
    /// A yes/no decision taken with probability `p` (an iptables `statistic` rule).
    fn bernoulli(&mut self, p: f64) -> bool {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        match self {
            // One f64 draw compared with p: the same draw sequence as kube-proxy's rules need.
            Chooser::Rng(rng) => rng.random::<f64>() < p,
            Chooser::Forced { .. } => self.forced(vec![p, 1.0 - p]) == 0,
        }
    }

    /// One of `weights.len()` options, each with probability weight / sum (an nftables
    /// `numgen random` map, an IPVS scheduler). Never called with an empty list.
    fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if weights.is_empty() || total <= 0.0 {
            return 0;
        }
        let probs: Vec<f64> = weights.iter().map(|w| w.max(0.0) / total).collect();
        match self {
            Chooser::Rng(rng) => {
                let u = rng.random::<f64>();
                let mut acc = 0.0;
                for (i, p) in probs.iter().enumerate() {
                    acc += p;
                    if u < acc && *p > 0.0 {
                        return i;
                    }
                }
                probs.iter().rposition(|p| *p > 0.0).unwrap_or(0)
            }
            Chooser::Forced { .. } => self.forced(probs),
        }
    }

    fn forced(&mut self, options: Vec<f64>) -> usize {
        let Chooser::Forced { prefix, made } = self else {
            return 0;
        };
        let first_possible = options.iter().position(|p| *p > 0.0).unwrap_or(0);
        let taken = prefix
            .get(made.len())
            .copied()
            .filter(|i| *i < options.len())
            .unwrap_or(first_possible);
        made.push(Decision { options, taken });
        taken
    }
}

/// How a table's (or a hook's) walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Accept,
    Drop,
    Reject,
}

/// The state of one walk, shared by the three modes.
struct Walk<'a> {
    pkt: Pkt,
    steps: Vec<Step>,
    traversed: usize,
    lookups: usize,
    masqueraded: bool,
    chooser: &'a mut Chooser,
}

impl Walk<'_> {
    fn step(&mut self, table: Table, chain: &str, rule: &str, action: Action) {
        self.steps.push(Step {
            table,
            chain: chain.to_string(),
            rule: rule.to_string(),
            action,
            branch: None,
        });
    }

    fn step_with(
        &mut self,
        table: Table,
        chain: &str,
        rule: &str,
        action: Action,
        branch: Option<BranchInfo>,
    ) {
        self.step(table, chain, rule, action);
        if let Some(s) = self.steps.last_mut() {
            s.branch = branch;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cluster_with, httpd_deployment, pods};
    use std::collections::BTreeSet;

    const NODEPORT_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: httpd-svc\nspec:\n  type: NodePort\n  selector:\n    app: httpd\n  ports:\n  - protocol: TCP\n    port: 8080\n    targetPort: 80\n    nodePort: 30144\n";

    fn course(extra: &str) -> Cluster {
        cluster_with(&format!(
            "{}---\n{NODEPORT_SVC}{extra}",
            httpd_deployment(3)
        ))
    }

    fn cluster_ip(c: &Cluster, name: &str) -> Ipv4Addr {
        c.get_typed::<k8s_openapi::api::core::v1::Service>("default", name)
            .and_then(|s| s.spec.as_ref()?.cluster_ip.as_deref()?.parse().ok())
            .expect("service has a ClusterIP")
    }

    fn first_pod(c: &Cluster) -> Source {
        let p = pods(c, "default", "httpd")[0];
        Source::Pod {
            namespace: "default".into(),
            name: p.metadata.name.clone().unwrap(),
        }
    }

    fn endpoints(c: &Cluster) -> BTreeSet<(String, String)> {
        pods(c, "default", "httpd")
            .iter()
            .map(|p| ("default".to_string(), p.metadata.name.clone().unwrap()))
            .collect()
    }

    fn packet(source: Source, ip: Ipv4Addr, port: u16, protocol: Protocol) -> Packet {
        Packet {
            source,
            destination: SocketAddrV4::new(ip, port),
            protocol,
        }
    }

    fn single(o: TraceOutcome) -> Trace {
        match o {
            TraceOutcome::Single(t) => t,
            TraceOutcome::Branches(_) => panic!("expected one trace"),
        }
    }

    #[test]
    fn pod_to_cluster_ip_is_dnatted_to_an_endpoint_deterministically() {
        let c = course("");
        let cip = cluster_ip(&c, "httpd-svc");
        let pkt = packet(first_pod(&c), cip, 8080, Protocol::Tcp);
        let t = single(trace(&c, &pkt, Choice::Seed(7)).unwrap());
        let Verdict::Dnat {
            port, pod, node, ..
        } = &t.verdict
        else {
            panic!("expected DNAT, got {:?}", t.verdict);
        };
        assert_eq!(*port, 80);
        assert!(endpoints(&c).contains(pod.as_ref().unwrap()));
        assert!(node.as_deref().unwrap().starts_with("kind-worker"));
        // The walk went PREROUTING → KUBE-SERVICES → KUBE-SVC → KUBE-SEP → DNAT.
        let jumps: Vec<&str> = t
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Jump(c) => Some(c.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(jumps[0], "KUBE-SERVICES");
        assert!(jumps[1].starts_with("KUBE-SVC-"));
        assert!(jumps[2].starts_with("KUBE-SEP-"));
        assert!(t.steps.iter().any(|s| matches!(s.action, Action::Dnat(_))));
        assert!(
            t.steps
                .iter()
                .all(|s| s.rule.starts_with("-A ") || s.rule.starts_with(':'))
        );
        // Same seed, same trace; across seeds every endpoint is reached.
        assert_eq!(t, single(trace(&c, &pkt, Choice::Seed(7)).unwrap()));
        let reached: BTreeSet<(String, String)> = (0..64)
            .filter_map(
                |s| match single(trace(&c, &pkt, Choice::Seed(s)).unwrap()).verdict {
                    Verdict::Dnat { pod, .. } => pod,
                    _ => None,
                },
            )
            .collect();
        assert_eq!(reached, endpoints(&c));
    }

    #[test]
    fn all_branches_cover_every_endpoint_with_equal_probability() {
        let c = course("");
        let cip = cluster_ip(&c, "httpd-svc");
        let pkt = packet(first_pod(&c), cip, 8080, Protocol::Tcp);
        let TraceOutcome::Branches(bs) = trace(&c, &pkt, Choice::AllBranches).unwrap() else {
            panic!("expected branches");
        };
        assert_eq!(bs.len(), 3);
        let sum: f64 = bs.iter().map(|b| b.probability).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        for b in &bs {
            assert!(
                (b.probability - 1.0 / 3.0).abs() < 1e-9,
                "{}",
                b.probability
            );
        }
        let pods: BTreeSet<(String, String)> = bs
            .iter()
            .filter_map(|b| match &b.trace.verdict {
                Verdict::Dnat { pod, port: 80, .. } => pod.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(pods, endpoints(&c));
        // Hairpin: only the branch back to the source pod itself is masqueraded.
        let src = match first_pod(&c) {
            Source::Pod { namespace, name } => (namespace, name),
            _ => unreachable!(),
        };
        for b in &bs {
            let Verdict::Dnat { pod, .. } = &b.trace.verdict else {
                unreachable!()
            };
            assert_eq!(b.trace.masqueraded, pod.as_ref() == Some(&src));
        }
        // Later branches record the statistic rules they skipped.
        assert!(
            bs[2]
                .trace
                .steps
                .iter()
                .any(|s| s.action == Action::BranchNotTaken && s.branch.is_some_and(|b| !b.taken))
        );
    }

    #[test]
    fn external_nodeport_is_dnatted_and_masqueraded() {
        let c = course("");
        let pkt = packet(
            Source::External {
                via_node: "kind-worker".into(),
            },
            Ipv4Addr::new(172, 18, 0, 3),
            30144,
            Protocol::Tcp,
        );
        for seed in 0..8 {
            let t = single(trace(&c, &pkt, Choice::Seed(seed)).unwrap());
            assert!(matches!(t.verdict, Verdict::Dnat { port: 80, .. }), "{t:?}");
            assert!(t.masqueraded);
            assert_eq!(t.source_ip, EXTERNAL_CLIENT_IP);
            assert!(
                t.steps
                    .iter()
                    .any(|s| s.action == Action::Jump("KUBE-NODEPORTS".into()))
            );
            assert!(t.steps.iter().any(|s| s.action == Action::Masquerade));
        }
        // UDP to the same port is no Service: accepted unchanged.
        let udp = Packet {
            protocol: Protocol::Udp,
            ..pkt
        };
        let t = single(trace(&c, &udp, Choice::Seed(0)).unwrap());
        assert_eq!(t.verdict, Verdict::Accept);
    }

    #[test]
    fn node_traffic_to_cluster_ip_goes_through_output_and_is_masqueraded() {
        let c = course("");
        let cip = cluster_ip(&c, "httpd-svc");
        let pkt = packet(
            Source::Node("kind-worker2".into()),
            cip,
            8080,
            Protocol::Tcp,
        );
        let t = single(trace(&c, &pkt, Choice::Seed(1)).unwrap());
        assert!(matches!(t.verdict, Verdict::Dnat { port: 80, .. }));
        assert_eq!(t.steps[0].chain, "OUTPUT");
        assert_eq!(t.source_ip, Ipv4Addr::new(172, 18, 0, 4));
        assert!(t.masqueraded);
    }

    #[test]
    fn service_without_endpoints_is_rejected() {
        let extra = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: empty\nspec:\n  type: NodePort\n  selector:\n    app: nothing\n  ports:\n  - port: 81\n    nodePort: 30999\n";
        let c = course(extra);
        let cip = cluster_ip(&c, "empty");
        for (src, ip, port) in [
            (first_pod(&c), cip, 81),
            (Source::Node("kind-worker".into()), cip, 81),
            (
                Source::External {
                    via_node: "kind-worker".into(),
                },
                Ipv4Addr::new(172, 18, 0, 3),
                30999,
            ),
        ] {
            let t =
                single(trace(&c, &packet(src, ip, port, Protocol::Tcp), Choice::Seed(0)).unwrap());
            assert_eq!(t.verdict, Verdict::Reject, "{t:?}");
            let last = t.steps.last().unwrap();
            assert_eq!(last.table, Table::Filter);
            assert!(last.rule.contains("default/empty has no endpoints"));
        }
    }

    #[test]
    fn non_service_destination_is_accepted_without_dnat() {
        let c = course("");
        let pkt = packet(first_pod(&c), Ipv4Addr::new(8, 8, 8, 8), 53, Protocol::Udp);
        let t = single(trace(&c, &pkt, Choice::Seed(0)).unwrap());
        assert_eq!(t.verdict, Verdict::Accept);
        assert!(!t.masqueraded);
        assert!(!t.steps.iter().any(|s| matches!(s.action, Action::Dnat(_))));
        let TraceOutcome::Branches(bs) = trace(&c, &pkt, Choice::AllBranches).unwrap() else {
            panic!()
        };
        assert_eq!(bs.len(), 1);
        assert_eq!(bs[0].probability, 1.0);
    }

    #[test]
    fn rules_traversed_is_linear_in_services() {
        let c1 = course("");
        let mut extra = String::new();
        for i in 0..50 {
            extra.push_str(&format!(
                "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: extra-{i:02}\nspec:\n  selector:\n    app: httpd\n  ports:\n  - port: {}\n    targetPort: 80\n",
                9000 + i
            ));
        }
        let c2 = course(&extra);
        let count = |c: &Cluster, ip: Ipv4Addr, port: u16| {
            single(
                trace(
                    c,
                    &packet(first_pod(c), ip, port, Protocol::Tcp),
                    Choice::Seed(3),
                )
                .unwrap(),
            )
            .rules_traversed
        };
        let node_ip = Ipv4Addr::new(172, 18, 0, 3);
        let other = Ipv4Addr::new(192, 0, 2, 1);
        let (np1, np2) = (count(&c1, node_ip, 30144), count(&c2, node_ip, 30144));
        let (o1, o2) = (count(&c1, other, 80), count(&c2, other, 80));
        assert!(np2 >= np1 + 50, "{np1} → {np2}");
        assert!(o2 >= o1 + 50, "{o1} → {o2}");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let c = course("");
        let dst = SocketAddrV4::new(Ipv4Addr::new(10, 96, 0, 1), 443);
        let err = |source| {
            trace(
                &c,
                &Packet {
                    source,
                    destination: dst,
                    protocol: Protocol::Sctp,
                },
                Choice::AllBranches,
            )
            .unwrap_err()
        };
        assert!(matches!(
            err(Source::Node("nope".into())),
            TraceError::UnknownNode(_)
        ));
        assert!(matches!(
            err(Source::External {
                via_node: String::new()
            }),
            TraceError::UnknownNode(_)
        ));
        assert!(matches!(
            err(Source::Pod {
                namespace: "x".into(),
                name: "y".into()
            }),
            TraceError::UnknownPod { .. }
        ));
        // Odd destinations never panic.
        for (ip, port) in [
            (Ipv4Addr::UNSPECIFIED, 0),
            (Ipv4Addr::BROADCAST, u16::MAX),
            (Ipv4Addr::LOCALHOST, 30144),
        ] {
            for proto in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
                let p = packet(Source::Node("kind-worker".into()), ip, port, proto);
                assert!(trace(&c, &p, Choice::AllBranches).is_ok());
            }
        }
    }

    #[test]
    fn localhost_nodeport_from_the_node_is_dnatted() {
        let c = course("");
        let p = packet(
            Source::Node("kind-worker".into()),
            Ipv4Addr::LOCALHOST,
            30144,
            Protocol::Tcp,
        );
        let t = single(trace(&c, &p, Choice::Seed(0)).unwrap());
        assert!(matches!(t.verdict, Verdict::Dnat { port: 80, .. }), "{t:?}");
        assert!(t.masqueraded);
    }

    #[test]
    fn save_lines_parse_back_to_themselves() {
        use crate::proxy::iptables::ParsedRule;
        let c = course("");
        let snap = ProxySnapshot::from_cluster(&c);
        let rules =
            crate::proxy::iptables::render(&snap, "kind-worker", &IptablesOptions::kind()).unwrap();
        let text = rules.save_text();
        let mut n = 0;
        for line in text.lines().filter(|l| l.starts_with("-A ")) {
            let tokens = iptables::tokenize(&line[3..]);
            let (chain, args) = tokens.split_first().unwrap();
            assert_eq!(ParsedRule::parse(chain, args).save_line(), line);
            n += 1;
        }
        assert!(n > 20);
        assert_eq!(iptables::RuleSet::parse_save(&text).lines().len(), n);
        assert_eq!(
            iptables::tokenize(r#"-A X -m comment --comment "a \"b\" c" -j Y"#),
            [
                "-A",
                "X",
                "-m",
                "comment",
                "--comment",
                "a \"b\" c",
                "-j",
                "Y"
            ]
        );
    }

    #[test]
    fn external_traffic_policy_local_drops_without_local_endpoints() {
        let svc = NODEPORT_SVC.replace(
            "  type: NodePort\n",
            "  type: NodePort\n  externalTrafficPolicy: Local\n",
        );
        let c = cluster_with(&format!("{}---\n{svc}", httpd_deployment(3)));
        let ext = |node: &str, ip: [u8; 4]| {
            let p = packet(
                Source::External {
                    via_node: node.into(),
                },
                Ipv4Addr::from(ip),
                30144,
                Protocol::Tcp,
            );
            single(trace(&c, &p, Choice::Seed(0)).unwrap())
        };
        // The control plane runs no httpd pod: DROP in filter KUBE-EXTERNAL-SERVICES.
        let t = ext("kind-control-plane", [172, 18, 0, 2]);
        assert_eq!(t.verdict, Verdict::Drop, "{t:?}");
        assert!(
            t.steps
                .last()
                .unwrap()
                .rule
                .contains("has no local endpoints")
        );
        // A worker with a local endpoint keeps the client IP (no masquerade).
        let t = ext("kind-worker", [172, 18, 0, 3]);
        let Verdict::Dnat { node, .. } = &t.verdict else {
            panic!("{t:?}")
        };
        assert_eq!(node.as_deref(), Some("kind-worker"));
        assert!(!t.masqueraded);
    }

    #[test]
    fn session_affinity_has_no_prior_entry() {
        let svc = HTTPD_AFFINITY;
        let c = cluster_with(&format!("{}---\n{svc}", httpd_deployment(3)));
        let cip = cluster_ip(&c, "httpd-svc");
        let pkt = packet(first_pod(&c), cip, 8080, Protocol::Tcp);
        let TraceOutcome::Branches(bs) = trace(&c, &pkt, Choice::AllBranches).unwrap() else {
            panic!()
        };
        assert_eq!(bs.len(), 3);
        for b in &bs {
            let dnat = b.trace.steps.last_dnat().expect("a DNAT step");
            assert!(dnat.rule.contains("--set"), "{}", dnat.rule);
            assert!(!b.trace.steps.iter().any(|s| s.rule.contains("--rcheck")));
        }
    }

    const MODES: [ProxyMode; 3] = [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables];

    fn trace_in(c: &Cluster, mode: ProxyMode, pkt: &Packet, choice: Choice) -> TraceOutcome {
        Tracer::from_cluster(c)
            .with_mode(mode)
            .trace(pkt, choice)
            .unwrap()
    }

    fn branches(o: TraceOutcome) -> Vec<Branch> {
        match o {
            TraceOutcome::Branches(b) => b,
            TraceOutcome::Single(_) => panic!("expected branches"),
        }
    }

    #[test]
    fn every_mode_spreads_a_cluster_ip_over_the_endpoints() {
        let c = course("");
        let cip = cluster_ip(&c, "httpd-svc");
        let pkt = packet(first_pod(&c), cip, 8080, Protocol::Tcp);
        let src = match first_pod(&c) {
            Source::Pod { namespace, name } => (namespace, name),
            _ => unreachable!(),
        };
        for mode in MODES {
            let bs = branches(trace_in(&c, mode, &pkt, Choice::AllBranches));
            assert_eq!(bs.len(), 3, "{mode:?}");
            let mut reached = BTreeSet::new();
            for b in &bs {
                assert_eq!(b.trace.mode, mode);
                assert!((b.probability - 1.0 / 3.0).abs() < 1e-9, "{mode:?}");
                let Verdict::Dnat { pod, port, .. } = &b.trace.verdict else {
                    panic!("{mode:?}: {:?}", b.trace);
                };
                assert_eq!(*port, 80);
                reached.insert(pod.clone().unwrap());
                // Hairpin: only the way back to the source pod is masqueraded.
                assert_eq!(b.trace.masqueraded, pod.as_ref() == Some(&src), "{mode:?}");
            }
            assert_eq!(reached, endpoints(&c), "{mode:?}");
            // Seeds reach every endpoint too, and the same seed gives the same trace.
            let seeded: BTreeSet<(String, String)> = (0..48)
                .filter_map(
                    |s| match single(trace_in(&c, mode, &pkt, Choice::Seed(s))).verdict {
                        Verdict::Dnat { pod, .. } => pod,
                        _ => None,
                    },
                )
                .collect();
            assert_eq!(seeded, endpoints(&c), "{mode:?}");
            assert_eq!(
                trace_in(&c, mode, &pkt, Choice::Seed(5)),
                trace_in(&c, mode, &pkt, Choice::Seed(5))
            );
        }
    }

    #[test]
    fn ipvs_walks_ipsets_then_the_virtual_server_table() {
        let c = course("");
        let cip = cluster_ip(&c, "httpd-svc");
        let pkt = packet(
            Source::Node("kind-worker2".into()),
            cip,
            8080,
            Protocol::Tcp,
        );
        let t = single(trace_in(&c, ProxyMode::Ipvs, &pkt, Choice::Seed(2)));
        // Host traffic: KUBE-CLUSTER-IP from outside the pod network is marked, IPVS picks a
        // real server, KUBE-POSTROUTING masquerades.
        let marked = t
            .steps
            .iter()
            .position(|s| {
                s.rule.contains("--match-set KUBE-CLUSTER-IP dst,dst")
                    && s.action == Action::Jump("KUBE-MARK-MASQ".into())
            })
            .expect("cluster IP masquerade rule");
        let vs = t
            .steps
            .iter()
            .position(|s| s.action == Action::VirtualServer)
            .expect("virtual server step");
        assert!(marked < vs);
        assert_eq!(t.steps[vs].table, Table::Ipvs);
        assert!(t.steps[vs].rule.starts_with(&format!("TCP  {cip}:8080 rr")));
        assert!(matches!(t.steps[vs + 1].action, Action::Dnat(a) if a.port() == 80));
        assert!(t.steps[vs + 1].rule.contains("Masq"));
        assert!(matches!(t.verdict, Verdict::Dnat { port: 80, .. }));
        assert!(t.masqueraded);
        assert!(t.lookups >= 2, "{}", t.lookups);
        // Another port of the bound ClusterIP is no virtual server: KUBE-IPVS-FILTER rejects it.
        let other = packet(first_pod(&c), cip, 9999, Protocol::Tcp);
        let t = single(trace_in(&c, ProxyMode::Ipvs, &other, Choice::Seed(0)));
        assert_eq!(t.verdict, Verdict::Reject, "{t:?}");
        assert_eq!(t.steps.last().unwrap().chain, "KUBE-IPVS-FILTER");
        // The IPVS-mode iptables text is stable.
        let snap = ProxySnapshot::from_cluster(&c);
        let state =
            crate::proxy::ipvs::render(&snap, "kind-worker", &IpvsOptions::default()).unwrap();
        let text = ipvs::iptables_save_text(&state, &snap);
        assert_eq!(text, ipvs::iptables_save_text(&state, &snap));
        assert!(text.contains(
            "-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\n"
        ), "{text}");
    }

    #[test]
    fn nftables_uses_verdict_maps() {
        let c = course("");
        let cip = cluster_ip(&c, "httpd-svc");
        let pkt = packet(first_pod(&c), cip, 8080, Protocol::Tcp);
        let t = single(trace_in(&c, ProxyMode::Nftables, &pkt, Choice::Seed(4)));
        let services = t
            .steps
            .iter()
            .find(|s| s.chain == "services")
            .expect("services chain");
        assert_eq!(
            services.rule,
            "ip daddr . meta l4proto . th dport vmap @service-ips"
        );
        assert!(
            matches!(&services.action, Action::Goto(c) if c == "service-P26LWKKU-default/httpd-svc/tcp/")
        );
        let numgen = t
            .steps
            .iter()
            .find(|s| s.rule.starts_with("numgen random mod 3 vmap"))
            .expect("numgen step");
        assert_eq!(numgen.branch.map(|b| b.probability), Some(1.0 / 3.0));
        assert!(matches!(t.verdict, Verdict::Dnat { port: 80, .. }));
        // Another port of the ClusterIP: cluster-ips-check rejects it.
        let other = packet(first_pod(&c), cip, 9999, Protocol::Tcp);
        let t = single(trace_in(&c, ProxyMode::Nftables, &other, Choice::Seed(0)));
        assert_eq!(t.verdict, Verdict::Reject);
        assert_eq!(t.steps.last().unwrap().chain, "cluster-ips-check");
    }

    #[test]
    fn no_endpoints_is_rejected_in_every_mode() {
        let extra = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: empty\nspec:\n  type: NodePort\n  selector:\n    app: nothing\n  ports:\n  - port: 81\n    nodePort: 30999\n";
        let c = course(extra);
        let cip = cluster_ip(&c, "empty");
        for mode in MODES {
            for (src, ip, port) in [
                (first_pod(&c), cip, 81),
                (Source::Node("kind-worker".into()), cip, 81),
                (
                    Source::External {
                        via_node: "kind-worker".into(),
                    },
                    Ipv4Addr::new(172, 18, 0, 3),
                    30999,
                ),
                // The node's own NodePort: back in through loopback, rejected on input.
                (
                    Source::Node("kind-worker".into()),
                    Ipv4Addr::new(172, 18, 0, 3),
                    30999,
                ),
            ] {
                let p = packet(src, ip, port, Protocol::Tcp);
                let bs = branches(trace_in(&c, mode, &p, Choice::AllBranches));
                assert_eq!(bs.len(), 1);
                assert_eq!(
                    bs[0].trace.verdict,
                    Verdict::Reject,
                    "{mode:?}: {:?}",
                    bs[0].trace
                );
            }
        }
    }

    #[test]
    fn rules_traversed_is_flat_in_ipvs_and_nftables_modes() {
        let c1 = course("");
        let mut extra = String::new();
        for i in 0..50 {
            extra.push_str(&format!(
                "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: extra-{i:02}\nspec:\n  selector:\n    app: httpd\n  ports:\n  - port: {}\n    targetPort: 80\n",
                9000 + i
            ));
        }
        let c2 = course(&extra);
        let count = |c: &Cluster, mode: ProxyMode| {
            let cip = cluster_ip(c, "httpd-svc");
            let t = single(trace_in(
                c,
                mode,
                &packet(first_pod(c), cip, 8080, Protocol::Tcp),
                Choice::Seed(3),
            ));
            (t.rules_traversed, t.lookups)
        };
        for mode in [ProxyMode::Ipvs, ProxyMode::Nftables] {
            assert_eq!(count(&c1, mode), count(&c2, mode), "{mode:?}");
            assert!(count(&c1, mode).1 > 0);
        }
        // iptables mode makes no hash lookup.
        assert_eq!(count(&c1, ProxyMode::Iptables).1, 0);
    }

    #[test]
    fn external_ips_are_served_and_masqueraded_in_every_mode() {
        let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: httpd-ext\nspec:\n  externalIPs:\n  - 192.0.2.50\n  selector:\n    app: httpd\n  ports:\n  - port: 8081\n    targetPort: 80\n";
        let c = course(&format!("---\n{svc}"));
        let pkt = packet(
            Source::External {
                via_node: "kind-worker2".into(),
            },
            Ipv4Addr::new(192, 0, 2, 50),
            8081,
            Protocol::Tcp,
        );
        for mode in MODES {
            let bs = branches(trace_in(&c, mode, &pkt, Choice::AllBranches));
            assert_eq!(bs.len(), 3, "{mode:?}");
            for b in &bs {
                assert!(
                    matches!(b.trace.verdict, Verdict::Dnat { port: 80, .. }),
                    "{mode:?}: {:?}",
                    b.trace
                );
                // eTP Cluster: the client's address is hidden behind the node's.
                assert!(b.trace.masqueraded, "{mode:?}");
            }
        }
        // In IPVS mode the external IP is bound to kube-ipvs0, so IPVS takes it on input.
        let t = single(trace_in(&c, ProxyMode::Ipvs, &pkt, Choice::Seed(0)));
        assert!(
            t.steps
                .iter()
                .any(|s| s.rule.contains("--match-set KUBE-EXTERNAL-IP dst,dst")),
            "{t:?}"
        );
        assert!(
            t.steps
                .iter()
                .any(|s| s.rule.starts_with("TCP  192.0.2.50:8081 rr"))
        );
    }

    #[test]
    fn the_snapshot_mode_is_the_default() {
        let c = course("");
        let mut snap = ProxySnapshot::from_cluster(&c);
        snap.config.mode = ProxyMode::Nftables;
        let pods = c.list_typed::<Pod>(None).map(PodAddr::from_pod).collect();
        let tracer = Tracer::new(snap, pods);
        assert_eq!(tracer.mode(), ProxyMode::Nftables);
        let cip = cluster_ip(&c, "httpd-svc");
        let t = single(
            tracer
                .trace(
                    &packet(first_pod(&c), cip, 8080, Protocol::Tcp),
                    Choice::Seed(0),
                )
                .unwrap(),
        );
        assert_eq!(t.mode, ProxyMode::Nftables);
        assert!(t.steps.iter().any(|s| s.chain == "nat-prerouting"));
        assert!(matches!(
            tracer.prepare("nope"),
            Err(TraceError::UnknownNode(_))
        ));
    }

    const HTTPD_AFFINITY: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: httpd-svc\nspec:\n  sessionAffinity: ClientIP\n  selector:\n    app: httpd\n  ports:\n  - port: 8080\n    targetPort: 80\n";

    trait LastDnat {
        fn last_dnat(&self) -> Option<&Step>;
    }

    impl LastDnat for Vec<Step> {
        fn last_dnat(&self) -> Option<&Step> {
            self.iter()
                .rev()
                .find(|s| matches!(s.action, Action::Dnat(_)))
        }
    }

    #[test]
    fn mark_and_port_helpers() {
        use iptables::{apply_mark, parse_dest, port_in};
        assert_eq!(apply_mark(0, "set-xmark", "0x4000/0x4000"), 0x4000);
        assert_eq!(apply_mark(0x4000, "set-xmark", "0x4000/0x0"), 0);
        assert!(port_in("30000:32767", 30144));
        assert!(!port_in("80", 81));
        assert!(!port_in("junk", 0));
        assert_eq!(
            parse_dest("10.0.0.1:80"),
            Some((Ipv4Addr::new(10, 0, 0, 1), Some(80)))
        );
        assert_eq!(
            parse_dest("10.0.0.1"),
            Some((Ipv4Addr::new(10, 0, 0, 1), None))
        );
        assert_eq!(parse_dest("junk"), None);
    }
}
