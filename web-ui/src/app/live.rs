//! The live view's I/O (`?live=BASE`): every 2 s, plain GET requests (gloo-net, same origin)
//! for the cluster's objects and, on the sim, the chosen node's rules, reported to the page as
//! `web_ui::live::Event`s. The page itself is the playground's (`super::App`) with its writing
//! controls left out; the model is `web_ui::live`. Also the few parts only the live view draws.

use super::{Msg, State};
use gloo_net::http::Request;
use lab_core::config::ProxyMode;
use lab_core::{ClusterConfig, Object};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use web_ui::i18n::{Lang, Text, and_more, text};
use web_ui::live::{
    self, Base, Event, FetchError, Found, INFO_PATH, KUBE_PROXY_PATH, LISTS, POLL_MS, Row, Sim,
};
use web_ui::rules::command;
use yew::prelude::*;

/// `GET url` (never from the cache: every read is the cluster's current state): the body of a
/// 2xx answer, else what went wrong.
pub(crate) async fn get(url: &str) -> Result<String, FetchError> {
    let unreachable = |e: gloo_net::Error| FetchError::Unreachable {
        url: url.to_string(),
        detail: e.to_string(),
    };
    let response = Request::get(url)
        .cache(web_sys::RequestCache::NoStore)
        .send()
        .await
        .map_err(unreachable)?;
    let body = response.text().await.map_err(unreachable)?;
    if response.ok() {
        Ok(body)
    } else {
        Err(FetchError::http(
            url,
            response.status(),
            &response.status_text(),
            &body,
        ))
    }
}

