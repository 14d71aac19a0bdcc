//! busybox `wget` (networking/wget.c, the same in 1.28 and 1.36 for what is modelled here).
//!
//! `wget [-q] [-S] [-O FILE] URL…`: the URL defaults to `http://`, port 80; the name is
//! resolved by the C library (`xhost2sockaddr`, dying with `bad address '<host:port>'`), the
//! connection by `xconnect` (dying with `can't connect to remote host (<ip>): <strerror>`).
//! Without `-q` it prints `Connecting to <host:port> (<ip>:<port>)` first. `-S` prints the
//! response's status line and headers to stderr, each as `  <line>` and the empty line ending
//! them as `  ` (`fgets_trim_sanitize`), even with `-q`. Errors go to stderr as `wget: …` with
//! exit status 1.
//!
//! A download without `-q` draws the progress meter on stderr (libbb/progress.c), which under
//! `kubectl exec` (no `-t`) is not a terminal: no `\r`, one line ended by `\n`, drawn once since
//! the 45-byte page arrives in one read (the first call, with nothing transferred, is skipped
//! within the same second), an 80-column width (`get_terminal_width` falls back to 80 without a
//! terminal or `$COLUMNS`) and an ETA of `0:00:00` (no second has elapsed). The file name is the
//! last component of the output name (`-` for `-O -`, else `index.html` or the `-O` file's).
//! - 1.28: `"%-20.20s%4u%%"`, ` |` + a 31-star bar (width − 49) + `|`, `"%6u%c"` (size and a
//!   blank scale letter), `"%3u:%02u:%02u ETA"`, then `\n` because stderr is not a tty; the
//!   `PROGRESS_END` call in wget.c then adds one more `\n` unconditionally (a blank line; later
//!   releases print it only on a terminal). No begin/end notices (busybox commit 46fc3290
//!   "wget: notify on download begin and end" came after 1.29; see rmyorston/busybox-w32#139).
//!   Seen in the wild: `index.html           100% |*******************************|  1663   0:00:00 ETA`.
//! - 1.36: `writing to stdout` / `saving to '<file>'` before, `written to stdout` /
//!   `'<file>' saved` after; the line is `"%-20.20s "`, `"%3u%% "`, `|` + a 32-star bar
//!   (width − 48) + `| `, the size by `smart_ulltoa5` (5 columns), `"%3u:%02u:%02u ETA"`, `\n`;
//!   `PROGRESS_END` adds nothing off a terminal. Seen in the wild (`kubectl run -i`, no tty):
//!   `-                    100% |********************************|   612  0:00:00 ETA`.

use super::http::{Connection, access_log_line, connect_from};
use super::{Ctx, ExecOutput, ShellError, Toolbox};

/// Parsed options (getopt32 `"cqSO:o:P:Y:U:T:+t:n::"` and the long forms).
#[derive(Default)]
struct Opts {
    quiet: bool,
    server_response: bool,
    output: Option<String>,
    urls: Vec<String>,
}

fn parse(args: &[String]) -> Result<Opts, ShellError> {
    let bad = |a: &str| {
        ShellError::NotModelled(format!("wget option {a:?} (busybox prints its usage text)"))
    };
    let mut o = Opts::default();
    let mut i = 0;
    let mut only_urls = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_urls || !a.starts_with('-') || a == "-" {
            o.urls.push(a.clone());
            continue;
        }
        if a == "--" {
            only_urls = true;
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            match name {
                "quiet" if value.is_none() => o.quiet = true,
                "server-response" if value.is_none() => o.server_response = true,
                "output-document" => {
                    let v = match value {
                        Some(v) => v,
                        None => {
                            let v = args.get(i).cloned().ok_or_else(|| bad(a))?;
                            i += 1;
                            v
                        }
                    };
                    o.output = Some(v);
                }
                _ => return Err(bad(a)),
            }
            continue;
        }
        // A cluster of short options.
        for (at, c) in a[1..].char_indices() {
            match c {
                'q' => o.quiet = true,
                'S' => o.server_response = true,
                // `-O FILE` and `-T SEC` take the rest of the word or the next word. The
                // network timeout: simulated connections end at once, so only its value is
                // checked (a grader's probe passes it for real clusters).
                'O' | 'T' => {
                    let rest = &a[1 + at + 1..];
                    let v = if rest.is_empty() {
                        let v = args.get(i).cloned().ok_or_else(|| bad(a))?;
                        i += 1;
                        v
                    } else {
                        rest.to_string()
                    };
                    if c == 'O' {
                        o.output = Some(v);
                    } else if v.parse::<u32>().is_err() {
                        return Err(bad(a));
                    }
                    break;
                }
                _ => return Err(bad(a)),
            }
        }
    }
    if o.urls.is_empty() {
        return Err(bad("(no URL)"));
    }
    Ok(o)
}

