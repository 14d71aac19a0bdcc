//! Errors shaped like the apiserver's: field errors (`k8s.io/apimachinery/pkg/util/validation/field`)
//! and `StatusError`s (`k8s.io/apimachinery/pkg/api/errors`), rendered the way kubectl prints them.

use crate::object::Kind;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};
use std::fmt;

/// The type of a field error (`field.ErrorType`), printed as the apiserver prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorType {
    /// `Not found`
    NotFound,
    /// `Required value`
    Required,
    /// `Duplicate value`
    Duplicate,
    /// `Invalid value`
    Invalid,
    /// `Unsupported value`
    NotSupported,
    /// `Forbidden`
    Forbidden,
    /// `Too long`
    TooLong,
    /// `Too many`
    TooMany,
}

impl FieldErrorType {
    /// The text the apiserver prints for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "Not found",
            FieldErrorType::Required => "Required value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooLong => "Too long",
            FieldErrorType::TooMany => "Too many",
        }
    }
    /// The `StatusCause.reason` (`FieldValueInvalid`, …).
    pub fn cause_reason(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "FieldValueNotFound",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::TooMany => "FieldValueTooMany",
        }
    }
}

/// The offending value of a field error, printed as Go's `field.Error.ErrorBody` prints it:
/// numbers bare, strings quoted with `%q`, anything else in Go syntax (`[]string{"a"}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadValue {
    /// No value is printed (`field.Required`, `field.Forbidden`, …).
    Omit,
    /// An integer: `Invalid value: 30144`.
    Int(i64),
    /// A string: `Invalid value: "foo"`.
    Str(String),
    /// A value already rendered in Go syntax, e.g. `map[string]string{"app":"web"}`.
    Go(String),
}

/// One field error: `spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The error type.
    pub kind: FieldErrorType,
    /// The field path (`spec.ports[0].nodePort`).
    pub field: String,
    /// The bad value.
    pub value: BadValue,
    /// The explanation after the value; may be empty.
    pub detail: String,
}

impl FieldError {
    /// `field.Invalid(path, value, detail)`.
    pub fn invalid(field: impl Into<String>, value: BadValue, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorType::Invalid,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }
    /// `field.Required(path, detail)`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorType::Required,
            field: field.into(),
            value: BadValue::Omit,
            detail: detail.into(),
        }
    }
    /// `field.Duplicate(path, value)`.
    pub fn duplicate(field: impl Into<String>, value: BadValue) -> Self {
        FieldError {
            kind: FieldErrorType::Duplicate,
            field: field.into(),
            value,
            detail: String::new(),
        }
    }
    /// `field.Forbidden(path, detail)`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorType::Forbidden,
            field: field.into(),
            value: BadValue::Omit,
            detail: detail.into(),
        }
    }
    /// `field.NotSupported(path, value, supported)`.
    pub fn not_supported(field: impl Into<String>, value: BadValue, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        FieldError {
            kind: FieldErrorType::NotSupported,
            field: field.into(),
            value,
            detail: format!("supported values: {}", list.join(", ")),
        }
    }
    /// `field.TooLong(path, value, max)`, as printed for names.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        FieldError {
            kind: FieldErrorType::TooLong,
            field: field.into(),
            value: BadValue::Omit,
            detail: format!("may not be more than {max} bytes"),
        }
    }

    /// The text after `field: ` (`ErrorBody()` in Go).
    pub fn body(&self) -> String {
        let mut s = self.kind.as_str().to_string();
        let show_value = matches!(
            self.kind,
            FieldErrorType::Invalid
                | FieldErrorType::Duplicate
                | FieldErrorType::NotSupported
                | FieldErrorType::NotFound
                | FieldErrorType::TooMany
        );
        if show_value {
            match &self.value {
                BadValue::Omit => {}
                BadValue::Int(i) => s.push_str(&format!(": {i}")),
                BadValue::Str(v) => s.push_str(&format!(": {}", go_quote(v))),
                BadValue::Go(v) => s.push_str(&format!(": {v}")),
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// Quotes a string as Go's `%q` does for the printable ASCII we produce.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders a string slice in Go syntax: `[]string{"10.96.0.5"}`.
pub fn go_string_slice(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[]string{{{}}}", inner.join(", "))
}

/// Renders a label map in Go syntax: `map[string]string{"app":"web"}` (keys sorted, as Go prints maps).
pub fn go_string_map<'a>(items: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<(&String, &String)> = items.into_iter().collect();
    pairs.sort();
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
        .collect();
    format!("map[string]string{{{}}}", inner.join(", "))
}

/// An error as the apiserver returns it (`StatusError`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 422 Invalid: the object failed validation.
    #[error("{}", invalid_message(*kind, name, causes))]
    Invalid {
        /// The kind of the rejected object.
        kind: Kind,
        /// Its name.
        name: String,
        /// One entry per failed field.
        causes: Vec<FieldError>,
    },
    /// 404 NotFound.
    #[error("{} {} not found", kind.qualified_resource(), go_quote(name))]
    NotFound {
        /// The kind looked for.
        kind: Kind,
        /// The name looked for.
        name: String,
    },
    /// 409 AlreadyExists.
    #[error("{} {} already exists", kind.qualified_resource(), go_quote(name))]
    AlreadyExists {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
    },
    /// 409 Conflict: stale resourceVersion on update.
    #[error("Operation cannot be fulfilled on {} {}: the object has been modified; please apply your changes to the latest version and try again", kind.qualified_resource(), go_quote(name))]
    Conflict {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
    },
    /// 400 BadRequest, e.g. a strict-decoding error.
    #[error("{message}")]
    BadRequest {
        /// The full message.
        message: String,
    },
    /// 410 Expired: a watch asked for a resourceVersion older than the event log holds.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired {
        /// The resourceVersion asked for.
        requested: u64,
        /// The oldest resourceVersion still available.
        oldest: u64,
    },
    /// 403 Forbidden, e.g. creating in a terminating namespace.
    #[error("{message}")]
    Forbidden {
        /// The full message.
        message: String,
    },
}

