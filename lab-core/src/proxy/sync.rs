//! kube-proxy's sync loop on one node: the rules it last programmed, which Service ports changed
//! since, and what a partial sync sends to the kernel.
//!
//! Mirrors kubernetes/kubernetes `pkg/proxy/servicechangetracker.go` and
//! `pkg/proxy/endpointschangetracker.go` (a [`Proxier`] records which Services had their Service
//! or EndpointSlices change between two syncs), and each mode's `syncProxyRules`:
//! - `pkg/proxy/iptables/proxier.go` with `MinimizeIPTablesRestore` (KEP-3453, GA in 1.28): every
//!   filter rule and the shared nat chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING,
//!   KUBE-MARK-MASQ) are written on every sync, the KUBE-SVC/SVL/EXT/FW/SEP chains only for
//!   changed services, and stale service chains are flushed and deleted (`:CHAIN` + `-X CHAIN`);
//! - `pkg/proxy/nftables/proxier.go`: the chains of changed services are added and flushed and
//!   their rules rewritten, map and set elements are diffed (`nftElementStorage`: add, delete and
//!   re-add on a new value, delete leftovers), stale affinity sets are deleted, and stale chains
//!   are flushed now and deleted by the next sync (kernels before 6.2 need the delay; the next
//!   sync is at least `minSyncPeriod`, 1 s, later);
//! - `pkg/proxy/ipvs/proxier.go`: virtual servers, real servers, ipset members and `kube-ipvs0`
//!   addresses reconciled with what was programmed (`ipvsadm`, `ipset` and `ip addr` commands
//!   stand for its netlink calls).
//!
//! Each Service port's rendered part is cached (the same functions render it as in a full
//! render, so an incremental state never drifts from a fresh one); a sync re-renders only the
//! ports of changed Services. A change of kube-proxy's configuration or of the node (its
//! addresses, pod range) re-renders everything: kube-proxy restarts on a configuration change.
//!
//! Not modelled: stale-chain cleanup in iptables large-cluster mode runs on every sync here
//! (kube-proxy waits for `syncPeriod`); IPVS graceful termination (removed real servers go at
//! once); the periodic full resync (it would send the same rules).

use super::iptables::{self, IptablesOptions, IptablesRules, NodeSettings, ServiceChunk};
use super::ipvs::{self, IpSetEntry, IpvsOptions, IpvsSettings, IpvsState, VirtualServer};
use super::nftables::{
    self, NftChunk, NftElement, NftOp, NftSettings, NftablesOptions, NftablesRules, TABLE,
};
use super::{
    EndpointInfo, Protocol, ProxyConfig, ProxyError, ProxySnapshot, ServicePortInfo,
    ServicePortName, endpoints_map, service_ports,
};
use crate::cluster::Cluster;
use crate::config::ProxyMode;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The label naming an EndpointSlice's Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Which mode a [`Proxier`] programs, with its host facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxierMode {
    /// iptables mode (`iptables-restore` input).
    Iptables(IptablesOptions),
    /// IPVS mode (virtual servers, ipsets, `kube-ipvs0`).
    Ipvs(IpvsOptions),
    /// nftables mode (`nft -f` transactions).
    Nftables(NftablesOptions),
}

impl ProxierMode {
    /// `mode` with a kind node's host facts ([`IptablesOptions::kind`], default IPVS options,
    /// [`NftablesOptions::kind`]).
    pub fn kind(mode: ProxyMode) -> ProxierMode {
        match mode {
            ProxyMode::Iptables => ProxierMode::Iptables(IptablesOptions::kind()),
            ProxyMode::Ipvs => ProxierMode::Ipvs(IpvsOptions::default()),
            ProxyMode::Nftables => ProxierMode::Nftables(NftablesOptions::kind()),
        }
    }

    /// `mode` with the host facts the simulated cluster's nodes render with (its Service range
    /// for nftables), as the node commands and traces use them.
    pub fn for_cluster(cluster: &Cluster, mode: ProxyMode) -> ProxierMode {
        match mode {
            ProxyMode::Nftables => ProxierMode::Nftables(NftablesOptions::for_cluster(cluster)),
            other => ProxierMode::kind(other),
        }
    }
}

/// What changed, for one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Created.
    Add,
    /// Removed.
    Remove,
    /// Kept, with a new value (nft map element verdict, IPVS virtual server flags).
    Change,
}

/// The kind of a changed item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    /// An iptables or nftables chain.
    Chain,
    /// An iptables rule (restore form) or nftables rule (transaction form).
    Rule,
    /// An nftables set (affinity).
    Set,
    /// An nftables set or map element, or an ipset member.
    Element,
    /// An IPVS virtual server.
    VirtualServer,
    /// An IPVS real server.
    RealServer,
    /// An address on `kube-ipvs0`.
    Address,
}

/// One changed item: a chain, rule, element, virtual or real server, or address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemChange {
    /// Added, removed or changed.
    pub op: Op,
    /// What it is.
    pub kind: ItemKind,
    /// Where it lives: `filter`/`nat` (iptables), `ip kube-proxy` (nftables), `ipvs`, `ipset`,
    /// `kube-ipvs0`.
    pub table: String,
    /// The chain, set or virtual server holding it (empty for chains, sets, virtual servers and
    /// addresses).
    pub container: String,
    /// The item as the tools show it: rule text, element, `TCP  10.96.0.1:443 rr`,
    /// `10.244.1.7:80`, chain name.
    pub text: String,
    /// The previous text, for [`Op::Change`].
    pub old_text: Option<String>,
}

/// Everything that changed for one Service port since the last sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePortChange {
    /// The Service port.
    pub name: ServicePortName,
    /// Its items, in the order the payload applies them.
    pub items: Vec<ItemChange>,
}

/// The result of one sync.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncResult {
    /// A full sync (the first one, or after a configuration or node change).
    pub full: bool,
    /// Service ports whose rules changed, in name order; empty for a no-op sync.
    pub changes: Vec<ServicePortChange>,
    /// Service ports re-rendered because their Service or EndpointSlices changed (a superset
    /// of those in `changes`: an EndpointSlice update may leave the rules as they were).
    pub resynced: Vec<ServicePortName>,
    /// What kube-proxy sends: the `iptables-restore --noflush` input, the `nft -f`
    /// transaction, or (IPVS) the `ip addr`, `ipset` and `ipvsadm` commands its netlink calls
    /// amount to.
    pub payload: String,
    /// nftables: the transaction run before `payload`, deleting the chains the previous sync
    /// flushed (or the whole table before a full resync after a restart). Empty otherwise.
    pub cleanup: String,
}

