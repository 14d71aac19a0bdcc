//! The outcome of grading a lab: one [`CheckReport`] per check, in the lab's order.
//!
//! Serialised as JSON it is `lab-runner check --format json`'s document; [`SCHEMA`] names its
//! version, bumped on any incompatible change.

use super::Text;
use serde::{Deserialize, Serialize};

/// The report format's name and version.
pub const SCHEMA: &str = "svclab.dev/lab-report/v1";

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The cluster shows what the check asks for.
    Pass,
    /// It does not: `expected`, `found` and `cause` say how.
    Fail,
    /// The check could not be made (a probe could not run): not the learner's fault.
    Error,
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The check's id.
    pub id: String,
    /// The check's title.
    pub title: Text,
    /// Outcome.
    pub status: Status,
    /// What the check wanted.
    pub expected: Text,
    /// What the cluster showed.
    pub found: Text,
    /// The likely reason for a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Text>,
    /// The check's hint (shown on request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Text>,
}

/// A lab's grade.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// The lab's id.
    pub lab: String,
    /// Checks passed.
    pub passed: usize,
    /// Checks failed.
    pub failed: usize,
    /// Checks that could not be made.
    pub errors: usize,
    /// Every check, in the lab's order.
    pub checks: Vec<CheckReport>,
}

impl Report {
    pub(super) fn new(lab: &str, checks: Vec<CheckReport>) -> Report {
        let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
        Report {
            schema: SCHEMA.to_string(),
            lab: lab.to_string(),
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            errors: count(Status::Error),
            checks,
        }
    }

    /// Every check passed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }

    /// The runner's exit code: 0 all passed, 1 some failed, 2 some could not be checked.
    pub fn exit_code(&self) -> i32 {
        if self.errors > 0 {
            2
        } else if self.failed > 0 {
            1
        } else {
            0
        }
    }

    /// The report of check `id`.
    pub fn check(&self, id: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|c| c.id == id)
    }
}
