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
//!
//! Tables come from `lab_core::printers`, the apiserver's and kubectl's printers ([`get`]).

mod demo;
mod get;

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
        /// `ipset` (`ipset list`) or `ip-addr` (`ip addr show kube-ipvs0`); nftables: `list`
        /// (`nft list table ip kube-proxy`, default) or `transaction` (what `nft -f` loads).
        #[arg(long, value_parser = ["save", "restore", "ipvsadm", "ipset", "ip-addr", "list", "transaction"])]
        form: Option<String>,
    },
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
        "ipvs" => &["ipvsadm", "ipset", "ip-addr"],
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
        ("ipvs", "ipset") => ipvs::render_ipset_list(&snapshot, node),
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
