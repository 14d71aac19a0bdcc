//! curl in `curlimages/curl` and `nicolaka/netshoot`: `curl -s [-v] [-i|-I] [-o FILE] URL`.
//!
//! With `-s` curl prints nothing but the body (and, with `-i`, the response head as received,
//! CRLF line ends kept; `-I` sends `HEAD`, which Apache answers with the same head and no body).
//! Failures are silent and leave curl's exit status: 6 (`CURLE_COULDNT_RESOLVE_HOST`), 7
//! (`CURLE_COULDNT_CONNECT`: a reset, or the kernel's own SYN timeout, which comes before curl's
//! 300 s connect timeout). Without `-s` curl draws its progress meter on stderr (stdout is not a
//! terminal under `kubectl exec`), with speeds and times of the real transfer; that and `-sS`'s
//! `after N ms` messages are [`ShellError::NotModelled`].
//! curl keeps the connection alive, so Apache sends no `Connection` header.
//!
//! `-v` (with `-s`) traces the transfer on stderr as curl 8.10 and later print it
//! (`lib/hostip.c` `show_resolve_info`, `lib/cf-socket.c`, `lib/http.c`, `src/tool_cb_dbg.c`):
//! for a name, `* Host NAME:PORT was resolved.`, `* IPv6: (none)` and `* IPv4: A, B`; then
//! `*   Trying IP:PORT...`, `* Connected to HOST (IP) port PORT`, `* using HTTP/1.x`, the request
//! head as sent, each line `> ` + the line with its CRLF, `* Request completely sent off`, the
//! response head the same way with `< `, then, since stdout is not a terminal, `{ [N bytes data]`
//! for the body, and `* Connection #0 to host HOST left intact`. The request carries
//! `Host` (with the port unless it is 80), `User-Agent: curl/<version>` and `Accept: */*`; the
//! version comes from the `curlimages/curl` tag, 8.10 to 8.14 (netshoot's, or an untagged
//! image's, is not known; later releases name the random local port). The same sequence shows
//! in published `curl -v http://…` transcripts of 8.14.1 (`* Connected to … port 80`,
//! `* using HTTP/1.x`, `* Request completely sent off`) and of curlimages/curl pods resolving a
//! Service (`* Host NAME:80 was resolved.`, `* IPv6: (none)`, `* IPv4: <ClusterIP>`). A failed
//! connection's trace names the random local port and the elapsed milliseconds, so it is not
//! modelled.

use super::http::{Connection, HttpResponse, access_log_line, connect_from};
use super::{Ctx, ExecOutput, ShellError};
use crate::dns::DnsSnapshot;
use crate::dns::resolver::{self, Family};
use std::net::Ipv4Addr;

#[derive(Default)]
struct Opts {
    silent: bool,
    verbose: bool,
    include: bool,
    head: bool,
    output: Option<String>,
    url: Option<String>,
}

fn parse(args: &[String]) -> Result<Opts, ShellError> {
    let nm = |what: &str| ShellError::NotModelled(format!("curl {what}"));
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let mut take_value = |o: &mut Opts, inline: &str| -> Result<(), ShellError> {
            let v = if inline.is_empty() {
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or_else(|| nm("-o without a file"))?;
                i += 1;
                v
            } else {
                inline.to_string()
            };
            o.output = Some(v);
            Ok(())
        };
        match a.as_str() {
            "--silent" => o.silent = true,
            "--verbose" => o.verbose = true,
            "--include" => o.include = true,
            "--head" => o.head = true,
            "--output" => take_value(&mut o, "")?,
            s if s.starts_with("--") => return Err(nm(s)),
            s if s.starts_with('-') && s.len() > 1 => {
                for (at, c) in s[1..].char_indices() {
                    match c {
                        's' => o.silent = true,
                        'v' => o.verbose = true,
                        'i' => o.include = true,
                        'I' => o.head = true,
                        'o' => {
                            take_value(&mut o, &s[1 + at + 1..])?;
                            break;
                        }
                        other => return Err(nm(&format!("-{other}"))),
                    }
                }
            }
            _ => {
                if o.url.is_some() {
                    return Err(nm("with more than one URL"));
                }
                o.url = Some(a.clone());
            }
        }
    }
    Ok(o)
}

/// `http://host:port/path` → (host, port, path); curl guesses `http://` without a scheme.
fn split_url(url: &str) -> Result<(String, u16, String), ShellError> {
    let rest = match url.split_once("://") {
        Some((s, r)) if s.eq_ignore_ascii_case("http") => r,
        Some(_) => return Err(ShellError::NotModelled(format!("curl {url:?}"))),
        None => url,
    };
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (hostport, path) = rest.split_at(cut);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse::<u16>() {
            Ok(p) if p != 0 => (h, p),
            _ => return Err(ShellError::NotModelled(format!("curl port {p:?}"))),
        },
        _ => (hostport, 80),
    };
    if host.is_empty() || host.starts_with('[') || host.contains('@') {
        return Err(ShellError::NotModelled(format!("curl host {host:?}")));
    }
    Ok((host.to_string(), port, path.to_string()))
}

