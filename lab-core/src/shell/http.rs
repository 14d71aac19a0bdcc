//! A TCP connection from a pod and the HTTP answer at its end.
//!
//! The address comes from the pod's own resolver ([`name_then_packet`]: the image's C library
//! walks the search list through CoreDNS), the packet goes through the node's kube-proxy rules
//! ([`Tracer`]), and where it lands decides the outcome as the kernel would: an `httpd` pod's
//! port 80 answers with Apache's default page; any other port of a pod, a REJECT rule (a Service
//! without endpoints) or a node's closed port answers with a TCP reset (`ECONNREFUSED`); a DROP
//! or an address nothing owns leaves the SYN unanswered (`ETIMEDOUT`).

use super::{Ctx, IT_WORKS, Served, ShellError};
use crate::cluster::Cluster;
use crate::dns::DnsSnapshot;
use crate::dns::resolver::{self, Libc, ResolvConf};
use crate::proxy::Protocol;
use crate::trace::{
    Choice, Packet, Source, Trace, TraceError, TraceOutcome, Tracer, Verdict, name_then_packet,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Where a connection attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    /// The name did not resolve (`getaddrinfo` failed).
    BadAddress,
    /// A pod accepted the connection and answered.
    Served {
        /// The address the client connected to (before any DNAT).
        ip: Ipv4Addr,
        /// The answer.
        response: HttpResponse,
        /// The pod that served it: `(namespace, name)`.
        pod: (String, String),
        /// The client address the server saw (the pod's IP, or its node's after masquerade).
        client: Ipv4Addr,
    },
    /// A reset came back (`Connection refused`).
    Refused {
        /// The address the client connected to.
        ip: Ipv4Addr,
    },
    /// Nothing answered the SYN (`Connection timed out`, after the kernel's SYN retries).
    TimedOut {
        /// The address the client connected to.
        ip: Ipv4Addr,
    },
}

/// An HTTP/1.1 response: status line, headers in the order sent, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// Header name and value, in wire order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl HttpResponse {
    /// The bytes on the wire: status line, headers and the blank line (CRLF each), then the body
    /// unless the request was a `HEAD`.
    pub fn to_wire(&self, with_body: bool) -> String {
        let mut text = String::new();
        text.push_str(&self.status_line);
        text.push_str("\r\n");
        for (k, v) in &self.headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        if with_body {
            text.push_str(&self.body);
        }
        text
    }

    /// The answer to a request for `path` from a pod whose answer to `/` is `self`: the image
    /// serves only its `index.html` (at `/` and `/index.html`); any other path gets Apache's 404
    /// page (196 bytes, ISO-8859-1, as `ap_send_error_response` writes it in 2.4), with the same
    /// `Date`, `Server` and connection handling.
    pub fn for_path(self, path: &str) -> HttpResponse {
        let path = path.split(['?', '#']).next().unwrap_or("");
        if matches!(path, "" | "/" | "/index.html") {
            return self;
        }
        let keep = |name: &str| {
            self.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(k, v)| (k.clone(), v.clone()))
        };
        let mut headers: Vec<(String, String)> =
            ["Date", "Server"].iter().filter_map(|h| keep(h)).collect();
        headers.push(("Content-Length".into(), NOT_FOUND.len().to_string()));
        headers.extend(keep("X-Svclab-Pod"));
        headers.extend(keep("Connection"));
        headers.push((
            "Content-Type".into(),
            "text/html; charset=iso-8859-1".into(),
        ));
        HttpResponse {
            status_line: "HTTP/1.1 404 Not Found".into(),
            headers,
            body: NOT_FOUND.into(),
        }
    }

    /// The status code (`200`, `404`).
    pub fn status(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}

/// Apache 2.4's 404 page for a path the image does not have.
pub const NOT_FOUND: &str = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n";

