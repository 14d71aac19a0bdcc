//! The diff itself: per owner and place, the predicted lines against the lines found, in order
//! where order matters and as multisets where it does not; each difference paired with its most
//! similar counterpart and given a likely cause.

use super::{
    Cause, CauseKind, Context, Mismatch, Owner, OwnerReport, Side, Source, Unit, endpoints_in,
};
use crate::lab::Text;
use std::collections::{BTreeMap, BTreeSet};

/// Above this many line pairs an ordered unit is compared as a multiset (the LCS table would be
/// too big; such units are kube-proxy's shared chains in huge clusters).
const MAX_LCS_CELLS: usize = 4_000_000;
/// Above this many (missing × unexpected) line pairs, lines are not paired by similarity: they
/// are listed as missing and unexpected (two unrelated rule sets, not a few changed lines).
const MAX_PAIRINGS: usize = 250_000;

/// Diffs two parsed dumps of `source`, owner by owner.
pub(crate) fn compare(
    source: Source,
    predicted: &Side,
    found: &Side,
    stale: &BTreeMap<Owner, Cause>,
) -> Vec<(Owner, OwnerReport)> {
    let empty = Unit::default();
    let mut by_owner: BTreeMap<&Owner, BTreeSet<&String>> = BTreeMap::new();
    for (owner, place) in predicted.units.keys().chain(found.units.keys()) {
        by_owner.entry(owner).or_default().insert(place);
    }
    let matches_known = known_words(predicted);
    let mut out = Vec::new();
    for (owner, places) in by_owner {
        let lines = |side: &Side| -> Vec<String> {
            places
                .iter()
                .filter_map(|p| side.units.get(&(owner.clone(), (*p).clone())))
                .flat_map(|u| u.lines.iter().cloned())
                .collect()
        };
        let (p_all, f_all) = (lines(predicted), lines(found));
        let stale = stale.get(owner);
        let mut report = OwnerReport {
            owner: owner.clone(),
            predicted_lines: p_all.len(),
            found_lines: f_all.len(),
            mismatches: Vec::new(),
        };
        for place in places {
            let key = (owner.clone(), place.clone());
            let p = predicted.units.get(&key).unwrap_or(&empty);
            let f = found.units.get(&key).unwrap_or(&empty);
            let ordered = p.ordered || f.ordered;
            // A whole chain (set members, virtual server) on one side only is one difference.
            let whole = |lines: &[String]| Some(lines.join("\n"));
            let diffs = match (p.lines.is_empty(), f.lines.is_empty()) {
                (true, true) => Vec::new(),
                (false, true) => vec![(whole(&p.lines), None)],
                (true, false) => vec![(None, whole(&f.lines))],
                (false, false) => differences(&p.lines, &f.lines, ordered),
            };
            for (pl, fl) in diffs {
                let cause = cause(pl.as_deref(), fl.as_deref(), stale, &matches_known);
                report.mismatches.push(Mismatch {
                    source,
                    place: place.clone(),
                    predicted: pl,
                    found: fl,
                    cause,
                });
            }
        }
        out.push((owner.clone(), report));
    }
    out
}

/// The differences between two line lists, paired: `(Some(p), Some(f))` a changed line,
/// `(Some(p), None)` a missing one, `(None, Some(f))` an unexpected one.
pub(crate) fn differences(
    p: &[String],
    f: &[String],
    ordered: bool,
) -> Vec<(Option<String>, Option<String>)> {
    if p == f {
        return Vec::new();
    }
    let mut out = Vec::new();
    if ordered && p.len().saturating_mul(f.len()) <= MAX_LCS_CELLS {
        // Runs of deletions and insertions between common lines, each run paired on its own.
        let mut dels = Vec::new();
        let mut ins = Vec::new();
        for op in lcs(p, f) {
            match op {
                Op::Same => {
                    pair(&mut dels, &mut ins, &mut out);
                }
                Op::Del(i) => dels.push(p[i].clone()),
                Op::Ins(j) => ins.push(f[j].clone()),
            }
        }
        pair(&mut dels, &mut ins, &mut out);
    } else {
        let mut counts: BTreeMap<&String, i64> = BTreeMap::new();
        for l in p {
            *counts.entry(l).or_default() += 1;
        }
        for l in f {
            *counts.entry(l).or_default() -= 1;
        }
        let mut dels = Vec::new();
        let mut ins = Vec::new();
        for (l, n) in counts {
            for _ in 0..n.max(0) {
                dels.push(l.clone());
            }
            for _ in 0..(-n).max(0) {
                ins.push(l.clone());
            }
        }
        pair(&mut dels, &mut ins, &mut out);
    }
    out
}

