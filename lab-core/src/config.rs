//! Cluster configuration: what `kind create cluster` decides for a real cluster.
//!
//! [`ClusterConfig::kind`] is the default three-node kind cluster of DESIGN.md; [`ClusterConfig::scale`]
//! is the benchmark profile with many workers and a 10.0.0.0/8 pod network.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 CIDR block such as `10.96.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    /// The network address.
    pub network: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (ip, len) = s.split_once('/')?;
        let ip: Ipv4Addr = ip.parse().ok()?;
        let prefix: u8 = len.parse().ok().filter(|p| *p <= 32)?;
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Some(Cidr {
            network: Ipv4Addr::from(u32::from(ip) & mask),
            prefix,
        })
    }
    /// Number of addresses in the block.
    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }
    /// The `i`-th address of the block.
    pub fn nth(&self, i: u64) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network).wrapping_add(i as u32))
    }
    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let off = u32::from(ip).wrapping_sub(u32::from(self.network)) as u64;
        u32::from(ip) >= u32::from(self.network) && off < self.size()
    }
    /// The offset of `ip` in the block, if inside.
    pub fn offset(&self, ip: Ipv4Addr) -> Option<u64> {
        self.contains(ip)
            .then(|| (u32::from(ip) - u32::from(self.network)) as u64)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(s: String) -> Result<Cidr, String> {
        Cidr::parse(&s).ok_or_else(|| format!("invalid CIDR {s:?}"))
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

/// One node of the simulated cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// Node name (`kind-worker`).
    pub name: String,
    /// Node InternalIP (`172.18.0.3`).
    pub ip: Ipv4Addr,
    /// The node's pod range (`10.244.1.0/24`).
    pub pod_cidr: Cidr,
    /// Control-plane nodes carry the `node-role.kubernetes.io/control-plane:NoSchedule` taint.
    pub control_plane: bool,
}

/// Timings of the simulated kubelet, in virtual milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeletConfig {
    /// From the pod being bound to its containers running (image pull + start).
    pub container_start_ms: u64,
    /// Extra delay before a started pod without a readinessProbe reports Ready.
    pub readiness_delay_ms: u64,
    /// How long a deleted pod stays Terminating before it is gone (bounded by its grace period).
    pub termination_ms: u64,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            container_start_ms: 2_000,
            readiness_delay_ms: 0,
            termination_ms: 1_000,
        }
    }
}

/// kube-proxy's mode, as in `KubeProxyConfiguration.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    /// The default.
    #[default]
    Iptables,
    /// IPVS.
    Ipvs,
    /// nftables.
    Nftables,
}

impl ProxyMode {
    /// The mode as written in `config.conf`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Iptables => "iptables",
            ProxyMode::Ipvs => "ipvs",
            ProxyMode::Nftables => "nftables",
        }
    }
}

/// Everything that shapes a simulated cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// Seed of the cluster's RNG: same seed and same operations → same names, IPs and UIDs.
    pub seed: u64,
    /// Virtual time at start, in Unix milliseconds.
    pub start_time_ms: i64,
    /// Nodes, control plane first.
    pub nodes: Vec<NodeConfig>,
    /// The cluster's pod network (`clusterCIDR`).
    pub cluster_cidr: Cidr,
    /// The Service ClusterIP range.
    pub service_cidr: Cidr,
    /// First and last NodePort.
    pub node_port_range: (u16, u16),
    /// The cluster DNS domain.
    pub cluster_domain: String,
    /// Pods per node before the scheduler reports `Too many pods`.
    pub max_pods: usize,
    /// Kubelet timings.
    pub kubelet: KubeletConfig,
    /// Pool of the simulated LoadBalancer provider (like cloud-provider-kind); `None` leaves
    /// LoadBalancer Services `<pending>`, as kind does without it.
    pub load_balancer_pool: Option<(Ipv4Addr, Ipv4Addr)>,
    /// kube-proxy mode written into the `kube-system/kube-proxy` ConfigMap at start.
    pub proxy_mode: ProxyMode,
    /// Watch events kept for watchers.
    pub watch_log_capacity: usize,
    /// Create kind's system pods (control-plane static pods, kube-proxy and kindnet per node).
    pub system_pods: bool,
    /// Kubernetes version reported by nodes.
    pub kubernetes_version: String,
    /// Record core/v1 Events (Scheduled, Pulled, ScalingReplicaSet, …). On by default; the scale
    /// profile turns them off, as its 100,000 pods would carry 600,000 Events.
    #[serde(default = "default_true")]
    pub record_events: bool,
    /// How long Events live, like the apiserver's `--event-ttl` (default 1 h).
    #[serde(default = "default_event_ttl")]
    pub event_ttl_ms: u64,
    /// The names the cluster DNS's `forward` reaches (simulated; labs add their own).
    #[serde(default)]
    pub dns_upstream: crate::dns::Upstream,
}

