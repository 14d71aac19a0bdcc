//! `GET …/namespaces/{ns}/pods/{name}/log`: a container's log as text/plain, what `kubectl logs`
//! prints. Only the options the simulated log can honour are accepted: `container` and
//! `tailLines`; `follow`, `previous` and `timestamps` are refused rather than half-done.

use lab_core::{ApiError, Cluster};

/// `…/namespaces/{ns}/pods/{name}/log`: the namespace and pod, if `path` is a log path.
pub fn target(path: &str) -> Option<(&str, &str)> {
    match path.trim_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["api", "v1", "namespaces", ns, "pods", pod, "log"] => Some((ns, pod)),
        _ => None,
    }
}

/// The body to send: the log's lines, each ending in a newline.
pub fn read(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    params: &[(String, String)],
) -> Result<String, ApiError> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    for unsupported in ["follow", "previous", "timestamps"] {
        if param(unsupported).is_some_and(|v| v == "true" || v == "1") {
            return Err(ApiError::BadRequest {
                message: format!("{unsupported}=true is not supported by the simulated cluster"),
            });
        }
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
    let lines = cluster.logs(namespace, pod, param("container"))?;
    let skip = tail.map_or(0, |n| lines.len().saturating_sub(n));
    Ok(lines[skip..].iter().map(|l| format!("{l}\n")).collect())
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
        assert_eq!(read(&c, "default", pod, &[]).unwrap(), "one\ntwo\nthree\n");
        let two = params(&[("tailLines", "2"), ("container", name)]);
        assert_eq!(read(&c, "default", pod, &two).unwrap(), "two\nthree\n");
        let zero = params(&[("tailLines", "0")]);
        assert_eq!(read(&c, "default", pod, &zero).unwrap(), "");
        let err = read(&c, "default", "nosuch", &[]).unwrap_err();
        assert_eq!(err.to_string(), "pods \"nosuch\" not found");
        let err = read(&c, "default", pod, &params(&[("follow", "true")])).unwrap_err();
        assert_eq!(err.code(), 400);
        let err = read(&c, "default", pod, &params(&[("tailLines", "x")])).unwrap_err();
        assert_eq!(err.code(), 400);
    }
}
