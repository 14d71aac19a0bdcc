//! The scale view: iptables vs IPVS vs nftables as Services grow, measured in the page.
//!
//! The measuring is `lab_core::scale::measure` (it runs in a web worker, so the page stays
//! responsive while 20,000 Services are synced and traced); this module is what the view draws
//! from its results: the messages the worker sends ([`Event`]), one log-scale bar chart per
//! figure ([`chart`]), the course chapter's table ([`CHAPTER`]) and the measured table beside it
//! ([`rows`]).

use crate::i18n::{Lang, Text, text};
use lab_core::config::ProxyMode;
pub use lab_core::scale::measure::{Figures, MODES, SIZES};
use serde::{Deserialize, Serialize};

/// What the worker tells the page, one JSON text per message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A measurement started (the view says what it is waiting for).
    Measuring {
        /// Number of Services.
        services: usize,
        /// The mode.
        mode: ProxyMode,
    },
    /// A measurement finished.
    Measured(Figures),
    /// Every measurement finished.
    Finished,
    /// The worker failed (its message).
    Failed {
        /// What went wrong.
        message: String,
    },
}

impl Event {
    /// The message's text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a message; an unreadable one is a failure, never a panic.
    pub fn from_json(s: &str) -> Event {
        serde_json::from_str(s).unwrap_or_else(|e| Event::Failed {
            message: format!("unreadable message from the worker: {e}"),
        })
    }
}

/// Measurements to make: every size in every mode.
pub const TOTAL: usize = SIZES.len() * MODES.len();

/// How far the measuring is, as the view says it.
pub fn progress(lang: Lang, done: usize, current: Option<(usize, ProxyMode)>) -> String {
    match current {
        Some((services, mode)) => match lang {
            Lang::En => format!(
                "measuring {} with {} Services… ({done} of {TOTAL} done)",
                mode_label(mode),
                thousands(services as u64)
            ),
            Lang::ZhCn => format!(
                "正在测量 {}，{} 个 Service……（已完成 {done}/{TOTAL}）",
                mode_label(mode),
                thousands(services as u64)
            ),
        },
        None => match lang {
            Lang::En => format!("{done} of {TOTAL} measured"),
            Lang::ZhCn => format!("已完成 {done}/{TOTAL} 项测量"),
        },
    }
}

/// The mode as the views name it.
pub fn mode_label(mode: ProxyMode) -> &'static str {
    match mode {
        ProxyMode::Iptables => "iptables",
        ProxyMode::Ipvs => "IPVS",
        ProxyMode::Nftables => "nftables",
    }
}

/// `20000` → `20,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in milliseconds, with the unit that reads best: `12 µs`, `3.4 ms`, `1.25 s`.
pub fn duration(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.0} µs", (ms * 1000.0).max(0.0))
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// A power of ten of milliseconds as the axis says it: `1 µs`, `100 ms`, `10 s`.
fn decade(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", (ms / 1000.0).round())
    } else if ms >= 1.0 {
        format!("{} ms", ms.round())
    } else {
        format!("{} µs", (ms * 1000.0).round())
    }
}

/// A figure the view charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Rules on the node.
    Rules,
    /// kube-proxy's first, full sync.
    FullSync,
    /// One partial sync after one endpoint moved.
    Change,
    /// Rules one packet is tested against.
    Traversed,
}

impl Metric {
    /// Every chart, in page order.
    pub const ALL: [Metric; 4] = [
        Metric::Rules,
        Metric::Traversed,
        Metric::FullSync,
        Metric::Change,
    ];

    /// The value charted.
    pub fn value(self, f: &Figures) -> f64 {
        match self {
            Metric::Rules => f.rules as f64,
            Metric::FullSync => f.full_sync_ms,
            Metric::Change => f.change_ms,
            Metric::Traversed => f.rules_traversed as f64,
        }
    }

    /// The value as the bar's label says it.
    pub fn format(self, f: &Figures) -> String {
        match self {
            Metric::Rules => thousands(f.rules as u64),
            Metric::Traversed => thousands(f.rules_traversed as u64),
            Metric::FullSync => duration(f.full_sync_ms),
            Metric::Change => duration(f.change_ms),
        }
    }

    /// The chart's title.
    pub fn title(self) -> Text {
        match self {
            Metric::Rules => Text::ScaleRules,
            Metric::FullSync => Text::ScaleFullSync,
            Metric::Change => Text::ScaleChange,
            Metric::Traversed => Text::ScaleTraversed,
        }
    }

