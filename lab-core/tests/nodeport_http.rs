//! `shell::external_http`: an HTTP request from outside the cluster to a node's NodePort,
//! through kube-proxy's rules in each mode, to an `httpd` pod's answer.

use k8s_openapi::api::core::v1::{Node, Pod};
use lab_core::config::ProxyMode;
use lab_core::shell::{ExternalAnswer, HttpMethod, IT_WORKS, apache_default_page, external_http};
use lab_core::{Cluster, ClusterConfig};
use std::collections::BTreeSet;

const EMPTY_NODEPORT: &str = "apiVersion: v1
kind: Service
metadata:
  name: empty-np
spec:
  type: NodePort
  selector:
    app: nothing
  ports:
  - port: 8080
    targetPort: 80
    nodePort: 30155
";

fn cluster(mode: ProxyMode) -> Cluster {
    let mut c = Cluster::new(ClusterConfig {
        proxy_mode: mode,
        ..ClusterConfig::kind()
    });
    for m in [
        include_str!("data/httpd-deployment.yaml"),
        include_str!("data/httpd-service-nodeport.yaml"),
        EMPTY_NODEPORT,
    ] {
        c.apply_manifests(m).unwrap();
    }
    c.settle();
    c
}

fn node_ip(c: &Cluster, node: &str) -> String {
    c.list_typed::<Node>(None)
        .find(|n| n.metadata.name.as_deref() == Some(node))
        .and_then(|n| n.status.as_ref()?.addresses.as_ref()?.first().cloned())
        .unwrap()
        .address
}

fn httpd_pods(c: &Cluster) -> BTreeSet<String> {
    c.list_typed::<Pod>(Some("default"))
        .filter_map(|p| p.metadata.name.clone())
        .filter(|n| n.starts_with("httpd-"))
        .collect()
}

