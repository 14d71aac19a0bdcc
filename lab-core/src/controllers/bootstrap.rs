//! What `kind create cluster` leaves behind: nodes, the system namespaces, the `kubernetes` and
//! `kube-dns` Services, CoreDNS (a Deployment of two pods on the control plane), the
//! `kube-proxy` ConfigMap that selects the proxy mode (with kubeadm's `cluster-info` and the
//! apiserver's legacy-token-tracking ConfigMaps), and — unless disabled — the control-plane
//! static pods, one `kube-proxy` and one `kindnet` pod per node, and the local-path provisioner.

use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::object::Object;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, EndpointAddress, EndpointPort, EndpointSubset, Endpoints,
    HTTPGetAction, Namespace, Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus,
    NodeSystemInfo, Pod, PodSpec, PodTemplateSpec, Probe, Service, ServicePort, ServiceSpec, Taint,
    Toleration,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The CoreDNS image of Kubernetes 1.33.
pub const COREDNS_IMAGE: &str = "registry.k8s.io/coredns/coredns:v1.12.0";
const KUBE_PROXY_IMAGE: &str = "registry.k8s.io/kube-proxy:v1.33.1";
const KINDNET_IMAGE: &str = "docker.io/kindest/kindnetd:v20250512-df8de77b";
const LOCAL_PATH_IMAGE: &str = "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a";

/// Images a kind node image ships with (so the kubelet reports them "already present").
pub const PRELOADED_IMAGES: &[&str] = &[
    COREDNS_IMAGE,
    KUBE_PROXY_IMAGE,
    KINDNET_IMAGE,
    LOCAL_PATH_IMAGE,
    "registry.k8s.io/etcd:3.5.21-0",
    "registry.k8s.io/kube-apiserver:v1.33.1",
    "registry.k8s.io/kube-controller-manager:v1.33.1",
    "registry.k8s.io/kube-scheduler:v1.33.1",
];

/// The kubeadm 1.33 Corefile kind installs.
pub const COREFILE: &str = ".:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
";

fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn meta(ns: &str, name: &str, l: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: (!name.is_empty()).then(|| name.into()),
        namespace: (!ns.is_empty()).then(|| ns.into()),
        labels: labels(l).filter(|m| !m.is_empty()),
        ..Default::default()
    }
}

fn must(c: &mut Cluster, o: Object) -> Object {
    let what = o.key().to_string();
    match c.admit_create(o) {
        Ok(stored) => (*stored).clone(),
        Err(e) => panic!("bootstrap object {what} rejected: {e}"),
    }
}

