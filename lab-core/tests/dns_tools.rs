//! The pod side of DNS (`spec/dns.md` §4–5): resolv.conf, the libc search walks of the §4.5
//! table, and the tools' output — busybox nslookup against the shared fidelity cases, dig
//! against the real `dig` asking a local server that answers with `dns::wire::handle`.

use hickory_proto::rr::RecordType;
use k8s_openapi::api::core::v1::{Pod, Service};
use lab_core::Cluster;
use lab_core::dns::resolver::{
    self, Family, KubeletDns, Libc, LookupError, Nslookup, ResolvConf, image_resolver,
    pod_resolv_conf, resolv_conf, walk,
};
use lab_core::dns::tools::{self, DigRun, ToolOutput};
use lab_core::dns::{DnsSnapshot, ResponseCode};
use std::net::{IpAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const DEPLOYMENT: &str = include_str!("data/httpd-deployment.yaml");
const SERVICE: &str = include_str!("data/httpd-service.yaml");
const HEADLESS: &str = include_str!("data/headless-service.yaml");
const CLIENT: &str = include_str!("data/clientpod.yaml");

fn course_cluster() -> Cluster {
    let mut c = Cluster::kind();
    for m in [DEPLOYMENT, SERVICE, HEADLESS, CLIENT] {
        c.apply_manifests(m).unwrap();
    }
    c.settle();
    c
}

fn cluster_ip(c: &Cluster, ns: &str, svc: &str) -> String {
    c.get_typed::<Service>(ns, svc)
        .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
        .unwrap()
}

fn pod(json: serde_json::Value) -> Pod {
    serde_json::from_value(json).unwrap()
}

/// resolv.conf of a ClusterFirst pod in `default` on a kind node.
fn default_conf(c: &Cluster) -> ResolvConf {
    resolv_conf(
        &pod(
            serde_json::json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": []}}),
        ),
        &KubeletDns::kind(c.config()),
    )
}

// ---------------------------------------------------------------------------------------------
// The shared fidelity cases: fenced blocks after their captions, read at test time.

struct Block {
    caption: String,
    text: String,
}

fn fidelity_blocks() -> Vec<Block> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fidelity/dns/public-cases.md"
    );
    let text = std::fs::read_to_string(path).expect("shared fidelity cases are readable");
    let mut out = Vec::new();
    let mut caption = String::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        match (&mut body, line.starts_with("```")) {
            (None, true) => body = Some(String::new()),
            (Some(b), true) => {
                out.push(Block {
                    caption: caption.clone(),
                    text: std::mem::take(b),
                });
                body = None;
            }
            (Some(b), false) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, false) if !line.trim().is_empty() => caption = line.to_string(),
            (None, false) => {}
        }
    }
    out
}

/// The block whose caption contains `needle`.
fn block(needle: &str) -> Block {
    fidelity_blocks()
        .into_iter()
        .find(|b| b.caption.contains(needle))
        .unwrap_or_else(|| panic!("no fidelity block captioned {needle:?}"))
}

