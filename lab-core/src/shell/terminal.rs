//! The web terminal: one command line, as typed on the learner's laptop beside a kind cluster.
//!
//! It mirrors what that laptop has: `kubectl` talking to the cluster (`get`, `scale`,
//! `delete`, `exec`), and `docker exec NODE …` reaching into a kind node, where kube-proxy's
//! rules are read (`iptables-save`, `ipvsadm -Ln`, `ipset list`, `nft list table ip kube-proxy`).
//! Tools that only make sense inside the cluster (`nslookup`, `wget`, `curl`) run in a pod
//! through `kubectl exec`, as on a real cluster; typed bare, they get a `svclab:` note saying so.
//!
//! Output follows the real tools: `kubectl get` prints the apiserver's Table through
//! [`printers::render`] (kubectl's tabwriter), errors are kubectl's words
//! (`Error from server (NotFound): pods "x" not found`, `error: the server doesn't have a resource
//! type "x"`), and an exec'd command that fails adds kubectl's `command terminated with exit
//! code N`. What the terminal does not model (pipes, `-o yaml`, `-w`) is refused with a `svclab:`
//! line rather than imitated.
//!
//! [`complete`] offers the next word (commands, verbs, resource types, object and node names),
//! for the front ends' Tab key. Both functions are pure: the page, the CLI and the tests call
//! them with a [`Cluster`].

use crate::cluster::Cluster;
use crate::errors::ApiError;
use crate::labels::TextSelector;
use crate::object::{Kind, Object};
use crate::printers;
use crate::shell::{ExecOutput, ShellError, node_exec, split_words};

/// What a command line printed and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TerminalOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The exit status the shell's `$?` would hold.
    pub exit_code: i32,
}

impl TerminalOutput {
    fn err(code: i32, stderr: impl Into<String>) -> TerminalOutput {
        let mut stderr = stderr.into();
        if !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        TerminalOutput {
            stderr,
            exit_code: code,
            ..TerminalOutput::default()
        }
    }
    fn api(e: &ApiError) -> TerminalOutput {
        TerminalOutput::err(1, e.kubectl_message())
    }
}

/// The namespace `kubectl` uses without `-n` (kind's context has none set).
pub const DEFAULT_NAMESPACE: &str = "default";

/// Programs the terminal knows, for completion and the "command not found" check.
pub const COMMANDS: &[&str] = &["kubectl", "docker"];

/// kubectl verbs the terminal runs.
pub const KUBECTL_VERBS: &[&str] = &["get", "scale", "delete", "exec"];

/// Programs that run in a pod (`kubectl exec POD -- …`), not on the laptop.
const POD_TOOLS: &[&str] = &["nslookup", "wget", "curl", "dig", "host", "ping"];

/// Programs that run on a node (`docker exec NODE …`).
const NODE_TOOLS: &[&str] = &["iptables-save", "ipvsadm", "ipset", "nft", "iptables"];

/// Runs one command line against `cluster`. `seed` drives kube-proxy's random endpoint choice
/// for connections made by `kubectl exec`'d tools.
pub fn run(cluster: &mut Cluster, line: &str, seed: u64) -> TerminalOutput {
    let words = match split_words(line) {
        Ok(w) => w,
        Err(_) => {
            return TerminalOutput::err(
                2,
                "svclab: this terminal runs one simple command at a time (no pipes, redirections, variables or globs)",
            );
        }
    };
    let Some(program) = words.first() else {
        return TerminalOutput::default();
    };
    let args = &words[1..];
    match program.as_str() {
        "kubectl" | "k" => kubectl(cluster, args, seed),
        "docker" => docker(cluster, args),
        p if POD_TOOLS.contains(&p) => TerminalOutput::err(
            127,
            format!(
                "svclab: {p} runs inside the cluster here: kubectl exec POD -- {p} {}",
                args.join(" ")
            )
            .trim_end()
            .to_string(),
        ),
        p if NODE_TOOLS.contains(&p) => TerminalOutput::err(
            127,
            format!(
                "svclab: {p} reads a node's rules: docker exec kind-worker {p} {}",
                args.join(" ")
            )
            .trim_end()
            .to_string(),
        ),
        p => TerminalOutput::err(127, format!("bash: {p}: command not found")),
    }
}

