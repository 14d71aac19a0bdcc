//! The Deployment controller (`pkg/controller/deployment`: `sync.go`, `rolling.go`, `recreate.go`).
//!
//! A Deployment owns one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`
//! with the hash also added to the ReplicaSet's selector and its pods' labels. Scaling changes the
//! current ReplicaSet; a template change starts a rolling update that surges the new ReplicaSet by
//! `maxSurge` and scales old ones down as long as `maxUnavailable` allows (or, with `Recreate`,
//! removes the old pods first). `ScalingReplicaSet` events say `Scaled up replica set X from 0 to 3`.

use crate::cluster::{Cluster, controller_ref};
use crate::controllers::replicaset::nonzero;
use crate::object::{Object, ObjectKey};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The label carrying the template hash.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX: &str = "deployment.kubernetes.io/max-replicas";

/// `intstr.GetScaledValueFromIntOrPercent`.
fn scaled(v: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match v {
        None => 0,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(0.0);
            let x = pct * total as f64 / 100.0;
            if round_up {
                x.ceil() as i32
            } else {
                x.floor() as i32
            }
        }
    }
}

/// (maxSurge, maxUnavailable) resolved against `replicas` (`deploymentutil.ResolveFenceposts`).
fn fenceposts(d: &Deployment, replicas: i32) -> (i32, i32) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let surge = scaled(ru.and_then(|r| r.max_surge.as_ref()), replicas, true);
    let unavailable = scaled(ru.and_then(|r| r.max_unavailable.as_ref()), replicas, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The template with the hash label removed, for comparing a ReplicaSet with its Deployment.
fn same_template(rs_template: &PodTemplateSpec, template: &PodTemplateSpec) -> bool {
    if rs_template.spec != template.spec {
        return false;
    }
    fn labels(m: Option<&ObjectMeta>) -> impl Iterator<Item = (&String, &String)> {
        m.and_then(|m| m.labels.as_ref())
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != POD_TEMPLATE_HASH)
    }
    fn annotations(m: Option<&ObjectMeta>) -> Option<&std::collections::BTreeMap<String, String>> {
        m.and_then(|m| m.annotations.as_ref())
            .filter(|a| !a.is_empty())
    }
    let (a, b) = (rs_template.metadata.as_ref(), template.metadata.as_ref());
    labels(a).eq(labels(b)) && annotations(a) == annotations(b)
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Syncs one Deployment.
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let Some(obj) = c.store.get(key).cloned() else {
        return;
    };
    let Object::Deployment(d) = &*obj else { return };
    if d.metadata.deletion_timestamp.is_some() {
        return;
    }
    let default_spec = Default::default();
    let spec: &DeploymentSpec = d.spec.as_ref().unwrap_or(&default_spec);
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let template = &spec.template;
    let mut rss: Vec<ReplicaSet> = c
        .store
        .dependents(obj.uid())
        .filter_map(|k| c.store.get(k).cloned())
        .filter_map(|o| <&ReplicaSet>::try_from(&*o).ok().cloned())
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == obj.uid() && r.controller == Some(true))
        })
        .collect();
    rss.sort_by_key(|rs| {
        (
            rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
            rs.metadata.name.clone(),
        )
    });

    let new_idx = rss.iter().position(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| same_template(t, template))
    });
    let max_revision = rss.iter().map(revision).max().unwrap_or(0);
    let (surge, max_unavailable) = fenceposts(d, replicas);
    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");

    let mut new_rs = new_idx.map(|i| rss.remove(i));
    let olds = rss;
    let old_total: i32 = olds.iter().map(rs_replicas).sum();
    // recreate.go's oldPodsRunning: terminating pods still count until they are gone.
    let old_pods_running = olds
        .iter()
        .flat_map(|rs| {
            crate::controllers::replicaset::owned_pods(c, rs.metadata.uid.as_deref().unwrap_or(""))
        })
        .filter(|o| match &**o {
            Object::Pod(p) => !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded") | Some("Failed")
            ),
            _ => false,
        })
        .count() as i32;

    // Create the new ReplicaSet when the template is new.
    if new_rs.is_none() {
        let initial = if recreate {
            if old_pods_running > 0 || old_total > 0 {
                0
            } else {
                replicas
            }
        } else if old_total == 0 {
            replicas
        } else {
            // NewRSNewReplicas with no new pods yet.
            (replicas + surge - old_total).clamp(0, replicas)
        };
        let json = serde_json::to_vec(&template).unwrap_or_default();
        let collision = d
            .status
            .as_ref()
            .and_then(|s| s.collision_count)
            .unwrap_or(0);
        let hash = crate::names::pod_template_hash(&json, collision);
        let mut t = template.clone();
        t.metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector: LabelSelector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut labels = t
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        labels.insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let annotations = BTreeMap::from([
            (REVISION.to_string(), (max_revision + 1).to_string()),
            (DESIRED.to_string(), replicas.to_string()),
            (MAX.to_string(), (replicas + surge).to_string()),
        ]);
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", key.name)),
                namespace: Some(key.namespace.clone()),
                labels: Some(labels),
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(&obj)]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(initial),
                selector,
                template: Some(t),
                min_ready_seconds: spec.min_ready_seconds,
            }),
            status: None,
        };
        let mut rs_obj = Object::ReplicaSet(Box::new(rs));
        crate::defaults::apply_defaults(&mut rs_obj);
        if let Some(Object::ReplicaSet(created)) = c.sys_create(rs_obj).map(|a| (*a).clone()) {
            if initial > 0 {
                scaled_event(c, &obj, &created, 0, initial);
            }
            new_rs = Some(*created);
        }
        // The Deployment itself records the revision.
        set_revision(c, key, max_revision + 1);
    }
    let Some(mut new_rs) = new_rs else { return };

    // Scale the new ReplicaSet.
    let new_replicas = rs_replicas(&new_rs);
    let target_new =
        if olds.iter().all(|rs| rs_replicas(rs) == 0) && (!recreate || old_pods_running == 0) {
            replicas
        } else if recreate {
            if old_pods_running == 0 {
                replicas
            } else {
                new_replicas
            }
        } else {
            // NewRSNewReplicas: grow up to replicas + maxSurge pods in all.
            let current_total = old_total + new_replicas;
            let max_total = replicas + surge;
            if current_total >= max_total {
                new_replicas
            } else {
                (new_replicas + (max_total - current_total))
                    .min(replicas)
                    .max(new_replicas)
            }
        };
    if target_new != new_replicas {
        new_rs = scale_rs(c, &obj, new_rs, target_new, replicas, surge);
    } else {
        new_rs = refresh_annotations(c, new_rs, replicas, surge);
    }

    // Scale old ReplicaSets down.
    let mut olds = olds;
    if recreate {
        for rs in olds.iter_mut().filter(|rs| rs_replicas(rs) > 0) {
            *rs = scale_rs(c, &obj, rs.clone(), 0, replicas, surge);
        }
    } else if olds.iter().any(|rs| rs_replicas(rs) > 0) {
        let all_pods: i32 = olds.iter().map(rs_replicas).sum::<i32>() + rs_replicas(&new_rs);
        let min_available = replicas - max_unavailable;
        let new_unavailable = rs_replicas(&new_rs) - rs_available(&new_rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down > 0 {
            // First unhealthy old pods (cleanupUnhealthyReplicas), then healthy ones as long as
            // availability stays above minAvailable.
            let mut budget = max_scaled_down;
            let available_total: i32 =
                olds.iter().map(rs_available).sum::<i32>() + rs_available(&new_rs);
            let mut healthy_budget = (available_total - min_available).max(0);
            for rs in olds.iter_mut() {
                if budget <= 0 {
                    break;
                }
                let cur = rs_replicas(rs);
                let unhealthy = (cur - rs_available(rs)).max(0).min(budget);
                let healthy = (cur - unhealthy)
                    .min(healthy_budget)
                    .min(budget - unhealthy)
                    .max(0);
                let down = unhealthy + healthy;
                if down > 0 {
                    budget -= down;
                    healthy_budget -= healthy;
                    *rs = scale_rs(c, &obj, rs.clone(), cur - down, replicas, surge);
                }
            }
        }
    }

    // Status.
    let all: Vec<&ReplicaSet> = olds.iter().chain(std::iter::once(&new_rs)).collect();
    let status_of = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let total: i32 = all.iter().map(|rs| status_of(rs).replicas).sum();
    let ready: i32 = all
        .iter()
        .map(|rs| status_of(rs).ready_replicas.unwrap_or(0))
        .sum();
    let available: i32 = all
        .iter()
        .map(|rs| status_of(rs).available_replicas.unwrap_or(0))
        .sum();
    let updated = status_of(&new_rs).replicas;
    let now = c.time();
    let old_conditions = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let cond = |type_: &str, ok: bool, reason: &str, message: String| {
        let prev = old_conditions.iter().find(|c| c.type_ == type_);
        let unchanged = prev.is_some_and(|p| {
            p.status == if ok { "True" } else { "False" } && p.reason.as_deref() == Some(reason)
        });
        DeploymentCondition {
            type_: type_.into(),
            status: if ok { "True" } else { "False" }.into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_transition_time: if unchanged {
                prev.and_then(|p| p.last_transition_time.clone())
            } else {
                Some(now.clone())
            },
            last_update_time: if unchanged {
                prev.and_then(|p| p.last_update_time.clone())
            } else {
                Some(now.clone())
            },
        }
    };
    let rs_name = new_rs.metadata.name.clone().unwrap_or_default();
    let is_available = available >= replicas - max_unavailable;
    let complete = updated == replicas && available == replicas && total == replicas;
    let available_cond = if is_available {
        cond(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
        )
    } else {
        cond(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
        )
    };
    let progressing = if complete {
        cond(
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            format!("ReplicaSet {rs_name:?} has successfully progressed."),
        )
    } else {
        cond(
            "Progressing",
            true,
            "ReplicaSetUpdated",
            format!("ReplicaSet {rs_name:?} is progressing."),
        )
    };
    let status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nonzero(total),
        updated_replicas: nonzero(updated),
        ready_replicas: nonzero(ready),
        available_replicas: nonzero(available),
        unavailable_replicas: nonzero((replicas - available).max(0)),
        conditions: Some(vec![available_cond, progressing]),
        collision_count: d.status.as_ref().and_then(|s| s.collision_count),
        terminating_replicas: None,
    };
    // Re-read: set_revision may have written the Deployment.
    let current = c.store.get(key).cloned();
    if let Some(Object::Deployment(current)) = current.as_deref()
        && current.status.as_ref() != Some(&status)
    {
        let mut current = current.clone();
        current.status = Some(status);
        c.sys_update(Object::Deployment(current));
    }
}

