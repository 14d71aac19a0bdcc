//! The course chapter's experiments, in order, on a fresh simulated kind cluster: the objects
//! must look like the ones the chapter shows.

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use lab_core::{ApplyAction, Cluster, Kind};

const DEPLOYMENT: &str = include_str!("data/httpd-deployment.yaml");
const SERVICE: &str = include_str!("data/httpd-service.yaml");
const NODEPORT: &str = include_str!("data/httpd-service-nodeport.yaml");
const HEADLESS: &str = include_str!("data/headless-service.yaml");
const CLIENT: &str = include_str!("data/clientpod.yaml");

fn httpd_pods(c: &Cluster) -> Vec<&Pod> {
    c.list_typed::<Pod>(Some("default"))
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.get("app").map(String::as_str) == Some("httpd"))
        })
        .collect()
}

fn endpoint_strings(c: &Cluster, name: &str) -> Vec<String> {
    let ep = c
        .get_typed::<Endpoints>("default", name)
        .expect("endpoints exist");
    let mut out = vec![];
    for s in ep.subsets.iter().flatten() {
        for a in s.addresses.iter().flatten() {
            for p in s.ports.iter().flatten() {
                out.push(format!("{}:{}", a.ip, p.port));
            }
        }
    }
    out
}

#[test]
fn chapter_experiments_in_order() {
    let mut c = Cluster::kind();

    // The system as kind leaves it.
    let kubernetes = c.get_typed::<Service>("default", "kubernetes").unwrap();
    assert_eq!(
        kubernetes.spec.as_ref().unwrap().cluster_ip.as_deref(),
        Some("10.96.0.1")
    );
    assert_eq!(
        kubernetes.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port,
        443
    );
    let dns = c.get_typed::<Service>("kube-system", "kube-dns").unwrap();
    assert_eq!(
        dns.spec.as_ref().unwrap().cluster_ip.as_deref(),
        Some("10.96.0.10")
    );
    let ports: Vec<(String, i32, String)> = dns
        .spec
        .as_ref()
        .unwrap()
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap(), p.port, p.protocol.clone().unwrap()))
        .collect();
    assert_eq!(
        ports,
        vec![
            ("dns".into(), 53, "UDP".into()),
            ("dns-tcp".into(), 53, "TCP".into()),
            ("metrics".into(), 9153, "TCP".into())
        ]
    );
    let coredns: Vec<&Pod> = c
        .list_typed::<Pod>(Some("kube-system"))
        .filter(|p| p.metadata.name.as_deref().unwrap().starts_with("coredns-"))
        .collect();
    assert_eq!(coredns.len(), 2);
    assert!(
        coredns
            .iter()
            .all(|p| lab_core::controllers::kubelet::pod_ready(p))
    );
    assert_eq!(endpoint_strings(&c, "kubernetes"), vec!["172.18.0.2:6443"]);
    let dns_eps = c.get_typed::<Endpoints>("kube-system", "kube-dns").unwrap();
    assert_eq!(
        dns_eps.subsets.as_ref().unwrap()[0]
            .addresses
            .as_ref()
            .unwrap()
            .len(),
        2
    );

    // 2.x: the Deployment and the ClusterIP Service.
    let out = c.apply_manifests(DEPLOYMENT).unwrap();
    assert_eq!(out[0].to_string(), "deployment.apps/httpd created");
    let out = c.apply_manifests(SERVICE).unwrap();
    assert_eq!(out[0].to_string(), "service/httpd-svc created");
    c.settle();
    let pods = httpd_pods(&c);
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p.status.as_ref().unwrap().phase.as_deref() == Some("Running"))
    );
    let svc = c.get_typed::<Service>("default", "httpd-svc").unwrap();
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let ip: std::net::Ipv4Addr = spec.cluster_ip.as_deref().unwrap().parse().unwrap();
    assert!(c.config().service_cidr.contains(ip));
    assert_eq!(spec.ports.as_ref().unwrap()[0].port, 8080);
    let mut eps = endpoint_strings(&c, "httpd-svc");
    assert_eq!(eps.len(), 3);
    assert!(eps.iter().all(|e| e.ends_with(":80")), "{eps:?}");
    let mut pod_ips: Vec<String> = pods
        .iter()
        .map(|p| {
            format!(
                "{}:80",
                p.status.as_ref().unwrap().pod_ip.as_deref().unwrap()
            )
        })
        .collect();
    pod_ips.sort();
    eps.sort();
    assert_eq!(eps, pod_ips);
    let slices: Vec<&EndpointSlice> = c
        .list_typed::<EndpointSlice>(Some("default"))
        .filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
                .map(String::as_str)
                == Some("httpd-svc")
        })
        .collect();
    assert_eq!(slices.len(), 1);
    assert!(
        slices[0]
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("httpd-svc-")
    );
    assert_eq!(slices[0].endpoints.len(), 3);
    assert_eq!(slices[0].ports.as_ref().unwrap()[0].port, Some(80));

    // The NodePort variant: same Service, type NodePort with nodePort 30144; ClusterIP kept.
    let out = c.apply_manifests(NODEPORT).unwrap();
    assert_eq!(out[0].action, ApplyAction::Configured);
    let svc = c.get_typed::<Service>("default", "httpd-svc").unwrap();
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(spec.ports.as_ref().unwrap()[0].node_port, Some(30144));
    assert_eq!(
        spec.cluster_ip
            .as_deref()
            .unwrap()
            .parse::<std::net::Ipv4Addr>()
            .unwrap(),
        ip
    );
    assert_eq!(
        c.apply_manifests(NODEPORT).unwrap()[0].action,
        ApplyAction::Unchanged
    );

    // The headless Service: no ClusterIP, the same three pods behind it.
    c.apply_manifests(HEADLESS).unwrap();
    let headless = c.get_typed::<Service>("default", "headless-svc").unwrap();
    assert_eq!(
        headless.spec.as_ref().unwrap().cluster_ip.as_deref(),
        Some("None")
    );
    assert_eq!(endpoint_strings(&c, "headless-svc").len(), 3);
    let ep = c.get_typed::<Endpoints>("default", "headless-svc").unwrap();
    assert_eq!(
        ep.metadata
            .labels
            .as_ref()
            .unwrap()
            .get("service.kubernetes.io/headless")
            .map(String::as_str),
        Some("")
    );

    // The client pod.
    c.apply_manifests(CLIENT).unwrap();
    c.settle();
    let client = c.get_typed::<Pod>("default", "clientpod").unwrap();
    assert_eq!(
        client.status.as_ref().unwrap().phase.as_deref(),
        Some("Running")
    );
    assert_ne!(
        client.spec.as_ref().unwrap().node_name.as_deref(),
        Some("kind-control-plane")
    );

    // Scale to 5: the endpoints follow.
    c.scale(Kind::Deployment, "default", "httpd", 5).unwrap();
    c.settle();
    assert_eq!(endpoint_strings(&c, "httpd-svc").len(), 5);
    assert_eq!(endpoint_strings(&c, "headless-svc").len(), 5);
}

