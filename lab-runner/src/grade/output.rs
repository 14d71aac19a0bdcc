//! What the grader prints: a lab's instructions and hints, and a [`Report`] as coloured text,
//! as JSON (the report itself, schema `svclab.dev/lab-report/v1`, documented by
//! `docs/lab-report.schema.json`) or as JUnit XML (one testsuite per lab, one testcase per
//! check). Pure functions of their inputs; colour is decided by the caller ([`Style::detect`]).

use lab_core::lab::{Lab, Lang, Report, Status, Text};

/// Whether to colour text (ANSI SGR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Colour on.
    pub color: bool,
}

impl Style {
    /// Colour only on a terminal, and never when `NO_COLOR` is set to anything (no-color.org).
    pub fn detect(is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: is_terminal && !no_color,
        }
    }

    fn paint(self, sgr: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }
    fn green(self, t: &str) -> String {
        self.paint("32", t)
    }
    fn red(self, t: &str) -> String {
        self.paint("31", t)
    }
    fn yellow(self, t: &str) -> String {
        self.paint("33", t)
    }
    fn dim(self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// Words of the grader's own, in both languages.
fn word(lang: Lang, en: &'static str) -> &'static str {
    let zh = match en {
        "Goals" => "目标",
        "Steps" => "步骤",
        "expected" => "期望",
        "found" => "实际",
        "cause" => "原因",
        "could not check" => "无法检查",
        "passed" => "通过",
        "failed" => "未通过",
        "could not be checked" => "无法检查",
        "checks" | "check" => "项检查",
        "Hints" => "提示",
        "no hints" => "这个实验没有提示。",
        _ => en,
    };
    match lang {
        Lang::En => en,
        Lang::ZhCn => zh,
    }
}

/// One row of `lab-runner list`: the lab's folder, and its title and number of checks or why
/// its lab.yaml was rejected.
pub type ListRow = (String, Result<(Text, usize), String>);

/// `lab-runner list`: one line per lab (id, title, how many checks).
pub fn list(labs: &[ListRow], lang: Lang, style: Style) -> String {
    let width = labs
        .iter()
        .map(|(id, _)| id.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (id, lab) in labs {
        let pad = " ".repeat(width - id.chars().count());
        match lab {
            Ok((title, checks)) => out.push_str(&format!(
                "{}{pad}  {}  {}\n",
                style.bold(id),
                title.get(lang),
                style.dim(&format!(
                    "({checks} {})",
                    word(lang, if *checks == 1 { "check" } else { "checks" })
                ))
            )),
            Err(e) => out.push_str(&format!("{}{pad}  {}\n", style.bold(id), style.red(e))),
        }
    }
    out
}

/// `lab-runner show LAB`: title, goals, steps, and how to check.
pub fn show(lab: &Lab, lang: Lang, style: Style) -> String {
    let mut out = format!(
        "{}\n",
        style.bold(&format!("{}: {}", lab.id, lab.title.get(lang)))
    );
    if !lab.goals.is_empty() {
        out.push_str(&format!("\n{}\n", style.bold(word(lang, "Goals"))));
        for g in &lab.goals {
            out.push_str(&format!("  • {}\n", g.get(lang)));
        }
    }
    if !lab.steps.is_empty() {
        out.push_str(&format!("\n{}\n", style.bold(word(lang, "Steps"))));
        for (i, s) in lab.steps.iter().enumerate() {
            out.push_str(&format!("  {}. {}\n", i + 1, s.get(lang)));
        }
    }
    let (check, hint) = match lang {
        Lang::En => ("Check your work", "Stuck? Hints"),
        Lang::ZhCn => ("检查完成情况", "需要提示"),
    };
    out.push_str(&format!(
        "\n{check}: lab-runner check {id}\n{hint}: lab-runner hint {id}\n",
        id = lab.id
    ));
    out
}

/// `lab-runner hint LAB [CHECK]`: the lab's hints, or one check's; the error lists the ids.
pub fn hint(lab: &Lab, check: Option<&str>, lang: Lang, style: Style) -> Result<String, String> {
    let mut out = String::new();
    let lab_hints = |out: &mut String| {
        if lab.hints.is_empty() {
            out.push_str(word(lang, "no hints"));
            out.push('\n');
        }
        for (i, h) in lab.hints.iter().enumerate() {
            out.push_str(&format!("  {}. {}\n", i + 1, h.get(lang)));
        }
    };
    match check {
        None => {
            out.push_str(&format!(
                "{}\n",
                style.bold(&format!("{}: {}", lab.id, word(lang, "Hints")))
            ));
            lab_hints(&mut out);
            let own: Vec<&str> = lab
                .checks
                .iter()
                .filter(|c| c.hint.is_some())
                .map(|c| c.id.as_str())
                .collect();
            if !own.is_empty() {
                out.push_str(&match lang {
                    Lang::En => format!(
                        "\nChecks with a hint of their own: {} (lab-runner hint {} CHECK)\n",
                        own.join(", "),
                        lab.id
                    ),
                    Lang::ZhCn => format!(
                        "\n以下检查有单独的提示：{}（lab-runner hint {} 检查名）\n",
                        own.join("、"),
                        lab.id
                    ),
                });
            }
        }
        Some(id) => {
            let Some(c) = lab.check(id) else {
                let ids: Vec<&str> = lab.checks.iter().map(|c| c.id.as_str()).collect();
                return Err(format!(
                    "error: lab {} has no check {id:?} (checks: {})",
                    lab.id,
                    if ids.is_empty() {
                        "none".to_string()
                    } else {
                        ids.join(", ")
                    }
                ));
            };
            out.push_str(&format!(
                "{}\n",
                style.bold(&format!("{}: {}", c.id, c.title.get(lang)))
            ));
            match &c.hint {
                Some(h) => out.push_str(&format!("  {}\n", h.get(lang))),
                None => {
                    out.push_str(match lang {
                        Lang::En => "  This check has no hint of its own; the lab's hints:\n",
                        Lang::ZhCn => "  这项检查没有单独的提示，下面是实验的提示：\n",
                    });
                    lab_hints(&mut out);
                }
            }
        }
    }
    Ok(out)
}

/// A bar of `width` cells, `done` of `total` filled.
fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(width);
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// `lab-runner check LAB` as text: ✓/✗ per check, expected/found/cause for a failure, a
/// progress bar and where the hints are. `context` says what was graded.
pub fn text(lab: &Lab, report: &Report, context: &str, lang: Lang, style: Style) -> String {
    let mut out = format!(
        "{}\n{}\n\n",
        style.bold(&format!("{}: {}", lab.id, lab.title.get(lang))),
        style.dim(context)
    );
    let width = report
        .checks
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(0);
    // "could not check:" is long: the labels line up with it only where it appears.
    let errors = report.checks.iter().any(|c| c.status == Status::Error);
    let label_width = ["expected", "found", "cause", "could not check"]
        .iter()
        .filter(|w| errors || **w != "could not check")
        .map(|w| word(lang, w).chars().count())
        .max()
        .unwrap_or(0);
    let field = |out: &mut String, label: &'static str, value: &str| {
        let label = word(lang, label);
        let pad = " ".repeat(label_width.saturating_sub(label.chars().count()));
        out.push_str(&format!(
            "      {}{pad} {value}\n",
            style.dim(&format!("{label}:"))
        ));
    };
    for c in &report.checks {
        let (mark, id) = match c.status {
            Status::Pass => (style.green("✓"), c.id.clone()),
            Status::Fail => (style.red("✗"), style.red(&c.id)),
            Status::Error => (style.yellow("!"), style.yellow(&c.id)),
        };
        let pad = " ".repeat(width - c.id.chars().count());
        out.push_str(&format!("  {mark} {id}{pad}  {}\n", c.title.get(lang)));
        match c.status {
            Status::Pass => {}
            Status::Fail => {
                field(&mut out, "expected", c.expected.get(lang));
                field(&mut out, "found", c.found.get(lang));
                if let Some(cause) = &c.cause {
                    field(&mut out, "cause", cause.get(lang));
                }
            }
            Status::Error => {
                field(&mut out, "could not check", c.found.get(lang));
                field(&mut out, "expected", c.expected.get(lang));
            }
        }
    }
    let total = report.checks.len();
    let mut summary = format!("{}/{total} {}", report.passed, word(lang, "passed"));
    if report.failed > 0 {
        summary.push_str(&format!(", {} {}", report.failed, word(lang, "failed")));
    }
    if report.errors > 0 {
        summary.push_str(&format!(
            ", {} {}",
            report.errors,
            word(lang, "could not be checked")
        ));
    }
    let painted_bar = if report.all_passed() {
        style.green(&bar(report.passed, total, 24))
    } else {
        style.red(&bar(report.passed, total, 24))
    };
    out.push_str(&format!("\n{painted_bar} {summary}\n"));
    if report.all_passed() {
        out.push_str(match lang {
            Lang::En => "All checks passed. Well done!\n",
            Lang::ZhCn => "全部检查通过，做得好！\n",
        });
    } else if let Some(first) = report.checks.iter().find(|c| c.status == Status::Fail) {
        out.push_str(&match lang {
            Lang::En => format!("Stuck? lab-runner hint {} {}\n", lab.id, first.id),
            Lang::ZhCn => format!("需要提示：lab-runner hint {} {}\n", lab.id, first.id),
        });
    }
    out
}

/// `--format json`: the report itself, pretty-printed.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a report serialises");
    s.push('\n');
    s
}

/// XML 1.0 text: the five entities escaped, characters XML cannot hold dropped, and (in
/// attributes) line breaks kept as character references.
fn xml(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `--format junit`: one testsuite per lab, one testcase per check; a failed check is a
/// `<failure>`, one that could not be made an `<error>`, each with expected/found/cause.
pub fn junit(lab: &Lab, report: &Report, lang: Lang) -> String {
    let total = report.checks.len();
    let counts = format!(
        "tests=\"{total}\" failures=\"{}\" errors=\"{}\" skipped=\"0\"",
        report.failed, report.errors
    );
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<testsuites name=\"svclab\" {counts}>\n"));
    out.push_str(&format!(
        "  <testsuite name=\"{}\" {counts}>\n",
        xml(&lab.id, true)
    ));
    out.push_str("    <properties>\n");
    out.push_str(&format!(
        "      <property name=\"schema\" value=\"{}\"/>\n      <property name=\"title\" value=\"{}\"/>\n",
        xml(&report.schema, true),
        xml(lab.title.get(lang), true)
    ));
    out.push_str("    </properties>\n");
    for c in &report.checks {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(&lab.id, true),
            xml(&format!("{}: {}", c.id, c.title.get(lang)), true)
        );
        if c.status == Status::Pass {
            out.push_str(&open);
            out.push_str("/>\n");
            continue;
        }
        let mut detail = format!(
            "{}: {}\n{}: {}",
            word(lang, "expected"),
            c.expected.get(lang),
            word(lang, "found"),
            c.found.get(lang)
        );
        if let Some(cause) = &c.cause {
            detail.push_str(&format!("\n{}: {}", word(lang, "cause"), cause.get(lang)));
        }
        let (element, kind) = match c.status {
            Status::Error => ("error", "could-not-check"),
            _ => ("failure", "check-failed"),
        };
        out.push_str(&open);
        out.push_str(">\n");
        out.push_str(&format!(
            "      <{element} message=\"{}\" type=\"{kind}\">{}</{element}>\n",
            xml(&detail, true),
            xml(&detail, false)
        ));
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::lab::{CheckReport, Report};

    fn lab() -> Lab {
        Lab::from_yaml(
            "id: 01-test\ntitle: {zh-CN: 测试, en: A <test> & more}\nhints:\n- {zh-CN: 看标签, en: look at the labels}\nchecks:\n\
             - id: svc\n  title: {zh-CN: 服务, en: the Service}\n  hint: {zh-CN: 写 selector, en: write the selector}\n  object: {kind: svc, name: web}\n\
             - id: ep\n  title: {zh-CN: 端点, en: endpoints}\n  endpoints: {service: web, ready: 2}\n\
             - id: dns\n  title: {zh-CN: 域名, en: DNS}\n  dns: {from: probe, name: web, expect: {service: web}}\n",
        )
        .unwrap()
    }

    fn report() -> Report {
        let r = |id: &str, status, found: &str, cause: Option<&str>| CheckReport {
            id: id.into(),
            title: Text::same(id),
            status,
            expected: Text::new("期望", "2 ready \"endpoints\""),
            found: Text::new("实际", found),
            cause: cause.map(|c| Text::new("原因", c)),
            hint: None,
        };
        serde_json::from_value(serde_json::json!({
            "schema": lab_core::lab::report::SCHEMA,
            "lab": "01-test",
            "passed": 1, "failed": 1, "errors": 1,
            "checks": [
                r("svc", Status::Pass, "ok", None),
                r("ep", Status::Fail, "0 ready <none>", Some("selector app=web matches no pod;\npods are labelled app=wbe")),
                r("dns", Status::Error, "no probe pod", None),
            ],
        }))
        .unwrap()
    }

    #[test]
    fn text_marks_each_check_and_explains_failures() {
        let t = text(
            &lab(),
            &report(),
            "context svclab (the sim)",
            Lang::En,
            Style { color: false },
        );
        assert_eq!(
            t,
            "01-test: A <test> & more\ncontext svclab (the sim)\n\n\
             \x20 ✓ svc  svc\n\
             \x20 ✗ ep   ep\n\
             \x20     expected:        2 ready \"endpoints\"\n\
             \x20     found:           0 ready <none>\n\
             \x20     cause:           selector app=web matches no pod;\npods are labelled app=wbe\n\
             \x20 ! dns  dns\n\
             \x20     could not check: no probe pod\n\
             \x20     expected:        2 ready \"endpoints\"\n\
             \n████████░░░░░░░░░░░░░░░░ 1/3 passed, 1 failed, 1 could not be checked\n\
             Stuck? lab-runner hint 01-test ep\n"
        );
        let coloured = text(&lab(), &report(), "c", Lang::ZhCn, Style { color: true });
        assert!(coloured.contains("\x1b[32m✓\x1b[0m"), "{coloured}");
        assert!(coloured.contains("\x1b[31m✗\x1b[0m"), "{coloured}");
        assert!(coloured.contains("实际:"), "{coloured}");
        assert!(coloured.contains("1/3 通过"), "{coloured}");
    }

    #[test]
    fn junit_escapes_and_counts() {
        let x = junit(&lab(), &report(), Lang::En);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"svclab\" tests=\"3\" failures=\"1\" errors=\"1\" skipped=\"0\">\n"), "{x}");
        assert!(
            x.contains("<property name=\"title\" value=\"A &lt;test&gt; &amp; more\"/>"),
            "{x}"
        );
        assert!(
            x.contains("<testcase classname=\"01-test\" name=\"svc: svc\"/>"),
            "{x}"
        );
        assert!(x.contains("<failure message=\"expected: 2 ready &quot;endpoints&quot;&#10;found: 0 ready &lt;none&gt;&#10;cause: selector app=web matches no pod;&#10;pods are labelled app=wbe\" type=\"check-failed\">expected: 2 ready \"endpoints\"\nfound: 0 ready &lt;none&gt;\ncause: selector"), "{x}");
        assert!(x.contains("<error message=\"expected: 2 ready &quot;endpoints&quot;&#10;found: no probe pod\" type=\"could-not-check\">"), "{x}");
        assert_eq!(xml("a\u{1}b\u{7}", false), "ab");
    }

    #[test]
    fn hints_only_on_request() {
        let l = lab();
        let s = Style { color: false };
        assert_eq!(
            hint(&l, None, Lang::En, s).unwrap(),
            "01-test: Hints\n  1. look at the labels\n\nChecks with a hint of their own: svc (lab-runner hint 01-test CHECK)\n"
        );
        assert_eq!(
            hint(&l, Some("svc"), Lang::ZhCn, s).unwrap(),
            "svc: 服务\n  写 selector\n"
        );
        assert_eq!(
            hint(&l, Some("ep"), Lang::En, s).unwrap(),
            "ep: endpoints\n  This check has no hint of its own; the lab's hints:\n  1. look at the labels\n"
        );
        assert_eq!(
            hint(&l, Some("nope"), Lang::En, s).unwrap_err(),
            "error: lab 01-test has no check \"nope\" (checks: svc, ep, dns)"
        );
        // The report's text never carries a hint.
        assert!(!text(&l, &report(), "", Lang::En, s).contains("write the selector"));
    }

    #[test]
    fn show_and_list() {
        let s = Style { color: false };
        let shown = show(&lab(), Lang::En, s);
        assert!(shown.starts_with("01-test: A <test> & more\n"), "{shown}");
        assert!(
            shown.ends_with(
                "Check your work: lab-runner check 01-test\nStuck? Hints: lab-runner hint 01-test\n"
            ),
            "{shown}"
        );
        let listed = list(
            &[
                ("01-a".into(), Ok((Text::new("甲", "A"), 3))),
                ("02-long".into(), Err("lab.yaml: bad".into())),
            ],
            Lang::En,
            s,
        );
        assert_eq!(listed, "01-a     A  (3 checks)\n02-long  lab.yaml: bad\n");
    }

    #[test]
    fn bars() {
        assert_eq!(bar(0, 4, 4), "░░░░");
        assert_eq!(bar(3, 4, 4), "███░");
        assert_eq!(bar(0, 0, 4), "████");
    }
}
