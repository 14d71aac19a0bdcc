//! The Yew components: they read the [`Playground`] and dispatch [`Action`]s, nothing more.
//! All logic (the cluster, the map's model and layout, the rules filter, the terminal, the
//! strings) is in the library and lab-core.

mod dns;
mod editor;
mod labs;
mod live;
mod map;
mod perf;
mod pods;
mod rules;
mod scale;
mod terminal;
mod trace;

use lab_core::Kind;
use lab_core::config::ProxyMode;
use lab_core::proxy::ProxySnapshot;
use lab_core::shell::terminal::complete;
use std::cell::RefCell;
use std::rc::Rc;
use web_ui::i18n::{Lang, Text, html_lang, text};
use web_ui::live::{Event as LiveEvent, Sim};
use web_ui::playground::{Action, MAX_REPLICAS, NAMESPACE, Playground};
use web_ui::rules::{
    ServiceAddrs, SyncMarks, command, filter, node_rules_of, proxier as rules_proxier,
    sync_marks_to,
};
use web_ui::share::{self, Query, STORAGE_KEY, View};
use yew::prelude::*;

/// The rules view's kube-proxy, kept across changes so that its next sync says what changed.
struct Synced {
    /// The node it runs on.
    node: String,
    /// Its mode.
    mode: ProxyMode,
    /// The cluster's resourceVersion it last synced.
    version: u64,
    proxier: lab_core::proxy::sync::Proxier,
    /// What that sync changed.
    marks: SyncMarks,
}

/// `Playground` behind Yew's reducer hook. The playground is changed in place (a cluster of
/// 200 pods is too big to copy on every click); each change returns a new `State` (a new `Rc`),
/// which is what tells Yew to render again.
pub(crate) struct State {
    pg: Rc<RefCell<Playground>>,
}

impl State {
    fn new(p: Playground) -> State {
        State {
            pg: Rc::new(RefCell::new(p)),
        }
    }
}

/// What changes the page state: a learner's action, or a whole new playground (start over).
pub(crate) enum Msg {
    Do(Action),
    Replace(Box<Playground>),
    /// The next step of a staged action (`Playground::dispatch`): the controllers follow
    /// through one scheduled moment, in a task of its own after the previous step's render.
    Settle,
    /// What the live view read (`live::follow`) or picked.
    Live(web_ui::live::Event),
}

impl From<Action> for Msg {
    fn from(a: Action) -> Msg {
        Msg::Do(a)
    }
}

impl Reducible for State {
    type Action = Msg;

    fn reduce(self: Rc<Self>, msg: Msg) -> Rc<Self> {
        match msg {
            Msg::Do(action) => {
                perf::interaction_started();
                self.pg.borrow_mut().dispatch(action);
                perf::reduced();
            }
            Msg::Replace(p) => {
                perf::interaction_started();
                *self.pg.borrow_mut() = *p;
            }
            Msg::Settle => {
                perf::follow_up_started();
                if !self.pg.borrow_mut().settle_step() {
                    // Already settled (an action came first): nothing to re-render.
                    perf::follow_up_cancelled();
                    return self;
                }
                perf::reduced();
            }
            Msg::Live(event) => {
                // A read that changed nothing renders nothing.
                if !self.pg.borrow_mut().follow(event) {
                    return self;
                }
            }
        }
        Rc::new(State {
            pg: self.pg.clone(),
        })
    }
}

/// The pause between a staged action's steps, in milliseconds.
const STEP_MS: u32 = 150;

/// Runs `w`'s next step in a task of its own, then schedules the one after.
fn warm_up_later(mut w: web_ui::playground::WarmUp) {
    gloo_timers::callback::Timeout::new(0, move || {
        if w.step() {
            warm_up_later(w);
        }
    })
    .forget();
}

/// The value of the `<select>` a change event came from.
pub(crate) fn selected(e: &Event) -> String {
    e.target_unchecked_into::<web_sys::HtmlSelectElement>()
        .value()
}

/// The value of the `<input>` an input event came from.
pub(crate) fn typed(e: &InputEvent) -> String {
    e.target_unchecked_into::<web_sys::HtmlInputElement>()
        .value()
}

