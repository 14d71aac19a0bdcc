//! # lab-core: a Kubernetes Service-networking simulator, with no I/O
//!
//! `lab-core` is svclab's functional core: the same code runs natively (the `lab-runner` CLI and
//! its embedded API server) and in the browser (the `web-ui` playground, as wasm32). It never
//! reads a clock or the OS's randomness: time is virtual and randomness comes from a seed, so the
//! same operations always produce the same names, IPs and UIDs.
//!
//! Where to start:
//! - [`cluster::Cluster`] — the simulated cluster: apply manifests, delete, scale, advance time,
//!   list, watch. It starts like a fresh three-node kind cluster.
//! - [`manifest`] — YAML/JSON manifests into typed `k8s-openapi` objects, with strict fields.
//! - [`validation`] and [`errors`] — the apiserver's validation, with its exact messages.
//! - [`controllers`] — one module per real control loop: deployment, replicaset, statefulset, scheduler,
//!   kubelet, service (allocators and the LoadBalancer provider), endpoints, endpointslice,
//!   endpointslice-mirroring and root-ca-cert-publisher.
//! - [`proxy`] — kube-proxy's rules per node (iptables, IPVS, nftables) and its partial sync.
//! - [`compare`] — a real node's kube-proxy rules and a pod's lookups against the prediction.
//! - [`trace`] — a packet through those rules; [`trace::name_then_packet`] adds the DNS lookup.
//! - [`dns`] — CoreDNS's answers, pods' resolv.conf and resolver walks, nslookup/dig/host output.
//! - [`shell`] — what `kubectl exec POD -- CMD` runs: nslookup, wget, cat, env… per image.
//! - [`store`] — objects, resourceVersions and the watch log.
//! - [`snapshot`] — the versioned, serialisable state used for persistence and replay.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cluster;
pub mod compare;
pub mod config;
pub mod controllers;
pub mod defaults;
pub mod dns;
pub mod errors;
pub mod lab;
pub mod labels;
pub mod logs;
pub mod manifest;
pub mod names;
pub mod object;
pub mod printers;
pub mod proxy;
pub mod scale;
pub mod shell;
pub mod snapshot;
pub mod store;
pub mod trace;
pub mod validation;

#[cfg(test)]
mod testutil;

pub use cluster::{ApplyAction, ApplyError, ApplyOutcome, Cluster};
pub use config::ClusterConfig;
pub use errors::{ApiError, FieldError};
pub use object::{Kind, Object, ObjectKey};
