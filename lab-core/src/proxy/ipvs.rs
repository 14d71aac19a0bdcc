//! kube-proxy's IPVS mode: the virtual servers, ipsets and `kube-ipvs0` addresses of one node.
//!
//! Mirrors kubernetes/kubernetes `pkg/proxy/ipvs/proxier.go` (`syncProxyRules`, `syncService`,
//! `syncEndpoint`, the `ipsetInfo` table) and `pkg/proxy/ipvs/ipset.go` (set names, types, entry
//! formats), as summarised in the project spec (`kube-proxy.md` §4). The text forms follow the
//! tools a learner runs on a node: `ipvsadm -Ln` (ipvsadm's `print_service_entry`, sorted with its
//! `ipvs_cmp_services` / `ipvs_cmp_dests`), `ipset list` and `ip addr show kube-ipvs0`.
//!
//! One [`IpvsState`] gives three texts:
//! - [`IpvsState::ipvsadm_text`]: `ipvsadm -Ln` with zeroed connection counters;
//! - [`IpvsState::ipset_list_text`]: `ipset list` for every set kube-proxy creates, in kube-proxy's
//!   `ipsetInfo` order (the real creation order follows a Go map), members sorted; the
//!   kernel-dependent header lines (`Revision`, `Size in memory`, `References`, the `bucketsize` /
//!   `initval` header fields) are left out;
//! - [`IpvsState::ip_addr_text`]: `ip addr show kube-ipvs0`, addresses sorted numerically (the
//!   kernel keeps kube-proxy's binding order, which follows a Go map); the interface index and
//!   MAC address are host-dependent, so they come from [`IpvsOptions`] and a hash of the node name.
//!
//! Node addresses for NodePort virtual servers are the node's IPv4 InternalIPs (filtered by
//! `nodePortAddresses`, loopback excluded): the simulator does not model other interfaces. The
//! iptables rules the IPVS mode still writes (spec §4) are rendered from the same state by
//! [`iptables`] ([`render_iptables_save`], [`render_iptables_restore`]). Graceful termination of
//! removed real servers is not rendered; the `mh` scheduler's flag is not printed.

pub mod iptables;

pub use iptables::{
    IpvsIptablesRules, render_restore as render_iptables_restore,
    render_save as render_iptables_save,
};

use super::{
    Categorized, EndpointInfo, Protocol, ProxyError, ProxySnapshot, ServicePortInfo,
    ServicePortName, categorize_endpoints, endpoints_map, node_port_cidrs, service_ports,
};
use crate::config::Cidr;
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

/// Name of the dummy interface kube-proxy binds service addresses to.
pub const DUMMY_DEVICE: &str = "kube-ipvs0";
/// The session-affinity timeout kube-proxy uses when none is set (seconds).
pub const DEFAULT_AFFINITY_TIMEOUT: u32 = 10800;

/// `KUBE-LOOP-BACK`: local endpoints, for hairpin masquerade.
pub const KUBE_LOOP_BACK: &str = "KUBE-LOOP-BACK";
/// `KUBE-CLUSTER-IP`: every ClusterIP and port.
pub const KUBE_CLUSTER_IP: &str = "KUBE-CLUSTER-IP";
/// `KUBE-EXTERNAL-IP`: externalIPs with Cluster external policy.
pub const KUBE_EXTERNAL_IP: &str = "KUBE-EXTERNAL-IP";
/// `KUBE-EXTERNAL-IP-LOCAL`: externalIPs with Local external policy.
pub const KUBE_EXTERNAL_IP_LOCAL: &str = "KUBE-EXTERNAL-IP-LOCAL";
/// `KUBE-LOAD-BALANCER`: every LoadBalancer ingress IP.
pub const KUBE_LOAD_BALANCER: &str = "KUBE-LOAD-BALANCER";
/// `KUBE-LOAD-BALANCER-FW`: LoadBalancer IPs with source ranges.
pub const KUBE_LOAD_BALANCER_FW: &str = "KUBE-LOAD-BALANCER-FW";
/// `KUBE-LOAD-BALANCER-LOCAL`: LoadBalancer IPs with Local external policy.
pub const KUBE_LOAD_BALANCER_LOCAL: &str = "KUBE-LOAD-BALANCER-LOCAL";
/// `KUBE-LOAD-BALANCER-SOURCE-IP`: LoadBalancer IPs whose source ranges cover the node.
pub const KUBE_LOAD_BALANCER_SOURCE_IP: &str = "KUBE-LOAD-BALANCER-SOURCE-IP";
/// `KUBE-LOAD-BALANCER-SOURCE-CIDR`: LoadBalancer IP, port and allowed source range.
pub const KUBE_LOAD_BALANCER_SOURCE_CIDR: &str = "KUBE-LOAD-BALANCER-SOURCE-CIDR";
/// `KUBE-NODE-PORT-TCP`: TCP NodePorts.
pub const KUBE_NODE_PORT_TCP: &str = "KUBE-NODE-PORT-TCP";
/// `KUBE-NODE-PORT-LOCAL-TCP`: TCP NodePorts with Local external policy.
pub const KUBE_NODE_PORT_LOCAL_TCP: &str = "KUBE-NODE-PORT-LOCAL-TCP";
/// `KUBE-NODE-PORT-UDP`: UDP NodePorts.
pub const KUBE_NODE_PORT_UDP: &str = "KUBE-NODE-PORT-UDP";
/// `KUBE-NODE-PORT-LOCAL-UDP`: UDP NodePorts with Local external policy.
pub const KUBE_NODE_PORT_LOCAL_UDP: &str = "KUBE-NODE-PORT-LOCAL-UDP";
/// `KUBE-NODE-PORT-SCTP-HASH`: node IP and SCTP NodePort.
pub const KUBE_NODE_PORT_SCTP_HASH: &str = "KUBE-NODE-PORT-SCTP-HASH";
/// `KUBE-NODE-PORT-LOCAL-SCTP-HASH`: node IP and SCTP NodePort, Local external policy.
pub const KUBE_NODE_PORT_LOCAL_SCTP_HASH: &str = "KUBE-NODE-PORT-LOCAL-SCTP-HASH";
/// `KUBE-HEALTH-CHECK-NODE-PORT`: health-check NodePorts.
pub const KUBE_HEALTH_CHECK_NODE_PORT: &str = "KUBE-HEALTH-CHECK-NODE-PORT";
/// `KUBE-IPVS-IPS`: the addresses bound to `kube-ipvs0`.
pub const KUBE_IPVS_IPS: &str = "KUBE-IPVS-IPS";

/// The type of an ipset (`pkg/proxy/ipvs/ipset` `Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpSetType {
    /// `hash:ip`.
    HashIp,
    /// `hash:ip,port`.
    HashIpPort,
    /// `hash:ip,port,ip`.
    HashIpPortIp,
    /// `hash:ip,port,net`.
    HashIpPortNet,
    /// `bitmap:port`.
    BitmapPort,
}

impl IpSetType {
    /// The type as `ipset` names it (`hash:ip,port`).
    pub fn as_str(self) -> &'static str {
        match self {
            IpSetType::HashIp => "hash:ip",
            IpSetType::HashIpPort => "hash:ip,port",
            IpSetType::HashIpPortIp => "hash:ip,port,ip",
            IpSetType::HashIpPortNet => "hash:ip,port,net",
            IpSetType::BitmapPort => "bitmap:port",
        }
    }
    /// The `Header:` line's fields kube-proxy's create options produce.
    pub fn header(self) -> &'static str {
        match self {
            IpSetType::BitmapPort => "range 0-65535",
            _ => "family inet hashsize 1024 maxelem 65536",
        }
    }
}

