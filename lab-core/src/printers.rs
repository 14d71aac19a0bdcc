//! The apiserver's table printers and kubectl's text rendering of them.
//!
//! This mirrors two upstream pieces:
//! - `pkg/printers/internalversion/printers.go`: the column sets and cell formats the apiserver
//!   puts in a `meta.k8s.io/v1` `Table` when kubectl asks for one (`Accept: …;as=Table`). The
//!   apiserver always builds every column (its `TableConvertor` passes `Wide: true`); kubectl then
//!   hides the `priority: 1` columns unless `-o wide` is given. [`table`] does the same.
//! - kubectl's human-readable printer (`k8s.io/cli-runtime/pkg/printers/tableprinter.go`) writing
//!   through a `text/tabwriter` with min width 6 and padding 3: [`render`].
//!
//! Ages come from `k8s.io/apimachinery/pkg/util/duration.HumanDuration` ([`human_duration`]),
//! measured against the virtual clock passed in, never a real one.
//!
//! Where the apiserver would have defaulted a field before printing (a Service's `type` and
//! ports' `protocol`, a Deployment's `replicas`), an unset field prints as its default, so an
//! object that skipped defaulting still prints as the stored object would on a real cluster.

use crate::object::{Kind, Object};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Endpoints, Event, Namespace, Node, Pod, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, MicroTime, ObjectMeta, Time};
use std::collections::{BTreeMap, BTreeSet};

/// One column definition of a Table (`metav1.TableColumnDefinition`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The column's name as upstream spells it (`Cluster-IP`); kubectl upper-cases it.
    pub name: &'static str,
    /// 0 for columns kubectl always shows, 1 for those shown only with `-o wide`.
    pub priority: i32,
    /// The OpenAPI type upstream declares: `"string"` or `"integer"`.
    pub type_: &'static str,
    /// The OpenAPI format: `"name"` on the Name column, `""` elsewhere.
    pub format: &'static str,
}

/// One row of a Table: the cells, plus the object's namespace and name (for `-A` and for
/// `rows[].object` in a server-side Table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// One cell per column, already formatted (integers as decimal text).
    pub cells: Vec<String>,
    /// The object's namespace, `""` for cluster-scoped kinds.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

/// A Table: column definitions and rows, as the apiserver builds it for `kubectl get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Every column, wide ones included.
    pub columns: Vec<Column>,
    /// One row per object, in the order the objects were given.
    pub rows: Vec<Row>,
}

impl Table {
    /// The table with the name cells prefixed by the kind, as kubectl prints it when a `get`
    /// names several resource types (`kubectl get deploy,rs,pods`): `deployment.apps/httpd`,
    /// `pod/httpd-…`. Like kubectl's `decorateTable`, the prefix goes on the first string column
    /// with format `name`, which for Events is the wide-only Name column.
    pub fn with_kind_prefix(&self, kind: Kind) -> Table {
        let prefix = kind_prefix(kind);
        let mut out = self.clone();
        let Some(col) = out
            .columns
            .iter()
            .position(|c| c.format == "name" && c.type_ == "string")
        else {
            return out;
        };
        for row in &mut out.rows {
            if let Some(cell) = row.cells.get_mut(col) {
                *cell = format!("{prefix}/{cell}");
            }
        }
        out
    }
}

/// The lower-cased `Kind.group` kubectl uses to name a resource in output: `deployment.apps`,
/// `service`, `endpointslice.discovery.k8s.io`.
pub fn kind_prefix(kind: Kind) -> String {
    if kind.group().is_empty() {
        kind.name().to_lowercase()
    } else {
        format!("{}.{}", kind.name().to_lowercase(), kind.group())
    }
}

const fn col(name: &'static str, priority: i32) -> Column {
    Column {
        name,
        priority,
        type_: "string",
        format: "",
    }
}
const fn int_col(name: &'static str, priority: i32) -> Column {
    Column {
        name,
        priority,
        type_: "integer",
        format: "",
    }
}
const NAME: Column = Column {
    name: "Name",
    priority: 0,
    type_: "string",
    format: "name",
};
const AGE: Column = col("Age", 0);

/// The upstream column definitions for `kind` (every column, wide ones included).
pub fn columns(kind: Kind) -> Vec<Column> {
    match kind {
        Kind::Service => vec![
            NAME,
            col("Type", 0),
            col("Cluster-IP", 0),
            col("External-IP", 0),
            col("Port(s)", 0),
            AGE,
            col("Selector", 1),
        ],
        Kind::Pod => vec![
            NAME,
            col("Ready", 0),
            col("Status", 0),
            col("Restarts", 0),
            AGE,
            col("IP", 1),
            col("Node", 1),
            col("Nominated Node", 1),
            col("Readiness Gates", 1),
        ],
        Kind::Endpoints => vec![NAME, col("Endpoints", 0), AGE],
        Kind::EndpointSlice => vec![
            NAME,
            col("AddressType", 0),
            col("Ports", 0),
            col("Endpoints", 0),
            AGE,
        ],
        Kind::Deployment => vec![
            NAME,
            col("Ready", 0),
            col("Up-to-date", 0),
            col("Available", 0),
            AGE,
            col("Containers", 1),
            col("Images", 1),
            col("Selector", 1),
        ],
        Kind::ReplicaSet => vec![
            NAME,
            int_col("Desired", 0),
            int_col("Current", 0),
            int_col("Ready", 0),
            AGE,
            col("Containers", 1),
            col("Images", 1),
            col("Selector", 1),
        ],
        Kind::StatefulSet => vec![
            NAME,
            col("Ready", 0),
            AGE,
            col("Containers", 1),
            col("Images", 1),
        ],
        Kind::Node => vec![
            NAME,
            col("Status", 0),
            col("Roles", 0),
            AGE,
            col("Version", 0),
            col("Internal-IP", 1),
            col("External-IP", 1),
            col("OS-Image", 1),
            col("Kernel-Version", 1),
            col("Container-Runtime", 1),
        ],
        Kind::Namespace => vec![NAME, col("Status", 0), AGE],
        Kind::Event => vec![
            col("Last Seen", 0),
            col("Type", 0),
            col("Reason", 0),
            col("Object", 0),
            col("Subobject", 1),
            col("Source", 1),
            col("Message", 0),
            col("First Seen", 1),
            col("Count", 1),
            Column {
                name: "Name",
                priority: 1,
                type_: "string",
                format: "name",
            },
        ],
        Kind::ConfigMap => vec![NAME, col("Data", 0), AGE],
    }
}

