//! Tests of the iptables renderer: kube-proxy's own TestOverallIPTablesRules fixture, the spec's
//! hash and probability vectors, the shared fidelity case, and one case per Service feature.

use super::*;
use crate::cluster::Cluster;
use crate::proxy::{ProxyConfig, ProxySnapshot};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

fn node(name: &str, ip: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}
    }))
    .expect("node json")
}

fn service(ns: &str, name: &str, spec: Value, status: Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
        "status": status,
    }))
    .expect("service json")
}

fn slice(ns: &str, svc: &str, ports: Value, endpoints: Value) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": format!("{svc}-1"),
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }))
    .expect("slice json")
}

fn p80() -> Value {
    json!([{"name": "p80", "port": 80, "protocol": "TCP"}])
}

fn eps(ips: &[&str]) -> Value {
    Value::Array(ips.iter().map(|ip| json!({"addresses": [ip]})).collect())
}

/// kube-proxy's `NewFakeProxier`: node `test-node` 192.168.0.2, detector 10.0.0.0/8, mark 0x4000,
/// no `--random-fully`, nfacct counters present.
fn fake_options() -> IptablesOptions {
    IptablesOptions {
        random_fully: false,
        nfacct: true,
        conntrack_tcp_be_liberal: false,
        mark_text: Some("0x4000".into()),
    }
}

fn fake_snapshot(services: Vec<Service>, slices: Vec<EndpointSlice>) -> ProxySnapshot {
    ProxySnapshot {
        config: ProxyConfig {
            cluster_cidr: Cidr::parse("10.0.0.0/8"),
            ..Default::default()
        },
        nodes: vec![node("test-node", "192.168.0.2")],
        services,
        endpoint_slices: slices,
    }
}

/// The six services of TestOverallIPTablesRules (spec §3).
fn overall_fixture() -> ProxySnapshot {
    let services = vec![
        service(
            "ns1",
            "svc1",
            json!({"clusterIP": "172.30.0.41", "ports": p80()}),
            json!({}),
        ),
        service(
            "ns2",
            "svc2",
            json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "clusterIP": "172.30.0.42",
                   "ports": [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3001}],
                   "externalIPs": ["192.168.99.22"], "healthCheckNodePort": 30000}),
            json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}),
        ),
        service(
            "ns3",
            "svc3",
            json!({"type": "NodePort", "clusterIP": "172.30.0.43",
                   "ports": [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3003}]}),
            json!({}),
        ),
        service(
            "ns4",
            "svc4",
            json!({"type": "NodePort", "clusterIP": "172.30.0.44", "externalIPs": ["192.168.99.33"],
                   "ports": [{"name": "p80", "port": 80, "protocol": "TCP", "targetPort": 80}]}),
            json!({}),
        ),
        service(
            "ns5",
            "svc5",
            json!({"type": "LoadBalancer", "externalTrafficPolicy": "Cluster", "clusterIP": "172.30.0.45",
                   "ports": [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3002}],
                   "healthCheckNodePort": 30000, "loadBalancerSourceRanges": [" 203.0.113.0/25"],
                   "sessionAffinity": "ClientIP",
                   "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}),
            json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}),
        ),
        service(
            "ns6",
            "svc6",
            json!({"type": "ClusterIP", "clusterIP": "172.30.0.46",
                   "ports": [{"name": "p80", "port": 80, "protocol": "TCP", "targetPort": 80}]}),
            json!({}),
        ),
    ];
    let slices = vec![
        slice("ns1", "svc1", p80(), eps(&["10.180.0.1"])),
        slice("ns2", "svc2", p80(), eps(&["10.180.0.2"])),
        slice("ns3", "svc3", p80(), eps(&["10.180.0.3"])),
        slice(
            "ns4",
            "svc4",
            p80(),
            json!([{"addresses": ["10.180.0.4"]}, {"addresses": ["10.180.0.5"], "nodeName": "test-node"}]),
        ),
        slice("ns5", "svc5", p80(), eps(&["10.180.0.3"])),
    ];
    fake_snapshot(services, slices)
}

#[test]
fn chain_name_hash_vectors_from_the_spec() {
    let cases = [
        ("default/httpd-svc", "tcp", "IYRDZZKXS5EOQ6Q6"),
        ("default/httpd-svc:http", "tcp", "B5DDMZ32OU72YLCD"),
        ("default/kubernetes:https", "tcp", "NPX46M4PTMTKRN6Y"),
        ("kube-system/kube-dns:dns", "udp", "TCOU7JCQXEZGVUNU"),
        ("kube-system/kube-dns:dns-tcp", "tcp", "ERIFXISQEP7F7OF4"),
        ("kube-system/kube-dns:metrics", "tcp", "JD5MR3NA4I4DYORP"),
        ("ns1/svc1:p80", "tcp", "XPGD46QRK7WJZT7O"),
        ("ns2/svc2:p80", "tcp", "GNZBNJ2PO5MGZ6GT"),
        ("ns3/svc3:p80", "tcp", "X27LE4BHSL4DOUIK"),
        ("ns4/svc4:p80", "tcp", "4SW47YFZTEDKD3PK"),
        ("ns5/svc5:p80", "tcp", "NUKIZ6OKUXPJNT4C"),
    ];
    for (spn, proto, want) in cases {
        assert_eq!(port_proto_hash(spn, proto), want, "{spn}{proto}");
    }
    // Upper-case protocol is never produced, and hashes differently.
    assert!(port_proto_hash("default/httpd-svc", "TCP").starts_with("AKFTVXPITL7TOOUB"));
    let seps = [
        (
            "default/httpd-svc",
            "10.244.1.7:80",
            "KUBE-SEP-QHWBDWVVEP2CIKGZ",
        ),
        (
            "default/httpd-svc",
            "10.244.1.10:80",
            "KUBE-SEP-FQEQI32XDGM76RBB",
        ),
        (
            "default/httpd-svc",
            "10.244.2.5:80",
            "KUBE-SEP-LWL7RCSBO6KY4F2J",
        ),
        ("ns1/svc1:p80", "10.180.0.1:80", "KUBE-SEP-SXIVWICOYRO3J4NJ"),
        ("ns4/svc4:p80", "10.180.0.4:80", "KUBE-SEP-UKSFD7AGPMPPLUHC"),
        ("ns4/svc4:p80", "10.180.0.5:80", "KUBE-SEP-C6EBXVWJJZMIWKLZ"),
        ("ns5/svc5:p80", "10.180.0.3:80", "KUBE-SEP-I77PXRDZVX7PMWMN"),
    ];
    for (spn, ep, want) in seps {
        assert_eq!(endpoint_chain_name(spn, "tcp", ep), want);
    }
    assert_eq!(
        endpoint_chain_name("kube-system/kube-dns:dns", "udp", "10.244.2.21:53"),
        "KUBE-SEP-2NK74F4BXH6S2KMP"
    );
}

