//! `lab-runner`: svclab's command line.
//!
//! Every command runs `lab_core`'s simulated kind cluster in this process, on a virtual clock:
//! nothing touches a real cluster or the network, and the same input prints the same output.
//!
//! - `demo` replays the Service chapter step by step ([`demo`]).
//! - `apply -f FILE…` applies manifests to a fresh simulated cluster and prints what kubectl
//!   would ([`apply`]).
//! - `rules -f FILE…` prints a node's kube-proxy rules in iptables, IPVS or nftables mode, as the
//!   node's own tools would ([`rules`]).
//! - `trace -f FILE… --from … --to IP:PORT [--mode …]` walks one packet through those rules, in
//!   any of the three modes ([`trace`]).
//! - `list`, `show LAB`, `check LAB`, `watch LAB`, `hint LAB [CHECK]`, `reset LAB`, `solve LAB`:
//!   the grader, on the sim or any kube context; `cluster create|delete`: kind for the labs
//!   ([`grade`]).
//! - `compare [--node N|--all-nodes] [--dns]`: a cluster's real kube-proxy rules and DNS
//!   answers against `lab_core::compare`'s prediction from its own objects ([`compare`]).
//!
//! Tables come from `lab_core::printers`, the apiserver's and kubectl's printers ([`get`]).

mod compare;
mod demo;
mod dns_cli;
mod dns_server;
mod dns_zone;
mod get;
mod grade;
mod node;
mod sim;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use lab_core::manifest::parse_manifests;
use lab_core::{Cluster, Kind, Object};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for a rejected manifest, an apiserver error or any other failure.
const EXIT_FAILURE: u8 = 2;

