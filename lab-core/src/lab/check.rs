//! The declarative checks of a lab.yaml: each names one thing a learner's cluster must show.
//!
//! | key | passes when |
//! |---|---|
//! | `object` | an object (by name, or every object a label selector picks) exists with the given field values |
//! | `endpoints` | a Service's EndpointSlices hold so many ready / not-ready endpoints, on a port |
//! | `dns` | `nslookup` from a pod answers a name (or a reverse lookup) with the expected addresses or names |
//! | `http` | `wget` from a pod, or a request from outside to a nodePort, gets the page from the expected backends |
//! | `proxy` | a node's kube-proxy rules (iptables-save, ipvsadm -Ln or nft) send a Service port to its endpoints |
//!
//! Field paths (`spec.ports[0].targetPort`, `spec.template.spec.containers[name=httpd].image`)
//! and expectations (`8080`, `{exists: false}`, `{oneOf: [a, b]}`, `{atLeast: 3}`,
//! `{prefix: "10.96."}`, `{contains: x}`, `{not: y}`) are described at [`Expect`].

use super::Text;
use crate::config::ProxyMode;
use crate::object::Kind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

fn default_namespace() -> String {
    "default".into()
}

/// One check of a lab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Unique within the lab; `lab-runner hint LAB ID` names it.
    pub id: String,
    /// What is checked, for the learner.
    pub title: Text,
    /// Shown on request when the check fails.
    #[serde(default)]
    pub hint: Option<Text>,
    /// An object and its fields.
    #[serde(default)]
    pub object: Option<ObjectCheck>,
    /// A Service's endpoints.
    #[serde(default)]
    pub endpoints: Option<EndpointsCheck>,
    /// A DNS lookup from a pod.
    #[serde(default)]
    pub dns: Option<DnsCheck>,
    /// An HTTP request from a pod or from outside.
    #[serde(default)]
    pub http: Option<HttpCheck>,
    /// A node's kube-proxy rules for a Service port.
    #[serde(default)]
    pub proxy: Option<ProxyCheck>,
}

/// The one kind a [`Check`] has.
#[derive(Clone, Copy, Debug)]
pub enum CheckKind<'a> {
    /// `object:`
    Object(&'a ObjectCheck),
    /// `endpoints:`
    Endpoints(&'a EndpointsCheck),
    /// `dns:`
    Dns(&'a DnsCheck),
    /// `http:`
    Http(&'a HttpCheck),
    /// `proxy:`
    Proxy(&'a ProxyCheck),
}

impl Check {
    /// The check's kind; `None` only for a check [`Lab::from_yaml`](super::Lab::from_yaml)
    /// would have rejected.
    pub fn kind(&self) -> Option<CheckKind<'_>> {
        let kinds = self.kinds();
        match kinds[..] {
            [one] => Some(one),
            _ => None,
        }
    }

    fn kinds(&self) -> Vec<CheckKind<'_>> {
        let mut out = Vec::new();
        out.extend(self.object.as_ref().map(CheckKind::Object));
        out.extend(self.endpoints.as_ref().map(CheckKind::Endpoints));
        out.extend(self.dns.as_ref().map(CheckKind::Dns));
        out.extend(self.http.as_ref().map(CheckKind::Http));
        out.extend(self.proxy.as_ref().map(CheckKind::Proxy));
        out
    }

    /// The first problem as (path below the check, message).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if !crate::validation::is_dns1123_label(&self.id).is_empty() {
            return Err((
                "id".into(),
                format!("{:?}: a check id is a lowercase DNS label", self.id),
            ));
        }
        let kind = match self.kinds()[..] {
            [one] => one,
            [] => {
                return Err((
                    "".into(),
                    "one of object, endpoints, dns, http or proxy is required".into(),
                ));
            }
            _ => {
                return Err((
                    "".into(),
                    "only one of object, endpoints, dns, http or proxy may be given".into(),
                ));
            }
        };
        match kind {
            CheckKind::Object(o) => o.validate().map_err(|(p, m)| (format!("object.{p}"), m)),
            CheckKind::Endpoints(_) => Ok(()),
            CheckKind::Dns(d) => d.validate().map_err(|(p, m)| (format!("dns.{p}"), m)),
            CheckKind::Http(h) => h.validate().map_err(|(p, m)| (format!("http.{p}"), m)),
            CheckKind::Proxy(_) => Ok(()),
        }
        .map_err(|(p, m)| (p.trim_end_matches('.').to_string(), m))
    }
}

