//! Golden transcripts of the shell's network tools in simulated pods: busybox `ip`, `hostname`
//! with options, and the verbose forms of busybox `wget` and curl.
//!
//! Each snapshot is a transcript: the command, then stdout, stderr and the exit status, with
//! carriage returns shown as `\r` so that curl's CRLF header lines stay visible.

use k8s_openapi::api::core::v1::Pod;
use lab_core::Cluster;
use lab_core::shell::{ExecOutput, ShellError, exec};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The course's Service, renamed and selecting nothing: no endpoints.
fn empty_svc() -> String {
    include_str!("data/httpd-service.yaml")
        .replace("httpd-svc", "empty-svc")
        .replace("app: httpd", "app: nothing")
}

fn pod(name: &str, image: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
{extra}  containers:
  - name: main
    image: {image}
    command: [sleep, infinity]
"
    )
}

fn cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| {
        let mut c = Cluster::kind();
        let pods = [
            pod("box136", "busybox:1.36.1", ""),
            pod("alpinepod", "alpine:3.20", ""),
            pod("curlpod", "curlimages/curl:8.11.1", ""),
            pod("shotpod", "nicolaka/netshoot", ""),
            pod(
                "subpod",
                "busybox:1.36.1",
                "  hostname: web-0\n  subdomain: headless-svc\n",
            ),
        ];
        let mut manifests = vec![
            include_str!("data/httpd-deployment.yaml").to_string(),
            include_str!("data/httpd-service.yaml").to_string(),
            include_str!("data/clientpod.yaml").to_string(),
            empty_svc(),
        ];
        manifests.extend(pods);
        for m in manifests {
            c.apply_manifests(&m).unwrap();
        }
        c.settle();
        c
    })
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn run(pod: &str, words: &[&str]) -> ExecOutput {
    exec(cluster(), "default", pod, None, &argv(words), 5).unwrap()
}

fn transcript(pod: &str, words: &[&str]) -> String {
    let o = run(pod, words);
    let show = |s: &str| s.replace('\r', "\\r");
    format!(
        "$ kubectl exec {pod} -- {}\n--- stdout\n{}--- stderr\n{}--- exit {}\n",
        words.join(" "),
        show(&o.stdout),
        show(&o.stderr),
        o.exit_code
    )
}

fn transcripts(pod: &str, commands: &[&[&str]]) -> String {
    commands.iter().map(|c| transcript(pod, c)).collect()
}

fn pod_ip(name: &str) -> String {
    cluster()
        .get_typed::<Pod>("default", name)
        .and_then(|p| p.status.as_ref()?.pod_ip.clone())
        .unwrap()
}

fn not_modelled(pod: &str, words: &[&str]) -> bool {
    matches!(
        exec(cluster(), "default", pod, None, &argv(words), 0),
        Err(ShellError::NotModelled(_))
    )
}

#[test]
fn ip_in_busybox_128() {
    insta::assert_snapshot!(transcripts(
        "clientpod",
        &[
            &["ip", "addr"],
            &["ip", "a"],
            &["ip", "addr", "show", "eth0"],
            &["ip", "-4", "addr"],
            &["ip", "-6", "a", "s", "dev", "lo"],
            &["ip", "link"],
            &["ip", "route"],
            &["ip", "r"],
            &["ip", "route", "show", "dev", "lo"],
            &["ip", "route", "get", "10.96.0.10"],
        ],
    ));
}

#[test]
fn ip_in_busybox_136_and_alpine() {
    insta::assert_snapshot!(transcripts(
        "box136",
        &[
            &["ip", "a"],
            &["ip", "r"],
            &["sh", "-c", "ip -4 addr show eth0"]
        ],
    ));
    // musl's <net/if.h> defines IFF_DORMANT: busybox prints the operstate.
    insta::assert_snapshot!(transcripts(
        "alpinepod",
        &[&["ip", "addr"], &["ip", "route"]],
    ));
    insta::assert_snapshot!(transcripts("curlpod", &[&["ip", "link"]]));
}

