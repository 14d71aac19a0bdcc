use lab_core::*;
#[test]
fn smoke() {
    let mut c = Cluster::kind();
    for p in c.list(Kind::Pod, None) {
        let Object::Pod(p) = p else { unreachable!() };
        println!("{} {} {:?} {:?} {:?}", p.metadata.namespace.as_deref().unwrap(), p.metadata.name.as_deref().unwrap(), p.spec.as_ref().unwrap().node_name, p.status.as_ref().and_then(|s| s.phase.clone()), p.status.as_ref().and_then(|s| s.pod_ip.clone()));
    }
    let out = c.apply_manifests(include_str!("/tmp/seed.yaml")).unwrap();
    println!("{out:?}");
    c.settle();
    for p in c.list(Kind::Pod, Some("default")) {
        let Object::Pod(p) = p else { unreachable!() };
        println!("{} {:?} {:?} {:?} ready={}", p.metadata.name.as_deref().unwrap(), p.spec.as_ref().unwrap().node_name, p.status.as_ref().and_then(|s| s.phase.clone()), p.status.as_ref().and_then(|s| s.pod_ip.clone()), lab_core::controllers::kubelet::pod_ready(p));
    }
    for o in c.list(Kind::Service, None).chain(c.list(Kind::ReplicaSet, None)).chain(c.list(Kind::Deployment, Some("default"))) { println!("{}", serde_json::to_string(&o.to_json()).unwrap()); }
    for o in c.list(Kind::Event, Some("default")) { let Object::Event(e) = o else {continue}; println!("{} {} {}", e.involved_object.name.as_deref().unwrap_or(""), e.reason.as_deref().unwrap_or(""), e.message.as_deref().unwrap_or("")); }
    println!("rv={} t={}", c.resource_version(), c.now_ms());
}