/// Apache httpd 2.4's answer to `GET /` in the official `httpd` image: its default
/// `htdocs/index.html`, with the headers the core and `mod_mime` send for a static file. The
/// `Last-Modified` and `ETag` are those of the file as the image ships it (mtime 2007-06-11,
/// 45 bytes: ETag `"<size hex>-<mtime µs hex>"`). `X-Svclab-Pod` is svclab's own header naming
/// the serving pod; `Connection: close` is sent when the client asked for it (busybox wget does).
pub fn apache_default_page(
    image: &str,
    pod: &str,
    now_ms: i64,
    client_closes: bool,
) -> HttpResponse {
    let mut headers = vec![
        ("Date".to_string(), http_date(now_ms)),
        (
            "Server".to_string(),
            format!("Apache/{} (Unix)", apache_version(image)),
        ),
        (
            "Last-Modified".to_string(),
            "Mon, 11 Jun 2007 18:53:14 GMT".to_string(),
        ),
        ("ETag".to_string(), "\"2d-432a5e4a73a80\"".to_string()),
        ("Accept-Ranges".to_string(), "bytes".to_string()),
        ("Content-Length".to_string(), IT_WORKS.len().to_string()),
        ("X-Svclab-Pod".to_string(), pod.to_string()),
    ];
    if client_closes {
        headers.push(("Connection".to_string(), "close".to_string()));
    }
    headers.push(("Content-Type".to_string(), "text/html".to_string()));
    HttpResponse {
        status_line: "HTTP/1.1 200 OK".to_string(),
        headers,
        body: IT_WORKS.to_string(),
    }
}

/// The Apache version an `httpd` image tag names (`httpd:2.4.62-alpine` → 2.4.62). An untagged
/// or `latest` image is taken as 2.4.65, the release current when this was written (an
/// assumption: `latest` moves).
pub(crate) fn apache_version(image: &str) -> String {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = last.split_once(':').map_or("", |(_, t)| t);
    let v = tag.split('-').next().unwrap_or("");
    if v.starts_with("2.4.") && v[4..].chars().all(|c| c.is_ascii_digit()) && v.len() > 4 {
        v.to_string()
    } else {
        "2.4.65".to_string()
    }
}

/// An RFC 9110 IMF-fixdate (`Wed, 25 Nov 2026 13:17:24 GMT`) for a virtual time in ms.
pub(crate) fn http_date(now_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Resolves `host` with the pod's resolver and connects to `port`, from pod `namespace/pod`
/// whose image's C library is `libc`.
#[allow(clippy::too_many_arguments)]
pub fn connect(
    cluster: &Cluster,
    conf: &ResolvConf,
    libc: Libc,
    namespace: &str,
    pod: &str,
    host: &str,
    port: u16,
    seed: u64,
    client_closes: bool,
) -> Result<Connection, ShellError> {
    let r = match name_then_packet(
        &Tracer::from_cluster(cluster),
        &DnsSnapshot::from_cluster(cluster),
        conf,
        libc,
        namespace,
        pod,
        host,
        port,
        Protocol::Tcp,
        Choice::Seed(seed),
    ) {
        // The pod's own loopback: whatever the pod itself listens on, no node rule involved.
        Err(TraceError::PodLoopback { ip, .. }) => {
            return Ok(landing(
                cluster,
                Some((namespace, pod)),
                ip,
                ip,
                port,
                client_closes,
                ip,
            ));
        }
        r => r?,
    };
    let (Some(ip), Some(TraceOutcome::Single(trace))) = (r.address, r.connection) else {
        return Ok(Connection::BadAddress);
    };
    Ok(outcome(
        cluster,
        Some((namespace, pod)),
        ip,
        port,
        &trace,
        client_closes,
    ))
}

/// The request methods an outside client's request may use (Apache serves a static file to both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// `GET`: headers and body.
    Get,
    /// `HEAD`: the same headers, no body.
    Head,
}

impl HttpMethod {
    /// The method's name on the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        }
    }
}

/// How an outside client's HTTP request to a NodePort ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternalAnswer {
    /// An `httpd` pod answered.
    Served {
        /// The response as sent: status line, headers, blank line, body (none for `HEAD`).
        wire: String,
        /// The serving pod and the access-log line it wrote.
        served: Served,
    },
    /// A reset came back: a Service without endpoints (kube-proxy's REJECT), or a port of a
    /// node or pod nothing listens on.
    Refused,
    /// Nothing answered the SYN: a DROP, or an address nothing owns.
    TimedOut,
}

