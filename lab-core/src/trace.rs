//! Packet traces through kube-proxy's iptables rules, as netfilter would walk them.
//!
//! DESIGN.md: "Rules are generated, then interpreted". A trace never recomputes the answer from
//! Services: it renders the node's rules with [`iptables::render`], takes the text
//! `iptables-save` would print on that node ([`IptablesRules::save_text`], which also carries
//! the built-in chains' jump rules), parses every `-A` line back into a [`ParsedRule`], and
//! evaluates those rules in netfilter order:
//!
//! - a pod's packet (it arrives from the pod's veth) and an external client's packet (it arrives
//!   on the node's `eth0`) enter `nat PREROUTING`; a node's own (host-network) packet enters
//!   `nat OUTPUT`;
//! - then the routing decision: a destination that is one of the node's addresses goes to
//!   `filter INPUT`, anything else to `filter FORWARD`; host traffic goes to `filter OUTPUT`;
//! - then `nat POSTROUTING` (for forwarded and host traffic), where `KUBE-POSTROUTING`
//!   masquerades packets carrying kube-proxy's mark.
//!
//! Jumps, returns and chain ends follow iptables' semantics; `ACCEPT`, `DNAT` and `MASQUERADE`
//! end the current table's traversal, `DROP` and `REJECT` end the packet's. Matches evaluated:
//! `-s`/`-d` (with `!`), `-p`, `-i` (with `+` prefixes), `-m tcp|udp|sctp --dport|--sport`,
//! `-m addrtype --src-type|--dst-type LOCAL` (the node's InternalIPs and `127.0.0.0/8`),
//! `-m statistic --mode random --probability`, `-m recent` (a trace has no prior affinity:
//! `--rcheck`/`--update` never match, `--set` always does), `-m mark`, `-m conntrack --ctstate`
//! (a traced packet is the first of a new connection: `NEW`, plus `DNAT` once translated),
//! `-m comment` and `-m nfacct` (always match). An unknown match never matches.
//!
//! Random choices are explicit ([`Choice`]): a seed (a `ChaCha8Rng`, one draw per
//! `statistic` rule reached) gives one [`Trace`]; [`Choice::AllBranches`] enumerates every
//! outcome of the probability cascades with its probability. Every trace counts the rules it
//! evaluated ([`Trace::rules_traversed`]): in iptables mode that count is linear in the number of
//! Services ahead of the match in `KUBE-SERVICES`.

use crate::cluster::Cluster;
use crate::config::Cidr;
use crate::proxy::iptables::{self, IptablesOptions, IptablesRules, ParsedRule};
use crate::proxy::{Protocol, ProxyError, ProxySnapshot};
use k8s_openapi::api::core::v1::Pod;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

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
    /// A pod: its IP is the source and its node the one whose rules are walked (from
    /// `nat PREROUTING`, as the packet arrives from the pod's veth).
    Pod {
        /// The pod's namespace.
        namespace: String,
        /// The pod's name.
        name: String,
    },
    /// A node's own host-network traffic (from `nat OUTPUT`), sourced from its first
    /// InternalIP (or `127.0.0.1` towards a loopback destination).
    Node(String),
    /// A client outside the cluster ([`EXTERNAL_CLIENT_IP`]) whose packet reaches `via_node`
    /// on `eth0` (from `nat PREROUTING`).
    External {
        /// The node the packet arrives at.
        via_node: String,
    },
}

/// How `-m statistic --mode random` rules decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// One draw per statistic rule from `ChaCha8Rng::seed_from_u64(seed)`.
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
}

impl From<ProxyError> for TraceError {
    fn from(e: ProxyError) -> Self {
        match e {
            ProxyError::UnknownNode(n) => TraceError::UnknownNode(n),
        }
    }
}

/// A netfilter table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// `nat`.
    Nat,
    /// `filter`.
    Filter,
}

impl Table {
    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Nat => "nat",
            Table::Filter => "filter",
        }
    }
}

