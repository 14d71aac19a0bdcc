//! Share links, embeds and the state kept across a reload.
//!
//! The playground's state is a pure function of the actions that built it (lab-core is
//! deterministic: same actions, same names, IPs and output), so a scenario is stored and shared
//! as its action log, not as a snapshot of objects: `?s=` carries the log as URL-safe base64 of a
//! small versioned JSON document, `localStorage` keeps the same text, and opening either replays
//! the log into a fresh cluster. `?embed=<view>` shows one view alone (the book's live scenes),
//! `?lang=en|zh-CN` picks the language.
//!
//! A link is input from anywhere: a broken one is reported ([`ShareError`]) and the page starts
//! fresh; a log longer than [`MAX_ACTIONS`] or [`MAX_ENCODED`] is refused before any replay, so a
//! crafted link cannot freeze the page.

use crate::i18n::Lang;
use crate::playground::{Action, Playground};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The `localStorage` key of the saved scenario.
pub const STORAGE_KEY: &str = "svclab.playground";
/// The scenario format's version (a new number for any incompatible change).
pub const VERSION: u32 = 1;
/// Most actions a scenario may hold.
pub const MAX_ACTIONS: usize = 1_000;
/// Longest encoded scenario accepted (bytes of base64).
pub const MAX_ENCODED: usize = 256 * 1024;

/// The views a link can open or embed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The cluster map.
    Map,
    /// The pods table with its actions.
    Pods,
    /// The YAML editor.
    Editor,
    /// A node's kube-proxy rules.
    Rules,
    /// The terminal.
    Terminal,
    /// The trace view.
    Trace,
    /// The DNS view.
    Dns,
    /// The guided labs.
    Labs,
    /// The scale comparison of the proxy modes.
    Scale,
}

impl View {
    /// Every view, in page order.
    pub const ALL: [View; 9] = [
        View::Map,
        View::Labs,
        View::Pods,
        View::Editor,
        View::Trace,
        View::Dns,
        View::Rules,
        View::Terminal,
        View::Scale,
    ];

    /// The name used in `?embed=`.
    pub fn key(self) -> &'static str {
        match self {
            View::Map => "map",
            View::Pods => "pods",
            View::Editor => "editor",
            View::Rules => "rules",
            View::Terminal => "terminal",
            View::Trace => "trace",
            View::Dns => "dns",
            View::Labs => "labs",
            View::Scale => "scale",
        }
    }

    /// The view named `key`.
    pub fn parse(key: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.key() == key)
    }
}

/// Why a shared or saved scenario could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShareError {
    /// Not base64url.
    #[error("the link's scenario is not valid base64url")]
    Base64,
    /// Not the scenario document.
    #[error("the link's scenario is not a svclab scenario: {0}")]
    Json(String),
    /// Written by another version of the playground.
    #[error("the link's scenario has version {found}; this playground reads version {VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
    /// Too big to replay.
    #[error("the link's scenario is too large ({0})")]
    TooLarge(String),
}

#[derive(Serialize, Deserialize)]
struct Document {
    v: u32,
    actions: Vec<Action>,
}

/// The actions that rebuild a playground (the language is not part of the scenario).
pub fn scenario(p: &Playground) -> &[Action] {
    &p.log
}

/// `actions` as the text of `?s=` and of the saved state.
pub fn encode(actions: &[Action]) -> String {
    let doc = Document {
        v: VERSION,
        actions: actions.to_vec(),
    };
    let json = serde_json::to_vec(&doc).expect("actions always serialise");
    URL_SAFE_NO_PAD.encode(json)
}

/// The actions of an encoded scenario.
pub fn decode(text: &str) -> Result<Vec<Action>, ShareError> {
    if text.len() > MAX_ENCODED {
        return Err(ShareError::TooLarge(format!(
            "{} bytes, at most {MAX_ENCODED}",
            text.len()
        )));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| ShareError::Base64)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ShareError::Json(e.to_string()))?;
    let found = value.get("v").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
    if found != VERSION {
        return Err(ShareError::Version { found });
    }
    let doc: Document =
        serde_json::from_value(value).map_err(|e| ShareError::Json(e.to_string()))?;
    if doc.actions.len() > MAX_ACTIONS {
        return Err(ShareError::TooLarge(format!(
            "{} actions, at most {MAX_ACTIONS}",
            doc.actions.len()
        )));
    }
    Ok(doc.actions)
}

