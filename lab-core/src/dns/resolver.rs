//! The pod side of cluster DNS: the `/etc/resolv.conf` a pod gets and the walk its C library's
//! stub resolver does through the search list.
//!
//! Mirrors three real components (`spec/dns.md` §4):
//! - the kubelet's DNS configurer (`pkg/kubelet/network/dns/dns.go`: `GetPodDNS`,
//!   `getPodDNSType`, `generateSearchesForDNSClusterFirst`, `appendDNSConfig`,
//!   `formDNSSearchFitsLimits`) and containerd's CRI `parseDNSOptions`, which writes the file in
//!   the order search, nameserver, options;
//! - the stub resolvers that read the file: glibc `res_search` (`resolv/res_query.c`) under
//!   `getaddrinfo`, musl `name_from_dns_search` (`src/network/lookup_name.c`) and uClibc-ng
//!   `__dns_lookup` (`libc/inet/resolv.c`, the resolver in `busybox:1.28`);
//! - the choice of C library by container image (DESIGN.md "The shell").
//!
//! The walk asks the simulated servers only: the cluster DNS Service (and its CoreDNS pods) are
//! answered by [`DnsSnapshot::lookup`], the kind node's resolver by the upstream table.
//! `/etc/hosts` is not consulted.

use super::{Answer, DnsSnapshot, ServiceKind};
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use k8s_openapi::api::core::v1::Pod;
use std::net::{IpAddr, Ipv4Addr};

/// `validation.MaxDNSSearchPaths`: search domains the kubelet keeps.
pub const MAX_SEARCH_PATHS: usize = 32;
/// `validation.MaxDNSSearchListChars`: length of the joined search line the kubelet keeps.
pub const MAX_SEARCH_LIST_CHARS: usize = 2048;
/// `validation.MaxDNSNameservers`.
pub const MAX_NAMESERVERS: usize = 3;
/// `utilvalidation.DNS1123SubdomainMaxLength`: longer search domains are dropped (glibc 2.28
/// aborts on them).
const MAX_SEARCH_DOMAIN_LEN: usize = 253;

/// The address of the kind node's resolver as pods with `dnsPolicy: Default` see it.
///
/// A kind node is a container on the `kind` docker network, so docker gives it its embedded DNS
/// (`nameserver 127.0.0.11`, `options ndots:0`); kind's entrypoint (`enable_network_magic`)
/// rewrites 127.0.0.11 to the docker host's address on that network, its gateway 172.18.0.1. The
/// host's own search domains depend on the machine; the simulation assumes none, and the
/// Docker < 25 file without the comment block and `edns0 trust-ad`.
pub const KIND_NODE_RESOLVER: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 1);

/// The kind node's `/etc/resolv.conf` as simulated (see [`KIND_NODE_RESOLVER`]).
pub fn kind_node_resolv_conf() -> String {
    format!("nameserver {KIND_NODE_RESOLVER}\noptions ndots:0\n")
}

/// The kubelet's cluster DNS address: kubeadm sets `clusterDNS` to the tenth address of the
/// Service range (10.96.0.10 in kind).
pub fn cluster_dns_ip(config: &ClusterConfig) -> IpAddr {
    IpAddr::V4(config.service_cidr.nth(10))
}

/// A resolver configuration: what `/etc/resolv.conf` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// `search` domains, in order.
    pub search: Vec<String>,
    /// `nameserver` addresses, in order (as written; not necessarily valid IPs).
    pub nameservers: Vec<String>,
    /// `options` entries (`ndots:5`).
    pub options: Vec<String>,
    /// The file's exact text when containerd copied the node's file instead of writing one.
    pub verbatim: Option<String>,
    /// The kubelet's `DNSConfigForming` warning events, when limits cut the lists.
    pub warnings: Vec<String>,
}

