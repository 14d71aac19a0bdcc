//! What `kubectl exec POD -- CMD…` runs in a simulated pod.
//!
//! Mirrors the container runtime's exec (containerd → runc `exec`) and the programs an image
//! really has on its `$PATH`: busybox images (`nslookup`, `wget`, `ip`, `cat`, `hostname`,
//! `env`, `echo`, `sh -c`; `cat` of `/etc/resolv.conf`, `/etc/hosts`, `/etc/hostname`), curl
//! images (`curl`) and `httpd` (no network tools at all). The image decides
//! the tools as DESIGN.md says: `busybox:1.28*` → uClibc and the 1.28 applets, other busybox →
//! 1.36, `curlimages/curl` and `nicolaka/netshoot` → curl, `httpd` → only its shell utilities.
//!
//! A command the image does not have fails the way runc reports it through kubectl: stderr
//! `OCI runtime exec failed: exec failed: unable to start container process: exec: "nslookup":
//! executable file not found in $PATH: unknown` and exit code 126 (kubectl then prints
//! `command terminated with exit code 126` itself). The text and code are those kubectl shows
//! over the exec stream, as in joeferner/redis-commander#516 (2023, `kubectl exec -it … --
//! redis-commander`); runc's own message is `unable to start container process: exec: %q:
//! executable file not found in $PATH` (libcontainer), wrapped by `OCI runtime exec failed:
//! exec failed:` and containerd's `: unknown` (the gRPC code). When containerd fails the exec
//! before the stream is attached, kubectl instead prints `error: Internal error occurred: error
//! executing command in container: failed to exec in container: failed to start exec "<id>":
//! OCI runtime exec failed: …` (nigelpoulton/TheK8sBook#30); that form carries a random exec ID
//! and is not modelled.
//!
//! Programs the image has but whose exact output is not modelled (curl's progress meter, a
//! program's usage text with its build banner, iproute2's `ip`) return
//! [`ShellError::NotModelled`] rather than an approximation. What would be random on a real
//! cluster (a veth's MAC address) is a stable function of the pod instead.

mod curl;
mod env;
pub(crate) mod http;
mod ip;
mod node;
pub mod terminal;
mod wget;

use crate::cluster::Cluster;
use crate::dns::DnsSnapshot;
use crate::dns::resolver::{self, ImageResolver, Nslookup};
use crate::dns::tools;
use k8s_openapi::api::core::v1::{Container, Pod};

pub use http::{
    Connection, ExternalAnswer, HttpMethod, HttpResponse, apache_default_page, connect,
    external_http,
};
pub use node::exec as node_exec;
pub use node::exec_with as node_exec_with;

/// The body of Apache httpd's default `index.html` (the official `httpd` image), byte for byte.
pub const IT_WORKS: &str = "<html><body><h1>It works!</h1></body></html>\n";

/// What the command printed and how it exited, as kubectl relays them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit status (kubectl prints `command terminated with exit code N` when it is not 0).
    pub exit_code: i32,
    /// The HTTP requests the command made that a pod served, for that pod's `kubectl logs`.
    pub served: Vec<Served>,
}

/// One request an `httpd` pod served, and the access-log line it wrote for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The serving pod's namespace.
    pub namespace: String,
    /// The serving pod's name.
    pub pod: String,
    /// Apache's `common` log line, newline included.
    pub log_line: String,
}

impl ExecOutput {
    fn ok(stdout: impl Into<String>) -> ExecOutput {
        ExecOutput {
            stdout: stdout.into(),
            ..ExecOutput::default()
        }
    }

    fn fail(stderr: impl Into<String>, exit_code: i32) -> ExecOutput {
        ExecOutput {
            stderr: stderr.into(),
            exit_code,
            ..ExecOutput::default()
        }
    }
}