/// `METHOD PATH HTTP/1.x` from a client outside the cluster ([`crate::trace::EXTERNAL_CLIENT_IP`])
/// to `via_node`'s InternalIP at `node_port` over TCP, traced through that node's kube-proxy
/// rules in the cluster's configured mode (random choices drawn from `seed`), answered where it
/// lands as a pod's `curl` would be. `http_minor` is the request's HTTP/1.x minor version (it
/// is echoed in the access log); `client_closes` adds `Connection: close` to the answer.
#[allow(clippy::too_many_arguments)]
pub fn external_http(
    cluster: &Cluster,
    via_node: &str,
    node_port: u16,
    method: HttpMethod,
    path: &str,
    http_minor: u8,
    client_closes: bool,
    seed: u64,
) -> Result<ExternalAnswer, TraceError> {
    let ip = node_ip(cluster, via_node).ok_or_else(|| TraceError::UnknownNode(via_node.into()))?;
    let packet = Packet {
        source: Source::External {
            via_node: via_node.to_string(),
        },
        destination: SocketAddrV4::new(ip, node_port),
        protocol: Protocol::Tcp,
    };
    let trace = Tracer::from_cluster(cluster).trace_seeded(&packet, seed)?;
    Ok(
        match outcome(cluster, None, ip, node_port, &trace, client_closes) {
            Connection::Served {
                response,
                pod,
                client,
                ..
            } => {
                let head = method == HttpMethod::Head;
                let response = response.for_path(path);
                let request_line = format!("{} {path} HTTP/1.{http_minor}", method.as_str());
                ExternalAnswer::Served {
                    wire: response.to_wire(!head),
                    served: Served {
                        namespace: pod.0,
                        pod: pod.1,
                        log_line: access_log_line(
                            client,
                            cluster.now_ms(),
                            &request_line,
                            &response,
                            !head,
                        ),
                    },
                }
            }
            Connection::Refused { .. } | Connection::BadAddress => ExternalAnswer::Refused,
            Connection::TimedOut { .. } => ExternalAnswer::TimedOut,
        },
    )
}

/// Where a traced connection to `ip:port` ends: the verdict's target, and the client address
/// the server sees. `source` is the client pod, whose own loopback a `127.0.0.1` reaches.
fn outcome(
    cluster: &Cluster,
    source: Option<(&str, &str)>,
    ip: Ipv4Addr,
    port: u16,
    trace: &Trace,
    client_closes: bool,
) -> Connection {
    // After a masquerade the server sees the address of the node that rewrote the packet.
    let client = if trace.masqueraded {
        node_ip(cluster, &trace.node).unwrap_or(trace.source_ip)
    } else {
        trace.source_ip
    };
    let land = |target: Ipv4Addr, tport: u16| {
        landing(cluster, source, ip, target, tport, client_closes, client)
    };
    match trace.verdict {
        Verdict::Dnat { ip: t, port: p, .. } => land(t, p),
        Verdict::Accept => land(ip, port),
        Verdict::Reject => Connection::Refused { ip },
        Verdict::Drop => Connection::TimedOut { ip },
    }
}

/// What answers at `target:port` (after any DNAT) for a client that dialled `ip`.
fn landing(
    cluster: &Cluster,
    source: Option<(&str, &str)>,
    ip: Ipv4Addr,
    target: Ipv4Addr,
    port: u16,
    client_closes: bool,
    client: Ipv4Addr,
) -> Connection {
    // Loopback stays in the client's own network namespace (an outside client has none here).
    let owner = if target.is_loopback() {
        source.and_then(|(ns, name)| cluster.get_typed::<Pod>(ns, name))
    } else {
        pod_with_ip(cluster, target)
    };
    if let Some(p) = owner {
        let image = p
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.as_deref())
            .unwrap_or("");
        let name = p.metadata.name.clone().unwrap_or_default();
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        if port == 80 && super::toolbox(image) == super::Toolbox::Httpd {
            return Connection::Served {
                ip,
                response: apache_default_page(image, &name, cluster.now_ms(), client_closes),
                pod: (ns, name),
                client,
            };
        }
        return Connection::Refused { ip };
    }
    if is_node_ip(cluster, target) {
        // A node's kernel resets a port nothing listens on (NodePorts were DNATed already).
        return Connection::Refused { ip };
    }
    Connection::TimedOut { ip }
}

