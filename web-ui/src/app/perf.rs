//! Render times measured in the page, for the budgets in docs/perf.md (`scripts/bench-web`
//! reads them): `data-first-render-ms` on `<html>` is `performance.now()` when the first render
//! is on the DOM (milliseconds since navigation start, so download, compile and the first
//! render), `data-last-interaction-ms` the time from an action's dispatch to its re-render being
//! on the DOM, `data-last-reduce-ms` the part of it spent in the reducer (lab-core's work),
//! `data-last-deferred-ms` the time until the work deferred past that render (the rules view)
//! was done, and `data-interactions` how many were measured. A staged action's second stage
//! (a deletion's controllers following through, `Playground::dispatch`) is its own re-render:
//! `data-last-follow-up-ms` from its start to its render on the DOM, `data-follow-ups` how many.

use std::cell::Cell;

thread_local! {
    static STARTED: Cell<Option<f64>> = const { Cell::new(None) };
    /// The last dispatch, kept for the deferred work that finishes after its render.
    static LAST: Cell<Option<f64>> = const { Cell::new(None) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    /// Whether the render being timed is a follow-up's.
    static FOLLOW_UP: Cell<bool> = const { Cell::new(false) };
    static FOLLOW_UPS: Cell<u64> = const { Cell::new(0) };
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
    }
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
    if let (Some(start), Some(end)) = (STARTED.with(|s| s.get()), now()) {
        let name = if FOLLOW_UP.with(|f| f.get()) {
            "data-last-follow-up-reduce-ms"
        } else {
            "data-last-reduce-ms"
        };
        set(name, format!("{:.2}", end - start));
    }
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
        let (counter, last, count) = if FOLLOW_UP.with(|f| f.take()) {
            (&FOLLOW_UPS, "data-last-follow-up-ms", "data-follow-ups")
        } else {
            (&COUNT, "data-last-interaction-ms", "data-interactions")
        };
        let n = counter.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        set(last, format!("{:.2}", end - start));
        set(count, n.to_string());
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
