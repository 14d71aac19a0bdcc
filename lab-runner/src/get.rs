//! `kubectl get` text output for a simulated cluster, built from `lab_core::printers`.
//!
//! Mirrors what kubectl prints for `kubectl get KIND[,KIND…] [-o wide]` in one namespace: one
//! table per kind, names prefixed with the kind (`deployment.apps/httpd`) when several kinds are
//! asked for, a blank line between tables, and `No resources found in NS namespace.` when
//! nothing matched.

use lab_core::printers;
use lab_core::{Cluster, Kind, Object};

/// The warning the 1.33 apiserver attaches to every `v1 Endpoints` request; kubectl prints it
/// on stderr before the table.
pub const ENDPOINTS_DEPRECATION: &str =
    "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice";

/// The text `kubectl get` prints for `kinds` in `namespace` (cluster-scoped kinds ignore it).
/// Warnings kubectl would print on stderr come first, so a transcript reads in order.
pub fn get(cluster: &Cluster, kinds: &[Kind], namespace: &str, wide: bool) -> String {
    let mut out = String::new();
    if kinds.contains(&Kind::Endpoints) {
        out.push_str(ENDPOINTS_DEPRECATION);
        out.push('\n');
    }
    let mut tables: Vec<String> = Vec::new();
    for &kind in kinds {
        let ns = kind.namespaced().then_some(namespace);
        let objects: Vec<&Object> = cluster.list(kind, ns).collect();
        if objects.is_empty() {
            continue;
        }
        let mut table = printers::table(kind, &objects, cluster.now_ms());
        if kinds.len() > 1 {
            table = table.with_kind_prefix(kind);
        }
        tables.push(printers::render(&table, wide, false));
    }
    if tables.is_empty() {
        let all_cluster_scoped = kinds.iter().all(|k| !k.namespaced());
        out.push_str(&printers::no_resources(
            (!all_cluster_scoped).then_some(namespace),
        ));
        out.push('\n');
    } else {
        out.push_str(&tables.join("\n"));
    }
    out
}

/// The short name kubectl users type for a kind in `kubectl get` (`deploy`, `svc`, …).
pub fn short_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Deployment => "deploy",
        Kind::ReplicaSet => "rs",
        Kind::StatefulSet => "sts",
        Kind::Pod => "pods",
        Kind::Service => "svc",
        Kind::Endpoints => "endpoints",
        Kind::EndpointSlice => "endpointslices",
        Kind::ConfigMap => "configmaps",
        Kind::Event => "events",
        Kind::Node => "nodes",
        Kind::Namespace => "namespaces",
    }
}

/// The command line a learner would type for [`get`]: `kubectl get deploy,rs,pods -o wide`.
pub fn command(kinds: &[Kind], wide: bool) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| short_name(*k)).collect();
    let mut cmd = format!("kubectl get {}", names.join(","));
    if wide {
        cmd.push_str(" -o wide");
    }
    cmd
}
