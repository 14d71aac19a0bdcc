//! Random kube-proxy inputs for the proxy tests: kind-like nodes, Services of every kind the
//! renderers distinguish (ClusterIP, NodePort, LoadBalancer with ingress IPs and source ranges,
//! externalIPs, headless, ExternalName, traffic policies, affinity, several ports and protocols),
//! EndpointSlices with every endpoint condition, kube-proxy configurations, and single changes of
//! one object (what a watch event brings kube-proxy between two syncs).
//!
//! A small seeded generator (xorshift) keeps every case reproducible from one number.

#![allow(dead_code)]

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use lab_core::config::Cidr;
use lab_core::proxy::{ProxyConfig, ProxySnapshot};
use serde_json::{Value, json};

/// The three kind nodes.
pub const NODES: [&str; 3] = ["kind-control-plane", "kind-worker", "kind-worker2"];

/// xorshift64*: enough randomness for test inputs, reproducible from a seed.
pub struct Rng(u64);

impl Rng {
    /// A generator; seed 0 is remapped (xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    /// True with probability `num`/`den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn node(i: usize) -> Node {
    let name = NODES[i];
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"podCIDR": format!("10.244.{i}.0/24"), "podCIDRs": [format!("10.244.{i}.0/24")]},
        "status": {"addresses": [
            {"type": "InternalIP", "address": format!("172.18.0.{}", i + 2)},
            {"type": "Hostname", "address": name}
        ]}
    }))
    .expect("node json")
}

/// A kube-proxy configuration: kind's, or one of the settings that change rules.
pub fn config(rng: &mut Rng) -> ProxyConfig {
    let mut c = ProxyConfig {
        cluster_cidr: Cidr::parse("10.244.0.0/16"),
        ..Default::default()
    };
    match rng.below(10) {
        0 => c.masquerade_all = true,
        1 => c.detect_local_mode = "NodeCIDR".into(),
        2 => {
            c.detect_local_mode = "BridgeInterface".into();
            c.bridge_interface = "cbr0".into();
        }
        3 => {
            c.detect_local_mode = "InterfaceNamePrefix".into();
            c.interface_name_prefix = "veth".into();
        }
        4 => c.cluster_cidr = None,
        5 => c.node_port_addresses = vec!["primary".into()],
        6 => c.node_port_addresses = vec!["172.18.0.0/16".into(), "127.0.0.0/8".into()],
        7 => c.localhost_node_ports = false,
        _ => {}
    }
    c
}

const NAMESPACES: [&str; 3] = ["default", "ns-a", "kube-system"];
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

/// Service number `i` (its name and namespace derive from `i`, the rest is random).
pub fn service(rng: &mut Rng, i: usize) -> Service {
    let ns = NAMESPACES[i % NAMESPACES.len()];
    let name = format!("s{i}");
    let ty = *rng.pick(&[
        "ClusterIP",
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
        "headless",
        "ExternalName",
    ]);
    let nports = 1 + rng.below(2) as usize;
    let mut ports = Vec::new();
    for p in 0..nports {
        let mut port = json!({
            "port": 80 + p as u64 + rng.below(3) * 1000,
            "protocol": *rng.pick(&PROTOCOLS),
            "targetPort": 8080 + p,
        });
        if nports > 1 {
            port["name"] = json!(format!("p{p}"));
        }
        if ty == "NodePort" || ty == "LoadBalancer" {
            port["nodePort"] = json!(30000 + (i * 4 + p) as u64 % 2768);
        }
        ports.push(port);
    }
    let mut spec = json!({"type": if ty == "headless" { "ClusterIP" } else { ty }, "ports": ports});
    match ty {
        "headless" => spec["clusterIP"] = json!("None"),
        "ExternalName" => {
            spec["externalName"] = json!("example.com");
            spec.as_object_mut().map(|o| o.remove("ports"));
        }
        _ => {
            let ip = format!("10.96.{}.{}", 1 + i / 200, 1 + i % 200);
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
        }
    }
    let mut status = json!({});
    if ty != "headless" && ty != "ExternalName" {
        if rng.chance(1, 4) {
            spec["externalIPs"] = json!([format!("192.168.99.{}", i % 250)]);
        }
        if rng.chance(1, 4) {
            spec["internalTrafficPolicy"] = json!("Local");
        }
        if rng.chance(1, 4) {
            spec["sessionAffinity"] = json!("ClientIP");
            if rng.chance(1, 2) {
                spec["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 60}});
            }
        }
        let external = ty != "ClusterIP" || spec.get("externalIPs").is_some();
        if external && rng.chance(1, 3) {
            spec["externalTrafficPolicy"] = json!("Local");
            if ty == "LoadBalancer" {
                spec["healthCheckNodePort"] = json!(32000 + i as u64 % 700);
            }
        }
        if ty == "LoadBalancer" {
            if rng.chance(3, 4) {
                status = json!({"loadBalancer": {"ingress": [{"ip": format!("172.18.255.{}", 1 + i % 250)}]}});
            }
            match rng.below(3) {
                0 => spec["loadBalancerSourceRanges"] = json!(["203.0.113.0/25"]),
                1 => spec["loadBalancerSourceRanges"] = json!(["203.0.113.0/25", "172.18.0.0/16"]),
                _ => {}
            }
        }
    }
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
        "status": status,
    }))
    .expect("service json")
}

