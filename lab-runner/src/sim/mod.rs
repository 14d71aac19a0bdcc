//! `lab-runner sim`: the embedded simulated cluster, served to the real `kubectl`.
//!
//! The imperative shell around [`lab_core::Cluster`]: it binds 127.0.0.1, answers the Kubernetes
//! REST API through [`api::handle`], drives the virtual clock from wall time (so pods become
//! Ready as on kind), publishes each change to the DNS server and the NodePort listeners
//! ([`nodeport`]), and persists the cluster's
//! [`Snapshot`] to `$SVCLAB_HOME/state.json` with atomic writes,
//! so a restart — even after `kill -9` — resumes where it was.

mod api;
mod discovery;
mod exec;
mod logs;
mod node;
mod nodeport;
mod patch;
mod protobuf;
mod selector;
mod table;
mod watch;
mod web;

use crate::dns_server::{DEFAULT_DNS_PORT, DnsPublisher, DnsServer, stop_signal};
use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use lab_core::snapshot::Snapshot;
use lab_core::{Cluster, ClusterConfig};
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch as signal;

/// The API port unless told otherwise: the apiserver's own.
const DEFAULT_PORT: u16 = 6443;
/// How often the virtual clock catches up with wall time.
const TICK: Duration = Duration::from_millis(100);
/// The largest request body, as the apiserver allows (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;
/// How long open connections may finish after Ctrl-C before the server exits anyway.
const DRAIN: Duration = Duration::from_secs(3);

/// `lab-runner sim` arguments.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Port for the Kubernetes API on 127.0.0.1; 0 picks a free one (printed).
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Port for the cluster DNS (UDP and TCP) on 127.0.0.1; 0 picks a free one (printed).
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_DNS_PORT)]
    pub dns_port: u16,
    /// Added to every nodePort for its listener on 127.0.0.1 (when the nodePorts are taken).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub nodeport_offset: u16,
    /// The playground's build (web-ui's `dist`), served at `/` on the API's port.
    #[arg(long, value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// The books' build (one folder per language), served at `/book/<lang>/`.
    #[arg(long, value_name = "DIR")]
    pub book_dir: Option<PathBuf>,
}

/// `$SVCLAB_HOME/ports.json`: where the running sim listens (API, DNS, each NodePort's
/// listener), for scripts and tools that need a port without parsing the banner. Rewritten
/// when the NodePort listeners change, removed on a clean stop.
struct PortsFile {
    path: PathBuf,
    api: u16,
    dns: u16,
    offset: u16,
    web: bool,
    book: bool,
}

impl PortsFile {
    fn write(&self, listening: &nodeport::Listening) {
        let node_ports: Vec<serde_json::Value> = listening
            .iter()
            .map(|(node_port, (service, local))| {
                serde_json::json!({
                    "service": service,
                    "nodePort": node_port,
                    "listen": format!("127.0.0.1:{local}"),
                })
            })
            .collect();
        let base = format!("http://127.0.0.1:{}", self.api);
        let doc = serde_json::json!({
            "pid": std::process::id(),
            "api": base,
            "dns": format!("127.0.0.1:{}", self.dns),
            "web": self.web.then(|| format!("{base}/")),
            "book": self.book.then(|| format!("{base}/book/")),
            "nodePortOffset": self.offset,
            "nodePorts": node_ports,
        });
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        if let Err(e) = write_atomic(&self.path, text.as_bytes()) {
            eprintln!("error: writing {}: {e:#}", self.path.display());
        }
    }

    fn remove(&self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("error: removing {}: {e}", self.path.display());
        }
    }
}

/// A folder given on the command line must exist: serving nothing silently would hide a
/// missing build.
fn check_dir(flag: &str, dir: &Option<PathBuf>) -> Result<()> {
    match dir {
        Some(d) if !d.is_dir() => {
            anyhow::bail!(
                "{flag} {}: not a folder (build it with scripts/build-web)",
                d.display()
            )
        }
        _ => Ok(()),
    }
}

