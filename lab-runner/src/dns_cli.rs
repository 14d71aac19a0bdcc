//! `lab-runner dns -f FILE… --from POD NAME [TYPE]`: what a pod sees when it looks a name up.
//!
//! Functional core, imperative shell: the manifests go into a fresh simulated cluster, which
//! converges; `lab_core::dns` then builds CoreDNS's view, the pod's `/etc/resolv.conf` and the
//! walk of the pod's C library, and prints the tool the learner would run (`nslookup` as the pod's
//! image has it, `dig`, `dig +short`, `host`), or every query of the walk (`--format walk`).

use crate::{EXIT_FAILURE, Loaded, load, print_stdout};
use anyhow::Result;
use clap::Args;
use lab_core::dns::RecordType;
use lab_core::dns::from_pod::{self, Format};
use lab_core::dns::tools::ToolOutput;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

/// Arguments of `lab-runner dns`.
#[derive(Args, Debug)]
pub struct DnsArgs {
    /// Manifest files (YAML or JSON, several documents allowed), applied in order.
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The pod that asks: `NAME`, `NAME.NAMESPACE` or `pod/NAME[.NAMESPACE]`.
    #[arg(long, value_name = "POD")]
    pub from: String,
    /// The name (or address) to look up, as typed in the pod.
    pub name: String,
    /// Record type (A, AAAA, SRV, PTR, TXT, …); `nslookup` of busybox 1.28 has none.
    pub qtype: Option<String>,
    /// What to print: the pod's `nslookup` (default), `dig`, `dig-short`, `host`, or `walk`
    /// (every query the pod's resolver sends, with each answer).
    #[arg(long, value_parser = ["nslookup", "dig", "dig-short", "host", "walk"], default_value = "nslookup")]
    pub format: String,
}

fn fail(msg: String) -> Result<ExitCode> {
    eprintln!("error: {msg}");
    Ok(ExitCode::from(EXIT_FAILURE))
}

/// Runs `lab-runner dns`.
pub fn run(args: &DnsArgs) -> Result<ExitCode> {
    let qtype = match &args.qtype {
        Some(t) => match RecordType::from_str(&t.to_ascii_uppercase()) {
            Ok(t) => Some(t),
            Err(_) => {
                return fail(format!(
                    "unknown record type {t:?} (A, AAAA, SRV, PTR, TXT, …)"
                ));
            }
        },
        None => None,
    };
    let (mut cluster, _applied) = match load(&args.files)? {
        Loaded::Ok(cluster, applied) => (cluster, applied),
        Loaded::Failed(code) => return Ok(code),
    };
    cluster.settle();
    let pod_ref = args.from.strip_prefix("pod/").unwrap_or(&args.from);
    let (name, namespace) = pod_ref.split_once('.').unwrap_or((pod_ref, "default"));
    let format = Format::parse(&args.format).unwrap_or(Format::Nslookup);
    let output: ToolOutput =
        match from_pod::lookup(&cluster, namespace, name, &args.name, qtype, format) {
            Ok(o) => o,
            Err(e) => return fail(e.to_string()),
        };
    print_stdout(&output.stdout)?;
    eprint!("{}", output.stderr);
    Ok(ExitCode::from(u8::try_from(output.exit_code).unwrap_or(1)))
}
