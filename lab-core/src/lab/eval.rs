//! Evaluating checks: which probes each needs, then pass or fail with what was expected, what
//! was found and the likely cause — pure functions of the snapshot and the probes' results.

use super::Text;
use super::check::{
    Check, CheckKind, DnsCheck, EndpointsCheck, Expect, FieldPath, HttpCheck, ObjectCheck,
    ProxyCheck, Source, Via, parse_kind, parse_selector,
};
use super::probe::{PROBE_POD, Probe, ProbeResult, ProbeTarget, parse_nslookup};
use super::report::{CheckReport, Status};
use super::snapshot::{LabSnapshot, pod_ready};
use crate::config::ProxyMode;
use crate::labels::{format_map, map_matches};
use k8s_openapi::api::core::v1::{Node, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The cluster domain of the simulated (and kind's) cluster.
const CLUSTER_DOMAIN: &str = "cluster.local";

/// A check's verdict before it is dressed as a [`CheckReport`].
struct Outcome {
    status: Status,
    expected: Text,
    found: Text,
    cause: Option<Text>,
}

impl Outcome {
    fn new(pass: bool, expected: Text, found: Text, cause: Option<Text>) -> Outcome {
        Outcome {
            status: if pass { Status::Pass } else { Status::Fail },
            expected,
            found,
            cause: if pass { None } else { cause },
        }
    }

    fn error(expected: Text, found: Text) -> Outcome {
        Outcome {
            status: Status::Error,
            expected,
            found,
            cause: None,
        }
    }
}

pub(super) fn probes_for(check: &Check, snap: &LabSnapshot) -> Vec<Probe> {
    let targets: Vec<(ProbeTarget, Vec<String>)> = match check.kind() {
        Some(CheckKind::Dns(d)) => dns_probe(d, snap).into_iter().collect(),
        Some(CheckKind::Http(h)) => http_probes(h, snap),
        Some(CheckKind::Proxy(p)) => proxy_probes(p, snap),
        Some(CheckKind::Object(_) | CheckKind::Endpoints(_)) | None => Vec::new(),
    };
    let many = targets.len() > 1;
    targets
        .into_iter()
        .enumerate()
        .map(|(i, (target, argv))| Probe {
            key: if many {
                format!("{}#{i}", check.id)
            } else {
                check.id.clone()
            },
            check: check.id.clone(),
            target,
            argv,
        })
        .collect()
}

pub(super) fn evaluate(check: &Check, snap: &LabSnapshot, results: &[ProbeResult]) -> CheckReport {
    let probes = probes_for(check, snap);
    let mine: Vec<Option<&ProbeResult>> = probes
        .iter()
        .map(|p| results.iter().find(|r| r.key == p.key))
        .collect();
    let outcome = match check.kind() {
        Some(CheckKind::Object(o)) => object(o, snap),
        Some(CheckKind::Endpoints(e)) => endpoints(e, snap),
        Some(CheckKind::Dns(d)) => dns(d, snap, mine.first().copied().flatten()),
        Some(CheckKind::Http(h)) => http(h, snap, &mine),
        Some(CheckKind::Proxy(p)) => proxy(p, snap, &probes, &mine),
        None => Outcome::error(
            Text::new("一个有效的检查", "a valid check"),
            Text::new("检查定义不完整", "an incomplete check definition"),
        ),
    };
    CheckReport {
        id: check.id.clone(),
        title: check.title.clone(),
        hint: (outcome.status != Status::Pass)
            .then(|| check.hint.clone())
            .flatten(),
        status: outcome.status,
        expected: outcome.expected,
        found: outcome.found,
        cause: outcome.cause,
    }
}

// ----- shared facts about Services and pods -----

fn join(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_text(v: Option<&Value>) -> Text {
    match v {
        None | Some(Value::Null) => Text::new("（不存在）", "(absent)"),
        Some(Value::String(s)) => Text::same(s.clone()),
        Some(other) => Text::same(other.to_string()),
    }
}

/// A field's value as a failed check shows it. A multi-line text (a ConfigMap's `config.conf`)
/// expected to contain `key: value` is shown by its `key:` lines only, so the learner reads
/// `mode: iptables` rather than the whole file.
fn found_value(e: &Expect, v: Option<&Value>) -> Text {
    if let (Expect::Contains(Value::String(needle)), Some(Value::String(s))) = (e, v)
        && s.trim_end().contains('\n')
    {
        let key = needle.split_once(':').map(|(k, _)| k.trim()).unwrap_or("");
        let lines: Vec<&str> = s
            .lines()
            .map(str::trim)
            .filter(|l| !key.is_empty() && l.starts_with(key) && l[key.len()..].starts_with(':'))
            .collect();
        return if lines.is_empty() {
            let n = s.lines().count();
            Text::new(
                format!("{n} 行文本，不含 “{needle}”"),
                format!("{n} lines without \"{needle}\""),
            )
        } else {
            Text::same(lines.join("; "))
        };
    }
    value_text(v)
}

/// Joins texts language by language.
fn join_texts(texts: &[Text], sep: &str) -> Text {
    Text::new(
        texts
            .iter()
            .map(|t| t.zh_cn.as_str())
            .collect::<Vec<_>>()
            .join(sep),
        texts
            .iter()
            .map(|t| t.en.as_str())
            .collect::<Vec<_>>()
            .join(sep),
    )
}

fn cluster_ip(svc: &Service) -> Option<&str> {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .filter(|ip| !ip.is_empty() && *ip != "None")
}

fn service_port(svc: &Service, port: Option<i32>) -> Option<&ServicePort> {
    let ports = svc.spec.as_ref()?.ports.as_ref()?;
    match port {
        Some(p) => ports.iter().find(|sp| sp.port == p),
        None => ports.first(),
    }
}

fn port_list(svc: &Service) -> String {
    join(
        svc.spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .map(|p| p.port.to_string()),
    )
}

/// Which endpoints [`endpoints_of`] counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    Usable,
    Dns,
}

/// Distinct ready and not-ready endpoint addresses of a Service, and the ports they use.
struct Endpoints {
    ready: BTreeSet<String>,
    not_ready: BTreeSet<String>,
    ports: BTreeSet<i32>,
}

///
/// `Usable` counts what kube-proxy can send traffic to: a pod whose named targetPort does not
/// resolve lands in a slice without ports (`getEndpointPorts`), which kube-proxy skips, so a
/// Service with ports counts only slices with ports. `Dns` counts every address, as CoreDNS's
/// headless answers do.
fn endpoints_of(snap: &LabSnapshot, namespace: &str, service: &str, only: Only) -> Endpoints {
    let mut out = Endpoints {
        ready: BTreeSet::new(),
        not_ready: BTreeSet::new(),
        ports: BTreeSet::new(),
    };
    let service_has_ports = snap
        .service(namespace, service)
        .and_then(|s| s.spec.as_ref()?.ports.as_ref())
        .is_some_and(|p| !p.is_empty());
    for slice in snap.slices_of(namespace, service) {
        let portless = slice.ports.as_ref().is_none_or(|p| p.is_empty());
        if only == Only::Usable && service_has_ports && portless {
            continue;
        }
        out.ports
            .extend(slice.ports.iter().flatten().filter_map(|p| p.port));
        for ep in &slice.endpoints {
            // A nil ready condition means ready (discovery/v1 EndpointConditions).
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            for a in &ep.addresses {
                if ready {
                    out.ready.insert(a.clone());
                } else {
                    out.not_ready.insert(a.clone());
                }
            }
        }
    }
    out.not_ready.retain(|a| !out.ready.contains(a));
    out
}

fn pod_ip(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.pod_ip.as_deref())
}

/// Why a pod is not Ready, in kubectl's words: its phase and the first waiting reason.
fn pod_state(p: &Pod) -> String {
    let status = p.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| {
            cs.iter()
                .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        });
    let deleting = p.metadata.deletion_timestamp.is_some();
    match (deleting, waiting) {
        (true, _) => "Terminating".into(),
        (false, Some(w)) => format!("{phase} ({w})"),
        (false, None) => phase.to_string(),
    }
}

