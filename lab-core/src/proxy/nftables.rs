//! kube-proxy's nftables mode: the `ip kube-proxy` table one node's kube-proxy programs.
//!
//! Mirrors kubernetes/kubernetes `pkg/proxy/nftables/proxier.go` (`setupNFTables`,
//! `syncProxyRules`, `writeServiceToEndpointRules`, `servicePortChainNameBase`,
//! `servicePortEndpointChainNameBase`, `hashAndTruncate`) and the expectations of
//! `pkg/proxy/nftables/proxier_test.go` (`baseRules`, `TestOverallNFTablesRules`). The listed
//! form follows what `nft list table ip kube-proxy` prints (nftables' `src/rule.c` /
//! `src/expression.c` printers), checked against the real `nft` in a network namespace.
//!
//! Two texts come out of one [`NftablesRules`]:
//! - [`NftablesRules::transaction_text`]: the `add …` commands of kube-proxy's first full sync, in
//!   its write order (kube-proxy walks a Go map of services; we walk them sorted by
//!   `ns/name`, port name, protocol), which `nft -f` accepts;
//! - [`NftablesRules::list_text`]: what `nft list table ip kube-proxy` prints afterwards: the table
//!   comment, then every named set and map in creation order, then every chain in creation order,
//!   separated by blank lines; set elements sorted as nft sorts them and wrapped as nft wraps
//!   them; rules normalised as nft prints them (`meta mark set meta mark | 0x00004000`,
//!   single-element anonymous sets without braces, …).
//!
//! Chain names: `service-`/`local-`/`external-`/`firewall-` + the base of the service port,
//! `endpoint-` (chain) and `affinity-` (set) + the base of an endpoint. A base is the first 8
//! base32 characters of SHA-256 of `ns/name/proto/portname` (plus `__IP/port` for an endpoint),
//! `-`, then that string; that prefix is the one [`super::iptables::port_proto_hash`] computes
//! when given the whole string and an empty protocol.
//!
//! Fresh renders only (a kube-proxy that starts on an empty table): stale-chain flushing and
//! partial syncs are not modelled. Only the IPv4 table is rendered.

use super::iptables::port_proto_hash;
use super::{
    EndpointInfo, LocalDetector, ProxyError, ProxySnapshot, ServicePortInfo, ServicePortName,
    categorize_endpoints, endpoints_map, node_port_cidrs, service_ports,
};
use crate::cluster::Cluster;
use crate::config::Cidr;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The table's name (`kubeProxyTable`).
pub const TABLE: &str = "kube-proxy";
/// The table's comment.
pub const TABLE_COMMENT: &str = "rules for kube-proxy";
/// `knftables.NameLengthMax` minus the longest prefix (`chainNameBaseLengthMax`).
pub const CHAIN_NAME_BASE_LENGTH_MAX: usize = 256 - 16;

const CLUSTER_IPS: &str = "cluster-ips";
const NODEPORT_IPS: &str = "nodeport-ips";
const SERVICE_IPS: &str = "service-ips";
const SERVICE_NODEPORTS: &str = "service-nodeports";
const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
const FIREWALL_IPS: &str = "firewall-ips";
const SERVICES: &str = "services";
const SERVICE_ENDPOINTS_CHECK: &str = "service-endpoints-check";
const NODEPORT_ENDPOINTS_CHECK: &str = "nodeport-endpoints-check";
const REJECT_CHAIN: &str = "reject-chain";
const CLUSTER_IPS_CHECK: &str = "cluster-ips-check";
const FIREWALL_CHECK: &str = "firewall-check";
const MARK_MASQ: &str = "mark-for-masquerade";
const MASQUERADING: &str = "masquerading";

const FILTER_PREROUTING_PRE_DNAT: &str = "filter-prerouting-pre-dnat";
const FILTER_OUTPUT_PRE_DNAT: &str = "filter-output-pre-dnat";
const FILTER_INPUT: &str = "filter-input";
const FILTER_FORWARD: &str = "filter-forward";
const FILTER_OUTPUT: &str = "filter-output";
const NAT_PREROUTING: &str = "nat-prerouting";
const NAT_OUTPUT: &str = "nat-output";
const NAT_POSTROUTING: &str = "nat-postrouting";

const ADDR_PROTO_PORT: &str = "ipv4_addr . inet_proto . inet_service : verdict";
const PROTO_PORT: &str = "inet_proto . inet_service : verdict";

/// `nftablesBaseChains`: name, type, hook, priority (as a number).
const BASE_CHAINS: &[(&str, &str, &str, i32)] = &[
    (FILTER_PREROUTING_PRE_DNAT, "filter", "prerouting", -110),
    (FILTER_OUTPUT_PRE_DNAT, "filter", "output", -110),
    (FILTER_INPUT, "filter", "input", 0),
    (FILTER_FORWARD, "filter", "forward", 0),
    (FILTER_OUTPUT, "filter", "output", 0),
    (NAT_PREROUTING, "nat", "prerouting", -100),
    (NAT_OUTPUT, "nat", "output", -100),
    (NAT_POSTROUTING, "nat", "postrouting", 100),
];

/// `nftablesJumpChains`: destination, source, extra match.
const JUMP_CHAINS: &[(&str, &str, &str)] = &[
    (NODEPORT_ENDPOINTS_CHECK, FILTER_INPUT, "ct state new"),
    (SERVICE_ENDPOINTS_CHECK, FILTER_INPUT, "ct state new"),
    (SERVICE_ENDPOINTS_CHECK, FILTER_FORWARD, "ct state new"),
    (SERVICE_ENDPOINTS_CHECK, FILTER_OUTPUT, "ct state new"),
    (FIREWALL_CHECK, FILTER_PREROUTING_PRE_DNAT, "ct state new"),
    (FIREWALL_CHECK, FILTER_OUTPUT_PRE_DNAT, "ct state new"),
    (SERVICES, NAT_OUTPUT, ""),
    (SERVICES, NAT_PREROUTING, ""),
    (MASQUERADING, NAT_POSTROUTING, ""),
    (CLUSTER_IPS_CHECK, FILTER_FORWARD, "ct state new"),
    (CLUSTER_IPS_CHECK, FILTER_OUTPUT, "ct state new"),
];

/// Facts kube-proxy learns outside the snapshot's objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftablesOptions {
    /// The IPv4 ServiceCIDRs (from the ServiceCIDR objects); empty drops the
    /// "Drop traffic to unallocated ClusterIPs" rule.
    pub service_cidrs: Vec<Cidr>,
}

impl Default for NftablesOptions {
    fn default() -> Self {
        NftablesOptions::kind()
    }
}

impl NftablesOptions {
    /// A kind cluster: ServiceCIDR `10.96.0.0/16`.
    pub fn kind() -> NftablesOptions {
        NftablesOptions {
            service_cidrs: Cidr::parse("10.96.0.0/16").into_iter().collect(),
        }
    }

    /// The simulated cluster's Service range.
    pub fn for_cluster(cluster: &Cluster) -> NftablesOptions {
        NftablesOptions {
            service_cidrs: vec![cluster.config().service_cidr],
        }
    }
}

/// `hashAndTruncate`: 8 base32 characters of SHA-256 of `name`, `-`, `name`, cut to 240
/// characters (ending in `...`) if longer.
pub fn hash_and_truncate(name: &str) -> String {
    let hash = port_proto_hash(name, "");
    let mut out = format!("{}-{name}", &hash[..8]);
    if out.len() > CHAIN_NAME_BASE_LENGTH_MAX {
        let mut cut = CHAIN_NAME_BASE_LENGTH_MAX - 3;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

/// `servicePortChainNameBase`: e.g. `P26LWKKU-default/httpd-svc/tcp/` for an unnamed TCP port.
pub fn service_chain_base(spn: &ServicePortName) -> String {
    hash_and_truncate(&format!(
        "{}/{}/{}",
        spn.namespaced_name,
        spn.protocol.lower(),
        spn.port
    ))
}

/// `servicePortEndpointChainNameBase`: e.g. `5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80`.
pub fn endpoint_chain_base(spn: &ServicePortName, ip: Ipv4Addr, port: u16) -> String {
    hash_and_truncate(&format!(
        "{}/{}/{}__{ip}/{port}",
        spn.namespaced_name,
        spn.protocol.lower(),
        spn.port
    ))
}

/// One rule: its transaction text and its listed text (what `nft list` prints back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftRule {
    /// The rule as kube-proxy writes it (after `add rule ip kube-proxy CHAIN`).
    pub text: String,
    /// The rule as `nft list` prints it.
    pub listed: String,
}

/// A chain of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftChain {
    /// Name.
    pub name: String,
    /// For a base chain: type, hook and numeric priority.
    pub base: Option<(String, String, i32)>,
    /// Chain comment (only `reject-chain` has one).
    pub comment: Option<String>,
    /// Rules in order.
    pub rules: Vec<NftRule>,
}

