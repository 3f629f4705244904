//! hikvision-sync: keeps the people and face photos in a Supabase database in step with HikVision
//! face-recognition terminals.
//!
//! Layers (the dependency arrows point one way):
//! `api` -> `delivery` (durable desired state, revocations, the job engine) -> `orchestration`
//! (the flows on the terminals) -> (`hikvision_isapi`, `picture` (fetch, fix and re-encode
//! photos), `supabase`) -> `models`; `config` feeds them all, `metrics` is read by all;
//! `startup` assembles the application, `cli` and `demo` drive it. The terminal client (`crates/isapi`) and the
//! terminal simulator (`crates/simulator`, used by `demo`, `simulate` and the tests) are
//! libraries of their own.

pub mod api;
pub mod cli;
pub mod config;
pub mod delivery;
#[cfg(feature = "simulator")]
pub mod demo;
pub mod events;
pub mod metrics;
pub mod models;
pub mod orchestration;
pub mod picture;
pub mod startup;
pub mod supabase;
