//! What a pod sees when it looks a name up: the tool the learner runs in it, with the pod's own
//! `/etc/resolv.conf` and the resolver and `nslookup` its image brings (`busybox:1.28` → uClibc
//! and busybox 1.28's `nslookup`, which has no `-type`; `httpd` → no `nslookup` at all), or
//! `dig`/`host` as a dnsutils image in the same namespace would print them, or every query of
//! the C library's search-list walk.
//!
//! One function for every front end: `lab-runner dns` (over a cluster built from files) and
//! the playground's DNS view (over the page's cluster).

use super::resolver::{self, Family, Nslookup};
use super::tools::{self, DigRun, ToolOutput};
use super::{DnsSnapshot, RecordType};
use crate::cluster::Cluster;
use k8s_openapi::api::core::v1::Pod;

/// Which tool's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The pod's own `nslookup`.
    Nslookup,
    /// `dig NAME [TYPE]`.
    Dig,
    /// `dig NAME [TYPE] +short`.
    DigShort,
    /// `host NAME`.
    Host,
    /// Every query the pod's C library sends, with each answer (A or AAAA lookups only).
    Walk,
}

impl Format {
    /// Reads `nslookup`, `dig`, `dig-short`, `host` or `walk`.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "nslookup" => Format::Nslookup,
            "dig" => Format::Dig,
            "dig-short" => Format::DigShort,
            "host" => Format::Host,
            "walk" => Format::Walk,
            _ => return None,
        })
    }
}

/// Why a lookup could not be shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No such pod.
    #[error("pods \"{name}\" not found in namespace {namespace:?} (pods there: {})", if others.is_empty() { "none".to_string() } else { others.join(", ") })]
    PodNotFound {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The pods that are there.
        others: Vec<String>,
    },
    /// The walk follows address lookups only.
    #[error("--format walk follows an address lookup (A or AAAA), not {0}")]
    WalkType(RecordType),
    /// `host` takes no type here.
    #[error("--format host takes no record type (use dig)")]
    HostType,
    /// busybox 1.28's nslookup has no `-type`.
    #[error("the nslookup of {image} (busybox 1.28) has no -type option; use --format dig")]
    NoTypeOption {
        /// The pod's image.
        image: String,
    },
    /// The image has no nslookup.
    #[error("pod/{pod} runs {image}, which has no nslookup; use --format dig or walk")]
    NoNslookup {
        /// The pod.
        pod: String,
        /// Its image.
        image: String,
    },
    /// The tool rejected its command line.
    #[error("{0}")]
    Tool(String),
}

/// Looks `name` (of type `qtype`, or the tool's default) up from pod `namespace/pod` and
/// prints it as `format`.
pub fn lookup(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    name: &str,
    qtype: Option<RecordType>,
    format: Format,
) -> Result<ToolOutput, LookupError> {
    let Some(p) = cluster.get_typed::<Pod>(namespace, pod) else {
        return Err(LookupError::PodNotFound {
            namespace: namespace.to_string(),
            name: pod.to_string(),
            others: cluster
                .list_typed::<Pod>(Some(namespace))
                .filter_map(|p| p.metadata.name.clone())
                .collect(),
        });
    };
    let image = p
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let tools_of = resolver::image_resolver(&image);
    let conf = resolver::pod_resolv_conf(cluster, p);
    let snapshot = DnsSnapshot::from_cluster(cluster);
    let type_arg = qtype.map(|t| t.to_string());
    let tool =
        |r: Result<ToolOutput, tools::ToolError>| r.map_err(|e| LookupError::Tool(e.to_string()));
    match format {
        Format::Walk => {
            let family = match qtype {
                None => Family::Unspec,
                Some(RecordType::A) => Family::Inet,
                Some(RecordType::AAAA) => Family::Inet6,
                Some(t) => return Err(LookupError::WalkType(t)),
            };
            let walk = resolver::walk(&snapshot, &conf, name, tools_of.libc, family);
            let ok = walk.result.is_ok();
            Ok(ToolOutput {
                stdout: tools::walk_text(&walk),
                exit_code: if ok { 0 } else { 1 },
                ..Default::default()
            })
        }
        Format::Dig | Format::DigShort => {
            let mut argv: Vec<&str> = vec![name];
            if let Some(t) = &type_arg {
                argv.push(t);
            }
            if format == Format::DigShort {
                argv.push("+short");
            }
            // dig picks a random ID; a stable one keeps the output reproducible.
            let run = DigRun {
                id: (crate::names::fnv32a(name.as_bytes()) & 0xffff) as u16,
                now_ms: cluster.now_ms(),
                ..Default::default()
            };
            tool(tools::dig(&snapshot, &conf, &argv, &run))
        }
        Format::Host => {
            if type_arg.is_some() {
                return Err(LookupError::HostType);
            }
            tool(tools::host(&snapshot, &conf, &[name]))
        }
        Format::Nslookup => {
            let type_opt = type_arg
                .as_ref()
                .map(|t| format!("-type={}", t.to_lowercase()));
            let mut argv: Vec<&str> = Vec::new();
            if let Some(t) = &type_opt {
                argv.push(t);
            }
            argv.push(name);
            match tools_of.nslookup {
                Some(Nslookup::Busybox128) if type_opt.is_some() => {
                    Err(LookupError::NoTypeOption { image })
                }
                Some(Nslookup::Busybox128) => {
                    tool(tools::nslookup_busybox_128(&snapshot, &conf, &argv))
                }
                Some(Nslookup::Busybox136) => {
                    tool(tools::nslookup_busybox_136(&snapshot, &conf, &argv))
                }
                Some(Nslookup::Bind) => tool(tools::nslookup_bind(&snapshot, &conf, &argv)),
                None => Err(LookupError::NoNslookup {
                    pod: pod.to_string(),
                    image,
                }),
            }
        }
    }
}

/// The `nslookup` the pod's image brings, as the DNS view names it.
pub fn nslookup_of(cluster: &Cluster, namespace: &str, pod: &str) -> Option<&'static str> {
    let p = cluster.get_typed::<Pod>(namespace, pod)?;
    let image = p.spec.as_ref()?.containers.first()?.image.as_deref()?;
    Some(match resolver::image_resolver(image).nslookup? {
        Nslookup::Busybox128 => "busybox 1.28 nslookup",
        Nslookup::Busybox136 => "busybox 1.36 nslookup",
        Nslookup::Bind => "BIND 9 nslookup",
    })
}
