//! Share links, embeds and the state kept across a reload.
//!
//! The playground's state is a pure function of the actions that built it (lab-core is
//! deterministic: same actions, same names, IPs and output), so a scenario is stored and shared
//! as its action log, not as a snapshot of objects: `?s=` carries the log as URL-safe base64 of a
//! small versioned JSON document, `localStorage` keeps the same text, and opening either replays
//! the log into a fresh cluster. `?embed=<view>` shows one view alone (the book's live scenes),
//! `?lang=en|zh-CN` picks the language. `?scene=` is the readable form the book writes by hand
//! (`chapter,scale:5,mode:ipvs`): steps turned into the same actions ([`play_scene`]). An embed
//! neither reads nor writes the saved state: a chapter's scene must not show the learner's own
//! playground, nor overwrite it.
//!
//! A link is input from anywhere: a broken one is reported ([`ShareError`]) and the page starts
//! fresh; a log longer than [`MAX_ACTIONS`] or [`MAX_ENCODED`] is refused before any replay, so a
//! crafted link cannot freeze the page.

use crate::i18n::Lang;
use crate::playground::{Action, Playground};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lab_core::config::ProxyMode;
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
    /// A `?scene=` step that is not one of [`SCENE_STEPS`], or that failed.
    #[error("the link's scene step {step:?} {reason}")]
    Scene {
        /// The step as written.
        step: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The steps `?scene=` understands, as the error lists them.
pub const SCENE_STEPS: &str =
    "chapter, scale:N, mode:iptables|ipvs|nftables, unready:N, lab:ID, solve";
/// Most steps a scene may hold.
pub const MAX_SCENE_STEPS: usize = 32;

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
    // Parsed from a str, as everywhere else in the page: each of serde_json's readers is code
    // to download.
    let text = std::str::from_utf8(&bytes).map_err(|e| ShareError::Json(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ShareError::Json(e.to_string()))?;
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

/// A fresh playground in `lang` with `?scene=` `text` played: comma-separated steps, each one
/// action of the log (so the page's share link of a scene is an ordinary `?s=` link):
/// - `chapter`: the chapter's Deployment, `httpd-svc` and `clientpod` applied;
/// - `scale:N`: the chapter's Deployment scaled to N;
/// - `mode:iptables|ipvs|nftables`: kube-proxy's ConfigMap edited to that mode;
/// - `unready:N`: the N-th (from 1) httpd pod, by name, fails its readiness probe;
/// - `lab:ID`: lab ID started on a fresh cluster; `solve`: that lab's solution applied.
///
/// A step that does not parse or whose action fails is an error: a book's scene that silently
/// showed something else would teach the wrong thing.
pub fn play_scene(lang: Lang, text: &str) -> Result<Playground, ShareError> {
    let steps: Vec<&str> = text.split(',').map(str::trim).collect();
    if steps.len() > MAX_SCENE_STEPS {
        return Err(ShareError::TooLarge(format!(
            "{} scene steps, at most {MAX_SCENE_STEPS}",
            steps.len()
        )));
    }
    let mut p = Playground::new(lang);
    for step in steps {
        let bad = |reason: String| ShareError::Scene {
            step: step.to_string(),
            reason,
        };
        let number = |v: &str| {
            v.parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| bad("needs a number".into()))
        };
        let action = match step.split_once(':') {
            None if step == "chapter" => Action::ApplyChapter,
            None if step == "solve" => match &p.lab {
                Some(id) => Action::SolveLab(id.clone()),
                None => return Err(bad("comes before any lab:ID".into())),
            },
            Some(("scale", n)) => Action::Scale(number(n)?),
            Some(("mode", m)) => Action::SetProxyMode(match m {
                "iptables" => ProxyMode::Iptables,
                "ipvs" => ProxyMode::Ipvs,
                "nftables" => ProxyMode::Nftables,
                _ => return Err(bad("names no kube-proxy mode".into())),
            }),
            Some(("unready", n)) => {
                let n = number(n)? as usize;
                let mut pods: Vec<String> = p
                    .map()
                    .pods()
                    .filter(|x| x.name.starts_with("httpd-"))
                    .map(|x| x.name.clone())
                    .collect();
                pods.sort();
                match n.checked_sub(1).and_then(|i| pods.get(i)) {
                    Some(pod) => Action::SetPodReady(pod.clone(), false),
                    None => return Err(bad(format!("but there are {} httpd pods", pods.len()))),
                }
            }
            Some(("lab", id)) => Action::StartLab(id.to_string()),
            _ => return Err(bad(format!("is not one of {SCENE_STEPS}"))),
        };
        p.reduce(action);
        if let Some(e) = p.error.take() {
            return Err(bad(format!("failed: {e}")));
        }
    }
    Ok(p)
}

/// What the page's query string asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// `s`: an encoded scenario.
    pub scenario: Option<String>,
    /// `scene`: a scene's steps (used when there is no `s`).
    pub scene: Option<String>,
    /// `embed`: the one view to show.
    pub embed: Option<View>,
    /// `lang`.
    pub lang: Option<Lang>,
    /// `live`: the API's path on this origin, still percent-encoded (see `crate::live`).
    pub live: Option<String>,
}