#[test]
fn probability_formats() {
    assert_eq!(probability(2), "0.5000000000");
    assert_eq!(probability(3), "0.3333333333");
    assert_eq!(probability(4), "0.2500000000");
    let saved: Vec<String> = (2..=10)
        .map(|n| saved_probability(&probability(n)))
        .collect();
    assert_eq!(
        saved,
        [
            "0.50000000000",
            "0.33333333349",
            "0.25000000000",
            "0.20000000019",
            "0.16666666651",
            "0.14285714272",
            "0.12500000000",
            "0.11111111101",
            "0.10000000009"
        ]
    );
    assert_eq!(saved_probability("garbage"), "0.00000000000");
    // The table of small counts is exactly Go's `%0.10f` of 1/n.
    for n in 0..=12 {
        assert_eq!(
            probability(n),
            format!("{:.10}", 1.0 / n.max(1) as f64),
            "{n}"
        );
    }
}

/// Chain declarations and rules of one table of a restore text, in order.
fn table<'a>(text: &'a str, name: &str) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut inside = false;
    let (mut chains, mut rules) = (Vec::new(), Vec::new());
    for line in text.lines() {
        if line.starts_with('*') {
            inside = line == format!("*{name}");
        } else if inside && line.starts_with(':') {
            chains.push(line[1..].split(' ').next().unwrap_or(""));
        } else if inside && line.starts_with("-A ") {
            rules.push(line);
        }
    }
    (chains, rules)
}

fn chain_rules<'a>(rules: &[&'a str], chain: &str) -> Vec<&'a str> {
    let prefix = format!("-A {chain} ");
    rules
        .iter()
        .copied()
        .filter(|r| r.starts_with(&prefix))
        .collect()
}

fn target(rule: &str) -> &str {
    rule.rsplit(" -j ")
        .next()
        .unwrap_or("")
        .split(' ')
        .next()
        .unwrap_or("")
}

