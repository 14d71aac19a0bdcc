//! `kubectl exec` over the `v5.channel.k8s.io` WebSocket protocol (spec §6): the request
//! parsed, the command run by [`lab_core::shell::exec`], and its result framed as the kubelet's
//! stream does (`k8s.io/apimachinery/pkg/util/remotecommand` and the kubelet's `cri/streaming`):
//! binary messages whose first byte is the channel (1 stdout, 2 stderr, 3 the exit Status).
//! Pure: `super::serve` only upgrades the connection and sends the frames.

use lab_core::shell::{self, ShellError};
use lab_core::{ApiError, Cluster, Kind};
use serde_json::json;

/// The only subprotocol kubectl 1.33 offers over WebSocket.
pub const PROTOCOL: &str = "v5.channel.k8s.io";

/// `…/namespaces/{ns}/pods/{name}/exec`: the namespace and pod, if `path` is an exec path.
pub fn target(path: &str) -> Option<(&str, &str)> {
    match path.trim_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["api", "v1", "namespaces", ns, "pods", pod, "exec"] => Some((ns, pod)),
        _ => None,
    }
}

/// Runs the exec the query asks for; the frames to send, or the error the apiserver answers
/// instead of upgrading (kubectl prints its Status). Requests an httpd pod served go to that
/// pod's log.
pub fn run(
    cluster: &mut Cluster,
    namespace: &str,
    pod: &str,
    params: &[(String, String)],
    seed: u64,
) -> Result<Vec<Vec<u8>>, ApiError> {
    let argv: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let flag = |name: &str| params.iter().any(|(k, v)| k == name && v == "true");
    let container = params
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.as_str());
    let out =
        shell::exec(cluster, namespace, pod, container, &argv, seed).map_err(|e| match e {
            ShellError::PodNotFound { name, .. } => ApiError::NotFound {
                kind: Kind::Pod,
                name,
            },
            other => ApiError::BadRequest {
                message: other.to_string(),
            },
        })?;
    for served in &out.served {
        // The serving pod was just found by the shell, so this only fails if it vanished.
        if let Err(e) = cluster.record_served(served) {
            eprintln!("exec: logging for pod {}: {e}", served.pod);
        }
    }
    let mut frames = Vec::new();
    let mut push = |channel: u8, bytes: &[u8]| {
        if !bytes.is_empty() {
            let mut f = Vec::with_capacity(bytes.len() + 1);
            f.push(channel);
            f.extend_from_slice(bytes);
            frames.push(f);
        }
    };
    if flag("stdout") {
        push(1, out.stdout.as_bytes());
    }
    if flag("stderr") {
        push(2, out.stderr.as_bytes());
    }
    let status = if out.exit_code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({
            "metadata": {},
            "status": "Failure",
            "reason": "NonZeroExitCode",
            "message": format!(
                "command terminated with non-zero exit code: error executing command {argv:?}, exit code {}",
                out.exit_code
            ),
            "details": {"causes": [{"reason": "ExitCode", "message": out.exit_code.to_string()}]},
        })
    };
    push(3, status.to_string().as_bytes());
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(argv: &[&str]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = argv
            .iter()
            .map(|a| ("command".to_string(), a.to_string()))
            .collect();
        p.push(("stdout".into(), "true".into()));
        p.push(("stderr".into(), "true".into()));
        p
    }

    fn cluster() -> Cluster {
        let mut c = Cluster::kind();
        c.apply_manifests(include_str!(
            "../../../lab-core/tests/data/httpd-deployment.yaml"
        ))
        .unwrap();
        c.apply_manifests(include_str!("../../../lab-core/tests/data/clientpod.yaml"))
            .unwrap();
        c.settle();
        c
    }

    #[test]
    fn exec_paths() {
        assert_eq!(
            target("/api/v1/namespaces/default/pods/client/exec"),
            Some(("default", "client"))
        );
        assert_eq!(target("/api/v1/namespaces/default/pods/client/log"), None);
    }

    #[test]
    fn output_then_status_frames() {
        let mut c = cluster();
        let client = c
            .list(Kind::Pod, Some("default"))
            .find(|p| !p.name().starts_with("httpd-"))
            .expect("the client pod")
            .name()
            .to_string();
        let frames = run(&mut c, "default", &client, &params(&["hostname"]), 1).unwrap();
        assert_eq!(
            frames[0],
            [b"\x01".as_slice(), client.as_bytes(), b"\n"].concat()
        );
        assert_eq!(frames[1], b"\x03{\"metadata\":{},\"status\":\"Success\"}");
        // httpd has no nslookup: runc's error on stderr and exit code 126.
        let httpd = c
            .list(Kind::Pod, Some("default"))
            .find(|p| p.name().starts_with("httpd-"))
            .unwrap()
            .name()
            .to_string();
        let frames = run(&mut c, "default", &httpd, &params(&["nslookup", "x"]), 1).unwrap();
        assert_eq!(frames[0][0], 2);
        let status: serde_json::Value = serde_json::from_slice(&frames[1][1..]).unwrap();
        assert_eq!(status["details"]["causes"][0]["message"], "126");
        let err = run(&mut c, "default", "nosuch", &params(&["hostname"]), 1).unwrap_err();
        assert_eq!(err.code(), 404);
        let err = run(&mut c, "default", &client, &params(&[]), 1).unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn served_requests_go_to_the_pods_log() {
        let mut c = cluster();
        let (httpd, ip) = c
            .list(Kind::Pod, Some("default"))
            .find_map(|o| match o {
                lab_core::Object::Pod(p) if o.name().starts_with("httpd-") => {
                    Some((o.name().to_string(), p.status.as_ref()?.pod_ip.clone()?))
                }
                _ => None,
            })
            .expect("a running httpd pod");
        let client = c
            .list(Kind::Pod, Some("default"))
            .find(|p| !p.name().starts_with("httpd-"))
            .expect("the client pod")
            .name()
            .to_string();
        let before = c.log_seq();
        let started = c.logs("default", &httpd, None).unwrap().len();
        run(
            &mut c,
            "default",
            &client,
            &params(&["wget", "-qO-", &ip]),
            1,
        )
        .unwrap();
        let logs = c.logs("default", &httpd, None).unwrap();
        assert_eq!(logs.len(), started + 1, "{logs:?}");
        assert!(
            logs[started].contains("\"GET / HTTP/1.1\" 200 45"),
            "{logs:?}"
        );
        assert!(c.log_seq() > before);
    }
}