/// Why an exec could not run (kubectl's own errors, or behaviour the simulation does not model).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    /// The pod does not exist (the apiserver's NotFound).
    #[error("pods {name:?} not found")]
    PodNotFound {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// The pod has no container of that name.
    #[error("container {container} is not valid for pod {pod}")]
    ContainerNotFound {
        /// Pod name.
        pod: String,
        /// Container asked for.
        container: String,
    },
    /// The pod (or its container) is not running yet, so there is nothing to exec into.
    #[error("unable to upgrade connection: container not found ({container:?})")]
    NotRunning {
        /// Container name.
        container: String,
    },
    /// `kubectl exec POD --` with no command.
    #[error("you must specify at least one command for the container")]
    EmptyCommand,
    /// The program exists in the image, but this use of it is not simulated.
    #[error("not simulated: {0}")]
    NotModelled(String),
    /// The connection could not be traced (the source pod has no IP or node).
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
}

/// The family of tools an image brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toolbox {
    /// busybox before 1.29 (`busybox:1.28*`).
    Busybox128,
    /// busybox 1.29 and later (any other busybox tag, alpine).
    Busybox136,
    /// `curlimages/curl` (Alpine with busybox plus curl) and `nicolaka/netshoot`.
    Curl,
    /// The official `httpd` image (Debian): a shell and coreutils, no network tools.
    Httpd,
    /// Anything else: only what every image is assumed to have is refused as unknown.
    Other,
}

/// The last path component of an image reference without tag or digest
/// (`docker.io/curlimages/curl:8.11.1` → `curl`) and its tag (`8.11.1`, empty when untagged).
pub(crate) fn image_repo_tag(image: &str) -> (&str, &str) {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').unwrap_or((last, ""))
}

/// [`image_repo_tag`]'s repository name.
pub(crate) fn image_repo(image: &str) -> &str {
    image_repo_tag(image).0
}

/// The toolbox of an image reference, following [`resolver::image_resolver`]'s parsing.
pub fn toolbox(image: &str) -> Toolbox {
    let repo = image_repo(image);
    match (resolver::image_resolver(image).nslookup, repo) {
        (_, "curl" | "netshoot") => Toolbox::Curl,
        (_, "httpd") => Toolbox::Httpd,
        (Some(Nslookup::Busybox128), _) => Toolbox::Busybox128,
        (_, "busybox" | "alpine") => Toolbox::Busybox136,
        _ => Toolbox::Other,
    }
}

/// Everything a command needs about where it runs.
pub(crate) struct Ctx<'a> {
    pub cluster: &'a Cluster,
    pub namespace: &'a str,
    pub pod: &'a Pod,
    pub pod_name: &'a str,
    pub container: &'a Container,
    pub image: &'a str,
    pub toolbox: Toolbox,
    pub resolver: ImageResolver,
    pub seed: u64,
}

/// Runs `argv` in container `container` (default: the first) of pod `namespace/pod`, as
/// `kubectl exec` does. `seed` drives kube-proxy's random endpoint choice for connections.
pub fn exec(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    argv: &[String],
    seed: u64,
) -> Result<ExecOutput, ShellError> {
    let Some(p) = cluster.get_typed::<Pod>(namespace, pod) else {
        return Err(ShellError::PodNotFound {
            namespace: namespace.to_string(),
            name: pod.to_string(),
        });
    };
    let containers = p.spec.as_ref().map(|s| &s.containers[..]).unwrap_or(&[]);
    let c = match container {
        Some(name) => containers.iter().find(|c| c.name == name),
        None => containers.first(),
    };
    let Some(c) = c else {
        return Err(ShellError::ContainerNotFound {
            pod: pod.to_string(),
            container: container.unwrap_or("").to_string(),
        });
    };
    if !container_running(p, &c.name) {
        return Err(ShellError::NotRunning {
            container: c.name.clone(),
        });
    }
    if argv.is_empty() {
        return Err(ShellError::EmptyCommand);
    }
    let image = c.image.as_deref().unwrap_or("");
    let toolbox = toolbox(image);
    let mut resolver = resolver::image_resolver(image);
    if toolbox == Toolbox::Curl && resolver.nslookup.is_none() {
        // curlimages/curl is built on Alpine: musl's resolver, busybox's 1.36 nslookup.
        resolver.libc = resolver::Libc::Musl;
        resolver.nslookup = Some(Nslookup::Busybox136);
    }
    let ctx = Ctx {
        cluster,
        namespace,
        pod: p,
        pod_name: pod,
        container: c,
        image,
        toolbox,
        resolver,
        seed,
    };
    run(&ctx, argv, Launch::Runtime)
}

