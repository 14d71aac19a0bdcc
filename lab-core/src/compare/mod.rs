//! Prediction against reality: what a node's kube-proxy *should* have programmed, next to what
//! the node *shows*, diffed per Service port.
//!
//! `lab-runner compare` lists a cluster's objects (a kind cluster, or the sim), builds a
//! [`ProxySnapshot`] from them as they are (no simulated controller rewrites them), renders the
//! rules each node's kube-proxy would load, and reads the node's own dump (`iptables-save`,
//! `ipvsadm -Ln` + `ipset list` + `iptables-save`, or `nft list table ip kube-proxy`). This module
//! is the pure part: both texts are parsed by the same parser (`iptables`, `ipvs`,
//! `nftables` submodules), every line is attributed to the Service port it serves (from the rule
//! comments, the chain names and the objects) or to kube-proxy itself, and each owner's lines are
//! diffed. What kube-proxy does not own — Docker's and kindnet's chains, kubelet's canary, other
//! nftables tables — is reported apart, and so are kube-proxy chains the prediction has no
//! counterpart for (an older kube-proxy's `KUBE-MARK-DROP`, say): neither counts as a mismatch.
//!
//! Each mismatch carries what was predicted, what was found and a likely cause:
//! - a **stale sync** when the node's rules name other endpoints than the EndpointSlices do, or
//!   lack (or still have) a whole Service port — kube-proxy applies changes after
//!   `minSyncPeriod` (1 s), so a second look usually agrees;
//! - a **version difference** for the rules `spec/kube-proxy.md` lists as depending on the
//!   kube-proxy version or the node (the `nfacct` counters, the INVALID drop, `--random-fully`,
//!   KUBE-FIREWALL, the nftables base chains);
//! - an **unknown feature** when the node's rule uses a match svclab never writes;
//! - otherwise an unexplained difference, with what to look at.
//!
//! [`dns`] does the same for name lookups: a pod's real `nslookup` against `lab_core::dns`'s
//! answer for the same name, from the same `/etc/resolv.conf`.

mod diff;
pub mod dns;
mod iptables;
mod ipvs;
mod nftables;

use crate::config::ProxyMode;
use crate::lab::{Lang, Text};
use crate::proxy::nftables::NftablesOptions;
use crate::proxy::{ProxyError, ProxySnapshot, ServicePortInfo, service_ports};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Which node dump a text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `iptables-save`.
    IptablesSave,
    /// `ipvsadm -Ln`.
    Ipvsadm,
    /// `ipset list`.
    IpsetList,
    /// `nft list table ip kube-proxy` (or `nft list ruleset`).
    Nft,
}

impl Source {
    /// The command that prints it on the node.
    pub fn argv(self) -> Vec<String> {
        let words: &[&str] = match self {
            Source::IptablesSave => &["iptables-save"],
            Source::Ipvsadm => &["ipvsadm", "-Ln"],
            Source::IpsetList => &["ipset", "list"],
            Source::Nft => &["nft", "list", "table", "ip", "kube-proxy"],
        };
        words.iter().map(|w| w.to_string()).collect()
    }
}

/// The dumps to read from a node whose kube-proxy runs in `mode`, in the order
/// [`compare_node`] expects their outputs.
pub fn node_sources(mode: ProxyMode) -> Vec<Source> {
    match mode {
        ProxyMode::Iptables => vec![Source::IptablesSave],
        // IPVS mode programs IPVS, its ipsets, and iptables rules that match them.
        ProxyMode::Ipvs => vec![Source::Ipvsadm, Source::IpsetList, Source::IptablesSave],
        ProxyMode::Nftables => vec![Source::Nft],
    }
}

/// What one node command printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Which dump it is.
    pub source: Source,
    /// The command as run (for the report), e.g. `docker exec kind-worker iptables-save`.
    pub command: String,
    /// Its standard output.
    pub stdout: String,
}

/// Why no comparison could be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    /// The node is not among the cluster's Nodes.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// A dump the mode needs was not given.
    #[error("no output of `{}` for node {node:?}", .dump.argv().join(" "))]
    Missing {
        /// The node.
        node: String,
        /// The dump.
        dump: Source,
    },
    /// The dump is empty or does not look like the tool's output.
    #[error("`{command}` did not print what `{}` prints", .expected.argv().join(" "))]
    NotADump {
        /// The command as run.
        command: String,
        /// The dump it should have printed.
        expected: Source,
    },
}