/// The command between the first pair of backticks of a caption.
fn caption_command(caption: &str) -> Vec<String> {
    caption
        .split('`')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn run_busybox_128(c: &Cluster, cmd: &[String]) -> ToolOutput {
    assert_eq!(cmd[0], "nslookup");
    let s = DnsSnapshot::from_cluster(c);
    let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
    tools::nslookup_busybox_128(&s, &default_conf(c), &args).unwrap()
}

#[test]
fn fidelity_nslookup_kubernetes_default() {
    let b = block("nslookup kubernetes.default");
    assert!(b.caption.contains("exit 0"));
    let c = Cluster::kind();
    let out = run_busybox_128(&c, &caption_command(&b.caption));
    assert_eq!(out.stdout, b.text);
    assert_eq!(out.stderr, "");
    assert_eq!(out.exit_code, 0);
}

#[test]
fn fidelity_nslookup_nosuch_fails_on_stderr() {
    let b = block("nslookup nosuch");
    assert!(b.caption.contains("stdout then stderr, exit 1"));
    let c = Cluster::kind();
    let out = run_busybox_128(&c, &caption_command(&b.caption));
    assert_eq!(format!("{}{}", out.stdout, out.stderr), b.text);
    assert_eq!(out.stderr, "nslookup: can't resolve 'nosuch'\n");
    assert_eq!(out.exit_code, 1);
}

#[test]
fn fidelity_pod_resolv_conf() {
    let b = block("/etc/resolv.conf");
    assert!(b.caption.contains("ClusterFirst") && b.caption.contains("namespace default"));
    let c = course_cluster();
    let client = c.get_typed::<Pod>("default", "clientpod").unwrap();
    assert_eq!(pod_resolv_conf(&c, client).text(), b.text);
}

// ---------------------------------------------------------------------------------------------
// resolv.conf: the kubelet's policies and limits, containerd's layout.

#[test]
fn resolv_conf_policies() {
    let c = Cluster::kind();
    let k = KubeletDns::kind(c.config());
    let conf = |spec: serde_json::Value| {
        resolv_conf(
            &pod(
                serde_json::json!({"metadata": {"name": "p", "namespace": "team-a"}, "spec": spec}),
            ),
            &k,
        )
        .text()
    };
    let cluster_first = "search team-a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n";
    let node = "nameserver 172.18.0.1\noptions ndots:0\n";
    assert_eq!(conf(serde_json::json!({"containers": []})), cluster_first);
    assert_eq!(
        conf(serde_json::json!({"containers": [], "dnsPolicy": "ClusterFirst"})),
        cluster_first
    );
    // ClusterFirst on the host network falls back to the node's file; WithHostNet keeps the
    // cluster form.
    assert_eq!(
        conf(serde_json::json!({"containers": [], "hostNetwork": true})),
        node
    );
    assert_eq!(
        conf(
            serde_json::json!({"containers": [], "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"})
        ),
        cluster_first
    );
    assert_eq!(
        conf(serde_json::json!({"containers": [], "dnsPolicy": "Default"})),
        node
    );
    assert_eq!(
        conf(
            serde_json::json!({"containers": [], "dnsPolicy": "None", "dnsConfig": {
            "nameservers": ["192.0.2.53"], "searches": ["lab.test"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}})
        ),
        "search lab.test\nnameserver 192.0.2.53\noptions ndots:2 edns0\n"
    );
    // dnsConfig is appended without duplicates and its options override by name.
    assert_eq!(
        conf(serde_json::json!({"containers": [], "dnsConfig": {
            "nameservers": ["10.96.0.10", "192.0.2.53"], "searches": ["svc.cluster.local", "lab.test"],
            "options": [{"name": "ndots", "value": "1"}]}})),
        "search team-a.svc.cluster.local svc.cluster.local cluster.local lab.test\nnameserver 10.96.0.10\nnameserver 192.0.2.53\noptions ndots:1\n"
    );
}

#[test]
fn resolv_conf_node_search_domains_and_limits() {
    let c = Cluster::kind();
    let mut k = KubeletDns::kind(c.config());
    k.node_resolv_conf =
        "# host\nnameserver 172.18.0.1\nsearch corp.example cluster.local. .\noptions ndots:0 edns0\noptions ndots:1\n"
            .into();
    let p = pod(
        serde_json::json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": []}}),
    );
    let conf = resolv_conf(&p, &k);
    // Node domains follow the cluster's, de-duplicated; `.` is dropped.
    assert_eq!(
        conf.search,
        [
            "default.svc.cluster.local",
            "svc.cluster.local",
            "cluster.local",
            "corp.example"
        ]
    );
    assert!(conf.warnings.is_empty());
    let host = ResolvConf::parse(&k.node_resolv_conf);
    assert_eq!(host.options, ["ndots:1", "edns0"]);
    assert_eq!(host.ndots(), 1);

    // 40 node domains: cut to 32.
    let many: Vec<String> = (0..40).map(|i| format!("d{i}.example")).collect();
    k.node_resolv_conf = format!("nameserver 172.18.0.1\nsearch {}\n", many.join(" "));
    let conf = resolv_conf(&p, &k);
    assert_eq!(conf.search.len(), resolver::MAX_SEARCH_PATHS);
    assert_eq!(conf.search[31], "d28.example");
    assert!(conf.warnings[0].starts_with("Search Line limits were exceeded"));

    // Long domains: the joined line is cut from the end to 2048 characters.
    let long: Vec<String> = (0..12)
        .map(|i| format!("{i:02}{}", ".x".repeat(100)))
        .collect();
    k.node_resolv_conf = format!("nameserver 172.18.0.1\nsearch {}\n", long.join(" "));
    let conf = resolv_conf(&p, &k);
    let line = conf.search.join(" ");
    assert!(
        line.len() <= resolver::MAX_SEARCH_LIST_CHARS,
        "{}",
        line.len()
    );
    assert_eq!(conf.search.len(), 3 + 9);
    assert!(!conf.warnings.is_empty());

    // More than three nameservers: the first three.
    let p4 = pod(
        serde_json::json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {
        "containers": [], "dnsPolicy": "None",
        "dnsConfig": {"nameservers": ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]}}}),
    );
    let conf = resolv_conf(&p4, &k);
    assert_eq!(
        conf.text(),
        "nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n"
    );
    assert!(conf.warnings[0].starts_with("Nameserver limits were exceeded"));
}

#[test]
fn images_pick_their_resolver_and_nslookup() {
    let r = |i| image_resolver(i);
    assert_eq!(r("busybox:1.28").libc, Libc::UClibc);
    assert_eq!(r("busybox:1.28.3").nslookup, Some(Nslookup::Busybox128));
    assert_eq!(
        r("docker.io/library/busybox:1.28").nslookup,
        Some(Nslookup::Busybox128)
    );
    assert_eq!(r("busybox:1.36").nslookup, Some(Nslookup::Busybox136));
    assert_eq!(r("busybox").nslookup, Some(Nslookup::Busybox136));
    assert_eq!(r("busybox:1.36-musl").libc, Libc::Musl);
    assert_eq!(r("busybox:1.280").nslookup, Some(Nslookup::Busybox136));
    assert_eq!(r("alpine:3.20").libc, Libc::Musl);
    assert_eq!(
        r("registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3").nslookup,
        Some(Nslookup::Bind)
    );
    assert_eq!(r("httpd").nslookup, None);
    assert_eq!(r("httpd:2.4").libc, Libc::Glibc);
}

// ---------------------------------------------------------------------------------------------
// §4.5: the query sequences from a pod in `default`.

const D: &str = ".default.svc.cluster.local.";
const S: &str = ".svc.cluster.local.";
const C: &str = ".cluster.local.";

/// (qname, qtype, forwarded?, rcode) of every step.
fn seq(w: &[resolver::Step]) -> Vec<(String, RecordType, bool, ResponseCode)> {
    w.iter()
        .map(|s| {
            (
                s.qname.to_ascii(),
                s.qtype,
                !s.answer.authoritative,
                s.answer.rcode,
            )
        })
        .collect()
}

fn q(
    name: &str,
    t: RecordType,
    fwd: bool,
    rc: ResponseCode,
) -> (String, RecordType, bool, ResponseCode) {
    (name.to_string(), t, fwd, rc)
}

