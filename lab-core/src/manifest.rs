//! Manifest decoding: multi-document YAML or JSON → typed [`Object`]s.
//!
//! Mirrors what `kubectl apply -f` plus the apiserver's decoder do: each document is parsed to a
//! JSON value (YAML via `serde-saphyr`, chosen over the `yaml_serde` fork because it never panics,
//! reports line/column for syntax errors and builds for wasm32), its `apiVersion`/`kind` pick the
//! type, and the typed object is checked against the input like `fieldValidation=Strict`:
//! a field the type does not know is an error (`strict decoding error: unknown field "spec.selectr"`).
//! `List` documents (what `kubectl get -o yaml` prints) are expanded into their items.

use crate::object::{Kind, Object};
use serde_json::Value;
use std::fmt;

/// Why a manifest could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestErrorKind {
    /// The text is not valid YAML/JSON.
    Syntax,
    /// `apiVersion` or `kind` is missing or not a string.
    MissingTypeInfo,
    /// The `apiVersion`/`kind` pair is not one the simulator serves.
    UnknownKind,
    /// A field has the wrong type (`replicas: three`).
    FieldType,
    /// Fields the type does not have (`spec.selectr`).
    UnknownField,
    /// The document is not a mapping.
    NotAnObject,
}

/// A manifest error, pointing at the document (1-based, counting non-empty documents), the line
/// and column where known, and the field path where one applies.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    /// What went wrong.
    pub kind: ManifestErrorKind,
    /// 1-based index of the document in the stream.
    pub document: usize,
    /// 1-based line in the whole input, where known.
    pub line: Option<u64>,
    /// 1-based column, where known.
    pub column: Option<u64>,
    /// The field path (`spec.ports[0].port`), where one applies.
    pub field: Option<String>,
    /// The message, worded like the apiserver's.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})")?,
            (Some(l), None) => write!(f, " (line {l})")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// The result of decoding one JSON value (no positions): used by the apiserver-like front ends too.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    /// What went wrong.
    pub kind: ManifestErrorKind,
    /// The offending field, where one applies.
    pub field: Option<String>,
    /// The message, worded like the apiserver's (for a Status of reason BadRequest).
    pub message: String,
}

/// Decodes one JSON value into a typed object, rejecting unknown fields like `fieldValidation=Strict`.
pub fn decode_object(value: Value) -> Result<Object, DecodeError> {
    let map = value.as_object().ok_or_else(|| DecodeError {
        kind: ManifestErrorKind::NotAnObject,
        field: None,
        message: "the object is not a mapping".into(),
    })?;
    let api_version = map.get("apiVersion").and_then(Value::as_str);
    let kind_name = map.get("kind").and_then(Value::as_str);
    let (api_version, kind_name) = match (api_version, kind_name) {
        (Some(a), Some(k)) if !a.is_empty() && !k.is_empty() => (a, k),
        (a, k) => {
            let mut missing = vec![];
            if a.is_none_or(str::is_empty) {
                missing.push("apiVersion not set");
            }
            if k.is_none_or(str::is_empty) {
                missing.push("kind not set");
            }
            return Err(DecodeError {
                kind: ManifestErrorKind::MissingTypeInfo,
                field: Some(
                    if k.is_none_or(str::is_empty) {
                        "kind"
                    } else {
                        "apiVersion"
                    }
                    .into(),
                ),
                message: format!("error validating data: [{}]", missing.join(", ")),
            });
        }
    };
    let Some(kind) = Kind::from_api_version_kind(api_version, kind_name) else {
        let version = api_version.rsplit('/').next().unwrap_or(api_version);
        return Err(DecodeError {
            kind: ManifestErrorKind::UnknownKind,
            field: Some("kind".into()),
            message: format!(
                "no matches for kind {kind_name:?} in version {api_version:?} (svclab serves {}; version {version})",
                served_kinds()
            ),
        });
    };
    let prefix = format!(
        "{} in version {:?} cannot be handled as a {}",
        kind.name(),
        kind.version(),
        kind.name()
    );
    let object = Object::from_json(kind, value.clone()).map_err(|e| {
        let path = e.path().to_string();
        DecodeError {
            kind: ManifestErrorKind::FieldType,
            field: Some(path.clone()),
            message: format!("{prefix}: {path}: {}", e.inner()),
        }
    })?;
    let mut unknown = Vec::new();
    unknown_fields(&value, &object.to_json(), &mut String::new(), &mut unknown);
    if !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        return Err(DecodeError {
            kind: ManifestErrorKind::UnknownField,
            field: unknown.first().cloned(),
            message: format!("{prefix}: strict decoding error: {}", list.join(", ")),
        });
    }
    Ok(object)
}

