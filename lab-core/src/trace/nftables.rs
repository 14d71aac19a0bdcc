//! The nftables walk: kube-proxy's `ip kube-proxy` table, evaluated as the kernel's nf_tables
//! would.
//!
//! Mirrors the table `pkg/proxy/nftables/proxier.go` programs (spec §5): the node's table is
//! rendered with [`proxy::nftables::render`](crate::proxy::nftables::render), and every rule's
//! text (what kube-proxy's transaction writes) is parsed back into statements; steps show the
//! rule as `nft list table ip kube-proxy` prints it.
//!
//! Base chains run in hook order and, within a hook, by priority (`filter-prerouting-pre-dnat`
//! at −110 before `nat-prerouting` at −100, …). `jump` returns to the rule after it, `goto` does
//! not (the end of a chain reached by `goto` returns to the caller of the chain that did it);
//! `accept`, `dnat` and `masquerade` end the base chain, `drop` and `reject` the packet.
//! Statements understood: `ct state`, `ip daddr|saddr [!=] ADDR|{ … }|@set`, the concatenated
//! verdict-map lookups (`ip daddr . meta l4proto . th dport vmap @service-ips`,
//! `meta l4proto . th dport vmap @…`), `fib daddr|saddr type local`, `meta l4proto`, `iif`,
//! `iifname`, `mark set mark or|xor`, `mark and M == V`, `numgen random mod N vmap { … }` (one
//! random decision, each element with probability 1/N), `update @set` (affinity, recorded
//! nowhere: a trace has no prior connection, so affinity sets are empty), `dnat to`,
//! `masquerade`, `comment`, `counter`. An unknown statement makes the rule never match.
//!
//! A verdict-map lookup is one rule and one hash lookup, whatever the number of Services: that
//! is why [`Trace::rules_traversed`](super::Trace::rules_traversed) stays flat in this mode.