impl ResolvConf {
    /// Reads a resolv.conf the way the kubelet's `parseResolvConf` does: `nameserver` lines
    /// accumulate, the last `search` line wins (`.` dropped, trailing dots trimmed), `options`
    /// merge by name with later ones winning. Unknown lines and comments are ignored.
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["nameserver", ns, ..] => conf.nameservers.push(ns.to_string()),
                ["search", rest @ ..] => {
                    conf.search = rest
                        .iter()
                        .filter(|s| **s != ".")
                        .map(|s| s.trim_end_matches('.').to_string())
                        .collect();
                }
                ["options", rest @ ..] => {
                    for o in rest {
                        merge_option(&mut conf.options, o);
                    }
                }
                _ => {}
            }
        }
        conf
    }

    /// The file as containerd writes it (`parseDNSOptions`): `search`, then one `nameserver`
    /// line per server, then `options`, each line only when it has entries.
    pub fn text(&self) -> String {
        if let Some(v) = &self.verbatim {
            return v.clone();
        }
        let mut out = String::new();
        if !self.search.is_empty() {
            out.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        for ns in &self.nameservers {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }

    /// `ndots` from the options (default 1; glibc and musl cap it at 15).
    pub fn ndots(&self) -> usize {
        self.options
            .iter()
            .filter_map(|o| o.strip_prefix("ndots:"))
            .filter_map(|v| v.parse::<usize>().ok())
            .next_back()
            .map_or(1, |n| n.min(15))
    }

    /// The nameservers that are IP addresses, in order.
    pub fn nameserver_ips(&self) -> Vec<IpAddr> {
        self.nameservers
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect()
    }
}

/// Adds `opt` (`name` or `name:value`) replacing an option of the same name in place.
///
/// The kubelet merges through a Go map, so the real order of several options is random; the
/// simulation keeps first-seen order, which is the order with a single option (the usual case).
fn merge_option(options: &mut Vec<String>, opt: &str) {
    let name = opt.split(':').next().unwrap_or(opt);
    match options
        .iter_mut()
        .find(|o| o.split(':').next() == Some(name))
    {
        Some(existing) => *existing = opt.to_string(),
        None => options.push(opt.to_string()),
    }
}

/// Appends without repeating (`omitDuplicates`).
fn push_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for i in items {
        if !list.contains(&i) {
            list.push(i);
        }
    }
}

/// What the kubelet knows when it forms a pod's DNS configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletDns {
    /// `clusterDomain` (`cluster.local`).
    pub cluster_domain: String,
    /// `clusterDNS` addresses (empty: ClusterFirst falls back to Default).
    pub cluster_dns: Vec<IpAddr>,
    /// The node's resolv.conf text (`--resolv-conf`).
    pub node_resolv_conf: String,
}

impl KubeletDns {
    /// The kubelet of a simulated kind node.
    pub fn kind(config: &ClusterConfig) -> KubeletDns {
        KubeletDns {
            cluster_domain: config.cluster_domain.trim_matches('.').to_string(),
            cluster_dns: vec![cluster_dns_ip(config)],
            node_resolv_conf: kind_node_resolv_conf(),
        }
    }
}

/// Which of the kubelet's two bases a pod's DNS starts from (`podDNSType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PodDnsType {
    Cluster,
    Host,
    None,
}

/// `getPodDNSType`: `ClusterFirst` on the host network falls back to `Default`; an unknown
/// policy (the apiserver rejects it) is treated as `ClusterFirst`, as the kubelet does.
fn pod_dns_type(pod: &Pod) -> PodDnsType {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    match spec.and_then(|s| s.dns_policy.as_deref()) {
        Some("None") => PodDnsType::None,
        Some("ClusterFirstWithHostNet") => PodDnsType::Cluster,
        Some("Default") => PodDnsType::Host,
        _ if host_network => PodDnsType::Host,
        _ => PodDnsType::Cluster,
    }
}