/// Builds the Table the apiserver returns for `objects` of `kind`, with ages measured at
/// virtual time `now_ms` (Unix milliseconds). Objects of another kind are skipped.
pub fn table(kind: Kind, objects: &[&Object], now_ms: i64) -> Table {
    let rows = objects
        .iter()
        .filter(|o| o.kind() == kind)
        .map(|o| Row {
            cells: cells(o, now_ms),
            namespace: o.namespace().to_string(),
            name: o.name().to_string(),
        })
        .collect();
    Table {
        columns: columns(kind),
        rows,
    }
}

fn cells(object: &Object, now: i64) -> Vec<String> {
    match object {
        Object::Service(s) => service_cells(s, now),
        Object::Pod(p) => pod_cells(p, now),
        Object::Endpoints(e) => vec![
            name(&e.metadata),
            format_endpoints(e),
            age(&e.metadata, now),
        ],
        Object::EndpointSlice(s) => vec![
            name(&s.metadata),
            s.address_type.clone(),
            format_discovery_ports(s),
            format_discovery_endpoints(s),
            age(&s.metadata, now),
        ],
        Object::Deployment(d) => deployment_cells(d, now),
        Object::ReplicaSet(r) => replicaset_cells(r, now),
        Object::StatefulSet(s) => statefulset_cells(s, now),
        Object::Node(n) => node_cells(n, now),
        Object::Namespace(n) => namespace_cells(n, now),
        Object::Event(e) => event_cells(e, now),
        Object::ConfigMap(c) => config_map_cells(c, now),
    }
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// `translateTimestampSince`: `<unknown>` for a missing timestamp.
fn since(t: Option<&Time>, now: i64) -> String {
    match t {
        Some(t) => human_duration(now.saturating_sub(t.0.as_millisecond())),
        None => "<unknown>".into(),
    }
}

fn since_micro(t: Option<&MicroTime>, now: i64) -> String {
    match t {
        Some(t) => human_duration(now.saturating_sub(t.0.as_millisecond())),
        None => "<unknown>".into(),
    }
}

fn age(meta: &ObjectMeta, now: i64) -> String {
    since(meta.creation_timestamp.as_ref(), now)
}

/// `duration.HumanDuration` (k8s.io/apimachinery/pkg/util/duration): a duration in
/// milliseconds as kubectl's AGE column shows it, with 2–3 significant figures:
/// `45s`, `119s`, `2m`, `5m25s`, `15m`, `3h`, `5h30m`, `47h`, `2d`, `3d4h`, `300d`, `2y`,
/// `3y15d`, `9y`. Go truncates seconds toward zero and forgives up to a second of clock skew,
/// so `-1999` ms prints `0s` and anything more negative prints `<invalid>`.
pub fn human_duration(ms: i64) -> String {
    // int(d.Seconds()) truncates toward zero.
    let seconds = ms / 1000;
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Go's `time.Duration.String()`: a duration in nanoseconds as the kubelet's events print it
/// (`%v`): `0s`, `532ns`, `1.5µs`, `532ms`, `2s`, `1.532s`, `1m2.5s`, `2h0m0s`. Under a second
/// the unit shrinks (ns, µs, ms); from a second on it is `[h][m]s` with the seconds' fraction
/// to nanoseconds, trailing zeros and a bare decimal point dropped.
pub fn go_duration(nanos: i64) -> String {
    /// `fmtFrac`: `v / 10^prec` and the fraction's digits (without trailing zeros) after a dot.
    fn frac(v: u64, prec: u32) -> (u64, String) {
        let scale = 10u64.pow(prec);
        let digits = format!("{:0width$}", v % scale, width = prec as usize);
        let digits = digits.trim_end_matches('0');
        let out = if digits.is_empty() {
            String::new()
        } else {
            format!(".{digits}")
        };
        (v / scale, out)
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (int, frac) = frac(u, prec);
        return format!("{sign}{int}{frac}{unit}");
    }
    let (secs, frac) = frac(u, 9);
    let (mins, hours) = (secs / 60, secs / 3600);
    let s = format!("{}{frac}s", secs % 60);
    if hours > 0 {
        format!("{sign}{hours}h{}m{s}", mins % 60)
    } else if mins > 0 {
        format!("{sign}{mins}m{s}")
    } else {
        format!("{sign}{s}")
    }
}

// ----- Service -----

fn service_cells(s: &Service, now: i64) -> Vec<String> {
    let spec = s.spec.clone().unwrap_or_default();
    let svc_type = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
    // The v1→internal conversion fills clusterIPs from clusterIP when only the latter is set.
    let cluster_ip = spec
        .cluster_ips
        .as_ref()
        .and_then(|ips| ips.first().cloned())
        .or_else(|| spec.cluster_ip.clone().filter(|ip| !ip.is_empty()))
        .unwrap_or_else(|| "<none>".into());
    let mut ports = make_port_string(&spec.ports.clone().unwrap_or_default());
    if ports.is_empty() {
        ports = "<none>".into();
    }
    vec![
        name(&s.metadata),
        svc_type.clone(),
        cluster_ip,
        service_external_ip(s, &svc_type),
        ports,
        age(&s.metadata, now),
        format_labels(spec.selector.as_ref()),
    ]
}

/// `getServiceExternalIP` with `wide = true` (the apiserver never clips the ingress list).
fn service_external_ip(s: &Service, svc_type: &str) -> String {
    let spec = s.spec.as_ref();
    let external_ips: Vec<String> = spec
        .and_then(|sp| sp.external_ips.clone())
        .unwrap_or_default();
    match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".into()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            // loadBalancerStatusStringer: a sorted set of ingress IPs (or hostnames).
            let ingress: BTreeSet<String> = s
                .status
                .as_ref()
                .and_then(|st| st.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    i.ip.clone()
                        .filter(|ip| !ip.is_empty())
                        .or_else(|| i.hostname.clone().filter(|h| !h.is_empty()))
                })
                .collect();
            let lb_ips: Vec<String> = ingress.into_iter().collect();
            if !external_ips.is_empty() {
                let mut all = lb_ips;
                all.extend(external_ips);
                return all.join(",");
            }
            if lb_ips.is_empty() {
                "<pending>".into()
            } else {
                lb_ips.join(",")
            }
        }
        "ExternalName" => spec
            .and_then(|sp| sp.external_name.clone())
            .unwrap_or_default(),
        _ => "<unknown>".into(),
    }
}

