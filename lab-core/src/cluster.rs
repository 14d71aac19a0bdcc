//! The simulated cluster: an apiserver front door (defaulting, validation, allocation, storage)
//! plus the controllers that react to every write, on a virtual clock with seeded randomness.
//!
//! Writes through the public methods behave like requests to the apiserver: they are validated
//! (a rejected write changes nothing), stored, and then the controllers run until they have
//! nothing left to do at the current virtual instant. Work that takes time in a real cluster
//! (containers starting, readiness, graceful termination) happens when the clock is moved with
//! [`Cluster::advance`] or [`Cluster::settle`].

use crate::config::ClusterConfig;
use crate::controllers::{self, Queues};
use crate::errors::{ApiError, FieldError};
use crate::manifest::{self, ManifestError};
use crate::object::{Kind, Object, ObjectKey, Typed};
use crate::store::{Store, WatchEvent};
use crate::validation;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What `apply` did with one object (kubectl prints `service/httpd-svc created`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyAction {
    /// The object did not exist and was created.
    Created,
    /// The object existed and changed.
    Configured,
    /// The object existed and the manifest changed nothing.
    Unchanged,
}

/// The outcome of applying one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The object applied.
    pub key: ObjectKey,
    /// What happened.
    pub action: ApplyAction,
}

impl std::fmt::Display for ApplyOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.key.kind;
        let resource = if kind.group().is_empty() {
            kind.name().to_lowercase()
        } else {
            format!("{}.{}", kind.name().to_lowercase(), kind.group())
        };
        let action = match self.action {
            ApplyAction::Created => "created",
            ApplyAction::Configured => "configured",
            ApplyAction::Unchanged => "unchanged",
        };
        write!(f, "{resource}/{} {action}", self.key.name)
    }
}

/// Applying a manifest file failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The file could not be decoded; nothing was applied.
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    /// The apiserver rejected one object; earlier objects stay applied, as with kubectl.
    #[error("error when applying document {document}: {error}")]
    Api {
        /// 1-based index of the object in the file.
        document: usize,
        /// The rejection.
        error: ApiError,
    },
}

/// The simulated cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub(crate) config: ClusterConfig,
    pub(crate) store: Store,
    pub(crate) now_ms: i64,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) queues: Queues,
    /// Kubelet wake-ups: (virtual time, pod).
    pub(crate) timers: BTreeSet<(i64, ObjectKey)>,
    /// Allocations and per-node state the controllers derive from the store.
    pub(crate) state: controllers::State,
    /// Readiness forced by [`Cluster::set_pod_ready`] (a readiness probe starting to fail).
    pub(crate) readiness_overrides: BTreeMap<ObjectKey, bool>,
    pub(crate) event_seq: u64,
    /// Each container's log tail, for `kubectl logs`.
    pub(crate) logs: BTreeMap<crate::logs::LogKey, crate::logs::Tail>,
    /// Log appends and drops so far (see [`Cluster::log_seq`]).
    pub(crate) log_seq: u64,
}

/// How far [`Cluster::settle`] runs virtual time at most: ten minutes.
const SETTLE_LIMIT_MS: i64 = 600_000;

impl Cluster {
    /// A fresh kind-like cluster (see [`ClusterConfig::kind`]), settled: system pods Running.
    pub fn kind() -> Cluster {
        Cluster::new(ClusterConfig::kind())
    }

    /// A fresh cluster with `config`, bootstrapped and settled.
    pub fn new(config: ClusterConfig) -> Cluster {
        let mut c = Cluster::empty(config);
        controllers::bootstrap::bootstrap(&mut c);
        c.settle();
        c
    }

    pub(crate) fn empty(config: ClusterConfig) -> Cluster {
        Cluster {
            store: Store::new(config.watch_log_capacity),
            now_ms: config.start_time_ms,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            queues: Queues::default(),
            timers: BTreeSet::new(),
            state: controllers::State::new(&config),
            readiness_overrides: BTreeMap::new(),
            event_seq: 0,
            logs: BTreeMap::new(),
            log_seq: 0,
            config,
        }
    }

