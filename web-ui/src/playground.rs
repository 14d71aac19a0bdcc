//! The playground's state and the only way it changes: an [`Action`] applied by
//! [`Playground::reduce`] (the Yew examples' reducer habit). The page holds one `Playground`,
//! dispatches actions from its controls and redraws from [`Playground::map`]; none of this
//! imports Yew, so it is tested natively.

use crate::i18n::Lang;
use crate::map::ClusterMap;
use lab_core::config::ProxyMode;
use lab_core::proxy::ProxyConfig;
use lab_core::shell::terminal::{self, TerminalOutput};
use lab_core::{Cluster, Kind};
use std::rc::Rc;

/// The chapter's Deployment (3 httpd replicas), as lab-core's tests and the book use it.
pub const CHAPTER_DEPLOYMENT: &str =
    include_str!("../../lab-core/tests/data/httpd-deployment.yaml");
/// The chapter's Service `httpd-svc` (port 8080 → targetPort 80).
pub const CHAPTER_SERVICE: &str = include_str!("../../lab-core/tests/data/httpd-service.yaml");
/// The chapter's `clientpod` (busybox:1.28), where its nslookup and wget run.
pub const CHAPTER_CLIENT: &str = include_str!("../../lab-core/tests/data/clientpod.yaml");
/// The Deployment the scale control acts on.
pub const CHAPTER_DEPLOYMENT_NAME: &str = "httpd";
/// The namespace the playground shows and edits.
pub const NAMESPACE: &str = "default";
/// The scale control's bounds (the map is sized for a handful of pods per node).
pub const MAX_REPLICAS: i32 = 10;

/// Something the learner did. Serialisable: a scenario is its list of actions (see `share`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// `kubectl apply -f` the chapter's Deployment, Service and client pod.
    ApplyChapter,
    /// `kubectl apply -f` of the editor's text (multi-document YAML or JSON).
    ApplyYaml(String),
    /// `kubectl scale deployment httpd --replicas=N`.
    Scale(i32),
    /// `kubectl delete pod NAME` in the playground's namespace.
    DeletePod(String),
    /// Make a pod's readiness probe fail (`false`) or pass again (`true`).
    SetPodReady(String, bool),
    /// Edit ConfigMap `kube-system/kube-proxy` to this mode, as a learner does with
    /// `kubectl -n kube-system edit configmap kube-proxy` (`lab_core::lab::set_proxy_mode`).
    SetProxyMode(ProxyMode),
    /// One line typed in the terminal.
    Run(String),
    /// Start guided lab `id`: a fresh cluster with the lab's starting manifests.
    StartLab(String),
    /// Apply guided lab `id`'s solution (what `lab-runner solve` does).
    SolveLab(String),
    /// Switch the page's language.
    SetLang(Lang),
}

/// One command typed in the terminal and what it printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminalEntry {
    /// The line as typed.
    pub command: String,
    /// What it printed and how it exited.
    pub output: TerminalOutput,
}

/// Lines kept in the terminal's scrollback (older ones scroll away, as in a real terminal).
pub const TERMINAL_SCROLLBACK: usize = 200;

/// The whole page state: an in-page kind-like cluster and the language.
#[derive(Clone, Debug)]
pub struct Playground {
    /// The simulated cluster, `Cluster::kind()` at start.
    pub cluster: Cluster,
    /// The language of the visible strings.
    pub lang: Lang,
    /// The last action's error, as the apiserver would word it.
    pub error: Option<String>,
    /// The last editor apply's error, placed at its line.
    pub editor_error: Option<crate::editor::EditorError>,
    /// The terminal's commands and their output, oldest first.
    pub terminal: Rc<Vec<TerminalEntry>>,
    /// Commands run so far: the seed of kube-proxy's endpoint choice for the next one, so a
    /// repeated `wget` may reach another pod, as on a real cluster.
    pub commands_run: u64,
    /// Every action but language switches, in order: replayed on a fresh cluster, it rebuilds
    /// this state exactly (share links and the saved state are this log).
    pub log: Vec<Action>,
    /// The guided lab started last, graded live.
    pub lab: Option<String>,
    /// A deletion the controllers have not yet followed through (see [`Playground::dispatch`]):
    /// the virtual time its settle may run to.
    pub unsettled: Option<i64>,
    /// In the live view (`?live=`): what is followed. `cluster` is then the objects last read
    /// (`Cluster::observed`), and no action changes it.
    pub live: Option<crate::live::Follow>,
}

