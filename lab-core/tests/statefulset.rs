//! A StatefulSet behind a headless Service, end to end: ordered creation, stable names and
//! hostnames in the EndpointSlice, recreation of a deleted pod, ordered scale-down, the Parallel
//! policy, rolling updates, the apiserver's rejections and `kubectl get sts`.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use lab_core::{ApplyError, Cluster, Kind, Object, printers};

const NGINX_SVC: &str = "apiVersion: v1
kind: Service
metadata:
  name: nginx
  labels:
    app: nginx
spec:
  clusterIP: None
  selector:
    app: nginx
  ports:
  - name: web
    port: 80
";

fn web(replicas: i32, extra_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: {replicas}
{extra_spec}  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
          name: web
"
    )
}

fn applied(yaml: &str) -> Cluster {
    let mut c = Cluster::kind();
    c.apply_manifests(NGINX_SVC).unwrap();
    c.apply_manifests(yaml).unwrap();
    c
}

/// Names of the set's pods (terminating ones included), in name order.
fn pod_names(c: &Cluster) -> Vec<String> {
    c.list_typed::<Pod>(Some("default"))
        .filter_map(|p| p.metadata.name.clone())
        .filter(|n| n.starts_with("web-"))
        .collect()
}

fn live_pod_names(c: &Cluster) -> Vec<String> {
    c.list_typed::<Pod>(Some("default"))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name.clone())
        .filter(|n| n.starts_with("web-"))
        .collect()
}

fn pod<'a>(c: &'a Cluster, name: &str) -> &'a Pod {
    c.get_typed::<Pod>("default", name)
        .unwrap_or_else(|| panic!("pod {name} exists"))
}

fn running_ready(p: &Pod) -> bool {
    let st = p.status.as_ref().unwrap();
    st.phase.as_deref() == Some("Running")
        && st
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// (reason, message) of the Events about StatefulSet `web`, oldest first.
fn set_events(c: &Cluster) -> Vec<(String, String)> {
    let mut evs: Vec<(u64, String, String)> = c
        .list(Kind::Event, Some("default"))
        .filter_map(|o| match o {
            Object::Event(e)
                if e.involved_object.kind.as_deref() == Some("StatefulSet")
                    && e.involved_object.name.as_deref() == Some("web") =>
            {
                Some((
                    e.metadata
                        .resource_version
                        .as_deref()
                        .unwrap_or("0")
                        .parse()
                        .unwrap(),
                    e.reason.clone().unwrap_or_default(),
                    e.message.clone().unwrap_or_default(),
                ))
            }
            _ => None,
        })
        .collect();
    evs.sort();
    evs.into_iter().map(|(_, r, m)| (r, m)).collect()
}

fn status(c: &Cluster) -> k8s_openapi::api::apps::v1::StatefulSetStatus {
    c.get_typed::<StatefulSet>("default", "web")
        .unwrap()
        .status
        .clone()
        .unwrap()
}

/// (hostname, ip, ready) of every endpoint in the Service's managed slices.
fn slice_endpoints(c: &Cluster, svc: &str) -> Vec<(Option<String>, String, bool)> {
    let mut out: Vec<_> = c
        .list_typed::<EndpointSlice>(Some("default"))
        .filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
                .map(String::as_str)
                == Some(svc)
        })
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            (
                e.hostname.clone(),
                e.addresses[0].clone(),
                e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn ordered_ready_creates_one_pod_at_a_time_then_converges() {
    let mut c = applied(&web(3, ""));
    // Only web-0 exists until it is Running and Ready.
    assert_eq!(pod_names(&c), vec!["web-0"]);
    c.advance(1_000);
    assert_eq!(pod_names(&c), vec!["web-0"], "web-0 is not ready yet");
    c.settle();
    assert_eq!(pod_names(&c), vec!["web-0", "web-1", "web-2"]);
    for name in ["web-0", "web-1", "web-2"] {
        let p = pod(&c, name);
        assert!(running_ready(p), "{name} is Running and Ready");
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(name));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-"));
        let labels = p.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["app"], "nginx");
        assert_eq!(labels["statefulset.kubernetes.io/pod-name"], name);
        assert_eq!(labels["apps.kubernetes.io/pod-index"], &name[4..]);
        assert_eq!(
            labels["controller-revision-hash"],
            status(&c).update_revision.unwrap()
        );
        let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("StatefulSet", "web")
        );
        assert_eq!(owner.controller, Some(true));
    }
    // Each pod was created after its predecessor became Ready.
    let ready_at = |name: &str| {
        pod(&c, name)
            .status
            .as_ref()
            .unwrap()
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .unwrap()
            .last_transition_time
            .clone()
            .unwrap()
            .0
    };
    let created_at = |name: &str| pod(&c, name).metadata.creation_timestamp.clone().unwrap().0;
    assert!(created_at("web-1") >= ready_at("web-0"));
    assert!(created_at("web-2") >= ready_at("web-1"));
    assert!(created_at("web-0") < created_at("web-2"));
    assert_eq!(
        set_events(&c),
        ["web-0", "web-1", "web-2"]
            .iter()
            .map(|n| (
                "SuccessfulCreate".to_string(),
                format!("create Pod {n} in StatefulSet web successful")
            ))
            .collect::<Vec<_>>()
    );
    let st = status(&c);
    assert_eq!(st.replicas, 3);
    assert_eq!(st.ready_replicas, Some(3));
    assert_eq!(st.current_replicas, Some(3));
    assert_eq!(st.updated_replicas, Some(3));
    assert_eq!(st.available_replicas, Some(3));
    assert_eq!(st.observed_generation, Some(1));
    assert_eq!(st.current_revision, st.update_revision);
    let rev = st.update_revision.unwrap();
    let hash = rev.strip_prefix("web-").unwrap();
    assert!(
        !hash.is_empty()
            && hash
                .bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)),
        "{rev}"
    );
    assert_eq!(st.collision_count, Some(0));
}

