//! The benchmark scenario of the course's scale table: N Services, each selecting its own
//! 5-replica Deployment, on the scale profile (many workers, a 10.0.0.0/8 pod network).
//! Shared by the criterion benchmark and the `converge` example that reports peak memory.

use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::object::Object;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Replicas per Deployment in the scenario.
pub const REPLICAS: i32 = 5;

/// A cluster sized for `services` × 5 pods (110 pods per node, plus headroom), without Events.
pub fn cluster_for(services: usize) -> Cluster {
    cluster_for_with(services, false)
}

/// [`cluster_for`], choosing whether Events are recorded.
pub fn cluster_for_with(services: usize, record_events: bool) -> Cluster {
    let pods = services * REPLICAS as usize;
    let workers = (pods / 100).max(2);
    let mut config = ClusterConfig::scale(workers);
    config.record_events = record_events;
    Cluster::new(config)
}

/// Deployment `app-i` and Service `svc-i`.
pub fn objects(i: usize) -> (Object, Object) {
    let app = format!("app-{i}");
    let labels: BTreeMap<String, String> = BTreeMap::from([("app".to_string(), app.clone())]);
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(app.clone()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(REPLICAS),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "httpd".into(),
                        image: Some("httpd:2.4".into()),
                        ports: Some(vec![ContainerPort {
                            container_port: 80,
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    };
    let service = Service {
        metadata: ObjectMeta {
            name: Some(format!("svc-{i}")),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels),
            ports: Some(vec![ServicePort {
                port: 80,
                target_port: Some(IntOrString::Int(80)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    };
    (
        Object::Deployment(Box::new(deployment)),
        Object::Service(Box::new(service)),
    )
}

/// Applies `services` Services and Deployments to `c` and lets every controller converge
/// (all pods Running and Ready, every Endpoints and EndpointSlice filled).
pub fn apply_and_converge(c: &mut Cluster, services: usize) {
    for i in 0..services {
        let (d, s) = objects(i);
        c.apply(d).expect("scenario objects are valid");
        c.apply(s).expect("scenario objects are valid");
    }
    c.settle();
}
