//! kube-controller-manager's root-ca-cert-publisher
//! (`pkg/controller/certificates/rootcacertpublisher/publisher.go`): every namespace gets a
//! ConfigMap `kube-root-ca.crt` with the cluster CA under `ca.crt`, for pods to verify the
//! apiserver (the projected service-account volume mounts it). Its queue holds namespaces: a
//! namespace added, or updated while Active, and the ConfigMap updated or deleted, bring it back
//! to the published content; a deleted one is created again.

use crate::cluster::Cluster;
use crate::object::{Kind, Object, ObjectKey};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The ConfigMap's name (`RootCACertConfigMapName`).
pub const CONFIG_MAP_NAME: &str = "kube-root-ca.crt";
/// Its data key.
pub const CA_KEY: &str = "ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// The simulated cluster CA: a self-signed certificate shaped like kubeadm's (`CN=kubernetes`,
/// RSA 2048, CA:TRUE, key usage digitalSignature/keyEncipherment/keyCertSign, SAN `kubernetes`,
/// ten years from 2025-12-31T23:55:00Z, just before the sim's clock starts). Generated once,
/// offline; its private key was never kept, so nothing can be signed with it.
pub const CLUSTER_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIDBTCCAe2gAwIBAgIIHTxeepsvTWEwDQYJKoZIhvcNAQELBQAwFTETMBEGA1UE
AwwKa3ViZXJuZXRlczAeFw0yNTEyMzEyMzU1MDBaFw0zNTEyMjkyMzU1MDBaMBUx
EzARBgNVBAMMCmt1YmVybmV0ZXMwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEK
AoIBAQCt9NkRCBqBvSTaxFQIE8B1zHr0RTjOTC2MjycE8Baw3FBom1JbJejIVJto
o2KqGt7swtnmqDXjxoHN3OHihl4xhMllsTwJ6E6956u1ARtitk0AMvJlA1ELlTcU
IbXV45HXDG29eKGe2nOAWNUt+7O/Yq2BTzEewo4A7ULjAzgAZlE7spppr6IM2NfI
MO6WKek7R1YnYapwb5XhM4Zzg00CKScWcJxWole7c1kwKIuqaFM3m2mQ0DTKklRZ
841Sl05zaYhHYHmH+IANtTPRtnAqBo+6utYV8jXiJ3bW680BFAT9njKhikSJxeaN
XzhG0iYl6tpkCRZNXTvq4bht/z4pAgMBAAGjWTBXMA4GA1UdDwEB/wQEAwICpDAP
BgNVHRMBAf8EBTADAQH/MB0GA1UdDgQWBBT7CcHyHP8vwyCHvapEVIe+Pmo++jAV
BgNVHREEDjAMggprdWJlcm5ldGVzMA0GCSqGSIb3DQEBCwUAA4IBAQA7OqesrrhE
OUhZocix20qw0jg2DKyhja5CW7f0XnhnNneMCLPfjHAAoTrqNJVKac35am/vmVYu
XpiW0j/DzpidxjaFhmVgCoV7PfY0gVWAcIMxlLBk4PNK/dwQXVa9m9NmHYoO3AHY
ReAbkA+OdMaUe0Rcll8qfbX6JdVMC/xbCAX6UOEyJywfyJdJMCc+ZhJ+rGp/I7IZ
Pi/3iNkNJPzU3VfoRnYrgItc2rmA9bG/R6Af8OcHAWUbhidfn0/JieEEmQ+9vVVd
aq5BOFQQsAh+wEGQ4ljhJWrxJ1g06YnGSSeGHnuYuSo+qXUZi1HvTwBI9VCUPhTN
Q7UkQBKVqOSe
-----END CERTIFICATE-----
";

/// The queue key for namespace `ns`.
pub(crate) fn namespace_key(ns: &str) -> ObjectKey {
    ObjectKey::new(Kind::Namespace, "", ns)
}

/// The informer handlers: which namespace a change concerns, if any.
pub(crate) fn relevant(key: &ObjectKey, old: Option<&Object>, new: Option<&Object>) -> bool {
    match key.kind {
        // namespaceAdded, and namespaceUpdated while Active.
        Kind::Namespace => match (old, new) {
            (None, Some(_)) => true,
            (Some(_), Some(Object::Namespace(n))) => {
                n.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Active")
            }
            _ => false,
        },
        // configMapUpdated and configMapDeleted (a creation is not watched).
        Kind::ConfigMap => key.name == CONFIG_MAP_NAME && old.is_some(),
        _ => false,
    }
}

