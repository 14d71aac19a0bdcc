//! The StatefulSet controller (`pkg/controller/statefulset`: `stateful_set.go`,
//! `stateful_set_control.go`, `stateful_set_utils.go`, `stateful_pod_control.go`), as in 1.33
//! with its default feature gates.
//!
//! A StatefulSet `web` with `replicas: N` owns pods `web-0` … `web-(N-1)` (from
//! `spec.ordinals.start` if set). Each pod gets a stable identity: `spec.hostname` = its name and
//! `spec.subdomain` = `spec.serviceName`, so the EndpointSlice controller publishes its hostname
//! and CoreDNS answers `web-0.nginx.default.svc.cluster.local`; and the labels
//! `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
//! `controller-revision-hash`. With `podManagementPolicy: OrderedReady` (the default) pod `i` is
//! created only when `0..i` are Running and Ready, scale-down removes the highest ordinal first
//! and waits for it to terminate; `Parallel` creates and deletes all at once. A deleted pod comes
//! back with the same name. A template change rolls out from the highest ordinal down to
//! `rollingUpdate.partition`, one pod at a time; `OnDelete` waits for the user to delete pods.
//! Events: `SuccessfulCreate` "create Pod web-0 in StatefulSet web successful",
//! `SuccessfulDelete` likewise, `FailedCreate` when the apiserver rejects a pod.
//!
//! Departures, each stated where it matters:
//! - No PersistentVolumeClaims: `volumeClaimTemplates` are accepted and give each pod its
//!   `persistentVolumeClaim` volume (`<claim>-web-0`) as upstream, but no claim is created and
//!   the simulated kubelet starts the pod without storage.
//! - No ControllerRevision objects are stored: revisions are named by hashing the template as
//!   `history.HashControllerRevision` does. So a pod below the partition that is recreated in
//!   the middle of a rollout gets the update revision (upstream rebuilds the current revision's
//!   template from its ControllerRevision).
//! - Orphaned pods are not adopted; a pod with a set's pod name that the set does not own blocks
//!   that ordinal (upstream adopts it when its labels match the selector).

use crate::cluster::{Cluster, controller_ref};
use crate::controllers::kubelet::pod_ready;
use crate::controllers::replicaset::{nonzero, owned_pods};
use crate::names::{fnv32, safe_encode};
use crate::object::{Kind, Object, ObjectKey};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, Pod, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `apps.StatefulSetPodNameLabel`.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// `apps.PodIndexLabel` (feature PodIndexLabel, on by default since 1.28).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// `apps.ControllerRevisionHashLabelKey`.
pub const REVISION_LABEL: &str = "controller-revision-hash";
const COMPONENT: &str = "statefulset-controller";

/// `getParentNameAndOrdinal`: `web-12` → (`web`, 12); names without a numeric suffix → None.
pub fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i32)> {
    let (parent, ord) = pod_name.rsplit_once('-')?;
    if ord.is_empty() || !ord.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, ord.parse().ok()?))
}

/// Recursively sorts object keys, so the encoding matches Go's `json.Marshal` of a
/// `map[string]interface{}` whatever serde_json's map order is.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The name of the revision for the set's current template (`newRevision` + `getPatch` +
/// `history.HashControllerRevision` + `ControllerRevisionName`): FNV-1 of the patch
/// `{"spec":{"template":{"$patch":"replace",…}}}` followed by the collision count, in the safe
/// alphabet, after the set's name. Go encodes the typed template, whose empty
/// `creationTimestamp` is `null`; the rest of our JSON can differ from Go's in details, so the
/// value has the real shape and stability (same template → same name) but not a real cluster's
/// digits.
pub fn revision_name(name: &str, spec: &StatefulSetSpec, collision_count: i32) -> String {
    let mut template = serde_json::to_value(&spec.template).unwrap_or(Value::Null);
    if let Value::Object(t) = &mut template {
        let meta = t
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(m) = meta {
            m.entry("creationTimestamp").or_insert(Value::Null);
        }
        t.insert("$patch".into(), Value::String("replace".into()));
    }
    let patch = sorted(serde_json::json!({ "spec": { "template": template } }));
    let mut data = serde_json::to_vec(&patch).unwrap_or_default();
    data.extend_from_slice(collision_count.to_string().as_bytes());
    let prefix: String = name.chars().take(223).collect();
    format!("{prefix}-{}", safe_encode(&fnv32(&data).to_string()))
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn is_terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

/// `isRunningAndReady`.
fn running_and_ready(p: &Pod) -> bool {
    phase(p) == "Running" && pod_ready(p)
}

/// When the pod's Ready condition turned true (ms), if it is ready.
fn ready_since_ms(p: &Pod) -> Option<i64> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(i64::MIN, |t| t.0.as_millisecond())
        })
}