/// kube-proxy's sets in its `ipsetInfo` order: name, type and the comment its iptables rules use.
pub const IPSET_INFO: [(&str, IpSetType, &str); 17] = [
    (
        KUBE_LOOP_BACK,
        IpSetType::HashIpPortIp,
        "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
    ),
    (
        KUBE_CLUSTER_IP,
        IpSetType::HashIpPort,
        "Kubernetes service cluster ip + port for masquerade purpose",
    ),
    (
        KUBE_EXTERNAL_IP,
        IpSetType::HashIpPort,
        "Kubernetes service external ip + port for masquerade and filter purpose",
    ),
    (
        KUBE_EXTERNAL_IP_LOCAL,
        IpSetType::HashIpPort,
        "Kubernetes service external ip + port with externalTrafficPolicy=local",
    ),
    (
        KUBE_LOAD_BALANCER,
        IpSetType::HashIpPort,
        "Kubernetes service lb portal",
    ),
    (
        KUBE_LOAD_BALANCER_FW,
        IpSetType::HashIpPort,
        "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    ),
    (
        KUBE_LOAD_BALANCER_LOCAL,
        IpSetType::HashIpPort,
        "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    ),
    (
        KUBE_LOAD_BALANCER_SOURCE_IP,
        IpSetType::HashIpPortIp,
        "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    ),
    (
        KUBE_LOAD_BALANCER_SOURCE_CIDR,
        IpSetType::HashIpPortNet,
        "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    ),
    (
        KUBE_NODE_PORT_TCP,
        IpSetType::BitmapPort,
        "Kubernetes nodeport TCP port for masquerade purpose",
    ),
    (
        KUBE_NODE_PORT_LOCAL_TCP,
        IpSetType::BitmapPort,
        "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
    ),
    (
        KUBE_NODE_PORT_UDP,
        IpSetType::BitmapPort,
        "Kubernetes nodeport UDP port for masquerade purpose",
    ),
    (
        KUBE_NODE_PORT_LOCAL_UDP,
        IpSetType::BitmapPort,
        "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
    ),
    (
        KUBE_NODE_PORT_SCTP_HASH,
        IpSetType::HashIpPort,
        "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    ),
    (
        KUBE_NODE_PORT_LOCAL_SCTP_HASH,
        IpSetType::HashIpPort,
        "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
    ),
    (
        KUBE_HEALTH_CHECK_NODE_PORT,
        IpSetType::BitmapPort,
        "Kubernetes health check node port",
    ),
    (
        KUBE_IPVS_IPS,
        IpSetType::HashIp,
        "Addresses on the ipvs interface",
    ),
];

/// One ipset member (`ipset.Entry`), ordered by address, protocol, port, second address, net.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpSetEntry {
    /// First address (absent in `bitmap:port` sets).
    pub ip: Option<Ipv4Addr>,
    /// Protocol (absent in `hash:ip` and `bitmap:port` sets).
    pub protocol: Option<Protocol>,
    /// Port (absent in `hash:ip` sets).
    pub port: Option<u16>,
    /// Second address (`hash:ip,port,ip`).
    pub ip2: Option<Ipv4Addr>,
    /// Network (`hash:ip,port,net`).
    pub net: Option<Cidr>,
}

impl IpSetEntry {
    fn ip(ip: Ipv4Addr) -> IpSetEntry {
        IpSetEntry {
            ip: Some(ip),
            protocol: None,
            port: None,
            ip2: None,
            net: None,
        }
    }
    fn ip_port(ip: Ipv4Addr, protocol: Protocol, port: u16) -> IpSetEntry {
        IpSetEntry {
            protocol: Some(protocol),
            port: Some(port),
            ..IpSetEntry::ip(ip)
        }
    }
    fn port(port: u16) -> IpSetEntry {
        IpSetEntry {
            ip: None,
            protocol: None,
            port: Some(port),
            ip2: None,
            net: None,
        }
    }
}

impl fmt::Display for IpSetEntry {
    /// The member as `ipset list` prints it: `10.96.0.1,tcp:443`, `10.244.1.7,tcp:80,10.244.1.7`,
    /// `1.2.3.4,tcp:80,203.0.113.0/25`, `30080`, `10.96.0.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.protocol, self.port) {
            (Some(ip), Some(proto), Some(port)) => {
                write!(f, "{ip},{}:{port}", proto.lower())?;
                if let Some(ip2) = self.ip2 {
                    write!(f, ",{ip2}")?;
                }
                if let Some(net) = self.net {
                    write!(f, ",{net}")?;
                }
                Ok(())
            }
            (Some(ip), _, _) => write!(f, "{ip}"),
            (None, _, Some(port)) => write!(f, "{port}"),
            _ => Ok(()),
        }
    }
}

/// One of kube-proxy's ipsets with its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    /// Set name (`KUBE-CLUSTER-IP`).
    pub name: &'static str,
    /// Set type.
    pub set_type: IpSetType,
    /// The comment kube-proxy's iptables rules carry for this set.
    pub comment: &'static str,
    /// Members, sorted.
    pub members: BTreeSet<IpSetEntry>,
}

impl IpSet {
    /// Members as `ipset list` prints them, in sorted order.
    pub fn member_strings(&self) -> Vec<String> {
        self.members.iter().map(ToString::to_string).collect()
    }
}

/// One real server (destination) of a virtual server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServer {
    /// Endpoint address.
    pub address: Ipv4Addr,
    /// Target port.
    pub port: u16,
    /// Weight (kube-proxy always writes 1).
    pub weight: u32,
}

/// What a virtual server serves: which address of the Service it listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VirtualServerKind {
    /// The ClusterIP.
    ClusterIp,
    /// An `spec.externalIPs` entry.
    ExternalIp,
    /// A LoadBalancer ingress IP.
    LoadBalancer,
    /// A node address with the NodePort.
    NodePort,
}

/// One IPVS virtual server (service) with its real servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualServer {
    /// The Service port that created it (the first one, if two Services share an address).
    pub service: ServicePortName,
    /// Which Service address it is.
    pub kind: VirtualServerKind,
    /// Protocol.
    pub protocol: Protocol,
    /// Virtual address.
    pub address: Ipv4Addr,
    /// Virtual port.
    pub port: u16,
    /// Scheduler name (`rr`).
    pub scheduler: String,
    /// Persistence timeout in seconds (`sessionAffinity: ClientIP`).
    pub persistent: Option<u32>,
    /// Real servers, in `ipvsadm` order.
    pub real_servers: Vec<RealServer>,
}

/// Host facts that appear in the IPVS texts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsOptions {
    /// `--ipvs-scheduler` (default `rr`).
    pub scheduler: String,
    /// IPVS connection-table size (`2^conn_tab_bits`, default 4096), shown by `ipvsadm`.
    pub conn_tab_size: u32,
    /// Interface index of `kube-ipvs0` in `ip addr` output (host-dependent).
    pub ifindex: u32,
}

impl Default for IpvsOptions {
    fn default() -> Self {
        IpvsOptions {
            scheduler: "rr".into(),
            conn_tab_size: 4096,
            ifindex: 3,
        }
    }
}

