//! The real `mpt` binary against the mock server on loopback, one test binary: every command
//! (`commands`), rotations (`rotate`), policies (`policy`), and `mpt` as scripts and hostile inputs meet it
//! (`scripting`); helpers in `common`.

mod adopted;
mod bulk;
mod commands;
mod common;
mod hangs;
mod pacing;
mod policy;
mod promises;
mod records;
mod rotate;
mod scripting;
mod shared_state;
mod sink_checks;
mod state_spelling;
mod throttled;
mod tls_files;