/// Where a probe runs: `pod/NAME` or `pod/NAME.NAMESPACE` (a learner's pod), `probe` (the
/// grader's own busybox:1.28 pod), or `external` (outside the cluster, to a nodePort) — the
/// `--from` syntax of `lab-runner trace`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Source {
    /// A pod the learner created.
    Pod {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The grader's probe pod ([`super::probe::PROBE_POD`]).
    Probe,
    /// A client outside the cluster, reaching a node's nodePort.
    External,
}

impl TryFrom<String> for Source {
    type Error = String;
    fn try_from(s: String) -> Result<Source, String> {
        match s.as_str() {
            "probe" => Ok(Source::Probe),
            "external" => Ok(Source::External),
            _ => match s.strip_prefix("pod/") {
                Some(rest) if !rest.is_empty() => {
                    let (name, namespace) = rest.split_once('.').unwrap_or((rest, "default"));
                    Ok(Source::Pod {
                        namespace: namespace.to_string(),
                        name: name.to_string(),
                    })
                }
                _ => Err(format!(
                    "{s:?}: a source is pod/NAME, pod/NAME.NAMESPACE, probe or external"
                )),
            },
        }
    }
}

impl From<Source> for String {
    fn from(s: Source) -> String {
        match s {
            Source::Probe => "probe".into(),
            Source::External => "external".into(),
            Source::Pod { namespace, name } if namespace == "default" => format!("pod/{name}"),
            Source::Pod { namespace, name } => format!("pod/{name}.{namespace}"),
        }
    }
}

/// What a field (or a count) must be.
///
/// A plain YAML value must equal the field (numbers by value, maps and lists as a whole);
/// a one-key map with an operator says more: `{exists: true|false}`, `{oneOf: [..]}`,
/// `{atLeast: N}`, `{atMost: N}`, `{prefix: "10.96."}`, `{contains: "x"}` (a substring of a
/// string, or an element of a list), `{not: VALUE}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "Value", into = "Value")]
pub enum Expect {
    /// Equal to the value.
    Equals(Value),
    /// Present (true) or absent (false).
    Exists(bool),
    /// Equal to one of the values.
    OneOf(Vec<Value>),
    /// A number ≥ N.
    AtLeast(f64),
    /// A number ≤ N.
    AtMost(f64),
    /// A string starting with this.
    Prefix(String),
    /// A string containing this, or a list containing this element.
    Contains(Value),
    /// Anything but this value (absent included).
    Not(Value),
}

impl From<Value> for Expect {
    fn from(v: Value) -> Expect {
        if let Value::Object(m) = &v
            && m.len() == 1
        {
            let (k, arg) = m.iter().next().expect("one entry");
            let num = arg.as_f64();
            match (k.as_str(), arg) {
                ("exists", Value::Bool(b)) => return Expect::Exists(*b),
                ("oneOf", Value::Array(a)) => return Expect::OneOf(a.clone()),
                ("atLeast", _) if num.is_some() => return Expect::AtLeast(num.unwrap_or(0.0)),
                ("atMost", _) if num.is_some() => return Expect::AtMost(num.unwrap_or(0.0)),
                ("prefix", Value::String(p)) => return Expect::Prefix(p.clone()),
                ("contains", a) => return Expect::Contains(a.clone()),
                ("not", a) => return Expect::Not(a.clone()),
                _ => {}
            }
        }
        Expect::Equals(v)
    }
}