fn name(p: &Pod) -> &str {
    p.metadata.name.as_deref().unwrap_or("")
}

/// The pods of a namespace a Service-style selector picks.
fn selected<'a>(
    snap: &'a LabSnapshot,
    namespace: &'a str,
    selector: &'a BTreeMap<String, String>,
) -> Vec<&'a Pod> {
    snap.pods(namespace)
        .filter(|p| map_matches(selector, p.metadata.labels.as_ref()))
        .collect()
}

/// The likely reason a Service has fewer (ready) endpoints than wanted, or reaches nothing:
/// missing Service, selector typos, unready pods, a targetPort nothing listens on.
fn diagnose_service(snap: &LabSnapshot, namespace: &str, service: &str) -> Option<Text> {
    let Some(svc) = snap.service(namespace, service) else {
        let elsewhere: Vec<String> = snap
            .list_typed::<Service>(None)
            .filter(|s| s.metadata.name.as_deref() == Some(service))
            .filter_map(|s| s.metadata.namespace.clone())
            .collect();
        return Some(if elsewhere.is_empty() {
            Text::new(
                format!("命名空间 {namespace} 中没有名为 {service} 的 Service：先创建它。"),
                format!("there is no Service {service} in namespace {namespace}: create it first"),
            )
        } else {
            let ns = join(&elsewhere);
            Text::new(
                format!("Service {service} 在命名空间 {ns} 中，而不是 {namespace}。"),
                format!("Service {service} is in namespace {ns}, not {namespace}"),
            )
        });
    };
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return Some(Text::new(
            format!("{service} 是 ExternalName 类型：它只是一个 DNS 别名，没有端点。"),
            format!("{service} is an ExternalName Service: a DNS alias with no endpoints"),
        ));
    }
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() {
        return Some(Text::new(
            format!(
                "{service} 没有 selector：控制器不会为它创建端点，除非你自己编写 Endpoints/EndpointSlice。"
            ),
            format!(
                "{service} has no selector: no controller writes its endpoints unless you write Endpoints/EndpointSlices yourself"
            ),
        ));
    }
    let sel = format_map(&selector);
    let pods = selected(snap, namespace, &selector);
    if pods.is_empty() {
        // What the pods are labelled with, for the selector's keys: typos show up side by side.
        let mut seen = BTreeSet::new();
        for p in snap.pods(namespace) {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            let shared: BTreeMap<String, String> = selector
                .keys()
                .filter_map(|k| labels.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            if !shared.is_empty() {
                seen.insert(format_map(&shared));
            }
        }
        let any_pods = snap.pods(namespace).next().is_some();
        return Some(if !seen.is_empty() {
            let labels = join(seen.iter().take(3));
            Text::new(
                format!("selector {sel} 选不中任何 Pod；Pod 的标签是 {labels}。"),
                format!("selector {sel} matches no pod; pods are labelled {labels}"),
            )
        } else if any_pods {
            let keys = join(selector.keys());
            Text::new(
                format!("selector {sel} 选不中任何 Pod；没有 Pod 带有标签 {keys}。"),
                format!("selector {sel} matches no pod; no pod has the label {keys}"),
            )
        } else {
            Text::new(
                format!("selector {sel} 选不中任何 Pod：命名空间 {namespace} 中还没有 Pod。"),
                format!(
                    "selector {sel} matches no pod: there are no pods in namespace {namespace}"
                ),
            )
        });
    }
    let unready: Vec<&&Pod> = pods.iter().filter(|p| !pod_ready(p)).collect();
    if !unready.is_empty() {
        let which = join(
            unready
                .iter()
                .take(3)
                .map(|p| format!("{} {}", name(p), pod_state(p))),
        );
        let (n, m) = (unready.len(), pods.len());
        return Some(Text::new(
            format!(
                "{sel} 选中的 {m} 个 Pod 中有 {n} 个未就绪：{which}。未就绪的 Pod 不会收到流量。"
            ),
            format!(
                "{n} of the {m} pods {sel} selects are not Ready: {which}; unready pods get no traffic"
            ),
        ));
    }
    for sp in spec.ports.iter().flatten() {
        if let Some(cause) = target_port_cause(service, sp, &pods) {
            return Some(cause);
        }
    }
    None
}

