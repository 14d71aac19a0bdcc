//! Property tests over random operation sequences: whatever a learner does, the controllers'
//! invariants hold at every quiet instant.

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use lab_core::controllers::kubelet::pod_ready;
use lab_core::{Cluster, Kind};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug)]
enum Op {
    Deploy {
        app: usize,
        replicas: i32,
        image: usize,
        named_port: bool,
    },
    Service {
        svc: usize,
        app: usize,
        kind: usize,
        named_target: bool,
    },
    DeleteService(usize),
    DeleteDeployment(usize),
    DeletePod(usize),
    Scale {
        app: usize,
        replicas: i32,
    },
    Advance(u64),
    SetReady {
        pod: usize,
        ready: bool,
    },
    Settle,
    Invalid(usize),
}

const APPS: [&str; 3] = ["web", "api", "db"];

fn deployment(app: usize, replicas: i32, image: usize, named_port: bool) -> String {
    let name = APPS[app];
    let image = ["httpd", "httpd:2.4", "nginx"][image];
    let port_name = if named_port {
        "\n              name: http"
    } else {
        ""
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: c\n          image: {image}\n          ports:\n            - containerPort: 80{port_name}\n"
    )
}

fn service(svc: usize, app: usize, kind: usize, named_target: bool) -> String {
    let target = if named_target { "http" } else { "80" };
    let (ty, extra) = match kind {
        0 => ("ClusterIP", ""),
        1 => ("NodePort", ""),
        2 => ("ClusterIP", "\n  clusterIP: None"),
        _ => ("LoadBalancer", ""),
    };
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc{svc}\nspec:\n  type: {ty}{extra}\n  selector:\n    app: {}\n  ports:\n  - name: web\n    port: 8080\n    targetPort: {target}\n",
        APPS[app]
    )
}

fn invalid(i: usize) -> String {
    match i % 4 {
        0 => "apiVersion: v1\nkind: Service\nmetadata:\n  name: Bad_Name\nspec:\n  ports:\n  - port: 80\n".into(),
        1 => "apiVersion: v1\nkind: Service\nmetadata:\n  name: np\nspec:\n  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 80\n".into(),
        2 => "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  selector:\n    matchLabels: {app: a}\n  template:\n    metadata:\n      labels: {app: b}\n    spec:\n      containers: [{name: c, image: httpd}]\n".into(),
        _ => "apiVersion: v1\nkind: Service\nmetadata:\n  name: typo\nspec:\n  selectr: {app: web}\n  ports:\n  - port: 80\n".into(),
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..5i32, 0..3usize, any::<bool>()).prop_map(
            |(app, replicas, image, named_port)| Op::Deploy {
                app,
                replicas,
                image,
                named_port
            }
        ),
        (0..3usize, 0..3usize, 0..4usize, any::<bool>()).prop_map(
            |(svc, app, kind, named_target)| Op::Service {
                svc,
                app,
                kind,
                named_target
            }
        ),
        (0..3usize).prop_map(Op::DeleteService),
        (0..3usize).prop_map(Op::DeleteDeployment),
        (0..20usize).prop_map(Op::DeletePod),
        (0..3usize, 0..6i32).prop_map(|(app, replicas)| Op::Scale { app, replicas }),
        (0..4000u64).prop_map(Op::Advance),
        (0..20usize, any::<bool>()).prop_map(|(pod, ready)| Op::SetReady { pod, ready }),
        Just(Op::Settle),
        (0..4usize).prop_map(Op::Invalid),
    ]
}

fn user_pods(c: &Cluster) -> Vec<String> {
    c.list_typed::<Pod>(Some("default"))
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

fn apply(c: &mut Cluster, op: &Op) {
    match op {
        Op::Deploy {
            app,
            replicas,
            image,
            named_port,
        } => {
            c.apply_manifests(&deployment(*app, *replicas, *image, *named_port))
                .unwrap();
        }
        Op::Service {
            svc,
            app,
            kind,
            named_target,
        } => {
            // Changing a Service between headless and not is rejected (clusterIP immutable): fine.
            let _ = c.apply_manifests(&service(*svc, *app, *kind, *named_target));
        }
        Op::DeleteService(i) => {
            let _ = c.delete(Kind::Service, "default", &format!("svc{i}"));
        }
        Op::DeleteDeployment(i) => {
            let _ = c.delete(Kind::Deployment, "default", APPS[*i]);
        }
        Op::DeletePod(i) => {
            let pods = user_pods(c);
            if !pods.is_empty() {
                c.delete(Kind::Pod, "default", &pods[i % pods.len()])
                    .unwrap();
            }
        }
        Op::Scale { app, replicas } => {
            let _ = c.scale(Kind::Deployment, "default", APPS[*app], *replicas);
        }
        Op::Advance(ms) => c.advance(*ms),
        Op::SetReady { pod, ready } => {
            let pods = user_pods(c);
            if !pods.is_empty() {
                c.set_pod_ready("default", &pods[pod % pods.len()], *ready)
                    .unwrap();
            }
        }
        Op::Settle => {
            c.settle();
        }
        Op::Invalid(i) => {
            let before = c.snapshot();
            assert!(c.apply_manifests(&invalid(*i)).is_err());
            assert_eq!(
                c.snapshot(),
                before,
                "a rejected request changed the cluster"
            );
        }
    }
}

/// `ip:port` sets a Service should have: (ready, not ready, every slice endpoint with its ready flag).
type Expected = (BTreeSet<String>, BTreeSet<String>, BTreeMap<String, bool>);

fn expected(c: &Cluster, svc: &Service) -> Expected {
    let spec = svc.spec.as_ref().unwrap();
    let selector = spec.selector.clone().unwrap_or_default();
    let sp = &spec.ports.as_ref().unwrap()[0];
    let (mut ready, mut not_ready, mut slice) = (BTreeSet::new(), BTreeSet::new(), BTreeMap::new());
    for p in c.list_typed::<Pod>(Some("default")) {
        if !lab_core::labels::map_matches(&selector, p.metadata.labels.as_ref()) {
            continue;
        }
        let Some(ip) = p.status.as_ref().and_then(|s| s.pod_ip.clone()) else {
            continue;
        };
        let port = match sp.target_port.as_ref().unwrap() {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => Some(*i),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(name) => p
                .spec
                .as_ref()
                .unwrap()
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|cp| cp.name.as_deref() == Some(name.as_str()))
                .map(|cp| cp.container_port),
        };
        let Some(port) = port else { continue };
        let key = format!("{ip}:{port}");
        let terminating = p.metadata.deletion_timestamp.is_some();
        slice.insert(key.clone(), pod_ready(p) && !terminating);
        if terminating {
            continue;
        }
        if pod_ready(p) {
            ready.insert(key);
        } else {
            not_ready.insert(key);
        }
    }
    (ready, not_ready, slice)
}

