//! The `lab-runner sim` load generator (issue 5), through kube-rs — the client the grader uses.
//!
//! `clients` clients, each its own [`kube::Client`] (its own connections) built from the sim's
//! kubeconfig, loop over get/list requests (Services, Pods, EndpointSlices, a Deployment, with
//! label selectors) while holding one watch each on Services, Pods, EndpointSlices and
//! Deployments, opened from the resourceVersion of a list as kube's watcher does. One writer
//! changes the cluster all along: it creates, annotates and deletes Services `svc-N`, scales the
//! `httpd` Deployment 1..5 through the scale subresource, and creates and deletes Deployments
//! `load-dep-N` (whose pods and ReplicaSets the garbage collector removes).
//!
//! What is checked (every finding is a line of [`Report::problems`]):
//! - every request succeeds, except the expected NotFound of a `get` for a `svc-N` the writer
//!   may have deleted;
//! - every watch stream's resourceVersions strictly increase from the list's, an ADDED is for an
//!   object the stream does not hold and a MODIFIED or DELETED for one it does, and no stream
//!   ends or reports an ERROR;
//! - every write the writer made after a stream's start shows in it as the matching event, with
//!   the resourceVersion the write returned (a delete returns the object's last state, so its
//!   event's version must fall between the writes before and after it); the `app=load`
//!   Services stream holds nothing else, since only the writer touches those Services;
//! - after the writer stops, each stream's replayed objects (the list, then its events) come to
//!   equal a fresh list — a lost event would leave a stale or missing object;
//! - the server's memory stays bounded: see [`memory_problem`] (sampled once a second from
//!   `/proc/<pid>/status` while the clients run, after a warm-up that fills the watch log).
//!
//! The figures (requests/s and latency by verb, watch delivery lag, RSS) are in
//! [`Report::json`]; the integration test asserts only the checks, the benchmark
//! (`scripts/bench-sim`) prints the figures.

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How the load runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The sim's kubeconfig (`$SVCLAB_HOME/kubeconfig`).
    pub kubeconfig: PathBuf,
    /// The server's process id, for its memory figures.
    pub server_pid: u32,
    /// Concurrent clients.
    pub clients: usize,
    /// How long the clients and the writer run.
    pub duration: Duration,
    /// The writer's pause between two writes.
    pub write_pause: Duration,
    /// Changes made before the load (see [`warm_up`]): enough to fill the server's watch log,
    /// so that the memory rule sees the steady state.
    pub warm_up_changes: u64,
}

