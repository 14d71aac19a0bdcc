//! kube-proxy rule rendering: N ClusterIP Services × 5 endpoints, one node, per mode.
//! `cargo bench -p lab-core --bench proxy`; figures in docs/perf.md.

use criterion::{Criterion, criterion_group, criterion_main};
use lab_core::proxy::{iptables, ipvs, nftables};
use std::time::Duration;

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("proxy_render");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for n in [1usize, 5_000, 20_000] {
        let snapshot = lab_core::scale::proxy_snapshot(n, 5);
        let rules =
            iptables::render(&snapshot, "kind-worker", &iptables::IptablesOptions::kind()).unwrap();
        eprintln!("{n} services: iptables rules {}", rules.rule_count());
        group.measurement_time(Duration::from_secs(if n > 1 { 20 } else { 2 }));
        group.bench_function(format!("iptables/{n}"), |b| {
            b.iter(|| {
                iptables::render(&snapshot, "kind-worker", &iptables::IptablesOptions::kind())
                    .unwrap()
                    .restore_text()
            })
        });
        group.bench_function(format!("ipvs/{n}"), |b| {
            b.iter(|| ipvs::render_ipvsadm(&snapshot, "kind-worker").unwrap())
        });
        group.bench_function(format!("nftables/{n}"), |b| {
            b.iter(|| nftables::render_list(&snapshot, "kind-worker").unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