/// Resolves a resource name as kubectl does: plural, singular or short name (as labs name
/// kinds, [`crate::lab::check::parse_kind`]), or qualified by its group (`deployments.apps`,
/// `deployment.apps`).
pub fn resolve_kind(name: &str) -> Option<Kind> {
    crate::lab::check::parse_kind(name).or_else(|| {
        let n = name.to_ascii_lowercase();
        Kind::ALL.iter().copied().find(|k| {
            k.qualified_resource() == n
                || format!("{}.{}", k.name().to_ascii_lowercase(), k.group()) == n
        })
    })
}

/// kubectl's flags that the terminal understands, pulled out of the arguments.
#[derive(Default)]
struct Flags {
    namespace: Option<String>,
    all_namespaces: bool,
    output: Option<String>,
    selector: Option<String>,
    replicas: Option<String>,
    container: Option<String>,
    /// Everything after `--` (exec's command).
    command: Vec<String>,
    positional: Vec<String>,
}

fn parse_flags(args: &[String]) -> Result<Flags, TerminalOutput> {
    let mut f = Flags::default();
    let mut it = args.iter().enumerate();
    while let Some((i, a)) = it.next() {
        if a == "--" {
            f.command = args[i + 1..].to_vec();
            break;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if a.starts_with('-') => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |flag: &str| -> Result<String, TerminalOutput> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().map(|(_, v)| v.clone()).ok_or_else(|| {
                    TerminalOutput::err(1, format!("error: flag needs an argument: {flag}"))
                }),
            }
        };
        match name {
            "-n" | "--namespace" => f.namespace = Some(value(name)?),
            "-A" | "--all-namespaces" => f.all_namespaces = true,
            "-o" | "--output" => f.output = Some(value(name)?),
            "-l" | "--selector" => f.selector = Some(value(name)?),
            "--replicas" => f.replicas = Some(value(name)?),
            "-c" | "--container" => f.container = Some(value(name)?),
            "-i" | "-t" | "-it" | "-ti" | "--stdin" | "--tty" => {}
            "-w" | "--watch" => {
                return Err(TerminalOutput::err(
                    2,
                    "svclab: the terminal prints once; the map and the views update live",
                ));
            }
            _ if a.starts_with('-') && a.len() > 1 => {
                let shown = a.split('=').next().unwrap_or(a);
                return Err(TerminalOutput::err(
                    1,
                    format!("error: unknown flag: {shown}\nSee 'kubectl --help' for usage."),
                ));
            }
            _ => f.positional.push(a.clone()),
        }
    }
    Ok(f)
}

fn kubectl(cluster: &mut Cluster, args: &[String], seed: u64) -> TerminalOutput {
    let Some(verb) = args.first() else {
        return TerminalOutput::err(
            1,
            "svclab: kubectl here runs: get, scale, delete, exec (for example: kubectl get pods -o wide)",
        );
    };
    let flags = match parse_flags(&args[1..]) {
        Ok(f) => f,
        Err(e) => return e,
    };
    match verb.as_str() {
        "get" => get(cluster, &flags),
        "scale" => scale(cluster, &flags),
        "delete" => delete(cluster, &flags),
        "exec" => exec(cluster, &flags, seed),
        v => TerminalOutput::err(
            1,
            format!(
                "error: unknown command \"{v}\" for \"kubectl\"\nsvclab: this terminal runs kubectl get, scale, delete and exec; the full kubectl works against `lab-runner sim`"
            ),
        ),
    }
}