#[test]
fn endpointslice_endpoints_carry_the_pod_hostnames() {
    let mut c = applied(&web(3, ""));
    c.settle();
    let eps = slice_endpoints(&c, "nginx");
    let hostnames: Vec<_> = eps.iter().map(|e| e.0.clone()).collect();
    assert_eq!(
        hostnames,
        vec![
            Some("web-0".to_string()),
            Some("web-1".to_string()),
            Some("web-2".to_string())
        ]
    );
    for (host, ip, ready) in &eps {
        let p = pod(&c, host.as_deref().unwrap());
        assert_eq!(
            p.status.as_ref().unwrap().pod_ip.as_deref(),
            Some(ip.as_str())
        );
        assert!(ready);
    }
    // A Service whose name is not the pods' subdomain gets no hostnames.
    c.apply_manifests(&NGINX_SVC.replace("name: nginx\n  labels", "name: other\n  labels"))
        .unwrap();
    assert!(slice_endpoints(&c, "other").iter().all(|e| e.0.is_none()));
    assert_eq!(slice_endpoints(&c, "other").len(), 3);
}

#[test]
fn a_deleted_pod_comes_back_with_the_same_name_and_a_new_ip() {
    let mut c = applied(&web(3, ""));
    c.settle();
    let old = pod(&c, "web-1").clone();
    let old_ip = old.status.as_ref().unwrap().pod_ip.clone().unwrap();
    c.delete(Kind::Pod, "default", "web-1").unwrap();
    // Terminating: the controller waits for it to go before recreating the name.
    assert!(pod(&c, "web-1").metadata.deletion_timestamp.is_some());
    c.settle();
    let new = pod(&c, "web-1");
    assert!(running_ready(new));
    assert_ne!(new.metadata.uid, old.metadata.uid);
    assert_ne!(
        new.status.as_ref().unwrap().pod_ip.as_deref(),
        Some(old_ip.as_str())
    );
    assert_eq!(
        new.spec.as_ref().unwrap().hostname.as_deref(),
        Some("web-1")
    );
    assert_eq!(live_pod_names(&c), vec!["web-0", "web-1", "web-2"]);
    let last = set_events(&c).pop().unwrap();
    assert_eq!(
        last,
        (
            "SuccessfulCreate".into(),
            "create Pod web-1 in StatefulSet web successful".into()
        )
    );
    // The slice follows: web-1 is published with its new address.
    let eps = slice_endpoints(&c, "nginx");
    let web1 = eps
        .iter()
        .find(|e| e.0.as_deref() == Some("web-1"))
        .unwrap();
    assert_eq!(
        Some(web1.1.as_str()),
        new.status.as_ref().unwrap().pod_ip.as_deref()
    );
}

