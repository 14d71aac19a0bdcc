//! TODO: being written.
use crate::cluster::Cluster;

pub(crate) fn bootstrap(_c: &mut Cluster) {}