enum Op {
    Same,
    Del(usize),
    Ins(usize),
}

/// A longest-common-subsequence edit script.
fn lcs(p: &[String], f: &[String]) -> Vec<Op> {
    let (n, m) = (p.len(), f.len());
    let mut t = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[at(i, j)] = if p[i] == f[j] {
                t[at(i + 1, j + 1)] + 1
            } else {
                t[at(i + 1, j)].max(t[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && p[i] == f[j] {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if j < m && (i == n || t[at(i, j + 1)] >= t[at(i + 1, j)]) {
            ops.push(Op::Ins(j));
            j += 1;
        } else {
            ops.push(Op::Del(i));
            i += 1;
        }
    }
    ops
}

/// Pairs each missing line with the most similar unexpected one (a long common prefix or the
/// same words in most places), so a changed DNAT target reads as one change, not two.
fn pair(
    dels: &mut Vec<String>,
    ins: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Option<String>)>,
) {
    if dels.len().saturating_mul(ins.len()) > MAX_PAIRINGS {
        out.extend(dels.drain(..).map(|d| (Some(d), None)));
        out.extend(ins.drain(..).map(|i| (None, Some(i))));
        return;
    }
    let mut ins_left: Vec<Option<String>> = ins.drain(..).map(Some).collect();
    for d in dels.drain(..) {
        let best = ins_left
            .iter()
            .enumerate()
            .filter_map(|(k, i)| i.as_ref().map(|i| (k, similarity(&d, i))))
            .filter(|(_, s)| *s >= 0.5)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((k, _)) => out.push((Some(d), ins_left[k].take())),
            None => out.push((Some(d), None)),
        }
    }
    out.extend(ins_left.into_iter().flatten().map(|i| (None, Some(i))));
}

/// Share of word positions two lines agree on.
fn similarity(a: &str, b: &str) -> f64 {
    let (wa, wb): (Vec<&str>, Vec<&str>) = (
        a.split_whitespace().collect(),
        b.split_whitespace().collect(),
    );
    let longest = wa.len().max(wb.len()).max(1);
    let same = wa.iter().zip(&wb).filter(|(x, y)| x == y).count();
    same as f64 / longest as f64
}

/// Match modules, targets and keywords the prediction uses (`-m X`, `-j X`), so a found line
/// using another is an unknown feature.
fn known_words(predicted: &Side) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for u in predicted.units.values() {
        for l in &u.lines {
            let w: Vec<&str> = l.split_whitespace().collect();
            for pair in w.windows(2) {
                if pair[0] == "-m" || pair[0] == "-j" {
                    out.insert(pair[1].to_string());
                }
            }
        }
    }
    out
}

/// Each Service port's likely stale-sync cause, from its lines in every dump of the node.
pub(crate) fn stale_causes(
    sides: &[(Side, Side)],
    ctx: &Context,
    node: &str,
) -> BTreeMap<Owner, Cause> {
    let mut lines: BTreeMap<&Owner, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (p, f) in sides {
        for ((o, _), u) in &p.units {
            lines
                .entry(o)
                .or_default()
                .0
                .extend(u.lines.iter().cloned());
        }
        for ((o, _), u) in &f.units {
            lines
                .entry(o)
                .or_default()
                .1
                .extend(u.lines.iter().cloned());
        }
    }
    lines
        .into_iter()
        .filter_map(|(o, (p, f))| stale_cause(o, &p, &f, ctx, node).map(|c| (o.clone(), c)))
        .collect()
}

