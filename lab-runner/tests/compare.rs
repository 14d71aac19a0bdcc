//! `lab-runner compare` against real parts:
//!
//! - the embedded sim: for every lab's solution, the rules predicted from the listed objects and
//!   the rules the sim's nodes show (and the probe pod's real `nslookup` answers) are identical,
//!   in the mode each lab runs in, and in the other two modes for the practical lab;
//! - a real kernel: the sim's rules for one node loaded into a network namespace this test
//!   creates, read back through `--node-command` with the real `iptables-save` (and
//!   `nft list ruleset` for nftables), identical; then one rule changed in the namespace is
//!   exactly one mismatch;
//! - kind's path (`docker exec NODE …`, chosen when the cluster is not the sim) through a relay
//!   that hides the sim's own paths, with a `docker` on PATH that runs the command on the sim's
//!   node; and without Docker, exit 2 and why. A real kind cluster is `#[ignore]`d: it needs
//!   Docker (book chapter "Prediction and reality" has the commands).

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{Sim, api_port, apply_dir, free_offset, kubeconfig, kubectl, not_the_sim, settle};

const LABS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../labs");
const SCHEMA: &str = include_str!("../../docs/compare-report.schema.json");

/// The report must be what docs/compare-report.schema.json describes.
fn assert_valid(report: &Value) {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
    let counted: usize = mismatches(report).len()
        + report["dns"]["lookups"]
            .as_array()
            .map_or(0, |l| l.iter().filter(|l| !l["cause"].is_null()).count());
    assert_eq!(report["mismatches"], counted, "{report:#}");
}

fn lab_runner(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lab-runner"));
    c.env("SVCLAB_HOME", home)
        .env("LANG", "en_US.UTF-8")
        .env("NO_COLOR", "1")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("KUBECONFIG");
    c
}

