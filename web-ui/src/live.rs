//! The live view's model: the page follows a running cluster instead of its own.
//!
//! `?live=BASE` names the Kubernetes API as a path on the page's own origin: `/` when the page is
//! served by `lab-runner sim` (the API is on the same port), `/k8s` when it is served by
//! `kubectl proxy --www=web-ui/dist --www-prefix=/ --api-prefix=/k8s/`. Same origin, so the
//! browser needs no CORS; an address on another host is refused ([`parse_base`]), so a link can
//! never make the page read, or send credentials to, anywhere else.
//!
//! Every [`POLL_MS`] the page lists Namespaces, Nodes, Services, EndpointSlices and Pods and gets
//! ConfigMap `kube-system/kube-proxy` (404: kube-proxy's defaults), decodes them as
//! `k8s-openapi` lists ([`decode_list`]) and loads them as they are into a
//! [`Cluster::observed`] ([`observe`]): no simulated controller touches them. The views the
//! playground has (map, pods, rules, DNS) then read that cluster; what kube-proxy would write on a
//! node and what CoreDNS would answer are predictions of `lab-core` from those objects. When the
//! API is the sim's (`GET BASE/svclab/v1/info`), the node's real rules are read too
//! (`GET BASE/svclab/v1/nodes/NODE/exec?command=…`) and shown beside the prediction
//! ([`compare_rules`]). Only GET requests are ever sent.

use crate::i18n::{Lang, Text, text};
use lab_core::config::ProxyMode;
use lab_core::dns::{DnsSnapshot, Name, RecordType, ResponseCode, ServiceKind};
use lab_core::{Cluster, ClusterConfig, Kind, Object};

/// How often the page reads the cluster again, in milliseconds.
pub const POLL_MS: u32 = 2_000;

/// The lists the page reads, in order (cluster-wide: `kubectl get … -A`).
pub const LISTS: [(Kind, &str); 5] = [
    (Kind::Namespace, "/api/v1/namespaces"),
    (Kind::Node, "/api/v1/nodes"),
    (Kind::Service, "/api/v1/services"),
    (
        Kind::EndpointSlice,
        "/apis/discovery.k8s.io/v1/endpointslices",
    ),
    (Kind::Pod, "/api/v1/pods"),
];

/// kube-proxy's configuration, where kind (and kubeadm) put it.
pub const KUBE_PROXY_PATH: &str = "/api/v1/namespaces/kube-system/configmaps/kube-proxy";

/// The sim's identity (`lab-runner sim` answers it; a real apiserver says 404).
pub const INFO_PATH: &str = "/svclab/v1/info";

/// The API's path prefix on the page's own origin, without a trailing `/` (`""` for the root).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Base(String);

impl Base {
    /// The address of `path` (which starts with `/`) under the prefix.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The prefix as a learner writes it in `?live=` (`/` for the root).
    pub fn display(&self) -> &str {
        if self.0.is_empty() { "/" } else { &self.0 }
    }
}

/// Why `?live=` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseError {
    /// `?live=` with nothing.
    Empty,
    /// An absolute URL or a `//host` path: another host.
    OtherHost(String),
    /// A relative path (`k8s`).
    NotAPath(String),
    /// A `?`, `#`, space or control character.
    BadCharacter(String),
    /// Percent-escapes that are not UTF-8.
    Encoding,
}

impl BaseError {
    /// The refusal in `lang`, with the examples that work.
    pub fn message(&self, lang: Lang) -> String {
        let (why, value) = match self {
            BaseError::Empty => (Text::LiveBaseEmpty, None),
            BaseError::OtherHost(v) => (Text::LiveBaseOtherHost, Some(v)),
            BaseError::NotAPath(v) => (Text::LiveBaseNotAPath, Some(v)),
            BaseError::BadCharacter(v) => (Text::LiveBaseBadCharacter, Some(v)),
            BaseError::Encoding => (Text::LiveBaseEncoding, None),
        };
        let value = value.map(|v| format!(" ({v:?})")).unwrap_or_default();
        format!(
            "{}{value}: {} {}",
            text(lang, Text::LiveBaseRefused),
            text(lang, why),
            text(lang, Text::LiveBaseExamples)
        )
    }
}

