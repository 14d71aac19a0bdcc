//! Every lab in `labs/` proves itself, as rustlings' `dev check` does for its exercises: the
//! lab.yaml parses, every learner-facing text has both languages, every manifest parses, the
//! starting state fails at least one check and the solution passes them all — graded on a fresh
//! simulated kind cluster exactly as a front end grades it (snapshot, probes answered by the
//! cluster, evaluation).
//!
//! The order of one lab's run is the learner's: a fresh cluster with the lab's upstream names,
//! `kubectl apply -f manifests/` (files in name order), grade → something fails; then the
//! kube-proxy mode the lab ends in (edited into ConfigMap kube-system/kube-proxy, as the steps
//! tell the learner to do), `kubectl apply -f solution/`, grade → everything passes. The grader's
//! probe pod is created first when a check runs `from: probe`.

use lab_core::config::ProxyMode;
use lab_core::lab::{Lab, Report, Status, Text};
use lab_core::{Cluster, Kind, manifest};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The labs, in the course's order. A new lab folder must be added here (and a removed one
/// taken out): the list is the contract with the book and the runner's `list`.
const LABS: [&str; 6] = [
    "01-clusterip",
    "02-nodeport",
    "03-coredns",
    "04-headless",
    "05-kube-proxy",
    "06-practical",
];

fn labs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs")
}

/// The `.yaml`/`.yml` files of a folder, in name order (the order `kubectl apply -f DIR` uses).
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        })
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every learner-facing text of a lab, with where it is.
fn texts(lab: &Lab) -> Vec<(String, &Text)> {
    let mut out = vec![("title".to_string(), &lab.title)];
    let lists = [
        ("goals", &lab.goals),
        ("steps", &lab.steps),
        ("hints", &lab.hints),
    ];
    for (name, list) in lists {
        out.extend(
            list.iter()
                .enumerate()
                .map(|(i, t)| (format!("{name}[{i}]"), t)),
        );
    }
    for c in &lab.checks {
        out.push((format!("checks[{}].title", c.id), &c.title));
        if let Some(h) = &c.hint {
            out.push((format!("checks[{}].hint", c.id), h));
        }
    }
    out
}

/// Whether a text is really written in its language: the Chinese one has Han characters, the
/// English one none (a forgotten translation is usually a copy of the other).
fn language_problems(path: &str, t: &Text) -> Vec<String> {
    let han = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let mut out = Vec::new();
    if !han(&t.zh_cn) {
        out.push(format!("{path}.zh-CN has no Chinese: {:?}", t.zh_cn));
    }
    if han(&t.en) {
        out.push(format!("{path}.en is not English: {:?}", t.en));
    }
    out
}

/// Grades `lab` on `c` as a front end would.
fn grade(lab: &Lab, c: &Cluster) -> Report {
    lab.grade(c)
}

/// Every check that did not pass, one paragraph each.
fn describe(report: &Report, only_failures: bool) -> String {
    let mut out = String::new();
    for c in &report.checks {
        if only_failures && c.status == Status::Pass {
            continue;
        }
        let _ = writeln!(out, "  [{:?}] {} — {}", c.status, c.id, c.title.en);
        let _ = writeln!(out, "      expected: {}", c.expected.en);
        let _ = writeln!(out, "      found:    {}", c.found.en);
        if let Some(cause) = &c.cause {
            let _ = writeln!(out, "      cause:    {}", cause.en);
        }
    }
    out
}

/// The (file name, text) of each YAML file of `dir`, in name order.
fn folder(dir: &Path) -> Vec<(String, String)> {
    yaml_files(dir)
        .into_iter()
        .map(|f| {
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                read(&f),
            )
        })
        .collect()
}

