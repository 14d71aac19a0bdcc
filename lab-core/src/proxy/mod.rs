//! kube-proxy, per node: the rules it would program for a snapshot of the cluster.
//!
//! This module models kubernetes/kubernetes `pkg/proxy`: the mode-independent part lives here
//! (what `pkg/proxy/serviceport.go`, `pkg/proxy/endpoint.go`, `pkg/proxy/endpointslicecache.go`,
//! `pkg/proxy/topology.go` (`CategorizeEndpoints`) and `pkg/proxy/util/localdetector.go` compute),
//! and each proxy mode renders its own text next to it: [`iptables`] mirrors
//! `pkg/proxy/iptables/proxier.go` (`syncProxyRules`); IPVS (`pkg/proxy/ipvs`) and nftables
//! (`pkg/proxy/nftables`) are meant to be sibling modules reading the same [`ProxySnapshot`].
//!
//! Everything here is a pure function of a [`ProxySnapshot`]: Nodes, Services, EndpointSlices and
//! the kube-proxy configuration (ConfigMap `kube-system/kube-proxy`, key `config.conf`, as kind
//! and kubeadm install it). A snapshot is built from the simulated [`Cluster`] with
//! [`ProxySnapshot::from_cluster`], or from plain object lists (for instance a real cluster's,
//! listed by the runner) with [`ProxySnapshot::from_objects`]. Iteration is always over sorted
//! collections, so the same snapshot renders the same text.
//!
//! Only the IPv4 family is modelled (kind's default single-stack clusters): IPv6 ClusterIPs,
//! addresses and slices are ignored, as the IPv4 proxier of a dual-stack kube-proxy ignores them.
//! Topology-aware routing hints are not applied (kind nodes carry no zone label, so kube-proxy
//! ignores hints there too).

pub mod iptables;
pub mod ipvs;
pub mod nftables;
pub mod sync;
pub(crate) mod text;

use crate::cluster::Cluster;
use crate::config::{Cidr, ProxyMode};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

/// Namespace and name of the ConfigMap holding kube-proxy's configuration.
pub const KUBE_PROXY_CONFIGMAP: (&str, &str) = ("kube-system", "kube-proxy");
/// Key of the `KubeProxyConfiguration` inside that ConfigMap.
pub const KUBE_PROXY_CONFIG_KEY: &str = "config.conf";
/// kube-proxy drops per-endpoint comments above this many endpoints ("large cluster mode").
pub const LARGE_CLUSTER_ENDPOINTS_THRESHOLD: usize = 1000;

/// Errors of the proxy renderers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The node asked for is not in the snapshot.
    #[error("node {0:?} not found")]
    UnknownNode(String),
}

/// How kube-proxy tells pod traffic from other traffic (`detectLocalMode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalDetector {
    /// No detector: pod traffic cannot be told apart (`ClusterCIDR` mode without a CIDR).
    None,
    /// Source address inside a CIDR (`ClusterCIDR`, or `NodeCIDR` with the node's pod range).
    Cidr(Cidr),
    /// Input interface equal to a bridge (`BridgeInterface`).
    BridgeInterface(String),
    /// Input interface name with a prefix (`InterfaceNamePrefix`).
    InterfaceNamePrefix(String),
}

impl LocalDetector {
    /// Arguments matching local (pod) traffic, as `IfLocal()` returns them.
    pub fn if_local(&self) -> Vec<String> {
        match self {
            LocalDetector::None => vec![],
            LocalDetector::Cidr(c) => vec!["-s".into(), c.to_string()],
            LocalDetector::BridgeInterface(b) => vec!["-i".into(), b.clone()],
            LocalDetector::InterfaceNamePrefix(p) => vec!["-i".into(), format!("{p}+")],
        }
    }
    /// Arguments matching non-pod traffic, as `IfNotLocal()` returns them.
    pub fn if_not_local(&self) -> Vec<String> {
        let mut v = self.if_local();
        if !v.is_empty() {
            v.insert(0, "!".into());
        }
        v
    }
    /// Whether a detector is configured (`IsImplemented()`).
    pub fn is_implemented(&self) -> bool {
        !matches!(self, LocalDetector::None)
    }
}

