//! The cluster DNS server: CoreDNS's answers, served for real on 127.0.0.1 over UDP and TCP.
//!
//! Mirrors the socket side of a CoreDNS pod's `.:53` server block (coredns `core/dnsserver`
//! over miekg/dns's server loop): one UDP socket answering datagrams, one TCP listener reading
//! length-prefixed messages (RFC 1035 §4.2.2; RFC 7766 §6.2.1 several queries per connection,
//! closed after an idle timeout). Every answer comes from [`lab_core::dns::wire::handle`], so the
//! server itself decides nothing about DNS: it only moves bytes.
//!
//! The zone follows the cluster live: the owner of the [`Cluster`] (the standalone `dns-server`
//! command here, the embedded API server later) holds a [`DnsPublisher`] and publishes a new
//! [`DnsSnapshot`] after each change. Building one is O(objects), so it happens once per change,
//! never per query; queries only clone an `Arc` out of the watch channel.

use anyhow::{Context, Result, bail};
use lab_core::Cluster;
use lab_core::dns::DnsSnapshot;
use lab_core::dns::wire::{self, Transport};
use std::future::Future;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// The port `lab-runner sim` and `dns-server` use unless told otherwise: unprivileged, so no root.
pub const DEFAULT_DNS_PORT: u16 = 10053;

/// How long a TCP connection may sit between queries (miekg/dns `tcpIdleTimeout`, 8 s).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(8);
/// How long the rest of a started TCP message, or a reply write, may take (miekg/dns uses 2 s).
const TCP_IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Open TCP connections at once; further clients wait in the kernel's accept queue, so a flood of
/// idle connections cannot exhaust file descriptors.
const MAX_TCP_CONNECTIONS: usize = 256;
/// How often a UDP thread blocked in `recv_from` wakes up to see whether the server stops.
const UDP_STOP_CHECK: Duration = Duration::from_millis(200);
/// The largest UDP datagram; a bigger one could not arrive over IPv4 anyway.
const UDP_BUFFER: usize = 65_535;

/// `lab-runner dns-server` arguments.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Manifest files (YAML or JSON, several documents allowed), applied in order.
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Port for UDP and TCP on 127.0.0.1; 0 picks a free one (printed).
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_DNS_PORT)]
    pub dns_port: u16,
    /// Also serve N generated ClusterIP Services `svc-<i>.bench` with 5 endpoints each
    /// (benchmarks only; see scripts/bench-dns).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub scale_services: usize,
}

/// Hands new snapshots to every server task; the [`Cluster`]'s owner keeps it.
pub struct DnsPublisher {
    tx: watch::Sender<Arc<DnsSnapshot>>,
    /// The cluster resourceVersion the current snapshot was built at, if built from a cluster.
    built_at: Option<u64>,
}

impl DnsPublisher {
    /// A publisher serving `snapshot` until the next [`publish`](Self::publish).
    pub fn new(snapshot: DnsSnapshot) -> DnsPublisher {
        DnsPublisher {
            tx: watch::channel(Arc::new(snapshot)).0,
            built_at: None,
        }
    }

    /// A publisher serving `cluster`'s zone as it is now.
    pub fn for_cluster(cluster: &Cluster) -> DnsPublisher {
        let mut p = DnsPublisher::new(DnsSnapshot::from_cluster(cluster));
        p.built_at = Some(cluster.resource_version());
        p
    }

    /// Serves `snapshot` from now on; queries already being answered finish on the old one.
    pub fn publish(&mut self, snapshot: DnsSnapshot) {
        self.built_at = None;
        self.tx.send_replace(Arc::new(snapshot));
    }

    /// Rebuilds the snapshot from `cluster` if any object changed since the last build (the
    /// resourceVersion moved); returns whether it did. Call it after each change.
    pub fn publish_cluster(&mut self, cluster: &Cluster) -> bool {
        let rv = cluster.resource_version();
        if self.built_at == Some(rv) {
            return false;
        }
        self.tx
            .send_replace(Arc::new(DnsSnapshot::from_cluster(cluster)));
        self.built_at = Some(rv);
        true
    }

    /// A receiver for a server.
    pub fn subscribe(&self) -> watch::Receiver<Arc<DnsSnapshot>> {
        self.tx.subscribe()
    }
}

