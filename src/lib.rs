//! hikvision-sync: keeps the people and face photos in a Supabase database in step with HikVision
//! face-recognition terminals.
//!
//! Layers (the dependency arrows point one way):
//! `api` -> `orchestration` -> (`isapi`, `supabase`) -> `models`; `config` feeds them all and the
//! `simulator` shares only the ISAPI wire types.

pub mod api;
pub mod cli;
pub mod config;
pub mod demo;
#[cfg(test)]
mod fuzz_support;
pub mod isapi;
pub mod metrics;
pub mod models;
pub mod orchestration;
pub mod picture;
pub mod simulator;
pub mod startup;
pub mod supabase;
