//! The scale view's measurement, natively: `lab_core::scale::measure` at 1 / 5,000 / 20,000
//! Services in each kube-proxy mode, timed with `Instant`, printed as a table.
//! `taskset -c 1 cargo run --release -p lab-core --example scale_table`; figures in docs/perf.md
//! beside the ones the browser measures (`scripts/bench-web`).

use lab_core::scale::measure::{MODES, SIZES, Workload, measure};
use std::time::Instant;

fn main() {
    let origin = Instant::now();
    let mut now = || origin.elapsed().as_secs_f64() * 1000.0;
    println!(
        "| Services | mode | rules | full sync | one change | payload lines | rules traversed | hash lookups |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    for services in SIZES {
        let workload = Workload::new(services);
        for mode in MODES {
            let f = measure(&workload, mode, &mut now).expect("the scenario traces");
            println!(
                "| {} | {} | {} | {:.1} ms | {:.3} ms | {} | {} | {} |",
                f.services,
                f.mode.as_str(),
                f.rules,
                f.full_sync_ms,
                f.change_ms,
                f.change_payload_lines,
                f.rules_traversed,
                f.hash_lookups
            );
        }
    }
}
