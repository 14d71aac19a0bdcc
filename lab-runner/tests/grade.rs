//! The grader (`lab-runner list|show|check|hint`) against running sims, through the kube-rs
//! path it uses on kind: every lab in labs/ fails from its manifests and passes with its
//! solution applied by the real kubectl; every probe kind (an exec in the probe pod, a node's
//! rules, a request to a nodePort listener) runs for real; `--format json` validates against
//! docs/lab-report.schema.json and `--format junit` is read by a real JUnit consumer
//! (python3-junitparser); exit codes 0/1/2; the probe pod only on the sim (by /svclab/v1/info, not by
//! context name) or kind-* unless --allow-context.

mod support;

use serde_json::Value;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{
    DATA, Sim, api_port, apply_dir, free_offset, kubeconfig, kubectl, kubectl_output, line_reader,
    not_the_sim, settle, unused_port,
};

const LABS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../labs");
const SCHEMA: &str = include_str!("../../docs/lab-report.schema.json");

/// `lab-runner ARGS…` for the sim in `home`, in English, without colour.
fn grader(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lab-runner"));
    command
        .args(args)
        .env("SVCLAB_HOME", home)
        .env("NO_COLOR", "1")
        .env("LANG", "en_US.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("SVCLAB_LABS")
        .env_remove("KUBECONFIG");
    command
}

fn lab_runner(home: &Path, args: &[&str]) -> Output {
    grader(home, args).output().expect("running lab-runner")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `(exit code, stdout, stderr)`.
fn result(out: &Output) -> (Option<i32>, String, String) {
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// `lab-runner check … --format json`: the exit code and the report, validated against the
/// schema.
fn check_json(home: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let out = lab_runner(home, &all);
    let (code, stdout, stderr) = result(&out);
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"));
    assert_valid(&report);
    (code, report, stderr)
}

/// What docs/lab-report.schema.json finds wrong with a document.
fn schema_errors(document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn assert_valid(report: &Value) {
    let errors = schema_errors(report);
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
    let checks = report["checks"].as_array().unwrap();
    let count = |s: &str| checks.iter().filter(|c| c["status"] == s).count() as u64;
    assert_eq!(report["passed"], count("pass"));
    assert_eq!(report["failed"], count("fail"));
    assert_eq!(report["errors"], count("error"));
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn check_of<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// A real JUnit consumer: Debian's `python3-junitparser` (the library CI report tools use to read
/// JUnit files; scripts/setup installs it), checking what JUnit readers rely on: suites whose
/// tests/failures/errors counts match their testcases, testcases with classname and name, and
/// failures/errors with a type, a message and a text. Prints each testcase as
/// `status\tname\tmessage`.
const JUNIT_READER: &str = r#"
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromstring(sys.stdin.buffer.read())
assert isinstance(xml, JUnitXml), type(xml)
suites = list(xml)
assert suites, "no testsuite"
total = 0
for suite in suites:
    cases = list(suite)
    assert suite.name, "a testsuite without a name"
    kinds = [[type(r) for r in c.result] for c in cases]
    assert suite.tests == len(cases), (suite.tests, len(cases))
    assert suite.failures == sum(Failure in k for k in kinds)
    assert suite.errors == sum(Error in k for k in kinds)
    for p in suite.properties():
        assert p.name and p.value is not None
    for c in cases:
        assert c.classname == suite.name and c.name, (c.classname, c.name)
        status, message = "pass", ""
        for r in c.result:
            assert isinstance(r, (Failure, Error, Skipped)), r
            if isinstance(r, (Failure, Error)):
                status = "failure" if isinstance(r, Failure) else "error"
                message = r.message
                assert message and r.text and r.type, (r.message, r.type)
        print(status + "\t" + c.name + "\t" + message.replace("\n", " | "))
    total += len(cases)
assert xml.tests == total, (xml.tests, total)
"#;

/// The JUnit document read back: (status, testcase name, failure message) per testcase.
fn read_junit(xml: &str) -> Vec<(String, String, String)> {
    // Debian's python, whose dist-packages hold junitparser (a pyenv python may come first in PATH).
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", JUNIT_READER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with python3-junitparser (scripts/setup installs them)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "JUnit rejected: {out:?}\n{xml}");
    text(&out.stdout)
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, '\t').map(str::to_string);
            (
                f.next().unwrap(),
                f.next().unwrap_or_default(),
                f.next().unwrap_or_default(),
            )
        })
        .collect()
}

/// The JUnit output agrees with the JSON report check by check.
fn assert_junit_matches(home: &Path, args: &[&str], report: &Value) {
    let mut all = vec!["check", "--format", "junit"];
    all.extend_from_slice(args);
    let out = lab_runner(home, &all);
    let cases = read_junit(&text(&out.stdout));
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(cases.len(), checks.len(), "{cases:?}");
    for ((status, name, message), c) in cases.iter().zip(checks) {
        let want = match c["status"].as_str().unwrap() {
            "pass" => "pass",
            "fail" => "failure",
            _ => "error",
        };
        assert_eq!(status, want, "{name}: {message}");
        assert!(
            name.starts_with(&format!("{}: ", c["id"].as_str().unwrap())),
            "{name}"
        );
        if want != "pass" {
            assert!(
                message.starts_with(&format!(
                    "expected: {}",
                    c["expected"]["en"].as_str().unwrap()
                )),
                "{message}"
            );
        }
    }
}

/// Checks until every check passes (60 s at most): controllers and kubelets take a moment.
fn until_passes(home: &Path, args: &[&str]) -> Value {
    until_passes_but(home, args, &[])
}

/// The same, but the checks in `exempt` may still fail.
fn until_passes_but(home: &Path, args: &[&str], exempt: &[String]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, report, stderr) = check_json(home, args);
        let others_pass = statuses(&report)
            .iter()
            .all(|(id, status)| status == "pass" || exempt.contains(id));
        if code == Some(0) || (code == Some(1) && others_pass) {
            return report;
        }
        if Instant::now() > deadline {
            let mut t = vec!["check"];
            t.extend_from_slice(args);
            let shown = text(&lab_runner(home, &t).stdout);
            panic!("never passed (exit {code:?}): {stderr}\n{shown}");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// One lab of labs/ on a fresh sim: its manifests fail at least one check, its solution passes
/// them all; the error, if any.
fn lab_round_trip(dir: &Path) -> Result<(), String> {
    let id = dir.file_name().unwrap().to_str().unwrap().to_string();
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    let offset = free_offset().to_string();
    let _sim = Sim::start(home, &["--nodeport-offset", &offset]);
    let labs = dir.parent().unwrap().to_str().unwrap().to_string();
    let args = [id.as_str(), "--labs", labs.as_str()];
    apply_dir(home, &dir.join("manifests"));
    settle(home);
    let (code, report, stderr) = check_json(home, &args);
    let failed = report["failed"].as_u64().unwrap_or(0);
    if code != Some(1) || failed == 0 {
        return Err(format!(
            "{id}: the starting state should fail a check (exit 1), got exit {code:?}: {stderr}\n{:?}",
            statuses(&report)
        ));
    }
    assert_junit_matches(home, &args, &report);
    apply_dir(home, &dir.join("solution"));
    settle(home);
    // The sim has no API for a lab's own upstream DNS names (they are cluster data): a lab
    // that declares some could not pass there, so none may.
    let yaml = std::fs::read_to_string(dir.join("lab.yaml")).unwrap();
    let lab = lab_core::lab::Lab::from_yaml(&yaml).unwrap();
    assert!(
        lab.cluster.upstream.is_empty(),
        "{id}: cluster.upstream cannot be installed on the sim; use names its default upstream has (www.example.com)"
    );
    let report = until_passes_but(home, &args, &[]);
    assert_junit_matches(home, &args, &report);
    Ok(())
}

#[test]
fn every_lab_fails_from_its_manifests_and_passes_with_its_solution() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(LABS)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("lab.yaml").is_file())
        .collect();
    dirs.sort();
    let mut graded = Vec::new();
    for dir in &dirs {
        let yaml = std::fs::read_to_string(dir.join("lab.yaml")).unwrap();
        let lab = lab_core::lab::Lab::from_yaml(&yaml)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        if !lab.checks.is_empty() {
            graded.push(dir.clone());
        }
    }
    assert!(
        graded.iter().any(|d| d.ends_with("01-clusterip")),
        "labs/01-clusterip has checks: {graded:?}"
    );
    // Each lab on its own sim, two at a time (a 2-core machine).
    let mut errors = Vec::new();
    for pair in graded.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .cloned()
            .map(|d| std::thread::spawn(move || lab_round_trip(&d)))
            .collect();
        for h in handles {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(panic) => errors.push(
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "a lab's test panicked".into()),
                ),
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}

/// The chapter's Deployment and NodePort Service, from lab-core's test data.
fn chapter_manifests() -> (String, String) {
    let read = |f: &str| std::fs::read_to_string(Path::new(DATA).join(f)).unwrap();
    (
        read("httpd-deployment.yaml"),
        read("httpd-service-nodeport.yaml"),
    )
}

/// A lab of every probe kind (the grader's own fixture, so it does not follow labs/ edits).
const ALL_KINDS: &str = r#"id: 90-all-kinds
title: {zh-CN: 评分器自测, en: Grader self-test}
hints:
- {zh-CN: 对比 selector 和 Pod 的标签, en: compare the selector with the Pods' labels}
checks:
- id: deployment
  title: {zh-CN: 三个副本就绪, en: three replicas ready}
  object: {kind: deploy, name: httpd, fields: {status.readyReplicas: 3}}
- id: selector
  title: {zh-CN: selector 是 app=httpd, en: the selector is app=httpd}
  hint: {zh-CN: 改正 selector, en: fix the selector's typo}
  object: {kind: svc, name: httpd-svc, fields: {"spec.selector[app]": httpd, spec.type: NodePort}}
- id: endpoints
  title: {zh-CN: 三个端点, en: three endpoints}
  endpoints: {service: httpd-svc, ready: 3, port: 80}
- id: dns
  title: {zh-CN: 域名, en: the name resolves}
  dns: {from: probe, name: httpd-svc, expect: {service: httpd-svc}}
- id: http
  title: {zh-CN: 集群内访问, en: reached from a pod}
  http: {from: probe, service: httpd-svc, port: 8080, tries: 6, expect: {distinctBackends: 2}}
- id: nodeport
  title: {zh-CN: 集群外访问, en: reached from outside}
  http: {from: external, service: httpd-svc, nodePort: 30144}
- id: rules
  title: {zh-CN: kube-proxy 规则, en: kube-proxy rules}
  proxy: {service: httpd-svc}
"#;

/// Only the probe pod (for clusters the grader does not know as the sim).
const PROBE_ONLY: &str = r#"id: 91-probe-only
title: {zh-CN: 探测 Pod, en: The probe pod}
checks:
- id: http
  title: {zh-CN: 集群内访问, en: reached from a pod}
  http: {from: probe, service: httpd-svc, port: 8080}
"#;

/// Only a node's rules (docker exec off the sim).
const NODE_ONLY: &str = r#"id: 92-node-only
title: {zh-CN: 节点规则, en: A node's rules}
checks:
- id: rules
  title: {zh-CN: kube-proxy 规则, en: kube-proxy rules}
  proxy: {service: httpd-svc, node: kind-worker}
"#;

/// The fixture labs folder: each lab with the selector typo in manifests/, fixed in solution/.
fn fixture_labs() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for yaml in [ALL_KINDS, PROBE_ONLY, NODE_ONLY] {
        let id = yaml.lines().next().unwrap().trim_start_matches("id: ");
        let dir = root.path().join(id);
        let (deployment, service) = chapter_manifests();
        for (sub, selector) in [("manifests", "app: htpd"), ("solution", "app: httpd")] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::write(dir.join(sub).join("httpd.yaml"), &deployment).unwrap();
            std::fs::write(
                dir.join(sub).join("httpd-svc.yaml"),
                service.replace("app: httpd", selector),
            )
            .unwrap();
        }
        std::fs::write(dir.join("lab.yaml"), yaml).unwrap();
    }
    root
}

/// The fixture labs and a fresh sim with one lab's `manifests` or `solution` applied.
struct Fixture {
    // Dropped first: the sim stops before its folder goes.
    _sim: Sim,
    home_dir: tempfile::TempDir,
    labs_dir: tempfile::TempDir,
}

impl Fixture {
    fn new(lab: &str, sub: &str) -> Fixture {
        let labs_dir = fixture_labs();
        let home_dir = tempfile::tempdir().unwrap();
        let offset = free_offset().to_string();
        let sim = Sim::start(home_dir.path(), &["--nodeport-offset", &offset]);
        apply_dir(home_dir.path(), &labs_dir.path().join(lab).join(sub));
        settle(home_dir.path());
        Fixture {
            _sim: sim,
            home_dir,
            labs_dir,
        }
    }

    fn home(&self) -> &Path {
        self.home_dir.path()
    }

    fn labs(&self) -> &str {
        self.labs_dir.path().to_str().unwrap()
    }
}

#[test]
fn every_probe_kind_through_the_sim_with_text_json_and_junit() {
    // The starting state: the Service selects no pod.
    let f = Fixture::new("90-all-kinds", "manifests");
    let (home, labs) = (f.home(), f.labs());
    let args = ["90-all-kinds", "--labs", labs];
    let out = lab_runner(home, &["check", "90", "--labs", labs]);
    let (code, stdout, stderr) = result(&out);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let port = api_port(home);
    assert!(
        stdout.starts_with(&format!(
            "90-all-kinds: Grader self-test\ncontext svclab (http://127.0.0.1:{port}/, the svclab sim)\n\n  ✓ deployment  three replicas ready\n  ✗ selector    the selector is app=httpd\n      expected: Service default/httpd-svc: spec.selector[app] = httpd, spec.type = NodePort\n      found:    spec.selector[app] = htpd\n      cause:    selector app=htpd matches no pod; pods are labelled app=httpd\n  ✗ endpoints   three endpoints\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ✓ dns         the name resolves\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ✗ http        reached from a pod\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ✗ nodeport    reached from outside\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("Stuck? lab-runner hint 90-all-kinds selector\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("fix the selector's typo"),
        "hints only on request: {stdout}"
    );
    assert!(
        !stdout.contains('\x1b'),
        "NO_COLOR and not a terminal: {stdout:?}"
    );
    let (code, report, _) = check_json(home, &args);
    assert_eq!(code, Some(1));
    assert_eq!(
        statuses(&report),
        [
            ("deployment", "pass"),
            ("selector", "fail"),
            ("endpoints", "fail"),
            ("dns", "pass"),
            ("http", "fail"),
            ("nodeport", "fail"),
            // No endpoints, and no rules sending anywhere: as the Service says.
            ("rules", "pass"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(report["schema"], "svclab.dev/lab-report/v1");
    // The schema is no rubber stamp.
    for (path, bad) in [
        ("/schema", serde_json::json!("svclab.dev/lab-report/v2")),
        ("/checks/0/status", serde_json::json!("maybe")),
        ("/checks/0/found", serde_json::json!({"en": "only English"})),
        ("/passed", serde_json::json!(-1)),
    ] {
        let mut doc = report.clone();
        *doc.pointer_mut(path).unwrap() = bad;
        assert!(!schema_errors(&doc).is_empty(), "{path} accepted");
    }
    let nodeport = check_of(&report, "nodeport");
    assert!(
        nodeport["found"]["en"]
            .as_str()
            .unwrap()
            .starts_with("0 of 1 requests got the page"),
        "{nodeport:#}"
    );
    assert_junit_matches(home, &args, &report);
    // The probe pod is the grader's: created once, labelled, and kept.
    let probe = kubectl(
        home,
        &[
            "get",
            "pod",
            "svclab-probe",
            "-o",
            "jsonpath={.metadata.labels}",
        ],
    );
    assert!(
        probe.contains("\"app.kubernetes.io/managed-by\":\"svclab\""),
        "{probe}"
    );

    // The solution: every probe kind passes, for real.
    apply_dir(home, &f.labs_dir.path().join("90-all-kinds/solution"));
    let report = until_passes(home, &args);
    let http = check_of(&report, "http")["found"]["en"].as_str().unwrap();
    assert!(
        http.starts_with("6 of 6 requests got the page, answered by httpd-"),
        "{http}"
    );
    let nodeport = check_of(&report, "nodeport")["found"]["en"]
        .as_str()
        .unwrap();
    assert!(
        nodeport.starts_with("1 of 1 requests got the page, answered by httpd-"),
        "{nodeport}"
    );
    let rules = check_of(&report, "rules")["found"]["en"].as_str().unwrap();
    assert!(rules.contains("kind-worker: KUBE-SVC-"), "{rules}");
    assert_junit_matches(home, &args, &report);
    let out = lab_runner(home, &["check", "90", "--labs", labs, "--lang", "zh"]);
    let (code, stdout, _) = result(&out);
    assert_eq!(code, Some(0));
    assert!(
        stdout.ends_with("████████████████████████ 7/7 通过\n全部检查通过，做得好！\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "\n上下文 svclab（http://127.0.0.1:{port}/，svclab 模拟集群）\n"
        )),
        "{stdout}"
    );

    // Offline commands.
    let out = lab_runner(home, &["hint", "90", "selector", "--labs", labs]);
    assert_eq!(
        result(&out),
        (
            Some(0),
            "selector: the selector is app=httpd\n  fix the selector's typo\n".into(),
            String::new()
        )
    );
    let out = lab_runner(home, &["hint", "90", "nosuch", "--labs", labs]);
    assert_eq!(out.status.code(), Some(2));
    let out = lab_runner(home, &["list", "--labs", labs]);
    assert_eq!(
        result(&out),
        (
            Some(0),
            "90-all-kinds   Grader self-test  (7 checks)\n91-probe-only  The probe pod  (1 check)\n92-node-only   A node's rules  (1 check)\n".into(),
            String::new()
        )
    );
    let out = lab_runner(home, &["show", "91", "--labs", labs, "--lang", "zh"]);
    assert_eq!(
        result(&out).1,
        "91-probe-only: 探测 Pod\n\n检查完成情况: lab-runner check 91-probe-only\n需要提示: lab-runner hint 91-probe-only\n"
    );
}

#[test]
fn could_not_check_exits_2_with_a_clear_message() {
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    let not_running = (
        Some(2),
        String::new(),
        "sim not running: run `lab-runner sim`\n".to_string(),
    );
    // No sim ever ran here.
    assert_eq!(
        result(&lab_runner(home, &["check", "01-clusterip"])),
        not_running
    );
    // A sim that is gone: its kubeconfig names a port nobody listens on.
    let gone = unused_port();
    std::fs::write(
        home.join("kubeconfig"),
        kubeconfig(&format!("http://127.0.0.1:{gone}"), "svclab"),
    )
    .unwrap();
    assert_eq!(
        result(&lab_runner(home, &["check", "01-clusterip"])),
        not_running
    );
    for format in ["json", "junit"] {
        let out = lab_runner(home, &["check", "01-clusterip", "--format", format]);
        assert_eq!(result(&out), not_running, "--format {format}");
    }
    // An unknown lab.
    let (code, stdout, stderr) = result(&lab_runner(home, &["check", "99-nosuch"]));
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert!(
        stderr.starts_with("error: unknown lab \"99-nosuch\" (labs: 01-clusterip, "),
        "{stderr}"
    );
    let out = lab_runner(home, &["show", "99-nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    // An unknown context.
    let out = lab_runner(
        home,
        &[
            "check",
            "01-clusterip",
            "--kubeconfig",
            home.join("kubeconfig").to_str().unwrap(),
            "--context",
            "kind-typo",
        ],
    );
    assert_eq!(
        result(&out),
        (
            Some(2),
            String::new(),
            "error: context \"kind-typo\" not found in the kubeconfig (contexts: svclab)\n"
                .to_string()
        )
    );
    // A cluster that cannot be reached at all (a kind cluster that is stopped).
    let kind = home.join("kind-kubeconfig");
    std::fs::write(
        &kind,
        kubeconfig(&format!("https://127.0.0.1:{gone}"), "kind-kind"),
    )
    .unwrap();
    let (code, _, stderr) = result(&lab_runner(
        home,
        &[
            "check",
            "01-clusterip",
            "--kubeconfig",
            kind.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(&format!(
            "error: cannot reach the cluster at https://127.0.0.1:{gone}/: "
        )),
        "{stderr}"
    );
}

/// `lab-runner check 91` (the fixture lab of the probe pod) through another kubeconfig.
fn check_through(home: &Path, labs: &str, kubeconfig: &Path) -> Output {
    let path = kubeconfig.to_str().unwrap();
    lab_runner(home, &["check", "91", "--labs", labs, "--kubeconfig", path])
}

fn probe_pod_exists(home: &Path) -> bool {
    let out = kubectl_output(home, &["get", "pod", "svclab-probe", "-o", "name"]);
    out.status.success()
}

#[test]
fn the_probe_pod_only_on_the_sim_or_kind_unless_allowed() {
    let f = Fixture::new("91-probe-only", "solution");
    let (home, labs) = (f.home(), f.labs());

    // The same cluster behind an API that does not answer /svclab/v1/info: not the sim.
    let proxy = format!("http://127.0.0.1:{}", not_the_sim(api_port(home), None));
    let prod = home.join("prod-kubeconfig");
    std::fs::write(&prod, kubeconfig(&proxy, "prod-eu")).unwrap();
    let prod = prod.to_str().unwrap();
    let args = ["91", "--labs", labs, "--kubeconfig", prod];
    let (code, report, stderr) = check_json(home, &args);
    assert_eq!(code, Some(2), "{report:#}");
    let http = check_of(&report, "http");
    assert_eq!(http["status"], "error");
    let refusal = "context \"prod-eu\" is neither the svclab sim nor a kind-* cluster: the grader creates its probe pod default/svclab-probe there only with --allow-context";
    assert_eq!(http["found"]["en"], refusal);
    assert_eq!(stderr, format!("note: {refusal}\n"));
    assert!(!probe_pod_exists(home), "nothing was created");
    let out = lab_runner(home, &["check", "91", "--labs", labs, "--kubeconfig", prod]);
    let (code, stdout, _) = result(&out);
    assert_eq!(code, Some(2));
    assert!(
        stdout.starts_with(&format!(
            "91-probe-only: The probe pod\ncontext prod-eu ({proxy}/)\n\n  ! http  reached from a pod\n      could not check: {refusal}\n"
        )),
        "{stdout}"
    );

    // Nor does it reset or solve a lab there without --force.
    let out = lab_runner(home, &["reset", "91", "--labs", labs, "--kubeconfig", prod]);
    assert_eq!(
        result(&out),
        (
            Some(2),
            String::new(),
            "error: context \"prod-eu\" is not the svclab sim: `reset` changes the cluster's objects there only with --force\n".into()
        )
    );

    // Allowed: created through that API, waited for, and used.
    let mut allowed = args.to_vec();
    allowed.push("--allow-context");
    let (code, report, _) = check_json(home, &allowed);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(probe_pod_exists(home));

    // A kind-* context needs no flag (the test removes the probe pod; the grader never does).
    kubectl(home, &["delete", "pod", "svclab-probe", "--wait=false"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe_pod_exists(home) {
        assert!(Instant::now() < deadline, "the probe pod was never deleted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let kind = home.join("kind-kubeconfig");
    std::fs::write(&kind, kubeconfig(&proxy, "kind-kind")).unwrap();
    let (code, report, _) = check_json(
        home,
        &["91", "--labs", labs, "--kubeconfig", kind.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{report:#}");
    assert!(probe_pod_exists(home));

    // Off the sim, a node's rules are `docker exec NODE …`: without Docker (or without the
    // kind node's container) the check could not be made, and says so.
    let (code, report, _) = check_json(
        home,
        &["92", "--labs", labs, "--kubeconfig", kind.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{report:#}");
    let rules = check_of(&report, "rules");
    assert_eq!(rules["status"], "error");
    let found = rules["found"]["en"].as_str().unwrap();
    assert!(
        found.starts_with("kind-worker: docker exec kind-worker: ")
            || found.starts_with("kind-worker: docker is not installed"),
        "{found}"
    );

    // RBAC forbidding a read: could not check, and which read.
    let rbac = format!(
        "http://127.0.0.1:{}",
        not_the_sim(api_port(home), Some("/api/v1/configmaps"))
    );
    let locked = home.join("locked-kubeconfig");
    std::fs::write(&locked, kubeconfig(&rbac, "kind-kind")).unwrap();
    let out = check_through(home, labs, &locked);
    assert_eq!(
        result(&out),
        (
            Some(2),
            String::new(),
            "error: RBAC forbids the grader to list configmaps in context \"kind-kind\" (it reads every kind it grades): configmaps is forbidden: User \"learner\" cannot list resource \"configmaps\" in API group \"\" at the cluster scope\n".into()
        )
    );

    // A second sim under a context not called kind-*: the sim all the same (by
    // /svclab/v1/info), so its probe pod is created there, and only there.
    let second_dir = tempfile::tempdir().unwrap();
    let second = second_dir.path();
    let _sim2 = Sim::start(second, &["--nodeport-offset", &free_offset().to_string()]);
    apply_dir(second, &f.labs_dir.path().join("91-probe-only/solution"));
    settle(second);
    let staging = second.join("staging-kubeconfig");
    let server = format!("http://127.0.0.1:{}", api_port(second));
    std::fs::write(&staging, kubeconfig(&server, "staging")).unwrap();
    let out = check_through(home, labs, &staging);
    let (code, stdout, stderr) = result(&out);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "91-probe-only: The probe pod\ncontext staging ({server}/, the svclab sim)\n"
        )),
        "{stdout}"
    );
    assert!(probe_pod_exists(second));
}

#[test]
fn reset_and_solve_on_the_sim() {
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    let _sim = Sim::start(home, &["--nodeport-offset", &free_offset().to_string()]);
    // Lab 05 ends in IPVS mode (its solution edits ConfigMap kube-system/kube-proxy).
    let out = lab_runner(home, &["reset", "05-kube-proxy"]);
    assert_eq!(
        result(&out),
        (
            Some(0),
            "deployment.apps/httpd serverside-applied\nservice/httpd-svc serverside-applied\n"
                .into(),
            String::new()
        )
    );
    settle(home);
    let (code, _, _) = check_json(home, &["05-kube-proxy"]);
    assert_eq!(code, Some(1));
    let out = lab_runner(home, &["solve", "05-kube-proxy"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    until_passes(home, &["05-kube-proxy"]);
    let get_conf = "-n kube-system get configmap kube-proxy -o jsonpath={.data.config\\.conf}";
    let mode = || kubectl(home, &get_conf.split(' ').collect::<Vec<_>>());
    assert!(mode().contains("mode: ipvs"), "{}", mode());
    // Reset: the lab's own objects go, kube-proxy is back to iptables, the manifests return.
    let out = lab_runner(home, &["reset", "05-kube-proxy"]);
    let (code, stdout, stderr) = result(&out);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.starts_with("service/httpd-svc deleted\ndeployment.apps/httpd deleted\nconfigmap/kube-proxy -n kube-system: kube-proxy's default configuration (mode: iptables)\n"),
        "{stdout}"
    );
    assert!(mode().contains("mode: iptables"), "{}", mode());
    settle(home);
    let (code, _, _) = check_json(home, &["05-kube-proxy"]);
    assert_eq!(code, Some(1));
    // The cluster's own objects survive.
    kubectl(home, &["-n", "kube-system", "get", "service", "kube-dns"]);
    kubectl(
        home,
        &["-n", "kube-system", "get", "configmap", "kube-proxy"],
    );
}

/// A running `lab-runner watch` and its stdout lines.
struct Watch {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Watch {
    fn start(home: &Path, args: &[&str]) -> Watch {
        let mut child = grader(home, &[&["watch"], args].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("lab-runner watch");
        let lines = line_reader(child.stdout.take().unwrap());
        Watch {
            child,
            lines,
            seen: String::new(),
        }
    }

    /// Reads lines until one equals `want` (60 s at most).
    fn until(&mut self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if line == want {
                        return;
                    }
                }
                Err(e) => panic!("no line {want:?} ({e}):\n{}", self.seen),
            }
        }
    }

    /// The exit code (60 s at most).
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "watch never ended:\n{}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_grades_again_on_every_change_until_all_pass() {
    let f = Fixture::new("91-probe-only", "manifests");
    let (home, labs) = (f.home(), f.labs());
    let waiting = "watching for changes (Ctrl-C to stop)…";

    // Ctrl-C: the last report's exit code.
    let mut w = Watch::start(home, &["91", "--labs", labs]);
    w.until(waiting);
    assert!(
        w.seen.contains("  ✗ http  reached from a pod\n"),
        "{}",
        w.seen
    );
    let pid = w.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(w.exit_code(), Some(1), "{}", w.seen);

    // A fix: graded again without being asked, and done.
    let mut w = Watch::start(home, &["91", "--labs", labs]);
    w.until(waiting);
    apply_dir(home, &f.labs_dir.path().join("91-probe-only/solution"));
    assert_eq!(w.exit_code(), Some(0), "{}", w.seen);
    assert!(
        w.seen.ends_with("  ✓ http  reached from a pod\n\n████████████████████████ 1/1 passed\nAll checks passed. Well done!\n"),
        "{}",
        w.seen
    );
}

#[test]
fn kind_clusters_for_the_labs_and_a_clear_message_without_kind() {
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    let args = [
        "cluster",
        "create",
        "--lab",
        "02-nodeport",
        "--print-config",
    ];
    let (code, config, _) = result(&lab_runner(home, &args));
    assert_eq!(code, Some(0));
    assert!(
        config.contains("- role: worker\n  extraPortMappings:\n  - containerPort: 30144\n    hostPort: 30144\n    listenAddress: \"127.0.0.1\"\n"),
        "{config}"
    );
    // Without kind on the PATH: said plainly, nothing written, nothing run.
    let empty = tempfile::tempdir().unwrap();
    for args in [&["cluster", "create"][..], &["cluster", "delete"]] {
        let out = grader(home, args)
            .env("PATH", empty.path())
            .output()
            .unwrap();
        let (code, stdout, stderr) = result(&out);
        assert_eq!((code, stdout.as_str()), (Some(2), ""), "{args:?}");
        assert!(
            stderr.starts_with(
                "error: kind is not installed: `cluster create|delete` wrap the kind CLI"
            ),
            "{stderr}"
        );
    }
    assert!(!home.join("kind-config.yaml").exists());
}

#[test]
fn the_junit_reader_rejects_counts_that_do_not_match() {
    let good = r#"<testsuites name="x" tests="2"><testsuite name="a" tests="2" failures="1" errors="0"><testcase classname="a" name="t1"/><testcase classname="a" name="t2"><failure message="m" type="t">x</failure></testcase></testsuite></testsuites>"#;
    assert_eq!(
        read_junit(good),
        [
            ("pass".to_string(), "t1".to_string(), String::new()),
            ("failure".to_string(), "t2".to_string(), "m".to_string())
        ]
    );
    let bad = good.replace(r#"failures="1""#, r#"failures="0""#);
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", JUNIT_READER])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(bad.as_bytes())
        .unwrap();
    assert!(
        !child.wait().unwrap().success(),
        "a wrong failures count must be rejected"
    );
}
