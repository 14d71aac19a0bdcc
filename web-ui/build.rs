//! Embeds the exercises of `labs/` in the playground: every `labs/<id>/lab.yaml` with its
//! `manifests/` and `solution/` YAML files (in file-name order, as `kubectl apply -f DIR`), as
//! `include_str!`s in `$OUT_DIR/labs.rs`, so the guided labs run offline in the page. The labs
//! stay plain data in one place; this only lists them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn files(out: &mut String, dir: &Path) {
    out.push_str("&[");
    for f in yaml_files(dir) {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let _ = write!(
            out,
            "({name:?}, include_str!({:?})),",
            f.display().to_string()
        );
    }
    out.push(']');
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut labs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("the labs folder beside web-ui")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("lab.yaml").is_file())
        .collect();
    labs.sort();
    let mut out = String::from(
        "/// Every lab of `labs/`, in folder order.\npub static LABS: &[LabFiles] = &[\n",
    );
    for dir in labs {
        for sub in ["", "manifests", "solution"] {
            println!("cargo:rerun-if-changed={}", dir.join(sub).display());
        }
        let lab_yaml = dir.join("lab.yaml");
        let _ = write!(
            out,
            "    LabFiles {{ folder: {:?}, lab_yaml: include_str!({:?}), manifests: ",
            dir.file_name().unwrap().to_string_lossy(),
            lab_yaml.display().to_string()
        );
        files(&mut out, &dir.join("manifests"));
        out.push_str(", solution: ");
        files(&mut out, &dir.join("solution"));
        out.push_str(" },\n");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("labs.rs");
    std::fs::write(dest, out).unwrap();
}
