//! The apiserver's request path over a [`Cluster`]: a request (method, path, query, `Accept`,
//! body) in, a response (status, Content-Type, JSON body) out. No sockets and no clock here, so
//! every route is unit-tested without a server; `super::serve` only moves bytes.
//!
//! Mirrors `k8s.io/apiserver/pkg/endpoints/handlers` (get, list, create, update, delete) for the
//! kinds lab-core serves. Every failure is a `Status` with the HTTP code equal to `code`, worded
//! as the apiserver words it, so kubectl prints it as it would for a real cluster (spec §7).

use super::discovery;
use super::node;
use super::patch;
use super::protobuf;
use super::selector::{FieldSelector, LabelSelector};
use super::table;
use lab_core::manifest::decode_object;
use lab_core::{ApiError, Cluster, Kind, Object};
use serde_json::{Value, json};

/// One HTTP request, as the router sees it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The URL path, not decoded (`/api/v1/namespaces/default/services`).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// The `Accept` header (empty if absent).
    pub accept: &'a str,
    /// The `Content-Type` header (empty if absent): it names the patch format.
    pub content_type: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// `host:port` kubectl reached us at (for `/api`'s serverAddressByClientCIDRs).
    pub host: &'a str,
}

/// What to send back.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The Content-Type.
    pub content_type: &'static str,
    /// The JSON body.
    pub body: Value,
    /// A `Warning` header's text (kubectl prints it as `Warning: …` on stderr).
    pub warning: Option<&'static str>,
}

impl Response {
    fn json(status: u16, body: Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body,
            warning: None,
        }
    }
}

/// The deprecation warning the 1.33 apiserver attaches to every v1 Endpoints request.
pub const ENDPOINTS_WARNING: &str =
    "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice";

/// The warning a request on `kind` carries, if any.
pub fn warning_for(kind: Kind) -> Option<&'static str> {
    (kind == Kind::Endpoints).then_some(ENDPOINTS_WARNING)
}

/// Whether a request may change the cluster (the caller persists after these).
pub fn is_write(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// A failure as a `Status` response.
fn status(code: u16, reason: &str, message: &str, details: Value) -> Response {
    Response::json(
        code,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details,
            "code": code,
        }),
    )
}

/// The Status response for `e`.
pub fn api_error(e: &ApiError) -> Response {
    let body = serde_json::to_value(e.to_status()).unwrap_or(Value::Null);
    Response::json(e.code(), body)
}

fn bad_request(message: impl Into<String>) -> Response {
    api_error(&ApiError::BadRequest {
        message: message.into(),
    })
}

/// The apiserver's answer for a path nothing serves (a plain 404 kubectl maps to NotFound).
fn not_found_path() -> Response {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        json!({}),
    )
}

fn method_not_allowed(method: &str, path: &str) -> Response {
    status(
        405,
        "MethodNotAllowed",
        &format!(
            "the server does not allow this method on the requested resource ({method} {path})"
        ),
        json!({}),
    )
}

/// Where a REST path points.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    Version,
    Api,
    Apis,
    GroupVersion(&'static str, &'static str),
    OpenApiRoot,
    OpenApiV2,
    OpenApiDoc(String),
    Info,
    /// `GET /svclab/v1/nodes/{node}/exec?command=…`: a command on a simulated node ([`node`]).
    NodeExec(String),
    Collection {
        kind: Kind,
        namespace: Option<String>,
    },
    Item {
        kind: Kind,
        namespace: Option<String>,
        name: String,
    },
    /// `…/deployments/{name}/scale` (and replicasets, statefulsets): an `autoscaling/v1` Scale.
    Scale {
        kind: Kind,
        namespace: String,
        name: String,
    },
}

/// The kinds with a `scale` subresource.
const SCALABLE: &[Kind] = &[Kind::Deployment, Kind::ReplicaSet, Kind::StatefulSet];

fn kind_for(group: &str, version: &str, resource: &str) -> Option<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .find(|k| k.group() == group && k.version() == version && k.resource() == resource)
}

fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Some(Route::Version),
        ["api"] => return Some(Route::Api),
        ["apis"] => return Some(Route::Apis),
        ["openapi", "v3"] => return Some(Route::OpenApiRoot),
        ["openapi", "v2"] => return Some(Route::OpenApiV2),
        ["openapi", "v3", doc @ ..] => return Some(Route::OpenApiDoc(doc.join("/"))),
        ["svclab", "v1", "info"] => return Some(Route::Info),
        ["svclab", "v1", "nodes", name, "exec"] if !name.is_empty() => {
            return Some(Route::NodeExec(name.to_string()));
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (group, version) = discovery::group_versions()
        .into_iter()
        .find(|gv| *gv == (group, version))?;
    let item = |kind: Kind, namespace: Option<&str>, name: &str| {
        (!name.is_empty()).then(|| Route::Item {
            kind,
            namespace: namespace.map(String::from),
            name: name.to_string(),
        })
    };
    match rest {
        [] => Some(Route::GroupVersion(group, version)),
        // The namespace objects themselves: /api/v1/namespaces/{name}.
        ["namespaces", name] if group.is_empty() => item(Kind::Namespace, None, name),
        ["namespaces", ns, res] => {
            let kind = kind_for(group, version, res).filter(|k| k.namespaced())?;
            Some(Route::Collection {
                kind,
                namespace: Some(ns.to_string()),
            })
        }
        ["namespaces", ns, res, name] => {
            let kind = kind_for(group, version, res).filter(|k| k.namespaced())?;
            item(kind, Some(ns), name)
        }
        ["namespaces", ns, res, name, "scale"] => {
            let kind = kind_for(group, version, res).filter(|k| SCALABLE.contains(k))?;
            Some(Route::Scale {
                kind,
                namespace: ns.to_string(),
                name: name.to_string(),
            })
        }
        [res] => Some(Route::Collection {
            kind: kind_for(group, version, res)?,
            namespace: None,
        }),
        [res, name] => {
            let kind = kind_for(group, version, res).filter(|k| !k.namespaced())?;
            item(kind, None, name)
        }
        _ => None,
    }
}

