//! The labs folder: `labs/<id>/lab.yaml`, each lab's `manifests/` and `solution/`.
//!
//! Found as `--labs DIR`, else `$SVCLAB_LABS`, else `./labs`, else the `labs` folder of the
//! checkout the binary was built from. A lab is named by its id (`01-clusterip`) or a prefix
//! only it has (`01`).

use lab_core::lab::Lab;
use std::path::{Path, PathBuf};

/// One folder under the labs folder that holds a lab.yaml.
#[derive(Debug)]
pub struct LabDir {
    /// The folder's name (the lab's id when it loads).
    pub name: String,
    /// The folder.
    pub path: PathBuf,
    /// The lab, or why its lab.yaml was rejected.
    pub lab: Result<Lab, String>,
}

/// The labs folder (see the module notes).
pub fn root(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = explicit {
        return if dir.is_dir() {
            Ok(dir.to_path_buf())
        } else {
            Err(format!(
                "error: the labs folder {} does not exist",
                dir.display()
            ))
        };
    }
    if let Some(dir) = std::env::var_os("SVCLAB_LABS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() {
            Ok(dir)
        } else {
            Err(format!(
                "error: SVCLAB_LABS={} is not a folder",
                dir.display()
            ))
        };
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs");
    [PathBuf::from("labs"), built]
        .into_iter()
        .find(|d| has_labs(d))
        .ok_or_else(|| {
            "error: no labs folder: run from the svclab checkout, or pass --labs DIR (or set SVCLAB_LABS)"
                .to_string()
        })
}

fn has_labs(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.path().join("lab.yaml").is_file())
        })
        .unwrap_or(false)
}

/// Every lab folder, in name order.
pub fn all(root: &Path) -> Result<Vec<LabDir>, String> {
    let entries = std::fs::read_dir(root)
        .map_err(|e| format!("error: reading the labs folder {}: {e}", root.display()))?;
    let mut out: Vec<LabDir> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("lab.yaml").is_file())
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let lab = load(&path, &name);
            LabDir { name, path, lab }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn load(path: &Path, name: &str) -> Result<Lab, String> {
    let file = path.join("lab.yaml");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let lab = Lab::from_yaml(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    if lab.id != name {
        return Err(format!(
            "{}: id {:?} is not the folder's name {name:?}",
            file.display(),
            lab.id
        ));
    }
    Ok(lab)
}

/// The lab `name` names (its id, or a prefix of one id only), with its folder.
pub fn find(root: &Path, name: &str) -> Result<(Lab, PathBuf), String> {
    let labs = all(root)?;
    let exact = labs.iter().position(|l| l.name == name);
    let index = match exact {
        Some(i) => i,
        None => {
            let matching: Vec<usize> = (0..labs.len())
                .filter(|i| !name.is_empty() && labs[*i].name.starts_with(name))
                .collect();
            match matching[..] {
                [one] => one,
                _ => {
                    let ids: Vec<&str> = labs.iter().map(|l| l.name.as_str()).collect();
                    let what = if matching.is_empty() {
                        "unknown lab"
                    } else {
                        "ambiguous lab name"
                    };
                    return Err(format!(
                        "error: {what} {name:?} (labs: {}; see `lab-runner list`)",
                        if ids.is_empty() {
                            "none".to_string()
                        } else {
                            ids.join(", ")
                        }
                    ));
                }
            }
        }
    };
    let dir = labs.into_iter().nth(index).expect("index from the list");
    match dir.lab {
        Ok(lab) => Ok((lab, dir.path)),
        Err(e) => Err(format!("error: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "id: ID\ntitle: {zh-CN: 标题, en: Title}\n";

    fn labs(dirs: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (name, yaml) in dirs {
            let dir = root.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("lab.yaml"), yaml.replace("ID", name)).unwrap();
        }
        std::fs::create_dir_all(root.path().join("not-a-lab")).unwrap();
        root
    }

    #[test]
    fn labs_by_id_or_unique_prefix() {
        let root = labs(&[("01-one", LAB), ("02-two", LAB), ("021-other", LAB)]);
        let names: Vec<String> = all(root.path())
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(names, ["01-one", "02-two", "021-other"]);
        assert_eq!(find(root.path(), "01").unwrap().0.id, "01-one");
        assert_eq!(find(root.path(), "02-two").unwrap().0.id, "02-two");
        assert_eq!(
            find(root.path(), "02").unwrap_err(),
            "error: ambiguous lab name \"02\" (labs: 01-one, 02-two, 021-other; see `lab-runner list`)"
        );
        assert_eq!(
            find(root.path(), "nosuch").unwrap_err(),
            "error: unknown lab \"nosuch\" (labs: 01-one, 02-two, 021-other; see `lab-runner list`)"
        );
    }

    #[test]
    fn a_broken_lab_says_where() {
        let root = labs(&[("01-one", "id: 01-one\ntitle: {en: x}\n")]);
        let e = find(root.path(), "01-one").unwrap_err();
        assert!(e.starts_with("error: ") && e.contains("lab.yaml"), "{e}");
        let root = labs(&[("01-one", "id: other\ntitle: {zh-CN: 标题, en: Title}\n")]);
        let e = find(root.path(), "01-one").unwrap_err();
        assert!(
            e.ends_with("id \"other\" is not the folder's name \"01-one\""),
            "{e}"
        );
    }

    #[test]
    fn the_checkouts_labs_are_found() {
        let found = root(None).unwrap();
        assert!(found.join("01-clusterip/lab.yaml").is_file(), "{found:?}");
        assert!(root(Some(Path::new("/nonexistent/labs"))).is_err());
    }
}
