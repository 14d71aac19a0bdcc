//! The Kubernetes protobuf encoding of the request bodies kubectl 1.33's typed generators send
//! (`kubectl create deployment|service …|namespace|configmap`): the `k8s\0` magic, a
//! `runtime.Unknown` envelope, and the object, decoded with kube-rs's prost bindings (`k8s-pb`)
//! and mapped to the JSON the apiserver would have received had kubectl sent JSON (what
//! `--dry-run=client -o json` prints), so it takes the same validation and create path.
//!
//! Every message is destructured field by field, so a field the mapping leaves out is a compile
//! error, not a silent drop. A field the sim does not map is refused when the body sets it, naming
//! its path, so nothing a learner sent is silently lost. Go's encoder writes every non-pointer
//! field, set or not; such a field counts as set only when it is not its zero value, while a
//! pointer, list or map field counts as set whenever it is present.

use k8s_openapi::ByteString;
use k8s_pb::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStatus, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_pb::api::core::v1::{
    ClientIpConfig, ConfigMap, Container, ContainerPort, EnvVar, LoadBalancerStatus,
    LocalObjectReference, Namespace, NamespaceSpec, NamespaceStatus, PodOs, PodSpec,
    PodTemplateSpec, ResourceRequirements, Service, ServicePort, ServiceSpec, ServiceStatus,
    SessionAffinityConfig, Toleration,
};
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference, Time,
};
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\x00";

/// Why a body was not decoded: a path for a field the sim does not map, or a message.
enum Refusal {
    Field(String),
    Other(String),
}

type Result<T> = std::result::Result<T, Refusal>;

/// A field path below `at` (`spec.template` + `spec`).
fn path(at: &str, field: &str) -> String {
    if at.is_empty() {
        field.to_owned()
    } else {
        format!("{at}.{field}")
    }
}

/// Refuses a pointer, list or map field the sim does not map, when the body has it at all.
fn absent<T: Default + PartialEq>(at: &str, field: &str, v: &T) -> Result<()> {
    if *v == T::default() {
        Ok(())
    } else {
        Err(Refusal::Field(path(at, field)))
    }
}

/// Refuses a non-pointer field the sim does not map (Go always encodes it) when it is not zero.
fn zero<T: Default + PartialEq>(at: &str, field: &str, v: &Option<T>) -> Result<()> {
    match v {
        Some(x) if *x != T::default() => Err(Refusal::Field(path(at, field))),
        _ => Ok(()),
    }
}

/// A JSON object as Go's encoding/json writes a Kubernetes type (`omitempty` on most fields).
#[derive(Default)]
struct Json(Map<String, Value>);

impl Json {
    /// A non-pointer `omitempty` field: its zero value is left out.
    fn val<T: Into<Value> + Default + PartialEq>(mut self, key: &str, v: Option<T>) -> Self {
        if let Some(v) = v.filter(|v| *v != T::default()) {
            self.0.insert(key.into(), v.into());
        }
        self
    }
    /// A pointer field: written whenever it was sent, even as zero.
    fn ptr<T: Into<Value>>(mut self, key: &str, v: Option<T>) -> Self {
        if let Some(v) = v {
            self.0.insert(key.into(), v.into());
        }
        self
    }
    /// A field without `omitempty`, or a non-pointer struct: always written.
    fn put(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.0.insert(key.into(), v.into());
        self
    }
    /// An `omitempty` list or map: left out when empty.
    fn list<T: Into<Value>>(mut self, key: &str, v: Vec<T>) -> Self {
        if !v.is_empty() {
            self.0.insert(key.into(), v.into());
        }
        self
    }
    fn map<T: Into<Value>>(mut self, key: &str, v: BTreeMap<String, T>) -> Self {
        if !v.is_empty() {
            let m = v.into_iter().map(|(k, v)| (k, v.into())).collect();
            self.0.insert(key.into(), Value::Object(m));
        }
        self
    }
}

impl From<Json> for Value {
    fn from(j: Json) -> Value {
        Value::Object(j.0)
    }
}

