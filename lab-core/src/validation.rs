//! Validation as the apiserver does it: a Rust mirror of Kubernetes 1.33's
//! `pkg/apis/core/validation/validation.go` and `pkg/apis/apps/validation/validation.go`
//! (plus the `pkg/apis/discovery/validation` and apimachinery `util/validation` helpers they
//! call), with the same field paths, the same messages byte for byte, the same order, and bad
//! values printed the way `field.Error` prints them in 1.33 (Go syntax: `[]string{"10.96.0.5"}`,
//! `v1.LabelSelector{…}`, `core.ServicePort{…}`).
//!
//! Two calling contexts (see `cluster.rs`):
//! - [`validate_create`] sees the object as the user wrote it, **before** defaulting, so every
//!   field the apiserver defaults (`protocol`, `targetPort`, `type`, `sessionAffinity`,
//!   `restartPolicy`, `dnsPolicy`, `replicas`, the deployment strategy, probe thresholds, …) is
//!   read through its default when it is unset or empty, and no `Required value` is reported for
//!   it.
//! - [`validate_update`] sees the new object after defaulting and after the service allocator
//!   carried the ClusterIP and nodePorts over, and compares it with the stored object.
//!
//! Allocation errors (a ClusterIP outside the range or taken, a nodePort outside the range or
//! taken) belong to the service allocator, not to this module. As in the apiserver, where
//! `initIPFamilyFields` validates the ClusterIP fields before allocation, errors in the
//! `clusterIP`/`clusterIPs`/`ipFamilies` fields of a Service are returned alone.
//!
//! Where Go iterates a map (labels, ConfigMap keys) the errors come in key order here, so the
//! output is deterministic. Identical errors are reported once (kubectl prints them once too).
//!
//! Known departures, each forced by the simulator:
//! - k8s-openapi decodes a missing `spec.selector` and `selector: {}` to the same value, so a
//!   Deployment/ReplicaSet selector with neither `matchLabels` nor `matchExpressions` is treated
//!   as missing (`spec.selector: Required value` plus the template mismatch); `matchLabels: {}`
//!   gives `empty selector is invalid for deployment`.
//! - The `Forbidden` error of a pod update ends after the list of updatable fields: the
//!   `cmp.Diff` of the two specs the apiserver appends is not reproduced.
//! - The simulator replaces objects on apply where kubectl patches them, so a pod update without
//!   `spec.nodeName` keeps the scheduler's node instead of counting as a spec change.

use crate::errors::{
    BadValue, FieldError, FieldErrorType, go_quote, go_string_map, go_string_slice,
};
use crate::labels::selector_matches;
use crate::object::Object;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentStrategy, ReplicaSet, StatefulSet, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, EndpointAddress, EndpointPort, Endpoints, HTTPGetAction,
    LifecycleHandler, Pod, PodSpec, PodTemplateSpec, Probe, Service, ServiceSpec, Toleration,
    Volume, VolumeMount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

type Errs = Vec<FieldError>;

/// Validates an object for creation (the object as written, before defaulting).
pub fn validate_create(o: &Object) -> Vec<FieldError> {
    let errs = match o {
        Object::Namespace(n) => validate_object_meta(&n.metadata, false, NameRule::Dns1123Label),
        Object::Node(n) => validate_object_meta(&n.metadata, false, NameRule::Dns1123Subdomain),
        Object::ConfigMap(c) => validate_config_map(c),
        Object::Pod(p) => validate_pod_create(p),
        Object::Service(s) => validate_service_create(s),
        Object::Endpoints(e) => validate_endpoints(e),
        Object::Event(e) => validate_object_meta(&e.metadata, true, NameRule::Dns1123Subdomain),
        Object::Deployment(d) => validate_deployment(d, None),
        Object::ReplicaSet(r) => validate_replica_set(r, None),
        Object::StatefulSet(s) => validate_stateful_set(s),
        Object::EndpointSlice(e) => validate_endpoint_slice(e),
    };
    dedup(errs)
}

/// Validates an update of `old` to `new` (`new` is defaulted; the ClusterIP and nodePorts of a
/// Service have been carried over from `old`).
pub fn validate_update(new: &Object, old: &Object) -> Vec<FieldError> {
    let errs = match (new, old) {
        (Object::Service(n), Object::Service(o)) => validate_service_update(n, o),
        (Object::Pod(n), Object::Pod(o)) => validate_pod_update(n, o),
        (Object::Deployment(n), Object::Deployment(o)) => validate_deployment(n, Some(o)),
        (Object::ReplicaSet(n), Object::ReplicaSet(o)) => validate_replica_set(n, Some(o)),
        (Object::StatefulSet(n), Object::StatefulSet(o)) => validate_stateful_set_update(n, o),
        (Object::ConfigMap(n), Object::ConfigMap(o)) => validate_config_map_update(n, o),
        (Object::EndpointSlice(n), Object::EndpointSlice(o)) => {
            let mut errs = validate_endpoint_slice(n);
            if n.address_type != o.address_type {
                errs.push(invalid_str("addressType", &n.address_type, IMMUTABLE_MSG));
            }
            errs
        }
        (Object::Namespace(n), _) => validate_meta_update(&n.metadata),
        (Object::Node(n), _) => validate_meta_update(&n.metadata),
        (other, _) => return validate_create(other),
    };
    dedup(errs)
}

// ---------------------------------------------------------------------------------------------
// Messages and small constructors
// ---------------------------------------------------------------------------------------------

const PORT_RANGE_MSG: &str = "must be between 1 and 65535, inclusive";
const NEGATIVE_MSG: &str = "must be greater than or equal to 0";
const IMMUTABLE_MSG: &str = "field is immutable";
const IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const LB_ONLY_MSG: &str = "may only be used when `type` is 'LoadBalancer'";
const POD_UPDATE_MSG: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_US_FMT: &str =
    r"_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_US_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const PERCENT_FMT: &str = "[0-9]+%";
const PERCENT_MSG: &str =
    "a valid percent string must be a numeric string followed by an ending '%'";
const HTTP_HEADER_FMT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_MSG: &str = "a valid HTTP header must consist of alphanumeric characters or '-'";
const RELAXED_ENV_MSG: &str = "a valid environment variable name must consist only of printable ASCII characters other than '='";

fn invalid_str(path: impl Into<String>, v: &str, detail: impl Into<String>) -> FieldError {
    FieldError::invalid(path, BadValue::Str(v.to_string()), detail)
}

fn invalid_int(
    path: impl Into<String>,
    v: impl Into<i64>,
    detail: impl Into<String>,
) -> FieldError {
    FieldError::invalid(path, BadValue::Int(v.into()), detail)
}

fn invalid_go(path: impl Into<String>, v: String, detail: impl Into<String>) -> FieldError {
    FieldError::invalid(path, BadValue::Go(v), detail)
}

fn not_supported_str(path: impl Into<String>, v: &str, supported: &[&str]) -> FieldError {
    FieldError::not_supported(path, BadValue::Str(v.to_string()), supported)
}

fn not_found(path: impl Into<String>, v: &str) -> FieldError {
    FieldError {
        kind: FieldErrorType::NotFound,
        field: path.into(),
        value: BadValue::Str(v.to_string()),
        detail: String::new(),
    }
}

fn too_many(path: impl Into<String>, actual: usize, max: usize) -> FieldError {
    let unit = if max == 1 { "item" } else { "items" };
    FieldError {
        kind: FieldErrorType::TooMany,
        field: path.into(),
        value: BadValue::Int(i64::try_from(actual).unwrap_or(i64::MAX)),
        detail: format!("must have at most {max} {unit}"),
    }
}

/// `nil` values print as the quoted string `"null"` (field.Error's rule for nil pointers).
fn opt_str_value(v: Option<&str>) -> BadValue {
    BadValue::Str(v.unwrap_or("null").to_string())
}

/// Drops errors whose text is identical to an earlier one (`ErrorList.ToAggregate`, kubectl).
fn dedup(errs: Errs) -> Errs {
    let mut seen = BTreeSet::new();
    errs.into_iter()
        .filter(|e| seen.insert(e.to_string()))
        .collect()
}

/// An unset or empty string field, read through the apiserver's default.
fn or_default<'a>(v: Option<&'a str>, default: &'a str) -> &'a str {
    v.filter(|s| !s.is_empty()).unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// apimachinery `util/validation`: the Is* functions, returning messages
// ---------------------------------------------------------------------------------------------

/// `RegexError`: note the double space Go produces before each example after the first.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(e);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(fmt);
    s.push_str("')");
    s
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A non-empty string whose first byte, last byte and every byte pass the three tests (the
/// shape of all the regexes below: `first(body*last)?`).
fn bytes_match(
    s: &str,
    first: impl Fn(u8) -> bool,
    last: impl Fn(u8) -> bool,
    body: impl Fn(u8) -> bool,
) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => first(f) && last(l) && b.iter().all(|&c| body(c)),
        _ => false,
    }
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1123_label(s: &str) -> bool {
    bytes_match(s, is_lower_alnum, is_lower_alnum, |c| {
        is_lower_alnum(c) || c == b'-'
    })
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// `^_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?$` per label.
fn matches_dns1123_subdomain_with_underscore(s: &str) -> bool {
    s.split('.').all(|label| {
        let rest = label.strip_prefix('_').unwrap_or(label);
        bytes_match(rest, is_lower_alnum, is_lower_alnum, |c| {
            is_lower_alnum(c) || c == b'-' || c == b'_'
        })
    })
}

/// `^[a-z]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1035_label(s: &str) -> bool {
    bytes_match(
        s,
        |c| c.is_ascii_lowercase(),
        is_lower_alnum,
        |c| is_lower_alnum(c) || c == b'-',
    )
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_qualified_name_part(s: &str) -> bool {
    bytes_match(
        s,
        |c| c.is_ascii_alphanumeric(),
        |c| c.is_ascii_alphanumeric(),
        |c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'),
    )
}

/// A maximum length, then a format: the message of each check that fails, in that order.
fn length_then(v: &str, max: usize, format_error: Option<String>) -> Vec<String> {
    let mut errs = vec![];
    if v.len() > max {
        errs.push(max_len_error(max));
    }
    errs.extend(format_error);
    errs
}

/// [`length_then`] with the format given as a matcher and the parts of its `RegexError`.
fn length_and_format(
    v: &str,
    max: usize,
    matches: impl Fn(&str) -> bool,
    msg: &str,
    fmt: &str,
    examples: &[&str],
) -> Vec<String> {
    length_then(
        v,
        max,
        (!matches(v)).then(|| regex_error(msg, fmt, examples)),
    )
}

pub(crate) fn is_dns1123_label(v: &str) -> Vec<String> {
    let format_error = (!matches_dns1123_label(v)).then(|| {
        if matches_dns1123_subdomain(v) {
            "must not contain dots".to_string()
        } else {
            regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            )
        }
    });
    length_then(v, 63, format_error)
}

fn is_dns1123_subdomain(v: &str) -> Vec<String> {
    length_and_format(
        v,
        253,
        matches_dns1123_subdomain,
        DNS1123_SUBDOMAIN_MSG,
        DNS1123_SUBDOMAIN_FMT,
        &["example.com"],
    )
}

fn is_dns1123_subdomain_with_underscore(v: &str) -> Vec<String> {
    length_and_format(
        v,
        253,
        matches_dns1123_subdomain_with_underscore,
        DNS1123_SUBDOMAIN_US_MSG,
        DNS1123_SUBDOMAIN_US_FMT,
        &["example.com"],
    )
}

fn is_dns1035_label(v: &str) -> Vec<String> {
    length_and_format(
        v,
        63,
        matches_dns1035_label,
        DNS1035_LABEL_MSG,
        DNS1035_LABEL_FMT,
        &["my-name", "abc-123"],
    )
}

/// `IsQualifiedName`: label keys, annotation keys, appProtocol, …
fn is_qualified_name(v: &str) -> Vec<String> {
    let mut errs = vec![];
    let parts: Vec<&str> = v.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

fn is_valid_label_value(v: &str) -> Vec<String> {
    length_and_format(
        v,
        63,
        |v| v.is_empty() || matches_qualified_name_part(v),
        LABEL_VALUE_MSG,
        LABEL_VALUE_FMT,
        &["MyValue", "my_value", "12345"],
    )
}

fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        vec![]
    } else {
        vec![PORT_RANGE_MSG.to_string()]
    }
}

/// `IsValidPortName` (IANA_SVC_NAME): one message per failing rule.
fn is_valid_port_name(port: &str) -> Vec<String> {
    let bad_chars = port.is_empty() || !port.bytes().all(|c| is_lower_alnum(c) || c == b'-');
    let mut errs = length_then(
        port,
        15,
        bad_chars.then(|| {
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string()
        }),
    );
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

fn is_config_map_key(v: &str) -> Vec<String> {
    let mut errs = length_and_format(
        v,
        253,
        |v| {
            !v.is_empty()
                && v.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
        },
        CONFIG_MAP_KEY_MSG,
        CONFIG_MAP_KEY_FMT,
        &["key.name", "KEY_NAME", "key-name"],
    );
    if v == "." {
        errs.push("must not be '.'".to_string());
    } else if v == ".." {
        errs.push("must not be '..'".to_string());
    } else if v.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

fn is_valid_percent(v: &str) -> bool {
    v.strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// IP helpers (`netutils.ParseIPSloppy` semantics: IPv4 parts may have leading zeros)
// ---------------------------------------------------------------------------------------------

fn parse_ipv4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let mut out = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n >= 4 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut v: u32 = 0;
        for b in part.bytes() {
            v = v * 10 + u32::from(b - b'0');
            if v > 255 {
                return None;
            }
        }
        out[n] = u8::try_from(v).ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(out))
}

fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        parse_ipv4_sloppy(s).map(IpAddr::V4)
    }
}

/// Go's `ip.To4()`: IPv4, or an IPv4-mapped IPv6 address.
fn to4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

fn is_ipv6_string(s: &str) -> bool {
    parse_ip_sloppy(s).is_some_and(|ip| to4(ip).is_none())
}

fn is_valid_cidr(s: &str) -> bool {
    let Some((ip, prefix)) = s.split_once('/') else {
        return false;
    };
    let Some(addr) = parse_ip_sloppy(ip) else {
        return false;
    };
    let max = if matches!(addr, IpAddr::V4(_)) {
        32
    } else {
        128
    };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u32>().is_ok_and(|p| p <= max)
}