/// Bound UDP and TCP sockets on 127.0.0.1, same port, not serving yet.
pub struct DnsServer {
    udp: std::net::UdpSocket,
    tcp: TcpListener,
}

impl DnsServer {
    /// Binds UDP and TCP on `127.0.0.1:port`; port 0 picks one that is free for both.
    pub async fn bind(port: u16) -> Result<DnsServer> {
        let loopback = Ipv4Addr::LOCALHOST;
        if port != 0 {
            let udp = std::net::UdpSocket::bind((loopback, port))
                .with_context(|| format!("binding UDP 127.0.0.1:{port}"))?;
            let tcp = TcpListener::bind((loopback, port))
                .await
                .with_context(|| format!("binding TCP 127.0.0.1:{port}"))?;
            return Ok(DnsServer { udp, tcp });
        }
        // The kernel picks a free UDP port; that number may be taken for TCP, so try again.
        let mut last_error = None;
        for _ in 0..32 {
            let udp =
                std::net::UdpSocket::bind((loopback, 0)).context("binding UDP 127.0.0.1:0")?;
            let picked = udp.local_addr().context("reading the UDP port")?.port();
            match TcpListener::bind((loopback, picked)).await {
                Ok(tcp) => return Ok(DnsServer { udp, tcp }),
                Err(e) => last_error = Some(e),
            }
        }
        match last_error {
            Some(e) => Err(e).context("no port free for both UDP and TCP on 127.0.0.1"),
            None => bail!("no port free for both UDP and TCP on 127.0.0.1"),
        }
    }

    /// The port both sockets are bound to.
    pub fn port(&self) -> u16 {
        self.tcp.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Answers queries with the latest published snapshot until `shutdown` completes.
    pub async fn serve(
        self,
        snapshots: watch::Receiver<Arc<DnsSnapshot>>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        // UDP is answered on plain threads blocking in recv_from, one per core on clones of
        // one socket: answering is a few microseconds of pure CPU work, so an event loop and its
        // readiness polling would cost more than the work itself (this is how NSD serves too).
        let loops = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let stop = Arc::new(AtomicBool::new(false));
        self.udp
            .set_read_timeout(Some(UDP_STOP_CHECK))
            .context("setting the UDP read timeout")?;
        let mut udp_threads = Vec::with_capacity(loops);
        for i in 0..loops {
            let socket = self.udp.try_clone().context("sharing the UDP socket")?;
            let (snapshots, stop) = (snapshots.clone(), stop.clone());
            let thread = std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || serve_udp(&socket, &snapshots, &stop))
                .context("starting a UDP thread")?;
            udp_threads.push(thread);
        }
        let mut tcp = tokio::spawn(serve_tcp(self.tcp, snapshots));
        let outcome = tokio::select! {
            () = shutdown => Ok(()),
            done = &mut tcp => match done {
                Ok(Err(e)) => Err(e),
                Ok(Ok(())) => Err(anyhow::anyhow!("the TCP accept loop ended unexpectedly")),
                Err(e) => Err(e).context("the TCP accept loop failed"),
            },
        };
        // Aborting the accept loop drops its JoinSet, which aborts every open connection.
        tcp.abort();
        stop.store(true, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            for t in udp_threads {
                let _ = t.join();
            }
        })
        .await
        .context("stopping the UDP threads")?;
        outcome
    }
}

/// The latest snapshot, taken without holding the channel's lock while answering.
fn current(snapshots: &watch::Receiver<Arc<DnsSnapshot>>) -> Arc<DnsSnapshot> {
    snapshots.borrow().clone()
}