/// Maps each element of a list with its path (`ports[0]`).
fn each<T>(
    at: &str,
    field: &str,
    items: Vec<T>,
    f: impl Fn(&str, T) -> Result<Value>,
) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        out.push(f(&path(at, &format!("{field}[{i}]")), item)?);
    }
    Ok(out)
}

/// An `IntOrString` as its JSON form (`80` or `"http"`).
fn int_or_string(v: IntOrString) -> Value {
    let IntOrString {
        r#type,
        int_val,
        str_val,
    } = v;
    if r#type == Some(1) {
        str_val.unwrap_or_default().into()
    } else {
        int_val.unwrap_or_default().into()
    }
}

fn quantities(v: BTreeMap<String, Quantity>) -> BTreeMap<String, String> {
    v.into_iter()
        .map(|(k, Quantity { string })| (k, string.unwrap_or_default()))
        .collect()
}

/// `ObjectMeta`: a create request's metadata; `creationTimestamp` is `null` as Go writes a zero time.
fn object_meta(at: &str, m: ObjectMeta) -> Result<Value> {
    let ObjectMeta {
        name,
        generate_name,
        namespace,
        self_link,
        uid,
        resource_version,
        generation,
        creation_timestamp,
        deletion_timestamp,
        deletion_grace_period_seconds,
        labels,
        annotations,
        owner_references,
        finalizers,
        managed_fields,
    } = m;
    // The apiserver sets these two on create whatever was sent; a set one is refused.
    let zero_time = creation_timestamp.map(|Time { seconds, nanos }| Time {
        seconds: seconds.filter(|s| *s != 0),
        nanos: nanos.filter(|n| *n != 0),
    });
    zero(at, "creationTimestamp", &zero_time)?;
    absent(at, "deletionTimestamp", &deletion_timestamp)?;
    absent(at, "managedFields", &managed_fields)?;
    let owners = each(at, "ownerReferences", owner_references, |_, o| {
        let OwnerReference {
            api_version,
            kind,
            name,
            uid,
            controller,
            block_owner_deletion,
        } = o;
        Ok(Json::default()
            .put("apiVersion", api_version.unwrap_or_default())
            .put("kind", kind.unwrap_or_default())
            .put("name", name.unwrap_or_default())
            .put("uid", uid.unwrap_or_default())
            .ptr("controller", controller)
            .ptr("blockOwnerDeletion", block_owner_deletion)
            .into())
    })?;
    Ok(Json::default()
        .val("name", name)
        .val("generateName", generate_name)
        .val("namespace", namespace)
        .val("selfLink", self_link)
        .val("uid", uid)
        .val("resourceVersion", resource_version)
        .val("generation", generation)
        .put("creationTimestamp", Value::Null)
        .ptr("deletionGracePeriodSeconds", deletion_grace_period_seconds)
        .map("labels", labels)
        .map("annotations", annotations)
        .list("ownerReferences", owners)
        .list("finalizers", finalizers)
        .into())
}

/// A non-pointer `ObjectMeta` (Go always writes it).
fn meta(at: &str, m: Option<ObjectMeta>) -> Result<Value> {
    object_meta(&path(at, "metadata"), m.unwrap_or_default())
}

fn label_selector(at: &str, s: LabelSelector) -> Result<Value> {
    let LabelSelector {
        match_labels,
        match_expressions,
    } = s;
    let exprs = each(at, "matchExpressions", match_expressions, |_, r| {
        let LabelSelectorRequirement {
            key,
            operator,
            values,
        } = r;
        Ok(Json::default()
            .put("key", key.unwrap_or_default())
            .put("operator", operator.unwrap_or_default())
            .list("values", values)
            .into())
    })?;
    Ok(Json::default()
        .map("matchLabels", match_labels)
        .list("matchExpressions", exprs)
        .into())
}

fn container_port(_: &str, p: ContainerPort) -> Result<Value> {
    let ContainerPort {
        name,
        host_port,
        container_port,
        protocol,
        host_ip,
    } = p;
    Ok(Json::default()
        .val("name", name)
        .val("hostPort", host_port)
        .put("containerPort", container_port.unwrap_or_default())
        .val("protocol", protocol)
        .val("hostIP", host_ip)
        .into())
}

