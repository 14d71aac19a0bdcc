//! The web UI's live view in real headless Chromium, against a running `lab-runner sim` changed
//! with the machine's real `/usr/bin/kubectl`:
//! - the sim serves the page (`--web-dir web-ui/dist`); lab 01's manifests and solution are
//!   applied with kubectl; the playground offers "live cluster" (the sim's `/svclab/v1/info`
//!   answers), which opens `/?live=/`;
//! - the page shows the real pods (node, IP, readiness), the Service and its endpoints, the
//!   rules predicted for kind-worker (with the Service's chains) and, beside them, the rules the
//!   sim's node really has: identical; the predicted DNS answers; no control that writes;
//! - `kubectl scale deployment httpd --replicas=5`: the page follows within a few seconds;
//! - the same page served by a real `kubectl proxy --www=web-ui/dist --www-prefix=/
//!   --api-prefix=/k8s/` at `/?live=/k8s`: the objects, and (kubectl proxy forwards every path
//!   under its prefix, `/svclab/` included) the node's rules; the proxy stopped: the error is
//!   shown, the last state kept, and the page recovers when it is back;
//! - a kubectl proxy that refuses `/svclab/` stands for a cluster that is not the sim: the
//!   objects and predictions, and the page says why no node rules are shown;
//! - `?live=` naming another host is refused with a message, and nothing is fetched.
//!
//! The browser console has no error but the network failures the test causes on purpose.
//! Screenshots go to `$CARGO_TARGET_DIR/screenshots/live*.png` (`target/` by default).

mod support;

