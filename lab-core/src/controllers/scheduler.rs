//! TODO: being written.
use crate::cluster::Cluster;
use crate::object::ObjectKey;

pub(crate) fn sync(_c: &mut Cluster, _key: &ObjectKey) {}
