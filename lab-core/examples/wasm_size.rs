//! A cdylib for wasm32 that links a realistic slice of lab-core, so its size can be measured:
//! `scripts/wasm-size` builds it in release mode and records the size in docs/perf.md.
//!
//! The exported function does what the playground does first: start a kind cluster, apply a
//! Deployment and a Service, and settle.

const MANIFESTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd
spec:
  replicas: 3
  selector:
    matchLabels:
      app: httpd
  template:
    metadata:
      labels:
        app: httpd
    spec:
      containers:
        - name: httpd
          image: httpd
          ports:
            - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: httpd-svc
spec:
  selector:
    app: httpd
  ports:
    - protocol: TCP
      port: 8080
      targetPort: 80
"#;

/// Seeds a kind cluster with the manifests above and returns how many objects it stores
/// (0 if the manifests were rejected).
#[unsafe(no_mangle)]
pub extern "C" fn svclab_seed_scenario() -> u32 {
    let mut c = lab_core::Cluster::kind();
    if c.apply_manifests(MANIFESTS).is_err() {
        return 0;
    }
    c.settle();
    c.store().len() as u32
}
