//! CoreDNS's `kubernetes` plugin: which records a name has in the cluster zone.
//!
//! Mirrors coredns/coredns `plugin/kubernetes` (`parse.go` for the query-name grammar,
//! `kubernetes.go` for `Records`/`findServices`/`findPods`, `reverse.go` for PTR, `ns.go` for the
//! apex NS) and the record builders of `plugin/backend_lookup.go` it calls, with the kubeadm
//! Corefile's options: `pods insecure`, `fallthrough in-addr.arpa ip6.arpa`, `ttl 30`. Names
//! outside the zone, and reverse names the plugin has no record for, go to [`upstream`]
//! (`forward`). See `spec/dns.md` §1–3; the rules are quoted next to the code that applies them.
//!
//! [`upstream`]: super::upstream

use super::{
    Answer, DNS_SCHEMA_VERSION, DNS_VERSION_TTL, DnsSnapshot, PortEntry, ServiceKind, TTL,
};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Refresh, retry and expire of the plugin's SOA (`plugin/backend_lookup.go` `SOA`).
const SOA_TIMERS: (i32, i32, i32) = (7200, 1800, 86400);

/// The reverse zones the plugin is authoritative for (then falls through).
const REVERSE_ZONES: [&str; 2] = ["in-addr.arpa", "ip6.arpa"];

/// A parsed query name (`recordRequest` in `parse.go`), lower case.
#[derive(Debug, Default, PartialEq, Eq)]
struct Request<'a> {
    port: &'a str,
    protocol: &'a str,
    endpoint: &'a str,
    service: &'a str,
    namespace: &'a str,
    /// `svc` or `pod`; empty for the apex, `svc.<zone>` and `pod.<zone>`.
    pod_or_svc: &'a str,
}

/// `parseRequest`: read the labels before the zone from the right. `None` = invalid (NXDOMAIN).
fn parse_request(base: &str) -> Option<Request<'_>> {
    let mut r = Request::default();
    if base.is_empty() || base == "svc" || base == "pod" {
        return Some(r);
    }
    let mut segs: Vec<&str> = base.split('.').collect();
    let kind = segs.pop().unwrap_or("");
    if kind != "svc" && kind != "pod" {
        return None;
    }
    r.pod_or_svc = kind;
    let Some(ns) = segs.pop() else {
        return Some(r);
    };
    r.namespace = ns;
    let Some(svc) = segs.pop() else {
        return Some(r);
    };
    r.service = svc;
    let rest = segs.as_slice();
    // "Because of ambiguity we check the labels left: 1: an endpoint. 2: port and protocol.
    // Anything else is a query that is too long to answer."
    match rest {
        [] => {}
        [ep] => r.endpoint = ep,
        [port, proto] => {
            r.port = port.strip_prefix('_').unwrap_or(port);
            r.protocol = proto.strip_prefix('_').unwrap_or(proto);
        }
        _ => return None,
    }
    Some(r)
}

/// `match` in `kubernetes.go`: an empty query label matches anything; otherwise `EqualFold`.
fn label_match(query: &str, value: &str) -> bool {
    query.is_empty() || query.eq_ignore_ascii_case(value)
}

fn port_match(r: &Request<'_>, p: &PortEntry) -> bool {
    label_match(r.port, &p.name) && label_match(r.protocol, &p.protocol)
}

/// What a `msg.Service` points at.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    /// An ExternalName target (the plugin's "CNAME" host type).
    Alias(String),
    Text(&'static str),
}

/// One internal record (`msg.Service`): a host, a port, and the domain its key spells.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Item {
    host: Host,
    port: i32,
    /// `msg.Domain(key)`: the SRV target and the owner of additional records.
    domain: String,
}

/// `errNoItems` / `errInvalidRequest` versus a (possibly empty) list: NXDOMAIN versus NODATA.
type Found = Option<Vec<Item>>;

/// `Records`: the internal records of a name in the zone (any type).
fn records(s: &DnsSnapshot, base: &str) -> Found {
    let r = parse_request(base)?;
    if r.pod_or_svc.is_empty() {
        return Some(vec![]);
    }
    if !s.namespaces.contains(r.namespace) {
        return None;
    }
    if r.pod_or_svc == "pod" {
        return find_pods(s, &r);
    }
    find_services(s, &r)
}

