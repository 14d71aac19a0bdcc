//! `env` in a container: the environment the runtime and the kubelet give the process.
//!
//! Mirrors containerd's CRI spec (`PATH` from its default spec, `HOSTNAME`, then the image's
//! `ENV`, then the kubelet's list), runc's `HOME=/root` when none is set, and the kubelet's
//! Service links (kubernetes/kubernetes `pkg/kubelet/kubelet_pods.go` `getServiceEnvVarMap`,
//! `pkg/kubelet/envvars/envvars.go` `FromServices`): for every Service with a ClusterIP (not
//! `None`, not empty) in the pod's namespace when `enableServiceLinks` is on (the default), plus
//! `default/kubernetes` always, `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT` (first port),
//! `<NAME>_SERVICE_PORT_<PORTNAME>` per named port, and the Docker-link variables `<NAME>_PORT`
//! and `<NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}`. Only Services created before the
//! container started are included: the kubelet computes them once, at container start.
//!
//! The kubelet builds its list from Go maps, so the real order varies from container to
//! container; here each group is sorted by name.

use super::{Ctx, ExecOutput, ShellError};
use k8s_openapi::api::core::v1::Service;
use std::collections::BTreeMap;

/// containerd's default `PATH` (and busybox's image `ENV PATH`, which is the same).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `FOO-bar` → `FOO_BAR` (`makeEnvVariableName`).
fn var_name(s: &str) -> String {
    s.to_uppercase().replace('-', "_")
}

/// The Service-link variables of one Service (`FromServices`), in the kubelet's order.
pub(crate) fn service_vars(svc: &Service) -> Vec<(String, String)> {
    let Some(spec) = svc.spec.as_ref() else {
        return vec![];
    };
    let ip = spec.cluster_ip.as_deref().unwrap_or("");
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    let (true, Some(first)) = (!ip.is_empty() && ip != "None", ports.first()) else {
        return vec![];
    };
    let prefix = var_name(svc.metadata.name.as_deref().unwrap_or(""));
    let mut out = vec![
        (format!("{prefix}_SERVICE_HOST"), ip.to_string()),
        (format!("{prefix}_SERVICE_PORT"), first.port.to_string()),
    ];
    for p in ports {
        if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
            out.push((
                format!("{prefix}_SERVICE_PORT_{}", var_name(n)),
                p.port.to_string(),
            ));
        }
    }
    // net.JoinHostPort brackets an IPv6 address.
    let host_port = |port: i32| {
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    for (i, p) in ports.iter().enumerate() {
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        let lower = proto.to_lowercase();
        let url = format!("{lower}://{}", host_port(p.port));
        if i == 0 {
            out.push((format!("{prefix}_PORT"), url.clone()));
        }
        let pp = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
        out.push((pp.clone(), url));
        out.push((format!("{pp}_PROTO"), lower));
        out.push((format!("{pp}_PORT"), p.port.to_string()));
        out.push((format!("{pp}_ADDR"), ip.to_string()));
    }
    out
}

/// When the container started (its `running.startedAt`, else the pod's `startTime`), in ms.
fn started_ms(ctx: &Ctx<'_>) -> Option<i64> {
    let st = ctx.pod.status.as_ref()?;
    st.container_statuses
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.name == ctx.container.name))
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.as_ref())
        .or(st.start_time.as_ref())
        .map(|t| t.0.as_millisecond())
}

/// The kubelet's Service-link variables for the exec's container, sorted by name.
fn service_env(ctx: &Ctx<'_>) -> BTreeMap<String, String> {
    let links = ctx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let started = started_ms(ctx);
    let existed = |s: &Service| match (started, s.metadata.creation_timestamp.as_ref()) {
        (Some(t), Some(c)) => c.0.as_millisecond() <= t,
        _ => true,
    };
    // Keyed by Service name: the pod's namespace wins over default/kubernetes, as in the
    // kubelet's serviceMap.
    let mut chosen: BTreeMap<String, &Service> = BTreeMap::new();
    if let Some(k) = ctx.cluster.get_typed::<Service>("default", "kubernetes")
        && existed(k)
    {
        chosen.insert("kubernetes".to_string(), k);
    }
    if links {
        for s in ctx.cluster.list_typed::<Service>(Some(ctx.namespace)) {
            if existed(s) {
                chosen.insert(s.metadata.name.clone().unwrap_or_default(), s);
            }
        }
    }
    chosen.values().flat_map(|s| service_vars(s)).collect()
}

pub(crate) fn env(ctx: &Ctx<'_>) -> Result<ExecOutput, ShellError> {
    if !matches!(
        ctx.toolbox,
        super::Toolbox::Busybox128 | super::Toolbox::Busybox136
    ) {
        // Other images set ENV lines of their own (HTTPD_VERSION, CURL_VERSION…).
        return Err(ShellError::NotModelled(format!(
            "the environment of {:?}",
            ctx.image
        )));
    }
    let mut own: Vec<(String, String)> = Vec::new();
    for e in ctx.container.env.as_deref().unwrap_or(&[]) {
        match (&e.value, &e.value_from) {
            (_, Some(_)) => {
                return Err(ShellError::NotModelled(format!(
                    "env {} from a source",
                    e.name
                )));
            }
            (Some(v), None) if v.contains("$(") => {
                return Err(ShellError::NotModelled(format!(
                    "env {} with $(VAR)",
                    e.name
                )));
            }
            (v, None) => {
                let v = v.clone().unwrap_or_default();
                match own.iter_mut().find(|(k, _)| *k == e.name) {
                    Some(slot) => slot.1 = v,
                    None => own.push((e.name.clone(), v)),
                }
            }
        }
    }
    let mut vars: Vec<(String, String)> = vec![
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOSTNAME".to_string(), super::hostname(ctx)),
    ];
    own.sort();
    let services = service_env(ctx);
    let mut later: Vec<(String, String)> = own.clone();
    later.extend(
        services
            .into_iter()
            .filter(|(k, _)| !own.iter().any(|(o, _)| o == k)),
    );
    for (k, v) in later {
        // A container variable of the same name as PATH/HOSTNAME replaces it in place.
        match vars.iter_mut().find(|(o, _)| *o == k) {
            Some(slot) => slot.1 = v,
            None => vars.push((k, v)),
        }
    }
    if !vars.iter().any(|(k, _)| k == "HOME") {
        vars.push(("HOME".to_string(), "/root".to_string()));
    }
    let mut out = String::new();
    for (k, v) in vars {
        out.push_str(&format!("{k}={v}\n"));
    }
    Ok(ExecOutput::ok(out))
}
