//! Defaulting, as the apiserver's `SetDefaults_*` functions and default admission plugins do
//! (`pkg/apis/core/v1/defaults.go`, `pkg/apis/apps/v1/defaults.go`), so stored objects look
//! like a real cluster's in `kubectl get -o yaml` and `describe`.

use crate::object::Object;
use k8s_openapi::api::apps::v1::{
    DeploymentStrategy, RollingUpdateDeployment, RollingUpdateStatefulSetStrategy,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    NamespaceSpec, NamespaceStatus, PodSpec, PodTemplateSpec, Probe, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Fills the defaults of `object` in place. ClusterIPs and nodePorts are allocated elsewhere.
pub fn apply_defaults(object: &mut Object) {
    match object {
        Object::Service(s) => {
            let spec = s.spec.get_or_insert_with(Default::default);
            let ty = spec.type_.get_or_insert_with(|| "ClusterIP".into()).clone();
            spec.session_affinity.get_or_insert_with(|| "None".into());
            for p in spec.ports.iter_mut().flatten() {
                p.protocol.get_or_insert_with(|| "TCP".into());
                if p.target_port.is_none() {
                    p.target_port = Some(IntOrString::Int(p.port));
                }
            }
            if ty != "ExternalName" {
                spec.internal_traffic_policy
                    .get_or_insert_with(|| "Cluster".into());
                spec.ip_family_policy
                    .get_or_insert_with(|| "SingleStack".into());
                spec.ip_families.get_or_insert_with(|| vec!["IPv4".into()]);
            }
            if crate::validation::externally_accessible(spec) {
                spec.external_traffic_policy
                    .get_or_insert_with(|| "Cluster".into());
            }
            if ty == "LoadBalancer" {
                spec.allocate_load_balancer_node_ports.get_or_insert(true);
            }
            if s.status.is_none() {
                s.status = Some(k8s_openapi::api::core::v1::ServiceStatus {
                    load_balancer: Some(Default::default()),
                    ..Default::default()
                });
            }
        }
        Object::Pod(p) => {
            // The pod strategy's PrepareForCreate: every new pod starts Pending.
            if p.status.as_ref().is_none_or(|s| s.phase.is_none()) {
                let status = p.status.get_or_insert_with(Default::default);
                status.phase = Some("Pending".into());
                status.qos_class.get_or_insert_with(|| "BestEffort".into());
            }
            if let Some(spec) = p.spec.as_mut() {
                default_pod_spec(spec);
                // Admission: ServiceAccount and DefaultTolerationSeconds.
                spec.service_account_name
                    .get_or_insert_with(|| "default".into());
                spec.enable_service_links.get_or_insert(true);
                spec.priority.get_or_insert(0);
                spec.preemption_policy
                    .get_or_insert_with(|| "PreemptLowerPriority".into());
                default_tolerations(&mut spec.tolerations);
            }
        }
        Object::Deployment(d) => {
            let spec = d.spec.get_or_insert_with(Default::default);
            spec.replicas.get_or_insert(1);
            spec.revision_history_limit.get_or_insert(10);
            spec.progress_deadline_seconds.get_or_insert(600);
            let strategy = spec
                .strategy
                .get_or_insert_with(DeploymentStrategy::default);
            let ty = strategy
                .type_
                .get_or_insert_with(|| "RollingUpdate".into())
                .clone();
            if ty == "RollingUpdate" {
                let ru = strategy
                    .rolling_update
                    .get_or_insert_with(RollingUpdateDeployment::default);
                ru.max_surge
                    .get_or_insert_with(|| IntOrString::String("25%".into()));
                ru.max_unavailable
                    .get_or_insert_with(|| IntOrString::String("25%".into()));
            }
            default_template(&mut spec.template);
        }
        Object::ReplicaSet(r) => {
            let spec = r.spec.get_or_insert_with(Default::default);
            spec.replicas.get_or_insert(1);
            if let Some(t) = spec.template.as_mut() {
                default_template(t);
            }
        }
        Object::StatefulSet(s) => {
            // `SetDefaults_StatefulSet` with 1.33's gates: StatefulSetAutoDeletePVC is GA (so the
            // retention policy is defaulted), MaxUnavailableStatefulSet is alpha and off (so
            // `rollingUpdate.maxUnavailable` is dropped, as the registry's PrepareForCreate does).
            let spec = s.spec.get_or_insert_with(Default::default);
            spec.pod_management_policy
                .get_or_insert_with(|| "OrderedReady".into());
            let strategy = spec
                .update_strategy
                .get_or_insert_with(StatefulSetUpdateStrategy::default);
            if strategy.type_.as_deref().unwrap_or("").is_empty() {
                strategy.type_ = Some("RollingUpdate".into());
                strategy
                    .rolling_update
                    .get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
            }
            if strategy.type_.as_deref() == Some("RollingUpdate")
                && let Some(ru) = strategy.rolling_update.as_mut()
            {
                ru.partition.get_or_insert(0);
            }
            if let Some(ru) = strategy.rolling_update.as_mut() {
                ru.max_unavailable = None;
            }
            let policy = spec
                .persistent_volume_claim_retention_policy
                .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
            for p in [&mut policy.when_deleted, &mut policy.when_scaled] {
                if p.as_deref().unwrap_or("").is_empty() {
                    *p = Some("Retain".into());
                }
            }
            spec.replicas.get_or_insert(1);
            spec.revision_history_limit.get_or_insert(10);
            for claim in spec.volume_claim_templates.iter_mut().flatten() {
                // `SetDefaults_PersistentVolumeClaimSpec` and the claim status a new PVC gets.
                claim
                    .spec
                    .get_or_insert_with(Default::default)
                    .volume_mode
                    .get_or_insert_with(|| "Filesystem".into());
                claim
                    .status
                    .get_or_insert_with(Default::default)
                    .phase
                    .get_or_insert_with(|| "Pending".into());
            }
            default_template(&mut spec.template);
        }
        Object::Namespace(n) => {
            let name = n.metadata.name.clone().unwrap_or_default();
            n.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("kubernetes.io/metadata.name".into(), name);
            // As the namespace strategy's PrepareForCreate: the `kubernetes` finalizer and the
            // Active phase, also when the body has `spec: {}` and `status: {}` (`kubectl create
            // namespace` sends both).
            let spec = n.spec.get_or_insert_with(NamespaceSpec::default);
            let finalizers = spec.finalizers.get_or_insert_with(Vec::new);
            if finalizers.is_empty() {
                finalizers.push("kubernetes".into());
            }
            let status = n.status.get_or_insert_with(NamespaceStatus::default);
            status.phase.get_or_insert_with(|| "Active".into());
        }
        Object::Endpoints(e) => {
            for s in e.subsets.iter_mut().flatten() {
                for p in s.ports.iter_mut().flatten() {
                    p.protocol.get_or_insert_with(|| "TCP".into());
                }
            }
        }
        Object::EndpointSlice(e) => {
            for p in e.ports.iter_mut().flatten() {
                p.protocol.get_or_insert_with(|| "TCP".into());
            }
        }
        _ => {}
    }
}

fn default_template(t: &mut PodTemplateSpec) {
    if let Some(spec) = t.spec.as_mut() {
        default_pod_spec(spec);
    }
}

/// Pod spec defaults, including the DefaultTolerationSeconds admission plugin's tolerations.
pub fn default_pod_spec(spec: &mut PodSpec) {
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.scheduler_name
        .get_or_insert_with(|| "default-scheduler".into());
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.security_context.get_or_insert_with(Default::default);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        let image = c.image.clone().unwrap_or_default();
        c.image_pull_policy
            .get_or_insert_with(|| default_pull_policy(&image).into());
        c.termination_message_path
            .get_or_insert_with(|| "/dev/termination-log".into());
        c.termination_message_policy
            .get_or_insert_with(|| "File".into());
        c.resources.get_or_insert_with(Default::default);
        for p in c.ports.iter_mut().flatten() {
            p.protocol.get_or_insert_with(|| "TCP".into());
        }
        for probe in [
            &mut c.liveness_probe,
            &mut c.readiness_probe,
            &mut c.startup_probe,
        ]
        .into_iter()
        .flatten()
        {
            default_probe(probe);
        }
    }
}

