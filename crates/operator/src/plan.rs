//! Stage 5, plan: the renderers' inputs from the snapshot, the completed Config and the
//! storage outcome, and the pass's objects planned once by `render::plan::workload`. Pure.

use api::{Config, ManagementState};
use render::Inputs;
use render::plan::Workload;
use render::storage::StorageContribution;

use crate::observe::Snapshot;
use crate::provision::StorageOutcome;

/// The renderers' inputs: the snapshot's facts with this pass's Config and storage.
pub fn inputs(snap: &Snapshot, config: &Config, storage: &StorageContribution) -> Inputs {
    Inputs {
        config: config.clone(),
        infrastructure: snap.infra.clone(),
        pruner: snap.pruner.clone().unwrap_or_default(),
        storage: storage.clone(),
        ..snap.facts.clone()
    }
}

/// The pass's objects. The registry's are planned for a Managed registry whose storage
/// stage went through (no render error found, nothing failed).
pub fn plan(snap: &Snapshot, config: &Config, storage: &StorageOutcome) -> Workload {
    let registry = config.spec.state() == ManagementState::Managed
        && storage.render_error.is_none()
        && storage.error.is_none();
    render::plan::workload(&inputs(snap, config, &storage.contribution), registry)
}