impl SyncResult {
    /// Number of changed items over all Service ports.
    pub fn item_count(&self) -> usize {
        self.changes.iter().map(|c| c.items.len()).sum()
    }
}

/// Per-mode settings derived from the node and the configuration.
#[derive(Clone, Debug, PartialEq)]
enum Settings {
    Iptables(NodeSettings),
    Ipvs(IpvsSettings),
    Nftables(NftSettings, Box<NftablesRules>),
}

/// One Service port's cached part of the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Chunk {
    Iptables(ServiceChunk),
    Ipvs(ipvs::Builder),
    Nftables(NftChunk),
}

#[derive(Clone, Debug)]
struct PortState {
    info: ServicePortInfo,
    endpoints: Vec<EndpointInfo>,
    chunk: Chunk,
}

/// Claims on shared nftables elements and IPVS objects: several Service ports may ask for the
/// same map key or virtual server, and the first in name order wins (as in a full render).
#[derive(Clone, Debug, Default)]
struct Claims {
    nft_elements: BTreeMap<(String, Vec<u8>), BTreeMap<ServicePortName, NftElement>>,
    ipvs_servers: BTreeMap<(Protocol, Ipv4Addr, u16), BTreeMap<ServicePortName, VirtualServer>>,
    ipvs_members: BTreeMap<(&'static str, IpSetEntry), BTreeSet<ServicePortName>>,
    ipvs_bound: BTreeMap<Ipv4Addr, BTreeSet<ServicePortName>>,
}

/// kube-proxy on one node in one mode: the objects it watches, the rules it last synced, and
/// the Services changed since.
///
/// Feed it changes with [`Proxier::update_service`], [`Proxier::update_endpoint_slice`] (and
/// their `delete_` twins), [`Proxier::set_config`] and [`Proxier::update_node`], as kube-proxy's
/// informers do, then call [`Proxier::sync_changes`]; or hand it a whole snapshot with
/// [`Proxier::sync`], which finds the changed objects itself (by `resourceVersion` when both
/// sides carry one, else by comparing them).
#[derive(Clone, Debug)]
pub struct Proxier {
    node: String,
    mode: ProxierMode,
    config: ProxyConfig,
    nodes: BTreeMap<String, Node>,
    services: BTreeMap<String, Service>,
    slices: BTreeMap<String, EndpointSlice>,
    slices_by_service: BTreeMap<String, BTreeSet<String>>,
    pending: BTreeSet<String>,
    settings: Option<Settings>,
    settings_dirty: bool,
    ports: BTreeMap<ServicePortName, PortState>,
    total_endpoints: usize,
    large_cluster: bool,
    claims: Claims,
    nft_stale_chains: Vec<String>,
    ipt_cache: Option<iptables::SharedCache>,
}

fn ns_name(namespace: Option<&str>, name: Option<&str>) -> String {
    let ns = namespace.unwrap_or("default");
    let name = name.unwrap_or("");
    let mut k = String::with_capacity(ns.len() + name.len() + 1);
    k.push_str(ns);
    k.push('/');
    k.push_str(name);
    k
}

fn slice_service(slice: &EndpointSlice) -> Option<String> {
    let svc = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some(ns_name(slice.metadata.namespace.as_deref(), Some(svc)))
}

/// Whether two versions of an object are the same: equal `resourceVersion` and `uid` when both
/// carry a `resourceVersion` (the apiserver's contract), else equal content.
fn same_object<T: PartialEq>(a: &T, am: &ObjectMeta, b: &T, bm: &ObjectMeta) -> bool {
    match (&am.resource_version, &bm.resource_version) {
        (Some(ra), Some(rb)) => ra == rb && am.uid == bm.uid,
        _ => a == b,
    }
}

impl Proxier {
    /// A kube-proxy for `node` that has synced nothing yet.
    pub fn new(node: &str, mode: ProxierMode) -> Proxier {
        Proxier {
            node: node.to_string(),
            mode,
            config: ProxyConfig::default(),
            nodes: BTreeMap::new(),
            services: BTreeMap::new(),
            slices: BTreeMap::new(),
            slices_by_service: BTreeMap::new(),
            pending: BTreeSet::new(),
            settings: None,
            settings_dirty: true,
            ports: BTreeMap::new(),
            total_endpoints: 0,
            large_cluster: false,
            claims: Claims::default(),
            nft_stale_chains: Vec::new(),
            ipt_cache: None,
        }
    }

    /// The node this kube-proxy runs on.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The mode and host facts.
    pub fn mode(&self) -> &ProxierMode {
        &self.mode
    }

    /// Whether changes wait for a sync.
    pub fn has_pending_changes(&self) -> bool {
        !self.pending.is_empty() || self.settings_dirty
    }

    /// A Service was added or updated (`OnServiceUpdate`).
    pub fn update_service(&mut self, svc: &Service) {
        let key = ns_name(
            svc.metadata.namespace.as_deref(),
            svc.metadata.name.as_deref(),
        );
        if let Some(old) = self.services.get(&key)
            && same_object(old, &old.metadata, svc, &svc.metadata)
        {
            return;
        }
        self.services.insert(key.clone(), svc.clone());
        self.pending.insert(key);
    }

    /// A Service was deleted (`OnServiceDelete`).
    pub fn delete_service(&mut self, namespace: &str, name: &str) {
        let key = ns_name(Some(namespace), Some(name));
        if self.services.remove(&key).is_some() {
            self.pending.insert(key);
        }
    }

    /// An EndpointSlice was added or updated (`OnEndpointSliceUpdate`).
    pub fn update_endpoint_slice(&mut self, slice: &EndpointSlice) {
        let key = ns_name(
            slice.metadata.namespace.as_deref(),
            slice.metadata.name.as_deref(),
        );
        if let Some(old) = self.slices.get(&key)
            && same_object(old, &old.metadata, slice, &slice.metadata)
        {
            return;
        }
        self.forget_slice(&key);
        if let Some(svc) = slice_service(slice) {
            self.slices_by_service
                .entry(svc.clone())
                .or_default()
                .insert(key.clone());
            self.pending.insert(svc);
        }
        self.slices.insert(key, slice.clone());
    }

    /// An EndpointSlice was deleted (`OnEndpointSliceDelete`).
    pub fn delete_endpoint_slice(&mut self, namespace: &str, name: &str) {
        let key = ns_name(Some(namespace), Some(name));
        self.forget_slice(&key);
    }

    fn forget_slice(&mut self, key: &str) {
        let Some(old) = self.slices.remove(key) else {
            return;
        };
        if let Some(svc) = slice_service(&old) {
            if let Some(set) = self.slices_by_service.get_mut(&svc) {
                set.remove(key);
                if set.is_empty() {
                    self.slices_by_service.remove(&svc);
                }
            }
            self.pending.insert(svc);
        }
    }

