//! The cluster map as SVG, drawn from [`web_ui::layout`]'s coordinates.

use std::rc::Rc;
use web_ui::i18n::{Lang, Text, text};
use web_ui::layout::{Exits, Rect, Slots, layout_in};
use web_ui::map::{ClusterMap, PodView};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub map: Rc<ClusterMap>,
    pub lang: Lang,
    /// Pods a trace lights up.
    #[prop_or_default]
    pub highlight: Vec<String>,
}

/// Nodes with their pods, Services with VIP:port, a line per endpoint.
#[function_component(ClusterMapView)]
pub fn cluster_map_view(props: &Props) -> Html {
    let lang = props.lang;
    // Pods keep their rows across renders, so a deletion redraws one pod, not half a column.
    let slots = use_mut_ref(Slots::default);
    let l = layout_in(&props.map, &mut slots.borrow_mut());
    // Lines whose endpoint left fade out where they were; the map draws again when they are done.
    let exits = use_mut_ref(Exits::default);
    let redraw = use_force_update();
    let now = js_sys::Date::now();
    exits.borrow_mut().update(&l.lines, now);
    let next_expiry = exits.borrow().next_expiry(now);
    use_effect(move || {
        let timer = next_expiry.map(|ms| {
            gloo_timers::callback::Timeout::new(ms.ceil() as u32 + 16, move || {
                redraw.force_update()
            })
        });
        move || drop(timer)
    });
    let pods: usize = l.nodes.iter().map(|n| n.pods.len()).sum();
    let summary = format!(
        "{}: {} nodes, {} pods, {} services",
        text(lang, Text::MapTitle),
        l.nodes.len(),
        pods,
        l.services.len()
    );
    html! {
        <section class="map">
            <h2>{text(lang, Text::MapTitle)}</h2>
            <svg id="cluster-map" role="img" aria-label={summary.clone()}
                width={l.width.to_string()} height={l.height.to_string()}
                viewBox={format!("0 0 {} {}", l.width, l.height)}>
                <title>{summary}</title>
                // Every list in a group of its own: Yew reconciles a list mixed with other
                // elements by position from the end, so a list changing length (a line more,
                // a pod less) redrew everything before it.
                <g class="services">
                { for l.services.iter().map(|s| {
                    let vip = s.service.cluster_ip.as_deref().unwrap_or("None");
                    let ports = s.service.ports.iter()
                        .map(|p| p.split('/').next().unwrap_or(p).split(':').next().unwrap_or(p).to_string())
                        .collect::<Vec<_>>().join(",");
                    html! {
                        <g class="service" data-name={s.service.name.clone()}>
                            <rect x={s.rect.x.to_string()} y={s.rect.y.to_string()}
                                width={s.rect.w.to_string()} height={s.rect.h.to_string()} rx="6" />
                            <text x={(s.rect.x + 10.0).to_string()} y={(s.rect.y + 20.0).to_string()} class="name">
                                {format!("svc/{} ({})", s.service.name, s.service.type_)}
                            </text>
                            <text x={(s.rect.x + 10.0).to_string()} y={(s.rect.y + 40.0).to_string()} class="vip">
                                {format!("{vip}:{ports}")}
                            </text>
                        </g>
                    }
                }) }
                </g>
                <g class="nodes">
                { for l.nodes.iter().map(|n| html! {
                    <g class="node" data-name={n.node.name.clone()}>
                        <rect x={n.rect.x.to_string()} y={n.rect.y.to_string()}
                            width={n.rect.w.to_string()} height={n.rect.h.to_string()} rx="8" />
                        <text x={(n.rect.x + 10.0).to_string()} y={(n.rect.y + 20.0).to_string()} class="name">
                            {n.node.name.clone()}
                        </text>
                        <text x={(n.rect.x + 10.0).to_string()} y={(n.rect.y + 38.0).to_string()} class="meta">
                            {format!("{} · {}", n.node.ip, n.node.pod_cidr)}
                        </text>
                        <g class="pods">
                        { for n.pods.iter().map(|p| html! {
                            <MapPod key={format!("{}@{}", p.pod.name, p.pod.ip.as_deref().unwrap_or(""))} pod={p.pod.clone()} rect={p.rect} lang={lang}
                                traced={props.highlight.contains(&p.pod.name)} />
                        }) }
                        </g>
                    </g>
                }) }
                </g>
                // Drawn last, so the lines stay visible over the node columns.
                <g class="lines">
                { for l.lines.iter().map(|line| html! {
                    // Keyed by Service and address: a new endpoint's line is a new element, which
                    // is what the stylesheet animates in; an unchanged line is not drawn again.
                    <MapLine key={format!("{}/{}", line.service, line.endpoint.ip)}
                        service={line.service.to_string()} ip={line.endpoint.ip.clone()}
                        ready={line.endpoint.ready} from={line.from} to={line.to} />
                }) }
                </g>
                <g class="leaving-lines">
                { for exits.borrow().leaving().iter().map(|line| html! {
                    <line key={format!("leaving:{}/{}", line.service, line.ip)}
                        class="endpoint leaving" aria-hidden="true"
                        data-service={line.service.clone()} data-ip={line.ip.clone()}
                        x1={line.from.0.to_string()} y1={line.from.1.to_string()}
                        x2={line.to.0.to_string()} y2={line.to.1.to_string()} />
                }) }
                </g>
            </svg>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct PodProps {
    pod: Rc<PodView>,
    rect: Rect,
    lang: Lang,
    traced: bool,
}

/// One pod on the map: its own component, so an action re-renders only the pods it changed.
#[function_component(MapPod)]
fn map_pod(props: &PodProps) -> Html {
    let (p, r) = (&props.pod, props.rect);
    let state = if p.ready {
        text(props.lang, Text::Ready)
    } else {
        text(props.lang, Text::NotReady)
    };
    html! {
        <g class={classes!("pod", if p.ready { "ready" } else { "not-ready" }, props.traced.then_some("traced"))}
            data-name={p.name.clone()}>
            <rect x={r.x.to_string()} y={r.y.to_string()}
                width={r.w.to_string()} height={r.h.to_string()} rx="4" />
            <text x={(r.x + 8.0).to_string()} y={(r.y + 17.0).to_string()} class="name">
                {p.name.clone()}
            </text>
            <text x={(r.x + 8.0).to_string()} y={(r.y + 35.0).to_string()} class="meta">
                {format!("{} · {} · {}", p.ip.as_deref().unwrap_or("-"), p.status, state)}
            </text>
        </g>
    }
}

#[derive(Properties, PartialEq)]
struct LineProps {
    service: String,
    ip: String,
    ready: bool,
    from: (f32, f32),
    to: (f32, f32),
}

/// One endpoint line: its own component, so an action redraws only the lines it changed.
#[function_component(MapLine)]
fn map_line(props: &LineProps) -> Html {
    html! {
        <line class={classes!("endpoint", (!props.ready).then_some("not-ready"))}
            data-service={props.service.clone()} data-ip={props.ip.clone()}
            x1={props.from.0.to_string()} y1={props.from.1.to_string()}
            x2={props.to.0.to_string()} y2={props.to.1.to_string()} />
    }
}