/// Decoded query parameters, in order.
fn query_params(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// What a watch watches: the kind, the namespace (None: all) and the decoded query.
pub type WatchTarget = (Kind, Option<String>, Vec<(String, String)>);

/// A watch request's target (`GET` of a collection with `watch=true`): the kind, namespace and
/// decoded query. The server streams these (see `super::watch`) instead of calling [`handle`].
pub fn watch_target(req: &Request) -> Option<WatchTarget> {
    if req.method != "GET" {
        return None;
    }
    let Some(Route::Collection { kind, namespace }) = route(req.path) else {
        return None;
    };
    let params = query_params(req.query);
    param(&params, "watch").filter(|w| *w == "true" || *w == "1")?;
    Some((kind, namespace, params))
}

/// Whether a POST/PUT body's Content-Type is JSON (or absent, as curl may send it).
fn is_json(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.is_empty() || media == "application/json" || media == "*/*"
}

/// The Kubernetes protobuf media type.
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// 415 for bodies the sim cannot decode (most protobuf kinds, CBOR, YAML).
fn unsupported_body(content_type: &str, why: &str) -> Response {
    status(
        415,
        "UnsupportedMediaType",
        &format!(
            "the body of the request was in an unknown format - accepted media types include: application/json ({content_type}: {why})"
        ),
        json!({}),
    )
}

/// Answers one request, changing `cluster` for writes (watches go to [`watch_target`]).
pub fn handle(cluster: &mut Cluster, req: &Request) -> Response {
    let Some(route) = route(req.path) else {
        return not_found_path();
    };
    let kind = match &route {
        Route::Collection { kind, .. } | Route::Item { kind, .. } => Some(*kind),
        _ => None,
    };
    // dryRun=All (`--dry-run=server`, `kubectl diff`): the whole request path runs on a copy,
    // so validation and defaulting answer as for real and nothing is kept.
    let dry_run = is_write(req.method)
        && query_params(req.query)
            .iter()
            .any(|(k, v)| k == "dryRun" && v == "All");
    // Nothing is stored in a dry run, so an existing object keeps its resourceVersion.
    let stored_rv = match (&route, dry_run) {
        (
            Route::Item {
                kind,
                namespace,
                name,
            },
            true,
        ) => cluster
            .get(*kind, namespace.as_deref().unwrap_or(""), name)
            .and_then(|o| o.meta().resource_version.clone()),
        _ => None,
    };
    let mut scratch;
    let cluster = if dry_run {
        scratch = cluster.clone();
        &mut scratch
    } else {
        cluster
    };
    let media = req.content_type.split(';').next().unwrap_or("").trim();
    let mut resp = if matches!(req.method, "POST" | "PUT") && media == PROTOBUF {
        // kubectl's typed generators send protobuf; the decoded JSON takes the usual path.
        match protobuf::decode(req.body) {
            Ok(v) => {
                let json_body = v.to_string();
                let decoded = Request {
                    body: json_body.as_bytes(),
                    content_type: "application/json",
                    ..*req
                };
                answer(cluster, &decoded, route)
            }
            Err(m) => unsupported_body(req.content_type, &m),
        }
    } else if matches!(req.method, "POST" | "PUT") && !is_json(req.content_type) {
        unsupported_body(req.content_type, "send JSON")
    } else {
        answer(cluster, req, route)
    };
    if let (Some(rv), Some(meta)) = (stored_rv, resp.body.get_mut("metadata"))
        && resp.status == 200
    {
        meta["resourceVersion"] = json!(rv);
    }
    resp.warning = kind.and_then(warning_for);
    resp
}

fn answer(cluster: &mut Cluster, req: &Request, route: Route) -> Response {
    let params = query_params(req.query);
    let read_only = matches!(
        route,
        Route::Version
            | Route::Api
            | Route::Apis
            | Route::GroupVersion(..)
            | Route::OpenApiRoot
            | Route::OpenApiV2
            | Route::OpenApiDoc(_)
            | Route::Info
            | Route::NodeExec(_)
    );
    if read_only && req.method != "GET" {
        return method_not_allowed(req.method, req.path);
    }
    match route {
        Route::Version => Response::json(200, discovery::version()),
        Route::Api | Route::Apis if discovery::wants_aggregated(req.accept) => Response {
            status: 200,
            content_type: discovery::AGGREGATED_CONTENT_TYPE,
            body: discovery::aggregated(route == Route::Api),
            warning: None,
        },
        Route::Api => Response::json(200, discovery::api_versions(req.host)),
        Route::Apis => Response::json(200, discovery::api_group_list()),
        Route::GroupVersion(g, v) => Response::json(200, discovery::api_resource_list(g, v)),
        Route::OpenApiRoot => Response::json(200, discovery::openapi_root()),
        // An empty document (no body): kubectl's client-side validation, which falls back to v2
        // for a kind no v3 document has, then skips that kind as for a real cluster's unknown
        // kinds, and the manifest fails with kubectl's own "no matches for kind".
        Route::OpenApiV2 => Response {
            status: 200,
            content_type: discovery::OPENAPI_V2_CONTENT_TYPE,
            body: Value::Null,
            warning: None,
        },
        Route::OpenApiDoc(key) => match discovery::openapi_group_doc(&key) {
            Some(doc) => Response::json(200, doc),
            None => not_found_path(),
        },
        Route::Info => Response::json(
            200,
            json!({
                "kind": "SvclabInfo",
                "apiVersion": "svclab/v1",
                "sim": true,
                "kubernetesVersion": discovery::GIT_VERSION,
                "svclabVersion": env!("CARGO_PKG_VERSION"),
            }),
        ),
        Route::NodeExec(name) => {
            let argv = node::argv(&params);
            match node::exec(cluster, &name, &argv) {
                Ok(out) => Response::json(200, node::to_json(&out, &name, &argv)),
                Err(e) => api_error(&e),
            }
        }
        Route::Collection { kind, namespace } => match req.method {
            "GET" => list(cluster, kind, namespace.as_deref(), &params, req.accept),
            "POST" => create(cluster, kind, namespace.as_deref(), req.body),
            m => method_not_allowed(m, req.path),
        },
        Route::Item {
            kind,
            namespace,
            name,
        } => {
            let ns = namespace.as_deref();
            match req.method {
                "GET" => get(cluster, kind, ns, &name, req.accept),
                "PUT" => update(cluster, kind, ns, &name, req.body),
                "DELETE" => delete(cluster, kind, ns, &name, &params, req.body),
                "PATCH" => patch_item(cluster, kind, ns, &name, req.content_type, req.body),
                m => method_not_allowed(m, req.path),
            }
        }
        Route::Scale {
            kind,
            namespace,
            name,
        } => match req.method {
            "GET" | "PUT" | "PATCH" => scale(cluster, kind, &namespace, &name, req),
            m => method_not_allowed(m, req.path),
        },
    }
}

/// The patch formats the apiserver accepts, as its 415 lists them.
const PATCH_TYPES: &str = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json";

/// Applies a patch body of `content_type` to `doc`; `Err` is the response to send.
fn apply_patch(doc: &mut Value, content_type: &str, body: &[u8]) -> Result<(), Response> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let known = matches!(
        media,
        "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/json-patch+json"
    );
    if !known {
        return Err(status(
            415,
            "UnsupportedMediaType",
            &format!(
                "the body of the request was in an unknown format - accepted media types include: {PATCH_TYPES}"
            ),
            json!({}),
        ));
    }
    let p: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("error decoding patch: {e}")))?;
    let out = match media {
        "application/merge-patch+json" => {
            patch::merge_patch(doc, &p);
            Ok(())
        }
        "application/strategic-merge-patch+json" => patch::strategic_merge(doc, &p),
        _ => patch::json_patch(doc, &p),
    };
    out.map_err(bad_request)
}