impl Options {
    /// The load: 50 clients for 60 s, a write every 20 ms.
    pub fn new(kubeconfig: PathBuf, server_pid: u32) -> Options {
        Options {
            kubeconfig,
            server_pid,
            clients: 50,
            duration: Duration::from_secs(60),
            write_pause: Duration::from_millis(20),
            warm_up_changes: lab_core::store::DEFAULT_WATCH_LOG_CAPACITY as u64,
        }
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    /// The figures, as printed by the benchmark.
    pub json: Value,
    /// Every failed check, one line each (empty when the run is clean).
    pub problems: Vec<String>,
}

/// A request that takes longer than this is a failure (a deadlocked server would hang forever).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long, after the writer stops, the watches may take to catch up with a fresh list.
const SETTLE: Duration = Duration::from_secs(30);
/// The first part of the run left out of the memory rule: connections opening, caches filling.
const WARM_UP_FRACTION: f64 = 0.2;
/// The memory rule's allowance: the last third's peak RSS over the first third's.
const RSS_FACTOR: f64 = 1.25;
/// … plus this much, so allocator noise on a small heap does not count as growth.
const RSS_SLACK_KIB: u64 = 16 * 1024;

const NS: &str = "default";
const LOAD_LABEL: &str = "app=load";
const HTTPD_LABEL: &str = "app=httpd";

/// Latency samples by verb.
#[derive(Default)]
struct Verbs(BTreeMap<&'static str, Vec<Duration>>);

impl Verbs {
    fn add(&mut self, verb: &'static str, took: Duration) {
        self.0.entry(verb).or_default().push(took);
    }
    fn merge(&mut self, other: Verbs) {
        for (verb, mut v) in other.0 {
            self.0.entry(verb).or_default().append(&mut v);
        }
    }
}

/// Shared findings.
#[derive(Default)]
struct Findings {
    problems: Vec<String>,
    /// Expected NotFound answers (a `get` racing the writer's delete).
    not_found: u64,
}

type Shared = Arc<Mutex<Findings>>;

fn problem(shared: &Shared, text: String) {
    shared.lock().unwrap().problems.push(text);
}

/// One write and what it returned.
#[derive(Clone, Debug)]
struct Write {
    /// `services` or `deployments`.
    kind: &'static str,
    name: String,
    /// The event it must cause: ADDED, MODIFIED or DELETED.
    event: &'static str,
    /// The resourceVersion returned (none for a delete: it returns the last state).
    rv: Option<u64>,
    /// When the request went out, from the run's start.
    sent: Duration,
}

/// One event as a stream delivered it.
#[derive(Clone, Debug)]
struct Seen {
    event: &'static str,
    name: String,
    rv: u64,
    /// When it arrived, from the run's start.
    at: Duration,
}

/// One watch stream's record.
#[derive(Debug)]
struct Stream {
    kind: &'static str,
    client: usize,
    /// The resourceVersion of the list it started from.
    start_rv: u64,
    events: Vec<Seen>,
}

fn rv_of<K: Resource>(o: &K) -> Option<u64> {
    o.meta().resource_version.as_deref()?.parse().ok()
}

fn name_of<K: Resource>(o: &K) -> String {
    o.meta().name.clone().unwrap_or_default()
}

async fn timed<T>(fut: impl Future<Output = kube::Result<T>>) -> Result<(T, Duration), String> {
    let start = Instant::now();
    match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok((v, start.elapsed())),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer in {REQUEST_TIMEOUT:?}")),
    }
}

fn is_not_found(e: &str) -> bool {
    e.contains("404") || e.contains("NotFound")
}

/// A client of its own (its own connection pool), from the sim's kubeconfig.
pub async fn client(kubeconfig: &std::path::Path) -> Result<Client, String> {
    let kc = Kubeconfig::read_from(kubeconfig).map_err(|e| format!("kubeconfig: {e}"))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("kubeconfig: {e}"))?;
    Client::try_from(config).map_err(|e| format!("client: {e}"))
}

fn service(name: &str) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "labels": {"app": "load"}},
        "spec": {"selector": {"app": "httpd"}, "ports": [{"port": 80, "targetPort": 80}]},
    }))
    .unwrap()
}

fn deployment(name: &str, app: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "httpd", "image": "httpd",
                                          "ports": [{"containerPort": 80}]}]},
            },
        },
    }))
    .unwrap()
}

/// The fixed objects the readers get: Deployment `httpd` and Service `httpd-svc`.
async fn set_up(client: &Client) -> Result<(), String> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let pp = PostParams::default();
    timed(deployments.create(&pp, &deployment("httpd", "httpd", 1)))
        .await
        .map_err(|e| format!("creating deployment httpd: {e}"))?;
    let mut svc = service("httpd-svc");
    svc.metadata.labels = None;
    timed(services.create(&pp, &svc))
        .await
        .map_err(|e| format!("creating service httpd-svc: {e}"))?;
    Ok(())
}

