//! `lab-runner compare`: a cluster's real kube-proxy rules and DNS answers beside `lab-core`'s
//! prediction from the same cluster's objects.
//!
//! The imperative shell around `lab_core::compare`: it lists the cluster's objects through
//! kube-rs (the grader's [`crate::grade::cluster::snapshot`], every kind, nothing written), builds
//! the kube-proxy snapshot from them as they are — no simulated controller touches them —,
//! reads each chosen node's dumps with a node command, and for `--dns` runs the chapter's
//! lookups with `nslookup` in the grader's probe pod (created on the sim and `kind-*` contexts
//! only, elsewhere with `--allow-context`, exactly as `check` does).
//!
//! Node commands: on the sim `GET /svclab/v1/nodes/{node}/exec`, elsewhere `docker exec NODE …`
//! (kind's nodes are containers) — the grader's node probes — or any `--node-command` template
//! run with `sh -c`, `{node}` and `{command}` filled in (`ip netns exec {node} {command}` for
//! network namespaces, `ssh {node} sudo {command}` for real machines; without `{command}` the
//! template is one fixed command, such as `… nft list ruleset`).
//!
//! A mismatch the core calls a stale sync is looked at again once, two seconds later (kube-proxy
//! applies changes within its 1 s minSyncPeriod); only what stays is reported.
//!
//! Exit codes: 0 identical, 1 mismatches, 2 no comparison could be made.

use crate::EXIT_FAILURE;
use crate::grade::{ClusterArgs, LangArg, cluster, probes};
use crate::node::Connected;
use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use lab_core::compare::dns::{DnsReport, LookupReport};
use lab_core::compare::{CauseKind, Found, NodeReport, Source, compare_node, node_sources};
use lab_core::config::ProxyMode;
use lab_core::dns::resolver::ResolvConf;
use lab_core::lab::probe::PROBE_POD;
use lab_core::lab::{LabSnapshot, Lang, Probe, ProbeResult, ProbeTarget};
use lab_core::proxy::nftables::NftablesOptions;
use lab_core::proxy::{KUBE_PROXY_CONFIGMAP, ProxySnapshot};
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

/// How long a stale-looking result waits for a second look.
const SECOND_LOOK: Duration = Duration::from_secs(2);

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people.
    Text,
    /// JSON (schema svclab.dev/compare-report/v1, docs/compare-report.schema.json).
    Json,
}

/// `lab-runner compare` arguments.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The node to compare (default: kind-worker, or the first node).
    #[arg(long, value_name = "NAME", conflicts_with = "all_nodes")]
    node: Option<String>,
    /// Compare every node.
    #[arg(long)]
    all_nodes: bool,
    /// Also run the chapter's lookups with nslookup in the probe pod and compare the answers.
    #[arg(long)]
    dns: bool,
    /// How to run a command on a node: a `sh -c` template with `{node}` and `{command}` (the
    /// dump's command, e.g. `iptables-save`); default: the sim's node exec, else
    /// `docker exec {node} {command}`. Without `{command}` the template is run as it is.
    #[arg(long, value_name = "TEMPLATE")]
    node_command: Option<String>,
    /// Let `--dns` create the probe pod (default/svclab-probe) on a context that is neither the
    /// sim nor kind-*.
    #[arg(long)]
    allow_context: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    lang: LangArg,
}

/// One full comparison.
struct Outcome {
    nodes: Vec<NodeReport>,
    dns: Option<DnsReport>,
    /// Whether the result is a second look after a stale-looking first one.
    second_look: bool,
}

impl Outcome {
    fn mismatches(&self) -> usize {
        self.nodes
            .iter()
            .map(NodeReport::mismatch_count)
            .sum::<usize>()
            + self.dns.as_ref().map_or(0, DnsReport::mismatch_count)
    }

    fn looks_stale(&self) -> bool {
        self.nodes.iter().any(|n| {
            n.owners
                .iter()
                .flat_map(|o| &o.mismatches)
                .any(|m| m.cause.kind == CauseKind::StaleSync)
        }) || self.dns.as_ref().is_some_and(|d| d.mismatch_count() > 0)
    }
}