/// The pod's `/etc/resolv.conf`, as the kubelet forms it (`GetPodDNS`) and containerd writes it.
pub fn resolv_conf(pod: &Pod, kubelet: &KubeletDns) -> ResolvConf {
    let host = ResolvConf::parse(&kubelet.node_resolv_conf);
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut dns_type = pod_dns_type(pod);
    if dns_type == PodDnsType::Cluster && kubelet.cluster_dns.is_empty() {
        dns_type = PodDnsType::Host;
    }
    let mut conf = match dns_type {
        PodDnsType::None => ResolvConf::default(),
        PodDnsType::Host => ResolvConf {
            search: host.search.clone(),
            nameservers: host.nameservers.clone(),
            options: host.options.clone(),
            ..ResolvConf::default()
        },
        PodDnsType::Cluster => {
            let zone = &kubelet.cluster_domain;
            let mut search = vec![
                format!("{namespace}.svc.{zone}"),
                format!("svc.{zone}"),
                zone.clone(),
            ];
            push_unique(&mut search, host.search.clone());
            ResolvConf {
                search,
                nameservers: kubelet
                    .cluster_dns
                    .iter()
                    .map(|ip| ip.to_string())
                    .collect(),
                options: vec!["ndots:5".into()],
                ..ResolvConf::default()
            }
        }
    };
    if let Some(dc) = pod.spec.as_ref().and_then(|s| s.dns_config.as_ref()) {
        push_unique(
            &mut conf.nameservers,
            dc.nameservers.iter().flatten().cloned(),
        );
        push_unique(&mut conf.search, dc.searches.iter().flatten().cloned());
        for o in dc.options.iter().flatten() {
            let Some(name) = o.name.as_deref() else {
                continue;
            };
            match o.value.as_deref().filter(|v| !v.is_empty()) {
                Some(v) => merge_option(&mut conf.options, &format!("{name}:{v}")),
                None => merge_option(&mut conf.options, name),
            }
        }
    }
    fit_limits(&mut conf);
    // containerd writes nothing when every list is empty and copies the node's file instead.
    if conf.search.is_empty() && conf.nameservers.is_empty() && conf.options.is_empty() {
        conf.verbatim = Some(kubelet.node_resolv_conf.clone());
    }
    conf
}

/// `formDNSConfigFitsLimits`: at most 32 search domains, none longer than 253 characters, a
/// search line of at most 2048 characters (cut from the end), at most 3 nameservers.
fn fit_limits(conf: &mut ResolvConf) {
    let mut exceeded = false;
    if conf.search.len() > MAX_SEARCH_PATHS {
        conf.search.truncate(MAX_SEARCH_PATHS);
        exceeded = true;
    }
    let before = conf.search.len();
    conf.search.retain(|s| s.len() <= MAX_SEARCH_DOMAIN_LEN);
    exceeded |= conf.search.len() != before;
    let line_len =
        |s: &[String]| s.iter().map(String::len).sum::<usize>() + s.len().saturating_sub(1);
    if line_len(&conf.search) > MAX_SEARCH_LIST_CHARS {
        while line_len(&conf.search) > MAX_SEARCH_LIST_CHARS {
            conf.search.pop();
        }
        exceeded = true;
    }
    if exceeded {
        conf.warnings.push(format!(
            "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
            conf.search.join(" ")
        ));
    }
    if conf.nameservers.len() > MAX_NAMESERVERS {
        conf.nameservers.truncate(MAX_NAMESERVERS);
        conf.warnings.push(format!(
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {}",
            conf.nameservers.join(" ")
        ));
    }
}

/// A pod's resolv.conf in a simulated cluster.
pub fn pod_resolv_conf(cluster: &Cluster, pod: &Pod) -> ResolvConf {
    resolv_conf(pod, &KubeletDns::kind(cluster.config()))
}

/// The stub resolver a container's C library brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Libc {
    /// glibc `res_search` under `getaddrinfo` (Debian, Ubuntu, most images).
    Glibc,
    /// musl (Alpine).
    Musl,
    /// uClibc-ng (`busybox:1.28`, whose default variant was `uclibc`).
    UClibc,
}

/// Which `nslookup` a container has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Nslookup {
    /// busybox before 1.29: libc `getaddrinfo` + `getnameinfo`.
    Busybox128,
    /// busybox 1.29 and later ("BIG" nslookup with its own resolver).
    Busybox136,
    /// ISC BIND's `nslookup` (dnsutils images).
    Bind,
}

/// What a container image brings for name lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageResolver {
    /// The C library's resolver.
    pub libc: Libc,
    /// The `nslookup` on its `$PATH`, if any.
    pub nslookup: Option<Nslookup>,
}

