//! The DNS view: a pod, a name and a type; the pod's nslookup and dig side by side, and the
//! C library's queries under them.

use web_ui::dns::{Answers, Panel, TYPES};
use web_ui::i18n::{Lang, Text, text};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    /// Pods of the playground's namespace.
    pub pods: Vec<String>,
    /// Asks in the page's cluster: pod, name, type.
    pub on_ask: Callback<(String, String, String), Result<Answers, String>>,
}

fn panel(id: &str, title: String, p: &Panel) -> Html {
    let (body, failed) = match p {
        Panel::Ran { text, exit_code } => (text.clone(), *exit_code != 0),
        Panel::Unavailable(why) => (why.clone(), true),
    };
    html! {
        <figure class="tool">
            <figcaption>{title}</figcaption>
            <pre id={id.to_string()} class={classes!("screen", failed.then_some("failed"))} tabindex="0">{body}</pre>
        </figure>
    }
}

#[function_component(DnsPanel)]
pub fn dns_panel(props: &Props) -> Html {
    let lang = props.lang;
    let t = |x| text(lang, x);
    let pod = use_state(|| None::<String>);
    let name = use_state(|| "httpd-svc".to_string());
    let qtype = use_state(String::new);
    let answers = use_state(|| None::<Result<Answers, String>>);
    // The chosen pod, else one that has an nslookup (the chapter's clientpod), else the first.
    let chosen = (*pod)
        .clone()
        .filter(|p| props.pods.contains(p))
        .or_else(|| props.pods.iter().find(|p| *p == "clientpod").cloned())
        .or_else(|| props.pods.first().cloned());

    let on_pod = {
        let pod = pod.clone();
        Callback::from(move |e: Event| pod.set(Some(super::selected(&e))))
    };
    let on_name = {
        let name = name.clone();
        Callback::from(move |e: InputEvent| name.set(super::typed(&e)))
    };
    let on_type = {
        let qtype = qtype.clone();
        Callback::from(move |e: Event| qtype.set(super::selected(&e)))
    };
    let ask = {
        let (answers, on_ask) = (answers.clone(), props.on_ask.clone());
        let (chosen, name, qtype) = (chosen.clone(), name.clone(), qtype.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(p) = &chosen {
                answers.set(Some(on_ask.emit((
                    p.clone(),
                    (*name).clone(),
                    (*qtype).clone(),
                ))));
            }
        })
    };
    let body = match &*answers {
        None => html! {},
        Some(Err(e)) => html! { <p id="dns-error" role="alert">{e.clone()}</p> },
        Some(Ok(a)) => html! {
            <>
                <div class="side-by-side">
                    {panel("dns-nslookup", format!("$ {}  ({})", a.commands[0], a.nslookup_tool.unwrap_or("—")), &a.nslookup)}
                    {panel("dns-dig", format!("$ {}", a.commands[1]), &a.dig)}
                </div>
                <p class="help">{t(Text::DnsDigNote)}</p>
                {panel("dns-walk", t(Text::DnsWalk).to_string(), &a.walk)}
            </>
        },
    };
    html! {
        <section class="dns" aria-labelledby="dns-title">
            <h2 id="dns-title">{t(Text::DnsTitle)}</h2>
            <div class="controls">
                <label for="dns-pod">{t(Text::DnsFromPod)}</label>
                <select id="dns-pod" onchange={on_pod}>
                    { for props.pods.iter().map(|p| html! {
                        <option value={p.clone()} selected={chosen.as_deref() == Some(p.as_str())}>{p.clone()}</option>
                    }) }
                </select>
                <label for="dns-name">{t(Text::DnsName)}</label>
                <input id="dns-name" type="text" spellcheck="false" value={(*name).clone()} oninput={on_name} />
                <label for="dns-type">{t(Text::DnsType)}</label>
                <select id="dns-type" onchange={on_type}>
                    <option value="" selected={qtype.is_empty()}>{t(Text::DnsDefaultType)}</option>
                    { for TYPES.iter().map(|ty| html! {
                        <option value={ty.to_string()} selected={*qtype == *ty}>{*ty}</option>
                    }) }
                </select>
                <button id="dns-ask" onclick={ask}>{t(Text::DnsAsk)}</button>
            </div>
            {body}
        </section>
    }
}