pub(crate) fn curl(ctx: &Ctx<'_>, args: &[String]) -> Result<ExecOutput, ShellError> {
    let o = parse(args)?;
    let Some(url) = o.url.as_deref() else {
        return Err(ShellError::NotModelled(
            "curl without a URL (its hint text)".to_string(),
        ));
    };
    if !o.silent {
        return Err(ShellError::NotModelled(
            "curl's progress meter (use -s)".to_string(),
        ));
    }
    let (host, port, path) = split_url(url)?;
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let version = match (o.verbose, super::image_repo_tag(ctx.image)) {
        (false, _) => None,
        (true, ("curl", tag)) if traced_version(tag) => Some(tag),
        (true, _) => {
            return Err(ShellError::NotModelled(format!(
                "curl -v in {:?} (its curl version)",
                ctx.image
            )));
        }
    };
    let conn = connect_from(ctx, &host, port, false)?;
    if version.is_some() && !matches!(conn, Connection::Served { .. }) {
        return Err(ShellError::NotModelled(
            "curl -v of a failed connection (local port and timing)".to_string(),
        ));
    }
    Ok(match conn {
        Connection::BadAddress => ExecOutput {
            exit_code: 6,
            ..ExecOutput::default()
        },
        Connection::Refused { .. } | Connection::TimedOut { .. } => ExecOutput {
            exit_code: 7,
            ..ExecOutput::default()
        },
        Connection::Served {
            ip,
            response,
            pod,
            client,
        } => {
            let response = response.for_path(&path);
            let text = if o.include || o.head {
                response.to_wire(!o.head)
            } else {
                response.body.clone()
            };
            // -o FILE writes a file the simulation keeps nowhere.
            let mut out = match o.output.as_deref() {
                None | Some("-") => ExecOutput::ok(text),
                Some(_) => ExecOutput::default(),
            };
            let method = if o.head { "HEAD" } else { "GET" };
            if let Some(version) = version {
                let req = Request {
                    host: &host,
                    port,
                    ip,
                    method,
                    path: &path,
                    version,
                };
                out.stderr = trace(ctx, &req, &response);
            }
            out.served.push(super::Served {
                namespace: pod.0,
                pod: pod.1,
                log_line: access_log_line(
                    client,
                    ctx.cluster.now_ms(),
                    &format!("{method} {path} HTTP/1.1"),
                    &response,
                    !o.head,
                ),
            });
            out
        }
    })
}

/// Whether a `curlimages/curl` tag is a release whose `-v` trace is modelled: 8.10 to 8.14.
/// Later releases report the connection as `Established connection to HOST (IP port N) from
/// LOCAL port P` (seen from 8.18 on), which names a random local port.
fn traced_version(tag: &str) -> bool {
    let mut parts = tag.split('-').next().unwrap_or("").split('.');
    matches!(
        (
            parts.next(),
            parts.next().and_then(|m| m.parse::<u32>().ok())
        ),
        (Some("8"), Some(10..=14))
    )
}

/// What curl sent, for its `-v` trace.
struct Request<'a> {
    host: &'a str,
    port: u16,
    ip: Ipv4Addr,
    method: &'a str,
    path: &'a str,
    version: &'a str,
}

/// The `-v` trace of a served request (see the module notes).
fn trace(ctx: &Ctx<'_>, req: &Request<'_>, response: &HttpResponse) -> String {
    let Request {
        host,
        port,
        ip,
        method,
        path,
        version,
    } = *req;
    let mut t = String::new();
    if host.parse::<Ipv4Addr>().is_err() {
        // getaddrinfo(AF_UNSPEC): the A records the walk found; a Service has no AAAA here.
        let walk = resolver::walk(
            &DnsSnapshot::from_cluster(ctx.cluster),
            &resolver::pod_resolv_conf(ctx.cluster, ctx.pod),
            host,
            ctx.resolver.libc,
            Family::Inet,
        );
        let v4: Vec<String> = walk
            .result
            .map(|r| r.addresses.iter().map(ToString::to_string).collect())
            .unwrap_or_else(|_| vec![ip.to_string()]);
        t.push_str(&format!(
            "* Host {host}:{port} was resolved.\n* IPv6: (none)\n* IPv4: {}\n",
            v4.join(", ")
        ));
    }
    t.push_str(&format!(
        "*   Trying {ip}:{port}...\n* Connected to {host} ({ip}) port {port}\n* using HTTP/1.x\n"
    ));
    let host_header = if port == 80 {
        host.to_string()
    } else {
        format!("{host}:{port}")
    };
    for line in [
        format!("{method} {path} HTTP/1.1"),
        format!("Host: {host_header}"),
        format!("User-Agent: curl/{version}"),
        "Accept: */*".to_string(),
        String::new(),
    ] {
        t.push_str(&format!("> {line}\r\n"));
    }
    t.push_str("* Request completely sent off\n");
    t.push_str(&format!("< {}\r\n", response.status_line));
    for (k, v) in &response.headers {
        t.push_str(&format!("< {k}: {v}\r\n"));
    }
    t.push_str("< \r\n");
    if method != "HEAD" && !response.body.is_empty() {
        t.push_str(&format!("{{ [{} bytes data]\n", response.body.len()));
    }
    t.push_str(&format!("* Connection #0 to host {host} left intact\n"));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let a: Vec<String> = ["-si", "-o", "-", "httpd-svc:8080"]
            .map(String::from)
            .to_vec();
        let o = parse(&a).unwrap();
        assert!(o.silent && o.include && !o.head);
        assert_eq!(o.output.as_deref(), Some("-"));
        assert!(parse(&["-sv".to_string()]).unwrap().verbose);
        assert!(parse(&["--verbose".to_string()]).unwrap().verbose);
        assert!(parse(&["-x".to_string()]).is_err());
        assert!(traced_version("8.11.1") && traced_version("8.14"));
        assert!(!traced_version("8.18.0") && !traced_version("7.88.1") && !traced_version(""));
        assert_eq!(
            split_url("http://a:8080/").unwrap(),
            ("a".to_string(), 8080, "/".to_string())
        );
    }
}
