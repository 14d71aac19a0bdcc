//! Watch requests (`GET …?watch=true`): the apiserver's `watch` handler
//! (`k8s.io/apiserver/pkg/endpoints/handlers/watch.go`) as a pure step function. [`Watch::start`]
//! checks the request and queues the initial events; [`Watch::poll`] turns the cluster's watch
//! log since the last poll into the JSON lines to stream. The socket side (`super::serve`) calls
//! `poll` after each change and writes the lines out.
//!
//! Events are Tables when kubectl asks for Tables (spec §4: raw objects would print as
//! `NAME AGE`). With no `resourceVersion` or `0`, the current objects come first as ADDED, as
//! the watch cache does; a resourceVersion older than the log gives one ERROR event with a 410
//! Expired Status, after which kubectl relists.

use super::selector::{FieldSelector, LabelSelector};
use super::table;
use lab_core::store::EventType;
use lab_core::{ApiError, Cluster, Kind, Object, ObjectKey};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// One open watch.
#[derive(Debug)]
pub struct Watch {
    kind: Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    tables: bool,
    /// The resourceVersion the stream has delivered up to.
    seen: u64,
    /// Lines produced at start, sent by the first poll.
    pending: Vec<String>,
    /// Set once an ERROR event went out: the stream ends.
    pub finished: bool,
    /// The objects the client holds as matching: an update that takes one out of the selector
    /// is a DELETED for this watch, one that brings it in an ADDED (the watch cache's filter).
    visible: BTreeSet<ObjectKey>,
}

fn event_type(t: EventType) -> &'static str {
    match t {
        EventType::Added => "ADDED",
        EventType::Modified => "MODIFIED",
        EventType::Deleted => "DELETED",
    }
}

