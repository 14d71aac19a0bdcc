//! The grader: `lab-runner list`, `show LAB`, `check LAB`, `watch LAB`, `hint LAB [CHECK]`,
//! `reset LAB` / `solve LAB` ([`mod@change`]: the lab's starting state or its solution, on the
//! sim, elsewhere only with `--force`) and `cluster create|delete` ([`kind`]).
//!
//! `check` is the functional core's imperative shell (see `lab_core::lab`): it lists the
//! cluster's objects through kube-rs into a `LabSnapshot` ([`cluster`]), asks the lab which
//! probes its checks need, runs them ([`probes`]: an exec in a pod, a node command, a request to
//! a nodePort), and prints the lab's `Report` ([`output`]) as text, JSON or JUnit XML. One code
//! path for kind and the sim: without `--context`/`--kubeconfig` it grades the sim through
//! `$SVCLAB_HOME/kubeconfig`.
//!
//! The sim is recognised by `GET /svclab/v1/info`, never by a context name: a second sim under a
//! context called `staging` is the sim (its probe pod is created, its nodes answer through the
//! sim), and a context called `kind-x` that does not answer the sim's path is a real cluster.
//! Safety: the grader only reads, except for its probe pod (`default/svclab-probe`), created on
//! the sim and on `kind-*` contexts only, elsewhere only with `--allow-context`.
//!
//! Exit codes: 0 every check passed, 1 some failed, 2 none could be made or some could not be
//! made (unknown lab, sim not running, unknown context, cluster unreachable, RBAC forbidding a
//! read, a probe that could not run).

mod change;
pub(crate) mod cluster;
mod kind;
mod labs;
mod output;
pub(crate) mod probes;

use crate::EXIT_FAILURE;
use anyhow::{Context, Result};
use lab_core::lab::{Lab, LabSnapshot, Lang, Probe, ProbeResult, Report, Status, Text};
use output::Style;
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

/// The labs folder option every grader command takes.
#[derive(clap::Args, Debug)]
pub struct LabsDir {
    /// The labs folder (default: $SVCLAB_LABS, ./labs, or the checkout's labs).
    #[arg(long = "labs", value_name = "DIR")]
    labs: Option<PathBuf>,
}

/// The language option (`zh`, `zh-CN` or `en`; default from LC_ALL, LC_MESSAGES, LANG).
#[derive(clap::Args, Debug)]
pub struct LangArg {
    /// Language of the texts: zh (zh-CN) or en (default: from LC_ALL / LC_MESSAGES / LANG).
    #[arg(long, value_enum, value_name = "LANG")]
    lang: Option<crate::Lang>,
}

impl LangArg {
    pub(crate) fn resolve(&self) -> Lang {
        match self.lang {
            Some(crate::Lang::En) => Lang::En,
            Some(crate::Lang::ZhCn) => Lang::ZhCn,
            None => locale_lang(|k| std::env::var(k).ok()),
        }
    }
}

/// The language of the locale, as setlocale reads it (LC_ALL, then LC_MESSAGES, then LANG; the
/// first set one decides); English for C/POSIX or anything else unknown.
fn locale_lang(var: impl Fn(&str) -> Option<String>) -> Lang {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| var(k).filter(|v| !v.is_empty()))
        .next()
        .and_then(|v| Lang::parse(v.split('.').next().unwrap_or("")))
        .unwrap_or(Lang::En)
}

/// `lab-runner list` arguments.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    lang: LangArg,
    #[command(flatten)]
    labs: LabsDir,
}

/// `lab-runner show` arguments.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The lab (its id, e.g. 01-clusterip, or a prefix only it has, e.g. 01).
    lab: String,
    #[command(flatten)]
    lang: LangArg,
    #[command(flatten)]
    labs: LabsDir,
}

/// `lab-runner hint` arguments.
#[derive(clap::Args, Debug)]
pub struct HintArgs {
    /// The lab.
    lab: String,
    /// One check's hint (default: the lab's hints).
    check: Option<String>,
    #[command(flatten)]
    lang: LangArg,
    #[command(flatten)]
    labs: LabsDir,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Coloured text for people.
    Text,
    /// The report as JSON (schema svclab.dev/lab-report/v1, docs/lab-report.schema.json).
    Json,
    /// JUnit XML: one testsuite per lab, one testcase per check.
    Junit,
}

/// Which cluster: the sim by default.
#[derive(clap::Args, Debug)]
pub struct ClusterArgs {
    /// The kubeconfig context (default: the kubeconfig's current context).
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
    /// The kubeconfig (default: the sim's, $SVCLAB_HOME/kubeconfig; with --context alone,
    /// $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub(crate) kubeconfig: Option<PathBuf>,
}

