use super::*;
use crate::testutil::{HTTPD_SVC, cluster_with, httpd_deployment};

const NODEPORT: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector:\n    app: httpd\n  ports:\n  - name: http\n    port: 80\n    targetPort: 80\n    nodePort: 30080\n";

fn snapshot(mode: ProxyMode) -> ProxySnapshot {
    let c = cluster_with(&format!(
        "{}---\n{HTTPD_SVC}---\n{NODEPORT}",
        httpd_deployment(3)
    ));
    let mut s = ProxySnapshot::from_cluster(&c);
    s.config.mode = mode;
    s
}

/// The node "shows" exactly the prediction, passed through `edit`.
fn found(s: &ProxySnapshot, node: &str, edit: impl Fn(Source, String) -> String) -> Vec<Found> {
    predict(s, &NftablesOptions::kind(), node)
        .unwrap()
        .into_iter()
        .map(|(source, text)| Found {
            source,
            command: format!("test {}", source.argv().join(" ")),
            stdout: edit(source, text),
        })
        .collect()
}

/// The predicted dump of kind-worker.
fn dump(s: &ProxySnapshot, source: Source) -> String {
    predict(s, &NftablesOptions::kind(), "kind-worker")
        .unwrap()
        .into_iter()
        .find_map(|(d, text)| (d == source).then_some(text))
        .unwrap()
}

fn run(s: &ProxySnapshot, f: &[Found]) -> NodeReport {
    compare_node(s, &NftablesOptions::kind(), "kind-worker", f).unwrap()
}

fn mismatches(r: &NodeReport) -> Vec<&Mismatch> {
    r.owners.iter().flat_map(|o| &o.mismatches).collect()
}

fn owner_of<'a>(r: &'a NodeReport, m: &Mismatch) -> &'a Owner {
    &r.owners
        .iter()
        .find(|o| o.mismatches.contains(m))
        .unwrap()
        .owner
}

#[test]
fn the_prediction_matches_itself_in_every_mode() {
    for mode in [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables] {
        let s = snapshot(mode);
        let r = run(&s, &found(&s, "kind-worker", |_, t| t));
        assert_eq!(r.mismatch_count(), 0, "{mode:?}: {}", r.text(Lang::En));
        assert!(r.foreign.is_empty() || mode != ProxyMode::Nftables);
        assert!(r.extra.is_empty(), "{mode:?}: {:?}", r.extra);
        let owners: Vec<String> = r.owners.iter().map(|o| o.owner.label(Lang::En)).collect();
        for want in [
            "default/httpd-svc",
            "default/web:http",
            "kube-system/kube-dns:dns",
        ] {
            assert!(owners.contains(&want.to_string()), "{mode:?}: {owners:?}");
        }
        assert!(r.owners.iter().all(|o| o.predicted_lines > 0));
    }
}

#[test]
fn a_changed_dnat_target_is_one_stale_mismatch_of_its_service() {
    let s = snapshot(ProxyMode::Iptables);
    let text = dump(&s, Source::IptablesSave);
    let old = text
        .lines()
        .find(|l| l.contains("\"default/httpd-svc\"") && l.contains("--to-destination"))
        .unwrap()
        .to_string();
    let ip = old.rsplit(' ').next().unwrap().to_string();
    let new = old.replace(&ip, "10.244.9.9:80");
    let r = run(&s, &found(&s, "kind-worker", |_, t| t.replace(&old, &new)));
    let m = mismatches(&r);
    assert_eq!(m.len(), 1, "{}", r.text(Lang::En));
    assert_eq!(m[0].predicted.as_deref(), Some(normalize(&old).as_str()));
    assert_eq!(m[0].found.as_deref(), Some(normalize(&new).as_str()));
    assert_eq!(m[0].cause.kind, CauseKind::StaleSync);
    assert!(
        m[0].cause.text.en.contains("10.244.9.9:80"),
        "{:?}",
        m[0].cause
    );
    assert_eq!(
        owner_of(&r, m[0]),
        &Owner::ServicePort("default/httpd-svc".into())
    );
    let text = r.text(Lang::En);
    assert!(text.contains("✗ default/httpd-svc: 1 mismatch"), "{text}");
    assert!(r.text(Lang::ZhCn).contains("可能的原因"));
}

