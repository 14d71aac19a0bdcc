//! `lab-runner sim`'s NodePort listeners, driven by the machine's real kubectl and curl: the
//! chapter's NodePort Service answers on 127.0.0.1:<nodePort + offset> with the simulated
//! httpd pods' page, spread over the pods, and its listener closes with the Service.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KUBECTL: &str = "/usr/bin/kubectl";
const CURL: &str = "/usr/bin/curl";
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../lab-core/tests/data");
const NODE_PORT: u16 = 30144;
const IT_WORKS: &str = "<html><body><h1>It works!</h1></body></html>\n";

/// A running `lab-runner sim` and its stdout lines, killed on drop.
struct Sim {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Sim {
    fn start(home: &Path, offset: u16) -> Sim {
        let stderr = std::fs::File::create(home.join("sim.stderr")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
            .args(["sim", "--port", "0", "--dns-port", "0", "--nodeport-offset"])
            .arg(offset.to_string())
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

fn kubectl(home: &Path, args: &[&str]) -> String {
    let out = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(home.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(home.join("kube-cache"))
        .args(args)
        .output()
        .expect("running kubectl");
    assert!(out.status.success(), "kubectl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn curl(args: &[&str]) -> Output {
    Command::new(CURL)
        .args(["--max-time", "10"])
        .args(args)
        .output()
        .expect("running curl")
}

/// An offset that puts 30144 on a port free right now: the kernel's pick for port 0, minus
/// 30144 (ephemeral ports start above it).
fn free_offset() -> u16 {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    port.checked_sub(NODE_PORT)
        .expect("an ephemeral port above 30144")
}

fn wait_for_three_ready_pods(home: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = kubectl(home, &["get", "pods", "-l", "app=httpd", "--no-headers"]);
        let ready = out
            .lines()
            .filter(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.get(1) == Some(&"1/1") && w.get(2) == Some(&"Running")
            })
            .count();
        if ready == 3 {
            return;
        }
        assert!(Instant::now() < deadline, "pods never became Ready:\n{out}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn real_curl_reaches_the_pods_through_the_node_port() {
    assert!(Path::new(KUBECTL).exists(), "needs {KUBECTL} (see README)");
    assert!(Path::new(CURL).exists(), "needs {CURL}");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let offset = free_offset();
    let local = NODE_PORT + offset;
    let sim = Sim::start(home, offset);
    kubectl(
        home,
        &[
            "apply",
            "-f",
            &format!("{DATA}/httpd-deployment.yaml"),
            "-f",
            &format!("{DATA}/httpd-service-nodeport.yaml"),
        ],
    );
    let line = sim.wait_line(|l| l.starts_with("NodePort "), home);
    assert_eq!(
        line,
        format!("NodePort default/httpd-svc {NODE_PORT} → 127.0.0.1:{local}")
    );
    wait_for_three_ready_pods(home);
    let url = format!("http://127.0.0.1:{local}/");

    let out = curl(&["-s", &url]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), IT_WORKS);

    let pods: BTreeSet<String> = kubectl(home, &["get", "pods", "-l", "app=httpd", "-o", "name"])
        .lines()
        .filter_map(|l| l.strip_prefix("pod/").map(String::from))
        .collect();
    let mut reached = BTreeSet::new();
    for _ in 0..12 {
        let out = curl(&["-sI", &url]);
        assert!(out.status.success(), "{out:?}");
        let head = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nServer: Apache/2.4."), "{head}");
        let pod = head
            .lines()
            .find_map(|l| l.strip_prefix("X-Svclab-Pod: "))
            .unwrap_or_else(|| panic!("no X-Svclab-Pod header:\n{head}"))
            .to_string();
        assert!(pods.contains(&pod), "{pod} is not one of {pods:?}");
        reached.insert(pod);
    }
    assert!(reached.len() > 1, "12 requests all reached {reached:?}");

    // Not GET/HEAD: the listener's own 400.
    let out = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "POST",
        &url,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");

    // No endpoints left: kube-proxy rejects, and the listener resets the connection
    // (curl 56: "Recv failure: Connection reset by peer").
    kubectl(home, &["scale", "deployment", "httpd", "--replicas=0"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = curl(&["-s", &url]);
        if out.status.code() == Some(56) {
            assert_eq!(out.stdout, b"");
            break;
        }
        assert!(Instant::now() < deadline, "never reset: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    kubectl(home, &["delete", "service", "httpd-svc"]);
    sim.wait_line(
        |l| l == format!("NodePort default/httpd-svc {NODE_PORT} closed"),
        home,
    );
    let out = curl(&["-s", &url]);
    // 7: could not connect (nothing listens any more).
    assert_eq!(out.status.code(), Some(7), "{out:?}");
}