impl From<Expect> for Value {
    fn from(e: Expect) -> Value {
        let op = |k: &str, v: Value| Value::Object([(k.to_string(), v)].into_iter().collect());
        match e {
            Expect::Equals(v) => v,
            Expect::Exists(b) => op("exists", Value::Bool(b)),
            Expect::OneOf(a) => op("oneOf", Value::Array(a)),
            Expect::AtLeast(n) => op("atLeast", serde_json::json!(n)),
            Expect::AtMost(n) => op("atMost", serde_json::json!(n)),
            Expect::Prefix(p) => op("prefix", Value::String(p)),
            Expect::Contains(v) => op("contains", v),
            Expect::Not(v) => op("not", v),
        }
    }
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

impl Expect {
    /// Whether `found` (None: the field is absent) meets the expectation.
    pub fn holds(&self, found: Option<&Value>) -> bool {
        match (self, found) {
            (Expect::Exists(want), f) => f.is_some_and(|v| !v.is_null()) == *want,
            (Expect::Not(v), f) => !f.is_some_and(|f| numbers_equal(f, v)),
            (_, None) => false,
            (Expect::Equals(v), Some(f)) => numbers_equal(f, v),
            (Expect::OneOf(vs), Some(f)) => vs.iter().any(|v| numbers_equal(f, v)),
            (Expect::AtLeast(n), Some(f)) => f.as_f64().is_some_and(|x| x >= *n),
            (Expect::AtMost(n), Some(f)) => f.as_f64().is_some_and(|x| x <= *n),
            (Expect::Prefix(p), Some(f)) => f.as_str().is_some_and(|s| s.starts_with(p.as_str())),
            (Expect::Contains(v), Some(Value::Array(a))) => a.iter().any(|x| numbers_equal(x, v)),
            (Expect::Contains(v), Some(Value::String(s))) => {
                v.as_str().is_some_and(|x| s.contains(x))
            }
            (Expect::Contains(_), Some(_)) => false,
        }
    }

    /// The expectation as a learner reads it (`8080`, `one of ClusterIP, NodePort`, `≥ 3`).
    pub fn describe(&self) -> Text {
        let v = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match self {
            Expect::Equals(x) => Text::same(v(x)),
            Expect::Exists(true) => Text::new("存在", "present"),
            Expect::Exists(false) => Text::new("不存在", "absent"),
            Expect::OneOf(xs) => {
                let list = xs.iter().map(v).collect::<Vec<_>>().join(", ");
                Text::new(format!("其中之一：{list}"), format!("one of {list}"))
            }
            Expect::AtLeast(n) => Text::same(format!("≥ {n}")),
            Expect::AtMost(n) => Text::same(format!("≤ {n}")),
            Expect::Prefix(p) => Text::new(format!("以 {p} 开头"), format!("starting with {p}")),
            Expect::Contains(x) => {
                Text::new(format!("包含 {}", v(x)), format!("containing {}", v(x)))
            }
            Expect::Not(x) => Text::new(format!("不是 {}", v(x)), format!("not {}", v(x))),
        }
    }
}

/// `object:` an object, or the objects a selector picks, with field values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectCheck {
    /// The kind, as kubectl takes it: `Deployment`, `deployment`, `deploy`, `svc`, …
    pub kind: String,
    /// Namespace (namespaced kinds).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The object's name; or leave it out and give `selector`.
    #[serde(default)]
    pub name: Option<String>,
    /// `key=value[,key=value]`: every object it picks must have the fields.
    #[serde(default)]
    pub selector: Option<String>,
    /// How many objects the selector must pick (default: at least one).
    #[serde(default)]
    pub count: Option<Expect>,
    /// Field path → expectation.
    #[serde(default)]
    pub fields: BTreeMap<String, Expect>,
}

impl ObjectCheck {
    /// The kind named by `kind`.
    pub fn kind(&self) -> Option<Kind> {
        parse_kind(&self.kind)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        if self.kind().is_none() {
            return Err((
                "kind".into(),
                format!("{:?}: not a kind the labs know", self.kind),
            ));
        }
        match (&self.name, &self.selector) {
            (Some(_), Some(_)) => {
                return Err(("selector".into(), "give name or selector, not both".into()));
            }
            (None, None) => return Err(("name".into(), "name or selector is required".into())),
            (None, Some(s)) => {
                parse_selector(s).map_err(|m| ("selector".to_string(), m))?;
            }
            (Some(_), None) => {
                if self.count.is_some() {
                    return Err(("count".into(), "count needs a selector".into()));
                }
            }
        }
        for path in self.fields.keys() {
            FieldPath::parse(path).map_err(|m| (format!("fields[{path}]"), m))?;
        }
        Ok(())
    }
}

/// A kind by its name, plural resource or short name, in any case.
pub fn parse_kind(s: &str) -> Option<Kind> {
    let s = s.to_ascii_lowercase();
    Kind::ALL.iter().copied().find(|k| {
        k.name().eq_ignore_ascii_case(&s)
            || k.resource() == s
            || k.short_names().contains(&s.as_str())
    })
}

