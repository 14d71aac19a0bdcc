//! What each container has printed, for `kubectl logs`: the kubelet keeps a bounded tail per
//! container, and it goes with the pod when the pod is removed.

use crate::cluster::Cluster;
use crate::errors::ApiError;
use crate::object::{Kind, ObjectKey};
use crate::shell::Served;
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Lines kept per container; older ones are dropped, as log rotation would.
pub const LOG_LINES_KEPT: usize = 1000;

/// One container's log as a snapshot stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerLog {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name.
    pub container: String,
    /// Its lines, oldest first, without their newlines.
    pub lines: Vec<String>,
}

/// What a container prints as it starts, by image: the httpd image's Apache writes its error
/// log to stderr, so `kubectl logs` on a fresh httpd pod shows the ServerName warning (twice:
/// the configuration is read twice at start-up) and the two start notices. Other images print
/// nothing. Times are the start's virtual time; the thread id is the Linux tid (1 in a pod)
/// from Apache 2.4.62 on, as seen in the image's logs, and a pthread address before (2.4.59 and
/// older print one; 2.4.60–61 are assumed to be like 2.4.59).
pub(crate) fn startup_lines(image: &str, pod_ip: &str, now_ms: i64) -> Vec<String> {
    if crate::shell::toolbox(image) != crate::shell::Toolbox::Httpd {
        return Vec::new();
    }
    let version = crate::shell::http::apache_version(image);
    let patch: u32 = version
        .rsplit('.')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let tid = if patch >= 62 {
        "1".to_string()
    } else {
        let ip: u32 = pod_ip.parse::<std::net::Ipv4Addr>().map_or(0, u32::from);
        (0x7f00_0000_0000_u64 + (u64::from(ip) << 12)).to_string()
    };
    // "Wed, 25 Nov 2026 13:17:24 GMT" → "Wed Nov 25 13:17:24.uuuuuu 2026", Apache's own layout.
    let date = crate::shell::http::http_date(now_ms);
    let when = |micros_extra: i64| {
        let us = now_ms.rem_euclid(1000) * 1000 + micros_extra;
        match date.split(' ').collect::<Vec<_>>()[..] {
            [day, dd, mon, year, hms, _] => format!(
                "{} {mon} {dd} {hms}.{us:06} {year}",
                day.trim_end_matches(',')
            ),
            _ => date.clone(),
        }
    };
    let servername = format!(
        "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using {pod_ip}. Set the 'ServerName' directive globally to suppress this message"
    );
    vec![
        servername.clone(),
        servername,
        format!(
            "[{}] [mpm_event:notice] [pid 1:tid {tid}] AH00489: Apache/{version} (Unix) configured -- resuming normal operations",
            when(412)
        ),
        format!(
            "[{}] [core:notice] [pid 1:tid {tid}] AH00094: Command line: 'httpd -D FOREGROUND'",
            when(534)
        ),
    ]
}

/// (namespace, pod, container).
pub(crate) type LogKey = (String, String, String);

/// One container's kept lines and how many it has printed in all, so a follower
/// (`kubectl logs -f`) can ask for what came after the lines it has.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tail {
    lines: VecDeque<String>,
    /// Lines ever appended; the kept ones are the last `lines.len()` of them.
    total: u64,
}

impl Tail {
    fn push(&mut self, line: String) {
        if self.lines.len() >= LOG_LINES_KEPT {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.total += 1;
    }
}

/// Lines read from a container's log and where the next read starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRead {
    /// The lines, oldest first.
    pub lines: Vec<String>,
    /// Pass as `after` to read only what the container prints from now on.
    pub next: u64,
}

