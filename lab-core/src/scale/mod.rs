//! The benchmark scenario of the course's scale table: N Services, each selecting its own
//! 5-replica Deployment, on the scale profile (many workers, a 10.0.0.0/8 pod network).
//! Shared by the criterion benchmark and the `converge` example that reports peak memory.
//! [`measure`] runs the table's comparison of proxy modes (the web UI's scale view).

pub mod measure;

use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::object::Object;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Replicas per Deployment in the scenario.
pub const REPLICAS: i32 = 5;

/// A cluster sized for `services` × 5 pods (110 pods per node, plus headroom), without Events.
pub fn cluster_for(services: usize) -> Cluster {
    cluster_for_with(services, false)
}

/// [`cluster_for`], choosing whether Events are recorded.
pub fn cluster_for_with(services: usize, record_events: bool) -> Cluster {
    let pods = services * REPLICAS as usize;
    let workers = (pods / 100).max(2);
    let mut config = ClusterConfig::scale(workers);
    config.record_events = record_events;
    Cluster::new(config)
}

/// Deployment `app-i` and Service `svc-i`.
pub fn objects(i: usize) -> (Object, Object) {
    let app = format!("app-{i}");
    let labels: BTreeMap<String, String> = BTreeMap::from([("app".to_string(), app.clone())]);
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(app.clone()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(REPLICAS),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "httpd".into(),
                        image: Some("httpd:2.4".into()),
                        ports: Some(vec![ContainerPort {
                            container_port: 80,
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    };
    let service = Service {
        metadata: ObjectMeta {
            name: Some(format!("svc-{i}")),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels),
            ports: Some(vec![ServicePort {
                port: 80,
                target_port: Some(IntOrString::Int(80)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    };
    (
        Object::Deployment(Box::new(deployment)),
        Object::Service(Box::new(service)),
    )
}

/// Applies `services` Services and Deployments to `c` and lets every controller converge
/// (all pods Running and Ready, every Endpoints and EndpointSlice filled).
pub fn apply_and_converge(c: &mut Cluster, services: usize) {
    for i in 0..services {
        let (d, s) = objects(i);
        c.apply(d).expect("scenario objects are valid");
        c.apply(s).expect("scenario objects are valid");
    }
    c.settle();
}

/// A selectorless ClusterIP Service `namespace/name` at `ip`, port 80/TCP → 8080, its port
/// named `port_name` (unnamed when empty), and its EndpointSlice `<name>-abcde`: one ready
/// endpoint per `(address, node)` on port 8080/TCP.
fn selectorless(
    namespace: &str,
    name: &str,
    ip: String,
    port_name: &str,
    endpoints: impl Iterator<Item = (std::net::Ipv4Addr, Option<&'static str>)>,
) -> (Service, k8s_openapi::api::discovery::v1::EndpointSlice) {
    use k8s_openapi::api::discovery::v1::{
        Endpoint, EndpointConditions, EndpointPort, EndpointSlice,
    };
    let service = Service {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some(ip.clone()),
            cluster_ips: Some(vec![ip]),
            type_: Some("ClusterIP".into()),
            ports: Some(vec![ServicePort {
                name: (!port_name.is_empty()).then(|| port_name.to_string()),
                port: 80,
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::Int(8080)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    };
    let slice = EndpointSlice {
        metadata: ObjectMeta {
            name: Some(format!("{name}-abcde")),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                crate::controllers::endpointslice::LABEL_SERVICE_NAME.to_string(),
                name.to_string(),
            )])),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: endpoints
            .map(|(address, node)| Endpoint {
                addresses: vec![address.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    serving: Some(true),
                    terminating: Some(false),
                }),
                node_name: node.map(str::to_string),
                ..Default::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some(port_name.to_string()),
            port: Some(8080),
            protocol: Some("TCP".into()),
            app_protocol: None,
        }]),
    };
    (service, slice)
}

/// The `n`th endpoint address of the benchmarks: 10.0.1.0 upward.
fn endpoint_address(n: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(0x0a00_0100 + n as u32)
}

/// A kube-proxy input for the rule benchmarks, built directly (DESIGN: benchmarks may use
/// selectorless Services with generated EndpointSlices): `services` ClusterIP Services on
/// port 80, each with one EndpointSlice of `endpoints` ready endpoints on port 8080 (on
/// kind-worker and kind-worker2 in turn), and the three kind nodes.
pub fn proxy_snapshot(services: usize, endpoints: usize) -> crate::proxy::ProxySnapshot {
    use k8s_openapi::api::core::v1::{ConfigMap, Node};
    let base = Cluster::kind();
    let nodes: Vec<Node> = base.list_typed::<Node>(None).cloned().collect();
    let config: Option<ConfigMap> = base
        .get_typed::<ConfigMap>("kube-system", "kube-proxy")
        .cloned();
    let cidr = base.config().service_cidr;
    let (svcs, slices) = (0..services)
        .map(|i| {
            selectorless(
                "default",
                &format!("svc-{i}"),
                cidr.nth(1024 + i as u64).to_string(),
                "",
                (0..endpoints).map(|e| {
                    let node = if e % 2 == 0 {
                        "kind-worker"
                    } else {
                        "kind-worker2"
                    };
                    (endpoint_address(i * endpoints + e), Some(node))
                }),
            )
        })
        .unzip();
    crate::proxy::ProxySnapshot::from_objects(nodes, svcs, slices, config.as_ref())
}

/// The benchmark namespace of [`dns_objects`].
pub const DNS_BENCH_NAMESPACE: &str = "bench";

/// Objects for the DNS benchmarks, built directly like [`proxy_snapshot`]'s: namespace `bench`
/// and `services` selectorless ClusterIP Services `svc-<i>` (port `http` 80/TCP), each with one
/// EndpointSlice of `endpoints` ready addresses from 10.0.1.0 upward. ClusterIPs come from
/// 10.96.4.0 upward, skipping `taken` (the ClusterIPs a cluster already allocated), so a
/// benchmark Service never shadows a real one in reverse lookups.
pub fn dns_objects(
    services: usize,
    endpoints: usize,
    taken: &std::collections::BTreeSet<std::net::IpAddr>,
) -> (
    k8s_openapi::api::core::v1::Namespace,
    Vec<Service>,
    Vec<k8s_openapi::api::discovery::v1::EndpointSlice>,
) {
    use k8s_openapi::api::core::v1::Namespace;
    let cidr = ClusterConfig::kind().service_cidr;
    let mut ips = (1024u64..)
        .map(|n| cidr.nth(n))
        .filter(|ip| !taken.contains(&std::net::IpAddr::V4(*ip)));
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(DNS_BENCH_NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let (svcs, slices) = (0..services)
        .map(|i| {
            selectorless(
                DNS_BENCH_NAMESPACE,
                &format!("svc-{i}"),
                ips.next().map(|ip| ip.to_string()).unwrap_or_default(),
                "http",
                (0..endpoints).map(move |e| (endpoint_address(i * endpoints + e), None)),
            )
        })
        .unzip();
    (namespace, svcs, slices)
}

/// The DNS view of `cluster` plus [`dns_objects`]`(services, endpoints)`: what the DNS
/// benchmarks serve.
pub fn dns_snapshot_with(
    cluster: &Cluster,
    services: usize,
    endpoints: usize,
) -> crate::dns::DnsSnapshot {
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let taken = cluster
        .list_typed::<Service>(None)
        .filter_map(|s| s.spec.as_ref())
        .flat_map(|s| s.cluster_ips.iter().flatten().chain(s.cluster_ip.iter()))
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let (ns, svcs, slices) = dns_objects(services, endpoints, &taken);
    crate::dns::DnsSnapshot::from_objects(
        &cluster.config().cluster_domain,
        cluster.list_typed::<Namespace>(None).chain([&ns]),
        cluster.list_typed::<Service>(None).chain(&svcs),
        cluster.list_typed::<EndpointSlice>(None).chain(&slices),
        cluster.list_typed::<Pod>(Some("kube-system")),
        cluster.config().dns_upstream.clone(),
    )
}
