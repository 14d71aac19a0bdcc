//! Probes: the commands a check needs run on the cluster, and their results.
//!
//! A probe is plain data — where to run (a pod, a node, a nodePort from outside) and the argv —
//! so each front end runs it its own way: the grader execs into the pod through the Kubernetes
//! API (kind and the sim alike), runs node commands with `docker exec` on kind or the sim's node
//! endpoint, and connects to the nodePort; the web page and the tests call [`answer`] on the
//! in-page [`Cluster`]. Results come back as [`ProbeResult`]s, matched by [`Probe::key`].

use crate::Cluster;
use crate::shell::{self, ExternalAnswer, HttpMethod};
use serde::{Deserialize, Serialize};

/// The grader's probe pod (namespace, name): created on kind and the sim when a check runs
/// `from: probe`, never deleted while it is useful, and never one of the learner's.
pub const PROBE_POD: (&str, &str) = ("default", "svclab-probe");

/// Its image: the chapter's client, whose `nslookup` prints the layout the labs read.
pub const PROBE_IMAGE: &str = "busybox:1.28";

/// The probe pod's manifest.
pub fn probe_pod_manifest() -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
  labels:
    app.kubernetes.io/managed-by: svclab
spec:
  containers:
  - name: probe
    image: {PROBE_IMAGE}
    command: [\"sleep\", \"86400\"]
",
        namespace = PROBE_POD.0,
        name = PROBE_POD.1
    )
}

/// The node an outside client's nodePort request arrives at: kind maps host ports to a worker.
pub const ENTRY_NODE: &str = "kind-worker";

/// Where a probe runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum ProbeTarget {
    /// `kubectl exec` into the pod's first container.
    Pod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// A command on a node (`docker exec NODE …` on kind).
    Node {
        /// Node name.
        name: String,
    },
    /// `GET /` from outside the cluster to a nodePort (the sim's listener on 127.0.0.1, kind's
    /// `extraPortMappings`).
    NodePort {
        /// The nodePort.
        node_port: u16,
    },
}

/// One command to run for a check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Unique in a lab run: the check id, `#N` for a check's Nth probe.
    pub key: String,
    /// The check it serves.
    pub check: String,
    /// Where it runs.
    pub target: ProbeTarget,
    /// The command (empty for a nodePort request).
    pub argv: Vec<String>,
}

/// What running a probe gave.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    /// The probe's key.
    pub key: String,
    /// Standard output (a nodePort request: the response body).
    pub stdout: String,
    /// Standard error (a nodePort request: the status line and headers).
    pub stderr: String,
    /// Exit code (a nodePort request: 0 when a response came).
    pub exit_code: i32,
    /// The pod that answered an HTTP request, where the answer says so (the sim's
    /// `X-Svclab-Pod` header).
    #[serde(default)]
    pub served_by: Option<String>,
    /// Why the probe could not run at all (no such pod, exec refused, connection reset …).
    #[serde(default)]
    pub error: Option<String>,
}

impl ProbeResult {
    /// A command that ran; `served_by` is read from `X-Svclab-Pod` headers `wget -S` printed.
    pub fn ran(key: &str, stdout: String, stderr: String, exit_code: i32) -> ProbeResult {
        let served_by = served_header(&stderr);
        ProbeResult {
            key: key.to_string(),
            stdout,
            stderr,
            exit_code,
            served_by,
            error: None,
        }
    }

    /// A probe that could not run.
    pub fn could_not_run(key: &str, error: impl Into<String>) -> ProbeResult {
        ProbeResult {
            key: key.to_string(),
            exit_code: -1,
            error: Some(error.into()),
            ..ProbeResult::default()
        }
    }
}

/// The last `X-Svclab-Pod: NAME` header in a response head (as `wget -S` or `curl -i` print it).
pub fn served_header(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-svclab-pod")
                .then(|| value.trim().to_string())
        })
        .next_back()
}