/// The parts of a `KubeProxyConfiguration` the renderers use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// `mode` (empty means iptables on Linux).
    pub mode: ProxyMode,
    /// `clusterCIDR`: the IPv4 entry of the (possibly comma-separated) list.
    pub cluster_cidr: Option<Cidr>,
    /// `detectLocalMode` (`ClusterCIDR` when empty).
    pub detect_local_mode: String,
    /// `detectLocal.bridgeInterface`.
    pub bridge_interface: String,
    /// `detectLocal.interfaceNamePrefix`.
    pub interface_name_prefix: String,
    /// `iptables.masqueradeAll`.
    pub masquerade_all: bool,
    /// `iptables.masqueradeBit` (default 14 → mark 0x4000).
    pub masquerade_bit: u32,
    /// `iptables.localhostNodePorts` (default true).
    pub localhost_node_ports: bool,
    /// `nodePortAddresses`: empty means every local address.
    pub node_port_addresses: Vec<String>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            mode: ProxyMode::Iptables,
            cluster_cidr: None,
            detect_local_mode: String::new(),
            bridge_interface: String::new(),
            interface_name_prefix: String::new(),
            masquerade_all: false,
            masquerade_bit: 14,
            localhost_node_ports: true,
            node_port_addresses: Vec::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawConfig {
    mode: Option<String>,
    #[serde(rename = "clusterCIDR")]
    cluster_cidr: Option<String>,
    detect_local_mode: Option<String>,
    detect_local: Option<RawDetectLocal>,
    iptables: Option<RawIptables>,
    node_port_addresses: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawDetectLocal {
    bridge_interface: Option<String>,
    interface_name_prefix: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawIptables {
    masquerade_all: Option<bool>,
    masquerade_bit: Option<i64>,
    localhost_node_ports: Option<bool>,
}

impl ProxyConfig {
    /// Reads a `KubeProxyConfiguration` (YAML or JSON). Unknown or malformed fields fall back to
    /// kube-proxy's defaults rather than failing: the renderer must work on any input.
    pub fn parse(text: &str) -> ProxyConfig {
        let raw: RawConfig = serde_saphyr::from_str(text).unwrap_or_default();
        let detect = raw.detect_local.unwrap_or_default();
        let ipt = raw.iptables.unwrap_or_default();
        let mut c = ProxyConfig {
            mode: match raw.mode.as_deref().map(str::trim) {
                Some("ipvs") => ProxyMode::Ipvs,
                Some("nftables") => ProxyMode::Nftables,
                _ => ProxyMode::Iptables,
            },
            cluster_cidr: raw
                .cluster_cidr
                .as_deref()
                .unwrap_or("")
                .split(',')
                .find_map(|s| Cidr::parse(s.trim())),
            detect_local_mode: raw.detect_local_mode.unwrap_or_default(),
            bridge_interface: detect.bridge_interface.unwrap_or_default(),
            interface_name_prefix: detect.interface_name_prefix.unwrap_or_default(),
            masquerade_all: ipt.masquerade_all.unwrap_or(false),
            masquerade_bit: ipt
                .masquerade_bit
                .filter(|b| (0..=31).contains(b))
                .map(|b| b as u32)
                .unwrap_or(14),
            localhost_node_ports: ipt.localhost_node_ports.unwrap_or(true),
            node_port_addresses: Vec::new(),
        };
        c.node_port_addresses = raw.node_port_addresses.unwrap_or_default();
        c
    }

    /// Reads the configuration from the kube-proxy ConfigMap (defaults if the key is missing).
    pub fn from_config_map(cm: &ConfigMap) -> ProxyConfig {
        cm.data
            .as_ref()
            .and_then(|d| d.get(KUBE_PROXY_CONFIG_KEY))
            .map(|t| ProxyConfig::parse(t))
            .unwrap_or_default()
    }

    /// kube-proxy's configuration in a simulated cluster: its ConfigMap kube-system/kube-proxy
    /// (the defaults, iptables mode, without one).
    pub fn from_cluster(cluster: &Cluster) -> ProxyConfig {
        cluster
            .get_typed::<ConfigMap>(KUBE_PROXY_CONFIGMAP.0, KUBE_PROXY_CONFIGMAP.1)
            .map(ProxyConfig::from_config_map)
            .unwrap_or_default()
    }

    /// The masquerade mark value, `1 << masqueradeBit`.
    pub fn masquerade_mark(&self) -> u32 {
        1u32 << self.masquerade_bit.min(31)
    }

    /// The local-traffic detector for a node (`pkg/proxy/util/localdetector.go`).
    pub fn local_detector(&self, node: &NodeInfo) -> LocalDetector {
        match self.detect_local_mode.as_str() {
            "" | "ClusterCIDR" => self
                .cluster_cidr
                .map(LocalDetector::Cidr)
                .unwrap_or(LocalDetector::None),
            "NodeCIDR" => node
                .pod_cidr
                .map(LocalDetector::Cidr)
                .unwrap_or(LocalDetector::None),
            "BridgeInterface" if !self.bridge_interface.is_empty() => {
                LocalDetector::BridgeInterface(self.bridge_interface.clone())
            }
            "InterfaceNamePrefix" if !self.interface_name_prefix.is_empty() => {
                LocalDetector::InterfaceNamePrefix(self.interface_name_prefix.clone())
            }
            _ => LocalDetector::None,
        }
    }
}

/// What kube-proxy knows about the node it runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node name (`kind-worker`).
    pub name: String,
    /// IPv4 InternalIPs, in status order.
    pub ips: Vec<Ipv4Addr>,
    /// The IPv4 pod range (`spec.podCIDRs`).
    pub pod_cidr: Option<Cidr>,
}

impl NodeInfo {
    /// Extracts the fields from a Node object.
    pub fn from_node(node: &Node) -> NodeInfo {
        let ips = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .map(|a| {
                a.iter()
                    .filter(|a| a.type_ == "InternalIP")
                    .filter_map(|a| a.address.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let spec = node.spec.as_ref();
        let pod_cidr = spec
            .and_then(|s| s.pod_cidrs.clone())
            .unwrap_or_default()
            .iter()
            .chain(spec.and_then(|s| s.pod_cidr.as_ref()))
            .find_map(|c| Cidr::parse(c));
        NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            ips,
            pod_cidr,
        }
    }
}

/// The objects kube-proxy watches, plus its configuration: the input of every renderer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxySnapshot {
    /// kube-proxy's configuration.
    pub config: ProxyConfig,
    /// Nodes (kube-proxy reads its own).
    pub nodes: Vec<Node>,
    /// Services.
    pub services: Vec<Service>,
    /// EndpointSlices.
    pub endpoint_slices: Vec<EndpointSlice>,
}

impl ProxySnapshot {
    /// A snapshot from object lists, e.g. a real cluster's. `config_map` is the
    /// `kube-system/kube-proxy` ConfigMap; `None` means kube-proxy's defaults.
    pub fn from_objects(
        nodes: Vec<Node>,
        services: Vec<Service>,
        endpoint_slices: Vec<EndpointSlice>,
        config_map: Option<&ConfigMap>,
    ) -> ProxySnapshot {
        ProxySnapshot {
            config: config_map
                .map(ProxyConfig::from_config_map)
                .unwrap_or_default(),
            nodes,
            services,
            endpoint_slices,
        }
    }

    /// The simulated cluster's current objects.
    pub fn from_cluster(cluster: &Cluster) -> ProxySnapshot {
        ProxySnapshot::from_objects(
            cluster.list_typed::<Node>(None).cloned().collect(),
            cluster.list_typed::<Service>(None).cloned().collect(),
            cluster.list_typed::<EndpointSlice>(None).cloned().collect(),
            cluster.get_typed::<ConfigMap>(KUBE_PROXY_CONFIGMAP.0, KUBE_PROXY_CONFIGMAP.1),
        )
    }

    /// The node kube-proxy runs on.
    pub fn node(&self, name: &str) -> Result<NodeInfo, ProxyError> {
        self.nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
            .map(NodeInfo::from_node)
            .ok_or_else(|| ProxyError::UnknownNode(name.to_string()))
    }
}

/// Layer-4 protocol of a Service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Parses `TCP`/`UDP`/`SCTP` (absent means TCP); anything else is `None`.
    pub fn parse(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
    /// Lower-case name, as iptables and the chain hashes use it.
    pub fn lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// `ServicePortName` (`pkg/proxy/types.go`): namespace, name, port name and protocol.
///
/// Orders by `namespace/name` as one string first (the order kube-proxy's tests sort rules in),
/// then port name and protocol.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortName {
    /// `namespace/name`.
    pub namespaced_name: String,
    /// The port's name (empty for an unnamed port).
    pub port: String,
    /// The protocol.
    pub protocol: Protocol,
}

impl ServicePortName {
    /// Builds a name from its parts.
    pub fn new(namespace: &str, name: &str, port: &str, protocol: Protocol) -> ServicePortName {
        ServicePortName {
            namespaced_name: format!("{namespace}/{name}"),
            port: port.to_string(),
            protocol,
        }
    }
}

impl fmt::Display for ServicePortName {
    /// `ns/name`, or `ns/name:port` for a named port (`ServicePortName.String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port.is_empty() {
            f.write_str(&self.namespaced_name)
        } else {
            write!(f, "{}:{}", self.namespaced_name, self.port)
        }
    }
}

