//! `GET …/namespaces/{ns}/pods/{name}/log`: a container's log as text/plain, what `kubectl logs`
//! prints. Options: `container`, `tailLines`, `follow` (the server streams what the container
//! prints next: see `log_stream` in the sim module) and `previous` (simulated containers never
//! restart, so it is the apiserver's "not found"); `timestamps` is refused rather than
//! half-done (the simulated log keeps no times).

use lab_core::{ApiError, Cluster};

/// `…/namespaces/{ns}/pods/{name}/log`: the namespace and pod, if `path` is a log path.
pub fn target(path: &str) -> Option<(&str, &str)> {
    match path.trim_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["api", "v1", "namespaces", ns, "pods", pod, "log"] => Some((ns, pod)),
        _ => None,
    }
}

/// What a first read sends and how a follower goes on.
#[derive(Debug, PartialEq, Eq)]
pub struct Read {
    /// The log's lines, each ending in a newline.
    pub text: String,
    /// `Some(next)` when the client asked to follow: read on from `next` with [`more`].
    pub follow: Option<u64>,
    /// The container read, for the follower.
    pub container: String,
}

/// The first answer to a log request.
pub fn read(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    params: &[(String, String)],
) -> Result<Read, ApiError> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let flag = |name: &str| param(name).is_some_and(|v| v == "true" || v == "1");
    if flag("timestamps") {
        return Err(ApiError::BadRequest {
            message: "timestamps=true is not supported by the simulated cluster".into(),
        });
    }
    let tail = match param("tailLines") {
        None => None,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Err(ApiError::BadRequest {
                    message: format!(
                        "tailLines: Invalid value: {v:?}: must be a non-negative integer"
                    ),
                });
            }
        },
    };
    let container = container_name(cluster, namespace, pod, param("container"))?;
    if flag("previous") {
        // The kubelet's answer for a container that never restarted (every simulated one).
        return Err(ApiError::BadRequest {
            message: format!(
                "previous terminated container \"{container}\" in pod \"{pod}\" not found"
            ),
        });
    }
    let read = cluster.logs_after(namespace, pod, Some(&container), None)?;
    let skip = tail.map_or(0, |n| read.lines.len().saturating_sub(n));
    Ok(Read {
        text: text(&read.lines[skip..]),
        follow: flag("follow").then_some(read.next),
        container,
    })
}

/// The container a request names, or the pod's only one (the cluster's errors otherwise).
fn container_name(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(c) = container {
        // Validated by the read itself.
        cluster.logs_after(namespace, pod, Some(c), None)?;
        return Ok(c.to_string());
    }
    cluster.logs_after(namespace, pod, None, None)?;
    let only = cluster
        .get_typed::<k8s_openapi::api::core::v1::Pod>(namespace, pod)
        .and_then(|p| p.spec.as_ref())
        .and_then(|s| s.containers.first())
        .map(|c| c.name.clone());
    only.ok_or_else(|| ApiError::BadRequest {
        message: format!("pod {pod} has no containers"),
    })
}

/// A follower's next chunk: the lines printed since `after` (maybe none) and the new position;
/// an error once the pod is gone, which ends the stream as a container's exit ends the real one.
pub fn more(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    container: &str,
    after: u64,
) -> Result<(String, u64), ApiError> {
    let read = cluster.logs_after(namespace, pod, Some(container), Some(after))?;
    Ok((text(&read.lines), read.next))
}

fn text(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn log_paths() {
        assert_eq!(
            target("/api/v1/namespaces/default/pods/web/log"),
            Some(("default", "web"))
        );
        assert_eq!(target("/api/v1/namespaces/default/pods/web/exec"), None);
    }

    #[test]
    fn lines_tail_and_errors() {
        let mut c = Cluster::kind();
        c.apply_manifests(include_str!("../../../lab-core/tests/data/clientpod.yaml"))
            .unwrap();
        c.settle();
        let (pod, name) = ("clientpod", "clientpod");
        for l in ["one", "two", "three"] {
            c.append_log("default", pod, name, l).unwrap();
        }
        let text = |p: &[(String, String)]| read(&c, "default", pod, p).unwrap().text;
        assert_eq!(text(&[]), "one\ntwo\nthree\n");
        let two = params(&[("tailLines", "2"), ("container", name)]);
        assert_eq!(text(&two), "two\nthree\n");
        let zero = params(&[("tailLines", "0")]);
        assert_eq!(text(&zero), "");
        let err = read(&c, "default", "nosuch", &[]).unwrap_err();
        assert_eq!(err.to_string(), "pods \"nosuch\" not found");
        let err = read(&c, "default", pod, &params(&[("timestamps", "true")])).unwrap_err();
        assert_eq!(err.code(), 400);
        let err = read(&c, "default", pod, &params(&[("previous", "true")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "previous terminated container \"clientpod\" in pod \"clientpod\" not found"
        );
        let err = read(&c, "default", pod, &params(&[("container", "x")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "container x is not valid for pod clientpod"
        );
        let err = read(&c, "default", pod, &params(&[("tailLines", "x")])).unwrap_err();
        assert_eq!(err.code(), 400);

        // Following: the tail first, then only what is printed later.
        let follow = params(&[("follow", "true"), ("tailLines", "1")]);
        let first = read(&c, "default", pod, &follow).unwrap();
        assert_eq!(first.text, "three\n");
        let next = first.follow.expect("a follower");
        assert_eq!(
            more(&c, "default", pod, &first.container, next).unwrap(),
            (String::new(), next)
        );
        c.append_log("default", pod, name, "four").unwrap();
        assert_eq!(
            more(&c, "default", pod, &first.container, next).unwrap(),
            ("four\n".to_string(), next + 1)
        );
        c.delete_with_grace(lab_core::Kind::Pod, "default", pod, 0)
            .unwrap();
        assert!(more(&c, "default", pod, &first.container, next).is_err());
    }
}