    /// kube-proxy's configuration changed (kube-proxy restarts: the next sync is full).
    pub fn set_config(&mut self, config: &ProxyConfig) {
        if &self.config != config {
            self.config = config.clone();
            self.settings_dirty = true;
        }
    }

    /// A Node was added or updated; only kube-proxy's own node matters.
    pub fn update_node(&mut self, node: &Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if self.nodes.get(&name) != Some(node) {
            if name == self.node {
                self.settings_dirty = true;
            }
            self.nodes.insert(name, node.clone());
        }
    }

    /// Takes in a whole snapshot, noting what differs from the objects seen so far.
    pub fn observe(&mut self, snapshot: &ProxySnapshot) {
        self.set_config(&snapshot.config);
        let mut seen_nodes = BTreeSet::new();
        for n in &snapshot.nodes {
            seen_nodes.insert(n.metadata.name.clone().unwrap_or_default());
            self.update_node(n);
        }
        if seen_nodes.len() != self.nodes.len() {
            if !seen_nodes.contains(&self.node) && self.nodes.contains_key(&self.node) {
                self.settings_dirty = true;
            }
            self.nodes.retain(|k, _| seen_nodes.contains(k));
        }
        let before = self.services.len();
        let mut seen = BTreeSet::new();
        for s in &snapshot.services {
            let key = ns_name(s.metadata.namespace.as_deref(), s.metadata.name.as_deref());
            self.update_service(s);
            seen.insert(key);
        }
        if seen.len() != before || self.services.len() != seen.len() {
            let gone: Vec<String> = self
                .services
                .keys()
                .filter(|k| !seen.contains(*k))
                .cloned()
                .collect();
            for k in gone {
                self.services.remove(&k);
                self.pending.insert(k);
            }
        }
        let before = self.slices.len();
        let mut seen = BTreeSet::new();
        for s in &snapshot.endpoint_slices {
            let key = ns_name(s.metadata.namespace.as_deref(), s.metadata.name.as_deref());
            self.update_endpoint_slice(s);
            seen.insert(key);
        }
        if seen.len() != before || self.slices.len() != seen.len() {
            let gone: Vec<String> = self
                .slices
                .keys()
                .filter(|k| !seen.contains(*k))
                .cloned()
                .collect();
            for k in gone {
                self.forget_slice(&k);
            }
        }
    }

    /// [`Proxier::observe`] then [`Proxier::sync_changes`].
    pub fn sync(&mut self, snapshot: &ProxySnapshot) -> Result<SyncResult, ProxyError> {
        self.observe(snapshot);
        self.sync_changes()
    }

    fn settings_snapshot(&self) -> ProxySnapshot {
        ProxySnapshot {
            config: self.config.clone(),
            nodes: self.nodes.get(&self.node).cloned().into_iter().collect(),
            services: Vec::new(),
            endpoint_slices: Vec::new(),
        }
    }

    fn new_settings(&self) -> Result<Settings, ProxyError> {
        let snap = self.settings_snapshot();
        Ok(match &self.mode {
            ProxierMode::Iptables(o) => {
                Settings::Iptables(NodeSettings::new(&snap, &self.node, o)?)
            }
            ProxierMode::Ipvs(o) => Settings::Ipvs(IpvsSettings::new(&snap, &self.node, o)?),
            ProxierMode::Nftables(o) => {
                let s = NftSettings::new(&snap, &self.node, o)?;
                let base = Box::new(nftables::base(&s));
                Settings::Nftables(s, base)
            }
        })
    }

    /// The ports and endpoints one Service has now.
    fn service_state(
        &self,
        key: &str,
    ) -> BTreeMap<ServicePortName, (ServicePortInfo, Vec<EndpointInfo>)> {
        let Some(svc) = self.services.get(key) else {
            return BTreeMap::new();
        };
        let ports = service_ports(std::slice::from_ref(svc));
        let slices: Vec<EndpointSlice> = self
            .slices_by_service
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|k| self.slices.get(k).cloned())
            .collect();
        let mut eps = endpoints_map(&slices, &self.node);
        ports
            .into_iter()
            .map(|(spn, info)| {
                let e = eps.remove(&spn).unwrap_or_default();
                (spn, (info, e))
            })
            .collect()
    }

    fn render_chunk(
        &self,
        spn: &ServicePortName,
        info: &ServicePortInfo,
        eps: &[EndpointInfo],
    ) -> Chunk {
        match self.settings.as_ref() {
            Some(Settings::Iptables(s)) => {
                let mut c = ServiceChunk::default();
                iptables::render_service_chunk(
                    s,
                    spn,
                    info,
                    eps,
                    self.large_cluster,
                    &mut c.filter_rules,
                    &mut c.nat_chains,
                    &mut c.nat_shared,
                    Some(&mut c.nat_own),
                );
                Chunk::Iptables(c)
            }
            Some(Settings::Ipvs(s)) => {
                let mut b = ipvs::Builder::default();
                ipvs::render_service(&mut b, s, spn, info, eps);
                Chunk::Ipvs(b)
            }
            Some(Settings::Nftables(s, base)) => {
                Chunk::Nftables(nftables::service_chunk(base, s, spn, info, eps))
            }
            None => Chunk::Iptables(ServiceChunk::default()),
        }
    }

