//! The guided labs: the exercises of `labs/` (embedded at build time by `build.rs`), started,
//! solved and graded on the page's cluster with lab-core's engine (`Lab::start`, `Lab::solve`,
//! `Lab::grade`): the same checks, probes and causes as `lab-runner check`.

use lab_core::Cluster;
use lab_core::lab::{Lab, Report};

/// One lab folder's files.
#[derive(Debug)]
pub struct LabFiles {
    /// The folder's name (`01-clusterip`).
    pub folder: &'static str,
    /// `lab.yaml`.
    pub lab_yaml: &'static str,
    /// `manifests/`: (file name, text), in name order.
    pub manifests: &'static [(&'static str, &'static str)],
    /// `solution/`: (file name, text), in name order.
    pub solution: &'static [(&'static str, &'static str)],
}

include!(concat!(env!("OUT_DIR"), "/labs.rs"));

/// The lab `id` and its files.
pub fn find(id: &str) -> Option<(Lab, &'static LabFiles)> {
    let files = LABS.iter().find(|l| l.folder == id)?;
    Some((Lab::from_yaml(files.lab_yaml).ok()?, files))
}

/// Every lab that parses, in folder order.
pub fn all() -> Vec<Lab> {
    LABS.iter()
        .filter_map(|l| Lab::from_yaml(l.lab_yaml).ok())
        .collect()
}

/// A fresh cluster at lab `id`'s start.
pub fn start(id: &str) -> Result<Cluster, String> {
    let (lab, files) = find(id).ok_or_else(|| format!("unknown lab {id:?}"))?;
    lab.start(files.manifests.iter().copied())
}

/// Applies lab `id`'s solution to `cluster`.
pub fn solve(id: &str, cluster: &mut Cluster) -> Result<(), String> {
    let (lab, files) = find(id).ok_or_else(|| format!("unknown lab {id:?}"))?;
    lab.solve(cluster, files.solution.iter().copied())
}

/// Grades lab `id` on `cluster`.
pub fn grade(id: &str, cluster: &Cluster) -> Option<Report> {
    Some(find(id)?.0.grade(cluster))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_labs_are_embedded_and_parse() {
        assert_eq!(LABS.len(), 6);
        let ids: Vec<String> = all().into_iter().map(|l| l.id).collect();
        assert_eq!(ids.len(), 6, "every lab.yaml parses");
        assert_eq!(ids[0], "01-clusterip");
        assert!(
            LABS.iter()
                .all(|l| !l.manifests.is_empty() && !l.solution.is_empty())
        );
    }

    #[test]
    fn each_lab_starts_failing_and_passes_solved_in_the_page() {
        for files in LABS {
            let id = files.folder;
            let mut c = start(id).unwrap();
            let before = grade(id, &c).unwrap();
            assert!(!before.all_passed(), "{id} passes before any work");
            solve(id, &mut c).unwrap();
            let after = grade(id, &c).unwrap();
            assert!(after.all_passed(), "{id} fails solved: {after:#?}");
        }
    }
}