fn check_invariants(c: &Cluster) {
    // Unique ClusterIPs and nodePorts.
    let mut ips = BTreeSet::new();
    let mut node_ports = BTreeSet::new();
    for s in c.list_typed::<Service>(None) {
        let spec = s.spec.as_ref().unwrap();
        if let Some(ip) = spec.cluster_ip.as_deref().filter(|ip| *ip != "None") {
            assert!(ips.insert(ip.to_string()), "ClusterIP {ip} used twice");
        }
        for p in spec.ports.iter().flatten() {
            if let Some(np) = p.node_port {
                assert!(node_ports.insert(np), "nodePort {np} used twice");
            }
        }
    }
    // Unique pod IPs inside their node's range.
    let mut pod_ips = BTreeSet::new();
    for p in c.list_typed::<Pod>(None) {
        if p.spec.as_ref().unwrap().host_network == Some(true) {
            continue;
        }
        let Some(ip) = p.status.as_ref().and_then(|s| s.pod_ip.clone()) else {
            continue;
        };
        assert!(pod_ips.insert(ip.clone()), "pod IP {ip} used twice");
        let node = p.spec.as_ref().unwrap().node_name.clone().unwrap();
        let cfg = c.config().nodes.iter().find(|n| n.name == node).unwrap();
        assert!(
            cfg.pod_cidr.contains(ip.parse().unwrap()),
            "{ip} outside {node}'s {}",
            cfg.pod_cidr
        );
    }
    // Endpoints and EndpointSlices of every selector Service in default.
    for s in c.list_typed::<Service>(Some("default")) {
        if s.spec
            .as_ref()
            .unwrap()
            .selector
            .as_ref()
            .is_none_or(|m| m.is_empty())
        {
            continue;
        }
        let name = s.metadata.name.clone().unwrap();
        let (ready, not_ready, slice_expected) = expected(c, s);
        let ep = c
            .get_typed::<Endpoints>("default", &name)
            .unwrap_or_else(|| panic!("no Endpoints for {name}"));
        let (mut got_ready, mut got_not_ready) = (BTreeSet::new(), BTreeSet::new());
        for sub in ep.subsets.iter().flatten() {
            for p in sub.ports.iter().flatten() {
                for a in sub.addresses.iter().flatten() {
                    got_ready.insert(format!("{}:{}", a.ip, p.port));
                }
                for a in sub.not_ready_addresses.iter().flatten() {
                    got_not_ready.insert(format!("{}:{}", a.ip, p.port));
                }
            }
        }
        assert_eq!(got_ready, ready, "ready endpoints of {name}");
        assert_eq!(got_not_ready, not_ready, "not-ready endpoints of {name}");
        let mut got_slice = BTreeMap::new();
        for sl in c.list_typed::<EndpointSlice>(Some("default")) {
            let labels = sl.metadata.labels.clone().unwrap_or_default();
            if labels.get("kubernetes.io/service-name") != Some(&name) {
                continue;
            }
            for p in sl.ports.iter().flatten() {
                for e in &sl.endpoints {
                    for a in &e.addresses {
                        let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false);
                        assert!(
                            got_slice
                                .insert(format!("{a}:{}", p.port.unwrap()), ready)
                                .is_none(),
                            "{a} twice in {name}'s slices"
                        );
                    }
                }
            }
        }
        assert_eq!(got_slice, slice_expected, "slices of {name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn controllers_keep_their_invariants(ops in prop::collection::vec(op(), 1..14)) {
        let mut c = Cluster::kind();
        for op in &ops {
            apply(&mut c, op);
            check_invariants(&c);
        }
        c.settle();
        check_invariants(&c);
    }
}
