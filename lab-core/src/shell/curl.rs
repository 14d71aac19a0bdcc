//! curl in `curlimages/curl` and `nicolaka/netshoot`: `curl -s [-i|-I] [-o FILE] URL`.
//!
//! With `-s` curl prints nothing but the body (and, with `-i`, the response head as received,
//! CRLF line ends kept; `-I` sends `HEAD`, which Apache answers with the same head and no body).
//! Failures are silent and leave curl's exit status: 6 (`CURLE_COULDNT_RESOLVE_HOST`), 7
//! (`CURLE_COULDNT_CONNECT`: a reset, or the kernel's own SYN timeout, which comes before curl's
//! 300 s connect timeout). Without `-s` curl draws its progress meter on stderr (stdout is not a
//! terminal under `kubectl exec`), with speeds and times of the real transfer; that, `-sS`'s
//! `after N ms` messages and `-v`'s version-specific trace are [`ShellError::NotModelled`].
//! curl keeps the connection alive, so Apache sends no `Connection` header.

use super::http::{Connection, access_log_line, connect_from};
use super::{Ctx, ExecOutput, ShellError};

#[derive(Default)]
struct Opts {
    silent: bool,
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
            "--include" => o.include = true,
            "--head" => o.head = true,
            "--output" => take_value(&mut o, "")?,
            s if s.starts_with("--") => return Err(nm(s)),
            s if s.starts_with('-') && s.len() > 1 => {
                for (at, c) in s[1..].char_indices() {
                    match c {
                        's' => o.silent = true,
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
    if !(path.is_empty() || path == "/") {
        return Err(ShellError::NotModelled(format!("curl of the path {path}")));
    }
    Ok(match connect_from(ctx, &host, port, false)? {
        Connection::BadAddress => ExecOutput {
            exit_code: 6,
            ..ExecOutput::default()
        },
        Connection::Refused { .. } | Connection::TimedOut { .. } => ExecOutput {
            exit_code: 7,
            ..ExecOutput::default()
        },
        Connection::Served {
            response,
            pod,
            client,
            ..
        } => {
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
            out.served.push(super::Served {
                namespace: pod.0,
                pod: pod.1,
                log_line: access_log_line(
                    client,
                    ctx.cluster.now_ms(),
                    &format!("{method} / HTTP/1.1"),
                    &response,
                    !o.head,
                ),
            });
            out
        }
    })
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
        assert!(parse(&["-v".to_string()]).is_err());
        assert_eq!(
            split_url("http://a:8080/").unwrap(),
            ("a".to_string(), 8080, "/".to_string())
        );
    }
}