fn run(home: &Path, args: &[&str]) -> Output {
    lab_runner(home)
        .args(args)
        .output()
        .expect("lab-runner runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `compare … --format json`: exit code and report.
fn compare_json(home: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["compare", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(home, &all);
    let report = serde_json::from_str(&text(&out.stdout))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"));
    assert_valid(&report);
    (out.status.code(), report, text(&out.stderr))
}

/// Every mismatch in a report: (owner, place, predicted, found, cause kind).
fn mismatches(report: &Value) -> Vec<(String, String, String, String, String)> {
    let mut out = Vec::new();
    for n in report["nodes"].as_array().unwrap() {
        for o in n["owners"].as_array().unwrap() {
            let owner = o["owner"]["name"]
                .as_str()
                .unwrap_or("kube-proxy")
                .to_string();
            for m in o["mismatches"].as_array().unwrap() {
                out.push((
                    owner.clone(),
                    m["place"].as_str().unwrap().to_string(),
                    m["predicted"].as_str().unwrap_or("").to_string(),
                    m["found"].as_str().unwrap_or("").to_string(),
                    m["cause"]["kind"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

/// `kubectl` works and every pod that can start has started.
fn solved(home: &Path, lab: &Path) {
    let out = run(
        home,
        &[
            "reset",
            lab.file_name().unwrap().to_str().unwrap(),
            "--labs",
            LABS,
        ],
    );
    assert!(out.status.success(), "reset: {out:?}");
    apply_dir(home, &lab.join("solution"));
    settle(home);
}

/// A fresh sim (in a home of its own) with `lab`'s solution applied and compared identical.
fn lab_on_a_sim(lab: &Path) -> (tempfile::TempDir, Sim) {
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    let offset = free_offset().to_string();
    let sim = Sim::start(home, &["--nodeport-offset", &offset]);
    solved(home, lab);
    identical(home, &[], &lab.display().to_string());
    (home_dir, sim)
}

fn set_mode(home: &Path, mode: &str) {
    let patch = format!(
        r#"{{"data":{{"config.conf":"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: 10.244.0.0/16\nmode: {mode}\n"}}}}"#
    );
    kubectl(
        home,
        &[
            "-n",
            "kube-system",
            "patch",
            "configmap",
            "kube-proxy",
            "-p",
            &patch,
        ],
    );
}

/// Compares until identical (kube-proxy's view and the object lists are read a moment apart;
/// 20 s at most), then returns the report.
fn identical(home: &Path, args: &[&str], what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, report, stderr) = compare_json(home, args);
        if code == Some(0) {
            assert_eq!(report["mismatches"], 0);
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: exit {code:?}: {stderr}\n{:#?}",
            mismatches(&report)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn every_labs_solution_predicted_equals_what_the_sim_shows() {
    let mut labs: Vec<PathBuf> = std::fs::read_dir(LABS)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("lab.yaml").is_file())
        .collect();
    labs.sort();
    assert!(labs.len() >= 6, "{labs:?}");
    // Two labs at a time: each has its own sim.
    for pair in labs.chunks(2) {
        std::thread::scope(|s| {
            for lab in pair {
                s.spawn(move || {
                    let id = lab.file_name().unwrap().to_str().unwrap();
                    let (home_dir, _sim) = lab_on_a_sim(lab);
                    let home = home_dir.path();
                    let report = identical(home, &["--all-nodes", "--dns"], id);
                    assert_eq!(report["sim"], true);
                    let nodes = report["nodes"].as_array().unwrap();
                    assert_eq!(nodes.len(), 3, "{id}");
                    for n in nodes {
                        let owners = n["owners"].as_array().unwrap();
                        assert!(
                            owners
                                .iter()
                                .any(|o| o["owner"]["name"] == "default/kubernetes:https"),
                            "{id}: {n:#}"
                        );
                        assert!(
                            owners
                                .iter()
                                .all(|o| o["predictedLines"].as_u64() > Some(0))
                        );
                    }
                    let lookups = report["dns"]["lookups"].as_array().unwrap();
                    assert!(
                        lookups.iter().any(|l| l["name"] == "kubernetes.default"),
                        "{id}: {lookups:#?}"
                    );
                    // The practical lab in the other modes too.
                    if id.starts_with("06") {
                        for mode in ["ipvs", "nftables"] {
                            set_mode(home, mode);
                            let r = identical(home, &["--all-nodes"], &format!("{id} {mode}"));
                            assert_eq!(r["nodes"][0]["mode"], mode);
                        }
                    }
                });
            }
        });
    }
}

#[test]
fn text_report_and_a_changed_rule_through_a_node_command_template() {
    let (home_dir, _sim) = lab_on_a_sim(&Path::new(LABS).join("01-clusterip"));
    let home = home_dir.path();

    let out = run(home, &["compare"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "node kind-worker (kube-proxy mode iptables), read with: lab-runner node exec kind-worker -- iptables-save\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("  ✓ default/httpd-svc: "), "{stdout}");
    assert!(stdout.ends_with("identical: 1 node\n"), "{stdout}");
    let zh = lab_runner(home)
        .args(["compare", "--lang", "zh"])
        .output()
        .unwrap();
    assert!(
        text(&zh.stdout).ends_with("一致：1 个节点\n"),
        "{}",
        text(&zh.stdout)
    );

    // The node's "real" rules through a template: the sim's own, with one DNAT target changed.
    let save = text(
        &run(
            home,
            &["node", "exec", "kind-worker", "--", "iptables-save"],
        )
        .stdout,
    );
    let dnat = save
        .lines()
        .find(|l| l.contains("\"default/httpd-svc\"") && l.contains("--to-destination"))
        .expect("a DNAT of httpd-svc on kind-worker");
    let target = dnat.rsplit(' ').next().unwrap();
    let template = format!(
        "{} node exec {{node}} -- {{command}} | sed 's/--to-destination {target}$/--to-destination 10.244.9.9:80/'",
        env!("CARGO_BIN_EXE_lab-runner")
    );
    let (code, report, stderr) = compare_json(home, &["--node-command", &template]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        report["secondLook"], true,
        "a stale-looking result is looked at twice"
    );
    let m = mismatches(&report);
    assert_eq!(m.len(), 1, "{m:#?}");
    let (owner, place, predicted, found, cause) = &m[0];
    assert_eq!(owner, "default/httpd-svc");
    assert!(place.starts_with("nat KUBE-SEP-"), "{place}");
    assert!(
        predicted.ends_with(&format!("--to-destination {target}")),
        "{predicted}"
    );
    assert!(found.ends_with("--to-destination 10.244.9.9:80"), "{found}");
    assert_eq!(cause, "stale-sync");

    // Could not compare: an unknown node, a node command that fails, a sim that is gone.
    let out = run(home, &["compare", "--node", "kind-worker9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "nodes \"kind-worker9\" not found (nodes: kind-control-plane, kind-worker, kind-worker2)"
        ),
        "{out:?}"
    );
    let out = run(
        home,
        &["compare", "--node-command", "echo nope >&2; exit 7"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`echo nope >&2; exit 7` exited with 7: nope"),
        "{out:?}"
    );
    let out = run(home, &["compare", "--node-command", "echo hello"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`echo hello` did not print what `iptables-save` prints"),
        "{out:?}"
    );
    drop(_sim);
    let out = run(home, &["compare"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("sim not running"), "{out:?}");
}

#[test]
fn kinds_docker_exec_path_and_a_clear_message_without_docker() {
    let (home_dir, _sim) = lab_on_a_sim(&Path::new(LABS).join("02-nodeport"));
    let home = home_dir.path();

    // A cluster that is not the sim (its /svclab paths answer 404), under a kind-* context.
    let relay = not_the_sim(api_port(home), None);
    let kind = home.join("kind-kubeconfig");
    std::fs::write(
        &kind,
        kubeconfig(&format!("http://127.0.0.1:{relay}"), "kind-kind"),
    )
    .unwrap();
    let kind_arg = kind.to_str().unwrap();

    // `docker exec NODE CMD…` answered by the sim's node, as kind's node container would.
    let bin = home.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        format!(
            "#!/bin/sh\n[ \"$1\" = exec ] || exit 125\nshift\nnode=$1\nshift\nSVCLAB_HOME={} exec {} node exec \"$node\" -- \"$@\"\n",
            home.display(),
            env!("CARGO_BIN_EXE_lab-runner")
        ),
    )
    .unwrap();
    Command::new("chmod")
        .args(["+x", docker.to_str().unwrap()])
        .status()
        .unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let out = lab_runner(home)
        .env("PATH", &path)
        .args(["compare", "--kubeconfig", kind_arg, "--all-nodes", "--dns"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.starts_with(&format!("context kind-kind (http://127.0.0.1:{relay}/)\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains("read with: docker exec kind-worker2 iptables-save\n"),
        "{stdout}"
    );
    assert!(stdout.contains("DNS: nslookup (busybox 1.28) in default/svclab-probe"));

    // Without Docker: could not compare, and why.
    let empty = home.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = lab_runner(home)
        .env("PATH", empty.to_str().unwrap())
        .args(["compare", "--kubeconfig", kind_arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("docker is not installed"),
        "{}",
        text(&out.stderr)
    );

    // --dns off the sim and kind-*: the probe pod only with --allow-context.
    let other = home.join("other-kubeconfig");
    std::fs::write(
        &other,
        kubeconfig(&format!("http://127.0.0.1:{relay}"), "staging"),
    )
    .unwrap();
    kubectl(home, &["delete", "pod", "svclab-probe", "--wait=false"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while kubectl(home, &["get", "pods", "-o", "name"]).contains("svclab-probe") {
        assert!(Instant::now() < deadline, "the probe pod was never deleted");
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = lab_runner(home)
        .env("PATH", &path)
        .args(["compare", "--kubeconfig", other.to_str().unwrap(), "--dns"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("only with --allow-context"),
        "{}",
        text(&out.stderr)
    );
}

/// A network namespace that lives as long as this value: `unshare -n` running `sleep`,
/// entered with `nsenter -t PID -n`.
struct Netns(std::process::Child);

impl Netns {
    fn new() -> Netns {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) runs; this test needs root: run scripts/setup");
        // Until the namespace is there, nsenter enters the parent's.
        std::thread::sleep(Duration::from_millis(200));
        Netns(child)
    }

    fn enter(&self) -> String {
        format!("nsenter -t {} -n", self.0.id())
    }

    /// Runs `script` inside, with `input` on stdin.
    fn sh(&self, script: &str, input: &str) -> String {
        use std::io::Write as _;
        let mut child = Command::new("sh")
            .args(["-c", &format!("{} sh -c '{script}'", self.enter())])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{script}: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_sims_rules_in_a_real_kernel_and_one_rule_changed_there() {
    let (home_dir, _sim) = lab_on_a_sim(&Path::new(LABS).join("02-nodeport"));
    let home = home_dir.path();

    // iptables: the sim's kind-worker rules loaded into a namespace, read by the real
    // iptables-save.
    let ns = Netns::new();
    let save = text(
        &run(
            home,
            &["node", "exec", "kind-worker", "--", "iptables-save"],
        )
        .stdout,
    );
    ns.sh(
        "nfacct add ct_state_invalid_dropped_pkts >/dev/null && nfacct add localhost_nps_accepted_pkts >/dev/null && iptables-restore",
        &save,
    );
    assert!(
        ns.sh("iptables-save", "")
            .starts_with("# Generated by iptables-save")
    );
    let template = format!("{} {{command}}", ns.enter());
    let args = ["--node", "kind-worker", "--node-command", template.as_str()];
    let (code, report, stderr) = compare_json(home, &args);
    assert_eq!(code, Some(0), "{stderr}{:#?}", mismatches(&report));

    // One rule changed in the kernel: exactly that mismatch.
    let sep = save
        .lines()
        .find(|l| l.starts_with("-A KUBE-SEP-") && l.contains("--to-destination"))
        .unwrap();
    let chain = sep.split_whitespace().nth(1).unwrap();
    let rule = sep.split_once(&format!("-A {chain} ")).unwrap().1;
    let changed = rule.replace(rule.rsplit(' ').next().unwrap(), "10.244.9.9:80");
    ns.sh(&format!("iptables -t nat -R {chain} 2 {changed}"), "");
    let (code, report, stderr) = compare_json(home, &args);
    assert_eq!(code, Some(1), "{stderr}");
    let m = mismatches(&report);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!(m[0].1, format!("nat {chain}"));
    assert_eq!(m[0].2, sep);
    assert_eq!(m[0].3, format!("-A {chain} {changed}"));
    assert_eq!(m[0].4, "stale-sync");
    drop(ns);

    // nftables: the table loaded with the real nft, read back as the whole ruleset beside
    // another program's table.
    set_mode(home, "nftables");
    identical(home, &[], "02 nftables");
    let ns = Netns::new();
    let list = text(
        &run(
            home,
            &[
                "node",
                "exec",
                "kind-worker",
                "--",
                "nft",
                "list",
                "table",
                "ip",
                "kube-proxy",
            ],
        )
        .stdout,
    );
    ns.sh("nft -f -", &list);
    ns.sh(
        "nft add table ip nat && nft add chain ip nat POSTROUTING { type nat hook postrouting priority srcnat \\; } && nft add rule ip nat POSTROUTING oifname eth0 masquerade",
        "",
    );
    let template = format!("{} nft list ruleset", ns.enter());
    let args = ["--node", "kind-worker", "--node-command", template.as_str()];
    let (code, report, stderr) = compare_json(home, &args);
    assert_eq!(code, Some(0), "{stderr}{:#?}", mismatches(&report));
    let foreign = &report["nodes"][0]["foreign"];
    assert_eq!(foreign[0]["place"], "table ip nat", "{foreign:#}");

    // One verdict-map element changed: exactly that mismatch.
    let element = list
        .lines()
        .flat_map(|l| l.split([',', '{', '}']))
        .map(str::trim)
        .find(|e| e.contains(" : goto service-") && e.contains("default/httpd-svc"))
        .expect("httpd-svc's service-ips element")
        .to_string();
    let key = element.split(" : ").next().unwrap();
    ns.sh(
        &format!("nft delete element ip kube-proxy service-ips {{ {key} }}"),
        "",
    );
    let (code, report, stderr) = compare_json(home, &args);
    assert_eq!(code, Some(1), "{stderr}");
    let m = mismatches(&report);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!(m[0].0, "default/httpd-svc");
    assert_eq!(m[0].1, "map service-ips");
    assert_eq!(m[0].2, element);
    assert_eq!(m[0].3, "");
}

#[test]
#[ignore = "needs Docker and a kind cluster (lab-runner cluster create; see the book's \
            \"Prediction and reality\" chapter): cargo test -p lab-runner --test compare -- --ignored"]
fn a_real_kind_cluster_matches_its_prediction() {
    let home_dir = tempfile::tempdir().unwrap();
    let out = run(
        home_dir.path(),
        &["compare", "--context", "kind-kind", "--all-nodes", "--dns"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
