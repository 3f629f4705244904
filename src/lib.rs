//! hikvision-sync: keeps the people and face photos in a Supabase database in step with HikVision
//! face-recognition terminals.
//!
//! Layers (the dependency arrows point one way):
//! `api` -> `orchestration` -> (`hikvision_isapi`, `supabase`) -> `models`; `config` feeds them
//! all; `startup` assembles the application. The terminal client (`crates/isapi`) and the
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