/// What a matched rule (or a chain's end) did to the packet.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Jumped to a user chain.
    Jump(String),
    /// Returned to the calling chain (`-j RETURN`).
    Return,
    /// Set the packet mark (`MARK`): the new mark.
    SetMark(u32),
    /// Matched a rule without a target (it only counts packets), or with a target the trace
    /// does not model; the walk continues.
    Continue,
    /// `-m statistic` did not select this rule; the walk continues with the next one.
    BranchNotTaken,
    /// Destination rewritten (`DNAT --to-destination`); the nat table's walk ends.
    Dnat(SocketAddrV4),
    /// Source masqueraded (`MASQUERADE`); the nat table's walk ends.
    Masquerade,
    /// `ACCEPT`: the table's walk ends.
    Accept,
    /// `DROP`: the packet is discarded.
    Drop,
    /// `REJECT`: the packet is discarded and the client told so (ICMP port unreachable).
    Reject,
    /// The built-in chain ended and its policy (`ACCEPT`) applied.
    Policy,
    /// A safety limit (rules or depth) stopped the walk; the packet is dropped.
    LimitReached,
}

/// One `-m statistic` decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BranchInfo {
    /// The rule's probability (as the kernel stores it, read back from the save form).
    pub probability: f64,
    /// Whether the rule was selected.
    pub taken: bool,
}

/// One step of a trace: a rule that matched (or a chain's policy).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The table.
    pub table: Table,
    /// The chain.
    pub chain: String,
    /// The rule as `iptables-save` prints it (`:CHAIN ACCEPT` for a policy step).
    pub rule: String,
    /// What happened.
    pub action: Action,
    /// The random decision, for `-m statistic` rules.
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

/// The result of one trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The node whose rules were walked.
    pub node: String,
    /// The packet's source address.
    pub source_ip: Ipv4Addr,
    /// Matched rules and decisions, in order.
    pub steps: Vec<Step>,
    /// The outcome.
    pub verdict: Verdict,
    /// Whether `KUBE-POSTROUTING` masqueraded the packet (source NAT to the node's address).
    pub masqueraded: bool,
    /// Rules evaluated (matched or not), across all tables and chains.
    pub rules_traversed: usize,
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

/// Traces packets through the iptables rules of a cluster snapshot.
#[derive(Clone, Debug)]
pub struct Tracer {
    snapshot: ProxySnapshot,
    pods: Vec<PodAddr>,
    options: IptablesOptions,
}

/// Traces `packet` through the simulated cluster's current iptables rules.
pub fn trace(
    cluster: &Cluster,
    packet: &Packet,
    choice: Choice,
) -> Result<TraceOutcome, TraceError> {
    Tracer::from_cluster(cluster).trace(packet, choice)
}

impl Tracer {
    /// A tracer over a snapshot and the pods it may meet (sources and DNAT targets), with kind's
    /// host facts ([`IptablesOptions::kind`]).
    pub fn new(snapshot: ProxySnapshot, pods: Vec<PodAddr>) -> Tracer {
        Tracer {
            snapshot,
            pods,
            options: IptablesOptions::kind(),
        }
    }

    /// The same tracer with other host facts.
    pub fn with_options(mut self, options: IptablesOptions) -> Tracer {
        self.options = options;
        self
    }

    /// A tracer over the simulated cluster's current objects.
    pub fn from_cluster(cluster: &Cluster) -> Tracer {
        Tracer::new(
            ProxySnapshot::from_cluster(cluster),
            cluster
                .list_typed::<Pod>(None)
                .map(PodAddr::from_pod)
                .collect(),
        )
    }

    /// Traces `packet`, choosing random branches as `choice` says.
    pub fn trace(&self, packet: &Packet, choice: Choice) -> Result<TraceOutcome, TraceError> {
        Ok(match choice {
            Choice::Seed(seed) => TraceOutcome::Single(self.trace_seeded(packet, seed)?),
            Choice::AllBranches => TraceOutcome::Branches(self.trace_all(packet)?),
        })
    }

    /// One trace, random rules drawing from `ChaCha8Rng::seed_from_u64(seed)`.
    pub fn trace_seeded(&self, packet: &Packet, seed: u64) -> Result<Trace, TraceError> {
        let ctx = self.context(packet)?;
        let mut chooser = Chooser::Rng(Box::new(ChaCha8Rng::seed_from_u64(seed)));
        Ok(Walker::new(&ctx, self, &mut chooser).walk())
    }

