//! lab-core::dns against the shared fidelity cases (`../shared/fidelity/dns/`) and the chapter's
//! scenarios: what CoreDNS in a kind cluster answers (spec/dns.md §1–3).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use lab_core::Cluster;
use lab_core::dns::wire::{self, Transport};
use lab_core::dns::{Answer, DnsSnapshot, ResponseCode, UpstreamRecord};
use std::str::FromStr;

const DEPLOYMENT: &str = include_str!("data/httpd-deployment.yaml");
const SERVICE: &str = include_str!("data/httpd-service.yaml");
const HEADLESS: &str = include_str!("data/headless-service.yaml");

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// A record as `TYPE rdata` (the fidelity table's notation).
fn show(r: &Record) -> String {
    let data = match &r.data {
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|b| format!("\"{}\"", String::from_utf8_lossy(b)))
            .collect::<Vec<_>>()
            .join(" "),
        d => d.to_string(),
    };
    format!("{} {}", r.record_type(), data)
}

fn ask(s: &DnsSnapshot, q: &str, t: &str) -> Answer {
    s.lookup(&name(q), RecordType::from_str(t).unwrap())
}

fn answers(a: &Answer) -> Vec<String> {
    let mut v: Vec<String> = a.answers.iter().map(show).collect();
    v.sort();
    v
}

fn course_cluster() -> Cluster {
    let mut c = Cluster::kind();
    for m in [DEPLOYMENT, SERVICE, HEADLESS] {
        c.apply_manifests(m).unwrap();
    }
    c.settle();
    c
}

fn cluster_ip(c: &Cluster, ns: &str, svc: &str) -> String {
    c.get_typed::<k8s_openapi::api::core::v1::Service>(ns, svc)
        .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
        .unwrap()
}

fn httpd_pod_ips(c: &Cluster) -> Vec<String> {
    let mut v: Vec<String> = c
        .list_typed::<k8s_openapi::api::core::v1::Pod>(Some("default"))
        .filter(|p| {
            p.metadata
                .name
                .as_deref()
                .unwrap_or("")
                .starts_with("httpd")
        })
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    v.sort();
    v
}

/// One row of the fidelity table.
struct Case {
    query: String,
    qtype: String,
    rcode: String,
    answers: Vec<String>,
    additional: Vec<String>,
    ttl: u32,
}

fn fidelity_cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fidelity/dns/public-cases.md"
    );
    let text = std::fs::read_to_string(path).expect("shared fidelity cases are readable");
    let mut out = vec![];
    for line in text
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(". |"))
    {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [query, qtype, rcode, answer] = cells[..] else {
            continue;
        };
        let ticks: Vec<String> = answer
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, s)| s.to_string())
            .collect();
        let additional = answer
            .split("+additional ")
            .nth(1)
            .map(|s| vec![s.trim_end_matches(')').to_string()])
            .unwrap_or_default();
        let ttl = answer
            .split("(TTL ")
            .nth(1)
            .and_then(|s| s.trim_end_matches(')').parse().ok())
            .unwrap_or(30);
        out.push(Case {
            query: query.into(),
            qtype: qtype.into(),
            rcode: rcode.into(),
            answers: ticks,
            additional,
            ttl,
        });
    }
    out
}

#[test]
fn shared_fidelity_cases_on_a_fresh_cluster() {
    let mut c = Cluster::kind();
    c.settle();
    let s = DnsSnapshot::from_cluster(&c);
    let cases = fidelity_cases();
    assert!(
        cases.len() >= 8,
        "the fidelity table was read ({} rows)",
        cases.len()
    );
    for case in cases {
        let a = ask(&s, &case.query, &case.qtype);
        let what = format!("{} {}", case.query, case.qtype);
        assert_eq!(lab_core::dns::rcode_name(a.rcode), case.rcode, "{what}");
        assert!(a.authoritative, "{what}: aa");
        assert_eq!(answers(&a), case.answers, "{what}");
        for r in &a.answers {
            assert_eq!(r.ttl, case.ttl, "{what}: ttl");
        }
        if case.answers.is_empty() {
            assert_eq!(a.authority.len(), 1, "{what}: SOA in authority");
            assert_eq!(
                a.authority[0]
                    .data
                    .to_string()
                    .split(' ')
                    .take(2)
                    .collect::<Vec<_>>(),
                ["ns.dns.cluster.local.", "hostmaster.cluster.local."]
            );
            assert_eq!(a.authority[0].name, name("cluster.local."));
        }
        let extra: Vec<String> = a.additional.iter().map(show).collect();
        for want in &case.additional {
            assert!(
                extra.contains(want),
                "{what}: additional {want} in {extra:?}"
            );
        }
    }
}