    /// A cluster holding `objects` exactly as they were read from another cluster (a real one
    /// through its API, or the sim), with no controller run over them: a Deployment whose pods
    /// are missing stays without them, a pod stays in the phase it was read in, EndpointSlices
    /// and allocated ClusterIPs are kept verbatim. This is what the predictions need (kube-proxy's
    /// rules, DNS answers, traces: see DESIGN.md's "pure functions of a snapshot"), where
    /// [`Cluster::from_snapshot`] would let the controllers converge the objects first.
    ///
    /// `config` says what the objects do not ([`ClusterConfig::observed`] derives it from them).
    /// Later duplicates of a key replace earlier ones; the resourceVersion counter is the
    /// highest numeric `resourceVersion` among the objects. The cluster is for reading: a write
    /// through it would run the controllers as on any cluster.
    pub fn observed(config: ClusterConfig, objects: Vec<Object>) -> Cluster {
        // The last of each key wins (no sort: the store orders them).
        let mut seen = BTreeSet::new();
        let mut objects: Vec<Object> = objects
            .into_iter()
            .rev()
            .filter(|o| seen.insert(o.key()))
            .collect();
        objects.reverse();
        let version = objects
            .iter()
            .filter_map(|o| o.meta().resource_version.as_deref()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let mut c = Cluster::empty(config);
        c.store.restore(objects);
        c.store.set_resource_version(version);
        // The allocators' and the scheduler's view of the objects, as after a restore; the
        // kubelet passes and other work a restore queues are dropped: nothing runs here.
        controllers::State::rebuild(&mut c);
        c.queues = Queues::default();
        c.timers.clear();
        c
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The configuration of node `name`.
    pub fn node_config(&self, name: &str) -> Option<&crate::config::NodeConfig> {
        let i = *self.state.node_index.get(name)?;
        self.config.nodes.get(i)
    }

    /// Virtual time, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.store.resource_version()
    }

    /// The object store (read-only).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One object.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Object> {
        self.store
            .get(&ObjectKey::new(kind, namespace, name))
            .map(|o| &**o)
    }

    /// One object as its concrete type: `cluster.get_typed::<Service>("default", "httpd-svc")`.
    pub fn get_typed<T: Typed>(&self, namespace: &str, name: &str) -> Option<&T>
    where
        for<'a> &'a T: TryFrom<&'a Object>,
    {
        self.get(T::KIND, namespace, name)
            .and_then(|o| <&T>::try_from(o).ok())
    }