/// `TYPE NAME…`, `TYPE/NAME…` or `TYPE[,TYPE…]`: the kinds asked for and the names per kind.
fn targets(positional: &[String]) -> Result<Vec<(Kind, Vec<String>)>, TerminalOutput> {
    let unknown = |t: &str| {
        TerminalOutput::err(
            1,
            format!("error: the server doesn't have a resource type \"{t}\""),
        )
    };
    let Some(first) = positional.first() else {
        return Err(TerminalOutput::err(
            1,
            "You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete list of supported resources.",
        ));
    };
    if first.contains('/') {
        let mut out: Vec<(Kind, Vec<String>)> = Vec::new();
        for p in positional {
            let Some((t, name)) = p.split_once('/') else {
                return Err(TerminalOutput::err(
                    1,
                    format!(
                        "error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'\nsvclab: got {p:?}"
                    ),
                ));
            };
            let kind = resolve_kind(t).ok_or_else(|| unknown(t))?;
            match out.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, names)) => names.push(name.to_string()),
                None => out.push((kind, vec![name.to_string()])),
            }
        }
        return Ok(out);
    }
    let kinds: Vec<Kind> = if first == "all" {
        // `kubectl get all`'s category, in kubectl's order, for the kinds the simulator has.
        vec![
            Kind::Pod,
            Kind::Service,
            Kind::Deployment,
            Kind::ReplicaSet,
            Kind::StatefulSet,
        ]
    } else {
        first
            .split(',')
            .map(|t| resolve_kind(t).ok_or_else(|| unknown(t)))
            .collect::<Result<_, _>>()?
    };
    let names = positional[1..].to_vec();
    Ok(kinds.into_iter().map(|k| (k, names.clone())).collect())
}

fn get(cluster: &Cluster, f: &Flags) -> TerminalOutput {
    let targets = match targets(&f.positional) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let (wide, names_only) = match f.output.as_deref() {
        None => (false, false),
        Some("wide") => (true, false),
        Some("name") => (false, true),
        Some(o @ ("yaml" | "json" | "jsonpath" | "custom-columns")) => {
            return TerminalOutput::err(
                2,
                format!(
                    "svclab: -o {o} is not modelled in this terminal; `lab-runner sim` serves it to your real kubectl"
                ),
            );
        }
        Some(o) => {
            return TerminalOutput::err(
                1,
                format!(
                    "error: unable to match a printer suitable for the output format \"{o}\", allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml"
                ),
            );
        }
    };
    // `-l` as the apiserver parses `labelSelector` (its 400 for one it cannot read).
    let selector = match f.selector.as_deref().map(TextSelector::parse).transpose() {
        Ok(s) => s,
        Err(message) => return TerminalOutput::api(&ApiError::BadRequest { message }),
    };
    let ns = f.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let several = targets.len() > 1 || f.positional.first().is_some_and(|p| p.contains('/'));
    let mut out = TerminalOutput::default();
    let mut tables = Vec::new();
    for (kind, names) in &targets {
        let scope = (kind.namespaced() && !f.all_namespaces).then_some(ns);
        let mut objects: Vec<&Object> = Vec::new();
        if names.is_empty() {
            objects.extend(cluster.list(*kind, scope).filter(|o| {
                selector
                    .as_ref()
                    .is_none_or(|s| s.matches(o.meta().labels.as_ref()))
            }));
        } else {
            for name in names {
                match cluster.get(*kind, scope.unwrap_or(""), name) {
                    Some(o) => objects.push(o),
                    None => {
                        let e = ApiError::NotFound {
                            kind: *kind,
                            name: name.clone(),
                        };
                        out.stderr.push_str(&e.kubectl_message());
                        out.stderr.push('\n');
                        out.exit_code = 1;
                    }
                }
            }
        }
        if objects.is_empty() {
            continue;
        }
        if names_only {
            for o in &objects {
                out.stdout
                    .push_str(&format!("{}/{}\n", printers::kind_prefix(*kind), o.name()));
            }
            continue;
        }
        let mut table = printers::table(*kind, &objects, cluster.now_ms());
        if several {
            table = table.with_kind_prefix(*kind);
        }
        let with_ns = f.all_namespaces && kind.namespaced();
        tables.push(printers::render(&table, wide, with_ns));
    }
    out.stdout.push_str(&tables.join("\n"));
    if out.stdout.is_empty() && out.exit_code == 0 {
        let shown_ns =
            (targets.iter().any(|(k, _)| k.namespaced()) && !f.all_namespaces).then_some(ns);
        out.stderr = format!("{}\n", printers::no_resources(shown_ns));
    }
    out
}

fn scale(cluster: &mut Cluster, f: &Flags) -> TerminalOutput {
    let Some(replicas) = f.replicas.as_deref() else {
        return TerminalOutput::err(1, "error: required flag(s) \"replicas\" not set");
    };
    let Ok(replicas) = replicas.parse::<i32>() else {
        return TerminalOutput::err(
            1,
            format!(
                "error: invalid argument \"{replicas}\" for \"--replicas\" flag: strconv.ParseInt: parsing \"{replicas}\": invalid syntax"
            ),
        );
    };
    for_each_named(cluster, f, |cluster, kind, ns, name| {
        cluster
            .scale(kind, ns, name, replicas)
            .map(|_| format!("{}/{name} scaled\n", printers::kind_prefix(kind)))
    })
}