fn default_event_ttl() -> u64 {
    3_600_000
}

fn default_true() -> bool {
    true
}

/// The default LoadBalancer pool of DESIGN.md.
pub const DEFAULT_LB_POOL: (Ipv4Addr, Ipv4Addr) = (
    Ipv4Addr::new(172, 18, 255, 200),
    Ipv4Addr::new(172, 18, 255, 250),
);

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig::kind()
    }
}

impl ClusterConfig {
    /// A fresh kind cluster: `kind-control-plane`, `kind-worker`, `kind-worker2`.
    pub fn kind() -> ClusterConfig {
        ClusterConfig::with_workers(2, Cidr::parse("10.244.0.0/16").expect("static CIDR"))
    }

    /// The benchmark profile: `workers` workers on a 10.0.0.0/8 pod network, /24 per node, no
    /// system pods.
    pub fn scale(workers: usize) -> ClusterConfig {
        let mut c =
            ClusterConfig::with_workers(workers, Cidr::parse("10.0.0.0/8").expect("static CIDR"));
        c.system_pods = false;
        c.watch_log_capacity = 1_000;
        c.record_events = false;
        c
    }

    fn with_workers(workers: usize, cluster_cidr: Cidr) -> ClusterConfig {
        let node = |i: usize, name: String| NodeConfig {
            name,
            ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 18, 0, 2)) + i as u32),
            pod_cidr: Cidr {
                network: cluster_cidr.nth(i as u64 * 256),
                prefix: 24,
            },
            control_plane: i == 0,
        };
        let mut nodes = vec![node(0, "kind-control-plane".into())];
        for w in 1..=workers {
            nodes.push(node(
                w,
                if w == 1 {
                    "kind-worker".into()
                } else {
                    format!("kind-worker{w}")
                },
            ));
        }
        ClusterConfig {
            seed: 1,
            // 2026-01-01T00:00:00Z
            start_time_ms: 1_767_225_600_000,
            nodes,
            cluster_cidr,
            service_cidr: Cidr::parse("10.96.0.0/16").expect("static CIDR"),
            node_port_range: (30000, 32767),
            cluster_domain: "cluster.local".into(),
            max_pods: 110,
            kubelet: KubeletConfig::default(),
            load_balancer_pool: None,
            proxy_mode: ProxyMode::Iptables,
            watch_log_capacity: crate::store::DEFAULT_WATCH_LOG_CAPACITY,
            system_pods: true,
            kubernetes_version: "v1.33.1".into(),
            record_events: true,
            event_ttl_ms: default_event_ttl(),
            dns_upstream: Default::default(),
        }
    }
}

