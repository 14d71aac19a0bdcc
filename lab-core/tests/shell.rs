//! `kubectl exec` in the simulated pods (`lab_core::shell`): the chapter's probes from
//! `clientpod` (busybox:1.28) and what the `httpd` image lacks.

use k8s_openapi::api::core::v1::{Pod, Service};
use lab_core::Cluster;
use lab_core::dns::DnsSnapshot;
use lab_core::dns::resolver::pod_resolv_conf;
use lab_core::dns::tools;
use lab_core::shell::{ExecOutput, IT_WORKS, ShellError, exec};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::OnceLock;

const EMPTY_SVC: &str = "apiVersion: v1
kind: Service
metadata:
  name: empty-svc
spec:
  selector:
    app: nothing
  ports:
  - port: 8080
    targetPort: 80
";

const CURL_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: curlpod
spec:
  containers:
  - name: curl
    image: curlimages/curl:8.11.1
    command: [sleep, infinity]
";

const SUB_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: subpod
spec:
  hostname: web-0
  subdomain: headless-svc
  hostAliases:
  - ip: 192.0.2.7
    hostnames: [foo.local, bar.local]
  containers:
  - name: box
    image: busybox:1.36.1
    command: [sleep, '3600']
";

fn course() -> Cluster {
    let mut c = Cluster::kind();
    for m in [
        include_str!("data/httpd-deployment.yaml"),
        include_str!("data/httpd-service.yaml"),
        include_str!("data/clientpod.yaml"),
        EMPTY_SVC,
        CURL_POD,
        SUB_POD,
    ] {
        c.apply_manifests(m).unwrap();
    }
    c.settle();
    c
}

fn shared() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(course)
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn run(c: &Cluster, pod: &str, words: &[&str], seed: u64) -> ExecOutput {
    exec(c, "default", pod, None, &argv(words), seed).unwrap()
}

fn httpd_pods(c: &Cluster) -> Vec<String> {
    c.list_typed::<Pod>(Some("default"))
        .filter_map(|p| p.metadata.name.clone())
        .filter(|n| n.starts_with("httpd-"))
        .collect()
}

fn cluster_ip(c: &Cluster, svc: &str) -> String {
    c.get_typed::<Service>("default", svc)
        .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
        .unwrap()
}

#[test]
fn wget_through_the_service_returns_the_default_page() {
    let c = shared();
    let o = run(c, "clientpod", &["wget", "-qO-", "httpd-svc:8080"], 1);
    assert_eq!(o.stdout, IT_WORKS);
    assert_eq!(
        o.stdout.as_bytes(),
        b"<html><body><h1>It works!</h1></body></html>\n"
    );
    assert_eq!(o.stderr, "");
    assert_eq!(o.exit_code, 0);
    // The same through `sh -c` and with split options.
    let o = run(
        c,
        "clientpod",
        &["sh", "-c", "wget -q -O - http://httpd-svc:8080/"],
        1,
    );
    assert_eq!((o.stdout.as_str(), o.exit_code), (IT_WORKS, 0));
}

#[test]
fn different_seeds_reach_different_pods() {
    let c = shared();
    let pods: BTreeSet<String> = httpd_pods(c).into_iter().collect();
    assert_eq!(pods.len(), 3);
    let client_ip = c
        .get_typed::<Pod>("default", "clientpod")
        .and_then(|p| p.status.as_ref()?.pod_ip.clone())
        .unwrap();
    let mut served = BTreeSet::new();
    for seed in 0..64 {
        let o = run(c, "clientpod", &["wget", "-qSO-", "httpd-svc:8080"], seed);
        assert_eq!(o.stdout, IT_WORKS);
        let pod = o
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("  X-Svclab-Pod: "))
            .expect("the serving pod is named")
            .to_string();
        assert!(pods.contains(&pod), "{pod} is not an httpd pod");
        // The same pod logs the request, from the client pod's address (no masquerade
        // between pods).
        assert_eq!(o.served.len(), 1);
        assert_eq!(o.served[0].pod, pod);
        assert!(
            o.served[0]
                .log_line
                .starts_with(&format!("{client_ip} - - [")),
            "{:?}",
            o.served[0]
        );
        assert!(
            o.served[0]
                .log_line
                .ends_with("] \"GET / HTTP/1.1\" 200 45\n")
        );
        served.insert(pod);
    }
    assert_eq!(served, pods, "64 seeds reach every endpoint");
}

