//! Labs: the exercises in `labs/<id>/lab.yaml` and the engine that grades them.
//!
//! Nothing in Kubernetes is mirrored here: this is svclab's grader, shaped like rustlings'
//! exercise metadata plus a conformance suite. A [`Lab`] is data — titles, goals, steps and hints
//! in zh-CN and English, and declarative [`Check`]s. Grading is a pure function of what a front
//! end gathered, in three steps, so the same code grades kind, the sim and the in-page cluster:
//!
//! 1. [`LabSnapshot`]: the cluster's objects as listed (kube-rs on kind or the sim server, or
//!    straight from a [`Cluster`](crate::Cluster) in the page).
//! 2. [`Lab::probes`]: the commands the checks need run — `nslookup`/`wget` in a pod, a node's
//!    kube-proxy rules, an HTTP request to a nodePort from outside. The front end runs them (an
//!    exec, a node command, a socket) and hands back [`ProbeResult`]s; [`probe::answer`] runs them
//!    on a simulated cluster.
//! 3. [`Lab::evaluate`]: a [`Report`] — each check passed or failed, what it expected, what it
//!    found, the likely cause ("selector app=httpd matches no pod; pods are labelled app=web") and
//!    its hint.

pub mod check;
mod eval;
pub mod probe;
pub mod report;
mod snapshot;

pub use check::{
    Check, CheckKind, DnsCheck, EndpointsCheck, Expect, HttpCheck, ObjectCheck, ProxyCheck, Source,
};
pub use probe::{Probe, ProbeResult, ProbeTarget};
pub use report::{CheckReport, Report, Status};
pub use snapshot::LabSnapshot;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A learner-facing text in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
    /// English.
    pub en: String,
}

impl Text {
    /// A text from its two translations.
    pub fn new(zh_cn: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            zh_cn: zh_cn.into(),
            en: en.into(),
        }
    }

    /// The same words in both languages (names, addresses, rule text).
    pub fn same(text: impl Into<String>) -> Text {
        let t = text.into();
        Text {
            zh_cn: t.clone(),
            en: t,
        }
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::ZhCn => &self.zh_cn,
            Lang::En => &self.en,
        }
    }
}

/// The two languages of every learner-facing text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Lang {
    /// Simplified Chinese (the course's language).
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// `zh-CN`, `zh` (and `zh_CN…` locales) or `en` (and `en_…`).
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        if s == "zh" || s.starts_with("zh-") {
            Some(Lang::ZhCn)
        } else if s == "en" || s.starts_with("en-") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The key used in lab.yaml.
    pub fn key(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// What a lab needs from the cluster it runs on, beyond its manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterNeeds {
    /// The kube-proxy mode the lab's checks end in. kind creates the cluster with it
    /// (`kubeProxyMode` in the kind config: a running kind cluster does not switch cleanly). On
    /// the sim the lab starts in the default mode and the switch is the learner's, by editing
    /// ConfigMap kube-system/kube-proxy as the steps say ([`set_proxy_mode`] does the same for
    /// `solve` and the labs' self-test), so the iptables rules can be seen before the IPVS ones.
    #[serde(default)]
    pub kube_proxy_mode: Option<crate::config::ProxyMode>,
    /// nodePorts kind must map to the host (`extraPortMappings`) for checks from outside.
    #[serde(default)]
    pub node_ports: Vec<u16>,
    /// Names the cluster's upstream DNS resolves (documentation ranges only).
    #[serde(default)]
    pub upstream: BTreeMap<String, Ipv4Addr>,
}

impl ClusterNeeds {
    /// A fresh kind-like cluster's configuration with the lab's upstream DNS names added.
    pub fn cluster_config(&self) -> crate::ClusterConfig {
        let mut config = crate::ClusterConfig::kind();
        for (name, ip) in &self.upstream {
            config
                .dns_upstream
                .insert(name, crate::dns::UpstreamRecord::A(*ip));
        }
        config
    }
}

