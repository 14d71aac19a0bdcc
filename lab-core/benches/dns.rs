//! CoreDNS answer time in a 20,000-Service cluster: `DnsSnapshot::lookup` for a ClusterIP A
//! record (target ≤ 2 µs), a headless-style endpoint name, NXDOMAIN and a PTR, then the whole
//! wire path (`wire::handle`: decode the packet, look up, encode the reply). The snapshot is built
//! once (setup): the kind cluster plus `scale::dns_objects` (20,000 selectorless Services × 5
//! endpoints). `taskset -c 1 cargo bench -p lab-core --bench dns`; figures in docs/perf.md.

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use lab_core::Cluster;
use lab_core::dns::wire::{self, Transport};
use lab_core::dns::{Name, RecordType, ResponseCode};
use std::hint::black_box;
use std::time::Duration;

const SERVICES: usize = 20_000;

fn query(name: &Name, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name.clone(), qtype));
    m.to_vec().expect("query encodes")
}

fn dns(c: &mut Criterion) {
    let snapshot = lab_core::scale::dns_snapshot_with(&Cluster::kind(), SERVICES, 5);
    assert!(snapshot.services.len() > SERVICES);
    let last = SERVICES - 1;
    let a_name = Name::from_ascii(format!("svc-{last}.bench.svc.cluster.local.")).unwrap();
    let ep_name = Name::from_ascii(format!(
        "{}.svc-{last}.bench.svc.cluster.local.",
        std::net::Ipv4Addr::from(0x0a00_0100 + (last * 5) as u32)
            .to_string()
            .replace('.', "-")
    ))
    .unwrap();
    let nx_name = Name::from_ascii("nosuch.bench.svc.cluster.local.").unwrap();
    let ptr_name = Name::from_ascii("10.0.96.10.in-addr.arpa.").unwrap();
    // Every case answers as it should, so the timings are of real answers.
    let a = snapshot.lookup(&a_name, RecordType::A);
    assert_eq!((a.rcode, a.answers.len()), (ResponseCode::NoError, 1));
    assert_eq!(snapshot.lookup(&ep_name, RecordType::A).answers.len(), 1);
    assert_eq!(
        snapshot.lookup(&nx_name, RecordType::A).rcode,
        ResponseCode::NXDomain
    );
    assert_eq!(snapshot.lookup(&ptr_name, RecordType::PTR).answers.len(), 1);

    let mut group = c.benchmark_group("dns_20000_services");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("lookup_clusterip_a", |b| {
        b.iter(|| snapshot.lookup(black_box(&a_name), RecordType::A))
    });
    group.bench_function("lookup_endpoint_a", |b| {
        b.iter(|| snapshot.lookup(black_box(&ep_name), RecordType::A))
    });
    group.bench_function("lookup_nxdomain", |b| {
        b.iter(|| snapshot.lookup(black_box(&nx_name), RecordType::A))
    });
    group.bench_function("lookup_ptr", |b| {
        b.iter(|| snapshot.lookup(black_box(&ptr_name), RecordType::PTR))
    });
    let packet = query(&a_name, RecordType::A);
    assert!(wire::handle(&snapshot, &packet, Transport::Udp).is_some());
    group.bench_function("wire_handle_clusterip_a_udp", |b| {
        b.iter(|| wire::handle(&snapshot, black_box(&packet), Transport::Udp))
    });
    group.finish();
}

criterion_group!(benches, dns);
criterion_main!(benches);