use super::{Action, BranchInfo, Context, End, Hook, MAX_DEPTH, MAX_RULES_PER_TRACE, Table, Walk};
use crate::config::Cidr;
use crate::proxy::nftables::{self as render_nft, NftablesOptions};
use crate::proxy::{ProxyError, ProxySnapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A verdict, in a rule or a verdict map.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NVerdict {
    Jump(String),
    Goto(String),
    Return,
    Accept,
    Drop,
    Reject,
}

impl NVerdict {
    fn parse(tokens: &[String]) -> Option<NVerdict> {
        let t = tokens.first()?.as_str();
        let arg = || tokens.get(1).cloned();
        Some(match t {
            "jump" => NVerdict::Jump(arg()?),
            "goto" => NVerdict::Goto(arg()?),
            "return" => NVerdict::Return,
            "accept" => NVerdict::Accept,
            "drop" => NVerdict::Drop,
            "reject" => NVerdict::Reject,
            _ => return None,
        })
    }
}

/// What an address is compared with.
#[derive(Clone, Debug)]
enum AddrSet {
    Cidrs(Vec<Cidr>),
    Named(String),
}

#[derive(Clone, Debug)]
enum Cond {
    CtStateNew(bool),
    /// `ip daddr` (true) or `ip saddr`, negated, what.
    Addr(bool, bool, AddrSet),
    /// `fib daddr` (true) or `fib saddr` `type local`, negated.
    FibLocal(bool, bool),
    L4Proto(String),
    /// `mark and MASK == VALUE` (negated with `!=`).
    Mark(u32, u32, bool),
    /// `iif NAME` / `iifname PREFIX*`: name, prefix?, negated.
    Iif(String, bool, bool),
    Never,
}

#[derive(Clone, Debug)]
enum Stmt {
    Cond(Cond),
    /// `ip daddr . meta l4proto . th dport vmap @MAP`.
    VmapAddrProtoPort(String),
    /// `meta l4proto . th dport vmap @MAP`.
    VmapProtoPort(String),
    /// `numgen random mod N vmap { K : VERDICT, … }`.
    Numgen(u32, Vec<(u32, NVerdict)>),
    /// `mark set mark or|xor|and V`.
    Mark(String, u32),
    Dnat(Ipv4Addr, Option<u16>),
    Masquerade,
    Verdict(NVerdict),
    Nop,
}

/// One rule: its statements and its listed text.
#[derive(Clone, Debug)]
struct NRule {
    listed: String,
    stmts: Vec<Stmt>,
}

#[derive(Clone, Debug)]
struct NChain {
    name: String,
    /// For a base chain: type (`nat`/`filter`), hook and priority.
    base: Option<(Table, String, i32)>,
    rules: Vec<NRule>,
}

/// The nftables mode's compiled table for one node.
#[derive(Debug)]
pub(super) struct Engine {
    chains: Vec<NChain>,
    by_name: BTreeMap<String, usize>,
    /// Base chains per hook, by priority (found once: the table has a chain per endpoint).
    hooks: BTreeMap<String, Vec<usize>>,
    sets: BTreeMap<String, BTreeSet<Ipv4Addr>>,
    maps: BTreeMap<String, BTreeMap<Vec<String>, NVerdict>>,
}

/// Splits a rule's text into tokens: whitespace-separated, `"…"` kept whole (without quotes),
/// and `{`, `}`, `,` always tokens of their own.
fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => cur.push(c),
            '{' | '}' | ',' => {
                flush(&mut cur, &mut out);
                out.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    out
}

fn parse_cidr(s: &str) -> Option<Cidr> {
    Cidr::parse(s).or_else(|| {
        s.parse().ok().map(|network| Cidr {
            network,
            prefix: 32,
        })
    })
}

fn parse_u32(v: &str) -> Option<u32> {
    super::iptables::parse_u32(v)
}

/// Parses a rule's text into statements (see the module documentation).
fn parse_rule(text: &str) -> Vec<Stmt> {
    let t = tokenize(text);
    let tok = |i: usize| t.get(i).map_or("", String::as_str);
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let negated_at = |j: usize| tok(j) == "!=";
        match (tok(i), tok(i + 1)) {
            ("ct", "state") => {
                let neg = negated_at(i + 2);
                let j = i + 2 + usize::from(neg);
                out.push(Stmt::Cond(Cond::CtStateNew(
                    tok(j).split(',').any(|s| s == "new") != neg,
                )));
                i = j + 1;
            }
            ("ip", dir @ ("daddr" | "saddr")) if tok(i + 2) == "." => {
                // ip daddr . meta l4proto . th dport vmap @MAP
                match (dir, t.get(i + 9).map(String::as_str)) {
                    ("daddr", Some(m)) if tok(i + 8) == "vmap" && m.starts_with('@') => {
                        out.push(Stmt::VmapAddrProtoPort(m[1..].to_string()));
                    }
                    _ => out.push(Stmt::Cond(Cond::Never)),
                }
                i += 10;
            }
            ("ip", dir @ ("daddr" | "saddr")) => {
                let dst = dir == "daddr";
                let neg = negated_at(i + 2);
                let mut j = i + 2 + usize::from(neg);
                let set = if let Some(name) = tok(j).strip_prefix('@') {
                    j += 1;
                    AddrSet::Named(name.to_string())
                } else if tok(j) == "{" {
                    let mut cidrs = Vec::new();
                    j += 1;
                    while j < t.len() && tok(j) != "}" {
                        if tok(j) != "," {
                            match parse_cidr(tok(j)) {
                                Some(c) => cidrs.push(c),
                                None => out.push(Stmt::Cond(Cond::Never)),
                            }
                        }
                        j += 1;
                    }
                    j += 1;
                    AddrSet::Cidrs(cidrs)
                } else {
                    let c = parse_cidr(tok(j));
                    j += 1;
                    match c {
                        Some(c) => AddrSet::Cidrs(vec![c]),
                        None => {
                            out.push(Stmt::Cond(Cond::Never));
                            AddrSet::Cidrs(vec![])
                        }
                    }
                };
                out.push(Stmt::Cond(Cond::Addr(dst, neg, set)));
                i = j;
            }
            ("meta", "l4proto") if tok(i + 2) == "." => {
                // meta l4proto . th dport vmap @MAP
                match t.get(i + 6).map(String::as_str) {
                    Some(m) if tok(i + 5) == "vmap" && m.starts_with('@') => {
                        out.push(Stmt::VmapProtoPort(m[1..].to_string()));
                    }
                    _ => out.push(Stmt::Cond(Cond::Never)),
                }
                i += 7;
            }
            ("meta", "l4proto") => {
                out.push(Stmt::Cond(Cond::L4Proto(tok(i + 2).to_string())));
                i += 3;
            }
            ("mark", "set") if tok(i + 2) == "mark" => {
                match parse_u32(tok(i + 4)) {
                    Some(v) => out.push(Stmt::Mark(tok(i + 3).to_string(), v)),
                    None => out.push(Stmt::Cond(Cond::Never)),
                }
                i += 5;
            }
            ("mark", "and") => {
                let (mask, op, val) = (parse_u32(tok(i + 2)), tok(i + 3), parse_u32(tok(i + 4)));
                match (mask, val, op) {
                    (Some(m), Some(v), "==" | "!=") => {
                        out.push(Stmt::Cond(Cond::Mark(m, v, op == "!=")));
                    }
                    _ => out.push(Stmt::Cond(Cond::Never)),
                }
                i += 5;
            }
            ("fib", dir @ ("daddr" | "saddr")) if tok(i + 2) == "type" => {
                let neg = negated_at(i + 3);
                let j = i + 3 + usize::from(neg);
                if tok(j) == "local" {
                    out.push(Stmt::Cond(Cond::FibLocal(dir == "daddr", neg)));
                } else {
                    out.push(Stmt::Cond(Cond::Never));
                }
                i = j + 1;
            }
            (kw @ ("iif" | "iifname"), _) => {
                let neg = negated_at(i + 1);
                let j = i + 1 + usize::from(neg);
                let name = tok(j);
                let (name, prefix) = match name.strip_suffix('*') {
                    Some(p) if kw == "iifname" => (p, true),
                    _ => (name, false),
                };
                out.push(Stmt::Cond(Cond::Iif(name.to_string(), prefix, neg)));
                i = j + 1;
            }
            ("numgen", "random") if tok(i + 2) == "mod" && tok(i + 4) == "vmap" => {
                let n = tok(i + 3).parse().unwrap_or(0);
                let mut elems = Vec::new();
                let mut j = i + 5;
                if tok(j) == "{" {
                    j += 1;
                    let mut cur: Vec<String> = Vec::new();
                    while j < t.len() {
                        let x = tok(j);
                        if x == "," || x == "}" {
                            // "K : VERDICT [CHAIN]"
                            if let (Some(k), Some(v)) = (
                                cur.first().and_then(|k| k.parse().ok()),
                                NVerdict::parse(cur.get(2..).unwrap_or(&[])),
                            ) {
                                elems.push((k, v));
                            }
                            cur.clear();
                            if x == "}" {
                                break;
                            }
                        } else {
                            cur.push(x.to_string());
                        }
                        j += 1;
                    }
                }
                out.push(Stmt::Numgen(n, elems));
                i = j + 1;
            }
            ("dnat", "to") => {
                match super::iptables::parse_dest(tok(i + 2)) {
                    Some((ip, port)) => out.push(Stmt::Dnat(ip, port)),
                    None => out.push(Stmt::Cond(Cond::Never)),
                }
                i += 3;
            }
            ("masquerade", next) => {
                out.push(Stmt::Masquerade);
                i += if next == "fully-random" || next == "random" {
                    2
                } else {
                    1
                };
            }
            ("update", _) => {
                // update @SET { ip saddr }: skip to the closing brace.
                let mut j = i + 1;
                while j < t.len() && tok(j) != "}" {
                    j += 1;
                }
                out.push(Stmt::Nop);
                i = j + 1;
            }
            ("comment", _) => i += 2,
            ("counter", _) => i += 1,
            (v @ ("jump" | "goto" | "return" | "accept" | "drop" | "reject"), _) => {
                match NVerdict::parse(&t[i..]) {
                    Some(verdict) => out.push(Stmt::Verdict(verdict)),
                    None => out.push(Stmt::Cond(Cond::Never)),
                }
                i += if v == "jump" || v == "goto" { 2 } else { 1 };
            }
            _ => {
                out.push(Stmt::Cond(Cond::Never));
                i += 1;
            }
        }
    }
    out
}

