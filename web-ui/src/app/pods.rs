//! The pods table: one row per pod with its actions (delete, fail or pass readiness). Each row
//! is its own component and the dispatcher is stable, so an action re-renders only the rows
//! whose pod it changed (the 200-pod interaction budget). Without a dispatcher (the live view,
//! which never writes) the table has no actions.

use super::{Msg, State};
use std::rc::Rc;
use web_ui::i18n::{Lang, Text, text};
use web_ui::map::{ClusterMap, PodView};
use web_ui::playground::Action;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    /// The map's nodes and their pods (shared with the map, not copied per render).
    pub map: Rc<ClusterMap>,
    /// The playground's reducer; `None`: read-only, no action column.
    pub dispatch: Option<UseReducerDispatcher<State>>,
    /// Whether to show each pod's namespace (a table of several namespaces).
    #[prop_or_default]
    pub namespaces: bool,
}

#[function_component(PodsTable)]
pub fn pods_table(props: &Props) -> Html {
    let t = |x| text(props.lang, x);
    html! {
        <section class="pods" aria-labelledby="pods-title">
            <h2 id="pods-title">{t(Text::PodsTitle)}</h2>
            <table id="pods">
                <thead><tr>
                    if props.namespaces {
                        <th scope="col">{t(Text::ColNamespace)}</th>
                    }
                    <th scope="col">{t(Text::ColName)}</th>
                    <th scope="col">{t(Text::ColIp)}</th>
                    <th scope="col">{t(Text::Node)}</th>
                    <th scope="col">{t(Text::ColStatus)}</th>
                    if props.dispatch.is_some() {
                        <th scope="col">{t(Text::ColActions)}</th>
                    }
                </tr></thead>
                <tbody>
                { for props.map.nodes.iter().flat_map(|n| n.pods.iter().map(move |p| (n.name.as_str(), p)))
                    .chain(props.map.unscheduled.iter().map(|p| ("-", p)))
                    .map(|(node, pod)| html! {
                    <PodRow key={format!("{}/{}", pod.namespace, pod.name)} lang={props.lang} node={node.to_string()} pod={pod.clone()}
                        dispatch={props.dispatch.clone()} namespace={props.namespaces} />
                }) }
                </tbody>
            </table>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct RowProps {
    lang: Lang,
    node: String,
    pod: Rc<PodView>,
    dispatch: Option<UseReducerDispatcher<State>>,
    namespace: bool,
}

#[function_component(PodRow)]
fn pod_row(props: &RowProps) -> Html {
    let t = |x| text(props.lang, x);
    let pod = &props.pod;
    let ready = pod.ready;
    let state_text = if ready {
        t(Text::Ready)
    } else {
        t(Text::NotReady)
    };
    let toggle = t(if ready {
        Text::MakeUnready
    } else {
        Text::MakeReady
    });
    let act = |d: &UseReducerDispatcher<State>, a: Action| {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(Msg::Do(a.clone())))
    };
    html! {
        <tr data-name={pod.name.clone()}>
            if props.namespace {
                <td>{pod.namespace.clone()}</td>
            }
            <th scope="row">{pod.name.clone()}</th>
            <td>{pod.ip.clone().unwrap_or_else(|| "-".into())}</td>
            <td>{props.node.clone()}</td>
            <td>{format!("{} · {state_text}", pod.status)}</td>
            if let Some(d) = &props.dispatch {
                <td>
                    <button class="delete" aria-label={format!("{} {}", t(Text::DeletePod), pod.name)}
                        onclick={act(d, Action::DeletePod(pod.name.clone()))}>{t(Text::DeletePod)}</button>
                    <button class="readiness" aria-label={format!("{toggle} {}", pod.name)}
                        onclick={act(d, Action::SetPodReady(pod.name.clone(), !ready))}>{toggle}</button>
                </td>
            }
        </tr>
    }
}