fn set_revision(c: &mut Cluster, key: &ObjectKey, revision: i64) {
    if let Some(Object::Deployment(mut d)) = c.store.get(key).map(|a| (**a).clone()) {
        d.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(REVISION.into(), revision.to_string());
        c.sys_update(Object::Deployment(d));
    }
}

fn refresh_annotations(c: &mut Cluster, rs: ReplicaSet, replicas: i32, surge: i32) -> ReplicaSet {
    let current = rs.metadata.annotations.as_ref();
    let (want_desired, want_max) = (replicas.to_string(), (replicas + surge).to_string());
    if current.and_then(|a| a.get(DESIRED)) == Some(&want_desired)
        && current.and_then(|a| a.get(MAX)) == Some(&want_max)
    {
        return rs;
    }
    let mut updated = rs.clone();
    let a = updated
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    a.insert(DESIRED.into(), replicas.to_string());
    a.insert(MAX.into(), (replicas + surge).to_string());
    if updated == rs {
        return rs;
    }
    match c
        .sys_update(Object::ReplicaSet(Box::new(updated)))
        .map(|a| (*a).clone())
    {
        Some(Object::ReplicaSet(r)) => *r,
        _ => rs,
    }
}

fn scale_rs(
    c: &mut Cluster,
    d: &Object,
    rs: ReplicaSet,
    to: i32,
    replicas: i32,
    surge: i32,
) -> ReplicaSet {
    let from = rs_replicas(&rs);
    let mut updated = rs.clone();
    updated.spec.get_or_insert_with(Default::default).replicas = Some(to);
    let a = updated
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    a.insert(DESIRED.into(), replicas.to_string());
    a.insert(MAX.into(), (replicas + surge).to_string());
    let Some(Object::ReplicaSet(stored)) = c
        .sys_update(Object::ReplicaSet(Box::new(updated)))
        .map(|a| (*a).clone())
    else {
        return rs;
    };
    if from != to {
        scaled_event(c, d, &stored, from, to);
    }
    *stored
}

