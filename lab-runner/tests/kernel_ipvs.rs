//! The iptables rules and ipsets of kube-proxy's IPVS mode, loaded into a real kernel in a
//! network namespace this test creates (`unshare -n`), and read back with the real tools
//! (spec/kube-proxy.md §8): the ipsets from our `ipset list` text with `ipset restore`, then
//! kube-proxy's restore input with `iptables-restore --test`, then our save form with a real
//! `iptables-restore`, then kube-proxy's restore input again over it (`--noflush`, as kube-proxy
//! loads it on a node). `iptables-save` must print our save form back after both loads, and
//! `ipset list` our sets.
//!
//! `-m ipvs` rules (`KUBE-IPVS-OUT-FILTER`) need the kernel's `xt_ipvs`; where it is missing they
//! are checked by `iptables-restore --test` only and left out of the real loads, with a printed
//! note. IPVS itself (`ipvsadm`) and the `kube-ipvs0` dummy device are not checked here.
//!
//! The Services come from lab-core directly rather than from `lab-runner rules`, because only a
//! cluster with the simulated LoadBalancer pool on gives ingress IPs (and so the LoadBalancer
//! sets and source-range rules). Needs root and Debian's iptables and ipset (`scripts/setup`).

use lab_core::Cluster;
use lab_core::config::{ClusterConfig, DEFAULT_LB_POOL};
use lab_core::proxy::ProxySnapshot;
use lab_core::proxy::iptables::IptablesOptions;
use lab_core::proxy::ipvs::{self, IpvsIptablesRules, IpvsOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
  externalIPs: [192.0.2.40]
  selector: {app: httpd}
  ports:
  - {name: web, port: 8080, targetPort: http, nodePort: 30144}
  - {name: stats, port: 5000, protocol: UDP, targetPort: stats, nodePort: 30145}
  - {name: sctp, port: 7000, protocol: SCTP, targetPort: sctp, nodePort: 30146}
---
apiVersion: v1
kind: Service
metadata: {name: local-lb}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32000
  externalIPs: [192.0.2.50]
  selector: {app: httpd}
  ports:
  - {name: web, port: 80, targetPort: 80, nodePort: 30150}
  - {name: stats, port: 5000, protocol: UDP, targetPort: stats, nodePort: 30151}
  - {name: sctp, port: 7000, protocol: SCTP, targetPort: sctp, nodePort: 30152}
---
apiVersion: v1
kind: Service
metadata: {name: fenced-lb}
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [203.0.113.0/25]
  selector: {app: httpd}
  ports:
  - {port: 8081, targetPort: 80}
---
apiVersion: v1
kind: Service
metadata: {name: node-allowed-lb}
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [203.0.113.0/25, 172.18.0.0/16]
  selector: {app: httpd}
  ports:
  - {port: 8082, targetPort: 80}
---
apiVersion: v1
kind: Service
metadata: {name: nobody-home}
spec:
  selector: {app: nothing}
  ports:
  - {port: 80}
";

const NODES: [&str; 3] = ["kind-control-plane", "kind-worker", "kind-worker2"];

fn snapshot() -> ProxySnapshot {
    let mut c = Cluster::new(ClusterConfig {
        load_balancer_pool: Some(DEFAULT_LB_POOL),
        ..ClusterConfig::kind()
    });
    c.apply_manifests(SCENARIO).expect("scenario applies");
    c.settle();
    ProxySnapshot::from_cluster(&c)
}

/// `ipset restore` input for our `ipset list` text: each set's `create NAME TYPE HEADER`, then
/// an `add` per member.
fn ipset_restore_input(list: &str) -> String {
    let mut out = String::new();
    let (mut name, mut set_type, mut members) = ("", "", false);
    for l in list.lines() {
        if let Some(n) = l.strip_prefix("Name: ") {
            (name, members) = (n, false);
        } else if let Some(t) = l.strip_prefix("Type: ") {
            set_type = t;
        } else if let Some(h) = l.strip_prefix("Header: ") {
            out.push_str(&format!("create {name} {set_type} {h}\n"));
        } else if l == "Members:" {
            members = true;
        } else if l.is_empty() {
            members = false;
        } else if members {
            out.push_str(&format!("add {name} {l}\n"));
        }
    }
    out
}

/// `ipset list` reduced to what we render: the kernel's own header lines (revision, memory,
/// references) and header fields (`bucketsize`, `initval`) dropped, members sorted as text (the
/// kernel lists a hash set in hash order).
fn normalise_ipset_list(list: &str) -> String {
    let mut out = String::new();
    let mut members: Vec<&str> = Vec::new();
    let mut in_members = false;
    let flush = |out: &mut String, members: &mut Vec<&str>| {
        members.sort_unstable();
        for m in members.drain(..) {
            out.push_str(m);
            out.push('\n');
        }
    };
    for l in list.lines() {
        if in_members && !l.is_empty() {
            members.push(l);
            continue;
        }
        if l.is_empty() {
            flush(&mut out, &mut members);
            in_members = false;
            out.push('\n');
            continue;
        }
        if l.starts_with("Revision: ")
            || l.starts_with("Size in memory: ")
            || l.starts_with("References: ")
        {
            continue;
        }
        if let Some(h) = l.strip_prefix("Header: ") {
            let h = h.split(" bucketsize ").next().unwrap_or(h);
            out.push_str(&format!("Header: {h}\n"));
            continue;
        }
        in_members = l == "Members:";
        out.push_str(l);
        out.push('\n');
    }
    flush(&mut out, &mut members);
    out
}

fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Runs `script` with `sh` in a fresh network namespace, in directory `dir`.
fn in_netns(dir: &Path, script: &str) -> Output {
    Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .current_dir(dir)
        .output()
        .expect("unshare (util-linux) runs; this test needs root: run scripts/setup")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Why the kernel cannot hold ipsets here, if it cannot; panics if the `ipset` tool is missing.
fn ip_set_unavailable(dir: &Path) -> Option<String> {
    let out = in_netns(dir, "ipset create svclab-probe hash:ip,port");
    if out.status.success() {
        return None;
    }
    let err = text(&out.stderr);
    assert!(
        !err.contains("not found"),
        "the ipset tool is missing (Debian package ipset): run scripts/setup\n{err}"
    );
    Some(err.trim().to_string())
}

/// Whether the kernel takes `-m ipvs` rules (`xt_ipvs`); prints why not.
fn ipvs_match_loads(dir: &Path) -> bool {
    let out = in_netns(
        dir,
        "printf '*filter\\n:P - [0:0]\\n-A P -m ipvs --vaddr 192.0.2.1 --vproto tcp --vport 80 -j DROP\\nCOMMIT\\n' | iptables-restore",
    );
    if !out.status.success() {
        eprintln!(
            "note: this kernel has no xt_ipvs ({}): the KUBE-IPVS-OUT-FILTER `-m ipvs` rules are checked by `iptables-restore --test` only",
            text(&out.stderr).trim().replace('\n', " ")
        );
    }
    out.status.success()
}

#[test]
fn kernel_loads_ipvs_mode_ipsets_and_rules_and_prints_them_back() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-ipvs");
    std::fs::create_dir_all(&dir).expect("temp dir");
    if let Some(reason) = ip_set_unavailable(&dir) {
        eprintln!("SKIPPED: this kernel cannot create ipsets (ip_set): {reason}");
        return;
    }
    let ipvs_loads = ipvs_match_loads(&dir);
    let snap = snapshot();
    let mut ipvs_rules_seen = 0;
    for node in NODES {
        let state = ipvs::render(&snap, node, &IpvsOptions::default()).expect("known node");
        let rules = IpvsIptablesRules::from_state(&state, &snap, &IptablesOptions::kind())
            .expect("known node");
        let (restore, save) = (rules.restore_text(), rules.save_text());
        for needle in [
            "KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN",
            "KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN",
            "KUBE-LOAD-BALANCER-SOURCE-IP dst,dst,src -j RETURN",
            "KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ",
            "KUBE-EXTERNAL-IP-LOCAL dst,dst -m physdev",
            "KUBE-NODE-PORT-LOCAL-UDP dst -j RETURN",
            "-p sctp",
            "\\'hash ip:port\\'",
            "-m ipvs --vproto 6",
            "KUBE-LOOP-BACK dst,dst,src -j MASQUERADE",
        ] {
            assert!(
                save.contains(needle),
                "{node}: scenario should exercise {needle:?}\n{save}"
            );
        }
        // Without xt_ipvs the kernel refuses `-m ipvs`: those lines leave the real loads.
        let keep = |t: &str| -> String {
            t.lines()
                .filter(|l| ipvs_loads || !l.contains(" -m ipvs "))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        ipvs_rules_seen += save.lines().filter(|l| l.contains(" -m ipvs ")).count();
        let (restore_loaded, save_loaded) = (keep(&restore), keep(&save));

        let sets = ipset_restore_input(&state.ipset_list_text());
        for (file, body) in [
            ("sets", &sets),
            ("restore-full", &restore),
            ("restore", &restore_loaded),
            ("save", &save_loaded),
        ] {
            std::fs::write(dir.join(format!("{node}.{file}")), body).expect("write input");
        }
        let out = in_netns(
            &dir,
            &format!(
                "set -e; ipset restore < {node}.sets; iptables-restore --test < {node}.restore-full; \
                 iptables-restore < {node}.save; iptables-save > {node}.back-save; \
                 iptables-restore --noflush < {node}.restore; iptables-save > {node}.back-restore; \
                 ipset list > {node}.back-sets"
            ),
        );
        assert!(
            out.status.success(),
            "{node}: in a network namespace: {}",
            text(&out.stderr)
        );
        let read =
            |f: &str| std::fs::read_to_string(dir.join(format!("{node}.{f}"))).expect("output");
        assert_eq!(
            without_comments(&read("back-save")),
            save_loaded,
            "{node}: iptables-save after loading our save form differs"
        );
        assert_eq!(
            without_comments(&read("back-restore")),
            save_loaded,
            "{node}: iptables-save after kube-proxy's restore input differs from our save form"
        );
        assert_eq!(
            normalise_ipset_list(&read("back-sets")),
            normalise_ipset_list(&state.ipset_list_text()),
            "{node}: ipset list differs"
        );
    }
    // fenced-lb's source range excludes every node.
    assert_eq!(ipvs_rules_seen, NODES.len());
}

#[test]
fn ipset_text_converts_to_restore_input() {
    let list = "Name: A\nType: hash:ip,port\nHeader: family inet hashsize 1024 maxelem 65536\nNumber of entries: 2\nMembers:\n10.96.0.1,tcp:443\n10.96.0.10,udp:53\n\nName: B\nType: bitmap:port\nHeader: range 0-65535\nNumber of entries: 0\nMembers:\n";
    assert_eq!(
        ipset_restore_input(list),
        "create A hash:ip,port family inet hashsize 1024 maxelem 65536\nadd A 10.96.0.1,tcp:443\nadd A 10.96.0.10,udp:53\ncreate B bitmap:port range 0-65535\n"
    );
    let kernel = "Name: A\nType: hash:ip,port\nRevision: 7\nHeader: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1\nSize in memory: 264\nReferences: 2\nNumber of entries: 2\nMembers:\n10.96.0.10,udp:53\n10.96.0.1,tcp:443\n";
    assert_eq!(
        normalise_ipset_list(kernel),
        "Name: A\nType: hash:ip,port\nHeader: family inet hashsize 1024 maxelem 65536\nNumber of entries: 2\nMembers:\n10.96.0.1,tcp:443\n10.96.0.10,udp:53\n"
    );
}
