//! Label selectors (`k8s.io/apimachinery/pkg/labels`): map selectors as Services use them and
//! `LabelSelector`s (matchLabels + matchExpressions) as Deployments and ReplicaSets use them,
//! plus the `key=value,key2=value2` text form kubectl prints.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Labels of an object; `None` means no labels.
pub type Labels = BTreeMap<String, String>;

/// Whether every `key=value` of `selector` is in `labels` (a Service selector). An empty selector
/// matches everything, which is why the controllers treat an empty Service selector as "none".
pub fn map_matches(selector: &BTreeMap<String, String>, labels: Option<&Labels>) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether a `LabelSelector` matches `labels` (`metav1.LabelSelectorAsSelector`).
/// An empty selector matches everything; a nil selector (None) matches nothing.
pub fn selector_matches(selector: Option<&LabelSelector>, labels: Option<&Labels>) -> bool {
    let Some(sel) = selector else { return false };
    let empty = Labels::new();
    let labels = labels.unwrap_or(&empty);
    if !sel
        .match_labels
        .as_ref()
        .is_none_or(|m| map_matches(m, Some(labels)))
    {
        return false;
    }
    sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or(&[]);
        let got = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => got.is_some_and(|v| values.contains(v)),
            "NotIn" => got.is_none_or(|v| !values.contains(v)),
            "Exists" => got.is_some(),
            "DoesNotExist" => got.is_none(),
            _ => false,
        }
    })
}

/// `app=httpd,tier=web`, as kubectl prints selectors (keys sorted).
pub fn format_map(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A `LabelSelector` in kubectl's text form: `app=httpd,tier in (a,b),!gone`.
pub fn format_selector(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            op => format!("{} {op} ({values})", e.key),
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn map_and_expression_selectors() {
        let l = labels(&[("app", "httpd"), ("tier", "web")]);
        assert!(map_matches(&labels(&[("app", "httpd")]), Some(&l)));
        assert!(!map_matches(&labels(&[("app", "web")]), Some(&l)));
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "httpd")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["web".into(), "api".into()]),
                },
                LabelSelectorRequirement {
                    key: "gone".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        assert!(selector_matches(Some(&sel), Some(&l)));
        assert!(!selector_matches(None, Some(&l)));
        assert_eq!(format_selector(&sel), "app=httpd,tier in (web,api),!gone");
    }
}