/// `findPods` in `pods insecure` mode: any well-formed dashed IP in an existing namespace.
fn find_pods(s: &DnsSnapshot, r: &Request<'_>) -> Found {
    if r.service.is_empty() {
        return Some(vec![]);
    }
    let name = r.service;
    let ip: IpAddr = if name.matches('-').count() == 3 && !name.contains("--") {
        name.replace('-', ".").parse::<Ipv4Addr>().ok()?.into()
    } else {
        name.replace('-', ":").parse::<Ipv6Addr>().ok()?.into()
    };
    Some(vec![Item {
        host: Host::Ip(ip),
        port: 0,
        domain: format!("{}.{}.pod.{}.", name, r.namespace, s.zone),
    }])
}

/// `findServices`: the Service's ClusterIPs per matching port, or its ready endpoints (headless,
/// or an endpoint label), or its ExternalName.
fn find_services(s: &DnsSnapshot, r: &Request<'_>) -> Found {
    if r.service.is_empty() {
        // The namespace exists (checked by the caller): NODATA.
        return Some(vec![]);
    }
    let svc = s
        .services
        .get(&(r.namespace.to_string(), r.service.to_string()))?;
    let zone = &s.zone;
    let mut out = Vec::new();
    match &svc.kind {
        ServiceKind::ExternalName(target) => {
            // Names below an ExternalName, and `_port._proto` under it, do not exist; an IP
            // literal is not a CNAME, so the Service has no record at all.
            if r.endpoint.is_empty()
                && r.port.is_empty()
                && r.protocol.is_empty()
                && target.parse::<IpAddr>().is_err()
                && !target.is_empty()
            {
                out.push(Item {
                    host: Host::Alias(target.trim_end_matches('.').to_string()),
                    port: 0,
                    domain: format!("{}.{}.svc.{zone}.", svc.name, svc.namespace),
                });
            }
        }
        kind if *kind == ServiceKind::Headless || !r.endpoint.is_empty() => {
            for ep in &svc.endpoints {
                if !r.endpoint.is_empty() && !r.endpoint.eq_ignore_ascii_case(&ep.name) {
                    continue;
                }
                for p in ep.ports.iter().filter(|p| port_match(r, p)) {
                    out.push(Item {
                        host: Host::Ip(ep.ip),
                        port: p.port,
                        domain: format!("{}.{}.{}.svc.{zone}.", ep.name, svc.name, svc.namespace),
                    });
                }
            }
        }
        ServiceKind::ClusterIp(ips) => {
            for p in svc.ports.iter().filter(|p| port_match(r, p)) {
                for ip in ips {
                    out.push(Item {
                        host: Host::Ip(*ip),
                        port: p.port,
                        domain: format!("{}.{}.svc.{zone}.", svc.name, svc.namespace),
                    });
                }
            }
        }
        ServiceKind::Headless => unreachable!("matched by the arm above"),
    }
    (!out.is_empty()).then_some(out)
}

/// `Services`: `Records` plus the two names the plugin hard-codes.
fn services(s: &DnsSnapshot, base: &str, qtype: RecordType) -> Found {
    if qtype == RecordType::TXT {
        if base == "dns-version" {
            return Some(vec![Item {
                host: Host::Text(DNS_SCHEMA_VERSION),
                port: 0,
                domain: String::new(),
            }]);
        }
        // "Check if we have an existing record for this query of another type."
        return match records(s, base) {
            Some(items) if !items.is_empty() => Some(vec![]),
            _ => None,
        };
    }
    if base == "ns.dns" {
        // isDefaultNS: the name-server addresses, by family.
        let want_v6 = qtype == RecordType::AAAA;
        return Some(
            s.name_servers
                .addrs
                .iter()
                .filter(|ip| {
                    ip.is_ipv6() == want_v6 && matches!(qtype, RecordType::A | RecordType::AAAA)
                })
                .map(|ip| Item {
                    host: Host::Ip(*ip),
                    port: 0,
                    domain: format!("ns.dns.{}.", s.zone),
                })
                .collect(),
        );
    }
    records(s, base)
}