/// Whose lines these are.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "name")]
pub enum Owner {
    /// kube-proxy's own chains, jumps and sets, shared by every Service.
    KubeProxy,
    /// A Service port, `namespace/name` or `namespace/name:port` (`ServicePortName.String()`).
    ServicePort(String),
}

impl Owner {
    fn label(&self, lang: Lang) -> String {
        match self {
            Owner::KubeProxy => match lang {
                Lang::En => "kube-proxy's own rules".into(),
                Lang::ZhCn => "kube-proxy 自身的规则".into(),
            },
            Owner::ServicePort(s) => s.clone(),
        }
    }
}

/// Kinds of likely cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CauseKind {
    /// The node's kube-proxy has not (yet) applied the objects' current state.
    StaleSync,
    /// A difference `spec/kube-proxy.md` lists as depending on the version or the node.
    VersionDifference,
    /// The node uses a feature svclab does not model.
    UnknownFeature,
    /// None of the above could be told.
    Unexplained,
}

/// A likely cause, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// Which kind.
    pub kind: CauseKind,
    /// The explanation.
    pub text: Text,
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mismatch {
    /// The dump it is in.
    pub source: Source,
    /// Where: `nat KUBE-SEP-…`, `TCP 10.96.0.1:443`, `ipset KUBE-CLUSTER-IP`, `chain services`.
    pub place: String,
    /// The predicted line, if the prediction has one here.
    pub predicted: Option<String>,
    /// The line found, if the node has one here.
    pub found: Option<String>,
    /// The likely cause.
    pub cause: Cause,
}

/// One owner's comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReport {
    /// Whose lines.
    pub owner: Owner,
    /// How many predicted lines were compared.
    pub predicted_lines: usize,
    /// How many lines the node has.
    pub found_lines: usize,
    /// The differences, in place order.
    pub mismatches: Vec<Mismatch>,
}

/// Lines kept apart: not kube-proxy's, or kube-proxy's without a predicted counterpart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Apart {
    /// The dump.
    pub source: Source,
    /// Where (`nat DOCKER_OUTPUT`, `table ip nat`).
    pub place: String,
    /// Who writes it (`Docker`, `kindnet`, `kubelet`, `kube-proxy`…).
    pub writer: String,
    /// Its lines.
    pub lines: Vec<String>,
    /// Why it is there, when known.
    pub note: Option<Text>,
}

/// A node's comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeReport {
    /// The node.
    pub node: String,
    /// kube-proxy's mode (from its ConfigMap).
    pub mode: String,
    /// The commands whose output was compared.
    pub commands: Vec<String>,
    /// kube-proxy's own lines first, then each Service port, sorted.
    pub owners: Vec<OwnerReport>,
    /// Chains, tables and rules of other programs (Docker, kindnet, kubelet).
    pub foreign: Vec<Apart>,
    /// kube-proxy chains the prediction has no counterpart for.
    pub extra: Vec<Apart>,
}

impl NodeReport {
    /// The number of mismatches.
    pub fn mismatch_count(&self) -> usize {
        self.owners.iter().map(|o| o.mismatches.len()).sum()
    }