/// 64 seeds through `kind-worker`: every answer is Apache's page from an httpd pod, logged
/// from the node's address (external traffic is masqueraded), and every pod is reached.
fn spreads_over_every_pod(mode: ProxyMode) {
    let c = cluster(mode);
    let pods = httpd_pods(&c);
    assert_eq!(pods.len(), 3);
    let worker_ip = node_ip(&c, "kind-worker");
    let mut reached = BTreeSet::new();
    for seed in 0..64 {
        let answer = external_http(
            &c,
            "kind-worker",
            30144,
            HttpMethod::Get,
            "/",
            1,
            true,
            seed,
        );
        let Ok(ExternalAnswer::Served { wire, served }) = answer else {
            panic!("{mode:?} seed {seed}: {answer:?}");
        };
        assert!(pods.contains(&served.pod), "{}", served.pod);
        // The same bytes the shell's HTTP path builds for that pod.
        let page = apache_default_page("httpd", &served.pod, c.now_ms(), true);
        assert_eq!(wire, page.to_wire(true));
        assert!(wire.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(wire.contains(&format!("\r\nX-Svclab-Pod: {}\r\n", served.pod)));
        assert!(wire.ends_with(&format!("\r\n\r\n{IT_WORKS}")));
        assert!(
            served.log_line.starts_with(&format!("{worker_ip} - - [")),
            "{}",
            served.log_line
        );
        assert!(served.log_line.ends_with("] \"GET / HTTP/1.1\" 200 45\n"));
        reached.insert(served.pod);
    }
    assert_eq!(reached, pods, "{mode:?}: 64 seeds reach every endpoint");
}

#[test]
fn iptables_mode_serves_from_every_pod() {
    spreads_over_every_pod(ProxyMode::Iptables);
}

#[test]
fn ipvs_mode_serves_from_every_pod() {
    spreads_over_every_pod(ProxyMode::Ipvs);
}

#[test]
fn nftables_mode_serves_from_every_pod() {
    spreads_over_every_pod(ProxyMode::Nftables);
}

#[test]
fn head_has_the_headers_and_no_body_and_failures_are_not_served() {
    let c = cluster(ProxyMode::Iptables);
    let Ok(ExternalAnswer::Served { wire, served }) = external_http(
        &c,
        "kind-control-plane",
        30144,
        HttpMethod::Head,
        "/",
        0,
        false,
        3,
    ) else {
        panic!("HEAD through the control plane is served");
    };
    assert!(
        wire.ends_with("\r\nContent-Type: text/html\r\n\r\n"),
        "{wire}"
    );
    assert!(wire.contains("\r\nContent-Length: 45\r\n"));
    assert!(!wire.contains("Connection: close"));
    assert!(served.log_line.ends_with("\"HEAD / HTTP/1.0\" 200 -\n"));
    // No endpoints: kube-proxy rejects, the client gets a reset.
    assert_eq!(
        external_http(&c, "kind-worker", 30155, HttpMethod::Get, "/", 1, true, 0),
        Ok(ExternalAnswer::Refused)
    );
    // No NodePort there: the node's kernel resets.
    assert_eq!(
        external_http(&c, "kind-worker", 30999, HttpMethod::Get, "/", 1, true, 0),
        Ok(ExternalAnswer::Refused)
    );
    assert!(external_http(&c, "no-such-node", 30144, HttpMethod::Get, "/", 1, true, 0).is_err());
}

#[test]
fn other_paths_get_apaches_404_from_the_pod() {
    let c = cluster(ProxyMode::Iptables);
    let Ok(ExternalAnswer::Served { wire, served }) = external_http(
        &c,
        "kind-worker",
        30144,
        HttpMethod::Get,
        "/missing.html",
        1,
        true,
        5,
    ) else {
        panic!("a pod answers");
    };
    assert!(wire.starts_with("HTTP/1.1 404 Not Found\r\n"), "{wire}");
    assert!(wire.contains("\r\nConnection: close\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<!DOCTYPE HTML"), "{wire}");
    assert!(
        served
            .log_line
            .contains("\"GET /missing.html HTTP/1.1\" 404 196"),
        "{served:?}"
    );
}

/// A pod's `127.0.0.1` is its own loopback: a node's NodePort on `127.0.0.1` is not there (the
/// packet never leaves the pod, so no kube-proxy rule sees it). A trace from a pod to a loopback
/// address says so.
#[test]
fn a_pods_loopback_is_its_own() {
    use lab_core::proxy::Protocol;
    use lab_core::shell::exec;
    use lab_core::trace::{Choice, Packet, Source, TraceError, Tracer};
    let mut c = cluster(ProxyMode::Iptables);
    c.apply_manifests(include_str!("data/clientpod.yaml"))
        .unwrap();
    c.settle();
    let wget = |pod: &str, url: &str| {
        let argv: Vec<String> = ["wget", "-qO-", "-T", "2", url]
            .iter()
            .map(|s| s.to_string())
            .collect();
        exec(&c, "default", pod, None, &argv, 3).unwrap()
    };
    let o = wget("clientpod", "127.0.0.1:30144");
    assert_eq!(o.exit_code, 1, "{o:?}");
    assert!(o.stderr.contains("Connection refused"), "{o:?}");
    // Through its node's address, the same NodePort does answer.
    let host_ip = c
        .get_typed::<Pod>("default", "clientpod")
        .and_then(|p| p.status.as_ref()?.host_ip.clone())
        .unwrap();
    let o = wget("clientpod", &format!("{host_ip}:30144"));
    assert_eq!((o.exit_code, o.stdout.as_str()), (0, IT_WORKS), "{o:?}");

    let err = Tracer::from_cluster(&c)
        .trace(
            &Packet {
                source: Source::Pod {
                    namespace: "default".into(),
                    name: "clientpod".into(),
                },
                destination: "127.0.0.1:30144".parse().unwrap(),
                protocol: Protocol::Tcp,
            },
            Choice::Seed(1),
        )
        .unwrap_err();
    assert!(matches!(err, TraceError::PodLoopback { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "127.0.0.1 is pod default/clientpod's own loopback: the packet never leaves the pod, so no kube-proxy rule sees it"
    );
}