/// The state folder: `$SVCLAB_HOME`, else `~/.local/state/svclab`.
pub(crate) fn svclab_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("SVCLAB_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither SVCLAB_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".local/state/svclab"))
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes `contents` so that a reader (or a restart after a crash) sees the old file or the new
/// one, never half of one: a temporary file in the same folder, synced, then renamed over.
fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().context("state path has no folder")?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
    ));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// A fresh kind-like cluster whose bootstrap ends at wall time `now`: bootstrapping settles the
/// system pods over some virtual seconds, so it is run once to measure them and again started
/// that much earlier (deterministic, so both runs take the same time).
fn fresh_cluster(now: i64) -> Cluster {
    let probe = Cluster::kind();
    let took = probe.now_ms() - probe.config().start_time_ms;
    Cluster::new(ClusterConfig {
        start_time_ms: now - took,
        ..ClusterConfig::kind()
    })
}

/// The persisted cluster, or a fresh one if there is none yet. A state file that does not load
/// is an error, never silently replaced: it may hold a learner's work.
fn load_cluster(state: &Path) -> Result<(Cluster, bool)> {
    match std::fs::read_to_string(state) {
        Ok(text) => {
            let snapshot = Snapshot::from_json(&text)
                .with_context(|| format!("reading {}", state.display()))?;
            let cluster = Cluster::from_snapshot(snapshot)
                .with_context(|| format!("restoring the cluster from {}", state.display()))?;
            Ok((cluster, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((fresh_cluster(wall_ms()), false)),
        Err(e) => Err(e).with_context(|| format!("reading {}", state.display())),
    }
}

/// The kubeconfig `kubectl` uses for the sim (plain http on loopback, no credentials).
fn kubeconfig(port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: svclab
  cluster:
    server: http://127.0.0.1:{port}
contexts:
- name: svclab
  context:
    cluster: svclab
    user: svclab
    namespace: default
current-context: svclab
users:
- name: svclab
  user: {{}}
"
    )
}

/// The cluster with what follows each change: the DNS zone and the state file.
struct Sim {
    cluster: Cluster,
    dns: DnsPublisher,
    state_path: PathBuf,
    /// The resourceVersion last written to `state_path`.
    saved_rv: Option<u64>,
    /// The cluster's log_seq last written (log lines move no resourceVersion).
    saved_logs: u64,
    /// The latest resourceVersion, for open watch streams to wake on.
    changes: signal::Sender<u64>,
    /// The cluster's log_seq, for `kubectl logs -f` streams to wake on.
    log_changes: signal::Sender<u64>,
    /// Execs run so far: each one's seed for kube-proxy's random endpoint choice, so repeated
    /// `wget`s spread over the backends as on a real cluster.
    exec_seq: u64,
    /// The NodePort listeners wanted, for the task that opens and closes them.
    node_ports: signal::Sender<nodeport::NodePorts>,
    /// Connections to NodePort listeners so far: each one's seed, as for execs.
    nodeport_seq: u64,
}

impl Sim {
    /// Publishes DNS and persists if any object changed. A failed write is reported and retried
    /// on the next tick; the change itself stays in memory.
    fn after_change(&mut self) {
        let rv = self.cluster.resource_version();
        self.changes
            .send_if_modified(|seen| std::mem::replace(seen, rv) != rv);
        let logs = self.cluster.log_seq();
        self.log_changes
            .send_if_modified(|seen| std::mem::replace(seen, logs) != logs);
        self.dns.publish_cluster(&self.cluster);
        let ports = nodeport::node_ports(&self.cluster);
        self.node_ports
            .send_if_modified(|seen| std::mem::replace(seen, ports.clone()) != ports);
        if self.saved_rv != Some(self.cluster.resource_version())
            || self.saved_logs != self.cluster.log_seq()
        {
            self.save();
        }
    }

    fn save(&mut self) {
        let rv = self.cluster.resource_version();
        let logs = self.cluster.log_seq();
        match write_atomic(
            &self.state_path,
            self.cluster.snapshot().to_json().as_bytes(),
        ) {
            Ok(()) => {
                self.saved_rv = Some(rv);
                self.saved_logs = logs;
            }
            Err(e) => eprintln!("error: saving the cluster state: {e:#}"),
        }
    }

    /// Moves the virtual clock to wall time (never backwards).
    fn tick(&mut self, now: i64) {
        let behind = now - self.cluster.now_ms();
        if behind > 0 {
            self.cluster.advance(behind as u64);
        }
        self.after_change();
    }
}

/// What every request handler shares.
struct App {
    sim: Mutex<Sim>,
    /// Taken before `sim` by the API requests, watch polls and ticks: they queue for the
    /// cluster here as tasks, so only a write's fsync holds a thread (block_in_place). Waiting
    /// on `sim` in block_in_place instead made every waiting request a thread of its own (tokio's
    /// 512 blocking threads under 50 clients, and the memory their allocator arenas keep).
    turn: tokio::sync::Mutex<()>,
    /// Turns true on Ctrl-C/SIGTERM: open watch streams end.
    stop: signal::Receiver<bool>,
    /// The playground and books served next to the API.
    web: web::WebDirs,
}

type Shared = Arc<App>;

impl App {
    fn lock(&self) -> std::sync::MutexGuard<'_, Sim> {
        // A poisoned lock means a handler panicked mid-change; the cluster value is still whole
        // (lab-core rolls back failed writes), so keep serving it.
        self.sim.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn to_http(resp: api::Response) -> axum::response::Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = (
        status,
        [(header::CONTENT_TYPE, resp.content_type)],
        // `null` is no body at all (the empty OpenAPI v2 document); no answer is JSON `null`.
        match resp.body {
            serde_json::Value::Null => String::new(),
            body => body.to_string(),
        },
    )
        .into_response();
    if let Some(w) = resp.warning {
        // RFC 7234 warn-code 299, agent "-", the text quoted: what the apiserver sends.
        let value = format!("299 - \"{w}\"");
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            out.headers_mut().insert(header::WARNING, v);
        }
    }
    out
}

/// How long to wait for kubectl's close frame after ours.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How long the exec's output waits after the upgrade. kubectl (client-go's WebSocket executor)
/// starts reading frames before it has created its stdout/stderr/error streams, and discards a
/// frame for a stream it does not have yet ("Unknown stream id 1, discarding message", then
/// "error: closed all streams"). A real container's output comes after the apiserver has dialled
/// the kubelet, so kubectl is always ready by then; the sim's output is ready at once, and on a
/// busy machine it arrived first (seen in CI). A short pause restores the real order.
const STREAM_SETUP_GRACE: Duration = Duration::from_millis(50);

/// `kubectl exec`: the command runs first (it only reads the cluster); then the WebSocket is
/// upgraded with `v5.channel.k8s.io` and the frames go out, ending with the exit Status and a
/// close, which kubectl waits for (spec §6). Errors are Statuses instead of the upgrade.
fn exec_request(
    app: &App,
    namespace: &str,
    pod: &str,
    query: &str,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> axum::response::Response {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // block_in_place: the served requests' log lines are persisted (an fsync) under the lock.
    let result = tokio::task::block_in_place(|| {
        let mut sim = app.lock();
        sim.exec_seq += 1;
        let seed = sim.exec_seq;
        let result = exec::run(&mut sim.cluster, namespace, pod, &params, seed);
        sim.after_change();
        result
    });
    let frames = match result {
        Ok(f) => f,
        Err(e) => return to_http(api::api_error(&e)),
    };
    let Ok(ws) = ws else {
        // kubectl's SPDY fallback (a POST) lands here: only WebSocket is served.
        return to_http(api::api_error(&lab_core::ApiError::BadRequest {
            message: "Upgrade request required".into(),
        }));
    };
    ws.protocols([exec::PROTOCOL])
        .on_upgrade(move |mut socket: WebSocket| async move {
            tokio::time::sleep(STREAM_SETUP_GRACE).await;
            for f in frames {
                if socket.send(Message::Binary(f.into())).await.is_err() {
                    return;
                }
            }
            // A normal-closure code: kubectl reads it as the end of the streams (a close
            // without a code is an error to it).
            let close = CloseFrame {
                code: axum::extract::ws::close_code::NORMAL,
                reason: "".into(),
            };
            if socket.send(Message::Close(Some(close))).await.is_err() {
                return;
            }
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                while let Some(Ok(m)) = socket.recv().await {
                    if let Message::Close(_) = m {
                        break;
                    }
                }
            })
            .await;
        })
}

