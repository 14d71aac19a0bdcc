//! The Yew components: they read the [`Playground`] and dispatch [`Action`]s, nothing more.
//! All logic (the cluster, the map's model and layout, the strings) is in the library.

mod map;

use std::rc::Rc;
use web_ui::i18n::{Lang, Text, html_lang, text};
use web_ui::playground::{Action, MAX_REPLICAS, Playground};
use yew::prelude::*;

/// `Playground` behind Yew's reducer hook.
#[derive(Clone, Default)]
struct State(Playground);

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = Rc::unwrap_or_clone(self).0;
        next.reduce(action);
        Rc::new(State(next))
    }
}

/// The page.
#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(State::default);
    let p = &state.0;
    let lang = p.lang;
    let t = |x| text(lang, x);
    let dispatch = |a: Action| {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(a))
    };
    let replicas = p.replicas();
    let lang_button = |l: Lang, label: &'static str, id: &'static str| {
        html! {
            <button id={id} lang={html_lang(l)} aria-pressed={(lang == l).to_string()}
                onclick={dispatch(Action::SetLang(l))}>{label}</button>
        }
    };
    html! {
        <main lang={html_lang(lang)}>
            <header>
                <h1>{t(Text::Title)}</h1>
                <div role="group" aria-label={t(Text::Language)} class="lang">
                    {lang_button(Lang::ZhCn, "中文", "lang-zh")}
                    {lang_button(Lang::En, "English", "lang-en")}
                </div>
            </header>
            <p>{t(Text::Intro)}</p>
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
            </div>
            if let Some(err) = &p.error {
                <p id="error" role="alert">{err}</p>
            }
            <map::ClusterMapView map={Rc::new(p.map())} lang={lang} />
        </main>
    }
}