/// The writer: one change after another until `stop`, each logged with its returned version.
async fn writer(
    client: Client,
    pause: Duration,
    t0: Instant,
    mut stop: watch::Receiver<bool>,
    shared: Shared,
) -> (Vec<Write>, Verbs) {
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client, NS);
    let pp = PostParams::default();
    let patch = PatchParams::default();
    let dp = DeleteParams::default();
    let mut log = Vec::new();
    let mut verbs = Verbs::default();
    let mut i = 0;
    let mut last_rv = 0;
    while !*stop.borrow() {
        // Each step: (verb, kind, name, event, the request's answer).
        let mut steps: Vec<(&'static str, &'static str, String, &'static str)> = vec![
            ("create", "services", format!("svc-{i}"), "ADDED"),
            ("scale", "deployments", "httpd".into(), "MODIFIED"),
            ("patch", "services", format!("svc-{i}"), "MODIFIED"),
        ];
        if i >= 3 {
            steps.push(("delete", "services", format!("svc-{}", i - 3), "DELETED"));
        }
        match i % 10 {
            0 => steps.push(("create", "deployments", format!("load-dep-{i}"), "ADDED")),
            5 => steps.push((
                "delete",
                "deployments",
                format!("load-dep-{}", i - 5),
                "DELETED",
            )),
            _ => {}
        }
        for (verb, kind, name, event) in steps {
            let sent = t0.elapsed();
            let answer: Result<(Option<u64>, Duration), String> = match (verb, kind) {
                ("create", "services") => timed(services.create(&pp, &service(&name)))
                    .await
                    .map(|(o, d)| (rv_of(&o), d)),
                ("patch", "services") => {
                    let body = json!({"metadata": {"annotations": {"load/step": i.to_string()}}});
                    timed(services.patch(&name, &patch, &Patch::Merge(&body)))
                        .await
                        .map(|(o, d)| (rv_of(&o), d))
                }
                ("delete", "services") => timed(services.delete(&name, &dp))
                    .await
                    .map(|(_, d)| (None, d)),
                ("scale", _) => {
                    // 2, 3, 4, 5, 1, …: never the replicas it has (a no-op write has no event).
                    let body = json!({"spec": {"replicas": 1 + (i + 1) % 5}});
                    timed(deployments.patch_scale(&name, &patch, &Patch::Merge(&body)))
                        .await
                        .map(|(o, d)| (rv_of(&o), d))
                }
                ("create", _) => timed(deployments.create(&pp, &deployment(&name, &name, 1)))
                    .await
                    .map(|(o, d)| (rv_of(&o), d)),
                _ => timed(deployments.delete(&name, &dp))
                    .await
                    .map(|(_, d)| (None, d)),
            };
            match answer {
                Ok((rv, took)) => {
                    verbs.add(verb, took);
                    match rv {
                        None if event != "DELETED" => {
                            problem(&shared, format!("{verb} {kind}/{name}: no resourceVersion"))
                        }
                        Some(rv) if rv <= last_rv => problem(
                            &shared,
                            format!("{verb} {kind}/{name}: resourceVersion {rv} after {last_rv}"),
                        ),
                        _ => {}
                    }
                    last_rv = rv.unwrap_or(last_rv).max(last_rv);
                    log.push(Write {
                        kind,
                        name,
                        event,
                        rv,
                        sent,
                    });
                }
                Err(e) => problem(&shared, format!("writer: {verb} {kind}/{name}: {e}")),
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
        i += 1;
    }
    (log, verbs)
}

/// The cluster's current resourceVersion (a list that matches nothing).
async fn current_rv(client: &Client) -> Result<u64, String> {
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let (list, _) = timed(services.list(&ListParams::default().labels("svclab-load=rv"))).await?;
    list.metadata
        .resource_version
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| "a list without a resourceVersion".into())
}

/// Fills the server's watch log before the load: Deployments `warm-N` of 10 replicas created
/// and deleted (each pair is about 80 changes: the ReplicaSet, the pods, their Events and
/// status) until the cluster has made `changes` changes.
async fn warm_up(client: &Client, changes: u64) -> Result<(), String> {
    let target = current_rv(client).await? + changes;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let mut n = 0;
    while current_rv(client).await? < target {
        let name = format!("warm-{n}");
        timed(deployments.create(&PostParams::default(), &deployment(&name, &name, 10)))
            .await
            .map_err(|e| format!("warm-up: creating {name}: {e}"))?;
        timed(deployments.delete(&name, &DeleteParams::default()))
            .await
            .map_err(|e| format!("warm-up: deleting {name}: {e}"))?;
        n += 1;
    }
    Ok(())
}