/// One endpoint on a random node (or none) in a random condition.
fn endpoint(rng: &mut Rng, i: usize, e: u64) -> Value {
    let mut ep =
        json!({"addresses": [format!("10.244.{}.{}", rng.below(3), 2 + (i as u64 * 7 + e) % 250)]});
    if let Some(n) = [Some(0), Some(1), Some(2), None][rng.below(4) as usize] {
        ep["nodeName"] = json!(NODES[n]);
    }
    match rng.below(6) {
        0 => ep["conditions"] = json!({"ready": false, "serving": true, "terminating": true}),
        1 => ep["conditions"] = json!({"ready": false, "serving": false, "terminating": true}),
        2 => ep["conditions"] = json!({"ready": false}),
        _ => {}
    }
    ep
}

/// An EndpointSlice `k` for Service `svc`, with ports matching its ports (names and protocols).
pub fn slice(rng: &mut Rng, svc: &Service, k: usize, i: usize) -> EndpointSlice {
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let ports: Vec<Value> = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            json!({"name": p.name.clone().unwrap_or_default(), "port": 8000 + rng.below(3),
                   "protocol": p.protocol.clone().unwrap_or_else(|| "TCP".into())})
        })
        .collect();
    let n = rng.below(5);
    let endpoints: Vec<Value> = (0..n).map(|e| endpoint(rng, i, e + k as u64 * 5)).collect();
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": format!("{name}-{k}"),
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }))
    .expect("slice json")
}

/// A random snapshot of `services` Services with their slices.
pub fn snapshot(rng: &mut Rng, services: usize) -> ProxySnapshot {
    let mut s = ProxySnapshot {
        config: config(rng),
        nodes: (0..3).map(node).collect(),
        services: Vec::new(),
        endpoint_slices: Vec::new(),
    };
    for i in 0..services {
        let svc = service(rng, i);
        for k in 0..rng.below(3) as usize {
            s.endpoint_slices.push(slice(rng, &svc, k, i));
        }
        s.services.push(svc);
    }
    s
}

/// One change kube-proxy could see between two syncs: a Service added, replaced or deleted, an
/// EndpointSlice added, replaced or deleted, and (rarely) the configuration or a node changed.
pub fn mutate(rng: &mut Rng, s: &mut ProxySnapshot) {
    let n = s.services.len().max(1);
    match rng.below(20) {
        0..=5 if !s.endpoint_slices.is_empty() => {
            // Replace one slice (endpoints come and go, change condition or node).
            let k = rng.below(s.endpoint_slices.len() as u64) as usize;
            let svc_name = s.endpoint_slices[k]
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name").cloned())
                .unwrap_or_default();
            let ns = s.endpoint_slices[k].metadata.namespace.clone();
            if let Some((i, svc)) = s.services.iter().enumerate().find(|(_, v)| {
                v.metadata.name.as_deref() == Some(svc_name.as_str()) && v.metadata.namespace == ns
            }) {
                let mut new = slice(rng, svc, k, i);
                new.metadata.name = s.endpoint_slices[k].metadata.name.clone();
                s.endpoint_slices[k] = new;
            } else {
                s.endpoint_slices.remove(k);
            }
        }
        6..=8 if !s.services.is_empty() => {
            // Replace a Service with a new random one of the same name.
            let i = rng.below(s.services.len() as u64) as usize;
            let idx = s.services[i]
                .metadata
                .name
                .as_deref()
                .and_then(|n| n.strip_prefix('s'))
                .and_then(|n| n.parse().ok())
                .unwrap_or(i);
            s.services[i] = service(rng, idx);
        }
        9 | 10 if !s.services.is_empty() => {
            let i = rng.below(s.services.len() as u64) as usize;
            s.services.remove(i);
        }
        11 | 12 => {
            // A new Service (a name no Service has: the apiserver keeps names unique).
            let i = n + rng.below(5) as usize;
            let svc = service(rng, i);
            let taken = s.services.iter().any(|o| {
                o.metadata.name == svc.metadata.name
                    && o.metadata.namespace == svc.metadata.namespace
            });
            if !taken {
                let sl = slice(rng, &svc, 0, i);
                if !s.endpoint_slices.iter().any(|o| {
                    o.metadata.name == sl.metadata.name
                        && o.metadata.namespace == sl.metadata.namespace
                }) {
                    s.endpoint_slices.push(sl);
                }
                s.services.push(svc);
            }
        }
        13 | 14 if !s.endpoint_slices.is_empty() => {
            let k = rng.below(s.endpoint_slices.len() as u64) as usize;
            s.endpoint_slices.remove(k);
        }
        15 if !s.services.is_empty() => {
            let i = rng.below(s.services.len() as u64) as usize;
            let svc = s.services[i].clone();
            let k = 7 + rng.below(3) as usize;
            let sl = slice(rng, &svc, k, i);
            if !s.endpoint_slices.iter().any(|o| {
                o.metadata.name == sl.metadata.name && o.metadata.namespace == sl.metadata.namespace
            }) {
                s.endpoint_slices.push(sl);
            }
        }
        16 => s.config = config(rng),
        17 => {
            // A node's address changes (its own IP, for NodePorts and source ranges).
            let k = rng.below(3) as usize;
            let ip = format!("172.18.0.{}", 2 + rng.below(5));
            if let Some(st) = s.nodes[k].status.as_mut()
                && let Some(a) = st.addresses.as_mut().and_then(|a| a.first_mut())
            {
                a.address = ip;
            }
        }
        _ => {
            // Shuffle object order: nothing kube-proxy programs depends on it.
            s.services.reverse();
            s.endpoint_slices.reverse();
        }
    }
}
