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
//!
//! Each logged change is filtered against the watch's selectors twice, the object after it and
//! before it (the watch cache's object and prevObject): matching only after is ADDED, only
//! before DELETED, both MODIFIED. So an update that takes an object out of the selector is a
//! DELETED for the watch and one that brings it in an ADDED, and a watch from an older
//! resourceVersion (kube's watcher: list, then watch from the list's version) gets the changes
//! made in between as they were, deletes included.

use super::selector::{FieldSelector, LabelSelector};
use super::table;
use lab_core::store::EventType;
use lab_core::{ApiError, Cluster, Kind, Object};
use serde_json::{Value, json};

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
        };
        // A field selector the kind has no such field for is refused now, not mid-stream.
        for o in cluster.list(kind, namespace) {
            w.wanted(o)?;
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
            let now = e.event_type != EventType::Deleted && self.wanted(&e.object) == Ok(true);
            let before = e
                .previous
                .as_deref()
                .is_some_and(|p| self.wanted(p) == Ok(true));
            let event = match (now, before) {
                (true, true) => EventType::Modified,
                (true, false) => EventType::Added,
                (false, true) => EventType::Deleted,
                (false, false) => continue,
            };
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

    /// The event types the watch has for the changes since its last poll.
    fn types(w: &mut Watch, c: &Cluster) -> Vec<String> {
        parsed(&w.poll(c))
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    }

    /// Sets httpd-svc's label `tier`.
    fn relabel(c: &mut Cluster, tier: &str) {
        let mut svc = c
            .get(Kind::Service, "default", "httpd-svc")
            .unwrap()
            .clone();
        svc.meta_mut()
            .labels
            .get_or_insert_with(Default::default)
            .insert("tier".into(), tier.into());
        c.update(svc).unwrap();
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
    fn a_watch_from_a_list_version_gets_the_changes_made_before_it_opened() {
        // kube's watcher lists, then watches from the list's version: what changed in between
        // comes as it was, the delete too, though the Service is gone when the watch opens.
        let mut c = Cluster::kind();
        c.apply_manifests(SERVICE).unwrap();
        let listed = c.resource_version().to_string();
        relabel(&mut c, "web");
        c.delete(Kind::Service, "default", "httpd-svc").unwrap();
        let from_list = |selector: &str| -> Vec<String> {
            let p = params(&[("resourceVersion", &listed), ("labelSelector", selector)]);
            let mut w = Watch::start(&c, Kind::Service, Some("default"), &p, "").unwrap();
            types(&mut w, &c)
        };
        assert_eq!(from_list(""), ["MODIFIED", "DELETED"]);
        // Relabelled into the selector, then deleted.
        assert_eq!(from_list("tier=web"), ["ADDED", "DELETED"]);
        assert!(from_list("tier=db").is_empty());
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