fn node(c: &Cluster, n: &NodeConfig) -> Object {
    let mut l = vec![
        ("beta.kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/hostname", n.name.as_str()),
        ("kubernetes.io/os", "linux"),
    ];
    if n.control_plane {
        l.push((crate::config::CONTROL_PLANE_ROLE, ""));
        l.push((
            "node.kubernetes.io/exclude-from-external-load-balancers",
            "",
        ));
    }
    let capacity: BTreeMap<String, Quantity> = [
        ("cpu", "2"),
        ("ephemeral-storage", "263174212Ki"),
        ("hugepages-2Mi", "0"),
        ("memory", "24567412Ki"),
        ("pods", "110"),
    ]
    .iter()
    .map(|(k, v)| {
        (
            k.to_string(),
            Quantity(if *k == "pods" {
                c.config.max_pods.to_string()
            } else {
                v.to_string()
            }),
        )
    })
    .collect();
    let now = c.time();
    Object::Node(Box::new(Node {
        metadata: meta("", &n.name, &l),
        spec: Some(NodeSpec {
            pod_cidr: Some(n.pod_cidr.to_string()),
            pod_cidrs: Some(vec![n.pod_cidr.to_string()]),
            provider_id: Some(format!("kind://docker/kind/{}", n.name)),
            taints: n.control_plane.then(|| {
                vec![Taint {
                    key: crate::config::CONTROL_PLANE_ROLE.into(),
                    effect: "NoSchedule".into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: n.ip.to_string(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: n.name.clone(),
                },
            ]),
            allocatable: Some(capacity.clone()),
            capacity: Some(capacity),
            conditions: Some(
                [
                    (
                        "MemoryPressure",
                        "False",
                        "KubeletHasSufficientMemory",
                        "kubelet has sufficient memory available",
                    ),
                    (
                        "DiskPressure",
                        "False",
                        "KubeletHasNoDiskPressure",
                        "kubelet has no disk pressure",
                    ),
                    (
                        "PIDPressure",
                        "False",
                        "KubeletHasSufficientPID",
                        "kubelet has sufficient PID available",
                    ),
                    (
                        "Ready",
                        "True",
                        "KubeletReady",
                        "kubelet is posting ready status",
                    ),
                ]
                .iter()
                .map(|(t, s, r, m)| NodeCondition {
                    type_: t.to_string(),
                    status: s.to_string(),
                    reason: Some(r.to_string()),
                    message: Some(m.to_string()),
                    last_heartbeat_time: Some(now.clone()),
                    last_transition_time: Some(now.clone()),
                })
                .collect(),
            ),
            node_info: Some(NodeSystemInfo {
                architecture: "amd64".into(),
                boot_id: String::new(),
                container_runtime_version: "containerd://2.1.1".into(),
                kernel_version: "6.1.0-svclab".into(),
                kube_proxy_version: String::new(),
                kubelet_version: c.config.kubernetes_version.clone(),
                machine_id: String::new(),
                operating_system: "linux".into(),
                os_image: "Debian GNU/Linux 12 (bookworm)".into(),
                system_uuid: String::new(),
                swap: None,
            }),
            ..Default::default()
        }),
    }))
}

fn kube_proxy_config(c: &Cluster) -> String {
    format!(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nbindAddress: 0.0.0.0\nclusterCIDR: {}\nconntrack:\n  maxPerCore: 0\niptables:\n  masqueradeAll: false\n  masqueradeBit: 14\n  minSyncPeriod: 1s\n  syncPeriod: 30s\nipvs:\n  scheduler: \"\"\n  strictARP: false\n  syncPeriod: 30s\nkind: KubeProxyConfiguration\nmetricsBindAddress: 0.0.0.0:10249\nmode: {}\nnftables:\n  masqueradeAll: false\n  masqueradeBit: 14\n  minSyncPeriod: 1s\n  syncPeriod: 30s\n",
        c.config.cluster_cidr,
        c.config.proxy_mode.as_str()
    )
}

fn system_container(name: &str, image: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        image_pull_policy: Some("IfNotPresent".into()),
        ..Default::default()
    }
}

fn control_plane_tolerations() -> Vec<Toleration> {
    vec![
        Toleration {
            key: Some("CriticalAddonsOnly".into()),
            operator: Some("Exists".into()),
            ..Default::default()
        },
        Toleration {
            key: Some(crate::config::CONTROL_PLANE_ROLE.into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        },
    ]
}

fn coredns() -> Object {
    let ports = vec![
        ContainerPort {
            container_port: 53,
            name: Some("dns".into()),
            protocol: Some("UDP".into()),
            ..Default::default()
        },
        ContainerPort {
            container_port: 53,
            name: Some("dns-tcp".into()),
            protocol: Some("TCP".into()),
            ..Default::default()
        },
        ContainerPort {
            container_port: 9153,
            name: Some("metrics".into()),
            protocol: Some("TCP".into()),
            ..Default::default()
        },
    ];
    let container = Container {
        args: Some(vec!["-conf".into(), "/etc/coredns/Corefile".into()]),
        ports: Some(ports),
        readiness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/ready".into()),
                port: IntOrString::Int(8181),
                scheme: Some("HTTP".into()),
                ..Default::default()
            }),
            period_seconds: Some(10),
            success_threshold: Some(1),
            failure_threshold: Some(3),
            timeout_seconds: Some(1),
            ..Default::default()
        }),
        ..system_container("coredns", COREDNS_IMAGE)
    };
    Object::Deployment(Box::new(Deployment {
        metadata: meta("kube-system", "coredns", &[("k8s-app", "kube-dns")]),
        spec: Some(DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector {
                match_labels: labels(&[("k8s-app", "kube-dns")]),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(meta("", "", &[("k8s-app", "kube-dns")])),
                spec: Some(PodSpec {
                    containers: vec![container],
                    dns_policy: Some("Default".into()),
                    node_selector: labels(&[("kubernetes.io/os", "linux")]),
                    priority_class_name: Some("system-cluster-critical".into()),
                    service_account_name: Some("coredns".into()),
                    tolerations: Some(control_plane_tolerations()),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }))
}

fn local_path_provisioner() -> Object {
    Object::Deployment(Box::new(Deployment {
        metadata: meta("local-path-storage", "local-path-provisioner", &[]),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: labels(&[("app", "local-path-provisioner")]),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(meta("", "", &[("app", "local-path-provisioner")])),
                spec: Some(PodSpec {
                    containers: vec![system_container("local-path-provisioner", LOCAL_PATH_IMAGE)],
                    node_selector: labels(&[("kubernetes.io/os", "linux")]),
                    service_account_name: Some("local-path-provisioner-service-account".into()),
                    tolerations: Some(control_plane_tolerations()),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }))
}

fn host_pod(
    name: String,
    ns: &str,
    l: &[(&str, &str)],
    node: &str,
    container: Container,
    owner: OwnerReference,
) -> Object {
    Object::Pod(Box::new(Pod {
        metadata: ObjectMeta {
            owner_references: Some(vec![owner]),
            ..meta(ns, &name, l)
        },
        spec: Some(PodSpec {
            containers: vec![container],
            host_network: Some(true),
            node_name: Some(node.into()),
            priority_class_name: Some("system-node-critical".into()),
            tolerations: Some(vec![Toleration {
                operator: Some("Exists".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }))
}

fn add_node_pods(c: &mut Cluster, n: &NodeConfig, ds_uids: &(String, String)) {
    let ds = |name: &str, uid: &str| OwnerReference {
        api_version: "apps/v1".into(),
        kind: "DaemonSet".into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let proxy_name = crate::names::generate_name(&mut c.rng, "kube-proxy-");
    let kindnet_name = crate::names::generate_name(&mut c.rng, "kindnet-");
    let p = host_pod(
        proxy_name,
        "kube-system",
        &[("k8s-app", "kube-proxy"), ("pod-template-generation", "1")],
        &n.name,
        system_container("kube-proxy", KUBE_PROXY_IMAGE),
        ds("kube-proxy", &ds_uids.0),
    );
    must(c, p);
    let k = host_pod(
        kindnet_name,
        "kube-system",
        &[
            ("app", "kindnet"),
            ("k8s-app", "kindnet"),
            ("pod-template-generation", "1"),
            ("tier", "node"),
        ],
        &n.name,
        system_container("kindnet-cni", KINDNET_IMAGE),
        ds("kindnet", &ds_uids.1),
    );
    must(c, k);
}

/// Creates everything a fresh kind cluster has. Runs the controllers once the control plane
/// exists, so CoreDNS lands there, then joins the workers.
pub(crate) fn bootstrap(c: &mut Cluster) {
    let nodes = c.config.nodes.clone();
    for ns in [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
        "local-path-storage",
    ] {
        must(
            c,
            Object::Namespace(Box::new(Namespace {
                metadata: meta("", ns, &[]),
                ..Default::default()
            })),
        );
    }
    let cp = nodes
        .iter()
        .find(|n| n.control_plane)
        .cloned()
        .unwrap_or_else(|| nodes[0].clone());
    let n = node(c, &cp);
    let cp_node = must(c, n);

    let proxy_conf = kube_proxy_config(c);
    must(c, Object::ConfigMap(Box::new(ConfigMap {
        metadata: meta("kube-system", "kube-proxy", &[("app", "kube-proxy")]),
        data: Some(BTreeMap::from([
            ("config.conf".to_string(), proxy_conf),
            ("kubeconfig.conf".to_string(), "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/lib/kube-proxy/ca.crt\n    server: https://kind-control-plane:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: default\n    user: default\n  name: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    tokenFile: /var/lib/kube-proxy/token\n".to_string()),
        ])),
        ..Default::default()
    })));
    must(
        c,
        Object::ConfigMap(Box::new(ConfigMap {
            metadata: meta("kube-system", "coredns", &[]),
            data: Some(BTreeMap::from([(
                "Corefile".to_string(),
                COREFILE.to_string(),
            )])),
            ..Default::default()
        })),
    );

    // ConfigMaps kubeadm and the apiserver add. Their UIDs leave the cluster's RNG alone (see
    // `Cluster::sys_create_side`), so every later random pick is what it was before they existed.
    let today = k8s_openapi::jiff::Timestamp::from_millisecond(c.now_ms)
        .expect("virtual clock within range")
        .to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    for (ns, name, data) in [
        (
            "kube-public",
            super::bootstrapsigner::CLUSTER_INFO,
            super::bootstrapsigner::cluster_info_data(),
        ),
        // The apiserver's record of when it started tracking legacy service-account tokens.
        (
            "kube-system",
            "kube-apiserver-legacy-service-account-token-tracking",
            vec![("since".to_string(), today)],
        ),
    ] {
        c.sys_create_side(Object::ConfigMap(Box::new(ConfigMap {
            metadata: meta(ns, name, &[]),
            data: Some(data.into_iter().collect()),
            ..Default::default()
        })));
    }

    // default/kubernetes: selectorless, its endpoints written by the apiserver itself.
    let api_ip = cp.ip.to_string();
    must(
        c,
        Object::Service(Box::new(Service {
            metadata: meta(
                "default",
                "kubernetes",
                &[("component", "apiserver"), ("provider", "kubernetes")],
            ),
            spec: Some(ServiceSpec {
                cluster_ip: Some(c.config.service_cidr.nth(1).to_string()),
                ports: Some(vec![ServicePort {
                    name: Some("https".into()),
                    port: 443,
                    protocol: Some("TCP".into()),
                    target_port: Some(IntOrString::Int(6443)),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        })),
    );
    must(
        c,
        Object::Endpoints(Box::new(Endpoints {
            metadata: meta(
                "default",
                "kubernetes",
                &[("endpointslice.kubernetes.io/skip-mirror", "true")],
            ),
            subsets: Some(vec![EndpointSubset {
                addresses: Some(vec![EndpointAddress {
                    ip: api_ip.clone(),
                    ..Default::default()
                }]),
                ports: Some(vec![EndpointPort {
                    name: Some("https".into()),
                    port: 6443,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }]),
        })),
    );
    must(
        c,
        Object::EndpointSlice(Box::new(EndpointSlice {
            metadata: meta(
                "default",
                "kubernetes",
                &[("kubernetes.io/service-name", "kubernetes")],
            ),
            address_type: "IPv4".into(),
            endpoints: vec![Endpoint {
                addresses: vec![api_ip],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    serving: Some(true),
                    terminating: Some(false),
                }),
                ..Default::default()
            }],
            ports: Some(vec![SlicePort {
                name: Some("https".into()),
                port: Some(6443),
                protocol: Some("TCP".into()),
                app_protocol: None,
            }]),
        })),
    );

    must(
        c,
        Object::Service(Box::new(Service {
            metadata: ObjectMeta {
                annotations: labels(&[
                    ("prometheus.io/port", "9153"),
                    ("prometheus.io/scrape", "true"),
                ]),
                ..meta(
                    "kube-system",
                    "kube-dns",
                    &[
                        ("k8s-app", "kube-dns"),
                        ("kubernetes.io/cluster-service", "true"),
                        ("kubernetes.io/name", "CoreDNS"),
                    ],
                )
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some(c.config.service_cidr.nth(10).to_string()),
                selector: labels(&[("k8s-app", "kube-dns")]),
                ports: Some(vec![
                    ServicePort {
                        name: Some("dns".into()),
                        port: 53,
                        protocol: Some("UDP".into()),
                        target_port: Some(IntOrString::Int(53)),
                        ..Default::default()
                    },
                    ServicePort {
                        name: Some("dns-tcp".into()),
                        port: 53,
                        protocol: Some("TCP".into()),
                        target_port: Some(IntOrString::Int(53)),
                        ..Default::default()
                    },
                    ServicePort {
                        name: Some("metrics".into()),
                        port: 9153,
                        protocol: Some("TCP".into()),
                        target_port: Some(IntOrString::Int(9153)),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            status: None,
        })),
    );
    let cd = coredns();
    must(c, cd);

    let ds_uids = (c.new_uid(), c.new_uid());
    if c.config.system_pods {
        let node_owner = OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: cp.name.clone(),
            uid: cp_node.uid().into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        for (component, image) in [
            ("etcd", "registry.k8s.io/etcd:3.5.21-0"),
            ("kube-apiserver", "registry.k8s.io/kube-apiserver:v1.33.1"),
            (
                "kube-controller-manager",
                "registry.k8s.io/kube-controller-manager:v1.33.1",
            ),
            ("kube-scheduler", "registry.k8s.io/kube-scheduler:v1.33.1"),
        ] {
            let p = host_pod(
                format!("{component}-{}", cp.name),
                "kube-system",
                &[("component", component), ("tier", "control-plane")],
                &cp.name,
                system_container(component, image),
                node_owner.clone(),
            );
            must(c, p);
        }
        must(c, local_path_provisioner());
        add_node_pods(c, &cp, &ds_uids);
    }
    // CoreDNS and the provisioner are placed while the control plane is the only node.
    c.run_controllers();
    for n in nodes.iter().filter(|n| n.name != cp.name) {
        let obj = node(c, n);
        must(c, obj);
        if c.config.system_pods {
            add_node_pods(c, n, &ds_uids);
        }
    }
    c.run_controllers();
}

#[cfg(test)]
mod tests {
    use crate::Cluster;
    use crate::object::Kind;
    use k8s_openapi::api::core::v1::ConfigMap;

    /// `kubectl get configmaps -A` on a fresh kind 1.33 cluster, less what the sim leaves out
    /// (kube-system's extension-apiserver-authentication, kubeadm-config and kubelet-config,
    /// local-path-storage's local-path-config).
    #[test]
    fn a_fresh_cluster_has_kinds_config_maps() {
        let c = Cluster::kind();
        let listed: Vec<(String, String, usize)> = c
            .list_typed::<ConfigMap>(None)
            .map(|cm| {
                (
                    cm.metadata.namespace.clone().unwrap(),
                    cm.metadata.name.clone().unwrap(),
                    cm.data.as_ref().map_or(0, |d| d.len()),
                )
            })
            .collect();
        let want = [
            ("default", "kube-root-ca.crt", 1),
            ("kube-node-lease", "kube-root-ca.crt", 1),
            ("kube-public", "cluster-info", 2),
            ("kube-public", "kube-root-ca.crt", 1),
            ("kube-system", "coredns", 1),
            (
                "kube-system",
                "kube-apiserver-legacy-service-account-token-tracking",
                1,
            ),
            ("kube-system", "kube-proxy", 2),
            ("kube-system", "kube-root-ca.crt", 1),
            ("local-path-storage", "kube-root-ca.crt", 1),
        ];
        let want: Vec<(String, String, usize)> = want
            .iter()
            .map(|(ns, n, d)| (ns.to_string(), n.to_string(), *d))
            .collect();
        assert_eq!(listed, want);
        let tracking = c
            .get_typed::<ConfigMap>(
                "kube-system",
                "kube-apiserver-legacy-service-account-token-tracking",
            )
            .unwrap();
        assert_eq!(tracking.data.as_ref().unwrap()["since"], "2026-01-01");
        assert!(
            c.get(Kind::ConfigMap, "kube-public", "cluster-info")
                .is_some()
        );
    }
}
