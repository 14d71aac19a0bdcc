//! `labelSelector` and `fieldSelector` query parameters, parsed and matched as the apiserver
//! does (`pkg/fields/selector.go`; label selectors are `lab_core::labels::TextSelector`).

use lab_core::Object;
/// `labelSelector`, parsed and matched by lab-core (the web terminal's `kubectl get -l` uses it
/// too).
pub use lab_core::labels::TextSelector as LabelSelector;

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
