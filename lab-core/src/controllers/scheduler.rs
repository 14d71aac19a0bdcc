//! kube-scheduler (`pkg/scheduler`), reduced to what the course needs.
//!
//! Filters: node taints against pod tolerations (the control plane carries
//! `node-role.kubernetes.io/control-plane:NoSchedule`), `nodeSelector`, and the `maxPods` limit.
//! Score: the default topology spreading of pods of the same owner across nodes first
//! (`PodTopologySpread`'s system defaults), then the least-loaded node, then the node name, so the
//! choice is deterministic. Binding sets `spec.nodeName` and records `Scheduled`; a pod that fits
//! nowhere gets `PodScheduled=False/Unschedulable` and a `FailedScheduling` event with the
//! scheduler's histogram message, and is retried when capacity frees up.

use crate::cluster::Cluster;
use crate::object::{Kind, Object, ObjectKey};
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, Taint, Toleration};
use std::collections::BTreeMap;

/// Whether `tolerations` tolerate `taint` (`v1helper.TolerationsTolerateTaint`).
pub fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key_ok = t
            .key
            .as_deref()
            .is_none_or(|k| k.is_empty() || k == taint.key);
        let value_ok = match t.operator.as_deref().unwrap_or("Equal") {
            "Exists" => true,
            _ => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        };
        // An empty key with Exists tolerates everything.
        effect_ok && key_ok && value_ok
    })
}

enum Misfit {
    Taint(String),
    Selector,
    TooManyPods,
}

fn check_node(c: &Cluster, pod: &Pod, node: &Node) -> Result<(), Misfit> {
    let spec = pod.spec.as_ref();
    let tolerations = spec.and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
    for taint in node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
    {
        if (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
            && !tolerates(tolerations, taint)
        {
            return Err(Misfit::Taint(format!(
                "{{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or("")
            )));
        }
    }
    if let Some(sel) = spec.and_then(|s| s.node_selector.as_ref())
        && !crate::labels::map_matches(sel, node.metadata.labels.as_ref())
    {
        return Err(Misfit::Selector);
    }
    let name = node.metadata.name.as_deref().unwrap_or("");
    if c.state.node_load.get(name).copied().unwrap_or(0) >= c.config.max_pods {
        return Err(Misfit::TooManyPods);
    }
    Ok(())
}

/// Schedules one pod.
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let Some(obj) = c.store.get(key).cloned() else {
        return;
    };
    let Object::Pod(pod) = &*obj else { return };
    if pod.spec.as_ref().is_none_or(|s| s.node_name.is_some())
        || pod.metadata.deletion_timestamp.is_some()
    {
        return;
    }
    // Pods of the same controller already on each node (few: at most the replica count).
    let owner_uid = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.clone());
    let mut siblings: BTreeMap<String, usize> = BTreeMap::new();
    if let Some(uid) = &owner_uid {
        for k in c.store.dependents(uid) {
            if let Some(Object::Pod(p)) = c.store.get(k).map(|a| &**a)
                && let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone())
            {
                *siblings.entry(n).or_default() += 1;
            }
        }
    }
    // Walk nodes from least loaded; the first fitting node without siblings is the best choice.
    let mut best: Option<(usize, usize, String)> = None;
    for (load, name) in c.state.load_order.iter() {
        let Some(Object::Node(node)) = c
            .store
            .get(&ObjectKey::cluster(Kind::Node, name))
            .map(|a| &**a)
        else {
            continue;
        };
        if check_node(c, pod, node).is_err() {
            continue;
        }
        let sib = siblings.get(name).copied().unwrap_or(0);
        let cand = (sib, *load, name.clone());
        if best.as_ref().is_none_or(|b| cand < *b) {
            best = Some(cand);
        }
        if sib == 0 {
            break;
        }
    }
    let mut p = pod.clone();
    let now = c.time();
    let conditions = p
        .status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new);
    conditions.retain(|c| c.type_ != "PodScheduled");
    match best {
        Some((_, _, node)) => {
            c.state.unschedulable.remove(key);
            conditions.push(PodCondition {
                type_: "PodScheduled".into(),
                status: "True".into(),
                last_transition_time: Some(now),
                ..Default::default()
            });
            p.spec.get_or_insert_with(Default::default).node_name = Some(node.clone());
            if let Some(stored) = c.sys_update(Object::Pod(p)) {
                let msg = format!(
                    "Successfully assigned {}/{} to {node}",
                    key.namespace, key.name
                );
                c.record_event(
                    &stored,
                    None,
                    "Normal",
                    "Scheduled",
                    msg,
                    "default-scheduler",
                    None,
                );
            }
        }
        None => {
            let message = fit_error(c, pod);
            let previous = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
                .and_then(|c| c.message.clone());
            c.state.unschedulable.insert(key.clone());
            if previous.as_deref() == Some(message.as_str()) {
                return;
            }
            conditions.push(PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("Unschedulable".into()),
                message: Some(message.clone()),
                last_transition_time: Some(now),
                ..Default::default()
            });
            p.status.get_or_insert_with(Default::default).phase = Some("Pending".into());
            if let Some(stored) = c.sys_update(Object::Pod(p)) {
                c.record_event(
                    &stored,
                    None,
                    "Warning",
                    "FailedScheduling",
                    message,
                    "default-scheduler",
                    None,
                );
            }
        }
    }
}

