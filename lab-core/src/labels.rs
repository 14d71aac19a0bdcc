//! Label selectors (`k8s.io/apimachinery/pkg/labels`): map selectors as Services use them and
//! `LabelSelector`s (matchLabels + matchExpressions) as Deployments and ReplicaSets use them,
//! plus the `key=value,key2=value2` text form kubectl prints, and [`TextSelector`], the text
//! form the apiserver parses from `labelSelector=` (and the web terminal from `-l`).

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

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Req {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A label selector in its text form (`labelSelector=`, `kubectl get -l`), parsed as the
/// apiserver does (`k8s.io/apimachinery/pkg/labels/selector.go`), cut down to the forms kubectl
/// sends: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`. Every requirement must
/// hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextSelector(Vec<Req>);

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

impl TextSelector {
    /// Parses `labelSelector`; the error is the message of the apiserver's 400 BadRequest.
    pub fn parse(s: &str) -> Result<TextSelector, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(TextSelector(reqs));
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
        Ok(TextSelector(reqs))
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
    fn label_selector_forms() {
        let l = labels(&[("app", "httpd"), ("tier", "web")]);
        let ok = |s: &str| TextSelector::parse(s).unwrap().matches(Some(&l));
        assert!(ok("app=httpd"));
        assert!(ok("app==httpd,tier"));
        assert!(!ok("app!=httpd"));
        assert!(ok("app in (nginx, httpd),!missing"));
        assert!(!ok("app notin (httpd)"));
        assert!(!ok("missing"));
        assert!(ok(""));
        assert!(!TextSelector::parse("app=x").unwrap().matches(None));
        assert!(TextSelector::parse("a b").is_err());
        assert!(TextSelector::parse("x in y").is_err());
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
