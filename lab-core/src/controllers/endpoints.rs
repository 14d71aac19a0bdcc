//! The Endpoints controller (`pkg/controller/endpoint`). TODO(helper): being written.
use crate::cluster::Cluster;
use crate::object::ObjectKey;

pub(crate) fn sync(_c: &mut Cluster, _key: &ObjectKey) {}
