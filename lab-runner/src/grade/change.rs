//! The grader's only writes besides its probe pod: `reset LAB` (back to the lab's starting
//! state) and `solve LAB` (the lab's solution applied), on the sim, elsewhere only with
//! `--force`.
//!
//! Manifests are applied as `kubectl apply --server-side` does (an apply patch, field manager
//! `svclab`, conflicts forced), through kube-rs on kind and the sim alike. `reset` deletes only
//! the objects the lab's own `manifests/` and `solution/` name (never one in kube-system, which a
//! lab edits but does not own), puts kind's default kube-proxy configuration (iptables) back when
//! the lab changes the mode, then applies `manifests/` again.

use crate::node::{Connected, server_error};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use lab_core::lab::Lab;
use lab_core::proxy::{KUBE_PROXY_CONFIG_KEY, KUBE_PROXY_CONFIGMAP};
use lab_core::{Kind, Object};
use std::path::Path;

/// The field manager of the grader's applies.
const MANAGER: &str = "svclab";

/// The objects of a lab folder's `.yaml`/`.yml` files, in file-name order (as
/// `kubectl apply -f DIR`).
pub fn manifests(dir: &Path) -> Result<Vec<Object>, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let objects = lab_core::manifest::parse_manifests(&text)
            .map_err(|e| format!("error: {}: {e}", f.display()))?;
        out.extend(objects);
    }
    Ok(out)
}

fn api(c: &Connected, kind: Kind, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: kind.group().to_string(),
        version: kind.version().to_string(),
        api_version: kind.api_version(),
        kind: kind.name().to_string(),
        plural: kind.resource().to_string(),
    };
    if kind.namespaced() {
        Api::namespaced_with(c.client.clone(), namespace, &resource)
    } else {
        Api::all_with(c.client.clone(), &resource)
    }
}

fn namespace_of(o: &Object) -> &str {
    match o.namespace() {
        "" => "default",
        ns => ns,
    }
}

/// `kind.group/name` as kubectl prints it (`deployment.apps/httpd`), with `-n NS` outside
/// the default namespace.
fn shown(o: &Object) -> String {
    let kind = o.kind();
    let lower = kind.name().to_ascii_lowercase();
    let name = if kind.group().is_empty() {
        format!("{lower}/{}", o.name())
    } else {
        format!("{lower}.{}/{}", kind.group(), o.name())
    };
    match namespace_of(o) {
        "default" => name,
        _ if !kind.namespaced() => name,
        ns => format!("{name} -n {ns}"),
    }
}

/// Applies `objects` in order; the lines to print (`deployment.apps/httpd serverside-applied`).
pub async fn apply(c: &Connected, objects: &[Object]) -> Result<Vec<String>, String> {
    let params = PatchParams::apply(MANAGER).force();
    let mut lines = Vec::new();
    for o in objects {
        let mut body = o.to_json();
        if o.kind().namespaced() {
            body["metadata"]["namespace"] = namespace_of(o).into();
        }
        let patch = Patch::Apply(body);
        match api(c, o.kind(), namespace_of(o))
            .patch(o.name(), &params, &patch)
            .await
        {
            Ok(_) => lines.push(format!("{} serverside-applied", shown(o))),
            Err(kube::Error::Api(s)) => {
                return Err(format!("applying {}: {}", shown(o), server_error(&s)));
            }
            Err(e) => return Err(c.unreachable(&e)),
        }
    }
    Ok(lines)
}

/// Deletes the objects the lab's folders name, outside kube-system; the lines to print.
pub async fn delete_lab_objects(c: &Connected, objects: &[Object]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for o in objects.iter().rev() {
        let key = (o.kind(), namespace_of(o).to_string(), o.name().to_string());
        if o.namespace() == "kube-system" || !seen.insert(key) {
            continue;
        }
        match api(c, o.kind(), namespace_of(o))
            .delete(o.name(), &DeleteParams::background())
            .await
        {
            Ok(_) => lines.push(format!("{} deleted", shown(o))),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(kube::Error::Api(s)) => {
                return Err(format!("deleting {}: {}", shown(o), server_error(&s)));
            }
            Err(e) => return Err(c.unreachable(&e)),
        }
    }
    Ok(lines)
}