/// Reads `?live=` (its raw, still percent-encoded value): a path on the page's own origin.
/// Anything that could name another host (`http://…`, `//host`, `/\host`) is refused, never
/// fetched.
pub fn parse_base(raw: &str) -> Result<Base, BaseError> {
    let value = crate::share::percent_decode(raw).ok_or(BaseError::Encoding)?;
    let v = value.as_str();
    if v.is_empty() {
        return Err(BaseError::Empty);
    }
    let scheme = v
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains('/'));
    if scheme || v.starts_with("//") || v.contains('\\') {
        return Err(BaseError::OtherHost(value));
    }
    if !v.starts_with('/') {
        return Err(BaseError::NotAPath(value));
    }
    if v.chars()
        .any(|c| c == '?' || c == '#' || c.is_whitespace() || c.is_control())
    {
        return Err(BaseError::BadCharacter(value));
    }
    Ok(Base(v.trim_end_matches('/').to_string()))
}

/// A request that did not give what the page needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// No HTTP answer at all (the server is down, the proxy stopped).
    Unreachable {
        /// The address asked.
        url: String,
        /// The browser's words.
        detail: String,
    },
    /// An HTTP error: the apiserver's (or the proxy's) status and message.
    Http {
        /// The address asked.
        url: String,
        /// The status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
        /// The apiserver's `Status.message`, or the body's text.
        message: String,
    },
    /// A 200 whose body is not what was asked for.
    Decode {
        /// The address asked.
        url: String,
        /// The decoder's words.
        detail: String,
    },
}

impl FetchError {
    /// An HTTP error from its status line and body: a Kubernetes `Status`'s `message` when the
    /// body is one (`services is forbidden: User "…" cannot list …`), else the body's first line
    /// (kubectl proxy's plain `Forbidden`).
    pub fn http(url: &str, status: u16, reason: &str, body: &str) -> FetchError {
        let message = json(body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_string))
            .unwrap_or_else(|| {
                body.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect()
            });
        FetchError::Http {
            url: url.to_string(),
            status,
            reason: reason.to_string(),
            message,
        }
    }

    /// The error in `lang`: what was asked and what came back.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            FetchError::Unreachable { url, detail } => {
                format!(
                    "GET {url}: {} ({detail})",
                    text(lang, Text::LiveUnreachable)
                )
            }
            FetchError::Http {
                url,
                status,
                reason,
                message,
            } => {
                let head = format!("GET {url}: {status} {reason}")
                    .trim_end()
                    .to_string();
                if message.is_empty() {
                    head
                } else {
                    format!("{head}: {message}")
                }
            }
            FetchError::Decode { url, detail } => {
                format!(
                    "GET {url}: {} ({detail})",
                    text(lang, Text::LiveUndecodable)
                )
            }
        }
    }
}

/// A list response (`{"kind":"PodList","items":[…]}`) as objects. The kinds of [`LISTS`] only.
///
/// Each item is decoded as lab-core decodes any object (`Object::from_json`, which ignores
/// fields it does not know, as a client of an older version does), not through a typed
/// `k8s_openapi::List<T>`: that would build every type's deserializer a second time, for another
/// deserializer, and the page's download has no room for it (docs/perf.md).
pub fn decode_list(kind: Kind, body: &str) -> Result<Vec<Object>, String> {
    if !LISTS.iter().any(|(k, _)| *k == kind) {
        return Err(format!("the live view does not read {}", kind.name()));
    }
    let value = json(body)?;
    let want = format!("{}List", kind.name());
    match value.get("kind").and_then(|k| k.as_str()) {
        Some(k) if k == want => {}
        other => return Err(format!("expected a {want}, got kind {other:?}")),
    }
    let Some(serde_json::Value::Array(items)) = value.get("items") else {
        // An empty list may come without items.
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| {
            Object::from_json(kind, item.clone())
                .map_err(|e| format!("{}: {}", e.path(), e.inner()))
        })
        .collect()
}

/// The kube-proxy ConfigMap's response.
pub fn decode_config_map(body: &str) -> Result<Object, String> {
    let value = json(body)?;
    Object::from_json(Kind::ConfigMap, value).map_err(|e| format!("{}: {}", e.path(), e.inner()))
}

/// Whether `GET BASE/svclab/v1/info` said the API is the sim's.
pub fn is_sim_info(body: &str) -> bool {
    json(body).is_ok_and(|v| {
        v.get("kind").and_then(|k| k.as_str()) == Some("SvclabInfo")
            && v.get("sim").and_then(|s| s.as_bool()) == Some(true)
    })
}

/// One object's identity and resourceVersion: the page draws again only when these change.
pub type Version = (lab_core::ObjectKey, String);

/// Every object's [`Version`], in the order read (the apiserver lists in key order).
pub fn versions(objects: &[Object]) -> Vec<Version> {
    objects.iter().map(Object::version).collect()
}

