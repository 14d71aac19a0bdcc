//! The EndpointSlice controller (`pkg/controller/endpointslice`). TODO(helper): being written.
use crate::cluster::Cluster;
use crate::object::ObjectKey;

/// Label naming the Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's `managed-by` value.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";

pub(crate) fn sync(_c: &mut Cluster, _key: &ObjectKey) {}
