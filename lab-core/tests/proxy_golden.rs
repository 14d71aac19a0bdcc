//! Golden (insta) snapshots of the rules each kube-proxy mode renders on `kind-worker`, one
//! scenario per Service kind.
//!
//! Each scenario is a fresh simulated kind cluster with the course's `httpd` Deployment (three
//! replicas) and one Service under test. To keep the snapshots reviewable, each output is
//! filtered down to what concerns that Service: the lines naming it (`default/<name>`), naming
//! one of its addresses (ClusterIP, externalIPs, LoadBalancer ingress IPs) or its NodePorts, and
//! the per-service chains those lines jump to. Structure lines (iptables table headers, nft
//! set/map/chain headers, ipset names, the ipvsadm header) are kept around the selected lines.
//! A headless or ExternalName Service therefore snapshots as (almost) nothing: kube-proxy
//! programs no rules for it.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use lab_core::Cluster;
use lab_core::config::{ClusterConfig, DEFAULT_LB_POOL};
use lab_core::proxy::{ProxySnapshot, iptables, ipvs, nftables};
use std::collections::BTreeSet;

const NODE: &str = "kind-worker";
const DEPLOYMENT: &str = include_str!("data/httpd-deployment.yaml");
const CLUSTER_IP_SVC: &str = include_str!("data/httpd-service.yaml");
const NODEPORT_SVC: &str = include_str!("data/httpd-service-nodeport.yaml");
const HEADLESS_SVC: &str = include_str!("data/headless-service.yaml");

/// What identifies the Service under test in rendered text.
struct Needles {
    /// `default/<name>`.
    name: String,
    /// ClusterIP, externalIPs and LoadBalancer ingress IPs.
    ips: Vec<String>,
    /// NodePorts and the health-check NodePort.
    node_ports: Vec<String>,
    /// Ready endpoint addresses (for the IPVS hairpin ipset).
    endpoint_ips: Vec<String>,
}

impl Needles {
    fn of(cluster: &Cluster, name: &str) -> Needles {
        let svc = cluster
            .get_typed::<Service>("default", name)
            .expect("service exists");
        let spec = svc.spec.clone().unwrap_or_default();
        let mut ips: Vec<String> = spec
            .cluster_ips
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(spec.cluster_ip.clone())
            .chain(spec.external_ips.clone().unwrap_or_default())
            .chain(
                svc.status
                    .iter()
                    .filter_map(|s| s.load_balancer.as_ref())
                    .flat_map(|lb| lb.ingress.iter().flatten())
                    .filter_map(|i| i.ip.clone()),
            )
            .filter(|ip| ip != "None" && !ip.is_empty())
            .collect();
        ips.sort();
        ips.dedup();
        let mut node_ports: Vec<String> = spec
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.node_port)
            .chain(spec.health_check_node_port)
            .map(|p| p.to_string())
            .collect();
        node_ports.sort();
        node_ports.dedup();
        let endpoint_ips: BTreeSet<String> = cluster
            .list_typed::<EndpointSlice>(Some("default"))
            .filter(|s| {
                s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("kubernetes.io/service-name"))
                    .map(String::as_str)
                    == Some(name)
            })
            .flat_map(|s| s.endpoints.iter())
            .flat_map(|e| e.addresses.iter().cloned())
            .collect();
        Needles {
            name: format!("default/{name}"),
            ips,
            node_ports,
            endpoint_ips: endpoint_ips.into_iter().collect(),
        }
    }

    /// Whether `line` names the Service or one of its addresses.
    fn mentions(&self, line: &str) -> bool {
        contains_word(line, &self.name, is_name_char)
            || self
                .ips
                .iter()
                .any(|ip| contains_word(line, ip, is_ip_char))
    }

    /// Whether `line` mentions `:<nodePort>` or `. <nodePort>` of the Service.
    fn mentions_node_port(&self, line: &str) -> bool {
        self.node_ports.iter().any(|p| {
            contains_word(line, &format!(":{p}"), char::is_numeric)
                || contains_word(line, &format!(". {p}"), char::is_numeric)
        })
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.'
}

fn is_ip_char(c: char) -> bool {
    c.is_ascii_digit() || c == '.'
}

/// `needle` occurs in `hay` not directly preceded or followed by a character `inner` accepts.
fn contains_word(hay: &str, needle: &str, inner: fn(char) -> bool) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        // A name needle starts with the namespace, so only its end needs a boundary.
        // A name needle starts with the namespace and a NodePort needle with `:` or `.`, so only
        // their end needs a boundary.
        let before_ok =
            !needle.starts_with(|c: char| c.is_ascii_digit()) || !before.is_some_and(inner);
        before_ok && !after.is_some_and(inner)
    })
}

/// Hashed per-service chains (`KUBE-SVC-…`, `KUBE-SEP-…`, …) named on `line`.
fn hashed_chains(line: &str) -> impl Iterator<Item = &str> {
    line.split_whitespace().filter(|w| {
        [
            "KUBE-SVC-",
            "KUBE-SVL-",
            "KUBE-EXT-",
            "KUBE-FW-",
            "KUBE-SEP-",
        ]
        .iter()
        .any(|p| w.starts_with(p))
    })
}