#[test]
fn scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
    let mut c = applied(&web(3, ""));
    c.settle();
    let before = set_events(&c).len();
    c.scale(Kind::StatefulSet, "default", "web", 1).unwrap();
    // web-2 terminates first; web-1 is untouched until web-2 is gone.
    assert!(pod(&c, "web-2").metadata.deletion_timestamp.is_some());
    assert!(pod(&c, "web-1").metadata.deletion_timestamp.is_none());
    assert_eq!(
        set_events(&c)[before..],
        [(
            "SuccessfulDelete".to_string(),
            "delete Pod web-2 in StatefulSet web successful".to_string()
        )]
    );
    c.settle();
    assert_eq!(pod_names(&c), vec!["web-0"]);
    assert_eq!(
        set_events(&c)[before..]
            .iter()
            .map(|e| e.1.as_str())
            .collect::<Vec<_>>(),
        [
            "delete Pod web-2 in StatefulSet web successful",
            "delete Pod web-1 in StatefulSet web successful"
        ]
    );
    let st = status(&c);
    assert_eq!((st.replicas, st.ready_replicas), (1, Some(1)));
    assert_eq!(st.observed_generation, Some(2));
    // And back up: the same names again.
    c.scale(Kind::StatefulSet, "default", "web", 3).unwrap();
    c.settle();
    assert_eq!(pod_names(&c), vec!["web-0", "web-1", "web-2"]);
}

#[test]
fn parallel_policy_creates_and_deletes_all_at_once() {
    let mut c = applied(&web(3, "  podManagementPolicy: Parallel\n"));
    assert_eq!(pod_names(&c), vec!["web-0", "web-1", "web-2"]);
    assert!(!running_ready(pod(&c, "web-0")));
    c.settle();
    assert!(
        ["web-0", "web-1", "web-2"]
            .iter()
            .all(|n| running_ready(pod(&c, n)))
    );
    c.scale(Kind::StatefulSet, "default", "web", 0).unwrap();
    for n in ["web-0", "web-1", "web-2"] {
        assert!(pod(&c, n).metadata.deletion_timestamp.is_some(), "{n}");
    }
    c.settle();
    assert!(pod_names(&c).is_empty());
    let st = status(&c);
    assert_eq!(st.replicas, 0);
    assert_eq!(st.available_replicas, Some(0));
}

#[test]
fn template_change_rolls_from_the_highest_ordinal_down_to_the_partition() {
    let mut c = applied(&web(3, ""));
    c.settle();
    let old_rev = status(&c).update_revision.unwrap();
    let uid0 = pod(&c, "web-0").metadata.uid.clone();
    // Partition 1: web-0 stays at the old revision.
    c.apply_manifests(
        &web(
            3,
            "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate:\n      partition: 1\n",
        )
        .replace("nginx:1.27", "nginx:1.28"),
    )
    .unwrap();
    let new_rev = status(&c).update_revision.unwrap();
    assert_ne!(old_rev, new_rev);
    // web-2 goes first.
    assert!(pod(&c, "web-2").metadata.deletion_timestamp.is_some());
    assert!(pod(&c, "web-1").metadata.deletion_timestamp.is_none());
    c.settle();
    let rev = |c: &Cluster, n: &str| {
        pod(c, n).metadata.labels.as_ref().unwrap()["controller-revision-hash"].clone()
    };
    let image = |n: &str| {
        pod(&c, n).spec.as_ref().unwrap().containers[0]
            .image
            .clone()
            .unwrap()
    };
    assert_eq!(
        (rev(&c, "web-2"), image("web-2")),
        (new_rev.clone(), "nginx:1.28".into())
    );
    assert_eq!(
        (rev(&c, "web-1"), image("web-1")),
        (new_rev.clone(), "nginx:1.28".into())
    );
    assert_eq!(
        (rev(&c, "web-0"), image("web-0")),
        (old_rev.clone(), "nginx:1.27".into())
    );
    assert_eq!(pod(&c, "web-0").metadata.uid, uid0);
    let st = status(&c);
    assert_eq!(st.current_revision.as_deref(), Some(old_rev.as_str()));
    assert_eq!(
        (st.current_replicas, st.updated_replicas),
        (Some(1), Some(2))
    );
    // Partition 0 finishes the rollout; the current revision becomes the update revision.
    c.apply_manifests(&web(3, "").replace("nginx:1.27", "nginx:1.28"))
        .unwrap();
    c.settle();
    assert_eq!(rev(&c, "web-0"), new_rev);
    let st = status(&c);
    assert_eq!(st.current_revision.as_deref(), Some(new_rev.as_str()));
    assert_eq!(
        (st.current_replicas, st.updated_replicas),
        (Some(3), Some(3))
    );
    // Back to the old template: the old revision name again (same template, same hash).
    c.apply_manifests(&web(3, "")).unwrap();
    c.settle();
    assert_eq!(
        status(&c).update_revision.as_deref(),
        Some(old_rev.as_str())
    );
}