/// kube-proxy's TestOverallIPTablesRules fixture, checked against every statement the spec (§3)
/// makes about its expected output.
#[test]
fn overall_iptables_rules_fixture_as_the_spec_describes_it() {
    let rules = render(&overall_fixture(), "test-node", &fake_options()).unwrap();
    let text = rules.canonical_restore_text();
    let (svc1, svc2, svc3, svc4, svc5) = (
        "XPGD46QRK7WJZT7O",
        "GNZBNJ2PO5MGZ6GT",
        "X27LE4BHSL4DOUIK",
        "4SW47YFZTEDKD3PK",
        "NUKIZ6OKUXPJNT4C",
    );

    // filter table.
    let (chains, filter) = table(&text, "filter");
    assert_eq!(
        chains,
        [
            "KUBE-NODEPORTS",
            "KUBE-SERVICES",
            "KUBE-EXTERNAL-SERVICES",
            "KUBE-FIREWALL",
            "KUBE-FORWARD",
            "KUBE-PROXY-FIREWALL"
        ]
    );
    let nodeports = chain_rules(&filter, "KUBE-NODEPORTS");
    assert_eq!(
        nodeports.len(),
        1,
        "only svc2's health-check port (svc5 is Cluster policy)"
    );
    assert!(
        nodeports[0].contains("--dport 30000") && target(nodeports[0]) == "ACCEPT",
        "{}",
        nodeports[0]
    );
    let services = chain_rules(&filter, "KUBE-SERVICES");
    assert_eq!(services.len(), 1);
    assert!(
        services[0].contains("\"ns6/svc6:p80 has no endpoints\"")
            && target(services[0]) == "REJECT"
    );
    let external = chain_rules(&filter, "KUBE-EXTERNAL-SERVICES");
    assert_eq!(external.len(), 3);
    assert!(
        external
            .iter()
            .all(|r| r.contains("ns2/svc2:p80 has no local endpoints") && target(r) == "DROP")
    );
    assert!(external[0].contains("192.168.99.22") && external[1].contains("1.2.3.4"));
    assert!(external[2].contains("--dst-type LOCAL") && external[2].contains("--dport 3001"));
    assert_eq!(chain_rules(&filter, "KUBE-FIREWALL").len(), 1);
    let forward = chain_rules(&filter, "KUBE-FORWARD");
    assert_eq!(forward.len(), 3);
    assert!(
        forward
            .iter()
            .any(|r| r.contains("INVALID") && r.contains("nfacct"))
    );
    let firewall = chain_rules(&filter, "KUBE-PROXY-FIREWALL");
    assert_eq!(firewall.len(), 1);
    assert!(
        firewall[0].contains(&format!("traffic not accepted by KUBE-FW-{svc5}"))
            && firewall[0].contains("5.6.7.8")
            && target(firewall[0]) == "DROP"
    );

    // nat table: chain order.
    let (chains, nat) = table(&text, "nat");
    let mut want: Vec<String> = vec!["KUBE-NODEPORTS".into(), "KUBE-SERVICES".into()];
    let mut ext: Vec<String> = [svc2, svc3, svc4, svc5]
        .iter()
        .map(|h| format!("KUBE-EXT-{h}"))
        .collect();
    ext.sort();
    want.extend(ext);
    want.push(format!("KUBE-FW-{svc5}"));
    want.push("KUBE-MARK-MASQ".into());
    want.push("KUBE-POSTROUTING".into());
    let mut seps: Vec<String> = [
        "SXIVWICOYRO3J4NJ",
        "RS4RBKLTHTF2IUXJ",
        "OYPFS5VJICHGATKP",
        "UKSFD7AGPMPPLUHC",
        "C6EBXVWJJZMIWKLZ",
        "I77PXRDZVX7PMWMN",
    ]
    .iter()
    .map(|h| format!("KUBE-SEP-{h}"))
    .collect();
    seps.sort();
    want.extend(seps);
    let mut svcs: Vec<String> = [svc1, svc2, svc3, svc4, svc5]
        .iter()
        .map(|h| format!("KUBE-SVC-{h}"))
        .collect();
    svcs.sort();
    want.extend(svcs);
    assert_eq!(
        chains, want,
        "no KUBE-SVL chain: svc2 has no local endpoint"
    );

    // nat KUBE-NODEPORTS: a localhost/nfacct rule, then the plain rule, for 3001, 3003, 3002.
    let np = chain_rules(&nat, "KUBE-NODEPORTS");
    let targets: Vec<&str> = np.iter().map(|r| target(r)).collect();
    let e = |h: &str| format!("KUBE-EXT-{h}");
    assert_eq!(
        targets,
        [e(svc2), e(svc2), e(svc3), e(svc3), e(svc5), e(svc5)]
    );
    for pair in np.chunks(2) {
        assert!(
            pair[0].contains("nfacct") && pair[0].contains("127.0.0.0/8"),
            "{}",
            pair[0]
        );
        assert!(!pair[1].contains("nfacct"), "{}", pair[1]);
    }
    for (rule, port) in np.chunks(2).zip(["3001", "3003", "3002"]) {
        assert!(rule[1].contains(&format!("--dport {port}")));
    }

    // nat KUBE-SERVICES: 9 service rules, then the nodeports jump; svc6 absent.
    let sv = chain_rules(&nat, "KUBE-SERVICES");
    let targets: Vec<String> = sv.iter().map(|r| target(r).to_string()).collect();
    let s = |h: &str| format!("KUBE-SVC-{h}");
    assert_eq!(
        targets,
        [
            s(svc1),
            s(svc2),
            e(svc2),
            e(svc2),
            s(svc3),
            s(svc4),
            e(svc4),
            s(svc5),
            format!("KUBE-FW-{svc5}"),
            "KUBE-NODEPORTS".to_string()
        ]
    );
    assert!(
        sv[2].contains("192.168.99.22")
            && sv[3].contains("1.2.3.4")
            && sv[6].contains("192.168.99.33")
            && sv[8].contains("5.6.7.8")
    );
    assert!(
        !nat.iter().any(|r| r.contains("ns6/svc6")),
        "a Service without endpoints has no nat rules"
    );

    // EXT chains.
    let ext2 = chain_rules(&nat, &e(svc2));
    assert_eq!(
        ext2.len(),
        3,
        "svc2: the three short-circuit rules, no final jump"
    );
    assert!(ext2.iter().any(|r| r.contains("-s 10.0.0.0/8")));
    for h in [svc3, svc4, svc5] {
        let x = chain_rules(&nat, &e(h));
        assert_eq!(x.len(), 2, "{h}");
        assert!(
            x[0].contains("masquerade traffic for")
                && x[0].contains("external destinations")
                && target(x[0]) == "KUBE-MARK-MASQ"
        );
        assert_eq!(target(x[1]), s(h));
    }

    // FW chain of svc5.
    let fw = chain_rules(&nat, &format!("KUBE-FW-{svc5}"));
    assert!(
        fw.iter()
            .any(|r| r.contains(&format!("-s 203.0.113.0/25 -j KUBE-EXT-{svc5}")))
    );
    assert!(fw.iter().any(|r| r.contains("other traffic")));

    // SVC chains: masquerade off-cluster sources; svc4 splits 50/50; svc5 keeps ClientIP affinity.
    for h in [svc1, svc2, svc3, svc4, svc5] {
        let first = chain_rules(&nat, &s(h))[0];
        assert!(
            first.contains("! -s 10.0.0.0/8") && target(first) == "KUBE-MARK-MASQ",
            "{first}"
        );
    }
    let svc4_rules = chain_rules(&nat, &s(svc4));
    assert!(
        svc4_rules
            .iter()
            .any(|r| r.contains("--probability 0.5000000000")
                && target(r) == "KUBE-SEP-UKSFD7AGPMPPLUHC")
    );
    assert_eq!(
        target(svc4_rules.last().unwrap()),
        "KUBE-SEP-C6EBXVWJJZMIWKLZ"
    );
    assert!(
        chain_rules(&nat, &s(svc5))
            .iter()
            .any(|r| r.contains("--rcheck --seconds 10800 --reap"))
    );
    assert!(
        chain_rules(&nat, "KUBE-SEP-I77PXRDZVX7PMWMN")
            .iter()
            .any(|r| r.contains("-m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set"))
    );

    // The canonical form is a reordering of the write-order form.
    let mut a: Vec<String> = rules.restore_text().lines().map(String::from).collect();
    let mut b: Vec<String> = text.lines().map(String::from).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn fidelity_httpd_3_endpoints() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fidelity/kube-proxy");
    let yaml_path = dir.join("httpd-3-endpoints.yaml");
    let lines_path = dir.join("httpd-3-endpoints.expected-lines.txt");
    let (Ok(yaml), Ok(expected)) = (
        std::fs::read_to_string(&yaml_path),
        std::fs::read_to_string(&lines_path),
    ) else {
        panic!(
            "fidelity case missing: expected {} and {} (the shared/ folder next to the repo)",
            yaml_path.display(),
            lines_path.display()
        );
    };
    let mut c = Cluster::kind();
    c.apply_manifests(&yaml).expect("fidelity manifests apply");
    c.settle();
    let save = render_save(&ProxySnapshot::from_cluster(&c), "kind-worker").unwrap();
    let mut checked = 0;
    for want in expected
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let n = save.lines().filter(|l| *l == want).count();
        assert_eq!(n, 1, "line {want:?} appears {n} times in:\n{save}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} expected lines");
}