/// Runs `one` on every `TYPE NAME…` the arguments name, in the namespace of `-n`: its line on
/// stdout, or kubectl's error line on stderr (exit 1), and on with the next name, as kubectl does.
fn for_each_named(
    cluster: &mut Cluster,
    f: &Flags,
    mut one: impl FnMut(&mut Cluster, Kind, &str, &str) -> Result<String, ApiError>,
) -> TerminalOutput {
    let targets = match targets(&f.positional) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let ns = f.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let mut out = TerminalOutput::default();
    for (kind, names) in targets {
        if names.is_empty() {
            return TerminalOutput::err(
                1,
                "error: resource(s) were provided, but no name was specified",
            );
        }
        for name in names {
            match one(cluster, kind, ns, &name) {
                Ok(line) => out.stdout.push_str(&line),
                Err(e) => {
                    out.stderr.push_str(&e.kubectl_message());
                    out.stderr.push('\n');
                    out.exit_code = 1;
                }
            }
        }
    }
    out
}

fn delete(cluster: &mut Cluster, f: &Flags) -> TerminalOutput {
    for_each_named(cluster, f, |cluster, kind, ns, name| {
        cluster
            .delete(kind, ns, name)
            .map(|_| format!("{} \"{name}\" deleted\n", printers::kind_prefix(kind)))
    })
}

fn exec(cluster: &mut Cluster, f: &Flags, seed: u64) -> TerminalOutput {
    let Some(pod) = f.positional.first() else {
        return TerminalOutput::err(1, "error: pod, type/name or --filename must be specified");
    };
    let pod = pod.strip_prefix("pod/").unwrap_or(pod);
    if f.command.is_empty() {
        return TerminalOutput::err(
            1,
            "error: you must specify at least one command for the container",
        );
    }
    let ns = f.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    match crate::shell::exec(cluster, ns, pod, f.container.as_deref(), &f.command, seed) {
        Ok(o) => {
            for served in &o.served {
                // The serving pod was just found by the shell; it can only be gone if the
                // command deleted it, which no simulated tool does.
                let _ = cluster.record_served(served);
            }
            with_exit_line(o)
        }
        Err(ShellError::PodNotFound { name, .. }) => TerminalOutput::api(&ApiError::NotFound {
            kind: Kind::Pod,
            name,
        }),
        Err(e @ ShellError::NotModelled(_)) => TerminalOutput::err(2, format!("svclab: {e}")),
        Err(e) => TerminalOutput::err(1, format!("error: {e}")),
    }
}

/// kubectl's own line after a command that exited non-zero.
fn with_exit_line(o: ExecOutput) -> TerminalOutput {
    let mut out = TerminalOutput {
        stdout: o.stdout,
        stderr: o.stderr,
        exit_code: o.exit_code,
    };
    if o.exit_code != 0 {
        out.stderr.push_str(&format!(
            "command terminated with exit code {}\n",
            o.exit_code
        ));
    }
    out
}

fn docker(cluster: &Cluster, args: &[String]) -> TerminalOutput {
    let mut rest = args.iter().skip_while(|a| *a != "exec");
    if rest.next().is_none() {
        return TerminalOutput::err(
            1,
            "svclab: docker here only reaches the kind nodes: docker exec kind-worker iptables-save",
        );
    }
    let rest: Vec<&String> = rest
        .skip_while(|a| a.starts_with('-') && a.len() > 1)
        .collect();
    let Some(node) = rest.first() else {
        return TerminalOutput::err(
            1,
            "\"docker exec\" requires at least 2 arguments.\nSee 'docker exec --help'.\n\nUsage:  docker exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nExecute a command in a running container",
        );
    };
    let argv: Vec<String> = rest[1..].iter().map(|s| s.to_string()).collect();
    if argv.is_empty() {
        return TerminalOutput::err(
            1,
            "\"docker exec\" requires at least 2 arguments.\nSee 'docker exec --help'.\n\nUsage:  docker exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nExecute a command in a running container",
        );
    }
    match node_exec(cluster, node, &argv) {
        Ok(o) => TerminalOutput {
            stdout: o.stdout,
            stderr: o.stderr,
            exit_code: o.exit_code,
        },
        // What docker says for a container that does not exist.
        Err(ApiError::NotFound { .. }) => TerminalOutput::err(
            1,
            format!("Error response from daemon: No such container: {node}"),
        ),
        Err(e) => TerminalOutput::err(1, e.to_string()),
    }
}