#[test]
fn ip_addresses_follow_the_pod() {
    let ip = pod_ip("clientpod");
    let o = run("clientpod", &["ip", "-4", "a", "show", "eth0"]);
    let (net, host) = ip.rsplit_once('.').unwrap();
    assert!(
        o.stdout.contains(&format!(
            "    inet {ip}/24 brd {net}.255 scope global eth0\n"
        )),
        "{}",
        o.stdout
    );
    // The veth peer's index is the address's offset in the node's podCIDR.
    let peer = if host == "2" {
        "eth0@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP>".to_string()
    } else {
        format!("eth0@if{host}: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN>")
    };
    assert!(
        o.stdout.starts_with(&format!("2: {peer} mtu 1500")),
        "{}",
        o.stdout
    );
    let r = run("clientpod", &["ip", "route"]);
    assert_eq!(
        r.stdout,
        format!(
            "default via {net}.1 dev eth0 \n{net}.0/24 via {net}.1 dev eth0  src {ip} \n\
             {net}.1 dev eth0 scope link  src {ip} \n"
        )
    );
    // Two pods get two MACs.
    let mac = |p: &str| {
        run(p, &["ip", "link", "show", "eth0"])
            .stdout
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_ne!(mac("clientpod"), mac("box136"));
}

#[test]
fn ip_errors_are_busyboxs() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["ip", "addr", "bogus"],
            "ip: invalid argument 'bogus' to 'ip'\n",
        ),
        (
            &["ip", "route", "bogus"],
            "ip: invalid argument 'bogus' to 'ip'\n",
        ),
        (
            &["ip", "link", "bogus"],
            "ip: invalid argument 'bogus' to 'ip'\n",
        ),
        (
            &["ip", "a", "show", "eth1"],
            "ip: can't find device 'eth1'\n",
        ),
        (
            &["ip", "route", "list", "dev", "eth9"],
            "ip: can't find device 'eth9'\n",
        ),
        (
            &["ip", "route", "get"],
            "ip: need at least destination address\n",
        ),
        (
            &["ip", "route", "get", "default"],
            "ip: need at least destination address\n",
        ),
        (
            &["ip", "route", "get", "nosuch"],
            "ip: an inet prefix is expected rather than \"nosuch\"\n",
        ),
        (
            &["ip", "-f", "ipx", "a"],
            "ip: invalid argument 'ipx' to 'family'\n",
        ),
        (
            &["ip", "a", "show", "eth0", "lo"],
            "ip: either \"dev\" is duplicate, or \"lo\" is garbage\n",
        ),
        (
            &["ip", "a", "show", "dev"],
            "ip: command line is not complete, try \"help\"\n",
        ),
    ];
    for (words, stderr) in cases {
        let o = run("clientpod", words);
        assert_eq!(
            (o.stdout.as_str(), o.stderr.as_str(), o.exit_code),
            ("", *stderr, 1),
            "{words:?}"
        );
    }
    // The usage text carries a version banner; changing addresses needs CAP_NET_ADMIN.
    for words in [
        &["ip"][..],
        &["ip", "bogus"],
        &["ip", "-x", "a"],
        &["ip", "addr", "add", "10.0.0.1/24", "dev", "eth0"],
        &["ip", "-o", "a"],
        &["ip", "route", "get", "127.0.0.1"],
    ] {
        assert!(not_modelled("clientpod", words), "{words:?}");
    }
    // netshoot's ip is iproute2's.
    assert!(not_modelled("shotpod", &["ip", "a"]));
}

#[test]
fn httpd_has_no_ip() {
    let c = cluster();
    let httpd = c
        .list_typed::<Pod>(Some("default"))
        .filter_map(|p| p.metadata.name.clone())
        .find(|n| n.starts_with("httpd-"))
        .unwrap();
    let o = run(&httpd, &["ip", "addr"]);
    assert_eq!(
        (o.stderr.as_str(), o.exit_code),
        (
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \
             \"ip\": executable file not found in $PATH: unknown\n",
            126
        )
    );
    let o = run(&httpd, &["sh", "-c", "ip route"]);
    assert_eq!(
        (o.stderr.as_str(), o.exit_code),
        ("sh: 1: ip: not found\n", 127)
    );
}