    /// Objects of a kind (in one namespace, or all), in name order.
    pub fn list<'a>(
        &'a self,
        kind: Kind,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        self.store.list(kind, namespace).map(|o| &**o)
    }

    /// Objects of a type: `cluster.list_typed::<Pod>(Some("default"))`.
    pub fn list_typed<'a, T: Typed + 'a>(
        &'a self,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a T> + 'a
    where
        for<'b> &'b T: TryFrom<&'b Object>,
    {
        self.list(T::KIND, namespace)
            .filter_map(|o| <&T>::try_from(o).ok())
    }

    /// Watch events after `resource_version` (see [`Store::events_since`]).
    pub fn watch(&self, resource_version: u64) -> Result<Vec<WatchEvent>, ApiError> {
        self.store.events_since(resource_version)
    }

    // ----- writes, as requests to the apiserver -----

    /// `kubectl create`: fails with AlreadyExists when the object exists.
    pub fn create(&mut self, object: Object) -> Result<Arc<Object>, ApiError> {
        let out = self.admit_create(object)?;
        self.run_controllers();
        Ok(out)
    }

    /// `kubectl replace` (PUT): the object must exist; a non-empty resourceVersion must be current.
    pub fn update(&mut self, object: Object) -> Result<Arc<Object>, ApiError> {
        let out = self.admit_update(object, true)?;
        self.run_controllers();
        Ok(out)
    }

    /// `kubectl apply` of one object: create it, or make the stored object's spec, labels and
    /// annotations those of the manifest (allocated ClusterIPs and nodePorts are kept, as the
    /// apiserver does when a manifest leaves them out).
    pub fn apply(&mut self, object: Object) -> Result<ApplyOutcome, ApiError> {
        let out = self.apply_one(object)?;
        self.run_controllers();
        Ok(out)
    }

    /// Applies every object of a YAML/JSON stream, in order, like `kubectl apply -f`. A decoding
    /// error applies nothing; an apiserver rejection stops at that object (earlier ones stay).
    pub fn apply_manifests(&mut self, text: &str) -> Result<Vec<ApplyOutcome>, ApplyError> {
        let objects = manifest::parse_manifests(text)?;
        let mut out = Vec::new();
        for (i, o) in objects.into_iter().enumerate() {
            match self.apply_one(o) {
                Ok(r) => out.push(r),
                Err(error) => {
                    self.run_controllers();
                    return Err(ApplyError::Api {
                        document: i + 1,
                        error,
                    });
                }
            }
        }
        self.run_controllers();
        Ok(out)
    }

    /// `kubectl delete`: pods terminate gracefully (see the kubelet); other objects go at once and
    /// their dependents follow (background cascading deletion).
    pub fn delete(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Object>, ApiError> {
        let out = self.delete_inner(&ObjectKey::new(kind, namespace, name), None)?;
        self.run_controllers();
        Ok(out)
    }

    /// `kubectl delete pod NAME --grace-period=N` (0 with `--force` removes it at once).
    pub fn delete_with_grace(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        grace_seconds: i64,
    ) -> Result<Arc<Object>, ApiError> {
        let out = self.delete_inner(&ObjectKey::new(kind, namespace, name), Some(grace_seconds))?;
        self.run_controllers();
        Ok(out)
    }

    /// `kubectl scale deployment|replicaset|statefulset NAME --replicas=N`.
    pub fn scale(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        replicas: i32,
    ) -> Result<Arc<Object>, ApiError> {
        let key = ObjectKey::new(kind, namespace, name);
        let Some(current) = self.store.get(&key) else {
            return Err(ApiError::NotFound {
                kind,
                name: name.into(),
            });
        };
        let mut obj = (**current).clone();
        match &mut obj {
            Object::Deployment(d) => {
                d.spec.get_or_insert_with(Default::default).replicas = Some(replicas)
            }
            Object::ReplicaSet(r) => {
                r.spec.get_or_insert_with(Default::default).replicas = Some(replicas)
            }
            Object::StatefulSet(s) => {
                s.spec.get_or_insert_with(Default::default).replicas = Some(replicas)
            }
            _ => {
                return Err(ApiError::BadRequest {
                    message: format!("{} {:?} cannot be scaled", kind.qualified_resource(), name),
                });
            }
        }
        let out = self.admit_update(obj, false)?;
        self.run_controllers();
        Ok(out)
    }

    /// Makes a pod's readiness probe start failing (`false`) or succeed again (`true`).
    pub fn set_pod_ready(
        &mut self,
        namespace: &str,
        name: &str,
        ready: bool,
    ) -> Result<(), ApiError> {
        let key = ObjectKey::new(Kind::Pod, namespace, name);
        if self.store.get(&key).is_none() {
            return Err(ApiError::NotFound {
                kind: Kind::Pod,
                name: name.into(),
            });
        }
        self.readiness_overrides.insert(key.clone(), ready);
        self.queues.kubelet.insert(key);
        self.run_controllers();
        Ok(())
    }

    /// Turns the simulated LoadBalancer provider on (with its address pool) or off, like
    /// starting or stopping cloud-provider-kind: pending LoadBalancer Services get an ingress IP.
    pub fn set_load_balancer_pool(
        &mut self,
        pool: Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)>,
    ) {
        self.config.load_balancer_pool = pool;
        let keys: Vec<ObjectKey> = self
            .store
            .list(Kind::Service, None)
            .map(|o| o.key())
            .collect();
        self.queues.service.extend(keys);
        self.run_controllers();
    }

    /// Moves the virtual clock forward by `ms`, firing every timer on the way.
    pub fn advance(&mut self, ms: u64) {
        let start = self.now_ms;
        let target = self.now_ms + ms as i64;
        self.run_controllers();
        while let Some((t, _)) = self.timers.first().cloned() {
            if t > target {
                break;
            }
            self.now_ms = self.now_ms.max(t);
            while let Some((t2, key)) = self.timers.first().cloned() {
                if t2 > self.now_ms {
                    break;
                }
                self.timers.pop_first();
                // A StatefulSet waits on minReadySeconds (upstream: the queue's AddAfter).
                if key.kind == Kind::StatefulSet {
                    self.queues.statefulset.insert(key);
                } else {
                    self.queues.kubelet.insert(key);
                }
            }
            self.run_controllers();
        }
        self.now_ms = target;
        // Expired Events go once per virtual minute, as etcd leases expire them upstream.
        if start.div_euclid(60_000) != target.div_euclid(60_000) {
            self.expire_events();
        }
        self.run_controllers();
    }

    /// Deletes Events older than `event_ttl_ms` (watchers see them DELETED, as with etcd's TTL).
    fn expire_events(&mut self) {
        let cutoff = self.now_ms - self.config.event_ttl_ms as i64;
        let expired: Vec<ObjectKey> = self
            .store
            .list(Kind::Event, None)
            .filter(|o| match &***o {
                Object::Event(e) => e
                    .last_timestamp
                    .as_ref()
                    .or(e.first_timestamp.as_ref())
                    .is_some_and(|t| t.0.as_millisecond() < cutoff),
                _ => false,
            })
            .map(|o| o.key())
            .collect();
        for key in expired {
            let _ = self.store.remove(&key);
        }
    }

    /// Advances until nothing is scheduled (all pods started, ready or gone), at most ten
    /// virtual minutes. Returns the virtual milliseconds that passed.
    pub fn settle(&mut self) -> u64 {
        let start = self.now_ms;
        let until = self.begin_settle();
        while self.settle_step(until) {}
        (self.now_ms - start) as u64
    }

    /// [`Cluster::settle`] one step at a time, for a front end that shows each step (the
    /// browser, one re-render per step): runs the controllers and returns the virtual time the
    /// settle may run to; [`Cluster::settle_step`] with it until it returns `false` then ends
    /// exactly where `settle` would have.
    pub fn begin_settle(&mut self) -> i64 {
        self.run_controllers();
        self.now_ms + SETTLE_LIMIT_MS
    }

    /// One step of a settle begun by [`Cluster::begin_settle`]: advances to the next scheduled
    /// moment (a container started, a readiness delay over, a grace period ended) and runs what
    /// it wakes. Returns whether another step is due before `until`.
    pub fn settle_step(&mut self, until: i64) -> bool {
        let Some((t, _)) = self.timers.first().cloned() else {
            return false;
        };
        if t > until {
            return false;
        }
        self.advance((t - self.now_ms).max(0) as u64);
        self.timers.first().is_some_and(|(t, _)| *t <= until)
    }

    // ----- the apiserver's request path -----

    fn apply_one(&mut self, mut object: Object) -> Result<ApplyOutcome, ApiError> {
        self.default_namespace(&mut object);
        let key = object.key();
        let Some(existing) = self.store.get(&key).cloned() else {
            self.admit_create(object)?;
            return Ok(ApplyOutcome {
                key,
                action: ApplyAction::Created,
            });
        };
        let merged = merge_for_apply(&existing, object);
        let rv_before = self.store.resource_version();
        self.admit_update(merged, false)?;
        let action = if self.store.resource_version() == rv_before {
            ApplyAction::Unchanged
        } else {
            ApplyAction::Configured
        };
        Ok(ApplyOutcome { key, action })
    }

    fn default_namespace(&self, object: &mut Object) {
        if object.kind().namespaced() && object.namespace().is_empty() {
            object.meta_mut().namespace = Some("default".into());
        }
        if !object.kind().namespaced() {
            object.meta_mut().namespace = None;
        }
    }

    fn check_namespace(&self, object: &Object) -> Result<(), ApiError> {
        if !object.kind().namespaced() {
            return Ok(());
        }
        let ns = object.namespace();
        match self.get(Kind::Namespace, "", ns) {
            None => Err(ApiError::NotFound {
                kind: Kind::Namespace,
                name: ns.into(),
            }),
            Some(n) if n.meta().deletion_timestamp.is_some() => Err(ApiError::Forbidden {
                message: format!(
                    "{} {:?} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    object.kind().qualified_resource(),
                    object.name()
                ),
            }),
            Some(_) => Ok(()),
        }
    }

    pub(crate) fn admit_create(&mut self, object: Object) -> Result<Arc<Object>, ApiError> {
        // A rejected request must leave everything as it was, the RNG included.
        let rng = self.rng.clone();
        let out = self.admit_create_inner(object);
        if out.is_err() {
            self.rng = rng;
        }
        out
    }

    fn admit_create_inner(&mut self, mut object: Object) -> Result<Arc<Object>, ApiError> {
        self.default_namespace(&mut object);
        // Admission (NamespaceLifecycle) comes first.
        self.check_namespace(&object)?;
        // generateName: the apiserver appends 5 random characters.
        if object.name().is_empty()
            && let Some(prefix) = object
                .meta()
                .generate_name
                .clone()
                .filter(|p| !p.is_empty())
        {
            let name = crate::names::generate_name(&mut self.rng, &prefix);
            object.meta_mut().name = Some(name);
        }
        // The Service registry allocates before validation runs, so its errors come alone.
        let mut allocated = object.clone();
        controllers::service::allocate_on_create(self, &mut allocated, None)
            .map_err(|e| invalid(&object, e))?;
        let errors = validation::validate_create(&object);
        if !errors.is_empty() {
            return Err(invalid(&object, errors));
        }
        let mut object = allocated;
        if self.store.get(&object.key()).is_some() {
            return Err(ApiError::AlreadyExists {
                kind: object.kind(),
                name: object.name().into(),
            });
        }
        crate::defaults::apply_defaults(&mut object);
        self.stamp_new(&mut object);
        let stored = self.store.create(object).expect("existence checked above");
        controllers::service::commit_allocations(self, None, Some(&stored));
        Ok(stored)
    }

    pub(crate) fn admit_update(
        &mut self,
        object: Object,
        check_rv: bool,
    ) -> Result<Arc<Object>, ApiError> {
        let rng = self.rng.clone();
        let out = self.admit_update_inner(object, check_rv);
        if out.is_err() {
            self.rng = rng;
        }
        out
    }

    fn admit_update_inner(
        &mut self,
        mut object: Object,
        check_rv: bool,
    ) -> Result<Arc<Object>, ApiError> {
        self.default_namespace(&mut object);
        let key = object.key();
        let Some(old) = self.store.get(&key).cloned() else {
            return Err(ApiError::NotFound {
                kind: key.kind,
                name: key.name,
            });
        };
        if check_rv
            && let Some(rv) = object
                .meta()
                .resource_version
                .as_deref()
                .filter(|r| !r.is_empty())
            && old.meta().resource_version.as_deref() != Some(rv)
        {
            return Err(ApiError::Conflict {
                kind: key.kind,
                name: key.name,
            });
        }
        // Identity and server-managed fields come from the stored object.
        {
            let (m, o) = (object.meta_mut(), old.meta());
            m.uid = o.uid.clone();
            m.creation_timestamp = o.creation_timestamp.clone();
            m.generation = o.generation;
            m.resource_version = o.resource_version.clone();
            m.deletion_timestamp = o.deletion_timestamp.clone();
            m.deletion_grace_period_seconds = o.deletion_grace_period_seconds;
            if m.owner_references.is_none() {
                m.owner_references = o.owner_references.clone();
            }
        }
        keep_status(&old, &mut object);
        crate::defaults::apply_defaults(&mut object);
        // The Service registry's BeginUpdate (allocation), then the strategy's PrepareForUpdate.
        controllers::service::allocate_on_create(self, &mut object, Some(&old))
            .map_err(|e| invalid(&object, e))?;
        if let (Object::Service(new), Object::Service(old)) = (&mut object, &*old) {
            controllers::service::drop_type_dependent_fields(new, old);
        }
        let errors = validation::validate_update(&object, &old);
        if !errors.is_empty() {
            return Err(invalid(&object, errors));
        }
        if spec_changed(&old, &object)
            && matches!(
                key.kind,
                Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet
            )
        {
            object.meta_mut().generation = Some(old.meta().generation.unwrap_or(1) + 1);
        }
        let stored = self.store.update(object, None)?;
        controllers::service::commit_allocations(self, Some(&old), Some(&stored));
        Ok(stored)
    }

    fn delete_inner(
        &mut self,
        key: &ObjectKey,
        grace_seconds: Option<i64>,
    ) -> Result<Arc<Object>, ApiError> {
        let Some(current) = self.store.get(key).cloned() else {
            return Err(ApiError::NotFound {
                kind: key.kind,
                name: key.name.clone(),
            });
        };
        match &*current {
            Object::Namespace(_) => {
                if matches!(key.name.as_str(), "default" | "kube-system" | "kube-public") {
                    return Err(ApiError::Forbidden {
                        message: format!(
                            "namespaces {:?} is forbidden: this namespace may not be deleted",
                            key.name
                        ),
                    });
                }
                // The namespace controller empties the namespace, then the namespace goes.
                let kinds: Vec<Kind> = Kind::ALL
                    .iter()
                    .copied()
                    .filter(|k| k.namespaced())
                    .collect();
                for kind in kinds {
                    let keys: Vec<ObjectKey> = self
                        .store
                        .list(kind, Some(&key.name))
                        .map(|o| o.key())
                        .collect();
                    for k in keys {
                        self.remove_now(&k);
                    }
                }
                self.remove_now(key);
                Ok(current)
            }
            Object::Pod(p) => {
                let grace = grace_seconds
                    .or_else(|| {
                        p.spec
                            .as_ref()
                            .and_then(|s| s.termination_grace_period_seconds)
                    })
                    .unwrap_or(30);
                let unscheduled = p.spec.as_ref().is_none_or(|s| s.node_name.is_none());
                if grace <= 0 || unscheduled {
                    self.remove_now(key);
                    return Ok(current);
                }
                if current.meta().deletion_timestamp.is_some() {
                    return Ok(current);
                }
                let mut pod = (*current).clone();
                pod.meta_mut().deletion_timestamp = Some(self.time());
                pod.meta_mut().deletion_grace_period_seconds = Some(grace);
                Ok(self.store.update(pod, None).expect("pod exists"))
            }
            _ => {
                self.remove_now(key);
                Ok(current)
            }
        }
    }

    /// Removes an object at once and cascades to its dependents (the garbage collector's
    /// background propagation); pods among the dependents terminate gracefully.
    pub(crate) fn remove_now(&mut self, key: &ObjectKey) {
        let Ok(old) = self.store.remove(key) else {
            return;
        };
        controllers::service::commit_allocations(self, Some(&old), None);
        self.readiness_overrides.remove(key);
        self.drop_logs(key);
        let uid = old.uid().to_string();
        if uid.is_empty() {
            return;
        }
        for dep in self.store.dependents_of(&uid) {
            let only_owner = self.store.get(&dep).is_some_and(|d| {
                d.meta()
                    .owner_references
                    .iter()
                    .flatten()
                    .all(|o| o.uid == uid)
            });
            if !only_owner {
                // Other owners keep it alive; drop the dangling reference.
                if let Some(d) = self.store.get(&dep) {
                    let mut d = (**d).clone();
                    if let Some(refs) = d.meta_mut().owner_references.as_mut() {
                        refs.retain(|o| o.uid != uid);
                    }
                    let _ = self.store.update(d, None);
                }
                continue;
            }
            let _ = self.delete_inner(&dep, None);
        }
    }

    // ----- helpers for controllers -----

    /// Runs every controller until none has work at this virtual instant.
    pub(crate) fn run_controllers(&mut self) {
        controllers::run(self);
    }

    /// Virtual now as a metav1.Time (second precision, as the apiserver stores it).
    pub(crate) fn time(&self) -> Time {
        Time(
            Timestamp::from_second(self.now_ms.div_euclid(1000))
                .expect("virtual clock within range"),
        )
    }

    /// A UID from the cluster's RNG, in the usual UUIDv4 layout.
    pub(crate) fn new_uid(&mut self) -> String {
        uuid_v4(self.rng.random())
    }

    /// A UID that leaves the cluster's RNG alone: from a generator seeded with the cluster's
    /// seed, the current resourceVersion and `salt`. For objects a controller keeps one of per
    /// namespace (a new kind of them would otherwise move every later random choice — ClusterIPs,
    /// nodePorts, pod names — of every existing scenario).
    fn side_uid(&self, salt: &str) -> String {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.config.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&self.store.resource_version().to_le_bytes());
        seed[16..20].copy_from_slice(&crate::names::fnv32a(salt.as_bytes()).to_le_bytes());
        uuid_v4(ChaCha8Rng::from_seed(seed).random())
    }

    fn stamp_new(&mut self, object: &mut Object) {
        let uid = self.new_uid();
        self.stamp_new_with(object, uid);
    }

    fn stamp_new_with(&self, object: &mut Object, uid: String) {
        let now = self.time();
        let kind = object.kind();
        let m = object.meta_mut();
        m.uid = Some(uid);
        m.creation_timestamp = Some(now);
        m.resource_version = None;
        m.deletion_timestamp = None;
        if matches!(
            kind,
            Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet
        ) {
            m.generation = Some(1);
        }
    }

    /// Creates an object on behalf of a controller (no validation: controllers write valid objects).
    pub(crate) fn sys_create(&mut self, mut object: Object) -> Option<Arc<Object>> {
        if object.name().is_empty()
            && let Some(prefix) = object.meta().generate_name.clone()
        {
            let name = crate::names::generate_name(&mut self.rng, &prefix);
            object.meta_mut().name = Some(name);
        }
        self.stamp_new(&mut object);
        self.store.create(object).ok()
    }

    /// Creates a named object on behalf of a controller, with a UID from [`Cluster::side_uid`].
    pub(crate) fn sys_create_side(&mut self, mut object: Object) -> Option<Arc<Object>> {
        let uid = self.side_uid(&object.key().to_string());
        self.stamp_new_with(&mut object, uid);
        self.store.create(object).ok()
    }

    /// Writes an object on behalf of a controller; a no-op write stores nothing.
    pub(crate) fn sys_update(&mut self, object: Object) -> Option<Arc<Object>> {
        self.store.update(object, None).ok()
    }

    /// Deletes a pod gracefully on behalf of a controller; false if it was already gone.
    pub(crate) fn delete_pod_for_controller(&mut self, key: &ObjectKey) -> bool {
        self.delete_inner(key, None).is_ok()
    }

    /// Schedules a wake-up for `pod` (its kubelet) or a StatefulSet (its controller) at virtual
    /// time `at_ms`.
    pub(crate) fn wake_at(&mut self, at_ms: i64, pod: ObjectKey) {
        self.timers.insert((at_ms, pod));
    }

    /// Records a core/v1 Event about `involved`, as the named component does. The arguments are
    /// the Event's own fields, in the order `kubectl describe` shows them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_event(
        &mut self,
        involved: &Object,
        field_path: Option<&str>,
        type_: &str,
        reason: &str,
        message: String,
        component: &str,
        host: Option<&str>,
    ) {
        if !self.config.record_events {
            return;
        }
        self.event_seq += 1;
        let ns = if involved.namespace().is_empty() {
            "default".to_string()
        } else {
            involved.namespace().to_string()
        };
        // Real event names are "<object>.<unix nanos in hex>"; the sequence keeps ours unique.
        let nanos = (self.now_ms as u64)
            .wrapping_mul(1_000_000)
            .wrapping_add(self.event_seq);
        let name = format!("{}.{:x}", involved.name(), nanos);
        let now = self.time();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(ns),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(involved.kind().api_version()),
                kind: Some(involved.kind().name().into()),
                name: Some(involved.name().into()),
                namespace: (!involved.namespace().is_empty())
                    .then(|| involved.namespace().to_string()),
                uid: Some(involved.uid().to_string()),
                resource_version: involved.meta().resource_version.clone(),
                field_path: field_path.map(str::to_string),
            },
            reason: Some(reason.into()),
            message: Some(message),
            source: Some(EventSource {
                component: Some(component.into()),
                host: host.map(str::to_string),
            }),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            type_: Some(type_.into()),
            event_time: None,
            reporting_component: Some(component.into()),
            reporting_instance: Some(host.unwrap_or("").to_string()),
            ..Default::default()
        };
        let _ = self.sys_create(Object::Event(Box::new(event)));
    }
}

