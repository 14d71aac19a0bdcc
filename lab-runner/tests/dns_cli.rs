//! `lab-runner dns`: what a pod's tools print for a lookup, run as a learner would.

use std::path::PathBuf;
use std::process::{Command, Output};

const FILES: [&str; 4] = [
    "lab-core/tests/data/httpd-deployment.yaml",
    "lab-core/tests/data/httpd-service.yaml",
    "lab-core/tests/data/headless-service.yaml",
    "lab-core/tests/data/clientpod.yaml",
];

const SERVER_BLOCK: &str =
    "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\n";

fn dns(args: &[&str]) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab-runner"));
    cmd.arg("dns").current_dir(root);
    for f in FILES {
        cmd.args(["-f", f]);
    }
    cmd.args(args).output().expect("lab-runner runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8")
}

#[test]
fn busybox_128_nslookup_of_the_service_matches_what_dig_answers() {
    let out = dns(&["--from", "clientpod", "httpd-svc"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rest = stdout
        .strip_prefix(SERVER_BLOCK)
        .expect("the Server block first");
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines[0], "Name:      httpd-svc");
    let ip = lines[1]
        .strip_prefix("Address 1: ")
        .and_then(|l| l.strip_suffix(" httpd-svc.default.svc.cluster.local"))
        .expect("address with its PTR name");
    assert_eq!(lines.len(), 2);
    // The same cluster, asked with dig +short for the FQDN, gives the same ClusterIP.
    let short = dns(&[
        "--from",
        "clientpod",
        "httpd-svc.default.svc.cluster.local",
        "A",
        "--format",
        "dig-short",
    ]);
    assert_eq!(text(&short.stdout), format!("{ip}\n"));
}

#[test]
fn headless_service_lists_every_pod_with_its_endpoint_name() {
    let out = dns(&["--from", "pod/clientpod.default", "headless-svc"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let addresses: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("Address "))
        .skip(1)
        .collect();
    assert_eq!(addresses.len(), 3, "{stdout}");
    for (i, l) in addresses.iter().enumerate() {
        let (n, rest) = l
            .strip_prefix("Address ")
            .unwrap()
            .split_once(": ")
            .unwrap();
        assert_eq!(n, (i + 1).to_string());
        let (ip, name) = rest.split_once(' ').unwrap();
        assert_eq!(
            name,
            format!(
                "{}.headless-svc.default.svc.cluster.local",
                ip.replace('.', "-")
            )
        );
    }
}

#[test]
fn unknown_name_fails_like_busybox() {
    let out = dns(&["--from", "clientpod", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), SERVER_BLOCK);
    assert_eq!(text(&out.stderr), "nslookup: can't resolve 'nosuch'\n");
}

#[test]
fn walk_shows_the_search_list_queries() {
    let out = dns(&[
        "--from",
        "clientpod",
        "httpd-svc.default",
        "A",
        "--format",
        "walk",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // uClibc (busybox 1.28): as-is first (forwarded, NXDOMAIN), then the search domains.
    assert!(
        lines[0].contains("httpd-svc.default.  -> 10.96.0.10  NXDOMAIN forwarded"),
        "{stdout}"
    );
    assert!(
        lines[1].contains("httpd-svc.default.default.svc.cluster.local.")
            && lines[1].contains("NXDOMAIN aa")
    );
    assert!(
        lines[2].contains("httpd-svc.default.svc.cluster.local.")
            && lines[2].contains("NOERROR aa")
    );
    assert!(
        lines[3].starts_with("=> httpd-svc.default.svc.cluster.local. 10.96."),
        "{stdout}"
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn dig_srv_has_the_kube_dns_port_and_glue() {
    let out = dns(&[
        "--from",
        "clientpod",
        "_dns._udp.kube-dns.kube-system.svc.cluster.local",
        "SRV",
        "--format",
        "dig",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(";; ->>HEADER<<- opcode: QUERY, status: NOERROR"),
        "{stdout}"
    );
    assert!(
        stdout.contains("IN\tSRV 0 100 53 kube-dns.kube-system.svc.cluster.local.\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kube-dns.kube-system.svc.cluster.local.\t30 IN A\t10.96.0.10\n"),
        "{stdout}"
    );
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--from", "nope", "x"],
            "pods \"nope\" not found in namespace \"default\" (pods there: ",
        ),
        (
            &["--from", "clientpod", "x", "BOGUS"],
            "unknown record type \"BOGUS\"",
        ),
        (&["--from", "clientpod", "x", "SRV"], "has no -type option"),
        (
            &["--from", "clientpod", "x", "SRV", "--format", "walk"],
            "not SRV",
        ),
    ];
    for (args, needle) in cases {
        let out = dns(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // An httpd pod has no nslookup at all (dig and the walk still work).
    let web = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dns-cli-web-pod.yaml");
    std::fs::write(
        &web,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: httpd:2.4\n",
    )
    .unwrap();
    let web = web.to_str().unwrap();
    let out = dns(&["-f", web, "--from", "web", "kubernetes.default"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pod/web runs httpd:2.4, which has no nslookup"));
    let out = dns(&[
        "-f",
        web,
        "--from",
        "web",
        "kubernetes.default",
        "--format",
        "walk",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // glibc with ndots:5: the first search domain answers.
    assert!(
        text(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .starts_with("=> kubernetes.default.svc.cluster.local. 10.96.0.1")
    );
}

fn trace(args: &[&str]) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab-runner"));
    cmd.arg("trace").current_dir(root);
    for f in FILES {
        cmd.args(["-f", f]);
    }
    cmd.args(args).output().expect("lab-runner runs")
}

#[test]
fn trace_by_name_resolves_through_coredns_then_connects() {
    let out = trace(&["--from", "pod/clientpod", "--to", "httpd-svc:8080"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let dns_at = stdout
        .find("# the first DNS query, as a packet")
        .expect(&stdout);
    let conn_at = stdout.find("# the connection to 10.96.").expect(&stdout);
    assert!(dns_at < conn_at);
    let (lookup, rest) = stdout.split_at(dns_at);
    assert!(
        lookup.contains("=> httpd-svc.default.svc.cluster.local. 10.96."),
        "{lookup}"
    );
    let (dns_part, conn_part) = rest.split_at(conn_at - dns_at);
    assert!(dns_part.contains("-d 10.96.0.10/32 -p udp"), "{dns_part}");
    assert!(
        dns_part.contains("= pod kube-system/coredns-"),
        "{dns_part}"
    );
    assert!(
        conn_part.contains(":80 = pod default/httpd-"),
        "{conn_part}"
    );

    let out = trace(&["--from", "pod/clientpod", "--to", "nosuch:80"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("# \"nosuch\" did not resolve: no connection"));

    let out = trace(&["--from", "node/kind-worker", "--to", "httpd-svc:8080"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("or NAME:PORT from a pod"));
}
