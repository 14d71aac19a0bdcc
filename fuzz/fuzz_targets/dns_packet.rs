//! Coverage-guided fuzzing of the DNS packet path: every input goes through
//! `lab_core::dns::wire::handle` over UDP and TCP, against a cluster with a ClusterIP and a
//! headless Service of 30 pods. A reply must decode, carry the query's ID and QR, and fit the
//! transport's limit; silence is allowed only for inputs without a header or for responses.
//!
//! `cargo +nightly fuzz run dns_packet -- -max_total_time=600` (see docs/reliability.md).

#![no_main]

use hickory_proto::op::{Message, MessageType};
use lab_core::Cluster;
use lab_core::dns::DnsSnapshot;
use lab_core::dns::wire::{self, Transport};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const DEPLOYMENT: &str = include_str!("../../lab-core/tests/data/httpd-deployment.yaml");
const SERVICE: &str = include_str!("../../lab-core/tests/data/httpd-service.yaml");
const HEADLESS: &str = include_str!("../../lab-core/tests/data/headless-service.yaml");

fn snapshot() -> &'static DnsSnapshot {
    static S: OnceLock<DnsSnapshot> = OnceLock::new();
    S.get_or_init(|| {
        let mut c = Cluster::kind();
        c.apply_manifests(&DEPLOYMENT.replace("replicas: 3", "replicas: 30"))
            .expect("course manifests apply");
        c.apply_manifests(SERVICE).expect("course manifests apply");
        c.apply_manifests(HEADLESS).expect("course manifests apply");
        c.settle();
        DnsSnapshot::from_cluster(&c)
    })
}

fn check(packet: &[u8], transport: Transport) {
    let Some(reply) = wire::handle(snapshot(), packet, transport) else {
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
    assert!(reply.len() <= limit);
}

fuzz_target!(|data: &[u8]| {
    check(data, Transport::Udp);
    check(data, Transport::Tcp);
});
