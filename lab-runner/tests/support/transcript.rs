//! Transcript tests: shell sessions written down in Markdown, run against a fresh `lab-runner
//! sim` with the machine's real `kubectl`, `curl` and `dig`, and compared with what they print.
//!
//! A test binary uses it as `mod support; #[path = "support/transcript.rs"] mod transcript;` and
//! calls [`run`] once per file (see `lab-runner/tests/transcripts.rs`).
//!
//! # The file
//!
//! Only fenced blocks whose info string is `console` are run; everything else (prose, other
//! blocks) is left alone, so a transcript reads as a page of the book. Inside a block:
//!
//! - `$ COMMAND` runs `COMMAND` with `bash -c`. Lines right after it that start with `> ` (or are
//!   just `>`) continue it, joined with newlines, as a terminal shows a heredoc or a line ending in
//!   `\`.
//! - The lines that follow, up to the next command, a directive or the end of the block, are what
//!   the command prints: plain lines are its stdout, `! TEXT` lines its stderr (`!` alone: an empty
//!   line), and `? N` its exit code. By default the exit code must be 0 and stderr empty. Blank
//!   lines count: an expected output has exactly the lines written (a missing final newline in the
//!   real output is not a difference). stdout and stderr are compared separately, each in order.
//! - `# until 30s` (or `2m`) on the line before a command re-runs the command until its output
//!   matches, every half second, for at most that long: for steps that become true eventually
//!   (pods Ready, a deleted pod replaced, a NodePort listener opened). The only directive; any
//!   other line starting with `#` is output (`iptables-save` prints such lines).
//!
//! So an expected stdout line cannot start with `$ `, `! `, `? ` or `# until `, nor (right after
//! its command) with `> `.
//!
//! # Matching
//!
//! Exact, character for character, with two exceptions:
//!
//! - A run of two or more spaces matches any run of two or more spaces. kubectl pads a table's
//!   columns to their widest cell, and that width changes with the values placeholders stand for;
//!   single spaces stay exact. Spaces at the end of a line are ignored, on both sides (editors
//!   drop them; kubectl prints one after `is invalid:` when a list of causes follows).
//! - Placeholders, in square brackets, for what legitimately varies:
//!
//!   | placeholder | matches |
//!   |---|---|
//!   | `[..]` | any text within the line, possibly empty |
//!   | `[IP]` | an IPv4 address |
//!   | `[AGE]` | a kubectl age: `5s`, `3m20s`, `2d`, `<unknown>` |
//!   | `[N]` | a decimal number (a resourceVersion, a restart count, a port) |
//!   | `[HASH]` | lowercase letters and digits (a pod-template-hash, a pod name's suffix) |
//!   | `[NAME]` | a DNS name: lowercase letters, digits, `-` and `.` |
//!   | `[...]` | a whole line by itself: any number of lines, possibly none |
//!
//!   Any other bracketed text (`[flags]`, `[::1]`) is literal.
//!
//! A placeholder with a name, `[IP:cluster_ip]` or `[...:state]`, is a capture: the first time it
//! matches it binds the name to the text it matched; every later use of the name (in any
//! placeholder kind) must match exactly that text. Names are lowercase (`[a-z_][a-z0-9_]*`), and
//! each later command gets them as environment variables: `$ kubectl exec clientpod -- nslookup
//! $cluster_ip`. A step that fails binds nothing, so a retried step binds afresh.
//!
//! # Where commands run
//!
//! Each file gets its own fresh sim (`lab-runner sim` on free ports), its own kubectl cache and
//! HOME, and a fresh working directory holding a copy of the files given to [`run`] (the
//! chapter's manifests), so `kubectl apply -f httpd-service.yaml` works as in the chapter and a
//! transcript may write files of its own. The environment is cleared except for:
//!
//! - `PATH`: a folder whose `lab-runner` is the binary under test, then the machine's `PATH`
//!   (`kubectl`, `curl`, `dig`, … are the real ones);
//! - `KUBECONFIG` and `SVCLAB_HOME` (the sim's: `lab-runner node exec` finds it there),
//!   `KUBECACHEDIR`, `HOME`, `LC_ALL=C`, `DATA` (the working directory);
//! - `SIM_API_PORT`, `SIM_DNS_PORT`, `SIM_NODEPORT_OFFSET`: where the sim listens;
//! - the captures so far.
//!
//! A transcript is written for a sim started the default way (`lab-runner sim`: API on 6443, DNS
//! on 10053, NodePorts on their own numbers), so a reader can type its commands as they are. The
//! runner rewrites each command for the sim it started: `127.0.0.1:6443` and `127.0.0.1:10053`
//! become the sim's ports, `127.0.0.1:P` for a NodePort P (30000–32767) becomes
//! `127.0.0.1:P+offset`, and `-p 10053` in a command with `@127.0.0.1` (dig) the DNS port. Output
//! is not rewritten. A command that runs longer than a minute is killed and fails the file.
//!
//! # Failures
//!
//! The first step that does not match stops the file with a panic naming `file:line` of the
//! command, the command, and a line diff of expected (`-`, with their line numbers) against actual
//! (`+`) for the stream that differs, or the exit codes.