#[test]
fn hostname_options() {
    let ip = pod_ip("clientpod");
    assert_eq!(
        run("clientpod", &["hostname", "-i"]).stdout,
        format!("{ip}\n")
    );
    assert_eq!(run("clientpod", &["hostname", "-f"]).stdout, "clientpod\n");
    assert_eq!(run("clientpod", &["hostname", "-s"]).stdout, "clientpod\n");
    assert_eq!(run("clientpod", &["hostname", "-d"]).stdout, "");
    let sub = pod_ip("subpod");
    assert_eq!(
        run("subpod", &["hostname", "-i"]).stdout,
        format!("{sub}\n")
    );
    assert_eq!(
        run("subpod", &["hostname", "-f"]).stdout,
        "web-0.headless-svc.default.svc.cluster.local\n"
    );
    assert_eq!(
        run("subpod", &["hostname", "-d"]).stdout,
        "headless-svc.default.svc.cluster.local\n"
    );
    assert_eq!(
        run("subpod", &["sh", "-c", "hostname -s"]).stdout,
        "web-0\n"
    );
    let o = run("clientpod", &["hostname", "newname"]);
    assert_eq!(
        (o.stderr.as_str(), o.exit_code),
        ("hostname: permission denied (are you root?)\n", 1)
    );
    assert!(not_modelled("clientpod", &["hostname", "-x"]));
    assert!(not_modelled(
        "clientpod",
        &["hostname", "-F", "/etc/hostname"]
    ));
}

#[test]
fn verbose_wget() {
    // busybox 1.28: the connection line, then the 1.28 progress line (31 stars on the default
    // 80 columns, since stderr is not a terminal) and the blank line PROGRESS_END adds.
    insta::assert_snapshot!(transcripts(
        "clientpod",
        &[
            &["wget", "-O-", "httpd-svc:8080"],
            &["wget", "-S", "-O", "-", "http://httpd-svc:8080/"],
            &["wget", "httpd-svc:8080"],
            &["wget", "-O", "/tmp/page.html", "httpd-svc:8080"],
        ],
    ));
    // busybox 1.36: "writing to stdout" / "saving to", the newer progress line, and
    // "written to stdout" / "saved".
    insta::assert_snapshot!(transcripts(
        "box136",
        &[
            &["wget", "-O-", "httpd-svc:8080"],
            &["wget", "httpd-svc:8080"],
            &["wget", "-O", "/tmp/page.html", "httpd-svc:8080"],
        ],
    ));
}

#[test]
fn verbose_curl() {
    insta::assert_snapshot!(transcripts(
        "curlpod",
        &[
            &["curl", "-sv", "httpd-svc:8080"],
            &["curl", "-s", "-v", "-I", "http://httpd-svc:8080/"],
            &["curl", "-svo", "/dev/null", "httpd-svc:8080"],
        ],
    ));
    let ip = cluster()
        .get_typed::<k8s_openapi::api::core::v1::Service>("default", "httpd-svc")
        .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
        .unwrap();
    // An address needs no lookup, so curl prints no resolver lines.
    let o = run("curlpod", &["curl", "-sv", &format!("http://{ip}:8080")]);
    assert!(
        o.stderr.starts_with(&format!(
            "*   Trying {ip}:8080...\n* Connected to {ip} ({ip}) port 8080\n"
        )),
        "{}",
        o.stderr
    );
    // Without -s the progress meter (timings) is drawn; failures report a timing too.
    assert!(not_modelled("curlpod", &["curl", "-v", "httpd-svc:8080"]));
    assert!(not_modelled("curlpod", &["curl", "-sv", "empty-svc:8080"]));
    // netshoot's curl version is not known.
    assert!(not_modelled("shotpod", &["curl", "-sv", "httpd-svc:8080"]));
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "ip",
            "a",
            "addr",
            "address",
            "show",
            "s",
            "list",
            "dev",
            "eth0",
            "lo",
            "eth1",
            "up",
            "link",
            "route",
            "r",
            "get",
            "to",
            "default",
            "-4",
            "-6",
            "-0",
            "-f",
            "inet",
            "--",
            "10.96.0.10",
            "10.244.1.1",
            "127.0.0.1",
            "0.0.0.0/0",
            "hostname",
            "-i",
            "-f",
            "-d",
            "-s",
            "-isf",
            "wget",
            "-O-",
            "-S",
            "curl",
            "-sv",
            "-v",
            "-I",
            "httpd-svc:8080",
            "sh",
            "-c",
            "table",
            "main",
        ])
        .prop_map(String::from),
        ".{0,16}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn network_tools_never_panic(
        tool in prop::sample::select(vec!["ip", "hostname", "wget", "curl", "sh"]),
        rest in prop::collection::vec(word(), 0..6),
        pod in prop::sample::select(vec!["clientpod", "box136", "alpinepod", "curlpod", "shotpod", "subpod"]),
        seed in any::<u64>(),
    ) {
        let mut words = vec![tool.to_string()];
        words.extend(rest);
        let _ = exec(cluster(), "default", pod, None, &words, seed);
    }
}