/// `isRunningAndAvailable`: running, ready, and ready for `minReadySeconds`.
fn running_and_available(p: &Pod, min_ready_seconds: i32, now_ms: i64) -> bool {
    running_and_ready(p)
        && (min_ready_seconds <= 0
            || ready_since_ms(p)
                .is_some_and(|t| t.saturating_add(min_ready_seconds as i64 * 1000) <= now_ms))
}

/// `isHealthy`: running, ready and not terminating.
fn healthy(p: &Pod) -> bool {
    running_and_ready(p) && !is_terminating(p)
}

fn revision_of(p: &Pod) -> &str {
    p.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map_or("", String::as_str)
}

fn as_pod(o: &Arc<Object>) -> &Pod {
    match &**o {
        Object::Pod(p) => p,
        _ => unreachable!("only pods are collected"),
    }
}

/// `newStatefulSetPod` + `setPodRevision`: the template's pod with the set's identity and
/// storage, before the apiserver's defaulting.
fn new_pod(set_obj: &Object, set: &StatefulSet, ordinal: i32, revision: &str) -> Pod {
    let name = set.metadata.name.clone().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let template = spec.template;
    let tmeta = template.metadata.unwrap_or_default();
    let pod_name = format!("{name}-{ordinal}");
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), pod_name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut pod_spec = template.spec.unwrap_or_default();
    pod_spec.hostname = Some(pod_name.clone());
    pod_spec.subdomain = spec.service_name.filter(|s| !s.is_empty());
    // `updateStorage`: one claim volume per template (ordered by name; Go iterates a map), then
    // the template's other volumes. No claim object is made (see the module doc).
    let claims: BTreeMap<String, String> = spec
        .volume_claim_templates
        .iter()
        .flatten()
        .filter_map(|c| c.metadata.name.clone())
        .map(|claim| {
            let claim_name = format!("{claim}-{name}-{ordinal}");
            (claim, claim_name)
        })
        .collect();
    if !claims.is_empty() {
        let mut volumes: Vec<Volume> = claims
            .iter()
            .map(|(claim, claim_name)| Volume {
                name: claim.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name.clone(),
                    read_only: None,
                }),
                ..Default::default()
            })
            .collect();
        volumes.extend(
            pod_spec
                .volumes
                .take()
                .into_iter()
                .flatten()
                .filter(|v| !claims.contains_key(&v.name)),
        );
        pod_spec.volumes = Some(volumes);
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name),
            generate_name: Some(format!("{name}-")),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref(set_obj)]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

/// `StatefulPodControl.CreateStatefulPod` + `recordPodEvent`. The pod goes through the
/// apiserver's pod validation (the set's own validation leaves the pod spec alone).
fn create_pod(c: &mut Cluster, set_obj: &Object, pod: Pod) -> Option<Arc<Object>> {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let mut object = Object::Pod(Box::new(pod));
    let key = object.key();
    if c.store.get(&key).is_some() {
        // AlreadyExists: upstream returns the error without an event.
        return None;
    }
    let errors = crate::validation::validate_create(&object);
    if !errors.is_empty() {
        let err = crate::errors::ApiError::Invalid {
            kind: Kind::Pod,
            name: pod_name.clone(),
            causes: errors,
        };
        c.record_event(
            set_obj,
            None,
            "Warning",
            "FailedCreate",
            format!(
                "create Pod {pod_name} in StatefulSet {} failed error: {err}",
                set_obj.name()
            ),
            COMPONENT,
            None,
        );
        return None;
    }
    crate::defaults::apply_defaults(&mut object);
    let created = c.sys_create(object)?;
    c.record_event(
        set_obj,
        None,
        "Normal",
        "SuccessfulCreate",
        format!(
            "create Pod {pod_name} in StatefulSet {} successful",
            set_obj.name()
        ),
        COMPONENT,
        None,
    );
    Some(created)
}

/// `StatefulPodControl.DeleteStatefulPod` + `recordPodEvent`.
fn delete_pod(c: &mut Cluster, set_obj: &Object, pod: &Pod) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let key = ObjectKey::new(Kind::Pod, set_obj.namespace(), &name);
    if c.delete_pod_for_controller(&key) {
        c.record_event(
            set_obj,
            None,
            "Normal",
            "SuccessfulDelete",
            format!(
                "delete Pod {name} in StatefulSet {} successful",
                set_obj.name()
            ),
            COMPONENT,
            None,
        );
    }
}