fn container_running(p: &Pod, name: &str) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == name))
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some())
}

/// Who starts the program: the runtime (exec errors from runc) or a shell (`sh: X: not found`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Launch {
    Runtime,
    Shell,
}

/// The program name as looked up on `$PATH` (`/bin/wget` → `wget`), and whether it was a path.
fn program(arg0: &str) -> (&str, bool) {
    match arg0.rsplit_once('/') {
        Some((_, base)) => (base, true),
        None => (arg0, false),
    }
}

/// Applets a default busybox build has that are not simulated here, so that asking for them
/// says "not simulated" instead of "not found".
const BUSYBOX_OTHER: &[&str] = &[
    "ash",
    "awk",
    "base64",
    "basename",
    "cp",
    "cut",
    "date",
    "dd",
    "df",
    "dirname",
    "du",
    "false",
    "find",
    "grep",
    "head",
    "id",
    "ifconfig",
    "kill",
    "less",
    "ln",
    "mkdir",
    "more",
    "mount",
    "mv",
    "nc",
    "netstat",
    "ping",
    "printf",
    "ps",
    "pwd",
    "rm",
    "route",
    "sed",
    "seq",
    "sleep",
    "sort",
    "stat",
    "tail",
    "tee",
    "telnet",
    "test",
    "top",
    "touch",
    "tr",
    "traceroute",
    "true",
    "uname",
    "uptime",
    "vi",
    "wc",
    "whoami",
    "xargs",
    "ip",
    "ls",
    "[",
    "[[",
];

/// Programs every Debian-based image (`httpd`) has that are not simulated.
const DEBIAN_OTHER: &[&str] = &[
    "bash",
    "ls",
    "ps",
    "sleep",
    "grep",
    "sed",
    "head",
    "tail",
    "id",
    "date",
    "uname",
    "true",
    "false",
    "mkdir",
    "rm",
    "cp",
    "mv",
    "touch",
    "apachectl",
    "httpd",
];

fn run(ctx: &Ctx<'_>, argv: &[String], launch: Launch) -> Result<ExecOutput, ShellError> {
    let Some(arg0) = argv.first() else {
        return Err(ShellError::EmptyCommand);
    };
    let (name, is_path) = program(arg0);
    let args = &argv[1..];
    let busybox = matches!(
        ctx.toolbox,
        Toolbox::Busybox128 | Toolbox::Busybox136 | Toolbox::Curl
    );
    let has = |n: &str| -> bool {
        match ctx.toolbox {
            Toolbox::Busybox128 | Toolbox::Busybox136 => {
                matches!(
                    n,
                    "sh" | "nslookup" | "wget" | "cat" | "hostname" | "env" | "echo"
                ) || BUSYBOX_OTHER.contains(&n)
            }
            Toolbox::Curl => {
                matches!(
                    n,
                    "sh" | "curl" | "cat" | "hostname" | "env" | "echo" | "nslookup" | "wget"
                ) || BUSYBOX_OTHER.contains(&n)
            }
            Toolbox::Httpd => {
                matches!(n, "sh" | "cat" | "hostname" | "env" | "echo") || DEBIAN_OTHER.contains(&n)
            }
            Toolbox::Other => false,
        }
    };
    // A path must name the file itself; busybox and Debian keep these in /bin or /usr/bin.
    let path_ok = !is_path
        || arg0.starts_with("/bin/")
        || arg0.starts_with("/usr/bin/")
        || arg0.starts_with("/usr/local/bin/");
    if !has(name) || !path_ok {
        if ctx.toolbox == Toolbox::Other {
            return Err(ShellError::NotModelled(format!(
                "the programs of image {:?}",
                ctx.image
            )));
        }
        return Ok(not_found(arg0, is_path, launch, busybox));
    }
    match name {
        "sh" => sh(ctx, args),
        "echo" => Ok(echo(args)),
        "hostname" => hostname_cmd(ctx, args, busybox),
        "cat" => cat(ctx, args, busybox),
        "env" if args.is_empty() => env::env(ctx),
        "nslookup" => nslookup(ctx, args),
        "wget" => wget::wget(ctx, args),
        "curl" => curl::curl(ctx, args),
        "ip" => ip::ip(ctx, args),
        _ => Err(ShellError::NotModelled(format!(
            "{} in image {:?}",
            argv.join(" "),
            ctx.image
        ))),
    }
}

