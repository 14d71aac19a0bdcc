//! `trace::name_then_packet`: a pod looks a Service up through CoreDNS (whose Service kube-proxy
//! DNATs like any other) and connects to the address it got.

use k8s_openapi::api::core::v1::{Pod, Service};
use lab_core::Cluster;
use lab_core::dns::DnsSnapshot;
use lab_core::dns::resolver::{self, Libc};
use lab_core::proxy::Protocol;
use lab_core::trace::{
    Choice, ProxyMode, TraceError, TraceOutcome, Tracer, Verdict, name_then_packet,
    name_then_packet_in,
};

fn course() -> Cluster {
    let mut c = Cluster::kind();
    for m in [
        include_str!("data/httpd-deployment.yaml"),
        include_str!("data/httpd-service.yaml"),
        include_str!("data/clientpod.yaml"),
    ] {
        c.apply_manifests(m).unwrap();
    }
    c.settle();
    c
}

/// Every branch's DNAT target as (pod namespace, pod name prefix, port), with probabilities.
fn targets(o: &TraceOutcome) -> Vec<(String, String, u16, f64)> {
    let TraceOutcome::Branches(bs) = o else {
        panic!("all branches were asked for")
    };
    bs.iter()
        .map(|b| match &b.trace.verdict {
            Verdict::Dnat {
                port,
                pod: Some((ns, name)),
                ..
            } => (ns.clone(), name.clone(), *port, b.probability),
            v => panic!("expected a DNAT to a pod, got {v:?}"),
        })
        .collect()
}

#[test]
fn lookup_goes_to_coredns_then_the_connection_to_an_httpd_pod() {
    let c = course();
    let r = name_then_packet_in(
        &c,
        "default",
        "clientpod",
        "httpd-svc",
        8080,
        Protocol::Tcp,
        Choice::AllBranches,
    )
    .unwrap();
    // busybox 1.28 (uClibc): as-is first, then the first search domain answers.
    let qnames: Vec<String> = r.walk.steps.iter().map(|s| s.qname.to_ascii()).collect();
    assert_eq!(
        qnames.last().unwrap(),
        "httpd-svc.default.svc.cluster.local."
    );
    assert_eq!(qnames[0], "httpd-svc.");
    let cluster_ip = c
        .get_typed::<Service>("default", "httpd-svc")
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .cluster_ip
        .clone()
        .unwrap();
    assert_eq!(r.address.unwrap().to_string(), cluster_ip);

    // The query: UDP to 10.96.0.10:53, DNATed to one of the two CoreDNS pods, 1/2 each.
    let dns = targets(r.dns_packet.as_ref().unwrap());
    assert_eq!(dns.len(), 2);
    for (ns, name, port, p) in &dns {
        assert_eq!((ns.as_str(), *port), ("kube-system", 53));
        assert!(name.starts_with("coredns-"), "{name}");
        assert!((p - 0.5).abs() < 1e-9);
    }
    // The connection: one of the three httpd pods on its targetPort 80.
    let conn = targets(r.connection.as_ref().unwrap());
    assert_eq!(conn.len(), 3);
    let httpd: Vec<String> = c
        .list_typed::<Pod>(Some("default"))
        .filter_map(|p| p.metadata.name.clone())
        .filter(|n| n.starts_with("httpd-"))
        .collect();
    for (ns, name, port, _) in &conn {
        assert_eq!((ns.as_str(), *port), ("default", 80));
        assert!(httpd.contains(name), "{name} not in {httpd:?}");
    }
    let total: f64 = conn.iter().map(|t| t.3).sum();
    assert!((total - 1.0).abs() < 1e-9);
}

#[test]
fn a_failed_lookup_sends_no_connection_and_an_address_needs_no_query() {
    let c = course();
    let r = name_then_packet_in(
        &c,
        "default",
        "clientpod",
        "nosuch",
        80,
        Protocol::Tcp,
        Choice::Seed(3),
    )
    .unwrap();
    assert!(r.walk.result.is_err());
    assert!(r.address.is_none() && r.connection.is_none());
    assert!(matches!(r.dns_packet, Some(TraceOutcome::Single(_))));

    let r = name_then_packet_in(
        &c,
        "default",
        "clientpod",
        "10.96.0.1",
        443,
        Protocol::Tcp,
        Choice::Seed(3),
    )
    .unwrap();
    assert!(r.walk.steps.is_empty() && r.dns_packet.is_none());
    assert_eq!(r.address.unwrap().to_string(), "10.96.0.1");
    assert!(matches!(r.connection, Some(TraceOutcome::Single(_))));

    assert!(matches!(
        name_then_packet_in(
            &c,
            "default",
            "nobody",
            "httpd-svc",
            80,
            Protocol::Tcp,
            Choice::Seed(1)
        ),
        Err(TraceError::UnknownPod { .. })
    ));
}

#[test]
fn the_same_walk_in_ipvs_mode_counts_constant_rules() {
    let c = course();
    let pod = c.get_typed::<Pod>("default", "clientpod").unwrap();
    let conf = resolver::pod_resolv_conf(&c, pod);
    let dns = DnsSnapshot::from_cluster(&c);
    let ipvs = Tracer::from_cluster(&c).with_mode(ProxyMode::Ipvs);
    let r = name_then_packet(
        &ipvs,
        &dns,
        &conf,
        Libc::Glibc,
        "default",
        "clientpod",
        "httpd-svc",
        8080,
        Protocol::Tcp,
        Choice::Seed(7),
    )
    .unwrap();
    // glibc with ndots:5: the first search domain answers at once.
    assert_eq!(r.walk.steps.len(), 1);
    let TraceOutcome::Single(t) = r.connection.unwrap() else {
        panic!()
    };
    assert_eq!(t.mode, ProxyMode::Ipvs);
    assert!(t.lookups > 0);
    assert!(matches!(t.verdict, Verdict::Dnat { port: 80, .. }));
}