/// The spec's kind-like `default/httpd-svc` (ClusterIP 10.96.100.50, unnamed port 80) on
/// kind-worker, cluster CIDR 10.244.0.0/16.
fn httpd(spec_extra: Value, status: Value, endpoints: Value) -> ProxySnapshot {
    let mut spec = json!({"clusterIP": "10.96.100.50", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]});
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    ProxySnapshot {
        config: ProxyConfig {
            cluster_cidr: Cidr::parse("10.244.0.0/16"),
            ..Default::default()
        },
        nodes: vec![
            node("kind-worker", "172.18.0.3"),
            node("kind-worker2", "172.18.0.4"),
        ],
        services: vec![service("default", "httpd-svc", spec, status)],
        endpoint_slices: vec![slice(
            "default",
            "httpd-svc",
            json!([{"port": 80, "protocol": "TCP"}]),
            endpoints,
        )],
    }
}

fn kind_rules(s: &ProxySnapshot, node: &str) -> (String, String) {
    let r = render(s, node, &IptablesOptions::kind()).unwrap();
    (r.restore_text(), r.save_text())
}

fn assert_has(text: &str, line: &str) {
    assert_eq!(
        text.lines().filter(|l| *l == line).count(),
        1,
        "expected exactly one {line:?} in:\n{text}"
    );
}

fn assert_lacks(text: &str, needle: &str) {
    assert!(!text.contains(needle), "unexpected {needle:?} in:\n{text}");
}

#[test]
fn cluster_ip_one_endpoint_spec_1_5a() {
    let s = httpd(json!({}), json!({}), eps(&["10.244.1.7"]));
    let (restore, save) = kind_rules(&s, "kind-worker");
    for l in [
        r#"-A KUBE-SERVICES -m comment --comment "default/httpd-svc cluster IP" -m tcp -p tcp -d 10.96.100.50 --dport 80 -j KUBE-SVC-IYRDZZKXS5EOQ6Q6"#,
        r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc cluster IP" -m tcp -p tcp -d 10.96.100.50 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ"#,
        r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.1.7:80" -j KUBE-SEP-QHWBDWVVEP2CIKGZ"#,
        "-A KUBE-SEP-QHWBDWVVEP2CIKGZ -m comment --comment default/httpd-svc -s 10.244.1.7 -j KUBE-MARK-MASQ",
        "-A KUBE-SEP-QHWBDWVVEP2CIKGZ -m comment --comment default/httpd-svc -m tcp -p tcp -j DNAT --to-destination 10.244.1.7:80",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN",
        r#"-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully"#,
    ] {
        assert_has(&restore, l);
    }
    // Save form (spec §1.9, §8).
    for l in [
        r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 ! -s 10.244.0.0/16 -d 10.96.100.50/32 -p tcp -m comment --comment "default/httpd-svc cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ"#,
        r#"-A KUBE-SEP-QHWBDWVVEP2CIKGZ -s 10.244.1.7/32 -m comment --comment "default/httpd-svc" -j KUBE-MARK-MASQ"#,
        r#"-A KUBE-SEP-QHWBDWVVEP2CIKGZ -p tcp -m comment --comment "default/httpd-svc" -m tcp -j DNAT --to-destination 10.244.1.7:80"#,
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
        r#"-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully"#,
        r#"-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts -j DROP"#,
        r#"-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"#,
        r#"-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"#,
        r#"-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"#,
        r#"-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#,
        r#"-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#,
        r#"-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING"#,
    ] {
        assert_has(&save, l);
    }
    // kube-proxy's canary exists in both tables.
    assert_eq!(save.matches(":KUBE-PROXY-CANARY - [0:0]\n").count(), 2);
    // Layout: built-ins in hook order, then user chains sorted, counters zeroed.
    assert!(save.starts_with(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n"
    ));
    let input: Vec<&str> = save
        .lines()
        .filter(|l| l.starts_with("-A INPUT "))
        .collect();
    assert_eq!(
        input,
        [
            r#"-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL"#,
            r#"-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS"#,
            r#"-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES"#,
            "-A INPUT -j KUBE-FIREWALL",
        ]
    );
    let nat = &save[save.find("*nat\n").unwrap()..];
    let chains: Vec<&str> = nat.lines().filter(|l| l.starts_with(':')).collect();
    let mut user: Vec<&str> = chains[4..].to_vec();
    user.sort();
    assert_eq!(chains[4..], user[..], "user chains sorted by name");
    assert!(save.ends_with("COMMIT\n"));
}