/// The `localStorage` key of the chosen language (kept apart: it is not part of a scenario).
const LANG_KEY: &str = "svclab.lang";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The page's query, its address without the query, and the playground it opens with: the
/// link's scenario, else the saved one, else a fresh cluster (with the reason a link or the
/// saved state could not be opened). The playground is taken out by the reducer's start, so the
/// page keeps no second copy of it.
fn initial() -> (Query, String, RefCell<Option<Playground>>, Option<String>) {
    let location = web_sys::window().map(|w| w.location());
    let search = location
        .as_ref()
        .and_then(|l| l.search().ok())
        .unwrap_or_default();
    let base_url = location
        .as_ref()
        .and_then(|l| Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?)))
        .unwrap_or_else(|| "/".into());
    let query = share::parse_query(&search);
    let saved_lang = storage()
        .and_then(|s| s.get_item(LANG_KEY).ok().flatten())
        .and_then(|l| Lang::parse(&l));
    let lang = query.lang.or(saved_lang).unwrap_or_default();
    // An embed (a book's scene) never shows the learner's saved playground.
    let saved = storage()
        .filter(|_| query.embed.is_none())
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
    // The live view (`?live=BASE`): a cluster read from the API, nothing saved or replayed; a
    // refused BASE is said on the page (and nothing is read).
    if let Some(raw) = &query.live {
        let (base, problem) = match web_ui::live::parse_base(raw) {
            Ok(base) => (base, None),
            Err(e) => (Default::default(), Some(e.message(lang))),
        };
        let p = Playground::live(lang, base);
        return (query, base_url, RefCell::new(Some(p)), problem);
    }
    let opened = match (&query.scenario, &query.scene) {
        (Some(text), _) => Some(share::decode(text).map(|a| share::replay(lang, &a))),
        (None, Some(scene)) => Some(share::play_scene(lang, scene)),
        (None, None) => saved.map(|text| share::decode(&text).map(|a| share::replay(lang, &a))),
    };
    let (playground, problem) = match opened {
        Some(Ok(p)) => (p, None),
        Some(Err(e)) => (Playground::new(lang), Some(e.to_string())),
        None => (Playground::new(lang), None),
    };
    (query, base_url, RefCell::new(Some(playground)), problem)
}

const MODES: [(ProxyMode, &str); 3] = [
    (ProxyMode::Iptables, "iptables"),
    (ProxyMode::Ipvs, "IPVS"),
    (ProxyMode::Nftables, "nftables"),
];