/// kind's own kube-proxy configuration (`config.conf`, iptables mode), as a fresh cluster has it.
fn default_proxy_conf() -> Option<String> {
    let (ns, name) = KUBE_PROXY_CONFIGMAP;
    lab_core::Cluster::kind()
        .get_typed::<ConfigMap>(ns, name)?
        .data
        .as_ref()?
        .get(KUBE_PROXY_CONFIG_KEY)
        .cloned()
}

/// Puts kind's default `config.conf` back into ConfigMap kube-system/kube-proxy; the line to
/// print, if it changed.
pub async fn restore_proxy_config(c: &Connected) -> Result<Option<String>, String> {
    let (ns, name) = KUBE_PROXY_CONFIGMAP;
    let Some(default) = default_proxy_conf() else {
        return Ok(None);
    };
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
    let mut cm = match api.get(name).await {
        Ok(cm) => cm,
        Err(kube::Error::Api(s)) => return Err(server_error(&s)),
        Err(e) => return Err(c.unreachable(&e)),
    };
    let data = cm.data.get_or_insert_with(Default::default);
    if data.get(KUBE_PROXY_CONFIG_KEY) == Some(&default) {
        return Ok(None);
    }
    data.insert(KUBE_PROXY_CONFIG_KEY.to_string(), default);
    match api.replace(name, &Default::default(), &cm).await {
        Ok(_) => Ok(Some(format!(
            "configmap/{name} -n {ns}: kube-proxy's default configuration (mode: iptables)"
        ))),
        Err(kube::Error::Api(s)) => Err(server_error(&s)),
        Err(e) => Err(c.unreachable(&e)),
    }
}

/// `reset`: the lab's objects deleted, kube-proxy back to iptables if the lab switches it,
/// `manifests/` applied; the lines to print.
pub async fn reset(c: &Connected, lab: &Lab, dir: &Path) -> Result<Vec<String>, String> {
    let start = manifests(&dir.join("manifests"))?;
    let solution = manifests(&dir.join("solution"))?;
    let all: Vec<Object> = start.iter().chain(&solution).cloned().collect();
    let mut lines = delete_lab_objects(c, &all).await?;
    if lab.cluster.kube_proxy_mode.is_some()
        && let Some(l) = restore_proxy_config(c).await?
    {
        lines.push(l);
    }
    // A deleted namespace or object takes a moment to go; applying before would revive it.
    wait_gone(c, &all).await?;
    lines.extend(apply(c, &start).await?);
    Ok(lines)
}

/// Waits (30 s at most) until the deleted objects are gone.
async fn wait_gone(c: &Connected, objects: &[Object]) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for o in objects.iter().filter(|o| o.namespace() != "kube-system") {
        loop {
            match api(c, o.kind(), namespace_of(o)).get_opt(o.name()).await {
                Ok(None) => break,
                Ok(Some(_)) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Ok(Some(_)) => return Err(format!("{} is still being deleted", shown(o))),
                Err(kube::Error::Api(s)) => return Err(server_error(&s)),
                Err(e) => return Err(c.unreachable(&e)),
            }
        }
    }
    Ok(())
}

/// `solve`: `solution/` applied; the lines to print.
pub async fn solve(c: &Connected, dir: &Path) -> Result<Vec<String>, String> {
    let solution = manifests(&dir.join("solution"))?;
    apply(c, &solution).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_kube_proxy_configuration_is_iptables() {
        let conf = default_proxy_conf().unwrap();
        assert!(conf.contains("kind: KubeProxyConfiguration"), "{conf}");
        assert!(conf.lines().any(|l| l == "mode: iptables"), "{conf}");
    }

    #[test]
    fn a_labs_folders_in_file_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs/01-clusterip");
        let objects = manifests(&dir.join("manifests")).unwrap();
        let names: Vec<String> = objects.iter().map(shown).collect();
        assert_eq!(names, ["deployment.apps/httpd", "service/httpd-svc"]);
        assert!(manifests(&dir.join("nosuch")).unwrap().is_empty());
    }
}
