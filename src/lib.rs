//! hikvision-sync: keeps the people and face photos in a Supabase database in step with HikVision
//! face-recognition terminals.
//!
//! Layers, each using only those below it:
//! - `cli` and `demo` (and the binary's `main`): the front ends that drive the service;
//! - `startup`: builds the application from the settings (used by serve, demo, CLI, tests);
//! - `api`: the HTTP edge (routes, request and response types, errors, auth);
//! - `delivery`: durable delivery (desired state, revocations, the job engine);
//! - `events`: access events from the terminals into the project's database;
//! - `orchestration` (the flows on the terminals) beside `supabase` (where employees and
//!   terminals come from);
//! - `config`: the settings, read and checked once;
//! - `picture` (fetch, fix and re-encode photos; the `faceURL` rules), `models` (the domain),
//!   `metrics` and `database` (a failed Postgres call classed): the ground floor.
//!
//! Under them all, two libraries of their own: the terminal client (`crates/isapi`,
//! `hikvision_isapi`) and the terminal simulator (`crates/simulator`, used by `demo`, `simulate`
//! and the tests).

pub mod api;
pub mod cli;
pub mod config;
pub mod database;
pub mod delivery;
#[cfg(feature = "simulator")]
pub mod demo;
pub mod events;
pub mod metrics;
pub mod models;
pub mod orchestration;
pub mod photo;
pub mod startup;
pub mod supabase;