    /// The key used in element ids (`scale-chart-rules`).
    pub fn key(self) -> &'static str {
        match self {
            Metric::Rules => "rules",
            Metric::FullSync => "full-sync",
            Metric::Change => "change",
            Metric::Traversed => "traversed",
        }
    }
}

/// One bar of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// The mode (its colour).
    pub mode: ProxyMode,
    /// Number of Services.
    pub services: usize,
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// The value (rules, or milliseconds).
    pub value: f64,
    /// The value, formatted.
    pub label: String,
}

/// A horizontal grid line of the log axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Its height.
    pub y: f64,
    /// Its value (`1`, `10`, `100 ms`…).
    pub label: String,
}

/// One figure's bar chart: a group per size, a bar per mode, on a log₁₀ axis (the values span
/// five orders of magnitude).
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Which figure.
    pub metric: Metric,
    /// The bars measured so far.
    pub bars: Vec<Bar>,
    /// Grid lines, one per decade.
    pub ticks: Vec<Tick>,
    /// Each size's label and the centre of its group.
    pub groups: Vec<(f64, String)>,
}

/// The chart's drawing area.
pub const CHART_WIDTH: f64 = 360.0;
/// Its height.
pub const CHART_HEIGHT: f64 = 220.0;
/// Left of the plot: room for the axis labels (`1,000,000`).
pub const LEFT: f64 = 76.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;
const BAR: f64 = 26.0;

/// Lays out `metric`'s chart for the figures measured so far.
pub fn chart(metric: Metric, figures: &[Figures]) -> Chart {
    let values: Vec<f64> = figures
        .iter()
        .map(|f| metric.value(f))
        .filter(|v| *v > 0.0)
        .collect();
    // The axis spans whole decades around the values (a zero, below the timer's resolution,
    // sits on the axis floor).
    let lo = values
        .iter()
        .fold(f64::INFINITY, |a, v| a.min(v.log10().floor()));
    let hi = values
        .iter()
        .fold(f64::NEG_INFINITY, |a, v| a.max(v.log10().ceil()));
    let (lo, hi) = if values.is_empty() {
        (0.0, 1.0)
    } else {
        (lo, hi.max(lo + 1.0))
    };
    let plot = CHART_HEIGHT - TOP - BOTTOM;
    let y_of = |v: f64| {
        let l = if v > 0.0 { v.log10().clamp(lo, hi) } else { lo };
        TOP + plot * (1.0 - (l - lo) / (hi - lo))
    };
    let group_width = (CHART_WIDTH - LEFT) / SIZES.len() as f64;
    let bars = figures
        .iter()
        .filter_map(|f| {
            let g = SIZES.iter().position(|s| *s == f.services)?;
            let m = MODES.iter().position(|m| *m == f.mode)?;
            let x =
                LEFT + g as f64 * group_width + (group_width - BAR * 3.0) / 2.0 + m as f64 * BAR;
            let value = metric.value(f);
            let y = y_of(value);
            Some(Bar {
                value,
                mode: f.mode,
                services: f.services,
                x,
                y,
                width: BAR - 2.0,
                height: (TOP + plot - y).max(1.0),
                label: metric.format(f),
            })
        })
        .collect();
    let ticks = (lo as i32..=hi as i32)
        .map(|d| {
            let v = 10f64.powi(d);
            let label = match metric {
                Metric::Rules | Metric::Traversed => thousands(v as u64),
                Metric::FullSync | Metric::Change => decade(v),
            };
            Tick { y: y_of(v), label }
        })
        .collect();
    let groups = SIZES
        .iter()
        .enumerate()
        .map(|(g, s)| (LEFT + (g as f64 + 0.5) * group_width, thousands(*s as u64)))
        .collect();
    Chart {
        metric,
        bars,
        ticks,
        groups,
    }
}

/// The chapter's figures (the 2017 measurements that motivated IPVS mode), per size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChapterColumn {
    /// Services.
    pub services: usize,
    /// Rules.
    pub rules: usize,
    /// Time to add one iptables rule, in seconds.
    pub add_iptables_rule_s: f64,
    /// Time to add one IPVS rule, in seconds.
    pub add_ipvs_rule_s: f64,
}

