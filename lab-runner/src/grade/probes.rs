//! Running a lab's probes on a real or simulated cluster, one code path for both:
//!
//! - in a pod: kube-rs `Api::<Pod>::exec` over WebSocket (`v5.channel.k8s.io`, or
//!   `v4.channel.k8s.io` on older apiservers), stdout and stderr read to the end and the exit
//!   code taken from the exec's closing Status;
//! - on a node: the sim's `GET /svclab/v1/nodes/{node}/exec` when the cluster is the sim,
//!   `docker exec NODE …` otherwise (kind's nodes are containers);
//! - to a nodePort from outside: a real `GET /` on 127.0.0.1 — the sim's listener
//!   (`nodePort + offset`, from the sim's `ports.json`), or kind's `extraPortMappings`.
//!
//! The grader's probe pod (`default/svclab-probe`, busybox:1.28) is created only where
//! [`super::cluster::may_create_probe_pod`] allows, waited for until Ready, and left running for
//! the next check; no other object is ever written, and none is deleted.

use crate::node::{Connected, server_error, sim_node_exec};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, PostParams};
use lab_core::Object;
use lab_core::lab::probe::{PROBE_POD, probe_pod_manifest};
use lab_core::lab::{Probe, ProbeResult, ProbeTarget};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one exec, node command or request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a nodePort request may take (a dropped packet is a failure, not a hang).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the probe pod may take to become Ready (kind pulls busybox:1.28 the first time).
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Whether a probe runs in the grader's probe pod.
pub fn in_probe_pod(p: &Probe) -> bool {
    matches!(&p.target, ProbeTarget::Pod { namespace, name }
        if (namespace.as_str(), name.as_str()) == PROBE_POD)
}

/// Makes sure the probe pod exists and is Ready. `Ok(true)` when the cluster changed meanwhile
/// (created, or it became Ready), so the snapshot is worth taking again; the error says why the
/// probes in it cannot run.
pub async fn ensure_probe_pod(c: &Connected, may_create: bool) -> Result<bool, String> {
    let (namespace, name) = PROBE_POD;
    let api: Api<Pod> = Api::namespaced(c.client.clone(), namespace);
    let existing = match api.get_opt(name).await {
        Ok(p) => p,
        Err(kube::Error::Api(s)) => return Err(server_error(&s)),
        Err(e) => return Err(c.unreachable(&e)),
    };
    let mut changed = false;
    match existing {
        Some(p) if lab_core::controllers::kubelet::pod_ready(&p) => return Ok(false),
        Some(_) => {}
        None if !may_create => {
            return Err(format!(
                "context {:?} is neither the svclab sim nor a kind-* cluster: the grader creates \
                 its probe pod {namespace}/{name} there only with --allow-context",
                c.context
            ));
        }
        None => {
            let pod = match lab_core::manifest::parse_manifests(&probe_pod_manifest()) {
                Ok(mut objects) => match objects.pop() {
                    Some(Object::Pod(p)) => *p,
                    _ => return Err("the probe pod's manifest is not a Pod".into()),
                },
                Err(e) => return Err(format!("the probe pod's manifest: {e}")),
            };
            match api.create(&PostParams::default(), &pod).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(kube::Error::Api(s)) => {
                    return Err(format!(
                        "creating the probe pod {namespace}/{name}: {}",
                        server_error(&s)
                    ));
                }
                Err(e) => return Err(c.unreachable(&e)),
            }
            changed = true;
        }
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let pod = match api.get_opt(name).await {
            Ok(p) => p,
            Err(kube::Error::Api(s)) => return Err(server_error(&s)),
            Err(e) => return Err(c.unreachable(&e)),
        };
        let state = match &pod {
            Some(p) if lab_core::controllers::kubelet::pod_ready(p) => return Ok(true),
            Some(p) => pod_state(p),
            None => "deleted".to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "the probe pod {namespace}/{name} is not Ready after {} s ({state}){}",
                READY_TIMEOUT.as_secs(),
                if changed {
                    ""
                } else {
                    "; on kind, pre-pull its image: docker pull busybox:1.28 && kind load docker-image busybox:1.28"
                }
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A pod's phase and its first container's waiting reason (`Pending, ImagePullBackOff`).
fn pod_state(p: &Pod) -> String {
    let status = p.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into());
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.clone());
    match waiting {
        Some(r) => format!("{phase}, {r}"),
        None => phase,
    }
}