/// Every object the view needs, or the first request that failed.
async fn read(base: &Base) -> Result<Vec<Object>, FetchError> {
    let mut objects = Vec::new();
    for (kind, path) in LISTS {
        let url = base.url(path);
        let body = get(&url).await?;
        objects.extend(
            live::decode_list(kind, &body).map_err(|detail| FetchError::Decode { url, detail })?,
        );
    }
    // No kube-proxy ConfigMap: kube-proxy runs with its defaults.
    let url = base.url(KUBE_PROXY_PATH);
    match get(&url).await {
        Ok(body) => objects.push(
            live::decode_config_map(&body).map_err(|detail| FetchError::Decode { url, detail })?,
        ),
        Err(FetchError::Http { status: 404, .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(objects)
}

/// Asks `GET BASE/svclab/v1/info`; `Unknown` when nothing answered (asked again next time).
async fn ask_sim(base: &Base) -> Sim {
    let url = base.url(INFO_PATH);
    match get(&url).await {
        Ok(body) if live::is_sim_info(&body) => Sim::Yes,
        Ok(_) => Sim::No(FetchError::Decode {
            url,
            detail: "no SvclabInfo".into(),
        }),
        Err(e @ FetchError::Http { .. }) => Sim::No(e),
        Err(_) => Sim::Unknown,
    }
}

/// The rules `node` has in `mode`, read through the sim's node endpoint.
async fn read_node(base: &Base, node: &str, mode: ProxyMode) -> Found {
    let url = live::exec_url(base, node, command(mode));
    let result = match get(&url).await {
        Ok(body) => live::decode_exec(&body).map_err(|detail| FetchError::Decode { url, detail }),
        Err(e) => Err(e),
    };
    Found {
        node: node.to_string(),
        mode,
        result,
    }
}

/// Reads the cluster every [`POLL_MS`], for as long as the page is open; on the sim, the rules
/// of the node `node` names (the rules view's) too.
pub(crate) async fn follow(
    base: Base,
    d: UseReducerDispatcher<State>,
    node: Rc<RefCell<Option<String>>>,
) {
    let mut sim = Sim::Unknown;
    loop {
        if sim == Sim::Unknown {
            sim = ask_sim(&base).await;
            d.dispatch(Msg::Live(Event::Sim(sim.clone())));
        }
        let read = read(&base).await;
        let after = read.as_ref().ok().map(|objects| {
            let config = ClusterConfig::observed(objects);
            (config.proxy_mode, live::default_node(&config))
        });
        d.dispatch(Msg::Live(Event::Read(read)));
        // Read (and the borrow ended) before anything is awaited: the page sets it as it renders.
        let picked = node.borrow().clone();
        if sim == Sim::Yes
            && let Some((mode, default)) = after
            && let Some(n) = picked.or(default)
        {
            d.dispatch(Msg::Live(Event::Found(read_node(&base, &n, mode).await)));
        }
        yew::platform::time::sleep(Duration::from_millis(POLL_MS.into())).await;
    }
}

/// A table of plain-text cells (the live view's DNS answers).
pub(crate) fn table(
    lang: Lang,
    id: &'static str,
    title: Text,
    headers: &[Text],
    rows: &[Row],
    left_out: usize,
) -> Html {
    let title_id = format!("{id}-title");
    html! {
        <section class={id} aria-labelledby={title_id.clone()}>
            <h2 id={title_id}>{text(lang, title)}</h2>
            <table id={id} class="objects">
                <thead><tr>{ for headers.iter().map(|h| html! { <th scope="col">{text(lang, *h)}</th> }) }</tr></thead>
                <tbody>
                { for rows.iter().map(|r| html! {
                    <tr key={r.key.clone()} data-name={r.name.clone()}>
                        { for r.cells.iter().map(|c| html! { <td>{c.clone()}</td> }) }
                    </tr>
                }) }
                </tbody>
            </table>
            if left_out > 0 {
                <p class="help">{and_more(lang, left_out)}</p>
            }
        </section>
    }
}

/// Beside the predicted rules: what the node really has (on the sim), the verdict, or why
/// there is nothing to compare with. `lines` narrows a text as the rules view's filter does.
pub(crate) fn found_view(
    lang: Lang,
    f: &live::Follow,
    node: &str,
    mode: ProxyMode,
    predicted: Option<&str>,
    lines: impl Fn(&str) -> Vec<String>,
) -> Html {
    let t = |x| text(lang, x);
    let body = match (&f.sim, f.found_for(node, mode)) {
        (Sim::No(why), _) => html! {
            <p id="live-found-why">{format!("{} ({}). {}", t(Text::LiveNotSim), why.message(lang), t(Text::LiveFoundOnKind))}</p>
        },
        (
            Sim::Yes,
            Some(Found {
                result: Ok(out), ..
            }),
        ) if out.exit_code == 0 => {
            let verdict = predicted.map(|p| live::compare_rules(mode, p, &out.stdout));
            html! {
                <>
                    <pre id="live-found" class="screen" tabindex="0"><span class="prompt">{format!("root@{node}:/# ")}</span><span class="command">{command(mode).join(" ")}</span>{"\n"}{lines(&out.stdout).join("\n")}</pre>
                    if let Some(v) = verdict {
                        <p id="live-compare" class={if v.identical { "identical" } else { "differs" }}>
                            {t(if v.identical { Text::LiveIdentical } else { Text::LiveDiffers })}
                        </p>
                        <ul id="live-compare-details">
                            { for v.details.iter().map(|d| html! { <li>{d.clone()}</li> }) }
                        </ul>
                    }
                </>
            }
        }
        (Sim::Yes, Some(Found { result, .. })) => {
            let why = match result {
                Ok(out) => format!("{}{}", out.stdout, out.stderr),
                Err(e) => e.message(lang),
            };
            html! { <p id="live-found-error" role="alert">{format!("{} {why}", t(Text::LiveFoundFailed))}</p> }
        }
        _ => html! { <p id="live-found-pending">{t(Text::LiveFoundPending)}</p> },
    };
    html! {
        <section class="found" aria-labelledby="found-title">
            <h2 id="found-title">{t(Text::LiveFoundTitle)}</h2>
            {body}
        </section>
    }
}
