//! The Endpoints controller: `pkg/controller/endpoint/endpoints_controller.go` (`syncService`).
//!
//! For every Service with a selector it keeps one `Endpoints` object of the same name listing the
//! selected pods: ready pods under `addresses`, the others under `notReadyAddresses`, grouped into
//! subsets by the ports each pod resolves (`endpoints.RepackSubsets`,
//! `pkg/api/v1/endpoints/util.go`). Services without a selector are left alone — their Endpoints
//! are written by hand — and ExternalName Services get nothing. When a Service is deleted, the
//! Endpoints of the same name goes too (upstream deletes it whether or not it wrote it, so a
//! hand-written Endpoints of a selectorless Service disappears with its Service, as on a real
//! cluster).
//!
//! The helpers shared with the EndpointSlice controllers (which pods a Service selects, whether a
//! pod belongs in endpoints, `FindPort`, `ShouldSetHostname`) live here too; upstream has them in
//! `k8s.io/endpointslice/util/controller_utils.go`.
//!
//! The Endpoints it writes carry the Service's labels plus `endpoints.kubernetes.io/managed-by:
//! endpoint-controller` (added in 1.33 with the Endpoints deprecation, KEP-4974) and, for headless
//! Services, `service.kubernetes.io/headless`.
//!
//! Differences from upstream, all invisible in objects: the `last-change-trigger-time` annotation
//! is the virtual time of the write (upstream derives it from the pods' Ready transition times,
//! which the simulator sets at the same virtual instant); subsets and ports are ordered by their
//! content where upstream orders them by a hash (an arbitrary but fixed order); and a write
//! happens only when the truncated result differs from the stored object.

use crate::cluster::Cluster;
use crate::controllers::kubelet::pod_ready;
use crate::labels::map_matches;
use crate::object::{Kind, Object, ObjectKey};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Annotation with the time of the change that triggered the last write
/// (`v1.EndpointsLastChangeTriggerTime`).
pub const ANNOTATION_LAST_CHANGE_TRIGGER_TIME: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";
/// Annotation set to `truncated` when more than [`MAX_CAPACITY`] addresses were selected
/// (`v1.EndpointsOverCapacity`).
pub const ANNOTATION_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Label marking the Endpoints and EndpointSlices of a headless Service (`v1.IsHeadlessService`).
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// Label marking the Endpoints objects this controller writes (`LabelManagedBy`, since 1.33).
pub const LABEL_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// This controller's `managed-by` value (`ControllerName`).
pub const CONTROLLER_NAME: &str = "endpoint-controller";
/// Most addresses one Endpoints object holds (`maxCapacity`).
pub const MAX_CAPACITY: usize = 1000;

// ----- helpers shared with the EndpointSlice controllers -----

/// The Service's selector, when it has a non-empty one. An empty selector would select every pod;
/// the apiserver stores `selector: {}` as no selector, so both mean "no selector" here.
pub(crate) fn service_selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
}

/// Whether the Service is `type: ExternalName` (those get no endpoints: issue 105986).
pub(crate) fn is_external_name(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName")
}

/// `helper.IsServiceIPSet`: a ClusterIP that is neither empty nor `None`.
pub(crate) fn is_service_ip_set(svc: &Service) -> bool {
    let ip = svc
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or("");
    !ip.is_empty() && ip != "None"
}

/// Whether `spec.publishNotReadyAddresses` is set.
pub(crate) fn publish_not_ready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The pods in `namespace` whose labels match `selector`, in name order. Uses the store's label
/// index on the selector pair with the fewest pods, so the cost is that of the Service's own pods.
pub(crate) fn selected_pods(
    c: &Cluster,
    namespace: &str,
    selector: &BTreeMap<String, String>,
) -> Vec<Arc<Object>> {
    let mut smallest: Option<&BTreeSet<String>> = None;
    for (k, v) in selector {
        match c.store.pods_with_label(namespace, k, v) {
            None => return Vec::new(),
            Some(names) => {
                if smallest.is_none_or(|s| names.len() < s.len()) {
                    smallest = Some(names);
                }
            }
        }
    }
    let Some(names) = smallest else {
        return Vec::new();
    };
    // One key, renamed per pod: two string copies per pod were a tenth of a sync's work.
    let mut key = ObjectKey::new(Kind::Pod, namespace, "");
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        key.name.clear();
        key.name.push_str(n);
        if let Some(o) = c.store.get(&key)
            && map_matches(selector, o.meta().labels.as_ref())
        {
            out.push(o.clone());
        }
    }
    out
}