#[test]
fn clusterip_service_by_name_port_and_reverse() {
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let ip = cluster_ip(&c, "default", "httpd-svc");
    let a = ask(&s, "httpd-svc.default.svc.cluster.local.", "A");
    assert_eq!(answers(&a), [format!("A {ip}")]);
    // Owner names keep the client's case.
    let a = ask(&s, "HTTPD-svc.Default.SVC.cluster.local.", "A");
    assert_eq!(
        a.answers[0].name.to_ascii(),
        "HTTPD-svc.Default.SVC.cluster.local."
    );
    assert_eq!(answers(&a), [format!("A {ip}")]);
    // AAAA of an IPv4 Service: NODATA with the SOA.
    let a = ask(&s, "httpd-svc.default.svc.cluster.local.", "AAAA");
    assert!(a.is_nodata() && a.authority.len() == 1);
    // The port is unnamed, so `_port._proto` cannot match; a bare SRV lists it.
    let a = ask(&s, "_http._tcp.httpd-svc.default.svc.cluster.local.", "SRV");
    assert_eq!(a.rcode, ResponseCode::NXDomain);
    let a = ask(&s, "httpd-svc.default.svc.cluster.local.", "SRV");
    assert_eq!(
        answers(&a),
        ["SRV 0 100 8080 httpd-svc.default.svc.cluster.local."]
    );
    assert_eq!(
        a.additional.iter().map(show).collect::<Vec<_>>(),
        [format!("A {ip}")]
    );
    // PTR of the ClusterIP: exactly one name.
    let rev: Vec<&str> = ip.split('.').rev().collect();
    let a = ask(&s, &format!("{}.in-addr.arpa.", rev.join(".")), "PTR");
    assert_eq!(answers(&a), ["PTR httpd-svc.default.svc.cluster.local."]);
    // TXT of a Service: NODATA; of a missing one: NXDOMAIN.
    assert!(ask(&s, "httpd-svc.default.svc.cluster.local.", "TXT").is_nodata());
    assert_eq!(
        ask(&s, "nope.default.svc.cluster.local.", "TXT").rcode,
        ResponseCode::NXDomain
    );
    // Types without a handler only ask whether the name exists.
    assert!(ask(&s, "httpd-svc.default.svc.cluster.local.", "MX").is_nodata());
    assert_eq!(
        ask(&s, "nope.default.svc.cluster.local.", "HINFO").rcode,
        ResponseCode::NXDomain
    );
    // An endpoint name also works under a ClusterIP Service.
    let pod_ip = &httpd_pod_ips(&c)[0];
    let a = ask(
        &s,
        &format!(
            "{}.httpd-svc.default.svc.cluster.local.",
            pod_ip.replace('.', "-")
        ),
        "A",
    );
    assert_eq!(answers(&a), [format!("A {pod_ip}")]);
}

