//! The image registry operator's command-line entry points, as a library so that tests
//! drive them directly.

pub mod apiserver_cmd;
pub mod apply;
pub mod cache;
pub mod client;
pub mod controller;
pub mod leader;
pub mod local_cmd;
pub mod logging;
pub mod metrics;
pub mod nodeca_cmd;
pub mod render_cmd;
pub mod run_cmd;
pub mod signals;
pub mod sync;
