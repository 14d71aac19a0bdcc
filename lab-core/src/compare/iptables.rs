//! `iptables-save` text, grouped for comparison: every kube-proxy rule under the Service port it
//! serves (its comment, its chain's hash, or the Service chain that jumps to it) or under
//! kube-proxy itself; other programs' chains and jumps kept apart.

use super::{Apart, Context, Owner, Side, Source, comment_owner, normalize, writer_of};
use crate::lab::Text;
use std::collections::BTreeMap;

/// kube-proxy's chains that hold rules of many Services, whose order among Services is random
/// (a Go map's iteration, `spec/kube-proxy.md` §1.8).
const SHARED: &[&str] = &[
    "KUBE-SERVICES",
    "KUBE-NODEPORTS",
    "KUBE-EXTERNAL-SERVICES",
    "KUBE-PROXY-FIREWALL",
];

/// Whether `text` looks like `iptables-save` output.
pub(crate) fn looks_like(text: &str) -> bool {
    text.lines().any(|l| l.starts_with('*')) && text.lines().any(|l| l.trim() == "COMMIT")
}

/// Whether a chain is kube-proxy's (by name; the rest are other programs').
fn is_kube_proxy_chain(chain: &str) -> bool {
    chain.starts_with("KUBE-") && writer_of(chain) == "another program"
}

/// One table as printed.
#[derive(Default)]
struct Table {
    /// Chains in declaration order, with their policy (`-` for user chains).
    chains: Vec<(String, String)>,
    /// Rules (normalised `-A CHAIN …`) by chain, in order.
    rules: BTreeMap<String, Vec<String>>,
}

fn tables(text: &str) -> Vec<(String, Table)> {
    let mut out: Vec<(String, Table)> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix('*') {
            out.push((name.trim().to_string(), Table::default()));
            continue;
        }
        let Some((_, t)) = out.last_mut() else {
            continue;
        };
        if let Some(decl) = line.strip_prefix(':') {
            let mut w = decl.split_whitespace();
            if let Some(name) = w.next() {
                t.chains
                    .push((name.to_string(), w.next().unwrap_or("-").to_string()));
            }
            continue;
        }
        // `iptables-save -c` puts `[packets:bytes]` before each rule.
        let rule = match line.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or(line, |(_, r)| r.trim_start()),
            None => line,
        };
        if let Some(rest) = rule.strip_prefix("-A ") {
            let chain = rest.split_whitespace().next().unwrap_or("").to_string();
            t.rules.entry(chain).or_default().push(normalize(rule));
        }
    }
    out
}

/// The comment of a normalised rule (`--comment X` or `--comment "X"`).
pub(crate) fn comment(rule: &str) -> Option<&str> {
    let rest = rule.split_once("--comment ")?.1;
    if let Some(q) = rest.strip_prefix('"') {
        q.split_once('"').map(|(c, _)| c)
    } else {
        rest.split_whitespace().next()
    }
}

/// The target of a rule (`-j X`).
fn target(rule: &str) -> Option<&str> {
    let mut w = rule.split_whitespace();
    while let Some(x) = w.next() {
        if x == "-j" || x == "-g" {
            return w.next();
        }
    }
    None
}