fn served_kinds() -> String {
    let names: Vec<String> = Kind::ALL
        .iter()
        .map(|k| format!("{}/{}", k.api_version(), k.name()))
        .collect();
    names.join(", ")
}

/// Collects the paths of fields present (and not null) in `input` but lost in the typed round trip.
fn unknown_fields(input: &Value, typed: &Value, path: &mut String, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match b.get(k) {
                    Some(t) => unknown_fields(v, t, path, out),
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, t)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                unknown_fields(v, t, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// One document of a stream: its text and the 1-based line it starts on.
struct Document {
    text: String,
    first_line: u64,
}

/// Splits a YAML stream at `---` markers (column 0, as YAML requires) and drops `...` end markers.
fn split_documents(input: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut first_line = 1u64;
    for (i, line) in input.lines().enumerate() {
        let lineno = i as u64 + 1;
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker || line == "..." {
            docs.push(Document {
                text: std::mem::take(&mut current),
                first_line,
            });
            // Keep line numbers aligned: the marker line becomes an empty first line.
            current.push('\n');
            first_line = lineno;
            if let Some(rest) = line.strip_prefix("---").filter(|_| is_marker) {
                // `--- {json}` or `--- !tag` style content after the marker stays in the document.
                current.clear();
                current.push_str(rest);
                current.push('\n');
            }
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    docs.push(Document {
        text: current,
        first_line,
    });
    docs.retain(|d| {
        d.text.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
    });
    docs
}

/// Parses a multi-document YAML or JSON stream into objects, in order.
///
/// The first bad document stops the parse; nothing is returned for the others, so a caller that
/// applies the result never applies half a file because of a typo.
pub fn parse_manifests(input: &str) -> Result<Vec<Object>, ManifestError> {
    let mut out = Vec::new();
    for (idx, doc) in split_documents(input).into_iter().enumerate() {
        let document = idx + 1;
        let value: Value = serde_saphyr::from_str(&doc.text).map_err(|e| {
            let loc = e.location();
            ManifestError {
                kind: ManifestErrorKind::Syntax,
                document,
                line: loc.map(|l| l.line() + doc.first_line - 1),
                column: loc.map(|l| l.column()),
                field: None,
                message: format!(
                    "error converting YAML to JSON: {}",
                    first_line_of(&e.to_string())
                ),
            }
        })?;
        let items = match &value {
            Value::Object(m)
                if m.get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k == "List" || k.ends_with("List"))
                    && m.contains_key("items") =>
            {
                m.get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            }
            Value::Null => continue,
            _ => vec![value],
        };
        for item in items {
            let object = decode_object(item).map_err(|e| {
                let pos = e.field.as_deref().and_then(|f| locate_field(&doc.text, f));
                ManifestError {
                    kind: e.kind,
                    document,
                    line: pos.map(|(l, _)| l + doc.first_line - 1),
                    column: pos.map(|(_, c)| c),
                    field: e.field,
                    message: e.message,
                }
            })?;
            out.push(object);
        }
    }
    Ok(out)
}

fn first_line_of(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Finds the 1-based line and column of a field path (`spec.ports[0].port`) in block-style YAML.
/// Returns `None` for flow style or anything it cannot follow; it is a pointer for the learner,
/// never used to decide anything.
fn locate_field(text: &str, path: &str) -> Option<(u64, u64)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            segments.push(Seg::Key(key));
        }
        for idx in rest.split('[') {
            if let Some(n) = idx
                .trim_end_matches(']')
                .parse::<usize>()
                .ok()
                .filter(|_| !idx.is_empty())
            {
                segments.push(Seg::Index(n));
            }
        }
    }
    // (start, end) line range of the current node's children, and the parent's indentation.
    let (mut start, mut end, mut parent_indent) = (0usize, lines.len(), -1i64);
    let mut found = None;
    for seg in segments {
        let mut hit = None;
        let mut child_indent: Option<i64> = None;
        let mut count = 0usize;
        for (i, raw) in lines.iter().enumerate().take(end).skip(start) {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = (raw.len() - trimmed.len()) as i64;
            // Block sequences may sit at their parent key's indentation (`ports:` / `- port: 80`).
            let same_level_item =
                matches!(seg, Seg::Index(_)) && indent == parent_indent && trimmed.starts_with('-');
            if indent <= parent_indent && !same_level_item {
                break;
            }
            match seg {
                Seg::Key(k) => {
                    // Keys of a mapping that is itself a list item start after "- ".
                    let (indent, body) = match trimmed.strip_prefix("- ") {
                        Some(b) if child_indent.is_none() || child_indent == Some(indent + 2) => {
                            (indent + 2, b)
                        }
                        _ => (indent, trimmed),
                    };
                    let ci = *child_indent.get_or_insert(indent);
                    if indent == ci
                        && (body.starts_with(&format!("{k}:"))
                            || body.starts_with(&format!("\"{k}\":")))
                    {
                        hit = Some((i, indent));
                        break;
                    }
                }
                Seg::Index(n) => {
                    let ci = *child_indent.get_or_insert(indent);
                    if indent == ci && trimmed.starts_with('-') {
                        if count == n {
                            hit = Some((i, indent));
                            break;
                        }
                        count += 1;
                    }
                }
            }
        }
        let (line, indent) = hit?;
        found = Some((line as u64 + 1, indent as u64 + 1));
        // Children of this node: following lines indented deeper than it (a list item's keys sit at
        // indent + 2, which is still deeper than the dash).
        start = if matches!(seg, Seg::Index(_)) {
            line
        } else {
            line + 1
        };
        parent_indent = if matches!(seg, Seg::Index(_)) {
            indent - 1
        } else {
            indent
        };
        end = lines.len();
        if matches!(seg, Seg::Index(_)) {
            // The item runs until the next dash at the same indentation.
            if let Some(next) = lines.iter().enumerate().skip(line + 1).find(|(_, l)| {
                let t = l.trim_start();
                !t.is_empty() && ((l.len() - t.len()) as i64) <= indent
            }) {
                end = next.0;
            }
        }
    }
    found
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  ports:\n  - port: 80\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\nspec:\n  selectr:\n    matchLabels: {app: b}\n  template:\n    metadata: {labels: {app: b}}\n    spec:\n      containers: [{name: c, image: httpd}]\n";

    #[test]
    fn parses_multi_document_yaml() {
        let objs = parse_manifests(&TWO.replace("selectr", "selector")).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].kind(), Kind::Service);
        assert_eq!(objs[1].kind(), Kind::Deployment);
        assert_eq!(objs[1].name(), "b");
    }

    #[test]
    fn unknown_field_names_document_line_and_field() {
        let err = parse_manifests(TWO).unwrap_err();
        assert_eq!(err.kind, ManifestErrorKind::UnknownField);
        assert_eq!(err.document, 2);
        assert_eq!(err.field.as_deref(), Some("spec.selectr"));
        assert_eq!(err.line, Some(14));
        assert_eq!(err.column, Some(3));
        assert_eq!(
            err.to_string(),
            "document 2 (line 14, column 3): Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.selectr\""
        );
    }

    #[test]
    fn syntax_error_has_line_of_whole_stream() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [b\n";
        let err = parse_manifests(text).unwrap_err();
        assert_eq!(err.kind, ManifestErrorKind::Syntax);
        assert_eq!(err.document, 2);
        assert!(err.line.unwrap() >= 9, "{err:?}");
        assert!(
            err.message.starts_with("error converting YAML to JSON: "),
            "{err}"
        );
    }

    #[test]
    fn unknown_kind_and_missing_kind() {
        let err = parse_manifests("apiVersion: v1\nkind: Foo\nmetadata: {name: x}\n").unwrap_err();
        assert_eq!(err.kind, ManifestErrorKind::UnknownKind);
        assert!(
            err.message
                .starts_with("no matches for kind \"Foo\" in version \"v1\""),
            "{err}"
        );
        assert_eq!(err.line, Some(2));
        let err = parse_manifests("apiVersion: v1\nmetadata: {name: x}\n").unwrap_err();
        assert_eq!(err.kind, ManifestErrorKind::MissingTypeInfo);
        assert_eq!(err.message, "error validating data: [kind not set]");
    }

    #[test]
    fn field_type_error_names_the_path() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: three\n";
        let err = parse_manifests(text).unwrap_err();
        assert_eq!(err.kind, ManifestErrorKind::FieldType);
        assert_eq!(err.field.as_deref(), Some("spec.replicas"));
        assert_eq!(err.line, Some(6));
        assert!(
            err.message
                .contains("spec.replicas: invalid type: string \"three\""),
            "{err}"
        );
    }

    #[test]
    fn json_and_lists_and_nulls() {
        let json = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x","creationTimestamp":null}}]}"#;
        let objs = parse_manifests(json).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].kind(), Kind::Namespace);
        assert!(parse_manifests("---\n# nothing\n---\n").unwrap().is_empty());
    }

    #[test]
    fn locate_field_inside_list_items() {
        let text = "spec:\n  ports:\n  - port: 80\n    name: a\n  - port: 81\n    nme: b\n";
        assert_eq!(locate_field(text, "spec.ports[1].nme"), Some((6, 5)));
        assert_eq!(locate_field(text, "spec.ports[0].port"), Some((3, 5)));
        assert_eq!(locate_field(text, "spec.nothing"), None);
    }
}