/// A selector wide enough to pick pods of several kinds (`app=shop` picking the api, web and
/// debugging pods alike): the label sets it picks, with how many pods carry each.
fn mixed_selection(snap: &LabSnapshot, namespace: &str, service: &str) -> Option<Text> {
    let selector = snap
        .service(namespace, service)?
        .spec
        .as_ref()?
        .selector
        .clone()?;
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for p in selected(snap, namespace, &selector) {
        // The labels controllers add per revision or per pod would split every group.
        let labels: BTreeMap<String, String> = p
            .metadata
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| {
                !matches!(k.as_str(), "pod-template-hash" | "controller-revision-hash")
                    && !k.starts_with("statefulset.kubernetes.io/")
                    && !k.starts_with("apps.kubernetes.io/")
            })
            .collect();
        *groups.entry(format_map(&labels)).or_default() += 1;
    }
    if groups.len() < 2 {
        return None;
    }
    let sel = format_map(&selector);
    let n: usize = groups.values().sum();
    let list = join(groups.iter().map(|(l, k)| format!("{k} × {l}")));
    Some(Text::new(
        format!("selector {sel} 选中了 {n} 个不同种类的 Pod：{list}。加上能区分它们的标签。"),
        format!(
            "selector {sel} picks {n} pods of different kinds: {list}; add a label that tells them apart"
        ),
    ))
}

/// A targetPort the selected pods do not serve: a name no container port has, or a number none
/// declares (the endpoints are still made, but nothing answers there).
fn target_port_cause(service: &str, sp: &ServicePort, pods: &[&Pod]) -> Option<Text> {
    let declared: Vec<(Option<&str>, i32)> = pods
        .iter()
        .flat_map(|p| p.spec.iter().flat_map(|s| s.containers.iter()))
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| (p.name.as_deref(), p.container_port))
        .collect();
    match sp.target_port.as_ref() {
        Some(IntOrString::String(n)) if !declared.iter().any(|(name, _)| *name == Some(n)) => {
            Some(Text::new(
                format!("{service} 的 targetPort \"{n}\" 不是 Pod 容器中任何端口的名字。"),
                format!(
                    "the targetPort \"{n}\" of {service} names no port of the pods' containers"
                ),
            ))
        }
        Some(IntOrString::Int(t))
            if !declared.is_empty() && !declared.iter().any(|(_, p)| p == t) =>
        {
            let listen = join(
                declared
                    .iter()
                    .map(|(_, p)| p.to_string())
                    .collect::<BTreeSet<_>>(),
            );
            Some(Text::new(
                format!(
                    "{service} 的 targetPort 是 {t}，但 Pod 的容器声明的端口是 {listen}：{t} 上没有进程监听。"
                ),
                format!(
                    "the targetPort of {service} is {t}, but the pods' containers declare port {listen}: nothing listens on {t}"
                ),
            ))
        }
        _ => None,
    }
}

/// The pod a source names: the learner's, or the grader's probe pod.
fn source_pod(source: &Source) -> Option<(String, String)> {
    match source {
        Source::Pod { namespace, name } => Some((namespace.clone(), name.clone())),
        Source::Probe => Some((PROBE_POD.0.to_string(), PROBE_POD.1.to_string())),
        Source::External => None,
    }
}

/// A learner's pod that is missing or not running yet (the probe pod is the grader's affair).
fn source_problem(source: &Source, snap: &LabSnapshot) -> Option<Text> {
    let Source::Pod { namespace, name } = source else {
        return None;
    };
    match snap.get_typed::<Pod>(namespace, name) {
        None => Some(Text::new(
            format!("命名空间 {namespace} 中没有 Pod {name}：按实验步骤先创建它。"),
            format!(
                "there is no pod {name} in namespace {namespace}: create it as the lab's steps say"
            ),
        )),
        Some(p) if p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Running") => {
            Some(Text::new(
                format!("Pod {name} 还没有运行（{}）。", pod_state(p)),
                format!("pod {name} is not running yet ({})", pod_state(p)),
            ))
        }
        Some(_) => None,
    }
}

fn probe_error(r: Option<&ProbeResult>) -> Option<String> {
    match r {
        None => Some("the probe was not run".into()),
        Some(r) => r.error.clone(),
    }
}

// ----- object -----