/// 16 random bytes as a UUIDv4: `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`.
fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::names::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An owner reference with `controller: true`, as controllers set them.
pub(crate) fn controller_ref(owner: &Object) -> OwnerReference {
    OwnerReference {
        api_version: owner.kind().api_version(),
        kind: owner.kind().name().into(),
        name: owner.name().into(),
        uid: owner.uid().into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn invalid(object: &Object, causes: Vec<FieldError>) -> ApiError {
    ApiError::Invalid {
        kind: object.kind(),
        name: object.name().to_string(),
        causes,
    }
}

/// Status is owned by the controllers: a spec write never changes it.
fn keep_status(old: &Object, new: &mut Object) {
    match (old, new) {
        (Object::Deployment(o), Object::Deployment(n)) => n.status = o.status.clone(),
        (Object::ReplicaSet(o), Object::ReplicaSet(n)) => n.status = o.status.clone(),
        (Object::StatefulSet(o), Object::StatefulSet(n)) => n.status = o.status.clone(),
        (Object::Service(o), Object::Service(n)) => n.status = o.status.clone(),
        (Object::Pod(o), Object::Pod(n)) => n.status = o.status.clone(),
        (Object::Node(o), Object::Node(n)) => n.status = o.status.clone(),
        (Object::Namespace(o), Object::Namespace(n)) => n.status = o.status.clone(),
        _ => {}
    }
}

fn spec_changed(old: &Object, new: &Object) -> bool {
    match (old, new) {
        (Object::Deployment(o), Object::Deployment(n)) => o.spec != n.spec,
        (Object::ReplicaSet(o), Object::ReplicaSet(n)) => o.spec != n.spec,
        (Object::StatefulSet(o), Object::StatefulSet(n)) => o.spec != n.spec,
        _ => false,
    }
}

/// The stored object with the manifest's labels, annotations and spec-like content.
fn merge_for_apply(existing: &Object, manifest: Object) -> Object {
    let mut merged = manifest;
    let old_meta = existing.meta();
    {
        let m = merged.meta_mut();
        m.owner_references = m
            .owner_references
            .take()
            .or_else(|| old_meta.owner_references.clone());
        m.finalizers = m.finalizers.take().or_else(|| old_meta.finalizers.clone());
        m.resource_version = None;
    }
    // The binding is the scheduler's, not the manifest's.
    if let (Object::Pod(old), Object::Pod(new)) = (existing, &mut merged)
        && let (Some(os), Some(ns)) = (old.spec.as_ref(), new.spec.as_mut())
        && ns.node_name.is_none()
    {
        ns.node_name = os.node_name.clone();
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::ProxySnapshot;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::discovery::v1::EndpointSlice;

    /// A cluster as read through the API: a Deployment whose pods are gone, its Service, and a
    /// slice that still names a pod that no longer exists.
    const READ: &str = "apiVersion: v1
kind: Namespace
metadata: {name: default, resourceVersion: '3'}
---
apiVersion: v1
kind: Node
metadata: {name: kind-worker, resourceVersion: '7'}
spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}
status:
  addresses: [{type: InternalIP, address: 172.18.0.3}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpd, namespace: default, uid: d-1, resourceVersion: '40', generation: 2}
spec:
  replicas: 3
  selector: {matchLabels: {app: httpd}}
  template:
    metadata: {labels: {app: httpd}}
    spec: {containers: [{name: httpd, image: httpd}]}
---
apiVersion: v1
kind: Service
metadata: {name: httpd-svc, namespace: default, resourceVersion: '41'}
spec:
  clusterIP: 10.96.200.7
  clusterIPs: [10.96.200.7]
  selector: {app: httpd}
  ports: [{port: 8080, targetPort: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: httpd-svc-x7k2p
  namespace: default
  resourceVersion: '57'
  labels:
    kubernetes.io/service-name: httpd-svc
    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
addressType: IPv4
endpoints:
- addresses: [10.244.1.9]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: kind-worker
  targetRef: {kind: Pod, name: httpd-gone, namespace: default}
ports: [{port: 80, protocol: TCP, name: ''}]
";

    #[test]
    fn an_observed_cluster_runs_no_controller() {
        let objects = crate::manifest::parse_manifests(READ).unwrap();
        let c = Cluster::observed(ClusterConfig::observed(&objects), objects.clone());
        // No controller created pods, a ReplicaSet, Events or anything else.
        assert_eq!(c.store().len(), objects.len());
        assert_eq!(c.list(Kind::Pod, None).count(), 0);
        assert_eq!(c.list(Kind::ReplicaSet, None).count(), 0);
        assert_eq!(c.list(Kind::Event, None).count(), 0);
        let d = c.get_typed::<Deployment>("default", "httpd").unwrap();
        assert_eq!(d.status, None, "no controller wrote its status");
        // Every object verbatim, the slice naming a pod that is gone included.
        for o in &objects {
            assert_eq!(
                c.get(o.kind(), o.namespace(), o.name()),
                Some(o),
                "{}",
                o.key()
            );
        }
        let slices: Vec<&EndpointSlice> = c.list_typed::<EndpointSlice>(None).collect();
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0].endpoints[0].addresses, ["10.244.1.9"]);
        assert_eq!(c.resource_version(), 57);
        // The predictions read exactly these objects.
        let snapshot = ProxySnapshot::from_cluster(&c);
        assert_eq!(snapshot.endpoint_slices.len(), 1);
        let rules = crate::proxy::iptables::render_save(&snapshot, "kind-worker").unwrap();
        assert!(rules.contains("--to-destination 10.244.1.9:80"), "{rules}");
        assert_eq!(c.list_typed::<Pod>(None).count(), 0);
    }
}