/// The resolver and tools of an image reference (`busybox:1.28`, `docker.io/library/alpine:3.20`).
///
/// DESIGN.md: `busybox:1.28*` → uClibc and the 1.28 nslookup; other busybox → the 1.36
/// nslookup, with the C library its tag names (`-musl`, `-uclibc`, `-glibc`; untagged variants
/// are taken as glibc, the docker-library default after 1.28 — an assumption); `alpine` → musl
/// and busybox's 1.36-style nslookup; images named for dnsutils (`jessie-dnsutils`, `dnsutils`,
/// `netshoot`) → glibc and BIND's nslookup; anything else → glibc without nslookup (`httpd`).
pub fn image_resolver(image: &str) -> ImageResolver {
    // Drop a digest, then split the last path segment into repository and tag.
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    let (repo, tag) = last.split_once(':').unwrap_or((last, "latest"));
    let variant = |default: Libc| {
        if tag.contains("musl") {
            Libc::Musl
        } else if tag.contains("uclibc") {
            Libc::UClibc
        } else if tag.contains("glibc") {
            Libc::Glibc
        } else {
            default
        }
    };
    match repo {
        "busybox" if tag == "1.28" || tag.starts_with("1.28.") || tag.starts_with("1.28-") => {
            ImageResolver {
                libc: Libc::UClibc,
                nslookup: Some(Nslookup::Busybox128),
            }
        }
        "busybox" => ImageResolver {
            libc: variant(Libc::Glibc),
            nslookup: Some(Nslookup::Busybox136),
        },
        "alpine" => ImageResolver {
            libc: Libc::Musl,
            nslookup: Some(Nslookup::Busybox136),
        },
        r if r.contains("dnsutils") || r == "netshoot" => ImageResolver {
            libc: Libc::Glibc,
            nslookup: Some(Nslookup::Bind),
        },
        _ => ImageResolver {
            libc: Libc::Glibc,
            nslookup: None,
        },
    }
}

/// The address families a lookup asks for (`ai_family`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `AF_INET`: A only.
    Inet,
    /// `AF_INET6`: AAAA only.
    Inet6,
    /// `AF_UNSPEC`: A and AAAA.
    Unspec,
}

/// One query the resolver sent and the reply it got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The name asked (absolute).
    pub qname: Name,
    /// The type asked.
    pub qtype: RecordType,
    /// The server it went to.
    pub server: IpAddr,
    /// The reply.
    pub answer: Answer,
}

/// A successful lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The candidate name that answered (absolute); for an address literal, the literal.
    pub name: String,
    /// The addresses, in the order the C library returns them.
    pub addresses: Vec<IpAddr>,
}

/// Why a lookup failed (the `EAI_*` / `h_errno` the C library reports).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// Every candidate was NXDOMAIN (`HOST_NOT_FOUND`, `EAI_NONAME`).
    #[error("name not found")]
    NotFound,
    /// A name exists without addresses (`NO_DATA`, `EAI_NODATA`).
    #[error("no address associated with name")]
    NoData,
    /// SERVFAIL stopped the lookup (`TRY_AGAIN`, `EAI_AGAIN`).
    #[error("temporary failure in name resolution")]
    TryAgain,
    /// Another rcode stopped the lookup (`NO_RECOVERY`, `EAI_FAIL`).
    #[error("non-recoverable failure in name resolution ({0})")]
    Failed(String),
    /// No configured nameserver is reachable in the simulation.
    #[error("no nameserver answered")]
    Timeout,
    /// The text is not a valid domain name.
    #[error("invalid name {0:?}")]
    InvalidName(String),
}

/// The queries of one lookup and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    /// Every query sent, in order.
    pub steps: Vec<Step>,
    /// The addresses found, or why not.
    pub result: Result<Resolved, LookupError>,
}