use RecordType::{A, AAAA};
use ResponseCode::{NXDomain as NX, NoError as OK};

/// A and AAAA for one candidate, as glibc and musl send them.
fn pair(
    name: &str,
    fwd: bool,
    a: ResponseCode,
    aaaa: ResponseCode,
) -> Vec<(String, RecordType, bool, ResponseCode)> {
    vec![q(name, A, fwd, a), q(name, AAAA, fwd, aaaa)]
}

#[test]
fn walk_table_glibc_and_musl() {
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let svc_ip: IpAddr = cluster_ip(&c, "default", "httpd-svc").parse().unwrap();
    let fqdn = "httpd-svc.default.svc.cluster.local";
    for libc in [Libc::Glibc, Libc::Musl] {
        let w = |n| walk(&s, &conf, n, libc, Family::Unspec);

        let r = w("httpd-svc");
        assert_eq!(
            seq(&r.steps),
            pair(&format!("httpd-svc{D}"), false, OK, OK),
            "{libc:?}"
        );
        assert_eq!(r.result.unwrap().addresses, [svc_ip]);

        let r = w("httpd-svc.default");
        let mut want = pair(&format!("httpd-svc.default{D}"), false, NX, NX);
        want.extend(pair(&format!("httpd-svc.default{S}"), false, OK, OK));
        assert_eq!(seq(&r.steps), want, "{libc:?}");
        assert_eq!(r.result.unwrap().name, format!("{fqdn}."));

        // 4 dots < ndots 5: the whole search list first, then as-is (4 steps, 8 packets).
        let r = w(fqdn);
        let mut want = Vec::new();
        for sfx in [D, S, C] {
            want.extend(pair(&format!("{fqdn}{sfx}"), false, NX, NX));
        }
        want.extend(pair(&format!("{fqdn}."), false, OK, OK));
        assert_eq!(seq(&r.steps), want, "{libc:?}");
        assert_eq!(r.steps.len(), 8);
        assert_eq!(r.result.unwrap().addresses, [svc_ip]);

        let r = w("www.example.com");
        let mut want = Vec::new();
        for sfx in [D, S, C] {
            want.extend(pair(&format!("www.example.com{sfx}"), false, NX, NX));
        }
        want.extend(pair("www.example.com.", true, OK, OK));
        assert_eq!(seq(&r.steps), want, "{libc:?}");
        assert_eq!(
            r.result.unwrap().addresses,
            ["192.0.2.10".parse::<IpAddr>().unwrap()]
        );

        // A trailing dot: as-is only.
        for n in [
            "httpd-svc.default.svc.cluster.local.",
            "www.example.com.",
            "httpd-svc.",
        ] {
            let r = w(n);
            assert!(
                r.steps.iter().all(|st| st.qname.to_ascii() == n),
                "{libc:?} {n}"
            );
            assert_eq!(r.steps.len(), 2);
        }
        assert_eq!(w("httpd-svc.").result, Err(LookupError::NotFound));
    }
}

#[test]
fn walk_table_uclibc() {
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let svc_ip: IpAddr = cluster_ip(&c, "default", "httpd-svc").parse().unwrap();
    let w = |n| walk(&s, &conf, n, Libc::UClibc, Family::Inet);
    let w6 = |n| walk(&s, &conf, n, Libc::UClibc, Family::Inet6);

    // as-is (forwarded, NX) → +d hit.
    let r = w("httpd-svc");
    assert_eq!(
        seq(&r.steps),
        [
            q("httpd-svc.", A, true, NX),
            q(&format!("httpd-svc{D}"), A, false, OK)
        ]
    );
    assert_eq!(r.result.unwrap().addresses, [svc_ip]);
    // The AAAA walk stops at the first NODATA.
    let r = w6("httpd-svc");
    assert_eq!(
        seq(&r.steps),
        [
            q("httpd-svc.", AAAA, true, NX),
            q(&format!("httpd-svc{D}"), AAAA, false, OK)
        ]
    );
    assert_eq!(r.result, Err(LookupError::NoData));

    let r = w("httpd-svc.default");
    assert_eq!(
        seq(&r.steps),
        [
            q("httpd-svc.default.", A, true, NX),
            q(&format!("httpd-svc.default{D}"), A, false, NX),
            q(&format!("httpd-svc.default{S}"), A, false, OK),
        ]
    );
    // ndots is ignored: the 4-dot name and the external one are asked as-is first and hit.
    let r = w("httpd-svc.default.svc.cluster.local");
    assert_eq!(
        seq(&r.steps),
        [q("httpd-svc.default.svc.cluster.local.", A, false, OK)]
    );
    let r = w("www.example.com");
    assert_eq!(seq(&r.steps), [q("www.example.com.", A, true, OK)]);
    let r = w("httpd-svc.");
    assert_eq!(seq(&r.steps), [q("httpd-svc.", A, true, NX)]);
    assert_eq!(r.result, Err(LookupError::NotFound));

    // AF_UNSPEC: the AAAA walk, then the A walk (gaih_inet's order).
    let r = walk(&s, &conf, "httpd-svc", Libc::UClibc, Family::Unspec);
    let types: Vec<RecordType> = r.steps.iter().map(|st| st.qtype).collect();
    assert_eq!(types, [AAAA, AAAA, A, A]);
    assert_eq!(r.result.unwrap().addresses, [svc_ip]);
}

