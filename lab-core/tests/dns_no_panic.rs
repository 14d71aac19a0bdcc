//! The DNS packet path never panics and always answers within the rules: random bytes, mutated
//! queries and arbitrary questions go through `dns::wire::handle` (the code the server runs for
//! every packet) and come back as a well-formed response, or as nothing.
//! `fuzz/` holds the coverage-guided version of the same check (cargo fuzz, nightly).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use lab_core::Cluster;
use lab_core::dns::DnsSnapshot;
use lab_core::dns::wire::{self, Transport};
use proptest::prelude::*;
use std::sync::OnceLock;

const DEPLOYMENT: &str = include_str!("data/httpd-deployment.yaml");
const SERVICE: &str = include_str!("data/httpd-service.yaml");
const HEADLESS: &str = include_str!("data/headless-service.yaml");

fn snapshot() -> &'static DnsSnapshot {
    static S: OnceLock<DnsSnapshot> = OnceLock::new();
    S.get_or_init(|| {
        let mut c = Cluster::kind();
        c.apply_manifests(&DEPLOYMENT.replace("replicas: 3", "replicas: 30"))
            .unwrap();
        c.apply_manifests(SERVICE).unwrap();
        c.apply_manifests(HEADLESS).unwrap();
        c.settle();
        DnsSnapshot::from_cluster(&c)
    })
}

/// Checks one reply against the query bytes it answers.
fn check(packet: &[u8], transport: Transport) {
    let Some(reply) = wire::handle(snapshot(), packet, transport) else {
        // Silence is only allowed for packets without a header, or for responses.
        assert!(packet.len() < 12 || packet[2] & 0x80 != 0);
        return;
    };
    let m = Message::from_vec(&reply).expect("every reply decodes");
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(m.metadata.id, u16::from_be_bytes([packet[0], packet[1]]));
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => Message::from_vec(packet)
            .ok()
            .and_then(|q| q.edns.map(|e| usize::from(e.max_payload())))
            .unwrap_or(512)
            .max(512),
    };
    assert!(reply.len() <= limit, "{} > {limit}", reply.len());
}

fn names() -> impl Strategy<Value = String> {
    let label = prop_oneof![
        Just("httpd-svc".to_string()),
        Just("headless-svc".to_string()),
        Just("default".to_string()),
        Just("kube-system".to_string()),
        Just("svc".to_string()),
        Just("pod".to_string()),
        Just("cluster".to_string()),
        Just("local".to_string()),
        Just("in-addr".to_string()),
        Just("arpa".to_string()),
        Just("_dns".to_string()),
        Just("_udp".to_string()),
        Just("10-244-1-2".to_string()),
        "[a-zA-Z0-9*_-]{1,12}",
        "[0-9]{1,3}",
    ];
    prop::collection::vec(label, 0..9).prop_map(|ls| format!("{}.", ls.join(".")))
}

fn query(name: &str, qtype: u16, class: u16, edns: Option<u16>, id: u16) -> Option<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    let mut q = Query::query(Name::from_ascii(name).ok()?, RecordType::from(qtype));
    q.query_class = DNSClass::from(class);
    m.add_query(q);
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check(&bytes, Transport::Udp);
        check(&bytes, Transport::Tcp);
    }

    #[test]
    fn arbitrary_questions(
        name in names(),
        qtype in prop_oneof![Just(1u16), Just(28), Just(33), Just(12), Just(5), Just(16), Just(2), Just(6), Just(15), Just(252), Just(255), any::<u16>()],
        class in prop_oneof![Just(1u16), Just(3), any::<u16>()],
        edns in prop::option::of(0u16..5000),
        id in any::<u16>(),
    ) {
        if let Some(p) = query(&name, qtype, class, edns, id) {
            check(&p, Transport::Udp);
            check(&p, Transport::Tcp);
        }
    }

    #[test]
    fn mutated_queries(
        name in names(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let Some(mut p) = query(&name, 1, 1, Some(1232), 7) else { return Ok(()); };
        for (i, b) in flips {
            let at = i.index(p.len());
            p[at] ^= b;
        }
        if truncate {
            let at = cut.index(p.len() + 1);
            p.truncate(at);
        }
        check(&p, Transport::Udp);
        check(&p, Transport::Tcp);
    }
}