/// What the server at `server` answers, or `None` when nothing in the simulation listens there.
///
/// The cluster DNS addresses (the Service in front of CoreDNS and its pods) answer with the
/// CoreDNS model; the kind node's resolver answers from the upstream table alone.
pub fn ask(
    snapshot: &DnsSnapshot,
    server: IpAddr,
    qname: &Name,
    qtype: RecordType,
) -> Option<Answer> {
    if is_cluster_dns(snapshot, server) {
        return Some(snapshot.lookup(qname, qtype));
    }
    if server == IpAddr::V4(KIND_NODE_RESOLVER) {
        let u = snapshot.upstream.resolve(qname, qtype);
        return Some(Answer {
            rcode: u.rcode,
            authoritative: false,
            recursion_available: true,
            answers: u.answers,
            authority: u.authority,
            additional: vec![],
        });
    }
    None
}

/// Whether `ip` reaches CoreDNS: an address of the zone's name servers, or a ready endpoint of
/// the Service those name servers are.
fn is_cluster_dns(s: &DnsSnapshot, ip: IpAddr) -> bool {
    if s.name_servers.addrs.contains(&ip) {
        return true;
    }
    let fronts_coredns = |kind: &ServiceKind| match kind {
        ServiceKind::ClusterIp(ips) => ips.iter().any(|i| s.name_servers.addrs.contains(i)),
        _ => false,
    };
    s.services
        .values()
        .any(|svc| fronts_coredns(&svc.kind) && svc.endpoints.iter().any(|e| e.ip == ip))
}

/// Parses typed text as a DNS name (relative unless it ends in a dot).
fn parse_name(text: &str) -> Result<Name, LookupError> {
    if text.is_empty() || text.ends_with("..") || text.len() > 254 {
        return Err(LookupError::InvalidName(text.to_string()));
    }
    Name::from_ascii(text).map_err(|_| LookupError::InvalidName(text.to_string()))
}

/// `name` + `.` + `domain`, absolute; `None` when it would be too long.
fn candidate(name: &str, domain: Option<&str>) -> Option<Name> {
    let base = name.trim_end_matches('.');
    let full = match domain {
        Some(d) => format!("{base}.{}.", d.trim_end_matches('.')),
        None => format!("{base}."),
    };
    Name::from_ascii(&full).ok()
}

/// The address records of a reply, in answer order.
pub fn addresses(answer: &Answer) -> Vec<IpAddr> {
    answer
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

fn qtypes(family: Family) -> &'static [RecordType] {
    match family {
        Family::Inet => &[RecordType::A],
        Family::Inet6 => &[RecordType::AAAA],
        Family::Unspec => &[RecordType::A, RecordType::AAAA],
    }
}

/// How one candidate's replies ended, from the resolver's point of view.
enum Verdict {
    Hit(Vec<IpAddr>),
    /// Try the next candidate; the error is what the lookup reports if nothing else answers.
    Next(LookupError),
    /// Give up the search list (glibc still tries the name as-is if it has not).
    Stop(LookupError),
}

/// Sends the queries of one candidate to the first server that answers.
struct Sender<'a> {
    snapshot: &'a DnsSnapshot,
    servers: Vec<IpAddr>,
    steps: Vec<Step>,
}

impl Sender<'_> {
    fn send(&mut self, qname: &Name, qtype: RecordType) -> Option<Answer> {
        for &server in &self.servers {
            if let Some(answer) = ask(self.snapshot, server, qname, qtype) {
                self.steps.push(Step {
                    qname: qname.clone(),
                    qtype,
                    server,
                    answer: answer.clone(),
                });
                return Some(answer);
            }
        }
        None
    }
}

fn rcode_error(rcode: ResponseCode) -> LookupError {
    match rcode {
        ResponseCode::NXDomain => LookupError::NotFound,
        ResponseCode::ServFail => LookupError::TryAgain,
        other => LookupError::Failed(super::rcode_name(other)),
    }
}