fn env_var(at: &str, e: EnvVar) -> Result<Value> {
    let EnvVar {
        name,
        value,
        value_from,
    } = e;
    absent(at, "valueFrom", &value_from)?;
    Ok(Json::default()
        .put("name", name.unwrap_or_default())
        .val("value", value)
        .into())
}

fn resources(at: &str, r: ResourceRequirements) -> Result<Value> {
    let ResourceRequirements {
        limits,
        requests,
        claims,
    } = r;
    absent(at, "claims", &claims)?;
    Ok(Json::default()
        .map("limits", quantities(limits))
        .map("requests", quantities(requests))
        .into())
}

fn container(at: &str, c: Container) -> Result<Value> {
    let Container {
        name,
        image,
        command,
        args,
        working_dir,
        ports,
        env_from,
        env,
        resources: res,
        resize_policy,
        restart_policy,
        restart_policy_rules,
        volume_mounts,
        volume_devices,
        liveness_probe,
        readiness_probe,
        startup_probe,
        lifecycle,
        termination_message_path,
        termination_message_policy,
        image_pull_policy,
        security_context,
        stdin,
        stdin_once,
        tty,
    } = c;
    absent(at, "envFrom", &env_from)?;
    absent(at, "resizePolicy", &resize_policy)?;
    absent(at, "restartPolicyRules", &restart_policy_rules)?;
    absent(at, "volumeMounts", &volume_mounts)?;
    absent(at, "volumeDevices", &volume_devices)?;
    absent(at, "livenessProbe", &liveness_probe)?;
    absent(at, "readinessProbe", &readiness_probe)?;
    absent(at, "startupProbe", &startup_probe)?;
    absent(at, "lifecycle", &lifecycle)?;
    absent(at, "securityContext", &security_context)?;
    Ok(Json::default()
        .put("name", name.unwrap_or_default())
        .val("image", image)
        .list("command", command)
        .list("args", args)
        .val("workingDir", working_dir)
        .list("ports", each(at, "ports", ports, container_port)?)
        .list("env", each(at, "env", env, env_var)?)
        .put(
            "resources",
            resources(&path(at, "resources"), res.unwrap_or_default())?,
        )
        .ptr("restartPolicy", restart_policy)
        .val("terminationMessagePath", termination_message_path)
        .val("terminationMessagePolicy", termination_message_policy)
        .val("imagePullPolicy", image_pull_policy)
        .val("stdin", stdin)
        .val("stdinOnce", stdin_once)
        .val("tty", tty)
        .into())
}