#[test]
fn busybox_136_queries_and_layout() {
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let ip = cluster_ip(&c, "default", "httpd-svc");
    // A for +d, +s, +c, then AAAA for each: never the bare name (6 queries).
    let out = tools::nslookup_busybox_136(&s, &conf, &["httpd-svc"]).unwrap();
    let mut want = Vec::new();
    for t in [A, AAAA] {
        for sfx in [D, S, C] {
            want.push((format!("httpd-svc{sfx}"), t));
        }
    }
    let got: Vec<(String, RecordType)> = out
        .queries
        .iter()
        .map(|st| (st.qname.to_ascii(), st.qtype))
        .collect();
    assert_eq!(got, want);
    // spec/dns.md §5.2's printout, replies in send order.
    let expected = format!(
        "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n\
         Name:\thttpd-svc.default.svc.cluster.local\nAddress: {ip}\n\n\
         ** server can't find httpd-svc.svc.cluster.local: NXDOMAIN\n\n\
         ** server can't find httpd-svc.cluster.local: NXDOMAIN\n\n\
         \n\
         ** server can't find httpd-svc.svc.cluster.local: NXDOMAIN\n\n\
         ** server can't find httpd-svc.cluster.local: NXDOMAIN\n\n"
    );
    assert_eq!(out.stdout, expected);
    assert_eq!(out.exit_code, 1);

    // A dotted name is asked as-is only: forwarded, NXDOMAIN twice.
    let out = tools::nslookup_busybox_136(&s, &conf, &["httpd-svc.default"]).unwrap();
    assert_eq!(
        out.stdout,
        "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n\
         ** server can't find httpd-svc.default: NXDOMAIN\n\n\
         ** server can't find httpd-svc.default: NXDOMAIN\n\n"
    );
    assert!(out.queries.iter().all(|st| !st.answer.authoritative));
    // The 4-dot FQDN hits as-is; the external name is non-authoritative.
    let out =
        tools::nslookup_busybox_136(&s, &conf, &["httpd-svc.default.svc.cluster.local"]).unwrap();
    assert_eq!(out.queries.len(), 2);
    assert!(out.stdout.contains(&format!("Address: {ip}\n")));
    let out = tools::nslookup_busybox_136(&s, &conf, &["www.example.com"]).unwrap();
    assert_eq!(
        out.stdout,
        "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n\
         Non-authoritative answer:\nName:\twww.example.com\nAddress: 192.0.2.10\n\n\
         Non-authoritative answer:\n\n"
    );
    assert_eq!(out.exit_code, 0);
    // A trailing dot: as-is only, A and AAAA.
    let out = tools::nslookup_busybox_136(&s, &conf, &["httpd-svc."]).unwrap();
    let got: Vec<(String, RecordType)> = out
        .queries
        .iter()
        .map(|st| (st.qname.to_ascii(), st.qtype))
        .collect();
    assert_eq!(
        got,
        [
            ("httpd-svc.".to_string(), A),
            ("httpd-svc.".to_string(), AAAA)
        ]
    );
    // An address: one PTR.
    let out = tools::nslookup_busybox_136(&s, &conf, &["10.96.0.1"]).unwrap();
    assert_eq!(
        out.stdout,
        "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n\
         1.0.96.10.in-addr.arpa\tname = kubernetes.default.svc.cluster.local\n\n"
    );
    let out = tools::nslookup_busybox_136(
        &s,
        &conf,
        &[
            "-type=srv",
            "_https._tcp.kubernetes.default.svc.cluster.local",
        ],
    )
    .unwrap();
    assert!(out.stdout.ends_with(
        "_https._tcp.kubernetes.default.svc.cluster.local\tservice = 0 100 443 kubernetes.default.svc.cluster.local\n\n"
    ));
}

// ---------------------------------------------------------------------------------------------
// §5.1: the chapter's busybox 1.28 examples on the course cluster.

#[test]
fn chapter_nslookup_examples() {
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let client = c.get_typed::<Pod>("default", "clientpod").unwrap();
    let image = client.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap();
    assert_eq!(image_resolver(&image).nslookup, Some(Nslookup::Busybox128));
    let conf = pod_resolv_conf(&c, client);
    let server_block =
        "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\n";

    // (a) the ClusterIP: no forward query, the PTR names the Service.
    let ip = cluster_ip(&c, "default", "httpd-svc");
    let out = tools::nslookup_busybox_128(&s, &conf, &[&ip]).unwrap();
    assert_eq!(
        out.stdout,
        format!(
            "{server_block}Name:      {ip}\nAddress 1: {ip} httpd-svc.default.svc.cluster.local\n"
        )
    );
    assert!(out.queries.iter().all(|st| st.qtype == RecordType::PTR));

    // Name: echoes the text as typed.
    let out = tools::nslookup_busybox_128(&s, &conf, &["httpd-svc"]).unwrap();
    assert_eq!(
        out.stdout,
        format!(
            "{server_block}Name:      httpd-svc\nAddress 1: {ip} httpd-svc.default.svc.cluster.local\n"
        )
    );

    // (b) the headless Service: one line per ready pod, named by the dashed IP.
    let out = tools::nslookup_busybox_128(&s, &conf, &["headless-svc"]).unwrap();
    let mut pod_ips: Vec<String> = c
        .list_typed::<Pod>(Some("default"))
        .filter(|p| {
            p.metadata
                .name
                .as_deref()
                .unwrap_or("")
                .starts_with("httpd")
        })
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    pod_ips.sort();
    assert_eq!(pod_ips.len(), 3);
    let body = out.stdout.strip_prefix(server_block).unwrap();
    let mut lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.remove(0), "Name:      headless-svc");
    let mut got: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rest = l.strip_prefix(&format!("Address {}: ", i + 1)).unwrap();
            rest.to_string()
        })
        .collect();
    got.sort();
    let want: Vec<String> = pod_ips
        .iter()
        .map(|ip| {
            format!(
                "{ip} {}.headless-svc.default.svc.cluster.local",
                ip.replace('.', "-")
            )
        })
        .collect();
    assert_eq!(got, want);

    // (c) an address without a PTR ends after the IP (the node's address goes upstream: NX,
    // then each search domain).
    let out = tools::nslookup_busybox_128(&s, &conf, &["172.18.0.3"]).unwrap();
    assert_eq!(
        out.stdout,
        format!("{server_block}Name:      172.18.0.3\nAddress 1: 172.18.0.3\n")
    );
    let ptrs: Vec<String> = out
        .queries
        .iter()
        .filter(|q| q.qname.to_ascii().starts_with("3.0.18.172"))
        .map(|q| q.qname.to_ascii())
        .collect();
    assert_eq!(
        ptrs,
        [
            "3.0.18.172.in-addr.arpa.".to_string(),
            format!("3.0.18.172.in-addr.arpa{D}"),
            format!("3.0.18.172.in-addr.arpa{S}"),
            format!("3.0.18.172.in-addr.arpa{C}"),
        ]
    );

    // The optional SERVER argument, and a usage error.
    let out = tools::nslookup_busybox_128(&s, &conf, &["kubernetes", "10.96.0.10"]).unwrap();
    assert_eq!(out.exit_code, 0);
    assert!(tools::nslookup_busybox_128(&s, &conf, &["-type=a", "x"]).is_err());
    let out = tools::nslookup_busybox_128(&s, &conf, &["kubernetes", "192.0.2.99"]).unwrap();
    assert_eq!(
        out.stdout,
        "Server:    192.0.2.99\nAddress 1: 192.0.2.99\n\n"
    );
    assert_eq!(out.stderr, "nslookup: can't resolve 'kubernetes'\n");
}

