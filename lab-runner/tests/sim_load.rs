//! Issue 5's load on `lab-runner sim`, through kube-rs: 50 clients doing get/list and holding
//! watches on Services, Pods, EndpointSlices and Deployments for 60 s while one writer changes
//! the cluster (see `support/load.rs`). Asserts correctness only — every request answered,
//! every watch sees every write in order with nothing lost, memory bounded — never timings:
//! the figures come from `scripts/bench-sim`.

#[path = "support/load.rs"]
mod load;
mod support;

use std::path::Path;
use support::Sim;

/// The running sim's process id: the child of this test process whose SVCLAB_HOME is `home`.
fn sim_pid(home: &Path) -> u32 {
    let want = format!("SVCLAB_HOME={}", home.display());
    let tasks = std::fs::read_dir("/proc/self/task").expect("reading /proc/self/task");
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == want.as_bytes()))
        })
        .expect("the sim's process among this test's children")
}

#[test]
fn fifty_clients_for_a_minute_see_every_change_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let _sim = Sim::start(home, &[]);
    let opts = load::Options::new(home.join("kubeconfig"), sim_pid(home));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(load::run(&opts));
    eprintln!("{}", serde_json::to_string_pretty(&report.json).unwrap());
    assert!(
        report.problems.is_empty(),
        "{} problems under load, the first ones:\n{}",
        report.problems.len(),
        report.problems[..report.problems.len().min(30)].join("\n")
    );
}