    /// The report as text for people.
    pub fn text(&self, lang: Lang) -> String {
        let mut out = String::new();
        let zh = lang == Lang::ZhCn;
        out.push_str(&if zh {
            format!(
                "节点 {}（kube-proxy 模式 {}），读取：{}\n",
                self.node,
                self.mode,
                self.commands.join("；")
            )
        } else {
            format!(
                "node {} (kube-proxy mode {}), read with: {}\n",
                self.node,
                self.mode,
                self.commands.join("; ")
            )
        });
        for o in &self.owners {
            if o.mismatches.is_empty() {
                out.push_str(&if zh {
                    format!(
                        "  ✓ {}：{} 行一致\n",
                        o.owner.label(lang),
                        o.predicted_lines
                    )
                } else {
                    format!(
                        "  ✓ {}: {} line{} identical\n",
                        o.owner.label(lang),
                        o.predicted_lines,
                        plural(o.predicted_lines)
                    )
                });
                continue;
            }
            out.push_str(&if zh {
                format!(
                    "  ✗ {}：{} 处不同（预测 {} 行，节点上 {} 行）\n",
                    o.owner.label(lang),
                    o.mismatches.len(),
                    o.predicted_lines,
                    o.found_lines
                )
            } else {
                format!(
                    "  ✗ {}: {} mismatch{} ({} line{} predicted, {} found)\n",
                    o.owner.label(lang),
                    o.mismatches.len(),
                    if o.mismatches.len() == 1 { "" } else { "es" },
                    o.predicted_lines,
                    plural(o.predicted_lines),
                    o.found_lines
                )
            });
            // Mismatches in place order; each run with one cause is followed by that cause.
            let mut i = 0;
            while i < o.mismatches.len() {
                let cause = &o.mismatches[i].cause.text;
                let run = o.mismatches[i..]
                    .iter()
                    .take_while(|m| &m.cause.text == cause)
                    .count();
                for m in &o.mismatches[i..i + run] {
                    out.push_str(&format!("      {}\n", m.place));
                    let none = if zh { "（无）" } else { "(none)" };
                    out.push_str(&predicted_found(
                        lang,
                        m.predicted.as_deref().unwrap_or(none),
                        m.found.as_deref().unwrap_or(none),
                    ));
                }
                out.push_str(&cause_line(lang, cause, run));
                i += run;
            }
        }
        if !self.foreign.is_empty() {
            out.push_str(if zh {
                "  不属于 kube-proxy（不比较）：\n"
            } else {
                "  not kube-proxy's (not compared):\n"
            });
            for a in &self.foreign {
                out.push_str(&apart_line(a, lang));
            }
        }
        if !self.extra.is_empty() {
            out.push_str(if zh {
                "  预测中没有的 kube-proxy 链（单独列出，不算不一致）：\n"
            } else {
                "  kube-proxy chains the prediction does not have (listed apart, not mismatches):\n"
            });
            for a in &self.extra {
                out.push_str(&apart_line(a, lang));
                for l in a.lines.iter().take(3) {
                    out.push_str(&format!("        {l}\n"));
                }
                if a.lines.len() > 3 {
                    out.push_str(&format!("        … (+{})\n", a.lines.len() - 3));
                }
            }
        }
        out
    }
}

/// The `predicted:` / `found:` lines of a difference (a value of several lines is indented
/// under its first).
pub(crate) fn predicted_found(lang: Lang, predicted: &str, found: &str) -> String {
    let (p, f, indent) = match lang {
        Lang::ZhCn => ("预测：", "实际：", 14),
        Lang::En => ("predicted: ", "found:     ", 19),
    };
    let value = |v: &str| v.replace('\n', &format!("\n{}", " ".repeat(indent)));
    format!(
        "        {p}{}\n        {f}{}\n",
        value(predicted),
        value(found)
    )
}