#[test]
fn three_endpoints_probabilities_spec_1_5b() {
    let s = httpd(
        json!({}),
        json!({}),
        eps(&["10.244.1.7", "10.244.2.5", "10.244.1.10"]),
    );
    let (restore, save) = kind_rules(&s, "kind-worker");
    let svc: Vec<&str> = restore
        .lines()
        .filter(|l| l.starts_with("-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 "))
        .collect();
    assert_eq!(
        svc[1..],
        [
            r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.1.10:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-FQEQI32XDGM76RBB"#,
            r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.1.7:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-QHWBDWVVEP2CIKGZ"#,
            r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.2.5:80" -j KUBE-SEP-LWL7RCSBO6KY4F2J"#,
        ]
    );
    assert_has(
        &save,
        r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.1.10:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-FQEQI32XDGM76RBB"#,
    );
}

#[test]
fn node_port_cluster_policy_spec_1_5c() {
    let mut s = httpd(json!({"type": "NodePort"}), json!({}), eps(&["10.244.1.7"]));
    s.services[0].spec.as_mut().unwrap().ports.as_mut().unwrap()[0].node_port = Some(30080);
    let (restore, save) = kind_rules(&s, "kind-worker");
    for l in [
        "-A KUBE-NODEPORTS -m comment --comment default/httpd-svc -m tcp -p tcp -d 127.0.0.0/8 --dport 30080 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-IYRDZZKXS5EOQ6Q6",
        "-A KUBE-NODEPORTS -m comment --comment default/httpd-svc -m tcp -p tcp --dport 30080 -j KUBE-EXT-IYRDZZKXS5EOQ6Q6",
        r#"-A KUBE-EXT-IYRDZZKXS5EOQ6Q6 -m comment --comment "masquerade traffic for default/httpd-svc external destinations" -j KUBE-MARK-MASQ"#,
        "-A KUBE-EXT-IYRDZZKXS5EOQ6Q6 -j KUBE-SVC-IYRDZZKXS5EOQ6Q6",
    ] {
        assert_has(&restore, l);
    }
    assert_has(
        &save,
        r#"-A KUBE-NODEPORTS -d 127.0.0.0/8 -p tcp -m comment --comment "default/httpd-svc" -m tcp --dport 30080 -m nfacct --nfacct-name  localhost_nps_accepted_pkts -j KUBE-EXT-IYRDZZKXS5EOQ6Q6"#,
    );
    assert_has(&save, ":KUBE-EXT-IYRDZZKXS5EOQ6Q6 - [0:0]");
    // Same rules on every node for Cluster policy.
    let (restore2, _) = kind_rules(&s, "kind-worker2");
    assert_eq!(restore, restore2);
}

