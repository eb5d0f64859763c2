//! Stage 2, bootstrap: creates what is missing — the Config with the platform's defaults
//! (and the bootstrap claim), the ImagePruner, the ClusterOperator and the image config
//! that carry status — and records it in the snapshot.

use api::imageregistry::{CLUSTER, ImageRegistryConfigStorage};
use api::{ClusterOperator, Config, ImagePruner};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::Api;
use render::bootstrap;
use render::names::*;
use serde_json::json;

use crate::observe::{ConfigRead, ObserveError, Snapshot, get_opt};
use crate::sync::{Context, post};

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// Whether the cloud has Swift could not be told yet (retried, not guessed).
    #[error("probing Swift: {0}")]
    Swift(String),
}

/// Creates what the snapshot lacks; returns the writes made.
pub async fn bootstrap(ctx: &Context, snap: &mut Snapshot) -> Result<usize, BootstrapError> {
    let mut writes = 0;
    if matches!(snap.config, ConfigRead::Missing) {
        let config = config(ctx, snap, &mut writes).await?;
        snap.config = ConfigRead::Found(Box::new(config));
    }
    let c = &ctx.client;
    if snap.pruner.is_none() {
        let api = Api::<ImagePruner>::all(c.clone());
        snap.pruner = Some(created(api, &bootstrap::pruner(), CLUSTER).await?);
        writes += 1;
    }
    // Plain Kubernetes has neither a ClusterOperator nor an image config to make.
    if !ctx.openshift.config {
        return Ok(writes);
    }
    if snap.cluster_operator.is_none() {
        let fresh: ClusterOperator = serde_json::from_value(json!({
            "apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator",
            "metadata": {"name": CLUSTER_OPERATOR}, "spec": {}
        }))
        .expect("a valid ClusterOperator");
        snap.cluster_operator = Some(created(Api::all(c.clone()), &fresh, CLUSTER_OPERATOR).await?);
        writes += 1;
    }
    if snap.image.is_none() {
        let fresh: api::Image = serde_json::from_value(json!({
            "apiVersion": "config.openshift.io/v1", "kind": "Image",
            "metadata": {"name": CLUSTER}, "spec": {}
        }))
        .expect("a valid Image");
        snap.image = Some(created(Api::all(c.clone()), &fresh, CLUSTER).await?);
        writes += 1;
    }
    Ok(writes)
}

/// Creates `obj`; one that exists already (the watch had not shown it yet) is read instead.
async fn created<K>(api: Api<K>, obj: &K, name: &str) -> Result<K, kube::Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.create(&post(), obj).await {
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(name).await,
        other => other,
    }
}

/// The registry's Config with the platform's defaults (on OpenStack, Swift when the
/// cluster's credentials reach it, else a claim, created with it).
async fn config(
    ctx: &Context,
    snap: &Snapshot,
    writes: &mut usize,
) -> Result<Config, BootstrapError> {
    let apiservers: Api<api::APIServer> = Api::all(ctx.client.clone());
    let profile = match ctx.openshift.config {
        true => get_opt(ctx, &apiservers, CLUSTER).await?.and_then(|a| a.spec.tls_security_profile),
        false => None,
    };
    let infra = &snap.infra;
    let swift = infra.platform_type() == "OpenStack" && {
        let stub =
            ImageRegistryConfigStorage { swift: Some(Default::default()), ..Default::default() };
        let credentials = crate::provision::credentials(ctx, Some(&stub), infra).await?;
        ctx.provisioner.swift_available(&credentials.0).await.map_err(BootstrapError::Swift)?
    };
    let b = bootstrap::config(infra, swift, Some(render::tls::observed_config(profile.as_ref())));
    if let Some(pvc) = b.pvc {
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), NAMESPACE);
        if get_opt(ctx, &pvcs, &pvc.metadata.name.clone().unwrap_or_default()).await?.is_none() {
            pvcs.create(&post(), &pvc).await?;
            *writes += 1;
        }
    }
    let config = created(Api::<Config>::all(ctx.client.clone()), &b.config, CLUSTER).await?;
    *writes += 1;
    Ok(config)
}