/// The IPVS mode's state on one node: virtual servers, ipsets and `kube-ipvs0` addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsState {
    /// Node name.
    pub node: String,
    /// The options used.
    pub options: IpvsOptions,
    /// Virtual servers in `ipvsadm -Ln` order.
    pub virtual_servers: Vec<VirtualServer>,
    /// Every set kube-proxy creates, in its `ipsetInfo` order.
    pub ipsets: Vec<IpSet>,
    /// Addresses bound to `kube-ipvs0`.
    pub bound_addresses: BTreeSet<Ipv4Addr>,
}

/// `ipvs_cmp_services` / `ipvs_cmp_dests` on addresses: a wrapping 32-bit difference read as a
/// signed number, so addresses more than 2^31 apart compare "backwards".
fn wrapping_cmp(a: u32, b: u32) -> Ordering {
    (a.wrapping_sub(b) as i32).cmp(&0)
}

fn proto_number(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

fn cmp_services(a: &VirtualServer, b: &VirtualServer) -> Ordering {
    proto_number(a.protocol)
        .cmp(&proto_number(b.protocol))
        .then_with(|| wrapping_cmp(u32::from(a.address), u32::from(b.address)))
        .then_with(|| a.port.cmp(&b.port))
}

fn cmp_dests(a: &RealServer, b: &RealServer) -> Ordering {
    wrapping_cmp(u32::from(a.address), u32::from(b.address)).then_with(|| a.port.cmp(&b.port))
}

/// glibc's `qsort` merge sort (`msort_with_tmp`): splits at `n/2`, takes from the left half on
/// ties. Deterministic even for ipvsadm's non-transitive wrapping comparison, and never panics
/// (unlike `slice::sort_by`, which may reject an inconsistent order).
fn glibc_msort<T: Clone>(v: Vec<T>, cmp: &dyn Fn(&T, &T) -> Ordering) -> Vec<T> {
    if v.len() <= 1 {
        return v;
    }
    let mut left = v;
    let right = left.split_off(left.len() / 2);
    let left = glibc_msort(left, cmp);
    let right = glibc_msort(right, cmp);
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) != Ordering::Greater {
            out.push(left[i].clone());
            i += 1;
        } else {
            out.push(right[j].clone());
            j += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    out
}

/// Node addresses for NodePort virtual servers: IPv4 node IPs matching `nodePortAddresses`
/// (`primary` = the first node IP, a `/0` CIDR = all), never loopback.
fn node_port_ips(cfg: &[String], node_ips: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    // An empty setting, like a `/0` entry, matches every node IP.
    let cidrs = if cfg.is_empty() {
        None
    } else {
        node_port_cidrs(cfg, node_ips)
    };
    let set: BTreeSet<Ipv4Addr> = node_ips
        .iter()
        .copied()
        .filter(|ip| !ip.is_loopback())
        .filter(|ip| {
            cidrs
                .as_ref()
                .is_none_or(|cs| cs.iter().any(|c| c.contains(*ip)))
        })
        .collect();
    set.into_iter().collect()
}

fn real_servers(eps: &[EndpointInfo]) -> Vec<RealServer> {
    let rs: Vec<RealServer> = eps
        .iter()
        .map(|e| RealServer {
            address: e.ip,
            port: e.port,
            weight: 1,
        })
        .collect();
    glibc_msort(rs, &cmp_dests)
}

/// `syncEndpoint`'s endpoint choice: with a Local policy the local endpoints, falling back to the
/// cluster endpoints when no local one exists (`fallback`), as the spec §4 describes.
fn chosen(cat: &Categorized, local_policy: bool, fallback: bool) -> &[EndpointInfo] {
    if local_policy && (!cat.local.is_empty() || !fallback) {
        &cat.local
    } else {
        &cat.cluster
    }
}

/// Virtual servers, set members and bound addresses, as one or more Service ports claim them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Builder {
    pub(crate) sets: BTreeMap<&'static str, BTreeSet<IpSetEntry>>,
    pub(crate) servers: BTreeMap<(Protocol, Ipv4Addr, u16), VirtualServer>,
    pub(crate) bound: BTreeSet<Ipv4Addr>,
}

impl Builder {
    fn add(&mut self, set: &'static str, entry: IpSetEntry) {
        self.sets.entry(set).or_default().insert(entry);
    }
    fn bind(&mut self, s: &IpvsSettings, ip: Ipv4Addr) {
        // An address already on another interface (a node IP used as externalIP) is not bound.
        if !s.node_ips.contains(&ip) {
            self.bound.insert(ip);
        }
    }
    fn server(
        &mut self,
        s: &IpvsSettings,
        svc: &ServicePortInfo,
        kind: VirtualServerKind,
        address: Ipv4Addr,
        port: u16,
        eps: &[EndpointInfo],
    ) {
        let key = (svc.name.protocol, address, port);
        self.servers.entry(key).or_insert_with(|| VirtualServer {
            service: svc.name.clone(),
            kind,
            protocol: svc.name.protocol,
            address,
            port,
            scheduler: s.scheduler.clone(),
            persistent: svc
                .affinity_timeout
                .map(|t| u32::try_from(t).unwrap_or(DEFAULT_AFFINITY_TIMEOUT)),
            real_servers: real_servers(eps),
        });
    }
    /// Adds another port's claims; what is already present wins (kube-proxy walks service
    /// ports in order and the first to claim a virtual server creates it).
    pub(crate) fn merge(&mut self, other: &Builder) {
        for (set, entries) in &other.sets {
            self.sets
                .entry(set)
                .or_default()
                .extend(entries.iter().cloned());
        }
        for (k, vs) in &other.servers {
            self.servers.entry(*k).or_insert_with(|| vs.clone());
        }
        self.bound.extend(other.bound.iter().copied());
    }

    /// The state these claims give.
    pub(crate) fn finish(mut self, node: &str, options: &IpvsOptions) -> IpvsState {
        for ip in self.bound.clone() {
            self.add(KUBE_IPVS_IPS, IpSetEntry::ip(ip));
        }
        let ipsets = IPSET_INFO
            .iter()
            .map(|(name, set_type, comment)| IpSet {
                name,
                set_type: *set_type,
                comment,
                members: self.sets.remove(name).unwrap_or_default(),
            })
            .collect();
        let virtual_servers = glibc_msort(self.servers.into_values().collect(), &cmp_services);
        IpvsState {
            node: node.to_string(),
            options: options.clone(),
            virtual_servers,
            ipsets,
            bound_addresses: self.bound,
        }
    }
}

/// What shapes every Service port's IPVS objects on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IpvsSettings {
    pub(crate) node_name: String,
    pub(crate) node_ip: Option<Ipv4Addr>,
    pub(crate) node_ips: Vec<Ipv4Addr>,
    pub(crate) np_ips: Vec<Ipv4Addr>,
    pub(crate) scheduler: String,
}

impl IpvsSettings {
    pub(crate) fn new(
        snapshot: &ProxySnapshot,
        node: &str,
        options: &IpvsOptions,
    ) -> Result<IpvsSettings, ProxyError> {
        let node = snapshot.node(node)?;
        Ok(IpvsSettings {
            node_ip: node.ips.first().copied(),
            np_ips: node_port_ips(&snapshot.config.node_port_addresses, &node.ips),
            node_ips: node.ips,
            scheduler: options.scheduler.clone(),
            node_name: node.name,
        })
    }
}

