//! One packet traced to a ClusterIP, per kube-proxy mode, at 1 / 5,000 / 20,000 Services × 5
//! endpoints. The Tracer renders and compiles the node's rules before timing (setup); what is
//! timed is one seeded trace from a pod on kind-worker to the *last* Service of nat
//! `KUBE-SERVICES` (iptables mode's worst case, traced in every mode).
//! `taskset -c 1 cargo bench -p lab-core --bench trace`; figures in docs/perf.md.

use criterion::{Criterion, criterion_group, criterion_main};
use lab_core::scale::measure::last_cluster_ip;
use lab_core::trace::{Packet, PodAddr, ProxyMode, Source, Tracer};
use std::net::Ipv4Addr;
use std::time::Duration;

const NODE: &str = "kind-worker";

fn trace(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let client = PodAddr {
        namespace: "default".into(),
        name: "client".into(),
        ip: Some(Ipv4Addr::new(10, 244, 1, 250)),
        node: Some(NODE.into()),
    };
    for n in [1usize, 5_000, 20_000] {
        let snapshot = lab_core::scale::proxy_snapshot(n, 5);
        let (destination, protocol) = last_cluster_ip(&snapshot).expect("a cluster IP rule");
        let packet = Packet {
            source: Source::Pod {
                namespace: "default".into(),
                name: "client".into(),
            },
            destination,
            protocol,
        };
        for mode in [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables] {
            let tracer = Tracer::new(snapshot.clone(), vec![client.clone()]).with_mode(mode);
            // Setup, not timed by criterion: render, parse and compile the node's rules once.
            let start = std::time::Instant::now();
            tracer.prepare(NODE).expect("node exists");
            let setup = start.elapsed();
            let t = tracer.trace_seeded(&packet, 1).expect("trace");
            eprintln!(
                "{n} services, {}: setup {setup:.1?}; to {destination}: {} steps, \
                 rules traversed {}, hash lookups {}, verdict {:?}",
                mode.as_str(),
                t.steps.len(),
                t.rules_traversed,
                t.lookups,
                t.verdict
            );
            group.bench_function(format!("{}/{n}", mode.as_str()), |b| {
                b.iter(|| tracer.trace_seeded(&packet, 1).expect("trace"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, trace);
criterion_main!(benches);
