//! The object store: what etcd plus the apiserver's watch cache are to a real cluster.
//!
//! Objects are keyed by kind/namespace/name and stamped with a global, monotonic
//! `resourceVersion`. Every write appends a watch event (ADDED/MODIFIED/DELETED) to a bounded log, so
//! a watcher can resume from any resourceVersion the log still holds and gets `410 Expired`
//! (`too old resource version`) beyond it, like the apiserver's watch cache. Writes also queue a
//! [`Change`] for the controllers, the way informers deliver notifications.
//!
//! Secondary indexes (pod labels, service selectors, owner references) keep the controllers'
//! "which pods does this Service select" questions cheap at 20,000 Services.

use crate::errors::ApiError;
use crate::object::{Kind, Object, ObjectKey};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// The kind of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was updated.
    Modified,
    /// The object was deleted (the event carries its last state).
    Deleted,
}

/// One entry of the watch log.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    /// ADDED, MODIFIED or DELETED.
    pub event_type: EventType,
    /// The object after the change (before it, for DELETED), with its resourceVersion set.
    pub object: Arc<Object>,
    /// The resourceVersion of this change.
    pub resource_version: u64,
    /// The object before the change (None for ADDED): a watch's selector is checked against
    /// both, as the apiserver's watch cache does with its prevObject.
    pub previous: Option<Arc<Object>>,
}

/// A change delivered to the controllers: the object before and after.
#[derive(Clone, Debug)]
pub struct Change {
    /// Which object changed.
    pub key: ObjectKey,
    /// Its previous state (None when created).
    pub old: Option<Arc<Object>>,
    /// Its new state (None when deleted).
    pub new: Option<Arc<Object>>,
}

/// Default number of watch events kept (the apiserver's watch cache is bounded too).
pub const DEFAULT_WATCH_LOG_CAPACITY: usize = 10_000;

/// The store.
#[derive(Clone, Debug)]
pub struct Store {
    objects: BTreeMap<ObjectKey, Arc<Object>>,
    resource_version: u64,
    log: VecDeque<WatchEvent>,
    log_capacity: usize,
    pending: Vec<Change>,
    /// (namespace, label key, label value) → pod names.
    pod_labels: LabelIndex,
    /// (namespace, selector key, selector value) → service names.
    service_selectors: LabelIndex,
    /// owner uid → dependents.
    dependents: BTreeMap<String, BTreeSet<ObjectKey>>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(DEFAULT_WATCH_LOG_CAPACITY)
    }
}