#[test]
fn headless_service_answers_ready_endpoints_and_their_names() {
    let mut c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let ips = httpd_pod_ips(&c);
    assert_eq!(ips.len(), 3);
    let a = ask(&s, "headless-svc.default.svc.cluster.local.", "A");
    assert_eq!(
        answers(&a),
        ips.iter().map(|ip| format!("A {ip}")).collect::<Vec<_>>()
    );
    // SRV: one per endpoint, weight ⌊100/3⌋, targets named by the dashed IP, glue in additional.
    let a = ask(&s, "headless-svc.default.svc.cluster.local.", "SRV");
    let want: Vec<String> = ips
        .iter()
        .map(|ip| {
            format!(
                "SRV 0 33 80 {}.headless-svc.default.svc.cluster.local.",
                ip.replace('.', "-")
            )
        })
        .collect();
    assert_eq!(answers(&a), want);
    assert_eq!(a.additional.len(), 3);
    // PTR of a pod IP: the endpoint names under both Services that select it, sorted.
    let rev: Vec<&str> = ips[0].split('.').rev().collect();
    let a = ask(&s, &format!("{}.in-addr.arpa.", rev.join(".")), "PTR");
    let dashed = ips[0].replace('.', "-");
    assert_eq!(
        answers(&a),
        [
            format!("PTR {dashed}.headless-svc.default.svc.cluster.local."),
            format!("PTR {dashed}.httpd-svc.default.svc.cluster.local."),
        ]
    );
    // Endpoint name query; an unknown one is NXDOMAIN.
    let a = ask(
        &s,
        &format!("{dashed}.headless-svc.default.svc.cluster.local."),
        "A",
    );
    assert_eq!(answers(&a), [format!("A {}", ips[0])]);
    assert_eq!(
        ask(&s, "10-1-1-1.headless-svc.default.svc.cluster.local.", "A").rcode,
        ResponseCode::NXDomain
    );
    // No ready endpoint left: NXDOMAIN (a ClusterIP Service would still answer).
    for p in c
        .list_typed::<k8s_openapi::api::core::v1::Pod>(Some("default"))
        .filter_map(|p| p.metadata.name.clone())
        .collect::<Vec<_>>()
    {
        c.set_pod_ready("default", &p, false).unwrap();
    }
    c.settle();
    let s = DnsSnapshot::from_cluster(&c);
    assert_eq!(
        ask(&s, "headless-svc.default.svc.cluster.local.", "A").rcode,
        ResponseCode::NXDomain
    );
    assert_eq!(
        ask(&s, "httpd-svc.default.svc.cluster.local.", "A")
            .answers
            .len(),
        1
    );
}

#[test]
fn grammar_namespaces_pods_and_special_names() {
    let c = course_cluster();
    let s = DnsSnapshot::from_cluster(&c);
    let nx = |q: &str| ask(&s, q, "A").rcode == ResponseCode::NXDomain;
    let nodata = |q: &str| ask(&s, q, "A").is_nodata();
    assert!(nodata("cluster.local."));
    assert!(nodata("svc.cluster.local."));
    assert!(nodata("pod.cluster.local."));
    assert!(nodata("default.svc.cluster.local."));
    assert!(nx("nosuchns.svc.cluster.local."));
    assert!(nx("httpd-svc.nosuchns.svc.cluster.local."));
    assert!(nx("foo.cluster.local."));
    assert!(nx("*.default.svc.cluster.local."));
    assert!(nx("a.b.c.httpd-svc.default.svc.cluster.local."));
    assert!(nx(
        "httpd-svc.default.svc.cluster.local.default.svc.cluster.local."
    ));
    // Pods: any dashed IP in an existing namespace, no check that the pod exists.
    assert_eq!(
        answers(&ask(&s, "10-244-9-9.default.pod.cluster.local.", "A")),
        ["A 10.244.9.9"]
    );
    assert!(ask(&s, "10-244-9-9.default.pod.cluster.local.", "AAAA").is_nodata());
    assert!(nx("10-244-9-9.nosuchns.pod.cluster.local."));
    assert!(nx("blah.default.pod.cluster.local."));
    // The apex.
    let a = ask(&s, "cluster.local.", "SOA");
    assert_eq!(a.answers.len(), 1);
    assert!(
        a.answers[0]
            .data
            .to_string()
            .ends_with(" 7200 1800 86400 30")
    );
    let a = ask(&s, "cluster.local.", "NS");
    assert_eq!(answers(&a), ["NS kube-dns.kube-system.svc.cluster.local."]);
    assert_eq!(
        a.additional.iter().map(show).collect::<Vec<_>>(),
        ["A 10.96.0.10"]
    );
    assert_eq!(
        answers(&ask(&s, "ns.dns.cluster.local.", "A")),
        ["A 10.96.0.10"]
    );
    assert!(ask(&s, "ns.dns.cluster.local.", "AAAA").is_nodata());
    assert_eq!(
        ask(&s, "ns.dns.cluster.local.", "TXT").rcode,
        ResponseCode::NXDomain
    );
    // Zone transfers are refused.
    assert_eq!(
        ask(&s, "cluster.local.", "AXFR").rcode,
        ResponseCode::Refused
    );
    // kube-dns by port name: SRV 53 for dns and dns-tcp collapse; metrics 9153.
    let a = ask(&s, "kube-dns.kube-system.svc.cluster.local.", "SRV");
    assert_eq!(
        answers(&a),
        [
            "SRV 0 33 53 kube-dns.kube-system.svc.cluster.local.",
            "SRV 0 33 9153 kube-dns.kube-system.svc.cluster.local."
        ]
    );
    assert_eq!(a.additional.len(), 1);
    let a = ask(
        &s,
        "_dns._udp.kube-dns.kube-system.svc.cluster.local.",
        "SRV",
    );
    assert_eq!(
        answers(&a),
        ["SRV 0 100 53 kube-dns.kube-system.svc.cluster.local."]
    );
    // The Server line of busybox: PTR of 10.96.0.10.
    assert_eq!(
        answers(&ask(&s, "10.0.96.10.in-addr.arpa.", "PTR")),
        ["PTR kube-dns.kube-system.svc.cluster.local."]
    );
}

