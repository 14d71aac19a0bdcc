//! `lab-runner dns-zone`: the records the DNS server answers, written as static zone files
//! (RFC 1035 §5 master files) for a reference authoritative server.
//!
//! The records are not re-derived from the objects: every name the kubernetes plugin serves
//! (apex SOA and NS, `dns-version` TXT, `ns.dns`, each Service's A/AAAA/CNAME/SRV, every endpoint
//! name, the PTR of every ClusterIP and endpoint address) is asked of [`DnsSnapshot::lookup`], and
//! its answers are written as they are. So NSD loaded with these files and `dns-server` on the same
//! manifests hold the same data, which is what scripts/bench-dns compares.

use anyhow::{Context, Result};
use lab_core::dns::{DnsSnapshot, Name, RData, Record, RecordType, ServiceKind};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Endpoints per generated benchmark Service (the course's scale table uses 5 pods each).
const BENCH_ENDPOINTS: usize = 5;

/// `lab-runner dns-zone` arguments.
#[derive(clap::Args, Debug)]
pub struct ZoneArgs {
    /// Manifest files (YAML or JSON, several documents allowed), applied in order.
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Also include N generated ClusterIP Services `svc-<i>.bench` with 5 endpoints each, as
    /// `dns-server --scale-services N` serves them.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub scale_services: usize,
    /// Folder to write `<zone>.zone` and `in-addr.arpa.zone` into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// The cluster's snapshot plus `services` generated benchmark Services.
pub fn with_bench_services(cluster: &lab_core::Cluster, services: usize) -> DnsSnapshot {
    lab_core::scale::dns_snapshot_with(cluster, services, BENCH_ENDPOINTS)
}

fn fqdn(s: &str) -> Name {
    let mut n = Name::from_ascii(s).unwrap_or_else(|_| Name::root());
    n.set_fqdn(true);
    n
}

/// One master-file line: `owner TTL IN TYPE rdata`.
fn line(r: &Record) -> String {
    let data = match &r.data {
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|b| format!("\"{}\"", String::from_utf8_lossy(b).replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(" "),
        d => d.to_string(),
    };
    format!("{} {} IN {} {}", r.name, r.ttl, r.record_type(), data)
}

/// The reverse name of an address (`10.0.96.10.in-addr.arpa.`).
fn reverse(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0x0f, b >> 4));
            }
            s + "ip6.arpa."
        }
    }
}

/// Every (name, type) the plugin serves data for.
fn questions(s: &DnsSnapshot) -> Vec<(String, RecordType)> {
    let zone = &s.zone;
    let mut q = vec![
        (format!("{zone}."), RecordType::SOA),
        (format!("{zone}."), RecordType::NS),
        (format!("dns-version.{zone}."), RecordType::TXT),
        (format!("ns.dns.{zone}."), RecordType::A),
        (format!("ns.dns.{zone}."), RecordType::AAAA),
    ];
    let mut ips: BTreeSet<IpAddr> = BTreeSet::new();
    for e in s.services.values() {
        let svc = format!("{}.{}.svc.{zone}.", e.name, e.namespace);
        match &e.kind {
            ServiceKind::ExternalName(_) => q.push((svc.clone(), RecordType::CNAME)),
            ServiceKind::ClusterIp(v) => ips.extend(v.iter().copied()),
            ServiceKind::Headless => {}
        }
        q.push((svc.clone(), RecordType::A));
        q.push((svc.clone(), RecordType::AAAA));
        q.push((svc.clone(), RecordType::SRV));
        for p in e
            .ports
            .iter()
            .chain(e.endpoints.iter().flat_map(|ep| &ep.ports))
        {
            if !p.name.is_empty() && !p.protocol.is_empty() {
                let srv = format!(
                    "_{}._{}.{svc}",
                    p.name.to_ascii_lowercase(),
                    p.protocol.to_ascii_lowercase()
                );
                q.push((srv, RecordType::SRV));
            }
        }
        for ep in &e.endpoints {
            let name = format!("{}.{svc}", ep.name);
            q.push((name.clone(), RecordType::A));
            q.push((name, RecordType::AAAA));
            ips.insert(ep.ip);
        }
    }
    q.extend(ips.iter().map(|ip| (reverse(ip), RecordType::PTR)));
    q.sort();
    q.dedup();
    q
}