impl Store {
    /// An empty store keeping `log_capacity` watch events.
    pub fn new(log_capacity: usize) -> Store {
        Store {
            objects: BTreeMap::new(),
            resource_version: 0,
            log: VecDeque::new(),
            log_capacity: log_capacity.max(1),
            pending: Vec::new(),
            pod_labels: LabelIndex::default(),
            service_selectors: LabelIndex::default(),
            dependents: BTreeMap::new(),
        }
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Sets the resourceVersion counter (restoring a snapshot).
    pub(crate) fn set_resource_version(&mut self, rv: u64) {
        self.resource_version = rv;
    }

    /// Gets one object.
    pub fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
        self.objects.get(key)
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// All objects of a kind, optionally in one namespace, in key order.
    pub fn list<'a>(
        &'a self,
        kind: Kind,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Arc<Object>> + 'a {
        let lo = ObjectKey {
            kind,
            namespace: namespace.unwrap_or("").to_string(),
            name: String::new(),
        };
        self.objects
            .range(lo..)
            .take_while(move |(k, _)| {
                k.kind == kind && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .map(|(_, v)| v)
    }

    /// Every object, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Object>> + '_ {
        self.objects.values()
    }

    /// Names of pods in `namespace` whose labels contain `key=value`.
    pub fn pods_with_label(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Option<&BTreeSet<String>> {
        self.pod_labels.get(namespace, key, value)
    }

    /// Names of services in `namespace` whose selector contains `key=value`.
    pub fn services_selecting(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Option<&BTreeSet<String>> {
        self.service_selectors.get(namespace, key, value)
    }

    /// Objects whose ownerReferences name `uid`.
    pub fn dependents_of(&self, uid: &str) -> Vec<ObjectKey> {
        self.dependents(uid).cloned().collect()
    }

    /// [`Store::dependents_of`], borrowed (a ReplicaSet's 200 pods are not copied to be read).
    pub fn dependents(&self, uid: &str) -> impl Iterator<Item = &ObjectKey> {
        self.dependents.get(uid).into_iter().flatten()
    }

    /// Stores a new object. The caller has already validated it and filled its metadata
    /// (uid, creationTimestamp); the store stamps the resourceVersion.
    pub fn create(&mut self, mut object: Object) -> Result<Arc<Object>, ApiError> {
        let key = object.key();
        if self.objects.contains_key(&key) {
            return Err(ApiError::AlreadyExists {
                kind: key.kind,
                name: key.name,
            });
        }
        self.resource_version += 1;
        object.meta_mut().resource_version = Some(self.resource_version.to_string());
        let object = Arc::new(object);
        self.index(&object, true);
        self.objects.insert(key.clone(), object.clone());
        self.record(EventType::Added, object.clone(), None);
        self.pending.push(Change {
            key,
            old: None,
            new: Some(object.clone()),
        });
        Ok(object)
    }

    /// Replaces an object. With `expected_rv`, fails with 409 Conflict when it is stale.
    pub fn update(
        &mut self,
        mut object: Object,
        expected_rv: Option<&str>,
    ) -> Result<Arc<Object>, ApiError> {
        let key = object.key();
        let Some(old) = self.objects.get(&key).cloned() else {
            return Err(ApiError::NotFound {
                kind: key.kind,
                name: key.name,
            });
        };
        if let Some(rv) = expected_rv.filter(|rv| !rv.is_empty())
            && old.meta().resource_version.as_deref() != Some(rv)
        {
            return Err(ApiError::Conflict {
                kind: key.kind,
                name: key.name,
            });
        }
        // Compare without resourceVersion: a no-op write is not a change (the apiserver skips it).
        object.meta_mut().resource_version = old.meta().resource_version.clone();
        if *old == object {
            return Ok(old);
        }
        self.resource_version += 1;
        object.meta_mut().resource_version = Some(self.resource_version.to_string());
        let object = Arc::new(object);
        if index_inputs_differ(&old, &object) {
            self.index(&old, false);
            self.index(&object, true);
        }
        self.objects.insert(key.clone(), object.clone());
        self.record(EventType::Modified, object.clone(), Some(old.clone()));
        self.pending.push(Change {
            key,
            old: Some(old),
            new: Some(object.clone()),
        });
        Ok(object)
    }

    /// Removes an object for good.
    pub fn remove(&mut self, key: &ObjectKey) -> Result<Arc<Object>, ApiError> {
        let Some(old) = self.objects.remove(key) else {
            return Err(ApiError::NotFound {
                kind: key.kind,
                name: key.name.clone(),
            });
        };
        self.index(&old, false);
        self.resource_version += 1;
        // The DELETED event carries the last state with the deletion's resourceVersion.
        let mut last = (*old).clone();
        last.meta_mut().resource_version = Some(self.resource_version.to_string());
        self.record(EventType::Deleted, Arc::new(last), Some(old.clone()));
        self.pending.push(Change {
            key: key.clone(),
            old: Some(old.clone()),
            new: None,
        });
        Ok(old)
    }

    /// Takes the changes made since the last call (for the controllers).
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.pending)
    }

    /// Whether changes are waiting for the controllers.
    pub fn has_changes(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Watch events after `resource_version` (exclusive), oldest first. `0` means "from the start
    /// of the log". Fails with 410 Expired when events after `resource_version` have been dropped.
    pub fn events_since(&self, resource_version: u64) -> Result<Vec<WatchEvent>, ApiError> {
        let oldest = self
            .log
            .front()
            .map_or(self.resource_version + 1, |e| e.resource_version);
        if resource_version != 0 && resource_version + 1 < oldest {
            return Err(ApiError::Expired {
                requested: resource_version,
                oldest: oldest - 1,
            });
        }
        let start = self
            .log
            .partition_point(|e| e.resource_version <= resource_version);
        Ok(self.log.iter().skip(start).cloned().collect())
    }

    fn record(
        &mut self,
        event_type: EventType,
        object: Arc<Object>,
        previous: Option<Arc<Object>>,
    ) {
        if self.log.len() == self.log_capacity {
            self.log.pop_front();
        }
        self.log.push_back(WatchEvent {
            event_type,
            object,
            resource_version: self.resource_version,
            previous,
        });
    }

    fn index(&mut self, object: &Object, add: bool) {
        let ns = object.namespace();
        let name = object.name();
        match object {
            Object::Pod(_) => {
                for (k, v) in object.meta().labels.iter().flatten() {
                    self.pod_labels.touch(ns, k, v, name, add);
                }
            }
            Object::Service(s) => {
                for (k, v) in s
                    .spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .into_iter()
                    .flatten()
                {
                    self.service_selectors.touch(ns, k, v, name, add);
                }
            }
            _ => {}
        }
        for owner in object.meta().owner_references.iter().flatten() {
            let key = object.key();
            if add {
                self.dependents
                    .entry(owner.uid.clone())
                    .or_default()
                    .insert(key);
            } else if let Some(set) = self.dependents.get_mut(&owner.uid) {
                set.remove(&key);
                if set.is_empty() {
                    self.dependents.remove(&owner.uid);
                }
            }
        }
    }

    /// Restores objects as they were (a snapshot), without events or changes.
    pub(crate) fn restore(&mut self, objects: Vec<Object>) {
        for o in objects {
            let o = Arc::new(o);
            self.index(&o, true);
            self.objects.insert(o.key(), o);
        }
    }
}

/// namespace → label key → label value → object names; looked up without allocating.
#[derive(Clone, Debug, Default)]
struct LabelIndex(BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeSet<String>>>>);

impl LabelIndex {
    fn get(&self, ns: &str, key: &str, value: &str) -> Option<&BTreeSet<String>> {
        self.0.get(ns)?.get(key)?.get(value)
    }

    fn touch(&mut self, ns: &str, key: &str, value: &str, name: &str, add: bool) {
        if add {
            let keys = self.0.entry(ns.to_string()).or_default();
            let values = keys.entry(key.to_string()).or_default();
            values
                .entry(value.to_string())
                .or_default()
                .insert(name.to_string());
            return;
        }
        let Some(keys) = self.0.get_mut(ns) else {
            return;
        };
        let Some(values) = keys.get_mut(key) else {
            return;
        };
        let Some(names) = values.get_mut(value) else {
            return;
        };
        names.remove(name);
        if names.is_empty() {
            values.remove(value);
            if values.is_empty() {
                keys.remove(key);
                if keys.is_empty() {
                    self.0.remove(ns);
                }
            }
        }
    }
}

/// Whether a write changes anything the secondary indexes are built from.
fn index_inputs_differ(a: &Object, b: &Object) -> bool {
    let selector = |o: &Object| match o {
        Object::Service(s) => s.spec.as_ref().and_then(|s| s.selector.clone()),
        _ => None,
    };
    a.meta().labels != b.meta().labels
        || a.meta().owner_references != b.meta().owner_references
        || selector(a) != selector(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn ns(name: &str) -> Object {
        Object::Namespace(Box::new(Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }))
    }

    #[test]
    fn resource_versions_are_monotonic_and_watchable() {
        let mut s = Store::new(3);
        s.create(ns("a")).unwrap();
        s.create(ns("b")).unwrap();
        let mut b = (**s.get(&ObjectKey::cluster(Kind::Namespace, "b")).unwrap()).clone();
        b.meta_mut().labels = Some([("x".to_string(), "y".to_string())].into());
        s.update(b.clone(), Some("2")).unwrap();
        assert_eq!(s.resource_version(), 3);
        // Stale resourceVersion → Conflict; state unchanged.
        let err = s.update(b, Some("2")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Operation cannot be fulfilled on namespaces \"b\": the object has been modified; please apply your changes to the latest version and try again"
        );
        s.remove(&ObjectKey::cluster(Kind::Namespace, "a")).unwrap();
        let ev = s.events_since(2).unwrap();
        assert_eq!(
            ev.iter()
                .map(|e| (e.event_type, e.resource_version))
                .collect::<Vec<_>>(),
            vec![(EventType::Modified, 3), (EventType::Deleted, 4)]
        );
        // Capacity 3: event 1 is gone.
        assert!(matches!(s.events_since(0), Ok(v) if v.len() == 3));
        assert_eq!(s.events_since(1).unwrap().len(), 3);
        let expired = s.events_since(0).and(s.events_since(1)).and_then(|_| {
            let mut s2 = s.clone();
            s2.create(ns("c"))?;
            s2.events_since(1)
        });
        assert_eq!(
            expired.unwrap_err().to_string(),
            "too old resource version: 1 (2)"
        );
    }

    #[test]
    fn unchanged_update_is_not_a_write() {
        let mut s = Store::default();
        s.create(ns("a")).unwrap();
        let same = (**s.get(&ObjectKey::cluster(Kind::Namespace, "a")).unwrap()).clone();
        s.update(same, None).unwrap();
        assert_eq!(s.resource_version(), 1);
        assert_eq!(s.list(Kind::Namespace, None).count(), 1);
        assert_eq!(s.list(Kind::Pod, None).count(), 0);
    }
}
