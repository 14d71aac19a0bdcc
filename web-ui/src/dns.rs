//! The DNS view's model: one question asked from one pod, answered side by side by the pod's
//! own `nslookup` (the one its image has, with the pod's search list), by `dig` (which does not
//! use the search list unless told `+search`: a difference the chapter's learners meet) and by
//! the C library's walk (every query it sends, with each answer). All three come from
//! `lab_core::dns::from_pod`.

use crate::playground::NAMESPACE;
use lab_core::Cluster;
use lab_core::dns::RecordType;
use lab_core::dns::from_pod::{self, Format, LookupError};
use std::str::FromStr;

/// The record types the view offers (`None`: the tool's default).
pub const TYPES: [&str; 8] = ["A", "AAAA", "SRV", "PTR", "TXT", "CNAME", "NS", "SOA"];

/// One tool's answer: what it printed (stdout then stderr) and its exit status, or why it
/// could not run in this pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Panel {
    /// The tool ran.
    Ran {
        /// stdout followed by stderr.
        text: String,
        /// Exit status.
        exit_code: i32,
    },
    /// It could not (the image has no such tool, or no such option).
    Unavailable(String),
}

/// The three answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    /// Which nslookup the pod has (`busybox 1.28 nslookup`), if any.
    pub nslookup_tool: Option<&'static str>,
    /// The pod's nslookup.
    pub nslookup: Panel,
    /// dig.
    pub dig: Panel,
    /// The C library's queries (address lookups only).
    pub walk: Panel,
    /// The command lines, as typed in the pod (`nslookup httpd-svc`, `dig httpd-svc A`).
    pub commands: [String; 2],
}

fn panel(r: Result<lab_core::dns::tools::ToolOutput, LookupError>) -> Panel {
    match r {
        Ok(o) => Panel::Ran {
            text: format!("{}{}", o.stdout, o.stderr),
            exit_code: o.exit_code,
        },
        Err(e) => Panel::Unavailable(e.to_string()),
    }
}

/// Asks `name` (of type `qtype`, empty for the default) from `pod`. A bad pod or type is an
/// error in words; a tool that cannot run is a panel saying why.
pub fn ask(cluster: &Cluster, pod: &str, name: &str, qtype: &str) -> Result<Answers, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("nslookup: a name to look up is needed".into());
    }
    let qtype = match qtype.trim() {
        "" => None,
        t => Some(
            RecordType::from_str(&t.to_ascii_uppercase())
                .map_err(|_| format!("unknown record type {t:?}"))?,
        ),
    };
    let run = |format| from_pod::lookup(cluster, NAMESPACE, pod, name, qtype, format);
    if let Err(e @ LookupError::PodNotFound { .. }) = run(Format::Walk) {
        return Err(e.to_string());
    }
    let walk = match qtype {
        None | Some(RecordType::A) | Some(RecordType::AAAA) => panel(run(Format::Walk)),
        Some(t) => Panel::Unavailable(LookupError::WalkType(t).to_string()),
    };
    let t = qtype.map(|t| t.to_string());
    Ok(Answers {
        nslookup_tool: from_pod::nslookup_of(cluster, NAMESPACE, pod),
        nslookup: panel(run(Format::Nslookup)),
        dig: panel(run(Format::Dig)),
        walk,
        commands: [
            match &t {
                Some(t) => format!("nslookup -type={} {name}", t.to_lowercase()),
                None => format!("nslookup {name}"),
            },
            match &t {
                Some(t) => format!("dig {name} {t}"),
                None => format!("dig {name}"),
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Cluster {
        let mut p = crate::playground::Playground::default();
        p.reduce(crate::playground::Action::ApplyChapter);
        p.cluster
    }

    #[test]
    fn a_short_name_resolves_through_the_search_list_but_not_in_dig() {
        let c = cluster();
        let a = ask(&c, "clientpod", "httpd-svc", "").unwrap();
        assert_eq!(a.nslookup_tool, Some("busybox 1.28 nslookup"));
        let Panel::Ran { text, exit_code: 0 } = &a.nslookup else {
            panic!("{:?}", a.nslookup)
        };
        assert!(text.contains("Name:      httpd-svc"), "{text}");
        assert!(
            text.contains("httpd-svc.default.svc.cluster.local"),
            "{text}"
        );
        let Panel::Ran { text: dig, .. } = &a.dig else {
            panic!("{:?}", a.dig)
        };
        assert!(
            dig.contains("status: NXDOMAIN"),
            "dig does not search: {dig}"
        );
        let Panel::Ran { text: walk, .. } = &a.walk else {
            panic!()
        };
        // uClibc tries the name as typed first, then the search list.
        assert!(
            walk.lines().next().unwrap().contains(" httpd-svc. "),
            "{walk}"
        );
        assert!(
            walk.contains(
                "httpd-svc.default.svc.cluster.local.  -> 10.96.0.10  NOERROR aa  A 10.96."
            )
        );
        assert_eq!(
            a.commands,
            [
                "nslookup httpd-svc".to_string(),
                "dig httpd-svc".to_string()
            ]
        );
    }

    #[test]
    fn types_and_tools_the_image_lacks() {
        let c = cluster();
        let a = ask(
            &c,
            "clientpod",
            "httpd-svc.default.svc.cluster.local",
            "srv",
        )
        .unwrap();
        assert!(
            matches!(&a.nslookup, Panel::Unavailable(m) if m.contains("busybox 1.28) has no -type"))
        );
        assert!(
            matches!(&a.dig, Panel::Ran { text, .. } if text.contains("IN SRV\t0 100 8080 httpd-svc.default.svc.cluster.local.")),
            "{:?}",
            a.dig
        );
        assert!(matches!(&a.walk, Panel::Unavailable(_)));
        let httpd = c
            .list(lab_core::Kind::Pod, Some("default"))
            .find(|p| p.name().starts_with("httpd-"))
            .unwrap()
            .name()
            .to_string();
        let a = ask(&c, &httpd, "httpd-svc", "").unwrap();
        assert_eq!(a.nslookup_tool, None);
        assert!(matches!(&a.nslookup, Panel::Unavailable(m) if m.contains("has no nslookup")));
        assert!(
            ask(&c, "nope", "x", "")
                .unwrap_err()
                .starts_with("pods \"nope\" not found")
        );
        assert_eq!(
            ask(&c, "clientpod", "x", "BOGUS").unwrap_err(),
            "unknown record type \"BOGUS\""
        );
        assert!(ask(&c, "clientpod", " ", "").is_err());
    }
}