fn name(s: &str) -> Name {
    let mut n = Name::from_ascii(s).unwrap_or_else(|_| Name::root());
    n.set_fqdn(true);
    n
}

fn address(owner: Name, ip: IpAddr) -> Record {
    let data = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(owner, TTL, data)
}

/// The plugin's SOA for `zone` (TTL min(300, ttl); minimum = ttl).
pub fn soa(s: &DnsSnapshot, zone: &str) -> Record {
    Record::from_rdata(
        name(&format!("{zone}.")),
        TTL.min(300),
        RData::SOA(SOA::new(
            name(&format!("ns.dns.{zone}.")),
            name(&format!("hostmaster.{zone}.")),
            s.serial,
            SOA_TIMERS.0,
            SOA_TIMERS.1,
            SOA_TIMERS.2,
            TTL,
        )),
    )
}

fn reply(rcode: ResponseCode, answers: Vec<Record>) -> Answer {
    Answer {
        rcode,
        authoritative: true,
        recursion_available: false,
        answers,
        authority: vec![],
        additional: vec![],
    }
}

/// NXDOMAIN or NODATA from the plugin: the zone's SOA in authority (`BackendError`).
fn negative(s: &DnsSnapshot, rcode: ResponseCode) -> Answer {
    Answer {
        authority: vec![soa(s, &s.zone)],
        ..reply(rcode, vec![])
    }
}

fn forward(s: &DnsSnapshot, qname: &Name, qtype: RecordType) -> Answer {
    let u = s.upstream.resolve(qname, qtype);
    Answer {
        rcode: u.rcode,
        authoritative: false,
        recursion_available: true,
        answers: u.answers,
        authority: u.authority,
        additional: vec![],
    }
}

/// The zone a lower-case absolute name (without the final dot) falls in, and the labels before
/// it (`""` at the apex). Longest match wins, as CoreDNS's zone matching does.
fn split_zone<'a>(lower: &'a str, zone: &'a str) -> Option<(&'a str, &'a str)> {
    let mut best: Option<(&str, &str)> = None;
    for z in std::iter::once(zone).chain(REVERSE_ZONES) {
        let base = if lower == z {
            Some("")
        } else {
            lower
                .strip_suffix(z)
                .and_then(|b| b.strip_suffix('.'))
                .filter(|b| !b.is_empty())
        };
        if let Some(base) = base
            && best.is_none_or(|(bz, _)| z.len() > bz.len())
        {
            best = Some((z, base));
        }
    }
    best
}

/// The address a reverse name spells (`dnsutil.ExtractAddressFromReverse`), if it is complete.
pub fn address_from_reverse(lower: &str) -> Option<IpAddr> {
    if let Some(rest) = lower.strip_suffix(".in-addr.arpa") {
        let octets: Vec<&str> = rest.split('.').collect();
        if octets.len() != 4 {
            return None;
        }
        let mut b = [0u8; 4];
        for (i, o) in octets.iter().rev().enumerate() {
            if o.is_empty() || o.len() > 3 || (o.len() > 1 && o.starts_with('0')) {
                return None;
            }
            b[i] = o.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(b)));
    }
    let rest = lower.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<&str> = rest.split('.').collect();
    if nibbles.len() != 32 {
        return None;
    }
    let mut v: u128 = 0;
    for n in nibbles.iter().rev() {
        if n.len() != 1 {
            return None;
        }
        v = (v << 4) | u128::from(u8::from_str_radix(n, 16).ok()?);
    }
    Some(IpAddr::V6(Ipv6Addr::from(v)))
}

/// `serviceRecordForIP`: a ClusterIP gives exactly one PTR; otherwise every ready endpoint with
/// that address, in every Service.
fn ptr_targets(s: &DnsSnapshot, ip: &IpAddr) -> Vec<String> {
    if let Some((ns, svc)) = s.by_cluster_ip.get(ip) {
        return vec![format!("{svc}.{ns}.svc.{}.", s.zone)];
    }
    s.by_endpoint_ip.get(ip).cloned().unwrap_or_default()
}

