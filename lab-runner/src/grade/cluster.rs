//! What the grader reads from a cluster: every object [`lab_core::Kind`] covers, listed through
//! kube-rs in all namespaces, as a [`LabSnapshot`]. The same requests on kind and on the sim;
//! nothing is written.

use crate::node::{Connected, server_error};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Event, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use lab_core::lab::LabSnapshot;
use lab_core::{Kind, Object};

/// Every object of the cluster, or the message to print (exit 2): the cluster unreachable, RBAC
/// forbidding a list, the sim gone.
pub async fn snapshot(c: &Connected) -> Result<LabSnapshot, String> {
    let mut objects = Vec::new();
    for kind in Kind::ALL {
        // Exhaustive: a kind added to lab-core is listed here or the build fails.
        let listed = match kind {
            Kind::Namespace => list::<Namespace>(c, *kind).await?,
            Kind::Node => list::<Node>(c, *kind).await?,
            Kind::ConfigMap => list::<ConfigMap>(c, *kind).await?,
            Kind::Pod => list::<Pod>(c, *kind).await?,
            Kind::Service => list::<Service>(c, *kind).await?,
            Kind::Endpoints => list::<Endpoints>(c, *kind).await?,
            Kind::Event => list::<Event>(c, *kind).await?,
            Kind::Deployment => list::<Deployment>(c, *kind).await?,
            Kind::ReplicaSet => list::<ReplicaSet>(c, *kind).await?,
            Kind::StatefulSet => list::<StatefulSet>(c, *kind).await?,
            Kind::EndpointSlice => list::<EndpointSlice>(c, *kind).await?,
        };
        objects.extend(listed);
    }
    Ok(LabSnapshot::from_objects(objects))
}

async fn list<K>(c: &Connected, kind: Kind) -> Result<Vec<Object>, String>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Into<Object>,
{
    let api: Api<K> = Api::all(c.client.clone());
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list.items.into_iter().map(Into::into).collect()),
        Err(kube::Error::Api(s)) if s.code == 403 => Err(format!(
            "error: RBAC forbids the grader to list {} in context {:?} (it reads every kind it grades): {}",
            kind.qualified_resource(),
            c.context,
            s.message
        )),
        Err(kube::Error::Api(s)) => Err(format!(
            "error: listing {} in context {:?}: {}",
            kind.qualified_resource(),
            c.context,
            server_error(&s)
        )),
        Err(e) => Err(c.unreachable(&e)),
    }
}

/// One object's identity and resourceVersion: `watch` grades again when the list changes.
pub type Version = (lab_core::ObjectKey, String);

/// Every object's [`Version`], Events aside (they come and go without changing what is graded).
pub fn versions(snapshot: &LabSnapshot) -> Vec<Version> {
    Kind::ALL
        .iter()
        .filter(|k| **k != Kind::Event)
        .flat_map(|k| snapshot.list(*k, None))
        .map(Object::version)
        .collect()
}

/// Whether the grader may create its probe pod here: on the sim (recognised by
/// `GET /svclab/v1/info`, whatever its context is called), on a `kind-*` context, or anywhere
/// the learner said `--allow-context`.
pub fn may_create_probe_pod(is_sim: bool, context: &str, allow_context: bool) -> bool {
    is_sim || context.starts_with("kind-") || allow_context
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_pods_only_on_the_sim_or_kind_unless_allowed() {
        assert!(may_create_probe_pod(true, "staging", false));
        assert!(may_create_probe_pod(false, "kind-kind", false));
        assert!(!may_create_probe_pod(false, "prod-eu", false));
        assert!(!may_create_probe_pod(false, "kindling", false));
        assert!(may_create_probe_pod(false, "prod-eu", true));
    }
}
