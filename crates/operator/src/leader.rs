//! Leader election on a Lease, so that only one operator instance writes.
//!
//! The Lease is `openshift-image-registry/openshift-master-controllers`, as the reference's.
//! A candidate takes the Lease when it is free or its holder stopped renewing it for
//! `lease_duration`, renews it every `retry_period`, gives up leadership when it could not
//! renew for `renew_deadline`, and releases the Lease when it stops. Writes carry the
//! Lease's resourceVersion, so two candidates never both win.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use tokio::sync::watch;

/// Name of the Lease.
pub const LEASE_NAME: &str = "openshift-master-controllers";

/// Timing of the election.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Timing {
    /// The reference's defaults: 137 s / 107 s / 26 s, or 270 s / 240 s / 60 s on a
    /// single-replica control plane.
    pub fn reference(single_replica: bool) -> Self {
        if single_replica {
            Timing {
                lease_duration: Duration::from_secs(270),
                renew_deadline: Duration::from_secs(240),
                retry_period: Duration::from_secs(60),
            }
        } else {
            Timing {
                lease_duration: Duration::from_secs(137),
                renew_deadline: Duration::from_secs(107),
                retry_period: Duration::from_secs(26),
            }
        }
    }
}

fn micro(t: Timestamp) -> MicroTime {
    MicroTime(t)
}

/// Tries once to take or renew the Lease; `true` when `identity` holds it afterwards.
pub async fn try_acquire(
    api: &Api<Lease>,
    identity: &str,
    timing: &Timing,
) -> Result<bool, kube::Error> {
    acquire(api, identity, timing).await.map(|held| held.is_some())
}

/// Takes or renews the Lease after reading it; the Lease as written when `identity`
/// holds it afterwards.
async fn acquire(
    api: &Api<Lease>,
    identity: &str,
    timing: &Timing,
) -> Result<Option<Lease>, kube::Error> {
    let now = Timestamp::now();
    let duration_secs = timing.lease_duration.as_secs().max(1) as i32;
    let Some(mut lease) = api.get_opt(LEASE_NAME).await? else {
        let fresh: Lease = serde_json::from_value(json!({
            "metadata": {"name": LEASE_NAME},
            "spec": {"holderIdentity": identity, "leaseDurationSeconds": duration_secs,
                "acquireTime": micro(now), "renewTime": micro(now), "leaseTransitions": 0}
        }))
        .map_err(kube::Error::SerdeError)?;
        return match api.create(&PostParams::default(), &fresh).await {
            Ok(l) => Ok(Some(l)),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let renewed = spec.renew_time.as_ref().map(|t| t.0).unwrap_or(Timestamp::UNIX_EPOCH);
    let their_duration =
        Duration::from_secs(spec.lease_duration_seconds.unwrap_or(duration_secs).max(0) as u64);
    let expired = now.duration_since(renewed)
        > jiff::SignedDuration::try_from(their_duration).unwrap_or_default();
    if holder != identity && !holder.is_empty() && !expired {
        return Ok(None);
    }
    if holder != identity {
        spec.acquire_time = Some(micro(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        spec.holder_identity = Some(identity.to_string());
    }
    write(api, lease, duration_secs).await
}

/// Writes `lease` renewed now; `None` when someone else wrote it first (409).
async fn write(
    api: &Api<Lease>,
    mut lease: Lease,
    duration_secs: i32,
) -> Result<Option<Lease>, kube::Error> {
    let spec = lease.spec.get_or_insert_with(Default::default);
    spec.renew_time = Some(micro(Timestamp::now()));
    spec.lease_duration_seconds = Some(duration_secs);
    match api.replace(LEASE_NAME, &PostParams::default(), &lease).await {
        Ok(l) => Ok(Some(l)),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Renews the Lease `known` holds (the copy of this instance's last write) with one
/// update and no read, as client-go does; reads and retakes it when that is refused or
/// nothing is known.
async fn renew(
    api: &Api<Lease>,
    identity: &str,
    timing: &Timing,
    known: &mut Option<Lease>,
) -> Result<bool, kube::Error> {
    let duration_secs = timing.lease_duration.as_secs().max(1) as i32;
    if let Some(lease) = known.take()
        && let Some(written) = write(api, lease, duration_secs).await?
    {
        *known = Some(written);
        return Ok(true);
    }
    *known = acquire(api, identity, timing).await?;
    Ok(known.is_some())
}

/// Gives the Lease up if `identity` holds it.
pub async fn release(api: &Api<Lease>, identity: &str) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(LEASE_NAME).await? else { return Ok(()) };
    let spec = lease.spec.get_or_insert_with(Default::default);
    if spec.holder_identity.as_deref() != Some(identity) {
        return Ok(());
    }
    spec.holder_identity = Some(String::new());
    spec.renew_time = Some(micro(Timestamp::UNIX_EPOCH));
    api.replace(LEASE_NAME, &PostParams::default(), &lease).await.map(|_| ())
}

/// Campaigns until `stop`; publishes whether this instance leads on `leading`.
pub async fn campaign(
    api: Api<Lease>,
    identity: String,
    timing: Timing,
    leading: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_renewal = tokio::time::Instant::now();
    let mut known = None;
    loop {
        let held = match renew(&api, &identity, &timing, &mut known).await {
            Ok(true) => {
                last_renewal = tokio::time::Instant::now();
                true
            }
            Ok(false) => false,
            // An error is not a loss yet: the Lease is ours until the renew deadline.
            Err(e) => {
                eprintln!("leader election: {e}");
                known = None;
                *leading.borrow() && last_renewal.elapsed() < timing.renew_deadline
            }
        };
        if *leading.borrow() != held {
            eprintln!(
                "leader election: {identity} {} the lease {LEASE_NAME}",
                if held { "acquired" } else { "lost" }
            );
            let _sent = leading.send(held);
        }
        tokio::select! {
            _ = tokio::time::sleep(timing.retry_period) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
    if *leading.borrow() {
        if let Err(e) = release(&api, &identity).await {
            eprintln!("leader election: could not release the lease: {e}");
        }
        let _sent = leading.send(false);
    }
}
