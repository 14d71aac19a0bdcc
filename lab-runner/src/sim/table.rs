//! `meta.k8s.io/v1` `Table` objects, the server-side printing kubectl 1.33 relies on for every
//! `get` (it has no client-side printers for built-in kinds: spec §3). The columns and cells come
//! from [`lab_core::printers::table`]; this only shapes them as the apiserver's JSON.

use lab_core::printers;
use lab_core::{Kind, Object};
use serde_json::{Value, json};

/// Whether an `Accept` header asks for a Table (`application/json;as=Table;v=v1;g=meta.k8s.io`).
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let params: Vec<&str> = range.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

/// What each row's `object` holds: the `includeObject` query parameter (`kubectl get
/// --sort-by` asks for `Object`, to sort on any field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    /// The default: a `PartialObjectMetadata`.
    Metadata,
    Object,
}

impl Include {
    /// The `includeObject` parameter's value, if any; the apiserver's default is `Metadata`.
    pub fn from_param(value: Option<&str>) -> Result<Include, String> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(Include::Metadata),
            "None" => Ok(Include::None),
            "Object" => Ok(Include::Object),
            other => Err(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"None\", \"Metadata\", \"Object\""
            )),
        }
    }
}

/// The Table for `objects` of `kind` at virtual time `now_ms`, listed at `resource_version`.
pub fn table_json(kind: Kind, objects: &[&Object], now_ms: i64, resource_version: u64) -> Value {
    table_json_with(kind, objects, now_ms, resource_version, Include::Metadata)
}

/// [`table_json`] with each row's `object` as `include` asks.
pub fn table_json_with(
    kind: Kind,
    objects: &[&Object],
    now_ms: i64,
    resource_version: u64,
    include: Include,
) -> Value {
    let table = printers::table(kind, objects, now_ms);
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "format": c.format,
                "description": "",
                "priority": c.priority,
            })
        })
        .collect();
    let by_key = |ns: &str, name: &str| {
        objects
            .iter()
            .find(|o| o.kind() == kind && o.namespace() == ns && o.name() == name)
    };
    let rows: Vec<Value> = table
        .rows
        .iter()
        .map(|row| {
            let cells: Vec<Value> = row
                .cells
                .iter()
                .zip(&table.columns)
                .map(|(cell, col)| match cell.parse::<i64>() {
                    // Integer columns are JSON numbers upstream; kubectl prints both alike.
                    Ok(n) if col.type_ == "integer" => json!(n),
                    _ => json!(cell),
                })
                .collect();
            let object = by_key(&row.namespace, &row.name);
            // rows[].object carries the metadata kubectl needs for -A, --show-labels and -L.
            let object = match include {
                Include::None => return json!({ "cells": cells }),
                Include::Object => object.map(|o| o.to_json()).unwrap_or(Value::Null),
                Include::Metadata => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": object
                        .map(|o| serde_json::to_value(o.meta()).unwrap_or(Value::Null))
                        .unwrap_or(Value::Null),
                }),
            };
            json!({ "cells": cells, "object": object })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_accept_header_asks_for_a_table() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }

    #[test]
    fn include_object_puts_whole_objects_or_nothing_in_the_rows() {
        let c = lab_core::Cluster::kind();
        let nodes: Vec<&Object> = c.list(Kind::Node, None).collect();
        let rv = c.resource_version();
        let whole = table_json_with(Kind::Node, &nodes, c.now_ms(), rv, Include::Object);
        assert_eq!(whole["rows"][0]["object"]["kind"], "Node");
        assert_eq!(whole["rows"][0]["object"]["apiVersion"], "v1");
        assert!(whole["rows"][0]["object"]["status"].is_object());
        let none = table_json_with(Kind::Node, &nodes, c.now_ms(), rv, Include::None);
        assert!(none["rows"][0].get("object").is_none());
        assert_eq!(Include::from_param(None), Ok(Include::Metadata));
        assert!(Include::from_param(Some("All")).is_err());
    }

    #[test]
    fn node_table_has_upstream_columns_and_row_metadata() {
        let c = lab_core::Cluster::kind();
        let nodes: Vec<&Object> = c.list(Kind::Node, None).collect();
        let t = table_json(Kind::Node, &nodes, c.now_ms(), c.resource_version());
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["rows"].as_array().unwrap().len(), 3);
        assert_eq!(t["rows"][0]["cells"][0], "kind-control-plane");
        assert_eq!(
            t["rows"][0]["object"]["metadata"]["name"],
            "kind-control-plane"
        );
        assert_eq!(
            t["metadata"]["resourceVersion"],
            c.resource_version().to_string()
        );
    }
}