/// Renders kube-proxy's IPVS state for `node` (a full `syncProxyRules`).
pub fn render(
    snapshot: &ProxySnapshot,
    node: &str,
    options: &IpvsOptions,
) -> Result<IpvsState, ProxyError> {
    let s = IpvsSettings::new(snapshot, node, options)?;
    let ports = service_ports(&snapshot.services);
    let eps = endpoints_map(&snapshot.endpoint_slices, &s.node_name);
    let mut b = Builder::default();
    for (spn, svc) in &ports {
        let endpoints = eps.get(spn).map(Vec::as_slice).unwrap_or(&[]);
        render_service(&mut b, &s, spn, svc, endpoints);
    }
    Ok(b.finish(&s.node_name, options))
}

/// One Service port's virtual servers, set members and bound addresses (`syncProxyRules`'
/// service loop).
pub(crate) fn render_service(
    b: &mut Builder,
    s: &IpvsSettings,
    spn: &ServicePortName,
    svc: &ServicePortInfo,
    endpoints: &[EndpointInfo],
) {
    let proto = spn.protocol;
    let cat = categorize_endpoints(endpoints, svc);

    // Hairpin: every local endpoint of the port, whatever its condition.
    for e in endpoints.iter().filter(|e| e.is_local) {
        b.add(
            KUBE_LOOP_BACK,
            IpSetEntry {
                ip2: Some(e.ip),
                ..IpSetEntry::ip_port(e.ip, proto, e.port)
            },
        );
    }

    // ClusterIP.
    b.add(
        KUBE_CLUSTER_IP,
        IpSetEntry::ip_port(svc.cluster_ip, proto, svc.port),
    );
    b.bind(s, svc.cluster_ip);
    let internal = chosen(&cat, svc.internal_policy_local, false);
    b.server(
        s,
        svc,
        VirtualServerKind::ClusterIp,
        svc.cluster_ip,
        svc.port,
        internal,
    );

    let external = chosen(&cat, svc.external_policy_local, true);

    // externalIPs.
    for ip in &svc.external_ips {
        let set = if svc.external_policy_local {
            KUBE_EXTERNAL_IP_LOCAL
        } else {
            KUBE_EXTERNAL_IP
        };
        b.add(set, IpSetEntry::ip_port(*ip, proto, svc.port));
        b.bind(s, *ip);
        b.server(
            s,
            svc,
            VirtualServerKind::ExternalIp,
            *ip,
            svc.port,
            external,
        );
    }

    // LoadBalancer ingress IPs.
    for ip in &svc.load_balancer_ips {
        let entry = IpSetEntry::ip_port(*ip, proto, svc.port);
        b.add(KUBE_LOAD_BALANCER, entry.clone());
        if svc.external_policy_local {
            b.add(KUBE_LOAD_BALANCER_LOCAL, entry.clone());
        }
        if !svc.source_ranges.is_empty() {
            b.add(KUBE_LOAD_BALANCER_FW, entry.clone());
            let mut allow_from_node = false;
            for r in &svc.source_ranges {
                b.add(
                    KUBE_LOAD_BALANCER_SOURCE_CIDR,
                    IpSetEntry {
                        net: Some(*r),
                        ..entry.clone()
                    },
                );
                allow_from_node |= s.node_ip.is_some_and(|n| r.contains(n));
            }
            if allow_from_node {
                b.add(
                    KUBE_LOAD_BALANCER_SOURCE_IP,
                    IpSetEntry {
                        ip2: Some(*ip),
                        ..entry.clone()
                    },
                );
            }
        }
        b.bind(s, *ip);
        b.server(
            s,
            svc,
            VirtualServerKind::LoadBalancer,
            *ip,
            svc.port,
            external,
        );
    }

    // NodePort: never bound; one virtual server per node address.
    if svc.node_port != 0 {
        match proto {
            Protocol::Tcp | Protocol::Udp => {
                let (set, local) = if proto == Protocol::Tcp {
                    (KUBE_NODE_PORT_TCP, KUBE_NODE_PORT_LOCAL_TCP)
                } else {
                    (KUBE_NODE_PORT_UDP, KUBE_NODE_PORT_LOCAL_UDP)
                };
                b.add(set, IpSetEntry::port(svc.node_port));
                if svc.external_policy_local {
                    b.add(local, IpSetEntry::port(svc.node_port));
                }
            }
            Protocol::Sctp => {
                for ip in &s.np_ips {
                    let entry = IpSetEntry::ip_port(*ip, proto, svc.node_port);
                    b.add(KUBE_NODE_PORT_SCTP_HASH, entry.clone());
                    if svc.external_policy_local {
                        b.add(KUBE_NODE_PORT_LOCAL_SCTP_HASH, entry);
                    }
                }
            }
        }
        for ip in &s.np_ips {
            b.server(
                s,
                svc,
                VirtualServerKind::NodePort,
                *ip,
                svc.node_port,
                external,
            );
        }
    }

    if svc.health_check_node_port != 0 {
        b.add(
            KUBE_HEALTH_CHECK_NODE_PORT,
            IpSetEntry::port(svc.health_check_node_port),
        );
    }
}

impl IpvsState {
    /// The set named `name`, if kube-proxy creates it.
    pub fn ipset(&self, name: &str) -> Option<&IpSet> {
        self.ipsets.iter().find(|s| s.name == name)
    }

    /// `ipvsadm -Ln`, connection counters zero.
    pub fn ipvsadm_text(&self) -> String {
        let mut out = format!(
            "IP Virtual Server version 1.2.1 (size={})\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
            self.options.conn_tab_size
        );
        for vs in &self.virtual_servers {
            let proto = match vs.protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Sctp => "SCTP",
            };
            out.push_str(&format!(
                "{proto}  {}:{} {}",
                vs.address, vs.port, vs.scheduler
            ));
            if let Some(t) = vs.persistent {
                out.push_str(&format!(" persistent {t}"));
            }
            out.push('\n');
            for rs in &vs.real_servers {
                let addr = format!("{}:{}", rs.address, rs.port);
                out.push_str(&format!(
                    "  -> {addr:<28} {:<7} {:<6} {:<10} {:<10}\n",
                    "Masq", rs.weight, 0, 0
                ));
            }
        }
        out
    }

    /// `ipvsadm -Ln --stats`: the same virtual and real servers with their traffic counters
    /// (ipvsadm's `print_service_entry` with `FMT_STATS`: the name padded to 33 columns, then
    /// Conns, InPkts, OutPkts, InBytes, OutBytes at 9 columns each). A simulated node carries no
    /// traffic, so every counter is 0, as iptables' counters are zeroed in the save form.
    pub fn ipvsadm_stats_text(&self) -> String {
        const ZEROS: &str = "        0        0        0        0        0";
        let mut out = format!(
            "IP Virtual Server version 1.2.1 (size={})\n\
             Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
             -> RemoteAddress:Port\n",
            self.options.conn_tab_size
        );
        for vs in &self.virtual_servers {
            let proto = match vs.protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Sctp => "SCTP",
            };
            let name = format!("{proto}  {}:{}", vs.address, vs.port);
            out.push_str(&format!("{name:<33}{ZEROS}\n"));
            for rs in &vs.real_servers {
                let addr = format!("{}:{}", rs.address, rs.port);
                out.push_str(&format!("  -> {addr:<28}{ZEROS}\n"));
            }
        }
        out
    }

    /// `ipset list` for kube-proxy's sets (kernel-dependent header lines left out, see the module
    /// documentation), sets separated by a blank line.
    pub fn ipset_list_text(&self) -> String {
        let mut parts = Vec::new();
        for s in &self.ipsets {
            let mut t = format!(
                "Name: {}\nType: {}\nHeader: {}\nNumber of entries: {}\nMembers:\n",
                s.name,
                s.set_type.as_str(),
                s.set_type.header(),
                s.members.len()
            );
            for m in &s.members {
                t.push_str(&m.to_string());
                t.push('\n');
            }
            parts.push(t);
        }
        parts.join("\n")
    }

    /// `ip addr show kube-ipvs0`: a DOWN dummy device carrying every bound address as `/32`.
    pub fn ip_addr_text(&self) -> String {
        let mut out = format!(
            "{}: {DUMMY_DEVICE}: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN group default \n    \
             link/ether {} brd ff:ff:ff:ff:ff:ff\n",
            self.options.ifindex,
            dummy_mac(&self.node)
        );
        for ip in &self.bound_addresses {
            out.push_str(&format!(
                "    inet {ip}/32 scope global {DUMMY_DEVICE}\n       valid_lft forever preferred_lft forever\n"
            ));
        }
        out
    }
}

