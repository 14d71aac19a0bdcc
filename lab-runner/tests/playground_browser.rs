//! The playground in real headless Chromium: `lab-runner sim --web-dir web-ui/dist` serves
//! trunk's release build (scripts/build-web), chromedriver drives Debian's chromium, and the
//! test clicks through the chapter:
//! - apply the manifests, see 3 pods and `httpd-svc` on the map, scale to 5 and see 5 endpoint
//!   lines, with the rules that sync wrote marked in the rules view;
//! - delete a pod and see its replacement take its place (its old line fading out);
//! - switch kube-proxy to IPVS and read `ipvsadm -Ln` narrowed to `httpd-svc`;
//! - play a trace from a pod to `httpd-svc:8080` that ends at a pod IP (lit up on the map, its
//!   rules marked in the rules view);
//! - ask DNS from the client pod (its nslookup beside dig);
//! - run `kubectl get svc` in the terminal (Tab completion, Enter, ↑ history);
//! - see an invalid Service refused at its line in the YAML editor;
//! - reload and keep the scenario, open the share link (and a one-view embed of it) in a fresh
//!   browser to get the same cluster;
//! - start lab 01 (its checks fail, with a likely cause) and apply its solution (they pass);
//! - open every view's embed;
//! - measure the scale view (1 / 5,000 / 20,000 Services in every mode) in its web worker while
//!   the page stays usable.
//!
//! Screenshots go to `$CARGO_TARGET_DIR/screenshots/` (`target/` by default): `playground.png`
//! and one `playground-<view>.png` per view (kept as CI artefacts).

mod support;

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::Sim;
use support::browser::{click, connect, long_tasks, poll, start_driver, watch_long_tasks};

/// Every view, by its `?embed=` key, which is also its section's class.
const VIEWS: [&str; 9] = [
    "map", "labs", "pods", "editor", "trace", "dns", "rules", "terminal", "scale",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Polls until `css` matches `want` elements (10 s at most); returns the count seen last.
async fn wait_count(c: &Client, css: &str, want: usize) -> usize {
    poll(
        Duration::from_secs(10),
        Duration::from_millis(50),
        async || {
            let n = c.find_all(Locator::Css(css)).await.unwrap().len();
            (n == want, n)
        },
    )
    .await
}

/// The text of `css` once `ok` accepts it (10 s at most; then whatever it is).
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    poll(
        Duration::from_secs(10),
        Duration::from_millis(50),
        async || {
            let t = text(c, css).await;
            (ok(&t), t)
        },
    )
    .await
}

