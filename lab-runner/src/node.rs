//! `lab-runner node exec NODE -- CMD…`: a command on a node of the cluster, printed as the node
//! prints it, with its exit code.
//!
//! The one interface that reads a node's kube-proxy rules (`iptables-save`, `ipvsadm -Ln`,
//! `nft list table ip kube-proxy`, …). It talks to the cluster with kube-rs, the client the
//! grader uses, from a kubeconfig chosen as kubectl would be told: `--kubeconfig` (and
//! `--context`); `--context` alone reads the usual kubeconfig (`$KUBECONFIG`, `~/.kube/config`);
//! neither reads the sim's, `$SVCLAB_HOME/kubeconfig` (default `~/.local/state/svclab`).
//!
//! The cluster is recognised as the sim by `GET /svclab/v1/info`, never by a context name; the
//! sim then runs the command (`GET /svclab/v1/nodes/{node}/exec?command=…`, see
//! `sim::node`). Any other cluster is told apart with a note: on kind the same reading is
//! `docker exec NODE CMD…`. Exit codes: the command's own; 2 when the sim is not running, the
//! cluster is not the sim, or the apiserver refuses the request (an unknown node).

use crate::EXIT_FAILURE;
use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `lab-runner node` arguments.
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(clap::Subcommand, Debug)]
enum NodeCommand {
    /// Run a command on a node: `lab-runner node exec kind-worker -- iptables-save`.
    ///
    /// On the sim the node answers `iptables-save [-t filter|nat]`, `ipvsadm -Ln [--stats]
    /// [-t VIP:PORT]`, `ipset list [NAME]`, `ip addr show kube-ipvs0` and `nft list table ip
    /// kube-proxy` from the rules its kube-proxy has loaded in the mode ConfigMap
    /// kube-system/kube-proxy selects. Prints the command's stdout and stderr and exits with its
    /// code; 2 if the sim is not running or the node does not exist. On kind, use
    /// `docker exec NODE CMD…`.
    Exec(ExecArgs),
}

/// `lab-runner node exec` arguments.
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The kubeconfig file (default: the sim's, `$SVCLAB_HOME/kubeconfig`).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The node (`kind-control-plane`, `kind-worker`, `kind-worker2`).
    node: String,
    /// The command and its arguments, after `--`.
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    command: Vec<String>,
}

/// `lab-runner node …`.
pub fn run(args: &NodeArgs) -> Result<ExitCode> {
    match &args.command {
        NodeCommand::Exec(e) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(exec(e))
        }
    }
}

const SIM_NOT_RUNNING: &str = "sim not running: run `lab-runner sim`";

fn failure(message: &str) -> Result<ExitCode> {
    eprintln!("{message}");
    Ok(ExitCode::from(EXIT_FAILURE))
}

/// The path with every byte but unreserved ones percent-encoded (one path segment).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn exec(a: &ExecArgs) -> Result<ExitCode> {
    let (kubeconfig, sim_default) = match (&a.kubeconfig, &a.context) {
        (Some(path), _) => (
            Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?,
            false,
        ),
        (None, Some(_)) => (Kubeconfig::read().context("reading the kubeconfig")?, false),
        (None, None) => {
            let path = crate::sim::svclab_home()?.join("kubeconfig");
            match Kubeconfig::read_from(&path) {
                Ok(k) => (k, true),
                Err(_) if !path.exists() => return failure(SIM_NOT_RUNNING),
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
    };
    let context = a
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    let options = KubeConfigOptions {
        context: a.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("loading context {context:?}"))?;
    let server = config.cluster_url.clone();
    // The sim writes a plain-http loopback server; nothing else does.
    let sim_like = sim_default || server.scheme_str() == Some("http");
    let client = Client::try_from(config).context("building the Kubernetes client")?;

    let info = http::Request::get("/svclab/v1/info").body(Vec::new())?;
    let is_sim = match client.request_text(info).await {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .is_ok_and(|v| v["kind"] == "SvclabInfo" && v["sim"] == true),
        Err(kube::Error::Api(_)) => false,
        Err(_) if sim_like => return failure(SIM_NOT_RUNNING),
        Err(e) => return failure(&format!("error: cannot reach the cluster at {server}: {e}")),
    };
    if !is_sim {
        return failure(&format!(
            "error: context {context:?} ({server}) is not the svclab sim (no GET /svclab/v1/info): \
             on kind, run the command in the node's container: docker exec {} {}",
            a.node,
            a.command.join(" ")
        ));
    }

    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(a.command.iter().map(|c| ("command", c)))
        .finish();
    let uri = format!("/svclab/v1/nodes/{}/exec?{query}", segment(&a.node));
    let request = http::Request::get(uri).body(Vec::new())?;
    let answer = match client.request_text(request).await {
        Ok(text) => serde_json::from_str::<Value>(&text).context("decoding the node's answer")?,
        Err(kube::Error::Api(s)) => {
            let reason = if s.reason.is_empty() {
                "Unknown"
            } else {
                &s.reason
            };
            return failure(&format!("Error from server ({reason}): {}", s.message));
        }
        Err(_) if sim_like => return failure(SIM_NOT_RUNNING),
        Err(e) => return failure(&format!("error: cannot reach the cluster at {server}: {e}")),
    };
    let text = |key: &str| answer[key].as_str().unwrap_or("").to_string();
    std::io::stdout()
        .write_all(text("stdout").as_bytes())
        .and_then(|()| std::io::stdout().flush())
        .context("writing to stdout")?;
    std::io::stderr()
        .write_all(text("stderr").as_bytes())
        .context("writing to stderr")?;
    let code = answer["exitCode"].as_i64().unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: NodeCommand,
    }

    fn parse(args: &[&str]) -> ExecArgs {
        let cli = Cli::try_parse_from(std::iter::once("node").chain(args.iter().copied())).unwrap();
        let NodeCommand::Exec(e) = cli.command;
        e
    }

    #[test]
    fn the_command_follows_the_node_with_its_own_options() {
        let e = parse(&["exec", "kind-worker", "--", "iptables-save", "-t", "nat"]);
        assert_eq!(e.node, "kind-worker");
        assert_eq!(e.command, ["iptables-save", "-t", "nat"]);
        let e = parse(&[
            "exec",
            "--context",
            "svclab",
            "kind-worker2",
            "ipvsadm",
            "-Ln",
        ]);
        assert_eq!(e.context.as_deref(), Some("svclab"));
        assert_eq!(e.command, ["ipvsadm", "-Ln"]);
        assert!(Cli::try_parse_from(["node", "exec", "kind-worker"]).is_err());
    }

    #[test]
    fn node_names_are_one_path_segment() {
        assert_eq!(segment("kind-worker"), "kind-worker");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