impl Engine {
    pub(super) fn render(
        snapshot: &ProxySnapshot,
        node: &str,
        options: &NftablesOptions,
    ) -> Result<Engine, ProxyError> {
        let table = render_nft::render(snapshot, node, options)?;
        let mut e = Engine {
            chains: Vec::new(),
            by_name: BTreeMap::new(),
            hooks: BTreeMap::new(),
            sets: BTreeMap::new(),
            maps: BTreeMap::new(),
        };
        for c in &table.chains {
            e.by_name.insert(c.name.clone(), e.chains.len());
            e.chains.push(NChain {
                name: c.name.clone(),
                base: c.base.as_ref().map(|(ty, hook, prio)| {
                    let t = if ty == "nat" {
                        Table::Nat
                    } else {
                        Table::Filter
                    };
                    (t, hook.clone(), *prio)
                }),
                rules: c
                    .rules
                    .iter()
                    .map(|r| NRule {
                        listed: r.listed.clone(),
                        stmts: parse_rule(&r.text),
                    })
                    .collect(),
            });
        }
        let mut bases: Vec<(&str, i32, usize)> = e
            .chains
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.base.as_ref().map(|(_, h, p)| (h.as_str(), *p, i)))
            .collect();
        bases.sort();
        for (hook, _, i) in bases {
            e.hooks.entry(hook.to_string()).or_default().push(i);
        }
        for s in &table.sets {
            if s.is_map {
                let m = e.maps.entry(s.name.clone()).or_default();
                for el in s.elements.values() {
                    let verdict = el
                        .value
                        .as_deref()
                        .map(tokenize)
                        .and_then(|v| NVerdict::parse(&v));
                    if let Some(v) = verdict {
                        m.insert(el.key.clone(), v);
                    }
                }
            } else {
                let set = e.sets.entry(s.name.clone()).or_default();
                set.extend(
                    s.elements
                        .values()
                        .filter_map(|el| el.key.first().and_then(|k| k.parse::<Ipv4Addr>().ok())),
                );
            }
        }
        Ok(e)
    }

    /// The base chains of `hook`, by priority.
    fn base_chains(&self, hook: &str) -> &[usize] {
        self.hooks.get(hook).map_or(&[], Vec::as_slice)
    }

    /// prerouting, the routing decision, input or forward, postrouting; or, for the node's own
    /// packets, output, postrouting and, to a local address, input.
    pub(super) fn walk(&self, ctx: &Context, w: &mut Walk<'_>) -> End {
        let hooks: Vec<&str> = match ctx.hook {
            Hook::Prerouting => vec!["prerouting"],
            Hook::Output => vec!["output"],
        };
        for h in hooks {
            let e = self.run_hook(h, ctx, w);
            if e != End::Accept {
                return e;
            }
        }
        if ctx.hook == Hook::Prerouting {
            if ctx.is_node_local(w.pkt.dst) {
                return self.run_hook("input", ctx, w);
            }
            let e = self.run_hook("forward", ctx, w);
            if e != End::Accept {
                return e;
            }
        }
        let e = self.run_hook("postrouting", ctx, w);
        // The node's own packet to one of its addresses comes back in through loopback.
        if e == End::Accept && ctx.hook == Hook::Output && ctx.is_node_local(w.pkt.dst) {
            return self.run_hook("input", ctx, w);
        }
        e
    }

    fn run_hook(&self, hook: &str, ctx: &Context, w: &mut Walk<'_>) -> End {
        for &base in self.base_chains(hook) {
            let e = self.run_base(base, ctx, w);
            if e != End::Accept {
                return e;
            }
        }
        End::Accept
    }

    fn map_lookup(&self, map: &str, key: Vec<String>, w: &mut Walk<'_>) -> Option<NVerdict> {
        w.lookups += 1;
        self.maps.get(map).and_then(|m| m.get(&key)).cloned()
    }

    fn cond(&self, c: &Cond, ctx: &Context, w: &mut Walk<'_>) -> bool {
        let pkt = &w.pkt;
        match c {
            Cond::CtStateNew(m) => *m,
            Cond::Addr(dst, neg, set) => {
                let ip = if *dst { pkt.dst } else { pkt.src };
                let hit = match set {
                    AddrSet::Cidrs(cs) => cs.iter().any(|c| c.contains(ip)),
                    AddrSet::Named(n) => {
                        w.lookups += 1;
                        self.sets.get(n).is_some_and(|s| s.contains(&ip))
                    }
                };
                hit != *neg
            }
            Cond::FibLocal(dst, neg) => {
                ctx.is_node_local(if *dst { pkt.dst } else { pkt.src }) != *neg
            }
            Cond::L4Proto(p) => p == pkt.proto.lower(),
            Cond::Mark(mask, val, neg) => ((pkt.mark & mask) == *val) != *neg,
            Cond::Iif(name, prefix, neg) => {
                let m = pkt.in_iface.as_deref().is_some_and(|have| {
                    if *prefix {
                        have.starts_with(name.as_str())
                    } else {
                        have == name
                    }
                });
                m != *neg
            }
            Cond::Never => false,
        }
    }

    /// Walks one base chain and the chains it reaches.
    fn run_base(&self, base: usize, ctx: &Context, w: &mut Walk<'_>) -> End {
        let Some(base_chain) = self.chains.get(base) else {
            return End::Accept;
        };
        let table = base_chain.base.as_ref().map_or(Table::Filter, |b| b.0);
        let mut stack: Vec<(usize, usize)> = vec![(base, 0)];
        while let Some(&mut (ci, ref mut pos)) = stack.last_mut() {
            let chain = &self.chains[ci];
            let Some(rule) = chain.rules.get(*pos) else {
                stack.pop();
                if stack.is_empty() {
                    w.step(table, &chain.name, "policy accept;", Action::Policy);
                }
                continue;
            };
            *pos += 1;
            w.traversed += 1;
            if w.traversed > MAX_RULES_PER_TRACE || stack.len() > MAX_DEPTH {
                w.step(table, &chain.name, &rule.listed, Action::LimitReached);
                return End::Drop;
            }
            let mut verdict: Option<NVerdict> = None;
            let mut action: Option<Action> = None;
            let mut branch = None;
            let mut end = None;
            for s in &rule.stmts {
                match s {
                    Stmt::Cond(c) => {
                        if !self.cond(c, ctx, w) {
                            break;
                        }
                    }
                    Stmt::VmapAddrProtoPort(m) => {
                        let key = vec![
                            w.pkt.dst.to_string(),
                            w.pkt.proto.lower().to_string(),
                            w.pkt.dport.to_string(),
                        ];
                        match self.map_lookup(m, key, w) {
                            Some(v) => verdict = Some(v),
                            None => break,
                        }
                    }
                    Stmt::VmapProtoPort(m) => {
                        let key = vec![w.pkt.proto.lower().to_string(), w.pkt.dport.to_string()];
                        match self.map_lookup(m, key, w) {
                            Some(v) => verdict = Some(v),
                            None => break,
                        }
                    }
                    Stmt::Numgen(n, elems) => {
                        // numgen draws uniformly in 0..n; a value without element has no
                        // verdict (kube-proxy always writes all n).
                        let n = (*n).max(1) as usize;
                        let weights = vec![1.0; n];
                        let k = w.chooser.pick(&weights) as u32;
                        w.lookups += 1;
                        branch = Some(BranchInfo {
                            probability: 1.0 / n as f64,
                            taken: true,
                        });
                        match elems.iter().find(|(key, _)| *key == k) {
                            Some((_, v)) => verdict = Some(v.clone()),
                            None => {
                                action = Some(Action::Continue);
                                break;
                            }
                        }
                    }
                    Stmt::Mark(op, v) => {
                        w.pkt.mark = match op.as_str() {
                            "or" => w.pkt.mark | v,
                            "xor" => w.pkt.mark ^ v,
                            "and" => w.pkt.mark & v,
                            _ => *v,
                        };
                        action = Some(Action::SetMark(w.pkt.mark));
                    }
                    Stmt::Dnat(ip, port) => {
                        let to = SocketAddrV4::new(*ip, port.unwrap_or(w.pkt.dport));
                        w.pkt.dst = *ip;
                        w.pkt.dport = to.port();
                        w.pkt.dnat = true;
                        action = Some(Action::Dnat(to));
                        end = Some(End::Accept);
                        break;
                    }
                    Stmt::Masquerade => {
                        w.masqueraded = true;
                        action = Some(Action::Masquerade);
                        end = Some(End::Accept);
                        break;
                    }
                    Stmt::Verdict(v) => {
                        verdict = Some(v.clone());
                        break;
                    }
                    Stmt::Nop => action = action.or(Some(Action::Continue)),
                }
            }
            if let Some(v) = verdict {
                let (a, e) = match v {
                    NVerdict::Jump(target) => match self.by_name.get(&target) {
                        Some(&t) => {
                            stack.push((t, 0));
                            (Action::Jump(target), None)
                        }
                        None => (Action::Continue, None),
                    },
                    NVerdict::Goto(target) => match self.by_name.get(&target) {
                        Some(&t) => {
                            if let Some(top) = stack.last_mut() {
                                *top = (t, 0);
                            }
                            (Action::Goto(target), None)
                        }
                        None => (Action::Continue, None),
                    },
                    NVerdict::Return => {
                        stack.pop();
                        (Action::Return, None)
                    }
                    NVerdict::Accept => (Action::Accept, Some(End::Accept)),
                    NVerdict::Drop => (Action::Drop, Some(End::Drop)),
                    NVerdict::Reject => (Action::Reject, Some(End::Reject)),
                };
                action = Some(a);
                end = end.or(e);
            }
            if let Some(a) = action {
                w.step_with(table, &chain.name, &rule.listed, a, branch);
            }
            if let Some(e) = end {
                return e;
            }
            if stack.is_empty() {
                w.step(table, &base_chain.name, "policy accept;", Action::Policy);
                return End::Accept;
            }
        }
        End::Accept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_into_statements() {
        let s = parse_rule("ip daddr . meta l4proto . th dport vmap @service-ips");
        assert!(matches!(&s[..], [Stmt::VmapAddrProtoPort(m)] if m == "service-ips"));
        let s =
            parse_rule("numgen random mod 2 vmap { 0 : goto endpoint-A , 1 : goto endpoint-B }");
        let [Stmt::Numgen(2, elems)] = &s[..] else {
            panic!("{s:?}")
        };
        assert_eq!(
            elems,
            &vec![
                (0, NVerdict::Goto("endpoint-A".into())),
                (1, NVerdict::Goto("endpoint-B".into()))
            ]
        );
        let s =
            parse_rule("ip daddr 10.96.0.10 ip saddr != 10.244.0.0/16 jump mark-for-masquerade");
        assert_eq!(s.len(), 3);
        assert!(matches!(&s[1], Stmt::Cond(Cond::Addr(false, true, _))));
        let s = parse_rule("ip daddr { 10.96.0.0/16 } drop comment \"Drop traffic\"");
        assert!(
            matches!(&s[..], [Stmt::Cond(Cond::Addr(true, false, AddrSet::Cidrs(c))), Stmt::Verdict(NVerdict::Drop)] if c.len() == 1)
        );
        let s = parse_rule("mark and 0x00004000 == 0 return");
        assert!(matches!(
            &s[..],
            [
                Stmt::Cond(Cond::Mark(0x4000, 0, false)),
                Stmt::Verdict(NVerdict::Return)
            ]
        ));
        let s = parse_rule("meta l4proto tcp dnat to 10.244.1.7:80");
        assert!(matches!(&s[1], Stmt::Dnat(_, Some(80))));
        // Every prefix of every rule kube-proxy writes parses without panicking.
        let svcs = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  type: NodePort\n  externalTrafficPolicy: Local\n  sessionAffinity: ClientIP\n  externalIPs: [192.0.2.9]\n  selector:\n    app: httpd\n  ports:\n  - port: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\nspec:\n  selector:\n    app: none\n  ports:\n  - port: 81\n";
        let c = crate::testutil::cluster_with(&format!(
            "{}---\n{svcs}",
            crate::testutil::httpd_deployment(2)
        ));
        let snap = ProxySnapshot::from_cluster(&c);
        let table = render_nft::render(&snap, "kind-worker", &NftablesOptions::kind()).unwrap();
        assert!(table.chains.iter().any(|c| c.name.starts_with("external-")));
        let mut n = 0;
        for r in table.chains.iter().flat_map(|c| c.rules.iter()) {
            for (i, _) in r.text.char_indices() {
                parse_rule(&r.text[..i]);
                n += 1;
            }
            assert!(
                parse_rule(&r.text)
                    .iter()
                    .all(|s| !matches!(s, Stmt::Cond(Cond::Never))),
                "{}",
                r.text
            );
        }
        assert!(n > 500);
        // Garbage never panics and never matches.
        for junk in [
            "",
            "ip",
            "ip daddr",
            "numgen random mod",
            "{ } , ,",
            "mark and",
            "\"",
        ] {
            let s = parse_rule(junk);
            assert!(
                s.iter().all(|s| !matches!(s, Stmt::Verdict(_))),
                "{junk}: {s:?}"
            );
        }
    }
}
