//! The EndpointSlice controller: `pkg/controller/endpointslice/endpointslice_controller.go`
//! (`syncService`) and its reconciler, `staging/src/k8s.io/endpointslice/reconciler.go` with
//! `utils.go`.
//!
//! For every Service with a selector it keeps the EndpointSlices labelled
//! `kubernetes.io/service-name=<svc>` and `endpointslice.kubernetes.io/managed-by=`
//! [`CONTROLLER_NAME`] (slices written by anyone else are never touched). Each selected pod with an
//! IP and not in a terminal phase is one endpoint — terminating pods included, with
//! `terminating: true` — grouped into slices by the set of ports it resolves, at most
//! [`MAX_ENDPOINTS_PER_SLICE`] per slice.
//!
//! The reconciler churns as little as upstream's: existing slices keep their endpoints (updated in
//! place), departed endpoints are removed, new ones fill slices that are being updated anyway,
//! then an unchanged slice with room, and only then a new slice; a slice left empty is deleted,
//! and a create paired with a delete becomes an update of the slice that would be deleted. A
//! Service with no endpoints keeps exactly one placeholder slice (no endpoints, no ports).
//!
//! Where upstream's choice depends on Go map order (which endpoint `PopAny` returns, which slice of
//! equal size fills first), this one is fixed: new endpoints go in pod-name order, slices are taken
//! in name order. Slices are found through the owner-reference index (they are owned by their
//! Service), so a sync costs what the Service's own pods and slices cost; when a Service is deleted
//! the garbage collector (`Cluster::remove_now`) deletes its slices.

use crate::cluster::{Cluster, controller_ref};
use crate::controllers::endpoints::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, LABEL_HEADLESS, as_pods, find_port, is_ipv6,
    is_service_ip_set, pod_ips, pod_reference, pods_to_sync, publish_not_ready,
    should_pod_be_in_endpoints, should_set_hostname, trigger_time,
};
use crate::controllers::kubelet::pod_ready;
use crate::object::{Kind, Object, ObjectKey};
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Label naming the Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's `managed-by` value.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Most endpoints the controller puts in one slice (`--max-endpoints-per-slice`, default 100).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// Label of the node's zone, copied into `endpoints[].zone` (`v1.LabelTopologyZone`).
const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";

// ----- shared with the mirroring controller -----

/// An EndpointPort as a comparable key (`endpointsliceutil.PortMapKey` hashes the same fields).
type PortTuple = (Option<String>, Option<i32>, Option<String>, Option<String>);
/// The set of ports a slice carries, order-independent.
pub(crate) type PortKey = Vec<PortTuple>;

fn port_tuple(p: &EndpointPort) -> PortTuple {
    (
        p.name.clone(),
        p.port,
        p.protocol.clone(),
        p.app_protocol.clone(),
    )
}

/// The key of a port set: its ports, sorted.
pub(crate) fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: PortKey = ports.iter().map(port_tuple).collect();
    key.sort();
    key
}

/// Sorts ports the way [`port_key`] does, so equal sets are written identically.
pub(crate) fn sort_ports(ports: &mut [EndpointPort]) {
    ports.sort_by_key(port_tuple);
}

/// An endpoint's identity (`endpointsliceutil.hashEndpoint`): its addresses (sorted), hostname
/// and target namespace and name, as one string. Conditions, node and zone may change in place.
type EndpointKey = String;

/// Writes `ep`'s [`EndpointKey`] into `key` (cleared first): a lookup reuses one buffer, as a
/// 200-pod Service looks every endpoint up on every sync.
fn write_endpoint_key(ep: &Endpoint, key: &mut String) {
    key.clear();
    let mut addresses: Vec<&str> = ep.addresses.iter().map(String::as_str).collect();
    addresses.sort_unstable();
    let target = ep.target_ref.as_ref();
    let parts = [
        ep.hostname.as_deref(),
        target.and_then(|r| r.namespace.as_deref()),
        target.and_then(|r| r.name.as_deref()),
    ];
    // Separators no address or name can contain; `-`/`+` keep an absent part apart from "".
    for a in addresses {
        key.push_str(a);
        key.push('\u{1}');
    }
    for part in parts {
        key.push('\0');
        match part {
            None => key.push('-'),
            Some(p) => {
                key.push('+');
                key.push_str(p);
            }
        }
    }
}

fn endpoint_key(ep: &Endpoint) -> EndpointKey {
    let mut key = String::with_capacity(64);
    write_endpoint_key(ep, &mut key);
    key
}

/// `endpointsliceutil.EndpointSet`, in insertion order: `pop` hands endpoints out in the order
/// they were added, where upstream's `PopAny` follows Go map order.
#[derive(Clone, Debug, Default)]
pub(crate) struct EndpointSet {
    /// The endpoints in insertion order; `None` once taken.
    slots: Vec<Option<Endpoint>>,
    /// Where each endpoint still in the set is in `slots`.
    index: BTreeMap<EndpointKey, usize>,
    /// The first slot `pop` has not handed out.
    next: usize,
    /// A lookup's key buffer.
    scratch: String,
}