    /// Every outcome of the random rules, each with its probability (at most
    /// [`MAX_BRANCHES`]). Probabilities of a complete enumeration sum to 1.
    pub fn trace_all(&self, packet: &Packet) -> Result<Vec<Branch>, TraceError> {
        let ctx = self.context(packet)?;
        let mut out = Vec::new();
        let mut pending: Vec<Vec<bool>> = vec![Vec::new()];
        while let Some(prefix) = pending.pop() {
            if out.len() >= MAX_BRANCHES {
                break;
            }
            let forced = prefix.len();
            let mut chooser = Chooser::Forced {
                prefix,
                made: Vec::new(),
            };
            let trace = Walker::new(&ctx, self, &mut chooser).walk();
            let Chooser::Forced { made, .. } = chooser else {
                continue;
            };
            let mut probability = 1.0;
            for &(p, taken) in &made {
                probability *= if taken { p } else { 1.0 - p };
            }
            // Alternatives of the free decisions, deepest last so the shallowest is next.
            let mut alts = Vec::new();
            for i in forced..made.len() {
                let (p, taken) = made[i];
                if taken && p < 1.0 {
                    let mut alt: Vec<bool> = made[..i].iter().map(|m| m.1).collect();
                    alt.push(false);
                    alts.push(alt);
                }
            }
            pending.extend(alts.into_iter().rev());
            out.push(Branch { probability, trace });
        }
        Ok(out)
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
        let rules = iptables::render(&self.snapshot, &node, &self.options)?;
        let dst = *packet.destination.ip();
        let src = src.unwrap_or_else(|| {
            if dst.is_loopback() {
                Ipv4Addr::LOCALHOST
            } else {
                info.ips.first().copied().unwrap_or(Ipv4Addr::LOCALHOST)
            }
        });
        Ok(Context {
            rules: RuleSet::from_rules(&rules),
            node,
            local_ips: info.ips,
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
    fn owner(&self, ip: Ipv4Addr) -> (Option<(String, String)>, Option<String>) {
        if let Some(p) = self.pods.iter().find(|p| p.ip == Some(ip)) {
            return (Some((p.namespace.clone(), p.name.clone())), p.node.clone());
        }
        let ip_s = ip.to_string();
        for slice in &self.snapshot.endpoint_slices {
            for ep in &slice.endpoints {
                if ep.addresses.first() == Some(&ip_s) {
                    let pod = ep
                        .target_ref
                        .as_ref()
                        .filter(|r| r.kind.as_deref() == Some("Pod"))
                        .and_then(|r| Some((r.namespace.clone()?, r.name.clone()?)));
                    return (pod, ep.node_name.clone());
                }
            }
        }
        (None, None)
    }
}

/// The rules of one node, parsed from its save form, by table and chain.
#[derive(Clone, Debug, Default)]
struct RuleSet {
    chains: BTreeMap<(Table, String), Vec<(ParsedRule, String)>>,
}

impl RuleSet {
    fn from_rules(rules: &IptablesRules) -> RuleSet {
        RuleSet::parse_save(&rules.save_text())
    }

    /// Parses `iptables-save` text (the `filter` and `nat` tables; others are skipped).
    fn parse_save(text: &str) -> RuleSet {
        let mut set = RuleSet::default();
        let mut table = None;
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = match t.trim() {
                    "nat" => Some(Table::Nat),
                    "filter" => Some(Table::Filter),
                    _ => None,
                };
                continue;
            }
            let (Some(table), Some(rest)) = (table, line.strip_prefix("-A ")) else {
                continue;
            };
            let tokens = tokenize(rest);
            let Some((chain, args)) = tokens.split_first() else {
                continue;
            };
            set.chains
                .entry((table, chain.clone()))
                .or_default()
                .push((ParsedRule::parse(chain, args), line.to_string()));
        }
        set
    }

    fn chain(&self, table: Table, chain: &str) -> &[(ParsedRule, String)] {
        self.chains
            .get(&(table, chain.to_string()))
            .map_or(&[], Vec::as_slice)
    }
}

/// Splits a save-form line into arguments: whitespace-separated, `"…"` quoted with `\`
/// escapes (as `xtables_save_string` writes them).
fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_token = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_token {
                    out.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            c => {
                cur.push(c);
                in_token = true;
            }
        }
    }
    if in_token {
        out.push(cur);
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hook {
    Prerouting,
    Output,
}

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

struct Context {
    rules: RuleSet,
    node: String,
    local_ips: Vec<Ipv4Addr>,
    hook: Hook,
    packet: Pkt,
}

enum Chooser {
    Rng(Box<ChaCha8Rng>),
    Forced {
        prefix: Vec<bool>,
        made: Vec<(f64, bool)>,
    },
}

impl Chooser {
    fn choose(&mut self, p: f64) -> bool {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        match self {
            Chooser::Rng(rng) => rng.random::<f64>() < p,
            Chooser::Forced { prefix, made } => {
                let taken = prefix.get(made.len()).copied().unwrap_or(p > 0.0);
                made.push((p, taken));
                taken
            }
        }
    }
}

/// How a table's walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Accept,
    Drop,
    Reject,
}

