//! Convergence benchmark: apply N Services, each selecting a 5-replica Deployment, and let every
//! controller converge (pods Running and Ready, Endpoints and EndpointSlices filled).
//! `cargo bench -p lab-core --bench converge`; figures and method in docs/perf.md.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::time::Duration;

fn converge(c: &mut Criterion) {
    let mut group = c.benchmark_group("converge");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for n in [1usize, 5_000, 20_000] {
        group.measurement_time(Duration::from_secs(if n > 1 { 60 } else { 2 }));
        group.bench_function(format!("{n}_services"), |b| {
            b.iter_batched(
                || lab_core::scale::cluster_for(n),
                |mut cluster| {
                    lab_core::scale::apply_and_converge(&mut cluster, n);
                    cluster
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, converge);
criterion_main!(benches);