#[test]
fn same_operations_same_cluster() {
    let run = || {
        let mut c = Cluster::kind();
        for m in [DEPLOYMENT, SERVICE, NODEPORT, HEADLESS, CLIENT] {
            c.apply_manifests(m).unwrap();
            c.advance(1_500);
        }
        let victim = httpd_pods(&c)[0].metadata.name.clone().unwrap();
        c.delete(Kind::Pod, "default", &victim).unwrap();
        c.settle();
        c.snapshot()
    };
    let a = run();
    assert_eq!(a, run());
    assert_eq!(a.to_json(), run().to_json());
}

#[test]
fn snapshot_round_trip_resumes_where_it_was() {
    let mut c = Cluster::kind();
    c.apply_manifests(DEPLOYMENT).unwrap();
    c.apply_manifests(SERVICE).unwrap();
    c.advance(1_000); // mid-start: pods Pending, timers armed
    let snap = c.snapshot();
    let text = snap.to_json();
    let mut restored =
        Cluster::from_snapshot(lab_core::snapshot::Snapshot::from_json(&text).unwrap()).unwrap();
    assert_eq!(restored.snapshot(), snap);
    restored.settle();
    c.settle();
    assert_eq!(
        restored.snapshot(),
        c.snapshot(),
        "a restored cluster continues exactly like the original"
    );
    assert!(lab_core::snapshot::Snapshot::from_json("{").is_err());
    let mut bad = snap.clone();
    bad.version = 99;
    assert_eq!(
        Cluster::from_snapshot(bad).unwrap_err().to_string(),
        "snapshot version 99 is not supported (this build reads version 1)"
    );
}

#[test]
fn watch_replays_changes_from_any_resource_version() {
    let mut c = Cluster::kind();
    let rv = c.resource_version();
    c.apply_manifests(SERVICE).unwrap();
    let events = c.watch(rv).unwrap();
    assert!(!events.is_empty());
    assert!(
        events
            .windows(2)
            .all(|w| w[0].resource_version < w[1].resource_version)
    );
    let added = events
        .iter()
        .find(|e| e.object.kind() == Kind::Service)
        .unwrap();
    assert_eq!(added.event_type, lab_core::store::EventType::Added);
    assert_eq!(added.object.name(), "httpd-svc");
    assert_eq!(
        added.object.meta().resource_version.as_deref(),
        Some(added.resource_version.to_string().as_str())
    );
    c.delete(Kind::Service, "default", "httpd-svc").unwrap();
    let later = c.watch(added.resource_version).unwrap();
    assert!(
        later
            .iter()
            .any(|e| e.event_type == lab_core::store::EventType::Deleted
                && e.object.name() == "httpd-svc")
    );
    assert!(c.watch(c.resource_version()).unwrap().is_empty());
}

#[test]
fn events_expire_after_their_ttl() {
    let mut c = Cluster::kind();
    c.apply_manifests(DEPLOYMENT).unwrap();
    c.settle();
    let count = |c: &Cluster| c.list(Kind::Event, Some("default")).count();
    assert!(
        count(&c) >= 16,
        "ScalingReplicaSet, 3 × SuccessfulCreate, 3 × (Scheduled, Pulling, Pulled, Created, Started)"
    );
    let rv = c.resource_version();
    c.advance(59 * 60_000);
    assert!(count(&c) >= 16, "still there before an hour has passed");
    c.advance(2 * 60_000);
    assert_eq!(count(&c), 0);
    let deleted = c
        .watch(rv)
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.event_type == lab_core::store::EventType::Deleted && e.object.kind() == Kind::Event
        })
        .count();
    assert!(deleted >= 16);
}
