//! The chapter's shell sessions, run with the real kubectl, curl and dig against a fresh
//! `lab-runner sim` per file: `tests/transcripts/*.md`, in the format `support/transcript.rs`
//! documents.

mod support;
#[path = "support/transcript.rs"]
mod transcript;

use std::path::{Path, PathBuf};

/// The chapter's manifests, copied into each transcript's working directory.
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../lab-core/tests/data");

fn transcripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

fn run(name: &str) {
    assert!(
        Path::new(support::KUBECTL).exists(),
        "needs {} (see README)",
        support::KUBECTL
    );
    transcript::run(&transcripts().join(name), &[Path::new(DATA)]);
}

#[test]
fn chapter() {
    run("chapter.md");
}

#[test]
fn bad_input() {
    run("bad-input.md");
}

/// A new transcript needs its own test above.
#[test]
fn every_transcript_has_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(transcripts())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    assert_eq!(names, ["bad-input.md", "chapter.md"]);
}
