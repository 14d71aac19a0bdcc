//! Service address allocation and the LoadBalancer provider.
//!
//! Allocation mirrors the apiserver's Service registry (`pkg/registry/core/service/storage/alloc.go`
//! with `ipallocator` and `portallocator`): a ClusterIP and nodePorts are picked when a Service is
//! created, at random from the upper part of the range (the lower band is kept for static
//! choices, KEP-3070/3668), and a requested one must be inside the range and free. On update, a
//! manifest that leaves them out keeps the allocated values (`patchAllocatedValues`).
//!
//! `sync` is the cloud-provider service controller: with the simulated LB pool on (like kind
//! with cloud-provider-kind) a LoadBalancer Service gets an ingress IP; without it, it stays
//! `<pending>`.

use crate::cluster::Cluster;
use crate::errors::{BadValue, FieldError, go_string_slice};
use crate::object::{Object, ObjectKey};
use crate::validation::externally_accessible;
use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, Service, ServiceSpec};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Size of the lower (static) band of a range: `calculateRangeOffset` in the ipallocator.
fn ip_static_band(size: u64) -> u64 {
    (size / 16).clamp(16, 256)
}

/// Size of the lower (static) band of the nodePort range (`calculateRangeOffset` in portallocator).
fn port_static_band(size: u64) -> u64 {
    (size / 32).clamp(16, 128)
}

/// The bitmap allocators' random scan over the upper then the lower band (each `(lo, hi)`,
/// inclusive; an empty band is skipped): the first offset `is_free` accepts, scanning each band
/// from a random start and wrapping around. Every band tried draws one `random_range(0..span)`,
/// so a seed always picks the same values.
fn pick_free(
    rng: &mut impl Rng,
    bands: [(u64, u64); 2],
    mut is_free: impl FnMut(u64) -> bool,
) -> Option<u64> {
    for (lo, hi) in bands {
        if lo > hi {
            continue;
        }
        let span = hi - lo + 1;
        let start = rng.random_range(0..span);
        let free = (0..span)
            .map(|i| lo + (start + i) % span)
            .find(|&off| is_free(off));
        if free.is_some() {
            return free;
        }
    }
    None
}

fn svc_spec(o: &Object) -> Option<&ServiceSpec> {
    match o {
        Object::Service(s) => s.spec.as_ref(),
        _ => None,
    }
}

fn type_of(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or("ClusterIP")
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    type_of(spec) != "ExternalName"
}

fn needs_node_ports(spec: &ServiceSpec) -> bool {
    match type_of(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec.allocate_load_balancer_node_ports.unwrap_or(true),
        _ => false,
    }
}

/// The strategy's `needsNodePort`: the types nodePorts belong to (whether or not a
/// LoadBalancer allocates them).
fn is_node_port_type(spec: &ServiceSpec) -> bool {
    matches!(type_of(spec), "NodePort" | "LoadBalancer")
}

/// `needsHCNodePort`: a LoadBalancer with `externalTrafficPolicy: Local` gets a health-check
/// nodePort, from the same allocator as the other nodePorts.
fn needs_hc_node_port(spec: &ServiceSpec) -> bool {
    type_of(spec) == "LoadBalancer" && spec.external_traffic_policy.as_deref() == Some("Local")
}

fn hc_node_port_of(spec: &ServiceSpec) -> Option<u16> {
    spec.health_check_node_port
        .filter(|p| *p > 0 && *p <= u16::MAX as i32)
        .map(|p| p as u16)
}

fn cluster_ip_of(spec: &ServiceSpec) -> Option<Ipv4Addr> {
    spec.cluster_ip.as_deref().and_then(|ip| ip.parse().ok())
}

fn node_ports_of(spec: &ServiceSpec) -> impl Iterator<Item = u16> + '_ {
    spec.ports
        .iter()
        .flatten()
        .filter_map(|p| p.node_port)
        .filter(|p| *p > 0 && *p <= u16::MAX as i32)
        .map(|p| p as u16)
}

fn lb_ips_of(s: &Service) -> Vec<Ipv4Addr> {
    s.status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref().and_then(|ip| ip.parse().ok()))
        .collect()
}

/// Picks (but does not yet record) the ClusterIP and nodePorts of a Service being created or
/// updated. Errors are the registry's allocation errors, reported on their own as upstream does.
pub(crate) fn allocate_on_create(
    c: &mut Cluster,
    object: &mut Object,
    old: Option<&Object>,
) -> Result<(), Vec<FieldError>> {
    let Object::Service(svc) = object else {
        return Ok(());
    };
    let spec = svc.spec.get_or_insert_with(Default::default);
    let old_spec = old.and_then(svc_spec);

    if let Some(old_spec) = old_spec {
        // patchAllocatedValues: fields the manifest leaves empty keep their allocated values.
        if needs_cluster_ip(spec) && needs_cluster_ip(old_spec) {
            if spec.cluster_ip.as_deref().is_none_or(str::is_empty) {
                spec.cluster_ip = old_spec.cluster_ip.clone();
            }
            if spec.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
                spec.cluster_ips = old_spec.cluster_ips.clone();
            }
        }
        if needs_node_ports(spec) && needs_node_ports(old_spec) {
            // Mapped by port name (the last of a name wins, as with Go's map): the user may
            // have changed the port's number or protocol and still means the same port.
            let by_name: BTreeMap<&str, Option<i32>> = old_spec
                .ports
                .iter()
                .flatten()
                .map(|o| (o.name.as_deref().unwrap_or(""), o.node_port))
                .collect();
            for p in spec.ports.iter_mut().flatten() {
                if p.node_port.unwrap_or(0) == 0 {
                    p.node_port = by_name
                        .get(p.name.as_deref().unwrap_or(""))
                        .copied()
                        .flatten();
                }
            }
        }
    }
    if let Some(old_spec) = old_spec {
        normalize_cluster_ips(spec, old_spec);
    }
    if !needs_cluster_ip(spec) {
        // A type change away from ClusterIPs is `drop_type_dependent_fields`' to judge.
        if old_spec.is_none() {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
    } else {
        allocate_cluster_ip(c, spec, old_spec)?;
    }
    if needs_node_ports(spec) {
        allocate_node_ports(c, spec, old_spec)?;
    }
    allocate_hc_node_port(c, spec, old_spec)
}