#[test]
fn no_endpoints_reject_everywhere() {
    let mut s = httpd(
        json!({"type": "LoadBalancer", "externalIPs": ["192.0.2.10"]}),
        json!({"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}}),
        json!([]),
    );
    s.services[0].spec.as_mut().unwrap().ports.as_mut().unwrap()[0].node_port = Some(30036);
    let (restore, save) = kind_rules(&s, "kind-worker");
    for l in [
        r#"-A KUBE-SERVICES -m comment --comment "default/httpd-svc has no endpoints" -m tcp -p tcp -d 10.96.100.50 --dport 80 -j REJECT"#,
        r#"-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/httpd-svc has no endpoints" -m tcp -p tcp -d 192.0.2.10 --dport 80 -j REJECT"#,
        r#"-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/httpd-svc has no endpoints" -m tcp -p tcp -d 172.18.255.200 --dport 80 -j REJECT"#,
        r#"-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/httpd-svc has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30036 -j REJECT"#,
    ] {
        assert_has(&restore, l);
    }
    assert_has(
        &save,
        r#"-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/httpd-svc has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30036 -j REJECT --reject-with icmp-port-unreachable"#,
    );
    assert_has(
        &save,
        r#"-A KUBE-SERVICES -d 10.96.100.50/32 -p tcp -m comment --comment "default/httpd-svc has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable"#,
    );
    // No nat chains at all for the service.
    assert_lacks(&restore, "IYRDZZKXS5EOQ6Q6");
    assert_lacks(&restore, "KUBE-SEP-");
    // Not-ready, non-terminating endpoints count as none.
    let s = httpd(
        json!({}),
        json!({}),
        json!([{"addresses": ["10.244.1.7"], "conditions": {"ready": false}}]),
    );
    let (restore, _) = kind_rules(&s, "kind-worker");
    assert!(restore.contains("has no endpoints"));
}

#[test]
fn terminating_endpoints_are_a_fallback() {
    let s = httpd(
        json!({}),
        json!({}),
        json!([
            {"addresses": ["10.244.1.7"], "conditions": {"ready": false, "serving": true, "terminating": true}},
            {"addresses": ["10.244.2.5"], "conditions": {"ready": false, "serving": false, "terminating": true}}
        ]),
    );
    let (restore, _) = kind_rules(&s, "kind-worker");
    assert_has(
        &restore,
        r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.1.7:80" -j KUBE-SEP-QHWBDWVVEP2CIKGZ"#,
    );
    assert_lacks(&restore, "10.244.2.5");
    // With one ready endpoint, the terminating one is not used.
    let s = httpd(
        json!({}),
        json!({}),
        json!([
            {"addresses": ["10.244.1.7"], "conditions": {"ready": false, "serving": true, "terminating": true}},
            {"addresses": ["10.244.2.5"], "conditions": {"ready": true}}
        ]),
    );
    let (restore, _) = kind_rules(&s, "kind-worker");
    assert_lacks(&restore, "10.244.1.7");
    assert_has(
        &restore,
        r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.2.5:80" -j KUBE-SEP-LWL7RCSBO6KY4F2J"#,
    );
}

#[test]
fn load_balancer_and_external_ip_cluster_policy() {
    let s = httpd(
        json!({"type": "LoadBalancer", "externalIPs": ["192.0.2.10"]}),
        json!({"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}, {"ip": "172.18.255.201", "ipMode": "Proxy"}]}}),
        eps(&["10.244.1.7"]),
    );
    let (restore, save) = kind_rules(&s, "kind-worker");
    assert_has(
        &restore,
        r#"-A KUBE-SERVICES -m comment --comment "default/httpd-svc loadbalancer IP" -m tcp -p tcp -d 172.18.255.200 --dport 80 -j KUBE-EXT-IYRDZZKXS5EOQ6Q6"#,
    );
    assert_has(
        &restore,
        r#"-A KUBE-SERVICES -m comment --comment "default/httpd-svc external IP" -m tcp -p tcp -d 192.0.2.10 --dport 80 -j KUBE-EXT-IYRDZZKXS5EOQ6Q6"#,
    );
    // ipMode Proxy ingress IPs are not captured.
    assert_lacks(&restore, "172.18.255.201");
    // Order within the service: cluster IP, external IPs, LB IPs.
    let svcs: Vec<&str> = save
        .lines()
        .filter(|l| l.starts_with("-A KUBE-SERVICES ") && l.contains("httpd"))
        .collect();
    assert_eq!(svcs.len(), 3);
    assert!(
        svcs[0].contains("cluster IP")
            && svcs[1].contains("external IP")
            && svcs[2].contains("loadbalancer IP")
    );
}

#[test]
fn load_balancer_source_ranges_use_a_firewall_chain() {
    let s = httpd(
        json!({"type": "LoadBalancer", "loadBalancerSourceRanges": ["203.0.113.0/25", "172.18.0.0/16"]}),
        json!({"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}}),
        eps(&["10.244.1.7"]),
    );
    let (restore, _) = kind_rules(&s, "kind-worker");
    for l in [
        r#"-A KUBE-SERVICES -m comment --comment "default/httpd-svc loadbalancer IP" -m tcp -p tcp -d 172.18.255.200 --dport 80 -j KUBE-FW-IYRDZZKXS5EOQ6Q6"#,
        r#"-A KUBE-FW-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-IYRDZZKXS5EOQ6Q6"#,
        r#"-A KUBE-FW-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc loadbalancer IP" -s 172.18.0.0/16 -j KUBE-EXT-IYRDZZKXS5EOQ6Q6"#,
        // The node IP is inside a range: traffic from the node to the VIP is allowed too.
        r#"-A KUBE-FW-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc loadbalancer IP" -s 172.18.255.200 -j KUBE-EXT-IYRDZZKXS5EOQ6Q6"#,
        r#"-A KUBE-FW-IYRDZZKXS5EOQ6Q6 -m comment --comment "other traffic to default/httpd-svc will be dropped by KUBE-PROXY-FIREWALL""#,
        r#"-A KUBE-PROXY-FIREWALL -m comment --comment "default/httpd-svc traffic not accepted by KUBE-FW-IYRDZZKXS5EOQ6Q6" -m tcp -p tcp -d 172.18.255.200 --dport 80 -j DROP"#,
    ] {
        assert_has(&restore, l);
    }
}

#[test]
fn client_ip_affinity_uses_recent() {
    let s = httpd(
        json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}}}),
        json!({}),
        eps(&["10.244.1.7", "10.244.2.5"]),
    );
    let (restore, save) = kind_rules(&s, "kind-worker");
    let svc: Vec<&str> = restore
        .lines()
        .filter(|l| l.starts_with("-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 "))
        .collect();
    assert_eq!(svc.len(), 5, "masq, 2 affinity, 2 balancing");
    assert!(svc[1].contains("-m recent --name KUBE-SEP-QHWBDWVVEP2CIKGZ --rcheck --seconds 600 --reap -j KUBE-SEP-QHWBDWVVEP2CIKGZ"));
    assert!(
        svc[2].contains("-m recent --name KUBE-SEP-LWL7RCSBO6KY4F2J --rcheck --seconds 600 --reap")
    );
    assert!(svc[3].contains("--probability 0.5000000000"));
    assert_has(
        &save,
        r#"-A KUBE-SEP-QHWBDWVVEP2CIKGZ -p tcp -m comment --comment "default/httpd-svc" -m recent --set --name KUBE-SEP-QHWBDWVVEP2CIKGZ --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.1.7:80"#,
    );
    assert_has(
        &save,
        r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.1.7:80" -m recent --rcheck --seconds 600 --reap --name KUBE-SEP-QHWBDWVVEP2CIKGZ --mask 255.255.255.255 --rsource -j KUBE-SEP-QHWBDWVVEP2CIKGZ"#,
    );
    // Default timeout 10800.
    let s = httpd(
        json!({"sessionAffinity": "ClientIP"}),
        json!({}),
        eps(&["10.244.1.7"]),
    );
    let (restore, _) = kind_rules(&s, "kind-worker");
    assert!(restore.contains("--rcheck --seconds 10800 --reap"));
}

fn local_endpoints() -> Value {
    json!([
        {"addresses": ["10.244.1.7"], "nodeName": "kind-worker"},
        {"addresses": ["10.244.2.5"], "nodeName": "kind-worker2"}
    ])
}

#[test]
fn external_traffic_policy_local() {
    let mut s = httpd(
        json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000}),
        json!({"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}}),
        local_endpoints(),
    );
    s.services[0].spec.as_mut().unwrap().ports.as_mut().unwrap()[0].node_port = Some(30080);
    let (restore, _) = kind_rules(&s, "kind-worker");
    for l in [
        r#"-A KUBE-EXT-IYRDZZKXS5EOQ6Q6 -m comment --comment "pod traffic for default/httpd-svc external destinations" -s 10.244.0.0/16 -j KUBE-SVC-IYRDZZKXS5EOQ6Q6"#,
        r#"-A KUBE-EXT-IYRDZZKXS5EOQ6Q6 -m comment --comment "masquerade LOCAL traffic for default/httpd-svc external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ"#,
        r#"-A KUBE-EXT-IYRDZZKXS5EOQ6Q6 -m comment --comment "route LOCAL traffic for default/httpd-svc external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-IYRDZZKXS5EOQ6Q6"#,
        "-A KUBE-EXT-IYRDZZKXS5EOQ6Q6 -j KUBE-SVL-IYRDZZKXS5EOQ6Q6",
        r#"-A KUBE-SVL-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.1.7:80" -j KUBE-SEP-QHWBDWVVEP2CIKGZ"#,
        r#"-A KUBE-NODEPORTS -m comment --comment "default/httpd-svc health check node port" -m tcp -p tcp --dport 32000 -j ACCEPT"#,
    ] {
        assert_has(&restore, l);
    }
    assert_lacks(&restore, "has no local endpoints");
    // SVL has no masquerade rule; SVC (for short-circuited traffic) still does.
    assert_eq!(
        restore
            .lines()
            .filter(|l| l.starts_with("-A KUBE-SVL-"))
            .count(),
        1
    );
    // On a node without a local endpoint: DROP in filter, no final EXT jump, no SVL.
    let mut s2 = s.clone();
    s2.nodes.push(node("other", "172.18.0.9"));
    let (restore, _) = kind_rules(&s2, "other");
    for l in [
        r#"-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/httpd-svc has no local endpoints" -m tcp -p tcp -d 172.18.255.200 --dport 80 -j DROP"#,
        r#"-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/httpd-svc has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP"#,
    ] {
        assert_has(&restore, l);
    }
    assert_lacks(&restore, "KUBE-SVL-");
    assert_lacks(&restore, "-A KUBE-EXT-IYRDZZKXS5EOQ6Q6 -j KUBE-SVL");
}

#[test]
fn internal_traffic_policy_local() {
    let s = httpd(
        json!({"internalTrafficPolicy": "Local"}),
        json!({}),
        local_endpoints(),
    );
    let (restore, _) = kind_rules(&s, "kind-worker");
    for l in [
        r#"-A KUBE-SERVICES -m comment --comment "default/httpd-svc cluster IP" -m tcp -p tcp -d 10.96.100.50 --dport 80 -j KUBE-SVL-IYRDZZKXS5EOQ6Q6"#,
        r#"-A KUBE-SVL-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc cluster IP" -m tcp -p tcp -d 10.96.100.50 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ"#,
        r#"-A KUBE-SVL-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc -> 10.244.1.7:80" -j KUBE-SEP-QHWBDWVVEP2CIKGZ"#,
    ] {
        assert_has(&restore, l);
    }
    assert_lacks(&restore, "KUBE-SVC-");
    assert_lacks(&restore, "10.244.2.5");
    let mut s2 = s.clone();
    s2.nodes.push(node("other", "172.18.0.9"));
    let (restore, _) = kind_rules(&s2, "other");
    assert_has(
        &restore,
        r#"-A KUBE-SERVICES -m comment --comment "default/httpd-svc has no local endpoints" -m tcp -p tcp -d 10.96.100.50 --dport 80 -j DROP"#,
    );
    assert_lacks(&restore, "IYRDZZKXS5EOQ6Q6");
}

#[test]
fn udp_sctp_and_multiple_ports() {
    let s = ProxySnapshot {
        config: ProxyConfig {
            cluster_cidr: Cidr::parse("10.244.0.0/16"),
            ..Default::default()
        },
        nodes: vec![node("kind-worker", "172.18.0.3")],
        services: vec![service(
            "kube-system",
            "kube-dns",
            json!({"clusterIP": "10.96.0.10", "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "sig", "port": 9999, "protocol": "SCTP"}
            ]}),
            json!({}),
        )],
        endpoint_slices: vec![slice(
            "kube-system",
            "kube-dns",
            json!([
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "sig", "port": 9999, "protocol": "SCTP"}
            ]),
            eps(&["10.244.0.3"]),
        )],
    };
    let (restore, save) = kind_rules(&s, "kind-worker");
    for l in [
        r#"-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp -p udp -d 10.96.0.10 --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU"#,
        r#"-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4"#,
    ] {
        assert_has(&restore, l);
    }
    let sctp = port_proto_hash("kube-system/kube-dns:sig", "sctp");
    assert_has(
        &save,
        &format!(
            r#"-A KUBE-SERVICES -d 10.96.0.10/32 -p sctp -m comment --comment "kube-system/kube-dns:sig cluster IP" -m sctp --dport 9999 -j KUBE-SVC-{sctp}"#
        ),
    );
    assert_has(
        &save,
        &format!(
            "-A {} -p udp -m comment --comment \"kube-system/kube-dns:dns\" -m udp -j DNAT --to-destination 10.244.0.3:53",
            endpoint_chain_name("kube-system/kube-dns:dns", "udp", "10.244.0.3:53")
        ),
    );
    assert_eq!(restore.matches(":KUBE-SVC-").count(), 3);
}