/// glibc `__res_context_query` with `T_QUERY_A_AND_AAAA`: success when either reply is NOERROR
/// with answers; otherwise the first non-NOERROR rcode decides (NXDOMAIN, SERVFAIL, …), and
/// two empty NOERROR replies are NO_DATA. The search loop continues after NXDOMAIN, NO_DATA and
/// SERVFAIL; anything else ends it.
fn glibc_candidate(
    tx: &mut Sender<'_>,
    qname: &Name,
    family: Family,
) -> Result<Verdict, LookupError> {
    let mut replies = Vec::new();
    for &t in qtypes(family) {
        replies.push(tx.send(qname, t).ok_or(LookupError::Timeout)?);
    }
    if replies
        .iter()
        .any(|a| a.rcode == ResponseCode::NoError && !a.answers.is_empty())
    {
        // res_search succeeded; getaddrinfo keeps only the addresses (a lone CNAME has none).
        let addrs: Vec<IpAddr> = replies.iter().flat_map(addresses).collect();
        return Ok(if addrs.is_empty() {
            Verdict::Stop(LookupError::NoData)
        } else {
            Verdict::Hit(addrs)
        });
    }
    let rcode = replies
        .iter()
        .map(|a| a.rcode)
        .find(|r| *r != ResponseCode::NoError)
        .unwrap_or(ResponseCode::NoError);
    Ok(match rcode {
        ResponseCode::NoError => Verdict::Next(LookupError::NoData),
        ResponseCode::NXDomain => Verdict::Next(LookupError::NotFound),
        ResponseCode::ServFail => Verdict::Next(LookupError::TryAgain),
        other => Verdict::Stop(rcode_error(other)),
    })
}

/// musl `name_from_dns`: any reply with SERVFAIL (or none) is EAI_AGAIN and any NXDOMAIN sends
/// the search on; another error rcode is EAI_FAIL. Then the addresses of both replies (AAAA
/// parsed first); none at all is EAI_NODATA, which — being non-zero — also ends the search in
/// `name_from_dns_search` (`if (cnt) return cnt;`). `spec/dns.md` §4.3 lists NODATA among the
/// codes that move on; the musl source (1.1.13 to 1.2.5) does not, and the source wins here.
fn musl_candidate(
    tx: &mut Sender<'_>,
    qname: &Name,
    family: Family,
) -> Result<Verdict, LookupError> {
    let mut replies = Vec::new();
    for &t in qtypes(family) {
        replies.push(tx.send(qname, t).ok_or(LookupError::TryAgain)?);
    }
    for a in &replies {
        match a.rcode {
            ResponseCode::ServFail => return Ok(Verdict::Stop(LookupError::TryAgain)),
            ResponseCode::NXDomain => return Ok(Verdict::Next(LookupError::NotFound)),
            ResponseCode::NoError => {}
            other => return Ok(Verdict::Stop(rcode_error(other))),
        }
    }
    let addrs: Vec<IpAddr> = replies.iter().rev().flat_map(addresses).collect();
    Ok(if addrs.is_empty() {
        Verdict::Stop(LookupError::NoData)
    } else {
        Verdict::Hit(addrs)
    })
}

/// uClibc `__dns_lookup` for one type: NXDOMAIN and SERVFAIL go on to the next search domain;
/// NOERROR without answers is NO_DATA and ends the lookup.
fn uclibc_candidate(
    tx: &mut Sender<'_>,
    qname: &Name,
    qtype: RecordType,
) -> Result<Verdict, LookupError> {
    let a = tx.send(qname, qtype).ok_or(LookupError::TryAgain)?;
    Ok(match a.rcode {
        ResponseCode::NoError if a.answers.is_empty() => Verdict::Stop(LookupError::NoData),
        ResponseCode::NoError => {
            let addrs = addresses(&a);
            if addrs.is_empty() && qtype != RecordType::PTR {
                Verdict::Stop(LookupError::NoData)
            } else {
                Verdict::Hit(addrs)
            }
        }
        ResponseCode::NXDomain => Verdict::Next(LookupError::NotFound),
        ResponseCode::ServFail => Verdict::Next(LookupError::TryAgain),
        other => Verdict::Stop(rcode_error(other)),
    })
}