/// `lab-runner reset` and `solve` arguments.
#[derive(clap::Args, Debug)]
pub struct ChangeArgs {
    /// The lab.
    lab: String,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Also on a cluster that is not the sim.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    labs: LabsDir,
}

/// What `check` and `watch` take.
#[derive(clap::Args, Debug)]
pub struct GradeArgs {
    /// The lab.
    lab: String,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Let the grader create its probe pod (default/svclab-probe) on a context that is neither
    /// the sim nor kind-*.
    #[arg(long)]
    allow_context: bool,
    #[command(flatten)]
    lang: LangArg,
    #[command(flatten)]
    labs: LabsDir,
}

/// `lab-runner check` arguments.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    grade: GradeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// `lab-runner cluster` arguments.
#[derive(clap::Args, Debug)]
pub struct KindArgs {
    #[command(subcommand)]
    command: KindCommand,
}

#[derive(clap::Subcommand, Debug)]
enum KindCommand {
    /// Create a kind cluster for the labs (kind and Docker needed).
    ///
    /// Writes $SVCLAB_HOME/kind-config.yaml: a control plane and two workers, every nodePort the
    /// labs reach from outside mapped from 127.0.0.1 to the first worker, and with --lab that
    /// lab's kube-proxy mode; then runs `kind create cluster`. The context is `kind-NAME`.
    Create(CreateArgs),
    /// Delete the kind cluster (`kind delete cluster --name NAME`).
    Delete {
        /// The cluster's name.
        #[arg(long, default_value = "kind")]
        name: String,
    },
}

/// `lab-runner cluster create` arguments.
#[derive(clap::Args, Debug)]
struct CreateArgs {
    /// The cluster's name (its context is kind-NAME).
    #[arg(long, default_value = "kind")]
    name: String,
    /// The node image.
    #[arg(long, default_value = kind::NODE_IMAGE)]
    image: String,
    /// Shape the cluster for one lab (its nodePorts and kube-proxy mode); default: every lab's
    /// nodePorts, iptables.
    #[arg(long, value_name = "LAB")]
    lab: Option<String>,
    /// Print the kind config and stop.
    #[arg(long)]
    print_config: bool,
    #[command(flatten)]
    labs: LabsDir,
}

/// `lab-runner cluster create|delete`.
pub fn kind_cluster(args: &KindArgs) -> Result<ExitCode> {
    let exit = |r: std::result::Result<i32, String>| match r {
        Ok(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(EXIT_FAILURE))),
        Err(e) => failure(&e),
    };
    let a = match &args.command {
        KindCommand::Delete { name } => return exit(kind::delete(name)),
        KindCommand::Create(a) => a,
    };
    let labs: Vec<Lab> = match &a.lab {
        Some(name) => match find_lab(&a.labs, name) {
            Ok((lab, _)) => vec![lab],
            Err(e) => return failure(&e),
        },
        None => {
            let loaded = labs::root(a.labs.labs.as_deref()).and_then(|r| labs::all(&r));
            match loaded {
                Ok(dirs) => dirs.into_iter().filter_map(|d| d.lab.ok()).collect(),
                Err(e) => return failure(&e),
            }
        }
    };
    let mode = match (&a.lab, labs.first()) {
        (Some(_), Some(lab)) => lab.cluster.kube_proxy_mode.map(|m| m.as_str()),
        _ => None,
    };
    let refs: Vec<&Lab> = labs.iter().collect();
    let text = kind::config(&refs, mode);
    if a.print_config {
        return print(&text);
    }
    let path = crate::sim::svclab_home()?.join("kind-config.yaml");
    exit(kind::create(&a.name, &a.image, &text, &path))
}

fn failure(message: &str) -> Result<ExitCode> {
    eprintln!("{message}");
    Ok(ExitCode::from(EXIT_FAILURE))
}

fn print(text: &str) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("writing to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn find_lab(dir: &LabsDir, name: &str) -> std::result::Result<(Lab, PathBuf), String> {
    let root = labs::root(dir.labs.as_deref())?;
    labs::find(&root, name)
}