    /// Syncs the changes recorded since the last sync (`syncProxyRules`).
    pub fn sync_changes(&mut self) -> Result<SyncResult, ProxyError> {
        let mut full = false;
        let mut cleanup = String::new();
        if self.settings_dirty || self.settings.is_none() {
            let s = self.new_settings()?;
            if self.settings.as_ref() != Some(&s) {
                if self.settings.is_some() && matches!(s, Settings::Nftables(..)) {
                    // kube-proxy restarted with new settings: start from an empty table.
                    cleanup.push_str("delete table ip kube-proxy\n");
                }
                full = true;
                self.settings = Some(s);
            }
            self.settings_dirty = false;
        }
        if !cleanup.is_empty() {
            // The old table and its chains are gone; nothing is pending deletion any more.
            self.nft_stale_chains.clear();
        } else {
            for c in self.nft_stale_chains.drain(..) {
                cleanup.push_str("delete chain ip kube-proxy ");
                cleanup.push_str(&c);
                cleanup.push('\n');
            }
        }
        let mut pending: BTreeSet<String> = std::mem::take(&mut self.pending);
        if full {
            pending.extend(self.services.keys().cloned());
            pending.extend(self.ports.keys().map(|k| k.namespaced_name.clone()));
        }

        // New ports and endpoints of the changed Services.
        let mut new_state: BTreeMap<ServicePortName, Option<(ServicePortInfo, Vec<EndpointInfo>)>> =
            BTreeMap::new();
        for key in &pending {
            for (spn, _) in self.ports_of(key) {
                new_state.insert(spn, None);
            }
            for (spn, v) in self.service_state(key) {
                new_state.insert(spn, Some(v));
            }
        }
        // kube-proxy counts endpoints over all service ports for large-cluster mode.
        for (spn, v) in &new_state {
            if let Some(old) = self.ports.get(spn) {
                self.total_endpoints -= old.endpoints.len();
            }
            if let Some((_, e)) = v {
                self.total_endpoints += e.len();
            }
        }
        let large = iptables::large_cluster(self.total_endpoints);
        if large != self.large_cluster && matches!(self.mode, ProxierMode::Iptables(_)) {
            self.large_cluster = large;
            full = true;
            for (spn, st) in &self.ports {
                new_state
                    .entry(spn.clone())
                    .or_insert_with(|| Some((st.info.clone(), st.endpoints.clone())));
            }
        }
        self.large_cluster = large;

        // Re-render, and remember the old chunks for the diff.
        let mut old_chunks: BTreeMap<ServicePortName, Option<Chunk>> = BTreeMap::new();
        for (spn, v) in new_state {
            let old = match v {
                Some((info, endpoints)) => {
                    let chunk = self.render_chunk(&spn, &info, &endpoints);
                    self.ports
                        .insert(
                            spn.clone(),
                            PortState {
                                info,
                                endpoints,
                                chunk,
                            },
                        )
                        .map(|p| p.chunk)
                }
                None => self.ports.remove(&spn).map(|p| p.chunk),
            };
            old_chunks.insert(spn, old);
        }
        let resynced: Vec<ServicePortName> = old_chunks.keys().cloned().collect();
        let mut result = match self.settings.clone() {
            Some(Settings::Iptables(s)) => self.sync_iptables(&s, &old_chunks, full),
            Some(Settings::Ipvs(_)) => self.sync_ipvs(&old_chunks),
            Some(Settings::Nftables(..)) => self.sync_nftables(&old_chunks, full),
            None => SyncResult::default(),
        };
        result.full = full;
        result.resynced = resynced;
        result.cleanup = cleanup;
        Ok(result)
    }

    fn ports_of(&self, key: &str) -> Vec<(ServicePortName, ())> {
        let start = ServicePortName {
            namespaced_name: key.to_string(),
            port: String::new(),
            protocol: Protocol::Tcp,
        };
        self.ports
            .range(start..)
            .take_while(|(k, _)| k.namespaced_name == key)
            .map(|(k, _)| (k.clone(), ()))
            .collect()
    }

    fn sync_iptables(
        &mut self,
        s: &NodeSettings,
        old_chunks: &BTreeMap<ServicePortName, Option<Chunk>>,
        full: bool,
    ) -> SyncResult {
        let mut changes = Vec::new();
        let mut stale = Vec::new();
        for (spn, old) in old_chunks {
            let old = match old {
                Some(Chunk::Iptables(c)) => Some(c),
                _ => None,
            };
            let new = match self.ports.get(spn).map(|p| &p.chunk) {
                Some(Chunk::Iptables(c)) => Some(c),
                _ => None,
            };
            let chains = |c: Option<&ServiceChunk>| -> Vec<String> {
                c.map(|c| {
                    c.nat_chains
                        .lines()
                        .map(|l| {
                            l.trim_start_matches(':')
                                .split(' ')
                                .next()
                                .unwrap_or("")
                                .to_string()
                        })
                        .collect()
                })
                .unwrap_or_default()
            };
            let (old_chains, new_chains) = (chains(old), chains(new));
            let mut items = Vec::new();
            for c in &new_chains {
                if !old_chains.contains(c) {
                    items.push(item(Op::Add, ItemKind::Chain, "nat", "", c));
                }
            }
            let lines = |c: Option<&ServiceChunk>| -> Vec<(&'static str, String)> {
                let Some(c) = c else { return Vec::new() };
                c.filter_rules
                    .lines()
                    .map(|l| ("filter", l.to_string()))
                    .chain(
                        c.nat_shared
                            .lines()
                            .chain(c.nat_own.lines())
                            .map(|l| ("nat", l.to_string())),
                    )
                    .collect()
            };
            let (old_lines, new_lines) = (lines(old), lines(new));
            for (table, l) in multiset_minus(&old_lines, &new_lines) {
                items.push(item(
                    Op::Remove,
                    ItemKind::Rule,
                    table,
                    iptables::line_chain(&l),
                    &l,
                ));
            }
            for (table, l) in multiset_minus(&new_lines, &old_lines) {
                items.push(item(
                    Op::Add,
                    ItemKind::Rule,
                    table,
                    iptables::line_chain(&l),
                    &l,
                ));
            }
            for c in &old_chains {
                if !new_chains.contains(c) {
                    items.push(item(Op::Remove, ItemKind::Chain, "nat", "", c));
                    stale.push(c.clone());
                }
            }
            if !items.is_empty() {
                changes.push(ServicePortChange {
                    name: spn.clone(),
                    items,
                });
            }
        }
        // The concatenated shared lines stay valid unless a port came, went, or changed them.
        let shared_changed = old_chunks.iter().any(|(spn, old)| {
            let new = self.ports.get(spn).map(|p| &p.chunk);
            match (old, new) {
                (Some(Chunk::Iptables(o)), Some(Chunk::Iptables(n))) => {
                    o.filter_rules != n.filter_rules || o.nat_shared != n.nat_shared
                }
                _ => true,
            }
        });
        if full || shared_changed || self.ipt_cache.is_none() {
            self.ipt_cache = Some(iptables::SharedCache::new(self.ports.iter().filter_map(
                |(spn, p)| match &p.chunk {
                    Chunk::Iptables(c) => Some((spn, c)),
                    _ => None,
                },
            )));
        }
        let empty = iptables::SharedCache::default();
        let cache = self.ipt_cache.as_ref().unwrap_or(&empty);
        let payload = iptables::partial_restore(
            s,
            cache,
            self.ports.iter().filter_map(|(spn, p)| match &p.chunk {
                Chunk::Iptables(c) if full || old_chunks.contains_key(spn) => Some((spn, c)),
                _ => None,
            }),
            &stale,
        );
        SyncResult {
            changes,
            payload,
            ..Default::default()
        }
    }