/// Resolves `name` as `getaddrinfo` in a container with `libc` would, against the simulated
/// servers named in `conf` (`spec/dns.md` §4.2–4.5).
///
/// An address literal needs no query. glibc tries the name as-is first when it has at least
/// `ndots` dots, then each search domain, then as-is if not tried yet; musl uses the search list
/// only below `ndots` dots and tries as-is last; uClibc ignores `ndots`, tries as-is first, then
/// the search domains, and runs one walk per family (AAAA, then A, as `gaih_inet` does). A
/// trailing dot means as-is only for all three.
pub fn walk(
    snapshot: &DnsSnapshot,
    conf: &ResolvConf,
    name: &str,
    libc: Libc,
    family: Family,
) -> Walk {
    if let Ok(ip) = name.parse::<IpAddr>() {
        let fits = matches!(
            (family, ip),
            (Family::Unspec, _) | (Family::Inet, IpAddr::V4(_)) | (Family::Inet6, IpAddr::V6(_))
        );
        return Walk {
            steps: vec![],
            result: if fits {
                Ok(Resolved {
                    name: name.to_string(),
                    addresses: vec![ip],
                })
            } else {
                Err(LookupError::NoData)
            },
        };
    }
    let mut tx = Sender {
        snapshot,
        servers: conf.nameserver_ips(),
        steps: vec![],
    };
    let result = parse_name(name).and_then(|_| match libc {
        Libc::Glibc => glibc_walk(&mut tx, conf, name, family),
        Libc::Musl => musl_walk(&mut tx, conf, name, family),
        Libc::UClibc => {
            let mut found = Vec::new();
            let mut first_ok = None;
            let mut err = None;
            let order: &[RecordType] = match family {
                Family::Inet => &[RecordType::A],
                Family::Inet6 => &[RecordType::AAAA],
                Family::Unspec => &[RecordType::AAAA, RecordType::A],
            };
            for &t in order {
                match uclibc_walk(&mut tx, conf, name, t) {
                    Ok(r) => {
                        found.extend(r.addresses);
                        first_ok.get_or_insert(r.name);
                    }
                    Err(e) => {
                        err.get_or_insert(e);
                    }
                }
            }
            match first_ok {
                Some(n) => Ok(Resolved {
                    name: n,
                    addresses: found,
                }),
                None => Err(err.unwrap_or(LookupError::NotFound)),
            }
        }
    });
    Walk {
        steps: tx.steps,
        result,
    }
}

fn dots(name: &str) -> usize {
    name.matches('.').count()
}

fn glibc_walk(
    tx: &mut Sender<'_>,
    conf: &ResolvConf,
    name: &str,
    family: Family,
) -> Result<Resolved, LookupError> {
    let trailing = name.ends_with('.');
    let hit = |n: &Name, addrs| Resolved {
        name: n.to_ascii(),
        addresses: addrs,
    };
    let as_is = candidate(name, None).ok_or_else(|| LookupError::InvalidName(name.into()))?;
    let mut tried_as_is = false;
    let mut last_err = LookupError::NotFound;
    let mut saw_nodata = false;
    if dots(name) >= conf.ndots() || trailing {
        match glibc_candidate(tx, &as_is, family)? {
            Verdict::Hit(a) => return Ok(hit(&as_is, a)),
            Verdict::Next(e) | Verdict::Stop(e) if trailing => return Err(e),
            Verdict::Next(e) | Verdict::Stop(e) => last_err = e,
        }
        tried_as_is = true;
    }
    if !trailing {
        for d in &conf.search {
            let Some(q) = candidate(name, Some(d)) else {
                continue;
            };
            match glibc_candidate(tx, &q, family)? {
                Verdict::Hit(a) => return Ok(hit(&q, a)),
                Verdict::Next(e) => {
                    saw_nodata |= e == LookupError::NoData;
                    if !tried_as_is {
                        last_err = e;
                    }
                }
                Verdict::Stop(e) => {
                    if !tried_as_is {
                        last_err = e;
                    }
                    break;
                }
            }
        }
    }
    if !tried_as_is {
        match glibc_candidate(tx, &as_is, family)? {
            Verdict::Hit(a) => return Ok(hit(&as_is, a)),
            Verdict::Next(e) | Verdict::Stop(e) => last_err = e,
        }
    }
    // res_search: the as-is error if tried first, else NO_DATA if any candidate had it.
    if saw_nodata && last_err == LookupError::NotFound {
        last_err = LookupError::NoData;
    }
    Err(last_err)
}

