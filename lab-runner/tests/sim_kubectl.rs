//! `lab-runner sim` driven by the machine's real kubectl (`/usr/bin/kubectl`, the version
//! dispatcher: the sim's `/version` says v1.33.1, so it runs its bundled 1.33 client). Each test
//! has its own `SVCLAB_HOME` and kubectl cache folder (spec §0: /version and discovery are
//! cached on disk), and compares kubectl's stdout and stderr exactly where a real cluster's
//! wording is known. The chapter's own commands (get, describe, scale, exec, NodePort, DNS) and
//! its bad input are the transcripts in `tests/transcripts/` (`tests/transcripts.rs`).

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{DATA, KUBECTL, kubectl_output as kubectl};

const STARTUP: Duration = Duration::from_secs(30);

/// A running `lab-runner sim`, killed on drop if a test fails half-way.
struct Sim {
    child: Option<Child>,
    banner: String,
}

impl Sim {
    fn start(home: &Path) -> Sim {
        assert!(
            Path::new(KUBECTL).exists(),
            "these tests need the machine's kubectl at {KUBECTL} (see README: scripts/setup)"
        );
        let stderr = std::fs::File::create(home.join("sim.stderr")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
            .args(["sim", "--port", "0", "--dns-port", "0"])
            .env("SVCLAB_HOME", home)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting lab-runner sim");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        let deadline = Instant::now() + STARTUP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    banner.push_str(&line);
                    banner.push('\n');
                    if line.starts_with("export KUBECONFIG=") {
                        break;
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let err = std::fs::read_to_string(home.join("sim.stderr")).unwrap_or_default();
                    panic!("sim did not start ({e}); stdout:\n{banner}stderr:\n{err}");
                }
            }
        }
        Sim {
            child: Some(child),
            banner,
        }
    }

    /// SIGTERM, as systemd or `kill` sends it; the sim must exit by itself.
    fn stop(self) -> ExitStatus {
        self.stop_with("-TERM")
    }

    /// Stops with `signal` (`-TERM`, or `-INT` as Ctrl-C sends) and waits for the exit.
    fn stop_with(mut self, signal: &str) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("sim did not stop within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no chance to save anything at exit.
    fn kill9(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs kubectl and returns its stdout, failing on a non-zero exit.
fn ok(home: &Path, args: &[&str]) -> String {
    let out = kubectl(home, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "kubectl {args:?} failed ({}):\n{stdout}{stderr}",
        out.status
    );
    stdout
}

/// Runs kubectl expecting failure with exactly `stderr` and exit code 1.
fn fails(home: &Path, args: &[&str], stderr: &str) {
    let out = kubectl(home, args);
    assert_eq!(out.status.code(), Some(1), "kubectl {args:?}: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        stderr,
        "kubectl {args:?}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "kubectl {args:?}");
}

fn data(file: &str) -> String {
    format!("{DATA}/{file}")
}

/// The whitespace-separated words of each output line.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// Polls `kubectl get pods` until three httpd pods are `1/1 Running`; returns their names.
fn wait_for_three_running_pods(home: &Path) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = ok(home, &["get", "pods", "-l", "app=httpd"]);
        let running: Vec<String> = rows(&out)
            .into_iter()
            .skip(1)
            .filter(|r| {
                r.get(1).map(String::as_str) == Some("1/1")
                    && r.get(2).map(String::as_str) == Some("Running")
            })
            .map(|r| r[0].clone())
            .collect();
        if running.len() == 3 {
            return running;
        }
        assert!(
            Instant::now() < deadline,
            "pods never became Running:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn chapter_commands_with_the_real_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let sim = Sim::start(home);
    assert!(
        sim.banner
            .starts_with("svclab sim (fresh cluster): Kubernetes API on http://127.0.0.1:"),
        "{}",
        sim.banner
    );
    assert!(sim.banner.contains(&format!(
        "export KUBECONFIG={}\n",
        home.join("kubeconfig").display()
    )));
    let kubeconfig = std::fs::read_to_string(home.join("kubeconfig")).unwrap();
    assert!(
        kubeconfig.contains("current-context: svclab"),
        "{kubeconfig}"
    );

    let deployment = data("httpd-deployment.yaml");
    let service = data("httpd-service.yaml");
    assert_eq!(
        ok(home, &["create", "-f", &deployment]),
        "deployment.apps/httpd created\n"
    );
    assert_eq!(
        ok(home, &["create", "-f", &service]),
        "service/httpd-svc created\n"
    );

    let pods = wait_for_three_running_pods(home);
    assert!(pods.iter().all(|p| p.starts_with("httpd-")), "{pods:?}");
    let names = ok(home, &["get", "pods", "-l", "app=httpd", "-o", "name"]);
    assert_eq!(names.lines().count(), 3, "{names}");
    let everything = ok(home, &["get", "all"]);
    for name in [
        "pod/httpd-",
        "service/httpd-svc",
        "deployment.apps/httpd",
        "replicaset.apps/httpd-",
    ] {
        assert!(
            everything.lines().any(|l| l.starts_with(name)),
            "{name}:\n{everything}"
        );
    }
    // describe node lists the node's pods through the spec.nodeName field selector.
    let node = ok(home, &["describe", "node", "kind-worker"]);
    assert!(node.contains("Non-terminated Pods:"), "{node}");
    let all = ok(home, &["get", "svc", "-A"]);
    assert!(
        all.lines()
            .any(|l| l.starts_with("kube-system   kube-dns ")),
        "{all}"
    );

    fails(
        home,
        &["create", "-f", &service],
        &format!(
            "Error from server (AlreadyExists): error when creating \"{service}\": services \"httpd-svc\" already exists\n"
        ),
    );
    assert_eq!(
        ok(home, &["delete", "svc", "httpd-svc"]),
        "service \"httpd-svc\" deleted\n"
    );
    fails(
        home,
        &["get", "svc", "httpd-svc"],
        "Error from server (NotFound): services \"httpd-svc\" not found\n",
    );

    let bad = home.join("bad-svc.yaml");
    let text = std::fs::read_to_string(&service).unwrap();
    std::fs::write(
        &bad,
        text.replace("httpd-svc", "bad-svc")
            .replace("port: 8080", "port: 0"),
    )
    .unwrap();
    fails(
        home,
        &["create", "-f", bad.to_str().unwrap()],
        "The Service \"bad-svc\" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive\n",
    );
    let typo = home.join("typo-svc.yaml");
    std::fs::write(&typo, text.replace("selector:", "selectr:")).unwrap();
    fails(
        home,
        &["create", "-f", typo.to_str().unwrap()],
        &format!(
            "Error from server (BadRequest): error when creating \"{}\": Service in version \"v1\" cannot be handled as a Service: strict decoding error: unknown field \"spec.selectr\"\n",
            typo.display()
        ),
    );
    // Rejected requests stored nothing.
    fails(
        home,
        &["get", "svc", "bad-svc"],
        "Error from server (NotFound): services \"bad-svc\" not found\n",
    );
    assert!(sim.stop().success());
    let log = std::fs::read_to_string(home.join("sim.stderr")).unwrap();
    assert!(log.contains("svclab sim stopped; state saved in"), "{log}");
}

fn jsonpath(home: &Path, args: &[&str], path: &str) -> String {
    let mut all: Vec<&str> = args.to_vec();
    let expr = format!("jsonpath={path}");
    all.extend(["-o", &expr]);
    ok(home, &all)
}

#[test]
fn apply_scale_label_and_patch_with_the_real_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let sim = Sim::start(home);
    let deployment = data("httpd-deployment.yaml");
    let service = data("httpd-service.yaml");
    assert_eq!(
        ok(home, &["apply", "-f", &deployment]),
        "deployment.apps/httpd created\n"
    );
    assert_eq!(
        ok(home, &["apply", "-f", &service]),
        "service/httpd-svc created\n"
    );
    assert_eq!(
        ok(home, &["apply", "-f", &service]),
        "service/httpd-svc unchanged\n"
    );
    let ip = jsonpath(home, &["get", "svc", "httpd-svc"], "{.spec.clusterIP}");

    // Client-side apply of a change: a strategic merge patch deleting port 8080, adding 80.
    let port80 = home.join("svc-80.yaml");
    let text = std::fs::read_to_string(&service).unwrap();
    std::fs::write(&port80, text.replace("port: 8080", "port: 80")).unwrap();
    let port80 = port80.to_str().unwrap();
    // --dry-run=server and diff run the change on a copy: nothing is kept.
    assert_eq!(
        ok(home, &["apply", "--dry-run=server", "-f", port80]),
        "service/httpd-svc configured (server dry run)\n"
    );
    let diff = kubectl(home, &["diff", "-f", port80]);
    let text = String::from_utf8_lossy(&diff.stdout);
    assert_eq!(diff.status.code(), Some(1), "{diff:?}");
    assert!(
        text.contains("\n-  - port: 8080\n+  - port: 80\n"),
        "{text}"
    );
    assert!(!text.contains("resourceVersion"), "{text}");
    assert_eq!(
        jsonpath(home, &["get", "svc", "httpd-svc"], "{.spec.ports[0].port}"),
        "8080"
    );
    assert_eq!(
        ok(home, &["apply", "-f", port80]),
        "service/httpd-svc configured\n"
    );
    let svc = rows(&ok(home, &["get", "svc", "httpd-svc"]));
    assert_eq!(svc[1][1..5], ["ClusterIP", ip.as_str(), "<none>", "80/TCP"]);

    assert_eq!(
        ok(home, &["scale", "deployment", "httpd", "--replicas=5"]),
        "deployment.apps/httpd scaled\n"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let deploy = rows(&ok(home, &["get", "deployment", "httpd"]));
        if deploy[1][1] == "5/5" {
            assert_eq!(
                deploy[0],
                ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
            );
            assert_eq!(deploy[1][2..4], ["5", "5"]);
            break;
        }
        assert!(Instant::now() < deadline, "never 5/5: {deploy:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    assert_eq!(
        ok(home, &["label", "svc", "httpd-svc", "tier=web"]),
        "service/httpd-svc labeled\n"
    );
    let labelled = rows(&ok(
        home,
        &["get", "svc", "-l", "tier=web", "--show-labels"],
    ));
    assert_eq!(labelled.len(), 2, "{labelled:?}");
    assert_eq!(labelled[1].last().map(String::as_str), Some("tier=web"));
    assert_eq!(
        ok(
            home,
            &[
                "patch",
                "svc",
                "httpd-svc",
                "--type=json",
                "-p",
                r#"[{"op":"replace","path":"/spec/ports/0/port","value":81}]"#
            ]
        ),
        "service/httpd-svc patched\n"
    );
    assert_eq!(
        jsonpath(home, &["get", "svc", "httpd-svc"], "{.spec.ports[0].port}"),
        "81"
    );
    fails(
        home,
        &[
            "patch",
            "svc",
            "httpd-svc",
            "--type=merge",
            "-p",
            r#"{"spec":{"ports":[{"port":0,"targetPort":80}]}}"#,
        ],
        "The Service \"httpd-svc\" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive\n",
    );
    // kubectl edit: GET, the editor, then a PATCH of the difference.
    let out = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(home.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(home.join("kube-cache"))
        .args(["edit", "svc", "httpd-svc"])
        .env("KUBE_EDITOR", "sed -i s/tier:.web/tier:\\ edited/")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "service/httpd-svc edited\n",
        "{out:?}"
    );
    assert_eq!(
        jsonpath(
            home,
            &["get", "svc", "httpd-svc"],
            "{.metadata.labels.tier}"
        ),
        "edited"
    );

    assert_eq!(
        ok(
            home,
            &["run", "web", "--image=busybox:1.28", "--", "sleep", "3600"]
        ),
        "pod/web created\n"
    );
    assert_eq!(
        ok(
            home,
            &[
                "expose",
                "deployment",
                "httpd",
                "--name=httpd-np",
                "--type=NodePort",
                "--port=80"
            ]
        ),
        "service/httpd-np exposed\n"
    );
    let np = rows(&ok(home, &["get", "svc", "httpd-np"]));
    assert_eq!(np[1][1], "NodePort");
    assert!(
        np[1][4].starts_with("80:3") && np[1][4].ends_with("/TCP"),
        "{np:?}"
    );

    // Typed generators send protobuf bodies: Namespace and ConfigMap are decoded.
    assert_eq!(
        ok(home, &["create", "namespace", "lab"]),
        "namespace/lab created\n"
    );
    assert_eq!(
        ok(
            home,
            &[
                "create",
                "configmap",
                "cfg",
                "--from-literal=a=b",
                "-n",
                "lab"
            ]
        ),
        "configmap/cfg created\n"
    );
    assert_eq!(
        jsonpath(home, &["get", "cm", "cfg", "-n", "lab"], "{.data.a}"),
        "b"
    );
    fails(
        home,
        &["create", "namespace", "lab"],
        "Error from server (AlreadyExists): namespaces \"lab\" already exists\n",
    );
    // The deployment and service generators are tested in sim_create.rs; a kind the sim does
    // not serve gets a 404 for its protobuf body.
    let out = kubectl(home, &["create", "job", "j", "--image=busybox"]);
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (
            Some(1),
            "error: failed to create job: the server could not find the requested resource\n"
        )
    );

    let headless = data("headless-service.yaml");
    for _ in 0..2 {
        assert_eq!(
            ok(home, &["apply", "--server-side", "-f", &headless]),
            "service/headless-svc serverside-applied\n"
        );
    }
    assert_eq!(
        jsonpath(home, &["get", "svc", "headless-svc"], "{.spec.clusterIP}"),
        "None"
    );
    fails(
        home,
        &["scale", "deployment", "nosuch", "--replicas=2"],
        // kubectl 1.33 wraps the NotFound of its GET this way (the Status message is ours).
        "error: no objects passed to scale deployments.apps \"nosuch\" not found\n",
    );
    assert!(sim.stop().success());
}

/// The chapter's type changes by `kubectl apply` (a strategic merge patch that leaves the
/// defaulted and allocated fields of the old type in place): the apiserver wipes them
/// (`dropTypeDependentFields`) and releases the nodePort.
#[test]
fn changing_a_service_type_back_from_node_port_to_cluster_ip() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let sim = Sim::start(home);
    let (service, nodeport) = (
        data("httpd-service.yaml"),
        data("httpd-service-nodeport.yaml"),
    );
    assert_eq!(
        ok(home, &["apply", "-f", &service]),
        "service/httpd-svc created\n"
    );
    let ip = jsonpath(home, &["get", "svc", "httpd-svc"], "{.spec.clusterIP}");
    assert_eq!(
        ok(home, &["apply", "-f", &nodeport]),
        "service/httpd-svc configured\n"
    );
    assert_eq!(
        ok(home, &["apply", "-f", &service]),
        "service/httpd-svc configured\n"
    );
    let svc = rows(&ok(home, &["get", "svc", "httpd-svc"]));
    assert_eq!(
        svc[1][1..5],
        ["ClusterIP", ip.as_str(), "<none>", "8080/TCP"]
    );
    assert_eq!(
        jsonpath(
            home,
            &["get", "svc", "httpd-svc"],
            "{.spec.externalTrafficPolicy}|{.spec.ports[0].nodePort}"
        ),
        "|"
    );
    // The nodePort is free again: another Service can ask for it.
    let other = home.join("other.yaml");
    let text = std::fs::read_to_string(&nodeport).unwrap();
    std::fs::write(&other, text.replace("httpd-svc", "other-svc")).unwrap();
    assert_eq!(
        ok(home, &["apply", "-f", other.to_str().unwrap()]),
        "service/other-svc created\n"
    );
    // LoadBalancer and back, with `kubectl patch`.
    let patch = |ty: &str| {
        ok(
            home,
            &[
                "patch",
                "svc",
                "httpd-svc",
                "-p",
                &format!(r#"{{"spec":{{"type":"{ty}"}}}}"#),
            ],
        )
    };
    assert_eq!(patch("LoadBalancer"), "service/httpd-svc patched\n");
    assert_eq!(patch("NodePort"), "service/httpd-svc patched\n");
    assert_eq!(patch("ClusterIP"), "service/httpd-svc patched\n");
    // ClusterIP to headless is a change of the (immutable) clusterIP.
    let headless = home.join("headless.yaml");
    let text = std::fs::read_to_string(&service).unwrap();
    std::fs::write(
        &headless,
        text.replace("spec:\n", "spec:\n  clusterIP: None\n"),
    )
    .unwrap();
    fails(
        home,
        &["apply", "-f", headless.to_str().unwrap()],
        "The Service \"httpd-svc\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"None\"}: may not change once set\n",
    );
    assert!(sim.stop().success());
}

/// Every namespace has the root CA ConfigMap, a new one included, and it comes back when deleted.
#[test]
fn kube_root_ca_config_maps_with_the_real_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let sim = Sim::start(home);
    let names = |ns: &str| -> Vec<Vec<String>> {
        rows(&ok(home, &["get", "cm", "-n", ns]))
            .into_iter()
            .map(|r| r[..2].to_vec())
            .collect()
    };
    let root_ca = vec![
        vec!["NAME".to_string(), "DATA".to_string()],
        vec!["kube-root-ca.crt".to_string(), "1".to_string()],
    ];
    assert_eq!(names("default"), root_ca);
    assert_eq!(
        ok(home, &["create", "namespace", "lab"]),
        "namespace/lab created\n"
    );
    assert_eq!(names("lab"), root_ca);
    assert_eq!(
        ok(home, &["delete", "cm", "kube-root-ca.crt", "-n", "lab"]),
        "configmap \"kube-root-ca.crt\" deleted\n"
    );
    assert_eq!(names("lab"), root_ca);
    let ca = jsonpath(
        home,
        &["get", "cm", "kube-root-ca.crt", "-n", "lab"],
        "{.data.ca\\.crt}",
    );
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----\n"), "{ca}");
    let public = names("kube-public");
    assert_eq!(public[1], ["cluster-info", "2"]);
    assert!(sim.stop().success());
}

/// Lines of a running command's stdout, as they arrive.
fn line_reader(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line starting with the words `first`; returns all its words.
fn next_row(lines: &mpsc::Receiver<String>, first: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no {first:?} row: {e}"));
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        if words.len() >= first.len() && words[..first.len()] == *first {
            return words;
        }
    }
}

#[test]
fn get_watch_streams_table_rows_until_the_server_stops() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let sim = Sim::start(home);
    let mut watcher = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(home.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(home.join("kube-cache-watch"))
        .args(["get", "svc", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = line_reader(&mut watcher);
    // The list comes first (a Table), then the events of the stream.
    next_row(&lines, &["EVENT", "NAME", "TYPE"]);
    next_row(&lines, &["ADDED", "kubernetes", "ClusterIP"]);
    ok(home, &["create", "-f", &data("httpd-service.yaml")]);
    let added = next_row(&lines, &["ADDED", "httpd-svc", "ClusterIP"]);
    assert_eq!(added[5], "8080/TCP");
    ok(home, &["label", "svc", "httpd-svc", "tier=web"]);
    next_row(&lines, &["MODIFIED", "httpd-svc"]);
    ok(home, &["delete", "svc", "httpd-svc"]);
    next_row(&lines, &["DELETED", "httpd-svc"]);
    // Stopping the server ends the stream; kubectl then exits 0 (spec §4).
    assert!(sim.stop().success());
    let status = watcher.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn state_survives_a_restart_and_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let home: PathBuf = dir.path().into();
    let sim = Sim::start(&home);
    ok(&home, &["create", "-f", &data("httpd-deployment.yaml")]);
    ok(&home, &["create", "-f", &data("httpd-service.yaml")]);
    let pods = wait_for_three_running_pods(&home);
    let svc_id = "{.spec.clusterIP} {.metadata.uid} {.metadata.creationTimestamp}";
    let before = jsonpath(&home, &["get", "svc", "httpd-svc"], svc_id);
    // Ctrl-C (SIGINT) stops it cleanly too.
    assert!(sim.stop_with("-INT").success());

    let sim = Sim::start(&home);
    assert!(
        sim.banner.starts_with("svclab sim (restored cluster)"),
        "{}",
        sim.banner
    );
    assert_eq!(
        jsonpath(&home, &["get", "svc", "httpd-svc"], svc_id),
        before
    );
    assert_eq!(wait_for_three_running_pods(&home), pods);

    // A change acknowledged to kubectl is on disk before the answer: SIGKILL loses nothing.
    let headless = data("headless-service.yaml");
    let created = ok(&home, &["create", "-f", &headless]);
    let name = created.trim().strip_suffix(" created").unwrap().to_string();
    sim.kill9();
    let sim = Sim::start(&home);
    assert_eq!(
        ok(&home, &["get", &name, "-o", "name"]),
        format!("{name}\n")
    );
    assert_eq!(
        jsonpath(&home, &["get", "svc", "httpd-svc"], svc_id),
        before
    );
    assert!(sim.stop().success());
}

/// Runs `lab-runner sim` expecting it to refuse to start; returns its stderr.
fn refuses_to_start(home: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
        .arg("sim")
        .args(args)
        .env("SVCLAB_HOME", home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_taken_port_or_a_damaged_state_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let err = refuses_to_start(home, &["--port", &port, "--dns-port", "0"]);
    assert!(
        err.starts_with(&format!("error: binding TCP 127.0.0.1:{port}: ")),
        "{err}"
    );
    assert!(!home.join("kubeconfig").exists());

    // A state file that does not load may hold a learner's work: never replaced by a fresh one.
    std::fs::write(home.join("state.json"), "{\"version\":1").unwrap();
    let err = refuses_to_start(home, &["--port", "0", "--dns-port", "0"]);
    assert!(
        err.starts_with(&format!(
            "error: reading {}",
            home.join("state.json").display()
        )),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(home.join("state.json")).unwrap(),
        "{\"version\":1"
    );
}

#[test]
fn an_oversized_body_is_a_413_status_and_the_server_keeps_serving() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let sim = Sim::start(home);
    let port: u16 = sim
        .banner
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.lines().next())
        .and_then(|p| p.parse().ok())
        .expect("API port in the banner");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let size = 4 * 1024 * 1024;
    let head = format!(
        "POST /api/v1/namespaces/default/services HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before reading it all; a failed write is expected then.
    let _ = conn.write_all(&vec![b' '; size]);
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"reason\":\"RequestEntityTooLarge\""),
        "{answer}"
    );
    assert!(
        answer.contains("Request entity too large: limit is 3145728"),
        "{answer}"
    );
    assert!(ok(home, &["get", "svc"]).contains("kubernetes"));
    assert!(sim.stop().success());
}
