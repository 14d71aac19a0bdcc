//! Headless Chromium for the playground's browser test and `scripts/bench-web`: Debian's
//! chromedriver on 127.0.0.1 (killed on drop) and a WebDriver session with a fresh profile,
//! plus the helpers both use (clicking, the page's long tasks). Shared by
//! `tests/playground_browser.rs` (through `support`) and `examples/web_budgets.rs` (by path).

// Each user takes its own subset (the example includes this file on its own).
#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's chromium-driver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on 127.0.0.1, killed on drop.
pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts chromedriver on a free loopback port and waits until it listens.
pub fn start_driver() -> (Driver, u16) {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "{CHROMEDRIVER} or {CHROMIUM} is missing: run scripts/setup (it installs Debian's chromium and chromium-driver)"
    );
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, port)
}

/// A new session (a fresh profile: empty localStorage) in a window of `width`×`height`, with the
/// flags this machine's closed network needs.
pub async fn connect(port: u16, width: u32, height: u32) -> Client {
    let caps = serde_json::json!({
        // The console's messages, for tests that read them (chromedriver's `se/log`).
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", format!("--window-size={width},{height}")
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("connecting to chromedriver")
}

/// Clicks the element `css` finds.
pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Starts recording the page's main-thread tasks over 50 ms (the Long Tasks API).
pub async fn watch_long_tasks(c: &Client) {
    c.execute(
        "window.svclabLongTasks = []; new PerformanceObserver(l => \
         window.svclabLongTasks.push(...l.getEntries().map(e => e.duration))) \
         .observe({ type: 'longtask' });",
        vec![],
    )
    .await
    .unwrap();
}

/// The durations of the long tasks recorded since [`watch_long_tasks`], in milliseconds.
pub async fn long_tasks(c: &Client) -> Vec<f64> {
    serde_json::from_value(
        c.execute("return window.svclabLongTasks", vec![])
            .await
            .unwrap(),
    )
    .unwrap()
}

/// chromedriver's log of the page's console (`goog:loggingPrefs`, set in [`connect`], asks
/// Chromium to keep it).
#[derive(Debug)]
pub struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// The console's errors since the last call (chromedriver hands each entry out once).
pub async fn console_errors(c: &Client) -> Vec<String> {
    let log = c
        .issue_cmd(BrowserLog)
        .await
        .expect("chromedriver's browser log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Asks `probe` every `every` until it says it is done (the `bool`), `limit` at most; returns
/// its last answer. Views finish after the render an action caused, so tests poll instead of
/// reading once.
pub async fn poll<T>(
    limit: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> (bool, T),
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let (done, value) = probe().await;
        if done || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(every).await;
    }
}