/// An equality-based selector `a=b,c=d` (what labs need; kubectl's set-based forms are not).
pub fn parse_selector(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',') {
        match part.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(
                    k.trim().to_string(),
                    v.trim().trim_start_matches('=').to_string(),
                );
            }
            _ => return Err(format!("{s:?}: a selector is key=value[,key=value]")),
        }
    }
    Ok(out)
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// `.name`
    Key(String),
    /// `[3]`
    Index(usize),
    /// `[name=http]`: the list element whose `name` is `http`.
    Where(String, String),
}

/// A parsed field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(pub Vec<PathStep>);

impl FieldPath {
    /// `spec.ports[0].targetPort`, `spec.template.spec.containers[name=httpd].image`,
    /// `metadata.labels[app]` (a key with dots or slashes goes in brackets:
    /// `metadata.labels[kubernetes.io/service-name]`).
    pub fn parse(path: &str) -> Result<FieldPath, String> {
        let bad = || format!("{path:?}: not a field path like spec.ports[0].port");
        let mut steps = Vec::new();
        let mut rest = path;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(bad)?;
                let inner = &r[..end];
                rest = &r[end + 1..];
                if let Ok(i) = inner.parse::<usize>() {
                    steps.push(PathStep::Index(i));
                } else if let Some((k, v)) = inner.split_once('=') {
                    steps.push(PathStep::Where(k.to_string(), v.to_string()));
                } else if !inner.is_empty() {
                    steps.push(PathStep::Key(inner.to_string()));
                } else {
                    return Err(bad());
                }
            } else {
                let r = rest.strip_prefix('.').unwrap_or(rest);
                let end = r.find(['.', '[']).unwrap_or(r.len());
                if end == 0 {
                    return Err(bad());
                }
                steps.push(PathStep::Key(r[..end].to_string()));
                rest = &r[end..];
            }
        }
        if steps.is_empty() {
            return Err(bad());
        }
        Ok(FieldPath(steps))
    }

    /// The value at this path in `v`, if there is one.
    pub fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(v, |v, step| match step {
            PathStep::Key(k) => v.get(k),
            PathStep::Index(i) => v.get(i),
            PathStep::Where(k, want) => v.as_array()?.iter().find(|e| {
                e.get(k).is_some_and(|x| match x {
                    Value::String(s) => s == want,
                    other => serde_json::from_str::<Value>(want).ok().as_ref() == Some(other),
                })
            }),
        })
    }
}

/// `endpoints:` what a Service's EndpointSlices hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointsCheck {
    /// The Service.
    pub service: String,
    /// Its namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Ready endpoints (distinct addresses).
    #[serde(default)]
    pub ready: Option<Expect>,
    /// Endpoints that are not ready.
    #[serde(default)]
    pub not_ready: Option<Expect>,
    /// The port every endpoint must have (the resolved targetPort).
    #[serde(default)]
    pub port: Option<i32>,
}

/// `dns:` a lookup from a pod with busybox 1.28's `nslookup`, as the chapter does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsCheck {
    /// The pod that asks.
    pub from: Source,
    /// The name looked up (`httpd-svc`, `httpd-svc.default`, an FQDN).
    #[serde(default)]
    pub name: Option<String>,
    /// Or: a reverse lookup of this Service's ClusterIP.
    #[serde(default)]
    pub reverse_of: Option<String>,
    /// The namespace of `reverseOf`, `expect.service` and `expect.pods`.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The answer wanted.
    pub expect: DnsExpect,
}

/// What a lookup must answer. Exactly one field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsExpect {
    /// The Service's ClusterIP; for a headless Service, the IPs of its ready endpoints.
    #[serde(default)]
    pub service: Option<String>,
    /// The IPs of the ready pods this selector picks.
    #[serde(default)]
    pub pods: Option<String>,
    /// These addresses exactly.
    #[serde(default)]
    pub addresses: Option<Vec<Ipv4Addr>>,
    /// These names (a reverse lookup), e.g. `httpd-svc.default.svc.cluster.local`.
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// The name must not resolve.
    #[serde(default)]
    pub nxdomain: bool,
    /// The name must resolve to at least one address, whatever it is: a name outside the
    /// cluster, which the sim's upstream and the Internet's DNS answer differently.
    #[serde(default)]
    pub resolves: bool,
}