/// `lab-runner compare`.
pub fn run(args: &CompareArgs) -> Result<ExitCode> {
    let lang = args.lang.resolve();
    let done = crate::grade::runtime()?.block_on(async {
        let c = crate::node::connect(
            args.cluster.kubeconfig.as_deref(),
            args.cluster.context.as_deref(),
        )
        .await?;
        let mut outcome = compare(&c, args).await?;
        if outcome.looks_stale() {
            tokio::time::sleep(SECOND_LOOK).await;
            outcome = compare(&c, args).await?;
            outcome.second_look = true;
        }
        Ok::<_, String>((c, outcome))
    });
    let (c, outcome) = match done {
        Ok(d) => d,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    };
    let text = match args.format {
        Format::Json => json_text(&c, &outcome),
        Format::Text => text(&c, &outcome, lang),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(ExitCode::from(if outcome.mismatches() == 0 {
        0
    } else {
        1
    }))
}

/// Lists, predicts, reads and diffs once.
async fn compare(c: &Connected, args: &CompareArgs) -> Result<Outcome, String> {
    let mut snap = cluster::snapshot(c).await?;
    let runner = probes::Runner::new(c);
    let mut dns_pod_ready = false;
    if args.dns {
        let may = cluster::may_create_probe_pod(c.is_sim, &c.context, args.allow_context);
        if probes::ensure_probe_pod(c, may).await? {
            snap = cluster::snapshot(c).await?;
        }
        dns_pod_ready = true;
    }
    let proxy = proxy_snapshot(&snap);
    let nodes = chosen_nodes(&proxy, args)?;
    // Only nftables mode writes the Service CIDRs into its rules.
    let nft = if proxy.config.mode == ProxyMode::Nftables {
        service_cidrs(c).await?
    } else {
        NftablesOptions::kind()
    };
    let mut reports = Vec::new();
    for node in &nodes {
        let mut found = Vec::new();
        for source in node_sources(proxy.config.mode) {
            found.push(read_node(c, &runner, args, node, source).await?);
        }
        let report = compare_node(&proxy, &nft, node, &found).map_err(|e| format!("error: {e}"))?;
        reports.push(report);
    }
    let dns = if dns_pod_ready {
        Some(compare_dns(&runner, &snap).await?)
    } else {
        None
    };
    Ok(Outcome {
        nodes: reports,
        dns,
        second_look: false,
    })
}

/// The Service CIDRs nftables mode drops unallocated ClusterIPs of: the cluster's ServiceCIDR
/// objects (networking.k8s.io/v1, GA in 1.33), or kind's 10.96.0.0/16 where the API serves none
/// (the sim, older clusters).
async fn service_cidrs(c: &Connected) -> Result<NftablesOptions, String> {
    use k8s_openapi::api::networking::v1::ServiceCIDR;
    use kube::api::{Api, ListParams};
    let api: Api<ServiceCIDR> = Api::all(c.client.clone());
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let mut cidrs: Vec<lab_core::config::Cidr> = list
                .items
                .iter()
                .flat_map(|s| s.spec.iter().flat_map(|sp| sp.cidrs.iter().flatten()))
                .filter_map(|c| lab_core::config::Cidr::parse(c))
                .collect();
            cidrs.sort_by_key(|c| (u32::from(c.network), c.prefix));
            cidrs.dedup();
            if cidrs.is_empty() {
                Ok(NftablesOptions::kind())
            } else {
                Ok(NftablesOptions {
                    service_cidrs: cidrs,
                })
            }
        }
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 403 => Ok(NftablesOptions::kind()),
        Err(kube::Error::Api(s)) => Err(format!(
            "error: listing servicecidrs.networking.k8s.io: {}",
            crate::node::server_error(&s)
        )),
        Err(e) => Err(c.unreachable(&e)),
    }
}

/// The kube-proxy snapshot of the listed objects, as they are.
fn proxy_snapshot(snap: &LabSnapshot) -> ProxySnapshot {
    ProxySnapshot::from_objects(
        snap.list_typed::<Node>(None).cloned().collect(),
        snap.list_typed::<Service>(None).cloned().collect(),
        snap.list_typed::<EndpointSlice>(None).cloned().collect(),
        snap.get_typed::<ConfigMap>(KUBE_PROXY_CONFIGMAP.0, KUBE_PROXY_CONFIGMAP.1),
    )
}