/// A watch as a chunked response: one JSON event per line, flushed as changes happen, held
/// open until the client goes or the server stops (kubectl ends `get -w` when it closes).
fn watch_stream(app: Shared, w: watch::Watch) -> axum::response::Response {
    let changes = app.lock().changes.subscribe();
    let state = (app, w, changes);
    let chunks = futures_util::stream::unfold(state, |(app, mut w, mut changes)| async move {
        loop {
            // Marked seen before polling, so a change during the poll still wakes us below.
            changes.borrow_and_update();
            let lines = {
                let _turn = app.turn.lock().await;
                w.poll(&app.lock().cluster)
            };
            if !lines.is_empty() {
                let mut chunk = lines.join("\n");
                chunk.push('\n');
                let item = Ok::<_, std::convert::Infallible>(Bytes::from(chunk));
                return Some((item, (app, w, changes)));
            }
            if w.finished {
                return None;
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() { return None },
                _ = stopped(app.stop.clone()) => return None,
            }
        }
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}

/// `kubectl logs -f`: the tail read so far, then each line as the container prints it, until
/// the pod is gone, the client leaves or the server stops.
fn log_stream(
    app: Shared,
    namespace: &str,
    pod: &str,
    container: String,
    first: String,
    next: u64,
) -> axum::response::Response {
    let changes = app.lock().log_changes.subscribe();
    let target = (namespace.to_string(), pod.to_string(), container);
    let state = (app, target, changes, Some(first), next);
    let chunks = futures_util::stream::unfold(
        state,
        |(app, target, mut changes, first, next)| async move {
            if let Some(text) = first {
                let item = Ok::<_, std::convert::Infallible>(Bytes::from(text));
                return Some((item, (app, target, changes, None, next)));
            }
            loop {
                changes.borrow_and_update();
                let (ns, pod, container) = &target;
                let read = logs::more(&app.lock().cluster, ns, pod, container, next);
                match read {
                    Ok((text, after)) if !text.is_empty() => {
                        let item = Ok(Bytes::from(text));
                        return Some((item, (app, target, changes, None, after)));
                    }
                    Ok(_) => {}
                    Err(_) => return None,
                }
                tokio::select! {
                    r = changes.changed() => if r.is_err() { return None },
                    _ = stopped(app.stop.clone()) => return None,
                }
            }
        },
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}

/// Every HTTP request: the API handler under the lock, then persistence for writes.
async fn serve_request(
    axum::extract::State(app): axum::extract::State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> axum::response::Response {
    if let Some((namespace, pod)) = exec::target(uri.path()) {
        let _turn = app.turn.lock().await;
        return exec_request(&app, namespace, pod, uri.query().unwrap_or(""), ws);
    }
    if let Some(page) = app.web.serve(&method, &uri, &headers).await {
        return page;
    }
    if let (&Method::GET, Some((namespace, pod))) = (&method, logs::target(uri.path())) {
        let params: Vec<(String, String)> =
            form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let read = logs::read(&app.lock().cluster, namespace, pod, &params);
        return match read {
            Ok(logs::Read {
                text,
                follow: Some(next),
                container,
            }) => log_stream(app.clone(), namespace, pod, container, text, next),
            Ok(r) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain")],
                r.text,
            )
                .into_response(),
            Err(e) => to_http(api::api_error(&e)),
        };
    }
    let Ok(body) = body else {
        // The apiserver's own limit and wording (k8s.io/apiserver handlers/rest.go).
        return to_http(api::Response {
            status: 413,
            content_type: "application/json",
            body: serde_json::json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": format!("Request entity too large: limit is {MAX_BODY}"),
                "reason": "RequestEntityTooLarge",
                "code": 413,
            }),
            warning: None,
        });
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let req = api::Request {
        content_type,
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        accept,
        body: &body,
        host,
    };
    if let Some((kind, namespace, params)) = api::watch_target(&req) {
        let started = {
            let _turn = app.turn.lock().await;
            let sim = app.lock();
            watch::Watch::start(&sim.cluster, kind, namespace.as_deref(), &params, accept)
        };
        return match started {
            Ok(w) => {
                let mut resp = watch_stream(app, w);
                if let Some(v) = api::warning_for(kind)
                    .and_then(|w| header::HeaderValue::from_str(&format!("299 - \"{w}\"")).ok())
                {
                    resp.headers_mut().insert(header::WARNING, v);
                }
                resp
            }
            Err(e) => to_http(api::api_error(&e)),
        };
    }
    let resp = {
        let _turn = app.turn.lock().await;
        if api::is_write(req.method) {
            // The state file's fsync blocks; other tasks move to another worker meanwhile
            // (block_in_place needs the multi-thread runtime `run` builds).
            tokio::task::block_in_place(|| {
                let mut sim = app.lock();
                let resp = api::handle(&mut sim.cluster, &req);
                sim.after_change();
                resp
            })
        } else {
            api::handle(&mut app.lock().cluster, &req)
        }
    };
    // The body is printed after both locks are let go.
    to_http(resp)
}

async fn stopped(mut rx: signal::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// `lab-runner sim`: serve until Ctrl-C or SIGTERM.
pub fn run(args: &SimArgs) -> Result<ExitCode> {
    check_dir("--web-dir", &args.web_dir)?;
    check_dir("--book-dir", &args.book_dir)?;
    let home = svclab_home()?;
    std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    let state_path = home.join("state.json");
    let (cluster, restored) = load_cluster(&state_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, args.port))
            .await
            .with_context(|| format!("binding TCP 127.0.0.1:{}", args.port))?;
        let port = listener
            .local_addr()
            .context("reading the API port")?
            .port();
        let dns_server = DnsServer::bind(args.dns_port).await?;
        let dns_port = dns_server.port();
        let kubeconfig_path = home.join("kubeconfig");
        write_atomic(&kubeconfig_path, kubeconfig(port).as_bytes())?;
        let ports_file = PortsFile {
            path: home.join("ports.json"),
            api: port,
            dns: dns_port,
            offset: args.nodeport_offset,
            web: args.web_dir.is_some(),
            book: args.book_dir.is_some(),
        };
        ports_file.write(&nodeport::Listening::new());

        let mut sim = Sim {
            dns: DnsPublisher::for_cluster(&cluster),
            changes: signal::channel(cluster.resource_version()).0,
            log_changes: signal::channel(cluster.log_seq()).0,
            exec_seq: 0,
            node_ports: signal::channel(nodeport::NodePorts::new()).0,
            nodeport_seq: 0,
            cluster,
            state_path,
            saved_rv: None,
            saved_logs: 0,
        };
        sim.tick(wall_ms());
        let snapshots = sim.dns.subscribe();
        let node_ports = sim.node_ports.subscribe();
        let (stop_tx, stop_rx) = signal::channel(false);
        let shared: Shared = Arc::new(App {
            sim: Mutex::new(sim),
            turn: tokio::sync::Mutex::new(()),
            stop: stop_rx.clone(),
            web: web::WebDirs {
                web: args.web_dir.clone(),
                book: args.book_dir.clone(),
            },
        });
        {
            // Tests and scripts read the ports from these lines, so they go out at once.
            let mut out = std::io::stdout().lock();
            let how = if restored { "restored" } else { "fresh" };
            writeln!(
                out,
                "svclab sim ({how} cluster): Kubernetes API on http://127.0.0.1:{port}"
            )
            .and_then(|()| writeln!(out, "DNS listening on 127.0.0.1:{dns_port} (UDP+TCP)"))
            .and_then(|()| match (&args.web_dir, &args.book_dir) {
                (Some(_), Some(_)) => writeln!(
                    out,
                    "Playground on http://127.0.0.1:{port}/, books on http://127.0.0.1:{port}/book/"
                ),
                (Some(_), None) => writeln!(out, "Playground on http://127.0.0.1:{port}/"),
                (None, Some(_)) => writeln!(out, "Books on http://127.0.0.1:{port}/book/"),
                (None, None) => Ok(()),
            })
            .and_then(|()| writeln!(out, "export KUBECONFIG={}", kubeconfig_path.display()))
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
        }

        let dns = tokio::spawn(dns_server.serve(snapshots, stopped(stop_rx.clone())));
        let ports_file = Arc::new(ports_file);
        let listeners = tokio::spawn(nodeport::serve(
            shared.clone(),
            node_ports,
            args.nodeport_offset,
            {
                let ports_file = ports_file.clone();
                move |listening: &nodeport::Listening| ports_file.write(listening)
            },
            stopped(stop_rx.clone()),
        ));
        let ticker = {
            let shared = shared.clone();
            let stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(TICK);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = every.tick() => {}
                        _ = stopped(stop_rx.clone()) => break,
                    }
                    let _turn = shared.turn.lock().await;
                    tokio::task::block_in_place(|| shared.lock().tick(wall_ms()));
                }
            })
        };
        let app = axum::Router::new()
            .fallback(serve_request)
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
            .with_state(shared.clone());
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            stop_signal().await;
            let _ = stop_tx.send(true);
        });
        tokio::select! {
            r = server => r.context("serving the API")?,
            // Connections kubectl keeps open must not hold the exit up forever.
            _ = async { stopped(stop_rx.clone()).await; tokio::time::sleep(DRAIN).await } => {}
        }
        let _ = ticker.await;
        let _ = listeners.await;
        match dns.await {
            Ok(r) => r.context("serving DNS")?,
            Err(e) => return Err(e).context("the DNS task failed"),
        }
        ports_file.remove();
        let mut sim = shared.lock();
        // The clock moved since the last change; keep it too.
        sim.tick(wall_ms());
        sim.save();
        eprintln!(
            "svclab sim stopped; state saved in {}",
            sim.state_path.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn fresh_cluster_bootstrap_ends_at_wall_time() {
        let now = 1_800_000_000_000;
        assert_eq!(fresh_cluster(now).now_ms(), now);
    }

    #[test]
    fn a_bad_state_file_is_an_error_not_a_fresh_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{").unwrap();
        let Err(err) = load_cluster(&path) else {
            panic!("a truncated state file must not load");
        };
        assert!(format!("{err:#}").contains("state.json"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{");
    }

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut sim = Sim {
            dns: DnsPublisher::for_cluster(&Cluster::kind()),
            cluster: Cluster::kind(),
            state_path: path.clone(),
            saved_rv: None,
            saved_logs: 0,
            changes: signal::channel(0).0,
            log_changes: signal::channel(0).0,
            exec_seq: 0,
            node_ports: signal::channel(nodeport::NodePorts::new()).0,
            nodeport_seq: 0,
        };
        sim.cluster
            .apply_manifests(include_str!(
                "../../../lab-core/tests/data/httpd-service.yaml"
            ))
            .unwrap();
        sim.after_change();
        assert_eq!(sim.saved_rv, Some(sim.cluster.resource_version()));
        let (restored, was_restored) = load_cluster(&path).unwrap();
        assert!(was_restored);
        assert_eq!(restored.snapshot(), sim.cluster.snapshot());
    }
}
