//! The ReplicaSet controller (`pkg/controller/replicaset/replica_set.go`).
//!
//! Keeps `spec.replicas` active pods: creates missing ones from the template with
//! `generateName: <rs>-` (`httpd-7c9d6b8f4-x2k8q`) and `SuccessfulCreate` events, deletes extra ones
//! in the upstream order of preference (unscheduled, pending, not ready, newest first) with
//! `SuccessfulDelete`. Terminating pods are not active, so a deleted pod is replaced at once. Status
//! counts replicas, fully labelled, ready and available pods.

use crate::cluster::{Cluster, controller_ref};
use crate::controllers::kubelet::pod_ready;
use crate::labels::selector_matches;
use crate::object::{Object, ObjectKey};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::sync::Arc;

/// Pods controlled by the object with `uid` (via the owner index).
pub(crate) fn owned_pods(c: &Cluster, uid: &str) -> Vec<Arc<Object>> {
    c.store
        .dependents(uid)
        .filter_map(|k| c.store.get(k).cloned())
        .filter(|o| {
            matches!(&**o, Object::Pod(_))
                && o.meta()
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.uid == uid && r.controller == Some(true))
        })
        .collect()
}

/// `controller.IsPodActive`: not terminal and not being deleted.
pub fn is_active(p: &Pod) -> bool {
    let phase = p
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("");
    phase != "Succeeded" && phase != "Failed" && p.metadata.deletion_timestamp.is_none()
}

/// Rank for deletion: lower goes first (`controller.ActivePods` ordering, simplified).
fn delete_rank(
    p: &Pod,
) -> (
    u8,
    u8,
    u8,
    std::cmp::Reverse<String>,
    std::cmp::Reverse<String>,
) {
    let scheduled = p.spec.as_ref().is_some_and(|s| s.node_name.is_some());
    let phase = match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Running") => 2,
        _ => 1,
    };
    let created = p
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    (
        scheduled as u8,
        phase,
        pod_ready(p) as u8,
        std::cmp::Reverse(created),
        std::cmp::Reverse(p.metadata.name.clone().unwrap_or_default()),
    )
}

/// Syncs one ReplicaSet.
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let Some(obj) = c.store.get(key).cloned() else {
        return;
    };
    let Object::ReplicaSet(rs) = &*obj else {
        return;
    };
    if rs.metadata.deletion_timestamp.is_some() {
        return;
    }
    let default_spec = Default::default();
    let spec: &ReplicaSetSpec = rs.spec.as_ref().unwrap_or(&default_spec);
    let want = spec.replicas.unwrap_or(1).max(0) as usize;
    let as_pod = |o: &Arc<Object>| -> Option<Arc<Object>> {
        matches!(&**o, Object::Pod(p) if is_active(p)).then(|| o.clone())
    };
    let mut active: Vec<Arc<Object>> = owned_pods(c, obj.uid()).iter().filter_map(as_pod).collect();

    if active.len() < want {
        let template = spec.template.clone().unwrap_or_default();
        let tmeta = template.metadata.clone().unwrap_or_default();
        for _ in active.len()..want {
            let mut pod = Object::Pod(Box::new(Pod {
                metadata: ObjectMeta {
                    generate_name: Some(format!("{}-", key.name)),
                    namespace: Some(key.namespace.clone()),
                    labels: tmeta.labels.clone(),
                    annotations: tmeta.annotations.clone(),
                    owner_references: Some(vec![controller_ref(&obj)]),
                    ..Default::default()
                },
                spec: template.spec.clone(),
                status: Some(k8s_openapi::api::core::v1::PodStatus {
                    phase: Some("Pending".into()),
                    qos_class: Some("BestEffort".into()),
                    ..Default::default()
                }),
            }));
            crate::defaults::apply_defaults(&mut pod);
            if let Some(created) = c.sys_create(pod) {
                c.record_event(
                    &obj,
                    None,
                    "Normal",
                    "SuccessfulCreate",
                    format!("Created pod: {}", created.name()),
                    "replicaset-controller",
                    None,
                );
                active.push(created);
            }
        }
    } else if active.len() > want {
        active.sort_by_key(|o| match &**o {
            Object::Pod(p) => delete_rank(p),
            _ => unreachable!("only pods are kept"),
        });
        let extra: Vec<Arc<Object>> = active.drain(..active.len() - want).collect();
        for p in extra {
            let name = p.name().to_string();
            let pkey = ObjectKey::new(crate::object::Kind::Pod, &key.namespace, &name);
            if c.delete_pod_for_controller(&pkey) {
                c.record_event(
                    &obj,
                    None,
                    "Normal",
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                    "replicaset-controller",
                    None,
                );
            }
        }
    }
    let active: Vec<&Pod> = active
        .iter()
        .filter_map(|o| <&Pod>::try_from(&**o).ok())
        .collect();

    let labels_match = |p: &Pod| selector_matches(Some(&spec.selector), p.metadata.labels.as_ref());
    let ready = active.iter().filter(|p| pod_ready(p)).count() as i32;
    let status = ReplicaSetStatus {
        replicas: active.len() as i32,
        fully_labeled_replicas: nonzero(active.iter().filter(|p| labels_match(p)).count() as i32),
        ready_replicas: nonzero(ready),
        available_replicas: nonzero(ready),
        observed_generation: rs.metadata.generation,
        terminating_replicas: None,
        conditions: None,
    };
    if rs.status.as_ref() != Some(&status) {
        let mut updated: ReplicaSet = *rs.clone();
        updated.status = Some(status);
        c.sys_update(Object::ReplicaSet(Box::new(updated)));
    }
}

