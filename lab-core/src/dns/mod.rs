//! Cluster DNS: what CoreDNS answers inside a kind cluster.
//!
//! The reference is `spec/dns.md`: CoreDNS 1.12 with the kubeadm 1.33 Corefile, whose
//! `kubernetes cluster.local in-addr.arpa ip6.arpa { pods insecure; fallthrough in-addr.arpa
//! ip6.arpa; ttl 30 }` plugin answers the cluster's names and hands everything else to
//! `forward`. This module is split the way CoreDNS is:
//!
//! - [`DnsSnapshot`] is the plugin's informer cache: Namespaces, Services, EndpointSlices and the
//!   CoreDNS pods, indexed for the lookups the plugin does (service by name, ClusterIP and
//!   endpoint address by IP). Like the proxy's snapshot it is a pure function of objects, so a
//!   real cluster's objects can be loaded as they are.
//! - [`kubernetes`] is the plugin itself: the query-name grammar of `parse.go` and the records of
//!   `kubernetes.go`/`backend_lookup.go` (A, AAAA, SRV, PTR, CNAME, TXT, NS, SOA; NXDOMAIN versus
//!   NODATA with the SOA in authority).
//! - [`upstream`] is the simulated world behind `forward`.
//! - [`wire`] turns DNS messages (wire format, via `hickory-proto`) into answers and back, with
//!   FORMERR for broken packets and truncation for UDP, so the same answers are served on a
//!   socket by `lab-runner` and shown in the browser.
//!
//! Everything is IPv4-first like kind's default single-stack cluster; IPv6 ClusterIPs and
//! addresses are carried through where CoreDNS would serve them (AAAA, `ip6.arpa`).

pub mod from_pod;
pub mod kubernetes;
pub mod resolver;
pub mod tools;
pub mod upstream;
pub mod wire;

use crate::cluster::Cluster;
use crate::controllers::endpointslice::LABEL_SERVICE_NAME;
pub use hickory_proto::op::ResponseCode;
pub use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
pub use upstream::{Upstream, UpstreamRecord};

/// TTL of every `kubernetes` plugin record (`ttl 30` in kubeadm's Corefile).
pub const TTL: u32 = 30;
/// TTL of `dns-version.<zone>` TXT: hard-coded in the plugin; kubeadm ≥ 1.33 keeps
/// `cluster.local` out of the cache, so clients see it unchanged.
pub const DNS_VERSION_TTL: u32 = 28800;
/// The schema version `dns-version.<zone>` answers.
pub const DNS_SCHEMA_VERSION: &str = "1.1.0";
/// Label CoreDNS's own pods carry (`k8s-app=kube-dns`), used to find the NS records.
pub const COREDNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// How a Service is reached by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// A ClusterIP (also NodePort/LoadBalancer): its IPs (IPv4 first, as `clusterIPs` lists them).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the ready endpoints are the answer.
    Headless,
    /// `type: ExternalName`: a CNAME to this name.
    ExternalName(String),
}

/// A Service port as the plugin matches `_port._proto`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortEntry {
    /// The port's name (`""` when unnamed).
    pub name: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number; `-1` stands for "no ports" on a headless Service's slices, as CoreDNS
    /// does (SRV skips it, A still works).
    pub port: i32,
}

/// A ready endpoint address of a Service, from its EndpointSlices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointEntry {
    /// The endpoint's DNS label: the slice's `hostname`, else the IP with dashes.
    pub name: String,
    /// Its address.
    pub ip: IpAddr,
    /// The slice's ports (or the `-1` stand-in).
    pub ports: Vec<PortEntry>,
}

/// One Service as the plugin's cache holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// How it resolves.
    pub kind: ServiceKind,
    /// Its ports.
    pub ports: Vec<PortEntry>,
    /// Ready endpoints in slice order (slices by name), then address order within a slice.
    pub endpoints: Vec<EndpointEntry>,
}

/// Where the zone's NS records point (CoreDNS's `nsAddrs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameServers {
    /// The NS target: the Service in front of CoreDNS, else `ns.dns.<zone>.`.
    pub target: String,
    /// Its addresses (the glue and the `ns.dns.<zone>` A records).
    pub addrs: Vec<IpAddr>,
}

/// The plugin's view of the cluster, indexed for lookups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSnapshot {
    /// The cluster domain (`cluster.local`), lower case, without dots at either end.
    pub zone: String,
    /// Existing namespaces.
    pub namespaces: BTreeSet<String>,
    /// Services by (namespace, name).
    pub services: BTreeMap<(String, String), ServiceEntry>,
    /// ClusterIP → the first Service (by namespace, name) that has it.
    pub by_cluster_ip: BTreeMap<IpAddr, (String, String)>,
    /// Endpoint address → PTR targets `<ep>.<svc>.<ns>.svc.<zone>.`, sorted and de-duplicated.
    pub by_endpoint_ip: BTreeMap<IpAddr, Vec<String>>,
    /// The zone's name servers.
    pub name_servers: NameServers,
    /// SOA serial: Unix seconds of the last Service or EndpointSlice change seen.
    pub serial: u32,
    /// The world behind `forward`.
    pub upstream: Upstream,
}