/// Completion of a command line's last word.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// Byte offset in the line where the completed word starts.
    pub start: usize,
    /// Candidates for that word, sorted, each complete.
    pub candidates: Vec<String>,
}

impl Completion {
    /// The line with the word replaced by the candidates' longest common prefix (a trailing
    /// space when exactly one candidate fits), as bash's Tab does.
    pub fn apply(&self, line: &str) -> String {
        let Some(first) = self.candidates.first() else {
            return line.to_string();
        };
        let common = self
            .candidates
            .iter()
            .skip(1)
            .fold(first.as_str(), |acc, c| {
                let n = acc
                    .char_indices()
                    .zip(c.chars())
                    .take_while(|((_, a), b)| a == b)
                    .last()
                    .map_or(0, |((i, a), _)| i + a.len_utf8());
                &acc[..n]
            });
        let mut out = format!("{}{common}", &line[..self.start]);
        if self.candidates.len() == 1 {
            out.push(' ');
        }
        out
    }
}

/// The candidates for the last word of `line` (the word under a cursor at the end).
pub fn complete(cluster: &Cluster, line: &str) -> Completion {
    let start = line.rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
    let word = &line[start..];
    let before: Vec<&str> = line[..start].split_whitespace().collect();
    let ns = before
        .windows(2)
        .find(|w| w[0] == "-n" || w[0] == "--namespace")
        .map_or(DEFAULT_NAMESPACE, |w| w[1]);
    let names = |kind: Kind| -> Vec<String> {
        let scope = kind.namespaced().then_some(ns);
        cluster
            .list(kind, scope)
            .map(|o| o.name().to_string())
            .collect()
    };
    let resource_types = || -> Vec<String> {
        let mut v: Vec<String> = Kind::ALL
            .iter()
            .flat_map(|k| {
                std::iter::once(k.resource().to_string())
                    .chain(k.short_names().iter().map(|s| s.to_string()))
            })
            .collect();
        v.push("all".into());
        v
    };
    let positional: Vec<&str> = before
        .iter()
        .skip(1)
        .copied()
        .filter(|w| !w.starts_with('-'))
        .collect();
    let mut candidates: Vec<String> = match (before.first().copied(), positional.as_slice()) {
        (None, _) => COMMANDS.iter().map(|s| s.to_string()).collect(),
        (Some("kubectl" | "k"), []) => KUBECTL_VERBS.iter().map(|s| s.to_string()).collect(),
        (Some("kubectl" | "k"), ["exec", ..]) if before.contains(&"--") => {
            let after: Vec<&&str> = before.iter().skip_while(|w| **w != "--").skip(1).collect();
            if after.is_empty() {
                POD_TOOLS[..3]
                    .iter()
                    .chain(["cat", "env", "hostname", "ip"].iter())
                    .map(|s| s.to_string())
                    .collect()
            } else {
                // Names a tool in a pod may look up or fetch: the namespace's Services.
                names(Kind::Service)
            }
        }
        (Some("kubectl" | "k"), ["exec"]) => names(Kind::Pod),
        (Some("kubectl" | "k"), [_verb]) => {
            if let Some((t, _)) = word.split_once('/') {
                match resolve_kind(t) {
                    Some(k) => names(k).into_iter().map(|n| format!("{t}/{n}")).collect(),
                    None => Vec::new(),
                }
            } else {
                resource_types()
            }
        }
        (Some("kubectl" | "k"), [_verb, t, ..]) => resolve_kind(t).map(names).unwrap_or_default(),
        (Some("docker"), []) => vec!["exec".into()],
        (Some("docker"), ["exec"]) => names(Kind::Node),
        (Some("docker"), ["exec", _node]) => {
            NODE_TOOLS[..4].iter().map(|s| s.to_string()).collect()
        }
        _ => Vec::new(),
    };
    if word.starts_with('-') {
        candidates = ["-n", "--namespace", "-A", "-o", "-l", "--replicas", "-c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    candidates.retain(|c| c.starts_with(word));
    candidates.sort();
    candidates.dedup();
    Completion { start, candidates }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAPTER: &str = concat!(
        include_str!("../../tests/data/httpd-deployment.yaml"),
        "\n---\n",
        include_str!("../../tests/data/httpd-service.yaml"),
        "\n---\n",
        include_str!("../../tests/data/clientpod.yaml"),
    );

    fn chapter() -> Cluster {
        let mut c = Cluster::kind();
        c.apply_manifests(CHAPTER).unwrap();
        c.settle();
        c
    }

    #[test]
    fn get_svc_prints_kubectls_table() {
        let mut c = chapter();
        let o = run(&mut c, "kubectl get svc", 1);
        assert_eq!(o.exit_code, 0, "{o:?}");
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert!(
            lines[0].starts_with("NAME         TYPE        CLUSTER-IP"),
            "{}",
            o.stdout
        );
        assert!(lines.iter().any(|l| l.starts_with("httpd-svc ")
            && l.contains("ClusterIP")
            && l.contains("8080/TCP")));
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("kubernetes ") && l.contains("10.96.0.1"))
        );
    }

    #[test]
    fn get_several_kinds_prefixes_names_and_separates_tables() {
        let mut c = chapter();
        let o = run(&mut c, "kubectl get deploy,svc", 1);
        assert_eq!(o.exit_code, 0);
        let tables: Vec<&str> = o.stdout.split("\n\n").collect();
        assert_eq!(tables.len(), 2, "{}", o.stdout);
        assert!(tables[0].contains("deployment.apps/httpd "));
        assert!(tables[1].contains("service/httpd-svc "));
    }

    #[test]
    fn get_wide_name_selector_and_namespaces() {
        let mut c = chapter();
        let wide = run(&mut c, "kubectl get pods -o wide -l app=httpd", 1);
        assert!(wide.stdout.starts_with("NAME "), "{wide:?}");
        assert!(wide.stdout.lines().next().unwrap().contains("NODE"));
        assert_eq!(wide.stdout.lines().count(), 4, "{}", wide.stdout);
        let names = run(&mut c, "kubectl get po -o name -l app=httpd", 1);
        assert_eq!(names.stdout.lines().count(), 3);
        assert!(names.stdout.lines().all(|l| l.starts_with("pod/httpd-")));
        let dns = run(&mut c, "kubectl get svc -n kube-system", 1);
        assert!(dns.stdout.contains("kube-dns") && dns.stdout.contains("10.96.0.10"));
        let all = run(&mut c, "kubectl get svc -A", 1);
        assert!(all.stdout.starts_with("NAMESPACE "));
        let none = run(&mut c, "kubectl get svc -l app=none", 1);
        assert_eq!(none.stdout, "");
        assert_eq!(none.stderr, "No resources found in default namespace.\n");
    }

    #[test]
    fn errors_are_kubectls() {
        let mut c = chapter();
        let before = c.resource_version();
        let o = run(&mut c, "kubectl get svc nope", 1);
        assert_eq!(
            o.stderr,
            "Error from server (NotFound): services \"nope\" not found\n"
        );
        assert_eq!(o.exit_code, 1);
        let o = run(&mut c, "kubectl get frobs", 1);
        assert_eq!(
            o.stderr,
            "error: the server doesn't have a resource type \"frobs\"\n"
        );
        let o = run(&mut c, "kubectl get pods --bogus", 1);
        assert!(
            o.stderr.starts_with("error: unknown flag: --bogus\n"),
            "{o:?}"
        );
        let o = run(&mut c, "kubectl scale deployment httpd --replicas=x", 1);
        assert!(o.stderr.contains("invalid argument \"x\""), "{o:?}");
        let o = run(&mut c, "kubectl get pods | grep httpd", 1);
        assert_eq!(o.exit_code, 2);
        assert!(o.stderr.starts_with("svclab: "));
        let o = run(&mut c, "frob", 1);
        assert_eq!(
            (o.stderr.as_str(), o.exit_code),
            ("bash: frob: command not found\n", 127)
        );
        let o = run(&mut c, "docker exec kind-nope iptables-save", 1);
        assert_eq!(
            o.stderr,
            "Error response from daemon: No such container: kind-nope\n"
        );
        assert_eq!(c.resource_version(), before, "errors change nothing");
    }

    #[test]
    fn scale_and_delete_change_the_cluster() {
        let mut c = chapter();
        let o = run(&mut c, "kubectl scale deployment httpd --replicas=5", 1);
        assert_eq!(o.stdout, "deployment.apps/httpd scaled\n");
        c.settle();
        let eps = run(&mut c, "kubectl get endpoints httpd-svc", 1);
        assert_eq!(
            eps.stdout.lines().nth(1).unwrap().matches(":80").count(),
            3,
            "{}",
            eps.stdout
        );
        assert!(eps.stdout.contains("+ 2 more..."), "{}", eps.stdout);
        let pod = run(&mut c, "kubectl get pods -o name -l app=httpd", 1)
            .stdout
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("pod/")
            .to_string();
        let o = run(&mut c, &format!("kubectl delete pod {pod}"), 1);
        assert_eq!(o.stdout, format!("pod \"{pod}\" deleted\n"));
        c.settle();
        let after = run(&mut c, "kubectl get pods -o name -l app=httpd", 1).stdout;
        assert_eq!(after.lines().count(), 5, "the ReplicaSet replaced it");
        assert!(!after.contains(&pod));
    }

    #[test]
    fn exec_runs_the_pods_tools_and_docker_exec_the_nodes() {
        let mut c = chapter();
        let o = run(
            &mut c,
            "kubectl exec clientpod -- wget -qO- httpd-svc:8080",
            3,
        );
        assert_eq!(o.stdout, crate::shell::IT_WORKS, "{o:?}");
        let o = run(
            &mut c,
            "kubectl exec -it clientpod -- nslookup nope.example",
            3,
        );
        assert_ne!(o.exit_code, 0);
        assert!(
            o.stderr.ends_with(&format!(
                "command terminated with exit code {}\n",
                o.exit_code
            )),
            "{o:?}"
        );
        let o = run(&mut c, "kubectl exec nopod -- ls", 3);
        assert_eq!(
            o.stderr,
            "Error from server (NotFound): pods \"nopod\" not found\n"
        );
        let o = run(&mut c, "docker exec kind-worker iptables-save", 3);
        assert!(o.stdout.contains("-A KUBE-SERVICES"), "{o:?}");
        let o = run(&mut c, "nslookup httpd-svc", 3);
        assert_eq!(o.exit_code, 127);
        assert!(o.stderr.contains("kubectl exec POD -- nslookup httpd-svc"));
    }

    #[test]
    fn completion_offers_the_next_word() {
        let c = chapter();
        let cands = |line: &str| complete(&c, line).candidates;
        assert_eq!(cands("kub"), vec!["kubectl"]);
        assert_eq!(complete(&c, "kub").apply("kub"), "kubectl ");
        assert_eq!(cands("kubectl g"), vec!["get"]);
        assert!(cands("kubectl get s").contains(&"svc".to_string()));
        assert_eq!(cands("kubectl get svc httpd"), vec!["httpd-svc"]);
        assert_eq!(cands("kubectl get svc/k"), vec!["svc/kubernetes"]);
        assert_eq!(
            cands("kubectl get svc -n kube-system kube"),
            vec!["kube-dns"]
        );
        assert_eq!(cands("kubectl exec cl"), vec!["clientpod"]);
        assert!(cands("kubectl exec clientpod -- ").contains(&"nslookup".to_string()));
        assert_eq!(
            cands("kubectl exec clientpod -- nslookup ht"),
            vec!["httpd-svc"]
        );
        assert_eq!(
            cands("docker exec kind-w"),
            vec!["kind-worker", "kind-worker2"]
        );
        assert_eq!(
            complete(&c, "docker exec kind-w").apply("docker exec kind-w"),
            "docker exec kind-worker"
        );
        assert!(cands("docker exec kind-worker ip").contains(&"ipvsadm".to_string()));
        let pods = cands("kubectl delete pod httpd-");
        assert_eq!(pods.len(), 3);
    }
}
