//! The rules view: a node picker, a Service filter and the node's rule text in the cluster's
//! kube-proxy mode, headed by the command a learner would type on the node. The text is
//! computed in an effect, after the render that an action caused: a full `iptables-save` of a
//! 200-pod cluster costs more than a frame in the page, and the map and the table should not
//! wait for it.

use std::rc::Rc;
use web_ui::i18n::{Lang, Text, text};
use web_ui::rules::SyncMarks;
use yew::prelude::*;

/// A node's rule lines (or its error) and what its last sync changed.
pub type Computed = (Result<Vec<String>, String>, Rc<SyncMarks>);

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub nodes: Vec<String>,
    pub node: String,
    /// `namespace/name` of each Service offered as a filter.
    pub services: Vec<String>,
    /// The chosen filter (`None`: every Service).
    pub service: Option<String>,
    /// The command, as typed on the node (`ipvsadm -Ln`).
    pub command: String,
    /// The cluster's resourceVersion: the rules are computed again when it, the node, the
    /// mode or the filter changes.
    pub version: u64,
    /// The kube-proxy mode.
    pub mode: &'static str,
    /// Computes the rule lines of (node, Service filter), or the node's error, and what the
    /// last sync on that node changed.
    pub compute: Callback<(String, Option<String>), Computed>,
    /// Rules a trace hit on this node in this mode (trimmed lines), marked in the text.
    #[prop_or_default]
    pub hits: std::rc::Rc<Vec<String>>,
    pub on_node: Callback<String>,
    pub on_service: Callback<Option<String>>,
}

/// A computed rule text, ready to show.
struct Prepared {
    /// Which computation it is (the body is rebuilt only for a new one).
    serial: u64,
    /// The lines, or the node's error.
    lines: Result<Vec<String>, String>,
    /// Per line: whether the last sync wrote it.
    synced: Vec<bool>,
    /// What the last sync removed.
    removed: Vec<String>,
}

/// The lines, with those a trace hit in `<mark class="hit">` and those the last sync added or
/// changed in `<mark class="synced">`; runs of other lines stay one text node each.
fn marked(lines: &[String], synced: &[bool], hits: &[String]) -> Html {
    let mut out: Vec<Html> = Vec::new();
    let mut plain = String::new();
    for (i, line) in lines.iter().enumerate() {
        let hit = !hits.is_empty() && hits.iter().any(|h| h == line.trim());
        let new = synced.get(i).copied().unwrap_or(false);
        if hit || new {
            if !plain.is_empty() {
                out.push(html! { {std::mem::take(&mut plain)} });
            }
            let class = classes!(hit.then_some("hit"), new.then_some("synced"));
            out.push(html! { <><mark class={class}>{line.clone()}</mark>{"\n"}</> });
        } else {
            plain.push_str(line);
            plain.push('\n');
        }
    }
    if !plain.is_empty() {
        out.push(html! { {plain} });
    }
    out.into_iter().collect()
}

#[function_component(RulesView)]
pub fn rules_view(props: &Props) -> Html {
    let lang = props.lang;
    let on_node = props.on_node.reform(|e: Event| super::selected(&e));
    let on_service = props.on_service.reform(|e: Event| {
        let v = super::selected(&e);
        (!v.is_empty()).then_some(v)
    });
    // The text, which lines the last sync wrote, and what it removed: prepared once per
    // computation (with a serial number), so renders in between only diff a ready body.
    let prepared = use_state(|| None::<Rc<Prepared>>);
    let serial = use_mut_ref(|| 0u64);
    {
        let (prepared, serial, compute) = (prepared.clone(), serial.clone(), props.compute.clone());
        let deps = (
            props.version,
            props.node.clone(),
            props.mode,
            props.service.clone(),
        );
        use_effect_with(deps, move |(_, node, _, service)| {
            // In a task of its own, after the browser has the interaction's render.
            let (node, service) = (node.clone(), service.clone());
            let timer = gloo_timers::callback::Timeout::new(0, move || {
                let (lines, marks) = compute.emit((node, service));
                let index = marks.index();
                let synced = match &lines {
                    Ok(lines) => lines.iter().map(|l| index.marks(l)).collect(),
                    Err(_) => Vec::new(),
                };
                *serial.borrow_mut() += 1;
                prepared.set(Some(Rc::new(Prepared {
                    serial: *serial.borrow(),
                    lines,
                    synced,
                    removed: marks.removed.clone(),
                })));
                super::perf::deferred_done();
            });
            move || drop(timer)
        });
    }
    let body = {
        let p = (*prepared).clone();
        let key = (p.as_ref().map_or(0, |p| p.serial), props.hits.clone(), lang);
        use_memo(key, move |(_, hits, _)| match p.as_deref() {
            None => html! {},
            Some(Prepared {
                lines: Ok(lines), ..
            }) if lines.is_empty() => {
                html! { {text(lang, Text::NoRules)} }
            }
            Some(Prepared {
                lines: Ok(lines),
                synced,
                ..
            }) => marked(lines, synced, hits),
            Some(Prepared { lines: Err(e), .. }) => html! { {e.clone()} },
        })
    };
    let removed: Vec<String> = prepared
        .as_ref()
        .map(|p| p.removed.clone())
        .unwrap_or_default();
    html! {
        <section class="rules" aria-labelledby="rules-title">
            <h2 id="rules-title">{text(lang, Text::RulesTitle)}</h2>
            <div class="controls">
                <label for="rules-node">{text(lang, Text::Node)}</label>
                <select id="rules-node" onchange={on_node}>
                    { for props.nodes.iter().map(|n| html! {
                        <option value={n.clone()} selected={*n == props.node}>{n.clone()}</option>
                    }) }
                </select>
                <label for="rules-service">{text(lang, Text::ServiceFilter)}</label>
                <select id="rules-service" onchange={on_service}>
                    <option value="" selected={props.service.is_none()}>{text(lang, Text::AllServices)}</option>
                    { for props.services.iter().map(|s| html! {
                        <option value={s.clone()} selected={props.service.as_deref() == Some(s.as_str())}>{s.clone()}</option>
                    }) }
                </select>
            </div>
            if !removed.is_empty() {
                <p id="rules-removed" class="help">{format!("{} {}", text(lang, Text::SyncRemoved), removed.join(" · "))}</p>
            }
            <pre id="rules" class="screen" tabindex="0"><span class="prompt">{format!("root@{}:/# ", props.node)}</span><span class="command">{props.command.clone()}</span>{"\n"}{(*body).clone()}</pre>
        </section>
    }
}