/// `IsValidIP` (the field-list form).
fn validate_ip(ip: &str, path: &str) -> Errs {
    if parse_ip_sloppy(ip).is_none() {
        vec![invalid_str(path, ip, IP_MSG)]
    } else {
        vec![]
    }
}

/// `ValidateNonSpecialIP` / `ValidateEndpointIP`.
fn validate_non_special_ip(ip_str: &str, path: &str) -> Errs {
    let Some(ip) = parse_ip_sloppy(ip_str) else {
        return vec![invalid_str(path, ip_str, "must be a valid IP address")];
    };
    let v4 = to4(ip);
    let v6 = match ip {
        IpAddr::V6(v6) if v4.is_none() => Some(v6),
        _ => None,
    };
    let mut errs = vec![];
    if v4.is_some_and(|a| a.is_unspecified()) || v6.is_some_and(|a| a.is_unspecified()) {
        errs.push(invalid_str(
            path,
            ip_str,
            format!("may not be unspecified ({ip_str})"),
        ));
    }
    if v4.is_some_and(|a| a.octets()[0] == 127) || v6.is_some_and(|a| a.is_loopback()) {
        errs.push(invalid_str(
            path,
            ip_str,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    if v4.is_some_and(|a| a.is_link_local())
        || v6.is_some_and(|a| a.segments()[0] & 0xffc0 == 0xfe80)
    {
        errs.push(invalid_str(
            path,
            ip_str,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    let ll_multicast_v4 = v4.is_some_and(|a| {
        let o = a.octets();
        o[0] == 224 && o[1] == 0 && o[2] == 0
    });
    let ll_multicast_v6 = v6.is_some_and(|a| {
        let o = a.octets();
        o[0] == 0xff && o[1] & 0x0f == 0x02
    });
    if ll_multicast_v4 || ll_multicast_v6 {
        errs.push(invalid_str(
            path,
            ip_str,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Field-level wrappers
// ---------------------------------------------------------------------------------------------

fn validate_dns1123_label(v: &str, path: &str) -> Errs {
    invalid_strs(path, v, is_dns1123_label(v))
}

fn validate_dns1123_subdomain(v: &str, path: &str) -> Errs {
    invalid_strs(path, v, is_dns1123_subdomain(v))
}

fn validate_qualified_name(v: &str, path: &str) -> Errs {
    invalid_strs(path, v, is_qualified_name(v))
}

/// Each message as an `Invalid value` error at `path`, with `v` as the bad value.
fn invalid_strs(path: &str, v: &str, msgs: Vec<String>) -> Errs {
    msgs.into_iter().map(|m| invalid_str(path, v, m)).collect()
}

/// `IsValidPortNum` at a field.
fn validate_port_num(port: i32, path: &str) -> Errs {
    is_valid_port_num(i64::from(port))
        .into_iter()
        .map(|m| invalid_int(path, port, m))
        .collect()
}

/// A `Unsupported value` error unless `v` is one of `supported`.
fn validate_supported(v: &str, supported: &[&str], path: &str) -> Option<FieldError> {
    (!supported.contains(&v)).then(|| not_supported_str(path, v, supported))
}

/// A port protocol other than SCTP, TCP and UDP.
fn validate_protocol(proto: &str, path: &str) -> Option<FieldError> {
    validate_supported(proto, PROTOCOLS, path)
}

/// `ValidateLabels`: every error at the unkeyed path, with the key or the value as bad value.
fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &str) -> Errs {
    let mut errs = vec![];
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_qualified_name(k, path));
        errs.extend(invalid_strs(path, v, is_valid_label_value(v)));
    }
    errs
}

fn validate_annotations(annotations: Option<&BTreeMap<String, String>>, path: &str) -> Errs {
    let mut errs = vec![];
    let mut total = 0usize;
    for (k, v) in annotations.into_iter().flatten() {
        errs.extend(invalid_strs(path, k, is_qualified_name(&k.to_lowercase())));
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > 256 * 1024 {
        errs.push(FieldError::too_long(path, 256 * 1024));
    }
    errs
}

/// `ValidatePortNumOrName`.
fn validate_port_num_or_name(port: &IntOrString, path: &str) -> Errs {
    match port {
        IntOrString::Int(i) => validate_port_num(*i, path),
        IntOrString::String(s) => invalid_strs(path, s, is_valid_port_name(s)),
    }
}

fn nonnegative(v: Option<i32>, path: &str) -> Option<FieldError> {
    v.filter(|v| *v < 0)
        .map(|v| invalid_int(path, v, NEGATIVE_MSG))
}

// ---------------------------------------------------------------------------------------------
// Go-syntax renderers for bad values
// ---------------------------------------------------------------------------------------------

fn go_opt_string_map(m: Option<&BTreeMap<String, String>>) -> String {
    match m {
        Some(m) => go_string_map(m),
        None => "map[string]string(nil)".to_string(),
    }
}

/// A `LabelSelector` as `%#v` prints it: `v1.LabelSelector{MatchLabels:…, MatchExpressions:…}`.
fn go_label_selector(sel: &LabelSelector) -> String {
    let exprs = match &sel.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|e| {
                    let values = match &e.values {
                        Some(v) => go_string_slice(v),
                        None => "[]string(nil)".to_string(),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        go_quote(&e.key),
                        go_quote(&e.operator)
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}",
        go_opt_string_map(sel.match_labels.as_ref())
    )
}

/// The key struct of the duplicate (protocol, port) check: only Protocol and Port are set.
fn go_service_port_key(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        go_quote(protocol)
    )
}

/// An `IntOrString` passed by value (its `String()` has a pointer receiver, so `%#v` applies).
fn go_int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}"),
        IntOrString::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
    }
}

fn go_deployment_strategy(s: &DeploymentStrategy) -> String {
    // A non-nil pointer prints as an address; any plausible one will do.
    let ru = if s.rolling_update.is_some() {
        "(*apps.RollingUpdateDeployment)(0xc000a1c2d0)"
    } else {
        "(*apps.RollingUpdateDeployment)(nil)"
    };
    format!(
        "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{ru}}}",
        go_quote(s.type_.as_deref().unwrap_or(""))
    )
}

// ---------------------------------------------------------------------------------------------
// ObjectMeta
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
}

/// `maskTrailingDash`, byte-wise as Go does it.
fn mask_trailing_dash(name: &str) -> String {
    let b = name.as_bytes();
    if b.len() > 1 && name.ends_with('-') {
        let mut out = String::from_utf8_lossy(&b[..b.len() - 2]).into_owned();
        out.push('a');
        out
    } else {
        name.to_string()
    }
}

fn name_messages(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    let name = if prefix {
        mask_trailing_dash(name)
    } else {
        name.to_string()
    };
    match rule {
        NameRule::Dns1123Subdomain => is_dns1123_subdomain(&name),
        NameRule::Dns1123Label => is_dns1123_label(&name),
        NameRule::Dns1035Label => is_dns1035_label(&name),
    }
}

/// `ValidateObjectMeta` (the checks a user can trip).
fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> Errs {
    let mut errs = vec![];
    if let Some(g) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        errs.extend(invalid_strs(
            "metadata.generateName",
            g,
            name_messages(rule, g, true),
        ));
    }
    let name = meta.name.as_deref().unwrap_or("");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        errs.extend(invalid_strs(
            "metadata.name",
            name,
            name_messages(rule, name, false),
        ));
    }
    if namespaced {
        let ns = meta.namespace.as_deref().unwrap_or("");
        if ns.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            errs.extend(validate_dns1123_label(ns, "metadata.namespace"));
        }
    }
    errs.extend(validate_meta_update(meta));
    errs
}

/// The parts of `ValidateObjectMetaUpdate` that the new object alone decides.
fn validate_meta_update(meta: &ObjectMeta) -> Errs {
    let mut errs = validate_labels(meta.labels.as_ref(), "metadata.labels");
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        "metadata.annotations",
    ));
    errs
}

// ---------------------------------------------------------------------------------------------
// Service (`ValidateService`, `validateServicePort`, `ValidateServiceClusterIPsRelatedFields`,
// `validateUpgradeDowngradeClusterIPs`)
// ---------------------------------------------------------------------------------------------

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

fn service_type(spec: &ServiceSpec) -> &str {
    or_default(spec.type_.as_deref(), "ClusterIP")
}

/// `clusterIPs` as the registry normalises it: the singular field fills an empty plural one.
fn cluster_ips(spec: &ServiceSpec) -> Vec<String> {
    match spec.cluster_ips.as_ref().filter(|v| !v.is_empty()) {
        Some(v) => v.clone(),
        None => spec
            .cluster_ip
            .iter()
            .filter(|ip| !ip.is_empty())
            .cloned()
            .collect(),
    }
}

fn is_headless(ips: &[String]) -> bool {
    ips.len() == 1 && ips[0] == "None"
}

/// `ExternallyAccessible` (`pkg/api/service/util.go`): NodePort and LoadBalancer Services, and
/// ClusterIP ones with external IPs.
pub(crate) fn externally_accessible(spec: &ServiceSpec) -> bool {
    let ty = service_type(spec);
    ty == "LoadBalancer"
        || ty == "NodePort"
        || (ty == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|v| !v.is_empty()))
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    service_type(spec) == "LoadBalancer" && spec.external_traffic_policy.as_deref() == Some("Local")
}