fn scaled_event(c: &mut Cluster, d: &Object, rs: &ReplicaSet, from: i32, to: i32) {
    let dir = if to > from { "up" } else { "down" };
    let name = rs.metadata.name.clone().unwrap_or_default();
    c.record_event(
        d,
        None,
        "Normal",
        "ScalingReplicaSet",
        format!("Scaled {dir} replica set {name} from {from} to {to}"),
        "deployment-controller",
        None,
    );
}

/// The ReplicaSets a Deployment controls, oldest first (for views and tests).
pub fn replica_sets_of<'a>(c: &'a Cluster, d: &Object) -> Vec<&'a ReplicaSet> {
    let mut out: Vec<&ReplicaSet> = c
        .store
        .dependents(d.uid())
        .filter_map(|k| c.store.get(k))
        .filter_map(|o| <&ReplicaSet>::try_from(&**o).ok())
        .collect();
    out.sort_by_key(|rs| {
        rs.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
    });
    out
}

#[cfg(test)]
mod tests {
    use crate::object::{Kind, Object};
    use crate::testutil::*;
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

    fn rs_list(c: &crate::Cluster) -> Vec<(String, i32, i32)> {
        c.list_typed::<ReplicaSet>(Some("default"))
            .map(|r| {
                (
                    r.metadata.name.clone().unwrap_or_default(),
                    r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
                    r.status.as_ref().map_or(0, |s| s.replicas),
                )
            })
            .collect()
    }

