//! A name, then a packet: what happens when a pod connects to `httpd-svc:8080`.
//!
//! DESIGN.md's `trace::name_then_packet`, the chapter end to end: the pod's C library walks its
//! search list ([`resolver::walk`], with the resolver its image brings), each query is a UDP
//! packet to the nameserver in `/etc/resolv.conf` (the `kube-dns` ClusterIP), which kube-proxy
//! DNATs to a CoreDNS pod exactly like any other Service; the answer's address is then the
//! destination of the connection, traced through the same node's rules. Nothing is recomputed
//! here: the DNS answers come from [`DnsSnapshot`], the packets from [`Tracer`].

use super::{Choice, Packet, Source, TraceError, TraceOutcome, Tracer};
use crate::cluster::Cluster;
use crate::dns::DnsSnapshot;
use crate::dns::resolver::{self, Family, Libc, ResolvConf, Walk};
use crate::proxy::Protocol;
use k8s_openapi::api::core::v1::Pod;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

/// The DNS port the resolver sends to.
pub const DNS_PORT: u16 = 53;

/// A lookup followed by a connection, from one pod.
#[derive(Clone, Debug, PartialEq)]
pub struct NameThenPacket {
    /// The resolver's queries and result.
    pub walk: Walk,
    /// The first query's packet, from the pod to its nameserver through kube-proxy (to a
    /// CoreDNS pod); `None` when the name needed no query (an address) or the nameserver is not
    /// an IPv4 address.
    pub dns_packet: Option<TraceOutcome>,
    /// The address the connection goes to: the first IPv4 address the lookup returned.
    pub address: Option<Ipv4Addr>,
    /// The connection's packet to `address:port`; `None` when the lookup failed.
    pub connection: Option<TraceOutcome>,
}

/// Looks `name` up from pod `namespace/pod` with the given resolv.conf and C library, then
/// traces the DNS query's packet and the connection to `port`.
#[allow(clippy::too_many_arguments)]
pub fn name_then_packet(
    tracer: &Tracer,
    dns: &DnsSnapshot,
    conf: &ResolvConf,
    libc: Libc,
    namespace: &str,
    pod: &str,
    name: &str,
    port: u16,
    protocol: Protocol,
    choice: Choice,
) -> Result<NameThenPacket, TraceError> {
    let source = Source::Pod {
        namespace: namespace.to_string(),
        name: pod.to_string(),
    };
    // IPv4 only, as the traces are (kind's clusters are single-stack).
    let walk = resolver::walk(dns, conf, name, libc, Family::Inet);
    let dns_packet = match walk.steps.first().and_then(step_server) {
        Some(server) => Some(tracer.trace(
            &Packet {
                source: source.clone(),
                destination: SocketAddrV4::new(server, DNS_PORT),
                protocol: Protocol::Udp,
            },
            choice,
        )?),
        None => None,
    };
    let address = walk.result.as_ref().ok().and_then(|r| {
        r.addresses.iter().find_map(|ip| match ip {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        })
    });
    let connection = match address {
        Some(ip) => Some(tracer.trace(
            &Packet {
                source,
                destination: SocketAddrV4::new(ip, port),
                protocol,
            },
            choice,
        )?),
        None => None,
    };
    Ok(NameThenPacket {
        walk,
        dns_packet,
        address,
        connection,
    })
}

fn step_server(step: &resolver::Step) -> Option<Ipv4Addr> {
    match step.server {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

/// [`name_then_packet`] in a simulated cluster: the pod's own resolv.conf and the resolver of
/// its first container's image.
pub fn name_then_packet_in(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    name: &str,
    port: u16,
    protocol: Protocol,
    choice: Choice,
) -> Result<NameThenPacket, TraceError> {
    let Some(p) = cluster.get_typed::<Pod>(namespace, pod) else {
        return Err(TraceError::UnknownPod {
            namespace: namespace.to_string(),
            name: pod.to_string(),
        });
    };
    let image = p
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.as_deref())
        .unwrap_or("");
    let conf = resolver::pod_resolv_conf(cluster, p);
    let libc = resolver::image_resolver(image).libc;
    name_then_packet(
        &Tracer::from_cluster(cluster),
        &DnsSnapshot::from_cluster(cluster),
        &conf,
        libc,
        namespace,
        pod,
        name,
        port,
        protocol,
        choice,
    )
}
