//! The YAML editor's errors, placed at the field they name.
//!
//! `kubectl apply -f` reports a decoding error with its line (lab-core's manifest parser knows
//! it) and an apiserver rejection with a field path (`spec.ports[0].nodePort`). The editor shows
//! the message as kubectl prints it and, for a field path, finds the line of that field in the
//! document so the page can point at it: [`locate`] walks the document's block-style YAML by
//! indentation, the way a reader finds `spec:` → `ports:` → item 0 → `nodePort:`.

use lab_core::{ApiError, ApplyError};

/// An apply error as the editor shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditorError {
    /// The message, as kubectl prints it.
    pub message: String,
    /// The 1-based line of the whole text it points at, when known.
    pub line: Option<usize>,
    /// The field path, when the error names one.
    pub field: Option<String>,
}

impl EditorError {
    /// The editor's view of `error`, raised by applying `text`.
    pub fn from_apply(text: &str, error: &ApplyError) -> EditorError {
        match error {
            ApplyError::Manifest(e) => EditorError {
                message: e.to_string(),
                line: e
                    .line
                    .map(|l| l as usize)
                    .or_else(|| e.field.as_deref().and_then(|f| locate(text, e.document, f))),
                field: e.field.clone(),
            },
            ApplyError::Api { document, error } => {
                let field = match error {
                    ApiError::Invalid { causes, .. } => causes.first().map(|c| c.field.clone()),
                    _ => None,
                };
                EditorError {
                    message: error.kubectl_message(),
                    line: field.as_deref().and_then(|f| locate(text, *document, f)),
                    field,
                }
            }
        }
    }
}