/// Syncs one StatefulSet (`updateStatefulSet`, then the status write).
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let Some(set_obj) = c.store.get(key).cloned() else {
        return;
    };
    let Object::StatefulSet(set) = &*set_obj else {
        return;
    };
    if set.metadata.deletion_timestamp.is_some() {
        return;
    }
    let spec = set.spec.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let start = spec
        .ordinals
        .as_ref()
        .and_then(|o| o.start)
        .unwrap_or(0)
        .max(0);
    let monotonic = spec.pod_management_policy.as_deref() != Some("Parallel");
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let on_delete = strategy.type_.as_deref() == Some("OnDelete");
    let old_status = set.status.clone().unwrap_or_default();
    let collision_count = old_status.collision_count.unwrap_or(0);
    let update_revision = revision_name(&key.name, &spec, collision_count);
    let current_revision = old_status
        .current_revision
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| update_revision.clone());

    // Partition the set's pods into the ordinals it wants and the condemned rest.
    let mut slots: Vec<Option<Arc<Object>>> = vec![None; replicas as usize];
    let mut condemned: Vec<(i32, Arc<Object>)> = vec![];
    for o in owned_pods(c, set_obj.uid()) {
        let Some((parent, ord)) = parent_and_ordinal(o.name()) else {
            continue;
        };
        if parent != key.name {
            continue;
        }
        if ord >= start && ord < start.saturating_add(replicas) {
            slots[(ord - start) as usize] = Some(o);
        } else {
            condemned.push((ord, o));
        }
    }
    // Highest ordinal first.
    condemned.sort_by_key(|(ord, _)| std::cmp::Reverse(*ord));

    run_replicas(
        c,
        &set_obj,
        set,
        &mut slots,
        &condemned,
        &update_revision,
        start,
        monotonic,
        min_ready,
        on_delete,
    );
    write_status(c, key, &current_revision, &update_revision, collision_count);
}

/// The body of `updateStatefulSet`: living replicas, then condemned ones, then the rolling update;
/// in monotonic (OrderedReady) mode the first pod that must be waited for ends the pass.
#[allow(clippy::too_many_arguments)]
fn run_replicas(
    c: &mut Cluster,
    set_obj: &Object,
    set: &StatefulSet,
    slots: &mut [Option<Arc<Object>>],
    condemned: &[(i32, Arc<Object>)],
    update_revision: &str,
    start: i32,
    monotonic: bool,
    min_ready: i32,
    on_delete: bool,
) {
    let now_ms = c.now_ms();
    // The first unhealthy pod, among the replicas, else the lowest condemned one.
    // A missing replica counts as unhealthy too (upstream's slot holds the pod still to create).
    let first_unhealthy: Option<String> = match slots
        .iter()
        .find(|s| s.as_ref().is_none_or(|o| !healthy(as_pod(o))))
    {
        Some(slot) => slot.as_ref().map(|o| o.name().to_string()),
        None => condemned
            .iter()
            .rev()
            .find(|(_, o)| !healthy(as_pod(o)))
            .map(|(_, o)| o.name().to_string()),
    };

    // processReplica, in ordinal order.
    for (i, slot) in slots.iter_mut().enumerate() {
        let ordinal = start + i as i32;
        match slot.clone() {
            Some(o) if matches!(phase(as_pod(&o)), "Failed" | "Succeeded") => {
                // Finished pods are deleted; the next sync (after they are gone) recreates them.
                if !is_terminating(as_pod(&o)) {
                    delete_pod(c, set_obj, as_pod(&o));
                }
                if monotonic {
                    return;
                }
                continue;
            }
            None => {
                let pod = new_pod(set_obj, set, ordinal, update_revision);
                *slot = create_pod(c, set_obj, pod);
                if monotonic {
                    return;
                }
                continue;
            }
            Some(o) => {
                let p = as_pod(&o);
                if monotonic
                    && (is_terminating(p)
                        || !running_and_ready(p)
                        || !running_and_available(p, min_ready, now_ms))
                {
                    return;
                }
            }
        }
    }

    // processCondemned, highest ordinal first.
    for (_, o) in condemned {
        let p = as_pod(o);
        if is_terminating(p) {
            if monotonic {
                return;
            }
            continue;
        }
        let is_first_unhealthy = first_unhealthy.as_deref() == Some(o.name());
        if monotonic
            && !is_first_unhealthy
            && (!running_and_ready(p) || !running_and_available(p, min_ready, now_ms))
        {
            return;
        }
        delete_pod(c, set_obj, p);
        if monotonic {
            return;
        }
    }

    if on_delete {
        return;
    }
    // The rolling update: from the highest ordinal down to the partition, delete the first pod
    // not at the update revision (it comes back from the new template), and wait for unhealthy
    // pods. One pod at a time in both pod management policies.
    let partition = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .max(0) as usize;
    for target in (partition..slots.len()).rev() {
        let Some(o) = &slots[target] else {
            return;
        };
        let p = as_pod(o);
        if revision_of(p) != update_revision && !is_terminating(p) {
            delete_pod(c, set_obj, p);
            return;
        }
        if !healthy(p) {
            return;
        }
    }
}