#[test]
fn headless_and_external_name_produce_no_rules() {
    let mut s = httpd(json!({}), json!({}), eps(&["10.244.1.7"]));
    let base = render(&s, "kind-worker", &IptablesOptions::kind()).unwrap();
    s.services[0].spec.as_mut().unwrap().cluster_ip = Some("None".into());
    let headless = render(&s, "kind-worker", &IptablesOptions::kind()).unwrap();
    assert_lacks(&headless.restore_text(), "httpd");
    assert!(headless.rule_count() < base.rule_count());
    let spec = s.services[0].spec.as_mut().unwrap();
    spec.type_ = Some("ExternalName".into());
    spec.external_name = Some("www.example.com".into());
    spec.cluster_ip = None;
    let en = render(&s, "kind-worker", &IptablesOptions::kind()).unwrap();
    assert_eq!(en, headless);
}

#[test]
fn kind_cluster_renders_system_services_deterministically() {
    let c = Cluster::kind();
    let snap = ProxySnapshot::from_cluster(&c);
    let a = render_save(&snap, "kind-worker").unwrap();
    let b = render_save(&snap, "kind-worker").unwrap();
    assert_eq!(a, b);
    assert!(a.contains("-j KUBE-SVC-NPX46M4PTMTKRN6Y"), "{a}");
    assert!(a.contains("--to-destination 172.18.0.2:6443"), "{a}");
    assert!(
        a.contains("-m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU"),
        "{a}"
    );
    assert_eq!(
        render_save(&snap, "nope"),
        Err(ProxyError::UnknownNode("nope".into()))
    );
    // KUBE-SERVICES keeps kube-proxy's test order: by ns/name, nodeports jump last.
    let comments: Vec<&str> = a
        .lines()
        .filter(|l| l.starts_with("-A KUBE-SERVICES ") && a.contains("*nat"))
        .collect();
    assert!(comments.last().unwrap().contains("must be the last rule"));
}