/// The objects read, as a cluster the views can read, with no controller run over them.
pub fn observe(objects: Vec<Object>) -> Cluster {
    Cluster::observed(ClusterConfig::observed(&objects), objects)
}

/// The node whose rules are shown when none was picked: the first worker (`kind-worker` on
/// kind), else the first node.
pub fn default_node(config: &ClusterConfig) -> Option<String> {
    config
        .nodes
        .iter()
        .find(|n| !n.control_plane)
        .or(config.nodes.first())
        .map(|n| n.name.clone())
}

/// Percent-encodes a query value or path segment (RFC 3986 unreserved characters stay).
pub fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The sim's node endpoint for `argv` on `node` (`command=ipvsadm&command=-Ln`).
pub fn exec_url(base: &Base, node: &str, argv: &[&str]) -> String {
    let query: Vec<String> = argv
        .iter()
        .map(|a| format!("command={}", encode_component(a)))
        .collect();
    base.url(&format!(
        "/svclab/v1/nodes/{}/exec?{}",
        encode_component(node),
        query.join("&")
    ))
}

/// What a node command printed, from the sim's `NodeExecResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeExec {
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Its exit code.
    pub exit_code: i32,
}

/// The sim's node endpoint's answer.
pub fn decode_exec(body: &str) -> Result<NodeExec, String> {
    let v = json(body)?;
    let field = |name: &str| v.get(name).and_then(|s| s.as_str()).map(str::to_string);
    match (field("stdout"), v.get("exitCode").and_then(|c| c.as_i64())) {
        (Some(stdout), Some(code)) => Ok(NodeExec {
            stdout,
            stderr: field("stderr").unwrap_or_default(),
            exit_code: code as i32,
        }),
        _ => Err("not a NodeExecResult".into()),
    }
}

/// A JSON body, as a `Value` (the page's one JSON parser: each is code to download).
fn json(body: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// The page's live state (kept in `Playground::live`), changed only by [`Event`]s.

/// Whether the API is the sim's, once an HTTP answer said so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sim {
    /// Not asked yet, or nothing answered yet.
    Unknown,
    /// `GET BASE/svclab/v1/info` said so.
    Yes,
    /// It did not: the answer it gave.
    No(FetchError),
}

/// What a node printed for its rules command in a mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The node.
    pub node: String,
    /// The mode whose command ran.
    pub mode: ProxyMode,
    /// Its output, or why it could not be read.
    pub result: Result<NodeExec, FetchError>,
}

/// What the reading loop and the page's controls report.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A read of every list: the objects, or the first request that failed.
    Read(Result<Vec<Object>, FetchError>),
    /// The answer to `GET BASE/svclab/v1/info`.
    Sim(Sim),
    /// A node's rules, read on the sim.
    Found(Found),
    /// The namespace picked (`None`: all).
    Namespace(Option<String>),
}

/// The live view's state beside the cluster it observes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Follow {
    /// Where the API is.
    pub base: Base,
    /// Whether it is the sim's.
    pub sim: Sim,
    /// The last read's error (the last good objects stay on screen).
    pub error: Option<FetchError>,
    /// Counts the reads that changed something, from 1 (0: nothing read yet).
    pub serial: u64,
    /// The last rules read from a node.
    pub found: Option<Found>,
    /// The namespace shown (`None`: all).
    pub namespace: Option<String>,
    versions: Vec<Version>,
}

impl Follow {
    /// Nothing read yet; the `default` namespace shown.
    pub fn new(base: Base) -> Follow {
        Follow {
            base,
            sim: Sim::Unknown,
            error: None,
            serial: 0,
            found: None,
            namespace: Some("default".into()),
            versions: Vec::new(),
        }
    }

    /// Applies `event`; `cluster` is replaced by the objects of a read that changed something.
    /// Returns whether anything the page shows changed (a read identical to the last, or the
    /// same error again, changes nothing: the page does not render again).
    pub fn apply(&mut self, cluster: &mut Cluster, event: Event) -> bool {
        match event {
            Event::Read(Ok(objects)) => {
                let versions = versions(&objects);
                let same = self.serial > 0 && versions == self.versions;
                let cleared = self.error.take().is_some();
                if !same {
                    *cluster = observe(objects);
                    self.versions = versions;
                    self.serial += 1;
                }
                !same || cleared
            }
            Event::Read(Err(e)) => replace(&mut self.error, Some(e)),
            Event::Sim(sim) => replace(&mut self.sim, sim),
            Event::Found(found) => replace(&mut self.found, Some(found)),
            Event::Namespace(ns) => replace(&mut self.namespace, ns),
        }
    }