/// Switches kube-proxy's mode on a simulated cluster as a learner does: the `mode:` line of
/// `config.conf` in ConfigMap kube-system/kube-proxy is edited (added if missing) and the
/// ConfigMap applied; the cluster then settles, so every node's rules are those of `mode`.
pub fn set_proxy_mode(
    cluster: &mut crate::Cluster,
    mode: crate::config::ProxyMode,
) -> Result<(), crate::ApplyError> {
    use k8s_openapi::api::core::v1::ConfigMap;
    let (ns, name) = crate::proxy::KUBE_PROXY_CONFIGMAP;
    let mut cm: ConfigMap = cluster
        .get_typed(ns, name)
        .cloned()
        .unwrap_or_else(|| ConfigMap {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        });
    let conf = cm
        .data
        .get_or_insert_with(BTreeMap::new)
        .entry("config.conf".to_string())
        .or_default();
    let line = format!("mode: {}", mode.as_str());
    let mut replaced = false;
    let mut lines: Vec<String> = conf
        .lines()
        .map(|l| {
            if l.starts_with("mode:") {
                replaced = true;
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !replaced {
        lines.push(line);
    }
    *conf = lines.join("\n") + "\n";
    cluster.apply_manifests(&serde_json::to_string(&cm).expect("a ConfigMap serialises"))?;
    cluster.settle();
    Ok(())
}

/// One exercise: `labs/<id>/lab.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Folder name and CLI argument, e.g. `01-clusterip`.
    pub id: String,
    /// Title.
    pub title: Text,
    /// What the learner will be able to do.
    #[serde(default)]
    pub goals: Vec<Text>,
    /// The instructions, in order.
    #[serde(default)]
    pub steps: Vec<Text>,
    /// Lab-wide hints, shown on request.
    #[serde(default)]
    pub hints: Vec<Text>,
    /// Cluster settings the lab relies on.
    #[serde(default)]
    pub cluster: ClusterNeeds,
    /// The checks, evaluated in order.
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// Why a lab.yaml was rejected, with the field's path (`checks[2].dns.name`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabError {
    /// Not YAML, or not the lab schema.
    #[error("lab.yaml: {0}")]
    Parse(String),
    /// A field holds a value the engine cannot use.
    #[error("lab.yaml: {path}: Invalid value: {message}")]
    Invalid {
        /// Where.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Lab {
    /// Parses and validates a lab.yaml. Unknown fields are errors (a typo in a check must not
    /// silently disable it).
    pub fn from_yaml(text: &str) -> Result<Lab, LabError> {
        let lab: Lab = serde_saphyr::from_str(text).map_err(|e| LabError::Parse(e.to_string()))?;
        lab.validate()?;
        Ok(lab)
    }

    fn validate(&self) -> Result<(), LabError> {
        let invalid = |path: String, message: String| Err(LabError::Invalid { path, message });
        if !crate::validation::is_dns1123_label(&self.id).is_empty() {
            return invalid(
                "id".into(),
                format!(
                    "{:?}: a lab id is a lowercase DNS label such as 01-clusterip",
                    self.id
                ),
            );
        }
        let texts = std::iter::once(("title".to_string(), &self.title))
            .chain(
                self.goals
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (format!("goals[{i}]"), t)),
            )
            .chain(
                self.steps
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (format!("steps[{i}]"), t)),
            )
            .chain(
                self.hints
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (format!("hints[{i}]"), t)),
            );
        let check_texts = self.checks.iter().enumerate().flat_map(|(i, c)| {
            std::iter::once((format!("checks[{i}].title"), &c.title))
                .chain(c.hint.iter().map(move |h| (format!("checks[{i}].hint"), h)))
        });
        for (path, t) in texts.chain(check_texts) {
            for (lang, s) in [("zh-CN", &t.zh_cn), ("en", &t.en)] {
                if s.trim().is_empty() {
                    return invalid(format!("{path}.{lang}"), "empty text".into());
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.checks.iter().enumerate() {
            if !seen.insert(c.id.as_str()) {
                return invalid(
                    format!("checks[{i}].id"),
                    format!("{:?}: duplicate check id", c.id),
                );
            }
            c.validate().map_err(|(path, message)| LabError::Invalid {
                path: if path.is_empty() {
                    format!("checks[{i}]")
                } else {
                    format!("checks[{i}].{path}")
                },
                message,
            })?;
        }
        Ok(())
    }

    /// The check named `id`.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The probes this lab's checks need on a cluster that looks like `snapshot`, in check order.
    /// Checks whose inputs are missing (their Service does not exist yet) need none: they fail
    /// from the snapshot alone.
    pub fn probes(&self, snapshot: &LabSnapshot) -> Vec<Probe> {
        self.checks
            .iter()
            .flat_map(|c| eval::probes_for(c, snapshot))
            .collect()
    }

    /// Grades `snapshot` and the probes' results (see [`Lab::probes`]).
    pub fn evaluate(&self, snapshot: &LabSnapshot, results: &[ProbeResult]) -> Report {
        Report::new(
            &self.id,
            self.checks
                .iter()
                .map(|c| eval::evaluate(c, snapshot, results))
                .collect(),
        )
    }

    /// Whether a check runs from the grader's probe pod (`from: probe`).
    pub fn uses_probe_pod(&self) -> bool {
        self.checks.iter().any(|ch| {
            let from = [
                ch.dns.as_ref().map(|d| &d.from),
                ch.http.as_ref().map(|h| &h.from),
            ];
            from.into_iter().flatten().any(|f| *f == Source::Probe)
        })
    }

    /// Where the learner starts, on a simulated cluster: a fresh cluster with the lab's
    /// upstream names, the probe pod if a check uses it, and the texts of `manifests/` (in file
    /// name order) applied and settled. `Err` names the file that failed.
    pub fn start<'a>(
        &self,
        manifests: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<crate::Cluster, String> {
        let mut c = crate::Cluster::new(self.cluster.cluster_config());
        if self.uses_probe_pod() {
            c.apply_manifests(&probe::probe_pod_manifest())
                .map_err(|e| format!("the probe pod: {e}"))?;
        }
        apply_files(&mut c, "manifests", manifests)?;
        Ok(c)
    }

    /// What the learner does to finish, on a simulated cluster: kube-proxy switched to the
    /// lab's mode (the ConfigMap edit the steps describe), then the texts of `solution/` applied.
    pub fn solve<'a>(
        &self,
        cluster: &mut crate::Cluster,
        solution: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), String> {
        if let Some(mode) = self.cluster.kube_proxy_mode {
            set_proxy_mode(cluster, mode)
                .map_err(|e| format!("switching kube-proxy to {}: {e}", mode.as_str()))?;
        }
        apply_files(cluster, "solution", solution)
    }

    /// Grades a simulated cluster as a front end does: its snapshot, the probes answered by
    /// its shell ([`probe::answer_all`]), then [`Lab::evaluate`].
    pub fn grade(&self, cluster: &crate::Cluster) -> Report {
        let snap = LabSnapshot::from_cluster(cluster);
        let results = probe::answer_all(cluster, &self.probes(&snap));
        self.evaluate(&snap, &results)
    }
}

/// `kubectl apply -f FILE` of each (name, text) in `dir`, then the cluster settles.
fn apply_files<'a>(
    c: &mut crate::Cluster,
    dir: &str,
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), String> {
    for (name, text) in files {
        c.apply_manifests(text)
            .map_err(|e| format!("kubectl apply -f {dir}/{name}: {e}"))?;
    }
    c.settle();
    Ok(())
}

#[cfg(test)]
mod tests;