/// `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`: `kubectl describe` prints these
/// (`http-get http://:80/ delay=0s timeout=1s period=10s #success=1 #failure=3`).
fn default_probe(probe: &mut Probe) {
    for (field, default) in [
        (&mut probe.timeout_seconds, 1),
        (&mut probe.period_seconds, 10),
        (&mut probe.success_threshold, 1),
        (&mut probe.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(default);
        }
    }
    if let Some(get) = probe.http_get.as_mut() {
        if get.path.as_deref().unwrap_or("").is_empty() {
            get.path = Some("/".into());
        }
        if get.scheme.as_deref().unwrap_or("").is_empty() {
            get.scheme = Some("HTTP".into());
        }
    }
}

/// `Always` for `:latest` or untagged images, `IfNotPresent` otherwise.
pub fn default_pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') {
        return "IfNotPresent";
    }
    match last.split_once(':') {
        None => "Always",
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// The tolerations the DefaultTolerationSeconds admission plugin adds to every pod.
pub fn default_tolerations(existing: &mut Option<Vec<Toleration>>) {
    let list = existing.get_or_insert_with(Vec::new);
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        if !list.iter().any(|t| t.key.as_deref() == Some(key)) {
            list.push(Toleration {
                effect: Some("NoExecute".into()),
                key: Some(key.into()),
                operator: Some("Exists".into()),
                toleration_seconds: Some(300),
                value: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy() {
        assert_eq!(default_pull_policy("httpd"), "Always");
        assert_eq!(default_pull_policy("busybox:1.28"), "IfNotPresent");
        assert_eq!(default_pull_policy("localhost:5000/app"), "Always");
        assert_eq!(default_pull_policy("httpd:latest"), "Always");
    }

    #[test]
    fn an_empty_namespace_spec_and_status_are_defaulted() {
        let ns = serde_json::json!({"metadata": {"name": "lab"}, "spec": {}, "status": {}});
        let mut o = Object::from_json(crate::object::Kind::Namespace, ns).unwrap();
        apply_defaults(&mut o);
        let v = o.to_json();
        assert_eq!(v["spec"], serde_json::json!({"finalizers": ["kubernetes"]}));
        assert_eq!(v["status"], serde_json::json!({"phase": "Active"}));
    }

    #[test]
    fn probes_get_the_apiservers_defaults() {
        let mut spec: PodSpec = serde_json::from_value(serde_json::json!({
            "containers": [{
                "name": "httpd",
                "image": "httpd:2.4",
                "readinessProbe": {"httpGet": {"port": 80}, "initialDelaySeconds": 5},
                "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 3}
            }]
        }))
        .unwrap();
        default_pod_spec(&mut spec);
        let c = &spec.containers[0];
        let r = c.readiness_probe.as_ref().unwrap();
        let timing = |p: &Probe| {
            (
                p.initial_delay_seconds,
                p.timeout_seconds,
                p.period_seconds,
                p.success_threshold,
                p.failure_threshold,
            )
        };
        assert_eq!(timing(r), (Some(5), Some(1), Some(10), Some(1), Some(3)));
        let get = r.http_get.as_ref().unwrap();
        assert_eq!(
            (get.path.as_deref(), get.scheme.as_deref()),
            (Some("/"), Some("HTTP"))
        );
        let l = c.liveness_probe.as_ref().unwrap();
        assert_eq!(timing(l), (None, Some(1), Some(3), Some(1), Some(3)));
    }
}