/// One Service port as kube-proxy sees it (`servicePortInfo`, `pkg/proxy/serviceport.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePortInfo {
    /// The name.
    pub name: ServicePortName,
    /// The IPv4 ClusterIP.
    pub cluster_ip: Ipv4Addr,
    /// The Service port.
    pub port: u16,
    /// The NodePort, 0 if none.
    pub node_port: u16,
    /// IPv4 `spec.externalIPs`, in spec order.
    pub external_ips: Vec<Ipv4Addr>,
    /// IPv4 LoadBalancer ingress IPs in VIP mode, in status order.
    pub load_balancer_ips: Vec<Ipv4Addr>,
    /// `spec.loadBalancerSourceRanges`, trimmed and parsed (IPv4 only).
    pub source_ranges: Vec<Cidr>,
    /// ClientIP affinity timeout in seconds, if `sessionAffinity: ClientIP`.
    pub affinity_timeout: Option<i32>,
    /// `externalTrafficPolicy: Local` on an externally accessible Service.
    pub external_policy_local: bool,
    /// `internalTrafficPolicy: Local`.
    pub internal_policy_local: bool,
    /// The health-check NodePort (LoadBalancer with Local policy), 0 if none.
    pub health_check_node_port: u16,
}

impl ServicePortInfo {
    /// NodePort, externalIPs or LoadBalancer IPs (`ExternallyAccessible()`).
    pub fn externally_accessible(&self) -> bool {
        self.node_port != 0 || !self.external_ips.is_empty() || !self.load_balancer_ips.is_empty()
    }
    /// Whether the Cluster-policy endpoint set is used (`UsesClusterEndpoints()`): with Cluster
    /// internal policy, or whenever the port takes external traffic (even with Local external
    /// policy, pod and node traffic to external destinations short-circuits to the Cluster set).
    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.internal_policy_local || self.externally_accessible()
    }
    /// Whether the Local-policy endpoint set is used (`UsesLocalEndpoints()`).
    pub fn uses_local_endpoints(&self) -> bool {
        self.internal_policy_local || (self.externally_accessible() && self.external_policy_local)
    }
}

