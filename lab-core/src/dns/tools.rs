//! The text of the DNS tools a learner runs in a pod: busybox `nslookup` (1.28 and 1.36), BIND's
//! `nslookup`, `dig` and `host`, printed byte for byte as the real tools print them.
//!
//! Mirrors busybox `networking/nslookup.c` (tags 1_28_4 and 1_36_1), BIND 9.18's
//! `bin/dig/{dig.c,host.c,nslookup.c}` and the record printer of `lib/dns/masterdump.c` (dig's
//! tab-aligned columns). Each tool runs on the walks of [`resolver`] against the
//! simulated servers, so what it prints follows from the same answers `lab-runner`'s DNS server
//! sends (`spec/dns.md` §5). Outputs carry the queries sent, for the trace view.

use super::resolver::{self, Family, Libc, ResolvConf, Step, reverse_name};
use super::{Answer, DnsSnapshot, rcode_name, wire};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::net::IpAddr;
use std::str::FromStr;

/// What a tool printed and how it exited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit status.
    pub exit_code: i32,
    /// Every query the tool (or its C library) sent, in order.
    pub queries: Vec<Step>,
}

/// A command line the tool itself would reject.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// Missing or extra arguments, or an option this tool does not have (the tool prints its
    /// usage text and exits 1).
    #[error("{tool}: usage error: {reason}")]
    Usage {
        /// The tool.
        tool: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A record type the tool does not know.
    #[error("{tool}: invalid query type {value:?}")]
    InvalidType {
        /// The tool.
        tool: &'static str,
        /// The text given.
        value: String,
    },
}

fn usage(tool: &'static str, reason: impl Into<String>) -> ToolError {
    ToolError::Usage {
        tool,
        reason: reason.into(),
    }
}

/// A name as resolvers print it: without the root's trailing dot.
fn bare(name: &Name) -> String {
    let s = name.to_ascii();
    match s.strip_suffix('.') {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => s,
    }
}

/// An absolute name in presentation form (`kubernetes.default.svc.cluster.local.`).
fn fqdn(name: &Name) -> String {
    let s = name.to_ascii();
    if s.ends_with('.') { s } else { s + "." }
}

/// One TXT character-string quoted as BIND prints it: `"` and `\` escaped, bytes outside
/// printable ASCII as `\DDD`.
fn quote_txt(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// A record's data in dig's presentation format (RFC 1035 §5.1 as BIND prints it): names
/// absolute with their trailing dot, SRV `priority weight port target`, SOA on one line, TXT
/// strings quoted and escaped.
pub fn present(data: &RData) -> String {
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(n) => fqdn(&n.0),
        RData::PTR(n) => fqdn(&n.0),
        RData::NS(n) => fqdn(&n.0),
        RData::SRV(s) => format!("{} {} {} {}", s.priority, s.weight, s.port, fqdn(&s.target)),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            fqdn(&s.mname),
            fqdn(&s.rname),
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum
        ),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|b| quote_txt(b))
            .collect::<Vec<_>>()
            .join(" "),
        RData::MX(m) => format!("{} {}", m.preference, fqdn(&m.exchange)),
        other => other.to_string(),
    }
}

/// BIND's `indent` (masterdump.c): move from column `*col` to column `to` with tabs of width 8
/// then spaces, always leaving at least one character of space.
fn indent(out: &mut String, col: &mut usize, to: usize) {
    let to = to.max(*col + 1);
    let tabs = to / 8 - *col / 8;
    let mut from = *col;
    if tabs > 0 {
        out.push_str(&"\t".repeat(tabs));
        from = (to / 8) * 8;
    }
    out.push_str(&" ".repeat(to - from));
    *col = to;
}

/// dig's columns: TTL at 24, class at 32, type at 40, data at 48.
const TTL_COLUMN: usize = 24;
const CLASS_COLUMN: usize = 32;
const TYPE_COLUMN: usize = 40;
const RDATA_COLUMN: usize = 48;

/// A resource record as one line of dig's answer sections (without the newline).
pub fn present_record(r: &Record) -> String {
    let mut out = fqdn(&r.name);
    let mut col = out.len();
    indent(&mut out, &mut col, TTL_COLUMN);
    let ttl = r.ttl.to_string();
    out.push_str(&ttl);
    col += ttl.len();
    indent(&mut out, &mut col, CLASS_COLUMN);
    out.push_str("IN");
    col += 2;
    indent(&mut out, &mut col, TYPE_COLUMN);
    let ty = r.record_type().to_string();
    out.push_str(&ty);
    col += ty.len();
    indent(&mut out, &mut col, RDATA_COLUMN);
    out.push_str(&present(&r.data));
    out
}

/// A question as dig prints it: `;` then the columns counted without the `;`.
fn present_question(q: &Query) -> String {
    let name = fqdn(&q.name);
    let mut out = format!(";{name}");
    let mut col = name.len();
    indent(&mut out, &mut col, CLASS_COLUMN);
    out.push_str("IN");
    col += 2;
    indent(&mut out, &mut col, TYPE_COLUMN);
    out.push_str(&q.query_type.to_string());
    out
}