/// The chapter's table, as printed there.
pub const CHAPTER: [ChapterColumn; 3] = [
    ChapterColumn {
        services: 1,
        rules: 8,
        add_iptables_rule_s: 50e-6,
        add_ipvs_rule_s: 30e-6,
    },
    ChapterColumn {
        services: 5_000,
        rules: 40_000,
        add_iptables_rule_s: 11.0 * 60.0,
        add_ipvs_rule_s: 50e-6,
    },
    ChapterColumn {
        services: 20_000,
        rules: 160_000,
        add_iptables_rule_s: 5.0 * 3600.0,
        add_ipvs_rule_s: 70e-6,
    },
];

/// The chapter's durations in the chapter's units: `50 µs`, `11 min`, `5 h`.
pub fn chapter_duration(lang: Lang, seconds: f64) -> String {
    let (value, en, zh) = if seconds >= 3600.0 {
        (seconds / 3600.0, "h", "小时")
    } else if seconds >= 60.0 {
        (seconds / 60.0, "min", "分钟")
    } else {
        (seconds * 1e6, "µs", "微秒")
    };
    match lang {
        Lang::En => format!("{value:.0} {en}"),
        Lang::ZhCn => format!("{value:.0} {zh}"),
    }
}

/// One row of the tables beside the charts.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Whether the row quotes the chapter (else: measured in this page).
    pub chapter: bool,
    /// The row's label.
    pub label: String,
    /// One cell per size (`None`: not measured yet).
    pub cells: [Option<String>; 3],
}