/// Runs probes against one cluster.
pub struct Runner<'a> {
    cluster: &'a Connected,
    /// The sim's `ports.json`, when the cluster is the sim.
    ports: Option<Value>,
}

impl<'a> Runner<'a> {
    /// A runner for `cluster` (reads the sim's `ports.json` when the cluster is the sim).
    pub fn new(cluster: &'a Connected) -> Runner<'a> {
        let ports = cluster.is_sim.then(|| sim_ports(cluster)).flatten();
        Runner { cluster, ports }
    }

    /// Runs `probes` in order, calling `progress(done, total)` after each.
    pub async fn run(
        &self,
        probes: &[Probe],
        mut progress: impl FnMut(usize, usize),
    ) -> Vec<ProbeResult> {
        let mut out = Vec::with_capacity(probes.len());
        for (i, p) in probes.iter().enumerate() {
            out.push(self.run_one(p).await);
            progress(i + 1, probes.len());
        }
        out
    }

    async fn run_one(&self, p: &Probe) -> ProbeResult {
        let key = p.key.as_str();
        let run = async {
            match &p.target {
                ProbeTarget::Pod { namespace, name } => {
                    pod_exec(self.cluster, namespace, name, &p.argv, key).await
                }
                ProbeTarget::Node { name } if self.cluster.is_sim => {
                    match sim_node_exec(&self.cluster.client, name, &p.argv).await {
                        Ok(o) => ProbeResult::ran(key, o.stdout, o.stderr, o.exit_code),
                        Err(kube::Error::Api(s)) => {
                            ProbeResult::could_not_run(key, server_error(&s))
                        }
                        Err(e) => ProbeResult::could_not_run(key, self.cluster.unreachable(&e)),
                    }
                }
                ProbeTarget::Node { name } => docker_exec(name, &p.argv, key).await,
                ProbeTarget::NodePort { node_port } => {
                    let addr = node_port_address(self.ports.as_ref(), *node_port);
                    http_get(addr, key).await
                }
            }
        };
        match tokio::time::timeout(PROBE_TIMEOUT, run).await {
            Ok(r) => r,
            Err(_) => ProbeResult::could_not_run(
                key,
                format!("no answer after {} s", PROBE_TIMEOUT.as_secs()),
            ),
        }
    }
}

/// The sim's `ports.json` that belongs to this cluster: next to the kubeconfig the sim wrote,
/// or in `$SVCLAB_HOME`, whichever names the cluster's API address.
fn sim_ports(c: &Connected) -> Option<Value> {
    let server = c.server.to_string();
    let server = server.trim_end_matches('/');
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = c.kubeconfig.as_ref().and_then(|k| k.parent()) {
        dirs.push(dir.to_path_buf());
    }
    if let Ok(home) = crate::sim::svclab_home() {
        dirs.push(home);
    }
    dirs.iter()
        .filter_map(|d| std::fs::read_to_string(d.join("ports.json")).ok())
        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
        .find(|v| v["api"].as_str().map(|a| a.trim_end_matches('/')) == Some(server))
}

/// Where nodePort `node_port` answers on this machine: the sim's listener for it (`ports.json`
/// lists each, else `nodePort + nodePortOffset`), or 127.0.0.1:nodePort (kind's
/// `extraPortMappings`).
pub fn node_port_address(ports: Option<&Value>, node_port: u16) -> SocketAddr {
    let local = |port: u16| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    let Some(ports) = ports else {
        return local(node_port);
    };
    let listed = ports["nodePorts"].as_array().and_then(|list| {
        list.iter()
            .find(|p| p["nodePort"].as_u64() == Some(u64::from(node_port)))
            .and_then(|p| p["listen"].as_str())
            .and_then(|l| l.parse::<SocketAddr>().ok())
            .filter(|a| a.ip().is_loopback())
    });
    listed.unwrap_or_else(|| {
        let offset = ports["nodePortOffset"]
            .as_u64()
            .and_then(|o| u16::try_from(o).ok())
            .unwrap_or(0);
        local(node_port.saturating_add(offset))
    })
}

/// `kubectl exec`-style: the command in the pod's first container, through kube-rs.
async fn pod_exec(
    c: &Connected,
    namespace: &str,
    name: &str,
    argv: &[String],
    key: &str,
) -> ProbeResult {
    let api: Api<Pod> = Api::namespaced(c.client.clone(), namespace);
    let params = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut process = match api.exec(name, argv.to_vec(), &params).await {
        Ok(p) => p,
        Err(kube::Error::Api(s)) => return ProbeResult::could_not_run(key, server_error(&s)),
        Err(e) => {
            return ProbeResult::could_not_run(key, format!("exec into {namespace}/{name}: {e}"));
        }
    };
    let (Some(mut stdout), Some(mut stderr), Some(status)) =
        (process.stdout(), process.stderr(), process.take_status())
    else {
        return ProbeResult::could_not_run(key, "exec: no output streams");
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let (r1, r2) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
    let status = status.await;
    let joined = process.join().await;
    if let Err(e) = r1.and(r2) {
        return ProbeResult::could_not_run(key, format!("exec: reading its output: {e}"));
    }
    let stdout = String::from_utf8_lossy(&out).into_owned();
    let stderr = String::from_utf8_lossy(&err).into_owned();
    match status.as_ref().map(exit_code) {
        Some(Ok(code)) => ProbeResult::ran(key, stdout, stderr, code),
        Some(Err(message)) => ProbeResult::could_not_run(key, message),
        None => ProbeResult::could_not_run(
            key,
            match joined {
                Err(e) => format!("exec: {e}"),
                Ok(()) => "exec: the stream ended without an exit status".to_string(),
            },
        ),
    }
}

/// The exit code an exec's closing Status carries (`NonZeroExitCode` with an `ExitCode` cause),
/// or its message when the command did not run.
fn exit_code(
    status: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Status,
) -> Result<i32, String> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
                .and_then(|c| c.message.as_deref())
                .and_then(|m| m.trim().parse::<i32>().ok())
        });
    match (status.reason.as_deref(), code) {
        (Some("NonZeroExitCode"), Some(code)) => Ok(code),
        _ => Err(status
            .message
            .clone()
            .unwrap_or_else(|| "exec failed".to_string())),
    }
}

