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

/// The access lines of an httpd pod's log, after the four lines Apache prints as it starts
/// (checked).
fn access_lines(logs: &str) -> Vec<&str> {
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.len() >= 4, "{logs}");
    assert!(lines[..2].iter().all(|l| l.starts_with("AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using 10.244.")), "{logs}");
    assert!(
        lines[2]
            .ends_with("AH00489: Apache/2.4.65 (Unix) configured -- resuming normal operations"),
        "{logs}"
    );
    assert!(
        lines[3].ends_with("AH00094: Command line: 'httpd -D FOREGROUND'"),
        "{logs}"
    );
    lines[4..].to_vec()
}

/// `kubectl exec clientpod -- wget ARGS…`, which must succeed.
fn client_wget(home: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["exec", "clientpod", "--", "wget"];
    all.extend_from_slice(args);
    let out = kubectl_output(home, &all);
    assert!(out.status.success(), "{out:?}");
    out
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
        let out = client_wget(home, &["-S", "-qO-", "httpd-svc:8080"]);
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
            let lines = access_lines(&logs);
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
        access_lines(&logs)
            .iter()
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
    let lines = access_lines(&logs);
    assert_eq!(lines.len(), 1, "{logs}");
    assert!(lines[0].ends_with("\"GET / HTTP/1.1\" 200 45"), "{logs}");
}

#[test]
fn logs_follow_streams_new_lines_until_the_pod_goes() {
    assert!(Path::new(KUBECTL).exists(), "needs {KUBECTL} (see README)");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let _sim = Sim::start(home, &[]);
    for file in ["httpd-deployment.yaml", "clientpod.yaml"] {
        kubectl(home, &["apply", "-f", &format!("{DATA}/{file}")]);
    }
    wait_ready(home);
    let pod = kubectl(
        home,
        &[
            "get",
            "pods",
            "-l",
            "app=httpd",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ],
    );
    let ip = kubectl(
        home,
        &["get", "pod", &pod, "-o", "jsonpath={.status.podIP}"],
    );
    let wget = |home: &Path| client_wget(home, &["-qO-", &format!("http://{ip}/")]);
    wget(home);

    let mut follower = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(home.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(home.join("kube-cache"))
        .args(["logs", "-f", &pod])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running kubectl logs -f");
    let stdout = follower.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from kubectl logs -f")
    };
    // The lines already there, then one per request as it is served.
    let mut head = String::new();
    for _ in 0..5 {
        head.push_str(&next());
        head.push('\n');
    }
    assert!(
        access_lines(&head)[0].ends_with("\"GET / HTTP/1.1\" 200 45"),
        "{head}"
    );
    for _ in 0..2 {
        wget(home);
        let line = next();
        assert!(line.ends_with("\"GET / HTTP/1.1\" 200 45"), "{line}");
    }
    // The container goes with its pod: the stream ends and kubectl exits 0.
    kubectl(
        home,
        &["delete", "pod", &pod, "--grace-period=0", "--force"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = follower.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl logs -f did not end with the pod"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");

    let out = kubectl_output(home, &["logs", "--previous", "clientpod"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error from server (BadRequest): previous terminated container \"clientpod\" in pod \"clientpod\" not found\n"
    );
}