/// Decodes `%XX` escapes and `+` (a space, as in any query string).
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `?s=…&embed=…&lang=…&live=…` (the leading `?` optional; unknown keys ignored).
pub fn parse_query(search: &str) -> Query {
    let mut q = Query::default();
    for pair in search.trim_start_matches('?').split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "s" if !v.is_empty() => q.scenario = Some(v.to_string()),
            "scene" if !v.is_empty() => {
                q.scene = Some(percent_decode(v).unwrap_or_else(|| v.to_string()));
            }
            "embed" => q.embed = View::parse(v),
            "lang" => q.lang = Lang::parse(v),
            "live" => q.live = Some(v.to_string()),
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

    #[test]
    fn a_scene_is_the_same_as_its_actions() {
        let q = parse_query("?embed=map&scene=chapter,scale:5,unready:2,mode:ipvs&lang=en");
        assert_eq!(
            q.scene.as_deref(),
            Some("chapter,scale:5,unready:2,mode:ipvs")
        );
        // A browser or a link checker may escape the separators.
        let escaped = parse_query("?scene=chapter%2Cscale%3A5%2cmode%3aipvs");
        assert_eq!(escaped.scene.as_deref(), Some("chapter,scale:5,mode:ipvs"));
        let p = play_scene(Lang::En, q.scene.as_deref().unwrap()).unwrap();
        assert_eq!(p.replicas(), Some(5));
        assert_eq!(p.proxy_mode(), ProxyMode::Ipvs);
        let mut names: Vec<_> = p
            .map()
            .pods()
            .filter(|x| x.name.starts_with("httpd-"))
            .cloned()
            .collect();
        names.sort_by(|a, b| a.name.cmp(&b.name));
        let unready: Vec<_> = names.iter().map(|x| x.ready).collect();
        assert_eq!(
            unready,
            [true, false, true, true, true],
            "the 2nd httpd pod by name"
        );
        // The log is ordinary actions: a share link of a scene replays to the same cluster.
        let again = replay(Lang::En, &decode(&encode(scenario(&p))).unwrap());
        assert_eq!(again.map(), p.map());
    }

    #[test]
    fn a_lab_scene_starts_and_solves_the_lab() {
        let start = play_scene(Lang::En, "lab:01-clusterip").unwrap();
        let solved = play_scene(Lang::En, "lab:01-clusterip,solve").unwrap();
        let report = |p: &Playground| crate::labs::grade("01-clusterip", &p.cluster).unwrap();
        assert!(!report(&start).all_passed(), "lab 01 starts broken");
        assert!(report(&solved).all_passed(), "its solution passes");
    }

    #[test]
    fn broken_scenes_name_the_step() {
        let err = |s| play_scene(Lang::En, s).unwrap_err().to_string();
        assert_eq!(
            err("chapter,frob"),
            format!("the link's scene step \"frob\" is not one of {SCENE_STEPS}")
        );
        assert_eq!(
            err("scale:x"),
            "the link's scene step \"scale:x\" needs a number"
        );
        assert_eq!(
            err("mode:userspace"),
            "the link's scene step \"mode:userspace\" names no kube-proxy mode"
        );
        assert_eq!(
            err("solve"),
            "the link's scene step \"solve\" comes before any lab:ID"
        );
        assert_eq!(
            err("chapter,unready:4"),
            "the link's scene step \"unready:4\" but there are 3 httpd pods"
        );
        assert_eq!(
            err("scale:2"),
            "the link's scene step \"scale:2\" failed: deployments.apps \"httpd\" not found"
        );
        assert!(
            err("lab:99-nope")
                .starts_with("the link's scene step \"lab:99-nope\" failed: unknown lab")
        );
        assert!(matches!(
            play_scene(Lang::En, &vec!["chapter"; MAX_SCENE_STEPS + 1].join(",")),
            Err(ShareError::TooLarge(_))
        ));
    }
}
