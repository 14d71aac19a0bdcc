//! TODO: being written.
use crate::cluster::Cluster;
use crate::errors::FieldError;
use crate::object::{Object, ObjectKey};

pub(crate) fn sync(_c: &mut Cluster, _key: &ObjectKey) {}

pub(crate) fn allocate_on_create(_c: &mut Cluster, _o: &mut Object, _old: Option<&Object>) -> Result<(), Vec<FieldError>> {
    Ok(())
}

pub(crate) fn commit_allocations(_c: &mut Cluster, _old: Option<&Object>, _new: Option<&Object>) {}