/// The "not on `$PATH`" failure, as runc (through kubectl) or the shell reports it.
fn not_found(arg0: &str, is_path: bool, launch: Launch, busybox: bool) -> ExecOutput {
    match launch {
        Launch::Runtime => {
            // runc: exec.LookPath for a bare name, a stat of the file for a path.
            let why = if is_path {
                format!("stat {arg0}: no such file or directory")
            } else {
                "executable file not found in $PATH".to_string()
            };
            ExecOutput::fail(
                format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: \
                     exec: \"{arg0}\": {why}: unknown\n"
                ),
                126,
            )
        }
        // busybox ash: "sh: NAME: not found"; Debian's dash adds the line number of `-c`.
        Launch::Shell if busybox => ExecOutput::fail(format!("sh: {arg0}: not found\n"), 127),
        Launch::Shell => ExecOutput::fail(format!("sh: 1: {arg0}: not found\n"), 127),
    }
}

/// The pod's hostname: `spec.hostname` if set, else the pod name (kubelet's
/// `GeneratePodHostNameAndDomain`, truncated to 63 characters).
fn hostname(ctx: &Ctx<'_>) -> String {
    let h = ctx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.as_deref())
        .unwrap_or(ctx.pod_name);
    let mut h: String = h.chars().take(63).collect();
    // kubelet trims a trailing '-' or '.' left by the truncation.
    while h.ends_with(['-', '.']) {
        h.pop();
    }
    h
}

/// The pod's DNS subdomain (`<subdomain>.<namespace>.svc.<cluster domain>`), when it has one.
fn pod_domain(ctx: &Ctx<'_>) -> Option<String> {
    ctx.pod
        .spec
        .as_ref()
        .and_then(|s| s.subdomain.as_deref())
        .filter(|d| !d.is_empty())
        .map(|sub| {
            let kubelet = resolver::KubeletDns::kind(ctx.cluster.config());
            format!("{sub}.{}.svc.{}", ctx.namespace, kubelet.cluster_domain)
        })
}

/// `hostname [-dfis]` (busybox `networking/hostname.c`). `-d`, `-f` and `-i` look the hostname
/// up with `gethostbyname`, which finds the pod's own line of the kubelet's `/etc/hosts`: its
/// first name (the FQDN when the pod has a subdomain) and its address; `-i` prints the
/// addresses separated by blanks (one here, so no trailing blank), `-s` cuts the hostname at its
/// first dot without a lookup. Setting the hostname fails without `CAP_SYS_ADMIN`
/// (`bb_msg_perm_denied_are_you_root`). Debian's `hostname` (the `httpd` image) prints the
/// hostname; its options are not modelled.
fn hostname_cmd(ctx: &Ctx<'_>, args: &[String], busybox: bool) -> Result<ExecOutput, ShellError> {
    let name = hostname(ctx);
    if args.is_empty() {
        return Ok(ExecOutput::ok(format!("{name}\n")));
    }
    let nm = || ShellError::NotModelled(format!("hostname {}", args.join(" ")));
    if !busybox {
        return Err(nm());
    }
    // getopt32 "dfisF:v".
    let (mut d, mut f, mut i, mut s) = (false, false, false, false);
    let mut operands = Vec::new();
    let mut only_operands = false;
    for a in args {
        if only_operands || !a.starts_with('-') || a == "-" {
            operands.push(a.as_str());
            continue;
        }
        if a == "--" {
            only_operands = true;
            continue;
        }
        for c in a[1..].chars() {
            match c {
                'd' => d = true,
                'f' => f = true,
                'i' => i = true,
                's' => s = true,
                'v' => {}
                // -F FILE, long options and unknown ones (the usage text) are not modelled.
                _ => return Err(nm()),
            }
        }
    }
    if d || f || i {
        if ctx
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false)
        {
            return Err(nm());
        }
        let h_name = match pod_domain(ctx) {
            Some(dom) => format!("{name}.{dom}"),
            None => name.clone(),
        };
        let (short, domain) = match h_name.split_once('.') {
            Some((a, b)) => (a.to_string(), Some(b.to_string())),
            None => (h_name.clone(), None),
        };
        let out = if f {
            format!("{h_name}\n")
        } else if s {
            format!("{short}\n")
        } else if d {
            domain.map(|d| format!("{d}\n")).unwrap_or_default()
        } else {
            let net = ip::PodNet::of(ctx)?;
            format!("{}\n", net.ip)
        };
        return Ok(ExecOutput::ok(out));
    }
    if s {
        let short = name.split('.').next().unwrap_or("");
        return Ok(ExecOutput::ok(format!("{short}\n")));
    }
    if operands.is_empty() {
        return Ok(ExecOutput::ok(format!("{name}\n")));
    }
    Ok(ExecOutput::fail(
        "hostname: permission denied (are you root?)\n",
        1,
    ))
}