/// One step of a field path: a key or a list index.
#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while !rest.is_empty() {
            let (idx, after) = rest.split_once(']')?;
            out.push(Step::Index(idx.parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    Some(out)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The 1-based line (in the whole `text`) of field `path` in document `document` (1-based,
/// counting non-empty documents as lab-core does), for block-style YAML. `None` when the path
/// is not written out (a defaulted field, flow style, JSON).
pub fn locate(text: &str, document: usize, path: &str) -> Option<usize> {
    let steps = steps(path)?;
    // Lines of the wanted document, with their line numbers.
    let mut docs: Vec<Vec<(usize, &str)>> = vec![Vec::new()];
    for (i, l) in text.lines().enumerate() {
        if l.starts_with("---") {
            docs.push(Vec::new());
        } else {
            docs.last_mut()?.push((i + 1, l));
        }
    }
    let meaningful = |l: &str| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    };
    let doc = docs
        .into_iter()
        .filter(|d| d.iter().any(|(_, l)| meaningful(l)))
        .nth(document.checked_sub(1)?)?;
    let lines: Vec<(usize, &str)> = doc.into_iter().filter(|(_, l)| meaningful(l)).collect();

    // The block being searched: lines[lo..hi], whose keys sit at column `col`.
    let (mut lo, mut hi, mut col) = (0, lines.len(), 0usize);
    let mut found = None;
    for step in steps {
        let mut hit = None;
        match step {
            Step::Key(key) => {
                for (i, (_, l)) in lines.iter().enumerate().take(hi).skip(lo) {
                    // A key may sit after a list item's dash: `- name: x` at column col-2.
                    let content = &l[col.min(l.len())..];
                    if indent(l) == col && key_is(content, key)
                        || indent(l) + 2 == col
                            && key_is(l.trim_start().strip_prefix("- ").unwrap_or(""), key)
                    {
                        hit = Some(i);
                        break;
                    }
                }
            }
            Step::Index(n) => {
                let mut seen = 0;
                for (i, (_, l)) in lines.iter().enumerate().take(hi).skip(lo) {
                    if indent(l) == col && l.trim_start().starts_with("- ")
                        || l.trim_start() == "-" && indent(l) == col
                    {
                        if seen == n {
                            hit = Some(i);
                            break;
                        }
                        seen += 1;
                    }
                }
            }
        }
        let i = hit?;
        found = Some(lines[i].0);
        // The block under this line: the following lines indented deeper than it.
        let base = indent(lines[i].1);
        let end = lines[i + 1..]
            .iter()
            .position(|(_, l)| {
                indent(l) <= base
                    && !(indent(l) == base
                        && l.trim_start().starts_with("- ")
                        && matches!(step, Step::Key(_)))
            })
            .map_or(hi.min(lines.len()), |p| i + 1 + p);
        let is_item = matches!(step, Step::Index(_));
        lo = if is_item { i } else { i + 1 };
        hi = end;
        col = if is_item {
            // Keys of a list item line up after its dash.
            base + 2
        } else {
            lines[lo..hi]
                .iter()
                .map(|(_, l)| indent(l))
                .min()
                .unwrap_or(base + 2)
        };
    }
    found
}

/// Where 1-based `line` starts and ends in `text`, in UTF-16 units (what the DOM's
/// `setSelectionRange` counts), so the page can select the line an error points at.
pub fn line_range(text: &str, line: usize) -> Option<(u32, u32)> {
    let mut start = 0u32;
    for (i, l) in text.split('\n').enumerate() {
        let len = l.encode_utf16().count() as u32;
        if i + 1 == line {
            return Some((start, start + len));
        }
        start += len + 1;
    }
    None
}

fn key_is(content: &str, key: &str) -> bool {
    let content = content.trim_start_matches("- ");
    content
        .strip_prefix(key)
        .or_else(|| {
            content
                .strip_prefix('"')
                .and_then(|c| c.strip_prefix(key))
                .and_then(|c| c.strip_prefix('"'))
        })
        .is_some_and(|rest| rest.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::Cluster;

    const TWO: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd
---
# the Service
apiVersion: v1
kind: Service
metadata:
  name: httpd-svc
spec:
  type: NodePort
  selector:
    app: httpd
  ports:
  - name: http
    port: 8080
    targetPort: 80
  - name: other
    port: 9090
    nodePort: 40000
";

    #[test]
    fn line_ranges_count_utf16_units() {
        assert_eq!(line_range("a\nbc\nd", 2), Some((2, 4)));
        assert_eq!(line_range("名字\nx", 2), Some((3, 4)));
        assert_eq!(line_range("a", 3), None);
    }

    #[test]
    fn paths_are_found_by_indentation() {
        assert_eq!(locate(TWO, 2, "spec.type"), Some(12));
        assert_eq!(locate(TWO, 2, "spec.selector.app"), Some(14));
        assert_eq!(locate(TWO, 2, "spec.ports[0]"), Some(16));
        assert_eq!(locate(TWO, 2, "spec.ports[0].port"), Some(17));
        assert_eq!(locate(TWO, 2, "spec.ports[1].name"), Some(19));
        assert_eq!(locate(TWO, 2, "spec.ports[1].nodePort"), Some(21));
        assert_eq!(locate(TWO, 1, "metadata.name"), Some(4));
        assert_eq!(locate(TWO, 2, "spec.clusterIP"), None, "not written out");
        assert_eq!(locate(TWO, 3, "spec"), None);
        assert_eq!(locate(TWO, 2, "spec.ports[bad]"), None);
    }

    #[test]
    fn an_invalid_service_points_at_its_field() {
        let mut c = Cluster::kind();
        let bad = &TWO[TWO.find("# the Service").unwrap()..];
        let err = c.apply_manifests(bad).unwrap_err();
        let e = EditorError::from_apply(bad, &err);
        assert_eq!(e.field.as_deref(), Some("spec.ports[1].nodePort"));
        assert!(
            e.message.starts_with("The Service \"httpd-svc\" is invalid: spec.ports[1].nodePort: Invalid value: 40000: provided port is not in the valid range."),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(16));
    }

    #[test]
    fn a_typo_in_a_field_name_points_at_its_line() {
        let mut c = Cluster::kind();
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  selectr:\n    app: x\n  ports:\n  - port: 80\n";
        let err = c.apply_manifests(text).unwrap_err();
        let e = EditorError::from_apply(text, &err);
        assert!(
            e.message.contains("unknown field \"spec.selectr\""),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(6), "{e:?}");
        let text = "apiVersion: v1\nkind: Service\nmetadata: [\n";
        let e = EditorError::from_apply(text, &c.apply_manifests(text).unwrap_err());
        assert!(e.line.is_some(), "a syntax error has a line: {e:?}");
    }
}
