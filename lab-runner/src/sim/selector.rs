//! `labelSelector` and `fieldSelector` query parameters, parsed and matched as the apiserver
//! does (`k8s.io/apimachinery/pkg/labels/selector.go` and `pkg/fields/selector.go`), cut down to
//! the forms kubectl sends: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.

use lab_core::Object;
use std::collections::BTreeMap;

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Req {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Req>);

/// Splits at commas outside parentheses (`a in (x,y),b` has two terms).
fn split_terms(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn values(list: &str) -> Option<Vec<String>> {
    let inner = list.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl LabelSelector {
    /// Parses `labelSelector`; the error is the message of the apiserver's 400 BadRequest.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for term in split_terms(s) {
            let t = term.trim();
            let bad = || format!("unable to parse requirement: found '{t}', expected: identifier");
            let req = if let Some((k, v)) = t.split_once("!=") {
                Req::NotIn(k.trim().into(), vec![v.trim().into()])
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                Req::In(k.trim().into(), vec![v.trim().into()])
            } else if let Some((k, rest)) = t.split_once(" notin ") {
                Req::NotIn(k.trim().into(), values(rest).ok_or_else(bad)?)
            } else if let Some((k, rest)) = t.split_once(" in ") {
                Req::In(k.trim().into(), values(rest).ok_or_else(bad)?)
            } else if let Some(k) = t.strip_prefix('!') {
                Req::NotExists(k.trim().into())
            } else {
                Req::Exists(t.into())
            };
            let key = match &req {
                Req::In(k, _) | Req::NotIn(k, _) | Req::Exists(k) | Req::NotExists(k) => k,
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(bad());
            }
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        self.0.iter().all(|r| match r {
            Req::In(k, vs) => get(k).is_some_and(|v| vs.contains(v)),
            Req::NotIn(k, vs) => get(k).is_none_or(|v| !vs.contains(v)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector: `field=value` / `field!=value` terms over the fields the apiserver
/// indexes (`metadata.name`, `metadata.namespace`; Events also `involvedObject.*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `fieldSelector`; the error is the message of the apiserver's 400 BadRequest.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector(terms));
        }
        for t in s.split(',') {
            let (field, eq, value) = if let Some((f, v)) = t.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: '{s}'; can't understand '{t}'"));
            };
            terms.push((field.trim().to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    /// Whether `object` satisfies every term; a field this kind does not index is the error the
    /// apiserver gives (`field label not supported: …`).
    pub fn matches(&self, object: &Object) -> Result<bool, String> {
        for (field, eq, want) in &self.0 {
            let have = field_value(object, field)
                .ok_or_else(|| format!("field label not supported: {field}"))?;
            if (have == *want) != *eq {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn field_value(object: &Object, field: &str) -> Option<String> {
    match field {
        "metadata.name" => return Some(object.name().to_string()),
        "metadata.namespace" => return Some(object.namespace().to_string()),
        _ => {}
    }
    if let Object::Pod(p) = object {
        // The pod fields the apiserver indexes (pkg/registry/core/pod/strategy.go
        // PodToSelectableFields); `describe node` lists a node's pods with them.
        let spec = p.spec.as_ref();
        let status = p.status.as_ref();
        let v = match field {
            "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
            "spec.restartPolicy" => spec.and_then(|s| s.restart_policy.clone()),
            "spec.schedulerName" => spec.and_then(|s| s.scheduler_name.clone()),
            "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()),
            "status.phase" => status.and_then(|s| s.phase.clone()),
            "status.podIP" => status.and_then(|s| s.pod_ip.clone()),
            "status.nominatedNodeName" => status.and_then(|s| s.nominated_node_name.clone()),
            _ => return None,
        };
        return Some(v.unwrap_or_default());
    }
    let Object::Event(e) = object else {
        return None;
    };
    let o = &e.involved_object;
    let v = match field {
        "involvedObject.name" => &o.name,
        "involvedObject.namespace" => &o.namespace,
        "involvedObject.kind" => &o.kind,
        "involvedObject.uid" => &o.uid,
        "involvedObject.apiVersion" => &o.api_version,
        "involvedObject.fieldPath" => &o.field_path,
        "involvedObject.resourceVersion" => &o.resource_version,
        "reason" => &e.reason,
        "type" => &e.type_,
        _ => return None,
    };
    Some(v.clone().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_forms() {
        let l = labels(&[("app", "httpd"), ("tier", "web")]);
        let ok = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&l));
        assert!(ok("app=httpd"));
        assert!(ok("app==httpd,tier"));
        assert!(!ok("app!=httpd"));
        assert!(ok("app in (nginx, httpd),!missing"));
        assert!(!ok("app notin (httpd)"));
        assert!(!ok("missing"));
        assert!(ok(""));
        assert!(!LabelSelector::parse("app=x").unwrap().matches(None));
        assert!(LabelSelector::parse("a b").is_err());
        assert!(LabelSelector::parse("x in y").is_err());
    }

    #[test]
    fn field_selector_terms_and_unsupported_fields() {
        let c = lab_core::Cluster::kind();
        let node = c
            .get(lab_core::Kind::Node, "", "kind-worker")
            .expect("kind-worker exists");
        let sel = FieldSelector::parse("metadata.name=kind-worker").unwrap();
        assert_eq!(sel.matches(node), Ok(true));
        let sel = FieldSelector::parse("metadata.name!=kind-worker").unwrap();
        assert_eq!(sel.matches(node), Ok(false));
        let sel = FieldSelector::parse("spec.nodeName=x").unwrap();
        assert_eq!(
            sel.matches(node),
            Err("field label not supported: spec.nodeName".into())
        );
        assert!(FieldSelector::parse("nonsense").is_err());
        let coredns = c
            .list(lab_core::Kind::Pod, Some("kube-system"))
            .find(|p| p.name().starts_with("coredns-"))
            .expect("a coredns pod");
        let on_cp = "spec.nodeName=kind-control-plane,status.phase!=Succeeded,status.phase!=Failed";
        assert_eq!(
            FieldSelector::parse(on_cp).unwrap().matches(coredns),
            Ok(true)
        );
        let sel = FieldSelector::parse("spec.nodeName=kind-worker").unwrap();
        assert_eq!(sel.matches(coredns), Ok(false));
    }
}