/// A fresh playground in `lang` with `actions` replayed.
pub fn replay(lang: Lang, actions: &[Action]) -> Playground {
    let mut p = Playground::new(lang);
    for a in actions {
        p.reduce(a.clone());
    }
    p
}

/// What the page's query string asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// `s`: an encoded scenario.
    pub scenario: Option<String>,
    /// `embed`: the one view to show.
    pub embed: Option<View>,
    /// `lang`.
    pub lang: Option<Lang>,
}

/// Parses `?s=…&embed=…&lang=…` (the leading `?` optional; unknown keys ignored).
pub fn parse_query(search: &str) -> Query {
    let mut q = Query::default();
    for pair in search.trim_start_matches('?').split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "s" if !v.is_empty() => q.scenario = Some(v.to_string()),
            "embed" => q.embed = View::parse(v),
            "lang" => q.lang = Lang::parse(v),
            _ => {}
        }
    }
    q
}

/// The link that opens `actions` in `lang` at `base` (the page's address without a query),
/// embedding one view when `embed` is set.
pub fn link(base: &str, actions: &[Action], lang: Lang, embed: Option<View>) -> String {
    let mut url = format!("{base}?lang={}", lang.key());
    if let Some(v) = embed {
        url.push_str(&format!("&embed={}", v.key()));
    }
    if !actions.is_empty() {
        url.push_str(&format!("&s={}", encode(actions)));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::config::ProxyMode;

    fn chapter_scenario() -> Playground {
        let mut p = Playground::new(Lang::En);
        p.reduce(Action::ApplyChapter);
        p.reduce(Action::Scale(5));
        let victim = crate::playground::first_httpd_pod(&p);
        p.reduce(Action::DeletePod(victim));
        p.reduce(Action::SetProxyMode(ProxyMode::Ipvs));
        p.reduce(Action::Run("kubectl get svc".into()));
        p.reduce(Action::SetLang(Lang::ZhCn));
        p
    }

    #[test]
    fn a_link_rebuilds_the_same_cluster() {
        let p = chapter_scenario();
        let url = link("http://127.0.0.1:6443/", scenario(&p), Lang::En, None);
        let q = parse_query(url.split_once('?').unwrap().1);
        assert_eq!(q.lang, Some(Lang::En));
        let actions = decode(&q.scenario.unwrap()).unwrap();
        let again = replay(q.lang.unwrap(), &actions);
        assert_eq!(again.map(), p.map(), "same pods, IPs and endpoints");
        assert_eq!(again.proxy_mode(), ProxyMode::Ipvs);
        assert_eq!(again.terminal, p.terminal);
        assert_eq!(
            again.cluster.store().resource_version(),
            p.cluster.store().resource_version()
        );
        assert_eq!(
            scenario(&again),
            scenario(&p),
            "the language is not in the log"
        );
    }

    #[test]
    fn embeds_and_languages_parse() {
        let q = parse_query("?embed=rules&lang=zh-CN&x=1");
        assert_eq!(q.embed, Some(View::Rules));
        assert_eq!(q.lang, Some(Lang::ZhCn));
        assert_eq!(q.scenario, None);
        assert_eq!(parse_query("embed=nope").embed, None);
        for v in View::ALL {
            assert_eq!(View::parse(v.key()), Some(v));
        }
    }

    #[test]
    fn broken_links_are_errors_not_panics() {
        assert_eq!(decode("!!!"), Err(ShareError::Base64));
        assert!(matches!(
            decode(&URL_SAFE_NO_PAD.encode("{")),
            Err(ShareError::Json(_))
        ));
        assert_eq!(
            decode(&URL_SAFE_NO_PAD.encode(r#"{"v":9,"actions":[]}"#)),
            Err(ShareError::Version { found: 9 })
        );
        assert!(matches!(
            decode(&URL_SAFE_NO_PAD.encode(r#"{"v":1,"actions":[{"frob":1}]}"#)),
            Err(ShareError::Json(_))
        ));
        let many = vec![Action::Scale(1); MAX_ACTIONS + 1];
        assert!(matches!(
            decode(&encode(&many)),
            Err(ShareError::TooLarge(_))
        ));
        assert!(matches!(
            decode(&"A".repeat(MAX_ENCODED + 1)),
            Err(ShareError::TooLarge(_))
        ));
    }
}
