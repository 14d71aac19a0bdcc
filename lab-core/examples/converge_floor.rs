//! `cargo run --release -p lab-core --example converge_floor`: the least work any simulator that
//! stores `k8s-openapi` objects does for the convergence benchmark at 20,000 Services, with no
//! controller, store, index or watch log at all: 100,000 pods written four times each (create,
//! bind, Pending status, Running and Ready: three versions made and dropped, the last kept) and
//! 20,000 each of Deployment, ReplicaSet, Service, Endpoints and EndpointSlice kept once. The
//! objects are copies of a converged cluster's, so they have the sizes the benchmark's have.
//! docs/perf.md compares it with the 2 s target.

use lab_core::object::{Kind, Object};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let mut c = lab_core::scale::cluster_for(1);
    lab_core::scale::apply_and_converge(&mut c, 1);
    let one = |kind: Kind| -> Object {
        let o = c.store().list(kind, Some("default")).find(|o| {
            let n = o.name();
            n.starts_with("app-0") || n.starts_with("svc-0")
        });
        (**o.expect("the scenario made one of each kind")).clone()
    };
    let pod = one(Kind::Pod);
    let others = [
        one(Kind::Deployment),
        one(Kind::ReplicaSet),
        one(Kind::Service),
        one(Kind::Endpoints),
        one(Kind::EndpointSlice),
    ];
    let services = 20_000;
    let t = Instant::now();
    let mut kept: Vec<Arc<Object>> = Vec::with_capacity(services * 10);
    for _ in 0..services * lab_core::scale::REPLICAS as usize {
        for _ in 0..3 {
            drop(std::hint::black_box(pod.clone()));
        }
        kept.push(Arc::new(pod.clone()));
    }
    for _ in 0..services {
        kept.extend(others.iter().map(|o| Arc::new(o.clone())));
    }
    println!(
        "services={services} objects={} floor_ms={}",
        kept.len(),
        t.elapsed().as_millis()
    );
}