impl Default for Playground {
    fn default() -> Self {
        Playground::new(Lang::default())
    }
}

/// Replicas of the warm-up's Deployment: enough for the endpoint controllers' loops to run long
/// enough that the browser optimises them (V8 first runs wasm from a baseline compile and
/// re-compiles a function optimised only once it has run for a while; with the chapter's 3 pods
/// the first readiness change at 200 pods still ran the baseline code, about 3× slower).
pub const WARM_UP_REPLICAS: usize = 40;
/// Pods the warm-up fails, passes and deletes, one round each (the first deletions at 200 pods
/// were still slow after 3 rounds).
pub const WARM_UP_ROUNDS: usize = 8;

/// The chapter's everyday actions on a throwaway playground, run by the page right after its
/// first render, one step per task (each a few milliseconds, so the page stays responsive): the
/// browser compiles each wasm function on its first call and optimises it once it is hot, so
/// without this the learner's first readiness change or deletion at 200 pods would pay for
/// that (it made them the slowest interactions of the benchmark).
pub struct WarmUp {
    playground: Option<Playground>,
    round: usize,
}

impl Default for WarmUp {
    fn default() -> Self {
        WarmUp::new()
    }
}

impl WarmUp {
    /// A warm-up not started yet (its first step builds the cluster).
    pub fn new() -> WarmUp {
        WarmUp {
            playground: None,
            round: 0,
        }
    }

    /// Runs the next step; `false` once it is done.
    pub fn step(&mut self) -> bool {
        let p = self.playground.get_or_insert_with(|| {
            let mut p = Playground::new(Lang::En);
            p.reduce(Action::ApplyChapter);
            p
        });
        if self.round == 0 {
            p.reduce(Action::ApplyYaml(CHAPTER_DEPLOYMENT.replace(
                "replicas: 3",
                &format!("replicas: {WARM_UP_REPLICAS}"),
            )));
        } else {
            let pod = p
                .map()
                .pods()
                .filter(|x| x.name.starts_with("httpd-"))
                .nth(self.round % WARM_UP_REPLICAS)
                .map(|x| x.name.clone());
            if let Some(pod) = pod {
                p.reduce(Action::SetPodReady(pod.clone(), false));
                p.reduce(Action::SetPodReady(pod.clone(), true));
                // As the page runs a deletion: staged, then step by step.
                p.dispatch(Action::DeletePod(pod));
                while p.unsettled.is_some() {
                    p.settle_step();
                }
            }
        }
        self.round += 1;
        self.round <= WARM_UP_ROUNDS
    }

    /// The pods it has now.
    pub fn pods(&self) -> usize {
        self.playground
            .as_ref()
            .map_or(0, |p| p.map().pods().count())
    }
}

impl Playground {
    /// A fresh kind cluster with nothing applied.
    pub fn new(lang: Lang) -> Playground {
        let mut cluster = Cluster::kind();
        cluster.settle();
        Playground::with(cluster, lang, None)
    }

    /// The live view of the cluster whose API is at `base`: nothing read yet.
    pub fn live(lang: Lang, base: crate::live::Base) -> Playground {
        Playground::with(
            crate::live::observe(Vec::new()),
            lang,
            Some(crate::live::Follow::new(base)),
        )
    }

    fn with(cluster: Cluster, lang: Lang, live: Option<crate::live::Follow>) -> Playground {
        Playground {
            cluster,
            lang,
            error: None,
            editor_error: None,
            terminal: Rc::default(),
            commands_run: 0,
            log: Vec::new(),
            lab: None,
            unsettled: None,
            live,
        }
    }

