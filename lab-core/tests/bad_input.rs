//! Every kind of bad input a learner can send gets the apiserver's message (or a manifest error
//! naming document, line and field), and leaves the cluster exactly as it was.

use lab_core::{ApplyError, Cluster};

const BASE: &str = include_str!("data/httpd-deployment.yaml");
const SVC: &str = include_str!("data/httpd-service-nodeport.yaml");

fn seeded() -> Cluster {
    let mut c = Cluster::kind();
    c.apply_manifests(BASE).unwrap();
    c.apply_manifests(SVC).unwrap();
    c.settle();
    c
}

/// Applies `yaml`, expects it to fail with exactly `message` (kubectl's rendering for API errors,
/// the manifest error's Display otherwise), and checks nothing changed.
fn rejects(yaml: &str, message: &str) {
    let mut c = seeded();
    let before = c.snapshot();
    let err = c.apply_manifests(yaml).expect_err("must be rejected");
    let got = match &err {
        ApplyError::Api { error, .. } => error.kubectl_message(),
        ApplyError::Manifest(m) => m.to_string(),
    };
    assert_eq!(got, message);
    assert_eq!(c.snapshot(), before, "state changed after: {message}");
    // And the cluster still works: the next valid request goes through.
    c.apply_manifests("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: still-works\n")
        .unwrap();
}

fn service(spec: &str) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: other-svc\nspec:\n{spec}")
}