fn object(o: &ObjectCheck, snap: &LabSnapshot) -> Outcome {
    let Some(kind) = parse_kind(&o.kind) else {
        return Outcome::error(
            Text::same(o.kind.clone()),
            Text::new("未知类型", "an unknown kind"),
        );
    };
    let ns = o.namespace.as_str();
    let fields: Vec<(String, FieldPath, &Expect)> = o
        .fields
        .iter()
        .filter_map(|(p, e)| FieldPath::parse(p).ok().map(|fp| (p.clone(), fp, e)))
        .collect();
    let want_fields = join_texts(
        &fields
            .iter()
            .map(|(p, _, e)| {
                let d = e.describe();
                Text::new(format!("{p} = {}", d.zh_cn), format!("{p} = {}", d.en))
            })
            .collect::<Vec<_>>(),
        ", ",
    );
    let what = match (&o.name, &o.selector) {
        (Some(n), _) if kind.namespaced() => format!("{} {ns}/{n}", kind.name()),
        (Some(n), _) => format!("{} {n}", kind.name()),
        (None, Some(s)) => format!("{} ({s})", kind.name()),
        (None, None) => kind.name().to_string(),
    };
    let expected = if fields.is_empty() {
        Text::new(format!("{what} 存在"), format!("{what} exists"))
    } else {
        Text::new(
            format!("{what}：{}", want_fields.zh_cn),
            format!("{what}: {}", want_fields.en),
        )
    };
    let objects: Vec<&crate::object::Object> = match (&o.name, &o.selector) {
        (Some(n), _) => snap.get(kind, ns, n).into_iter().collect(),
        (None, Some(s)) => {
            let sel = parse_selector(s).unwrap_or_default();
            snap.list(kind, Some(ns))
                .filter(|obj| map_matches(&sel, obj.meta().labels.as_ref()))
                .collect()
        }
        (None, None) => Vec::new(),
    };
    if let Some(count) = &o.count
        && !count.holds(Some(&Value::from(objects.len())))
    {
        let d = count.describe();
        return Outcome::new(
            false,
            Text::new(
                format!("{what}：{} 个", d.zh_cn),
                format!("{what}: {} of them", d.en),
            ),
            Text::new(
                format!("{} 个", objects.len()),
                format!("{}", objects.len()),
            ),
            None,
        );
    }
    if objects.is_empty() {
        let others: Vec<String> = snap
            .list(kind, Some(ns))
            .map(|x| x.name().to_string())
            .take(5)
            .collect();
        let elsewhere: Vec<String> = o
            .name
            .iter()
            .flat_map(|n| {
                snap.list(kind, None)
                    .filter(move |x| x.name() == n)
                    .map(|x| x.namespace().to_string())
            })
            .collect();
        let cause = if !elsewhere.is_empty() {
            let w = join(&elsewhere);
            Text::new(
                format!("它在命名空间 {w} 中。"),
                format!("it is in namespace {w}"),
            )
        } else if others.is_empty() {
            Text::new(
                format!("命名空间 {ns} 中还没有任何 {}。", kind.name()),
                format!("there is no {} in namespace {ns} yet", kind.name()),
            )
        } else {
            let list = join(&others);
            Text::new(
                format!("那里有：{list}——名字拼写对吗？"),
                format!("there are: {list} — is the name spelt right?"),
            )
        };
        return Outcome::new(
            false,
            expected,
            Text::new("不存在", "not found"),
            Some(cause),
        );
    }
    let mut wrong: Vec<Text> = Vec::new();
    let mut cause = None;
    for obj in &objects {
        let json = obj.to_json();
        for (path, fp, e) in &fields {
            let got = fp.get(&json);
            if !e.holds(got) {
                let v = found_value(e, got);
                let prefix = if objects.len() > 1 {
                    format!("{}: ", obj.name())
                } else {
                    String::new()
                };
                wrong.push(Text::new(
                    format!("{prefix}{path} = {}", v.zh_cn),
                    format!("{prefix}{path} = {}", v.en),
                ));
                if cause.is_none() {
                    cause = object_cause(obj, path, snap);
                }
            }
        }
    }
    let pass = wrong.is_empty();
    let found = if pass {
        Text::new("符合", "as expected")
    } else {
        join_texts(&wrong, ", ")
    };
    Outcome::new(pass, expected, found, cause)
}

/// Why a field differs, where the object's kind tells: a Deployment's or ReplicaSet's missing
/// ready replicas are its pods' states; a Service's fields, its selector and ports.
fn object_cause(obj: &crate::object::Object, path: &str, snap: &LabSnapshot) -> Option<Text> {
    use crate::object::Object;
    match obj {
        Object::Deployment(d) if path.starts_with("status.") => {
            let sel = d.spec.as_ref()?.selector.match_labels.clone()?;
            let pods = selected(snap, obj.namespace(), &sel);
            let unready: Vec<String> = pods
                .iter()
                .filter(|p| !pod_ready(p))
                .take(3)
                .map(|p| format!("{} {}", name(p), pod_state(p)))
                .collect();
            (!unready.is_empty()).then(|| {
                let u = join(&unready);
                Text::new(
                    format!("Pod 尚未就绪：{u}。"),
                    format!("pods not Ready yet: {u}"),
                )
            })
        }
        Object::Service(_) => diagnose_service(snap, obj.namespace(), obj.name()),
        _ => None,
    }
}

// ----- endpoints -----

fn endpoints(e: &EndpointsCheck, snap: &LabSnapshot) -> Outcome {
    let (ns, svc) = (e.namespace.as_str(), e.service.as_str());
    let mut want = Vec::new();
    if let Some(r) = &e.ready {
        let d = r.describe();
        want.push(Text::new(
            format!("就绪端点 {}", d.zh_cn),
            format!("{} ready endpoints", d.en),
        ));
    }
    if let Some(r) = &e.not_ready {
        let d = r.describe();
        want.push(Text::new(
            format!("未就绪端点 {}", d.zh_cn),
            format!("{} not-ready endpoints", d.en),
        ));
    }
    if let Some(p) = e.port {
        want.push(Text::new(format!("端口 {p}"), format!("on port {p}")));
    }
    let w = join_texts(&want, ", ");
    let expected = Text::new(
        format!("{ns}/{svc}：{}", w.zh_cn),
        format!("{ns}/{svc}: {}", w.en),
    );
    if snap.service(ns, svc).is_none() {
        return Outcome::new(
            false,
            expected,
            Text::new("Service 不存在", "no such Service"),
            diagnose_service(snap, ns, svc),
        );
    }
    let eps = endpoints_of(snap, ns, svc, Only::Usable);
    let count_ok =
        |x: &Option<Expect>, n: usize| x.as_ref().is_none_or(|x| x.holds(Some(&Value::from(n))));
    let ready_ok = count_ok(&e.ready, eps.ready.len());
    let not_ready_ok = count_ok(&e.not_ready, eps.not_ready.len());
    let port_ok = e
        .port
        .is_none_or(|p| !eps.ports.is_empty() && eps.ports.iter().all(|x| *x == p));
    let ready_list = if eps.ready.is_empty() {
        String::new()
    } else {
        format!(" ({})", join(&eps.ready))
    };
    let ports = join(eps.ports.iter().map(|p| p.to_string()));
    let found = Text::new(
        format!(
            "就绪 {}{ready_list}，未就绪 {}，端口 {}",
            eps.ready.len(),
            eps.not_ready.len(),
            if ports.is_empty() {
                "（无）"
            } else {
                &ports
            }
        ),
        format!(
            "{} ready{ready_list}, {} not ready, port {}",
            eps.ready.len(),
            eps.not_ready.len(),
            if ports.is_empty() { "(none)" } else { &ports }
        ),
    );
    let pass = ready_ok && not_ready_ok && port_ok;
    let cause = if !ready_ok || !not_ready_ok {
        diagnose_service(snap, ns, svc).or_else(|| mixed_selection(snap, ns, svc))
    } else if !port_ok {
        Some(Text::new(
            "端点的端口来自 Service 的 targetPort：检查它是否等于容器端口。",
            "an endpoint's port is the Service's targetPort: check it equals the container port",
        ))
    } else {
        None
    };
    Outcome::new(pass, expected, found, cause)
}

