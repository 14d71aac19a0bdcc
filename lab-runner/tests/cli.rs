//! Runs the built `lab-runner` binary the way a learner would.

use std::path::PathBuf;
use std::process::{Command, Output};

fn lab_runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab-runner"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("lab-runner runs")
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

/// Writes `text` to a file under cargo's per-test temporary directory.
fn temp_manifest(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("write temp manifest");
    path
}

/// The course's httpd Deployment and its NodePort Service (30144), as test inputs.
const COURSE: [&str; 2] = [
    "lab-core/tests/data/httpd-deployment.yaml",
    "lab-core/tests/data/httpd-service-nodeport.yaml",
];

/// Asserts that a command failed with exit code 2 and said `needle` on stderr.
fn assert_exit_2_saying(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    assert!(
        stderr(out).contains(needle),
        "expected {needle:?} in: {}",
        stderr(out)
    );
}

/// The first line at or after `from` containing every needle.
fn find_line(lines: &[&str], from: usize, needles: &[&str]) -> Option<usize> {
    (from..lines.len()).find(|&i| needles.iter().all(|n| lines[i].contains(n)))
}

#[test]
fn demo_walks_through_the_chapter() {
    let out = lab_runner(&["demo"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();

    // After step 1: three httpd Pods Running and ready, the ClusterIP Service on 8080/TCP.
    let step1 = find_line(&lines, 0, &["Step 1/4"]).expect("step 1");
    assert!(lines.contains(&"deployment.apps/httpd created"), "{text}");
    assert!(lines.contains(&"service/httpd-svc created"), "{text}");
    let step2 = find_line(&lines, step1, &["Step 2/4"]).expect("step 2");
    let running = lines[step1..step2]
        .iter()
        .filter(|l| l.starts_with("pod/httpd-") && l.contains(" 1/1 ") && l.contains(" Running "))
        .count();
    assert_eq!(running, 3, "{text}");
    let clusterip = find_line(&lines, step1, &["httpd-svc ", "ClusterIP", "8080/TCP"])
        .expect("httpd-svc 8080/TCP");
    assert!(clusterip < step2);

    // Step 2: the NodePort variant is configured in place.
    assert!(
        lines[step2..].contains(&"service/httpd-svc configured"),
        "{text}"
    );
    let nodeport = find_line(&lines, step2, &["httpd-svc ", "NodePort", "80:30144/TCP"])
        .expect("NodePort 30144");
    let step3 = find_line(&lines, step2, &["Step 3/4"]).expect("step 3");
    assert!(nodeport < step3);

    // Step 3: the headless Service has no ClusterIP.
    find_line(
        &lines,
        step3,
        &["headless-svc ", "ClusterIP", " None ", "80/TCP"],
    )
    .expect("headless-svc None");

    // Step 4: the client Pod runs too.
    let step4 = find_line(&lines, step3, &["Step 4/4"]).expect("step 4");
    assert!(lines[step4..].contains(&"pod/clientpod created"), "{text}");
    find_line(&lines, step4, &["pod/clientpod ", "1/1", "Running"]).expect("clientpod Running");
}

#[test]
fn demo_speaks_chinese_and_shows_wide_columns() {
    let out = lab_runner(&["demo", "--lang", "zh", "--wide"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("第 1/4 步"), "{text}");
    assert!(
        text.contains("$ kubectl get deploy,rs,pods -o wide"),
        "{text}"
    );
    assert!(text.contains("NOMINATED NODE   READINESS GATES"), "{text}");
    assert!(text.contains("app=httpd,pod-template-hash="), "{text}");
    // Same inputs, same output.
    assert_eq!(
        text,
        stdout(&lab_runner(&["demo", "--lang", "zh-CN", "--wide"]))
    );
}

#[test]
fn apply_prints_what_kubectl_prints() {
    let out = lab_runner(&[
        "apply",
        "-f",
        "lab-core/tests/data/httpd-deployment.yaml",
        "-f",
        "lab-core/tests/data/httpd-service.yaml",
        "--settle",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("deployment.apps/httpd created\nservice/httpd-svc created\n"),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().collect();
    let running = lines
        .iter()
        .filter(|l| l.starts_with("pod/httpd-") && l.contains("Running"))
        .count();
    assert_eq!(running, 3, "{text}");
    find_line(&lines, 0, &["service/httpd-svc ", "ClusterIP", "8080/TCP"]).expect("service row");
    find_line(&lines, 0, &["endpoints/httpd-svc ", ":80,"]).expect("endpoints row");
}

#[test]
fn apply_rejects_an_unknown_field_naming_document_and_field() {
    let bad = temp_manifest(
        "selectr.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ok\nspec:\n  ports:\n  - port: 80\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: httpd\nspec:\n  replicas: 3\n  selectr:\n    matchLabels:\n      app: httpd\n",
    );
    let out = lab_runner(&["apply", "-f", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("document 2"), "{err}");
    assert!(err.contains("unknown field \"spec.selectr\""), "{err}");
    assert!(
        stdout(&out).is_empty(),
        "nothing is applied when a file cannot be decoded"
    );
}

#[test]
fn apply_reports_an_invalid_service_like_kubectl() {
    let svc = temp_manifest(
        "nodeport-80.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: httpd-svc\nspec:\n  type: NodePort\n  selector:\n    app: httpd\n\
         \x20 ports:\n    - protocol: TCP\n      port: 8080\n      targetPort: 80\n      nodePort: 80\n",
    );
    let out = lab_runner(&["apply", "-f", svc.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        "The Service \"httpd-svc\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. \
         The range of valid ports is 30000-32767"
    );
}

#[test]
fn apply_reports_a_missing_file() {
    let out = lab_runner(&["apply", "-f", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        "error: the path \"no/such/file.yaml\" does not exist"
    );
}

#[test]
fn help_describes_the_commands() {
    let out = lab_runner(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(help.contains("demo") && help.contains("apply"), "{help}");
}

/// The shared kube-proxy fidelity case: `lab-runner rules -f httpd-3-endpoints.yaml` prints each
/// expected nat line exactly once.
#[test]
fn rules_match_the_kube_proxy_fidelity_case() {
    let dir = repo_root().join("../shared/fidelity/kube-proxy");
    let yaml = dir.join("httpd-3-endpoints.yaml");
    let expected = std::fs::read_to_string(dir.join("httpd-3-endpoints.expected-lines.txt"))
        .unwrap_or_else(|e| panic!("shared fidelity case missing in {}: {e}", dir.display()));
    let out = lab_runner(&["rules", "-f", yaml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        assert_eq!(
            text.lines().filter(|l| *l == line).count(),
            1,
            "expected exactly once: {line}\n---\n{text}"
        );
    }
    assert!(
        text.starts_with("*filter\n") || text.contains("\n*filter\n") || text.starts_with("# "),
        "{text}"
    );
    assert!(text.contains("*nat\n") && text.trim_end().ends_with("COMMIT"));

    // The restore form has the same rules, as kube-proxy writes them.
    let restore = stdout(&lab_runner(&[
        "rules",
        "-f",
        yaml.to_str().unwrap(),
        "--form",
        "restore",
    ]));
    assert!(
        restore.contains("-A KUBE-SERVICES -m comment --comment \"default/httpd-svc cluster IP\""),
        "{restore}"
    );
}

#[test]
fn rules_bad_input_exits_2() {
    let svc = temp_manifest(
        "rules-svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 80\n",
    );
    let out = lab_runner(&[
        "rules",
        "-f",
        svc.to_str().unwrap(),
        "--node",
        "kind-worker9",
    ]);
    assert_exit_2_saying(
        &out,
        "node \"kind-worker9\" not found (nodes: kind-control-plane, kind-worker, kind-worker2)",
    );
    let out = lab_runner(&["rules", "-f", svc.to_str().unwrap(), "--mode", "userspace"]);
    assert_eq!(out.status.code(), Some(2));
    let bad = temp_manifest(
        "rules-bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  prots: []\n",
    );
    let out = lab_runner(&["rules", "-f", bad.to_str().unwrap()]);
    assert_exit_2_saying(&out, "unknown field \"spec.prots\"");
}

#[test]
fn rules_in_ipvs_and_nftables_modes() {
    let files = COURSE;
    let ipvs = lab_runner(&["rules", "-f", files[0], "-f", files[1], "--mode", "ipvs"]);
    assert!(ipvs.status.success(), "{}", stderr(&ipvs));
    let text = stdout(&ipvs);
    assert!(
        text.starts_with("IP Virtual Server version 1.2.1 (size=4096)\n"),
        "{text}"
    );
    assert!(
        text.contains("TCP  172.18.0.3:30144 rr\n"),
        "NodePort on kind-worker's IP: {text}"
    );
    let addr = stdout(&lab_runner(&[
        "rules", "-f", files[0], "-f", files[1], "--mode", "ipvs", "--form", "ip-addr",
    ]));
    assert!(
        addr.contains("kube-ipvs0") && addr.contains("inet 10.96.0.10/32"),
        "{addr}"
    );
    let nft = stdout(&lab_runner(&[
        "rules",
        "-f",
        files[0],
        "-f",
        files[1],
        "--mode",
        "nftables",
        "--node",
        "kind-worker2",
    ]));
    assert!(
        nft.starts_with("table ip kube-proxy {") && nft.contains("30144"),
        "{nft}"
    );
    let wrong = lab_runner(&["rules", "-f", files[0], "--mode", "ipvs", "--form", "list"]);
    assert_exit_2_saying(&wrong, "--form list does not apply to --mode ipvs");
}

#[test]
fn trace_walks_a_packet_through_the_rules() {
    let files = COURSE;
    let out = lab_runner(&[
        "trace",
        "-f",
        files[0],
        "-f",
        files[1],
        "--from",
        "external",
        "--to",
        "172.18.0.3:30144",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("# packet from 203.0.113.10 on node kind-worker\n"),
        "{text}"
    );
    assert!(text.contains("nat    KUBE-NODEPORTS"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("=> reaches 10.244.")
            && last.contains(":80 = pod default/httpd-")
            && last.contains("masqueraded: yes"),
        "{last}"
    );
    // The same seed gives the same answer; --all lists the three endpoints.
    assert_eq!(
        text,
        stdout(&lab_runner(&[
            "trace",
            "-f",
            files[0],
            "-f",
            files[1],
            "--from",
            "external",
            "--to",
            "172.18.0.3:30144"
        ]))
    );
    let all = stdout(&lab_runner(&[
        "trace",
        "-f",
        files[0],
        "-f",
        files[1],
        "--from",
        "node/kind-worker",
        "--to",
        "172.18.0.3:30144",
        "--all",
    ]));
    assert_eq!(all.matches("## branch ").count(), 3, "{all}");
    assert!(
        all.contains("## branch 1 of 3: probability 0.3333"),
        "{all}"
    );
    // Bad input: exit code 2 with a clear message.
    for (args, msg) in [
        (
            vec!["--from", "pod/nope", "--to", "10.96.0.10:53"],
            "pod default/nope not found",
        ),
        (
            vec!["--from", "moon", "--to", "10.96.0.10:53"],
            "use pod/NAME[.NAMESPACE], node/NAME or external",
        ),
        (
            vec!["--from", "external", "--to", "httpd-svc:8080"],
            "is not IP:PORT (for example 10.96.0.10:53), or NAME:PORT from a pod",
        ),
        (
            vec!["--from", "node/kind-worker9", "--to", "10.96.0.10:53"],
            "node \"kind-worker9\" not found",
        ),
    ] {
        let mut full = vec!["trace", "-f", files[0]];
        full.extend(args);
        let out = lab_runner(&full);
        assert_exit_2_saying(&out, msg);
    }
}

/// `lab-runner trace -f COURSE… ARGS…`.
fn trace_course(args: &[&str]) -> Output {
    let mut full = vec!["trace", "-f", COURSE[0], "-f", COURSE[1]];
    full.extend(args);
    lab_runner(&full)
}

#[test]
fn trace_in_ipvs_mode_shows_the_virtual_server_and_real_server() {
    let out = trace_course(&[
        "--from",
        "external",
        "--to",
        "172.18.0.3:30144",
        "--mode",
        "ipvs",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "# kube-proxy mode: ipvs", "{text}");
    // The NodePort is marked through the ipset rule, then IPVS looks the address up.
    let np = find_line(
        &lines,
        0,
        &["--match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ"],
    )
    .expect("KUBE-NODE-PORT ipset rule");
    let vs = find_line(&lines, np, &["ipvs", "ip_vs", "virtual server"]).expect("IPVS step");
    assert_eq!(lines[vs + 1].trim(), "TCP  172.18.0.3:30144 rr");
    assert!(lines[vs + 2].contains("DNAT to 10.244."), "{text}");
    assert!(lines[vs + 3].contains("Masq    1"), "{text}");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("=> reaches 10.244.")
            && last.contains(":80 = pod default/httpd-")
            && last.contains("masqueraded: yes")
            && last.contains("hash lookups: "),
        "{last}"
    );
    // Every real server is a branch of probability 1/3.
    let all = stdout(&trace_course(&[
        "--from",
        "external",
        "--to",
        "172.18.0.3:30144",
        "--mode",
        "ipvs",
        "--all",
    ]));
    assert_eq!(all.matches("## branch ").count(), 3, "{all}");
    assert_eq!(all.matches("probability 0.3333").count(), 3, "{all}");
}

#[test]
fn trace_in_nftables_mode_follows_the_verdict_maps() {
    let out = trace_course(&[
        "--from",
        "node/kind-worker",
        "--to",
        "172.18.0.3:30144",
        "--mode",
        "nftables",
        "--seed",
        "9",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "# kube-proxy mode: nftables", "{text}");
    let svc = find_line(&lines, 0, &["nat", "services", "goto external-"])
        .expect("service-nodeports lookup");
    assert!(lines[svc + 1].contains("vmap @service-nodeports"), "{text}");
    let numgen =
        find_line(&lines, svc, &["goto endpoint-", "[p=0.33333 taken]"]).expect("numgen choice");
    assert!(
        lines[numgen + 1]
            .trim()
            .starts_with("numgen random mod 3 vmap { 0 : goto endpoint-"),
        "{text}"
    );
    assert!(
        find_line(&lines, numgen, &["DNAT to 10.244."]).is_some(),
        "{text}"
    );
    assert!(
        lines.last().unwrap().starts_with("=> reaches 10.244."),
        "{text}"
    );
    // The same seed, the same trace.
    assert_eq!(
        text,
        stdout(&trace_course(&[
            "--from",
            "node/kind-worker",
            "--to",
            "172.18.0.3:30144",
            "--mode",
            "nftables",
            "--seed",
            "9",
        ]))
    );
}

#[test]
fn trace_modes_agree_on_where_packets_may_go() {
    // A ClusterIP port that is not the Service's: nftables and IPVS reject it (cluster-ips-check,
    // KUBE-IPVS-FILTER), iptables mode has no rule for it and lets it through unchanged.
    let ip = "10.96.0.10:9999";
    for (mode, verdict) in [
        ("iptables", "=> accepted unchanged"),
        ("ipvs", "=> REJECTED"),
        ("nftables", "=> REJECTED"),
    ] {
        let out = trace_course(&["--from", "node/kind-worker", "--to", ip, "--mode", mode]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.lines().last().unwrap().starts_with(verdict),
            "{mode}: {text}"
        );
    }
    // kube-dns over UDP reaches a coredns pod on port 53 in every mode.
    for mode in ["iptables", "ipvs", "nftables"] {
        let text = stdout(&trace_course(&[
            "--from",
            "node/kind-worker",
            "--to",
            "10.96.0.10:53",
            "--proto",
            "udp",
            "--mode",
            mode,
            "--all",
        ]));
        assert_eq!(text.matches("## branch ").count(), 2, "{mode}: {text}");
        assert_eq!(
            text.matches(":53 = pod kube-system/coredns-").count(),
            2,
            "{mode}: {text}"
        );
    }
}

#[test]
fn trace_rejects_an_unknown_mode_with_exit_2() {
    let out = trace_course(&[
        "--from",
        "external",
        "--to",
        "172.18.0.3:30144",
        "--mode",
        "ebpf",
    ]);
    assert_exit_2_saying(&out, "invalid value 'ebpf' for '--mode <MODE>'");
    // Bad input stays exit 2 in the other modes too.
    for mode in ["ipvs", "nftables"] {
        let out = trace_course(&[
            "--from",
            "node/kind-worker9",
            "--to",
            "10.96.0.10:53",
            "--mode",
            mode,
        ]);
        assert_exit_2_saying(&out, "node \"kind-worker9\" not found");
    }
}