#[test]
fn bind_nslookup_and_host() {
    let c = Cluster::kind();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let out = tools::nslookup_bind(&s, &conf, &["kubernetes.default"]).unwrap();
    assert_eq!(
        out.stdout,
        "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n\
         Name:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n\n"
    );
    // A reverse lookup prints no server block (checked against the real tool below).
    let out = tools::nslookup_bind(&s, &conf, &["10.96.0.1"]).unwrap();
    assert_eq!(
        out.stdout,
        "1.0.96.10.in-addr.arpa\tname = kubernetes.default.svc.cluster.local.\n\n"
    );
    let out = tools::nslookup_bind(&s, &conf, &["www.example.com"]).unwrap();
    assert!(
        out.stdout
            .contains("Non-authoritative answer:\nName:\twww.example.com\nAddress: 192.0.2.10\n")
    );
    let out = tools::nslookup_bind(&s, &conf, &["nosuch"]).unwrap();
    assert!(
        out.stdout
            .ends_with("** server can't find nosuch: NXDOMAIN\n\n")
    );
    assert_eq!(out.exit_code, 1);

    let out = tools::host(&s, &conf, &["kubernetes"]).unwrap();
    assert_eq!(
        out.stdout,
        "kubernetes.default.svc.cluster.local has address 10.96.0.1\n"
    );
    assert_eq!(out.exit_code, 0);
    let out = tools::host(&s, &conf, &["10.96.0.10"]).unwrap();
    assert_eq!(
        out.stdout,
        "10.0.96.10.in-addr.arpa domain name pointer kube-dns.kube-system.svc.cluster.local.\n"
    );
    let out = tools::host(&s, &conf, &["nosuch"]).unwrap();
    assert_eq!(out.stdout, "Host nosuch not found: 3(NXDOMAIN)\n");
    assert_eq!(out.exit_code, 1);
}