fn serve_udp(
    socket: &std::net::UdpSocket,
    snapshots: &watch::Receiver<Arc<DnsSnapshot>>,
    stop: &AtomicBool,
) {
    let mut buf = vec![0u8; UDP_BUFFER];
    while !stop.load(Ordering::Relaxed) {
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            // The read timeout (time to look at `stop`), or a datagram-level error (an ICMP
            // error reported late, a signal) that concerns one packet, not the socket.
            Err(_) => continue,
        };
        let snapshot = current(snapshots);
        if let Some(reply) = wire::handle(&snapshot, &buf[..n], Transport::Udp) {
            // The client may be gone; there is nobody to tell.
            let _ = socket.send_to(&reply, peer);
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    snapshots: watch::Receiver<Arc<DnsSnapshot>>,
) -> Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .context("TCP connection limit")?;
        let stream = loop {
            // Reap finished connections so the set does not grow with every client.
            while connections.try_join_next().is_some() {}
            match listener.accept().await {
                Ok((stream, _)) => break stream,
                // Running out of descriptors or a reset before accept: wait a moment, go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        let snapshots = snapshots.clone();
        connections.spawn(async move {
            let _permit = permit;
            serve_connection(stream, snapshots).await;
        });
    }
}

/// Several length-prefixed queries on one connection, answered in order, until the client
/// closes, sends garbage framing, or stays idle for [`TCP_IDLE_TIMEOUT`].
async fn serve_connection(mut stream: TcpStream, snapshots: watch::Receiver<Arc<DnsSnapshot>>) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE_TIMEOUT, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let n = usize::from(u16::from_be_bytes(len));
        if n == 0 {
            return;
        }
        buf.resize(n, 0);
        match tokio::time::timeout(TCP_IO_TIMEOUT, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let snapshot = current(&snapshots);
        let Some(reply) = wire::handle(&snapshot, &buf, Transport::Tcp) else {
            continue;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            // wire::handle keeps TCP replies within 65,535 bytes; anything else is a bug, and
            // a dropped reply is better than a corrupt stream.
            continue;
        };
        let mut framed = Vec::with_capacity(2 + reply.len());
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        match tokio::time::timeout(TCP_IO_TIMEOUT, stream.write_all(&framed)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// The applied manifests, settled, or the exit code of the failure (already reported).
fn cluster_for(files: &[PathBuf]) -> Result<Result<Box<Cluster>, ExitCode>> {
    Ok(match crate::load(files)? {
        crate::Loaded::Ok(mut cluster, _applied) => {
            cluster.settle();
            Ok(cluster)
        }
        crate::Loaded::Failed(code) => Err(code),
    })
}

/// The snapshot the standalone commands serve: the cluster plus any generated benchmark
/// Services.
fn snapshot_of(cluster: &Cluster, scale_services: usize) -> DnsSnapshot {
    if scale_services == 0 {
        DnsSnapshot::from_cluster(cluster)
    } else {
        crate::dns_zone::with_bench_services(cluster, scale_services)
    }
}

/// [`snapshot_of`] the manifests, or the exit code of the failure.
pub fn snapshot_for(
    files: &[PathBuf],
    scale_services: usize,
) -> Result<Result<DnsSnapshot, ExitCode>> {
    Ok(cluster_for(files)?.map(|c| snapshot_of(&c, scale_services)))
}

/// `kubectl apply -f` again on the running cluster: changed objects are configured, new ones
/// created (nothing is deleted, as with kubectl). Returns the apiserver's messages.
fn reapply(cluster: &mut Cluster, files: &[PathBuf]) -> Result<Vec<String>> {
    let mut messages = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let objects = lab_core::manifest::parse_manifests(&text).map_err(|e| {
            anyhow::anyhow!("{}: {}", path.display(), lab_core::ApplyError::from(e))
        })?;
        for object in objects {
            match cluster.apply(object) {
                Ok(outcome) => messages.push(outcome.to_string()),
                Err(e) => messages.push(e.kubectl_message()),
            }
        }
    }
    cluster.settle();
    Ok(messages)
}

/// Re-applies the manifests on every SIGHUP and publishes the changed zone: edit a file, send
/// `kill -HUP`, and the next query sees the change.
#[cfg(unix)]
async fn reload_on_hangup(
    mut cluster: Box<Cluster>,
    mut publisher: DnsPublisher,
    files: Vec<PathBuf>,
    scale_services: usize,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangup.recv().await.is_some() {
        match reapply(&mut cluster, &files) {
            Ok(messages) => {
                for m in messages {
                    eprintln!("{m}");
                }
                let changed = if scale_services == 0 {
                    publisher.publish_cluster(&cluster)
                } else {
                    publisher.publish(snapshot_of(&cluster, scale_services));
                    true
                };
                eprintln!("DNS zone {}", if changed { "rebuilt" } else { "unchanged" });
            }
            Err(e) => eprintln!("error: {e:#} (still serving the previous zone)"),
        }
    }
}

/// `lab-runner dns-server -f FILE… [--dns-port N]`: serve until Ctrl-C or SIGTERM; SIGHUP
/// re-applies the files.
pub fn run(args: &ServerArgs) -> Result<ExitCode> {
    let cluster = match cluster_for(&args.files)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let publisher = if args.scale_services == 0 {
        DnsPublisher::for_cluster(&cluster)
    } else {
        DnsPublisher::new(snapshot_of(&cluster, args.scale_services))
    };
    let snapshots = publisher.subscribe();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let server = DnsServer::bind(args.dns_port).await?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port()));
        {
            // Tests and scripts read the port from this line, so it goes out at once.
            let mut out = std::io::stdout().lock();
            writeln!(out, "DNS listening on {addr} (UDP+TCP)").context("writing to stdout")?;
            out.flush().context("writing to stdout")?;
        }
        #[cfg(unix)]
        let reloader = tokio::spawn(reload_on_hangup(
            cluster,
            publisher,
            args.files.clone(),
            args.scale_services,
        ));
        #[cfg(not(unix))]
        let _keep = (cluster, publisher);
        server.serve(snapshots, stop_signal()).await?;
        #[cfg(unix)]
        reloader.abort();
        eprintln!("DNS server stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM (the sim's server stops on it too).
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RData, RecordType};
    use tokio::net::UdpSocket;

    const SERVICE: &str = include_str!("../../lab-core/tests/data/httpd-service.yaml");

    fn query(name: &str, qtype: RecordType) -> Vec<u8> {
        let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        m.to_vec().unwrap()
    }

    async fn ask_udp(port: u16, name: &str) -> Message {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        sock.send_to(&query(name, RecordType::A), (Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
            .await
            .expect("a reply within 5 s")
            .unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    }

    async fn ask_tcp(stream: &mut TcpStream, name: &str) -> Message {
        let q = query(name, RecordType::A);
        stream
            .write_all(&(q.len() as u16).to_be_bytes())
            .await
            .unwrap();
        stream.write_all(&q).await.unwrap();
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.unwrap();
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).await.unwrap();
        Message::from_vec(&buf).unwrap()
    }

    fn a_records(m: &Message) -> Vec<String> {
        m.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0.to_string()),
                _ => None,
            })
            .collect()
    }

    /// A Service created after the server started is answered once the owner publishes, over
    /// UDP and on a TCP connection opened before the change; nothing changes before.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn published_changes_are_served_live() {
        let mut cluster = Cluster::kind();
        let mut publisher = DnsPublisher::for_cluster(&cluster);
        assert!(!publisher.publish_cluster(&cluster), "nothing changed yet");
        let server = DnsServer::bind(0).await.unwrap();
        let port = server.port();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(publisher.subscribe(), async {
            let _ = stop_rx.await;
        }));
        let name = "httpd-svc.default.svc.cluster.local.";
        let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();

        let before = ask_udp(port, name).await;
        assert_eq!(before.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(
            ask_tcp(&mut tcp, name).await.metadata.response_code,
            before.metadata.response_code
        );

        cluster.apply_manifests(SERVICE).unwrap();
        cluster.settle();
        let ip = cluster
            .get_typed::<k8s_openapi::api::core::v1::Service>("default", "httpd-svc")
            .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
            .unwrap();
        // Not published yet: still the old zone.
        assert!(a_records(&ask_udp(port, name).await).is_empty());
        assert!(publisher.publish_cluster(&cluster));
        assert_eq!(a_records(&ask_udp(port, name).await), vec![ip.clone()]);
        assert_eq!(a_records(&ask_tcp(&mut tcp, name).await), vec![ip]);

        stop_tx.send(()).unwrap();
        serving.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_fixed_port_that_is_taken_is_an_error() {
        let first = DnsServer::bind(0).await.unwrap();
        let err = DnsServer::bind(first.port())
            .await
            .err()
            .expect("port taken");
        assert!(format!("{err:#}").contains("127.0.0.1"), "{err:#}");
    }
}