struct Walker<'a> {
    ctx: &'a Context,
    tracer: &'a Tracer,
    chooser: &'a mut Chooser,
    pkt: Pkt,
    steps: Vec<Step>,
    traversed: usize,
    masqueraded: bool,
}

impl<'a> Walker<'a> {
    fn new(ctx: &'a Context, tracer: &'a Tracer, chooser: &'a mut Chooser) -> Walker<'a> {
        Walker {
            ctx,
            tracer,
            chooser,
            pkt: ctx.packet.clone(),
            steps: Vec::new(),
            traversed: 0,
            masqueraded: false,
        }
    }

    fn is_local(&self, ip: Ipv4Addr) -> bool {
        ip.is_loopback() || self.ctx.local_ips.contains(&ip)
    }

    fn walk(mut self) -> Trace {
        let end = self.hooks();
        let verdict = match end {
            End::Drop => Verdict::Drop,
            End::Reject => Verdict::Reject,
            End::Accept if self.pkt.dnat => {
                let (pod, node) = self.tracer.owner(self.pkt.dst);
                Verdict::Dnat {
                    ip: self.pkt.dst,
                    port: self.pkt.dport,
                    pod,
                    node,
                }
            }
            End::Accept => Verdict::Accept,
        };
        Trace {
            node: self.ctx.node.clone(),
            source_ip: self.ctx.packet.src,
            steps: self.steps,
            verdict,
            masqueraded: self.masqueraded,
            rules_traversed: self.traversed,
        }
    }

    fn hooks(&mut self) -> End {
        match self.ctx.hook {
            Hook::Prerouting => {
                let e = self.run(Table::Nat, "PREROUTING");
                if e != End::Accept {
                    return e;
                }
                let local = self.is_local(self.pkt.dst);
                let e = self.run(Table::Filter, if local { "INPUT" } else { "FORWARD" });
                if e != End::Accept || local {
                    return e;
                }
                self.run(Table::Nat, "POSTROUTING")
            }
            Hook::Output => {
                for (t, c) in [
                    (Table::Nat, "OUTPUT"),
                    (Table::Filter, "OUTPUT"),
                    (Table::Nat, "POSTROUTING"),
                ] {
                    let e = self.run(t, c);
                    if e != End::Accept {
                        return e;
                    }
                }
                End::Accept
            }
        }
    }

    fn step(&mut self, table: Table, chain: &str, rule: &str, action: Action) {
        self.steps.push(Step {
            table,
            chain: chain.to_string(),
            rule: rule.to_string(),
            action,
            branch: None,
        });
    }

    /// Walks a built-in chain of `table` and the chains it jumps to.
    fn run(&mut self, table: Table, builtin: &str) -> End {
        let ctx: &'a Context = self.ctx;
        let rules = &ctx.rules;
        let mut stack: Vec<(&str, usize)> = vec![(builtin, 0)];
        while let Some(&mut (chain, ref mut idx)) = stack.last_mut() {
            let list = rules.chain(table, chain);
            let Some((rule, text)) = list.get(*idx) else {
                stack.pop();
                if stack.is_empty() {
                    self.step(
                        table,
                        builtin,
                        &format!(":{builtin} ACCEPT"),
                        Action::Policy,
                    );
                }
                continue;
            };
            *idx += 1;
            self.traversed += 1;
            if self.traversed > MAX_RULES_PER_TRACE || stack.len() > MAX_DEPTH {
                self.step(table, chain, text, Action::LimitReached);
                return End::Drop;
            }
            let (matched, branch) = self.matches(rule);
            if !matched {
                if let Some(b) = branch {
                    self.step(table, chain, text, Action::BranchNotTaken);
                    if let Some(s) = self.steps.last_mut() {
                        s.branch = Some(b);
                    }
                }
                continue;
            }
            let target = rule.target.as_ref();
            let name = target.map_or("", |t| t.name.as_str());
            let opt = |n: &str| {
                target
                    .and_then(|t| t.options.iter().find(|o| o.name == n))
                    .and_then(|o| o.values.first())
                    .map(String::as_str)
            };
            let (action, end) = match name {
                "" => (Action::Continue, None),
                "ACCEPT" => (Action::Accept, Some(End::Accept)),
                "DROP" => (Action::Drop, Some(End::Drop)),
                "REJECT" => (Action::Reject, Some(End::Reject)),
                "RETURN" => {
                    stack.pop();
                    (Action::Return, None)
                }
                "MARK" => {
                    let t = target.map(|t| t.options.as_slice()).unwrap_or(&[]);
                    for o in t {
                        let v = o.values.first().map_or("", String::as_str);
                        self.pkt.mark = apply_mark(self.pkt.mark, &o.name, v);
                    }
                    (Action::SetMark(self.pkt.mark), None)
                }
                "DNAT" => match opt("to-destination").and_then(|d| parse_dest(d, self.pkt.dport)) {
                    Some(to) => {
                        self.pkt.dst = *to.ip();
                        self.pkt.dport = to.port();
                        self.pkt.dnat = true;
                        (Action::Dnat(to), Some(End::Accept))
                    }
                    None => (Action::Continue, None),
                },
                "MASQUERADE" | "SNAT" => {
                    self.masqueraded = true;
                    (Action::Masquerade, Some(End::Accept))
                }
                "LOG" | "NFLOG" | "CONNMARK" | "CT" | "NOTRACK" => (Action::Continue, None),
                chain_name => {
                    stack.push((chain_name, 0));
                    (Action::Jump(chain_name.to_string()), None)
                }
            };
            self.step(table, chain, text, action);
            if let Some(s) = self.steps.last_mut() {
                s.branch = branch;
            }
            if let Some(e) = end {
                return e;
            }
            if stack.is_empty() {
                // RETURN from the built-in chain: its policy.
                self.step(
                    table,
                    builtin,
                    &format!(":{builtin} ACCEPT"),
                    Action::Policy,
                );
                return End::Accept;
            }
        }
        End::Accept
    }

    /// Whether `rule` matches the packet, and the statistic decision it made on the way.
    fn matches(&mut self, rule: &ParsedRule) -> (bool, Option<BranchInfo>) {
        let addr = |n: &Option<iptables::Negatable>, ip: Ipv4Addr| {
            n.as_ref().is_none_or(|n| {
                let c = Cidr::parse(&n.value).or_else(|| {
                    n.value.parse().ok().map(|network| Cidr {
                        network,
                        prefix: 32,
                    })
                });
                c.is_some_and(|c| c.contains(ip)) != n.negated
            })
        };
        if !addr(&rule.source, self.pkt.src) || !addr(&rule.destination, self.pkt.dst) {
            return (false, None);
        }
        if let Some(p) = &rule.protocol
            && (p.value.eq_ignore_ascii_case(self.pkt.proto.lower()) == p.negated)
        {
            return (false, None);
        }
        if let Some(i) = &rule.in_interface {
            let m = match (&self.pkt.in_iface, i.value.strip_suffix('+')) {
                (Some(have), Some(prefix)) => have.starts_with(prefix),
                (Some(have), None) => *have == i.value,
                (None, _) => false,
            };
            if m == i.negated {
                return (false, None);
            }
        }
        if let Some(o) = &rule.out_interface
            && !o.negated
        {
            return (false, None);
        }
        let mut branch = None;
        for m in &rule.matches {
            let ok = match m.module.as_str() {
                "comment" | "nfacct" => true,
                "tcp" | "udp" | "sctp" => {
                    m.module == self.pkt.proto.lower()
                        && m.options.iter().all(|o| {
                            let port = match o.name.as_str() {
                                "dport" | "destination-port" => self.pkt.dport,
                                "sport" | "source-port" => self.pkt.sport,
                                _ => return true,
                            };
                            let v = o.values.first().map_or("", String::as_str);
                            port_in(v, port) != o.negated
                        })
                }
                "addrtype" => m.options.iter().all(|o| {
                    let ip = match o.name.as_str() {
                        "dst-type" => self.pkt.dst,
                        "src-type" => self.pkt.src,
                        _ => return true,
                    };
                    let v = o.values.first().map_or("", String::as_str);
                    let is = v.split(',').any(|t| t == "LOCAL") && self.is_local(ip);
                    is != o.negated
                }),
                "mark" => m.options.iter().all(|o| {
                    let v = o.values.first().map_or("", String::as_str);
                    let (val, mask) = v.split_once('/').unwrap_or((v, "0xffffffff"));
                    let (Some(val), Some(mask)) = (parse_u32(val), parse_u32(mask)) else {
                        return false;
                    };
                    ((self.pkt.mark & mask) == val) != o.negated
                }),
                "conntrack" => m.options.iter().all(|o| {
                    if o.name != "ctstate" {
                        return true;
                    }
                    let v = o.values.first().map_or("", String::as_str);
                    let any = v
                        .split(',')
                        .any(|s| s == "NEW" || (s == "DNAT" && self.pkt.dnat));
                    any != o.negated
                }),
                "recent" => {
                    let check = m
                        .options
                        .iter()
                        .any(|o| o.name == "rcheck" || o.name == "update");
                    // No prior affinity: a check never hits, `--set` always matches.
                    let negated = m.options.iter().any(|o| o.negated);
                    check == negated
                }
                "statistic" => {
                    let mode = m
                        .options
                        .iter()
                        .find(|o| o.name == "mode")
                        .and_then(|o| o.values.first());
                    let prob = m.options.iter().find(|o| o.name == "probability");
                    match (mode.map(String::as_str), prob) {
                        (Some("random"), Some(o)) => {
                            let p: f64 =
                                o.values.first().and_then(|v| v.parse().ok()).unwrap_or(0.0);
                            let taken = self.chooser.choose(p);
                            branch = Some(BranchInfo {
                                probability: p,
                                taken,
                            });
                            taken != o.negated
                        }
                        _ => false,
                    }
                }
                _ => false,
            };
            if !ok {
                return (false, branch);
            }
        }
        (true, branch)
    }
}

fn parse_u32(v: &str) -> Option<u32> {
    let v = v.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `MARK` target options on a mark.
fn apply_mark(mark: u32, option: &str, value: &str) -> u32 {
    let (v, m) = value.split_once('/').unwrap_or((value, ""));
    let v = parse_u32(v).unwrap_or(0);
    match option {
        "set-xmark" => (mark & !parse_u32(m).unwrap_or(u32::MAX)) ^ v,
        "set-mark" => (mark & !parse_u32(m).unwrap_or(u32::MAX)) | v,
        "or-mark" => mark | v,
        "xor-mark" => mark ^ v,
        "and-mark" => mark & v,
        _ => mark,
    }
}

/// `N` or `A:B` (either bound may be missing) contains `port`.
fn port_in(spec: &str, port: u16) -> bool {
    match spec.split_once(':') {
        Some((a, b)) => {
            let lo = a.parse().unwrap_or(0);
            let hi = b.parse().unwrap_or(u16::MAX);
            (lo..=hi).contains(&port)
        }
        None => spec.parse() == Ok(port),
    }
}

/// `--to-destination IP[:PORT]` (ranges take their first address and port).
fn parse_dest(d: &str, port: u16) -> Option<SocketAddrV4> {
    let (ip, p) = d.split_once(':').unwrap_or((d, ""));
    let ip: Ipv4Addr = ip.split('-').next()?.parse().ok()?;
    let p = if p.is_empty() {
        port
    } else {
        p.split('-').next()?.parse().ok()?
    };
    Some(SocketAddrV4::new(ip, p))
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
        let c = course("");
        let snap = ProxySnapshot::from_cluster(&c);
        let rules = iptables::render(&snap, "kind-worker", &IptablesOptions::kind()).unwrap();
        let set = RuleSet::from_rules(&rules);
        let mut n = 0;
        for rules in set.chains.values() {
            for (parsed, line) in rules {
                assert_eq!(&parsed.save_line(), line);
                n += 1;
            }
        }
        assert!(n > 20);
        assert_eq!(
            tokenize(r#"-A X -m comment --comment "a \"b\" c" -j Y"#),
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
        assert_eq!(apply_mark(0, "set-xmark", "0x4000/0x4000"), 0x4000);
        assert_eq!(apply_mark(0x4000, "set-xmark", "0x4000/0x0"), 0);
        assert!(port_in("30000:32767", 30144));
        assert!(!port_in("80", 81));
        assert_eq!(
            parse_dest("10.0.0.1:80", 1),
            Some("10.0.0.1:80".parse().unwrap())
        );
        assert_eq!(parse_dest("junk", 1), None);
    }
}