    /// Applies a live view's event (see `live::Follow::apply`); whether the page changed.
    /// Nothing in the playground proper.
    pub fn follow(&mut self, event: crate::live::Event) -> bool {
        match &mut self.live {
            Some(f) => f.apply(&mut self.cluster, event),
            None => false,
        }
    }

    /// What the views recompute on: the cluster's resourceVersion, or in the live view the
    /// count of reads that changed something (a deletion leaves no higher resourceVersion
    /// behind among the objects read).
    pub fn version(&self) -> u64 {
        match &self.live {
            Some(f) => f.serial,
            None => self.cluster.resource_version(),
        }
    }

    /// Applies `action`, then lets the controllers settle so the map shows the converged state.
    pub fn reduce(&mut self, action: Action) {
        if self.dispatch(action) {
            self.settle();
        }
    }

    /// Lets the controllers follow through what the last action started; nothing when they
    /// already have.
    pub fn settle(&mut self) {
        if let Some(until) = self.unsettled.take() {
            while self.cluster.settle_step(until) {}
        }
    }

    /// One step of the follow-through (the page runs one per task, each its own re-render, as
    /// `kubectl get pods -w` shows them: the old pod gone, the new one running, then ready).
    /// Returns whether it did anything; [`Playground::unsettled`] says whether more is due.
    pub fn settle_step(&mut self) -> bool {
        let Some(until) = self.unsettled else {
            return false;
        };
        if !self.cluster.settle_step(until) {
            self.unsettled = None;
        }
        true
    }

    /// [`Playground::reduce`] in stages, as the page runs it: applies `action` and returns
    /// `true` when the controllers still have to settle, which [`Playground::settle_step`] then
    /// does one scheduled moment at a time (the page one per task, each its own re-render).
    ///
    /// Only a pod deletion is staged: the apiserver answers with the pod Terminating, its
    /// ReplicaSet has created the replacement and the scheduler has placed it (what
    /// `Cluster::delete` runs at once); the grace period ending, the kubelet starting the new
    /// pod, its readiness and the endpoint controllers following are the later steps. At 200
    /// pods all of it took longer than a frame. The steps are exactly `Cluster::settle`'s, and
    /// any action first finishes a pending settle, so the state after each action is the one
    /// [`Playground::reduce`] gives, and a replayed log rebuilds it exactly.
    pub fn dispatch(&mut self, action: Action) -> bool {
        // The live view changes nothing: the cluster is changed with kubectl.
        if self.live.is_some() {
            if let Action::SetLang(lang) = action {
                self.lang = lang;
            }
            return false;
        }
        self.settle();
        let staged = matches!(action, Action::DeletePod(_));
        self.error = None;
        self.editor_error = None;
        if !matches!(action, Action::SetLang(_)) {
            self.log.push(action.clone());
        }
        let result = match action {
            Action::ApplyChapter => self
                .cluster
                .apply_manifests(&chapter_manifests())
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Action::ApplyYaml(text) => match self.cluster.apply_manifests(&text) {
                Ok(_) => Ok(()),
                Err(e) => {
                    let placed = crate::editor::EditorError::from_apply(&text, &e);
                    let message = placed.message.clone();
                    self.editor_error = Some(placed);
                    Err(message)
                }
            },
            Action::Scale(n) => self
                .cluster
                .scale(
                    Kind::Deployment,
                    NAMESPACE,
                    CHAPTER_DEPLOYMENT_NAME,
                    n.clamp(0, MAX_REPLICAS),
                )
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Action::DeletePod(name) => self
                .cluster
                .delete(Kind::Pod, NAMESPACE, &name)
                .map(|_| ())
                .map_err(|e| e.kubectl_message()),
            Action::SetPodReady(name, ready) => self
                .cluster
                .set_pod_ready(NAMESPACE, &name, ready)
                .map_err(|e| e.kubectl_message()),
            Action::SetProxyMode(mode) => {
                lab_core::lab::set_proxy_mode(&mut self.cluster, mode).map_err(|e| e.to_string())
            }
            Action::Run(line) => {
                let line = line.trim().to_string();
                if line == "clear" {
                    Rc::make_mut(&mut self.terminal).clear();
                } else if !line.is_empty() {
                    self.commands_run += 1;
                    let output = terminal::run(&mut self.cluster, &line, self.commands_run);
                    // Shared with the terminal view (no copy per render); copied on write only
                    // while a render still holds the previous scrollback.
                    let scrollback = Rc::make_mut(&mut self.terminal);
                    scrollback.push(TerminalEntry {
                        command: line,
                        output,
                    });
                    let excess = scrollback.len().saturating_sub(TERMINAL_SCROLLBACK);
                    scrollback.drain(..excess);
                }
                Ok(())
            }
            Action::StartLab(id) => crate::labs::start(&id).map(|c| {
                self.cluster = c;
                self.lab = Some(id);
            }),
            Action::SolveLab(id) => crate::labs::solve(&id, &mut self.cluster),
            Action::SetLang(lang) => {
                self.lang = lang;
                Ok(())
            }
        };
        let failed = result.is_err();
        self.error = result.err();
        if staged && !failed {
            self.unsettled = Some(self.cluster.begin_settle());
        } else {
            self.cluster.settle();
        }
        self.unsettled.is_some()
    }