fn pod_with_ip(cluster: &Cluster, ip: Ipv4Addr) -> Option<&Pod> {
    let text = ip.to_string();
    cluster.list_typed::<Pod>(None).find(|p| {
        let st = p.status.as_ref();
        let host_network = p
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        !host_network
            && st.and_then(|s| s.pod_ip.as_deref()) == Some(text.as_str())
            && st.and_then(|s| s.phase.as_deref()) == Some("Running")
    })
}

/// A node's first InternalIP.
fn node_ip(cluster: &Cluster, node: &str) -> Option<Ipv4Addr> {
    cluster
        .list_typed::<Node>(None)
        .find(|n| n.metadata.name.as_deref() == Some(node))?
        .status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
}

/// The line Apache writes to the `httpd` image's stdout (`CustomLog /proc/self/fd/1 common`:
/// `%h %l %u %t "%r" %>s %b`), which `kubectl logs` shows.
pub(crate) fn access_log_line(
    client: Ipv4Addr,
    now_ms: i64,
    request_line: &str,
    response: &HttpResponse,
    body_sent: bool,
) -> String {
    let date = http_date(now_ms);
    // "Wed, 25 Nov 2026 13:17:24 GMT" → "25/Nov/2026:13:17:24 +0000".
    let parts: Vec<&str> = date.split(' ').collect();
    let t = match parts.as_slice() {
        [_, d, m, y, hms, _] => format!("{d}/{m}/{y}:{hms} +0000"),
        _ => date.clone(),
    };
    let status = response.status_line.split(' ').nth(1).unwrap_or("-");
    let bytes = if body_sent && !response.body.is_empty() {
        response.body.len().to_string()
    } else {
        "-".to_string()
    };
    format!("{client} - - [{t}] \"{request_line}\" {status} {bytes}\n")
}

fn is_node_ip(cluster: &Cluster, ip: Ipv4Addr) -> bool {
    let text = ip.to_string();
    cluster.list_typed::<Node>(None).any(|n| {
        n.status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .is_some_and(|a| a.iter().any(|a| a.address == text))
    })
}

/// [`connect`] from the exec's pod, with its resolv.conf and its image's C library.
pub(crate) fn connect_from(
    ctx: &Ctx<'_>,
    host: &str,
    port: u16,
    client_closes: bool,
) -> Result<Connection, ShellError> {
    connect(
        ctx.cluster,
        &resolver::pod_resolv_conf(ctx.cluster, ctx.pod),
        ctx.resolver.libc,
        ctx.namespace,
        ctx.pod_name,
        host,
        port,
        ctx.seed,
        client_closes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // 2026-11-25T13:17:24Z
        assert_eq!(
            http_date(1_795_612_644_000),
            "Wed, 25 Nov 2026 13:17:24 GMT"
        );
        assert_eq!(http_date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn versions_from_tags() {
        assert_eq!(apache_version("httpd:2.4.62-alpine"), "2.4.62");
        assert_eq!(apache_version("httpd"), "2.4.65");
        assert_eq!(apache_version("httpd:2.4."), "2.4.65");
    }

    #[test]
    fn common_log_format() {
        let r = apache_default_page("httpd", "httpd-1", 1_795_612_644_000, true);
        let ip = Ipv4Addr::new(10, 244, 1, 3);
        assert_eq!(
            access_log_line(ip, 1_795_612_644_000, "GET / HTTP/1.1", &r, true),
            "10.244.1.3 - - [25/Nov/2026:13:17:24 +0000] \"GET / HTTP/1.1\" 200 45\n"
        );
        assert!(access_log_line(ip, 0, "HEAD / HTTP/1.1", &r, false).ends_with(" 200 -\n"));
    }

    #[test]
    fn the_page_is_45_bytes() {
        let r = apache_default_page("httpd", "httpd-1", 0, true);
        assert_eq!(r.body.len(), 45);
        assert!(
            r.headers
                .contains(&("Content-Length".to_string(), "45".to_string()))
        );
    }
}