impl EndpointSet {
    /// Adds (or replaces, keeping its place) an endpoint.
    pub(crate) fn insert(&mut self, ep: Endpoint) {
        let key = endpoint_key(&ep);
        match self.index.get(&key) {
            Some(&i) => self.slots[i] = Some(ep),
            None => {
                self.index.insert(key, self.slots.len());
                self.slots.push(Some(ep));
            }
        }
    }
    /// Removes and returns the desired version of `ep`, if it is in the set.
    pub(crate) fn take(&mut self, ep: &Endpoint) -> Option<Endpoint> {
        write_endpoint_key(ep, &mut self.scratch);
        let i = self.index.remove(self.scratch.as_str())?;
        self.slots[i].take()
    }
    /// Whether the set holds an endpoint with `ep`'s identity.
    pub(crate) fn get(&self, ep: &Endpoint) -> Option<&Endpoint> {
        let i = *self.index.get(&endpoint_key(ep))?;
        self.slots[i].as_ref()
    }
    /// Removes and returns the oldest endpoint still in the set.
    pub(crate) fn pop(&mut self) -> Option<Endpoint> {
        while let Some(slot) = self.slots.get_mut(self.next) {
            self.next += 1;
            if let Some(ep) = slot.take() {
                write_endpoint_key(&ep, &mut self.scratch);
                self.index.remove(self.scratch.as_str());
                return Some(ep);
            }
        }
        None
    }
    /// Number of endpoints.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }
    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// Slices to create, update and delete, as a reconciler's `finalize` receives them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    /// New slices (named by `generateName`).
    pub(crate) create: Vec<EndpointSlice>,
    /// Changed slices (named; identity fields are taken from the stored object).
    pub(crate) update: Vec<EndpointSlice>,
    /// Slices to delete.
    pub(crate) delete: Vec<EndpointSlice>,
}

fn slice_name(s: &EndpointSlice) -> String {
    s.metadata.name.clone().unwrap_or_default()
}

/// Whether `slice` carries a `kubernetes.io/service-name=<service>` label and `managed-by=<by>`.
pub(crate) fn labelled_for(slice: &EndpointSlice, service: &str, by: &str) -> bool {
    let l = slice.metadata.labels.as_ref();
    l.and_then(|l| l.get(LABEL_SERVICE_NAME))
        .map(String::as_str)
        == Some(service)
        && l.and_then(|l| l.get(LABEL_MANAGED_BY)).map(String::as_str) == Some(by)
}

/// The slices owned by the object with `owner_uid` that are labelled for `service` and managed by
/// `by`, in name order (the store's owner index, so no namespace scan).
pub(crate) fn owned_slices(
    c: &Cluster,
    owner_uid: &str,
    service: &str,
    by: &str,
) -> Vec<EndpointSlice> {
    owned_slice_refs(c, owner_uid, service, by)
        .into_iter()
        .cloned()
        .collect()
}

/// [`owned_slices`], borrowed from the store: the reconciler copies only the slices it changes
/// (a 200-endpoint slice copied on every pod change was a tenth of a deletion's work).
pub(crate) fn owned_slice_refs<'c>(
    c: &'c Cluster,
    owner_uid: &str,
    service: &str,
    by: &str,
) -> Vec<&'c EndpointSlice> {
    if owner_uid.is_empty() {
        return Vec::new();
    }
    c.store
        .dependents(owner_uid)
        .filter(|k| k.kind == Kind::EndpointSlice)
        .filter_map(|k| c.store.get(k))
        .filter_map(|o| o.as_typed::<EndpointSlice>())
        .filter(|s| labelled_for(s, service, by))
        .collect()
}

/// Whether two slices are the same but for the trigger-time annotation ("did anything
/// change"); only the metadata is copied to compare, not the endpoints.
fn same_but_trigger(a: &EndpointSlice, b: &EndpointSlice) -> bool {
    fn meta(m: &ObjectMeta) -> ObjectMeta {
        let mut m = m.clone();
        if let Some(a) = m.annotations.as_mut() {
            a.remove(ANNOTATION_LAST_CHANGE_TRIGGER_TIME);
            if a.is_empty() {
                m.annotations = None;
            }
        }
        m
    }
    a.address_type == b.address_type
        && a.endpoints == b.endpoints
        && a.ports == b.ports
        && meta(&a.metadata) == meta(&b.metadata)
}

fn stamp_trigger(s: &mut EndpointSlice, trigger: Option<&str>) {
    if let Some(t) = trigger {
        s.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ANNOTATION_LAST_CHANGE_TRIGGER_TIME.into(), t.to_string());
    }
}

/// Writes a plan: creates, then updates, then deletes (`finalize`). Updates take the stored
/// object's identity (uid, creationTimestamp, resourceVersion, generateName) and are skipped
/// when nothing but the trigger-time annotation would change. `trigger` is the
/// `last-change-trigger-time` to stamp on written slices (None: none, as the mirroring controller).
pub(crate) fn apply_plan(c: &mut Cluster, namespace: &str, plan: Plan, trigger: Option<&str>) {
    for mut s in plan.create {
        stamp_trigger(&mut s, trigger);
        c.sys_create(Object::EndpointSlice(Box::new(s)));
    }
    for mut s in plan.update {
        let key = ObjectKey::new(Kind::EndpointSlice, namespace, &slice_name(&s));
        let stored = c.store.get(&key).cloned();
        let Some(Object::EndpointSlice(stored)) = stored.as_deref() else {
            continue;
        };
        let (m, o) = (&mut s.metadata, &stored.metadata);
        m.namespace = o.namespace.clone();
        m.uid = o.uid.clone();
        m.creation_timestamp = o.creation_timestamp.clone();
        m.resource_version = o.resource_version.clone();
        m.generation = o.generation;
        if m.generate_name.is_none() {
            m.generate_name = o.generate_name.clone();
        }
        if same_but_trigger(&s, stored) {
            continue;
        }
        stamp_trigger(&mut s, trigger);
        c.sys_update(Object::EndpointSlice(Box::new(s)));
    }
    for s in plan.delete {
        c.remove_now(&ObjectKey::new(
            Kind::EndpointSlice,
            namespace,
            &slice_name(&s),
        ));
    }
}