    /// The Deployment's desired replicas, `None` before the chapter is applied.
    pub fn replicas(&self) -> Option<i32> {
        self.cluster
            .get_typed::<k8s_openapi::api::apps::v1::Deployment>(NAMESPACE, CHAPTER_DEPLOYMENT_NAME)
            .map(|d| d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1))
    }

    /// The mode kube-proxy runs in, as ConfigMap `kube-system/kube-proxy` says.
    pub fn proxy_mode(&self) -> ProxyMode {
        ProxyConfig::from_cluster(&self.cluster).mode
    }

    /// The cluster map of the playground's namespace (in the live view, the one picked).
    pub fn map(&self) -> ClusterMap {
        let ns = match &self.live {
            Some(f) => f.namespace.as_deref(),
            None => Some(NAMESPACE),
        };
        ClusterMap::from_cluster(&self.cluster, ns)
    }
}

/// The chapter's manifests as one multi-document text: the Deployment, the Service, the client.
pub fn chapter_manifests() -> String {
    format!("{CHAPTER_DEPLOYMENT}---\n{CHAPTER_SERVICE}---\n{CHAPTER_CLIENT}")
}

/// The first httpd replica on the map (tests pick the pod they act on with it).
#[cfg(test)]
pub(crate) fn first_httpd_pod(p: &Playground) -> String {
    p.map()
        .pods()
        .find(|q| q.name.starts_with("httpd-"))
        .expect("an httpd pod")
        .name
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn httpd_lines(p: &Playground) -> usize {
        p.map()
            .services
            .iter()
            .find(|s| s.name == "httpd-svc")
            .map_or(0, |s| s.endpoints.iter().filter(|e| e.ready).count())
    }

    #[test]
    fn apply_then_scale_to_five_gives_five_endpoints() {
        let mut p = Playground::default();
        assert_eq!(p.replicas(), None);
        p.reduce(Action::ApplyChapter);
        assert_eq!(p.error, None);
        assert_eq!(p.replicas(), Some(3));
        assert_eq!(httpd_lines(&p), 3);
        p.reduce(Action::Scale(5));
        assert_eq!(p.replicas(), Some(5));
        assert_eq!(httpd_lines(&p), 5);
    }

    #[test]
    fn scaling_before_apply_reports_not_found() {
        let mut p = Playground::default();
        p.reduce(Action::Scale(5));
        let err = p.error.expect("an error");
        assert!(err.contains("not found"), "{err}");
    }

    #[test]
    fn deleting_a_pod_brings_a_replacement_with_a_new_ip() {
        let mut p = Playground::default();
        p.reduce(Action::ApplyChapter);
        let map = p.map();
        let victim = map
            .pods()
            .find(|q| q.name.starts_with("httpd-"))
            .unwrap()
            .clone();
        p.reduce(Action::DeletePod(victim.name.clone()));
        assert_eq!(p.error, None);
        let after = p.map();
        assert_eq!(
            after.pods().count(),
            4,
            "3 httpd replicas and the client pod"
        );
        assert!(after.pods().all(|q| q.name != victim.name));
        assert_eq!(httpd_lines(&p), 3);
        let svc = after
            .services
            .iter()
            .find(|s| s.name == "httpd-svc")
            .unwrap();
        assert!(
            svc.endpoints
                .iter()
                .all(|e| Some(&e.ip) != victim.ip.as_ref())
        );
        p.reduce(Action::DeletePod("nope".into()));
        assert_eq!(
            p.error.as_deref(),
            Some("Error from server (NotFound): pods \"nope\" not found")
        );
    }

    #[test]
    fn an_unready_pod_leaves_the_ready_endpoints() {
        let mut p = Playground::default();
        p.reduce(Action::ApplyChapter);
        let name = first_httpd_pod(&p);
        p.reduce(Action::SetPodReady(name.clone(), false));
        assert_eq!(httpd_lines(&p), 2);
        p.reduce(Action::SetPodReady(name, true));
        assert_eq!(httpd_lines(&p), 3);
    }

    #[test]
    fn the_mode_switch_edits_kube_proxys_config_map() {
        let mut p = Playground::default();
        p.reduce(Action::ApplyChapter);
        assert_eq!(p.proxy_mode(), ProxyMode::Iptables);
        p.reduce(Action::SetProxyMode(ProxyMode::Ipvs));
        assert_eq!(p.error, None);
        assert_eq!(p.proxy_mode(), ProxyMode::Ipvs);
        let out = lab_core::shell::node_exec(
            &p.cluster,
            "kind-worker",
            &["ipvsadm".to_string(), "-Ln".to_string()],
        )
        .unwrap();
        assert!(
            out.stdout.starts_with("IP Virtual Server version"),
            "{out:?}"
        );
        p.reduce(Action::SetProxyMode(ProxyMode::Nftables));
        assert_eq!(p.proxy_mode(), ProxyMode::Nftables);
    }

    #[test]
    fn the_terminal_runs_kubectl_and_keeps_its_scrollback() {
        let mut p = Playground::default();
        p.reduce(Action::ApplyChapter);
        p.reduce(Action::Run("kubectl get svc".into()));
        let e = p.terminal.last().unwrap();
        assert_eq!(e.command, "kubectl get svc");
        assert!(e.output.stdout.contains("httpd-svc"));
        p.reduce(Action::Run(
            "kubectl scale deploy httpd --replicas=4".into(),
        ));
        assert_eq!(p.replicas(), Some(4));
        assert_eq!(
            httpd_lines(&p),
            4,
            "the terminal's writes settle like the buttons'"
        );
        p.reduce(Action::Run("   ".into()));
        assert_eq!(p.terminal.len(), 2);
        p.reduce(Action::Run("clear".into()));
        assert!(p.terminal.is_empty());
        for i in 0..TERMINAL_SCROLLBACK + 5 {
            p.reduce(Action::Run(format!("echo {i}")));
        }
        assert_eq!(p.terminal.len(), TERMINAL_SCROLLBACK);
    }

    #[test]
    fn the_editor_applies_yaml_and_places_its_errors() {
        let mut p = Playground::default();
        p.reduce(Action::ApplyYaml(format!(
            "{CHAPTER_DEPLOYMENT}\n---\n{CHAPTER_SERVICE}"
        )));
        assert_eq!(p.error, None);
        assert_eq!(httpd_lines(&p), 3);
        let before = p.cluster.resource_version();
        let bad = CHAPTER_SERVICE.replace("port: 8080", "port: 80800");
        p.reduce(Action::ApplyYaml(bad.clone()));
        let e = p.editor_error.clone().expect("placed error");
        assert!(
            e.message
                .contains("spec.ports[0].port: Invalid value: 80800"),
            "{e:?}"
        );
        let line = e.line.expect("a line");
        assert!(
            bad.lines().nth(line - 1).unwrap().contains("80800"),
            "{e:?}"
        );
        assert_eq!(
            p.cluster.resource_version(),
            before,
            "a rejected apply changes nothing"
        );
        p.reduce(Action::Scale(2));
        assert_eq!(p.editor_error, None, "the next action clears it");
    }

    #[test]
    fn a_guided_lab_starts_on_a_fresh_cluster_and_its_solution_passes() {
        let mut p = Playground::default();
        p.reduce(Action::ApplyChapter);
        p.reduce(Action::StartLab("01-clusterip".into()));
        assert_eq!(p.error, None);
        assert_eq!(p.lab.as_deref(), Some("01-clusterip"));
        assert!(
            p.map().pods().all(|q| q.name != "clientpod"),
            "a fresh cluster"
        );
        let report = crate::labs::grade("01-clusterip", &p.cluster).unwrap();
        assert!(!report.all_passed());
        p.reduce(Action::SolveLab("01-clusterip".into()));
        assert!(
            crate::labs::grade("01-clusterip", &p.cluster)
                .unwrap()
                .all_passed()
        );
        p.reduce(Action::StartLab("99-nope".into()));
        assert_eq!(p.error.as_deref(), Some("unknown lab \"99-nope\""));
        assert_eq!(
            p.lab.as_deref(),
            Some("01-clusterip"),
            "a failed start changes nothing"
        );
    }

    #[test]
    fn language_switch_keeps_the_cluster() {
        let mut p = Playground::new(Lang::En);
        p.reduce(Action::ApplyChapter);
        p.reduce(Action::SetLang(Lang::ZhCn));
        assert_eq!(p.lang, Lang::ZhCn);
        assert_eq!(httpd_lines(&p), 3);
    }

    #[test]
    fn the_warm_up_runs_the_chapters_actions() {
        // Its httpd pods (each deleted one replaced) and the client pod.
        let mut w = WarmUp::new();
        while w.step() {}
        assert_eq!(w.pods(), WARM_UP_REPLICAS + 1);
    }

    #[test]
    fn a_staged_deletion_ends_where_reduce_does() {
        let mut staged = Playground::new(Lang::En);
        staged.reduce(Action::ApplyChapter);
        let mut whole = staged.clone();
        let victim = first_httpd_pod(&staged);

        assert!(staged.dispatch(Action::DeletePod(victim.clone())));
        // The first stage: the pod is terminating and its replacement exists, not started yet.
        let pods: Vec<_> = staged.map().pods().cloned().collect();
        let status = |name: &str| {
            pods.iter()
                .find(|x| x.name == name)
                .map(|x| x.status.as_str())
        };
        assert_eq!(status(&victim), Some("Terminating"));
        assert!(
            pods.iter()
                .any(|x| x.name.starts_with("httpd-") && x.ip.is_none()),
            "the replacement is there without an IP: {pods:?}"
        );
        // One step further: not settled yet, but moving (the page re-renders each step).
        let before = staged.cluster.now_ms();
        assert!(staged.settle_step());
        assert!(staged.cluster.now_ms() > before);
        // The next action settles first: same state as the whole reduce, then the action.
        staged.reduce(Action::Scale(4));
        whole.reduce(Action::DeletePod(victim));
        whole.reduce(Action::Scale(4));
        assert_eq!(staged.map(), whole.map());
        assert_eq!(staged.log, whole.log);
        assert_eq!(
            staged.cluster.store().resource_version(),
            whole.cluster.store().resource_version()
        );

        // A deletion that fails is not staged.
        assert!(!staged.dispatch(Action::DeletePod("nope".into())));
        assert!(staged.error.is_some());
        assert!(!staged.settle_step(), "nothing pending");

        // Stepping to the end is the whole settle.
        let mut stepped = whole.clone();
        let victim = first_httpd_pod(&whole);
        assert!(stepped.dispatch(Action::DeletePod(victim.clone())));
        let mut steps = 0;
        while stepped.unsettled.is_some() {
            assert!(stepped.settle_step());
            steps += 1;
        }
        whole.reduce(Action::DeletePod(victim));
        assert!(steps >= 2, "a deletion settles in several steps ({steps})");
        assert_eq!(stepped.map(), whole.map());
        assert_eq!(stepped.cluster.now_ms(), whole.cluster.now_ms());
    }
}