/// `normalizeClusterIPs` on update: `clusterIPs` follows a `clusterIP` the update changed (or
/// cleared) when the update left `clusterIPs` as it was.
fn normalize_cluster_ips(spec: &mut ServiceSpec, old: &ServiceSpec) {
    let old_ips = old.cluster_ips.as_deref().unwrap_or_default();
    let (ip, old_ip) = (
        spec.cluster_ip.clone().unwrap_or_default(),
        old.cluster_ip.as_deref().unwrap_or_default(),
    );
    if !old_ips.is_empty() && spec.cluster_ips.as_ref().is_none_or(Vec::is_empty) && ip == old_ip {
        spec.cluster_ips = old.cluster_ips.clone();
    }
    if ip != old_ip && spec.cluster_ips.as_deref().unwrap_or_default() == old_ips {
        spec.cluster_ips = if ip.is_empty() { None } else { Some(vec![ip]) };
    }
}

/// `dropTypeDependentFields` (`pkg/registry/core/service/strategy.go`, the update strategy's
/// `PrepareForUpdate`): a Service is a union discriminated by `type`, so when an update changes
/// the type, the fields only the old type uses are wiped, but only where the update left them as
/// they were (a value the user also changed is for validation to reject). Allocated values
/// wiped here are released when the update is stored ([`commit_allocations`]).
pub(crate) fn drop_type_dependent_fields(new: &mut Service, old: &Service) {
    let Some(old_spec) = old.spec.as_ref() else {
        return;
    };
    let spec = new.spec.get_or_insert_with(Default::default);
    if needs_cluster_ip(old_spec) && !needs_cluster_ip(spec) {
        if spec.cluster_ip == old_spec.cluster_ip
            && spec.cluster_ips.as_deref().unwrap_or_default()
                == old_spec.cluster_ips.as_deref().unwrap_or_default()
        {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
        if spec.ip_families.as_deref().unwrap_or_default()
            == old_spec.ip_families.as_deref().unwrap_or_default()
        {
            spec.ip_families = None;
        }
        if spec.ip_family_policy == old_spec.ip_family_policy {
            spec.ip_family_policy = None;
        }
    }
    // sameNodePorts: the update may drop or keep nodePorts, but adds none.
    let old_ports: BTreeSet<u16> = node_ports_of(old_spec).collect();
    if is_node_port_type(old_spec)
        && !is_node_port_type(spec)
        && node_ports_of(spec).all(|p| old_ports.contains(&p))
    {
        for p in spec.ports.iter_mut().flatten() {
            p.node_port = None;
        }
    }
    if needs_hc_node_port(old_spec)
        && !needs_hc_node_port(spec)
        && spec.health_check_node_port == old_spec.health_check_node_port
    {
        spec.health_check_node_port = None;
    }
    let (was_lb, is_lb) = (
        type_of(old_spec) == "LoadBalancer",
        type_of(spec) == "LoadBalancer",
    );
    if was_lb
        && !is_lb
        && spec.allocate_load_balancer_node_ports.is_some()
        && spec.allocate_load_balancer_node_ports == old_spec.allocate_load_balancer_node_ports
    {
        spec.allocate_load_balancer_node_ports = None;
    }
    if was_lb && !is_lb && spec.load_balancer_class == old_spec.load_balancer_class {
        spec.load_balancer_class = None;
    }
    if externally_accessible(old_spec)
        && !externally_accessible(spec)
        && spec.external_traffic_policy == old_spec.external_traffic_policy
    {
        spec.external_traffic_policy = None;
    }
    // The load-balancer status goes with the type, at once (the provider's clean-up follows).
    if !is_lb && let Some(status) = new.status.as_mut() {
        status.load_balancer = Some(LoadBalancerStatus::default());
    }
}

/// The health-check nodePort (`allocHealthCheckNodePort`): kept across updates, reserved when
/// asked for, picked like a nodePort otherwise; released when the Service stops needing it.
fn allocate_hc_node_port(
    c: &mut Cluster,
    spec: &mut ServiceSpec,
    old: Option<&ServiceSpec>,
) -> Result<(), Vec<FieldError>> {
    let old_hc = old
        .filter(|o| needs_hc_node_port(o))
        .and_then(hc_node_port_of);
    if !needs_hc_node_port(spec) {
        // Switching away from Local releases it (`drop_type_dependent_fields` wipes the field).
        return Ok(());
    }
    if spec.health_check_node_port.unwrap_or(0) == 0 {
        spec.health_check_node_port = old_hc.map(i32::from);
    }
    let (lo, hi) = c.config.node_port_range;
    let in_use_here: BTreeSet<u16> = node_ports_of(spec).collect();
    let owned: BTreeSet<u16> = old
        .map(|o| node_ports_of(o).chain(hc_node_port_of(o)).collect())
        .unwrap_or_default();
    if let Some(hc) = spec.health_check_node_port.filter(|p| *p != 0) {
        if hc < lo as i32 || hc > hi as i32 {
            return Err(vec![FieldError::invalid(
                "spec.healthCheckNodePort",
                BadValue::Int(hc as i64),
                format!(
                    "failed to allocate requested HealthCheck NodePort {hc}: provided port is not in the valid range. The range of valid ports is {lo}-{hi}"
                ),
            )]);
        }
        let hc = hc as u16;
        if (c.state.node_ports.contains(&hc) && !owned.contains(&hc)) || in_use_here.contains(&hc) {
            return Err(vec![FieldError::invalid(
                "spec.healthCheckNodePort",
                BadValue::Int(hc as i64),
                format!(
                    "failed to allocate requested HealthCheck NodePort {hc}: provided port is already allocated"
                ),
            )]);
        }
        return Ok(());
    }
    let size = (hi - lo) as u64 + 1;
    let band = port_static_band(size);
    let chosen = pick_free(
        &mut c.rng,
        [(band, size - 1), (0, band.saturating_sub(1))],
        |off| {
            let n = lo + off as u16;
            !c.state.node_ports.contains(&n) && !in_use_here.contains(&n)
        },
    );
    let Some(n) = chosen.map(|off| lo + off as u16) else {
        return Err(vec![FieldError::invalid(
            "spec.healthCheckNodePort",
            BadValue::Omit,
            "failed to allocate a HealthCheck NodePort: range is full",
        )]);
    };
    spec.health_check_node_port = Some(n as i32);
    Ok(())
}

fn allocate_cluster_ip(
    c: &mut Cluster,
    spec: &mut ServiceSpec,
    old: Option<&ServiceSpec>,
) -> Result<(), Vec<FieldError>> {
    let requested = spec.cluster_ip.clone().unwrap_or_default();
    if requested == "None" {
        spec.cluster_ips = Some(vec!["None".into()]);
        return Ok(());
    }
    let old_ip = old.and_then(cluster_ip_of);
    if old.is_some_and(|o| {
        needs_cluster_ip(o) && o.cluster_ip.as_deref().is_some_and(|ip| !ip.is_empty())
    }) {
        // An existing ClusterIP is never re-allocated; a change is a validation error.
        if spec.cluster_ips.is_none() {
            spec.cluster_ips = spec.cluster_ip.clone().map(|ip| vec![ip]);
        }
        return Ok(());
    }
    let cidr = c.config.service_cidr;
    if requested.is_empty() {
        let size = cidr.size();
        let band = ip_static_band(size);
        // Usable offsets are 1..size-1 (network and broadcast excluded); dynamic picks try the
        // upper band first, from a random start, like the bitmap allocator's random scan.
        let free = pick_free(&mut c.rng, [(band + 1, size - 2), (1, band)], |off| {
            !c.state.cluster_ips.contains(&u32::from(cidr.nth(off)))
        });
        if let Some(off) = free {
            let ip = cidr.nth(off).to_string();
            spec.cluster_ip = Some(ip.clone());
            spec.cluster_ips = Some(vec![ip]);
            return Ok(());
        }
        return Err(vec![FieldError::invalid(
            "spec.clusterIPs",
            BadValue::Go("[]string(nil)".into()),
            "failed to allocate a serviceIP: range is full",
        )]);
    }
    let Ok(ip) = requested.parse::<Ipv4Addr>() else {
        // Malformed: validation reports it.
        return Ok(());
    };
    let ips = vec![requested.clone()];
    let fail = |why: &str| {
        vec![FieldError::invalid(
            "spec.clusterIPs",
            BadValue::Go(go_string_slice(&ips)),
            format!("failed to allocate IP {requested}: {why}"),
        )]
    };
    if !cidr.contains(ip) {
        return Err(fail(
            "the provided network does not match the current range",
        ));
    }
    let off = cidr.offset(ip).unwrap_or(0);
    if off == 0 || off == cidr.size() - 1 {
        return Err(fail(&format!(
            "the provided IP ({requested}) is not in the valid range. The range of valid IPs is {cidr}"
        )));
    }
    if c.state.cluster_ips.contains(&u32::from(ip)) && old_ip != Some(ip) {
        return Err(fail("provided IP is already allocated"));
    }
    spec.cluster_ips = Some(ips);
    Ok(())
}

fn allocate_node_ports(
    c: &mut Cluster,
    spec: &mut ServiceSpec,
    old: Option<&ServiceSpec>,
) -> Result<(), Vec<FieldError>> {
    let (lo, hi) = c.config.node_port_range;
    let owned: BTreeSet<u16> = old.map(|o| node_ports_of(o).collect()).unwrap_or_default();
    let mut taken_here: BTreeSet<u16> = BTreeSet::new();
    // Requested ports first, so a dynamic pick never steals a port asked for further down.
    for (i, p) in spec.ports.iter().flatten().enumerate() {
        let Some(np) = p.node_port.filter(|n| *n != 0) else {
            continue;
        };
        let path = format!("spec.ports[{i}].nodePort");
        if np < lo as i32 || np > hi as i32 {
            return Err(vec![FieldError::invalid(
                path,
                BadValue::Int(np as i64),
                format!(
                    "provided port is not in the valid range. The range of valid ports is {lo}-{hi}"
                ),
            )]);
        }
        let np = np as u16;
        if taken_here.contains(&np) {
            continue; // the same port twice in one Service: validation's Duplicate (or TCP+UDP).
        }
        if c.state.node_ports.contains(&np) && !owned.contains(&np) {
            return Err(vec![FieldError::invalid(
                path,
                BadValue::Int(np as i64),
                "provided port is already allocated",
            )]);
        }
        taken_here.insert(np);
    }
    let size = (hi - lo) as u64 + 1;
    let band = port_static_band(size);
    for p in spec.ports.iter_mut().flatten() {
        if p.node_port.unwrap_or(0) != 0 {
            continue;
        }
        let port_at = |off: u64| lo + off as u16;
        let chosen = pick_free(
            &mut c.rng,
            [(band, size - 1), (0, band.saturating_sub(1))],
            |off| {
                let n = port_at(off);
                !c.state.node_ports.contains(&n) && !taken_here.contains(&n)
            },
        );
        let Some(n) = chosen.map(port_at) else {
            return Err(vec![FieldError::invalid(
                "spec.ports",
                BadValue::Omit,
                "failed to allocate a nodePort: range is full",
            )]);
        };
        taken_here.insert(n);
        p.node_port = Some(n as i32);
    }
    Ok(())
}

/// Records the allocations of `new` and releases those of `old` (either may be None). A
/// LoadBalancer's ingress IPs are the provider's: recorded when the status shows them, released
/// when the Service is deleted or the provider's clean-up ([`sync`]) has run, not when an
/// update wipes the status.
pub(crate) fn commit_allocations(c: &mut Cluster, old: Option<&Object>, new: Option<&Object>) {
    for (o, add) in [(old, false), (new, true)] {
        let Some(obj @ Object::Service(s)) = o else {
            continue;
        };
        let Some(spec) = s.spec.as_ref() else {
            continue;
        };
        let ip = cluster_ip_of(spec).map(u32::from);
        let ports: Vec<u16> = node_ports_of(spec).chain(hc_node_port_of(spec)).collect();
        let key = obj.key();
        if add {
            c.state.cluster_ips.extend(ip);
            c.state.node_ports.extend(ports);
            for l in lb_ips_of(s) {
                c.state.lb_ips.insert(u32::from(l), key.clone());
            }
        } else {
            if let Some(ip) = ip {
                c.state.cluster_ips.remove(&ip);
            }
            for p in ports {
                c.state.node_ports.remove(&p);
            }
            if new.is_none() {
                c.state.lb_ips.retain(|_, owner| *owner != key);
            }
        }
    }
}

/// An event of the service controller about `obj`.
fn lb_event(c: &mut Cluster, obj: &Object, type_: &str, reason: &str, message: &str) {
    c.record_event(
        obj,
        None,
        type_,
        reason,
        message.into(),
        "service-controller",
        None,
    );
}

/// Writes `svc` (the Service of `obj`) with the load-balancer status `lb`, records its LB IPs,
/// and reports it in a `Normal` event.
fn write_lb_status(
    c: &mut Cluster,
    obj: &Object,
    svc: &Service,
    lb: LoadBalancerStatus,
    reason: &str,
    message: &str,
) {
    let mut s = svc.clone();
    s.status.get_or_insert_with(Default::default).load_balancer = Some(lb);
    let new = Object::Service(Box::new(s));
    commit_allocations(c, Some(obj), Some(&new));
    c.sys_update(new);
    lb_event(c, obj, "Normal", reason, message);
}

/// The service controller's update handler (`needsUpdate`): with the provider running, a
/// Service that starts or stops wanting a load balancer gets a `Type` event (`ClusterIP ->
/// LoadBalancer`) before its sync.
pub(crate) fn type_changed(c: &mut Cluster, old: &Object, new: &Object) {
    let (Some(old_spec), Some(new_spec)) = (svc_spec(old), svc_spec(new)) else {
        return;
    };
    let (was, is) = (type_of(old_spec), type_of(new_spec));
    if c.config.load_balancer_pool.is_some() && (was == "LoadBalancer") != (is == "LoadBalancer") {
        let message = format!("{was} -> {is}");
        lb_event(c, new, "Normal", "Type", &message);
    }
}

/// The service controller's LoadBalancer sync for one Service.
pub(crate) fn sync(c: &mut Cluster, key: &ObjectKey) {
    let Some(obj) = c.store.get(key).cloned() else {
        return;
    };
    let Object::Service(svc) = &*obj else { return };
    let is_lb = svc
        .spec
        .as_ref()
        .is_some_and(|s| type_of(s) == "LoadBalancer");
    if !is_lb {
        // The type changed away from LoadBalancer (the apiserver already wiped the status):
        // the provider deletes the load balancer it made (syncLoadBalancerIfNeeded).
        let before = c.state.lb_ips.len();
        c.state.lb_ips.retain(|_, owner| owner != key);
        if c.state.lb_ips.len() != before {
            lb_event(
                c,
                &obj,
                "Normal",
                "DeletingLoadBalancer",
                "Deleting load balancer",
            );
            lb_event(
                c,
                &obj,
                "Normal",
                "DeletedLoadBalancer",
                "Deleted load balancer",
            );
        }
        return;
    }
    if !lb_ips_of(svc).is_empty() {
        return;
    }
    let Some((first, last)) = c.config.load_balancer_pool else {
        return;
    };
    lb_event(
        c,
        &obj,
        "Normal",
        "EnsuringLoadBalancer",
        "Ensuring load balancer",
    );
    let free = (u32::from(first)..=u32::from(last)).find(|ip| !c.state.lb_ips.contains_key(ip));
    let Some(ip) = free else {
        lb_event(
            c,
            &obj,
            "Warning",
            "SyncLoadBalancerFailed",
            "Error syncing load balancer: failed to ensure load balancer: no free IP in the load balancer pool",
        );
        return;
    };
    let status = LoadBalancerStatus {
        ingress: Some(vec![LoadBalancerIngress {
            ip: Some(Ipv4Addr::from(ip).to_string()),
            ip_mode: Some("VIP".into()),
            ..Default::default()
        }]),
    };
    write_lb_status(
        c,
        &obj,
        svc,
        status,
        "EnsuredLoadBalancer",
        "Ensured load balancer",
    );
}

#[cfg(test)]
mod tests {
    use crate::config::{ClusterConfig, DEFAULT_LB_POOL};
    use crate::object::Kind;
    use crate::testutil::*;
    use crate::{ApiError, Cluster};
    use k8s_openapi::api::core::v1::Service;

    fn svc(c: &Cluster, name: &str) -> Service {
        c.get_typed::<Service>("default", name).cloned().unwrap()
    }

    fn nodeport_svc(name: &str, node_port: Option<u16>) -> String {
        let np = node_port
            .map(|p| format!("\n    nodePort: {p}"))
            .unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: NodePort\n  selector:\n    app: httpd\n  ports:\n  - protocol: TCP\n    port: 8080\n    targetPort: 80{np}\n"
        )
    }

    fn lb_svc(name: &str, policy: &str, hc: Option<u16>) -> String {
        let hc = hc
            .map(|p| format!("\n  healthCheckNodePort: {p}"))
            .unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: LoadBalancer\n  externalTrafficPolicy: {policy}{hc}\n  selector:\n    app: httpd\n  ports:\n  - protocol: TCP\n    port: 80\n    targetPort: 80\n"
        )
    }

    #[test]
    fn local_load_balancers_get_a_health_check_node_port_until_they_stop_being_local() {
        let mut c = Cluster::kind();
        c.apply_manifests(&lb_svc("web", "Local", None)).unwrap();
        let s = svc(&c, "web");
        let spec = s.spec.as_ref().unwrap();
        let hc = spec.health_check_node_port.expect("allocated");
        let np = spec.ports.as_ref().unwrap()[0].node_port.unwrap();
        assert!((30000..=32767).contains(&hc) && hc != np);
        // Re-applying without the field keeps it.
        c.apply_manifests(&lb_svc("web", "Local", None)).unwrap();
        assert_eq!(
            svc(&c, "web").spec.unwrap().health_check_node_port,
            Some(hc)
        );
        // It is allocated: another Service cannot take it, as a nodePort or as its own.
        let e = api_err(&mut c, &nodeport_svc("other", Some(hc as u16)));
        assert!(
            e.kubectl_message()
                .contains("provided port is already allocated"),
            "{e:?}"
        );
        let e = api_err(&mut c, &lb_svc("other", "Local", Some(hc as u16)));
        assert!(
            e.kubectl_message().contains(&format!(
                "spec.healthCheckNodePort: Invalid value: {hc}: failed to allocate requested HealthCheck NodePort {hc}: provided port is already allocated"
            )),
            "{}",
            e.kubectl_message()
        );
        // Cluster policy releases it, and the port is free again.
        c.apply_manifests(&lb_svc("web", "Cluster", None)).unwrap();
        assert_eq!(svc(&c, "web").spec.unwrap().health_check_node_port, None);
        c.apply_manifests(&nodeport_svc("other", Some(hc as u16)))
            .unwrap();
    }

    fn api_err(c: &mut Cluster, yaml: &str) -> ApiError {
        match c.apply_manifests(yaml) {
            Err(crate::ApplyError::Api { error, .. }) => error,
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    /// What a PATCH leaves for the update (the stored Service with `edit` made to it): kubectl's
    /// client-side apply patches only the fields the manifests named, so defaulted and
    /// allocated values of the old type are still there.
    fn patch_svc(
        c: &mut Cluster,
        name: &str,
        edit: impl FnOnce(&mut k8s_openapi::api::core::v1::ServiceSpec),
    ) -> Result<Service, ApiError> {
        let mut s = svc(c, name);
        edit(s.spec.as_mut().unwrap());
        c.update(crate::Object::Service(Box::new(s)))?;
        Ok(svc(c, name))
    }

    fn cluster_ip(c: &Cluster, name: &str) -> std::net::Ipv4Addr {
        svc(c, name)
            .spec
            .unwrap()
            .cluster_ip
            .unwrap()
            .parse()
            .unwrap()
    }

    fn node_ports(s: &Service) -> Vec<Option<i32>> {
        s.spec
            .as_ref()
            .unwrap()
            .ports
            .iter()
            .flatten()
            .map(|p| p.node_port)
            .collect()
    }

    #[test]
    fn changing_a_service_type_back_from_node_port_to_cluster_ip() {
        let mut c = Cluster::kind();
        c.apply_manifests(&nodeport_svc("httpd-svc", Some(30144)))
            .unwrap();
        // kubectl apply -f httpd-service.yaml: the patch deletes `type` and the port's
        // nodePort; externalTrafficPolicy (defaulted, never in the manifest) stays.
        let s = patch_svc(&mut c, "httpd-svc", |spec| {
            spec.type_ = None;
            spec.ports.as_mut().unwrap()[0].node_port = None;
        })
        .unwrap();
        let spec = s.spec.as_ref().unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(spec.external_traffic_policy, None);
        assert_eq!(node_ports(&s), vec![None]);
        assert!(!c.state.node_ports.contains(&30144), "released");
        c.apply_manifests(&nodeport_svc("other", Some(30144)))
            .unwrap();

        // `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'`: the unchanged nodePort is wiped.
        c.apply_manifests(&nodeport_svc("httpd-svc", None)).unwrap();
        let np = node_ports(&svc(&c, "httpd-svc"))[0].unwrap();
        let s = patch_svc(&mut c, "httpd-svc", |spec| {
            spec.type_ = Some("ClusterIP".into())
        })
        .unwrap();
        assert_eq!(node_ports(&s), vec![None]);
        assert!(!c.state.node_ports.contains(&(np as u16)));

        // A nodePort the update adds is not wiped, and validation says why.
        c.apply_manifests(&nodeport_svc("httpd-svc", None)).unwrap();
        let before = c.snapshot();
        let e = patch_svc(&mut c, "httpd-svc", |spec| {
            spec.type_ = Some("ClusterIP".into());
            spec.ports.as_mut().unwrap()[0].node_port = Some(31000);
        })
        .unwrap_err();
        assert_eq!(
            e.kubectl_message(),
            "The Service \"httpd-svc\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
        );
        assert_eq!(c.snapshot(), before);
        // An externalTrafficPolicy the update sets is kept, and rejected.
        let e = patch_svc(&mut c, "httpd-svc", |spec| {
            spec.type_ = Some("ClusterIP".into());
            spec.external_traffic_policy = Some("Local".into());
        })
        .unwrap_err();
        assert_eq!(
            e.kubectl_message(),
            "The Service \"httpd-svc\" is invalid: spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services"
        );
    }

    #[test]
    fn cluster_ip_to_node_port_to_load_balancer_and_back() {
        let mut config = ClusterConfig::kind();
        config.load_balancer_pool = Some(DEFAULT_LB_POOL);
        let mut c = Cluster::new(config);
        c.apply_manifests(HTTPD_SVC).unwrap();
        let ip = svc(&c, "httpd-svc").spec.unwrap().cluster_ip;
        // ClusterIP -> NodePort: a nodePort is allocated, the policy defaulted, the IP kept.
        c.apply_manifests(&nodeport_svc("httpd-svc", None)).unwrap();
        let s = svc(&c, "httpd-svc");
        let np = node_ports(&s)[0].unwrap();
        assert_eq!(s.spec.as_ref().unwrap().cluster_ip, ip);
        assert_eq!(
            s.spec.as_ref().unwrap().external_traffic_policy.as_deref(),
            Some("Cluster")
        );
        // NodePort -> LoadBalancer (Local): the nodePort is kept, a health-check port added.
        let s = patch_svc(&mut c, "httpd-svc", |spec| {
            spec.type_ = Some("LoadBalancer".into());
            spec.external_traffic_policy = Some("Local".into());
        })
        .unwrap();
        let spec = s.spec.as_ref().unwrap();
        assert_eq!(node_ports(&s), vec![Some(np)]);
        assert_eq!(spec.allocate_load_balancer_node_ports, Some(true));
        let hc = spec.health_check_node_port.unwrap();
        let lb_ip = |s: &Service| {
            s.status
                .as_ref()
                .and_then(|st| st.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .map(|i| i[0].ip.clone().unwrap())
        };
        assert_eq!(lb_ip(&s).as_deref(), Some("172.18.255.200"));
        // LoadBalancer -> ClusterIP, as a PATCH leaves it: every field of the old type goes.
        let s = patch_svc(&mut c, "httpd-svc", |spec| {
            spec.type_ = Some("ClusterIP".into());
            spec.ports.as_mut().unwrap()[0].node_port = None;
        })
        .unwrap();
        let spec = s.spec.as_ref().unwrap();
        assert_eq!(spec.cluster_ip, ip);
        assert_eq!(node_ports(&s), vec![None]);
        assert_eq!(spec.health_check_node_port, None);
        assert_eq!(spec.allocate_load_balancer_node_ports, None);
        assert_eq!(spec.external_traffic_policy, None);
        assert_eq!(lb_ip(&s), None);
        assert!(!c.state.node_ports.contains(&(np as u16)));
        assert!(!c.state.node_ports.contains(&(hc as u16)));
        assert_eq!(
            events_for(&c, "default", "httpd-svc"),
            [
                ("Type", "NodePort -> LoadBalancer"),
                ("EnsuringLoadBalancer", "Ensuring load balancer"),
                ("EnsuredLoadBalancer", "Ensured load balancer"),
                ("Type", "LoadBalancer -> ClusterIP"),
                ("DeletingLoadBalancer", "Deleting load balancer"),
                ("DeletedLoadBalancer", "Deleted load balancer"),
            ]
            .map(|(r, m)| (r.to_string(), m.to_string()))
        );
        // The provider's address is free again.
        let lb = HTTPD_SVC.replace("spec:\n", "spec:\n  type: LoadBalancer\n");
        c.apply_manifests(&lb.replace("httpd-svc", "second"))
            .unwrap();
        assert_eq!(lb_ip(&svc(&c, "second")).as_deref(), Some("172.18.255.200"));
        // LoadBalancer -> NodePort: allocateLoadBalancerNodePorts goes, the nodePort and the
        // policy stay.
        let np2 = node_ports(&svc(&c, "second"))[0];
        let s = patch_svc(&mut c, "second", |spec| {
            spec.type_ = Some("NodePort".into())
        })
        .unwrap();
        let spec = s.spec.as_ref().unwrap();
        assert_eq!(node_ports(&s), vec![np2]);
        assert_eq!(spec.allocate_load_balancer_node_ports, None);
        assert_eq!(spec.external_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(lb_ip(&s), None);
    }

    #[test]
    fn cluster_ip_to_headless_is_rejected_as_a_cluster_ip_change() {
        let mut c = cluster_with(HTTPD_SVC);
        let before = c.snapshot();
        let headless = HTTPD_SVC.replace("spec:\n", "spec:\n  clusterIP: None\n");
        let e = api_err(&mut c, &headless);
        assert_eq!(
            e.kubectl_message(),
            "The Service \"httpd-svc\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"None\"}: may not change once set"
        );
        // The same through a PATCH (clusterIPs still the stored ones: normalizeClusterIPs).
        let e = patch_svc(&mut c, "httpd-svc", |spec| {
            spec.cluster_ip = Some("None".into())
        })
        .unwrap_err();
        assert_eq!(
            e.kubectl_message(),
            "The Service \"httpd-svc\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"None\"}: may not change once set"
        );
        assert_eq!(c.snapshot(), before);
    }

    #[test]
    fn cluster_ip_to_external_name_releases_the_cluster_ip() {
        let mut c = cluster_with(HTTPD_SVC);
        let ip = cluster_ip(&c, "httpd-svc");
        let s = patch_svc(&mut c, "httpd-svc", |spec| {
            spec.type_ = Some("ExternalName".into());
            spec.external_name = Some("www.example.com".into());
        })
        .unwrap();
        let spec = s.spec.unwrap();
        assert_eq!(spec.cluster_ip, None);
        assert_eq!(spec.cluster_ips, None);
        assert_eq!(spec.ip_families, None);
        assert_eq!(spec.ip_family_policy, None);
        assert!(!c.state.cluster_ips.contains(&u32::from(ip)));
    }

    #[test]
    fn node_ports_are_kept_by_port_name_when_the_port_number_changes() {
        let mut c = Cluster::kind();
        c.apply_manifests(&nodeport_svc("httpd-svc", None)).unwrap();
        let np = node_ports(&svc(&c, "httpd-svc"))[0];
        c.apply_manifests(&nodeport_svc("httpd-svc", None).replace("port: 8080", "port: 8081"))
            .unwrap();
        assert_eq!(node_ports(&svc(&c, "httpd-svc")), vec![np]);
    }

    #[test]
    fn dynamic_cluster_ips_come_from_the_upper_band() {
        let mut c = Cluster::kind();
        for i in 0..20 {
            c.apply_manifests(&HTTPD_SVC.replace("httpd-svc", &format!("s{i}")))
                .unwrap();
            let ip = cluster_ip(&c, &format!("s{i}"));
            let off = c.config.service_cidr.offset(ip).unwrap();
            assert!(off > 256 && off < 65535, "{ip}");
        }
        assert_eq!(c.state.cluster_ips.len(), 22); // + kubernetes and kube-dns
    }

    #[test]
    fn requested_cluster_ip_in_range_free_and_immutable() {
        let mut c = Cluster::kind();
        let with_ip =
            |ip: &str| HTTPD_SVC.replace("spec:\n", &format!("spec:\n  clusterIP: {ip}\n"));
        c.apply_manifests(&with_ip("10.96.100.100")).unwrap();
        assert_eq!(
            svc(&c, "httpd-svc").spec.unwrap().cluster_ips,
            Some(vec!["10.96.100.100".to_string()])
        );
        let before = c.snapshot();
        let e = api_err(
            &mut c,
            &with_ip("10.96.100.100").replace("httpd-svc", "other"),
        );
        assert_eq!(
            e.kubectl_message(),
            "The Service \"other\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.100.100\"}: failed to allocate IP 10.96.100.100: provided IP is already allocated"
        );
        let e = api_err(&mut c, &with_ip("10.97.0.5").replace("httpd-svc", "other"));
        assert_eq!(
            e.kubectl_message(),
            "The Service \"other\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.97.0.5\"}: failed to allocate IP 10.97.0.5: the provided network does not match the current range"
        );
        assert_eq!(c.snapshot(), before, "rejected requests change nothing");
        // Leaving clusterIP out of the manifest keeps it (patchAllocatedValues).
        c.apply_manifests(HTTPD_SVC).unwrap();
        assert_eq!(
            svc(&c, "httpd-svc").spec.unwrap().cluster_ip.as_deref(),
            Some("10.96.100.100")
        );
        let e = api_err(&mut c, &with_ip("10.96.100.101"));
        assert_eq!(
            e.to_string(),
            "Service \"httpd-svc\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.96.100.101\"}: may not change once set"
        );
        // Deleting the Service frees its IP.
        c.delete(Kind::Service, "default", "httpd-svc").unwrap();
        c.apply_manifests(&with_ip("10.96.100.100").replace("httpd-svc", "other"))
            .unwrap();
    }

    #[test]
    fn node_ports_range_uniqueness_and_release() {
        let mut c = Cluster::kind();
        c.apply_manifests(&nodeport_svc("httpd-svc", Some(30144)))
            .unwrap();
        let s = svc(&c, "httpd-svc");
        assert_eq!(
            s.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].node_port,
            Some(30144)
        );
        assert_eq!(
            s.spec.as_ref().unwrap().external_traffic_policy.as_deref(),
            Some("Cluster")
        );
        let before = c.snapshot();
        let e = api_err(&mut c, &nodeport_svc("second", Some(30144)));
        assert_eq!(
            e.kubectl_message(),
            "The Service \"second\" is invalid: spec.ports[0].nodePort: Invalid value: 30144: provided port is already allocated"
        );
        let e = api_err(&mut c, &nodeport_svc("second", Some(80)));
        assert_eq!(
            e.kubectl_message(),
            "The Service \"second\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
        assert_eq!(c.snapshot(), before);
        // Dynamic nodePorts avoid the static band 30000-30085.
        c.apply_manifests(&nodeport_svc("auto", None)).unwrap();
        let np = svc(&c, "auto").spec.unwrap().ports.unwrap()[0]
            .node_port
            .unwrap();
        assert!((30086..=32767).contains(&np), "{np}");
        // Re-applying without nodePort keeps it; switching to ClusterIP releases it.
        c.apply_manifests(&nodeport_svc("auto", None)).unwrap();
        assert_eq!(
            svc(&c, "auto").spec.unwrap().ports.unwrap()[0].node_port,
            Some(np)
        );
        c.apply_manifests(&HTTPD_SVC.replace("httpd-svc", "auto"))
            .unwrap();
        assert_eq!(
            svc(&c, "auto").spec.unwrap().ports.unwrap()[0].node_port,
            None
        );
        assert!(!c.state.node_ports.contains(&(np as u16)));
        c.delete(Kind::Service, "default", "httpd-svc").unwrap();
        c.apply_manifests(&nodeport_svc("second", Some(30144)))
            .unwrap();
    }

    #[test]
    fn headless_keeps_none() {
        let c = cluster_with(&HTTPD_SVC.replace("spec:\n", "spec:\n  clusterIP: None\n"));
        let s = svc(&c, "httpd-svc");
        assert_eq!(s.spec.as_ref().unwrap().cluster_ip.as_deref(), Some("None"));
        assert_eq!(
            s.spec.as_ref().unwrap().cluster_ips,
            Some(vec!["None".to_string()])
        );
    }

    #[test]
    fn load_balancer_pending_without_provider_and_ip_with_it() {
        let lb = HTTPD_SVC.replace("spec:\n", "spec:\n  type: LoadBalancer\n");
        let c = cluster_with(&lb);
        let s = svc(&c, "httpd-svc");
        assert!(s.status.unwrap().load_balancer.unwrap().ingress.is_none());
        assert!(s.spec.unwrap().ports.unwrap()[0].node_port.is_some());

        let mut config = ClusterConfig::kind();
        config.load_balancer_pool = Some(DEFAULT_LB_POOL);
        let mut c = Cluster::new(config);
        c.apply_manifests(&lb).unwrap();
        c.apply_manifests(&lb.replace("httpd-svc", "second"))
            .unwrap();
        let ip = |c: &Cluster, n: &str| {
            svc(c, n)
                .status
                .unwrap()
                .load_balancer
                .unwrap()
                .ingress
                .unwrap()[0]
                .ip
                .clone()
                .unwrap()
        };
        assert_eq!(ip(&c, "httpd-svc"), "172.18.255.200");
        assert_eq!(ip(&c, "second"), "172.18.255.201");
        let evs: Vec<String> = events_for(&c, "default", "httpd-svc")
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(evs, vec!["EnsuringLoadBalancer", "EnsuredLoadBalancer"]);
        c.delete(Kind::Service, "default", "httpd-svc").unwrap();
        c.apply_manifests(&lb.replace("httpd-svc", "third"))
            .unwrap();
        assert_eq!(ip(&c, "third"), "172.18.255.200", "released on delete");

        // Starting the provider later assigns addresses to Services that were pending.
        let mut c = cluster_with(&lb);
        c.set_load_balancer_pool(Some(DEFAULT_LB_POOL));
        assert_eq!(ip(&c, "httpd-svc"), "172.18.255.200");
    }
}