fn invalid_message(kind: Kind, name: &str, causes: &[FieldError]) -> String {
    let qualified = if kind.group().is_empty() {
        kind.name().to_string()
    } else {
        format!("{}.{}", kind.name(), kind.group())
    };
    let errs: Vec<String> = causes.iter().map(|c| c.to_string()).collect();
    let list = if errs.len() == 1 {
        errs[0].clone()
    } else {
        format!("[{}]", errs.join(", "))
    };
    format!("{qualified} {} is invalid: {list}", go_quote(name))
}

impl ApiError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::Invalid { .. } => 422,
            ApiError::NotFound { .. } => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::BadRequest { .. } => 400,
            ApiError::Expired { .. } => 410,
            ApiError::Forbidden { .. } => 403,
        }
    }
    /// The `Status.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::Invalid { .. } => "Invalid",
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::BadRequest { .. } => "BadRequest",
            ApiError::Expired { .. } => "Expired",
            ApiError::Forbidden { .. } => "Forbidden",
        }
    }

    /// The line kubectl prints for this error (without an `error when creating "file"` part):
    /// `The Service "x" is invalid: …` for Invalid, `Error from server (NotFound): …` otherwise.
    pub fn kubectl_message(&self) -> String {
        match self {
            ApiError::Invalid { kind, name, causes } => {
                let head = format!("The {} {} is invalid: ", kind.name(), go_quote(name));
                if causes.len() == 1 {
                    format!("{head}{}", causes[0])
                } else {
                    let lines: Vec<String> = causes.iter().map(|c| format!("* {c}")).collect();
                    format!("{head}\n{}", lines.join("\n"))
                }
            }
            other => format!("Error from server ({}): {other}", other.reason()),
        }
    }

    /// The `Status` object the apiserver sends for this error.
    pub fn to_status(&self) -> Status {
        let details = match self {
            ApiError::Invalid { kind, name, causes } => Some(StatusDetails {
                group: Some(kind.group().to_string()),
                kind: Some(kind.name().to_string()),
                name: Some(name.clone()),
                causes: Some(
                    causes
                        .iter()
                        .map(|c| StatusCause {
                            field: Some(c.field.clone()),
                            message: Some(c.body()),
                            reason: Some(c.kind.cause_reason().to_string()),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ApiError::NotFound { kind, name }
            | ApiError::AlreadyExists { kind, name }
            | ApiError::Conflict { kind, name } => Some(StatusDetails {
                group: Some(kind.group().to_string()),
                kind: Some(kind.resource().to_string()),
                name: Some(name.clone()),
                ..Default::default()
            }),
            _ => None,
        };
        Status {
            code: Some(self.code() as i32),
            details,
            message: Some(self.to_string()),
            reason: Some(self.reason().to_string()),
            status: Some("Failure".to_string()),
            ..Default::default()
        }
    }
}
