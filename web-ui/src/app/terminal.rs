//! The terminal: a scrollback of commands and their output, and one input line with history
//! (↑/↓) and Tab completion. Running and completing are the parent's callbacks (lab-core's
//! `shell::terminal` over the page's cluster); this component only keeps the line being typed.

use std::rc::Rc;
use web_ui::i18n::{Lang, Text, text};
use web_ui::playground::TerminalEntry;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub entries: Rc<Vec<TerminalEntry>>,
    pub lang: Lang,
    /// Runs a line.
    pub on_run: Callback<String>,
    /// Completes a line: the new line and, when several words fit, the candidates.
    pub on_complete: Callback<String, (String, Vec<String>)>,
}

const PROMPT: &str = "$ ";

#[function_component(TerminalView)]
pub fn terminal_view(props: &Props) -> Html {
    let line = use_state(String::new);
    // Position in the history while walking it with ↑/↓ (None: editing a new line).
    let walk = use_state(|| None::<usize>);
    let candidates = use_state(Vec::<String>::new);
    let history: Vec<String> = props.entries.iter().map(|e| e.command.clone()).collect();

    let oninput = {
        let line = line.clone();
        let walk = walk.clone();
        Callback::from(move |e: InputEvent| {
            line.set(super::typed(&e));
            walk.set(None);
        })
    };
    let onkeydown = {
        let (line, walk, candidates) = (line.clone(), walk.clone(), candidates.clone());
        let (on_run, on_complete) = (props.on_run.clone(), props.on_complete.clone());
        Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            "Enter" => {
                on_run.emit((*line).clone());
                line.set(String::new());
                walk.set(None);
                candidates.set(Vec::new());
            }
            "Tab" => {
                e.prevent_default();
                let (completed, cands) = on_complete.emit((*line).clone());
                line.set(completed);
                candidates.set(if cands.len() > 1 { cands } else { Vec::new() });
            }
            "ArrowUp" | "ArrowDown" if !history.is_empty() => {
                e.prevent_default();
                let last = history.len() - 1;
                let next = match (e.key().as_str(), *walk) {
                    ("ArrowUp", None) => Some(last),
                    ("ArrowUp", Some(i)) => Some(i.saturating_sub(1)),
                    ("ArrowDown", Some(i)) if i < last => Some(i + 1),
                    _ => None,
                };
                line.set(next.map_or_else(String::new, |i| history[i].clone()));
                walk.set(next);
            }
            _ => {}
        })
    };
    let lang = props.lang;
    html! {
        <section class="terminal" aria-labelledby="terminal-title">
            <h2 id="terminal-title">{text(lang, Text::TerminalTitle)}</h2>
            <pre id="terminal-output" class="screen" aria-live="polite" tabindex="0">
                { for props.entries.iter().map(|e| html! {
                    <>
                        <span class="prompt">{PROMPT}</span><span class="command">{e.command.clone()}</span>{"\n"}
                        <span class="stdout">{e.output.stdout.clone()}</span>
                        <span class="stderr">{e.output.stderr.clone()}</span>
                    </>
                }) }
            </pre>
            if !candidates.is_empty() {
                <p id="terminal-candidates" class="candidates">{candidates.join("  ")}</p>
            }
            <div class="input-line">
                <label for="terminal-input" class="prompt" aria-label={text(lang, Text::TerminalInput)}>{PROMPT}</label>
                <input id="terminal-input" type="text" spellcheck="false" autocomplete="off"
                    autocapitalize="off" value={(*line).clone()} {oninput} {onkeydown} />
            </div>
            <p class="help">{text(lang, Text::TerminalHelp)}</p>
        </section>
    }
}
