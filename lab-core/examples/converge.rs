//! `cargo run --release -p lab-core --example converge -- N`: applies N Services with 5-replica
//! Deployments on the scale profile, converges, and prints the time and peak memory (VmHWM).
//! `SVCLAB_EVENTS=1` records Events as the default profile does.

use std::time::Instant;

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
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
    let events = std::env::var("SVCLAB_EVENTS").is_ok_and(|v| v == "1");
    let t0 = Instant::now();
    let mut c = lab_core::scale::cluster_for_with(n, events);
    let boot = t0.elapsed();
    let t1 = Instant::now();
    lab_core::scale::apply_and_converge(&mut c, n);
    let converge = t1.elapsed();
    let rss_now = status_kib("VmRSS:").unwrap_or(0) / 1024;
    let json: usize = if std::env::var("SVCLAB_JSON_SIZE").is_ok() {
        c.store()
            .iter()
            .map(|o| o.to_json().to_string().len())
            .sum()
    } else {
        0
    };
    println!(
        "services={n} pods={} objects={} events={events} bootstrap_ms={} converge_ms={} peak_rss_mib={} rss_now_mib={rss_now} json_mib={}",
        n * 5,
        c.store().len(),
        boot.as_millis(),
        converge.as_millis(),
        status_kib("VmHWM:").map_or("?".into(), |k| (k / 1024).to_string()),
        json / 1024 / 1024
    );
}
