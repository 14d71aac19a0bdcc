//! Name lookups, predicted against a pod's real ones: the chapter's lookups (each Service by its
//! short name from the pod's namespace and by its FQDN, `kubernetes.default`, and the stable
//! names of headless Services' endpoints) answered by `lab_core::dns` from the cluster's objects
//! and printed as the probe pod's busybox 1.28 `nslookup` does, next to what that `nslookup`
//! really printed in the pod.

use super::{Cause, CauseKind};
use crate::dns::resolver::ResolvConf;
use crate::dns::tools::{ToolOutput, nslookup_busybox_128};
use crate::dns::{DnsSnapshot, Upstream};
use crate::lab::probe::parse_nslookup;
use crate::lab::{Lang, Text};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::Serialize;
use std::collections::BTreeSet;

/// The most names one comparison looks up (each is an exec in the probe pod).
pub const MAX_LOOKUPS: usize = 60;

/// The cluster domain a pod's resolv.conf implies (`svc.<zone>` in its search list).
pub fn zone_of(conf: &ResolvConf) -> String {
    conf.search
        .iter()
        .find_map(|s| s.strip_prefix("svc."))
        .unwrap_or("cluster.local")
        .trim_end_matches('.')
        .to_string()
}

/// The names to look up from a pod in `namespace`, in a stable order: Services of that namespace
/// by short name, `kubernetes.default`, every Service's FQDN, and each headless Service
/// endpoint's `HOSTNAME.SERVICE.NAMESPACE.svc.ZONE`.
pub fn lookups(
    services: &[Service],
    slices: &[EndpointSlice],
    namespace: &str,
    zone: &str,
) -> Vec<String> {
    let mut sorted: Vec<(&str, &str, &Service)> = services
        .iter()
        .filter_map(|s| {
            Some((
                s.metadata.namespace.as_deref()?,
                s.metadata.name.as_deref()?,
                s,
            ))
        })
        .collect();
    sorted.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut out: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut add = |n: String, out: &mut Vec<String>| {
        if seen.insert(n.clone()) {
            out.push(n);
        }
    };
    for (ns, name, _) in &sorted {
        if *ns == namespace {
            add(name.to_string(), &mut out);
        }
    }
    if sorted
        .iter()
        .any(|(ns, n, _)| (*ns, *n) == ("default", "kubernetes"))
    {
        add("kubernetes.default".into(), &mut out);
    }
    for (ns, name, _) in &sorted {
        add(format!("{name}.{ns}.svc.{zone}"), &mut out);
    }
    for (ns, name, svc) in &sorted {
        let headless = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None");
        if !headless {
            continue;
        }
        let mut hosts: BTreeSet<&str> = BTreeSet::new();
        for s in slices {
            let owned = s.metadata.namespace.as_deref() == Some(ns)
                && s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(crate::controllers::endpointslice::LABEL_SERVICE_NAME))
                    .map(String::as_str)
                    == Some(name);
            if owned {
                hosts.extend(s.endpoints.iter().filter_map(|e| e.hostname.as_deref()));
            }
        }
        for h in hosts {
            add(format!("{h}.{name}.{ns}.svc.{zone}"), &mut out);
        }
    }
    out.truncate(MAX_LOOKUPS);
    out
}

/// The plugin's view of a cluster's objects, for the zone `zone` (no simulated upstream: only
/// cluster names are compared).
pub fn snapshot(
    zone: &str,
    namespaces: &[Namespace],
    services: &[Service],
    slices: &[EndpointSlice],
    pods: &[Pod],
) -> DnsSnapshot {
    DnsSnapshot::from_objects(
        zone,
        namespaces,
        services,
        slices,
        pods.iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some("kube-system")),
        Upstream::default(),
    )
}

/// What busybox 1.28's `nslookup NAME` prints in a pod with this resolv.conf.
pub fn predict(snapshot: &DnsSnapshot, conf: &ResolvConf, name: &str) -> ToolOutput {
    nslookup_busybox_128(snapshot, conf, &[name]).unwrap_or_else(|e| ToolOutput {
        stderr: e.to_string(),
        exit_code: 1,
        ..ToolOutput::default()
    })
}

/// An nslookup answer, as compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// The addresses, sorted.
    pub addresses: Vec<String>,
    /// The names printed beside them, sorted.
    pub names: Vec<String>,
    /// nslookup's exit code.
    pub exit_code: i32,
    /// The text it printed.
    pub stdout: String,
}

impl Answer {
    /// Reads an nslookup output.
    pub fn from_output(stdout: &str, exit_code: i32) -> Answer {
        // The server block is the same for every name; only the answer is compared.
        let body = stdout.split_once("\n\n").map_or(stdout, |(_, b)| b);
        let parsed = parse_nslookup(body);
        let mut addresses = parsed.addresses;
        addresses.sort();
        addresses.dedup();
        let mut names = parsed.names;
        names.sort();
        names.dedup();
        Answer {
            addresses,
            names,
            exit_code,
            stdout: stdout.to_string(),
        }
    }