/// One DNS reply before it is encoded: what the plugin (or the upstream) decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// NOERROR, NXDOMAIN, REFUSED, …
    pub rcode: ResponseCode,
    /// `aa`: set on every `kubernetes` plugin reply, not on forwarded ones.
    pub authoritative: bool,
    /// `ra`: CoreDNS does not set it on its own replies; forwarded replies carry the upstream's.
    pub recursion_available: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (the SOA of negative answers, or NS).
    pub authority: Vec<Record>,
    /// Additional section (addresses of SRV targets and NS glue).
    pub additional: Vec<Record>,
}

impl Answer {
    /// Whether the name exists but has no record of the type (NOERROR, empty answer).
    pub fn is_nodata(&self) -> bool {
        self.rcode == ResponseCode::NoError && self.answers.is_empty()
    }
}

/// Whether an EndpointSlice endpoint counts as ready for DNS: `ready` true or unset.
fn endpoint_ready(ep: &k8s_openapi::api::discovery::v1::Endpoint) -> bool {
    ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true)
}

/// `endpointHostname`: the slice's hostname, else the address with dashes (IPv6: `:` → `-`, and a
/// trailing `-` gets a `0`, as CoreDNS ≥ 1.12.3 does).
pub fn endpoint_hostname(hostname: Option<&str>, ip: &IpAddr) -> String {
    if let Some(h) = hostname.filter(|h| !h.is_empty()) {
        return h.to_string();
    }
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => {
            let mut s = v6.to_string().replace(':', "-");
            if s.ends_with('-') {
                s.push('0');
            }
            s
        }
    }
}

impl DnsSnapshot {
    /// The plugin's view of a simulated cluster.
    pub fn from_cluster(cluster: &Cluster) -> DnsSnapshot {
        DnsSnapshot::from_objects(
            &cluster.config().cluster_domain,
            cluster.list_typed::<Namespace>(None),
            cluster.list_typed::<Service>(None),
            cluster.list_typed::<EndpointSlice>(None),
            cluster.list_typed::<Pod>(Some("kube-system")),
            cluster.config().dns_upstream.clone(),
        )
    }