/// svclab: learn Kubernetes Services on a simulated kind cluster.
///
/// Runs an in-process simulation of a three-node kind cluster (kind-control-plane, kind-worker,
/// kind-worker2) on a virtual clock. Nothing real is created, and every run prints the same.
#[derive(Parser, Debug)]
#[command(name = "lab-runner", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay the Service chapter step by step on a simulated cluster.
    ///
    /// Applies the httpd Deployment and the ClusterIP Service httpd-svc, then the NodePort
    /// variant, the headless Service and the client Pod, printing what `kubectl apply` and
    /// `kubectl get` would print after each step, with a short explanation.
    Demo {
        /// Language of the explanations.
        #[arg(long, value_enum, default_value_t = Lang::En)]
        lang: Lang,
        /// Show `kubectl get … -o wide` tables (Pod IPs and nodes, selectors, images).
        #[arg(long)]
        wide: bool,
    },
    /// Apply manifest files to a fresh simulated cluster, like `kubectl apply -f`.
    ///
    /// Prints one line per object (`deployment.apps/httpd created`), then the tables of every
    /// kind present in the default namespace.
    ///
    /// Exits with code 2 if a file cannot be read or decoded (nothing is applied) or if the
    /// apiserver rejects an object (the others are still applied, as kubectl does).
    Apply {
        /// Manifest files (YAML or JSON, several documents allowed), applied in order.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Let virtual time pass until the Pods have started (and are ready) before printing.
        #[arg(long)]
        settle: bool,
        /// Output format: `wide` adds the priority-1 columns, as `kubectl get -o wide`.
        #[arg(short = 'o', long = "output", value_name = "FORMAT", value_parser = ["wide"])]
        output: Option<String>,
    },
    /// Print the rules kube-proxy would load on one node, as the node's tools show them.
    ///
    /// Applies the manifests to a fresh simulated cluster, lets it converge, then renders the
    /// node's kube-proxy state for the chosen mode (`iptables-save` with zeroed counters,
    /// `ipvsadm -Ln`, or `nft list table ip kube-proxy`). Exits with code 2 on bad manifests, a
    /// rejected object, an unknown node or a form that does not fit the mode.
    Rules {
        /// Manifest files (YAML or JSON, several documents allowed), applied in order.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// The node whose rules to print.
        #[arg(long, default_value = "kind-worker")]
        node: String,
        /// kube-proxy mode.
        #[arg(long, value_parser = ["iptables", "ipvs", "nftables"], default_value = "iptables")]
        mode: String,
        /// What to print. iptables: `save` (what `iptables-save` prints, default) or `restore`
        /// (kube-proxy's `iptables-restore` input); ipvs: `ipvsadm` (`ipvsadm -Ln`, default),
        /// `ipvsadm-stats` (`ipvsadm -Ln --stats`), `ipset` (`ipset list`), `ip-addr`
        /// (`ip addr show kube-ipvs0`), or the iptables rules
        /// IPVS mode still writes as `save` or `restore`; nftables: `list`
        /// (`nft list table ip kube-proxy`, default) or `transaction` (what `nft -f` loads).
        #[arg(long, value_parser = ["save", "restore", "ipvsadm", "ipvsadm-stats", "ipset", "ip-addr", "list", "transaction"])]
        form: Option<String>,
    },
    /// Trace one packet through the kube-proxy rules of the node it passes.
    ///
    /// Applies the manifests to a fresh simulated cluster, lets it converge, renders the node's
    /// kube-proxy rules (iptables, IPVS or nftables mode) and walks the packet through them in
    /// netfilter order: one line per rule that matched (or IPVS decision), then where the packet
    /// ends up, with the rules evaluated and hash lookups made. Exits with code 2 on bad input.
    Trace {
        /// Manifest files (YAML or JSON, several documents allowed), applied in order.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Where the packet comes from: `pod/NAME[.NAMESPACE]`, `node/NAME` or `external`
        /// (a client outside the cluster, arriving at the node that owns the destination IP,
        /// or at kind-worker).
        #[arg(long, value_name = "SOURCE")]
        from: String,
        /// Destination `IP:PORT`.
        #[arg(long, value_name = "IP:PORT")]
        to: String,
        /// Layer-4 protocol.
        #[arg(long, value_parser = ["tcp", "udp", "sctp"], default_value = "tcp")]
        proto: String,
        /// Seed for kube-proxy's random endpoint choice; `--all` prints every branch instead.
        #[arg(long, default_value_t = 1, conflicts_with = "all")]
        seed: u64,
        /// Print every possible outcome with its probability.
        #[arg(long)]
        all: bool,
        /// kube-proxy mode whose rules to walk (default: the mode the cluster's kube-proxy
        /// ConfigMap selects, iptables on a fresh kind cluster).
        #[arg(long, value_parser = ["iptables", "ipvs", "nftables"])]
        mode: Option<String>,
    },
    /// Look a name up from a pod, as the pod's tools print it.
    ///
    /// Applies the manifests to a fresh simulated cluster, lets it converge, then prints what
    /// `nslookup NAME` (the pod image's own: busybox 1.28, busybox 1.36 or BIND), `dig`,
    /// `dig +short` or `host` print in that pod, or with `--format walk` every query its C
    /// library sends (search list, ndots) with each answer. Exits with the tool's status, or 2
    /// on bad manifests, an unknown pod or an unknown record type.
    Dns(dns_cli::DnsArgs),
    /// Serve the cluster's DNS on 127.0.0.1 (UDP and TCP), as CoreDNS answers it.
    ///
    /// Applies the manifests to a fresh simulated cluster, lets it converge, then answers DNS
    /// queries with the records CoreDNS's kubernetes plugin would serve (names outside
    /// cluster.local from the simulated upstream). Prints `DNS listening on 127.0.0.1:PORT
    /// (UDP+TCP)` and serves until Ctrl-C; SIGHUP applies the files again and the answers follow.
    /// Exits with code 2 on bad manifests or a taken port.
    DnsServer(dns_server::ServerArgs),
    /// Write the zone `dns-server` serves as static zone files (for a reference server).
    DnsZone(dns_zone::ZoneArgs),
    /// Start the embedded simulated cluster for the real `kubectl`.
    ///
    /// Serves the Kubernetes API on 127.0.0.1 (default port 6443) and the cluster DNS (default
    /// 10053), writes `$SVCLAB_HOME/kubeconfig` (default `~/.local/state/svclab`) and prints the
    /// `export KUBECONFIG=…` line. The cluster is saved to `$SVCLAB_HOME/state.json` after each
    /// change and restored from it on the next start. Runs until Ctrl-C or SIGTERM.
    Sim(sim::SimArgs),
    /// Run a command on a node of the cluster: `node exec NODE -- iptables-save`.
    ///
    /// Reads a node's kube-proxy rules on the running sim (`iptables-save`, `ipvsadm -Ln`,
    /// `ipset list`, `ip addr show kube-ipvs0`, `nft list table ip kube-proxy`) through the
    /// Kubernetes client, as `docker exec NODE …` does on kind.
    Node(node::NodeArgs),
    /// List the labs (id, title, number of checks).
    List(grade::ListArgs),
    /// Show a lab's goals and step-by-step instructions.
    Show(grade::ShowArgs),
    /// Grade a lab on the cluster (the sim by default, or any kube context).
    ///
    /// Lists the cluster's objects, runs the probes the checks need (an exec in a pod, a node's
    /// kube-proxy rules, a request to a nodePort) and prints each check passed or failed, with
    /// what it expected, what it found and the likely cause. Only reads, except for the
    /// grader's probe pod default/svclab-probe, created on the sim or a kind-* context (else only
    /// with --allow-context). Exit 0 all passed, 1 some failed, 2 could not check.
    Check(grade::CheckArgs),
    /// Grade a lab again on every change of the cluster, until every check passes.
    ///
    /// Redraws the report of `check` whenever an object changes (Events aside); exits 0 once all
    /// checks pass, with the last report's code on Ctrl-C, 2 if the cluster goes away.
    Watch(grade::GradeArgs),
    /// Print a lab's hints, or one check's.
    Hint(grade::HintArgs),
    /// Put a lab back to its starting state (sim only unless --force).
    ///
    /// Deletes the objects the lab's manifests/ and solution/ name (never one in kube-system),
    /// restores kind's kube-proxy configuration (iptables) if the lab changes the mode, then
    /// applies manifests/ (server-side apply).
    Reset(grade::ChangeArgs),
    /// Apply a lab's solution/ (sim only unless --force).
    Solve(grade::ChangeArgs),
    /// Create or delete a real kind cluster shaped for the labs (wraps the kind CLI).
    Cluster(grade::KindArgs),
    /// Compare a cluster's real kube-proxy rules (and DNS answers) with lab-core's prediction.
    ///
    /// Lists the cluster's Nodes, Services, EndpointSlices, Pods and the kube-proxy ConfigMap,
    /// predicts each node's rules from them as they are, reads the node's own dump
    /// (`iptables-save`; `ipvsadm -Ln`, `ipset list` and `iptables-save`; or
    /// `nft list table ip kube-proxy`, per the mode) and diffs them per Service port: chains,
    /// rules, probabilities, DNAT targets. Other programs' chains (Docker, kindnet, kubelet) and
    /// kube-proxy chains without a predicted counterpart are listed apart. Each mismatch says
    /// what was predicted, what was found and the likely cause. With --dns, also compares the
    /// chapter's lookups from the probe pod. Exit 0 identical, 1 mismatches, 2 could not compare.
    Compare(compare::CompareArgs),
}

