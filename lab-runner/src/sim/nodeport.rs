//! The sim's NodePorts, reachable for real: one TCP listener on 127.0.0.1 per NodePort (and
//! LoadBalancer nodePort) Service port, at `nodePort + offset`. Each connection carries one
//! HTTP/1.x request, which [`lab_core::shell::external_http`] sends through kube-proxy's rules
//! as a client outside the cluster arriving at a node; the simulated pod's answer goes back and
//! the connection closes.
//!
//! What cannot be done on a socket already accepted is approximated and said here: a Service
//! without endpoints (kube-proxy's REJECT, a reset to the SYN on a real node) resets the
//! connection after the request (curl: "Connection reset by peer"); a DROP leaves the request
//! unanswered until the client gives up or [`DROP_HOLD`] passes.

use super::Shared;
use k8s_openapi::api::core::v1::{Node, Service};
use lab_core::Cluster;
use lab_core::shell::{ExternalAnswer, HttpMethod, external_http};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The largest request head read; more is a 400, as Apache's `LimitRequestFieldSize` would.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head (Apache's `RequestReadTimeout` is 20s).
const READ_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a dropped request stays unanswered before the listener gives up on it.
const DROP_HOLD: Duration = Duration::from_secs(60);

/// Wanted listeners: nodePort → the Service's `namespace/name`.
pub type NodePorts = BTreeMap<u16, String>;

/// Open listeners: nodePort → (the Service's `namespace/name`, the local port).
pub type Listening = BTreeMap<u16, (String, u16)>;

/// The TCP nodePorts of the cluster's NodePort and LoadBalancer Services.
pub fn node_ports(cluster: &Cluster) -> NodePorts {
    let mut out = NodePorts::new();
    for s in cluster.list_typed::<Service>(None) {
        let Some(spec) = s.spec.as_ref() else {
            continue;
        };
        if !matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer")) {
            continue;
        }
        let name = format!(
            "{}/{}",
            s.metadata.namespace.as_deref().unwrap_or("default"),
            s.metadata.name.as_deref().unwrap_or("")
        );
        for p in spec.ports.iter().flatten() {
            let tcp = p.protocol.as_deref().unwrap_or("TCP") == "TCP";
            let port = p.node_port.and_then(|n| u16::try_from(n).ok());
            if let (true, Some(port)) = (tcp, port) {
                out.insert(port, name.clone());
            }
        }
    }
    out
}

/// A parsed request head: the method and the HTTP/1.x minor version.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: HttpMethod,
    /// The path (and query) asked for: `/` and `/index.html` get the page, others Apache's 404.
    pub path: String,
    pub minor: u8,
}

/// Why a request head is answered with 400.
#[derive(Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// Not `GET`/`HEAD`, not an absolute path, not HTTP/1.0 or 1.1, or not a request line.
    Unsupported(String),
}

/// Parses the head of a request (everything before the blank line): `GET` or `HEAD` of an
/// absolute path (or the absolute form `http://host[:port]/path`); the httpd pods serve their
/// default page at `/` and `/index.html` and Apache's 404 elsewhere.
pub fn parse_head(head: &[u8]) -> Result<Request, BadRequest> {
    let bad = |why: &str| Err(BadRequest::Unsupported(why.to_string()));
    let Ok(text) = std::str::from_utf8(head) else {
        return bad("request head is not UTF-8");
    };
    let line = text.split("\r\n").next().unwrap_or("");
    let mut words = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return bad("malformed request line");
    };
    let method = match method {
        "GET" => HttpMethod::Get,
        "HEAD" => HttpMethod::Head,
        _ => return bad("only GET and HEAD are modelled"),
    };
    let path = target
        .strip_prefix("http://")
        .map_or(target, |rest| rest.find('/').map_or("/", |i| &rest[i..]));
    if !path.starts_with('/') {
        return bad("the request target is not an absolute path");
    }
    let minor = match version {
        "HTTP/1.0" => 0,
        "HTTP/1.1" => 1,
        _ => return bad("only HTTP/1.0 and HTTP/1.1 are modelled"),
    };
    Ok(Request {
        method,
        path: path.to_string(),
        minor,
    })
}