// ----- dns -----

/// The name a DNS check looks up, if it can be known from the snapshot.
fn dns_query(d: &DnsCheck, snap: &LabSnapshot) -> Option<String> {
    match (&d.name, &d.reverse_of) {
        (Some(n), _) => Some(n.clone()),
        (None, Some(svc)) => snap
            .service(&d.namespace, svc)
            .and_then(cluster_ip)
            .map(str::to_string),
        (None, None) => None,
    }
}

fn dns_probe(d: &DnsCheck, snap: &LabSnapshot) -> Option<(ProbeTarget, Vec<String>)> {
    let (namespace, name) = source_pod(&d.from)?;
    if source_problem(&d.from, snap).is_some() {
        return None;
    }
    let query = dns_query(d, snap)?;
    Some((
        ProbeTarget::Pod { namespace, name },
        vec!["nslookup".into(), query],
    ))
}

/// What a lookup must return: addresses or names (sorted), any address, or nothing (NXDOMAIN).
enum DnsWant {
    Addresses(BTreeSet<String>),
    Names(BTreeSet<String>),
    Any,
    Nothing,
}

fn dns_want(d: &DnsCheck, snap: &LabSnapshot) -> DnsWant {
    let e = &d.expect;
    let ns = d.namespace.as_str();
    if e.nxdomain {
        return DnsWant::Nothing;
    }
    if e.resolves {
        return DnsWant::Any;
    }
    if let Some(names) = &e.names {
        return DnsWant::Names(
            names
                .iter()
                .map(|n| n.trim_end_matches('.').to_string())
                .collect(),
        );
    }
    if let Some(a) = &e.addresses {
        return DnsWant::Addresses(a.iter().map(|ip| ip.to_string()).collect());
    }
    if let Some(svc) = &e.service {
        if d.reverse_of.is_some() {
            return DnsWant::Names([format!("{svc}.{ns}.svc.{CLUSTER_DOMAIN}")].into());
        }
        return DnsWant::Addresses(match snap.service(ns, svc) {
            Some(s) => match cluster_ip(s) {
                Some(ip) => [ip.to_string()].into(),
                // Headless: the name's A records are the ready endpoints.
                None => endpoints_of(snap, ns, svc, Only::Dns).ready,
            },
            None => BTreeSet::new(),
        });
    }
    if let Some(sel) = &e.pods {
        let sel = parse_selector(sel).unwrap_or_default();
        return DnsWant::Addresses(
            selected(snap, ns, &sel)
                .into_iter()
                .filter(|p| pod_ready(p))
                .filter_map(pod_ip)
                .map(str::to_string)
                .collect(),
        );
    }
    DnsWant::Nothing
}

fn dns(d: &DnsCheck, snap: &LabSnapshot, result: Option<&ProbeResult>) -> Outcome {
    let query = dns_query(d, snap);
    let shown = query
        .clone()
        .unwrap_or_else(|| format!("{}（ClusterIP）", d.reverse_of.clone().unwrap_or_default()));
    let from: String = d.from.clone().into();
    let want = dns_want(d, snap);
    let expected = match &want {
        DnsWant::Nothing => Text::new(
            format!("从 {from} 解析 {shown}：不存在（NXDOMAIN）"),
            format!("{shown} from {from}: no such name (NXDOMAIN)"),
        ),
        DnsWant::Any => Text::new(
            format!("从 {from} 解析 {shown}：至少一个地址"),
            format!("{shown} from {from}: at least one address"),
        ),
        DnsWant::Addresses(a) if a.is_empty() => Text::new(
            format!("从 {from} 解析 {shown}：期望的地址（目前集群中还没有）"),
            format!("{shown} from {from}: the expected addresses (none exist in the cluster yet)"),
        ),
        DnsWant::Addresses(a) | DnsWant::Names(a) => Text::new(
            format!("从 {from} 解析 {shown}：{}", join(a)),
            format!("{shown} from {from}: {}", join(a)),
        ),
    };
    if let Some(problem) = source_problem(&d.from, snap) {
        return Outcome::new(
            false,
            expected,
            Text::new("无法查询", "no lookup made"),
            Some(problem),
        );
    }
    let Some(query) = query else {
        let svc = d.reverse_of.clone().unwrap_or_default();
        return Outcome::new(
            false,
            expected,
            Text::new("没有可反查的 ClusterIP", "no ClusterIP to look up"),
            diagnose_service(snap, &d.namespace, &svc).or_else(|| {
                Some(Text::new(
                    format!("{svc} 是 Headless Service（clusterIP: None），没有 ClusterIP。"),
                    format!("{svc} is headless (clusterIP: None): it has no ClusterIP"),
                ))
            }),
        );
    };
    if let Some(err) = probe_error(result) {
        return Outcome::error(expected, Text::same(err));
    }
    let r = result.expect("checked above");
    let lookup = parse_nslookup(&r.stdout);
    let (pass, found) = match &want {
        DnsWant::Nothing => (
            lookup.addresses.is_empty() && r.exit_code != 0,
            if lookup.addresses.is_empty() {
                Text::new("无法解析", "no answer")
            } else {
                Text::same(join(&lookup.addresses))
            },
        ),
        DnsWant::Addresses(a) => {
            let got: BTreeSet<String> = lookup.addresses.iter().cloned().collect();
            (!a.is_empty() && *a == got, answer_text(&got, r))
        }
        DnsWant::Any => {
            let got: BTreeSet<String> = lookup.addresses.iter().cloned().collect();
            (r.exit_code == 0 && !got.is_empty(), answer_text(&got, r))
        }
        DnsWant::Names(n) => {
            let got: BTreeSet<String> = lookup.names.iter().cloned().collect();
            (n.iter().all(|x| got.contains(x)), answer_text(&got, r))
        }
    };
    let cause = (!pass)
        .then(|| dns_cause(d, snap, &query, &lookup.addresses))
        .flatten();
    Outcome::new(pass, expected, found, cause)
}

