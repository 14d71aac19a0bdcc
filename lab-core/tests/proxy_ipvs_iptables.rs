//! Golden (insta) snapshots of the iptables rules kube-proxy's IPVS mode writes on `kind-worker`,
//! one scenario per Service kind (the kinds `proxy_golden.rs` covers, plus LoadBalancer source
//! ranges with and without the node, Local policy with an ingress IP, UDP and SCTP NodePorts,
//! `masqueradeAll`).
//!
//! IPVS mode names no Service in its rules: a Service only changes which ipsets have members,
//! and so which set-match rules exist. Each snapshot therefore holds the whole restore input and
//! the whole `iptables-save` text, headed by the sets that have members.

use lab_core::Cluster;
use lab_core::config::{ClusterConfig, DEFAULT_LB_POOL};
use lab_core::proxy::ProxySnapshot;
use lab_core::proxy::iptables::IptablesOptions;
use lab_core::proxy::ipvs::{self, IpvsOptions};

const NODE: &str = "kind-worker";
const DEPLOYMENT: &str = include_str!("data/httpd-deployment.yaml");
const CLUSTER_IP_SVC: &str = include_str!("data/httpd-service.yaml");
const NODEPORT_SVC: &str = include_str!("data/httpd-service-nodeport.yaml");
const HEADLESS_SVC: &str = include_str!("data/headless-service.yaml");

struct Scenario {
    name: &'static str,
    manifest: String,
    lb_pool: bool,
    masquerade_all: bool,
}

/// A Service selecting the httpd pods.
fn svc(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: httpd\n{spec}"
    )
}

/// A LoadBalancer on 8080 → 80 with `extra` in its spec.
fn lb(name: &str, node_port: u16, extra: &str) -> String {
    svc(
        name,
        &format!(
            "  type: LoadBalancer\n{extra}  ports:\n  - port: 8080\n    targetPort: 80\n    nodePort: {node_port}\n"
        ),
    )
}

fn scenarios() -> Vec<Scenario> {
    let s = |name, service: String, lb_pool| Scenario {
        name,
        manifest: format!("{DEPLOYMENT}\n---\n{service}"),
        lb_pool,
        masquerade_all: false,
    };
    vec![
        s("clusterip", CLUSTER_IP_SVC.to_string(), false),
        s("nodeport", NODEPORT_SVC.to_string(), false),
        s("loadbalancer-pending", lb("lb-pending", 30150, ""), false),
        s("loadbalancer-pool", lb("lb-pool", 30151, ""), true),
        s(
            "externalips",
            svc(
                "ext-ips",
                "  externalIPs:\n  - 192.0.2.10\n  - 192.0.2.11\n  ports:\n  - port: 8080\n    targetPort: 80\n",
            ),
            false,
        ),
        s("headless", HEADLESS_SVC.to_string(), false),
        s(
            "externalname",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: ext-name\nspec:\n  type: ExternalName\n  externalName: www.example.com\n".to_string(),
            false,
        ),
        s(
            "no-endpoints",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: no-eps\nspec:\n  selector:\n    app: nothing\n  ports:\n  - port: 8080\n    targetPort: 80\n".to_string(),
            false,
        ),
        s(
            "etp-local",
            svc(
                "etp-local",
                "  type: NodePort\n  externalTrafficPolicy: Local\n  ports:\n  - port: 8080\n    targetPort: 80\n    nodePort: 30152\n",
            ),
            false,
        ),
        s(
            "etp-local-loadbalancer-externalips",
            lb(
                "lb-local",
                30153,
                "  externalTrafficPolicy: Local\n  healthCheckNodePort: 32000\n  externalIPs:\n  - 192.0.2.20\n",
            ),
            true,
        ),
        s(
            "source-ranges-exclude-node",
            lb(
                "lb-fw",
                30154,
                "  loadBalancerSourceRanges:\n  - 203.0.113.0/25\n",
            ),
            true,
        ),
        s(
            "source-ranges-include-node",
            lb(
                "lb-fw-node",
                30155,
                "  loadBalancerSourceRanges:\n  - 203.0.113.0/25\n  - 172.18.0.0/16\n",
            ),
            true,
        ),
        s(
            "itp-local",
            svc(
                "itp-local",
                "  internalTrafficPolicy: Local\n  ports:\n  - port: 8080\n    targetPort: 80\n",
            ),
            false,
        ),
        s(
            "affinity-clientip",
            svc(
                "sticky",
                "  sessionAffinity: ClientIP\n  ports:\n  - port: 8080\n    targetPort: 80\n",
            ),
            false,
        ),
        s(
            "multiport",
            svc(
                "multi",
                "  ports:\n  - name: http\n    port: 8080\n    targetPort: 80\n  - name: https\n    port: 8443\n    targetPort: 443\n",
            ),
            false,
        ),
        s(
            "udp-nodeport",
            svc(
                "udp-svc",
                "  type: NodePort\n  externalTrafficPolicy: Local\n  ports:\n  - protocol: UDP\n    port: 5353\n    targetPort: 5353\n    nodePort: 30156\n",
            ),
            false,
        ),
        s(
            "sctp-nodeport",
            svc(
                "sctp-svc",
                "  type: NodePort\n  externalTrafficPolicy: Local\n  ports:\n  - protocol: SCTP\n    port: 9999\n    targetPort: 9999\n    nodePort: 30157\n",
            ),
            false,
        ),
        Scenario {
            masquerade_all: true,
            ..s("masquerade-all", NODEPORT_SVC.to_string(), false)
        },
    ]
}

fn snapshot(s: &Scenario) -> ProxySnapshot {
    let mut c = if s.lb_pool {
        Cluster::new(ClusterConfig {
            load_balancer_pool: Some(DEFAULT_LB_POOL),
            ..ClusterConfig::kind()
        })
    } else {
        Cluster::kind()
    };
    c.apply_manifests(&s.manifest)
        .unwrap_or_else(|e| panic!("{}: manifests apply: {e:?}", s.name));
    c.settle();
    let mut snap = ProxySnapshot::from_cluster(&c);
    snap.config.masquerade_all = s.masquerade_all;
    snap
}

#[test]
fn golden_ipvs_mode_iptables_rules_per_service_kind() {
    for s in scenarios() {
        let snap = snapshot(&s);
        let state = ipvs::render(&snap, NODE, &IpvsOptions::default()).expect("node exists");
        let rules = ipvs::IpvsIptablesRules::from_state(&state, &snap, &IptablesOptions::kind())
            .expect("node exists");
        let sets: Vec<String> = state
            .ipsets
            .iter()
            .filter(|set| !set.members.is_empty())
            .map(|set| format!("{} {:?}", set.name, set.member_strings()))
            .collect();
        let text = format!(
            "# IPVS mode iptables rules on {NODE}: {}\n# ipsets with members:\n#   {}\n## iptables-restore input\n{}## iptables-save\n{}",
            s.name,
            sets.join("\n#   "),
            rules.restore_text(),
            rules.save_text(),
        );
        // The CLI's convenience functions give the same texts.
        assert_eq!(
            ipvs::render_iptables_restore(&snap, NODE).as_deref(),
            Ok(rules.restore_text().as_str())
        );
        assert_eq!(
            ipvs::render_iptables_save(&snap, NODE).as_deref(),
            Ok(rules.save_text().as_str())
        );
        insta::assert_snapshot!(s.name, text);
    }
}