fn port_protocol(p: Option<&str>) -> &str {
    or_default(p, "TCP")
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn validate_cluster_ips_related(spec: &ServiceSpec) -> Errs {
    if service_type(spec) == "ExternalName" {
        return vec![];
    }
    let mut errs = vec![];
    let mut has_invalid_ips = false;
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or("");
    let ips = cluster_ips(spec);
    let families = spec.ip_families.as_deref().unwrap_or(&[]);
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required("spec.clusterIPs", ""));
        } else if ips[0] != cluster_ip {
            errs.push(invalid_go(
                "spec.clusterIPs",
                go_string_slice(&ips),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(invalid_go(
            "spec.clusterIPs",
            go_string_slice(&ips),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let mut seen: Vec<&str> = vec![];
    for (i, f) in families.iter().enumerate() {
        if f != "IPv4" && f != "IPv6" {
            errs.push(not_supported_str(
                format!("spec.ipFamilies[{i}]"),
                f,
                &["IPv4", "IPv6"],
            ));
        }
        if seen.contains(&f.as_str()) {
            errs.push(FieldError::duplicate(
                format!("spec.ipFamilies[{i}]"),
                BadValue::Str(f.clone()),
            ));
        }
        seen.push(f);
    }
    if let Some(p) = spec.ip_family_policy.as_deref()
        && !["PreferDualStack", "RequireDualStack", "SingleStack"].contains(&p)
    {
        errs.push(not_supported_str(
            "spec.ipFamilyPolicy",
            p,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                has_invalid_ips = true;
                errs.push(invalid_go(
                    "spec.clusterIPs",
                    go_string_slice(&ips),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = validate_ip(ip, &format!("spec.clusterIPs[{i}]"));
        has_invalid_ips |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(invalid_go(
            "spec.clusterIPs",
            go_string_slice(&ips),
            "may only hold up to 2 values",
        ));
    }
    if has_invalid_ips {
        return errs;
    }
    if ips.len() > 1 {
        let v6 = ips.iter().filter(|ip| is_ipv6_string(ip)).count();
        if v6 == 0 || v6 == ips.len() {
            errs.push(invalid_go(
                "spec.clusterIPs",
                go_string_slice(&ips),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !is_headless(&ips) && !families.is_empty() {
        for (i, (ip, family)) in ips.iter().zip(families).enumerate() {
            let v6 = is_ipv6_string(ip);
            if family == "IPv4" && v6 {
                errs.push(invalid_str(
                    format!("spec.clusterIPs[{i}]"),
                    ip,
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if family == "IPv6" && !v6 {
                errs.push(invalid_str(
                    format!("spec.clusterIPs[{i}]"),
                    ip,
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

fn validate_service_create(svc: &Service) -> Errs {
    let owned = ServiceSpec::default();
    let spec = svc.spec.as_ref().unwrap_or(&owned);
    // The registry validates these fields before allocating, and stops there on error.
    let early = validate_cluster_ips_related(spec);
    if !early.is_empty() {
        return early;
    }
    validate_service(svc)
}

fn validate_service_update(new: &Service, old: &Service) -> Errs {
    let owned_new = ServiceSpec::default();
    let owned_old = ServiceSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&owned_new);
    let old_spec = old.spec.as_ref().unwrap_or(&owned_old);
    let early = validate_cluster_ips_related(spec);
    if !early.is_empty() {
        return early;
    }
    let mut errs = validate_meta_update(&new.metadata);
    let (ty, old_ty) = (service_type(spec), service_type(old_spec));
    let (ips, old_ips) = (cluster_ips(spec), cluster_ips(old_spec));
    // validateUpgradeDowngradeClusterIPs
    if ty != "ExternalName"
        && old_ty != "ExternalName"
        && !(is_headless(&ips) && is_headless(&old_ips))
    {
        let path0 = "spec.clusterIPs[0]";
        if ips.len() == old_ips.len() {
            for (i, (n, o)) in ips.iter().zip(&old_ips).enumerate() {
                if n != o {
                    errs.push(invalid_go(
                        format!("spec.clusterIPs[{i}]"),
                        go_string_slice(&ips),
                        "may not change once set",
                    ));
                }
            }
        } else if old_ips.len() > ips.len() {
            if ips.is_empty() {
                errs.push(invalid_go(
                    path0,
                    "[]string(nil)".to_string(),
                    "primary clusterIP can not be unset",
                ));
            } else if ips[0] != old_ips[0] {
                errs.push(invalid_go(
                    path0,
                    go_string_slice(&ips),
                    "may not change once set",
                ));
            }
        } else if !old_ips.is_empty() && ips[0] != old_ips[0] {
            errs.push(invalid_go(
                path0,
                go_string_slice(&ips),
                "may not change once set",
            ));
        }
    }
    // validateUpgradeDowngradeIPFamilies (single-stack: the equal-length case)
    if ty != "ExternalName"
        && old_ty != "ExternalName"
        && is_headless(&ips) == is_headless(&old_ips)
        && !is_headless(&ips)
    {
        let (fam, old_fam) = (
            spec.ip_families.as_deref().unwrap_or(&[]),
            old_spec.ip_families.as_deref().unwrap_or(&[]),
        );
        if fam.len() == old_fam.len() {
            for (n, o) in fam.iter().zip(old_fam) {
                if n != o {
                    let items: Vec<String> = fam.iter().map(|f| go_quote(f)).collect();
                    errs.push(invalid_go(
                        "spec.ipFamilies[0]",
                        format!("[]core.IPFamily{{{}}}", items.join(", ")),
                        "may not change once set",
                    ));
                }
            }
        }
    }
    // validateLoadBalancerClassField(old, new)
    if ty == "LoadBalancer"
        && old_ty == "LoadBalancer"
        && spec.load_balancer_class != old_spec.load_balancer_class
    {
        errs.push(FieldError::invalid(
            "spec.loadBalancerClass",
            opt_str_value(spec.load_balancer_class.as_deref()),
            "may not change once set",
        ));
    }
    // validateServiceExternalTrafficFieldsUpdate
    if needs_health_check(spec)
        && needs_health_check(old_spec)
        && spec.health_check_node_port != old_spec.health_check_node_port
    {
        errs.push(FieldError::forbidden(
            "spec.healthCheckNodePort",
            IMMUTABLE_MSG,
        ));
    }
    errs.extend(validate_service(new));
    errs
}

/// `ValidateService`, on the object read through its defaults.
fn validate_service(svc: &Service) -> Errs {
    let owned = ServiceSpec::default();
    let spec = svc.spec.as_ref().unwrap_or(&owned);
    let ty = service_type(spec);
    let ips = cluster_ips(spec);
    let headless = is_headless(&ips);
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    let mut errs = validate_object_meta(&svc.metadata, true, NameRule::Dns1035Label);

    let annotations = svc.metadata.annotations.as_ref();
    let hints = annotations.and_then(|a| a.get("service.kubernetes.io/topology-aware-hints"));
    let mode = annotations.and_then(|a| a.get("service.kubernetes.io/topology-mode"));
    if let (Some(h), Some(m)) = (hints, mode)
        && h != m
    {
        errs.push(invalid_str(
                "metadata.annotations[service.kubernetes.io/topology-mode]",
                m,
                "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
            ));
    }

    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if headless => {
            errs.push(invalid_str(
                "spec.clusterIPs[0]",
                "None",
                format!("may not be set to 'None' for {ty} services"),
            ));
        }
        "ExternalName" => {
            let msg = "may not be set for ExternalName services";
            if !ips.is_empty() {
                errs.push(FieldError::forbidden("spec.clusterIPs", msg));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errs.push(FieldError::forbidden("spec.ipFamilies", msg));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldError::forbidden("spec.ipFamilyPolicy", msg));
            }
            let external_name = spec.external_name.as_deref().unwrap_or("");
            let cname = external_name.strip_suffix('.').unwrap_or(external_name);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                errs.extend(validate_dns1123_subdomain(cname, "spec.externalName"));
            }
        }
        _ => {}
    }

    let mut port_names: BTreeSet<&str> = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let name = p.name.as_deref().unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(format!("{path}.name"), ""));
        } else if !name.is_empty() {
            errs.extend(validate_dns1123_label(name, &format!("{path}.name")));
            if !port_names.insert(name) {
                errs.push(FieldError::duplicate(
                    format!("{path}.name"),
                    BadValue::Str(name.to_string()),
                ));
            }
        }
        errs.extend(validate_port_num(p.port, &format!("{path}.port")));
        let proto = port_protocol(p.protocol.as_deref());
        errs.extend(validate_protocol(proto, &format!("{path}.protocol")));
        // targetPort 0 or "" is defaulted to the port.
        let target = match &p.target_port {
            None => IntOrString::Int(p.port),
            Some(IntOrString::Int(0)) => IntOrString::Int(p.port),
            Some(IntOrString::String(s)) if s.is_empty() => IntOrString::Int(p.port),
            Some(t) => t.clone(),
        };
        errs.extend(validate_port_num_or_name(
            &target,
            &format!("{path}.targetPort"),
        ));
        if let Some(ap) = &p.app_protocol {
            errs.extend(validate_qualified_name(ap, &format!("{path}.appProtocol")));
        }
    }

    if let Some(sel) = &spec.selector {
        errs.extend(validate_labels(Some(sel), "spec.selector"));
    }

    let affinity = or_default(spec.session_affinity.as_deref(), "None");
    errs.extend(validate_supported(
        affinity,
        &["ClientIP", "None"],
        "spec.sessionAffinity",
    ));
    if affinity == "ClientIP" {
        let timeout = spec
            .session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds);
        if let Some(t) = timeout.filter(|t| *t <= 0 || *t > 86400) {
            errs.push(invalid_int(
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                t,
                "must be greater than 0 and less than 86400",
            ));
        }
    } else if affinity == "None" && spec.session_affinity_config.is_some() {
        errs.push(FieldError::forbidden(
            "spec.sessionAffinityConfig",
            "must not be set when session affinity is None",
        ));
    }

    errs.extend(validate_cluster_ips_related(spec));

    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let path = format!("spec.externalIPs[{i}]");
        let e = validate_ip(ip, &path);
        if e.is_empty() {
            errs.extend(validate_non_special_ip(ip, &path));
        } else {
            errs.extend(e);
        }
    }

    errs.extend(validate_supported(ty, SERVICE_TYPES, "spec.type"));
    if ty == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if p.node_port.unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports: BTreeSet<(&str, i32)> = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let np = p.node_port.unwrap_or(0);
        if np != 0 && !node_ports.insert((port_protocol(p.protocol.as_deref()), np)) {
            errs.push(FieldError::duplicate(
                format!("spec.ports[{i}].nodePort"),
                BadValue::Int(i64::from(np)),
            ));
        }
    }
    let mut keys: BTreeSet<(&str, i32)> = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let proto = port_protocol(p.protocol.as_deref());
        if !keys.insert((proto, p.port)) {
            errs.push(FieldError::duplicate(
                format!("spec.ports[{i}]"),
                BadValue::Go(go_service_port_key(proto, p.port)),
            ));
        }
    }

    let source_ranges = spec.load_balancer_source_ranges.as_deref().unwrap_or(&[]);
    if !source_ranges.is_empty() {
        let path = "spec.LoadBalancerSourceRanges";
        if ty != "LoadBalancer" {
            errs.push(FieldError::forbidden(path, LB_ONLY_MSG));
        }
        for (idx, v) in source_ranges.iter().enumerate() {
            let v = v.trim();
            if !is_valid_cidr(v) {
                errs.push(invalid_str(format!("{path}[{idx}]"), v, CIDR_MSG));
            }
        }
    } else if let Some(val) =
        annotations.and_then(|a| a.get("service.beta.kubernetes.io/load-balancer-source-ranges"))
    {
        let path = "metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]";
        if ty != "LoadBalancer" {
            errs.push(FieldError::forbidden(path, LB_ONLY_MSG));
        }
        let val = val.trim();
        if !val.is_empty() {
            for v in val.split(',').map(str::trim) {
                if !is_valid_cidr(v) {
                    errs.push(invalid_str(path, v, CIDR_MSG));
                }
            }
        }
    }

    if spec.allocate_load_balancer_node_ports.is_some() && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            LB_ONLY_MSG,
        ));
    }
    match (&spec.load_balancer_class, ty) {
        (Some(class), "LoadBalancer") => {
            errs.extend(validate_qualified_name(class, "spec.loadBalancerClass"))
        }
        (Some(_), _) => errs.push(FieldError::forbidden("spec.loadBalancerClass", LB_ONLY_MSG)),
        _ => {}
    }

    // validateServiceExternalTrafficPolicy (an empty policy is defaulted to Cluster)
    let etp = spec.external_traffic_policy.as_deref().unwrap_or("");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(invalid_str(
                "spec.externalTrafficPolicy",
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if !etp.is_empty() && etp != "Cluster" && etp != "Local" {
        errs.push(not_supported_str(
            "spec.externalTrafficPolicy",
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hcnp = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) {
        if hcnp != 0 {
            errs.push(invalid_int(
                "spec.healthCheckNodePort",
                hcnp,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hcnp != 0 {
        errs.extend(validate_port_num(hcnp, "spec.healthCheckNodePort"));
    }
    // validateServiceInternalTrafficFieldsValue (nil is defaulted to Cluster)
    if let Some(itp) = spec.internal_traffic_policy.as_deref()
        && itp != "Cluster"
        && itp != "Local"
    {
        errs.push(not_supported_str(
            "spec.internalTrafficPolicy",
            itp,
            &["Cluster", "Local"],
        ));
    }
    if let Some(td) = spec.traffic_distribution.as_deref()
        && td != "PreferClose"
    {
        errs.push(not_supported_str(
            "spec.trafficDistribution",
            td,
            &["PreferClose"],
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Pod spec (`ValidatePodSpec` and the container validators)
// ---------------------------------------------------------------------------------------------

/// `ValidateVolumes`: returns the names of the valid volumes, which mounts may reference.
fn validate_volumes(volumes: &[Volume], path: &str, errs: &mut Errs) -> BTreeSet<String> {
    let mut valid = BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let ip = format!("{path}.volumes[{i}]");
        let mut el = vec![];
        let sources = serde_json::to_value(v)
            .ok()
            .and_then(|j| {
                j.as_object()
                    .map(|m| m.keys().filter(|k| k.as_str() != "name").count())
            })
            .unwrap_or(1);
        if let Some(cm) = &v.config_map
            && cm.name.is_empty()
        {
            el.push(FieldError::required(format!("{ip}.configMap.name"), ""));
        }
        if let Some(s) = &v.secret
            && s.secret_name.as_deref().unwrap_or("").is_empty()
        {
            el.push(FieldError::required(format!("{ip}.secret.secretName"), ""));
        }
        if sources == 0 {
            el.push(FieldError::required(
                ip.clone(),
                "must specify a volume type",
            ));
        }
        if v.name.is_empty() {
            el.push(FieldError::required(format!("{ip}.name"), ""));
        } else {
            el.extend(validate_dns1123_label(&v.name, &format!("{ip}.name")));
        }
        if valid.contains(&v.name) {
            el.push(FieldError::duplicate(
                format!("{ip}.name"),
                BadValue::Str(v.name.clone()),
            ));
        }
        if el.is_empty() {
            valid.insert(v.name.clone());
        } else {
            errs.extend(el);
        }
    }
    valid
}

fn validate_container_ports(ports: &[ContainerPort], path: &str) -> Errs {
    let mut errs = vec![];
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let name = p.name.as_deref().unwrap_or("");
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(invalid_strs(&format!("{ip}.name"), name, msgs));
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(
                    format!("{ip}.name"),
                    BadValue::Str(name.to_string()),
                ));
            }
        }
        if p.container_port == 0 {
            errs.push(FieldError::required(format!("{ip}.containerPort"), ""));
        } else {
            errs.extend(validate_port_num(
                p.container_port,
                &format!("{ip}.containerPort"),
            ));
        }
        let host_port = p.host_port.unwrap_or(0);
        if host_port != 0 {
            errs.extend(validate_port_num(host_port, &format!("{ip}.hostPort")));
        }
        let proto = port_protocol(p.protocol.as_deref());
        errs.extend(validate_protocol(proto, &format!("{ip}.protocol")));
    }
    errs
}

fn validate_volume_mounts(mounts: &[VolumeMount], volumes: &BTreeSet<String>, path: &str) -> Errs {
    let mut errs = vec![];
    let mut mountpoints = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        if m.name.is_empty() {
            errs.push(FieldError::required(format!("{ip}.name"), ""));
        }
        if !volumes.contains(&m.name) {
            errs.push(not_found(format!("{ip}.name"), &m.name));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(format!("{ip}.mountPath"), ""));
        }
        if !mountpoints.insert(m.mount_path.as_str()) {
            errs.push(invalid_str(
                format!("{ip}.mountPath"),
                &m.mount_path,
                "must be unique",
            ));
        }
    }
    errs
}

/// `validateContainerCommon`.
fn validate_container_common(c: &Container, volumes: &BTreeSet<String>, path: &str) -> Errs {
    let mut errs = vec![];
    if c.name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else {
        errs.extend(validate_dns1123_label(&c.name, &format!("{path}.name")));
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required(format!("{path}.image"), ""));
    }
    let tmp = or_default(c.termination_message_policy.as_deref(), "File");
    errs.extend(validate_supported(
        tmp,
        &["File", "FallbackToLogsOnError"],
        &format!("{path}.terminationMessagePolicy"),
    ));
    errs.extend(validate_container_ports(
        c.ports.as_deref().unwrap_or(&[]),
        &format!("{path}.ports"),
    ));
    for (i, ev) in c.env.iter().flatten().enumerate() {
        let ip = format!("{path}.env[{i}].name");
        if ev.name.is_empty() {
            errs.push(FieldError::required(ip, ""));
        } else if ev
            .name
            .chars()
            .any(|ch| !(' '..='~').contains(&ch) || ch == '=')
        {
            errs.push(invalid_str(ip, &ev.name, RELAXED_ENV_MSG));
        }
    }
    errs.extend(validate_volume_mounts(
        c.volume_mounts.as_deref().unwrap_or(&[]),
        volumes,
        &format!("{path}.volumeMounts"),
    ));
    if let Some(pp) = c.image_pull_policy.as_deref().filter(|p| !p.is_empty()) {
        errs.extend(validate_supported(
            pp,
            &["Always", "IfNotPresent", "Never"],
            &format!("{path}.imagePullPolicy"),
        ));
    }
    errs
}

fn validate_http_get(h: &HTTPGetAction, path: &str) -> Errs {
    let mut errs = validate_port_num_or_name(&h.port, &format!("{path}.port"));
    let scheme = or_default(h.scheme.as_deref(), "HTTP");
    errs.extend(validate_supported(
        scheme,
        &["HTTP", "HTTPS"],
        &format!("{path}.scheme"),
    ));
    for header in h.http_headers.iter().flatten() {
        if header.name.is_empty()
            || !header
                .name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        {
            errs.push(invalid_str(
                format!("{path}.httpHeaders"),
                &header.name,
                regex_error(HTTP_HEADER_MSG, HTTP_HEADER_FMT, &["X-Header-Name"]),
            ));
        }
    }
    errs
}

/// `validateHandler`: exactly one of exec, httpGet, tcpSocket, grpc (and sleep for lifecycle).
fn validate_handler(
    exec: Option<&[String]>,
    http: Option<&HTTPGetAction>,
    tcp: Option<&IntOrString>,
    grpc: Option<i32>,
    sleep: bool,
    path: &str,
) -> Errs {
    let mut errs = vec![];
    let mut n = 0;
    // Counts one more handler type: true for the first, a `Forbidden` error for any other.
    let mut first_handler = |field: &str, errs: &mut Errs| {
        if n > 0 {
            errs.push(FieldError::forbidden(
                format!("{path}.{field}"),
                "may not specify more than 1 handler type",
            ));
            false
        } else {
            n += 1;
            true
        }
    };
    if let Some(command) = exec
        && first_handler("exec", &mut errs)
        && command.is_empty()
    {
        errs.push(FieldError::required(format!("{path}.exec.command"), ""));
    }
    if let Some(h) = http
        && first_handler("httpGet", &mut errs)
    {
        errs.extend(validate_http_get(h, &format!("{path}.httpGet")));
    }
    if let Some(port) = tcp
        && first_handler("tcpSocket", &mut errs)
    {
        errs.extend(validate_port_num_or_name(
            port,
            &format!("{path}.tcpSocket.port"),
        ));
    }
    if let Some(port) = grpc
        && first_handler("grpc", &mut errs)
    {
        errs.extend(validate_port_num(port, &format!("{path}.grpc.port")));
    }
    if sleep {
        first_handler("sleep", &mut errs);
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

fn validate_lifecycle_handler(h: &LifecycleHandler, path: &str) -> Errs {
    let exec = h.exec.as_ref().map(|e| e.command.as_deref().unwrap_or(&[]));
    validate_handler(
        exec,
        h.http_get.as_ref(),
        h.tcp_socket.as_ref().map(|t| &t.port),
        None,
        h.sleep.is_some(),
        path,
    )
}

#[derive(Clone, Copy, PartialEq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn validate_probe(p: Option<&Probe>, kind: ProbeKind, path: &str) -> Errs {
    let Some(p) = p else { return vec![] };
    let exec = p.exec.as_ref().map(|e| e.command.as_deref().unwrap_or(&[]));
    let mut errs = validate_handler(
        exec,
        p.http_get.as_ref(),
        p.tcp_socket.as_ref().map(|t| &t.port),
        p.grpc.as_ref().map(|g| g.port),
        false,
        path,
    );
    for (v, name) in [
        (p.initial_delay_seconds, "initialDelaySeconds"),
        (p.timeout_seconds, "timeoutSeconds"),
        (p.period_seconds, "periodSeconds"),
        (p.success_threshold, "successThreshold"),
        (p.failure_threshold, "failureThreshold"),
    ] {
        errs.extend(nonnegative(v, &format!("{path}.{name}")));
    }
    let tgps_path = format!("{path}.terminationGracePeriodSeconds");
    if let Some(t) = p.termination_grace_period_seconds.filter(|t| *t <= 0) {
        errs.push(invalid_int(tgps_path.clone(), t, "must be greater than 0"));
    }
    match kind {
        ProbeKind::Readiness => {
            if let Some(t) = p.termination_grace_period_seconds {
                errs.push(invalid_int(
                    tgps_path,
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        }
        ProbeKind::Liveness | ProbeKind::Startup => {
            // 0 is defaulted to 1.
            let st = p.success_threshold.filter(|s| *s != 0).unwrap_or(1);
            if st != 1 {
                errs.push(invalid_int(
                    format!("{path}.successThreshold"),
                    st,
                    "must be 1",
                ));
            }
        }
    }
    errs
}

fn validate_container_probes_and_lifecycle(c: &Container, path: &str) -> Errs {
    let mut errs = vec![];
    if let Some(l) = &c.lifecycle {
        if let Some(h) = &l.post_start {
            errs.extend(validate_lifecycle_handler(
                h,
                &format!("{path}.lifecycle.postStart"),
            ));
        }
        if let Some(h) = &l.pre_stop {
            errs.extend(validate_lifecycle_handler(
                h,
                &format!("{path}.lifecycle.preStop"),
            ));
        }
    }
    errs.extend(validate_probe(
        c.liveness_probe.as_ref(),
        ProbeKind::Liveness,
        &format!("{path}.livenessProbe"),
    ));
    errs.extend(validate_probe(
        c.readiness_probe.as_ref(),
        ProbeKind::Readiness,
        &format!("{path}.readinessProbe"),
    ));
    errs.extend(validate_probe(
        c.startup_probe.as_ref(),
        ProbeKind::Startup,
        &format!("{path}.startupProbe"),
    ));
    errs
}

/// `AccumulateUniqueHostPorts`.
fn host_port_conflicts<'a>(
    containers: impl Iterator<Item = (usize, &'a Container)>,
    path: &str,
) -> Errs {
    let mut errs = vec![];
    let mut seen = BTreeSet::new();
    for (ci, c) in containers {
        for (pi, p) in c.ports.iter().flatten().enumerate() {
            let hp = p.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{hp}",
                p.host_ip.as_deref().unwrap_or(""),
                port_protocol(p.protocol.as_deref())
            );
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(
                    format!("{path}[{ci}].ports[{pi}].hostPort"),
                    BadValue::Str(key),
                ));
            }
        }
    }
    errs
}

fn validate_tolerations(tolerations: &[Toleration], path: &str) -> Errs {
    let mut errs = vec![];
    for (i, t) in tolerations.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let key = t.key.as_deref().unwrap_or("");
        let op = t.operator.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        let effect = t.effect.as_deref().unwrap_or("");
        if !key.is_empty() {
            errs.extend(validate_qualified_name(key, &format!("{ip}.key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(invalid_str(format!("{ip}.operator"), op, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(invalid_str(
                format!("{ip}.effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(invalid_str(format!("{ip}.operator"), value, msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(invalid_str(
                        format!("{ip}.operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            _ => errs.push(not_supported_str(
                format!("{ip}.operator"),
                op,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
        {
            errs.push(not_supported_str(
                format!("{ip}.effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errs
}

fn validate_dns_config(spec: &PodSpec, dns_policy: &str, path: &str) -> Errs {
    let mut errs = vec![];
    let config = spec.dns_config.as_ref();
    let nameservers = config.and_then(|c| c.nameservers.as_deref()).unwrap_or(&[]);
    if dns_policy == "None" {
        if config.is_none() {
            return vec![FieldError::required(
                path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )];
        }
        if nameservers.is_empty() {
            return vec![FieldError::required(
                format!("{path}.nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )];
        }
    }
    let Some(config) = config else { return errs };
    if nameservers.len() > 3 {
        errs.push(invalid_go(
            format!("{path}.nameservers"),
            go_string_slice(nameservers),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        errs.extend(validate_ip(ns, &format!("{path}.nameservers[{i}]")));
    }
    let searches = config.searches.as_deref().unwrap_or(&[]);
    if searches.len() > 32 {
        errs.push(invalid_go(
            format!("{path}.searches"),
            go_string_slice(searches),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(invalid_go(
            format!("{path}.searches"),
            go_string_slice(searches),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        // RelaxedDNSSearchValidation (on by default in 1.33): "." and underscores are allowed.
        if search != "." {
            let s = search.strip_suffix('.').unwrap_or(search);
            errs.extend(invalid_strs(
                &format!("{path}.searches[{i}]"),
                s,
                is_dns1123_subdomain_with_underscore(s),
            ));
        }
    }
    for (i, option) in config.options.iter().flatten().enumerate() {
        if option.name.as_deref().unwrap_or("").is_empty() {
            errs.push(FieldError::required(
                format!("{path}.options[{i}]"),
                "must not be empty",
            ));
        }
    }
    errs
}

/// `ValidatePodSpec`. `is_pod` is `opts.ResourceIsPod` (false for templates).
fn validate_pod_spec(spec: &PodSpec, path: &str, is_pod: bool) -> Errs {
    let mut errs = vec![];
    let volumes = validate_volumes(spec.volumes.as_deref().unwrap_or(&[]), path, &mut errs);

    // validateContainers
    let cpath = format!("{path}.containers");
    if spec.containers.is_empty() {
        errs.push(FieldError::required(cpath.clone(), ""));
    } else {
        let mut names = BTreeSet::new();
        for (i, c) in spec.containers.iter().enumerate() {
            let ip = format!("{cpath}[{i}]");
            errs.extend(validate_container_common(c, &volumes, &ip));
            if !names.insert(c.name.as_str()) {
                errs.push(FieldError::duplicate(
                    format!("{ip}.name"),
                    BadValue::Str(c.name.clone()),
                ));
            }
            errs.extend(validate_container_probes_and_lifecycle(c, &ip));
            if c.restart_policy.is_some() {
                errs.push(FieldError::forbidden(
                    format!("{ip}.restartPolicy"),
                    "may not be set for non-init containers",
                ));
            }
        }
        errs.extend(host_port_conflicts(
            spec.containers.iter().enumerate(),
            &cpath,
        ));
    }

    // validateInitContainers
    let ipath = format!("{path}.initContainers");
    let mut all_names: BTreeSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let ip = format!("{ipath}[{i}]");
        errs.extend(validate_container_common(c, &volumes, &ip));
        let mut restart_always = false;
        if let Some(rp) = c.restart_policy.as_deref() {
            if rp != "Always" {
                errs.push(not_supported_str(
                    format!("{ip}.restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
            restart_always = rp == "Always";
        }
        if all_names.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(
                format!("{ip}.name"),
                BadValue::Str(c.name.clone()),
            ));
        } else if !c.name.is_empty() {
            all_names.insert(c.name.as_str());
        }
        // Go checks each init container alone, as a one-element list: the index is always 0.
        errs.extend(host_port_conflicts(std::iter::once((0, c)), &ipath));
        if restart_always {
            errs.extend(validate_container_probes_and_lifecycle(c, &ip));
        } else {
            let msg = "may not be set for init containers without restartPolicy=Always";
            if c.lifecycle.is_some() {
                errs.push(FieldError::forbidden(format!("{ip}.lifecycle"), msg));
            }
            for (probe, name) in [
                (&c.liveness_probe, "livenessProbe"),
                (&c.readiness_probe, "readinessProbe"),
                (&c.startup_probe, "startupProbe"),
            ] {
                if probe.is_some() {
                    errs.push(FieldError::forbidden(format!("{ip}.{name}"), msg));
                }
            }
        }
    }

    // validatePodHostNetworkDeps (a pod's hostPort 0 is defaulted to the containerPort)
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, p) in c.ports.iter().flatten().enumerate() {
                let hp = p.host_port.unwrap_or(0);
                if hp != 0 && hp != p.container_port {
                    errs.push(invalid_int(
                        format!("{cpath}[{i}].ports[{j}].hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }

    let rp = or_default(spec.restart_policy.as_deref(), "Always");
    errs.extend(validate_supported(
        rp,
        &["Always", "OnFailure", "Never"],
        &format!("{path}.restartPolicy"),
    ));
    let dns_policy = or_default(spec.dns_policy.as_deref(), "ClusterFirst");
    errs.extend(validate_supported(
        dns_policy,
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        &format!("{path}.dnsPolicy"),
    ));
    errs.extend(validate_labels(
        spec.node_selector.as_ref(),
        &format!("{path}.nodeSelector"),
    ));
    errs.extend(validate_dns_config(
        spec,
        dns_policy,
        &format!("{path}.dnsConfig"),
    ));
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        errs.extend(validate_qualified_name(
            &g.condition_type,
            &format!("{path}.readinessGates[{i}].conditionType"),
        ));
    }
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        errs.extend(validate_dns1123_subdomain(
            sa,
            &format!("{path}.serviceAccountName"),
        ));
    }
    if let Some(node) = spec.node_name.as_deref().filter(|s| !s.is_empty()) {
        errs.extend(validate_dns1123_subdomain(
            node,
            &format!("{path}.nodeName"),
        ));
    }
    if let Some(ads) = spec
        .active_deadline_seconds
        .filter(|v| *v < 1 || *v > i64::from(i32::MAX))
    {
        errs.push(invalid_int(
            format!("{path}.activeDeadlineSeconds"),
            ads,
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    if let Some(h) = spec.hostname.as_deref().filter(|s| !s.is_empty()) {
        errs.extend(validate_dns1123_label(h, &format!("{path}.hostname")));
    }
    if let Some(s) = spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        errs.extend(validate_dns1123_label(s, &format!("{path}.subdomain")));
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or(&[]),
        &format!("{path}.tolerations"),
    ));
    for (i, ha) in spec.host_aliases.iter().flatten().enumerate() {
        let ip = format!("{path}.hostAliases[{i}]");
        errs.extend(validate_ip(&ha.ip, &format!("{ip}.ip")));
        for (j, h) in ha.hostnames.iter().flatten().enumerate() {
            errs.extend(validate_dns1123_subdomain(
                h,
                &format!("{ip}.hostnames[{j}]"),
            ));
        }
    }

    if is_pod {
        // validateContainersOnlyForPod
        for (list, name) in [
            (&spec.containers[..], "containers"),
            (
                spec.init_containers.as_deref().unwrap_or(&[]),
                "initContainers",
            ),
        ] {
            for (i, c) in list.iter().enumerate() {
                let image = c.image.as_deref().unwrap_or("");
                if image.len() != image.trim().len() {
                    errs.push(invalid_str(
                        format!("{path}.{name}[{i}].image"),
                        image,
                        "must not have leading or trailing whitespace",
                    ));
                }
            }
        }
    }
    errs
}

/// `ValidatePodTemplateSpec`: note the labels path has no `metadata` in it.
fn validate_pod_template_spec(t: &PodTemplateSpec, path: &str) -> Errs {
    let meta = t.metadata.as_ref();
    let mut errs = validate_labels(
        meta.and_then(|m| m.labels.as_ref()),
        &format!("{path}.labels"),
    );
    errs.extend(validate_annotations(
        meta.and_then(|m| m.annotations.as_ref()),
        &format!("{path}.annotations"),
    ));
    let owned = PodSpec::default();
    errs.extend(validate_pod_spec(
        t.spec.as_ref().unwrap_or(&owned),
        &format!("{path}.spec"),
        false,
    ));
    errs
}

// ---------------------------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------------------------

fn validate_pod(p: &Pod) -> Errs {
    let mut errs = validate_object_meta(&p.metadata, true, NameRule::Dns1123Subdomain);
    let owned = PodSpec::default();
    errs.extend(validate_pod_spec(
        p.spec.as_ref().unwrap_or(&owned),
        "spec",
        true,
    ));
    errs
}

fn validate_pod_create(p: &Pod) -> Errs {
    let mut errs = validate_pod(p);
    if p.spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.as_ref())
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    errs
}

/// Drops nulls, empty lists and empty maps, so `None` and `Some(empty)` compare equal (as
/// `apiequality.Semantic.DeepEqual` treats nil and empty).
fn prune(v: serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value;
    match v {
        Value::Null => None,
        Value::Array(a) => {
            let items: Vec<Value> = a
                .into_iter()
                .map(|x| prune(x).unwrap_or(Value::Null))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(m) => {
            let map: serde_json::Map<String, Value> = m
                .into_iter()
                .filter_map(|(k, x)| prune(x).map(|x| (k, x)))
                .collect();
            (!map.is_empty()).then_some(Value::Object(map))
        }
        other => Some(other),
    }
}

fn specs_equal(a: &PodSpec, b: &PodSpec) -> bool {
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(x), Ok(y)) => prune(x) == prune(y),
        _ => a == b,
    }
}

fn tolerations_equal_ignoring_seconds(old: &Toleration, new: &Toleration) -> bool {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    s(&old.key) == s(&new.key)
        && s(&old.operator) == s(&new.operator)
        && s(&old.value) == s(&new.value)
        && s(&old.effect) == s(&new.effect)
}

/// `ValidatePodUpdate`.
fn validate_pod_update(new: &Pod, old: &Pod) -> Errs {
    let mut errs = validate_meta_update(&new.metadata);
    errs.extend(validate_pod(new));
    let owned_new = PodSpec::default();
    let owned_old = PodSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&owned_new);
    let old_spec = old.spec.as_ref().unwrap_or(&owned_old);

    // ValidateContainerUpdates
    let new_init = spec.init_containers.as_deref().unwrap_or(&[]);
    let old_init = old_spec.init_containers.as_deref().unwrap_or(&[]);
    for (new_list, old_list, name) in [
        (&spec.containers[..], &old_spec.containers[..], "containers"),
        (new_init, old_init, "initContainers"),
    ] {
        if new_list.len() != old_list.len() {
            errs.push(FieldError::forbidden(
                format!("spec.{name}"),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in new_list.iter().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.is_empty() {
                errs.push(FieldError::required(format!("spec.{name}[{i}].image"), ""));
            }
            if image.trim().len() != image.len() {
                errs.push(invalid_str(
                    format!("spec.{name}[{i}].image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }

    // activeDeadlineSeconds: nil → positive, or positive → lesser non-negative.
    match (
        spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(n), _) if n < 0 || n > i64::from(i32::MAX) => {
            errs.push(invalid_int(
                "spec.activeDeadlineSeconds",
                n,
                "must be between 0 and 2147483647, inclusive",
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(invalid_int(
                "spec.activeDeadlineSeconds",
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            opt_str_value(None),
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }

    // validateOnlyAddedTolerations
    let new_tol = spec.tolerations.as_deref().unwrap_or(&[]);
    let old_tol = old_spec.tolerations.as_deref().unwrap_or(&[]);
    if old_tol.iter().all(|o| {
        new_tol
            .iter()
            .any(|n| tolerations_equal_ignoring_seconds(o, n))
    }) {
        errs.extend(validate_tolerations(new_tol, "spec.tolerations"));
    } else {
        errs.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }

    // Munge the updatable fields, then any other difference is forbidden.
    let mut munged = spec.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old_spec.containers) {
        c.image = o.image.clone();
    }
    for (c, o) in munged.init_containers.iter_mut().flatten().zip(old_init) {
        c.image = o.image.clone();
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.scheduling_gates = old_spec.scheduling_gates.clone();
    munged.tolerations = old_spec.tolerations.clone();
    if old_spec
        .termination_grace_period_seconds
        .is_some_and(|t| t < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    // The simulator replaces objects on apply (kubectl patches them): a manifest without
    // nodeName keeps the scheduler's choice instead of being read as a change.
    if munged.node_name.as_deref().unwrap_or("").is_empty() {
        munged.node_name = old_spec.node_name.clone();
    }
    if !specs_equal(&munged, old_spec) {
        errs.push(FieldError::forbidden("spec", POD_UPDATE_MSG));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Deployment and ReplicaSet (apps validation)
// ---------------------------------------------------------------------------------------------

/// `ValidateLabelSelector` (strict: label values are checked).
fn validate_label_selector(sel: &LabelSelector, path: &str) -> Errs {
    let mut errs = validate_labels(sel.match_labels.as_ref(), &format!("{path}.matchLabels"));
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let ip = format!("{path}.matchExpressions[{i}]");
        let values = e.values.as_deref().unwrap_or(&[]);
        match e.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        format!("{ip}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        format!("{ip}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(invalid_str(
                format!("{ip}.operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_qualified_name(&e.key, &format!("{ip}.key")));
        for (vi, v) in values.iter().enumerate() {
            errs.extend(invalid_strs(
                &format!("{ip}.values[{vi}]"),
                v,
                is_valid_label_value(v),
            ));
        }
    }
    errs
}

/// A selector with neither field set is read as a missing (nil) selector: k8s-openapi cannot
/// tell `selector: {}` from no selector, and a forgotten selector is the common mistake.
fn selector_is_nil(sel: &LabelSelector) -> bool {
    sel.match_labels.is_none() && sel.match_expressions.is_none()
}

fn selector_len(sel: &LabelSelector) -> usize {
    sel.match_labels.as_ref().map_or(0, BTreeMap::len)
        + sel.match_expressions.as_ref().map_or(0, Vec::len)
}

/// `Semantic.DeepEqual` of two selectors (nil and empty are equal).
fn selectors_equal(a: &LabelSelector, b: &LabelSelector) -> bool {
    let labels = |s: &LabelSelector| s.match_labels.clone().unwrap_or_default();
    let exprs = |s: &LabelSelector| -> Vec<(String, String, Vec<String>)> {
        s.match_expressions
            .iter()
            .flatten()
            .map(|e| {
                (
                    e.key.clone(),
                    e.operator.clone(),
                    e.values.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    labels(a) == labels(b) && exprs(a) == exprs(b)
}

/// The selector part of `ValidateDeploymentSpec` / `ValidateReplicaSetSpec`, then
/// `ValidatePodTemplateSpecForReplicaSet`.
fn validate_selector_and_template(sel: &LabelSelector, template: &PodTemplateSpec) -> Errs {
    let mut errs = vec![];
    let nil = selector_is_nil(sel);
    let mut parses = true;
    if nil {
        errs.push(FieldError::required("spec.selector", ""));
    } else {
        let sel_errs = validate_label_selector(sel, "spec.selector");
        parses = sel_errs.is_empty();
        errs.extend(sel_errs);
        if selector_len(sel) == 0 {
            errs.push(invalid_go(
                "spec.selector",
                go_label_selector(sel),
                "empty selector is invalid for deployment",
            ));
        }
    }
    // metav1.LabelSelectorAsSelector fails exactly when the selector itself is invalid.
    if !parses {
        errs.push(invalid_go(
            "spec.selector",
            go_label_selector(sel),
            "invalid label selector",
        ));
        return errs;
    }
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    // A nil selector selects nothing; an empty one everything (and is not compared).
    let empty = !nil && selector_len(sel) == 0;
    if !empty && !selector_matches((!nil).then_some(sel), labels) {
        errs.push(invalid_go(
            "spec.template.metadata.labels",
            go_opt_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_pod_template_spec(template, "spec.template"));
    let spec = template.spec.as_ref();
    let rp = or_default(spec.and_then(|s| s.restart_policy.as_deref()), "Always");
    if rp != "Always" {
        errs.push(not_supported_str(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if spec.and_then(|s| s.active_deadline_seconds).is_some() {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}

/// `ValidatePositiveIntOrPercent`.
fn validate_int_or_percent(v: &IntOrString, path: &str) -> Errs {
    match v {
        IntOrString::String(s) if !is_valid_percent(s) => {
            vec![invalid_go(
                path,
                go_int_or_string(v),
                regex_error(PERCENT_MSG, PERCENT_FMT, &["1%", "93%"]),
            )]
        }
        IntOrString::String(_) => vec![],
        IntOrString::Int(i) => nonnegative(Some(*i), path).into_iter().collect(),
    }
}

/// `getIntOrPercentValue`: a percent's number, an int, or `strconv.Atoi` of anything else.
fn int_or_percent_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(s) => s
            .strip_suffix('%')
            .filter(|_| is_valid_percent(s))
            .unwrap_or(s)
            .parse()
            .unwrap_or(0),
    }
}

fn validate_deployment_strategy(strategy: Option<&DeploymentStrategy>) -> Errs {
    let mut errs = vec![];
    let owned = DeploymentStrategy::default();
    let strategy = strategy.unwrap_or(&owned);
    let path = "spec.strategy";
    match or_default(strategy.type_.as_deref(), "RollingUpdate") {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    format!("{path}.rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = strategy.rolling_update.clone().unwrap_or_default();
            let pct = |s: &str| IntOrString::String(s.to_string());
            let max_unavailable = ru.max_unavailable.unwrap_or_else(|| pct("25%"));
            let max_surge = ru.max_surge.unwrap_or_else(|| pct("25%"));
            let mu_path = format!("{path}.rollingUpdate.maxUnavailable");
            errs.extend(validate_int_or_percent(&max_unavailable, &mu_path));
            errs.extend(validate_int_or_percent(
                &max_surge,
                &format!("{path}.rollingUpdate.maxSurge"),
            ));
            if int_or_percent_value(&max_unavailable) == 0 && int_or_percent_value(&max_surge) == 0
            {
                errs.push(invalid_go(
                    mu_path.clone(),
                    go_int_or_string(&max_unavailable),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
            if matches!(&max_unavailable, IntOrString::String(s) if is_valid_percent(s))
                && int_or_percent_value(&max_unavailable) > 100
            {
                errs.push(invalid_go(
                    mu_path,
                    go_int_or_string(&max_unavailable),
                    "must not be greater than 100%",
                ));
            }
        }
        _ => errs.push(FieldError::not_supported(
            path,
            BadValue::Go(go_deployment_strategy(strategy)),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs
}

/// The registry's rule that an update keeps `spec.selector` (`old` is the stored selector).
fn selector_unchanged(new: &LabelSelector, old: Option<&LabelSelector>) -> Option<FieldError> {
    old.filter(|old| !selectors_equal(new, old))
        .map(|_| invalid_go("spec.selector", go_label_selector(new), IMMUTABLE_MSG))
}

/// What a Deployment and a ReplicaSet check first: the metadata, then `spec.replicas`
/// (defaulted to 1).
fn validate_workload_meta(meta: &ObjectMeta, replicas: Option<i32>) -> Errs {
    let mut errs = validate_object_meta(meta, true, NameRule::Dns1123Subdomain);
    errs.extend(nonnegative(Some(replicas.unwrap_or(1)), "spec.replicas"));
    errs
}

/// `ValidateDeployment` / `ValidateDeploymentUpdate` plus the registry's selector immutability.
fn validate_deployment(d: &Deployment, old: Option<&Deployment>) -> Errs {
    let owned = Default::default();
    let spec = d.spec.as_ref().unwrap_or(&owned);
    let mut errs = validate_workload_meta(&d.metadata, spec.replicas);
    errs.extend(validate_selector_and_template(
        &spec.selector,
        &spec.template,
    ));
    errs.extend(validate_deployment_strategy(spec.strategy.as_ref()));
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    errs.extend(nonnegative(Some(min_ready), "spec.minReadySeconds"));
    errs.extend(nonnegative(
        spec.revision_history_limit,
        "spec.revisionHistoryLimit",
    ));
    let pds = spec.progress_deadline_seconds.unwrap_or(600);
    errs.extend(nonnegative(Some(pds), "spec.progressDeadlineSeconds"));
    if pds <= min_ready {
        errs.push(invalid_int(
            "spec.progressDeadlineSeconds",
            pds,
            "must be greater than minReadySeconds",
        ));
    }
    errs.extend(selector_unchanged(
        &spec.selector,
        old.and_then(|o| o.spec.as_ref()).map(|s| &s.selector),
    ));
    errs
}

/// `ValidateReplicaSet` / `ValidateReplicaSetUpdate` plus the registry's selector immutability.
fn validate_replica_set(r: &ReplicaSet, old: Option<&ReplicaSet>) -> Errs {
    let owned = Default::default();
    let spec = r.spec.as_ref().unwrap_or(&owned);
    let mut errs = validate_workload_meta(&r.metadata, spec.replicas);
    errs.extend(nonnegative(spec.min_ready_seconds, "spec.minReadySeconds"));
    let owned_template = PodTemplateSpec::default();
    errs.extend(validate_selector_and_template(
        &spec.selector,
        spec.template.as_ref().unwrap_or(&owned_template),
    ));
    errs.extend(selector_unchanged(
        &spec.selector,
        old.and_then(|o| o.spec.as_ref()).map(|s| &s.selector),
    ));
    errs
}

// ---------------------------------------------------------------------------------------------
// StatefulSet (`ValidateStatefulSet`, `ValidateStatefulSetSpec`, `ValidateStatefulSetUpdate`)
// ---------------------------------------------------------------------------------------------

const STATEFULSET_UPDATE_MSG: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// `%#v` of the internal `apps.StatefulSetUpdateStrategy` (`maxUnavailable` is always nil here:
/// its feature gate is off in 1.33, so the registry drops it before validation).
fn go_stateful_set_update_strategy(s: &StatefulSetUpdateStrategy) -> String {
    // A non-nil pointer prints as an address; any plausible one will do.
    let ru = if s.rolling_update.is_some() {
        "(*apps.RollingUpdateStatefulSetStrategy)(0xc000a1c2e0)"
    } else {
        "(*apps.RollingUpdateStatefulSetStrategy)(nil)"
    };
    format!(
        "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{ru}}}",
        go_quote(s.type_.as_deref().unwrap_or(""))
    )
}

/// `ValidateStatefulSetSpec`. On create it sees the object before defaulting, so unset fields
/// are read through `SetDefaults_StatefulSet`'s values (after an update they are already set).
fn validate_stateful_set_spec(spec: &StatefulSetSpec) -> Errs {
    let mut errs = vec![];
    let policy = or_default(spec.pod_management_policy.as_deref(), "OrderedReady");
    if !matches!(policy, "OrderedReady" | "Parallel") {
        errs.push(invalid_str(
            "spec.podManagementPolicy",
            policy,
            "must be 'OrderedReady' or 'Parallel'",
        ));
    }
    let owned = StatefulSetUpdateStrategy::default();
    let strategy = spec.update_strategy.as_ref().unwrap_or(&owned);
    match or_default(strategy.type_.as_deref(), "RollingUpdate") {
        "OnDelete" => {
            if let Some(ru) = &strategy.rolling_update {
                errs.push(invalid_go(
                    "spec.updateStrategy.rollingUpdate",
                    format!(
                        "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:(*intstr.IntOrString)(nil)}}",
                        ru.partition.unwrap_or(0)
                    ),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            let partition = strategy.rolling_update.as_ref().and_then(|r| r.partition);
            errs.extend(nonnegative(
                partition,
                "spec.updateStrategy.rollingUpdate.partition",
            ));
        }
        _ => errs.push(invalid_go(
            "spec.updateStrategy",
            go_stateful_set_update_strategy(strategy),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(p) = &spec.persistent_volume_claim_retention_policy {
        for (value, path) in [
            (&p.when_deleted, "whenDeleted"),
            (&p.when_scaled, "whenScaled"),
        ] {
            let v = or_default(value.as_deref(), "Retain");
            if !matches!(v, "Retain" | "Delete") {
                errs.push(not_supported_str(
                    format!("spec.persistentVolumeClaimRetentionPolicy.{path}"),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errs.extend(nonnegative(
        Some(spec.replicas.unwrap_or(1)),
        "spec.replicas",
    ));
    errs.extend(nonnegative(spec.min_ready_seconds, "spec.minReadySeconds"));
    errs.extend(nonnegative(
        spec.revision_history_limit,
        "spec.revisionHistoryLimit",
    ));
    errs.extend(nonnegative(
        spec.ordinals.as_ref().and_then(|o| o.start),
        "spec.ordinals.start",
    ));

    let sel = &spec.selector;
    let nil = selector_is_nil(sel);
    let mut parses = true;
    if nil {
        errs.push(FieldError::required("spec.selector", ""));
    } else {
        let sel_errs = validate_label_selector(sel, "spec.selector");
        parses = sel_errs.is_empty();
        errs.extend(sel_errs);
        if selector_len(sel) == 0 {
            errs.push(invalid_go(
                "spec.selector",
                go_label_selector(sel),
                "empty selector is invalid for statefulset",
            ));
        }
    }
    let template = &spec.template;
    let meta = template.metadata.as_ref();
    if !parses {
        errs.push(invalid_go("spec.selector", go_label_selector(sel), ""));
    } else {
        // `ValidatePodTemplateSpecForStatefulSet`: upstream leaves the pod spec itself to the
        // pod's own validation when the controller creates it (a bad one shows as FailedCreate).
        let labels = meta.and_then(|m| m.labels.as_ref());
        let empty = !nil && selector_len(sel) == 0;
        if !empty && !selector_matches((!nil).then_some(sel), labels) {
            errs.push(invalid_go(
                "spec.template.metadata.labels",
                go_opt_string_map(labels),
                "`selector` does not match template `labels`",
            ));
        }
        errs.extend(validate_labels(labels, "spec.template.labels"));
        errs.extend(validate_annotations(
            meta.and_then(|m| m.annotations.as_ref()),
            "spec.template.annotations",
        ));
    }
    let pod_spec = template.spec.as_ref();
    let rp = or_default(pod_spec.and_then(|s| s.restart_policy.as_deref()), "Always");
    if rp != "Always" {
        errs.push(not_supported_str(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if pod_spec.and_then(|s| s.active_deadline_seconds).is_some() {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    errs
}

/// `ValidateStatefulSet`: since 1.31 the name must be a DNS-1123 label (it becomes each pod's
/// hostname).
fn validate_stateful_set(s: &StatefulSet) -> Errs {
    let owned = StatefulSetSpec::default();
    let mut errs = validate_object_meta(&s.metadata, true, NameRule::Dns1123Label);
    errs.extend(validate_stateful_set_spec(
        s.spec.as_ref().unwrap_or(&owned),
    ));
    errs
}

/// `ValidateStatefulSetUpdate`: the name is not checked again; only the listed spec fields may
/// change (`serviceName`, `selector`, `podManagementPolicy`, `volumeClaimTemplates` may not).
fn validate_stateful_set_update(new: &StatefulSet, old: &StatefulSet) -> Errs {
    let owned = StatefulSetSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&owned);
    let old_spec = old.spec.as_ref().unwrap_or(&owned);
    let mut errs = validate_meta_update(&new.metadata);
    errs.extend(validate_stateful_set_spec(spec));
    let mut clone = spec.clone();
    clone.replicas = old_spec.replicas;
    clone.template = old_spec.template.clone();
    clone.update_strategy = old_spec.update_strategy.clone();
    clone.min_ready_seconds = old_spec.min_ready_seconds;
    clone.ordinals = old_spec.ordinals.clone();
    clone.revision_history_limit = old_spec.revision_history_limit;
    clone.persistent_volume_claim_retention_policy =
        old_spec.persistent_volume_claim_retention_policy.clone();
    let same = match (serde_json::to_value(&clone), serde_json::to_value(old_spec)) {
        (Ok(a), Ok(b)) => prune(a) == prune(b),
        _ => clone == *old_spec,
    };
    if !same {
        errs.push(FieldError::forbidden("spec", STATEFULSET_UPDATE_MSG));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// ConfigMap, Endpoints, EndpointSlice
// ---------------------------------------------------------------------------------------------

fn validate_config_map(c: &ConfigMap) -> Errs {
    let mut errs = validate_object_meta(&c.metadata, true, NameRule::Dns1123Subdomain);
    let mut total = 0usize;
    for (k, v) in c.data.iter().flatten() {
        errs.extend(invalid_strs(&format!("data[{k}]"), k, is_config_map_key(k)));
        if c.binary_data.as_ref().is_some_and(|b| b.contains_key(k)) {
            errs.push(invalid_str(
                format!("data[{k}]"),
                k,
                "duplicate of key present in binaryData",
            ));
        }
        total = total.saturating_add(v.len());
    }
    for (k, v) in c.binary_data.iter().flatten() {
        errs.extend(invalid_strs(
            &format!("binaryData[{k}]"),
            k,
            is_config_map_key(k),
        ));
        total = total.saturating_add(v.0.len());
    }
    if total > 1024 * 1024 {
        errs.push(FieldError::too_long("", 1024 * 1024));
    }
    errs
}

fn validate_config_map_update(new: &ConfigMap, old: &ConfigMap) -> Errs {
    let mut errs = validate_meta_update(&new.metadata);
    if old.immutable == Some(true) {
        let msg = "field is immutable when `immutable` is set";
        if new.immutable != Some(true) {
            errs.push(FieldError::forbidden("immutable", msg));
        }
        if new.data.clone().unwrap_or_default() != old.data.clone().unwrap_or_default() {
            errs.push(FieldError::forbidden("data", msg));
        }
        if new.binary_data.clone().unwrap_or_default()
            != old.binary_data.clone().unwrap_or_default()
        {
            errs.push(FieldError::forbidden("binaryData", msg));
        }
    }
    errs.extend(validate_config_map(new));
    errs
}

fn validate_endpoint_address(a: &EndpointAddress, path: &str) -> Errs {
    let ip_path = format!("{path}.ip");
    let mut errs = validate_ip(&a.ip, &ip_path);
    if let Some(h) = a.hostname.as_deref().filter(|h| !h.is_empty()) {
        errs.extend(validate_dns1123_label(h, &format!("{path}.hostname")));
    }
    if let Some(node) = a.node_name.as_deref() {
        errs.extend(validate_dns1123_subdomain(
            node,
            &format!("{path}.nodeName"),
        ));
    }
    errs.extend(validate_non_special_ip(&a.ip, &ip_path));
    errs
}

fn validate_endpoint_port(p: &EndpointPort, require_name: bool, path: &str) -> Errs {
    let mut errs = vec![];
    let name = p.name.as_deref().unwrap_or("");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else if !name.is_empty() {
        errs.extend(validate_dns1123_label(name, &format!("{path}.name")));
    }
    errs.extend(validate_port_num(p.port, &format!("{path}.port")));
    let proto = port_protocol(p.protocol.as_deref());
    errs.extend(validate_protocol(proto, &format!("{path}.protocol")));
    if let Some(ap) = &p.app_protocol {
        errs.extend(validate_qualified_name(ap, &format!("{path}.appProtocol")));
    }
    errs
}

fn validate_endpoints(e: &Endpoints) -> Errs {
    let mut errs = validate_object_meta(&e.metadata, true, NameRule::Dns1123Subdomain);
    for (i, ss) in e.subsets.iter().flatten().enumerate() {
        let path = format!("subsets[{i}]");
        let addresses = ss.addresses.as_deref().unwrap_or(&[]);
        let not_ready = ss.not_ready_addresses.as_deref().unwrap_or(&[]);
        if addresses.is_empty() && not_ready.is_empty() {
            errs.push(FieldError::required(
                path.clone(),
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (j, a) in addresses.iter().enumerate() {
            errs.extend(validate_endpoint_address(
                a,
                &format!("{path}.addresses[{j}]"),
            ));
        }
        for (j, a) in not_ready.iter().enumerate() {
            errs.extend(validate_endpoint_address(
                a,
                &format!("{path}.notReadyAddresses[{j}]"),
            ));
        }
        let ports = ss.ports.as_deref().unwrap_or(&[]);
        for (j, p) in ports.iter().enumerate() {
            errs.extend(validate_endpoint_port(
                p,
                ports.len() > 1,
                &format!("{path}.ports[{j}]"),
            ));
        }
    }
    errs
}

/// `IsFullyQualifiedDomainName` (EndpointSlice addresses of type FQDN).
fn validate_fqdn(name: &str, path: &str) -> Errs {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let msgs = is_dns1123_subdomain(name);
    if !msgs.is_empty() {
        return vec![invalid_str(path, name, msgs.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![invalid_str(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let msgs = is_dns1123_label(label);
        if !msgs.is_empty() {
            return vec![invalid_str(path, label, msgs.join(","))];
        }
    }
    vec![]
}

fn validate_endpoint_slice(s: &EndpointSlice) -> Errs {
    let mut errs = validate_object_meta(&s.metadata, true, NameRule::Dns1123Subdomain);
    let address_type = s.address_type.as_str();
    if address_type.is_empty() {
        errs.push(FieldError::required("addressType", ""));
    } else if !["FQDN", "IPv4", "IPv6"].contains(&address_type) {
        errs.push(not_supported_str(
            "addressType",
            address_type,
            &["FQDN", "IPv4", "IPv6"],
        ));
    }

    if s.endpoints.len() > 1000 {
        errs.push(too_many("endpoints", s.endpoints.len(), 1000));
    } else {
        for (i, ep) in s.endpoints.iter().enumerate() {
            let path = format!("endpoints[{i}]");
            let apath = format!("{path}.addresses");
            if ep.addresses.is_empty() {
                errs.push(FieldError::required(
                    apath.clone(),
                    "must contain at least 1 address",
                ));
            } else if ep.addresses.len() > 100 {
                errs.push(too_many(apath.clone(), ep.addresses.len(), 100));
            }
            for (j, a) in ep.addresses.iter().enumerate() {
                let p = format!("{apath}[{j}]");
                let parsed = parse_ip_sloppy(a);
                match address_type {
                    "IPv4" => {
                        if parsed.and_then(to4).is_none() {
                            errs.push(invalid_str(p.clone(), a, "must be a valid IPv4 address"));
                        }
                        errs.extend(validate_non_special_ip(a, &p));
                    }
                    "IPv6" => {
                        if parsed.is_none_or(|ip| to4(ip).is_some()) {
                            errs.push(invalid_str(p.clone(), a, "must be a valid IPv6 address"));
                        }
                        errs.extend(validate_non_special_ip(a, &p));
                    }
                    "FQDN" => errs.extend(validate_fqdn(a, &p)),
                    _ => {}
                }
            }
            if let Some(node) = ep.node_name.as_deref() {
                errs.extend(validate_dns1123_subdomain(
                    node,
                    &format!("{path}.nodeName"),
                ));
            }
            let topology = ep.deprecated_topology.as_ref();
            if topology.is_some_and(|t| t.len() > 16) {
                errs.push(too_many(
                    format!("{path}.deprecatedTopology"),
                    topology.map_or(0, BTreeMap::len),
                    16,
                ));
            }
            errs.extend(validate_labels(
                topology,
                &format!("{path}.deprecatedTopology"),
            ));
            if let Some(h) = ep.hostname.as_deref() {
                errs.extend(validate_dns1123_label(h, &format!("{path}.hostname")));
            }
        }
    }

    let ports = s.ports.as_deref().unwrap_or(&[]);
    if ports.len() > 20000 {
        errs.push(too_many("ports", ports.len(), 20000));
        return errs;
    }
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("ports[{i}]");
        // A nil name is defaulted to "" (so two unnamed ports are duplicates); a nil protocol to TCP.
        let name = p.name.as_deref().unwrap_or("");
        if !name.is_empty() {
            errs.extend(validate_dns1123_label(name, &format!("{path}.name")));
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(
                format!("{path}.name"),
                BadValue::Str(name.to_string()),
            ));
        }
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        errs.extend(validate_protocol(proto, &format!("{path}.protocol")));
        if let Some(ap) = &p.app_protocol {
            errs.extend(validate_qualified_name(ap, &format!("{path}.appProtocol")));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::decode_object;
    use serde_json::{Value, json};

    /// Decodes a manifest; namespaced kinds get `default` as the cluster would give them.
    fn obj(mut v: Value) -> Object {
        let o = decode_object(v.clone()).expect("test manifest decodes");
        if o.kind().namespaced() && o.meta().namespace.is_none() {
            v["metadata"]["namespace"] = json!("default");
            return decode_object(v).expect("test manifest decodes");
        }
        o
    }

    fn create(v: Value) -> Vec<String> {
        validate_create(&obj(v))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn update(new: Value, old: Value) -> Vec<String> {
        validate_update(&obj(new), &obj(old))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn svc(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
    }

    fn web_svc(spec_extra: Value) -> Value {
        let mut spec = json!({"selector": {"app": "web"}, "ports": [{"port": 80}]});
        if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
            for (k, v) in extra {
                s.insert(k.clone(), v.clone());
            }
        }
        svc("web", spec)
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    fn deploy(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec})
    }

    fn template(labels: Value, spec: Value) -> Value {
        json!({"metadata": {"labels": labels}, "spec": spec})
    }

    fn nginx() -> Value {
        json!({"containers": [{"name": "nginx", "image": "nginx"}]})
    }

    fn good_deploy_spec() -> Value {
        json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web"}), nginx())})
    }

    const LABEL_RE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const SUBDOMAIN_RE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const DNS1035_RE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

    // ----- valid objects -----

    #[test]
    fn valid_objects_pass() {
        assert!(create(web_svc(json!({}))).is_empty());
        assert!(create(deploy(good_deploy_spec())).is_empty());
        assert!(create(pod(nginx())).is_empty());
        assert!(
            create(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
            )
            .is_empty()
        );
        assert!(
            create(svc(
                "db",
                json!({"clusterIP": "None", "selector": {"app": "db"}})
            ))
            .is_empty()
        );
        assert!(
            create(svc(
                "ext",
                json!({"type": "ExternalName", "externalName": "www.example.com."})
            ))
            .is_empty()
        );
    }

    // ----- metadata -----

    #[test]
    fn name_required() {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        assert_eq!(
            create(v),
            ["metadata.name: Required value: name or generateName is required"]
        );
    }

    #[test]
    fn service_name_is_dns1035_label() {
        assert_eq!(
            create(svc("1web", json!({"ports": [{"port": 80}]}))),
            [format!(
                "metadata.name: Invalid value: \"1web\": {DNS1035_RE}"
            )]
        );
    }

    #[test]
    fn max_length_comes_before_regex() {
        let name = format!("A{}", "b".repeat(63));
        assert_eq!(
            create(svc(&name, json!({"ports": [{"port": 80}]}))),
            [
                format!(
                    "metadata.name: Invalid value: \"{name}\": must be no more than 63 characters"
                ),
                format!("metadata.name: Invalid value: \"{name}\": {DNS1035_RE}")
            ]
        );
    }

    #[test]
    fn pod_name_is_subdomain() {
        let mut v = pod(nginx());
        v["metadata"]["name"] = json!("My_Pod");
        assert_eq!(
            create(v),
            [format!(
                "metadata.name: Invalid value: \"My_Pod\": {SUBDOMAIN_RE}"
            )]
        );
    }

    #[test]
    fn namespace_name_is_dns1123_label() {
        let ns =
            |n: &str| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}});
        assert_eq!(
            create(ns("team.a")),
            ["metadata.name: Invalid value: \"team.a\": must not contain dots"]
        );
        assert_eq!(
            create(ns("Team")),
            [format!(
                "metadata.name: Invalid value: \"Team\": {LABEL_RE}"
            )]
        );
    }

    #[test]
    fn label_values_and_keys() {
        let mut v = web_svc(json!({}));
        v["metadata"]["labels"] = json!({"app": "web server", "-bad": "x", "example.com/": "y"});
        assert_eq!(
            create(v),
            [
                "metadata.labels: Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "metadata.labels: Invalid value: \"web server\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "metadata.labels: Invalid value: \"example.com/\": name part must be non-empty",
                "metadata.labels: Invalid value: \"example.com/\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ]
        );
    }

    #[test]
    fn label_value_too_long() {
        let mut v = web_svc(json!({}));
        let long = "a".repeat(64);
        v["metadata"]["labels"] = json!({"app": long});
        assert_eq!(
            create(v),
            [format!(
                "metadata.labels: Invalid value: \"{long}\": must be no more than 63 characters"
            )]
        );
    }

    #[test]
    fn generate_name_masks_trailing_dash() {
        assert_eq!(mask_trailing_dash("web-"), "wea");
        assert_eq!(mask_trailing_dash("é-"), "\u{FFFD}a");
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "Web-", "name": "web-x7k2p"}});
        assert_eq!(
            create(v),
            [format!(
                "metadata.generateName: Invalid value: \"Web-\": {SUBDOMAIN_RE}"
            )]
        );
    }

    // ----- Service -----

    #[test]
    fn service_ports_required() {
        assert_eq!(
            create(svc("web", json!({"selector": {"app": "web"}}))),
            ["spec.ports: Required value"]
        );
    }

    #[test]
    fn service_port_names_required_when_several() {
        assert_eq!(
            create(svc("web", json!({"ports": [{"port": 80}, {"port": 443}]}))),
            [
                "spec.ports[0].name: Required value",
                "spec.ports[1].name: Required value"
            ]
        );
    }

    #[test]
    fn service_port_name_is_dns1123_label() {
        assert_eq!(
            create(svc(
                "web",
                json!({"ports": [{"name": "Web_1", "port": 80}]})
            )),
            [format!(
                "spec.ports[0].name: Invalid value: \"Web_1\": {LABEL_RE}"
            )]
        );
    }

    #[test]
    fn service_port_names_unique() {
        assert_eq!(
            create(svc(
                "web",
                json!({"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 8080}]})
            )),
            ["spec.ports[1].name: Duplicate value: \"http\""]
        );
    }

    #[test]
    fn service_port_range_and_defaulted_target_port() {
        assert_eq!(
            create(svc("web", json!({"ports": [{"port": 0}]}))),
            [
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"
            ]
        );
    }

    #[test]
    fn service_protocol_supported() {
        assert_eq!(
            create(svc(
                "web",
                json!({"ports": [{"port": 80, "protocol": "HTTP"}]})
            )),
            [
                "spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
            ]
        );
    }

    #[test]
    fn service_target_port_int_and_name() {
        assert_eq!(
            create(svc(
                "web",
                json!({"ports": [{"port": 80, "targetPort": 70000}]})
            )),
            [
                "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
            ]
        );
        assert_eq!(
            create(svc(
                "web",
                json!({"ports": [{"port": 80, "targetPort": "Bad_Name"}]})
            )),
            [
                "spec.ports[0].targetPort: Invalid value: \"Bad_Name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
            ]
        );
        assert_eq!(
            create(svc(
                "web",
                json!({"ports": [{"port": 80, "targetPort": "-8080--http-long-"}]})
            )),
            [
                "spec.ports[0].targetPort: Invalid value: \"-8080--http-long-\": must be no more than 15 characters",
                "spec.ports[0].targetPort: Invalid value: \"-8080--http-long-\": must not contain consecutive hyphens",
                "spec.ports[0].targetPort: Invalid value: \"-8080--http-long-\": must not begin or end with a hyphen"
            ]
        );
        assert_eq!(
            create(svc(
                "web",
                json!({"ports": [{"port": 80, "targetPort": "8080"}]})
            )),
            [
                "spec.ports[0].targetPort: Invalid value: \"8080\": must contain at least one letter (a-z)"
            ]
        );
    }

    #[test]
    fn service_session_affinity() {
        assert_eq!(
            create(web_svc(json!({"sessionAffinity": "Sticky"}))),
            [
                "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""
            ]
        );
        assert_eq!(
            create(web_svc(
                json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}})
            )),
            [
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"
            ]
        );
    }

    #[test]
    fn service_type_supported() {
        assert_eq!(
            create(web_svc(json!({"type": "Foo"}))),
            [
                "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
            ]
        );
    }

    #[test]
    fn node_port_forbidden_on_cluster_ip() {
        assert_eq!(
            create(svc(
                "web",
                json!({"ports": [{"port": 80, "nodePort": 30080}]})
            )),
            ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
        );
    }

    #[test]
    fn node_ports_unique_per_protocol() {
        let spec = json!({"type": "NodePort", "ports": [
            {"name": "a", "port": 80, "nodePort": 30080},
            {"name": "b", "port": 81, "nodePort": 30080},
            {"name": "c", "port": 82, "nodePort": 30080, "protocol": "UDP"}
        ]});
        assert_eq!(
            create(svc("web", spec)),
            ["spec.ports[1].nodePort: Duplicate value: 30080"]
        );
    }

    #[test]
    fn service_ports_unique_by_protocol_and_port() {
        let spec = json!({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80, "targetPort": 8080}, {"name": "c", "port": 80, "protocol": "UDP"}]});
        assert_eq!(
            create(svc("web", spec)),
            [
                "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"
            ]
        );
    }

    #[test]
    fn headless_node_port_and_load_balancer() {
        assert_eq!(
            create(web_svc(json!({"type": "NodePort", "clusterIP": "None"}))),
            [
                "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"
            ]
        );
        assert_eq!(
            create(web_svc(
                json!({"type": "LoadBalancer", "clusterIP": "None"})
            )),
            [
                "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"
            ]
        );
    }

    #[test]
    fn traffic_policies() {
        assert_eq!(
            create(web_svc(
                json!({"type": "NodePort", "externalTrafficPolicy": "Foo"})
            )),
            [
                "spec.externalTrafficPolicy: Unsupported value: \"Foo\": supported values: \"Cluster\", \"Local\""
            ]
        );
        assert_eq!(
            create(web_svc(json!({"externalTrafficPolicy": "Local"}))),
            [
                "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services"
            ]
        );
        assert_eq!(
            create(web_svc(json!({"internalTrafficPolicy": "Node"}))),
            [
                "spec.internalTrafficPolicy: Unsupported value: \"Node\": supported values: \"Cluster\", \"Local\""
            ]
        );
        assert!(create(web_svc(json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local"}))).is_empty());
    }

    #[test]
    fn external_name_rules() {
        assert_eq!(
            create(svc("ext", json!({"type": "ExternalName"}))),
            ["spec.externalName: Required value"]
        );
        assert_eq!(
            create(svc(
                "ext",
                json!({"type": "ExternalName", "externalName": "Bad_Host."})
            )),
            [format!(
                "spec.externalName: Invalid value: \"Bad_Host\": {SUBDOMAIN_RE}"
            )]
        );
        assert_eq!(
            create(svc(
                "ext",
                json!({"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.96.0.50"})
            )),
            ["spec.clusterIPs: Forbidden: may not be set for ExternalName services"]
        );
    }

    #[test]
    fn service_selector_labels() {
        assert_eq!(
            create(svc(
                "web",
                json!({"selector": {"app": "my web"}, "ports": [{"port": 80}]})
            )),
            [
                "spec.selector: Invalid value: \"my web\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ]
        );
    }

    #[test]
    fn malformed_cluster_ip_is_reported_alone() {
        let v = svc(
            "Bad_Name",
            json!({"clusterIP": "abc", "ports": [{"port": 0}]}),
        );
        assert_eq!(
            create(v),
            [
                "spec.clusterIPs[0]: Invalid value: \"abc\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ]
        );
        assert_eq!(
            create(web_svc(
                json!({"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.6"]})
            )),
            [
                "spec.clusterIPs: Invalid value: []string{\"10.96.0.6\"}: first value must match `clusterIP`"
            ]
        );
        // Leading zeros parse (ParseIPSloppy), and allocation is not this module's business.
        assert!(create(web_svc(json!({"clusterIP": "10.096.0.5"}))).is_empty());
    }

    #[test]
    fn load_balancer_only_fields() {
        assert_eq!(
            create(web_svc(
                json!({"loadBalancerSourceRanges": ["10.0.0.0/8", "1.2.3.4/40"]})
            )),
            [
                "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
                "spec.LoadBalancerSourceRanges[1]: Invalid value: \"1.2.3.4/40\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            ]
        );
        assert_eq!(
            create(web_svc(json!({"allocateLoadBalancerNodePorts": true}))),
            [
                "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"
            ]
        );
    }

    #[test]
    fn external_ips() {
        assert_eq!(
            create(web_svc(json!({"externalIPs": ["127.0.0.1", "x"]}))),
            [
                "spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                "spec.externalIPs[1]: Invalid value: \"x\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ]
        );
    }

    fn stored_svc(ip: &str) -> Value {
        web_svc(
            json!({"clusterIP": ip, "clusterIPs": [ip], "type": "ClusterIP", "sessionAffinity": "None",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}),
        )
    }

    #[test]
    fn cluster_ip_immutable() {
        assert_eq!(
            update(stored_svc("10.96.0.5"), stored_svc("10.96.0.10")),
            ["spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.5\"}: may not change once set"]
        );
        assert!(update(stored_svc("10.96.0.10"), stored_svc("10.96.0.10")).is_empty());
        // To or from ExternalName, the ClusterIP may go.
        let ext = svc(
            "web",
            json!({"type": "ExternalName", "externalName": "example.com"}),
        );
        assert!(update(ext, stored_svc("10.96.0.10")).is_empty());
    }

    #[test]
    fn service_multi_error() {
        let spec = json!({"type": "NodePort", "sessionAffinity": "Sticky", "selector": {"app": "web"},
            "ports": [{"port": 80, "protocol": "HTTP"}, {"name": "Admin", "port": 70000, "targetPort": "admin_port"}]});
        assert_eq!(
            create(svc("web", spec)),
            [
                "spec.ports[0].name: Required value".to_string(),
                "spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"".to_string(),
                format!("spec.ports[1].name: Invalid value: \"Admin\": {LABEL_RE}"),
                "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive".to_string(),
                "spec.ports[1].targetPort: Invalid value: \"admin_port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
                "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"".to_string(),
            ]
        );
    }

    // ----- Deployment / ReplicaSet -----

    #[test]
    fn deployment_replicas_non_negative() {
        let mut spec = good_deploy_spec();
        spec["replicas"] = json!(-1);
        assert_eq!(
            create(deploy(spec)),
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn deployment_missing_selector_gives_both_errors() {
        let spec = json!({"template": template(json!({"app": "web"}), nginx())});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn deployment_empty_selector() {
        let spec = json!({"selector": {"matchLabels": {}}, "template": template(json!({"app": "web"}), nginx())});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ]
        );
        assert_eq!(
            go_label_selector(&LabelSelector::default()),
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
    }

    #[test]
    fn label_selector_rendering_with_expressions() {
        let sel: LabelSelector = serde_json::from_value(json!({"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]}, {"key": "gone", "operator": "DoesNotExist"}]}))
        .expect("selector");
        assert_eq!(
            go_label_selector(&sel),
            "v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"1\", \"b\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"tier\", Operator:\"In\", Values:[]string{\"x\", \"y\"}}, v1.LabelSelectorRequirement{Key:\"gone\", Operator:\"DoesNotExist\", Values:[]string(nil)}}}"
        );
    }

    #[test]
    fn deployment_selector_must_match_template() {
        let spec = json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "webb"}), nginx())});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"webb\"}: `selector` does not match template `labels`"
            ]
        );
        let spec =
            json!({"selector": {"matchLabels": {"app": "web"}}, "template": {"spec": nginx()}});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn invalid_label_selector_stops_template_checks() {
        let spec = json!({"selector": {"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["web"]}]},
            "template": {"spec": {"containers": []}}});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Equals\": not a valid selector operator",
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"Equals\", Values:[]string{\"web\"}}}}: invalid label selector"
            ]
        );
    }

    #[test]
    fn template_containers_required() {
        let spec = json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web"}), json!({"containers": []}))});
        assert_eq!(
            create(deploy(spec)),
            ["spec.template.spec.containers: Required value"]
        );
    }

    #[test]
    fn container_name_image_and_duplicates() {
        let containers = json!({"containers": [{"name": "", "image": "nginx"}, {"name": "Web", "image": ""}, {"name": "app", "image": "a"}, {"name": "app", "image": "b"}]});
        assert_eq!(
            create(pod(containers)),
            [
                "spec.containers[0].name: Required value".to_string(),
                format!("spec.containers[1].name: Invalid value: \"Web\": {LABEL_RE}"),
                "spec.containers[1].image: Required value".to_string(),
                "spec.containers[3].name: Duplicate value: \"app\"".to_string(),
            ]
        );
    }

    #[test]
    fn container_ports() {
        let c = json!({"containers": [{"name": "web", "image": "nginx", "ports": [
            {"containerPort": 0}, {"containerPort": 70000}, {"containerPort": 80, "name": "HTTP"},
            {"containerPort": 81, "name": "http"}, {"containerPort": 82, "name": "http"}
        ]}]});
        assert_eq!(
            create(pod(c)),
            [
                "spec.containers[0].ports[0].containerPort: Required value",
                "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[2].name: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.containers[0].ports[2].name: Invalid value: \"HTTP\": must contain at least one letter (a-z)",
                "spec.containers[0].ports[4].name: Duplicate value: \"http\"",
            ]
        );
    }

    #[test]
    fn template_restart_policy_must_be_always() {
        let spec = json!({"selector": {"matchLabels": {"app": "web"}},
            "template": template(json!({"app": "web"}), json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}))});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
            ]
        );
    }

    #[test]
    fn pod_restart_policy() {
        let mut spec = nginx();
        spec["restartPolicy"] = json!("Sometimes");
        assert_eq!(
            create(pod(spec)),
            [
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
            ]
        );
        let mut spec = nginx();
        spec["restartPolicy"] = json!("Never");
        assert!(create(pod(spec)).is_empty());
    }

    #[test]
    fn deployment_strategy_type() {
        let mut spec = good_deploy_spec();
        spec["strategy"] = json!({"type": "BlueGreen"});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\""
            ]
        );
    }

    #[test]
    fn rolling_update_parameters() {
        let mut spec = good_deploy_spec();
        spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0"
            ]
        );
        let mut spec = good_deploy_spec();
        spec["strategy"] = json!({"rollingUpdate": {"maxUnavailable": "half"}});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"half\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
            ]
        );
        let mut spec = good_deploy_spec();
        spec["strategy"] = json!({"type": "Recreate", "rollingUpdate": {}});
        assert_eq!(
            create(deploy(spec)),
            [
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
            ]
        );
    }

    #[test]
    fn deployment_selector_immutable() {
        let new = json!({"selector": {"matchLabels": {"app": "web2"}}, "template": template(json!({"app": "web2"}), nginx())});
        assert_eq!(
            update(deploy(new), deploy(good_deploy_spec())),
            [
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
        let mut scaled = good_deploy_spec();
        scaled["replicas"] = json!(5);
        assert!(update(deploy(scaled), deploy(good_deploy_spec())).is_empty());
    }

    #[test]
    fn replica_set_rules() {
        let rs = |spec: Value| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-abc"}, "spec": spec});
        assert_eq!(
            create(rs(
                json!({"replicas": -2, "template": template(json!({"app": "web"}), nginx())})
            )),
            [
                "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn deployment_multi_error() {
        let spec = json!({"replicas": -1, "selector": {"matchLabels": {"app": "web"}},
            "template": template(json!({"app": "api"}), json!({"restartPolicy": "OnFailure", "containers": [{"name": "web", "ports": [{"containerPort": 0}]}]}))});
        let mut v = deploy(spec);
        v["metadata"]["name"] = json!("Web");
        assert_eq!(
            create(v),
            [
                format!("metadata.name: Invalid value: \"Web\": {SUBDOMAIN_RE}"),
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0".to_string(),
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template `labels`".to_string(),
                "spec.template.spec.containers[0].image: Required value".to_string(),
                "spec.template.spec.containers[0].ports[0].containerPort: Required value".to_string(),
                "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"".to_string(),
            ]
        );
    }

    // ----- Pod -----

    #[test]
    fn pod_update_only_images() {
        let old = pod(
            json!({"nodeName": "kind-worker", "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}),
        );
        let image_only = pod(
            json!({"containers": [{"name": "web", "image": "nginx:1.28", "ports": [{"containerPort": 80}]}]}),
        );
        assert!(update(image_only, old.clone()).is_empty());
        let port_change = pod(
            json!({"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}),
        );
        assert_eq!(
            update(port_change, old.clone()),
            [format!("spec: Forbidden: {POD_UPDATE_MSG}")]
        );
        assert!(POD_UPDATE_MSG.starts_with(
            "pod updates may not change fields other than `spec.containers[*].image`,"
        ));
        let added = pod(
            json!({"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "side", "image": "busybox"}]}),
        );
        assert_eq!(
            update(added, old),
            ["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
    }

    #[test]
    fn pod_dns_settings() {
        let mut spec = nginx();
        spec["dnsPolicy"] = json!("None");
        assert_eq!(
            create(pod(spec)),
            ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]
        );
        let mut spec = nginx();
        spec["dnsPolicy"] = json!("ClusterFirstly");
        spec["hostname"] = json!("web.0");
        spec["dnsConfig"] = json!({"nameservers": ["10.96.0.300"], "searches": ["svc.cluster.local", "."], "options": [{"value": "5"}]});
        assert_eq!(
            create(pod(spec)),
            [
                "spec.dnsPolicy: Unsupported value: \"ClusterFirstly\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
                "spec.dnsConfig.nameservers[0]: Invalid value: \"10.96.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "spec.dnsConfig.options[0]: Required value: must not be empty",
                "spec.hostname: Invalid value: \"web.0\": must not contain dots",
            ]
        );
    }

    #[test]
    fn volume_mounts_and_probes() {
        let spec = json!({"volumes": [{"name": "cfg", "configMap": {"name": "app"}}, {"name": "empty"}],
            "containers": [{"name": "web", "image": "nginx",
                "volumeMounts": [{"name": "conf", "mountPath": "/etc/app"}],
                "readinessProbe": {"periodSeconds": 5},
                "livenessProbe": {"httpGet": {"port": "http-web-server-x"}, "successThreshold": 2}}]});
        assert_eq!(
            create(pod(spec)),
            [
                "spec.volumes[1]: Required value: must specify a volume type",
                "spec.containers[0].volumeMounts[0].name: Not found: \"conf\"",
                "spec.containers[0].livenessProbe.httpGet.port: Invalid value: \"http-web-server-x\": must be no more than 15 characters",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "spec.containers[0].readinessProbe: Required value: must specify a handler type",
            ]
        );
    }

    // ----- Endpoints, EndpointSlice, ConfigMap -----

    #[test]
    fn endpoints_addresses_and_ports() {
        let v = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
            "subsets": [{"addresses": [{"ip": "10.244.1.300"}, {"ip": "127.0.0.1"}], "ports": [{"port": 0}]}, {"ports": [{"port": 80}]}]});
        assert_eq!(
            create(v),
            [
                "subsets[0].addresses[0].ip: Invalid value: \"10.244.1.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "subsets[0].addresses[0].ip: Invalid value: \"10.244.1.300\": must be a valid IP address",
                "subsets[0].addresses[1].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`",
            ]
        );
    }

    fn slice(address_type: &str, endpoints: Value, ports: Value) -> Value {
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-abc"},
            "addressType": address_type, "endpoints": endpoints, "ports": ports})
    }

    #[test]
    fn endpoint_slice_rules() {
        assert_eq!(
            create(slice("IP", json!([]), json!([]))),
            [
                "addressType: Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""
            ]
        );
        assert_eq!(
            create(slice(
                "IPv4",
                json!([{"addresses": ["fd00::1"]}, {"addresses": []}]),
                json!([{"port": 80}, {"port": 81, "protocol": "HTTP"}])
            )),
            [
                "endpoints[0].addresses[0]: Invalid value: \"fd00::1\": must be a valid IPv4 address",
                "endpoints[1].addresses: Required value: must contain at least 1 address",
                "ports[1].name: Duplicate value: \"\"",
                "ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ]
        );
        assert_eq!(
            create(slice(
                "FQDN",
                json!([{"addresses": ["localhost"]}]),
                json!([])
            )),
            [
                "endpoints[0].addresses[0]: Invalid value: \"localhost\": should be a domain with at least two segments separated by dots"
            ]
        );
        let many: Vec<Value> = (0..1001)
            .map(|i| json!({"addresses": [format!("10.244.{}.{}", i / 200, i % 200 + 2)]}))
            .collect();
        assert_eq!(
            create(slice("IPv4", json!(many), json!([]))),
            ["endpoints: Too many: 1001: must have at most 1000 items"]
        );
    }

    #[test]
    fn endpoint_slice_address_type_immutable() {
        let old = slice("IPv4", json!([{"addresses": ["10.244.1.2"]}]), json!([]));
        let new = slice("IPv6", json!([{"addresses": ["fd00::2"]}]), json!([]));
        assert_eq!(
            update(new, old),
            ["addressType: Invalid value: \"IPv6\": field is immutable"]
        );
    }

    #[test]
    fn config_map_keys() {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"good.key": "1", "bad key": "2", "..x": "3"}});
        assert_eq!(
            create(v),
            [
                "data[..x]: Invalid value: \"..x\": must not start with '..'",
                "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ]
        );
    }

    #[test]
    fn config_map_immutable() {
        let cm = |data: &str, immutable: bool| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": data}, "immutable": immutable});
        assert_eq!(
            update(cm("2", true), cm("1", true)),
            ["data: Forbidden: field is immutable when `immutable` is set"]
        );
    }

    // ----- robustness -----

    #[test]
    fn odd_inputs_do_not_panic() {
        for ip in [
            "",
            ":",
            "1.2.3",
            "1.2.3.4.5",
            "::ffff:1.2.3.4",
            "999.1.1.1",
            "00000000001.1.1.1",
            "é",
        ] {
            let _ = validate_non_special_ip(ip, "x");
            let _ = is_valid_cidr(&format!("{ip}/"));
        }
        for name in ["", "-", "é-", "/", "a/b/c", "/x", "x/", "ä"] {
            let _ = is_qualified_name(name);
            let _ = name_messages(NameRule::Dns1035Label, name, true);
            let _ = is_valid_port_name(name);
        }
        let empty = [
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"}, "addressType": "", "endpoints": []}),
        ];
        for v in empty {
            let o = obj(v);
            let _ = validate_create(&o);
            let _ = validate_update(&o, &o);
        }
        assert_eq!(
            create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})),
            ["spec.containers: Required value"]
        );
    }
}

#[cfg(test)]
mod cluster_tests {
    use crate::cluster::{ApplyError, Cluster};
    use crate::errors::ApiError;

    const MANIFESTS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: httpd\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: httpd\n  template:\n    metadata:\n      labels:\n        app: httpd\n    spec:\n      containers:\n        - name: httpd\n          image: httpd\n          ports:\n            - containerPort: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: httpd-svc\nspec:\n  type: NodePort\n  selector:\n    app: httpd\n  ports:\n  - port: 8080\n    targetPort: 80\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: client\nspec:\n  containers:\n  - name: busybox\n    image: busybox:1.28\n    command: [sleep, '3600']\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  key: value\n";

    fn rejection(c: &mut Cluster, yaml: &str) -> String {
        match c.apply_manifests(yaml) {
            Err(ApplyError::Api {
                error: e @ ApiError::Invalid { .. },
                ..
            }) => e.kubectl_message(),
            other => panic!("expected an Invalid rejection, got {other:?}"),
        }
    }

    #[test]
    fn reapplying_defaulted_and_scheduled_objects_is_accepted() {
        let mut c = Cluster::kind();
        c.apply_manifests(MANIFESTS).expect("first apply");
        c.settle();
        c.apply_manifests(MANIFESTS).expect("unchanged re-apply");
        c.apply_manifests(&MANIFESTS.replace("image: busybox:1.28", "image: busybox:1.36"))
            .expect("pod image change");
        c.apply_manifests(&MANIFESTS.replace("replicas: 2", "replicas: 3"))
            .expect("scale");

        let msg = rejection(
            &mut c,
            &MANIFESTS.replace("command: [sleep, '3600']", "command: [sleep, '60']"),
        );
        assert!(msg.starts_with("The Pod \"client\" is invalid: spec: Forbidden: pod updates may not change fields other than "), "{msg}");
        let msg = rejection(
            &mut c,
            &MANIFESTS.replace("app: httpd\n  template", "app: web\n  template"),
        );
        assert!(msg.contains("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\"}"), "{msg}");
        let msg = rejection(
            &mut c,
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  clusterIP: 10.96.0.999\n  ports:\n  - port: 80\n",
        );
        assert_eq!(
            msg,
            "The Service \"bad\" is invalid: spec.clusterIPs[0]: Invalid value: \"10.96.0.999\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
        );
    }
}