fn answer_text(got: &BTreeSet<String>, r: &ProbeResult) -> Text {
    if got.is_empty() {
        let err = r.stderr.trim();
        let err = if err.is_empty() { r.stdout.trim() } else { err };
        Text::new(format!("无法解析：{err}"), format!("no answer: {err}"))
    } else {
        Text::same(join(got))
    }
}

/// Why a lookup did not answer as wanted.
fn dns_cause(d: &DnsCheck, snap: &LabSnapshot, query: &str, got: &[String]) -> Option<Text> {
    let ns = d.namespace.as_str();
    // `expect.pods` asks for a headless Service's answer: diagnose the Service the name's first
    // label names, if there is one (a pod's own name, `web-0.nginx`, names none).
    let headless = d
        .expect
        .pods
        .is_some()
        .then(|| query.split('.').next())
        .flatten()
        .filter(|label| snap.service(ns, label).is_some());
    let svc = d
        .expect
        .service
        .as_deref()
        .or(d.reverse_of.as_deref())
        .or(headless);
    if let Some(svc) = svc {
        if let Some(c) = diagnose_service(snap, ns, svc) {
            return Some(c);
        }
        let from_ns = source_pod(&d.from).map(|(n, _)| n).unwrap_or_default();
        if !query.contains('.') && from_ns != ns {
            return Some(Text::new(
                format!(
                    "短名字 {query} 在 Pod 所在的命名空间 {from_ns} 中查找；跨命名空间请用 {query}.{ns}。"
                ),
                format!(
                    "the short name {query} is searched in the pod's namespace {from_ns}; across namespaces use {query}.{ns}"
                ),
            ));
        }
    }
    if d.expect.pods.is_some() && got.len() == 1 {
        return Some(Text::new(
            "答案是一个 ClusterIP：普通 Service 的名字解析为 ClusterIP；要得到 Pod 的 IP，需要 Headless Service（clusterIP: None）。",
            "the answer is one ClusterIP: a normal Service's name resolves to its ClusterIP; to get the pod IPs you need a headless Service (clusterIP: None)",
        ));
    }
    None
}

// ----- http -----

fn http_probes(h: &HttpCheck, snap: &LabSnapshot) -> Vec<(ProbeTarget, Vec<String>)> {
    let tries = h.tries as usize;
    if h.from == Source::External {
        let Some(svc) = h
            .service
            .as_deref()
            .and_then(|s| snap.service(&h.namespace, s))
        else {
            return Vec::new();
        };
        let Some(np) = service_port(svc, h.port)
            .and_then(|p| p.node_port)
            .and_then(|n| u16::try_from(n).ok())
        else {
            return Vec::new();
        };
        if h.node_port.is_some_and(|want| want != i32::from(np)) {
            return Vec::new();
        }
        return vec![(ProbeTarget::NodePort { node_port: np }, Vec::new()); tries];
    }
    let Some((namespace, name)) = source_pod(&h.from) else {
        return Vec::new();
    };
    if source_problem(&h.from, snap).is_some() {
        return Vec::new();
    }
    let Some(url) = http_url(h, snap, &namespace) else {
        return Vec::new();
    };
    let argv: Vec<String> = ["wget", "-S", "-qO-", "-T", "5", &url]
        .map(String::from)
        .to_vec();
    vec![(ProbeTarget::Pod { namespace, name }, argv); tries]
}

/// The URL a pod fetches: as given, or the Service by name (qualified when the pod is in
/// another namespace) or by ClusterIP, at its port.
fn http_url(h: &HttpCheck, snap: &LabSnapshot, from_ns: &str) -> Option<String> {
    if let Some(u) = &h.url {
        return Some(u.clone());
    }
    let svc_name = h.service.as_deref()?;
    let port = match snap.service(&h.namespace, svc_name) {
        Some(s) => service_port(s, h.port).map(|p| p.port).or(h.port)?,
        None => h.port?,
    };
    match h.via {
        Via::Name if from_ns == h.namespace => Some(format!("http://{svc_name}:{port}/")),
        Via::Name => Some(format!("http://{svc_name}.{}:{port}/", h.namespace)),
        Via::ClusterIp => {
            let svc = snap.service(&h.namespace, svc_name)?;
            Some(format!("http://{}:{port}/", cluster_ip(svc)?))
        }
    }
}

