//! `lab-runner dns -f FILE… --from POD NAME [TYPE]`: what a pod sees when it looks a name up.
//!
//! Functional core, imperative shell: the manifests go into a fresh simulated cluster, which
//! converges; `lab_core::dns` then builds CoreDNS's view, the pod's `/etc/resolv.conf` and the
//! walk of the pod's C library, and prints the tool the learner would run (`nslookup` as the pod's
//! image has it, `dig`, `dig +short`, `host`), or every query of the walk (`--format walk`).

use crate::{EXIT_FAILURE, Loaded, load, print_stdout};
use anyhow::Result;
use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use lab_core::dns::resolver::{self, Family, Nslookup};
use lab_core::dns::tools::{self, DigRun, ToolOutput};
use lab_core::dns::{DnsSnapshot, RecordType};
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
    let Some(pod) = cluster.get_typed::<Pod>(namespace, name) else {
        let pods: Vec<String> = cluster
            .list_typed::<Pod>(Some(namespace))
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        return fail(format!(
            "pods \"{name}\" not found in namespace {namespace:?} (pods there: {})",
            if pods.is_empty() {
                "none".into()
            } else {
                pods.join(", ")
            }
        ));
    };
    let image = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let tools_of = resolver::image_resolver(&image);
    let conf = resolver::pod_resolv_conf(&cluster, pod);
    let snapshot = DnsSnapshot::from_cluster(&cluster);
    let type_arg = qtype.map(|t| t.to_string());

    let output: ToolOutput = match args.format.as_str() {
        "walk" => {
            let family = match qtype {
                None => Family::Unspec,
                Some(RecordType::A) => Family::Inet,
                Some(RecordType::AAAA) => Family::Inet6,
                Some(t) => {
                    return fail(format!(
                        "--format walk follows an address lookup (A or AAAA), not {t}"
                    ));
                }
            };
            let walk = resolver::walk(&snapshot, &conf, &args.name, tools_of.libc, family);
            let ok = walk.result.is_ok();
            ToolOutput {
                stdout: tools::walk_text(&walk),
                exit_code: if ok { 0 } else { 1 },
                ..Default::default()
            }
        }
        "dig" | "dig-short" => {
            let mut argv: Vec<&str> = vec![&args.name];
            if let Some(t) = &type_arg {
                argv.push(t);
            }
            if args.format == "dig-short" {
                argv.push("+short");
            }
            // dig picks a random ID; a stable one keeps the output reproducible.
            let run = DigRun {
                id: (lab_core::names::fnv32a(args.name.as_bytes()) & 0xffff) as u16,
                now_ms: cluster.now_ms(),
                ..Default::default()
            };
            match tools::dig(&snapshot, &conf, &argv, &run) {
                Ok(o) => o,
                Err(e) => return fail(e.to_string()),
            }
        }
        "host" => {
            if type_arg.is_some() {
                return fail("--format host takes no record type (use dig)".into());
            }
            match tools::host(&snapshot, &conf, &[&args.name]) {
                Ok(o) => o,
                Err(e) => return fail(e.to_string()),
            }
        }
        _ => {
            let type_opt = type_arg
                .as_ref()
                .map(|t| format!("-type={}", t.to_lowercase()));
            let mut argv: Vec<&str> = Vec::new();
            if let Some(t) = &type_opt {
                argv.push(t);
            }
            argv.push(&args.name);
            let result = match tools_of.nslookup {
                Some(Nslookup::Busybox128) if type_opt.is_some() => {
                    return fail(format!(
                        "the nslookup of {image} (busybox 1.28) has no -type option; use --format dig"
                    ));
                }
                Some(Nslookup::Busybox128) => tools::nslookup_busybox_128(&snapshot, &conf, &argv),
                Some(Nslookup::Busybox136) => tools::nslookup_busybox_136(&snapshot, &conf, &argv),
                Some(Nslookup::Bind) => tools::nslookup_bind(&snapshot, &conf, &argv),
                None => {
                    return fail(format!(
                        "pod/{name} runs {image}, which has no nslookup; use --format dig or walk"
                    ));
                }
            };
            match result {
                Ok(o) => o,
                Err(e) => return fail(e.to_string()),
            }
        }
    };
    print_stdout(&output.stdout)?;
    eprint!("{}", output.stderr);
    Ok(ExitCode::from(u8::try_from(output.exit_code).unwrap_or(1)))
}