    /// The found rules of `node` in `mode`, if they are the last read.
    pub fn found_for(&self, node: &str, mode: ProxyMode) -> Option<&Found> {
        self.found
            .as_ref()
            .filter(|f| f.node == node && f.mode == mode)
    }
}

/// Sets `slot` to `value`; whether it changed.
fn replace<T: PartialEq>(slot: &mut T, value: T) -> bool {
    if *slot == value {
        return false;
    }
    *slot = value;
    true
}

// ---------------------------------------------------------------------------------------------
// Predicted against found: the summary the rules section shows.
//
// The page compares lines: those only predicted and those only found, blanks collapsed, order
// aside (kube-proxy keeps no fixed Service order in its shared chains), comment lines
// (`# Generated by …`) and counters skipped. `lab-runner compare` does the full diff per Service
// port with likely causes (`lab_core::compare`); the page's download has no room for it
// (docs/perf.md), and on the sim — the only cluster whose node rules a browser can read — a
// line view says what changed.

/// The most differing lines the page lists.
pub const MAX_DETAILS: usize = 20;

/// The verdict on a node's rules, and the lines that explain it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesComparison {
    /// Whether the node has exactly the predicted lines.
    pub identical: bool,
    /// The differing lines, `- ` predicted only, `+ ` found only (at most [`MAX_DETAILS`], then
    /// how many more).
    pub details: Vec<String>,
}

/// A dump's lines as compared: blanks collapsed, `#` comments and counters left out.
fn compared_lines(text: &str) -> std::collections::BTreeMap<String, i64> {
    let mut out = std::collections::BTreeMap::new();
    for l in text.lines() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        // `:CHAIN POLICY [packets:bytes]` and ipvsadm's connection counters vary with traffic.
        let words: Vec<&str> = l.split_whitespace().collect();
        let kept = if l.starts_with(':') {
            &words[..words.len().min(2)]
        } else if l.starts_with("->") {
            &words[..words.len().min(4)]
        } else {
            &words[..]
        };
        *out.entry(kept.join(" ")).or_insert(0) += 1;
    }
    out
}

/// Compares the rules svclab predicts for a node (`predicted`, in `mode`'s tool's text) with
/// what the node printed (`found`), line by line.
pub fn compare_rules(mode: ProxyMode, predicted: &str, found: &str) -> RulesComparison {
    let _ = mode; // every mode's dump is compared the same way, line by line
    let mut counts = compared_lines(predicted);
    for (l, n) in compared_lines(found) {
        *counts.entry(l).or_insert(0) -= n;
    }
    let mut details: Vec<String> = Vec::new();
    for (l, n) in &counts {
        let (sign, times) = if *n > 0 { ("- ", *n) } else { ("+ ", -n) };
        for _ in 0..times {
            details.push(format!("{sign}{l}"));
        }
    }
    let identical = details.is_empty();
    if details.len() > MAX_DETAILS {
        let more = details.len() - MAX_DETAILS;
        details.truncate(MAX_DETAILS);
        details.push(format!("… (+{more})"));
    }
    RulesComparison { identical, details }
}

// ---------------------------------------------------------------------------------------------
// What the page lists beside the map: the namespaces, the DNS answers.

/// Namespaces by name.
pub fn namespaces(cluster: &Cluster) -> Vec<String> {
    cluster
        .list(Kind::Namespace, None)
        .map(|n| n.name().to_string())
        .collect()
}

/// One predicted DNS question and CoreDNS's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRow {
    /// The name asked, absolute (`httpd-svc.default.svc.cluster.local.`).
    pub name: String,
    /// `A` or `SRV`.
    pub qtype: &'static str,
    /// The answer's records as dig prints their data, one each; empty for a negative answer.
    pub records: Vec<String>,
    /// `NOERROR`, `NXDOMAIN`, … (`NOERROR` with no record is NODATA).
    pub rcode: String,
}

/// Most DNS rows the page lists (a real cluster may have many Services).
pub const MAX_DNS_ROWS: usize = 200;

