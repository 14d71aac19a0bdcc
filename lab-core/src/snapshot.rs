//! The cluster's whole state as one versioned, serialisable value: what the sim server persists,
//! what the browser keeps in localStorage, and what replay tests compare.
//!
//! Objects are stored as their JSON (with `apiVersion`/`kind`), so a snapshot is readable and
//! diffable; everything the controllers derive (allocator bitmaps, scheduler cache, timers) is
//! rebuilt on load rather than stored, so it can never disagree with the objects.

use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::logs::ContainerLog;
use crate::manifest::{DecodeError, decode_object};
use crate::object::ObjectKey;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The snapshot format version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// A cluster's full state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Format version ([`SNAPSHOT_VERSION`]).
    pub version: u32,
    /// The cluster's configuration.
    pub config: ClusterConfig,
    /// Virtual time, Unix milliseconds.
    pub now_ms: i64,
    /// The resourceVersion counter.
    pub resource_version: u64,
    /// The RNG, mid-stream.
    pub rng: ChaCha8Rng,
    /// Event name sequence.
    pub event_seq: u64,
    /// host-local IPAM: last address handed out per node.
    pub ipam_last: BTreeMap<String, u64>,
    /// Readiness forced with `set_pod_ready`.
    pub readiness_overrides: Vec<(ObjectKey, bool)>,
    /// Every stored object, in key order.
    pub objects: Vec<serde_json::Value>,
    /// Container logs; absent from snapshots written before logs existed.
    #[serde(default)]
    pub logs: Vec<ContainerLog>,
}

/// A snapshot could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Written by another format version.
    #[error(
        "snapshot version {found} is not supported (this build reads version {SNAPSHOT_VERSION})"
    )]
    Version {
        /// The version found.
        found: u32,
    },
    /// An object in the snapshot does not decode.
    #[error("snapshot object {index}: {error}")]
    Object {
        /// Its position in `objects`.
        index: usize,
        /// Why.
        error: DecodeError,
    },
    /// The JSON itself is malformed.
    #[error("snapshot is not valid JSON: {0}")]
    Json(String),
}

impl Snapshot {
    /// The snapshot as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("snapshots always serialise")
    }

    /// Reads a snapshot from JSON text.
    pub fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
        serde_json::from_str(text).map_err(|e| SnapshotError::Json(e.to_string()))
    }
}

impl Cluster {
    /// The cluster's state. Taken between operations, so no controller work is pending.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            config: self.config.clone(),
            now_ms: self.now_ms,
            resource_version: self.store.resource_version(),
            rng: self.rng.clone(),
            event_seq: self.event_seq,
            ipam_last: self.state.ipam_last.clone(),
            readiness_overrides: self
                .readiness_overrides
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            objects: self.store.iter().map(|o| o.to_json()).collect(),
            logs: self.logs_for_snapshot(),
        }
    }

    /// Rebuilds a cluster from a snapshot. The watch log starts empty (watchers relist, as after
    /// an apiserver restart); timers and allocator state are derived again from the objects.
    pub fn from_snapshot(snapshot: Snapshot) -> Result<Cluster, SnapshotError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version {
                found: snapshot.version,
            });
        }
        let mut objects = Vec::with_capacity(snapshot.objects.len());
        for (index, value) in snapshot.objects.into_iter().enumerate() {
            objects.push(
                decode_object(value).map_err(|error| SnapshotError::Object { index, error })?,
            );
        }
        let mut c = Cluster::empty(snapshot.config);
        c.now_ms = snapshot.now_ms;
        c.rng = snapshot.rng;
        c.event_seq = snapshot.event_seq;
        c.readiness_overrides = snapshot.readiness_overrides.into_iter().collect();
        c.state.ipam_last = snapshot.ipam_last;
        c.store.restore(objects);
        c.store.set_resource_version(snapshot.resource_version);
        c.restore_logs(snapshot.logs);
        crate::controllers::State::rebuild(&mut c);
        c.run_controllers();
        Ok(c)
    }
}
