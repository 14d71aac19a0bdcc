//! The guided labs: pick a lab, read its goals and steps, start it on a fresh cluster, work in
//! the other views, and watch its checks pass or fail live (graded in a task after each render,
//! like the rules text), with expected / found / likely cause and a hint on request.

use super::{Msg, State};
use gloo_timers::callback::Timeout;
use lab_core::lab::{Lab, Report, Status};
use std::rc::Rc;
use web_ui::i18n::{Lang, Text, text};
use web_ui::playground::Action;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    /// The lab started last.
    pub started: Option<String>,
    /// The cluster's resourceVersion: the checks run again when it changes.
    pub version: u64,
    /// Grades a lab on the page's cluster.
    pub grade: Callback<String, Option<Report>>,
    pub dispatch: UseReducerDispatcher<State>,
}

/// `code` in backquotes, as the steps write commands, shown as `<code>`.
fn with_code(s: &str) -> Html {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                html! { <code>{part.to_string()}</code> }
            } else {
                html! { {part.to_string()} }
            }
        })
        .collect::<Html>()
}

#[function_component(LabsPanel)]
pub fn labs_panel(props: &Props) -> Html {
    let lang = props.lang;
    let t = |x| text(lang, x);
    let picked = use_state(|| None::<String>);
    let hints = use_state(Vec::<String>::new);
    let report = use_state(|| None::<Report>);
    // The six lab.yaml files are parsed after the first render, in a task of their own: the
    // page's first render should not wait for them.
    let labs = use_state(|| Rc::new(Vec::<Lab>::new()));
    {
        let labs = labs.clone();
        use_effect_with((), move |_| {
            let timer = Timeout::new(0, move || labs.set(Rc::new(web_ui::labs::all())));
            move || drop(timer)
        });
    }
    let id = (*picked)
        .clone()
        .or_else(|| props.started.clone())
        .or_else(|| labs.first().map(|l| l.id.clone()));
    let lab = labs.iter().find(|l| Some(&l.id) == id.as_ref());
    let started = id.is_some() && props.started == id;
    {
        let (report, grade) = (report.clone(), props.grade.clone());
        let deps = (props.version, id.clone(), started);
        use_effect_with(deps, move |(_, id, started)| {
            let timer = match (id.clone(), *started) {
                (Some(id), true) => Some(Timeout::new(0, move || report.set(grade.emit(id)))),
                _ => {
                    report.set(None);
                    None
                }
            };
            move || drop(timer)
        });
    }
    let on_pick = {
        let (picked, hints) = (picked.clone(), hints.clone());
        Callback::from(move |e: Event| {
            picked.set(Some(super::selected(&e)));
            hints.set(Vec::new());
        })
    };
    let act = |a: Action| {
        let d = props.dispatch.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(Msg::Do(a.clone())))
    };
    let Some(lab) = lab else {
        return html! {};
    };
    let checks = match (&*report, started) {
        (_, false) => html! { <p id="lab-status" class="help">{t(Text::LabNotStarted)}</p> },
        (None, true) => html! {},
        (Some(r), true) => html! {
            <>
                if r.all_passed() {
                    <p id="lab-status" class="passed" role="status">{t(Text::LabAllPassed)}</p>
                } else {
                    <p id="lab-status" role="status">{format!("{} / {}", r.passed, r.checks.len())}</p>
                }
                <ul id="lab-checks">
                { for r.checks.iter().map(|c| {
                    let (class, label) = match c.status {
                        Status::Pass => ("pass", t(Text::StatusPass)),
                        Status::Fail => ("fail", t(Text::StatusFail)),
                        Status::Error => ("error", t(Text::StatusError)),
                    };
                    let shown = hints.contains(&c.id);
                    let toggle = {
                        let (hints, cid) = (hints.clone(), c.id.clone());
                        Callback::from(move |_: MouseEvent| {
                            let mut h = (*hints).clone();
                            if let Some(i) = h.iter().position(|x| *x == cid) { h.remove(i); } else { h.push(cid.clone()); }
                            hints.set(h);
                        })
                    };
                    html! {
                        <li class={class} data-check={c.id.clone()}>
                            <strong class="status">{format!("[{label}] ")}</strong>{c.title.get(lang).to_string()}
                            if c.status != Status::Pass {
                                <dl>
                                    <dt>{t(Text::LabExpected)}</dt><dd>{c.expected.get(lang).to_string()}</dd>
                                    <dt>{t(Text::LabFound)}</dt><dd>{c.found.get(lang).to_string()}</dd>
                                    if let Some(cause) = &c.cause {
                                        <dt>{t(Text::LabCause)}</dt><dd class="cause">{cause.get(lang).to_string()}</dd>
                                    }
                                </dl>
                                if let Some(hint) = &c.hint {
                                    <button class="hint" aria-expanded={shown.to_string()} onclick={toggle}>{t(Text::LabHint)}</button>
                                    if shown { <p class="hint-text">{with_code(hint.get(lang))}</p> }
                                }
                            }
                        </li>
                    }
                }) }
                </ul>
            </>
        },
    };
    html! {
        <section class="labs" aria-labelledby="labs-title">
            <h2 id="labs-title">{t(Text::LabsTitle)}</h2>
            <div class="controls">
                <label for="lab-pick">{t(Text::LabPick)}</label>
                <select id="lab-pick" onchange={on_pick}>
                    { for labs.iter().map(|l| html! {
                        <option value={l.id.clone()} selected={Some(&l.id) == id.as_ref()}>{format!("{} · {}", l.id, l.title.get(lang))}</option>
                    }) }
                </select>
                <button id="lab-start" onclick={act(Action::StartLab(lab.id.clone()))}>{t(Text::LabStart)}</button>
                <button id="lab-solve" disabled={!started} onclick={act(Action::SolveLab(lab.id.clone()))}>{t(Text::LabSolve)}</button>
            </div>
            <h3 id="lab-title">{lab.title.get(lang).to_string()}</h3>
            <h4>{t(Text::LabGoals)}</h4>
            <ul class="goals">{ for lab.goals.iter().map(|g| html! { <li>{with_code(g.get(lang))}</li> }) }</ul>
            <h4>{t(Text::LabSteps)}</h4>
            <ol class="steps">{ for lab.steps.iter().map(|s| html! { <li>{with_code(s.get(lang))}</li> }) }</ol>
            <h4>{t(Text::LabChecks)}</h4>
            {checks}
        </section>
    }
}