fn musl_walk(
    tx: &mut Sender<'_>,
    conf: &ResolvConf,
    name: &str,
    family: Family,
) -> Result<Resolved, LookupError> {
    let base = name.strip_suffix('.').unwrap_or(name);
    let use_search = !(dots(name) >= conf.ndots() || name.ends_with('.'));
    // musl reads at most 255 bytes of the search line (`char search[256]`).
    let line = conf.search.join(" ");
    let line = &line[..floor_char_boundary(&line, 255)];
    if use_search {
        for d in line.split_whitespace() {
            let Some(q) = candidate(base, Some(d)) else {
                continue;
            };
            match musl_candidate(tx, &q, family)? {
                Verdict::Hit(a) => {
                    return Ok(Resolved {
                        name: q.to_ascii(),
                        addresses: a,
                    });
                }
                Verdict::Next(_) => {}
                Verdict::Stop(e) => return Err(e),
            }
        }
    }
    let q = candidate(base, None).ok_or_else(|| LookupError::InvalidName(name.into()))?;
    match musl_candidate(tx, &q, family)? {
        Verdict::Hit(a) => Ok(Resolved {
            name: q.to_ascii(),
            addresses: a,
        }),
        Verdict::Next(e) | Verdict::Stop(e) => Err(e),
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One uClibc `__dns_lookup`: as-is first (ndots is not read), then each search domain while the
/// replies are NXDOMAIN or SERVFAIL; a trailing dot means as-is only.
fn uclibc_walk(
    tx: &mut Sender<'_>,
    conf: &ResolvConf,
    name: &str,
    qtype: RecordType,
) -> Result<Resolved, LookupError> {
    let trailing = name.ends_with('.');
    let mut candidates = vec![candidate(name, None)];
    if !trailing {
        candidates.extend(conf.search.iter().map(|d| candidate(name, Some(d))));
    }
    let mut last = LookupError::NotFound;
    for q in candidates.into_iter().flatten() {
        match uclibc_candidate(tx, &q, qtype)? {
            Verdict::Hit(a) => {
                return Ok(Resolved {
                    name: q.to_ascii(),
                    addresses: a,
                });
            }
            Verdict::Next(e) => last = e,
            Verdict::Stop(e) => return Err(e),
        }
    }
    Err(last)
}

/// The reverse name of an address (`35.253.105.10.in-addr.arpa.`, nibbles for IPv6).
pub fn reverse_name(ip: IpAddr) -> Name {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa."
        }
    };
    Name::from_ascii(&text).unwrap_or_else(|_| Name::root())
}

/// A reverse lookup (`getnameinfo` with `NI_NAMEREQD`): the first PTR target without its
/// trailing dot, and the queries sent.
///
/// glibc and musl send one PTR query for the `in-addr.arpa` name. uClibc builds the name without
/// a trailing dot and runs it through `__dns_lookup`, so an NXDOMAIN is retried with each search
/// domain appended (`spec/dns.md` §4.4).
pub fn reverse(
    snapshot: &DnsSnapshot,
    conf: &ResolvConf,
    ip: IpAddr,
    libc: Libc,
) -> (Vec<Step>, Option<String>) {
    let mut tx = Sender {
        snapshot,
        servers: conf.nameserver_ips(),
        steps: vec![],
    };
    let arpa = reverse_name(ip).to_ascii();
    let mut candidates = vec![candidate(&arpa, None)];
    if libc == Libc::UClibc {
        let bare = arpa.trim_end_matches('.');
        candidates.extend(conf.search.iter().map(|d| candidate(bare, Some(d))));
    }
    for q in candidates.into_iter().flatten() {
        let Some(a) = tx.send(&q, RecordType::PTR) else {
            break;
        };
        if let Some(target) = a.answers.iter().find_map(|r| match &r.data {
            RData::PTR(p) => Some(p.0.to_ascii()),
            _ => None,
        }) {
            return (tx.steps, Some(target.trim_end_matches('.').to_string()));
        }
        // As in the forward walk, NXDOMAIN and SERVFAIL send the name on to the next domain.
        if !matches!(a.rcode, ResponseCode::NXDomain | ResponseCode::ServFail) {
            break;
        }
    }
    (tx.steps, None)
}