/// A Service port's lines as a whole: do they point at other endpoints than the objects say, or
/// is the port missing on one side?
fn stale_cause(
    owner: &Owner,
    p: &[String],
    f: &[String],
    ctx: &Context,
    node: &str,
) -> Option<Cause> {
    let Owner::ServicePort(name) = owner else {
        return None;
    };
    let stale = |en: String, zh: String| {
        Some(Cause {
            kind: CauseKind::StaleSync,
            text: Text::new(zh, en),
        })
    };
    if !ctx.ports.contains_key(name) && p.is_empty() {
        return stale(
            format!(
                "a stale sync: the cluster has no Service port {name}, so these rules are left \
                 from before it was deleted or changed; kube-proxy removes them on its next sync \
                 (about a second), so rules that last mean kube-proxy on this node is not syncing"
            ),
            format!(
                "同步滞后：集群里已没有 Service 端口 {name}，这些规则是它被删除或修改之前留下的；\
                 kube-proxy 下一次同步（约一秒内）会删掉它们，一直留着就说明这个节点上的 kube-proxy 没有在同步"
            ),
        );
    }
    if f.is_empty() && !p.is_empty() {
        return stale(
            format!(
                "node {node} has no rules for {name}: a stale sync (kube-proxy programs a new \
                 Service port within about a second), or kube-proxy is not running on this node \
                 (kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide)"
            ),
            format!(
                "节点 {node} 上没有 {name} 的规则：同步滞后（kube-proxy 约一秒内就会写入新的 \
                 Service 端口），或者这个节点上的 kube-proxy 没有运行\
                 （kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide）"
            ),
        );
    }
    let (pe, fe) = (endpoints_in(p), endpoints_in(f));
    if pe != fe {
        let list = |s: &BTreeSet<String>, none: &str| {
            if s.is_empty() {
                none.to_string()
            } else {
                s.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        };
        return stale(
            format!(
                "a stale sync: the node's rules send {name} to {} while its EndpointSlices list \
                 {}; kube-proxy applies an EndpointSlice change within about a second \
                 (minSyncPeriod), so a difference that lasts means kube-proxy on this node is not \
                 syncing (kubectl -n kube-system logs -l k8s-app=kube-proxy)",
                list(&fe, "no endpoint"),
                list(&pe, "no ready endpoint")
            ),
            format!(
                "同步滞后：节点上的规则把 {name} 转发到 {}，而它的 EndpointSlice 列出的是 {}；\
                 kube-proxy 会在约一秒内（minSyncPeriod）应用 EndpointSlice 的变化，\
                 差异一直存在就说明这个节点上的 kube-proxy 没有在同步\
                 （kubectl -n kube-system logs -l k8s-app=kube-proxy）",
                list(&fe, "没有端点"),
                list(&pe, "没有就绪的端点")
            ),
        );
    }
    None
}

/// A known version or node difference a line shows (the ones `spec/kube-proxy.md` lists).
fn version_difference(line: &str) -> Option<Text> {
    let has = |s: &str| line.contains(s);
    let (en, zh) = if has("nfacct") {
        (
            "a version or node difference: kube-proxy adds the `-m nfacct` counter match only \
             where it could create the counter (kernel nfnetlink_acct)",
            "版本或节点差异：只有在能创建计数器（内核的 nfnetlink_acct）时，kube-proxy 才会加上 \
             `-m nfacct` 匹配",
        )
    } else if has("--ctstate INVALID") {
        (
            "a node difference: kube-proxy leaves the INVALID drop out when the node sets \
             net.netfilter.nf_conntrack_tcp_be_liberal",
            "节点差异：节点设置了 net.netfilter.nf_conntrack_tcp_be_liberal 时，kube-proxy 不写 \
             INVALID 丢弃规则",
        )
    } else if has("random-fully") || has("fully-random") {
        (
            "a node difference: `--random-fully` is written only when the node's iptables \
             supports it",
            "节点差异：只有节点的 iptables 支持时才会写 `--random-fully`",
        )
    } else if has("KUBE-FIREWALL") {
        (
            "a version difference: kubelet and kube-proxy both write KUBE-FIREWALL, and which \
             rules appear depends on their versions (KEP-3178)",
            "版本差异：kubelet 和 kube-proxy 都会写 KUBE-FIREWALL，出现哪些规则取决于两者的版本\
             （KEP-3178）",
        )
    } else if has("127.0.0.0/8") || has("localhost") {
        (
            "a configuration difference: iptables.localhostNodePorts (and the node's \
             route_localnet) decide the localhost NodePort rules",
            "配置差异：localhost 上的 NodePort 规则取决于 iptables.localhostNodePorts\
             （以及节点的 route_localnet）",
        )
    } else if has(" hook ") || has("filter-prerouting") || has("post-dnat") {
        (
            "a version difference: kube-proxy's nftables base chains changed between 1.31 and \
             1.33 (filter-prerouting vs filter-prerouting-pre-dnat, priorities)",
            "版本差异：kube-proxy 的 nftables 基础链在 1.31 到 1.33 之间有变化\
             （filter-prerouting 与 filter-prerouting-pre-dnat、优先级）",
        )
    } else if has("unallocated ClusterIPs") {
        (
            "a cluster difference: the rule names the Service CIDR, and svclab assumes kind's \
             10.96.0.0/16",
            "集群差异：这条规则写的是 Service 网段，svclab 假定是 kind 的 10.96.0.0/16\
             ",
        )
    } else {
        return None;
    };
    Some(Text::new(zh, en))
}

/// The likely cause of one difference.
fn cause(
    predicted: Option<&str>,
    found: Option<&str>,
    stale: Option<&Cause>,
    known: &BTreeSet<String>,
) -> Cause {
    if let Some(text) = predicted
        .and_then(version_difference)
        .or_else(|| found.and_then(version_difference))
    {
        return Cause {
            kind: CauseKind::VersionDifference,
            text,
        };
    }
    if let Some(s) = stale {
        return s.clone();
    }
    if let Some(f) = found {
        let w: Vec<&str> = f.split_whitespace().collect();
        let unknown = w.windows(2).find(|p| {
            (p[0] == "-m" || p[0] == "-j") && !known.contains(p[1]) && !p[1].starts_with("KUBE-")
        });
        if let Some(p) = unknown {
            return Cause {
                kind: CauseKind::UnknownFeature,
                text: Text::new(
                    format!(
                        "未建模的功能：节点上的规则用了 `{} {}`，svclab 预测的规则里没有它（新版本的 \
                         kube-proxy 或另一个程序写的）",
                        p[0], p[1]
                    ),
                    format!(
                        "an unknown feature: the node's rule uses `{} {}`, which svclab's \
                         prediction never writes (a newer kube-proxy, or another program)",
                        p[0], p[1]
                    ),
                ),
            };
        }
    }
    Cause {
        kind: CauseKind::Unexplained,
        text: Text::new(
            "不是已知的版本差异：请查看节点上 kube-proxy 的版本（svclab 按 v1.33 预测）和它的配置\
             （kubectl -n kube-system get configmap kube-proxy -o yaml）",
            "not a known version difference: check the node's kube-proxy version (svclab \
             predicts v1.33) and its configuration (kubectl -n kube-system get configmap \
             kube-proxy -o yaml)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn ordered_changes_pair_up() {
        let p = v(&["a 1", "b x y z", "c 3"]);
        let f = v(&["a 1", "b x y w", "c 3", "d 4"]);
        let d = differences(&p, &f, true);
        assert_eq!(
            d,
            vec![
                (Some("b x y z".into()), Some("b x y w".into())),
                (None, Some("d 4".into()))
            ]
        );
        assert!(differences(&p, &p, true).is_empty());
    }

    #[test]
    fn order_counts_only_when_ordered() {
        let p = v(&["a", "b"]);
        let f = v(&["b", "a"]);
        assert!(differences(&p, &f, false).is_empty());
        assert_eq!(differences(&p, &f, true).len(), 2);
    }

    #[test]
    fn unrelated_rule_sets_are_listed_not_paired() {
        let p: Vec<String> = (0..600).map(|i| format!("-A X -j P{i}")).collect();
        let f: Vec<String> = (0..600).map(|i| format!("-A X -j F{i}")).collect();
        let d = differences(&p, &f, false);
        assert_eq!(d.len(), 1200);
        assert!(d.iter().all(|(a, b)| a.is_none() != b.is_none()));
    }

    #[test]
    fn multisets_count_duplicates() {
        let p = v(&["a", "a"]);
        let f = v(&["a"]);
        assert_eq!(differences(&p, &f, false), vec![(Some("a".into()), None)]);
    }
}