/// `makePortString`: `8080/TCP`, `80:30144/TCP`, comma-joined.
fn make_port_string(ports: &[k8s_openapi::api::core::v1::ServicePort]) -> String {
    ports
        .iter()
        .map(|p| {
            let proto = p.protocol.as_deref().unwrap_or("TCP");
            match p.node_port.filter(|n| *n > 0) {
                Some(np) => format!("{}:{np}/{proto}", p.port),
                None => format!("{}/{proto}", p.port),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `labels.FormatLabels`: `k=v` pairs in key order, `<none>` when empty.
fn format_labels(map: Option<&BTreeMap<String, String>>) -> String {
    let s = map
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if s.is_empty() { "<none>".into() } else { s }
}

/// `metav1.LabelSelectorAsSelector(sel).String()`: requirements sorted by key, `in`/`notin`
/// values sorted. `Err` for an operator the apiserver would reject. `None` and an empty
/// selector both print as `""`.
fn selector_string(sel: Option<&LabelSelector>) -> Result<String, ()> {
    let Some(sel) = sel else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in sel.match_labels.iter().flatten() {
        reqs.push((k.clone(), format!("{k}={v}")));
    }
    for e in sel.match_expressions.iter().flatten() {
        let mut values = e.values.clone().unwrap_or_default();
        values.sort();
        let text = match e.operator.as_str() {
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            _ => return Err(()),
        };
        reqs.push((e.key.clone(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`: `<none>` when empty, `<error>` when invalid.
fn format_label_selector(sel: Option<&LabelSelector>) -> String {
    match selector_string(sel) {
        Ok(s) if s.is_empty() => "<none>".into(),
        Ok(s) => s,
        Err(()) => "<error>".into(),
    }
}

// ----- Pod -----

fn is_restartable_init(c: Option<&Container>) -> bool {
    c.is_some_and(|c| c.restart_policy.as_deref() == Some("Always"))
}

fn later(acc: Option<i64>, t: Option<&Time>) -> Option<i64> {
    match (acc, t.map(|t| t.0.as_millisecond())) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `printPod`: Ready, Status (the same reason logic as upstream, init containers included),
/// Restarts (`2 (5m ago)`), and the wide cells.
fn pod_cells(pod: &Pod, now: i64) -> Vec<String> {
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let conditions = status.conditions.clone().unwrap_or_default();
    let phase = status.phase.clone().unwrap_or_default();

    let mut restarts: i64 = 0;
    let mut restartable_restarts: i64 = 0;
    let mut total = spec.containers.len();
    let mut ready = 0usize;
    let mut last_restart: Option<i64> = None;
    let mut last_restartable_restart: Option<i64> = None;

    let mut reason = phase.clone();
    if let Some(r) = status.reason.as_deref().filter(|r| !r.is_empty()) {
        reason = r.to_string();
    }
    if conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".into();
    }

    let init_specs = spec.init_containers.clone().unwrap_or_default();
    let init_by_name: BTreeMap<&str, &Container> =
        init_specs.iter().map(|c| (c.name.as_str(), c)).collect();
    total += init_specs
        .iter()
        .filter(|c| is_restartable_init(Some(c)))
        .count();

    let mut initializing = false;
    for (i, cs) in status.init_container_statuses.iter().flatten().enumerate() {
        restarts += i64::from(cs.restart_count);
        let last_terminated = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
        last_restart = later(
            last_restart,
            last_terminated.and_then(|t| t.finished_at.as_ref()),
        );
        let restartable = is_restartable_init(init_by_name.get(cs.name.as_str()).copied());
        if restartable {
            restartable_restarts += i64::from(cs.restart_count);
            last_restartable_restart = later(
                last_restartable_restart,
                last_terminated.and_then(|t| t.finished_at.as_ref()),
            );
        }
        let state = cs.state.clone().unwrap_or_default();
        if state.terminated.as_ref().is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if restartable && cs.started == Some(true) {
            if cs.ready {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = &state.terminated {
            reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => match t.signal.filter(|s| *s != 0) {
                    Some(sig) => format!("Init:Signal:{sig}"),
                    None => format!("Init:ExitCode:{}", t.exit_code),
                },
            };
        } else if let Some(r) = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.as_deref())
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for cs in status.container_statuses.iter().flatten().rev() {
            restarts += i64::from(cs.restart_count);
            let last_terminated = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            last_restart = later(
                last_restart,
                last_terminated.and_then(|t| t.finished_at.as_ref()),
            );
            let state = cs.state.clone().unwrap_or_default();
            if let Some(r) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.as_deref())
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if let Some(t) = &state.terminated {
                reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_string(),
                    None => match t.signal.filter(|s| *s != 0) {
                        Some(sig) => format!("Signal:{sig}"),
                        None => format!("ExitCode:{}", t.exit_code),
                    },
                };
            } else if cs.ready && state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if pod_ready {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = pod.metadata.deletion_timestamp.is_some();
    if deleting && status.reason.as_deref() == Some("NodeLost") {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_str = match last_restart {
        Some(at) if restarts != 0 => format!(
            "{restarts} ({} ago)",
            human_duration(now.saturating_sub(at))
        ),
        _ => restarts.to_string(),
    };

    // The v1→internal conversion fills podIPs from podIP when only the latter is set.
    let pod_ip = status
        .pod_ips
        .as_ref()
        .and_then(|ips| ips.first().map(|p| p.ip.clone()))
        .or_else(|| status.pod_ip.clone())
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| "<none>".into());
    let node = spec
        .node_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "<none>".into());
    let nominated = status
        .nominated_node_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "<none>".into());
    let gates = spec.readiness_gates.clone().unwrap_or_default();
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                conditions
                    .iter()
                    .find(|c| c.type_ == g.condition_type)
                    .is_some_and(|c| c.status == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };

    vec![
        name(&pod.metadata),
        format!("{ready}/{total}"),
        reason,
        restarts_str,
        age(&pod.metadata, now),
        pod_ip,
        node,
        nominated,
        readiness_gates,
    ]
}

// ----- Endpoints and EndpointSlices -----

/// `net.JoinHostPort`: brackets around IPv6 addresses.
fn join_host_port(ip: &str, port: i32) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// `formatEndpoints(endpoints, nil)`: up to three `ip:port` entries from the ready addresses
/// (`subsets[].addresses`; `notReadyAddresses` never print), in stored order, then
/// ` + N more...`; `<none>` when there are no subsets.
fn format_endpoints(e: &Endpoints) -> String {
    let subsets = e.subsets.clone().unwrap_or_default();
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in &subsets {
        let addresses = ss.addresses.clone().unwrap_or_default();
        let ports = ss.ports.clone().unwrap_or_default();
        if ports.is_empty() {
            // A headless Service may have no ports: bare IPs.
            count += addresses.len();
            for a in &addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(a.ip.clone());
            }
            continue;
        }
        for port in &ports {
            count += addresses.len();
            for a in &addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(&a.ip, port.port));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// `listWithMoreString`: `<unset>` for an empty list.
fn list_with_more(list: Vec<String>, more: bool, count: usize, max: usize) -> String {
    let joined = list.join(",");
    if more {
        return format!("{joined} + {} more...", count - max);
    }
    if joined.is_empty() {
        "<unset>".into()
    } else {
        joined
    }
}

/// `formatDiscoveryPorts`: port numbers (or names, or `*`), up to three.
fn format_discovery_ports(s: &EndpointSlice) -> String {
    const MAX: usize = 3;
    let (mut list, mut more, mut count) = (Vec::new(), false, 0usize);
    for p in s.ports.iter().flatten() {
        if list.len() < MAX {
            let text = match (p.port, &p.name) {
                (Some(n), _) => n.to_string(),
                (None, Some(name)) => name.clone(),
                (None, None) => "*".to_string(),
            };
            list.push(text);
        } else if list.len() == MAX {
            more = true;
        }
        count += 1;
    }
    list_with_more(list, more, count, MAX)
}

/// `formatDiscoveryEndpoints`: every endpoint's addresses (ready or not), up to three.
fn format_discovery_endpoints(s: &EndpointSlice) -> String {
    const MAX: usize = 3;
    let (mut list, mut more, mut count) = (Vec::new(), false, 0usize);
    for ep in &s.endpoints {
        for a in &ep.addresses {
            if list.len() < MAX {
                list.push(a.clone());
            } else if list.len() == MAX {
                more = true;
            }
            count += 1;
        }
    }
    list_with_more(list, more, count, MAX)
}

// ----- Deployment and ReplicaSet -----

/// `layoutContainerCells`: container names and images, comma-joined.
fn container_cells(containers: &[Container]) -> (String, String) {
    let names = containers
        .iter()
        .map(|c| c.name.clone())
        .collect::<Vec<_>>()
        .join(",");
    let images = containers
        .iter()
        .map(|c| c.image.clone().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",");
    (names, images)
}

fn deployment_cells(d: &Deployment, now: i64) -> Vec<String> {
    let spec = d.spec.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    let desired = spec.replicas.unwrap_or(1);
    let containers = spec
        .template
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let (names, images) = container_cells(&containers);
    let selector = selector_string(Some(&spec.selector)).unwrap_or_else(|()| "<invalid>".into());
    vec![
        name(&d.metadata),
        format!("{}/{desired}", status.ready_replicas.unwrap_or(0)),
        status.updated_replicas.unwrap_or(0).to_string(),
        status.available_replicas.unwrap_or(0).to_string(),
        age(&d.metadata, now),
        names,
        images,
        selector,
    ]
}

fn replicaset_cells(r: &ReplicaSet, now: i64) -> Vec<String> {
    let spec = r.spec.clone().unwrap_or_default();
    let status = r.status.clone().unwrap_or_default();
    let containers = spec
        .template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let (names, images) = container_cells(&containers);
    vec![
        name(&r.metadata),
        spec.replicas.unwrap_or(1).to_string(),
        status.replicas.to_string(),
        status.ready_replicas.unwrap_or(0).to_string(),
        age(&r.metadata, now),
        names,
        images,
        format_label_selector(Some(&spec.selector)),
    ]
}

/// `printStatefulSet`: READY is ready/desired.
fn statefulset_cells(s: &StatefulSet, now: i64) -> Vec<String> {
    let spec = s.spec.clone().unwrap_or_default();
    let status = s.status.clone().unwrap_or_default();
    let containers = spec
        .template
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let (names, images) = container_cells(&containers);
    vec![
        name(&s.metadata),
        format!(
            "{}/{}",
            status.ready_replicas.unwrap_or(0),
            spec.replicas.unwrap_or(1)
        ),
        age(&s.metadata, now),
        names,
        images,
    ]
}

// ----- Node, Namespace, Event, ConfigMap -----

fn node_cells(n: &Node, now: i64) -> Vec<String> {
    let status = n.status.clone().unwrap_or_default();
    let mut states: Vec<String> = Vec::new();
    // Only the Ready condition is reported (NodeAllConditions = [NodeReady]); the last one wins.
    if let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .rfind(|c| c.type_ == "Ready")
    {
        states.push(if c.status == "True" {
            "Ready".into()
        } else {
            "NotReady".into()
        });
    }
    if states.is_empty() {
        states.push("Unknown".into());
    }
    if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        states.push("SchedulingDisabled".into());
    }
    // findNodeRoles: node-role.kubernetes.io/<role> keys and kubernetes.io/role values, as a sorted set.
    let mut roles: BTreeSet<String> = BTreeSet::new();
    for (k, v) in n.metadata.labels.iter().flatten() {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.insert(v.clone());
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };
    let info = status.node_info.clone().unwrap_or_default();
    let address = |t: &str| {
        status
            .addresses
            .iter()
            .flatten()
            .find(|a| a.type_ == t)
            .map(|a| a.address.clone())
            .unwrap_or_else(|| "<none>".into())
    };
    let unknown = |s: &str| {
        if s.is_empty() {
            "<unknown>".to_string()
        } else {
            s.to_string()
        }
    };
    vec![
        name(&n.metadata),
        states.join(","),
        roles,
        age(&n.metadata, now),
        info.kubelet_version.clone(),
        address("InternalIP"),
        address("ExternalIP"),
        unknown(&info.os_image),
        unknown(&info.kernel_version),
        unknown(&info.container_runtime_version),
    ]
}

fn namespace_cells(n: &Namespace, now: i64) -> Vec<String> {
    let phase = n
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    vec![name(&n.metadata), phase, age(&n.metadata, now)]
}

fn event_cells(e: &Event, now: i64) -> Vec<String> {
    let first = match &e.first_timestamp {
        Some(t) => since(Some(t), now),
        None => since_micro(e.event_time.as_ref(), now),
    };
    let mut last = match &e.last_timestamp {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = e.count.unwrap_or(0);
    if let Some(series) = &e.series {
        last = since_micro(series.last_observed_time.as_ref(), now);
        count = series.count.unwrap_or(0);
    } else if count == 0 {
        // Singleton events of the events.k8s.io API carry no count.
        count = 1;
    }
    let io = &e.involved_object;
    let kind = io.kind.clone().unwrap_or_default().to_lowercase();
    let target = match io.name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => format!("{kind}/{n}"),
        None => kind,
    };
    let source = e.source.clone().unwrap_or_default();
    let first_non_empty = |a: Option<String>, b: Option<String>| {
        a.filter(|s| !s.is_empty()).or(b).unwrap_or_default()
    };
    let component = first_non_empty(source.component, e.reporting_component.clone());
    let instance = first_non_empty(source.host, e.reporting_instance.clone());
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        last,
        e.type_.clone().unwrap_or_default(),
        e.reason.clone().unwrap_or_default(),
        target,
        io.field_path.clone().unwrap_or_default(),
        source,
        e.message.clone().unwrap_or_default().trim().to_string(),
        first,
        count.to_string(),
        name(&e.metadata),
    ]
}

fn config_map_cells(c: &ConfigMap, now: i64) -> Vec<String> {
    let n =
        c.data.as_ref().map_or(0, BTreeMap::len) + c.binary_data.as_ref().map_or(0, BTreeMap::len);
    vec![name(&c.metadata), n.to_string(), age(&c.metadata, now)]
}

// ----- text rendering -----

/// text/tabwriter as kubectl configures it: minwidth 6, padding 3, pad with spaces.
const TAB_MIN_WIDTH: usize = 6;
const TAB_PADDING: usize = 3;

/// Renders a Table as `kubectl get` prints it: upper-cased headers, every column but the last
/// padded to its widest cell plus 3 spaces (at least 6 wide, as kubectl's tabwriter does), a
/// `NAMESPACE` column first when `with_namespace` (`-A`), and the `priority: 1` columns only
/// when `wide` (`-o wide`). Each line ends with `\n`. A table without rows renders as `""`:
/// printing [`no_resources`] instead is the caller's job, as in kubectl.
///
/// Like tabwriter, the last cell of a line is never padded, so lines carry no trailing spaces
/// unless that last cell is itself empty.
pub fn render(table: &Table, wide: bool, with_namespace: bool) -> String {
    if table.rows.is_empty() {
        return String::new();
    }
    let shown: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| wide || c.priority == 0)
        .map(|(i, _)| i)
        .collect();
    let mut lines: Vec<Vec<String>> = Vec::with_capacity(table.rows.len() + 1);
    let mut header: Vec<String> = Vec::new();
    if with_namespace {
        header.push("NAMESPACE".into());
    }
    header.extend(shown.iter().map(|&i| table.columns[i].name.to_uppercase()));
    lines.push(header);
    for row in &table.rows {
        let mut line: Vec<String> = Vec::new();
        if with_namespace {
            line.push(row.namespace.clone());
        }
        line.extend(
            shown
                .iter()
                .map(|&i| row.cells.get(i).cloned().unwrap_or_default()),
        );
        lines.push(line);
    }
    let ncols = lines[0].len();
    let widths: Vec<usize> = (0..ncols)
        .map(|j| {
            lines
                .iter()
                .map(|l| l.get(j).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .map(|w| (w + TAB_PADDING).max(TAB_MIN_WIDTH))
        .collect();
    let mut out = String::new();
    for line in &lines {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < line.len() {
                let pad = widths[j].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// kubectl's message for an empty list: `No resources found in default namespace.`, or
/// `No resources found` for cluster-scoped kinds and `-A`.
pub fn no_resources(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("No resources found in {ns} namespace."),
        None => "No resources found".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
        ContainerStatus, EndpointAddress, EndpointPort, EndpointSubset, LoadBalancerIngress,
        LoadBalancerStatus, PodCondition, PodSpec, PodStatus, ServicePort, ServiceSpec,
        ServiceStatus,
    };
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort as SlicePort};
    use k8s_openapi::jiff::Timestamp;

    const T0: i64 = 1_750_000_000_000;

    fn meta(name: &str, created_ms: i64) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            creation_timestamp: Some(Time(Timestamp::from_millisecond(created_ms).unwrap())),
            ..Default::default()
        }
    }

    fn svc(
        name: &str,
        type_: &str,
        ip: &str,
        ports: Vec<ServicePort>,
        selector: &[(&str, &str)],
    ) -> Object {
        Object::Service(Box::new(Service {
            metadata: meta(name, T0),
            spec: Some(ServiceSpec {
                type_: Some(type_.into()),
                cluster_ip: Some(ip.into()),
                cluster_ips: Some(vec![ip.into()]),
                ports: Some(ports),
                selector: (!selector.is_empty()).then(|| {
                    selector
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
                ..Default::default()
            }),
            status: Some(ServiceStatus::default()),
        }))
    }

    fn port(port: i32, node_port: Option<i32>) -> ServicePort {
        ServicePort {
            port,
            node_port,
            protocol: Some("TCP".into()),
            ..Default::default()
        }
    }

    /// Cases from Go's `time_test.go` (`durationTests`) and the kubelet's pull times.
    #[test]
    fn go_duration_formats_like_time_duration_string() {
        const NS: i64 = 1;
        const US: i64 = 1_000;
        const MS: i64 = 1_000_000;
        const S: i64 = 1_000_000_000;
        const M: i64 = 60 * S;
        const H: i64 = 60 * M;
        for (d, want) in [
            (0, "0s"),
            (NS, "1ns"),
            (1100 * NS, "1.1µs"),
            (2200 * US, "2.2ms"),
            (532 * MS, "532ms"),
            (999_999_999 * NS, "999.999999ms"),
            (S, "1s"),
            (2 * S, "2s"),
            (1532 * MS, "1.532s"),
            (3300 * MS, "3.3s"),
            (4 * M + 5 * S, "4m5s"),
            (4 * M + 5001 * MS, "4m5.001s"),
            (62500 * MS, "1m2.5s"),
            (5 * H + 6 * M + 7001 * MS, "5h6m7.001s"),
            (8 * M + NS, "8m0.000000001s"),
            (2 * H, "2h0m0s"),
            (-NS, "-1ns"),
            (-1500 * MS, "-1.5s"),
            (-(4 * M + 5 * S), "-4m5s"),
        ] {
            assert_eq!(go_duration(d), want, "go_duration({d})");
        }
    }

    #[test]
    fn human_duration_matches_upstream() {
        let s = 1000;
        let m = 60 * s;
        let h = 60 * m;
        let d = 24 * h;
        let y = 365 * d;
        let cases: &[(i64, &str)] = &[
            (-2 * s, "<invalid>"),
            (-1999, "0s"),
            (-s, "0s"),
            (0, "0s"),
            (999, "0s"),
            (25 * s, "25s"),
            (119 * s, "119s"),
            (2 * m, "2m"),
            (5 * m + 25 * s, "5m25s"),
            (9 * m + 59 * s, "9m59s"),
            (10 * m + 30 * s, "10m"),
            (179 * m, "179m"),
            (3 * h, "3h"),
            (5 * h + 30 * m, "5h30m"),
            (8 * h + 30 * m, "8h"),
            (47 * h, "47h"),
            (48 * h, "2d"),
            (3 * d + 4 * h, "3d4h"),
            (7 * d + 23 * h, "7d23h"),
            (8 * d + 5 * h, "8d"),
            (729 * d, "729d"),
            (2 * y, "2y"),
            (3 * y + 15 * d, "3y15d"),
            (8 * y + 100 * d, "8y"),
            (20 * y, "20y"),
        ];
        for (ms, want) in cases {
            assert_eq!(human_duration(*ms), *want, "human_duration({ms})");
        }
    }

    #[test]
    fn service_table_like_the_course() {
        let a = svc(
            "httpd-svc",
            "ClusterIP",
            "10.96.45.12",
            vec![port(8080, None)],
            &[("app", "httpd")],
        );
        let b = svc(
            "kubernetes",
            "ClusterIP",
            "10.96.0.1",
            vec![port(443, None)],
            &[],
        );
        let t = table(Kind::Service, &[&a, &b], T0);
        assert_eq!(
            render(&t, false, false),
            "NAME         TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)    AGE\n\
             httpd-svc    ClusterIP   10.96.45.12   <none>        8080/TCP   0s\n\
             kubernetes   ClusterIP   10.96.0.1     <none>        443/TCP    0s\n"
        );
        assert_eq!(
            render(&t, true, false),
            "NAME         TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)    AGE   SELECTOR\n\
             httpd-svc    ClusterIP   10.96.45.12   <none>        8080/TCP   0s    app=httpd\n\
             kubernetes   ClusterIP   10.96.0.1     <none>        443/TCP    0s    <none>\n"
        );
        assert_eq!(
            render(&t, false, true),
            "NAMESPACE   NAME         TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)    AGE\n\
             default     httpd-svc    ClusterIP   10.96.45.12   <none>        8080/TCP   0s\n\
             default     kubernetes   ClusterIP   10.96.0.1     <none>        443/TCP    0s\n"
        );
    }

    #[test]
    fn nodeport_headless_and_loadbalancer_services() {
        let np = svc(
            "httpd-svc",
            "NodePort",
            "10.96.45.12",
            vec![port(8080, Some(30144))],
            &[("app", "httpd")],
        );
        let headless = svc(
            "headless-svc",
            "ClusterIP",
            "None",
            vec![port(80, None)],
            &[("app", "httpd")],
        );
        let mut lb = svc(
            "web",
            "LoadBalancer",
            "10.96.7.7",
            vec![port(80, Some(31000)), port(443, Some(31001))],
            &[("app", "web"), ("tier", "fe")],
        );
        let pending = lb.clone();
        if let Object::Service(s) = &mut lb {
            s.status = Some(ServiceStatus {
                load_balancer: Some(LoadBalancerStatus {
                    ingress: Some(vec![
                        LoadBalancerIngress {
                            ip: Some("172.18.255.201".into()),
                            ..Default::default()
                        },
                        LoadBalancerIngress {
                            ip: Some("172.18.255.200".into()),
                            ..Default::default()
                        },
                    ]),
                }),
                ..Default::default()
            });
        }
        let t = table(Kind::Service, &[&np, &headless, &pending, &lb], T0 + 65_000);
        let cells: Vec<Vec<String>> = t.rows.iter().map(|r| r.cells.clone()).collect();
        assert_eq!(
            cells[0],
            [
                "httpd-svc",
                "NodePort",
                "10.96.45.12",
                "<none>",
                "8080:30144/TCP",
                "65s",
                "app=httpd"
            ]
        );
        assert_eq!(
            cells[1],
            [
                "headless-svc",
                "ClusterIP",
                "None",
                "<none>",
                "80/TCP",
                "65s",
                "app=httpd"
            ]
        );
        assert_eq!(cells[2][3], "<pending>");
        assert_eq!(cells[2][4], "80:31000/TCP,443:31001/TCP");
        assert_eq!(cells[2][6], "app=web,tier=fe");
        assert_eq!(cells[3][3], "172.18.255.200,172.18.255.201");
    }

    fn endpoints(ips: &[&str], not_ready: &[&str], port: Option<i32>) -> Object {
        Object::Endpoints(Box::new(Endpoints {
            metadata: meta("httpd-svc", T0),
            subsets: (!ips.is_empty() || !not_ready.is_empty()).then(|| {
                vec![EndpointSubset {
                    addresses: Some(
                        ips.iter()
                            .map(|ip| EndpointAddress {
                                ip: ip.to_string(),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    not_ready_addresses: Some(
                        not_ready
                            .iter()
                            .map(|ip| EndpointAddress {
                                ip: ip.to_string(),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ports: port.map(|p| {
                        vec![EndpointPort {
                            port: p,
                            protocol: Some("TCP".into()),
                            ..Default::default()
                        }]
                    }),
                }]
            }),
        }))
    }

    #[test]
    fn endpoints_format_like_format_endpoints() {
        let three = endpoints(
            &["10.244.1.7", "10.244.2.10", "10.244.2.9"],
            &["10.244.1.8"],
            Some(80),
        );
        let five = endpoints(
            &[
                "10.244.1.2",
                "10.244.1.3",
                "10.244.2.2",
                "10.244.2.3",
                "10.244.2.4",
            ],
            &[],
            Some(80),
        );
        let none = endpoints(&[], &[], Some(80));
        let headless = endpoints(
            &["10.244.1.2", "10.244.1.3", "10.244.2.2", "10.244.2.3"],
            &[],
            None,
        );
        let t = table(
            Kind::Endpoints,
            &[&three, &five, &none, &headless],
            T0 + 3_000,
        );
        let ep: Vec<&str> = t.rows.iter().map(|r| r.cells[1].as_str()).collect();
        assert_eq!(ep[0], "10.244.1.7:80,10.244.2.10:80,10.244.2.9:80");
        assert_eq!(
            ep[1],
            "10.244.1.2:80,10.244.1.3:80,10.244.2.2:80 + 2 more..."
        );
        assert_eq!(ep[2], "<none>");
        assert_eq!(ep[3], "10.244.1.2,10.244.1.3,10.244.2.2 + 1 more...");
        assert_eq!(
            render(&table(Kind::Endpoints, &[&three], T0 + 3_000), false, false),
            "NAME        ENDPOINTS                                    AGE\n\
             httpd-svc   10.244.1.7:80,10.244.2.10:80,10.244.2.9:80   3s\n"
        );
    }

    #[test]
    fn endpointslices_format_like_upstream() {
        let slice = |ips: &[&str], ports: Vec<SlicePort>| {
            Object::EndpointSlice(Box::new(EndpointSlice {
                metadata: meta("httpd-svc-abcde", T0),
                address_type: "IPv4".into(),
                endpoints: ips
                    .iter()
                    .map(|ip| Endpoint {
                        addresses: vec![ip.to_string()],
                        ..Default::default()
                    })
                    .collect(),
                ports: Some(ports),
            }))
        };
        let p = |n: Option<i32>, name: Option<&str>| SlicePort {
            port: n,
            name: name.map(str::to_string),
            ..Default::default()
        };
        let a = slice(
            &["10.244.1.7", "10.244.2.10", "10.244.2.9"],
            vec![p(Some(80), Some(""))],
        );
        let b = slice(
            &["10.244.1.2", "10.244.1.3", "10.244.2.2", "10.244.2.3"],
            vec![
                p(Some(80), None),
                p(Some(443), None),
                p(None, Some("dns")),
                p(None, None),
            ],
        );
        let c = slice(&[], vec![]);
        let t = table(Kind::EndpointSlice, &[&a, &b, &c], T0);
        assert_eq!(
            t.rows[0].cells[1..4],
            ["IPv4", "80", "10.244.1.7,10.244.2.10,10.244.2.9"]
        );
        assert_eq!(
            t.rows[1].cells[2..4],
            [
                "80,443,dns + 1 more...",
                "10.244.1.2,10.244.1.3,10.244.2.2 + 1 more..."
            ]
        );
        assert_eq!(t.rows[2].cells[2..4], ["<unset>", "<unset>"]);
    }

    fn pod(name: &str, phase: &str, state: ContainerState, ready: bool) -> Pod {
        Pod {
            metadata: meta(name, T0),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "httpd".into(),
                    image: Some("httpd".into()),
                    ..Default::default()
                }],
                node_name: Some("kind-worker".into()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                pod_ip: (phase == "Running").then(|| "10.244.1.2".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                container_statuses: Some(vec![ContainerStatus {
                    name: "httpd".into(),
                    ready,
                    state: Some(state),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn pod_status_column() {
        let waiting = ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some("ContainerCreating".into()),
                message: None,
            }),
            ..Default::default()
        };
        let running = ContainerState {
            running: Some(ContainerStateRunning { started_at: None }),
            ..Default::default()
        };
        let creating = Object::Pod(Box::new(pod("httpd-a", "Pending", waiting, false)));
        let up = Object::Pod(Box::new(pod("httpd-b", "Running", running.clone(), true)));
        let not_ready = Object::Pod(Box::new(pod("httpd-c", "Running", running.clone(), false)));
        let mut deleting = pod("httpd-d", "Running", running.clone(), true);
        deleting.metadata.deletion_timestamp = Some(Time(Timestamp::from_millisecond(T0).unwrap()));
        let deleting = Object::Pod(Box::new(deleting));
        let mut restarted = pod("httpd-e", "Running", running, true);
        if let Some(cs) = restarted
            .status
            .as_mut()
            .and_then(|s| s.container_statuses.as_mut())
        {
            cs[0].restart_count = 2;
            cs[0].last_state = Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 1,
                    finished_at: Some(Time(Timestamp::from_millisecond(T0 + 60_000).unwrap())),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        let restarted = Object::Pod(Box::new(restarted));
        let unscheduled = Object::Pod(Box::new(Pod {
            metadata: meta("pending", T0),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            }),
        }));
        let t = table(
            Kind::Pod,
            &[
                &creating,
                &up,
                &not_ready,
                &deleting,
                &restarted,
                &unscheduled,
            ],
            T0 + 5 * 60_000,
        );
        let summary: Vec<[&str; 4]> = t
            .rows
            .iter()
            .map(|r| [r.cells[1].as_str(), &r.cells[2], &r.cells[3], &r.cells[4]])
            .collect();
        assert_eq!(summary[0], ["0/1", "ContainerCreating", "0", "5m"]);
        assert_eq!(summary[1], ["1/1", "Running", "0", "5m"]);
        assert_eq!(summary[2], ["0/1", "Running", "0", "5m"]);
        assert_eq!(summary[3], ["1/1", "Terminating", "0", "5m"]);
        assert_eq!(summary[4], ["1/1", "Running", "2 (4m ago)", "5m"]);
        assert_eq!(summary[5], ["0/1", "Pending", "0", "5m"]);
        assert_eq!(
            t.rows[0].cells[5..],
            ["<none>", "kind-worker", "<none>", "<none>"]
        );
        assert_eq!(
            t.rows[1].cells[5..],
            ["10.244.1.2", "kind-worker", "<none>", "<none>"]
        );
        assert_eq!(
            t.rows[5].cells[5..],
            ["<none>", "<none>", "<none>", "<none>"]
        );
        assert_eq!(
            render(&table(Kind::Pod, &[&up], T0 + 40_000), true, false),
            "NAME      READY   STATUS    RESTARTS   AGE   IP           NODE          NOMINATED NODE   READINESS GATES\n\
             httpd-b   1/1     Running   0          40s   10.244.1.2   kind-worker   <none>           <none>\n"
        );
    }

    #[test]
    fn selectors_sort_like_label_selector_as_selector() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let sel = LabelSelector {
            match_labels: Some(
                [
                    ("app".to_string(), "httpd".to_string()),
                    ("tier".into(), "web".into()),
                ]
                .into(),
            ),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "env".into(),
                    operator: "In".into(),
                    values: Some(vec!["prod".into(), "dev".into()]),
                },
                LabelSelectorRequirement {
                    key: "zz".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
                LabelSelectorRequirement {
                    key: "b".into(),
                    operator: "Exists".into(),
                    values: None,
                },
            ]),
        };
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=httpd,b,env in (dev,prod),tier=web,!zz"
        );
        assert_eq!(
            format_label_selector(Some(&LabelSelector::default())),
            "<none>"
        );
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "Near".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
    }

    #[test]
    fn render_pads_like_tabwriter() {
        let t = Table {
            columns: vec![NAME, col("X", 0), col("Y", 0), col("Wide", 1)],
            rows: vec![Row {
                cells: vec!["a".into(), "1".into(), "".into(), "w".into()],
                namespace: "default".into(),
                name: "a".into(),
            }],
        };
        // Columns are at least 6 wide (tabwriter minwidth); the last cell is never padded, so
        // an empty last cell leaves the previous column's padding, as tabwriter does.
        assert_eq!(render(&t, false, false), "NAME   X     Y\na      1     \n");
        assert_eq!(
            render(&t, true, false),
            "NAME   X     Y     WIDE\na      1           w\n"
        );
        assert_eq!(
            render(
                &Table {
                    columns: columns(Kind::Pod),
                    rows: vec![]
                },
                false,
                false
            ),
            ""
        );
        assert_eq!(
            t.with_kind_prefix(Kind::Deployment).rows[0].cells[0],
            "deployment.apps/a"
        );
        assert_eq!(
            kind_prefix(Kind::EndpointSlice),
            "endpointslice.discovery.k8s.io"
        );
        // Events: the prefix goes on the (wide-only) Name column, not on LAST SEEN.
        let ev = Object::Event(Box::new(Event {
            metadata: meta("httpd.1886", T0),
            involved_object: k8s_openapi::api::core::v1::ObjectReference {
                kind: Some("Pod".into()),
                name: Some("httpd-abc".into()),
                ..Default::default()
            },
            reason: Some("Started".into()),
            type_: Some("Normal".into()),
            message: Some("Started container httpd\n".into()),
            last_timestamp: Some(Time(Timestamp::from_millisecond(T0).unwrap())),
            ..Default::default()
        }));
        let evt = table(Kind::Event, &[&ev], T0 + 7_000).with_kind_prefix(Kind::Event);
        assert_eq!(
            evt.rows[0].cells,
            [
                "7s",
                "Normal",
                "Started",
                "pod/httpd-abc",
                "",
                "",
                "Started container httpd",
                "<unknown>",
                "1",
                "event/httpd.1886"
            ]
        );
    }

    #[test]
    fn no_resources_messages() {
        assert_eq!(
            no_resources(Some("default")),
            "No resources found in default namespace."
        );
        assert_eq!(no_resources(None), "No resources found");
    }

    #[test]
    fn every_kind_has_one_cell_per_column() {
        let objects: Vec<Object> = vec![
            Object::Namespace(Box::new(Namespace {
                metadata: meta("default", T0),
                ..Default::default()
            })),
            Object::Node(Box::new(Node {
                metadata: meta("kind-worker", T0),
                ..Default::default()
            })),
            Object::ConfigMap(Box::new(ConfigMap {
                metadata: meta("cm", T0),
                ..Default::default()
            })),
            Object::Pod(Box::new(Pod {
                metadata: meta("p", T0),
                ..Default::default()
            })),
            Object::Service(Box::new(Service {
                metadata: meta("s", T0),
                ..Default::default()
            })),
            Object::Endpoints(Box::new(Endpoints {
                metadata: meta("s", T0),
                ..Default::default()
            })),
            Object::Event(Box::new(Event {
                metadata: meta("e", T0),
                ..Default::default()
            })),
            Object::Deployment(Box::new(Deployment {
                metadata: meta("d", T0),
                ..Default::default()
            })),
            Object::ReplicaSet(Box::new(ReplicaSet {
                metadata: meta("r", T0),
                ..Default::default()
            })),
            Object::StatefulSet(Box::new(StatefulSet {
                metadata: meta("web", T0),
                ..Default::default()
            })),
            Object::EndpointSlice(Box::new(EndpointSlice {
                metadata: ObjectMeta::default(),
                address_type: "IPv4".into(),
                endpoints: vec![],
                ports: None,
            })),
        ];
        for o in &objects {
            let t = table(o.kind(), &[o], T0);
            assert_eq!(t.rows.len(), 1);
            assert_eq!(t.rows[0].cells.len(), t.columns.len(), "{:?}", o.kind());
            // Any clock value is fine: no overflow, no panic.
            for now in [i64::MIN, i64::MAX] {
                assert_eq!(table(o.kind(), &[o], now).rows.len(), 1);
            }
        }
        assert_eq!(human_duration(i64::MIN), "<invalid>");
        assert_eq!(go_duration(i64::MIN), "-2562047h47m16.854775808s");
        assert_eq!(go_duration(i64::MAX), "2562047h47m16.854775807s");
        assert_eq!(human_duration(i64::MAX), "292471208y");
        assert_eq!(
            table(Kind::Pod, &[&objects[0]], T0).rows.len(),
            0,
            "other kinds are skipped"
        );
    }
}