/// The media type of server-side apply (`kubectl apply --server-side`).
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// Server-side apply, for the single field manager kubectl is here: the object is created if
/// absent (201), otherwise its spec, labels and annotations become the applied ones with
/// allocated fields (ClusterIP, nodePorts) kept, which is what SSA leaves when one manager owns
/// every applied field. `managedFields` and `force` conflicts between managers are not modelled.
fn server_side_apply(
    cluster: &mut Cluster,
    kind: Kind,
    namespace: Option<&str>,
    name: &str,
    body: &[u8],
) -> Response {
    // The body is YAML; kubectl sends JSON, which is YAML too.
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => match std::str::from_utf8(body)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_saphyr::from_str(t).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => return bad_request(format!("error decoding YAML: {e}")),
        },
    };
    let bytes = value.to_string();
    let object = match decode_body(kind, namespace, Some(name), bytes.as_bytes()) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let existed = cluster.get(kind, namespace.unwrap_or(""), name).is_some();
    if let Err(e) = cluster.apply(object) {
        return api_error(&e);
    }
    match cluster.get(kind, namespace.unwrap_or(""), name) {
        Some(o) => object_response(if existed { 200 } else { 201 }, o),
        None => api_error(&ApiError::NotFound {
            kind,
            name: name.into(),
        }),
    }
}

/// PATCH: the stored object, patched, goes through the same update path as a PUT (so a stale
/// `metadata.resourceVersion` in the patch is a Conflict, and validation applies).
fn patch_item(
    cluster: &mut Cluster,
    kind: Kind,
    namespace: Option<&str>,
    name: &str,
    content_type: &str,
    body: &[u8],
) -> Response {
    if content_type.split(';').next().unwrap_or("").trim() == APPLY_PATCH {
        return server_side_apply(cluster, kind, namespace, name, body);
    }
    let Some(current) = cluster.get(kind, namespace.unwrap_or(""), name) else {
        return api_error(&ApiError::NotFound {
            kind,
            name: name.into(),
        });
    };
    let mut doc = current.to_json();
    if let Err(r) = apply_patch(&mut doc, content_type, body) {
        return r;
    }
    let bytes = doc.to_string();
    update(cluster, kind, namespace, name, bytes.as_bytes())
}

