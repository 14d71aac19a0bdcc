//! The cluster map's model: what the SVG view draws, computed from a cluster snapshot.
//!
//! Nodes carry their pods (IP, phase, readiness, labels); Services carry their type, virtual IP,
//! ports and one line per endpoint, taken from the Service's EndpointSlices — the same data
//! kube-proxy programs its rules from, so the map shows what traffic can reach, terminating and
//! not-ready endpoints included (drawn differently).

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use lab_core::Cluster;
use lab_core::controllers::kubelet::pod_ready;
use serde::Serialize;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One pod as the map shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PodView {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod IP, once it has one.
    pub ip: Option<String>,
    /// `Pending`, `Running`, … or `Terminating` while it is being deleted.
    pub status: String,
    /// Whether the Ready condition is True.
    pub ready: bool,
    /// Labels, for "which Service selects me".
    pub labels: BTreeMap<String, String>,
}

/// One node and the pods bound to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// InternalIP.
    pub ip: String,
    /// `control-plane` or `worker`.
    pub role: String,
    /// The node's pod range.
    pub pod_cidr: String,
    /// Pods on the node, by namespace and name.
    /// (Shared: the map's and the table's components take them without copying.)
    pub pods: Vec<Rc<PodView>>,
}

/// A line from a Service to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointLine {
    /// The endpoint's IP.
    pub ip: String,
    /// The backing pod, when the endpoint names one.
    pub pod: Option<String>,
    /// The node the endpoint runs on.
    pub node: Option<String>,
    /// Ports traffic is sent to on this endpoint.
    pub ports: Vec<i32>,
    /// `conditions.ready`.
    pub ready: bool,
    /// `conditions.terminating`.
    pub terminating: bool,
}

/// One Service and its endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    /// Namespace.
    pub namespace: String,
    /// Service name.
    pub name: String,
    /// ClusterIP, NodePort, LoadBalancer or ExternalName.
    pub type_: String,
    /// The virtual IP, `None` for headless Services.
    pub cluster_ip: Option<String>,
    /// Ports as kubectl prints them: `8080/TCP`, `8080:30144/TCP`.
    pub ports: Vec<String>,
    /// One line per endpoint, ordered by IP.
    pub endpoints: Vec<EndpointLine>,
}

/// Everything the map draws.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterMap {
    /// Nodes in name order.
    pub nodes: Vec<NodeView>,
    /// Pods the scheduler has not placed yet.
    pub unscheduled: Vec<Rc<PodView>>,
    /// Services in namespace/name order.
    pub services: Vec<ServiceView>,
}

impl ClusterMap {
    /// Every pod the map shows: node by node, then the unscheduled ones.
    pub fn pods(&self) -> impl Iterator<Item = &PodView> {
        self.nodes
            .iter()
            .flat_map(|n| n.pods.iter())
            .chain(self.unscheduled.iter())
            .map(|p| &**p)
    }
}

fn pod_view(p: &Pod) -> PodView {
    let status = if p.metadata.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else {
        p.status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into())
    };
    PodView {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        ip: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
        status,
        ready: pod_ready(p),
        labels: p.metadata.labels.clone().unwrap_or_default(),
    }
}

fn service_view(cluster: &Cluster, s: &Service) -> ServiceView {
    let ns = s.metadata.namespace.clone().unwrap_or_default();
    let name = s.metadata.name.clone().unwrap_or_default();
    let spec = s.spec.clone().unwrap_or_default();
    let ports = spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let proto = p.protocol.as_deref().unwrap_or("TCP");
            match p.node_port {
                Some(np) => format!("{}:{np}/{proto}", p.port),
                None => format!("{}/{proto}", p.port),
            }
        })
        .collect();
    let mut endpoints: BTreeMap<String, EndpointLine> = BTreeMap::new();
    for slice in cluster.list_typed::<EndpointSlice>(Some(&ns)) {
        let owned = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
            == Some(&name);
        if !owned {
            continue;
        }
        let slice_ports: Vec<i32> = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.port)
            .collect();
        for e in &slice.endpoints {
            let conditions = e.conditions.clone().unwrap_or_default();
            for ip in &e.addresses {
                let line = endpoints.entry(ip.clone()).or_insert_with(|| EndpointLine {
                    ip: ip.clone(),
                    pod: e
                        .target_ref
                        .as_ref()
                        .filter(|r| r.kind.as_deref() == Some("Pod"))
                        .and_then(|r| r.name.clone()),
                    node: e.node_name.clone(),
                    ports: Vec::new(),
                    ready: conditions.ready.unwrap_or(false),
                    terminating: conditions.terminating.unwrap_or(false),
                });
                for p in &slice_ports {
                    if !line.ports.contains(p) {
                        line.ports.push(*p);
                    }
                }
            }
        }
    }
    ServiceView {
        namespace: ns,
        name,
        type_: spec.type_.clone().unwrap_or_else(|| "ClusterIP".into()),
        cluster_ip: spec
            .cluster_ip
            .clone()
            .filter(|ip| ip != "None" && !ip.is_empty()),
        ports,
        endpoints: endpoints.into_values().collect(),
    }
}