/// One reader's get/list loop until `stop`.
async fn reader(
    client: Client,
    id: usize,
    mut stop: watch::Receiver<bool>,
    shared: Shared,
) -> Verbs {
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client, NS);
    let load = ListParams::default().labels(LOAD_LABEL);
    let httpd = ListParams::default().labels(HTTPD_LABEL);
    let of_svc = ListParams::default().labels("kubernetes.io/service-name=httpd-svc");
    let mut verbs = Verbs::default();
    let mut n = id;
    let fail = |what: &str, e: String| problem(&shared, format!("client {id}: {what}: {e}"));
    while !*stop.borrow_and_update() {
        n += 1;
        match timed(services.list(&load)).await {
            Ok((list, took)) => {
                verbs.add("list", took);
                if let Some(o) = list.items.iter().find(|s| {
                    s.metadata.labels.as_ref().and_then(|l| l.get("app")) != Some(&"load".into())
                }) {
                    fail("list services app=load", format!("holds {}", name_of(o)));
                }
            }
            Err(e) => fail("list services", e),
        }
        match timed(services.get("httpd-svc")).await {
            Ok((_, took)) => verbs.add("get", took),
            Err(e) => fail("get service httpd-svc", e),
        }
        match timed(pods.list(&httpd)).await {
            Ok((_, took)) => verbs.add("list", took),
            Err(e) => fail("list pods", e),
        }
        match timed(slices.list(&of_svc)).await {
            Ok((_, took)) => verbs.add("list", took),
            Err(e) => fail("list endpointslices", e),
        }
        match timed(deployments.get("httpd")).await {
            Ok((_, took)) => verbs.add("get", took),
            Err(e) => fail("get deployment httpd", e),
        }
        // A Service the writer may have deleted by now: NotFound is an answer too.
        let start = Instant::now();
        match timed(services.get(&format!("svc-{}", n % 64))).await {
            Ok((_, took)) => verbs.add("get", took),
            Err(e) if is_not_found(&e) => {
                verbs.add("get", start.elapsed());
                shared.lock().unwrap().not_found += 1;
            }
            Err(e) => fail("get service svc-N", e),
        }
    }
    verbs
}

/// What each watch task gets besides its kind.
#[derive(Clone)]
struct WatchContext {
    /// The client's number, for the findings.
    client: usize,
    /// The run's start.
    t0: Instant,
    /// Turns true once the writer is done.
    settle: watch::Receiver<bool>,
    shared: Shared,
}