// ----- the EndpointSlice controller -----

/// What the reconciler knows about a pod's node: None when the Node does not exist, else its
/// zone label (if any).
pub(crate) type NodeZone = Option<Option<String>>;

/// The endpoints wanted in one group of slices: their ports and the endpoints, in pod order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Desired {
    /// The group's ports (sorted).
    pub(crate) ports: Vec<EndpointPort>,
    /// The group's endpoints.
    pub(crate) endpoints: EndpointSet,
}

/// `getEndpointPorts`: one port per Service port that resolves in the pod. Names are always
/// present, `""` for an unnamed port (kubectl describe dereferences it).
fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let spec = svc.spec.as_ref();
    let ports: &[ServicePort] = spec.and_then(|s| s.ports.as_deref()).unwrap_or(&[]);
    let mut out: Vec<EndpointPort> = ports
        .iter()
        .filter_map(|sp| {
            let port = find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect();
    sort_ports(&mut out);
    out
}

/// `podToEndpoint`: the pod's addresses of `address_type`; `serving` = Ready, `terminating` =
/// deletionTimestamp set, `ready` = serving and not terminating (always true with
/// `publishNotReadyAddresses`).
fn pod_to_endpoint(svc: &Service, pod: &Pod, zone: Option<String>, address_type: &str) -> Endpoint {
    let serving = pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = publish_not_ready(svc) || (serving && !terminating);
    let want_v6 = address_type == "IPv6";
    Endpoint {
        addresses: pod_ips(pod)
            .into_iter()
            .filter(|ip| is_ipv6(ip) == want_v6)
            .map(str::to_string)
            .collect(),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: should_set_hostname(pod, svc)
            .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
            .flatten(),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        target_ref: Some(pod_reference(pod)),
        zone,
        ..Default::default()
    }
}

/// The endpoints a Service wants for `pods`, grouped by port set (`reconcileByAddressType`'s
/// first loop). `node_zone` looks a node up; a pod whose node does not exist is skipped unless
/// the Service publishes not-ready addresses.
pub(crate) fn desired_endpoints(
    svc: &Service,
    pods: &[&Pod],
    address_type: &str,
    node_zone: &dyn Fn(&str) -> NodeZone,
) -> BTreeMap<PortKey, Desired> {
    let mut out: BTreeMap<PortKey, Desired> = BTreeMap::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, true) {
            continue;
        }
        let ports = endpoint_ports(svc, pod);
        let group = out.entry(port_key(&ports)).or_insert_with(|| Desired {
            ports,
            endpoints: EndpointSet::default(),
        });
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("");
        let zone = match node_zone(node) {
            Some(zone) => zone,
            None if publish_not_ready(svc) => None,
            None => continue,
        };
        let ep = pod_to_endpoint(svc, pod, zone, address_type);
        if !ep.addresses.is_empty() {
            group.endpoints.insert(ep);
        }
    }
    out
}

/// `getAddressTypesForService`: from `spec.ipFamilies`, else the ClusterIP's family, else both.
fn address_types(svc: &Service) -> Vec<&'static str> {
    let spec = svc.spec.as_ref();
    let mut out = Vec::new();
    for f in spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
    {
        match f.as_str() {
            "IPv4" if !out.contains(&"IPv4") => out.push("IPv4"),
            "IPv6" if !out.contains(&"IPv6") => out.push("IPv6"),
            _ => {}
        }
    }
    if !out.is_empty() {
        return out;
    }
    match spec.and_then(|s| s.cluster_ip.as_deref()) {
        Some(ip) if !ip.is_empty() && ip != "None" => {
            vec![if is_ipv6(ip) { "IPv6" } else { "IPv4" }]
        }
        _ => vec!["IPv4", "IPv6"],
    }
}

/// `ownedBy`: an owner reference to this Service (by UID).
fn owned_by(slice: &EndpointSlice, svc: &Service) -> bool {
    let uid = svc.metadata.uid.as_deref().unwrap_or("");
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.kind == "Service" && o.api_version == "v1")
}