/// One set or map element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftElement {
    /// Key parts (`10.96.0.1`, `tcp`, `443`).
    pub key: Vec<String>,
    /// Element comment.
    pub comment: Option<String>,
    /// Verdict for a map (`goto service-…`, `drop`).
    pub value: Option<String>,
}

impl NftElement {
    pub(crate) fn text(&self) -> String {
        let mut s = self.key.join(" . ");
        if let Some(c) = &self.comment {
            s.push_str(&format!(" comment \"{c}\""));
        }
        if let Some(v) = &self.value {
            s.push_str(&format!(" : {v}"));
        }
        s
    }

    /// nft's element order: the key parts' bytes concatenated (`concat_expr_msort_value`) and
    /// read as a host-endian (little-endian) number; a lone address sorts numerically.
    pub(crate) fn sort_key(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for k in &self.key {
            if let Ok(ip) = k.parse::<Ipv4Addr>() {
                bytes.extend_from_slice(&ip.octets());
            } else if let Some(p) = proto_number(k) {
                bytes.push(p);
            } else if let Ok(port) = k.parse::<u16>() {
                bytes.extend_from_slice(&port.to_be_bytes());
            } else {
                bytes.extend_from_slice(k.as_bytes());
            }
        }
        if self.key.len() > 1 {
            bytes.reverse();
        }
        bytes
    }
}

fn proto_number(p: &str) -> Option<u8> {
    match p {
        "tcp" => Some(6),
        "udp" => Some(17),
        "sctp" => Some(132),
        _ => None,
    }
}

/// A named set or map of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftSet {
    /// Name.
    pub name: String,
    /// A verdict map (`map`) rather than a set.
    pub is_map: bool,
    /// `type …` (for a map, `key : verdict`).
    pub type_: String,
    /// Affinity set: `flags dynamic,timeout` with this timeout in seconds.
    pub timeout: Option<u32>,
    /// Set comment.
    pub comment: Option<String>,
    /// Elements, keyed by nft's sort order.
    pub elements: BTreeMap<Vec<u8>, NftElement>,
}

/// The whole `ip kube-proxy` table for one node, in kube-proxy's creation order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NftablesRules {
    /// Named sets and maps in creation order.
    pub sets: Vec<NftSet>,
    /// Chains in creation order.
    pub chains: Vec<NftChain>,
    /// The transaction text, line by line.
    pub(crate) transaction: Vec<String>,
    set_index: BTreeMap<String, usize>,
    chain_index: BTreeMap<String, usize>,
    /// Elements in the order they were added, for per-service chunks (kept only while
    /// `log_elements` is set: a full render does not need them).
    pub(crate) element_log: Vec<(String, NftElement)>,
    pub(crate) log_elements: bool,
}

impl NftablesRules {
    pub(crate) fn line(&mut self, l: String) {
        self.transaction.push(l);
    }

    fn add_chain(&mut self, name: &str, base: Option<(&str, &str, i32)>, comment: Option<&str>) {
        if self.chain_index.contains_key(name) {
            return;
        }
        let mut l = format!("add chain ip {TABLE} {name}");
        if let Some((t, h, p)) = base {
            l.push_str(&format!(" {{ type {t} hook {h} priority {p} ; }}"));
        } else if let Some(c) = comment {
            l.push_str(&format!(" {{ comment \"{c}\" ; }}"));
        }
        self.line(l);
        self.chain_index.insert(name.to_string(), self.chains.len());
        self.chains.push(NftChain {
            name: name.to_string(),
            base: base.map(|(t, h, p)| (t.to_string(), h.to_string(), p)),
            comment: comment.map(str::to_string),
            rules: Vec::new(),
        });
    }

    fn rule(&mut self, chain: &str, text: &str, listed: &str) {
        self.add_chain(chain, None, None);
        self.line(format!("add rule ip {TABLE} {chain} {text}"));
        if let Some(&i) = self.chain_index.get(chain) {
            self.chains[i].rules.push(NftRule {
                text: text.to_string(),
                listed: listed.to_string(),
            });
        }
    }

    fn same_rule(&mut self, chain: &str, text: &str) {
        self.rule(chain, text, text);
    }

    fn add_set(
        &mut self,
        name: &str,
        is_map: bool,
        type_: &str,
        comment: Option<&str>,
        timeout: Option<u32>,
    ) {
        if self.set_index.contains_key(name) {
            return;
        }
        let mut l = format!(
            "add {} ip {TABLE} {name} {{ type {type_} ;",
            if is_map { "map" } else { "set" }
        );
        if let Some(t) = timeout {
            l.push_str(&format!(" flags dynamic,timeout ; timeout {t}s ;"));
        }
        if let Some(c) = comment {
            l.push_str(&format!(" comment \"{c}\" ;"));
        }
        l.push_str(" }");
        self.line(l);
        self.set_index.insert(name.to_string(), self.sets.len());
        self.sets.push(NftSet {
            name: name.to_string(),
            is_map,
            type_: type_.to_string(),
            timeout,
            comment: comment.map(str::to_string),
            elements: BTreeMap::new(),
        });
    }

    pub(crate) fn element(
        &mut self,
        set: &str,
        key: Vec<String>,
        comment: Option<&str>,
        value: Option<String>,
    ) {
        let e = NftElement {
            key,
            comment: comment.map(str::to_string),
            value,
        };
        if let Some(&i) = self.set_index.get(set) {
            let k = e.sort_key();
            if self.sets[i].elements.contains_key(&k) {
                return; // ensureElem: already present
            }
            self.line(format!("add element ip {TABLE} {set} {{ {} }}", e.text()));
            if self.log_elements {
                self.element_log.push((set.to_string(), e.clone()));
            }
            self.sets[i].elements.insert(k, e);
        }
    }

