//! `nft list table ip kube-proxy` (or `nft list ruleset`) text, grouped for comparison: the
//! per-Service chains by the Service port their name carries, each verdict-map element by the
//! chain it jumps to or the Service its comment names, set elements as sets (the kernel prints
//! them in hash order); every other table kept apart.

use super::{Apart, Context, Owner, Side, Source, comment_owner, normalize};

/// Whether `text` looks like `nft list` output.
pub(crate) fn looks_like(text: &str) -> bool {
    text.lines().any(|l| l.trim_start().starts_with("table "))
}

/// The Service port a per-Service chain or set name carries:
/// `service-ULMVA6XW-ns1/svc1/tcp/p80` → `ns1/svc1:p80`, `endpoint-…-ns/n/tcp/__10.0.0.1/80` →
/// `ns/n`.
fn name_owner(name: &str) -> Option<Owner> {
    let rest = [
        "service-",
        "local-",
        "external-",
        "firewall-",
        "endpoint-",
        "affinity-",
    ]
    .iter()
    .find_map(|p| name.strip_prefix(p))?;
    let (_hash, spn) = rest.split_once('-')?;
    let spn = spn.split("__").next()?;
    let parts: Vec<&str> = spn.split('/').collect();
    let [ns, svc, _proto, port] = parts.as_slice() else {
        return None;
    };
    Some(Owner::ServicePort(if port.is_empty() {
        format!("{ns}/{svc}")
    } else {
        format!("{ns}/{svc}:{port}")
    }))
}

/// Splits a set's elements at top-level commas.
fn elements(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quoted) = (0i32, false);
    for ch in body.chars() {
        match ch {
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(normalize(&cur));
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(normalize(&cur));
    }
    out.retain(|e| !e.is_empty());
    out
}

fn brace_balance(s: &str) -> i32 {
    let mut quoted = false;
    let mut n = 0;
    for ch in s.chars() {
        match ch {
            '"' => quoted = !quoted,
            '{' if !quoted => n += 1,
            '}' if !quoted => n -= 1,
            _ => {}
        }
    }
    n
}

/// The chain an element's verdict goes to.
fn verdict_chain(element: &str) -> Option<&str> {
    let mut w = element.split_whitespace();
    while let Some(x) = w.next() {
        if x == "goto" || x == "jump" {
            return w.next();
        }
    }
    None
}

