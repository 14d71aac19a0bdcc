//! The load of `tests/sim_load.rs` against a `lab-runner sim` started elsewhere, printing its
//! figures as one JSON object: what `scripts/bench-sim` runs, pinned to its own core.
//!
//! `cargo run --release -p lab-runner --example sim_load -- --kubeconfig $SVCLAB_HOME/kubeconfig
//! --pid <the sim's pid>` (the sim must start from an empty SVCLAB_HOME: the load creates its
//! objects). Exits 1 when a check failed, with the failures in `problem_lines`.

#[path = "../tests/support/load.rs"]
mod load;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
struct Args {
    /// The sim's kubeconfig.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// The sim's process id (its memory is sampled from /proc).
    #[arg(long)]
    pid: u32,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// How long the load runs, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The writer's pause between writes, in milliseconds.
    #[arg(long, default_value_t = 20)]
    write_pause_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut opts = load::Options::new(args.kubeconfig, args.pid);
    opts.clients = args.clients;
    opts.duration = Duration::from_secs(args.seconds);
    opts.write_pause = Duration::from_millis(args.write_pause_ms);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    let report = runtime.block_on(load::run(&opts));
    let mut json = report.json;
    json["problem_lines"] = report.problems.iter().take(20).cloned().collect();
    println!("{json}");
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
