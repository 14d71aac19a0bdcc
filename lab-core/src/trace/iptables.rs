//! The iptables walk: netfilter's `nat` and `filter` tables, evaluated rule by rule.
//!
//! Mirrors how the kernel's `x_tables` walks kube-proxy's chains (`pkg/proxy/iptables`): the
//! node's rules are rendered with [`proxy::iptables::render`](crate::proxy::iptables::render),
//! printed as `iptables-save` prints them
//! ([`IptablesRules::save_text`](crate::proxy::iptables::IptablesRules::save_text), which also
//! carries the built-in chains' jump rules), and every `-A` line is parsed back into a
//! [`ParsedRule`] and compiled once per node.
//!
//! Jumps, returns and chain ends follow iptables' semantics; `ACCEPT`, `DNAT` and `MASQUERADE`
//! end the current table's traversal, `DROP` and `REJECT` end the packet's. Matches evaluated:
//! `-s`/`-d` (with `!`), `-p`, `-i` (with `+` prefixes), `-m tcp|udp|sctp --dport|--sport`,
//! `-m addrtype --src-type|--dst-type LOCAL` (the node's InternalIPs and `127.0.0.0/8`, plus
//! the `kube-ipvs0` addresses in IPVS mode), `-m statistic --mode random --probability`,
//! `-m recent` (a trace has no prior affinity: `--rcheck`/`--update` never match, `--set` always
//! does), `-m mark`, `-m conntrack --ctstate` (a traced packet is the first of a new connection:
//! `NEW`, plus `DNAT` once translated), `-m set --match-set` (IPVS mode's ipsets), `-m physdev`
//! (no bridge ports on a kind node), `-m comment` and `-m nfacct` (always match). An unknown
//! match never matches.
//!
//! The kernel compares every rule of a chain in turn, so [`Trace::rules_traversed`] counts every
//! rule up to the match. The evaluator itself indexes long chains by destination address: rules
//! whose `-d` is another host are skipped in one step (and still counted), so a trace through
//! 20,000 Services stays fast while its count stays that of the kernel.
//!
//! [`Trace::rules_traversed`]: super::Trace::rules_traversed

use super::ipvs::SetTable;
use super::{Action, BranchInfo, Context, End, Hook, MAX_DEPTH, MAX_RULES_PER_TRACE, Table, Walk};
use crate::config::Cidr;
use crate::proxy::ProxySnapshot;
use crate::proxy::iptables::{self as render_iptables, IptablesOptions, Match, ParsedRule};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Chains shorter than this are walked without an index.
const INDEX_MIN_RULES: usize = 32;

/// The iptables mode's compiled rules for one node.
#[derive(Debug)]
pub(super) struct Engine {
    rules: RuleSet,
}

impl Engine {
    pub(super) fn render(
        snapshot: &ProxySnapshot,
        node: &str,
        options: &IptablesOptions,
    ) -> Result<Engine, crate::proxy::ProxyError> {
        let rules = render_iptables::render(snapshot, node, options)?;
        Ok(Engine {
            rules: RuleSet::parse_save(&rules.save_text()),
        })
    }

    /// nat PREROUTING, the routing decision, filter INPUT or FORWARD and nat POSTROUTING; or,
    /// for the node's own packets, nat OUTPUT, filter OUTPUT, nat POSTROUTING and, to a local
    /// address, filter INPUT.
    pub(super) fn walk(&self, ctx: &Context, w: &mut Walk<'_>) -> End {
        let env = Env {
            ctx,
            extra_local: None,
            sets: None,
        };
        match ctx.hook {
            Hook::Prerouting => {
                let e = self.rules.run(Table::Nat, "PREROUTING", &env, w);
                if e != End::Accept {
                    return e;
                }
                let local = env.is_local(w.pkt.dst);
                let e = self.rules.run(
                    Table::Filter,
                    if local { "INPUT" } else { "FORWARD" },
                    &env,
                    w,
                );
                if e != End::Accept || local {
                    return e;
                }
                self.rules.run(Table::Nat, "POSTROUTING", &env, w)
            }
            Hook::Output => {
                for (t, c) in [
                    (Table::Nat, "OUTPUT"),
                    (Table::Filter, "OUTPUT"),
                    (Table::Nat, "POSTROUTING"),
                ] {
                    let e = self.rules.run(t, c, &env, w);
                    if e != End::Accept {
                        return e;
                    }
                }
                // To one of its own addresses, the packet comes back in through loopback.
                if env.is_local(w.pkt.dst) {
                    return self.rules.run(Table::Filter, "INPUT", &env, w);
                }
                End::Accept
            }
        }
    }
}

