//! Validation as the apiserver does it. TODO(helper): being written.
use crate::errors::FieldError;
use crate::object::Object;

/// Validates an object for creation.
pub fn validate_create(_o: &Object) -> Vec<FieldError> {
    Vec::new()
}

/// Validates an update of `old` to `new`.
pub fn validate_update(_new: &Object, _old: &Object) -> Vec<FieldError> {
    Vec::new()
}