    #[test]
    fn creates_a_hashed_replicaset_and_scales_it() {
        let mut c = cluster_with(&httpd_deployment(3));
        let rs = rs_list(&c);
        assert_eq!(rs.len(), 1);
        let (name, want, have) = &rs[0];
        assert_eq!((*want, *have), (3, 3));
        let hash = name.strip_prefix("httpd-").unwrap();
        assert!(
            hash.len() >= 9 && hash.bytes().all(|b| b"456789bcdf".contains(&b)),
            "{hash}"
        );
        let r = c.get_typed::<ReplicaSet>("default", name).unwrap();
        assert_eq!(
            r.metadata.labels.as_ref().unwrap()["pod-template-hash"],
            hash
        );
        assert_eq!(
            r.spec
                .as_ref()
                .unwrap()
                .selector
                .match_labels
                .as_ref()
                .unwrap()["pod-template-hash"],
            hash
        );
        assert_eq!(
            events_for(&c, "default", "httpd"),
            vec![(
                "ScalingReplicaSet".into(),
                format!("Scaled up replica set {name} from 0 to 3")
            )]
        );
        let d = c.get_typed::<Deployment>("default", "httpd").unwrap();
        let st = d.status.as_ref().unwrap();
        assert_eq!(
            (
                st.replicas,
                st.ready_replicas,
                st.available_replicas,
                st.updated_replicas
            ),
            (Some(3), Some(3), Some(3), Some(3))
        );

        c.scale(Kind::Deployment, "default", "httpd", 5).unwrap();
        c.settle();
        assert_eq!(rs_list(&c), vec![(name.clone(), 5, 5)]);
        assert_eq!(pods(&c, "default", "httpd-").len(), 5);
        c.scale(Kind::Deployment, "default", "httpd", 2).unwrap();
        c.settle();
        assert_eq!(rs_list(&c), vec![(name.clone(), 2, 2)]);
        assert_eq!(pods(&c, "default", "httpd-").len(), 2);
        let evs = events_for(&c, "default", "httpd");
        assert_eq!(
            evs.last().unwrap().1,
            format!("Scaled down replica set {name} from 5 to 2")
        );
    }