fn http(h: &HttpCheck, snap: &LabSnapshot, results: &[Option<&ProbeResult>]) -> Outcome {
    let from: String = h.from.clone().into();
    let target = match (&h.url, &h.service) {
        (Some(u), _) => u.clone(),
        (None, Some(s)) if h.from == Source::External => match h.node_port {
            Some(np) => format!("{s} (nodePort {np})"),
            None => format!("{s} (nodePort)"),
        },
        (None, Some(s)) => match h.port {
            Some(p) => format!("{s}:{p}"),
            None => s.clone(),
        },
        (None, None) => String::new(),
    };
    let body = &h.expect.body_contains;
    let expected = if h.expect.fails {
        Text::new(
            format!("从 {from} 访问 {target}：请求失败"),
            format!("{target} from {from}: the request fails"),
        )
    } else {
        let spread = h
            .expect
            .distinct_backends
            .map(|n| {
                (
                    format!("，至少 {n} 个不同的 Pod 应答"),
                    format!(", answered by at least {n} different pods"),
                )
            })
            .unwrap_or_default();
        Text::new(
            format!(
                "从 {from} 访问 {target}：返回包含 “{body}” 的页面{}",
                spread.0
            ),
            format!(
                "{target} from {from}: a page containing \"{body}\"{}",
                spread.1
            ),
        )
    };
    if results.is_empty() {
        // Nothing could be asked: say why from the snapshot.
        let cause = source_problem(&h.from, snap).or_else(|| http_setup_cause(h, snap));
        return Outcome::new(
            h.expect.fails,
            expected,
            Text::new("无法发出请求", "no request made"),
            cause,
        );
    }
    if let Some(err) = results.iter().find_map(|r| match r {
        None => Some("the probe was not run".to_string()),
        Some(_) => None,
    }) {
        return Outcome::error(expected, Text::same(err));
    }
    let results: Vec<&ProbeResult> = results.iter().flatten().copied().collect();
    let ok: Vec<bool> = results
        .iter()
        .map(|r| r.error.is_none() && r.exit_code == 0 && r.stdout.contains(body.as_str()))
        .collect();
    let good = ok.iter().filter(|b| **b).count();
    let backends: BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r.served_by.as_deref())
        .collect();
    let visible = results
        .iter()
        .all(|r| r.served_by.is_some() || r.error.is_some());
    let first_failure = results.iter().zip(&ok).find(|(_, ok)| !**ok).map(|(r, _)| {
        r.error.clone().unwrap_or_else(|| {
            let e = r
                .stderr
                .lines()
                .filter(|l| !l.starts_with(' '))
                .collect::<Vec<_>>()
                .join(" ");
            if e.trim().is_empty() {
                format!("exit code {}", r.exit_code)
            } else {
                e.trim().to_string()
            }
        })
    });
    let n = results.len();
    let who = if backends.is_empty() {
        (String::new(), String::new())
    } else {
        let b = join(&backends);
        (format!("，应答的 Pod：{b}"), format!(", answered by {b}"))
    };
    let mut found = Text::new(
        format!("{good}/{n} 个请求得到页面{}", who.0),
        format!("{good} of {n} requests got the page{}", who.1),
    );
    if let Some(f) = &first_failure {
        found = Text::new(
            format!("{}；失败：{f}", found.zh_cn),
            format!("{}; failed: {f}", found.en),
        );
    }
    let pass = if h.expect.fails {
        good == 0
    } else {
        good == n
            && h.expect
                .distinct_backends
                .is_none_or(|want| !visible || backends.len() >= want as usize)
    };
    let cause = if pass {
        None
    } else if h.expect.fails {
        Some(Text::new(
            "请求成功了：还有端点在应答。",
            "the requests succeeded: endpoints still answer",
        ))
    } else if good == n {
        Some(Text::new(
            "请求都落在了同一批 Pod 上：多试几次，或检查是否只有一个 Pod 就绪。",
            "the requests all landed on the same pods: check that several pods are Ready",
        ))
    } else {
        h.service
            .as_deref()
            .and_then(|s| diagnose_service(snap, &h.namespace, s))
            .or_else(|| http_setup_cause(h, snap))
    };
    Outcome::new(pass, expected, found, cause)
}

/// Why an HTTP check could not even be attempted, or what in the Service is off.
fn http_setup_cause(h: &HttpCheck, snap: &LabSnapshot) -> Option<Text> {
    let s = h.service.as_deref()?;
    let ns = h.namespace.as_str();
    let Some(svc) = snap.service(ns, s) else {
        return diagnose_service(snap, ns, s);
    };
    let Some(sp) = service_port(svc, h.port) else {
        let ports = port_list(svc);
        let p = h.port.unwrap_or_default();
        return Some(Text::new(
            format!("{s} 没有端口 {p}；它的端口是 {ports}。"),
            format!("{s} has no port {p}; its ports are {ports}"),
        ));
    };
    if h.from == Source::External {
        let t = svc
            .spec
            .as_ref()
            .and_then(|x| x.type_.as_deref())
            .unwrap_or("ClusterIP");
        return match (sp.node_port, h.node_port) {
            (None, _) => Some(Text::new(
                format!(
                    "{s} 的类型是 {t}：只有 NodePort 或 LoadBalancer 类型的 Service 才有 nodePort，可以从集群外访问。"
                ),
                format!(
                    "{s} is of type {t}: only NodePort and LoadBalancer Services have a nodePort reachable from outside"
                ),
            )),
            (Some(got), Some(want)) if got != want => Some(Text::new(
                format!("{s} 的 nodePort 是 {got}，而不是 {want}：在 ports[].nodePort 中写明它。"),
                format!("the nodePort of {s} is {got}, not {want}: set it in ports[].nodePort"),
            )),
            _ => None,
        };
    }
    if h.via == Via::ClusterIp && cluster_ip(svc).is_none() {
        return Some(Text::new(
            format!("{s} 是 Headless Service，没有 ClusterIP。"),
            format!("{s} is headless: it has no ClusterIP"),
        ));
    }
    None
}

// ----- proxy -----

fn proxy_argv(mode: ProxyMode) -> Vec<String> {
    match mode {
        ProxyMode::Iptables => vec!["iptables-save".into(), "-t".into(), "nat".into()],
        ProxyMode::Ipvs => vec!["ipvsadm".into(), "-Ln".into()],
        ProxyMode::Nftables => ["nft", "list", "table", "ip", "kube-proxy"]
            .map(String::from)
            .to_vec(),
    }
}

/// The nodes a proxy check reads: the one named, or all.
fn proxy_nodes(p: &ProxyCheck, snap: &LabSnapshot) -> Vec<String> {
    match &p.node {
        Some(n) => vec![n.clone()],
        None => snap
            .list_typed::<Node>(None)
            .filter_map(|n| n.metadata.name.clone())
            .collect(),
    }
}

fn proxy_probes(p: &ProxyCheck, snap: &LabSnapshot) -> Vec<(ProbeTarget, Vec<String>)> {
    let mode = snap.proxy_mode();
    if p.mode.is_some_and(|m| m != mode) {
        return Vec::new();
    }
    let Some(svc) = snap.service(&p.namespace, &p.service) else {
        return Vec::new();
    };
    if cluster_ip(svc).is_none() || service_port(svc, p.port).is_none() {
        return Vec::new();
    }
    proxy_nodes(p, snap)
        .into_iter()
        .map(|name| (ProbeTarget::Node { name }, proxy_argv(mode)))
        .collect()
}