#[test]
fn an_endpoint_gone_from_the_node_reads_as_one_chain_and_its_jump() {
    let s = snapshot(ProxyMode::Iptables);
    let text = dump(&s, Source::IptablesSave);
    let jump = text
        .lines()
        .find(|l| l.starts_with("-A KUBE-SVC-") && l.contains("default/httpd-svc -> "))
        .unwrap()
        .to_string();
    let sep = jump.rsplit(' ').next().unwrap().to_string();
    let r = run(
        &s,
        &found(&s, "kind-worker", |_, t| {
            t.lines()
                .filter(|l| !l.contains(&sep))
                .map(|l| format!("{l}\n"))
                .collect()
        }),
    );
    let m = mismatches(&r);
    let whole = m
        .iter()
        .find(|m| m.place == format!("nat {sep}"))
        .expect("the chain");
    assert!(whole.found.is_none());
    let lines: Vec<&str> = whole.predicted.as_deref().unwrap().lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], format!(":{sep} -"));
    assert!(m.iter().all(|m| m.cause.kind == CauseKind::StaleSync));
    let text = r.text(Lang::En);
    assert!(
        text.contains(&format!(
            "        predicted: :{sep} -\n                   -A {sep} "
        )),
        "{text}"
    );
    let n = m.len();
    assert!(
        text.contains(&format!(
            "        likely cause (of the {n} above): a stale sync"
        )),
        "{text}"
    );
    assert!(
        r.text(Lang::ZhCn)
            .contains(&format!("可能的原因（以上 {n} 处）：同步滞后"))
    );
}

#[test]
fn service_order_in_shared_chains_does_not_count() {
    let s = snapshot(ProxyMode::Iptables);
    let r = run(
        &s,
        &found(&s, "kind-worker", |_, t| {
            // Move the httpd-svc rules of KUBE-SERVICES after the others (but before the
            // nodeports jump, which must stay last).
            let mut lines: Vec<String> = t.lines().map(String::from).collect();
            let idx: Vec<usize> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| {
                    l.starts_with("-A KUBE-SERVICES") && l.contains("default/httpd-svc")
                })
                .map(|(i, _)| i)
                .collect();
            assert!(!idx.is_empty());
            let moved: Vec<String> = idx.iter().rev().map(|&i| lines.remove(i)).collect();
            let last = lines
                .iter()
                .position(|l| l.contains("this must be the last rule"))
                .unwrap();
            for m in moved {
                lines.insert(last, m);
            }
            lines.join("\n") + "\n"
        }),
    );
    assert_eq!(r.mismatch_count(), 0, "{}", r.text(Lang::En));
}

#[test]
fn other_programs_chains_are_apart_and_kube_proxy_extras_listed() {
    let s = snapshot(ProxyMode::Iptables);
    let r = run(
        &s,
        &found(&s, "kind-worker", |_, t| {
            let t = t.replacen(
                ":KUBE-MARK-MASQ - [0:0]\n",
                ":KUBE-MARK-DROP - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n",
                1,
            );
            let t = t.replacen(
                ":POSTROUTING ACCEPT [0:0]\n",
                ":POSTROUTING ACCEPT [0:0]\n:DOCKER_OUTPUT - [0:0]\n:DOCKER_POSTROUTING - [0:0]\n:KIND-MASQ-AGENT - [0:0]\n",
                1,
            );
            let t = t.replacen(
                "-A PREROUTING ",
                "-A PREROUTING -d 172.18.0.1/32 -j DOCKER_OUTPUT\n-A PREROUTING ",
                1,
            );
            let t = t.replacen(
                "-A KUBE-MARK-MASQ ",
                "-A KIND-MASQ-AGENT -d 10.244.0.0/16 -m comment --comment \"kind-masq-agent: local traffic is not subject to MASQUERADE\" -j RETURN\n-A KUBE-MARK-MASQ ",
                1,
            );
            format!(
                "# Generated by iptables-save v1.8.9 (nf_tables) on Mon Dec  7 10:00:00 2026\n*mangle\n:PREROUTING ACCEPT [0:0]\n:KUBE-IPTABLES-HINT - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n# Completed on Mon Dec  7 10:00:00 2026\n{t}"
            )
        }),
    );
    assert_eq!(r.mismatch_count(), 0, "{}", r.text(Lang::En));
    let foreign: Vec<(&str, &str)> = r
        .foreign
        .iter()
        .map(|a| (a.place.as_str(), a.writer.as_str()))
        .collect();
    for want in [
        ("nat DOCKER_OUTPUT", "Docker"),
        ("nat KIND-MASQ-AGENT", "kindnet"),
        ("nat PREROUTING (jumps)", "Docker"),
        ("mangle KUBE-IPTABLES-HINT", "kubelet"),
        ("nat KUBE-KUBELET-CANARY", "kubelet"),
    ] {
        assert!(foreign.contains(&want), "{want:?} not in {foreign:?}");
    }
    let extra: Vec<&str> = r.extra.iter().map(|a| a.place.as_str()).collect();
    assert_eq!(extra, ["mangle KUBE-PROXY-CANARY", "nat KUBE-MARK-DROP"]);
    assert!(r.extra.iter().all(|a| a.note.is_some()));
    let text = r.text(Lang::En);
    assert!(
        text.contains("nat KIND-MASQ-AGENT (kindnet, 1 line)"),
        "{text}"
    );
}