fn chosen_nodes(proxy: &ProxySnapshot, args: &CompareArgs) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = proxy
        .nodes
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    names.sort();
    if names.is_empty() {
        return Err("error: the cluster lists no Nodes".into());
    }
    if args.all_nodes {
        return Ok(names);
    }
    match &args.node {
        Some(n) if names.contains(n) => Ok(vec![n.clone()]),
        Some(n) => Err(format!(
            "error: nodes {n:?} not found (nodes: {})",
            names.join(", ")
        )),
        None if names.iter().any(|n| n == "kind-worker") => Ok(vec!["kind-worker".into()]),
        None => Ok(vec![names[0].clone()]),
    }
}

/// One dump from a node.
async fn read_node(
    c: &Connected,
    runner: &probes::Runner<'_>,
    args: &CompareArgs,
    node: &str,
    source: Source,
) -> Result<Found, String> {
    let argv = source.argv();
    let (command, result) = match &args.node_command {
        Some(template) => {
            let line = fill(template, node, &argv.join(" "));
            let r = sh(&line).await;
            (line, r)
        }
        None => {
            let command = if c.is_sim {
                format!("lab-runner node exec {node} -- {}", argv.join(" "))
            } else {
                format!("docker exec {node} {}", argv.join(" "))
            };
            let probe = Probe {
                key: format!("{node} {}", argv.join(" ")),
                check: "compare".into(),
                target: ProbeTarget::Node {
                    name: node.to_string(),
                },
                argv: argv.clone(),
            };
            let r = runner.run(&[probe], |_, _| {}).await.pop();
            (command, r.unwrap_or_default())
        }
    };
    if let Some(e) = result.error {
        return Err(format!("error: `{command}`: {e}"));
    }
    if result.exit_code != 0 {
        let stderr = result.stderr.trim();
        return Err(format!(
            "error: `{command}` exited with {}{}{stderr}",
            result.exit_code,
            if stderr.is_empty() { "" } else { ": " }
        ));
    }
    Ok(Found {
        source,
        command,
        stdout: result.stdout,
    })
}

/// The template with `{node}` and `{command}` filled in. A template without `{command}` is one
/// fixed command (`nsenter -t 4242 -n nft list ruleset`), for modes that read one dump.
fn fill(template: &str, node: &str, command: &str) -> String {
    template
        .replace("{node}", node)
        .replace("{command}", command)
}

/// `sh -c LINE`.
async fn sh(line: &str) -> ProbeResult {
    let l = line.to_string();
    let ran = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&l)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await;
    match ran {
        Ok(Ok(o)) => ProbeResult::ran(
            line,
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code().unwrap_or(-1),
        ),
        Ok(Err(e)) => ProbeResult::could_not_run(line, format!("sh: {e}")),
        Err(e) => ProbeResult::could_not_run(line, e.to_string()),
    }
}

/// The chapter's lookups in the probe pod, against the prediction.
async fn compare_dns(runner: &probes::Runner<'_>, snap: &LabSnapshot) -> Result<DnsReport, String> {
    use lab_core::compare::dns;
    let (namespace, name) = PROBE_POD;
    let exec = |argv: Vec<String>| Probe {
        key: argv.join(" "),
        check: "compare".into(),
        target: ProbeTarget::Pod {
            namespace: namespace.into(),
            name: name.into(),
        },
        argv,
    };
    let conf = runner
        .run(
            &[exec(vec!["cat".into(), "/etc/resolv.conf".into()])],
            |_, _| {},
        )
        .await
        .pop()
        .unwrap_or_default();
    if let Some(e) = conf.error {
        return Err(format!(
            "error: reading {namespace}/{name}'s /etc/resolv.conf: {e}"
        ));
    }
    let resolv = ResolvConf::parse(&conf.stdout);
    let zone = dns::zone_of(&resolv);
    let services: Vec<Service> = snap.list_typed::<Service>(None).cloned().collect();
    let slices: Vec<EndpointSlice> = snap.list_typed::<EndpointSlice>(None).cloned().collect();
    let namespaces: Vec<Namespace> = snap.list_typed::<Namespace>(None).cloned().collect();
    let pods: Vec<Pod> = snap.list_typed::<Pod>(None).cloned().collect();
    let dns_snapshot = dns::snapshot(&zone, &namespaces, &services, &slices, &pods);
    let names = dns::lookups(&services, &slices, namespace, &zone);
    let probes: Vec<Probe> = names
        .iter()
        .map(|n| exec(vec!["nslookup".into(), n.clone()]))
        .collect();
    let results = runner.run(&probes, |_, _| {}).await;
    let mut lookups: Vec<LookupReport> = Vec::new();
    for (n, r) in names.iter().zip(results) {
        if let Some(e) = r.error {
            return Err(format!("error: nslookup {n} in {namespace}/{name}: {e}"));
        }
        let predicted = dns::predict(&dns_snapshot, &resolv, n);
        lookups.push(dns::compare(n, &predicted, &r.stdout, r.exit_code));
    }
    Ok(DnsReport {
        pod: format!("{namespace}/{name}"),
        resolv_conf: conf.stdout,
        lookups,
    })
}

