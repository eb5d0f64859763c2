//! The image registry operator's command-line entry points, as a library so that tests
//! drive them directly.

pub mod apiserver_cmd;
pub mod apply;
pub mod azurestack;
pub mod bootstrap;
pub mod cache;
pub mod client;
pub mod controller;
pub mod diagnose;
pub mod diagnose_cmd;
pub mod gates;
pub mod kubernetes;
pub mod leader;
pub mod local_cmd;
pub mod logging;
pub mod metrics;
pub mod nodeca_cmd;
pub mod observe;
pub mod plan;
pub mod provision;
pub mod reliability;
pub mod render_cmd;
pub mod report;
pub mod run_cmd;
pub mod serving;
pub mod serving_cert;
pub mod signals;
pub mod spec;
pub mod streams;
pub mod sync;
