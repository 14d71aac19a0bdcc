//! `lab-runner demo`: the Service chapter's manifests applied step by step to a simulated kind
//! cluster, with what `kubectl apply` and `kubectl get` would print after each step.
//!
//! Step 1 uses the first lab's Deployment and its solution's Service (`labs/01-clusterip/`); the later
//! steps' manifests (NodePort, headless Service, client Pod) are the chapter's, kept next to this
//! file. Everything runs on the virtual clock, so the output is the same on every run.

use crate::Lang;
use crate::get;
use anyhow::{Context, Result};
use lab_core::{Cluster, Kind};
use std::fmt::Write as _;

/// A text in both languages.
struct Text {
    en: &'static str,
    zh: &'static str,
}

impl Text {
    fn pick(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::ZhCn => self.zh,
        }
    }
}

/// One manifest file: the path shown in the transcript (relative to the repository) and its text.
struct Manifest {
    path: &'static str,
    text: &'static str,
}

struct Step {
    title: Text,
    manifests: &'static [Manifest],
    note: Text,
}

const INTRO: Text = Text {
    en: "svclab demo: the Service chapter replayed on a simulated kind cluster (virtual clock; nothing real is created).",
    zh: "svclab 演示：在模拟的 kind 集群上重放 Service 章节的操作（虚拟时钟，不会创建任何真实资源）。",
};

/// The comment printed when the virtual clock moved while the cluster settled.
fn settled(lang: Lang, passed: &str) -> String {
    match lang {
        Lang::En => format!(
            "# {passed} of virtual time passes: Pods are scheduled, images pulled, containers started."
        ),
        Lang::ZhCn => format!("# 虚拟时间过去了 {passed}：调度 Pod、拉取镜像、启动容器。"),
    }
}

const STEPS: &[Step] = &[
    Step {
        title: Text {
            en: "Step 1/4: a Deployment of 3 httpd Pods, and the ClusterIP Service httpd-svc that sends its port 8080 to their port 80.",
            zh: "第 1/4 步：创建 3 副本的 httpd Deployment，以及把 8080 端口转发到 Pod 80 端口的 ClusterIP Service httpd-svc。",
        },
        manifests: &[
            Manifest {
                path: "labs/01-clusterip/manifests/httpd-deployment.yaml",
                text: include_str!("../../../labs/01-clusterip/manifests/httpd-deployment.yaml"),
            },
            Manifest {
                // The lab's starting Service has a selector typo to find; the demo shows it fixed.
                path: "labs/01-clusterip/solution/httpd-service.yaml",
                text: include_str!("../../../labs/01-clusterip/solution/httpd-service.yaml"),
            },
        ],
        note: Text {
            en: "-> httpd-svc got a virtual ClusterIP; its Endpoints are the 3 Pod IPs chosen by the selector app=httpd, on targetPort 80.",
            zh: "-> httpd-svc 获得了一个虚拟的 ClusterIP；它的 Endpoints 是 selector app=httpd 选中的 3 个 Pod IP，端口为 targetPort 80。",
        },
    },
    Step {
        title: Text {
            en: "Step 2/4: the same Service re-applied as type NodePort with nodePort 30144, to open it outside the cluster.",
            zh: "第 2/4 步：把同一个 Service 改为 NodePort 类型并指定 nodePort 30144，使集群外部也能访问。",
        },
        manifests: &[Manifest {
            path: "lab-runner/src/demo/httpd-service-nodeport.yaml",
            text: include_str!("httpd-service-nodeport.yaml"),
        }],
        note: Text {
            en: "-> The Service keeps its ClusterIP; PORT(S) now reads 8080:30144/TCP: every node listens on 30144 and forwards to the same Endpoints.",
            zh: "-> Service 保留了原来的 ClusterIP；PORT(S) 变为 8080:30144/TCP：每个节点都在 30144 端口监听，并转发到同一组 Endpoints。",
        },
    },
    Step {
        title: Text {
            en: "Step 3/4: the headless Service headless-svc (clusterIP: None) over the same Pods.",
            zh: "第 3/4 步：为同一组 Pod 创建 Headless Service headless-svc（clusterIP: None）。",
        },
        manifests: &[Manifest {
            path: "lab-runner/src/demo/headless-svc.yaml",
            text: include_str!("headless-svc.yaml"),
        }],
        note: Text {
            en: "-> CLUSTER-IP is None: no virtual IP and no load balancing by kube-proxy; DNS answers with the Pod IPs of its Endpoints.",
            zh: "-> CLUSTER-IP 为 None：没有虚拟 IP，kube-proxy 也不为它做负载均衡；DNS 直接返回其 Endpoints 中的 Pod IP。",
        },
    },
    Step {
        title: Text {
            en: "Step 4/4: the client Pod clientpod (busybox:1.28.3, sleep 30000), to try names and addresses from inside the cluster.",
            zh: "第 4/4 步：创建客户端 Pod clientpod（busybox:1.28.3，sleep 30000），用于在集群内部测试域名和地址。",
        },
        manifests: &[Manifest {
            path: "lab-runner/src/demo/clientpod.yaml",
            text: include_str!("clientpod.yaml"),
        }],
        note: Text {
            en: "-> clientpod has no app=httpd label, so no Service selects it: the Endpoints are still the 3 httpd Pods.",
            zh: "-> clientpod 没有 app=httpd 标签，不会被任何 Service 选中：Endpoints 仍然只有 3 个 httpd Pod。",
        },
    },
];

/// The `kubectl get` commands shown after every step; `true` where `--wide` adds `-o wide`.
const GETS: &[(&[Kind], bool)] = &[
    (&[Kind::Deployment, Kind::ReplicaSet, Kind::Pod], true),
    (&[Kind::Service], true),
    (&[Kind::Endpoints], false),
    (&[Kind::EndpointSlice], false),
];

/// Runs the demo and returns its transcript.
pub fn run(lang: Lang, wide: bool) -> Result<String> {
    let mut cluster = Cluster::kind();
    let mut out = String::new();
    writeln!(out, "{}", INTRO.pick(lang))?;
    for step in STEPS {
        writeln!(out)?;
        writeln!(out, "## {}", step.title.pick(lang))?;
        for m in step.manifests {
            writeln!(out, "$ kubectl apply -f {}", m.path)?;
            let outcomes = cluster
                .apply_manifests(m.text)
                .with_context(|| format!("applying {}", m.path))?;
            for o in outcomes {
                writeln!(out, "{o}")?;
            }
        }
        let passed_ms = cluster.settle();
        if passed_ms > 0 {
            writeln!(
                out,
                "{}",
                settled(lang, &lab_core::printers::human_duration(passed_ms as i64))
            )?;
        }
        for (kinds, widens) in GETS {
            let w = wide && *widens;
            writeln!(out)?;
            writeln!(out, "$ {}", get::command(kinds, w))?;
            out.push_str(&get::get(&cluster, kinds, "default", w));
        }
        writeln!(out)?;
        writeln!(out, "{}", step.note.pick(lang))?;
    }
    Ok(out)
}