/// `updateStatus` + `completeRollingUpdate` + `updateStatefulSetStatus`, counted from the store
/// after this pass's writes. Pods that are ready but not yet available for `minReadySeconds`
/// arm a wake-up for the moment they become available.
fn write_status(
    c: &mut Cluster,
    key: &ObjectKey,
    current_revision: &str,
    update_revision: &str,
    collision_count: i32,
) {
    let Some(set_obj) = c.store.get(key).cloned() else {
        return;
    };
    let Object::StatefulSet(set) = &*set_obj else {
        return;
    };
    let spec = set.spec.clone().unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let now_ms = c.now_ms();
    let (mut count, mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0, 0);
    let mut wake: Option<i64> = None;
    for o in owned_pods(c, set_obj.uid()) {
        if parent_and_ordinal(o.name()).is_none_or(|(parent, _)| parent != key.name) {
            continue;
        }
        let p = as_pod(&o);
        let created = !phase(p).is_empty();
        if created {
            count += 1;
        }
        if running_and_ready(p) {
            ready += 1;
            if running_and_available(p, min_ready, now_ms) {
                available += 1;
            } else if let Some(t) = ready_since_ms(p) {
                let at = t.saturating_add(min_ready as i64 * 1000);
                wake = Some(wake.map_or(at, |w: i64| w.min(at)));
            }
        }
        if created && !is_terminating(p) {
            if revision_of(p) == current_revision {
                current += 1;
            }
            if revision_of(p) == update_revision {
                updated += 1;
            }
        }
    }
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        != Some("OnDelete");
    let (mut current_replicas, mut current_rev) = (current, current_revision.to_string());
    if rolling && updated == count && ready == count {
        current_replicas = updated;
        current_rev = update_revision.to_string();
    }
    let old = set.status.clone().unwrap_or_default();
    let status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        replicas: count,
        ready_replicas: nonzero(ready),
        current_replicas: nonzero(current_replicas),
        updated_replicas: nonzero(updated),
        // `availableReplicas` has no omitempty in apps/v1: 0 is written.
        available_replicas: Some(available),
        current_revision: Some(current_rev),
        update_revision: Some(update_revision.to_string()),
        collision_count: Some(collision_count),
        conditions: old.conditions.clone(),
    };
    if let Some(at) = wake {
        c.wake_at(at, key.clone());
    }
    if set.status.as_ref() != Some(&status) {
        let mut updated_set: StatefulSet = (**set).clone();
        updated_set.status = Some(status);
        c.sys_update(Object::StatefulSet(Box::new(updated_set)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use k8s_openapi::api::core::v1::PodCondition;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn set(yaml_extra: &str) -> (Object, StatefulSet) {
        let text = format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\n  namespace: default\n  uid: u-1\nspec:\n{yaml_extra}  selector:\n    matchLabels:\n      app: nginx\n  template:\n    metadata:\n      labels:\n        app: nginx\n    spec:\n      volumes:\n      - name: www\n        emptyDir: {{}}\n      - name: cfg\n        emptyDir: {{}}\n      containers:\n      - name: nginx\n        image: nginx\n"
        );
        let o = crate::manifest::parse_manifests(&text).unwrap().remove(0);
        let s = <&StatefulSet>::try_from(&o).unwrap().clone();
        (o, s)
    }

    #[test]
    fn ordinals_parse_like_get_parent_name_and_ordinal() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
        assert_eq!(parent_and_ordinal("my-db-12"), Some(("my-db", 12)));
        assert_eq!(parent_and_ordinal("web"), None);
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web-x1"), None);
        assert_eq!(
            parent_and_ordinal("web-99999999999"),
            None,
            "overflow is no ordinal"
        );
    }

    #[test]
    fn revision_names_follow_the_template_and_collision_count() {
        let (_, a) = set("  serviceName: nginx\n");
        let spec = a.spec.clone().unwrap();
        let name = revision_name("web", &spec, 0);
        assert!(name.starts_with("web-"));
        assert_eq!(name, revision_name("web", &spec, 0), "stable");
        assert_ne!(name, revision_name("web", &spec, 1));
        // serviceName and replicas are not part of the template: same revision.
        let (_, b) = set("  serviceName: other\n  replicas: 5\n");
        assert_eq!(name, revision_name("web", b.spec.as_ref().unwrap(), 0));
        let mut changed = spec.clone();
        changed.template.spec.as_mut().unwrap().containers[0].image = Some("nginx:2".into());
        assert_ne!(name, revision_name("web", &changed, 0));
    }

    #[test]
    fn new_pods_carry_the_stable_identity() {
        let (o, s) = set(
            "  serviceName: nginx\n  volumeClaimTemplates:\n  - metadata:\n      name: www\n  - metadata:\n      name: logs\n",
        );
        let p = new_pod(&o, &s, 2, "web-abc");
        assert_eq!(p.metadata.name.as_deref(), Some("web-2"));
        let labels = p.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[REVISION_LABEL], "web-abc");
        assert_eq!(labels["app"], "nginx");
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        // Claim volumes first (replacing the template's `www`), then the template's others.
        let vols: Vec<(&str, Option<&str>)> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| {
                (
                    v.name.as_str(),
                    v.persistent_volume_claim
                        .as_ref()
                        .map(|c| c.claim_name.as_str()),
                )
            })
            .collect();
        assert_eq!(
            vols,
            [
                ("logs", Some("logs-web-2")),
                ("www", Some("www-web-2")),
                ("cfg", None)
            ]
        );
        // No serviceName: no subdomain.
        let (o, s) = set("");
        let p = new_pod(&o, &s, 0, "web-abc");
        assert_eq!(p.spec.as_ref().unwrap().subdomain, None);
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let ready_at = 1_700_000_000_000;
        let mut p = Pod::default();
        let st = p.status.get_or_insert_with(Default::default);
        st.phase = Some("Running".into());
        st.conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(Timestamp::from_millisecond(ready_at).unwrap())),
            ..Default::default()
        }]);
        assert!(running_and_ready(&p) && healthy(&p));
        assert!(running_and_available(&p, 0, ready_at));
        assert!(!running_and_available(&p, 10, ready_at + 9_999));
        assert!(running_and_available(&p, 10, ready_at + 10_000));
        p.metadata.deletion_timestamp = Some(Time(Timestamp::from_millisecond(ready_at).unwrap()));
        assert!(!healthy(&p), "terminating pods are not healthy");
    }

    #[test]
    fn failed_pods_are_replaced_under_the_same_name() {
        let mut c = cluster_with(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  serviceName: nginx\n  replicas: 2\n  ordinals:\n    start: 5\n  selector:\n    matchLabels:\n      app: nginx\n  template:\n    metadata:\n      labels:\n        app: nginx\n    spec:\n      containers:\n      - name: nginx\n        image: nginx\n",
        );
        let names: Vec<_> = pods(&c, "default", "web-")
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(
            names,
            ["web-5", "web-6"],
            "ordinals start at spec.ordinals.start"
        );
        // The container exits for good: the controller deletes the pod and makes it again.
        let key = ObjectKey::new(Kind::Pod, "default", "web-5");
        let mut failed = (**c.store.get(&key).unwrap()).clone();
        if let Object::Pod(p) = &mut failed {
            p.status.as_mut().unwrap().phase = Some("Failed".into());
        }
        let old_uid = failed.uid().to_string();
        c.sys_update(failed);
        c.run_controllers();
        c.settle();
        let p = c.get_typed::<Pod>("default", "web-5").unwrap();
        assert_ne!(p.metadata.uid.as_deref(), Some(old_uid.as_str()));
        assert_eq!(phase_ip_node(p).0, "Running");
        let evs = events_for(&c, "default", "web");
        assert!(
            evs.contains(&(
                "SuccessfulDelete".into(),
                "delete Pod web-5 in StatefulSet web successful".into()
            )),
            "{evs:?}"
        );
    }
}