/// A URL as `parse_url` splits it: host (with the port as typed, as busybox keeps it for its
/// messages), host name, port, path.
fn split_url(url: &str) -> Result<(String, String, u16, String), ShellError> {
    let rest = match url.split_once("://") {
        Some(("http", r)) => r,
        Some(_) => {
            return Err(ShellError::NotModelled(format!(
                "wget of {url:?} (only http is simulated)"
            )));
        }
        None => url,
    };
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (hostport, path) = rest.split_at(cut);
    let path = path.strip_prefix('/').unwrap_or(path).to_string();
    let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse::<u16>() {
            Ok(p) if p != 0 => (h, p),
            // busybox dies on a bad port through bb_lookup_port / xatou16.
            _ => return Err(ShellError::NotModelled(format!("wget port {p:?}"))),
        },
        _ => (hostport, 80),
    };
    if host.starts_with('[') || host.is_empty() {
        return Err(ShellError::NotModelled(format!("wget host {host:?}")));
    }
    Ok((hostport.to_string(), host.to_string(), port, path))
}

pub(crate) fn wget(ctx: &Ctx<'_>, args: &[String]) -> Result<ExecOutput, ShellError> {
    let o = parse(args)?;
    let mut out = ExecOutput::default();
    for url in &o.urls {
        let (typed, host, port, path) = split_url(url)?;
        let path = format!("/{path}");
        let conn = connect_from(ctx, &host, port, true)?;
        if let Connection::BadAddress = conn {
            out.stderr
                .push_str(&format!("wget: bad address '{typed}'\n"));
            out.exit_code = 1;
            return Ok(out);
        }
        if !o.quiet {
            let ip = match &conn {
                Connection::Served { ip, .. }
                | Connection::Refused { ip }
                | Connection::TimedOut { ip } => *ip,
                Connection::BadAddress => continue,
            };
            out.stderr
                .push_str(&format!("Connecting to {typed} ({ip}:{port})\n"));
        }
        match conn {
            Connection::BadAddress => {}
            Connection::Refused { ip } => {
                out.stderr.push_str(&format!(
                    "wget: can't connect to remote host ({ip}): Connection refused\n"
                ));
                out.exit_code = 1;
                return Ok(out);
            }
            Connection::TimedOut { ip } => {
                // connect() gives up after the kernel's SYN retries (~2 min), well before
                // wget's own 900 s alarm.
                out.stderr.push_str(&format!(
                    "wget: can't connect to remote host ({ip}): Connection timed out\n"
                ));
                out.exit_code = 1;
                return Ok(out);
            }
            Connection::Served {
                response,
                pod,
                client,
                ..
            } => {
                let response = response.for_path(&path);
                let log_line = access_log_line(
                    client,
                    ctx.cluster.now_ms(),
                    &format!("GET {path} HTTP/1.1"),
                    &response,
                    true,
                );
                if o.server_response {
                    out.stderr
                        .push_str(&format!("  {}\n", response.status_line));
                    for (k, v) in &response.headers {
                        out.stderr.push_str(&format!("  {k}: {v}\n"));
                    }
                    out.stderr.push_str("  \n");
                }
                if response.status() != 200 {
                    // busybox stops at any status but 2xx, before writing anything.
                    out.stderr.push_str(&format!(
                        "wget: server returned error: {}\n",
                        response.status_line
                    ));
                    out.exit_code = 1;
                    out.served.push(super::Served {
                        namespace: pod.0,
                        pod: pod.1,
                        log_line,
                    });
                    return Ok(out);
                }
                // -O FILE and the default index.html write a file the simulation keeps
                // nowhere; only -O - reaches the terminal.
                let to_stdout = o.output.as_deref() == Some("-");
                let file = o.output.as_deref().unwrap_or("index.html");
                let new = ctx.toolbox != Toolbox::Busybox128;
                if !o.quiet && new {
                    out.stderr.push_str(&if to_stdout {
                        "writing to stdout\n".to_string()
                    } else {
                        format!("saving to '{file}'\n")
                    });
                }
                if to_stdout {
                    out.stdout.push_str(&response.body);
                }
                if !o.quiet {
                    let curfile = file.rsplit('/').next().unwrap_or(file);
                    out.stderr
                        .push_str(&progress_line(new, curfile, response.body.len()));
                    out.stderr.push_str(&match (new, to_stdout) {
                        (false, _) => "\n".to_string(),
                        (true, true) => "written to stdout\n".to_string(),
                        (true, false) => format!("'{file}' saved\n"),
                    });
                }
                out.served.push(super::Served {
                    namespace: pod.0,
                    pod: pod.1,
                    log_line,
                });
            }
        }
    }
    Ok(out)
}