fn pod_spec(at: &str, s: PodSpec) -> Result<Value> {
    let PodSpec {
        volumes,
        init_containers,
        containers,
        ephemeral_containers,
        restart_policy,
        termination_grace_period_seconds,
        active_deadline_seconds,
        dns_policy,
        node_selector,
        service_account_name,
        service_account,
        automount_service_account_token,
        node_name,
        host_network,
        host_pid,
        host_ipc,
        share_process_namespace,
        security_context,
        image_pull_secrets,
        hostname,
        subdomain,
        affinity,
        scheduler_name,
        tolerations,
        host_aliases,
        priority_class_name,
        priority,
        dns_config,
        readiness_gates,
        runtime_class_name,
        enable_service_links,
        preemption_policy,
        overhead,
        topology_spread_constraints,
        set_hostname_as_fqdn,
        os,
        host_users,
        scheduling_gates,
        resource_claims,
        resources: res,
        hostname_override,
        workload_ref,
    } = s;
    absent(at, "volumes", &volumes)?;
    absent(at, "ephemeralContainers", &ephemeral_containers)?;
    absent(at, "securityContext", &security_context)?;
    absent(at, "affinity", &affinity)?;
    absent(at, "hostAliases", &host_aliases)?;
    absent(at, "dnsConfig", &dns_config)?;
    absent(at, "readinessGates", &readiness_gates)?;
    absent(at, "overhead", &overhead)?;
    absent(
        at,
        "topologySpreadConstraints",
        &topology_spread_constraints,
    )?;
    absent(at, "schedulingGates", &scheduling_gates)?;
    absent(at, "resourceClaims", &resource_claims)?;
    // Newer than the 1.33 API the sim serves.
    absent(at, "hostnameOverride", &hostname_override)?;
    absent(at, "workloadRef", &workload_ref)?;
    let tolerations = each(at, "tolerations", tolerations, |_, t| {
        let Toleration {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
        } = t;
        Ok(Json::default()
            .val("key", key)
            .val("operator", operator)
            .val("value", value)
            .val("effect", effect)
            .ptr("tolerationSeconds", toleration_seconds)
            .into())
    })?;
    let os = os.map(|PodOs { name }| Json::default().put("name", name.unwrap_or_default()));
    let res = match res {
        Some(r) => Some(resources(&path(at, "resources"), r)?),
        None => None,
    };
    let pull_secrets = each(at, "imagePullSecrets", image_pull_secrets, |_, r| {
        let LocalObjectReference { name } = r;
        Ok(Json::default().val("name", name).into())
    })?;
    Ok(Json::default()
        .list(
            "initContainers",
            each(at, "initContainers", init_containers, container)?,
        )
        .list("containers", each(at, "containers", containers, container)?)
        .val("restartPolicy", restart_policy)
        .ptr(
            "terminationGracePeriodSeconds",
            termination_grace_period_seconds,
        )
        .ptr("activeDeadlineSeconds", active_deadline_seconds)
        .val("dnsPolicy", dns_policy)
        .map("nodeSelector", node_selector)
        .val("serviceAccountName", service_account_name)
        .val("serviceAccount", service_account)
        .ptr(
            "automountServiceAccountToken",
            automount_service_account_token,
        )
        .val("nodeName", node_name)
        .val("hostNetwork", host_network)
        .val("hostPID", host_pid)
        .val("hostIPC", host_ipc)
        .ptr("shareProcessNamespace", share_process_namespace)
        .list("imagePullSecrets", pull_secrets)
        .val("hostname", hostname)
        .val("subdomain", subdomain)
        .val("schedulerName", scheduler_name)
        .val("priorityClassName", priority_class_name)
        .ptr("priority", priority)
        .ptr("runtimeClassName", runtime_class_name)
        .ptr("enableServiceLinks", enable_service_links)
        .ptr("preemptionPolicy", preemption_policy)
        .ptr("setHostnameAsFQDN", set_hostname_as_fqdn)
        .ptr("hostUsers", host_users)
        .list("tolerations", tolerations)
        .ptr("os", os)
        .ptr("resources", res)
        .into())
}

fn pod_template(at: &str, t: PodTemplateSpec) -> Result<Value> {
    let PodTemplateSpec { metadata, spec } = t;
    Ok(Json::default()
        .put("metadata", meta(at, metadata)?)
        .put(
            "spec",
            pod_spec(&path(at, "spec"), spec.unwrap_or_default())?,
        )
        .into())
}