    /// The `nft -f` input: kube-proxy's transaction for a first full sync.
    pub fn transaction_text(&self) -> String {
        let mut s = String::new();
        for l in &self.transaction {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// What `nft list table ip kube-proxy` prints.
    pub fn list_text(&self) -> String {
        let mut out = format!("table ip {TABLE} {{\n\tcomment \"{TABLE_COMMENT}\"\n");
        let mut delim = "";
        for set in &self.sets {
            out.push_str(delim);
            delim = "\n";
            list_set(&mut out, set, self.set_used_by_update(&set.name));
        }
        for chain in &self.chains {
            out.push_str(delim);
            delim = "\n";
            list_chain(&mut out, chain);
        }
        out.push_str("}\n");
        out
    }

    fn set_used_by_update(&self, set: &str) -> bool {
        let needle = format!("update @{set} ");
        self.chains
            .iter()
            .any(|c| c.rules.iter().any(|r| r.text.starts_with(&needle)))
    }

    /// Number of rules in all chains.
    pub fn rule_count(&self) -> usize {
        self.chains.iter().map(|c| c.rules.len()).sum()
    }

    /// A chain by name.
    pub fn chain(&self, name: &str) -> Option<&NftChain> {
        self.chain_index.get(name).map(|&i| &self.chains[i])
    }

    /// A set or map by name.
    pub fn set(&self, name: &str) -> Option<&NftSet> {
        self.set_index.get(name).map(|&i| &self.sets[i])
    }
}

/// nft's `time_print`: `3h`, `1d2h3m4s`.
fn nft_duration(secs: u32) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let units = [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let mut rest = secs;
    let mut s = String::new();
    for (n, u) in units {
        if rest >= n {
            s.push_str(&format!("{}{u}", rest / n));
            rest %= n;
        }
    }
    s
}

fn list_set(out: &mut String, set: &NftSet, used_by_update: bool) {
    out.push_str(&format!(
        "\t{} {} {{\n\t\ttype {}\n",
        if set.is_map { "map" } else { "set" },
        set.name,
        set.type_
    ));
    if let Some(t) = set.timeout {
        if used_by_update {
            out.push_str("\t\tsize 65535\n");
        }
        out.push_str(&format!(
            "\t\tflags dynamic,timeout\n\t\ttimeout {}\n",
            nft_duration(t)
        ));
    }
    if let Some(c) = &set.comment {
        out.push_str(&format!("\t\tcomment \"{c}\"\n"));
    }
    if !set.elements.is_empty() {
        // calculate_delim: concatenations and maps one per line, addresses two per line.
        let per_line = if set.is_map || set.type_.contains(" . ") {
            1
        } else {
            2
        };
        out.push_str("\t\telements = { ");
        for (i, e) in set.elements.values().enumerate() {
            if i > 0 {
                if i % per_line == 0 {
                    out.push_str(",\n\t\t\t     ");
                } else {
                    out.push_str(", ");
                }
            }
            out.push_str(&e.text());
        }
        out.push_str(" }\n");
    }
    out.push_str("\t}\n");
}

/// nft's name for a base-chain priority, where one is valid for the hook.
fn priority_text(type_: &str, hook: &str, p: i32) -> String {
    let named: &[(&str, i32)] = match (type_, hook) {
        (_, "prerouting") => &[("dstnat", -100), ("filter", 0)],
        (_, "postrouting") => &[("srcnat", 100), ("filter", 0)],
        _ => &[("filter", 0)],
    };
    for (name, base) in named {
        let d = p - base;
        if d == 0 {
            return (*name).to_string();
        }
        if d.abs() <= 10 && *name != "filter" {
            return format!("{name} {} {}", if d < 0 { '-' } else { '+' }, d.abs());
        }
    }
    p.to_string()
}

fn list_chain(out: &mut String, chain: &NftChain) {
    out.push_str(&format!("\tchain {} {{\n", chain.name));
    if let Some((t, h, p)) = &chain.base {
        out.push_str(&format!(
            "\t\ttype {t} hook {h} priority {}; policy accept;\n",
            priority_text(t, h, *p)
        ));
    }
    if let Some(c) = &chain.comment {
        out.push_str(&format!("\t\tcomment \"{c}\"\n"));
    }
    for r in &chain.rules {
        out.push_str(&format!("\t\t{}\n", r.listed));
    }
    out.push_str("\t}\n");
}

/// The `nodePortAddresses` kube-proxy's nftables mode uses: `None` when it matches every
/// address (the `fib daddr type local` form), else the node IPs that accept NodePorts. An empty
/// setting means `primary` in nftables mode.
fn nodeport_ips(cfg: &[String], node_ips: &[Ipv4Addr]) -> Option<Vec<Ipv4Addr>> {
    let primary = ["primary".to_string()];
    let cfg = if cfg.is_empty() { &primary[..] } else { cfg };
    let cidrs = node_port_cidrs(cfg, node_ips)?;
    let mut ips: Vec<Ipv4Addr> = node_ips
        .iter()
        .copied()
        .filter(|ip| !ip.is_loopback() && cidrs.iter().any(|c| c.contains(*ip)))
        .collect();
    ips.sort();
    ips.dedup();
    Some(ips)
}

/// A CIDR as nft prints it: a host prefix prints as the bare address.
fn cidr_text(c: &Cidr) -> String {
    if c.prefix == 32 {
        c.network.to_string()
    } else {
        c.to_string()
    }
}

/// An anonymous set of addresses/CIDRs as nft prints it: sorted by start, entries covered by an
/// earlier prefix merged away, braces dropped for a single entry.
fn anon_set_listed(items: &[Cidr]) -> String {
    let mut sorted: Vec<Cidr> = items.to_vec();
    sorted.sort_by_key(|c| (u32::from(c.network), c.prefix));
    let mut kept: Vec<Cidr> = Vec::new();
    for c in sorted {
        if kept
            .iter()
            .any(|k| k.prefix <= c.prefix && k.contains(c.network))
        {
            continue;
        }
        kept.push(c);
    }
    let parts: Vec<String> = kept.iter().map(cidr_text).collect();
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("{{ {} }}", parts.join(", "))
    }
}

/// `IfLocalNFT()` / `IfNotLocalNFT()` (`pkg/proxy/util/localdetector.go`): (transaction, listed).
fn detector_nft(d: &LocalDetector, negate: bool) -> Option<(String, String)> {
    let op = if negate { "!= " } else { "" };
    match d {
        LocalDetector::None => None,
        LocalDetector::Cidr(c) => {
            let t = format!("ip saddr {op}{c}");
            Some((t.clone(), t))
        }
        LocalDetector::BridgeInterface(b) => {
            Some((format!("iif {op}{b}"), format!("iif {op}\"{b}\"")))
        }
        LocalDetector::InterfaceNamePrefix(p) => {
            Some((format!("iifname {op}{p}*"), format!("iifname {op}\"{p}*\"")))
        }
    }
}

/// Renders kube-proxy's nftables table for `node` (`setupNFTables` + `syncProxyRules`, a
/// first full sync).
pub fn render(
    snapshot: &ProxySnapshot,
    node: &str,
    options: &NftablesOptions,
) -> Result<NftablesRules, ProxyError> {
    let s = NftSettings::new(snapshot, node, options)?;
    let mut t = base(&s);
    // syncProxyRules
    let ports = service_ports(&snapshot.services);
    let eps = endpoints_map(&snapshot.endpoint_slices, node);
    for (spn, svc) in &ports {
        let all = eps.get(spn).map(Vec::as_slice).unwrap_or(&[]);
        render_service(&mut t, &s, spn, svc, all);
    }
    Ok(t)
}

/// What shapes every Service port's nftables objects on one node, and the base table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NftSettings {
    pub(crate) detector: LocalDetector,
    pub(crate) masquerade_all: bool,
    pub(crate) node_ip: Option<Ipv4Addr>,
    mark: u32,
    np_ips: Option<Vec<Ipv4Addr>>,
    service_cidrs: Vec<Cidr>,
}

impl NftSettings {
    pub(crate) fn new(
        snapshot: &ProxySnapshot,
        node: &str,
        options: &NftablesOptions,
    ) -> Result<NftSettings, ProxyError> {
        let node_info = snapshot.node(node)?;
        let cfg = &snapshot.config;
        Ok(NftSettings {
            detector: cfg.local_detector(&node_info),
            masquerade_all: cfg.masquerade_all,
            node_ip: node_info.ips.first().copied(),
            mark: cfg.masquerade_mark(),
            np_ips: nodeport_ips(&cfg.node_port_addresses, &node_info.ips),
            service_cidrs: options.service_cidrs.clone(),
        })
    }
}

