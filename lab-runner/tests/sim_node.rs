//! `lab-runner node exec NODE -- CMD…` against a running `lab-runner sim`: the node's
//! `iptables-save`, `ipvsadm -Ln`, `ipset list`, `ip addr show kube-ipvs0` and
//! `nft list table ip kube-proxy` are what lab-core renders for the sim's saved state, in the mode
//! set (with the machine's real kubectl) in ConfigMap kube-system/kube-proxy; the iptables and
//! nftables texts load into a real kernel in a network namespace; and the errors read as the
//! node, the apiserver and the CLI print them.

mod support;

use lab_core::Cluster;
use lab_core::proxy::{ProxySnapshot, iptables, ipvs, nftables};
use lab_core::snapshot::Snapshot;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::{DATA, KUBECTL, Sim, kubeconfig, kubectl, unused_port, wait_running};

const NODE: &str = "kind-worker";

fn lab_runner(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab-runner"))
        .args(args)
        .env("SVCLAB_HOME", home)
        .output()
        .expect("running lab-runner")
}

fn node_exec(home: &Path, command: &[&str]) -> Output {
    let mut args = vec!["node", "exec", NODE, "--"];
    args.extend_from_slice(command);
    lab_runner(home, &args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `(exit code, stdout, stderr)`.
fn result(out: &Output) -> (Option<i32>, String, String) {
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// The command's stdout on the node, with what lab-core renders for the same cluster state: the
/// sim's state file, read before and after with no change between (the exec saw that state).
fn exec_and_expect(
    home: &Path,
    command: &[&str],
    render: impl Fn(&Cluster, &ProxySnapshot) -> String,
) -> (String, String) {
    let state = home.join("state.json");
    for _ in 0..50 {
        let before = std::fs::read_to_string(&state).unwrap();
        let out = node_exec(home, command);
        let after = std::fs::read_to_string(&state).unwrap();
        if before != after {
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{command:?}: {out:?}");
        let cluster = Cluster::from_snapshot(Snapshot::from_json(&after).unwrap()).unwrap();
        let snapshot = ProxySnapshot::from_cluster(&cluster);
        return (text(&out.stdout), render(&cluster, &snapshot));
    }
    panic!("the sim's state never held still around {command:?}");
}

/// Sets `mode:` in ConfigMap kube-system/kube-proxy with the real kubectl (get, edit, replace).
fn set_mode(home: &Path, mode: &str) {
    let yaml = kubectl(
        home,
        &[
            "-n",
            "kube-system",
            "get",
            "configmap",
            "kube-proxy",
            "-o",
            "yaml",
        ],
    );
    let line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("mode: "))
        .unwrap_or_else(|| panic!("no mode in the kube-proxy ConfigMap:\n{yaml}"));
    let indent = &line[..line.len() - line.trim_start().len()];
    let edited = yaml.replacen(line, &format!("{indent}mode: {mode}"), 1);
    let file = home.join(format!("kube-proxy-{mode}.yaml"));
    std::fs::write(&file, edited).unwrap();
    kubectl(home, &["replace", "-f", file.to_str().unwrap()]);
}

/// Runs `script` in a fresh network namespace with `input` (kept in `home`) on stdin; `None`
/// (with the reason printed) if this machine does not permit `unshare -n`.
fn in_netns(home: &Path, script: &str, input: &str) -> Option<String> {
    let permitted = Command::new("unshare").args(["-n", "true"]).output();
    if !permitted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipping the kernel check: unshare -n is not permitted here ({permitted:?})");
        return None;
    }
    let file = home.join("netns-input");
    std::fs::write(&file, input).unwrap();
    let script = format!("exec <'{}' && {script}", file.display());
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .output()
        .expect("unshare runs");
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "in a network namespace: {script}\n{stderr}"
    );
    Some(text(&out.stdout))
}

/// Waits until the node's iptables rules send httpd-svc to all three pods.
fn wait_endpoints(home: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let save = text(&node_exec(home, &["iptables-save"]).stdout);
        if save.matches("\"default/httpd-svc -> ").count() == 3 {
            return save;
        }
        assert!(Instant::now() < deadline, "no endpoints in:\n{save}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn node_exec_reads_the_rules_of_each_mode_from_the_running_sim() {
    assert!(Path::new(KUBECTL).exists(), "needs {KUBECTL} (see README)");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let _sim = Sim::start(home, &[]);
    for file in ["httpd-deployment.yaml", "httpd-service.yaml"] {
        kubectl(home, &["apply", "-f", &format!("{DATA}/{file}")]);
    }
    wait_running(home, &["-l", "app=httpd"], 3);
    wait_endpoints(home);
    let cip = kubectl(
        home,
        &[
            "get",
            "svc",
            "httpd-svc",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );

    // iptables mode, kind's default.
    let (save, want) = exec_and_expect(home, &["iptables-save"], |_, s| {
        iptables::render_save(s, NODE).unwrap()
    });
    assert_eq!(save, want);
    let svc = format!(
        "KUBE-SVC-{}",
        iptables::port_proto_hash("default/httpd-svc", "tcp")
    );
    assert!(save.contains(&format!(":{svc} - [0:0]\n")), "{save}");
    assert!(
        save.contains(&format!(
            "-A KUBE-SERVICES -d {cip}/32 -p tcp -m comment --comment \"default/httpd-svc cluster IP\" -m tcp --dport 8080 -j {svc}\n"
        )),
        "{save}"
    );
    let nat = text(&node_exec(home, &["iptables-save", "-t", "nat"]).stdout);
    assert!(nat.starts_with("*nat\n") && save.ends_with(&nat), "{nat}");
    let (ipvsadm, _) = exec_and_expect(home, &["ipvsadm", "-Ln"], |_, _| String::new());
    assert_eq!(
        ipvsadm,
        "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    );
    assert_eq!(
        result(&node_exec(home, &["nft", "list", "table", "ip", "kube-proxy"])),
        (
            Some(1),
            String::new(),
            "Error: No such file or directory\nlist table ip kube-proxy\n              ^^^^^^^^^^\n"
                .to_string()
        )
    );
    // The real kernel takes the text and prints it back unchanged (kube-proxy creates the
    // nfacct counters its rules count in).
    let counters = "nfacct add ct_state_invalid_dropped_pkts >/dev/null && \
                    nfacct add localhost_nps_accepted_pkts >/dev/null";
    let test = format!("{counters} && iptables-restore --test && echo accepted");
    if let Some(accepted) = in_netns(home, &test, &save) {
        assert_eq!(accepted, "accepted\n");
        let load = format!("{counters} && iptables-restore && iptables-save");
        let back = in_netns(home, &load, &save).unwrap();
        let back: String = back
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(back, save, "iptables-save after loading the node's text");
    }

    // IPVS mode: the virtual server of httpd-svc, its address on kube-ipvs0, its ipset entry.
    set_mode(home, "ipvs");
    let (ipvsadm, want) = exec_and_expect(home, &["ipvsadm", "-Ln"], |_, s| {
        ipvs::render_ipvsadm(s, NODE).unwrap()
    });
    assert_eq!(ipvsadm, want);
    let vs = format!("TCP  {cip}:8080 rr\n");
    assert!(ipvsadm.contains(&vs), "{ipvsadm}");
    let one = text(&node_exec(home, &["ipvsadm", "-Ln", "-t", &format!("{cip}:8080")]).stdout);
    assert!(one.contains(&vs), "{one}");
    assert_eq!(one.matches("  -> 10.244.").count(), 3, "{one}");
    let (addr, want) = exec_and_expect(home, &["ip", "addr", "show", "kube-ipvs0"], |_, s| {
        ipvs::render_ip_addr(s, NODE).unwrap()
    });
    assert_eq!(addr, want);
    assert!(
        addr.contains(&format!("inet {cip}/32 scope global kube-ipvs0")),
        "{addr}"
    );
    let set = text(&node_exec(home, &["ipset", "list", "KUBE-CLUSTER-IP"]).stdout);
    assert!(set.contains(&format!("\n{cip},tcp:8080\n")), "{set}");
    let (save, want) = exec_and_expect(home, &["iptables-save"], |_, s| {
        ipvs::render_iptables_save(s, NODE).unwrap()
    });
    assert_eq!(save, want);
    assert!(
        save.contains("--match-set KUBE-CLUSTER-IP dst,dst"),
        "{save}"
    );

    // nftables mode: the table, loaded into the real kernel and listed back unchanged.
    set_mode(home, "nftables");
    let command = ["nft", "list", "table", "ip", "kube-proxy"];
    let (list, want) = exec_and_expect(home, &command, |c, s| {
        let options = nftables::NftablesOptions::for_cluster(c);
        nftables::render(s, NODE, &options).unwrap().list_text()
    });
    assert_eq!(list, want);
    assert!(list.contains("chain service-"), "{list}");
    assert!(list.contains("default/httpd-svc/tcp/"), "{list}");
    assert!(
        list.contains(&format!("{cip} . tcp . 8080 : goto service-")),
        "{list}"
    );
    if let Some(back) = in_netns(home, "nft -f - && nft list table ip kube-proxy", &list) {
        assert_eq!(back, list, "nft list after loading the node's table");
    }
    let (ipvsadm, _) = exec_and_expect(home, &["ipvsadm", "-Ln"], |_, _| String::new());
    assert_eq!(ipvsadm.lines().count(), 3, "{ipvsadm}");
    let save = text(&node_exec(home, &["iptables-save"]).stdout);
    assert!(!save.contains("KUBE-SERVICES"), "{save}");
    assert!(save.contains(":KUBE-FIREWALL - [0:0]"), "{save}");
}

/// A server that answers every request with a plain 404, as an apiserver without the sim's
/// paths does (bounded: a few connections, then it stops).
fn not_a_sim() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(4) {
            let Ok(mut conn) = conn else { break };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = "404 page not found\n";
            let _ = write!(
                conn,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn node_exec_errors_read_as_the_node_the_apiserver_and_the_cli_print_them() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let not_running = (
        Some(2),
        String::new(),
        "sim not running: run `lab-runner sim`\n".to_string(),
    );
    // No sim has ever run here: no kubeconfig.
    assert_eq!(result(&node_exec(home, &["iptables-save"])), not_running);
    // A kubeconfig left by a sim that is gone: nothing listens on its port.
    let port = unused_port();
    std::fs::write(
        home.join("kubeconfig"),
        kubeconfig(&format!("http://127.0.0.1:{port}"), "svclab"),
    )
    .unwrap();
    assert_eq!(result(&node_exec(home, &["iptables-save"])), not_running);

    // A cluster that is not the sim (no /svclab/v1/info): kind's way is docker exec.
    let other = home.join("other-kubeconfig");
    let server = format!("http://127.0.0.1:{}", not_a_sim());
    std::fs::write(&other, kubeconfig(&server, "kind-kind")).unwrap();
    let out = lab_runner(
        home,
        &[
            "node",
            "exec",
            "--kubeconfig",
            other.to_str().unwrap(),
            NODE,
            "--",
            "iptables-save",
            "-t",
            "nat",
        ],
    );
    assert_eq!(
        result(&out),
        (
            Some(2),
            String::new(),
            format!(
                "error: context \"kind-kind\" ({server}/) is not the svclab sim (no GET /svclab/v1/info): on kind, run the command in the node's container: docker exec kind-worker iptables-save -t nat\n"
            )
        )
    );

    let _sim = Sim::start(home, &[]);
    // The sim's kubeconfig named explicitly, with its context.
    let sim_kubeconfig = home.join("kubeconfig");
    let out = lab_runner(
        home,
        &[
            "node",
            "exec",
            "--kubeconfig",
            sim_kubeconfig.to_str().unwrap(),
            "--context",
            "svclab",
            "kind-control-plane",
            "--",
            "ipvsadm",
            "-Ln",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(text(&out.stdout).starts_with("IP Virtual Server version 1.2.1"));
    let out = lab_runner(home, &["node", "exec", "kind-wrker", "--", "iptables-save"]);
    assert_eq!(
        result(&out),
        (
            Some(2),
            String::new(),
            "Error from server (NotFound): nodes \"kind-wrker\" not found\n".to_string()
        )
    );
    assert_eq!(
        result(&node_exec(home, &["iptabls-save"])),
        (
            Some(127),
            String::new(),
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"iptabls-save\": executable file not found in $PATH: unknown\n"
                .to_string()
        )
    );
    let (code, stdout, stderr) = result(&node_exec(home, &["sh", "-c", "iptables-save"]));
    assert_eq!((code, stdout.as_str()), (Some(126), ""));
    assert!(
        stderr.starts_with("svclab: `sh` is not simulated on node kind-worker; the simulated node answers: iptables-save"),
        "{stderr}"
    );
    assert_eq!(
        result(&node_exec(home, &["ip", "addr", "show", "kube-ipvs0"])),
        (
            Some(1),
            String::new(),
            "Device \"kube-ipvs0\" does not exist.\n".to_string()
        )
    );
    assert_eq!(
        result(&node_exec(home, &["iptables-save", "-t", "bogus"])),
        (
            Some(1),
            String::new(),
            "Table `bogus' does not exist\n".to_string()
        )
    );
}
