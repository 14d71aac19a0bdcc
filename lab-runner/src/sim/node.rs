//! `GET /svclab/v1/nodes/{node}/exec?command=ARG&command=ARG…`: a command run on a simulated
//! node, answered from the rules that node's kube-proxy has loaded in the mode ConfigMap
//! `kube-system/kube-proxy` currently selects. On kind the same reading is
//! `docker exec NODE ARG…`; `lab-runner node exec` is the client.
//!
//! The request carries the argv as repeated `command` query parameters, in order, as the pods'
//! `exec` subresource does. The answer is `200` with
//! `{"kind":"NodeExecResult","apiVersion":"svclab/v1","node":…,"command":[…],"stdout":…,
//! "stderr":…,"exitCode":N}` whatever the command's exit code; an unknown node is the
//! apiserver's `404 NotFound` Status (`nodes "x" not found`), no `command` a `400 BadRequest`,
//! another method than GET a `405`.
//!
//! What each command prints is `lab_core::shell::node_exec`'s: the node's kube-proxy rules in
//! the current mode, rendered by `lab_core::proxy` as `lab-runner rules` prints them.

use lab_core::shell::ExecOutput;
use serde_json::{Value, json};

pub use lab_core::shell::node_exec as exec;

/// The argv in the query's `command` parameters.
pub fn argv(params: &[(String, String)]) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect()
}

/// The response body for `node` and `argv`.
pub fn to_json(out: &ExecOutput, node: &str, argv: &[String]) -> Value {
    json!({
        "kind": "NodeExecResult",
        "apiVersion": "svclab/v1",
        "node": node,
        "command": argv,
        "stdout": out.stdout,
        "stderr": out.stderr,
        "exitCode": out.exit_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_from_the_query() {
        let params = vec![
            ("command".to_string(), "iptables-save".to_string()),
            ("x".to_string(), "y".to_string()),
            ("command".to_string(), "-t".to_string()),
        ];
        assert_eq!(argv(&params), ["iptables-save", "-t"]);
    }

    #[test]
    fn the_answer_carries_the_node_argv_and_streams() {
        let out = ExecOutput {
            stdout: "a\n".into(),
            stderr: "b\n".into(),
            exit_code: 1,
            served: Vec::new(),
        };
        let argv = vec!["ipvsadm".to_string(), "-Ln".to_string()];
        assert_eq!(
            to_json(&out, "kind-worker", &argv),
            json!({
                "kind": "NodeExecResult",
                "apiVersion": "svclab/v1",
                "node": "kind-worker",
                "command": ["ipvsadm", "-Ln"],
                "stdout": "a\n",
                "stderr": "b\n",
                "exitCode": 1,
            })
        );
    }
}