/// The likely cause of the `n` differences above it.
pub(crate) fn cause_line(lang: Lang, cause: &Text, n: usize) -> String {
    let head = match (lang, n) {
        (Lang::ZhCn, 1) => "可能的原因：".to_string(),
        (Lang::ZhCn, n) => format!("可能的原因（以上 {n} 处）："),
        (Lang::En, 1) => "likely cause: ".to_string(),
        (Lang::En, n) => format!("likely cause (of the {n} above): "),
    };
    format!("        {head}{}\n", cause.get(lang))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn apart_line(a: &Apart, lang: Lang) -> String {
    let n = a.lines.len();
    let count = match (lang, n) {
        (Lang::ZhCn, 0) => "空".to_string(),
        (Lang::En, 0) => "empty".to_string(),
        (Lang::ZhCn, n) => format!("{n} 行"),
        (Lang::En, n) => format!("{n} line{}", plural(n)),
    };
    let sep = match lang {
        Lang::ZhCn => "：",
        Lang::En => ": ",
    };
    let note = a
        .note
        .as_ref()
        .map(|t| format!("{sep}{}", t.get(lang)))
        .unwrap_or_default();
    match lang {
        Lang::ZhCn => format!("    - {}（{}，{count}）{note}\n", a.place, a.writer),
        Lang::En => format!("    - {} ({}, {count}){note}\n", a.place, a.writer),
    }
}

/// The lines of one dump, grouped for comparison.
#[derive(Debug, Default)]
pub(crate) struct Side {
    /// Compared units: (owner, place) → lines.
    pub units: BTreeMap<(Owner, String), Unit>,
    /// Not kube-proxy's.
    pub foreign: Vec<Apart>,
    /// kube-proxy's but unattributable (found side only).
    pub extra: Vec<Apart>,
}

/// One compared unit: the lines of a chain (or a chain's lines of one owner), an IPVS virtual
/// server, a set's members.
#[derive(Debug, Default, Clone)]
pub(crate) struct Unit {
    /// Whether order matters (a chain's own rules) or not (a shared chain's rules of one
    /// Service, whose place among the others is random; set members; IPVS real servers).
    pub ordered: bool,
    pub lines: Vec<String>,
}

impl Side {
    pub(crate) fn push(&mut self, owner: Owner, place: String, ordered: bool, line: String) {
        let u = self.units.entry((owner, place)).or_default();
        u.ordered = ordered;
        u.lines.push(line);
    }

    pub(crate) fn declare(&mut self, owner: Owner, place: String, ordered: bool) {
        self.units.entry((owner, place)).or_default().ordered = ordered;
    }
}

/// What the objects say, used to attribute lines to Service ports.
#[derive(Debug, Default)]
pub(crate) struct Context {
    /// Service port name → its info.
    pub ports: BTreeMap<String, ServicePortInfo>,
    /// `KUBE-SVC/SVL/EXT/FW-<hash>` hash → Service port name.
    pub hashes: BTreeMap<String, String>,
    /// (protocol, address, port) a Service port is reached at → its name.
    pub addresses: BTreeMap<(String, Ipv4Addr, u16), String>,
    /// (protocol, nodePort) → Service port name.
    pub node_ports: BTreeMap<(String, u16), String>,
    /// Chains (`table chain`) the prediction has, with their owner.
    pub predicted_chains: BTreeMap<String, Owner>,
}

impl Context {
    fn new(snapshot: &ProxySnapshot) -> Context {
        let mut c = Context::default();
        for (spn, info) in service_ports(&snapshot.services) {
            let name = spn.to_string();
            let proto = spn.protocol.lower().to_string();
            c.hashes.insert(
                crate::proxy::iptables::port_proto_hash(&name, &proto),
                name.clone(),
            );
            for ip in std::iter::once(info.cluster_ip)
                .chain(info.external_ips.iter().copied())
                .chain(info.load_balancer_ips.iter().copied())
            {
                c.addresses
                    .insert((proto.clone(), ip, info.port), name.clone());
            }
            if info.node_port != 0 {
                c.node_ports
                    .insert((proto.clone(), info.node_port), name.clone());
            }
            c.ports.insert(name, info);
        }
        c
    }

    /// The Service port reached at `proto` `ip:port`, as a VIP or a nodePort on any address.
    pub(crate) fn service_at(&self, proto: &str, ip: Ipv4Addr, port: u16) -> Option<&String> {
        let proto = proto.to_ascii_lowercase();
        self.addresses
            .get(&(proto.clone(), ip, port))
            .or_else(|| self.node_ports.get(&(proto, port)))
    }
}

/// The owner a rule comment names: its first word when that is `namespace/name[:port]`.
pub(crate) fn comment_owner(comment: &str) -> Option<Owner> {
    let first = comment.split_whitespace().next()?;
    let (ns, rest) = first.split_once('/')?;
    (!ns.is_empty() && !rest.is_empty() && !rest.contains('/'))
        .then(|| Owner::ServicePort(first.to_string()))
}

/// Who writes a chain that is not kube-proxy's, from its name.
pub(crate) fn writer_of(chain: &str) -> &'static str {
    if chain.starts_with("DOCKER") {
        "Docker"
    } else if chain.starts_with("KIND-") {
        "kindnet"
    } else if chain == "KUBE-KUBELET-CANARY" || chain == "KUBE-IPTABLES-HINT" {
        // The canary, and the hint that tells iptables wrappers which backend is in use.
        "kubelet"
    } else if chain.starts_with("CNI-") || chain.starts_with("cali-") || chain.starts_with("CILIUM")
    {
        "CNI plugin"
    } else {
        "another program"
    }
}