/// Runs `probe` on a simulated cluster, as the sim server would answer the same exec, node
/// command or nodePort request. `seed` drives kube-proxy's random endpoint choice.
pub fn answer(cluster: &Cluster, probe: &Probe, seed: u64) -> ProbeResult {
    let key = probe.key.as_str();
    match &probe.target {
        ProbeTarget::Pod { namespace, name } => {
            match shell::exec(cluster, namespace, name, None, &probe.argv, seed) {
                Ok(out) => {
                    let mut r = ProbeResult::ran(key, out.stdout, out.stderr, out.exit_code);
                    if let Some(s) = out.served.last() {
                        r.served_by = Some(s.pod.clone());
                    }
                    r
                }
                Err(e) => ProbeResult::could_not_run(key, e.to_string()),
            }
        }
        ProbeTarget::Node { name } => match shell::node_exec(cluster, name, &probe.argv) {
            Ok(out) => ProbeResult::ran(key, out.stdout, out.stderr, out.exit_code),
            Err(e) => ProbeResult::could_not_run(key, e.to_string()),
        },
        ProbeTarget::NodePort { node_port } => {
            match shell::external_http(
                cluster,
                ENTRY_NODE,
                *node_port,
                HttpMethod::Get,
                "/",
                1,
                true,
                seed,
            ) {
                Ok(ExternalAnswer::Served { wire, served }) => {
                    let (head, body) = wire.split_once("\r\n\r\n").unwrap_or((&wire, ""));
                    let mut r = ProbeResult::ran(key, body.to_string(), head.to_string(), 0);
                    r.served_by = Some(served.pod);
                    r
                }
                Ok(ExternalAnswer::Refused) => {
                    ProbeResult::could_not_run(key, "connection reset by peer")
                }
                Ok(ExternalAnswer::TimedOut) => ProbeResult::could_not_run(key, "timed out"),
                Err(e) => ProbeResult::could_not_run(key, e.to_string()),
            }
        }
    }
}

/// Runs every probe on a simulated cluster (seeds 1, 2, … so tries spread over the backends).
pub fn answer_all(cluster: &Cluster, probes: &[Probe]) -> Vec<ProbeResult> {
    probes
        .iter()
        .zip(1u64..)
        .map(|(p, seed)| answer(cluster, p, seed))
        .collect()
}

/// The addresses and names an `nslookup` printed for the looked-up name (the server block
/// skipped), in the busybox 1.28 layout (`Address 1: 10.96.0.1 kubernetes.default.svc…`), the
/// newer busybox and bind layouts (`Address: 10.96.0.1`, `… name = svc.ns.svc.cluster.local`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    /// A/AAAA addresses.
    pub addresses: Vec<String>,
    /// Names a reverse lookup gave (without the final dot).
    pub names: Vec<String>,
}

/// Reads an `nslookup` output.
pub fn parse_nslookup(stdout: &str) -> Lookup {
    let mut out = Lookup::default();
    // The first paragraph is the server's own (Server:/Address:).
    let mut blocks = stdout.split("\n\n");
    let first = blocks.next().unwrap_or("");
    let answer: Vec<&str> = if first.trim_start().starts_with("Server:") {
        blocks.collect()
    } else {
        std::iter::once(first).chain(blocks).collect()
    };
    for line in answer.iter().flat_map(|b| b.lines()) {
        let line = line.trim();
        if let Some((_, rest)) = line.split_once("name = ") {
            out.names
                .push(rest.trim().trim_end_matches('.').to_string());
            continue;
        }
        let Some(rest) = line.strip_prefix("Address") else {
            continue;
        };
        // "Address 1: IP [NAME]" or "Address: IP" (bind adds "#53" only to the server's).
        let Some((_, value)) = rest.split_once(':') else {
            continue;
        };
        let mut words = value.split_whitespace();
        if let Some(ip) = words.next() {
            if ip.parse::<std::net::IpAddr>().is_ok() {
                out.addresses.push(ip.to_string());
            }
            if let Some(name) = words.next() {
                out.names.push(name.trim_end_matches('.').to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nslookup_layouts() {
        let old = "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\nName:      httpd-svc\nAddress 1: 10.96.131.164 httpd-svc.default.svc.cluster.local\n";
        assert_eq!(
            parse_nslookup(old),
            Lookup {
                addresses: vec!["10.96.131.164".into()],
                names: vec!["httpd-svc.default.svc.cluster.local".into()],
            }
        );
        let headless = "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\nName:      headless-svc\nAddress 1: 10.244.1.2 10-244-1-2.headless-svc.default.svc.cluster.local\nAddress 2: 10.244.2.2 10-244-2-2.headless-svc.default.svc.cluster.local\n";
        assert_eq!(
            parse_nslookup(headless).addresses,
            ["10.244.1.2", "10.244.2.2"]
        );
        let new = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\thttpd-svc.default.svc.cluster.local\nAddress: 10.96.131.164\n\n";
        assert_eq!(parse_nslookup(new).addresses, ["10.96.131.164"]);
        let reverse = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n164.131.96.10.in-addr.arpa\tname = httpd-svc.default.svc.cluster.local\n\n";
        assert_eq!(
            parse_nslookup(reverse).names,
            ["httpd-svc.default.svc.cluster.local"]
        );
        let nx = "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\n";
        assert_eq!(parse_nslookup(nx), Lookup::default());
    }

    #[test]
    fn served_headers() {
        let head = "  HTTP/1.1 200 OK\n  Date: x\n  X-Svclab-Pod: httpd-7c9d6b8f4-x2k8q\n";
        assert_eq!(
            served_header(head).as_deref(),
            Some("httpd-7c9d6b8f4-x2k8q")
        );
        assert_eq!(served_header("HTTP/1.1 200 OK\r\n"), None);
    }
}