#[test]
fn present_formats_records_like_dig() {
    use hickory_proto::rr::rdata::{SRV, TXT};
    use hickory_proto::rr::{Name, RData, Record};
    let txt = RData::TXT(TXT::new(vec!["a \"q\" \\ b".into(), "x".into()]));
    assert_eq!(tools::present(&txt), r#""a \"q\" \\ b" "x""#);
    let bin = RData::TXT(TXT::from_bytes(vec![&[0x07, b'a', 0xff][..]]));
    assert_eq!(tools::present(&bin), r#""\007a\255""#);
    let srv = Record::from_rdata(
        Name::from_ascii("_https._tcp.kubernetes.default.svc.cluster.local.").unwrap(),
        30,
        RData::SRV(SRV::new(
            0,
            100,
            443,
            Name::from_ascii("kubernetes.default.svc.cluster.local.").unwrap(),
        )),
    );
    assert_eq!(
        tools::present_record(&srv),
        // Past the columns BIND leaves one space, or a tab when that reaches a tab stop.
        "_https._tcp.kubernetes.default.svc.cluster.local. 30 IN\tSRV 0 100 443 kubernetes.default.svc.cluster.local."
    );
    // Short owners are tab-aligned to dig's columns (24/32/40/48).
    let a = Record::from_rdata(
        Name::from_ascii("a.example.").unwrap(),
        30,
        RData::A(hickory_proto::rr::rdata::A("192.0.2.1".parse().unwrap())),
    );
    assert_eq!(
        tools::present_record(&a),
        "a.example.\t\t30\tIN\tA\t192.0.2.1"
    );
}

// ---------------------------------------------------------------------------------------------
// dig, compared with the real one asking a local server that runs dns::wire::handle.

/// A UDP responder on 127.0.0.1 answering from `snapshot` until dropped.
struct Responder {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    fn start(snapshot: DnsSnapshot) -> Responder {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = lab_core::dns::wire::handle(
                    &snapshot,
                    &buf[..n],
                    lab_core::dns::wire::Transport::Udp,
                ) {
                    let _ = sock.send_to(&reply, peer);
                }
            }
        });
        Responder {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn real_dig_version() -> Option<String> {
    let out = Command::new("dig").arg("-v").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    Some(text.trim().strip_prefix("DiG ")?.to_string())
}

/// Replaces the run-specific parts of a dig printout: the ID, the query time and the clock.
fn normalise(text: &str) -> String {
    text.lines()
        .map(|l| {
            if let Some((head, _)) = l.split_once(", id: ") {
                format!("{head}, id: ID")
            } else if l.starts_with(";; Query time: ") {
                ";; Query time: N msec".into()
            } else if l.starts_with(";; WHEN: ") {
                ";; WHEN: T".into()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

#[test]
fn dig_matches_real_dig() {
    let Some(version) = real_dig_version() else {
        panic!("dig is not installed: `sudo apt-get install -y dnsutils`");
    };
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let svc_ip = cluster_ip(&c, "default", "httpd-svc");
    let server = Responder::start(s.clone());
    let run = DigRun {
        version,
        id: 4242,
        now_ms: c.now_ms(),
    };
    let cases: Vec<Vec<String>> = vec![
        vec!["kubernetes.default.svc.cluster.local".into()],
        vec!["httpd-svc.default.svc.cluster.local".into(), "A".into()],
        vec!["headless-svc.default.svc.cluster.local".into()],
        vec![
            "_https._tcp.kubernetes.default.svc.cluster.local".into(),
            "SRV".into(),
        ],
        vec![
            "kube-dns.kube-system.svc.cluster.local".into(),
            "SRV".into(),
        ],
        vec!["-x".into(), svc_ip.clone()],
        vec!["-x".into(), "10.96.0.10".into()],
        vec!["nosuch.default.svc.cluster.local".into()],
        vec!["kubernetes.default.svc.cluster.local".into(), "AAAA".into()],
        vec!["dns-version.cluster.local".into(), "TXT".into()],
        vec!["cluster.local".into(), "SOA".into()],
        vec!["cluster.local".into(), "NS".into()],
        vec!["www.example.com".into()],
        vec!["httpd-svc.default".into()],
    ];
    for case in cases {
        for short in [false, true] {
            let mut real_args = vec![
                "@127.0.0.1".to_string(),
                "-p".into(),
                server.port.to_string(),
            ];
            real_args.extend(case.iter().cloned());
            let mut ours_args = vec!["@10.96.0.10".to_string()];
            ours_args.extend(case.iter().cloned());
            if short {
                real_args.push("+short".into());
                ours_args.push("+short".into());
            }
            let real = Command::new("dig")
                .args(&real_args)
                .args(["+tries=1", "+time=2"])
                .output()
                .unwrap();
            let real_text = String::from_utf8_lossy(&real.stdout)
                .replace(&format!("@127.0.0.1 -p {} ", server.port), "@10.96.0.10 ")
                .replace(" +tries=1 +time=2", "")
                .replace(
                    &format!("127.0.0.1#{}(127.0.0.1)", server.port),
                    "10.96.0.10#53(10.96.0.10)",
                );
            let args: Vec<&str> = ours_args.iter().map(String::as_str).collect();
            let ours = tools::dig(&s, &conf, &args, &run).unwrap();
            assert_eq!(
                normalise(&ours.stdout),
                normalise(&real_text),
                "dig {}",
                ours_args.join(" ")
            );
            assert_eq!(ours.exit_code, real.status.code().unwrap_or(-1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Which replies send each resolver on (§4.2–4.4): NODATA, SERVFAIL, no server at all.

#[test]
fn walk_nodata_servfail_and_timeouts_per_libc() {
    let mut cfg = lab_core::ClusterConfig::kind();
    // A CNAME loop upstream: the resolver in front of it answers SERVFAIL.
    cfg.dns_upstream.insert(
        "loop.example.org",
        lab_core::dns::UpstreamRecord::CNAME("loop.example.org".into()),
    );
    let mut c = Cluster::new(cfg);
    c.settle();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let names = |w: &resolver::Walk| -> Vec<String> {
        let mut v: Vec<String> = w.steps.iter().map(|st| st.qname.to_ascii()).collect();
        v.dedup();
        v
    };

    // `default`: +d NX, +s NODATA (`default.svc.cluster.local` exists without data), +c NX.
    let g = walk(&s, &conf, "default", Libc::Glibc, Family::Unspec);
    assert_eq!(
        names(&g),
        [
            format!("default{D}"),
            format!("default{S}"),
            format!("default{C}"),
            "default.".into()
        ]
    );
    assert_eq!(g.result, Err(LookupError::NoData));
    let m = walk(&s, &conf, "default", Libc::Musl, Family::Unspec);
    assert_eq!(names(&m), [format!("default{D}"), format!("default{S}")]);
    assert_eq!(m.result, Err(LookupError::NoData));
    let u = walk(&s, &conf, "default", Libc::UClibc, Family::Inet);
    assert_eq!(
        names(&u),
        [
            "default.".to_string(),
            format!("default{D}"),
            format!("default{S}")
        ]
    );
    assert_eq!(u.result, Err(LookupError::NoData));

    // SERVFAIL on the first search domain: glibc and uClibc go on, musl stops (EAI_AGAIN).
    let mut servfail_first = conf.clone();
    servfail_first.search.insert(0, "example.org".into());
    let g = walk(&s, &servfail_first, "loop", Libc::Glibc, Family::Inet);
    assert_eq!(g.steps[0].answer.rcode, ResponseCode::ServFail);
    assert_eq!(g.steps.len(), 5, "4 search domains, then as-is");
    let m = walk(&s, &servfail_first, "loop", Libc::Musl, Family::Inet);
    assert_eq!(names(&m), ["loop.example.org."]);
    assert_eq!(m.result, Err(LookupError::TryAgain));
    let u = walk(&s, &servfail_first, "loop", Libc::UClibc, Family::Inet);
    assert_eq!(u.steps.len(), 5, "as-is, then 4 search domains");
    assert_eq!(u.steps[1].answer.rcode, ResponseCode::ServFail);

    // Nothing listens at the nameserver: no reply, no steps.
    let mut nowhere = conf.clone();
    nowhere.nameservers = vec!["192.0.2.99".into()];
    for libc in [Libc::Glibc, Libc::Musl, Libc::UClibc] {
        let w = walk(&s, &nowhere, "kubernetes", libc, Family::Inet);
        assert!(w.steps.is_empty());
        assert!(matches!(
            w.result,
            Err(LookupError::Timeout | LookupError::TryAgain)
        ));
    }
    // Address literals need no query; bad names are errors, not panics.
    let w = walk(&s, &conf, "10.96.0.1", Libc::Glibc, Family::Unspec);
    assert!(w.steps.is_empty());
    assert_eq!(
        w.result.unwrap().addresses,
        ["10.96.0.1".parse::<IpAddr>().unwrap()]
    );
    for bad in ["", "a..b", &"x".repeat(70), &"a.".repeat(200)] {
        let w = walk(&s, &conf, bad, Libc::Glibc, Family::Unspec);
        assert!(
            matches!(w.result, Err(LookupError::InvalidName(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn default_policy_pods_ask_the_node_resolver() {
    let c = Cluster::kind();
    let s = DnsSnapshot::from_cluster(&c);
    let p = pod(
        serde_json::json!({"metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [], "dnsPolicy": "Default"}}),
    );
    let conf = pod_resolv_conf(&c, &p);
    assert_eq!(conf.ndots(), 0);
    // The node's resolver knows the outside world only.
    let w = walk(&s, &conf, "www.example.com", Libc::Glibc, Family::Inet);
    assert_eq!(w.steps.len(), 1);
    assert_eq!(w.steps[0].server, IpAddr::from([172, 18, 0, 1]));
    assert!(w.result.is_ok());
    let w = walk(
        &s,
        &conf,
        "kubernetes.default.svc.cluster.local",
        Libc::Glibc,
        Family::Inet,
    );
    assert_eq!(w.result, Err(LookupError::NotFound));
    let out = tools::nslookup_busybox_128(&s, &conf, &["kubernetes.default"]).unwrap();
    assert_eq!(
        out.stdout,
        "Server:    172.18.0.1\nAddress 1: 172.18.0.1\n\n"
    );
    assert_eq!(out.stderr, "nslookup: can't resolve 'kubernetes.default'\n");
}

#[test]
fn dig_search_and_bad_arguments() {
    let c = Cluster::kind();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let run = DigRun::default();
    // dig ignores the search list unless asked.
    let out = tools::dig(&s, &conf, &["kubernetes", "+short"], &run).unwrap();
    assert_eq!(out.stdout, "");
    assert_eq!(out.queries.len(), 1);
    let out = tools::dig(&s, &conf, &["kubernetes", "+search", "+short"], &run).unwrap();
    assert_eq!(out.stdout, "10.96.0.1\n");
    assert_eq!(out.queries[0].qname.to_ascii(), format!("kubernetes{D}"));
    let out = tools::dig(&s, &conf, &["-x", "10.96.0.10", "+short"], &run).unwrap();
    assert_eq!(out.stdout, "kube-dns.kube-system.svc.cluster.local.\n");
    assert!(tools::dig(&s, &conf, &["+bogus", "x"], &run).is_err());
    assert!(tools::dig(&s, &conf, &["-x", "not-an-ip"], &run).is_err());
    assert!(tools::dig(&s, &conf, &["-t", "NOPE", "x"], &run).is_err());
}

#[test]
fn walk_text_lists_every_query_and_the_result() {
    let c = Cluster::kind();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let w = walk(&s, &conf, "kubernetes.default", Libc::UClibc, Family::Inet);
    assert_eq!(
        tools::walk_text(&w),
        format!(
            " 1  A     kubernetes.default.  -> 10.96.0.10  NXDOMAIN forwarded\n \
             2  A     kubernetes.default{D}  -> 10.96.0.10  NXDOMAIN aa\n \
             3  A     kubernetes.default{S}  -> 10.96.0.10  NOERROR aa  A 10.96.0.1\n\
             => kubernetes.default{S} 10.96.0.1\n"
        )
    );
    let w = walk(&s, &conf, "nosuch.", Libc::Glibc, Family::Inet);
    assert!(tools::walk_text(&w).ends_with("=> failed: name not found\n"));
}

#[test]
fn dig_timeout_matches_real_dig() {
    if real_dig_version().is_none() {
        panic!("dig is not installed: `sudo apt-get install -y dnsutils`");
    }
    // A socket that never answers, against a server address nothing listens on in the sim.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let real = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "kubernetes.default.svc.cluster.local",
        ])
        .args(["+tries=2", "+time=1"])
        .output()
        .unwrap();
    let real_text = String::from_utf8_lossy(&real.stdout)
        .replace(&format!("127.0.0.1#{port}"), "192.0.2.99#53")
        .replace(&format!("@127.0.0.1 -p {port} "), "@192.0.2.99 ");
    let c = Cluster::kind();
    let s = DnsSnapshot::from_cluster(&c);
    let run = DigRun {
        version: real_dig_version().unwrap(),
        ..DigRun::default()
    };
    let ours = tools::dig(
        &s,
        &default_conf(&c),
        &[
            "@192.0.2.99",
            "kubernetes.default.svc.cluster.local",
            "+tries=2",
            "+time=1",
        ],
        &run,
    )
    .unwrap();
    assert_eq!(ours.stdout, real_text);
    assert_eq!(ours.exit_code, real.status.code().unwrap());
    drop(silent);
}

#[test]
fn bind_nslookup_and_host_match_the_real_tools() {
    if real_dig_version().is_none() {
        panic!("dnsutils is not installed: `sudo apt-get install -y dnsutils`");
    }
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let server = Responder::start(s.clone());
    let port = server.port.to_string();
    let svc_ip = cluster_ip(&c, "default", "httpd-svc");
    // Absolute names and addresses only: the real tools read this machine's search list.
    let names = [
        "kubernetes.default.svc.cluster.local.",
        "headless-svc.default.svc.cluster.local.",
        "nosuch.default.svc.cluster.local.",
        "www.example.com.",
        "httpd-svc.default.",
        "10.96.0.1",
        svc_ip.as_str(),
        "172.18.0.3",
    ];
    let fix = |t: &[u8]| {
        String::from_utf8_lossy(t)
            .replace(&format!("127.0.0.1#{port}"), "10.96.0.10#53")
            .replace("127.0.0.1", "10.96.0.10")
    };
    for name in names {
        let real = Command::new("nslookup")
            .args([format!("-port={port}").as_str(), "-timeout=2", "-retry=1"])
            .args([name, "127.0.0.1"])
            .output()
            .unwrap();
        let ours = tools::nslookup_bind(&s, &conf, &[name, "10.96.0.10"]).unwrap();
        assert_eq!(ours.stdout, fix(&real.stdout), "nslookup {name}");
        assert_eq!(
            ours.exit_code,
            real.status.code().unwrap(),
            "nslookup {name}"
        );

        let real = Command::new("host")
            .args(["-W", "2", "-p", &port, name, "127.0.0.1"])
            .output()
            .unwrap();
        let ours = tools::host(&s, &conf, &[name, "10.96.0.10"]).unwrap();
        assert_eq!(ours.stdout, fix(&real.stdout), "host {name}");
        assert_eq!(ours.exit_code, real.status.code().unwrap(), "host {name}");
    }
}

#[test]
fn a_coredns_pod_answers_as_a_server_too() {
    let c = Cluster::kind();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let coredns_ip = c
        .list_typed::<Pod>(Some("kube-system"))
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("k8s-app"))
                .map(String::as_str)
                == Some("kube-dns")
        })
        .find_map(|p| p.status.as_ref()?.pod_ip.clone())
        .expect("a CoreDNS pod with an IP");
    let out = tools::nslookup_busybox_128(&s, &conf, &["kubernetes", &coredns_ip]).unwrap();
    // Its PTR names it by its dashed IP under the kube-dns Service.
    let dashed = coredns_ip.replace('.', "-");
    assert_eq!(
        out.stdout,
        format!(
            "Server:    {coredns_ip}\nAddress 1: {coredns_ip} {dashed}.kube-dns.kube-system.svc.cluster.local\n\n\
             Name:      kubernetes\nAddress 1: 10.96.0.1 kubernetes.default.svc.cluster.local\n"
        )
    );
    assert!(
        out.queries
            .iter()
            .all(|q| q.server.to_string() == coredns_ip)
    );
}

/// busybox's "BIG" nslookup (1.30+) against the local responder, when a binary is at hand:
/// `SVCLAB_BUSYBOX=/path/to/busybox cargo test -p lab-core --test dns_tools -- --ignored`.
/// Dotted names and addresses only, as the binary reads this machine's search line.
#[test]
#[ignore = "needs a busybox >= 1.30 binary in $SVCLAB_BUSYBOX"]
fn busybox_big_nslookup_matches_a_real_busybox() {
    let bin = std::env::var("SVCLAB_BUSYBOX").expect("SVCLAB_BUSYBOX names a busybox binary");
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let conf = default_conf(&c);
    let server = Responder::start(s.clone());
    let port = server.port.to_string();
    let svc_ip = cluster_ip(&c, "default", "httpd-svc");
    let cases: Vec<Vec<&str>> = vec![
        vec!["kubernetes.default.svc.cluster.local"],
        vec!["headless-svc.default.svc.cluster.local"],
        vec!["httpd-svc.default"],
        vec!["www.example.com"],
        vec!["nosuch.default.svc.cluster.local"],
        vec!["10.96.0.1"],
        vec![&svc_ip],
        vec![
            "-type=srv",
            "_https._tcp.kubernetes.default.svc.cluster.local",
        ],
        vec!["-type=txt", "dns-version.cluster.local"],
    ];
    for case in cases {
        let mut real_args = vec!["nslookup".to_string(), format!("-port={port}")];
        real_args.extend(case.iter().map(|s| s.to_string()));
        real_args.push("127.0.0.1".into());
        let real = Command::new(&bin).args(&real_args).output().unwrap();
        let real_text = String::from_utf8_lossy(&real.stdout)
            .replace(&format!("127.0.0.1:{port}"), "10.96.0.10:53")
            .replace("127.0.0.1", "10.96.0.10");
        let mut args = case.clone();
        args.push("10.96.0.10");
        let ours = tools::nslookup_busybox_136(&s, &conf, &args).unwrap();
        assert_eq!(ours.stdout, real_text, "nslookup {}", case.join(" "));
        assert_eq!(
            ours.exit_code,
            real.status.code().unwrap(),
            "nslookup {}",
            case.join(" ")
        );
    }
}
