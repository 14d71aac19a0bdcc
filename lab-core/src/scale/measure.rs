//! The course's scale table, measured: what one node's kube-proxy does as Services grow, in
//! iptables, IPVS and nftables mode.
//!
//! The chapter quotes the figures that motivated IPVS mode (KEP "IPVS-based in-cluster load
//! balancing", 2017): rules to keep, and the time to add one rule, at 1 / 5,000 / 20,000
//! Services. [`measure`] answers the same questions for the simulator's kube-proxy
//! ([`crate::proxy::sync::Proxier`]) and data path ([`crate::trace::Tracer`]):
//!
//! - **rules** kube-proxy programs on the node (iptables: restore lines of filter + nat; IPVS:
//!   virtual plus real servers; nftables: chain rules);
//! - **full sync**: the time of kube-proxy's first sync (render every Service port and build the
//!   `iptables-restore` / `nft -f` / `ipvsadm` payload);
//! - **one change**: the time of a partial sync after one endpoint moved (the mean of
//!   [`CHANGE_REPEATS`], after one untimed), and how many payload lines it sends (iptables
//!   rewrites `KUBE-SERVICES` for every Service on every sync);
//! - **rules traversed** by one packet to the Service whose rule is *last* in nat
//!   `KUBE-SERVICES` (iptables mode's worst case; the same packet in every mode), and the hash
//!   lookups it took.
//!
//! Pure like the rest of lab-core: the caller passes the clock (milliseconds), so the web UI's
//! worker times with `performance.now()` and native callers with `Instant`. Counts are
//! deterministic; times are whatever the machine measured.

use super::proxy_snapshot;
use crate::config::ProxyMode;
use crate::proxy::iptables::{self, IptablesOptions};
use crate::proxy::sync::{Proxier, ProxierMode};
use crate::proxy::{Protocol, ProxySnapshot};
use crate::trace::{Packet, PodAddr, Source, TraceError, Tracer, Verdict};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The chapter's Service counts.
pub const SIZES: [usize; 3] = [1, 5_000, 20_000];
/// Ready endpoints per Service (the benchmarks' figure, as in `docs/perf.md`).
pub const ENDPOINTS: usize = 5;
/// The node whose kube-proxy is measured.
pub const NODE: &str = "kind-worker";
/// Partial syncs timed per figure: one is often below the browser's timer resolution.
pub const CHANGE_REPEATS: usize = 20;
/// The modes, in the order the views show them.
pub const MODES: [ProxyMode; 3] = [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables];

/// The client the traced packet comes from: a pod on [`NODE`] (outside the endpoints' range).
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 244, 1, 250);

/// The input of one column of the table: N Services × [`ENDPOINTS`] ready endpoints
/// ([`proxy_snapshot`]), the packet to trace and the endpoint change to sync.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Number of Services.
    pub services: usize,
    snapshot: ProxySnapshot,
    /// The packet traced in every mode.
    pub packet: Packet,
    client: PodAddr,
    /// The first Service's EndpointSlice with its first endpoint moved, then as it was: a
    /// partial sync alternates between them.
    moved: [EndpointSlice; 2],
}

impl Workload {
    /// Builds the objects and finds the packet's destination (renders the iptables rules once).
    pub fn new(services: usize) -> Workload {
        let snapshot = proxy_snapshot(services, ENDPOINTS);
        let (destination, protocol) = last_cluster_ip(&snapshot)
            .expect("a snapshot with at least one Service has a cluster IP rule");
        let original = snapshot.endpoint_slices[0].clone();
        let mut moved = original.clone();
        // An address no other endpoint of the scenario uses (they count up from 10.0.1.0).
        moved.endpoints[0].addresses = vec!["10.255.255.254".into()];
        Workload {
            services,
            packet: Packet {
                source: Source::Pod {
                    namespace: "default".into(),
                    name: "client".into(),
                },
                destination,
                protocol,
            },
            client: PodAddr {
                namespace: "default".into(),
                name: "client".into(),
                ip: Some(CLIENT_IP),
                node: Some(NODE.into()),
            },
            snapshot,
            moved: [moved, original],
        }
    }

    /// The objects kube-proxy reads.
    pub fn snapshot(&self) -> &ProxySnapshot {
        &self.snapshot
    }
}

/// The destination of the last ClusterIP rule of nat `KUBE-SERVICES` on [`NODE`], in kube-proxy's
/// (and `iptables-save`'s) order: the Service a packet reaches after testing every other one.
pub fn last_cluster_ip(snapshot: &ProxySnapshot) -> Option<(SocketAddrV4, Protocol)> {
    let rules = iptables::render(snapshot, NODE, &IptablesOptions::kind()).ok()?;
    let line = rules
        .nat
        .rule_lines()
        .filter(|l| {
            l.starts_with("-A KUBE-SERVICES ") && l.contains(" cluster IP\"") && l.contains(" -d ")
        })
        .last()?;
    let rule = iptables::Rule::from_restore_line(line)?.parse();
    let ip: Ipv4Addr = rule
        .destination?
        .value
        .trim_end_matches("/32")
        .parse()
        .ok()?;
    let port: u16 = rule
        .matches
        .iter()
        .flat_map(|m| &m.options)
        .find(|o| o.name == "dport")?
        .values
        .first()?
        .parse()
        .ok()?;
    let protocol = Protocol::parse(rule.protocol.map(|p| p.value.to_uppercase()).as_deref())?;
    Some((SocketAddrV4::new(ip, port), protocol))
}