/// `docker exec NODE CMD…`: a kind node's command.
async fn docker_exec(node: &str, argv: &[String], key: &str) -> ProbeResult {
    let node = node.to_string();
    let argv = argv.to_vec();
    let key_owned = key.to_string();
    let ran = tokio::task::spawn_blocking(move || {
        std::process::Command::new("docker")
            .arg("exec")
            .arg(&node)
            .args(&argv)
            .stdin(std::process::Stdio::null())
            .output()
            .map(|o| (node, o))
    })
    .await;
    let key = key_owned.as_str();
    match ran {
        Err(e) => ProbeResult::could_not_run(key, format!("docker exec: {e}")),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => ProbeResult::could_not_run(
            key,
            "docker is not installed: on a cluster other than the sim, node probes run \
             `docker exec NODE …` (kind's nodes are containers); install Docker, or grade on the sim",
        ),
        Ok(Err(e)) => ProbeResult::could_not_run(key, format!("docker exec: {e}")),
        Ok(Ok((node, o))) => {
            let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            let code = o.status.code().unwrap_or(-1);
            if docker_failed(code, &stderr) {
                ProbeResult::could_not_run(key, format!("docker exec {node}: {}", stderr.trim()))
            } else {
                ProbeResult::ran(key, stdout, stderr, code)
            }
        }
    }
}