/// The progress meter's final line for a `size`-byte download that took under a second, off a
/// terminal (see the module notes): the 1.28 layout, or the newer one when `new`.
fn progress_line(new: bool, curfile: &str, size: usize) -> String {
    // Both scale only above 99,999 bytes; the pages served here are far smaller.
    let size = size.min(99_999);
    if new {
        format!(
            "{curfile:<20.20} 100% |{}| {size:>5}  0:00:00 ETA\n",
            "*".repeat(32)
        )
    } else {
        format!(
            "{curfile:<20.20} 100% |{}|{size:>6}   0:00:00 ETA\n",
            "*".repeat(31)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_cluster_like_getopt() {
        let a: Vec<String> = ["-qO-", "httpd-svc:8080"].map(String::from).to_vec();
        let o = parse(&a).unwrap();
        assert!(o.quiet);
        assert_eq!(o.output.as_deref(), Some("-"));
        assert_eq!(o.urls, ["httpd-svc:8080"]);
        let a: Vec<String> = ["-O", "/tmp/x", "-q", "-S", "http://a/"]
            .map(String::from)
            .to_vec();
        let o = parse(&a).unwrap();
        assert_eq!(o.output.as_deref(), Some("/tmp/x"));
        assert!(o.server_response);
        let a: Vec<String> = ["-S", "-qO-", "-T", "5", "http://a/"]
            .map(String::from)
            .to_vec();
        assert_eq!(parse(&a).unwrap().urls, ["http://a/"]);
        let a: Vec<String> = ["-T5", "http://a/"].map(String::from).to_vec();
        assert!(parse(&a).is_ok());
        let a: Vec<String> = ["-T", "x", "http://a/"].map(String::from).to_vec();
        assert!(parse(&a).is_err());
        assert!(parse(&["-Z".to_string(), "a".to_string()]).is_err());
        assert!(parse(&["-q".to_string()]).is_err());
    }

    #[test]
    fn urls_split_like_parse_url() {
        assert_eq!(
            split_url("httpd-svc:8080").unwrap(),
            ("httpd-svc:8080".into(), "httpd-svc".into(), 8080, "".into())
        );
        assert_eq!(
            split_url("http://a/b").unwrap(),
            ("a".into(), "a".into(), 80, "b".into())
        );
        assert!(split_url("ftp://a/").is_err());
        assert!(split_url("a:99999").is_err());
    }
}