/// The CIDRs a `nodePortAddresses` setting names (`pkg/proxy/util/nodeport_addresses.go`):
/// `primary` is the first node IP as a `/32`; an unparsable entry is skipped. `None` when an
/// entry is a `/0` CIDR, which matches every address. An empty setting yields no CIDRs; what
/// that means differs by mode, so callers decide.
pub(crate) fn node_port_cidrs(cfg: &[String], node_ips: &[Ipv4Addr]) -> Option<Vec<Cidr>> {
    let mut cidrs = Vec::new();
    for c in cfg {
        if c == "primary" {
            cidrs.extend(node_ips.first().map(|ip| Cidr {
                network: *ip,
                prefix: 32,
            }));
        } else if let Some(c) = Cidr::parse(c.trim()) {
            if c.prefix == 0 {
                return None;
            }
            cidrs.push(c);
        }
    }
    Some(cidrs)
}

fn port_u16(p: i32) -> u16 {
    u16::try_from(p).unwrap_or(0)
}

/// The Service ports kube-proxy programs (`ServicePortMap`), skipping headless and ExternalName
/// Services and Services without an IPv4 ClusterIP.
pub fn service_ports(services: &[Service]) -> BTreeMap<ServicePortName, ServicePortInfo> {
    let mut out = BTreeMap::new();
    for svc in services {
        let Some(spec) = svc.spec.as_ref() else {
            continue;
        };
        let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
        if ty == "ExternalName" {
            continue;
        }
        let cluster_ip = spec
            .cluster_ips
            .iter()
            .flatten()
            .chain(spec.cluster_ip.iter())
            .find_map(|ip| ip.parse::<Ipv4Addr>().ok());
        let Some(cluster_ip) = cluster_ip else {
            continue; // headless ("None"), unallocated, or IPv6 only
        };
        let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
        let name = svc.metadata.name.as_deref().unwrap_or("");
        let externally_accessible_type = ty == "LoadBalancer"
            || ty == "NodePort"
            || (ty == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
        let external_policy_local =
            externally_accessible_type && spec.external_traffic_policy.as_deref() == Some("Local");
        let internal_policy_local = spec.internal_traffic_policy.as_deref() == Some("Local");
        let external_ips: Vec<Ipv4Addr> = spec
            .external_ips
            .iter()
            .flatten()
            .filter_map(|ip| ip.trim().parse().ok())
            .collect();
        let load_balancer_ips: Vec<Ipv4Addr> = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter(|i| i.ip_mode.as_deref() != Some("Proxy"))
            .filter_map(|i| i.ip.as_deref().and_then(|ip| ip.parse().ok()))
            .collect();
        let source_ranges: Vec<Cidr> = spec
            .load_balancer_source_ranges
            .iter()
            .flatten()
            .filter_map(|r| Cidr::parse(r.trim()))
            .collect();
        let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            spec.session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .unwrap_or(10800)
        });
        let health_check_node_port = if ty == "LoadBalancer" && external_policy_local {
            port_u16(spec.health_check_node_port.unwrap_or(0))
        } else {
            0
        };
        for p in spec.ports.iter().flatten() {
            let Some(protocol) = Protocol::parse(p.protocol.as_deref()) else {
                continue;
            };
            let name = ServicePortName::new(ns, name, p.name.as_deref().unwrap_or(""), protocol);
            out.insert(
                name.clone(),
                ServicePortInfo {
                    name,
                    cluster_ip,
                    port: port_u16(p.port),
                    node_port: port_u16(p.node_port.unwrap_or(0)),
                    external_ips: external_ips.clone(),
                    load_balancer_ips: load_balancer_ips.clone(),
                    source_ranges: source_ranges.clone(),
                    affinity_timeout,
                    external_policy_local,
                    internal_policy_local,
                    health_check_node_port,
                },
            );
        }
    }
    out
}