    /// The plugin's view of plain object lists (a real cluster's, or a test's).
    pub fn from_objects<'a>(
        zone: &str,
        namespaces: impl IntoIterator<Item = &'a Namespace>,
        services: impl IntoIterator<Item = &'a Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
        pods: impl IntoIterator<Item = &'a Pod>,
        upstream: Upstream,
    ) -> DnsSnapshot {
        let zone = zone.trim_matches('.').to_ascii_lowercase();
        let namespaces: BTreeSet<String> = namespaces
            .into_iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        let mut serial_s: i64 = 0;
        let mut bump = |t: Option<i64>| serial_s = serial_s.max(t.unwrap_or(0));

        let mut entries: BTreeMap<(String, String), ServiceEntry> = BTreeMap::new();
        for s in services {
            let (Some(ns), Some(name)) = (&s.metadata.namespace, &s.metadata.name) else {
                continue;
            };
            bump(
                s.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.as_second()),
            );
            let spec = s.spec.clone().unwrap_or_default();
            let kind = if spec.type_.as_deref() == Some("ExternalName") {
                ServiceKind::ExternalName(spec.external_name.clone().unwrap_or_default())
            } else if spec.cluster_ip.as_deref() == Some("None") {
                ServiceKind::Headless
            } else {
                let mut ips: Vec<IpAddr> = spec
                    .cluster_ips
                    .iter()
                    .flatten()
                    .chain(spec.cluster_ip.iter())
                    .filter_map(|ip| ip.parse().ok())
                    .collect();
                let mut seen = BTreeSet::new();
                ips.retain(|ip| seen.insert(*ip));
                ServiceKind::ClusterIp(ips)
            };
            let ports = spec
                .ports
                .iter()
                .flatten()
                .map(|p| PortEntry {
                    name: p.name.clone().unwrap_or_default(),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    port: p.port,
                })
                .collect();
            entries.insert(
                (ns.clone(), name.clone()),
                ServiceEntry {
                    namespace: ns.clone(),
                    name: name.clone(),
                    kind,
                    ports,
                    endpoints: vec![],
                },
            );
        }

        // Slices in (namespace, name) order: the simulator's fixed stand-in for informer order.
        let mut slices: Vec<&EndpointSlice> = slices.into_iter().collect();
        slices.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        let mut by_endpoint_ip: BTreeMap<IpAddr, BTreeSet<(String, String, String)>> =
            BTreeMap::new();
        for slice in slices {
            let Some(ns) = slice.metadata.namespace.clone() else {
                continue;
            };
            let Some(svc) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_SERVICE_NAME))
                .cloned()
            else {
                continue;
            };
            bump(
                slice
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.as_second()),
            );
            bump(
                slice
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("endpoints.kubernetes.io/last-change-trigger-time"))
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
                    .map(|t| t.as_second()),
            );
            let mut ports: Vec<PortEntry> = slice
                .ports
                .iter()
                .flatten()
                .map(|p| PortEntry {
                    name: p.name.clone().unwrap_or_default(),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    port: p.port.unwrap_or(-1),
                })
                .collect();
            if ports.is_empty() {
                ports.push(PortEntry {
                    name: String::new(),
                    protocol: String::new(),
                    port: -1,
                });
            }
            for ep in slice.endpoints.iter().filter(|e| endpoint_ready(e)) {
                for addr in &ep.addresses {
                    let Ok(ip) = addr.parse::<IpAddr>() else {
                        continue;
                    };
                    let name = endpoint_hostname(ep.hostname.as_deref(), &ip);
                    by_endpoint_ip.entry(ip).or_default().insert((
                        ns.clone(),
                        svc.clone(),
                        name.clone(),
                    ));
                    if let Some(e) = entries.get_mut(&(ns.clone(), svc.clone())) {
                        e.endpoints.push(EndpointEntry {
                            name,
                            ip,
                            ports: ports.clone(),
                        });
                    }
                }
            }
        }
        let by_endpoint_ip = by_endpoint_ip
            .into_iter()
            .map(|(ip, set)| {
                let mut targets: Vec<String> = set
                    .into_iter()
                    .map(|(ns, svc, ep)| format!("{ep}.{svc}.{ns}.svc.{zone}."))
                    .collect();
                targets.dedup();
                (ip, targets)
            })
            .collect();

        let mut by_cluster_ip = BTreeMap::new();
        for (key, e) in &entries {
            if let ServiceKind::ClusterIp(ips) = &e.kind {
                for ip in ips {
                    by_cluster_ip.entry(*ip).or_insert_with(|| key.clone());
                }
            }
        }

        // nsAddrs: CoreDNS's own pod IPs → the Services whose ready endpoints they are.
        let coredns_ips: Vec<IpAddr> = pods
            .into_iter()
            .filter(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(COREDNS_LABEL.0))
                    .is_some_and(|v| v == COREDNS_LABEL.1)
            })
            .filter_map(|p| p.status.as_ref()?.pod_ip.as_ref()?.parse().ok())
            .collect();
        let mut ns_target = None;
        let mut ns_addrs: Vec<IpAddr> = Vec::new();
        for e in entries.values() {
            let Some(ep) = e.endpoints.iter().find(|ep| coredns_ips.contains(&ep.ip)) else {
                continue;
            };
            match &e.kind {
                ServiceKind::ClusterIp(ips) => {
                    ns_target
                        .get_or_insert_with(|| format!("{}.{}.svc.{zone}.", e.name, e.namespace));
                    for ip in ips {
                        if !ns_addrs.contains(ip) {
                            ns_addrs.push(*ip);
                        }
                    }
                }
                ServiceKind::Headless => {
                    ns_target.get_or_insert_with(|| {
                        format!("{}.{}.{}.svc.{zone}.", ep.name, e.name, e.namespace)
                    });
                    if !ns_addrs.contains(&ep.ip) {
                        ns_addrs.push(ep.ip);
                    }
                }
                ServiceKind::ExternalName(_) => {}
            }
        }
        let name_servers = match ns_target {
            Some(target) => NameServers {
                target,
                addrs: ns_addrs,
            },
            None => NameServers {
                target: format!("ns.dns.{zone}."),
                addrs: coredns_ips,
            },
        };

        DnsSnapshot {
            zone,
            namespaces,
            services: entries,
            by_cluster_ip,
            by_endpoint_ip,
            name_servers,
            serial: u32::try_from(serial_s.max(0)).unwrap_or(u32::MAX),
            upstream,
        }
    }

    /// What the cluster's DNS server answers for one question (class IN).
    pub fn lookup(&self, qname: &Name, qtype: RecordType) -> Answer {
        kubernetes::lookup(self, qname, qtype)
    }
}

/// The rcode as dig prints it (`NOERROR`, `NXDOMAIN`, …; miekg/dns `RcodeToString`).
pub fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        ResponseCode::BADVERS => "BADVERS".into(),
        other => format!("RESERVED{}", u16::from(other)),
    }
}
