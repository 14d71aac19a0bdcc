//! The control loops. Each submodule mirrors one real controller and is named after it; this
//! module is the informer plumbing between them: it turns store changes into work-queue keys,
//! like shared informers' event handlers do, and runs the queues until they are empty.

pub mod bootstrap;
pub mod bootstrapsigner;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod endpointslice_mirroring;
pub mod kubelet;
pub mod replicaset;
pub mod root_ca_cert_publisher;
pub mod scheduler;
pub mod service;
pub mod statefulset;

use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::labels::map_matches;
use crate::object::{Kind, Object, ObjectKey};
use crate::store::Change;
use std::collections::{BTreeMap, BTreeSet};

/// Work queues, one per controller; keys are deduplicated like client-go's workqueue.
#[derive(Clone, Debug, Default)]
pub struct Queues {
    pub(crate) deployment: BTreeSet<ObjectKey>,
    pub(crate) replicaset: BTreeSet<ObjectKey>,
    pub(crate) statefulset: BTreeSet<ObjectKey>,
    pub(crate) scheduler: BTreeSet<ObjectKey>,
    pub(crate) kubelet: BTreeSet<ObjectKey>,
    pub(crate) service: BTreeSet<ObjectKey>,
    pub(crate) endpoints: BTreeSet<ObjectKey>,
    pub(crate) endpointslice: BTreeSet<ObjectKey>,
    pub(crate) mirroring: BTreeSet<ObjectKey>,
    /// Namespaces for the root-ca-cert-publisher.
    pub(crate) root_ca: BTreeSet<ObjectKey>,
}

impl Queues {
    fn is_empty(&self) -> bool {
        self.deployment.is_empty()
            && self.replicaset.is_empty()
            && self.statefulset.is_empty()
            && self.scheduler.is_empty()
            && self.kubelet.is_empty()
            && self.service.is_empty()
            && self.endpoints.is_empty()
            && self.endpointslice.is_empty()
            && self.mirroring.is_empty()
            && self.root_ca.is_empty()
    }
}

/// State the controllers keep beside the store: allocator bitmaps, IPAM, scheduler cache.
/// Everything but `ipam_last` is derived from the stored objects (see `State::rebuild`).
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Allocated ClusterIPs (as u32).
    pub(crate) cluster_ips: BTreeSet<u32>,
    /// Allocated nodePorts.
    pub(crate) node_ports: BTreeSet<u16>,
    /// The LoadBalancer provider's load balancers: ingress IP (as u32) → its Service.
    pub(crate) lb_ips: BTreeMap<u32, ObjectKey>,
    /// Per node: pod IP offsets in use (host-local IPAM).
    pub(crate) ipam_used: BTreeMap<String, BTreeSet<u64>>,
    /// Per node: the last offset handed out (host-local continues after it, then wraps).
    pub(crate) ipam_last: BTreeMap<String, u64>,
    /// Pods bound to each node (scheduler cache).
    pub(crate) node_load: BTreeMap<String, usize>,
    /// (load, node) ordered, for least-loaded lookups.
    pub(crate) load_order: BTreeSet<(usize, String)>,
    /// Pods the scheduler could not place; retried when capacity frees up.
    pub(crate) unschedulable: BTreeSet<ObjectKey>,
    /// Terminating pods whose `Killing` event has been recorded.
    pub(crate) terminating_seen: BTreeSet<ObjectKey>,
    /// Images present on each node (kind preloads its own; pulls add more).
    pub(crate) node_images: BTreeMap<String, BTreeSet<String>>,
    /// Node name → its index in `ClusterConfig::nodes`: the kubelet looks its node up on every
    /// pod sync, and the scale profile has 1,000 nodes.
    pub(crate) node_index: BTreeMap<String, usize>,
}

impl State {
    pub(crate) fn new(config: &ClusterConfig) -> State {
        let mut s = State::default();
        for (i, n) in config.nodes.iter().enumerate() {
            s.node_index.insert(n.name.clone(), i);
            s.node_load.insert(n.name.clone(), 0);
            s.load_order.insert((0, n.name.clone()));
            s.node_images.insert(
                n.name.clone(),
                bootstrap::PRELOADED_IMAGES
                    .iter()
                    .map(|i| i.to_string())
                    .collect(),
            );
        }
        s
    }

    fn set_load(&mut self, node: &str, delta: isize) {
        let load = self.node_load.entry(node.to_string()).or_insert(0);
        self.load_order.remove(&(*load, node.to_string()));
        *load = (*load as isize + delta).max(0) as usize;
        self.load_order.insert((*load, node.to_string()));
    }

