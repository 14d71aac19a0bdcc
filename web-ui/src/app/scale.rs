//! The scale view: `lab_core::scale::measure` at 1 / 5,000 / 20,000 Services in every proxy
//! mode, run in a web worker so the page never freezes (20,000 Services take seconds to sync
//! and trace), charted as the results arrive, beside the course chapter's table.
//!
//! The worker is this same wasm module: a small module script (a Blob) imports the page's
//! wasm-bindgen glue, instantiates the module the page sends it (`wasm_bindgen::module()`, so
//! nothing is downloaded twice) and calls [`svclab_scale_worker`]. `main` does nothing there
//! (no window).

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    Blob, BlobPropertyBag, DedicatedWorkerGlobalScope, ErrorEvent, MessageEvent, Url, Worker,
    WorkerOptions, WorkerType,
};
use web_ui::i18n::{Lang, Text, text};
use web_ui::scale::{
    CHART_HEIGHT, CHART_WIDTH, Event, Figures, LEFT, MODES, Metric, SIZES, TOTAL, chart,
    mode_label, progress, rows, thousands,
};
use yew::prelude::*;

/// The worker's entry point: measures every size in every mode and posts an [`Event`] (JSON
/// text) before and after each measurement.
#[wasm_bindgen]
pub fn svclab_scale_worker() {
    use lab_core::scale::measure::{Workload, measure};
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let post = |e: Event| {
        let _ = scope.post_message(&JsValue::from_str(&e.to_json()));
    };
    let Some(performance) = scope.performance() else {
        post(Event::Failed {
            message: "no performance clock in the worker".into(),
        });
        return;
    };
    let mut now = || performance.now();
    // Warm-up, unreported (as criterion warms up): the engine compiles hot wasm functions
    // again, optimised, after their first runs, which would bill the 1-Service figures for it.
    let small = Workload::new(1);
    for mode in MODES {
        let _ = measure(&small, mode, &mut now);
    }
    for services in SIZES {
        let workload = Workload::new(services);
        for mode in MODES {
            post(Event::Measuring { services, mode });
            match measure(&workload, mode, &mut now) {
                Ok(f) => post(Event::Measured(f)),
                Err(e) => {
                    post(Event::Failed {
                        message: e.to_string(),
                    });
                    return;
                }
            }
        }
    }
    post(Event::Finished);
}

/// A running worker and the callbacks it holds (dropping them would leave it talking to
/// nothing); terminated when the view goes away or starts again.
struct Running {
    worker: Worker,
    url: String,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.worker.terminate();
        let _ = Url::revoke_object_url(&self.url);
    }
}

fn js_error(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Starts the worker; its events go to `on_event`.
fn start(on_event: Callback<Event>) -> Result<Running, String> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    // trunk preloads the glue module the page imports; the worker imports the same one.
    let glue = document
        .query_selector("link[rel=modulepreload]")
        .map_err(js_error)?
        .and_then(|l| l.get_attribute("href"))
        .ok_or("the page's wasm-bindgen module was not found (link rel=modulepreload)")?;
    let base = window.location().href().map_err(js_error)?;
    let glue = Url::new_with_base(&glue, &base).map_err(js_error)?.href();
    let script = format!(
        "import init, {{ svclab_scale_worker }} from {glue};\n\
         self.onmessage = async (e) => {{\n\
         \x20 self.onmessage = null;\n\
         \x20 try {{ await init({{ module_or_path: e.data }}); svclab_scale_worker(); }}\n\
         \x20 catch (err) {{ self.postMessage(JSON.stringify({{ event: 'failed', message: String(err) }})); }}\n\
         }};\n",
        glue = serde_json::to_string(&glue).unwrap_or_default()
    );
    let bag = BlobPropertyBag::new();
    bag.set_type("text/javascript");
    let blob = Blob::new_with_str_sequence_and_options(
        &js_sys::Array::of1(&JsValue::from_str(&script)),
        &bag,
    )
    .map_err(js_error)?;
    let url = Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = Worker::new_with_options(&url, &options).map_err(js_error)?;
    let on_message = {
        let on_event = on_event.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |m: MessageEvent| {
            let text = m.data().as_string().unwrap_or_default();
            on_event.emit(Event::from_json(&text));
        })
    };
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |e: ErrorEvent| {
        on_event.emit(Event::Failed {
            message: e.message(),
        });
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    worker
        .post_message(&wasm_bindgen::module())
        .map_err(js_error)?;
    Ok(Running {
        worker,
        url,
        _on_message: on_message,
        _on_error: on_error,
    })
}

/// What the view shows: the figures so far and where the worker is.
#[derive(Clone, Default, PartialEq)]
struct Progress {
    figures: Vec<Figures>,
    current: Option<(usize, lab_core::config::ProxyMode)>,
    running: bool,
    failed: Option<String>,
}

enum Msg {
    Start,
    Event(Event),
}

impl Reducible for Progress {
    type Action = Msg;

    fn reduce(self: std::rc::Rc<Self>, msg: Msg) -> std::rc::Rc<Self> {
        let mut next = (*self).clone();
        match msg {
            Msg::Start => {
                next = Progress {
                    running: true,
                    ..Progress::default()
                }
            }
            Msg::Event(Event::Measuring { services, mode }) => {
                next.current = Some((services, mode))
            }
            Msg::Event(Event::Measured(f)) => next.figures.push(f),
            Msg::Event(Event::Finished) => {
                next.running = false;
                next.current = None;
            }
            Msg::Event(Event::Failed { message }) => {
                next.running = false;
                next.current = None;
                next.failed = Some(message);
            }
        }
        next.into()
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
}

fn mode_class(mode: lab_core::config::ProxyMode) -> &'static str {
    mode.as_str()
}