/// `setupNFTables` and the fixed part of `syncProxyRules`: the table before any service.
pub(crate) fn base(s: &NftSettings) -> NftablesRules {
    let mark = s.mark;
    let mark_go = format!("{mark:#010x}");
    let np_ips = &s.np_ips;
    let mut t = NftablesRules::default();

    // setupNFTables
    t.line(format!(
        "add table ip {TABLE} {{ comment \"{TABLE_COMMENT}\" ; }}"
    ));
    for (name, ty, hook, prio) in BASE_CHAINS {
        t.add_chain(name, Some((ty, hook, *prio)), None);
    }
    for (dst, src, extra) in JUMP_CHAINS {
        t.add_chain(dst, None, None);
        let r = if extra.is_empty() {
            format!("jump {dst}")
        } else {
            format!("{extra} jump {dst}")
        };
        t.same_rule(src, &r);
    }
    for c in [SERVICES, CLUSTER_IPS_CHECK, MASQUERADING, MARK_MASQ] {
        t.add_chain(c, None, None);
    }
    t.rule(
        MARK_MASQ,
        &format!("mark set mark or {mark_go}"),
        &format!("meta mark set meta mark | {mark:#010x}"),
    );
    t.rule(
        MASQUERADING,
        &format!("mark and {mark_go} == 0 return"),
        &format!("meta mark & {mark:#010x} == 0x00000000 return"),
    );
    t.rule(
        MASQUERADING,
        &format!("mark set mark xor {mark_go}"),
        &format!("meta mark set meta mark ^ {mark:#010x}"),
    );
    t.same_rule(MASQUERADING, "masquerade fully-random");
    t.add_set(
        CLUSTER_IPS,
        false,
        "ipv4_addr",
        Some("Active ClusterIPs"),
        None,
    );
    t.rule(
        CLUSTER_IPS_CHECK,
        "ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"",
        "ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"",
    );
    if !s.service_cidrs.is_empty() {
        let list: Vec<String> = s.service_cidrs.iter().map(|c| c.to_string()).collect();
        t.rule(
            CLUSTER_IPS_CHECK,
            &format!(
                "ip daddr {{ {} }} drop comment \"Drop traffic to unallocated ClusterIPs\"",
                list.join(",")
            ),
            &format!(
                "ip daddr {} drop comment \"Drop traffic to unallocated ClusterIPs\"",
                anon_set_listed(&s.service_cidrs)
            ),
        );
    }
    if let Some(ips) = &np_ips {
        t.add_set(
            NODEPORT_IPS,
            false,
            "ipv4_addr",
            Some("IPs that accept NodePort traffic"),
            None,
        );
        for ip in ips {
            t.element(NODEPORT_IPS, vec![ip.to_string()], None, None);
        }
    }
    t.add_set(
        NO_ENDPOINT_SERVICES,
        true,
        ADDR_PROTO_PORT,
        Some("vmap to drop or reject packets to services with no endpoints"),
        None,
    );
    t.add_set(
        NO_ENDPOINT_NODEPORTS,
        true,
        PROTO_PORT,
        Some("vmap to drop or reject packets to service nodeports with no endpoints"),
        None,
    );
    t.add_chain(
        REJECT_CHAIN,
        None,
        Some("helper for @no-endpoint-services / @no-endpoint-nodeports"),
    );
    t.same_rule(REJECT_CHAIN, "reject");
    t.same_rule(
        SERVICE_ENDPOINTS_CHECK,
        "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
    );
    let np_match = if np_ips.is_some() {
        "ip daddr @nodeport-ips"
    } else {
        "ip daddr != 127.0.0.0/8"
    };
    t.same_rule(
        NODEPORT_ENDPOINTS_CHECK,
        &format!("{np_match} meta l4proto . th dport vmap @no-endpoint-nodeports"),
    );
    t.add_set(
        FIREWALL_IPS,
        true,
        ADDR_PROTO_PORT,
        Some("destinations that are subject to LoadBalancerSourceRanges"),
        None,
    );
    t.same_rule(
        FIREWALL_CHECK,
        "ip daddr . meta l4proto . th dport vmap @firewall-ips",
    );
    t.add_set(
        SERVICE_IPS,
        true,
        ADDR_PROTO_PORT,
        Some("ClusterIP, ExternalIP and LoadBalancer IP traffic"),
        None,
    );
    t.add_set(
        SERVICE_NODEPORTS,
        true,
        PROTO_PORT,
        Some("NodePort traffic"),
        None,
    );
    t.same_rule(
        SERVICES,
        "ip daddr . meta l4proto . th dport vmap @service-ips",
    );
    let np_services = if np_ips.is_some() {
        "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"
    } else {
        "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"
    };
    t.same_rule(SERVICES, np_services);
    t
}

/// One Service port's chains, rules, sets and elements (`syncProxyRules`' service loop).
pub(crate) fn render_service(
    t: &mut NftablesRules,
    ctx: &NftSettings,
    spn: &ServicePortName,
    svc: &ServicePortInfo,
    all: &[EndpointInfo],
) {
    let cat = categorize_endpoints(all, svc);
    let proto = spn.protocol.lower();
    let name = spn.to_string();
    let base = service_chain_base(spn);
    let ep_base = |e: &EndpointInfo| endpoint_chain_base(spn, e.ip, e.port);
    let affinity = svc
        .affinity_timeout
        .map(|s| u32::try_from(s.max(0)).unwrap_or(0));

    for e in &cat.all_reachable {
        t.add_chain(&format!("endpoint-{}", ep_base(e)), None, None);
    }
    let cluster_chain = format!("service-{base}");
    let uses_cluster = !cat.cluster.is_empty() && svc.uses_cluster_endpoints();
    if uses_cluster {
        t.add_chain(&cluster_chain, None, None);
    }
    let local_chain = format!("local-{base}");
    let uses_local = !cat.local.is_empty() && svc.uses_local_endpoints();
    if uses_local {
        t.add_chain(&local_chain, None, None);
    }
    let has_endpoints = cat.has_any;
    let (internal_chain, has_internal) = if svc.internal_policy_local {
        (&local_chain, has_endpoints && !cat.local.is_empty())
    } else {
        (&cluster_chain, has_endpoints)
    };
    let (external_policy_chain, has_external) = if svc.external_policy_local {
        (&local_chain, has_endpoints && !cat.local.is_empty())
    } else {
        (&cluster_chain, has_endpoints)
    };
    let external_chain = format!("external-{base}");
    let uses_external = has_endpoints && svc.externally_accessible();
    if uses_external {
        t.add_chain(&external_chain, None, None);
    }
    let reject = format!("goto {REJECT_CHAIN}");
    let (internal_verdict, external_verdict) = if !has_endpoints {
        (reject.clone(), reject)
    } else {
        ("drop".to_string(), "drop".to_string())
    };
    let key3 = |ip: Ipv4Addr| vec![ip.to_string(), proto.to_string(), svc.port.to_string()];

    t.element(CLUSTER_IPS, vec![svc.cluster_ip.to_string()], None, None);
    if has_internal {
        t.element(
            SERVICE_IPS,
            key3(svc.cluster_ip),
            None,
            Some(format!("goto {internal_chain}")),
        );
    } else {
        t.element(
            NO_ENDPOINT_SERVICES,
            key3(svc.cluster_ip),
            Some(&name),
            Some(internal_verdict),
        );
    }
    for ip in &svc.external_ips {
        if has_endpoints {
            t.element(
                SERVICE_IPS,
                key3(*ip),
                None,
                Some(format!("goto {external_chain}")),
            );
        }
        if !has_external {
            t.element(
                NO_ENDPOINT_SERVICES,
                key3(*ip),
                Some(&name),
                Some(external_verdict.clone()),
            );
        }
    }
    let uses_fw = !svc.load_balancer_ips.is_empty() && !svc.source_ranges.is_empty();
    let fw_chain = format!("firewall-{base}");
    if uses_fw {
        t.add_chain(&fw_chain, None, None);
    }
    for ip in &svc.load_balancer_ips {
        if has_endpoints {
            t.element(
                SERVICE_IPS,
                key3(*ip),
                None,
                Some(format!("goto {external_chain}")),
            );
        }
        if uses_fw {
            t.element(
                FIREWALL_IPS,
                key3(*ip),
                None,
                Some(format!("goto {fw_chain}")),
            );
        }
    }
    if !has_external {
        for ip in &svc.load_balancer_ips {
            t.element(
                NO_ENDPOINT_SERVICES,
                key3(*ip),
                Some(&name),
                Some(external_verdict.clone()),
            );
        }
    }
    if svc.node_port != 0 {
        let key = vec![proto.to_string(), svc.node_port.to_string()];
        if has_endpoints {
            t.element(
                SERVICE_NODEPORTS,
                key.clone(),
                None,
                Some(format!("goto {external_chain}")),
            );
        }
        if !has_external {
            t.element(
                NO_ENDPOINT_NODEPORTS,
                key,
                Some(&name),
                Some(external_verdict.clone()),
            );
        }
    }

    // Internal traffic.
    if has_internal {
        if ctx.masquerade_all {
            t.same_rule(
                internal_chain,
                &format!("ip daddr {} jump {MARK_MASQ}", svc.cluster_ip),
            );
        } else if let Some((tx, listed)) = detector_nft(&ctx.detector, true) {
            t.rule(
                internal_chain,
                &format!("ip daddr {} {tx} jump {MARK_MASQ}", svc.cluster_ip),
                &format!("ip daddr {} {listed} jump {MARK_MASQ}", svc.cluster_ip),
            );
        }
    }
    // External traffic.
    if uses_external {
        if !svc.external_policy_local {
            t.same_rule(&external_chain, &format!("jump {MARK_MASQ}"));
        } else {
            if let Some((tx, listed)) = detector_nft(&ctx.detector, false) {
                let c = "comment \"short-circuit pod traffic\"";
                t.rule(
                    &external_chain,
                    &format!("{tx} goto {cluster_chain} {c}"),
                    &format!("{listed} goto {cluster_chain} {c}"),
                );
            }
            t.same_rule(
                &external_chain,
                &format!(
                    "fib saddr type local jump {MARK_MASQ} comment \"masquerade local traffic\""
                ),
            );
            t.same_rule(
                &external_chain,
                &format!(
                    "fib saddr type local goto {cluster_chain} comment \"short-circuit local traffic\""
                ),
            );
        }
        if has_external {
            t.same_rule(&external_chain, &format!("goto {external_policy_chain}"));
        }
    }
    // loadBalancerSourceRanges.
    if uses_fw {
        let mut sources: Vec<Cidr> = svc.source_ranges.clone();
        let allow_from_node = ctx
            .node_ip
            .is_some_and(|ip| svc.source_ranges.iter().any(|c| c.contains(ip)));
        if allow_from_node {
            sources.extend(svc.load_balancer_ips.iter().map(|ip| Cidr {
                network: *ip,
                prefix: 32,
            }));
        }
        let tx: Vec<String> = sources.iter().map(cidr_text).collect();
        t.rule(
            &fw_chain,
            &format!("ip saddr != {{ {} }} drop", tx.join(" , ")),
            &format!("ip saddr != {} drop", anon_set_listed(&sources)),
        );
    }
    // Affinity sets.
    if let Some(timeout) = affinity {
        for e in &cat.all_reachable {
            t.add_set(
                &format!("affinity-{}", ep_base(e)),
                false,
                "ipv4_addr",
                None,
                Some(timeout),
            );
        }
    }
    if uses_cluster {
        service_to_endpoints(t, spn, affinity.is_some(), &cluster_chain, &cat.cluster);
    }
    if uses_local {
        service_to_endpoints(t, spn, affinity.is_some(), &local_chain, &cat.local);
    }
    for e in &cat.all_reachable {
        let b = ep_base(e);
        let chain = format!("endpoint-{b}");
        t.same_rule(&chain, &format!("ip saddr {} jump {MARK_MASQ}", e.ip));
        if affinity.is_some() {
            t.same_rule(&chain, &format!("update @affinity-{b} {{ ip saddr }}"));
        }
        t.same_rule(&chain, &format!("meta l4proto {proto} dnat to {e}"));
    }
}