    /// Rebuilds every derived field from the store (after restoring a snapshot).
    pub(crate) fn rebuild(cluster: &mut Cluster) {
        let last = std::mem::take(&mut cluster.state.ipam_last);
        cluster.state = State::new(&cluster.config);
        cluster.state.ipam_last = last;
        let objects: Vec<_> = cluster.store.iter().cloned().collect();
        for o in objects {
            service::commit_allocations(cluster, None, Some(&o));
            track_pod(cluster, None, Some(&o));
            if let Object::Pod(p) = &*o {
                if p.metadata.deletion_timestamp.is_some() {
                    cluster.state.terminating_seen.insert(o.key());
                }
                if let (Some(node), Some(spec)) = (pod_node(&o), p.spec.as_ref()) {
                    let images = cluster
                        .state
                        .node_images
                        .entry(node.to_string())
                        .or_default();
                    images.extend(spec.containers.iter().filter_map(|c| c.image.clone()));
                }
            }
            // Every pod gets a kubelet pass, which re-arms its timers; every StatefulSet a sync,
            // which re-arms its minReadySeconds wake-ups; every namespace a root CA check.
            match o.kind() {
                Kind::Pod => {
                    cluster.queues.kubelet.insert(o.key());
                }
                Kind::StatefulSet => {
                    cluster.queues.statefulset.insert(o.key());
                }
                // The publisher's initial list: a namespace without its CA ConfigMap gets one.
                Kind::Namespace => {
                    cluster.queues.root_ca.insert(o.key());
                }
                _ => {}
            }
        }
    }
}

fn pod_node(o: &Object) -> Option<&str> {
    match o {
        Object::Pod(p) => p.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        _ => None,
    }
}

fn pod_ip(o: &Object) -> Option<&str> {
    match o {
        Object::Pod(p) => p.status.as_ref().and_then(|s| s.pod_ip.as_deref()),
        _ => None,
    }
}

/// Keeps the scheduler cache and IPAM in step with a pod change.
fn track_pod(c: &mut Cluster, old: Option<&Object>, new: Option<&Object>) {
    let (old_node, new_node) = (old.and_then(pod_node), new.and_then(pod_node));
    if old_node != new_node {
        if let Some(n) = old_node {
            c.state.set_load(n, -1);
        }
        if let Some(n) = new_node {
            c.state.set_load(n, 1);
        }
    }
    let host_network = |o: Option<&Object>| matches!(o, Some(Object::Pod(p)) if p.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false));
    let (old_ip, new_ip) = (old.and_then(pod_ip), new.and_then(pod_ip));
    if old_ip != new_ip || old_node != new_node {
        if let (Some(n), Some(ip), false) = (old_node, old_ip, host_network(old))
            && let Some(off) = kubelet::ip_offset(c, n, ip)
        {
            c.state
                .ipam_used
                .entry(n.to_string())
                .or_default()
                .remove(&off);
        }
        if let (Some(n), Some(ip), false) = (new_node, new_ip, host_network(new))
            && let Some(off) = kubelet::ip_offset(c, n, ip)
        {
            c.state
                .ipam_used
                .entry(n.to_string())
                .or_default()
                .insert(off);
        }
    }
}

/// Services in the pod's namespace whose selector matches the pod's labels before or after.
fn services_for_pod(
    c: &Cluster,
    old: Option<&Object>,
    new: Option<&Object>,
) -> BTreeSet<ObjectKey> {
    let mut out = BTreeSet::new();
    for o in [old, new].into_iter().flatten() {
        let ns = o.namespace();
        let labels = o.meta().labels.as_ref();
        for (k, v) in labels.into_iter().flatten() {
            for name in c.store.services_selecting(ns, k, v).into_iter().flatten() {
                let key = ObjectKey::new(Kind::Service, ns, name);
                if out.contains(&key) {
                    continue;
                }
                if let Some(Object::Service(s)) = c.store.get(&key).map(|a| &**a)
                    && let Some(sel) = s.spec.as_ref().and_then(|s| s.selector.as_ref())
                    && map_matches(sel, labels)
                {
                    out.insert(key);
                }
            }
        }
    }
    out
}

fn controller_owner(o: &Object) -> Option<(String, String)> {
    o.meta()
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| (r.kind.clone(), r.name.clone()))
}