/// Where the learner starts (`Lab::start` with the lab's `manifests/`).
fn started(lab: &Lab, dir: &Path) -> Result<Cluster, String> {
    let files = folder(&dir.join("manifests"));
    lab.start(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
}

/// What the learner does to finish (`Lab::solve` with the lab's `solution/`).
fn solve(lab: &Lab, dir: &Path, c: &mut Cluster) -> Result<(), String> {
    let files = folder(&dir.join("solution"));
    lab.solve(c, files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
}

/// One lab's self-check; the problems found, if any.
fn check_lab(id: &str) -> Vec<String> {
    let dir = labs_dir().join(id);
    let mut problems = Vec::new();
    let text = match std::fs::read_to_string(dir.join("lab.yaml")) {
        Ok(t) => t,
        Err(e) => return vec![format!("lab.yaml: {e}")],
    };
    let lab = match Lab::from_yaml(&text) {
        Ok(l) => l,
        Err(e) => return vec![e.to_string()],
    };
    if lab.id != id {
        problems.push(format!("id is {:?}, the folder is {id:?}", lab.id));
    }
    if lab.goals.is_empty() || lab.steps.is_empty() || lab.hints.is_empty() {
        problems.push("goals, steps and hints must each have at least one entry".into());
    }
    if lab.checks.is_empty() {
        problems.push("no checks".into());
    }
    for (path, t) in texts(&lab) {
        problems.extend(language_problems(&path, t));
    }
    for c in lab.checks.iter().filter(|c| c.hint.is_none()) {
        problems.push(format!("check {} has no hint", c.id));
    }
    for sub in ["manifests", "solution"] {
        if !dir.join(sub).is_dir() {
            problems.push(format!("no {sub}/ folder"));
            continue;
        }
        let files = yaml_files(&dir.join(sub));
        if files.is_empty() {
            problems.push(format!("{sub}/ has no manifest"));
        }
        for f in files {
            if let Err(e) = manifest::parse_manifests(&read(&f)) {
                problems.push(format!("{}: {e}", f.display()));
            }
        }
    }
    if !problems.is_empty() {
        return problems;
    }

    // SVCLAB_LABS_VERBOSE=1 prints both reports of every lab (for lab authors).
    let verbose = std::env::var_os("SVCLAB_LABS_VERBOSE").is_some();
    let mut c = match started(&lab, &dir) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let start = grade(&lab, &c);
    if verbose {
        eprintln!("labs/{id}, starting state:\n{}", describe(&start, false));
    }
    if start.failed == 0 {
        problems.push(format!(
            "the starting state (manifests/) passes every check; it must fail at least one:\n{}",
            describe(&start, false)
        ));
    }
    if start.errors > 0 {
        problems.push(format!(
            "checks could not be made in the starting state:\n{}",
            describe(&start, true)
        ));
    }

    if let Err(e) = solve(&lab, &dir, &mut c) {
        problems.push(e);
        return problems;
    }
    let end = grade(&lab, &c);
    if verbose {
        eprintln!("labs/{id}, with solution/:\n{}", describe(&end, false));
    }
    if !end.all_passed() {
        problems.push(format!(
            "with solution/ applied, {} check(s) did not pass:\n{}",
            end.failed + end.errors,
            describe(&end, true)
        ));
    }
    problems
}

#[test]
fn the_lab_folders_are_the_six_labs() {
    let mut found: Vec<String> = std::fs::read_dir(labs_dir())
        .expect("labs/")
        .map(|e| e.expect("a directory entry"))
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, LABS, "the folders in labs/");
}

#[test]
fn every_lab_fails_at_the_start_and_passes_with_its_solution() {
    let mut report = String::new();
    for id in LABS {
        let problems = check_lab(id);
        if !problems.is_empty() {
            let _ = writeln!(report, "labs/{id}:");
            for p in problems {
                let _ = writeln!(report, "- {p}");
            }
        }
    }
    assert!(report.is_empty(), "\n{report}");
}

/// `kubectl apply -f` of one edited file, then the cluster settles.
fn apply(c: &mut Cluster, text: &str) {
    c.apply_manifests(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    c.settle();
}

/// A lab solved, for the mistakes below.
fn solved(id: &str) -> (Lab, Cluster) {
    let dir = labs_dir().join(id);
    let lab = Lab::from_yaml(&read(&dir.join("lab.yaml"))).expect("lab.yaml parses");
    let mut c = started(&lab, &dir).expect("the starting state applies");
    solve(&lab, &dir, &mut c).expect("the solution applies");
    (lab, c)
}

/// A file of a lab with one change, as a learner might get it wrong.
fn edited(id: &str, file: &str, from: &str, to: &str) -> String {
    let text = read(&labs_dir().join(id).join(file));
    assert!(text.contains(from), "{id}/{file} has no {from:?}");
    text.replace(from, to)
}

/// `check` fails, and its cause (or what it found) says `says`.
fn fails_saying(lab: &Lab, c: &Cluster, check: &str, says: &str) {
    let r = grade(lab, c);
    let cr = r
        .check(check)
        .unwrap_or_else(|| panic!("{}: no check {check}", lab.id));
    let cause = cr.cause.as_ref().map(|t| t.en.as_str()).unwrap_or("");
    assert!(
        cr.status == Status::Fail && (cause.contains(says) || cr.found.en.contains(says)),
        "{}: {check} should fail saying {says:?}:\n{}",
        lab.id,
        describe(&r, true)
    );
}

/// The lessons' typical mistakes fail the check that teaches them, with a cause that points at
/// the mistake: the checks are not just "the solution's objects exist".
#[test]
fn typical_mistakes_fail_the_check_that_teaches_them() {
    // port vs targetPort: the Service forwards to a port nothing listens on.
    let (lab, mut c) = solved("01-clusterip");
    let svc = edited(
        "01-clusterip",
        "solution/httpd-service.yaml",
        "targetPort: 80",
        "targetPort: 8080",
    );
    apply(&mut c, &svc);
    fails_saying(&lab, &c, "reach-clusterip", "nothing listens on 8080");

    // A ClusterIP cannot become None in place (lab 04's hint): the apiserver refuses.
    let (_, mut c) = solved("01-clusterip");
    let err = c
        .apply_manifests(&svc.replace("spec:\n", "spec:\n  clusterIP: None\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("may not change once set"), "{err}");

    // The nodePort range, and a nodePort other than the one asked for.
    let (lab, mut c) = solved("02-nodeport");
    let out_of_range = edited(
        "02-nodeport",
        "solution/httpd-service.yaml",
        "30144",
        "40000",
    );
    let err = c.apply_manifests(&out_of_range).unwrap_err().to_string();
    assert!(err.contains("30000-32767"), "{err}");
    apply(
        &mut c,
        &edited(
            "02-nodeport",
            "solution/httpd-service.yaml",
            "30144",
            "30145",
        ),
    );
    fails_saying(&lab, &c, "reach-from-outside", "is 30145, not 30144");

    // Headless means clusterIP: None at creation; without it, DNS answers one ClusterIP.
    let (lab, mut c) = solved("04-headless");
    c.delete(Kind::Service, "default", "headless-svc").unwrap();
    apply(
        &mut c,
        &edited(
            "04-headless",
            "solution/headless-service.yaml",
            "  clusterIP: None\n",
            "",
        ),
    );
    fails_saying(&lab, &c, "dns-headless", "the answer is one ClusterIP");
    fails_saying(&lab, &c, "headless-spec", "spec.clusterIP = 10.96.");

    // Still iptables: the IPVS check names the ConfigMap to edit.
    let (lab, mut c) = solved("05-kube-proxy");
    lab_core::lab::set_proxy_mode(&mut c, ProxyMode::Iptables).unwrap();
    fails_saying(
        &lab,
        &c,
        "ipvs-virtual-server",
        "ConfigMap kube-system/kube-proxy",
    );

    // The practical task: a selector of app=shop alone picks the other tiers too, and
    // Services written without namespace: shop land in default.
    let (lab, mut c) = solved("06-practical");
    apply(
        &mut c,
        &edited(
            "06-practical",
            "solution/api-services.yaml",
            "    app: shop\n    tier: api\n  ports:\n  - name: http\n    protocol: TCP\n    port: 8080",
            "    app: shop\n  ports:\n  - name: http\n    protocol: TCP\n    port: 8080",
        ),
    );
    fails_saying(
        &lab,
        &c,
        "api-endpoints",
        "selector app=shop picks 6 pods of different kinds: 3 × app=shop,tier=api, 1 × app=shop,tier=debug, 2 × app=shop,tier=web",
    );
    fails_saying(&lab, &c, "api-svc-spec", "spec.selector[tier] = (absent)");
    let dir = labs_dir().join("06-practical");
    let mut c = started(&lab, &dir).unwrap();
    apply(
        &mut c,
        &read(&dir.join("solution/api-services.yaml")).replace("  namespace: shop\n", ""),
    );
    fails_saying(&lab, &c, "api-svc-spec", "it is in namespace default");
}