#[test]
fn outside_the_zone_goes_upstream() {
    let mut c = Cluster::kind();
    c.settle();
    let s = DnsSnapshot::from_cluster(&c);
    let a = ask(&s, "www.example.com.", "A");
    assert_eq!(answers(&a), ["A 192.0.2.10"]);
    assert!(!a.authoritative && a.recursion_available);
    // `<svc>.<ns>.` as an absolute name is not in the zone: the root says NXDOMAIN.
    let a = ask(&s, "httpd-svc.default.", "A");
    assert_eq!(a.rcode, ResponseCode::NXDomain);
    assert_eq!(a.authority[0].name, Name::root());
    // Reverse names the plugin does not know fall through to the upstream.
    let a = ask(&s, "7.1.244.10.in-addr.arpa.", "PTR");
    assert_eq!(a.rcode, ResponseCode::NXDomain);
    assert!(!a.authoritative);
    // "xcluster.local" is not the zone.
    assert!(!ask(&s, "xcluster.local.", "A").authoritative);
}

#[test]
fn external_name_is_a_cname_and_its_target_is_resolved() {
    let mut c = Cluster::kind();
    c.settle();
    c.apply_manifests(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ext\nspec:\n  type: ExternalName\n  externalName: www.example.com\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: inner\nspec:\n  type: ExternalName\n  externalName: kubernetes.default.svc.cluster.local\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: nowhere\nspec:\n  type: ExternalName\n  externalName: nowhere.example.net\n",
    )
    .unwrap();
    c.settle();
    let s = DnsSnapshot::from_cluster(&c);
    let a = ask(&s, "ext.default.svc.cluster.local.", "A");
    assert_eq!(
        a.answers.iter().map(show).collect::<Vec<_>>(),
        ["CNAME www.example.com.", "A 192.0.2.10"]
    );
    assert_eq!(a.answers[1].name, name("www.example.com."));
    let a = ask(&s, "inner.default.svc.cluster.local.", "A");
    assert_eq!(
        a.answers.iter().map(show).collect::<Vec<_>>(),
        ["CNAME kubernetes.default.svc.cluster.local.", "A 10.96.0.1"]
    );
    let a = ask(&s, "nowhere.default.svc.cluster.local.", "A");
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert_eq!(answers(&a), ["CNAME nowhere.example.net."]);
    assert_eq!(
        answers(&ask(&s, "ext.default.svc.cluster.local.", "CNAME")),
        ["CNAME www.example.com."]
    );
    assert_eq!(
        ask(&s, "x.ext.default.svc.cluster.local.", "A").rcode,
        ResponseCode::NXDomain
    );
    assert_eq!(
        ask(&s, "_p._tcp.ext.default.svc.cluster.local.", "SRV").rcode,
        ResponseCode::NXDomain
    );
    assert!(ask(&s, "ext.default.svc.cluster.local.", "SRV").is_nodata());
}