#[test]
fn service_names_are_dns_1035_labels() {
    rejects(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1httpd\nspec:\n  ports:\n  - port: 80\n",
        "The Service \"1httpd\" is invalid: metadata.name: Invalid value: \"1httpd\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
}

#[test]
fn object_names_are_dns_1123_subdomains() {
    rejects(
        &BASE.replace("name: httpd\nspec", "name: Httpd_App\nspec"),
        "The Deployment \"Httpd_App\" is invalid: metadata.name: Invalid value: \"Httpd_App\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
}

#[test]
fn port_ranges() {
    rejects(
        &service("  selector: {app: httpd}\n  ports:\n  - port: 0\n"),
        "The Service \"other-svc\" is invalid: \n* spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive\n* spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
    );
    rejects(
        &service("  selector: {app: httpd}\n  ports:\n  - port: 80\n    targetPort: 70000\n"),
        "The Service \"other-svc\" is invalid: spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
    );
}

#[test]
fn named_target_ports_follow_iana_rules() {
    rejects(
        &service("  selector: {app: httpd}\n  ports:\n  - port: 80\n    targetPort: http_port\n"),
        "The Service \"other-svc\" is invalid: spec.ports[0].targetPort: Invalid value: \"http_port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    );
}

#[test]
fn node_port_range_and_uniqueness() {
    rejects(
        &service("  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 30144\n"),
        "The Service \"other-svc\" is invalid: spec.ports[0].nodePort: Invalid value: 30144: provided port is already allocated",
    );
    rejects(
        &service("  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 8080\n"),
        "The Service \"other-svc\" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767",
    );
    rejects(
        &service("  ports:\n  - port: 80\n    nodePort: 30500\n"),
        "The Service \"other-svc\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    );
}

#[test]
fn cluster_ip_in_range_free_and_immutable() {
    rejects(
        &service("  clusterIP: 10.96.0.10\n  ports:\n  - port: 80\n"),
        "The Service \"other-svc\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is already allocated",
    );
    rejects(
        &service("  clusterIP: 192.168.1.1\n  ports:\n  - port: 80\n"),
        "The Service \"other-svc\" is invalid: spec.clusterIPs: Invalid value: []string{\"192.168.1.1\"}: failed to allocate IP 192.168.1.1: the provided network does not match the current range",
    );
    rejects(
        &service("  clusterIP: 10.96.300.1\n  ports:\n  - port: 80\n"),
        "The Service \"other-svc\" is invalid: spec.clusterIPs[0]: Invalid value: \"10.96.300.1\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
    );
    let c = seeded();
    let ip = c
        .get_typed::<k8s_openapi::api::core::v1::Service>("default", "httpd-svc")
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .cluster_ip
        .clone()
        .unwrap();
    let other = if ip == "10.96.200.200" {
        "10.96.200.201"
    } else {
        "10.96.200.200"
    };
    rejects(
        &SVC.replace("spec:\n", &format!("spec:\n  clusterIP: {other}\n")),
        &format!(
            "The Service \"httpd-svc\" is invalid: spec.clusterIPs[0]: Invalid value: []string{{\"{other}\"}}: may not change once set"
        ),
    );
}

#[test]
fn headless_only_without_node_ports() {
    rejects(
        &service("  type: NodePort\n  clusterIP: None\n  ports:\n  - port: 80\n"),
        "The Service \"other-svc\" is invalid: spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services",
    );
    rejects(
        &service("  type: LoadBalancer\n  clusterIP: None\n  ports:\n  - port: 80\n"),
        "The Service \"other-svc\" is invalid: spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services",
    );
}

#[test]
fn duplicate_port_names() {
    rejects(
        &service("  ports:\n  - name: web\n    port: 80\n  - name: web\n    port: 81\n"),
        "The Service \"other-svc\" is invalid: spec.ports[1].name: Duplicate value: \"web\"",
    );
    rejects(
        &service("  ports:\n  - port: 80\n  - port: 81\n"),
        "The Service \"other-svc\" is invalid: \n* spec.ports[0].name: Required value\n* spec.ports[1].name: Required value",
    );
}

#[test]
fn deployment_selector_must_match_template() {
    rejects(
        &BASE.replace(
            "      labels:\n        app: httpd",
            "      labels:\n        app: web",
        ),
        "The Deployment \"httpd\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
    );
}

#[test]
fn manifest_errors_name_document_line_and_field() {
    rejects(
        &format!(
            "{BASE}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: typo\nspec:\n  selectr:\n    app: httpd\n  ports:\n  - port: 80\n"
        ),
        "document 2 (line 26, column 3): Service in version \"v1\" cannot be handled as a Service: strict decoding error: unknown field \"spec.selectr\"",
    );
    rejects(
        "apiVersion: v1\nkind: Servce\nmetadata:\n  name: x\n",
        "document 1 (line 2, column 1): no matches for kind \"Servce\" in version \"v1\" (svclab serves v1/Namespace, v1/Node, v1/ConfigMap, v1/Pod, v1/Service, v1/Endpoints, v1/Event, apps/v1/Deployment, apps/v1/ReplicaSet, apps/v1/StatefulSet, discovery.k8s.io/v1/EndpointSlice; version v1)",
    );
    let mut c = seeded();
    let before = c.snapshot();
    let err = c
        .apply_manifests("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: [oops\n")
        .unwrap_err();
    let ApplyError::Manifest(m) = err else {
        panic!("expected a manifest error")
    };
    assert_eq!((m.document, m.line), (1, Some(5)), "{m}");
    assert!(
        m.to_string().starts_with("document 1 (line 5, column "),
        "{m}"
    );
    assert_eq!(c.snapshot(), before);
}

#[test]
fn missing_namespace_and_conflicts() {
    rejects(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: nowhere\nspec:\n  ports:\n  - port: 80\n",
        "Error from server (NotFound): namespaces \"nowhere\" not found",
    );
    let mut c = seeded();
    let before = c.snapshot();
    let stale = c
        .get(lab_core::Kind::Service, "default", "httpd-svc")
        .unwrap()
        .clone();
    c.apply_manifests(&SVC.replace("port: 8080", "port: 8081"))
        .unwrap();
    let after_change = c.snapshot();
    assert_ne!(after_change, before);
    let err = c.update(stale).unwrap_err();
    assert_eq!(
        err.kubectl_message(),
        "Error from server (Conflict): Operation cannot be fulfilled on services \"httpd-svc\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(c.snapshot(), after_change);
    let err = c
        .create(
            c.get(lab_core::Kind::Deployment, "default", "httpd")
                .unwrap()
                .clone(),
        )
        .unwrap_err();
    assert_eq!(
        err.kubectl_message(),
        "Error from server (AlreadyExists): deployments.apps \"httpd\" already exists"
    );
    let err = c
        .delete(lab_core::Kind::Service, "default", "nosuch")
        .unwrap_err();
    assert_eq!(
        err.kubectl_message(),
        "Error from server (NotFound): services \"nosuch\" not found"
    );
    assert_eq!(c.snapshot(), after_change);
}
