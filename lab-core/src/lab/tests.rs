//! The engine on a simulated cluster: every check kind passing on the chapter's objects, and
//! failing with the exact message when something is off.

use super::probe::{answer_all, probe_pod_manifest};
use super::*;
use crate::Cluster;
use crate::config::ProxyMode;

const DEPLOYMENT: &str = include_str!("../../tests/data/httpd-deployment.yaml");
const SERVICE: &str = include_str!("../../tests/data/httpd-service.yaml");
const NODEPORT: &str = include_str!("../../tests/data/httpd-service-nodeport.yaml");
const HEADLESS: &str = include_str!("../../tests/data/headless-service.yaml");
const CLIENT: &str = include_str!("../../tests/data/clientpod.yaml");

fn cluster(manifests: &[&str]) -> Cluster {
    let mut c = Cluster::kind();
    for m in manifests {
        c.apply_manifests(m).unwrap();
    }
    c.settle();
    c
}

/// Grades `lab` on `c` as a front end would: snapshot, probes answered by the cluster.
fn grade(lab: &Lab, c: &Cluster) -> Report {
    let snap = LabSnapshot::from_cluster(c);
    let results = answer_all(c, &lab.probes(&snap));
    lab.evaluate(&snap, &results)
}

fn lab(checks: &str) -> Lab {
    let text = format!("id: test-lab\ntitle: {{zh-CN: 测试, en: Test}}\nchecks:\n{checks}");
    Lab::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn check<'a>(r: &'a Report, id: &str) -> &'a CheckReport {
    r.check(id).unwrap_or_else(|| panic!("no check {id}"))
}

const CHAPTER_CHECKS: &str = r#"
- id: deployment
  title: {zh-CN: 三个副本就绪, en: three replicas ready}
  object:
    kind: deploy
    name: httpd
    fields:
      spec.replicas: 3
      status.readyReplicas: 3
      spec.template.spec.containers[name=httpd].ports[0].containerPort: 80
- id: service
  title: {zh-CN: Service, en: Service}
  object:
    kind: svc
    name: httpd-svc
    fields:
      spec.type: ClusterIP
      spec.clusterIP: {prefix: "10.96."}
      spec.ports[0].port: 8080
      spec.ports[0].targetPort: 80
      spec.selector[app]: httpd
- id: pods
  title: {zh-CN: Pod, en: Pods}
  object:
    kind: Pod
    selector: app=httpd
    count: 3
    fields:
      status.phase: Running
- id: endpoints
  title: {zh-CN: 端点, en: endpoints}
  endpoints: {service: httpd-svc, ready: 3, notReady: 0, port: 80}
- id: dns-short
  title: {zh-CN: 短名字, en: short name}
  dns: {from: pod/clientpod, name: httpd-svc, expect: {service: httpd-svc}}
- id: dns-fqdn
  title: {zh-CN: 全名, en: FQDN}
  dns: {from: probe, name: httpd-svc.default.svc.cluster.local, expect: {service: httpd-svc}}
- id: dns-reverse
  title: {zh-CN: 反查, en: reverse}
  dns: {from: pod/clientpod, reverseOf: httpd-svc, expect: {service: httpd-svc}}
- id: dns-nx
  title: {zh-CN: 不存在, en: no such name}
  dns: {from: pod/clientpod, name: nosuch-svc, expect: {nxdomain: true}}
- id: dns-outside
  title: {zh-CN: 集群外的名字, en: a name outside}
  dns: {from: pod/clientpod, name: www.example.com, expect: {resolves: true}}
- id: http-name
  title: {zh-CN: 按名字访问, en: by name}
  http: {from: pod/clientpod, service: httpd-svc, tries: 6, expect: {distinctBackends: 2}}
- id: http-ip
  title: {zh-CN: 按 ClusterIP 访问, en: by ClusterIP}
  http: {from: probe, service: httpd-svc, port: 8080, via: clusterIP}
- id: rules
  title: {zh-CN: 规则, en: rules}
  proxy: {service: httpd-svc}
"#;

fn chapter() -> Cluster {
    cluster(&[DEPLOYMENT, SERVICE, CLIENT, &probe_pod_manifest()])
}