    fn brief(&self, lang: Lang) -> String {
        if self.exit_code != 0 && self.addresses.is_empty() {
            return match lang {
                Lang::En => format!("no answer (exit {})", self.exit_code),
                Lang::ZhCn => format!("没有解析结果（退出码 {}）", self.exit_code),
            };
        }
        self.addresses.join(", ")
    }
}

/// One name's comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LookupReport {
    /// The name looked up.
    pub name: String,
    /// What `lab_core::dns` predicts.
    pub predicted: Answer,
    /// What the pod's nslookup printed.
    pub found: Answer,
    /// The likely cause when they differ.
    pub cause: Option<Cause>,
}

impl LookupReport {
    /// Whether the answers agree (addresses, names and success; the order of the addresses is
    /// the DNS server's and does not count).
    pub fn identical(&self) -> bool {
        self.cause.is_none()
    }
}

/// Compares one lookup.
pub fn compare(
    name: &str,
    predicted: &ToolOutput,
    found_stdout: &str,
    found_exit: i32,
) -> LookupReport {
    let p = Answer::from_output(&predicted.stdout, predicted.exit_code);
    let f = Answer::from_output(found_stdout, found_exit);
    let same = (p.exit_code == 0) == (f.exit_code == 0)
        && p.addresses == f.addresses
        && p.names == f.names;
    let cause = (!same).then(|| {
        let (en, zh) = if p.exit_code == 0 && f.addresses.is_empty() {
            (
                format!(
                    "the pod got no answer for {name}: CoreDNS has not seen the Service yet (its \
                     informer lags a moment behind the apiserver: look again), or the pod's \
                     resolv.conf or CoreDNS's configuration (kubectl -n kube-system get configmap \
                     coredns -o yaml) differs from kubeadm's"
                ),
                format!(
                    "Pod 没有得到 {name} 的解析结果：CoreDNS 还没看到这个 Service（它的 informer 会比 \
                     apiserver 慢一点，请再看一次），或者 Pod 的 resolv.conf、CoreDNS 的配置\
                     （kubectl -n kube-system get configmap coredns -o yaml）和 kubeadm 的默认不同"
                ),
            )
        } else if p.exit_code != 0 && !f.addresses.is_empty() {
            (
                format!(
                    "the pod resolved {name}, which the objects do not explain: a record from \
                     outside the kubernetes plugin (a CoreDNS hosts or rewrite rule, or the \
                     upstream resolver), or a Service deleted a moment ago"
                ),
                format!(
                    "Pod 解析出了 {name}，但集群对象解释不了：这条记录来自 kubernetes 插件之外\
                     （CoreDNS 的 hosts 或 rewrite 规则，或上游 DNS），或者 Service 刚刚被删除"
                ),
            )
        } else {
            (
                "the answers differ: a stale view (CoreDNS follows EndpointSlice changes a \
                 moment later: look again), or the pod's search list differs \
                 (cat /etc/resolv.conf in the pod)"
                    .to_string(),
                "解析结果不同：视图滞后（CoreDNS 会稍晚才跟上 EndpointSlice 的变化，请再看一次），\
                 或者 Pod 的搜索列表不同（在 Pod 里 cat /etc/resolv.conf）"
                    .to_string(),
            )
        };
        Cause {
            kind: CauseKind::StaleSync,
            text: Text::new(zh, en),
        }
    });
    LookupReport {
        name: name.to_string(),
        predicted: p,
        found: f,
        cause,
    }
}

/// The DNS part of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsReport {
    /// The pod the lookups ran in (`namespace/name`).
    pub pod: String,
    /// Its `/etc/resolv.conf`, as read in the pod.
    pub resolv_conf: String,
    /// Each name.
    pub lookups: Vec<LookupReport>,
}

impl DnsReport {
    /// How many lookups differ.
    pub fn mismatch_count(&self) -> usize {
        self.lookups.iter().filter(|l| !l.identical()).count()
    }

    /// The report as text.
    pub fn text(&self, lang: Lang) -> String {
        let zh = lang == Lang::ZhCn;
        let mut out = if zh {
            format!("DNS：在 {} 里运行 nslookup（busybox 1.28）\n", self.pod)
        } else {
            format!("DNS: nslookup (busybox 1.28) in {}\n", self.pod)
        };
        for l in &self.lookups {
            match &l.cause {
                None => out.push_str(&format!("  ✓ {} → {}\n", l.name, l.found.brief(lang))),
                Some(c) => {
                    out.push_str(&format!("  ✗ {}\n", l.name));
                    out.push_str(&super::predicted_found(
                        lang,
                        &l.predicted.brief(lang),
                        &l.found.brief(lang),
                    ));
                    out.push_str(&super::cause_line(lang, &c.text, 1));
                }
            }
        }
        out
    }
}
