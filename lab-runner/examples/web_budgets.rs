//! The browser half of `scripts/bench-web`: the playground's budgets (issue 7), measured in
//! headless Chromium against a running `lab-runner sim --web-dir web-ui/dist` whose page URL is
//! the first argument. The page records its own render times (web-ui's `app::perf`: attributes
//! on `<html>`), so what is measured is the page's work, not WebDriver's round trips:
//!
//! - `first_render_ms`: from navigation start to the first render on the DOM (download of the
//!   wasm and JS from the sim on loopback, compile, start, first render);
//! - `apply_200_ms`: applying a 200-replica Deployment and its Service in the YAML editor, up to
//!   the re-render with 200 running pods (the controllers run to convergence in the page);
//! - `interaction_ms`: with those 200 pods on the page, an action's dispatch to its re-render
//!   (fail a pod's readiness, pass it again, delete a pod), 12 times; the median and maximum;
//! - `follow_up_ms`: a deletion's later steps (web-ui `Playground::dispatch`: the controllers
//!   following through, one scheduled moment per task), each from its start to its re-render;
//!   `re_render_max_ms` is the slowest of every re-render, interactions and follow-ups;
//! - `scale_*`: the scale view's measurement (1 / 5,000 / 20,000 Services in every mode, in its
//!   web worker): the wall time from the click to the ninth result, the longest main-thread task
//!   meanwhile (a frozen page would show the whole measurement as one task), and the figures the
//!   page measured at 20,000 Services (from the bars' `data-value`).
//!
//! Prints one JSON line. Chromium is started by chromedriver, so pinning this process
//! (`taskset`) pins the browser too.

#[path = "../tests/support/browser.rs"]
mod browser;

use browser::click;
use fantoccini::{Client, Locator};
use std::time::{Duration, Instant};

const PODS: usize = 200;

fn manifests() -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {PODS}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: httpd\n        image: httpd:2.4\n        ports:\n        - containerPort: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-svc\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n"
    )
}

async fn attr(c: &Client, name: &str) -> Option<String> {
    c.find(Locator::Css("html"))
        .await
        .ok()?
        .attr(name)
        .await
        .ok()?
}

