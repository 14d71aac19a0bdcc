//! What a grader sees of a cluster: its objects as listed, with no controller running over them.

use crate::Cluster;
use crate::config::ProxyMode;
use crate::object::{Kind, Object, Typed};
use crate::proxy::{KUBE_PROXY_CONFIGMAP, ProxyConfig};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::BTreeMap;

/// The objects a lab is graded on, keyed by kind, namespace and name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabSnapshot {
    objects: BTreeMap<(Kind, String, String), Object>,
}

impl LabSnapshot {
    /// Objects as listed from any cluster (later duplicates replace earlier ones).
    pub fn from_objects(objects: impl IntoIterator<Item = Object>) -> LabSnapshot {
        LabSnapshot {
            objects: objects
                .into_iter()
                .map(|o| {
                    (
                        (o.kind(), o.namespace().to_string(), o.name().to_string()),
                        o,
                    )
                })
                .collect(),
        }
    }

    /// Every object of a simulated cluster.
    pub fn from_cluster(cluster: &Cluster) -> LabSnapshot {
        LabSnapshot::from_objects(
            Kind::ALL
                .iter()
                .flat_map(|k| cluster.list(*k, None).cloned())
                .collect::<Vec<_>>(),
        )
    }

    /// One object.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Object> {
        let ns = if kind.namespaced() { namespace } else { "" };
        self.objects.get(&(kind, ns.to_string(), name.to_string()))
    }

    /// Objects of a kind, in one namespace (cluster-scoped kinds ignore it) or all (`None`).
    pub fn list<'a>(
        &'a self,
        kind: Kind,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects
            .range((kind, String::new(), String::new())..)
            .take_while(move |((k, _, _), _)| *k == kind)
            .filter(move |((_, ns, _), _)| !kind.namespaced() || namespace.is_none_or(|n| n == ns))
            .map(|(_, o)| o)
    }

    /// Objects of a type.
    pub fn list_typed<'a, T: Typed + 'a>(
        &'a self,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a T> + 'a
    where
        for<'b> &'b T: TryFrom<&'b Object>,
    {
        self.list(T::KIND, namespace)
            .filter_map(|o| o.as_typed::<T>())
    }

    /// One object as its type.
    pub fn get_typed<T: Typed>(&self, namespace: &str, name: &str) -> Option<&T>
    where
        for<'a> &'a T: TryFrom<&'a Object>,
    {
        self.get(T::KIND, namespace, name)
            .and_then(|o| o.as_typed::<T>())
    }

    /// A Service.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.get_typed::<Service>(namespace, name)
    }

    /// The EndpointSlices of a Service (label `kubernetes.io/service-name`).
    pub fn slices_of<'a>(
        &'a self,
        namespace: &'a str,
        service: &'a str,
    ) -> impl Iterator<Item = &'a EndpointSlice> + 'a {
        self.list_typed::<EndpointSlice>(Some(namespace))
            .filter(move |s| {
                s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("kubernetes.io/service-name"))
                    .is_some_and(|n| n == service)
            })
    }

    /// Pods of a namespace.
    pub fn pods<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a Pod> + 'a {
        self.list_typed::<Pod>(Some(namespace))
    }

    /// kube-proxy's mode, from the `kube-system/kube-proxy` ConfigMap (iptables without one).
    pub fn proxy_mode(&self) -> ProxyMode {
        self.get_typed::<ConfigMap>(KUBE_PROXY_CONFIGMAP.0, KUBE_PROXY_CONFIGMAP.1)
            .map(ProxyConfig::from_config_map)
            .unwrap_or_default()
            .mode
    }
}

/// Whether a pod is Ready (its `Ready` condition is True).
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