/// busybox and coreutils `echo` (`-n` only; escapes are off by default in both).
fn echo(args: &[String]) -> ExecOutput {
    let (newline, words) = match args.first().map(String::as_str) {
        Some("-n") => (false, &args[1..]),
        _ => (true, args),
    };
    let mut out = words.join(" ");
    if newline {
        out.push('\n');
    }
    ExecOutput::ok(out)
}

/// `cat FILE…`: the files a simulated pod has (`/etc/resolv.conf`, `/etc/hostname`).
fn cat(ctx: &Ctx<'_>, args: &[String], busybox: bool) -> Result<ExecOutput, ShellError> {
    if args.is_empty() || args.iter().any(|a| a.starts_with('-') && a != "-") {
        return Err(ShellError::NotModelled("cat without a file".to_string()));
    }
    let mut out = ExecOutput::default();
    for f in args {
        match f.as_str() {
            "/etc/resolv.conf" => {
                out.stdout
                    .push_str(&resolver::pod_resolv_conf(ctx.cluster, ctx.pod).text());
            }
            "/etc/hostname" => out.stdout.push_str(&format!("{}\n", hostname(ctx))),
            "/etc/hosts" => out.stdout.push_str(&etc_hosts(ctx)?),
            other if other.starts_with("/etc/") || other.starts_with("/proc/") => {
                return Err(ShellError::NotModelled(format!("the file {other}")));
            }
            other => {
                // Not a file the image or the kubelet puts there.
                let msg = if busybox {
                    format!("cat: can't open '{other}': No such file or directory\n")
                } else {
                    format!("cat: {other}: No such file or directory\n")
                };
                out.stderr.push_str(&msg);
                out.exit_code = 1;
            }
        }
    }
    Ok(out)
}

/// The kubelet-managed `/etc/hosts` (kubernetes/kubernetes `pkg/kubelet/kubelet_pods.go`
/// `managedHostsFileContent`): the localhost lines, one line per pod IP naming the pod's
/// hostname (its FQDN first when it has a subdomain), then the `hostAliases`.
fn etc_hosts(ctx: &Ctx<'_>) -> Result<String, ShellError> {
    let spec = ctx.pod.spec.as_ref();
    if spec.and_then(|s| s.host_network).unwrap_or(false) {
        // The kubelet leaves the node's own file in place.
        return Err(ShellError::NotModelled(
            "a host-network pod's /etc/hosts".to_string(),
        ));
    }
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let host = hostname(ctx);
    let domain = pod_domain(ctx);
    let status = ctx.pod.status.as_ref();
    let mut ips: Vec<&str> = status
        .and_then(|s| s.pod_ips.as_ref())
        .map(|v| v.iter().map(|i| i.ip.as_str()).collect())
        .unwrap_or_default();
    if ips.is_empty() {
        ips.extend(status.and_then(|s| s.pod_ip.as_deref()));
    }
    for ip in ips {
        match &domain {
            Some(d) => out.push_str(&format!("{ip}\t{host}.{d}\t{host}\n")),
            None => out.push_str(&format!("{ip}\t{host}\n")),
        }
    }
    let aliases = spec.and_then(|s| s.host_aliases.as_deref()).unwrap_or(&[]);
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            let names = a.hostnames.as_deref().unwrap_or(&[]).join("\t");
            out.push_str(&format!("{}\t{names}\n", a.ip));
        }
    }
    Ok(out)
}