/// `writeServiceToEndpointRules`: affinity rules, then one `numgen` verdict map.
fn service_to_endpoints(
    t: &mut NftablesRules,
    spn: &ServicePortName,
    affinity: bool,
    chain: &str,
    endpoints: &[EndpointInfo],
) {
    if affinity {
        for e in endpoints {
            let b = endpoint_chain_base(spn, e.ip, e.port);
            t.same_rule(chain, &format!("ip saddr @affinity-{b} goto endpoint-{b}"));
        }
    }
    let elems: Vec<String> = endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "{i} : goto endpoint-{}",
                endpoint_chain_base(spn, e.ip, e.port)
            )
        })
        .collect();
    let n = endpoints.len();
    t.rule(
        chain,
        &format!("numgen random mod {n} vmap {{ {} }}", elems.join(" , ")),
        &format!("numgen random mod {n} vmap {{ {} }}", elems.join(", ")),
    );
}

/// What one Service port adds to the table, in order: transaction lines (chains, sets, rules)
/// and map/set elements, plus the chains and affinity sets it creates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NftChunk {
    pub(crate) ops: Vec<NftOp>,
    pub(crate) chains: Vec<NftChain>,
    pub(crate) sets: Vec<NftSet>,
}

/// One step of a service's part of the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NftOp {
    /// An `add chain` / `add set` / `add rule` line.
    Line(String),
    /// An element of a base set or map (the first port to claim a key wins).
    Element(String, NftElement),
}

/// Renders one Service port against the base table `template` and keeps only what it added.
pub(crate) fn service_chunk(
    template: &NftablesRules,
    s: &NftSettings,
    spn: &ServicePortName,
    svc: &ServicePortInfo,
    all: &[EndpointInfo],
) -> NftChunk {
    let mut t = template.clone();
    t.log_elements = true;
    let (c0, s0, l0, e0) = (
        t.chains.len(),
        t.sets.len(),
        t.transaction.len(),
        t.element_log.len(),
    );
    render_service(&mut t, s, spn, svc, all);
    let mut elements = t.element_log.drain(e0..);
    let ops = t
        .transaction
        .drain(l0..)
        .filter_map(|l| {
            if l.starts_with("add element ") {
                elements.next().map(|(set, e)| NftOp::Element(set, e))
            } else {
                Some(NftOp::Line(l))
            }
        })
        .collect();
    NftChunk {
        ops,
        chains: t.chains.split_off(c0),
        sets: t.sets.split_off(s0),
    }
}

/// Appends a chunk to a table, as if its service had been rendered there.
pub(crate) fn apply_chunk(t: &mut NftablesRules, chunk: &NftChunk) {
    for set in &chunk.sets {
        t.set_index.insert(set.name.clone(), t.sets.len());
        t.sets.push(set.clone());
    }
    for chain in &chunk.chains {
        t.chain_index.insert(chain.name.clone(), t.chains.len());
        t.chains.push(chain.clone());
    }
    for op in &chunk.ops {
        match op {
            NftOp::Line(l) => t.transaction.push(l.clone()),
            NftOp::Element(set, e) => {
                t.element(set, e.key.clone(), e.comment.as_deref(), e.value.clone())
            }
        }
    }
}

/// `nft list table ip kube-proxy` on `node`, with kind's ServiceCIDR.
pub fn render_list(snapshot: &ProxySnapshot, node: &str) -> Result<String, ProxyError> {
    Ok(render(snapshot, node, &NftablesOptions::kind())?.list_text())
}

