//! `ipvsadm -Ln` and `ipset list` text, grouped for comparison: each IPVS virtual server and
//! each ipset member under the Service port it is for (by address, port and protocol), the
//! rest under kube-proxy. Connection counters are dropped: they move with traffic.

use super::{Apart, Context, Owner, Side, Source, normalize};
use std::net::Ipv4Addr;

/// Whether `text` looks like `ipvsadm -Ln` output.
pub(crate) fn looks_like_ipvsadm(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("IP Virtual Server version"))
}

/// Whether `text` looks like `ipset list` output (an empty list is a valid answer too).
pub(crate) fn looks_like_ipset(text: &str) -> bool {
    text.trim().is_empty() || text.lines().any(|l| l.starts_with("Name: "))
}

fn split_addr(s: &str) -> Option<(Ipv4Addr, u16)> {
    let (ip, port) = s.rsplit_once(':')?;
    Some((ip.parse().ok()?, port.parse().ok()?))
}

/// Parses `ipvsadm -Ln`.
pub(crate) fn parse_ipvsadm(text: &str, ctx: &mut Context, predicted: bool) -> Side {
    let mut side = Side::default();
    // Virtual servers as printed: (owner when its address names one, place, lines).
    let mut servers: Vec<(Option<Owner>, String, Vec<String>)> = Vec::new();
    for raw in text.lines() {
        let line = normalize(raw);
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [proto @ ("TCP" | "UDP" | "SCTP"), addr, rest @ ..] => {
                let owner = split_addr(addr)
                    .and_then(|(ip, port)| ctx.service_at(proto, ip, port))
                    .map(|n| Owner::ServicePort(n.clone()));
                let head = std::iter::once(format!("{proto} {addr}"))
                    .chain(rest.iter().map(|w| w.to_string()))
                    .collect::<Vec<_>>()
                    .join(" ");
                servers.push((owner, format!("{proto} {addr}"), vec![head]));
            }
            ["->", addr, forward, weight, ..] if split_addr(addr).is_some() => {
                if let Some((_, _, lines)) = servers.last_mut() {
                    lines.push(format!("-> {addr} {forward} {weight}"));
                }
            }
            _ => {}
        }
    }
    for (owner, place, lines) in servers {
        let key = format!("ipvs {place}");
        let owner = owner.or_else(|| {
            if predicted {
                Some(Owner::KubeProxy)
            } else {
                ctx.predicted_chains.get(&key).cloned()
            }
        });
        let Some(o) = owner else {
            side.extra.push(Apart {
                source: Source::Ipvsadm,
                place,
                writer: "kube-proxy".into(),
                lines,
                note: None,
            });
            continue;
        };
        if predicted {
            ctx.predicted_chains.insert(key, o.clone());
        }
        for l in lines {
            side.push(o.clone(), place.clone(), false, l);
        }
    }
    side
}

/// Parses `ipset list`.
pub(crate) fn parse_ipset(text: &str, ctx: &mut Context, predicted: bool) -> Side {
    let mut side = Side::default();
    let mut name = String::new();
    let mut in_members = false;
    let mut foreign: Option<Apart> = None;
    let flush = |foreign: &mut Option<Apart>, side: &mut Side| {
        if let Some(a) = foreign.take() {
            side.foreign.push(a);
        }
    };
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(n) = line.strip_prefix("Name: ") {
            flush(&mut foreign, &mut side);
            name = n.trim().to_string();
            in_members = false;
            let place = format!("ipset {name}");
            if !name.starts_with("KUBE-") {
                foreign = Some(Apart {
                    source: Source::IpsetList,
                    place,
                    writer: "another program".into(),
                    lines: Vec::new(),
                    note: None,
                });
            } else if predicted {
                ctx.predicted_chains.insert(place.clone(), Owner::KubeProxy);
                side.declare(Owner::KubeProxy, place, false);
            } else if ctx.predicted_chains.contains_key(&place) {
                side.declare(Owner::KubeProxy, place, false);
            } else {
                side.extra.push(Apart {
                    source: Source::IpsetList,
                    place,
                    writer: "kube-proxy".into(),
                    lines: Vec::new(),
                    note: None,
                });
            }
            continue;
        }
        if name.is_empty() {
            continue;
        }
        let place = format!("ipset {name}");
        if let Some(a) = foreign.as_mut() {
            if !line.is_empty() {
                a.lines.push(line.to_string());
            }
            continue;
        }
        let extra = side
            .extra
            .last_mut()
            .filter(|a| a.place == place && a.source == Source::IpsetList);
        if let Some(a) = extra {
            if !line.is_empty() {
                a.lines.push(line.to_string());
            }
            continue;
        }
        if line == "Members:" {
            in_members = true;
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if !in_members {
            // Revision, Header, Size in memory, References and Number of entries vary with the
            // ipset version and the kernel; the type is what kube-proxy chose.
            if line.starts_with("Type:") {
                side.push(Owner::KubeProxy, place, false, line.to_string());
            }
            continue;
        }
        let owner = member_owner(&name, line, ctx).unwrap_or(Owner::KubeProxy);
        side.push(owner, place, false, normalize(line));
    }
    flush(&mut foreign, &mut side);
    side
}

/// The Service port an ipset member is for: `IP,proto:port…` by its VIP, or a bare nodePort in
/// the `KUBE-NODE-PORT-*-PROTO` sets.
fn member_owner(set: &str, member: &str, ctx: &Context) -> Option<Owner> {
    let first = member.split_whitespace().next()?;
    let mut parts = first.split(',');
    let a = parts.next()?;
    let name = |n: &String| Owner::ServicePort(n.clone());
    if let Some(pp) = parts.next() {
        let (proto, port) = pp.split_once(':')?;
        let ip: Ipv4Addr = a.parse().ok()?;
        return ctx.service_at(proto, ip, port.parse().ok()?).map(name);
    }
    let port: u16 = a.parse().ok()?;
    let proto = set.rsplit('-').next()?.to_ascii_lowercase();
    ctx.node_ports.get(&(proto, port)).map(name)
}
