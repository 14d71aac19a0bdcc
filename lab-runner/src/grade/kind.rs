//! `lab-runner cluster create|delete`: a real kind cluster shaped for the labs, through the
//! `kind` CLI (v0.29, node image v1.33.x).
//!
//! The kind config comes from the labs' `cluster:` needs: every nodePort a lab reaches from
//! outside is mapped from 127.0.0.1 on the host to the first worker (`extraPortMappings`; the
//! grader's nodePort probes go to `127.0.0.1:nodePort`, [`lab_core::lab::probe::ENTRY_NODE`]), and
//! `--lab LAB` starts kube-proxy in that lab's mode (`networking.kubeProxyMode`). Nothing here
//! runs without kind and Docker; their absence is said plainly (exit 2).

use lab_core::lab::Lab;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The node image of the Kubernetes version the sim speaks (kind v0.29's 1.33 image).
pub const NODE_IMAGE: &str = "kindest/node:v1.33.1";

/// The kind config for `labs` (all of them, or the one `--lab` names), in kind's v1alpha4
/// schema: a control plane and two workers, as the sim has.
pub fn config(labs: &[&Lab], mode: Option<&str>) -> String {
    let ports: BTreeSet<u16> = labs
        .iter()
        .flat_map(|l| l.cluster.node_ports.iter().copied())
        .collect();
    let mut out = String::from(
        "# Written by `lab-runner cluster create`: kind's config for the svclab labs.\n\
         kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n",
    );
    if let Some(mode) = mode {
        out.push_str(&format!("networking:\n  kubeProxyMode: {mode}\n"));
    }
    out.push_str("nodes:\n- role: control-plane\n- role: worker\n");
    if !ports.is_empty() {
        out.push_str("  extraPortMappings:\n");
        for p in &ports {
            out.push_str(&format!(
                "  - containerPort: {p}\n    hostPort: {p}\n    listenAddress: \"127.0.0.1\"\n    protocol: TCP\n"
            ));
        }
    }
    out.push_str("- role: worker\n");
    out
}

/// Whether `program version` runs (Docker's also needs the daemon); the message to print when
/// it does not.
fn require(program: &str, why: &str) -> Result<(), String> {
    match Command::new(program).arg("version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("error: {program} is not installed: {why}"))
        }
        Err(e) => Err(format!("error: running {program}: {e}")),
        Ok(o) if program == "docker" && !o.status.success() => Err(format!(
            "error: Docker is not running (`docker version`: {}): {why}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no server")
                .trim()
        )),
        Ok(_) => Ok(()),
    }
}

const KIND_WHY: &str = "`cluster create|delete` wrap the kind CLI (v0.29, https://kind.sigs.k8s.io); \
     without kind, grade on the sim: `lab-runner sim`";
const DOCKER_WHY: &str = "kind's nodes are Docker containers; without Docker, grade on the sim: \
     `lab-runner sim`";

/// kind and a running Docker, or the message saying which is missing.
fn require_kind() -> Result<(), String> {
    require("kind", KIND_WHY)?;
    require("docker", DOCKER_WHY)
}

/// Runs `kind ARGS…` with its output passed through; its exit code.
fn kind(args: &[&str]) -> Result<i32, String> {
    require_kind()?;
    let status = Command::new("kind")
        .args(args)
        .status()
        .map_err(|e| format!("error: running kind: {e}"))?;
    Ok(status.code().unwrap_or(2))
}

/// `kind create cluster --name NAME --image IMAGE --config FILE`, the config written to
/// `config_path` first.
pub fn create(
    name: &str,
    image: &str,
    config_text: &str,
    config_path: &Path,
) -> Result<i32, String> {
    require_kind()?;
    if let Some(dir) = config_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("error: {}: {e}", dir.display()))?;
    }
    std::fs::write(config_path, config_text)
        .map_err(|e| format!("error: writing {}: {e}", config_path.display()))?;
    let config = config_path.to_string_lossy();
    kind(&[
        "create", "cluster", "--name", name, "--image", image, "--config", &config,
    ])
}

/// `kind delete cluster --name NAME`.
pub fn delete(name: &str) -> Result<i32, String> {
    kind(&["delete", "cluster", "--name", name])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(cluster: &str) -> Lab {
        Lab::from_yaml(&format!(
            "id: l\ntitle: {{zh-CN: 一, en: one}}\ncluster: {cluster}\n"
        ))
        .unwrap()
    }

    #[test]
    fn node_ports_map_to_the_first_worker_and_the_mode_is_the_labs() {
        let a = lab("{nodePorts: [30144]}");
        let b = lab("{nodePorts: [30280, 30144], kubeProxyMode: ipvs}");
        assert_eq!(
            config(&[&a, &b], Some("ipvs")),
            "# Written by `lab-runner cluster create`: kind's config for the svclab labs.\n\
             kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n\
             networking:\n  kubeProxyMode: ipvs\n\
             nodes:\n- role: control-plane\n- role: worker\n  extraPortMappings:\n\
             \x20 - containerPort: 30144\n    hostPort: 30144\n    listenAddress: \"127.0.0.1\"\n    protocol: TCP\n\
             \x20 - containerPort: 30280\n    hostPort: 30280\n    listenAddress: \"127.0.0.1\"\n    protocol: TCP\n\
             - role: worker\n"
        );
        assert_eq!(
            config(&[], None),
            "# Written by `lab-runner cluster create`: kind's config for the svclab labs.\n\
             kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n"
        );
    }
}