/// A stable, locally administered unicast MAC for the node's dummy device (the kernel picks a
/// random one).
fn dummy_mac(node: &str) -> String {
    let d = Sha256::digest(format!("{DUMMY_DEVICE}/{node}").as_bytes());
    let mut b = [0u8; 6];
    for (o, i) in b.iter_mut().zip(d.iter()) {
        *o = *i;
    }
    b[0] = (b[0] & 0xfe) | 0x02;
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `ipvsadm -Ln` for `node` with default options.
pub fn render_ipvsadm(snapshot: &ProxySnapshot, node: &str) -> Result<String, ProxyError> {
    Ok(render(snapshot, node, &IpvsOptions::default())?.ipvsadm_text())
}

/// `ipvsadm -Ln --stats` for `node` with default options.
pub fn render_ipvsadm_stats(snapshot: &ProxySnapshot, node: &str) -> Result<String, ProxyError> {
    Ok(render(snapshot, node, &IpvsOptions::default())?.ipvsadm_stats_text())
}

/// `ipset list` for `node` with default options.
pub fn render_ipset_list(snapshot: &ProxySnapshot, node: &str) -> Result<String, ProxyError> {
    Ok(render(snapshot, node, &IpvsOptions::default())?.ipset_list_text())
}

/// `ip addr show kube-ipvs0` for `node` with default options.
pub fn render_ip_addr(snapshot: &ProxySnapshot, node: &str) -> Result<String, ProxyError> {
    Ok(render(snapshot, node, &IpvsOptions::default())?.ip_addr_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cluster;

    fn cluster(yaml: &str) -> ProxySnapshot {
        let mut c = Cluster::kind();
        c.apply_manifests(yaml).expect("manifests apply");
        c.settle();
        ProxySnapshot::from_cluster(&c)
    }

    fn state(s: &ProxySnapshot, node: &str) -> IpvsState {
        render(s, node, &IpvsOptions::default()).expect("known node")
    }

    /// A selectorless Service `default/NAME` plus a hand-written EndpointSlice.
    /// `eps` = (ip, nodeName) pairs.
    fn svc_yaml(name: &str, spec: &str, slice_ports: &str, eps: &[(&str, &str)]) -> String {
        let mut y = format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{spec}"
        );
        if !eps.is_empty() || !slice_ports.is_empty() {
            y.push_str(&format!(
                "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-manual\n  namespace: default\n  labels:\n    kubernetes.io/service-name: {name}\naddressType: IPv4\nports:\n{slice_ports}endpoints:\n"
            ));
            if eps.is_empty() {
                y.push_str("[]\n");
            }
            for (ip, node) in eps {
                y.push_str(&format!(
                    "- addresses: [\"{ip}\"]\n  nodeName: {node}\n  conditions: {{ready: true}}\n"
                ));
            }
        }
        y
    }

    #[test]
    fn stats_form_lists_the_same_servers_with_ipvsadm_columns() {
        let s = cluster(&httpd_yaml(""));
        let st = state(&s, "kind-worker");
        let stats = st.ipvsadm_stats_text();
        let lines: Vec<&str> = stats.lines().collect();
        assert_eq!(
            lines[1],
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes"
        );
        assert_eq!(lines[2], "  -> RemoteAddress:Port");
        assert!(lines.contains(
            &"TCP  10.96.100.50:8080                   0        0        0        0        0"
        ));
        // One line per virtual and real server, as in `ipvsadm -Ln`.
        let servers: usize = st
            .virtual_servers
            .iter()
            .map(|v| 1 + v.real_servers.len())
            .sum();
        assert_eq!(lines.len(), 3 + servers);
        assert_eq!(st.ipvsadm_text().lines().count(), 3 + servers);
        for l in &lines[3..] {
            assert_eq!(l.len(), 33 + 45, "{l:?}");
        }
    }

    const TCP80: &str = "- name: \"\"\n  protocol: TCP\n  port: 80\n";

    /// The course case: httpd-svc 8080→80, NodePort 30144, three endpoints (two on kind-worker).
    fn httpd_yaml(extra_spec: &str) -> String {
        svc_yaml(
            "httpd-svc",
            &format!(
                "  type: NodePort\n  clusterIP: 10.96.100.50\n  ports:\n  - protocol: TCP\n    port: 8080\n    targetPort: 80\n    nodePort: 30144\n{extra_spec}"
            ),
            TCP80,
            &[
                ("10.244.1.7", "kind-worker"),
                ("10.244.2.5", "kind-worker2"),
                ("10.244.1.10", "kind-worker"),
            ],
        )
    }

    /// The lines of the virtual server whose line is `head`, with its real servers.
    fn block(text: &str, head: &str) -> String {
        let mut out = String::new();
        let mut inside = false;
        for l in text.lines() {
            if l == head {
                inside = true;
            } else if inside && !l.starts_with("  -> ") {
                break;
            }
            if inside {
                out.push_str(l);
                out.push('\n');
            }
        }
        assert!(!out.is_empty(), "no {head:?} in:\n{text}");
        out
    }

    fn members(st: &IpvsState, set: &str) -> Vec<String> {
        st.ipset(set).map(IpSet::member_strings).unwrap_or_default()
    }

    fn rs(addr: &str) -> String {
        format!("  -> {addr:<28} Masq    1      0          0         \n")
    }

    #[test]
    fn course_case_ipvsadm_exact() {
        let s = cluster(&httpd_yaml(""));
        let st = state(&s, "kind-worker");
        let want = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  172.18.0.3:30144 rr
  -> 10.244.1.7:80                Masq    1      0          0         
  -> 10.244.1.10:80               Masq    1      0          0         
  -> 10.244.2.5:80                Masq    1      0          0         
TCP  10.96.0.1:443 rr
  -> 172.18.0.2:6443              Masq    1      0          0         
TCP  10.96.0.10:53 rr
  -> 10.244.0.2:53                Masq    1      0          0         
  -> 10.244.0.3:53                Masq    1      0          0         
TCP  10.96.0.10:9153 rr
  -> 10.244.0.2:9153              Masq    1      0          0         
  -> 10.244.0.3:9153              Masq    1      0          0         
TCP  10.96.100.50:8080 rr
  -> 10.244.1.7:80                Masq    1      0          0         
  -> 10.244.1.10:80               Masq    1      0          0         
  -> 10.244.2.5:80                Masq    1      0          0         
UDP  10.96.0.10:53 rr
  -> 10.244.0.2:53                Masq    1      0          0         
  -> 10.244.0.3:53                Masq    1      0          0         
";
        assert_eq!(st.ipvsadm_text(), want);
        // Every destination line is the printf layout, trailing padding included.
        for l in want.lines().filter(|l| l.starts_with("  -> 10.")) {
            assert_eq!(l.len(), 5 + 28 + 1 + 7 + 1 + 6 + 1 + 10 + 1 + 10, "{l:?}");
        }
        // The NodePort virtual server uses each node's own address.
        let st2 = state(&s, "kind-worker2");
        assert!(
            st2.ipvsadm_text().contains("\nTCP  172.18.0.4:30144 rr\n"),
            "{}",
            st2.ipvsadm_text()
        );
        assert_eq!(render_ipvsadm(&s, "kind-worker"), Ok(want.to_string()));
    }

    #[test]
    fn course_case_ipsets_exact() {
        let s = cluster(&httpd_yaml(""));
        let st = state(&s, "kind-worker");
        assert_eq!(
            members(&st, KUBE_CLUSTER_IP),
            [
                "10.96.0.1,tcp:443",
                "10.96.0.10,tcp:53",
                "10.96.0.10,tcp:9153",
                "10.96.0.10,udp:53",
                "10.96.100.50,tcp:8080"
            ]
        );
        assert_eq!(
            members(&st, KUBE_LOOP_BACK),
            [
                "10.244.1.7,tcp:80,10.244.1.7",
                "10.244.1.10,tcp:80,10.244.1.10"
            ]
        );
        assert_eq!(members(&st, KUBE_NODE_PORT_TCP), ["30144"]);
        assert_eq!(
            members(&st, KUBE_IPVS_IPS),
            ["10.96.0.1", "10.96.0.10", "10.96.100.50"]
        );
        for set in [
            KUBE_EXTERNAL_IP,
            KUBE_EXTERNAL_IP_LOCAL,
            KUBE_LOAD_BALANCER,
            KUBE_NODE_PORT_LOCAL_TCP,
            KUBE_NODE_PORT_UDP,
            KUBE_HEALTH_CHECK_NODE_PORT,
        ] {
            assert!(members(&st, set).is_empty(), "{set}");
        }
        // Only kind-worker2's endpoint is local there.
        let st2 = state(&s, "kind-worker2");
        assert_eq!(
            members(&st2, KUBE_LOOP_BACK),
            ["10.244.2.5,tcp:80,10.244.2.5"]
        );

        let text = st.ipset_list_text();
        assert_eq!(st.ipsets.len(), 17);
        assert!(text.starts_with("Name: KUBE-LOOP-BACK\nType: hash:ip,port,ip\n"));
        assert!(text.contains(
            "\nName: KUBE-NODE-PORT-TCP\nType: bitmap:port\nHeader: range 0-65535\nNumber of entries: 1\nMembers:\n30144\n\n"
        ), "{text}");
        assert!(text.ends_with(
            "Name: KUBE-IPVS-IPS\nType: hash:ip\nHeader: family inet hashsize 1024 maxelem 65536\nNumber of entries: 3\nMembers:\n10.96.0.1\n10.96.0.10\n10.96.100.50\n"
        ), "{text}");
        assert_eq!(render_ipset_list(&s, "kind-worker"), Ok(text));
    }

    #[test]
    fn course_case_ip_addr_exact() {
        let s = cluster(&httpd_yaml(""));
        let st = state(&s, "kind-worker");
        let mac = dummy_mac("kind-worker");
        let want = format!(
            "3: kube-ipvs0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN group default \n    link/ether {mac} brd ff:ff:ff:ff:ff:ff
    inet 10.96.0.1/32 scope global kube-ipvs0
       valid_lft forever preferred_lft forever
    inet 10.96.0.10/32 scope global kube-ipvs0
       valid_lft forever preferred_lft forever
    inet 10.96.100.50/32 scope global kube-ipvs0
       valid_lft forever preferred_lft forever
"
        );
        assert_eq!(st.ip_addr_text(), want);
        assert_eq!(render_ip_addr(&s, "kind-worker"), Ok(want));
        // Node addresses (NodePort virtual servers) are never bound.
        assert!(!st.bound_addresses.contains(&Ipv4Addr::new(172, 18, 0, 3)));
        // Locally administered unicast MAC, stable per node.
        assert_eq!(mac.len(), 17);
        let first = u8::from_str_radix(&mac[..2], 16).unwrap();
        assert_eq!(first & 0x03, 0x02);
        assert_ne!(mac, dummy_mac("kind-worker2"));
    }

    #[test]
    fn session_affinity_client_ip_is_persistent() {
        let s = cluster(&httpd_yaml("  sessionAffinity: ClientIP\n"));
        let t = state(&s, "kind-worker").ipvsadm_text();
        let all3 = format!(
            "{}{}{}",
            rs("10.244.1.7:80"),
            rs("10.244.1.10:80"),
            rs("10.244.2.5:80")
        );
        assert_eq!(
            block(&t, "TCP  10.96.100.50:8080 rr persistent 10800"),
            format!("TCP  10.96.100.50:8080 rr persistent 10800\n{all3}")
        );
        assert_eq!(
            block(&t, "TCP  172.18.0.3:30144 rr persistent 10800"),
            format!("TCP  172.18.0.3:30144 rr persistent 10800\n{all3}")
        );
        let s = cluster(&httpd_yaml(
            "  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: 60\n",
        ));
        let t = state(&s, "kind-worker").ipvsadm_text();
        assert!(
            t.contains("\nTCP  10.96.100.50:8080 rr persistent 60\n"),
            "{t}"
        );
        // Other services are not persistent.
        assert!(t.contains("\nTCP  10.96.0.1:443 rr\n"), "{t}");
    }

    #[test]
    fn udp_and_sctp() {
        let y = svc_yaml(
            "multi",
            "  type: NodePort\n  clusterIP: 10.96.7.7\n  ports:\n  - name: u\n    protocol: UDP\n    port: 53\n    targetPort: 5353\n    nodePort: 30053\n  - name: s\n    protocol: SCTP\n    port: 9999\n    targetPort: 9999\n    nodePort: 30099\n",
            "- name: u\n  protocol: UDP\n  port: 5353\n- name: s\n  protocol: SCTP\n  port: 9999\n",
            &[("10.244.1.7", "kind-worker")],
        );
        let s = cluster(&y);
        let st = state(&s, "kind-worker");
        let t = st.ipvsadm_text();
        // Protocol number order: TCP 6 < UDP 17 < SCTP 132; SCTP last.
        let tail = format!(
            "UDP  172.18.0.3:30053 rr\n{}UDP  10.96.0.10:53 rr\n{}{}UDP  10.96.7.7:53 rr\n{}SCTP  172.18.0.3:30099 rr\n{}SCTP  10.96.7.7:9999 rr\n{}",
            rs("10.244.1.7:5353"),
            rs("10.244.0.2:53"),
            rs("10.244.0.3:53"),
            rs("10.244.1.7:5353"),
            rs("10.244.1.7:9999"),
            rs("10.244.1.7:9999"),
        );
        assert!(t.ends_with(&tail), "{t}");
        assert_eq!(members(&st, KUBE_NODE_PORT_UDP), ["30053"]);
        assert!(members(&st, KUBE_NODE_PORT_TCP).is_empty());
        assert_eq!(
            members(&st, KUBE_NODE_PORT_SCTP_HASH),
            ["172.18.0.3,sctp:30099"]
        );
        assert!(members(&st, KUBE_CLUSTER_IP).contains(&"10.96.7.7,sctp:9999".to_string()));
        assert!(members(&st, KUBE_CLUSTER_IP).contains(&"10.96.7.7,udp:53".to_string()));
        assert_eq!(
            members(&st, KUBE_LOOP_BACK),
            [
                "10.244.1.7,udp:5353,10.244.1.7",
                "10.244.1.7,sctp:9999,10.244.1.7"
            ]
        );
    }

    #[test]
    fn no_endpoints_gives_an_empty_virtual_server() {
        let y = svc_yaml(
            "empty",
            "  clusterIP: 10.96.9.9\n  ports:\n  - protocol: TCP\n    port: 80\n",
            "",
            &[],
        );
        let s = cluster(&y);
        let st = state(&s, "kind-worker");
        let t = st.ipvsadm_text();
        assert_eq!(block(&t, "TCP  10.96.9.9:80 rr"), "TCP  10.96.9.9:80 rr\n");
        assert!(
            t.contains("TCP  10.96.9.9:80 rr\nUDP  10.96.0.10:53 rr\n"),
            "{t}"
        );
        // Still bound and in the cluster-IP set.
        assert!(st.bound_addresses.contains(&Ipv4Addr::new(10, 96, 9, 9)));
        assert!(members(&st, KUBE_CLUSTER_IP).contains(&"10.96.9.9,tcp:80".to_string()));
    }

    #[test]
    fn headless_and_external_name_produce_nothing() {
        let base = state(&cluster(""), "kind-worker");
        let y = format!(
            "{}---\n{}",
            svc_yaml(
                "headless",
                "  clusterIP: None\n  ports:\n  - protocol: TCP\n    port: 80\n",
                TCP80,
                &[("10.244.1.7", "kind-worker")],
            ),
            svc_yaml(
                "ext",
                "  type: ExternalName\n  externalName: example.com\n",
                "",
                &[],
            )
        );
        let st = state(&cluster(&y), "kind-worker");
        assert_eq!(st.ipvsadm_text(), base.ipvsadm_text());
        assert_eq!(st.ip_addr_text(), base.ip_addr_text());
        assert_eq!(st.ipset_list_text(), base.ipset_list_text());
    }

    /// The course Service as a LoadBalancer with an ingress IP and an externalIP.
    fn lb_snapshot(extra_spec: &str) -> ProxySnapshot {
        let y = httpd_yaml(&format!("  externalIPs: [\"192.168.99.22\"]\n{extra_spec}"))
            .replace("type: NodePort", "type: LoadBalancer");
        let mut s = cluster(&y);
        for svc in &mut s.services {
            if svc.metadata.name.as_deref() == Some("httpd-svc") {
                let status =
                    serde_json::json!({"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}});
                svc.status = serde_json::from_value(status).ok();
            }
        }
        s
    }

    #[test]
    fn load_balancer_and_external_ips_cluster_policy() {
        let s = lb_snapshot("");
        let st = state(&s, "kind-worker");
        let t = st.ipvsadm_text();
        let all3 = format!(
            "{}{}{}",
            rs("10.244.1.7:80"),
            rs("10.244.1.10:80"),
            rs("10.244.2.5:80")
        );
        // Wrapping order: 172.18.0.3 < 172.18.255.200 < 192.168.99.22 < 10.96.x.
        let head = format!(
            "TCP  172.18.0.3:30144 rr\n{all3}TCP  172.18.255.200:8080 rr\n{all3}TCP  192.168.99.22:8080 rr\n{all3}TCP  10.96.0.1:443 rr\n"
        );
        assert!(t.contains(&head), "{t}");
        assert_eq!(
            members(&st, KUBE_LOAD_BALANCER),
            ["172.18.255.200,tcp:8080"]
        );
        assert_eq!(members(&st, KUBE_EXTERNAL_IP), ["192.168.99.22,tcp:8080"]);
        assert!(members(&st, KUBE_EXTERNAL_IP_LOCAL).is_empty());
        assert!(members(&st, KUBE_LOAD_BALANCER_LOCAL).is_empty());
        assert_eq!(
            members(&st, KUBE_IPVS_IPS),
            [
                "10.96.0.1",
                "10.96.0.10",
                "10.96.100.50",
                "172.18.255.200",
                "192.168.99.22"
            ]
        );
        let a = st.ip_addr_text();
        assert!(
            a.contains("    inet 172.18.255.200/32 scope global kube-ipvs0\n"),
            "{a}"
        );
        assert!(
            a.contains("    inet 192.168.99.22/32 scope global kube-ipvs0\n"),
            "{a}"
        );
        assert!(a.ends_with("inet 192.168.99.22/32 scope global kube-ipvs0\n       valid_lft forever preferred_lft forever\n"));
    }

    #[test]
    fn external_ip_equal_to_a_node_ip_is_not_bound() {
        let y = httpd_yaml("  externalIPs: [\"172.18.0.3\"]\n");
        let st = state(&cluster(&y), "kind-worker");
        assert!(!st.bound_addresses.contains(&Ipv4Addr::new(172, 18, 0, 3)));
        assert!(st.ipvsadm_text().contains("\nTCP  172.18.0.3:8080 rr\n"));
        assert_eq!(members(&st, KUBE_EXTERNAL_IP), ["172.18.0.3,tcp:8080"]);
    }

    #[test]
    fn external_traffic_policy_local() {
        let s = lb_snapshot("  externalTrafficPolicy: Local\n  healthCheckNodePort: 32000\n");
        let st = state(&s, "kind-worker");
        let t = st.ipvsadm_text();
        let local = format!("{}{}", rs("10.244.1.7:80"), rs("10.244.1.10:80"));
        let all3 = format!("{local}{}", rs("10.244.2.5:80"));
        for head in [
            "TCP  172.18.0.3:30144 rr",
            "TCP  172.18.255.200:8080 rr",
            "TCP  192.168.99.22:8080 rr",
        ] {
            assert_eq!(block(&t, head), format!("{head}\n{local}"));
        }
        // The ClusterIP keeps every endpoint.
        assert_eq!(
            block(&t, "TCP  10.96.100.50:8080 rr"),
            format!("TCP  10.96.100.50:8080 rr\n{all3}")
        );
        assert_eq!(members(&st, KUBE_NODE_PORT_TCP), ["30144"]);
        assert_eq!(members(&st, KUBE_NODE_PORT_LOCAL_TCP), ["30144"]);
        assert_eq!(
            members(&st, KUBE_EXTERNAL_IP_LOCAL),
            ["192.168.99.22,tcp:8080"]
        );
        assert!(members(&st, KUBE_EXTERNAL_IP).is_empty());
        assert_eq!(
            members(&st, KUBE_LOAD_BALANCER),
            ["172.18.255.200,tcp:8080"]
        );
        assert_eq!(
            members(&st, KUBE_LOAD_BALANCER_LOCAL),
            ["172.18.255.200,tcp:8080"]
        );
        assert_eq!(members(&st, KUBE_HEALTH_CHECK_NODE_PORT), ["32000"]);

        // kind-worker2 has one local endpoint; kind-control-plane none: falls back to all.
        let t2 = state(&s, "kind-worker2").ipvsadm_text();
        assert_eq!(
            block(&t2, "TCP  172.18.0.4:30144 rr"),
            format!("TCP  172.18.0.4:30144 rr\n{}", rs("10.244.2.5:80"))
        );
        let tc = state(&s, "kind-control-plane").ipvsadm_text();
        assert_eq!(
            block(&tc, "TCP  172.18.0.2:30144 rr"),
            format!("TCP  172.18.0.2:30144 rr\n{all3}")
        );
    }

    #[test]
    fn load_balancer_source_ranges() {
        let s =
            lb_snapshot("  loadBalancerSourceRanges: [\"203.0.113.0/25\", \"172.18.0.0/16\"]\n");
        let st = state(&s, "kind-worker");
        assert_eq!(
            members(&st, KUBE_LOAD_BALANCER_FW),
            ["172.18.255.200,tcp:8080"]
        );
        assert_eq!(
            members(&st, KUBE_LOAD_BALANCER_SOURCE_CIDR),
            [
                "172.18.255.200,tcp:8080,172.18.0.0/16",
                "172.18.255.200,tcp:8080,203.0.113.0/25"
            ]
        );
        // The node's own IP is inside a range.
        assert_eq!(
            members(&st, KUBE_LOAD_BALANCER_SOURCE_IP),
            ["172.18.255.200,tcp:8080,172.18.255.200"]
        );
        let s = lb_snapshot("  loadBalancerSourceRanges: [\"203.0.113.0/25\"]\n");
        let st = state(&s, "kind-worker");
        assert!(members(&st, KUBE_LOAD_BALANCER_SOURCE_IP).is_empty());
    }

    #[test]
    fn internal_traffic_policy_local_uses_local_endpoints_only() {
        let y = svc_yaml(
            "itp",
            "  clusterIP: 10.96.5.5\n  internalTrafficPolicy: Local\n  ports:\n  - protocol: TCP\n    port: 80\n",
            TCP80,
            &[
                ("10.244.1.7", "kind-worker"),
                ("10.244.2.5", "kind-worker2"),
            ],
        );
        let s = cluster(&y);
        let t = state(&s, "kind-worker").ipvsadm_text();
        assert_eq!(
            block(&t, "TCP  10.96.5.5:80 rr"),
            format!("TCP  10.96.5.5:80 rr\n{}", rs("10.244.1.7:80"))
        );
        let t = state(&s, "kind-control-plane").ipvsadm_text();
        assert_eq!(block(&t, "TCP  10.96.5.5:80 rr"), "TCP  10.96.5.5:80 rr\n");
    }

    #[test]
    fn node_port_addresses_filter_node_ips() {
        let mut s = cluster(&httpd_yaml(""));
        s.config.node_port_addresses = vec!["10.0.0.0/8".into()];
        let t = state(&s, "kind-worker").ipvsadm_text();
        assert!(!t.contains(":30144"), "{t}");
        s.config.node_port_addresses = vec!["primary".into(), "127.0.0.0/8".into()];
        let t = state(&s, "kind-worker").ipvsadm_text();
        assert!(t.contains("\nTCP  172.18.0.3:30144 rr\n"), "{t}");
        assert!(!t.contains("127.0.0.1"), "{t}");
    }

    #[test]
    fn deterministic_and_unknown_node() {
        let s = lb_snapshot("  sessionAffinity: ClientIP\n");
        let a = state(&s, "kind-worker");
        let b = state(&s, "kind-worker");
        assert_eq!(a, b);
        assert_eq!(a.ipvsadm_text(), b.ipvsadm_text());
        assert_eq!(a.ipset_list_text(), b.ipset_list_text());
        assert_eq!(a.ip_addr_text(), b.ip_addr_text());
        // Object order in the snapshot does not matter.
        let mut r = s.clone();
        r.services.reverse();
        r.endpoint_slices.reverse();
        r.nodes.reverse();
        assert_eq!(state(&r, "kind-worker"), a);
        assert_eq!(
            render(&s, "nope", &IpvsOptions::default()),
            Err(ProxyError::UnknownNode("nope".into()))
        );
        assert!(render_ipvsadm(&s, "nope").is_err());
        assert!(render_ipset_list(&s, "nope").is_err());
        assert!(render_ip_addr(&s, "nope").is_err());
    }

    #[test]
    fn options_change_the_header_and_scheduler() {
        let s = cluster("");
        let o = IpvsOptions {
            scheduler: "lc".into(),
            conn_tab_size: 1 << 20,
            ifindex: 9,
        };
        let st = render(&s, "kind-worker", &o).expect("node");
        assert!(
            st.ipvsadm_text()
                .starts_with("IP Virtual Server version 1.2.1 (size=1048576)\n")
        );
        assert!(st.ipvsadm_text().contains("\nTCP  10.96.0.1:443 lc\n"));
        assert!(st.ip_addr_text().starts_with("9: kube-ipvs0: "));
    }

    #[test]
    fn wrapping_order_and_merge_sort() {
        let a = u32::from(Ipv4Addr::new(172, 18, 0, 2));
        let b = u32::from(Ipv4Addr::new(10, 96, 0, 1));
        assert_eq!(wrapping_cmp(a, b), Ordering::Less);
        assert_eq!(wrapping_cmp(b, a), Ordering::Greater);
        assert_eq!(wrapping_cmp(a, a), Ordering::Equal);
        // A cyclic "order" still sorts deterministically, without panicking.
        let v: Vec<u32> = vec![0, 0x6000_0000, 0xC000_0000, 5, 0x6000_0001];
        let cmp = |x: &u32, y: &u32| wrapping_cmp(*x, *y);
        let s1 = glibc_msort(v.clone(), &cmp);
        let s2 = glibc_msort(v.clone(), &cmp);
        assert_eq!(s1, s2);
        assert_eq!(s1.len(), v.len());
        // On a consistent input it is an ordinary stable sort.
        let w = vec![3u32, 1, 2, 1];
        assert_eq!(glibc_msort(w, &|x: &u32, y: &u32| x.cmp(y)), [1, 1, 2, 3]);
    }

    #[test]
    fn entry_formats() {
        let ip = Ipv4Addr::new(1, 2, 3, 4);
        assert_eq!(IpSetEntry::ip(ip).to_string(), "1.2.3.4");
        assert_eq!(IpSetEntry::port(30080).to_string(), "30080");
        assert_eq!(
            IpSetEntry::ip_port(ip, Protocol::Tcp, 80).to_string(),
            "1.2.3.4,tcp:80"
        );
        let net = Cidr::parse("203.0.113.0/25");
        assert_eq!(
            IpSetEntry {
                net,
                ..IpSetEntry::ip_port(ip, Protocol::Tcp, 80)
            }
            .to_string(),
            "1.2.3.4,tcp:80,203.0.113.0/25"
        );
        // Bitmap members sort numerically, not as strings.
        let mut set = BTreeSet::new();
        set.insert(IpSetEntry::port(30144));
        set.insert(IpSetEntry::port(8080));
        let v: Vec<String> = set.iter().map(ToString::to_string).collect();
        assert_eq!(v, ["8080", "30144"]);
    }
}
