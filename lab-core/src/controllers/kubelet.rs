//! The kubelet of every node (`pkg/kubelet`), reduced to the pod lifecycle Services depend on.
//!
//! A bound pod goes `Pending` (ContainerCreating) → `Running` once its containers have started
//! (`KubeletConfig::container_start_ms` later, with `Pulling`/`Pulled`/`Created`/`Started`
//! events), and `Ready` when its readiness probe first succeeds (`initialDelaySeconds`, then
//! `successThreshold` periods) or after `readiness_delay_ms` without a probe. Its IP comes from the
//! node's /24 like kindnet's host-local IPAM: the address after the last one handed out, skipping
//! ones in use, wrapping around. A deleted pod is `Terminating` (`Killing` event) until its
//! containers stop, then it is removed and its IP freed.

use crate::cluster::Cluster;
use crate::config::NodeConfig;
use crate::object::{Object, ObjectKey};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, HostIP, Pod,
    PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rand::Rng;

/// Whether the pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Offset of `ip` inside `node`'s pod range.
pub(crate) fn ip_offset(c: &Cluster, node: &str, ip: &str) -> Option<u64> {
    let n = c.node_config(node)?;
    n.pod_cidr.offset(ip.parse().ok()?)
}

fn ms(t: &Time) -> i64 {
    t.0.as_millisecond()
}

/// host-local IPAM: next free address after the last one handed out (.2 … .254 of a /24).
fn allocate_ip(c: &mut Cluster, node: &NodeConfig) -> Option<String> {
    let size = node.pod_cidr.size();
    let (first, last) = (2u64, size.saturating_sub(2));
    if last < first {
        return None;
    }
    let span = last - first + 1;
    let prev = c
        .state
        .ipam_last
        .get(&node.name)
        .copied()
        .unwrap_or(first - 1);
    let used = c.state.ipam_used.entry(node.name.clone()).or_default();
    let start = if prev < first || prev >= last {
        first
    } else {
        prev + 1
    };
    for i in 0..span {
        let off = first + (start - first + i) % span;
        if !used.contains(&off) {
            used.insert(off);
            c.state.ipam_last.insert(node.name.clone(), off);
            return Some(node.pod_cidr.nth(off).to_string());
        }
    }
    None
}

/// Virtual time at which a started pod first reports Ready.
fn ready_at(c: &Cluster, pod: &Pod, started_ms: i64) -> i64 {
    let probe = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.readiness_probe.as_ref());
    match probe {
        Some(p) => {
            let initial = p.initial_delay_seconds.unwrap_or(0).max(0) as i64;
            let period = p.period_seconds.unwrap_or(10).max(1) as i64;
            let successes = p.success_threshold.unwrap_or(1).max(1) as i64;
            started_ms + (initial + (successes - 1) * period) * 1000
        }
        None => started_ms + c.config.kubelet.readiness_delay_ms as i64,
    }
}

/// A fake but stable image size, for the `Pulled` message.
fn image_size(image: &str) -> u64 {
    40_000_000 + (crate::names::fnv32a(image.as_bytes()) as u64 % 60_000_000)
}

fn condition(
    type_: &str,
    status: bool,
    now: &Time,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        last_transition_time: Some(now.clone()),
        reason: reason.map(str::to_string),
        message,
        ..Default::default()
    }
}

/// Sets condition `type_` keeping `lastTransitionTime` when the status does not change.
fn set_condition(status: &mut PodStatus, new: PodCondition) {
    let list = status.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = list.iter_mut().find(|c| c.type_ == new.type_) {
        if c.status != new.status || c.reason != new.reason {
            *c = new;
        }
    } else {
        list.push(new);
        // The order the kubelet's status manager writes them in.
        const ORDER: [&str; 5] = [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ];
        list.sort_by_key(|c| {
            ORDER
                .iter()
                .position(|t| *t == c.type_)
                .unwrap_or(ORDER.len())
        });
    }
}

fn not_ready_message(pod: &Pod) -> Option<String> {
    let names: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
        .collect();
    Some(format!(
        "containers with unready status: [{}]",
        names.join(" ")
    ))
}

