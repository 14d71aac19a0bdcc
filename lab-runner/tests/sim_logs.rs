//! `kubectl logs` against `lab-runner sim`, with the machine's real kubectl: the access-log
//! lines the httpd pods write for a client pod's `wget`s, the apiserver's NotFound for a missing
//! pod, and the log surviving a restart of the sim.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KUBECTL: &str = "/usr/bin/kubectl";
const CURL: &str = "/usr/bin/curl";
const NODE_PORT: u16 = 30144;
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../lab-core/tests/data");

/// A running `lab-runner sim` and its stdout lines, killed on drop.
struct Sim {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Sim {
    fn start(home: &Path, extra: &[&str]) -> Sim {
        let stderr = std::fs::File::create(home.join("sim.stderr")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
            .args(["sim", "--port", "0", "--dns-port", "0"])
            .args(extra)
            .env("SVCLAB_HOME", home)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting lab-runner sim");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let sim = Sim { child, lines };
        sim.wait_line(|l| l.starts_with("export KUBECONFIG="), home);
        sim
    }

    /// Waits (30 s at most) for a stdout line `want` accepts.
    fn wait_line(&self, want: impl Fn(&str) -> bool, home: &Path) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                }
                Err(e) => {
                    let err = std::fs::read_to_string(home.join("sim.stderr")).unwrap_or_default();
                    panic!("no awaited line ({e}); stdout:\n{seen}stderr:\n{err}");
                }
            }
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl_output(home: &Path, args: &[&str]) -> Output {
    Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(home.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(home.join("kube-cache"))
        .args(args)
        .output()
        .expect("running kubectl")
}

fn kubectl(home: &Path, args: &[&str]) -> String {
    let out = kubectl_output(home, args);
    assert!(out.status.success(), "kubectl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until the three httpd pods and the client pod are Ready.
fn wait_ready(home: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = kubectl(home, &["get", "pods", "--no-headers"]);
        let ready = out
            .lines()
            .filter(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.get(1) == Some(&"1/1") && w.get(2) == Some(&"Running")
            })
            .count();
        if ready == 4 {
            return;
        }
        assert!(Instant::now() < deadline, "pods never became Ready:\n{out}");
        std::thread::sleep(Duration::from_millis(200));
    }
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

/// An offset that puts 30144 on a port free right now (ephemeral ports start above it).
fn free_offset() -> u16 {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    port.checked_sub(NODE_PORT)
        .expect("an ephemeral port above 30144")
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
