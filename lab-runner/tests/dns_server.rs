//! `lab-runner dns-server` queried with the real `dig` (Debian's dnsutils, installed by
//! scripts/setup), one record type after another, as a learner would from a shell.
//!
//! Each test starts its own server on `127.0.0.1` with `--dns-port 0` and reads the port from the
//! line it prints. Expected values (ClusterIPs, pod IPs) come from the same manifests applied to
//! `lab_core`'s simulated cluster in this process: the simulation is deterministic, so the server
//! process must agree with it.

use lab_core::Cluster;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEPLOYMENT: &str = "lab-core/tests/data/httpd-deployment.yaml";
const SERVICE: &str = "lab-core/tests/data/httpd-service.yaml";
const HEADLESS: &str = "lab-core/tests/data/headless-service.yaml";
const COURSE: [&str; 3] = [DEPLOYMENT, SERVICE, HEADLESS];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Writes `text` to a file under cargo's per-test temporary directory.
fn temp_manifest(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("write temp manifest");
    path
}

/// A running `lab-runner dns-server`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    fn start(files: &[&str]) -> Server {
        Server::start_with(files, &["--dns-port", "0"])
    }

    fn start_with(files: &[&str], extra: &[&str]) -> Server {
        let mut args = vec!["dns-server", "-f"];
        args.extend_from_slice(files);
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
            .args(&args)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lab-runner starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let stderr = child.stderr.take().expect("stderr");
        let (etx, erx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if etx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the server prints its port within 2 minutes");
        let port = line
            .strip_prefix("DNS listening on 127.0.0.1:")
            .and_then(|rest| rest.strip_suffix(" (UDP+TCP)\n"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Server {
            child,
            port,
            stderr: erx,
        }
    }

    fn dig(&self, args: &[&str]) -> Dig {
        dig(self.port, args)
    }

    /// Sends a signal with the system's `kill`.
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for a stderr line containing `needle`.
    fn wait_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no stderr line with {needle:?}; saw {seen:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// dig's reply, as printed.
struct Dig {
    text: String,
}

impl Dig {
    fn status(&self) -> &str {
        self.text
            .lines()
            .rev()
            .find_map(|l| l.split("status: ").nth(1))
            .and_then(|r| r.split(',').next())
            .unwrap_or_else(|| panic!("no status in\n{}", self.text))
    }

    /// The header flags of the last reply (`qr aa rd`).
    fn flags(&self) -> Vec<&str> {
        self.text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(";; flags: "))
            .and_then(|r| r.split(';').next())
            .unwrap_or_else(|| panic!("no flags in\n{}", self.text))
            .split_whitespace()
            .collect()
    }

    /// A section's records with whitespace collapsed (`name TTL IN TYPE rdata`), sorted.
    fn section(&self, title: &str) -> Vec<String> {
        let header = format!(";; {title} SECTION:");
        let mut out: Vec<String> = self
            .text
            .lines()
            .skip_while(|l| *l != header)
            .skip(1)
            .take_while(|l| !l.is_empty())
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out.sort();
        out
    }

    fn answer(&self) -> Vec<String> {
        self.section("ANSWER")
    }

    /// `TCP` or `UDP`, from the `;; SERVER:` line.
    fn transport(&self) -> &str {
        let line = self
            .text
            .lines()
            .rev()
            .find(|l| l.starts_with(";; SERVER: "))
            .unwrap_or_else(|| panic!("no SERVER line in\n{}", self.text));
        if line.ends_with("(TCP)") {
            "TCP"
        } else {
            "UDP"
        }
    }
}

fn dig(port: u16, args: &[&str]) -> Dig {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+tries=1", "+time=5"])
        .args(args)
        .output()
        .expect("dig runs (Debian package dnsutils: run scripts/setup)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dig {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Dig { text }
}

/// The course cluster as the server builds it.
fn cluster(files: &[&str]) -> Cluster {
    let mut c = Cluster::kind();
    for f in files {
        let text = std::fs::read_to_string(repo_root().join(f)).expect("manifest");
        c.apply_manifests(&text).expect("manifest applies");
    }
    c.settle();
    c
}

fn cluster_ip(c: &Cluster, ns: &str, name: &str) -> String {
    c.get_typed::<k8s_openapi::api::core::v1::Service>(ns, name)
        .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
        .expect("service with a ClusterIP")
}

fn pod_ips(c: &Cluster, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = c
        .list_typed::<k8s_openapi::api::core::v1::Pod>(Some("default"))
        .filter(|p| p.metadata.name.as_deref().unwrap_or("").starts_with(prefix))
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    v.sort();
    v
}

fn soa_line(zone: &str) -> impl Fn(&String) -> bool {
    let prefix = format!("{zone}. 30 IN SOA ns.dns.{zone}. hostmaster.{zone}. ");
    move |l: &String| l.starts_with(&prefix) && l.ends_with(" 7200 1800 86400 30")
}

#[test]
fn clusterip_a_and_aaaa_nodata() {
    let server = Server::start(&COURSE);
    let c = cluster(&COURSE);
    let ip = cluster_ip(&c, "default", "httpd-svc");
    let a = server.dig(&["httpd-svc.default.svc.cluster.local", "A"]);
    assert_eq!(a.status(), "NOERROR");
    assert!(a.flags().contains(&"aa"), "{}", a.text);
    assert!(!a.flags().contains(&"ra"), "CoreDNS sets no ra: {}", a.text);
    assert_eq!(
        a.answer(),
        vec![format!("httpd-svc.default.svc.cluster.local. 30 IN A {ip}")]
    );
    // Case is kept in the owner name, matched without it.
    let mixed = server.dig(&["HTTPD-svc.Default.SVC.cluster.local", "A"]);
    assert_eq!(
        mixed.answer(),
        vec![format!("HTTPD-svc.Default.SVC.cluster.local. 30 IN A {ip}")]
    );

    let aaaa = server.dig(&["httpd-svc.default.svc.cluster.local", "AAAA"]);
    assert_eq!(aaaa.status(), "NOERROR");
    assert!(aaaa.answer().is_empty(), "{}", aaaa.text);
    let authority = aaaa.section("AUTHORITY");
    assert_eq!(authority.len(), 1, "{}", aaaa.text);
    assert!(soa_line("cluster.local")(&authority[0]), "{}", aaaa.text);
}

#[test]
fn headless_a_lists_every_ready_pod() {
    let server = Server::start(&COURSE);
    let ips = pod_ips(&cluster(&COURSE), "httpd-");
    assert_eq!(ips.len(), 3);
    let d = server.dig(&["headless-svc.default.svc.cluster.local"]);
    assert_eq!(d.status(), "NOERROR");
    let mut want: Vec<String> = ips
        .iter()
        .map(|ip| format!("headless-svc.default.svc.cluster.local. 30 IN A {ip}"))
        .collect();
    want.sort();
    assert_eq!(d.answer(), want);
    // An endpoint's own name: the IP with dashes.
    let name = format!(
        "{}.headless-svc.default.svc.cluster.local",
        ips[0].replace('.', "-")
    );
    let one = server.dig(&[&name]);
    assert_eq!(one.answer(), vec![format!("{name}. 30 IN A {}", ips[0])]);
}

#[test]
fn srv_carries_the_target_address_in_additional() {
    let server = Server::start(&COURSE);
    let c = cluster(&COURSE);
    let dns_ip = cluster_ip(&c, "kube-system", "kube-dns");
    let d = server.dig(&["_dns._udp.kube-dns.kube-system.svc.cluster.local", "SRV"]);
    assert_eq!(d.status(), "NOERROR");
    assert_eq!(
        d.answer(),
        vec![
            "_dns._udp.kube-dns.kube-system.svc.cluster.local. 30 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local."
        ]
    );
    let additional: Vec<String> = d
        .section("ADDITIONAL")
        .into_iter()
        .filter(|l| !l.starts_with(';'))
        .collect();
    assert_eq!(
        additional,
        vec![format!(
            "kube-dns.kube-system.svc.cluster.local. 30 IN A {dns_ip}"
        )]
    );
    let metrics = server.dig(&[
        "_metrics._tcp.kube-dns.kube-system.svc.cluster.local",
        "SRV",
    ]);
    assert_eq!(
        metrics.answer(),
        vec![
            "_metrics._tcp.kube-dns.kube-system.svc.cluster.local. 30 IN SRV 0 100 9153 kube-dns.kube-system.svc.cluster.local."
        ]
    );
}

#[test]
fn ptr_for_cluster_ip_and_endpoint_ip() {
    let server = Server::start(&COURSE);
    let c = cluster(&COURSE);
    let ip = cluster_ip(&c, "default", "httpd-svc");
    let d = server.dig(&["-x", &ip]);
    assert_eq!(d.status(), "NOERROR");
    assert!(d.flags().contains(&"aa"));
    let octets: Vec<&str> = ip.split('.').rev().collect();
    let rev = format!("{}.in-addr.arpa.", octets.join("."));
    assert_eq!(
        d.answer(),
        vec![format!(
            "{rev} 30 IN PTR httpd-svc.default.svc.cluster.local."
        )]
    );

    // A pod behind both Services gets one PTR per Service, named after its endpoint.
    let pod = pod_ips(&c, "httpd-")[0].clone();
    let dashed = pod.replace('.', "-");
    let octets: Vec<&str> = pod.split('.').rev().collect();
    let rev = format!("{}.in-addr.arpa.", octets.join("."));
    let d = server.dig(&["-x", &pod]);
    assert_eq!(
        d.answer(),
        vec![
            format!("{rev} 30 IN PTR {dashed}.headless-svc.default.svc.cluster.local."),
            format!("{rev} 30 IN PTR {dashed}.httpd-svc.default.svc.cluster.local."),
        ]
    );
}

#[test]
fn external_name_is_a_cname_resolved_upstream() {
    let ext = temp_manifest(
        "dns-external.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ext-svc\nspec:\n  type: ExternalName\n  externalName: www.example.com\n",
    );
    let server = Server::start(&[ext.to_str().unwrap()]);
    let cname = server.dig(&["ext-svc.default.svc.cluster.local", "CNAME"]);
    assert_eq!(
        cname.answer(),
        vec!["ext-svc.default.svc.cluster.local. 30 IN CNAME www.example.com."]
    );
    let a = server.dig(&["ext-svc.default.svc.cluster.local", "A"]);
    let answer = a.answer();
    assert_eq!(answer.len(), 2, "{}", a.text);
    assert!(
        answer.contains(
            &"ext-svc.default.svc.cluster.local. 30 IN CNAME www.example.com.".to_string()
        )
    );
    assert!(
        answer
            .iter()
            .any(|l| l.starts_with("www.example.com. ") && l.ends_with(" IN A 192.0.2.10")),
        "{}",
        a.text
    );
}

#[test]
fn dns_version_soa_and_ns_at_the_apex() {
    let server = Server::start(&COURSE);
    let c = cluster(&COURSE);
    let dns_ip = cluster_ip(&c, "kube-system", "kube-dns");
    let txt = server.dig(&["dns-version.cluster.local", "TXT"]);
    assert_eq!(
        txt.answer(),
        vec!["dns-version.cluster.local. 28800 IN TXT \"1.1.0\""]
    );
    let soa = server.dig(&["cluster.local", "SOA"]);
    assert_eq!(soa.status(), "NOERROR");
    let answer = soa.answer();
    assert_eq!(answer.len(), 1);
    assert!(soa_line("cluster.local")(&answer[0]), "{}", soa.text);
    let ns = server.dig(&["cluster.local", "NS"]);
    assert_eq!(
        ns.answer(),
        vec!["cluster.local. 30 IN NS kube-dns.kube-system.svc.cluster.local."]
    );
    let glue: Vec<String> = ns
        .section("ADDITIONAL")
        .into_iter()
        .filter(|l| !l.starts_with(';'))
        .collect();
    assert_eq!(
        glue,
        vec![format!(
            "kube-dns.kube-system.svc.cluster.local. 30 IN A {dns_ip}"
        )]
    );
}

#[test]
fn nxdomain_carries_the_soa_and_upstream_names_resolve() {
    let server = Server::start(&COURSE);
    let nx = server.dig(&["nosuch.default.svc.cluster.local"]);
    assert_eq!(nx.status(), "NXDOMAIN");
    assert!(nx.answer().is_empty());
    assert!(nx.flags().contains(&"aa"));
    let authority = nx.section("AUTHORITY");
    assert_eq!(authority.len(), 1, "{}", nx.text);
    assert!(soa_line("cluster.local")(&authority[0]), "{}", nx.text);
    // A namespace that does not exist, and a name of the wrong shape.
    assert_eq!(
        server.dig(&["httpd-svc.nons.svc.cluster.local"]).status(),
        "NXDOMAIN"
    );
    assert_eq!(server.dig(&["foo.cluster.local"]).status(), "NXDOMAIN");

    let up = server.dig(&["www.example.com"]);
    assert_eq!(up.status(), "NOERROR");
    let flags = up.flags();
    assert!(
        flags.contains(&"ra") && !flags.contains(&"aa"),
        "{}",
        up.text
    );
    let answer = up.answer();
    assert_eq!(answer.len(), 1, "{}", up.text);
    assert!(answer[0].starts_with("www.example.com. ") && answer[0].ends_with(" IN A 192.0.2.10"));
}

/// A headless Service in front of 40 pods: 40 A records do not fit 512 bytes.
fn big_headless() -> PathBuf {
    temp_manifest(
        "dns-big-headless.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: big\nspec:\n  replicas: 40\n  selector:\n    matchLabels:\n      app: big\n  template:\n    metadata:\n      labels:\n        app: big\n    spec:\n      containers:\n        - name: httpd\n          image: httpd\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: big\nspec:\n  clusterIP: None\n  selector:\n    app: big\n  ports:\n    - port: 80\n",
    )
}

#[test]
fn truncation_over_udp_then_retry_over_tcp() {
    let file = big_headless();
    let path = file.to_str().unwrap();
    let server = Server::start(&[path]);
    let c = {
        let mut c = Cluster::kind();
        c.apply_manifests(&std::fs::read_to_string(&file).unwrap())
            .unwrap();
        c.settle();
        c
    };
    let ips = pod_ips(&c, "big-");
    assert_eq!(ips.len(), 40);
    let name = "big.default.svc.cluster.local";

    let cut = server.dig(&["+noedns", "+ignore", name]);
    assert!(cut.flags().contains(&"tc"), "{}", cut.text);
    assert_eq!(cut.transport(), "UDP");
    assert!(cut.answer().len() < 40, "{}", cut.text);

    let retried = server.dig(&["+noedns", name]);
    assert!(
        retried.text.contains("Truncated, retrying in TCP mode."),
        "{}",
        retried.text
    );
    assert_eq!(retried.transport(), "TCP");
    assert!(!retried.flags().contains(&"tc"));
    let mut want: Vec<String> = ips
        .iter()
        .map(|ip| format!("{name}. 30 IN A {ip}"))
        .collect();
    want.sort();
    assert_eq!(retried.answer(), want);

    let tcp = server.dig(&["+tcp", name]);
    assert_eq!(tcp.transport(), "TCP");
    assert_eq!(tcp.answer(), want);
    // dig's default EDNS buffer (1232 bytes) holds all 40 over UDP.
    let edns = server.dig(&[name]);
    assert_eq!(edns.transport(), "UDP");
    assert_eq!(edns.answer(), want);
}

#[test]
fn several_queries_on_one_tcp_connection() {
    let server = Server::start(&COURSE);
    // dig sends each name on the same connection with +keepopen.
    let d = server.dig(&[
        "+tcp",
        "+keepopen",
        "kube-dns.kube-system.svc.cluster.local",
        "kubernetes.default.svc.cluster.local",
    ]);
    assert_eq!(d.text.matches("status: NOERROR").count(), 2, "{}", d.text);
    assert_eq!(d.text.matches("(TCP)").count(), 2, "{}", d.text);
}

/// A raw query for `name` A with ID 0x0102.
fn raw_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x01, 0x02, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn malformed_packets_never_stop_the_server() {
    let server = Server::start(&COURSE);
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let to = (Ipv4Addr::LOCALHOST, server.port);
    // Too short for a header: nothing comes back.
    sock.send_to(&[0xde, 0xad, 0xbe], to).unwrap();
    sock.send_to(&[], to).unwrap();
    // A header that promises a question it does not carry: FORMERR with the same ID.
    sock.send_to(&[0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0], to)
        .unwrap();
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a FORMERR reply");
    assert!(n >= 12);
    assert_eq!(&buf[..2], &[0xab, 0xcd]);
    assert_eq!(buf[3] & 0x0f, 1, "rcode FORMERR");
    // Seeded garbage of every length up to 300 bytes, and a query with a label pointing at itself.
    let mut x: u32 = 0x1234_5678;
    for len in 0..300usize {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        sock.send_to(&junk, to).unwrap();
    }
    sock.send_to(
        &[0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1],
        to,
    )
    .unwrap();
    // TCP: a length prefix with no message, then a connection closed half-way.
    {
        let mut t = TcpStream::connect(to).unwrap();
        t.write_all(&[0xff, 0xff, 1, 2, 3]).unwrap();
    }
    {
        let mut t = TcpStream::connect(to).unwrap();
        t.write_all(&[0x00]).unwrap();
    }
    // Still answering, over both transports, on a clean socket and on the one that sent junk.
    assert_eq!(
        server
            .dig(&["kube-dns.kube-system.svc.cluster.local"])
            .status(),
        "NOERROR"
    );
    assert_eq!(
        server
            .dig(&["+tcp", "kube-dns.kube-system.svc.cluster.local"])
            .status(),
        "NOERROR"
    );
    let q = raw_query("kube-dns.kube-system.svc.cluster.local");
    sock.send_to(&q, to).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = sock.recv(&mut buf).expect("the answer arrives");
        // Skip FORMERR replies to the garbage that happened to have a header.
        if buf[..2] == [0x01, 0x02] && buf[3] & 0x0f == 0 && buf[2] & 0x80 != 0 {
            assert!(n > q.len());
            break;
        }
        assert!(Instant::now() < deadline, "no answer to the real query");
    }
    let mut t = TcpStream::connect(to).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    t.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    t.read_exact(&mut len).unwrap();
    assert!(u16::from_be_bytes(len) as usize > q.len());
}

#[test]
fn a_taken_port_is_an_error_and_ctrl_c_stops_cleanly() {
    let server = Server::start(&COURSE);
    let out = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
        .args([
            "dns-server",
            "-f",
            SERVICE,
            "--dns-port",
            &server.port.to_string(),
        ])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{}", server.port)), "{err}");

    let mut server = server;
    server.signal("INT");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    server.wait_stderr("DNS server stopped");
}

#[test]
fn sighup_reapplies_the_manifests_and_the_zone_follows() {
    let service = std::fs::read_to_string(repo_root().join(SERVICE)).unwrap();
    let file = temp_manifest("dns-reload.yaml", &service);
    let server = Server::start(&[DEPLOYMENT, file.to_str().unwrap()]);
    let name = "web2.default.svc.cluster.local";
    assert_eq!(server.dig(&[name]).status(), "NXDOMAIN");
    std::fs::write(
        &file,
        format!(
            "{service}---\n{}",
            service.replace("name: httpd-svc", "name: web2")
        ),
    )
    .unwrap();
    server.signal("HUP");
    server.wait_stderr("DNS zone rebuilt");
    let d = server.dig(&[name]);
    assert_eq!(d.status(), "NOERROR");
    assert_eq!(d.answer().len(), 1, "{}", d.text);
    // Applying the same files again changes nothing.
    server.signal("HUP");
    server.wait_stderr("DNS zone unchanged");
}

#[test]
fn bad_manifests_exit_2_before_binding() {
    let out = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
        .args(["dns-server", "-f", "no/such/file.yaml", "--dns-port", "0"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no listening line");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let bad = temp_manifest(
        "dns-bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selectr: {}\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
        .args(["dns-zone", "-f", bad.to_str().unwrap(), "--out-dir"])
        .arg(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dns-bad-zone"))
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