#[test]
fn the_chapter_passes_every_kind_of_check() {
    let c = chapter();
    let l = lab(CHAPTER_CHECKS);
    let r = grade(&l, &c);
    for cr in &r.checks {
        assert_eq!(cr.status, Status::Pass, "{cr:#?}");
        assert!(cr.cause.is_none() && cr.hint.is_none(), "{cr:#?}");
    }
    assert_eq!((r.passed, r.failed, r.errors, r.exit_code()), (12, 0, 0, 0));
    assert_eq!(check(&r, "dns-outside").found.en, "192.0.2.10");
    assert!(r.all_passed());
    let rules = check(&r, "rules");
    assert!(
        rules.found.en.contains("kind-worker: KUBE-SVC-")
            && rules.found.en.contains("→ 3 endpoints"),
        "{rules:#?}"
    );
    assert!(
        check(&r, "http-name")
            .found
            .en
            .starts_with("6 of 6 requests got the page, answered by httpd-")
    );
}

#[test]
fn probes_are_plain_data_with_stable_keys() {
    let c = chapter();
    let l = lab(CHAPTER_CHECKS);
    let probes = l.probes(&LabSnapshot::from_cluster(&c));
    let keys: Vec<&str> = probes.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        &keys[..4],
        ["dns-short", "dns-fqdn", "dns-reverse", "dns-nx"]
    );
    assert!(
        keys.contains(&"http-name#5") && keys.contains(&"rules#2"),
        "{keys:?}"
    );
    let short = &probes[0];
    assert_eq!(
        short.target,
        ProbeTarget::Pod {
            namespace: "default".into(),
            name: "clientpod".into()
        }
    );
    assert_eq!(short.argv, ["nslookup", "httpd-svc"]);
    let ip = probes.iter().find(|p| p.key == "http-ip").unwrap();
    assert_eq!(
        ip.target,
        ProbeTarget::Pod {
            namespace: "default".into(),
            name: "svclab-probe".into()
        }
    );
    assert!(
        ip.argv.last().unwrap().starts_with("http://10.96."),
        "{:?}",
        ip.argv
    );
    let json = serde_json::to_value(short).unwrap();
    assert_eq!(json["target"]["kind"], "pod");
}

#[test]
fn a_selector_typo_fails_with_the_labels_the_pods_have() {
    let c = cluster(&[
        &DEPLOYMENT.replace("app: httpd", "app: web"),
        SERVICE,
        CLIENT,
    ]);
    let l = lab(CHAPTER_CHECKS);
    let r = grade(&l, &c);
    let ep = check(&r, "endpoints");
    assert_eq!(ep.status, Status::Fail);
    assert_eq!(
        ep.expected.en,
        "default/httpd-svc: 3 ready endpoints, 0 not-ready endpoints, on port 80"
    );
    assert_eq!(ep.found.en, "0 ready, 0 not ready, port (none)");
    assert_eq!(
        ep.cause.as_ref().unwrap().en,
        "selector app=httpd matches no pod; pods are labelled app=web"
    );
    assert_eq!(
        ep.cause.as_ref().unwrap().zh_cn,
        "selector app=httpd 选不中任何 Pod；Pod 的标签是 app=web。"
    );
    let http = check(&r, "http-name");
    assert_eq!(http.status, Status::Fail);
    assert!(
        http.found
            .en
            .starts_with("0 of 6 requests got the page; failed: "),
        "{http:#?}"
    );
    assert_eq!(http.cause, ep.cause);
    // The probe pod does not exist in this cluster: its checks could not be made.
    assert_eq!(check(&r, "dns-fqdn").status, Status::Error);
    assert_eq!(r.exit_code(), 2);
}

