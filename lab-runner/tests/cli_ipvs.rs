//! `lab-runner rules --mode ipvs --form save|restore`: the iptables rules kube-proxy's IPVS mode
//! writes, printed by the built binary.

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

/// The course's httpd Deployment and its NodePort Service (30144).
const COURSE: [&str; 2] = [
    "lab-core/tests/data/httpd-deployment.yaml",
    "lab-core/tests/data/httpd-service-nodeport.yaml",
];

fn ipvs_rules(extra: &[&str]) -> Output {
    let mut args = vec!["rules", "-f", COURSE[0], "-f", COURSE[1], "--mode", "ipvs"];
    args.extend_from_slice(extra);
    lab_runner(&args)
}

#[test]
fn restore_form_is_kube_proxys_input_nat_first() {
    let out = ipvs_rules(&["--form", "restore"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("*nat\n:KUBE-SERVICES - [0:0]\n"), "{text}");
    let filter = text.find("*filter\n").expect("a filter table");
    // The NodePort is in KUBE-NODE-PORT-TCP, so nat marks NodePort traffic for masquerading.
    assert!(
        text[..filter].contains(
            "-A KUBE-NODE-PORT -p tcp -m comment --comment \"Kubernetes nodeport TCP port for masquerade purpose\" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ\n"
        ),
        "{text}"
    );
    assert!(
        text[filter..].contains(
            "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT\n"
        ),
        "{text}"
    );
    assert_eq!(text.matches("COMMIT\n").count(), 2, "{text}");
    // No Service is named: the sets carry them.
    assert!(!text.contains("httpd-svc"), "{text}");
}

#[test]
fn save_form_is_what_iptables_save_prints() {
    let out = ipvs_rules(&["--form", "save", "--node", "kind-worker2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\n-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\n"
        ),
        "{text}"
    );
    let nat = text.find("*nat\n").expect("a nat table");
    assert!(nat > 0, "filter comes first: {text}");
    // IPVS mode's rules hardly depend on the node: both workers run httpd pods (hairpin
    // entries) and have the same sets non-empty, so they print the same text.
    let worker = stdout(&ipvs_rules(&["--form", "save"]));
    assert_eq!(worker, text);
    // The control plane runs CoreDNS: it masquerades hairpin traffic too.
    let control = stdout(&ipvs_rules(&[
        "--form",
        "save",
        "--node",
        "kind-control-plane",
    ]));
    assert!(
        control.contains("--match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE"),
        "{control}"
    );
}

#[test]
fn ipvsadm_stays_the_default_form() {
    let out = ipvs_rules(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("IP Virtual Server version 1.2.1 (size=4096)\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_form_or_node_exits_2() {
    let out = ipvs_rules(&["--form", "transaction"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "--form transaction does not apply to --mode ipvs (choose one of: ipvsadm, ipvsadm-stats, ipset, ip-addr, save, restore)"
        ),
        "{}",
        stderr(&out)
    );
    for form in ["save", "restore"] {
        let out = ipvs_rules(&["--form", form, "--node", "nope"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn stats_form_lists_the_servers_of_ipvsadm_ln_with_zero_counters() {
    let list = ipvs_rules(&["--form", "ipvsadm"]);
    let stats = ipvs_rules(&["--form", "ipvsadm-stats"]);
    assert!(stats.status.success(), "{}", stderr(&stats));
    let (list, stats) = (stdout(&list), stdout(&stats));
    // Same servers, same order: the first column of every server line.
    let servers = |t: &str, skip: usize| -> Vec<String> {
        t.lines()
            .skip(skip)
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(servers(&list, 3), servers(&stats, 3));
    assert!(stats.contains(
        "\nTCP  172.18.0.3:30144                    0        0        0        0        0\n"
    ));
    for l in stats.lines().skip(3) {
        assert!(
            l.ends_with("        0        0        0        0        0"),
            "{l:?}"
        );
    }
}
