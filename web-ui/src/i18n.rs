//! The playground's visible strings in both of the course's languages (`zh-CN`, `en`).
//!
//! Every string the page shows goes through [`text`], so a missing translation is a compile
//! error (one match arm per [`Text`] and language), not a blank on the page.

pub use lab_core::lab::Lang;

/// A string the page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// The page heading.
    Title,
    /// The one-line introduction under it.
    Intro,
    /// The button that applies the chapter's Deployment and Service.
    ApplyChapter,
    /// The label of the replicas stepper.
    Replicas,
    /// The accessible name of the "−" button.
    ScaleDown,
    /// The accessible name of the "+" button.
    ScaleUp,
    /// The accessible name of the language switch.
    Language,
    /// The cluster map's heading.
    MapTitle,
    /// A pod whose Ready condition is True.
    Ready,
    /// A pod whose Ready condition is not True.
    NotReady,
}

/// `text` in `lang`.
pub fn text(lang: Lang, text: Text) -> &'static str {
    use Lang::{En, ZhCn};
    match (text, lang) {
        (Text::Title, En) => "svclab playground",
        (Text::Title, ZhCn) => "svclab 练习场",
        (Text::Intro, En) => {
            "A kind-like cluster running in this page: apply the chapter's manifests, then scale the Deployment and watch the Service's endpoints follow."
        }
        (Text::Intro, ZhCn) => {
            "一个在本页面中运行的类 kind 集群：应用本章的清单，再扩缩 Deployment，观察 Service 的端点随之变化。"
        }
        (Text::ApplyChapter, En) => "apply the chapter's manifests",
        (Text::ApplyChapter, ZhCn) => "应用本章的清单",
        (Text::Replicas, En) => "replicas of deployment/httpd",
        (Text::Replicas, ZhCn) => "deployment/httpd 的副本数",
        (Text::ScaleDown, En) => "scale down by one",
        (Text::ScaleDown, ZhCn) => "减少一个副本",
        (Text::ScaleUp, En) => "scale up by one",
        (Text::ScaleUp, ZhCn) => "增加一个副本",
        (Text::Language, En) => "language",
        (Text::Language, ZhCn) => "语言",
        (Text::MapTitle, En) => "cluster map",
        (Text::MapTitle, ZhCn) => "集群拓扑图",
        (Text::Ready, En) => "Ready",
        (Text::Ready, ZhCn) => "就绪",
        (Text::NotReady, En) => "not ready",
        (Text::NotReady, ZhCn) => "未就绪",
    }
}

/// The `lang` attribute value for the page.
pub fn html_lang(lang: Lang) -> &'static str {
    lang.key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_differ_for_every_label() {
        for t in [
            Text::Title,
            Text::ApplyChapter,
            Text::Replicas,
            Text::ScaleUp,
            Text::MapTitle,
        ] {
            assert_ne!(text(Lang::En, t), text(Lang::ZhCn, t));
        }
    }
}