/// What the rules are evaluated against besides the packet.
pub(super) struct Env<'a> {
    pub(super) ctx: &'a Context,
    /// Addresses local to the node beyond its InternalIPs (IPVS's `kube-ipvs0`).
    pub(super) extra_local: Option<&'a BTreeSet<Ipv4Addr>>,
    /// The ipsets `-m set` rules look into (IPVS mode).
    pub(super) sets: Option<&'a SetTable>,
}

impl Env<'_> {
    pub(super) fn is_local(&self, ip: Ipv4Addr) -> bool {
        self.ctx.is_node_local(ip) || self.extra_local.is_some_and(|s| s.contains(&ip))
    }
}

/// An address selector (`[!] -s|-d CIDR`).
#[derive(Clone, Copy, Debug)]
enum AddrSel {
    Any,
    Cidr(Cidr, bool),
    /// An address iptables would not have loaded: never matches.
    Never,
}

impl AddrSel {
    fn compile(n: &Option<render_iptables::Negatable>) -> AddrSel {
        let Some(n) = n else {
            return AddrSel::Any;
        };
        let c = Cidr::parse(&n.value).or_else(|| {
            n.value.parse().ok().map(|network| Cidr {
                network,
                prefix: 32,
            })
        });
        match c {
            Some(c) => AddrSel::Cidr(c, n.negated),
            None => AddrSel::Never,
        }
    }

    fn matches(self, ip: Ipv4Addr) -> bool {
        match self {
            AddrSel::Any => true,
            AddrSel::Cidr(c, negated) => c.contains(ip) != negated,
            AddrSel::Never => false,
        }
    }