/// Parses `text`. On the predicted side (`predicted`), records each kube-proxy chain's owner in
/// `ctx`; on the found side, uses those owners first.
pub(crate) fn parse(text: &str, ctx: &mut Context, predicted: bool) -> Side {
    let mut side = Side::default();
    for (table, t) in tables(text) {
        let policy: BTreeMap<&str, &str> = t
            .chains
            .iter()
            .map(|(c, p)| (c.as_str(), p.as_str()))
            .collect();
        let mut names: Vec<&str> = t.chains.iter().map(|(c, _)| c.as_str()).collect();
        for c in t.rules.keys() {
            if !policy.contains_key(c.as_str()) {
                names.push(c);
            }
        }
        let builtin = |c: &str| policy.get(c).is_some_and(|p| *p != "-");
        let rules_of = |c: &str| t.rules.get(c).map(Vec::as_slice).unwrap_or(&[]);

        // Each kube-proxy chain's owner.
        let mut owner: BTreeMap<&str, Option<Owner>> = BTreeMap::new();
        for &c in &names {
            if builtin(c) || !is_kube_proxy_chain(c) {
                continue;
            }
            let key = format!("{table} {c}");
            let known = if predicted {
                None
            } else {
                ctx.predicted_chains.get(&key).cloned()
            };
            let by_comment = || {
                if SHARED.contains(&c) {
                    return None;
                }
                let owners: Vec<Owner> = rules_of(c)
                    .iter()
                    .filter_map(|r| comment(r).and_then(comment_owner))
                    .collect();
                owners.first().cloned()
            };
            let by_hash = || {
                ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-"]
                    .iter()
                    .find_map(|p| c.strip_prefix(p))
                    .and_then(|h| ctx.hashes.get(h))
                    .map(|n| Owner::ServicePort(n.clone()))
            };
            owner.insert(c, known.or_else(by_comment).or_else(by_hash));
        }
        // A Service chain's jumps to unattributed chains (endpoint chains without comments, as in
        // large-cluster mode) belong to that Service too.
        for _ in 0..2 {
            let mut add = Vec::new();
            for (&c, o) in &owner {
                let Some(o @ Owner::ServicePort(_)) = o else {
                    continue;
                };
                for r in rules_of(c) {
                    if let Some(tg) = target(r).filter(|t| matches!(owner.get(t), Some(None))) {
                        add.push((tg, o.clone()));
                    }
                }
            }
            for (tg, o) in add {
                owner.insert(tg, Some(o));
            }
        }

        for &c in &names {
            let place = format!("{table} {c}");
            if builtin(c) {
                let mut foreign = Vec::new();
                for r in rules_of(c) {
                    match target(r) {
                        Some(tg) if is_kube_proxy_chain(tg) => {
                            side.push(Owner::KubeProxy, place.clone(), true, r.clone());
                        }
                        _ => foreign.push(r.clone()),
                    }
                }
                if !foreign.is_empty() {
                    let writer = foreign
                        .iter()
                        .find_map(|r| target(r).filter(|t| *t != "ACCEPT" && *t != "RETURN"))
                        .map_or("another program", writer_of);
                    side.foreign.push(Apart {
                        source: Source::IptablesSave,
                        place: format!("{place} (jumps)"),
                        writer: writer.to_string(),
                        lines: foreign,
                        note: None,
                    });
                }
                continue;
            }
            if !is_kube_proxy_chain(c) {
                side.foreign.push(Apart {
                    source: Source::IptablesSave,
                    place,
                    writer: writer_of(c).to_string(),
                    lines: rules_of(c).to_vec(),
                    note: None,
                });
                continue;
            }
            let chain_owner = match owner.get(c).cloned().flatten() {
                Some(o) => o,
                None if predicted => Owner::KubeProxy,
                None => {
                    side.extra.push(Apart {
                        source: Source::IptablesSave,
                        place,
                        writer: "kube-proxy".into(),
                        lines: rules_of(c).to_vec(),
                        note: extra_note(&table, c),
                    });
                    continue;
                }
            };
            if predicted {
                ctx.predicted_chains
                    .insert(place.clone(), chain_owner.clone());
            }
            // The declaration, so an empty chain that should exist (or should not) is seen.
            side.push(chain_owner.clone(), place.clone(), true, format!(":{c} -"));
            for r in rules_of(c) {
                let o = comment(r)
                    .and_then(comment_owner)
                    .unwrap_or_else(|| chain_owner.clone());
                // A Service's rules inside a shared chain sit at random places among the others.
                let ordered = o == chain_owner;
                side.push(o, place.clone(), ordered, r.clone());
            }
        }
    }
    side
}

/// What a kube-proxy chain the prediction lacks usually is.
fn extra_note(table: &str, chain: &str) -> Option<Text> {
    let (en, zh) = if chain == "KUBE-PROXY-CANARY" {
        (
            format!(
                "kube-proxy's canary in the {table} table: an empty chain it watches to notice a \
                 firewall reload (svclab renders only the nat and filter tables)"
            ),
            format!(
                "kube-proxy 在 {table} 表里的金丝雀链：一条空链，用来发现防火墙被重新加载\
                 （svclab 只生成 nat 和 filter 表）"
            ),
        )
    } else if chain == "KUBE-MARK-DROP" {
        (
            "written by kubelet or kube-proxy before 1.28 (KEP-3178); current versions no longer \
             use it"
                .to_string(),
            "1.28 之前的 kubelet 或 kube-proxy 写的（KEP-3178）；现在的版本已经不用它了"
                .to_string(),
        )
    } else if chain.starts_with("KUBE-XLB-") {
        (
            "an old kube-proxy's chain for externalTrafficPolicy: Local (before 1.24)".to_string(),
            "旧版 kube-proxy 为 externalTrafficPolicy: Local 写的链（1.24 之前）".to_string(),
        )
    } else {
        return None;
    };
    Some(Text::new(zh, en))
}
