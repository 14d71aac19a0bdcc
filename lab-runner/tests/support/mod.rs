//! What the `lab-runner sim` tests share: a running sim with its stdout lines, the machine's real
//! kubectl pointed at it, and a free NodePort offset.

// Each test binary uses its own subset.
#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const KUBECTL: &str = "/usr/bin/kubectl";
pub const CURL: &str = "/usr/bin/curl";
pub const NODE_PORT: u16 = 30144;
pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../lab-core/tests/data");

/// A running `lab-runner sim` and its stdout lines, killed on drop.
pub struct Sim {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The start-up lines, up to and including `export KUBECONFIG=…`.
    pub banner: String,
}

impl Sim {
    pub fn start(home: &Path, extra: &[&str]) -> Sim {
        let stderr = std::fs::File::create(home.join("sim.stderr")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
            .args(["sim", "--port", "0", "--dns-port", "0"])
            .args(extra)
            .env("SVCLAB_HOME", home)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting lab-runner sim");
        let lines = line_reader(child.stdout.take().unwrap());
        let mut sim = Sim {
            child,
            lines,
            banner: String::new(),
        };
        let mut banner = String::new();
        sim.wait_line(
            |l| {
                banner.push_str(l);
                banner.push('\n');
                l.starts_with("export KUBECONFIG=")
            },
            home,
        );
        sim.banner = banner;
        sim
    }

    /// Waits (30 s at most) for a stdout line `want` accepts.
    pub fn wait_line(&self, mut want: impl FnMut(&str) -> bool, home: &Path) -> String {
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

impl Sim {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the sim as Ctrl-C would (SIGTERM) and waits for it to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        self.child.wait().unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn kubectl_output(home: &Path, args: &[&str]) -> Output {
    Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(home.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(home.join("kube-cache"))
        .args(args)
        .output()
        .expect("running kubectl")
}

pub fn kubectl(home: &Path, args: &[&str]) -> String {
    let out = kubectl_output(home, args);
    assert!(out.status.success(), "kubectl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits (60 s at most) until `count` pods listed by `kubectl get pods SELECTOR…` are 1/1 Running.
pub fn wait_running(home: &Path, selector: &[&str], count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut args = vec!["get", "pods", "--no-headers"];
    args.extend_from_slice(selector);
    loop {
        let out = kubectl(home, &args);
        let ready = out
            .lines()
            .filter(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.get(1) == Some(&"1/1") && w.get(2) == Some(&"Running")
            })
            .count();
        if ready == count {
            return;
        }
        assert!(Instant::now() < deadline, "pods never became Ready:\n{out}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An offset that puts 30144 on a port free right now: the kernel's pick for port 0, minus
/// 30144 (ephemeral ports start above it).
pub fn free_offset() -> u16 {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    port.checked_sub(NODE_PORT)
        .expect("an ephemeral port above 30144")
}

/// A port nothing listens on right now (the kernel's pick, released).
pub fn unused_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A kubeconfig with one cluster at `server` (no credentials) under context `context`.
pub fn kubeconfig(server: &str, context: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n\
         contexts:\n- name: {context}\n  context:\n    cluster: c\n    user: u\n\
         current-context: {context}\nusers:\n- name: u\n  user: {{}}\n"
    )
}

/// A child's output, line by line, read on a thread of its own.
pub fn line_reader(output: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// `kubectl apply -f DIR` when the folder holds manifests.
pub fn apply_dir(home: &Path, dir: &Path) {
    let has_yaml = std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml")
        })
    });
    if has_yaml {
        kubectl(home, &["apply", "-f", dir.to_str().unwrap()]);
    }
}

/// Waits (40 s at most) until every pod in the cluster is Running with all containers ready;
/// returns anyway then (a lab's starting state may hold a pod that never starts).
pub fn settle(home: &Path) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        let out = kubectl(home, &["get", "pods", "-A", "--no-headers"]);
        let ready = out.lines().all(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let counts = w.get(2).and_then(|r| r.split_once('/'));
            counts.is_some_and(|(a, b)| a == b) && w.get(3) == Some(&"Running")
        });
        if ready {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The sim's API port, from its kubeconfig.
pub fn api_port(home: &Path) -> u16 {
    let k = std::fs::read_to_string(home.join("kubeconfig")).unwrap();
    let server = k
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: http://127.0.0.1:"))
        .expect("the sim's server");
    server.trim().parse().unwrap()
}

/// A Kubernetes API that is not the sim: everything is relayed to `upstream` but the sim's own
/// paths (`/svclab/…`), which get the plain 404 a real apiserver gives, and `forbidden` (a
/// path), which gets RBAC's 403. One request per connection (so each is looked at). Bounded:
/// 1000 connections, each idle for 30 s at most.
pub fn not_the_sim(upstream: u16, forbidden: Option<&'static str>) -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(1000) {
            let Ok(client) = conn else { break };
            std::thread::spawn(move || relay(client, upstream, forbidden));
        }
    });
    port
}

fn relay(mut client: TcpStream, upstream: u16, forbidden: Option<&str>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let path = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    if path.starts_with("/svclab/") {
        let body = "404 page not found\n";
        let _ = write!(
            client,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    if forbidden.is_some_and(|f| path.split('?').next() == Some(f)) {
        let resource = path
            .rsplit('/')
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        let body = format!(
            r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{resource} is forbidden: User \"learner\" cannot list resource \"{resource}\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{{"kind":"{resource}"}},"code":403}}"#
        );
        let _ = write!(
            client,
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    // One request per connection: ask the upstream to close after its answer (an upgrade
    // keeps its own Connection header).
    let lower = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if !lower.contains("\r\nconnection:") {
        let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        head.splice(end..end, b"\r\nConnection: close".iter().copied());
    }
    let Ok(mut server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
        return;
    };
    if server.write_all(&head).is_err() {
        return;
    }
    let (Ok(mut from_client), Ok(mut to_server)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}