/// The opening checks of the pod-driven controllers' `syncService`: the pods the Service
/// selects, or None when it is `type: ExternalName` (no endpoints at all) or has no selector (its
/// endpoints are written elsewhere: by hand, or mirrored).
pub(crate) fn pods_to_sync(
    c: &Cluster,
    svc: &Service,
    namespace: &str,
) -> Option<Vec<Arc<Object>>> {
    if is_external_name(svc) {
        return None;
    }
    let selector = service_selector(svc)?;
    Some(selected_pods(c, namespace, selector))
}

/// The pods of `objects` (which come from [`selected_pods`]).
pub(crate) fn as_pods(objects: &[Arc<Object>]) -> Vec<&Pod> {
    objects.iter().filter_map(|o| o.as_typed::<Pod>()).collect()
}

/// `podutil.IsPodTerminal`: phase Succeeded or Failed.
fn pod_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The pod's IPs: `status.podIPs`, or `status.podIP` when the list is empty.
pub(crate) fn pod_ips(pod: &Pod) -> Vec<&str> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let ips: Vec<&str> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    if !ips.is_empty() {
        return ips;
    }
    status
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .into_iter()
        .collect()
}

/// `endpointsliceutil.ShouldPodBeInEndpoints`: not terminal, has an IP, and not terminating
/// unless `include_terminating`.
pub(crate) fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if pod_terminal(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// `endpointsliceutil.ShouldSetHostname`: the pod has a hostname and its subdomain names this
/// Service (in the same namespace).
pub(crate) fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or("");
    let subdomain = spec.and_then(|s| s.subdomain.as_deref()).unwrap_or("");
    !hostname.is_empty()
        && subdomain == svc.metadata.name.as_deref().unwrap_or("")
        && pod.metadata.namespace == svc.metadata.namespace
}