/// The element `css` once it exists (20 s at most; else the test fails, saying `what`).
async fn element(c: &Client, css: &str, what: &str) -> Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn playground_applies_scales_deletes_switches_mode_and_runs_kubectl() {
    let dist = workspace().join("web-ui/dist");
    assert!(
        dist.join("index.html").is_file(),
        "{} has no index.html: the browser test needs the playground's release build; run scripts/build-web first (scripts/test runs it in its web-build stage)",
        dist.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let sim = Sim::start(&home, &["--web-dir", dist.to_str().unwrap()]);
    let ports: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("ports.json")).unwrap()).unwrap();
    let web = ports["web"]
        .as_str()
        .expect("ports.json names the web URL")
        .to_string();
    assert!(web.starts_with("http://127.0.0.1:"), "{ports}");

    let (_driver, driver_port) = start_driver();
    let c = connect(driver_port, 1000, 900).await;
    c.goto(&web).await.unwrap();
    // The wasm has loaded and rendered once the map is there.
    element(&c, "#cluster-map", "the playground's map never rendered").await;
    // zh-CN by default; English on request, with the cluster kept.
    assert_eq!(text(&c, "#apply").await, "应用本章的清单");
    click(&c, "#lang-en").await;
    assert_eq!(text(&c, "#apply").await, "apply the chapter's manifests");
    assert_eq!(text(&c, "#replicas").await, "–");

    click(&c, "#apply").await;
    let httpd_pods = "g.pod.ready[data-name^='httpd-']";
    assert_eq!(wait_count(&c, httpd_pods, 3).await, 3, "3 ready httpd pods");
    let svc = c
        .find(Locator::Css("g.service[data-name='httpd-svc']"))
        .await
        .expect("httpd-svc on the map");
    let svc_text = svc.text().await.unwrap();
    assert!(
        svc_text.contains("svc/httpd-svc (ClusterIP)") && svc_text.contains("10.96."),
        "{svc_text}"
    );
    assert!(svc_text.contains(":8080"), "{svc_text}");
    let lines = "line.endpoint:not(.leaving)[data-service='httpd-svc']";
    assert_eq!(wait_count(&c, lines, 3).await, 3);
    // New pods and endpoint lines animate in (the stylesheet's keyframes apply to them).
    let animations = c
        .execute(
            "return [getComputedStyle(document.querySelector('g.pod')).animationName, \
             getComputedStyle(document.querySelector('line.endpoint')).animationName].join(' ')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(animations.as_str(), Some("pod-in line-in"));
    assert_eq!(text(&c, "#replicas").await, "3");

    let up = c.find(Locator::Css("#scale-up")).await.unwrap();
    assert_eq!(
        up.attr("aria-label").await.unwrap().as_deref(),
        Some("scale up by one")
    );
    up.click().await.unwrap();
    click(&c, "#scale-up").await;
    assert_eq!(
        wait_count(&c, lines, 5).await,
        5,
        "5 endpoint lines after scaling to 5"
    );
    assert_eq!(wait_count(&c, httpd_pods, 5).await, 5);
    assert_eq!(text(&c, "#replicas").await, "5");
    // The rules view marks what kube-proxy's last sync (the scale-up) wrote on kind-worker: the
    // new endpoints' chains and the Service chain's rules whose probabilities changed.
    let synced = poll(
        Duration::from_secs(10),
        Duration::from_millis(50),
        async || {
            let marks = c
                .find_all(Locator::Css("#rules mark.synced"))
                .await
                .unwrap();
            (!marks.is_empty(), marks)
        },
    )
    .await;
    let mut marked = String::new();
    for m in &synced {
        marked.push_str(&m.text().await.unwrap());
        marked.push('\n');
    }
    assert!(
        marked.contains("-A KUBE-SVC-") && marked.contains("-m statistic --mode random"),
        "{marked}"
    );
    // Every line ends at a pod whose IP the map shows.
    for line in c.find_all(Locator::Css(lines)).await.unwrap() {
        let ip = line.attr("data-ip").await.unwrap().unwrap();
        assert!(ip.starts_with("10.244."), "{ip}");
    }

    // Delete a pod: the ReplicaSet replaces it (a new name and IP) and the endpoints follow.
    let victim = c
        .find(Locator::Css("#pods tbody tr[data-name^='httpd-']"))
        .await
        .unwrap()
        .attr("data-name")
        .await
        .unwrap()
        .unwrap();
    let victim_ip = text(&c, &format!("g.pod[data-name='{victim}'] text.meta")).await;
    let victim_ip = victim_ip.split(" · ").next().unwrap().to_string();
    // Record the lines that leave (they fade out for a moment, then are gone).
    // And mark every pod element drawn so far: one without the mark afterwards is drawn anew
    // (an element Yew only moved keeps it).
    c.execute(
        "window.svclabLeft = []; \
         document.querySelectorAll('#cluster-map g.pod').forEach(n => { n.svclabOld = true; }); \
         new MutationObserver(ms => ms.forEach(m => m.addedNodes.forEach(n => { \
           if (n.classList && n.classList.contains('leaving')) \
             window.svclabLeft.push(n.getAttribute('data-ip')); \
         }))).observe(document.getElementById('cluster-map'), { childList: true, subtree: true });",
        vec![],
    )
    .await
    .unwrap();
    click(&c, &format!("#pods tr[data-name='{victim}'] button.delete")).await;
    assert_eq!(wait_count(&c, httpd_pods, 5).await, 5);
    assert_eq!(
        wait_count(&c, &format!("g.pod[data-name='{victim}']"), 0).await,
        0
    );
    assert_eq!(
        wait_count(&c, lines, 5).await,
        5,
        "the replacement is an endpoint"
    );
    let left = c.execute("return window.svclabLeft", vec![]).await.unwrap();
    assert!(
        left.as_array()
            .is_some_and(|l| l.iter().any(|ip| ip.as_str() == Some(victim_ip.as_str()))),
        "the deleted pod's line ({victim_ip}) faded out: {left}"
    );
    assert_eq!(
        wait_count(&c, "line.endpoint.leaving", 0).await,
        0,
        "a leaving line is gone after its fade"
    );
    // Only the replacement was drawn anew: the other pods kept their elements (and their rows).
    let added = c
        .execute(
            "return Array.from(document.querySelectorAll('#cluster-map g.pod')) \
               .filter(n => !n.svclabOld).map(n => n.getAttribute('data-name'))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        added.as_array().map(Vec::len),
        Some(1),
        "pods drawn anew by one deletion: {added}"
    );

    // The rules view shows iptables-save; switching kube-proxy to IPVS shows ipvsadm -Ln, and
    // the Service filter keeps httpd-svc's virtual server with its 5 real servers.
    let rules = wait_text(&c, "#rules", |t| t.contains("-A KUBE-SERVICES")).await;
    assert!(
        rules.starts_with("root@kind-worker:/# iptables-save")
            && rules.contains("-A KUBE-SERVICES"),
        "{rules}"
    );
    click(&c, "#mode-ipvs").await;
    assert_eq!(
        c.find(Locator::Css("#mode-ipvs"))
            .await
            .unwrap()
            .attr("aria-checked")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    let rules = wait_text(&c, "#rules", |t| t.contains("IP Virtual Server")).await;
    assert!(
        rules.starts_with(
            "root@kind-worker:/# ipvsadm -Ln\nIP Virtual Server version 1.2.1 (size=4096)"
        ),
        "{rules}"
    );
    click(&c, "#rules-service option[value='default/httpd-svc']").await;
    let filtered = wait_text(&c, "#rules", |t| !t.contains("IP Virtual Server")).await;
    let body: Vec<&str> = filtered.lines().skip(1).collect();
    assert_eq!(
        body.len(),
        6,
        "one virtual server, five real servers: {filtered}"
    );
    let words = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let server = words(body[0]);
    assert!(
        server[0] == "TCP" && server[1].starts_with("10.96.") && server[1].ends_with(":8080"),
        "{filtered}"
    );
    assert!(body[1..].iter().all(|l| {
        let w = words(l);
        w[0] == "->" && w[1].starts_with("10.244.") && w[1].ends_with(":80") && w[2] == "Masq"
    }));

    // The terminal: Tab completes, Enter runs, ↑ brings the command back.
    let input = c.find(Locator::Css("#terminal-input")).await.unwrap();
    input.send_keys("kubectl get sv").await.unwrap();
    input.send_keys("\u{E004}").await.unwrap(); // Tab
    assert_eq!(
        input.prop("value").await.unwrap().as_deref(),
        Some("kubectl get svc ")
    );
    input.send_keys("\u{E007}").await.unwrap(); // Enter
    let out = c.find(Locator::Css("#terminal-output")).await.unwrap();
    let mut screen = String::new();
    for _ in 0..50 {
        screen = out.text().await.unwrap();
        if screen.contains("httpd-svc") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(screen.starts_with("$ kubectl get svc\nNAME "), "{screen}");
    assert!(
        screen.lines().any(|l| l.starts_with("httpd-svc ")
            && l.contains("ClusterIP")
            && l.contains("8080/TCP")),
        "{screen}"
    );
    input.send_keys("\u{E013}").await.unwrap(); // ArrowUp
    assert_eq!(
        input.prop("value").await.unwrap().as_deref(),
        Some("kubectl get svc")
    );

    // The trace: from an httpd pod to httpd-svc:8080, played stage by stage: the lookup, the
    // DNS packet, IPVS's rules and the pod reached, lit up on the map.
    click(&c, "#trace-run").await;
    assert_eq!(
        wait_count(&c, "#trace-stages li", 1).await,
        1,
        "one stage after run"
    );
    click(&c, "#trace-play").await;
    let summary = c
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#trace-summary"))
        .await
        .expect("the trace never finished playing")
        .text()
        .await
        .unwrap();
    assert!(
        summary.starts_with("kube-proxy mode ipvs on kind-worker"),
        "{summary}"
    );
    let stages = c.find_all(Locator::Css("#trace-stages li")).await.unwrap();
    // From the chapter's clientpod (busybox 1.28, uClibc): the name as typed, then the search list.
    let first = stages[0].text().await.unwrap();
    assert!(first.contains(" httpd-svc. "), "{first}");
    let mut lookups = String::new();
    for s in &stages {
        lookups.push_str(&s.text().await.unwrap());
    }
    assert!(
        lookups
            .contains("httpd-svc.default.svc.cluster.local.  -> 10.96.0.10  NOERROR aa  A 10.96."),
        "{lookups}"
    );
    let last = stages.last().unwrap().text().await.unwrap();
    assert!(
        last.starts_with("=> reaches 10.244.") && last.contains(":80 = pod default/httpd-"),
        "{last}"
    );
    let traced = wait_count(&c, "g.pod.traced", 2).await;
    assert!(
        (1..=2).contains(&traced),
        "source and reached pod lit: {traced}"
    );
    // The rules view of the node it walked marks what it hit: IPVS's virtual server for
    // httpd-svc and the real server it chose.
    let walked = summary
        .split(" on ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap()
        .to_string();
    click(&c, &format!("#rules-node option[value='{walked}']")).await;
    assert_eq!(wait_count(&c, "#rules mark.hit", 2).await, 2);
    let marks = c.find_all(Locator::Css("#rules mark.hit")).await.unwrap();
    assert!(marks[0].text().await.unwrap().starts_with("TCP  10.96."));
    assert!(
        marks[1]
            .text()
            .await
            .unwrap()
            .trim_start()
            .starts_with("-> 10.244.")
    );

    // DNS from the client pod: its busybox 1.28 nslookup finds httpd-svc through the search
    // list, dig (which does not search) gets NXDOMAIN, and the walk shows every query.
    click(&c, "#dns-ask").await;
    let nslookup = text(&c, "#dns-nslookup").await;
    assert!(
        nslookup.contains("Name:      httpd-svc") && nslookup.contains("Address 1: 10.96."),
        "{nslookup}"
    );
    assert!(text(&c, "#dns-dig").await.contains("status: NXDOMAIN"));
    assert!(
        text(&c, "#dns-walk")
            .await
            .contains("httpd-svc.default.svc.cluster.local.")
    );

    // The YAML editor: an invalid Service is refused with the apiserver's words, at its line.
    let editor = c.find(Locator::Css("#editor")).await.unwrap();
    editor
        .send_keys("apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 70000\n")
        .await
        .unwrap();
    click(&c, "#editor-apply").await;
    let error = text(&c, "#editor-error").await;
    // Both causes, as the apiserver lists them (targetPort defaults to port).
    assert!(
        error.starts_with("line 7: The Service \"bad\" is invalid:")
            && error.contains(
                "* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
            )
            && error.contains("* spec.ports[0].targetPort: Invalid value: 70000"),
        "{error:?}"
    );
    assert_eq!(wait_count(&c, "g.service[data-name='bad']", 0).await, 0);

    let pods_before = text(&c, "#pods tbody").await;
    let terminal_before = text(&c, "#terminal-output").await;
    let link = c
        .find(Locator::Css("#share-link"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(link.starts_with(&format!("{web}?lang=en&s=")), "{link}");

    let png = c.screenshot().await.unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let shots = target.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("playground.png"), &png).unwrap();
    // One picture per view, for the CI artefacts.
    for view in VIEWS {
        let css = format!("section.{view}");
        let png = c
            .find(Locator::Css(&css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .screenshot()
            .await
            .unwrap();
        std::fs::write(shots.join(format!("playground-{view}.png")), &png).unwrap();
    }
    // A reload keeps the scenario (localStorage).
    c.refresh().await.unwrap();
    element(&c, "#pods tbody tr", "the saved scenario was not replayed").await;
    assert_eq!(text(&c, "#pods tbody").await, pods_before);
    c.close().await.unwrap();

    // The shared link in a fresh browser (no saved state) rebuilds the same cluster: the same
    // pod names and IPs, the IPVS mode and the terminal's output.
    let fresh = connect(driver_port, 1000, 900).await;
    fresh.goto(&link).await.unwrap();
    element(&fresh, "#pods tbody tr", "the shared link never rendered").await;
    assert_eq!(text(&fresh, "#pods tbody").await, pods_before);
    assert_eq!(text(&fresh, "#terminal-output").await, terminal_before);
    assert!(
        wait_text(&fresh, "#rules", |t| t.contains("IP Virtual Server"))
            .await
            .starts_with("root@kind-worker:/# ipvsadm -Ln\nIP Virtual Server")
    );
    // An embed shows its one view.
    fresh.goto(&format!("{link}&embed=rules")).await.unwrap();
    element(
        &fresh,
        "main.embed #rules",
        "the rules embed never rendered",
    )
    .await;
    assert_eq!(wait_count(&fresh, "#cluster-map", 0).await, 0);
    assert!(
        wait_text(&fresh, "#rules", |t| t.contains("IP Virtual Server"))
            .await
            .starts_with("root@kind-worker:/# ipvsadm -Ln\nIP Virtual Server")
    );
    // A broken link says so and starts a fresh cluster.
    fresh.goto(&format!("{web}?lang=en&s=%%%")).await.unwrap();
    let problem = element(&fresh, "#scenario-error", "a broken link is reported")
        .await
        .text()
        .await
        .unwrap();
    assert!(problem.contains("not valid base64url"), "{problem}");
    assert_eq!(text(&fresh, "#replicas").await, "–");

    // A guided lab: lab 01 starts failing (its Service's selector has a typo), says why, and
    // passes once its solution is applied, graded live on the page's cluster.
    element(
        &fresh,
        "#lab-start",
        "the labs are parsed after the first render",
    )
    .await;
    click(&fresh, "#lab-start").await;
    let status = wait_text(&fresh, "#lab-status", |t| t.contains(" / ")).await;
    let (passed, total) = status.split_once(" / ").expect("n / m");
    assert!(
        passed.parse::<usize>().unwrap() < total.parse::<usize>().unwrap(),
        "{status}"
    );
    let failing = text(&fresh, "#lab-checks li.fail").await;
    assert!(failing.contains("likely cause"), "{failing}");
    click(&fresh, "#lab-solve").await;
    assert_eq!(
        wait_text(&fresh, "#lab-status", |t| t.contains("lab done")).await,
        "every check passes: lab done"
    );
    assert_eq!(wait_count(&fresh, "#lab-checks li.fail", 0).await, 0);

    // Every view has an embed (the book's live scenes), showing that view alone.
    for view in VIEWS {
        fresh
            .goto(&format!("{web}?lang=en&embed={view}"))
            .await
            .unwrap();
        element(
            &fresh,
            &format!("main.embed[data-embed='{view}'] section.{view}"),
            &format!("the {view} embed never rendered"),
        )
        .await;
        assert_eq!(
            fresh
                .find_all(Locator::Css("main section"))
                .await
                .unwrap()
                .len(),
            1,
            "the {view} embed shows one view"
        );
    }
    fresh.close().await.unwrap();

    scale_view_measures_in_a_worker(driver_port, &web).await;
    drop(sim);
}

/// The scale view: 1 / 5,000 / 20,000 Services in every mode, measured by lab-core in a web
/// worker. The page stays usable meanwhile (the chapter applies and renders, and no main-thread
/// task blocks it for long), then the charts and the table hold the nine measurements, with
/// the exact rule counts and rules traversed `lab_core::scale::measure` gives natively.
async fn scale_view_measures_in_a_worker(driver_port: u16, web: &str) {
    let c = connect(driver_port, 1200, 1000).await;
    c.goto(&format!("{web}?lang=en")).await.unwrap();
    element(&c, "#scale-run", "the scale view never rendered").await;
    // Main-thread tasks over 50 ms, from now on.
    watch_long_tasks(&c).await;
    click(&c, "#scale-run").await;
    // The heaviest part: 20,000 Services (the smaller sizes take seconds).
    let status = poll(
        Duration::from_secs(120),
        Duration::from_millis(50),
        async || {
            let t = text(&c, "#scale-status").await;
            (t.contains("20,000 Services"), t)
        },
    )
    .await;
    assert!(
        status.contains("20,000 Services"),
        "the worker never reached 20,000 Services: {status}"
    );
    // While the worker syncs 20,000 Services the page answers: the chapter applies and its
    // pods render.
    click(&c, "#apply").await;
    assert_eq!(
        wait_count(&c, "g.pod.ready[data-name^='httpd-']", 3).await,
        3,
        "the page kept working during the measurement"
    );
    let running = c
        .find(Locator::Css("#scale-status"))
        .await
        .unwrap()
        .attr("data-running")
        .await
        .unwrap();
    assert_eq!(
        running.as_deref(),
        Some("true"),
        "still measuring meanwhile"
    );
    // The whole measurement (minutes on a loaded 2-core machine at most), or a failure.
    let (running, done) = poll(
        Duration::from_secs(300),
        Duration::from_millis(50),
        async || {
            let status = c.find(Locator::Css("#scale-status")).await.unwrap();
            let running = status.attr("data-running").await.unwrap();
            let done = status.attr("data-done").await.unwrap();
            (running.as_deref() == Some("false"), (running, done))
        },
    )
    .await;
    assert_eq!(
        running.as_deref(),
        Some("false"),
        "the scale view did not finish: {done:?}"
    );
    assert!(
        c.find_all(Locator::Css("#scale-error"))
            .await
            .unwrap()
            .is_empty(),
        "{}",
        text(&c, "#scale").await
    );
    assert_eq!(done.as_deref(), Some("9"), "nine measurements");
    for chart in ["rules", "traversed", "full-sync", "change"] {
        assert_eq!(
            wait_count(&c, &format!("#scale-chart-{chart} g.bar"), 9).await,
            9,
            "{chart}"
        );
    }
    // Exact counts: rules on the node and rules one packet traverses, per mode and size.
    let table = text(&c, "#scale-table").await;
    for row in [
        "rules on kind-worker, iptables 26 85,009 340,009",
        "rules on kind-worker, IPVS 6 30,000 120,000",
        "rules on kind-worker, nftables 35 60,023 240,023",
        "rules a packet traverses, iptables 16 5,015 20,015",
        "rules a packet traverses, IPVS 17 17 17",
        "rules a packet traverses, nftables 15 15 15",
        "chapter: add one iptables rule 50 µs 11 min 5 h",
    ] {
        assert!(table.contains(row), "{row:?} not in\n{table}");
    }
    // No main-thread task came near a freeze (the worker did the work).
    let long = long_tasks(&c).await;
    let worst = long.iter().copied().fold(0.0, f64::max);
    assert!(
        worst < 500.0,
        "a {worst} ms task blocked the page: {long:?}"
    );

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let png = c
        .find(Locator::Css("section.scale"))
        .await
        .unwrap()
        .screenshot()
        .await
        .unwrap();
    std::fs::write(
        target.join("screenshots/playground-scale-measured.png"),
        &png,
    )
    .unwrap();
    c.close().await.unwrap();
}