#[test]
fn known_version_differences_are_named() {
    let s = snapshot(ProxyMode::Iptables);
    let r = run(
        &s,
        &found(&s, "kind-worker", |_, t| {
            t.replace(
                " -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts",
                "",
            )
        }),
    );
    let m = mismatches(&r);
    assert_eq!(m.len(), 1, "{}", r.text(Lang::En));
    assert_eq!(owner_of(&r, m[0]), &Owner::KubeProxy);
    assert_eq!(m[0].cause.kind, CauseKind::VersionDifference);
    assert!(m[0].cause.text.en.contains("nfnetlink_acct"));
}

#[test]
fn a_match_the_prediction_never_writes_is_an_unknown_feature() {
    let s = snapshot(ProxyMode::Iptables);
    let r = run(
        &s,
        &found(&s, "kind-worker", |_, t| {
            t.replacen(
                "-A KUBE-POSTROUTING -m mark",
                "-A KUBE-POSTROUTING -m physdev --physdev-is-in -j RETURN\n-A KUBE-POSTROUTING -m mark",
                1,
            )
        }),
    );
    let m = mismatches(&r);
    assert_eq!(m.len(), 1, "{}", r.text(Lang::En));
    assert_eq!(m[0].predicted, None);
    assert_eq!(m[0].cause.kind, CauseKind::UnknownFeature);
    assert!(m[0].cause.text.en.contains("-m physdev"));
}

#[test]
fn a_missing_service_and_a_deleted_one_are_stale() {
    let s = snapshot(ProxyMode::Iptables);
    let r = run(
        &s,
        &found(&s, "kind-worker", |_, t| {
            let kept: Vec<&str> = t
                .lines()
                .filter(|l| !l.contains("default/web:http"))
                .collect();
            kept.join("\n").replace("default/httpd-svc", "default/gone") + "\n"
        }),
    );
    let owners: Vec<(&Owner, CauseKind)> = r
        .owners
        .iter()
        .filter_map(|o| o.mismatches.first().map(|m| (&o.owner, m.cause.kind)))
        .collect();
    assert!(
        owners.contains(&(
            &Owner::ServicePort("default/web:http".into()),
            CauseKind::StaleSync
        )),
        "{owners:?}"
    );
    assert!(
        owners.contains(&(
            &Owner::ServicePort("default/gone".into()),
            CauseKind::StaleSync
        )),
        "{owners:?}"
    );
    let gone = r
        .owners
        .iter()
        .find(|o| o.owner == Owner::ServicePort("default/gone".into()))
        .unwrap();
    assert!(
        gone.mismatches[0]
            .cause
            .text
            .en
            .contains("no Service port default/gone")
    );
}

#[test]
fn ipvs_real_servers_and_ipset_members_are_compared() {
    let s = snapshot(ProxyMode::Ipvs);
    let text = dump(&s, Source::Ipvsadm);
    let server = text
        .lines()
        .skip_while(|l| !l.contains(":8080"))
        .nth(1)
        .unwrap()
        .to_string();
    let r = run(
        &s,
        &found(&s, "kind-worker", |src, t| match src {
            // Counters move with traffic and never count; a missing real server does.
            Source::Ipvsadm => {
                let at = t.find(":8080 rr").unwrap();
                let cut = at + t[at..].find(&server).unwrap();
                format!("{}{}", &t[..cut], &t[cut + server.len() + 1..])
            }
            .replace("Masq    1      0          0", "Masq    1      7          3"),
            Source::IpsetList => t.replace("10.96.0.10,udp:53\n", ""),
            _ => t,
        }),
    );
    let m = mismatches(&r);
    assert_eq!(m.len(), 2, "{}", r.text(Lang::En));
    let places: Vec<&str> = m.iter().map(|m| m.place.as_str()).collect();
    assert!(places.iter().any(|p| p.ends_with(":8080")), "{places:?}");
    assert!(places.contains(&"ipset KUBE-CLUSTER-IP"), "{places:?}");
    assert_eq!(
        owner_of(&r, m.iter().find(|m| m.place.starts_with("ipset")).unwrap()),
        &Owner::ServicePort("kube-system/kube-dns:dns".into())
    );
}