#![allow(dead_code)]

use crate::support::{Sim, free_offset};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often an `# until` step is re-run.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// How long one command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One command of a transcript and what it must print.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The line of the `$` in the file (1-based).
    pub line: usize,
    pub command: String,
    pub stdout: Vec<Expected>,
    pub stderr: Vec<Expected>,
    pub code: i32,
    /// `# until`: how long to keep re-running the command until it matches.
    pub until: Option<Duration>,
}

/// One expected line, with the line of the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub line: usize,
    pub text: String,
}

/// Reads the steps of a transcript's `console` blocks.
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps: Vec<Step> = Vec::new();
    // Inside a fenced block: `Some(true)` for a `console` one.
    let mut fence: Option<bool> = None;
    let mut until: Option<(usize, Duration)> = None;
    // Whether the lines now are a command's `> ` continuation lines.
    let mut continuing = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = raw.trim_end();
        match fence {
            None => {
                if let Some(info) = trimmed.trim_start().strip_prefix("```") {
                    fence = Some(info.split_whitespace().next() == Some("console"));
                }
                continue;
            }
            Some(false) => {
                if trimmed.trim_start() == "```" {
                    fence = None;
                }
                continue;
            }
            Some(true) => {}
        }
        if trimmed == "```" {
            fence = None;
            continuing = false;
            if let Some((line, _)) = until {
                return Err(format!("line {line}: `# until` with no command after it"));
            }
            continue;
        }
        if let Some(cmd) = raw.strip_prefix("$ ") {
            steps.push(Step {
                line: n,
                command: cmd.to_string(),
                stdout: Vec::new(),
                stderr: Vec::new(),
                code: 0,
                until: until.take().map(|(_, d)| d),
            });
            continuing = true;
            continue;
        }
        if continuing && (raw == ">" || raw.starts_with("> ")) {
            let step = steps.last_mut().expect("a command before");
            step.command.push('\n');
            step.command.push_str(raw.get(2..).unwrap_or(""));
            continue;
        }
        continuing = false;
        if let Some(rest) = trimmed.strip_prefix("# until ") {
            let d = parse_duration(rest)
                .ok_or_else(|| format!("line {n}: `# until` wants 30s or 2m, not {rest:?}"))?;
            until = Some((n, d));
            continue;
        }
        let Some(step) = steps.last_mut() else {
            return Err(format!("line {n}: output before any `$ ` command"));
        };
        if until.is_some() {
            return Err(format!(
                "line {n}: output after `# until`, before its command"
            ));
        }
        if let Some(code) = raw.strip_prefix("? ") {
            step.code = code
                .trim()
                .parse()
                .map_err(|_| format!("line {n}: `? N` wants an exit code, not {code:?}"))?;
        } else if raw == "!" || raw.starts_with("! ") {
            step.stderr.push(Expected {
                line: n,
                text: raw.get(2..).unwrap_or("").to_string(),
            });
        } else {
            step.stdout.push(Expected {
                line: n,
                text: raw.to_string(),
            });
        }
    }
    if fence == Some(true) {
        return Err("a `console` block is not closed".into());
    }
    Ok(steps)
}

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    match unit {
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Matching

/// What a placeholder accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    Any,
    Ip,
    Age,
    Num,
    Hash,
    Name,
}