    fn sync_nftables(
        &mut self,
        old_chunks: &BTreeMap<ServicePortName, Option<Chunk>>,
        full: bool,
    ) -> SyncResult {
        let mut payload = String::new();
        let nft = |c: &Option<Chunk>| -> Option<NftChunk> {
            match c {
                Some(Chunk::Nftables(c)) => Some(c.clone()),
                _ => None,
            }
        };
        // Element claims: drop the old ones of every re-rendered port, then add the new ones.
        let mut touched: BTreeMap<(String, Vec<u8>), ServicePortName> = BTreeMap::new();
        let mut before: BTreeMap<(String, Vec<u8>), Option<NftElement>> = BTreeMap::new();
        for (spn, old) in old_chunks {
            let new = self
                .ports
                .get(spn)
                .and_then(|p| nft(&Some(p.chunk.clone())));
            for c in [nft(old), new].into_iter().flatten() {
                for op in &c.ops {
                    if let NftOp::Element(set, e) = op {
                        let k = (set.clone(), e.sort_key());
                        touched.entry(k.clone()).or_insert_with(|| spn.clone());
                        before.entry(k.clone()).or_insert_with(|| {
                            self.claims
                                .nft_elements
                                .get(&k)
                                .and_then(|m| m.values().next().cloned())
                        });
                    }
                }
            }
        }
        for (spn, old) in old_chunks {
            if let Some(c) = nft(old) {
                for op in &c.ops {
                    if let NftOp::Element(set, e) = op {
                        let k = (set.clone(), e.sort_key());
                        if let Some(m) = self.claims.nft_elements.get_mut(&k) {
                            m.remove(spn);
                            if m.is_empty() {
                                self.claims.nft_elements.remove(&k);
                            }
                        }
                    }
                }
            }
            if let Some(Chunk::Nftables(c)) = self.ports.get(spn).map(|p| &p.chunk) {
                for op in &c.ops {
                    if let NftOp::Element(set, e) = op {
                        // Within one port the first claim of a key wins, as `ensureElem` does.
                        self.claims
                            .nft_elements
                            .entry((set.clone(), e.sort_key()))
                            .or_default()
                            .entry(spn.clone())
                            .or_insert_with(|| e.clone());
                    }
                }
            }
        }

        let mut changes: BTreeMap<ServicePortName, Vec<ItemChange>> = BTreeMap::new();
        let mut tail = String::new();
        for (spn, old) in old_chunks {
            let old = nft(old).unwrap_or_default();
            let new = match self.ports.get(spn).map(|p| &p.chunk) {
                Some(Chunk::Nftables(c)) => c.clone(),
                _ => NftChunk::default(),
            };
            let items = changes.entry(spn.clone()).or_default();
            let old_chains: BTreeMap<&str, &nftables::NftChain> =
                old.chains.iter().map(|c| (c.name.as_str(), c)).collect();
            let new_chains: BTreeMap<&str, &nftables::NftChain> =
                new.chains.iter().map(|c| (c.name.as_str(), c)).collect();
            for op in &new.ops {
                if let NftOp::Line(l) = op {
                    payload.push_str(l);
                    payload.push('\n');
                    // `ensureChain`: an existing chain is flushed before its rules are rewritten.
                    if let Some(name) = l.strip_prefix("add chain ip kube-proxy ")
                        && old_chains.contains_key(name)
                    {
                        payload.push_str("flush chain ip kube-proxy ");
                        payload.push_str(name);
                        payload.push('\n');
                    }
                }
            }
            for (name, c) in &new_chains {
                let old_rules: Vec<(&'static str, String)> = old_chains
                    .get(name)
                    .map(|o| o.rules.iter().map(|r| ("", r.text.clone())).collect())
                    .unwrap_or_default();
                let new_rules: Vec<(&'static str, String)> =
                    c.rules.iter().map(|r| ("", r.text.clone())).collect();
                if !old_chains.contains_key(name) {
                    items.push(item(Op::Add, ItemKind::Chain, TABLE_FULL, "", name));
                }
                for (_, r) in multiset_minus(&old_rules, &new_rules) {
                    items.push(item(Op::Remove, ItemKind::Rule, TABLE_FULL, name, &r));
                }
                for (_, r) in multiset_minus(&new_rules, &old_rules) {
                    items.push(item(Op::Add, ItemKind::Rule, TABLE_FULL, name, &r));
                }
            }
            for (name, c) in &old_chains {
                if !new_chains.contains_key(name) {
                    for r in &c.rules {
                        items.push(item(Op::Remove, ItemKind::Rule, TABLE_FULL, name, &r.text));
                    }
                    items.push(item(Op::Remove, ItemKind::Chain, TABLE_FULL, "", name));
                    tail.push_str("flush chain ip kube-proxy ");
                    tail.push_str(name);
                    tail.push('\n');
                    self.nft_stale_chains.push(name.to_string());
                }
            }
            let new_sets: BTreeSet<&str> = new.sets.iter().map(|s| s.name.as_str()).collect();
            let old_sets: BTreeSet<&str> = old.sets.iter().map(|s| s.name.as_str()).collect();
            for set in new_sets.difference(&old_sets) {
                items.push(item(Op::Add, ItemKind::Set, TABLE_FULL, "", set));
            }
            for set in old_sets.difference(&new_sets) {
                items.push(item(Op::Remove, ItemKind::Set, TABLE_FULL, "", set));
                tail.push_str("delete set ip kube-proxy ");
                tail.push_str(set);
                tail.push('\n');
            }
        }
        // Elements: what the first claimant says now against what was programmed.
        let mut element_ops = String::new();
        let mut leftovers = String::new();
        for (k, spn) in &touched {
            let was = before.get(k).cloned().flatten();
            let now = self
                .claims
                .nft_elements
                .get(k)
                .and_then(|m| m.values().next().cloned());
            let set = &k.0;
            let items = changes.entry(spn.clone()).or_default();
            match (&was, &now) {
                (None, Some(n)) => {
                    push_element(&mut element_ops, "add", set, n);
                    items.push(item(Op::Add, ItemKind::Element, TABLE_FULL, set, &n.text()));
                }
                (Some(w), None) => {
                    push_element(&mut leftovers, "delete", set, w);
                    items.push(item(
                        Op::Remove,
                        ItemKind::Element,
                        TABLE_FULL,
                        set,
                        &w.text(),
                    ));
                }
                (Some(w), Some(n)) if w.value != n.value || w.comment != n.comment => {
                    push_element(&mut element_ops, "delete", set, w);
                    push_element(&mut element_ops, "add", set, n);
                    let mut it = item(Op::Change, ItemKind::Element, TABLE_FULL, set, &n.text());
                    it.old_text = Some(w.text());
                    items.push(it);
                }
                _ => {}
            }
        }
        payload.push_str(&element_ops);
        payload.push_str(&tail);
        payload.push_str(&leftovers);
        if full {
            // A fresh table (first sync, or after the restart's `delete table`): the whole
            // transaction in kube-proxy's write order, as a full render gives it.
            payload = self
                .nftables_rules()
                .map(|t| t.transaction_text())
                .unwrap_or_default();
            self.nft_stale_chains.clear();
        }
        SyncResult {
            changes: changes
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(name, items)| ServicePortChange { name, items })
                .collect(),
            payload,
            ..Default::default()
        }
    }

    fn sync_ipvs(&mut self, old_chunks: &BTreeMap<ServicePortName, Option<Chunk>>) -> SyncResult {
        let builder = |c: Option<&Chunk>| -> ipvs::Builder {
            match c {
                Some(Chunk::Ipvs(b)) => b.clone(),
                _ => ipvs::Builder::default(),
            }
        };
        // What each touched object looked like before.
        let mut vs_before = BTreeMap::new();
        let mut members_before = BTreeMap::new();
        let mut bound_before = BTreeMap::new();
        let mut owner_vs = BTreeMap::new();
        let mut owner_member = BTreeMap::new();
        let mut owner_bound = BTreeMap::new();
        for (spn, old) in old_chunks {
            let new = builder(self.ports.get(spn).map(|p| &p.chunk));
            for b in [builder(old.as_ref()), new] {
                for k in b.servers.keys() {
                    owner_vs.entry(*k).or_insert_with(|| spn.clone());
                    vs_before.entry(*k).or_insert_with(|| {
                        self.claims
                            .ipvs_servers
                            .get(k)
                            .and_then(|m| m.values().next().cloned())
                    });
                }
                for (set, entries) in &b.sets {
                    for e in entries {
                        let k = (*set, e.clone());
                        owner_member.entry(k.clone()).or_insert_with(|| spn.clone());
                        let present = self.claims.ipvs_members.contains_key(&k);
                        members_before.entry(k).or_insert(present);
                    }
                }
                for ip in &b.bound {
                    owner_bound.entry(*ip).or_insert_with(|| spn.clone());
                    let present = self.claims.ipvs_bound.contains_key(ip);
                    bound_before.entry(*ip).or_insert(present);
                }
            }
        }
        // Move the claims.
        for (spn, old) in old_chunks {
            let old = builder(old.as_ref());
            for k in old.servers.keys() {
                remove_claim(&mut self.claims.ipvs_servers, k, spn);
            }
            for (set, entries) in &old.sets {
                for e in entries {
                    remove_set_claim(&mut self.claims.ipvs_members, &(*set, e.clone()), spn);
                }
            }
            for ip in &old.bound {
                remove_set_claim(&mut self.claims.ipvs_bound, ip, spn);
            }
            let new = builder(self.ports.get(spn).map(|p| &p.chunk));
            for (k, vs) in &new.servers {
                self.claims
                    .ipvs_servers
                    .entry(*k)
                    .or_default()
                    .insert(spn.clone(), vs.clone());
            }
            for (set, entries) in &new.sets {
                for e in entries {
                    self.claims
                        .ipvs_members
                        .entry((*set, e.clone()))
                        .or_default()
                        .insert(spn.clone());
                }
            }
            for ip in &new.bound {
                self.claims
                    .ipvs_bound
                    .entry(*ip)
                    .or_default()
                    .insert(spn.clone());
            }
        }

        let mut changes: BTreeMap<ServicePortName, Vec<ItemChange>> = BTreeMap::new();
        let (mut binds, mut unbinds, mut set_adds, mut set_dels, mut vs_ops, mut vs_dels) = (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        );
        for (ip, was) in &bound_before {
            let now = self.claims.ipvs_bound.contains_key(ip);
            let items = changes.entry(owner_bound[ip].clone()).or_default();
            if now && !was {
                binds.push_str(&format!("ip addr add {ip}/32 dev {}\n", ipvs::DUMMY_DEVICE));
                items.push(item(
                    Op::Add,
                    ItemKind::Address,
                    ipvs::DUMMY_DEVICE,
                    "",
                    &ip.to_string(),
                ));
                set_adds.push_str(&format!("ipset add {} {ip}\n", ipvs::KUBE_IPVS_IPS));
                items.push(item(
                    Op::Add,
                    ItemKind::Element,
                    "ipset",
                    ipvs::KUBE_IPVS_IPS,
                    &ip.to_string(),
                ));
            } else if !now && *was {
                unbinds.push_str(&format!("ip addr del {ip}/32 dev {}\n", ipvs::DUMMY_DEVICE));
                items.push(item(
                    Op::Remove,
                    ItemKind::Address,
                    ipvs::DUMMY_DEVICE,
                    "",
                    &ip.to_string(),
                ));
                set_dels.push_str(&format!("ipset del {} {ip}\n", ipvs::KUBE_IPVS_IPS));
                items.push(item(
                    Op::Remove,
                    ItemKind::Element,
                    "ipset",
                    ipvs::KUBE_IPVS_IPS,
                    &ip.to_string(),
                ));
            }
        }
        for ((set, e), was) in &members_before {
            let k = (*set, e.clone());
            let now = self.claims.ipvs_members.contains_key(&k);
            let items = changes.entry(owner_member[&k].clone()).or_default();
            if now && !was {
                set_adds.push_str(&format!("ipset add {set} {e}\n"));
                items.push(item(
                    Op::Add,
                    ItemKind::Element,
                    "ipset",
                    set,
                    &e.to_string(),
                ));
            } else if !now && *was {
                set_dels.push_str(&format!("ipset del {set} {e}\n"));
                items.push(item(
                    Op::Remove,
                    ItemKind::Element,
                    "ipset",
                    set,
                    &e.to_string(),
                ));
            }
        }
        for (k, was) in &vs_before {
            let now = self
                .claims
                .ipvs_servers
                .get(k)
                .and_then(|m| m.values().next().cloned());
            let items = changes.entry(owner_vs[k].clone()).or_default();
            diff_virtual_server(was.as_ref(), now.as_ref(), items, &mut vs_ops, &mut vs_dels);
        }
        let payload = [binds, set_adds, vs_ops, vs_dels, set_dels, unbinds].concat();
        SyncResult {
            changes: changes
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(name, items)| ServicePortChange { name, items })
                .collect(),
            payload,
            ..Default::default()
        }
    }