/// What CoreDNS's `kubernetes` plugin answers for the names of each Service of a namespace
/// (or all): `NAME.NS.svc.ZONE` (A), each named port's SRV, and for a headless Service each
/// endpoint's own name (`HOSTNAME.NAME.NS.svc.ZONE`: a StatefulSet's pods by name). At most
/// [`MAX_DNS_ROWS`] rows; the second value is how many were left out.
pub fn predicted_dns(cluster: &Cluster, namespace: Option<&str>) -> (Vec<DnsRow>, usize) {
    let snapshot = DnsSnapshot::from_cluster(cluster);
    let zone = snapshot.zone.clone();
    let mut questions: Vec<(String, RecordType)> = Vec::new();
    for s in snapshot.services.values() {
        if namespace.is_some_and(|n| n != s.namespace) {
            continue;
        }
        let svc = format!("{}.{}.svc.{zone}.", s.name, s.namespace);
        questions.push((svc.clone(), RecordType::A));
        for p in s.ports.iter().filter(|p| !p.name.is_empty()) {
            questions.push((
                format!("_{}._{}.{svc}", p.name, p.protocol.to_lowercase()),
                RecordType::SRV,
            ));
        }
        if s.kind == ServiceKind::Headless {
            let mut seen = std::collections::BTreeSet::new();
            for e in &s.endpoints {
                if seen.insert(e.name.clone()) {
                    questions.push((format!("{}.{svc}", e.name), RecordType::A));
                }
            }
        }
    }
    let left_out = questions.len().saturating_sub(MAX_DNS_ROWS);
    let rows = questions
        .into_iter()
        .take(MAX_DNS_ROWS)
        .map(|(name, qtype)| {
            let answer = Name::from_ascii(&name)
                .map(|q| lab_core::dns::kubernetes::lookup(&snapshot, &q, qtype))
                .ok();
            let (records, rcode) = match answer {
                Some(a) => (
                    a.answers
                        .iter()
                        .map(|r| lab_core::dns::tools::present(&r.data))
                        .collect(),
                    rcode_name(a.rcode),
                ),
                None => (Vec::new(), "FORMERR".to_string()),
            };
            DnsRow {
                name,
                qtype: if qtype == RecordType::SRV { "SRV" } else { "A" },
                records,
                rcode,
            }
        })
        .collect();
    (rows, left_out)
}

fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => other.to_string().to_uppercase(),
    }
}

/// One row of the live view's tables: plain text cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Unique in its table (`namespace/name`).
    pub key: String,
    /// The object's name (the row's `data-name`).
    pub name: String,
    /// The cells, in column order.
    pub cells: Vec<String>,
}