/// One endpoint of a Service port (`endpointInfo`, `pkg/proxy/endpoint.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointInfo {
    /// The endpoint's (first) IPv4 address.
    pub ip: Ipv4Addr,
    /// The target port.
    pub port: u16,
    /// On the node kube-proxy runs on.
    pub is_local: bool,
    /// `conditions.ready` (absent means true).
    pub ready: bool,
    /// `conditions.serving` (absent means true).
    pub serving: bool,
    /// `conditions.terminating` (absent means false).
    pub terminating: bool,
}

impl fmt::Display for EndpointInfo {
    /// `IP:port`, the endpoint string kube-proxy sorts and hashes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

/// Endpoints per Service port for kube-proxy on `node` (`EndpointsMap`, built like
/// `endpointslicecache.go`): first address of each endpoint, deduplicated and sorted by endpoint
/// string (plain string order, so `10.244.1.10:80` < `10.244.1.7:80`). An endpoint listed in
/// several slices keeps its first listing unless a later one is local (`addEndpoints`); slices
/// are read in name order (kube-proxy reads them from a Go map), so the result does not depend
/// on the order of `slices`.
pub fn endpoints_map(
    slices: &[EndpointSlice],
    node: &str,
) -> BTreeMap<ServicePortName, Vec<EndpointInfo>> {
    let mut sets: BTreeMap<ServicePortName, BTreeMap<text::EndpointKey, EndpointInfo>> =
        BTreeMap::new();
    let mut ordered: Vec<&EndpointSlice> = slices.iter().collect();
    ordered.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    for slice in ordered {
        if slice.address_type != "IPv4" {
            continue;
        }
        let Some(svc) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
        else {
            continue;
        };
        let ns = slice.metadata.namespace.as_deref().unwrap_or("default");
        for p in slice.ports.iter().flatten() {
            let Some(port) = p.port.map(port_u16).filter(|p| *p != 0) else {
                continue;
            };
            let Some(protocol) = Protocol::parse(p.protocol.as_deref()) else {
                continue;
            };
            let spn = ServicePortName::new(ns, svc, p.name.as_deref().unwrap_or(""), protocol);
            let set = sets.entry(spn).or_default();
            for ep in &slice.endpoints {
                let Some(ip) = ep.addresses.first().and_then(|a| a.parse().ok()) else {
                    continue;
                };
                let c = ep.conditions.as_ref();
                let ready = c.and_then(|c| c.ready).unwrap_or(true);
                let info = EndpointInfo {
                    ip,
                    port,
                    is_local: ep.node_name.as_deref() == Some(node),
                    ready,
                    serving: c.and_then(|c| c.serving).unwrap_or(true),
                    terminating: c.and_then(|c| c.terminating).unwrap_or(false),
                };
                match set.entry(text::EndpointKey::new(info.ip, info.port)) {
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(info);
                    }
                    std::collections::btree_map::Entry::Occupied(mut o) if info.is_local => {
                        o.insert(info);
                    }
                    std::collections::btree_map::Entry::Occupied(_) => {}
                }
            }
        }
    }
    sets.into_iter()
        .map(|(k, v)| (k, v.into_values().collect()))
        .collect()
}

