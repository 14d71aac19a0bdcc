//! Helpers shared by the unit tests.

use crate::cluster::Cluster;
use crate::object::{Kind, Object};
use k8s_openapi::api::core::v1::Pod;

/// The course's httpd Deployment with `replicas` replicas.
pub fn httpd_deployment(replicas: i32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: httpd\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: httpd\n  template:\n    metadata:\n      labels:\n        app: httpd\n    spec:\n      containers:\n        - name: httpd\n          image: httpd\n          ports:\n            - containerPort: 80\n"
    )
}

/// The course's ClusterIP Service.
pub const HTTPD_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: httpd-svc\nspec:\n  selector:\n    app: httpd\n  ports:\n  - protocol: TCP\n    port: 8080\n    targetPort: 80\n";

/// A kind cluster with `yaml` applied and settled.
pub fn cluster_with(yaml: &str) -> Cluster {
    let mut c = Cluster::kind();
    c.apply_manifests(yaml).expect("test manifests apply");
    c.settle();
    c
}

/// Pods in `ns` whose name starts with `prefix`, in name order.
pub fn pods<'a>(c: &'a Cluster, ns: &'a str, prefix: &'a str) -> Vec<&'a Pod> {
    c.list(Kind::Pod, Some(ns))
        .filter_map(|o| match o {
            Object::Pod(p) if p.metadata.name.as_deref().unwrap_or("").starts_with(prefix) => {
                Some(&**p)
            }
            _ => None,
        })
        .collect()
}

/// `(reason, message)` of the events about `name` in `ns`, in creation order.
pub fn events_for(c: &Cluster, ns: &str, name: &str) -> Vec<(String, String)> {
    let mut evs: Vec<(String, String, String)> = c
        .list(Kind::Event, Some(ns))
        .filter_map(|o| match o {
            Object::Event(e) if e.involved_object.name.as_deref() == Some(name) => Some((
                e.metadata.resource_version.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default(),
            )),
            _ => None,
        })
        .collect();
    evs.sort_by_key(|(rv, _, _)| rv.parse::<u64>().unwrap_or(0));
    evs.into_iter().map(|(_, r, m)| (r, m)).collect()
}

/// Pod phase, IP and node.
pub fn phase_ip_node(p: &Pod) -> (String, String, String) {
    let st = p.status.clone().unwrap_or_default();
    (
        st.phase.unwrap_or_default(),
        st.pod_ip.unwrap_or_default(),
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
    )
}

/// Switches kube-proxy's mode as a learner would: `mode:` in the kube-proxy ConfigMap.
pub fn set_proxy_mode(c: &mut Cluster, mode: &str) {
    let (ns, name) = crate::proxy::KUBE_PROXY_CONFIGMAP;
    let mut cm: k8s_openapi::api::core::v1::ConfigMap = c
        .get_typed(ns, name)
        .cloned()
        .expect("the kube-proxy ConfigMap");
    let conf = cm
        .data
        .as_mut()
        .and_then(|d| d.get_mut("config.conf"))
        .expect("config.conf");
    let old = conf
        .lines()
        .find(|l| l.starts_with("mode:"))
        .expect("a mode line")
        .to_string();
    *conf = conf.replace(&old, &format!("mode: {mode}"));
    c.apply_manifests(&serde_json::to_string(&cm).expect("a ConfigMap serialises"))
        .expect("the ConfigMap applies");
    c.settle();
}