#[test]
fn server_response_headers_are_apaches() {
    let c = shared();
    let o = run(
        c,
        "clientpod",
        &["wget", "-q", "-S", "-O", "-", "httpd-svc:8080"],
        7,
    );
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines[0], "  HTTP/1.1 200 OK");
    assert!(lines[1].starts_with("  Date: ") && lines[1].ends_with(" GMT"));
    assert!(lines[2].starts_with("  Server: Apache/2.4."));
    assert!(lines.contains(&"  Content-Length: 45"));
    assert!(lines.contains(&"  Connection: close"));
    assert_eq!(lines.last(), Some(&"  "));
}

#[test]
fn nslookup_is_the_busybox_128_tool() {
    let c = shared();
    let o = run(c, "clientpod", &["nslookup", "httpd-svc"], 0);
    let p = c.get_typed::<Pod>("default", "clientpod").unwrap();
    let t = tools::nslookup_busybox_128(
        &DnsSnapshot::from_cluster(c),
        &pod_resolv_conf(c, p),
        &["httpd-svc"],
    )
    .unwrap();
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str(), o.exit_code),
        (t.stdout.as_str(), t.stderr.as_str(), t.exit_code)
    );
    let ip = cluster_ip(c, "httpd-svc");
    assert!(o.stdout.ends_with(&format!(
        "Name:      httpd-svc\nAddress 1: {ip} httpd-svc.default.svc.cluster.local\n"
    )));
}

#[test]
fn cat_resolv_conf_and_hostname() {
    let c = shared();
    let o = run(c, "clientpod", &["cat", "/etc/resolv.conf"], 0);
    assert_eq!(
        o.stdout,
        "search default.svc.cluster.local svc.cluster.local cluster.local\n\
         nameserver 10.96.0.10\noptions ndots:5\n"
    );
    assert_eq!(run(c, "clientpod", &["hostname"], 0).stdout, "clientpod\n");
    let ip = c
        .get_typed::<Pod>("default", "clientpod")
        .and_then(|p| p.status.as_ref()?.pod_ip.clone())
        .unwrap();
    assert_eq!(
        run(c, "clientpod", &["cat", "/etc/hosts"], 0).stdout,
        format!(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
             fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n\
             {ip}\tclientpod\n"
        )
    );
    let o = run(c, "clientpod", &["cat", "/nope"], 0);
    assert_eq!(
        o.stderr,
        "cat: can't open '/nope': No such file or directory\n"
    );
    assert_eq!(o.exit_code, 1);
}

#[test]
fn hosts_of_a_pod_with_a_subdomain_and_aliases() {
    let c = shared();
    let ip = c
        .get_typed::<Pod>("default", "subpod")
        .and_then(|p| p.status.as_ref()?.pod_ip.clone())
        .unwrap();
    let o = run(c, "subpod", &["cat", "/etc/hosts"], 0);
    assert!(
        o.stdout.ends_with(&format!(
            "fe00::2\tip6-allrouters\n\
             {ip}\tweb-0.headless-svc.default.svc.cluster.local\tweb-0\n\
             \n# Entries added by HostAliases.\n192.0.2.7\tfoo.local\tbar.local\n"
        )),
        "{}",
        o.stdout
    );
    assert_eq!(run(c, "subpod", &["hostname"], 0).stdout, "web-0\n");
    // busybox 1.36's nslookup, through the same tool function.
    let o = run(c, "subpod", &["nslookup", "httpd-svc"], 0);
    let p = c.get_typed::<Pod>("default", "subpod").unwrap();
    let t = tools::nslookup_busybox_136(
        &DnsSnapshot::from_cluster(c),
        &pod_resolv_conf(c, p),
        &["httpd-svc"],
    )
    .unwrap();
    assert_eq!(o.stdout, t.stdout);
    assert!(
        o.stdout
            .starts_with("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n")
    );
}

#[test]
fn httpd_has_no_nslookup_or_wget() {
    let c = shared();
    let pod = &httpd_pods(c)[0];
    for tool in ["nslookup", "wget", "curl"] {
        let o = run(c, pod, &[tool, "httpd-svc"], 0);
        assert_eq!(
            o.stderr,
            format!(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \
                 \"{tool}\": executable file not found in $PATH: unknown\n"
            )
        );
        assert_eq!((o.stdout.as_str(), o.exit_code), ("", 126));
    }
    // Through its shell (dash), the shell reports it instead.
    let o = run(c, pod, &["sh", "-c", "nslookup httpd-svc"], 0);
    assert_eq!(
        (o.stderr.as_str(), o.exit_code),
        ("sh: 1: nslookup: not found\n", 127)
    );
    // What it does have.
    assert_eq!(run(c, pod, &["hostname"], 0).stdout, format!("{pod}\n"));
}

