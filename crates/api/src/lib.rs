//! Types of every resource the image registry operator reads or writes that k8s-openapi
//! does not have.
//!
//! * `imageregistry.operator.openshift.io/v1`: [`Config`] and [`ImagePruner`], complete
//!   (every field of the published CRDs), with CRDs generated from the types
//!   ([`schema::crds`]).
//! * `config.openshift.io/v1`: [`ClusterOperator`], [`Infrastructure`], [`Proxy`],
//!   [`Image`], [`APIServer`], [`ClusterVersion`], [`FeatureGate`]: the fields we use.
//! * `route.openshift.io/v1`: [`Route`].
//! * `cert-manager.io/v1`: [`cert_manager::Certificate`] and [`cert_manager::Issuer`], the
//!   fields the operator writes (plain Kubernetes with cert-manager).
//!
//! **Writes never drop fields we do not model.** The operator writes these resources only
//! through patches that name the fields it owns (JSON merge patch or server-side apply),
//! never by replacing a whole object it has read. A `Config` read and written whole would
//! be safe today, since it models every field of the CRD, but a newer CRD could add fields.

pub mod cert_manager;
pub mod config;
pub mod imageregistry;
pub mod route;
pub mod schema;

pub use config::{
    APIServer, ClusterOperator, ClusterOperatorStatus, ClusterOperatorStatusCondition,
    ClusterVersion, FeatureGate, Image, Infrastructure, InfrastructureStatus, PlatformStatus,
    Proxy, ProxyStatus,
};
pub use imageregistry::{
    ConditionStatus, Config, ImagePruner, ImagePrunerSpec, ImagePrunerStatus,
    ImageRegistryConfigStorage, ImageRegistrySpec, ImageRegistryStatus, LogLevel, ManagementState,
    OperatorCondition,
};
pub use route::Route;

/// The namespace of the operator and of the registry it manages.
pub const NAMESPACE: &str = "openshift-image-registry";
