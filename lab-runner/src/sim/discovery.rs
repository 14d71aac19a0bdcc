//! What the apiserver says about itself: `/version`, API discovery (legacy `APIVersions` /
//! `APIGroupList` / `APIResourceList`, and aggregated `apidiscovery.k8s.io/v2`), and the OpenAPI
//! v3 documents kubectl's `--validate=strict` downloads before `create` and `apply`.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/endpoints/discovery` (legacy and `aggregated/`) and
//! the `/openapi/v3` handler of `kube-openapi/pkg/handler3`, cut down to what kubectl reads
//! (measured in `spec/kubectl-api.md` §1–§2). Every document is built from [`Kind::ALL`], so a
//! kind lab-core learns appears here with no further change.

use lab_core::Kind;
use serde_json::{Value, json};

/// The version the sim reports. Its minor decides which client the machine's kubectl dispatcher
/// runs (spec §0), so it must match the API the k8s-openapi types model (`v1_33`).
pub const GIT_VERSION: &str = "v1.33.1";

/// The verbs this server answers for every resource (discovery must not promise more).
const VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// The categories of a kind: `all` for the workload kinds `kubectl get all` lists.
fn categories(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pod | Kind::Service | Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet => {
            &["all"]
        }
        _ => &[],
    }
}

/// The Content-Type an aggregated discovery answer must carry, or kubectl reads it as legacy.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `GET /version` (`version.Info`).
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": GIT_VERSION,
        "gitTreeState": "clean",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

/// Go's GOARCH spelling of the machine this runs on.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The group-versions served, core first: `("", "v1")`, `("apps", "v1")`, …
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in Kind::ALL {
        if !out.contains(&(k.group(), k.version())) {
            out.push((k.group(), k.version()));
        }
    }
    out
}

fn kinds_in(group: &str, version: &str) -> impl Iterator<Item = Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(move |k| k.group() == group && k.version() == version)
}

/// `GET /api`, legacy form.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// `GET /apis`, legacy form.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /api/v1`, `GET /apis/apps/v1`, …: an `APIResourceList`.
pub fn api_resource_list(group: &str, version: &str) -> Value {
    let resources: Vec<Value> = kinds_in(group, version)
        .map(|k| {
            json!({
                "name": k.resource(),
                "singularName": k.name().to_lowercase(),
                "namespaced": k.namespaced(),
                "kind": k.name(),
                "verbs": VERBS,
                "shortNames": k.short_names(),
                "categories": categories(k),
            })
        })
        .collect();
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    })
}

/// Whether an `Accept` header asks for aggregated discovery v2 (kubectl lists it first).
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let params: Vec<&str> = range.split(';').map(str::trim).collect();
        params.contains(&"as=APIGroupDiscoveryList")
            && params.contains(&"v=v2")
            && params.contains(&"g=apidiscovery.k8s.io")
    })
}

/// `GET /api` (`core == true`) or `GET /apis` in aggregated form: an `APIGroupDiscoveryList`.
pub fn aggregated(core: bool) -> Value {
    let items: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, v)| {
            let resources: Vec<Value> = kinds_in(g, v)
                .map(|k| {
                    json!({
                        "resource": k.resource(),
                        "responseKind": {"group": g, "version": v, "kind": k.name()},
                        "scope": if k.namespaced() { "Namespaced" } else { "Cluster" },
                        "singularResource": k.name().to_lowercase(),
                        "verbs": VERBS,
                        "shortNames": k.short_names(),
                        "categories": categories(k),
                    })
                })
                .collect();
            json!({
                "metadata": {"name": g},
                "versions": [{"version": v, "resources": resources, "freshness": "Current"}],
            })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// The OpenAPI v3 path key of a group-version: `api/v1`, `apis/apps/v1`.
fn openapi_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3/{api/v1|apis/G/V}`: one PATCH path per kind, each naming its
/// group-version-kind and the `fieldValidation` parameter. That is all kubectl needs to send
/// `fieldValidation=Strict` and leave the schema check to the server (spec §2); no `requestBody`,
/// so client-side apply builds its patch from kubectl's compiled-in types.
pub fn openapi_group_doc(key: &str) -> Option<Value> {
    let (group, version) = group_versions()
        .into_iter()
        .find(|(g, v)| openapi_key(g, v) == key)?;
    let mut paths = serde_json::Map::new();
    for k in kinds_in(group, version) {
        let path = if k.namespaced() {
            format!("/{key}/namespaces/{{namespace}}/{}/{{name}}", k.resource())
        } else {
            format!("/{key}/{}/{{name}}", k.resource())
        };
        paths.insert(
            path,
            json!({"patch": {
                "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": k.name()},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "components": {"schemas": {}},
        "paths": paths,
    }))
}

/// The media type of `GET /openapi/v2`'s protobuf `openapi_v2.Document`. The sim answers it with
/// an empty body, the empty document: kubectl reads v2 only for kinds no v3 document has, and finds
/// none there either.
pub const OPENAPI_V2_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// `GET /openapi/v3`: where each group-version's document lives. The `hash` is part of the URL
/// kubectl caches by, so it is derived from the document itself and changes whenever it does.
pub fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    for (g, v) in group_versions() {
        let key = openapi_key(g, v);
        let doc = openapi_group_doc(&key).unwrap_or(Value::Null);
        let hash = fnv1a(doc.to_string().as_bytes());
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash:016X}")}),
        );
    }
    json!({"paths": paths})
}

/// 64-bit FNV-1a: a stable content hash with no dependency (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_header_selects_aggregated_discovery() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(kubectl));
        assert!(!wants_aggregated("application/json, */*"));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        ));
    }

    #[test]
    fn every_kind_is_discoverable_and_has_an_openapi_patch_path() {
        for k in Kind::ALL {
            let list = api_resource_list(k.group(), k.version());
            let found = list["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == k.resource() && r["kind"] == k.name());
            assert!(found, "{k:?} missing from discovery");
            let doc = openapi_group_doc(&openapi_key(k.group(), k.version())).unwrap();
            let gvk_found = doc["paths"]
                .as_object()
                .unwrap()
                .values()
                .any(|p| p["patch"]["x-kubernetes-group-version-kind"]["kind"] == k.name());
            assert!(gvk_found, "{k:?} missing from OpenAPI");
        }
        assert_eq!(api_group_list()["groups"][0]["name"], "apps");
        assert!(openapi_group_doc("apis/nosuch/v1").is_none());
    }

    #[test]
    fn openapi_root_links_each_document_with_its_hash() {
        let root = openapi_root();
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        let doc = openapi_group_doc("apis/apps/v1").unwrap();
        assert_eq!(
            url,
            format!(
                "/openapi/v3/apis/apps/v1?hash={:016X}",
                fnv1a(doc.to_string().as_bytes())
            )
        );
    }
}