impl ClusterMap {
    /// Builds the map of `cluster`, optionally for one namespace's pods and Services
    /// (nodes are always all shown).
    pub fn from_cluster(cluster: &Cluster, namespace: Option<&str>) -> ClusterMap {
        let mut nodes: Vec<NodeView> = cluster
            .list_typed::<Node>(None)
            .map(|n| NodeView {
                name: n.metadata.name.clone().unwrap_or_default(),
                ip: n
                    .status
                    .as_ref()
                    .and_then(|s| s.addresses.as_ref())
                    .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
                    .map(|a| a.address.clone())
                    .unwrap_or_default(),
                role: if n
                    .metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key("node-role.kubernetes.io/control-plane"))
                {
                    "control-plane".into()
                } else {
                    "worker".into()
                },
                pod_cidr: n
                    .spec
                    .as_ref()
                    .and_then(|s| s.pod_cidr.clone())
                    .unwrap_or_default(),
                pods: Vec::new(),
            })
            .collect();
        let mut unscheduled = Vec::new();
        for p in cluster.list_typed::<Pod>(namespace) {
            match p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .and_then(|n| nodes.iter_mut().find(|v| v.name == n))
            {
                Some(node) => node.pods.push(Rc::new(pod_view(p))),
                None => unscheduled.push(Rc::new(pod_view(p))),
            }
        }
        let services = cluster
            .list_typed::<Service>(namespace)
            .map(|s| service_view(cluster, s))
            .collect();
        ClusterMap {
            nodes,
            unscheduled,
            services,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: httpd\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: httpd}\n  template:\n    metadata:\n      labels: {app: httpd}\n    spec:\n      containers:\n      - name: httpd\n        image: httpd\n        ports:\n        - containerPort: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: httpd-svc\nspec:\n  type: NodePort\n  selector: {app: httpd}\n  ports:\n  - port: 8080\n    targetPort: 80\n    nodePort: 30144\n";

    #[test]
    fn map_shows_pods_on_nodes_and_service_lines() {
        let mut c = Cluster::kind();
        c.apply_manifests(APP).unwrap();
        c.settle();
        let map = ClusterMap::from_cluster(&c, Some("default"));
        let names: Vec<(&str, &str, usize)> = map
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.role.as_str(), n.pods.len()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("kind-control-plane", "control-plane", 0),
                ("kind-worker", "worker", 2),
                ("kind-worker2", "worker", 1)
            ]
        );
        let svc = map.services.iter().find(|s| s.name == "httpd-svc").unwrap();
        assert_eq!(svc.type_, "NodePort");
        assert_eq!(svc.ports, vec!["8080:30144/TCP"]);
        assert_eq!(svc.endpoints.len(), 3);
        for line in &svc.endpoints {
            assert!(line.ready && !line.terminating);
            assert_eq!(line.ports, vec![80]);
            let node = map
                .nodes
                .iter()
                .find(|n| Some(&n.name) == line.node.as_ref())
                .unwrap();
            let pod = node
                .pods
                .iter()
                .find(|p| Some(&p.name) == line.pod.as_ref())
                .unwrap();
            assert_eq!(pod.ip.as_ref(), Some(&line.ip));
        }
    }

    #[test]
    fn deleted_pod_shows_terminating_and_its_replacement() {
        let mut c = Cluster::kind();
        c.apply_manifests(APP).unwrap();
        c.settle();
        let victim = ClusterMap::from_cluster(&c, Some("default")).nodes[1].pods[0]
            .name
            .clone();
        c.delete(lab_core::Kind::Pod, "default", &victim).unwrap();
        let map = ClusterMap::from_cluster(&c, Some("default"));
        let all: Vec<&PodView> = map.pods().collect();
        assert_eq!(
            all.iter().find(|p| p.name == victim).unwrap().status,
            "Terminating"
        );
        assert_eq!(all.len(), 4);
        let svc = map.services.iter().find(|s| s.name == "httpd-svc").unwrap();
        assert!(
            svc.endpoints
                .iter()
                .any(|e| e.terminating && e.pod.as_deref() == Some(victim.as_str()))
        );
        c.settle();
        let map = ClusterMap::from_cluster(&c, Some("default"));
        let svc = map.services.iter().find(|s| s.name == "httpd-svc").unwrap();
        assert_eq!(svc.endpoints.iter().filter(|e| e.ready).count(), 3);
        assert!(
            !svc.endpoints
                .iter()
                .any(|e| e.pod.as_deref() == Some(victim.as_str()))
        );
    }
}