/// The listener's own 400 (not a pod's answer: the request never reached the cluster).
fn bad_request(why: &str) -> String {
    let body = format!("400 Bad Request: {why}\n");
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The node outside traffic arrives at: kind-worker, as `docker port`-style mappings on kind
/// usually point there, else the first node by name.
fn entry_node(cluster: &Cluster) -> Option<String> {
    let mut names: Vec<String> = cluster
        .list_typed::<Node>(None)
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    names.sort();
    names
        .iter()
        .find(|n| *n == "kind-worker")
        .or(names.first())
        .cloned()
}

/// Opens and closes listeners as the wanted set changes, until `stop` resolves; `report` hears
/// the open set after every change.
pub async fn serve(
    app: Shared,
    mut wanted: watch::Receiver<NodePorts>,
    offset: u16,
    report: impl Fn(&Listening),
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut open: BTreeMap<u16, (String, u16, JoinHandle<()>)> = BTreeMap::new();
    let mut reported: Option<Listening> = None;
    // Ports that could not be bound, so each is reported once, not on every change.
    let mut skipped: BTreeMap<u16, String> = BTreeMap::new();
    loop {
        let want = wanted.borrow_and_update().clone();
        let gone: Vec<u16> = open
            .iter()
            .filter(|(port, (svc, _, _))| want.get(*port) != Some(svc))
            .map(|(port, _)| *port)
            .collect();
        for port in gone {
            if let Some((svc, _, task)) = open.remove(&port) {
                task.abort();
                // Awaited so the socket is closed before the line says so.
                let _ = task.await;
                println!("NodePort {svc} {port} closed");
            }
        }
        skipped.retain(|port, svc| want.get(port) == Some(svc));
        for (&port, svc) in &want {
            if open.contains_key(&port) || skipped.contains_key(&port) {
                continue;
            }
            let Some(local) = port.checked_add(offset) else {
                eprintln!("NodePort {svc} {port}: {port} + offset {offset} is past 65535; skipped");
                skipped.insert(port, svc.clone());
                continue;
            };
            match TcpListener::bind((Ipv4Addr::LOCALHOST, local)).await {
                Ok(listener) => {
                    println!("NodePort {svc} {port} → 127.0.0.1:{local}");
                    let task = tokio::spawn(accept_loop(app.clone(), listener, port));
                    open.insert(port, (svc.clone(), local, task));
                }
                Err(e) => {
                    eprintln!(
                        "NodePort {svc} {port}: cannot listen on 127.0.0.1:{local} ({e}); skipped (try --nodeport-offset)"
                    );
                    skipped.insert(port, svc.clone());
                }
            }
        }
        let listening: Listening = open
            .iter()
            .map(|(port, (svc, local, _))| (*port, (svc.clone(), *local)))
            .collect();
        if reported.as_ref() != Some(&listening) {
            // A small file, synced: off the async workers' hot path.
            tokio::task::block_in_place(|| report(&listening));
            reported = Some(listening);
        }
        tokio::select! {
            r = wanted.changed() => if r.is_err() { break },
            _ = &mut stop => break,
        }
    }
    for (_, (_, _, task)) in open {
        task.abort();
    }
}

async fn accept_loop(app: Shared, listener: TcpListener, node_port: u16) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(app.clone(), stream, node_port));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                eprintln!("NodePort {node_port}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads up to the blank line ending the request head. `None`: the client closed or stalled
/// before sending one.
async fn read_head(stream: &mut TcpStream) -> Result<Option<Vec<u8>>, &'static str> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Err("request head too large");
        }
        match tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) if buf.is_empty() => return Ok(None),
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Err("incomplete request head"),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn connection(app: Shared, mut stream: TcpStream, node_port: u16) {
    let head = match read_head(&mut stream).await {
        Ok(Some(h)) => h,
        Ok(None) => return,
        Err(why) => return reply(stream, bad_request(why)).await,
    };
    let req = match parse_head(&head) {
        Ok(r) => r,
        Err(BadRequest::Unsupported(why)) => return reply(stream, bad_request(&why)).await,
    };
    let answer = tokio::task::block_in_place(|| {
        let mut sim = app.lock();
        // A fresh seed per connection, so repeated requests spread over the endpoints.
        sim.nodeport_seq += 1;
        let seed = sim.nodeport_seq;
        let node = entry_node(&sim.cluster).unwrap_or_default();
        // The listener closes after one answer, so the answer says so (Connection: close).
        let answer = external_http(
            &sim.cluster,
            &node,
            node_port,
            req.method,
            &req.path,
            req.minor,
            true,
            seed,
        );
        if let Ok(ExternalAnswer::Served { served, .. }) = &answer {
            if let Err(e) = sim.cluster.record_served(served) {
                eprintln!("NodePort {node_port}: logging for pod {}: {e}", served.pod);
            }
            sim.after_change();
        }
        answer
    });
    match answer {
        Ok(ExternalAnswer::Served { wire, .. }) => reply(stream, wire).await,
        Ok(ExternalAnswer::Refused) => reset(stream),
        Ok(ExternalAnswer::TimedOut) => {
            // Unanswered, as a dropped SYN is; the client's own timeout ends it first.
            let mut sink = [0u8; 512];
            let _ = tokio::time::timeout(DROP_HOLD, async {
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
        }
        Err(e) => {
            eprintln!("NodePort {node_port}: {e}");
            reset(stream);
        }
    }
}

async fn reply(mut stream: TcpStream, bytes: String) {
    if stream.write_all(bytes.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// Closes with a RST (SO_LINGER 0), the nearest an accepted socket gets to a refusal.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads() {
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:30144\r\nAccept: */*"),
            Ok(Request {
                method: HttpMethod::Get,
                path: "/".into(),
                minor: 1
            })
        );
        assert_eq!(
            parse_head(b"HEAD http://127.0.0.1:30144/ HTTP/1.0"),
            Ok(Request {
                method: HttpMethod::Head,
                path: "/".into(),
                minor: 0
            })
        );
        assert_eq!(
            parse_head(b"GET /index.html?x=1 HTTP/1.1").map(|r| r.path),
            Ok("/index.html?x=1".to_string())
        );
        assert_eq!(
            parse_head(b"GET http://127.0.0.1:30144 HTTP/1.1").map(|r| r.path),
            Ok("/".to_string())
        );
        for bad in [
            &b"POST / HTTP/1.1"[..],
            b"GET index.html HTTP/1.1",
            b"GET / HTTP/2",
            b"GET /",
            b"GET  / HTTP/1.1",
            b"\xff\xfe",
            b"",
        ] {
            assert!(parse_head(bad).is_err(), "{bad:?}");
        }
        assert!(bad_request("x").starts_with("HTTP/1.1 400 Bad Request\r\n"));
    }

    #[test]
    fn node_ports_of_nodeport_and_loadbalancer_services() {
        let mut c = Cluster::kind();
        c.apply_manifests(include_str!(
            "../../../lab-core/tests/data/httpd-service-nodeport.yaml"
        ))
        .unwrap();
        c.apply_manifests(
            "apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: x}
  ports:
  - {name: a, port: 80, nodePort: 30200}
  - {name: u, port: 53, protocol: UDP, nodePort: 30201}
",
        )
        .unwrap();
        let ports = node_ports(&c);
        assert_eq!(
            ports.get(&30144).map(String::as_str),
            Some("default/httpd-svc")
        );
        assert_eq!(ports.get(&30200).map(String::as_str), Some("default/lb"));
        assert!(!ports.contains_key(&30201), "UDP has no HTTP listener");
        assert_eq!(entry_node(&c).as_deref(), Some("kind-worker"));
    }
}
