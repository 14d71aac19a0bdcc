//! The patch formats kubectl sends: JSON merge patch (RFC 7386; `label`, `scale`, `patch
//! --type=merge`), strategic merge patch (client-side `apply`, `patch`), and JSON patch
//! (RFC 6902; `patch --type=json`).
//!
//! The strategic merge mirrors `k8s.io/apimachinery/pkg/util/strategicpatch/patch.go`: lists
//! with a `patchMergeKey` in the Kubernetes types merge element by element, every other list is
//! replaced whole, and the directives `$patch` (replace/delete/merge), `$retainKeys`,
//! `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>` apply. The merge keys come
//! from the `patchMergeKey` struct tags of `k8s.io/api` for the fields the course's kinds use.

use serde_json::{Map, Value};

/// RFC 7386: objects merge, `null` deletes a key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// The `patchMergeKey` of the list at `path` (object keys from the root, list indices left out),
/// or `None` for a list that is replaced whole.
fn merge_key(path: &[String]) -> Option<&'static str> {
    let last = path.last()?.as_str();
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    let in_container = matches!(
        parent,
        Some("containers" | "initContainers" | "ephemeralContainers")
    );
    Some(match last {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "ports" if in_container => "containerPort",
        // Service.spec.ports (EndpointSlice and Endpoints ports are atomic).
        "ports" if path.len() == 2 && path[0] == "spec" => "port",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "ownerReferences" => "uid",
        "conditions" => "type",
        _ => return None,
    })
}

/// Primitive lists with `patchStrategy:"merge"`: their elements are a set.
fn is_primitive_merge_list(path: &[String]) -> bool {
    path == ["metadata", "finalizers"]
}

/// Applies a strategic merge patch to `target`. The error is the apiserver's BadRequest message.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), String> {
    let mut path = Vec::new();
    match merge_object(target, patch, &mut path)? {
        Outcome::Keep => Ok(()),
        Outcome::Delete => {
            Err("cannot delete the whole object with a strategic merge patch".into())
        }
    }
}

enum Outcome {
    Keep,
    Delete,
}

fn merge_object(
    target: &mut Value,
    patch: &Value,
    path: &mut Vec<String>,
) -> Result<Outcome, String> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(Outcome::Keep);
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("delete") => return Ok(Outcome::Delete),
        Some("replace") => {
            let mut fresh = Value::Object(Map::new());
            let mut rest = p.clone();
            rest.remove("$patch");
            merge_object(&mut fresh, &Value::Object(rest), path)?;
            *target = fresh;
            return Ok(Outcome::Keep);
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type: {other}")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let mut orders: Vec<(String, &Vec<Value>)> = Vec::new();
    for (k, v) in p {
        if k == "$patch" || k == "$retainKeys" {
            continue;
        }
        if let Some(list) = k.strip_prefix("$setElementOrder/") {
            let order = v.as_array().ok_or("$setElementOrder must be a list")?;
            orders.push((list.to_string(), order));
            continue;
        }
        let t = target.as_object_mut().ok_or("not an object")?;
        if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let gone = v
                .as_array()
                .ok_or("$deleteFromPrimitiveList must be a list")?;
            if let Some(Value::Array(items)) = t.get_mut(list) {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        path.push(k.clone());
        let slot = t.entry(k.clone()).or_insert(Value::Null);
        let outcome = match v {
            Value::Object(_) => merge_object(slot, v, path)?,
            Value::Array(items) => {
                merge_list(slot, items, path)?;
                Outcome::Keep
            }
            _ => {
                *slot = v.clone();
                Outcome::Keep
            }
        };
        path.pop();
        if let Outcome::Delete = outcome {
            t.remove(k);
        }
    }
    let t = target.as_object_mut().ok_or("not an object")?;
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        t.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    for (list, order) in orders {
        path.push(list.clone());
        let key = merge_key(path);
        path.pop();
        if let Some(Value::Array(items)) = t.get_mut(&list) {
            reorder(items, order, key);
        }
    }
    Ok(Outcome::Keep)
}

fn same_element(a: &Value, b: &Value, key: Option<&str>) -> bool {
    match key {
        Some(k) => a.get(k).is_some() && a.get(k) == b.get(k),
        None => a == b,
    }
}

/// `$setElementOrder`: elements named in `order` first, in that order; the rest after.
fn reorder(items: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let mut rest = std::mem::take(items);
    for o in order {
        if let Some(i) = rest.iter().position(|x| same_element(x, o, key)) {
            items.push(rest.remove(i));
        }
    }
    items.extend(rest);
}

fn merge_list(target: &mut Value, patch: &[Value], path: &mut Vec<String>) -> Result<(), String> {
    let replace = patch.iter().any(|i| {
        i.get("$patch").and_then(Value::as_str) == Some("replace")
            && i.as_object().is_some_and(|m| m.len() == 1)
    });
    let key = merge_key(path);
    if replace || (key.is_none() && !is_primitive_merge_list(path)) {
        let mut out = Vec::new();
        for item in patch.iter().filter(|i| i.get("$patch").is_none()) {
            let mut fresh = Value::Null;
            merge_object(&mut fresh, item, path)?;
            out.push(fresh);
        }
        *target = Value::Array(out);
        return Ok(());
    }
    if !target.is_array() {
        // A list the object lacks merges into an empty one (merge keys still required).
        *target = Value::Array(Vec::new());
    }
    let Value::Array(items) = target else {
        return Ok(());
    };
    let Some(key) = key else {
        // A primitive set: add what is missing.
        for v in patch {
            if !items.contains(v) {
                items.push(v.clone());
            }
        }
        return Ok(());
    };
    for p in patch {
        if p.get(key).is_none() {
            return Err(format!(
                "map: {p} does not contain declared merge key: {key}"
            ));
        }
        let existing = items.iter().position(|x| same_element(x, p, Some(key)));
        if p.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = existing {
                items.remove(i);
            }
            continue;
        }
        match existing {
            Some(i) => {
                if let Outcome::Delete = merge_object(&mut items[i], p, path)? {
                    items.remove(i);
                }
            }
            None => {
                let mut fresh = Value::Null;
                merge_object(&mut fresh, p, path)?;
                items.push(fresh);
            }
        }
    }
    Ok(())
}