/// The chapter's table interleaved with what this page measured: rules, then the cost of one
/// change in iptables and in IPVS mode, then the packet's walk.
pub fn rows(lang: Lang, figures: &[Figures]) -> Vec<Row> {
    let measured = |label: String, mode: ProxyMode, metric: Metric| Row {
        chapter: false,
        label,
        cells: SIZES.map(|s| {
            figures
                .iter()
                .find(|f| f.services == s && f.mode == mode)
                .map(|f| metric.format(f))
        }),
    };
    let chapter = |label: Text, cell: &dyn Fn(&ChapterColumn) -> String| Row {
        chapter: true,
        label: text(lang, label).to_string(),
        cells: CHAPTER.map(|c| Some(cell(&c))),
    };
    let named = |t: Text, mode: ProxyMode| format!("{} {}", text(lang, t), mode_label(mode));
    let mut out = vec![chapter(Text::ScaleRowChapterRules, &|c| {
        thousands(c.rules as u64)
    })];
    for m in MODES {
        out.push(measured(named(Text::ScaleRowRules, m), m, Metric::Rules));
    }
    out.push(chapter(Text::ScaleRowChapterAddIptables, &|c| {
        chapter_duration(lang, c.add_iptables_rule_s)
    }));
    out.push(measured(
        named(Text::ScaleRowChange, ProxyMode::Iptables),
        ProxyMode::Iptables,
        Metric::Change,
    ));
    out.push(chapter(Text::ScaleRowChapterAddIpvs, &|c| {
        chapter_duration(lang, c.add_ipvs_rule_s)
    }));
    for m in [ProxyMode::Ipvs, ProxyMode::Nftables] {
        out.push(measured(named(Text::ScaleRowChange, m), m, Metric::Change));
    }
    for m in MODES {
        out.push(measured(
            named(Text::ScaleRowTraversed, m),
            m,
            Metric::Traversed,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(services: usize, mode: ProxyMode, rules: usize, ms: f64) -> Figures {
        Figures {
            services,
            mode,
            rules,
            full_sync_ms: ms,
            change_ms: ms / 1000.0,
            change_payload_lines: 3,
            rules_traversed: rules / 17,
            hash_lookups: 0,
            reached: "10.0.1.0:8080".into(),
        }
    }

    #[test]
    fn numbers_read_like_the_chapter() {
        assert_eq!(thousands(20_000), "20,000");
        assert_eq!(thousands(340_009), "340,009");
        assert_eq!(thousands(1), "1");
        assert_eq!(duration(0.0152), "15 µs");
        assert_eq!(duration(3.456), "3.46 ms");
        assert_eq!(duration(124.2), "124 ms");
        assert_eq!(duration(1250.0), "1.25 s");
        let en: Vec<String> = CHAPTER
            .iter()
            .map(|c| chapter_duration(Lang::En, c.add_iptables_rule_s))
            .collect();
        assert_eq!(en, ["50 µs", "11 min", "5 h"]);
        assert_eq!(chapter_duration(Lang::ZhCn, 70e-6), "70 微秒");
    }

    #[test]
    fn bars_rise_with_their_value_on_a_log_axis() {
        let figures = [
            fig(1, ProxyMode::Iptables, 26, 0.01),
            fig(5_000, ProxyMode::Iptables, 85_009, 30.0),
            fig(20_000, ProxyMode::Iptables, 340_009, 124.0),
            fig(20_000, ProxyMode::Ipvs, 120_000, 127.0),
        ];
        let c = chart(Metric::Rules, &figures);
        assert_eq!(c.bars.len(), 4);
        // Decades 10 … 1,000,000: one grid line each.
        let labels: Vec<&str> = c.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(
            labels,
            ["10", "100", "1,000", "10,000", "100,000", "1,000,000"]
        );
        let by = |s, m| {
            c.bars
                .iter()
                .find(|b| b.services == s && b.mode == m)
                .unwrap()
        };
        let (small, big) = (by(1, ProxyMode::Iptables), by(20_000, ProxyMode::Iptables));
        assert!(big.height > by(5_000, ProxyMode::Iptables).height);
        assert!(by(5_000, ProxyMode::Iptables).height > small.height);
        assert!(by(20_000, ProxyMode::Ipvs).height < big.height);
        // Each size's bars sit in its own group, left to right, in mode order.
        assert!(small.x < by(5_000, ProxyMode::Iptables).x);
        assert!(big.x < by(20_000, ProxyMode::Ipvs).x);
        assert_eq!(big.label, "340,009");
        // Every bar stands on the axis.
        for b in &c.bars {
            assert!(
                (b.y + b.height - (CHART_HEIGHT - BOTTOM)).abs() < 1e-9,
                "{b:?}"
            );
        }
        assert_eq!(c.groups[2].1, "20,000");
    }

    #[test]
    fn a_zero_time_sits_on_the_floor_and_an_empty_chart_has_an_axis() {
        let c = chart(
            Metric::Change,
            &[
                fig(1, ProxyMode::Ipvs, 6, 0.0),
                fig(20_000, ProxyMode::Ipvs, 6, 2.0),
            ],
        );
        assert_eq!(c.bars[0].height, 1.0);
        assert!(c.bars[1].height > 1.0);
        let labels: Vec<&str> = c.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1 µs", "10 µs"]);
        let slow = chart(
            Metric::FullSync,
            &[
                fig(1, ProxyMode::Ipvs, 6, 0.5),
                fig(2, ProxyMode::Ipvs, 6, 2500.0),
            ],
        );
        let labels: Vec<&str> = slow.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["100 µs", "1 ms", "10 ms", "100 ms", "1 s", "10 s"]);
        let empty = chart(Metric::FullSync, &[]);
        assert!(empty.bars.is_empty());
        assert_eq!(empty.ticks.len(), 2);
    }

    #[test]
    fn the_tables_quote_the_chapter_and_fill_as_figures_arrive() {
        let figures = [fig(5_000, ProxyMode::Iptables, 85_009, 30.0)];
        let r = rows(Lang::En, &figures);
        assert!(r[0].chapter);
        assert_eq!(
            r[0].cells,
            [
                Some("8".to_string()),
                Some("40,000".into()),
                Some("160,000".into())
            ]
        );
        assert_eq!(r[1].label, "rules on kind-worker, iptables");
        assert_eq!(r[1].cells, [None, Some("85,009".into()), None]);
        assert!(
            r.iter()
                .any(|row| row.chapter && row.cells[2].as_deref() == Some("5 h"))
        );
        let zh = rows(Lang::ZhCn, &figures);
        assert_eq!(zh.len(), r.len());
        assert!(zh.iter().all(|row| !row.label.is_empty()));
    }

    #[test]
    fn worker_messages_round_trip_and_garbage_is_a_failure() {
        for e in [
            Event::Measuring {
                services: 20_000,
                mode: ProxyMode::Nftables,
            },
            Event::Measured(fig(1, ProxyMode::Ipvs, 6, 0.1)),
            Event::Finished,
            Event::Failed {
                message: "x".into(),
            },
        ] {
            assert_eq!(Event::from_json(&e.to_json()), e);
        }
        assert!(matches!(Event::from_json("{"), Event::Failed { .. }));
        assert_eq!(
            progress(Lang::En, 7, Some((20_000, ProxyMode::Ipvs))),
            "measuring IPVS with 20,000 Services… (7 of 9 done)"
        );
    }
}