/// Whether `docker exec` itself failed (no daemon, no such container) rather than the command.
fn docker_failed(code: i32, stderr: &str) -> bool {
    code == 125
        || stderr.starts_with("Cannot connect to the Docker daemon")
        || stderr.starts_with("Error response from daemon")
        || stderr.starts_with("Error: No such container")
        || stderr.contains("permission denied while trying to connect to the Docker daemon")
}

/// `GET /` to a nodePort from outside the cluster: the body as stdout, the status line and
/// headers as stderr (so `X-Svclab-Pod` names the pod that answered).
async fn http_get(addr: SocketAddr, key: &str) -> ProbeResult {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: svclab-grader\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = match tokio::time::timeout(HTTP_TIMEOUT, exchange).await {
        Err(_) => return ProbeResult::could_not_run(key, format!("{addr}: timed out")),
        Ok(Err(e)) => {
            let what = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
                _ => e.to_string(),
            };
            return ProbeResult::could_not_run(key, format!("{addr}: {what}"));
        }
        Ok(Ok(a)) => a,
    };
    let text = String::from_utf8_lossy(&answer);
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/") => {
            ProbeResult::ran(key, body.to_string(), head.to_string(), 0)
        }
        _ if text.is_empty() => ProbeResult::could_not_run(
            key,
            format!("{addr}: the connection closed without an answer"),
        ),
        _ => ProbeResult::could_not_run(key, format!("{addr}: not an HTTP answer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};
    use serde_json::json;

    #[test]
    fn node_ports_on_the_sim_and_on_kind() {
        let ports = json!({
            "api": "http://127.0.0.1:40000",
            "nodePortOffset": 1000,
            "nodePorts": [{"service": "default/web", "nodePort": 30144, "listen": "127.0.0.1:31144"}],
        });
        assert_eq!(
            node_port_address(Some(&ports), 30144).to_string(),
            "127.0.0.1:31144"
        );
        assert_eq!(
            node_port_address(Some(&ports), 30145).to_string(),
            "127.0.0.1:31145"
        );
        assert_eq!(
            node_port_address(None, 30144).to_string(),
            "127.0.0.1:30144"
        );
    }

    #[test]
    fn exit_codes_from_the_exec_status() {
        let ok = Status {
            status: Some("Success".into()),
            ..Status::default()
        };
        assert_eq!(exit_code(&ok), Ok(0));
        let failed = Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            message: Some("command terminated with non-zero exit code".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some("126".into()),
                    ..StatusCause::default()
                }]),
                ..StatusDetails::default()
            }),
            ..Status::default()
        };
        assert_eq!(exit_code(&failed), Ok(126));
        let other = Status {
            status: Some("Failure".into()),
            message: Some("container not found".into()),
            ..Status::default()
        };
        assert_eq!(exit_code(&other), Err("container not found".to_string()));
    }

    #[test]
    fn docker_itself_failing_is_not_the_commands_exit() {
        assert!(docker_failed(
            1,
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
        ));
        assert!(docker_failed(
            1,
            "Error response from daemon: No such container: kind-worker\n"
        ));
        assert!(!docker_failed(
            127,
            "OCI runtime exec failed: exec failed: …"
        ));
        assert!(!docker_failed(0, ""));
    }

    #[tokio::test]
    async fn a_nodeport_request_reads_head_and_body() {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Svclab-Pod: web-1\r\nConnection: close\r\n\r\n<h1>hi</h1>\n")
                .await
                .unwrap();
        });
        let r = http_get(addr, "k").await;
        assert_eq!(r.stdout, "<h1>hi</h1>\n");
        assert_eq!(r.served_by.as_deref(), Some("web-1"));
        assert_eq!((r.exit_code, r.error), (0, None));
        // Nothing listens there any more.
        let gone = {
            let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            l.local_addr().unwrap()
        };
        let r = http_get(gone, "k").await;
        assert_eq!(r.error, Some(format!("{gone}: connection refused")));
    }
}