/// The `nft -f` transaction for `node`, with kind's ServiceCIDR.
pub fn render_transaction(snapshot: &ProxySnapshot, node: &str) -> Result<String, ProxyError> {
    Ok(render(snapshot, node, &NftablesOptions::kind())?.transaction_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COURSE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: httpd-svc
  namespace: default
spec:
  type: NodePort
  clusterIP: 10.96.100.50
  ports:
  - protocol: TCP
    port: 8080
    targetPort: 80
    nodePort: 30144
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: httpd-svc-manual
  namespace: default
  labels:
    kubernetes.io/service-name: httpd-svc
addressType: IPv4
ports:
- name: ""
  protocol: TCP
  port: 80
endpoints:
- addresses: ["10.244.1.7"]
  conditions: {ready: true}
- addresses: ["10.244.2.5"]
  conditions: {ready: true}
- addresses: ["10.244.1.10"]
  conditions: {ready: true}
"#;

    fn snapshot(yaml: &str) -> ProxySnapshot {
        let mut c = Cluster::kind();
        c.apply_manifests(yaml).expect("manifests apply");
        c.settle();
        ProxySnapshot::from_cluster(&c)
    }

    const FEATURES: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.10.1
  externalTrafficPolicy: Local
  healthCheckNodePort: 32000
  externalIPs: ["192.168.99.22"]
  loadBalancerSourceRanges: ["203.0.113.0/25", "172.18.0.0/16"]
  sessionAffinity: ClientIP
  ports:
  - {name: http, protocol: TCP, port: 80, targetPort: 80, nodePort: 31001}
  - {name: dns, protocol: UDP, port: 53, targetPort: 53, nodePort: 31002}
  - {name: sig, protocol: SCTP, port: 9000, targetPort: 9000, nodePort: 31003}
status:
  loadBalancer:
    ingress: [{ip: 172.18.255.200}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: lb-1
  namespace: default
  labels: {kubernetes.io/service-name: lb}
addressType: IPv4
ports:
- {name: http, protocol: TCP, port: 80}
- {name: dns, protocol: UDP, port: 53}
- {name: sig, protocol: SCTP, port: 9000}
endpoints:
- addresses: ["10.244.1.20"]
  nodeName: kind-worker
- addresses: ["10.244.2.20"]
  nodeName: kind-worker2
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.10.2
  externalIPs: ["192.168.99.33"]
  ports:
  - {protocol: TCP, port: 80, targetPort: 80, nodePort: 31004}
---
apiVersion: v1
kind: Service
metadata: {name: itp, namespace: default}
spec:
  clusterIP: 10.96.10.3
  internalTrafficPolicy: Local
  ports:
  - {protocol: TCP, port: 80, targetPort: 8080}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: itp-1
  namespace: default
  labels: {kubernetes.io/service-name: itp}
addressType: IPv4
ports:
- {name: "", protocol: TCP, port: 8080}
endpoints:
- addresses: ["10.244.2.30"]
  nodeName: kind-worker2
---
apiVersion: v1
kind: Service
metadata: {name: etp-remote, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.10.4
  externalTrafficPolicy: Local
  ports:
  - {protocol: TCP, port: 80, targetPort: 80, nodePort: 31005}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: etp-remote-1
  namespace: default
  labels: {kubernetes.io/service-name: etp-remote}
addressType: IPv4
ports:
- {name: "", protocol: TCP, port: 80}
endpoints:
- addresses: ["10.244.2.40"]
  nodeName: kind-worker2
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: default}
spec:
  clusterIP: None
  ports:
  - {protocol: TCP, port: 80}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec:
  type: ExternalName
  externalName: example.com
"#;

    /// What the real `nft list table ip kube-proxy` printed after loading our transaction for the
    /// course case (kind-worker, kind's defaults) in a fresh network namespace.
    const COURSE_LIST: &str = r#"table ip kube-proxy {
	comment "rules for kube-proxy"
	set cluster-ips {
		type ipv4_addr
		comment "Active ClusterIPs"
		elements = { 10.96.0.1, 10.96.0.10,
			     10.96.100.50 }
	}

	set nodeport-ips {
		type ipv4_addr
		comment "IPs that accept NodePort traffic"
		elements = { 172.18.0.3 }
	}

	map no-endpoint-services {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "vmap to drop or reject packets to services with no endpoints"
	}

	map no-endpoint-nodeports {
		type inet_proto . inet_service : verdict
		comment "vmap to drop or reject packets to service nodeports with no endpoints"
	}

	map firewall-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "destinations that are subject to LoadBalancerSourceRanges"
	}

	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"
		elements = { 10.96.0.10 . tcp . 53 : goto service-NWBZK7IH-kube-system/kube-dns/tcp/dns-tcp,
			     10.96.0.10 . udp . 53 : goto service-FY5PMXPG-kube-system/kube-dns/udp/dns,
			     10.96.100.50 . tcp . 8080 : goto service-P26LWKKU-default/httpd-svc/tcp/,
			     10.96.0.1 . tcp . 443 : goto service-2QRHZV4L-default/kubernetes/tcp/https,
			     10.96.0.10 . tcp . 9153 : goto service-AS2KJYAD-kube-system/kube-dns/tcp/metrics }
	}

	map service-nodeports {
		type inet_proto . inet_service : verdict
		comment "NodePort traffic"
		elements = { tcp . 30144 : goto external-P26LWKKU-default/httpd-svc/tcp/ }
	}

	chain filter-prerouting-pre-dnat {
		type filter hook prerouting priority dstnat - 10; policy accept;
		ct state new jump firewall-check
	}

	chain filter-output-pre-dnat {
		type filter hook output priority -110; policy accept;
		ct state new jump firewall-check
	}

	chain filter-input {
		type filter hook input priority filter; policy accept;
		ct state new jump nodeport-endpoints-check
		ct state new jump service-endpoints-check
	}

	chain filter-forward {
		type filter hook forward priority filter; policy accept;
		ct state new jump service-endpoints-check
		ct state new jump cluster-ips-check
	}

	chain filter-output {
		type filter hook output priority filter; policy accept;
		ct state new jump service-endpoints-check
		ct state new jump cluster-ips-check
	}

	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}

	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}

	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump masquerading
	}

	chain nodeport-endpoints-check {
		ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
	}

	chain service-endpoints-check {
		ip daddr . meta l4proto . th dport vmap @no-endpoint-services
	}

	chain firewall-check {
		ip daddr . meta l4proto . th dport vmap @firewall-ips
	}

	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
		ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
	}

	chain masquerading {
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark ^ 0x00004000
		masquerade fully-random
	}

	chain cluster-ips-check {
		ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
		ip daddr 10.96.0.0/16 drop comment "Drop traffic to unallocated ClusterIPs"
	}

	chain mark-for-masquerade {
		meta mark set meta mark | 0x00004000
	}

	chain reject-chain {
		comment "helper for @no-endpoint-services / @no-endpoint-nodeports"
		reject
	}

	chain endpoint-TMNOS5YC-default/httpd-svc/tcp/__10.244.1.10/80 {
		ip saddr 10.244.1.10 jump mark-for-masquerade
		meta l4proto tcp dnat to 10.244.1.10:80
	}

	chain endpoint-L2AEY5GZ-default/httpd-svc/tcp/__10.244.1.7/80 {
		ip saddr 10.244.1.7 jump mark-for-masquerade
		meta l4proto tcp dnat to 10.244.1.7:80
	}

	chain endpoint-5HDVRDUW-default/httpd-svc/tcp/__10.244.2.5/80 {
		ip saddr 10.244.2.5 jump mark-for-masquerade
		meta l4proto tcp dnat to 10.244.2.5:80
	}

	chain service-P26LWKKU-default/httpd-svc/tcp/ {
		ip daddr 10.96.100.50 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
		numgen random mod 3 vmap { 0 : goto endpoint-TMNOS5YC-default/httpd-svc/tcp/__10.244.1.10/80, 1 : goto endpoint-L2AEY5GZ-default/httpd-svc/tcp/__10.244.1.7/80, 2 : goto endpoint-5HDVRDUW-default/httpd-svc/tcp/__10.244.2.5/80 }
	}

	chain external-P26LWKKU-default/httpd-svc/tcp/ {
		jump mark-for-masquerade
		goto service-P26LWKKU-default/httpd-svc/tcp/
	}

	chain endpoint-KJBNWEXB-default/kubernetes/tcp/https__172.18.0.2/6443 {
		ip saddr 172.18.0.2 jump mark-for-masquerade
		meta l4proto tcp dnat to 172.18.0.2:6443
	}

	chain service-2QRHZV4L-default/kubernetes/tcp/https {
		ip daddr 10.96.0.1 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
		numgen random mod 1 vmap { 0 : goto endpoint-KJBNWEXB-default/kubernetes/tcp/https__172.18.0.2/6443 }
	}

	chain endpoint-2GKX576Q-kube-system/kube-dns/udp/dns__10.244.0.2/53 {
		ip saddr 10.244.0.2 jump mark-for-masquerade
		meta l4proto udp dnat to 10.244.0.2:53
	}

	chain endpoint-SHKW4FT7-kube-system/kube-dns/udp/dns__10.244.0.3/53 {
		ip saddr 10.244.0.3 jump mark-for-masquerade
		meta l4proto udp dnat to 10.244.0.3:53
	}

	chain service-FY5PMXPG-kube-system/kube-dns/udp/dns {
		ip daddr 10.96.0.10 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
		numgen random mod 2 vmap { 0 : goto endpoint-2GKX576Q-kube-system/kube-dns/udp/dns__10.244.0.2/53, 1 : goto endpoint-SHKW4FT7-kube-system/kube-dns/udp/dns__10.244.0.3/53 }
	}

	chain endpoint-BFW5VCWB-kube-system/kube-dns/tcp/dns-tcp__10.244.0.2/53 {
		ip saddr 10.244.0.2 jump mark-for-masquerade
		meta l4proto tcp dnat to 10.244.0.2:53
	}

	chain endpoint-BAVBYS25-kube-system/kube-dns/tcp/dns-tcp__10.244.0.3/53 {
		ip saddr 10.244.0.3 jump mark-for-masquerade
		meta l4proto tcp dnat to 10.244.0.3:53
	}

	chain service-NWBZK7IH-kube-system/kube-dns/tcp/dns-tcp {
		ip daddr 10.96.0.10 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
		numgen random mod 2 vmap { 0 : goto endpoint-BFW5VCWB-kube-system/kube-dns/tcp/dns-tcp__10.244.0.2/53, 1 : goto endpoint-BAVBYS25-kube-system/kube-dns/tcp/dns-tcp__10.244.0.3/53 }
	}

	chain endpoint-SUJXBOPR-kube-system/kube-dns/tcp/metrics__10.244.0.2/9153 {
		ip saddr 10.244.0.2 jump mark-for-masquerade
		meta l4proto tcp dnat to 10.244.0.2:9153
	}

	chain endpoint-G34R7BNP-kube-system/kube-dns/tcp/metrics__10.244.0.3/9153 {
		ip saddr 10.244.0.3 jump mark-for-masquerade
		meta l4proto tcp dnat to 10.244.0.3:9153
	}

	chain service-AS2KJYAD-kube-system/kube-dns/tcp/metrics {
		ip daddr 10.96.0.10 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
		numgen random mod 2 vmap { 0 : goto endpoint-SUJXBOPR-kube-system/kube-dns/tcp/metrics__10.244.0.2/9153, 1 : goto endpoint-G34R7BNP-kube-system/kube-dns/tcp/metrics__10.244.0.3/9153 }
	}
}
"#;

    fn kind(yaml: &str) -> NftablesRules {
        render(&snapshot(yaml), "kind-worker", &NftablesOptions::kind()).expect("node exists")
    }

    fn rules(r: &NftablesRules, chain: &str) -> Vec<String> {
        r.chain(chain)
            .map(|c| c.rules.iter().map(|r| r.listed.clone()).collect())
            .unwrap_or_default()
    }

    fn elements(r: &NftablesRules, set: &str) -> Vec<String> {
        r.set(set)
            .map(|s| s.elements.values().map(NftElement::text).collect())
            .unwrap_or_default()
    }

    #[test]
    fn course_case_exact_text() {
        let s = snapshot(COURSE);
        assert_eq!(render_list(&s, "kind-worker").unwrap(), COURSE_LIST);
        let tx = render_transaction(&s, "kind-worker").unwrap();
        assert!(tx.starts_with(
            "add table ip kube-proxy { comment \"rules for kube-proxy\" ; }\n\
             add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }\n"
        ));
        assert!(tx.contains(
            "add element ip kube-proxy service-nodeports { tcp . 30144 : goto external-P26LWKKU-default/httpd-svc/tcp/ }\n"
        ));
        assert!(
            tx.contains("add rule ip kube-proxy mark-for-masquerade mark set mark or 0x00004000\n")
        );
    }

    #[test]
    fn chain_name_hashes() {
        let spn = |ns: &str, n: &str, p: &str, pr| ServicePortName::new(ns, n, p, pr);
        use super::super::Protocol::{Tcp, Udp};
        // The spec's fixture hashes (TestOverallNFTablesRules) and real-cluster names.
        for (ns, n, h) in [
            ("ns1", "svc1", "ULMVA6XW"),
            ("ns2", "svc2", "42NFTM6N"),
            ("ns3", "svc3", "4AT6LBPK"),
            ("ns4", "svc4", "LAUZTJTB"),
            ("ns5", "svc5", "HVFWP5L3"),
        ] {
            assert_eq!(
                service_chain_base(&spn(ns, n, "p80", Tcp)),
                format!("{h}-{ns}/{n}/tcp/p80")
            );
        }
        assert_eq!(
            service_chain_base(&spn("default", "httpd-svc", "", Tcp)),
            "P26LWKKU-default/httpd-svc/tcp/"
        );
        assert_eq!(
            service_chain_base(&spn("default", "kubernetes", "https", Tcp)),
            "2QRHZV4L-default/kubernetes/tcp/https"
        );
        assert_eq!(
            service_chain_base(&spn("kube-system", "kube-dns", "dns", Udp)),
            "FY5PMXPG-kube-system/kube-dns/udp/dns"
        );
        let ep = |ns, n, ip: [u8; 4]| {
            endpoint_chain_base(&spn(ns, n, "p80", Tcp), Ipv4Addr::from(ip), 80)
        };
        assert_eq!(
            ep("ns1", "svc1", [10, 180, 0, 1]),
            "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
        );
        assert!(ep("ns2", "svc2", [10, 180, 0, 2]).starts_with("SGOXE6O3-"));
        assert!(ep("ns3", "svc3", [10, 180, 0, 3]).starts_with("UEIP74TE-"));
        assert!(ep("ns4", "svc4", [10, 180, 0, 4]).starts_with("UNZV3OEC-"));
        assert!(ep("ns4", "svc4", [10, 180, 0, 5]).starts_with("5RFCDDV7-"));
        assert!(ep("ns5", "svc5", [10, 180, 0, 3]).starts_with("GTK6MW7G-"));
        // Truncation to 240 characters.
        let long = hash_and_truncate(&"x".repeat(300));
        assert_eq!(long.len(), CHAIN_NAME_BASE_LENGTH_MAX);
        assert!(long.ends_with("..."));
    }

    /// kube-proxy's TestOverallNFTablesRules fixture (spec §3/§5), built from plain objects.
    fn overall() -> NftablesRules {
        use k8s_openapi::api::core::v1::{Node, Service};
        use k8s_openapi::api::discovery::v1::EndpointSlice;
        use serde_json::{Value, json};
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "test-node"},
            "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.2"}]}
        }))
        .expect("node");
        let svc = |ns: &str, spec: Value, status: Value| -> Service {
            let n = ns.replace("ns", "svc");
            serde_json::from_value(json!({"metadata": {"namespace": ns, "name": n},
                "spec": spec, "status": status}))
            .expect("svc")
        };
        let port = |np: Option<i32>| json!([{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": np}]);
        let slice = |ns: &str, eps: Value| -> EndpointSlice {
            let n = ns.replace("ns", "svc");
            serde_json::from_value(
                json!({"metadata": {"namespace": ns, "name": format!("{n}-1"),
                "labels": {"kubernetes.io/service-name": n}}, "addressType": "IPv4",
                "ports": [{"name": "p80", "port": 80, "protocol": "TCP"}], "endpoints": eps}),
            )
            .expect("slice")
        };
        let services = vec![
            svc(
                "ns1",
                json!({"clusterIP": "172.30.0.41", "ports": port(None)}),
                json!({}),
            ),
            svc(
                "ns2",
                json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                "clusterIP": "172.30.0.42", "ports": port(Some(3001)), "externalIPs": ["192.168.99.22"],
                "healthCheckNodePort": 30000}),
                json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}),
            ),
            svc(
                "ns3",
                json!({"type": "NodePort", "clusterIP": "172.30.0.43", "ports": port(Some(3003))}),
                json!({}),
            ),
            svc(
                "ns4",
                json!({"type": "NodePort", "clusterIP": "172.30.0.44", "externalIPs": ["192.168.99.33"],
                "ports": port(None)}),
                json!({}),
            ),
            svc(
                "ns5",
                json!({"type": "LoadBalancer", "externalTrafficPolicy": "Cluster",
                "clusterIP": "172.30.0.45", "ports": port(Some(3002)), "healthCheckNodePort": 30000,
                "loadBalancerSourceRanges": [" 203.0.113.0/25"], "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}),
                json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}),
            ),
            svc(
                "ns6",
                json!({"clusterIP": "172.30.0.46", "ports": port(None)}),
                json!({}),
            ),
        ];
        let slices = vec![
            slice("ns1", json!([{"addresses": ["10.180.0.1"]}])),
            slice("ns2", json!([{"addresses": ["10.180.0.2"]}])),
            slice("ns3", json!([{"addresses": ["10.180.0.3"]}])),
            slice(
                "ns4",
                json!([{"addresses": ["10.180.0.4"]},
                {"addresses": ["10.180.0.5"], "nodeName": "test-node"}]),
            ),
            slice("ns5", json!([{"addresses": ["10.180.0.3"]}])),
        ];
        let mut s = ProxySnapshot::from_objects(vec![node], services, slices, None);
        s.config = super::super::ProxyConfig::parse("clusterCIDR: 10.0.0.0/8\n");
        let opts = NftablesOptions {
            service_cidrs: Cidr::parse("172.30.0.0/16").into_iter().collect(),
        };
        render(&s, "test-node", &opts).expect("test-node")
    }

    #[test]
    fn overall_nftables_rules_fixture() {
        let r = overall();
        let c = |s: &str| format!("{s}-ns1/svc1/tcp/p80");
        assert_eq!(
            rules(&r, &format!("service-{}", c("ULMVA6XW"))),
            [
                "ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
                "numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }",
            ]
        );
        assert_eq!(
            rules(&r, "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"),
            [
                "ip saddr 10.180.0.1 jump mark-for-masquerade",
                "meta l4proto tcp dnat to 10.180.0.1:80"
            ]
        );
        // svc2: eTP=Local, endpoint not local: short-circuit rules only, drops for external.
        assert_eq!(
            rules(&r, "external-42NFTM6N-ns2/svc2/tcp/p80"),
            [
                "ip saddr 10.0.0.0/8 goto service-42NFTM6N-ns2/svc2/tcp/p80 comment \"short-circuit pod traffic\"",
                "fib saddr type local jump mark-for-masquerade comment \"masquerade local traffic\"",
                "fib saddr type local goto service-42NFTM6N-ns2/svc2/tcp/p80 comment \"short-circuit local traffic\"",
            ]
        );
        assert!(r.chain("local-42NFTM6N-ns2/svc2/tcp/p80").is_none());
        assert_eq!(
            elements(&r, "no-endpoint-nodeports"),
            ["tcp . 3001 comment \"ns2/svc2:p80\" : drop"]
        );
        let ne = elements(&r, "no-endpoint-services");
        for e in [
            "1.2.3.4 . tcp . 80 comment \"ns2/svc2:p80\" : drop",
            "192.168.99.22 . tcp . 80 comment \"ns2/svc2:p80\" : drop",
            "172.30.0.46 . tcp . 80 comment \"ns6/svc6:p80\" : goto reject-chain",
        ] {
            assert!(ne.contains(&e.to_string()), "{e}");
        }
        assert_eq!(ne.len(), 3);
        // svc3/svc4: Cluster policy external chains.
        for b in ["4AT6LBPK-ns3/svc3/tcp/p80", "LAUZTJTB-ns4/svc4/tcp/p80"] {
            assert_eq!(
                rules(&r, &format!("external-{b}")),
                [
                    "jump mark-for-masquerade".to_string(),
                    format!("goto service-{b}")
                ]
            );
        }
        assert_eq!(
            rules(&r, "service-LAUZTJTB-ns4/svc4/tcp/p80")[1],
            "numgen random mod 2 vmap { 0 : goto endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80, 1 : goto endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 }"
        );
        // svc5: affinity, firewall.
        let aff = "affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80";
        let set = r.set(aff).expect("affinity set");
        assert_eq!(set.timeout, Some(10800));
        assert_eq!(
            rules(&r, "service-HVFWP5L3-ns5/svc5/tcp/p80")[1],
            format!("ip saddr @{aff} goto endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80")
        );
        assert_eq!(
            rules(&r, "endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80")[1],
            format!("update @{aff} {{ ip saddr }}")
        );
        assert_eq!(
            rules(&r, "firewall-HVFWP5L3-ns5/svc5/tcp/p80"),
            ["ip saddr != 203.0.113.0/25 drop"]
        );
        assert_eq!(
            elements(&r, "firewall-ips"),
            ["5.6.7.8 . tcp . 80 : goto firewall-HVFWP5L3-ns5/svc5/tcp/p80"]
        );
        assert_eq!(elements(&r, "nodeport-ips"), ["192.168.0.2"]);
        assert_eq!(
            rules(&r, "cluster-ips-check")[1],
            "ip daddr 172.30.0.0/16 drop comment \"Drop traffic to unallocated ClusterIPs\""
        );
        let tx = r.transaction_text();
        assert!(tx.contains("add set ip kube-proxy affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }\n"));
        assert!(tx.contains("add element ip kube-proxy service-ips { 192.168.99.33 . tcp . 80 : goto external-LAUZTJTB-ns4/svc4/tcp/p80 }\n"));
        assert_eq!(elements(&r, "cluster-ips").len(), 6);
    }

    #[test]
    fn features_loadbalancer_affinity_protocols_policies() {
        let r = kind(FEATURES);
        let list = r.list_text();
        // Every protocol gets its own chains and map entries.
        for (p, port, np) in [
            ("tcp", "http", 31001),
            ("udp", "dns", 31002),
            ("sctp", "sig", 31003),
        ] {
            assert!(
                list.contains(&format!("{p} . {np} : goto external-")),
                "{p}"
            );
            assert!(list.contains(&format!("/lb/{p}/{port}")));
        }
        assert!(list.contains("meta l4proto udp dnat to 10.244.1.20:53"));
        assert!(list.contains("meta l4proto sctp dnat to 10.244.1.20:9000"));
        // eTP=Local with a local endpoint: local- chain holds only the local endpoint.
        let local = rules(&r, "local-D2RGPZ6L-default/lb/tcp/http");
        assert_eq!(
            local.last().map(String::as_str),
            Some(
                "numgen random mod 1 vmap { 0 : goto endpoint-SQRAXKMQ-default/lb/tcp/http__10.244.1.20/80 }"
            )
        );
        assert_eq!(
            rules(&r, "external-D2RGPZ6L-default/lb/tcp/http")
                .last()
                .map(String::as_str),
            Some("goto local-D2RGPZ6L-default/lb/tcp/http")
        );
        // Source ranges containing the node IP also allow the LB IP (merged into the range).
        assert_eq!(
            rules(&r, "firewall-D2RGPZ6L-default/lb/tcp/http"),
            ["ip saddr != { 172.18.0.0/16, 203.0.113.0/25 } drop"]
        );
        // Affinity sets listed with nft's size and duration.
        assert!(list.contains("\tset affinity-SQRAXKMQ-default/lb/tcp/http__10.244.1.20/80 {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n\t}\n"));
        // No endpoints: reject; iTP=Local without local endpoints: drop; eTP=Local remote: drop.
        assert_eq!(
            elements(&r, "no-endpoint-services"),
            [
                "10.96.10.2 . tcp . 80 comment \"default/empty\" : goto reject-chain",
                "10.96.10.3 . tcp . 80 comment \"default/itp\" : drop",
                "192.168.99.33 . tcp . 80 comment \"default/empty\" : goto reject-chain",
            ]
        );
        assert_eq!(
            elements(&r, "no-endpoint-nodeports"),
            [
                "tcp . 31004 comment \"default/empty\" : goto reject-chain",
                "tcp . 31005 comment \"default/etp-remote\" : drop",
            ]
        );
        assert!(
            !list.contains("default/itp/"),
            "no chains for iTP=Local without local endpoints"
        );
        // Headless and ExternalName: nothing.
        assert!(!list.contains("headless") && !list.contains("/ext/"));
        // iTP=Local seen from the node that has the endpoint.
        let s = snapshot(FEATURES);
        let w2 = render(&s, "kind-worker2", &NftablesOptions::kind()).unwrap();
        assert!(
            w2.list_text()
                .contains("10.96.10.3 . tcp . 80 : goto local-")
        );
    }

    #[test]
    fn masquerade_all_and_nodeport_addresses() {
        let mut s = snapshot(COURSE);
        s.config.masquerade_all = true;
        s.config.node_port_addresses = vec!["0.0.0.0/0".into()];
        let r = render(&s, "kind-worker", &NftablesOptions::kind()).unwrap();
        assert_eq!(
            rules(&r, "service-P26LWKKU-default/httpd-svc/tcp/")[0],
            "ip daddr 10.96.100.50 jump mark-for-masquerade"
        );
        assert!(r.set("nodeport-ips").is_none());
        assert_eq!(
            rules(&r, "services")[1],
            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"
        );
        assert_eq!(
            rules(&r, "nodeport-endpoints-check")[0],
            "ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports"
        );
    }

    #[test]
    fn deterministic_and_unknown_node() {
        let s = snapshot(FEATURES);
        let a = render_list(&s, "kind-worker").unwrap();
        for _ in 0..3 {
            assert_eq!(render_list(&snapshot(FEATURES), "kind-worker").unwrap(), a);
        }
        assert_eq!(
            render_transaction(&s, "kind-worker").unwrap(),
            render_transaction(&s, "kind-worker").unwrap()
        );
        assert_eq!(
            render_list(&s, "nope"),
            Err(ProxyError::UnknownNode("nope".into()))
        );
        assert_eq!(nft_duration(90061), "1d1h1m1s");
        assert_eq!(priority_text("filter", "prerouting", -110), "dstnat - 10");
        assert_eq!(priority_text("nat", "output", -100), "-100");
    }
}
