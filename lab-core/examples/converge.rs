//! `cargo run --release -p lab-core --example converge -- N`: applies N Services with 5-replica
//! Deployments on the scale profile, converges, and prints the time and peak memory (VmHWM).

use std::time::Instant;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let t0 = Instant::now();
    let mut c = lab_core::scale::cluster_for(n);
    let boot = t0.elapsed();
    let t1 = Instant::now();
    lab_core::scale::apply_and_converge(&mut c, n);
    let converge = t1.elapsed();
    println!(
        "services={n} pods={} objects={} bootstrap_ms={} converge_ms={} peak_rss_mib={}",
        n * 5,
        c.store().len(),
        boot.as_millis(),
        converge.as_millis(),
        peak_rss_kib().map_or("?".into(), |k| (k / 1024).to_string())
    );
}