#[test]
fn upstream_table_lives_in_the_snapshot() {
    let mut c = Cluster::kind();
    let mut cfg = c.config().clone();
    cfg.dns_upstream.insert(
        "api.lab.test",
        UpstreamRecord::A("198.51.100.7".parse().unwrap()),
    );
    c = Cluster::new(cfg);
    c.settle();
    let snap = c.snapshot();
    let back = Cluster::from_snapshot(snap).unwrap();
    let s = DnsSnapshot::from_cluster(&back);
    assert_eq!(answers(&ask(&s, "api.lab.test.", "A")), ["A 198.51.100.7"]);
}

fn query_packet(q: &str, t: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    let mut query = Query::query(name(q), t);
    query.query_class = DNSClass::IN;
    m.add_query(query);
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

#[test]
fn wire_format_round_trip_errors_and_truncation() {
    let mut c = Cluster::kind();
    c.apply_manifests(&DEPLOYMENT.replace("replicas: 3", "replicas: 40"))
        .unwrap();
    c.apply_manifests(HEADLESS).unwrap();
    c.settle();
    let s = DnsSnapshot::from_cluster(&c);

    let reply = wire::handle(
        &s,
        &query_packet("kubernetes.default.svc.cluster.local.", RecordType::A, None),
        Transport::Udp,
    )
    .unwrap();
    let m = Message::from_vec(&reply).unwrap();
    assert_eq!(m.metadata.id, 0x4242);
    assert!(
        m.metadata.authoritative && m.metadata.recursion_desired && !m.metadata.recursion_available
    );
    assert_eq!(m.queries.len(), 1);
    assert_eq!(
        m.answers.iter().map(show).collect::<Vec<_>>(),
        ["A 10.96.0.1"]
    );

    // 40 A records do not fit in 512 bytes: TC over UDP, everything over TCP or with EDNS.
    let q = query_packet(
        "headless-svc.default.svc.cluster.local.",
        RecordType::A,
        None,
    );
    let m = Message::from_vec(&wire::handle(&s, &q, Transport::Udp).unwrap()).unwrap();
    assert!(m.metadata.truncation);
    assert!(m.answers.len() < 40);
    let udp_len = wire::handle(&s, &q, Transport::Udp).unwrap().len();
    assert!(udp_len <= 512, "{udp_len}");
    let m = Message::from_vec(&wire::handle(&s, &q, Transport::Tcp).unwrap()).unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 40);
    let q = query_packet(
        "headless-svc.default.svc.cluster.local.",
        RecordType::A,
        Some(1232),
    );
    let m = Message::from_vec(&wire::handle(&s, &q, Transport::Udp).unwrap()).unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(m.edns.as_ref().map(|e| e.max_payload()), Some(1232));

    // Broken packets: FORMERR with the ID when the header is there, silence otherwise.
    assert_eq!(wire::handle(&s, &[1, 2, 3], Transport::Udp), None);
    let mut broken = query_packet("kubernetes.default.svc.cluster.local.", RecordType::A, None);
    broken.truncate(20);
    let m = Message::from_vec(&wire::handle(&s, &broken, Transport::Udp).unwrap()).unwrap();
    assert_eq!(
        (m.metadata.id, m.metadata.response_code),
        (0x4242, ResponseCode::FormErr)
    );
    // A response is never answered.
    let mut resp = query_packet("kubernetes.default.svc.cluster.local.", RecordType::A, None);
    resp[2] |= 0x80;
    assert_eq!(wire::handle(&s, &resp, Transport::Udp), None);
    // Two questions: FORMERR; another opcode: NOTIMP.
    let mut two = Message::new(7, MessageType::Query, OpCode::Query);
    two.add_query(Query::query(name("a.b."), RecordType::A));
    two.add_query(Query::query(name("c.d."), RecordType::A));
    let m = Message::from_vec(&wire::handle(&s, &two.to_vec().unwrap(), Transport::Udp).unwrap())
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    let mut notify = Message::new(8, MessageType::Query, OpCode::Notify);
    notify.add_query(Query::query(name("cluster.local."), RecordType::SOA));
    let m =
        Message::from_vec(&wire::handle(&s, &notify.to_vec().unwrap(), Transport::Udp).unwrap())
            .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
}