/// Lists, then watches from the list's version, checking the stream as it comes; once `settle`
/// turns true (the writer is done), goes on until its replayed objects equal a fresh list (or [`SETTLE`] passes).
async fn watcher<K>(
    kube: Client,
    kind: &'static str,
    selector: Option<&'static str>,
    ctx: WatchContext,
) -> Option<Stream>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug + Send + 'static,
    K::DynamicType: Default,
{
    use futures_util::StreamExt as _;
    let WatchContext {
        client,
        t0,
        mut settle,
        shared,
    } = ctx;
    let api: Api<K> = Api::namespaced(kube, NS);
    let what = format!("client {client}: watch {kind}");
    let fail = |text: String| problem(&shared, format!("{what}: {text}"));
    let lp = selector.map_or_else(ListParams::default, |s| ListParams::default().labels(s));
    let wp = selector.map_or_else(WatchParams::default, |s| WatchParams::default().labels(s));
    let list = match timed(api.list(&lp)).await {
        Ok((l, _)) => l,
        Err(e) => {
            fail(format!("list: {e}"));
            return None;
        }
    };
    let Some(start_rv) = list
        .metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse::<u64>().ok())
    else {
        fail("list without a resourceVersion".into());
        return None;
    };
    let mut held: BTreeMap<String, u64> = list
        .items
        .iter()
        .map(|o| (name_of(o), rv_of(o).unwrap_or(0)))
        .collect();
    let stream = match timed(api.watch(&wp, &start_rv.to_string())).await {
        Ok((s, _)) => s,
        Err(e) => {
            fail(format!("opening: {e}"));
            return None;
        }
    };
    let mut stream = std::pin::pin!(stream);
    let mut rec = Stream {
        kind,
        client,
        start_rv,
        events: Vec::new(),
    };
    let mut last = start_rv;
    let mut settle_deadline: Option<Instant> = None;
    let mut check = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            item = stream.next() => {
                let at = t0.elapsed();
                let (event, o) = match item {
                    None => { fail("the stream ended".into()); break; }
                    Some(Err(e)) => { fail(format!("stream error: {e}")); break; }
                    Some(Ok(WatchEvent::Added(o))) => ("ADDED", o),
                    Some(Ok(WatchEvent::Modified(o))) => ("MODIFIED", o),
                    Some(Ok(WatchEvent::Deleted(o))) => ("DELETED", o),
                    Some(Ok(WatchEvent::Bookmark(_))) => continue,
                    Some(Ok(WatchEvent::Error(s))) => { fail(format!("ERROR event: {s:?}")); break; }
                };
                let name = name_of(&o);
                let Some(rv) = rv_of(&o) else {
                    fail(format!("{event} {name} without a resourceVersion"));
                    continue;
                };
                if rv <= last {
                    fail(format!("{event} {name} at {rv} after {last}: out of order"));
                }
                last = last.max(rv);
                let had = held.contains_key(&name);
                match (event, had) {
                    ("ADDED", true) => fail(format!("ADDED {name} at {rv}, already held")),
                    ("MODIFIED" | "DELETED", false) => {
                        fail(format!("{event} {name} at {rv}, never ADDED"))
                    }
                    _ => {}
                }
                if event == "DELETED" {
                    held.remove(&name);
                } else {
                    held.insert(name.clone(), rv);
                }
                rec.events.push(Seen { event, name, rv, at });
            }
            _ = settle.changed(), if settle_deadline.is_none() => {
                settle_deadline = Some(Instant::now() + SETTLE);
            }
            _ = check.tick(), if settle_deadline.is_some() => {
                let now: BTreeMap<String, u64> = match timed(api.list(&lp)).await {
                    Ok((l, _)) => l.items.iter().map(|o| (name_of(o), rv_of(o).unwrap_or(0))).collect(),
                    Err(e) => { fail(format!("settle list: {e}")); break; }
                };
                if now == held {
                    break;
                }
                if settle_deadline.is_some_and(|d| Instant::now() > d) {
                    let stale: Vec<_> = held.iter().filter(|(k, v)| now.get(*k) != Some(v)).collect();
                    let missing: Vec<_> = now.iter().filter(|(k, v)| held.get(*k) != Some(v)).collect();
                    fail(format!("after {SETTLE:?} the stream's objects differ from a list: \
                                  held only {stale:?}, listed only {missing:?}"));
                    break;
                }
            }
        }
    }
    Some(rec)
}

/// Every write after the stream's start must show in it; in the `app=load` Services stream,
/// nothing else may. Returns each matched write's delivery lag.
fn check_stream(stream: &Stream, writes: &[Write], problems: &mut Vec<String>) -> Vec<Duration> {
    let what = format!("client {}: watch {}", stream.client, stream.kind);
    // The known versions before and after each write (the writer waits for each answer).
    let mut bounds = Vec::with_capacity(writes.len());
    let mut lo = 0;
    for w in writes {
        bounds.push(lo);
        lo = w.rv.unwrap_or(lo);
    }
    let mut hi = u64::MAX;
    let mut upper = vec![0; writes.len()];
    for (i, w) in writes.iter().enumerate().rev() {
        hi = w.rv.unwrap_or(hi);
        upper[i] = hi;
    }
    let mut matched = vec![false; writes.len()];
    let mut lags = Vec::new();
    let exact = stream.kind == "services";
    let by_name: BTreeMap<&str, Vec<usize>> = writes
        .iter()
        .enumerate()
        .filter(|(_, w)| w.kind == stream.kind)
        .fold(BTreeMap::new(), |mut m, (i, w)| {
            m.entry(w.name.as_str()).or_insert_with(Vec::new).push(i);
            m
        });
    for e in &stream.events {
        let found = by_name.get(e.name.as_str()).and_then(|idx| {
            idx.iter().copied().find(|&i| {
                let w = &writes[i];
                !matched[i]
                    && w.event == e.event
                    && match w.rv {
                        Some(rv) => rv == e.rv,
                        None => bounds[i] < e.rv && e.rv < upper[i],
                    }
            })
        });
        match found {
            Some(i) => {
                matched[i] = true;
                lags.push(e.at.saturating_sub(writes[i].sent));
            }
            None if exact => problems.push(format!(
                "{what}: {} {} at {} matches no write",
                e.event, e.name, e.rv
            )),
            None => {}
        }
    }
    for (i, w) in writes.iter().enumerate() {
        let after_start = match w.rv {
            Some(rv) => rv > stream.start_rv,
            None => bounds[i] >= stream.start_rv,
        };
        if w.kind == stream.kind && after_start && !matched[i] {
            problems.push(format!(
                "{what} (from {}): missed {} {} ({})",
                stream.start_rv,
                w.event,
                w.name,
                w.rv.map_or("deleted".into(), |r| format!("at {r}")),
            ));
        }
    }
    lags
}