fn chart_view(lang: Lang, metric: Metric, figures: &[Figures]) -> Html {
    let c = chart(metric, figures);
    let title = text(lang, metric.title());
    let id = format!("scale-chart-{}", metric.key());
    html! {
        <figure class="scale-chart">
            <figcaption id={format!("{id}-title")}>{title}</figcaption>
            <svg id={id.clone()} role="img" aria-labelledby={format!("{id}-title")}
                viewBox={format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")} width={CHART_WIDTH.to_string()}
                height={CHART_HEIGHT.to_string()}>
                { for c.ticks.iter().map(|t| html! {
                    <g class="tick">
                        <line x1={(LEFT - 4.0).to_string()} x2={CHART_WIDTH.to_string()} y1={t.y.to_string()} y2={t.y.to_string()} />
                        <text x={(LEFT - 6.0).to_string()} y={(t.y + 4.0).to_string()} text-anchor="end">{&t.label}</text>
                    </g>
                }) }
                { for c.bars.iter().map(|b| html! {
                    <g class={classes!("bar", mode_class(b.mode))}
                        data-services={b.services.to_string()} data-mode={b.mode.as_str()}
                        data-value={b.value.to_string()}>
                        <title>{format!("{} · {} Services · {}", mode_label(b.mode), thousands(b.services as u64), b.label)}</title>
                        <rect x={b.x.to_string()} y={b.y.to_string()} width={b.width.to_string()} height={b.height.to_string()} />
                    </g>
                }) }
                { for c.groups.iter().map(|(x, label)| html! {
                    <text class="group" x={x.to_string()} y={(CHART_HEIGHT - 20.0).to_string()} text-anchor="middle">{label}</text>
                }) }
                <text class="axis" x={((CHART_WIDTH + LEFT) / 2.0).to_string()} y={(CHART_HEIGHT - 4.0).to_string()} text-anchor="middle">{text(lang, Text::ScaleServices)}</text>
            </svg>
        </figure>
    }
}

#[function_component(ScaleView)]
pub fn scale_view(props: &Props) -> Html {
    let lang = props.lang;
    let t = |x| text(lang, x);
    let progress_state = use_reducer(Progress::default);
    let running = use_mut_ref(|| None::<Running>);
    // Leaving the page (or the embed) stops the worker.
    {
        let running = running.clone();
        use_effect_with((), move |_| move || drop(running.borrow_mut().take()));
    }
    let on_run = {
        let (progress_state, running) = (progress_state.clone(), running.clone());
        Callback::from(move |_: MouseEvent| {
            if progress_state.running {
                return;
            }
            drop(running.borrow_mut().take());
            progress_state.dispatch(Msg::Start);
            let events = {
                let (progress_state, running) = (progress_state.clone(), running.clone());
                Callback::from(move |e: Event| {
                    let done = matches!(e, Event::Finished | Event::Failed { .. });
                    progress_state.dispatch(Msg::Event(e));
                    if done {
                        drop(running.borrow_mut().take());
                    }
                })
            };
            match start(events) {
                Ok(r) => *running.borrow_mut() = Some(r),
                Err(message) => progress_state.dispatch(Msg::Event(Event::Failed { message })),
            }
        })
    };
    let p = &*progress_state;
    let status = if p.running {
        progress(lang, p.figures.len(), p.current)
    } else if p.figures.len() == TOTAL {
        progress(lang, TOTAL, None)
    } else {
        String::new()
    };
    let table = rows(lang, &p.figures);
    html! {
        <section id="scale" class="scale" aria-labelledby="scale-title">
            <h2 id="scale-title">{t(Text::ScaleTitle)}</h2>
            <p class="help">{t(Text::ScaleIntro)}</p>
            <button id="scale-run" onclick={on_run} disabled={p.running}>{t(Text::ScaleRun)}</button>
            <output id="scale-status" aria-live="polite" data-done={p.figures.len().to_string()}
                data-running={p.running.to_string()}>{status}</output>
            if let Some(message) = &p.failed {
                <p id="scale-error" role="alert">{format!("{} {message}", t(Text::ScaleFailed))}</p>
            }
            <ul class="legend" aria-hidden="true">
                { for MODES.iter().map(|m| html! {
                    <li class={mode_class(*m)}>{mode_label(*m)}</li>
                }) }
            </ul>
            <div class="scale-grid">
                <div class="scale-charts">
                    { for Metric::ALL.iter().map(|m| chart_view(lang, *m, &p.figures)) }
                </div>
                <table id="scale-table">
                    <caption>{t(Text::ScaleChapterCaption)}</caption>
                    <thead><tr>
                        <th scope="col">{t(Text::ScaleServices)}</th>
                        { for SIZES.iter().map(|s| html! { <th scope="col">{thousands(*s as u64)}</th> }) }
                    </tr></thead>
                    <tbody>
                        { for table.iter().map(|r| html! {
                            <tr class={classes!(r.chapter.then_some("chapter"))}>
                                <th scope="row">{&r.label}</th>
                                { for r.cells.iter().map(|c| html! { <td>{c.clone().unwrap_or_else(|| "…".into())}</td> }) }
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
            <p class="help">{t(Text::ScaleWhy)}</p>
        </section>
    }
}
