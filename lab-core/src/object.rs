//! The Kubernetes objects the simulator stores, as `k8s-openapi` types.
//!
//! [`Object`] is a closed sum over the kinds the course needs; [`Kind`] names them with the
//! resource, group and version the apiserver uses (`services`, `deployments.apps`, …), so error
//! messages and REST paths come from one table.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Event, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! kinds {
    ($( $kind:ident : $ty:ty, $resource:literal, $group:literal, $version:literal, $namespaced:literal, [$($short:literal),*] ;)*) => {
        /// A kind the simulator understands.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind { $(#[doc = concat!("`", stringify!($kind), "`")] $kind),* }

        impl Kind {
            /// Every kind, in a fixed order.
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),*];

            /// The kind's name as it appears in `kind:` (`Service`).
            pub fn name(self) -> &'static str {
                match self { $(Kind::$kind => stringify!($kind)),* }
            }
            /// The plural resource name (`services`).
            pub fn resource(self) -> &'static str {
                match self { $(Kind::$kind => $resource),* }
            }
            /// The API group (`""` for core, `apps`, `discovery.k8s.io`).
            pub fn group(self) -> &'static str {
                match self { $(Kind::$kind => $group),* }
            }
            /// The version within the group (always `v1` here).
            pub fn version(self) -> &'static str {
                match self { $(Kind::$kind => $version),* }
            }
            /// Whether objects of this kind live in a namespace.
            pub fn namespaced(self) -> bool {
                match self { $(Kind::$kind => $namespaced),* }
            }
            /// kubectl short names (`svc`, `po`, …).
            pub fn short_names(self) -> &'static [&'static str] {
                match self { $(Kind::$kind => &[$($short),*]),* }
            }
            /// Looks a kind up by `apiVersion` and `kind` as written in a manifest.
            pub fn from_api_version_kind(api_version: &str, kind: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|k| k.name() == kind && k.api_version() == api_version)
            }
        }

        /// One stored Kubernetes object.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Object { $(#[doc = concat!("A `", stringify!($kind), "` (boxed: the variants differ in size by 6×)")] $kind(Box<$ty>)),* }

        impl Object {
            /// The object's kind.
            pub fn kind(&self) -> Kind {
                match self { $(Object::$kind(_) => Kind::$kind),* }
            }
            /// The object's metadata.
            pub fn meta(&self) -> &ObjectMeta {
                match self { $(Object::$kind(o) => &o.metadata),* }
            }
            /// The object's metadata, mutably.
            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self { $(Object::$kind(o) => &mut o.metadata),* }
            }
            /// The object as JSON, with `apiVersion` and `kind` (k8s-openapi adds both).
            pub fn to_json(&self) -> serde_json::Value {
                let v = match self { $(Object::$kind(o) => serde_json::to_value(o)),* };
                v.expect("k8s-openapi objects always serialise")
            }
            /// Decodes a JSON value of a known kind into the typed object.
            pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Object, serde_path_to_error::Error<serde_json::Error>> {
                Ok(match kind { $(Kind::$kind => Object::$kind(Box::new(serde_path_to_error::deserialize(value)?))),* })
            }
        }

        $(
            impl From<$ty> for Object {
                fn from(o: $ty) -> Object { Object::$kind(Box::new(o)) }
            }
            impl TryFrom<Object> for $ty {
                type Error = Object;
                fn try_from(o: Object) -> Result<$ty, Object> {
                    match o { Object::$kind(x) => Ok(*x), other => Err(other) }
                }
            }
            impl<'a> TryFrom<&'a Object> for &'a $ty {
                type Error = ();
                fn try_from(o: &'a Object) -> Result<&'a $ty, ()> {
                    match o { Object::$kind(x) => Ok(x), _ => Err(()) }
                }
            }
            impl Typed for $ty {
                const KIND: Kind = Kind::$kind;
            }
        )*
    };
}

kinds! {
    Namespace: Namespace, "namespaces", "", "v1", false, ["ns"];
    Node: Node, "nodes", "", "v1", false, ["no"];
    ConfigMap: ConfigMap, "configmaps", "", "v1", true, ["cm"];
    Pod: Pod, "pods", "", "v1", true, ["po"];
    Service: Service, "services", "", "v1", true, ["svc"];
    Endpoints: Endpoints, "endpoints", "", "v1", true, ["ep"];
    Event: Event, "events", "", "v1", true, ["ev"];
    Deployment: Deployment, "deployments", "apps", "v1", true, ["deploy"];
    ReplicaSet: ReplicaSet, "replicasets", "apps", "v1", true, ["rs"];
    StatefulSet: StatefulSet, "statefulsets", "apps", "v1", true, ["sts"];
    EndpointSlice: EndpointSlice, "endpointslices", "discovery.k8s.io", "v1", true, [];
}

/// Implemented by every k8s-openapi type the store holds, to go from a type to its [`Kind`].
pub trait Typed: Sized + Clone + Into<Object> {
    /// The kind of this type.
    const KIND: Kind;
}

impl Kind {
    /// `apiVersion` as written in manifests: `v1`, `apps/v1`.
    pub fn api_version(self) -> String {
        if self.group().is_empty() {
            self.version().to_string()
        } else {
            format!("{}/{}", self.group(), self.version())
        }
    }
    /// The resource as the apiserver names it in messages: `services`, `deployments.apps`.
    pub fn qualified_resource(self) -> String {
        if self.group().is_empty() {
            self.resource().to_string()
        } else {
            format!("{}.{}", self.resource(), self.group())
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an object lives: kind, namespace (empty for cluster-scoped kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The kind.
    pub kind: Kind,
    /// The namespace, `""` for cluster-scoped kinds.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl ObjectKey {
    /// A key for a namespaced object.
    pub fn new(kind: Kind, namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            kind,
            namespace: if kind.namespaced() {
                namespace.to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        }
    }
    /// A key for a cluster-scoped object.
    pub fn cluster(kind: Kind, name: &str) -> ObjectKey {
        ObjectKey::new(kind, "", name)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind.qualified_resource(), self.name)
        } else {
            write!(
                f,
                "{}/{}/{}",
                self.kind.qualified_resource(),
                self.namespace,
                self.name
            )
        }
    }
}

impl Object {
    /// The object's name (`metadata.name`, empty if unset).
    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or("")
    }
    /// The object's namespace (`metadata.namespace`, empty if unset).
    pub fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or("")
    }
    /// The store key of this object.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(self.kind(), self.namespace(), self.name())
    }
    /// Its key and resourceVersion: what a client compares to tell that a list changed (the
    /// grader's `watch`, the live view).
    pub fn version(&self) -> (ObjectKey, String) {
        (
            self.key(),
            self.meta().resource_version.clone().unwrap_or_default(),
        )
    }
    /// The object's uid (empty before it is stored).
    pub fn uid(&self) -> &str {
        self.meta().uid.as_deref().unwrap_or("")
    }
    /// Borrows the object as its concrete type.
    pub fn as_typed<T: Typed>(&self) -> Option<&T>
    where
        for<'a> &'a T: TryFrom<&'a Object>,
    {
        <&T>::try_from(self).ok()
    }
}