fn vm_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The memory rule. Under a steady load the server holds a bounded cluster (the writer deletes
/// about as many objects as it creates), a watch log already full before the load starts (see
/// [`warm_up`]) and a fixed number of connections and threads. So, with the first
/// [`WARM_UP_FRACTION`] of the samples left out (connections opening, allocator caches filling),
/// the peak RSS of the last third of the run may exceed the first third's by at most
/// [`RSS_FACTOR`] plus [`RSS_SLACK_KIB`]. Memory kept per request or per event (a leak), or a
/// thread per waiting request, grows with time and breaks that within a minute at this rate;
/// what still grows legitimately (Events objects, kept an hour) is a few MiB a minute, and the
/// factor leaves room for transient peaks (a slow client's watch chunks buffered, the state
/// file's text) of some tens of MiB.
fn memory_problem(samples: &[u64]) -> (Option<String>, u64, u64) {
    let skip = (samples.len() as f64 * WARM_UP_FRACTION).ceil() as usize;
    let rest = &samples[skip.min(samples.len())..];
    let third = rest.len() / 3;
    if third == 0 {
        return (Some(format!("only {} RSS samples", samples.len())), 0, 0);
    }
    let first = rest[..third].iter().copied().max().unwrap_or(0);
    let last = rest[rest.len() - third..]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    let allowed = (first as f64 * RSS_FACTOR) as u64 + RSS_SLACK_KIB;
    let problem = (last > allowed).then(|| {
        format!(
            "server RSS grew: last third's peak {} KiB > {RSS_FACTOR} × first third's {} KiB + {} KiB",
            last,
            first,
            RSS_SLACK_KIB
        )
    });
    (problem, first, last)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    (sorted[i].as_secs_f64() * 1e6).round() / 1e3
}

fn verb_figures(mut samples: Vec<Duration>, seconds: f64) -> Value {
    samples.sort();
    json!({
        "count": samples.len(),
        "per_s": (samples.len() as f64 / seconds * 10.0).round() / 10.0,
        "p50_ms": percentile(&samples, 0.50),
        "p99_ms": percentile(&samples, 0.99),
    })
}

/// Runs the load against a started sim and checks what it saw.
pub async fn run(opts: &Options) -> Report {
    let shared: Shared = Arc::default();
    let t0 = Instant::now();
    let fatal = |text: String| Report {
        json: json!({"error": text}),
        problems: vec![text],
    };
    let writer_client = match client(&opts.kubeconfig).await {
        Ok(c) => c,
        Err(e) => return fatal(e),
    };
    if let Err(e) = set_up(&writer_client).await {
        return fatal(e);
    }
    let warm_start = Instant::now();
    if let Err(e) = warm_up(&writer_client, opts.warm_up_changes).await {
        return fatal(e);
    }
    let warm_up_seconds = warm_start.elapsed().as_secs_f64();

    // Memory: one sample a second, from before the load to its end.
    let (sampling_tx, sampling_rx) = watch::channel(false);
    let pid = opts.server_pid;
    let sampler = tokio::spawn(async move {
        let mut rss = Vec::new();
        let mut every = tokio::time::interval(Duration::from_secs(1));
        while !*sampling_rx.borrow() {
            every.tick().await;
            if let Some(kib) = vm_kib(pid, "VmRSS") {
                rss.push(kib);
            }
        }
        (rss, vm_kib(pid, "VmHWM").unwrap_or(0))
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    // The watches settle once the writer's last write has been answered.
    let (settle_tx, settle_rx) = watch::channel(false);
    // The writer first, so the readers' lists and watches start while changes happen.
    let writer_task = tokio::spawn(writer(
        writer_client,
        opts.write_pause,
        t0,
        stop_rx.clone(),
        shared.clone(),
    ));
    let mut readers = Vec::new();
    let mut watchers = Vec::new();
    for id in 0..opts.clients {
        let c = match client(&opts.kubeconfig).await {
            Ok(c) => c,
            Err(e) => return fatal(e),
        };
        let ctx = WatchContext {
            client: id,
            t0,
            settle: settle_rx.clone(),
            shared: shared.clone(),
        };
        watchers.extend([
            tokio::spawn(watcher::<Service>(
                c.clone(),
                "services",
                Some(LOAD_LABEL),
                ctx.clone(),
            )),
            tokio::spawn(watcher::<Pod>(
                c.clone(),
                "pods",
                Some(HTTPD_LABEL),
                ctx.clone(),
            )),
            tokio::spawn(watcher::<EndpointSlice>(
                c.clone(),
                "endpointslices",
                None,
                ctx.clone(),
            )),
            tokio::spawn(watcher::<Deployment>(c.clone(), "deployments", None, ctx)),
        ]);
        readers.push(tokio::spawn(reader(c, id, stop_rx.clone(), shared.clone())));
    }
    let load_start = Instant::now();
    tokio::time::sleep(opts.duration).await;
    let _ = stop_tx.send(true);
    let (writes, mut verbs) = writer_task.await.expect("writer task");
    let _ = settle_tx.send(true);
    for r in readers {
        verbs.merge(r.await.expect("reader task"));
    }
    let seconds = load_start.elapsed().as_secs_f64();
    let mut streams = Vec::new();
    for w in watchers {
        streams.extend(w.await.expect("watch task"));
    }
    let _ = sampling_tx.send(true);
    let (rss, hwm) = sampler.await.expect("sampler task");

    let mut findings = std::mem::take(&mut *shared.lock().unwrap());
    let mut lags = Vec::new();
    let mut events = 0;
    for s in &streams {
        events += s.events.len();
        lags.extend(check_stream(s, &writes, &mut findings.problems));
    }
    if streams.len() != 4 * opts.clients {
        findings.problems.push(format!(
            "{} of {} watch streams opened",
            streams.len(),
            4 * opts.clients
        ));
    }
    let (mem_problem, first_kib, last_kib) = memory_problem(&rss);
    findings.problems.extend(mem_problem);
    lags.sort();
    let kinds: BTreeSet<&str> = writes.iter().map(|w| w.kind).collect();
    let json = json!({
        "clients": opts.clients,
        "seconds": (seconds * 10.0).round() / 10.0,
        "writes": writes.len(),
        "warm_up": {
            "changes": opts.warm_up_changes,
            "seconds": (warm_up_seconds * 10.0).round() / 10.0,
        },
        "written_kinds": kinds,
        "requests": verbs.0.into_iter()
            .map(|(verb, v)| (verb.to_string(), verb_figures(v, seconds)))
            .collect::<serde_json::Map<_, _>>(),
        "watch": {
            "streams": streams.len(),
            "events": events,
            "writes_matched": lags.len(),
            "lag_p50_ms": percentile(&lags, 0.50),
            "lag_p99_ms": percentile(&lags, 0.99),
        },
        "rss_mib": {
            "first_third_peak": first_kib / 1024,
            "last_third_peak": last_kib / 1024,
            "hwm": hwm / 1024,
            "samples": rss.len(),
            "series": rss.iter().map(|kib| kib / 1024).collect::<Vec<_>>(),
        },
        "expected_not_found": findings.not_found,
        "problems": findings.problems.len(),
    });
    Report {
        json,
        problems: findings.problems,
    }
}