#[test]
fn a_service_without_endpoints_refuses() {
    let c = shared();
    let ip = cluster_ip(c, "empty-svc");
    let o = run(c, "clientpod", &["wget", "-qO-", "empty-svc:8080"], 0);
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.stderr,
        format!("wget: can't connect to remote host ({ip}): Connection refused\n")
    );
    assert_eq!(o.exit_code, 1);
    // Without -q the connection line comes first.
    let o = run(c, "clientpod", &["wget", "-O-", "empty-svc:8080"], 0);
    assert_eq!(
        o.stderr,
        format!(
            "Connecting to empty-svc:8080 ({ip}:8080)\n\
             wget: can't connect to remote host ({ip}): Connection refused\n"
        )
    );
}

#[test]
fn unknown_names_and_ports() {
    let c = shared();
    let o = run(c, "clientpod", &["wget", "-qO-", "nosuch-svc:8080"], 0);
    assert_eq!(
        (o.stderr.as_str(), o.exit_code),
        ("wget: bad address 'nosuch-svc:8080'\n", 1)
    );
    // A ClusterIP port the Service does not have: kube-proxy has no rule, nothing answers.
    let ip = cluster_ip(c, "httpd-svc");
    let o = run(c, "clientpod", &["wget", "-qO-", &format!("{ip}:81")], 0);
    assert!(
        o.stderr
            .starts_with(&format!("wget: can't connect to remote host ({ip}): ")),
        "{o:?}"
    );
    assert_eq!(o.exit_code, 1);
}

#[test]
fn env_has_the_service_links_of_services_that_existed() {
    let mut c = course();
    c.advance(60_000);
    c.apply_manifests(&EMPTY_SVC.replace("empty-svc", "late-svc"))
        .unwrap();
    c.settle();
    let o = run(&c, "clientpod", &["env"], 0);
    let ip = cluster_ip(&c, "httpd-svc");
    let lines: Vec<&str> = o.stdout.lines().collect();
    for want in [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        "HOSTNAME=clientpod".to_string(),
        format!("HTTPD_SVC_SERVICE_HOST={ip}"),
        "HTTPD_SVC_SERVICE_PORT=8080".to_string(),
        format!("HTTPD_SVC_PORT=tcp://{ip}:8080"),
        format!("HTTPD_SVC_PORT_8080_TCP=tcp://{ip}:8080"),
        "HTTPD_SVC_PORT_8080_TCP_PROTO=tcp".to_string(),
        "HTTPD_SVC_PORT_8080_TCP_PORT=8080".to_string(),
        format!("HTTPD_SVC_PORT_8080_TCP_ADDR={ip}"),
        "KUBERNETES_SERVICE_HOST=10.96.0.1".to_string(),
        "KUBERNETES_SERVICE_PORT=443".to_string(),
        "KUBERNETES_SERVICE_PORT_HTTPS=443".to_string(),
        "HOME=/root".to_string(),
    ] {
        assert!(
            lines.contains(&want.as_str()),
            "{want} missing from\n{}",
            o.stdout
        );
    }
    assert!(
        !o.stdout.contains("LATE_SVC"),
        "created after the container started"
    );
}

#[test]
fn unknown_pods_and_containers_are_errors() {
    let c = shared();
    assert!(matches!(
        exec(c, "default", "nope", None, &argv(&["hostname"]), 0),
        Err(ShellError::PodNotFound { .. })
    ));
    assert!(matches!(
        exec(
            c,
            "default",
            "clientpod",
            Some("other"),
            &argv(&["hostname"]),
            0
        ),
        Err(ShellError::ContainerNotFound { .. })
    ));
    assert_eq!(
        exec(c, "default", "clientpod", None, &[], 0),
        Err(ShellError::EmptyCommand)
    );
    let o = run(c, "clientpod", &["nosuchtool"], 0);
    assert_eq!(o.exit_code, 126);
}