/// The zone files: (zone name, text) for the cluster zone and `in-addr.arpa`.
pub fn zone_files(s: &DnsSnapshot) -> Vec<(String, String)> {
    let zone_suffix = format!(".{}.", s.zone);
    let apex = format!("{}.", s.zone);
    let mut forward: BTreeSet<String> = BTreeSet::new();
    let mut reverse: BTreeSet<String> = BTreeSet::new();
    let mut ns_target = None;
    for (name, qtype) in questions(s) {
        let answer = s.lookup(&fqdn(&name), qtype);
        for r in answer.answers.iter().chain(&answer.additional) {
            if let RData::NS(ns) = &r.data {
                ns_target.get_or_insert_with(|| ns.0.to_string());
            }
            let owner = r.name.to_ascii().to_ascii_lowercase();
            // SOAs are written first, below; answers outside both zones (an ExternalName's
            // upstream target) are not this server's data.
            if r.record_type() == RecordType::SOA {
                continue;
            }
            if owner == apex || owner.ends_with(&zone_suffix) {
                forward.insert(line(r));
            } else if owner.ends_with(".in-addr.arpa.") {
                reverse.insert(line(r));
            }
        }
    }
    let soa_of = |z: &str| {
        let a = s.lookup(&fqdn(z), RecordType::SOA);
        a.answers.first().map(line).unwrap_or_default()
    };
    let ns_target = ns_target.unwrap_or_else(|| s.name_servers.target.clone());
    let file = |z: &str, body: &BTreeSet<String>, extra: Option<String>| {
        let mut text = format!(
            "; generated by `lab-runner dns-zone` from the same snapshot `lab-runner dns-server` serves\n{}\n",
            soa_of(z)
        );
        if let Some(x) = extra {
            text.push_str(&x);
            text.push('\n');
        }
        for l in body {
            text.push_str(l);
            text.push('\n');
        }
        text
    };
    vec![
        (s.zone.clone(), file(&apex, &forward, None)),
        (
            "in-addr.arpa".into(),
            // The plugin answers no NS for the reverse zone, but a master file needs one.
            file(
                "in-addr.arpa.",
                &reverse,
                Some(format!("in-addr.arpa. 30 IN NS {ns_target}")),
            ),
        ),
    ]
}

/// `lab-runner dns-zone -f FILE… --out-dir DIR`.
pub fn run(args: &ZoneArgs) -> Result<ExitCode> {
    let snapshot = match crate::dns_server::snapshot_for(&args.files, args.scale_services)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    for (zone, text) in zone_files(&snapshot) {
        let path: PathBuf = Path::new(&args.out_dir).join(format!("{zone}.zone"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("{zone} {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_holds_what_the_server_answers() {
        let mut c = lab_core::Cluster::kind();
        c.apply_manifests(include_str!(
            "../../lab-core/tests/data/headless-service.yaml"
        ))
        .unwrap();
        c.apply_manifests(include_str!(
            "../../lab-core/tests/data/httpd-deployment.yaml"
        ))
        .unwrap();
        c.settle();
        let s = with_bench_services(&c, 3);
        let files = zone_files(&s);
        let (zone, text) = &files[0];
        assert_eq!(zone, "cluster.local");
        let first = text.lines().nth(1).unwrap();
        assert!(
            first.starts_with("cluster.local. 30 IN SOA ns.dns.cluster.local. "),
            "{first}"
        );
        for want in [
            "cluster.local. 30 IN NS kube-dns.kube-system.svc.cluster.local.",
            "dns-version.cluster.local. 28800 IN TXT \"1.1.0\"",
            "kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10",
            "_dns._udp.kube-dns.kube-system.svc.cluster.local. 30 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.",
            "10-0-1-0.svc-0.bench.svc.cluster.local. 30 IN A 10.0.1.0",
            "_http._tcp.svc-2.bench.svc.cluster.local. 30 IN SRV 0 100 80 svc-2.bench.svc.cluster.local.",
        ] {
            assert!(
                text.lines().any(|l| l == want),
                "missing {want:?} in\n{text}"
            );
        }
        // Three ready httpd pods behind the headless Service: three A records.
        let headless = text
            .lines()
            .filter(|l| l.starts_with("headless-svc.default.svc.cluster.local. 30 IN A "))
            .count();
        assert_eq!(headless, 3, "{text}");
        let (rzone, rtext) = &files[1];
        assert_eq!(rzone, "in-addr.arpa");
        assert!(
            rtext.lines().any(|l| l
                == "10.0.96.10.in-addr.arpa. 30 IN PTR kube-dns.kube-system.svc.cluster.local."),
            "{rtext}"
        );
        assert!(
            rtext
                .lines()
                .any(|l| l.starts_with("in-addr.arpa. 30 IN SOA "))
        );
    }
}
