//! The EndpointSlice mirroring controller (`pkg/controller/endpointslicemirroring`). TODO(helper).
use crate::cluster::Cluster;
use crate::object::ObjectKey;

/// This controller's `managed-by` value.
pub const CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";

pub(crate) fn sync(_c: &mut Cluster, _key: &ObjectKey) {}
