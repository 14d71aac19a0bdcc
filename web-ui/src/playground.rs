//! The playground's state and the only way it changes: an [`Action`] applied by
//! [`Playground::reduce`] (the Yew examples' reducer habit). The page holds one `Playground`,
//! dispatches actions from its controls and redraws from [`Playground::map`]; none of this
//! imports Yew, so it is tested natively.

use crate::i18n::Lang;
use crate::map::ClusterMap;
use lab_core::{Cluster, Kind};

/// The chapter's Deployment (3 httpd replicas), as lab-core's tests and the book use it.
pub const CHAPTER_DEPLOYMENT: &str =
    include_str!("../../lab-core/tests/data/httpd-deployment.yaml");
/// The chapter's Service `httpd-svc` (port 8080 → targetPort 80).
pub const CHAPTER_SERVICE: &str = include_str!("../../lab-core/tests/data/httpd-service.yaml");
/// The Deployment the scale control acts on.
pub const CHAPTER_DEPLOYMENT_NAME: &str = "httpd";
/// The namespace the playground shows and edits.
pub const NAMESPACE: &str = "default";
/// The scale control's bounds (the map is sized for a handful of pods per node).
pub const MAX_REPLICAS: i32 = 10;

/// Something the learner did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `kubectl apply -f` the chapter's Deployment and Service.
    ApplyChapter,
    /// `kubectl scale deployment httpd --replicas=N`.
    Scale(i32),
    /// Switch the page's language.
    SetLang(Lang),
}

/// The whole page state: an in-page kind-like cluster and the language.
#[derive(Clone, Debug)]
pub struct Playground {
    /// The simulated cluster, `Cluster::kind()` at start.
    pub cluster: Cluster,
    /// The language of the visible strings.
    pub lang: Lang,
    /// The last action's error, as the apiserver would word it.
    pub error: Option<String>,
}

impl Default for Playground {
    fn default() -> Self {
        Playground::new(Lang::default())
    }
}

impl Playground {
    /// A fresh kind cluster with nothing applied.
    pub fn new(lang: Lang) -> Playground {
        let mut cluster = Cluster::kind();
        cluster.settle();
        Playground {
            cluster,
            lang,
            error: None,
        }
    }

    /// Applies `action`, then lets the controllers settle so the map shows the converged state.
    pub fn reduce(&mut self, action: Action) {
        self.error = None;
        let result = match action {
            Action::ApplyChapter => self
                .cluster
                .apply_manifests(&format!("{CHAPTER_DEPLOYMENT}\n---\n{CHAPTER_SERVICE}"))
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Action::Scale(n) => self
                .cluster
                .scale(
                    Kind::Deployment,
                    NAMESPACE,
                    CHAPTER_DEPLOYMENT_NAME,
                    n.clamp(0, MAX_REPLICAS),
                )
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Action::SetLang(lang) => {
                self.lang = lang;
                Ok(())
            }
        };
        self.error = result.err();
        self.cluster.settle();
    }

    /// The Deployment's desired replicas, `None` before the chapter is applied.
    pub fn replicas(&self) -> Option<i32> {
        self.cluster
            .get_typed::<k8s_openapi::api::apps::v1::Deployment>(NAMESPACE, CHAPTER_DEPLOYMENT_NAME)
            .map(|d| d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1))
    }

    /// The cluster map of the playground's namespace.
    pub fn map(&self) -> ClusterMap {
        ClusterMap::from_cluster(&self.cluster, Some(NAMESPACE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn httpd_lines(p: &Playground) -> usize {
        p.map()
            .services
            .iter()
            .find(|s| s.name == "httpd-svc")
            .map_or(0, |s| s.endpoints.iter().filter(|e| e.ready).count())
    }

    #[test]
    fn apply_then_scale_to_five_gives_five_endpoints() {
        let mut p = Playground::default();
        assert_eq!(p.replicas(), None);
        p.reduce(Action::ApplyChapter);
        assert_eq!(p.error, None);
        assert_eq!(p.replicas(), Some(3));
        assert_eq!(httpd_lines(&p), 3);
        p.reduce(Action::Scale(5));
        assert_eq!(p.replicas(), Some(5));
        assert_eq!(httpd_lines(&p), 5);
    }

    #[test]
    fn scaling_before_apply_reports_not_found() {
        let mut p = Playground::default();
        p.reduce(Action::Scale(5));
        let err = p.error.expect("an error");
        assert!(err.contains("not found"), "{err}");
    }

    #[test]
    fn language_switch_keeps_the_cluster() {
        let mut p = Playground::new(Lang::En);
        p.reduce(Action::ApplyChapter);
        p.reduce(Action::SetLang(Lang::ZhCn));
        assert_eq!(p.lang, Lang::ZhCn);
        assert_eq!(httpd_lines(&p), 3);
    }
}