#[test]
fn config_switches_change_the_rules() {
    let mut s = httpd(json!({}), json!({}), eps(&["10.244.1.7"]));
    s.config.masquerade_all = true;
    s.config.masquerade_bit = 15;
    s.config.localhost_node_ports = false;
    let opts = IptablesOptions {
        random_fully: false,
        nfacct: false,
        conntrack_tcp_be_liberal: true,
        mark_text: None,
    };
    let r = render(&s, "kind-worker", &opts).unwrap();
    let restore = r.restore_text();
    assert_has(
        &restore,
        r#"-A KUBE-SVC-IYRDZZKXS5EOQ6Q6 -m comment --comment "default/httpd-svc cluster IP" -m tcp -p tcp -d 10.96.100.50 --dport 80 -j KUBE-MARK-MASQ"#,
    );
    assert_has(&restore, "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00008000");
    assert_has(
        &restore,
        r#"-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS"#,
    );
    assert_lacks(&restore, "INVALID");
    assert_lacks(&restore, "KUBE-FIREWALL");
    assert_lacks(&restore, "random-fully");
    let save = r.save_text();
    assert_has(&save, "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x8000/0x8000");
    // kubelet's copy of KUBE-FIREWALL is still on the node.
    assert!(save.contains(":KUBE-FIREWALL - [0:0]"));
    // No detector and no masqueradeAll: no masquerade rule at all.
    s.config.masquerade_all = false;
    s.config.cluster_cidr = None;
    let restore = render(&s, "kind-worker", &opts).unwrap().restore_text();
    assert_lacks(
        &restore,
        "cluster IP\" -m tcp -p tcp -d 10.96.100.50 --dport 80 -j KUBE-MARK-MASQ",
    );
    assert_eq!(
        restore
            .lines()
            .filter(|l| l.starts_with("-A KUBE-SVC-"))
            .count(),
        1
    );
}

#[test]
fn large_cluster_mode_drops_endpoint_comments() {
    let ips: Vec<String> = (0..1001)
        .map(|i| format!("10.244.{}.{}", i / 250, i % 250 + 2))
        .collect();
    let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
    let s = httpd(json!({}), json!({}), eps(&refs));
    let (restore, _) = kind_rules(&s, "kind-worker");
    assert_lacks(&restore, "-> 10.244");
    assert_has(
        &restore,
        "-A KUBE-SEP-QHWBDWVVEP2CIKGZ -s 10.244.1.7 -j KUBE-MARK-MASQ",
    );
    assert!(restore.contains("\"default/httpd-svc cluster IP\""));
}

#[test]
fn parser_handles_odd_input_without_panicking() {
    for a in [
        vec![],
        vec!["!".to_string()],
        vec!["-m".to_string()],
        vec!["--dport".to_string(), "80".to_string()],
        vec![
            "-j".to_string(),
            "MARK".to_string(),
            "--or-mark".to_string(),
            "zz".to_string(),
        ],
        vec!["-m".into(), "comment".into(), "--comment".into()],
        vec!["-m".into(), "statistic".into(), "--probability".into()],
        vec![
            "-m".into(),
            "mark".into(),
            "--mark".into(),
            "0x10/0xffffffff".into(),
        ],
    ] {
        let _ = Rule::new("X", a).save_line();
    }
    assert_eq!(
        Rule::new("X", args(&["-m", "mark", "--mark", "0x10/0xffffffff"])).save_line(),
        "-A X -m mark --mark 0x10"
    );
    assert_eq!(save_string(""), "\"\"");
    assert_eq!(save_string("a\"b"), "\"a\\\"b\"");
    assert_eq!(save_string("KUBE_x-1"), "KUBE_x-1");
}

#[test]
fn odd_objects_do_not_panic() {
    let s = ProxySnapshot {
        config: ProxyConfig::default(),
        nodes: vec![node("n", "not-an-ip")],
        services: vec![
            service(
                "a",
                "b",
                json!({"clusterIP": "10.0.0.1", "ports": [{"port": -5, "protocol": "ICMP"}, {"port": 70000}]}),
                json!({}),
            ),
            service(
                "a",
                "c",
                json!({"clusterIP": "fd00::1", "ports": [{"port": 80}]}),
                json!({}),
            ),
            service("a", "d", json!({}), json!({})),
        ],
        endpoint_slices: vec![slice(
            "a",
            "b",
            json!([{"port": 0}, {}]),
            json!([{"addresses": []}, {"addresses": ["x"]}]),
        )],
    };
    let r = render(&s, "n", &IptablesOptions::kind()).unwrap();
    let _ = r.save_text();
    let _ = r.canonical_restore_text();
}