    /// The iptables rules as last synced (iptables mode), assembled from the cached parts.
    pub fn iptables_rules(&self) -> Option<IptablesRules> {
        let Some(Settings::Iptables(s)) = &self.settings else {
            return None;
        };
        Some(iptables::assemble(
            s,
            self.ports.values().filter_map(|p| match &p.chunk {
                Chunk::Iptables(c) => Some(c),
                _ => None,
            }),
        ))
    }

    /// The IPVS state as last synced (IPVS mode).
    pub fn ipvs_state(&self) -> Option<IpvsState> {
        let (Some(Settings::Ipvs(s)), ProxierMode::Ipvs(o)) = (&self.settings, &self.mode) else {
            return None;
        };
        let mut b = ipvs::Builder::default();
        for p in self.ports.values() {
            if let Chunk::Ipvs(c) = &p.chunk {
                b.merge(c);
            }
        }
        Some(b.finish(&s.node_name, o))
    }

    /// The nftables table as last synced (nftables mode).
    pub fn nftables_rules(&self) -> Option<NftablesRules> {
        let Some(Settings::Nftables(_, base)) = &self.settings else {
            return None;
        };
        let mut t = (**base).clone();
        for p in self.ports.values() {
            if let Chunk::Nftables(c) = &p.chunk {
                nftables::apply_chunk(&mut t, c);
            }
        }
        Some(t)
    }