#[test]
fn on_delete_waits_for_the_user() {
    let mut c = applied(&web(2, "  updateStrategy:\n    type: OnDelete\n"));
    c.settle();
    let old_rev = status(&c).update_revision.unwrap();
    c.apply_manifests(
        &web(2, "  updateStrategy:\n    type: OnDelete\n").replace("nginx:1.27", "nginx:1.28"),
    )
    .unwrap();
    c.settle();
    let rev = |c: &Cluster, n: &str| {
        pod(c, n).metadata.labels.as_ref().unwrap()["controller-revision-hash"].clone()
    };
    assert_eq!(rev(&c, "web-1"), old_rev);
    c.delete(Kind::Pod, "default", "web-1").unwrap();
    c.settle();
    assert_ne!(rev(&c, "web-1"), old_rev);
    assert_eq!(rev(&c, "web-0"), old_rev);
}

#[test]
fn min_ready_seconds_delays_the_next_ordinal() {
    let mut c = applied(&web(2, "  minReadySeconds: 30\n"));
    c.settle();
    assert_eq!(pod_names(&c), vec!["web-0", "web-1"]);
    let ready0 = pod(&c, "web-0")
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .last_transition_time
        .clone()
        .unwrap()
        .0;
    let created1 = pod(&c, "web-1")
        .metadata
        .creation_timestamp
        .clone()
        .unwrap()
        .0;
    assert!(
        created1.as_second() - ready0.as_second() >= 30,
        "web-1 waits 30s after web-0 is ready: {ready0} → {created1}"
    );
    assert_eq!(status(&c).available_replicas, Some(2));
}

#[test]
fn volume_claim_templates_give_each_pod_its_claim_volume() {
    let yaml = web(1, "").replace(
        "        - containerPort: 80\n          name: web\n",
        "        - containerPort: 80\n          name: web\n        volumeMounts:\n        - name: www\n          mountPath: /usr/share/nginx/html\n",
    ) + "  volumeClaimTemplates:\n  - metadata:\n      name: www\n    spec:\n      accessModes: [\"ReadWriteOnce\"]\n      resources:\n        requests:\n          storage: 1Gi\n";
    let mut c = applied(&yaml);
    c.settle();
    let p = pod(&c, "web-0");
    assert!(running_ready(p));
    let vols = p.spec.as_ref().unwrap().volumes.as_ref().unwrap();
    assert_eq!(vols[0].name, "www");
    assert_eq!(
        vols[0].persistent_volume_claim.as_ref().unwrap().claim_name,
        "www-web-0"
    );
    let set = c.get_typed::<StatefulSet>("default", "web").unwrap();
    let claim = &set
        .spec
        .as_ref()
        .unwrap()
        .volume_claim_templates
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        claim.spec.as_ref().unwrap().volume_mode.as_deref(),
        Some("Filesystem")
    );
}

#[test]
fn an_invalid_pod_template_fails_at_pod_creation() {
    // The set's own validation leaves the pod spec alone; the pod's validation rejects it.
    let mut c = applied(&web(1, "").replace("        image: nginx:1.27\n", ""));
    c.settle();
    assert!(pod_names(&c).is_empty());
    assert_eq!(
        set_events(&c),
        [(
            "FailedCreate".to_string(),
            "create Pod web-0 in StatefulSet web failed error: Pod \"web-0\" is invalid: spec.containers[0].image: Required value".to_string()
        )]
    );
}

#[test]
fn deleting_the_set_removes_its_pods() {
    let mut c = applied(&web(2, ""));
    c.settle();
    c.delete(Kind::StatefulSet, "default", "web").unwrap();
    c.settle();
    assert!(pod_names(&c).is_empty());
}

