//! Tokens as code against the mock on loopback: policies read (`policy`), plans of drift
//! (`drift`), and applies converging, resuming, under faults, and trusting nothing they did not
//! check (`apply`). One test binary; helpers in `common`.

mod common;

mod apply;
mod drift;
mod policy;