/// Syncs one pod on its node.
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let Some(obj) = c.store.get(key).cloned() else {
        return;
    };
    let Object::Pod(pod) = &*obj else { return };
    let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
        return;
    };
    let Some(node) = c.node_config(&node_name).cloned() else {
        return;
    };
    let now_ms = c.now_ms;
    let now = c.time();
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let containers: Vec<(String, String)> = pod
        .spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        })
        .collect();

    // Termination.
    if let Some(deleted) = pod.metadata.deletion_timestamp.as_ref() {
        let grace_ms = pod
            .metadata
            .deletion_grace_period_seconds
            .unwrap_or(30)
            .max(0)
            * 1000;
        let done_at = ms(deleted) + grace_ms.min(c.config.kubelet.termination_ms as i64);
        if c.state.terminating_seen.insert(key.clone()) {
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            if running {
                for (name, _) in &containers {
                    c.record_event(
                        &obj,
                        Some(&format!("spec.containers{{{name}}}")),
                        "Normal",
                        "Killing",
                        format!("Stopping container {name}"),
                        "kubelet",
                        Some(&node_name),
                    );
                }
            }
        }
        if now_ms >= done_at {
            c.state.terminating_seen.remove(key);
            c.remove_now(key);
        } else {
            c.wake_at(done_at, key.clone());
        }
        return;
    }

    // One pass computes everything due by now and writes once, like one kubelet sync loop
    // iteration followed by one status update.
    let mut p = pod.clone();
    let mut events: Vec<(String, &'static str, String)> = Vec::new();
    let host_ip = node.ip.to_string();
    let needs_pull = |c: &Cluster, ct: &k8s_openapi::api::core::v1::Container| {
        ct.image_pull_policy.as_deref() == Some("Always")
            || !c
                .state
                .node_images
                .get(&node_name)
                .is_some_and(|imgs| imgs.contains(ct.image.as_deref().unwrap_or("")))
    };
    let pulls: Vec<bool> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|ct| needs_pull(c, ct))
        .collect();

    let status = p.status.get_or_insert_with(Default::default);
    if status.start_time.is_none() || status.phase.as_deref().unwrap_or("").is_empty() {
        // Just bound: accepted by the kubelet, sandbox and images on the way.
        status.phase = Some("Pending".into());
        status.start_time = Some(now.clone());
        status.host_ip = Some(host_ip.clone());
        status.host_ips = Some(vec![HostIP {
            ip: host_ip.clone(),
        }]);
        status.qos_class = Some("BestEffort".into());
        set_condition(
            status,
            condition("PodReadyToStartContainers", false, &now, None, None),
        );
        set_condition(status, condition("Initialized", true, &now, None, None));
        set_condition(
            status,
            condition(
                "Ready",
                false,
                &now,
                Some("ContainersNotReady"),
                not_ready_message(pod),
            ),
        );
        set_condition(
            status,
            condition(
                "ContainersReady",
                false,
                &now,
                Some("ContainersNotReady"),
                not_ready_message(pod),
            ),
        );
        set_condition(status, condition("PodScheduled", true, &now, None, None));
        status.container_statuses = Some(
            containers
                .iter()
                .map(|(name, image)| ContainerStatus {
                    name: name.clone(),
                    image: image.clone(),
                    image_id: String::new(),
                    ready: false,
                    restart_count: 0,
                    started: Some(false),
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some("ContainerCreating".into()),
                            message: None,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
        );
        for ((name, image), pull) in containers.iter().zip(&pulls) {
            if *pull {
                events.push((name.clone(), "Pulling", format!("Pulling image {image:?}")));
            }
        }
    }

    let started_ms = status.start_time.as_ref().map(ms).unwrap_or(now_ms);
    // Set when the containers start now: what they print first goes to their logs.
    let mut started_ip: Option<String> = None;
    if status.phase.as_deref() == Some("Pending") {
        let run_at = started_ms + c.config.kubelet.container_start_ms as i64;
        if now_ms < run_at {
            c.wake_at(run_at, key.clone());
        } else if let Some(ip) = if host_network {
            Some(host_ip.clone())
        } else {
            allocate_ip(c, &node)
        } {
            // Containers start: the pod gets its IP and runs. (No IP left in the node's range:
            // it stays ContainerCreating, as in reality.)
            let mut ids = Vec::new();
            for _ in &containers {
                let bytes: [u8; 32] = c.rng.random();
                ids.push(crate::names::hex(&bytes));
            }
            started_ip = Some(ip.clone());
            let status = p.status.get_or_insert_with(Default::default);
            status.phase = Some("Running".into());
            status.pod_ip = Some(ip.clone());
            status.pod_ips = Some(vec![PodIP { ip }]);
            set_condition(
                status,
                condition("PodReadyToStartContainers", true, &now, None, None),
            );
            status.container_statuses = Some(
                containers
                    .iter()
                    .zip(&ids)
                    .map(|((name, image), id)| ContainerStatus {
                        name: name.clone(),
                        image: qualify_image(image),
                        image_id: format!(
                            "{}@sha256:{id}",
                            qualify_image(image)
                                .rsplit_once(':')
                                .map_or(image.as_str(), |(n, _)| n)
                        ),
                        container_id: Some(format!("containerd://{id}")),
                        ready: false,
                        restart_count: 0,
                        started: Some(true),
                        state: Some(ContainerState {
                            running: Some(ContainerStateRunning {
                                started_at: Some(now.clone()),
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
            );
            // The pull took the whole start-up time (the kubelet prints Go durations).
            let took = crate::printers::go_duration(
                i64::try_from(c.config.kubelet.container_start_ms)
                    .unwrap_or(i64::MAX / 1_000_000)
                    .saturating_mul(1_000_000),
            );
            for ((name, image), pulled) in containers.iter().zip(&pulls) {
                let msg = if *pulled {
                    format!(
                        "Successfully pulled image {image:?} in {took} ({took} including waiting). Image size: {} bytes.",
                        image_size(image)
                    )
                } else {
                    format!("Container image {image:?} already present on machine")
                };
                events.push((name.clone(), "Pulled", msg));
                events.push((
                    name.clone(),
                    "Created",
                    format!("Created container: {name}"),
                ));
                events.push((name.clone(), "Started", format!("Started container {name}")));
                c.state
                    .node_images
                    .entry(node_name.clone())
                    .or_default()
                    .insert(image.clone());
            }
        }
    }

    let status = p.status.get_or_insert_with(Default::default);
    if status.phase.as_deref() == Some("Running") {
        let container_started = status
            .container_statuses
            .as_ref()
            .and_then(|cs| cs.first())
            .and_then(|cs| cs.state.as_ref())
            .and_then(|s| s.running.as_ref())
            .and_then(|r| r.started_at.as_ref())
            .map(ms)
            .unwrap_or(started_ms);
        let at = ready_at(c, pod, container_started);
        let probe_ok = c.readiness_overrides.get(key).copied().unwrap_or(true);
        let ready = probe_ok && now_ms >= at;
        if !ready && probe_ok {
            c.wake_at(at, key.clone());
        }
        for cs in status.container_statuses.iter_mut().flatten() {
            cs.ready = ready;
        }
        let msg = (!ready).then(|| not_ready_message(pod)).flatten();
        let reason = (!ready).then_some("ContainersNotReady");
        set_condition(
            status,
            condition("ContainersReady", ready, &now, reason, msg.clone()),
        );
        set_condition(status, condition("Ready", ready, &now, reason, msg));
    }

    let stored = c.sys_update(Object::Pod(p)).unwrap_or(obj);
    if let Some(ip) = started_ip {
        for (name, image) in &containers {
            for line in crate::logs::startup_lines(image, &ip, now_ms) {
                // The pod was just stored with this container: the append cannot miss it.
                let _ = c.append_log(&key.namespace, &key.name, name, &line);
            }
        }
    }
    for (container, reason, message) in events {
        let fp = format!("spec.containers{{{container}}}");
        c.record_event(
            &stored,
            Some(&fp),
            "Normal",
            reason,
            message,
            "kubelet",
            Some(&node_name),
        );
    }
}

/// Images as containerd reports them: `httpd` → `docker.io/library/httpd:latest`.
pub fn qualify_image(image: &str) -> String {
    let (name, tag) = match image.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n.to_string(), t.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    };
    let first = name.split('/').next().unwrap_or("");
    let name = if !name.contains('/') {
        format!("docker.io/library/{name}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        name
    } else {
        format!("docker.io/{name}")
    };
    format!("{name}:{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        assert_eq!(qualify_image("httpd"), "docker.io/library/httpd:latest");
        assert_eq!(
            qualify_image("busybox:1.28.3"),
            "docker.io/library/busybox:1.28.3"
        );
        assert_eq!(
            qualify_image("registry.k8s.io/coredns/coredns:v1.12.0"),
            "registry.k8s.io/coredns/coredns:v1.12.0"
        );
        assert_eq!(
            qualify_image("kindest/kindnetd:v1"),
            "docker.io/kindest/kindnetd:v1"
        );
    }
}

#[cfg(test)]
mod lifecycle_tests {
    use crate::Cluster;
    use crate::config::ClusterConfig;
    use crate::testutil::*;

    #[test]
    fn pending_then_running_then_ready_with_a_probe() {
        let text = httpd_deployment(1).replace(
            "          ports:\n            - containerPort: 80\n",
            "          ports:\n            - containerPort: 80\n          readinessProbe:\n            httpGet:\n              path: /\n              port: 80\n            initialDelaySeconds: 5\n            periodSeconds: 3\n            successThreshold: 2\n",
        );
        let mut c = Cluster::kind();
        c.apply_manifests(&text).unwrap();
        let p = pods(&c, "default", "httpd-")[0].clone();
        assert_eq!(phase_ip_node(&p).0, "Pending");
        assert_eq!(phase_ip_node(&p).1, "", "no IP before the sandbox runs");
        let waiting = p
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0]
            .state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .clone();
        assert_eq!(waiting.as_deref(), Some("ContainerCreating"));
        c.advance(2_000);
        let p = pods(&c, "default", "httpd-")[0].clone();
        let (phase, ip, node) = phase_ip_node(&p);
        assert_eq!(phase, "Running");
        assert!(
            ip.starts_with(if node == "kind-worker" {
                "10.244.1."
            } else {
                "10.244.2."
            }),
            "{ip} on {node}"
        );
        assert_eq!(
            p.status.as_ref().unwrap().host_ip.as_deref(),
            Some(if node == "kind-worker" {
                "172.18.0.3"
            } else {
                "172.18.0.4"
            })
        );
        assert!(!super::pod_ready(&p));
        c.advance(7_999); // 5 s initial delay + one more 3 s period for the second success
        assert!(!super::pod_ready(pods(&c, "default", "httpd-")[0]));
        c.advance(1);
        assert!(super::pod_ready(pods(&c, "default", "httpd-")[0]));
        let name = p.metadata.name.clone().unwrap();
        let reasons: Vec<String> = events_for(&c, "default", &name)
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(
            reasons,
            vec!["Scheduled", "Pulling", "Pulled", "Created", "Started"]
        );
    }

    #[test]
    fn readiness_delay_and_forced_unreadiness() {
        let mut config = ClusterConfig::kind();
        config.kubelet.readiness_delay_ms = 10_000;
        let mut c = Cluster::new(config);
        c.apply_manifests(&httpd_deployment(1)).unwrap();
        c.advance(11_000);
        assert!(!super::pod_ready(pods(&c, "default", "httpd-")[0]));
        c.advance(1_000);
        let name = pods(&c, "default", "httpd-")[0]
            .metadata
            .name
            .clone()
            .unwrap();
        assert!(super::pod_ready(pods(&c, "default", "httpd-")[0]));
        c.set_pod_ready("default", &name, false).unwrap();
        let p = pods(&c, "default", "httpd-")[0];
        assert!(!super::pod_ready(p));
        assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
        c.set_pod_ready("default", &name, true).unwrap();
        assert!(super::pod_ready(pods(&c, "default", "httpd-")[0]));
        assert!(c.set_pod_ready("default", "nope", true).is_err());
    }

    #[test]
    fn kubelet_pulled_event_duration_is_a_go_duration() {
        let pulled = |start_ms: u64| {
            let mut config = crate::config::ClusterConfig::kind();
            config.kubelet.container_start_ms = start_ms;
            let mut c = crate::Cluster::new(config);
            c.apply_manifests(&httpd_deployment(1)).unwrap();
            c.settle();
            let name = pods(&c, "default", "httpd-")[0]
                .metadata
                .name
                .clone()
                .unwrap();
            events_for(&c, "default", &name)
                .into_iter()
                .find(|(r, _)| r == "Pulled")
                .map(|(_, m)| m)
                .unwrap()
        };
        let size = super::image_size("httpd");
        assert_eq!(
            pulled(2_000),
            format!(
                "Successfully pulled image \"httpd\" in 2s (2s including waiting). Image size: {size} bytes."
            )
        );
        assert!(pulled(1_532).contains(" in 1.532s (1.532s including waiting)."));
        assert!(pulled(62_500).contains(" in 1m2.5s (1m2.5s including waiting)."));
    }

    #[test]
    fn busybox_image_present_after_first_pull() {
        let pod = |n: &str| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {n}\nspec:\n  nodeName: kind-worker\n  containers:\n  - name: c\n    image: busybox:1.28.3\n    args: [/bin/sh, -c, sleep 30000]\n"
            )
        };
        let mut c = cluster_with(&pod("a"));
        c.apply_manifests(&pod("b")).unwrap();
        c.settle();
        let a = events_for(&c, "default", "a");
        assert!(
            a.iter().any(|(r, m)| r == "Pulled"
                && m.starts_with("Successfully pulled image \"busybox:1.28.3\"")),
            "{a:?}"
        );
        let b = events_for(&c, "default", "b");
        assert!(
            b.contains(&(
                "Pulled".into(),
                "Container image \"busybox:1.28.3\" already present on machine".into()
            )),
            "{b:?}"
        );
        assert!(!b.iter().any(|(r, _)| r == "Pulling"));
    }

    #[test]
    fn host_local_ipam_wraps_and_skips_used() {
        let mut c = Cluster::kind();
        let node = c.config.nodes[1].clone();
        c.state.ipam_last.insert(node.name.clone(), 253);
        c.state
            .ipam_used
            .entry(node.name.clone())
            .or_default()
            .insert(2);
        assert_eq!(
            super::allocate_ip(&mut c, &node).as_deref(),
            Some("10.244.1.254")
        );
        assert_eq!(
            super::allocate_ip(&mut c, &node).as_deref(),
            Some("10.244.1.3")
        );
    }
}
