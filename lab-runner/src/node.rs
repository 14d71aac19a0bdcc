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
use std::path::{Path, PathBuf};
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

pub const SIM_NOT_RUNNING: &str = "sim not running: run `lab-runner sim`";

fn failure(message: &str) -> Result<ExitCode> {
    eprintln!("{message}");
    Ok(ExitCode::from(EXIT_FAILURE))
}

/// RFC 3986's unreserved characters stay; everything else in a path segment is escaped.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The path with every byte but unreserved ones percent-encoded (one path segment).
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// A kube-rs client on the cluster a kubeconfig names, as `node exec` and the grader use it.
pub struct Connected {
    /// The client.
    pub client: Client,
    /// The context's name.
    pub context: String,
    /// The API server's URL.
    pub server: http::Uri,
    /// The cluster answered `GET /svclab/v1/info` as the sim.
    pub is_sim: bool,
    /// The kubeconfig file read (`None`: `$KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The sim's default kubeconfig or a plain-http server: a failed connection means the sim
    /// is not running.
    sim_like: bool,
}

impl Connected {
    /// What a request that got no answer means to the learner.
    pub fn unreachable(&self, e: &kube::Error) -> String {
        if self.sim_like {
            SIM_NOT_RUNNING.to_string()
        } else {
            format!("error: cannot reach the cluster at {}: {e}", self.server)
        }
    }
}

/// The apiserver's refusal as kubectl prints it: `Error from server (NotFound): …`.
pub fn server_error(s: &kube::core::Status) -> String {
    let reason = if s.reason.is_empty() {
        "Unknown"
    } else {
        &s.reason
    };
    format!("Error from server ({reason}): {}", s.message)
}

/// Connects as kubectl would be told: `--kubeconfig` (and `--context`); `--context` alone reads
/// the usual kubeconfig; neither reads the sim's. Asks the cluster whether it is the sim. The
/// error is the message to print (exit 2): the sim not running, an unknown context, an
/// unreachable cluster.
pub async fn connect(
    kubeconfig_path: Option<&Path>,
    context: Option<&str>,
) -> std::result::Result<Connected, String> {
    let fail = |e: anyhow::Error| format!("error: {e:#}");
    let (kubeconfig, path, sim_default) = match (kubeconfig_path, context) {
        (Some(path), _) => (
            Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))
                .map_err(fail)?,
            Some(path.to_path_buf()),
            false,
        ),
        (None, Some(_)) => (
            Kubeconfig::read()
                .context("reading the kubeconfig")
                .map_err(fail)?,
            None,
            false,
        ),
        (None, None) => {
            let path = crate::sim::svclab_home().map_err(fail)?.join("kubeconfig");
            match Kubeconfig::read_from(&path) {
                Ok(k) => (k, Some(path), true),
                Err(_) if !path.exists() => return Err(SIM_NOT_RUNNING.to_string()),
                Err(e) => {
                    return Err(fail(
                        anyhow::Error::new(e).context(format!("reading {}", path.display())),
                    ));
                }
            }
        }
    };
    let context = context
        .map(str::to_string)
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err(format!(
            "error: context {context:?} not found in the kubeconfig (contexts: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    }
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("loading context {context:?}"))
        .map_err(fail)?;
    let server = config.cluster_url.clone();
    // The sim writes a plain-http loopback server; nothing else does.
    let sim_like = sim_default || server.scheme_str() == Some("http");
    let client = Client::try_from(config)
        .context("building the Kubernetes client")
        .map_err(fail)?;
    let mut connected = Connected {
        client,
        context,
        server,
        is_sim: false,
        kubeconfig: path,
        sim_like,
    };
    let info = http::Request::get("/svclab/v1/info")
        .body(Vec::new())
        .map_err(|e| fail(e.into()))?;
    connected.is_sim = match connected.client.request_text(info).await {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .is_ok_and(|v| v["kind"] == "SvclabInfo" && v["sim"] == true),
        Err(kube::Error::Api(_)) => false,
        Err(e) => return Err(connected.unreachable(&e)),
    };
    Ok(connected)
}

/// What a command on a node printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code.
    pub exit_code: i32,
}

/// Runs a command on a node of the sim (`GET /svclab/v1/nodes/{node}/exec?command=…`).
pub async fn sim_node_exec(
    client: &Client,
    node: &str,
    command: &[String],
) -> std::result::Result<NodeOutput, kube::Error> {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(command.iter().map(|c| ("command", c)))
        .finish();
    let uri = format!("/svclab/v1/nodes/{}/exec?{query}", segment(node));
    let request = http::Request::get(uri)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    let text = client.request_text(request).await?;
    let answer = serde_json::from_str::<Value>(&text).map_err(kube::Error::SerdeError)?;
    let text = |key: &str| answer[key].as_str().unwrap_or("").to_string();
    Ok(NodeOutput {
        stdout: text("stdout"),
        stderr: text("stderr"),
        exit_code: answer["exitCode"]
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(1),
    })
}

async fn exec(a: &ExecArgs) -> Result<ExitCode> {
    let cluster = match connect(a.kubeconfig.as_deref(), a.context.as_deref()).await {
        Ok(c) => c,
        Err(message) => return failure(&message),
    };
    if !cluster.is_sim {
        return failure(&format!(
            "error: context {:?} ({}) is not the svclab sim (no GET /svclab/v1/info): \
             on kind, run the command in the node's container: docker exec {} {}",
            cluster.context,
            cluster.server,
            a.node,
            a.command.join(" ")
        ));
    }
    let answer = match sim_node_exec(&cluster.client, &a.node, &a.command).await {
        Ok(out) => out,
        Err(kube::Error::Api(s)) => return failure(&server_error(&s)),
        Err(kube::Error::SerdeError(e)) => {
            return Err(e).context("decoding the node's answer");
        }
        Err(e) => return failure(&cluster.unreachable(&e)),
    };
    std::io::stdout()
        .write_all(answer.stdout.as_bytes())
        .and_then(|()| std::io::stdout().flush())
        .context("writing to stdout")?;
    std::io::stderr()
        .write_all(answer.stderr.as_bytes())
        .context("writing to stderr")?;
    Ok(ExitCode::from(
        u8::try_from(answer.exit_code).unwrap_or(u8::MAX),
    ))
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