    /// The one host this selector requires, for the destination index.
    fn host(self) -> Option<Ipv4Addr> {
        match self {
            AddrSel::Cidr(c, false) if c.prefix == 32 => Some(c.network),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum PortField {
    Dport,
    Sport,
}

#[derive(Clone, Debug)]
enum CMatch {
    Always,
    Never,
    /// `-m tcp|udp|sctp`: the module's protocol, then `(field, lo, hi, negated)` port ranges.
    L4(String, Vec<(PortField, u16, u16, bool)>),
    /// `-m addrtype`: `(destination?, LOCAL listed?, negated)`.
    AddrType(Vec<(bool, bool, bool)>),
    /// `-m mark`: `(value, mask, negated)`, `None` for an unparsable mark (never matches).
    Mark(Vec<Option<(u32, u32, bool)>>),
    /// `-m conntrack --ctstate`: `(NEW listed, DNAT listed, negated)`.
    Conntrack(Vec<(bool, bool, bool)>),
    /// `-m recent`: whether it matches a connection with no history.
    Recent(bool),
    /// `-m statistic --mode random`: probability, negated.
    Statistic(f64, bool),
    /// `-m set --match-set NAME FLAGS`: name, flags (`true` = `src`), negated.
    Set(String, Vec<bool>, bool),
    /// `-m physdev`: matches iff every option is negated (no bridge ports here).
    Physdev(bool),
}

#[derive(Clone, Debug)]
enum CTarget {
    None,
    Accept,
    Drop,
    Reject,
    Return,
    Mark(Vec<(String, String)>),
    /// `DNAT --to-destination IP[:PORT]`; `None` if unparsable (the rule then only counts).
    Dnat(Option<(Ipv4Addr, Option<u16>)>),
    Masquerade,
    Ignored,
    Jump(String),
}

/// A rule compiled for evaluation, with its `iptables-save` text.
#[derive(Clone, Debug)]
struct CRule {
    text: String,
    src: AddrSel,
    dst: AddrSel,
    proto: Option<(String, bool)>,
    in_iface: Option<(String, bool)>,
    /// A non-negated `-o`: the traced packets have no output interface yet, so never matches.
    out_iface_required: bool,
    matches: Vec<CMatch>,
    target: CTarget,
}

fn first(o: &render_iptables::OptionArg) -> &str {
    o.values.first().map_or("", String::as_str)
}

fn compile_match(m: &Match) -> CMatch {
    match m.module.as_str() {
        "comment" | "nfacct" => CMatch::Always,
        "tcp" | "udp" | "sctp" => CMatch::L4(
            m.module.clone(),
            m.options
                .iter()
                .filter_map(|o| {
                    let field = match o.name.as_str() {
                        "dport" | "destination-port" => PortField::Dport,
                        "sport" | "source-port" => PortField::Sport,
                        _ => return None,
                    };
                    let (lo, hi) = port_range(first(o));
                    Some((field, lo, hi, o.negated))
                })
                .collect(),
        ),
        "addrtype" => CMatch::AddrType(
            m.options
                .iter()
                .filter(|o| o.name == "dst-type" || o.name == "src-type")
                .map(|o| {
                    (
                        o.name == "dst-type",
                        first(o).split(',').any(|t| t == "LOCAL"),
                        o.negated,
                    )
                })
                .collect(),
        ),
        "mark" => CMatch::Mark(
            m.options
                .iter()
                .map(|o| {
                    let v = first(o);
                    let (val, mask) = v.split_once('/').unwrap_or((v, "0xffffffff"));
                    Some((parse_u32(val)?, parse_u32(mask)?, o.negated))
                })
                .collect(),
        ),
        "conntrack" => CMatch::Conntrack(
            m.options
                .iter()
                .filter(|o| o.name == "ctstate")
                .map(|o| {
                    let v = first(o);
                    (
                        v.split(',').any(|s| s == "NEW"),
                        v.split(',').any(|s| s == "DNAT"),
                        o.negated,
                    )
                })
                .collect(),
        ),
        "recent" => {
            let check = m
                .options
                .iter()
                .any(|o| o.name == "rcheck" || o.name == "update");
            // No prior affinity: a check never hits, `--set` always matches.
            let negated = m.options.iter().any(|o| o.negated);
            CMatch::Recent(check == negated)
        }
        "statistic" => {
            let mode = m.options.iter().find(|o| o.name == "mode").map(first);
            match (mode, m.options.iter().find(|o| o.name == "probability")) {
                (Some("random"), Some(o)) => {
                    CMatch::Statistic(first(o).parse().unwrap_or(0.0), o.negated)
                }
                _ => CMatch::Never,
            }
        }
        "set" => match m.options.iter().find(|o| o.name == "match-set") {
            Some(o) if o.values.len() >= 2 => CMatch::Set(
                o.values[0].clone(),
                o.values[1].split(',').map(|d| d == "src").collect(),
                o.negated,
            ),
            _ => CMatch::Never,
        },
        "physdev" => CMatch::Physdev(m.options.iter().all(|o| o.negated)),
        _ => CMatch::Never,
    }
}

fn compile_target(r: &ParsedRule) -> CTarget {
    let Some(t) = &r.target else {
        return CTarget::None;
    };
    let opt = |n: &str| t.options.iter().find(|o| o.name == n).map(first);
    match t.name.as_str() {
        "ACCEPT" => CTarget::Accept,
        "DROP" => CTarget::Drop,
        "REJECT" => CTarget::Reject,
        "RETURN" => CTarget::Return,
        "MARK" => CTarget::Mark(
            t.options
                .iter()
                .map(|o| (o.name.clone(), first(o).to_string()))
                .collect(),
        ),
        "DNAT" => CTarget::Dnat(opt("to-destination").and_then(parse_dest)),
        "MASQUERADE" | "SNAT" => CTarget::Masquerade,
        "LOG" | "NFLOG" | "CONNMARK" | "CT" | "NOTRACK" => CTarget::Ignored,
        chain => CTarget::Jump(chain.to_string()),
    }
}

impl CRule {
    fn compile(r: &ParsedRule, text: String) -> CRule {
        CRule {
            text,
            src: AddrSel::compile(&r.source),
            dst: AddrSel::compile(&r.destination),
            proto: r
                .protocol
                .as_ref()
                .map(|p| (p.value.to_ascii_lowercase(), p.negated)),
            in_iface: r
                .in_interface
                .as_ref()
                .map(|i| (i.value.clone(), i.negated)),
            out_iface_required: r.out_interface.as_ref().is_some_and(|o| !o.negated),
            matches: r.matches.iter().map(compile_match).collect(),
            target: compile_target(r),
        }
    }
}

/// A chain's rules, with an index by required destination host for long chains.
#[derive(Debug, Default)]
struct Chain {
    rules: Vec<CRule>,
    /// Positions of rules that require one destination host, by that host.
    by_dst: BTreeMap<Ipv4Addr, Vec<usize>>,
    /// Positions of every other rule.
    other: Vec<usize>,
    indexed: bool,
}

impl Chain {
    fn build_index(&mut self) {
        if self.rules.len() < INDEX_MIN_RULES {
            return;
        }
        self.indexed = true;
        for (i, r) in self.rules.iter().enumerate() {
            match r.dst.host() {
                Some(h) => self.by_dst.entry(h).or_default().push(i),
                None => self.other.push(i),
            }
        }
    }

    /// The first rule at or after `from` that may match a packet to `dst`: every rule in
    /// between requires another destination host.
    fn next_candidate(&self, from: usize, dst: Ipv4Addr) -> usize {
        if !self.indexed {
            return from;
        }
        let next_in = |v: &[usize]| v.get(v.partition_point(|&p| p < from)).copied();
        let a = next_in(&self.other);
        let b = self.by_dst.get(&dst).and_then(|v| next_in(v));
        match (a, b) {
            (Some(a), Some(b)) => a.min(b),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => self.rules.len(),
        }
    }
}

/// The rules of one node, parsed from its save form, by table and chain.
#[derive(Debug, Default)]
pub(super) struct RuleSet {
    chains: BTreeMap<(Table, String), Chain>,
}

impl RuleSet {
    /// Parses `iptables-save` text (the `filter` and `nat` tables; others are skipped).
    pub(super) fn parse_save(text: &str) -> RuleSet {
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
            let parsed = ParsedRule::parse(chain, args);
            set.chains
                .entry((table, chain.clone()))
                .or_default()
                .rules
                .push(CRule::compile(&parsed, line.to_string()));
        }
        for c in set.chains.values_mut() {
            c.build_index();
        }
        set
    }

    #[cfg(test)]
    pub(super) fn lines(&self) -> Vec<&str> {
        self.chains
            .values()
            .flat_map(|c| c.rules.iter().map(|r| r.text.as_str()))
            .collect()
    }

    fn chain(&self, table: Table, chain: &str) -> Option<&Chain> {
        self.chains.get(&(table, chain.to_string()))
    }

    /// Walks a built-in chain of `table` and the chains it jumps to.
    pub(super) fn run(&self, table: Table, builtin: &str, env: &Env<'_>, w: &mut Walk<'_>) -> End {
        let policy = format!(":{builtin} ACCEPT");
        let mut stack: Vec<(&str, Option<&Chain>, usize)> =
            vec![(builtin, self.chain(table, builtin), 0)];
        while let Some(&mut (name, chain, ref mut idx)) = stack.last_mut() {
            let next = chain.map_or(0, |c| c.next_candidate(*idx, w.pkt.dst));
            // Rules skipped by the index were still compared by the kernel.
            w.traversed += next.saturating_sub(*idx);
            *idx = next;
            let Some(rule) = chain.and_then(|c| c.rules.get(next)) else {
                stack.pop();
                if stack.is_empty() {
                    w.step(table, builtin, &policy, Action::Policy);
                }
                continue;
            };
            *idx += 1;
            w.traversed += 1;
            if w.traversed > MAX_RULES_PER_TRACE || stack.len() > MAX_DEPTH {
                w.step(table, name, &rule.text, Action::LimitReached);
                return End::Drop;
            }
            let (matched, branch) = matches(rule, env, w);
            if !matched {
                if let Some(b) = branch {
                    w.step_with(table, name, &rule.text, Action::BranchNotTaken, Some(b));
                }
                continue;
            }
            let (action, end) = match &rule.target {
                CTarget::None | CTarget::Ignored => (Action::Continue, None),
                CTarget::Accept => (Action::Accept, Some(End::Accept)),
                CTarget::Drop => (Action::Drop, Some(End::Drop)),
                CTarget::Reject => (Action::Reject, Some(End::Reject)),
                CTarget::Return => {
                    stack.pop();
                    (Action::Return, None)
                }
                CTarget::Mark(ops) => {
                    for (o, v) in ops {
                        w.pkt.mark = apply_mark(w.pkt.mark, o, v);
                    }
                    (Action::SetMark(w.pkt.mark), None)
                }
                CTarget::Dnat(Some((ip, port))) => {
                    let to = SocketAddrV4::new(*ip, port.unwrap_or(w.pkt.dport));
                    w.pkt.dst = *to.ip();
                    w.pkt.dport = to.port();
                    w.pkt.dnat = true;
                    (Action::Dnat(to), Some(End::Accept))
                }
                CTarget::Dnat(None) => (Action::Continue, None),
                CTarget::Masquerade => {
                    w.masqueraded = true;
                    (Action::Masquerade, Some(End::Accept))
                }
                CTarget::Jump(target) => {
                    stack.push((target, self.chain(table, target), 0));
                    (Action::Jump(target.clone()), None)
                }
            };
            w.step_with(table, name, &rule.text, action, branch);
            if let Some(e) = end {
                return e;
            }
            if stack.is_empty() {
                // RETURN from the built-in chain: its policy.
                w.step(table, builtin, &policy, Action::Policy);
                return End::Accept;
            }
        }
        End::Accept
    }
}

/// Whether `rule` matches the packet, and the statistic decision it made on the way.
fn matches(rule: &CRule, env: &Env<'_>, w: &mut Walk<'_>) -> (bool, Option<BranchInfo>) {
    let pkt = &w.pkt;
    if !rule.src.matches(pkt.src) || !rule.dst.matches(pkt.dst) {
        return (false, None);
    }
    if let Some((p, negated)) = &rule.proto
        && (p == pkt.proto.lower()) == *negated
    {
        return (false, None);
    }
    if let Some((iface, negated)) = &rule.in_iface {
        let m = match (&pkt.in_iface, iface.strip_suffix('+')) {
            (Some(have), Some(prefix)) => have.starts_with(prefix),
            (Some(have), None) => have == iface,
            (None, _) => false,
        };
        if m == *negated {
            return (false, None);
        }
    }
    if rule.out_iface_required {
        return (false, None);
    }
    let mut branch = None;
    for m in &rule.matches {
        let pkt = &w.pkt;
        let ok = match m {
            CMatch::Always => true,
            CMatch::Never => false,
            CMatch::L4(module, ports) => {
                module == pkt.proto.lower()
                    && ports.iter().all(|(field, lo, hi, negated)| {
                        let port = match field {
                            PortField::Dport => pkt.dport,
                            PortField::Sport => pkt.sport,
                        };
                        (*lo..=*hi).contains(&port) != *negated
                    })
            }
            CMatch::AddrType(opts) => opts.iter().all(|(dst, local_listed, negated)| {
                let ip = if *dst { pkt.dst } else { pkt.src };
                (*local_listed && env.is_local(ip)) != *negated
            }),
            CMatch::Mark(opts) => opts.iter().all(|o| {
                o.is_some_and(|(val, mask, negated)| ((pkt.mark & mask) == val) != negated)
            }),
            CMatch::Conntrack(opts) => opts
                .iter()
                .all(|(new, dnat, negated)| (*new || (*dnat && pkt.dnat)) != *negated),
            CMatch::Recent(m) => *m,
            CMatch::Statistic(p, negated) => {
                let taken = w.chooser.bernoulli(*p);
                branch = Some(BranchInfo {
                    probability: *p,
                    taken,
                });
                taken != *negated
            }
            CMatch::Set(name, flags, negated) => {
                w.lookups += 1;
                let hit = env
                    .sets
                    .and_then(|s| s.contains(name, flags, &w.pkt))
                    .unwrap_or(false);
                hit != *negated
            }
            CMatch::Physdev(m) => *m,
        };
        if !ok {
            return (false, branch);
        }
    }
    (true, branch)
}

/// Splits a save-form line into arguments: whitespace-separated, `"…"` quoted with `\`
/// escapes (as `xtables_save_string` writes them).
pub(super) fn tokenize(line: &str) -> Vec<String> {
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

pub(super) fn parse_u32(v: &str) -> Option<u32> {
    let v = v.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `MARK` target options on a mark.
pub(super) fn apply_mark(mark: u32, option: &str, value: &str) -> u32 {
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

/// `N` or `A:B` (either bound may be missing) as an inclusive range; an unparsable port is an
/// empty range.
fn port_range(spec: &str) -> (u16, u16) {
    match spec.split_once(':') {
        Some((a, b)) => (a.parse().unwrap_or(0), b.parse().unwrap_or(u16::MAX)),
        None => spec.parse().map_or((1, 0), |p| (p, p)),
    }
}

/// `N` or `A:B` contains `port`.
#[cfg(test)]
pub(super) fn port_in(spec: &str, port: u16) -> bool {
    let (lo, hi) = port_range(spec);
    (lo..=hi).contains(&port)
}

/// `--to-destination IP[:PORT]` (ranges take their first address and port).
pub(super) fn parse_dest(d: &str) -> Option<(Ipv4Addr, Option<u16>)> {
    let (ip, p) = d.split_once(':').unwrap_or((d, ""));
    let ip: Ipv4Addr = ip.split('-').next()?.parse().ok()?;
    let p = if p.is_empty() {
        None
    } else {
        Some(p.split('-').next()?.parse().ok()?)
    };
    Some((ip, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_kube_proxy_writes_is_understood() {
        let svcs = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  type: NodePort\n  externalTrafficPolicy: Local\n  sessionAffinity: ClientIP\n  externalIPs: [192.0.2.9]\n  selector:\n    app: httpd\n  ports:\n  - port: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\nspec:\n  internalTrafficPolicy: Local\n  selector:\n    app: httpd\n  ports:\n  - port: 81\n    protocol: UDP\n";
        let c = crate::testutil::cluster_with(&format!(
            "{}---\n{svcs}",
            crate::testutil::httpd_deployment(2)
        ));
        let snap = ProxySnapshot::from_cluster(&c);
        let ipt = render_iptables::render(&snap, "kind-worker", &IptablesOptions::kind()).unwrap();
        let state = crate::proxy::ipvs::render(
            &snap,
            "kind-worker",
            &crate::proxy::ipvs::IpvsOptions::default(),
        )
        .unwrap();
        for text in [
            ipt.save_text(),
            super::super::ipvs::iptables_save_text(&state, &snap),
        ] {
            let set = RuleSet::parse_save(&text);
            let mut n = 0;
            for r in set.chains.values().flat_map(|c| c.rules.iter()) {
                n += 1;
                assert!(
                    !r.matches.iter().any(|m| matches!(m, CMatch::Never))
                        && !matches!(r.src, AddrSel::Never)
                        && !matches!(r.dst, AddrSel::Never),
                    "{}",
                    r.text
                );
            }
            assert!(n > 15, "{text}");
        }
    }
}