/// Waits for `data-interactions` to pass `seen`, then returns the last interaction's time.
async fn next_interaction(c: &Client, seen: u64) -> (u64, f64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n: u64 = attr(c, "data-interactions")
            .await
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if n > seen {
            let ms = attr(c, "data-last-interaction-ms")
                .await
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            return (n, ms);
        }
        assert!(Instant::now() < deadline, "no re-render after an action");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the page has no staged steps left, then returns the follow-ups' times and their
/// reducers' share.
async fn follow_ups_done(c: &Client) -> (Vec<f64>, Vec<f64>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while attr(c, "data-settling").await.as_deref() != Some("false") {
        assert!(Instant::now() < deadline, "the deletion never settled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let list = async |name: &str| -> Vec<f64> {
        attr(c, name)
            .await
            .unwrap_or_default()
            .split(',')
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    (
        list("data-follow-ups-ms").await,
        list("data-follow-ups-reduce-ms").await,
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let web = std::env::args()
        .nth(1)
        .expect("usage: web_budgets http://127.0.0.1:PORT/");
    let (_driver, port) = browser::start_driver();
    let c = browser::connect(port, 1280, 1000).await;

    c.goto(&web).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let first_render_ms: f64 = loop {
        if let Some(v) = attr(&c, "data-first-render-ms").await {
            break v.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the page never rendered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    let editor = c.find(Locator::Css("#editor")).await.unwrap();
    editor.send_keys(&manifests()).await.unwrap();
    let seen: u64 = attr(&c, "data-interactions")
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    click(&c, "#editor-apply").await;
    let (mut seen, apply_200_ms) = next_interaction(&c, seen).await;
    let rows = c
        .find_all(Locator::Css("#pods tbody tr[data-name^='web-']"))
        .await
        .unwrap()
        .len();
    assert_eq!(rows, PODS, "{PODS} pods on the page");

    let mut times = Vec::new();
    let mut reduce_times = Vec::new();
    let mut render_starts = Vec::new();
    let mut deferred = Vec::new();
    let mut follow_ups: Vec<Vec<f64>> = Vec::new();
    let mut follow_up_reduces: Vec<Vec<f64>> = Vec::new();
    // The wasm memory after each interaction (MiB): growing it can stall a render.
    let mut memory = Vec::new();
    for i in 0..4 {
        let row = format!("#pods tbody tr[data-name^='web-']:nth-child({}) ", i + 1);
        for css in [
            format!("{row}button.readiness"),
            format!("{row}button.readiness"),
            format!("{row}button.delete"),
        ] {
            click(&c, &css).await;
            let (n, ms) = next_interaction(&c, seen).await;
            seen = n;
            times.push(ms);
            memory.push(
                attr(&c, "data-wasm-memory-mib")
                    .await
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0),
            );
            if css.ends_with("button.delete") {
                let (steps, reduces) = follow_ups_done(&c).await;
                assert!(!steps.is_empty(), "a deletion's later steps re-render");
                follow_ups.push(steps);
                follow_up_reduces.push(reduces);
            }
            // The rules view's text follows the render; give it its frame.
            tokio::time::sleep(Duration::from_millis(300)).await;
            deferred.push(
                attr(&c, "data-last-deferred-ms")
                    .await
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(f64::NAN),
            );
            render_starts.push(
                attr(&c, "data-last-render-start-ms")
                    .await
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(f64::NAN),
            );
            reduce_times.push(
                attr(&c, "data-last-reduce-ms")
                    .await
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(f64::NAN),
            );
        }
    }
    // The scale view, with the 200 pods still on the page.
    browser::watch_long_tasks(&c).await;
    let started = Instant::now();
    click(&c, "#scale-run").await;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let status = c.find(Locator::Css("#scale-status")).await.unwrap();
        if status.attr("data-running").await.unwrap().as_deref() == Some("false") {
            let done = status.attr("data-done").await.unwrap();
            assert_eq!(done.as_deref(), Some("9"), "the scale view failed");
            break;
        }
        assert!(Instant::now() < deadline, "the scale view never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let scale_total_ms = started.elapsed().as_secs_f64() * 1000.0;
    let long = browser::long_tasks(&c).await;
    let mut at_20000 = serde_json::Map::new();
    for chart in ["full-sync", "change"] {
        for mode in ["iptables", "ipvs", "nftables"] {
            let bar = c
                .find(Locator::Css(&format!(
                    "#scale-chart-{chart} g.bar[data-services='20000'][data-mode='{mode}']"
                )))
                .await
                .unwrap();
            let value: f64 = bar
                .attr("data-value")
                .await
                .unwrap()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            at_20000.insert(format!("{chart}/{mode}"), value.into());
        }
    }

    let mut sorted = times.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted[sorted.len() / 2];
    let max = sorted[sorted.len() - 1];
    let re_render_max = times
        .iter()
        .chain(follow_ups.iter().flatten())
        .copied()
        .fold(0.0, f64::max);
    println!(
        "{}",
        serde_json::json!({
            "first_render_ms": first_render_ms,
            "apply_200_ms": apply_200_ms,
            "interaction_ms": times,
            "interaction_median_ms": median,
            "interaction_max_ms": max,
            "follow_up_ms": follow_ups,
            "follow_up_reduce_ms": follow_up_reduces,
            "wasm_memory_mib": memory,
            "re_render_max_ms": re_render_max,
            "reduce_ms": reduce_times,
            "render_start_ms": render_starts,
            "deferred_ms": deferred,
            "scale_total_ms": scale_total_ms,
            "scale_longest_task_ms": long.iter().copied().fold(0.0, f64::max),
            "scale_20000_ms": at_20000,
        })
    );
    let _ = c.close().await;
}
