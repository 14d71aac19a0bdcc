//! What the `lab-runner sim` tests share: a running sim with its stdout lines, the machine's real
//! kubectl pointed at it, and a free NodePort offset.

// Each test binary uses its own subset.
#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
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
