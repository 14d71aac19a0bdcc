//! The EndpointSlice mirroring controller:
//! `pkg/controller/endpointslicemirroring/endpointslicemirroring_controller.go` (`syncEndpoints`),
//! `reconciler.go`, `reconciler_helpers.go` and `utils.go`.
//!
//! A Service without a selector gets its endpoints from an Endpoints object written by hand; this
//! controller copies such an Endpoints into EndpointSlices labelled
//! `endpointslice.kubernetes.io/managed-by=`[`CONTROLLER_NAME`] and
//! `kubernetes.io/service-name=<name>`, so that consumers of slices (kube-proxy, CoreDNS) see it.
//! Nothing is mirrored when the Endpoints carries `endpointslice.kubernetes.io/skip-mirror: "true"`
//! (as `default/kubernetes` does: the apiserver writes that slice itself) or a leader-election
//! annotation, when the Service does not exist, or when the Service has a selector (then the
//! Endpoints belongs to the Endpoints controller); in those cases mirrored slices are deleted.
//!
//! As upstream, the subsets are first repacked, each port set becomes one slice (at most
//! [`MAX_ENDPOINTS_PER_SUBSET`] addresses), `addresses` become endpoints with `ready: true` and
//! `notReadyAddresses` with `ready: false` (no `serving`/`terminating`: upstream sets only
//! `ready`), and the slices are owned by the Endpoints object, so they go when it goes. They copy
//! the Endpoints' labels and its annotations except `last-change-trigger-time` and
//! `kubectl.kubernetes.io/last-applied-configuration`.

use crate::cluster::{Cluster, controller_ref};
use crate::controllers::endpoints::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, non_empty, repack_subsets, service_selector,
};
use crate::controllers::endpointslice::{
    EndpointSet, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, Plan, PortKey, apply_plan, owned_slices,
    port_key, sort_ports,
};
use crate::object::{Kind, Object, ObjectKey};
use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// This controller's `managed-by` value.
pub const CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
/// Label that stops an Endpoints object from being mirrored (`discovery.LabelSkipMirror`).
pub const LABEL_SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Most addresses mirrored per subset (`--mirroring-max-endpoints-per-subset`, default 1000).
pub const MAX_ENDPOINTS_PER_SUBSET: usize = 1000;
/// The leader-election record annotation (`resourcelock.LeaderElectionRecordAnnotationKey`).
const ANNOTATION_LEADER: &str = "control-plane.alpha.kubernetes.io/leader";
/// kubectl's record of the applied manifest, never copied to slices.
const ANNOTATION_LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The component name on this controller's events.
const COMPONENT: &str = "endpoint-slice-mirroring-controller";

/// `shouldMirror`: not labelled skip-mirror and not a leader-election record.
fn should_mirror(ep: &Endpoints) -> bool {
    let skip = ep
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_SKIP_MIRROR))
        .is_some_and(|v| v == "true");
    let leader = ep
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANNOTATION_LEADER));
    !skip && !leader
}

/// `epPortsToEpsPorts`: names always present (`""` when unnamed).
fn slice_ports(
    subset_ports: Option<&Vec<k8s_openapi::api::core::v1::EndpointPort>>,
) -> Vec<EndpointPort> {
    let mut out: Vec<EndpointPort> = subset_ports
        .into_iter()
        .flatten()
        .map(|p| EndpointPort {
            name: Some(p.name.clone().unwrap_or_default()),
            port: Some(p.port),
            protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
            app_protocol: p.app_protocol.clone(),
        })
        .collect();
    sort_ports(&mut out);
    out
}

/// `addressToEndpoint`: None for an address that is not an IP.
fn address_to_endpoint(address: &EndpointAddress, ready: bool) -> Option<(Endpoint, &'static str)> {
    let ip: IpAddr = address.ip.parse().ok()?;
    let address_type = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let ep = Endpoint {
        addresses: vec![ip.to_string()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..Default::default()
        }),
        target_ref: address.target_ref.clone(),
        node_name: address.node_name.clone(),
        hostname: address.hostname.clone().filter(|h| !h.is_empty()),
        ..Default::default()
    };
    Some((ep, address_type))
}