/// A query as a stub resolver or dig builds it.
fn query_message(id: u16, qname: &Name, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    let mut q = Query::query(qname.clone(), qtype);
    q.query_class = DNSClass::IN;
    m.add_query(q);
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

/// The response packet a server sends for `query`: CoreDNS's through [`wire::handle`], the node
/// resolver's through [`wire::response`]; `None` when nothing answers at `server`.
fn exchange(snapshot: &DnsSnapshot, server: IpAddr, query: &Message) -> Option<Vec<u8>> {
    let q = query.queries.first()?;
    let answer = resolver::ask(snapshot, server, &q.name, q.query_type)?;
    if answer.authoritative {
        let bytes = query.to_vec().ok()?;
        return wire::handle(snapshot, &bytes, wire::Transport::Udp);
    }
    wire::response(query, &answer).to_vec().ok()
}

// ---------------------------------------------------------------------------------------------
// busybox 1.28 nslookup

/// busybox 1.28 `print_host`: the lookup through the C library, then one `Address N:` line per
/// address with the reverse lookup's name when there is one.
fn print_host_128(
    out: &mut ToolOutput,
    snapshot: &DnsSnapshot,
    conf: &ResolvConf,
    text: &str,
    header: &str,
) -> bool {
    let walk = resolver::walk(snapshot, conf, text, Libc::UClibc, Family::Unspec);
    out.queries.extend(walk.steps);
    match walk.result {
        Ok(r) => {
            out.stdout.push_str(&format!("{header:<10} {text}\n"));
            let mut seen = Vec::new();
            for ip in r.addresses {
                if seen.contains(&ip) {
                    continue;
                }
                seen.push(ip);
                let (steps, name) = resolver::reverse(snapshot, conf, ip, Libc::UClibc);
                out.queries.extend(steps);
                match name {
                    Some(n) => out
                        .stdout
                        .push_str(&format!("Address {}: {ip} {n}\n", seen.len())),
                    None => out
                        .stdout
                        .push_str(&format!("Address {}: {ip}\n", seen.len())),
                }
            }
            true
        }
        Err(_) => {
            // VERBOSE_RESOLUTION_ERRORS is off in the default build: no reason is given.
            out.stderr
                .push_str(&format!("nslookup: can't resolve '{text}'\n"));
            false
        }
    }
}

/// busybox 1.28 `nslookup HOST [SERVER]` (`spec/dns.md` §5.1): the Server block (the server's
/// address through the same print routine), a blank line, then the host; exit 1 when the host
/// does not resolve.
pub fn nslookup_busybox_128(
    snapshot: &DnsSnapshot,
    conf: &ResolvConf,
    args: &[&str],
) -> Result<ToolOutput, ToolError> {
    let (host, server) = match args {
        [h] if !h.starts_with('-') => (*h, None),
        [h, s] if !h.starts_with('-') => (*h, Some(*s)),
        _ => return Err(usage("nslookup", "nslookup [HOST] [SERVER]")),
    };
    let mut out = ToolOutput::default();
    let mut conf = conf.clone();
    if let Some(s) = server {
        // set_default_dns: xhost2sockaddr resolves the server (dying on failure), then it is the
        // only nameserver.
        let walk = resolver::walk(snapshot, &conf, s, Libc::UClibc, Family::Inet);
        out.queries.extend(walk.steps);
        match walk.result.ok().and_then(|r| r.addresses.first().copied()) {
            Some(ip) => conf.nameservers = vec![ip.to_string()],
            None => {
                out.stderr
                    .push_str(&format!("nslookup: bad address '{s}'\n"));
                out.exit_code = 1;
                return Ok(out);
            }
        }
    }
    // uClibc falls back to 127.0.0.1 without a nameserver line.
    let ns = conf
        .nameserver_ips()
        .first()
        .map_or_else(|| "127.0.0.1".to_string(), IpAddr::to_string);
    print_host_128(&mut out, snapshot, &conf, &ns, "Server:");
    out.stdout.push('\n');
    let ok = print_host_128(&mut out, snapshot, &conf, host, "Name:");
    out.exit_code = if ok { 0 } else { 1 };
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// busybox 1.36 nslookup

/// The PTR name busybox builds (`make_ptr`), without the trailing dot.
fn make_ptr(text: &str) -> Option<String> {
    let ip: IpAddr = text.parse().ok()?;
    Some(bare(&reverse_name(ip)))
}

/// busybox 1.36 `nslookup [-type=T] HOST [SERVER]` (`spec/dns.md` §5.2): its own resolver sends
/// every query at once (A for each search domain, then AAAA for each, or the name as-is when it
/// has a dot; one PTR for an address) and prints each reply as it arrives (here: in send order).
pub fn nslookup_busybox_136(
    snapshot: &DnsSnapshot,
    conf: &ResolvConf,
    args: &[&str],
) -> Result<ToolOutput, ToolError> {
    let mut types: Vec<RecordType> = Vec::new();
    let mut rest = args;
    while let [first, tail @ ..] = rest {
        let Some(opt) = first.strip_prefix('-') else {
            break;
        };
        let (key, val) = opt.split_once('=').unwrap_or((opt, ""));
        match key {
            "type" | "querytype" | "q" | "query" => {
                let t = RecordType::from_str(&val.to_ascii_uppercase()).map_err(|_| {
                    ToolError::InvalidType {
                        tool: "nslookup",
                        value: val.to_string(),
                    }
                })?;
                if !types.contains(&t) {
                    types.push(t);
                }
            }
            "debug" | "port" | "retry" | "t" | "timeout" => {}
            _ => return Err(usage("nslookup", format!("unknown option -{key}"))),
        }
        rest = tail;
    }
    let (host, server) = match rest {
        [h] => (*h, None),
        [h, s] => (*h, Some(*s)),
        _ => {
            return Err(usage(
                "nslookup",
                "nslookup [-type=QUERY_TYPE] HOST [DNS_SERVER]",
            ));
        }
    };

    // add_query_with_search: PTR, a dotted name or no search line → the name as-is.
    let add = |queries: &mut Vec<(String, RecordType)>, t: RecordType, name: &str| {
        if t == RecordType::PTR || conf.search.is_empty() || name.contains('.') {
            queries.push((name.to_string(), t));
        } else {
            for d in &conf.search {
                queries.push((format!("{name}.{d}"), t));
            }
        }
    };
    let mut queries = Vec::new();
    if types.is_empty() {
        match make_ptr(host) {
            Some(ptr) => queries.push((ptr, RecordType::PTR)),
            None => {
                add(&mut queries, RecordType::A, host);
                add(&mut queries, RecordType::AAAA, host);
            }
        }
    } else {
        for t in types {
            add(&mut queries, t, host);
        }
    }

    let mut out = ToolOutput::default();
    let servers: Vec<(String, IpAddr)> = match server {
        Some(s) => match s.parse::<IpAddr>() {
            Ok(ip) => vec![(s.to_string(), ip)],
            Err(_) => {
                out.stderr
                    .push_str(&format!("nslookup: bad address '{s}'\n"));
                out.exit_code = 1;
                return Ok(out);
            }
        },
        None => {
            let ips = conf.nameserver_ips();
            if ips.is_empty() {
                vec![("127.0.0.1".into(), IpAddr::from([127, 0, 0, 1]))]
            } else {
                conf.nameservers
                    .iter()
                    .filter_map(|n| Some((n.clone(), n.parse().ok()?)))
                    .collect()
            }
        }
    };
    // The first server that answers anything gets every query; replies print as they come.
    let Some((name, ip)) = servers.iter().find(|(_, ip)| {
        queries.first().is_some_and(|(q, t)| {
            Name::from_ascii(q).is_ok_and(|n| resolver::ask(snapshot, *ip, &n, *t).is_some())
        })
    }) else {
        out.stdout
            .push_str(";; connection timed out; no servers could be reached\n\n");
        out.exit_code = 1;
        return Ok(out);
    };
    out.stdout.push_str(&format!("Server:\t\t{name}\n"));
    out.stdout.push_str(&format!(
        "Address:\t{}\n\n",
        match ip {
            IpAddr::V4(v4) => format!("{v4}:53"),
            IpAddr::V6(v6) => format!("[{v6}]:53"),
        }
    ));
    for (qname, qtype) in &queries {
        let Ok(mut n) = Name::from_ascii(qname) else {
            out.stdout
                .push_str(&format!("*** Can't find {qname}: Parse error\n\n"));
            out.exit_code = 1;
            continue;
        };
        n.set_fqdn(true);
        let Some(a) = resolver::ask(snapshot, *ip, &n, *qtype) else {
            continue;
        };
        out.queries.push(Step {
            qname: n.clone(),
            qtype: *qtype,
            server: *ip,
            answer: a.clone(),
        });
        if a.rcode != ResponseCode::NoError {
            out.stdout.push_str(&format!(
                "** server can't find {qname}: {}\n",
                rcode_name(a.rcode)
            ));
            out.exit_code = 1;
        } else {
            if !a.authoritative {
                out.stdout.push_str("Non-authoritative answer:\n");
            }
            for r in &a.answers {
                out.stdout.push_str(&busybox_136_record(r));
            }
        }
        out.stdout.push('\n');
    }
    Ok(out)
}

/// One answer record as busybox 1.36 `parse_reply` prints it.
fn busybox_136_record(r: &Record) -> String {
    let owner = bare(&r.name);
    match &r.data {
        RData::A(a) => format!("Name:\t{owner}\nAddress: {}\n", a.0),
        RData::AAAA(a) => format!("Name:\t{owner}\nAddress: {}\n", a.0),
        RData::CNAME(c) => format!("{owner}\tcanonical name = {}\n", bare(&c.0)),
        RData::PTR(p) => format!("{owner}\tname = {}\n", bare(&p.0)),
        RData::NS(n) => format!("{owner}\tnameserver = {}\n", bare(&n.0)),
        RData::MX(m) => format!(
            "{owner}\tmail exchanger = {} {}\n",
            m.preference,
            bare(&m.exchange)
        ),
        RData::SRV(s) => format!(
            "{owner}\tservice = {} {} {} {}\n",
            s.priority,
            s.weight,
            s.port,
            bare(&s.target)
        ),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|b| format!("{owner}\ttext = \"{}\"\n", String::from_utf8_lossy(b)))
            .collect(),
        RData::SOA(s) => format!(
            "{owner}\n\torigin = {}\n\tmail addr = {}\n\tserial = {}\n\trefresh = {}\n\tretry = {}\n\texpire = {}\n\tminimum = {}\n",
            bare(&s.mname),
            bare(&s.rname),
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum
        ),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// BIND nslookup, host, dig: one search walk shared by the three (dighost.c)

/// The names BIND's tools try, in order: as-is first when the name has at least `ndots` dots,
/// then each search domain, then as-is if not yet tried; a trailing dot means as-is only.
fn bind_candidates(conf: &ResolvConf, name: &str) -> Vec<Name> {
    let mk = |s: String| Name::from_ascii(&s).ok();
    let base = name.trim_end_matches('.');
    if name.ends_with('.') {
        return mk(format!("{base}.")).into_iter().collect();
    }
    let as_is = mk(format!("{base}."));
    let mut out = Vec::new();
    let first = name.matches('.').count() >= conf.ndots();
    if first {
        out.extend(as_is.clone());
    }
    for d in &conf.search {
        out.extend(mk(format!("{base}.{d}.")));
    }
    if !first {
        out.extend(as_is);
    }
    out
}

/// Sends one query to the first server that answers and records it.
fn ask_first(
    out: &mut ToolOutput,
    snapshot: &DnsSnapshot,
    servers: &[IpAddr],
    qname: &Name,
    qtype: RecordType,
) -> Option<Answer> {
    for &server in servers {
        if let Some(a) = resolver::ask(snapshot, server, qname, qtype) {
            out.queries.push(Step {
                qname: qname.clone(),
                qtype,
                server,
                answer: a.clone(),
            });
            return Some(a);
        }
    }
    None
}

/// Walks the candidates with one type until a reply is neither NXDOMAIN nor SERVFAIL.
fn bind_search(
    out: &mut ToolOutput,
    snapshot: &DnsSnapshot,
    servers: &[IpAddr],
    candidates: &[Name],
    qtype: RecordType,
) -> Option<(Name, Answer)> {
    let mut last = None;
    for c in candidates {
        let a = ask_first(out, snapshot, servers, c, qtype)?;
        let go_on = matches!(a.rcode, ResponseCode::NXDomain | ResponseCode::ServFail);
        last = Some((c.clone(), a));
        if !go_on {
            break;
        }
    }
    last
}

/// HOST, SERVER as typed, and the server addresses to ask.
type HostAndServers<'a> = (&'a str, Option<&'a str>, Vec<IpAddr>);

/// The `HOST [SERVER]` arguments BIND's `nslookup` and `host` share, and the servers to ask:
/// SERVER as an address, or the resolv.conf nameservers. `Ok(None)`: the tool has already
/// failed (a SERVER that is not an address cannot be resolved here), its message is in `out`.
fn bind_host_and_servers<'a>(
    tool: &'static str,
    usage_line: &'static str,
    args: &[&'a str],
    conf: &ResolvConf,
    out: &mut ToolOutput,
) -> Result<Option<HostAndServers<'a>>, ToolError> {
    let (host, server) = match args {
        [h] if !h.starts_with('-') => (*h, None),
        [h, s] if !h.starts_with('-') => (*h, Some(*s)),
        _ => return Err(usage(tool, usage_line)),
    };
    let servers = match server {
        Some(s) => match s.parse() {
            Ok(ip) => vec![ip],
            Err(_) => {
                out.stderr.push_str(&format!(
                    "{tool}: couldn't get address for '{s}': not found\n"
                ));
                out.exit_code = 1;
                return Ok(None);
            }
        },
        None => conf.nameserver_ips(),
    };
    Ok(Some((host, server, servers)))
}

/// BIND 9.18 `nslookup NAME [SERVER]` (`spec/dns.md` §5.3): the server block with `#53`
/// (forward lookups only), then the final answer of the search walk: `Name:`/`Address:` pairs
/// (A, then AAAA), PTRs as `name = target.` with the trailing dot, `Non-authoritative answer:`
/// for forwarded replies.
pub fn nslookup_bind(
    snapshot: &DnsSnapshot,
    conf: &ResolvConf,
    args: &[&str],
) -> Result<ToolOutput, ToolError> {
    let mut out = ToolOutput::default();
    let Some((host, _server, servers)) = bind_host_and_servers(
        "nslookup",
        "nslookup [-opt ...] host [server]",
        args,
        conf,
        &mut out,
    )?
    else {
        return Ok(out);
    };
    let Some(&server_ip) = servers
        .iter()
        .find(|ip| resolver::ask(snapshot, **ip, &Name::root(), RecordType::NS).is_some())
    else {
        out.stdout
            .push_str(";; connection timed out; no servers could be reached\n\n");
        out.exit_code = 1;
        return Ok(out);
    };
    let servers = vec![server_ip];
    // BIND 9.18 prints the server block for forward lookups only; a reverse lookup starts
    // with its answer.
    if host.parse::<IpAddr>().is_err() {
        out.stdout.push_str(&format!(
            "Server:\t\t{server_ip}\nAddress:\t{server_ip}#53\n\n"
        ));
    }

    if let Ok(ip) = host.parse::<IpAddr>() {
        let q = reverse_name(ip);
        let Some(a) = ask_first(&mut out, snapshot, &servers, &q, RecordType::PTR) else {
            return Ok(out);
        };
        bind_nslookup_reply(&mut out, &a, &bare(&q), &q);
        return Ok(out);
    }
    let candidates = bind_candidates(conf, host);
    let Some((name, a)) = bind_search(&mut out, snapshot, &servers, &candidates, RecordType::A)
    else {
        return Ok(out);
    };
    if a.rcode != ResponseCode::NoError {
        bind_nslookup_reply(&mut out, &a, host, &name);
        return Ok(out);
    }
    let aaaa = ask_first(&mut out, snapshot, &servers, &name, RecordType::AAAA);
    if !a.authoritative {
        out.stdout.push_str("Non-authoritative answer:\n");
    }
    for r in a.answers.iter().chain(aaaa.iter().flat_map(|x| &x.answers)) {
        out.stdout.push_str(&bind_nslookup_record(r));
    }
    if a.answers.is_empty() && aaaa.as_ref().is_none_or(|x| x.answers.is_empty()) {
        out.stdout
            .push_str(&format!("*** Can't find {host}: No answer\n"));
    }
    out.stdout.push('\n');
    Ok(out)
}

fn bind_nslookup_reply(out: &mut ToolOutput, a: &Answer, typed: &str, qname: &Name) {
    if a.rcode != ResponseCode::NoError {
        // NXDOMAIN names the text as typed; other rcodes the name asked.
        let shown = if a.rcode == ResponseCode::NXDomain {
            typed.trim_end_matches('.').to_string()
        } else {
            bare(qname)
        };
        out.stdout.push_str(&format!(
            "** server can't find {shown}: {}\n\n",
            rcode_name(a.rcode)
        ));
        out.exit_code = 1;
        return;
    }
    if !a.authoritative {
        out.stdout.push_str("Non-authoritative answer:\n");
    }
    if a.answers.is_empty() {
        out.stdout
            .push_str(&format!("*** Can't find {typed}: No answer\n"));
    }
    for r in &a.answers {
        out.stdout.push_str(&bind_nslookup_record(r));
    }
    out.stdout.push('\n');
}

fn bind_nslookup_record(r: &Record) -> String {
    let owner = bare(&r.name);
    match &r.data {
        RData::A(a) => format!("Name:\t{owner}\nAddress: {}\n", a.0),
        RData::AAAA(a) => format!("Name:\t{owner}\nAddress: {}\n", a.0),
        RData::CNAME(c) => format!("{owner}\tcanonical name = {}\n", fqdn(&c.0)),
        RData::PTR(p) => format!("{owner}\tname = {}\n", fqdn(&p.0)),
        RData::SRV(s) => format!(
            "{owner}\tservice = {} {} {} {}\n",
            s.priority,
            s.weight,
            s.port,
            fqdn(&s.target)
        ),
        RData::TXT(_) => format!("{owner}\ttext = {}\n", present(&r.data)),
        RData::NS(n) => format!("{owner}\tnameserver = {}\n", fqdn(&n.0)),
        other => format!(
            "{owner}\trdata_{} = {}\n",
            u16::from(r.record_type()),
            present(other)
        ),
    }
}

/// BIND 9.18 `host NAME [SERVER]`: A, then AAAA, then MX of the first candidate that exists
/// (`has address`, `has IPv6 address`, `mail is handled by`, `is an alias for`); an address
/// argument asks its PTR (`domain name pointer`). NXDOMAIN prints `Host NAME not found:
/// 3(NXDOMAIN)` and exits 1.
pub fn host(
    snapshot: &DnsSnapshot,
    conf: &ResolvConf,
    args: &[&str],
) -> Result<ToolOutput, ToolError> {
    let mut out = ToolOutput::default();
    let Some((name, server, servers)) = bind_host_and_servers(
        "host",
        "host [-aCdilrTvVw] hostname [server]",
        args,
        conf,
        &mut out,
    )?
    else {
        return Ok(out);
    };
    if let Some(s) = server {
        out.stdout.push_str(&format!(
            "Using domain server:\nName: {s}\nAddress: {s}#53\nAliases: \n\n"
        ));
    }
    let (candidates, types): (Vec<Name>, &[RecordType]) = match name.parse::<IpAddr>() {
        Ok(ip) => (vec![reverse_name(ip)], &[RecordType::PTR]),
        Err(_) => (
            bind_candidates(conf, name),
            &[RecordType::A, RecordType::AAAA, RecordType::MX],
        ),
    };
    let Some((found, first)) = bind_search(&mut out, snapshot, &servers, &candidates, types[0])
    else {
        out.stdout
            .push_str(";; connection timed out; no servers could be reached\n");
        out.exit_code = 1;
        return Ok(out);
    };
    if first.rcode != ResponseCode::NoError {
        // NXDOMAIN names the lookup's text: as typed, or the reverse name for an address.
        let shown = if first.rcode == ResponseCode::NXDomain {
            match name.parse::<IpAddr>() {
                Ok(ip) => fqdn(&reverse_name(ip)),
                Err(_) => name.to_string(),
            }
        } else {
            bare(&found)
        };
        out.stdout.push_str(&format!(
            "Host {shown} not found: {}({})\n",
            u16::from(first.rcode),
            rcode_name(first.rcode)
        ));
        out.exit_code = 1;
        return Ok(out);
    }
    let mut replies = vec![first];
    for &t in &types[1..] {
        if let Some(a) = ask_first(&mut out, snapshot, &servers, &found, t) {
            replies.push(a);
        }
    }
    let mut aliases_shown = false;
    for a in &replies {
        for r in &a.answers {
            let owner = bare(&r.name);
            let line = match &r.data {
                // The alias is printed once, from the first reply that carries it.
                RData::CNAME(c) if !aliases_shown => {
                    format!("{owner} is an alias for {}.\n", bare(&c.0))
                }
                RData::CNAME(_) => continue,
                RData::A(ip) => format!("{owner} has address {}\n", ip.0),
                RData::AAAA(ip) => format!("{owner} has IPv6 address {}\n", ip.0),
                RData::MX(m) => format!(
                    "{owner} mail is handled by {} {}\n",
                    m.preference,
                    fqdn(&m.exchange)
                ),
                RData::PTR(p) => format!("{owner} domain name pointer {}\n", fqdn(&p.0)),
                _ => continue,
            };
            out.stdout.push_str(&line);
        }
        aliases_shown |= a
            .answers
            .iter()
            .any(|r| r.record_type() == RecordType::CNAME);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// dig

/// What varies between two runs of dig: its version string, the query ID and the wall clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigRun {
    /// `dig -v`'s version (`9.18.47-1~deb12u1-Debian`).
    pub version: String,
    /// The query's message ID (dig picks it at random; the caller's seeded RNG here).
    pub id: u16,
    /// The virtual clock in Unix milliseconds, for `;; WHEN:`.
    pub now_ms: i64,
}

/// The dig of Debian 12's `dnsutils`, the version the tests compare against.
pub const DIG_VERSION: &str = "9.18.47-1~deb12u1-Debian";

/// dig's EDNS(0) buffer size since 9.16.
pub const DIG_EDNS_SIZE: u16 = 1232;

impl Default for DigRun {
    fn default() -> Self {
        DigRun {
            version: DIG_VERSION.into(),
            id: 0,
            now_ms: 0,
        }
    }
}

/// A parsed dig command line.
struct DigArgs {
    server: Option<String>,
    name: String,
    qtype: RecordType,
    short: bool,
    search: bool,
    /// `+tries=N` (default 3): UDP attempts before "no servers could be reached".
    tries: u32,
}

fn parse_dig_args(args: &[&str]) -> Result<DigArgs, ToolError> {
    let mut d = DigArgs {
        server: None,
        name: String::new(),
        qtype: RecordType::A,
        short: false,
        search: false,
        tries: 3,
    };
    let mut name = None;
    let mut qtype = None;
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        if let Some(s) = a.strip_prefix('@') {
            d.server = Some(s.to_string());
        } else if let Some(o) = a.strip_prefix('+') {
            match o {
                "short" => d.short = true,
                "noshort" => d.short = false,
                "search" => d.search = true,
                "nosearch" => d.search = false,
                _ if o.starts_with("tries=")
                    || o.starts_with("retry=")
                    || o.starts_with("time=") =>
                {
                    let (key, val) = o.split_once('=').unwrap_or((o, ""));
                    let n: u32 = val
                        .parse()
                        .map_err(|_| usage("dig", format!("Invalid option: +{o}")))?;
                    match key {
                        "tries" => d.tries = n.max(1),
                        "retry" => d.tries = n.saturating_add(1),
                        // The wait per try: no wall clock in the simulation.
                        _ => {}
                    }
                }
                _ => return Err(usage("dig", format!("Invalid option: +{o}"))),
            }
        } else if a == "-x" {
            let ip: IpAddr = it
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| usage("dig", "-x needs an address"))?;
            name = Some(fqdn(&reverse_name(ip)));
            qtype = Some(RecordType::PTR);
        } else if a == "-t" {
            let t = it.next().ok_or_else(|| usage("dig", "-t needs a type"))?;
            qtype = Some(RecordType::from_str(&t.to_ascii_uppercase()).map_err(|_| {
                ToolError::InvalidType {
                    tool: "dig",
                    value: t.to_string(),
                }
            })?);
        } else if a.starts_with('-') {
            return Err(usage("dig", format!("Invalid option: {a}")));
        } else if name.is_some()
            && qtype.is_none()
            && let Ok(t) = RecordType::from_str(&a.to_ascii_uppercase())
            && !matches!(t, RecordType::Unknown(_))
        {
            qtype = Some(t);
        } else if name.is_none() {
            name = Some(a.to_string());
        } else {
            return Err(usage("dig", format!("extra argument {a:?}")));
        }
    }
    d.name = name.unwrap_or_else(|| ".".into());
    d.qtype = qtype.unwrap_or(if d.name == "." {
        RecordType::NS
    } else {
        RecordType::A
    });
    Ok(d)
}

/// `;; WHEN:` as dig prints it (`strftime("%a %b %d %H:%M:%S %Z %Y")`, in UTC as pods run).
fn when(now_ms: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_millisecond(now_ms)
        .map(|t| t.strftime("%a %b %d %H:%M:%S UTC %Y").to_string())
        .unwrap_or_default()
}

/// The header flags dig lists, in its order.
fn dig_flags(m: &Message) -> String {
    let md = &m.metadata;
    let mut f = Vec::new();
    if md.message_type == MessageType::Response {
        f.push("qr");
    }
    for (on, name) in [
        (md.authoritative, "aa"),
        (md.truncation, "tc"),
        (md.recursion_desired, "rd"),
        (md.recursion_available, "ra"),
        (md.authentic_data, "ad"),
        (md.checking_disabled, "cd"),
    ] {
        if on {
            f.push(name);
        }
    }
    f.join(" ")
}

/// dig's full printout of a response message (`printmessage` in dig.c with the default
/// `+cmd +comments +question +answer +authority +additional +stats`).
///
/// `cmdline` is what follows `<<>>` in the banner (the arguments as typed), `server` the
/// address asked, `size` the response's length on the wire.
pub fn dig_text(
    run: &DigRun,
    cmdline: &str,
    server_given: bool,
    server: IpAddr,
    response: &Message,
    size: usize,
) -> String {
    let mut o = String::new();
    o.push_str(&format!("\n; <<>> DiG {} <<>> {cmdline}\n", run.version));
    if server_given {
        o.push_str("; (1 server found)\n");
    }
    o.push_str(";; global options: +cmd\n;; Got answer:\n");
    // dig warns about any question under `local.`, which cluster.local is.
    let under_local = response.queries.first().is_some_and(|q| {
        let n = fqdn(&q.name).to_ascii_lowercase();
        n == "local." || n.ends_with(".local.")
    });
    if under_local {
        o.push_str(";; WARNING: .local is reserved for Multicast DNS\n");
        o.push_str(
            ";; You are currently testing what happens when an mDNS query is leaked to DNS\n",
        );
    }
    let md = &response.metadata;
    o.push_str(&format!(
        ";; ->>HEADER<<- opcode: {}, status: {}, id: {}\n",
        opcode_name(md.op_code),
        rcode_name(md.response_code),
        md.id
    ));
    let additional = response.additionals.len() + usize::from(response.edns.is_some());
    o.push_str(&format!(
        ";; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}\n",
        dig_flags(response),
        response.queries.len(),
        response.answers.len(),
        response.authorities.len(),
        additional
    ));
    if md.recursion_desired && !md.recursion_available {
        o.push_str(";; WARNING: recursion requested but not available\n");
    }
    o.push('\n');
    if let Some(e) = &response.edns {
        o.push_str(";; OPT PSEUDOSECTION:\n");
        let flags = if e.flags().dnssec_ok { " do" } else { "" };
        o.push_str(&format!(
            "; EDNS: version: {}, flags:{flags}; udp: {}\n",
            e.version(),
            e.max_payload()
        ));
    }
    o.push_str(";; QUESTION SECTION:\n");
    for q in &response.queries {
        o.push_str(&present_question(q));
        o.push('\n');
    }
    for (title, records) in [
        ("ANSWER", &response.answers),
        ("AUTHORITY", &response.authorities),
        ("ADDITIONAL", &response.additionals),
    ] {
        if records.is_empty() {
            continue;
        }
        o.push_str(&format!("\n;; {title} SECTION:\n"));
        for r in records.iter() {
            o.push_str(&present_record(r));
            o.push('\n');
        }
    }
    o.push('\n');
    o.push_str(";; Query time: 0 msec\n");
    o.push_str(&format!(";; SERVER: {server}#53({server}) (UDP)\n"));
    o.push_str(&format!(";; WHEN: {}\n", when(run.now_ms)));
    o.push_str(&format!(";; MSG SIZE  rcvd: {size}\n\n"));
    o
}

fn opcode_name(op: OpCode) -> String {
    match op {
        OpCode::Query => "QUERY".into(),
        OpCode::Status => "STATUS".into(),
        OpCode::Notify => "NOTIFY".into(),
        OpCode::Update => "UPDATE".into(),
        other => format!("RESERVED{}", u8::from(other)),
    }
}

/// `dig [@SERVER] NAME [TYPE] [+short] [+search]` or `dig -x ADDR` from a pod: the full printout,
/// or with `+short` only the answer data, one record a line.
pub fn dig(
    snapshot: &DnsSnapshot,
    conf: &ResolvConf,
    args: &[&str],
    run: &DigRun,
) -> Result<ToolOutput, ToolError> {
    let d = parse_dig_args(args)?;
    let mut out = ToolOutput::default();
    let server: IpAddr = match &d.server {
        Some(s) => match s.parse() {
            Ok(ip) => ip,
            Err(_) => {
                out.stderr
                    .push_str(&format!("dig: couldn't get address for '{s}': not found\n"));
                out.exit_code = 10;
                return Ok(out);
            }
        },
        None => match conf.nameserver_ips().first() {
            Some(ip) => *ip,
            None => IpAddr::from([127, 0, 0, 1]),
        },
    };
    let candidates: Vec<Name> = if d.search && d.qtype != RecordType::PTR {
        bind_candidates(conf, &d.name)
    } else {
        Name::from_ascii(format!("{}.", d.name.trim_end_matches('.')))
            .map(|mut n| {
                n.set_fqdn(true);
                vec![n]
            })
            .unwrap_or_default()
    };
    if candidates.is_empty() {
        out.stderr
            .push_str(&format!("dig: '{}' is not a legal name\n", d.name));
        out.exit_code = 1;
        return Ok(out);
    }
    let mut last = None;
    for c in &candidates {
        let query = query_message(run.id, c, d.qtype, Some(DIG_EDNS_SIZE));
        let Some(bytes) = exchange(snapshot, server, &query) else {
            break;
        };
        let Ok(m) = Message::from_vec(&bytes) else {
            break;
        };
        out.queries.push(Step {
            qname: c.clone(),
            qtype: d.qtype,
            server,
            answer: resolver::ask(snapshot, server, c, d.qtype).unwrap_or_else(|| Answer {
                rcode: m.metadata.response_code,
                authoritative: m.metadata.authoritative,
                recursion_available: m.metadata.recursion_available,
                answers: m.answers.clone(),
                authority: m.authorities.clone(),
                additional: m.additionals.clone(),
            }),
        });
        let go_on = matches!(
            m.metadata.response_code,
            ResponseCode::NXDomain | ResponseCode::ServFail
        );
        last = Some((m, bytes.len()));
        if !go_on {
            break;
        }
    }
    let Some((m, size)) = last else {
        // One line per try, then the banner and the verdict; exit status 9.
        for _ in 0..d.tries {
            out.stdout.push_str(&format!(
                ";; communications error to {server}#53: timed out\n"
            ));
        }
        out.stdout.push_str(&format!(
            "\n; <<>> DiG {} <<>> {}\n",
            run.version,
            args.join(" ")
        ));
        if d.server.is_some() {
            out.stdout.push_str("; (1 server found)\n");
        }
        out.stdout
            .push_str(";; global options: +cmd\n;; no servers could be reached\n");
        out.exit_code = 9;
        return Ok(out);
    };
    if d.short {
        for r in &m.answers {
            out.stdout.push_str(&present(&r.data));
            out.stdout.push('\n');
        }
    } else {
        out.stdout = dig_text(run, &args.join(" "), d.server.is_some(), server, &m, size);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The walk itself (`--format walk`): svclab's own view, not a real tool's.

/// A resolver walk, one line per query (`N  TYPE  QNAME  -> SERVER  RCODE [aa] [forwarded]
/// [data…]`) and a last line with the result, for `--format walk` and the trace view.
pub fn walk_text(walk: &resolver::Walk) -> String {
    let mut out = String::new();
    for (i, st) in walk.steps.iter().enumerate() {
        let a = &st.answer;
        let mut line = format!(
            "{:>2}  {:<5} {}  -> {}  {}",
            i + 1,
            st.qtype.to_string(),
            fqdn(&st.qname),
            st.server,
            rcode_name(a.rcode)
        );
        if a.authoritative {
            line.push_str(" aa");
        } else {
            line.push_str(" forwarded");
        }
        if a.is_nodata() {
            line.push_str(" (no data)");
        }
        for r in &a.answers {
            line.push_str(&format!("  {} {}", r.record_type(), present(&r.data)));
        }
        out.push_str(&line);
        out.push('\n');
    }
    match &walk.result {
        Ok(r) => {
            let ips: Vec<String> = r.addresses.iter().map(IpAddr::to_string).collect();
            out.push_str(&format!("=> {} {}\n", r.name, ips.join(" ")));
        }
        Err(e) => out.push_str(&format!("=> failed: {e}\n")),
    }
    out
}