fn proxy(
    p: &ProxyCheck,
    snap: &LabSnapshot,
    probes: &[Probe],
    results: &[Option<&ProbeResult>],
) -> Outcome {
    let mode = snap.proxy_mode();
    let (ns, s) = (p.namespace.as_str(), p.service.as_str());
    let svc = snap.service(ns, s);
    let sp = svc.and_then(|x| service_port(x, p.port));
    let want_n = p
        .endpoints
        .map(|n| n as usize)
        .unwrap_or_else(|| endpoints_of(snap, ns, s, Only::Usable).ready.len());
    let port_shown = sp
        .map(|x| x.port.to_string())
        .or(p.port.map(|x| x.to_string()))
        .unwrap_or_default();
    let nodes = match &p.node {
        Some(n) => format!("{n} 上"),
        None => "每个节点上".to_string(),
    };
    let nodes_en = p.node.clone().unwrap_or_else(|| "every node".into());
    let m = p.mode.unwrap_or(mode).as_str();
    let expected = Text::new(
        format!("{nodes} kube-proxy（{m} 模式）把 {ns}/{s}:{port_shown} 转发到 {want_n} 个端点"),
        format!(
            "on {nodes_en}, kube-proxy ({m} mode) sends {ns}/{s}:{port_shown} to {want_n} endpoints"
        ),
    );
    if let Some(want) = p.mode
        && want != mode
    {
        let (w, g) = (want.as_str(), mode.as_str());
        return Outcome::new(
            false,
            expected,
            Text::new(
                format!("kube-proxy 运行在 {g} 模式"),
                format!("kube-proxy runs in {g} mode"),
            ),
            Some(Text::new(
                format!(
                    "在 ConfigMap kube-system/kube-proxy 的 config.conf 中把 mode 设为 {w}（kind 中创建集群时设 kubeProxyMode: {w}）。"
                ),
                format!(
                    "set mode: {w} in config.conf of ConfigMap kube-system/kube-proxy (on kind, create the cluster with kubeProxyMode: {w})"
                ),
            )),
        );
    }
    let (Some(svc), Some(sp)) = (svc, sp) else {
        return Outcome::new(
            false,
            expected,
            Text::new("没有这个 Service 端口", "no such Service port"),
            diagnose_service(snap, ns, s),
        );
    };
    let Some(vip) = cluster_ip(svc) else {
        return Outcome::new(
            false,
            expected,
            Text::new(
                "Headless Service 没有 kube-proxy 规则",
                "a headless Service has no kube-proxy rules",
            ),
            None,
        );
    };
    let proto = sp.protocol.as_deref().unwrap_or("TCP");
    let mut lines = Vec::new();
    let mut pass = true;
    for (probe, r) in probes.iter().zip(results) {
        let ProbeTarget::Node { name: node } = &probe.target else {
            continue;
        };
        let r = match r {
            Some(r) if r.error.is_none() && r.exit_code == 0 => r,
            Some(r) => {
                let err = r
                    .error
                    .clone()
                    .unwrap_or_else(|| r.stderr.trim().to_string());
                return Outcome::error(expected, Text::same(format!("{node}: {err}")));
            }
            None => {
                return Outcome::error(
                    expected,
                    Text::same(format!("{node}: the probe was not run")),
                );
            }
        };
        let got = match mode {
            ProxyMode::Iptables => iptables_endpoints(&r.stdout, vip, sp.port, proto),
            ProxyMode::Ipvs => ipvs_endpoints(&r.stdout, vip, sp.port, proto),
            ProxyMode::Nftables => nft_endpoints(&r.stdout, vip, sp.port, proto),
        };
        match got {
            Some((chain, n)) => {
                pass &= n == want_n;
                lines.push(Text::new(
                    format!("{node}：{chain} → {n} 个端点"),
                    format!("{node}: {chain} → {n} endpoints"),
                ));
            }
            None => {
                pass &= want_n == 0;
                lines.push(Text::new(
                    format!("{node}：没有 {vip}:{} 的规则", sp.port),
                    format!("{node}: no rule for {vip}:{}", sp.port),
                ));
            }
        }
    }
    let cause = (!pass).then(|| diagnose_service(snap, ns, s)).flatten();
    Outcome::new(pass, expected, join_texts(&lines, "; "), cause)
}

/// In `iptables-save -t nat` text: the chain `KUBE-SERVICES` sends `vip:port` to, and how many
/// `KUBE-SEP-` endpoint jumps it has.
pub fn iptables_endpoints(
    text: &str,
    vip: &str,
    port: i32,
    proto: &str,
) -> Option<(String, usize)> {
    let dst = format!("-d {vip}/32 ");
    let proto = format!("-p {} ", proto.to_ascii_lowercase());
    let dport = format!("--dport {port} ");
    let chain = text.lines().find_map(|l| {
        let rule = l.strip_prefix("-A KUBE-SERVICES ")?;
        if !(rule.contains(&dst) && rule.contains(&proto) && rule.contains(&dport)) {
            return None;
        }
        let target = rule.rsplit_once("-j ")?.1.trim();
        (target.starts_with("KUBE-SVC-") || target.starts_with("KUBE-SVL-"))
            .then(|| target.to_string())
    })?;
    let prefix = format!("-A {chain} ");
    let n = text
        .lines()
        .filter(|l| l.starts_with(&prefix) && l.contains("-j KUBE-SEP-"))
        .count();
    Some((chain, n))
}

/// In `ipvsadm -Ln` text: the virtual server `vip:port` and its real servers.
pub fn ipvs_endpoints(text: &str, vip: &str, port: i32, proto: &str) -> Option<(String, usize)> {
    let head = format!("{}  {vip}:{port} ", proto.to_ascii_uppercase());
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&head));
    let first = lines.next()?;
    let n = lines.take_while(|l| l.starts_with("  -> ")).count();
    Some((first.trim().to_string(), n))
}

/// In `nft list table ip kube-proxy` text: the service chain the `service-ips` map sends
/// `vip . proto . port` to, and the endpoint chains it picks from.
pub fn nft_endpoints(text: &str, vip: &str, port: i32, proto: &str) -> Option<(String, usize)> {
    let key = format!("{vip} . {} . {port} : goto ", proto.to_ascii_lowercase());
    let chain = text.find(&key).map(|i| {
        text[i + key.len()..]
            .split([',', ' ', '\n', '}'])
            .next()
            .unwrap_or("")
            .to_string()
    })?;
    let open = format!("chain {chain} {{");
    let start = text.find(&open)? + open.len();
    let body = &text[start..];
    // The chain's block ends at its own closing brace line.
    let end = body.find("\n\t}").unwrap_or(body.len());
    let n = body[..end].matches("goto endpoint-").count();
    Some((chain, n))
}
