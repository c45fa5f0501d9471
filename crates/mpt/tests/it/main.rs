//! The facade over real HTTP on loopback: against the mock server (the platform's rules), a
//! scripted server (answers the mock never gives) and, in CI, Prism (`prism::`, ignored unless
//! `.ci/prism` runs it). One test binary, one module per topic.

mod common;

mod accounts;
mod budget;
mod bulk;
mod collision;
mod downloads;
mod endpoints;
mod first_use;
mod gateway;
mod gateway_page;
mod guard;
mod lifecycle;
mod lockout;
mod markers;
mod operations;
mod overload;
mod pacing;
mod prism;
mod promises;
mod refusals;
mod rotation;
mod secrets;
mod stall;
mod stated;
mod throttled_create;
mod transport;
mod unanswered;