/// The `autoscaling/v1` Scale of a scalable object.
fn scale_of(object: &Object) -> Value {
    let (spec, status, selector) = match object {
        Object::Deployment(d) => {
            let s = d.spec.as_ref();
            (
                s.and_then(|s| s.replicas),
                d.status.as_ref().and_then(|s| s.replicas),
                s.map(|s| &s.selector),
            )
        }
        Object::ReplicaSet(r) => {
            let s = r.spec.as_ref();
            (
                s.and_then(|s| s.replicas),
                r.status.as_ref().map(|s| s.replicas),
                s.map(|s| &s.selector),
            )
        }
        Object::StatefulSet(st) => {
            let s = st.spec.as_ref();
            (
                s.and_then(|s| s.replicas),
                st.status.as_ref().map(|s| s.replicas),
                s.map(|s| &s.selector),
            )
        }
        _ => (None, None, None),
    };
    let m = object.meta();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m.name,
            "namespace": m.namespace,
            "uid": m.uid,
            "resourceVersion": m.resource_version,
            "creationTimestamp": m.creation_timestamp,
        },
        // An unset replicas field is defaulted to 1 by the apiserver.
        "spec": {"replicas": spec.unwrap_or(1)},
        "status": {
            "replicas": status.unwrap_or(0),
            "selector": selector.map(lab_core::labels::format_selector).unwrap_or_default(),
        },
    })
}

/// GET, PUT or PATCH of `…/{name}/scale`: only `spec.replicas` can change.
fn scale(
    cluster: &mut Cluster,
    kind: Kind,
    namespace: &str,
    name: &str,
    req: &Request,
) -> Response {
    let Some(current) = cluster.get(kind, namespace, name) else {
        return api_error(&ApiError::NotFound {
            kind,
            name: name.into(),
        });
    };
    let mut doc = scale_of(current);
    match req.method {
        "GET" => return Response::json(200, doc),
        "PUT" => match serde_json::from_slice::<Value>(req.body) {
            Ok(v) => doc = v,
            Err(e) => {
                return bad_request(format!("couldn't get version/kind; json parse error: {e}"));
            }
        },
        _ => {
            if let Err(r) = apply_patch(&mut doc, req.content_type, req.body) {
                return r;
            }
        }
    }
    let replicas = doc
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .and_then(|r| i32::try_from(r).ok());
    let Some(replicas) = replicas.filter(|r| *r >= 0) else {
        // The apiserver validates the Scale object itself, so the Status names kind Scale.
        let bad = doc
            .pointer("/spec/replicas")
            .cloned()
            .unwrap_or(Value::Null);
        let detail = format!("Invalid value: {bad}: must be greater than or equal to 0");
        return status(
            422,
            "Invalid",
            &format!("Scale.autoscaling {name:?} is invalid: spec.replicas: {detail}"),
            json!({
                "name": name,
                "group": "autoscaling",
                "kind": "Scale",
                "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": "spec.replicas"}],
            }),
        );
    };
    match cluster.scale(kind, namespace, name, replicas) {
        Ok(scaled) => Response::json(200, scale_of(&scaled)),
        Err(e) => api_error(&e),
    }
}

fn object_response(code: u16, object: &Object) -> Response {
    Response::json(code, object.to_json())
}

fn list(
    cluster: &Cluster,
    kind: Kind,
    namespace: Option<&str>,
    params: &[(String, String)],
    accept: &str,
) -> Response {
    let labels = match LabelSelector::parse(param(params, "labelSelector").unwrap_or("")) {
        Ok(s) => s,
        Err(m) => return bad_request(m),
    };
    let fields = match FieldSelector::parse(param(params, "fieldSelector").unwrap_or("")) {
        Ok(s) => s,
        Err(m) => return bad_request(m),
    };
    let mut objects = Vec::new();
    for o in cluster.list(kind, namespace) {
        if !labels.matches(o.meta().labels.as_ref()) {
            continue;
        }
        match fields.matches(o) {
            Ok(true) => objects.push(o),
            Ok(false) => {}
            Err(m) => return bad_request(m),
        }
    }
    let rv = cluster.resource_version();
    if table::wants_table(accept) {
        let include = match table::Include::from_param(param(params, "includeObject")) {
            Ok(i) => i,
            Err(m) => return bad_request(m),
        };
        let now = cluster.now_ms();
        return Response::json(
            200,
            table::table_json_with(kind, &objects, now, rv, include),
        );
    }
    Response::json(
        200,
        json!({
            "kind": format!("{}List", kind.name()),
            "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": rv.to_string()},
            "items": objects.iter().map(|o| o.to_json()).collect::<Vec<_>>(),
        }),
    )
}

fn get(
    cluster: &Cluster,
    kind: Kind,
    namespace: Option<&str>,
    name: &str,
    accept: &str,
) -> Response {
    let Some(object) = cluster.get(kind, namespace.unwrap_or(""), name) else {
        return api_error(&ApiError::NotFound {
            kind,
            name: name.into(),
        });
    };
    if table::wants_table(accept) {
        return Response::json(
            200,
            table::table_json(
                kind,
                &[object],
                cluster.now_ms(),
                cluster.resource_version(),
            ),
        );
    }
    object_response(200, object)
}