/// `lab-runner list`. Exit 2 if a lab.yaml is broken (the others are still listed).
pub fn list(args: &ListArgs) -> Result<ExitCode> {
    let root = match labs::root(args.labs.labs.as_deref()) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let dirs = match labs::all(&root) {
        Ok(d) => d,
        Err(e) => return failure(&e),
    };
    let broken = dirs.iter().any(|d| d.lab.is_err());
    let rows: Vec<output::ListRow> = dirs
        .into_iter()
        .map(|d| {
            let row = d.lab.map(|l| (l.title, l.checks.len()));
            (d.name, row)
        })
        .collect();
    let style = Style::detect(std::io::stdout().is_terminal());
    print(&output::list(&rows, args.lang.resolve(), style))?;
    Ok(if broken {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// `lab-runner show LAB`.
pub fn show(args: &ShowArgs) -> Result<ExitCode> {
    match find_lab(&args.labs, &args.lab) {
        Ok((lab, _)) => {
            let style = Style::detect(std::io::stdout().is_terminal());
            print(&output::show(&lab, args.lang.resolve(), style))
        }
        Err(e) => failure(&e),
    }
}

/// `lab-runner hint LAB [CHECK]`.
pub fn hint(args: &HintArgs) -> Result<ExitCode> {
    let lab = match find_lab(&args.labs, &args.lab) {
        Ok((lab, _)) => lab,
        Err(e) => return failure(&e),
    };
    let style = Style::detect(std::io::stdout().is_terminal());
    match output::hint(&lab, args.check.as_deref(), args.lang.resolve(), style) {
        Ok(text) => print(&text),
        Err(e) => failure(&e),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Which of `reset` and `solve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Back to the lab's starting state.
    Reset,
    /// The lab's solution applied.
    Solve,
}

/// `lab-runner reset LAB` and `lab-runner solve LAB`: on the sim, elsewhere only with --force.
pub fn change(args: &ChangeArgs, what: Change) -> Result<ExitCode> {
    let (lab, dir) = match find_lab(&args.labs, &args.lab) {
        Ok(found) => found,
        Err(e) => return failure(&e),
    };
    let target = &args.cluster;
    let done = runtime()?.block_on(async {
        let c = crate::node::connect(target.kubeconfig.as_deref(), target.context.as_deref())
            .await?;
        if !c.is_sim && !args.force {
            let verb = match what {
                Change::Reset => "reset",
                Change::Solve => "solve",
            };
            return Err(format!(
                "error: context {:?} is not the svclab sim: `{verb}` changes the cluster's objects there only with --force",
                c.context
            ));
        }
        match what {
            Change::Reset => change::reset(&c, &lab, &dir).await,
            Change::Solve => change::solve(&c, &dir).await,
        }
    });
    match done {
        Ok(lines) => {
            let mut text = lines.join("\n");
            text.push('\n');
            print(&text)
        }
        Err(e) => failure(&e),
    }
}

/// `lab-runner check LAB`.
pub fn check(args: &CheckArgs) -> Result<ExitCode> {
    let format = args.format;
    let args = &args.grade;
    let lab = match find_lab(&args.labs, &args.lab) {
        Ok((lab, _)) => lab,
        Err(e) => return failure(&e),
    };
    let graded = runtime()?.block_on(grade(&lab, &args.cluster, args.allow_context));
    let (report, cluster) = match graded {
        Ok(g) => g,
        Err(message) => return failure(&message),
    };
    let lang = args.lang.resolve();
    let text = match format {
        Format::Json => output::json(&report),
        Format::Junit => output::junit(&lab, &report, lang),
        Format::Text => {
            let style = Style::detect(std::io::stdout().is_terminal());
            output::text(&lab, &report, cluster.get(lang), lang, style)
        }
    };
    print(&text)?;
    Ok(ExitCode::from(
        u8::try_from(report.exit_code()).unwrap_or(EXIT_FAILURE),
    ))
}

/// Connects, gathers, probes and evaluates: the report and a line saying what was graded, or
/// the message for exit 2.
async fn grade(
    lab: &Lab,
    target: &ClusterArgs,
    allow_context: bool,
) -> std::result::Result<(Report, Text), String> {
    let c = crate::node::connect(target.kubeconfig.as_deref(), target.context.as_deref()).await?;
    let snapshot = cluster::snapshot(&c).await?;
    let report = grade_snapshot(&c, lab, snapshot, allow_context).await?;
    Ok((report, context_line(&c)))
}

/// What was graded: `context NAME (SERVER[, the svclab sim])`, in both languages.
fn context_line(c: &crate::node::Connected) -> Text {
    let (ctx, server) = (&c.context, &c.server);
    if c.is_sim {
        Text::new(
            format!("上下文 {ctx}（{server}，svclab 模拟集群）"),
            format!("context {ctx} ({server}, the svclab sim)"),
        )
    } else {
        Text::new(
            format!("上下文 {ctx}（{server}）"),
            format!("context {ctx} ({server})"),
        )
    }
}

/// Probes and evaluates a snapshot just taken (taken again if the probe pod had to be made).
async fn grade_snapshot(
    c: &crate::node::Connected,
    lab: &Lab,
    mut snapshot: LabSnapshot,
    allow_context: bool,
) -> std::result::Result<Report, String> {
    let mut probes = lab.probes(&snapshot);
    let mut blocked = None;
    if probes.iter().any(probes::in_probe_pod) {
        let may = cluster::may_create_probe_pod(c.is_sim, &c.context, allow_context);
        match probes::ensure_probe_pod(c, may).await {
            Ok(true) => {
                // The probe pod is part of the cluster now: grade what is there.
                snapshot = cluster::snapshot(c).await?;
                probes = lab.probes(&snapshot);
            }
            Ok(false) => {}
            Err(why) => {
                eprintln!("note: {why}");
                blocked = Some(why);
            }
        }
    }
    // Probes that cannot run are left out: their checks come back as "could not be checked"
    // (exit 2), saying why.
    let runnable: Vec<Probe> = probes
        .iter()
        .filter(|p| blocked.is_none() || !probes::in_probe_pod(p))
        .cloned()
        .collect();
    let results = run_probes(c, &runnable).await;
    let mut report = lab.evaluate(&snapshot, &results);
    if let Some(why) = &blocked {
        for check in &mut report.checks {
            let was_blocked = probes
                .iter()
                .any(|p| p.check == check.id && probes::in_probe_pod(p));
            if was_blocked && check.status == Status::Error {
                check.found = Text::same(why.clone());
            }
        }
    }
    Ok(report)
}

/// How often `watch` looks for a change.
const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(1000);

/// `lab-runner watch LAB`: grades, then grades again whenever an object of the cluster changes
/// (Events aside), redrawing the report, until every check passes (exit 0). Ctrl-C ends it
/// with the last report's exit code; losing the cluster ends it with 2.
pub fn watch(args: &GradeArgs) -> Result<ExitCode> {
    let lab = match find_lab(&args.labs, &args.lab) {
        Ok((lab, _)) => lab,
        Err(e) => return failure(&e),
    };
    let lang = args.lang.resolve();
    let terminal = std::io::stdout().is_terminal();
    let style = Style::detect(terminal);
    let target = &args.cluster;
    let watched: std::result::Result<u8, String> = runtime()?.block_on(async {
        let c =
            crate::node::connect(target.kubeconfig.as_deref(), target.context.as_deref()).await?;
        let context = context_line(&c);
        let mut seen: Option<Vec<cluster::Version>> = None;
        let mut code = EXIT_FAILURE;
        // Registered now, so a Ctrl-C during the first grading is not lost.
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| format!("error: listening for Ctrl-C: {e}"))?;
        loop {
            let snapshot = cluster::snapshot(&c).await?;
            let versions = cluster::versions(&snapshot);
            if seen.as_ref() != Some(&versions) {
                seen = Some(versions);
                let report = grade_snapshot(&c, &lab, snapshot, args.allow_context).await?;
                code = u8::try_from(report.exit_code()).unwrap_or(EXIT_FAILURE);
                let mut text = String::new();
                if terminal {
                    text.push_str("\x1b[2J\x1b[H");
                }
                text.push_str(&output::text(&lab, &report, context.get(lang), lang, style));
                if report.all_passed() {
                    print(&text).map_err(|e| format!("error: {e:#}"))?;
                    return Ok(0);
                }
                text.push_str(match lang {
                    Lang::En => "watching for changes (Ctrl-C to stop)…\n",
                    Lang::ZhCn => "正在等待集群变化（按 Ctrl-C 结束）…\n",
                });
                print(&text).map_err(|e| format!("error: {e:#}"))?;
            }
            tokio::select! {
                _ = tokio::time::sleep(WATCH_POLL) => {}
                _ = interrupt.recv() => return Ok(code),
            }
        }
    });
    match watched {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(e) => failure(&e),
    }
}

/// Runs the probes with a progress line on a terminal's stderr.
async fn run_probes(c: &crate::node::Connected, probes: &[Probe]) -> Vec<ProbeResult> {
    let live = std::io::stderr().is_terminal() && !probes.is_empty();
    let runner = probes::Runner::new(c);
    let results = runner
        .run(probes, |done, total| {
            if live {
                eprint!("\rprobing {done}/{total}…");
            }
        })
        .await;
    if live {
        eprint!("\r\x1b[2K");
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_picks_the_language() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(locale_lang(env(&[("LANG", "zh_CN.UTF-8")])), Lang::ZhCn);
        assert_eq!(
            locale_lang(env(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "zh_CN.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            locale_lang(env(&[("LC_ALL", ""), ("LANG", "zh_TW.UTF-8")])),
            Lang::ZhCn
        );
        assert_eq!(locale_lang(env(&[("LANG", "C.UTF-8")])), Lang::En);
        assert_eq!(locale_lang(env(&[])), Lang::En);
    }
}