fn dispatch(c: &mut Cluster, change: Change) {
    let Change { key, old, new } = change;
    let old = old.as_deref();
    let new = new.as_deref();
    let any = new.or(old).expect("a change has an old or a new object");
    let ns = key.namespace.clone();
    match key.kind {
        Kind::Deployment => {
            c.queues.deployment.insert(key);
        }
        Kind::ReplicaSet => {
            if let Some((kind, name)) = controller_owner(any)
                && kind == "Deployment"
            {
                c.queues
                    .deployment
                    .insert(ObjectKey::new(Kind::Deployment, &ns, &name));
            }
            c.queues.replicaset.insert(key);
        }
        Kind::StatefulSet => {
            c.queues.statefulset.insert(key);
        }
        Kind::Pod => {
            track_pod(c, old, new);
            for o in [old, new].into_iter().flatten() {
                // The StatefulSet controller's pod handlers enqueue the owning set.
                if let Some((kind, name)) = controller_owner(o)
                    && kind == "StatefulSet"
                    && replicaset_relevant(old, new)
                {
                    c.queues
                        .statefulset
                        .insert(ObjectKey::new(Kind::StatefulSet, &ns, &name));
                }
                if let Some((kind, name)) = controller_owner(o)
                    && kind == "ReplicaSet"
                {
                    let rs_key = ObjectKey::new(Kind::ReplicaSet, &ns, &name);
                    // The deployment controller's deletePod handler: Recreate waits for pods to go.
                    if new.is_none()
                        && let Some((dkind, dname)) =
                            c.store.get(&rs_key).and_then(|rs| controller_owner(rs))
                        && dkind == "Deployment"
                    {
                        c.queues
                            .deployment
                            .insert(ObjectKey::new(Kind::Deployment, &ns, &dname));
                    }
                    if replicaset_relevant(old, new) {
                        c.queues.replicaset.insert(rs_key);
                    }
                }
            }
            match new {
                Some(p) if pod_node(p).is_none() && p.meta().deletion_timestamp.is_none() => {
                    c.queues.scheduler.insert(key.clone());
                }
                // The kubelet reacts to its pods' spec and deletion, not to its own status writes.
                Some(p) if pod_node(p).is_some() && kubelet_relevant(old, p) => {
                    c.queues.kubelet.insert(key.clone());
                }
                _ => {}
            }
            if new.is_none() || old.and_then(pod_node).is_some() && new.and_then(pod_node).is_none()
            {
                // Capacity freed: unschedulable pods get another try.
                let retry: Vec<ObjectKey> = std::mem::take(&mut c.state.unschedulable)
                    .into_iter()
                    .collect();
                c.queues.scheduler.extend(retry);
                c.state.unschedulable.remove(&key);
                c.timers.retain(|(_, k)| *k != key);
            }
            // Only changes that matter to endpoints wake the endpoint controllers.
            if endpoint_relevant(old, new) {
                for svc in services_for_pod(c, old, new) {
                    c.queues.endpoints.insert(svc.clone());
                    c.queues.endpointslice.insert(svc);
                }
            }
        }
        Kind::Service => {
            if let (Some(o), Some(n)) = (old, new) {
                service::type_changed(c, o, n);
            }
            c.queues.service.insert(key.clone());
            c.queues.endpoints.insert(key.clone());
            c.queues.endpointslice.insert(key.clone());
            c.queues.mirroring.insert(key);
        }
        Kind::Endpoints => {
            c.queues
                .mirroring
                .insert(ObjectKey::new(Kind::Service, &ns, &key.name));
        }
        Kind::EndpointSlice => {
            let svc = any
                .meta()
                .labels
                .as_ref()
                .and_then(|l| l.get(endpointslice::LABEL_SERVICE_NAME))
                .cloned();
            if let Some(svc) = svc {
                let svc_key = ObjectKey::new(Kind::Service, &ns, &svc);
                match any
                    .meta()
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(endpointslice::LABEL_MANAGED_BY))
                    .map(String::as_str)
                {
                    Some(endpointslice::CONTROLLER_NAME) => {
                        c.queues.endpointslice.insert(svc_key);
                    }
                    Some(endpointslice_mirroring::CONTROLLER_NAME) => {
                        c.queues.mirroring.insert(svc_key);
                    }
                    _ => {}
                }
            }
        }
        Kind::Node => {
            let retry: Vec<ObjectKey> = std::mem::take(&mut c.state.unschedulable)
                .into_iter()
                .collect();
            c.queues.scheduler.extend(retry);
        }
        Kind::Namespace | Kind::ConfigMap => {
            if root_ca_cert_publisher::relevant(&key, old, new) {
                let ns = if key.kind == Kind::Namespace {
                    &key.name
                } else {
                    &ns
                };
                c.queues
                    .root_ca
                    .insert(root_ca_cert_publisher::namespace_key(ns));
            }
        }
        Kind::Event => {}
    }
}

