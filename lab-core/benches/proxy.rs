//! kube-proxy rule rendering: N ClusterIP Services × 5 endpoints, one node, per mode.
//! `taskset -c 1 cargo bench -p lab-core --bench proxy`; figures in docs/perf.md.
//!
//! - `proxy_render`: a full render (iptables restore text, `ipvsadm -Ln`, `nft list`);
//! - `proxy_resync`: one endpoint of one Service changes, then a partial sync
//!   ([`Proxier::sync_changes`]: the changed port re-rendered, the diff, the payload), fed the
//!   change as kube-proxy's informer does;
//! - `proxy_resync_snapshot`: the same change found by diffing a whole snapshot
//!   ([`Proxier::sync`]).

use criterion::{Criterion, criterion_group, criterion_main};
use lab_core::proxy::ProxySnapshot;
use lab_core::proxy::sync::{Proxier, ProxierMode};
use lab_core::proxy::{iptables, ipvs, nftables};
use std::time::Duration;

const SIZES: [usize; 3] = [1, 5_000, 20_000];
const NODE: &str = "kind-worker";

fn modes() -> [(&'static str, ProxierMode); 3] {
    [
        (
            "iptables",
            ProxierMode::Iptables(iptables::IptablesOptions::kind()),
        ),
        ("ipvs", ProxierMode::Ipvs(ipvs::IpvsOptions::default())),
        (
            "nftables",
            ProxierMode::Nftables(nftables::NftablesOptions::kind()),
        ),
    ]
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("proxy_render");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for n in SIZES {
        let snapshot = lab_core::scale::proxy_snapshot(n, 5);
        let ipt = iptables::render(&snapshot, NODE, &iptables::IptablesOptions::kind()).unwrap();
        let ipvs_state = ipvs::render(&snapshot, NODE, &ipvs::IpvsOptions::default()).unwrap();
        let nft = nftables::render(&snapshot, NODE, &nftables::NftablesOptions::kind()).unwrap();
        let ipvs_rules: usize = ipvs_state
            .virtual_servers
            .iter()
            .map(|vs| 1 + vs.real_servers.len())
            .sum();
        eprintln!(
            "{n} services: rules iptables {} (filter + nat), IPVS {} (virtual + real servers), nftables {} (chain rules)",
            ipt.rule_count(),
            ipvs_rules,
            nft.rule_count()
        );
        group.measurement_time(Duration::from_secs(if n > 1 { 20 } else { 2 }));
        group.bench_function(format!("iptables/{n}"), |b| {
            b.iter(|| {
                iptables::render(&snapshot, NODE, &iptables::IptablesOptions::kind())
                    .unwrap()
                    .restore_text()
            })
        });
        group.bench_function(format!("ipvs/{n}"), |b| {
            b.iter(|| ipvs::render_ipvsadm(&snapshot, NODE).unwrap())
        });
        group.bench_function(format!("nftables/{n}"), |b| {
            b.iter(|| nftables::render_list(&snapshot, NODE).unwrap())
        });
    }
    group.finish();
}

/// The snapshot with the first endpoint of the first Service moved to another address, and
/// the changed slice carrying a new resourceVersion (as the apiserver would give it).
fn changed(snapshot: &ProxySnapshot, version: &str) -> ProxySnapshot {
    let mut s = snapshot.clone();
    if let Some(slice) = s.endpoint_slices.first_mut() {
        if let Some(ep) = slice.endpoints.first_mut() {
            ep.addresses = vec!["10.255.255.254".into()];
        }
        slice.metadata.resource_version = Some(version.into());
    }
    s
}

fn resync(c: &mut Criterion) {
    let mut group = c.benchmark_group("proxy_resync");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for n in SIZES {
        let a = lab_core::scale::proxy_snapshot(n, 5);
        let b = changed(&a, "2");
        let (slice_a, slice_b) = (a.endpoint_slices[0].clone(), b.endpoint_slices[0].clone());
        for (name, mode) in modes() {
            let mut p = Proxier::new(NODE, mode);
            p.sync(&a).unwrap();
            let mut flip = false;
            group.bench_function(format!("{name}/{n}"), |bench| {
                bench.iter(|| {
                    flip = !flip;
                    p.update_endpoint_slice(if flip { &slice_b } else { &slice_a });
                    let r = p.sync_changes().unwrap();
                    assert_eq!(r.changes.len(), 1);
                    r
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("proxy_resync_snapshot");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    for n in SIZES {
        let a = lab_core::scale::proxy_snapshot(n, 5);
        let b = changed(&a, "2");
        let (name, mode) = modes()[0].clone();
        let mut p = Proxier::new(NODE, mode);
        p.sync(&a).unwrap();
        let mut flip = false;
        group.bench_function(format!("{name}/{n}"), |bench| {
            bench.iter(|| {
                flip = !flip;
                p.sync(if flip { &b } else { &a }).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render, resync);
criterion_main!(benches);