/// RFC 6902 JSON patch: `add`, `remove`, `replace`, `move`, `copy`, `test`, applied in order;
/// the first failing operation leaves `target` unchanged.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    let mut doc = target.clone();
    for op in ops {
        let name = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or("operation has no \"op\"")?;
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("operation has no \"path\"")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or(format!("{name} operation has no \"value\""))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or(format!("{name} operation has no \"from\""))
        };
        match name {
            "add" => add(&mut doc, path, value()?)?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, value()?)?;
            }
            "move" => {
                let v = remove(&mut doc, from()?)?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let v = doc
                    .pointer(from()?)
                    .cloned()
                    .ok_or(format!("copy: no value at {}", from()?))?;
                add(&mut doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unexpected kind: {other}")),
        }
    }
    *target = doc;
    Ok(())
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or(format!("invalid path: {path}"))?;
    Ok((
        parent.to_string(),
        last.replace("~1", "/").replace("~0", "~"),
    ))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(m)) => {
            m.insert(last, value);
            Ok(())
        }
        Some(Value::Array(a)) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("invalid index in {path}"))?
            };
            if i > a.len() {
                return Err(format!("add operation index out of bounds: {path}"));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!(
            "add operation does not apply: doc is missing path: \"{path}\""
        )),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    let missing = || format!("remove operation does not apply: doc is missing path: \"{path}\"");
    match doc.pointer_mut(&parent) {
        Some(Value::Object(m)) => m.remove(&last).ok_or_else(missing),
        Some(Value::Array(a)) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_merges_objects_and_deletes_nulls() {
        let mut t = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 3}});
        merge_patch(
            &mut t,
            &json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"replicas": 5}}),
        );
        assert_eq!(
            t,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"replicas": 5}})
        );
    }

    #[test]
    fn kubectl_apply_service_port_change() {
        // The body kubectl sends when a manifest's port goes from 80 to 8080 (spec §5).
        let mut t = json!({"spec": {"ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}], "clusterIP": "10.96.0.11"}});
        let p = json!({"spec": {"$setElementOrder/ports": [{"port": 8080}], "ports": [{"port": 8080, "targetPort": 80}, {"$patch": "delete", "port": 80}]}});
        strategic_merge(&mut t, &p).unwrap();
        assert_eq!(
            t,
            json!({"spec": {"ports": [{"port": 8080, "targetPort": 80}], "clusterIP": "10.96.0.11"}})
        );
    }

    #[test]
    fn containers_merge_by_name_and_ports_by_container_port() {
        let mut t = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "httpd", "ports": [{"containerPort": 80}], "args": ["x"]},
            {"name": "b", "image": "busybox"}
        ]}}}});
        let p = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "httpd:2.4", "ports": [{"containerPort": 8080}], "args": ["y"]}]
        }}}});
        strategic_merge(&mut t, &p).unwrap();
        assert_eq!(
            t,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "b", "image": "busybox"},
                {"name": "a", "image": "httpd:2.4", "ports": [{"containerPort": 80}, {"containerPort": 8080}], "args": ["y"]}
            ]}}}})
        );
    }

    #[test]
    fn directives_replace_retain_and_delete_from_primitive_list() {
        let mut t = json!({"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1"}}, "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let p = json!({
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"], "labels": {"$patch": "replace", "y": "2"}},
            "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}
        });
        strategic_merge(&mut t, &p).unwrap();
        assert_eq!(
            t,
            json!({"metadata": {"finalizers": ["b", "c"], "labels": {"y": "2"}}, "spec": {"strategy": {"type": "Recreate"}}})
        );
        assert!(strategic_merge(&mut t, &json!({"$patch": "delete"})).is_err());
        assert!(strategic_merge(&mut t, &json!({"spec": {"ports": [{"name": "x"}]}})).is_err());
    }

    #[test]
    fn json_patch_ops_and_atomic_failure() {
        let mut t = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}});
        json_patch(
            &mut t,
            &json!([
                {"op": "add", "path": "/metadata/labels/b", "value": "2"},
                {"op": "replace", "path": "/spec/ports/0/port", "value": 81},
                {"op": "add", "path": "/spec/ports/-", "value": {"port": 82}},
                {"op": "test", "path": "/metadata/labels/a", "value": "1"},
                {"op": "remove", "path": "/metadata/labels/a"}
            ]),
        )
        .unwrap();
        assert_eq!(
            t,
            json!({"metadata": {"labels": {"b": "2"}}, "spec": {"ports": [{"port": 81}, {"port": 82}]}})
        );
        let before = t.clone();
        let err = json_patch(
            &mut t,
            &json!([
                {"op": "add", "path": "/metadata/labels/c", "value": "3"},
                {"op": "remove", "path": "/nosuch/x"}
            ]),
        );
        assert!(err.is_err());
        assert_eq!(t, before);
    }
}
