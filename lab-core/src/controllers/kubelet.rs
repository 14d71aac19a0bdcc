//! TODO: being written.
use crate::cluster::Cluster;
use crate::object::ObjectKey;
use k8s_openapi::api::core::v1::Pod;

pub(crate) fn sync(_c: &mut Cluster, _key: &ObjectKey) {}

/// Whether the pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Offset of `ip` inside `node`'s pod range.
pub(crate) fn ip_offset(c: &Cluster, node: &str, ip: &str) -> Option<u64> {
    let n = c.config.nodes.iter().find(|n| n.name == node)?;
    n.pod_cidr.offset(ip.parse().ok()?)
}