#[test]
fn curl_silent_include_and_failures() {
    let c = shared();
    let o = run(c, "curlpod", &["curl", "-s", "httpd-svc:8080"], 3);
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str(), o.exit_code),
        (IT_WORKS, "", 0)
    );
    let o = run(c, "curlpod", &["curl", "-si", "http://httpd-svc:8080/"], 3);
    let (head, body) = o.stdout.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, IT_WORKS);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\nDate: "));
    assert!(head.contains("\r\nContent-Length: 45\r\n"));
    assert!(
        !head.contains("Connection:"),
        "curl keeps the connection alive"
    );
    let pod = head
        .lines()
        .find_map(|l| l.strip_prefix("X-Svclab-Pod: "))
        .unwrap();
    assert!(httpd_pods(c).contains(&pod.trim_end().to_string()));
    let o = run(c, "curlpod", &["curl", "-sI", "httpd-svc:8080"], 3);
    assert!(o.stdout.ends_with("Content-Type: text/html\r\n\r\n"));
    assert_eq!(
        run(c, "curlpod", &["curl", "-s", "empty-svc:8080"], 0).exit_code,
        7
    );
    assert_eq!(
        run(c, "curlpod", &["curl", "-s", "nosuch:8080"], 0).exit_code,
        6
    );
    assert!(matches!(
        exec(
            c,
            "default",
            "curlpod",
            None,
            &argv(&["curl", "httpd-svc:8080"]),
            0
        ),
        Err(ShellError::NotModelled(_))
    ));
    // busybox has no curl.
    assert_eq!(
        run(c, "clientpod", &["curl", "-s", "httpd-svc:8080"], 0).exit_code,
        126
    );
}

/// Apache's 404 page, as httpd 2.4 sends it (196 bytes).
const NOT_FOUND_PAGE: &str = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n";

#[test]
fn paths_other_than_the_index_are_apaches_404() {
    let c = shared();
    // index.html is the page itself.
    let o = run(
        c,
        "clientpod",
        &["wget", "-qO-", "httpd-svc:8080/index.html"],
        1,
    );
    assert_eq!((o.stdout.as_str(), o.exit_code), (IT_WORKS, 0));
    assert!(
        o.served[0]
            .log_line
            .contains("\"GET /index.html HTTP/1.1\" 200 45")
    );
    // busybox wget stops at the status line.
    let o = run(c, "clientpod", &["wget", "-qO-", "httpd-svc:8080/nope"], 1);
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str(), o.exit_code),
        (
            "",
            "wget: server returned error: HTTP/1.1 404 Not Found\n",
            1
        )
    );
    assert!(
        o.served[0]
            .log_line
            .ends_with("\"GET /nope HTTP/1.1\" 404 196\n"),
        "{:?}",
        o.served
    );
    let o = run(
        c,
        "clientpod",
        &["wget", "-S", "-qO-", "httpd-svc:8080/nope"],
        1,
    );
    assert!(
        o.stderr.starts_with("  HTTP/1.1 404 Not Found\n  Date: "),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains(
            "\n  Content-Type: text/html; charset=iso-8859-1\n  \nwget: server returned error"
        ),
        "{}",
        o.stderr
    );
    // curl prints the error page and exits 0 (no -f).
    let o = run(c, "curlpod", &["curl", "-si", "httpd-svc:8080/a/b?c=d"], 3);
    let (head, body) = o.stdout.split_once("\r\n\r\n").unwrap();
    assert_eq!((body, o.exit_code), (NOT_FOUND_PAGE, 0));
    assert!(
        head.starts_with("HTTP/1.1 404 Not Found\r\nDate: "),
        "{head}"
    );
    assert!(head.contains("\r\nContent-Length: 196\r\n"), "{head}");
    assert!(
        o.served[0]
            .log_line
            .contains("\"GET /a/b?c=d HTTP/1.1\" 404 196")
    );
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "wget",
            "-qO-",
            "-O",
            "-",
            "-q",
            "-S",
            "httpd-svc:8080",
            "nslookup",
            "sh",
            "-c",
            "cat",
            "/etc/resolv.conf",
            "env",
            "echo",
            "hostname",
            "curl",
            "http://",
            ":",
            "'",
            "\"",
            "--output-document=-",
            "-O-",
            "empty-svc:8080",
            "10.96.0.10",
            "::1",
        ])
        .prop_map(String::from),
        ".{0,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn arbitrary_argv_never_panics(
        tool in prop::sample::select(vec!["wget", "curl", "sh", "nslookup", "cat", "echo", "env", "/bin/wget", "x"]),
        rest in prop::collection::vec(word(), 0..6),
        raw in any::<bool>(),
        pod in 0usize..4,
        seed in any::<u64>(),
    ) {
        let c = shared();
        // Half the cases start with a real tool, so that they get past the lookup on $PATH.
        let mut words = if raw { vec![] } else { vec![tool.to_string()] };
        words.extend(rest);
        let pod = match pod {
            0 => "clientpod".to_string(),
            1 => "curlpod".to_string(),
            2 => "subpod".to_string(),
            _ => httpd_pods(c)[0].clone(),
        };
        let _ = exec(c, "default", &pod, None, &words, seed);
    }
}