/// What a mirroring reconcile decided, plus the counts its events report.
#[derive(Debug, Default)]
pub(crate) struct Mirror {
    /// The slices to write.
    pub(crate) plan: Plan,
    /// Addresses that are not IPs.
    pub(crate) invalid: usize,
    /// Addresses skipped, invalid ones included (over [`MAX_ENDPOINTS_PER_SUBSET`]).
    pub(crate) skipped: usize,
}

/// The annotations a mirrored slice carries: the Endpoints' minus trigger-time and last-applied.
fn mirrored_annotations(ep: &Endpoints) -> BTreeMap<String, String> {
    let mut a = ep.metadata.annotations.clone().unwrap_or_default();
    a.remove(ANNOTATION_LAST_CHANGE_TRIGGER_TIME);
    a.remove(ANNOTATION_LAST_APPLIED);
    a
}

/// `newEndpointSlice`: named `name`, or by `generateName` when None.
fn new_slice(
    ep: &Endpoints,
    owner: &OwnerReference,
    ports: &[EndpointPort],
    address_type: &str,
    name: Option<String>,
) -> EndpointSlice {
    let ep_name = ep.metadata.name.clone().unwrap_or_default();
    let mut labels = ep.metadata.labels.clone().unwrap_or_default();
    labels.insert(LABEL_SERVICE_NAME.into(), ep_name.clone());
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: name.is_none().then(|| format!("{ep_name}-")),
            name,
            namespace: ep.metadata.namespace.clone(),
            owner_references: Some(vec![owner.clone()]),
            labels: Some(labels),
            annotations: non_empty(mirrored_annotations(ep)),
            ..Default::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: (!ports.is_empty()).then(|| ports.to_vec()),
    }
}

/// Whether `slice` already holds exactly `desired` (`totalChanges` finds nothing to add, update
/// or remove).
fn same_endpoints(slice: &EndpointSlice, desired: &EndpointSet) -> bool {
    let mut matches = 0;
    for ep in &slice.endpoints {
        match desired.get(ep) {
            Some(want) if want == ep => matches += 1,
            _ => return false,
        }
    }
    matches == desired.len()
}

/// The whole reconcile for one Endpoints object (`reconcile` and `finalize`'s `recycleSlices`).
pub(crate) fn reconcile(
    ep: &Endpoints,
    owner: &OwnerReference,
    existing: Vec<EndpointSlice>,
) -> Mirror {
    let mut out = Mirror::default();
    // Desired state, keyed by (address type, port set).
    let mut desired: BTreeMap<(String, PortKey), (Vec<EndpointPort>, EndpointSet)> =
        BTreeMap::new();
    for subset in repack_subsets(ep.subsets.clone().unwrap_or_default()) {
        let ports = slice_ports(subset.ports.as_ref());
        let key = port_key(&ports);
        for t in ["IPv4", "IPv6"] {
            desired
                .entry((t.to_string(), key.clone()))
                .or_insert_with(|| (ports.clone(), EndpointSet::default()));
        }
        let total = subset.addresses.as_ref().map_or(0, Vec::len)
            + subset.not_ready_addresses.as_ref().map_or(0, Vec::len);
        let mut added = 0;
        let lists = [
            (subset.addresses.iter().flatten(), true),
            (subset.not_ready_addresses.iter().flatten(), false),
        ];
        'lists: for (addresses, ready) in lists {
            for address in addresses {
                if added >= MAX_ENDPOINTS_PER_SUBSET {
                    break 'lists;
                }
                match address_to_endpoint(address, ready) {
                    Some((endpoint, t)) => {
                        if let Some((_, set)) = desired.get_mut(&(t.to_string(), key.clone())) {
                            set.insert(endpoint);
                        }
                        added += 1;
                    }
                    None => out.invalid += 1,
                }
            }
        }
        out.skipped += total - added;
    }

    let mut by_key: BTreeMap<(String, PortKey), Vec<EndpointSlice>> = BTreeMap::new();
    for s in existing {
        let key = (
            s.address_type.clone(),
            port_key(s.ports.as_deref().unwrap_or(&[])),
        );
        by_key.entry(key).or_default().push(s);
    }
    let plan = &mut out.plan;
    let want_labels = ep.metadata.labels.clone().unwrap_or_default();
    let want_annotations = mirrored_annotations(ep);
    for ((t, key), (ports, mut set)) in desired {
        let mut slices = by_key.remove(&(t.clone(), key)).unwrap_or_default();
        // reconcileByPortMapping: one slice per port set.
        if set.is_empty() {
            plan.delete.extend(slices);
            continue;
        }
        let name = if slices.is_empty() {
            None
        } else {
            plan.delete.extend(slices.drain(1..));
            let first = &slices[0];
            let mut labels = first.metadata.labels.clone().unwrap_or_default();
            labels.remove(LABEL_MANAGED_BY);
            labels.remove(LABEL_SERVICE_NAME);
            if same_endpoints(first, &set)
                && labels == want_labels
                && first.metadata.annotations.clone().unwrap_or_default() == want_annotations
            {
                continue;
            }
            first.metadata.name.clone()
        };
        let mut slice = new_slice(ep, owner, &ports, &t, name);
        while slice.endpoints.len() < MAX_ENDPOINTS_PER_SUBSET {
            let Some(e) = set.pop() else { break };
            slice.endpoints.push(e);
        }
        if slice.metadata.name.is_some() {
            plan.update.push(slice);
        } else {
            plan.create.push(slice);
        }
    }
    // Port sets no longer wanted.
    plan.delete.extend(by_key.into_values().flatten());

    // recycleSlices: pair the i-th create and the i-th delete of each address type.
    for t in ["IPv4", "IPv6"] {
        loop {
            let c = plan.create.iter().position(|s| s.address_type == t);
            let d = plan.delete.iter().position(|s| s.address_type == t);
            let (Some(c), Some(d)) = (c, d) else { break };
            let mut s = plan.create.remove(c);
            let gone = plan.delete.remove(d);
            s.metadata.name = gone.metadata.name;
            plan.update.push(s);
        }
    }
    out
}