/// The language of explanations; `zh` is accepted for `zh-CN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// English.
    #[value(name = "en")]
    En,
    /// Simplified Chinese.
    #[value(name = "zh-CN", alias = "zh")]
    ZhCn,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo { lang, wide } => {
            let text = demo::run(lang, wide)?;
            print_stdout(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Apply {
            files,
            settle,
            output,
        } => apply(&files, settle, output.as_deref() == Some("wide")),
        Command::Rules {
            files,
            node,
            mode,
            form,
        } => rules(&files, &node, &mode, form.as_deref()),
        Command::Trace {
            files,
            from,
            to,
            proto,
            seed,
            all,
            mode,
        } => trace(&files, &from, &to, &proto, seed, all, mode.as_deref()),
        Command::Dns(args) => dns_cli::run(&args),
        Command::DnsServer(args) => dns_server::run(&args),
        Command::DnsZone(args) => dns_zone::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Node(args) => node::run(&args),
        Command::List(args) => grade::list(&args),
        Command::Show(args) => grade::show(&args),
        Command::Check(args) => grade::check(&args),
        Command::Watch(args) => grade::watch(&args),
        Command::Hint(args) => grade::hint(&args),
        Command::Reset(args) => grade::change(&args, grade::Change::Reset),
        Command::Solve(args) => grade::change(&args, grade::Change::Solve),
        Command::Cluster(args) => grade::kind_cluster(&args),
        Command::Compare(args) => compare::run(&args),
    }
}