/// The endpoint sets of one Service port (`CategorizeEndpoints`, `pkg/proxy/topology.go`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Categorized {
    /// Endpoints for Cluster policy: ready ones, or serving+terminating ones if none is ready.
    pub cluster: Vec<EndpointInfo>,
    /// Endpoints for Local policy: local ready ones, or local serving+terminating ones.
    pub local: Vec<EndpointInfo>,
    /// Every endpoint this node may route to (union of the two in use), sorted.
    pub all_reachable: Vec<EndpointInfo>,
    /// Whether any usable endpoint exists anywhere in the cluster.
    pub has_any: bool,
}

/// Splits a Service port's endpoints by policy, as `CategorizeEndpoints` does (without topology
/// hints).
pub fn categorize_endpoints(endpoints: &[EndpointInfo], svc: &ServicePortInfo) -> Categorized {
    let mut out = Categorized::default();
    if svc.uses_cluster_endpoints() {
        out.cluster = endpoints.iter().filter(|e| e.ready).cloned().collect();
        if out.cluster.is_empty() {
            out.cluster = endpoints
                .iter()
                .filter(|e| e.serving && e.terminating)
                .cloned()
                .collect();
        }
        out.has_any = !out.cluster.is_empty();
    }
    if !svc.uses_local_endpoints() {
        out.all_reachable = out.cluster.clone();
        return out;
    }
    let (mut local_ready, mut local_term) = (false, false);
    for e in endpoints {
        if e.ready {
            out.has_any = true;
            local_ready |= e.is_local;
        } else if e.serving && e.terminating {
            out.has_any = true;
            local_term |= e.is_local;
        }
    }
    if local_ready {
        out.local = endpoints
            .iter()
            .filter(|e| e.is_local && e.ready)
            .cloned()
            .collect();
    } else if local_term {
        out.local = endpoints
            .iter()
            .filter(|e| e.is_local && e.serving && e.terminating)
            .cloned()
            .collect();
    }
    if !svc.uses_cluster_endpoints() {
        out.all_reachable = out.local.clone();
        return out;
    }
    // kube-proxy takes the union through a Go map (random order); we keep endpoint order.
    let mut union: BTreeMap<text::EndpointKey, EndpointInfo> = BTreeMap::new();
    for e in out.cluster.iter().chain(out.local.iter()) {
        union.insert(text::EndpointKey::new(e.ip, e.port), e.clone());
    }
    out.all_reachable = union.into_values().collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parse_defaults_and_kind() {
        let c = ProxyConfig::parse("");
        assert_eq!(c, ProxyConfig::default());
        let c = ProxyConfig::parse(
            "clusterCIDR: 10.244.0.0/16,fd00::/56\niptables:\n  masqueradeBit: 15\nmode: ipvs\nunknown: 1\n",
        );
        assert_eq!(c.mode, ProxyMode::Ipvs);
        assert_eq!(c.cluster_cidr.unwrap().to_string(), "10.244.0.0/16");
        assert_eq!(c.masquerade_mark(), 0x8000);
        // Garbage never panics.
        let c = ProxyConfig::parse(": : [");
        assert_eq!(c.masquerade_mark(), 0x4000);
    }

    #[test]
    fn snapshot_from_kind_cluster() {
        let c = Cluster::kind();
        let s = ProxySnapshot::from_cluster(&c);
        assert_eq!(s.config.mode, ProxyMode::Iptables);
        assert_eq!(s.config.cluster_cidr.unwrap().to_string(), "10.244.0.0/16");
        let n = s.node("kind-worker").unwrap();
        assert_eq!(n.ips, vec![Ipv4Addr::new(172, 18, 0, 3)]);
        assert_eq!(n.pod_cidr.unwrap().to_string(), "10.244.1.0/24");
        assert!(matches!(s.node("nope"), Err(ProxyError::UnknownNode(_))));
        let ports = service_ports(&s.services);
        let names: Vec<String> = ports.keys().map(|k| k.to_string()).collect();
        assert!(names.contains(&"default/kubernetes:https".to_string()));
        assert!(names.contains(&"kube-system/kube-dns:dns".to_string()));
    }

    #[test]
    fn an_endpoint_in_two_slices_keeps_the_first_unless_a_later_one_is_local() {
        let slice = |name: &str, ready: bool, node: &str| -> EndpointSlice {
            serde_json::from_value(serde_json::json!({
                "metadata": {"namespace": "default", "name": name,
                             "labels": {"kubernetes.io/service-name": "s"}},
                "addressType": "IPv4",
                "ports": [{"name": "", "port": 80, "protocol": "TCP"}],
                "endpoints": [{"addresses": ["10.244.1.7"], "nodeName": node,
                               "conditions": {"ready": ready}}],
            }))
            .expect("slice json")
        };
        let spn = ServicePortName::new("default", "s", "", Protocol::Tcp);
        let a = slice("s-a", true, "kind-worker2");
        let b = slice("s-b", false, "kind-worker2");
        // Slice name order decides, not the order of the list.
        for list in [vec![a.clone(), b.clone()], vec![b.clone(), a.clone()]] {
            let m = endpoints_map(&list, "kind-worker");
            assert!(m[&spn][0].ready);
        }
        let local = slice("s-c", false, "kind-worker");
        let m = endpoints_map(&[a, local], "kind-worker");
        assert!(m[&spn][0].is_local && !m[&spn][0].ready);
    }

    #[test]
    fn service_port_name_order_is_by_namespaced_name_string() {
        let a = ServicePortName::new("a", "b", "", Protocol::Tcp);
        let b = ServicePortName::new("a-x", "b", "", Protocol::Tcp);
        // "a-x/b" < "a/b" because '-' < '/', as kube-proxy's test sort compares comments.
        assert!(b < a);
        assert_eq!(
            ServicePortName::new("ns", "s", "p", Protocol::Udp).to_string(),
            "ns/s:p"
        );
    }
}