    /// Number of rules (iptables: restore lines; nftables: chain rules; IPVS: virtual plus
    /// real servers) as last synced.
    pub fn rule_count(&self) -> usize {
        match &self.mode {
            ProxierMode::Iptables(_) => self.iptables_rules().map_or(0, |r| r.rule_count()),
            ProxierMode::Nftables(_) => self.nftables_rules().map_or(0, |r| r.rule_count()),
            ProxierMode::Ipvs(_) => self
                .claims
                .ipvs_servers
                .values()
                .filter_map(|m| m.values().next())
                .map(|vs| 1 + vs.real_servers.len())
                .sum(),
        }
    }
}

const TABLE_FULL: &str = "ip kube-proxy";

fn item(op: Op, kind: ItemKind, table: &str, container: &str, text: &str) -> ItemChange {
    ItemChange {
        op,
        kind,
        table: table.to_string(),
        container: container.to_string(),
        text: text.to_string(),
        old_text: None,
    }
}

/// `a` minus `b` as multisets, in `a`'s order.
fn multiset_minus<T: Clone + Ord>(a: &[T], b: &[T]) -> Vec<T> {
    let mut counts: BTreeMap<&T, usize> = BTreeMap::new();
    for x in b {
        *counts.entry(x).or_default() += 1;
    }
    a.iter()
        .filter(|x| match counts.get_mut(x) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

fn push_element(out: &mut String, verb: &str, set: &str, e: &NftElement) {
    out.push_str(verb);
    out.push_str(" element ip ");
    out.push_str(TABLE);
    out.push(' ');
    out.push_str(set);
    out.push_str(" { ");
    if verb == "add" {
        out.push_str(&e.text());
    } else {
        // knftables writes only the key when deleting.
        out.push_str(&e.key.join(" . "));
    }
    out.push_str(" }\n");
}

fn remove_claim<K: Ord + Clone, V>(
    m: &mut BTreeMap<K, BTreeMap<ServicePortName, V>>,
    k: &K,
    spn: &ServicePortName,
) {
    if let Some(inner) = m.get_mut(k) {
        inner.remove(spn);
        if inner.is_empty() {
            m.remove(k);
        }
    }
}

fn remove_set_claim<K: Ord + Clone>(
    m: &mut BTreeMap<K, BTreeSet<ServicePortName>>,
    k: &K,
    spn: &ServicePortName,
) {
    if let Some(inner) = m.get_mut(k) {
        inner.remove(spn);
        if inner.is_empty() {
            m.remove(k);
        }
    }
}

/// `ipvsadm`'s service address option: `-t`, `-u` or `--sctp-service`.
fn vs_flag(vs: &VirtualServer) -> String {
    let f = match vs.protocol {
        Protocol::Tcp => "-t",
        Protocol::Udp => "-u",
        Protocol::Sctp => "--sctp-service",
    };
    format!("{f} {}:{}", vs.address, vs.port)
}

/// The virtual server as `ipvsadm -Ln` heads it.
fn vs_text(vs: &VirtualServer) -> String {
    let proto = match vs.protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
    };
    let mut s = format!("{proto}  {}:{} {}", vs.address, vs.port, vs.scheduler);
    if let Some(t) = vs.persistent {
        s.push_str(&format!(" persistent {t}"));
    }
    s
}

fn vs_options(vs: &VirtualServer) -> String {
    let mut s = format!("-s {}", vs.scheduler);
    if let Some(t) = vs.persistent {
        s.push_str(&format!(" -p {t}"));
    }
    s
}

fn diff_virtual_server(
    was: Option<&VirtualServer>,
    now: Option<&VirtualServer>,
    items: &mut Vec<ItemChange>,
    ops: &mut String,
    dels: &mut String,
) {
    let rs = |vs: Option<&VirtualServer>| -> Vec<(Ipv4Addr, u16)> {
        vs.map(|v| v.real_servers.iter().map(|r| (r.address, r.port)).collect())
            .unwrap_or_default()
    };
    match (was, now) {
        (None, Some(n)) => {
            ops.push_str(&format!("ipvsadm -A {} {}\n", vs_flag(n), vs_options(n)));
            items.push(item(
                Op::Add,
                ItemKind::VirtualServer,
                "ipvs",
                "",
                &vs_text(n),
            ));
        }
        (Some(w), None) => {
            for (ip, port) in rs(Some(w)) {
                items.push(item(
                    Op::Remove,
                    ItemKind::RealServer,
                    "ipvs",
                    &vs_text(w),
                    &format!("{ip}:{port}"),
                ));
            }
            dels.push_str(&format!("ipvsadm -D {}\n", vs_flag(w)));
            items.push(item(
                Op::Remove,
                ItemKind::VirtualServer,
                "ipvs",
                "",
                &vs_text(w),
            ));
            return;
        }
        (Some(w), Some(n)) if vs_text(w) != vs_text(n) => {
            ops.push_str(&format!("ipvsadm -E {} {}\n", vs_flag(n), vs_options(n)));
            let mut it = item(Op::Change, ItemKind::VirtualServer, "ipvs", "", &vs_text(n));
            it.old_text = Some(vs_text(w));
            items.push(it);
        }
        _ => {}
    }
    let Some(n) = now else { return };
    let (old, new) = (rs(was), rs(now));
    for (ip, port) in multiset_minus(&new, &old) {
        ops.push_str(&format!(
            "ipvsadm -a {} -r {ip}:{port} -m -w 1\n",
            vs_flag(n)
        ));
        items.push(item(
            Op::Add,
            ItemKind::RealServer,
            "ipvs",
            &vs_text(n),
            &format!("{ip}:{port}"),
        ));
    }
    for (ip, port) in multiset_minus(&old, &new) {
        ops.push_str(&format!("ipvsadm -d {} -r {ip}:{port}\n", vs_flag(n)));
        items.push(item(
            Op::Remove,
            ItemKind::RealServer,
            "ipvs",
            &vs_text(n),
            &format!("{ip}:{port}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{HTTPD_SVC, cluster_with, httpd_deployment};

    fn modes() -> Vec<ProxierMode> {
        vec![
            ProxierMode::Iptables(IptablesOptions::kind()),
            ProxierMode::Ipvs(IpvsOptions::default()),
            ProxierMode::Nftables(NftablesOptions::kind()),
        ]
    }

    fn course() -> ProxySnapshot {
        let c = cluster_with(&format!("{}---\n{HTTPD_SVC}", httpd_deployment(3)));
        ProxySnapshot::from_cluster(&c)
    }

    #[test]
    fn first_sync_is_full_and_matches_a_full_render() {
        let snap = course();
        for mode in modes() {
            let mut p = Proxier::new("kind-worker", mode.clone());
            let r = p.sync(&snap).expect("node exists");
            assert!(r.full);
            assert!(!r.changes.is_empty());
            match mode {
                ProxierMode::Iptables(o) => {
                    let full = iptables::render(&snap, "kind-worker", &o).unwrap();
                    assert_eq!(r.payload, full.restore_text());
                    assert_eq!(p.iptables_rules().unwrap(), full);
                }
                ProxierMode::Ipvs(o) => {
                    assert_eq!(
                        p.ipvs_state().unwrap(),
                        ipvs::render(&snap, "kind-worker", &o).unwrap()
                    );
                    assert!(
                        r.payload.contains("ipvsadm -A -t 10.96.0.1:443 -s rr\n"),
                        "{}",
                        r.payload
                    );
                }
                ProxierMode::Nftables(o) => {
                    let full = nftables::render(&snap, "kind-worker", &o).unwrap();
                    assert_eq!(r.payload, full.transaction_text());
                    assert_eq!(p.nftables_rules().unwrap().list_text(), full.list_text());
                }
            }
        }
    }

    #[test]
    fn no_op_sync_has_an_empty_diff() {
        let snap = course();
        for mode in modes() {
            let mut p = Proxier::new("kind-worker", mode);
            p.sync(&snap).unwrap();
            let r = p.sync(&snap).unwrap();
            assert!(!r.full);
            assert!(r.changes.is_empty(), "{:?}", r.changes);
            assert!(r.resynced.is_empty());
            assert!(!p.has_pending_changes());
        }
    }

    #[test]
    fn unknown_node_is_an_error() {
        let mut p = Proxier::new("nope", ProxierMode::Iptables(IptablesOptions::kind()));
        assert_eq!(
            p.sync(&course()),
            Err(ProxyError::UnknownNode("nope".into()))
        );
    }

    #[test]
    fn one_endpoint_removed_shows_in_each_mode() {
        let snap = course();
        let mut changed = snap.clone();
        let slice = changed
            .endpoint_slices
            .iter_mut()
            .find(|s| {
                s.metadata
                    .name
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("httpd-svc")
            })
            .expect("httpd slice");
        let gone = slice.endpoints.pop().expect("an endpoint");
        let gone_ip = gone.addresses[0].clone();
        slice.metadata.resource_version = Some("999999".into());
        for mode in modes() {
            let mut p = Proxier::new("kind-worker", mode.clone());
            p.sync(&snap).unwrap();
            let r = p.sync(&changed).unwrap();
            assert!(!r.full);
            assert_eq!(r.changes.len(), 1, "{mode:?} {:?}", r.changes);
            let c = &r.changes[0];
            assert_eq!(c.name.to_string(), "default/httpd-svc");
            let removed: Vec<&ItemChange> = c.items.iter().filter(|i| i.op == Op::Remove).collect();
            assert!(
                removed.iter().any(|i| i.text.contains(&gone_ip)),
                "{mode:?} {:?}",
                c.items
            );
            match mode {
                ProxierMode::Iptables(_) => {
                    // Partial: the SEP chain of the gone endpoint is deleted, other services'
                    // own chains are not rewritten, KUBE-SERVICES is.
                    assert!(r.payload.contains("\n-X KUBE-SEP-"), "{}", r.payload);
                    assert!(!r.payload.contains(":KUBE-SVC-NPX46M4PTMTKRN6Y"));
                    assert!(r.payload.contains("-A KUBE-SERVICES -m comment --comment \"default/kubernetes:https cluster IP\""));
                    assert!(removed.iter().any(|i| i.kind == ItemKind::Chain));
                }
                ProxierMode::Ipvs(_) => {
                    assert!(
                        r.payload.contains(&format!(
                            "ipvsadm -d -t 10.96.100.50:8080 -r {gone_ip}:80\n"
                        )) || r.payload.contains("ipvsadm -d -t "),
                        "{}",
                        r.payload
                    );
                    assert!(
                        removed
                            .iter()
                            .all(|i| i.kind == ItemKind::RealServer || i.kind == ItemKind::Element)
                    );
                }
                ProxierMode::Nftables(_) => {
                    assert!(
                        r.payload.contains("flush chain ip kube-proxy endpoint-"),
                        "{}",
                        r.payload
                    );
                    // The stale endpoint chain is deleted by the next sync.
                    let next = p.sync(&changed).unwrap();
                    assert!(next.changes.is_empty());
                    assert!(
                        next.cleanup
                            .starts_with("delete chain ip kube-proxy endpoint-"),
                        "{}",
                        next.cleanup
                    );
                }
            }
        }
    }

    #[test]
    fn config_or_node_change_is_a_full_sync() {
        let snap = course();
        let mut moved = snap.clone();
        for n in &mut moved.nodes {
            if n.metadata.name.as_deref() == Some("kind-worker")
                && let Some(a) = n.status.as_mut().and_then(|s| s.addresses.as_mut())
            {
                a[0].address = "172.18.0.33".into();
            }
        }
        let mut other = moved.clone();
        other.config.masquerade_all = true;
        for mode in modes() {
            let mut p = Proxier::new("kind-worker", mode.clone());
            p.sync(&snap).unwrap();
            let r = p.sync(&moved).unwrap();
            assert!(r.full, "{mode:?}");
            // IPVS mode ignores masqueradeAll (its iptables rules are not rendered).
            let r = p.sync(&other).unwrap();
            assert_eq!(r.full, !matches!(mode, ProxierMode::Ipvs(_)), "{mode:?}");
            if let ProxierMode::Nftables(_) = mode {
                assert_eq!(r.cleanup, "delete table ip kube-proxy\n");
            }
        }
    }
}