/// `lab-runner rules -f FILE…`.
fn rules(files: &[PathBuf], node: &str, mode: &str, form: Option<&str>) -> Result<ExitCode> {
    use lab_core::proxy::{iptables, ipvs, nftables};
    let form = form.unwrap_or(match mode {
        "ipvs" => "ipvsadm",
        "nftables" => "list",
        _ => "save",
    });
    let valid: &[&str] = match mode {
        "ipvs" => &[
            "ipvsadm",
            "ipvsadm-stats",
            "ipset",
            "ip-addr",
            "save",
            "restore",
        ],
        "nftables" => &["list", "transaction"],
        _ => &["save", "restore"],
    };
    if !valid.contains(&form) {
        eprintln!(
            "error: --form {form} does not apply to --mode {mode} (choose one of: {})",
            valid.join(", ")
        );
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    let (mut cluster, _applied) = match load(files)? {
        Loaded::Ok(cluster, applied) => (cluster, applied),
        Loaded::Failed(code) => return Ok(code),
    };
    cluster.settle();
    let snapshot = lab_core::proxy::ProxySnapshot::from_cluster(&cluster);
    let rendered = match (mode, form) {
        ("ipvs", "ipvsadm") => ipvs::render_ipvsadm(&snapshot, node),
        ("ipvs", "ipvsadm-stats") => ipvs::render_ipvsadm_stats(&snapshot, node),
        ("ipvs", "ipset") => ipvs::render_ipset_list(&snapshot, node),
        ("ipvs", "save") => ipvs::render_iptables_save(&snapshot, node),
        ("ipvs", "restore") => ipvs::render_iptables_restore(&snapshot, node),
        ("ipvs", _) => ipvs::render_ip_addr(&snapshot, node),
        ("nftables", f) => nftables::render(
            &snapshot,
            node,
            &nftables::NftablesOptions::for_cluster(&cluster),
        )
        .map(|r| {
            if f == "transaction" {
                r.transaction_text()
            } else {
                r.list_text()
            }
        }),
        (_, "restore") => iptables::render_restore(&snapshot, node),
        _ => iptables::render_save(&snapshot, node),
    };
    match rendered {
        Ok(text) => {
            print_stdout(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let nodes: Vec<String> = cluster
                .list(Kind::Node, None)
                .map(|n| n.name().to_string())
                .collect();
            eprintln!("error: {e} (nodes: {})", nodes.join(", "));
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// `lab-runner trace -f FILE… --from SOURCE --to IP:PORT`.
fn trace(
    files: &[PathBuf],
    from: &str,
    to: &str,
    proto: &str,
    seed: u64,
    all: bool,
    mode: Option<&str>,
) -> Result<ExitCode> {
    use lab_core::proxy::Protocol;
    use lab_core::trace::{Choice, Packet, ProxyMode, Source, TraceOutcome, Tracer};
    let fail = |msg: String| -> Result<ExitCode> {
        eprintln!("error: {msg}");
        Ok(ExitCode::from(EXIT_FAILURE))
    };
    let destination = match to.parse::<std::net::SocketAddrV4>() {
        Ok(d) => d,
        // `NAME:PORT` from a pod: resolve the name the way the pod does, then connect.
        Err(_) => match to.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            Some((host, Ok(port))) if !host.is_empty() && from.starts_with("pod/") => {
                return trace_name(files, from, host, port, proto, seed, all, mode);
            }
            _ => {
                return fail(format!(
                    "--to {to:?} is not IP:PORT (for example 10.96.0.10:53), or NAME:PORT from a pod (httpd-svc:8080)"
                ));
            }
        },
    };
    let protocol = match proto {
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => Protocol::Tcp,
    };
    let (mut cluster, _applied) = match load(files)? {
        Loaded::Ok(cluster, applied) => (cluster, applied),
        Loaded::Failed(code) => return Ok(code),
    };
    cluster.settle();
    let source = if let Some(pod) = from.strip_prefix("pod/") {
        let (name, namespace) = pod.split_once('.').unwrap_or((pod, "default"));
        Source::Pod {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    } else if let Some(node) = from.strip_prefix("node/") {
        Source::Node(node.to_string())
    } else if from == "external" {
        // The client reaches the node whose address it targets (a NodePort), else kind-worker.
        let via = cluster
            .list_typed::<k8s_openapi::api::core::v1::Node>(None)
            .find(|n| {
                n.status
                    .iter()
                    .flat_map(|s| s.addresses.iter().flatten())
                    .any(|a| a.address == destination.ip().to_string())
            })
            .and_then(|n| n.metadata.name.clone())
            .unwrap_or_else(|| "kind-worker".to_string());
        Source::External { via_node: via }
    } else {
        return fail(format!(
            "--from {from:?}: use pod/NAME[.NAMESPACE], node/NAME or external"
        ));
    };
    let packet = Packet {
        source,
        destination,
        protocol,
    };
    let choice = if all {
        Choice::AllBranches
    } else {
        Choice::Seed(seed)
    };
    let mut tracer = Tracer::from_cluster(&cluster);
    match mode {
        Some("ipvs") => tracer = tracer.with_mode(ProxyMode::Ipvs),
        Some("nftables") => tracer = tracer.with_mode(ProxyMode::Nftables),
        Some(_) => tracer = tracer.with_mode(ProxyMode::Iptables),
        None => {}
    }
    let outcome = match tracer.trace(&packet, choice) {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    let mut out = String::new();
    match outcome {
        TraceOutcome::Single(t) => out.push_str(&render_trace(&t)),
        TraceOutcome::Branches(branches) => {
            for (i, b) in branches.iter().enumerate() {
                out.push_str(&format!(
                    "## branch {} of {}: probability {:.4}\n",
                    i + 1,
                    branches.len(),
                    b.probability
                ));
                out.push_str(&render_trace(&b.trace));
                out.push('\n');
            }
        }
    }
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `lab-runner trace --from pod/P --to NAME:PORT`: the pod's lookup, its first DNS packet, then
/// the connection, each through the node's kube-proxy rules.
#[allow(clippy::too_many_arguments)]
fn trace_name(
    files: &[PathBuf],
    from: &str,
    host: &str,
    port: u16,
    proto: &str,
    seed: u64,
    all: bool,
    mode: Option<&str>,
) -> Result<ExitCode> {
    use lab_core::dns::resolver;
    use lab_core::proxy::Protocol;
    use lab_core::trace::{Choice, ProxyMode, TraceOutcome, Tracer, name_then_packet};
    let (mut cluster, _applied) = match load(files)? {
        Loaded::Ok(cluster, applied) => (cluster, applied),
        Loaded::Failed(code) => return Ok(code),
    };
    cluster.settle();
    let pod_ref = from.strip_prefix("pod/").unwrap_or(from);
    let (name, namespace) = pod_ref.split_once('.').unwrap_or((pod_ref, "default"));
    let Some(pod) = cluster.get_typed::<k8s_openapi::api::core::v1::Pod>(namespace, name) else {
        eprintln!("error: pod {namespace}/{name} not found");
        return Ok(ExitCode::from(EXIT_FAILURE));
    };
    let image = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let libc = resolver::image_resolver(&image).libc;
    let conf = resolver::pod_resolv_conf(&cluster, pod);
    let mut tracer = Tracer::from_cluster(&cluster);
    match mode {
        Some("ipvs") => tracer = tracer.with_mode(ProxyMode::Ipvs),
        Some("nftables") => tracer = tracer.with_mode(ProxyMode::Nftables),
        Some(_) => tracer = tracer.with_mode(ProxyMode::Iptables),
        None => {}
    }
    let protocol = match proto {
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => Protocol::Tcp,
    };
    let choice = if all {
        Choice::AllBranches
    } else {
        Choice::Seed(seed)
    };
    let dns = lab_core::dns::DnsSnapshot::from_cluster(&cluster);
    let r = match name_then_packet(
        &tracer, &dns, &conf, libc, namespace, name, host, port, protocol, choice,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    };
    let outcome_text = |o: &TraceOutcome| -> String {
        match o {
            TraceOutcome::Single(t) => render_trace(t),
            TraceOutcome::Branches(branches) => branches
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    format!(
                        "## branch {} of {}: probability {:.4}\n{}\n",
                        i + 1,
                        branches.len(),
                        b.probability,
                        render_trace(&b.trace)
                    )
                })
                .collect(),
        }
    };
    let mut out = format!(
        "# lookup of {host:?} from pod {namespace}/{name} ({image}, {libc:?} resolver)\n{}",
        lab_core::dns::tools::walk_text(&r.walk)
    );
    if let Some(o) = &r.dns_packet {
        out.push_str("\n# the first DNS query, as a packet\n");
        out.push_str(&outcome_text(o));
    }
    match (&r.address, &r.connection) {
        (Some(ip), Some(o)) => {
            out.push_str(&format!("\n# the connection to {ip}:{port}\n"));
            out.push_str(&outcome_text(o));
        }
        _ => out.push_str(&format!("\n# {host:?} did not resolve: no connection\n")),
    }
    print_stdout(&out)?;
    Ok(if r.connection.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line per matched rule, then the outcome.
fn render_trace(t: &lab_core::trace::Trace) -> String {
    let mut out = format!(
        "# packet from {} on node {}\n# kube-proxy mode: {}\n",
        t.source_ip,
        t.node,
        t.mode.as_str()
    );
    for step in &t.steps {
        let what = step.action.describe();
        let branch = step.branch.map(|b| b.describe()).unwrap_or_default();
        out.push_str(&format!(
            "{:<6} {:<28} {what}{branch}\n       {}\n",
            step.table.name(),
            step.chain,
            step.rule
        ));
    }
    out.push_str(&format!(
        "=> {}; masqueraded: {}; rules traversed: {}; hash lookups: {}\n",
        t.verdict.describe(),
        if t.masqueraded { "yes" } else { "no" },
        t.rules_traversed,
        t.lookups
    ));
    out
}

/// A fresh simulated cluster with the files applied, or the exit code of the failure.
enum Loaded {
    Ok(Box<Cluster>, String),
    Failed(ExitCode),
}

/// Reads and decodes every file first (as kubectl does), then applies each object to a fresh
/// simulated cluster; returns the `created`/`configured` lines. Errors are printed to stderr.
fn load(files: &[PathBuf]) -> Result<Loaded> {
    let mut documents: Vec<Vec<Object>> = Vec::new();
    for path in files {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("error: the path {shown:?} does not exist");
                return Ok(Loaded::Failed(ExitCode::from(EXIT_FAILURE)));
            }
            Err(e) => return Err(e).with_context(|| format!("reading {shown:?}")),
        };
        match parse_manifests(&text) {
            Ok(objects) => documents.push(objects),
            Err(e) => {
                eprintln!("error: {shown}: {}", lab_core::ApplyError::from(e));
                return Ok(Loaded::Failed(ExitCode::from(EXIT_FAILURE)));
            }
        }
    }
    let mut cluster = Cluster::kind();
    let mut out = String::new();
    let mut errors: Vec<String> = Vec::new();
    for object in documents.into_iter().flatten() {
        match cluster.apply(object) {
            Ok(outcome) => out.push_str(&format!("{outcome}\n")),
            // kubectl reports the rejection and goes on with the next object.
            Err(e) => errors.push(e.kubectl_message()),
        }
    }
    if !errors.is_empty() {
        print_stdout(&out)?;
        for e in &errors {
            eprintln!("{e}");
        }
        return Ok(Loaded::Failed(ExitCode::from(EXIT_FAILURE)));
    }
    Ok(Loaded::Ok(Box::new(cluster), out))
}

/// Writes to stdout, treating a closed pipe (`lab-runner demo | head`) as success.
fn print_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// The kinds `apply` prints, in `kubectl get all`'s order followed by the rest.
const APPLY_KINDS: &[Kind] = &[
    Kind::Pod,
    Kind::Service,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::Endpoints,
    Kind::EndpointSlice,
    Kind::ConfigMap,
    Kind::Event,
];

/// `lab-runner apply -f FILE…`.
fn apply(files: &[PathBuf], settle: bool, wide: bool) -> Result<ExitCode> {
    let mut cluster = match load(files)? {
        Loaded::Ok(cluster, applied) => {
            print_stdout(&applied)?;
            cluster
        }
        Loaded::Failed(code) => return Ok(code),
    };
    if settle {
        cluster.settle();
    }
    let present: Vec<Kind> = APPLY_KINDS
        .iter()
        .copied()
        .filter(|k| cluster.list(*k, Some("default")).next().is_some())
        .collect();
    let mut tables = String::new();
    if !present.is_empty() {
        tables.push('\n');
        tables.push_str(&format!("$ {}\n", get::command(&present, wide)));
        tables.push_str(&get::get(&cluster, &present, "default", wide));
    }
    print_stdout(&tables)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn zh_is_an_alias_of_zh_cn() {
        let cli = Cli::try_parse_from(["lab-runner", "demo", "--lang", "zh"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Demo {
                lang: Lang::ZhCn,
                wide: false
            }
        ));
        let cli = Cli::try_parse_from(["lab-runner", "demo", "--lang", "zh-CN", "--wide"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Demo {
                lang: Lang::ZhCn,
                wide: true
            }
        ));
    }

    #[test]
    fn apply_takes_several_files_and_wide() {
        let cli = Cli::try_parse_from([
            "lab-runner",
            "apply",
            "-f",
            "a.yaml",
            "b.yaml",
            "-f",
            "c.yaml",
            "-o",
            "wide",
        ])
        .unwrap();
        let Command::Apply {
            files,
            output,
            settle,
        } = cli.command
        else {
            panic!("not apply")
        };
        assert_eq!(files.len(), 3);
        assert_eq!(output.as_deref(), Some("wide"));
        assert!(!settle);
        assert!(
            Cli::try_parse_from(["lab-runner", "apply", "-f", "a.yaml", "-o", "yaml"]).is_err()
        );
        assert!(Cli::try_parse_from(["lab-runner", "apply"]).is_err());
    }

    #[test]
    fn demo_is_deterministic() {
        let a = demo::run(Lang::En, true).unwrap();
        let b = demo::run(Lang::En, true).unwrap();
        assert_eq!(a, b);
        assert!(demo::run(Lang::ZhCn, false).unwrap().contains("第 1/4 步"));
    }
}