impl Class {
    fn from_name(name: &str) -> Option<Class> {
        Some(match name {
            ".." => Class::Any,
            "IP" => Class::Ip,
            "AGE" => Class::Age,
            "N" => Class::Num,
            "HASH" => Class::Hash,
            "NAME" => Class::Name,
            _ => return None,
        })
    }

    fn accepts(self, s: &str) -> bool {
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        match self {
            Class::Any => true,
            Class::Num => digits(s),
            Class::Ip => {
                let parts: Vec<&str> = s.split('.').collect();
                parts.len() == 4 && parts.iter().all(|p| digits(p) && p.parse::<u8>().is_ok())
            }
            Class::Age => {
                if s == "<unknown>" || s == "<invalid>" {
                    return true;
                }
                // One or two `<number><unit>` parts: 5s, 3m20s, 2d4h, 3y100d.
                let mut parts = 0;
                let mut rest = s;
                while !rest.is_empty() {
                    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                    let unit = rest.as_bytes().get(n).copied();
                    if n == 0 || !matches!(unit, Some(b's' | b'm' | b'h' | b'd' | b'y')) {
                        return false;
                    }
                    rest = &rest[n + 1..];
                    parts += 1;
                }
                (1..=2).contains(&parts)
            }
            Class::Hash => {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            }
            Class::Name => {
                !s.is_empty()
                    && s.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    })
                    && !s.starts_with(['-', '.'])
                    && !s.ends_with(['-', '.'])
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(String),
    /// Two or more spaces.
    Gap,
    Hole(Class, Option<String>),
}

/// One expected line, compiled.
#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    /// `[...]` or `[...:name]`: any lines.
    Lines(Option<String>),
    Line(Vec<Tok>),
}

fn is_capture_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase() || c == b'_')
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// `[KIND]` or `[KIND:name]` at the start of `s`: the class, the name and the length.
fn placeholder(s: &str) -> Option<(Class, Option<String>, usize)> {
    let end = s.find(']')?;
    let inner = &s[1..end];
    let (kind, name) = match inner.split_once(':') {
        Some((k, n)) if is_capture_name(n) => (k, Some(n.to_string())),
        Some(_) => return None,
        None => (inner, None),
    };
    Some((Class::from_name(kind)?, name, end + 1))
}

fn compile(text: &str) -> Pattern {
    let text = text.trim_end_matches(' ');
    if let Some(inner) = text.strip_prefix("[...").and_then(|r| r.strip_suffix(']')) {
        if inner.is_empty() {
            return Pattern::Lines(None);
        }
        if let Some(name) = inner.strip_prefix(':').filter(|n| is_capture_name(n)) {
            return Pattern::Lines(Some(name.to_string()));
        }
    }
    let mut toks = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some((class, name, len)) = (c == '[').then(|| placeholder(rest)).flatten() {
            if !lit.is_empty() {
                toks.push(Tok::Lit(std::mem::take(&mut lit)));
            }
            toks.push(Tok::Hole(class, name));
            rest = &rest[len..];
            continue;
        }
        if rest.starts_with("  ") {
            if !lit.is_empty() {
                toks.push(Tok::Lit(std::mem::take(&mut lit)));
            }
            toks.push(Tok::Gap);
            rest = rest.trim_start_matches(' ');
            continue;
        }
        lit.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !lit.is_empty() {
        toks.push(Tok::Lit(lit));
    }
    Pattern::Line(toks)
}