/// Applies `yaml` to a cluster running `web`, expects kubectl's rendering of the rejection, and
/// checks nothing changed.
fn rejects(yaml: &str, message: &str) {
    let mut c = applied(&web(3, ""));
    c.settle();
    let before = c.snapshot();
    let err = c.apply_manifests(yaml).expect_err("must be rejected");
    let got = match &err {
        ApplyError::Api { error, .. } => error.kubectl_message(),
        ApplyError::Manifest(m) => m.to_string(),
    };
    assert_eq!(got, message);
    assert_eq!(c.snapshot(), before, "state changed after: {message}");
}

#[test]
fn selector_must_match_the_template_labels() {
    rejects(
        &web(3, "")
            .replace("name: web\nspec", "name: db\nspec")
            .replace(
                "    metadata:\n      labels:\n        app: nginx",
                "    metadata:\n      labels:\n        app: nginz",
            ),
        "The StatefulSet \"db\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"nginz\"}: `selector` does not match template `labels`",
    );
}

#[test]
fn replicas_must_not_be_negative() {
    rejects(
        &web(-1, "").replace("name: web\nspec", "name: db\nspec"),
        "The StatefulSet \"db\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    );
    // On update too (the stored set keeps its 3 replicas).
    rejects(
        &web(-2, ""),
        "The StatefulSet \"web\" is invalid: spec.replicas: Invalid value: -2: must be greater than or equal to 0",
    );
}

#[test]
fn service_name_and_other_fields_are_immutable() {
    let forbidden = "The StatefulSet \"web\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    rejects(
        &web(3, "").replace("serviceName: nginx", "serviceName: other"),
        forbidden,
    );
    rejects(&web(3, "  podManagementPolicy: Parallel\n"), forbidden);
}

#[test]
fn names_are_dns_labels_and_policies_are_checked() {
    rejects(
        &web(1, "").replace("name: web\nspec", "name: web.v2\nspec"),
        // A valid subdomain but not a label (a Deployment could be called this).
        "The StatefulSet \"web.v2\" is invalid: metadata.name: Invalid value: \"web.v2\": must not contain dots",
    );
    rejects(
        &web(1, "").replace("name: web\nspec", "name: Web\nspec"),
        "The StatefulSet \"Web\" is invalid: metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    );
    rejects(
        &web(1, "  podManagementPolicy: Sequential\n").replace("name: web\nspec", "name: db\nspec"),
        "The StatefulSet \"db\" is invalid: spec.podManagementPolicy: Invalid value: \"Sequential\": must be 'OrderedReady' or 'Parallel'",
    );
    rejects(
        &web(
            1,
            "  updateStrategy:\n    rollingUpdate:\n      partition: -1\n",
        )
        .replace("name: web\nspec", "name: db\nspec"),
        "The StatefulSet \"db\" is invalid: spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0",
    );
}

#[test]
fn kubectl_get_statefulsets() {
    let mut c = applied(&web(3, ""));
    c.advance(1_000);
    let objs: Vec<&Object> = c.list(Kind::StatefulSet, Some("default")).collect();
    let t = printers::table(Kind::StatefulSet, &objs, c.now_ms());
    let text = printers::render(&t, false, false);
    assert!(
        text.starts_with("NAME   READY   AGE\nweb    0/3     "),
        "{text}"
    );
    c.settle();
    c.advance(60_000);
    let objs: Vec<&Object> = c.list(Kind::StatefulSet, Some("default")).collect();
    let t = printers::table(Kind::StatefulSet, &objs, c.now_ms());
    let age = printers::human_duration(
        c.now_ms()
            - c.get(Kind::StatefulSet, "default", "web")
                .unwrap()
                .meta()
                .creation_timestamp
                .as_ref()
                .unwrap()
                .0
                .as_millisecond(),
    );
    assert_eq!(
        printers::render(&t, true, false),
        format!(
            "NAME   READY   AGE{}   CONTAINERS   IMAGES\nweb    3/3     {age}   nginx        nginx:1.27\n",
            " ".repeat(age.len().saturating_sub(3))
        )
    );
}

#[test]
fn a_restored_snapshot_carries_on_where_it_stopped() {
    let mut c = applied(&web(3, "  minReadySeconds: 10\n"));
    c.advance(5_000);
    let mid = pod_names(&c);
    assert!(mid.len() < 3, "{mid:?}");
    let mut restored = Cluster::from_snapshot(c.snapshot()).unwrap();
    c.settle();
    restored.settle();
    assert_eq!(pod_names(&restored), vec!["web-0", "web-1", "web-2"]);
    assert_eq!(status(&restored), status(&c));
}