#[test]
fn unready_pods_and_a_wrong_target_port_are_named() {
    let mut c = chapter();
    let pod = crate::testutil::pods(&c, "default", "httpd-")[0]
        .metadata
        .name
        .clone()
        .unwrap();
    c.set_pod_ready("default", &pod, false).unwrap();
    c.settle();
    let r = grade(&lab(CHAPTER_CHECKS), &c);
    let ep = check(&r, "endpoints");
    assert_eq!(ep.found.en.split(" (").next(), Some("2 ready"));
    let cause = &ep.cause.as_ref().unwrap().en;
    assert!(
        cause.starts_with(&format!(
            "1 of the 3 pods app=httpd selects are not Ready: {pod} Running"
        )),
        "{cause}"
    );
    let c = cluster(&[
        DEPLOYMENT,
        &SERVICE.replace("targetPort: 80", "targetPort: 8080"),
        CLIENT,
    ]);
    let r = grade(&lab(CHAPTER_CHECKS), &c);
    let http = check(&r, "http-name");
    assert_eq!(http.status, Status::Fail);
    assert_eq!(
        http.cause.as_ref().unwrap().en,
        "the targetPort of httpd-svc is 8080, but the pods' containers declare port 80: nothing listens on 8080"
    );
}

#[test]
fn missing_objects_say_where_to_look() {
    let c = cluster(&[CLIENT]);
    let r = grade(&lab(CHAPTER_CHECKS), &c);
    let d = check(&r, "deployment");
    assert_eq!(
        (
            d.status,
            d.found.en.as_str(),
            d.cause.as_ref().unwrap().en.as_str()
        ),
        (
            Status::Fail,
            "not found",
            "there is no Deployment in namespace default yet"
        )
    );
    let s = check(&r, "dns-short");
    assert_eq!(s.status, Status::Fail);
    assert_eq!(
        s.cause.as_ref().unwrap().en,
        "there is no Service httpd-svc in namespace default: create it first"
    );
    let rev = check(&r, "dns-reverse");
    assert_eq!(rev.found.en, "no ClusterIP to look up");
    assert_eq!(check(&r, "rules").found.en, "no such Service port");
}

