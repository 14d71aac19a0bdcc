//! `kubectl logs` against `lab-runner sim`, with the machine's real kubectl: the access-log
//! lines the httpd pods write for a client pod's `wget`s, the apiserver's NotFound for a missing
//! pod, and the log surviving a restart of the sim.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{
    CURL, DATA, KUBECTL, NODE_PORT, Sim, free_offset, kubectl, kubectl_output, wait_running,
};

/// Waits until the three httpd pods and the client pod are Ready.
fn wait_ready(home: &Path) {
    wait_running(home, &[], 4);
}

#[test]
fn real_kubectl_logs_shows_the_access_lines() {
    assert!(Path::new(KUBECTL).exists(), "needs {KUBECTL} (see README)");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let sim = Sim::start(home, &[]);
    for file in [
        "httpd-deployment.yaml",
        "httpd-service.yaml",
        "clientpod.yaml",
    ] {
        kubectl(home, &["apply", "-f", &format!("{DATA}/{file}")]);
    }
    wait_ready(home);
    let client_ip = kubectl(
        home,
        &["get", "pod", "clientpod", "-o", "jsonpath={.status.podIP}"],
    );
    assert!(!client_ip.is_empty());

    // Each wget's serving pod, from the X-Svclab-Pod header -S prints on stderr.
    let mut served: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..4 {
        let out = kubectl_output(
            home,
            &[
                "exec",
                "clientpod",
                "--",
                "wget",
                "-S",
                "-qO-",
                "httpd-svc:8080",
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let pod = stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("X-Svclab-Pod: "))
            .unwrap_or_else(|| panic!("no X-Svclab-Pod header in:\n{stderr}"))
            .to_string();
        *served.entry(pod).or_default() += 1;
    }

    let check = |home: &Path| {
        for (pod, n) in &served {
            let logs = kubectl(home, &["logs", pod]);
            let lines: Vec<&str> = logs.lines().collect();
            assert_eq!(lines.len(), *n, "kubectl logs {pod}:\n{logs}");
            for l in lines {
                assert!(
                    l.starts_with(&format!("{client_ip} - - ["))
                        && l.ends_with("\"GET / HTTP/1.1\" 200 45"),
                    "kubectl logs {pod}:\n{logs}"
                );
            }
            let last = kubectl(home, &["logs", pod, "-c", "httpd", "--tail", "1"]);
            assert_eq!(last.lines().count(), 1, "{last}");
        }
    };
    check(home);
    // kubectl picks one of the Deployment's pods itself, then asks for its log.
    let out = kubectl_output(home, &["logs", "deploy/httpd"]);
    assert!(out.status.success(), "{out:?}");
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        logs.lines()
            .all(|l| l.starts_with(&format!("{client_ip} - - ["))),
        "{logs}"
    );

    let out = kubectl_output(home, &["logs", "nosuch"]);
    assert!(!out.status.success());
    // kubectl looks the pod up first and words the apiserver's 404 itself, as against a real
    // cluster.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: error from server (NotFound): pods \"nosuch\" not found in namespace \"default\"\n"
    );

    // The lines are in the saved state: a restarted sim still has them.
    drop(sim);
    let _sim = Sim::start(home, &[]);
    check(home);
}

#[test]
fn node_port_requests_are_logged_too() {
    assert!(Path::new(KUBECTL).exists(), "needs {KUBECTL} (see README)");
    assert!(Path::new(CURL).exists(), "needs {CURL}");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let offset = free_offset();
    let sim = Sim::start(home, &["--nodeport-offset", &offset.to_string()]);
    for file in ["httpd-deployment.yaml", "httpd-service-nodeport.yaml"] {
        kubectl(home, &["apply", "-f", &format!("{DATA}/{file}")]);
    }
    sim.wait_line(|l| l.starts_with("NodePort "), home);
    let deadline = Instant::now() + Duration::from_secs(60);
    while kubectl(home, &["get", "pods", "--no-headers"])
        .lines()
        .filter(|l| l.contains(" 1/1 ") && l.contains(" Running "))
        .count()
        < 3
    {
        assert!(Instant::now() < deadline, "pods never became Ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = Command::new(CURL)
        .args(["--max-time", "10", "-si"])
        .arg(format!("http://127.0.0.1:{}/", NODE_PORT + offset))
        .output()
        .expect("running curl");
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    let pod = answer
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("X-Svclab-Pod: "))
        .unwrap_or_else(|| panic!("no X-Svclab-Pod header:\n{answer}"))
        .to_string();
    let logs = kubectl(home, &["logs", &pod]);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 1, "{logs}");
    assert!(lines[0].ends_with("\"GET / HTTP/1.1\" 200 45"), "{logs}");
}