/// The page.
#[function_component(App)]
pub fn app() -> Html {
    perf::render_started();
    let start = use_memo((), |_| initial());
    let (query, base, _, problem) = &*start;
    let live_mode = query.live.is_some();
    let state = {
        let start = start.clone();
        use_reducer(move || State::new(start.2.borrow_mut().take().unwrap_or_default()))
    };
    use_effect_with((), move |_| {
        perf::first_render();
        // In tasks after the first render is on screen, one step each (see `WarmUp`); not for
        // the live view, which runs none of the playground's actions.
        if !live_mode {
            warm_up_later(web_ui::playground::WarmUp::new());
        }
    });
    use_effect(perf::rendered);
    // Served by the sim (its `/svclab/v1/info` answers): the header offers the live view.
    let served_by_sim = use_state(|| false);
    {
        let served_by_sim = served_by_sim.clone();
        let offer = query.embed.is_none() && !live_mode;
        use_effect_with((), move |_| {
            if offer {
                yew::platform::spawn_local(async move {
                    if let Ok(body) = live::get(web_ui::live::INFO_PATH).await
                        && web_ui::live::is_sim_info(&body)
                    {
                        served_by_sim.set(true);
                    }
                });
            }
        });
    }
    // A staged action's next step, a moment later: the previous step stays on screen long
    // enough to be seen (Terminating, then the replacement started, then ready), and the work
    // that follows a render (the rules view's text) is done before the next step begins.
    let (unsettled, now, actions) = {
        let p = state.pg.borrow();
        (p.unsettled.is_some(), p.cluster.now_ms(), p.log.len())
    };
    use_effect_with((unsettled, now, actions), {
        let state = state.clone();
        move |(unsettled, _, _)| {
            perf::settling(*unsettled);
            if *unsettled {
                gloo_timers::callback::Timeout::new(STEP_MS, move || state.dispatch(Msg::Settle))
                    .forget();
            }
        }
    });
    // Keep the scenario across reloads: the saved text is the share link's.
    let (log_len, page_lang) = {
        let p = state.pg.borrow();
        (p.log.len(), p.lang)
    };
    // An embed keeps its scene to itself: it must not overwrite the learner's playground; nor
    // may the live view, which has no scenario.
    let embedded = query.embed.is_some();
    use_effect_with(log_len, {
        let state = state.clone();
        move |_| {
            if let Some(s) = storage().filter(|_| !embedded && !live_mode) {
                let _ = s.set_item(
                    STORAGE_KEY,
                    &share::encode(share::scenario(&state.pg.borrow())),
                );
            }
        }
    });
    use_effect_with(page_lang, move |lang| {
        if let Some(s) = storage().filter(|_| !embedded) {
            let _ = s.set_item(LANG_KEY, lang.key());
        }
    });
    // Pods the trace view lights up on the map, and the rules its last trace hit.
    let highlight = use_state(Vec::<String>::new);
    let trace_hits = use_state(|| None::<trace::Hits>);
    // The rules view's kube-proxy (see `Synced`).
    let synced = use_mut_ref(|| None::<Synced>);
    let rules_node = use_state(|| "kind-worker".to_string());
    let rules_service = use_state(|| None::<String>);
    // The live view: its reading loop, started once, told the rules view's node; and the
    // predicted text of (read, node, mode) it compares with the node's.
    let chosen_node = use_mut_ref(|| None::<String>);
    {
        let (state, chosen) = (state.clone(), chosen_node.clone());
        let base = (problem.is_none())
            .then(|| state.pg.borrow().live.as_ref().map(|f| f.base.clone()))
            .flatten();
        use_effect_with((), move |_| {
            if let Some(base) = base {
                yew::platform::spawn_local(live::follow(base, state.dispatcher(), chosen));
            }
        });
    }
    let predicted = use_mut_ref(|| None::<(u64, String, ProxyMode, Rc<Result<String, String>>)>);
    let pg = state.pg.borrow();
    let p: &Playground = &pg;
    let lang = p.lang;
    let t = |x| text(lang, x);
    let dispatch = |a: Action| {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(a.clone().into()))
    };
    let replicas = p.replicas();
    let mode = p.proxy_mode();
    let map = Rc::new(p.map());
    let lang_button = |l: Lang, label: &'static str, id: &'static str| {
        html! {
            <button id={id} lang={html_lang(l)} aria-pressed={(lang == l).to_string()}
                onclick={dispatch(Action::SetLang(l))}>{label}</button>
        }
    };
    let lang_group = html! {
        <div role="group" aria-label={t(Text::Language)} class="lang">
            {lang_button(Lang::ZhCn, "中文", "lang-zh")}
            {lang_button(Lang::En, "English", "lang-en")}
        </div>
    };

    // The rules view reads the cluster as it is now, for the node and Service chosen.
    let nodes: Vec<String> = p
        .cluster
        .list(Kind::Node, None)
        .map(|n| n.name().to_string())
        .collect();
    let services: Vec<String> = p
        .cluster
        .list(Kind::Service, None)
        .map(|s| format!("{}/{}", s.namespace(), s.name()))
        .collect();
    let service = rules_service
        .as_ref()
        .filter(|s| services.contains(s))
        .cloned();
    // The node picked, else (a cluster without it: the live view) the first worker.
    let node = Some((*rules_node).clone())
        .filter(|n| nodes.contains(n))
        .or_else(|| web_ui::live::default_node(p.cluster.config()))
        .unwrap_or_default();
    *chosen_node.borrow_mut() = (!node.is_empty()).then(|| node.clone());
    // The rules are computed after the interaction's render (RulesView's effect), keyed on the
    // cluster's resourceVersion: the 200-pod budget covers the map and table, and the rules
    // text follows a frame later (its time is `data-last-deferred-ms`).
    let compute_rules = {
        let (state, synced) = (state.clone(), synced.clone());
        Callback::from(move |(node, service): (String, Option<String>)| {
            let p = state.pg.borrow();
            let mode = p.proxy_mode();
            // kube-proxy on that node, kept across changes: what its last sync changed. A new
            // node or mode starts a new one (its first sync is full and marks nothing).
            let version = p.version();
            // One snapshot for the sync and the text (each took its own: a tenth of the work).
            let snapshot = ProxySnapshot::from_cluster(&p.cluster);
            let mut synced = synced.borrow_mut();
            let marks = match &mut *synced {
                Some(s) if s.node == node && s.mode == mode && s.version == version => {
                    s.marks.clone()
                }
                Some(s) if s.node == node && s.mode == mode => {
                    s.marks = sync_marks_to(&mut s.proxier, &snapshot);
                    s.version = version;
                    s.marks.clone()
                }
                _ => {
                    let mut proxier = rules_proxier(&p.cluster, &node, mode);
                    let _ = sync_marks_to(&mut proxier, &snapshot);
                    *synced = Some(Synced {
                        node: node.clone(),
                        mode,
                        version,
                        proxier,
                        marks: SyncMarks::default(),
                    });
                    SyncMarks::default()
                }
            };
            let lines =
                node_rules_of(&p.cluster, &snapshot, &node, mode).map(|text| match &service {
                    Some(s) => {
                        let (ns, name) = s.split_once('/').unwrap_or((NAMESPACE, s));
                        ServiceAddrs::of(&p.cluster, ns, name)
                            .map(|addrs| filter(&text, mode, &addrs))
                            .unwrap_or_default()
                    }
                    None => text.lines().map(str::to_string).collect(),
                });
            (lines, Rc::new(marks))
        })
    };
    let on_node = {
        let (rules_node, chosen) = (rules_node.clone(), chosen_node.clone());
        Callback::from(move |n: String| {
            // The live view's next read (on the sim) reads that node's rules.
            *chosen.borrow_mut() = Some(n.clone());
            rules_node.set(n);
        })
    };
    let on_service = {
        let rules_service = rules_service.clone();
        Callback::from(move |s: Option<String>| rules_service.set(s))
    };
    let on_run = {
        let state = state.clone();
        Callback::from(move |line: String| state.dispatch(Action::Run(line).into()))
    };
    let on_apply = {
        let state = state.clone();
        Callback::from(move |text: String| state.dispatch(Action::ApplyYaml(text).into()))
    };
    let reset = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| {
            state.dispatch(Msg::Replace(Box::new(Playground::new(lang))))
        })
    };
    let link = share::link(base, share::scenario(p), lang, None);
    let select_all = Callback::from(|e: FocusEvent| {
        e.target_unchecked_into::<web_sys::HtmlInputElement>()
            .select();
    });

    let on_trace = {
        let state = state.clone();
        Callback::from(
            move |(from, to, seed): (web_ui::trace::From, String, u64)| {
                web_ui::trace::trace(&state.pg.borrow().cluster, &from, &to, seed)
            },
        )
    };
    let on_highlight = {
        let highlight = highlight.clone();
        Callback::from(move |pods: Vec<String>| {
            if *highlight != pods {
                highlight.set(pods)
            }
        })
    };
    let on_hits = {
        let trace_hits = trace_hits.clone();
        Callback::from(move |h: Option<trace::Hits>| {
            if *trace_hits != h {
                trace_hits.set(h)
            }
        })
    };
    let trace_view = html! {
        <trace::TracePanel lang={lang} sources={web_ui::trace::From::all(&p.cluster)}
            on_trace={on_trace} on_highlight={on_highlight} on_hits={on_hits} />
    };

    let on_ask = {
        let state = state.clone();
        Callback::from(move |(pod, name, qtype): (String, String, String)| {
            web_ui::dns::ask(&state.pg.borrow().cluster, &pod, &name, &qtype)
        })
    };
    let dns_pods: Vec<String> = map
        .pods()
        .filter(|p| p.namespace == NAMESPACE)
        .map(|p| p.name.clone())
        .collect();
    let dns_view = html! {
        <dns::DnsPanel lang={lang} pods={dns_pods} on_ask={on_ask} />
    };

    let grade = {
        let state = state.clone();
        Callback::from(move |id: String| web_ui::labs::grade(&id, &state.pg.borrow().cluster))
    };
    let labs_view = html! {
        <labs::LabsPanel lang={lang} started={p.lab.clone()}
            version={p.cluster.resource_version()} grade={grade} dispatch={state.dispatcher()} />
    };

    let map_view = html! {
        <map::ClusterMapView map={map.clone()} lang={lang} highlight={(*highlight).clone()} />
    };
    let on_complete = {
        let state = state.clone();
        Callback::from(move |line: String| {
            let c = complete(&state.pg.borrow().cluster, &line);
            (c.apply(&line), c.candidates)
        })
    };

    let pods_view = html! {
        <pods::PodsTable lang={lang} dispatch={(!live_mode).then(|| state.dispatcher())} map={map.clone()}
            namespaces={p.live.as_ref().is_some_and(|f| f.namespace.is_none())} />
    };
    let editor_view = html! {
        <editor::EditorView lang={lang} error={p.editor_error.clone()} on_apply={on_apply} />
    };
    let rule_hits = match &*trace_hits {
        Some((n, m, hits)) if *n == node && *m == mode => hits.clone(),
        _ => Rc::new(Vec::new()),
    };
    let rules_view = html! {
        <rules::RulesView lang={lang} nodes={nodes} node={node.clone()}
            services={services} service={service.clone()} command={command(mode).join(" ")}
            version={p.version()} mode={mode.as_str()} compute={compute_rules}
            hits={rule_hits}
            on_node={on_node} on_service={on_service} />
    };
    let terminal_view = html! {
        <terminal::TerminalView entries={p.terminal.clone()} lang={lang}
            on_run={on_run} on_complete={on_complete} />
    };
    let problem_view = html! {
        if let Some(problem) = problem {
            <p id="scenario-error" role="alert">{format!("{} {problem}", t(Text::ScenarioNotOpened))}</p>
        }
    };

    // An embed (the book's live scenes) shows one view, in the link's language.
    if let Some(view) = query.embed {
        let body = match view {
            View::Map => map_view,
            View::Pods => pods_view,
            View::Editor => editor_view,
            View::Rules => rules_view,
            View::Trace => trace_view,
            View::Dns => dns_view,
            View::Labs => labs_view,
            View::Terminal => terminal_view,
            View::Scale => html! { <scale::ScaleView lang={lang} /> },
        };
        return html! {
            <main lang={html_lang(lang)} class="embed" data-embed={view.key()}>
                {problem_view}
                {body}
            </main>
        };
    }

    if let Some(f) = &p.live {
        let header = html! {
            <header>
                <h1>{t(Text::LiveTitle)}</h1>
                {lang_group.clone()}
                <a id="live-back" href={format!("{base}?lang={}", lang.key())}>{t(Text::LiveBack)}</a>
            </header>
        };
        if let Some(problem) = problem {
            return html! {
                <main lang={html_lang(lang)} class="live">
                    {header}
                    <p id="live-error" role="alert">{problem.clone()}</p>
                </main>
            };
        }
        let ns = f.namespace.as_deref();
        let on_namespace = {
            let state = state.clone();
            Callback::from(move |e: Event| {
                let v = selected(&e);
                state.dispatch(Msg::Live(LiveEvent::Namespace(
                    (!v.is_empty()).then_some(v),
                )))
            })
        };
        // The predicted text the node's is compared with, once per (read, node, mode).
        let predicted_text = (f.found_for(&node, mode).is_some()).then(|| {
            let mut cache = predicted.borrow_mut();
            match &*cache {
                Some((v, n, m, text)) if *v == p.version() && *n == node && *m == mode => {
                    text.clone()
                }
                _ => {
                    let text = Rc::new(web_ui::rules::node_rules(&p.cluster, &node, mode));
                    *cache = Some((p.version(), node.clone(), mode, text.clone()));
                    text
                }
            }
        });
        let narrow = |text: &str| -> Vec<String> {
            match &service {
                Some(s) => {
                    let (ns, name) = s.split_once('/').unwrap_or((NAMESPACE, s));
                    ServiceAddrs::of(&p.cluster, ns, name)
                        .map(|addrs| filter(text, mode, &addrs))
                        .unwrap_or_default()
                }
                None => text.lines().map(str::to_string).collect(),
            }
        };
        let found = live::found_view(
            lang,
            f,
            &node,
            mode,
            predicted_text
                .as_ref()
                .and_then(|r| (**r).as_ref().ok())
                .map(String::as_str),
            narrow,
        );
        let (dns_rows, dns_left_out) = web_ui::live::dns_rows(&p.cluster, ns);
        let source = t(if f.sim == Sim::Yes {
            Text::LiveIsSim
        } else {
            Text::LiveIsOther
        });
        return html! {
            <main lang={html_lang(lang)} class="live">
                {header}
                <p>{t(Text::LiveIntro)}</p>
                <p id="live-source">{format!("{} ", t(Text::LiveApi))}<code>{f.base.display().to_string()}</code>{format!(" · {source}")}</p>
                <p id="live-readonly" class="help">{t(Text::LiveReadOnly)}</p>
                if let Some(e) = &f.error {
                    <p id="live-fetch-error" role="alert">{format!("{} {}", t(Text::LiveFetchFailed), e.message(lang))}</p>
                } else if f.serial == 0 {
                    <p id="live-loading">{t(Text::LiveLoading)}</p>
                }
                <div class="controls">
                    <label for="live-namespace">{t(Text::LiveNamespace)}</label>
                    <select id="live-namespace" onchange={on_namespace}>
                        <option value="" selected={ns.is_none()}>{t(Text::LiveAllNamespaces)}</option>
                        { for web_ui::live::namespaces(&p.cluster).into_iter().map(|n| html! {
                            <option selected={ns == Some(n.as_str())} value={n.clone()}>{n}</option>
                        }) }
                    </select>
                    <span>{format!("{}: ", t(Text::ProxyMode))}<output id="live-mode">{mode.as_str()}</output></span>
                </div>
                {map_view}
                {pods_view}
                <section class="live-rules">
                    <p class="help">{t(Text::LivePredicted)}</p>
                    <div class="side-by-side">{rules_view}{found}</div>
                </section>
                {live::table(lang, "live-dns", Text::LiveDnsTitle,
                    &[Text::ColQuestion, Text::ColType, Text::ColStatus, Text::ColAnswer],
                    &dns_rows, dns_left_out)}
                <p class="help">{t(Text::LiveDnsNote)}</p>
                {dns_view}
                {trace_view}
            </main>
        };
    }

    html! {
        <main lang={html_lang(lang)}>
            <header>
                <h1>{t(Text::Title)}</h1>
                {lang_group}
                if *served_by_sim {
                    <a id="live-enter" href={format!("?live=/&lang={}", lang.key())}
                        title={t(Text::LiveEnterTitle)}>{t(Text::LiveEnter)}</a>
                }
            </header>
            <p>{t(Text::Intro)}</p>
            {problem_view}
            <div class="controls">
                <button id="apply" onclick={dispatch(Action::ApplyChapter)}>{t(Text::ApplyChapter)}</button>
                <div role="group" aria-labelledby="replicas-label" class="stepper">
                    <span id="replicas-label">{t(Text::Replicas)}</span>
                    <button id="scale-down" aria-label={t(Text::ScaleDown)} title={t(Text::ScaleDown)}
                        disabled={replicas.is_none_or(|r| r <= 0)}
                        onclick={dispatch(Action::Scale(replicas.unwrap_or(0) - 1))}>{"−"}</button>
                    <output id="replicas" aria-live="polite">
                        {replicas.map_or_else(|| "–".to_string(), |r| r.to_string())}
                    </output>
                    <button id="scale-up" aria-label={t(Text::ScaleUp)} title={t(Text::ScaleUp)}
                        disabled={replicas.is_none_or(|r| r >= MAX_REPLICAS)}
                        onclick={dispatch(Action::Scale(replicas.unwrap_or(0) + 1))}>{"+"}</button>
                </div>
                <div role="radiogroup" aria-labelledby="mode-label" class="modes">
                    <span id="mode-label">{t(Text::ProxyMode)}</span>
                    { for MODES.iter().map(|(m, label)| html! {
                        <button id={format!("mode-{}", m.as_str())} role="radio"
                            aria-checked={(mode == *m).to_string()}
                            onclick={dispatch(Action::SetProxyMode(*m))}>{*label}</button>
                    }) }
                </div>
                <button id="reset" onclick={reset}>{t(Text::Reset)}</button>
            </div>
            if let Some(err) = &p.error {
                <p id="error" role="alert">{err}</p>
            }
            {map_view}
            {labs_view}
            {pods_view}
            {editor_view}
            {trace_view}
            {dns_view}
            {rules_view}
            {terminal_view}
            <scale::ScaleView lang={lang} />
            <section class="share" aria-labelledby="share-title">
                <h2 id="share-title">{t(Text::ShareTitle)}</h2>
                <input id="share-link" type="text" readonly=true aria-labelledby="share-title"
                    value={link.clone()} onfocus={select_all} />
                <a id="share-open" href={link}>{t(Text::OpenLink)}</a>
            </section>
        </main>
    }
}
