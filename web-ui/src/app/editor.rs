//! The YAML editor: a text area, "load the chapter's manifests", "kubectl apply", and the
//! error placed at its line (the line is selected in the text, and named under it).

use web_sys::HtmlTextAreaElement;
use web_ui::editor::{EditorError, line_range};
use web_ui::i18n::{Lang, Text, at_line, text};
use web_ui::playground::chapter_manifests;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub error: Option<EditorError>,
    /// Applies the text.
    pub on_apply: Callback<String>,
}

#[function_component(EditorView)]
pub fn editor_view(props: &Props) -> Html {
    let lang = props.lang;
    let value = use_state(String::new);
    let area = use_node_ref();
    // Select the line an error points at, once per new error.
    {
        let (area, value) = (area.clone(), value.clone());
        use_effect_with(props.error.clone(), move |error| {
            if let (Some(line), Some(el)) = (
                error.as_ref().and_then(|e| e.line),
                area.cast::<HtmlTextAreaElement>(),
            ) && let Some((a, b)) = line_range(&value, line)
            {
                let _ = el.focus();
                let _ = el.set_selection_range(a, b);
            }
        });
    }
    let oninput = {
        let value = value.clone();
        Callback::from(move |e: InputEvent| {
            value.set(e.target_unchecked_into::<HtmlTextAreaElement>().value())
        })
    };
    let load = {
        let value = value.clone();
        Callback::from(move |_: MouseEvent| value.set(chapter_manifests()))
    };
    let apply = {
        let (value, on_apply) = (value.clone(), props.on_apply.clone());
        Callback::from(move |_: MouseEvent| on_apply.emit((*value).clone()))
    };
    html! {
        <section class="editor" aria-labelledby="editor-title">
            <h2 id="editor-title">{text(lang, Text::EditorTitle)}</h2>
            <label for="editor" class="help">{text(lang, Text::EditorLabel)}</label>
            <textarea id="editor" ref={area} rows="18" spellcheck="false"
                aria-invalid={props.error.is_some().to_string()}
                aria-describedby="editor-error"
                value={(*value).clone()} {oninput} />
            <div class="controls">
                <button id="editor-load" onclick={load}>{text(lang, Text::LoadChapter)}</button>
                <button id="editor-apply" onclick={apply}>{text(lang, Text::ApplyEditor)}</button>
            </div>
            if let Some(e) = &props.error {
                <p id="editor-error" role="alert">
                    if let Some(line) = e.line {
                        <strong class="line">{format!("{}: ", at_line(lang, line))}</strong>
                    }
                    {e.message.clone()}
                </p>
            }
        </section>
    }
}
