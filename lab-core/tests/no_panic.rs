//! Bad input never panics: random text, mutated manifests and arbitrary JSON go through the
//! decoder and the apiserver front door and come back as errors (or valid objects).

use lab_core::Cluster;
use lab_core::manifest::{decode_object, parse_manifests};
use proptest::prelude::*;

const VALID: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: httpd\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: httpd\n  template:\n    metadata:\n      labels:\n        app: httpd\n    spec:\n      containers:\n        - name: httpd\n          image: httpd\n          ports:\n            - containerPort: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: httpd-svc\nspec:\n  type: NodePort\n  selector:\n    app: httpd\n  ports:\n  - protocol: TCP\n    port: 8080\n    targetPort: 80\n    nodePort: 30144\n";

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "[a-zA-Z0-9./:-]{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("spec".to_string()),
                    Just("ports".to_string()),
                    Just("port".to_string()),
                    Just("selector".to_string()),
                    Just("metadata".to_string()),
                    Just("name".to_string()),
                    "[a-z]{1,8}".prop_map(String::from)
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_manifests(&text);
    }

    #[test]
    fn mutated_manifests_never_panic(pos in 0usize..VALID.len(), cut in 0usize..40, insert in "[ :\\-\\[\\]{}a-z0-9\"'\n]{0,6}") {
        let mut text: String = VALID.chars().take(pos).collect();
        text.push_str(&insert);
        text.extend(VALID.chars().skip(pos + cut));
        let mut c = Cluster::kind();
        let _ = c.apply_manifests(&text);
        c.settle();
    }

    #[test]
    fn arbitrary_objects_never_panic(kind in prop_oneof![Just("Service"), Just("Deployment"), Just("Pod"), Just("Endpoints"), Just("EndpointSlice"), Just("ReplicaSet"), Just("Namespace"), Just("ConfigMap")], body in json_value()) {
        let api_version = match kind { "Deployment" | "ReplicaSet" => "apps/v1", "EndpointSlice" => "discovery.k8s.io/v1", _ => "v1" };
        let mut value = serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
        if let serde_json::Value::Object(extra) = body {
            for (k, v) in extra {
                value[k] = v;
            }
        }
        if let Ok(object) = decode_object(value) {
            let mut c = Cluster::kind();
            let _ = c.apply(object);
            c.settle();
        }
    }
}