/// Captures: name → the text it matched.
pub type Bindings = BTreeMap<String, String>;

fn match_toks(toks: &[Tok], s: &str, b: &mut Bindings) -> bool {
    let Some((tok, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match tok {
        Tok::Lit(l) => s
            .strip_prefix(l.as_str())
            .is_some_and(|s| match_toks(rest, s, b)),
        Tok::Gap => {
            let n = s.bytes().take_while(|&c| c == b' ').count();
            n >= 2 && match_toks(rest, &s[n..], b)
        }
        Tok::Hole(class, name) => {
            if let Some(bound) = name.as_ref().and_then(|n| b.get(n)).cloned() {
                return s
                    .strip_prefix(bound.as_str())
                    .is_some_and(|s| match_toks(rest, s, b));
            }
            // Longest first, so `[..]` at the end of a line takes the rest of it.
            let ends: Vec<usize> = (0..=s.len())
                .rev()
                .filter(|&e| s.is_char_boundary(e))
                .collect();
            for end in ends {
                let candidate = &s[..end];
                if !class.accepts(candidate) {
                    continue;
                }
                let mut trial = b.clone();
                if let Some(n) = name {
                    trial.insert(n.clone(), candidate.to_string());
                }
                if match_toks(rest, &s[end..], &mut trial) {
                    *b = trial;
                    return true;
                }
            }
            false
        }
    }
}

fn match_lines(pats: &[Pattern], lines: &[&str], b: &mut Bindings) -> bool {
    let Some((pat, rest)) = pats.split_first() else {
        return lines.is_empty();
    };
    match pat {
        Pattern::Line(toks) => {
            let Some((first, others)) = lines.split_first() else {
                return false;
            };
            let mut trial = b.clone();
            if match_toks(toks, first, &mut trial) && match_lines(rest, others, &mut trial) {
                *b = trial;
                return true;
            }
            false
        }
        Pattern::Lines(name) => {
            if let Some(bound) = name.as_ref().and_then(|n| b.get(n)).cloned() {
                let want: Vec<&str> = if bound.is_empty() {
                    Vec::new()
                } else {
                    bound.split('\n').collect()
                };
                return lines.starts_with(&want) && match_lines(rest, &lines[want.len()..], b);
            }
            for take in 0..=lines.len() {
                let mut trial = b.clone();
                if let Some(n) = name {
                    trial.insert(n.clone(), lines[..take].join("\n"));
                }
                if match_lines(rest, &lines[take..], &mut trial) {
                    *b = trial;
                    return true;
                }
            }
            false
        }
    }
}

/// A program's output as lines (a final newline ends the last line, it does not add one).
fn output_lines(out: &str) -> Vec<&str> {
    if out.is_empty() {
        return Vec::new();
    }
    out.strip_suffix('\n')
        .unwrap_or(out)
        .split('\n')
        .map(|l| l.trim_end_matches(' '))
        .collect()
}

/// Whether `actual` matches `expected`, binding new captures in `b` only if it does.
pub fn matches(expected: &[Expected], actual: &str, b: &mut Bindings) -> bool {
    let pats: Vec<Pattern> = expected.iter().map(|e| compile(&e.text)).collect();
    let mut trial = b.clone();
    if match_lines(&pats, &output_lines(actual), &mut trial) {
        *b = trial;
        return true;
    }
    false
}

/// A line diff of `expected` (`-`, with the file's line numbers) against `actual` (`+`); lines
/// that match (each on its own, with the captures so far) are shown once, unmarked.
pub fn diff(file: &str, expected: &[Expected], actual: &str, b: &Bindings) -> String {
    let pats: Vec<Pattern> = expected.iter().map(|e| compile(&e.text)).collect();
    let lines = output_lines(actual);
    let same = |i: usize, j: usize| match &pats[i] {
        Pattern::Line(toks) => match_toks(toks, lines[j], &mut b.clone()),
        Pattern::Lines(_) => false,
    };
    // Longest common subsequence, table from the end.
    let (n, m) = (pats.len(), lines.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if same(i, j) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = format!("--- expected (with its lines in {file})\n+++ actual\n");
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && same(i, j) {
            let _ = writeln!(out, "  {:>5} | {}", expected[i].line, lines[j]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            let _ = writeln!(out, "- {:>5} | {}", expected[i].line, expected[i].text);
            i += 1;
        } else {
            let _ = writeln!(out, "+       | {}", lines[j]);
            j += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running

/// Where the sim a transcript runs against listens.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub api: u16,
    pub dns: u16,
    pub nodeport_offset: u16,
}

impl Ports {
    fn map(&self, port: u16) -> Option<u16> {
        match port {
            6443 => Some(self.api),
            10053 => Some(self.dns),
            30000..=32767 => port.checked_add(self.nodeport_offset),
            _ => None,
        }
    }
}

/// A command as written for a default sim, rewritten for the one running (see the module docs).
pub fn rewrite_ports(command: &str, ports: &Ports) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::new();
    let mut rest = command;
    while let Some(i) = rest.find(HOST) {
        out.push_str(&rest[..i + HOST.len()]);
        rest = &rest[i + HOST.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Some(p) = rest[..digits].parse().ok().and_then(|p| ports.map(p)) {
            out.push_str(&p.to_string());
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    if out.contains("@127.0.0.1") {
        let words: Vec<&str> = out.split(' ').collect();
        let mut fixed = Vec::with_capacity(words.len());
        for (k, w) in words.iter().enumerate() {
            if *w == "10053" && k > 0 && words[k - 1] == "-p" {
                fixed.push(ports.dns.to_string());
            } else {
                fixed.push(w.to_string());
            }
        }
        out = fixed.join(" ");
    }
    out
}

/// What one run of a command printed.
#[derive(Debug)]
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Kills a command's whole process group (bash and what it started).
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

fn run_command(command: &str, cwd: &Path, env: &BTreeMap<String, String>) -> Ran {
    let mut child = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", command])
        .current_dir(cwd)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("starting bash");
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for bash") {
            break s;
        }
        if Instant::now() > deadline {
            kill_group(child.id());
            let _ = child.wait();
            panic!("`{command}` still ran after {COMMAND_TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Anything it left running in the background holds the pipes open: give it a moment, then
    // end its group. (While such a process lives, the group's id cannot name another group.)
    let deadline = Instant::now() + Duration::from_secs(2);
    while !(stdout.is_finished() && stderr.is_finished()) {
        if Instant::now() > deadline {
            kill_group(child.id());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ran {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        // Killed by a signal: 128 + N, as a shell reports it.
        code: status.code().unwrap_or_else(|| {
            128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
        }),
    }
}

/// Why a run did not match, for the report.
fn mismatch(file: &str, step: &Step, ran: &Ran, b: &Bindings) -> Option<String> {
    let mut trial = b.clone();
    if !matches(&step.stdout, &ran.stdout, &mut trial) {
        return Some(format!(
            "stdout differs\n{}",
            diff(file, &step.stdout, &ran.stdout, b)
        ));
    }
    if !matches(&step.stderr, &ran.stderr, &mut trial) {
        let diff = diff(file, &step.stderr, &ran.stderr, b);
        return Some(format!("stderr (`! ` lines) differs\n{diff}"));
    }
    if ran.code != step.code {
        return Some(format!(
            "exit code {} (expected {}); stderr:\n{}",
            ran.code, step.code, ran.stderr
        ));
    }
    None
}

/// The steps' outcome so far: what the environment of the next command holds.
struct Session {
    work: PathBuf,
    env: BTreeMap<String, String>,
    ports: Ports,
    bindings: Bindings,
}

impl Session {
    fn run_step(&mut self, file: &str, step: &Step) -> Result<(), String> {
        let command = rewrite_ports(&step.command, &self.ports);
        let started = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let mut env = self.env.clone();
            env.extend(self.bindings.clone());
            let ran = run_command(&command, &self.work, &env);
            let Some(why) = mismatch(file, step, &ran, &self.bindings) else {
                let mut b = self.bindings.clone();
                matches(&step.stdout, &ran.stdout, &mut b);
                matches(&step.stderr, &ran.stderr, &mut b);
                self.bindings = b;
                return Ok(());
            };
            let left = step
                .until
                .and_then(|d| d.checked_sub(started.elapsed()))
                .is_some_and(|left| left > RETRY_EVERY);
            if !left {
                let mut report = format!("{file}:{}: `$ {}`: {why}", step.line, step.command);
                if step.until.is_some() {
                    let _ = writeln!(
                        report,
                        "(still so after {tries} tries in {:.1} s)",
                        started.elapsed().as_secs_f64()
                    );
                }
                if command != step.command {
                    let _ = writeln!(report, "(ran as `{command}`)");
                }
                if !self.bindings.is_empty() {
                    let _ = writeln!(report, "captures: {:?}", self.bindings);
                }
                return Err(report);
            }
            std::thread::sleep(RETRY_EVERY);
        }
    }
}

/// Copies every file (not folders) of `from` into `to`.
fn copy_files(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// `path` as reports name it: from the workspace's root, as `cargo test` is run there.
pub fn label(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Runs the transcript at `path` against a fresh sim, in a working directory holding a copy of
/// the files in each of `files`; panics with a report at the first step that does not match.
pub fn run(path: &Path, files: &[&Path]) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = label(path);
    let steps = parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    run_steps(&file, &steps, files, &[], &[]);
}

/// Runs `steps` (of the file named `file`) against a fresh sim, in a working directory holding
/// a copy of the files in each of `files` and a symlink `name` → `target` for each of `links`
/// (the book's lab chapters run from the repository's root: `labs/…`, read-only).
/// `env` changes the commands' environment: `(name, Some(value))` sets, `(name, None)` removes
/// (the zh-CN book runs as a Chinese learner's terminal: `LANG=zh_CN.UTF-8`, no `LC_ALL`).
pub fn run_steps(
    file: &str,
    steps: &[Step],
    files: &[&Path],
    links: &[(&str, &Path)],
    env: &[(&str, Option<&str>)],
) {
    assert!(
        !steps.is_empty(),
        "{file}: no `console` block with a `$ ` command"
    );

    let dir = tempfile::tempdir().unwrap();
    let (home, work, bin) = (
        dir.path().join("sim"),
        dir.path().join("work"),
        dir.path().join("bin"),
    );
    for d in [&home, &work, &bin, &dir.path().join("home")] {
        std::fs::create_dir(d).unwrap();
    }
    for from in files {
        copy_files(from, &work);
    }
    for (name, target) in links {
        std::os::unix::fs::symlink(target, work.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lab-runner"), bin.join("lab-runner")).unwrap();

    let offset = free_offset();
    let sim = Sim::start(&home, &["--nodeport-offset", &offset.to_string()]);
    let port_after = |prefix: &str| -> u16 {
        sim.banner
            .lines()
            .find_map(|l| l.split_once(prefix))
            .and_then(|(_, r)| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} in the sim's banner:\n{}", sim.banner))
    };
    let ports = Ports {
        api: port_after("Kubernetes API on http://127.0.0.1:"),
        dns: port_after("DNS listening on 127.0.0.1:"),
        nodeport_offset: offset,
    };
    let path_var = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let mut env_vars: BTreeMap<String, String> = [
        ("PATH", format!("{}:{path_var}", bin.display())),
        ("HOME", dir.path().join("home").display().to_string()),
        ("KUBECONFIG", home.join("kubeconfig").display().to_string()),
        ("SVCLAB_HOME", home.display().to_string()),
        (
            "KUBECACHEDIR",
            dir.path().join("kube-cache").display().to_string(),
        ),
        ("LC_ALL", "C".into()),
        ("DATA", work.display().to_string()),
        ("SIM_API_PORT", ports.api.to_string()),
        ("SIM_DNS_PORT", ports.dns.to_string()),
        ("SIM_NODEPORT_OFFSET", offset.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (name, value) in env {
        match value {
            Some(v) => env_vars.insert(name.to_string(), v.to_string()),
            None => env_vars.remove(*name),
        };
    }
    let mut session = Session {
        work,
        env: env_vars,
        ports,
        bindings: Bindings::new(),
    };
    for step in steps {
        if let Err(report) = session.run_step(file, step) {
            let log = std::fs::read_to_string(home.join("sim.stderr")).unwrap_or_default();
            panic!("{report}\nsim stderr:\n{log}");
        }
    }
    drop(sim);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(lines: &[&str]) -> Vec<Expected> {
        lines
            .iter()
            .enumerate()
            .map(|(i, t)| Expected {
                line: i + 10,
                text: t.to_string(),
            })
            .collect()
    }

    #[test]
    fn parses_commands_output_stderr_codes_and_directives() {
        let text = "Prose `$ not a command`.\n\n```sh\n$ not run\n```\n\n```console\n$ kubectl get svc\nNAME\n\n# until 30s\n$ cat <<EOF\n> a\n>\n> EOF\n! Error: no\n!\n? 2\n```\n";
        let steps = parse(text).unwrap();
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert_eq!(steps[0].line, 8);
        assert_eq!(steps[0].command, "kubectl get svc");
        assert_eq!(steps[0].stdout, exp_at(&[(9, "NAME"), (10, "")]));
        assert_eq!(steps[0].until, None);
        assert_eq!(steps[1].command, "cat <<EOF\na\n\nEOF");
        assert_eq!(steps[1].until, Some(Duration::from_secs(30)));
        assert_eq!(steps[1].stderr, exp_at(&[(16, "Error: no"), (17, "")]));
        assert_eq!(steps[1].code, 2);
        assert!(parse("```console\noutput\n```\n").is_err());
        assert!(parse("```console\n$ true\n").is_err());
        assert!(parse("```console\n# until soon\n$ true\n```\n").is_err());
    }

    fn exp_at(lines: &[(usize, &str)]) -> Vec<Expected> {
        lines
            .iter()
            .map(|&(line, t)| Expected {
                line,
                text: t.to_string(),
            })
            .collect()
    }

    #[test]
    fn placeholders_gaps_and_captures() {
        let mut b = Bindings::new();
        let table = "NAME         TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)    AGE\nhttpd-svc    ClusterIP   10.96.69.209   <none>        8080/TCP   1s\n";
        let want = exp(&[
            "NAME       TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE",
            "httpd-svc  ClusterIP  [IP:ip]  <none>  8080/TCP  [AGE]",
        ]);
        assert!(matches(&want, table, &mut b));
        assert_eq!(b["ip"], "10.96.69.209");
        // A bound name must match its text again, in any placeholder kind.
        assert!(matches(&exp(&["ip [..:ip]"]), "ip 10.96.69.209", &mut b));
        assert!(!matches(&exp(&["ip [IP:ip]"]), "ip 10.96.69.210", &mut b));
        // Trailing spaces are ignored on both sides.
        assert!(matches(&exp(&["is invalid: "]), "is invalid:\n", &mut b));
        assert!(matches(&exp(&["is invalid:"]), "is invalid: \n", &mut b));
        // Single spaces are exact; missing lines and extra lines differ.
        assert!(!matches(&exp(&["a  b"]), "a b", &mut b));
        assert!(!matches(&exp(&["a b"]), "a  b", &mut b));
        assert!(!matches(&exp(&["a"]), "a\nb\n", &mut b));
        assert!(!matches(&exp(&["a", "b"]), "a\n", &mut b));
        assert!(matches(&exp(&[]), "", &mut b));
        assert!(!matches(&exp(&[]), "\n", &mut b));
        assert!(matches(&exp(&["x"]), "x", &mut b));
        // Classes.
        assert!(matches(
            &exp(&["httpd-[HASH]-[HASH] [AGE] [N]"]),
            "httpd-669b87977-khh2d 3m20s 42",
            &mut b
        ));
        assert!(!matches(&exp(&["[AGE]"]), "3x", &mut b));
        assert!(!matches(&exp(&["[IP]"]), "10.96.0.256", &mut b));
        assert!(matches(
            &exp(&["[NAME].svc"]),
            "10-244-1-2.headless.svc",
            &mut b
        ));
        // Unknown brackets are literal.
        assert!(matches(
            &exp(&["get [flags] [::1]"]),
            "get [flags] [::1]",
            &mut b
        ));
        // Lines placeholders, captured and compared.
        assert!(matches(&exp(&["a", "[...:rest]"]), "a\nb\nc\n", &mut b));
        assert_eq!(b["rest"], "b\nc");
        assert!(matches(&exp(&["[...:rest]", "d"]), "b\nc\nd\n", &mut b));
        assert!(!matches(&exp(&["[...:rest]"]), "b\n", &mut b));
        assert!(matches(&exp(&["[...]", "end"]), "end\n", &mut b));
        // A failed match binds nothing.
        assert!(!matches(&exp(&["[IP:other] x"]), "1.2.3.4 y", &mut b));
        assert!(!b.contains_key("other"));
    }

    #[test]
    fn diff_marks_expected_and_actual_lines() {
        let b = Bindings::new();
        let d = diff("t.md", &exp(&["a", "b  [N]", "c"]), "a\nb 1\nc\nd\n", &b);
        assert_eq!(
            d,
            "--- expected (with its lines in t.md)\n+++ actual\n     10 | a\n-    11 | b  [N]\n+       | b 1\n     12 | c\n+       | d\n"
        );
    }

    #[test]
    fn commands_run_in_bash_with_the_given_environment() {
        let dir = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> = [("PATH", "/usr/bin:/bin"), ("WHO", "sim")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ran = run_command("echo $WHO; pwd; echo oops >&2; exit 3", dir.path(), &env);
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(ran.stdout, format!("sim\n{}\n", cwd.display()));
        assert_eq!((ran.stderr.as_str(), ran.code), ("oops\n", 3));
        // A process left in the background does not hold the step up.
        let started = Instant::now();
        let ran = run_command("sleep 30 & echo started", dir.path(), &env);
        assert_eq!((ran.stdout.as_str(), ran.code), ("started\n", 0));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn ports_are_rewritten_for_the_running_sim() {
        let ports = Ports {
            api: 40001,
            dns: 40002,
            nodeport_offset: 10000,
        };
        assert_eq!(
            rewrite_ports("curl -s http://127.0.0.1:30144/ 127.0.0.1:80", &ports),
            "curl -s http://127.0.0.1:40144/ 127.0.0.1:80"
        );
        assert_eq!(
            rewrite_ports("dig @127.0.0.1 -p 10053 +short x", &ports),
            "dig @127.0.0.1 -p 40002 +short x"
        );
        assert_eq!(rewrite_ports("sort -p 10053", &ports), "sort -p 10053");
        assert_eq!(
            rewrite_ports("kubectl --server http://127.0.0.1:6443 get svc", &ports),
            "kubectl --server http://127.0.0.1:40001 get svc"
        );
    }
}
