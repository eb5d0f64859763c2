//! The image registry operator's command-line entry points, as a library so that tests
//! drive them directly.

pub mod render_cmd;