/// Parses `text`.
pub(crate) fn parse(text: &str, ctx: &mut Context, predicted: bool) -> Side {
    let mut side = Side::default();
    // Logical lines: an `elements = { … }` spanning lines is joined into one.
    let mut lines: Vec<String> = Vec::new();
    // The joined line so far and its open braces (counted line by line: a map of thousands of
    // elements spans thousands of lines).
    let mut pending: Option<(String, i32)> = None;
    for raw in text.lines() {
        let t = raw.trim();
        if let Some((p, open)) = pending.as_mut() {
            p.push(' ');
            p.push_str(t);
            *open += brace_balance(t);
            if *open <= 0 {
                lines.extend(pending.take().map(|(p, _)| p));
            }
            continue;
        }
        let open = brace_balance(t);
        if t.starts_with("elements = {") && open > 0 {
            pending = Some((t.to_string(), open));
        } else {
            lines.push(t.to_string());
        }
    }
    lines.extend(pending.map(|(p, _)| p));

    let mut table: Option<(String, bool)> = None; // (place, is kube-proxy's)
    let mut foreign: Option<Apart> = None;
    // The open chain, set or map: (is a chain, place, owner if known).
    let mut block: Option<(bool, String, Option<Owner>)> = None;
    let mut depth = 0i32;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let opens = line.ends_with('{');
        let closes = line == "}";
        if depth == 0 {
            if let Some(rest) = line.strip_prefix("table ").filter(|_| opens) {
                let place = format!("table {}", rest.trim_end_matches('{').trim());
                let ours = place == "table ip kube-proxy";
                if !ours {
                    let name = place.rsplit(' ').next().unwrap_or("");
                    let writer = if ["nat", "filter", "mangle", "raw", "security"].contains(&name) {
                        "iptables-nft (Docker, kindnet, kubelet)"
                    } else {
                        "another program"
                    };
                    foreign = Some(Apart {
                        source: Source::Nft,
                        place: place.clone(),
                        writer: writer.into(),
                        lines: Vec::new(),
                        note: None,
                    });
                }
                table = Some((place, ours));
                depth = 1;
            }
            continue;
        }
        if let Some(a) = foreign.as_mut() {
            if closes && depth == 1 {
                side.foreign.extend(foreign.take());
                table = None;
                depth = 0;
                continue;
            }
            if closes {
                depth -= 1;
            } else if opens {
                depth += 1;
            }
            if !closes {
                a.lines.push(normalize(&line));
            }
            continue;
        }
        let Some((table_place, _)) = table.clone() else {
            continue;
        };
        if depth == 1 {
            if closes {
                table = None;
                depth = 0;
                continue;
            }
            let head = line.trim_end_matches('{').trim();
            let mut w = head.split_whitespace();
            match (w.next(), w.next()) {
                (Some(kind @ ("chain" | "set" | "map")), Some(name)) if opens => {
                    let key = format!("{kind} {name}");
                    let owner = name_owner(name).or_else(|| {
                        if predicted {
                            Some(Owner::KubeProxy)
                        } else {
                            ctx.predicted_chains.get(&key).cloned()
                        }
                    });
                    match &owner {
                        Some(o) => {
                            if predicted {
                                ctx.predicted_chains.insert(key.clone(), o.clone());
                            }
                            // A chain's rules run in order; a set's elements have none.
                            side.push(o.clone(), key.clone(), kind == "chain", key.clone());
                        }
                        None => side.extra.push(Apart {
                            source: Source::Nft,
                            place: key.clone(),
                            writer: "kube-proxy".into(),
                            lines: Vec::new(),
                            note: None,
                        }),
                    }
                    block = Some((kind == "chain", key, owner));
                    depth = 2;
                }
                _ => {
                    // Table-level lines (its comment, flags).
                    side.push(Owner::KubeProxy, table_place, true, normalize(&line));
                }
            }
            continue;
        }
        // Inside a chain, set or map.
        if closes && depth == 2 {
            block = None;
            depth = 1;
            continue;
        }
        let Some((is_chain, place, owner)) = block.as_ref() else {
            continue;
        };
        let Some(owner) = owner.clone() else {
            if let Some(a) = side.extra.last_mut() {
                a.lines.push(normalize(&line));
            }
            continue;
        };
        match is_chain {
            true => side.push(owner, place.clone(), true, normalize(&line)),
            false => {
                if let Some(body) = line.strip_prefix("elements = {") {
                    let body = body.trim_end().strip_suffix('}').unwrap_or(body);
                    for e in elements(body) {
                        // By the per-Service chain it jumps to, else the Service its comment
                        // names (`goto reject-chain` is shared), else the set's owner. Names
                        // only: the same on both sides, whatever was parsed before.
                        let o = verdict_chain(&e)
                            .and_then(name_owner)
                            .or_else(|| {
                                e.split_once("comment \"")
                                    .and_then(|(_, c)| c.split('"').next())
                                    .and_then(comment_owner)
                            })
                            .unwrap_or_else(|| owner.clone());
                        side.push(o, place.clone(), false, e);
                    }
                } else {
                    side.push(owner, place.clone(), false, normalize(&line));
                }
            }
        }
    }
    side.foreign.extend(foreign);
    side
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_service_port() {
        assert_eq!(
            name_owner("service-ULMVA6XW-ns1/svc1/tcp/p80"),
            Some(Owner::ServicePort("ns1/svc1:p80".into()))
        );
        assert_eq!(
            name_owner("endpoint-5OJB2KTY-default/httpd-svc/tcp/__10.244.1.7/80"),
            Some(Owner::ServicePort("default/httpd-svc".into()))
        );
        assert_eq!(name_owner("services"), None);
        assert_eq!(name_owner("service-endpoints-check"), None);
    }

    #[test]
    fn elements_split_at_top_level_commas() {
        assert_eq!(
            elements(
                r#" 10.96.0.1 . tcp . 443 : goto a, 10.96.0.5 . tcp . 80 comment "x, y" : goto reject-chain "#
            ),
            vec![
                "10.96.0.1 . tcp . 443 : goto a".to_string(),
                r#"10.96.0.5 . tcp . 80 comment "x, y" : goto reject-chain"#.to_string()
            ]
        );
    }
}