/// `podutil.FindPort`: a numeric targetPort as is; a named one is looked up among the containers'
/// ports (then restartable init containers, i.e. sidecars) by name and protocol.
pub(crate) fn find_port(pod: &Pod, svc_port: &ServicePort) -> Option<i32> {
    let target = svc_port
        .target_port
        .clone()
        .unwrap_or(IntOrString::Int(svc_port.port));
    match target {
        IntOrString::Int(n) => Some(n),
        IntOrString::String(name) => {
            let protocol = svc_port.protocol.as_deref().unwrap_or("TCP");
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// Whether `ip` is written as an IPv6 address.
pub(crate) fn is_ipv6(ip: &str) -> bool {
    ip.contains(':')
}

/// The virtual now as the `last-change-trigger-time` annotation writes it (RFC 3339, UTC).
pub(crate) fn trigger_time(c: &Cluster) -> String {
    match serde_json::to_value(c.time()) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A label or annotation map as the apiserver returns it: an empty map is no map.
pub(crate) fn non_empty(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

// ----- the Endpoints controller -----

/// `podToEndpointAddressForService`: the pod IP of the Service's IP family, node name and a
/// reference to the pod. None when the pod has no IP of that family.
fn pod_to_endpoint_address(svc: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let ips = pod_ips(pod);
    let spec = svc.spec.as_ref();
    let want_v6 = match spec
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())
    {
        Some(family) => family == "IPv6",
        None => match spec.and_then(|s| s.cluster_ip.as_deref()) {
            Some(ip) if !ip.is_empty() && ip != "None" => is_ipv6(ip),
            _ => ips.first().is_some_and(|ip| is_ipv6(ip)),
        },
    };
    let ip = ips.into_iter().find(|ip| is_ipv6(ip) == want_v6)?;
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    Some(EndpointAddress {
        ip: ip.to_string(),
        node_name: node,
        target_ref: Some(pod_reference(pod)),
        hostname: None,
    })
}

/// `{kind: Pod, namespace, name, uid}`, as both controllers reference pods.
pub(crate) fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// The EndpointSubsets a Service should have for `pods` (`syncService`'s loop, then
/// [`repack_subsets`]), before truncation to [`MAX_CAPACITY`].
///
/// Pods without an IP, in a terminal phase, or terminating (unless `publishNotReadyAddresses`)
/// are left out. A pod in which a named targetPort does not resolve is left out for that port.
/// A headless Service without ports lists addresses with no ports.
pub fn desired_subsets(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let publish = publish_not_ready(svc);
    let spec = svc.spec.as_ref();
    let ports: &[ServicePort] = spec.and_then(|s| s.ports.as_deref()).unwrap_or(&[]);
    let headless_no_ports =
        ports.is_empty() && spec.and_then(|s| s.cluster_ip.as_deref()) == Some("None");
    let mut subsets = Vec::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, publish) {
            continue;
        }
        let Some(mut address) = pod_to_endpoint_address(svc, pod) else {
            continue;
        };
        if should_set_hostname(pod, svc) {
            address.hostname = pod.spec.as_ref().and_then(|s| s.hostname.clone());
        }
        let ready = publish || pod_ready(pod);
        let subset = |address: EndpointAddress, port: Option<EndpointPort>| {
            let addresses = Some(vec![address]);
            let (addresses, not_ready_addresses) = if ready {
                (addresses, None)
            } else {
                (None, addresses)
            };
            EndpointSubset {
                addresses,
                not_ready_addresses,
                ports: port.map(|p| vec![p]),
            }
        };
        if ports.is_empty() {
            if headless_no_ports {
                subsets.push(subset(address, None));
            }
            continue;
        }
        let mut resolved = ports
            .iter()
            .filter_map(|sp| {
                Some(EndpointPort {
                    name: sp.name.clone().filter(|n| !n.is_empty()),
                    port: find_port(pod, sp)?,
                    protocol: sp.protocol.clone(),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .peekable();
        // One subset per resolved port; the last one takes the address itself.
        while let Some(port) = resolved.next() {
            let address = if resolved.peek().is_some() {
                address.clone()
            } else {
                std::mem::take(&mut address)
            };
            subsets.push(subset(address, Some(port)));
        }
    }
    repack_subsets(subsets)
}

/// An EndpointPort as a comparable key; `port == -1` is RepackSubsets' "no ports" sentinel.
/// Keys borrow from the subsets being repacked: a sync of a 200-pod Service compares each
/// address several times, and owned keys made that mostly string copies.
type PortKey<'a> = (Option<&'a str>, i32, Option<&'a str>, Option<&'a str>);
/// An address's identity in RepackSubsets: IP and target UID.
type AddressKey<'a> = (&'a str, Option<&'a str>);

fn port_key(p: &EndpointPort) -> PortKey<'_> {
    (
        p.name.as_deref(),
        p.port,
        p.protocol.as_deref(),
        p.app_protocol.as_deref(),
    )
}

fn address_key(a: &EndpointAddress) -> AddressKey<'_> {
    (
        a.ip.as_str(),
        a.target_ref.as_ref().and_then(|r| r.uid.as_deref()),
    )
}

/// `endpoints.RepackSubsets`: regroups addresses so that each subset holds the addresses that
/// offer exactly the same ports. An address that is not ready for any port is not ready. Within a
/// subset, addresses are sorted by IP compared as strings (so `10.244.2.10` comes before
/// `10.244.2.9`), then UID; ports are sorted by name, port and protocol; subsets by their ports.
pub fn repack_subsets(mut subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    /// Where an address first appears: subset, ready list or not, index.
    type At = (usize, bool, usize);
    type PortAddrs<'a> = (Option<&'a EndpointPort>, BTreeMap<AddressKey<'a>, bool>);
    /// A subset to be: its addresses' places and readiness, and its ports.
    type Group = (Vec<(At, bool)>, Vec<EndpointPort>);
    // The groups, by the addresses' places in `subsets` (so they can be moved out, not copied:
    // a 200-pod Service's sync copied every address here), and their ports.
    let mut grouped: Vec<Group> = Vec::new();
    {
        let mut all_addrs: BTreeMap<AddressKey, At> = BTreeMap::new();
        let mut port_to_addrs: BTreeMap<PortKey, PortAddrs> = BTreeMap::new();
        for (i, subset) in subsets.iter().enumerate() {
            let ports: Vec<Option<&EndpointPort>> = match subset.ports.as_deref() {
                None | Some([]) => vec![None],
                Some(ports) => ports.iter().map(Some).collect(),
            };
            for port in ports {
                let key = port.map_or((None, -1, None, None), port_key);
                let entry = port_to_addrs
                    .entry(key)
                    .or_insert_with(|| (port, BTreeMap::new()));
                let lists = [
                    (subset.addresses.iter().flatten(), true),
                    (subset.not_ready_addresses.iter().flatten(), false),
                ];
                for (addrs, ready) in lists {
                    for (j, addr) in addrs.enumerate() {
                        let k = address_key(addr);
                        all_addrs.entry(k).or_insert((i, ready, j));
                        // Not ready always wins over ready.
                        let state = entry.1.entry(k).or_insert(ready);
                        *state = *state && ready;
                    }
                }
            }
        }
        // Group ports by the exact set of (address, readiness) that offers them.
        let mut groups: BTreeMap<Vec<(AddressKey, bool)>, Vec<&EndpointPort>> = BTreeMap::new();
        for (_, (port, addrs)) in port_to_addrs {
            let group = groups.entry(addrs.into_iter().collect()).or_default();
            if let Some(p) = port.filter(|p| p.port > 0) {
                group.push(p);
            }
        }
        for (addrs, mut ports) in groups {
            if addrs.is_empty() {
                continue;
            }
            ports.sort_by_key(|p| port_key(p));
            let places = addrs
                .into_iter()
                .filter_map(|(k, r)| Some((*all_addrs.get(&k)?, r)))
                .collect();
            grouped.push((places, ports.into_iter().cloned().collect()));
        }
    }
    // An address offered in several groups is copied into each but the last.
    let mut uses: BTreeMap<At, usize> = BTreeMap::new();
    for (places, _) in &grouped {
        for (at, _) in places {
            *uses.entry(*at).or_default() += 1;
        }
    }
    let mut out: Vec<EndpointSubset> = grouped
        .into_iter()
        .map(|(places, ports)| {
            let mut ready = Vec::new();
            let mut not_ready = Vec::new();
            for ((i, was_ready, j), r) in places {
                let subset = &mut subsets[i];
                let list = if was_ready {
                    subset.addresses.as_mut()
                } else {
                    subset.not_ready_addresses.as_mut()
                };
                let Some(slot) = list.and_then(|l| l.get_mut(j)) else {
                    continue;
                };
                let left = uses.get_mut(&(i, was_ready, j)).expect("counted above");
                *left -= 1;
                let address = if *left == 0 {
                    std::mem::take(slot)
                } else {
                    slot.clone()
                };
                if r {
                    ready.push(address);
                } else {
                    not_ready.push(address);
                }
            }
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    fn order(s: &EndpointSubset) -> (Vec<PortKey<'_>>, Option<AddressKey<'_>>) {
        (
            s.ports.iter().flatten().map(port_key).collect(),
            s.addresses
                .iter()
                .chain(s.not_ready_addresses.iter())
                .flatten()
                .map(address_key)
                .next(),
        )
    }
    out.sort_by(|a, b| order(a).cmp(&order(b)));
    out
}

/// `truncateEndpoints`: keeps at most [`MAX_CAPACITY`] addresses, ready ones first, each subset
/// keeping its share (rounded up). Returns whether anything was cut.
pub fn truncate_subsets(subsets: &mut [EndpointSubset]) -> bool {
    let len = |v: &Option<Vec<EndpointAddress>>| v.as_ref().map_or(0, Vec::len);
    let total_ready: usize = subsets.iter().map(|s| len(&s.addresses)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| len(&s.not_ready_addresses)).sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, num_total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_be_added = max;
    for subset in subsets.iter_mut() {
        let in_subset = if truncate_ready {
            len(&subset.addresses)
        } else {
            len(&subset.not_ready_addresses)
        };
        // ceil(in_subset / num_total * max), in integers.
        let share = (in_subset * max).div_ceil(num_total.max(1));
        let to_be_added = share.min(can_be_added);
        if truncate_ready {
            if let Some(a) = subset.addresses.as_mut() {
                a.truncate(to_be_added);
            }
            subset.not_ready_addresses = None;
            can_be_added -= len(&subset.addresses);
        } else {
            if let Some(a) = subset.not_ready_addresses.as_mut() {
                a.truncate(to_be_added);
            }
            can_be_added -= len(&subset.not_ready_addresses);
        }
        if subset.addresses.as_ref().is_some_and(Vec::is_empty) {
            subset.addresses = None;
        }
        if subset
            .not_ready_addresses
            .as_ref()
            .is_some_and(Vec::is_empty)
        {
            subset.not_ready_addresses = None;
        }
    }
    true
}

/// The Endpoints the controller wants for `svc`, built on `current` (whose other annotations are
/// kept) with the trigger-time annotation of `current` (the caller stamps a new one on a write).
fn desired_endpoints(svc: &Service, current: Option<&Endpoints>, pods: &[&Pod]) -> Endpoints {
    let mut subsets = desired_subsets(svc, pods);
    // Only the current object's metadata is kept: its subsets are replaced (and would be a copy
    // of every address).
    let mut ep = Endpoints {
        metadata: current.map_or_else(
            || ObjectMeta {
                name: svc.metadata.name.clone(),
                namespace: svc.metadata.namespace.clone(),
                ..Default::default()
            },
            |c| c.metadata.clone(),
        ),
        subsets: None,
    };
    let mut annotations = ep.metadata.annotations.take().unwrap_or_default();
    if truncate_subsets(&mut subsets) {
        annotations.insert(ANNOTATION_OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(ANNOTATION_OVER_CAPACITY);
    }
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    if is_service_ip_set(svc) {
        labels.remove(LABEL_HEADLESS);
    } else {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    ep.metadata.labels = Some(labels);
    ep.metadata.annotations = non_empty(annotations);
    ep.subsets = (!subsets.is_empty()).then_some(subsets);
    ep
}

/// Syncs the Endpoints of one Service (`syncService`).
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let ep_key = ObjectKey::new(Kind::Endpoints, &key.namespace, &key.name);
    let svc_obj = c.store.get(key).cloned();
    let Some(Object::Service(svc)) = svc_obj.as_deref() else {
        // The Service is gone: its Endpoints goes too.
        if c.store.get(&ep_key).is_some() {
            c.remove_now(&ep_key);
        }
        return;
    };
    let Some(pods) = pods_to_sync(c, svc, &key.namespace) else {
        // Endpoints of selectorless Services are written by hand.
        return;
    };
    let current_obj = c.store.get(&ep_key).cloned();
    let current = current_obj
        .as_deref()
        .and_then(|o| o.as_typed::<Endpoints>());
    let mut desired = desired_endpoints(svc, current, &as_pods(&pods));
    if current == Some(&desired) {
        return;
    }
    let now = trigger_time(c);
    desired
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(ANNOTATION_LAST_CHANGE_TRIGGER_TIME.into(), now);
    if current.is_some() {
        c.sys_update(Object::Endpoints(Box::new(desired)));
    } else {
        c.sys_create(Object::Endpoints(Box::new(desired)));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Cluster;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(crate) fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                labels: Some(labels(&[("app", "httpd")])),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some("kind-worker".into()),
                containers: vec![Container {
                    name: "httpd".into(),
                    ports: Some(vec![ContainerPort {
                        container_port: 80,
                        name: Some("http".into()),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: (!ip.is_empty()).then(|| ip.to_string()),
                pod_ips: (!ip.is_empty()).then(|| vec![PodIP { ip: ip.into() }]),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    pub(crate) fn service(target: IntOrString) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("httpd-svc".into()),
                namespace: Some("default".into()),
                uid: Some("svc-uid".into()),
                labels: Some(labels(&[("app", "httpd")])),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some(labels(&[("app", "httpd")])),
                cluster_ip: Some("10.96.100.1".into()),
                ip_families: Some(vec!["IPv4".into()]),
                ports: Some(vec![ServicePort {
                    port: 8080,
                    protocol: Some("TCP".into()),
                    target_port: Some(target),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    /// The one container port of a [`pod`] (`http`, 80).
    pub(crate) fn http_port(pod: &mut Pod) -> &mut ContainerPort {
        let containers = &mut pod.spec.as_mut().unwrap().containers;
        &mut containers[0].ports.as_mut().unwrap()[0]
    }

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        list.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn ready_pods_sorted_by_ip_as_strings() {
        let svc = service(IntOrString::Int(80));
        let pods = [
            pod("a", "10.244.2.9", true),
            pod("b", "10.244.1.7", true),
            pod("c", "10.244.2.10", true),
        ];
        let subsets = desired_subsets(&svc, &pods.iter().collect::<Vec<_>>());
        assert_eq!(subsets.len(), 1);
        assert_eq!(
            ips(&subsets[0].addresses),
            ["10.244.1.7", "10.244.2.10", "10.244.2.9"]
        );
        assert_eq!(subsets[0].not_ready_addresses, None);
        let ports = subsets[0].ports.as_ref().unwrap();
        assert_eq!(
            (
                ports[0].name.as_deref(),
                ports[0].port,
                ports[0].protocol.as_deref()
            ),
            (None, 80, Some("TCP"))
        );
        let a = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(a.node_name.as_deref(), Some("kind-worker"));
        let r = a.target_ref.as_ref().unwrap();
        assert_eq!(
            (r.kind.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("Pod"), Some("b"), Some("uid-b"))
        );
    }

    #[test]
    fn unready_terminating_terminal_and_ipless_pods() {
        let svc = service(IntOrString::Int(80));
        let mut terminating = pod("t", "10.244.1.4", true);
        terminating.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut done = pod("d", "10.244.1.5", false);
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let pods = [
            pod("a", "10.244.1.2", true),
            pod("b", "10.244.1.3", false),
            terminating,
            done,
            pod("p", "", false),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let subsets = desired_subsets(&svc, &refs);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.244.1.2"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.244.1.3"]);

        // publishNotReadyAddresses: everything with an IP and not terminal is ready, even
        // terminating pods.
        let mut publish = svc.clone();
        publish.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let subsets = desired_subsets(&publish, &refs);
        assert_eq!(
            ips(&subsets[0].addresses),
            ["10.244.1.2", "10.244.1.3", "10.244.1.4"]
        );
        assert_eq!(subsets[0].not_ready_addresses, None);
    }

    #[test]
    fn named_target_port_resolves_per_pod() {
        let svc = service(IntOrString::String("http".into()));
        let mut other = pod("b", "10.244.1.3", true);
        http_port(&mut other).container_port = 8080;
        let mut unnamed = pod("c", "10.244.1.4", true);
        http_port(&mut unnamed).name = None;
        let pods = [pod("a", "10.244.1.2", true), other, unnamed];
        let subsets = desired_subsets(&svc, &pods.iter().collect::<Vec<_>>());
        let summary: Vec<(Vec<&str>, i32)> = subsets
            .iter()
            .map(|s| (ips(&s.addresses), s.ports.as_ref().unwrap()[0].port))
            .collect();
        assert_eq!(
            summary,
            [(vec!["10.244.1.2"], 80), (vec!["10.244.1.3"], 8080)]
        );
    }

    #[test]
    fn repack_merges_ports_and_not_ready_wins() {
        let svc_port = |name: &str, port: i32| EndpointPort {
            name: Some(name.into()),
            port,
            protocol: Some("TCP".into()),
            app_protocol: None,
        };
        let addr = |ip: &str| EndpointAddress {
            ip: ip.into(),
            ..Default::default()
        };
        let subsets = vec![
            EndpointSubset {
                addresses: Some(vec![addr("10.0.0.2"), addr("10.0.0.1")]),
                ports: Some(vec![svc_port("b", 2)]),
                ..Default::default()
            },
            EndpointSubset {
                addresses: Some(vec![addr("10.0.0.1")]),
                not_ready_addresses: Some(vec![addr("10.0.0.2")]),
                ports: Some(vec![svc_port("a", 1)]),
            },
            EndpointSubset {
                addresses: Some(vec![addr("10.0.0.2"), addr("10.0.0.1")]),
                ports: Some(vec![svc_port("a", 1)]),
                ..Default::default()
            },
        ];
        let out = repack_subsets(subsets);
        let summary: Vec<(Vec<&str>, Vec<&str>, Vec<i32>)> = out
            .iter()
            .map(|s| {
                (
                    ips(&s.addresses),
                    ips(&s.not_ready_addresses),
                    s.ports.iter().flatten().map(|p| p.port).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (vec!["10.0.0.1"], vec!["10.0.0.2"], vec![1]),
                (vec!["10.0.0.1", "10.0.0.2"], vec![], vec![2]),
            ]
        );
    }

    #[test]
    fn headless_without_ports_and_hostname() {
        let mut svc = service(IntOrString::Int(80));
        let spec = svc.spec.as_mut().unwrap();
        spec.ports = None;
        spec.cluster_ip = Some("None".into());
        let mut p = pod("web-0", "10.244.1.2", true);
        let ps = p.spec.as_mut().unwrap();
        ps.hostname = Some("web-0".into());
        ps.subdomain = Some("httpd-svc".into());
        let subsets = desired_subsets(&svc, &[&p]);
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0].ports, None);
        let a = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(a.hostname.as_deref(), Some("web-0"));
        let ep = desired_endpoints(&svc, None, &[&p]);
        assert_eq!(
            ep.metadata
                .labels
                .unwrap()
                .get(LABEL_HEADLESS)
                .map(String::as_str),
            Some("")
        );
    }

    #[test]
    fn truncation_keeps_ready_first() {
        let svc = service(IntOrString::Int(80));
        let pods: Vec<Pod> = (0..1100)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("10.0.{}.{}", i / 200, i % 200 + 1),
                    i < 950,
                )
            })
            .collect();
        let ep = desired_endpoints(&svc, None, &pods.iter().collect::<Vec<_>>());
        let s = &ep.subsets.unwrap()[0];
        assert_eq!(s.addresses.as_ref().unwrap().len(), 950);
        assert_eq!(s.not_ready_addresses.as_ref().unwrap().len(), 50);
        assert_eq!(
            ep.metadata
                .annotations
                .unwrap()
                .get(ANNOTATION_OVER_CAPACITY)
                .map(String::as_str),
            Some("truncated")
        );
    }

    // ----- sync against a store, without the other controllers -----

    fn bare_cluster() -> Cluster {
        Cluster::empty(crate::ClusterConfig::kind())
    }

    fn put(c: &mut Cluster, o: impl Into<Object>) {
        c.store.create(o.into()).unwrap();
    }

    fn svc_key() -> ObjectKey {
        ObjectKey::new(Kind::Service, "default", "httpd-svc")
    }

    #[test]
    fn sync_creates_updates_only_on_change_and_deletes() {
        let mut c = bare_cluster();
        put(&mut c, service(IntOrString::Int(80)));
        put(&mut c, pod("a", "10.244.1.2", true));
        let mut other = pod("z", "10.244.1.9", true);
        other.metadata.labels = Some(labels(&[("app", "other")]));
        put(&mut c, other);
        sync(&mut c, &svc_key());
        let ep = c
            .get_typed::<Endpoints>("default", "httpd-svc")
            .unwrap()
            .clone();
        assert_eq!(
            ips(&ep.subsets.as_ref().unwrap()[0].addresses),
            ["10.244.1.2"]
        );
        let annotations = ep.metadata.annotations.clone().unwrap();
        assert!(annotations.contains_key(ANNOTATION_LAST_CHANGE_TRIGGER_TIME));
        assert_eq!(
            ep.metadata.labels,
            Some(labels(&[
                ("app", "httpd"),
                (LABEL_MANAGED_BY, CONTROLLER_NAME)
            ]))
        );

        // Nothing changed: no write, even later.
        let rv = c.resource_version();
        c.now_ms += 5_000;
        sync(&mut c, &svc_key());
        assert_eq!(c.resource_version(), rv);

        // Service gone: Endpoints gone.
        c.store.remove(&svc_key()).unwrap();
        sync(&mut c, &svc_key());
        assert!(c.get_typed::<Endpoints>("default", "httpd-svc").is_none());
    }

    #[test]
    fn sync_leaves_selectorless_endpoints_alone() {
        let mut c = bare_cluster();
        let mut svc = service(IntOrString::Int(80));
        svc.spec.as_mut().unwrap().selector = Some(BTreeMap::new());
        put(&mut c, svc);
        put(&mut c, pod("a", "10.244.1.2", true));
        let hand = Endpoints {
            metadata: ObjectMeta {
                name: Some("httpd-svc".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            subsets: Some(vec![EndpointSubset {
                addresses: Some(vec![EndpointAddress {
                    ip: "192.0.2.10".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }]),
        };
        put(&mut c, hand.clone());
        let rv = c.resource_version();
        sync(&mut c, &svc_key());
        assert_eq!(c.resource_version(), rv);
    }

    // ----- end to end, through the whole cluster -----

    /// A Deployment `httpd` (container port 80 named `http`) and the Service `httpd-svc`
    /// (port 8080 → `target`).
    pub(crate) fn httpd(replicas: i32, target: &str) -> String {
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: httpd
  template:
    metadata:
      labels:
        app: httpd
    spec:
      containers:
      - name: httpd
        image: httpd
        ports:
        - containerPort: 80
          name: http
---
apiVersion: v1
kind: Service
metadata:
  name: httpd-svc
spec:
  selector:
    app: httpd
  ports:
  - port: 8080
    targetPort: {target}
"
        )
    }

    /// `ip:port` of every ready (or not-ready) address, as `kubectl describe` lists them.
    pub(crate) fn endpoint_list(c: &Cluster, ready: bool) -> Vec<String> {
        let Some(ep) = c.get_typed::<Endpoints>("default", "httpd-svc") else {
            return vec![];
        };
        let mut out = vec![];
        for s in ep.subsets.iter().flatten() {
            let list = if ready {
                &s.addresses
            } else {
                &s.not_ready_addresses
            };
            for a in list.iter().flatten() {
                for p in s.ports.iter().flatten() {
                    out.push(format!("{}:{}", a.ip, p.port));
                }
            }
        }
        out
    }

    fn httpd_pods(c: &Cluster) -> Vec<Pod> {
        c.list_typed::<Pod>(Some("default"))
            .filter(|p| {
                p.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("httpd-"))
            })
            .cloned()
            .collect()
    }

    #[test]
    fn e2e_three_ready_pods_sorted_as_strings() {
        let mut c = Cluster::kind();
        c.apply_manifests(&httpd(3, "80")).unwrap();
        // Before the pods start: an Endpoints with no subsets.
        let ep = c.get_typed::<Endpoints>("default", "httpd-svc").unwrap();
        assert_eq!(ep.subsets, None);
        c.settle();
        let list = endpoint_list(&c, true);
        assert_eq!(list.len(), 3, "{list:?}");
        let mut sorted = list.clone();
        sorted.sort();
        assert_eq!(list, sorted);
        assert!(list.iter().all(|a| a.ends_with(":80")));
        assert!(endpoint_list(&c, false).is_empty());
        let ep = c.get_typed::<Endpoints>("default", "httpd-svc").unwrap();
        assert_eq!(
            ep.metadata.labels,
            Some(labels(&[(LABEL_MANAGED_BY, CONTROLLER_NAME)]))
        );
        assert!(
            ep.metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(ANNOTATION_LAST_CHANGE_TRIGGER_TIME)
        );
        // Settled: moving time on writes nothing.
        let rv = c.resource_version();
        c.advance(60_000);
        assert_eq!(c.resource_version(), rv);
        // kube-dns got its Endpoints from the same controller; kubernetes kept its own.
        let dns = c.get_typed::<Endpoints>("kube-system", "kube-dns").unwrap();
        let ports: Vec<(Option<&str>, i32)> = dns.subsets.as_ref().unwrap()[0]
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.as_deref(), p.port))
            .collect();
        assert_eq!(
            ports,
            [
                (Some("dns"), 53),
                (Some("dns-tcp"), 53),
                (Some("metrics"), 9153)
            ]
        );
        assert_eq!(
            dns.subsets.as_ref().unwrap()[0]
                .addresses
                .as_ref()
                .map(Vec::len),
            Some(2)
        );
        let k = c.get_typed::<Endpoints>("default", "kubernetes").unwrap();
        assert_eq!(
            k.subsets.as_ref().unwrap()[0].addresses.as_ref().unwrap()[0].ip,
            "172.18.0.2"
        );
    }

    #[test]
    fn e2e_unready_and_terminating_pods() {
        let mut c = Cluster::kind();
        c.apply_manifests(&httpd(3, "80")).unwrap();
        c.settle();
        let pods = httpd_pods(&c);
        let (a, b) = (pods[0].clone(), pods[1].clone());
        let ip = |p: &Pod| {
            format!(
                "{}:80",
                p.status.as_ref().unwrap().pod_ip.as_deref().unwrap()
            )
        };
        c.set_pod_ready("default", a.metadata.name.as_deref().unwrap(), false)
            .unwrap();
        assert_eq!(endpoint_list(&c, false), [ip(&a)]);
        assert_eq!(endpoint_list(&c, true).len(), 2);
        // Deleting a pod: it leaves the Endpoints at once (it is terminating).
        c.delete(Kind::Pod, "default", b.metadata.name.as_deref().unwrap())
            .unwrap();
        assert!(!endpoint_list(&c, true).contains(&ip(&b)));
        assert!(!endpoint_list(&c, false).contains(&ip(&b)));
        c.settle();
        assert_eq!(endpoint_list(&c, true).len(), 2);
        assert_eq!(endpoint_list(&c, false), [ip(&a)]);
    }

    #[test]
    fn e2e_named_target_port_and_service_deletion() {
        let mut c = Cluster::kind();
        c.apply_manifests(&httpd(2, "http")).unwrap();
        c.settle();
        assert_eq!(endpoint_list(&c, true).len(), 2);
        assert!(endpoint_list(&c, true).iter().all(|a| a.ends_with(":80")));
        // A pod of the same app without the named port is left out.
        c.apply_manifests(
            "apiVersion: v1
kind: Pod
metadata:
  name: httpd-bare
  labels:
    app: httpd
spec:
  containers:
  - name: httpd
    image: httpd
",
        )
        .unwrap();
        c.settle();
        assert_eq!(endpoint_list(&c, true).len(), 2);
        c.delete(Kind::Service, "default", "httpd-svc").unwrap();
        assert!(c.get_typed::<Endpoints>("default", "httpd-svc").is_none());
    }

    #[test]
    fn e2e_selectorless_service_keeps_hand_written_endpoints() {
        let mut c = Cluster::kind();
        c.apply_manifests(
            "apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  ports:
  - port: 80
---
apiVersion: v1
kind: Endpoints
metadata:
  name: ext
subsets:
- addresses:
  - ip: 192.0.2.10
  ports:
  - port: 80
",
        )
        .unwrap();
        c.settle();
        let ep = c.get_typed::<Endpoints>("default", "ext").unwrap();
        assert_eq!(ep.metadata.annotations, None);
        assert_eq!(
            ep.subsets.as_ref().unwrap()[0].addresses.as_ref().unwrap()[0].ip,
            "192.0.2.10"
        );
        // Deleting the Service deletes its Endpoints too, as upstream does.
        c.delete(Kind::Service, "default", "ext").unwrap();
        assert!(c.get_typed::<Endpoints>("default", "ext").is_none());
    }
}
