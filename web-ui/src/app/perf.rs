//! Render times measured in the page, for the budgets in docs/perf.md (`scripts/bench-web`
//! reads them): `data-first-render-ms` on `<html>` is `performance.now()` when the first render
//! is on the DOM (milliseconds since navigation start, so download, compile and the first
//! render), `data-last-interaction-ms` the time from an action's dispatch to its re-render being
//! on the DOM, `data-last-reduce-ms` the part of it spent in the reducer (lab-core's work),
//! `data-last-deferred-ms` the time until the work deferred past that render (the rules view)
//! was done, and `data-interactions` how many were measured. A staged action's later steps (a
//! deletion's controllers following through, `Playground::dispatch`) are re-renders of their
//! own: `data-follow-ups-ms` lists each one's time from its start to its render on the DOM since
//! the last interaction (`data-follow-ups-reduce-ms` the reducer's share), and `data-settling`
//! says whether more are due.

use std::cell::{Cell, RefCell};
use std::thread::LocalKey;

thread_local! {
    static STARTED: Cell<Option<f64>> = const { Cell::new(None) };
    /// The last dispatch, kept for the deferred work that finishes after its render.
    static LAST: Cell<Option<f64>> = const { Cell::new(None) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    /// Whether the render being timed is a follow-up's.
    static FOLLOW_UP: Cell<bool> = const { Cell::new(false) };
    /// The follow-ups' times since the last interaction, and their reducers' share.
    static FOLLOW_UPS: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    static FOLLOW_UP_REDUCES: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

fn now() -> Option<f64> {
    Some(web_sys::window()?.performance()?.now())
}

fn set(name: &str, value: String) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute(name, &value);
    }
}

/// An action was dispatched: its re-render is being timed.
pub fn interaction_started() {
    if let Some(t) = now() {
        STARTED.with(|s| s.set(Some(t)));
        LAST.with(|s| s.set(Some(t)));
        FOLLOW_UP.with(|f| f.set(false));
        FOLLOW_UPS.with(|f| f.borrow_mut().clear());
        FOLLOW_UP_REDUCES.with(|f| f.borrow_mut().clear());
    }
}

/// Whether a staged action still has steps to run (`data-settling`).
pub fn settling(more: bool) {
    set("data-settling", more.to_string());
}

/// A staged action's second stage began: its re-render is timed as a follow-up.
pub fn follow_up_started() {
    if let Some(t) = now() {
        STARTED.with(|s| s.set(Some(t)));
        LAST.with(|s| s.set(Some(t)));
        FOLLOW_UP.with(|f| f.set(true));
    }
}

/// The follow-up had nothing left to do (no re-render comes).
pub fn follow_up_cancelled() {
    STARTED.with(|s| s.set(None));
    FOLLOW_UP.with(|f| f.set(false));
}

/// The reducer finished the action (its share of the interaction, before any rendering).
pub fn reduced() {
    let (Some(start), Some(end)) = (STARTED.with(|s| s.get()), now()) else {
        return;
    };
    if FOLLOW_UP.with(|f| f.get()) {
        record(&FOLLOW_UP_REDUCES, end - start, "data-follow-ups-reduce-ms");
    } else {
        set("data-last-reduce-ms", format!("{:.2}", end - start));
    }
}

/// Adds `ms` to `times` and writes the whole list to attribute `name`.
fn record(times: &'static LocalKey<RefCell<Vec<f64>>>, ms: f64, name: &str) {
    let list = times.with(|f| {
        let mut f = f.borrow_mut();
        f.push(ms);
        f.iter()
            .map(|ms| format!("{ms:.2}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    set(name, list);
}

/// The page's render began (the gap from the dispatch is the scheduler's, not our work).
pub fn render_started() {
    if let (Some(start), Some(end)) = (STARTED.with(|s| s.get()), now()) {
        set("data-last-render-start-ms", format!("{:.2}", end - start));
    }
}

/// A render reached the DOM (call from an effect that runs after every render).
pub fn rendered() {
    if let (Some(start), Some(end)) = (STARTED.with(|s| s.take()), now()) {
        if FOLLOW_UP.with(|f| f.take()) {
            record(&FOLLOW_UPS, end - start, "data-follow-ups-ms");
            return;
        }
        let n = COUNT.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        set("data-last-interaction-ms", format!("{:.2}", end - start));
        set("data-interactions", n.to_string());
        #[cfg(target_arch = "wasm32")]
        set(
            "data-wasm-memory-mib",
            (core::arch::wasm32::memory_size(0) / 16).to_string(),
        );
    }
}

/// Work deferred past an interaction's render (the rules text) is done.
pub fn deferred_done() {
    if let (Some(start), Some(end)) = (LAST.with(|s| s.get()), now()) {
        set("data-last-deferred-ms", format!("{:.2}", end - start));
    }
}

/// The first render reached the DOM.
pub fn first_render() {
    if let Some(t) = now() {
        set("data-first-render-ms", format!("{t:.1}"));
    }
}