/// Compares the node's dumps (`found`, one per [`node_sources`] of the snapshot's mode) with the
/// prediction for `node`.
pub fn compare_node(
    snapshot: &ProxySnapshot,
    nft: &NftablesOptions,
    node: &str,
    found: &[Found],
) -> Result<NodeReport, CompareError> {
    let mode = snapshot.config.mode;
    let mut ctx = Context::new(snapshot);
    let mut report = NodeReport {
        node: node.to_string(),
        mode: mode.as_str().to_string(),
        commands: Vec::new(),
        owners: Vec::new(),
        foreign: Vec::new(),
        extra: Vec::new(),
    };
    let mut sources: Vec<Source> = Vec::new();
    let mut sides: Vec<(Side, Side)> = Vec::new();
    for (source, predicted_text) in predict(snapshot, nft, node)? {
        let Some(f) = found.iter().find(|f| f.source == source) else {
            return Err(CompareError::Missing {
                node: node.to_string(),
                dump: source,
            });
        };
        report.commands.push(f.command.clone());
        let looks_right = match source {
            Source::IptablesSave => iptables::looks_like(&f.stdout),
            Source::Ipvsadm => ipvs::looks_like_ipvsadm(&f.stdout),
            Source::IpsetList => ipvs::looks_like_ipset(&f.stdout),
            Source::Nft => nftables::looks_like(&f.stdout),
        };
        if !looks_right {
            return Err(CompareError::NotADump {
                command: f.command.clone(),
                expected: source,
            });
        }
        // The prediction first: it tells the found side which chains are whose.
        let parse = match source {
            Source::IptablesSave => iptables::parse,
            Source::Ipvsadm => ipvs::parse_ipvsadm,
            Source::IpsetList => ipvs::parse_ipset,
            Source::Nft => nftables::parse,
        };
        let p = parse(&predicted_text, &mut ctx, true);
        let f = parse(&f.stdout, &mut ctx, false);
        report.foreign.extend(f.foreign.iter().cloned());
        report.extra.extend(f.extra.iter().cloned());
        sources.push(source);
        sides.push((p, f));
    }
    // A Service port's endpoints are judged over all dumps at once (IPVS spreads them over
    // ipvsadm and ipset).
    let stale = diff::stale_causes(&sides, &ctx, node);
    let mut all: BTreeMap<Owner, OwnerReport> = BTreeMap::new();
    for (source, (p, f)) in sources.into_iter().zip(&sides) {
        for (owner, r) in diff::compare(source, p, f, &stale) {
            let entry = all.entry(owner.clone()).or_insert(OwnerReport {
                owner,
                predicted_lines: 0,
                found_lines: 0,
                mismatches: Vec::new(),
            });
            entry.predicted_lines += r.predicted_lines;
            entry.found_lines += r.found_lines;
            entry.mismatches.extend(r.mismatches);
        }
    }
    report.owners = all.into_values().collect();
    Ok(report)
}

/// The predicted text of each dump the snapshot's mode reads, in [`node_sources`] order. IPVS
/// mode's `ipvsadm -Ln` and `ipset list` come from one render of its state.
pub fn predict(
    snapshot: &ProxySnapshot,
    nft: &NftablesOptions,
    node: &str,
) -> Result<Vec<(Source, String)>, ProxyError> {
    use crate::proxy::{iptables as ipt, ipvs as ipv, nftables as nf};
    Ok(match snapshot.config.mode {
        ProxyMode::Iptables => vec![(Source::IptablesSave, ipt::render_save(snapshot, node)?)],
        ProxyMode::Ipvs => {
            let state = ipv::render(snapshot, node, &ipv::IpvsOptions::default())?;
            vec![
                (Source::Ipvsadm, state.ipvsadm_text()),
                (Source::IpsetList, state.ipset_list_text()),
                (
                    Source::IptablesSave,
                    ipv::render_iptables_save(snapshot, node)?,
                ),
            ]
        }
        ProxyMode::Nftables => vec![(Source::Nft, nf::render(snapshot, node, nft)?.list_text())],
    })
}

/// Collapses runs of blanks outside double quotes, so that spacing never counts as a difference.
pub(crate) fn normalize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut quoted = false;
    let mut blank = false;
    for ch in line.trim().chars() {
        if ch == '"' {
            quoted = !quoted;
        }
        if !quoted && ch.is_whitespace() {
            blank = true;
            continue;
        }
        if blank {
            out.push(' ');
            blank = false;
        }
        out.push(ch);
    }
    out
}

/// The endpoints (`IP:port`) a set of lines sends traffic to.
pub(crate) fn endpoints_in<'a>(lines: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for l in lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            // iptables `--to-destination IP:PORT`, nft `dnat to IP:PORT`, ipvsadm `-> IP:PORT`.
            let prev = if i > 0 { words[i - 1] } else { "" };
            if matches!(prev, "--to-destination" | "to" | "->")
                && w.split_once(':').is_some_and(|(ip, p)| {
                    ip.parse::<Ipv4Addr>().is_ok() && p.parse::<u16>().is_ok()
                })
            {
                out.insert(w.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