/// Syncs the mirrored slices of the Endpoints named like the Service `key` (`syncEndpoints`).
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let ep_key = ObjectKey::new(Kind::Endpoints, &key.namespace, &key.name);
    let Some(ep_obj) = c.store.get(&ep_key).cloned() else {
        // No Endpoints: the garbage collector has removed the slices it owned.
        return;
    };
    let Object::Endpoints(ep) = &*ep_obj else {
        return;
    };
    let existing = owned_slices(c, ep_obj.uid(), &key.name, CONTROLLER_NAME);
    let svc = c.store.get(key).cloned();
    let selectorless =
        matches!(svc.as_deref(), Some(Object::Service(s)) if service_selector(s).is_none());
    if !should_mirror(ep) || !selectorless {
        for s in existing {
            let name = s.metadata.name.unwrap_or_default();
            c.remove_now(&ObjectKey::new(Kind::EndpointSlice, &key.namespace, &name));
        }
        return;
    }
    let mirror = reconcile(ep, &controller_ref(&ep_obj), existing);
    let mut warn = |reason: &str, message: String| {
        c.record_event(&ep_obj, None, "Warning", reason, message, COMPONENT, None);
    };
    if mirror.invalid > 0 {
        warn(
            "InvalidIPAddress",
            format!(
                "Skipped {} invalid IP addresses when mirroring to EndpointSlices",
                mirror.invalid
            ),
        );
    }
    if mirror.skipped > mirror.invalid {
        warn(
            "TooManyAddressesToMirror",
            format!(
                "A max of {MAX_ENDPOINTS_PER_SUBSET} addresses can be mirrored to EndpointSlices per Endpoints subset. {} addresses were skipped",
                mirror.skipped
            ),
        );
    }
    apply_plan(c, &key.namespace, mirror.plan, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointSubset, ObjectReference};

    fn endpoints(ready: &[&str], not_ready: &[&str], ports: &[(&str, i32)]) -> Endpoints {
        let addr = |ip: &&str| EndpointAddress {
            ip: ip.to_string(),
            ..Default::default()
        };
        Endpoints {
            metadata: ObjectMeta {
                name: Some("ext".into()),
                namespace: Some("default".into()),
                uid: Some("ep-uid".into()),
                labels: Some([("team".to_string(), "a".to_string())].into()),
                annotations: Some(
                    [
                        (ANNOTATION_LAST_APPLIED.to_string(), "{}".to_string()),
                        ("note".to_string(), "x".to_string()),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            subsets: Some(vec![EndpointSubset {
                addresses: (!ready.is_empty()).then(|| ready.iter().map(addr).collect()),
                not_ready_addresses: (!not_ready.is_empty())
                    .then(|| not_ready.iter().map(addr).collect()),
                ports: Some(
                    ports
                        .iter()
                        .map(|(n, p)| k8s_openapi::api::core::v1::EndpointPort {
                            name: (!n.is_empty()).then(|| n.to_string()),
                            port: *p,
                            protocol: Some("TCP".into()),
                            app_protocol: None,
                        })
                        .collect(),
                ),
            }]),
        }
    }

    fn owner(ep: &Endpoints) -> OwnerReference {
        controller_ref(&Object::Endpoints(Box::new(ep.clone())))
    }

    /// How many slices the plan creates, updates and deletes.
    fn counts(m: &Mirror) -> (usize, usize, usize) {
        (
            m.plan.create.len(),
            m.plan.update.len(),
            m.plan.delete.len(),
        )
    }

    /// Each endpoint's address and `ready` condition.
    fn readiness(s: &EndpointSlice) -> Vec<(&str, Option<bool>)> {
        s.endpoints
            .iter()
            .map(|e| {
                (
                    e.addresses[0].as_str(),
                    e.conditions.as_ref().and_then(|c| c.ready),
                )
            })
            .collect()
    }

    #[test]
    fn mirrors_addresses_ports_labels_and_annotations() {
        let ep = endpoints(
            &["192.0.2.11", "192.0.2.10"],
            &["192.0.2.12", "nope"],
            &[("", 80)],
        );
        let m = reconcile(&ep, &owner(&ep), vec![]);
        assert_eq!(m.invalid, 1);
        assert_eq!(counts(&m), (1, 0, 0));
        let s = &m.plan.create[0];
        assert_eq!(
            readiness(s),
            [
                ("192.0.2.10", Some(true)),
                ("192.0.2.11", Some(true)),
                ("192.0.2.12", Some(false))
            ]
        );
        let port = &s.ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some(""), Some(80)));
        let labels = s.metadata.labels.as_ref().unwrap();
        assert_eq!(
            labels.get(LABEL_MANAGED_BY).map(String::as_str),
            Some(CONTROLLER_NAME)
        );
        assert_eq!(
            labels.get(LABEL_SERVICE_NAME).map(String::as_str),
            Some("ext")
        );
        assert_eq!(labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(
            s.metadata.annotations,
            Some([("note".to_string(), "x".to_string())].into())
        );
        assert_eq!(s.metadata.generate_name.as_deref(), Some("ext-"));
        let o = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((o.kind.as_str(), o.uid.as_str()), ("Endpoints", "ep-uid"));

        // Stored as is: nothing to do next time.
        let mut stored = s.clone();
        stored.metadata.name = Some("ext-abcde".into());
        let m = reconcile(&ep, &owner(&ep), vec![stored.clone()]);
        assert_eq!(counts(&m), (0, 0, 0));

        // A port change recycles the slice (update, same name).
        let ep2 = endpoints(&["192.0.2.10"], &[], &[("web", 8080)]);
        let m = reconcile(&ep2, &owner(&ep2), vec![stored.clone()]);
        assert_eq!(counts(&m), (0, 1, 0));
        assert_eq!(m.plan.update[0].metadata.name.as_deref(), Some("ext-abcde"));
        assert_eq!(
            m.plan.update[0].ports.as_ref().unwrap()[0].name.as_deref(),
            Some("web")
        );

        // No addresses left: the slice goes.
        let mut empty = ep.clone();
        empty.subsets = None;
        let m = reconcile(&empty, &owner(&empty), vec![stored]);
        assert_eq!(counts(&m), (0, 0, 1));
    }

    #[test]
    fn too_many_addresses_are_skipped() {
        let ips: Vec<String> = (0..1005)
            .map(|i| format!("10.1.{}.{}", i / 250, i % 250 + 1))
            .collect();
        let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
        let ep = endpoints(&refs, &[], &[("", 80)]);
        let m = reconcile(&ep, &owner(&ep), vec![]);
        assert_eq!(m.skipped, 5);
        assert_eq!(m.plan.create[0].endpoints.len(), 1000);
    }

    #[test]
    fn should_mirror_respects_skip_label() {
        let mut ep = endpoints(&["192.0.2.10"], &[], &[("", 80)]);
        assert!(should_mirror(&ep));
        ep.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert(LABEL_SKIP_MIRROR.into(), "true".into());
        assert!(!should_mirror(&ep));
        let a = EndpointAddress {
            ip: "192.0.2.1".into(),
            hostname: Some(String::new()),
            node_name: Some("n".into()),
            target_ref: Some(ObjectReference {
                name: Some("p".into()),
                ..Default::default()
            }),
        };
        let (e, t) = address_to_endpoint(&a, false).unwrap();
        assert_eq!(
            (t, e.hostname, e.node_name.as_deref()),
            ("IPv4", None, Some("n"))
        );
    }

    // ----- end to end, through the whole cluster -----

    const EXT: &str = "apiVersion: v1
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
  - ip: 192.0.2.11
  notReadyAddresses:
  - ip: 192.0.2.12
  ports:
  - port: 80
";

    fn mirrored(c: &Cluster) -> Vec<EndpointSlice> {
        c.list_typed::<EndpointSlice>(Some("default"))
            .filter(|s| crate::controllers::endpointslice::labelled_for(s, "ext", CONTROLLER_NAME))
            .cloned()
            .collect()
    }

    #[test]
    fn e2e_mirrors_and_cleans_up() {
        let mut c = Cluster::kind();
        c.apply_manifests(EXT).unwrap();
        let slices = mirrored(&c);
        assert_eq!(slices.len(), 1);
        assert_eq!(
            readiness(&slices[0]),
            [
                ("192.0.2.10", Some(true)),
                ("192.0.2.11", Some(true)),
                ("192.0.2.12", Some(false))
            ]
        );
        let name = slices[0].metadata.name.clone();
        // Nothing else manages it: no slice from the EndpointSlice controller.
        assert!(!c.list_typed::<EndpointSlice>(Some("default")).any(|s| {
            crate::controllers::endpointslice::labelled_for(
                s,
                "ext",
                crate::controllers::endpointslice::CONTROLLER_NAME,
            )
        }));

        // An edit is mirrored into the same slice.
        c.apply_manifests(&EXT.replace("  - ip: 192.0.2.11\n", ""))
            .unwrap();
        let slices = mirrored(&c);
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0].metadata.name, name);
        assert_eq!(slices[0].endpoints.len(), 2);

        // Deleting the Endpoints removes the mirror.
        c.delete(Kind::Endpoints, "default", "ext").unwrap();
        assert!(mirrored(&c).is_empty());

        // Back, then the Service gains a selector: the mirror goes (the Endpoints is the
        // Endpoints controller's now).
        c.apply_manifests(EXT).unwrap();
        assert_eq!(mirrored(&c).len(), 1);
        c.apply_manifests(&EXT.replace(
            "spec:\n  ports:",
            "spec:\n  selector:\n    app: ext\n  ports:",
        ))
        .unwrap();
        assert!(mirrored(&c).is_empty());
    }

    #[test]
    fn e2e_kubernetes_endpoints_are_not_mirrored() {
        let c = Cluster::kind();
        let slices: Vec<String> = c
            .list_typed::<EndpointSlice>(Some("default"))
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        assert_eq!(slices, ["kubernetes"]);
    }

    #[test]
    fn e2e_service_deletion_removes_the_mirror() {
        let mut c = Cluster::kind();
        c.apply_manifests(EXT).unwrap();
        assert_eq!(mirrored(&c).len(), 1);
        c.delete(Kind::Service, "default", "ext").unwrap();
        assert!(mirrored(&c).is_empty());
        assert!(c.get_typed::<Endpoints>("default", "ext").is_none());
    }
}