impl Cluster {
    /// The container a log request names, or the pod's only one; the apiserver's errors when
    /// the pod is missing, the name is wrong, or several containers leave the choice open.
    fn log_container(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
    ) -> Result<String, ApiError> {
        let not_found = || ApiError::NotFound {
            kind: Kind::Pod,
            name: pod.to_string(),
        };
        let p = self
            .get_typed::<Pod>(namespace, pod)
            .ok_or_else(not_found)?;
        let names: Vec<String> = p
            .spec
            .iter()
            .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
            .collect();
        match container {
            Some(c) if names.iter().any(|n| n == c) => Ok(c.to_string()),
            // pkg/registry/core/pod/strategy.go LogLocation.
            Some(c) => Err(ApiError::BadRequest {
                message: format!("container {c} is not valid for pod {pod}"),
            }),
            None if names.len() == 1 => Ok(names[0].clone()),
            None => Err(ApiError::BadRequest {
                message: format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    names.join(" ")
                ),
            }),
        }
    }

    /// Appends `line` (a trailing newline is dropped) to a container's log, keeping the last
    /// [`LOG_LINES_KEPT`] lines.
    pub fn append_log(
        &mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        line: &str,
    ) -> Result<(), ApiError> {
        let container = self.log_container(namespace, pod, Some(container))?;
        self.logs
            .entry((namespace.to_string(), pod.to_string(), container))
            .or_default()
            .push(line.strip_suffix('\n').unwrap_or(line).to_string());
        self.log_seq += 1;
        Ok(())
    }

    /// Records an access-log line where the serving pod's httpd wrote it: its first container,
    /// the one the shell answers HTTP from.
    pub fn record_served(&mut self, served: &Served) -> Result<(), ApiError> {
        let first = self
            .get_typed::<Pod>(&served.namespace, &served.pod)
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone())
            .ok_or_else(|| ApiError::NotFound {
                kind: Kind::Pod,
                name: served.pod.clone(),
            })?;
        self.append_log(&served.namespace, &served.pod, &first, &served.log_line)
    }

    /// A container's log lines, oldest first (`container` may be omitted for a pod with one).
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        Ok(self.logs_after(namespace, pod, container, None)?.lines)
    }

    /// The kept lines a container printed after the first `after` ones (all kept lines for
    /// `None`), and the count to pass next time: how `kubectl logs -f` is fed. Lines dropped
    /// from the tail meanwhile are skipped, as a rotated log would lose them.
    pub fn logs_after(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        after: Option<u64>,
    ) -> Result<LogRead, ApiError> {
        let container = self.log_container(namespace, pod, container)?;
        let Some(tail) = self
            .logs
            .get(&(namespace.to_string(), pod.to_string(), container))
        else {
            return Ok(LogRead {
                lines: Vec::new(),
                next: 0,
            });
        };
        let first_kept = tail.total - tail.lines.len() as u64;
        let skip = after.map_or(0, |a| {
            a.saturating_sub(first_kept).min(tail.lines.len() as u64)
        });
        Ok(LogRead {
            lines: tail.lines.iter().skip(skip as usize).cloned().collect(),
            next: tail.total,
        })
    }

    /// Counts appends, so a caller that persists can tell the logs changed (they move no
    /// resourceVersion).
    pub fn log_seq(&self) -> u64 {
        self.log_seq
    }

    /// A removed pod's logs go with it.
    pub(crate) fn drop_logs(&mut self, key: &ObjectKey) {
        if key.kind == Kind::Pod {
            let before = self.logs.len();
            self.logs
                .retain(|(ns, pod, _), _| !(*ns == key.namespace && *pod == key.name));
            if self.logs.len() != before {
                self.log_seq += 1;
            }
        }
    }

    pub(crate) fn logs_for_snapshot(&self) -> Vec<ContainerLog> {
        self.logs
            .iter()
            .map(|((namespace, pod, container), lines)| ContainerLog {
                namespace: namespace.clone(),
                pod: pod.clone(),
                container: container.clone(),
                lines: lines.lines.iter().cloned().collect(),
            })
            .collect()
    }

    pub(crate) fn restore_logs(&mut self, logs: Vec<ContainerLog>) {
        for l in logs {
            let mut lines: VecDeque<String> = l.lines.into();
            while lines.len() > LOG_LINES_KEPT {
                lines.pop_front();
            }
            let total = lines.len() as u64;
            self.logs
                .insert((l.namespace, l.pod, l.container), Tail { lines, total });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::shell::Served;
    use crate::snapshot::Snapshot;
    use crate::testutil::{cluster_with, httpd_deployment, pods};
    use crate::{Cluster, Kind};

    const TWO: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: two\nspec:\n  containers:\n  - name: a\n    image: nginx\n  - name: b\n    image: busybox\n";

    fn httpd_pod(c: &Cluster) -> String {
        pods(c, "default", "httpd-")[0]
            .metadata
            .name
            .clone()
            .unwrap_or_default()
    }

    fn served(c: &mut Cluster, pod: &str, line: &str) {
        c.record_served(&Served {
            namespace: "default".into(),
            pod: pod.into(),
            log_line: format!("{line}\n"),
        })
        .unwrap();
    }

    #[test]
    fn served_lines_land_in_the_first_container_and_survive_a_snapshot() {
        let mut c = cluster_with(&httpd_deployment(1));
        let pod = httpd_pod(&c);
        let mut want = c.logs("default", &pod, None).unwrap();
        assert_eq!(want.len(), 4, "httpd's start-up lines: {want:?}");
        let seq = c.log_seq();
        served(&mut c, &pod, "10.244.1.5 - - x \"GET / HTTP/1.1\" 200 45");
        assert!(c.log_seq() > seq);
        want.push("10.244.1.5 - - x \"GET / HTTP/1.1\" 200 45".to_string());
        assert_eq!(c.logs("default", &pod, Some("httpd")).unwrap(), want);
        let back = Cluster::from_snapshot(c.snapshot()).unwrap();
        assert_eq!(back.logs("default", &pod, None).unwrap(), want);
    }

    #[test]
    fn a_snapshot_without_logs_still_loads() {
        let c = cluster_with(&httpd_deployment(1));
        let mut json: serde_json::Value = serde_json::from_str(&c.snapshot().to_json()).unwrap();
        json.as_object_mut().unwrap().remove("logs").unwrap();
        let snap = Snapshot::from_json(&json.to_string()).unwrap();
        assert!(Cluster::from_snapshot(snap).is_ok());
    }

    #[test]
    fn the_log_keeps_only_its_tail() {
        let mut c = cluster_with(&httpd_deployment(1));
        let pod = httpd_pod(&c);
        for i in 0..super::LOG_LINES_KEPT + 5 {
            served(&mut c, &pod, &i.to_string());
        }
        let logs = c.logs("default", &pod, None).unwrap();
        assert_eq!(logs.len(), super::LOG_LINES_KEPT);
        assert_eq!(logs[0], "5");
    }

    #[test]
    fn a_follower_reads_only_what_came_after_even_past_rotation() {
        let mut c = cluster_with(&httpd_deployment(1));
        let pod = httpd_pod(&c);
        let first = c.logs_after("default", &pod, None, None).unwrap();
        assert_eq!(
            (first.lines.len(), first.next),
            (4, 4),
            "httpd's start-up lines"
        );
        served(&mut c, &pod, "a");
        served(&mut c, &pod, "b");
        let read = c
            .logs_after("default", &pod, None, Some(first.next))
            .unwrap();
        assert_eq!(
            (read.lines.clone(), read.next),
            (vec!["a".into(), "b".into()], 6)
        );
        let none = c
            .logs_after("default", &pod, None, Some(read.next))
            .unwrap();
        assert_eq!((none.lines.len(), none.next), (0, 6));
        // More than the kept tail printed between two reads: the dropped lines are gone.
        for i in 0..super::LOG_LINES_KEPT + 3 {
            served(&mut c, &pod, &i.to_string());
        }
        let late = c.logs_after("default", &pod, None, Some(6)).unwrap();
        assert_eq!(late.lines.len(), super::LOG_LINES_KEPT);
        assert_eq!(late.lines[0], "3");
        assert_eq!(late.next, 6 + super::LOG_LINES_KEPT as u64 + 3);
        // A restored cluster counts its kept lines as printed.
        let back = Cluster::from_snapshot(c.snapshot()).unwrap();
        let all = back.logs_after("default", &pod, None, None).unwrap();
        assert_eq!(all.next, super::LOG_LINES_KEPT as u64);
        let one_back = back
            .logs_after("default", &pod, None, Some(all.next - 1))
            .unwrap();
        assert_eq!(
            one_back.lines,
            vec![(super::LOG_LINES_KEPT + 2).to_string()]
        );
    }

    #[test]
    fn httpd_prints_its_start_up_lines() {
        // 2026-11-25T13:17:24.087Z.
        let at = 1_795_612_644_087;
        let lines = super::startup_lines("httpd:2.4.65", "10.244.1.2", at);
        let servername = "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using 10.244.1.2. Set the 'ServerName' directive globally to suppress this message";
        assert_eq!(
            lines,
            [
                servername,
                servername,
                "[Wed Nov 25 13:17:24.087412 2026] [mpm_event:notice] [pid 1:tid 1] AH00489: Apache/2.4.65 (Unix) configured -- resuming normal operations",
                "[Wed Nov 25 13:17:24.087534 2026] [core:notice] [pid 1:tid 1] AH00094: Command line: 'httpd -D FOREGROUND'",
            ]
        );
        let old = super::startup_lines("docker.io/library/httpd:2.4.59", "10.244.1.2", at);
        assert!(
            old[2].contains("[pid 1:tid 140390670802944] AH00489: Apache/2.4.59 (Unix)"),
            "{}",
            old[2]
        );
        assert!(super::startup_lines("busybox:1.28", "10.244.1.2", at).is_empty());
        assert!(super::startup_lines("nginx", "10.244.1.2", at).is_empty());
    }

    #[test]
    fn apiserver_errors() {
        let mut c = cluster_with(TWO);
        let err = c.logs("default", "nosuch", None).unwrap_err();
        assert_eq!(err.to_string(), "pods \"nosuch\" not found");
        assert_eq!(err.code(), 404);
        let err = c.logs("default", "two", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a container name must be specified for pod two, choose one of: [a b]"
        );
        assert_eq!(err.code(), 400);
        let err = c.append_log("default", "two", "c", "x").unwrap_err();
        assert_eq!(err.to_string(), "container c is not valid for pod two");
        c.append_log("default", "two", "b", "from b").unwrap();
        assert_eq!(c.logs("default", "two", Some("b")).unwrap(), vec!["from b"]);
        assert!(c.logs("default", "two", Some("a")).unwrap().is_empty());
    }

    #[test]
    fn logs_go_with_the_pod() {
        let mut c = cluster_with(TWO);
        c.append_log("default", "two", "a", "line").unwrap();
        c.delete(Kind::Pod, "default", "two").unwrap();
        c.settle();
        assert!(c.get(Kind::Pod, "default", "two").is_none());
        assert!(c.logs.is_empty());
        // A new pod of the same name starts with an empty log.
        c.apply_manifests(TWO).unwrap();
        c.settle();
        assert!(c.logs("default", "two", Some("a")).unwrap().is_empty());
    }
}