fn deployment(d: Deployment) -> Result<Value> {
    let Deployment {
        metadata,
        spec,
        status,
    } = d;
    let DeploymentSpec {
        replicas,
        selector,
        template,
        strategy,
        min_ready_seconds,
        revision_history_limit,
        paused,
        progress_deadline_seconds,
    } = spec.unwrap_or_default();
    let DeploymentStrategy {
        r#type,
        rolling_update,
    } = strategy.unwrap_or_default();
    let rolling_update = rolling_update.map(|r| {
        let RollingUpdateDeployment {
            max_unavailable,
            max_surge,
        } = r;
        Json::default()
            .ptr("maxUnavailable", max_unavailable.map(int_or_string))
            .ptr("maxSurge", max_surge.map(int_or_string))
    });
    let strategy = Json::default()
        .val("type", r#type)
        .ptr("rollingUpdate", rolling_update);
    let selector = match selector {
        Some(s) => Some(label_selector("spec.selector", s)?),
        None => None,
    };
    let spec = Json::default()
        .ptr("replicas", replicas)
        .ptr("selector", selector)
        .put(
            "template",
            pod_template("spec.template", template.unwrap_or_default())?,
        )
        .put("strategy", strategy)
        .val("minReadySeconds", min_ready_seconds)
        .ptr("revisionHistoryLimit", revision_history_limit)
        .val("paused", paused)
        .ptr("progressDeadlineSeconds", progress_deadline_seconds);
    let DeploymentStatus {
        observed_generation,
        replicas,
        updated_replicas,
        ready_replicas,
        available_replicas,
        unavailable_replicas,
        terminating_replicas,
        conditions,
        collision_count,
    } = status.unwrap_or_default();
    absent("status", "conditions", &conditions)?;
    let status = Json::default()
        .val("observedGeneration", observed_generation)
        .val("replicas", replicas)
        .val("updatedReplicas", updated_replicas)
        .val("readyReplicas", ready_replicas)
        .val("availableReplicas", available_replicas)
        .val("unavailableReplicas", unavailable_replicas)
        .ptr("terminatingReplicas", terminating_replicas)
        .ptr("collisionCount", collision_count);
    Ok(Json::default()
        .put("metadata", meta("", metadata)?)
        .put("spec", spec)
        .put("status", status)
        .into())
}

fn service_port(_: &str, p: ServicePort) -> Result<Value> {
    let ServicePort {
        name,
        protocol,
        app_protocol,
        port,
        target_port,
        node_port,
    } = p;
    Ok(Json::default()
        .val("name", name)
        .val("protocol", protocol)
        .ptr("appProtocol", app_protocol)
        .put("port", port.unwrap_or_default())
        .put("targetPort", int_or_string(target_port.unwrap_or_default()))
        .val("nodePort", node_port)
        .into())
}

fn service(s: Service) -> Result<Value> {
    let Service {
        metadata,
        spec,
        status,
    } = s;
    let ServiceSpec {
        ports,
        selector,
        cluster_ip,
        cluster_ips,
        r#type,
        external_ips,
        session_affinity,
        load_balancer_ip,
        load_balancer_source_ranges,
        external_name,
        external_traffic_policy,
        health_check_node_port,
        publish_not_ready_addresses,
        session_affinity_config,
        ip_families,
        ip_family_policy,
        allocate_load_balancer_node_ports,
        load_balancer_class,
        internal_traffic_policy,
        traffic_distribution,
    } = spec.unwrap_or_default();
    let affinity = session_affinity_config.map(|SessionAffinityConfig { client_ip }| {
        let client_ip = client_ip.map(|ClientIpConfig { timeout_seconds }| {
            Json::default().ptr("timeoutSeconds", timeout_seconds)
        });
        Json::default().ptr("clientIP", client_ip)
    });
    let spec = Json::default()
        .list("ports", each("spec", "ports", ports, service_port)?)
        .map("selector", selector)
        .val("clusterIP", cluster_ip)
        .list("clusterIPs", cluster_ips)
        .val("type", r#type)
        .list("externalIPs", external_ips)
        .val("sessionAffinity", session_affinity)
        .val("loadBalancerIP", load_balancer_ip)
        .list("loadBalancerSourceRanges", load_balancer_source_ranges)
        .val("externalName", external_name)
        .val("externalTrafficPolicy", external_traffic_policy)
        .val("healthCheckNodePort", health_check_node_port)
        .val("publishNotReadyAddresses", publish_not_ready_addresses)
        .ptr("sessionAffinityConfig", affinity)
        .list("ipFamilies", ip_families)
        .ptr("ipFamilyPolicy", ip_family_policy)
        .ptr(
            "allocateLoadBalancerNodePorts",
            allocate_load_balancer_node_ports,
        )
        .ptr("loadBalancerClass", load_balancer_class)
        .ptr("internalTrafficPolicy", internal_traffic_policy)
        .ptr("trafficDistribution", traffic_distribution);
    let ServiceStatus {
        load_balancer,
        conditions,
    } = status.unwrap_or_default();
    let LoadBalancerStatus { ingress } = load_balancer.unwrap_or_default();
    absent("status.loadBalancer", "ingress", &ingress)?;
    absent("status", "conditions", &conditions)?;
    Ok(Json::default()
        .put("metadata", meta("", metadata)?)
        .put("spec", spec)
        .put(
            "status",
            Json::default().put("loadBalancer", Json::default()),
        )
        .into())
}

fn namespace(n: Namespace) -> Result<Value> {
    let Namespace {
        metadata,
        spec,
        status,
    } = n;
    let NamespaceSpec { finalizers } = spec.unwrap_or_default();
    let NamespaceStatus { phase, conditions } = status.unwrap_or_default();
    absent("status", "conditions", &conditions)?;
    Ok(Json::default()
        .put("metadata", meta("", metadata)?)
        .put("spec", Json::default().list("finalizers", finalizers))
        .put("status", Json::default().val("phase", phase))
        .into())
}

fn config_map(c: ConfigMap) -> Result<Value> {
    let ConfigMap {
        metadata,
        data,
        binary_data,
        immutable,
    } = c;
    let binary: BTreeMap<String, Value> = binary_data
        .into_iter()
        .map(|(k, v)| (k, serde_json::to_value(ByteString(v)).unwrap_or_default()))
        .collect();
    Ok(Json::default()
        .put("metadata", meta("", metadata)?)
        .ptr("immutable", immutable)
        .map("data", data)
        .map("binaryData", binary)
        .into())
}

/// Decodes one message of the envelope's `raw` bytes.
fn message<M: Message + Default>(raw: &[u8]) -> Result<M> {
    M::decode(raw).map_err(|e| Refusal::Other(format!("the protobuf object is malformed: {e}")))
}

/// Decodes a protobuf request body into the JSON object it encodes; the error says why not.
pub fn decode(body: &[u8]) -> std::result::Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the Kubernetes protobuf magic")?;
    let Unknown {
        type_meta,
        raw,
        content_encoding,
        content_type,
    } = Unknown::decode(envelope)
        .map_err(|e| format!("the protobuf envelope is malformed: {e}"))?;
    if content_encoding.is_some_and(|e| !e.is_empty())
        || content_type.is_some_and(|t| !t.is_empty())
    {
        return Err("the protobuf envelope's contentEncoding/contentType are not supported".into());
    }
    let TypeMeta { api_version, kind } = type_meta.unwrap_or_default();
    let (api_version, kind) = (api_version.unwrap_or_default(), kind.unwrap_or_default());
    let raw = raw.unwrap_or_default();
    let decoded = match (api_version.as_str(), kind.as_str()) {
        ("apps/v1", "Deployment") => message(&raw).and_then(deployment),
        ("v1", "Service") => message(&raw).and_then(service),
        ("v1", "Namespace") => message(&raw).and_then(namespace),
        ("v1", "ConfigMap") => message(&raw).and_then(config_map),
        _ => {
            return Err(format!(
                "protobuf bodies are decoded for v1 Namespace, ConfigMap, Service and apps/v1 Deployment only, not {api_version} {kind}; send JSON"
            ));
        }
    };
    match decoded {
        Ok(Value::Object(mut o)) => {
            o.insert("apiVersion".into(), api_version.into());
            o.insert("kind".into(), kind.into());
            Ok(Value::Object(o))
        }
        Ok(other) => Ok(other),
        Err(Refusal::Field(field)) => Err(format!(
            "{api_version} {kind} field {field} is not supported in protobuf bodies; send JSON"
        )),
        Err(Refusal::Other(m)) => Err(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::api::core::v1::Probe;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/protobuf");

    fn body(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DATA}/{name}.pb")).unwrap()
    }

    /// The envelope kubectl writes around `object`.
    fn envelope(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(object.encode_to_vec()),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        [MAGIC, &unknown.encode_to_vec()].concat()
    }

    /// The object inside a captured body, to change and encode again.
    fn object<M: Message + Default>(name: &str) -> M {
        let unknown = Unknown::decode(&body(name)[MAGIC.len()..]).unwrap();
        M::decode(unknown.raw.unwrap().as_slice()).unwrap()
    }

    #[test]
    fn captured_bodies_decode_to_what_kubectl_sends_as_json() {
        let readme = std::fs::read_to_string(format!("{DATA}/README")).unwrap();
        let names: Vec<&str> = readme
            .lines()
            .filter_map(|l| l.split_once(": kubectl ").map(|(n, _)| n))
            .filter(|n| *n != "job")
            .collect();
        assert_eq!(names.len(), 16);
        for name in names {
            let json = std::fs::read_to_string(format!("{DATA}/{name}.json")).unwrap();
            let want: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(decode(&body(name)), Ok(want), "{name}");
        }
    }

    #[test]
    fn set_fields_the_sim_does_not_map_are_refused_by_path() {
        let mut d: Deployment = object("deployment-web");
        let pod = d.spec.as_mut().unwrap().template.as_mut().unwrap();
        pod.spec.as_mut().unwrap().containers[0].liveness_probe = Some(Probe::default());
        assert_eq!(
            decode(&envelope("apps/v1", "Deployment", &d)),
            Err("apps/v1 Deployment field spec.template.spec.containers[0].livenessProbe is not supported in protobuf bodies; send JSON".into())
        );
        let mut d: Deployment = object("deployment-multi");
        let pod = d.spec.as_mut().unwrap().template.as_mut().unwrap();
        pod.metadata.as_mut().unwrap().creation_timestamp = Some(Time {
            seconds: Some(1),
            nanos: Some(0),
        });
        let err = decode(&envelope("apps/v1", "Deployment", &d)).unwrap_err();
        assert!(
            err.contains(" spec.template.metadata.creationTimestamp "),
            "{err}"
        );

        let mut s: Service = object("service-clusterip");
        s.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: vec![Default::default()],
            }),
            conditions: Vec::new(),
        });
        let err = decode(&envelope("v1", "Service", &s)).unwrap_err();
        assert!(err.contains(" status.loadBalancer.ingress "), "{err}");
        let mut s: Service = object("service-nodeport");
        s.spec.as_mut().unwrap().ports[0].app_protocol = Some("http".into());
        s.spec.as_mut().unwrap().allocate_load_balancer_node_ports = Some(false);
        let v = decode(&envelope("v1", "Service", &s)).unwrap();
        assert_eq!(v["spec"]["ports"][0]["appProtocol"], "http");
        // A pointer set to its zero value is kept, as Go's JSON would write it.
        assert_eq!(v["spec"]["allocateLoadBalancerNodePorts"], false);

        let mut d: Deployment = object("deployment-web");
        let pod = d.spec.as_mut().unwrap().template.as_mut().unwrap();
        let spec = pod.spec.as_mut().unwrap();
        spec.tolerations = vec![Toleration {
            key: Some("a".into()),
            operator: Some("Exists".into()),
            value: Some(String::new()),
            effect: Some("NoSchedule".into()),
            toleration_seconds: None,
        }];
        spec.os = Some(PodOs {
            name: Some("linux".into()),
        });
        spec.resources = Some(ResourceRequirements {
            limits: [(
                "cpu".into(),
                Quantity {
                    string: Some("1".into()),
                },
            )]
            .into(),
            ..Default::default()
        });
        let v = decode(&envelope("apps/v1", "Deployment", &d)).unwrap();
        assert_eq!(
            v["spec"]["template"]["spec"],
            serde_json::json!({
                "containers": [{"name": "httpd", "image": "httpd", "resources": {}}],
                "tolerations": [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}],
                "os": {"name": "linux"},
                "resources": {"limits": {"cpu": "1"}},
            })
        );
    }

    #[test]
    fn other_kinds_and_garbage_are_refused() {
        assert_eq!(
            decode(&body("job")),
            Err("protobuf bodies are decoded for v1 Namespace, ConfigMap, Service and apps/v1 Deployment only, not batch/v1 Job; send JSON".into())
        );
        assert!(decode(b"{}").is_err());
        assert!(decode(b"k8s\x00\x0a\xff").is_err());
        assert!(decode(b"k8s\x00\x12\x02\x0a\xff").is_err());
    }
}