impl DnsCheck {
    fn validate(&self) -> Result<(), (String, String)> {
        if self.from == Source::External {
            return Err((
                "from".into(),
                "a lookup runs in a pod: pod/NAME or probe".into(),
            ));
        }
        match (&self.name, &self.reverse_of) {
            (Some(_), Some(_)) => {
                return Err((
                    "reverseOf".into(),
                    "give name or reverseOf, not both".into(),
                ));
            }
            (None, None) => return Err(("name".into(), "name or reverseOf is required".into())),
            _ => {}
        }
        let e = &self.expect;
        let set = [
            e.service.is_some(),
            e.pods.is_some(),
            e.addresses.is_some(),
            e.names.is_some(),
            e.nxdomain,
            e.resolves,
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err((
                "expect".into(),
                "exactly one of service, pods, addresses, names, nxdomain or resolves".into(),
            ));
        }
        if let Some(p) = &e.pods {
            parse_selector(p).map_err(|m| ("expect.pods".to_string(), m))?;
        }
        Ok(())
    }
}

/// How an `http:` check from a pod names the Service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Via {
    /// `http://NAME:PORT/` (DNS, then the ClusterIP).
    #[default]
    #[serde(rename = "name")]
    Name,
    /// `http://CLUSTER-IP:PORT/`.
    #[serde(rename = "clusterIP")]
    ClusterIp,
}

/// `http:` a request for the httpd page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpCheck {
    /// `pod/NAME`, `probe` (busybox `wget`), or `external` (to a nodePort from outside).
    pub from: Source,
    /// A literal URL (from a pod), e.g. `http://httpd-svc:8080/`.
    #[serde(default)]
    pub url: Option<String>,
    /// Or the Service to reach.
    #[serde(default)]
    pub service: Option<String>,
    /// Its namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The Service port (default: its first).
    #[serde(default)]
    pub port: Option<i32>,
    /// From a pod: by name or by ClusterIP.
    #[serde(default)]
    pub via: Via,
    /// From outside: the nodePort the Service must have.
    #[serde(default)]
    pub node_port: Option<i32>,
    /// Requests made (several show load balancing).
    #[serde(default = "one")]
    pub tries: u32,
    /// The answer wanted.
    #[serde(default)]
    pub expect: HttpExpect,
}

fn one() -> u32 {
    1
}

/// What the answers must be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpExpect {
    /// Text every answer's body contains.
    #[serde(default = "it_works")]
    pub body_contains: String,
    /// The requests must fail (nothing listens, or no endpoints).
    #[serde(default)]
    pub fails: bool,
    /// At least this many different pods answered (where the answer names its pod: the sim).
    #[serde(default)]
    pub distinct_backends: Option<u32>,
}

fn it_works() -> String {
    "It works!".into()
}

impl Default for HttpExpect {
    fn default() -> HttpExpect {
        HttpExpect {
            body_contains: it_works(),
            fails: false,
            distinct_backends: None,
        }
    }
}

impl HttpCheck {
    fn validate(&self) -> Result<(), (String, String)> {
        match (&self.url, &self.service) {
            (Some(_), Some(_)) => {
                return Err(("service".into(), "give url or service, not both".into()));
            }
            (None, None) => return Err(("service".into(), "url or service is required".into())),
            (Some(_), None) if self.from == Source::External => {
                return Err((
                    "url".into(),
                    "from external, name the service (its nodePort is used)".into(),
                ));
            }
            _ => {}
        }
        if self.tries == 0 || self.tries > 20 {
            return Err(("tries".into(), format!("{}: between 1 and 20", self.tries)));
        }
        Ok(())
    }
}

/// `proxy:` a node's kube-proxy rules for a Service port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProxyCheck {
    /// The Service.
    pub service: String,
    /// Its namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The Service port (default: its first).
    #[serde(default)]
    pub port: Option<i32>,
    /// The node whose rules are read (default: every node).
    #[serde(default)]
    pub node: Option<String>,
    /// The mode kube-proxy must be in.
    #[serde(default)]
    pub mode: Option<ProxyMode>,
    /// Endpoints the rules must send to (default: the Service's ready endpoints).
    #[serde(default)]
    pub endpoints: Option<u32>,
}