impl ClusterConfig {
    /// The configuration a cluster's own objects reveal, for [`crate::Cluster::observed`] (a
    /// real cluster, or the sim read through its API): kind's defaults wherever the objects do
    /// not say otherwise.
    ///
    /// - nodes: every Node, control plane first (the `node-role.kubernetes.io/control-plane`
    ///   label or taint), each group in the order given, with its first IPv4 InternalIP and its IPv4 pod range
    ///   (`spec.podCIDRs`, else `spec.podCIDR`; `0.0.0.0/32` when it has none, as with CNIs
    ///   that do their own IPAM);
    /// - kube-proxy's mode and `clusterCIDR`: ConfigMap `kube-system/kube-proxy` (`config.conf`);
    /// - the Service range: the `default/kubernetes` Service's ClusterIP is the range's first
    ///   address; kind's `10.96.0.0/16` when it lies there, else the /16 around it (the prefix
    ///   is not in any object the simulator reads: ServiceCIDR objects are not among its kinds);
    /// - the Kubernetes version: the first node's `kubeletVersion`;
    /// - the virtual clock: the latest `creationTimestamp` seen, so ages are not negative.
    ///
    /// The cluster domain stays `cluster.local` (the objects do not carry it).
    pub fn observed(objects: &[crate::Object]) -> ClusterConfig {
        use crate::Object;
        use crate::proxy::{KUBE_PROXY_CONFIGMAP, NodeInfo, ProxyConfig};
        let mut c = ClusterConfig::kind();
        c.system_pods = false;
        c.record_events = false;
        let mut nodes: Vec<NodeConfig> = Vec::new();
        let mut version = None;
        for o in objects {
            let Object::Node(n) = o else { continue };
            let info = NodeInfo::from_node(n);
            let labelled = n
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(CONTROL_PLANE_ROLE));
            let tainted = n
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .is_some_and(|t| t.iter().any(|t| t.key == CONTROL_PLANE_ROLE));
            if version.is_none() {
                version = n
                    .status
                    .as_ref()
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| i.kubelet_version.clone())
                    .filter(|v| !v.is_empty());
            }
            nodes.push(NodeConfig {
                name: info.name,
                ip: info.ips.first().copied().unwrap_or(Ipv4Addr::UNSPECIFIED),
                pod_cidr: info.pod_cidr.unwrap_or(Cidr {
                    network: Ipv4Addr::UNSPECIFIED,
                    prefix: 32,
                }),
                control_plane: labelled || tainted,
            });
        }
        // Control plane first; each group in the order read (an apiserver lists by name).
        let (mut first, rest): (Vec<NodeConfig>, Vec<NodeConfig>) =
            nodes.into_iter().partition(|n| n.control_plane);
        first.extend(rest);
        c.nodes = first;
        if let Some(v) = version {
            c.kubernetes_version = v;
        }
        let named = |o: &&Object, ns: &str, name: &str| o.namespace() == ns && o.name() == name;
        if let Some(Object::ConfigMap(cm)) = objects
            .iter()
            .find(|o| named(o, KUBE_PROXY_CONFIGMAP.0, KUBE_PROXY_CONFIGMAP.1))
        {
            let proxy = ProxyConfig::from_config_map(cm);
            c.proxy_mode = proxy.mode;
            if let Some(cidr) = proxy.cluster_cidr {
                c.cluster_cidr = cidr;
            }
        }
        let kubernetes_ip = objects.iter().find_map(|o| match o {
            Object::Service(s) if named(&o, "default", "kubernetes") => s
                .spec
                .as_ref()
                .and_then(|s| s.cluster_ip.as_deref())
                .and_then(|ip| ip.parse::<Ipv4Addr>().ok()),
            _ => None,
        });
        if let Some(ip) = kubernetes_ip
            && !c.service_cidr.contains(ip)
            && let Some(cidr) = Cidr::parse(&format!("{ip}/16"))
        {
            c.service_cidr = cidr;
        }
        if let Some(latest) = objects
            .iter()
            .filter_map(|o| o.meta().creation_timestamp.as_ref())
            .map(|t| t.0.as_millisecond())
            .max()
        {
            c.start_time_ms = latest;
        }
        c
    }
}