impl Watch {
    /// Opens a watch on `kind` (in `namespace`, or all) from the query's `resourceVersion`;
    /// `Err` is the Status to answer instead (a bad selector or resourceVersion, or 410).
    pub fn start(
        cluster: &Cluster,
        kind: Kind,
        namespace: Option<&str>,
        params: &[(String, String)],
        accept: &str,
    ) -> Result<Watch, ApiError> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let bad = |message: String| ApiError::BadRequest { message };
        let labels = LabelSelector::parse(get("labelSelector").unwrap_or("")).map_err(bad)?;
        let fields = FieldSelector::parse(get("fieldSelector").unwrap_or("")).map_err(bad)?;
        let mut w = Watch {
            kind,
            namespace: namespace.map(String::from),
            labels,
            fields,
            tables: table::wants_table(accept),
            seen: cluster.resource_version(),
            pending: Vec::new(),
            finished: false,
            visible: BTreeSet::new(),
        };
        for o in cluster.list(kind, namespace) {
            if w.wanted(o)? {
                w.visible.insert(o.key());
            }
        }
        match get("resourceVersion").unwrap_or("") {
            "" | "0" => {
                let current: Vec<&Object> = cluster.list(kind, namespace).collect();
                for o in current {
                    if w.wanted(o)? {
                        let line = w.line("ADDED", o, cluster);
                        w.pending.push(line);
                    }
                }
            }
            rv => {
                let rv: u64 = rv.parse().map_err(|_| ApiError::BadRequest {
                    message: format!("invalid resource version: {rv}"),
                })?;
                // Checked now so a stale version is a plain 410 answer, not a stream.
                cluster.watch(rv)?;
                w.seen = rv;
            }
        }
        Ok(w)
    }

    fn wanted(&self, o: &Object) -> Result<bool, ApiError> {
        if o.kind() != self.kind
            || self
                .namespace
                .as_deref()
                .is_some_and(|ns| ns != o.namespace())
            || !self.labels.matches(o.meta().labels.as_ref())
        {
            return Ok(false);
        }
        self.fields
            .matches(o)
            .map_err(|message| ApiError::BadRequest { message })
    }

    fn line(&self, event: &str, o: &Object, cluster: &Cluster) -> String {
        let object = if self.tables {
            let rv = o
                .meta()
                .resource_version
                .as_deref()
                .and_then(|r| r.parse().ok())
                .unwrap_or(cluster.resource_version());
            table::table_json(self.kind, &[o], cluster.now_ms(), rv)
        } else {
            o.to_json()
        };
        json!({"type": event, "object": object}).to_string()
    }

    /// The lines to send now (each one JSON event, without the newline).
    pub fn poll(&mut self, cluster: &Cluster) -> Vec<String> {
        let mut out = std::mem::take(&mut self.pending);
        if self.finished {
            return out;
        }
        let events = match cluster.watch(self.seen) {
            Ok(e) => e,
            Err(e) => {
                self.finished = true;
                let status: Value = serde_json::to_value(e.to_status()).unwrap_or(Value::Null);
                out.push(json!({"type": "ERROR", "object": status}).to_string());
                return out;
            }
        };
        for e in events {
            self.seen = e.resource_version;
            if e.object.kind() != self.kind {
                continue;
            }
            let key = e.object.key();
            let matches = self.wanted(&e.object) == Ok(true);
            let was = self.visible.contains(&key);
            let event = match (e.event_type, matches, was) {
                (EventType::Deleted, _, true) => Some(EventType::Deleted),
                (EventType::Deleted, _, false) => None,
                (_, true, true) => Some(EventType::Modified),
                (_, true, false) => Some(EventType::Added),
                (_, false, true) => Some(EventType::Deleted),
                (_, false, false) => None,
            };
            // A fresh ADDED stays ADDED even if the client somehow held the key.
            let event = match (e.event_type, event) {
                (EventType::Added, Some(_)) => Some(EventType::Added),
                (_, ev) => ev,
            };
            let Some(event) = event else { continue };
            if event == EventType::Deleted {
                self.visible.remove(&key);
            } else {
                self.visible.insert(key);
            }
            out.push(self.line(event_type(event), &e.object, cluster));
        }
        self.seen = self.seen.max(cluster.resource_version());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = include_str!("../../../lab-core/tests/data/httpd-service.yaml");
    const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parsed(lines: &[String]) -> Vec<Value> {
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn from_a_resource_version_streams_later_changes_as_tables() {
        let mut c = Cluster::kind();
        let rv = c.resource_version().to_string();
        let mut w = Watch::start(
            &c,
            Kind::Service,
            Some("default"),
            &params(&[("resourceVersion", &rv), ("watch", "true")]),
            TABLE,
        )
        .unwrap();
        assert!(w.poll(&c).is_empty());
        c.apply_manifests(SERVICE).unwrap();
        let events = parsed(&w.poll(&c));
        // Only the Service: the Endpoints and EndpointSlice changes are other kinds.
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["type"], "ADDED");
        assert_eq!(events[0]["object"]["kind"], "Table");
        assert_eq!(events[0]["object"]["rows"][0]["cells"][0], "httpd-svc");
        c.delete(Kind::Service, "default", "httpd-svc").unwrap();
        let events = parsed(&w.poll(&c));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["type"], "DELETED");
        assert!(w.poll(&c).is_empty());
    }

    #[test]
    fn version_zero_replays_current_objects_filtered_by_name() {
        let mut c = Cluster::kind();
        c.apply_manifests(SERVICE).unwrap();
        let mut w = Watch::start(
            &c,
            Kind::Service,
            Some("default"),
            &params(&[
                ("resourceVersion", "0"),
                ("fieldSelector", "metadata.name=httpd-svc"),
            ]),
            "application/json",
        )
        .unwrap();
        let events = parsed(&w.poll(&c));
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["object"]["kind"], "Service");
        assert_eq!(events[0]["object"]["metadata"]["name"], "httpd-svc");
    }

    #[test]
    fn relabelling_moves_an_object_out_of_and_into_a_selector() {
        let mut c = Cluster::kind();
        c.apply_manifests(SERVICE).unwrap();
        let rv = c.resource_version().to_string();
        let p = params(&[("resourceVersion", &rv), ("labelSelector", "tier=web")]);
        let mut w = Watch::start(&c, Kind::Service, Some("default"), &p, "").unwrap();
        let relabel = |c: &mut Cluster, tier: &str| {
            let mut svc = c
                .get(Kind::Service, "default", "httpd-svc")
                .unwrap()
                .clone();
            svc.meta_mut()
                .labels
                .get_or_insert_with(Default::default)
                .insert("tier".into(), tier.into());
            c.update(svc).unwrap();
        };
        let types = |w: &mut Watch, c: &Cluster| -> Vec<String> {
            parsed(&w.poll(c))
                .iter()
                .map(|e| e["type"].as_str().unwrap().to_string())
                .collect()
        };
        relabel(&mut c, "web");
        assert_eq!(types(&mut w, &c), ["ADDED"]);
        let mut svc = c
            .get(Kind::Service, "default", "httpd-svc")
            .unwrap()
            .clone();
        svc.meta_mut()
            .annotations
            .get_or_insert_with(Default::default)
            .insert("note".into(), "x".into());
        c.update(svc).unwrap();
        assert_eq!(types(&mut w, &c), ["MODIFIED"]);
        relabel(&mut c, "db");
        assert_eq!(types(&mut w, &c), ["DELETED"]);
        c.delete(Kind::Service, "default", "httpd-svc").unwrap();
        assert!(types(&mut w, &c).is_empty());
    }

    #[test]
    fn stale_or_bad_versions_are_errors() {
        let mut c = Cluster::kind();
        c.apply_manifests(SERVICE).unwrap();
        // A restored cluster has an empty log: every older version is gone.
        let restored = Cluster::from_snapshot(c.snapshot()).unwrap();
        let p = params(&[("resourceVersion", "5")]);
        let err = Watch::start(&restored, Kind::Service, None, &p, "").unwrap_err();
        assert_eq!(err.code(), 410);
        let p = params(&[("resourceVersion", "x")]);
        assert_eq!(
            Watch::start(&c, Kind::Service, None, &p, "")
                .unwrap_err()
                .code(),
            400
        );
        let p = params(&[("labelSelector", "a b")]);
        assert_eq!(
            Watch::start(&c, Kind::Service, None, &p, "")
                .unwrap_err()
                .code(),
            400
        );
    }
}