fn text(c: &Connected, o: &Outcome, lang: Lang) -> String {
    let zh = lang == Lang::ZhCn;
    let mut out = if c.is_sim {
        match lang {
            Lang::En => format!("context {} ({}, the svclab sim)\n", c.context, c.server),
            Lang::ZhCn => format!("上下文 {}（{}，svclab 模拟集群）\n", c.context, c.server),
        }
    } else {
        match lang {
            Lang::En => format!("context {} ({})\n", c.context, c.server),
            Lang::ZhCn => format!("上下文 {}（{}）\n", c.context, c.server),
        }
    };
    out.push_str(if zh {
        "预测：由 lab-core 根据集群里现有的 Node、Service、EndpointSlice 和 kube-proxy 配置算出\n"
    } else {
        "predicted: by lab-core from the cluster's own Nodes, Services, EndpointSlices and kube-proxy configuration\n"
    });
    if o.second_look {
        out.push_str(if zh {
            "（第一次比较像是同步滞后，2 秒后又比较了一次；下面是第二次的结果）\n"
        } else {
            "(the first look seemed stale; this is a second look, 2 s later)\n"
        });
    }
    for n in &o.nodes {
        out.push('\n');
        out.push_str(&n.text(lang));
    }
    if let Some(d) = &o.dns {
        out.push('\n');
        out.push_str(&d.text(lang));
    }
    out.push('\n');
    let m = o.mismatches();
    let lookups = o.dns.as_ref().map_or(0, |d| d.lookups.len());
    out.push_str(&match (lang, m) {
        (Lang::En, 0) => format!(
            "identical: {} node{}{}\n",
            o.nodes.len(),
            if o.nodes.len() == 1 { "" } else { "s" },
            if lookups > 0 {
                format!(", {lookups} lookups")
            } else {
                String::new()
            }
        ),
        (Lang::ZhCn, 0) => format!(
            "一致：{} 个节点{}\n",
            o.nodes.len(),
            if lookups > 0 {
                format!("，{lookups} 次查询")
            } else {
                String::new()
            }
        ),
        (Lang::En, m) => format!("{m} mismatch{}\n", if m == 1 { "" } else { "es" }),
        (Lang::ZhCn, m) => format!("{m} 处不一致\n"),
    });
    out
}

/// The JSON report, fields in the schema's order (`schema` first).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Json<'a> {
    schema: &'static str,
    context: &'a str,
    server: String,
    sim: bool,
    second_look: bool,
    mismatches: usize,
    nodes: &'a [NodeReport],
    dns: Option<&'a DnsReport>,
}

fn json_text(c: &Connected, o: &Outcome) -> String {
    let value = Json {
        schema: "svclab.dev/compare-report/v1",
        context: &c.context,
        server: c.server.to_string(),
        sim: c.is_sim,
        second_look: o.second_look,
        mismatches: o.mismatches(),
        nodes: &o.nodes,
        dns: o.dns.as_ref(),
    };
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_the_node_and_the_command() {
        assert_eq!(
            fill("docker exec {node} {command}", "kind-worker", "ipvsadm -Ln"),
            "docker exec kind-worker ipvsadm -Ln"
        );
        assert_eq!(
            fill(
                "ip netns exec svclab-{node} {command}",
                "kind-worker",
                "iptables-save"
            ),
            "ip netns exec svclab-kind-worker iptables-save"
        );
        assert_eq!(
            fill(
                "nsenter -t 4242 -n nft list ruleset",
                "kind-worker",
                "nft list table ip kube-proxy"
            ),
            "nsenter -t 4242 -n nft list ruleset"
        );
    }

    #[tokio::test]
    async fn sh_runs_the_line() {
        let r = sh("echo hi; echo oops >&2; exit 3").await;
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.exit_code),
            ("hi\n", "oops\n", 3)
        );
    }
}