/// What the cluster's DNS server answers for `qname`/`qtype` (class IN).
pub fn lookup(s: &DnsSnapshot, qname: &Name, qtype: RecordType) -> Answer {
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return Answer {
            authoritative: false,
            ..reply(ResponseCode::Refused, vec![])
        };
    }
    let mut owner = qname.clone();
    owner.set_fqdn(true);
    let ascii = owner.to_ascii().to_ascii_lowercase();
    let lower = ascii.trim_end_matches('.');
    let Some((zone, base)) = split_zone(lower, &s.zone) else {
        return forward(s, &owner, qtype);
    };

    if zone != s.zone {
        // Reverse zones: PTR for addresses the plugin knows; everything else falls through.
        if base.is_empty() && qtype == RecordType::SOA {
            return reply(ResponseCode::NoError, vec![soa(s, zone)]);
        }
        if qtype == RecordType::PTR
            && let Some(ip) = address_from_reverse(lower)
        {
            let targets = ptr_targets(s, &ip);
            if !targets.is_empty() {
                let answers = targets
                    .iter()
                    .map(|t| Record::from_rdata(owner.clone(), TTL, RData::PTR(PTR(name(t)))))
                    .collect();
                return reply(ResponseCode::NoError, answers);
            }
        }
        return forward(s, &owner, qtype);
    }

    if base.is_empty() && qtype == RecordType::SOA {
        return reply(ResponseCode::NoError, vec![soa(s, zone)]);
    }
    if base.is_empty() && qtype == RecordType::NS {
        let target = name(&s.name_servers.target);
        let mut a = reply(
            ResponseCode::NoError,
            vec![Record::from_rdata(
                owner.clone(),
                TTL,
                RData::NS(NS(target.clone())),
            )],
        );
        a.additional = s
            .name_servers
            .addrs
            .iter()
            .map(|ip| address(target.clone(), *ip))
            .collect();
        return a;
    }

    // Types with a handler build records; every other type only asks whether the name exists
    // (the "fake A" lookup), which is NODATA or NXDOMAIN.
    let handled = matches!(
        qtype,
        RecordType::A | RecordType::AAAA | RecordType::SRV | RecordType::CNAME | RecordType::TXT
    );
    let lookup_type = if handled { qtype } else { RecordType::A };
    let Some(items) = services(s, base, lookup_type) else {
        return negative(s, ResponseCode::NXDomain);
    };
    if !handled {
        return negative(s, ResponseCode::NoError);
    }

    let mut answers: Vec<Record> = Vec::new();
    let mut additional: Vec<Record> = Vec::new();
    match qtype {
        RecordType::A | RecordType::AAAA => {
            let want_v6 = qtype == RecordType::AAAA;
            let mut seen: Vec<IpAddr> = Vec::new();
            for item in &items {
                match &item.host {
                    Host::Ip(ip) if ip.is_ipv6() == want_v6 && !seen.contains(ip) => {
                        seen.push(*ip);
                        answers.push(address(owner.clone(), *ip));
                    }
                    Host::Alias(target) => {
                        let target_name = name(&format!("{target}."));
                        answers.push(Record::from_rdata(
                            owner.clone(),
                            TTL,
                            RData::CNAME(CNAME(target_name.clone())),
                        ));
                        // The target is resolved too: inside the zone by the plugin itself,
                        // outside through `forward`; unresolvable leaves the CNAME alone.
                        let target_lower = target.to_ascii_lowercase();
                        let inner = if let Some((z, target_base)) =
                            split_zone(&target_lower, &s.zone)
                            && z == s.zone
                        {
                            services(s, target_base, qtype)
                                .map(|items| {
                                    items
                                        .iter()
                                        .filter_map(|i| match i.host {
                                            Host::Ip(ip) if ip.is_ipv6() == want_v6 => {
                                                Some(address(target_name.clone(), ip))
                                            }
                                            _ => None,
                                        })
                                        .collect::<Vec<_>>()
                                })
                                .unwrap_or_default()
                        } else {
                            let u = s.upstream.resolve(&target_name, qtype);
                            if u.rcode == ResponseCode::NoError {
                                u.answers
                            } else {
                                vec![]
                            }
                        };
                        answers.extend(inner);
                    }
                    _ => {}
                }
            }
        }
        RecordType::SRV => {
            // Weight = ⌊100 / N⌋ (at least 1), N counted before de-duplication; port −1 (a
            // port-less headless Service) counts but is never served.
            let weight = ((100 / items.len().max(1)) as u16).max(1);
            let mut seen_srv: Vec<(String, i32)> = Vec::new();
            let mut seen_extra: Vec<(String, IpAddr)> = Vec::new();
            for item in &items {
                let Host::Ip(ip) = item.host else {
                    continue;
                };
                if item.port < 0 {
                    continue;
                }
                if !seen_srv.contains(&(item.domain.clone(), item.port)) {
                    seen_srv.push((item.domain.clone(), item.port));
                    answers.push(Record::from_rdata(
                        owner.clone(),
                        TTL,
                        RData::SRV(SRV::new(0, weight, item.port as u16, name(&item.domain))),
                    ));
                }
                if !seen_extra.contains(&(item.domain.clone(), ip)) {
                    seen_extra.push((item.domain.clone(), ip));
                    additional.push(address(name(&item.domain), ip));
                }
            }
        }
        RecordType::CNAME => {
            if let Some(target) = items.iter().find_map(|i| match &i.host {
                Host::Alias(t) => Some(t),
                _ => None,
            }) {
                answers.push(Record::from_rdata(
                    owner.clone(),
                    TTL,
                    RData::CNAME(CNAME(name(&format!("{target}.")))),
                ));
            }
        }
        RecordType::TXT => {
            for item in &items {
                if let Host::Text(t) = item.host {
                    answers.push(Record::from_rdata(
                        owner.clone(),
                        DNS_VERSION_TTL,
                        RData::TXT(TXT::new(vec![t.to_string()])),
                    ));
                }
            }
        }
        _ => {}
    }
    if answers.is_empty() {
        return negative(s, ResponseCode::NoError);
    }
    Answer {
        additional,
        ..reply(ResponseCode::NoError, answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_reads_labels_right_to_left() {
        let r = parse_request("_http._tcp.web.default.svc").unwrap();
        assert_eq!(
            (r.port, r.protocol, r.service, r.namespace),
            ("http", "tcp", "web", "default")
        );
        assert_eq!(
            parse_request("web-0.nginx.default.svc").unwrap().endpoint,
            "web-0"
        );
        assert_eq!(parse_request("").unwrap(), Request::default());
        assert_eq!(parse_request("svc").unwrap(), Request::default());
        assert!(parse_request("foo").is_none());
        assert!(parse_request("a.b.c.web.default.svc").is_none());
        assert_eq!(parse_request("default.svc").unwrap().namespace, "default");
    }

    #[test]
    fn reverse_names_need_every_octet() {
        assert_eq!(
            address_from_reverse("10.0.96.10.in-addr.arpa"),
            Some("10.96.0.10".parse().unwrap())
        );
        assert_eq!(address_from_reverse("96.10.in-addr.arpa"), None);
        assert_eq!(address_from_reverse("256.0.96.10.in-addr.arpa"), None);
        assert_eq!(address_from_reverse("x.0.96.10.in-addr.arpa"), None);
        let v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
        assert_eq!(
            address_from_reverse(v6),
            Some("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn zone_split_prefers_the_longest_match() {
        assert_eq!(
            split_zone("cluster.local", "cluster.local"),
            Some(("cluster.local", ""))
        );
        assert_eq!(
            split_zone("web.default.svc.cluster.local", "cluster.local"),
            Some(("cluster.local", "web.default.svc"))
        );
        assert_eq!(split_zone("xcluster.local", "cluster.local"), None);
        assert_eq!(split_zone("www.example.com", "cluster.local"), None);
        assert_eq!(
            split_zone("1.0.96.10.in-addr.arpa", "cluster.local"),
            Some(("in-addr.arpa", "1.0.96.10"))
        );
    }
}