/// One mode at one size: what the scale view charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Number of Services.
    pub services: usize,
    /// The kube-proxy mode.
    pub mode: ProxyMode,
    /// Rules programmed on the node.
    pub rules: usize,
    /// kube-proxy's first (full) sync, in milliseconds.
    pub full_sync_ms: f64,
    /// One partial sync after one endpoint moved, in milliseconds (mean of
    /// [`CHANGE_REPEATS`], after one untimed).
    pub change_ms: f64,
    /// Lines of that partial sync's payload.
    pub change_payload_lines: usize,
    /// Rules the traced packet was tested against (an IPVS table lookup counts as one).
    pub rules_traversed: usize,
    /// Hash or map lookups the traced packet took.
    pub hash_lookups: usize,
    /// Where the packet went: the endpoint `ip:port`, or the verdict.
    pub reached: String,
}

/// Measures `mode` on `workload`, timing with `now` (milliseconds, monotonic).
pub fn measure(
    workload: &Workload,
    mode: ProxyMode,
    now: &mut dyn FnMut() -> f64,
) -> Result<Figures, TraceError> {
    let mut proxier = Proxier::new(NODE, ProxierMode::kind(mode));
    let start = now();
    proxier.sync(&workload.snapshot)?;
    let full_sync_ms = now() - start;
    let rules = proxier.rule_count();

    // One change first, untimed: the first partial sync after a full one pays one-time costs
    // (first-touch memory, the trackers' first entries) that are not what a change costs.
    proxier.update_endpoint_slice(&workload.moved[0]);
    proxier.sync_changes()?;
    let mut change_payload_lines = 0;
    let start = now();
    for i in 1..=CHANGE_REPEATS {
        proxier.update_endpoint_slice(&workload.moved[i % 2]);
        let result = proxier.sync_changes()?;
        change_payload_lines = result.payload.lines().count();
    }
    let change_ms = (now() - start) / CHANGE_REPEATS as f64;
    drop(proxier);

    let tracer =
        Tracer::new(workload.snapshot.clone(), vec![workload.client.clone()]).with_mode(mode);
    let trace = tracer.trace_seeded(&workload.packet, 1)?;
    let reached = match &trace.verdict {
        Verdict::Dnat { ip, port, .. } => format!("{ip}:{port}"),
        other => other.describe(),
    };
    Ok(Figures {
        services: workload.services,
        mode,
        rules,
        full_sync_ms,
        change_ms,
        change_payload_lines,
        rules_traversed: trace.rules_traversed,
        hash_lookups: trace.lookups,
        reached,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> impl FnMut() -> f64 {
        let mut t = 0.0;
        move || {
            t += 1.0;
            t
        }
    }

    #[test]
    fn the_last_cluster_ip_is_the_last_service_in_string_order() {
        // default/svc-9 sorts after default/svc-10 … svc-19.
        let w = Workload::new(20);
        let svc9 = w
            .snapshot()
            .services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some("svc-9"))
            .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
            .unwrap();
        assert_eq!(w.packet.destination.ip().to_string(), svc9);
        assert_eq!(w.packet.destination.port(), 80);
        assert_eq!(w.packet.protocol, Protocol::Tcp);
    }

    #[test]
    fn counts_grow_linearly_in_iptables_mode_and_stay_flat_in_the_hashed_modes() {
        let small = Workload::new(1);
        let big = Workload::new(200);
        let f = |w: &Workload, m| measure(w, m, &mut clock()).unwrap();
        let (ipt1, ipt200) = (f(&small, ProxyMode::Iptables), f(&big, ProxyMode::Iptables));
        let (ipvs1, ipvs200) = (f(&small, ProxyMode::Ipvs), f(&big, ProxyMode::Ipvs));
        let (nft1, nft200) = (f(&small, ProxyMode::Nftables), f(&big, ProxyMode::Nftables));
        // docs/perf.md: 17 iptables rules per Service with 5 endpoints, 6 in IPVS (1 virtual +
        // 5 real servers), 12 nftables chain rules.
        assert_eq!(ipt200.rules - ipt1.rules, 199 * 17);
        assert_eq!(ipvs200.rules - ipvs1.rules, 199 * 6);
        assert_eq!(nft200.rules - nft1.rules, 199 * 12);
        // The packet tests every KUBE-SERVICES rule ahead of its own in iptables mode only.
        assert_eq!(ipt200.rules_traversed - ipt1.rules_traversed, 199);
        assert_eq!(ipvs200.rules_traversed, ipvs1.rules_traversed);
        assert_eq!(nft200.rules_traversed, nft1.rules_traversed);
        assert_eq!(ipt200.hash_lookups, 0);
        assert!(ipvs200.hash_lookups > 0 && nft200.hash_lookups > 0);
        // Every packet reaches one of its Service's endpoints on the target port.
        for fig in [&ipt200, &ipvs200, &nft200] {
            assert!(fig.reached.ends_with(":8080"), "{fig:?}");
        }
        // One endpoint change: iptables resends KUBE-SERVICES whole, the others do not grow.
        assert!(ipt200.change_payload_lines >= ipt1.change_payload_lines + 199);
        assert_eq!(ipvs200.change_payload_lines, ipvs1.change_payload_lines);
        assert_eq!(nft200.change_payload_lines, nft1.change_payload_lines);
    }

    #[test]
    fn times_come_from_the_clock_it_is_given() {
        let w = Workload::new(3);
        let fig = measure(&w, ProxyMode::Ipvs, &mut clock()).unwrap();
        // One tick per reading: the full sync spans one tick, the change loop one tick too.
        assert_eq!(fig.full_sync_ms, 1.0);
        assert_eq!(fig.change_ms, 1.0 / CHANGE_REPEATS as f64);
        let json = serde_json::to_string(&fig).unwrap();
        assert_eq!(serde_json::from_str::<Figures>(&json).unwrap(), fig);
    }
}