/// The label and taint key of control-plane nodes (kubeadm sets both; the bootstrap too).
pub(crate) const CONTROL_PLANE_ROLE: &str = "node-role.kubernetes.io/control-plane";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_defaults() {
        let c = ClusterConfig::kind();
        let names: Vec<_> = c
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.ip.to_string(), n.pod_cidr.to_string()))
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    "kind-control-plane",
                    "172.18.0.2".into(),
                    "10.244.0.0/24".into()
                ),
                ("kind-worker", "172.18.0.3".into(), "10.244.1.0/24".into()),
                ("kind-worker2", "172.18.0.4".into(), "10.244.2.0/24".into()),
            ]
        );
        let s = ClusterConfig::scale(1000);
        assert_eq!(s.nodes[1000].pod_cidr.to_string(), "10.3.232.0/24");
        assert!(
            Cidr::parse("10.96.0.0/16")
                .unwrap()
                .contains("10.96.255.254".parse().unwrap())
        );
        assert!(
            !Cidr::parse("10.96.0.0/16")
                .unwrap()
                .contains("10.97.0.1".parse().unwrap())
        );
    }

    #[test]
    fn observed_config_comes_from_the_objects() {
        let objects = crate::manifest::parse_manifests(
            "apiVersion: v1
kind: Node
metadata:
  name: worker-b
spec:
  podCIDRs: [10.200.7.0/24]
status:
  addresses:
  - {type: Hostname, address: worker-b}
  - {type: InternalIP, address: 192.168.5.12}
  nodeInfo: {kubeletVersion: v1.32.2, architecture: amd64, bootID: '', containerRuntimeVersion: '', kernelVersion: '', kubeProxyVersion: '', machineID: '', operatingSystem: linux, osImage: '', systemUUID: ''}
---
apiVersion: v1
kind: Node
metadata:
  name: zz-control
  labels: {node-role.kubernetes.io/control-plane: ''}
spec:
  podCIDR: 10.200.0.0/24
---
apiVersion: v1
kind: Node
metadata:
  name: worker-a
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-proxy, namespace: kube-system}
data:
  config.conf: |
    apiVersion: kubeproxy.config.k8s.io/v1alpha1
    kind: KubeProxyConfiguration
    mode: ipvs
    clusterCIDR: 10.200.0.0/16
---
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default, creationTimestamp: '2025-03-01T10:00:00Z'}
spec:
  clusterIP: 10.100.0.1
  ports: [{port: 443, targetPort: 6443}]
",
        )
        .unwrap();
        let c = ClusterConfig::observed(&objects);
        // The control plane first, then the others in the order given.
        let nodes: Vec<(&str, String, String, bool)> = c
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.ip.to_string(),
                    n.pod_cidr.to_string(),
                    n.control_plane,
                )
            })
            .collect();
        assert_eq!(
            nodes,
            [
                ("zz-control", "0.0.0.0".into(), "10.200.0.0/24".into(), true),
                (
                    "worker-b",
                    "192.168.5.12".into(),
                    "10.200.7.0/24".into(),
                    false
                ),
                ("worker-a", "0.0.0.0".into(), "0.0.0.0/32".into(), false),
            ]
        );
        assert_eq!(c.proxy_mode, ProxyMode::Ipvs);
        assert_eq!(c.cluster_cidr.to_string(), "10.200.0.0/16");
        assert_eq!(c.service_cidr.to_string(), "10.100.0.0/16");
        assert_eq!(c.kubernetes_version, "v1.32.2");
        assert_eq!(c.start_time_ms, 1_740_823_200_000);
        assert_eq!(c.cluster_domain, "cluster.local");

        // Nothing said: kind's defaults, and no nodes.
        let bare = ClusterConfig::observed(&[]);
        let kind = ClusterConfig::kind();
        assert!(bare.nodes.is_empty());
        assert_eq!(
            (bare.service_cidr, bare.cluster_cidr, bare.proxy_mode),
            (kind.service_cidr, kind.cluster_cidr, kind.proxy_mode)
        );
    }
}