/// The DNS table: question, type, response code, the answer's records one a line; and how
/// many questions were left out (see [`predicted_dns`]).
pub fn dns_rows(cluster: &Cluster, namespace: Option<&str>) -> (Vec<Row>, usize) {
    let (rows, left_out) = predicted_dns(cluster, namespace);
    let rows = rows
        .into_iter()
        .map(|r| Row {
            key: format!("{} {}", r.name, r.qtype),
            name: r.name.clone(),
            cells: vec![r.name, r.qtype.into(), r.rcode, r.records.join("\n")],
        })
        .collect();
    (rows, left_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playground::{Action, Playground};
    use k8s_openapi::api::core::v1::Service;
    use lab_core::proxy::ProxyConfig;

    #[test]
    fn the_base_is_a_path_on_this_origin() {
        let ok = |raw: &str| parse_base(raw).map(|b| b.url("/api/v1/pods"));
        assert_eq!(ok("/"), Ok("/api/v1/pods".into()));
        assert_eq!(ok("%2F"), Ok("/api/v1/pods".into()));
        assert_eq!(ok("/k8s"), Ok("/k8s/api/v1/pods".into()));
        assert_eq!(ok("/k8s/"), Ok("/k8s/api/v1/pods".into()));
        assert_eq!(ok("%2Fk8s%2F"), Ok("/k8s/api/v1/pods".into()));
        assert_eq!(parse_base("/").unwrap().display(), "/");
        assert_eq!(parse_base("/k8s/").unwrap().display(), "/k8s");

        for other in [
            "http://evil.example/",
            "https%3A%2F%2Fevil.example",
            "//evil.example/api",
            "%2F%2Fevil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "HTTP://127.0.0.1:6443",
        ] {
            assert!(
                matches!(parse_base(other), Err(BaseError::OtherHost(_))),
                "{other}: {:?}",
                parse_base(other)
            );
        }
        assert_eq!(parse_base(""), Err(BaseError::Empty));
        assert_eq!(parse_base("k8s"), Err(BaseError::NotAPath("k8s".into())));
        assert!(matches!(
            parse_base("/k8s%3Fx"),
            Err(BaseError::BadCharacter(_))
        ));
        assert!(matches!(
            parse_base("/a+b"),
            Err(BaseError::BadCharacter(_))
        ));
        assert_eq!(parse_base("/%ff"), Err(BaseError::Encoding));
        assert_eq!(parse_base("/%4"), Err(BaseError::Encoding));
        // The refusal says what works, in both languages.
        let en = parse_base("http://x").unwrap_err().message(Lang::En);
        assert!(
            en.contains("?live=/k8s") && en.contains("another host"),
            "{en}"
        );
        let zh = parse_base("http://x").unwrap_err().message(Lang::ZhCn);
        assert!(zh.contains("?live=/k8s") && zh != en, "{zh}");
    }

    #[test]
    fn the_query_carries_the_live_base() {
        let q = crate::share::parse_query("?live=%2Fk8s&lang=en");
        assert_eq!(q.live.as_deref(), Some("%2Fk8s"));
        assert_eq!(
            parse_base(q.live.as_deref().unwrap()).unwrap().display(),
            "/k8s"
        );
        assert_eq!(crate::share::parse_query("?live").live.as_deref(), Some(""));
        assert_eq!(crate::share::parse_query("?s=x").live, None);
    }

    /// The page's own cluster with the chapter applied.
    fn served() -> Cluster {
        let mut p = Playground::new(Lang::En);
        p.reduce(Action::ApplyChapter);
        p.cluster
    }

    /// `kubectl get KIND -A -o json` of `cluster`, as the apiserver sends it: items without
    /// apiVersion and kind.
    fn list_json(cluster: &Cluster, kind: Kind) -> String {
        let items: Vec<serde_json::Value> = cluster
            .list(kind, None)
            .map(|o| {
                let mut v = o.to_json();
                let m = v.as_object_mut().unwrap();
                m.remove("apiVersion");
                m.remove("kind");
                v
            })
            .collect();
        serde_json::json!({
            "kind": format!("{}List", kind.name()),
            "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": cluster.resource_version().to_string()},
            "items": items,
        })
        .to_string()
    }

    fn read(cluster: &Cluster) -> Vec<Object> {
        let mut objects = Vec::new();
        for (kind, _) in LISTS {
            objects.extend(decode_list(kind, &list_json(cluster, kind)).unwrap());
        }
        let cm = cluster
            .get(Kind::ConfigMap, "kube-system", "kube-proxy")
            .unwrap()
            .to_json()
            .to_string();
        objects.push(decode_config_map(&cm).unwrap());
        objects
    }

    #[test]
    fn lists_decode_and_predict_what_the_cluster_itself_renders() {
        let c = served();
        let objects = read(&c);
        assert_eq!(
            objects.iter().filter(|o| o.kind() == Kind::Pod).count(),
            c.list(Kind::Pod, None).count()
        );
        let seen = observe(objects.clone());
        // Nodes, their IPs and pod ranges come from the Node objects.
        assert_eq!(seen.config().nodes, c.config().nodes);
        assert_eq!(ProxyConfig::from_cluster(&seen).mode, ProxyMode::Iptables);
        // The observed cluster renders the same node rules as the cluster it was read from, in
        // the mode its ConfigMap selects.
        for mode in [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables] {
            let mut p = Playground::new(Lang::En);
            p.reduce(Action::ApplyChapter);
            p.reduce(Action::SetProxyMode(mode));
            let seen = observe(read(&p.cluster));
            assert_eq!(ProxyConfig::from_cluster(&seen).mode, mode);
            let want = crate::rules::node_rules(&p.cluster, "kind-worker", mode).unwrap();
            let got = crate::rules::node_rules(&seen, "kind-worker", mode);
            assert_eq!(got.as_deref(), Ok(want.as_str()), "{mode:?}");
        }
        assert_eq!(default_node(seen.config()).as_deref(), Some("kind-worker"));
        // Versions: the same read twice is the same; a scale is not.
        assert_eq!(versions(&objects), versions(&read(&c)));
        let mut scaled = c.clone();
        scaled
            .scale(Kind::Deployment, "default", "httpd", 4)
            .unwrap();
        scaled.settle();
        assert_ne!(versions(&objects), versions(&read(&scaled)));
        // A list of another kind is refused, not misread.
        assert!(decode_list(Kind::Pod, &list_json(&c, Kind::Service)).is_err());
        assert!(decode_list(Kind::Pod, "{").is_err());
    }

    #[test]
    fn a_read_that_changes_nothing_renders_nothing() {
        let source = served();
        let mut p = Playground::live(Lang::En, parse_base("/").unwrap());
        assert_eq!(p.version(), 0);
        assert_eq!(p.map().pods().count(), 0, "nothing read yet");
        assert!(p.follow(Event::Read(Ok(read(&source)))));
        assert_eq!(p.version(), 1);
        assert_eq!(p.map().pods().count(), 4, "the chapter's pods in default");
        assert!(
            !p.follow(Event::Read(Ok(read(&source)))),
            "the same objects"
        );
        // An error is shown once; the objects stay; the next good read clears it.
        let down = FetchError::Unreachable {
            url: "/api/v1/namespaces".into(),
            detail: "TypeError: Failed to fetch".into(),
        };
        assert!(p.follow(Event::Read(Err(down.clone()))));
        assert!(!p.follow(Event::Read(Err(down))));
        assert_eq!(p.map().pods().count(), 4);
        assert!(p.follow(Event::Read(Ok(read(&source)))));
        assert_eq!(p.live.as_ref().unwrap().error, None);
        assert_eq!(p.version(), 1, "the objects did not change");
        // A change (a pod deleted) is a new version.
        let mut changed = source.clone();
        let pod = p.map().pods().next().unwrap().name.clone();
        changed
            .delete_with_grace(Kind::Pod, "default", &pod, 0)
            .unwrap();
        assert!(p.follow(Event::Read(Ok(read(&changed)))));
        assert_eq!(p.version(), 2);
        assert!(p.map().pods().all(|x| x.name != pod));
        // The namespace picked, the sim's answer, the node's rules: each once.
        assert!(p.follow(Event::Namespace(None)));
        assert!(p.map().pods().any(|x| x.namespace == "kube-system"));
        assert!(!p.follow(Event::Namespace(None)));
        assert!(p.follow(Event::Sim(Sim::Yes)));
        assert!(!p.follow(Event::Sim(Sim::Yes)));
        let found = Found {
            node: "kind-worker".into(),
            mode: ProxyMode::Iptables,
            result: Ok(NodeExec::default()),
        };
        assert!(p.follow(Event::Found(found.clone())));
        assert!(!p.follow(Event::Found(found)));
        let f = p.live.as_ref().unwrap();
        assert!(f.found_for("kind-worker", ProxyMode::Iptables).is_some());
        assert!(f.found_for("kind-worker", ProxyMode::Ipvs).is_none());
        // Nothing the learner does changes the cluster read.
        let before = p.map();
        p.reduce(Action::ApplyChapter);
        p.reduce(Action::Scale(7));
        p.reduce(Action::Run("kubectl delete pod --all".into()));
        assert_eq!(p.map(), before);
        assert!(p.log.is_empty());
        p.reduce(Action::SetLang(Lang::ZhCn));
        assert_eq!(p.lang, Lang::ZhCn);
        // The playground proper ignores live events.
        assert!(!Playground::new(Lang::En).follow(Event::Sim(Sim::Yes)));
    }

    #[test]
    fn http_errors_carry_the_apiservers_message() {
        let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"services is forbidden: User \"jane\" cannot list resource \"services\" in API group \"\" at the cluster scope","reason":"Forbidden","code":403}"#;
        let e = FetchError::http("/k8s/api/v1/services", 403, "Forbidden", status);
        assert_eq!(
            e.message(Lang::En),
            "GET /k8s/api/v1/services: 403 Forbidden: services is forbidden: User \"jane\" cannot list resource \"services\" in API group \"\" at the cluster scope"
        );
        // kubectl proxy's own refusal is plain text.
        let e = FetchError::http("/k8s/svclab/v1/info", 403, "Forbidden", "Forbidden\n");
        assert_eq!(
            e.message(Lang::En),
            "GET /k8s/svclab/v1/info: 403 Forbidden: Forbidden"
        );
        let e = FetchError::Unreachable {
            url: "/api/v1/pods".into(),
            detail: "TypeError: Failed to fetch".into(),
        };
        assert!(e.message(Lang::En).contains("cannot reach"));
        assert!(e.message(Lang::ZhCn).contains("无法连接"));
    }

    #[test]
    fn the_sims_node_endpoint() {
        let base = parse_base("/k8s").unwrap();
        assert_eq!(
            exec_url(&base, "kind-worker", &["ipvsadm", "-Ln"]),
            "/k8s/svclab/v1/nodes/kind-worker/exec?command=ipvsadm&command=-Ln"
        );
        assert_eq!(
            exec_url(
                &parse_base("/").unwrap(),
                "a b",
                &["nft", "list", "table", "ip", "kube-proxy"]
            ),
            "/svclab/v1/nodes/a%20b/exec?command=nft&command=list&command=table&command=ip&command=kube-proxy"
        );
        let out = decode_exec(
            r#"{"kind":"NodeExecResult","apiVersion":"svclab/v1","node":"kind-worker","command":["iptables-save"],"stdout":"*nat\n","stderr":"","exitCode":0}"#,
        )
        .unwrap();
        assert_eq!(out.stdout, "*nat\n");
        assert_eq!(out.exit_code, 0);
        assert!(is_sim_info(
            r#"{"apiVersion":"svclab/v1","kind":"SvclabInfo","sim":true}"#
        ));
        assert!(!is_sim_info(r#"{"kind":"Status","code":404}"#));
        assert!(!is_sim_info("<html>"));
        assert!(compare_rules(ProxyMode::Iptables, "a\n", "a\n").identical);
        let d = compare_rules(ProxyMode::Iptables, "a\nb\n", "b\nc\n");
        assert!(!d.identical);
        assert_eq!(d.details, ["- a", "+ c"]);
        // Order, blanks, comments and counters do not count.
        let save = "*nat\n:PREROUTING ACCEPT [0:0]\n-A X  -j Y\n-A X -j Z\nCOMMIT\n";
        let real = "# Generated by iptables-save v1.8.9\n*nat\n:PREROUTING ACCEPT [12:720]\n-A X -j Z\n-A X -j Y\nCOMMIT\n# Completed\n";
        assert!(compare_rules(ProxyMode::Iptables, save, real).identical);
        let ipvs = "TCP  10.96.0.1:443 rr\n  -> 172.18.0.2:6443 Masq 1 0 0\n";
        let busy = "TCP  10.96.0.1:443 rr\n  -> 172.18.0.2:6443 Masq 1 3 9\n";
        assert!(compare_rules(ProxyMode::Ipvs, ipvs, busy).identical);
        let many: String = (0..30).map(|i| format!("-A X -j R{i}\n")).collect();
        let d = compare_rules(ProxyMode::Iptables, &many, "");
        assert_eq!(d.details.len(), MAX_DETAILS + 1);
        assert_eq!(d.details.last().unwrap(), "… (+10)");
    }

    #[test]
    fn predicted_dns_names_services_ports_and_headless_pods() {
        let mut c = served();
        c.apply_manifests(
            "apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: default}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: nginx}]}
",
        )
        .unwrap();
        c.settle();
        let seen = observe(read(&c));
        let (rows, left_out) = predicted_dns(&seen, Some("default"));
        assert_eq!(left_out, 0);
        let row = |name: &str, qtype: &str| {
            rows.iter()
                .find(|r| r.name == name && r.qtype == qtype)
                .unwrap_or_else(|| panic!("{name} {qtype}: {rows:#?}"))
        };
        let svc = seen
            .get_typed::<Service>("default", "httpd-svc")
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .cluster_ip
            .clone()
            .unwrap();
        let a = row("httpd-svc.default.svc.cluster.local.", "A");
        assert_eq!(
            (a.records.clone(), a.rcode.as_str()),
            (vec![svc], "NOERROR")
        );
        let web = row("web.default.svc.cluster.local.", "A");
        assert_eq!(web.records.len(), 2, "the headless Service's two pods");
        let pod = row("web-0.web.default.svc.cluster.local.", "A");
        assert_eq!(pod.records.len(), 1);
        let srv = row("_http._tcp.web.default.svc.cluster.local.", "SRV");
        assert_eq!(srv.records.len(), 2);
        assert!(srv.records[0].starts_with("0 50 80 "), "{:?}", srv.records);
        assert!(rows.iter().all(|r| !r.name.contains(".kube-system.")));
        let (all, _) = predicted_dns(&seen, None);
        assert!(
            all.iter()
                .any(|r| r.name == "kube-dns.kube-system.svc.cluster.local.")
        );
    }

    #[test]
    fn the_dns_table_and_namespaces() {
        let seen = observe(read(&served()));
        assert!(namespaces(&seen).contains(&"kube-system".to_string()));
        let svc_ip = seen
            .get_typed::<Service>("default", "httpd-svc")
            .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
            .unwrap();
        let (dns, _) = dns_rows(&seen, Some("default"));
        assert!(
            dns.iter()
                .any(|r| r.cells[0] == "httpd-svc.default.svc.cluster.local."
                    && r.cells[2] == "NOERROR"
                    && r.cells[3] == svc_ip)
        );
    }
}