#[test]
fn headless_names_return_the_pod_ips() {
    let c = cluster(&[DEPLOYMENT, HEADLESS, CLIENT]);
    let l = lab(r#"
- id: headless
  title: {zh-CN: 无头, en: headless}
  dns: {from: pod/clientpod, name: headless-svc, expect: {pods: app=httpd}}
- id: headless-svc
  title: {zh-CN: 无头, en: headless}
  dns: {from: pod/clientpod, name: headless-svc, expect: {service: headless-svc}}
- id: is-headless
  title: {zh-CN: 无头, en: headless}
  object: {kind: Service, name: headless-svc, fields: {spec.clusterIP: None}}
"#);
    let r = grade(&l, &c);
    assert!(r.all_passed(), "{r:#?}");
    assert_eq!(check(&r, "headless").found.en.split(", ").count(), 3);
    // The same check against a normal Service: one ClusterIP, and the cause says why.
    let c = cluster(&[
        DEPLOYMENT,
        &HEADLESS.replace("  clusterIP: None\n", ""),
        CLIENT,
    ]);
    let r = grade(&l, &c);
    let h = check(&r, "headless");
    assert_eq!(h.status, Status::Fail);
    assert!(
        h.cause
            .as_ref()
            .unwrap()
            .en
            .starts_with("the answer is one ClusterIP"),
        "{h:#?}"
    );
    assert_eq!(
        check(&r, "is-headless").found.en.split(" = ").next(),
        Some("spec.clusterIP")
    );
    // A headless Service that selects nothing: the name does not resolve, and the cause is the
    // Service's selector.
    let c = cluster(&[
        DEPLOYMENT,
        &HEADLESS.replace("app: httpd", "app: httpd-server"),
        CLIENT,
    ]);
    let h = grade(&l, &c);
    let h = check(&h, "headless");
    assert_eq!(h.status, Status::Fail);
    assert_eq!(
        h.cause.as_ref().map(|c| c.en.as_str()),
        Some("selector app=httpd-server matches no pod; pods are labelled app=httpd")
    );
}

#[test]
fn node_ports_from_outside() {
    let l = lab(r#"
- id: outside
  title: {zh-CN: 外部访问, en: from outside}
  http: {from: external, service: httpd-svc, nodePort: 30144, tries: 3}
"#);
    let r = grade(&l, &cluster(&[DEPLOYMENT, NODEPORT]));
    assert!(r.all_passed(), "{r:#?}");
    let r = grade(&l, &cluster(&[DEPLOYMENT, SERVICE]));
    let o = check(&r, "outside");
    assert_eq!(o.status, Status::Fail);
    assert_eq!(
        o.cause.as_ref().unwrap().en,
        "httpd-svc is of type ClusterIP: only NodePort and LoadBalancer Services have a nodePort reachable from outside"
    );
    let r = grade(
        &l,
        &cluster(&[DEPLOYMENT, &NODEPORT.replace("30144", "30145")]),
    );
    assert_eq!(
        check(&r, "outside").cause.as_ref().unwrap().en,
        "the nodePort of httpd-svc is 30145, not 30144: set it in ports[].nodePort"
    );
}

fn set_mode(c: &mut Cluster, mode: ProxyMode) {
    crate::testutil::set_proxy_mode(c, mode.as_str());
}

#[test]
fn proxy_rules_are_read_in_every_mode() {
    let l = lab(r#"
- id: rules
  title: {zh-CN: 规则, en: rules}
  proxy: {service: httpd-svc, port: 8080}
- id: ipvs
  title: {zh-CN: IPVS, en: IPVS}
  proxy: {service: httpd-svc, node: kind-worker2, mode: ipvs, endpoints: 3}
"#);
    let mut c = cluster(&[DEPLOYMENT, SERVICE]);
    for mode in [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables] {
        set_mode(&mut c, mode);
        let r = grade(&l, &c);
        let rules = check(&r, "rules");
        assert_eq!(rules.status, Status::Pass, "{mode:?}: {rules:#?}");
        assert_eq!(
            rules.found.en.matches("→ 3 endpoints").count(),
            3,
            "{rules:#?}"
        );
        let ipvs = check(&r, "ipvs");
        if mode == ProxyMode::Ipvs {
            assert_eq!(ipvs.status, Status::Pass, "{ipvs:#?}");
            assert!(
                ipvs.found.en.starts_with("kind-worker2: TCP  10.96."),
                "{ipvs:#?}"
            );
        } else {
            assert_eq!(ipvs.status, Status::Fail);
            assert_eq!(
                ipvs.found.en,
                format!("kube-proxy runs in {} mode", mode.as_str())
            );
            assert!(
                ipvs.cause
                    .as_ref()
                    .unwrap()
                    .en
                    .starts_with("set mode: ipvs in config.conf")
            );
        }
    }
    // Scaled to zero: no endpoint rules anywhere, and the check says why.
    set_mode(&mut c, ProxyMode::Iptables);
    c.scale(crate::Kind::Deployment, "default", "httpd", 0)
        .unwrap();
    c.settle();
    let r = grade(&l, &c);
    let rules = check(&r, "rules");
    assert_eq!(
        rules.status,
        Status::Pass,
        "0 endpoints wanted, 0 programmed: {rules:#?}"
    );
    assert!(rules.found.en.contains("no rule for 10.96."), "{rules:#?}");
}

#[test]
fn lab_yaml_errors_name_the_field() {
    let base = "id: l\ntitle: {zh-CN: 一, en: one}\n";
    let err = |tail: &str| {
        Lab::from_yaml(&format!("{base}{tail}"))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("checks:\n- id: a\n  title: {zh-CN: x, en: x}\n"),
        "lab.yaml: checks[0]: Invalid value: one of object, endpoints, dns, http or proxy is required"
    );
    assert_eq!(
        err(
            "checks:\n- id: a\n  title: {zh-CN: x, en: x}\n  endpoints: {service: s}\n  proxy: {service: s}\n"
        ),
        "lab.yaml: checks[0]: Invalid value: only one of object, endpoints, dns, http or proxy may be given"
    );
    assert_eq!(
        err("checks:\n- id: a\n  title: {zh-CN: x, en: x}\n  object: {kind: Gadget, name: g}\n"),
        "lab.yaml: checks[0].object.kind: Invalid value: \"Gadget\": not a kind the labs know"
    );
    assert_eq!(
        err(
            "checks:\n- id: a\n  title: {zh-CN: x, en: x}\n  object: {kind: svc, name: s, fields: {\"spec..x\": 1}}\n"
        ),
        "lab.yaml: checks[0].object.fields[spec..x]: Invalid value: \"spec..x\": not a field path like spec.ports[0].port"
    );
    assert_eq!(
        err(
            "checks:\n- id: a\n  title: {zh-CN: x, en: x}\n  dns: {from: external, name: x, expect: {nxdomain: true}}\n"
        ),
        "lab.yaml: checks[0].dns.from: Invalid value: a lookup runs in a pod: pod/NAME or probe"
    );
    assert_eq!(
        err(
            "checks:\n- id: a\n  title: {zh-CN: x, en: x}\n  endpoints: {service: s}\n- id: a\n  title: {zh-CN: x, en: x}\n  endpoints: {service: s}\n"
        ),
        "lab.yaml: checks[1].id: Invalid value: \"a\": duplicate check id"
    );
    assert_eq!(
        err("goals:\n- {zh-CN: '', en: x}\n"),
        "lab.yaml: goals[0].zh-CN: Invalid value: empty text"
    );
    // A typo in a check's key is an error, not a silently skipped check.
    let typo = err("checks:\n- id: a\n  title: {zh-CN: x, en: x}\n  endpoint: {service: s}\n");
    assert!(
        typo.starts_with("lab.yaml: ") && typo.contains("endpoint"),
        "{typo}"
    );
    let bad_source = err(
        "checks:\n- id: a\n  title: {zh-CN: x, en: x}\n  dns: {from: clientpod, name: x, expect: {nxdomain: true}}\n",
    );
    assert!(bad_source.contains("a source is pod/NAME"), "{bad_source}");
}

#[test]
fn expectations() {
    use serde_json::json;
    let e = |y: &str| -> Expect { serde_saphyr::from_str(y).unwrap() };
    assert!(e("3").holds(Some(&json!(3))));
    assert!(e("3").holds(Some(&json!(3.0))));
    assert!(!e("3").holds(Some(&json!("3"))));
    assert!(e("{exists: false}").holds(None));
    assert!(!e("{exists: true}").holds(Some(&json!(null))));
    assert!(e("{oneOf: [NodePort, LoadBalancer]}").holds(Some(&json!("NodePort"))));
    assert!(e("{atLeast: 2}").holds(Some(&json!(5))));
    assert!(!e("{atMost: 2}").holds(Some(&json!(5))));
    assert!(e("{prefix: '10.96.'}").holds(Some(&json!("10.96.0.1"))));
    assert!(e("{contains: 80}").holds(Some(&json!([80, 443]))));
    assert!(e("{not: ClusterIP}").holds(None));
    assert_eq!(e("{oneOf: [a, b]}").describe().en, "one of a, b");
    assert_eq!(
        e("{selector: 1, x: 2}"),
        Expect::Equals(json!({"selector": 1, "x": 2}))
    );
}

#[test]
fn lang_and_sources_parse() {
    assert_eq!(Lang::parse("zh_CN.UTF-8"), Some(Lang::ZhCn));
    assert_eq!(Lang::parse("zh"), Some(Lang::ZhCn));
    assert_eq!(Lang::parse("en_US"), Some(Lang::En));
    assert_eq!(Lang::parse("fr"), None);
    let s: Source = serde_saphyr::from_str("pod/client.team-a").unwrap();
    assert_eq!(
        s,
        Source::Pod {
            namespace: "team-a".into(),
            name: "client".into()
        }
    );
    assert_eq!(String::from(s), "pod/client.team-a");
}

#[test]
fn reports_serialise_with_their_schema() {
    let r = grade(&lab(CHAPTER_CHECKS), &chapter());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["schema"], "svclab.dev/lab-report/v1");
    assert_eq!(json["checks"][0]["status"], "pass");
    assert_eq!(json["checks"][0]["title"]["zh-CN"], "三个副本就绪");
    assert!(json["checks"][0].get("cause").is_none());
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn a_config_file_field_shows_only_the_lines_that_matter() {
    let l = lab(r#"
- id: mode
  title: {zh-CN: 模式, en: mode}
  object:
    kind: ConfigMap
    namespace: kube-system
    name: kube-proxy
    fields:
      data[config.conf]: {contains: "mode: ipvs"}
- id: missing
  title: {zh-CN: 缺少, en: missing}
  object:
    kind: ConfigMap
    namespace: kube-system
    name: kube-proxy
    fields:
      data[config.conf]: {contains: "nosuchkey: 1"}
"#);
    let mut c = cluster(&[]);
    let r = grade(&l, &c);
    let m = check(&r, "mode");
    assert_eq!(m.status, Status::Fail);
    assert_eq!(m.found.en, "data[config.conf] = mode: iptables");
    let n = check(&r, "missing");
    assert!(
        n.found.en.starts_with("data[config.conf] = ")
            && n.found.en.ends_with(" lines without \"nosuchkey: 1\""),
        "{n:#?}"
    );
    set_proxy_mode(&mut c, ProxyMode::Ipvs).unwrap();
    assert_eq!(check(&grade(&l, &c), "mode").status, Status::Pass);
    assert_eq!(LabSnapshot::from_cluster(&c).proxy_mode(), ProxyMode::Ipvs);
}

#[test]
fn cluster_needs_add_upstream_names_and_check_texts_need_both_languages() {
    let needs: ClusterNeeds =
        serde_saphyr::from_str("upstream: {mirror.example.net: 198.51.100.7}").unwrap();
    let config = needs.cluster_config();
    assert!(config.dns_upstream.names.contains_key("mirror.example.net"));
    assert!(config.dns_upstream.names.contains_key("www.example.com"));
    let err = Lab::from_yaml(
        "id: l\ntitle: {zh-CN: 一, en: one}\nchecks:\n- id: a\n  title: {zh-CN: x, en: x}\n  hint: {zh-CN: x, en: ' '}\n  endpoints: {service: s}\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lab.yaml: checks[0].hint.en: Invalid value: empty text"
    );
}

#[test]
fn a_selector_that_picks_other_pods_too_lists_what_it_picks() {
    let stray = CLIENT.replace(
        "metadata:\n  name: clientpod\n",
        "metadata:\n  name: stray\n  labels:\n    app: httpd\n    tier: debug\n",
    );
    let c = cluster(&[DEPLOYMENT, SERVICE, &stray]);
    let r = grade(&lab(CHAPTER_CHECKS), &c);
    let ep = check(&r, "endpoints");
    assert_eq!(ep.status, Status::Fail);
    assert_eq!(ep.found.en.split(" (").next(), Some("4 ready"));
    assert_eq!(
        ep.cause.as_ref().unwrap().en,
        "selector app=httpd picks 4 pods of different kinds: 3 × app=httpd, 1 × app=httpd,tier=debug; add a label that tells them apart"
    );
}

#[test]
fn a_pod_without_the_named_target_port_is_no_usable_endpoint() {
    // toolbox matches the Services' selector but has no port named http: upstream puts it in a
    // slice without ports, which kube-proxy (and so the check) leaves out; DNS still lists it.
    // (It does not match the ReplicaSet's selector, which would adopt it.)
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: named\nspec:\n  selector:\n    role: web\n  ports:\n  - port: 8080\n    targetPort: http\n";
    let headless = svc
        .replace("name: named", "name: named-headless")
        .replace("  ports:", "  clusterIP: None\n  ports:");
    let deployment = DEPLOYMENT
        .replace(
            "- containerPort: 80",
            "- containerPort: 80\n              name: http",
        )
        .replace(
            "      labels:\n        app: httpd",
            "      labels:\n        app: httpd\n        role: web",
        );
    assert!(deployment.contains("name: http\n") && deployment.contains("role: web"));
    let toolbox = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: toolbox\n  labels:\n    role: web\nspec:\n  containers:\n  - name: toolbox\n    image: busybox:1.28\n    args: [sleep, \"3600\"]\n";
    let c = cluster(&[&deployment, svc, &headless, toolbox, CLIENT]);
    let l = lab(r#"
- id: endpoints
  title: {zh-CN: 端点, en: endpoints}
  endpoints: {service: named, ready: 3, port: 80}
- id: rules
  title: {zh-CN: 规则, en: rules}
  proxy: {service: named, node: kind-worker}
- id: dns
  title: {zh-CN: 无头, en: headless}
  dns: {from: pod/clientpod, name: named-headless, expect: {service: named-headless}}
"#);
    let r = grade(&l, &c);
    assert!(r.all_passed(), "{r:#?}");
    assert!(
        check(&r, "rules").found.en.ends_with("→ 3 endpoints"),
        "{r:#?}"
    );
    assert_eq!(check(&r, "dns").found.en.split(", ").count(), 4, "{r:#?}");
}