/// Go's `omitempty` on status counters: zero is left out.
pub(crate) fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use crate::object::Kind;
    use crate::testutil::*;

    #[test]
    fn replaces_a_deleted_pod_with_a_new_name_and_ip() {
        let mut c = cluster_with(&httpd_deployment(3));
        let before: Vec<_> = pods(&c, "default", "httpd-")
            .iter()
            .map(|p| (p.metadata.name.clone().unwrap(), phase_ip_node(p).1))
            .collect();
        let (victim, victim_ip) = before[0].clone();
        c.delete(Kind::Pod, "default", &victim).unwrap();
        // Terminating pod plus an immediate replacement.
        let now: Vec<_> = pods(&c, "default", "httpd-");
        assert_eq!(now.len(), 4);
        assert!(
            now.iter()
                .any(|p| p.metadata.name.as_deref() == Some(victim.as_str())
                    && p.metadata.deletion_timestamp.is_some())
        );
        c.settle();
        let after: Vec<_> = pods(&c, "default", "httpd-")
            .iter()
            .map(|p| (p.metadata.name.clone().unwrap(), phase_ip_node(p)))
            .collect();
        assert_eq!(after.len(), 3);
        assert!(!after.iter().any(|(n, _)| *n == victim));
        let new = after
            .iter()
            .find(|(n, _)| !before.iter().any(|(b, _)| b == n))
            .unwrap();
        assert_eq!(new.1.0, "Running");
        assert_ne!(
            new.1.1, victim_ip,
            "host-local IPAM hands out the next address, not the freed one"
        );
        let rs_name = victim.rsplit_once('-').unwrap().0.to_string();
        let evs = events_for(&c, "default", &rs_name);
        assert_eq!(
            evs.iter().filter(|(r, _)| r == "SuccessfulCreate").count(),
            4
        );
        let killing = events_for(&c, "default", &victim);
        assert!(
            killing.contains(&("Killing".into(), "Stopping container httpd".into())),
            "{killing:?}"
        );
    }

    #[test]
    fn pod_names_look_like_kubernetes_ones() {
        let c = cluster_with(&httpd_deployment(3));
        for p in pods(&c, "default", "httpd-") {
            let name = p.metadata.name.as_deref().unwrap();
            let parts: Vec<&str> = name.split('-').collect();
            assert_eq!(parts.len(), 3, "{name}");
            assert_eq!(parts[2].len(), 5);
            assert!(
                parts[2]
                    .bytes()
                    .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
            );
        }
    }
}
