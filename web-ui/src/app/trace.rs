//! The trace view: pick a source and a destination, run, then step through the stages
//! (next step, play/pause, show every step). The parent learns which pods to light up on the
//! map through `on_highlight` (the source pod, and the pod reached once the last stage shows).

use gloo_timers::callback::Interval;
use web_ui::i18n::{Lang, Text, text};
use web_ui::trace::{From, StageKind, TraceProblem, TraceView};

/// The rules a finished trace hit: node, mode, the rules (trimmed, as the node prints them).
pub type Hits = (
    String,
    lab_core::config::ProxyMode,
    std::rc::Rc<Vec<String>>,
);
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    /// The sources on offer (from `From::all`).
    pub sources: Vec<From>,
    /// Runs a trace in the page's cluster: source, destination, seed.
    pub on_trace: Callback<(From, String, u64), Result<TraceView, TraceProblem>>,
    /// Pods to light up on the map.
    pub on_highlight: Callback<Vec<String>>,
    /// The rules the connection hit, on which node and in which mode, once every stage shows
    /// (for the rules view to mark).
    pub on_hits: Callback<Option<Hits>>,
}

/// Milliseconds between stages while playing.
const PLAY_MS: u32 = 600;

#[function_component(TracePanel)]
pub fn trace_view(props: &Props) -> Html {
    let lang = props.lang;
    let t = |x| text(lang, x);
    let from = use_state(|| None::<String>);
    let to = use_state(|| "httpd-svc:8080".to_string());
    let result = use_state(|| None::<Result<TraceView, TraceProblem>>);
    let shown = use_state(|| 0usize);
    let runs = use_state(|| 0u64);
    let playing = use_state(|| false);

    let source_key = (*from)
        .clone()
        .filter(|k| props.sources.iter().any(|s| s.key() == *k))
        .or_else(|| props.sources.first().map(From::key));

    // Light up the source pod, and the pod reached once the last stage is on screen.
    {
        let (on_highlight, on_hits) = (props.on_highlight.clone(), props.on_hits.clone());
        let deps = ((*result).clone(), *shown, source_key.clone());
        use_effect_with(deps, move |(result, shown, source)| {
            let hits = match result {
                Some(Ok(view)) if *shown >= view.stages.len() => view
                    .walked
                    .clone()
                    .map(|(node, mode)| (node, mode, std::rc::Rc::new(view.hits()))),
                _ => None,
            };
            on_hits.emit(hits);
            let mut pods = Vec::new();
            if let Some(Ok(view)) = result {
                if let Some(From::Pod(p)) = source.as_deref().and_then(From::parse) {
                    pods.push(p);
                }
                if *shown >= view.stages.len()
                    && let Some(p) = view.reached.as_ref().and_then(|r| r.pod.clone())
                {
                    pods.push(p);
                }
            }
            on_highlight.emit(pods);
        });
    }
    // While playing, one more stage every PLAY_MS until the last.
    {
        let (shown, playing) = (shown.clone(), playing.clone());
        let total = match &*result {
            Some(Ok(v)) => v.stages.len(),
            _ => 0,
        };
        use_effect_with(
            (*playing, *shown, total),
            move |(is_playing, now, total)| {
                let timer = (*is_playing && now < total).then(|| {
                    let (shown, playing, next, total) =
                        (shown.clone(), playing.clone(), now + 1, *total);
                    Interval::new(PLAY_MS, move || {
                        shown.set(next);
                        if next >= total {
                            playing.set(false);
                        }
                    })
                });
                move || drop(timer)
            },
        );
    }

    let on_from = {
        let from = from.clone();
        Callback::from(move |e: Event| from.set(Some(super::selected(&e))))
    };
    let on_to = {
        let to = to.clone();
        Callback::from(move |e: InputEvent| to.set(super::typed(&e)))
    };
    let run = {
        let (result, shown, runs, playing) =
            (result.clone(), shown.clone(), runs.clone(), playing.clone());
        let (on_trace, to, source_key) = (props.on_trace.clone(), to.clone(), source_key.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(source) = source_key.as_deref().and_then(From::parse) else {
                return;
            };
            runs.set(*runs + 1);
            result.set(Some(on_trace.emit((source, (*to).clone(), *runs + 1))));
            shown.set(1);
            playing.set(false);
        })
    };
    let step = {
        let shown = shown.clone();
        Callback::from(move |_: MouseEvent| shown.set(*shown + 1))
    };
    let toggle_play = {
        let playing = playing.clone();
        Callback::from(move |_: MouseEvent| playing.set(!*playing))
    };
    let all = {
        let (shown, playing) = (shown.clone(), playing.clone());
        Callback::from(move |_: MouseEvent| {
            shown.set(usize::MAX);
            playing.set(false);
        })
    };

    let source_label = |s: &From| match s {
        From::Pod(n) => format!("pod/{n}"),
        From::Node(n) => format!("node/{n}"),
        From::External(n) => format!("{} {n}", t(Text::TraceOutsideVia)),
    };
    let body = match &*result {
        None => html! {},
        Some(Err(problem)) => {
            let msg = match problem {
                TraceProblem::BadDestination(_) => t(Text::TraceBadDestination).to_string(),
                TraceProblem::NameFromOutside => t(Text::TraceNameFromOutside).to_string(),
                TraceProblem::Trace(e) => e.clone(),
            };
            html! { <p id="trace-error" role="alert">{msg}</p> }
        }
        Some(Ok(view)) => {
            let n = (*shown).min(view.stages.len());
            let done = n >= view.stages.len();
            html! {
                <>
                    <div class="controls">
                        <button id="trace-step" disabled={done} onclick={step}>{t(Text::TraceStep)}</button>
                        <button id="trace-play" disabled={done} aria-pressed={playing.to_string()} onclick={toggle_play}>
                            {if *playing { t(Text::TracePause) } else { t(Text::TracePlay) }}
                        </button>
                        <button id="trace-all" disabled={done} onclick={all}>{t(Text::TraceAll)}</button>
                        <output id="trace-progress">{format!("{n}/{}", view.stages.len())}</output>
                    </div>
                    <ol id="trace-stages" class="screen" aria-live="polite">
                        { for view.stages.iter().take(n).map(|s| {
                            let class = match s.kind {
                                StageKind::Lookup => "lookup",
                                StageKind::DnsPacket => "dns-packet",
                                StageKind::Rule => "rule",
                                StageKind::Verdict => "verdict",
                            };
                            html! {
                                <li class={class}>
                                    <span class="what">{s.text.clone()}</span>
                                    if let Some(rule) = &s.rule {
                                        {"\n"}<code class="rule">{rule.clone()}</code>
                                    }
                                </li>
                            }
                        }) }
                    </ol>
                    if done && !view.summary.is_empty() {
                        <p id="trace-summary">{view.summary.clone()}</p>
                    }
                </>
            }
        }
    };
    html! {
        <section class="trace" aria-labelledby="trace-title">
            <h2 id="trace-title">{t(Text::TraceTitle)}</h2>
            <div class="controls">
                <label for="trace-from">{t(Text::TraceFrom)}</label>
                <select id="trace-from" onchange={on_from}>
                    { for props.sources.iter().map(|s| html! {
                        <option value={s.key()} selected={source_key.as_deref() == Some(s.key().as_str())}>{source_label(s)}</option>
                    }) }
                </select>
                <label for="trace-to">{t(Text::TraceTo)}</label>
                <input id="trace-to" type="text" spellcheck="false" value={(*to).clone()} oninput={on_to} />
                <button id="trace-run" onclick={run}>{t(Text::TraceRun)}</button>
            </div>
            {body}
        </section>
    }
}