/// The scheduler's `FitError` text:
/// `0/3 nodes are available: 1 node(s) had untolerated taint {…}, 2 Too many pods. preemption: …`.
fn fit_error(c: &Cluster, pod: &Pod) -> String {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut preempt_helpful = 0;
    let nodes: Vec<&Node> = c
        .store
        .list(Kind::Node, None)
        .filter_map(|o| <&Node>::try_from(&**o).ok())
        .collect();
    for node in &nodes {
        let reason = match check_node(c, pod, node) {
            Ok(()) => continue,
            Err(Misfit::Taint(t)) => format!("node(s) had untolerated taint {t}"),
            Err(Misfit::Selector) => "node(s) didn't match Pod's node affinity/selector".into(),
            Err(Misfit::TooManyPods) => {
                preempt_helpful += 1;
                "Too many pods".into()
            }
        };
        *reasons.entry(reason).or_default() += 1;
    }
    let n = nodes.len();
    let mut parts: Vec<String> = reasons.iter().map(|(r, k)| format!("{k} {r}")).collect();
    parts.sort();
    let mut tail = Vec::new();
    if n - preempt_helpful > 0 {
        tail.push(format!(
            "{} Preemption is not helpful for scheduling",
            n - preempt_helpful
        ));
    }
    if preempt_helpful > 0 {
        tail.push(format!(
            "{preempt_helpful} No preemption victims found for incoming pod"
        ));
    }
    format!(
        "0/{n} nodes are available: {}. preemption: 0/{n} nodes are available: {}.",
        parts.join(", "),
        tail.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use crate::Cluster;
    use crate::config::ClusterConfig;
    use crate::object::Kind;
    use crate::testutil::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn spreads_replicas_over_workers_never_the_control_plane() {
        let c = cluster_with(&httpd_deployment(4));
        let nodes: Vec<String> = pods(&c, "default", "httpd-")
            .iter()
            .map(|p| phase_ip_node(p).2)
            .collect();
        assert_eq!(
            nodes.iter().filter(|n| *n == "kind-worker").count(),
            2,
            "{nodes:?}"
        );
        assert_eq!(
            nodes.iter().filter(|n| *n == "kind-worker2").count(),
            2,
            "{nodes:?}"
        );
        for p in pods(&c, "default", "httpd-") {
            let name = p.metadata.name.clone().unwrap();
            let evs = events_for(&c, "default", &name);
            assert_eq!(
                evs[0],
                (
                    "Scheduled".to_string(),
                    format!(
                        "Successfully assigned default/{name} to {}",
                        phase_ip_node(p).2
                    )
                )
            );
        }
        let dns: Vec<String> = pods(&c, "kube-system", "coredns-")
            .iter()
            .map(|p| phase_ip_node(p).2)
            .collect();
        assert_eq!(dns, vec!["kind-control-plane", "kind-control-plane"]);
    }

    #[test]
    fn too_many_pods_is_failed_scheduling_and_retried_later() {
        let mut config = ClusterConfig::kind();
        // The control plane runs 9 system pods, each worker kube-proxy and kindnet: 8 free per worker.
        config.max_pods = 10;
        let mut c = Cluster::new(config);
        c.apply_manifests(&httpd_deployment(17)).unwrap();
        c.settle();
        let all = pods(&c, "default", "httpd-");
        let pending: Vec<&&Pod> = all
            .iter()
            .filter(|p| p.spec.as_ref().unwrap().node_name.is_none())
            .collect();
        assert_eq!(pending.len(), 1);
        let name = pending[0].metadata.name.clone().unwrap();
        let evs = events_for(&c, "default", &name);
        assert_eq!(
            evs,
            vec![(
                "FailedScheduling".to_string(),
                "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Too many pods. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.".to_string()
            )]
        );
        let cond = pending[0]
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "PodScheduled")
            .unwrap()
            .clone();
        assert_eq!(
            (cond.status.as_str(), cond.reason.as_deref()),
            ("False", Some("Unschedulable"))
        );
        // Scaling down frees a slot: the pending pod (or a sibling) gets placed.
        c.scale(Kind::Deployment, "default", "httpd", 16).unwrap();
        c.settle();
        let all = pods(&c, "default", "httpd-");
        assert_eq!(all.len(), 16);
        assert!(all.iter().all(|p| phase_ip_node(p).0 == "Running"));
    }

    #[test]
    fn node_selector_and_tolerations() {
        let text = httpd_deployment(2).replace(
            "    spec:\n      containers:",
            "    spec:\n      nodeSelector:\n        kubernetes.io/hostname: kind-control-plane\n      tolerations:\n      - key: node-role.kubernetes.io/control-plane\n        operator: Exists\n        effect: NoSchedule\n      containers:",
        );
        let c = cluster_with(&text);
        let nodes: Vec<String> = pods(&c, "default", "httpd-")
            .iter()
            .map(|p| phase_ip_node(p).2)
            .collect();
        assert_eq!(nodes, vec!["kind-control-plane", "kind-control-plane"]);
    }
}