/// `nslookup` as the image's busybox has it (`spec/dns.md` §5).
fn nslookup(ctx: &Ctx<'_>, args: &[String]) -> Result<ExecOutput, ShellError> {
    let dns = DnsSnapshot::from_cluster(ctx.cluster);
    let conf = resolver::pod_resolv_conf(ctx.cluster, ctx.pod);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = match ctx.resolver.nslookup {
        Some(Nslookup::Busybox128) => tools::nslookup_busybox_128(&dns, &conf, &args),
        Some(Nslookup::Busybox136) => tools::nslookup_busybox_136(&dns, &conf, &args),
        Some(Nslookup::Bind) => tools::nslookup_bind(&dns, &conf, &args),
        None => {
            return Err(ShellError::NotModelled(format!(
                "nslookup in {:?}",
                ctx.image
            )));
        }
    };
    match r {
        Ok(o) => Ok(ExecOutput {
            stdout: o.stdout,
            stderr: o.stderr,
            exit_code: o.exit_code,
            served: vec![],
        }),
        // The usage text carries the build's version banner, which is not modelled.
        Err(e) => Err(ShellError::NotModelled(e.to_string())),
    }
}

/// `sh -c "CMD ARGS"` for one simple command: words split as the shell splits them (quotes,
/// no expansion). Pipes, redirections, lists and variables are not simulated.
fn sh(ctx: &Ctx<'_>, args: &[String]) -> Result<ExecOutput, ShellError> {
    let [flag, script, ..] = args else {
        return Err(ShellError::NotModelled("an interactive shell".to_string()));
    };
    if flag != "-c" {
        return Err(ShellError::NotModelled(format!("sh {flag}")));
    }
    let words = split_words(script)?;
    if words.is_empty() {
        return Ok(ExecOutput::default());
    }
    run(ctx, &words, Launch::Shell)
}

/// Splits a simple command into words: blanks separate, `'…'` and `"…"` quote, `\` escapes.
pub(crate) fn split_words(script: &str) -> Result<Vec<String>, ShellError> {
    let unsupported = || ShellError::NotModelled(format!("the shell script {script:?}"));
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = script.chars();
    while let Some(ch) = chars.next() {
        match ch {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(unsupported()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('$' | '`') => return Err(unsupported()),
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(unsupported()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(unsupported()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => {
                    in_word = true;
                    cur.push(c);
                }
                None => return Err(unsupported()),
            },
            '|' | '&' | ';' | '<' | '>' | '$' | '`' | '(' | ')' | '*' | '?' | '#' | '~' => {
                return Err(unsupported());
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolboxes_follow_the_image() {
        assert_eq!(toolbox("busybox:1.28"), Toolbox::Busybox128);
        assert_eq!(toolbox("busybox:1.28.3"), Toolbox::Busybox128);
        assert_eq!(toolbox("busybox"), Toolbox::Busybox136);
        assert_eq!(
            toolbox("docker.io/library/busybox:1.36.1"),
            Toolbox::Busybox136
        );
        assert_eq!(toolbox("httpd"), Toolbox::Httpd);
        assert_eq!(toolbox("httpd:2.4.62"), Toolbox::Httpd);
        assert_eq!(toolbox("curlimages/curl:8.11.1"), Toolbox::Curl);
        assert_eq!(toolbox("nicolaka/netshoot"), Toolbox::Curl);
        assert_eq!(toolbox("nginx"), Toolbox::Other);
    }

    #[test]
    fn words_split_like_the_shell() {
        assert_eq!(
            split_words("wget -qO- 'httpd-svc:8080' \"a b\"").unwrap(),
            ["wget", "-qO-", "httpd-svc:8080", "a b"]
        );
        assert!(split_words("wget x | head").is_err());
        assert!(split_words("echo 'open").is_err());
    }

    #[test]
    fn runtime_and_shell_not_found() {
        let o = not_found("nslookup", false, Launch::Runtime, false);
        assert_eq!(
            o.stderr,
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \
             \"nslookup\": executable file not found in $PATH: unknown\n"
        );
        assert_eq!(o.exit_code, 126);
        assert_eq!(
            not_found("foo", false, Launch::Shell, true).stderr,
            "sh: foo: not found\n"
        );
    }
}