/// Whether a pod change is news to the kubelet of its node.
fn kubelet_relevant(old: Option<&Object>, new: &Object) -> bool {
    let (Some(Object::Pod(a)), Object::Pod(b)) = (old, new) else {
        return true;
    };
    a.spec != b.spec || a.metadata.deletion_timestamp != b.metadata.deletion_timestamp
}

/// Whether a pod change matters to its ReplicaSet or StatefulSet: existence, deletion, phase,
/// readiness, labels.
fn replicaset_relevant(old: Option<&Object>, new: Option<&Object>) -> bool {
    let (Some(Object::Pod(a)), Some(Object::Pod(b))) = (old, new) else {
        return true;
    };
    a.metadata.labels != b.metadata.labels
        || a.metadata.deletion_timestamp != b.metadata.deletion_timestamp
        || a.status.as_ref().and_then(|s| s.phase.as_deref())
            != b.status.as_ref().and_then(|s| s.phase.as_deref())
        || kubelet::pod_ready(a) != kubelet::pod_ready(b)
}

/// Whether a pod change can change any Endpoints or EndpointSlice: upstream's
/// `podEndpointsChanged` (labels, hostname and subdomain, deletion, readiness, IPs) plus a move
/// to or from a terminal phase, which takes the pod out of both. The node name is set before the
/// pod has an IP and container ports are immutable, so neither wakes the controllers (a
/// scheduling write used to cost a sync of every Endpoints and EndpointSlice of the pod's
/// Services).
fn endpoint_relevant(old: Option<&Object>, new: Option<&Object>) -> bool {
    use k8s_openapi::api::core::v1::{Pod, PodIP};
    let (Some(Object::Pod(a)), Some(Object::Pod(b))) = (old, new) else {
        return true;
    };
    fn ips(p: &Pod) -> Option<(Option<&str>, Option<&Vec<PodIP>>)> {
        p.status
            .as_ref()
            .map(|s| (s.pod_ip.as_deref(), s.pod_ips.as_ref()))
    }
    fn terminal(p: &Pod) -> bool {
        matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Failed" | "Succeeded")
        )
    }
    fn host(p: &Pod) -> Option<(Option<&str>, Option<&str>)> {
        p.spec
            .as_ref()
            .map(|s| (s.hostname.as_deref(), s.subdomain.as_deref()))
    }
    a.metadata.labels != b.metadata.labels
        || host(a) != host(b)
        || a.metadata.deletion_timestamp != b.metadata.deletion_timestamp
        || kubelet::pod_ready(a) != kubelet::pod_ready(b)
        || ips(a) != ips(b)
        || terminal(a) != terminal(b)
}

/// Runs all queues until none has work. Upstream controllers run concurrently; here each pass
/// drains every queue in a fixed order (deterministic), and a key queued again during the pass
/// waits for the next one, so a burst of pod updates costs one ReplicaSet or Endpoints sync, as
/// informer coalescing does upstream. Changes are dispatched after every sync, so caches such as
/// the scheduler's node load are always current.
pub(crate) fn run(c: &mut Cluster) {
    fn pending(c: &mut Cluster) {
        for change in c.store.take_changes() {
            dispatch(c, change);
        }
    }
    type Sync = fn(&mut Cluster, &ObjectKey);
    type Queue = fn(&mut Queues) -> &mut BTreeSet<ObjectKey>;
    const LOOPS: [(Queue, Sync); 10] = [
        (|q| &mut q.deployment, deployment::sync),
        (|q| &mut q.replicaset, replicaset::sync),
        (|q| &mut q.statefulset, statefulset::sync),
        (|q| &mut q.scheduler, scheduler::sync),
        (|q| &mut q.kubelet, kubelet::sync),
        (|q| &mut q.service, service::sync),
        (|q| &mut q.endpoints, endpoints::sync),
        (|q| &mut q.endpointslice, endpointslice::sync),
        (|q| &mut q.mirroring, endpointslice_mirroring::sync),
        (|q| &mut q.root_ca, root_ca_cert_publisher::sync),
    ];
    loop {
        pending(c);
        let mut worked = false;
        for (queue, sync) in LOOPS {
            let keys = std::mem::take(queue(&mut c.queues));
            if keys.is_empty() {
                continue;
            }
            for key in keys {
                worked = true;
                sync(c, &key);
                pending(c);
            }
            // Whatever this controller's own writes put back on its queue is dropped: its sync
            // already accounted for them (upstream keeps such no-op resyncs cheap with
            // expectations and trackers; here they are skipped).
            queue(&mut c.queues).clear();
        }
        if !worked && !c.store.has_changes() {
            debug_assert!(c.queues.is_empty());
            break;
        }
    }
}