/// Decodes a request body into an object of `kind` in `namespace`, checking it against the URL
/// as the apiserver's `rest.BeforeCreate`/`BeforeUpdate` do.
fn decode_body(
    kind: Kind,
    namespace: Option<&str>,
    name: Option<&str>,
    body: &[u8],
) -> Result<Object, Response> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("couldn't get version/kind; json parse error: {e}")))?;
    if let (Some(ns), Some(meta)) = (
        namespace,
        value.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        match meta.get("namespace").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("namespace".into(), json!(ns));
            }
            Some(other) if other != ns => {
                return Err(bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            Some(_) => {}
        }
    }
    let object = decode_object(value).map_err(|e| bad_request(e.message))?;
    if object.kind() != kind {
        return Err(bad_request(format!(
            "the API version in the data ({}) and kind ({}) do not match the request ({}, {})",
            object.kind().api_version(),
            object.kind().name(),
            kind.api_version(),
            kind.name()
        )));
    }
    if let Some(name) = name
        && object.name() != name
    {
        return Err(bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            object.name()
        )));
    }
    Ok(object)
}

fn create(cluster: &mut Cluster, kind: Kind, namespace: Option<&str>, body: &[u8]) -> Response {
    let object = match decode_body(kind, namespace, None, body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    match cluster.create(object) {
        Ok(created) => object_response(201, &created),
        Err(e) => api_error(&e),
    }
}

fn update(
    cluster: &mut Cluster,
    kind: Kind,
    namespace: Option<&str>,
    name: &str,
    body: &[u8],
) -> Response {
    let object = match decode_body(kind, namespace, Some(name), body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    match cluster.update(object) {
        Ok(updated) => object_response(200, &updated),
        Err(e) => api_error(&e),
    }
}

fn delete(
    cluster: &mut Cluster,
    kind: Kind,
    namespace: Option<&str>,
    name: &str,
    params: &[(String, String)],
    body: &[u8],
) -> Response {
    // DeleteOptions may come in the body (kubectl) or the query (curl); the body wins.
    let options: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return bad_request(format!("couldn't get version/kind; json parse error: {e}"));
            }
        }
    };
    let grace = match options.get("gracePeriodSeconds") {
        Some(v) => match v.as_i64() {
            Some(g) => Some(g),
            None if v.is_null() => None,
            None => return bad_request("gracePeriodSeconds must be an integer"),
        },
        None => match param(params, "gracePeriodSeconds").map(str::parse::<i64>) {
            Some(Ok(g)) => Some(g),
            Some(Err(_)) => return bad_request("gracePeriodSeconds must be an integer"),
            None => None,
        },
    };
    let ns = namespace.unwrap_or("");
    let out = match grace {
        Some(g) => cluster.delete_with_grace(kind, ns, name, g),
        None => cluster.delete(kind, ns, name),
    };
    match out {
        Ok(deleted) => object_response(200, &deleted),
        Err(e) => api_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = include_str!("../../../lab-core/tests/data/httpd-deployment.yaml");
    const SERVICE: &str = include_str!("../../../lab-core/tests/data/httpd-service.yaml");
    const JSON: &str = "application/json";
    const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

    fn call(c: &mut Cluster, method: &str, path: &str, accept: &str, body: &str) -> Response {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        handle(
            c,
            &Request {
                method,
                path,
                query,
                accept,
                body: body.as_bytes(),
                content_type: if method == "PATCH" {
                    "application/strategic-merge-patch+json"
                } else {
                    "application/json"
                },
                host: "127.0.0.1:6443",
            },
        )
    }

    #[test]
    fn node_exec_answers_with_the_commands_output() {
        let mut c = Cluster::kind();
        let exec = "/svclab/v1/nodes/kind-worker/exec";
        let ok = call(
            &mut c,
            "GET",
            &format!("{exec}?command=ipvsadm&command=-Ln"),
            JSON,
            "",
        );
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body["kind"], "NodeExecResult");
        assert_eq!(ok.body["command"], json!(["ipvsadm", "-Ln"]));
        assert_eq!(ok.body["exitCode"], 0);
        let header = "IP Virtual Server version 1.2.1 (size=4096)\n";
        assert!(ok.body["stdout"].as_str().unwrap().starts_with(header));
        let nft = "command=nft&command=list&command=table&command=ip&command=kube-proxy";
        let failed = call(&mut c, "GET", &format!("{exec}?{nft}"), JSON, "");
        assert_eq!((failed.status, &failed.body["exitCode"]), (200, &json!(1)));
        let missing = call(
            &mut c,
            "GET",
            "/svclab/v1/nodes/x/exec?command=ls",
            JSON,
            "",
        );
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["message"], "nodes \"x\" not found");
        assert_eq!(missing.body["reason"], "NotFound");
        assert_eq!(call(&mut c, "GET", exec, JSON, "").status, 400);
        let post = call(&mut c, "POST", &format!("{exec}?command=ls"), JSON, "");
        assert_eq!(post.status, 405);
    }

    fn yaml_to_json(text: &str) -> String {
        let v: Value = serde_saphyr::from_str(text).unwrap();
        v.to_string()
    }

    fn with_service(c: &mut Cluster) -> Response {
        call(
            c,
            "POST",
            "/api/v1/namespaces/default/services",
            JSON,
            &yaml_to_json(SERVICE),
        )
    }

    #[test]
    fn routes() {
        assert_eq!(route("/api/v1"), Some(Route::GroupVersion("", "v1")));
        assert_eq!(
            route("/api/v1/namespaces/default"),
            Some(Route::Item {
                kind: Kind::Namespace,
                namespace: None,
                name: "default".into()
            })
        );
        assert_eq!(
            route("/apis/apps/v1/namespaces/default/deployments/httpd"),
            Some(Route::Item {
                kind: Kind::Deployment,
                namespace: Some("default".into()),
                name: "httpd".into()
            })
        );
        assert_eq!(
            route("/api/v1/services"),
            Some(Route::Collection {
                kind: Kind::Service,
                namespace: None
            })
        );
        // A namespaced kind has no cluster-wide item path, and unknown groups are not served.
        assert_eq!(route("/api/v1/services/x"), None);
        assert_eq!(route("/apis/batch/v1/jobs"), None);
        assert_eq!(route("/api/v1/namespaces/default/nosuch"), None);
        assert_eq!(route("/api/v1/namespaces/default/pods/p/exec"), None);
    }

    #[test]
    fn only_collection_gets_with_watch_true_are_watches() {
        let req = |method, path, query| Request {
            method,
            path,
            query,
            accept: "",
            content_type: "",
            body: b"",
            host: "",
        };
        let (kind, ns, params) = watch_target(&req(
            "GET",
            "/api/v1/namespaces/default/services",
            "resourceVersion=7&watch=true",
        ))
        .expect("a watch");
        assert_eq!((kind, ns.as_deref()), (Kind::Service, Some("default")));
        assert_eq!(param(&params, "resourceVersion"), Some("7"));
        let not = |m, p, q| watch_target(&req(m, p, q)).is_none();
        assert!(not("GET", "/api/v1/services", "watch=false"));
        assert!(not(
            "POST",
            "/api/v1/namespaces/default/services",
            "watch=true"
        ));
        assert!(not(
            "GET",
            "/api/v1/namespaces/default/services/x",
            "watch=true"
        ));
    }

    #[test]
    fn create_get_list_table_and_delete_a_service() {
        let mut c = Cluster::kind();
        let r = with_service(&mut c);
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["kind"], "Service");
        assert_eq!(r.body["apiVersion"], "v1");
        let ip = r.body["spec"]["clusterIP"].as_str().unwrap().to_string();

        let r = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/default/services?limit=500",
            TABLE,
            "",
        );
        assert_eq!(
            r.body["rows"].as_array().unwrap().len(),
            2,
            "kubernetes and httpd-svc"
        );
        // default/kubernetes carries component=apiserver; httpd-svc has no labels.
        let r = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/default/services?labelSelector=%21component&limit=500",
            TABLE,
            "",
        );
        assert_eq!(r.body["kind"], "Table");
        let rows = r.body["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{}", r.body);
        assert_eq!(rows[0]["cells"][0], "httpd-svc");
        assert_eq!(rows[0]["cells"][2], ip.as_str());

        let r = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/default/services?labelSelector=app%3Dhttpd",
            JSON,
            "",
        );
        assert_eq!(r.body["kind"], "ServiceList");
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0);

        let r = call(
            &mut c,
            "DELETE",
            "/api/v1/namespaces/default/services/httpd-svc",
            JSON,
            r#"{"propagationPolicy":"Background"}"#,
        );
        assert_eq!(r.status, 200);
        let r = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/default/services/httpd-svc",
            JSON,
            "",
        );
        assert_eq!(r.status, 404);
        assert_eq!(r.body["reason"], "NotFound");
        assert_eq!(r.body["message"], r#"services "httpd-svc" not found"#);
        assert_eq!(r.body["details"]["kind"], "services");
    }

    #[test]
    fn errors_are_statuses_and_change_nothing() {
        let mut c = Cluster::kind();
        with_service(&mut c);
        let before = c.snapshot();

        let r = with_service(&mut c);
        assert_eq!(
            (r.status, r.body["reason"].as_str()),
            (409, Some("AlreadyExists"))
        );

        let bad = yaml_to_json(
            &SERVICE
                .replace("httpd-svc", "bad-svc")
                .replace("port: 8080", "port: 0"),
        );
        let r = call(
            &mut c,
            "POST",
            "/api/v1/namespaces/default/services",
            JSON,
            &bad,
        );
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.body["details"]["kind"], "Service");
        assert_eq!(
            r.body["details"]["causes"][0]["field"],
            "spec.ports[0].port"
        );

        let r = call(
            &mut c,
            "POST",
            "/api/v1/namespaces/default/services",
            JSON,
            "{not json",
        );
        assert_eq!(
            (r.status, r.body["reason"].as_str()),
            (400, Some("BadRequest"))
        );

        let typo = yaml_to_json(&SERVICE.replace("selector:", "selectr:"));
        let r = call(
            &mut c,
            "POST",
            "/api/v1/namespaces/default/services",
            JSON,
            &typo,
        );
        assert_eq!(r.status, 400);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .contains(r#"unknown field "spec.selectr""#),
            "{}",
            r.body
        );

        let r = call(
            &mut c,
            "POST",
            "/api/v1/namespaces/other/services",
            JSON,
            &yaml_to_json(&SERVICE.replace("metadata:", "metadata:\n  namespace: default")),
        );
        assert_eq!(r.status, 400, "{}", r.body);

        let r = call(
            &mut c,
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            JSON,
            &yaml_to_json(SERVICE),
        );
        assert_eq!(r.status, 400);

        let r = call(&mut c, "GET", "/api/v1/pods?labelSelector=a%20b", JSON, "");
        assert_eq!(r.status, 400);
        let r = call(&mut c, "GET", "/nosuch", JSON, "");
        assert_eq!((r.status, r.body["kind"].as_str()), (404, Some("Status")));
        let r = call(&mut c, "PATCH", "/version", JSON, "");
        assert_eq!(r.status, 405);

        assert_eq!(c.snapshot(), before);
    }

    #[test]
    fn put_with_a_stale_resource_version_conflicts() {
        let mut c = Cluster::kind();
        let created = with_service(&mut c).body;
        let mut edited = created.clone();
        edited["metadata"]["labels"]["tier"] = json!("web");
        let path = "/api/v1/namespaces/default/services/httpd-svc";
        let r = call(&mut c, "PUT", path, JSON, &edited.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["metadata"]["labels"]["tier"], "web");
        // The same body again carries the old resourceVersion.
        let r = call(&mut c, "PUT", path, JSON, &edited.to_string());
        assert_eq!(r.status, 409);
        assert_eq!(r.body["reason"], "Conflict");
        let r = call(
            &mut c,
            "PUT",
            "/api/v1/namespaces/default/services/other",
            JSON,
            &edited.to_string(),
        );
        assert_eq!(r.status, 400);
    }

    #[test]
    fn deployment_pods_are_listed_across_namespaces() {
        let mut c = Cluster::kind();
        let r = call(
            &mut c,
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            JSON,
            &yaml_to_json(DEPLOYMENT),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        c.settle();
        let r = call(
            &mut c,
            "GET",
            "/api/v1/pods?labelSelector=app%3Dhttpd",
            TABLE,
            "",
        );
        assert_eq!(r.body["rows"].as_array().unwrap().len(), 3, "{}", r.body);
        assert_eq!(
            r.body["rows"][0]["object"]["metadata"]["namespace"],
            "default"
        );
        let r = call(
            &mut c,
            "GET",
            "/api/v1/pods?fieldSelector=metadata.namespace%3Dkube-system",
            JSON,
            "",
        );
        assert!(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["metadata"]["namespace"] == "kube-system")
        );
    }

    #[test]
    fn patches_in_every_format_go_through_update() {
        let mut c = Cluster::kind();
        with_service(&mut c);
        let path = "/api/v1/namespaces/default/services/httpd-svc";
        let patch = |c: &mut Cluster, ct: &str, body: &str| {
            handle(
                c,
                &Request {
                    method: "PATCH",
                    path,
                    query: "fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
                    accept: JSON,
                    content_type: ct,
                    body: body.as_bytes(),
                    host: "",
                },
            )
        };
        let smp = r#"{"spec":{"$setElementOrder/ports":[{"port":80}],"ports":[{"port":80,"targetPort":80},{"$patch":"delete","port":8080}]}}"#;
        let r = patch(&mut c, "application/strategic-merge-patch+json", smp);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["spec"]["ports"],
            json!([{"port": 80, "targetPort": 80, "protocol": "TCP"}])
        );
        let r = patch(
            &mut c,
            "application/merge-patch+json",
            r#"{"metadata":{"labels":{"tier":"web"}}}"#,
        );
        assert_eq!(r.body["metadata"]["labels"]["tier"], "web");
        let r = patch(
            &mut c,
            "application/json-patch+json",
            r#"[{"op":"replace","path":"/spec/ports/0/port","value":81}]"#,
        );
        assert_eq!(r.body["spec"]["ports"][0]["port"], 81);

        let before = c.snapshot();
        let r = patch(
            &mut c,
            "application/merge-patch+json",
            r#"{"spec":{"ports":[{"port":0}]}}"#,
        );
        assert_eq!(r.status, 422, "{}", r.body);
        let r = patch(
            &mut c,
            "application/merge-patch+json",
            r#"{"metadata":{"resourceVersion":"1"}}"#,
        );
        assert_eq!(
            (r.status, r.body["reason"].as_str()),
            (409, Some("Conflict"))
        );
        let r = patch(
            &mut c,
            "application/merge-patch+json",
            r#"{"spec":{"selectr":{}}}"#,
        );
        assert_eq!(r.status, 400);
        let r = patch(
            &mut c,
            "application/json-patch+json",
            r#"[{"op":"remove","path":"/nosuch"}]"#,
        );
        assert_eq!(r.status, 400);
        let r = patch(&mut c, "text/plain", "{}");
        assert_eq!(
            (r.status, r.body["reason"].as_str()),
            (415, Some("UnsupportedMediaType"))
        );
        let r = patch(&mut c, "application/merge-patch+json", "{");
        assert_eq!(r.status, 400);
        assert_eq!(c.snapshot(), before);
        let r = call(
            &mut c,
            "PATCH",
            "/api/v1/namespaces/default/services/nosuch",
            JSON,
            "{}",
        );
        assert_eq!(r.status, 404);
    }

    #[test]
    fn server_side_apply_creates_then_updates_keeping_the_cluster_ip() {
        let mut c = Cluster::kind();
        let path = "/api/v1/namespaces/default/services/httpd-svc";
        let ssa = |c: &mut Cluster, body: &str| {
            handle(
                c,
                &Request {
                    method: "PATCH",
                    path,
                    query: "fieldManager=kubectl&fieldValidation=Strict&force=false",
                    accept: JSON,
                    content_type: APPLY_PATCH,
                    body: body.as_bytes(),
                    host: "",
                },
            )
        };
        let r = ssa(&mut c, &yaml_to_json(SERVICE));
        assert_eq!(r.status, 201, "{}", r.body);
        let ip = r.body["spec"]["clusterIP"].clone();
        // YAML bodies are accepted too.
        let r = ssa(&mut c, &SERVICE.replace("port: 8080", "port: 80"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["spec"]["ports"][0]["port"], 80);
        assert_eq!(r.body["spec"]["clusterIP"], ip);
        let before = c.snapshot();
        let r = ssa(&mut c, &SERVICE.replace("port: 8080", "port: 0"));
        assert_eq!(r.status, 422);
        let r = ssa(&mut c, &SERVICE.replace("httpd-svc", "other"));
        assert_eq!(r.status, 400);
        let r = ssa(&mut c, "a: [");
        assert_eq!(r.status, 400);
        assert_eq!(c.snapshot(), before);
    }

    #[test]
    fn dry_run_answers_as_for_real_and_keeps_nothing() {
        let mut c = Cluster::kind();
        let before = c.snapshot();
        let r = call(
            &mut c,
            "POST",
            "/api/v1/namespaces/default/services?dryRun=All&fieldManager=kubectl-client-side-apply",
            JSON,
            &yaml_to_json(SERVICE),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(r.body["spec"]["clusterIP"].as_str().is_some());
        let bad = yaml_to_json(&SERVICE.replace("port: 8080", "port: 0"));
        let r = call(
            &mut c,
            "POST",
            "/api/v1/namespaces/default/services?dryRun=All",
            JSON,
            &bad,
        );
        assert_eq!(r.status, 422);
        assert_eq!(c.snapshot(), before);
        // Without dryRun the same request is kept.
        let created = with_service(&mut c).body;
        let kept = c.snapshot();
        let path = "/api/v1/namespaces/default/services/httpd-svc?dryRun=All";
        let r = call(
            &mut c,
            "PATCH",
            path,
            JSON,
            r#"{"metadata":{"labels":{"x":"y"}}}"#,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["metadata"]["labels"]["x"], "y");
        assert_eq!(
            r.body["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]
        );
        let r = call(&mut c, "DELETE", path, JSON, "");
        assert_eq!(r.status, 200);
        assert_eq!(c.snapshot(), kept);
    }

    #[test]
    fn protobuf_bodies_are_unsupported_media() {
        let mut c = Cluster::kind();
        let before = c.snapshot();
        let r = handle(
            &mut c,
            &Request {
                method: "POST",
                path: "/api/v1/namespaces",
                query: "",
                accept: JSON,
                content_type: "application/vnd.kubernetes.protobuf",
                body: b"k8s\x00\x0a\x00",
                host: "",
            },
        );
        assert_eq!(
            (r.status, r.body["reason"].as_str()),
            (415, Some("UnsupportedMediaType"))
        );
        assert_eq!(c.snapshot(), before);
        assert!(is_json("application/json; charset=utf-8") && is_json(""));
    }

    #[test]
    fn endpoints_requests_carry_the_deprecation_warning() {
        let mut c = Cluster::kind();
        let r = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/default/endpoints",
            TABLE,
            "",
        );
        assert_eq!(r.warning, Some(ENDPOINTS_WARNING));
        let r = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/default/endpoints/nosuch",
            JSON,
            "",
        );
        assert_eq!((r.status, r.warning), (404, Some(ENDPOINTS_WARNING)));
        let r = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/default/services",
            JSON,
            "",
        );
        assert_eq!(r.warning, None);
    }

    #[test]
    fn deployment_scale_subresource() {
        let mut c = Cluster::kind();
        call(
            &mut c,
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            JSON,
            &yaml_to_json(DEPLOYMENT),
        );
        c.settle();
        let path = "/apis/apps/v1/namespaces/default/deployments/httpd/scale";
        let r = call(&mut c, "GET", path, JSON, "");
        assert_eq!(r.body["kind"], "Scale");
        assert_eq!(r.body["spec"]["replicas"], 3);
        assert_eq!(r.body["status"]["selector"], "app=httpd");
        let scale_patch = |c: &mut Cluster, body: &str| {
            handle(
                c,
                &Request {
                    method: "PATCH",
                    path,
                    query: "",
                    accept: JSON,
                    content_type: "application/merge-patch+json",
                    body: body.as_bytes(),
                    host: "",
                },
            )
        };
        let r = scale_patch(&mut c, r#"{"spec":{"replicas":5}}"#);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["spec"]["replicas"], 5);
        c.settle();
        assert_eq!(c.list(Kind::Pod, Some("default")).count(), 5);
        let before = c.snapshot();
        let r = scale_patch(&mut c, r#"{"spec":{"replicas":-1}}"#);
        assert_eq!(r.status, 422);
        assert_eq!(r.body["details"]["kind"], "Scale");
        assert_eq!(
            r.body["details"]["causes"][0]["message"],
            "Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(c.snapshot(), before);
        assert_eq!(
            route("/apis/apps/v1/namespaces/default/nosuch/x/scale"),
            None
        );
        assert_eq!(route("/api/v1/namespaces/default/services/x/scale"), None);
    }

    #[test]
    fn discovery_answers_legacy_or_aggregated_by_accept() {
        let mut c = Cluster::kind();
        let r = call(&mut c, "GET", "/api", JSON, "");
        assert_eq!(r.body["kind"], "APIVersions");
        let r = call(
            &mut c,
            "GET",
            "/apis",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
            "",
        );
        assert_eq!(r.content_type, discovery::AGGREGATED_CONTENT_TYPE);
        assert_eq!(r.body["items"][0]["metadata"]["name"], "apps");
        let r = call(&mut c, "GET", "/version", JSON, "");
        assert_eq!(r.body["gitVersion"], "v1.33.1");
        let r = call(&mut c, "GET", "/openapi/v2", JSON, "");
        assert_eq!(
            (r.status, r.content_type),
            (200, discovery::OPENAPI_V2_CONTENT_TYPE)
        );
        assert_eq!(r.body, Value::Null);
    }
}