fn data() -> BTreeMap<String, String> {
    BTreeMap::from([(CA_KEY.to_string(), CLUSTER_CA_PEM.to_string())])
}

/// `syncNamespace`: creates the ConfigMap, or restores its data and description.
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let ns = key.name.as_str();
    // A create in a namespace that is gone or terminating fails, and is not retried.
    match c.store.get(&namespace_key(ns)) {
        Some(n) if n.meta().deletion_timestamp.is_none() => {}
        _ => return,
    }
    let cm_key = ObjectKey::new(Kind::ConfigMap, ns, CONFIG_MAP_NAME);
    let Some(current) = c.store.get(&cm_key).cloned() else {
        c.sys_create_side(Object::ConfigMap(Box::new(ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP_NAME.into()),
                namespace: Some(ns.into()),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..Default::default()
            },
            data: Some(data()),
            ..Default::default()
        })));
        return;
    };
    let Object::ConfigMap(cm) = &*current else {
        return;
    };
    let described = cm
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
        .is_some_and(|d| !d.is_empty());
    if cm.data.as_ref() == Some(&data()) && described {
        return;
    }
    let mut cm = (**cm).clone();
    cm.data = Some(data());
    cm.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
    c.sys_update(Object::ConfigMap(Box::new(cm)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::cluster_with;

    fn root_ca(c: &Cluster, ns: &str) -> Option<ConfigMap> {
        c.get_typed::<ConfigMap>(ns, CONFIG_MAP_NAME).cloned()
    }

    fn assert_published(c: &Cluster, ns: &str) {
        let cm = root_ca(c, ns).unwrap_or_else(|| panic!("no {CONFIG_MAP_NAME} in {ns}"));
        assert_eq!(cm.data, Some(data()), "{ns}");
        assert_eq!(
            cm.metadata.annotations.unwrap()[DESCRIPTION_ANNOTATION],
            DESCRIPTION
        );
    }

    const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: lab\n";

    #[test]
    fn every_namespace_has_the_root_ca_config_map() {
        let c = Cluster::kind();
        let namespaces: Vec<String> = c
            .list(Kind::Namespace, None)
            .map(|n| n.name().to_string())
            .collect();
        assert_eq!(namespaces.len(), 5);
        for ns in &namespaces {
            assert_published(&c, ns);
        }
        // A namespace created later gets one at once.
        let c = cluster_with(NAMESPACE);
        assert_published(&c, "lab");
    }

    #[test]
    fn a_deleted_or_edited_root_ca_config_map_is_restored() {
        let mut c = cluster_with(NAMESPACE);
        let uid = root_ca(&c, "lab").unwrap().metadata.uid;
        c.delete(Kind::ConfigMap, "lab", CONFIG_MAP_NAME).unwrap();
        assert_published(&c, "lab");
        assert_ne!(
            root_ca(&c, "lab").unwrap().metadata.uid,
            uid,
            "a new object"
        );

        let edited = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kube-root-ca.crt\n  namespace: lab\n  annotations:\n    kubernetes.io/description: \"\"\n    mine: \"yes\"\ndata:\n  ca.crt: nope\n  extra: x\n";
        c.apply_manifests(edited).unwrap();
        assert_published(&c, "lab");
        let cm = root_ca(&c, "lab").unwrap();
        assert_eq!(cm.metadata.annotations.unwrap()["mine"], "yes", "kept");

        // Gone with its namespace, and not created again there.
        c.delete(Kind::Namespace, "", "lab").unwrap();
        assert!(root_ca(&c, "lab").is_none());
    }

    #[test]
    fn a_snapshot_from_before_the_publisher_gets_its_config_maps_on_load() {
        let c = Cluster::kind();
        let mut snapshot = c.snapshot();
        snapshot
            .objects
            .retain(|o| o["metadata"]["name"] != CONFIG_MAP_NAME);
        let c = Cluster::from_snapshot(snapshot).unwrap();
        for ns in ["default", "kube-system"] {
            assert_published(&c, ns);
        }
    }

    #[test]
    fn the_ca_is_one_well_formed_pem_certificate() {
        let lines: Vec<&str> = CLUSTER_CA_PEM.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(*lines.last().unwrap(), "-----END CERTIFICATE-----");
        let body = &lines[1..lines.len() - 1];
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
        assert!(body.iter().all(|l| {
            l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        }));
        // DER: a SEQUENCE with a two-byte length ("MIID" = 30 82 03 ..).
        assert!(body[0].starts_with("MIID"));
    }
}