use fantoccini::{Client, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::browser::{click, connect, console_errors, poll, start_driver};
use support::{KUBECTL, Sim, kubectl, line_reader, wait_running};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The text of `css` ("" while it does not exist).
async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The text of `css` once `ok` accepts it (15 s at most; then whatever it is).
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    poll(
        Duration::from_secs(15),
        Duration::from_millis(100),
        async || {
            let t = text(c, css).await;
            (ok(&t), t)
        },
    )
    .await
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

/// Polls until `css` matches `want` elements (`limit` at most); returns the count seen last.
async fn wait_count(c: &Client, css: &str, want: usize, limit: Duration) -> usize {
    poll(limit, Duration::from_millis(100), async || {
        let n = count(c, css).await;
        (n == want, n)
    })
    .await
}

/// A running `kubectl proxy` serving the playground's build and the API under `/k8s/`, killed
/// on drop.
struct Proxy {
    child: Child,
    port: u16,
}

impl Proxy {
    /// Starts it on `port` (0: a free one, which it prints), with `extra` flags.
    fn start(home: &Path, dist: &Path, port: u16, extra: &[&str]) -> Proxy {
        let mut child = Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(home.join("kubeconfig"))
            .args(["proxy", &format!("--port={port}")])
            .arg(format!("--www={}", dist.display()))
            .args(["--www-prefix=/", "--api-prefix=/k8s/"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting kubectl proxy");
        let lines = line_reader(child.stdout.take().unwrap());
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("kubectl proxy printed nothing");
        // "Starting to serve on 127.0.0.1:PORT"
        let port = line
            .strip_prefix("Starting to serve on 127.0.0.1:")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line of kubectl proxy: {line:?}"));
        Proxy { child, port }
    }

    fn url(&self, rest: &str) -> String {
        format!("http://127.0.0.1:{}{rest}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name ip node` of every httpd pod, as kubectl lists them.
fn httpd_pods(home: &Path) -> Vec<(String, String, String)> {
    kubectl(
        home,
        &[
            "get",
            "pods",
            "-l",
            "app=httpd",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.spec.nodeName}{\"\\n\"}{end}",
        ],
    )
    .lines()
    .map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w[0].to_string(), w[1].to_string(), w[2].to_string())
    })
    .collect()
}

/// The page shows `pods` as kubectl lists them: name, IP, node, Running and Ready.
async fn assert_pods_shown(c: &Client, pods: &[(String, String, String)]) {
    for (name, ip, node) in pods {
        let row = text(c, &format!("#pods tbody tr[data-name='{name}']")).await;
        assert!(
            row.contains(ip) && row.contains(node) && row.contains("Running · Ready"),
            "pod {name} {ip} {node}: {row:?}"
        );
    }
}

const READY_HTTPD_ROWS: &str = "#pods tbody tr[data-name^='httpd-']";

/// Waits for the predicted and the found rules of kind-worker to be shown and equal; returns
/// the predicted text.
async fn assert_found_identical(c: &Client) -> String {
    let verdict = wait_text(c, "#live-compare", |t| t.starts_with("identical")).await;
    assert!(
        verdict.starts_with("identical"),
        "{verdict:?}: {}",
        text(c, "#live-found-section, .found").await
    );
    let predicted = text(c, "#rules").await;
    let found = text(c, "#live-found").await;
    assert!(
        predicted.starts_with("root@kind-worker:/# iptables-save"),
        "{predicted}"
    );
    assert_eq!(predicted.trim(), found.trim(), "predicted and found differ");
    predicted
}

#[tokio::test(flavor = "multi_thread")]
async fn live_view_follows_the_sim_and_kubectl_proxy() {
    let dist = workspace().join("web-ui/dist");
    assert!(
        dist.join("index.html").is_file(),
        "{} has no index.html: run scripts/build-web first (scripts/test runs it in its web-build stage)",
        dist.display()
    );
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} is missing (scripts/setup says how to get it)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let sim = Sim::start(&home, &["--web-dir", dist.to_str().unwrap()]);
    let ports: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("ports.json")).unwrap()).unwrap();
    let web = ports["web"].as_str().expect("ports.json's web").to_string();
    assert!(web.starts_with("http://127.0.0.1:"), "{ports}");

    // Lab 01 as a learner sets it up: its manifests, then its solution.
    let lab = workspace().join("labs/01-clusterip");
    for dir in ["manifests", "solution"] {
        kubectl(&home, &["apply", "-f", lab.join(dir).to_str().unwrap()]);
    }
    wait_running(&home, &["-l", "app=httpd"], 3);
    let pods = httpd_pods(&home);
    assert_eq!(pods.len(), 3);
    let cluster_ip = kubectl(
        &home,
        &[
            "get",
            "svc",
            "httpd-svc",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );

    let (_driver, driver_port) = start_driver();
    let c = connect(driver_port, 1200, 1000).await;

    // The playground served by the sim offers the live view.
    c.goto(&format!("{web}?lang=en")).await.unwrap();
    let enter = wait_text(&c, "#live-enter", |t| !t.is_empty()).await;
    assert_eq!(enter, "live cluster");
    click(&c, "#live-enter").await;
    let source = wait_text(&c, "#live-source", |t| t.contains("svclab sim")).await;
    assert_eq!(source, "Kubernetes API at / · the svclab sim");
    assert!(c.current_url().await.unwrap().as_str().contains("?live=/"));

    // The real pods, Service, EndpointSlice.
    assert_eq!(
        wait_count(&c, READY_HTTPD_ROWS, 3, Duration::from_secs(15)).await,
        3,
        "{}\n{:?}",
        text(&c, "main").await,
        console_errors(&c).await
    );
    assert_pods_shown(&c, &pods).await;
    // The Service on the map: its type and virtual IP:port, and a line per endpoint of its
    // EndpointSlice, each to a ready pod's IP.
    let svc = text(&c, "g.service[data-name='httpd-svc']").await;
    assert!(
        svc.contains("svc/httpd-svc (ClusterIP)") && svc.contains(&format!("{cluster_ip}:8080")),
        "{svc}"
    );
    assert_eq!(
        count(&c, "line.endpoint:not(.leaving)[data-service='httpd-svc']").await,
        3
    );
    for (_, ip, _) in &pods {
        let line = format!(
            "line.endpoint:not(.leaving):not(.not-ready)[data-service='httpd-svc'][data-ip='{ip}']"
        );
        assert_eq!(count(&c, &line).await, 1, "{line}");
    }
    assert_eq!(text(&c, "#live-mode").await, "iptables");

    // kind-worker's rules: predicted, with the Service's chains, and found on the node, equal.
    assert_eq!(
        c.find(Locator::Css("#rules-node"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("kind-worker")
    );
    let predicted = assert_found_identical(&c).await;
    let service_rule = predicted
        .lines()
        .find(|l| l.contains("\"default/httpd-svc cluster IP\""))
        .unwrap_or_else(|| panic!("no KUBE-SERVICES rule of httpd-svc:\n{predicted}"));
    assert!(
        service_rule.starts_with(&format!("-A KUBE-SERVICES -d {cluster_ip}/32"))
            && service_rule.contains("--dport 8080 -j KUBE-SVC-"),
        "{service_rule}"
    );
    // Narrowed to the Service, in both panels: its chain and one DNAT per pod.
    click(&c, "#rules-service option[value='default/httpd-svc']").await;
    let narrowed = wait_text(&c, "#rules", |t| t.matches("-j DNAT").count() == 3).await;
    assert!(narrowed.contains(":KUBE-SVC-"), "{narrowed}");
    for (_, ip, _) in &pods {
        assert!(
            narrowed.contains(&format!("--to-destination {ip}:80")),
            "{narrowed}"
        );
    }
    assert_eq!(text(&c, "#live-found").await.trim(), narrowed.trim());

    // The predicted DNS answer.
    let dns = text(
        &c,
        "#live-dns tr[data-name='httpd-svc.default.svc.cluster.local.']",
    )
    .await;
    assert!(
        dns.contains("NOERROR") && dns.contains(&cluster_ip),
        "{dns}"
    );

    // Nothing here writes: no control of the playground's, and the note says to use kubectl.
    for css in [
        "#apply",
        "#scale-up",
        "#reset",
        "#editor",
        "#terminal-input",
        "button.delete",
        "button.readiness",
        "[id^='mode-']",
        "#lab-start",
    ] {
        assert_eq!(count(&c, css).await, 0, "{css} in the live view");
    }
    assert!(text(&c, "#live-readonly").await.contains("kubectl scale"));

    // kubectl scales; the page follows within a few seconds of the pods being ready.
    kubectl(&home, &["scale", "deployment", "httpd", "--replicas=5"]);
    wait_running(&home, &["-l", "app=httpd"], 5);
    let ready_at = Instant::now();
    let ready_rows = "#pods tbody tr[data-name^='httpd-']";
    assert_eq!(
        wait_count(&c, ready_rows, 5, Duration::from_secs(6)).await,
        5,
        "the page did not follow the scale"
    );
    let pods = httpd_pods(&home);
    poll(
        Duration::from_secs(6),
        Duration::from_millis(100),
        async || {
            let mut ok = true;
            for (name, _, _) in &pods {
                let row = text(&c, &format!("#pods tbody tr[data-name='{name}']")).await;
                ok &= row.contains("Running · Ready");
            }
            (ok, ())
        },
    )
    .await;
    assert_pods_shown(&c, &pods).await;
    let followed = ready_at.elapsed();
    assert!(followed < Duration::from_secs(6), "{followed:?}");
    eprintln!("the page showed the 5 ready pods {followed:?} after kubectl did");
    let five = wait_text(&c, "#rules", |t| t.matches("-j DNAT").count() == 5).await;
    assert_eq!(five.matches("-j DNAT").count(), 5, "{five}");
    let verdict = wait_text(&c, "#live-compare", |t| t.starts_with("identical")).await;
    assert!(verdict.starts_with("identical"), "{verdict}");
    assert_eq!(text(&c, "#live-found").await.trim(), five.trim());

    // Pictures for the CI artefacts: the page, and its rules beside the node's.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let shots = target.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("live.png"), c.screenshot().await.unwrap()).unwrap();
    for (css, file) in [
        ("section.live-rules", "live-rules.png"),
        ("section.live-dns", "live-dns.png"),
    ] {
        let png = c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .screenshot()
            .await
            .unwrap();
        std::fs::write(shots.join(file), png).unwrap();
    }

    // In Chinese too.
    click(&c, "#lang-zh").await;
    assert!(text(&c, "#live-readonly").await.starts_with("只读"));
    assert!(text(&c, "#live-compare").await.starts_with("一致"));
    click(&c, "#lang-en").await;
    let errors = console_errors(&c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // Through a real kubectl proxy serving the same build: the objects, and (it forwards every
    // path under /k8s/) the sim's node rules.
    let proxy = Proxy::start(&home, &dist, 0, &[]);
    c.goto(&proxy.url("/?live=/k8s&lang=en")).await.unwrap();
    let source = wait_text(&c, "#live-source", |t| t.contains("svclab sim")).await;
    assert_eq!(source, "Kubernetes API at /k8s · the svclab sim");
    assert_eq!(
        wait_count(&c, READY_HTTPD_ROWS, 5, Duration::from_secs(15)).await,
        5
    );
    assert_pods_shown(&c, &pods).await;
    assert_found_identical(&c).await;
    let errors = console_errors(&c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // The proxy stops: the error is shown, the last state stays; it is back: the page recovers.
    let port = proxy.port;
    drop(proxy);
    let error = wait_text(&c, "#live-fetch-error", |t| !t.is_empty()).await;
    assert!(
        error.starts_with("Reading the cluster failed")
            && error.contains("cannot reach the server"),
        "{error}"
    );
    assert_eq!(count(&c, READY_HTTPD_ROWS).await, 5, "the last state stays");
    let proxy = Proxy::start(&home, &dist, port, &[]);
    let gone = poll(
        Duration::from_secs(10),
        Duration::from_millis(100),
        async || {
            let n = count(&c, "#live-fetch-error").await;
            (n == 0, n)
        },
    )
    .await;
    assert_eq!(gone, 0, "the page did not recover");
    for e in console_errors(&c).await {
        assert!(
            e.contains("/k8s/") && e.contains("ERR_CONNECTION_REFUSED"),
            "unexpected console error: {e}"
        );
    }
    drop(proxy);

    // A kubectl proxy that refuses /svclab/ stands for a cluster that is not the sim (a real
    // apiserver answers 404 there): objects and predictions, and why no node rules.
    let proxy = Proxy::start(
        &home,
        &dist,
        0,
        &["--reject-paths=^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach,^/svclab/"],
    );
    c.goto(&proxy.url("/?live=/k8s&lang=en")).await.unwrap();
    assert_eq!(
        wait_count(&c, READY_HTTPD_ROWS, 5, Duration::from_secs(15)).await,
        5
    );
    let why = wait_text(&c, "#live-found-why", |t| !t.is_empty()).await;
    assert!(
        why.starts_with("This API is not the svclab sim")
            && why.contains("GET /k8s/svclab/v1/info: 403 Forbidden")
            && why.contains("docker exec kind-worker iptables-save"),
        "{why}"
    );
    assert_eq!(
        text(&c, "#live-source").await,
        "Kubernetes API at /k8s · a cluster (not the svclab sim)"
    );
    assert_eq!(count(&c, "#live-found").await, 0);
    assert!(text(&c, "#rules").await.contains("default/httpd-svc"));
    for e in console_errors(&c).await {
        assert!(
            e.contains("/k8s/svclab/v1/info") && e.contains("403"),
            "unexpected console error: {e}"
        );
    }
    drop(proxy);

    // Another host is never fetched: the page says so.
    c.goto(&format!("{web}?live=http://192.0.2.1/&lang=en"))
        .await
        .unwrap();
    let refused = wait_text(&c, "#live-error", |t| !t.is_empty()).await;
    assert!(
        refused.contains("an address on another host is never fetched")
            && refused.contains("?live=/k8s"),
        "{refused}"
    );
    assert_eq!(count(&c, "#pods").await, 0);
    // Back to the playground.
    click(&c, "#live-back").await;
    wait_text(&c, "#apply", |t| !t.is_empty()).await;
    let errors = console_errors(&c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    c.close().await.unwrap();
    drop(sim);
}