/// `setEndpointSliceLabels`: the Service's labels (minus the reserved ones) plus service-name,
/// managed-by and, for headless Services, the headless label; and whether the slice's
/// non-reserved labels differ from the Service's.
fn slice_labels(slice: Option<&EndpointSlice>, svc: &Service) -> (BTreeMap<String, String>, bool) {
    let reserved =
        |k: &String| k == LABEL_SERVICE_NAME || k == LABEL_MANAGED_BY || k == LABEL_HEADLESS;
    let keep = |m: Option<&BTreeMap<String, String>>| -> BTreeMap<String, String> {
        m.into_iter()
            .flatten()
            .filter(|(k, _)| !reserved(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let current = keep(slice.and_then(|s| s.metadata.labels.as_ref()));
    let mut labels = keep(svc.metadata.labels.as_ref());
    let changed = current != labels;
    if !is_service_ip_set(svc) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(
        LABEL_SERVICE_NAME.into(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    (labels, changed)
}

/// `newEndpointSlice`: an empty slice for the Service with these ports.
fn new_slice(
    svc: &Service,
    owner: &OwnerReference,
    ports: &[EndpointPort],
    address_type: &str,
) -> EndpointSlice {
    let (labels, _) = slice_labels(None, svc);
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", svc.metadata.name.as_deref().unwrap_or(""))),
            namespace: svc.metadata.namespace.clone(),
            owner_references: Some(vec![owner.clone()]),
            labels: Some(labels),
            ..Default::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: (!ports.is_empty()).then(|| ports.to_vec()),
    }
}

/// `placeholderSliceCompare`: same namespace, labels, owners, address type, and neither has
/// endpoints or ports.
fn placeholder_equal(a: &EndpointSlice, b: &EndpointSlice) -> bool {
    let (ma, mb) = (&a.metadata, &b.metadata);
    ma.namespace == mb.namespace
        && ma.labels.clone().unwrap_or_default() == mb.labels.clone().unwrap_or_default()
        && ma.owner_references.clone().unwrap_or_default()
            == mb.owner_references.clone().unwrap_or_default()
        && a.address_type == b.address_type
        && a.endpoints.is_empty()
        && b.endpoints.is_empty()
        && a.ports.as_ref().is_none_or(Vec::is_empty)
        && b.ports.as_ref().is_none_or(Vec::is_empty)
}

/// `slice` with `endpoints` instead of its own (which are not copied).
fn with_endpoints(slice: Cow<'_, EndpointSlice>, endpoints: Vec<Endpoint>) -> EndpointSlice {
    match slice {
        Cow::Owned(mut s) => {
            s.endpoints = endpoints;
            s
        }
        Cow::Borrowed(s) => EndpointSlice {
            metadata: s.metadata.clone(),
            address_type: s.address_type.clone(),
            endpoints,
            ports: s.ports.clone(),
        },
    }
}

fn fill(slice: &mut EndpointSlice, desired: &mut EndpointSet, max: usize) {
    while slice.endpoints.len() < max {
        let Some(ep) = desired.pop() else { break };
        slice.endpoints.push(ep);
    }
}

/// `reconcileByPortMapping`: the creates, updates and deletes for one port set.
fn reconcile_by_port_mapping(
    svc: &Service,
    owner: &OwnerReference,
    existing: Vec<Cow<'_, EndpointSlice>>,
    mut desired: Desired,
    address_type: &str,
    max: usize,
) -> Plan {
    let mut by_name: BTreeMap<String, Cow<'_, EndpointSlice>> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: BTreeSet<String> = BTreeSet::new();

    // 1. Keep the endpoints still wanted (in their desired version), drop the others.
    for slice in existing {
        let name = slice_name(&slice);
        let mut kept = Vec::new();
        let mut updated = false;
        for ep in &slice.endpoints {
            if let Some(want) = desired.endpoints.take(ep) {
                updated |= want != *ep;
                kept.push(want);
            }
        }
        let (labels, labels_changed) = slice_labels(Some(&slice), svc);
        if updated || kept.len() != slice.endpoints.len() {
            if kept.is_empty() {
                to_delete.insert(name.clone());
                by_name.insert(name, slice);
            } else {
                let mut s = with_endpoints(slice, kept);
                s.metadata.labels = Some(labels);
                to_update.insert(name.clone());
                by_name.insert(name, Cow::Owned(s));
            }
        } else if labels_changed {
            let mut s = slice.into_owned();
            s.metadata.labels = Some(labels);
            to_update.insert(name.clone());
            by_name.insert(name, Cow::Owned(s));
        } else {
            unchanged.insert(name.clone());
            by_name.insert(name, slice);
        }
    }

    // 2. Fill the slices being updated anyway, fullest first.
    if !desired.endpoints.is_empty() && !to_update.is_empty() {
        let mut names: Vec<String> = to_update.iter().cloned().collect();
        names.sort_by_key(|n| std::cmp::Reverse(by_name.get(n).map_or(0, |s| s.endpoints.len())));
        for n in names {
            if let Some(s) = by_name.get_mut(&n) {
                fill(s.to_mut(), &mut desired.endpoints, max);
            }
        }
    }

    // 3. The rest goes into an unchanged slice it fits in whole, or into new slices.
    let mut create = Vec::new();
    while !desired.endpoints.is_empty() {
        let remaining = desired.endpoints.len();
        let mut target: Option<String> = None;
        if remaining < max && !unchanged.is_empty() {
            // getSliceToFill: the slice that ends up closest to full.
            let mut closest = max;
            for n in &unchanged {
                let len = by_name.get(n).map_or(0, |s| s.endpoints.len());
                if remaining + len <= max {
                    let diff = max - (remaining + len);
                    if diff < closest {
                        closest = diff;
                        target = Some(n.clone());
                        if diff == 0 {
                            break;
                        }
                    }
                }
            }
        }
        match target.and_then(|n| by_name.get_mut(&n).map(|s| (n, s))) {
            Some((n, s)) => {
                fill(s.to_mut(), &mut desired.endpoints, max);
                unchanged.remove(&n);
                to_update.insert(n);
            }
            None => {
                let mut s = new_slice(svc, owner, &desired.ports, address_type);
                fill(&mut s, &mut desired.endpoints, max);
                create.push(s);
            }
        }
    }

    let take = |names: &BTreeSet<String>,
                by_name: &mut BTreeMap<String, Cow<'_, EndpointSlice>>|
     -> Vec<EndpointSlice> {
        names
            .iter()
            .filter_map(|n| by_name.remove(n))
            .map(Cow::into_owned)
            .collect()
    };
    let update = take(&to_update, &mut by_name);
    let delete = take(&to_delete, &mut by_name);
    Plan {
        create,
        update,
        delete,
    }
}

/// `reconcileByAddressType` plus `finalize`'s pairing: everything to write for one address type.
fn reconcile_by_address_type(
    svc: &Service,
    owner: &OwnerReference,
    existing: Vec<Cow<'_, EndpointSlice>>,
    desired: BTreeMap<PortKey, Desired>,
    address_type: &str,
    max: usize,
) -> Plan {
    let mut plan = Plan::default();
    let total_existing = existing.len();
    let mut by_key: BTreeMap<PortKey, Vec<Cow<'_, EndpointSlice>>> = BTreeMap::new();
    for s in existing {
        if owned_by(&s, svc) {
            let key = port_key(s.ports.as_deref().unwrap_or(&[]));
            by_key.entry(key).or_default().push(s);
        } else {
            plan.delete.push(s.into_owned());
        }
    }
    for (key, want) in desired {
        let slices = by_key.remove(&key).unwrap_or_default();
        let p = reconcile_by_port_mapping(svc, owner, slices, want, address_type, max);
        plan.create.extend(p.create);
        plan.update.extend(p.update);
        plan.delete.extend(p.delete);
    }
    // Port sets no longer wanted.
    plan.delete
        .extend(by_key.into_values().flatten().map(Cow::into_owned));

    // A Service with no endpoints keeps one placeholder slice.
    if total_existing == plan.delete.len() && plan.create.is_empty() {
        let placeholder = new_slice(svc, owner, &[], address_type);
        if plan.delete.len() == 1 && placeholder_equal(&plan.delete[0], &placeholder) {
            plan.delete.clear();
        } else {
            plan.create.push(placeholder);
        }
    }
    plan
}

/// The whole reconcile for one Service (`Reconcile` and `finalize`'s create-to-update pairing).
pub(crate) fn reconcile(
    svc: &Service,
    owner: &OwnerReference,
    pods: &[&Pod],
    existing: Vec<Cow<'_, EndpointSlice>>,
    node_zone: &dyn Fn(&str) -> NodeZone,
    max: usize,
) -> Plan {
    let types = address_types(svc);
    let mut plan = Plan::default();
    let mut by_type: BTreeMap<String, Vec<Cow<'_, EndpointSlice>>> = BTreeMap::new();
    for s in existing {
        if types.contains(&s.address_type.as_str()) {
            by_type.entry(s.address_type.clone()).or_default().push(s);
        } else {
            plan.delete.push(s.into_owned());
        }
    }
    for t in types {
        let slices = by_type.remove(t).unwrap_or_default();
        let desired = desired_endpoints(svc, pods, t, node_zone);
        let p = reconcile_by_address_type(svc, owner, slices, desired, t, max);
        plan.create.extend(p.create);
        plan.update.extend(p.update);
        plan.delete.extend(p.delete);
    }
    // finalize: a create and a delete become an update of the slice that would be deleted.
    let mut i = 0;
    while i < plan.delete.len() && !plan.create.is_empty() {
        let d = &plan.delete[i];
        let fits = plan
            .create
            .last()
            .is_some_and(|c| c.address_type == d.address_type)
            && owned_by(d, svc);
        if fits {
            let d = plan.delete.remove(i);
            if let Some(mut s) = plan.create.pop() {
                s.metadata.name = d.metadata.name;
                plan.update.push(s);
            }
        } else {
            i += 1;
        }
    }
    plan
}

/// Syncs the EndpointSlices of one Service (`syncService`).
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let Some(svc_obj) = c.store.get(key).cloned() else {
        // Deleted: the garbage collector has removed the slices it owned.
        return;
    };
    let Object::Service(svc) = &*svc_obj else {
        return;
    };
    let Some(pods) = pods_to_sync(c, svc, &key.namespace) else {
        // Selectorless Services get their slices from elsewhere (by hand, or mirrored).
        return;
    };
    let existing = owned_slice_refs(c, svc_obj.uid(), &key.name, CONTROLLER_NAME)
        .into_iter()
        .map(Cow::Borrowed)
        .collect();
    let owner = controller_ref(&svc_obj);
    let node_zone = |node: &str| -> NodeZone {
        let n = c.store.get(&ObjectKey::cluster(Kind::Node, node))?;
        Some(
            n.meta()
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_TOPOLOGY_ZONE))
                .filter(|z| !z.is_empty())
                .cloned(),
        )
    };
    let plan = reconcile(
        svc,
        &owner,
        &as_pods(&pods),
        existing,
        &node_zone,
        MAX_ENDPOINTS_PER_SLICE,
    );
    if plan.create.is_empty() && plan.update.is_empty() && plan.delete.is_empty() {
        return;
    }
    let trigger = trigger_time(c);
    apply_plan(c, &key.namespace, plan, Some(&trigger));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::endpoints::tests::{http_port, pod, service};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use k8s_openapi::jiff::Timestamp;

    fn owner(svc: &Service) -> OwnerReference {
        controller_ref(&Object::Service(Box::new(svc.clone())))
    }

    fn any_node(_: &str) -> NodeZone {
        Some(None)
    }

    /// Runs the reconciler and pretends the plan was written (names for creates: `<svc>-<n>`).
    fn step(
        svc: &Service,
        pods: &[Pod],
        existing: Vec<EndpointSlice>,
        max: usize,
    ) -> (Plan, Vec<EndpointSlice>) {
        let refs: Vec<&Pod> = pods.iter().collect();
        let borrowed = existing.iter().map(Cow::Borrowed).collect();
        let plan = reconcile(svc, &owner(svc), &refs, borrowed, &any_node, max);
        let mut state: BTreeMap<String, EndpointSlice> =
            existing.into_iter().map(|s| (slice_name(&s), s)).collect();
        for s in &plan.delete {
            state.remove(&slice_name(s));
        }
        for s in &plan.update {
            state.insert(slice_name(s), s.clone());
        }
        let mut n = 0;
        for s in &plan.create {
            let mut s = s.clone();
            while state.contains_key(&format!("httpd-svc-{n}")) {
                n += 1;
            }
            s.metadata.name = Some(format!("httpd-svc-{n}"));
            state.insert(slice_name(&s), s);
        }
        (plan, state.into_values().collect())
    }

    fn ips(s: &EndpointSlice) -> Vec<&str> {
        s.endpoints
            .iter()
            .map(|e| e.addresses[0].as_str())
            .collect()
    }

    fn cond(s: &EndpointSlice, ip: &str) -> (bool, bool, bool) {
        let c = s
            .endpoints
            .iter()
            .find(|e| e.addresses[0] == ip)
            .and_then(|e| e.conditions.clone())
            .unwrap();
        (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
    }

    #[test]
    fn one_slice_with_conditions_and_unnamed_port() {
        let svc = service(IntOrString::Int(80));
        let mut terminating = pod("c", "10.244.1.4", true);
        terminating.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let pods = [
            pod("a", "10.244.1.2", true),
            pod("b", "10.244.1.3", false),
            terminating,
            pod("d", "", true),
        ];
        let (plan, slices) = step(&svc, &pods, vec![], 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (1, 0, 0)
        );
        let s = &slices[0];
        assert_eq!(ips(s), ["10.244.1.2", "10.244.1.3", "10.244.1.4"]);
        assert_eq!(cond(s, "10.244.1.2"), (true, true, false));
        assert_eq!(cond(s, "10.244.1.3"), (false, false, false));
        assert_eq!(cond(s, "10.244.1.4"), (false, true, true));
        let port = &s.ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.port, port.protocol.as_deref()),
            (Some(""), Some(80), Some("TCP"))
        );
        assert_eq!(s.address_type, "IPv4");
        assert_eq!(s.metadata.generate_name.as_deref(), Some("httpd-svc-"));
        let labels = s.metadata.labels.as_ref().unwrap();
        assert_eq!(
            labels.get(LABEL_SERVICE_NAME).map(String::as_str),
            Some("httpd-svc")
        );
        assert_eq!(
            labels.get(LABEL_MANAGED_BY).map(String::as_str),
            Some(CONTROLLER_NAME)
        );
        assert_eq!(labels.get("app").map(String::as_str), Some("httpd"));
        let o = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((o.kind.as_str(), o.uid.as_str()), ("Service", "svc-uid"));
        // Reconciling the written state changes nothing.
        let (plan, _) = step(&svc, &pods, slices, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 0, 0)
        );
    }

    #[test]
    fn publish_not_ready_makes_everything_ready() {
        let mut svc = service(IntOrString::Int(80));
        svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let mut terminating = pod("c", "10.244.1.4", false);
        terminating.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let pods = [pod("b", "10.244.1.3", false), terminating];
        let (_, slices) = step(&svc, &pods, vec![], 100);
        assert_eq!(cond(&slices[0], "10.244.1.3"), (true, false, false));
        assert_eq!(cond(&slices[0], "10.244.1.4"), (true, false, true));
    }

    #[test]
    fn named_port_groups_pods_by_resolved_ports() {
        let svc = service(IntOrString::String("http".into()));
        let mut alt = pod("b", "10.244.1.3", true);
        http_port(&mut alt).container_port = 8080;
        let mut unnamed = pod("c", "10.244.1.4", true);
        unnamed.spec.as_mut().unwrap().containers[0].ports = None;
        let pods = [pod("a", "10.244.1.2", true), alt, unnamed];
        let (_, slices) = step(&svc, &pods, vec![], 100);
        type Summary<'a> = (Vec<&'a str>, Option<Vec<Option<i32>>>);
        let mut summary: Vec<Summary> = slices
            .iter()
            .map(|s| {
                (
                    ips(s),
                    s.ports.as_ref().map(|p| p.iter().map(|p| p.port).collect()),
                )
            })
            .collect();
        summary.sort();
        // Upstream keeps a pod whose named port does not resolve, in a slice without ports.
        assert_eq!(
            summary,
            [
                (vec!["10.244.1.2"], Some(vec![Some(80)])),
                (vec!["10.244.1.3"], Some(vec![Some(8080)])),
                (vec!["10.244.1.4"], None),
            ]
        );
    }

    #[test]
    fn placeholder_when_empty_and_recycled() {
        let svc = service(IntOrString::Int(80));
        let (plan, slices) = step(&svc, &[], vec![], 100);
        assert_eq!(plan.create.len(), 1);
        assert_eq!(slices.len(), 1);
        assert!(slices[0].endpoints.is_empty());
        assert_eq!(slices[0].ports, None);
        // Stable.
        let (plan, slices) = step(&svc, &[], slices, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 0, 0)
        );
        // Pods arrive: the placeholder is recycled into the real slice (an update, not a create).
        let pods = [pod("a", "10.244.1.2", true)];
        let (plan, slices) = step(&svc, &pods, slices, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 0)
        );
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0].metadata.name.as_deref(), Some("httpd-svc-0"));
        assert_eq!(ips(&slices[0]), ["10.244.1.2"]);
        // And back.
        let (plan, slices) = step(&svc, &[], slices, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 0)
        );
        assert!(slices[0].endpoints.is_empty());
        assert_eq!(slices[0].ports, None);
    }

    #[test]
    fn many_pods_fill_slices_with_minimal_churn() {
        let svc = service(IntOrString::Int(80));
        let mk = |i: usize| {
            pod(
                &format!("p{i:03}"),
                &format!("10.244.{}.{}", i / 200 + 1, i % 200 + 2),
                true,
            )
        };
        let pods: Vec<Pod> = (0..150).map(mk).collect();
        let (_, slices) = step(&svc, &pods, vec![], 100);
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [50, 100]);

        // One pod goes, one arrives: it takes the freed place in the slice being updated anyway.
        let mut pods2: Vec<Pod> = pods
            .iter()
            .filter(|p| p.metadata.name.as_deref() != Some("p000"))
            .cloned()
            .collect();
        pods2.push(mk(150));
        let (plan, slices) = step(&svc, &pods2, slices, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 0)
        );
        assert_eq!(plan.update[0].endpoints.len(), 100);
        // One more: it fits in the unchanged half-full slice; still no create.
        pods2.push(mk(151));
        let (plan, slices) = step(&svc, &pods2, slices, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 0)
        );
        assert_eq!(plan.update[0].endpoints.len(), 51);
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [51, 100]);
        assert_eq!(slices.iter().map(|s| s.endpoints.len()).sum::<usize>(), 151);

        // A readiness change updates one endpoint in place.
        let mut pods3 = pods2.clone();
        pods3[10]
            .status
            .as_mut()
            .unwrap()
            .conditions
            .as_mut()
            .unwrap()[0]
            .status = "False".into();
        let (plan, _) = step(&svc, &pods3, slices.clone(), 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 0)
        );

        // Everyone leaves: one slice stays, as the placeholder.
        let (plan, slices) = step(&svc, &[], slices, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 1)
        );
        assert_eq!(slices.len(), 1);
        assert!(slices[0].endpoints.is_empty());
    }

    #[test]
    fn service_labels_follow_and_foreign_slices_go() {
        let mut svc = service(IntOrString::Int(80));
        let pods = [pod("a", "10.244.1.2", true)];
        let (_, slices) = step(&svc, &pods, vec![], 100);
        svc.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("tier".into(), "web".into());
        let (plan, slices) = step(&svc, &pods, slices, 100);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(
            slices[0]
                .metadata
                .labels
                .as_ref()
                .unwrap()
                .get("tier")
                .map(String::as_str),
            Some("web")
        );
        // A slice owned by an older Service of the same name is replaced.
        let mut old = slices[0].clone();
        old.metadata.owner_references.as_mut().unwrap()[0].uid = "old".into();
        let (plan, slices) = step(&svc, &pods, vec![old], 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (1, 0, 1)
        );
        assert_eq!(slices.len(), 1);
        assert_eq!(
            slices[0].metadata.owner_references.as_ref().unwrap()[0].uid,
            "svc-uid"
        );
    }

    #[test]
    fn missing_node_skips_pod() {
        let svc = service(IntOrString::Int(80));
        let pods = [pod("a", "10.244.1.2", true)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let desired = desired_endpoints(&svc, &refs, "IPv4", &|_| None);
        assert!(desired.values().all(|d| d.endpoints.is_empty()));
    }

    // ----- sync against a store, without the other controllers -----

    #[test]
    fn sync_writes_and_ignores_hand_written_slices() {
        let mut c = crate::Cluster::empty(crate::ClusterConfig::kind());
        let svc_key = ObjectKey::new(Kind::Service, "default", "httpd-svc");
        c.store
            .create(service(IntOrString::Int(80)).into())
            .unwrap();
        c.store.create(pod("a", "10.244.1.2", true).into()).unwrap();
        let node = k8s_openapi::api::core::v1::Node {
            metadata: ObjectMeta {
                name: Some("kind-worker".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        c.store.create(node.into()).unwrap();
        let hand = EndpointSlice {
            metadata: ObjectMeta {
                name: Some("hand".into()),
                namespace: Some("default".into()),
                labels: Some([(LABEL_SERVICE_NAME.to_string(), "httpd-svc".to_string())].into()),
                ..Default::default()
            },
            address_type: "IPv4".into(),
            endpoints: vec![],
            ports: None,
        };
        c.store.create(hand.clone().into()).unwrap();
        sync(&mut c, &svc_key);
        let slices: Vec<&EndpointSlice> = c.list_typed::<EndpointSlice>(Some("default")).collect();
        assert_eq!(slices.len(), 2);
        let ours = slices
            .iter()
            .find(|s| s.metadata.name.as_deref() != Some("hand"))
            .unwrap();
        assert!(
            ours.metadata
                .name
                .as_deref()
                .unwrap()
                .starts_with("httpd-svc-")
        );
        assert!(ours.metadata.uid.is_some());
        assert!(
            ours.metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(ANNOTATION_LAST_CHANGE_TRIGGER_TIME)
        );
        assert_eq!(ips(ours), ["10.244.1.2"]);
        let rv = c.resource_version();
        c.now_ms += 1000;
        sync(&mut c, &svc_key);
        assert_eq!(c.resource_version(), rv, "no change, no write");
        let stored = c.get_typed::<EndpointSlice>("default", "hand").unwrap();
        assert_eq!(stored.metadata.resource_version.as_deref(), Some("4"));
        assert_eq!(
            (&stored.endpoints, &stored.metadata.labels),
            (&hand.endpoints, &hand.metadata.labels)
        );
    }

    // ----- end to end, through the whole cluster -----

    use crate::controllers::endpoints::tests::httpd;

    fn managed(c: &crate::Cluster, svc: &str) -> Vec<EndpointSlice> {
        c.list_typed::<EndpointSlice>(Some("default"))
            .filter(|s| labelled_for(s, svc, CONTROLLER_NAME))
            .cloned()
            .collect()
    }

    fn pod_names(c: &crate::Cluster) -> Vec<String> {
        c.list_typed::<Pod>(Some("default"))
            .filter_map(|p| p.metadata.name.clone())
            .filter(|n| n.starts_with("httpd-"))
            .collect()
    }

    #[test]
    fn e2e_slice_follows_readiness_and_termination() {
        let mut c = crate::Cluster::kind();
        c.apply_manifests(&httpd(3, "80")).unwrap();
        c.settle();
        let slices = managed(&c, "httpd-svc");
        assert_eq!(slices.len(), 1);
        let s = &slices[0];
        assert_eq!(s.endpoints.len(), 3);
        assert!(s.endpoints.iter().all(|e| e.conditions
            == Some(EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false)
            })));
        assert!(s.endpoints.iter().all(|e| {
            e.node_name
                .as_deref()
                .is_some_and(|n| n.starts_with("kind-worker"))
        }));
        let port = &s.ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some(""), Some(80)));

        let names = pod_names(&c);
        c.set_pod_ready("default", &names[0], false).unwrap();
        let s = &managed(&c, "httpd-svc")[0];
        let by_pod = |s: &EndpointSlice, n: &str| {
            s.endpoints
                .iter()
                .find(|e| e.target_ref.as_ref().and_then(|r| r.name.as_deref()) == Some(n))
                .and_then(|e| e.conditions.clone())
        };
        assert_eq!(
            by_pod(s, &names[0]),
            Some(EndpointConditions {
                ready: Some(false),
                serving: Some(false),
                terminating: Some(false)
            })
        );

        c.delete(Kind::Pod, "default", &names[1]).unwrap();
        let s = &managed(&c, "httpd-svc")[0];
        assert_eq!(
            by_pod(s, &names[1]),
            Some(EndpointConditions {
                ready: Some(false),
                serving: Some(true),
                terminating: Some(true)
            })
        );
        c.settle();
        let s = &managed(&c, "httpd-svc")[0];
        assert!(by_pod(s, &names[1]).is_none());
        assert_eq!(s.endpoints.len(), 3);
        assert_eq!(managed(&c, "httpd-svc").len(), 1);

        // kube-dns has its slice too, with its named ports.
        let dns: Vec<&EndpointSlice> = c
            .list_typed::<EndpointSlice>(Some("kube-system"))
            .filter(|s| labelled_for(s, "kube-dns", CONTROLLER_NAME))
            .collect();
        assert_eq!(dns.len(), 1);
        assert_eq!(dns[0].endpoints.len(), 2);
    }

    #[test]
    fn e2e_scale_to_150_then_zero_then_delete() {
        let mut c = crate::Cluster::kind();
        c.apply_manifests(&httpd(3, "80")).unwrap();
        c.settle();
        let first = managed(&c, "httpd-svc")[0].metadata.name.clone();
        c.scale(Kind::Deployment, "default", "httpd", 150).unwrap();
        c.settle();
        let slices = managed(&c, "httpd-svc");
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [50, 100]);
        assert!(
            slices.iter().any(|s| s.metadata.name == first),
            "the first slice is kept"
        );
        assert_eq!(
            crate::controllers::endpoints::tests::endpoint_list(&c, true).len(),
            150
        );

        c.scale(Kind::Deployment, "default", "httpd", 0).unwrap();
        c.settle();
        let slices = managed(&c, "httpd-svc");
        assert_eq!(slices.len(), 1, "one placeholder");
        assert!(slices[0].endpoints.is_empty());
        assert_eq!(slices[0].ports, None);
        let ep = c
            .get_typed::<k8s_openapi::api::core::v1::Endpoints>("default", "httpd-svc")
            .unwrap();
        assert_eq!(ep.subsets, None);

        c.delete(Kind::Service, "default", "httpd-svc").unwrap();
        assert!(managed(&c, "httpd-svc").is_empty());
        assert!(
            c.get_typed::<k8s_openapi::api::core::v1::Endpoints>("default", "httpd-svc")
                .is_none()
        );
    }

    #[test]
    fn e2e_placeholder_for_a_service_without_pods() {
        let mut c = crate::Cluster::kind();
        c.apply_manifests(
            &httpd(1, "80")
                .split("---")
                .nth(1)
                .unwrap()
                .replace("app: httpd", "app: nobody"),
        )
        .unwrap();
        c.settle();
        let slices = managed(&c, "httpd-svc");
        assert_eq!(slices.len(), 1);
        let s = &slices[0];
        assert!(s.endpoints.is_empty() && s.ports.is_none());
        assert_eq!(s.address_type, "IPv4");
        assert!(
            s.metadata
                .name
                .as_deref()
                .unwrap()
                .starts_with("httpd-svc-")
        );
        let o = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (o.kind.as_str(), o.name.as_str(), o.controller),
            ("Service", "httpd-svc", Some(true))
        );
    }
}