/// iptables-save: table headers and COMMIT, every line naming the Service, its addresses or its
/// NodePorts, and every line of (or declaring) a hashed chain those lines name.
fn filter_iptables(text: &str, n: &Needles) -> String {
    let mut chains = BTreeSet::new();
    for line in text.lines() {
        if n.mentions(line) {
            chains.extend(hashed_chains(line).map(str::to_string));
        }
    }
    let mut out = String::new();
    for line in text.lines() {
        let keep = line.starts_with('*')
            || line == "COMMIT"
            || n.mentions(line)
            || hashed_chains(line).any(|c| chains.contains(c))
            || line
                .strip_prefix(':')
                .and_then(|l| l.split_whitespace().next())
                .is_some_and(|c| chains.contains(c));
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `ipvsadm -Ln`: the header and the virtual servers on the Service's addresses or NodePorts,
/// with their real servers.
fn filter_ipvsadm(text: &str, n: &Needles) -> String {
    let mut out = String::new();
    let mut keep_block = false;
    for (i, line) in text.lines().enumerate() {
        if i < 3 {
            keep_block = false;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if !line.starts_with(' ') {
            let vs = line.split_whitespace().nth(1).unwrap_or("");
            keep_block = n.ips.iter().any(|ip| {
                vs == format!("{ip}:").as_str()
                    || vs
                        .strip_prefix(ip.as_str())
                        .is_some_and(|r| r.starts_with(':'))
            }) || n.mentions_node_port(vs);
        }
        if keep_block {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `ipset list`: the name of each set holding a member for the Service (address, NodePort or
/// hairpin endpoint), with those members.
fn filter_ipset(text: &str, n: &Needles) -> String {
    let mut out = String::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(name) = lines.next() else { continue };
        let members: Vec<&str> = block
            .lines()
            .skip_while(|l| *l != "Members:")
            .skip(1)
            .filter(|m| {
                n.mentions(m)
                    || n.mentions_node_port(m)
                    || n.node_ports.iter().any(|p| m == p)
                    || n.endpoint_ips
                        .iter()
                        .any(|ip| m.starts_with(&format!("{ip},")))
            })
            .collect();
        if !members.is_empty() {
            out.push_str(name.trim());
            out.push('\n');
            for m in members {
                out.push_str("  ");
                out.push_str(m);
                out.push('\n');
            }
        }
    }
    out
}

/// `ip addr show kube-ipvs0`: the device line and the Service's bound addresses.
fn filter_ip_addr(text: &str, n: &Needles) -> String {
    let mut out = String::new();
    let mut keep_next = false;
    for (i, line) in text.lines().enumerate() {
        let keep = i == 0 || keep_next || n.mentions(line);
        keep_next = line.trim_start().starts_with("inet ") && n.mentions(line);
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `nft list table ip kube-proxy`: whole chains/sets named for the Service, plus, in shared
/// sets, maps and chains, only the lines naming it (under their block header).
fn filter_nft(text: &str, n: &Needles) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let depth1_block =
            line.starts_with('\t') && !line.starts_with("\t\t") && line.ends_with('{');
        if !depth1_block {
            if line.starts_with("table ") || line == "}" {
                out.push_str(line);
                out.push('\n');
            }
            i += 1;
            continue;
        }
        let end = (i..lines.len())
            .find(|&j| lines[j] == "\t}")
            .expect("block closes");
        let block = &lines[i..=end];
        if n.mentions(line) {
            for l in block {
                out.push_str(l);
                out.push('\n');
            }
        } else {
            // Unwrap `elements = { a, b,\n c }` into single elements before filtering.
            let mut body: Vec<String> = vec![];
            let mut elements: Option<String> = None;
            for l in &block[1..block.len() - 1] {
                if let Some(e) = elements.as_mut() {
                    e.push(' ');
                    e.push_str(l.trim());
                } else if l.trim_start().starts_with("elements = {") {
                    elements = Some(l.trim().to_string());
                } else {
                    body.push(l.to_string());
                }
                if elements.as_ref().is_some_and(|e| e.ends_with('}')) {
                    let e = elements.take().expect("set above");
                    let inner = e
                        .trim_start_matches("elements = {")
                        .trim_end_matches('}')
                        .to_string();
                    let kept: Vec<&str> = inner
                        .split(',')
                        .map(str::trim)
                        .filter(|x| n.mentions(x) || n.mentions_node_port(x))
                        .collect();
                    if !kept.is_empty() {
                        body.push(format!("\t\telements = {{ {} }}", kept.join(", ")));
                    }
                }
            }
            let hits: Vec<&String> = body
                .iter()
                .filter(|l| n.mentions(l) || n.mentions_node_port(l))
                .collect();
            if !hits.is_empty() {
                out.push_str(line);
                out.push('\n');
                for l in hits {
                    out.push_str(l);
                    out.push('\n');
                }
                out.push_str("\t}\n");
            }
        }
        i = end + 1;
    }
    out
}

struct Scenario {
    name: &'static str,
    service: &'static str,
    manifest: String,
    lb_pool: bool,
}

fn svc(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: httpd\n{spec}"
    )
}

fn with_deployment(service: &str) -> String {
    format!("{DEPLOYMENT}\n---\n{service}")
}

fn scenarios() -> Vec<Scenario> {
    let s = |name, service, manifest: String, lb_pool| Scenario {
        name,
        service,
        manifest: with_deployment(&manifest),
        lb_pool,
    };
    vec![
        s("clusterip", "httpd-svc", CLUSTER_IP_SVC.to_string(), false),
        s("nodeport", "httpd-svc", NODEPORT_SVC.to_string(), false),
        s(
            "loadbalancer-pending",
            "lb-pending",
            svc(
                "lb-pending",
                "  type: LoadBalancer\n  ports:\n  - port: 8080\n    targetPort: 80\n    nodePort: 30150\n",
            ),
            false,
        ),
        s(
            "loadbalancer-pool",
            "lb-pool",
            svc(
                "lb-pool",
                "  type: LoadBalancer\n  ports:\n  - port: 8080\n    targetPort: 80\n    nodePort: 30151\n",
            ),
            true,
        ),
        s(
            "externalips",
            "ext-ips",
            svc(
                "ext-ips",
                "  externalIPs:\n  - 192.0.2.10\n  - 192.0.2.11\n  ports:\n  - port: 8080\n    targetPort: 80\n",
            ),
            false,
        ),
        s("headless", "headless-svc", HEADLESS_SVC.to_string(), false),
        s(
            "externalname",
            "ext-name",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: ext-name\nspec:\n  type: ExternalName\n  externalName: www.example.com\n".to_string(),
            false,
        ),
        s(
            "no-endpoints",
            "no-eps",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: no-eps\nspec:\n  selector:\n    app: nothing\n  ports:\n  - port: 8080\n    targetPort: 80\n".to_string(),
            false,
        ),
        s(
            "etp-local",
            "etp-local",
            svc(
                "etp-local",
                "  type: NodePort\n  externalTrafficPolicy: Local\n  ports:\n  - port: 8080\n    targetPort: 80\n    nodePort: 30152\n",
            ),
            false,
        ),
        s(
            "itp-local",
            "itp-local",
            svc(
                "itp-local",
                "  internalTrafficPolicy: Local\n  ports:\n  - port: 8080\n    targetPort: 80\n",
            ),
            false,
        ),
        s(
            "affinity-clientip",
            "sticky",
            svc(
                "sticky",
                "  sessionAffinity: ClientIP\n  ports:\n  - port: 8080\n    targetPort: 80\n",
            ),
            false,
        ),
        s(
            "multiport",
            "multi",
            svc(
                "multi",
                "  ports:\n  - name: http\n    port: 8080\n    targetPort: 80\n  - name: https\n    port: 8443\n    targetPort: 443\n",
            ),
            false,
        ),
        s(
            "udp",
            "udp-svc",
            svc(
                "udp-svc",
                "  ports:\n  - protocol: UDP\n    port: 5353\n    targetPort: 5353\n",
            ),
            false,
        ),
        s(
            "sctp",
            "sctp-svc",
            svc(
                "sctp-svc",
                "  ports:\n  - protocol: SCTP\n    port: 9999\n    targetPort: 9999\n",
            ),
            false,
        ),
    ]
}

fn build(s: &Scenario) -> Cluster {
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
    c
}

fn header(s: &Scenario, n: &Needles, what: &str) -> String {
    format!(
        "# {what} on {NODE}, filtered to {} (addresses {:?}, node ports {:?})\n",
        n.name, n.ips, n.node_ports
    )
    .replace("default/", &format!("{}: default/", s.name))
}

#[test]
fn golden_rules_per_service_kind_and_mode() {
    for s in scenarios() {
        let cluster = build(&s);
        let snap = ProxySnapshot::from_cluster(&cluster);
        let n = Needles::of(&cluster, s.service);
        let name = s.name;

        let ipt = iptables::render_save(&snap, NODE).expect("node exists");
        let text = header(&s, &n, "iptables-save") + &filter_iptables(&ipt, &n);
        insta::assert_snapshot!(format!("{name}-iptables"), text);

        let ipvsadm = ipvs::render_ipvsadm(&snap, NODE).expect("node exists");
        let ipset = ipvs::render_ipset_list(&snap, NODE).expect("node exists");
        let ip_addr = ipvs::render_ip_addr(&snap, NODE).expect("node exists");
        let text = format!(
            "{}## ipvsadm -Ln\n{}\n## ipset list\n{}\n## ip addr show kube-ipvs0\n{}",
            header(&s, &n, "IPVS mode"),
            filter_ipvsadm(&ipvsadm, &n),
            filter_ipset(&ipset, &n),
            filter_ip_addr(&ip_addr, &n),
        );
        insta::assert_snapshot!(format!("{name}-ipvs"), text);

        let nft = nftables::render_list(&snap, NODE).expect("node exists");
        let text = header(&s, &n, "nft list table ip kube-proxy") + &filter_nft(&nft, &n);
        insta::assert_snapshot!(format!("{name}-nftables"), text);
    }
}