#[test]
fn nft_ruleset_with_other_tables_and_a_changed_element() {
    let s = snapshot(ProxyMode::Nftables);
    let r = run(
        &s,
        &found(&s, "kind-worker", |_, t| {
            format!(
                "table ip nat {{\n\tchain POSTROUTING {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tcounter packets 0 bytes 0 jump KIND-MASQ-AGENT\n\t}}\n}}\n{}",
                t.replace(" . tcp . 8080 : goto", " . tcp . 8081 : goto")
            )
        }),
    );
    let m = mismatches(&r);
    assert_eq!(m.len(), 1, "{}", r.text(Lang::En));
    assert_eq!(m[0].place, "map service-ips");
    assert!(m[0].found.as_deref().unwrap().contains("8081"));
    assert_eq!(
        owner_of(&r, m[0]),
        &Owner::ServicePort("default/httpd-svc".into())
    );
    assert_eq!(r.foreign.len(), 1);
    assert_eq!(r.foreign[0].place, "table ip nat");
}

#[test]
fn something_else_than_a_dump_cannot_be_compared() {
    let s = snapshot(ProxyMode::Iptables);
    let f = found(&s, "kind-worker", |_, _| {
        "OCI runtime exec failed: exec: \"iptables-save\": executable file not found\n".into()
    });
    assert!(matches!(
        compare_node(&s, &NftablesOptions::kind(), "kind-worker", &f),
        Err(CompareError::NotADump { .. })
    ));
    assert!(matches!(
        compare_node(&s, &NftablesOptions::kind(), "kind-worker", &[]),
        Err(CompareError::Missing { .. })
    ));
    assert!(matches!(
        compare_node(&s, &NftablesOptions::kind(), "nope", &f),
        Err(CompareError::Proxy(_))
    ));
}

#[test]
fn dns_lookups_and_answers() {
    use crate::dns::resolver::ResolvConf;
    let c = cluster_with(&format!("{}---\n{HTTPD_SVC}", httpd_deployment(2)));
    let services: Vec<_> = c
        .list_typed::<k8s_openapi::api::core::v1::Service>(None)
        .cloned()
        .collect();
    let slices: Vec<_> = c
        .list_typed::<k8s_openapi::api::discovery::v1::EndpointSlice>(None)
        .cloned()
        .collect();
    let names = dns::lookups(&services, &slices, "default", "cluster.local");
    assert_eq!(
        names[..4],
        [
            "httpd-svc",
            "kubernetes",
            "kubernetes.default",
            "httpd-svc.default.svc.cluster.local"
        ]
    );
    let conf = ResolvConf::parse(
        "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
    );
    assert_eq!(dns::zone_of(&conf), "cluster.local");
    let ns: Vec<_> = c
        .list_typed::<k8s_openapi::api::core::v1::Namespace>(None)
        .cloned()
        .collect();
    let pods: Vec<_> = c
        .list_typed::<k8s_openapi::api::core::v1::Pod>(None)
        .cloned()
        .collect();
    let snap = dns::snapshot("cluster.local", &ns, &services, &slices, &pods);
    let p = dns::predict(&snap, &conf, "httpd-svc");
    assert_eq!(p.exit_code, 0);
    let same = dns::compare("httpd-svc", &p, &p.stdout, 0);
    assert!(same.identical());
    let cip = same.predicted.addresses[0].clone();
    let other = p.stdout.replace(&cip, "10.96.7.7");
    let diff = dns::compare("httpd-svc", &p, &other, 0);
    assert!(!diff.identical());
    assert_eq!(diff.found.addresses, ["10.96.7.7"]);
    let none = dns::compare("httpd-svc", &p, "", 1);
    assert!(none.cause.unwrap().text.en.contains("got no answer"));
}
