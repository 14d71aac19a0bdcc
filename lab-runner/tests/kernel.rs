//! The rules `lab-runner rules` prints are loaded into a real kernel, in a network namespace this
//! test creates (`unshare -n`), and read back with the real `iptables-save`: the kernel must
//! accept every rule and print them back byte for byte (spec/kube-proxy.md §8). The same for the
//! nftables mode with the real `nft`. Needs root and Debian's iptables, nfacct and nftables, which
//! `scripts/setup` installs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SCENARIO: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd
spec:
  replicas: 3
  selector:
    matchLabels: {app: httpd}
  template:
    metadata:
      labels: {app: httpd}
    spec:
      containers:
      - name: httpd
        image: httpd
        ports:
        - {containerPort: 80, name: http}
        - {containerPort: 5000, protocol: UDP, name: stats}
        - {containerPort: 7000, protocol: SCTP, name: sctp}
---
apiVersion: v1
kind: Service
metadata: {name: httpd-svc}
spec:
  type: NodePort
  selector: {app: httpd}
  ports:
  - {name: web, port: 8080, targetPort: http, nodePort: 30144}
  - {name: stats, port: 5000, protocol: UDP, targetPort: stats}
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: httpd}
  sessionAffinity: ClientIP
  ports:
  - {port: 80, targetPort: 80}
---
apiVersion: v1
kind: Service
metadata: {name: local-lb}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  externalIPs: [192.0.2.50]
  selector: {app: httpd}
  ports:
  - {port: 80, targetPort: 80}
---
apiVersion: v1
kind: Service
metadata: {name: sctp-svc}
spec:
  selector: {app: httpd}
  ports:
  - {port: 7000, protocol: SCTP, targetPort: sctp}
---
apiVersion: v1
kind: Service
metadata: {name: nobody-home}
spec:
  selector: {app: nothing}
  ports:
  - {port: 80}
";

fn rules(file: &Path, node: &str, form: &str) -> String {
    rules_in(file, node, "iptables", form)
}

fn rules_in(file: &Path, node: &str, mode: &str, form: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
        .args([
            "rules",
            "-f",
            file.to_str().unwrap(),
            "--node",
            node,
            "--mode",
            mode,
            "--form",
            form,
        ])
        .output()
        .expect("lab-runner runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `script` in a fresh network namespace with `input` on stdin; returns stdout.
fn in_netns(script: &str, input: &str) -> String {
    // kube-proxy creates its nfacct counters at start-up; a fresh namespace has none.
    let script = format!(
        "nfacct add ct_state_invalid_dropped_pkts >/dev/null && nfacct add localhost_nps_accepted_pkts >/dev/null && {script}"
    );
    let mut child = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) runs; this test needs root, iptables and nfacct: run scripts/setup");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "in a network namespace: {script}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn kernel_accepts_our_rules_and_prints_them_back_unchanged() {
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-scenario.yaml");
    std::fs::write(&file, SCENARIO).unwrap();
    for node in ["kind-control-plane", "kind-worker", "kind-worker2"] {
        let save = rules(&file, node, "save");
        // externalTrafficPolicy: Local has a KUBE-SVL chain where httpd pods run, DROPs elsewhere.
        let local = if node == "kind-control-plane" {
            "has no local endpoints"
        } else {
            "KUBE-SVL-"
        };
        for needle in [
            "-m recent --rcheck --seconds 10800 --reap",
            "-p sctp",
            "-p udp",
            "--dport 30144",
            "192.0.2.50",
            "has no endpoints",
            local,
        ] {
            assert!(
                save.contains(needle),
                "{node}: scenario should exercise {needle:?}"
            );
        }
        let back = in_netns("iptables-restore && iptables-save", &save);
        let back: String = back
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            back, save,
            "{node}: iptables-save after loading our save form differs"
        );
        // kube-proxy's own input (the restore form) is accepted too.
        in_netns("iptables-restore --test", &rules(&file, node, "restore"));
    }
}

#[test]
fn kernel_accepts_our_nftables_table_and_lists_it_unchanged() {
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-scenario-nft.yaml");
    std::fs::write(&file, SCENARIO).unwrap();
    for node in ["kind-control-plane", "kind-worker", "kind-worker2"] {
        let list = rules_in(&file, node, "nftables", "list");
        assert!(list.starts_with("table ip kube-proxy {"), "{list}");
        let transaction = rules_in(&file, node, "nftables", "transaction");
        let back = in_netns("nft -f - && nft list table ip kube-proxy", &transaction);
        assert_eq!(
            back, list,
            "{node}: nft list after loading our transaction differs"
        );
    }
}
