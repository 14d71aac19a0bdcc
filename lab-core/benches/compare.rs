//! `lab-runner compare`'s pure part: a node's dumps parsed and diffed against the prediction,
//! for N ClusterIP Services × 5 endpoints on one node, per mode (the node showing exactly the
//! prediction, so every line is compared). `taskset -c 1 cargo bench -p lab-core --bench
//! compare`; figures in docs/perf.md.

use criterion::{Criterion, criterion_group, criterion_main};
use lab_core::compare::{Found, compare_node, predict};
use lab_core::config::ProxyMode;
use lab_core::proxy::nftables::NftablesOptions;
use std::time::Duration;

const NODE: &str = "kind-worker";

fn compare(c: &mut Criterion) {
    let mut group = c.benchmark_group("compare");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for n in [1usize, 1_000, 5_000] {
        group.measurement_time(Duration::from_secs(if n > 1 { 20 } else { 2 }));
        for mode in [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables] {
            let mut snapshot = lab_core::scale::proxy_snapshot(n, 5);
            snapshot.config.mode = mode;
            let nft = NftablesOptions::kind();
            let found: Vec<Found> = predict(&snapshot, &nft, NODE)
                .unwrap()
                .into_iter()
                .map(|(source, stdout)| Found {
                    source,
                    command: source.argv().join(" "),
                    stdout,
                })
                .collect();
            let report = compare_node(&snapshot, &nft, NODE, &found).unwrap();
            assert_eq!(report.mismatch_count(), 0);
            group.bench_function(format!("{}/{n}", mode.as_str()), |b| {
                b.iter(|| compare_node(&snapshot, &nft, NODE, &found).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, compare);
criterion_main!(benches);