    #[test]
    fn template_change_rolls_out_a_new_replicaset() {
        let mut c = cluster_with(&httpd_deployment(4));
        let old = rs_list(&c)[0].0.clone();
        c.apply_manifests(&httpd_deployment(4).replace("image: httpd", "image: httpd:2.4"))
            .unwrap();
        // Mid-rollout: surge by 1 (25% of 4), never below 3 available.
        let total: i32 = rs_list(&c).iter().map(|r| r.1).sum();
        assert!(total <= 5, "{:?}", rs_list(&c));
        c.settle();
        let rs = rs_list(&c);
        assert_eq!(rs.len(), 2);
        let new = rs.iter().find(|r| r.0 != old).unwrap();
        assert_eq!(new.1, 4);
        assert_eq!(rs.iter().find(|r| r.0 == old).unwrap().1, 0);
        let pods = pods(&c, "default", "httpd-");
        assert_eq!(pods.len(), 4);
        assert!(pods.iter().all(|p| {
            p.metadata
                .name
                .as_deref()
                .unwrap()
                .starts_with(&format!("{}-", new.0))
        }));
        let d = c.get_typed::<Deployment>("default", "httpd").unwrap();
        assert_eq!(d.metadata.generation, Some(2));
        assert_eq!(
            d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
            "2"
        );
        let reasons = events_for(&c, "default", "httpd");
        assert!(
            reasons
                .iter()
                .any(|(_, m)| m.starts_with(&format!("Scaled down replica set {old} from 4 to"))),
            "{reasons:?}"
        );
    }

    #[test]
    fn recreate_strategy_removes_old_pods_first() {
        let text = httpd_deployment(2).replace(
            "spec:\n  replicas: 2",
            "spec:\n  strategy:\n    type: Recreate\n  replicas: 2",
        );
        let mut c = cluster_with(&text);
        c.apply_manifests(&text.replace("image: httpd", "image: httpd:2.4"))
            .unwrap();
        let rs = rs_list(&c);
        assert_eq!(rs.len(), 2);
        assert!(
            rs.iter().all(|r| r.1 == 0),
            "new ReplicaSet waits for old pods to go: {rs:?}"
        );
        c.settle();
        let rs = rs_list(&c);
        assert_eq!(
            rs.iter()
                .map(|r| r.1)
                .collect::<Vec<_>>()
                .iter()
                .sum::<i32>(),
            2
        );
        assert_eq!(pods(&c, "default", "httpd-").len(), 2);
        let _ = Object::Deployment(Default::default());
    }

    #[test]
    fn deleting_a_deployment_cascades() {
        let mut c = cluster_with(&httpd_deployment(2));
        c.delete(Kind::Deployment, "default", "httpd").unwrap();
        assert!(rs_list(&c).is_empty());
        c.settle();
        assert!(pods(&c, "default", "httpd-").is_empty());
    }
}
